//! A [`Timeline`] as a self-contained HTML page: the breaking moment up
//! close, the whole run below it, and how to bring the run back.
//!
//! The page is for opening from a file (a link in the human report, a
//! Gradescope download): its pictures are inline SVG and its style is in
//! the page, with no script and nothing loaded from the network, so it
//! shows the same offline, in a mail client's preview, or years later.

use std::fmt::Write;

use super::svg::{escape, render};
use super::Timeline;

/// How many operations the close-up shows at most.
pub const CLOSE_UP: usize = 24;

/// One run's section: a heading, what broke, the pictures and the
/// commands. `replay` is the command that replays the run, if any.
pub struct Section<'a> {
    /// The heading (`locked-bank, seed 1237`).
    pub heading: String,
    /// The timeline.
    pub timeline: &'a Timeline,
    /// The command that brings the run back.
    pub replay: Option<String>,
    /// The run's schedule string.
    pub schedule: Option<String>,
}

const STYLE: &str = "body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
.scroll { overflow-x: auto; border: 1px solid #ddd; padding: 4px; }
pre, code { font-family: ui-monospace, monospace; background: #f6f6f6; padding: 2px 4px; }
pre { white-space: pre-wrap; word-break: break-all; }
.broken { color: #b00; }
.legend span { display: inline-block; margin-right: 1.5em; }";

/// A page holding `sections`, under `title`.
pub fn page(title: &str, intro: &[String], sections: &[Section]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{t}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    for p in intro {
        let _ = writeln!(s, "<p>{}</p>", escape(p));
    }
    let _ = writeln!(
        s,
        "<p class=\"legend\"><span>one lane per process</span><span>one column per operation, \
         in the run's order</span><span>a bar: a lock held</span><span>hatched: waiting \
         (red: never ended)</span><span>red outline: where it broke; orange: the store \
         that was overwritten</span></p>"
    );
    for sec in sections {
        section(&mut s, sec);
    }
    s.push_str("</body>\n</html>\n");
    s
}

fn section(s: &mut String, sec: &Section) {
    let t = sec.timeline;
    let _ = writeln!(s, "<section>\n<h2>{}</h2>", escape(&sec.heading));
    if let Some(b) = &t.breaking {
        let _ = writeln!(
            s,
            "<p class=\"broken\"><strong>{}</strong></p>",
            escape(&b.headline)
        );
        let _ = writeln!(s, "<pre>{}</pre>", escape(&b.lines.join("\n")));
    }
    let focus = t.focus(CLOSE_UP);
    let whole = 0..t.steps.len();
    if focus != whole {
        let _ = writeln!(
            s,
            "<h3>Up close</h3>\n<div class=\"scroll\">\n{}</div>",
            render(t, focus, &sec.heading)
        );
    }
    let _ = writeln!(
        s,
        "<h3>The whole run ({} operations)</h3>\n<div class=\"scroll\">\n{}</div>",
        t.steps.len(),
        render(t, whole, &sec.heading)
    );
    if let Some(r) = &sec.replay {
        let _ = writeln!(s, "<p>Replay it: <code>{}</code></p>", escape(r));
    }
    if let Some(sch) = &sec.schedule {
        let _ = writeln!(s, "<p>Schedule:</p>\n<pre>{}</pre>", escape(sch));
    }
    s.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_stands_alone() {
        let t = Timeline::default();
        let html = page(
            "locked-bank & co",
            &["intro".into()],
            &[Section {
                heading: "run 1".into(),
                timeline: &t,
                replay: Some("cargo grade replay 3 --seed 1".into()),
                schedule: Some("1x2.0".into()),
            }],
        );
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("locked-bank &amp; co"));
        assert!(html.contains("<svg"));
        assert!(!html.contains("<script"));
        assert!(
            !html.contains("http://") || !html.contains("src="),
            "nothing fetched"
        );
        assert!(html.contains("cargo grade replay 3 --seed 1"));
    }
}

//! A [`Timeline`] as an SVG picture: one lane per process, one column per
//! operation, lock holdings as bars, waits shaded, the breaking moment
//! outlined in red.
//!
//! The picture stands alone (no script, no font or style from elsewhere),
//! so it can be committed beside a lesson, inlined in an HTML page, or
//! opened from a Gradescope download. Its output depends only on the
//! timeline (names, never pids or times), so the same run draws the same
//! bytes, which is what lets a test tell a stale lesson picture.

use std::fmt::Write;
use std::ops::Range;

use super::Timeline;

/// Width of one operation's column.
const COL: usize = 92;
/// Width of the lane names on the left.
const LEFT: usize = 150;
/// Height of the title and the order axis above the lanes.
const TOP: usize = 64;
/// Height of one lane.
const LANE: usize = 76;
/// Height of one line of text under the lanes.
const LINE: usize = 18;

/// Colours of the locks' bars, in order of first holding.
const LOCKS: &[&str] = &["#4e79a7", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2"];

/// Escapes text for XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Draws the steps in `range` of `t` (holdings and waits cut at its
/// edges), under `title`.
pub fn render(t: &Timeline, range: Range<usize>, title: &str) -> String {
    let cols = range.len().max(1);
    let footer: Vec<String> = t
        .breaking
        .iter()
        .flat_map(|b| std::iter::once(b.headline.clone()).chain(b.lines.iter().cloned()))
        .collect();
    // A stuck wait goes on past the last step: one more column shows it.
    let stuck = t.waits.iter().any(|w| w.stuck && w.to.is_none());
    let width = LEFT + (cols + usize::from(stuck)) * COL + 24;
    let lanes_bottom = TOP + t.lanes.len() * LANE;
    let height = lanes_bottom + 16 + footer.len() * LINE + 8;
    let x = |i: usize| LEFT + (i - range.start) * COL;
    let in_range = |i: usize| range.contains(&i);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" data-lanes="{lanes}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">
<style>
text {{ font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 12px; fill: #222; }}
.op {{ font-weight: bold; }}
.detail {{ font-size: 11px; fill: #333; }}
.seq {{ font-size: 10px; fill: #888; }}
.name {{ font-size: 13px; font-weight: bold; }}
.title {{ font-size: 14px; font-weight: bold; }}
.bar {{ font-size: 10px; fill: #fff; }}
.wait {{ font-size: 10px; fill: #666; }}
.stuck {{ font-size: 10px; fill: #b00; font-weight: bold; }}
.break {{ fill: #b00; }}
.more {{ font-size: 11px; fill: #888; font-style: italic; }}
</style>
<defs>
<pattern id="waiting" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#eee"/><rect width="3" height="8" fill="#ccc"/></pattern>
<pattern id="stuck" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#fbe3e3"/><rect width="3" height="8" fill="#f1a7a7"/></pattern>
<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#d62728"/></marker>
</defs>
<rect width="{width}" height="{height}" fill="#fff"/>
<text class="title" x="12" y="22">{title}</text>
"##,
        lanes = t.lanes.len(),
        label = escape(title),
        title = escape(title),
    );
    // The lanes, each with its process's name.
    for (i, lane) in t.lanes.iter().enumerate() {
        let top = TOP + i * LANE;
        let fill = if i % 2 == 0 { "#f4f6f9" } else { "#fbfcfd" };
        let _ = writeln!(
            s,
            r#"<g class="lane" data-process="{name}"><rect x="0" y="{top}" width="{width}" height="{LANE}" fill="{fill}"/><text class="name" x="12" y="{y}">{name}</text></g>"#,
            name = escape(&lane.name),
            y = top + LANE / 2 + 4,
        );
    }
    // Where the range cuts the run.
    if range.start > 0 {
        let _ = writeln!(
            s,
            r#"<text class="more" x="12" y="{}">… {} operations before</text>"#,
            TOP - 6,
            range.start
        );
    }
    if range.end < t.steps.len() {
        let _ = writeln!(
            s,
            r#"<text class="more" x="{}" y="{}" text-anchor="end">{} operations after …</text>"#,
            width - 12,
            TOP - 6,
            t.steps.len() - range.end
        );
    }
    // Waits, under everything else.
    for w in &t.waits {
        let end = w.to.unwrap_or(t.steps.len());
        if end <= range.start || w.from >= range.end && w.to.is_some() {
            continue;
        }
        let from = w.from.max(range.start);
        let x0 = if w.from < range.start {
            LEFT
        } else {
            x(from) + COL - 4
        };
        let x1 = match w.to {
            Some(to) if to < range.end => x(to) + 4,
            Some(_) => LEFT + cols * COL,
            None => width - 8,
        };
        if x1 <= x0 {
            continue;
        }
        let top = TOP + w.lane * LANE + 4;
        let (fill, class, word) = if w.stuck {
            ("url(#stuck)", "stuck", "stuck: ")
        } else {
            ("url(#waiting)", "wait", "waits: ")
        };
        let _ = writeln!(
            s,
            r#"<g class="{class}-wait"><title>{who} waits in {what}</title><rect x="{x0}" y="{top}" width="{w_}" height="{h}" rx="4" fill="{fill}" stroke="{stroke}"/><text class="{class}" x="{tx}" y="{ty}">{word}{short}</text></g>"#,
            who = escape(&t.lanes[w.lane].name),
            what = escape(&w.what),
            w_ = x1 - x0,
            h = LANE - 8,
            stroke = if w.stuck { "#d62728" } else { "none" },
            tx = x0 + 4,
            ty = top + LANE - 14,
            short = escape(&fit(&w.what, (x1 - x0).saturating_sub(8) / 6 - word.len())),
        );
    }
    // Who each stuck process waits for: an arrow to that process's lane,
    // so that a cycle of waits shows as arrows going round.
    let mut stuck_at = 0;
    for w in t.waits.iter().filter(|w| w.stuck && w.to.is_none()) {
        let Some(target) = waited_for(t, &w.what) else {
            continue;
        };
        if target == w.lane {
            continue;
        }
        let x0 = if w.from < range.start {
            LEFT + 16
        } else {
            x(w.from.max(range.start)) + COL + 12
        } + stuck_at * 14;
        stuck_at += 1;
        let y0 = TOP + w.lane * LANE + LANE / 2;
        let y1 = if target > w.lane {
            TOP + target * LANE + LANE / 2 - 10
        } else {
            TOP + target * LANE + LANE / 2 + 10
        };
        let _ = writeln!(
            s,
            r##"<path class="waits-for" d="M{x0},{y0} L{x0},{y1}" stroke="#d62728" stroke-width="2" marker-end="url(#arrow)"><title>{who} waits for {whom}</title></path>"##,
            who = escape(&t.lanes[w.lane].name),
            whom = escape(&t.lanes[target].name),
        );
    }
    // Lock holdings: a bar along the bottom of the holder's lane.
    let mut locks: Vec<&str> = Vec::new();
    for h in &t.holdings {
        if !locks.contains(&h.lock.as_str()) {
            locks.push(&h.lock);
        }
    }
    for h in &t.holdings {
        let end = h.to.unwrap_or(t.steps.len());
        if end < range.start || h.from >= range.end {
            continue;
        }
        let x0 = if h.from < range.start {
            LEFT
        } else {
            x(h.from) + COL / 2
        };
        let x1 = match h.to {
            Some(to) if in_range(to) => x(to) + COL / 2,
            _ => LEFT + cols * COL,
        };
        let colour = LOCKS[locks.iter().position(|l| *l == h.lock).unwrap_or(0) % LOCKS.len()];
        let depth = if h.depth > 1 {
            format!(" (depth {})", h.depth)
        } else {
            String::new()
        };
        let y = TOP + h.lane * LANE + LANE - 20;
        let _ = writeln!(
            s,
            r#"<g class="holding"><title>{who} holds {lock}{depth}</title><rect x="{x0}" y="{y}" width="{w_}" height="14" rx="3" fill="{colour}"/><text class="bar" x="{tx}" y="{ty}">{label}</text></g>"#,
            who = escape(&t.lanes[h.lane].name),
            lock = escape(&h.lock),
            w_ = (x1 - x0).max(6),
            tx = x0 + 4,
            ty = y + 11,
            label = escape(&fit(
                &format!("holds {}{depth}", h.lock),
                (x1 - x0).saturating_sub(8) / 6
            )),
        );
    }
    // The lost update's arrow: from the overwriting store back to the
    // store it wiped out.
    let b = t.breaking.as_ref();
    if let (Some(lost), Some(over)) = (b.and_then(|b| b.overwritten), b.and_then(|b| b.overwriter))
    {
        if in_range(lost) && in_range(over) {
            let (l, o) = (&t.steps[lost], &t.steps[over]);
            let (x0, y0) = (x(over) + COL / 2, TOP + o.lane * LANE + 8);
            let (x1, y1) = (x(lost) + COL / 2, TOP + l.lane * LANE + 8);
            let lift = TOP.min(y0.min(y1)) - 12;
            let _ = writeln!(
                s,
                r##"<path class="overwrite" d="M{x0},{y0} C{x0},{lift} {x1},{lift} {x1},{y1}" fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="5 3" marker-end="url(#arrow)"/>"##
            );
        }
    }
    // The operations.
    for i in range.clone() {
        let step = &t.steps[i];
        let (left, top) = (x(i), TOP + step.lane * LANE);
        let mark = b.map_or("", |b| {
            if b.overwriter == Some(i) {
                "overwriting"
            } else if b.at == Some(i) {
                "breaking"
            } else if b.overwritten == Some(i) {
                "overwritten"
            } else {
                ""
            }
        });
        let (fill, stroke, sw) = match mark {
            "breaking" | "overwriting" => ("#fde0e0", "#d62728", 3),
            "overwritten" => ("#fff1dc", "#f28e2b", 3),
            _ => ("#fff", "#8a94a6", 1),
        };
        let _ = write!(
            s,
            r#"<g class="{class}"><title>#{seq} {text}</title><text class="seq" x="{cx}" y="{sy}" text-anchor="middle">#{seq}</text><rect x="{rx}" y="{ry}" width="{rw}" height="38" rx="5" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/><text class="op" x="{cx}" y="{oy}" text-anchor="middle">{op}</text><text class="detail" x="{cx}" y="{dy}" text-anchor="middle">{detail}</text>"#,
            class = if mark.is_empty() {
                "step".to_string()
            } else {
                format!("step {mark}")
            },
            seq = step.seq,
            text = escape(&step.text),
            cx = left + COL / 2,
            sy = TOP - 22,
            rx = left + 5,
            ry = top + 10,
            rw = COL - 10,
            oy = top + 25,
            dy = top + 41,
            op = escape(&step.op),
            detail = escape(&fit(&step.detail, 13)),
        );
        let note = match mark {
            "overwritten" => "overwritten",
            "overwriting" => "overwrites it",
            "breaking" => "breaks here",
            _ => "",
        };
        if !note.is_empty() {
            let _ = write!(
                s,
                r#"<text class="break" x="{}" y="{}" text-anchor="middle">{note}</text>"#,
                left + COL / 2,
                top + LANE - 2
            );
        }
        s.push_str("</g>\n");
    }
    // What broke, in the grade report's words.
    for (k, line) in footer.iter().enumerate() {
        let class = if k == 0 { "break title" } else { "break" };
        let _ = writeln!(
            s,
            r#"<text class="{class}" x="12" y="{}">{}</text>"#,
            lanes_bottom + 20 + k * LINE,
            escape(line)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The lane of the process a wait names: the holder of the lock it wants
/// (`(held by P2, pid 7)`) or the child it joins (`join of process P2`).
fn waited_for(t: &Timeline, what: &str) -> Option<usize> {
    let name = if let Some((_, rest)) = what.split_once("held by ") {
        rest.split([',', ')']).next()?
    } else if let Some((_, rest)) = what.split_once("join of process ") {
        rest.split(" (").next()?
    } else {
        return None;
    };
    t.lanes.iter().position(|l| l.name == name.trim())
}

/// `s`, cut to `n` characters with an ellipsis.
fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else if n == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Breaking, Holding, Lane, Step, Wait};

    fn step(seq: u64, lane: usize, op: &str, detail: &str) -> Step {
        Step {
            seq,
            lane,
            op: op.into(),
            detail: detail.into(),
            text: format!("{op} {detail}"),
        }
    }

    fn timeline() -> Timeline {
        Timeline {
            lanes: vec![
                Lane {
                    pid: 2,
                    name: "deposit".into(),
                },
                Lane {
                    pid: 3,
                    name: "with<draw>".into(),
                },
            ],
            steps: vec![
                step(0, 0, "load", "balance 600"),
                step(1, 1, "load", "balance 600"),
                step(2, 0, "store", "balance 605"),
                step(3, 1, "store", "balance 595"),
            ],
            holdings: vec![Holding {
                lane: 0,
                lock: "lock".into(),
                from: 0,
                to: Some(2),
                depth: 2,
            }],
            waits: vec![Wait {
                lane: 1,
                from: 1,
                to: None,
                what: "acquire of lock 'lock' (held by deposit, pid 2)".into(),
                stuck: true,
            }],
            values: Default::default(),
            breaking: Some(Breaking {
                headline: "✗ final = start".into(),
                lines: vec!["→ lost".into()],
                at: Some(3),
                overwritten: Some(2),
                overwriter: Some(3),
            }),
        }
    }

    #[test]
    fn one_lane_per_process_and_every_mark() {
        let svg = render(&timeline(), 0..4, "a <title>");
        assert_eq!(svg.matches(r#"<g class="lane""#).count(), 2);
        assert!(svg.contains(r#"data-lanes="2""#));
        assert!(svg.contains("with&lt;draw&gt;"), "names are escaped");
        assert!(svg.contains("a &lt;title&gt;"));
        assert_eq!(svg.matches(r#"<g class="step"#).count(), 4);
        assert!(svg.contains(r#"<g class="step">"#));
        assert!(svg.contains(r#"class="step overwriting""#));
        assert!(svg.contains(r#"class="step overwritten""#));
        assert!(svg.contains("holds lock (depth 2)"));
        assert!(svg.contains("stuck-wait"));
        assert!(svg.contains("with&lt;draw&gt; waits for deposit"));
        assert!(svg.contains("class=\"overwrite\""));
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn a_range_says_what_it_leaves_out() {
        let svg = render(&timeline(), 1..3, "t");
        assert_eq!(svg.matches(r#"<g class="step"#).count(), 2);
        assert!(svg.contains("… 1 operations before"));
        assert!(svg.contains("1 operations after …"));
    }
}

//! JUnit XML: what CI dashboards read. Each exercise is a test suite and
//! each invariant a test case, so a dashboard shows "locked-bank: final =
//! start" failing, not just "grading failed".
//!
//! The shape is Jenkins' `junit-10.xsd` (from the xUnit plugin), the
//! strictest of the schemas that dashboards accept, and the course's tests
//! validate every report against it (`tests/xsd/`). So: each suite
//! carries its counts, `time`, `timestamp` and `hostname`, and its
//! properties (mode, runs, CPUs); a test case has no properties, and says
//! its rate in `system-out`; an invariant that no run could be judged on
//! is `skipped`, with the reason, as it is neither a pass nor a failure;
//! a build that failed is a failure of a test case named "builds".

use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::{exercise_text, invariant_text};
use crate::judge::verdict::{ExerciseResult, ExerciseStatus, InvariantStatus, Session};

/// One test case's outcome.
enum Outcome {
    Passed,
    /// A failure: the exercise's code broke something.
    Failure {
        kind: &'static str,
        message: String,
        text: String,
    },
    /// An error: grading itself did not finish (interrupted, unknown).
    Error {
        message: String,
    },
    /// Not judged.
    Skipped {
        message: String,
    },
}

/// One test case.
struct Case {
    name: String,
    classname: String,
    outcome: Outcome,
    out: Option<String>,
}

/// One test suite.
struct Suite {
    name: String,
    package: Option<String>,
    time: Option<f64>,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
}

impl Suite {
    fn count(&self, which: fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| which(&c.outcome)).count()
    }
    fn failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failure { .. }))
    }
    fn errors(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Error { .. }))
    }
    fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
}

/// Where and when the session ran: the suites' `timestamp` and
/// `hostname`.
pub struct Stamp {
    /// The session's start, as ISO 8601 local time without a zone, as
    /// Ant and Surefire write it.
    pub timestamp: String,
    /// The machine's name.
    pub hostname: String,
}

impl Stamp {
    /// This machine, and the start of a session that took `elapsed_ms`
    /// and has just ended.
    pub fn now(elapsed_ms: f64) -> Stamp {
        let start = chrono::Local::now()
            - chrono::Duration::milliseconds(elapsed_ms.max(0.0).round() as i64);
        Stamp {
            timestamp: start.format("%Y-%m-%dT%H:%M:%S").to_string(),
            hostname: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".into()),
        }
    }
}

/// Renders the session as JUnit XML.
pub fn render(s: &Session) -> String {
    render_at(s, &Stamp::now(s.elapsed_ms))
}

/// Renders the session as JUnit XML, stamped with `stamp`.
pub fn render_at(s: &Session, stamp: &Stamp) -> String {
    let mut suites: Vec<Suite> = s.exercises.iter().map(|e| suite(s, e)).collect();
    if !s.unknown.is_empty() || !s.errors.is_empty() || s.interrupted {
        suites.push(session_suite(s));
    }
    match write(s, stamp, &suites) {
        Ok(text) => text,
        Err(e) => format!("<!-- cannot write JUnit XML: {e} -->\n"),
    }
}

fn suite(s: &Session, e: &ExerciseResult) -> Suite {
    let mut cases = Vec::new();
    let whole = matches!(
        e.status,
        ExerciseStatus::BuildFailed | ExerciseStatus::Refused | ExerciseStatus::Missing
    ) || e.invariants.is_empty();
    if whole {
        let message = e.headline.clone().unwrap_or_default();
        cases.push(Case {
            name: "builds".into(),
            classname: e.slug.to_string(),
            outcome: if e.status == ExerciseStatus::Interrupted {
                Outcome::Error { message }
            } else {
                Outcome::Failure {
                    kind: status_name(e.status),
                    message,
                    text: exercise_text(e),
                }
            },
            out: None,
        });
    }
    for inv in &e.invariants {
        let outcome = match inv.status {
            InvariantStatus::Passed => Outcome::Passed,
            InvariantStatus::Failed => Outcome::Failure {
                kind: "failed",
                message: inv
                    .failure
                    .as_ref()
                    .map(|f| format!("expected {}; seen {}", f.expected, f.seen))
                    .unwrap_or_default(),
                text: invariant_text(inv, e).unwrap_or_default(),
            },
            InvariantStatus::NotChecked => Outcome::Skipped {
                message: invariant_text(inv, e).unwrap_or_else(|| "not checked".into()),
            },
        };
        cases.push(Case {
            name: inv.name.to_string(),
            classname: e.slug.to_string(),
            outcome,
            out: Some(format!("{} in {} runs", inv.rate(), e.mode.name())),
        });
    }
    if e.status == ExerciseStatus::Interrupted && !whole {
        cases.push(Case {
            name: "all runs made".into(),
            classname: e.slug.to_string(),
            outcome: Outcome::Error {
                message: e.headline.clone().unwrap_or_else(|| "interrupted".into()),
            },
            out: None,
        });
    }
    Suite {
        name: format!("{:02} {}", e.number, e.slug),
        package: Some(e.package.clone()),
        time: Some(e.elapsed_ms / 1000.0),
        properties: {
            let mut p = vec![
                ("mode", e.mode.name().to_string()),
                ("runs", e.runs.to_string()),
                ("seed", s.seed.to_string()),
                ("cpus", s.cpus.to_string()),
            ];
            if let (Some(search), Some(line)) = (&e.search, super::search_line(e)) {
                p.push(("schedules", search.schedules.to_string()));
                p.push(("search", line));
            }
            p
        },
        cases,
    }
}

/// An exercise's status as the JSON report names it.
fn status_name(status: ExerciseStatus) -> &'static str {
    match status {
        ExerciseStatus::Passed => "passed",
        ExerciseStatus::Failed => "failed",
        ExerciseStatus::BuildFailed => "build-failed",
        ExerciseStatus::Refused => "refused",
        ExerciseStatus::Missing => "missing",
        ExerciseStatus::Interrupted => "interrupted",
    }
}

/// What went wrong with the session as a whole, as errors.
fn session_suite(s: &Session) -> Suite {
    let mut cases = Vec::new();
    if s.interrupted {
        cases.push(Case {
            name: "session".into(),
            classname: "grader".into(),
            outcome: Outcome::Error {
                message: "interrupted: these are the results of the runs that finished".into(),
            },
            out: None,
        });
    }
    for u in &s.unknown {
        cases.push(Case {
            name: format!("exercise {u}"),
            classname: "grader".into(),
            outcome: Outcome::Error {
                message: format!("unknown exercise `{u}`"),
            },
            out: None,
        });
    }
    for e in &s.errors {
        cases.push(Case {
            name: "session".into(),
            classname: "grader".into(),
            outcome: Outcome::Error { message: e.clone() },
            out: None,
        });
    }
    Suite {
        name: "grader".into(),
        package: None,
        time: None,
        properties: Vec::new(),
        cases,
    }
}

/// Seconds as the schema's `SUREFIRE_TIME` has them: at most three
/// decimals.
fn seconds(t: f64) -> String {
    format!("{:.3}", t.max(0.0))
}

/// Text as XML 1.0 allows it: the control characters it forbids (an
/// escape code in a compiler's output, say) become U+FFFD.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Text content, escaped only where XML needs it (`<`, `>`, `&`), so
/// that a trace's apostrophes read as they are.
fn text_node(text: &str) -> BytesText<'static> {
    BytesText::from_escaped(quick_xml::escape::partial_escape(clean(text)).into_owned())
}

/// An attribute's value on one line: parsers turn line breaks in an
/// attribute into spaces anyway.
fn one_line(text: &str) -> String {
    clean(text.lines().next().unwrap_or_default())
}

fn write(s: &Session, stamp: &Stamp, suites: &[Suite]) -> io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>().to_string();
    w.create_element("testsuites")
        .with_attribute(("name", "grader"))
        .with_attribute(("tests", total(|s| s.cases.len()).as_str()))
        .with_attribute(("failures", total(Suite::failures).as_str()))
        .with_attribute(("errors", total(Suite::errors).as_str()))
        .with_attribute(("time", seconds(s.elapsed_ms / 1000.0).as_str()))
        .write_inner_content(|w| {
            for suite in suites {
                write_suite(w, stamp, suite)?;
            }
            Ok(())
        })?;
    let mut text = String::from_utf8(w.into_inner()).map_err(io::Error::other)?;
    text.push('\n');
    Ok(text)
}

fn write_suite(w: &mut Writer<Vec<u8>>, stamp: &Stamp, suite: &Suite) -> io::Result<()> {
    let mut el = w
        .create_element("testsuite")
        .with_attribute(("name", clean(&suite.name).as_str()))
        .with_attribute(("tests", suite.cases.len().to_string().as_str()))
        .with_attribute(("failures", suite.failures().to_string().as_str()))
        .with_attribute(("errors", suite.errors().to_string().as_str()))
        .with_attribute(("skipped", suite.skipped().to_string().as_str()));
    if let Some(t) = suite.time {
        el = el.with_attribute(("time", seconds(t).as_str()));
    }
    el = el
        .with_attribute(("timestamp", stamp.timestamp.as_str()))
        .with_attribute(("hostname", clean(&stamp.hostname).as_str()));
    if let Some(p) = &suite.package {
        el = el.with_attribute(("package", p.as_str()));
    }
    el.write_inner_content(|w| {
        if !suite.properties.is_empty() {
            w.create_element("properties").write_inner_content(|w| {
                for (name, value) in &suite.properties {
                    w.create_element("property")
                        .with_attribute(("name", *name))
                        .with_attribute(("value", value.as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
        }
        for case in &suite.cases {
            write_case(w, case)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write_case(w: &mut Writer<Vec<u8>>, case: &Case) -> io::Result<()> {
    let el = w
        .create_element("testcase")
        .with_attribute(("name", clean(&case.name).as_str()))
        .with_attribute(("classname", case.classname.as_str()));
    if matches!(case.outcome, Outcome::Passed) && case.out.is_none() {
        el.write_empty()?;
        return Ok(());
    }
    el.write_inner_content(|w| {
        match &case.outcome {
            Outcome::Passed => {}
            Outcome::Failure {
                kind,
                message,
                text,
            } => {
                w.create_element("failure")
                    .with_attribute(("type", *kind))
                    .with_attribute(("message", one_line(message).as_str()))
                    .write_text_content(text_node(text))?;
            }
            Outcome::Error { message } => {
                w.create_element("error")
                    .with_attribute(("type", "grader"))
                    .with_attribute(("message", one_line(message).as_str()))
                    .write_empty()?;
            }
            Outcome::Skipped { message } => {
                w.create_element("skipped")
                    .with_attribute(("message", one_line(message).as_str()))
                    .write_empty()?;
            }
        }
        if let Some(out) = &case.out {
            w.create_element("system-out")
                .write_text_content(text_node(out))?;
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_at_most_three_decimals() {
        assert_eq!(seconds(1.23456), "1.235");
        assert_eq!(seconds(-1.0), "0.000");
    }

    #[test]
    fn control_characters_do_not_reach_the_xml() {
        assert_eq!(clean("a\u{1b}[31mb\tc\n"), "a\u{fffd}[31mb\tc\n");
        assert_eq!(one_line("first\nsecond"), "first");
    }
}

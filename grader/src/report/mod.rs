//! Reporters: one session's results in the form a reader needs.
//!
//! - [`human`]: tables and failure details for a person at a terminal.
//! - [`json`]: the session as JSON (schema in `grader/SCHEMA.md`).
//! - [`junit`]: JUnit XML, a test suite per exercise, a test case per
//!   invariant, for CI dashboards.
//! - [`gradescope`]: Gradescope's `results.json`.
//!
//! All of them render the same [`Session`]; none computes a verdict.
//! [`term`] and [`wrap`] are the terminal's side: colour, width, the
//! progress bar, long lines wrapped.

pub mod gradescope;
pub mod human;
pub mod json;
pub mod junit;
pub mod term;
pub mod wrap;

use clap::ValueEnum;

use crate::judge::verdict::{ExerciseResult, Failure, InvariantResult, Session};
use crate::report::term::Paint;

/// The report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and failure details, for a person.
    Human,
    /// The session as JSON (schema in grader/SCHEMA.md).
    Json,
    /// JUnit XML: a test suite per exercise, a test case per invariant.
    Junit,
    /// Gradescope's results.json.
    Gradescope,
    /// A self-contained HTML page with a picture of each exercise's first
    /// failing run.
    Html,
}

/// How a report is rendered, beyond its format.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Colour and width, for the human report.
    pub paint: Paint,
    /// When students see Gradescope results.
    pub visibility: gradescope::Visibility,
}

/// Renders a session.
pub fn render(session: &Session, format: Format, style: Style) -> String {
    match format {
        Format::Human => human::render(session, style.paint),
        Format::Json => json::render(session),
        Format::Junit => junit::render(session),
        Format::Gradescope => gradescope::render_with(session, style.visibility),
        // The pictures need the runs replayed: the caller does that and
        // renders with `timeline::session::page`; here, the verdicts alone.
        Format::Html => crate::timeline::session::page(session, &[]),
    }
}

/// A failure's details as lines: expected, seen, the run's parameters,
/// the trace, the replay.
pub fn failure_lines(f: &Failure) -> Vec<(&'static str, String)> {
    let mut lines = vec![("expected", f.expected.clone()), ("seen", f.seen.clone())];
    // The run's parameters: the numbers the expectation is made of.
    if let Some(params) = f.params.as_ref().filter(|p| !p.is_empty()) {
        lines.push(("params", params.clone()));
    }
    for e in &f.evidence {
        // A narrated interleaving ends with its conclusion after "→";
        // on its own line it reads as the punchline it is.
        match e.split_once(" → ") {
            Some((trace, conclusion)) => {
                lines.push(("trace", trace.to_string()));
                lines.push(("", format!("→ {conclusion}")));
            }
            None => lines.push(("trace", e.clone())),
        }
    }
    if let Some(why) = f.why() {
        lines.push(("why", why));
    }
    if let Some(r) = &f.replay {
        lines.push(("replay", r.clone()));
    }
    lines
}

/// "broken in 183/200 runs; first in run 3 (seed 1237)"; for the
/// search's counterexample "broken in 3/40 schedules; the simplest: 1
/// preemption, at size 1 (2 steps each)"; for a shrunk run "...; shrunk
/// from 212 preemptions".
pub fn failure_summary(inv: &InvariantResult, f: &Failure, e: &ExerciseResult) -> String {
    let broken = inv.broken_phrase();
    if let (Some(n), Some(p)) = (f.size, f.preemptions) {
        let size = crate::catalog::find(e.slug)
            .and_then(|x| x.sizes.get(n.wrapping_sub(1)))
            .map(|s| format!(" ({})", s.name))
            .unwrap_or_default();
        // Random runs failed first, and the search found the simplest
        // schedule at a small size afterwards.
        let first = match (f.run, f.seed, e.runs > 0) {
            (Some(run), Some(seed), true) => format!("; first in run {run} (seed {seed})"),
            _ => String::new(),
        };
        return format!(
            "broken in {broken}{first}; the simplest schedule: {}, at size {n}{size}",
            preemptions(p)
        );
    }
    match (f.run, f.seed) {
        (Some(run), Some(seed)) => {
            let mut s = format!("broken in {broken}; first in run {run} (seed {seed})");
            if let (Some(before), Some(p)) = (&f.shrunk, f.preemptions) {
                s.push_str(&format!(
                    ", shrunk from {} to {}",
                    preemptions(before.preemptions),
                    preemptions(p)
                ));
            }
            s
        }
        _ => "never seen".to_string(),
    }
}

/// "no preemption", "≤ 1 preemption", "≤ 2 preemptions".
pub fn at_most(k: u32) -> String {
    match k {
        0 => "no preemption".to_string(),
        1 => "≤ 1 preemption".to_string(),
        k => format!("≤ {k} preemptions"),
    }
}

/// "no preemption", "1 preemption", "3 preemptions".
pub fn preemptions(n: u32) -> String {
    match n {
        0 => "no preemption".to_string(),
        1 => "1 preemption".to_string(),
        n => format!("{n} preemptions"),
    }
}

/// The exhaustive search in one line: "verified: all 712 schedules with
/// ≤ 2 preemptions at 2 steps each (1.2 s)", or its counterexample.
pub fn search_line(e: &ExerciseResult) -> Option<String> {
    let s = e.search.as_ref()?;
    let time = format!("{:.1} s", s.elapsed_ms / 1000.0);
    Some(match &s.counterexample {
        Some(c) => {
            let size = s
                .sizes
                .get(c.size - 1)
                .map_or(String::new(), |z| format!(" ({})", z.name));
            format!(
                "exhaustive search: a counterexample with {} at size {}{size}, after {} schedules ({time})",
                preemptions(c.preemptions),
                c.size,
                s.schedules
            )
        }
        None if s.verified => format!("verified: {} ({time})", s.extent()),
        None => format!(
            "exhaustive search not finished: {} schedules ({time})",
            s.schedules
        ),
    })
}

/// An exercise's failure as plain text: the headline, then each failed
/// invariant with its details (for JUnit and Gradescope).
pub fn exercise_text(e: &ExerciseResult) -> String {
    let mut out = Vec::new();
    if let Some(h) = &e.headline {
        out.push(h.clone());
    }
    if let Some(b) = &e.build {
        if let Some(d) = &b.details {
            out.push(d.clone());
        }
    }
    if let Some(line) = search_line(e) {
        out.push(line);
    }
    for inv in &e.invariants {
        if let Some(text) = invariant_text(inv, e) {
            out.push(format!("{}:\n{text}", inv.name));
        }
    }
    out.join("\n")
}

/// An invariant's rate and, if it did not pass, why: plain text.
pub fn invariant_text(inv: &InvariantResult, e: &ExerciseResult) -> Option<String> {
    if let Some(f) = &inv.failure {
        let mut lines = vec![failure_summary(inv, f, e)];
        lines.extend(
            failure_lines(f)
                .into_iter()
                .map(|(k, v)| format!("  {k:<8}  {v}")),
        );
        return Some(lines.join("\n"));
    }
    if inv.status == crate::judge::verdict::InvariantStatus::NotChecked {
        return Some(format!(
            "not checked in {}/{} runs: {}",
            inv.unchecked,
            inv.runs,
            inv.unchecked_reason
                .as_deref()
                .unwrap_or("no run could be judged")
        ));
    }
    None
}

//! The report for a person: per exercise, a table of its invariants with
//! their rates, then what broke, with the interleaving and the command that
//! replays it; a summary line last.

use std::fmt::Write;

use super::{failure_lines, failure_summary, search_line, wrap};
use crate::grade::shell_quote;
use crate::judge::verdict::{ExerciseResult, ExerciseStatus, InvariantStatus, Session};
use crate::report::term::Paint;

/// The column a failure's details start in: 7 spaces, an 8-column key, 2
/// spaces.
const FAILURE_INDENT: usize = 17;

/// Renders the session: the header, each exercise, the footer, as
/// [`header`], [`exercise`] and [`footer`] give them one at a time to a
/// session that prints its results as they come.
pub fn render(s: &Session, p: Paint) -> String {
    let mut out = header(s, p);
    for e in &s.exercises {
        out.push_str(&exercise(e, p));
    }
    out.push_str(&footer(s, p));
    out
}

/// What is graded and how: all of it known before any work is done.
pub fn header(s: &Session, p: Paint) -> String {
    let mut out = String::new();
    let mut what = match (&s.workspace, s.source) {
        (Some(w), _) => format!("the submission at {w}"),
        (None, "solutions") => "the reference solutions".into(),
        (None, _) => "exercises/".into(),
    };
    if let Some(demo) = &s.demo {
        what = format!("the lesson's buggy program `{demo}` (instead of {what})");
    }
    if !s.only.is_empty() {
        what.push_str(&format!(", judging only {}", s.only.join(", ")));
    }
    let mode = match s.mode_override {
        Some(m) => format!("mode {} for all", m.name()),
        None => "each exercise in its default mode".into(),
    };
    let how = match s.bound {
        Some(k) => format!(
            "every schedule with {} at each exercise's small sizes",
            super::at_most(k)
        ),
        None => format!("{} runs each, seed {}, {mode}", s.runs, s.seed),
    };
    let _ = writeln!(out, "{}", p.bold(&format!("Grading {what}: {how}")));
    let _ = writeln!(
        out,
        "{}",
        p.dim(&format!(
            "{} CPU{}, {} parallel runs, {} s per run",
            s.cpus,
            if s.cpus == 1 { "" } else { "s" },
            s.jobs,
            s.timeout_secs
        ))
    );
    if let Some(w) = &s.workspace {
        // The replay commands are the student's: they name no path of
        // the grading machine.
        let _ = writeln!(
            out,
            "{}",
            p.dim(&format!(
                "Replay commands are for the submission's own checkout; from this course, add --workspace {}",
                shell_quote(w)
            ))
        );
    }
    for u in &s.unknown {
        let _ = writeln!(
            out,
            "\n{} unknown exercise `{u}`: expected one of {}",
            p.red("✗"),
            crate::catalog::names()
        );
    }
    out
}

/// The end of the report: what the session as a whole met, the files of
/// the submission that were not used, and the summary line.
pub fn footer(s: &Session, p: Paint) -> String {
    let mut out = String::new();
    if !s.warnings.is_empty() || !s.errors.is_empty() {
        out.push('\n');
    }
    for w in &s.warnings {
        let _ = writeln!(out, "{} {w}", p.yellow("warning:"));
    }
    for e in &s.errors {
        let _ = writeln!(out, "{} {e}", p.red("✗"));
    }
    if !s.ignored_files.is_empty() {
        let _ = writeln!(
            out,
            "\nIgnored from the submission (only each exercise's src/lib.rs is graded):"
        );
        for f in s.ignored_files.iter().take(20) {
            let _ = writeln!(out, "  {f}");
        }
        if s.ignored_files.len() > 20 {
            let _ = writeln!(out, "  and {} more", s.ignored_files.len() - 20);
        }
    }
    let failed: Vec<&str> = s
        .exercises
        .iter()
        .filter(|e| {
            !matches!(
                e.status,
                ExerciseStatus::Passed | ExerciseStatus::Interrupted
            )
        })
        .map(|e| e.slug)
        .collect();
    let unfinished: Vec<&str> = s
        .exercises
        .iter()
        .filter(|e| e.status == ExerciseStatus::Interrupted)
        .map(|e| e.slug)
        .collect();
    let verdict = if s.interrupted {
        p.yellow("INTERRUPTED (results of the runs that finished)")
    } else if s.passed {
        p.green("PASSED")
    } else {
        p.red("FAILED")
    };
    let mut line = format!(
        "\n{verdict}: {} of {} exercises passed",
        s.passed_count(),
        s.exercises.len()
    );
    if !failed.is_empty() {
        let _ = write!(line, "; failed: {}", failed.join(", "));
    }
    if !unfinished.is_empty() {
        let _ = write!(line, "; not finished: {}", unfinished.join(", "));
    }
    if !s.unknown.is_empty() {
        let _ = write!(line, "; unknown: {}", s.unknown.join(", "));
    }
    let _ = writeln!(out, "{line} ({:.1} s)", s.elapsed_ms / 1000.0);
    out
}

/// One exercise's verdict in one line, for a log while a report in
/// another format is being made: "03 locked-bank: FAILED (final = start:
/// broken in 5/5 runs; ...)".
pub fn one_line(e: &ExerciseResult, p: Paint) -> String {
    let why = e
        .headline
        .as_deref()
        .map(|h| format!(" ({})", h.lines().next().unwrap_or_default()))
        .unwrap_or_default();
    format!(
        "{:02} {}: {}{why}",
        e.number,
        e.slug,
        status_word(e.status, p)
    )
}

fn status_word(status: ExerciseStatus, p: Paint) -> String {
    match status {
        ExerciseStatus::Passed => p.green("passed"),
        ExerciseStatus::Failed => p.red("FAILED"),
        ExerciseStatus::BuildFailed => p.red("DOES NOT BUILD"),
        ExerciseStatus::Refused => p.red("REFUSED"),
        ExerciseStatus::Missing => p.red("MISSING"),
        ExerciseStatus::Interrupted => p.yellow("INTERRUPTED"),
    }
}

/// One exercise's part of the report, from the blank line before it.
pub fn exercise(e: &ExerciseResult, p: Paint) -> String {
    let mut out = String::from("\n");
    exercise_into(&mut out, e, p);
    out
}

fn exercise_into(out: &mut String, e: &ExerciseResult, p: Paint) {
    let status = status_word(e.status, p);
    let _ = writeln!(
        out,
        "{} {} — {}  {status}",
        p.bold(&format!("{:02}", e.number)),
        p.bold(e.slug),
        e.title
    );
    if matches!(
        e.status,
        ExerciseStatus::BuildFailed | ExerciseStatus::Refused | ExerciseStatus::Missing
    ) || (e.status == ExerciseStatus::Interrupted && e.runs == 0)
    {
        if let Some(h) = &e.headline {
            let _ = writeln!(out, "   {h}");
        }
        if let Some(details) = e.build.as_ref().and_then(|b| b.details.as_ref()) {
            for line in details.lines().take(20) {
                let _ = writeln!(out, "   {}", p.dim(line));
            }
        }
        return;
    }
    let seeds = e
        .seeds
        .map(|(a, b)| format!(", seeds {a}–{b}"))
        .unwrap_or_default();
    if e.runs > 0 || e.search.is_none() {
        let _ = writeln!(
            out,
            "   {}",
            p.dim(&format!(
                "mode {}, {} runs{seeds}",
                e.mode.describe(),
                e.runs
            ))
        );
    }
    if let Some(line) = search_line(e) {
        let verified = e.search.as_ref().is_some_and(|s| s.verified);
        let first = format!(
            "   {} ",
            if verified {
                p.green("✓")
            } else {
                p.dim("·")
            }
        );
        for l in wrap::hanging(&first, 5, &line, p.width) {
            let _ = writeln!(out, "{l}");
        }
    }
    let width = e
        .invariants
        .iter()
        .map(|i| i.name.chars().count())
        .max()
        .unwrap_or(0);
    for inv in &e.invariants {
        let mark = match inv.status {
            InvariantStatus::Passed => p.green("✓"),
            InvariantStatus::Failed => p.red("✗"),
            InvariantStatus::NotChecked => p.yellow("?"),
        };
        let pad = width - inv.name.chars().count();
        let _ = writeln!(
            out,
            "   {mark} {}{}  {}",
            inv.name,
            " ".repeat(pad),
            inv.rate()
        );
    }
    if e.status == ExerciseStatus::Interrupted {
        if let Some(h) = &e.headline {
            let _ = writeln!(out, "   {} {h}", p.yellow("!"));
        }
    }
    for d in e.distributions.iter().filter(|d| !d.values.is_empty()) {
        let _ = writeln!(out, "   {}", p.dim(&d.line()));
    }
    for w in &e.warnings {
        let _ = writeln!(out, "   {} {w}", p.yellow("warning:"));
    }
    // A situation the scenario never brought about is a property never
    // put to the test: say so, rather than let a pass claim it. (A
    // failing exercise has its failures to read first. An exhaustive
    // search alone tries every schedule at its own small sizes, which
    // fix what random runs vary, such as who starts first.)
    let never: Vec<&str> = e
        .coverage
        .iter()
        .filter(|c| c.runs == 0)
        .map(|c| c.name)
        .collect();
    if !never.is_empty() && e.status == ExerciseStatus::Passed && e.runs > 0 {
        let text = format!(
            "{} never came up in these {} runs (more runs would put it to the test): {}",
            if never.len() == 1 {
                "a situation"
            } else {
                "situations"
            },
            e.runs,
            never.join("; ")
        );
        let first = format!("   {} ", p.yellow("?"));
        for line in wrap::hanging(&first, 5, &text, p.width) {
            let _ = writeln!(out, "{line}");
        }
    }
    let mut unjudged: Vec<(&str, usize)> = Vec::new();
    let mut told: Vec<&str> = Vec::new();
    for inv in &e.invariants {
        if let Some(f) = &inv.failure {
            // "Clean exit" often fails for the reason "no panic" gave.
            if told.contains(&f.seen.as_str()) {
                continue;
            }
            told.push(&f.seen);
            let first = format!("   {} ", p.red("✗"));
            let text = format!("{}: {}", p.bold(inv.name), failure_summary(inv, f, e));
            for line in wrap::hanging(&first, 5, &text, p.width) {
                let _ = writeln!(out, "{line}");
            }
            for (key, value) in failure_lines(f) {
                let first = format!("       {}  ", p.dim(&format!("{key:<8}")));
                for line in wrap::hanging(&first, FAILURE_INDENT, &value, p.width) {
                    let _ = writeln!(out, "{line}");
                }
            }
        } else if inv.status == InvariantStatus::NotChecked {
            let reason = inv
                .unchecked_reason
                .as_deref()
                .unwrap_or("no run could be judged");
            match unjudged.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => unjudged.push((reason, 1)),
            }
        }
    }
    for (reason, n) in unjudged {
        let what = if n == 1 { "invariant" } else { "invariants" };
        let _ = writeln!(out, "   {} {n} {what} not checked: {reason}", p.yellow("?"));
    }
    if e.failing_run_count == e.runs && e.runs > 0 {
        let _ = writeln!(
            out,
            "   {}",
            p.dim(&format!("every one of the {} runs failed", e.runs))
        );
    } else if e.failing_run_count > 0 {
        let listed: Vec<String> = e
            .failing_runs
            .iter()
            .map(|r| format!("{} (seed {})", r.run, r.seed))
            .collect();
        let _ = writeln!(
            out,
            "   {}",
            p.dim(&format!(
                "failing runs: {} of {}; first: {}",
                e.failing_run_count,
                e.runs,
                listed.join(", ")
            ))
        );
    }
}

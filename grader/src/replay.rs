//! `grader replay`: one run again, with its interleaving shown.
//!
//! Under the controlled scheduler a run is fixed by its seed: the same
//! program given the same seed makes the same choices, so a failing run
//! from a grading session comes back exactly. A schedule string (the
//! choices themselves) replays it even if the seed's strategy changes.

use std::fmt::Write;
use std::time::Duration;

use crate::catalog::Exercise;
use crate::course::Course;
use crate::grade::{cpus, Workbench};
use crate::judge::invariants::{common, judge, Check};
use crate::judge::narrate;
use crate::judge::verdict::Failure;
use crate::mode::ModeKind;
use crate::report::failure_lines;
use crate::report::term::Paint;
use crate::run::runner::{self, Plan};

/// How many lines of trace are shown without `--full`.
const TRACE_LINES: usize = 60;

/// What to replay.
pub struct Request {
    /// The exercise.
    pub exercise: &'static Exercise,
    /// Where its program comes from.
    pub source: crate::catalog::Source,
    /// The seed (also the scenario's seed when a schedule is given).
    pub seed: Option<u64>,
    /// A schedule to follow instead of the seed's choices.
    pub schedule: Option<String>,
    /// A mode instead of the exercise's default.
    pub mode: Option<ModeKind>,
    /// The run's deadline.
    pub timeout: Duration,
    /// The pause factor, if given.
    pub time_scale: Option<f64>,
    /// The build's deadline.
    pub build_timeout: Duration,
    /// Whether to print the whole trace.
    pub full: bool,
    /// The staged copy to build in.
    pub stage: String,
    /// Whether the language boundary is enforced.
    pub boundary: bool,
    /// Whether builds and runs are boxed.
    pub sandbox: bool,
}

/// Replays the run; returns the text to print and whether every invariant
/// held.
pub fn replay(course: &Course, req: &Request, paint: Paint) -> (String, bool) {
    let e = req.exercise;
    let mut out = String::new();
    let mut bench = Workbench::new(
        course,
        &req.source,
        &[e],
        &req.stage,
        req.build_timeout,
        req.boundary,
        req.sandbox,
    );
    let tmp = match crate::run::sweep::temp_dir() {
        Ok(t) => t,
        Err(err) => return (format!("cannot make a temporary directory: {err}\n"), false),
    };
    let program = match bench.prepare_one(e, &tmp.path().join("bin")) {
        Ok(p) => p,
        Err(why) => return (format!("{}: {why}\n", e.slug), false),
    };
    bench.done_building();
    let mode = req.mode.unwrap_or(e.default_mode);
    let seed = req.seed.unwrap_or(0);
    let plan = Plan {
        exercise: e.slug.to_string(),
        program,
        demo: None,
        mode,
        sched_override: req.schedule.as_ref().map(|s| format!("replay:{s}")),
        base_seed: seed,
        time_scale: e.time_scale(mode, req.time_scale),
        timeout: req.timeout,
        params: e.params,
        bare: !req.sandbox,
    };
    let sched = plan.config(0).sched;
    let how = match (&req.schedule, req.seed) {
        (Some(_), Some(seed)) => format!("a schedule, scenario seed {seed}"),
        (Some(_), None) => "a schedule".to_string(),
        (None, _) => format!("seed {seed}"),
    };
    let title = format!(
        "Replaying {} with {how} (MULTIPROC_SCHED={})",
        e.slug,
        short(&sched)
    );
    let _ = writeln!(out, "{}", paint.bold(&title));
    if !mode.replays_exactly() && req.schedule.is_none() {
        let _ = writeln!(
            out,
            "{}",
            paint.yellow(&format!(
                "note: {} mode does not fix the interleaving; this run may differ from the one graded",
                mode.name()
            ))
        );
    }
    let run = runner::run_once(&plan, 0);
    runner::close_slot();
    let _ = writeln!(
        out,
        "Ended: {} after {:.0} ms ({} CPUs)\n",
        run.ending_phrase(),
        run.outcome.elapsed_ms,
        cpus()
    );

    let clean = common::clean(&run);
    let mut all_held = true;
    for inv in e.invariants() {
        match judge(&inv, &run, &clean) {
            Ok(Check::Held) => {
                let _ = writeln!(out, "{} {}", paint.green("✓"), inv.name);
            }
            Ok(Check::Broken(v)) => {
                let is_some = inv.quantifier == crate::judge::invariants::Quantifier::Some;
                all_held &= is_some;
                let mark = if is_some {
                    paint.yellow("·")
                } else {
                    paint.red("✗")
                };
                let note = if is_some {
                    " (not seen in this run)"
                } else {
                    ""
                };
                let _ = writeln!(out, "{mark} {}{note}", inv.name);
                let f = Failure {
                    run: None,
                    seed: None,
                    expected: v.expected,
                    seen: v.seen,
                    evidence: v.evidence,
                    replay: None,
                    schedule: None,
                    params: None,
                    at: v.at,
                };
                for (k, val) in failure_lines(&f) {
                    let _ = writeln!(out, "    {}  {val}", paint.dim(&format!("{k:<8}")));
                }
            }
            Err(why) => {
                all_held = false;
                let _ = writeln!(
                    out,
                    "{} {}: not checked: {}",
                    paint.yellow("?"),
                    inv.name,
                    why.0
                );
            }
        }
    }

    let report = run.report.as_ref().ok();
    let (events, schedule) = match report {
        Some(r) => match (&r.summary, &r.deadlock) {
            (Some(s), _) => (s.events.as_slice(), s.schedule.clone()),
            (None, Some(d)) => (d.events.as_slice(), d.schedule.clone()),
            _ => (&[][..], None),
        },
        None => (&[][..], None),
    };
    if !events.is_empty() {
        let visible: Vec<_> = events
            .iter()
            .filter(|e| req.full || !run.names.is_internal(e.object))
            .collect();
        let lines = narrate::grouped(&run.names, &visible);
        let shown = if req.full {
            lines.len()
        } else {
            lines.len().min(TRACE_LINES)
        };
        let hidden = events.len() - visible.len();
        let note = if hidden > 0 {
            format!(
                "; {hidden} operations on the runtime's internal locks hidden, --full shows them"
            )
        } else {
            String::new()
        };
        let _ = writeln!(out, "\nTrace ({} events{note}):", events.len());
        for l in &lines[..shown] {
            let _ = writeln!(out, "  {l}");
        }
        if shown < lines.len() {
            let _ = writeln!(
                out,
                "  … {} more lines (--full shows them all)",
                lines.len() - shown
            );
        }
    }
    if let Some(s) = schedule {
        let _ = writeln!(out, "\nSchedule: {}", short(&s));
    }
    let stderr = run.outcome.stderr.trim();
    if !stderr.is_empty() {
        let _ = writeln!(out, "\nThe program's stderr:");
        for l in stderr.lines().take(20) {
            let _ = writeln!(out, "  {l}");
        }
    }
    drop(tmp);
    (out, all_held)
}

/// A long schedule, shortened for the screen.
fn short(s: &str) -> String {
    if s.chars().count() <= 120 {
        s.to_string()
    } else {
        format!(
            "{}… ({} characters)",
            s.chars().take(100).collect::<String>(),
            s.len()
        )
    }
}

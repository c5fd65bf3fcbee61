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
use crate::report::term::Paint;
use crate::report::{failure_lines, wrap};
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
    /// The exhaustive search's size to run at (1-based), instead of the
    /// seed's parameters.
    pub size: Option<usize>,
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
    /// Whether the trace shows the runtime's internal locks.
    pub internal: bool,
    /// The lesson's buggy program to run instead, if any.
    pub demo: Option<String>,
    /// The pictures of the run to write.
    pub pictures: Pictures,
    /// The staged copy to build in.
    pub stage: String,
    /// Whether the language boundary is enforced.
    pub boundary: bool,
    /// Whether builds and runs are boxed.
    pub sandbox: bool,
}

/// Where to draw the run (see [`crate::timeline`]).
#[derive(Clone, Debug, Default)]
pub struct Pictures {
    /// A self-contained HTML page.
    pub html: Option<std::path::PathBuf>,
    /// The breaking moment as a bare SVG.
    pub svg: Option<std::path::PathBuf>,
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
    let size = match req.size {
        Some(n) => match e.sizes.get(n.wrapping_sub(1)) {
            Some(size) => Some((n, size)),
            None => {
                return (
                    format!(
                        "{}: no size {n}: its exhaustive search has sizes 1 to {}\n",
                        e.slug,
                        e.sizes.len()
                    ),
                    false,
                )
            }
        },
        None => None,
    };
    let mode = match size {
        Some(_) => ModeKind::Exhaustive,
        None => req.mode.unwrap_or(e.default_mode),
    };
    let seed = req.seed.unwrap_or(0);
    let schedule = match (&req.schedule, size) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(_)) => Some(String::new()),
        (None, None) => None,
    };
    let plan = Plan {
        exercise: e.slug.to_string(),
        program,
        demo: req.demo.clone(),
        mode,
        sched_override: schedule.as_ref().map(|s| format!("replay:{s}")),
        base_seed: seed,
        time_scale: e.time_scale(mode, req.time_scale),
        timeout: req.timeout,
        params: e.params,
        bare: !req.sandbox,
    };
    let config = match size {
        Some((n, size)) => plan.config_at_size(n, size, plan.config(0).sched),
        None => plan.config(0),
    };
    let sched = config.sched.clone();
    let how = match (&req.schedule, req.seed, size) {
        (_, _, Some((n, size))) => format!("size {n} ({})", size.name),
        (Some(_), Some(seed), None) => format!("a schedule, scenario seed {seed}"),
        (Some(_), None, None) => "a schedule".to_string(),
        (None, _, None) => format!("seed {seed}"),
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
    let run = runner::run_with(&plan, 0, config);
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
                line(&mut out, &paint.green("✓"), inv.name, paint);
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
                line(&mut out, &mark, &format!("{}{note}", inv.name), paint);
                let f = Failure {
                    run: None,
                    seed: None,
                    expected: v.expected,
                    seen: v.seen,
                    evidence: v.evidence,
                    replay: None,
                    schedule: None,
                    params: None,
                    preemptions: None,
                    size: None,
                    preempted: Vec::new(),
                    shrunk: None,
                    at: v.at,
                };
                for (k, val) in failure_lines(&f) {
                    let first = format!("    {}  ", paint.dim(&format!("{k:<8}")));
                    for line in wrap::hanging(&first, 4 + 8 + 2, &val, paint.width) {
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
            Err(why) => {
                all_held = false;
                let text = format!("{}: not checked: {}", inv.name, why.0);
                line(&mut out, &paint.yellow("?"), &text, paint);
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
            .filter(|e| req.internal || !run.names.is_internal(e.object))
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
                "; {hidden} operations on the runtime's internal locks hidden, --internal shows them"
            )
        } else {
            String::new()
        };
        let _ = writeln!(out, "\nTrace ({} events{note}):", events.len());
        for l in &lines[..shown] {
            for line in wrap::table_line(&format!("  {l}"), paint.width) {
                let _ = writeln!(out, "{line}");
            }
        }
        if shown < lines.len() {
            let _ = writeln!(
                out,
                "  … {} more lines (--full shows them all)",
                lines.len() - shown
            );
        }
    }
    if let Some(choices) = run.choices() {
        let said = crate::search::explain::preemptions(&run, choices);
        let _ = writeln!(
            out,
            "\n{}",
            match said.len() {
                0 =>
                    "No preemption: each process ran until it blocked, paused or ended.".to_string(),
                1 => "One preemption:".to_string(),
                n => format!("{n} preemptions:"),
            }
        );
        for p in said {
            for line in wrap::hanging("  - ", 4, &p, paint.width) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    if let Some(s) = schedule {
        let shown = if req.full { s.clone() } else { short(&s) };
        let _ = writeln!(out, "\nSchedule: {shown}");
        let legend = "(who ran at each point where more than one process could: 0 is the \
                      main process, 1, 2, ... its children in the order they started; 1x2 is \
                      1 twice. --schedule follows it; `cargo grade replay --help` tells more.)";
        for line in wrap::hanging("  ", 2, legend, paint.width) {
            let _ = writeln!(out, "{}", paint.dim(&line));
        }
    }
    if req.pictures.html.is_some() || req.pictures.svg.is_some() {
        out.push_str(&crate::timeline::files::write_replay(req, &run));
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

/// An invariant's line: its mark, then `text` wrapped under itself.
fn line(out: &mut String, mark: &str, text: &str, paint: Paint) {
    for l in wrap::hanging(&format!("{mark} "), 2, text, paint.width) {
        let _ = writeln!(out, "{l}");
    }
}

/// A long schedule, shortened for the screen.
fn short(s: &str) -> String {
    if s.chars().count() <= 120 {
        s.to_string()
    } else {
        format!(
            "{}… ({} characters; --full shows it whole)",
            s.chars().take(100).collect::<String>(),
            s.len()
        )
    }
}

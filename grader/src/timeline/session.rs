//! A whole grading session as one HTML page: each exercise's verdict, and
//! a picture of the failure the report shows first for each exercise that
//! failed.
//!
//! A session keeps verdicts, not traces (two hundred traces per exercise
//! would be most of its memory), so the pictures come from replaying. The
//! failure shown is replayed as the report shows it: the simplest
//! schedule of a search at its small size, or a random run's shrunk
//! schedule with its seed, or else the first failing run by its seed.
//! Under the controlled scheduler a seed or a schedule fixes the
//! interleaving, so the replay is that very run; in the free and perturb
//! modes it is another run with the same parameters, and the page says
//! so.

use std::time::Duration;

use super::html::{page as html_page, Section};
use super::{broken, Timeline};
use crate::catalog;
use crate::course::Course;
use crate::grade::{Options, Workbench};
use crate::judge::verdict::{ExerciseResult, ExerciseStatus, Session};
use crate::mode::ModeKind;
use crate::run::runner::{self, Plan};

/// One exercise's picture: its first failing run, replayed.
pub struct Picture {
    /// The exercise's number and slug (`03 locked-bank`).
    pub heading: String,
    /// The run drawn.
    pub timeline: Timeline,
    /// The command that replays it.
    pub replay: Option<String>,
    /// The run's schedule.
    pub schedule: Option<String>,
}

/// What to replay for an exercise that failed.
struct Shown {
    exercise: &'static catalog::Exercise,
    /// The run's seed (for a size of the search: the size's number).
    seed: u64,
    /// Its schedule, when the report shows one (searched or shrunk).
    schedule: Option<String>,
    /// The search's size it is at (1-based), if any.
    size: Option<usize>,
    heading: String,
    replay: Option<String>,
}

/// The failure the report shows first for `r`, as something to replay.
fn shown(r: &ExerciseResult, opts: &Options) -> Option<Shown> {
    let e = catalog::find(r.slug)?;
    let head = format!("{:02} {}", e.number, e.slug);
    let failure = r
        .invariants
        .iter()
        .filter_map(|i| i.failure.as_ref())
        .find(|f| f.schedule.is_some() && f.preemptions.is_some());
    if let Some(f) = failure {
        if let Some(n) = f.size {
            let name = e.sizes.get(n.wrapping_sub(1))?.name;
            return Some(Shown {
                exercise: e,
                seed: n as u64,
                schedule: f.schedule.clone(),
                size: Some(n),
                heading: format!("{head}: the simplest failing schedule, at size {n} ({name})"),
                replay: f.replay.clone(),
            });
        }
        if let (Some(run), Some(seed)) = (f.run, f.seed) {
            return Some(Shown {
                exercise: e,
                seed,
                schedule: f.schedule.clone(),
                size: None,
                heading: format!("{head}: run {run} (seed {seed}), shrunk"),
                replay: f.replay.clone(),
            });
        }
    }
    let run = r.failing_runs.first()?;
    Some(Shown {
        exercise: e,
        seed: run.seed,
        schedule: None,
        size: None,
        heading: format!("{head}: run {} (seed {})", run.run, run.seed),
        replay: opts.replay_command(e, run.seed, None),
    })
}

/// Replays the failure shown first for each exercise that failed.
pub fn replays(course: &Course, opts: &Options, session: &Session) -> Vec<Picture> {
    let failed: Vec<Shown> = session
        .exercises
        .iter()
        .filter(|r| r.status == ExerciseStatus::Failed)
        .filter_map(|r| shown(r, opts))
        .collect();
    if failed.is_empty() {
        return Vec::new();
    }
    let Ok(tmp) = crate::run::sweep::temp_dir() else {
        return Vec::new();
    };
    let exercises: Vec<&'static catalog::Exercise> = failed.iter().map(|f| f.exercise).collect();
    let mut bench = Workbench::new(
        course,
        &opts.source,
        &exercises,
        &opts.stage,
        opts.build_timeout,
        opts.boundary,
        opts.sandbox,
    );
    let programs: Vec<Option<std::path::PathBuf>> = exercises
        .iter()
        .map(|e| bench.prepare_one(e, &tmp.path().join("bin")).ok())
        .collect();
    bench.done_building();
    let mut out = Vec::new();
    for (shown, program) in failed.into_iter().zip(programs) {
        let Some(program) = program else { continue };
        let e = shown.exercise;
        let mode = match shown.schedule {
            Some(_) => ModeKind::Controlled,
            None => opts.mode_for(e),
        };
        let plan = Plan {
            exercise: e.slug.to_string(),
            program,
            demo: opts.demo.clone(),
            mode,
            sched_override: shown.schedule.as_ref().map(|s| format!("replay:{s}")),
            base_seed: shown.seed,
            time_scale: e.time_scale(mode, opts.time_scale),
            timeout: opts.timeout.max(Duration::from_secs(1)),
            params: e.params,
            bare: !opts.sandbox,
        };
        let config = match shown.size.and_then(|n| Some((n, e.sizes.get(n - 1)?))) {
            Some((n, size)) => plan.config_at_size(n, size, plan.config(0).sched),
            None => plan.config(0),
        };
        let run = runner::run_with(&plan, 0, config);
        let broken = broken(e, &run);
        let timeline = Timeline::of_run(e, &run, &broken, false);
        let schedule = run.report.as_ref().ok().and_then(|r| {
            r.summary
                .as_ref()
                .and_then(|s| s.schedule.clone())
                .or_else(|| r.deadlock.as_ref()?.schedule.clone())
        });
        let mut heading = shown.heading;
        if !mode.replays_exactly() {
            heading.push_str(&format!(
                ", replayed in {} mode, which does not fix the interleaving: another run \
                 with the same parameters",
                mode.name()
            ));
        }
        out.push(Picture {
            heading,
            timeline,
            replay: shown.replay,
            schedule,
        });
    }
    runner::close_slot();
    out
}

/// The session's page: a line per exercise, then the pictures.
pub fn page(session: &Session, pictures: &[Picture]) -> String {
    let mut intro = vec![format!(
        "{} runs per exercise, seed {}; {} of {} exercises passed.",
        session.runs,
        session.seed,
        session.passed_count(),
        session.exercises.len()
    )];
    for e in &session.exercises {
        let status = match e.status {
            ExerciseStatus::Passed => "passed".to_string(),
            _ => format!(
                "failed: {}",
                e.headline.as_deref().unwrap_or("see the report")
            ),
        };
        intro.push(format!("{:02} {}: {status}", e.number, e.slug));
    }
    if pictures.is_empty() {
        intro.push("No run failed: nothing to draw.".into());
    }
    let sections: Vec<Section> = pictures
        .iter()
        .map(|p| Section {
            heading: p.heading.clone(),
            timeline: &p.timeline,
            replay: p.replay.clone(),
            schedule: p.schedule.clone(),
        })
        .collect();
    html_page(
        &format!("Grading session, seed {}", session.seed),
        &intro,
        &sections,
    )
}

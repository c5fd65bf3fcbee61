//! A whole grading session as one HTML page: each exercise's verdict, and
//! a picture of the first failing run of each exercise that failed.
//!
//! A session keeps verdicts, not traces (two hundred traces per exercise
//! would be most of its memory), so the pictures come from replaying each
//! exercise's first failing run by its seed. Under the controlled
//! scheduler the seed fixes the interleaving, so the replay is that very
//! run; in the free and perturb modes it is another run with the same
//! parameters, and the page says so.

use std::time::Duration;

use super::html::{page as html_page, Section};
use super::{broken, Timeline};
use crate::catalog;
use crate::course::Course;
use crate::grade::{Options, Workbench};
use crate::judge::verdict::{ExerciseStatus, Session};
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

/// Replays the first failing run of each exercise that failed.
pub fn replays(course: &Course, opts: &Options, session: &Session) -> Vec<Picture> {
    let failed: Vec<(&'static catalog::Exercise, usize, u64)> = session
        .exercises
        .iter()
        .filter(|r| r.status == ExerciseStatus::Failed)
        .filter_map(|r| {
            let run = r.failing_runs.first()?;
            Some((catalog::find(r.slug)?, run.run, run.seed))
        })
        .collect();
    if failed.is_empty() {
        return Vec::new();
    }
    let Ok(tmp) = crate::run::sweep::temp_dir() else {
        return Vec::new();
    };
    let exercises: Vec<&'static catalog::Exercise> = failed.iter().map(|f| f.0).collect();
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
    for ((e, index, seed), program) in failed.into_iter().zip(programs) {
        let Some(program) = program else { continue };
        let mode = opts.mode_for(e);
        let plan = Plan {
            exercise: e.slug.to_string(),
            program,
            demo: None,
            mode,
            sched_override: None,
            base_seed: seed,
            time_scale: e.time_scale(mode, opts.time_scale),
            timeout: opts.timeout.max(Duration::from_secs(1)),
            params: e.params,
            bare: !opts.sandbox,
        };
        let run = runner::run_once(&plan, 0);
        let broken = broken(e, &run);
        let timeline = Timeline::of_run(e, &run, &broken, false);
        let schedule = run.report.as_ref().ok().and_then(|r| {
            r.summary
                .as_ref()
                .and_then(|s| s.schedule.clone())
                .or_else(|| r.deadlock.as_ref()?.schedule.clone())
        });
        let mut heading = format!("{:02} {}: run {index} (seed {seed})", e.number, e.slug);
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
            replay: opts.replay_command(e, seed, None),
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

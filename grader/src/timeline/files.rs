//! Writing a replayed run's pictures to the files the command line names.

use std::fmt::Write;
use std::path::Path;

use super::html::{page, Section, CLOSE_UP};
use super::{broken, svg, Timeline};
use crate::catalog::Source;
use crate::judge::run::RunData;
use crate::replay::Request;

/// The command that replays the run `req` asked for.
pub fn replay_command(req: &Request) -> String {
    let mut cmd = format!("cargo grade replay {}", req.exercise.slug);
    if let Some(seed) = req.seed {
        let _ = write!(cmd, " --seed {seed}");
    }
    if let Some(s) = &req.schedule {
        let _ = write!(cmd, " --schedule {s}");
    }
    if let Some(d) = &req.demo {
        let _ = write!(cmd, " --demo {d}");
    }
    match &req.source {
        Source::Exercises => {}
        Source::Solutions => cmd.push_str(" --solutions"),
        Source::Workspace(p) => {
            let _ = write!(cmd, " --workspace {}", p.display());
        }
    }
    cmd
}

/// A run's title: what ran, and which run (`locked-bank --demo
/// unlocked, seed 5`). Names no path, so a lesson's picture is the same
/// on every machine.
fn title(req: &Request) -> String {
    let mut t = req.exercise.slug.to_string();
    if let Some(d) = &req.demo {
        let _ = write!(t, " --demo {d}");
    }
    match &req.source {
        Source::Solutions if req.demo.is_none() => t.push_str(" (solution)"),
        Source::Workspace(p) => {
            if let Some(name) = p.file_name() {
                let _ = write!(t, " (as submitted in {})", name.to_string_lossy());
            }
        }
        _ => {}
    }
    match (req.seed, &req.schedule) {
        (Some(seed), None) => {
            let _ = write!(t, ", seed {seed}");
        }
        (seed, Some(_)) => {
            t.push_str(", a given schedule");
            if let Some(seed) = seed {
                let _ = write!(t, ", scenario seed {seed}");
            }
        }
        (None, None) => {}
    }
    t
}

/// Draws the replayed `run` into the files `req` names; returns the lines
/// that tell where they are (or why one could not be written).
pub fn write_replay(req: &Request, run: &RunData) -> String {
    let broken = broken(req.exercise, run);
    let t = Timeline::of_run(req.exercise, run, &broken, req.internal);
    let title = title(req);
    let schedule = run.report.as_ref().ok().and_then(|r| {
        r.summary
            .as_ref()
            .and_then(|s| s.schedule.clone())
            .or_else(|| r.deadlock.as_ref()?.schedule.clone())
    });
    let mut out = String::from("\n");
    if let Some(path) = &req.pictures.html {
        let html = page(
            &format!("{title}: the interleaving"),
            &[format!("Ended: {}.", run.ending_phrase())],
            &[Section {
                heading: title.clone(),
                timeline: &t,
                replay: Some(replay_command(req)),
                schedule,
            }],
        );
        out.push_str(&written("Picture", path, &html));
    }
    if let Some(path) = &req.pictures.svg {
        let picture = svg::render(&t, t.focus(CLOSE_UP), &title);
        out.push_str(&written("Picture (SVG)", path, &picture));
    }
    out
}

/// Writes `text` to `path`, and says so (or why not).
pub fn written(what: &str, path: &Path, text: &str) -> String {
    match std::fs::write(path, text) {
        Ok(()) => format!("{what}: {}\n", path.display()),
        Err(e) => format!("{what}: cannot write {}: {e}\n", path.display()),
    }
}

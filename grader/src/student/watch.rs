//! `grader watch [EX]`: grades the exercise again on every save.
//!
//! The file is watched through the operating system's notifications
//! (`notify`, as rustlings does), so nothing is polled and a save is seen
//! at once. Each grading starts with a few quick runs, so that a plain
//! mistake shows in a second or two; only if they pass do the full runs
//! follow, with a fresh seed each time (each save explores other
//! interleavings). The screen is cleared first, so what is on it is
//! always the verdict of the file as saved last. Ctrl-C leaves.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::status;
use crate::catalog::{Exercise, Source, EXERCISES};
use crate::cli::WatchArgs;
use crate::course::Course;
use crate::grade::{self, Event};
use crate::judge::verdict::{ExerciseStatus, Session};
use crate::report::human;
use crate::report::term::{self, Paint};
use crate::run::interrupt;

/// Runs of the quick check before the full grading.
const QUICK_RUNS: u64 = 20;
/// How long a file must be quiet before it is graded: an editor's save
/// can be several writes (a temporary file, a rename, the metadata).
const SETTLE: Duration = Duration::from_millis(150);
/// How often the wait looks at Ctrl-C.
const TICK: Duration = Duration::from_millis(50);

/// A watch on one file, through its directory (editors save by writing
/// a new file and renaming it over the old one, which a watch on the
/// file itself would lose).
pub struct FileWatch {
    _watcher: RecommendedWatcher,
    events: Receiver<()>,
}

/// What ended a wait.
#[derive(Debug, PartialEq, Eq)]
pub enum Woken {
    /// The file was written.
    Saved,
    /// `stop` said so.
    Stopped,
    /// The watch itself ended.
    Lost,
}

impl FileWatch {
    /// Watches `file`.
    pub fn new(file: &Path) -> notify::Result<FileWatch> {
        let name = file.file_name().map(|n| n.to_os_string());
        let dir = file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let (tx, events) = mpsc::channel();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else { return };
                let ours = event
                    .paths
                    .iter()
                    .any(|p| p.file_name().map(|n| n.to_os_string()) == name);
                if ours && is_write(&event.kind) {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        Ok(FileWatch {
            _watcher: watcher,
            events,
        })
    }

    /// Waits for the file to be saved and then quiet, or for `stop`.
    pub fn wait(&self, stop: impl Fn() -> bool) -> Woken {
        loop {
            if stop() {
                return Woken::Stopped;
            }
            match self.events.recv_timeout(TICK) {
                Ok(()) => break,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Woken::Lost,
            }
        }
        // The rest of the save.
        while self.events.recv_timeout(SETTLE).is_ok() {}
        Woken::Saved
    }

    /// Forgets the saves seen so far (those made while grading are graded
    /// by the next round all the same: this only drops their echoes).
    fn drain(&self) {
        while self.events.try_recv().is_ok() {}
    }
}

/// Whether an event changes the file's contents. Reads are not (the
/// grader reads the file to grade it: that must not wake the watch), nor
/// are changes of metadata alone (reading it updates its access time).
fn is_write(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

/// Clears the terminal (not a pipe or a file: a log keeps every round).
fn clear_screen() {
    if term::stdout_is_terminal() {
        print!("\x1b[2J\x1b[3J\x1b[H");
    }
}

/// `grader watch [EX]`.
pub fn watch_command(course: &Course, args: &WatchArgs) -> ExitCode {
    let e = match &args.exercise {
        Some(name) => match super::find(name) {
            Ok(e) => e,
            Err(msg) => {
                eprintln!("grader: {msg}");
                return ExitCode::from(crate::EXIT_USAGE);
            }
        },
        None => status::first_not_passing(course),
    };
    let file = status::student_file(course, e);
    let shown = format!("exercises/{}/{}", e.dir, crate::build::stage::STUDENT_FILE);
    let watch = match FileWatch::new(&file) {
        Ok(w) => w,
        Err(err) => {
            eprintln!("grader: cannot watch {shown}: {err}");
            return ExitCode::from(crate::EXIT_FAILED);
        }
    };
    let paint = Paint::new(term::stdout_color()).with_width(term::width());
    loop {
        clear_screen();
        watch.drain();
        if !round(course, args, e, paint) {
            break;
        }
        println!(
            "\n{}",
            paint.dim(&format!(
                "Watching {shown}: save it to grade again · `cargo grade hint {}` for a hint · Ctrl-C to leave",
                e.number
            ))
        );
        flush();
        match watch.wait(interrupt::interrupted) {
            Woken::Saved => continue,
            Woken::Stopped => break,
            Woken::Lost => {
                eprintln!("grader: the watch on {shown} ended");
                return ExitCode::from(crate::EXIT_FAILED);
            }
        }
    }
    println!("\nStopped watching {shown}.");
    ExitCode::from(crate::EXIT_PASSED)
}

fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// The options of one grading of `e` in `runs` runs.
fn options(args: &WatchArgs, e: &'static Exercise, runs: u64, seed: u64) -> grade::Options {
    let source = crate::cli::SourceArgs {
        solutions: false,
        workspace: None,
    };
    grade::Options {
        source: Source::Exercises,
        exercises: vec![e],
        unknown: Vec::new(),
        runs: runs as usize,
        seed,
        jobs: grade::cpus(),
        timeout: Duration::from_secs_f64(args.run.timeout),
        mode: args.run.mode,
        bound: args.run.bound,
        reduce: !args.run.no_reduction,
        time_scale: args.run.time_scale,
        progress: term::progress_wanted(),
        build_timeout: Duration::from_secs_f64(args.run.build_timeout),
        stage: crate::stage_name(&source, &args.run),
        boundary: !args.run.no_language_boundary,
        sandbox: !args.run.no_sandbox,
        only: Vec::new(),
        demo: None,
    }
}

/// Grades `e` once: the quick runs, then, if they pass, the full runs.
/// Returns false once interrupted.
fn round(course: &Course, args: &WatchArgs, e: &'static Exercise, p: Paint) -> bool {
    let seed = crate::fresh_seed();
    let quick = QUICK_RUNS.min(args.runs);
    let stamp = status::file_stamp(course, e);
    println!(
        "{}",
        p.bold(&format!(
            "{:02} {}: {quick} quick runs, seed {seed}",
            e.number, e.slug
        ))
    );
    flush();
    let first = grade_and_show(course, &options(args, e, quick, seed), p, false);
    if first.interrupted {
        return false;
    }
    let mut last = first;
    if last.passed && args.runs > quick {
        println!(
            "{} {quick} quick runs passed; now all {} (seed {seed})",
            p.green("✓"),
            args.runs
        );
        flush();
        last = grade_and_show(course, &options(args, e, args.runs, seed), p, true);
        if last.interrupted {
            return false;
        }
    } else if last.passed {
        print!("{}", human::exercise(&last.exercises[0], p));
    }
    for r in &last.exercises {
        status::save(course, r, last.seed, stamp);
    }
    closing(course, e, &last, p);
    true
}

/// Grades, printing the exercise's verdict when it is in (always for the
/// full runs; for the quick ones only if they failed).
fn grade_and_show(course: &Course, opts: &grade::Options, p: Paint, always: bool) -> Session {
    grade::grade_with(course, opts, &mut |event| match event {
        Event::Building { exercise, first } if first && !opts.progress => {
            println!(
                "building the course's crates, then {} (the first build takes a few minutes)",
                exercise.slug
            );
            flush();
        }
        Event::Building { .. } => {}
        Event::Done(r) => {
            if always || r.status != ExerciseStatus::Passed {
                print!("{}", human::exercise(r, p));
                flush();
            }
        }
    })
}

/// What to do next.
fn closing(course: &Course, e: &Exercise, s: &Session, p: Paint) {
    if s.passed {
        let next = EXERCISES
            .iter()
            .filter(|x| x.number > e.number)
            .find(|x| status::status(course, x).standing != status::Standing::Passing);
        let then = match next {
            Some(n) => format!(" Next: `cargo grade watch {}` ({}).", n.number, n.slug),
            None => String::new(),
        };
        println!("\n{} {} passes.{then}", p.green("✓"), e.slug);
    } else {
        println!(
            "\n{} {} does not pass yet: fix it and save.",
            p.red("✗"),
            e.slug
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_save_wakes_the_watch_and_a_read_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lib.rs");
        std::fs::write(&file, "a").unwrap();
        let watch = FileWatch::new(&file).unwrap();
        // A read (and its change of access time) is no save.
        let _ = std::fs::read(&file).unwrap();
        let ticks = std::sync::atomic::AtomicUsize::new(0);
        let woken = watch.wait(|| ticks.fetch_add(1, Ordering::Relaxed) > 10);
        assert_eq!(woken, Woken::Stopped);
        // A save, as an editor makes it: a new file renamed over the old.
        std::fs::write(dir.path().join(".lib.rs.swp"), "b").unwrap();
        std::fs::rename(dir.path().join(".lib.rs.swp"), &file).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let late = || std::time::Instant::now() > deadline;
        assert_eq!(watch.wait(late), Woken::Saved);
        // And a plain write.
        std::fs::write(&file, "c").unwrap();
        assert_eq!(watch.wait(late), Woken::Saved);
    }
}

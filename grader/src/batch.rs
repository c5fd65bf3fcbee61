//! `grader batch DIR`: a whole class at once.
//!
//! Every subdirectory of DIR is one student's submission (a checkout of
//! the course, or just its `exercises/` folder), named by the
//! subdirectory. Each is graded as `grader --workspace` would grade it:
//! staged into a pristine copy of the course, built under a supervisor,
//! run, judged. The batch writes, into its output directory:
//!
//! - `class.csv`: one row per student, the score of each exercise (as in
//!   Gradescope: 20 points each, shared among its invariants), the total,
//!   and a note on what failed;
//! - `STUDENT/results.json`: the student's Gradescope results;
//! - `STUDENT/report.txt`: the student's report, as `cargo grade` prints it.
//!
//! Submissions are graded `--jobs` at a time, each job with its staged
//! copy of its own (`batch-1`, `batch-2`, ...) that it reuses from one
//! student to the next, so that a build recompiles only what the student
//! changed. The copies are made once, from one that is built. Within one
//! submission the runs are one at a time: the parallelism is between
//! students.
//!
//! Nothing one submission does stops the batch: its failures are its
//! verdicts, and should grading it fail in the grader itself, its row says
//! so and the batch goes on. Nothing a submission runs can reach another
//! student's files or runs, or the output: every job grades in boxes of
//! its own (see `run::sandbox`), and the results are kept in memory and
//! written at the end, each file whole (written beside, then renamed),
//! the class table last, once nothing of any submission is running.
//!
//! A class too large for one machine is graded in parts (`--shard K/N`,
//! see [`shard`]), each part's output joined by `grader merge`.

use std::fs;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::build::stage::{self, DEFAULT_STAGE};
use crate::catalog::{Exercise, Source};
use crate::course::Course;
use crate::grade;
use crate::judge::verdict::{ExerciseStatus, Session};
use crate::mode::ModeKind;
use crate::report::gradescope::{self, POINTS_PER_EXERCISE};
use crate::report::human;
use crate::report::term::Paint;
use crate::run::interrupt;

pub mod shard;
pub mod table;

use shard::{Manifest, Settings};
use table::Table;

/// The class table's file name in the output directory.
pub const CLASS_TABLE: &str = "class.csv";

/// What to grade, and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// The class: one subdirectory per submission.
    pub class: PathBuf,
    /// Where the class table and each student's results go.
    pub output: PathBuf,
    /// The exercises to grade.
    pub exercises: Vec<&'static Exercise>,
    /// Runs per exercise.
    pub runs: usize,
    /// The seed of run 0 (the same for every student).
    pub seed: u64,
    /// Submissions graded at once.
    pub jobs: usize,
    /// Each run's deadline.
    pub timeout: Duration,
    /// A mode for every exercise instead of each one's default.
    pub mode: Option<ModeKind>,
    /// The most preemptions the exhaustive search tries.
    pub bound: u32,
    /// The factor pauses are scaled by, if given.
    pub time_scale: Option<f64>,
    /// Each exercise build's deadline.
    pub build_timeout: Duration,
    /// Grade only this part (K of N, 1-based) of the class.
    pub shard: Option<(usize, usize)>,
}

impl Options {
    /// The settings every part of a sharded class must share.
    fn settings(&self) -> Settings {
        Settings {
            exercises: columns(&self.exercises),
            runs: self.runs,
            seed: self.seed,
            mode: self.mode.map(|m| m.name().to_string()),
            bound: Some(self.bound),
            timeout_secs: self.timeout.as_secs_f64(),
            time_scale: self.time_scale,
        }
    }
}

/// One student's line of the class table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The submission's directory name.
    pub student: String,
    /// Each exercise's score, in the order of [`Options::exercises`];
    /// `None` when it was not graded, or not to its end (interrupted).
    pub scores: Vec<Option<f64>>,
    /// The sum of the scores.
    pub total: f64,
    /// How many exercises passed.
    pub passed: usize,
    /// What went wrong, in a few words; empty when nothing did.
    pub notes: String,
    /// Whether grading this submission failed in the grader itself.
    pub grader_failed: bool,
}

/// The whole batch.
#[derive(Debug)]
pub struct Outcome {
    /// Every student graded, in name order.
    pub rows: Vec<Row>,
    /// Students not graded because the batch was interrupted.
    pub not_graded: Vec<String>,
    /// Whether the batch was interrupted.
    pub interrupted: bool,
    /// Wall time.
    pub elapsed: Duration,
}

/// The submissions in `class`: its subdirectories (not hidden, not
/// symbolic links, not the output directory), by name.
pub fn students(class: &Path, output: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let output = fs::canonicalize(output).ok();
    let mut found = Vec::new();
    for entry in fs::read_dir(class)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        if output.is_some() && fs::canonicalize(&path).ok() == output {
            continue;
        }
        found.push((name, std::path::absolute(&path).unwrap_or(path)));
    }
    found.sort();
    Ok(found)
}

/// The students of `class` that part `shard` grades (all of them when
/// the class is not split).
pub fn in_part(
    class: &[(String, PathBuf)],
    shard: Option<(usize, usize)>,
) -> Vec<(String, PathBuf)> {
    class
        .iter()
        .filter(|(name, _)| shard.is_none_or(|(k, n)| shard::part_of(name, n) == k))
        .cloned()
        .collect()
}

/// The staged copy of job `k` (1-based).
fn slot_name(k: usize) -> String {
    format!("batch-{k}")
}

/// Makes sure every job's staged copy exists and is built, building one
/// and copying it when none is.
fn prepare_slots(course: &Course, slots: usize) -> Result<(), String> {
    let first = slot_name(1);
    if !stage::is_built(course, &first) {
        stage::seed(course, &first, &[DEFAULT_STAGE]).map_err(|e| e.to_string())?;
    }
    if !stage::is_built(course, &first) {
        grade::warm(course, &first)?;
    }
    for k in 2..=slots {
        stage::seed(course, &slot_name(k), &[&first, DEFAULT_STAGE]).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Grades every submission in `opts.class`; `each(row)` is called as each
/// one is done (on the calling thread).
pub fn run(course: &Course, opts: &Options, mut each: impl FnMut(&Row)) -> io::Result<Outcome> {
    let started = Instant::now();
    let class = students(&opts.class, &opts.output)?;
    let students = in_part(&class, opts.shard);
    fs::create_dir_all(&opts.output)?;
    let slots = opts.jobs.clamp(1, students.len().max(1));
    // A part with nobody in it (a small class in many parts) builds
    // nothing, and still writes its table and manifest, for `merge`.
    if !students.is_empty() {
        if let Err(e) = prepare_slots(course, slots) {
            eprintln!("grader: warning: the staged copies could not be prepared ({e}); each job builds its own");
        }
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, (Row, Vec<(PathBuf, String)>))>();
    let mut rows: Vec<Option<Row>> = vec![None; students.len()];
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    std::thread::scope(|scope| {
        for k in 1..=slots {
            let tx = tx.clone();
            let (next, students) = (&next, &students);
            scope.spawn(move || loop {
                if interrupt::interrupted() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, path)) = students.get(i) else {
                    break;
                };
                let row = grade_one(course, opts, &slot_name(k), name, path);
                if tx.send((i, row)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, (row, written)) in rx {
            each(&row);
            rows[i] = Some(row);
            files.extend(written);
        }
    });
    let mut graded = Vec::new();
    let mut not_graded = Vec::new();
    for ((name, _), row) in students.iter().zip(rows) {
        match row {
            Some(r) => graded.push(r),
            None => not_graded.push(name.clone()),
        }
    }
    let outcome = Outcome {
        rows: graded,
        not_graded,
        interrupted: interrupt::interrupted(),
        elapsed: started.elapsed(),
    };
    for (path, text) in &files {
        write_whole(path, text)?;
    }
    if let Some((part, parts)) = opts.shard {
        let manifest = Manifest {
            part,
            parts,
            class: class.iter().map(|(name, _)| name.clone()).collect(),
            graded: outcome.rows.iter().map(|r| r.student.clone()).collect(),
            not_graded: outcome.not_graded.clone(),
            grader_failed: outcome
                .rows
                .iter()
                .filter(|r| r.grader_failed)
                .map(|r| r.student.clone())
                .collect(),
            settings: opts.settings(),
        };
        write_whole(&opts.output.join(shard::MANIFEST), &manifest.to_text())?;
    }
    write_whole(
        &opts.output.join(CLASS_TABLE),
        &class_table(&opts.exercises, &outcome).to_csv(),
    )?;
    Ok(outcome)
}

/// Writes a file whole: beside it first, then renamed over it, so that a
/// reader never sees half of it.
pub fn write_whole(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    fs::write(&partial, text)?;
    fs::rename(&partial, path)
}

/// Checks that results can be written to `dir` (made if missing), before
/// any grading: a typo must not cost a whole class's grading.
pub fn check_output(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".grader-probe-{}", std::process::id()));
    fs::write(&probe, "")?;
    fs::remove_file(&probe)
}

/// Grades one submission in the staged copy `slot`; returns its row and
/// its files (results.json and report.txt), to be written at the end;
/// never panics.
fn grade_one(
    course: &Course,
    opts: &Options,
    slot: &str,
    name: &str,
    path: &Path,
) -> (Row, Vec<(PathBuf, String)>) {
    let grade_opts = grade::Options {
        source: Source::Workspace(path.to_path_buf()),
        exercises: opts.exercises.clone(),
        unknown: Vec::new(),
        runs: opts.runs,
        seed: opts.seed,
        jobs: 1,
        timeout: opts.timeout,
        mode: opts.mode,
        bound: opts.bound,
        reduce: true,
        time_scale: opts.time_scale,
        progress: false,
        build_timeout: opts.build_timeout,
        stage: slot.to_string(),
        boundary: true,
        sandbox: true,
        only: Vec::new(),
        demo: None,
    };
    let graded = panic::catch_unwind(AssertUnwindSafe(|| grade::grade(course, &grade_opts)));
    let dir = opts.output.join(name);
    match graded {
        Ok(session) => {
            let row = row_of(name, &opts.exercises, &session);
            let files = vec![
                (dir.join("results.json"), gradescope::render(&session)),
                (
                    dir.join("report.txt"),
                    human::render(&session, Paint::new(false)),
                ),
            ];
            (row, files)
        }
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown error".into());
            let note = format!("the grader failed on this submission: {why}");
            let results = serde_json::json!({
                "score": 0.0,
                "output": format!("{note}. Please tell your instructor."),
                "tests": [],
            });
            let row = Row {
                student: name.to_string(),
                scores: vec![None; opts.exercises.len()],
                total: 0.0,
                passed: 0,
                notes: note,
                grader_failed: true,
            };
            (
                row,
                vec![(dir.join("results.json"), format!("{results:#}\n"))],
            )
        }
    }
}

/// A student's row, from their session.
pub fn row_of(name: &str, exercises: &[&'static Exercise], s: &Session) -> Row {
    let mut notes = Vec::new();
    if s.interrupted {
        notes.push("interrupted: an exercise cut short scores 0".to_string());
    }
    notes.extend(s.errors.iter().cloned());
    let scores: Vec<Option<f64>> = exercises
        .iter()
        .map(|e| {
            let r = s.exercises.iter().find(|r| r.number == e.number)?;
            if r.status != ExerciseStatus::Passed {
                let what = r.headline.as_deref().unwrap_or("failed");
                notes.push(format!(
                    "{:02} {}",
                    r.number,
                    crate::report::wrap::first_line(what, 140)
                ));
            }
            // An exercise whose runs were cut short scores 0 (see
            // `gradescope::exercise_score`).
            Some(gradescope::exercise_score(r))
        })
        .collect();
    let notes: Vec<String> = {
        let mut seen = Vec::new();
        for n in notes {
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        seen
    };
    Row {
        student: name.to_string(),
        total: round(scores.iter().flatten().sum()),
        scores,
        passed: s.passed_count(),
        notes: notes.join(" | "),
        grader_failed: false,
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A score as the table shows it: "20", "13.33", "0".
pub fn score_text(x: f64) -> String {
    let s = format!("{:.2}", round(x));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The class table's exercise columns: `01 sequential-bank`, as in
/// Gradescope.
fn columns(exercises: &[&'static Exercise]) -> Vec<String> {
    exercises
        .iter()
        .map(|e| format!("{:02} {}", e.number, e.slug))
        .collect()
}

/// The class table: a header, then one line per student graded, then the
/// students not graded.
pub fn class_table(exercises: &[&'static Exercise], outcome: &Outcome) -> Table {
    let mut header = vec!["student".to_string()];
    header.extend(columns(exercises));
    header.extend(["total", "max", "notes"].map(String::from));
    let max = score_text(POINTS_PER_EXERCISE * exercises.len() as f64);
    let mut rows = Vec::new();
    for row in &outcome.rows {
        let mut cells = vec![row.student.clone()];
        cells.extend(
            row.scores
                .iter()
                .map(|s| s.map(score_text).unwrap_or_default()),
        );
        cells.push(score_text(row.total));
        cells.push(max.clone());
        cells.push(row.notes.clone());
        rows.push(cells);
    }
    for name in &outcome.not_graded {
        let mut cells = vec![name.clone()];
        cells.extend(exercises.iter().map(|_| String::new()));
        cells.extend([
            String::new(),
            max.clone(),
            "not graded (interrupted)".into(),
        ]);
        rows.push(cells);
    }
    Table { header, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_read_as_plain_numbers() {
        assert_eq!(score_text(20.0), "20");
        assert_eq!(score_text(13.333333), "13.33");
        assert_eq!(score_text(0.0), "0");
        assert_eq!(score_text(2.5), "2.5");
    }

    #[test]
    fn the_parts_of_a_class_share_it_out_exactly() {
        let class: Vec<(String, PathBuf)> = (0..50)
            .map(|i| {
                (
                    format!("student{i}"),
                    PathBuf::from(format!("/class/student{i}")),
                )
            })
            .collect();
        assert_eq!(in_part(&class, None), class);
        let mut seen: Vec<(String, PathBuf)> = (1..=3)
            .flat_map(|k| in_part(&class, Some((k, 3))))
            .collect();
        seen.sort();
        let mut all = class.clone();
        all.sort();
        assert_eq!(seen, all, "every student in exactly one part");
    }

    #[test]
    fn students_are_the_visible_subdirectories_but_the_output() {
        let class = tempfile::tempdir().unwrap();
        for d in ["bob", "alice", ".git", "grades"] {
            fs::create_dir(class.path().join(d)).unwrap();
        }
        fs::write(class.path().join("roster.txt"), "").unwrap();
        let found = students(class.path(), &class.path().join("grades")).unwrap();
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
    }
}

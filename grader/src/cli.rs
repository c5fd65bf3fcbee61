//! The command line.
//!
//! `grader [EXERCISE...]` grades (all exercises by default); `grader list`
//! and `grader replay` are subcommands. The hidden `__supervise` entry of
//! the run supervisor is dispatched in `main` before this parser runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::catalog::Source;
use crate::mode::ModeKind;
use crate::report::Format;

/// Grades the course's exercises on inter-process locking: each program is
/// run many times as real processes, and every run is checked against the
/// exercise's invariants.
#[derive(Debug, Parser)]
#[command(
    name = "grader",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  \
        cargo grade                       grade every exercise in exercises/\n  \
        cargo grade locked-bank           grade one exercise (or: cargo grade 3)\n  \
        cargo grade --solutions           grade the reference solutions\n  \
        cargo grade --workspace ../alice  grade a student's checkout\n  \
        cargo grade replay locked-bank --seed 1237\n  \
        cargo grade batch class/ --output grades/\n\n\
        Exit status: 0 if every exercise passed, 1 if some failed, 2 on a usage error,\n\
        130 if interrupted (Ctrl-C; the results of the runs that finished are reported)."
)]
pub struct Cli {
    /// A subcommand; without one, grade.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// What to grade, and how.
    #[command(flatten)]
    pub grade: GradeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the exercises, their lessons' titles and where you stand on
    /// each (not started, failing, passing).
    List,
    /// Re-run one run of an exercise and show its interleaving.
    Replay(ReplayArgs),
    /// Grade an exercise again every time you save its file.
    Watch(WatchArgs),
    /// Show the next hint for an exercise (one more each time).
    Hint(ExerciseArg),
    /// Put an exercise's file back as it was given (asks first).
    Reset(ResetArgs),
    /// Grade a whole class: every submission in a directory.
    Batch(BatchArgs),
    /// Join the outputs of a batch graded in parts (`batch --shard`).
    Merge(MergeArgs),
    /// Write the course as students get it: without solutions, test
    /// fixtures, or the solutions' mentions in the lessons.
    ExportStudent(ExportArgs),
}

/// One exercise, by name or number.
#[derive(Debug, Args)]
pub struct ExerciseArg {
    /// The exercise, by name (locked-bank) or number (3).
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,
}

/// The watch options.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The exercise to watch; default: the first one not passing yet.
    #[arg(value_name = "EXERCISE")]
    pub exercise: Option<String>,
    /// How each run is made.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The reset options.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The exercise to reset.
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// The merge options.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The output directories of the parts (`batch --shard K/N --output`).
    #[arg(value_name = "PART", required = true)]
    pub parts: Vec<PathBuf>,
    /// Where to write the joined class table and per-student files.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
}

/// The export options.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The directory to write the student edition into (must not exist,
    /// or be empty).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Where the programs come from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Grade the reference solutions in solutions/ instead of exercises/.
    #[arg(long, conflicts_with = "workspace")]
    pub solutions: bool,
    /// Grade another checkout of the course, such as a student's
    /// submission. Only each exercise's src/lib.rs is taken from it; it is
    /// built inside a pristine copy of this course, and anything else it
    /// brings is ignored and listed.
    #[arg(long, value_name = "PATH")]
    pub workspace: Option<PathBuf>,
}

impl SourceArgs {
    /// The source these flags name.
    pub fn source(&self) -> Source {
        match (&self.workspace, self.solutions) {
            (Some(p), _) => Source::Workspace(std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            (None, true) => Source::Solutions,
            (None, false) => Source::Exercises,
        }
    }
}

/// How each run is made.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scheduling mode for every exercise. By default each exercise
    /// uses the mode whose verdicts can be trusted: free for the
    /// one-process bank, controlled for the others (a race left to the
    /// operating system shows in too few runs to grade on).
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<ModeKind>,
    /// Deadline of each run, in seconds. A run still going then is killed
    /// with its whole process tree and counted as a hang.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = positive_seconds)]
    pub timeout: f64,
    /// The factor the programs' pauses are scaled by (the lessons pause
    /// 10 ms per step; 0 turns pauses into yields). Default: 0.01 where
    /// pauses shape the interleaving (free and perturb modes, with more
    /// than one process), 0 elsewhere: under the controlled scheduler a
    /// pause is only a scheduling point, and one process has nobody to
    /// interleave with.
    #[arg(long, value_name = "FACTOR", value_parser = scale)]
    pub time_scale: Option<f64>,
    /// Deadline of each exercise's build, in seconds (the course's own
    /// crates are built first, with a deadline of their own). A build runs
    /// under the same kind of limits as a run; one that exceeds them fails
    /// its exercise, saying which.
    #[arg(long, value_name = "SECS", default_value_t = 300.0, value_parser = positive_seconds)]
    pub build_timeout: f64,
    /// Grade without the language boundary (no check of the student's
    /// file, `unsafe` allowed): the course's tests switch it off to show
    /// that the other layers hold alone. Never for grading.
    #[arg(long, hide = true)]
    pub no_language_boundary: bool,
    /// Grade without the OS sandbox, for the same tests. Never for grading.
    #[arg(long, hide = true)]
    pub no_sandbox: bool,
}

/// The grading options.
#[derive(Debug, Args)]
pub struct GradeArgs {
    /// Exercises to grade, by name (locked-bank) or number (3).
    /// Default: all of them.
    #[arg(value_name = "EXERCISE")]
    pub exercises: Vec<String>,
    /// Where the programs come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Runs per exercise. The default, 200, catches a bug that shows in one
    /// run out of 50 in 98% of sessions (1 − 0.98^200), and grades the
    /// whole course in seconds.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub runs: u64,
    /// Seed of the first run; run i uses SEED + i, for the scheduler and
    /// the scenario. Default: a fresh seed, printed in the report.
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// Runs at once. Default: the number of CPUs.
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
    /// How each run is made.
    #[command(flatten)]
    pub run: RunArgs,
    /// The report's format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// The batch options.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes OUTPUT/class.csv (student, the score of each exercise, total, \
    notes) and, for each student, OUTPUT/STUDENT/results.json (Gradescope) and \
    OUTPUT/STUDENT/report.txt.\n\n\
    Exit status: 0 once every submission is graded (whatever its score), 1 if the grader \
    failed on some submission, 2 on a usage error, 130 if interrupted (the table then \
    holds the students graded so far)."
)]
pub struct BatchArgs {
    /// The class: a directory with one subdirectory per student, each a
    /// checkout of the course or just its exercises/ folder.
    #[arg(value_name = "DIR")]
    pub class: PathBuf,
    /// Exercises to grade, by name or number. Default: all of them.
    #[arg(value_name = "EXERCISE")]
    pub exercises: Vec<String>,
    /// Where to write the class table and each student's results.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// Runs per exercise, for every student.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub runs: u64,
    /// Seed of the first run, the same for every student. Default: a
    /// fresh seed, printed.
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// Grade only the K-th of N parts of the class (1-based), split by
    /// student name, the same way on every machine; join the parts'
    /// outputs with `grader merge`.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    pub shard: Option<(usize, usize)>,
    /// Submissions graded at once, each in its own staged copy of the
    /// course. Default: the number of CPUs.
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub jobs: Option<u64>,
    /// How each run is made.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The replay options.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The exercise, by name or number.
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,
    /// The seed of the run to replay, as a failure's "replay" line gives it.
    #[arg(long, value_name = "SEED", required_unless_present = "schedule")]
    pub seed: Option<u64>,
    /// Follow this schedule (the scheduler's choices, as the JSON report
    /// gives them for a failing run) instead of a seed's choices.
    #[arg(long, value_name = "SCHEDULE")]
    pub schedule: Option<String>,
    /// Where the program comes from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// How the run is made.
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the whole trace, however long.
    #[arg(long)]
    pub full: bool,
}

fn shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{s}` is not K/N with 1 <= K <= N");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds between 0 and 86400"
        )),
    }
}

fn scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a factor between 0 and 100")),
    }
}

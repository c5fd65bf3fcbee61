//! The command line.
//!
//! `grader [EXERCISE...]` grades (all exercises by default); `grader list`
//! and `grader replay` are subcommands. The hidden `__supervise` entry of
//! the run supervisor is dispatched in `main` before this parser runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::catalog::Source;
use crate::mode::ModeKind;
use crate::report::gradescope::Visibility;
use crate::report::term::ColorWhen;
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
        cargo grade watch 3               grade exercise 3 again on every save\n  \
        cargo grade hint 3                one more hint for exercise 3\n  \
        cargo grade list                  each exercise and where you stand on it\n  \
        cargo grade reset 3               put exercise 3's file back as it was given\n  \
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
    /// When to colour the output: auto (a terminal, unless NO_COLOR is
    /// set; CLICOLOR_FORCE forces it), always, never. With a subcommand,
    /// give it after the subcommand's name.
    #[arg(long, value_enum, value_name = "WHEN", global = true, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the exercises, their lessons' titles and where you stand on
    /// each (not started, failing, passing).
    List,
    /// Re-run one run of an exercise and show its interleaving.
    Replay(ReplayArgs),
    /// Be the scheduler: choose which process moves next, one step at a
    /// time, over the exercise's real processes.
    Play(PlayArgs),
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
#[command(
    after_help = "Each save is graded in two steps: a few quick runs first, so that a plain \
    mistake shows in a second or two, then, if they pass, the full number of runs, with a \
    fresh seed each time. The screen is cleared before each grading. Ctrl-C leaves.\n\n\
    Examples:\n  \
    cargo grade watch                 the first exercise not passing yet\n  \
    cargo grade watch locked-bank     that one (or: cargo grade watch 3)"
)]
pub struct WatchArgs {
    /// The exercise to watch; default: the first one not passing yet.
    #[arg(value_name = "EXERCISE")]
    pub exercise: Option<String>,
    /// Runs of the full grading that follows the quick runs.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub runs: u64,
    /// How each run is made.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The reset options.
#[derive(Debug, Args)]
#[command(
    after_help = "The file as given is exercises/NN-name/src/lib.rs as the commit that \
    added it to the course's git history has it. Before it replaces yours, your version is \
    kept in target/grader/reset/. Without git or that history (a zip, a shallow clone), \
    nothing is changed, and the message says how to get the file back."
)]
pub struct ResetArgs {
    /// The exercise to reset, by name (locked-bank) or number (3).
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// The merge options.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes DIR/class.csv (every part's rows, in name order) and each student's \
    files. Refuses, writing nothing, when a part is missing or given twice, when the parts \
    come from different splits or settings, when a part was interrupted, or when a student \
    was graded by no part or by two.\n\n\
    Exit status: 0 once joined, 1 if the grader had failed on some submission (its row says \
    so), 2 if refused."
)]
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
#[command(
    after_help = "Writes exercises/, multiproc/, report/, scenarios/, grader/ (without its \
    tests, benches and examples), .cargo/config.toml, README.md and the workspace's Cargo.toml \
    and Cargo.lock, without solutions/, tests/ and the solutions' mentions in the lessons and \
    the README. Lists what it left out.\n\n\
    Exit status: 0 once written, 2 if refused (a DIR that is not empty, an exercise's file \
    that is not its stub, an edition that does not load as a cargo workspace)."
)]
pub struct ExportArgs {
    /// The directory to write the student edition into (must not exist,
    /// or be empty).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The course to export, such as a `git archive` of a commit. Default:
    /// the course this grader belongs to.
    #[arg(long, value_name = "COURSE")]
    pub from: Option<PathBuf>,
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
    /// The most preemptions the exhaustive search tries: every schedule
    /// with none, then every one with one, and so on up to K, at each
    /// exercise's small sizes. A preemption is a switch to another
    /// process while the running one could have gone on.
    #[arg(long, value_name = "K", default_value_t = crate::grade::DEFAULT_BOUND, value_parser = clap::value_parser!(u32).range(0..=8))]
    pub bound: u32,
    /// Run every schedule of the exhaustive search, even those that reach
    /// a state already searched from (for measuring what skipping them
    /// saves; the verdicts are the same).
    #[arg(long)]
    pub no_reduction: bool,
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
    /// Judge only this invariant (its id, as the JSON report names it;
    /// repeatable). With --mode exhaustive the search then stops at the
    /// fewest preemptions that break it: `--invariant final-equals-start`
    /// finds the smallest lost update, however early the program breaks
    /// something else.
    #[arg(long = "invariant", value_name = "ID")]
    pub invariants: Vec<String>,
    /// Grade the lesson's buggy program of that name instead of the
    /// exercise's code, for one exercise (`grader 3 --demo unlocked`):
    /// what the lesson says goes wrong, found and shown as a student's
    /// failure would be.
    #[arg(long, value_name = "NAME")]
    pub demo: Option<String>,
    /// How each run is made.
    #[command(flatten)]
    pub run: RunArgs,
    /// The report's format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Human)]
    pub format: Format,
    /// Also write a page (self-contained HTML) with a picture of the
    /// failure each failing exercise shows first, as the report shows it
    /// (shrunk, or at a small size): one lane per process, the locks
    /// held, the waits and where it broke. The report ends with its path.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// With --format gradescope: when students see the results.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Visibility::Visible)]
    pub gradescope_visibility: Visibility,
}

/// The batch options.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes OUTPUT/class.csv (student, the score of each exercise, total, \
    notes) and, for each student, OUTPUT/STUDENT/results.json (Gradescope) and \
    OUTPUT/STUDENT/report.txt. With --shard, also OUTPUT/shard.json, which `grader merge` \
    reads.\n\n\
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
#[command(
    after_help = "Example: cargo grade replay locked-bank --seed 1237\n\n\
    --help explains the schedule string and the trace.",
    after_long_help = "Under the controlled scheduler (the default of exercises 2 to 5) a run is \
    fixed by its seed: the seed on a failure's \"replay\" line brings that very run back, and \
    the replay shows its interleaving, which process ran which operations, in order. In free \
    mode nothing fixes the interleaving, and a replay is only another run.\n\n\
    The schedule:\n  \
    The scheduler's choices in a run, one at each point where more than one process could \
    run, written as runs of the same choice joined by dots: each is a slot number, or \
    SLOTxCOUNT for COUNT choices of that slot in a row. Slot 0 is the program's main \
    process; 1, 2, ... are its children, in the order they were started. So 1x2.0.2 reads: \
    child 1 ran at two points in a row, then the main process, then child 2. A replay \
    prints the run's schedule at its end, and the JSON report gives it for each failure \
    (`failure.schedule`); --schedule follows one, choice by choice. \
    A schedule need not go to the end of the run: past its last choice, the scheduler never \
    preempts (the running process goes on until it blocks, pauses or ends; at a pause the next \
    process in turn runs). So a counterexample's schedule stops at its last preemption, and \
    --schedule '' is the schedule that never preempts.\n\n\
    The exhaustive search:\n  \
    With --mode exhaustive the grader runs every \
    schedule with at most K preemptions (--bound) at each exercise's small sizes. Its \
    counterexamples replay with --size N, the size's number, and --schedule.\n\n\
    The trace:\n  \
    One line per stretch that a process ran uninterrupted: the event number it starts at, \
    the process, and its operations. The runtime's own internal locks (the ones inside a \
    Value or a Queue) are left out: --internal shows them. Long traces are cut after 60 \
    lines: --full shows every line.\n\n\
    Examples:\n  \
    cargo grade replay locked-bank --seed 1237\n  \
    cargo grade replay 3 --seed 1237 --full\n  \
    cargo grade replay 3 --seed 1237 --schedule 1x2.0.2x3\n  \
    cargo grade replay 3 --size 1 --schedule 0x4.2"
)]
pub struct ReplayArgs {
    /// The exercise, by name (locked-bank) or number (3).
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,
    /// The seed of the run to replay, as a failure's "replay" line gives
    /// it. With --schedule, it still chooses the run's parameters.
    #[arg(long, value_name = "SEED", required_unless_present_any = ["schedule", "size"])]
    pub seed: Option<u64>,
    /// Replay a schedule of the exhaustive search, at its size N (a
    /// counterexample's "replay" line gives it): the size's parameters,
    /// and --schedule's choices (without it, the schedule that never
    /// preempts).
    #[arg(long, value_name = "N", conflicts_with = "seed", value_parser = clap::value_parser!(u64).range(1..=16))]
    pub size: Option<u64>,
    /// Follow this schedule instead of the seed's choices (see "The
    /// schedule" below).
    #[arg(long, value_name = "SCHEDULE")]
    pub schedule: Option<String>,
    /// Replay with the reference solutions in solutions/.
    #[arg(long, conflicts_with = "workspace")]
    pub solutions: bool,
    /// Replay with another checkout's exercises, such as a student's
    /// submission (taken as grading takes it).
    #[arg(long, value_name = "PATH")]
    pub workspace: Option<PathBuf>,
    /// How the run is made.
    #[command(flatten)]
    pub run: RunArgs,
    /// Print every line of the trace, however long (without it, the
    /// first 60).
    #[arg(long)]
    pub full: bool,
    /// Show the operations on the runtime's internal locks in the trace
    /// too (the locks inside a Value or a Queue): noise, unless you are
    /// studying the runtime.
    #[arg(long)]
    pub internal: bool,
    /// Run the lesson's buggy program of that name instead of the
    /// exercise's code (as `cargo run -p locked-bank -- --demo unlocked`).
    #[arg(long, value_name = "NAME")]
    pub demo: Option<String>,
    /// Also draw the run as a page: a self-contained HTML file with one
    /// lane per process, the locks held, the waits and where it broke.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also draw the run's breaking moment as a bare SVG picture (the
    /// lessons' pictures are made this way).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

impl ReplayArgs {
    /// Where the program comes from, as grading names it.
    pub fn source(&self) -> SourceArgs {
        SourceArgs {
            solutions: self.solutions,
            workspace: self.workspace.clone(),
        }
    }
}

/// The play options.
#[derive(Debug, Args)]
#[command(
    after_help = "Example: cargo grade play locked-bank --demo unlocked",
    after_long_help = "The screen shows each process and the operation it will do next, the \
    shared values, who holds which lock (and how deep), who waits for what, and the trace so \
    far. You choose who moves: each move lets one process make one operation (one \
    scheduling point), and the grader's invariants are checked after every move.\n\n\
    Keys:\n  \
    0-9        move that process (0 is the main process, 1, 2, ... its children)\n  \
    up/down    select a process; Enter or space moves it\n  \
    g          run the selected process until it blocks or ends\n  \
    u          undo the last move\n  \
    r          restart from the beginning\n  \
    q, Esc     quit (Ctrl-C too)\n\n\
    Every move runs the real program again from the start, following the choices made so \
    far, and pauses it at the next one: nothing is simulated, and nothing is left running. \
    On the way out the schedule played is printed, with the command that replays it."
)]
pub struct PlayArgs {
    /// The exercise, by name (locked-bank) or number (3).
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,
    /// Play the lesson's buggy program of that name instead of your code.
    #[arg(long, value_name = "NAME")]
    pub demo: Option<String>,
    /// The seed of the scenario's parameters (start balance, amounts,
    /// the queue's items...).
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    pub seed: u64,
    /// Play the reference solutions in solutions/.
    #[arg(long, conflicts_with = "workspace")]
    pub solutions: bool,
    /// Play another checkout's exercises, such as a student's submission.
    #[arg(long, value_name = "PATH")]
    pub workspace: Option<PathBuf>,
    /// Deadline of each move's run, in seconds: a process that hangs
    /// between two scheduling points is shown as such.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = positive_seconds)]
    pub timeout: f64,
    /// Deadline of the build, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300.0, value_parser = positive_seconds)]
    pub build_timeout: f64,
    /// Play these keys, space-separated, and print every frame instead of
    /// taking the terminal (for tests).
    #[arg(long, hide = true, value_name = "KEYS")]
    pub keys: Option<String>,
    /// The screen's size for --keys, as WIDTHxHEIGHT.
    #[arg(long, hide = true, value_name = "WxH", default_value = "100x32", value_parser = size)]
    pub size: (u16, u16),
}

impl PlayArgs {
    /// Where the program comes from.
    pub fn source(&self) -> SourceArgs {
        SourceArgs {
            solutions: self.solutions,
            workspace: self.workspace.clone(),
        }
    }
}

fn size(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("`{s}` is not WIDTHxHEIGHT");
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    Ok((w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?))
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

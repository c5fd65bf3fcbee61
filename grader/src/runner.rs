//! Running an exercise program: one supervised run, and many in parallel.
//!
//! Every run goes through [`supervise::run`]: its own process group, a
//! deadline, the whole tree killed and reaped at the end, output capped.
//! The program is told where to write its report (a file of its own in the
//! session's temporary directory, removed once read), how to schedule
//! (`MULTIPROC_SCHED`, seeded per run), how fast its pauses go, and the
//! seed for its own random choices.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use course_report::Report;

use crate::mode::ModeKind;
use crate::run::{ReportProblem, RunData};
use crate::supervise::{self, Ending, Limits, RunOutcome, RunSpec};

/// Largest report read (bytes); the runs' file-size limit is above it.
const MAX_REPORT: u64 = 32 << 20;

/// How to run one exercise's program.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The exercise's slug.
    pub exercise: String,
    /// The program.
    pub program: PathBuf,
    /// Extra arguments (none when grading).
    pub args: Vec<String>,
    /// The scheduling mode.
    pub mode: ModeKind,
    /// An exact `MULTIPROC_SCHED` value to use instead of `mode` (replay).
    pub sched_override: Option<String>,
    /// The seed of run 0; run `i` has `base_seed + i`.
    pub base_seed: u64,
    /// The factor pauses are scaled by.
    pub time_scale: f64,
    /// Each run's deadline.
    pub timeout: Duration,
}

impl Plan {
    /// The seed of run `index`.
    pub fn seed(&self, index: usize) -> u64 {
        self.base_seed.wrapping_add(index as u64)
    }

    /// The `MULTIPROC_SCHED` of run `index`.
    pub fn sched(&self, index: usize) -> String {
        self.sched_override
            .clone()
            .unwrap_or_else(|| self.mode.env_value(self.seed(index)))
    }

    /// The environment of run `index`, which writes its report to `report`.
    pub fn env(&self, index: usize, report: &Path) -> Vec<(String, String)> {
        let seed = self.seed(index);
        let sched = self.sched(index);
        vec![
            (
                course_report::REPORT_ENV.into(),
                report.display().to_string(),
            ),
            ("MULTIPROC_SCHED".into(), sched),
            ("MULTIPROC_TIME_SCALE".into(), self.time_scale.to_string()),
            ("COURSE_SEED".into(), seed.to_string()),
            // A panic is read from the report; a backtrace would only
            // bury it.
            ("RUST_BACKTRACE".into(), "0".into()),
        ]
    }
}

/// Runs `plan`'s program once, as run `index`, with its report in `dir`.
pub fn run_once(plan: &Plan, index: usize, dir: &Path) -> RunData {
    let report_path = dir.join(format!("{}-{index}.jsonl", plan.exercise));
    let _ = fs::remove_file(&report_path);
    let spec = RunSpec {
        program: plan.program.clone(),
        args: plan.args.clone(),
        env: plan.env(index, &report_path),
        cwd: Some(dir.to_path_buf()),
        limits: Limits {
            timeout: plan.timeout,
            ..Limits::default()
        },
    };
    let outcome = supervise::run(&spec).unwrap_or_else(|e| RunOutcome {
        ending: Ending::Exited { code: -1 },
        stdout: String::new(),
        stderr: format!("the grader could not start the run: {e}"),
        stdout_bytes: 0,
        stderr_bytes: 0,
        elapsed_ms: 0.0,
        stuck: vec![],
        leftovers: vec![],
        limit_hit: None,
        warnings: vec![format!("could not start the run: {e}")],
    });
    let report = read_report(&report_path);
    let _ = fs::remove_file(&report_path);
    RunData::new(index, plan.seed(index), &plan.exercise, outcome, report)
}

fn read_report(path: &Path) -> Result<Report, ReportProblem> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReportProblem::Missing),
        Err(e) => return Err(ReportProblem::Unreadable(e.to_string())),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_REPORT {
        return Err(ReportProblem::TooLarge(len));
    }
    let mut bytes = Vec::new();
    file.take(MAX_REPORT)
        .read_to_end(&mut bytes)
        .map_err(|e| ReportProblem::Unreadable(e.to_string()))?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim().is_empty() {
        return Err(ReportProblem::Empty);
    }
    Report::parse(&text).map_err(ReportProblem::Malformed)
}

/// Runs `work(i)` for every `i` in `0..count` on `jobs` threads, handing
/// each result to `done` on the calling thread as it arrives.
pub fn parallel<T: Send>(
    count: usize,
    jobs: usize,
    work: impl Fn(usize) -> T + Sync,
    mut done: impl FnMut(T),
) {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || tx.send(work(i)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for result in rx {
            done(result);
        }
    });
}

//! Running an exercise program: one supervised run, and many in parallel.
//!
//! Every run goes through [`supervise::run`]: its own process group, a
//! deadline, the whole tree killed and reaped at the end, output capped.
//! The program is told where to write its report (a file in a directory of
//! its own, which is also its working directory and its `TMPDIR`, removed
//! once the report is read), how to schedule (`MULTIPROC_SCHED`, seeded
//! per run), how fast its pauses go, and the seed for its own random
//! choices.
//!
//! A program can also turn on its supervisor, which is its parent:
//! - kill it: the grader then kills the run's processes itself (found by
//!   the run's report path in their environment, see [`sweep`]) and
//!   removes the supervisor's cgroup;
//! - send it SIGTERM or SIGINT, which a supervisor takes for the grader's
//!   Ctrl-C: it stops the run, and stays stopping every later run; the
//!   grader retires it (and the thread it served) unless the grader
//!   itself was interrupted.
//!
//! Either way the run fails with a verdict that says so.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use course_report::Report;

use crate::judge::run::{short_list, ReportProblem, RunData};
use crate::mode::ModeKind;
use crate::run::interrupt;
use crate::run::supervise::{self, Ending, Limits, RunOutcome, RunSpec};
use crate::run::sweep;

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

/// A finished run, and whether the thread that ran it must retire its
/// supervisor (see the module's documentation).
pub struct Ran {
    /// The run.
    pub run: RunData,
    /// The supervisor was told to stop by the program: it will stop every
    /// later run too.
    pub retire: bool,
}

/// Runs `plan`'s program once, as run `index`, in a directory of its own
/// under `dir` (removed afterwards).
pub fn run_once(plan: &Plan, index: usize, dir: &Path) -> RunData {
    run_supervised(plan, index, dir).run
}

/// [`run_once`], saying whether the calling thread's supervisor must be
/// retired.
pub fn run_supervised(plan: &Plan, index: usize, dir: &Path) -> Ran {
    let run_dir = dir.join(format!("{}-{index}", plan.exercise));
    let _ = fs::remove_dir_all(&run_dir);
    let _ = fs::create_dir_all(&run_dir);
    let report_path = run_dir.join("report.jsonl");
    let mut env = plan.env(index, &report_path);
    env.push(("TMPDIR".into(), run_dir.display().to_string()));
    let spec = RunSpec {
        program: plan.program.clone(),
        args: plan.args.clone(),
        env,
        cwd: Some(run_dir.clone()),
        limits: Limits {
            timeout: plan.timeout,
            ..Limits::default()
        },
    };
    let mut trouble = None;
    let mut retire = false;
    let mut interrupted = false;
    let outcome = match supervise::run(&spec) {
        Ok(outcome) => {
            if outcome.ending == Ending::Interrupted {
                if interrupt::confirms() {
                    interrupted = true;
                } else {
                    retire = true;
                    trouble = Some(
                        "it signalled its parent, the grader's run supervisor, to stop (a \
                         program must not signal its parent); the run was stopped and its \
                         processes killed"
                            .to_string(),
                    );
                }
            }
            outcome
        }
        Err(e) => {
            // The supervisor is gone: whatever the run left is ours to
            // kill.
            let entry = format!("{}={}", course_report::REPORT_ENV, report_path.display());
            let killed = sweep::kill_by_env(&entry);
            sweep::stale_cgroups();
            interrupted = interrupt::interrupted();
            let killed = match killed.len() {
                0 => String::new(),
                _ => format!(": {}", short_list(killed)),
            };
            // It died with the run under way (no answer), or could not be
            // started at all.
            let died = e.kind() == io::ErrorKind::BrokenPipe
                || e.to_string().contains("supervisor failed");
            trouble = Some(if died {
                format!(
                    "its parent, the grader's run supervisor, was killed during the run (a \
                     program must not kill its parent); the grader stopped the run and killed \
                     its processes{killed}"
                )
            } else {
                format!("the grader could not start the run: {e}")
            });
            lost_supervisor()
        }
    };
    let report = read_report(&report_path);
    let _ = fs::remove_dir_all(&run_dir);
    let mut run = RunData::new(index, plan.seed(index), &plan.exercise, outcome, report);
    run.trouble = trouble;
    run.interrupted = interrupted;
    Ran { run, retire }
}

/// The outcome of a run whose supervisor did not answer.
fn lost_supervisor() -> RunOutcome {
    RunOutcome {
        ending: Ending::Exited { code: -1 },
        stdout: String::new(),
        stderr: String::new(),
        stdout_bytes: 0,
        stderr_bytes: 0,
        elapsed_ms: 0.0,
        stuck: vec![],
        leftovers: vec![],
        limit_hit: None,
        warnings: Vec::new(),
    }
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
/// each result to `done` on the calling thread as it arrives. `work`
/// returns its result and whether its thread must retire (its run
/// supervisor is no longer to be trusted): another thread takes its place.
/// Once the grader is interrupted no new `work` starts.
pub fn parallel<T: Send>(
    count: usize,
    jobs: usize,
    work: impl Fn(usize) -> (T, bool) + Sync,
    mut done: impl FnMut(T),
) {
    let pool = Pool {
        next: AtomicUsize::new(0),
        count,
        work,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            pool.worker(scope, tx.clone());
        }
        drop(tx);
        for result in rx {
            done(result);
        }
    });
}

/// The shared state of [`parallel`]'s threads.
struct Pool<W> {
    next: AtomicUsize,
    count: usize,
    work: W,
}

impl<W> Pool<W> {
    /// Starts a worker thread; one that retires starts its successor.
    fn worker<'scope, 'env, T: Send + 'scope>(
        &'env self,
        scope: &'scope std::thread::Scope<'scope, 'env>,
        tx: mpsc::Sender<T>,
    ) where
        W: Fn(usize) -> (T, bool) + Sync,
    {
        scope.spawn(move || loop {
            if interrupt::interrupted() {
                break;
            }
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.count {
                break;
            }
            let (result, retire) = (self.work)(i);
            if tx.send(result).is_err() {
                break;
            }
            if retire {
                // This thread's supervisor ends with the thread.
                self.worker(scope, tx);
                break;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_is_done_once_even_when_threads_retire() {
        let mut seen = Vec::new();
        parallel(50, 3, |i| (i, i % 7 == 0), |i| seen.push(i));
        seen.sort();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }
}

//! Running an exercise program: one run in a box, and many in parallel.
//!
//! Every grading thread has a slot: a box set up once (see
//! [`sandbox`](super::sandbox)), with an unprivileged uid of its own, in
//! which the exercise program runs as a fork server. A run is one request
//! to the box's supervisor: the run's [`RunConfig`] (the scheduling mode,
//! the time scale, every parameter of the scenario, drawn by the grader
//! from the run's seed), answered with how the run ended, its output, its
//! report and the pids it was given. The grader keeps its own copy of the
//! configuration and judges against that.
//!
//! A slot whose box fails (its supervisor does not answer in time, or
//! ends) costs the run in progress, which fails saying so, and is set up
//! anew for the next run.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use course_report::{Params, Report, RunConfig};
use multiproc::sched::Mode;

use crate::build::compile::SYSTEM_DIRS;
use crate::catalog::Size;
use crate::judge::run::{ReportProblem, RunData};
use crate::mode::ModeKind;
use crate::run::cgroup::GroupLimits;
use crate::run::interrupt;
use crate::run::sandbox::{Bind, BoxSpec};
use crate::run::slot::BoxHandle;
use crate::run::supervise::{Answer, Ending, Limits, Request, RunOutcome};

/// Where the program being graded is, inside its box.
pub const BOX_BIN: &str = "/grader/bin";
/// Processes a run may have alive at once.
pub const RUN_PROCESSES: u32 = 64;
/// Memory a whole run may hold (every process, and its files in `/tmp`
/// and `/dev/shm`).
pub const RUN_MEMORY: u64 = 2 << 30;
/// The first uid of the runs' boxes; slot `k` runs as `RUN_UID + k`.
pub const RUN_UID: u32 = 62_000;

/// How to run one exercise's program.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The exercise's slug.
    pub exercise: String,
    /// The program, on the host.
    pub program: PathBuf,
    /// The lesson's buggy program to run instead, if any.
    pub demo: Option<String>,
    /// The scheduling mode.
    pub mode: ModeKind,
    /// An exact scheduling mode to use instead of `mode` (replay).
    pub sched_override: Option<String>,
    /// The seed of run 0; run `i` has `base_seed + i`.
    pub base_seed: u64,
    /// The factor pauses are scaled by.
    pub time_scale: f64,
    /// Each run's deadline.
    pub timeout: Duration,
    /// The scenario's parameters for a run's seed.
    pub params: fn(u64) -> Params,
    /// Run without the OS sandbox (tests of the other layers only).
    pub bare: bool,
}

impl Plan {
    /// The seed of run `index`.
    pub fn seed(&self, index: usize) -> u64 {
        self.base_seed.wrapping_add(index as u64)
    }

    /// The configuration of run `index`: what the program is told, and
    /// what the grader judges it against.
    pub fn config(&self, index: usize) -> RunConfig {
        let seed = self.seed(index);
        RunConfig {
            exercise: self.exercise.clone(),
            seed,
            sched: self
                .sched_override
                .clone()
                .unwrap_or_else(|| self.mode.env_value(seed)),
            time_scale: self.time_scale,
            demo: self.demo.clone(),
            params: (self.params)(seed),
        }
    }

    /// The configuration of a run at the exhaustive search's size
    /// `number` (1-based) under `sched`: the size's parameters, no
    /// pauses, and the size's number as its seed. The search runs its
    /// schedules so, and a replay or a picture of one must run it alike.
    pub fn config_at_size(&self, number: usize, size: &Size, sched: String) -> RunConfig {
        RunConfig {
            exercise: self.exercise.clone(),
            seed: number as u64,
            sched,
            time_scale: 0.0,
            demo: self.demo.clone(),
            params: (size.params)(),
        }
    }

    /// The limits of each run.
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            ..Limits::default()
        }
    }
}

/// A grading thread's box, and the program it serves.
struct Slot {
    handle: BoxHandle,
    serving: Option<PathBuf>,
    bare: bool,
    /// The CPU for its runs where one process moves at a time.
    cpu: Option<usize>,
}

thread_local! {
    static SLOT: RefCell<Option<Slot>> = const { RefCell::new(None) };
}

/// Slot numbers, one per box this grader sets up for runs.
static SLOTS: AtomicUsize = AtomicUsize::new(0);

fn run_box(slot: usize, bin_dir: &Path, bare: bool) -> BoxSpec {
    let mut binds: Vec<Bind> = SYSTEM_DIRS.iter().map(|d| Bind::read_only(*d)).collect();
    binds.push(Bind {
        path: bin_dir.to_path_buf(),
        at: Some(PathBuf::from(BOX_BIN)),
        writable: false,
    });
    BoxSpec {
        name: format!("runs-{slot}"),
        uid: RUN_UID + slot as u32,
        gid: RUN_UID + slot as u32,
        binds,
        tmp_mib: 256,
        shm_mib: 256,
        scratch: Vec::new(),
        cgroup_procs: Vec::new(),
        bare,
    }
}

/// The variable the course's tests mark their graders with: passed on to
/// the programs, so that a test can find any process a run left behind.
pub const MARK_ENV: &str = "COURSE_GRADER_MARK";

/// The environment of a served program: nothing of the grader's (but the
/// tests' mark).
fn program_env() -> Vec<(String, String)> {
    let mark = std::env::var(MARK_ENV).ok().map(|m| (MARK_ENV, m));
    [
        ("PATH", "/usr/bin:/bin".to_string()),
        ("HOME", "/tmp".to_string()),
        ("TMPDIR", "/tmp".to_string()),
        ("LANG", "C.UTF-8".to_string()),
        // A panic is read from the report; a backtrace would only bury it.
        ("RUST_BACKTRACE", "0".to_string()),
    ]
    .into_iter()
    .chain(mark)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The CPU for the runs of slot `number`: the grader's allowed CPUs in
/// turn, so that parallel slots use different ones, from a place that
/// differs from one grader to the next, so that graders running side by
/// side spread over the CPUs too.
fn cpu_for(number: usize) -> Option<usize> {
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&c| allowed.is_set(c).unwrap_or(false))
        .collect();
    let start = std::process::id() as usize;
    (!cpus.is_empty()).then(|| cpus[(start + number) % cpus.len()])
}

/// Runs `plan`'s program once, as run `index`, in this thread's slot.
pub fn run_once(plan: &Plan, index: usize) -> RunData {
    run_with(plan, index, plan.config(index))
}

/// Runs `plan`'s program once with `config` instead of the one its
/// index would give (a schedule of a search, a shrunk schedule), in this
/// thread's slot.
pub fn run_with(plan: &Plan, index: usize, config: RunConfig) -> RunData {
    let (outcome, trouble, limit) = SLOT.with(|cell| {
        let mut slot = cell.borrow_mut();
        match ask(&mut slot, plan, &config) {
            Ok((outcome, limit)) => (outcome, None, limit),
            Err(e) => {
                // A slot that failed is not trusted again.
                *slot = None;
                (lost_supervisor(), Some(e), None)
            }
        }
    });
    let interrupted =
        interrupt::interrupted() && (trouble.is_some() || outcome.ending == Ending::Interrupted);
    let report = read_report(&outcome);
    let mut outcome = outcome;
    if outcome.limit_hit.is_none() {
        outcome.limit_hit = limit;
    }
    let mut run = RunData::new(index, config, outcome, report);
    run.trouble = if interrupted { None } else { trouble };
    run.interrupted = interrupted;
    run
}

/// One run through the slot's box, setting the box up or serving the
/// program first where needed; the outcome and the control group's limit
/// reached, if one was.
fn ask(
    slot: &mut Option<Slot>,
    plan: &Plan,
    config: &RunConfig,
) -> Result<(RunOutcome, Option<String>), String> {
    let bin_dir = plan.program.parent().unwrap_or(Path::new("/"));
    let fresh = slot.as_ref().is_none_or(|s| {
        let same_dir = s
            .serving
            .as_ref()
            .is_some_and(|p| p.parent() == Some(bin_dir));
        s.bare != plan.bare || !same_dir
    });
    if fresh {
        *slot = None;
        let limits = GroupLimits {
            pids: RUN_PROCESSES + 2,
            memory: RUN_MEMORY,
        };
        let number = SLOTS.fetch_add(1, Ordering::Relaxed) % 4096;
        let handle = BoxHandle::start(run_box(number, bin_dir, plan.bare), limits)
            .map_err(|e| format!("the grader could not set up the run's sandbox: {e}"))?;
        *slot = Some(Slot {
            handle,
            serving: None,
            bare: plan.bare,
            cpu: cpu_for(number),
        });
    }
    let s = slot.as_mut().expect("just set");
    if s.serving.as_deref() != Some(plan.program.as_path()) {
        let name = plan.program.file_name().unwrap_or_default();
        let program = if s.handle.isolation.own_root {
            Path::new(BOX_BIN).join(name)
        } else {
            plan.program.clone()
        };
        let request = Request::Serve {
            program,
            env: program_env(),
            limits: plan.limits(),
        };
        match s.handle.ask(&request, Duration::from_secs(30)) {
            Ok(Answer::Served) => s.serving = Some(plan.program.clone()),
            Ok(Answer::Error { message }) => {
                return Err(format!("the program could not be started: {message}"))
            }
            Ok(other) => return Err(format!("unexpected answer {other:?}")),
            Err(e) => return Err(e.to_string()),
        }
    }
    // Where the operating system schedules, a run keeps every CPU.
    let one_at_a_time = !matches!(
        config.sched.parse::<Mode>(),
        Ok(Mode::Free | Mode::Perturb { .. })
    );
    let request = Request::Run {
        config: config.clone(),
        limits: plan.limits(),
        cpu: s.cpu.filter(|_| one_at_a_time),
    };
    // The supervisor enforces the deadline; this one is for the supervisor.
    let deadline = plan.timeout + Duration::from_secs(10);
    match s.handle.ask(&request, deadline) {
        Ok(Answer::Outcome(outcome)) => {
            let limit = s.handle.group_limit_hit();
            Ok((*outcome, limit))
        }
        Ok(Answer::Error { message }) => Err(format!("the run could not be started: {message}")),
        Ok(other) => Err(format!("unexpected answer {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Ends this thread's slot (its box): the next run sets a new one up.
pub fn close_slot() {
    SLOT.with(|cell| *cell.borrow_mut() = None);
}

/// The outcome of a run whose supervisor did not answer.
fn lost_supervisor() -> RunOutcome {
    RunOutcome {
        ending: Ending::Exited { code: -1 },
        ..RunOutcome::default()
    }
}

fn read_report(outcome: &RunOutcome) -> Result<Report, ReportProblem> {
    let Some(text) = &outcome.report else {
        return Err(ReportProblem::Missing);
    };
    if outcome.report_cut {
        return Err(ReportProblem::TooLarge(text.len() as u64));
    }
    if text.trim().is_empty() {
        return Err(ReportProblem::Missing);
    }
    Report::parse(text).map_err(ReportProblem::Malformed)
}

/// Runs `work(i)` for every `i` in `0..count` on `jobs` threads, handing
/// each result to `done` on the calling thread as it arrives. Each thread
/// keeps its slot (its box) from one run to the next and ends it when it
/// is done. Once the grader is interrupted no new `work` starts.
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
            let (tx, next, work) = (tx.clone(), &next, &work);
            scope.spawn(move || {
                loop {
                    if interrupt::interrupted() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || tx.send(work(i)).is_err() {
                        break;
                    }
                }
                close_slot();
            });
        }
        drop(tx);
        for result in rx {
            done(result);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_is_done_once() {
        let mut seen = Vec::new();
        parallel(50, 3, |i| i, |i| seen.push(i));
        seen.sort();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }
}

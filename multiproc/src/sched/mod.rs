//! Scheduling points: the one place every visible operation passes through.
//!
//! Every [`Value`](crate::Value) load and store, every [`Lock`](crate::Lock)
//! acquire and release, every [`Queue`](crate::Queue) operation, every
//! [`pause`](crate::pause), start and join first calls [`point`] with what it
//! is about to do. What happens there depends on the mode, chosen once per
//! program (see [`Mode`] and [`configure_from_env`]):
//!
//! - [`Mode::Free`] (the default): nothing. The operating system decides
//!   who runs, and a race shows up only when the timing happens to be bad.
//!   The cost is one relaxed load.
//! - [`Mode::Perturb`]: a seeded random choice at each point to yield or
//!   sleep briefly, and a start gate so workers begin together. Races that
//!   need an unlucky moment get many more of them. See [`perturb`].
//! - [`Mode::Controlled`]: only one process runs at a time, and at every
//!   point a seeded strategy picks who runs next. Waiting on a lock or a
//!   queue is modelled, so a deadlock is seen the moment nobody can run,
//!   and the list of choices replays the run exactly. See [`controlled`].
//! - [`Mode::Replay`]: the controlled scheduler following a given list of
//!   choices, then choosing without preempting; a run reports the choices
//!   it had, so that the grader can try every schedule up to a number of
//!   preemptions. See [`exhaustive`].

pub mod controlled;
pub mod exhaustive;
pub mod perturb;
pub mod schedule;
pub mod step;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

use crate::trace::ObjectId;

/// What a process is about to do at a scheduling point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Read a value.
    Load,
    /// Write a value.
    Store,
    /// Take a lock.
    Acquire,
    /// Give a lock up.
    Release,
    /// Put an item on a queue.
    Put,
    /// Take an item off a queue.
    Get,
    /// Ask whether a queue is empty.
    Empty,
    /// Pause for a while.
    Pause,
    /// Wait for a child to end.
    Join,
    /// Begin: a process that has not run yet (it announces nothing before
    /// its first operation).
    Start,
}

/// An operation at a scheduling point: what, and on which object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// What the process is about to do.
    pub kind: OpKind,
    /// The object it acts on (0 for a pause).
    pub object: ObjectId,
}

impl Op {
    pub(crate) fn load(object: ObjectId) -> Op {
        Op {
            kind: OpKind::Load,
            object,
        }
    }
    pub(crate) fn store(object: ObjectId) -> Op {
        Op {
            kind: OpKind::Store,
            object,
        }
    }
    pub(crate) fn acquire(object: ObjectId) -> Op {
        Op {
            kind: OpKind::Acquire,
            object,
        }
    }
    pub(crate) fn release(object: ObjectId) -> Op {
        Op {
            kind: OpKind::Release,
            object,
        }
    }
    pub(crate) fn put(object: ObjectId) -> Op {
        Op {
            kind: OpKind::Put,
            object,
        }
    }
    pub(crate) fn get(object: ObjectId) -> Op {
        Op {
            kind: OpKind::Get,
            object,
        }
    }
    pub(crate) fn empty(object: ObjectId) -> Op {
        Op {
            kind: OpKind::Empty,
            object,
        }
    }
    pub(crate) fn pause() -> Op {
        Op {
            kind: OpKind::Pause,
            object: 0,
        }
    }
    pub(crate) fn join(object: ObjectId) -> Op {
        Op {
            kind: OpKind::Join,
            object,
        }
    }
}

/// How scheduling points behave. Chosen once, before any process starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The operating system schedules; points do nothing.
    Free,
    /// Seeded yields and short sleeps at points, and a start gate.
    Perturb {
        /// The seed of every random choice.
        seed: u64,
    },
    /// One process at a time; a seeded strategy picks who runs next.
    Controlled {
        /// How the next process is picked.
        strategy: controlled::Strategy,
        /// The seed of every random choice.
        seed: u64,
    },
    /// One process at a time, following a recorded list of choices, then
    /// the default choice, which never preempts (see [`exhaustive`]).
    Replay {
        /// The choices, as written by [`controlled::schedule`].
        schedule: String,
    },
    /// One process at a time, following a list of choices and then
    /// stopping at the next choice: the program is paused there for
    /// someone to choose (see [`step`]).
    Step(step::Steps),
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Free => write!(f, "free"),
            Mode::Perturb { seed } => write!(f, "perturb:{seed}"),
            Mode::Controlled { strategy, seed } => write!(f, "controlled:{strategy}:{seed}"),
            Mode::Replay { schedule } => write!(f, "replay:{schedule}"),
            Mode::Step(steps) => write!(f, "step:{steps}"),
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    /// Parses `free`, `perturb:SEED`, `controlled:random:SEED`,
    /// `controlled:pct3:SEED` (PCT of depth 3), `replay:SCHEDULE` or
    /// `step:SCHEDULE[+SLOT]` (see [`step`]).
    fn from_str(s: &str) -> Result<Mode, String> {
        let bad = || {
            format!("bad scheduling mode {s:?}: expected free, perturb:SEED, controlled:STRATEGY:SEED or replay:SCHEDULE")
        };
        let parts: Vec<&str> = s.splitn(3, ':').collect();
        match parts.as_slice() {
            ["free"] => Ok(Mode::Free),
            ["perturb", seed] => Ok(Mode::Perturb {
                seed: seed.parse().map_err(|_| bad())?,
            }),
            ["controlled", strategy, seed] => Ok(Mode::Controlled {
                strategy: strategy.parse()?,
                seed: seed.parse().map_err(|_| bad())?,
            }),
            ["replay", rest @ ..] => Ok(Mode::Replay {
                schedule: rest.join(":"),
            }),
            ["step", rest @ ..] => Ok(Mode::Step(rest.join(":").parse()?)),
            _ => Err(bad()),
        }
    }
}

/// The environment variable [`configure_from_env`] reads.
pub const MODE_ENV: &str = "MULTIPROC_SCHED";

const FREE: u8 = 0;
const PERTURB: u8 = 1;
const CONTROLLED: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(FREE);
/// Set by the first [`configure`]: the mode is chosen once per program.
static CONFIGURED: AtomicBool = AtomicBool::new(false);

/// Sets the mode for this process and every process it starts afterwards.
/// Call it once, before starting any process.
///
/// The mode is part of what a run is judged on, so it is fixed for the
/// whole program: a second call is refused and changes nothing, whoever
/// makes it. Children inherit the choice (and the refusal) through `fork`.
pub fn configure(mode: &Mode) -> std::io::Result<()> {
    if CONFIGURED.swap(true, Relaxed) {
        return Err(std::io::Error::other(format!(
            "the scheduling mode is already set for this program; {mode} refused"
        )));
    }
    match mode {
        Mode::Free => MODE.store(FREE, Relaxed),
        Mode::Perturb { seed } => {
            perturb::init(*seed)?;
            MODE.store(PERTURB, Relaxed);
        }
        Mode::Controlled { .. } | Mode::Replay { .. } | Mode::Step(_) => {
            controlled::init(mode)?;
            MODE.store(CONTROLLED, Relaxed);
        }
    }
    Ok(())
}

/// Reads the mode from `MULTIPROC_SCHED` (free when unset) and applies it.
pub fn configure_from_env() -> Result<Mode, String> {
    let mode = match std::env::var(MODE_ENV) {
        Ok(s) if !s.trim().is_empty() => s.trim().parse()?,
        _ => Mode::Free,
    };
    configure(&mode).map_err(|e| format!("cannot set scheduling mode {mode}: {e}"))?;
    Ok(mode)
}

/// Whether scheduling points do anything in this process (any mode but
/// free). Primitives check it once and keep their plain path short.
#[inline]
pub(crate) fn active() -> bool {
    MODE.load(Relaxed) != FREE
}

/// The scheduling point: called before every visible operation.
#[inline]
pub(crate) fn point(op: Op) {
    match MODE.load(Relaxed) {
        FREE => {}
        PERTURB => perturb::point(op),
        _ => controlled::point(op),
    }
}

/// The calling process tried to take something (a lock, an item) and
/// found it taken: under the controlled scheduler, its next scheduling
/// point lets another process go first when nothing else chooses, as a
/// pause does, so that a loop of tries waits instead of spinning for ever.
#[inline]
pub(crate) fn gave_way() {
    if MODE.load(Relaxed) == CONTROLLED {
        controlled::gave_way();
    }
}

/// Whether the calling process may record an event as the scheduler's
/// choice: always outside controlled mode; under it, only while it holds
/// the token. The trace marks events recorded otherwise, so that a run in
/// which a process escaped the scheduler can be told apart.
#[inline]
pub(crate) fn on_schedule() -> bool {
    MODE.load(Relaxed) != CONTROLLED || controlled::holds_token()
}

/// Whether this process runs under the controlled scheduler, which then
/// models every wait (see [`block_on`]).
#[inline]
pub(crate) fn controlled() -> bool {
    MODE.load(Relaxed) == CONTROLLED && controlled::registered()
}

/// Controlled mode: this process cannot go on until `op.object` changes;
/// let others run, and return once it has been woken and chosen again.
pub(crate) fn block_on(op: Op) {
    controlled::block_on(op);
}

/// Controlled mode: whether the process `pid` has ended (it passed the
/// scheduler its last turn, or died).
pub(crate) fn has_ended(pid: i32) -> bool {
    controlled::has_ended(pid)
}

/// Waits until process `pid` is gone for the kernel too (a zombie or
/// reaped): only then has the kernel marked the robust mutexes it held.
pub(crate) fn await_exit(pid: i32) {
    controlled::await_exit(pid);
}

/// `object` changed (a lock was released, an item was put): processes
/// blocked on it may run again.
#[inline]
pub(crate) fn wake(object: ObjectId) {
    if MODE.load(Relaxed) == CONTROLLED {
        controlled::wake(object);
    }
}

/// Before `fork`: reserve the new process's place. Returns its slot.
pub(crate) fn before_start() -> usize {
    match MODE.load(Relaxed) {
        CONTROLLED => controlled::before_start(),
        PERTURB => {
            perturb::before_start();
            0
        }
        _ => 0,
    }
}

/// In the parent, after `fork`.
pub(crate) fn after_start(slot: usize, pid: i32) {
    if MODE.load(Relaxed) == CONTROLLED {
        controlled::after_start(slot, pid);
    }
}

/// In the child, first thing after `fork`.
pub(crate) fn child_started(slot: usize) {
    match MODE.load(Relaxed) {
        PERTURB => perturb::child_started(),
        CONTROLLED => controlled::child_started(slot),
        _ => {}
    }
}

/// In the child, just before `_exit`.
pub(crate) fn child_exiting() {
    if MODE.load(Relaxed) == CONTROLLED {
        controlled::child_exiting();
    }
}

/// In `join`, before `waitpid`: under control, wait (as a modelled block)
/// until the child has ended.
pub(crate) fn wait_for_exit(pid: i32) {
    if controlled() {
        controlled::wait_for_exit(pid);
    }
}

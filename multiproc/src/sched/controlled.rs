//! The controlled scheduler: one process at a time, chosen by a seeded
//! strategy at every scheduling point.
//!
//! A *control block* in shared memory is made before any child starts. It
//! holds one slot per process (the program itself is slot 0) and a token:
//! the number of the slot allowed to run. A process runs only while it holds
//! the token; at each scheduling point it asks the strategy who runs next
//! and, if that is someone else, hands the token over (a futex wake) and
//! waits for it to come back (a futex wait).
//!
//! Because only the token holder ever runs, waiting can be modelled instead
//! of done: a process that finds a lock taken or a queue empty marks itself
//! *blocked on* that object and passes the token on; releasing the lock or
//! putting an item marks it runnable again. So when the holder blocks and no
//! slot is runnable while some are still alive, the program is deadlocked,
//! and that is known at once, with who waits for what, without a timeout.
//!
//! Every choice made when more than one process could run is logged. The
//! log, written out by [`schedule`], replays the run exactly: the same
//! program given the same choices makes the same operations in the same
//! order.
//!
//! A replayed run follows a given list of choices instead, then the
//! default choice, which never preempts, and records what it could have
//! chosen at each decision (see [`exhaustive`](super::exhaustive)).
//!
//! Strategies:
//! - `random`: at every point, any runnable process, uniformly.
//! - `pctN`: PCT (probabilistic concurrency testing) of depth N: each
//!   process gets a random priority and the highest runnable one runs;
//!   at N-1 random steps the running process drops to the lowest priority.
//!   Bugs that need few, well-placed preemptions are found often.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering::*};
use std::sync::OnceLock;
use std::time::Duration;

use super::perturb::splitmix;
use super::{exhaustive, Mode, Op, OpKind};
use crate::process::current_pid;
use crate::shm::Shared;
use crate::trace::ObjectId;

/// How the next process is picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Uniformly among the runnable processes, at every point.
    Random,
    /// PCT with this depth (the number of priority changes plus one).
    Pct(u32),
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Random => write!(f, "random"),
            Strategy::Pct(d) => write!(f, "pct{d}"),
        }
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Strategy, String> {
        match s {
            "random" => Ok(Strategy::Random),
            _ => s
                .strip_prefix("pct")
                .and_then(|d| d.parse().ok())
                .filter(|&d| d >= 1)
                .map(Strategy::Pct)
                .ok_or_else(|| format!("unknown strategy {s:?}: expected random or pctN (N >= 1)")),
        }
    }
}

/// At most this many processes take part in one controlled run.
pub const MAX_PROCESSES: usize = 16;
pub const MAX_DECISIONS: usize = 1 << 16;
/// PCT's change points are drawn from the first this-many choices: about
/// the length of the course's scenarios, so that the changes happen while
/// the workers still race.
const PCT_STEPS: u64 = 400;
const MAX_DEPTH: usize = 8;

// A slot's state; 0 means unused.
const RUNNABLE: u32 = 1;
const BLOCKED: u32 = 2;
const DONE: u32 = 3;

/// Objects above this are "the process in slot N" (for join).
const PROCESS_TAG: u32 = 0x8000_0000;

struct Slot {
    pid: AtomicI32,
    state: AtomicU32,
    blocked_on: AtomicU32,
    /// What the process last announced at a scheduling point.
    last_kind: AtomicU8,
    last_object: AtomicU32,
    priority: AtomicU64,
    /// Whether the process gives way, as a pause does, at its next
    /// scheduling point (`TRIED`, set when a `try_acquire` found the lock
    /// held or a `try_get` the queue empty: it cannot go on until another
    /// process moves) or at its current one (`YIELDING`, set when it
    /// announces that point). The default choice (past a replayed
    /// schedule, and so in the exhaustive search) keeps the running
    /// process running: without this, a process spinning on a try would
    /// spin for ever, and a correct spin loop would be judged a hang.
    gave_way: AtomicU8,
}

/// [`Slot::gave_way`]: the last try failed.
const TRIED: u8 = 1;
/// [`Slot::gave_way`]: the current scheduling point gives way.
const YIELDING: u8 = 2;

struct Control {
    /// The slot allowed to run: the token, and the futex word.
    current: AtomicI32,
    slots_used: AtomicU32,
    slots: [Slot; MAX_PROCESSES],
    strategy: AtomicU32, // 0 random, N = pct depth N
    rng: AtomicU64,
    steps: AtomicU64,
    change_points: [AtomicU64; MAX_DEPTH],
    changes_done: AtomicU32,
    replaying: AtomicU32,
    /// Stepping (see [`super::step`]): pause past the list of choices.
    stepping: AtomicU32,
    /// Stepping: the slot to keep choosing past the list, plus one (0:
    /// none).
    then_slot: AtomicU32,
    replay_len: AtomicU64,
    replay: [AtomicU8; MAX_DECISIONS],
    decisions: AtomicU64,
    log: [AtomicU8; MAX_DECISIONS],
}

static CONTROL: OnceLock<Shared<Control>> = OnceLock::new();
static MY_SLOT: AtomicI32 = AtomicI32::new(-1);
static DEADLOCK_HANDLER: OnceLock<fn(&[Stuck])> = OnceLock::new();

/// The exit code of the process that finds the program deadlocked, after it
/// has told the deadlock handler and killed the others.
pub const DEADLOCK_EXIT_CODE: i32 = 86;

/// A process found waiting when nobody could run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// Its pid.
    pub pid: i32,
    /// Its slot (0 is the program itself, 1.. its children in start order).
    pub slot: usize,
    /// What it was doing when it blocked.
    pub op: OpKind,
    /// The object it waits for: a lock, a queue, or (when joining) the
    /// pid of the child it waits for.
    pub object: ObjectId,
    /// Set when `object` is a child's pid (the process waits in `join`).
    pub joining: bool,
    /// Set when the process could go on: the run was paused by a stepped
    /// schedule (see [`super::step`]), not deadlocked, and `op` is what it
    /// will do next.
    pub runnable: bool,
}

/// Sets what a deadlocked program does before it ends: typically, write
/// the stuck processes into a report. Runs in whichever process found the
/// deadlock.
pub fn set_deadlock_handler(handler: fn(&[Stuck])) {
    let _ = DEADLOCK_HANDLER.set(handler);
}

fn control() -> Option<&'static Control> {
    CONTROL.get().map(|c| &**c)
}

pub(super) fn init(mode: &Mode) -> io::Result<()> {
    // SAFETY: every field is an atomic integer or an array of them.
    let shared = unsafe { Shared::<Control>::zeroed() }?;
    let c = &*shared;
    match mode {
        Mode::Controlled { strategy, seed } => {
            c.rng.store(splitmix(*seed) | 1, Relaxed);
            if let Strategy::Pct(depth) = strategy {
                if *depth == 0 {
                    return Err(io::Error::other("a PCT depth must be at least 1"));
                }
                let depth = (*depth as usize).min(MAX_DEPTH);
                c.strategy.store(depth as u32, Relaxed);
                for cp in c.change_points.iter().take(depth - 1) {
                    cp.store(1 + next_random(c) % PCT_STEPS, Relaxed);
                }
            }
        }
        Mode::Replay { .. } | Mode::Step(_) => {
            exhaustive::init()?;
            let schedule = match mode {
                Mode::Step(steps) => {
                    c.stepping.store(1, Relaxed);
                    c.then_slot
                        .store(steps.then.map_or(0, |t| t as u32 + 1), Relaxed);
                    &steps.schedule
                }
                Mode::Replay { schedule } => schedule,
                _ => unreachable!(),
            };
            let choices = super::schedule::parse(schedule).map_err(io::Error::other)?;
            if choices.len() > MAX_DECISIONS {
                return Err(io::Error::other("schedule too long"));
            }
            for (cell, &slot) in c.replay.iter().zip(&choices) {
                cell.store(slot, Relaxed);
            }
            c.replay_len.store(choices.len() as u64, Relaxed);
            c.replaying.store(1, Relaxed);
        }
        _ => unreachable!("init is only called for controlled modes"),
    }
    // The program itself is slot 0 and starts with the token.
    c.slots[0].pid.store(current_pid(), Relaxed);
    c.slots[0].state.store(RUNNABLE, Relaxed);
    c.slots[0].last_kind.store(OpKind::Start as u8, Relaxed);
    c.slots[0].priority.store(next_random(c) | 1 << 63, Relaxed);
    c.slots_used.store(1, Relaxed);
    c.current.store(0, Release);
    MY_SLOT.store(0, Relaxed);
    CONTROL
        .set(shared)
        .map_err(|_| io::Error::other("the scheduler was already configured"))
}

/// Whether the calling process takes part in the controlled run.
pub(super) fn registered() -> bool {
    let slot = MY_SLOT.load(Relaxed);
    match control() {
        Some(c) if slot >= 0 => c.slots[slot as usize].pid.load(Relaxed) == current_pid(),
        _ => false,
    }
}

/// Whether the calling process takes part and holds the token now.
pub(super) fn holds_token() -> bool {
    registered() && control().is_some_and(|c| c.current.load(Acquire) == MY_SLOT.load(Relaxed))
}

fn me() -> usize {
    MY_SLOT.load(Relaxed) as usize
}

#[cold]
#[inline(never)]
pub(super) fn point(op: Op) {
    if !registered() {
        return;
    }
    let c = control().expect("registered");
    let me = me();
    announce(c, me, op);
    match choose(c, me) {
        Some(next) if next != me => {
            hand_over(c, next);
            wait_for_token(c, me);
        }
        _ => {}
    }
}

/// The calling process's try failed: see [`Slot::gave_way`].
pub(super) fn gave_way() {
    if !registered() {
        return;
    }
    let c = control().expect("registered");
    c.slots[me()].gave_way.store(TRIED, Relaxed);
}

pub(super) fn block_on(op: Op) {
    if !registered() {
        std::thread::sleep(Duration::from_millis(1));
        return;
    }
    let c = control().expect("registered");
    let me = me();
    announce(c, me, op);
    let s = &c.slots[me];
    s.blocked_on.store(op.object, Relaxed);
    s.state.store(BLOCKED, Relaxed);
    match choose(c, me) {
        Some(next) => {
            hand_over(c, next);
            wait_for_token(c, me);
        }
        None => deadlock(c),
    }
}

pub(super) fn has_ended(pid: i32) -> bool {
    control().is_some_and(|c| {
        used(c).any(|s| s.pid.load(Relaxed) == pid && s.state.load(Relaxed) == DONE)
    })
}

pub(super) fn await_exit(pid: i32) {
    // Bounded: a process that passed its last turn is at most a few system
    // calls away from `_exit`.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(50));
    }
}

pub(super) fn wake(object: ObjectId) {
    let Some(c) = control() else { return };
    for s in used(c) {
        if s.state.load(Relaxed) == BLOCKED && s.blocked_on.load(Relaxed) == object {
            s.state.store(RUNNABLE, Relaxed);
        }
    }
}

pub(super) fn before_start() -> usize {
    let Some(c) = control() else { return 0 };
    let slot = c.slots_used.load(Relaxed) as usize;
    if slot >= MAX_PROCESSES || !registered() {
        return usize::MAX; // the child runs outside the scheduler's control
    }
    c.slots_used.store(slot as u32 + 1, Relaxed);
    c.slots[slot]
        .priority
        .store(next_random(c) | 1 << 63, Relaxed);
    c.slots[slot].last_kind.store(OpKind::Start as u8, Relaxed);
    c.slots[slot].state.store(RUNNABLE, Relaxed);
    slot
}

pub(super) fn after_start(slot: usize, pid: i32) {
    if let (Some(c), true) = (control(), slot < MAX_PROCESSES) {
        c.slots[slot].pid.store(pid, Relaxed);
    }
}

pub(super) fn child_started(slot: usize) {
    let Some(c) = control() else { return };
    if slot >= MAX_PROCESSES {
        MY_SLOT.store(-1, Relaxed);
        return;
    }
    c.slots[slot].pid.store(current_pid(), Relaxed);
    MY_SLOT.store(slot as i32, Relaxed);
    wait_for_token(c, slot);
}

pub(super) fn child_exiting() {
    if !registered() {
        return;
    }
    let c = control().expect("registered");
    finish(c, me());
    if let Some(next) = choose(c, usize::MAX) {
        hand_over(c, next);
    } else if used(c).any(|s| s.state.load(Relaxed) == BLOCKED) {
        deadlock(c);
    }
}

pub(super) fn wait_for_exit(pid: i32) {
    let c = control().expect("controlled");
    let Some(slot) = used(c).position(|s| s.pid.load(Relaxed) == pid) else {
        return;
    };
    while c.slots[slot].state.load(Relaxed) != DONE {
        block_on(Op {
            kind: OpKind::Join,
            object: PROCESS_TAG | slot as u32,
        });
    }
}

/// The choices made so far, as a schedule string that `replay:` accepts:
/// runs of one slot number, `N` or `NxCOUNT`, joined by dots
/// (`0x3.1.2x4` is 0,0,0,1,2,2,2,2).
pub fn schedule() -> Option<String> {
    let c = control()?;
    let n = (c.decisions.load(Relaxed) as usize).min(MAX_DECISIONS);
    let choices: Vec<u8> = c.log[..n].iter().map(|d| d.load(Relaxed)).collect();
    Some(super::schedule::format(&choices))
}

/// How many choices were made (with more than one process runnable).
pub fn decisions() -> u64 {
    control().map_or(0, |c| c.decisions.load(Relaxed))
}

/// A replayed run's choice points so far: what it could have done at
/// each decision (see [`exhaustive`]). `None` in other modes.
pub fn choice_points() -> Option<Vec<exhaustive::ChoicePoint>> {
    exhaustive::choice_points(decisions())
}

fn used(c: &Control) -> impl Iterator<Item = &Slot> {
    c.slots[..c.slots_used.load(Relaxed) as usize].iter()
}

fn announce(c: &Control, me: usize, op: Op) {
    c.slots[me].last_kind.store(op.kind as u8, Relaxed);
    c.slots[me].last_object.store(op.object, Relaxed);
    // Loads only, unless a try failed: this runs at every point.
    let gave_way = &c.slots[me].gave_way;
    match gave_way.load(Relaxed) {
        TRIED => gave_way.store(YIELDING, Relaxed),
        YIELDING => gave_way.store(0, Relaxed),
        _ => {}
    }
    exhaustive::reached(me);
}

/// A process has ended, normally or not. Whatever it waited for no longer
/// matters, and whatever it held may now be free (a lock its holder never
/// released is handed to the next taker as "holder died"), so every blocked
/// process gets to look again; one whose wait still holds blocks again at
/// once.
fn finish(c: &Control, slot: usize) {
    c.slots[slot].state.store(DONE, Relaxed);
    for s in used(c) {
        if s.state.load(Relaxed) == BLOCKED {
            s.state.store(RUNNABLE, Relaxed);
        }
    }
}

/// Finishes every slot whose process has died (killed while blocked, say).
/// Returns whether there was any.
fn reap_dead(c: &Control) -> bool {
    let dead: Vec<usize> = used(c)
        .enumerate()
        .filter(|(_, s)| s.state.load(Relaxed) != DONE)
        .filter(|(_, s)| {
            let pid = s.pid.load(Relaxed);
            pid != 0 && pid != current_pid() && !alive(pid)
        })
        .map(|(i, _)| i)
        .collect();
    for &slot in &dead {
        finish(c, slot);
    }
    !dead.is_empty()
}

/// Picks who runs next among the runnable slots. Only the token holder
/// calls it, so the shared random state advances in one agreed order.
fn choose(c: &Control, me: usize) -> Option<usize> {
    let runnable_now = || -> Vec<usize> {
        (0..c.slots_used.load(Relaxed) as usize)
            .filter(|&i| c.slots[i].state.load(Relaxed) == RUNNABLE)
            .collect()
    };
    let mut runnable = runnable_now();
    // Before calling it a deadlock, make sure nobody is waiting on a process
    // that died without telling us.
    if runnable.is_empty() && reap_dead(c) {
        runnable = runnable_now();
    }
    match runnable.len() {
        0 => return None,
        1 => return Some(runnable[0]),
        _ => {}
    }
    let pick = if c.stepping.load(Relaxed) != 0 {
        let then = c.then_slot.load(Relaxed).checked_sub(1).map(|t| t as usize);
        let n = c.decisions.load(Relaxed) as usize;
        match super::step::next(n, c.replay_len.load(Relaxed) as usize, then, &runnable) {
            super::step::Next::Pause => pause(c),
            super::step::Next::Pick(slot) => Some(slot),
            super::step::Next::Replay => None,
        }
    } else {
        None
    };
    let step = c.steps.fetch_add(1, Relaxed);
    let n = c.decisions.fetch_add(1, Relaxed) as usize;
    let chosen = if let Some(slot) = pick {
        slot
    } else if c.replaying.load(Relaxed) != 0 {
        let wanted =
            (n < c.replay_len.load(Relaxed) as usize).then(|| c.replay[n].load(Relaxed) as usize);
        // Past the end of the schedule (or if the program changed), the
        // default choice, which never preempts: a schedule can stop at its
        // last preemption (see `exhaustive`).
        let running = (me < MAX_PROCESSES).then_some(me);
        let pausing = running.is_some_and(|r| {
            c.slots[r].last_kind.load(Relaxed) == OpKind::Pause as u8
                || c.slots[r].gave_way.load(Relaxed) == YIELDING
        });
        let states: Vec<u64> = used(c)
            .map(|s| match s.state.load(Relaxed) {
                BLOCKED => (BLOCKED as u64) << 32 | s.blocked_on.load(Relaxed) as u64,
                state => (state as u64) << 32,
            })
            .collect();
        exhaustive::choose(n, running, pausing, &runnable, wanted, &states)
    } else {
        match c.strategy.load(Relaxed) {
            0 => runnable[(next_random(c) % runnable.len() as u64) as usize],
            depth => pct_choose(c, me, step, depth as usize, &runnable),
        }
    };
    if let Some(cell) = c.log.get(n) {
        cell.store(chosen as u8, Relaxed);
    }
    Some(chosen)
}

fn pct_choose(c: &Control, me: usize, step: u64, depth: usize, runnable: &[usize]) -> usize {
    if me < MAX_PROCESSES {
        for cp in &c.change_points[..depth - 1] {
            if cp.load(Relaxed) == step {
                // A change point: the running process drops below everyone.
                let k = c.changes_done.fetch_add(1, Relaxed) as u64;
                c.slots[me].priority.store(k, Relaxed);
            }
        }
    }
    *runnable
        .iter()
        .max_by_key(|&&i| c.slots[i].priority.load(Relaxed))
        .expect("at least two runnable")
}

fn next_random(c: &Control) -> u64 {
    let mut x = c.rng.load(Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c.rng.store(x, Relaxed);
    x
}

fn hand_over(c: &Control, next: usize) {
    c.current.store(next as i32, Release);
    futex_wake(&c.current, next);
}

/// Waits until the token is ours. If its holder died without passing it
/// on (killed by a signal), take it over in the dead process's name.
fn wait_for_token(c: &Control, me: usize) {
    loop {
        let holder = c.current.load(Acquire);
        if holder == me as i32 {
            return;
        }
        if !futex_wait(&c.current, holder, me, Duration::from_millis(20)) {
            let h = holder as usize;
            let pid = c.slots.get(h).map_or(0, |s| s.pid.load(Relaxed));
            if h < MAX_PROCESSES
                && pid != 0
                && !alive(pid)
                && c.current
                    .compare_exchange(holder, me as i32, AcqRel, Relaxed)
                    .is_ok()
            {
                finish(c, h);
                match choose(c, usize::MAX) {
                    Some(next) if next == me => return,
                    Some(next) => hand_over(c, next),
                    None => deadlock(c),
                }
            }
        }
    }
}

/// Nobody can run: tell the handler who waits for what, end the others,
/// and leave.
fn deadlock(c: &Control) -> ! {
    stop(c, &[BLOCKED])
}

/// A stepped run reached the end of its choices: tell the handler what
/// every live process will do next or waits for, end the others, and
/// leave (see [`super::step`]).
fn pause(c: &Control) -> ! {
    stop(c, &[BLOCKED, RUNNABLE])
}

/// Tells the handler about the processes in `states`, ends the others,
/// and leaves.
fn stop(c: &Control, states: &[u32]) -> ! {
    let stuck: Vec<Stuck> = used(c)
        .enumerate()
        .filter(|(_, s)| states.contains(&s.state.load(Relaxed)))
        .map(|(slot, s)| {
            let runnable = s.state.load(Relaxed) == RUNNABLE;
            // A runnable process is about to do what it last announced; a
            // blocked one waits for what it blocked on.
            let object = if runnable {
                s.last_object.load(Relaxed)
            } else {
                s.blocked_on.load(Relaxed)
            };
            let joining = object & PROCESS_TAG != 0;
            Stuck {
                pid: s.pid.load(Relaxed),
                slot,
                op: op_kind(s.last_kind.load(Relaxed)),
                object: if joining {
                    c.slots[(object & !PROCESS_TAG) as usize].pid.load(Relaxed) as u32
                } else {
                    object
                },
                joining,
                runnable,
            }
        })
        .collect();
    if let Some(handler) = DEADLOCK_HANDLER.get() {
        handler(&stuck);
    }
    let me = current_pid();
    for s in used(c) {
        let pid = s.pid.load(Relaxed);
        if pid > 0 && pid != me && s.state.load(Relaxed) != DONE {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    // SAFETY: leaving at once, as every child of this crate does.
    unsafe { libc::_exit(DEADLOCK_EXIT_CODE) }
}

fn op_kind(b: u8) -> OpKind {
    use OpKind::*;
    [
        Load, Store, Acquire, Release, Put, Get, Empty, Pause, Join, Start,
    ]
    .into_iter()
    .find(|k| *k as u8 == b)
    .unwrap_or(Pause)
}

/// Whether `pid` is still running (a zombie counts as dead).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Sleeps while `word == seen`, at most `timeout`, until woken for `slot`.
/// Returns false on timeout.
///
/// Every waiting process sleeps on the one token word, but each with its
/// own bit: a hand-over wakes only the process it names. Waking them all
/// would cost a context switch per waiter at every hand-over, only for
/// all but one to go back to sleep.
fn futex_wait(word: &AtomicI32, seen: i32, slot: usize, timeout: Duration) -> bool {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    // FUTEX_WAIT_BITSET takes a deadline on the monotonic clock.
    let nanos = now.tv_nsec as u64 + u64::from(timeout.subsec_nanos());
    let deadline = libc::timespec {
        tv_sec: now.tv_sec
            + timeout.as_secs() as libc::time_t
            + (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as _,
    };
    // SAFETY: `word` is a valid aligned i32 in shared memory; the shared
    // (not private) variant because other processes wake it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET,
            seen,
            &deadline as *const libc::timespec,
            std::ptr::null::<u32>(),
            bit(slot),
        )
    };
    !(rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT))
}

/// Wakes the process of `slot` if it sleeps on `word`.
fn futex_wake(word: &AtomicI32, slot: usize) {
    // SAFETY: as for `futex_wait`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE_BITSET,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            bit(slot),
        );
    }
}

/// A slot's bit in the futex bitset (slots beyond 31 share the top bit;
/// there are only [`MAX_PROCESSES`]).
fn bit(slot: usize) -> u32 {
    1u32 << slot.min(31)
}

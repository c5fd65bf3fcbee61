//! Exercise 05, the reentrant lock: the parent takes the student's lock
//! (twice: at depth 2, so that a release which checks the owner only on its
//! last level is caught too), starts two children, `P1` and `P2`, that each take it 5 times and then
//! release it 5 times (the student's `child_task`), holds it for 3 seconds
//! (scaled by `MULTIPROC_TIME_SCALE`), lets go of both levels, and joins
//! them.
//!
//! Two checks are made along the way and written as `Probe` records:
//!
//! - while the parent holds the lock, a third, short-lived child,
//!   `intruder`, calls `release`: [`NON_OWNER_PROBE`] passes if that is
//!   refused with an error and leaves owner, depth and the inner lock as
//!   they were;
//! - at the end, with the lock free, the parent calls `release` once more:
//!   [`EXTRA_RELEASE_PROBE`] passes if that is refused and the lock stays
//!   free.
//!
//! A child's `Worker` record counts `max_depth` and `final_depth`: the
//! largest and the last depth that child itself stored in the lock's
//! `rlock.depth` value, read back from the trace after its task returned.
//! (The driver cannot look inside `child_task`; the trace sees every store
//! the student's code makes.)
//!
//! Report: `Header.params` `children` (2), `depth` (5), `hold_ms` (3000);
//! objects `rlock.lock`, `rlock.owner`, `rlock.depth` (labelled by the
//! stub's given constructor); `Worker` records `P1` and `P2`; the two
//! probes; `Summary.finals` `depth`, `owner` (0 = none) and `held` (1 if
//! the inner lock is held at the end).

use std::fmt::Display;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Duration;

use multiproc::trace::{self, EventKind};
use multiproc::{current_name, current_pid, pause};

use course_report::{Param, Params};

use crate::common::{self, now_ns, write_probe, write_worker, Program, Run};

/// The exercise's slug.
pub const EXERCISE: &str = "reentrant-lock";
/// How many children share the lock with the parent.
pub const CHILDREN: usize = 2;
/// How deep each child is expected to take the lock.
pub const DEPTH: u32 = 5;
/// How long the parent holds the lock while the children wait.
pub const HOLD: Duration = Duration::from_millis(3000);
/// The label of the student's depth value, as the given constructor sets it.
pub const DEPTH_LABEL: &str = "rlock.depth";
/// How many times the parent takes the lock before the children start. More
/// than one, so that the intruder's release meets an owner above depth 1.
const PARENT_DEPTH: u32 = 2;

/// The probe made by the `intruder` child.
pub const NON_OWNER_PROBE: &str = "a release by a process that does not own the lock is refused";
/// The probe made by the parent at the end.
pub const EXTRA_RELEASE_PROBE: &str = "an extra release is refused";

const PROGRAM: Program = Program {
    exercise: EXERCISE,
    dir: "exercises/05-reentrant-lock",
    about:
        "the parent holds a reentrant lock for 3 s while two children wait to take it 5 times each",
    demos: &[],
    lesson,
};

/// The lesson's parameters: two children, depth 5, a 3 s hold.
fn lesson(_seed: u64) -> Params {
    [
        ("children", CHILDREN as i64),
        ("depth", DEPTH as i64),
        ("hold_ms", HOLD.as_millis() as i64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Param::Int(v)))
    .collect()
}

/// The student's reentrant lock, as the driver calls it.
///
/// Rust's generics cannot name the student's type from this crate, so
/// `main.rs` (course code, not the student's) fills this table with the
/// student's functions. `L` is the student's lock type and `E` its error.
pub struct Api<L, E> {
    /// Makes a free lock (given in the stub).
    pub new: fn() -> io::Result<L>,
    /// Takes the lock, or takes it once more if the caller owns it.
    pub acquire: fn(&L) -> Result<(), E>,
    /// Gives up one level of ownership; refuses a non-owner or an extra release.
    pub release: fn(&L) -> Result<(), E>,
    /// How many times the owner holds it (given).
    pub depth: fn(&L) -> u32,
    /// The owner's pid (given).
    pub owner: fn(&L) -> Option<i32>,
    /// Whether the inner lock is held by anyone (given).
    pub is_held: fn(&L) -> bool,
    /// What each child does: take the lock 5 times, then release it 5 times.
    pub child_task: fn(&L) -> Result<(), E>,
}

/// What a probe compares before and after: owner, depth, inner lock held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    owner: Option<i32>,
    depth: u32,
    held: bool,
}

impl<L, E> Api<L, E> {
    fn state(&self, lock: &L) -> State {
        State {
            owner: (self.owner)(lock),
            depth: (self.depth)(lock),
            held: (self.is_held)(lock),
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.owner {
            Some(pid) => write!(f, "owner {pid}")?,
            None => write!(f, "no owner")?,
        }
        write!(
            f,
            ", depth {}, inner lock {}",
            self.depth,
            if self.held { "held" } else { "free" }
        )
    }
}

/// Runs the scenario around the student's lock; `main.rs` calls this.
pub fn main<L, E: Display>(api: Api<L, E>) -> ExitCode {
    common::main(&PROGRAM, |run| scenario(run, &api))
}

fn scenario<L, E: Display>(mut run: Run, api: &Api<L, E>) -> u8 {
    let rlock = (api.new)().expect("could not make the reentrant lock");
    for _ in 0..PARENT_DEPTH {
        if let Err(e) = (api.acquire)(&rlock) {
            panic!("MainProcess could not take the lock: {e}");
        }
    }
    println!(
        "MainProcess holds the lock and lets go in {} s",
        HOLD.as_secs()
    );

    let mut children: Vec<_> = (1..=CHILDREN)
        .map(|n| run.spawn(&format!("P{n}"), || child(api, &rlock)))
        .collect();
    let mut intruder = run.spawn("intruder", || intrude(api, &rlock));
    run.join(&mut intruder);

    pause(Duration::from_millis(run.int("hold_ms").max(0) as u64));
    println!("MainProcess releases the lock");
    for _ in 0..PARENT_DEPTH {
        if let Err(e) = (api.release)(&rlock) {
            panic!("MainProcess could not release the lock: {e}");
        }
    }
    for c in &mut children {
        run.join(c);
    }

    extra_release(api, &rlock);
    let end = api.state(&rlock);
    if run.all_succeeded() {
        println!("At the end: {end}");
    }
    run.finish(&[
        ("depth", end.depth as i64),
        ("owner", end.owner.unwrap_or(0) as i64),
        ("held", end.held as i64),
    ])
}

fn child<L, E: Display>(api: &Api<L, E>, rlock: &L) {
    let started = now_ns();
    if let Err(e) = (api.child_task)(rlock) {
        panic!("child_task failed: {e}");
    }
    let ended = now_ns();
    let (max_depth, final_depth) = own_depths();
    write_worker(
        &[("max_depth", max_depth), ("final_depth", final_depth)],
        Vec::new(),
        started,
        ended,
    );
}

/// The largest and the last value this process stored in `rlock.depth`.
fn own_depths() -> (i64, i64) {
    let me = current_pid();
    let Some(depth) = trace::objects()
        .into_iter()
        .find(|o| o.label == DEPTH_LABEL)
    else {
        return (0, 0);
    };
    let stores: Vec<i64> = trace::events()
        .iter()
        .filter(|e| e.pid == me && e.kind == EventKind::Store && e.object == depth.id)
        .map(|e| e.value)
        .collect();
    (
        stores.iter().copied().max().unwrap_or(0),
        stores.last().copied().unwrap_or(0),
    )
}

/// Calls `release`, catching a panic so that the probe is written either
/// way (the panic hook has already reported the panic itself).
fn try_release<L, E: Display>(api: &Api<L, E>, rlock: &L) -> Result<String, String> {
    match panic::catch_unwind(AssertUnwindSafe(|| (api.release)(rlock))) {
        Ok(Ok(())) => Ok("returned Ok(())".to_string()),
        Ok(Err(e)) => Err(format!("returned an error: {e}")),
        Err(_) => Err("panicked".to_string()),
    }
}

/// The `intruder` child: a release by a process that never took the lock.
fn intrude<L, E: Display>(api: &Api<L, E>, rlock: &L) {
    let before = api.state(rlock);
    let outcome = try_release(api, rlock);
    let after = api.state(rlock);
    let refused = matches!(&outcome, Err(e) if e.starts_with("returned an error"));
    let passed = refused && after == before;
    let said = outcome.unwrap_or_else(|e| e);
    let detail = format!(
        "release() by {} (pid {}) {said}; before: {before}; after: {after}",
        current_name(),
        current_pid()
    );
    println!("intruder tried to release the lock: {said}");
    write_probe(NON_OWNER_PROBE, passed, detail);
}

/// The parent's release of a lock that is already free.
fn extra_release<L, E: Display>(api: &Api<L, E>, rlock: &L) {
    let free = State {
        owner: None,
        depth: 0,
        held: false,
    };
    let before = api.state(rlock);
    let outcome = try_release(api, rlock);
    let after = api.state(rlock);
    let refused = matches!(&outcome, Err(e) if e.starts_with("returned an error"));
    let passed = refused && before == free && after == free;
    let said = outcome.unwrap_or_else(|e| e);
    let detail = format!("release() on a free lock {said}; before: {before}; after: {after}");
    println!("MainProcess released once more: {said}");
    write_probe(EXTRA_RELEASE_PROBE, passed, detail);
}

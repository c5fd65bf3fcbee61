//! Exercise 05, the reentrant lock: the parent takes the student's lock
//! twice (so that a release which checks the owner only on its last level
//! is caught too), starts two children, `P1` and `P2`, holds the lock a
//! while (`hold_ms`, scaled by the time scale), lets go of both levels,
//! and joins them. Each child runs the student's `child_task(rlock,
//! depth)` `rounds` times: it takes the lock `depth` times and releases it
//! as often, round after round, so that each child's ownership checks meet
//! the other child's holding, not only the parent's.
//!
//! Everything the grader judges is in the trace: every load and store of
//! the lock's parts (`rlock.lock`, `rlock.owner`, `rlock.depth`, labelled
//! by the stub's given constructor), and every call the driver makes to
//! the student's lock with what it returned (the operations
//! `rlock.acquire`, `rlock.release`, `rlock.depth()`, `rlock.owner()`,
//! `rlock.is_held()`; see [`Outcome`] for how a release's result is
//! coded). The driver makes these calls:
//!
//! - the parent's two acquires, and its accessors while it holds the lock;
//! - the `intruder`, a third child, releases a lock it does not own:
//!   while the parent holds it (`probe` 0), or once a child holds it
//!   (`probe` 1);
//! - each child, after each round, asks the accessors;
//! - at the end, with the lock free, the parent releases once more and
//!   asks the accessors.
//!
//! The grader draws `depth` (the lesson: 5), `rounds`, `first` (which
//! child starts first) and `probe` for each run.
//!
//! Report: `Header.params` `depth`, `rounds`, `first`, `probe`,
//! `hold_ms`; `Worker` records `P1` and `P2`; `Summary.finals` `depth`,
//! `owner` (0 = none) and `held` (1 if the inner lock is held at the end),
//! as the accessors answered.

use std::fmt::Display;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Duration;

use course_report::{Param, Params};
use multiproc::trace::{self, ObjectId};
use multiproc::{current_name, current_pid, pause};

use crate::common::{self, now_ns, write_worker, Program, Run};

/// The exercise's slug.
pub const EXERCISE: &str = "reentrant-lock";
/// How many levels the parent takes before the children start. More than
/// one, so that the intruder's release meets an owner above depth 1.
const PARENT_DEPTH: u32 = 2;
/// How many times the intruder looks for a child holding the lock.
const INTRUDER_LOOKS: u32 = 2_000;

const PROGRAM: Program = Program {
    exercise: EXERCISE,
    dir: "exercises/05-reentrant-lock",
    about:
        "the parent holds a reentrant lock for 3 s while two children wait to take it 5 times each",
    demos: &[],
    lesson,
};

/// The lesson's parameters: depth 5, one round, P1 first, the intruder
/// while the parent holds the lock, a 3 s hold.
fn lesson(_seed: u64) -> Params {
    [
        ("depth", 5),
        ("rounds", 1),
        ("first", 1),
        ("probe", 0),
        ("hold_ms", 3000),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Param::Int(v)))
    .collect()
}

/// Why the student's lock refused a release, as the given `RLockError`
/// says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `NotOwner { caller, owner }`.
    NotOwner {
        /// The caller, as the error names it.
        caller: i32,
        /// The owner, as the error names it.
        owner: i32,
    },
    /// `NotHeld`.
    NotHeld,
    /// `Lock(_)`: the inner lock failed.
    Lock,
}

/// How a release's outcome is written in the trace (the value of its
/// `return` event): a code in the low 7 bits, [`Outcome::SILENT`] beside
/// it for a refusal without a message, and for `NotOwner` the owner
/// (bits 8 to 31) and the caller (bits 32 to 55) it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `Ok(())`.
    Ok = 0,
    /// Refused: not the owner.
    NotOwner = 1,
    /// Refused: nobody holds it.
    NotHeld = 2,
    /// Refused: the inner lock failed.
    Lock = 3,
    /// The call panicked.
    Panicked = 4,
}

impl Outcome {
    /// Set beside a refusal's code when the error's message is empty: a
    /// refusal must say why, to whoever reads the panic it ends in.
    pub const SILENT: i64 = 0x80;

    /// The trace value of a call's result.
    pub fn code(result: Result<(), Refusal>) -> i64 {
        match result {
            Ok(()) => Outcome::Ok as i64,
            Err(Refusal::NotOwner { caller, owner }) => {
                Outcome::NotOwner as i64
                    | ((owner as i64 & 0xff_ffff) << 8)
                    | ((caller as i64 & 0xff_ffff) << 32)
            }
            Err(Refusal::NotHeld) => Outcome::NotHeld as i64,
            Err(Refusal::Lock) => Outcome::Lock as i64,
        }
    }
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
    /// What each child does: take the lock `times` times, then release it
    /// as often.
    pub child_task: fn(&L, u32) -> Result<(), E>,
    /// Which refusal an error is (the given `RLockError`'s variants).
    pub refusal: fn(&E) -> Refusal,
}

/// The traced operations on the student's lock.
struct Ops {
    acquire: ObjectId,
    release: ObjectId,
    depth: ObjectId,
    owner: ObjectId,
    is_held: ObjectId,
}

impl Ops {
    fn new() -> Ops {
        Ops {
            acquire: trace::operation("rlock.acquire"),
            release: trace::operation("rlock.release"),
            depth: trace::operation("rlock.depth()"),
            owner: trace::operation("rlock.owner()"),
            is_held: trace::operation("rlock.is_held()"),
        }
    }
}

/// The student's lock with every call the driver makes traced.
struct Traced<'a, L, E> {
    api: &'a Api<L, E>,
    lock: &'a L,
    ops: &'a Ops,
}

impl<L, E: Display> Traced<'_, L, E> {
    /// How a call's result is written in the trace.
    fn outcome(&self, r: &Result<(), E>) -> i64 {
        match r {
            Ok(()) => Outcome::code(Ok(())),
            Err(e) => {
                let silent = e.to_string().trim().is_empty();
                Outcome::code(Err((self.api.refusal)(e))) | if silent { Outcome::SILENT } else { 0 }
            }
        }
    }

    fn acquire(&self) -> Result<(), String> {
        trace::call(self.ops.acquire, 0);
        let r = (self.api.acquire)(self.lock);
        trace::returned(self.ops.acquire, self.outcome(&r));
        r.map_err(|e| e.to_string())
    }

    /// Releases, with panics caught: the outcome is traced either way.
    fn release(&self) -> Result<(), String> {
        trace::call(self.ops.release, 0);
        match panic::catch_unwind(AssertUnwindSafe(|| (self.api.release)(self.lock))) {
            Ok(r) => {
                trace::returned(self.ops.release, self.outcome(&r));
                r.map_err(|e| format!("returned an error: {e}"))
            }
            Err(_) => {
                trace::returned(self.ops.release, Outcome::Panicked as i64);
                Err("panicked".into())
            }
        }
    }

    /// Asks the three accessors, each call traced with its answer.
    fn look(&self) -> (u32, Option<i32>, bool) {
        trace::call(self.ops.depth, 0);
        let depth = (self.api.depth)(self.lock);
        trace::returned(self.ops.depth, depth as i64);
        trace::call(self.ops.owner, 0);
        let owner = (self.api.owner)(self.lock);
        // `None` is -1, so that `Some(0)` is not taken for it.
        trace::returned(self.ops.owner, owner.map_or(-1, i64::from));
        trace::call(self.ops.is_held, 0);
        let held = (self.api.is_held)(self.lock);
        trace::returned(self.ops.is_held, held as i64);
        (depth, owner, held)
    }
}

/// Runs the scenario around the student's lock; `main.rs` calls this.
pub fn main<L, E: Display>(api: Api<L, E>) -> ExitCode {
    common::main(&PROGRAM, |run| scenario(run, &api))
}

fn scenario<L, E: Display>(mut run: Run, api: &Api<L, E>) -> u8 {
    let depth = u32::try_from(run.int("depth")).unwrap_or(0);
    let rounds = run.int("rounds").max(0) as u32;
    let hold = Duration::from_millis(run.int("hold_ms").max(0) as u64);
    let ops = Ops::new();
    let rlock = (api.new)().expect("could not make the reentrant lock");
    let lock = Traced {
        api,
        lock: &rlock,
        ops: &ops,
    };
    for _ in 0..PARENT_DEPTH {
        if let Err(e) = lock.acquire() {
            panic!("could not take the lock: {e}");
        }
    }
    lock.look();
    println!(
        "MainProcess holds the lock and lets go in {} s",
        hold.as_secs()
    );

    let order: [u32; 2] = if run.int("first") == 2 {
        [2, 1]
    } else {
        [1, 2]
    };
    let mut children: Vec<_> = order
        .iter()
        .map(|n| {
            run.spawn(&format!("P{n}"), || {
                child(&lock, depth, rounds);
            })
        })
        .collect();
    let while_a_child_holds = run.int("probe") == 1;
    let mut intruder =
        (!while_a_child_holds).then(|| run.spawn("intruder", || intrude(&lock, false)));
    if let Some(i) = &mut intruder {
        run.join(i);
    }

    pause(hold);
    println!("MainProcess releases the lock");
    for _ in 0..PARENT_DEPTH {
        if let Err(e) = lock.release() {
            panic!("could not release the lock: {e}");
        }
    }
    if while_a_child_holds {
        let mut i = run.spawn("intruder", || intrude(&lock, true));
        run.join(&mut i);
    }
    for c in &mut children {
        run.join(c);
    }

    // A release too many, on a free lock: refused, and nothing changes.
    let extra = lock.release();
    println!(
        "MainProcess released once more: {}",
        extra.err().unwrap_or_else(|| "Ok(())".into())
    );
    let (depth, owner, held) = lock.look();
    if run.all_succeeded() {
        let owner = owner.map_or("no owner".to_string(), |p| format!("owner {p}"));
        println!(
            "At the end: {owner}, depth {depth}, inner lock {}",
            if held { "held" } else { "free" }
        );
    }
    run.finish(&[
        ("depth", depth as i64),
        ("owner", owner.unwrap_or(0) as i64),
        ("held", held as i64),
    ])
}

fn child<L, E: Display>(lock: &Traced<'_, L, E>, depth: u32, rounds: u32) {
    let started = now_ns();
    for _ in 0..rounds {
        if let Err(e) = (lock.api.child_task)(lock.lock, depth) {
            panic!("child_task returned an error: {e}");
        }
        lock.look();
    }
    write_worker(&[("rounds", rounds as i64)], Vec::new(), started, now_ns());
}

/// The `intruder` child: a release by a process that never took the lock,
/// at once (the parent holds it), or (`wait`) once a child holds it.
fn intrude<L, E: Display>(lock: &Traced<'_, L, E>, wait: bool) {
    let me = current_pid();
    if wait {
        for _ in 0..INTRUDER_LOOKS {
            match (lock.api.owner)(lock.lock) {
                Some(owner) if owner != me && owner != parent_pid() => break,
                _ => pause(Duration::from_millis(1)),
            }
        }
    }
    let said = lock.release().err().unwrap_or_else(|| "Ok(())".into());
    println!("{} tried to release the lock: {said}", current_name());
}

/// The parent's pid, as this process sees it.
fn parent_pid() -> i32 {
    nix::unistd::getppid().as_raw()
}

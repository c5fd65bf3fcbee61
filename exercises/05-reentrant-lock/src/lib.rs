//! # Exercise 05: a reentrant lock shared between processes
//!
//! The parent takes a [`ReentrantLock`] and holds it for 3 seconds while
//! two children wait for it; then each child takes it `times` times (the
//! lesson: 5) and releases it as often, maybe several rounds over. Write
//! [`ReentrantLock::acquire`], [`ReentrantLock::release`] and
//! [`child_task`]; everything marked *given* is done for you. The lesson
//! is in this exercise's `README.md`.
//!
//! Grade your work with `cargo grade reentrant-lock` (or `cargo grade 5`).

// Until the functions are written, their arguments and imports go unused;
// this keeps the compiler quiet about that in the meantime.
#![allow(unused_variables, unused_imports)]

use std::fmt;
use std::io;
use std::time::Duration;

use multiproc::{current_name, current_pid, pause, Lock, LockError, Value};

/// How long [`child_task`] pauses each time it has taken the lock (given).
pub const STEP: Duration = Duration::from_millis(10);

/// A lock that the process holding it may take again, shared between
/// processes.
///
/// A plain [`Lock`] refuses a second `acquire` from its holder (it would
/// wait for itself for ever). This one counts instead: the owner may
/// acquire it again and again, and it is free for others only after the
/// owner has released it as many times as it acquired it.
///
/// All three fields live in shared memory, so the parent and every child
/// see the same lock.
pub struct ReentrantLock {
    /// Held by the owner from its first `acquire` to its last `release`.
    lock: Lock,
    /// The owner's pid, or 0 when nobody owns the lock.
    owner: Value<i32>,
    /// How many times the owner has acquired the lock and not yet released
    /// it; 0 when nobody owns it.
    depth: Value<u32>,
}

/// Why a [`ReentrantLock`] operation was refused (given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RLockError {
    /// `release` was called by a process that does not own the lock.
    NotOwner {
        /// The pid of the process that called `release`.
        caller: i32,
        /// The pid of the process that owns the lock.
        owner: i32,
    },
    /// `release` was called while nobody owns the lock: one release more
    /// than there were acquires.
    NotHeld,
    /// The inner [`Lock`] failed, for example because its holder died.
    Lock(LockError),
}

impl fmt::Display for RLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RLockError::NotOwner { caller, owner } => write!(
                f,
                "release refused: process {caller} does not own this lock (process {owner} does)"
            ),
            RLockError::NotHeld => write!(
                f,
                "release refused: nobody holds this lock (it was released more times than it was acquired)"
            ),
            RLockError::Lock(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RLockError {}

impl From<LockError> for RLockError {
    fn from(e: LockError) -> Self {
        RLockError::Lock(e)
    }
}

impl ReentrantLock {
    /// A free lock (given). The labels name its parts in the trace the
    /// grader reads.
    pub fn new() -> io::Result<ReentrantLock> {
        Ok(ReentrantLock {
            lock: Lock::with_label("rlock.lock")?,
            owner: Value::with_label(0, "rlock.owner")?,
            depth: Value::with_label(0, "rlock.depth")?,
        })
    }

    /// Takes the lock for the calling process, waiting while another
    /// process owns it.
    ///
    /// If the caller already owns it, this does not wait: the depth goes
    /// up by one. Otherwise it waits for the inner lock; once it has it,
    /// the caller is the owner, at depth 1. Use [`current_pid`] to know who
    /// the caller is.
    ///
    /// Returns [`RLockError::Lock`] if the inner lock fails.
    pub fn acquire(&self) -> Result<(), RLockError> {
        todo!("acquire")
    }

    /// Gives up one level of the caller's ownership: the depth goes down by
    /// one, and when it reaches 0 nobody owns the lock any more and the
    /// inner lock is released, so another process can take it.
    ///
    /// Refused, leaving owner, depth and inner lock exactly as they were:
    /// - by a process that does not own the lock: [`RLockError::NotOwner`];
    /// - when nobody owns it (one release too many): [`RLockError::NotHeld`].
    pub fn release(&self) -> Result<(), RLockError> {
        todo!("release")
    }

    /// How many times the owner holds the lock; 0 when it is free (given).
    pub fn depth(&self) -> u32 {
        self.depth.load()
    }

    /// The owner's pid, or `None` when the lock is free (given).
    pub fn owner(&self) -> Option<i32> {
        match self.owner.load() {
            0 => None,
            pid => Some(pid),
        }
    }

    /// Whether the inner [`Lock`] is held by anyone (given).
    pub fn is_held(&self) -> bool {
        self.lock.holder().is_some()
    }
}

/// What each child process does: take `rlock` `times` times in a row,
/// each time printing `I am child process P1` (with its own name, from
/// [`current_name`]) and then pausing for [`STEP`]; after that, release it
/// `times` times.
///
/// Returns the first error of `acquire` or `release`.
pub fn child_task(rlock: &ReentrantLock, times: u32) -> Result<(), RLockError> {
    todo!("child_task")
}

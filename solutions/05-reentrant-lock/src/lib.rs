//! # Exercise 05, reference solution: a reentrant lock shared between
//! processes

use std::fmt;
use std::io;
use std::time::Duration;

use multiproc::{current_name, current_pid, pause, Lock, LockError, Value};

/// How long [`child_task`] pauses each time it has taken the lock.
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

/// Why a [`ReentrantLock`] operation was refused.
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
    /// A free lock. The labels name its parts in the trace the
    /// grader reads.
    pub fn new() -> io::Result<ReentrantLock> {
        Ok(ReentrantLock {
            lock: Lock::with_label("rlock.lock")?,
            owner: Value::with_label(0, "rlock.owner")?,
            depth: Value::with_label(0, "rlock.depth")?,
        })
    }

    /// Takes the lock for the calling process, or takes it once more if
    /// the caller already owns it.
    pub fn acquire(&self) -> Result<(), RLockError> {
        let me = current_pid();
        // Reading `owner` without the lock is safe for this one question.
        // Only a process holding the inner lock ever writes its own pid
        // there, and it clears it before letting go; so we read our own pid
        // exactly when we are the owner, and then nobody else can touch
        // `owner` or `depth` until we release.
        if self.owner.load() == me {
            // Not atomic, and it need not be: only the owner writes `depth`.
            self.depth.update(|d| d + 1);
            return Ok(());
        }
        self.lock.acquire()?;
        self.owner.store(me);
        self.depth.store(1);
        Ok(())
    }

    /// Gives up one level of the caller's ownership; the last one frees
    /// the lock. A non-owner's release and an extra release are refused
    /// before anything is changed.
    pub fn release(&self) -> Result<(), RLockError> {
        let me = current_pid();
        match self.owner.load() {
            0 => return Err(RLockError::NotHeld),
            owner if owner != me => return Err(RLockError::NotOwner { caller: me, owner }),
            _ => {}
        }
        let depth = self.depth.load() - 1;
        self.depth.store(depth);
        if depth == 0 {
            // Clear the owner *before* letting go of the inner lock: once it
            // is released, the next owner writes its own pid, and we must
            // not write over it.
            self.owner.store(0);
            self.lock.release()?;
        }
        Ok(())
    }

    /// How many times the owner holds the lock; 0 when it is free.
    pub fn depth(&self) -> u32 {
        self.depth.load()
    }

    /// The owner's pid, or `None` when the lock is free.
    pub fn owner(&self) -> Option<i32> {
        match self.owner.load() {
            0 => None,
            pid => Some(pid),
        }
    }

    /// Whether the inner [`Lock`] is held by anyone.
    pub fn is_held(&self) -> bool {
        self.lock.holder().is_some()
    }
}

/// Takes `rlock` `times` times, saying so each time, then releases it as
/// many times.
pub fn child_task(rlock: &ReentrantLock, times: u32) -> Result<(), RLockError> {
    for _ in 0..times {
        rlock.acquire()?;
        println!("I am child process {}", current_name());
        pause(STEP);
    }
    for _ in 0..times {
        rlock.release()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_can_take_it_again_and_must_release_as_often() {
        let rlock = ReentrantLock::new().unwrap();
        for depth in 1..=3 {
            rlock.acquire().unwrap();
            assert_eq!(rlock.depth(), depth);
        }
        assert_eq!(rlock.owner(), Some(current_pid()));
        for depth in (0..3).rev() {
            assert!(rlock.is_held());
            rlock.release().unwrap();
            assert_eq!(rlock.depth(), depth);
        }
        assert_eq!(rlock.owner(), None);
        assert!(!rlock.is_held());
    }

    #[test]
    fn an_extra_release_is_refused_and_changes_nothing() {
        let rlock = ReentrantLock::new().unwrap();
        assert_eq!(rlock.release(), Err(RLockError::NotHeld));
        assert_eq!(
            (rlock.owner(), rlock.depth(), rlock.is_held()),
            (None, 0, false)
        );
        assert!(RLockError::NotHeld
            .to_string()
            .starts_with("release refused"));
    }
}

//! A lock that several processes share.
//!
//! A lock between processes is possible because the lock is just memory: a
//! `pthread_mutex_t` placed in a `MAP_SHARED` page and initialised with
//! `PTHREAD_PROCESS_SHARED`, so the kernel's futex wait and wake work on it
//! across address spaces. It is also *robust*: if the process holding it
//! dies, the kernel marks it, and the next acquirer is told the holder died
//! instead of waiting forever.
//!
//! Next to the mutex the lock keeps the pid of its holder. That is what lets
//! [`Lock::release`] refuse a caller that does not hold it (releasing
//! someone else's lock is undefined behaviour for a plain pthread mutex),
//! and lets the grader and the scheduler see who holds what.

use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicI32, Ordering::*};
use std::time::{Duration, Instant};

use crate::process::current_pid;
use crate::sched::{self, Op};
use crate::shm::Shared;
use crate::trace::{self, EventKind, ObjectId, ObjectKind};

/// Why a lock operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockError {
    /// The process that held the lock died while holding it. The lock has
    /// been recovered and is free again; whatever it protected may be half
    /// updated. Call `acquire` again to take it.
    HolderDied {
        /// The pid of the process that died holding the lock.
        pid: i32,
    },
    /// `release` was called by a process that does not hold the lock.
    NotHolder {
        /// Who holds it now (`None` if nobody does).
        holder: Option<i32>,
    },
    /// The caller already holds this lock: taking it again would wait
    /// forever for itself. (A [`Lock`] is not reentrant.)
    WouldDeadlock,
    /// The operating system refused with this error number.
    Os(i32),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::HolderDied { pid } => write!(
                f,
                "holder died: process {pid} died holding the lock; it has been recovered and is free"
            ),
            LockError::NotHolder { holder: Some(h) } => write!(
                f,
                "release refused: process {} does not hold this lock (process {h} does)",
                current_pid()
            ),
            LockError::NotHolder { holder: None } => write!(
                f,
                "release refused: the lock is not held by anyone (process {} released it too many times)",
                current_pid()
            ),
            LockError::WouldDeadlock => write!(
                f,
                "process {} already holds this lock; acquiring it again would wait forever",
                current_pid()
            ),
            LockError::Os(e) => write!(f, "lock error: {}", io::Error::from_raw_os_error(*e)),
        }
    }
}

impl std::error::Error for LockError {}

struct LockCell {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    /// Pid of the holder, 0 when free. Written only by the holder, while
    /// it holds the mutex.
    holder: AtomicI32,
}

// SAFETY: the mutex is only touched through pthread calls, which are made
// for concurrent use; `holder` is atomic.
unsafe impl Sync for LockCell {}

/// A mutual-exclusion lock shared between processes.
///
/// Create it before starting the processes that use it; they all see the
/// same lock. At most one process holds it at a time.
pub struct Lock {
    cell: Shared<LockCell>,
    id: ObjectId,
    /// Whether its operations go into the trace: not for the locks the
    /// runtime keeps inside other objects (a value's own lock, a queue's
    /// read lock), whose operations are the runtime's, not the program's.
    traced: bool,
}

impl Lock {
    /// Creates a free lock.
    pub fn new() -> io::Result<Lock> {
        Lock::with_label("")
    }

    /// Creates a free lock with a label that names it in traces.
    pub fn with_label(label: &str) -> io::Result<Lock> {
        Lock::make(label, true)
    }

    /// A lock the runtime keeps inside another object: scheduled like any
    /// lock, but not traced.
    pub(crate) fn internal(label: &str) -> io::Result<Lock> {
        Lock::make(label, false)
    }

    fn make(label: &str, traced: bool) -> io::Result<Lock> {
        // SAFETY: all-zero bytes are a valid `pthread_mutex_t` on glibc and
        // a valid `AtomicI32`; the mutex is initialised below before use.
        let cell = unsafe { Shared::<LockCell>::zeroed() }?;
        // SAFETY: `attr` is initialised before it is used and destroyed
        // after; the mutex is initialised in place, in shared memory, and
        // never moved afterwards.
        unsafe {
            let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            os(libc::pthread_mutexattr_init(attr.as_mut_ptr()))?;
            let attr = attr.as_mut_ptr();
            let set = os(libc::pthread_mutexattr_setpshared(
                attr,
                libc::PTHREAD_PROCESS_SHARED,
            ))
            .and(os(libc::pthread_mutexattr_setrobust(
                attr,
                libc::PTHREAD_MUTEX_ROBUST,
            )))
            .and(os(libc::pthread_mutexattr_settype(
                attr,
                libc::PTHREAD_MUTEX_ERRORCHECK,
            )))
            .and(os(libc::pthread_mutex_init(
                (*cell.as_ptr()).mutex.get(),
                attr,
            )));
            libc::pthread_mutexattr_destroy(attr);
            set?;
        }
        let id = trace::register(ObjectKind::Lock, label);
        Ok(Lock { cell, id, traced })
    }

    /// The id that names this lock in traces.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Waits until the lock is free, then takes it.
    #[inline]
    pub fn acquire(&self) -> Result<(), LockError> {
        if sched::active() {
            return self.acquire_scheduled();
        }
        // SAFETY: the mutex was initialised in `with_label`.
        let rc = unsafe { libc::pthread_mutex_lock(self.mutex()) };
        self.taken(rc).map(|_| ())
    }

    /// `acquire` when scheduling points are active (perturbed or
    /// controlled runs): kept out of line so the plain path stays short.
    #[cold]
    fn acquire_scheduled(&self) -> Result<(), LockError> {
        sched::point(Op::acquire(self.id));
        if sched::controlled() {
            // Under the course's scheduler only one process runs at a time,
            // so "try, and if busy let the scheduler run someone else" is
            // the whole of waiting.
            if self.held_by_me() {
                return Err(LockError::WouldDeadlock);
            }
            while !self.try_take()? {
                match self.holder() {
                    // The holder has ended but the kernel may not have
                    // marked the mutex yet: wait for that, then the next
                    // try gets "holder died".
                    Some(pid) if sched::has_ended(pid) => sched::await_exit(pid),
                    _ => sched::block_on(Op::acquire(self.id)),
                }
            }
            return Ok(());
        }
        // SAFETY: the mutex was initialised in `with_label`.
        let rc = unsafe { libc::pthread_mutex_lock(self.mutex()) };
        self.taken(rc).map(|_| ())
    }

    /// Takes the lock if it is free right now; returns whether it did.
    pub fn try_acquire(&self) -> Result<bool, LockError> {
        sched::point(Op::acquire(self.id));
        let taken = self.try_take()?;
        if !taken {
            sched::gave_way();
        }
        Ok(taken)
    }

    /// Waits at most `timeout` for the lock; returns whether it was taken.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool, LockError> {
        sched::point(Op::acquire(self.id));
        if sched::controlled() {
            // Logical time: a timed wait gets one chance after every other
            // process has had a turn.
            if self.try_take()? {
                return Ok(true);
            }
            return self.try_acquire();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let now = libc_realtime_after(deadline.saturating_duration_since(Instant::now()));
            // SAFETY: the mutex was initialised; `now` is a valid timespec.
            let rc = unsafe { libc::pthread_mutex_timedlock(self.mutex(), &now) };
            match rc {
                libc::ETIMEDOUT => return Ok(false),
                libc::EINTR => continue,
                rc => return self.taken(rc),
            }
        }
    }

    /// Gives the lock up. Only the holder may release it; anyone else gets
    /// [`LockError::NotHolder`] and the lock is left as it was.
    #[inline]
    pub fn release(&self) -> Result<(), LockError> {
        sched::point(Op::release(self.id));
        let me = current_pid();
        let holder = self.cell.holder.load(Relaxed);
        if holder != me {
            return Err(LockError::NotHolder {
                holder: (holder != 0).then_some(holder),
            });
        }
        if self.traced {
            trace::record(EventKind::Release, self.id, 0);
        }
        self.cell.holder.store(0, Relaxed);
        // SAFETY: we hold the mutex (checked above).
        let rc = unsafe { libc::pthread_mutex_unlock(self.mutex()) };
        sched::wake(self.id);
        os(rc).map_err(|e| LockError::Os(e.raw_os_error().unwrap_or(0)))
    }

    /// Takes the lock and returns a guard that releases it when dropped.
    pub fn guard(&self) -> Result<LockGuard<'_>, LockError> {
        self.acquire()?;
        Ok(LockGuard { lock: self })
    }

    /// The pid of the process holding the lock, if any.
    pub fn holder(&self) -> Option<i32> {
        let h = self.cell.holder.load(Relaxed);
        (h != 0).then_some(h)
    }

    /// Whether the calling process holds the lock.
    pub fn held_by_me(&self) -> bool {
        self.cell.holder.load(Relaxed) == current_pid()
    }

    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        self.cell.mutex.get()
    }

    fn try_take(&self) -> Result<bool, LockError> {
        // SAFETY: the mutex was initialised in `with_label`.
        match unsafe { libc::pthread_mutex_trylock(self.mutex()) } {
            libc::EBUSY => Ok(false),
            rc => self.taken(rc),
        }
    }

    /// Finishes a lock call that returned `rc`.
    #[inline]
    fn taken(&self, rc: i32) -> Result<bool, LockError> {
        if rc != 0 {
            return self.not_taken(rc);
        }
        self.cell.holder.store(current_pid(), Relaxed);
        if self.traced {
            trace::record(EventKind::Acquire, self.id, 1);
        }
        Ok(true)
    }

    /// Finishes a lock call that did not simply succeed.
    #[cold]
    fn not_taken(&self, rc: i32) -> Result<bool, LockError> {
        match rc {
            libc::EOWNERDEAD => {
                // The kernel handed us the mutex of a dead holder. Mark it
                // consistent (usable again), then free it and say so.
                let dead = self.cell.holder.swap(0, Relaxed);
                if self.traced {
                    trace::record(EventKind::HolderDied, self.id, dead as i64);
                }
                // SAFETY: we own the mutex; consistent+unlock is the
                // documented recovery sequence for a robust mutex.
                unsafe {
                    libc::pthread_mutex_consistent(self.mutex());
                    libc::pthread_mutex_unlock(self.mutex());
                }
                sched::wake(self.id);
                Err(LockError::HolderDied { pid: dead })
            }
            libc::EDEADLK => Err(LockError::WouldDeadlock),
            rc => Err(LockError::Os(rc)),
        }
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lock#{}(holder: {:?})", self.id, self.holder())
    }
}

/// Holds a [`Lock`] until dropped. Made by [`Lock::guard`].
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // The guard's holder is the caller, so release cannot be refused.
        let _ = self.lock.release();
    }
}

fn os(rc: i32) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// `pthread_mutex_timedlock` wants a wall-clock deadline.
fn libc_realtime_after(d: Duration) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let nanos = now.tv_nsec as u64 + d.subsec_nanos() as u64;
    libc::timespec {
        tv_sec: now.tv_sec + d.as_secs() as libc::time_t + (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as _,
    }
}

//! A first-in first-out queue between processes, built the way CPython's
//! `multiprocessing.Queue` is: a pipe, plus a lock that readers take so that
//! two readers never split one item between them.
//!
//! Items are plain integers ([`Plain`]), written to the pipe as 8 bytes each.
//! A pipe write of up to `PIPE_BUF` bytes is atomic, so two writers never
//! interleave their bytes.
//!
//! Like the real thing, [`Queue::empty`] is only a snapshot. Between asking
//! "is it empty?" and calling [`Queue::get`], another process may take the
//! last item, and then `get` waits forever for an item that never comes.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::lock::{Lock, LockError};
use crate::sched::{self, Op};
use crate::trace::{self, EventKind, ObjectId, ObjectKind};
use crate::value::Plain;

const ITEM: usize = 8;

/// A queue of plain integers shared between processes.
pub struct Queue<T: Plain> {
    read_end: OwnedFd,
    write_end: OwnedFd,
    /// Held by a reader for the whole of one `get`.
    read_lock: Lock,
    id: ObjectId,
    _type: PhantomData<T>,
}

impl<T: Plain> Queue<T> {
    /// An empty queue.
    pub fn new() -> io::Result<Queue<T>> {
        Queue::with_label("")
    }

    /// An empty queue with a label that names it in traces.
    pub fn with_label(label: &str) -> io::Result<Queue<T>> {
        let (read_end, write_end) = nix::unistd::pipe()?;
        let id = trace::register(ObjectKind::Queue, label);
        let read_lock = Lock::internal(&format!("{label}.read-lock"))?;
        Ok(Queue {
            read_end,
            write_end,
            read_lock,
            id,
            _type: PhantomData,
        })
    }

    /// The id that names this queue in traces.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Adds an item at the back. Waits only if the pipe is full (64 KiB,
    /// that is 8192 items, with nobody reading).
    pub fn put(&self, item: T) -> io::Result<()> {
        sched::point(Op::put(self.id));
        let bytes = item.to_bits().to_le_bytes();
        loop {
            match nix::unistd::write(&self.write_end, &bytes) {
                Ok(ITEM) => break,
                Ok(_) => return Err(io::Error::other("short write to the queue's pipe")),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        trace::record(EventKind::Put, self.id, item.to_i64());
        sched::wake(self.id);
        Ok(())
    }

    /// Takes the item at the front, waiting as long as it takes for one.
    pub fn get(&self) -> Result<T, QueueError> {
        sched::point(Op::get(self.id));
        if sched::controlled() {
            loop {
                if let Some(item) = self.take_ready(Duration::ZERO)? {
                    return Ok(item);
                }
                sched::block_on(Op::get(self.id));
            }
        }
        self.read_lock.acquire()?;
        let item = self.read_item();
        self.read_lock.release()?;
        item
    }

    /// Takes the item at the front if one is there now.
    ///
    /// Like CPython's `get_nowait`, it does not wait for the read lock
    /// either: `None` can also mean that another process was in the middle
    /// of taking an item. A drain that stops at the first `None` may stop
    /// early, but never takes an item twice or loses one.
    pub fn try_get(&self) -> Result<Option<T>, QueueError> {
        sched::point(Op::get(self.id));
        let item = self.take_ready(Duration::ZERO)?;
        if item.is_none() {
            sched::gave_way();
        }
        Ok(item)
    }

    /// Takes the item at the front, waiting at most `timeout` for one.
    pub fn get_timeout(&self, timeout: Duration) -> Result<Option<T>, QueueError> {
        sched::point(Op::get(self.id));
        if sched::controlled() {
            // Logical time: one more chance after the others have had a turn.
            if let Some(item) = self.take_ready(Duration::ZERO)? {
                return Ok(Some(item));
            }
            return self.try_get();
        }
        self.take_ready(timeout)
    }

    /// Whether the queue is empty *right now*. By the time you act on the
    /// answer it may be wrong: another process may have put or taken an item.
    pub fn empty(&self) -> bool {
        sched::point(Op::empty(self.id));
        let empty = !self.readable(Duration::ZERO).unwrap_or(false);
        trace::record(EventKind::Empty, self.id, empty as i64);
        empty
    }

    /// Takes the read lock, then an item if one arrives within `timeout`.
    fn take_ready(&self, timeout: Duration) -> Result<Option<T>, QueueError> {
        let deadline = Instant::now() + timeout;
        if !self.read_lock.acquire_timeout(timeout)? {
            return Ok(None);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let item = match self.readable(left) {
            Ok(true) => self.read_item().map(Some),
            Ok(false) => Ok(None),
            Err(e) => Err(QueueError::Io(e.to_string())),
        };
        self.read_lock.release()?;
        // A reader that found the read lock busy blocked on the queue (see
        // `get`): let it look again now that the lock is free.
        sched::wake(self.id);
        item
    }

    /// Waits at most `timeout` for the pipe to have data.
    fn readable(&self, timeout: Duration) -> io::Result<bool> {
        // Round up: poll counts whole milliseconds, and a wait must never
        // be shorter than asked.
        let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(self.read_end.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(n) => return Ok(n > 0),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads one item, waiting for it. The caller holds the read lock.
    fn read_item(&self) -> Result<T, QueueError> {
        let mut buf = [0u8; ITEM];
        let mut got = 0;
        while got < ITEM {
            match nix::unistd::read(&self.read_end, &mut buf[got..]) {
                Ok(0) => return Err(QueueError::Io("the queue's pipe was closed".into())),
                Ok(n) => got += n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(QueueError::Io(e.to_string())),
            }
        }
        let item = T::from_bits(u64::from_le_bytes(buf));
        trace::record(EventKind::Get, self.id, item.to_i64());
        Ok(item)
    }
}

/// Why a queue operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The queue's read lock failed (its holder died, for example).
    Lock(LockError),
    /// Reading the pipe failed.
    Io(String),
}

impl From<LockError> for QueueError {
    fn from(e: LockError) -> Self {
        QueueError::Lock(e)
    }
}

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueError::Lock(e) => write!(f, "queue: {e}"),
            QueueError::Io(e) => write!(f, "queue: {e}"),
        }
    }
}

impl std::error::Error for QueueError {}

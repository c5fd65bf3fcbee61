//! # multiproc: processes that share memory, and the locks that keep them honest
//!
//! This crate is the course's counterpart of Python's `multiprocessing`,
//! small enough to read in one sitting. Everything here is real: a
//! [`Process`] is a `fork`ed child, a [`Value`] lives in memory mapped
//! `MAP_SHARED` into every process, a [`Lock`] is a process-shared, robust
//! pthread mutex inside that memory, and a [`Queue`] is a pipe.
//!
//! ```
//! use multiproc::{Lock, Process, Value};
//!
//! let balance = Value::new(600).unwrap();
//! let lock = Lock::new().unwrap();
//! let mut deposit = Process::start("deposit", || {
//!     for _ in 0..100 {
//!         let _held = lock.guard().unwrap();
//!         balance.update(|b| b + 5);
//!     }
//! })
//! .unwrap();
//! for _ in 0..100 {
//!     let _held = lock.guard().unwrap();
//!     balance.update(|b| b - 5);
//! }
//! assert!(deposit.join().unwrap().success());
//! assert_eq!(balance.load(), 600);
//! ```
//!
//! Modules, in reading order:
//! - [`process`]: start a child, join it, see how it ended.
//! - [`value`]: a shared integer, and why `update` is not atomic.
//! - [`lock`]: a lock between processes, and what happens when its holder dies.
//! - [`queue`]: a pipe with a read lock, and why `empty()` is only a snapshot.
//! - [`time`]: `pause`, on a clock the grader can speed up.
//! - [`sched`]: the scheduling points every operation passes through, where
//!   races are made to happen and replayed.
//! - [`trace`]: the shared event log the grader reads.
//! - `shm` (private): the shared mapping everything above lives in.

pub mod lock;
pub mod process;
pub mod queue;
pub mod sched;
mod shm;
pub mod time;
pub mod trace;
pub mod value;

pub use lock::{Lock, LockError, LockGuard};
pub use process::{current_name, current_pid, ExitStatus, Process};
pub use queue::{Queue, QueueError};
pub use time::pause;
pub use value::{Plain, Value};

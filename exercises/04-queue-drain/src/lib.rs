//! # Exercise 04: draining a queue from two processes
//!
//! The parent puts 100 items on a [`Queue`]; then two children, `P1` and
//! `P2`, each run [`drain`] on it until it is empty. The obvious loop,
//! "while the queue is not empty, get an item", can hang for ever. Write a
//! drain that cannot. The lesson is in this exercise's `README.md`; watch
//! the hang with `cargo run -p queue-drain -- --demo faulty`.
//!
//! Grade your work with `cargo grade queue-drain` (or `cargo grade 4`).

// Until the function is written, its arguments and imports go unused;
// this keeps the compiler quiet about that in the meantime.
#![allow(unused_variables, unused_imports)]

use std::time::Duration;

use multiproc::{pause, Lock, Queue, QueueError};

/// A short rest after each item, outside the lock (given). Without it one
/// child may take every item before the other has even started: not wrong,
/// but not much of a lesson either.
pub const TURN: Duration = Duration::from_millis(1);

/// Takes items off `queue` until it is empty, and returns them in the
/// order they were taken.
///
/// The other child drains the same queue at the same time, with the same
/// `lock`. All items were put before either child started, so an empty
/// queue means the work is done. Every item must be taken exactly once,
/// and the function must always return: it must never wait in
/// [`Queue::get`] for an item that the other child took first.
///
/// After each item, [`pause`]`(TURN)` without holding the lock, so the
/// other child gets a turn.
///
/// Returns an error if the lock or the queue fails.
pub fn drain(queue: &Queue<u32>, lock: &Lock) -> Result<Vec<u32>, QueueError> {
    todo!("drain")
}

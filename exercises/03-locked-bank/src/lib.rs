//! # Exercise 03: the locked bank
//!
//! The race of exercise 02, fixed: the `deposit` and `withdraw` processes
//! share a [`Lock`], and each change of the balance happens while holding
//! it. Write the two functions below. The lesson, including a trap that
//! looks like a fix but is not, is in this exercise's `README.md`.
//!
//! Grade your work with `cargo grade locked-bank` (or `cargo grade 3`).

// Until the functions are written, their arguments and imports go unused;
// this keeps the compiler quiet about that in the meantime.
#![allow(unused_variables, unused_imports)]

use std::time::Duration;

use multiproc::{pause, Lock, LockError, Value};

/// How long each step waits before it changes the balance (given).
pub const STEP: Duration = Duration::from_millis(10);

/// Adds `amount` to the shared `balance`, `steps` times, so that no change
/// is ever lost.
///
/// Each step first waits with [`pause`]`(STEP)` (without the lock: nobody
/// should have to wait while we sleep), then changes the balance while
/// holding `lock`, the lock the other process takes too. The whole change,
/// the read *and* the write, must happen under the lock.
///
/// Returns the lock's error if taking it fails (for instance
/// [`LockError::HolderDied`] when the other process died holding it).
pub fn deposit(
    balance: &Value<i64>,
    lock: &Lock,
    amount: i64,
    steps: u32,
) -> Result<(), LockError> {
    todo!("deposit")
}

/// Subtracts `amount` from the shared `balance`, `steps` times, the same
/// way as [`deposit`].
pub fn withdraw(
    balance: &Value<i64>,
    lock: &Lock,
    amount: i64,
    steps: u32,
) -> Result<(), LockError> {
    todo!("withdraw")
}

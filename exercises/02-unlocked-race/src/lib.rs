//! # Exercise 02: the unlocked race
//!
//! The same bank as exercise 01, but now the balance is shared: a
//! `deposit` process and a `withdraw` process change one [`Value`] in
//! shared memory at the same time, with no lock. Write the two functions
//! below the plain way, read the balance and write it back changed, and
//! watch what two processes do to each other. The lesson is in this
//! exercise's `README.md`.
//!
//! Grade your work with `cargo grade unlocked-race` (or `cargo grade 2`).

// Until the functions are written, their arguments and imports go unused;
// this keeps the compiler quiet about that in the meantime.
#![allow(unused_variables, unused_imports)]

use std::time::Duration;

use multiproc::{pause, Value};

/// How long each step waits before it changes the balance (given).
pub const STEP: Duration = Duration::from_millis(10);

/// Adds `amount` to the shared `balance`, `steps` times.
///
/// Each step first waits with [`pause`]`(STEP)`, then reads the balance and
/// stores it back plus `amount`, the plain way: [`Value::update`], or a
/// [`Value::load`] followed by a [`Value::store`]. Take no lock: this
/// exercise is about what happens without one.
pub fn deposit(balance: &Value<i64>, amount: i64, steps: u32) {
    todo!("deposit")
}

/// Subtracts `amount` from the shared `balance`, `steps` times, the same
/// way as [`deposit`].
pub fn withdraw(balance: &Value<i64>, amount: i64, steps: u32) {
    todo!("withdraw")
}

//! # Exercise 01: the sequential bank
//!
//! One process, no sharing: deposit 5 a hundred times, then withdraw 5 a
//! hundred times, starting from 600. Write the two functions below; the
//! lesson is in this exercise's `README.md`.
//!
//! Grade your work with `cargo grade sequential-bank` (or `cargo grade 1`).

// Until the functions are written, their arguments and imports go unused;
// this keeps the compiler quiet about that in the meantime.
#![allow(unused_variables, unused_imports)]

use std::time::Duration;

use multiproc::pause;

/// How long each step waits before it changes the balance (given). It
/// stands for the time a real bank spends on each operation.
pub const STEP: Duration = Duration::from_millis(10);

/// Deposits `amount` into `balance`, `steps` times, and returns the new
/// balance.
///
/// Each step first waits with [`pause`]`(STEP)`, then adds `amount`.
/// Starting from 600, `deposit(600, 5, 100)` returns 1100.
pub fn deposit(balance: i64, amount: i64, steps: u32) -> i64 {
    todo!("deposit")
}

/// Withdraws `amount` from `balance`, `steps` times, and returns the new
/// balance.
///
/// Each step first waits with [`pause`]`(STEP)`, then subtracts `amount`.
/// So `withdraw(deposit(600, 5, 100), 5, 100)` is 600 again.
pub fn withdraw(balance: i64, amount: i64, steps: u32) -> i64 {
    todo!("withdraw")
}

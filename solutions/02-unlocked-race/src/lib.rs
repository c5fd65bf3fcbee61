//! # Exercise 02, reference solution: the unlocked race
//!
//! Racy on purpose: this is the code the lesson warns about.

use std::time::Duration;

use multiproc::{pause, Value};

/// How long each step waits before it changes the balance.
pub const STEP: Duration = Duration::from_millis(10);

/// Adds `amount` to the shared `balance`, `steps` times, without a lock.
pub fn deposit(balance: &Value<i64>, amount: i64, steps: u32) {
    for _ in 0..steps {
        pause(STEP);
        // A load, then a store. If the other process stores between the
        // two, our store writes over its change, and that change is lost.
        balance.update(|b| b + amount);
    }
}

/// Subtracts `amount` from the shared `balance`, `steps` times, without a
/// lock.
pub fn withdraw(balance: &Value<i64>, amount: i64, steps: u32) {
    for _ in 0..steps {
        pause(STEP);
        balance.update(|b| b - amount);
    }
}

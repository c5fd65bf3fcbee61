//! # Exercise 01, reference solution: the sequential bank
//!
//! One process owns the balance, so a plain `i64` passed in and returned
//! is all it takes: nobody else can change it between our read and our
//! write.

use std::time::Duration;

use multiproc::pause;

/// How long each step waits before it changes the balance.
pub const STEP: Duration = Duration::from_millis(10);

/// Deposits `amount` into `balance`, `steps` times, and returns the new
/// balance.
pub fn deposit(balance: i64, amount: i64, steps: u32) -> i64 {
    let mut balance = balance;
    for _ in 0..steps {
        pause(STEP);
        balance += amount;
    }
    balance
}

/// Withdraws `amount` from `balance`, `steps` times, and returns the new
/// balance.
pub fn withdraw(balance: i64, amount: i64, steps: u32) -> i64 {
    let mut balance = balance;
    for _ in 0..steps {
        pause(STEP);
        balance -= amount;
    }
    balance
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deposit_and_a_withdrawal_cancel_out() {
        multiproc::time::set_time_scale(0.0);
        let after_deposit = deposit(600, 5, 100);
        assert_eq!(after_deposit, 1100);
        assert_eq!(withdraw(after_deposit, 5, 100), 600);
    }
}

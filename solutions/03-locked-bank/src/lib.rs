//! # Exercise 03, reference solution: the locked bank

use std::time::Duration;

use multiproc::{pause, Lock, LockError, Value};

/// How long each step waits before it changes the balance.
pub const STEP: Duration = Duration::from_millis(10);

/// Adds `amount` to the shared `balance`, `steps` times, under `lock`.
pub fn deposit(
    balance: &Value<i64>,
    lock: &Lock,
    amount: i64,
    steps: u32,
) -> Result<(), LockError> {
    change(balance, lock, amount, steps)
}

/// Subtracts `amount` from the shared `balance`, `steps` times, under `lock`.
pub fn withdraw(
    balance: &Value<i64>,
    lock: &Lock,
    amount: i64,
    steps: u32,
) -> Result<(), LockError> {
    change(balance, lock, -amount, steps)
}

fn change(balance: &Value<i64>, lock: &Lock, by: i64, steps: u32) -> Result<(), LockError> {
    for _ in 0..steps {
        // Sleep outside the lock, so the other process can work meanwhile.
        pause(STEP);
        // The guard holds the lock from here to the end of the iteration:
        // the load and the store inside `update` happen with no other
        // writer in between, so no change can be written over.
        let _held = lock.guard()?;
        balance.update(|b| b + by);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_deposits_and_withdraws_back_to_the_start() {
        multiproc::time::set_time_scale(0.0);
        let balance = Value::new(600).unwrap();
        let lock = Lock::new().unwrap();
        deposit(&balance, &lock, 5, 100).unwrap();
        assert_eq!(balance.load(), 1100);
        withdraw(&balance, &lock, 5, 100).unwrap();
        assert_eq!(balance.load(), 600);
        assert_eq!(lock.holder(), None, "the lock is released after every step");
    }
}

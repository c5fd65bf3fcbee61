//! Exercise 03, the locked bank: the race of exercise 02, with a [`Lock`]
//! the two processes share.
//!
//! The balance is again a [`Value::synchronized`], like Python's default
//! `Value`: its own lock, taken around each single load and store, is *not*
//! enough, and a solution that leans on it still loses updates. The lock
//! that counts is the one handed to the student's functions, labelled
//! `lock`.
//!
//! `--demo unlocked` runs the lesson's bank without a lock in place of the
//! student's functions (the lock is made but never taken), under the same
//! exercise name, so the grader judges it as it would a submission.
//!
//! Report: `Header.params` `start`, `amount`, `steps`; objects `balance`
//! (with its own `balance.lock`) and `lock`; `Worker` records `deposit` and
//! `withdraw` with counts `steps`; `Summary.finals` `balance`.

use std::process::ExitCode;
use std::time::Duration;

use multiproc::{pause, Lock, LockError, Value};

use crate::bank::{self, Bank};
use crate::common::{self, Demo, Program, Run};

/// The exercise's slug.
pub const EXERCISE: &str = "locked-bank";

const PROGRAM: Program = Program {
    exercise: EXERCISE,
    dir: "exercises/03-locked-bank",
    about: "two processes deposit and withdraw 5, 100 times each, on one shared balance of 600, under a lock",
    demos: &[Demo {
        name: "unlocked",
        about: "the bank without a lock: watch the final balance drift from 600",
    }],
    lesson: bank::lesson,
};

/// The signature of the student's `deposit` and `withdraw`.
pub type Step =
    fn(balance: &Value<i64>, lock: &Lock, amount: i64, steps: u32) -> Result<(), LockError>;

/// Runs the scenario around the student's functions; `main.rs` calls this.
pub fn main(deposit: Step, withdraw: Step) -> ExitCode {
    common::main(&PROGRAM, |run| scenario(run, deposit, withdraw))
}

fn scenario(mut run: Run, deposit: Step, withdraw: Step) -> u8 {
    let (deposit, withdraw): (Step, Step) = match run.demo() {
        Some(_unlocked) => (unlocked_deposit, unlocked_withdraw),
        None => (deposit, withdraw),
    };
    let bank = Bank::of(&run);
    let balance =
        Value::synchronized(bank.start, "balance").expect("could not map the shared balance");
    let lock = Lock::with_label("lock").expect("could not map the shared lock");
    let step = |name: &str, f: Step| {
        if let Err(e) = f(&balance, &lock, bank.amount, bank.steps) {
            panic!("{name} returned an error: {e}");
        }
    };
    bank::two_workers(
        &mut run,
        bank.steps,
        || step("deposit", deposit),
        || step("withdraw", withdraw),
    );
    let last = balance.load();
    if run.all_succeeded() {
        bank::print_final(&bank, last);
    }
    run.finish(&[("balance", last)])
}

const STEP_PAUSE: Duration = Duration::from_millis(10);

/// The lesson's deposit without a lock: the lock is handed over and ignored.
fn unlocked_deposit(
    balance: &Value<i64>,
    _lock: &Lock,
    amount: i64,
    steps: u32,
) -> Result<(), LockError> {
    for _ in 0..steps {
        pause(STEP_PAUSE);
        balance.update(|b| b + amount);
    }
    Ok(())
}

/// The lesson's withdrawal without a lock.
fn unlocked_withdraw(
    balance: &Value<i64>,
    _lock: &Lock,
    amount: i64,
    steps: u32,
) -> Result<(), LockError> {
    for _ in 0..steps {
        pause(STEP_PAUSE);
        balance.update(|b| b - amount);
    }
    Ok(())
}

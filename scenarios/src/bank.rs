//! The bank the first three exercises share: a balance, and a deposit and
//! a withdrawal of the same amount, the same number of times each. Done
//! one after the other, they cancel out exactly; the question of exercises
//! 2 and 3 is what happens when two processes do them at the same time.
//!
//! The lesson's bank starts at 600 and moves 5, one hundred times each
//! way; the grader draws other values for each run, so that no number can
//! be written into a solution.

use course_report::{Param, Params};

use crate::common::{now_ns, write_worker, Run};

/// The lesson's starting balance.
pub const START: i64 = 600;
/// The lesson's amount of every deposit and every withdrawal.
pub const AMOUNT: i64 = 5;
/// The lesson's number of deposits, and of withdrawals.
pub const STEPS: i64 = 100;

/// The lesson's parameters: `start`, `amount`, `steps`, and `first`
/// (deposit is started first; the one-process bank has no use for it).
pub fn lesson(_seed: u64) -> Params {
    [
        ("start", START),
        ("amount", AMOUNT),
        ("steps", STEPS),
        ("first", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Param::Int(v)))
    .collect()
}

/// A run's bank: its parameters, as the grader gave them.
#[derive(Clone, Copy, Debug)]
pub struct Bank {
    /// The starting balance.
    pub start: i64,
    /// The amount of every deposit and every withdrawal.
    pub amount: i64,
    /// How many deposits, and how many withdrawals.
    pub steps: u32,
}

impl Bank {
    /// The bank of this run.
    pub fn of(run: &Run) -> Bank {
        Bank {
            start: run.int("start"),
            amount: run.int("amount"),
            steps: u32::try_from(run.int("steps")).unwrap_or(0),
        }
    }
}

/// Starts `deposit` and `withdraw` as two processes (named `deposit` and
/// `withdraw`), in the order the run's `first` parameter gives (1: deposit
/// first, 2: withdraw first), and waits for both. Each child writes its
/// own `Worker` record, with the number of steps it was asked to do, once
/// its task has returned.
pub fn two_workers(run: &mut Run, steps: u32, deposit: impl FnOnce(), withdraw: impl FnOnce()) {
    let (mut d, mut w) = if run.int("first") == 2 {
        let w = run.spawn("withdraw", || worker(steps, withdraw));
        (run.spawn("deposit", || worker(steps, deposit)), w)
    } else {
        let d = run.spawn("deposit", || worker(steps, deposit));
        (d, run.spawn("withdraw", || worker(steps, withdraw)))
    };
    run.join(&mut d);
    run.join(&mut w);
}

fn worker(steps: u32, task: impl FnOnce()) {
    let started = now_ns();
    task();
    let ended = now_ns();
    write_worker(&[("steps", steps as i64)], Vec::new(), started, ended);
}

/// The lessons' last line, and what it means when it is not the start.
pub fn print_final(bank: &Bank, balance: i64) {
    println!("Final balance: {balance}");
    if balance != bank.start {
        println!(
            "(not {}: the deposits and withdrawals should cancel out, so some updates were lost)",
            bank.start
        );
    }
}

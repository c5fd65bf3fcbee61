//! Exercise 02, the unlocked race: a `deposit` process and a `withdraw`
//! process update one shared balance, 100 times each, with no lock.
//!
//! The balance is made with [`Value::synchronized`], as Python's
//! `multiprocessing.Value('i', 600)` is: each single load and each single
//! store takes the value's own lock. The update in between is still
//! unprotected, which is the point of this exercise and the trap of the next.
//!
//! Report: `Header.params` `start`, `amount`, `steps`; object `balance`;
//! `Worker` records `deposit` and `withdraw` with counts `steps`;
//! `Summary.finals` `balance`.

use std::process::ExitCode;

use multiproc::Value;

use crate::bank::{self, Bank};
use crate::common::{self, Program, Run};

/// The exercise's slug.
pub const EXERCISE: &str = "unlocked-race";

const PROGRAM: Program = Program {
    exercise: EXERCISE,
    dir: "exercises/02-unlocked-race",
    about: "two processes deposit and withdraw 5, 100 times each, on one shared balance of 600, without a lock",
    demos: &[],
    lesson: bank::lesson,
};

/// The signature of the student's `deposit` and `withdraw`.
pub type Step = fn(balance: &Value<i64>, amount: i64, steps: u32);

/// Runs the scenario around the student's functions; `main.rs` calls this.
pub fn main(deposit: Step, withdraw: Step) -> ExitCode {
    common::main(&PROGRAM, |run| scenario(run, deposit, withdraw))
}

fn scenario(mut run: Run, deposit: Step, withdraw: Step) -> u8 {
    let bank = Bank::of(&run);
    let balance =
        Value::synchronized(bank.start, "balance").expect("could not map the shared balance");
    bank::two_workers(
        &mut run,
        bank.steps,
        || deposit(&balance, bank.amount, bank.steps),
        || withdraw(&balance, bank.amount, bank.steps),
    );
    let last = balance.load();
    if run.all_succeeded() {
        bank::print_final(&bank, last);
    }
    run.finish(&[("balance", last)])
}

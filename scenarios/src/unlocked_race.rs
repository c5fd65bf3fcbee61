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

use crate::bank::{self, AMOUNT, START, STEPS};
use crate::common::{self, Program, Run};

/// The exercise's slug.
pub const EXERCISE: &str = "unlocked-race";

const PROGRAM: Program = Program {
    exercise: EXERCISE,
    dir: "exercises/02-unlocked-race",
    about: "two processes deposit and withdraw 5, 100 times each, on one shared balance of 600, without a lock",
    demos: &[],
    env: &[],
};

/// The signature of the student's `deposit` and `withdraw`.
pub type Step = fn(balance: &Value<i64>, amount: i64, steps: u32);

/// Runs the scenario around the student's functions; `main.rs` calls this.
pub fn main(deposit: Step, withdraw: Step) -> ExitCode {
    common::args(&PROGRAM);
    let mut run = Run::start(&PROGRAM, &bank::params());
    let balance = Value::synchronized(START, "balance").expect("could not map the shared balance");
    bank::two_workers(
        &mut run,
        || deposit(&balance, AMOUNT, STEPS),
        || withdraw(&balance, AMOUNT, STEPS),
    );
    let last = balance.load();
    if run.all_succeeded() {
        bank::print_final(last);
    }
    run.finish(&[("balance", last)])
}

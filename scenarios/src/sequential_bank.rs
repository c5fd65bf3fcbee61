//! Exercise 01, the sequential bank: one process deposits 5 a hundred times,
//! then withdraws 5 a hundred times. No sharing, no race: the baseline
//! whose result (600 again) every later exercise must keep.
//!
//! Report: `Header.params` `start`, `amount`, `steps`; `Summary.finals`
//! `after_deposit` (600 + 100 x 5 = 1100 when right) and `after_withdraw`
//! (600 when right). No children.

use std::process::ExitCode;

use crate::bank::{self, AMOUNT, START, STEPS};
use crate::common::{self, Program, Run};

/// The exercise's slug.
pub const EXERCISE: &str = "sequential-bank";

const PROGRAM: Program = Program {
    exercise: EXERCISE,
    dir: "exercises/01-sequential-bank",
    about: "one process deposits 5, 100 times, then withdraws 5, 100 times, starting from 600",
    demos: &[],
    env: &[],
};

/// The signature of the student's `deposit` and `withdraw`.
pub type Step = fn(balance: i64, amount: i64, steps: u32) -> i64;

/// Runs the scenario around the student's functions; `main.rs` calls this.
pub fn main(deposit: Step, withdraw: Step) -> ExitCode {
    common::args(&PROGRAM);
    let run = Run::start(&PROGRAM, &bank::params());
    println!("Starting balance: {START}");
    let after_deposit = deposit(START, AMOUNT, STEPS);
    println!("After {STEPS} deposits of {AMOUNT}: {after_deposit}");
    let after_withdraw = withdraw(after_deposit, AMOUNT, STEPS);
    bank::print_final(after_withdraw);
    run.finish(&[
        ("after_deposit", after_deposit),
        ("after_withdraw", after_withdraw),
    ])
}

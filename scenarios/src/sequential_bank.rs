//! Exercise 01, the sequential bank: one process deposits `amount`,
//! `steps` times, then withdraws it as often (the lesson: 5, a hundred
//! times, from 600). No sharing, no race: the baseline whose result (the
//! start again) every later exercise must keep.
//!
//! Report: `Header.params` `start`, `amount`, `steps`; `Summary.finals`
//! `after_deposit` (start + steps x amount when right) and
//! `after_withdraw` (start when right). No children.

use std::process::ExitCode;

use crate::bank::{self, Bank};
use crate::common::{self, Program, Run};

/// The exercise's slug.
pub const EXERCISE: &str = "sequential-bank";

const PROGRAM: Program = Program {
    exercise: EXERCISE,
    dir: "exercises/01-sequential-bank",
    about: "one process deposits 5, 100 times, then withdraws 5, 100 times, starting from 600",
    demos: &[],
    lesson: bank::lesson,
};

/// The signature of the student's `deposit` and `withdraw`.
pub type Step = fn(balance: i64, amount: i64, steps: u32) -> i64;

/// Runs the scenario around the student's functions; `main.rs` calls this.
pub fn main(deposit: Step, withdraw: Step) -> ExitCode {
    common::main(&PROGRAM, |run| scenario(run, deposit, withdraw))
}

fn scenario(run: Run, deposit: Step, withdraw: Step) -> u8 {
    let bank = Bank::of(&run);
    let Bank {
        start,
        amount,
        steps,
    } = bank;
    println!("Starting balance: {start}");
    let after_deposit = deposit(start, amount, steps);
    println!("After {steps} deposits of {amount}: {after_deposit}");
    let after_withdraw = withdraw(after_deposit, amount, steps);
    bank::print_final(&bank, after_withdraw);
    run.finish(&[
        ("after_deposit", after_deposit),
        ("after_withdraw", after_withdraw),
    ])
}

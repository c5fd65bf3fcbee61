//! The bank the first three exercises share: a balance of 600, and a
//! deposit and a withdrawal of 5, one hundred times each. Done one after the
//! other, they cancel out exactly; the question of exercises 2 and 3 is what
//! happens when two processes do them at the same time.

use crate::common::{now_ns, write_worker, Run};

/// The balance every bank scenario starts with.
pub const START: i64 = 600;
/// The amount of every deposit and every withdrawal.
pub const AMOUNT: i64 = 5;
/// How many deposits, and how many withdrawals.
pub const STEPS: u32 = 100;

/// The `Header.params` of a bank scenario.
pub fn params() -> [(&'static str, i64); 3] {
    [
        ("start", START),
        ("amount", AMOUNT),
        ("steps", STEPS as i64),
    ]
}

/// Starts `deposit` and `withdraw` as two processes (named `deposit` and
/// `withdraw`) and waits for both. Each child writes its own `Worker`
/// record, with the number of steps it was asked to do, once its task has
/// returned.
pub fn two_workers(run: &mut Run, deposit: impl FnOnce(), withdraw: impl FnOnce()) {
    let mut d = run.spawn("deposit", || worker(deposit));
    let mut w = run.spawn("withdraw", || worker(withdraw));
    run.join(&mut d);
    run.join(&mut w);
}

fn worker(task: impl FnOnce()) {
    let started = now_ns();
    task();
    let ended = now_ns();
    write_worker(&[("steps", STEPS as i64)], Vec::new(), started, ended);
}

/// The lessons' last line, and what it means when it is not 600.
pub fn print_final(balance: i64) {
    println!("Final balance: {balance}");
    if balance != START {
        println!(
            "(not {START}: the deposits and withdrawals should cancel out, so some updates were lost)"
        );
    }
}

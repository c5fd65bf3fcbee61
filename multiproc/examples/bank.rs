//! Two processes update one balance, with or without a lock.
//!
//! `cargo run -p multiproc --example bank -- [locked]`; set
//! `MULTIPROC_SCHED=controlled:random:7` to run under the controlled
//! scheduler, and `MULTIPROC_TIME_SCALE=0` to skip the pauses.

use std::time::Duration;

use multiproc::{pause, sched, trace, Lock, Process, Value};

fn main() {
    let locked = std::env::args().any(|a| a == "locked");
    let mode = sched::configure_from_env().unwrap_or_else(|e| panic!("{e}"));
    trace::enable().unwrap();
    let balance = Value::with_label(600i64, "balance").unwrap();
    let lock = Lock::with_label("lock").unwrap();
    let step = |amount: i64| {
        for _ in 0..100 {
            pause(Duration::from_millis(10));
            let _held = locked.then(|| lock.guard().unwrap());
            balance.update(|b| b + amount);
        }
    };
    let mut d = Process::start("deposit", || step(5)).unwrap();
    let mut w = Process::start("withdraw", || step(-5)).unwrap();
    let (sd, sw) = (d.join().unwrap(), w.join().unwrap());
    println!(
        "mode {mode}: final balance {} ({sd}, {sw}), {} events, schedule {:?}",
        balance.load(),
        trace::events().len(),
        sched::controlled::schedule().map(|s| s.len())
    );
}

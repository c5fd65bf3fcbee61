//! Exercise 04, the queue drain: the parent puts the run's items on a
//! [`Queue`] (the lesson: 100 random digits), then two children, `P1` and
//! `P2`, take items until the queue is empty, with the student's `drain`.
//!
//! The items are a parameter of the run: the grader draws them, and a
//! replayed run drains the very same queue. Run by hand, they come from
//! the run's seed and a small generator of our own, so the same seed gives
//! the same items on any machine.
//!
//! `--demo faulty` runs the lesson's drain instead: "while the queue is not
//! empty, get". Both children can see one last item, both call `get`, one
//! of them gets it and the other waits for an item that will never come.
//! Run freely it hangs; under the controlled scheduler the deadlock is
//! found and written as a `Deadlock` record.
//!
//! Report: `Header.params` `items` (the list); objects `queue` (with the
//! runtime's `queue.read-lock`) and `lock`; a `Worker` record `MainProcess`
//! whose items are the items put, and one per child, `P1` and `P2`, with
//! counts `items` and the items it took in order; `Summary.finals`
//! `left_in_queue`, counted with `try_get` after both children are joined.

use std::process::ExitCode;

use multiproc::{current_name, Lock, Queue, QueueError};

use course_report::{Param, Params};

use crate::common::{self, now_ns, write_worker, Demo, Program, Run, StartGate};

/// The exercise's slug.
pub const EXERCISE: &str = "queue-drain";
/// How many items the lesson's parent puts.
pub const ITEMS: usize = 100;

const PROGRAM: Program = Program {
    exercise: EXERCISE,
    dir: "exercises/04-queue-drain",
    about: "the parent puts 100 random items on a queue; two children take items until it is empty",
    demos: &[Demo {
        name: "faulty",
        about: "the drain that checks empty() and then calls get(): it can hang (Ctrl-C stops it)",
    }],
    lesson,
};

/// The lesson's parameters: 100 random digits drawn from the seed, and
/// `P1` started first.
fn lesson(seed: u64) -> Params {
    let items = Items::new(seed).take(ITEMS).map(i64::from).collect();
    [
        ("items".to_string(), Param::List(items)),
        ("first".to_string(), Param::Int(1)),
    ]
    .into()
}

/// The signature of the student's `drain`.
pub type Drain = fn(queue: &Queue<u32>, lock: &Lock) -> Result<Vec<u32>, QueueError>;

/// A small random generator (SplitMix64): a counter run through a mixing
/// function. Written out here, not taken from a crate, so that the items of
/// a seed never change under us.
#[derive(Clone, Debug)]
pub struct Items {
    state: u64,
}

impl Items {
    /// The generator for this seed.
    pub fn new(seed: u64) -> Items {
        Items { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Iterator for Items {
    type Item = u32;

    /// The next item, from 0 to 9.
    fn next(&mut self) -> Option<u32> {
        Some((self.next_u64() % 10) as u32)
    }
}

/// Runs the scenario around the student's `drain`; `main.rs` calls this.
pub fn main(drain: Drain) -> ExitCode {
    common::main(&PROGRAM, |run| scenario(run, drain))
}

fn scenario(mut run: Run, drain: Drain) -> u8 {
    let demo = run.demo().is_some();
    let drain: Drain = if demo { faulty_drain } else { drain };
    let queue = Queue::<u32>::with_label("queue").expect("could not make the queue");
    let lock = Lock::with_label("lock").expect("could not map the shared lock");

    let started = now_ns();
    let items: Vec<u32> = run
        .list("items")
        .into_iter()
        .map(|i| u32::try_from(i).unwrap_or(0))
        .collect();
    for &item in &items {
        queue.put(item).expect("could not put an item on the queue");
    }
    let put: Vec<i64> = items.iter().map(|&i| i as i64).collect();
    write_worker(&[("items", put.len() as i64)], put, started, now_ns());
    println!("MainProcess put {} items on the queue", items.len());
    if demo {
        println!("(the faulty drain can wait forever in get; Ctrl-C stops it)");
    }

    let gate = StartGate::new(2);
    // The run's `first` parameter says which child starts first.
    let (mut p1, mut p2) = if run.int("first") == 2 {
        let p2 = run.spawn("P2", || child(drain, &queue, &lock, &gate));
        (run.spawn("P1", || child(drain, &queue, &lock, &gate)), p2)
    } else {
        let p1 = run.spawn("P1", || child(drain, &queue, &lock, &gate));
        (p1, run.spawn("P2", || child(drain, &queue, &lock, &gate)))
    };
    run.join(&mut p1);
    run.join(&mut p2);

    let mut left = 0;
    while let Ok(Some(_)) = queue.try_get() {
        left += 1;
    }
    if run.all_succeeded() {
        println!("Left in the queue: {left}");
    }
    run.finish(&[("left_in_queue", left)])
}

fn child(drain: Drain, queue: &Queue<u32>, lock: &Lock, gate: &StartGate) {
    gate.wait();
    let started = now_ns();
    let taken = drain(queue, lock).unwrap_or_else(|e| panic!("drain returned an error: {e}"));
    let ended = now_ns();
    println!(
        "child process {} took {} items from the queue",
        current_name(),
        taken.len()
    );
    let items: Vec<i64> = taken.iter().map(|&i| i as i64).collect();
    write_worker(&[("items", items.len() as i64)], items, started, ended);
}

/// The lesson's faulty drain. `empty()` and `get()` are two steps, and the
/// queue can change between them: when another process takes the last
/// item in that gap, `get` waits for ever.
fn faulty_drain(queue: &Queue<u32>, _lock: &Lock) -> Result<Vec<u32>, QueueError> {
    let mut taken = Vec::new();
    while !queue.empty() {
        taken.push(queue.get()?);
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_items() {
        let a: Vec<u32> = Items::new(42).take(ITEMS).collect();
        let b: Vec<u32> = Items::new(42).take(ITEMS).collect();
        let c: Vec<u32> = Items::new(43).take(ITEMS).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&i| i < 10));
        // Every digit shows up in 100 draws of a fair generator.
        assert!((0..10).all(|d| a.contains(&d)));
    }
}

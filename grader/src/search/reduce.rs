//! A state the search has already gone on from is not gone on from again.
//!
//! Schedules that only order independent operations differently reach
//! the very same state: one child blocks on the lock before the other,
//! or after; a process pauses before another's load, or after. From that
//! state the same things can happen, so the search takes each *branch*
//! (a state, and the process run next from it) once. A branch already
//! taken with at most as many preemptions is skipped: everything within
//! the bound from there has been, or will be, tried. So the reduction
//! keeps the search's promise (every schedule up to the bound, and the
//! fewest preemptions for a counterexample) while running far fewer of
//! them. It costs nothing at run time: the state is read off what a run
//! reports anyway.
//!
//! The state at a decision point is the trace up to that point, taken
//! object by object and process by process (so that operations on
//! different objects may come in any order, and so may loads of one value
//! between two stores; a call's and a return's marks belong to their
//! process alone), together with where the runtime says each process is (how many scheduling points it has
//! reached, and whether it can run, waits or has ended). A process's own
//! state follows from what it did and saw, so that is the whole state of
//! a program that does the same thing when it sees the same things,
//! which is what the scheduler's replay already needs. Values that are
//! process ids are read as the process they name, so that runs with other
//! pids still compare; the supervisor gives every run the same pids where
//! it can (a box with a pid namespace), so that values that merely hold a
//! pid somewhere inside compare too.
//!
//! Fingerprints are 64-bit hashes: two different states could in
//! principle share one, and one of them would then go unsearched. At the
//! search's sizes (thousands of states) the chance is about one in 10^12.

use std::collections::HashMap;

use course_report::{Choice, Event};

use crate::judge::run::RunData;

/// A branch of the search: the fingerprint of a state, and the slot run
/// next from it.
pub type Branch = (u64, u8);

/// The fingerprint of the state at each of a run's decision points, or
/// none if the run left no trace to read it from.
pub fn fingerprints(run: &RunData, choices: &[Choice]) -> Option<Vec<u64>> {
    let events = run.trace().ok()?;
    let slots = slot_pids(run, events);
    let slot_of = |pid: i64| slots.iter().position(|&p| p as i64 == pid);
    // A value that is a pid, read as the slot it names.
    let value = |v: i64| slot_of(v).map_or(v as u64, |s| 0x5107_0000_0000_0000 | s as u64);
    // A running hash per object and per process, and their combination,
    // kept up to date: a sum of independent parts, so the order of the
    // parts does not count.
    let mut parts: HashMap<(bool, u64), Part> = HashMap::new();
    let mut whole = 0u64;
    let mut next = events.iter().peekable();
    let mut out = Vec::with_capacity(choices.len());
    for c in choices {
        while let Some(e) = next.next_if(|e| e.seq < c.at) {
            let who = slot_of(e.pid as i64).map_or(e.pid as u64, |s| s as u64);
            let step = mix(mix(mix(op_code(e) ^ who) ^ e.object as u64) ^ value(e.value));
            let marks = matches!(e.op.as_str(), "call" | "return" | "mark");
            let of_object = (!marks).then_some((true, e.object as u64));
            for key in of_object.into_iter().chain([(false, who)]) {
                let salt = mix(key.1 ^ u64::from(key.0) << 63);
                let part = parts.entry(key).or_default();
                whole = whole.wrapping_sub(mix(salt ^ part.hash()));
                // A process's own operations all count in order.
                part.add(step, key.0 && e.op == "load");
                whole = whole.wrapping_add(mix(salt ^ part.hash()));
            }
        }
        out.push(mix(whole ^ mix(c.places)));
    }
    Some(out)
}

/// One object's or one process's history: the sequence of its
/// operations, except that loads between two other operations count as
/// a set (they can come in any order and leave the same state).
#[derive(Default)]
struct Part {
    before: u64,
    loads: u64,
}

impl Part {
    fn add(&mut self, step: u64, commutes: bool) {
        if commutes {
            self.loads = self.loads.wrapping_add(mix(step));
        } else {
            self.before = mix(mix(self.before ^ self.loads) ^ step);
            self.loads = 0;
        }
    }

    fn hash(&self) -> u64 {
        mix(self.before ^ self.loads)
    }
}

/// The pid of each slot: slot 0 is the main process, slot N the N-th
/// child started (slots are given in start order, by the process that
/// holds the scheduler's turn).
pub fn slot_pids(run: &RunData, events: &[Event]) -> Vec<i32> {
    let main = run.header().map_or(0, |h| h.pid);
    std::iter::once(main)
        .chain(
            events
                .iter()
                .filter(|e| e.op == "start")
                .map(|e| e.value as i32),
        )
        .collect()
}

fn op_code(e: &Event) -> u64 {
    e.op.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64's finaliser: a good 64-bit mixing function.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;

    fn run_of(events: &[(i32, &str, u32, i64)]) -> RunData {
        let objects = [
            ("value", "x"),
            ("value", "y"),
            ("process", "a"),
            ("process", "b"),
        ];
        run(
            "locked-bank",
            vec![
                header("locked-bank", &[]),
                summary(&[], &[("a", 2), ("b", 3)], &objects, events),
            ],
        )
    }

    fn at(at: u64) -> Choice {
        Choice {
            at,
            running: Some(1),
            runnable: 0b110,
            default: 1,
            chosen: 1,
            places: 7,
        }
    }

    #[test]
    fn the_order_of_operations_on_different_objects_does_not_count() {
        let start = [(1, "start", 3, 2), (1, "start", 4, 3)];
        let one: Vec<_> = start
            .iter()
            .chain(&[(2, "store", 1, 5), (3, "store", 2, 6)])
            .copied()
            .collect();
        let other: Vec<_> = start
            .iter()
            .chain(&[(3, "store", 2, 6), (2, "store", 1, 5)])
            .copied()
            .collect();
        let same_object: Vec<_> = start
            .iter()
            .chain(&[(3, "store", 1, 6), (2, "store", 1, 5)])
            .copied()
            .collect();
        let f =
            |events: &[(i32, &str, u32, i64)]| fingerprints(&run_of(events), &[at(4)]).unwrap()[0];
        assert_eq!(f(&one), f(&other));
        assert_ne!(f(&one), f(&same_object));
        // Two loads of one value come in either order.
        let loads = |first: i32, second: i32| {
            let events: Vec<_> = start
                .iter()
                .chain(&[(first, "load", 1, 0), (second, "load", 1, 0)])
                .copied()
                .collect();
            f(&events)
        };
        assert_eq!(loads(2, 3), loads(3, 2));
        // Before anything but the starts, all three are alike.
        let early =
            |events: &[(i32, &str, u32, i64)]| fingerprints(&run_of(events), &[at(2)]).unwrap()[0];
        assert_eq!(early(&one), early(&same_object));
    }

    #[test]
    fn pids_are_read_as_the_processes_they_name() {
        // The same run with other pids: b stores its own pid.
        let a = [(1, "start", 3, 2), (1, "start", 4, 3), (3, "store", 1, 3)];
        let b = [
            (1, "start", 3, 12),
            (1, "start", 4, 13),
            (13, "store", 1, 13),
        ];
        let fa = fingerprints(&run_of(&a), &[at(3)]).unwrap();
        let fb = fingerprints(&run_of(&b), &[at(3)]).unwrap();
        assert_eq!(fa, fb);
    }
}

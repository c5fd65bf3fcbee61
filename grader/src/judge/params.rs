//! The parameters of each run, drawn by the grader from the run's seed.
//!
//! The program is told them (see `course_report::RunConfig`) and the
//! grader judges against its own copy, so nothing the program does can
//! change what it is judged against. The same seed always gives the same
//! parameters, on any machine: a replayed run is the same run.

use course_report::{Param, Params};

/// A small random generator (SplitMix64): a counter run through a mixing
/// function. Written out here, not taken from a crate, so that the
/// parameters of a seed never change under us.
#[derive(Clone, Debug)]
pub struct Draw {
    state: u64,
}

impl Draw {
    /// The generator for this seed.
    pub fn new(seed: u64) -> Draw {
        Draw { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
}

fn ints(pairs: &[(&str, i64)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Param::Int(*v)))
        .collect()
}

/// The banks of exercises 1 to 3, around the lesson's 600, 5 and 100: a
/// start of 100 to 1000, an amount of 1 to 20, 50 to 150 steps each way.
/// A function that writes the lesson's numbers in place of its arguments
/// is wrong in nearly every run.
pub fn bank(seed: u64) -> Params {
    let mut draw = Draw::new(seed ^ 0xB4_4E);
    let start = draw.range(100, 1000);
    let amount = draw.range(1, 20);
    let steps = draw.range(50, 150);
    ints(&[("start", start), ("amount", amount), ("steps", steps)])
}

/// Which of two processes starts first (1 or 2): drawn apart from the
/// other parameters, so that adding it changed none of theirs.
fn first(seed: u64) -> Param {
    Param::Int(Draw::new(seed ^ 0xF1_257).range(1, 2))
}

/// The banks of exercises 2 and 3: [`bank`], and which worker starts
/// first (1: deposit, 2: withdraw).
pub fn two_workers(seed: u64) -> Params {
    let mut params = bank(seed);
    params.insert("first".to_string(), first(seed));
    params
}

/// The queue of exercise 4, around the lesson's 100 random digits: 50 to
/// 150 items from 0 to 99, so that an item's value says little of its
/// place and repeats are few; and which child starts first.
pub fn queue(seed: u64) -> Params {
    let mut draw = Draw::new(seed ^ 0x0_0E0E);
    let n = draw.range(50, 150);
    let items = (0..n).map(|_| draw.range(0, 99)).collect();
    [
        ("items".to_string(), Param::List(items)),
        ("first".to_string(), first(seed)),
    ]
    .into()
}

/// The reentrant lock of exercise 5, around the lesson's depth 5: a depth
/// of 2 to 6, 1 to 3 rounds per child, either child first, and the
/// intruder's release while the parent holds the lock or once a child
/// does.
pub fn reentrant(seed: u64) -> Params {
    let mut draw = Draw::new(seed ^ 0x5_10CC);
    ints(&[
        ("depth", draw.range(2, 6)),
        ("rounds", draw.range(1, 3)),
        ("first", draw.range(1, 2)),
        ("probe", draw.range(0, 1)),
        ("hold_ms", 3000),
    ])
}

// ------------------------------------------------ the search's sizes
//
// The exhaustive search runs each exercise at a few fixed sizes, small
// enough to try every schedule up to its bound, and large enough that
// every known-bad variant of the course (`tests/fixtures/variants/`) is
// still wrong there. None is the lesson's: no number of the lesson can be
// written into a solution and pass.

/// The one-process bank of exercise 1, three steps each way.
pub fn small_sequential_bank() -> Params {
    ints(&[("start", 250), ("amount", 3), ("steps", 3)])
}

/// The two-process bank of exercises 2 and 3, two steps each way: a
/// lost update needs one step of each process, and a second step lets a
/// process take the lock again after the other.
pub fn small_bank() -> Params {
    ints(&[("start", 250), ("amount", 3), ("steps", 2), ("first", 1)])
}

/// The bank with ten steps each way: the fewest a loop that goes wrong
/// only at its tenth step needs (a release skipped every tenth step).
pub fn ten_step_bank() -> Params {
    ints(&[("start", 250), ("amount", 3), ("steps", 10), ("first", 1)])
}

/// The queue of exercise 4 with three items: the last item can be
/// raced for after each child has taken one.
pub fn small_queue() -> Params {
    [
        ("items".to_string(), Param::List(vec![7, 3, 9])),
        ("first".to_string(), Param::Int(1)),
    ]
    .into()
}

/// The reentrant lock of exercise 5 at depth 2, one round, the
/// intruder's release while the parent holds the lock (at depth 2).
pub fn small_reentrant_parent_probe() -> Params {
    small_reentrant(0)
}

/// The same, the intruder's release once a child holds the lock.
pub fn small_reentrant_child_probe() -> Params {
    small_reentrant(1)
}

fn small_reentrant(probe: i64) -> Params {
    ints(&[
        ("depth", 2),
        ("rounds", 1),
        ("first", 1),
        ("probe", probe),
        ("hold_ms", 3000),
    ])
}

// The last size of every exercise is the top of its random ranges,
// searched without preemption: few schedules, but a program that is
// right only for small numbers (a share fixed at the lesson's count, a
// loop bounded by a number of its own) is wrong there.

/// The one-process bank at the top of [`bank`]'s ranges.
pub fn full_sequential_bank() -> Params {
    ints(&[("start", 1000), ("amount", 20), ("steps", 150)])
}

/// The two-process bank at the top of [`two_workers`]' ranges.
pub fn full_bank() -> Params {
    ints(&[
        ("start", 1000),
        ("amount", 20),
        ("steps", 150),
        ("first", 2),
    ])
}

/// The queue at the top of [`queue`]'s range: 150 items, every value
/// from 0 to 99 and half of them again, in a scrambled order.
pub fn full_queue() -> Params {
    [
        (
            "items".to_string(),
            Param::List((0..150).map(|i| (i * 37 + 11) % 100).collect()),
        ),
        ("first".to_string(), Param::Int(2)),
    ]
    .into()
}

/// The reentrant lock at the top of [`reentrant`]'s ranges: depth 6,
/// three rounds per child.
pub fn full_reentrant() -> Params {
    ints(&[
        ("depth", 6),
        ("rounds", 3),
        ("first", 2),
        ("probe", 1),
        ("hold_ms", 3000),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_parameters() {
        assert_eq!(queue(42), queue(42));
        assert_ne!(queue(42), queue(43));
        let Param::List(items) = &queue(42)["items"] else {
            panic!()
        };
        assert!(items.iter().all(|&i| (0..100).contains(&i)));
        assert!((50..=150).contains(&items.len()));
        assert_ne!(bank(1), bank(2));
        let Param::Int(steps) = bank(3)["steps"] else {
            panic!()
        };
        assert!((50..=150).contains(&steps));
    }
}

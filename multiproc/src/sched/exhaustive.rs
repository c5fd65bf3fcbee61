//! Schedules chosen from outside: the runtime's half of an exhaustive
//! search.
//!
//! A random schedule finds a race often; only trying every schedule shows
//! that there is none. The grader does that at a small size: it runs the
//! program once for every schedule with at most K preemptions (iterative
//! context bounding), each time as real processes. It cannot see inside
//! a run, so every run tells it which choices it had.
//!
//! Such a run is started in replay mode with a *prefix*: the choices to
//! make at the first decision points (the points where more than one
//! process could run). Past the prefix the scheduler makes the
//! [default choice](default_choice), which never preempts. At every
//! decision point it records a [`ChoicePoint`]: who was running, who could
//! have run, the default, and what was chosen. From those the grader finds
//! the schedules next to this one (the same choices up to some point, then
//! another choice there) and runs them in turn.
//!
//! A *preemption* is a choice other than the default made while the
//! running process could have gone on. When the running process blocks or
//! ends, any runnable process may follow at no cost: that is not a
//! preemption, it is the only way on.
//!
//! Each choice point also says *where every process is*: how many
//! scheduling points each has reached, and whether it can run, waits
//! (for what) or has ended. Together with the trace so far, that pins the
//! whole state of the program down, so the grader can tell when two
//! schedules have reached the same state, and search on from it once.
//!
//! A pause is the one place where the default hands over: the lessons'
//! pause stands for a sleep, which lets the others run. Without it, a
//! process that waits in a loop for another one to do something (`while
//! nobody holds the lock { pause }`) would keep the token for as long as
//! it loops, under a scheduler that never preempts.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use crate::shm::Shared;

/// One decision point of a run, as it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChoicePoint {
    /// How many trace events had been recorded when the choice was made:
    /// the chosen process's next event is this one.
    pub at: u64,
    /// The slot of the process that reached the point, if it is one that
    /// could go on or wait (not one that was ending).
    pub running: Option<usize>,
    /// The slots that could run, as a bit set (bit N is slot N).
    pub runnable: u16,
    /// What the scheduler does when nobody says otherwise.
    pub default: usize,
    /// What it did.
    pub chosen: usize,
    /// Where every process was: a hash of each slot's count of scheduling
    /// points reached and its state (runnable, waiting for an object, or
    /// ended).
    pub places: u64,
}

impl ChoicePoint {
    /// Whether choosing `slot` here is a preemption: not the default,
    /// while the running process could have gone on.
    pub fn preempts(&self, slot: usize) -> bool {
        slot != self.default && self.running.is_some_and(|r| self.runnable & (1 << r) != 0)
    }

    /// The slots that could run, in order.
    pub fn runnable_slots(&self) -> impl Iterator<Item = usize> + '_ {
        (0..16).filter(|s| self.runnable & (1 << s) != 0)
    }
}

/// The default choice: the running process goes on, unless it pauses or
/// cannot (it blocked, or it is ending); then the next runnable process
/// after it, in slot order, round and round (the lowest one when the
/// running process is ending and has no slot any more).
pub fn default_choice(running: Option<usize>, pausing: bool, runnable: &[usize]) -> usize {
    if let Some(me) = running {
        if !pausing && runnable.contains(&me) {
            return me;
        }
        if let Some(&next) = runnable
            .iter()
            .filter(|&&s| s > me)
            .chain(runnable.iter().filter(|&&s| s != me))
            .next()
        {
            return next;
        }
    }
    runnable[0]
}

/// The choices a run may record; past them a run still follows the
/// default, but reports no more.
const CAPACITY: usize = 1 << 16;

struct Log {
    /// Two words per decision: `at` (32 bits), the runnable set (16), the
    /// running slot (5, 31 for none), the default (5) and the choice (5);
    /// then where every process was.
    entries: [[AtomicU64; 2]; CAPACITY],
    /// How many scheduling points each slot has reached.
    reached: [AtomicU64; 16],
}

static LOG: OnceLock<Shared<Log>> = OnceLock::new();

/// Maps the log every process of the run writes its choices to. Called
/// once, before any child starts, by a run in replay mode.
pub(super) fn init() -> io::Result<()> {
    // SAFETY: an array of atomics is valid all-zero.
    let log = unsafe { Shared::<Log>::zeroed() }?;
    LOG.set(log)
        .map_err(|_| io::Error::other("the choice log was already mapped"))
}

/// Slot `slot` has reached a scheduling point (counted in replayed runs).
pub(super) fn reached(slot: usize) {
    if let Some(count) = LOG.get().and_then(|log| log.reached.get(slot)) {
        count.fetch_add(1, Relaxed);
    }
}

/// Decision `n` of a replayed run: the prefix's choice if it names a
/// process that can run, else the default; recorded either way, with
/// `states`, each slot's state as the scheduler keeps it.
pub(super) fn choose(
    n: usize,
    running: Option<usize>,
    pausing: bool,
    runnable: &[usize],
    wanted: Option<usize>,
    states: &[u64],
) -> usize {
    let default = default_choice(running, pausing, runnable);
    let chosen = wanted.filter(|w| runnable.contains(w)).unwrap_or(default);
    let Some(log) = LOG.get() else {
        return chosen;
    };
    if let Some(entry) = log.entries.get(n) {
        let mask = runnable.iter().fold(0u64, |m, &s| m | 1 << s);
        let word = (crate::trace::position() & 0xffff_ffff) << 32
            | mask << 16
            | (running.map_or(31, |r| r as u64) & 31) << 10
            | (default as u64 & 31) << 5
            | (chosen as u64 & 31);
        let mix = super::perturb::splitmix;
        let places = states
            .iter()
            .zip(&log.reached)
            .fold(0u64, |h, (state, count)| {
                mix(mix(h ^ count.load(Relaxed)) ^ state)
            });
        entry[0].store(word, Relaxed);
        entry[1].store(places, Relaxed);
    }
    chosen
}

/// The first `decisions` choice points of this run, if it records them
/// (a run in replay mode does).
pub fn choice_points(decisions: u64) -> Option<Vec<ChoicePoint>> {
    let log = LOG.get()?;
    let n = (decisions as usize).min(CAPACITY);
    Some(
        log.entries[..n]
            .iter()
            .map(|e| {
                let w = e[0].load(Relaxed);
                let running = ((w >> 10) & 31) as usize;
                ChoicePoint {
                    at: w >> 32,
                    running: (running != 31).then_some(running),
                    runnable: (w >> 16) as u16,
                    default: ((w >> 5) & 31) as usize,
                    chosen: (w & 31) as usize,
                    places: e[1].load(Relaxed),
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_process_goes_on_unless_it_pauses_or_cannot() {
        assert_eq!(default_choice(Some(1), false, &[0, 1, 2]), 1);
        // A pause hands over to the next one, round and round.
        assert_eq!(default_choice(Some(1), true, &[0, 1, 2]), 2);
        assert_eq!(default_choice(Some(2), true, &[0, 1, 2]), 0);
        // Blocked: the next runnable one after it.
        assert_eq!(default_choice(Some(1), false, &[0, 2]), 2);
        assert_eq!(default_choice(Some(2), false, &[0, 1]), 0);
        // Ending: the lowest.
        assert_eq!(default_choice(None, false, &[1, 2]), 1);
    }

    #[test]
    fn a_preemption_is_a_change_the_running_process_did_not_force() {
        let point = |running, runnable, default| ChoicePoint {
            at: 0,
            running,
            runnable,
            default,
            chosen: default,
            places: 0,
        };
        // Slot 1 could go on: running 2 instead preempts it.
        let p = point(Some(1), 0b110, 1);
        assert!(p.preempts(2));
        assert!(!p.preempts(1));
        // Slot 1 blocked: whoever runs next, nobody was preempted.
        let p = point(Some(1), 0b101, 2);
        assert!(!p.preempts(0));
        // At a pause the default hands over; staying is the deviation.
        let p = point(Some(1), 0b110, 2);
        assert!(p.preempts(1));
        assert_eq!(p.runnable_slots().collect::<Vec<_>>(), [1, 2]);
    }
}

//! Shrinking: a failing random run made as simple as it can be while it
//! still fails the same invariant.
//!
//! A random schedule switches processes at nearly every point; the one
//! switch that matters is lost among hundreds. The shrinker replays the
//! run with fewer and fewer of its choices, keeping each simpler
//! schedule only if it still breaks the same invariant:
//!
//! 1. **Trailing steps.** A replay follows its schedule, then never
//!    preempts. Keeping only the first N of the run's non-default choices
//!    (found by bisection) drops everything after the failure was
//!    settled.
//! 2. **Preemptions.** The remaining non-default choices are put back
//!    to the default, half of them at a time, then a quarter, and so on
//!    down to one at a time (delta debugging); a change stays if the run
//!    still fails.
//!
//! Both are repeated until nothing more goes (or the budget of runs is
//! spent). Then, if more than one preemption is left:
//!
//! 3. **Fewer preemptions, from scratch.** The schedules of the run's own
//!    size with fewer preemptions are tried as the exhaustive search
//!    tries them (none, then one, the shortest and the longest in turn)
//!    until one fails: a lost update needs one preemption, wherever the
//!    random run had it.
//!
//! A run that had to be killed at its deadline ends the shrinking: each
//! further try could cost as much. A candidate is kept only if it is
//! simpler: fewer preemptions, then
//! fewer non-default choices, then a shorter prefix. Every schedule
//! shown is one that was run and failed, so a shrunk failure is never a
//! schedule that passes.

use course_report::{Choice, RunConfig};

use super::{explain, schedule, tree};
use crate::judge::invariants::{common, judge, Check, Invariant, Violation};
use crate::judge::run::RunData;
use crate::judge::verdict::Place;
use crate::run::interrupt;
use crate::run::runner::{self, Plan};
use crate::run::supervise::Ending;

/// The most runs the shrinking of one exercise's failures may make, all
/// of them together (each shrinking makes half of what it may before it
/// tries fewer preemptions from scratch).
pub const BUDGET: usize = 400;

/// A failing run, shrunk.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The simplest failing schedule found.
    pub place: Place,
    /// How it breaks the invariant (its own trace, its own values).
    pub violation: Violation,
    /// The run's preemptions before shrinking.
    pub preemptions_before: u32,
    /// Its non-default choices before shrinking.
    pub choices_before: usize,
    /// The runs made.
    pub runs: usize,
}

/// A candidate schedule, run.
struct Tried {
    prefix: Vec<u8>,
    choices: Vec<Choice>,
    violation: Violation,
    run: RunData,
}

impl Tried {
    /// Simpler is smaller: preemptions, then non-default choices, then
    /// the prefix's length.
    fn size(&self) -> (u32, usize, usize) {
        (
            tree::preemptions(&self.choices),
            deviations(&self.choices).len(),
            self.prefix.len(),
        )
    }
}

/// The positions of a run's choices that were not the default.
fn deviations(choices: &[Choice]) -> Vec<usize> {
    choices
        .iter()
        .enumerate()
        .filter(|(_, c)| c.chosen != c.default)
        .map(|(i, _)| i)
        .collect()
}

/// What a shrinking works with.
struct Shrinker<'a> {
    plan: &'a Plan,
    invariant: &'a Invariant,
    config: RunConfig,
    runs: usize,
    /// The runs it may have made by the end of the current phase.
    limit: usize,
}

impl Shrinker<'_> {
    /// Runs `prefix` (then the default); the run if it still breaks the
    /// invariant.
    fn attempt(&mut self, prefix: &[u8]) -> Option<Tried> {
        self.run_prefix(prefix)?.1
    }

    /// Runs `prefix` (then the default): the choices the run had, and the
    /// run if it broke the invariant. None once the budget is spent.
    fn run_prefix(&mut self, prefix: &[u8]) -> Option<(Vec<Choice>, Option<Tried>)> {
        if self.runs >= self.limit || interrupt::interrupted() {
            return None;
        }
        self.runs += 1;
        let config = RunConfig {
            sched: format!("replay:{}", schedule::format(prefix)),
            ..self.config.clone()
        };
        let run = runner::run_with(self.plan, 0, config);
        if run.outcome.ending == Ending::TimedOut {
            // Killed at its deadline: each try would cost as much again.
            // The shrinking ends here, with what it has.
            self.limit = self.runs;
            return None;
        }
        let choices = run.choices()?.to_vec();
        let clean = common::clean(&run);
        let tried = match judge(self.invariant, &run, &clean) {
            Ok(Check::Broken(violation)) => Some(Tried {
                prefix: tree::minimal_prefix(&choices),
                choices: choices.clone(),
                violation,
                run,
            }),
            _ => None,
        };
        Some((choices, tried))
    }

    /// Looks for a schedule with fewer preemptions than `best` has, as
    /// the exhaustive search does but at the run's own size: the schedule
    /// that never preempts, then those with one preemption, shortest
    /// first, and so on, until one fails or the budget is spent.
    fn bounded(&mut self, best: Tried) -> Tried {
        let most = tree::preemptions(&best.choices);
        let mut queue = vec![tree::Node::root()];
        let mut from_the_end = false;
        while !queue.is_empty() {
            // Fewest preemptions first; within those, the shortest and the
            // longest in turn: a lost update can be made at the first
            // step, a drain's last item raced for only at the end.
            queue.sort_by(|a, b| a.key().cmp(&b.key()));
            let level = queue[0].preemptions;
            let at = match from_the_end {
                true => queue.iter().rposition(|n| n.preemptions == level),
                false => Some(0),
            };
            from_the_end = !from_the_end;
            let node = queue.remove(at.unwrap_or(0));
            if node.preemptions >= most {
                break;
            }
            let Some((choices, tried)) = self.run_prefix(&node.prefix) else {
                break;
            };
            if let Some(t) = tried {
                if t.size() < best.size() {
                    return t;
                }
                continue;
            }
            queue.extend(node.children(&choices, None, most - 1));
        }
        best
    }

    /// Keeps only the first non-default choices that still fail.
    fn truncate(&mut self, best: Tried) -> Tried {
        let devs = deviations(&best.choices);
        let prefix_keeping = |n: usize| -> Vec<u8> {
            match n {
                0 => Vec::new(),
                n => best.choices[..=devs[n - 1]]
                    .iter()
                    .map(|c| c.chosen)
                    .collect(),
            }
        };
        let (mut lo, mut hi) = (0, devs.len());
        let mut found: Option<Tried> = None;
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.attempt(&prefix_keeping(mid)) {
                Some(t) => {
                    hi = mid;
                    found = Some(t);
                }
                None => lo = mid + 1,
            }
            if self.runs >= self.limit {
                break;
            }
        }
        match found {
            Some(t) if t.size() < best.size() => t,
            _ => best,
        }
    }

    /// Puts the non-default choices back to the default, a chunk at a
    /// time (half of them, then quarters, and so on down to one at a
    /// time, as delta debugging does), keeping each change that still
    /// fails: a race that needs one preemption among hundreds is found in
    /// a few dozen runs.
    fn remove(&mut self, mut best: Tried) -> Tried {
        let mut chunk = deviations(&best.choices).len().div_ceil(2).max(1);
        loop {
            let devs = deviations(&best.choices);
            let mut improved = false;
            let mut start = 0;
            while start < devs.len() {
                let end = (start + chunk).min(devs.len());
                let mut prefix = best.prefix.clone();
                for &d in &devs[start..end] {
                    if let Some(c) = prefix.get_mut(d) {
                        *c = best.choices[d].default;
                    }
                }
                match self.attempt(&prefix) {
                    Some(t) if t.size() < best.size() => {
                        best = t;
                        improved = true;
                        break;
                    }
                    _ => start = end,
                }
                if self.runs >= self.limit || interrupt::interrupted() {
                    return best;
                }
            }
            let left = deviations(&best.choices).len();
            if left == 0 {
                return best;
            }
            if improved {
                chunk = chunk.min(left.div_ceil(2)).max(1);
            } else if chunk == 1 {
                return best;
            } else {
                chunk = chunk.div_ceil(2);
            }
        }
    }
}

/// Shrinks the run of `config` whose schedule was `schedule` (a full
/// schedule string), which broke `invariant`. None if its replay does not
/// fail the same way (a program that does not behave the same twice).
/// It makes at most `budget` runs.
pub fn shrink(
    plan: &Plan,
    invariant: &Invariant,
    config: &RunConfig,
    schedule: &str,
    budget: usize,
) -> Option<Shrunk> {
    let mut s = Shrinker {
        plan,
        invariant,
        config: config.clone(),
        runs: 0,
        limit: budget / 2,
    };
    let full = schedule::parse(schedule).ok()?;
    let first = s.attempt(&full)?;
    let (preemptions_before, choices_before) = {
        let (p, d, _) = first.size();
        (p, d)
    };
    let mut best = first;
    loop {
        let before = best.size();
        best = s.truncate(best);
        best = s.remove(best);
        if best.size() >= before || s.runs >= s.limit || interrupt::interrupted() {
            break;
        }
    }
    if tree::preemptions(&best.choices) > 1 {
        s.limit = budget;
        best = s.bounded(best);
        best = s.truncate(best);
        best = s.remove(best);
    }
    let preempted = explain::preemptions(&best.run, &best.choices);
    Some(Shrunk {
        place: Place {
            size: None,
            preemptions: tree::preemptions(&best.choices),
            schedule: schedule::format(&best.prefix),
            preempted,
        },
        violation: best.violation,
        preemptions_before,
        choices_before,
        runs: s.runs,
    })
}

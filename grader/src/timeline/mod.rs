//! One interleaving as a picture's model: who did what, in which order,
//! who held which lock and who waited, and where it broke.
//!
//! A trace is a list of events; a reader sees a race faster as lanes, one
//! per process, with each operation at its place in the run's single
//! order. [`Timeline`] is that shape, computed once from a judged run, and
//! every view draws it: the SVG and HTML pictures ([`svg`], [`html`]) and
//! the terminal UI of `grader play`. None of them works anything out from
//! the trace on its own, so they cannot disagree about what happened.
//!
//! Time is the trace's order, not its clock: under the controlled
//! scheduler only one process runs at a time, and the order is what makes
//! a race; nanoseconds would only squeeze the interesting part.

pub mod files;
pub mod html;
pub mod session;
pub mod svg;

use std::collections::BTreeMap;

use course_report::Event;

use crate::catalog::Exercise;
use crate::judge::invariants::{common, judge, Check, Quantifier, Violation};
use crate::judge::narrate::{self, Names};
use crate::judge::run::RunData;

/// One process's lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// Its pid in the run.
    pub pid: i32,
    /// Its name, as the report gives it (`deposit`, `P1`, `MainProcess`).
    pub name: String,
}

/// One operation, at its place in the run's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The event's position in the trace.
    pub seq: u64,
    /// The lane of the process that did it.
    pub lane: usize,
    /// What it did (`load`, `acquire`, `get`...).
    pub op: String,
    /// What it did it to, with the value where there is one
    /// (`balance 600`, `lock`, `queue 17`).
    pub detail: String,
    /// The whole operation in words, as the text reports say it.
    pub text: String,
}

/// A lock held by one process, from its acquire to its release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    /// The holder's lane.
    pub lane: usize,
    /// The lock's name.
    pub lock: String,
    /// The step that took it.
    pub from: usize,
    /// The step that gave it up; `None` while still held at the end.
    pub to: Option<usize>,
    /// How many times the holder held it at most (2 and more: reentrant).
    pub depth: i64,
}

/// A process that could not go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    /// The waiting process's lane.
    pub lane: usize,
    /// The step after which it started waiting (its own last one, or the
    /// holder's acquire if that came later).
    pub from: usize,
    /// The step that ended the wait; `None` when it never ended.
    pub to: Option<usize>,
    /// What it waited for, in words.
    pub what: String,
    /// Part of the cycle of waits (or the set of waits) that nobody could
    /// end: the run deadlocked there.
    pub stuck: bool,
}

/// Where the run went wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Breaking {
    /// The headline, in the grade report's words.
    pub headline: String,
    /// More lines: expected, seen, the conclusion.
    pub lines: Vec<String>,
    /// The step where it broke.
    pub at: Option<usize>,
    /// A lost update: the store whose value was overwritten.
    pub overwritten: Option<usize>,
    /// A lost update: the store that overwrote it.
    pub overwriter: Option<usize>,
}

/// A run drawn as lanes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// One per process, the main process first, then in order of start.
    pub lanes: Vec<Lane>,
    /// Every operation shown, in order.
    pub steps: Vec<Step>,
    /// Every lock holding.
    pub holdings: Vec<Holding>,
    /// Every wait that the trace shows.
    pub waits: Vec<Wait>,
    /// The shared values as the run left them (the last load or store
    /// seen of each).
    pub values: BTreeMap<String, i64>,
    /// Where it broke, if it did.
    pub breaking: Option<Breaking>,
}

/// Whether a lost update is the story of the exercise's races: a bank's
/// balance is read, changed and written back, and a store over another's
/// loses money. Elsewhere a value written over (a lock's owner, say) is
/// how the primitive works, and marking it would mislead.
fn tells_lost_updates(exercise: &Exercise) -> bool {
    matches!(exercise.slug, "unlocked-race" | "locked-bank")
}

/// The invariants a run broke, earliest in the trace first: the grade
/// report's verdict on this one run. A [`Quantifier::Some`] invariant not
/// seen in one run is no break.
pub fn broken(exercise: &Exercise, run: &RunData) -> Vec<(&'static str, Violation)> {
    let clean = common::clean(run);
    let mut out: Vec<(&'static str, Violation)> = exercise
        .invariants()
        .iter()
        .filter(|inv| inv.quantifier == Quantifier::Every)
        .filter_map(|inv| match judge(inv, run, &clean) {
            Ok(Check::Broken(v)) => Some((inv.name, v)),
            _ => None,
        })
        .collect();
    // Stable: those without a place in the trace keep their order, last.
    out.sort_by_key(|(_, v)| v.at.unwrap_or(u64::MAX));
    out
}

impl Timeline {
    /// The timeline of a judged run: its trace as far as it got, and the
    /// first of `broken` (see [`broken`]) as its breaking moment. The
    /// runtime's internal locks are left out unless `internal`.
    pub fn of_run(
        exercise: &Exercise,
        run: &RunData,
        broken: &[(&'static str, Violation)],
        internal: bool,
    ) -> Self {
        let events: &[Event] = run.trace().unwrap_or(&[]);
        let visible: Vec<&Event> = events
            .iter()
            .filter(|e| internal || !run.names.is_internal(e.object))
            .collect();
        let mut t = Timeline::of_events(&run.names, &visible, run.header().ok().map(|h| h.pid));
        if let Some(d) = run.deadlock() {
            t.add_stuck(&run.names, d);
        }
        t.add_breaking(&run.names, &visible, broken, tells_lost_updates(exercise));
        t
    }

    /// Lanes, steps, holdings and the waits the order shows.
    pub fn of_events(names: &Names, events: &[&Event], main: Option<i32>) -> Self {
        let mut t = Timeline::default();
        if let Some(pid) = main {
            t.lane_of(names, pid);
        }
        // Children get their lanes in the order they were started.
        for e in events.iter().filter(|e| e.op == "start") {
            t.lane_of(names, e.value as i32);
        }
        let label = events
            .iter()
            .filter(|e| matches!(e.op.as_str(), "load" | "store"))
            .map(|e| e.object)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1;
        // Open holdings by (lock, lane): index into t.holdings, depth now.
        let mut open: BTreeMap<(u32, usize), (usize, i64)> = BTreeMap::new();
        for e in events {
            let lane = t.lane_of(names, e.pid);
            let i = t.steps.len();
            let obj = names.object(e.object);
            let detail = match e.op.as_str() {
                "load" | "store" => format!("{obj} {}", e.value),
                "acquire" if e.value > 1 => format!("{obj} (depth {})", e.value),
                "put" | "get" => format!("{obj} {}", e.value),
                "empty" => format!("{obj}: {}", if e.value != 0 { "yes" } else { "no" }),
                "start" | "join" => names.process(e.value as i32),
                "holder-died" => format!("{obj} from {}", names.process(e.value as i32)),
                "mark" | "call" | "return" => format!("{obj} {}", e.value),
                _ => obj.clone(),
            };
            // The runtime marks a panic's place in the trace with a mark on
            // its `panic` operation: shown as what it is.
            let panic = e.op == "mark" && obj == "panic";
            let (text, detail) = if panic {
                (format!("{} panics", names.process(e.pid)), String::new())
            } else {
                (narrate::event(names, e, label), detail)
            };
            let op = match e.op.as_str() {
                _ if panic => "panic".to_string(),
                "empty" => "empty?".to_string(),
                "holder-died" => "recover".to_string(),
                other => other.to_string(),
            };
            match e.op.as_str() {
                "acquire" => {
                    t.add_wait_for_lock(lane, i, &obj);
                    match open.get_mut(&(e.object, lane)) {
                        Some((h, depth)) => {
                            *depth = e.value.max(*depth + 1);
                            t.holdings[*h].depth = t.holdings[*h].depth.max(*depth);
                        }
                        None => {
                            open.insert((e.object, lane), (t.holdings.len(), e.value.max(1)));
                            t.holdings.push(Holding {
                                lane,
                                lock: obj.clone(),
                                from: i,
                                to: None,
                                depth: e.value.max(1),
                            });
                        }
                    }
                }
                "release" => {
                    if let Some((h, depth)) = open.get_mut(&(e.object, lane)) {
                        *depth -= 1;
                        if *depth <= 0 {
                            t.holdings[*h].to = Some(i);
                            open.remove(&(e.object, lane));
                        }
                    }
                }
                "holder-died" => {
                    let dead = t.lane_of(names, e.value as i32);
                    if let Some((h, _)) = open.remove(&(e.object, dead)) {
                        t.holdings[h].to = Some(i);
                    }
                    // The recovering process holds the lock from here.
                    open.insert((e.object, lane), (t.holdings.len(), 1));
                    t.holdings.push(Holding {
                        lane,
                        lock: obj.clone(),
                        from: i,
                        to: None,
                        depth: 1,
                    });
                }
                "load" | "store" => {
                    t.values.insert(obj.clone(), e.value);
                }
                _ => {}
            }
            t.steps.push(Step {
                seq: e.seq,
                lane,
                op,
                detail,
                text,
            });
        }
        t
    }

    fn lane_of(&mut self, names: &Names, pid: i32) -> usize {
        if let Some(i) = self.lanes.iter().position(|l| l.pid == pid) {
            return i;
        }
        self.lanes.push(Lane {
            pid,
            name: names.process(pid),
        });
        self.lanes.len() - 1
    }

    /// An acquire at step `i` waited if another process held the lock
    /// after this one's previous step: the wait is shaded from the later
    /// of the two to the acquire.
    fn add_wait_for_lock(&mut self, lane: usize, i: usize, name: &str) {
        let previous = self.steps.iter().rposition(|s| s.lane == lane);
        let held_by_other = |h: &Holding| h.lane != lane && h.lock == name;
        // The holdings of this lock by others that overlap (previous, i).
        let from = self
            .holdings
            .iter()
            .filter(|h| held_by_other(h))
            .filter(|h| h.to.is_none_or(|to| previous.is_none_or(|p| to > p)))
            .map(|h| previous.map_or(h.from, |p| p.max(h.from)))
            .min();
        if let Some(from) = from {
            let holder = self
                .holdings
                .iter()
                .rev()
                .find(|h| held_by_other(h))
                .map(|h| self.lanes[h.lane].name.clone())
                .unwrap_or_default();
            self.waits.push(Wait {
                lane,
                from,
                to: Some(i),
                what: format!("acquire of {name} (held by {holder})"),
                stuck: false,
            });
        }
    }

    /// The waits at the end: each waiting process waits from its last
    /// step on. In a deadlock nobody ends them (they are stuck); in a run
    /// paused at a choice (`grader play`) they are the waits of the moment,
    /// and the processes that can run are not waiting at all.
    fn add_stuck(&mut self, names: &Names, d: &course_report::Deadlock) {
        let paused = d.stuck.iter().any(|s| s.runnable);
        for s in d.stuck.iter().filter(|s| !s.runnable) {
            let lane = self.lane_of(names, s.pid);
            let from = self
                .steps
                .iter()
                .rposition(|st| st.lane == lane)
                .unwrap_or(0);
            self.waits.push(Wait {
                lane,
                from,
                to: None,
                what: s.waiting_for.clone(),
                stuck: !paused,
            });
        }
    }

    /// The breaking moment: the first broken invariant's step, and the
    /// run's first lost update, which is the moment a lesson points at.
    fn add_breaking(
        &mut self,
        names: &Names,
        events: &[&Event],
        broken: &[(&'static str, Violation)],
        lost_updates: bool,
    ) {
        let first = broken.first();
        let at_seq = first.and_then(|(_, v)| v.at);
        let step_of = |seq: u64| self.steps.iter().position(|s| s.seq == seq);
        let mut values: Vec<u32> = events
            .iter()
            .filter(|e| matches!(e.op.as_str(), "load" | "store"))
            .map(|e| e.object)
            .collect();
        values.dedup();
        values.sort_unstable();
        values.dedup();
        let lost = values
            .iter()
            .filter(|_| lost_updates)
            .filter_map(|&v| {
                let on: Vec<&Event> = events.iter().filter(|e| e.object == v).copied().collect();
                narrate::first_lost_update(&on)
            })
            .min_by_key(|l| l.overwriter.seq);
        let stuck = self.waits.iter().any(|w| w.stuck);
        if first.is_none() && lost.is_none() && !stuck {
            return;
        }
        let mut b = Breaking::default();
        match first {
            Some((name, v)) => {
                b.headline = format!("✗ {name}");
                b.lines.push(format!("expected  {}", v.expected));
                b.lines.push(format!("seen      {}", v.seen));
                b.at = at_seq.and_then(step_of);
            }
            None if lost.is_some() => b.headline = "a lost update".into(),
            None => b.headline = "deadlocked".into(),
        }
        if let Some(l) = &lost {
            b.overwritten = step_of(l.lost.seq);
            b.overwriter = step_of(l.overwriter.seq);
            b.lines.push(l.conclusion(names));
        }
        if stuck {
            for w in self.waits.iter().filter(|w| w.stuck) {
                b.lines
                    .push(format!("{} waits in {}", self.lanes[w.lane].name, w.what));
            }
        }
        self.breaking = Some(b);
    }

    /// The steps worth a close look: from a little before the breaking
    /// moment (the lost update's first load, the break, or the last steps
    /// before a deadlock) to a little after, at most `max` steps.
    pub fn focus(&self, max: usize) -> std::ops::Range<usize> {
        let n = self.steps.len();
        if n <= max {
            return 0..n;
        }
        let b = self.breaking.as_ref();
        // A lost update is the clearest picture of a race: it leads.
        let marks: Vec<usize> = b
            .map(|b| match (b.overwritten, b.overwriter) {
                (Some(lost), Some(over)) => vec![lost, over],
                _ => b.at.into_iter().collect(),
            })
            .unwrap_or_default();
        let (lo, hi) = match (marks.iter().min(), marks.iter().max()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            // A deadlock, or nothing broke: the end of the run.
            _ => (n - 1, n - 1),
        };
        // Start at the earlier of the marks' own first loads, a few steps
        // back, so that both read-modify-writes show whole.
        let start = lo.saturating_sub(max.saturating_sub(hi - lo + 1) * 2 / 3);
        let end = (start + max).min(n);
        end.saturating_sub(max)..end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::bank_run;

    fn bank() -> &'static Exercise {
        crate::catalog::find("locked-bank").unwrap()
    }

    /// deposit holds the lock around its load and store; withdraw loads
    /// outside it, then waits for the lock to store.
    fn lost_update_run() -> RunData {
        bank_run(
            "locked-bank",
            &[("value", "balance"), ("lock", "lock")],
            &[
                (2, "acquire", 2, 1),
                (2, "load", 1, 600),
                (3, "load", 1, 600),
                (2, "store", 1, 605),
                (2, "release", 2, 0),
                (3, "acquire", 2, 1),
                (3, "store", 1, 595),
                (3, "release", 2, 0),
            ],
            595,
        )
    }

    #[test]
    fn lanes_holdings_and_the_lost_update() {
        let run = lost_update_run();
        let t = Timeline::of_run(bank(), &run, &[], false);
        let names: Vec<&str> = t.lanes.iter().map(|l| l.name.as_str()).collect();
        assert!(
            names.contains(&"deposit") && names.contains(&"withdraw"),
            "{names:?}"
        );
        assert_eq!(t.steps.len(), 8);
        assert_eq!(t.holdings.len(), 2);
        assert_eq!((t.holdings[0].from, t.holdings[0].to), (0, Some(4)));
        // withdraw's acquire waited for deposit's holding to end.
        assert_eq!(t.waits.len(), 1);
        assert_eq!((t.waits[0].from, t.waits[0].to), (2, Some(5)));
        let b = t.breaking.clone().expect("a lost update");
        assert_eq!((b.overwritten, b.overwriter), (Some(3), Some(6)));
        assert!(b.lines[0].contains("overwrote deposit's 605"), "{b:?}");
        assert_eq!(t.values["balance"], 595);
        assert!(t.holdings.iter().all(|h| h.to.is_some()));
    }

    #[test]
    fn the_focus_keeps_the_breaking_moment() {
        let t = Timeline::of_run(bank(), &lost_update_run(), &[], false);
        assert_eq!(t.focus(100), 0..8);
        let r = t.focus(4);
        assert_eq!(r.len(), 4);
        assert!(r.contains(&3) && r.contains(&6) || r.end == 8, "{r:?}");
    }
}

//! Exercise 3, the locked bank: the same two processes, each update made
//! under one process-shared lock. Now the balance must come back to its
//! start in every run, and the trace must show why: every load and store
//! of an update inside one holding of the lock, the holdings never
//! overlapping, and the lock left free.

use std::collections::BTreeMap;

use course_report::Event;

use super::{Check, Invariant, Situation};
use crate::judge::model;
use crate::judge::narrate::{self, between, first_lost_update};
use crate::judge::run::{RunData, Unchecked};

/// The workers, by name.
pub const WORKERS: [&str; 2] = ["deposit", "withdraw"];
/// How many trace events a piece of evidence shows at most.
const EVIDENCE_EVENTS: usize = 12;

/// The exercise's invariants.
pub const INVARIANTS: &[Invariant] = &[
    Invariant::every(
        "updates",
        "each update reads the balance and moves it by the amount, deposit up and withdraw down",
        updates,
    )
    .on_any_run(),
    Invariant::every(
        "final-equals-start",
        "the final balance is the start",
        final_equals_start,
    ),
    Invariant::every("acquisitions", "each worker takes the lock", acquisitions),
    Invariant::every("exclusive", "no two critical sections overlap", exclusive).on_any_run(),
    Invariant::every(
        "update-inside-lock",
        "every update's load and store are inside one holding of the lock",
        update_inside_lock,
    )
    .on_any_run(),
    Invariant::every(
        "lock-free-at-exit",
        "the lock is free at exit",
        lock_free_at_exit,
    ),
];

/// The situations the scenario brings about, counted over a session.
pub const COVERAGE: &[Situation] = &[
    Situation {
        name: "the lock passed from one worker to the other and back",
        seen: |run| handovers(run) >= 2,
    },
    Situation {
        name: "deposit was started first",
        seen: |run| run.first_started().as_deref() == Some("deposit"),
    },
    Situation {
        name: "withdraw was started first",
        seen: |run| run.first_started().as_deref() == Some("withdraw"),
    },
];

/// How many times the lock went from one worker to the other.
fn handovers(run: &RunData) -> usize {
    let Ok(events) = run.events_on("lock") else {
        return 0;
    };
    let holders: Vec<i32> = events
        .iter()
        .filter(|e| e.op == "acquire")
        .map(|e| e.pid)
        .collect();
    holders.windows(2).filter(|w| w[0] != w[1]).count()
}

/// The workers of a bank (deposit up, withdraw down), with their pids as
/// the trace's start events give them.
pub fn bank_workers(run: &RunData) -> Result<Vec<model::BankWorker<'static>>, Unchecked> {
    WORKERS
        .iter()
        .zip([1, -1])
        .map(|(name, sign)| {
            let pid = run
                .names
                .pid_of(name)
                .ok_or_else(|| Unchecked(format!("{name} was never started")))?;
            Ok((pid, *name, sign))
        })
        .collect()
}

/// Every update of the balance against the bank model: a fresh read of
/// the current balance, then that value moved by the amount in the
/// worker's own direction. Judged as far as the trace goes.
pub fn updates(run: &RunData) -> Result<Check, Unchecked> {
    let (start, amount) = (run.param("start")?, run.param("amount")?);
    let id = run.object("balance")?;
    let events: Vec<&Event> = run.trace()?.iter().filter(|e| e.object == id).collect();
    if !events.iter().any(|e| e.op == "store") {
        return Err(Unchecked("no update of the balance was made".into()));
    }
    match model::bank(&events, start, amount, &bank_workers(run)?) {
        Ok(()) => Ok(Check::Held),
        Err(d) => {
            let all = run.trace()?;
            let shown = between(all, &[id], 0, d.seq, EVIDENCE_EVENTS);
            Ok(Check::broken(d.expected, d.seen)
                .with_evidence([narrate::sequence(&run.names, shown)])
                .at(d.seq))
        }
    }
}

fn final_equals_start(run: &RunData) -> Result<Check, Unchecked> {
    let start = run.param("start")?;
    let fin = run.final_value("balance")?;
    if fin == start {
        return Ok(Check::Held);
    }
    let check = Check::broken(format!("final balance {start}"), fin.to_string());
    Ok(check.with_evidence(lost_update_evidence(run)))
}

/// The first lost update in the trace, shown with the lock's events.
fn lost_update_evidence(run: &RunData) -> Option<String> {
    let balance = run.events_on("balance").ok()?;
    let lost = first_lost_update(&balance)?;
    let mut objects = vec![run.object("balance").ok()?];
    objects.extend(run.object("lock").ok());
    let (from, to) = (lost.window.first()?.seq, lost.window.last()?.seq);
    let shown = between(run.events().ok()?, &objects, from, to, EVIDENCE_EVENTS);
    Some(format!(
        "{} {}",
        narrate::sequence(&run.names, shown),
        lost.conclusion(&run.names)
    ))
}

fn worker_pids(run: &RunData) -> Result<Vec<(i32, &'static str)>, Unchecked> {
    WORKERS
        .iter()
        .map(|n| Ok((run.worker(n)?.pid, *n)))
        .collect()
}

/// Each worker took the lock at least once. How often is the worker's
/// choice: once per update is the lesson's way, but one holding around
/// all of a worker's updates is as correct (only slower), and a program
/// that takes it for more than the update is judged by what it does under
/// it ("update-inside-lock"), not by the count.
fn acquisitions(run: &RunData) -> Result<Check, Unchecked> {
    let events = run.events_on("lock")?;
    let mut per_worker = Vec::new();
    let mut all_took_it = true;
    for (pid, name) in worker_pids(run)? {
        let n = events
            .iter()
            .filter(|e| e.pid == pid && e.op == "acquire")
            .count();
        all_took_it &= n > 0;
        per_worker.push(format!("{name} took it {n} times"));
    }
    Ok(Check::expect(
        all_took_it,
        "each worker takes the lock given to it",
        per_worker.join(", "),
    ))
}

fn exclusive(run: &RunData) -> Result<Check, Unchecked> {
    let lock = run.object("lock")?;
    let all = run.trace()?;
    let mut holder: Option<&Event> = None;
    for e in all.iter().filter(|e| e.object == lock) {
        match e.op.as_str() {
            "acquire" => {
                if let Some(h) = holder.filter(|h| h.pid != e.pid) {
                    let shown = between(all, &[lock], h.seq, e.seq, EVIDENCE_EVENTS);
                    return Ok(Check::broken(
                        "one holder at a time",
                        format!(
                            "{} acquired the lock while {} held it",
                            run.names.process(e.pid),
                            run.names.process(h.pid)
                        ),
                    )
                    .with_evidence([narrate::sequence(&run.names, shown)])
                    .at(e.seq));
                }
                holder = Some(e);
            }
            "release" | "holder-died" => holder = None,
            _ => {}
        }
    }
    Ok(Check::Held)
}

fn update_inside_lock(run: &RunData) -> Result<Check, Unchecked> {
    let (balance, lock) = (run.object("balance")?, run.object("lock")?);
    let events = run.trace()?;
    // The current holder and the number of its holding; for each process,
    // its last load and the holding it was made in (if any).
    let mut holder: Option<(i32, u64)> = None;
    let mut holdings = 0u64;
    let mut loads: BTreeMap<i32, (&Event, Option<u64>)> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.object == balance || e.object == lock)
    {
        let held_by_me = holder.filter(|(p, _)| *p == e.pid).map(|(_, n)| n);
        match (e.object == lock, e.op.as_str()) {
            (true, "acquire") => {
                holdings += 1;
                holder = Some((e.pid, holdings));
            }
            (true, "release") | (true, "holder-died") => holder = None,
            (false, "load") => {
                loads.insert(e.pid, (e, held_by_me));
            }
            (false, "store") => {
                let who = run.names.process(e.pid);
                let load = loads.remove(&e.pid);
                let from = load.map_or(e.seq, |(l, _)| l.seq);
                let problem = match (load, held_by_me) {
                    (_, None) => Some(format!("{who} stored {} without holding the lock", e.value)),
                    (Some((l, None)), Some(_)) => Some(format!(
                        "{who} loaded {} outside the lock, then stored {} inside it",
                        l.value, e.value
                    )),
                    (Some((l, Some(a))), Some(b)) if a != b => Some(format!(
                        "{who} released the lock between its load ({}) and its store ({})",
                        l.value, e.value
                    )),
                    _ => None,
                };
                if let Some(seen) = problem {
                    let shown = between(events, &[balance, lock], from, e.seq, EVIDENCE_EVENTS);
                    return Ok(Check::broken(
                        "each load and its store made under one holding of the lock",
                        seen,
                    )
                    .with_evidence([narrate::sequence(&run.names, shown)])
                    .at(e.seq));
                }
            }
            _ => {}
        }
    }
    Ok(Check::Held)
}

fn lock_free_at_exit(run: &RunData) -> Result<Check, Unchecked> {
    let events = run.events_on("lock")?;
    // A lock never taken is free; "acquisitions" fails that case.
    let Some(last) = events.last() else {
        return Ok(Check::Held);
    };
    let mut balance: BTreeMap<i32, i64> = BTreeMap::new();
    for e in &events {
        match e.op.as_str() {
            "acquire" => *balance.entry(e.pid).or_default() += 1,
            "release" => *balance.entry(e.pid).or_default() -= 1,
            _ => {}
        }
    }
    if let Some((pid, n)) = balance.iter().find(|(_, n)| **n != 0) {
        return Ok(Check::broken(
            "every acquire matched by a release",
            format!(
                "{} took the lock {} more time(s) than it released it",
                run.names.process(*pid),
                n
            ),
        ));
    }
    Ok(Check::expect(
        last.op == "release",
        "the last operation on the lock is a release",
        narrate::event(&run.names, last, false),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;

    const BAL: u32 = 1;
    const LOCK: u32 = 2;

    fn bank(events: &[(i32, &str, u32, i64)], fin: i64) -> RunData {
        bank_run(
            "locked-bank",
            &[("value", "balance"), ("lock", "lock")],
            events,
            fin,
        )
    }

    fn locked_update(pid: i32, from: i64, to: i64) -> Vec<(i32, &'static str, u32, i64)> {
        vec![
            (pid, "acquire", LOCK, 1),
            (pid, "load", BAL, from),
            (pid, "store", BAL, to),
            (pid, "release", LOCK, 0),
        ]
    }

    #[test]
    fn a_correct_history_holds_everywhere() {
        let mut ev = locked_update(2, 600, 605);
        ev.extend(locked_update(3, 605, 600));
        let run = bank(&ev, 600);
        for inv in INVARIANTS {
            assert_eq!((inv.check)(&run).unwrap(), Check::Held, "{}", inv.id);
        }
    }

    #[test]
    fn a_lock_around_the_load_only_is_caught() {
        let ev = vec![
            (2, "acquire", LOCK, 1),
            (2, "load", BAL, 600),
            (2, "release", LOCK, 0),
            (3, "acquire", LOCK, 1),
            (3, "load", BAL, 600),
            (3, "release", LOCK, 0),
            (2, "store", BAL, 605),
            (3, "store", BAL, 595),
        ];
        let run = bank(&ev, 595);
        let Check::Broken(v) = update_inside_lock(&run).unwrap() else {
            panic!()
        };
        assert_eq!(v.seen, "deposit stored 605 without holding the lock");
        let Check::Broken(v) = final_equals_start(&run).unwrap() else {
            panic!()
        };
        assert!(
            v.evidence[0].contains("one update by deposit lost"),
            "{v:?}"
        );
    }

    #[test]
    fn a_release_between_load_and_store_is_caught() {
        let ev = vec![
            (2, "acquire", LOCK, 1),
            (2, "load", BAL, 600),
            (2, "release", LOCK, 0),
            (2, "acquire", LOCK, 1),
            (2, "store", BAL, 605),
            (2, "release", LOCK, 0),
        ];
        let run = bank(&ev, 605);
        let Check::Broken(v) = update_inside_lock(&run).unwrap() else {
            panic!()
        };
        assert!(
            v.seen.contains("released the lock between its load"),
            "{v:?}"
        );
    }

    #[test]
    fn a_missing_release_leaves_the_lock_taken() {
        let ev = vec![
            (2, "acquire", LOCK, 1),
            (2, "load", BAL, 600),
            (2, "store", BAL, 605),
        ];
        let run = bank(&ev, 605);
        assert!(matches!(lock_free_at_exit(&run).unwrap(), Check::Broken(_)));
    }

    #[test]
    fn overlapping_holders_are_caught() {
        let ev = vec![(2, "acquire", LOCK, 1), (3, "acquire", LOCK, 1)];
        let run = bank(&ev, 600);
        assert!(matches!(exclusive(&run).unwrap(), Check::Broken(_)));
    }
}

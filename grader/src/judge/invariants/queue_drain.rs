//! Exercise 4, the queue drain: the main process puts items on a queue,
//! two children `P1` and `P2` take them until it is empty. Checking
//! `empty()` and then calling `get()` is two steps; if the other child takes
//! the last item in between, `get()` waits forever. The fixed drain makes
//! the check and the take one step, so every run ends and every item is
//! taken exactly once.

use std::collections::BTreeMap;

use super::{common, Check, Invariant, Situation};
use crate::judge::model;
use crate::judge::narrate::{self, between};
use crate::judge::run::{RunData, Unchecked};

/// The draining children, by name.
pub const DRAINERS: [&str; 2] = ["P1", "P2"];

/// The exercise's invariants.
pub const INVARIANTS: &[Invariant] = &[
    Invariant::every("no-hang", "every run terminates (no hang)", no_hang).of_the_ending(),
    Invariant::every(
        "first-in-first-out",
        "items come off the queue in the order they were put",
        first_in_first_out,
    )
    .on_any_run(),
    Invariant::every(
        "exactly-once",
        "every item is consumed exactly once",
        exactly_once,
    ),
    Invariant::every(
        "counts-sum",
        "the children's counts sum to the items put",
        counts_sum,
    ),
    Invariant::every("queue-empty", "nothing is left in the queue", queue_empty),
];

/// The situations the scenario brings about, counted over a session.
pub const COVERAGE: &[Situation] = &[
    Situation {
        name: "P1 was started first",
        seen: |run| run.first_started().as_deref() == Some("P1"),
    },
    Situation {
        name: "P2 was started first",
        seen: |run| run.first_started().as_deref() == Some("P2"),
    },
    Situation {
        name: "both children took items",
        seen: |run| takers(run).len() == 2,
    },
    Situation {
        name: "the children took turns at the queue",
        seen: |run| {
            let Ok(events) = run.events_on("queue") else {
                return false;
            };
            let gets: Vec<i32> = events
                .iter()
                .filter(|e| e.op == "get")
                .map(|e| e.pid)
                .collect();
            gets.windows(2).filter(|w| w[0] != w[1]).count() >= 2
        },
    },
];

/// The processes that took items.
fn takers(run: &RunData) -> std::collections::BTreeSet<i32> {
    run.events_on("queue")
        .map(|events| {
            events
                .iter()
                .filter(|e| e.op == "get")
                .map(|e| e.pid)
                .collect()
        })
        .unwrap_or_default()
}

/// The queue's trace against a first-in, first-out queue holding the
/// run's items; judged as far as the trace goes.
fn first_in_first_out(run: &RunData) -> Result<Check, Unchecked> {
    let items = run.param_list("items")?;
    let id = run.object("queue")?;
    let all = run.trace()?;
    let events: Vec<_> = all.iter().filter(|e| e.object == id).collect();
    if !events.iter().any(|e| e.op == "get") {
        return Err(Unchecked("no item was taken".into()));
    }
    match model::fifo(&events, items, &run.names) {
        Ok(()) => Ok(Check::Held),
        Err(d) => {
            let shown = between(all, &[id], 0, d.seq, 12);
            Ok(Check::broken(d.expected, d.seen)
                .with_evidence([narrate::sequence(&run.names, shown)])
                .at(d.seq))
        }
    }
}

fn no_hang(run: &RunData) -> Result<Check, Unchecked> {
    if !run.hung() {
        // A run that panicked or crashed ended, but says nothing about
        // whether the drain would have.
        return common::clean(run).map(|()| Check::Held);
    }
    let check = Check::broken("the run ends on its own", run.ending_phrase());
    let Some(d) = run.deadlock() else {
        return Ok(check);
    };
    // The interleaving that led here: from the waiting child's last look
    // at the queue (typically "empty? no") to the end.
    let queue = run.names.object_id("queue");
    let on_queue: Vec<_> = d
        .events
        .iter()
        .filter(|e| queue.is_none_or(|q| e.object == q) && e.op != "put")
        .collect();
    let waiter = d.stuck.iter().find(|s| s.op == "get");
    let from = waiter
        .and_then(|w| on_queue.iter().rposition(|e| e.pid == w.pid))
        .unwrap_or(on_queue.len().saturating_sub(8));
    let shown = &on_queue[from.max(on_queue.len().saturating_sub(12))..];
    if shown.is_empty() {
        return Ok(check);
    }
    let end = match waiter {
        Some(w) => format!("{} waits in {} for ever", w.process, w.waiting_for),
        None => "nobody can run".to_string(),
    };
    Ok(check.with_evidence([format!(
        "{} → {end}",
        narrate::sequence(&run.names, shown.iter().copied())
    )]))
}

/// Counts of each item in a list.
fn multiset(items: impl IntoIterator<Item = i64>) -> BTreeMap<i64, i64> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

/// "item 17 ×2, item 40 ×0": where two multisets differ.
fn differences(want: &BTreeMap<i64, i64>, got: &BTreeMap<i64, i64>) -> String {
    let keys: std::collections::BTreeSet<i64> = want.keys().chain(got.keys()).copied().collect();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| want.get(k) != got.get(k))
        .map(|k| {
            let (w, g) = (
                want.get(&k).copied().unwrap_or(0),
                got.get(&k).copied().unwrap_or(0),
            );
            match (w, g) {
                (_, 0) => format!("{k} never taken"),
                (0, _) => format!("{k} taken but never put"),
                (w, g) if g < w => format!("{k} taken {g} times of the {w} put"),
                (w, g) => format!("{k} taken {g} times but put {w}"),
            }
        })
        .collect();
    let shown = diffs.iter().take(6).cloned().collect::<Vec<_>>().join(", ");
    match diffs.len() {
        n if n > 6 => format!("{shown}, and {} more", n - 6),
        _ => shown,
    }
}

fn exactly_once(run: &RunData) -> Result<Check, Unchecked> {
    let put = multiset(run.param_list("items")?.iter().copied());
    let mut taken_items = Vec::new();
    for name in DRAINERS {
        taken_items.extend(run.worker(name)?.items.iter().copied());
    }
    let taken = multiset(taken_items);
    if taken != put {
        return Ok(Check::broken(
            format!(
                "the {} items put, each taken once",
                put.values().sum::<i64>()
            ),
            differences(&put, &taken),
        ));
    }
    // The children's own accounts must agree with the trace, and the
    // parent must have put the grader's items.
    let queue = run.events_on("queue")?;
    let traced_puts = multiset(queue.iter().filter(|e| e.op == "put").map(|e| e.value));
    if traced_puts != put {
        return Ok(Check::broken(
            "the items the grader gave, put on the queue",
            differences(&put, &traced_puts),
        ));
    }
    // Each child's drain returns the items it took, in the order it took
    // them.
    for name in DRAINERS {
        let w = run.worker(name)?;
        let traced: Vec<i64> = queue
            .iter()
            .filter(|e| e.pid == w.pid && e.op == "get")
            .map(|e| e.value)
            .collect();
        if traced != w.items {
            let at = traced
                .iter()
                .zip(&w.items)
                .position(|(a, b)| a != b)
                .unwrap_or(traced.len().min(w.items.len()));
            return Ok(Check::broken(
                format!(
                    "{name}'s drain returns the {} items it took, in the order it took them",
                    traced.len()
                ),
                format!(
                    "it returned {} items; they part at item {}: {}",
                    w.items.len(),
                    at + 1,
                    match (traced.get(at), w.items.get(at)) {
                        (Some(t), Some(r)) => format!("it took {t}, returned {r}"),
                        (Some(t), None) => format!("it took {t}, returned nothing more"),
                        (None, Some(r)) => format!("it returned {r}, never taken"),
                        (None, None) => String::new(),
                    }
                ),
            ));
        }
    }
    Ok(Check::Held)
}

fn counts_sum(run: &RunData) -> Result<Check, Unchecked> {
    let put = run.param_list("items")?.len() as i64;
    let mut parts = Vec::new();
    let mut sum = 0;
    for name in DRAINERS {
        let n = run
            .worker(name)?
            .counts
            .get("items")
            .copied()
            .ok_or_else(|| Unchecked(format!("{name} reported no `items` count")))?;
        sum += n;
        parts.push(format!("{name} {n}"));
    }
    Ok(Check::expect(
        sum == put,
        format!("{put} (the items put)"),
        format!("{sum} ({})", parts.join(" + ")),
    ))
}

fn queue_empty(run: &RunData) -> Result<Check, Unchecked> {
    let left = run.final_value("left_in_queue")?;
    Ok(Check::expect(
        left == 0,
        "0 items left",
        format!("{left} items left"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;
    use course_report::{Deadlock, Param, Record, Stuck};

    fn drain(p1: Vec<i64>, p2: Vec<i64>) -> RunData {
        let mut events = vec![];
        for i in [1, 2, 3] {
            events.push((1, "put", 1, i));
        }
        // The takes in the order the items came off the queue.
        let mut takes: Vec<(i32, i64)> = p1.iter().map(|&i| (2, i)).collect();
        takes.extend(p2.iter().map(|&i| (3, i)));
        takes.sort_by_key(|&(_, i)| i);
        for (pid, i) in takes {
            events.push((pid, "get", 1, i));
        }
        run(
            "queue-drain",
            vec![
                header_with("queue-drain", &[("items", Param::List(vec![1, 2, 3]))]),
                worker("MainProcess", 1, &[("items", 3)], vec![1, 2, 3]),
                worker("P1", 2, &[("items", p1.len() as i64)], p1),
                worker("P2", 3, &[("items", p2.len() as i64)], p2),
                summary(
                    &[("left_in_queue", 0)],
                    &[("P1", 2), ("P2", 3)],
                    &[("queue", "queue")],
                    &events,
                ),
            ],
        )
    }

    #[test]
    fn a_clean_drain_holds() {
        let run = drain(vec![1, 3], vec![2]);
        for inv in INVARIANTS {
            assert_eq!((inv.check)(&run).unwrap(), Check::Held, "{}", inv.id);
        }
    }

    #[test]
    fn a_doubly_taken_item_is_named() {
        let run = drain(vec![1, 2], vec![2]);
        let Check::Broken(v) = exactly_once(&run).unwrap() else {
            panic!()
        };
        assert!(v.seen.contains("2 taken 2 times"), "{v:?}");
        assert!(v.seen.contains("3 never taken"), "{v:?}");
    }

    #[test]
    fn a_deadlock_is_a_hang_naming_who_waits() {
        let mut run = run(
            "queue-drain",
            vec![
                header_with("queue-drain", &[("items", Param::List(vec![1, 2, 3]))]),
                Record::Deadlock(Deadlock {
                    stuck: vec![Stuck {
                        pid: 3,
                        process: "P2".into(),
                        op: "get".into(),
                        waiting_for: "get on queue 'queue' (empty)".into(),
                        runnable: false,
                    }],
                    schedule: Some("1.2".into()),
                    choices: None,
                    events: vec![],
                    objects: vec![],
                }),
            ],
        );
        run.outcome = exited(86);
        let Check::Broken(v) = no_hang(&run).unwrap() else {
            panic!()
        };
        assert!(
            v.seen.contains("P2 waits in get on queue 'queue' (empty)"),
            "{v:?}"
        );
    }
}

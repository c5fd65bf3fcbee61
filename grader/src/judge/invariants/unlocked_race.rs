//! Exercise 2, the unlocked race: `deposit` and `withdraw` update one
//! shared balance from two processes with no lock. The exercise succeeds
//! when the race is *demonstrated*: two real processes ran side by side,
//! each did its work, every final balance is one that some interleaving
//! can produce, and at least one run of the session lost an update.

use super::{locked_bank, Check, Distribution, Invariant, Situation};
use crate::judge::narrate::first_lost_update;
use crate::judge::run::{RunData, Unchecked};

/// The workers, by name.
pub const WORKERS: [&str; 2] = ["deposit", "withdraw"];

/// The exercise's invariants.
pub const INVARIANTS: &[Invariant] = &[
    Invariant::every(
        "two-processes",
        "two distinct worker processes ran",
        two_processes,
    ),
    Invariant::every(
        "overlap",
        "the workers overlapped (their updates interleave)",
        overlap,
    )
    .not_in_every_schedule(),
    Invariant::every(
        "updates",
        "each update reads the balance and moves it by the amount, deposit up and withdraw down",
        locked_bank::updates,
    )
    .on_any_run(),
    Invariant::every(
        "all-steps",
        "each worker updates the balance once per step",
        all_steps,
    ),
    Invariant::every("reachable", "every final balance is reachable", reachable),
    Invariant::some(
        "lost-update",
        "a lost update shows: a worker overwrote an update it never read",
        lost_update,
    ),
];

/// The situations the scenario brings about, counted over a session.
pub const COVERAGE: &[Situation] = &[
    Situation {
        name: "an update was lost",
        seen: |run| {
            run.events_on("balance")
                .is_ok_and(|events| first_lost_update(&events).is_some())
        },
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

/// The final balances over the session.
pub const DISTRIBUTIONS: &[Distribution] = &[Distribution {
    name: "final − start, in amounts (the lost updates, net)",
    value: drift,
}];

/// How far the balance ended from its start, counted in amounts: 0 when
/// no update was lost (or as many of each side were), +2 when two
/// withdrawals were lost. Each run has its own start and amount, so this
/// is what compares across runs.
fn drift(run: &RunData) -> Option<String> {
    let fin = *run.finals()?.get("balance")?;
    let (start, amount) = (run.param("start").ok()?, run.param("amount").ok()?);
    if amount == 0 {
        return None;
    }
    let d = (fin - start) / amount;
    Some(if d > 0 {
        format!("+{d}")
    } else {
        d.to_string()
    })
}

/// The pids of the two workers, checked to be real, distinct children.
fn worker_pids(run: &RunData) -> Result<Result<[i32; 2], Check>, Unchecked> {
    let main = run.header()?.pid;
    let mut pids = [0; 2];
    for (slot, name) in pids.iter_mut().zip(WORKERS) {
        let w = run.worker(name)?;
        if w.pid == main || w.pid <= 0 {
            return Ok(Err(Check::broken(
                format!("{name} runs in a process of its own"),
                format!("{name} ran in the main process (pid {})", w.pid),
            )));
        }
        *slot = w.pid;
    }
    if pids[0] == pids[1] {
        return Ok(Err(Check::broken(
            "deposit and withdraw in two processes",
            format!("both ran in process {}", pids[0]),
        )));
    }
    Ok(Ok(pids))
}

fn two_processes(run: &RunData) -> Result<Check, Unchecked> {
    let pids = match worker_pids(run)? {
        Ok(p) => p,
        Err(broken) => return Ok(broken),
    };
    let events = run.events_on("balance")?;
    for (pid, name) in pids.iter().zip(WORKERS) {
        if !events.iter().any(|e| e.pid == *pid) {
            return Ok(Check::broken(
                format!("{name} (pid {pid}) updates the balance"),
                format!("the trace has no operation on the balance by {name}"),
            ));
        }
    }
    Ok(Check::Held)
}

fn overlap(run: &RunData) -> Result<Check, Unchecked> {
    let Ok(pids) = worker_pids(run)? else {
        return Err(Unchecked("the workers did not run as two processes".into()));
    };
    let events = run.events_on("balance")?;
    let span = |pid: i32| {
        let seqs = events.iter().filter(|e| e.pid == pid).map(|e| e.seq);
        (seqs.clone().min(), seqs.max())
    };
    let (a, b) = (span(pids[0]), span(pids[1]));
    let (Some(a0), Some(a1), Some(b0), Some(b1)) = (a.0, a.1, b.0, b.1) else {
        return Err(Unchecked("a worker has no operation on the balance".into()));
    };
    Ok(Check::expect(
        a0.max(b0) < a1.min(b1),
        "deposit and withdraw update the balance at the same time",
        format!(
            "one after the other: deposit at events #{a0}–#{a1}, withdraw at #{b0}–#{b1} \
             (was the first joined before the second started?)"
        ),
    ))
}

/// Each worker stored the balance once per step (and, if it counts its
/// steps, counted as many): shared by the locked bank, whose workers make
/// the same updates.
pub(super) fn all_steps(run: &RunData) -> Result<Check, Unchecked> {
    let steps = run.param("steps")?;
    let events = run.events_on("balance")?;
    for name in WORKERS {
        let w = run.worker(name)?;
        let stores = events
            .iter()
            .filter(|e| e.pid == w.pid && e.op == "store")
            .count() as i64;
        if stores != steps {
            return Ok(Check::broken(
                format!("{name} stores the balance {steps} times"),
                format!("{name} stored it {stores} times"),
            ));
        }
        if let Some(&n) = w.counts.get("steps") {
            if n != steps {
                return Ok(Check::broken(
                    format!("{name} counts {steps} steps"),
                    format!("{name} counted {n}"),
                ));
            }
        }
    }
    Ok(Check::Held)
}

fn reachable(run: &RunData) -> Result<Check, Unchecked> {
    let (start, amount, steps) = (
        run.param("start")?,
        run.param("amount")?,
        run.param("steps")?,
    );
    let fin = run.final_value("balance")?;
    let (lo, hi) = (start - steps * amount, start + steps * amount);
    let ok = (lo..=hi).contains(&fin) && amount != 0 && (fin - start) % amount == 0;
    Ok(Check::expect(
        ok,
        format!("a balance from {lo} to {hi} that differs from {start} by a multiple of {amount}"),
        fin.to_string(),
    ))
}

fn lost_update(run: &RunData) -> Result<Check, Unchecked> {
    let events = run.events_on("balance")?;
    if first_lost_update(&events).is_some() {
        return Ok(Check::Held);
    }
    Ok(Check::broken(
        "a store that overwrites another worker's update, made after its own load",
        "no update was lost: each store read the one before it",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;

    fn race(events: &[(i32, &str, u32, i64)], fin: i64) -> RunData {
        bank_run("unlocked-race", &[("value", "balance")], events, fin)
    }

    #[test]
    fn an_interleaved_race_is_demonstrated() {
        let run = race(
            &[
                (2, "load", 1, 600),
                (3, "load", 1, 600),
                (2, "store", 1, 605),
                (3, "store", 1, 595),
            ],
            595,
        );
        for inv in INVARIANTS {
            assert_eq!((inv.check)(&run).unwrap(), Check::Held, "{}", inv.id);
        }
    }

    #[test]
    fn workers_one_after_the_other_do_not_overlap() {
        let run = race(
            &[
                (2, "load", 1, 600),
                (2, "store", 1, 605),
                (3, "load", 1, 605),
                (3, "store", 1, 600),
            ],
            600,
        );
        assert!(matches!(overlap(&run).unwrap(), Check::Broken(_)));
        assert!(matches!(lost_update(&run).unwrap(), Check::Broken(_)));
        assert_eq!(reachable(&run).unwrap(), Check::Held);
    }

    #[test]
    fn an_unreachable_final_is_broken() {
        let run = race(&[(2, "store", 1, 603), (3, "store", 1, 603)], 603);
        assert!(matches!(reachable(&run).unwrap(), Check::Broken(_)));
    }
}

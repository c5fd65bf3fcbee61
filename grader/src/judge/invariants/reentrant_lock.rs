//! Exercise 5, the reentrant lock: an owner and a depth on top of a plain
//! lock, so the process that holds it can take it again. The main process
//! takes it first and holds it a while; then two children each take it
//! `depth` times and release it as often.
//!
//! A process *enters* the reentrant lock when it takes the underlying lock
//! (`rlock.lock`) or writes the owner or depth (`rlock.owner`,
//! `rlock.depth`); a lock with no owner check lets a child in by writing the
//! depth alone, which is exactly what must be seen. It *leaves* at its last
//! release of the underlying lock or its last write of the depth.

use course_report::Event;

use super::{Check, Invariant};
use crate::judge::narrate::{self, between};
use crate::judge::run::{RunData, Unchecked};

/// The children, by name.
pub const CHILDREN: [&str; 2] = ["P1", "P2"];
/// The probes the scenario runs, by name.
pub const PROBE_NOT_OWNER: &str = "a release by a process that does not own the lock is refused";
/// See [`PROBE_NOT_OWNER`].
pub const PROBE_EXTRA_RELEASE: &str = "an extra release is refused";
const LABELS: [&str; 3] = ["rlock.lock", "rlock.owner", "rlock.depth"];
const EVIDENCE_EVENTS: usize = 14;

/// The exercise's invariants.
pub const INVARIANTS: &[Invariant] = &[
    Invariant::every(
        "parent-first",
        "no child enters while the parent holds the lock",
        parent_first,
    ),
    Invariant::every(
        "spans-disjoint",
        "the children's holding spans never overlap",
        spans_disjoint,
    ),
    Invariant::every(
        "depth-round-trip",
        "each child's depth reaches `depth` and returns to 0",
        depth_round_trip,
    ),
    // The probes are written as they are made, so they speak for runs that
    // went wrong later too: a release let through is the bug to name first.
    Invariant::every("probe-not-owner", PROBE_NOT_OWNER, probe_not_owner).on_any_run(),
    Invariant::every(
        "probe-extra-release",
        PROBE_EXTRA_RELEASE,
        probe_extra_release,
    ),
    Invariant::every("free-at-end", "the lock is free at the end", free_at_end),
];

/// The events on the reentrant lock's parts, and their ids.
fn rlock_events(run: &RunData) -> Result<(Vec<&Event>, Vec<u32>), Unchecked> {
    let ids: Vec<u32> = LABELS
        .iter()
        .map(|l| run.object(l))
        .collect::<Result<_, _>>()?;
    let events = run
        .events()?
        .iter()
        .filter(|e| ids.contains(&e.object))
        .collect();
    Ok((events, ids))
}

/// Whether an event takes or changes the lock (as opposed to looking).
fn enters(e: &Event, lock: u32) -> bool {
    (e.object == lock && e.op == "acquire") || (e.object != lock && e.op == "store")
}

/// The first and last events by which `pid` held the lock.
fn span(events: &[&Event], pid: i32, lock: u32) -> Option<(u64, u64)> {
    let first = events.iter().find(|e| e.pid == pid && enters(e, lock))?.seq;
    let last = events
        .iter()
        .rev()
        .find(|e| e.pid == pid && (enters(e, lock) || (e.object == lock && e.op == "release")))?
        .seq;
    Some((first, last))
}

fn evidence(run: &RunData, ids: &[u32], from: u64, to: u64) -> Vec<String> {
    match run.events() {
        Ok(all) => vec![narrate::sequence(
            &run.names,
            between(all, ids, from, to, EVIDENCE_EVENTS),
        )],
        Err(_) => vec![],
    }
}

fn parent_first(run: &RunData) -> Result<Check, Unchecked> {
    let (events, ids) = rlock_events(run)?;
    let lock = ids[0];
    let main = run.header()?.pid;
    let Some(start) = events
        .iter()
        .find(|e| e.pid == main && enters(e, lock))
        .map(|e| e.seq)
    else {
        return Err(Unchecked("the main process never took the lock".into()));
    };
    // The parent's holding ends at its first release of the underlying
    // lock, or failing that when it sets the depth back to 0.
    let end = events
        .iter()
        .find(|e| e.pid == main && e.seq > start && e.object == lock && e.op == "release")
        .or_else(|| {
            events.iter().find(|e| {
                e.pid == main
                    && e.seq > start
                    && e.object == ids[2]
                    && e.op == "store"
                    && e.value == 0
            })
        })
        .map_or(u64::MAX, |e| e.seq);
    for name in CHILDREN {
        let pid = run.worker(name)?.pid;
        if let Some(e) = events.iter().find(|e| e.pid == pid && enters(e, lock)) {
            if e.seq > start && e.seq < end {
                let seen = format!(
                    "{name} entered ({}) while the parent held the lock",
                    narrate::event(&run.names, e, true)
                );
                return Ok(
                    Check::broken("children enter only after the parent's release", seen)
                        .with_evidence(evidence(run, &ids, start, e.seq)),
                );
            }
        }
    }
    Ok(Check::Held)
}

fn spans_disjoint(run: &RunData) -> Result<Check, Unchecked> {
    let (events, ids) = rlock_events(run)?;
    let mut spans = Vec::new();
    for name in CHILDREN {
        let pid = run.worker(name)?.pid;
        match span(&events, pid, ids[0]) {
            Some(s) => spans.push((name, s)),
            None => return Err(Unchecked(format!("{name} never took the lock"))),
        }
    }
    let (a, b) = (spans[0], spans[1]);
    let (lo, hi) = (a.1 .0.max(b.1 .0), a.1 .1.min(b.1 .1));
    if lo > hi {
        return Ok(Check::Held);
    }
    Ok(Check::broken(
        "one child holds the lock at a time",
        format!(
            "{} held it at events #{}–#{} and {} at #{}–#{}",
            a.0, a.1 .0, a.1 .1, b.0, b.1 .0, b.1 .1
        ),
    )
    .with_evidence(evidence(run, &ids, lo, hi)))
}

fn depth_round_trip(run: &RunData) -> Result<Check, Unchecked> {
    let want = run.param("depth")?;
    let depth = run.events_on("rlock.depth")?;
    for name in CHILDREN {
        let w = run.worker(name)?;
        let stores: Vec<i64> = depth
            .iter()
            .filter(|e| e.pid == w.pid && e.op == "store")
            .map(|e| e.value)
            .collect();
        let (max, last) = (stores.iter().max().copied(), stores.last().copied());
        if max != Some(want) || last != Some(0) {
            let shown = |v: Option<i64>| v.map_or("never written".to_string(), |v| v.to_string());
            return Ok(Check::broken(
                format!("{name}'s depth rises to {want} and ends at 0"),
                format!(
                    "{name}'s depth rose to {} and ended at {} (writes: {})",
                    shown(max),
                    shown(last),
                    stores
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
        }
        let (m, f) = (
            w.counts.get("max_depth").copied(),
            w.counts.get("final_depth").copied(),
        );
        if m != Some(want) || f != Some(0) {
            return Ok(Check::broken(
                format!("{name} reports max_depth {want}, final_depth 0"),
                format!("max_depth {m:?}, final_depth {f:?}"),
            ));
        }
    }
    Ok(Check::Held)
}

fn probe(run: &RunData, name: &str) -> Result<Check, Unchecked> {
    let probes = &run.report()?.probes;
    let Some(p) = probes.iter().find(|p| p.name == name) else {
        return Err(Unchecked(format!(
            "the scenario reported no probe \"{name}\""
        )));
    };
    Ok(Check::expect(
        p.passed,
        "refused, the lock unchanged",
        p.detail.clone(),
    ))
}

fn probe_not_owner(run: &RunData) -> Result<Check, Unchecked> {
    probe(run, PROBE_NOT_OWNER)
}

fn probe_extra_release(run: &RunData) -> Result<Check, Unchecked> {
    probe(run, PROBE_EXTRA_RELEASE)
}

fn free_at_end(run: &RunData) -> Result<Check, Unchecked> {
    let (owner, depth, held) = (
        run.final_value("owner")?,
        run.final_value("depth")?,
        run.final_value("held")?,
    );
    Ok(Check::expect(
        owner == 0 && depth == 0 && held == 0,
        "owner 0, depth 0, underlying lock free",
        format!(
            "owner {owner}, depth {depth}, underlying lock {}",
            if held == 0 { "free" } else { "held" }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;
    use course_report::{Probe, Record};

    const LOCK: u32 = 1;
    const OWNER: u32 = 2;
    const DEPTH: u32 = 3;

    fn take_and_release(pid: i32, times: i64) -> Vec<(i32, &'static str, u32, i64)> {
        let mut ev = vec![
            (pid, "acquire", LOCK, 1),
            (pid, "store", OWNER, pid as i64),
            (pid, "store", DEPTH, 1),
        ];
        for d in 2..=times {
            ev.push((pid, "store", DEPTH, d));
        }
        for d in (0..times).rev() {
            ev.push((pid, "store", DEPTH, d));
        }
        ev.push((pid, "store", OWNER, 0));
        ev.push((pid, "release", LOCK, 0));
        ev
    }

    fn rlock(events: Vec<(i32, &'static str, u32, i64)>) -> RunData {
        let probe = |name: &str| {
            Record::Probe(Probe {
                name: name.into(),
                passed: true,
                detail: "refused".into(),
            })
        };
        run(
            "reentrant-lock",
            vec![
                header(
                    "reentrant-lock",
                    &[("children", 2), ("depth", 2), ("hold_ms", 3000)],
                ),
                worker("P1", 2, &[("max_depth", 2), ("final_depth", 0)], vec![]),
                worker("P2", 3, &[("max_depth", 2), ("final_depth", 0)], vec![]),
                probe(PROBE_NOT_OWNER),
                probe(PROBE_EXTRA_RELEASE),
                summary(
                    &[("owner", 0), ("depth", 0), ("held", 0)],
                    &[("P1", 2), ("P2", 3)],
                    &[
                        ("lock", "rlock.lock"),
                        ("value", "rlock.owner"),
                        ("value", "rlock.depth"),
                    ],
                    &events,
                ),
            ],
        )
    }

    #[test]
    fn a_correct_history_holds() {
        let mut ev = take_and_release(1, 1);
        ev.extend(take_and_release(2, 2));
        ev.extend(take_and_release(3, 2));
        let run = rlock(ev);
        for inv in INVARIANTS {
            assert_eq!((inv.check)(&run).unwrap(), Check::Held, "{}", inv.id);
        }
    }

    #[test]
    fn a_child_entering_on_the_depth_alone_is_caught() {
        // No owner check: P1 sees depth 1 and just raises it.
        let mut ev = vec![
            (1, "acquire", LOCK, 1),
            (1, "store", OWNER, 1),
            (1, "store", DEPTH, 1),
        ];
        ev.push((2, "store", DEPTH, 2));
        ev.extend([(1, "store", DEPTH, 0), (1, "release", LOCK, 0)]);
        let run = rlock(ev);
        let Check::Broken(v) = parent_first(&run).unwrap() else {
            panic!()
        };
        assert!(v.seen.starts_with("P1 entered"), "{v:?}");
    }

    #[test]
    fn interleaved_children_overlap() {
        let mut ev = take_and_release(1, 1);
        let (a, b) = (take_and_release(2, 2), take_and_release(3, 2));
        ev.extend(a[..3].iter().cloned());
        ev.extend(b.iter().cloned());
        ev.extend(a[3..].iter().cloned());
        let run = rlock(ev);
        assert!(matches!(spans_disjoint(&run).unwrap(), Check::Broken(_)));
    }
}

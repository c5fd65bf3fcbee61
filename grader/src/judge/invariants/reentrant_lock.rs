//! Exercise 5, the reentrant lock: an owner and a depth on top of a plain
//! lock, so the process that holds it can take it again. The main process
//! takes it twice and holds it a while; then two children each take it
//! the run's depth and release it as often, round after round; an
//! intruder releases a lock it does not own; the parent releases a free
//! lock at the end; the accessors are asked along the way.
//!
//! Every judgement replays the trace through the model of a reentrant
//! lock ([`model::Rlock`]): the lock's parts (`rlock.lock`,
//! `rlock.owner`, `rlock.depth`) and the calls the driver made, with
//! what they returned. The checks of safety (nobody enters a lock another
//! owns, the state stays consistent, refusals refuse) judge every run
//! whose trace exists, a run that panicked later included: the first
//! cause is shown, not its symptom.

use course_report::Event;

use super::{Check, Invariant, Situation};
use crate::judge::model::{Disagreement, Rlock, RlockIds};
use crate::judge::narrate::{self, between};
use crate::judge::run::{RunData, Unchecked};

/// The children, by name.
pub const CHILDREN: [&str; 2] = ["P1", "P2"];
const EVIDENCE_EVENTS: usize = 14;

/// The exercise's invariants.
pub const INVARIANTS: &[Invariant] = &[
    Invariant::every(
        "exclusive",
        "no process enters the lock while another owns it",
        exclusive,
    )
    .on_any_run(),
    Invariant::every(
        "owner-and-depth",
        "the owner is the process holding the lock, and its depth moves by one",
        owner_and_depth,
    )
    .on_any_run(),
    Invariant::every(
        "owner-calls",
        "the owner's acquire and release take and give up one level",
        owner_calls,
    )
    .on_any_run(),
    Invariant::every(
        "rounds",
        "each child takes the lock to the run's depth and back to 0, every round",
        rounds,
    )
    .on_any_run(),
    Invariant::every(
        "probe-not-owner",
        "a release by a process that does not own the lock is refused (NotOwner, with a message) and changes nothing",
        not_owner,
    )
    .on_any_run(),
    Invariant::every(
        "probe-extra-release",
        "a release of a free lock is refused (NotHeld, with a message) and changes nothing",
        not_held,
    )
    .on_any_run(),
    Invariant::every(
        "accessors",
        "depth(), owner() and is_held() answer the truth",
        accessors,
    )
    .on_any_run(),
    Invariant::every("free-at-end", "the lock is free at the end", free_at_end),
];

/// The situations the scenario brings about, counted over a session.
pub const COVERAGE: &[Situation] = &[
    Situation {
        name: "a child read the owner while the other child held the lock",
        seen: |run| model(run).is_ok_and(|(m, _)| m.checked_against_a_child),
    },
    Situation {
        name: "a non-owner released while a child held the lock",
        seen: |run| model(run).is_ok_and(|(m, _)| m.intruded_on_a_child),
    },
    Situation {
        name: "a non-owner released while the parent held the lock",
        seen: |run| model(run).is_ok_and(|(m, _)| m.intruded_on_the_parent),
    },
    Situation {
        name: "a process took the lock again while holding it",
        seen: |run| model(run).is_ok_and(|(m, _)| m.reentered),
    },
    Situation {
        name: "a free lock was released",
        seen: |run| model(run).is_ok_and(|(m, _)| m.released_a_free_lock),
    },
];

fn ids(run: &RunData) -> Result<RlockIds, Unchecked> {
    Ok(RlockIds {
        lock: run.object("rlock.lock")?,
        owner: run.object("rlock.owner")?,
        depth: run.object("rlock.depth")?,
        acquire: run.object("rlock.acquire")?,
        release: run.object("rlock.release")?,
        depth_of: run.object("rlock.depth()")?,
        owner_of: run.object("rlock.owner()")?,
        is_held: run.object("rlock.is_held()")?,
    })
}

/// The children's pids, as the trace's start events give them.
fn children(run: &RunData) -> Vec<i32> {
    CHILDREN
        .iter()
        .filter_map(|name| run.names.pid_of(name))
        .collect()
}

/// The model's replay of the run's trace (as far as it goes).
fn model(run: &RunData) -> Result<(Rlock, RlockIds), Unchecked> {
    let ids = ids(run)?;
    let main = run.header()?.pid;
    let events = run.trace()?;
    Ok((
        Rlock::replay(events, ids, main, &children(run), &run.names),
        ids,
    ))
}

/// A disagreement as a broken check, with the lock's events up to it.
fn broken(run: &RunData, ids: RlockIds, d: &Disagreement) -> Check {
    let objects = [
        ids.lock,
        ids.owner,
        ids.depth,
        ids.acquire,
        ids.release,
        ids.depth_of,
        ids.owner_of,
        ids.is_held,
    ];
    let shown: Vec<&Event> = run
        .trace()
        .map(|all| between(all, &objects, 0, d.seq, EVIDENCE_EVENTS))
        .unwrap_or_default();
    Check::broken(d.expected.clone(), d.seen.clone())
        .with_evidence([narrate::sequence(&run.names, shown)])
        .at(d.seq)
}

fn judged(run: &RunData, pick: fn(&Rlock) -> &Option<Disagreement>) -> Result<Check, Unchecked> {
    let (m, ids) = model(run)?;
    let parts = [ids.lock, ids.owner, ids.depth];
    if !run.trace()?.iter().any(|e| parts.contains(&e.object)) {
        return Err(Unchecked("nothing was done with the lock".into()));
    }
    Ok(match pick(&m) {
        Some(d) => broken(run, ids, d),
        None => Check::Held,
    })
}

fn exclusive(run: &RunData) -> Result<Check, Unchecked> {
    judged(run, |m| &m.exclusive)
}

fn owner_and_depth(run: &RunData) -> Result<Check, Unchecked> {
    judged(run, |m| &m.state)
}

fn owner_calls(run: &RunData) -> Result<Check, Unchecked> {
    judged(run, |m| &m.owner_calls)
}

fn not_owner(run: &RunData) -> Result<Check, Unchecked> {
    judged(run, |m| &m.not_owner)
}

fn not_held(run: &RunData) -> Result<Check, Unchecked> {
    judged(run, |m| &m.not_held)
}

fn accessors(run: &RunData) -> Result<Check, Unchecked> {
    judged(run, |m| &m.accessors)
}

/// Each child's writes of the depth, round by round: a round ends where
/// the child, its task returned, asks the accessors (a traced call of
/// `rlock.depth()`), and must then be up to the run's depth and back to 0,
/// with the lock let go. Judged as far as the trace goes: a round cut
/// short by the run's end is not judged, a finished one is.
fn rounds(run: &RunData) -> Result<Check, Unchecked> {
    let (depth, rounds) = (run.param("depth")?, run.param("rounds")?);
    let (ids, lock) = (ids(run)?, run.object("rlock.lock")?);
    let trace = run.trace()?;
    let one_round: Vec<i64> = (1..=depth).chain((0..depth).rev()).collect();
    let list = |v: &[i64]| {
        let shown: Vec<String> = v.iter().take(24).map(i64::to_string).collect();
        let more = if v.len() > 24 { " …" } else { "" };
        format!("{}{more}", shown.join(" "))
    };
    // The earliest broken round of either child, then any child that
    // ended normally without finishing its rounds.
    let mut first: Option<Check> = None;
    let mut short = None;
    for name in CHILDREN {
        let Some(pid) = run.names.pid_of(name) else {
            return Err(Unchecked(format!("{name} was never started")));
        };
        let mut writes: Vec<i64> = Vec::new();
        let mut holder: Option<i32> = None;
        let mut done = 0;
        for e in trace {
            if e.object == lock {
                match e.op.as_str() {
                    "acquire" => holder = Some(e.pid),
                    "release" | "holder-died" => holder = None,
                    _ => {}
                }
            }
            if e.pid != pid {
                continue;
            }
            if e.object == ids.depth && e.op == "store" {
                writes.push(e.value);
            } else if e.object == ids.depth_of && e.op == "call" {
                done += 1;
                let round = std::mem::take(&mut writes);
                if round != one_round || holder == Some(pid) {
                    let seen = if round.is_empty() {
                        "no write of rlock.depth".to_string()
                    } else {
                        format!("rlock.depth {}", list(&round))
                    };
                    let held = if holder == Some(pid) {
                        ", and it still holds the lock"
                    } else {
                        ""
                    };
                    let check = Check::broken(
                        format!(
                            "in each round, {name} writes rlock.depth {} and lets the lock go",
                            list(&one_round)
                        ),
                        format!("round {done} of {name}: {seen}{held}"),
                    )
                    .at(e.seq);
                    let earlier = match (&first, &check) {
                        (Some(Check::Broken(a)), Check::Broken(b)) => b.at < a.at,
                        _ => true,
                    };
                    if earlier {
                        first = Some(check);
                    }
                    break;
                }
            }
        }
        let ended_well = run
            .summary()
            .is_ok_and(|s| s.children.iter().any(|c| c.pid == pid && c.success));
        if ended_well && done != rounds && short.is_none() {
            short = Some(Check::broken(
                format!(
                    "{name} finishes {rounds} round{}",
                    if rounds == 1 { "" } else { "s" }
                ),
                format!("{name} finished {done}"),
            ));
        }
    }
    if let Some(check) = first.or(short) {
        return Ok(check);
    }
    Ok(Check::Held)
}

fn free_at_end(run: &RunData) -> Result<Check, Unchecked> {
    let (owner, depth, held) = (
        run.final_value("owner")?,
        run.final_value("depth")?,
        run.final_value("held")?,
    );
    Ok(Check::expect(
        owner == 0 && depth == 0 && held == 0,
        "no owner, depth 0, the inner lock free",
        format!(
            "owner() {}, depth() {depth}, is_held() {}",
            if owner == 0 {
                "None".to_string()
            } else {
                format!("Some({owner})")
            },
            held != 0
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;

    const LOCK: u32 = 1;
    const OWNER: u32 = 2;
    const DEPTH: u32 = 3;
    const ACQUIRE: u32 = 4;
    const RELEASE: u32 = 5;
    const DEPTH_OF: u32 = 6;

    fn objects() -> Vec<(&'static str, &'static str)> {
        vec![
            ("lock", "rlock.lock"),
            ("value", "rlock.owner"),
            ("value", "rlock.depth"),
            ("operation", "rlock.acquire"),
            ("operation", "rlock.release"),
            ("operation", "rlock.depth()"),
            ("operation", "rlock.owner()"),
            ("operation", "rlock.is_held()"),
            ("process", "P1"),
            ("process", "P2"),
        ]
    }

    fn take(pid: i32, depth: i64) -> Vec<(i32, &'static str, u32, i64)> {
        let mut ev = vec![
            (pid, "acquire", LOCK, 1),
            (pid, "store", OWNER, pid as i64),
            (pid, "store", DEPTH, 1),
        ];
        for d in 2..=depth {
            ev.push((pid, "store", DEPTH, d));
        }
        for d in (1..depth).rev() {
            ev.push((pid, "store", DEPTH, d));
        }
        ev.extend([
            (pid, "store", DEPTH, 0),
            (pid, "store", OWNER, 0),
            (pid, "release", LOCK, 0),
            // The round ends with the child asking the depth: 0.
            (pid, "call", DEPTH_OF, 0),
            (pid, "load", DEPTH, 0),
            (pid, "return", DEPTH_OF, 0),
        ]);
        ev
    }

    fn rlock_run(events: Vec<(i32, &'static str, u32, i64)>) -> RunData {
        let mut all = vec![(1, "start", 9, 2), (1, "start", 10, 3)];
        all.extend(events);
        run(
            "reentrant-lock",
            vec![
                header("reentrant-lock", &[("depth", 2), ("rounds", 1)]),
                summary(
                    &[("depth", 0), ("owner", 0), ("held", 0)],
                    &[("P1", 2), ("P2", 3)],
                    &objects(),
                    &all,
                ),
            ],
        )
    }

    #[test]
    fn one_child_after_the_other_holds_everywhere() {
        let mut ev = take(2, 2);
        ev.extend(take(3, 2));
        let run = rlock_run(ev);
        for inv in INVARIANTS {
            assert_eq!((inv.check)(&run).unwrap(), Check::Held, "{}", inv.id);
        }
    }

    #[test]
    fn a_child_that_enters_while_the_other_holds_is_caught_where_it_entered() {
        // P1 holds at depth 1; P2 takes its owner for its own and writes
        // the depth without the inner lock.
        let ev = vec![
            (2, "acquire", LOCK, 1),
            (2, "store", OWNER, 2),
            (2, "store", DEPTH, 1),
            (3, "load", OWNER, 2),
            (3, "store", DEPTH, 2),
        ];
        let run = rlock_run(ev);
        let Check::Broken(v) = exclusive(&run).unwrap() else {
            panic!()
        };
        assert!(
            v.seen
                .starts_with("P2 wrote rlock.depth=2 while P1 held rlock.lock"),
            "{v:?}"
        );
        assert!(v.seen.contains("the model says P2 must wait"), "{v:?}");
        assert!(v.at.is_some());
    }

    #[test]
    fn an_extra_release_answered_not_owner_is_wrong() {
        let mut ev = take(2, 2);
        // A release of the free lock, answered NotOwner.
        ev.extend([
            (1, "call", RELEASE, 0),
            (1, "return", RELEASE, 1 | (2 << 8) | (1 << 32)),
        ]);
        let run = rlock_run(ev);
        let Check::Broken(v) = not_held(&run).unwrap() else {
            panic!()
        };
        assert!(v.seen.contains("NotOwner"), "{v:?}");
        let _ = ACQUIRE;
    }

    #[test]
    fn a_non_owners_release_may_find_the_owner_letting_go() {
        // P2 releases while P1 owns the lock at depth 1; P1's last release
        // clears the owner before P2 reads it, and lets go of the inner
        // lock after. NotHeld is the lock as P2 found it; NotOwner naming
        // P1 is the lock at the call's start; anything else is wrong.
        let released_while_letting_go = |answer: i64| {
            let mut ev = take(2, 1);
            let release_at = ev.len() - 6;
            let tail = ev.split_off(release_at);
            ev.extend([(3, "call", RELEASE, 0)]);
            ev.extend(tail[..2].iter().cloned());
            ev.extend([(3, "load", OWNER, 0), (3, "return", RELEASE, answer)]);
            ev.extend(tail[2..].iter().cloned());
            not_owner(&rlock_run(ev)).unwrap()
        };
        assert_eq!(released_while_letting_go(2), Check::Held);
        assert_eq!(
            released_while_letting_go(1 | (2 << 8) | (3 << 32)),
            Check::Held
        );
        assert!(matches!(released_while_letting_go(0), Check::Broken(_)));
        assert!(matches!(
            released_while_letting_go(1 | (3 << 32)),
            Check::Broken(_)
        ));
    }

    #[test]
    fn an_accessor_is_judged_by_its_answer_not_by_how_it_got_it() {
        const OWNER_OF: u32 = 7;
        let mut ev = take(2, 2);
        ev.extend([
            // depth() of a free lock, worked out from the owner alone.
            (2, "call", DEPTH_OF, 0),
            (2, "load", OWNER, 0),
            (2, "return", DEPTH_OF, 0),
            // owner() of a free lock: None, traced as -1.
            (2, "call", OWNER_OF, 0),
            (2, "return", OWNER_OF, -1),
        ]);
        assert_eq!(accessors(&rlock_run(ev.clone())).unwrap(), Check::Held);

        // Some(0) is not None.
        ev.extend([(2, "call", OWNER_OF, 0), (2, "return", OWNER_OF, 0)]);
        let Check::Broken(v) = accessors(&rlock_run(ev)).unwrap() else {
            panic!()
        };
        assert!(v.seen.contains("owner() answered Some(0)"), "{v:?}");
        assert!(v.expected.contains("None"), "{v:?}");
    }

    #[test]
    fn an_accessor_may_answer_any_value_the_lock_had_during_the_call() {
        // P2 asks the depth while P1 takes the lock: 0 before, 1 after;
        // both answers are true at some moment of the call, 2 never is.
        let call_around_take = |answer: i64| {
            let mut ev = vec![(3, "call", DEPTH_OF, 0)];
            ev.extend(take(2, 1).into_iter().take(3));
            ev.push((3, "return", DEPTH_OF, answer));
            accessors(&rlock_run(ev)).unwrap()
        };
        assert_eq!(call_around_take(0), Check::Held);
        assert_eq!(call_around_take(1), Check::Held);
        assert!(matches!(call_around_take(2), Check::Broken(_)));
    }

    #[test]
    fn a_release_during_the_owners_last_release_may_find_the_lock_free() {
        // P2 releases while P1 holds the lock at depth 1; P1 lets go during
        // P2's call, and P2 then reads owner 0: NotHeld is as right as
        // NotOwner. A NotHeld while P1 owned it all along is not.
        let not_owner_by = |p1_lets_go: bool, answer: i64| {
            let mut ev: Vec<_> = take(2, 1).into_iter().take(3).collect();
            ev.push((3, "call", RELEASE, 0));
            if p1_lets_go {
                ev.extend([(2, "store", DEPTH, 0), (2, "store", OWNER, 0)]);
            }
            ev.extend([(3, "load", OWNER, 0), (3, "return", RELEASE, answer)]);
            not_owner(&rlock_run(ev)).unwrap()
        };
        let refused = 1 | (2 << 8) | (3 << 32);
        assert_eq!(not_owner_by(true, 2), Check::Held);
        assert_eq!(not_owner_by(true, refused), Check::Held);
        assert_eq!(not_owner_by(false, refused), Check::Held);
        assert!(matches!(not_owner_by(false, 2), Check::Broken(_)));
    }
}

//! Executable models of what the exercises build: a run's trace is
//! replayed, in order, through a small reference state machine, and the
//! first operation where the student's code and the model disagree is
//! reported, with what the model expected there.
//!
//! - [`bank`]: a shared balance updated by two workers, each in its own
//!   direction; every update reads the current balance and writes it back
//!   moved by one amount.
//! - [`fifo`]: a queue; items come out in the order they went in.
//! - [`Rlock`]: a reentrant lock (an inner lock, an owner and a depth):
//!   only the holder of the inner lock changes owner and depth; the owner
//!   is the holder; depth moves by one; every release and every accessor
//!   answers what the model says at the moment the call looked.
//!
//! Each disagreement carries the trace position of the operation, so that
//! a verdict can lead with the first cause.

use std::collections::{BTreeMap, VecDeque};

use course_report::Event;

use crate::judge::narrate::Names;

/// Where the student's code and the model first part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// The operation's position in the trace.
    pub seq: u64,
    /// What the model says should have happened.
    pub expected: String,
    /// What happened.
    pub seen: String,
}

fn disagree(e: &Event, expected: impl Into<String>, seen: impl Into<String>) -> Disagreement {
    Disagreement {
        seq: e.seq,
        expected: expected.into(),
        seen: seen.into(),
    }
}

/// A worker of [`bank`]: its pid, its name and its direction (+1 deposits,
/// -1 withdraws).
pub type BankWorker<'a> = (i32, &'a str, i64);

/// Replays the events on a shared balance (`events`, in order): each
/// worker's update is a load of the current balance followed by a store
/// of that value moved by `amount` in the worker's direction.
pub fn bank(
    events: &[&Event],
    start: i64,
    amount: i64,
    workers: &[BankWorker<'_>],
) -> Result<(), Disagreement> {
    let mut value = start;
    let mut read: BTreeMap<i32, i64> = BTreeMap::new();
    for e in events {
        let Some(&(_, name, sign)) = workers.iter().find(|(pid, ..)| *pid == e.pid) else {
            if e.op == "store" {
                return Err(disagree(
                    e,
                    "only the two workers change the balance",
                    format!("pid {} stored {}", e.pid, e.value),
                ));
            }
            continue;
        };
        match e.op.as_str() {
            "load" => {
                if e.value != value {
                    return Err(disagree(
                        e,
                        format!("{name} reads the balance, {value}"),
                        format!("{name} read {}", e.value),
                    ));
                }
                read.insert(e.pid, e.value);
            }
            "store" => {
                let Some(was) = read.remove(&e.pid) else {
                    return Err(disagree(
                        e,
                        format!("{name} reads the balance before each update (it is {value} now)"),
                        format!(
                            "{name} stored {} without reading the balance first",
                            e.value
                        ),
                    ));
                };
                let want = was + sign * amount;
                if e.value != want {
                    let verb = if sign > 0 { "adds" } else { "subtracts" };
                    return Err(disagree(
                        e,
                        format!("{name} {verb} {amount} to what it read: {was} → {want}"),
                        format!("{name} read {was} and stored {}", e.value),
                    ));
                }
                value = e.value;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Replays a queue's events (`events`, in order): the items the parent
/// puts must be `items`, in that order, and every item taken must be the
/// one at the front. `empty` answers must agree too.
pub fn fifo(events: &[&Event], items: &[i64], names: &Names) -> Result<(), Disagreement> {
    let mut queue: VecDeque<i64> = VecDeque::new();
    let mut puts = 0usize;
    for e in events {
        let who = names.process(e.pid);
        match e.op.as_str() {
            "put" => {
                match items.get(puts) {
                    Some(&want) if want == e.value => {}
                    want => {
                        return Err(disagree(
                            e,
                            match want {
                                Some(w) => format!("item {} of the run's items put: {w}", puts + 1),
                                None => format!("the run's {} items put, no more", items.len()),
                            },
                            format!("{who} put {}", e.value),
                        ))
                    }
                }
                puts += 1;
                queue.push_back(e.value);
            }
            "get" => match queue.pop_front() {
                Some(front) if front == e.value => {}
                Some(front) => {
                    return Err(disagree(
                        e,
                        format!("the item at the front, {front} (first in, first out)"),
                        format!("{who} took {}", e.value),
                    ))
                }
                None => {
                    return Err(disagree(
                        e,
                        "nothing to take: the queue is empty",
                        format!("{who} took {}", e.value),
                    ))
                }
            },
            "empty" => {
                let said = e.value != 0;
                if said != queue.is_empty() {
                    return Err(disagree(
                        e,
                        format!("empty() is {}", queue.is_empty()),
                        format!("{who} was told {said}"),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// How a release's result is coded in the trace (see the scenario's
/// `Outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    /// `Ok(())`.
    Ok,
    /// `NotOwner { caller, owner }`.
    NotOwner {
        /// The caller it names.
        caller: i32,
        /// The owner it names.
        owner: i32,
    },
    /// `NotHeld`.
    NotHeld,
    /// The inner lock failed.
    Lock,
    /// The call panicked.
    Panicked,
}

impl Released {
    /// Decodes a `return` event's value.
    pub fn decode(value: i64) -> Released {
        let field = |shift: u32| ((value >> shift) & 0xff_ffff) as i32;
        match value & 0x7f {
            0 => Released::Ok,
            1 => Released::NotOwner {
                caller: field(32),
                owner: field(8),
            },
            2 => Released::NotHeld,
            3 => Released::Lock,
            _ => Released::Panicked,
        }
    }

    /// Whether a refusal came without a message (its `Display` wrote
    /// nothing).
    pub fn silent(value: i64) -> bool {
        value & 0x80 != 0
    }

    fn phrase(self, names: &Names) -> String {
        match self {
            Released::Ok => "Ok(())".into(),
            Released::NotOwner { caller, owner } => format!(
                "NotOwner {{ caller: {caller}, owner: {owner} }} ({} does not own it; {} does)",
                names.process(caller),
                names.process(owner)
            ),
            Released::NotHeld => "NotHeld".into(),
            Released::Lock => "an error of the inner lock".into(),
            Released::Panicked => "a panic".into(),
        }
    }
}

/// The object ids of a reentrant lock's parts and traced operations.
#[derive(Clone, Copy, Debug)]
pub struct RlockIds {
    /// `rlock.lock`, the inner lock.
    pub lock: u32,
    /// `rlock.owner`.
    pub owner: u32,
    /// `rlock.depth`.
    pub depth: u32,
    /// `rlock.acquire`.
    pub acquire: u32,
    /// `rlock.release`.
    pub release: u32,
    /// `rlock.depth()`.
    pub depth_of: u32,
    /// `rlock.owner()`.
    pub owner_of: u32,
    /// `rlock.is_held()`.
    pub is_held: u32,
}

/// What the reentrant-lock model found in one run: each property's first
/// disagreement, if any, and the situations the run went through.
#[derive(Debug, Default)]
pub struct Rlock {
    /// Owner or depth changed by a process that does not hold the inner
    /// lock: it entered a lock another process owns.
    pub exclusive: Option<Disagreement>,
    /// Owner not the holder, a depth that does not move by one, or the
    /// inner lock let go with an owner or a depth left.
    pub state: Option<Disagreement>,
    /// A release by a process that did not own the lock, not refused as
    /// `NotOwner` naming caller and owner, or one that changed something.
    pub not_owner: Option<Disagreement>,
    /// A release of a free lock, not refused as `NotHeld`, or one that
    /// changed something.
    pub not_held: Option<Disagreement>,
    /// An owner's release or acquire that did not do what the model says.
    pub owner_calls: Option<Disagreement>,
    /// An accessor that did not tell what it read (or the truth).
    pub accessors: Option<Disagreement>,
    /// A child read the owner while the other child held the lock.
    pub checked_against_a_child: bool,
    /// A release by a non-owner while a child held the lock.
    pub intruded_on_a_child: bool,
    /// A release by a non-owner while the parent held the lock.
    pub intruded_on_the_parent: bool,
    /// A release of a free lock was made.
    pub released_a_free_lock: bool,
    /// A process took the lock again while holding it.
    pub reentered: bool,
}

/// A call in progress, by one process.
#[derive(Clone, Debug)]
struct Pending {
    call: u32,
    /// The state when the call looked (its first read of the owner), or
    /// when it started.
    holder: Option<i32>,
    owner: i64,
    depth: i64,
    /// Whether it has looked yet.
    looked: bool,
    /// What it changed: stores to owner or depth, inner-lock releases.
    changed: Option<u64>,
    /// The values depth, owner and "held" took from the call to now: an
    /// accessor's answer is right if it was true at some moment of its
    /// call, however it computed it.
    depths: Vec<i64>,
    owners: Vec<i64>,
    helds: Vec<bool>,
}

impl Pending {
    /// Whether `got` is a NotOwner for `caller` that names a process that
    /// owned the lock at some moment of the call.
    fn names_an_owner(&self, got: Released, caller: i32) -> bool {
        match got {
            Released::NotOwner { caller: c, owner } => {
                c == caller
                    && owner != caller
                    && owner != 0
                    && self.owners.contains(&(owner as i64))
            }
            _ => false,
        }
    }

    fn saw(&mut self, owner: i64, depth: i64, held: bool) {
        for (seen, now) in [(&mut self.owners, owner), (&mut self.depths, depth)] {
            if !seen.contains(&now) {
                seen.push(now);
            }
        }
        if !self.helds.contains(&held) {
            self.helds.push(held);
        }
    }
}

impl Rlock {
    /// Replays `events` (the whole trace, in order) through the model.
    /// `main` is the parent's pid, `children` the two children's.
    pub fn replay(
        events: &[Event],
        ids: RlockIds,
        main: i32,
        children: &[i32],
        names: &Names,
    ) -> Rlock {
        let mut m = Rlock::default();
        let mut holder: Option<i32> = None;
        let (mut owner, mut depth) = (0i64, 0i64);
        let mut pending: BTreeMap<i32, Pending> = BTreeMap::new();
        let first = |slot: &mut Option<Disagreement>, d: Disagreement| {
            if slot.is_none() {
                *slot = Some(d);
            }
        };
        let name = |pid: i32| names.process(pid);
        let who_holds = |h: Option<i32>| h.map_or("nobody".to_string(), name);
        for e in events {
            let p = e.pid;
            let op = e.op.as_str();
            if e.object == ids.lock {
                match op {
                    "acquire" => holder = Some(p),
                    "release" => {
                        if owner != 0 || depth != 0 {
                            first(
                                &mut m.state,
                                disagree(
                                    e,
                                    "the inner lock is let go only at depth 0, with no owner",
                                    format!(
                                        "{} let go of rlock.lock with rlock.owner={owner}, rlock.depth={depth}",
                                        name(p)
                                    ),
                                ),
                            );
                        }
                        if let Some(call) = pending.get_mut(&p) {
                            call.changed.get_or_insert(e.seq);
                        }
                        holder = None;
                    }
                    "holder-died" => holder = None,
                    _ => {}
                }
                for call in pending.values_mut() {
                    call.saw(owner, depth, holder.is_some());
                }
                continue;
            }
            if e.object == ids.owner || e.object == ids.depth {
                let part = if e.object == ids.owner {
                    "rlock.owner"
                } else {
                    "rlock.depth"
                };
                if op == "load" {
                    if e.object == ids.owner
                        && children.contains(&p)
                        && holder.is_some_and(|h| h != p && children.contains(&h))
                    {
                        m.checked_against_a_child = true;
                    }
                    if let Some(call) = pending.get_mut(&p) {
                        if e.object == ids.owner && !call.looked {
                            call.looked = true;
                            call.holder = holder;
                            call.owner = owner;
                            call.depth = depth;
                        }
                    }
                    continue;
                }
                if op != "store" {
                    continue;
                }
                if holder != Some(p) {
                    first(
                        &mut m.exclusive,
                        disagree(
                            e,
                            format!(
                                "only the process holding the inner lock ({}) changes the lock",
                                who_holds(holder)
                            ),
                            format!(
                                "{} wrote {part}={} while {} held rlock.lock{}",
                                name(p),
                                e.value,
                                who_holds(holder),
                                match holder {
                                    Some(h) if h != p => format!(
                                        " (rlock.owner={owner}, rlock.depth={depth}): the model says {} must wait",
                                        name(p)
                                    ),
                                    _ => String::new(),
                                }
                            ),
                        ),
                    );
                }
                if let Some(call) = pending.get_mut(&p) {
                    call.changed.get_or_insert(e.seq);
                }
                if e.object == ids.owner {
                    if e.value != 0 && e.value != p as i64 {
                        first(
                            &mut m.state,
                            disagree(
                                e,
                                format!("the owner is the holder: rlock.owner={p} or 0"),
                                format!("{} wrote rlock.owner={}", name(p), e.value),
                            ),
                        );
                    }
                    owner = e.value;
                } else {
                    if (e.value - depth).abs() != 1 {
                        first(
                            &mut m.state,
                            disagree(
                                e,
                                format!(
                                    "the depth moves by one: from {depth} to {} or {}",
                                    depth + 1,
                                    (depth - 1).max(0)
                                ),
                                format!("{} wrote rlock.depth={}", name(p), e.value),
                            ),
                        );
                    }
                    if e.value > depth && depth >= 1 {
                        m.reentered = true;
                    }
                    depth = e.value;
                }
                for call in pending.values_mut() {
                    call.saw(owner, depth, holder.is_some());
                }
                continue;
            }
            if op == "call" {
                pending.insert(
                    p,
                    Pending {
                        call: e.object,
                        holder,
                        owner,
                        depth,
                        looked: false,
                        changed: None,
                        depths: vec![depth],
                        owners: vec![owner],
                        helds: vec![holder.is_some()],
                    },
                );
                continue;
            }
            if op != "return" {
                continue;
            }
            let Some(call) = pending.remove(&p) else {
                continue;
            };
            if call.call != e.object {
                continue;
            }
            let caller = name(p);
            if e.object == ids.release {
                let got = Released::decode(e.value);
                // A holder that died leaves its pid in `owner` with the
                // inner lock free: the lock is still that process's, and
                // a release by anyone else is a non-owner's.
                let owned_by = call
                    .holder
                    .or((call.owner != 0).then_some(call.owner as i32));
                match owned_by {
                    Some(h) if h == p => {
                        if got != Released::Ok {
                            first(
                                &mut m.owner_calls,
                                disagree(
                                    e,
                                    format!("the owner's release gives up one level: Ok(()), depth {} → {}", call.depth, call.depth - 1),
                                    format!("{caller}'s release returned {}", got.phrase(names)),
                                ),
                            );
                        } else if depth != call.depth - 1 {
                            first(
                                &mut m.owner_calls,
                                disagree(
                                    e,
                                    format!(
                                        "depth {} → {} after the owner's release",
                                        call.depth,
                                        call.depth - 1
                                    ),
                                    format!("{caller}'s release left rlock.depth={depth}"),
                                ),
                            );
                        }
                    }
                    None => {
                        m.released_a_free_lock = true;
                        let silent = Released::silent(e.value);
                        // The refusal is judged, as an accessor's answer
                        // is, against the lock as it was at some moment of
                        // the call: a process that took the lock meanwhile
                        // may be named as its owner.
                        let right = got == Released::NotHeld || call.names_an_owner(got, p);
                        if !right || call.changed.is_some() || silent {
                            first(
                                &mut m.not_held,
                                disagree(
                                    e,
                                    "a release of a free lock is refused, NotHeld, says why, and changes nothing",
                                    format!(
                                        "{caller}'s release of a free lock returned {}{}{}",
                                        got.phrase(names),
                                        if silent { " with an empty message" } else { "" },
                                        if call.changed.is_some() { ", and changed the lock" } else { "" }
                                    ),
                                ),
                            );
                        }
                    }
                    Some(h) => {
                        if children.contains(&h) {
                            m.intruded_on_a_child = true;
                        } else if h == main {
                            m.intruded_on_the_parent = true;
                        }
                        // As for a free lock: if the owner let go of it
                        // during the call (rlock.owner=0, the inner lock
                        // perhaps not yet released), NotHeld is the lock
                        // as it was at that moment; another owner met
                        // during the call may be named too.
                        let right =
                            got == Released::NotOwner {
                                caller: p,
                                owner: h,
                            } || call.names_an_owner(got, p)
                                || (got == Released::NotHeld && call.owners.contains(&0));
                        let silent = Released::silent(e.value);
                        if !right || call.changed.is_some() || silent {
                            first(
                                &mut m.not_owner,
                                disagree(
                                    e,
                                    format!(
                                        "a release by {caller}, which does not own the lock ({} does, at depth {}), is refused with NotOwner {{ caller: {p}, owner: {h} }}, says why, and changes nothing",
                                        name(h),
                                        call.depth
                                    ),
                                    format!(
                                        "it returned {}{}{}",
                                        got.phrase(names),
                                        if silent { " with an empty message" } else { "" },
                                        if call.changed.is_some() { ", and changed the lock" } else { "" }
                                    ),
                                ),
                            );
                        }
                    }
                }
            } else if e.object == ids.acquire {
                let got = Released::decode(e.value);
                if got != Released::Ok && call.owner == p as i64 {
                    first(
                        &mut m.owner_calls,
                        disagree(
                            e,
                            format!(
                                "{caller} owns the lock (depth {}): taking it again succeeds, at depth {}",
                                call.depth,
                                call.depth + 1
                            ),
                            format!("{caller}'s acquire returned {}", got.phrase(names)),
                        ),
                    );
                }
                if got == Released::Ok {
                    let want_depth = if call.owner == p as i64 {
                        call.depth + 1
                    } else {
                        1
                    };
                    if holder != Some(p) || owner != p as i64 || depth != want_depth {
                        first(
                            &mut m.owner_calls,
                            disagree(
                                e,
                                format!("after {caller}'s acquire: {caller} holds the inner lock, rlock.owner={p}, rlock.depth={want_depth}"),
                                format!("{} holds it, rlock.owner={owner}, rlock.depth={depth}", who_holds(holder)),
                            ),
                        );
                    }
                }
            } else if e.object == ids.depth_of || e.object == ids.owner_of {
                // owner() answers an Option, traced as -1 for `None`: the
                // truth is `None` while rlock.owner is 0.
                let (truths, part, say): (Vec<i64>, _, fn(i64) -> String) =
                    if e.object == ids.depth_of {
                        (call.depths.clone(), "depth", |v| v.to_string())
                    } else {
                        let truths = call
                            .owners
                            .iter()
                            .map(|&o| if o == 0 { -1 } else { o })
                            .collect();
                        (truths, "owner", |v| {
                            if v == -1 {
                                "None".to_string()
                            } else {
                                format!("Some({v})")
                            }
                        })
                    };
                if !truths.contains(&e.value) {
                    let shown: Vec<String> = truths.iter().map(|&v| say(v)).collect();
                    first(
                        &mut m.accessors,
                        disagree(
                            e,
                            format!(
                                "{part}() answers the truth of rlock.{part} during the call: {}",
                                shown.join(" or ")
                            ),
                            format!("{caller}'s {part}() answered {}", say(e.value)),
                        ),
                    );
                }
            } else if e.object == ids.is_held {
                let answer = e.value != 0;
                if !call.helds.contains(&answer) {
                    first(
                        &mut m.accessors,
                        disagree(
                            e,
                            format!(
                                "is_held() is {}: {} holds rlock.lock",
                                !answer,
                                who_holds(holder)
                            ),
                            format!("{caller}'s is_held() answered {answer}"),
                        ),
                    );
                }
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::judge::invariants::testing::event as ev;

    #[test]
    fn the_bank_model_wants_a_fresh_read_and_the_right_direction() {
        let w = [(2, "deposit", 1), (3, "withdraw", -1)];
        let ok = [
            ev(0, 2, "load", 1, 600),
            ev(1, 2, "store", 1, 605),
            ev(2, 3, "load", 1, 605),
            ev(3, 3, "store", 1, 600),
        ];
        assert_eq!(bank(&ok.iter().collect::<Vec<_>>(), 600, 5, &w), Ok(()));
        let swapped = [ev(0, 2, "load", 1, 600), ev(1, 2, "store", 1, 595)];
        let d = bank(&swapped.iter().collect::<Vec<_>>(), 600, 5, &w).unwrap_err();
        assert_eq!(d.seq, 1);
        assert!(d.expected.contains("deposit adds 5"), "{d:?}");
        let stale = [
            ev(0, 2, "load", 1, 600),
            ev(1, 2, "store", 1, 605),
            ev(2, 2, "store", 1, 610),
        ];
        let d = bank(&stale.iter().collect::<Vec<_>>(), 600, 5, &w).unwrap_err();
        assert!(
            d.seen.contains("without reading the balance first"),
            "{d:?}"
        );
    }

    #[test]
    fn the_queue_model_is_first_in_first_out() {
        let names = Names::default();
        let events = [
            ev(0, 1, "put", 1, 7),
            ev(1, 1, "put", 1, 8),
            ev(2, 2, "get", 1, 8),
        ];
        let d = fifo(&events.iter().collect::<Vec<_>>(), &[7, 8], &names).unwrap_err();
        assert!(d.expected.contains("the item at the front, 7"), "{d:?}");
    }

    #[test]
    fn release_outcomes_round_trip() {
        let v = 1 | (42 << 8) | (7 << 32);
        assert_eq!(
            Released::decode(v),
            Released::NotOwner {
                caller: 7,
                owner: 42
            }
        );
        assert_eq!(Released::decode(2), Released::NotHeld);
        // A refusal without a message keeps its kind, and says so.
        assert_eq!(Released::decode(2 | 0x80), Released::NotHeld);
        assert!(Released::silent(2 | 0x80) && !Released::silent(2));
    }
}

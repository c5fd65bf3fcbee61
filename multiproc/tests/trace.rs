//! The shared trace: one order of events all processes agree on, labels
//! that name the objects, and critical sections that show up whole.
//!
//! `harness = false`: see `support/mod.rs` for why and how cases are run.

#[macro_use]
mod support;

use std::time::Duration;

use multiproc::trace::{self, EventKind, ObjectInfo, ObjectKind};
use multiproc::{current_pid, ExitStatus, Lock, Queue, Value};
use support::{Case, Kids, Outcome, StartLine};

const CASES: &[Case] = &[
    Case::new(
        "locked_sections_sit_between_acquire_and_release",
        locked_sections_are_whole,
    ),
    Case::new("labels_round_trip", labels_round_trip),
    Case::new(
        "events_carry_pids_objects_and_values",
        events_carry_pids_objects_and_values,
    ),
];

fn main() {
    support::run(CASES)
}

const JOIN: Duration = Duration::from_secs(10);

/// Two processes x 300 locked updates, really in parallel. In the trace,
/// every load and store of the counter lies between an acquire and the
/// matching release by the same process, and sections never overlap.
fn locked_sections_are_whole() -> Outcome {
    const STEPS: usize = 300;
    trace::enable().map_err(|e| e.to_string())?;
    let line = StartLine::new(2);
    let counter = Value::with_label(0u32, "counter").map_err(|e| e.to_string())?;
    let lock = Lock::with_label("counter-lock").map_err(|e| e.to_string())?;
    let mut kids = Kids::new();
    for me in 0..2 {
        kids.start(&format!("w{me}"), || {
            line.arrive(me);
            for _ in 0..STEPS {
                let _held = lock.guard().unwrap();
                counter.update(|c| c + 1);
            }
        })?;
    }
    let statuses = kids.join_all(JOIN)?;
    ensure_eq!(statuses, vec![ExitStatus::Exited(0); 2], "workers");
    let workers = [kids.pid(0), kids.pid(1)];
    ensure_eq!(trace::dropped(), 0, "events dropped");
    let events = trace::events();
    let mut holder: Option<i32> = None;
    let (mut acquires, mut loads, mut stores, mut releases) = (0, 0, 0, 0);
    for e in &events {
        if e.object == lock.id() {
            match e.kind {
                EventKind::Acquire => {
                    ensure!(
                        holder.is_none(),
                        "event {}: acquire by {} while {holder:?} holds the lock",
                        e.seq,
                        e.pid
                    );
                    ensure!(
                        workers.contains(&e.pid),
                        "event {}: acquire by a stranger {}",
                        e.seq,
                        e.pid
                    );
                    holder = Some(e.pid);
                    acquires += 1;
                }
                EventKind::Release => {
                    ensure_eq!(
                        holder,
                        Some(e.pid),
                        "event {}: release by the holder",
                        e.seq
                    );
                    holder = None;
                    releases += 1;
                }
                _ => return Err(format!("unexpected event on the lock: {e:?}")),
            }
        } else if e.object == counter.id() {
            ensure_eq!(
                holder,
                Some(e.pid),
                "event {} ({:?}) outside its process's section",
                e.seq,
                e.kind
            );
            match e.kind {
                EventKind::Load => loads += 1,
                EventKind::Store => stores += 1,
                _ => return Err(format!("unexpected event on the counter: {e:?}")),
            }
        }
    }
    ensure_eq!(holder, None, "the lock is released at the end of the trace");
    ensure_eq!(
        (acquires, loads, stores, releases),
        (2 * STEPS, 2 * STEPS, 2 * STEPS, 2 * STEPS),
        "counts (acquire, load, store, release)"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    ensure!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "sequence numbers increase"
    );
    ensure_eq!(counter.load(), 2 * STEPS as u32, "final");
    Ok(())
}

/// Every object's kind and label come back from `trace::objects()` under the
/// id the object reports, including objects made inside a child and the
/// locks that queues and synchronized values make for themselves; labels
/// longer than 40 bytes are cut at 40.
fn labels_round_trip() -> Outcome {
    trace::enable().map_err(|e| e.to_string())?;
    let v = Value::with_label(0i64, "balance").map_err(|e| e.to_string())?;
    let l = Lock::with_label("vault").map_err(|e| e.to_string())?;
    let q = Queue::<u8>::with_label("jobs").map_err(|e| e.to_string())?;
    let s = Value::synchronized(0u8, "acct").map_err(|e| e.to_string())?;
    let long = "a-label-that-is-much-longer-than-forty-bytes-in-all";
    let lv = Value::with_label(0u8, long).map_err(|e| e.to_string())?;
    let unnamed = Lock::new().map_err(|e| e.to_string())?;
    let child_made = Value::new(0u32).map_err(|e| e.to_string())?; // the child writes the id here
    let mut kids = Kids::new();
    let i = kids.start("worker", || {
        let mine = Value::with_label(0u8, "made-in-child").unwrap();
        child_made.store(mine.id());
    })?;
    ensure_eq!(kids.join(i, JOIN)?, ExitStatus::Exited(0), "child");
    let objects = trace::objects();
    let find = |id: u32| objects.iter().find(|o| o.id == id).cloned();
    let want = |id: u32, kind: ObjectKind, label: &str| ObjectInfo {
        id,
        kind,
        label: label.to_string(),
    };
    ensure_eq!(
        find(v.id()),
        Some(want(v.id(), ObjectKind::Value, "balance")),
        "value"
    );
    ensure_eq!(
        find(l.id()),
        Some(want(l.id(), ObjectKind::Lock, "vault")),
        "lock"
    );
    ensure_eq!(
        find(q.id()),
        Some(want(q.id(), ObjectKind::Queue, "jobs")),
        "queue"
    );
    ensure_eq!(
        find(s.id()),
        Some(want(s.id(), ObjectKind::Value, "acct")),
        "synchronized value"
    );
    let own = s.get_lock().ok_or("a synchronized value has a lock")?;
    ensure_eq!(
        find(own.id()),
        Some(want(own.id(), ObjectKind::Lock, "acct.lock")),
        "its own lock"
    );
    ensure!(
        objects
            .iter()
            .any(|o| o.kind == ObjectKind::Lock && o.label == "jobs.read-lock"),
        "the queue's read lock is registered: {objects:?}"
    );
    ensure_eq!(
        find(lv.id()).map(|o| o.label),
        Some(long[..40].to_string()),
        "a long label is cut at 40 bytes"
    );
    ensure_eq!(
        find(unnamed.id()).map(|o| o.label),
        Some(String::new()),
        "no label"
    );
    ensure_eq!(
        find(child_made.load()),
        Some(want(child_made.load(), ObjectKind::Value, "made-in-child")),
        "an object made in a child"
    );
    ensure!(
        objects
            .iter()
            .any(|o| o.kind == ObjectKind::Process && o.label == "worker"),
        "the process is registered by name"
    );
    let mut ids: Vec<u32> = objects.iter().map(|o| o.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ensure_eq!(ids.len(), objects.len(), "ids are unique");
    Ok(())
}

/// Loads, stores, queue operations, marks, start and join are recorded with
/// the pid that did them and the value involved.
fn events_carry_pids_objects_and_values() -> Outcome {
    trace::enable().map_err(|e| e.to_string())?;
    let v = Value::with_label(0i64, "v").map_err(|e| e.to_string())?;
    let q = Queue::<i32>::with_label("q").map_err(|e| e.to_string())?;
    let mut kids = Kids::new();
    let i = kids.start("child", || {
        v.store(-5);
        q.put(9).unwrap();
        trace::mark(v.id(), 77);
    })?;
    let child = kids.pid(i);
    ensure_eq!(kids.join(i, JOIN)?, ExitStatus::Exited(0), "child");
    ensure_eq!(v.load(), -5, "load");
    ensure_eq!(q.empty(), false, "empty");
    ensure_eq!(q.get_timeout(Duration::from_secs(1)), Ok(Some(9)), "get");
    ensure_eq!(q.empty(), true, "empty");
    let me = current_pid();
    let seen: Vec<(i32, EventKind, u32, i64)> = trace::events()
        .iter()
        .filter(|e| {
            e.object == v.id()
                || e.object == q.id()
                || e.kind == EventKind::Start
                || e.kind == EventKind::Join
        })
        .map(|e| (e.pid, e.kind, e.object, e.value))
        .collect();
    let pid_event = |kind| seen.iter().find(|e| e.1 == kind).map(|e| e.3);
    ensure_eq!(
        pid_event(EventKind::Start),
        Some(child as i64),
        "start names the child"
    );
    ensure_eq!(
        pid_event(EventKind::Join),
        Some(child as i64),
        "join names the child"
    );
    let rest: Vec<_> = seen
        .iter()
        .filter(|e| e.1 != EventKind::Start && e.1 != EventKind::Join)
        .cloned()
        .collect();
    ensure_eq!(
        rest,
        vec![
            (child, EventKind::Store, v.id(), -5),
            (child, EventKind::Put, q.id(), 9),
            (child, EventKind::Mark, v.id(), 77),
            (me, EventKind::Load, v.id(), -5),
            (me, EventKind::Empty, q.id(), 0),
            (me, EventKind::Get, q.id(), 9),
            (me, EventKind::Empty, q.id(), 1),
        ],
        "events in order"
    );
    ensure_eq!(EventKind::HolderDied.name(), "holder-died", "kind names");
    Ok(())
}

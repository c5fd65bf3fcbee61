//! Turning a trace into sentences a student can follow.
//!
//! A failing invariant is only useful with the interleaving that broke it,
//! and pids mean nothing to a reader: "deposit load 600 · withdraw load 600
//! · deposit store 605 · withdraw store 595" does. [`Names`] maps pids to
//! the process names the report gives (worker records, the children list,
//! the header) and object ids to their labels; the functions here render
//! events with them and find the classic lost update.

use std::collections::{BTreeSet, HashMap};

use course_report::{Event, Report};

/// Process and object names for one run.
#[derive(Clone, Debug, Default)]
pub struct Names {
    processes: HashMap<i32, String>,
    objects: HashMap<u32, (String, String)>,
}

impl Names {
    /// Collects every name a report gives.
    pub fn from_report(report: &Report) -> Names {
        let mut names = Names::default();
        if let Some(h) = &report.header {
            names.processes.insert(h.pid, "MainProcess".into());
        }
        let mut objects = Vec::new();
        if let Some(d) = &report.deadlock {
            objects.extend(d.objects.iter());
            for s in &d.stuck {
                if !s.process.is_empty() {
                    names
                        .processes
                        .entry(s.pid)
                        .or_insert_with(|| s.process.clone());
                }
            }
        }
        if let Some(t) = &report.trace {
            objects.extend(t.objects.iter());
        }
        if let Some(s) = &report.summary {
            objects.extend(s.objects.iter());
            for c in &s.children {
                names.processes.insert(c.pid, c.name.clone());
            }
        }
        for w in &report.workers {
            names
                .processes
                .entry(w.pid)
                .or_insert_with(|| w.name.clone());
        }
        for p in &report.panics {
            names
                .processes
                .entry(p.pid)
                .or_insert_with(|| p.process.clone());
        }
        for o in objects {
            names
                .objects
                .insert(o.id, (o.kind.clone(), o.label.clone()));
        }
        // A child is named by its start event too (the trace holds one even
        // when the run ended before its summary).
        let events = report
            .summary
            .iter()
            .map(|s| &s.events)
            .chain(report.deadlock.iter().map(|d| &d.events))
            .chain(report.trace.iter().map(|t| &t.events));
        for e in events.flatten().filter(|e| e.op == "start") {
            if let Some((_, label)) = names.objects.get(&e.object) {
                if !label.is_empty() {
                    let label = label.clone();
                    names.processes.entry(e.value as i32).or_insert(label);
                }
            }
        }
        names
    }

    /// The pid of the process with this name (`P1`), if the report names
    /// one.
    pub fn pid_of(&self, name: &str) -> Option<i32> {
        self.processes
            .iter()
            .filter(|(_, n)| n.as_str() == name)
            .map(|(pid, _)| *pid)
            .min()
    }

    /// The process's name, or `pid N` when the report never named it.
    pub fn process(&self, pid: i32) -> String {
        self.known_process(pid)
            .unwrap_or_else(|| format!("pid {pid}"))
    }

    /// The process's name, if the report gave one.
    pub fn known_process(&self, pid: i32) -> Option<String> {
        self.processes.get(&pid).cloned()
    }

    /// The object's label, or `kind#id` when it has none.
    pub fn object(&self, id: u32) -> String {
        match self.objects.get(&id) {
            Some((_, label)) if !label.is_empty() => label.clone(),
            Some((kind, _)) => format!("{kind}#{id}"),
            None => format!("object#{id}"),
        }
    }

    /// The id of the object with this label.
    pub fn object_id(&self, label: &str) -> Option<u32> {
        self.objects
            .iter()
            .filter(|(_, (_, l))| l == label)
            .map(|(id, _)| *id)
            .min()
    }

    /// Whether an object is a lock the runtime keeps inside another
    /// object (a value's own `balance.lock`, a queue's `queue.read-lock`):
    /// its operations are the runtime's, not the student's.
    pub fn is_internal(&self, id: u32) -> bool {
        let Some((kind, label)) = self.objects.get(&id) else {
            return false;
        };
        let owner = label
            .strip_suffix(".read-lock")
            .or_else(|| label.strip_suffix(".lock"));
        kind == "lock" && owner.is_some_and(|o| self.objects.values().any(|(_, l)| l == o))
    }

    fn kind(&self, id: u32) -> &str {
        self.objects.get(&id).map_or("", |(k, _)| k.as_str())
    }
}

/// One event as words: "deposit load 600", "P1 acquire lock".
///
/// Values are labelled only when `label_values` is set, which the caller
/// does when events on more than one value are shown together.
pub fn event(names: &Names, e: &Event, label_values: bool) -> String {
    format!(
        "{} {}",
        names.process(e.pid),
        action(names, e, label_values)
    )
}

/// What an event did, without who did it.
fn action(names: &Names, e: &Event, label_values: bool) -> String {
    let obj = names.object(e.object);
    let val = |v: i64| {
        if label_values {
            format!("{obj}={v}")
        } else {
            v.to_string()
        }
    };
    match e.op.as_str() {
        "load" => format!("load {}", val(e.value)),
        "store" => format!("store {}", val(e.value)),
        "acquire" if e.value > 1 => format!("acquire {obj} (depth {})", e.value),
        "acquire" => format!("acquire {obj}"),
        "release" => format!("release {obj}"),
        "put" => format!("put {}", e.value),
        "get" => format!("get {}", e.value),
        "empty" => format!("empty? {}", if e.value != 0 { "yes" } else { "no" }),
        "start" => format!("start {}", names.process(e.value as i32)),
        "join" => format!("join {}", names.process(e.value as i32)),
        "holder-died" => format!("recover {obj} from dead {}", names.process(e.value as i32)),
        "mark" => format!("mark {}", e.value),
        other => format!("{other} {obj} {}", e.value),
    }
}

/// Events as one line: "P1 load 600 · P2 load 600 · P1 store 605".
pub fn sequence<'a>(names: &Names, events: impl IntoIterator<Item = &'a Event>) -> String {
    let events: Vec<&Event> = events.into_iter().collect();
    let label = needs_labels(names, &events);
    events
        .iter()
        .map(|e| event(names, e, label))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Events grouped into lines, one per stretch that one process ran
/// uninterrupted (a long stretch wraps every [`PER_LINE`] events): the
/// shape of an interleaving at a glance.
///
/// ```text
/// #12    deposit   load 600 · store 605
/// #14    withdraw  load 605 · store 600
/// ```
pub fn grouped(names: &Names, events: &[&Event]) -> Vec<String> {
    let label = needs_labels(names, events);
    let width = events
        .iter()
        .map(|e| names.process(e.pid).len())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let pid = events[i].pid;
        let stretch: Vec<&Event> = events[i..]
            .iter()
            .take_while(|e| e.pid == pid)
            .copied()
            .collect();
        for (n, chunk) in stretch.chunks(PER_LINE).enumerate() {
            let who = if n == 0 {
                names.process(pid)
            } else {
                String::new()
            };
            let actions: Vec<String> = chunk.iter().map(|e| action(names, e, label)).collect();
            lines.push(format!(
                "#{:<5} {who:<width$}  {}",
                chunk[0].seq,
                actions.join(" · ")
            ));
        }
        i += stretch.len();
    }
    lines
}

/// How many events one line of [`grouped`] shows.
pub const PER_LINE: usize = 10;

/// Values need their labels when events on several values are shown.
fn needs_labels(names: &Names, events: &[&Event]) -> bool {
    let values: BTreeSet<u32> = events
        .iter()
        .filter(|e| names.kind(e.object) == "value" || matches!(e.op.as_str(), "load" | "store"))
        .map(|e| e.object)
        .collect();
    values.len() > 1
}

/// The events on `objects` whose sequence numbers lie in `from..=to`, at
/// most `limit` of them (the last ones, nearest the violation).
pub fn between<'a>(
    events: &'a [Event],
    objects: &[u32],
    from: u64,
    to: u64,
    limit: usize,
) -> Vec<&'a Event> {
    let mut picked: Vec<&Event> = events
        .iter()
        .filter(|e| (from..=to).contains(&e.seq) && objects.contains(&e.object))
        .collect();
    if picked.len() > limit {
        picked.drain(..picked.len() - limit);
    }
    picked
}

/// A lost update: `overwriter` stored a value computed from a load made
/// before `lost`'s store, so `lost`'s update vanished.
#[derive(Clone, Debug)]
pub struct LostUpdate {
    /// The store whose effect was lost.
    pub lost: Event,
    /// The store that overwrote it.
    pub overwriter: Event,
    /// The events on the value from the first of the two loads to the
    /// overwriting store.
    pub window: Vec<Event>,
}

impl LostUpdate {
    /// "→ withdraw's store 595 overwrote deposit's 605: one update by deposit lost".
    pub fn conclusion(&self, names: &Names) -> String {
        let lost = names.process(self.lost.pid);
        format!(
            "→ {}'s store {} overwrote {lost}'s {}: one update by {lost} lost",
            names.process(self.overwriter.pid),
            self.overwriter.value,
            self.lost.value
        )
    }
}

/// The first lost update on one value: a store by P based on P's last load,
/// with another process's store in between.
pub fn first_lost_update(events: &[&Event]) -> Option<LostUpdate> {
    let mut last_load: HashMap<i32, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        match e.op.as_str() {
            "load" => {
                last_load.insert(e.pid, i);
            }
            "store" => {
                let Some(&from) = last_load.get(&e.pid) else {
                    continue;
                };
                let between =
                    (from + 1..i).find(|&j| events[j].op == "store" && events[j].pid != e.pid);
                if let Some(j) = between {
                    let lost = events[j];
                    // Start at the lost update's own load, when it is there,
                    // so both read-modify-writes show whole.
                    let start = (0..j)
                        .rev()
                        .find(|&k| events[k].pid == lost.pid && events[k].op == "load")
                        .map_or(from, |k| k.min(from));
                    return Some(LostUpdate {
                        lost: lost.clone(),
                        overwriter: (*e).clone(),
                        window: events[start..=i].iter().map(|e| (*e).clone()).collect(),
                    });
                }
                last_load.remove(&e.pid);
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use course_report::{Header, Object, Summary};

    use crate::judge::invariants::testing::event as ev;

    fn names() -> Names {
        let report = Report {
            header: Some(Header {
                exercise: "locked-bank".into(),
                mode: "free".into(),
                pid: 1,
                cpus: 1,
                time_scale: 0.0,
                seed: 0,
                params: Default::default(),
            }),
            summary: Some(Summary {
                finals: Default::default(),
                children: vec![
                    course_report::Child {
                        name: "deposit".into(),
                        pid: 2,
                        exit: "exited normally".into(),
                        success: true,
                    },
                    course_report::Child {
                        name: "withdraw".into(),
                        pid: 3,
                        exit: "exited normally".into(),
                        success: true,
                    },
                ],
                objects: vec![
                    Object {
                        id: 1,
                        kind: "value".into(),
                        label: "balance".into(),
                    },
                    Object {
                        id: 2,
                        kind: "lock".into(),
                        label: "lock".into(),
                    },
                ],
                events: vec![],
                dropped: 0,
                schedule: None,
                choices: None,
                elapsed_ns: 0,
            }),
            ..Report::default()
        };
        Names::from_report(&report)
    }

    #[test]
    fn finds_and_tells_a_lost_update() {
        let events = [
            ev(0, 2, "load", 1, 600),
            ev(1, 3, "load", 1, 600),
            ev(2, 2, "store", 1, 605),
            ev(3, 3, "store", 1, 595),
        ];
        let refs: Vec<&Event> = events.iter().collect();
        let lost = first_lost_update(&refs).expect("a lost update");
        assert_eq!(lost.lost.pid, 2);
        assert_eq!(
            lost.conclusion(&names()),
            "→ withdraw's store 595 overwrote deposit's 605: one update by deposit lost"
        );
    }

    #[test]
    fn a_serial_history_loses_nothing() {
        let events = [
            ev(0, 2, "load", 1, 600),
            ev(1, 2, "store", 1, 605),
            ev(2, 3, "load", 1, 605),
            ev(3, 3, "store", 1, 600),
        ];
        let refs: Vec<&Event> = events.iter().collect();
        assert!(first_lost_update(&refs).is_none());
    }

    #[test]
    fn groups_stretches_of_one_process() {
        let events = [
            ev(0, 2, "acquire", 2, 1),
            ev(1, 2, "load", 1, 600),
            ev(2, 3, "load", 1, 600),
        ];
        let refs: Vec<&Event> = events.iter().collect();
        let lines = grouped(&names(), &refs);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("acquire lock · load 600"), "{lines:?}");
        assert!(lines[1].contains("withdraw"), "{lines:?}");
    }
}

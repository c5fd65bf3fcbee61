//! A counterexample's preemptions in words: "withdraw runs between
//! deposit's load (600) and its store (605)".
//!
//! A schedule string says which slot ran at each decision; a student
//! needs to know *where in their code* the other process cut in. Each
//! choice point carries its trace position, so the preempted process's
//! last operation before it and first one after it name the gap.

use course_report::{Choice, Event};

use super::reduce::slot_pids;
use crate::judge::narrate::Names;
use crate::judge::run::RunData;

/// Each preemption of the run, in words, in order.
pub fn preemptions(run: &RunData, choices: &[Choice]) -> Vec<String> {
    let Ok(events) = run.trace() else {
        return Vec::new();
    };
    let slots = slot_pids(run, events);
    let name = |slot: u8| {
        slots
            .get(slot as usize)
            .map_or_else(|| format!("process {slot}"), |&pid| run.names.process(pid))
    };
    let mut said = Vec::new();
    for c in choices.iter().filter(|c| c.preempts(c.chosen)) {
        let Some(running) = c.running else { continue };
        let Some(&pid) = slots.get(running as usize) else {
            continue;
        };
        let stuck = run
            .deadlock()
            .and_then(|d| d.stuck.iter().find(|s| s.pid == pid))
            .map(|s| s.op.as_str());
        let gap = gap(&run.names, events, pid, c.at, stuck);
        said.push(if c.chosen == running {
            // At a pause the default hands over; going on is the choice.
            format!(
                "{} goes on{gap} instead of letting {} run",
                name(running),
                name(c.default)
            )
        } else {
            format!("{} runs{gap}", name(c.chosen))
        });
    }
    said
}

/// " between deposit's load (600) and its store (605)": where `pid` was
/// when the others cut in, at trace position `at`. A process that never
/// got further (`stuck` in an operation: a deadlock) is named by that
/// operation.
fn gap(names: &Names, events: &[Event], pid: i32, at: u64, stuck: Option<&str>) -> String {
    let own = |e: &&Event| e.pid == pid && !names.is_internal(e.object) && e.op != "mark";
    let before = events.iter().filter(|e| e.seq < at).rfind(own);
    let after = events
        .iter()
        .filter(|e| e.seq >= at)
        .find(own)
        .map(|a| operation(names, a))
        .or_else(|| stuck.map(|op| format!("{op}, where it waits for ever")));
    let who = names.process(pid);
    match (before, after) {
        (Some(b), Some(a)) => format!(" between {who}'s {} and its {a}", operation(names, b)),
        (None, Some(a)) => format!(" before {who}'s {a}"),
        (Some(b), None) => format!(" after {who}'s {}", operation(names, b)),
        (None, None) => format!(" while {who} waits for its turn"),
    }
}

/// One operation, without who made it: "load (600)", "acquire of lock",
/// "call of rlock.release".
fn operation(names: &Names, e: &Event) -> String {
    let obj = names.object(e.object);
    match e.op.as_str() {
        "load" | "store" | "put" | "get" => format!("{} ({})", e.op, e.value),
        "empty" => format!("empty() ({})", if e.value != 0 { "yes" } else { "no" }),
        "acquire" | "release" => format!("{} of {obj}", e.op),
        "call" => format!("call of {obj}"),
        "return" => format!("return from {obj}"),
        "start" | "join" => format!("{} of {}", e.op, names.process(e.value as i32)),
        other => format!("{other} of {obj}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;

    #[test]
    fn a_lost_update_is_told_as_the_gap_between_load_and_store() {
        let events = [
            (1, "start", 3, 2),
            (1, "start", 4, 3),
            (2, "load", 1, 600),
            (3, "load", 1, 600),
            (3, "store", 1, 595),
            (2, "store", 1, 605),
        ];
        let objects = [
            ("value", "balance"),
            ("lock", "lock"),
            ("process", "deposit"),
            ("process", "withdraw"),
        ];
        let run = run(
            "unlocked-race",
            vec![
                header("unlocked-race", &[]),
                summary(&[], &[("deposit", 2), ("withdraw", 3)], &objects, &events),
            ],
        );
        // Deposit (slot 1) could go on at its store (event 3); withdraw
        // (slot 2) ran instead.
        let c = Choice {
            at: 3,
            running: Some(1),
            runnable: 0b110,
            default: 1,
            chosen: 2,
            places: 0,
        };
        assert_eq!(
            preemptions(&run, &[c]),
            ["withdraw runs between deposit's load (600) and its store (605)"]
        );
    }
}

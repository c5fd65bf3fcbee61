//! The evidence a run is judged on, checked against what the grader knows
//! on its own.
//!
//! A report is written by the program being graded, so it is a claim, not
//! a fact. Before any invariant reads it, it must agree with two things
//! the program does not control:
//!
//! - **the configuration the grader sent**: the header must echo it
//!   exactly (exercise, scheduling mode, seed, time scale, every
//!   parameter). Invariants read parameters from the grader's copy in any
//!   case; a header that differs means the program did not run what it
//!   was asked to.
//! - **the kernel's account of the run**: the main process is the
//!   supervisor's own child, and in a box with a pid namespace the run's
//!   processes are exactly the pids it was given (`main..=last`): every
//!   one of them must be in the report as the main process or a child,
//!   and no record or trace event may name any other. The main process's
//!   exit code must be the one its summary implies.
//!
//! Under the controlled scheduler, every event must have been recorded by
//! the process holding the scheduler's turn: a process that ran outside
//! the schedule made a run that the seed does not describe.
//!
//! A report that fails any of these is rejected, with the reason, and
//! nothing in it is judged.

use std::collections::BTreeSet;

use course_report::{Param, Report, RunConfig};

use crate::run::supervise::{Ending, RunOutcome};

/// Checks `report` against `config` and `outcome` (see the module docs).
pub fn check(report: &Report, config: &RunConfig, outcome: &RunOutcome) -> Result<(), String> {
    let Some(header) = &report.header else {
        return Err("it has no header".into());
    };
    if header.exercise != config.exercise {
        return Err(format!(
            "it is the report of `{}`, not of `{}`",
            header.exercise, config.exercise
        ));
    }
    if header.mode != config.sched {
        return Err(format!(
            "its header gives the scheduling mode {}, but the run was started in {}",
            header.mode, config.sched
        ));
    }
    if header.seed != config.seed || header.time_scale != config.time_scale {
        return Err(format!(
            "its header gives seed {} and time scale {}, but the run was started with seed {} and time scale {}",
            header.seed, header.time_scale, config.seed, config.time_scale
        ));
    }
    if header.params != config.params {
        let differ: Vec<String> = config
            .params
            .iter()
            .filter(|(k, v)| header.params.get(*k) != Some(v))
            .map(|(k, v)| {
                format!(
                    "`{k}` is {} (the grader gave {})",
                    header.params.get(k).map_or("missing".into(), show),
                    show(v)
                )
            })
            .chain(
                header
                    .params
                    .keys()
                    .filter(|k| !config.params.contains_key(*k))
                    .map(|k| format!("`{k}` was never given")),
            )
            .collect();
        return Err(format!(
            "its header does not give the run's parameters: {}",
            differ.join("; ")
        ));
    }
    if let Some(pids) = outcome.pids {
        processes(report, pids.main, pids.last)?;
        exit_code(report, outcome)?;
    }
    if config.sched.starts_with("controlled") || config.sched.starts_with("replay") {
        scheduled(report)?;
    }
    Ok(())
}

fn show(p: &Param) -> String {
    match p {
        Param::Int(n) => n.to_string(),
        Param::List(items) if items.len() > 6 => format!("a list of {} items", items.len()),
        Param::List(items) => format!("{items:?}"),
    }
}

/// Every process the report names is one the run had, and (with the last
/// pid known) every process the run had is in the report.
fn processes(report: &Report, main: i32, last: Option<i32>) -> Result<(), String> {
    let header = report.header.as_ref().expect("checked");
    if header.pid != main {
        return Err(format!(
            "its header names pid {} as the main process, but the run's main process was pid {main}",
            header.pid
        ));
    }
    let ran = |pid: i32| pid >= main && last.is_none_or(|l| pid <= l);
    let mut named: Vec<(i32, &str)> = Vec::new();
    named.extend(report.workers.iter().map(|w| (w.pid, "a worker record")));
    named.extend(report.panics.iter().map(|p| (p.pid, "a panic record")));
    if let Some(s) = &report.summary {
        named.extend(s.children.iter().map(|c| (c.pid, "the list of children")));
        named.extend(s.events.iter().map(|e| (e.pid, "the trace")));
    }
    if let Some(d) = &report.deadlock {
        named.extend(d.stuck.iter().map(|s| (s.pid, "the deadlock record")));
        named.extend(d.events.iter().map(|e| (e.pid, "the trace")));
    }
    if let Some(t) = &report.trace {
        named.extend(t.events.iter().map(|e| (e.pid, "the trace")));
    }
    if let Some((pid, where_)) = named.iter().find(|(pid, _)| !ran(*pid)) {
        let range = match last {
            Some(l) if l > main => format!("pids {main} to {l}"),
            _ => format!("pid {main}"),
        };
        return Err(format!(
            "{where_} names pid {pid}, which is not a process of this run (it had {range})"
        ));
    }
    let (Some(last), Some(summary)) = (last, &report.summary) else {
        return Ok(());
    };
    let accounted: BTreeSet<i32> = std::iter::once(main)
        .chain(summary.children.iter().map(|c| c.pid))
        .collect();
    let missing: Vec<i32> = (main..=last).filter(|p| !accounted.contains(p)).collect();
    if !missing.is_empty() {
        let n = last - main + 1;
        return Err(format!(
            "the run made {n} process{} (pids {main} to {last}), but its report accounts for {}: {} {} unaccounted for",
            if n == 1 { "" } else { "es" },
            accounted.len(),
            missing
                .iter()
                .map(|p| format!("pid {p}"))
                .collect::<Vec<_>>()
                .join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        ));
    }
    Ok(())
}

/// A summary says whether every child ended well; the main process's
/// exit code, from the kernel, must say the same.
fn exit_code(report: &Report, outcome: &RunOutcome) -> Result<(), String> {
    let (Some(summary), Ending::Exited { code }) = (&report.summary, &outcome.ending) else {
        return Ok(());
    };
    let failed = summary.children.iter().any(|c| !c.success);
    if (*code == 0 && failed) || (*code == 1 && !failed) {
        return Err(format!(
            "its summary says {}, but the main process exited with code {code}",
            if failed {
                "a child failed"
            } else {
                "every child ended normally"
            }
        ));
    }
    Ok(())
}

/// Under the controlled scheduler: every event on the schedule, in order.
fn scheduled(report: &Report) -> Result<(), String> {
    let events = report
        .summary
        .iter()
        .flat_map(|s| &s.events)
        .chain(report.deadlock.iter().flat_map(|d| &d.events))
        .chain(report.trace.iter().flat_map(|t| &t.events));
    let mut last_seq = None;
    for e in events {
        if e.off_schedule {
            return Err(format!(
                "pid {} ran outside the scheduler the run was graded under (its {} was made without the scheduler's turn)",
                e.pid, e.op
            ));
        }
        if last_seq.is_some_and(|s| e.seq <= s) && report.deadlock.is_none() {
            return Err(format!("its trace is out of order at event {}", e.seq));
        }
        last_seq = Some(e.seq);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::{config_of, exited, header, summary, worker};
    use crate::run::supervise::PidRange;
    use course_report::Record;

    fn report(records: Vec<Record>) -> Report {
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        Report::parse(&text).unwrap()
    }

    fn bank(children: &[(&str, i32)]) -> Vec<Record> {
        vec![
            header(
                "locked-bank",
                &[("start", 600), ("amount", 5), ("steps", 1)],
            ),
            worker("deposit", 2, &[("steps", 1)], vec![]),
            summary(
                &[("balance", 600)],
                children,
                &[("value", "balance")],
                &[(2, "load", 1, 600)],
            ),
        ]
    }

    fn with_pids(last: i32) -> RunOutcome {
        RunOutcome {
            pids: Some(PidRange {
                main: 1,
                last: Some(last),
            }),
            ..exited(0)
        }
    }

    #[test]
    fn an_honest_report_is_taken() {
        let r = report(bank(&[("deposit", 2), ("withdraw", 3)]));
        assert_eq!(check(&r, &config_of(&r), &with_pids(3)), Ok(()));
    }

    #[test]
    fn parameters_are_the_graders() {
        let r = report(bank(&[("deposit", 2), ("withdraw", 3)]));
        let mut config = config_of(&r);
        config.params.insert("steps".into(), Param::Int(100));
        let why = check(&r, &config, &with_pids(3)).unwrap_err();
        assert!(why.contains("`steps` is 1 (the grader gave 100)"), "{why}");
        let mut config = config_of(&r);
        config.sched = "controlled:random:8".into();
        assert!(check(&r, &config, &with_pids(3))
            .unwrap_err()
            .contains("scheduling mode"));
    }

    #[test]
    fn every_process_of_the_run_is_accounted_for_and_no_other() {
        let r = report(bank(&[("deposit", 2), ("withdraw", 3)]));
        let config = config_of(&r);
        let hidden = check(&r, &config, &with_pids(4)).unwrap_err();
        assert!(hidden.contains("pid 4 is unaccounted for"), "{hidden}");
        let invented = check(&r, &config, &with_pids(2)).unwrap_err();
        assert!(
            invented.contains("names pid 3, which is not a process of this run"),
            "{invented}"
        );
    }

    #[test]
    fn the_exit_code_must_match_the_summary() {
        let r = report(bank(&[("deposit", 2), ("withdraw", 3)]));
        let outcome = RunOutcome {
            ending: Ending::Exited { code: 1 },
            ..with_pids(3)
        };
        let why = check(&r, &config_of(&r), &outcome).unwrap_err();
        assert!(why.contains("exited with code 1"), "{why}");
    }
}

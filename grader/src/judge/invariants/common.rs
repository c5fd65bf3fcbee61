//! The two invariants every exercise has, and the "clean run" gate the
//! others stand behind.
//!
//! Each names the first thing that went wrong the way a student needs to
//! read it: a stub's `todo!("deposit")` is "not implemented yet: deposit",
//! not a backtrace; a signal is named (`killed by SIGSEGV`); a hang says who
//! was stuck where.

use super::{Check, Invariant};
use crate::judge::run::{stuck_procs_phrase, RunData, Unchecked, DEADLOCK_EXIT_CODE};
use crate::run::seccomp::REFUSED_EXIT_CODE;
use crate::run::supervise::Ending;

/// Nothing panicked or was killed by a signal of its own making.
pub const NO_PANIC: Invariant =
    Invariant::every("no-panic", "no process panicked or crashed", no_panic).of_the_ending();

/// The main process and every child exited with code 0, and the report is
/// complete and well formed.
pub const CLEAN_EXIT: Invariant = Invariant::every(
    "clean-exit",
    "every process exited normally and the report is complete",
    clean_exit,
)
.of_the_ending();

fn no_panic(run: &RunData) -> Result<Check, Unchecked> {
    // Whatever else happened, the limit the run reached explains it: a
    // refused fork panics, an allocation that fails aborts.
    no_panic_alone(run).map(|check| match check {
        Check::Broken(mut v) => {
            v.seen = run.with_limit(v.seen);
            Check::Broken(v)
        }
        held => held,
    })
}

fn no_panic_alone(run: &RunData) -> Result<Check, Unchecked> {
    if let Some(trouble) = &run.trouble {
        return Ok(Check::broken("no crash", trouble.clone()));
    }
    // The main process killed by a signal someone in the run sent (a
    // child's `kill`, say) comes first: the children's panics that follow
    // ("holder died", a pipe closed) are its consequences. An abort is
    // the end of a panic, whose message says more, so it waits its turn.
    let killed_for_hang = run.hung() || run.outcome.ending == Ending::OutputFlood;
    if let Ending::Signaled { name, .. } = &run.outcome.ending {
        if !(killed_for_hang && name == "SIGKILL") && name != "SIGABRT" {
            return Ok(Check::broken(
                "no crash",
                format!("the main process was killed by {name}"),
            ));
        }
    }
    if let Ok(report) = &run.report {
        if let Some(first) = report.panics.first() {
            let seen = run.first_panic().unwrap_or_default();
            let check = Check::broken("no panic", seen);
            // Where in the trace the panic came: what broke before it is
            // its cause, and is shown first.
            let mark = run.object("panic").ok().and_then(|id| {
                run.trace()
                    .ok()?
                    .iter()
                    .find(|e| e.object == id && e.op == "mark" && e.value == first.pid as i64)
            });
            return Ok(match mark {
                Some(e) => check.at(e.seq),
                None => check,
            });
        }
    }
    // A signal is a crash unless the grader or the scheduler sent it: the
    // supervisor kills a hung or flooding tree, and the scheduler kills the
    // others when it finds a deadlock.
    // A system call the sandbox refused ends the process that made it.
    if run.outcome.ending
        == (Ending::Exited {
            code: REFUSED_EXIT_CODE,
        })
    {
        return Ok(Check::broken("no crash", run.refused_call_phrase()));
    }
    if let Ending::Signaled { name, .. } = &run.outcome.ending {
        if !(killed_for_hang && name == "SIGKILL") {
            return Ok(Check::broken(
                "no crash",
                format!("the main process was killed by {name}"),
            ));
        }
    }
    if let Ok(summary) = run.summary() {
        for c in &summary.children {
            let by_us = killed_for_hang && c.exit.contains("SIGKILL");
            if c.exit == format!("exited with code {REFUSED_EXIT_CODE}") {
                return Ok(Check::broken(
                    "no crash",
                    format!("{}: {}", c.name, run.refused_call_phrase()),
                ));
            }
            if c.exit.starts_with("killed by") && !by_us {
                return Ok(Check::broken(
                    "no crash",
                    format!("{} was {}", c.name, c.exit),
                ));
            }
        }
    }
    if let Some(line) = panic_line(&run.outcome.stderr) {
        return Ok(Check::broken("no panic", line));
    }
    match &run.report {
        Ok(_) => Ok(Check::Held),
        // A clean exit with no report: nothing says a panic happened.
        Err(_) if run.outcome.ending == (Ending::Exited { code: 0 }) => Ok(Check::Held),
        Err(p) => Err(Unchecked(p.to_string())),
    }
}

/// The first line of a panic message on stderr, for a panic the report
/// did not record.
fn panic_line(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at")?;
    let line_start = stderr[..start].rfind('\n').map_or(0, |i| i + 1);
    let rest: Vec<&str> = stderr[line_start..].lines().take(2).collect();
    Some(rest.join(" ").trim().to_string())
}

fn clean_exit(run: &RunData) -> Result<Check, Unchecked> {
    Ok(match clean(run) {
        Ok(()) => Check::Held,
        Err(Unchecked(why)) => {
            Check::broken("every process exits with code 0 and a complete report", why)
        }
    })
}

/// Whether the run ended cleanly enough to judge the exercise's own
/// invariants on it, and if not, why not.
pub fn clean(run: &RunData) -> Result<(), Unchecked> {
    clean_alone(run).map_err(|Unchecked(why)| Unchecked(run.with_limit(why)))
}

fn clean_alone(run: &RunData) -> Result<(), Unchecked> {
    let why = |s: String| Err(Unchecked(s));
    if let Some(trouble) = &run.trouble {
        return why(trouble.clone());
    }
    // The most telling reason first: a hang or a crash explains a missing
    // summary, a panic explains an exit code.
    match &run.outcome.ending {
        Ending::TimedOut => {
            return why(format!(
                "timed out after {:.1} s; the process tree was killed{}",
                run.outcome.elapsed_ms / 1000.0,
                stuck_procs_phrase(&run.outcome.stuck, &run.names)
            ))
        }
        Ending::Exited { .. } => {}
        _ => return why(run.ending_phrase()),
    }
    if let Some(d) = run.deadlock() {
        return why(format!("deadlocked: {}", run.stuck_phrase(d)));
    }
    if let Some(p) = run.first_panic() {
        return why(p);
    }
    if let Ok(summary) = run.summary() {
        if let Some(c) = summary.children.iter().find(|c| !c.success) {
            return why(format!("{} {}", c.name, c.exit));
        }
    }
    match run.outcome.ending {
        Ending::Exited {
            code: DEADLOCK_EXIT_CODE,
        } => return why("exited with code 86 (deadlock) without a deadlock record".into()),
        Ending::Exited { code } if code != 0 => return why(run.ending_phrase()),
        _ => {}
    }
    // A process left behind explains a report that does not account
    // for it; files left in /dev/shm are named too.
    if let Some(left) = run.leftovers_phrase() {
        return why(left);
    }
    run.header()?;
    run.summary()?;
    if !run.outcome.leftover_files.is_empty() {
        return why(format!(
            "left files behind in /dev/shm: {} (they were removed)",
            crate::judge::run::short_list(run.outcome.leftover_files.clone())
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;
    use crate::judge::run::{ReportProblem, RunData};
    use course_report::{Panic, Record};

    #[test]
    fn a_stub_reads_as_not_implemented() {
        let mut run = run(
            "sequential-bank",
            vec![
                header("sequential-bank", &[]),
                Record::Panic(Panic {
                    pid: 1,
                    process: "MainProcess".into(),
                    message: "not yet implemented: deposit".into(),
                    location: Some("src/lib.rs:3:5".into()),
                    not_implemented: Some("deposit".into()),
                }),
            ],
        );
        run.outcome = exited(101);
        match no_panic(&run).unwrap() {
            Check::Broken(v) => assert_eq!(v.seen, "not implemented yet: deposit"),
            c => panic!("{c:?}"),
        }
        assert!(clean(&run).is_err());
    }

    #[test]
    fn a_missing_report_is_named_not_trusted() {
        let run = RunData::new(
            0,
            config("locked-bank"),
            exited(0),
            Err(ReportProblem::Missing),
        );
        let err = clean(&run).unwrap_err();
        assert!(err.0.contains("no report"), "{err:?}");
        assert!(matches!(clean_exit(&run).unwrap(), Check::Broken(_)));
    }

    #[test]
    fn a_segfault_names_its_signal() {
        let mut run = RunData::new(
            0,
            config("locked-bank"),
            exited(0),
            Err(ReportProblem::Missing),
        );
        run.outcome.ending = Ending::Signaled {
            signal: 11,
            name: "SIGSEGV".into(),
        };
        match no_panic(&run).unwrap() {
            Check::Broken(v) => assert!(v.seen.contains("SIGSEGV"), "{v:?}"),
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn a_refused_fork_names_the_process_cap() {
        let mut run = RunData::new(
            0,
            config("locked-bank"),
            exited(101),
            Err(ReportProblem::Missing),
        );
        run.outcome.stderr = "thread 'main' panicked at src/lib.rs:3:5:\nfork refused\n".into();
        run.outcome.limit_hit = Some("process limit (64 at once) reached".into());
        match no_panic(&run).unwrap() {
            Check::Broken(v) => assert!(
                v.seen.ends_with("— process limit (64 at once) reached"),
                "{v:?}"
            ),
            c => panic!("{c:?}"),
        }
        assert!(clean(&run).unwrap_err().0.contains("process limit"));
    }

    #[test]
    fn a_process_left_behind_is_named() {
        let records = vec![
            header("sequential-bank", &[]),
            crate::judge::invariants::testing::summary(&[], &[], &[], &[]),
        ];
        let mut run = run("sequential-bank", records);
        run.outcome.leftovers = vec![crate::run::supervise::ProcInfo {
            pid: 42,
            name: "sleep".into(),
            state: "S".into(),
            wchan: "hrtimer_nanosleep".into(),
        }];
        assert_eq!(
            clean(&run).unwrap_err().0,
            "left a process running after the main process ended: pid 42 (sleep); it was killed"
        );
    }

    #[test]
    fn trouble_with_the_supervisor_is_a_crash() {
        let mut run = RunData::new(
            0,
            config("sequential-bank"),
            exited(0),
            Err(ReportProblem::Missing),
        );
        run.trouble = Some("killed its supervisor".into());
        match no_panic(&run).unwrap() {
            Check::Broken(v) => assert_eq!(v.seen, "killed its supervisor"),
            c => panic!("{c:?}"),
        }
        assert_eq!(clean(&run).unwrap_err().0, "killed its supervisor");
    }

    #[test]
    fn a_panic_only_on_stderr_is_still_seen() {
        let mut run = RunData::new(
            0,
            config("locked-bank"),
            exited(101),
            Err(ReportProblem::Missing),
        );
        run.outcome.stderr = "\nthread 'main' panicked at src/main.rs:3:5:\nboom\n".into();
        match no_panic(&run).unwrap() {
            Check::Broken(v) => assert!(v.seen.contains("boom"), "{v:?}"),
            c => panic!("{c:?}"),
        }
    }
}

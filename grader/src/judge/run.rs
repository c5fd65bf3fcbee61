//! One run of an exercise program, as the grader knows it afterwards: how
//! the supervisor saw it end, and what the program wrote in its report.
//!
//! Nothing here trusts the program. A missing, truncated or malformed
//! report is a [`ReportProblem`], never a panic, and every accessor that an
//! invariant needs says *why* it has nothing to give ([`Unchecked`]), so a
//! verdict can always name the reason a run could not be judged.

use std::collections::BTreeMap;

use course_report::{Choice, Event, Header, Param, ParseError, Report, RunConfig, Summary, Worker};

use crate::judge::evidence;
use crate::judge::narrate::Names;
use crate::run::seccomp::{call_name, REFUSED_EXIT_CODE};
use crate::run::supervise::{Ending, ProcInfo, RunOutcome};

/// The exit code of a program that the controlled scheduler found
/// deadlocked (`multiproc::sched::controlled::DEADLOCK_EXIT_CODE`).
pub const DEADLOCK_EXIT_CODE: i32 = 86;
/// The exit code of a process whose code panicked.
pub const PANIC_EXIT_CODE: i32 = 101;

/// Why a run could not be judged on some invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unchecked(pub String);

/// What was wrong with a run's report file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportProblem {
    /// The program never created it.
    Missing,
    /// Larger than the grader reads.
    TooLarge(u64),
    /// A line is not a record.
    Malformed(ParseError),
    /// It contradicts what the grader knows: the configuration it sent,
    /// or what the kernel said about the run's processes.
    Rejected(String),
}

impl std::fmt::Display for ReportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportProblem::Missing => write!(f, "no report: the program wrote none"),
            ReportProblem::Rejected(why) => write!(f, "report rejected: {why}"),
            ReportProblem::TooLarge(n) => write!(f, "report too large ({n} bytes)"),
            ReportProblem::Malformed(e) => write!(f, "{e}"),
        }
    }
}

/// Everything known about one finished run.
#[derive(Debug)]
pub struct RunData {
    /// The run's position in the session (0-based).
    pub index: usize,
    /// The run's seed (scheduler and scenario).
    pub seed: u64,
    /// What the grader asked the run to do: its own copy, which every
    /// parameter is read from.
    pub config: RunConfig,
    /// How the supervisor saw the run end.
    pub outcome: RunOutcome,
    /// The parsed report, or what was wrong with it.
    pub report: Result<Report, ReportProblem>,
    /// Names of the run's processes and shared objects.
    pub names: Names,
    /// What happened to the run's supervisor, when the program did
    /// something to it (killed it, or told it to stop): the run was
    /// stopped and its processes killed by the grader.
    pub trouble: Option<String>,
    /// Whether the run was stopped because the grader was interrupted
    /// (Ctrl-C): it is not judged.
    pub interrupted: bool,
}

impl RunData {
    /// Folds a run's configuration, outcome and report together. A report
    /// that contradicts the configuration or the kernel is rejected here
    /// (see [`evidence`]), so that nothing is judged on it.
    pub fn new(
        index: usize,
        config: RunConfig,
        outcome: RunOutcome,
        report: Result<Report, ReportProblem>,
    ) -> RunData {
        let report = report.and_then(|r| match evidence::check(&r, &config, &outcome) {
            Ok(()) => Ok(r),
            Err(why) => Err(ReportProblem::Rejected(why)),
        });
        let names = report.as_ref().map(Names::from_report).unwrap_or_default();
        RunData {
            index,
            seed: config.seed,
            config,
            outcome,
            report,
            names,
            trouble: None,
            interrupted: false,
        }
    }

    /// The limit the run reached, as a phrase ("address space limit
    /// (2048 MiB) reached"), if it reached one.
    pub fn limit_reached(&self) -> Option<String> {
        let limit = self.outcome.limit_hit.as_deref()?;
        Some(if limit.ends_with("reached") {
            limit.to_string()
        } else {
            format!("{limit} reached")
        })
    }

    /// `what`, followed by the limit the run reached if `what` does not
    /// already say so: a panic on a refused fork reads as the process cap
    /// it is.
    pub fn with_limit(&self, what: String) -> String {
        match self.limit_reached() {
            // The flood's own phrase gives its limit.
            Some(_) if self.outcome.ending == Ending::OutputFlood => what,
            Some(limit) => {
                let name = limit.split(" (").next().unwrap_or(&limit);
                if what.contains(name) {
                    what
                } else {
                    format!("{what} — {limit}")
                }
            }
            None => what,
        }
    }

    /// "left a process running after the main process ended: pid 12
    /// (sleep); it was killed", when it did.
    pub fn leftovers_phrase(&self) -> Option<String> {
        let left = &self.outcome.leftovers;
        if left.is_empty() {
            return None;
        }
        let list = short_list(
            left.iter()
                .map(|p| format!("pid {} ({})", p.pid, p.name))
                .collect(),
        );
        Some(if left.len() == 1 {
            format!("left a process running after the main process ended: {list}; it was killed")
        } else {
            format!(
                "left {} processes running after the main process ended: {list}; they were killed",
                left.len()
            )
        })
    }

    /// The report, or why there is none to read.
    pub fn report(&self) -> Result<&Report, Unchecked> {
        self.report.as_ref().map_err(|p| Unchecked(p.to_string()))
    }

    /// The header record.
    pub fn header(&self) -> Result<&Header, Unchecked> {
        self.report()?
            .header
            .as_ref()
            .ok_or_else(|| Unchecked("the report has no header record".into()))
    }

    /// A number parameter of the run (`start`, `steps`, ...), from the
    /// grader's own copy of its configuration.
    pub fn param(&self, key: &str) -> Result<i64, Unchecked> {
        match self.config.params.get(key) {
            Some(Param::Int(n)) => Ok(*n),
            _ => Err(Unchecked(format!("the run has no parameter `{key}`"))),
        }
    }

    /// A list parameter of the run (the queue's items), from the grader's
    /// own copy of its configuration.
    pub fn param_list(&self, key: &str) -> Result<&[i64], Unchecked> {
        match self.config.params.get(key) {
            Some(Param::List(items)) => Ok(items),
            _ => Err(Unchecked(format!("the run has no list parameter `{key}`"))),
        }
    }

    /// The summary the main process writes last; without it the run ended
    /// early, and the reason says how.
    pub fn summary(&self) -> Result<&Summary, Unchecked> {
        self.report()?.summary.as_ref().ok_or_else(|| {
            Unchecked(format!(
                "the run ended before its summary ({})",
                self.ending_phrase()
            ))
        })
    }

    /// A final value from the summary.
    pub fn final_value(&self, name: &str) -> Result<i64, Unchecked> {
        self.summary()?
            .finals
            .get(name)
            .copied()
            .ok_or_else(|| Unchecked(format!("the summary has no final value `{name}`")))
    }

    /// The trace, when it is complete: a trace that overflowed cannot show
    /// that something did *not* happen.
    pub fn events(&self) -> Result<&[Event], Unchecked> {
        let summary = self.summary()?;
        if summary.dropped > 0 {
            return Err(Unchecked(format!(
                "the trace overflowed ({} events dropped)",
                summary.dropped
            )));
        }
        Ok(&summary.events)
    }

    /// The trace as far as the run got, whether or not it ended well: the
    /// summary's, else the deadlock's, else the one a main process that
    /// panicked left. The checks of safety judge it: what went wrong
    /// before a panic is the cause to show.
    /// The name of the child the main process started first, as the
    /// trace's start events give it.
    pub fn first_started(&self) -> Option<String> {
        let start = self.trace().ok()?.iter().find(|e| e.op == "start")?;
        self.names.known_process(start.value as i32)
    }

    pub fn trace(&self) -> Result<&[Event], Unchecked> {
        let report = self.report()?;
        let (events, dropped) = if let Some(s) = &report.summary {
            (&s.events, s.dropped)
        } else if let Some(d) = &report.deadlock {
            (&d.events, 0)
        } else if let Some(t) = &report.trace {
            (&t.events, t.dropped)
        } else {
            return Err(Unchecked(format!(
                "the run left no trace ({})",
                self.ending_phrase()
            )));
        };
        if dropped > 0 {
            return Err(Unchecked(format!(
                "the trace overflowed ({dropped} events dropped)"
            )));
        }
        Ok(events)
    }

    /// What the scheduler could have chosen at each decision of a
    /// replayed run, as far as the run got (none in other modes).
    pub fn choices(&self) -> Option<&[Choice]> {
        let report = self.report.as_ref().ok()?;
        let choices = match (&report.summary, &report.deadlock, &report.trace) {
            (Some(s), _, _) => s.choices.as_ref(),
            (None, Some(d), _) => d.choices.as_ref(),
            (None, None, Some(t)) => t.choices.as_ref(),
            _ => None,
        };
        choices.map(Vec::as_slice)
    }

    /// The id of the shared object with this label.
    pub fn object(&self, label: &str) -> Result<u32, Unchecked> {
        self.names
            .object_id(label)
            .ok_or_else(|| Unchecked(format!("the trace has no object labelled `{label}`")))
    }

    /// The events on one object, in order.
    pub fn events_on(&self, label: &str) -> Result<Vec<&Event>, Unchecked> {
        let id = self.object(label)?;
        Ok(self.events()?.iter().filter(|e| e.object == id).collect())
    }

    /// The account of the worker with this name.
    pub fn worker(&self, name: &str) -> Result<&Worker, Unchecked> {
        self.report()?
            .workers
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| Unchecked(format!("no worker named `{name}` reported")))
    }

    /// The deadlock the controlled scheduler found, if it found one.
    pub fn deadlock(&self) -> Option<&course_report::Deadlock> {
        self.report.as_ref().ok()?.deadlock.as_ref()
    }

    /// Whether the run ended in a hang: a timeout, or a deadlock the
    /// scheduler saw.
    pub fn hung(&self) -> bool {
        self.outcome.ending == Ending::TimedOut
            || self.deadlock().is_some()
            || self.outcome.ending
                == (Ending::Exited {
                    code: DEADLOCK_EXIT_CODE,
                })
    }

    /// One phrase for how the run ended, for reasons and verdicts.
    pub fn ending_phrase(&self) -> String {
        self.with_limit(self.ending_phrase_alone())
    }

    fn ending_phrase_alone(&self) -> String {
        if let Some(t) = &self.trouble {
            return t.clone();
        }
        if let Some(d) = self.deadlock() {
            return format!("deadlocked: {}", self.stuck_phrase(d));
        }
        match &self.outcome.ending {
            Ending::Exited { code: 0 } => "exited normally".into(),
            Ending::Exited {
                code: PANIC_EXIT_CODE,
            } => match self.first_panic() {
                Some(p) => p,
                None => "panicked (exit code 101)".into(),
            },
            Ending::Exited {
                code: DEADLOCK_EXIT_CODE,
            } => "deadlocked (exit code 86)".into(),
            Ending::Exited {
                code: REFUSED_EXIT_CODE,
            } => self.refused_call_phrase(),
            Ending::Exited { code } => format!("exited with code {code}"),
            Ending::Signaled { name, .. } if name == "SIGSYS" => self.refused_call_phrase(),
            Ending::Signaled { name, .. } => format!("killed by {name}"),
            Ending::TimedOut => format!(
                "timed out; the process tree was killed{}",
                stuck_procs_phrase(&self.outcome.stuck, &self.names)
            ),
            Ending::OutputFlood => self.flood_phrase(),
            Ending::Interrupted => "interrupted".into(),
        }
    }

    /// "it made a system call the sandbox refuses (ptrace); the run was
    /// stopped", naming the call from the runtime's line on stderr.
    pub fn refused_call_phrase(&self) -> String {
        let number = self
            .outcome
            .stderr
            .lines()
            .find_map(|l| l.split("refused system call ").nth(1))
            .and_then(|n| n.split_whitespace().next()?.parse::<i64>().ok());
        let name = match number.and_then(call_name) {
            Some(name) => format!(" ({name})"),
            None => String::new(),
        };
        format!("it made a system call the sandbox refuses{name}; the run was stopped")
    }

    /// "output flood: 16 MiB written, over the limit of 16 MiB; ...".
    pub fn flood_phrase(&self) -> String {
        let written = self.outcome.stdout_bytes + self.outcome.stderr_bytes;
        let limit = self
            .outcome
            .limit_hit
            .as_deref()
            .and_then(|l| l.split_once('(')?.1.split_once(' ')?.0.parse::<u64>().ok());
        let over = match limit {
            Some(n) => format!(", over the limit of {}", bytes(n)),
            None => String::new(),
        };
        format!(
            "output flood: {} written to stdout and stderr{over}; the process tree was killed",
            bytes(written)
        )
    }

    /// The run's panics, named as a student should read them: the
    /// functions still to write ("not implemented yet: deposit, withdraw"),
    /// or else the first real panic.
    pub fn first_panic(&self) -> Option<String> {
        let report = self.report.as_ref().ok()?;
        let first = report.panics.first()?;
        if let Some(p) = report.panics.iter().find(|p| p.not_implemented.is_none()) {
            // A panic in the course's driver is its reaction to what the
            // student's function returned: the driver's line would send
            // the student to code that is not theirs, so it is left out.
            let at = p
                .location
                .as_deref()
                .filter(|l| !l.starts_with("scenarios/"))
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            let more = match report.panics.len() {
                1 => String::new(),
                n => format!(
                    " (and {} more panic{})",
                    n - 1,
                    if n > 2 { "s" } else { "" }
                ),
            };
            return Some(format!("{} panicked{at}: {}{more}", p.process, p.message));
        }
        let mut names: Vec<&str> = Vec::new();
        for p in &report.panics {
            let name = p.not_implemented.as_deref().unwrap_or(&first.message);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Some(format!("not implemented yet: {}", names.join(", ")))
    }

    /// Who was stuck on what, from a deadlock record.
    pub fn stuck_phrase(&self, d: &course_report::Deadlock) -> String {
        if d.stuck.is_empty() {
            return "nobody could run".into();
        }
        d.stuck
            .iter()
            .map(|s| {
                let name = if s.process.is_empty() {
                    self.names.process(s.pid)
                } else {
                    s.process.clone()
                };
                format!("{name} waits in {}", s.waiting_for)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Final values, for distributions.
    pub fn finals(&self) -> Option<&BTreeMap<String, i64>> {
        self.report
            .as_ref()
            .ok()?
            .summary
            .as_ref()
            .map(|s| &s.finals)
    }
}

/// "; stuck: pid 12 (locked-bank) in futex_wait_queue, ..." for a timeout.
pub fn stuck_procs_phrase(stuck: &[ProcInfo], names: &Names) -> String {
    if stuck.is_empty() {
        return String::new();
    }
    let list: Vec<String> = stuck
        .iter()
        .map(|p| {
            let who = names
                .known_process(p.pid)
                .unwrap_or_else(|| format!("pid {} ({})", p.pid, p.name));
            format!("{who} {}", p.whereabouts())
        })
        .collect();
    format!("; stuck: {}", short_list(list))
}

/// The first few items, and how many more.
pub fn short_list(items: Vec<String>) -> String {
    const SHOWN: usize = 6;
    let more = items.len().saturating_sub(SHOWN);
    let mut text = items.into_iter().take(SHOWN).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// "16 MiB", "1.5 KiB", "312 bytes".
fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::{config, exited};

    #[test]
    fn a_limit_is_named_once() {
        let mut run = RunData::new(
            0,
            config("locked-bank"),
            exited(101),
            Err(ReportProblem::Missing),
        );
        run.outcome.limit_hit = Some("process limit (64 at once) reached".into());
        assert_eq!(
            run.with_limit("fork refused".into()),
            "fork refused — process limit (64 at once) reached"
        );
        assert_eq!(
            run.with_limit("the process limit was hit".into()),
            "the process limit was hit"
        );
        run.outcome.limit_hit = Some("address space limit (2048 MiB)".into());
        assert_eq!(
            run.with_limit("killed by SIGABRT".into()),
            "killed by SIGABRT — address space limit (2048 MiB) reached"
        );
    }

    #[test]
    fn a_flood_says_how_much() {
        let mut run = RunData::new(
            0,
            config("unlocked-race"),
            exited(0),
            Err(ReportProblem::Missing),
        );
        run.outcome.ending = Ending::OutputFlood;
        run.outcome.stdout_bytes = 16 << 20;
        run.outcome.stderr_bytes = 0;
        run.outcome.limit_hit = Some("output limit (16777216 bytes)".into());
        assert_eq!(
            run.ending_phrase(),
            "output flood: 16 MiB written to stdout and stderr, over the limit of 16 MiB; \
             the process tree was killed"
        );
    }

    #[test]
    fn long_lists_are_cut_short() {
        let items = (1..=9).map(|i| format!("pid {i}")).collect();
        assert_eq!(
            short_list(items),
            "pid 1, pid 2, pid 3, pid 4, pid 5, pid 6 and 3 more"
        );
    }
}

//! Invariants: what must hold in a run of an exercise, and how it is seen.
//!
//! Each exercise has a list of [`Invariant`]s: a name that reads as the
//! property ("final = start"), a [`Quantifier`] (in every run, or in at
//! least one run of the session), and a check that looks at one run. A
//! check returns [`Check::Held`], or [`Check::Broken`] with what was
//! expected, what was seen and the trace that shows it, or says why the run
//! could not be judged ([`Unchecked`]).
//!
//! Two invariants come with every exercise ([`common`]): nothing panicked
//! or crashed, and every process exited normally leaving a complete
//! report. A run that fails either is not a fair observation of anything
//! else (a stub that panics at once leaves the balance at its start, which
//! says nothing about locking), so the exercise's own invariants are not
//! checked on it unless they say they judge such runs too
//! ([`Invariant::on_any_run`], as "no hang" does).

pub mod common;
pub mod locked_bank;
pub mod queue_drain;
pub mod reentrant_lock;
pub mod sequential_bank;
pub mod unlocked_race;

use serde::Serialize;

use crate::judge::run::{RunData, Unchecked};

/// Whether an invariant must hold in every run, or be seen at least once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quantifier {
    /// Must hold in every run.
    Every,
    /// Must be seen in at least one run of the session (a race that the
    /// exercise is meant to demonstrate).
    Some,
}

/// A property of an exercise's runs.
#[derive(Clone, Copy, Debug)]
pub struct Invariant {
    /// A stable identifier (`final-equals-start`), for JSON and JUnit.
    pub id: &'static str,
    /// The property as a reader says it ("final = start").
    pub name: &'static str,
    /// Every run, or some run.
    pub quantifier: Quantifier,
    /// Whether it is checked on runs that panicked, crashed or hung.
    pub on_any_run: bool,
    /// Whether it judges the run's ending ([`Invariant::of_the_ending`]).
    pub of_the_ending: bool,
    /// Whether an exhaustive search holds it to every schedule, or only
    /// to some ([`Invariant::not_in_every_schedule`]).
    pub every_schedule: bool,
    /// Looks at one run.
    pub check: fn(&RunData) -> Result<Check, Unchecked>,
}

impl Invariant {
    /// An invariant that must hold in every clean run.
    pub const fn every(
        id: &'static str,
        name: &'static str,
        check: fn(&RunData) -> Result<Check, Unchecked>,
    ) -> Self {
        Invariant::new(id, name, Quantifier::Every, check)
    }

    /// An invariant that must be seen in some clean run.
    pub const fn some(
        id: &'static str,
        name: &'static str,
        check: fn(&RunData) -> Result<Check, Unchecked>,
    ) -> Self {
        Invariant::new(id, name, Quantifier::Some, check)
    }

    const fn new(
        id: &'static str,
        name: &'static str,
        quantifier: Quantifier,
        check: fn(&RunData) -> Result<Check, Unchecked>,
    ) -> Self {
        Invariant {
            id,
            name,
            quantifier,
            on_any_run: false,
            of_the_ending: false,
            every_schedule: true,
            check,
        }
    }

    /// Also checked on runs that did not end cleanly, where it can only
    /// be found broken (see [`judge`]).
    pub const fn on_any_run(mut self) -> Self {
        self.on_any_run = true;
        self
    }

    /// Judges how a run ended (a panic, a hang), so it holds or breaks on
    /// every run, a run cut short included.
    pub const fn of_the_ending(mut self) -> Self {
        self.on_any_run = true;
        self.of_the_ending = true;
        self
    }

    /// Holds in every random run, but not in every schedule: an
    /// exhaustive search also makes the schedules where it rightly fails
    /// (the workers one after the other), so there it must be seen in some
    /// schedule instead.
    pub const fn not_in_every_schedule(mut self) -> Self {
        self.every_schedule = false;
        self
    }

    /// The invariant as an exhaustive search judges it.
    pub const fn in_search(mut self) -> Self {
        if !self.every_schedule {
            self.quantifier = Quantifier::Some;
        }
        self
    }
}

/// The result of checking one invariant on one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// It held (for a [`Quantifier::Some`] invariant: it was seen).
    Held,
    /// It did not hold (was not seen).
    Broken(Violation),
}

/// How an invariant was broken in one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// What should have been.
    pub expected: String,
    /// What was.
    pub seen: String,
    /// The trace that shows it, rendered with process names, one line
    /// each.
    pub evidence: Vec<String>,
    /// Where in the run's trace it broke (an event's position), when the
    /// trace shows it: of the properties a run breaks, the earliest is the
    /// one a student is shown first.
    #[serde(skip)]
    pub at: Option<u64>,
}

impl Check {
    /// Broken, with what was expected and seen.
    pub fn broken(expected: impl Into<String>, seen: impl Into<String>) -> Check {
        Check::Broken(Violation {
            expected: expected.into(),
            seen: seen.into(),
            evidence: Vec::new(),
            at: None,
        })
    }

    /// Says where in the trace a broken check broke.
    pub fn at(self, seq: u64) -> Check {
        match self {
            Check::Broken(mut v) => {
                v.at = Some(seq);
                Check::Broken(v)
            }
            held => held,
        }
    }

    /// Adds lines of evidence to a broken check.
    pub fn with_evidence(self, lines: impl IntoIterator<Item = String>) -> Check {
        match self {
            Check::Broken(mut v) => {
                v.evidence.extend(lines);
                Check::Broken(v)
            }
            held => held,
        }
    }

    /// Held when `ok`, else broken with what was expected and seen.
    pub fn expect(ok: bool, expected: impl Into<String>, seen: impl Into<String>) -> Check {
        if ok {
            Check::Held
        } else {
            Check::broken(expected, seen)
        }
    }
}

/// A situation an exercise's scenario is meant to bring about in some
/// runs (a child checking the owner while the other child holds the lock):
/// a property that is never put to the test is not shown to hold. The
/// report counts the runs that went through each.
#[derive(Clone, Copy, Debug)]
pub struct Situation {
    /// What happened, in words.
    pub name: &'static str,
    /// Whether it happened in a run (judged from its trace).
    pub seen: fn(&RunData) -> bool,
}

/// A value seen in each run, whose distribution over the session the
/// report shows ("final balance: 600 ×17, 595 ×40, ...").
#[derive(Clone, Copy, Debug)]
pub struct Distribution {
    /// What is counted.
    pub name: &'static str,
    /// Its value in one run, if the run has one.
    pub value: fn(&RunData) -> Option<String>,
}

/// Checks one invariant on one run, honouring [`Invariant::on_any_run`]:
/// `clean` is why the run did not end cleanly, if it did not.
pub fn judge(
    inv: &Invariant,
    run: &RunData,
    clean: &Result<(), Unchecked>,
) -> Result<Check, Unchecked> {
    match (inv.on_any_run, clean) {
        (_, Ok(())) => (inv.check)(run),
        (false, Err(why)) => Err(why.clone()),
        // A run cut short can show that an invariant broke, never that it
        // held: what it did not get to do could have broken it. A stub
        // that panics at its first call must earn nothing for the
        // invariants it never reached.
        (true, Err(_)) if inv.of_the_ending => (inv.check)(run),
        (true, Err(why)) => match (inv.check)(run)? {
            Check::Held => Err(why.clone()),
            broken => Ok(broken),
        },
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builds runs for the invariants' own tests.

    use course_report::{
        Child, Event, Header, Object, Param, Record, Report, RunConfig, Summary, Worker,
    };

    use crate::judge::run::RunData;
    use crate::run::supervise::{Ending, RunOutcome};

    /// A run that exited normally with these records, run with the
    /// configuration its header gives.
    pub fn run(exercise: &str, records: Vec<Record>) -> RunData {
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let report = Report::parse(&text).map_err(crate::judge::run::ReportProblem::Malformed);
        let config = match &report {
            Ok(r) if r.header.is_some() => config_of(r),
            _ => config(exercise),
        };
        RunData::new(0, config, exited(0), report)
    }

    /// A configuration with no parameters.
    pub fn config(exercise: &str) -> RunConfig {
        RunConfig {
            exercise: exercise.into(),
            seed: 1,
            sched: "controlled:random:1".into(),
            time_scale: 0.0,
            demo: None,
            params: Default::default(),
        }
    }

    /// The configuration a report's header echoes.
    pub fn config_of(report: &Report) -> RunConfig {
        let h = report.header.as_ref().expect("a header");
        RunConfig {
            exercise: h.exercise.clone(),
            seed: h.seed,
            sched: h.mode.clone(),
            time_scale: h.time_scale,
            demo: None,
            params: h.params.clone(),
        }
    }

    /// An outcome with this exit code.
    pub fn exited(code: i32) -> RunOutcome {
        RunOutcome {
            ending: Ending::Exited { code },
            stdout: String::new(),
            stderr: String::new(),
            stdout_bytes: 0,
            stderr_bytes: 0,
            elapsed_ms: 1.0,
            stuck: vec![],
            leftovers: vec![],
            limit_hit: None,
            warnings: vec![],
            ..RunOutcome::default()
        }
    }

    /// A header for `exercise` with these parameters (lists too); the main
    /// pid is 1.
    pub fn header_with(exercise: &str, params: &[(&str, Param)]) -> Record {
        let Record::Header(mut h) = header(exercise, &[]) else {
            unreachable!()
        };
        h.params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        Record::Header(h)
    }

    /// A header for `exercise` with these parameters; the main pid is 1.
    pub fn header(exercise: &str, params: &[(&str, i64)]) -> Record {
        Record::Header(Header {
            exercise: exercise.into(),
            mode: "controlled:random:7".into(),
            pid: 1,
            cpus: 2,
            time_scale: 0.0,
            seed: 7,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), Param::Int(*v)))
                .collect(),
        })
    }

    /// A worker record.
    pub fn worker(name: &str, pid: i32, counts: &[(&str, i64)], items: Vec<i64>) -> Record {
        Record::Worker(Worker {
            name: name.into(),
            pid,
            counts: counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            items,
            started_ns: 0,
            ended_ns: 0,
        })
    }

    /// A run of a two-worker bank (`exercise`: unlocked-race or
    /// locked-bank): start 600, amount 5, one step each; `deposit` is pid 2
    /// and `withdraw` pid 3; `objects` as [`summary`] takes them.
    pub fn bank_run(
        exercise: &str,
        objects: &[(&str, &str)],
        events: &[(i32, &str, u32, i64)],
        fin: i64,
    ) -> RunData {
        run(
            exercise,
            vec![
                header(exercise, &[("start", 600), ("amount", 5), ("steps", 1)]),
                worker("deposit", 2, &[("steps", 1)], vec![]),
                worker("withdraw", 3, &[("steps", 1)], vec![]),
                summary(
                    &[("balance", fin)],
                    &[("deposit", 2), ("withdraw", 3)],
                    objects,
                    events,
                ),
            ],
        )
    }

    /// One trace event, at time `seq`.
    pub fn event(seq: u64, pid: i32, op: &str, object: u32, value: i64) -> course_report::Event {
        course_report::Event {
            seq,
            pid,
            op: op.into(),
            object,
            value,
            t: seq,
            off_schedule: false,
        }
    }

    /// A summary with these finals, children (name, pid), objects (kind,
    /// label; ids from 1) and events (pid, op, object, value).
    pub fn summary(
        finals: &[(&str, i64)],
        children: &[(&str, i32)],
        objects: &[(&str, &str)],
        events: &[(i32, &str, u32, i64)],
    ) -> Record {
        Record::Summary(Summary {
            finals: finals.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            children: children
                .iter()
                .map(|(n, p)| Child {
                    name: n.to_string(),
                    pid: *p,
                    exit: "exited normally".into(),
                    success: true,
                })
                .collect(),
            objects: objects
                .iter()
                .enumerate()
                .map(|(i, (k, l))| Object {
                    id: i as u32 + 1,
                    kind: k.to_string(),
                    label: l.to_string(),
                })
                .collect(),
            events: events
                .iter()
                .enumerate()
                .map(|(i, (pid, op, object, value))| Event {
                    seq: i as u64,
                    pid: *pid,
                    op: op.to_string(),
                    object: *object,
                    value: *value,
                    t: i as u64,
                    off_schedule: false,
                })
                .collect(),
            dropped: 0,
            schedule: None,
            choices: None,
            elapsed_ns: 0,
        })
    }
}

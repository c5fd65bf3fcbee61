//! What the grader and an exercise program tell each other about one run.
//!
//! The grader sends a [`RunConfig`]: the scheduling mode, the time scale
//! and every parameter of the scenario (start balance, steps, the queue's
//! items...). The program never chooses what it is judged against.
//!
//! The program answers with a report: one JSON [`Record`] per line,
//! written to a pipe the grader's run supervisor reads (never a file the
//! program could name, reopen or rewrite). Several processes of one run
//! write to the same pipe, each record in one `write`, so a child that
//! panics can say so even though its parent writes the summary.
//!
//! The grader never trusts a report: [`Report::parse`] names the first
//! line that is not a record, or that breaks the report's shape (one
//! header, first; nothing after the summary), and the grader compares the
//! header with the configuration it sent.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize};

/// A scenario parameter: a number (`steps`), or a list (the queue's items).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Param {
    /// A number.
    Int(i64),
    /// A list of numbers.
    List(Vec<i64>),
}

/// The parameters of one run, by name.
pub type Params = BTreeMap<String, Param>;

/// What the grader asks one run to do. Sent to the exercise program,
/// which echoes it in its [`Header`]; the grader keeps its own copy and
/// judges against that.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The exercise's slug; the program refuses a configuration for
    /// another exercise.
    pub exercise: String,
    /// The run's seed.
    pub seed: u64,
    /// The scheduling mode, as `multiproc::sched::Mode` parses it.
    pub sched: String,
    /// The factor pauses are scaled by.
    pub time_scale: f64,
    /// The lesson's buggy program to run instead of the student's code.
    #[serde(default)]
    pub demo: Option<String>,
    /// The scenario's parameters.
    pub params: Params,
}

/// One line of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum Record {
    /// First line: what ran, and how.
    Header(Header),
    /// A process panicked (a stub's `todo!()` among others).
    Panic(Panic),
    /// A worker finished its task and says what it did.
    Worker(Worker),
    /// A check the scenario made itself, such as "a release by a process
    /// that does not own the lock is refused".
    Probe(Probe),
    /// The controlled scheduler found nobody able to run.
    Deadlock(Deadlock),
    /// The main process panicked: the trace as far as the run got, so that
    /// what happened before the panic can still be judged.
    Trace(Trace),
    /// Last line, from the program's main process: everything it saw.
    Summary(Summary),
}

/// What ran, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The exercise's slug (`"locked-bank"`).
    pub exercise: String,
    /// The scheduling mode, as `multiproc::sched::Mode` prints it.
    pub mode: String,
    /// The program's own pid.
    pub pid: i32,
    /// CPUs this process may run on.
    pub cpus: usize,
    /// The factor pauses were scaled by.
    pub time_scale: f64,
    /// The seed the grader gave the run.
    #[serde(default)]
    pub seed: u64,
    /// The scenario's parameters (`start`, `amount`, `steps`, ...), as the
    /// grader gave them.
    pub params: Params,
}

/// A process panicked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Panic {
    /// Its pid.
    pub pid: i32,
    /// Its name (`"MainProcess"`, `"deposit"`, ...).
    pub process: String,
    /// The panic message.
    pub message: String,
    /// `file:line` of the panic, if known.
    pub location: Option<String>,
    /// Set when the panic is a `todo!("name")`: the function still to write.
    pub not_implemented: Option<String>,
}

/// A worker's own account of its task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    /// Its name.
    pub name: String,
    /// Its pid.
    pub pid: i32,
    /// Counters (`"steps"`, `"items"`, `"max_depth"`, ...).
    pub counts: BTreeMap<String, i64>,
    /// Items it took or produced, in order, where the task has any.
    #[serde(default)]
    pub items: Vec<i64>,
    /// Nanoseconds since tracing began, when it started and ended its task.
    pub started_ns: u64,
    /// See `started_ns`.
    pub ended_ns: u64,
}

/// A check the scenario made itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
}

/// Who was stuck, waiting for what, when nobody could run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deadlock {
    /// One entry per waiting process.
    pub stuck: Vec<Stuck>,
    /// The scheduling choices up to the deadlock.
    pub schedule: Option<String>,
    /// What the scheduler could have chosen at each decision (replayed
    /// runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Choice>>,
    /// The trace up to the deadlock.
    #[serde(default)]
    pub events: Vec<Event>,
    /// The shared objects, to name the events' objects.
    #[serde(default)]
    pub objects: Vec<Object>,
}

/// The trace of a run that ended before its summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The shared objects, to name the events' objects.
    pub objects: Vec<Object>,
    /// The trace so far.
    pub events: Vec<Event>,
    /// Events that did not fit in the trace buffer.
    pub dropped: u64,
    /// The scheduling choices so far, under the controlled scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// What the scheduler could have chosen at each decision (replayed
    /// runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Choice>>,
}

/// One stuck process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stuck {
    /// Its pid.
    pub pid: i32,
    /// Its name, if known.
    pub process: String,
    /// What it was doing (`"get"`, `"acquire"`, `"join"`).
    pub op: String,
    /// What it waits for, in words (`"queue 'items' (empty)"`); for a
    /// runnable process, what it will do next.
    pub waiting_for: String,
    /// Set when the process could go on: the run was paused at a chosen
    /// point (a stepped schedule, for `grader play`), not deadlocked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub runnable: bool,
}

/// Everything the main process saw, written last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Final values by name (`"balance"`, `"after_deposit"`, ...).
    pub finals: BTreeMap<String, i64>,
    /// The children, in start order.
    pub children: Vec<Child>,
    /// The shared objects the trace names.
    pub objects: Vec<Object>,
    /// The trace, in order.
    pub events: Vec<Event>,
    /// Events that did not fit in the trace buffer.
    pub dropped: u64,
    /// The scheduling choices, under the controlled scheduler.
    pub schedule: Option<String>,
    /// What the scheduler could have chosen at each decision (replayed
    /// runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Choice>>,
    /// Nanoseconds from the start of tracing to the end of the scenario.
    pub elapsed_ns: u64,
}

/// A point of a replayed run where more than one process could run: what
/// the grader needs to try the other choices (see
/// `multiproc::sched::exhaustive`).
///
/// Written as an array, `[at, running, runnable, default, chosen,
/// places]`, with `running` -1 for none and `runnable` a bit set of
/// slots: a run may have thousands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The trace position of the choice: the chosen process's next event
    /// has this sequence number.
    pub at: u64,
    /// The slot of the process that reached the point, unless it was
    /// ending.
    pub running: Option<u8>,
    /// The slots that could run, bit N for slot N.
    pub runnable: u16,
    /// The scheduler's default choice.
    pub default: u8,
    /// The choice made.
    pub chosen: u8,
    /// Where every process was (a hash: each one's count of scheduling
    /// points reached, and whether it could run, waited or had ended).
    pub places: u64,
}

impl Choice {
    /// Whether choosing `slot` here preempts the running process: not the
    /// default, while the running process could have gone on.
    pub fn preempts(&self, slot: u8) -> bool {
        slot != self.default && self.running.is_some_and(|r| self.can_run(r))
    }

    /// Whether `slot` could run here.
    pub fn can_run(&self, slot: u8) -> bool {
        slot < 16 && self.runnable & (1 << slot) != 0
    }

    /// The slots that could run, in order.
    pub fn runnable_slots(&self) -> impl Iterator<Item = u8> + '_ {
        (0..16).filter(|&s| self.can_run(s))
    }
}

impl Serialize for Choice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (
            self.at,
            self.running.map_or(-1, i16::from),
            self.runnable,
            self.default,
            self.chosen,
            self.places,
        )
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Choice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Choice, D::Error> {
        let (at, running, runnable, default, chosen, places): (u64, i16, u16, u8, u8, u64) =
            Deserialize::deserialize(d)?;
        Ok(Choice {
            at,
            running: u8::try_from(running).ok(),
            runnable,
            default,
            chosen,
            places,
        })
    }
}

/// A child process and how it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Child {
    /// Its name.
    pub name: String,
    /// Its pid.
    pub pid: i32,
    /// How it ended: `"exited normally"`, `"panicked (exit code 101)"`,
    /// `"killed by SIGSEGV"`, ...
    pub exit: String,
    /// True when it exited with code 0.
    pub success: bool,
}

/// A shared object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// Its id in events.
    pub id: u32,
    /// `"value"`, `"lock"`, `"queue"` or `"process"`.
    pub kind: String,
    /// Its label, possibly empty.
    pub label: String,
}

/// One traced operation.
///
/// In a report it is written as an array, `[seq, pid, op, object, value,
/// t, off_schedule]`: a run's trace has thousands of events, and field
/// names would be most of its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the run's single order.
    pub seq: u64,
    /// Who did it.
    pub pid: i32,
    /// `"load"`, `"store"`, `"acquire"`, `"release"`, `"put"`, `"get"`,
    /// `"empty"`, `"start"`, `"join"`, `"holder-died"` or `"mark"`.
    pub op: String,
    /// The object's id.
    pub object: u32,
    /// The value read, written, put, taken, or the depth acquired.
    pub value: i64,
    /// Nanoseconds since tracing began.
    pub t: u64,
    /// Recorded by a process that did not hold the controlled scheduler's
    /// token: it ran outside the schedule the run is judged on.
    pub off_schedule: bool,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (
            self.seq,
            self.pid,
            &self.op,
            self.object,
            self.value,
            self.t,
            u8::from(self.off_schedule),
        )
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        let (seq, pid, op, object, value, t, off): (u64, i32, String, u32, i64, u64, u8) =
            Deserialize::deserialize(d)?;
        Ok(Event {
            seq,
            pid,
            op,
            object,
            value,
            t,
            off_schedule: off != 0,
        })
    }
}

/// A whole report, folded from its lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// The header, if one was written.
    pub header: Option<Header>,
    /// Every panic, in order.
    pub panics: Vec<Panic>,
    /// Every worker's account.
    pub workers: Vec<Worker>,
    /// Every probe.
    pub probes: Vec<Probe>,
    /// The deadlock, if one was found.
    pub deadlock: Option<Deadlock>,
    /// The trace of a run whose main process panicked.
    pub trace: Option<Trace>,
    /// The summary, if the main process got that far.
    pub summary: Option<Summary>,
}

/// Why a report could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// What was wrong with it.
    pub message: String,
    /// The start of the line, for the verdict.
    pub excerpt: String,
    /// The line is a record, but out of place (a second header, a record
    /// after the summary): the report breaks its own rules.
    pub out_of_place: bool,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.out_of_place {
            return write!(
                f,
                "report rejected: {}, at line {}",
                self.message, self.line
            );
        }
        write!(
            f,
            "malformed report, line {}: {} (line starts {:?})",
            self.line, self.message, self.excerpt
        )
    }
}

impl std::error::Error for ParseError {}

impl Report {
    /// Reads a report, line by line. Blank lines are skipped. Any other
    /// line that is not a record is an error naming that line, and so is a
    /// record out of place: the header must come first and only once, a
    /// summary at most once and last, a deadlock at most once.
    pub fn parse(text: &str) -> Result<Report, ParseError> {
        let mut report = Report::default();
        let mut records = 0;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fail = |message: String| ParseError {
                line: i + 1,
                message,
                excerpt: line.chars().take(60).collect(),
                out_of_place: true,
            };
            let record: Record = serde_json::from_str(line).map_err(|e| ParseError {
                out_of_place: false,
                ..fail(e.to_string())
            })?;
            if report.summary.is_some() {
                return Err(fail(
                    "a record after the summary, which must come last".into(),
                ));
            }
            match record {
                Record::Header(_) if records > 0 => {
                    return Err(fail(if report.header.is_some() {
                        "a second header".into()
                    } else {
                        "the header is not the first record".into()
                    }))
                }
                Record::Header(h) => report.header = Some(h),
                _ if records == 0 => return Err(fail("the first record is not the header".into())),
                Record::Panic(p) => report.panics.push(p),
                Record::Worker(w) => report.workers.push(w),
                Record::Probe(p) => report.probes.push(p),
                Record::Deadlock(_) if report.deadlock.is_some() => {
                    return Err(fail("a second deadlock record".into()))
                }
                Record::Deadlock(d) => report.deadlock = Some(d),
                Record::Trace(_) if report.trace.is_some() => {
                    return Err(fail("a second trace record".into()))
                }
                Record::Trace(t) => report.trace = Some(t),
                Record::Summary(s) => report.summary = Some(s),
            }
            records += 1;
        }
        Ok(report)
    }
}

/// Writes records to the report pipe the grader gave the program.
///
/// Made once in the main process before starting children; they inherit
/// it. Without a pipe (a program run by hand), records go nowhere.
#[derive(Debug)]
pub struct ReportWriter {
    file: Option<File>,
}

impl ReportWriter {
    /// Writes to `fd` (the write end of the grader's report pipe).
    pub fn to_fd(fd: OwnedFd) -> ReportWriter {
        ReportWriter {
            file: Some(File::from(fd)),
        }
    }

    /// Writes nothing.
    pub fn none() -> ReportWriter {
        ReportWriter { file: None }
    }

    /// Whether records are being written anywhere.
    pub fn is_active(&self) -> bool {
        self.file.is_some()
    }

    /// Appends one record as one line, in one `write`.
    pub fn write(&self, record: &Record) -> io::Result<()> {
        let Some(mut file) = self.file.as_ref() else {
            return Ok(());
        };
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        file.write_all(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let probe = Record::Probe(Probe {
            name: "non-owner release refused".into(),
            passed: true,
            detail: "NotOwner".into(),
        });
        let text = format!(
            "{}\n{}\n\n",
            header(),
            serde_json::to_string(&probe).unwrap()
        );
        let report = Report::parse(&text).unwrap();
        assert_eq!(report.probes.len(), 1);
        assert!(report.summary.is_none());
    }

    fn header() -> String {
        let h = Record::Header(Header {
            exercise: "locked-bank".into(),
            mode: "free".into(),
            pid: 1,
            cpus: 1,
            time_scale: 0.0,
            seed: 7,
            params: [("steps".to_string(), Param::Int(3))].into(),
        });
        serde_json::to_string(&h).unwrap()
    }

    const PROBE: &str = r#"{"record":"probe","name":"x","passed":true,"detail":""}"#;

    #[test]
    fn choices_are_written_as_arrays_and_read_back() {
        let c = Choice {
            at: 12,
            running: Some(1),
            runnable: 0b110,
            default: 1,
            chosen: 2,
            places: 9,
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(text, "[12,1,6,1,2,9]");
        assert_eq!(serde_json::from_str::<Choice>(&text).unwrap(), c);
        assert!(c.preempts(2) && !c.preempts(1));
        let ending = Choice { running: None, ..c };
        assert_eq!(serde_json::to_string(&ending).unwrap(), "[12,-1,6,1,2,9]");
        assert!(!ending.preempts(2), "nobody could go on: no preemption");
    }

    #[test]
    fn names_the_bad_line() {
        let err = Report::parse(&format!("{}\n{PROBE}\nnot json", header())).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.to_string().contains("malformed report, line 3"));
    }

    #[test]
    fn a_record_out_of_place_is_named() {
        let second = Report::parse(&format!("{}\n{PROBE}\n{}", header(), header())).unwrap_err();
        assert_eq!(
            (second.line, second.message.as_str()),
            (3, "a second header")
        );
        assert_eq!(
            second.to_string(),
            "report rejected: a second header, at line 3"
        );
        let headless = Report::parse(PROBE).unwrap_err();
        assert_eq!(headless.message, "the first record is not the header");
        let params = Report::parse(&header()).unwrap().header.unwrap().params;
        assert_eq!(params["steps"], Param::Int(3));
    }
}

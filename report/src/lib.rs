//! The report an exercise program writes for the grader.
//!
//! A program learns where to write from the environment variable
//! [`REPORT_ENV`] (a file path). It writes one JSON [`Record`] per line.
//! Several processes of one run append to the same file (it is opened with
//! `O_APPEND` and every record is one `write`), so a child that panics can
//! say so even though its parent writes the summary.
//!
//! The grader never trusts this file to be well formed: [`Report::parse`]
//! names the first bad line instead of failing somewhere later.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

/// The environment variable that names the report file.
pub const REPORT_ENV: &str = "COURSE_REPORT";

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
    /// The scenario's parameters (`start`, `amount`, `steps`, ...).
    pub params: BTreeMap<String, i64>,
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
    /// The trace up to the deadlock.
    #[serde(default)]
    pub events: Vec<Event>,
    /// The shared objects, to name the events' objects.
    #[serde(default)]
    pub objects: Vec<Object>,
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
    /// What it waits for, in words (`"queue 'items' (empty)"`).
    pub waiting_for: String,
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
    /// Nanoseconds from the start of tracing to the end of the scenario.
    pub elapsed_ns: u64,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed report, line {}: {} (line starts {:?})",
            self.line, self.message, self.excerpt
        )
    }
}

impl std::error::Error for ParseError {}

impl Report {
    /// Reads a report, line by line. Blank lines are skipped; any other
    /// line that is not a record is an error naming that line.
    pub fn parse(text: &str) -> Result<Report, ParseError> {
        let mut report = Report::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(line).map_err(|e| ParseError {
                line: i + 1,
                message: e.to_string(),
                excerpt: line.chars().take(60).collect(),
            })?;
            match record {
                Record::Header(h) => report.header = Some(h),
                Record::Panic(p) => report.panics.push(p),
                Record::Worker(w) => report.workers.push(w),
                Record::Probe(p) => report.probes.push(p),
                Record::Deadlock(d) => report.deadlock = Some(d),
                Record::Summary(s) => report.summary = Some(s),
            }
        }
        Ok(report)
    }
}

/// Appends records to the report file named by [`REPORT_ENV`].
///
/// Open it once in the main process before starting children; they inherit
/// it. Without the variable set, records go nowhere.
#[derive(Debug)]
pub struct ReportWriter {
    file: Option<File>,
}

impl ReportWriter {
    /// Opens the file named by `COURSE_REPORT` for appending, if set.
    pub fn from_env() -> io::Result<ReportWriter> {
        let file = match std::env::var_os(REPORT_ENV) {
            Some(path) if !path.is_empty() => {
                Some(OpenOptions::new().create(true).append(true).open(path)?)
            }
            _ => None,
        };
        Ok(ReportWriter { file })
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
        let text = format!("{}\n\n", serde_json::to_string(&probe).unwrap());
        let report = Report::parse(&text).unwrap();
        assert_eq!(report.probes.len(), 1);
        assert!(report.summary.is_none());
    }

    #[test]
    fn names_the_bad_line() {
        let err = Report::parse(
            "{\"record\":\"probe\",\"name\":\"x\",\"passed\":true,\"detail\":\"\"}\nnot json",
        )
        .unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("malformed report, line 2"));
    }
}

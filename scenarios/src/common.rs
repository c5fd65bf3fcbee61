//! What every scenario does around its exercise: read the command line,
//! set the run up from the grader's configuration, report what happened,
//! and turn panics and deadlocks into records the grader can read and one
//! line a student can act on.
//!
//! A program is started one of two ways:
//!
//! - **by hand** (`cargo run -p locked-bank`): it runs once with the
//!   lesson's parameters and prints the lesson's summary; nothing is
//!   reported. `MULTIPROC_SCHED` and `MULTIPROC_TIME_SCALE` let a student
//!   try the course's schedulers.
//! - **by the grader**, as a fork server (`--serve FD`, see [`crate::serve`]):
//!   it waits for run requests and forks a fresh process for each, which
//!   gets its [`RunConfig`] and its report pipe from the request.
//!
//! Either way a run goes like this:
//!
//! 1. [`Run::start`] fixes the scheduling mode and the time scale from the
//!    configuration (once: nothing can change them later), turns the shared
//!    trace on, installs the panic hook and the deadlock handler, and
//!    writes the `Header`, which echoes the configuration. All of this
//!    happens before any child is forked, so every child inherits it.
//! 2. The scenario reads its parameters ([`Run::int`], [`Run::list`]) and
//!    starts its workers with [`Run::spawn`]; each worker writes its own
//!    `Worker` record with [`write_worker`] when its task is done, so the
//!    account survives even if the parent is killed afterwards.
//! 3. [`Run::finish`] writes the `Summary`: the final values, how each child
//!    ended, and the whole trace. The grader checks its invariants on that.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::panic::{self, PanicHookInfo};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

use course_report::{self as report, Param, Params, Record, ReportWriter, RunConfig};
use multiproc::process::PANIC_EXIT_CODE;
use multiproc::sched::{self, controlled, Mode, OpKind};
use multiproc::time::{self, TIME_SCALE_ENV};
use multiproc::trace::{self, EventKind, ObjectInfo, ObjectKind};
use multiproc::{current_name, current_pid, ExitStatus, Process};
use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};

/// One of an exercise program's demonstrations of a lesson's buggy code.
#[derive(Clone, Copy, Debug)]
pub struct Demo {
    /// What follows `--demo`.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
}

/// What an exercise program says about itself.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    /// The exercise's slug, which is also the binary's name (`"locked-bank"`).
    pub exercise: &'static str,
    /// The exercise's directory (`"exercises/03-locked-bank"`).
    pub dir: &'static str,
    /// One line: what the scenario does.
    pub about: &'static str,
    /// The demonstrations it can run instead of the student's code.
    pub demos: &'static [Demo],
    /// The lesson's parameters, for a run by hand (the grader sends its
    /// own, drawn for each run). The seed is the run's.
    pub lesson: fn(seed: u64) -> Params,
}

/// What the command line asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Run the scenario around the student's code.
    Exercise,
    /// Run this demonstration instead.
    Demo(&'static str),
    /// Print the help text.
    Help,
    /// Serve the grader's run requests on this socket (see [`crate::serve`]).
    Serve(i32),
}

/// Reads a command line (without the program name).
pub fn parse_args(program: &Program, args: &[String]) -> Result<Invocation, String> {
    let mut invocation = Invocation::Exercise;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let demo = match arg.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "--serve" => {
                let fd = args.next().and_then(|fd| fd.parse().ok());
                return fd
                    .map(Invocation::Serve)
                    .ok_or_else(|| "--serve needs a file descriptor".to_string());
            }
            "--demo" => args
                .next()
                .ok_or_else(|| "--demo needs a name".to_string())?
                .as_str(),
            other => match other.strip_prefix("--demo=") {
                Some(name) => name,
                None => return Err(format!("unexpected argument {other:?}")),
            },
        };
        invocation = Invocation::Demo(find_demo(program, demo)?);
    }
    Ok(invocation)
}

/// The demonstration named `name`, or why there is none.
pub fn find_demo(program: &Program, name: &str) -> Result<&'static str, String> {
    program
        .demos
        .iter()
        .find(|d| d.name == name)
        .map(|d| d.name)
        .ok_or_else(|| {
            if program.demos.is_empty() {
                format!("{} has no demonstrations", program.exercise)
            } else {
                let names: Vec<&str> = program.demos.iter().map(|d| d.name).collect();
                format!(
                    "unknown demonstration {name:?} (known: {})",
                    names.join(", ")
                )
            }
        })
}

/// The `--help` text, for the exercise's binary or (`solution`) for the
/// reference solution's.
pub fn help(program: &Program, solution: bool) -> String {
    let (name, dir, grade) = if solution {
        (
            format!("{}-solution", program.exercise),
            program.dir.replacen("exercises/", "solutions/", 1),
            format!("cargo grade --solutions {}", program.exercise),
        )
    } else {
        (
            program.exercise.to_string(),
            program.dir.to_string(),
            format!("cargo grade {}", program.exercise),
        )
    };
    let mut text = format!("{name}: {}\n\n", program.about);
    if program.demos.is_empty() {
        text += &format!("Usage: {name}\n\n");
    } else {
        text += &format!("Usage: {name} [--demo NAME]\n\n");
    }
    text += &format!(
        "Runs the functions in {dir}/src/lib.rs once, with the lesson's parameters.\n\
         Grade them with: {grade}\n"
    );
    if !program.demos.is_empty() {
        text += "\nDemonstrations (the lesson's buggy program instead of yours):\n";
        for demo in program.demos {
            text += &format!("  --demo {:<10} {}\n", demo.name, demo.about);
        }
    }
    text += "\nEnvironment:\n";
    let env: [(&str, &str); 2] = [
        (
            TIME_SCALE_ENV,
            "multiply every pause by this (0.01 runs 100 times faster)",
        ),
        (
            sched::MODE_ENV,
            "free (default) | perturb:SEED | controlled:random:SEED | controlled:pctN:SEED | replay:SCHEDULE",
        ),
    ];
    for (name, about) in env {
        text += &format!("  {name:<21} {about}\n");
    }
    text
}

/// The program's entry point: `main.rs` hands it the scenario, a function
/// of one [`Run`] that returns the exit code.
///
/// Prints the help, or serves the grader (never returning), or runs the
/// scenario once by hand with the lesson's parameters.
pub fn main(program: &Program, scenario: impl Fn(Run) -> u8) -> ExitCode {
    let mut args = std::env::args();
    let solution = args
        .next()
        .is_some_and(|argv0| argv0.ends_with("-solution"));
    let args: Vec<String> = args.collect();
    let demo = match parse_args(program, &args) {
        Ok(Invocation::Exercise) => None,
        Ok(Invocation::Demo(name)) => Some(name.to_string()),
        Ok(Invocation::Help) => {
            print!("{}", help(program, solution));
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Serve(fd)) => crate::serve::serve(program, fd, &scenario),
        Err(e) => {
            eprintln!(
                "{}: {e}\nTry: {} --help",
                program.exercise, program.exercise
            );
            return ExitCode::from(2);
        }
    };
    let seed = clock_seed();
    let config = RunConfig {
        exercise: program.exercise.to_string(),
        seed,
        sched: std::env::var(sched::MODE_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "free".into()),
        time_scale: time::time_scale(),
        demo,
        params: (program.lesson)(seed),
    };
    ExitCode::from(scenario(Run::start(program, config, ReportWriter::none())))
}

/// A seed for a run by hand: different every time.
fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // Kept below 2^53 so that it reads back exactly from JSON anywhere.
    (nanos ^ (std::process::id() as u64) << 32) & ((1 << 53) - 1)
}

/// What the panic hook and the deadlock handler need. They are plain
/// functions called from anywhere (a child, the middle of a lock), so they
/// find it in a static rather than being handed it.
struct Context {
    exercise: &'static str,
    writer: ReportWriter,
    /// The trace's clock starts when it is enabled; this is read right
    /// after, so worker times and event times agree to within a few
    /// hundred nanoseconds.
    epoch: Instant,
    main_pid: i32,
    printed: Option<&'static PrintedLines>,
    /// Whether the operating system schedules (mode `free`), rather than
    /// the course's scheduler.
    free: bool,
    /// Marks a panic's place in the trace (value: the panicking pid), so
    /// that the grader can tell what came before it.
    panic_mark: trace::ObjectId,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();

impl Context {
    fn write(&self, record: &Record) {
        if let Err(e) = self.writer.write(record) {
            let _ = writeln!(
                io::stderr(),
                "{}: could not write the report: {e}",
                self.exercise
            );
        }
    }
}

/// Nanoseconds since the run started (the trace's clock).
pub fn now_ns() -> u64 {
    CONTEXT
        .get()
        .map_or(0, |c| c.epoch.elapsed().as_nanos() as u64)
}

/// Writes the calling process's own account of its task: a `Worker`
/// record named after the process.
pub fn write_worker(counts: &[(&str, i64)], items: Vec<i64>, started_ns: u64, ended_ns: u64) {
    if let Some(ctx) = CONTEXT.get() {
        ctx.write(&Record::Worker(report::Worker {
            name: current_name(),
            pid: current_pid(),
            counts: to_map(counts),
            items,
            started_ns,
            ended_ns,
        }));
    }
}

/// Writes the outcome of a check the scenario made itself.
pub fn write_probe(name: &str, passed: bool, detail: String) {
    if let Some(ctx) = CONTEXT.get() {
        ctx.write(&Record::Probe(report::Probe {
            name: name.to_string(),
            passed,
            detail,
        }));
    }
}

/// A child that was started, and how it ended once joined.
struct Started {
    name: String,
    pid: i32,
    status: Option<Result<ExitStatus, String>>,
}

/// One run of a scenario, from its header to its summary.
pub struct Run {
    ctx: &'static Context,
    config: RunConfig,
    children: Vec<Started>,
}

impl Run {
    /// Sets the run up from `config` and writes the `Header` (see the
    /// module docs). A configuration the program cannot follow (another
    /// exercise, an unknown mode, an unknown demonstration) ends the run
    /// with code 2 and a message.
    pub fn start(program: &Program, config: RunConfig, writer: ReportWriter) -> Run {
        let fail = |what: String| -> ! {
            eprintln!("{}: {what}", program.exercise);
            crate::serve::leave(2)
        };
        if config.exercise != program.exercise {
            fail(format!(
                "this program is {}, not {}",
                program.exercise, config.exercise
            ));
        }
        if let Some(demo) = &config.demo {
            find_demo(program, demo).unwrap_or_else(|e| fail(e));
        }
        let mode: Mode = config.sched.parse().unwrap_or_else(|e: String| fail(e));
        if let Err(e) = sched::configure(&mode) {
            fail(format!("cannot set scheduling mode {mode}: {e}"));
        }
        time::set_time_scale(config.time_scale);
        if let Err(e) = trace::enable() {
            fail(format!("cannot map the trace buffer: {e}"));
        }
        let epoch = Instant::now();
        let ctx = CONTEXT.get_or_init(|| Context {
            exercise: program.exercise,
            writer,
            epoch,
            main_pid: current_pid(),
            printed: PrintedLines::map(),
            free: mode == Mode::Free,
            panic_mark: trace::operation("panic"),
        });
        panic::set_hook(Box::new(on_panic));
        controlled::set_deadlock_handler(on_deadlock);
        ctx.write(&Record::Header(report::Header {
            exercise: program.exercise.to_string(),
            mode: config.sched.clone(),
            pid: current_pid(),
            cpus: cpus_allowed(),
            time_scale: time::time_scale(),
            seed: config.seed,
            params: config.params.clone(),
        }));
        Run {
            ctx,
            config,
            children: Vec::new(),
        }
    }

    /// The demonstration to run instead of the student's code, if any.
    pub fn demo(&self) -> Option<&str> {
        self.config.demo.as_deref()
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// A number parameter. A missing one is the grader's mistake, not the
    /// student's: the run stops with code 2 and says which.
    pub fn int(&self, name: &str) -> i64 {
        match self.config.params.get(name) {
            Some(Param::Int(n)) => *n,
            _ => self.missing(name, "a number"),
        }
    }

    /// A list parameter (see [`Run::int`]).
    pub fn list(&self, name: &str) -> Vec<i64> {
        match self.config.params.get(name) {
            Some(Param::List(items)) => items.clone(),
            _ => self.missing(name, "a list"),
        }
    }

    fn missing(&self, name: &str, what: &str) -> ! {
        eprintln!(
            "{}: the run's configuration has no parameter `{name}` ({what})",
            self.ctx.exercise
        );
        crate::serve::leave(2)
    }

    /// Starts a child process running `task`. Failing to fork is a panic:
    /// the hook reports it, and there is no scenario without its workers.
    pub fn spawn<F: FnOnce()>(&mut self, name: &str, task: F) -> Process {
        let process = Process::start(name, task)
            .unwrap_or_else(|e| panic!("could not start process {name}: {e}"));
        self.children.push(Started {
            name: name.to_string(),
            pid: process.pid(),
            status: None,
        });
        process
    }

    /// Waits for a child and remembers how it ended.
    pub fn join(&mut self, process: &mut Process) -> Option<ExitStatus> {
        let status = process
            .join()
            .map_err(|e| format!("could not be joined: {e}"));
        let ok = status.as_ref().ok().copied();
        if let Some(started) = self.children.iter_mut().find(|c| c.pid == process.pid()) {
            started.status = Some(status);
        }
        ok
    }

    /// Whether every child started so far has been joined and exited
    /// normally.
    pub fn all_succeeded(&self) -> bool {
        self.children
            .iter()
            .all(|c| matches!(c.status, Some(Ok(s)) if s.success()))
    }

    /// Writes the `Summary` and gives the program's exit code: 1 if any
    /// child did not end normally, else 0.
    ///
    /// A child that panicked has already said why on stderr (the panic
    /// hook); a child that ended any other way is named here.
    pub fn finish(self, finals: &[(&str, i64)]) -> u8 {
        let children: Vec<report::Child> = self
            .children
            .iter()
            .map(|c| {
                let (exit, success) = match &c.status {
                    Some(Ok(s)) => (s.to_string(), s.success()),
                    Some(Err(e)) => (e.clone(), false),
                    None => ("never joined".to_string(), false),
                };
                report::Child {
                    name: c.name.clone(),
                    pid: c.pid,
                    exit,
                    success,
                }
            })
            .collect();
        for (child, started) in children.iter().zip(&self.children) {
            let panicked = matches!(
                started.status,
                Some(Ok(ExitStatus::Exited(PANIC_EXIT_CODE)))
            );
            if !child.success && !panicked {
                eprintln!("process {} (pid {}) {}", child.name, child.pid, child.exit);
            }
        }
        let failed = children.iter().any(|c| !c.success);
        self.ctx.write(&Record::Summary(report::Summary {
            finals: to_map(finals),
            children,
            objects: report_objects(&trace::objects()),
            events: report_events(&trace::events()),
            dropped: trace::dropped(),
            schedule: controlled::schedule(),
            choices: report_choices(),
            elapsed_ns: now_ns(),
        }));
        u8::from(failed)
    }
}

fn to_map(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

fn report_objects(objects: &[ObjectInfo]) -> Vec<report::Object> {
    objects
        .iter()
        .map(|o| report::Object {
            id: o.id,
            kind: o.kind.name().to_string(),
            label: o.label.clone(),
        })
        .collect()
}

/// A replayed run's choice points, for the grader's search (none in
/// other modes).
fn report_choices() -> Option<Vec<report::Choice>> {
    let points = controlled::choice_points()?;
    Some(
        points
            .iter()
            .map(|p| report::Choice {
                at: p.at,
                running: p.running.map(|r| r as u8),
                runnable: p.runnable,
                default: p.default as u8,
                chosen: p.chosen as u8,
                places: p.places,
            })
            .collect(),
    )
}

fn report_events(events: &[trace::Event]) -> Vec<report::Event> {
    events
        .iter()
        .map(|e| report::Event {
            seq: e.seq,
            pid: e.pid,
            op: e.kind.name().to_string(),
            object: e.object,
            value: e.value,
            t: e.time_ns,
            off_schedule: e.off_schedule,
        })
        .collect()
}

// ---------------------------------------------------------------- panics

/// The panic lines already printed by any process of the run, as hashes.
///
/// When both children call the same unwritten function, both panic with
/// the same message; the student needs to read it once. The set lives in
/// a shared page mapped before any child starts, so a child's line counts
/// for all. (The `Panic` records are all written regardless.)
struct PrintedLines {
    hashes: [AtomicU64; 64],
}

/// Maps a zero-filled `T` shared with every child forked afterwards, for
/// the driver's own bookkeeping: unlike the runtime's objects, it is not
/// traced and its operations are not scheduling points.
///
/// # Safety
/// All-zero bytes must be a valid `T`, and `T` must be safe to share
/// between processes (atomics only).
unsafe fn map_shared<T>() -> Option<&'static T> {
    let len = NonZeroUsize::new(std::mem::size_of::<T>())?;
    // SAFETY: a fresh anonymous shared mapping aliases nothing; it is
    // zero-filled (valid for `T` by the caller's promise), page-aligned, and
    // never unmapped, so the `'static` reference stays valid.
    unsafe {
        let ptr = mmap_anonymous(
            None,
            len,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
        )
        .ok()?;
        Some(ptr.cast::<T>().as_ref())
    }
}

/// Lets a group of children begin their task together, when the operating
/// system schedules.
///
/// Forking takes a fraction of a millisecond, enough for the first child of
/// a pair to finish a short task before the second has even started; then
/// there is no contention to see, and no lesson. Each child calls
/// [`StartGate::wait`] before its task and goes on once all have arrived.
///
/// Under the course's schedulers the gate stays open: `perturb` has a start
/// gate of its own, and under `controlled` the scheduler alone decides who
/// runs, so waiting would be pointless, and with a strategy that keeps
/// choosing the waiter (PCT) it would spin for ever.
pub struct StartGate {
    parties: u64,
    arrived: &'static AtomicU64,
}

impl StartGate {
    /// A gate for `parties` processes. Make it before starting them.
    pub fn new(parties: u32) -> StartGate {
        // SAFETY: an all-zero `AtomicU64` is valid and shareable.
        let arrived = unsafe { map_shared::<AtomicU64>() }.unwrap_or_else(|| {
            // Without shared memory nobody can wait for anybody: a gate that
            // is always open is the honest fallback.
            Box::leak(Box::new(AtomicU64::new(u64::MAX / 2)))
        });
        StartGate {
            parties: parties as u64,
            arrived,
        }
    }

    /// Arrives, and waits until every party has.
    ///
    /// The wait is a loop of zero-length [`multiproc::pause`]s, each a bare
    /// yield of the CPU.
    pub fn wait(&self) {
        if !CONTEXT.get().is_some_and(|c| c.free) {
            return;
        }
        self.arrived.fetch_add(1, Relaxed);
        while self.arrived.load(Relaxed) < self.parties {
            multiproc::pause(std::time::Duration::ZERO);
        }
    }
}

impl PrintedLines {
    /// Maps the shared page, or gives `None` (every line is then printed).
    fn map() -> Option<&'static PrintedLines> {
        // SAFETY: an array of atomics is valid all-zero and shareable.
        unsafe { map_shared::<PrintedLines>() }
    }

    /// Claims `line`; false if some process of the run already printed it.
    fn first_time(&self, line: &str) -> bool {
        let mut hasher = DefaultHasher::new();
        line.hash(&mut hasher);
        let hash = hasher.finish() | 1; // 0 marks a free slot
        for slot in &self.hashes {
            match slot.compare_exchange(0, hash, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(seen) if seen == hash => return false,
                Err(_) => continue,
            }
        }
        true
    }
}

/// The function a `todo!("name")` (or `unimplemented!("name")`) stands
/// for, read from its panic message. A bare `todo!()` names no function,
/// so the place it stands in is named instead.
pub fn not_implemented(message: &str, location: Option<&str>) -> Option<String> {
    let named = message
        .strip_prefix("not yet implemented: ")
        .or_else(|| message.strip_prefix("not implemented: "));
    if let Some(name) = named {
        return Some(name.to_string());
    }
    (message == "not yet implemented" || message == "not implemented")
        .then(|| format!("the code at {}", location.unwrap_or("an unknown place")))
}

/// The one line a panic prints on stderr.
pub fn panic_line(
    exercise: Option<&str>,
    process: &str,
    pid: i32,
    message: &str,
    location: Option<&str>,
    not_implemented: Option<&str>,
) -> String {
    let at = location.map(|l| format!(" ({l})")).unwrap_or_default();
    match (not_implemented, exercise) {
        (Some(name), Some(exercise)) => {
            let solutions = if location.is_some_and(|l| l.starts_with("solutions/")) {
                "--solutions "
            } else {
                ""
            };
            format!("not implemented yet: {name}{at} — write it, then run: cargo grade {solutions}{exercise}")
        }
        (Some(name), None) => format!("not implemented yet: {name}{at}"),
        (None, _) => {
            // A panic of the driver is its reaction to what the student's
            // code returned: its line is not one the student can act on.
            let at = location
                .filter(|l| !l.starts_with("scenarios/"))
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            format!("process {process} (pid {pid}) panicked{at}: {message}")
        }
    }
}

/// Replaces Rust's default panic output (a message and a hint about
/// backtraces, per process) with a `Panic` record and one line. It runs in
/// whichever process panicked, before any unwinding.
fn on_panic(info: &PanicHookInfo<'_>) {
    let message = info
        .payload_as_str()
        .unwrap_or("(a panic without a message)");
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()));
    let not_implemented = not_implemented(message, location.as_deref());
    let process = current_name();
    let pid = current_pid();
    let ctx = CONTEXT.get();
    if let Some(ctx) = ctx {
        trace::mark(ctx.panic_mark, pid as i64);
        ctx.write(&Record::Panic(report::Panic {
            pid,
            process: process.clone(),
            message: message.to_string(),
            location: location.clone(),
            not_implemented: not_implemented.clone(),
        }));
        // The main process will write no summary: leave the trace so far.
        if pid == ctx.main_pid {
            ctx.write(&Record::Trace(report::Trace {
                objects: report_objects(&trace::objects()),
                events: report_events(&trace::events()),
                dropped: trace::dropped(),
                schedule: controlled::schedule(),
                choices: report_choices(),
            }));
        }
    }
    let line = panic_line(
        ctx.map(|c| c.exercise),
        &process,
        pid,
        message,
        location.as_deref(),
        not_implemented.as_deref(),
    );
    if ctx
        .and_then(|c| c.printed)
        .is_none_or(|p| p.first_time(&line))
    {
        let _ = writeln!(io::stderr().lock(), "{line}");
    }
}

// ---------------------------------------------------------------- deadlocks

/// The name of the process with this pid: the program itself is
/// `MainProcess`; a child is named by the label of its `start` event.
fn process_name(
    pid: i32,
    main_pid: i32,
    events: &[trace::Event],
    objects: &[ObjectInfo],
) -> String {
    if pid == main_pid {
        return "MainProcess".to_string();
    }
    events
        .iter()
        .find(|e| e.kind == EventKind::Start && e.value == pid as i64)
        .and_then(|e| objects.iter().find(|o| o.id == e.object))
        .map(|o| o.label.clone())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| format!("process {pid}"))
}

/// Who holds a lock at the end of the trace: the last `acquire` not
/// followed by a `release` (or by a recovery from a dead holder).
fn lock_holder(lock: u32, events: &[trace::Event]) -> Option<i32> {
    events
        .iter()
        .filter(|e| e.object == lock)
        .fold(None, |holder, e| match e.kind {
            EventKind::Acquire => Some(e.pid),
            EventKind::Release | EventKind::HolderDied => None,
            _ => holder,
        })
}

fn op_name(op: OpKind) -> String {
    format!("{op:?}").to_lowercase()
}

/// Describes one stuck process in words, naming objects by their labels:
/// `get on queue 'queue' (empty)`, `join of process P1 (pid 123)`,
/// `acquire of lock 'lock' (held by P2, pid 124)`.
pub fn describe_stuck(
    stuck: &controlled::Stuck,
    main_pid: i32,
    events: &[trace::Event],
    objects: &[ObjectInfo],
) -> report::Stuck {
    let name = |pid: i32| process_name(pid, main_pid, events, objects);
    let object = objects.iter().find(|o| o.id == stuck.object);
    // Waiting on a queue is always a get, but the last point announced on
    // the way there may be the queue's internal read lock.
    let op = match object {
        Some(o) if !stuck.joining && !stuck.runnable && o.kind == ObjectKind::Queue => {
            "get".to_string()
        }
        _ => op_name(stuck.op),
    };
    let label = |o: &ObjectInfo| {
        if o.label.is_empty() {
            format!("#{}", o.id)
        } else {
            format!("'{}'", o.label)
        }
    };
    let waiting_for = if stuck.op == OpKind::Start {
        "its first operation".to_string()
    } else if stuck.runnable && !stuck.joining {
        // Paused, not stuck: what it will do next.
        match object {
            Some(o) => format!("{op} on {} {}", o.kind.name(), label(o)),
            None if stuck.op == OpKind::Pause => "pause".to_string(),
            None => format!("{op} on object #{}", stuck.object),
        }
    } else if stuck.joining {
        let child = stuck.object as i32;
        format!("join of process {} (pid {child})", name(child))
    } else {
        match object {
            Some(o) => {
                let label = if o.label.is_empty() {
                    format!("#{}", o.id)
                } else {
                    format!("'{}'", o.label)
                };
                match o.kind {
                    ObjectKind::Queue => format!("{op} on queue {label} (empty)"),
                    ObjectKind::Lock => match lock_holder(o.id, events) {
                        Some(h) => format!("{op} of lock {label} (held by {}, pid {h})", name(h)),
                        None => format!("{op} of lock {label}"),
                    },
                    kind => format!("{op} on {} {label}", kind.name()),
                }
            }
            None => format!("{op} on object #{}", stuck.object),
        }
    };
    report::Stuck {
        pid: stuck.pid,
        process: name(stuck.pid),
        op,
        waiting_for,
        runnable: stuck.runnable,
    }
}

/// Called by the controlled scheduler when nobody can run, in whichever
/// process found it, just before it ends them all: writes a `Deadlock`
/// record and says on stderr who waits for what.
fn on_deadlock(stuck: &[controlled::Stuck]) {
    let Some(ctx) = CONTEXT.get() else { return };
    let events = trace::events();
    let objects = trace::objects();
    let stuck: Vec<report::Stuck> = stuck
        .iter()
        .map(|s| describe_stuck(s, ctx.main_pid, &events, &objects))
        .collect();
    let mut err = io::stderr().lock();
    // A stepped run pauses through here too, with runnable processes.
    if stuck.iter().any(|s| s.runnable) {
        let _ = writeln!(err, "paused: the schedule's choices are all made");
    } else {
        let _ = writeln!(err, "deadlock: every process is waiting, none can go on");
    }
    for s in stuck.iter().filter(|s| !s.runnable) {
        let _ = writeln!(
            err,
            "  {} (pid {}) waits in {}",
            s.process, s.pid, s.waiting_for
        );
    }
    ctx.write(&Record::Deadlock(report::Deadlock {
        stuck,
        schedule: controlled::schedule(),
        choices: report_choices(),
        events: report_events(&events),
        objects: report_objects(&objects),
    }));
}

/// How many CPUs this process may run on: its affinity mask, counted.
/// (Not `available_parallelism`, which also reads the cgroup's CPU quota
/// from `/proc` at every call: a tenth of a millisecond, paid by every
/// run, for a figure the report only shows.)
fn cpus_allowed() -> usize {
    use nix::sched::{sched_getaffinity, CpuSet};
    let Ok(set) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return 1;
    };
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .count()
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: Program = Program {
        exercise: "queue-drain",
        dir: "exercises/04-queue-drain",
        about: "two children drain one queue",
        demos: &[Demo {
            name: "faulty",
            about: "the drain that can hang",
        }],
        lesson: |_| Params::new(),
    };

    fn args(a: &[&str]) -> Result<Invocation, String> {
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        parse_args(&PROGRAM, &a)
    }

    #[test]
    fn command_lines() {
        assert_eq!(args(&[]), Ok(Invocation::Exercise));
        assert_eq!(args(&["--demo", "faulty"]), Ok(Invocation::Demo("faulty")));
        assert_eq!(args(&["--demo=faulty"]), Ok(Invocation::Demo("faulty")));
        assert_eq!(args(&["--help"]), Ok(Invocation::Help));
        assert!(args(&["--demo"]).unwrap_err().contains("needs a name"));
        assert!(args(&["--demo", "nope"])
            .unwrap_err()
            .contains("known: faulty"));
        assert!(args(&["extra"]).is_err());
        assert_eq!(args(&["--serve", "3"]), Ok(Invocation::Serve(3)));
        assert!(args(&["--serve"]).is_err());
        assert!(help(&PROGRAM, false).contains("--demo faulty"));
        assert!(help(&PROGRAM, false).contains("exercises/04-queue-drain/src/lib.rs"));
        assert!(help(&PROGRAM, true).contains("solutions/04-queue-drain/src/lib.rs"));
        assert!(help(&PROGRAM, true).contains("cargo grade --solutions queue-drain"));
    }

    #[test]
    fn todo_panics_name_their_function() {
        assert_eq!(
            not_implemented("not yet implemented: deposit", None),
            Some("deposit".into())
        );
        assert_eq!(
            not_implemented("not implemented: drain", None),
            Some("drain".into())
        );
        assert_eq!(
            not_implemented("not yet implemented", Some("src/lib.rs:3")),
            Some("the code at src/lib.rs:3".into())
        );
        assert_eq!(not_implemented("index out of bounds", None), None);
    }

    #[test]
    fn panic_lines() {
        let loc = Some("exercises/03-locked-bank/src/lib.rs:12");
        assert_eq!(
            panic_line(Some("locked-bank"), "deposit", 7, "not yet implemented: deposit", loc, Some("deposit")),
            "not implemented yet: deposit (exercises/03-locked-bank/src/lib.rs:12) — write it, then run: cargo grade locked-bank"
        );
        let sol = Some("solutions/03-locked-bank/src/lib.rs:12");
        assert!(
            panic_line(Some("locked-bank"), "deposit", 7, "", sol, Some("deposit"))
                .ends_with("cargo grade --solutions locked-bank")
        );
        assert_eq!(
            panic_line(Some("locked-bank"), "withdraw", 8, "boom", loc, None),
            "process withdraw (pid 8) panicked at exercises/03-locked-bank/src/lib.rs:12: boom"
        );
    }

    fn event(seq: u64, pid: i32, kind: EventKind, object: u32, value: i64) -> trace::Event {
        trace::Event {
            seq,
            pid,
            kind,
            object,
            value,
            time_ns: seq,
            off_schedule: false,
        }
    }

    fn object(id: u32, kind: ObjectKind, label: &str) -> ObjectInfo {
        ObjectInfo {
            id,
            kind,
            label: label.into(),
        }
    }

    #[test]
    fn stuck_processes_are_described_with_labels() {
        let objects = vec![
            object(1, ObjectKind::Queue, "queue"),
            object(2, ObjectKind::Lock, "lock"),
            object(3, ObjectKind::Process, "P1"),
            object(4, ObjectKind::Process, "P2"),
        ];
        let events = vec![
            event(0, 100, EventKind::Start, 3, 101),
            event(1, 100, EventKind::Start, 4, 102),
            event(2, 102, EventKind::Acquire, 2, 1),
        ];
        let stuck = |pid, op, object, joining| controlled::Stuck {
            pid,
            slot: 0,
            op,
            object,
            joining,
            runnable: false,
        };
        let get = describe_stuck(
            &stuck(101, OpKind::Acquire, 1, false),
            100,
            &events,
            &objects,
        );
        assert_eq!(get.process, "P1");
        assert_eq!(get.op, "get");
        assert_eq!(get.waiting_for, "get on queue 'queue' (empty)");
        let join = describe_stuck(&stuck(100, OpKind::Join, 101, true), 100, &events, &objects);
        assert_eq!(join.process, "MainProcess");
        assert_eq!(join.waiting_for, "join of process P1 (pid 101)");
        let acquire = describe_stuck(
            &stuck(101, OpKind::Acquire, 2, false),
            100,
            &events,
            &objects,
        );
        assert_eq!(
            acquire.waiting_for,
            "acquire of lock 'lock' (held by P2, pid 102)"
        );
    }
}

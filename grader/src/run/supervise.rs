//! The supervisor: the process inside a box that runs what the grader asks
//! and tells it, from the kernel's point of view, what happened.
//!
//! The grader starts itself again as `grader __supervise`, one per grading
//! slot (and one per build), and talks to it over its stdin and stdout,
//! one JSON line each way. The first line is the [`BoxSpec`]: the
//! supervisor sets its box up ([`sandbox::enter`]) and answers
//! [`Answer::Ready`] with what it could isolate. Then, one at a time:
//!
//! - [`Request::Exec`]: run a program to its end (a build's `cargo`);
//! - [`Request::Serve`]: start an exercise program as a fork server;
//! - [`Request::Run`]: one run through that server: the supervisor hands
//!   it the run's configuration and three pipes (stdout, stderr, report),
//!   and gets the pid of a freshly forked process, which is the
//!   supervisor's own child (see `scenarios::serve`).
//!
//! For every run or program the supervisor, which is the box's init:
//!
//! 1. reads stdout, stderr and the report, keeping the first bytes of
//!    each and ending the run if it floods;
//! 2. enforces the deadline; at the deadline it notes every process of
//!    the box and where in the kernel it waits (`/proc/PID/wchan`);
//! 3. reaps the main process itself, so its exit status is the kernel's;
//! 4. then kills and reaps everything else in the box (the fork server
//!    aside) and names what was left running;
//! 5. reads the last pid the box's pid namespace gave out, so that the
//!    grader knows exactly which processes the run made: pids are handed
//!    out in order, and nothing else in the box makes any;
//! 6. empties `/tmp` and `/dev/shm`, naming what was left in `/dev/shm`;
//! 7. answers with a [`RunOutcome`].
//!
//! Nothing in the box can reach the supervisor: it runs as root while the
//! box's processes run as another user, and a pid namespace's init
//! cannot be killed or stopped from inside. Its answers still have a
//! deadline on the grader's side (see [`slot`](super::slot)).

use std::collections::{BTreeSet, HashMap};
use std::ffi::CString;
use std::fs;
use std::io::{self, BufRead, IoSlice, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use course_report::RunConfig;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use serde::{Deserialize, Serialize};

use super::sandbox::{self, BoxSpec, Confinement, Isolation};

/// Resource limits for one run or program.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock deadline; the whole box is killed when it passes.
    pub timeout: Duration,
    /// Bytes of stdout and of stderr kept (each); more is counted, not kept.
    pub output_cap: usize,
    /// Output past this many bytes (stdout + stderr + report) ends the run
    /// as a flood.
    pub output_kill: u64,
    /// RLIMIT_AS in bytes, per process.
    pub address_space: Option<u64>,
    /// RLIMIT_CPU in seconds, per process.
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_FSIZE in bytes.
    pub file_size: Option<u64>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
    /// Largest report kept (bytes); a longer one is cut and marked.
    pub report_cap: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            output_cap: 64 * 1024,
            output_kill: 16 * 1024 * 1024,
            address_space: Some(2 << 30),
            cpu_seconds: Some(60),
            file_size: Some(64 << 20),
            open_files: Some(256),
            report_cap: 32 << 20,
        }
    }
}

/// A program to run to its end.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSpec {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its whole environment: nothing of the grader's is passed on.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Limits.
    pub limits: Limits,
}

/// What the grader asks a supervisor.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case")]
pub enum Request {
    /// Run a program to its end.
    Exec(RunSpec),
    /// Start `program` as a fork server (replacing any other).
    Serve {
        /// The exercise program.
        program: PathBuf,
        /// Its environment.
        env: Vec<(String, String)>,
        /// Per-process limits, inherited by every run.
        limits: Limits,
    },
    /// One run through the fork server.
    Run {
        /// What the run is to do.
        config: RunConfig,
        /// Its limits (the per-process ones were set with the server).
        limits: Limits,
        /// The one CPU its processes are to share, if any (see
        /// [`Supervisor::place_server`]).
        #[serde(default)]
        cpu: Option<usize>,
    },
}

/// A supervisor's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum Answer {
    /// The box is set up, with this much isolation.
    Ready(Isolation),
    /// A program or run ended.
    Outcome(Box<RunOutcome>),
    /// The fork server is up.
    Served,
    /// The request could not be carried out.
    Error {
        /// Why.
        message: String,
    },
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Ending {
    /// The program exited with this code.
    Exited { code: i32 },
    /// A signal killed it (`SIGSEGV`, `SIGABRT`, `SIGXCPU`, ...).
    Signaled { signal: i32, name: String },
    /// The deadline passed; the tree was killed.
    TimedOut,
    /// It wrote more than `output_kill` bytes; the tree was killed.
    OutputFlood,
    /// The grader was interrupted (Ctrl-C); the tree was killed.
    Interrupted,
}

/// A process seen in the box.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcInfo {
    /// Its pid (in the box's pid namespace).
    pub pid: i32,
    /// Its command name (`/proc/PID/comm`).
    pub name: String,
    /// Its state letter (`S` sleeping, `R` running, `Z` zombie, ...).
    pub state: String,
    /// Where in the kernel it waits (`/proc/PID/wchan`: `pipe_read`,
    /// `futex_wait_queue`, `do_wait`, ...), empty when running.
    pub wchan: String,
}

impl ProcInfo {
    /// Where it was, in words: `waiting in futex_do_wait`, `running`, `a
    /// zombie`, `state D`.
    pub fn whereabouts(&self) -> String {
        if self.wchan.is_empty() || self.wchan == "0" {
            match self.state.as_str() {
                "R" => "running".to_string(),
                "Z" => "a zombie".to_string(),
                s => format!("state {s}"),
            }
        } else {
            format!("waiting in {}", self.wchan)
        }
    }
}

/// The pids a run was given: the kernel hands them out in order, and
/// nothing else in the box makes processes while it runs, so the run's
/// processes are exactly `main..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRange {
    /// The run's main process.
    pub main: i32,
    /// The last pid given out in the box when the run was over (known
    /// where the box has a pid namespace of its own).
    pub last: Option<i32>,
}

/// Everything known about one run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunOutcome {
    /// How it ended.
    pub ending: Ending,
    /// The start of stdout (lossy UTF-8), at most `output_cap` bytes.
    pub stdout: String,
    /// The start of stderr (lossy UTF-8), at most `output_cap` bytes.
    pub stderr: String,
    /// All stdout bytes written.
    pub stdout_bytes: u64,
    /// All stderr bytes written.
    pub stderr_bytes: u64,
    /// Wall time from start to the end of the main process, in ms.
    pub elapsed_ms: f64,
    /// On a timeout: every process of the box, and where it was stuck.
    pub stuck: Vec<ProcInfo>,
    /// Processes still alive after the main process ended (killed since).
    pub leftovers: Vec<ProcInfo>,
    /// Which limit ended the run, if one did (`"CPU time limit (60 s)"`).
    pub limit_hit: Option<String>,
    /// Limits that could not be applied here, and similar notes.
    pub warnings: Vec<String>,
    /// The report the run wrote (served runs), lossy UTF-8. It travels
    /// after the answer's line, as raw bytes (`report_len` of them):
    /// escaped into the JSON line, a long trace would cost more than the
    /// run.
    #[serde(skip)]
    pub report: Option<String>,
    /// How many bytes of report follow the answer's line.
    #[serde(default)]
    pub report_len: Option<usize>,
    /// Whether the report was longer than the cap (and cut).
    #[serde(default)]
    pub report_cut: bool,
    /// The run's pids (served runs).
    #[serde(default)]
    pub pids: Option<PidRange>,
    /// Files the run left in `/dev/shm` (removed since).
    #[serde(default)]
    pub leftover_files: Vec<String>,
    /// What happened to the fork server during the run, if anything.
    #[serde(default)]
    pub server_trouble: Option<String>,
    /// The run's other processes that died of a signal or left with an
    /// error code on their own, before the run's end killed the rest, as
    /// the kernel told the supervisor when it reaped them: a child's
    /// crash that its parent never waited for is seen all the same.
    #[serde(default)]
    pub deaths: Vec<Death>,
}

/// A process of a run that died on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Death {
    /// Its pid.
    pub pid: i32,
    /// How: "killed by SIGSEGV", "exited with code 3".
    pub how: String,
}

impl Default for Ending {
    fn default() -> Self {
        Ending::Exited { code: -1 }
    }
}

/// The argument that makes the grader binary act as a supervisor.
pub const SUPERVISE_ARG: &str = "__supervise";

/// The pid a box's pid namespace has given out last when each run starts:
/// the fork server's go-between gets the next one, the run the one after,
/// and so on. Above the few processes that live on between runs (the
/// supervisor and the fork server).
const RUN_PIDS_AFTER: i32 = 1000;

/// How long the fork server may take to answer a request.
const SERVER_ANSWER: Duration = Duration::from_secs(3);

/// The entry point of the hidden `__supervise` subcommand. Call it first
/// thing in `main`, before any thread is started, when the first argument
/// is `__supervise`. Never returns.
pub fn supervise_main() -> ! {
    // Ctrl-C at the terminal is the grader's to handle; the grader ends a
    // box by closing its stdin or killing it.
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGPIPE,
    ] {
        // SAFETY: ignoring a signal installs no handler.
        let _ = unsafe { signal::signal(sig, SigHandler::SigIgn) };
    }
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let mut stdout = io::stdout();
    let spec: BoxSpec = match lines.next().map(|l| l.map(|l| serde_json::from_str(&l))) {
        Some(Ok(Ok(spec))) => spec,
        other => {
            let _ = answer(
                &mut stdout,
                &Answer::Error {
                    message: format!("no box specification: {other:?}"),
                },
            );
            std::process::exit(2)
        }
    };
    let mut iso = sandbox::enter(&spec);
    // Orphans of a run come to us, in a pid namespace or not.
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let work = work_dir(&iso, &spec);
    let confinement = Confinement::new(&spec, &mut iso, &work);
    // What a bind of the box's lives under in the work directory (a course
    // checked out under /tmp): never emptied.
    let keep = spec
        .binds
        .iter()
        .map(|b| b.inside())
        .chain(spec.scratch.iter().map(PathBuf::as_path))
        .filter_map(|p| p.strip_prefix(&work).ok()?.components().next())
        .map(|c| work.join(c))
        .collect();
    let mut state = State {
        iso: iso.clone(),
        confinement,
        server: None,
        work,
        keep,
    };
    if answer(&mut stdout, &Answer::Ready(iso)).is_err() {
        std::process::exit(1);
    }
    for line in lines {
        let Ok(line) = line else { break };
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) => state.handle(request),
            Err(e) => Answer::Error {
                message: format!("bad request: {e}"),
            },
        };
        if answer(&mut stdout, &reply).is_err() {
            break;
        }
    }
    state.stop_server();
    state.clean_work();
    if !state.iso.own_root {
        let _ = fs::remove_dir(&state.work);
    }
    std::process::exit(0)
}

fn answer(out: &mut io::Stdout, answer: &Answer) -> io::Result<()> {
    let mut line = serde_json::to_vec(answer).map_err(io::Error::other)?;
    line.push(b'\n');
    if let Answer::Outcome(o) = answer {
        if let Some(report) = &o.report {
            line.extend_from_slice(report.as_bytes());
        }
    }
    out.write_all(&line)?;
    out.flush()
}

/// Where runs work: the box's own `/tmp`, or, in a box without a root of
/// its own, a fresh directory of its own, owned by the box's user.
fn work_dir(iso: &Isolation, spec: &BoxSpec) -> PathBuf {
    if iso.own_root {
        return PathBuf::from("/tmp");
    }
    let dir = std::env::temp_dir().join(format!("grader-work-{}", std::process::id()));
    let _ = fs::create_dir_all(&dir);
    if nix::unistd::Uid::effective().is_root() && !spec.bare {
        let _ = std::os::unix::fs::chown(&dir, Some(spec.uid), Some(spec.gid));
    }
    dir
}

/// What a box process runs.
struct Launch<'a> {
    program: &'a Path,
    args: &'a [String],
    env: &'a [(String, String)],
    cwd: &'a Path,
    limits: &'a Limits,
    /// Its stdout and stderr (else /dev/null, with stdin always).
    stdio: [Option<&'a OwnedFd>; 2],
    /// Kept open as descriptor 3 (the fork server's socket).
    extra: Option<&'a OwnedFd>,
}

/// A running fork server.
struct Server {
    pid: Pid,
    socket: OwnedFd,
    program: PathBuf,
    env: Vec<(String, String)>,
    limits: Limits,
}

struct State {
    iso: Isolation,
    confinement: Confinement,
    server: Option<Server>,
    work: PathBuf,
    /// Entries of the work directory that hold a bind: kept.
    keep: Vec<PathBuf>,
}

impl State {
    fn handle(&mut self, request: Request) -> Answer {
        let result = match request {
            Request::Exec(spec) => self.exec(&spec),
            Request::Serve {
                program,
                env,
                limits,
            } => {
                self.stop_server();
                self.start_server(program, env, limits)
                    .map(|()| Answer::Served)
            }
            Request::Run {
                config,
                limits,
                cpu,
            } => {
                self.place_server(cpu);
                self.run(&config, &limits)
            }
        };
        result.unwrap_or_else(|message| Answer::Error { message })
    }

    /// Forks a box process: confined, limited, running `launch`.
    fn spawn(&self, launch: Launch<'_>) -> Result<Pid, String> {
        let Launch {
            program,
            args,
            env,
            cwd,
            limits,
            stdio,
            extra,
        } = launch;
        let cstr = |b: &[u8]| CString::new(b).map_err(|_| "NUL byte in a request".to_string());
        let prog = cstr(program.as_os_str().as_bytes())?;
        let mut argv = vec![prog.clone()];
        for a in args {
            argv.push(cstr(a.as_bytes())?);
        }
        let envp = env
            .iter()
            .map(|(k, v)| cstr(format!("{k}={v}").as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let dir = cstr(cwd.as_os_str().as_bytes())?;
        let (note_r, note_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        // SAFETY: the supervisor is single-threaded; the child only makes
        // system calls on what was prepared above, then execs or leaves.
        match unsafe { fork() }.map_err(|e| e.to_string())? {
            ForkResult::Child => {
                let fail = |what: String| -> ! {
                    let _ = nix::unistd::write(&note_w, what.as_bytes());
                    // SAFETY: leaving the forked child at once.
                    unsafe { libc::_exit(127) }
                };
                if let Err(e) = self.confinement.apply() {
                    fail(format!("the sandbox could not be applied: {e}"));
                }
                set_rlimits(limits);
                if let Ok(null) = fs::File::open("/dev/null") {
                    let _ = nix::unistd::dup2_stdin(null.as_fd());
                }
                if let Some(out) = stdio[0] {
                    let _ = nix::unistd::dup2_stdout(out);
                }
                if let Some(err) = stdio[1] {
                    let _ = nix::unistd::dup2_stderr(err);
                }
                if let Some(fd) = extra {
                    // SAFETY: dup2 onto descriptor 3, which is then ours.
                    if unsafe { libc::dup2(fd.as_raw_fd(), 3) } != 3 {
                        fail("cannot pass the fork server its socket".into());
                    }
                }
                for sig in [
                    Signal::SIGINT,
                    Signal::SIGTERM,
                    Signal::SIGHUP,
                    Signal::SIGPIPE,
                ] {
                    // SAFETY: restoring the default disposition.
                    let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
                }
                if let Err(e) = nix::unistd::chdir(dir.as_c_str()) {
                    fail(format!("cannot enter {dir:?}: {e}"));
                }
                let e = nix::unistd::execve(&prog, &argv, &envp).unwrap_err();
                fail(format!("cannot run {prog:?}: {e}"))
            }
            ForkResult::Parent { child } => {
                drop(note_w);
                let mut why = String::new();
                let _ = io::Read::read_to_string(&mut fs::File::from(note_r), &mut why);
                if why.is_empty() {
                    Ok(child)
                } else {
                    let _ = waitpid(child, None);
                    Err(why)
                }
            }
        }
    }

    fn start_server(
        &mut self,
        program: PathBuf,
        env: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<(), String> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| e.to_string())?;
        let work = self.work.clone();
        let pid = self.spawn(Launch {
            program: &program,
            args: &["--serve".into(), "3".into()],
            env: &env,
            cwd: &work,
            limits: &limits,
            stdio: [None, None],
            extra: Some(&theirs),
        })?;
        drop(theirs);
        self.server = Some(Server {
            pid,
            socket: ours,
            program,
            env,
            limits,
        });
        Ok(())
    }

    fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = signal::kill(server.pid, Signal::SIGKILL);
            let _ = waitpid(server.pid, None);
        }
    }

    /// Restarts a server that died or stopped answering; says why.
    fn restart_server(&mut self, why: &str) -> Result<String, String> {
        let Some(old) = self.server.take() else {
            return Err("no program is being served".into());
        };
        let _ = signal::kill(old.pid, Signal::SIGKILL);
        let _ = waitpid(old.pid, None);
        self.start_server(old.program, old.env, old.limits)?;
        Ok(why.to_string())
    }

    /// Keeps the fork server, and so the run it forks next, on `cpu`, or
    /// lets it run anywhere the supervisor may.
    ///
    /// Under the controlled scheduler one process of a run moves at a
    /// time and hands the turn on at almost every operation. Between two
    /// processes on one CPU that hand-over is a switch of tasks there; to
    /// a process on another CPU it is a wake-up sent across, which costs
    /// several times more, most of all in a virtual machine. Where the
    /// operating system schedules, a run keeps every CPU, so that its
    /// processes can race truly in parallel. Best effort: placement only
    /// changes speed, never what a run does.
    fn place_server(&self, cpu: Option<usize>) {
        let Some(server) = &self.server else { return };
        let all = || nix::sched::sched_getaffinity(Pid::from_raw(0)).ok();
        let set = match cpu {
            Some(cpu) => {
                let mut one = nix::sched::CpuSet::new();
                one.set(cpu).ok().map(|()| one)
            }
            None => all(),
        };
        if let Some(set) = set {
            let _ = nix::sched::sched_setaffinity(server.pid, &set);
        }
    }

    fn server_alive(&self) -> bool {
        self.server.as_ref().is_some_and(|s| {
            matches!(
                waitpid(s.pid, Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::StillAlive)
            ) && proc_state(s.pid.as_raw()).is_some_and(|st| st != "T" && st != "t" && st != "Z")
        })
    }

    /// Asks the server for a run; returns the run's pid.
    fn fork_run(&self, config: &RunConfig, fds: [&OwnedFd; 3]) -> Result<Pid, String> {
        let server = self.server.as_ref().ok_or("no program is being served")?;
        let request = serde_json::to_vec(config).map_err(|e| e.to_string())?;
        let raw = fds.map(|f| f.as_raw_fd());
        let cmsg = [ControlMessage::ScmRights(&raw)];
        sendmsg::<()>(
            server.socket.as_raw_fd(),
            &[IoSlice::new(&request)],
            &cmsg,
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| format!("the fork server does not take requests ({e})"))?;
        let mut fd = [PollFd::new(server.socket.as_fd(), PollFlags::POLLIN)];
        let ms = SERVER_ANSWER.as_millis() as i32;
        if !matches!(poll(&mut fd, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)), Ok(n) if n > 0)
        {
            return Err(format!(
                "the fork server did not answer within {} s",
                SERVER_ANSWER.as_secs()
            ));
        }
        let mut buf = [0u8; 4096];
        let n = nix::unistd::read(&server.socket, &mut buf).map_err(|e| e.to_string())?;
        let reply: serde_json::Value = serde_json::from_slice(&buf[..n])
            .map_err(|e| format!("the fork server answered {e}"))?;
        match (reply["pid"].as_i64(), reply["error"].as_str()) {
            (Some(pid), _) => Ok(Pid::from_raw(pid as i32)),
            (_, Some(e)) => Err(format!("the fork server refused the run: {e}")),
            _ => Err("the fork server answered nothing".into()),
        }
    }

    fn run(&mut self, config: &RunConfig, limits: &Limits) -> Result<Answer, String> {
        let mut trouble_before = None;
        if !self.server_alive() {
            trouble_before = Some(self.restart_server(
                "the previous run killed or stopped the fork server (its parent); it was restarted",
            )?);
        }
        let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string());
        let ((out_r, out_w), (err_r, err_w), (rep_r, rep_w)) = (pipe()?, pipe()?, pipe()?);
        if self.iso.pid_namespace && !any_process_above(RUN_PIDS_AFTER) {
            // Every run gets the same pids: a replay shows the same
            // numbers, and runs whose traces hold pids compare (the
            // exhaustive search's reduction). Only once the previous
            // run's processes are all gone, zombies included: one still
            // there would be skipped over, and the run's pids would not
            // be the unbroken series the evidence checks expect. Best
            // effort: where it is refused, pids go on.
            let _ = fs::write("/proc/sys/kernel/ns_last_pid", RUN_PIDS_AFTER.to_string());
        }
        let start = Instant::now();
        let main = match self.fork_run(config, [&out_w, &err_w, &rep_w]) {
            Ok(pid) => pid,
            Err(e) => {
                let _ = self.restart_server(&e);
                return Err(e);
            }
        };
        drop((out_w, err_w, rep_w));
        let mut outcome = self.watch(main, start, limits, out_r, err_r, Some(rep_r));
        if !self.server_alive() {
            outcome.server_trouble = Some(
                "it killed or stopped the fork server, its grandparent (a program must leave the grader's processes alone)"
                    .into(),
            );
            let _ = self.restart_server("");
        } else if let Some(t) = trouble_before {
            outcome.warnings.push(t);
        }
        outcome.warnings.extend(self.iso.warnings.iter().cloned());
        Ok(Answer::Outcome(Box::new(outcome)))
    }

    fn exec(&mut self, spec: &RunSpec) -> Result<Answer, String> {
        let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string());
        let ((out_r, out_w), (err_r, err_w)) = (pipe()?, pipe()?);
        let cwd = spec.cwd.clone().unwrap_or_else(|| self.work.clone());
        let start = Instant::now();
        let main = self.spawn(Launch {
            program: &spec.program,
            args: &spec.args,
            env: &spec.env,
            cwd: &cwd,
            limits: &spec.limits,
            stdio: [Some(&out_w), Some(&err_w)],
            extra: None,
        })?;
        drop((out_w, err_w));
        let mut outcome = self.watch(main, start, &spec.limits, out_r, err_r, None);
        outcome.warnings.extend(self.iso.warnings.iter().cloned());
        Ok(Answer::Outcome(Box::new(outcome)))
    }

    /// Follows the box's main process `main` to its end (see the module
    /// docs), then cleans the box up for the next one.
    fn watch(
        &mut self,
        main: Pid,
        start: Instant,
        limits: &Limits,
        out: OwnedFd,
        err: OwnedFd,
        report: Option<OwnedFd>,
    ) -> RunOutcome {
        let mut out = Capture::new(out, limits.output_cap);
        let mut err = Capture::new(err, limits.output_cap);
        let mut rep = report.map(|fd| Capture::new(fd, limits.report_cap));
        let exited = pidfd_open(main);
        let deadline = start + limits.timeout;
        let mut status = None;
        let mut ending = None;
        while status.is_none() && ending.is_none() {
            let now = Instant::now();
            if now >= deadline {
                ending = Some(Ending::TimedOut);
                break;
            }
            pump(
                &mut out,
                &mut err,
                rep.as_mut(),
                exited.as_ref(),
                deadline - now,
            );
            let written = out.total + err.total + rep.as_ref().map_or(0, |r| r.total);
            if written > limits.output_kill {
                ending = Some(Ending::OutputFlood);
                break;
            }
            status = match waitpid(main, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => None,
                Ok(WaitStatus::Exited(_, code)) => Some(Ending::Exited { code }),
                Ok(WaitStatus::Signaled(_, sig, _)) => Some(Ending::Signaled {
                    signal: sig as i32,
                    name: sig.as_str().to_string(),
                }),
                Ok(_) => None,
                Err(e) => Some(Ending::Exited { code: -(e as i32) }),
            };
        }
        let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
        let others = self.box_processes(main);
        let stuck = if ending == Some(Ending::TimedOut) {
            std::iter::once(main.as_raw())
                .chain(others.iter().copied())
                .filter_map(proc_info)
                .collect()
        } else {
            Vec::new()
        };
        let leftovers = if status.is_some() {
            others
                .iter()
                .filter_map(|&p| proc_info(p))
                .filter(|p| p.state != "Z")
                .collect()
        } else {
            Vec::new()
        };
        let deaths = self.kill_all(main);
        // What the tree wrote before it died is still in the pipes.
        pump(&mut out, &mut err, rep.as_mut(), None, Duration::ZERO);
        let pids = Some(PidRange {
            main: main.as_raw(),
            last: if self.iso.pid_namespace {
                last_pid()
            } else {
                None
            },
        });
        let leftover_files = self.clean_work();
        let ending = ending.or(status).unwrap_or_default();
        let limit_hit = limit_hit(&ending, limits, &err.kept);
        let report_cut = rep.as_ref().is_some_and(|r| r.total > r.kept.len() as u64);
        RunOutcome {
            ending,
            stdout: String::from_utf8_lossy(&out.kept).into_owned(),
            stderr: String::from_utf8_lossy(&err.kept).into_owned(),
            stdout_bytes: out.total,
            stderr_bytes: err.total,
            elapsed_ms,
            stuck,
            leftovers,
            limit_hit,
            warnings: Vec::new(),
            report_len: rep.as_ref().map(|r| String::from_utf8_lossy(&r.kept).len()),
            report: rep.map(|r| String::from_utf8_lossy(&r.kept).into_owned()),
            report_cut,
            pids,
            leftover_files,
            server_trouble: None,
            deaths,
        }
    }

    /// Every live process of the box but the supervisor, the fork server
    /// and `main`.
    fn box_processes(&self, main: Pid) -> Vec<i32> {
        let me = std::process::id() as i32;
        let server = self.server.as_ref().map(|s| s.pid.as_raw());
        let all: Vec<i32> = if self.iso.pid_namespace {
            // The box's /proc shows the box's processes only.
            pids_in_proc()
        } else {
            descendants(me)
        };
        all.into_iter()
            .filter(|&p| p != me && Some(p) != server && p != main.as_raw())
            .filter(|&p| proc_state(p).is_some_and(|s| s != "Z"))
            .collect()
    }

    /// Kills `main` and every other process of the box but the server, and
    /// reaps every child, until none is left. A fork bomb may fork while
    /// this kills, so it repeats until a pass finds nothing. Returns the
    /// processes but `main` that had died on their own (of a signal other
    /// than this kill, or with an error code).
    fn kill_all(&self, main: Pid) -> Vec<Death> {
        let mut deaths = Vec::new();
        for _ in 0..1000 {
            let _ = signal::kill(main, Signal::SIGKILL);
            let others = self.box_processes(main);
            for &pid in &others {
                let _ = signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let server = self.server.as_ref().map(|s| s.pid);
            loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(s) if s.pid() == server => {
                        // The server died during the run: noticed by the caller.
                        continue;
                    }
                    Ok(WaitStatus::Signaled(pid, sig, _))
                        if pid != main && sig != Signal::SIGKILL =>
                    {
                        deaths.push(Death {
                            pid: pid.as_raw(),
                            how: format!("killed by {}", sig.as_str()),
                        });
                    }
                    Ok(WaitStatus::Exited(pid, code)) if pid != main && code != 0 => {
                        deaths.push(Death {
                            pid: pid.as_raw(),
                            how: format!("exited with code {code}"),
                        });
                    }
                    Ok(_) => continue,
                }
            }
            let main_gone = proc_state(main.as_raw()).is_none();
            if others.is_empty() && main_gone {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        deaths
    }

    /// Empties the work directory and `/dev/shm` (in a box of its own);
    /// returns what was left in `/dev/shm`.
    fn clean_work(&self) -> Vec<String> {
        let mut left = Vec::new();
        if self.iso.own_root {
            if let Ok(entries) = fs::read_dir("/dev/shm") {
                for e in entries.flatten() {
                    left.push(format!("/dev/shm/{}", e.file_name().to_string_lossy()));
                    remove(&e.path());
                }
            }
        }
        if let Ok(entries) = fs::read_dir(&self.work) {
            for e in entries.flatten() {
                if !self.keep.contains(&e.path()) {
                    remove(&e.path());
                }
            }
        }
        left.sort();
        left
    }
}

fn remove(path: &Path) {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        let _ = fs::remove_dir_all(path);
    } else {
        let _ = fs::remove_file(path);
    }
}

fn set_rlimits(limits: &Limits) {
    use nix::sys::resource::{setrlimit, Resource};
    for (resource, value) in [
        (Resource::RLIMIT_AS, limits.address_space),
        (Resource::RLIMIT_CPU, limits.cpu_seconds),
        (Resource::RLIMIT_FSIZE, limits.file_size),
        (Resource::RLIMIT_NOFILE, limits.open_files),
        (Resource::RLIMIT_CORE, Some(0)),
    ] {
        if let Some(v) = value {
            let _ = setrlimit(resource, v, v);
        }
    }
}

/// Whether the box's pid namespace holds a process (a zombie included)
/// with a pid above `pid`; true when /proc cannot be read.
fn any_process_above(pid: i32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
            .is_some_and(|p| p > pid)
    })
}

/// The last pid the box's pid namespace gave out.
fn last_pid() -> Option<i32> {
    fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One output pipe: the first `cap` bytes kept, all bytes counted.
struct Capture {
    fd: Option<OwnedFd>,
    kept: Vec<u8>,
    cap: usize,
    total: u64,
}

impl Capture {
    fn new(fd: OwnedFd, cap: usize) -> Capture {
        let _ = nix::fcntl::fcntl(fd.as_fd(), nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        Capture {
            fd: Some(fd),
            kept: Vec::new(),
            cap,
            total: 0,
        }
    }

    /// Reads whatever is there now; drops the fd at end of file.
    fn drain(&mut self) {
        let mut buf = [0u8; 64 * 1024];
        while let Some(fd) = &self.fd {
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => self.fd = None,
                Ok(n) => {
                    self.total += n as u64;
                    let room = self.cap.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(Errno::EINTR) => {}
                Err(_) => break, // EAGAIN: nothing more for now
            }
        }
    }
}

/// Waits up to `wait` for output or for the main process's end
/// (`exited`), then reads what is there.
fn pump(
    out: &mut Capture,
    err: &mut Capture,
    rep: Option<&mut Capture>,
    exited: Option<&OwnedFd>,
    wait: Duration,
) {
    let mut fds = Vec::new();
    let rep_fd = rep.as_ref().and_then(|r| r.fd.as_ref());
    for fd in [out.fd.as_ref(), err.fd.as_ref(), rep_fd, exited]
        .into_iter()
        .flatten()
    {
        fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
    }
    // Without a pidfd, wake up often enough to notice the end.
    let wait = if exited.is_none() {
        wait.min(Duration::from_millis(2))
    } else {
        wait
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    if fds.is_empty() {
        std::thread::sleep(wait);
    } else {
        let _ = poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
    }
    drop(fds);
    out.drain();
    err.drain();
    if let Some(r) = rep {
        r.drain();
    }
}

/// An fd that becomes readable when `pid` ends (Linux 5.3 and later).
fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative return is a fresh fd that we now own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Every pid in `/proc`.
fn pids_in_proc() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Every descendant of `root` (orphans of the box come to the supervisor,
/// a subreaper, so they stay descendants).
fn descendants(root: i32) -> Vec<i32> {
    let table: HashMap<i32, i32> = pids_in_proc()
        .into_iter()
        .filter_map(|p| Some((p, read_stat(p)?.2)))
        .collect();
    let mut found = BTreeSet::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (&pid, &ppid) in &table {
            if ppid == parent && found.insert(pid) {
                frontier.push(pid);
            }
        }
    }
    found.into_iter().collect()
}

/// (comm, state, ppid) from `/proc/PID/stat`.
fn read_stat(pid: i32) -> Option<(String, String, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let mut rest = stat[close + 2..].split_whitespace();
    let state = rest.next()?.to_string();
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, state, ppid))
}

fn proc_state(pid: i32) -> Option<String> {
    read_stat(pid).map(|(_, s, _)| s)
}

fn proc_info(pid: i32) -> Option<ProcInfo> {
    let (name, state, _) = read_stat(pid)?;
    let wchan = fs::read_to_string(format!("/proc/{pid}/wchan"))
        .map(|w| if w == "0" { String::new() } else { w })
        .unwrap_or_default();
    Some(ProcInfo {
        pid,
        name,
        state,
        wchan,
    })
}

fn limit_hit(ending: &Ending, limits: &Limits, stderr: &[u8]) -> Option<String> {
    match ending {
        Ending::Signaled { name, .. } if name == "SIGXCPU" => Some(format!(
            "CPU time limit ({} s)",
            limits.cpu_seconds.unwrap_or(0)
        )),
        Ending::Signaled { name, .. } if name == "SIGXFSZ" => Some(format!(
            "file size limit ({} bytes)",
            limits.file_size.unwrap_or(0)
        )),
        _ if String::from_utf8_lossy(stderr).contains("memory allocation of") => Some(format!(
            "address space limit ({} MiB)",
            limits.address_space.unwrap_or(0) >> 20
        )),
        Ending::OutputFlood => Some(format!("output limit ({} bytes)", limits.output_kill)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::ProcInfo;

    #[test]
    fn whereabouts_name_the_wait_or_the_state() {
        let at = |state: &str, wchan: &str| {
            ProcInfo {
                pid: 2,
                name: "P1".into(),
                state: state.into(),
                wchan: wchan.into(),
            }
            .whereabouts()
        };
        assert_eq!(at("S", "futex_do_wait"), "waiting in futex_do_wait");
        // A kernel that hides where a process waits says 0.
        assert_eq!(at("R", "0"), "running");
        assert_eq!(at("R", ""), "running");
        assert_eq!(at("Z", "0"), "a zombie");
        assert_eq!(at("D", "0"), "state D");
    }
}

//! Run supervision: one run of a student's program, bounded and cleaned up.
//!
//! The grader runs many programs at once from several threads, and a
//! student's program may do anything: hang, fork without end, daemonize a
//! grandchild, flood its output. So every run gets a *supervisor*: the
//! grader starts itself again as `grader __supervise`, a small
//! single-threaded process that
//!
//! 1. becomes a child subreaper (`PR_SET_CHILD_SUBREAPER`), so every
//!    descendant of the program that loses its parent is re-parented to the
//!    supervisor instead of escaping to init;
//! 2. moves itself, where the kernel lets it, into an empty network
//!    namespace (so no program it runs has a network), and puts each
//!    program in its own process group and in the supervisor's pids cgroup
//!    (which caps how many processes it may have, even as root, where
//!    `RLIMIT_NPROC` does nothing, and lists every process it made);
//! 3. sets resource limits in the child before `exec`: address space, CPU
//!    time, file size, open files;
//! 4. reads the program's stdout and stderr, keeping the first
//!    `output_cap` bytes of each and ending the run if it floods;
//! 5. at the deadline, notes every process of the tree and where in the
//!    kernel it waits (`/proc/PID/wchan`), then kills the whole tree;
//! 6. when the program's main process has ended, kills and reaps whatever
//!    it left behind, and answers the grader with a [`RunOutcome`] as JSON.
//!
//! A supervisor serves one grader thread and runs its runs one after the
//! other, so its setup (exec, namespace, cgroup) is paid once, not per run.
//!
//! A per-run process keeps all of this away from the grader's threads:
//! reaping with `waitpid(-1)` or receiving orphans in a multi-threaded
//! grader would steal other threads' children.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use serde::{Deserialize, Serialize};

/// Resource limits for one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock deadline; the whole process tree is killed when it passes.
    pub timeout: Duration,
    /// Bytes of stdout and of stderr kept (each); more is counted, not kept.
    pub output_cap: usize,
    /// Output past this many bytes (stdout + stderr) ends the run as a flood.
    pub output_kill: u64,
    /// RLIMIT_AS in bytes.
    pub address_space: Option<u64>,
    /// RLIMIT_CPU in seconds.
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_FSIZE in bytes.
    pub file_size: Option<u64>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
    /// Most processes the run may have alive at once (pids cgroup).
    pub max_processes: Option<u32>,
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
            max_processes: Some(64),
        }
    }
}

/// What to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSpec {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to the environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Limits.
    pub limits: Limits,
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

/// A process seen in the run's tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcInfo {
    /// Its pid.
    pub pid: i32,
    /// Its command name (`/proc/PID/comm`).
    pub name: String,
    /// Its state letter (`S` sleeping, `R` running, `Z` zombie, ...).
    pub state: String,
    /// Where in the kernel it waits (`/proc/PID/wchan`: `pipe_read`,
    /// `futex_wait_queue`, `do_wait`, ...), empty when running.
    pub wchan: String,
}

/// Everything known about one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// On a timeout: every process of the tree, and where it was stuck.
    pub stuck: Vec<ProcInfo>,
    /// Processes still alive after the main process ended (killed since).
    pub leftovers: Vec<ProcInfo>,
    /// Which limit ended the run, if one did (`"CPU time limit (60 s)"`).
    pub limit_hit: Option<String>,
    /// Limits that could not be applied here, and similar notes.
    pub warnings: Vec<String>,
}

/// Runs `spec` under a supervisor process and returns what happened.
/// Safe to call from many threads at once: each thread has a supervisor of
/// its own, started on its first run and kept for the next ones (starting
/// one per run would double the cost of a short run).
pub fn run(spec: &RunSpec) -> io::Result<RunOutcome> {
    SUPERVISOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Supervisor::start()?);
        }
        let result = slot.as_mut().expect("just set").run(spec);
        if result.is_err() {
            // A supervisor that failed once is not trusted again.
            *slot = None;
        }
        result
    })
}

thread_local! {
    static SUPERVISOR: std::cell::RefCell<Option<Supervisor>> = const { std::cell::RefCell::new(None) };
}

/// The grader's end of one supervisor process.
struct Supervisor {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: io::BufReader<std::process::ChildStdout>,
}

impl Supervisor {
    fn start() -> io::Result<Supervisor> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(SUPERVISE_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let to = child.stdin.take().expect("piped");
        let from = io::BufReader::new(child.stdout.take().expect("piped"));
        Ok(Supervisor { child, to, from })
    }

    fn run(&mut self, spec: &RunSpec) -> io::Result<RunOutcome> {
        let mut line = serde_json::to_vec(spec).map_err(io::Error::other)?;
        line.push(b'\n');
        self.to.write_all(&line)?;
        self.to.flush()?;
        let mut answer = String::new();
        io::BufRead::read_line(&mut self.from, &mut answer)?;
        serde_json::from_str(&answer).map_err(|e| {
            io::Error::other(format!(
                "the run supervisor failed: {e} (it answered {:?})",
                answer.trim()
            ))
        })
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Closing its stdin ends the supervisor's loop; then reap it.
        let (dummy_r, _) = match nix::unistd::pipe() {
            Ok(p) => p,
            Err(_) => return,
        };
        drop(std::mem::replace(
            &mut self.to,
            std::process::ChildStdin::from(dummy_r),
        ));
        let _ = self.child.wait();
    }
}

/// The argument that makes the grader binary act as a supervisor.
pub const SUPERVISE_ARG: &str = "__supervise";

/// The entry point of the hidden `__supervise` subcommand. Call it first
/// thing in `main`, before any thread is started, when the first argument
/// is `__supervise`. Reads one [`RunSpec`] as JSON per line on stdin and
/// answers each with one [`RunOutcome`] as JSON on a line of stdout, until
/// stdin ends. Never returns.
pub fn supervise_main() -> ! {
    let setup = Setup::new();
    let stdin = io::stdin();
    let mut stdout = io::stdout();
    for line in io::BufRead::lines(stdin.lock()) {
        let Ok(line) = line else { break };
        let outcome = serde_json::from_str::<RunSpec>(&line)
            .map_err(|e| e.to_string())
            .and_then(|spec| supervise(&spec, &setup).map_err(|e| e.to_string()));
        let json = match outcome {
            Ok(outcome) => serde_json::to_string(&outcome).expect("outcome serializes"),
            Err(e) => serde_json::to_string(&format!("supervisor error: {e}"))
                .expect("a string serializes"),
        };
        if writeln!(stdout, "{json}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    drop(setup);
    std::process::exit(0)
}

/// What a supervisor sets up once for all its runs.
struct Setup {
    cgroup: Option<PidsCgroup>,
    warnings: Vec<String>,
}

impl Setup {
    fn new() -> Setup {
        let mut warnings = Vec::new();
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            warnings.push(format!(
                "could not become a child subreaper ({}): orphaned grandchildren may escape",
                io::Error::last_os_error()
            ));
        }
        // Only the grader (our parent) or the terminal (the kernel) may
        // stop us: a supervised program that signals its parent is ignored.
        GRADER.store(nix::unistd::getppid().as_raw(), Ordering::Relaxed);
        let action = signal::SigAction::new(
            SigHandler::SigAction(on_interrupt),
            signal::SaFlags::SA_SIGINFO,
            signal::SigSet::empty(),
        );
        for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            // SAFETY: the handler only reads its siginfo and stores to atomics.
            let _ = unsafe { signal::sigaction(sig, &action) };
        }
        // The supervisor itself moves to an empty network namespace, so every
        // program it runs has no network (only a loopback that is down).
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
            warnings.push(format!(
                "network not isolated: no new network namespace here ({e})"
            ));
        }
        // The supervisor joins its run's pids cgroup once, and every program
        // it forks is born inside: moving each program in after `fork`
        // would cost a cgroup migration (most of a millisecond) per run.
        let cgroup = match PidsCgroup::create().and_then(|cg| cg.join_self().map(|()| cg)) {
            Ok(cg) => Some(cg),
            Err(e) => {
                warnings.push(format!(
                    "process cap not enforced: no pids cgroup here ({e})"
                ));
                None
            }
        };
        Setup { cgroup, warnings }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The grader's pid: the only process whose signals stop us.
static GRADER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_interrupt(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo.
    let (code, sender) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // SI_USER is kill(2) from a process: accept it from the grader only.
    // Anything else (SI_KERNEL: Ctrl-C at the terminal) is the user's.
    if code != libc::SI_USER || sender == GRADER.load(Ordering::Relaxed) {
        INTERRUPTED.store(true, Ordering::Relaxed);
    }
}

/// Everything the child needs, prepared before `fork` so that the child
/// only makes system calls.
struct Prepared {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: Option<CString>,
    /// The processes of this user now, when the user is not root (for
    /// RLIMIT_NPROC, which root ignores).
    user_processes: Option<u64>,
}

fn prepare(spec: &RunSpec) -> io::Result<Prepared> {
    let cstr =
        |b: &[u8]| CString::new(b).map_err(|_| io::Error::other("NUL byte in the run's spec"));
    let program = cstr(spec.program.as_os_str().as_bytes())?;
    let mut argv = vec![program.clone()];
    for a in &spec.args {
        argv.push(cstr(a.as_bytes())?);
    }
    let mut env: HashMap<Vec<u8>, Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    for (k, v) in &spec.env {
        env.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
    }
    let mut envp = Vec::new();
    for (k, v) in env {
        let mut kv = k;
        kv.push(b'=');
        kv.extend(v);
        envp.push(cstr(&kv)?);
    }
    let cwd = match &spec.cwd {
        Some(d) => Some(cstr(d.as_os_str().as_bytes())?),
        None => None,
    };
    Ok(Prepared {
        program,
        argv,
        envp,
        cwd,
        user_processes: user_processes(),
    })
}

/// How many processes (threads included, as RLIMIT_NPROC counts them)
/// the real user has, unless it is root.
fn user_processes() -> Option<u64> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    if uid == 0 {
        return None;
    }
    let mut count = 0;
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let mine = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .is_some_and(|u| u == uid.to_string());
        if mine {
            count += status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(1);
        }
    }
    Some(count)
}

fn supervise(spec: &RunSpec, setup: &Setup) -> io::Result<RunOutcome> {
    let mut warnings = setup.warnings.clone();
    let cgroup = match spec.limits.max_processes {
        Some(max) => setup.cgroup.as_ref().filter(|cg| match cg.set_max(max) {
            Ok(()) => true,
            Err(e) => {
                warnings.push(format!("process cap not enforced: {e}"));
                false
            }
        }),
        None => None,
    };
    let prepared = prepare(spec)?;
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // The child reports what it could not set up, and a failed exec, on
    // this pipe; a successful exec closes it (O_CLOEXEC).
    let (note_r, note_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let start = Instant::now();
    // SAFETY: this process is single-threaded (`supervise_main` runs before
    // any thread is started), and the child only makes system calls on
    // data prepared above.
    let child = match unsafe { fork() }? {
        ForkResult::Child => exec_child(spec, &prepared, cgroup, &out_w, &err_w, &note_w),
        ForkResult::Parent { child } => child,
    };
    drop((out_w, err_w, note_w));
    let mut notes = String::new();
    let _ = fs::File::from(note_r).read_to_string(&mut notes);
    warnings.extend(notes.lines().filter(|l| !l.is_empty()).map(str::to_string));

    let mut out = Capture::new(out_r, spec.limits.output_cap);
    let mut err = Capture::new(err_r, spec.limits.output_cap);
    // A pidfd becomes readable when the child ends, so one poll waits for
    // output, the end, and the deadline together.
    let exited = pidfd_open(child);
    let deadline = start + spec.limits.timeout;
    let mut status = None;
    let mut ending = None;
    while status.is_none() && ending.is_none() {
        if INTERRUPTED.load(Ordering::Relaxed) {
            ending = Some(Ending::Interrupted);
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            ending = Some(Ending::TimedOut);
            break;
        }
        pump(&mut out, &mut err, exited.as_ref(), deadline - now);
        if out.total + err.total > spec.limits.output_kill {
            ending = Some(Ending::OutputFlood);
            break;
        }
        status = match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => None,
            Ok(WaitStatus::Exited(_, code)) => Some(Ending::Exited { code }),
            Ok(WaitStatus::Signaled(_, sig, _)) => Some(Ending::Signaled {
                signal: sig as i32,
                name: sig.as_str().to_string(),
            }),
            Ok(_) => None,
            Err(e) => return Err(e.into()),
        };
    }
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    let tree = tree_pids(child, cgroup);
    let stuck = if ending == Some(Ending::TimedOut) {
        tree.iter().filter_map(|&p| proc_info(p)).collect()
    } else {
        Vec::new()
    };
    let leftovers = if status.is_some() {
        tree.iter()
            .filter(|&&p| p != child.as_raw())
            .filter_map(|&p| proc_info(p))
            .filter(|p| p.state != "Z")
            .collect()
    } else {
        Vec::new()
    };
    kill_tree(child, cgroup);
    // What the tree wrote before it died is still in the pipes.
    pump(&mut out, &mut err, None, Duration::ZERO);
    let ending = match (ending, status) {
        (Some(e), _) => e,
        (None, Some(s)) => s,
        (None, None) => unreachable!("the loop ends with an ending or a status"),
    };
    let limit_hit = limit_hit(&ending, &spec.limits, &err.kept, cgroup);
    Ok(RunOutcome {
        ending,
        stdout: String::from_utf8_lossy(&out.kept).into_owned(),
        stderr: String::from_utf8_lossy(&err.kept).into_owned(),
        stdout_bytes: out.total,
        stderr_bytes: err.total,
        elapsed_ms,
        stuck,
        leftovers,
        limit_hit,
        warnings,
    })
}

/// In the forked child: isolate, limit, and `exec` the program.
fn exec_child(
    spec: &RunSpec,
    p: &Prepared,
    cgroup: Option<&PidsCgroup>,
    out: &OwnedFd,
    err: &OwnedFd,
    note: &OwnedFd,
) -> ! {
    let say = |msg: &str| {
        let _ = nix::unistd::write(note, msg.as_bytes());
        let _ = nix::unistd::write(note, b"\n");
    };
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    use nix::sys::resource::{setrlimit, Resource};
    // Without a pids cgroup, RLIMIT_NPROC caps processes for a user other
    // than root (it counts all of the user's processes: the cap is on top
    // of those alive now, counted before the fork).
    if cgroup.is_none() {
        if let (Some(max), Some(now)) = (spec.limits.max_processes, p.user_processes) {
            let cap = now + u64::from(max);
            if let Err(e) = setrlimit(Resource::RLIMIT_NPROC, cap, cap) {
                say(&format!("process limit not set ({e})"));
            }
        }
    }
    let limits = [
        (
            Resource::RLIMIT_AS,
            spec.limits.address_space,
            "address space",
        ),
        (Resource::RLIMIT_CPU, spec.limits.cpu_seconds, "CPU time"),
        (Resource::RLIMIT_FSIZE, spec.limits.file_size, "file size"),
        (
            Resource::RLIMIT_NOFILE,
            spec.limits.open_files,
            "open files",
        ),
    ];
    for (resource, value, name) in limits {
        if let Some(v) = value {
            if let Err(e) = setrlimit(resource, v, v) {
                say(&format!("{name} limit not set ({e})"));
            }
        }
    }
    // The program's stdin is empty; its stdout and stderr go to our pipes.
    if let Ok(null) = fs::File::open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(null.as_fd());
    }
    let _ = nix::unistd::dup2_stdout(out.as_fd());
    let _ = nix::unistd::dup2_stderr(err.as_fd());
    // Signals the supervisor ignores or handles must be default again.
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGPIPE,
    ] {
        // SAFETY: restoring the default disposition.
        let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
    }
    if let Some(dir) = &p.cwd {
        if let Err(e) = nix::unistd::chdir(dir.as_c_str()) {
            say(&format!("could not enter {dir:?}: {e}"));
            // SAFETY: leaving the forked child without running destructors.
            unsafe { libc::_exit(127) };
        }
    }
    let e = nix::unistd::execve(&p.program, &p.argv, &p.envp).unwrap_err();
    say(&format!("could not run {:?}: {e}", p.program));
    // SAFETY: as above.
    unsafe { libc::_exit(127) }
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
        let mut buf = [0u8; 16 * 1024];
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

/// Waits up to `wait` for output or for the child's end (`exited`), then
/// reads what is there.
fn pump(out: &mut Capture, err: &mut Capture, exited: Option<&OwnedFd>, wait: Duration) {
    let mut fds = Vec::new();
    for fd in [out.fd.as_ref(), err.fd.as_ref(), exited]
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
}

/// An fd that becomes readable when `pid` ends (Linux 5.3 and later).
fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative return is a fresh fd that we now own.
    (fd >= 0).then(|| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
}

/// Every live process of the run: the cgroup's members where there is a
/// cgroup, else the program's process group and every descendant of the
/// supervisor (a subreaper, so orphans stay its descendants).
fn tree_pids(child: Pid, cgroup: Option<&PidsCgroup>) -> BTreeSet<i32> {
    if let Some(cg) = cgroup {
        // Every process the program made is in its cgroup, whatever
        // process group or parent it has now.
        return cg.members();
    }
    let mut pids = BTreeSet::new();
    let me = std::process::id() as i32;
    let table = process_table();
    let mut frontier = vec![me];
    while let Some(parent) = frontier.pop() {
        for (&pid, &(ppid, _)) in &table {
            if ppid == parent && pids.insert(pid) {
                frontier.push(pid);
            }
        }
    }
    for (&pid, &(_, pgid)) in &table {
        if pgid == child.as_raw() {
            pids.insert(pid);
        }
    }
    pids.remove(&me);
    pids
}

/// pid -> (ppid, pgid) for every process on the machine.
fn process_table() -> HashMap<i32, (i32, i32)> {
    let mut table = HashMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return table;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some((_, _, ppid, pgid)) = read_stat(pid) {
            table.insert(pid, (ppid, pgid));
        }
    }
    table
}

/// (comm, state, ppid, pgid) from `/proc/PID/stat`.
fn read_stat(pid: i32) -> Option<(String, String, i32, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let mut rest = stat[close + 2..].split_whitespace();
    let state = rest.next()?.to_string();
    let ppid = rest.next()?.parse().ok()?;
    let pgid = rest.next()?.parse().ok()?;
    Some((comm, state, ppid, pgid))
}

fn proc_info(pid: i32) -> Option<ProcInfo> {
    let (name, state, _, _) = read_stat(pid)?;
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

/// Kills every process of the run and reaps every child, until none is
/// left. A fork bomb may fork while we kill, so this repeats until a pass
/// finds nothing (bounded, in case something is unkillable).
fn kill_tree(child: Pid, cgroup: Option<&PidsCgroup>) {
    for _ in 0..1000 {
        let _ = signal::killpg(child, Signal::SIGKILL);
        let pids = tree_pids(child, cgroup);
        for &pid in &pids {
            let _ = signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // Reap every child we have (the program, and orphans given to us).
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        let alive = pids
            .iter()
            .any(|&p| read_stat(p).is_some_and(|(_, s, _, _)| s != "Z"));
        if pids.is_empty() || (!alive && no_children()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn no_children() -> bool {
    matches!(
        waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)),
        Err(Errno::ECHILD)
    )
}

fn limit_hit(
    ending: &Ending,
    limits: &Limits,
    stderr: &[u8],
    cgroup: Option<&PidsCgroup>,
) -> Option<String> {
    if let Some(cg) = cgroup {
        if cg.limit_reached() {
            return Some(format!("process limit ({} at once) reached", cg.max.get()));
        }
    }
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

/// A pids cgroup of one run: caps its process count, and lists every
/// member even if it left the process group.
struct PidsCgroup {
    /// The hierarchy's root, where the supervisor goes back when done.
    root: PathBuf,
    dir: PathBuf,
    max: std::cell::Cell<u32>,
    /// `pids.events`' count of refused forks when the current run began.
    refused_before: std::cell::Cell<u64>,
}

impl PidsCgroup {
    fn create() -> io::Result<PidsCgroup> {
        let root = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
            .into_iter()
            .map(Path::new)
            .find(|p| {
                p.join("cgroup.procs").exists()
                    && (p.ends_with("pids") || p.join("cgroup.controllers").exists())
            })
            .ok_or_else(|| io::Error::other("no pids controller mounted"))?;
        let dir = root.join(format!("course-grader-{}", std::process::id()));
        fs::create_dir(&dir)?;
        Ok(PidsCgroup {
            root: root.to_path_buf(),
            dir,
            max: std::cell::Cell::new(0),
            refused_before: std::cell::Cell::new(0),
        })
    }

    fn set_max(&self, max: u32) -> io::Result<()> {
        // One more for the supervisor, which is a member too.
        fs::write(self.dir.join("pids.max"), (max + 1).to_string())?;
        self.max.set(max);
        self.refused_before.set(self.refused());
        Ok(())
    }

    fn refused(&self) -> u64 {
        fs::read_to_string(self.dir.join("pids.events"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }

    fn join_self(&self) -> io::Result<()> {
        fs::write(
            self.dir.join("cgroup.procs"),
            std::process::id().to_string(),
        )
    }

    /// The run's processes: every member but the supervisor itself.
    fn members(&self) -> BTreeSet<i32> {
        let me = std::process::id() as i32;
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .filter(|&pid| pid != me)
            .collect()
    }

    fn limit_reached(&self) -> bool {
        self.refused() > self.refused_before.get()
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // Leave it (back to the hierarchy's root), then remove it: empty
        // once `kill_tree` has reaped everything; retry briefly for the
        // kernel to let go of exiting tasks.
        let _ = fs::write(
            self.root.join("cgroup.procs"),
            std::process::id().to_string(),
        );
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

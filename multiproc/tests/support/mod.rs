//! A tiny test harness for tests that fork.
//!
//! libtest runs tests on threads, and `fork` from a threaded process is
//! unsafe (a lock another thread held stays locked forever in the child). So
//! every test file of this crate is a plain `main` (`harness = false`) that
//! hands its cases to [`run`]. Each case runs in a process of its own:
//!
//! - forked from the single-threaded harness, in a new process group, so a
//!   case may configure the scheduler or the trace (once per process) without
//!   touching the next case;
//! - under a deadline (20 s, or `MULTIPROC_TEST_DEADLINE_SECS`): a case that
//!   hangs is killed with its whole process group and reported as a
//!   failure, never a hang of `cargo test`;
//! - checked for leaks: a case that leaves a process running fails, and the
//!   harness (a child subreaper) kills and reaps whatever is left.
//!
//! Output: one line per case, then `N passed, M failed`; the exit code is 1
//! when anything failed.
//!
//! Arguments: a bare word runs only the cases whose name contains it;
//! `--exact NAME` runs that case; `--list` lists the cases (`NAME: test`, as
//! libtest does); any other `--flag` cargo passes is ignored.

#![allow(dead_code)] // each test file uses a different part of this module

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::time::{Duration, Instant};

use multiproc::{ExitStatus, Process};
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// What a case returns: `Err` carries the reason it failed.
pub type Outcome = Result<(), String>;

/// One test case.
pub struct Case {
    /// Its name, as printed and as filtered on.
    pub name: &'static str,
    /// The test itself; runs in a process of its own.
    pub run: fn() -> Outcome,
}

impl Case {
    pub const fn new(name: &'static str, run: fn() -> Outcome) -> Case {
        Case { name, run }
    }
}

/// How long one case may take before it is killed as hung: 20 seconds, or
/// `MULTIPROC_TEST_DEADLINE_SECS`.
pub fn case_deadline() -> Duration {
    let secs = std::env::var("MULTIPROC_TEST_DEADLINE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(20.0);
    Duration::from_secs_f64(secs)
}

/// The environment variable that makes the test binary run one helper mode
/// instead of its cases (see [`self_command`]).
pub const MODE_ENV: &str = "MULTIPROC_TEST_MODE";

/// Fails the case with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("{} [{}:{}]", format!($($fmt)+), file!(), line!()));
        }
    };
}

/// Fails the case unless `left == right`, showing both.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    return Err(format!(
                        "{}: expected {:?}, saw {:?} [{}:{}]",
                        format!($($fmt)+), r, l, file!(), line!()
                    ));
                }
            }
        }
    };
}

/// The helper mode this binary was started in, if any.
pub fn child_mode() -> Option<String> {
    std::env::var(MODE_ENV).ok().filter(|m| !m.is_empty())
}

/// A command that runs this very test binary in helper mode `mode`.
pub fn self_command(mode: &str) -> std::process::Command {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = std::process::Command::new(exe);
    cmd.env(MODE_ENV, mode);
    cmd.env_remove("MULTIPROC_SCHED");
    cmd.env_remove("MULTIPROC_TIME_SCALE");
    cmd
}

/// Runs `cmd` to completion within `within`, killing it on timeout, and
/// returns its exit status and stdout.
pub fn output_within(
    mut cmd: std::process::Command,
    within: Duration,
) -> Result<(std::process::ExitStatus, String), String> {
    cmd.stdout(std::process::Stdio::piped());
    cmd.stdin(std::process::Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot spawn {cmd:?}: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let fd = stdout.as_raw_fd();
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !poll_readable(fd, left) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{cmd:?} did not finish within {within:?}; killed it"
            ));
        }
        match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the output of {cmd:?}: {e}")),
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok((status, String::from_utf8_lossy(&out).into_owned()))
}

fn poll_readable(fd: i32, within: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = within.as_millis().clamp(1, i32::MAX as u128) as i32;
    loop {
        // SAFETY: `pfd` is one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc >= 0 {
            return rc > 0;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// Polls `cond` every millisecond until it holds or `within` has passed.
pub fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether the (unjoined) child `pid` has ended, without reaping it, so
/// that `Process::join` can still collect its status.
pub fn has_ended(pid: i32) -> bool {
    matches!(
        waitid(
            Id::Pid(Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT,
        ),
        Ok(status) if status != WaitStatus::StillAlive
    )
}

/// Joins `p` if it ends within `within`; otherwise kills it, joins it, and
/// fails.
pub fn join_within(p: &mut Process, within: Duration) -> Result<ExitStatus, String> {
    if p.exit_status().is_none() && !wait_until(within, || has_ended(p.pid())) {
        let _ = kill(Pid::from_raw(p.pid()), Signal::SIGKILL);
        let _ = p.join();
        return Err(format!(
            "process {:?} (pid {}) did not end within {within:?}; killed it",
            p.name(),
            p.pid()
        ));
    }
    p.join().map_err(|e| format!("join {:?}: {e}", p.name()))
}

/// The children a case started. Whatever is not joined when this is
/// dropped (a case that failed half-way) is killed and reaped, so a failing
/// case never leaves a process behind and never hangs in `Process::drop`.
#[derive(Default)]
pub struct Kids(pub Vec<Process>);

impl Kids {
    pub fn new() -> Kids {
        Kids(Vec::new())
    }

    /// Starts a child and keeps it; returns its index.
    pub fn start<F: FnOnce()>(&mut self, name: &str, task: F) -> Result<usize, String> {
        let p = Process::start(name, task).map_err(|e| format!("start {name:?}: {e}"))?;
        self.0.push(p);
        Ok(self.0.len() - 1)
    }

    pub fn pid(&self, i: usize) -> i32 {
        self.0[i].pid()
    }

    /// Joins child `i` within `within` (see [`join_within`]).
    pub fn join(&mut self, i: usize, within: Duration) -> Result<ExitStatus, String> {
        join_within(&mut self.0[i], within)
    }

    /// Joins every child with `Process::join`, which under the controlled
    /// scheduler is a scheduling point that lets the children run. (Polling
    /// with [`join_within`] would keep the token and hang a controlled run;
    /// there the deadline of [`run_isolated`] bounds the wait instead.)
    pub fn join_all_scheduled(&mut self) -> Result<Vec<ExitStatus>, String> {
        self.0
            .iter_mut()
            .map(|p| p.join().map_err(|e| format!("join {:?}: {e}", p.name())))
            .collect()
    }

    /// Joins every child within one shared deadline (free and perturb
    /// modes only: see [`Kids::join_all_scheduled`]).
    pub fn join_all(&mut self, within: Duration) -> Result<Vec<ExitStatus>, String> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        for p in &mut self.0 {
            let left = deadline.saturating_duration_since(Instant::now());
            out.push(join_within(p, left)?);
        }
        Ok(out)
    }
}

impl Drop for Kids {
    fn drop(&mut self) {
        for p in &mut self.0 {
            if p.exit_status().is_none() {
                let _ = kill(Pid::from_raw(p.pid()), Signal::SIGKILL);
                let _ = p.join();
            }
        }
    }
}

/// What the kernel says a process is doing: its state letter (`R`, `S`,
/// `D`, `Z`...), the kernel function it sleeps in (`wchan`), and the
/// system call it is blocked in, if any.
#[derive(Debug)]
pub struct ProcState {
    pub state: char,
    pub wchan: String,
    pub syscall: Option<i64>,
}

pub fn proc_state(pid: i32) -> Option<ProcState> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(") ")?.1.chars().next()?;
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()));
    Some(ProcState {
        state,
        wchan,
        syscall,
    })
}

impl ProcState {
    /// Asleep in a futex wait (a blocked lock acquire).
    pub fn in_futex_wait(&self) -> bool {
        self.state == 'S' && (self.wchan.contains("futex") || self.syscall == Some(libc::SYS_futex))
    }

    /// Asleep in the kernel, in a pipe read or a futex wait: blocked in
    /// `Queue::get` (on the pipe, or on the queue's read lock).
    pub fn blocked_in_get(&self) -> bool {
        let in_call = self.wchan.contains("pipe")
            || self.wchan.contains("futex")
            || self.syscall == Some(libc::SYS_read)
            || self.syscall == Some(libc::SYS_futex);
        self.state == 'S' && in_call
    }
}

static OUT_FD: AtomicI32 = AtomicI32::new(-1);

/// Writes `text` to the pipe [`run_isolated`] reads, from any process
/// of the isolated run (also from a deadlock handler).
pub fn emit(text: &str) {
    let fd = OUT_FD.load(Relaxed);
    if fd < 0 {
        return;
    }
    let mut bytes = text.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: `fd` is the write end of the pipe, open in this process.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Runs `scenario` in a child process of its own (so it may configure the
/// scheduler, which can be set only once per process), and returns how the
/// child ended and everything its processes passed to [`emit`]. Bounded by
/// `within`: on timeout the child is killed and the call fails.
pub fn run_isolated(
    name: &str,
    scenario: impl FnOnce(),
    within: Duration,
) -> Result<(ExitStatus, String), String> {
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    let write_fd = write_end.as_raw_fd();
    let mut kids = Kids::new();
    let i = kids.start(name, || {
        OUT_FD.store(write_fd, Relaxed);
        scenario();
    })?;
    drop(write_end);
    let mut file = std::fs::File::from(read_end);
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !poll_readable(file.as_raw_fd(), left) {
            return Err(format!(
                "isolated run {name:?} did not finish within {within:?}; killed it"
            ));
        }
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading from {name:?}: {e}")),
        }
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let status = kids.join(i, left.max(Duration::from_millis(100)))?;
    Ok((status, String::from_utf8_lossy(&out).into_owned()))
}

/// Runs `cases` (honouring the command line's filter) and exits.
pub fn run(cases: &[Case]) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            for c in cases {
                println!("{}: test", c.name);
            }
        }
        std::process::exit(0);
    }
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        c.name == f.as_str()
                    } else {
                        c.name.contains(f.as_str())
                    }
                })
        })
        .collect();

    // Orphans of a case (children it failed to reap) are re-parented to us,
    // so that we can find, kill and reap them.
    let _ = nix::sys::prctl::set_child_subreaper(true);

    println!("running {} cases", selected.len());
    let (mut passed, mut failed) = (0, 0);
    for case in selected {
        let started = Instant::now();
        let result = run_case(case);
        let ms = started.elapsed().as_millis();
        match result {
            Ok(()) => {
                passed += 1;
                println!("ok     {} ({ms} ms)", case.name);
            }
            Err(why) => {
                failed += 1;
                println!("FAILED {} ({ms} ms): {why}", case.name);
            }
        }
        let _ = std::io::stdout().flush();
    }
    println!("{passed} passed, {failed} failed");
    let _ = std::io::stdout().flush();
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

fn run_case(case: &Case) -> Outcome {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    // SAFETY: the harness is single-threaded; the child runs the case and
    // leaves with `_exit`.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(read_end);
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            let result = panic::catch_unwind(AssertUnwindSafe(case.run));
            let (code, msg) = match result {
                Ok(Ok(())) => (0, String::new()),
                Ok(Err(why)) => (1, why),
                Err(p) => (1, format!("panicked: {}", panic_text(&*p))),
            };
            let _ = std::io::stdout().flush();
            let mut out = std::fs::File::from(write_end);
            let _ = out.write_all(msg.as_bytes());
            drop(out);
            // SAFETY: leave at once; nothing of the harness runs twice.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let _ = nix::unistd::setpgid(child, child);
            let limit = case_deadline();
            let deadline = Instant::now() + limit;
            let status = loop {
                match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) => {}
                    Ok(s) => break Some(s),
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        cleanup_group(child);
                        return Err(format!("waitpid: {e}"));
                    }
                }
                if Instant::now() >= deadline {
                    let _ = killpg(child, Signal::SIGKILL);
                    let _ = waitpid(child, None);
                    break None;
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            let leaked = cleanup_group(child);
            let msg = read_all(read_end);
            match status {
                None => Err(format!(
                    "hung: did not finish within {limit:?}; killed its process group"
                )),
                Some(WaitStatus::Exited(_, 0)) if leaked > 0 => Err(format!(
                    "left {leaked} process(es) running after it returned (killed them)"
                )),
                Some(WaitStatus::Exited(_, 0)) => Ok(()),
                Some(WaitStatus::Exited(_, _)) if !msg.is_empty() => Err(msg),
                Some(other) => Err(format!(
                    "the case's process ended abnormally: {other:?} {msg}"
                )),
            }
        }
    }
}

/// Kills and reaps whatever is left of the case's process group. Returns
/// how many processes were still alive.
fn cleanup_group(pgid: Pid) -> usize {
    reap_orphans();
    let mut leaked = 0;
    if killpg(pgid, None).is_ok() {
        leaked = count_group(pgid).max(1);
        let _ = killpg(pgid, Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while killpg(pgid, None).is_ok() && Instant::now() < deadline {
            reap_orphans();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    reap_orphans();
    leaked
}

fn count_group(pgid: Pid) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(") ")?.1.to_string();
                    let mut f = rest.split_whitespace();
                    let state = f.next()?;
                    let _ppid = f.next()?;
                    let pgrp: i32 = f.next()?.parse().ok()?;
                    Some(pgrp == pgid.as_raw() && state != "Z")
                })
                .unwrap_or(false)
        })
        .count()
}

fn reap_orphans() {
    while let Ok(s) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if s == WaitStatus::StillAlive {
            break;
        }
    }
}

fn read_all(fd: OwnedFd) -> String {
    let mut file = std::fs::File::from(fd);
    // Every writer is gone (the group was killed); O_NONBLOCK makes sure a
    // stray one could not make this wait.
    // SAFETY: reading and setting the flags of our own open descriptor.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut s = Vec::new();
    let _ = file.read_to_end(&mut s);
    String::from_utf8_lossy(&s).into_owned()
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// A start line for `n` processes, made of shared flags: each process
/// raises its own flag, then waits until every flag is up, so that workers
/// started one after the other really run side by side. Waits at most
/// 5 seconds (then panics, failing the process that waited).
pub struct StartLine {
    flags: Vec<multiproc::Value<u8>>,
}

impl StartLine {
    pub fn new(n: usize) -> StartLine {
        StartLine {
            flags: (0..n)
                .map(|i| {
                    multiproc::Value::with_label(0u8, &format!("start-line.{i}")).expect("value")
                })
                .collect(),
        }
    }

    /// Raises flag `me` and waits for the others.
    pub fn arrive(&self, me: usize) {
        self.flags[me].store(1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.flags.iter().any(|f| f.load() == 0) {
            assert!(
                Instant::now() < deadline,
                "start line: the others never arrived"
            );
            std::thread::yield_now();
        }
    }
}

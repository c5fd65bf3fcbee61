//! The grader's end of a box: start its supervisor, ask, wait (never for
//! ever), and end it.
//!
//! A [`BoxHandle`] owns one supervisor process, the control group that
//! bounds its box, and the two pipes to it. Every answer has a deadline:
//! a supervisor that does not answer in time (stopped, dead, or broken)
//! costs the request in progress, and is killed; the caller makes a new
//! one. Killing the supervisor's go-between ends the box: its init dies
//! with it, and with the init, every process of the box.
//!
//! Every live box is listed in a registry, so that an interrupt (Ctrl-C)
//! can end them all at once (see [`kill_all`]).

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::cgroup::{Group, GroupLimits};
use super::sandbox::{BoxSpec, Isolation};
use super::supervise::{Answer, Request, SUPERVISE_ARG};

/// How long a supervisor may take to set its box up.
const SETUP: Duration = Duration::from_secs(20);

/// The pids of every live supervisor of this grader.
static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Kills every live box (on an interrupt): their requests in progress
/// fail, and their callers see the interrupt.
pub fn kill_all() {
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    for &pid in live.iter() {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

/// One box and its supervisor.
pub struct BoxHandle {
    child: Child,
    to: ChildStdin,
    from: ChildStdout,
    buf: Vec<u8>,
    group: Option<Group>,
    /// What the box could isolate, and the warnings about the rest.
    pub isolation: Isolation,
    refused_seen: u64,
    oom_seen: u64,
}

impl BoxHandle {
    /// Makes a box for `spec`, bounded as a whole by `limits` where the
    /// machine has control groups.
    pub fn start(mut spec: BoxSpec, limits: GroupLimits) -> io::Result<BoxHandle> {
        let mut warnings = Vec::new();
        let group = match Group::create(&spec.name.replace(' ', "-"), limits) {
            Ok(g) => {
                spec.cgroup_procs = g.procs_files();
                Some(g)
            }
            Err(e) => {
                warnings.push(format!(
                    "no control group for the box ({e}): no limit on its processes and memory as a whole"
                ));
                None
            }
        };
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg(SUPERVISE_ARG).env_clear();
        if let Some(mark) = std::env::var_os(super::runner::MARK_ENV) {
            cmd.env(super::runner::MARK_ENV, mark);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: only async-signal-safe calls between fork and exec: the
        // box ends with the grader's thread that made it, and is out of
        // reach of the terminal's Ctrl-C, which is the grader's to handle.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(child.id());
        let to = child.stdin.take().expect("piped");
        let from = child.stdout.take().expect("piped");
        let mut handle = BoxHandle {
            child,
            to,
            from,
            buf: Vec::new(),
            group,
            isolation: Isolation::default(),
            refused_seen: 0,
            oom_seen: 0,
        };
        let line = serde_json::to_string(&spec).map_err(io::Error::other)?;
        handle.send(&line)?;
        match handle.receive(SETUP)? {
            Answer::Ready(mut iso) => {
                iso.warnings.extend(warnings);
                handle.isolation = iso;
                Ok(handle)
            }
            Answer::Error { message } => Err(io::Error::other(message)),
            other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
        }
    }

    /// Sends `request` and waits at most `deadline` for the answer.
    pub fn ask(&mut self, request: &Request, deadline: Duration) -> io::Result<Answer> {
        let line = serde_json::to_string(request).map_err(io::Error::other)?;
        self.send(&line)?;
        self.receive(deadline)
    }

    fn send(&mut self, line: &str) -> io::Result<()> {
        self.to.write_all(line.as_bytes())?;
        self.to.write_all(b"\n")?;
        self.to.flush()
    }

    fn receive(&mut self, deadline: Duration) -> io::Result<Answer> {
        let end = Instant::now() + deadline;
        let mut answer: Option<Answer> = None;
        loop {
            if answer.is_none() {
                if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.buf.drain(..=nl).collect();
                    answer = Some(serde_json::from_slice(&line).map_err(|e| {
                        io::Error::other(format!("the box's supervisor answered nonsense ({e})"))
                    })?);
                }
            }
            // An outcome's report follows its line, as raw bytes.
            let want = match &answer {
                Some(Answer::Outcome(o)) => o.report_len.unwrap_or(0),
                _ => 0,
            };
            if let Some(a) = &mut answer {
                if self.buf.len() >= want {
                    if let Answer::Outcome(o) = a {
                        if o.report_len.is_some() {
                            let bytes: Vec<u8> = self.buf.drain(..want).collect();
                            o.report = Some(String::from_utf8_lossy(&bytes).into_owned());
                        }
                    }
                    return Ok(answer.take().expect("some"));
                }
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the box's supervisor did not answer within {:.0} s; it was stopped",
                        deadline.as_secs_f64()
                    ),
                ));
            }
            let mut fds = [PollFd::new(self.from.as_fd(), PollFlags::POLLIN)];
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            match poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            let mut chunk = [0u8; 64 * 1024];
            match nix::unistd::read(&self.from, &mut chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the box's supervisor ended without answering",
                    ))
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Which limit of the box's control group was reached since the last
    /// call, if one was: a refused fork, or a process killed for memory.
    pub fn group_limit_hit(&mut self) -> Option<String> {
        let group = self.group.as_ref()?;
        let (refused, oom) = (group.pids_refused(), group.oom_kills());
        let hit = if refused > self.refused_seen {
            // The supervisor and the fork server count too.
            Some(format!(
                "process limit ({} at once) reached",
                group.pid_limit().saturating_sub(2)
            ))
        } else if oom > self.oom_seen {
            Some(format!(
                "memory limit ({} MiB for the whole run) reached; the kernel killed a process",
                group.memory_limit() >> 20
            ))
        } else {
            None
        };
        self.refused_seen = refused;
        self.oom_seen = oom;
        hit
    }

    /// Ends the box now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.child.id());
    }
}

impl Drop for BoxHandle {
    fn drop(&mut self) {
        // Closing its stdin ends the supervisor's loop; it cleans up and
        // leaves. If it does not, it is killed.
        let (dummy, _) = match nix::unistd::pipe() {
            Ok(p) => p,
            Err(_) => return self.kill(),
        };
        drop(std::mem::replace(&mut self.to, ChildStdin::from(dummy)));
        let end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.kill();
        // The group goes last, once nothing is left in it.
        drop(self.group.take());
    }
}

//! Child processes: start one that runs a closure, join it, learn how it ended.
//!
//! [`Process::start`] calls `fork`. The child is a copy of the parent at that
//! moment: it sees every shared object made before the call, runs the
//! closure, and leaves with `_exit`, so that nothing the parent owns is
//! dropped or flushed a second time by the copy.

use std::fmt;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::sync::{Mutex, Once};

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::sched::{self, Op};
use crate::trace::{self, EventKind, ObjectId, ObjectKind};

/// The exit code of a child whose closure panicked.
pub const PANIC_EXIT_CODE: i32 = 101;

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It returned (or called `exit`) with this code; 0 means success.
    Exited(i32),
    /// A signal killed it (`SIGSEGV`, `SIGKILL`, ...).
    Signaled(Signal),
}

impl ExitStatus {
    /// True when the child exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(0) => write!(f, "exited normally"),
            ExitStatus::Exited(c) if *c == PANIC_EXIT_CODE => write!(f, "panicked (exit code {c})"),
            ExitStatus::Exited(c) => write!(f, "exited with code {c}"),
            ExitStatus::Signaled(s) => write!(f, "killed by {s}"),
        }
    }
}

/// A child process started by [`Process::start`].
///
/// Dropping a `Process` that was not joined waits for it, so that no child
/// is ever left behind as a zombie.
pub struct Process {
    name: String,
    pid: Pid,
    id: ObjectId,
    status: Option<ExitStatus>,
}

static PID: AtomicI32 = AtomicI32::new(0);
static NAME: Mutex<String> = Mutex::new(String::new());
static AT_FORK: Once = Once::new();

extern "C" fn forget_pid() {
    PID.store(0, Relaxed);
}

/// The pid of the calling process.
///
/// `getpid` is a system call; locks ask for the pid on every acquire, so it
/// is cached, and the cache is cleared in every child right after `fork`
/// (by a `pthread_atfork` handler, so even a `fork` made by other code
/// leaves no stale pid behind).
#[inline]
pub fn current_pid() -> i32 {
    let pid = PID.load(Relaxed);
    if pid != 0 {
        return pid;
    }
    fetch_pid()
}

#[cold]
fn fetch_pid() -> i32 {
    AT_FORK.call_once(|| {
        // SAFETY: `forget_pid` is async-signal-safe: one atomic store.
        unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
    });
    let pid = nix::unistd::getpid().as_raw();
    PID.store(pid, Relaxed);
    pid
}

/// The name of the calling process: `"MainProcess"` in the program you
/// started, or the name given to [`Process::start`] in a child.
pub fn current_name() -> String {
    let name = NAME.lock().unwrap_or_else(|e| e.into_inner());
    if name.is_empty() {
        "MainProcess".to_string()
    } else {
        name.clone()
    }
}

impl Process {
    /// Starts a child process named `name` that runs `task`, and returns at
    /// once in the parent.
    ///
    /// The child gets a copy of everything the closure borrows; only shared
    /// objects ([`Value`](crate::Value), [`Lock`](crate::Lock),
    /// [`Queue`](crate::Queue)) are seen by both sides afterwards. If `task`
    /// panics, the child exits with [`PANIC_EXIT_CODE`]; the panic never
    /// reaches the parent's code.
    ///
    /// Call it only from a single-threaded process: after `fork` the child
    /// has one thread, and a lock another thread held stays locked forever.
    pub fn start<F: FnOnce()>(name: &str, task: F) -> io::Result<Process> {
        // Anything still in our buffers would otherwise be printed twice:
        // once by us and once by the child's copy of the buffer.
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        let id = trace::register(ObjectKind::Process, name);
        let slot = sched::before_start();
        // SAFETY: the child only runs `task` and then `_exit`s; the
        // single-threaded requirement is documented above.
        match unsafe { fork() }.map_err(io::Error::from)? {
            ForkResult::Child => {
                forget_pid();
                *NAME.lock().unwrap_or_else(|e| e.into_inner()) = name.to_string();
                set_os_name(name);
                sched::child_started(slot);
                let code = match panic::catch_unwind(AssertUnwindSafe(task)) {
                    Ok(()) => 0,
                    Err(_) => PANIC_EXIT_CODE,
                };
                let _ = io::stdout().flush();
                let _ = io::stderr().flush();
                sched::child_exiting();
                // SAFETY: `_exit` ends the process at once, skipping the
                // destructors and atexit handlers that belong to the parent.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                sched::after_start(slot, child.as_raw());
                trace::record(EventKind::Start, id, child.as_raw() as i64);
                Ok(Process {
                    name: name.to_string(),
                    pid: child,
                    id,
                    status: None,
                })
            }
        }
    }

    /// The name given at start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's process id.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Waits for the child to end and says how it ended. Joining twice
    /// returns the same status.
    pub fn join(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        sched::point(Op::join(self.id));
        sched::wait_for_exit(self.pid.as_raw());
        let status = loop {
            match waitpid(self.pid, None) {
                Ok(WaitStatus::Exited(_, code)) => break ExitStatus::Exited(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => break ExitStatus::Signaled(sig),
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        trace::record(EventKind::Join, self.id, self.pid.as_raw() as i64);
        self.status = Some(status);
        Ok(status)
    }

    /// The status if the child has been joined.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.status
    }
}

/// Gives the process `name` in `ps`, `top` and `/proc/PID/comm` too (cut to
/// 15 bytes), so a stuck process can be named by whoever finds it.
fn set_os_name(name: &str) {
    let mut bytes = [0u8; 16];
    let n = name.len().min(15);
    bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, bytes.as_ptr()) };
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.status.is_none() {
            // Under the controlled scheduler the child must be let run to
            // its end first: a bare waitpid would keep the token forever.
            sched::wait_for_exit(self.pid.as_raw());
            let _ = waitpid(self.pid, None);
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Process({}, pid {})", self.name, self.pid)
    }
}

//! The fork server: how the grader runs a program many times without
//! starting it many times.
//!
//! The grader's run supervisor starts the program once with
//! `--serve FD`, FD being one end of a `SOCK_SEQPACKET` socket pair, and
//! then sends one request per run: a [`RunConfig`] as JSON, with three file
//! descriptors attached (`SCM_RIGHTS`): the run's stdout, its stderr, and
//! the write end of its report pipe. For each request the server forks a
//! fresh process for the run and answers with its pid.
//!
//! The run is forked twice (the server forks a go-between that forks the
//! run and exits at once), so that the run's parent becomes the
//! supervisor, the reaper of the sandbox: it waits for the run itself and
//! reads its exit status from the kernel, not from this program.
//!
//! No student code runs in the server: it only reads requests and forks.
//! A run closes the server's socket before anything else, so nothing the
//! run does can reach later requests; the server is also made
//! non-dumpable, so that a run (the same user) cannot read or write its
//! memory through `/proc`.

use std::io::{IoSliceMut, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use course_report::{ReportWriter, RunConfig};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use crate::common::{Program, Run};

/// Largest request read (a configuration with thousands of items fits).
const MAX_REQUEST: usize = 1 << 20;

/// Flushes the standard streams and ends the process at once, as every
/// process of a run must (`_exit`: nothing of a parent's is run twice).
pub fn leave(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` has no preconditions; it ends the process.
    unsafe { libc::_exit(code) }
}

/// Serves run requests on `fd` until the supervisor closes it.
pub fn serve(program: &Program, fd: RawFd, scenario: &dyn Fn(Run) -> u8) -> ! {
    // SAFETY: the supervisor passes this descriptor open, and nothing else
    // in the program owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes plain integers.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let mut buf = vec![0u8; MAX_REQUEST];
    loop {
        let (len, fds) = match receive(&socket, &mut buf) {
            Ok(Some(request)) => request,
            Ok(None) => leave(0),
            Err(e) => {
                eprintln!("{}: the fork server cannot read: {e}", program.exercise);
                leave(1)
            }
        };
        let answer = match (serde_json::from_slice::<RunConfig>(&buf[..len]), fds) {
            (Ok(config), Some(fds)) => match start(&socket, config, fds, program, scenario) {
                Ok(pid) => format!("{{\"pid\":{pid}}}"),
                Err(e) => error(&format!("cannot start the run: {e}")),
            },
            (Err(e), _) => error(&format!("bad request: {e}")),
            (_, None) => error("a request needs three descriptors: stdout, stderr, report"),
        };
        if nix::unistd::write(&socket, answer.as_bytes()).is_err() {
            leave(1);
        }
    }
}

fn error(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// One request: its length in `buf` and its three descriptors (if it
/// came with exactly three). `None` at the end of the stream.
fn receive(socket: &OwnedFd, buf: &mut [u8]) -> nix::Result<Option<(usize, Option<[OwnedFd; 3]>)>> {
    let mut space = nix::cmsg_space!([RawFd; 3]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = loop {
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other?,
        }
    };
    if msg.bytes == 0 {
        return Ok(None);
    }
    let mut fds: Vec<OwnedFd> = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = cmsg {
            // SAFETY: descriptors received with SCM_RIGHTS are new in this
            // process and owned by nobody else.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let len = msg.bytes;
    Ok(Some((len, <[OwnedFd; 3]>::try_from(fds).ok())))
}

/// Forks the run (through a go-between, see the module docs) and returns
/// its pid.
fn start(
    socket: &OwnedFd,
    config: RunConfig,
    [stdout, stderr, report]: [OwnedFd; 3],
    program: &Program,
    scenario: &dyn Fn(Run) -> u8,
) -> Result<i32, String> {
    let (pid_r, pid_w) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    // SAFETY: the server is single-threaded; each child either `_exit`s
    // or runs the scenario and `_exit`s (see `run`).
    match unsafe { fork() }.map_err(|e| e.to_string())? {
        ForkResult::Child => {
            // SAFETY: as above.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    drop((pid_r, pid_w));
                    run(socket, config, [stdout, stderr, report], program, scenario)
                }
                Ok(ForkResult::Parent { child }) => {
                    let _ = nix::unistd::write(&pid_w, &child.as_raw().to_le_bytes());
                    leave(0)
                }
                Err(_) => leave(1),
            }
        }
        ForkResult::Parent { child } => {
            drop(pid_w);
            drop((stdout, stderr, report));
            let _ = waitpid(child, None);
            let mut bytes = [0u8; 4];
            match nix::unistd::read(&pid_r, &mut bytes) {
                Ok(4) => Ok(i32::from_le_bytes(bytes)),
                _ => Err("the run could not be forked".into()),
            }
        }
    }
}

/// What a run says before it leaves when the sandbox refuses one of its
/// system calls (seccomp's `SIGSYS`): the call's number, which the grader
/// names. The exit code is the one a shell gives a death by `SIGSYS`.
extern "C" fn on_refused_call(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands a SIGSYS handler a siginfo whose union holds
    // (call address, system call number, architecture); on 64-bit Linux
    // the number sits 24 bytes in.
    let number = unsafe { *(info as *const u8).add(24).cast::<i32>() };
    let mut line = *b"refused system call                \n";
    let mut digits = [0u8; 12];
    let (mut n, mut len) = (number.unsigned_abs(), 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = b"refused system call ".len();
    for i in 0..len {
        line[start + i] = digits[len - 1 - i];
    }
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, line.as_ptr().cast(), start + len);
        libc::write(2, b"\n".as_ptr().cast(), 1);
        libc::_exit(128 + libc::SIGSYS);
    }
}

/// Keeps the run's signals (and abstract sockets) inside the run: a
/// Landlock domain of the run's own, nested in the sandbox's, so that no
/// process of the run can signal the server or the supervisor. Best
/// effort: a kernel without Landlock scopes (before 6.12) skips it, and
/// the sandbox's own domain still keeps the run inside the box.
fn scope_the_run() {
    #[repr(C)]
    struct RulesetAttr {
        handled_access_fs: u64,
        handled_access_net: u64,
        scoped: u64,
    }
    const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1;
    const SCOPE_SIGNAL: u64 = 2;
    let attr = RulesetAttr {
        handled_access_fs: 0,
        handled_access_net: 0,
        scoped: SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL,
    };
    // SAFETY: landlock_create_ruleset reads `size` bytes of `attr`;
    // landlock_restrict_self takes the new descriptor, which is closed.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0u32,
        );
        if fd >= 0 {
            libc::syscall(libc::SYS_landlock_restrict_self, fd as i32, 0u32);
            libc::close(fd as i32);
        }
    }
}

/// In the run's process: let go of the server, take the run's streams,
/// run the scenario, leave.
fn run(
    socket: &OwnedFd,
    config: RunConfig,
    [stdout, stderr, report]: [OwnedFd; 3],
    program: &Program,
    scenario: &dyn Fn(Run) -> u8,
) -> ! {
    // The server's socket first: nothing the run does may reach it.
    let _ = nix::unistd::close(socket.as_raw_fd());
    let _ = nix::unistd::dup2_stdout(&stdout);
    let _ = nix::unistd::dup2_stderr(&stderr);
    drop((stdout, stderr));
    scope_the_run();
    // SAFETY: the handler only writes and leaves (async-signal-safe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_refused_call as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut());
    }
    let run = Run::start(program, config, ReportWriter::to_fd(report));
    let code = scenario(run);
    leave(code as i32)
}

//! Ctrl-C: stop, clean up, and report what is done.
//!
//! On SIGINT (or SIGTERM, or SIGHUP) the grader
//! 1. stops scheduling runs and builds ([`interrupted`] is checked before
//!    each one);
//! 2. ends every box it has (see [`slot::kill_all`](super::slot::kill_all)):
//!    the runs and builds in progress stop with their whole process trees;
//! 3. reports the runs that finished, marks the exercises it did not
//!    finish, and exits with status 130.
//!
//! Only the terminal (the kernel, on Ctrl-C) or the grader's own parent
//! may interrupt it: a signal sent by any other process is ignored, so a
//! graded program (which in any case runs in a box, as another user,
//! with no view of the grader) can never cut a session short to be
//! scored on the runs that finished. A second Ctrl-C ends the grader at
//! once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The exit status of an interrupted grader (128 + SIGINT, as shells do).
pub const EXIT_INTERRUPTED: u8 = 130;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static PARENT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo.
    let (code, sender) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // SI_USER is kill(2) from a process: the parent's only. Anything else
    // (SI_KERNEL: Ctrl-C at the terminal) is the user's.
    if code == libc::SI_USER && sender != PARENT.load(Ordering::SeqCst) {
        return;
    }
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // A second interrupt: leave at once, as promised.
        // SAFETY: restoring the default action and raising are
        // async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// Whether the grader has been interrupted.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Installs the handlers and starts the thread that ends the boxes once
/// interrupted. Call once, early in `main` (after the supervisor's entry
/// point has had its chance).
pub fn install() {
    PARENT.store(nix::unistd::getppid().as_raw(), Ordering::SeqCst);
    let action = SigAction::new(
        SigHandler::SigAction(on_signal),
        SaFlags::SA_SIGINFO | SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only reads its siginfo and stores to atomics.
        let _ = unsafe { signal::sigaction(sig, &action) };
    }
    let _ = std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(watch);
}

/// Waits for an interrupt, then ends every box (now and later).
fn watch() {
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if interrupted() {
            super::slot::kill_all();
        }
    }
}

//! Ctrl-C: stop, clean up, and report what is done.
//!
//! On SIGINT (or SIGTERM, or SIGHUP) the grader
//! 1. stops scheduling runs and builds ([`interrupted`] is checked before
//!    each one);
//! 2. passes SIGINT on to every process it started (its run supervisors
//!    and any cargo it runs): a supervisor that gets it ends the run in
//!    progress as [`Ending::Interrupted`](crate::run::supervise::Ending), killing
//!    and reaping its whole tree;
//! 3. reports the runs that finished, marks the exercises it did not
//!    finish, and exits with status 130.
//!
//! A second Ctrl-C ends the grader at once (the handler is reset by the
//! first): its supervisors, already told to stop, still clean up.
//!
//! From a terminal, Ctrl-C reaches the supervisors directly too (they are
//! in the grader's process group; the programs are not). Passing it on
//! covers `kill -INT` of the grader alone.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::Pid;

/// The exit status of an interrupted grader (128 + SIGINT, as shells do).
pub const EXIT_INTERRUPTED: u8 = 130;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether the grader has been interrupted.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Installs the handlers and starts the thread that passes the interrupt
/// on to the grader's children. Call once, early in `main` (after the
/// supervisor's entry point has had its chance).
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESETHAND | SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        let _ = unsafe { signal::sigaction(sig, &action) };
    }
    let _ = std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(watch);
}

/// Waits for an interrupt, then tells every child (now and later) to stop.
fn watch() {
    let mut told = BTreeSet::new();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if !interrupted() {
            continue;
        }
        for pid in crate::run::sweep::my_children() {
            if told.insert(pid) {
                let _ = signal::kill(Pid::from_raw(pid), Signal::SIGINT);
            }
        }
    }
}

/// Whether a run that ended as interrupted was stopped by this grader's
/// interrupt (and not by a program that signalled its supervisor): the
/// signal reaches the grader at about the time it reaches the supervisors,
/// so a moment's grace settles a race between them.
pub fn confirms() -> bool {
    for _ in 0..10 {
        if interrupted() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

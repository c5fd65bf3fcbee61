//! `Process` and `pause` on real `fork`: how children end, what they
//! print, who they are, and how the time scale shortens pauses.
//!
//! `harness = false`: see `support/mod.rs` for why and how cases are run.
//! Some cases run this binary again in a helper mode (`MULTIPROC_TEST_MODE`)
//! to look at its stdout or to give it a fresh environment.

#[macro_use]
mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use multiproc::process::PANIC_EXIT_CODE;
use multiproc::sched::{self, controlled::Strategy, Mode};
use multiproc::{current_name, current_pid, pause, time, ExitStatus, Process, Value};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use support::{emit, output_within, run_isolated, self_command, wait_until, Case, Kids, Outcome};

const CASES: &[Case] = &[
    Case::new(
        "panicking_child_exits_101_and_parent_goes_on",
        panicking_child_exits_101,
    ),
    Case::new(
        "signaled_and_exit_codes_are_reported",
        signaled_and_exit_codes_are_reported,
    ),
    Case::new(
        "buffered_stdout_is_printed_once",
        buffered_stdout_is_printed_once,
    ),
    Case::new("names_and_pids", names_and_pids),
    Case::new(
        "dropping_an_unjoined_process_reaps_it",
        dropping_an_unjoined_process_reaps_it,
    ),
    Case::new(
        "pause_scales_with_multiproc_time_scale",
        pause_scales_with_time_scale,
    ),
    Case::new("controlled_pause_is_logical", controlled_pause_is_logical),
];

fn main() {
    if let Some(mode) = support::child_mode() {
        helper_mode(&mode);
        std::process::exit(0);
    }
    support::run(CASES)
}

const JOIN: Duration = Duration::from_secs(10);

/// What this binary does when started with `MULTIPROC_TEST_MODE`.
fn helper_mode(mode: &str) {
    match mode.split_once(':').unwrap_or((mode, "")) {
        ("print-once", _) => print_once(),
        ("pause", ms) => {
            let ms: u64 = ms.parse().expect("pause:MS");
            let t = Instant::now();
            pause(Duration::from_millis(ms));
            println!("{} {}", t.elapsed().as_micros(), time::time_scale());
        }
        _ => panic!("unknown helper mode {mode:?}"),
    }
}

/// Prints unfinished lines around `Process::start` in parent and children.
/// A buffer copied by `fork` and flushed by both copies would show a text
/// twice; each text must appear once.
fn print_once() {
    std::panic::set_hook(Box::new(|_| {}));
    print!("parent-before ");
    let mut a = Process::start("a", || {
        print!("child-a-unfinished ");
        println!("child-a-line");
        print!("child-a-tail");
    })
    .unwrap();
    print!("parent-between ");
    let mut b = Process::start("b", || {
        print!("child-b-before-panic");
        panic!("b panics");
    })
    .unwrap();
    let sa = a.join().unwrap();
    let sb = b.join().unwrap();
    println!();
    println!("statuses {sa:?} {sb:?}");
    std::io::stdout().flush().unwrap();
}

/// A child that panics exits with code 101; the panic stays in the child,
/// and the parent carries on with its own state intact.
fn panicking_child_exits_101() -> Outcome {
    std::panic::set_hook(Box::new(|_| {})); // the panic below is expected
    let shared = Value::new(0u32).map_err(|e| e.to_string())?;
    let mut local = 1;
    let mut kids = Kids::new();
    let i = kids.start("panicker", || {
        shared.store(7);
        local = 2; // the child's copy only
        panic!("boom");
    })?;
    let status = kids.join(i, JOIN)?;
    ensure_eq!(
        status,
        ExitStatus::Exited(PANIC_EXIT_CODE),
        "status of a panicked child"
    );
    ensure_eq!(PANIC_EXIT_CODE, 101, "the documented code");
    ensure!(!status.success(), "a panic is not a success");
    ensure_eq!(
        status.to_string(),
        "panicked (exit code 101)".to_string(),
        "message"
    );
    ensure_eq!(
        shared.load(),
        7,
        "what the child stored before panicking stays"
    );
    ensure_eq!(local, 1, "the parent's own variables are untouched");
    ensure_eq!(
        current_name(),
        "MainProcess".to_string(),
        "the parent is still itself"
    );
    // And it can start more children afterwards.
    let j = kids.start("after", || shared.store(8))?;
    ensure_eq!(kids.join(j, JOIN)?, ExitStatus::Exited(0), "a later child");
    ensure_eq!(shared.load(), 8, "the later child ran");
    Ok(())
}

/// A child killed by a signal is `Signaled`; `exit(n)` is `Exited(n)`;
/// joining twice gives the same answer.
fn signaled_and_exit_codes_are_reported() -> Outcome {
    let mut kids = Kids::new();
    let sleeper = kids.start("sleeper", || loop {
        std::thread::sleep(Duration::from_millis(50));
    })?;
    let aborter = kids.start("aborter", || std::process::abort())?;
    let exiter = kids.start("exiter", || std::process::exit(7))?;
    let fine = kids.start("fine", || {})?;
    kill(Pid::from_raw(kids.pid(sleeper)), Signal::SIGTERM).map_err(|e| e.to_string())?;
    ensure_eq!(
        kids.join(sleeper, JOIN)?,
        ExitStatus::Signaled(Signal::SIGTERM),
        "killed with SIGTERM"
    );
    ensure_eq!(
        kids.join(aborter, JOIN)?,
        ExitStatus::Signaled(Signal::SIGABRT),
        "abort()"
    );
    ensure_eq!(kids.join(exiter, JOIN)?, ExitStatus::Exited(7), "exit(7)");
    ensure_eq!(kids.join(fine, JOIN)?, ExitStatus::Exited(0), "returned");
    ensure!(
        kids.0[fine].exit_status().is_some_and(|s| s.success()),
        "success()"
    );
    ensure_eq!(
        kids.0[exiter].join().map_err(|e| e.to_string())?,
        ExitStatus::Exited(7),
        "joined twice"
    );
    ensure_eq!(
        ExitStatus::Signaled(Signal::SIGKILL).to_string(),
        "killed by SIGKILL".to_string(),
        "message"
    );
    Ok(())
}

/// Runs `print-once` with stdout on a pipe (fully... line-buffered by
/// Rust, so unfinished lines sit in the buffer across `fork`) and counts.
fn buffered_stdout_is_printed_once() -> Outcome {
    let (status, out) = output_within(self_command("print-once"), JOIN)?;
    ensure!(
        status.success(),
        "helper failed: {status:?}, output {out:?}"
    );
    for text in [
        "parent-before",
        "parent-between",
        "child-a-unfinished",
        "child-a-line",
        "child-a-tail",
        "child-b-before-panic",
    ] {
        ensure_eq!(
            out.matches(text).count(),
            1,
            "times {text:?} appears in {out:?}"
        );
    }
    ensure!(
        out.contains("statuses Exited(0) Exited(101)"),
        "statuses line missing from {out:?}"
    );
    Ok(())
}

/// `current_name` and `current_pid` in the program, in a child, in a
/// grandchild, and in a child made by a bare `fork` (the pid cache must not
/// survive into it).
fn names_and_pids() -> Outcome {
    ensure_eq!(
        current_name(),
        "MainProcess".to_string(),
        "the program's name"
    );
    ensure_eq!(
        current_pid(),
        std::process::id() as i32,
        "the program's pid"
    );
    let pids = [
        Value::new(0i32).map_err(|e| e.to_string())?,
        Value::new(0i32).map_err(|e| e.to_string())?,
    ];
    let names_ok = Value::new(0u8).map_err(|e| e.to_string())?;
    let mut kids = Kids::new();
    let i = kids.start("worker-1", || {
        pids[0].store(current_pid());
        let ok = current_name() == "worker-1";
        let mut g = Process::start("grandchild", || {
            pids[1].store(current_pid());
            assert_eq!(current_name(), "grandchild");
            assert_eq!(current_pid(), std::process::id() as i32);
        })
        .unwrap();
        assert!(g.join().unwrap().success());
        assert_eq!(g.pid(), pids[1].load());
        names_ok.store(ok as u8);
    })?;
    let child = kids.pid(i);
    ensure_eq!(
        kids.join(i, JOIN)?,
        ExitStatus::Exited(0),
        "worker's checks"
    );
    ensure_eq!(pids[0].load(), child, "the child's current_pid is its pid");
    ensure!(
        pids[1].load() != child && pids[1].load() > 0,
        "the grandchild has its own pid"
    );
    ensure_eq!(
        names_ok.load(),
        1,
        "the child's current_name is the name it was given"
    );
    ensure_eq!(kids.0[i].name(), "worker-1", "Process::name");

    // A bare fork, made without Process::start, after the pid was cached.
    let cached = current_pid();
    let seen = Value::new(0i32).map_err(|e| e.to_string())?;
    // SAFETY: this process is single-threaded; the child only stores and
    // leaves with _exit.
    match unsafe { nix::unistd::fork() }.map_err(|e| e.to_string())? {
        nix::unistd::ForkResult::Child => {
            seen.store(current_pid());
            let code = (current_pid() == std::process::id() as i32) as i32;
            // SAFETY: leave at once.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            let done = wait_until(JOIN, || {
                !matches!(
                    waitpid(child, Some(WaitPidFlag::WNOHANG)),
                    Ok(nix::sys::wait::WaitStatus::StillAlive)
                )
            });
            if !done {
                let _ = kill(child, Signal::SIGKILL);
                let _ = waitpid(child, None);
                return Err("the bare-fork child did not end".into());
            }
            ensure_eq!(seen.load(), child.as_raw(), "current_pid after a bare fork");
            ensure!(
                seen.load() != cached,
                "the cached pid leaked into the child"
            );
        }
    }
    Ok(())
}

/// A `Process` dropped without `join` is waited for: no zombie remains.
fn dropping_an_unjoined_process_reaps_it() -> Outcome {
    let p = Process::start("short", || {}).map_err(|e| e.to_string())?;
    let pid = p.pid();
    drop(p);
    ensure!(
        matches!(
            waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)),
            Err(nix::errno::Errno::ECHILD)
        ),
        "the dropped child was not reaped"
    );
    Ok(())
}

fn pause_in_fresh_process(scale: Option<&str>, ms: u64) -> Result<(Duration, f64), String> {
    let mut cmd = self_command(&format!("pause:{ms}"));
    if let Some(scale) = scale {
        cmd.env(time::TIME_SCALE_ENV, scale);
    }
    let (status, out) = output_within(cmd, JOIN)?;
    ensure!(status.success(), "pause helper failed: {status:?} {out:?}");
    let mut f = out.split_whitespace();
    let micros: u64 = f
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad output {out:?}"))?;
    let scale: f64 = f
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad output {out:?}"))?;
    Ok((Duration::from_micros(micros), scale))
}

/// `MULTIPROC_TIME_SCALE` multiplies every pause. Only generous bounds are
/// checked: a pause never ends early, and a scaled-down one ends far sooner
/// than the unscaled one would.
fn pause_scales_with_time_scale() -> Outcome {
    let (took, scale) = pause_in_fresh_process(None, 40)?;
    ensure_eq!(scale, 1.0, "scale when unset");
    ensure!(
        took >= Duration::from_millis(40),
        "unscaled pause(40 ms) took {took:?}"
    );

    let (took, scale) = pause_in_fresh_process(Some("2"), 30)?;
    ensure_eq!(scale, 2.0, "scale 2");
    ensure!(
        took >= Duration::from_millis(60),
        "pause(30 ms) at scale 2 took {took:?}"
    );

    let (took, scale) = pause_in_fresh_process(Some("0.01"), 3_000)?;
    ensure_eq!(scale, 0.01, "scale 0.01");
    ensure!(
        took >= Duration::from_millis(30),
        "pause(3 s) at scale 0.01 took {took:?}"
    );
    ensure!(
        took < Duration::from_millis(1_500),
        "pause(3 s) at scale 0.01 took {took:?}"
    );

    let (took, scale) = pause_in_fresh_process(Some("0"), 10_000)?;
    ensure_eq!(scale, 0.0, "scale 0");
    ensure!(
        took < Duration::from_millis(1_500),
        "pause(10 s) at scale 0 took {took:?}"
    );

    for junk in ["fast", "-1", "NaN", ""] {
        let (took, scale) = pause_in_fresh_process(Some(junk), 20)?;
        ensure_eq!(scale, 1.0, "scale for {junk:?} (ignored)");
        ensure!(
            took >= Duration::from_millis(20),
            "pause(20 ms) with scale {junk:?} took {took:?}"
        );
    }

    // And in code: set_time_scale overrides the environment, once; the
    // scale then stays for the whole program.
    ensure!(
        time::set_time_scale(0.0),
        "the first set_time_scale is taken"
    );
    ensure!(
        !time::set_time_scale(5.0),
        "a second set_time_scale is refused"
    );
    ensure_eq!(time::time_scale(), 0.0, "the scale after a refused change");
    let t = Instant::now();
    pause(Duration::from_secs(10));
    ensure!(
        t.elapsed() < Duration::from_millis(1_500),
        "set_time_scale(0): {:?}",
        t.elapsed()
    );
    Ok(())
}

/// Under the controlled scheduler a pause is a scheduling point and takes
/// no wall-clock time: 2 workers x 50 pauses of 1 s finish at once.
fn controlled_pause_is_logical() -> Outcome {
    let t = Instant::now();
    let (status, out) = run_isolated(
        "controlled",
        || {
            time::set_time_scale(1.0);
            sched::configure(&Mode::Controlled {
                strategy: Strategy::Random,
                seed: 1,
            })
            .unwrap();
            let mut kids = Kids::new();
            for w in 0..2 {
                kids.start(&format!("w{w}"), || {
                    for _ in 0..50 {
                        pause(Duration::from_secs(1));
                    }
                })
                .unwrap();
            }
            let s = kids.join_all_scheduled().unwrap();
            emit(&format!(
                "{} {}",
                s.iter().all(|s| s.success()),
                sched::controlled::decisions()
            ));
        },
        JOIN,
    )?;
    ensure_eq!(status, ExitStatus::Exited(0), "the run ends normally");
    let f: Vec<&str> = out.split_whitespace().collect();
    ensure_eq!(f.first().copied(), Some("true"), "workers succeed ({out})");
    ensure!(
        f.get(1)
            .and_then(|d| d.parse::<u64>().ok())
            .is_some_and(|d| d >= 50),
        "pauses were scheduling points ({out})"
    );
    ensure!(
        t.elapsed() < Duration::from_secs(5),
        "100 one-second pauses took {:?}",
        t.elapsed()
    );
    Ok(())
}

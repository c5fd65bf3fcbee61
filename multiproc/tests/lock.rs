//! `Lock` between real processes: mutual exclusion, a holder that dies,
//! releases by the wrong process, and the non-blocking ways to take it.
//!
//! `harness = false`: see `support/mod.rs` for why and how cases are run.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use multiproc::sched::{self, controlled::Strategy, Mode};
use multiproc::{current_pid, pause, trace, ExitStatus, Lock, LockError, Value};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{proc_state, run_isolated, wait_until, Case, Kids, Outcome, StartLine};

const CASES: &[Case] = &[
    Case::new("locked_increments_are_exact", locked_increments_are_exact),
    Case::new(
        "controlled_holder_exit_wakes_waiters_with_holder_died",
        controlled_holder_exit_wakes_waiters,
    ),
    Case::new(
        "dead_holder_reported_to_blocked_waiter",
        dead_holder_reported_to_blocked_waiter,
    ),
    Case::new(
        "dead_holder_reported_to_next_acquirer",
        dead_holder_reported_to_next_acquirer,
    ),
    Case::new(
        "holder_exiting_without_release_is_a_dead_holder",
        holder_exiting_without_release,
    ),
    Case::new(
        "lock_survives_repeated_holder_deaths",
        lock_survives_repeated_holder_deaths,
    ),
    Case::new(
        "release_by_non_holder_is_refused",
        release_by_non_holder_is_refused,
    ),
    Case::new(
        "double_acquire_would_deadlock",
        double_acquire_would_deadlock,
    ),
    Case::new(
        "try_acquire_and_acquire_timeout",
        try_acquire_and_acquire_timeout,
    ),
    Case::new(
        "guard_releases_when_a_child_panics",
        guard_releases_when_a_child_panics,
    ),
    Case::new(
        "controlled_locked_increments_are_exact",
        controlled_locked_increments_are_exact,
    ),
];

fn main() {
    support::run(CASES)
}

const JOIN: Duration = Duration::from_secs(10);

/// 2 processes x 100,000 increments under one lock come out exact.
fn locked_increments_are_exact() -> Outcome {
    const N: u64 = 100_000;
    let counter = Value::new(0u64).map_err(|e| e.to_string())?;
    let lock = Lock::new().map_err(|e| e.to_string())?;
    let line = StartLine::new(2);
    let mut kids = Kids::new();
    for me in 0..2 {
        kids.start(&format!("incr-{me}"), || {
            line.arrive(me);
            for _ in 0..N {
                let _held = lock.guard().unwrap();
                counter.update(|c| c + 1);
            }
        })?;
    }
    let statuses = kids.join_all(JOIN)?;
    ensure_eq!(
        statuses,
        vec![ExitStatus::Exited(0); 2],
        "both workers end normally"
    );
    ensure_eq!(counter.load(), 2 * N, "final counter");
    ensure_eq!(lock.holder(), None, "the lock is free at the end");
    Ok(())
}

/// Starts a child that takes `lock`, says so through `held`, and then waits
/// to be killed. Returns its index in `kids`.
fn start_holder(kids: &mut Kids, lock: &Lock, held: &Value<i32>) -> Result<usize, String> {
    let i = kids.start("holder", || {
        lock.acquire().unwrap();
        held.store(current_pid());
        loop {
            pause(Duration::from_millis(50));
        }
    })?;
    let pid = kids.pid(i);
    ensure!(
        wait_until(Duration::from_secs(5), || held.load() == pid),
        "the holder never reported that it took the lock"
    );
    ensure_eq!(lock.holder(), Some(pid), "holder() names the child");
    Ok(i)
}

fn kill_and_join(kids: &mut Kids, i: usize) -> Outcome {
    kill(Pid::from_raw(kids.pid(i)), Signal::SIGKILL).map_err(|e| e.to_string())?;
    let status = kids.join(i, JOIN)?;
    ensure_eq!(
        status,
        ExitStatus::Signaled(Signal::SIGKILL),
        "the holder was killed"
    );
    Ok(())
}

/// A process already blocked in `acquire` when the holder is SIGKILLed is
/// woken with `HolderDied { pid }`, and can then take the lock.
fn dead_holder_reported_to_blocked_waiter() -> Outcome {
    let lock = Lock::new().map_err(|e| e.to_string())?;
    let held = Value::new(0i32).map_err(|e| e.to_string())?;
    let seen_pid = Value::new(0i32).map_err(|e| e.to_string())?;
    let outcome = Value::new(0u8).map_err(|e| e.to_string())?; // 1 = HolderDied, 2 = then acquired
    let mut kids = Kids::new();
    let h = start_holder(&mut kids, &lock, &held)?;
    let w = kids.start("waiter", || {
        match lock.acquire() {
            Err(LockError::HolderDied { pid }) => {
                seen_pid.store(pid);
                outcome.store(1);
            }
            other => panic!("the waiter expected HolderDied, got {other:?}"),
        }
        lock.acquire().unwrap();
        outcome.store(2);
        lock.release().unwrap();
    })?;
    // Let the waiter reach the futex wait (it cannot get further anyway).
    let waiter = kids.pid(w);
    ensure!(
        wait_until(Duration::from_secs(5), || proc_state(waiter)
            .is_some_and(|s| s.in_futex_wait())),
        "the waiter never blocked in a futex wait: {:?}",
        proc_state(waiter)
    );
    ensure_eq!(
        outcome.load(),
        0,
        "the waiter must still be waiting while the holder lives"
    );
    let holder_pid = kids.pid(h);
    kill_and_join(&mut kids, h)?;
    let status = kids.join(w, JOIN)?;
    ensure_eq!(
        status,
        ExitStatus::Exited(0),
        "the waiter's checks (see its panic above if any)"
    );
    ensure_eq!(
        seen_pid.load(),
        holder_pid,
        "HolderDied names the dead holder"
    );
    ensure_eq!(
        outcome.load(),
        2,
        "the waiter took the lock after the error"
    );
    ensure_eq!(lock.holder(), None, "free at the end");
    Ok(())
}

/// Nobody waits when the holder dies: the next acquirer (here with a
/// timeout, so this test cannot hang) is told, and the lock is usable.
fn dead_holder_reported_to_next_acquirer() -> Outcome {
    let lock = Lock::new().map_err(|e| e.to_string())?;
    let held = Value::new(0i32).map_err(|e| e.to_string())?;
    let mut kids = Kids::new();
    let h = start_holder(&mut kids, &lock, &held)?;
    let holder_pid = kids.pid(h);
    kill_and_join(&mut kids, h)?;
    ensure_eq!(
        lock.acquire_timeout(Duration::from_secs(5)),
        Err(LockError::HolderDied { pid: holder_pid }),
        "first acquire after the death"
    );
    ensure_eq!(lock.holder(), None, "recovered and free after HolderDied");
    ensure_eq!(
        lock.acquire_timeout(Duration::from_secs(5)),
        Ok(true),
        "second acquire"
    );
    ensure_eq!(lock.holder(), Some(current_pid()), "now held by us");
    ensure_eq!(lock.release(), Ok(()), "release");
    ensure_eq!(
        lock.try_acquire(),
        Ok(true),
        "try_acquire on the recovered lock"
    );
    ensure_eq!(lock.release(), Ok(()), "release");
    Ok(())
}

/// A child that returns while still holding the lock (a forgotten release)
/// is a dead holder too: the kernel's robust list marks the mutex when the
/// process exits, however it exits. The trace records the death.
fn holder_exiting_without_release() -> Outcome {
    trace::enable().map_err(|e| e.to_string())?;
    let lock = Lock::with_label("forgotten").map_err(|e| e.to_string())?;
    let mut kids = Kids::new();
    let i = kids.start("forgetful", || std::mem::forget(lock.guard().unwrap()))?;
    let pid = kids.pid(i);
    ensure_eq!(
        kids.join(i, JOIN)?,
        ExitStatus::Exited(0),
        "the child ends normally"
    );
    ensure_eq!(
        lock.holder(),
        Some(pid),
        "the holder field still names the dead child"
    );
    ensure_eq!(
        lock.try_acquire(),
        Err(LockError::HolderDied { pid }),
        "try_acquire sees the death"
    );
    ensure_eq!(lock.try_acquire(), Ok(true), "then takes the lock");
    ensure_eq!(lock.release(), Ok(()), "release");
    let died: Vec<_> = trace::events()
        .into_iter()
        .filter(|e| e.kind == trace::EventKind::HolderDied && e.object == lock.id())
        .collect();
    ensure_eq!(died.len(), 1, "one holder-died event in the trace");
    ensure_eq!(died[0].value, pid as i64, "the event names the dead holder");
    ensure_eq!(
        died[0].pid,
        current_pid(),
        "recorded by the process that recovered it"
    );
    Ok(())
}

/// Holders die three times in a row; each time the next acquirer recovers
/// the lock. It never ends up unrecoverable (`ENOTRECOVERABLE`).
fn lock_survives_repeated_holder_deaths() -> Outcome {
    let lock = Lock::new().map_err(|e| e.to_string())?;
    let held = Value::new(0i32).map_err(|e| e.to_string())?;
    for round in 0..3 {
        let mut kids = Kids::new();
        let h = start_holder(&mut kids, &lock, &held)?;
        let pid = kids.pid(h);
        kill_and_join(&mut kids, h)?;
        // Recover in a child this time, with a blocking acquire.
        let i = kids.start("recoverer", || {
            assert_eq!(lock.acquire(), Err(LockError::HolderDied { pid }));
            assert_eq!(lock.acquire(), Ok(()));
            lock.release().unwrap();
        })?;
        let status = kids.join(i, JOIN)?;
        ensure_eq!(
            status,
            ExitStatus::Exited(0),
            "round {round}: recoverer's checks"
        );
    }
    ensure_eq!(
        lock.acquire_timeout(Duration::from_secs(5)),
        Ok(true),
        "usable at the end"
    );
    ensure_eq!(lock.release(), Ok(()), "release");
    Ok(())
}

/// Releasing a lock someone else holds is refused and leaves it held;
/// releasing a free lock is refused too.
fn release_by_non_holder_is_refused() -> Outcome {
    let lock = Lock::new().map_err(|e| e.to_string())?;
    lock.acquire().map_err(|e| e.to_string())?;
    let me = current_pid();
    let mut kids = Kids::new();
    let i = kids.start("intruder", || {
        assert_eq!(
            lock.release(),
            Err(LockError::NotHolder { holder: Some(me) })
        );
        assert_eq!(lock.holder(), Some(me), "still held by the parent");
        assert_eq!(lock.try_acquire(), Ok(false), "and still taken");
    })?;
    ensure_eq!(
        kids.join(i, JOIN)?,
        ExitStatus::Exited(0),
        "the intruder's checks"
    );
    ensure_eq!(
        lock.holder(),
        Some(me),
        "unchanged after the refused release"
    );
    ensure!(lock.held_by_me(), "held_by_me");
    ensure_eq!(lock.release(), Ok(()), "the holder's release");
    ensure_eq!(
        lock.release(),
        Err(LockError::NotHolder { holder: None }),
        "a second release"
    );
    ensure_eq!(lock.holder(), None, "free");
    // The message a student sees names the situation.
    let text = LockError::NotHolder { holder: None }.to_string();
    ensure!(text.contains("not held"), "message {text:?}");
    Ok(())
}

/// A `Lock` is not reentrant: the holder's second acquire is an error, not
/// a hang, and the lock stays held once.
fn double_acquire_would_deadlock() -> Outcome {
    let lock = Lock::new().map_err(|e| e.to_string())?;
    ensure_eq!(lock.acquire(), Ok(()), "first acquire");
    ensure_eq!(
        lock.acquire(),
        Err(LockError::WouldDeadlock),
        "second acquire"
    );
    ensure_eq!(
        lock.acquire_timeout(Duration::from_millis(10)),
        Err(LockError::WouldDeadlock),
        "acquire_timeout by the holder"
    );
    ensure_eq!(
        lock.try_acquire(),
        Err(LockError::WouldDeadlock),
        "try_acquire by the holder"
    );
    ensure_eq!(lock.holder(), Some(current_pid()), "still held once");
    ensure_eq!(lock.release(), Ok(()), "one release frees it");
    ensure_eq!(lock.holder(), None, "free");
    {
        let _g = lock.guard().map_err(|e| e.to_string())?;
        ensure!(lock.held_by_me(), "held inside the guard");
        ensure!(
            matches!(lock.guard(), Err(LockError::WouldDeadlock)),
            "a second guard"
        );
    }
    ensure_eq!(lock.holder(), None, "the guard released it");
    Ok(())
}

/// `try_acquire` and `acquire_timeout` give up while another process holds
/// the lock, and `acquire_timeout` succeeds once it is released.
fn try_acquire_and_acquire_timeout() -> Outcome {
    let lock = Lock::new().map_err(|e| e.to_string())?;
    let held = Value::new(0i32).map_err(|e| e.to_string())?;
    let go = Value::new(0u8).map_err(|e| e.to_string())?;
    let mut kids = Kids::new();
    let i = kids.start("holder", || {
        lock.acquire().unwrap();
        held.store(current_pid());
        while go.load() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        lock.release().unwrap();
    })?;
    let pid = kids.pid(i);
    ensure!(
        wait_until(Duration::from_secs(5), || held.load() == pid),
        "holder never took the lock"
    );
    ensure_eq!(lock.try_acquire(), Ok(false), "try_acquire while held");
    let t = Instant::now();
    ensure_eq!(
        lock.acquire_timeout(Duration::from_millis(50)),
        Ok(false),
        "timed out"
    );
    ensure!(
        t.elapsed() >= Duration::from_millis(45),
        "gave up too early: {:?}",
        t.elapsed()
    );
    ensure_eq!(
        lock.holder(),
        Some(pid),
        "the failed attempts changed nothing"
    );
    go.store(1);
    ensure_eq!(
        lock.acquire_timeout(Duration::from_secs(5)),
        Ok(true),
        "taken after the release"
    );
    ensure_eq!(lock.holder(), Some(current_pid()), "now ours");
    ensure_eq!(lock.release(), Ok(()), "release");
    ensure_eq!(
        kids.join(i, JOIN)?,
        ExitStatus::Exited(0),
        "holder ends normally"
    );
    Ok(())
}

/// A child that panics inside a guarded section unwinds, and the guard
/// releases the lock: the next acquirer sees a free lock, not a dead holder.
fn guard_releases_when_a_child_panics() -> Outcome {
    std::panic::set_hook(Box::new(|_| {})); // the panic below is expected
    let lock = Lock::new().map_err(|e| e.to_string())?;
    let mut kids = Kids::new();
    let i = kids.start("panicker", || {
        let _held = lock.guard().unwrap();
        panic!("inside the critical section");
    })?;
    ensure_eq!(
        kids.join(i, JOIN)?,
        ExitStatus::Exited(101),
        "the child panicked"
    );
    ensure_eq!(
        lock.holder(),
        None,
        "the guard released the lock during unwinding"
    );
    ensure_eq!(lock.try_acquire(), Ok(true), "free, not a dead holder");
    ensure_eq!(lock.release(), Ok(()), "release");
    Ok(())
}

/// Under the controlled scheduler, waiting for a held lock is modelled:
/// locked increments stay exact and the scheduler did make choices.
fn controlled_locked_increments_are_exact() -> Outcome {
    for (strategy, seed) in [(Strategy::Random, 3), (Strategy::Pct(3), 5)] {
        let (status, out) = run_isolated(
            "controlled",
            || {
                sched::configure(&Mode::Controlled { strategy, seed }).unwrap();
                let counter = Value::new(0u32).unwrap();
                let lock = Lock::new().unwrap();
                let mut kids = Kids::new();
                for w in 0..2 {
                    kids.start(&format!("w{w}"), || {
                        for _ in 0..200 {
                            let _held = lock.guard().unwrap();
                            counter.update(|c| c + 1);
                        }
                    })
                    .unwrap();
                }
                let statuses = kids.join_all_scheduled().unwrap();
                support::emit(&format!(
                    "{} {} {}",
                    counter.load(),
                    sched::controlled::decisions(),
                    statuses.iter().all(|s| s.success())
                ));
            },
            JOIN,
        )?;
        ensure_eq!(
            status,
            ExitStatus::Exited(0),
            "{strategy}: the run ends normally"
        );
        let f: Vec<&str> = out.split_whitespace().collect();
        ensure_eq!(
            f.first().copied(),
            Some("400"),
            "{strategy}: final counter ({out:?})"
        );
        ensure!(
            f.get(1)
                .and_then(|d| d.parse::<u64>().ok())
                .is_some_and(|d| d > 0),
            "{strategy}: no decisions ({out:?})"
        );
        ensure_eq!(
            f.get(2).copied(),
            Some("true"),
            "{strategy}: workers ended normally"
        );
    }
    Ok(())
}

/// Under the controlled scheduler, a process that ends while holding the
/// lock must not leave its waiters blocked for ever (which would be reported
/// as a deadlock): they are let look again and get `HolderDied`.
fn controlled_holder_exit_wakes_waiters() -> Outcome {
    for seed in 1..=10 {
        let (status, out) = run_isolated(
            "controlled",
            move || {
                sched::configure(&Mode::Controlled {
                    strategy: Strategy::Random,
                    seed,
                })
                .unwrap();
                let lock = Lock::new().unwrap();
                let waiting = Value::new(0u8).unwrap();
                let mut kids = Kids::new();
                kids.start("holder", || {
                    lock.acquire().unwrap();
                    // Stay until the waiter is about to wait, then end
                    // without releasing.
                    while waiting.load() == 0 {
                        pause(Duration::from_millis(1));
                    }
                    pause(Duration::from_millis(1));
                })
                .unwrap();
                kids.start("waiter", || {
                    while lock.holder().is_none() {
                        pause(Duration::from_millis(1));
                    }
                    waiting.store(1);
                    let first = lock.acquire();
                    let second = lock.acquire();
                    support::emit(&format!("{:?} {:?}", first.is_err(), second.is_ok()));
                })
                .unwrap();
                let statuses = kids.join_all_scheduled().unwrap();
                support::emit(&format!("{}", statuses.iter().all(|s| s.success())));
            },
            JOIN,
        )?;
        ensure_eq!(
            status,
            ExitStatus::Exited(0),
            "seed {seed}: no deadlock ({out:?})"
        );
        ensure!(
            out.contains("true true") && out.trim_end().ends_with("true"),
            "seed {seed}: the waiter got HolderDied, then the lock ({out:?})"
        );
    }
    Ok(())
}

//! The scheduling modes across real processes: choosing a mode by name or
//! by environment, perturbation, deadlocks found by the controlled
//! scheduler, and runs that must not hang when a process misbehaves.
//!
//! `harness = false`: see `support/mod.rs` for why and how cases are run.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use multiproc::sched::controlled::{self, Strategy, Stuck};
use multiproc::sched::{self, Mode, OpKind};
use multiproc::trace;
use multiproc::{ExitStatus, Lock, Process, Value};
use nix::sys::signal::Signal;
use support::{emit, output_within, run_isolated, self_command, Case, Kids, Outcome};

const CASES: &[Case] = &[
    Case::new("mode_strings_round_trip", mode_strings_round_trip),
    Case::new(
        "multiproc_sched_env_selects_the_mode",
        multiproc_sched_env_selects_the_mode,
    ),
    Case::new(
        "perturbed_locked_increments_are_exact",
        perturbed_locked_increments_are_exact,
    ),
    Case::new(
        "controlled_lock_order_deadlock_is_reported",
        controlled_lock_order_deadlock,
    ),
    Case::new(
        "controlled_worker_killed_with_the_token_does_not_hang",
        killed_with_token,
    ),
    Case::new(
        "controlled_dropping_an_unjoined_process_does_not_hang",
        controlled_drop_without_join,
    ),
    Case::new(
        "controlled_pct0_is_refused_not_a_panic",
        controlled_pct0_is_refused,
    ),
    Case::new(
        "the_mode_is_set_once_and_children_cannot_change_it",
        mode_is_set_once,
    ),
    Case::new(
        "a_stepped_run_pauses_where_its_choices_end",
        stepped_run_pauses,
    ),
    Case::new(
        "a_spin_on_try_acquire_gives_way_past_a_replayed_schedule",
        spin_gives_way,
    ),
];

fn main() {
    if let Some(mode) = support::child_mode() {
        helper_mode(&mode);
        std::process::exit(0);
    }
    support::run(CASES)
}

const JOIN: Duration = Duration::from_secs(10);

fn helper_mode(mode: &str) {
    match mode {
        // Configure from MULTIPROC_SCHED, run 2 x 10 unlocked updates, and
        // say what happened.
        "from-env" => match sched::configure_from_env() {
            Ok(mode) => {
                let v = Value::new(0u32).unwrap();
                let mut kids = Kids::new();
                for w in 0..2 {
                    kids.start(&format!("w{w}"), || {
                        for _ in 0..10 {
                            v.update(|c| c + 1);
                        }
                    })
                    .unwrap();
                }
                kids.join_all_scheduled().unwrap();
                println!(
                    "mode {mode} final {} decisions {}",
                    v.load(),
                    controlled::decisions()
                );
            }
            Err(e) => println!("error {e}"),
        },
        _ => panic!("unknown helper mode {mode:?}"),
    }
}

/// Every mode prints as the string that parses back to it; bad strings
/// are refused with a message.
fn mode_strings_round_trip() -> Outcome {
    for mode in [
        Mode::Free,
        Mode::Perturb { seed: 17 },
        Mode::Controlled {
            strategy: Strategy::Random,
            seed: 3,
        },
        Mode::Controlled {
            strategy: Strategy::Pct(3),
            seed: 99,
        },
        Mode::Replay {
            schedule: "0x3.1.2x4".into(),
        },
        Mode::Step("1x2.0".parse().unwrap()),
        Mode::Step("1.2+1".parse().unwrap()),
    ] {
        let text = mode.to_string();
        ensure_eq!(text.parse::<Mode>(), Ok(mode.clone()), "{text}");
    }
    ensure_eq!(
        "controlled:random:5".parse::<Mode>(),
        Ok(Mode::Controlled {
            strategy: Strategy::Random,
            seed: 5
        }),
        "parse"
    );
    for bad in [
        "",
        "fast",
        "perturb",
        "perturb:x",
        "controlled:random",
        "controlled:pct0:1",
        "controlled:dfs:1",
        "step:1+x",
        "step:a",
    ] {
        ensure!(bad.parse::<Mode>().is_err(), "{bad:?} should be refused");
    }
    Ok(())
}

/// `MULTIPROC_SCHED` picks the mode (`configure_from_env`); a controlled
/// seed gives the same run twice; a bad value is an error, not a panic.
fn multiproc_sched_env_selects_the_mode() -> Outcome {
    let run = |value: Option<&str>| -> Result<String, String> {
        let mut cmd = self_command("from-env");
        if let Some(v) = value {
            cmd.env(sched::MODE_ENV, v);
        }
        let (status, out) = output_within(cmd, JOIN)?;
        ensure!(status.success(), "helper failed: {status:?} {out:?}");
        Ok(out.trim().to_string())
    };
    let free = run(None)?;
    ensure!(
        free.starts_with("mode free final ") && free.ends_with("decisions 0"),
        "unset: {free:?}"
    );
    let a = run(Some("controlled:random:8"))?;
    ensure!(
        a.starts_with("mode controlled:random:8 final "),
        "controlled: {a:?}"
    );
    ensure!(
        !a.ends_with("decisions 0"),
        "the controlled run made choices: {a:?}"
    );
    ensure_eq!(
        run(Some("controlled:random:8"))?,
        a,
        "the same seed, the same run"
    );
    let bad = run(Some("sometimes"))?;
    ensure!(
        bad.starts_with("error ") && bad.contains("sometimes"),
        "bad value: {bad:?}"
    );
    Ok(())
}

/// Perturbation changes timing, never correctness: locked increments stay
/// exact; and its start gate lets workers run.
fn perturbed_locked_increments_are_exact() -> Outcome {
    for seed in [1, 2] {
        let (status, out) = run_isolated(
            "perturb",
            move || {
                sched::configure(&Mode::Perturb { seed }).unwrap();
                let v = Value::new(0u32).unwrap();
                let lock = Lock::new().unwrap();
                let mut kids = Kids::new();
                for w in 0..2 {
                    kids.start(&format!("w{w}"), || {
                        for _ in 0..300 {
                            let _held = lock.guard().unwrap();
                            v.update(|c| c + 1);
                        }
                    })
                    .unwrap();
                }
                // `Process::join` is a scheduling point: it opens the start
                // gate the workers wait at.
                let s = kids.join_all_scheduled().unwrap();
                emit(&format!("{} {}", v.load(), s.iter().all(|s| s.success())));
            },
            JOIN,
        )?;
        ensure_eq!(status, ExitStatus::Exited(0), "seed {seed}: run");
        ensure_eq!(
            out,
            "600 true".to_string(),
            "seed {seed}: final and statuses"
        );
    }
    Ok(())
}

fn report_stuck(stuck: &[Stuck]) {
    for s in stuck {
        emit(&format!(
            "stuck {} {:?} {} {}\n",
            s.slot, s.op, s.object, s.joining
        ));
    }
}

/// Two workers take two locks in opposite orders. Under the controlled
/// scheduler some seeds deadlock, and the report names both workers as
/// blocked in `Acquire` on the lock the other holds; the others finish.
fn controlled_lock_order_deadlock() -> Outcome {
    let (mut hung, mut done) = (0, 0);
    for seed in 1..=10 {
        let t = Instant::now();
        let (status, out) = run_isolated(
            "ab-ba",
            move || {
                sched::configure(&Mode::Controlled {
                    strategy: Strategy::Random,
                    seed,
                })
                .unwrap();
                controlled::set_deadlock_handler(report_stuck);
                let a = Lock::with_label("a").unwrap();
                let b = Lock::with_label("b").unwrap();
                emit(&format!("locks {} {}\n", a.id(), b.id()));
                let mut kids = Kids::new();
                for (name, first, second) in [("ab", &a, &b), ("ba", &b, &a)] {
                    kids.start(name, move || {
                        let _x = first.guard().unwrap();
                        let _y = second.guard().unwrap();
                    })
                    .unwrap();
                }
                kids.join_all_scheduled().unwrap();
                emit("finished\n");
            },
            JOIN,
        )?;
        ensure!(
            t.elapsed() < Duration::from_secs(3),
            "seed {seed}: a deadlock must be found without waiting"
        );
        let lines: Vec<&str> = out.lines().collect();
        let ids: Vec<u32> = lines
            .first()
            .and_then(|l| l.strip_prefix("locks "))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        ensure_eq!(ids.len(), 2, "seed {seed}: lock ids in {out:?}");
        if lines.last() == Some(&"finished") {
            ensure_eq!(status, ExitStatus::Exited(0), "seed {seed}: finished run");
            done += 1;
            continue;
        }
        hung += 1;
        ensure!(
            status == ExitStatus::Exited(controlled::DEADLOCK_EXIT_CODE)
                || status == ExitStatus::Signaled(Signal::SIGKILL),
            "seed {seed}: deadlocked run ended with {status:?}"
        );
        let mut on_locks: Vec<(String, u32)> = lines
            .iter()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 5 && f[0] == "stuck" && f[4] == "false")
                    .then(|| (f[2].to_string(), f[3].parse().unwrap_or(0)))
            })
            .collect();
        on_locks.sort();
        let acquire = format!("{:?}", OpKind::Acquire);
        ensure_eq!(
            on_locks,
            vec![(acquire.clone(), ids[0]), (acquire, ids[1])],
            "seed {seed}: both workers blocked acquiring, one on each lock ({out:?})"
        );
    }
    ensure!(
        hung > 0 && done > 0,
        "seeds 1..=10 should both deadlock and finish: {hung} hung, {done} finished"
    );
    Ok(())
}

/// A worker killed while it holds the scheduler's token: the others take
/// the token over and the run ends, with the right statuses.
fn killed_with_token() -> Outcome {
    let (status, out) = run_isolated(
        "killed",
        || {
            sched::configure(&Mode::Controlled {
                strategy: Strategy::Random,
                seed: 4,
            })
            .unwrap();
            let v = Value::new(0u32).unwrap();
            let mut kids = Kids::new();
            kids.start("doomed", || {
                for _ in 0..5 {
                    v.update(|c| c + 1);
                }
                // SAFETY: raising a signal has no preconditions.
                unsafe { libc::raise(libc::SIGKILL) };
            })
            .unwrap();
            kids.start("survivor", || {
                for _ in 0..20 {
                    v.update(|c| c + 1);
                }
            })
            .unwrap();
            let s = kids.join_all_scheduled().unwrap();
            emit(&format!("{:?} {:?}", s[0], s[1]));
        },
        JOIN,
    )?;
    ensure_eq!(status, ExitStatus::Exited(0), "the run ends normally");
    ensure_eq!(out, "Signaled(SIGKILL) Exited(0)".to_string(), "statuses");
    Ok(())
}

/// Under control, a `Process` dropped without `join` (for example when a
/// scenario returns early with an error) must not hang the run.
fn controlled_drop_without_join() -> Outcome {
    let (status, out) = run_isolated(
        "drop",
        || {
            sched::configure(&Mode::Controlled {
                strategy: Strategy::Random,
                seed: 1,
            })
            .unwrap();
            let v = Value::new(0u32).unwrap();
            let p = Process::start("w", || {
                v.update(|c| c + 1);
            })
            .unwrap();
            drop(p);
            emit(&format!("dropped {}", v.load()));
        },
        Duration::from_secs(1),
    )?;
    ensure_eq!(status, ExitStatus::Exited(0), "the run ends normally");
    ensure_eq!(
        out,
        "dropped 1".to_string(),
        "the child ran to its end before the drop returned"
    );
    Ok(())
}

/// `Strategy::Pct(0)` can be written in code (the parser refuses
/// `pct0`); `configure` should refuse it with an error.
fn controlled_pct0_is_refused() -> Outcome {
    let (status, out) = run_isolated(
        "pct0",
        || {
            std::panic::set_hook(Box::new(|_| {}));
            let r = sched::configure(&Mode::Controlled {
                strategy: Strategy::Pct(0),
                seed: 1,
            });
            emit(if r.is_err() { "refused" } else { "accepted" });
        },
        JOIN,
    )?;
    ensure_eq!(out, "refused".to_string(), "configure(pct0) ({status:?})");
    ensure_eq!(status, ExitStatus::Exited(0), "no panic");
    Ok(())
}

/// The mode is part of what a run is judged on: once the program has
/// chosen it, a second `configure` (in the program or in a child) is
/// refused and changes nothing, and every event of the controlled run is
/// recorded on the schedule (by the token's holder).
fn mode_is_set_once() -> Outcome {
    let (status, out) = run_isolated(
        "once",
        || {
            let controlled = Mode::Controlled {
                strategy: Strategy::Random,
                seed: 3,
            };
            sched::configure(&controlled).unwrap();
            let again = sched::configure(&Mode::Free).is_err();
            trace::enable().unwrap();
            let v = Value::new(0u32).unwrap();
            let mut kids = Kids::new();
            for w in 0..2 {
                kids.start(&format!("w{w}"), || {
                    // A worker that tries to leave the scheduler.
                    if sched::configure(&Mode::Free).is_ok() {
                        std::process::abort();
                    }
                    for _ in 0..20 {
                        v.update(|c| c + 1);
                    }
                })
                .unwrap();
            }
            kids.join_all_scheduled().unwrap();
            let events = trace::events();
            let off = events.iter().filter(|e| e.off_schedule).count();
            emit(&format!(
                "again-refused {again} events {} off-schedule {off} decisions>0 {}",
                events.len() > 80,
                controlled::decisions() > 0
            ));
        },
        JOIN,
    )?;
    ensure_eq!(status, ExitStatus::Exited(0), "the run ends normally");
    ensure_eq!(
        out,
        "again-refused true events true off-schedule 0 decisions>0 true".to_string(),
        "a second configure is refused, and every event is on the schedule"
    );
    Ok(())
}

fn report_paused(stuck: &[Stuck]) {
    for s in stuck {
        emit(&format!("at {} {:?} {}\n", s.slot, s.op, s.runnable));
    }
}

/// A stepped schedule pauses the program at the first choice past its
/// list and tells every live process; `+SLOT` lets that slot run on until
/// it cannot. Two workers make unlocked updates: with `1+1`, worker 1 runs
/// to its end, and the pause comes when the main process has started
/// worker 2, with both of them able to run.
fn stepped_run_pauses() -> Outcome {
    let run = |steps: &'static str| {
        run_isolated(
            "stepped",
            move || {
                sched::configure(&Mode::Step(steps.parse().unwrap())).unwrap();
                controlled::set_deadlock_handler(report_paused);
                let v = Value::new(0u32).unwrap();
                let mut kids = Kids::new();
                for w in 0..2 {
                    kids.start(&format!("w{w}"), || {
                        for _ in 0..5 {
                            v.update(|c| c + 1);
                        }
                    })
                    .unwrap();
                }
                kids.join_all_scheduled().unwrap();
                emit("finished\n");
            },
            JOIN,
        )
    };
    let (status, out) = run("")?;
    ensure!(!out.contains("finished"), "paused at once: {out:?}");
    ensure!(
        status == ExitStatus::Exited(controlled::DEADLOCK_EXIT_CODE)
            || status == ExitStatus::Signaled(Signal::SIGKILL),
        "a pause ends the run: {status:?}"
    );
    ensure!(
        out.lines().filter(|l| l.ends_with(" true")).count() >= 2,
        "a pause comes where two processes can run: {out:?}"
    );
    let (_, out) = run("1+1")?;
    let lines: Vec<&str> = out.lines().collect();
    ensure!(
        !lines.iter().any(|l| l.starts_with("at 1 ")),
        "worker 1 ran to its end: {out:?}"
    );
    ensure!(
        lines.contains(&"at 2 Start true"),
        "worker 2 is paused before its first operation: {out:?}"
    );
    let (_, again) = run("1+1")?;
    ensure_eq!(again, out, "the same steps pause at the same place");
    Ok(())
}

/// Past the end of a replayed schedule (and so in the exhaustive search)
/// the running process keeps running. A child spinning on `try_acquire`
/// while the parent holds the lock must still let the parent go on and
/// release it: a failed try gives way, as a pause does. Without that the
/// spin never ends and the run hangs.
fn spin_gives_way() -> Outcome {
    let (status, out) = run_isolated(
        "spin",
        || {
            sched::configure(&Mode::Replay {
                schedule: String::new(),
            })
            .unwrap();
            let lock = Lock::new().unwrap();
            let v = Value::new(0u32).unwrap();
            lock.acquire().unwrap();
            let mut child = Process::start("spinner", || {
                let mut tries = 0u32;
                while !lock.try_acquire().unwrap() {
                    tries += 1;
                }
                v.update(|c| c + tries.min(1));
                lock.release().unwrap();
            })
            .unwrap();
            // Hands the token to the child, which finds the lock held.
            multiproc::pause(Duration::ZERO);
            v.update(|c| c + 10);
            lock.release().unwrap();
            child.join().unwrap();
            emit(&format!("final {}", v.load()));
        },
        JOIN,
    )?;
    ensure_eq!(status, ExitStatus::Exited(0), "the run ends normally");
    ensure_eq!(
        out,
        "final 11".to_string(),
        "the child spun, then took the lock once the parent let it go"
    );
    Ok(())
}

//! `Queue` between real processes: every item delivered once, timeouts,
//! and the lessons' faulty drain, which really blocks forever in `get`.
//!
//! `harness = false`: see `support/mod.rs` for why and how cases are run.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use multiproc::sched::controlled::{self, Strategy, Stuck};
use multiproc::sched::{self, Mode, OpKind};
use multiproc::{ExitStatus, LockError, Queue, QueueError, Value};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{
    emit, has_ended, proc_state, run_isolated, wait_until, Case, Kids, Outcome, StartLine,
};

const CASES: &[Case] = &[
    Case::new("fifo_across_processes", fifo_across_processes),
    Case::new(
        "two_try_get_consumers_get_every_item_once",
        two_try_get_consumers,
    ),
    Case::new(
        "controlled_try_get_consumers_get_every_item_once",
        controlled_try_get_consumers,
    ),
    Case::new(
        "get_timeout_returns_none_on_empty",
        get_timeout_returns_none_on_empty,
    ),
    Case::new(
        "get_timeout_waits_at_least_its_timeout",
        get_timeout_waits_at_least_its_timeout,
    ),
    Case::new(
        "faulty_drain_blocks_forever_in_get",
        faulty_drain_blocks_forever_in_get,
    ),
    Case::new(
        "controlled_faulty_drain_is_reported_stuck_on_the_queue",
        controlled_faulty_drain,
    ),
    Case::new(
        "controlled_stuck_get_is_reported_as_get",
        controlled_stuck_get_is_reported_as_get,
    ),
    Case::new(
        "controlled_blocking_gets_with_items_left_do_not_deadlock",
        controlled_blocking_gets_do_not_deadlock,
    ),
];

fn main() {
    support::run(CASES)
}

const JOIN: Duration = Duration::from_secs(10);

fn queue<T: multiproc::Plain>(label: &str) -> Result<Queue<T>, String> {
    Queue::with_label(label).map_err(|e| e.to_string())
}

/// Items put by one process come out of another in order; a blocking `get`
/// waits for a later `put`.
fn fifo_across_processes() -> Outcome {
    let q = queue::<i64>("q")?;
    let back = queue::<i64>("back")?;
    let mut kids = Kids::new();
    let i = kids.start("consumer", || {
        for _ in 0..5 {
            let item = q.get().unwrap();
            back.put(item * 10).unwrap();
        }
    })?;
    for item in [3, -1, i64::MAX / 10, 0] {
        q.put(item).map_err(|e| e.to_string())?;
    }
    std::thread::sleep(Duration::from_millis(20)); // the consumer now waits in get
    q.put(7).map_err(|e| e.to_string())?;
    ensure_eq!(kids.join(i, JOIN)?, ExitStatus::Exited(0), "consumer");
    let mut seen = Vec::new();
    while let Some(x) = back.try_get().map_err(|e| e.to_string())? {
        seen.push(x);
    }
    ensure_eq!(
        seen,
        vec![30, -10, i64::MAX / 10 * 10, 0, 70],
        "items in put order"
    );
    ensure!(q.empty() && back.empty(), "both queues empty at the end");
    Ok(())
}

/// Runs two consumers that loop on `try_get` until it says `None`, over
/// `items` already in the queue; returns what each one got, in a report
/// queue as `consumer << 32 | item`.
fn consume_with_try_get(items: u32, join_scheduled: bool) -> Result<Vec<(u64, u64)>, String> {
    let q = queue::<u32>("work")?;
    let report = queue::<u64>("report")?;
    for i in 0..items {
        q.put(i).map_err(|e| e.to_string())?;
    }
    let line = StartLine::new(2);
    let mut kids = Kids::new();
    for me in 0..2u64 {
        kids.start(&format!("consumer-{me}"), || {
            line.arrive(me as usize);
            while let Some(item) = q.try_get().unwrap() {
                report.put(me << 32 | item as u64).unwrap();
            }
        })?;
    }
    let statuses = if join_scheduled {
        kids.join_all_scheduled()?
    } else {
        kids.join_all(JOIN)?
    };
    ensure_eq!(
        statuses,
        vec![ExitStatus::Exited(0); 2],
        "consumers end normally"
    );
    let mut got = Vec::new();
    while let Some(x) = report.try_get().map_err(|e| e.to_string())? {
        got.push((x >> 32, x & 0xffff_ffff));
    }
    ensure!(
        q.empty(),
        "items left in the queue after both consumers stopped"
    );
    Ok(got)
}

/// Two consumers racing with `try_get` over 2,000 items: the items they
/// got, taken together, are exactly the items put (multiset equality).
fn two_try_get_consumers() -> Outcome {
    const ITEMS: u32 = 2000;
    let got = consume_with_try_get(ITEMS, false)?;
    let mut items: Vec<u64> = got.iter().map(|&(_, item)| item).collect();
    items.sort_unstable();
    ensure_eq!(
        items,
        (0..ITEMS as u64).collect::<Vec<_>>(),
        "every item exactly once"
    );
    Ok(())
}

/// The same under the controlled scheduler, for several seeds.
fn controlled_try_get_consumers() -> Outcome {
    const ITEMS: u32 = 40;
    for seed in 1..=4 {
        let (status, out) = run_isolated(
            "controlled",
            move || {
                sched::configure(&Mode::Controlled {
                    strategy: Strategy::Random,
                    seed,
                })
                .unwrap();
                match consume_with_try_get(ITEMS, true) {
                    Ok(got) => {
                        let mut items: Vec<u64> = got.iter().map(|&(_, i)| i).collect();
                        items.sort_unstable();
                        emit(&format!("{items:?}"));
                    }
                    Err(e) => emit(&format!("error: {e}")),
                }
            },
            JOIN,
        )?;
        ensure_eq!(
            status,
            ExitStatus::Exited(0),
            "seed {seed}: run ends normally ({out})"
        );
        ensure_eq!(
            out,
            format!("{:?}", (0..ITEMS as u64).collect::<Vec<_>>()),
            "seed {seed}: every item exactly once"
        );
    }
    Ok(())
}

/// `get_timeout` on an empty queue gives `None` (after waiting), and an
/// item put later by another process arrives within a generous timeout.
fn get_timeout_returns_none_on_empty() -> Outcome {
    let q = queue::<u8>("q")?;
    ensure_eq!(q.try_get(), Ok(None), "try_get on empty");
    let t = Instant::now();
    ensure_eq!(
        q.get_timeout(Duration::from_millis(50)),
        Ok(None),
        "get_timeout on empty"
    );
    ensure!(
        t.elapsed() >= Duration::from_millis(45),
        "returned too early: {:?}",
        t.elapsed()
    );
    ensure!(q.empty(), "still empty");
    let mut kids = Kids::new();
    let i = kids.start("late-producer", || {
        std::thread::sleep(Duration::from_millis(30));
        q.put(42).unwrap();
    })?;
    ensure_eq!(
        q.get_timeout(Duration::from_secs(5)),
        Ok(Some(42)),
        "the late item arrives"
    );
    ensure_eq!(kids.join(i, JOIN)?, ExitStatus::Exited(0), "producer");
    ensure_eq!(q.get_timeout(Duration::ZERO), Ok(None), "empty again");
    Ok(())
}

/// `get_timeout(t)` on an empty queue waits at least `t`, also for
/// timeouts that are not whole milliseconds.
fn get_timeout_waits_at_least_its_timeout() -> Outcome {
    let q = queue::<u8>("q")?;
    for micros in [900, 1_500, 2_700] {
        let timeout = Duration::from_micros(micros);
        let t = Instant::now();
        ensure_eq!(q.get_timeout(timeout), Ok(None), "empty");
        let waited = t.elapsed();
        ensure!(
            waited >= timeout,
            "get_timeout({timeout:?}) returned after only {waited:?}"
        );
    }
    Ok(())
}

/// The lessons' faulty drain, `while !q.empty() { q.get() }`, in two
/// children over a queue holding one item. A start line between the check
/// and the get makes both children see "not empty" before either gets, so
/// the outcome is certain: one child takes the item and leaves, the other
/// blocks in `get` for good. After a deadline we look at it from outside
/// (the kernel says it sleeps in a pipe read or a futex wait), kill it by
/// its pid, and check that the queue's read lock, which it held, is
/// recovered.
fn faulty_drain_blocks_forever_in_get() -> Outcome {
    let q = queue::<u32>("jobs")?;
    q.put(1).map_err(|e| e.to_string())?;
    let got = [
        Value::new(0u32).map_err(|e| e.to_string())?,
        Value::new(0u32).map_err(|e| e.to_string())?,
    ];
    let line = StartLine::new(2);
    let mut kids = Kids::new();
    for me in 0..2 {
        let (q, got, line) = (&q, &got, &line);
        kids.start(&format!("drain-{me}"), move || {
            while !q.empty() {
                line.arrive(me);
                q.get().unwrap();
                got[me].update(|n| n + 1);
            }
        })?;
    }
    let pids = [kids.pid(0), kids.pid(1)];
    ensure!(
        wait_until(Duration::from_secs(5), || pids
            .iter()
            .any(|&p| has_ended(p))),
        "neither child finished its drain"
    );
    let (winner, loser) = if has_ended(pids[0]) { (0, 1) } else { (1, 0) };
    ensure_eq!(
        kids.join(winner, JOIN)?,
        ExitStatus::Exited(0),
        "the child that got the item"
    );
    ensure_eq!(got[winner].load(), 1, "the winner took the one item");
    ensure!(
        wait_until(Duration::from_secs(5), || proc_state(pids[loser])
            .is_some_and(|s| s.blocked_in_get())),
        "the other child is not blocked in get: {:?}",
        proc_state(pids[loser])
    );
    // Blocked, and it stays blocked: nothing will ever come.
    std::thread::sleep(Duration::from_millis(100));
    ensure!(!has_ended(pids[loser]), "the blocked child ended by itself");
    let state = proc_state(pids[loser]);
    ensure!(
        state.as_ref().is_some_and(|s| s.blocked_in_get()),
        "still blocked in get after the deadline: {state:?}"
    );
    ensure_eq!(
        got[loser].load(),
        0,
        "the blocked child never returned from get"
    );
    kill(Pid::from_raw(pids[loser]), Signal::SIGKILL).map_err(|e| e.to_string())?;
    ensure_eq!(
        kids.join(loser, JOIN)?,
        ExitStatus::Signaled(Signal::SIGKILL),
        "the blocked child is killed by us"
    );
    // It died holding the queue's read lock (it was inside get): the next
    // reader is told, and the queue works again.
    q.put(5).map_err(|e| e.to_string())?;
    ensure_eq!(
        q.get_timeout(Duration::from_secs(1)),
        Err(QueueError::Lock(LockError::HolderDied { pid: pids[loser] })),
        "the next get after the killed reader"
    );
    ensure_eq!(
        q.get_timeout(Duration::from_secs(1)),
        Ok(Some(5)),
        "then the queue works"
    );
    Ok(())
}

/// Writes what the controlled scheduler found stuck, one line each.
fn report_stuck(stuck: &[Stuck]) {
    for s in stuck {
        emit(&format!(
            "stuck {} {} {:?} {} {}\n",
            s.pid, s.slot, s.op, s.object, s.joining
        ));
    }
}

struct StuckLine {
    pid: i32,
    slot: usize,
    op: String,
    object: u32,
    joining: bool,
}

/// How a controlled run of the faulty drain ended.
struct DrainRun {
    status: ExitStatus,
    queue_id: u32,
    pids: Vec<i32>,
    stuck: Vec<StuckLine>,
    finished: bool,
}

/// Runs the faulty drain under `controlled:random:seed`, with or without
/// the start line between the check and the get.
fn controlled_drain(seed: u64, start_line: bool) -> Result<DrainRun, String> {
    let (status, out) = run_isolated(
        "drain",
        move || {
            sched::configure(&Mode::Controlled {
                strategy: Strategy::Random,
                seed,
            })
            .unwrap();
            controlled::set_deadlock_handler(report_stuck);
            let q = Queue::<u32>::with_label("jobs").unwrap();
            q.put(1).unwrap();
            let line = StartLine::new(2);
            let mut kids = Kids::new();
            for me in 0..2 {
                let (q, line) = (&q, &line);
                kids.start(&format!("drain-{me}"), move || {
                    while !q.empty() {
                        if start_line {
                            line.arrive(me);
                        }
                        q.get().unwrap();
                    }
                })
                .unwrap();
            }
            emit(&format!(
                "queue {}\npids {} {}\n",
                q.id(),
                kids.pid(0),
                kids.pid(1)
            ));
            kids.join_all_scheduled().unwrap();
            emit("finished\n");
        },
        JOIN,
    )?;
    let mut queue_id = 0;
    let mut pids = Vec::new();
    let mut stuck = Vec::new();
    let mut finished = false;
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["queue", id] => queue_id = id.parse().map_err(|_| format!("bad line {line:?}"))?,
            ["pids", a, b] => pids = vec![a.parse().unwrap_or(0), b.parse().unwrap_or(0)],
            ["stuck", pid, slot, op, object, joining] => stuck.push(StuckLine {
                pid: pid.parse().unwrap_or(0),
                slot: slot.parse().unwrap_or(99),
                op: op.to_string(),
                object: object.parse().unwrap_or(0),
                joining: *joining == "true",
            }),
            ["finished"] => finished = true,
            _ => return Err(format!("unexpected output line {line:?} in {out:?}")),
        }
    }
    Ok(DrainRun {
        status,
        queue_id,
        pids,
        stuck,
        finished,
    })
}

/// Checks a deadlocked drain: the run was ended (exit code 86, or killed by
/// whichever process found the deadlock), and exactly one worker is
/// reported stuck, on the queue; the program itself waits to join it.
fn check_stuck_on_queue(seed: u64, run: &DrainRun) -> Outcome {
    let DrainRun {
        status,
        queue_id,
        pids,
        stuck,
        ..
    } = run;
    ensure!(
        *status == ExitStatus::Exited(controlled::DEADLOCK_EXIT_CODE)
            || *status == ExitStatus::Signaled(Signal::SIGKILL),
        "seed {seed}: a deadlocked run ends with code 86 or SIGKILL, saw {status:?}"
    );
    let on_queue: Vec<&StuckLine> = stuck.iter().filter(|s| !s.joining).collect();
    ensure_eq!(on_queue.len(), 1, "seed {seed}: workers reported stuck");
    let s = on_queue[0];
    ensure_eq!(
        s.object,
        *queue_id,
        "seed {seed}: the stuck worker waits on the queue"
    );
    ensure!(
        pids.contains(&s.pid) && (1..=2).contains(&s.slot),
        "seed {seed}: stuck pid {} slot {} is not a worker {pids:?}",
        s.pid,
        s.slot
    );
    ensure!(
        stuck
            .iter()
            .any(|j| j.joining && j.slot == 0 && j.object == s.pid as u32),
        "seed {seed}: the program should be reported joining the stuck worker"
    );
    Ok(())
}

/// Under the controlled scheduler the faulty drain's hang is found at once
/// (no wall-clock timeout) and the deadlock handler names the worker stuck
/// on the queue. With the start line, every seed hangs; without it, the
/// race goes either way, and the seeds below show both outcomes.
fn controlled_faulty_drain() -> Outcome {
    for seed in 1..=3 {
        let run = controlled_drain(seed, true)?;
        ensure!(
            !run.finished,
            "seed {seed}: with the start line the drain must hang"
        );
        check_stuck_on_queue(seed, &run)?;
    }
    let (mut hung, mut done) = (0, 0);
    for seed in 1..=12 {
        let run = controlled_drain(seed, false)?;
        if run.finished {
            ensure_eq!(
                run.status,
                ExitStatus::Exited(0),
                "seed {seed}: a finished run"
            );
            ensure!(
                run.stuck.is_empty(),
                "seed {seed}: finished, yet stuck processes reported"
            );
            done += 1;
        } else {
            check_stuck_on_queue(seed, &run)?;
            hung += 1;
        }
    }
    ensure!(hung > 0 && done > 0, "the plain faulty drain should hang for some seeds and not others: {hung} hung, {done} finished");
    Ok(())
}

/// The stuck worker of the faulty drain waits in `get`, and the report
/// should say so (the grader prints it to the student).
fn controlled_stuck_get_is_reported_as_get() -> Outcome {
    let DrainRun {
        queue_id, stuck, ..
    } = controlled_drain(1, true)?;
    let on_queue: Vec<&StuckLine> = stuck
        .iter()
        .filter(|s| s.object == queue_id && !s.joining)
        .collect();
    ensure_eq!(on_queue.len(), 1, "one worker stuck on the queue");
    ensure_eq!(
        on_queue[0].op.as_str(),
        format!("{:?}", OpKind::Get).as_str(),
        "the op it is stuck in"
    );
    Ok(())
}

/// A correct program: 4 items, two consumers that each `get` twice. Under
/// the controlled scheduler it must never be reported as deadlocked.
fn controlled_blocking_gets_do_not_deadlock() -> Outcome {
    let mut deadlocked = Vec::new();
    for seed in 1..=20 {
        let (status, out) = run_isolated(
            "gets",
            move || {
                sched::configure(&Mode::Controlled {
                    strategy: Strategy::Random,
                    seed,
                })
                .unwrap();
                controlled::set_deadlock_handler(report_stuck);
                let q = Queue::<u32>::with_label("jobs").unwrap();
                for i in 0..4 {
                    q.put(i).unwrap();
                }
                let mut kids = Kids::new();
                for w in 0..2 {
                    kids.start(&format!("consumer-{w}"), || {
                        q.get().unwrap();
                        q.get().unwrap();
                    })
                    .unwrap();
                }
                kids.join_all_scheduled().unwrap();
                emit("finished\n");
            },
            JOIN,
        )?;
        if status != ExitStatus::Exited(0) || out.trim() != "finished" {
            deadlocked.push(format!(
                "seed {seed}: {status:?} {}",
                out.trim().replace('\n', "; ")
            ));
        }
    }
    ensure!(
        deadlocked.is_empty(),
        "falsely reported deadlocks with 2 items still queued for each consumer:\n       {}",
        deadlocked.join("\n       ")
    );
    Ok(())
}

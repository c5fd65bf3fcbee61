//! What the runtime costs, next to what it is built from.
//!
//! Run: `cargo bench -p multiproc` (release build; about half a minute).
//! `MULTIPROC_BENCH_REPS=N` changes the number of repetitions (default 7).
//!
//! Every figure is the **median** of several repetitions, and the variants
//! of one table are measured round-robin in the same repetitions, so slow
//! moments of the machine hit all of them alike. Printed next to each
//! median: the fastest and slowest repetition.
//!
//! 1. Uncontended acquire + release, one process, ns per pair:
//!    `std::sync::Mutex`; a raw `pthread_mutex_t` made
//!    `PTHREAD_PROCESS_SHARED` + `PTHREAD_MUTEX_ROBUST` in an `mmap`ed
//!    shared page (normal type, and error-checking type as
//!    `multiproc::Lock` uses); `multiproc::Lock` (acquire/release, and
//!    guard); and, in a child with tracing on, `multiproc::Lock` again.
//!    Also `Value::load` and `Value::update` against a bare atomic, for the
//!    cost of a scheduling point in free mode.
//! 2. Contended: 2 processes x 1,000,000 increments of a shared counter
//!    under the lock, in ops/s (higher is better), timed from a start flag
//!    both are spinning on to the later one's end. Two diagnostic rows
//!    redo `multiproc::Lock`'s holder bookkeeping by hand on the raw mutex,
//!    with the holder's pid in the mutex's cache line (as the runtime has
//!    it) and on a line of its own, to show what that placement costs.
//! 3. Process start + join (an empty child) against bare `fork` + `waitpid`,
//!    in microseconds.
//! 4. The controlled scheduler: 2 processes x 20,000 `Value::load`s under
//!    `controlled:random`, in ns per scheduling point and µs per token
//!    handoff.
//!
//! Targets (issue 2): uncontended `multiproc::Lock` within 1.2x the raw
//! robust pshared mutex; contended throughput no worse than it; Process
//! start + join median at most 300 µs.

use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

use multiproc::sched::{self, controlled::Strategy, Mode};
use multiproc::{trace, Lock, Process, Value};

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the line.
    let reps: usize = std::env::var("MULTIPROC_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(7);
    println!(
        "multiproc bench: {} CPUs, {} repetitions, medians [min .. max]",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        reps
    );
    let uncontended = bench_uncontended(reps);
    let contended = bench_contended(reps);
    let process = bench_process(reps);
    bench_controlled(reps);
    println!();
    println!("targets");
    let ratio = uncontended.lock / uncontended.raw_robust;
    verdict(
        &format!(
            "uncontended multiproc::Lock {:.1} ns = {ratio:.2}x raw robust pshared {:.1} ns (target <= 1.2x)",
            uncontended.lock, uncontended.raw_robust
        ),
        ratio <= 1.2,
    );
    let ratio = contended.lock / contended.raw_robust;
    verdict(
        &format!(
            "contended multiproc::Lock {:.2} Mops/s = {ratio:.2}x raw robust pshared {:.2} Mops/s (target >= 1.0x; +-5% is noise)",
            contended.lock / 1e6,
            contended.raw_robust / 1e6
        ),
        ratio >= 0.95,
    );
    verdict(
        &format!(
            "Process start+join {:.0} µs (bare fork+waitpid {:.0} µs; target <= 300 µs)",
            process.start_join, process.fork_wait
        ),
        process.start_join <= 300.0,
    );
}

fn verdict(text: &str, ok: bool) {
    println!("  {} {text}", if ok { "met   " } else { "MISSED" });
}

// ---------------------------------------------------------------- helpers

/// One page of zeroed `MAP_SHARED | MAP_ANONYMOUS` memory, never unmapped.
fn shared_page() -> *mut u8 {
    // SAFETY: a fresh anonymous mapping; checked for failure.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(p != libc::MAP_FAILED, "mmap failed");
    p.cast()
}

/// A process-shared robust pthread mutex, written with libc alone: the
/// baseline `multiproc::Lock` is measured against.
#[derive(Clone, Copy)]
struct RawMutex(*mut libc::pthread_mutex_t);

impl RawMutex {
    /// `kind` is `PTHREAD_MUTEX_NORMAL` or `PTHREAD_MUTEX_ERRORCHECK`.
    fn new(kind: libc::c_int) -> RawMutex {
        let m: *mut libc::pthread_mutex_t = shared_page().cast();
        // SAFETY: `attr` is initialised before use and destroyed after; the
        // mutex lives in a shared page that is never unmapped or moved.
        unsafe {
            let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            assert_eq!(libc::pthread_mutexattr_init(attr.as_mut_ptr()), 0);
            let a = attr.as_mut_ptr();
            assert_eq!(
                libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
                0
            );
            assert_eq!(
                libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
                0
            );
            assert_eq!(libc::pthread_mutexattr_settype(a, kind), 0);
            assert_eq!(libc::pthread_mutex_init(m, a), 0);
            libc::pthread_mutexattr_destroy(a);
        }
        RawMutex(m)
    }

    #[inline]
    fn lock(self) {
        // SAFETY: initialised in `new`.
        match unsafe { libc::pthread_mutex_lock(self.0) } {
            0 => {}
            // SAFETY: we own it now; this is the documented recovery.
            libc::EOWNERDEAD => unsafe {
                libc::pthread_mutex_consistent(self.0);
            },
            rc => panic!("pthread_mutex_lock: {rc}"),
        }
    }

    #[inline]
    fn unlock(self) {
        // SAFETY: called by the holder only.
        unsafe { libc::pthread_mutex_unlock(self.0) };
    }
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs every variant once per repetition, round-robin, and prints one
/// line per variant. Returns the medians in the order given.
fn table(
    title: &str,
    unit: &str,
    reps: usize,
    variants: &mut [(&str, &mut dyn FnMut() -> f64)],
) -> Vec<f64> {
    println!();
    println!("{title}");
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..reps {
        for (i, (_, run)) in variants.iter_mut().enumerate() {
            samples[i].push(run());
        }
    }
    let mut medians = Vec::new();
    for (i, (name, _)) in variants.iter().enumerate() {
        let s = &mut samples[i];
        let m = median(s);
        println!(
            "  {name:<52} {m:>10.2} {unit}  [{:.2} .. {:.2}]",
            s[0],
            s[s.len() - 1]
        );
        medians.push(m);
    }
    medians
}

/// Times `iters` calls of `op`, in ns per call.
fn per_op(iters: u64, mut op: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        op();
    }
    t.elapsed().as_nanos() as f64 / iters as f64
}

// ------------------------------------------------------------ uncontended

struct Uncontended {
    raw_robust: f64,
    lock: f64,
}

fn bench_uncontended(reps: usize) -> Uncontended {
    const N: u64 = 2_000_000;
    let std_mutex = std::sync::Mutex::new(0u64);
    let raw = RawMutex::new(libc::PTHREAD_MUTEX_NORMAL);
    let raw_check = RawMutex::new(libc::PTHREAD_MUTEX_ERRORCHECK);
    let lock = Lock::new().unwrap();
    let value = Value::new(0u64).unwrap();
    let atomic = AtomicU64::new(0);
    let mut traced = || lock_with_tracing_in_child(N);
    let m = table(
        "1. uncontended acquire + release (one process)",
        "ns/op",
        reps,
        &mut [
            ("std::sync::Mutex lock + unlock", &mut || {
                per_op(N, || *black_box(&std_mutex).lock().unwrap() += 1)
            }),
            ("raw pthread mutex, pshared + robust (normal)", &mut || {
                per_op(N, || {
                    let m = black_box(raw);
                    m.lock();
                    m.unlock();
                })
            }),
            (
                "raw pthread mutex, pshared + robust + errorcheck",
                &mut || {
                    per_op(N, || {
                        let m = black_box(raw_check);
                        m.lock();
                        m.unlock();
                    })
                },
            ),
            ("multiproc::Lock acquire + release", &mut || {
                per_op(N, || {
                    let l = black_box(&lock);
                    l.acquire().unwrap();
                    l.release().unwrap();
                })
            }),
            ("multiproc::Lock guard", &mut || {
                per_op(N, || drop(black_box(&lock).guard().unwrap()))
            }),
            ("multiproc::Lock acquire + release, tracing on", &mut traced),
            ("bare AtomicU64 load (Relaxed)", &mut || {
                per_op(N, || {
                    black_box(black_box(&atomic).load(Relaxed));
                })
            }),
            ("Value::load (free mode: one scheduling point)", &mut || {
                per_op(N, || {
                    black_box(black_box(&value).load());
                })
            }),
            ("Value::update (load + store)", &mut || {
                per_op(N, || {
                    black_box(&value).update(|v| v + 1);
                })
            }),
        ],
    );
    Uncontended {
        raw_robust: m[1],
        lock: m[3],
    }
}

/// Tracing is switched on for good once enabled, so it is measured in a
/// child; the child sends its figure back through shared memory. (The trace
/// holds 65,536 events; past that `record` only counts, so this measures
/// the steady state of a long run.)
fn lock_with_tracing_in_child(n: u64) -> f64 {
    let out = Value::new(0u64).unwrap();
    let mut p = Process::start("traced", || {
        trace::enable().unwrap();
        let lock = Lock::new().unwrap();
        let ns = per_op(n, || {
            let l = black_box(&lock);
            l.acquire().unwrap();
            l.release().unwrap();
        });
        out.store(ns.to_bits());
    })
    .unwrap();
    assert!(p.join().unwrap().success());
    f64::from_bits(out.load())
}

// -------------------------------------------------------------- contended

struct Contended {
    raw_robust: f64,
    lock: f64,
}

/// The page two workers share: a start flag, a counter, their end times.
struct Race {
    ready: AtomicU32,
    go: AtomicU32,
    counter: AtomicU64,
    end_ns: [AtomicU64; 2],
}

/// 2 processes x `n` locked increments; returns ops/s. `incr` is one
/// locked increment of `race.counter`.
fn race(n: u64, incr: &dyn Fn(&Race)) -> f64 {
    let race: &Race = unsafe { &*shared_page().cast::<Race>() }; // SAFETY: zeroed atomics are valid
    let mut workers: Vec<Process> = (0..2)
        .map(|w| {
            Process::start("worker", move || {
                race.ready.fetch_add(1, SeqCst);
                while race.go.load(Acquire) == 0 {
                    std::hint::spin_loop();
                }
                for _ in 0..n {
                    incr(race);
                }
                race.end_ns[w].store(monotonic_ns(), SeqCst);
            })
            .unwrap()
        })
        .collect();
    while race.ready.load(SeqCst) < 2 {
        std::thread::sleep(Duration::from_micros(50));
    }
    let start = monotonic_ns();
    race.go.store(1, Release);
    for w in &mut workers {
        assert!(w.join().unwrap().success());
    }
    assert_eq!(
        race.counter.load(SeqCst),
        2 * n,
        "lost increments: the lock is broken"
    );
    let end = race.end_ns.iter().map(|e| e.load(SeqCst)).max().unwrap();
    let secs = (end - start) as f64 / 1e9;
    // The page is left mapped: a few pages per run, for the life of the bench.
    (2 * n) as f64 / secs
}

fn bench_contended(reps: usize) -> Contended {
    const N: u64 = 1_000_000;
    let raw = RawMutex::new(libc::PTHREAD_MUTEX_NORMAL);
    let raw_check = RawMutex::new(libc::PTHREAD_MUTEX_ERRORCHECK);
    let lock = Lock::new().unwrap();
    let value = Value::new(0u64).unwrap();
    // What `multiproc::Lock` adds to the raw mutex, inside the critical
    // section: it records its holder's pid next to the mutex (offset 40, in
    // the same cache line as the futex word the waiter hammers), and checks
    // it on release. The same bookkeeping with the pid 128 bytes away shows
    // how much of the difference is that shared cache line.
    let (raw_near, raw_far) = (
        RawMutex::new(libc::PTHREAD_MUTEX_NORMAL),
        RawMutex::new(libc::PTHREAD_MUTEX_NORMAL),
    );
    let near = holder_at(raw_near, 40);
    let far = holder_at(raw_far, 128);
    let incr = |r: &Race| r.counter.store(r.counter.load(Relaxed) + 1, Relaxed);
    let m = table(
        "2. contended: 2 processes x 1,000,000 locked increments",
        "Mops/s",
        reps,
        &mut [
            ("raw pthread mutex, pshared + robust (normal)", &mut || {
                race(N, &|r| {
                    raw.lock();
                    incr(r);
                    raw.unlock();
                }) / 1e6
            }),
            (
                "raw pthread mutex, pshared + robust + errorcheck",
                &mut || {
                    race(N, &|r| {
                        raw_check.lock();
                        incr(r);
                        raw_check.unlock();
                    }) / 1e6
                },
            ),
            ("multiproc::Lock acquire + release", &mut || {
                race(N, &|r| {
                    lock.acquire().unwrap();
                    incr(r);
                    lock.release().unwrap();
                }) / 1e6
            }),
            (
                "diagnostic: raw + holder pid in the mutex's cache line",
                &mut || race(N, &|r| with_holder(raw_near, near, || incr(r))) / 1e6,
            ),
            (
                "diagnostic: raw + holder pid on a cache line of its own",
                &mut || race(N, &|r| with_holder(raw_far, far, || incr(r))) / 1e6,
            ),
            (
                "multiproc::Lock guard + Value::update (course style)",
                &mut || {
                    value.store(0);
                    let ops = race(N, &|r| {
                        let _held = lock.guard().unwrap();
                        value.update(|v| v + 1);
                        incr(r);
                    });
                    assert_eq!(value.load(), 2 * N);
                    ops / 1e6
                },
            ),
        ],
    );
    Contended {
        raw_robust: m[0] * 1e6,
        lock: m[2] * 1e6,
    }
}

/// A pid slot `offset` bytes into the raw mutex's page.
fn holder_at(m: RawMutex, offset: usize) -> &'static AtomicI32 {
    assert!(offset >= std::mem::size_of::<libc::pthread_mutex_t>());
    // SAFETY: inside the mutex's page (never unmapped), past the mutex,
    // 4-aligned, zeroed.
    unsafe { &*m.0.cast::<u8>().add(offset).cast::<AtomicI32>() }
}

/// One critical section with `multiproc::Lock`'s bookkeeping done by hand:
/// record the holder after locking; check and clear it before unlocking.
#[inline]
fn with_holder(m: RawMutex, holder: &AtomicI32, body: impl FnOnce()) {
    m.lock();
    let me = multiproc::current_pid();
    holder.store(me, Relaxed);
    body();
    assert_eq!(holder.load(Relaxed), me);
    holder.store(0, Relaxed);
    m.unlock();
}

// ---------------------------------------------------------------- process

struct ProcessCost {
    start_join: f64,
    fork_wait: f64,
}

fn bench_process(reps: usize) -> ProcessCost {
    const N: u32 = 60;
    let m = table(
        "3. process start + join of an empty child (median of 60 per repetition)",
        "µs",
        reps,
        &mut [
            ("multiproc::Process::start + join", &mut || {
                let mut v: Vec<f64> = (0..N)
                    .map(|_| {
                        let t = Instant::now();
                        let mut p = Process::start("empty", || {}).unwrap();
                        p.join().unwrap();
                        t.elapsed().as_nanos() as f64 / 1e3
                    })
                    .collect();
                median(&mut v)
            }),
            ("bare fork + _exit + waitpid", &mut || {
                let mut v: Vec<f64> = (0..N)
                    .map(|_| {
                        let t = Instant::now();
                        // SAFETY: single-threaded; the child leaves at once.
                        let pid = unsafe { libc::fork() };
                        if pid == 0 {
                            // SAFETY: leave without running anything else.
                            unsafe { libc::_exit(0) };
                        }
                        let mut status = 0;
                        // SAFETY: `pid` is our child.
                        unsafe { libc::waitpid(pid, &mut status, 0) };
                        t.elapsed().as_nanos() as f64 / 1e3
                    })
                    .collect();
                median(&mut v)
            }),
        ],
    );
    ProcessCost {
        start_join: m[0],
        fork_wait: m[1],
    }
}

// ------------------------------------------------------------- controlled

/// The scheduler can be configured once per process, so each repetition
/// runs in a child of its own and reports back through shared memory.
fn bench_controlled(reps: usize) {
    const N: u32 = 20_000;
    let run = |per_handoff: bool| -> f64 {
        let out = Value::new(0u64).unwrap();
        let mut p = Process::start("controlled", || {
            sched::configure(&Mode::Controlled {
                strategy: Strategy::Random,
                seed: 1,
            })
            .unwrap();
            let v = Value::new(0u32).unwrap();
            let t = Instant::now();
            let mut workers: Vec<Process> = (0..2)
                .map(|_| {
                    Process::start("w", || {
                        for _ in 0..N {
                            black_box(v.load());
                        }
                    })
                    .unwrap()
                })
                .collect();
            for w in &mut workers {
                w.join().unwrap();
            }
            let ns = t.elapsed().as_nanos() as f64;
            let schedule = sched::controlled::schedule().unwrap_or_default();
            // Runs of one slot in the schedule: each new run is a handoff.
            let handoffs = schedule.split('.').filter(|r| !r.is_empty()).count().max(1);
            let figure = if per_handoff {
                ns / handoffs as f64 / 1e3
            } else {
                ns / (2 * N) as f64
            };
            out.store(figure.to_bits());
        })
        .unwrap();
        assert!(p.join().unwrap().success());
        f64::from_bits(out.load())
    };
    let reps = reps.min(3);
    table(
        "4. controlled:random, 2 processes x 20,000 Value::load",
        "",
        reps,
        &mut [
            ("ns per scheduling point", &mut || run(false)),
            (
                "µs per token handoff (time / runs in the schedule)",
                &mut || run(true),
            ),
        ],
    );
}

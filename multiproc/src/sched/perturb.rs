//! Perturbation: make bad timing common.
//!
//! A lost update needs one process to store between another's load and
//! store, a window of a few nanoseconds. Left alone, two processes almost
//! never hit it. Here every scheduling point rolls a seeded die: most of
//! the time nothing happens, sometimes the process yields its CPU, and
//! sometimes it sleeps for a few dozen microseconds, which holds a window
//! open long enough for the other process to walk into it.
//!
//! Children also wait at a start gate until their parent reaches its first
//! scheduling point after starting them (usually the first `join`), so that
//! workers started one after the other still run side by side.
//!
//! The seed makes the *choices* repeatable, not the run: the operating
//! system still decides what happens during a sleep. For exact replay use
//! the controlled scheduler.

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Duration;

use super::Op;
use crate::shm::Shared;

struct Gate {
    open: AtomicU32,
    started: AtomicU32,
    seed: AtomicU64,
    children: AtomicU32,
}

static GATE: std::sync::OnceLock<Shared<Gate>> = std::sync::OnceLock::new();

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

pub(super) fn init(seed: u64) -> io::Result<()> {
    // SAFETY: atomics are valid all-zero.
    let gate = unsafe { Shared::<Gate>::zeroed() }?;
    gate.seed.store(seed, Relaxed);
    let _ = GATE.set(gate);
    reseed(0);
    Ok(())
}

fn reseed(n: u64) {
    let seed = GATE.get().map_or(0, |g| g.seed.load(Relaxed));
    RNG.with(|r| r.set(splitmix(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1));
}

pub(super) fn before_start() {
    if let Some(gate) = GATE.get() {
        gate.started.fetch_add(1, Relaxed);
    }
}

pub(super) fn child_started() {
    let Some(gate) = GATE.get() else { return };
    let n = gate.children.fetch_add(1, Relaxed) as u64 + 1;
    reseed(n);
    // Wait for the parent to open the gate; bounded, in case it waits for
    // us without passing a scheduling point.
    let deadline = std::time::Instant::now() + Duration::from_millis(200);
    while gate.open.load(Acquire) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(50));
    }
}

#[cold]
#[inline(never)]
pub(super) fn point(_op: Op) {
    if let Some(gate) = GATE.get() {
        if gate.open.load(Relaxed) == 0 && gate.started.load(Relaxed) > 0 {
            gate.open.store(1, Release);
        }
    }
    let roll = next() % 100;
    if roll < 20 {
        // SAFETY: sched_yield has no preconditions.
        unsafe { libc::sched_yield() };
    } else if roll < 35 {
        std::thread::sleep(Duration::from_micros(5 + next() % 60));
    }
}

fn next() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
}

pub(super) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

//! `pause`: the lessons' `time.sleep`, on a clock the grader can speed up.
//!
//! The lessons sleep 10 ms in each of 100 steps, so one run takes a second.
//! Graded 200 times, that is minutes of waiting for nothing. The sleeps are
//! there to let the other process run, not to measure time, so the grader
//! scales them: `MULTIPROC_TIME_SCALE=0.01` makes every pause a hundredth as
//! long, and `0` turns pauses into a bare yield of the CPU.
//!
//! Under the controlled scheduler a pause is a scheduling point and nothing
//! more: time there is logical.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::sched::{self, Op};

/// The environment variable read for the time scale (a number, 1 if unset).
pub const TIME_SCALE_ENV: &str = "MULTIPROC_TIME_SCALE";

/// The scale as `f64` bits; `u64::MAX` means "not set yet".
static SCALE: AtomicU64 = AtomicU64::new(u64::MAX);

/// The factor every [`pause`] is multiplied by: the one given to
/// [`set_time_scale`], or else `MULTIPROC_TIME_SCALE`, or 1.
pub fn time_scale() -> f64 {
    let bits = SCALE.load(Relaxed);
    if bits != u64::MAX {
        return f64::from_bits(bits);
    }
    let scale = std::env::var(TIME_SCALE_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    // Whoever sets it first wins; a later reader sees the same scale.
    let _ = set_time_scale(scale);
    f64::from_bits(SCALE.load(Relaxed))
}

/// Sets the factor every [`pause`] is multiplied by (1.0 = real time).
///
/// Like the scheduling mode, the scale is chosen once per program (it
/// shapes the interleavings a run is judged on): once set, or once read,
/// it stays, and this returns false.
pub fn set_time_scale(scale: f64) -> bool {
    SCALE
        .compare_exchange(u64::MAX, scale.max(0.0).to_bits(), Relaxed, Relaxed)
        .is_ok()
}

/// Pauses the calling process for `duration` times the time scale, letting
/// other processes run meanwhile.
pub fn pause(duration: Duration) {
    sched::point(Op::pause());
    if sched::controlled() {
        return;
    }
    let scaled = duration.mul_f64(time_scale());
    if scaled.is_zero() {
        std::thread::yield_now();
    } else {
        std::thread::sleep(scaled);
    }
}

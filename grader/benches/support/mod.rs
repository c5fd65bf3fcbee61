//! What the benchmarks share: the course's root, their settings, medians,
//! and running the real grader for its JSON report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

/// Each exercise's number and folder.
pub const SLUGS: [(&str, &str); 5] = [
    ("1", "01-sequential-bank"),
    ("2", "02-unlocked-race"),
    ("3", "03-locked-bank"),
    ("4", "04-queue-drain"),
    ("5", "05-reentrant-lock"),
];

/// The course's root.
pub fn course_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is a member of the course's workspace")
        .to_path_buf()
}

/// The setting `name` from the environment, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// The median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs the grader; returns its JSON report and the wall time in seconds.
pub fn grade(args: &[&str]) -> (Value, f64) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(args)
        .args(["--format", "json", "--color", "never"])
        .current_dir(course_root())
        .env_remove("MULTIPROC_SCHED")
        .output()
        .expect("the grader runs");
    let secs = start.elapsed().as_secs_f64();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}) from grader {args:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, secs)
}

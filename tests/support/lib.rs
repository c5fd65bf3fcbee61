//! Helpers shared by the workspace-level tests in `tests/`: finding the
//! grader binary and the course's fixtures. (Helpers that need the test
//! crates, assert_cmd and serde_json, are in `tests/common/mod.rs`.)
//!
//! The tests run the real grader on the real exercise programs; nothing is
//! mocked. They keep the number of runs small (tens, not hundreds) so the
//! whole suite stays quick on two cores; the verdicts they check are
//! deterministic for a given seed under the controlled scheduler.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The seed every test grades with, so that reports are reproducible.
pub const SEED: &str = "7";

/// The exercises' directories, as the course has them.
pub const EXERCISES: [&str; 5] = [
    "01-sequential-bank",
    "02-unlocked-race",
    "03-locked-bank",
    "04-queue-drain",
    "05-reentrant-lock",
];

/// A generous bound on one grading command, builds included (the first
/// release build of a staged submission compiles every dependency).
pub const DEADLINE: Duration = Duration::from_secs(600);

/// The course's root (this package's manifest directory).
pub fn course_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture directory under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    course_root().join("tests").join("fixtures").join(name)
}

/// The grader binary, freshly built.
///
/// `cargo test` builds a package's binaries only for that package's own
/// integration tests, and the grader is another package; so the first
/// call builds it (a no-op when it is up to date) beside the test
/// binaries, in the same profile.
pub fn grader_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| built("grader", "grader"))
}

/// The binary `bin` of the workspace's package `package`, freshly built
/// beside the test binaries, in the same profile (see [`grader_path`]).
pub fn built(package: &str, bin: &str) -> PathBuf {
    // Integration tests live in <target>/<profile>/deps; the
    // workspace's binaries beside that directory.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from <target>/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("a target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", package, "--target-dir"])
        .arg(target_dir)
        .current_dir(course_root());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "could not build {package}");
    profile_dir.join(bin)
}

/// Filters that make a report the same on every machine and every run:
/// timings, pids, CPU counts and the checkout's path change; verdicts,
/// rates, seeds and traces do not.
pub fn stable_filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\(\d+\.\d s\)", "([time])"),
        (
            r#""(elapsed_ms|run_median_ms|run_p90_ms|run_max_ms|program_median_ms|scenario_median_ms|overhead_median_ms|judge_median_ms)": [0-9.e-]+"#,
            r#""$1": "[ms]""#,
        ),
        (r"pid \d+", "pid [pid]"),
        (r"\d+ CPUs?", "[n] CPUs"),
        (r#""cpus": \d+"#, r#""cpus": "[n]""#),
        (r"/\S*/tests/fixtures/", "[course]/tests/fixtures/"),
        // What the supervisor cannot do depends on the machine (no pids
        // cgroup or network namespace without privileges).
        (r"(?m)^warning: .*\n", ""),
        (
            r#""(warnings|run_warnings)": \[(?s:[^\]]*)\]"#,
            r#""$1": "[machine]""#,
        ),
    ]
}

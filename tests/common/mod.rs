//! Helpers for the integration tests that need their dev-dependencies:
//! running the grader with assert_cmd and reading its JSON reports.
//!
//! Each test file includes this module and uses part of it.
#![allow(dead_code)]

pub use course_tests::*;

/// A command running the grader from the course's root, with colour and
/// progress off and a deadline.
pub fn grader() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(grader_path());
    cmd.current_dir(course_root())
        .env("NO_COLOR", "1")
        .env_remove("MULTIPROC_SCHED")
        .timeout(DEADLINE);
    cmd
}

/// Parses a JSON report.
pub fn json(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "the report is not JSON ({e}):\n{}",
            String::from_utf8_lossy(stdout)
        )
    })
}

/// The exercise with this slug in a JSON report.
pub fn exercise<'a>(report: &'a serde_json::Value, slug: &str) -> &'a serde_json::Value {
    report["exercises"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["slug"] == slug))
        .unwrap_or_else(|| panic!("no exercise {slug} in the report"))
}

/// The invariant with this id in an exercise of a JSON report.
pub fn invariant<'a>(exercise: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    exercise["invariants"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("no invariant {id} in {}", exercise["slug"]))
}

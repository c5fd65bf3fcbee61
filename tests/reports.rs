//! The reports themselves, as snapshots: the human report and the JSON
//! report of a failing submission, and the human report of the solutions.
//! Timings, pids, CPU counts and paths are redacted; the rest (verdicts,
//! rates, seeds, the interleavings shown) is fixed by the seed.

mod common;

use common::{fixture, grader, stable_filters, SEED};

fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in stable_filters() {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn stdout(args: &[&str], workspace: Option<&str>) -> String {
    let mut cmd = grader();
    cmd.args(args).args(["--seed", SEED, "--jobs", "2"]);
    if let Some(w) = workspace {
        cmd.arg("--workspace").arg(fixture(w));
    }
    let out = cmd.assert().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn human_report_of_a_failing_submission() {
    let text = stdout(&["locked-bank", "--runs", "10"], Some("unlocked-bank"));
    snapshot("human_unlocked_bank", &text);
}

#[test]
fn json_report_of_a_failing_submission() {
    let text = stdout(
        &["locked-bank", "--runs", "10", "--format", "json"],
        Some("unlocked-bank"),
    );
    snapshot("json_unlocked_bank", &text);
}

#[test]
fn human_report_of_the_solutions() {
    let text = stdout(&["--solutions", "--runs", "20"], None);
    snapshot("human_solutions", &text);
}

#[test]
fn junit_has_a_suite_per_exercise_and_a_case_per_invariant() {
    let text = stdout(
        &["locked-bank", "--runs", "5", "--format", "junit"],
        Some("unlocked-bank"),
    );
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(
        text.contains(r#"<testsuite name="03 locked-bank""#),
        "{text}"
    );
    assert!(
        text.contains(r#"<testcase name="the final balance is the start" classname="locked-bank""#),
        "{text}"
    );
    assert!(text.contains("<failure"), "{text}");
    assert_eq!(text.matches("<testcase ").count(), 8, "{text}");
}

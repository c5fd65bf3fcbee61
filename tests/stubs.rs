//! The course as shipped: every exercise is a stub, and grading it fails
//! each one cleanly with "not implemented yet", naming the function.

mod common;

use common::{grader, json, SEED};
use predicates::prelude::PredicateBooleanExt;

#[test]
fn grading_the_stubs_fails_every_exercise_as_not_implemented() {
    let out = grader()
        .args(["--runs", "5", "--seed", SEED, "--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    assert_eq!(report["passed"], false);
    let exercises = report["exercises"].as_array().unwrap();
    assert_eq!(exercises.len(), 5);
    for e in exercises {
        assert_eq!(e["status"], "failed", "{}", e["slug"]);
        let headline = e["headline"].as_str().unwrap_or_default();
        assert!(
            headline.starts_with("not implemented yet: "),
            "{}: {headline}",
            e["slug"]
        );
        // Nothing else is claimed about a program that never ran its task.
        for inv in e["invariants"].as_array().unwrap() {
            assert_ne!(inv["status"], "passed", "{} / {}", e["slug"], inv["name"]);
        }
    }
}

#[test]
fn a_stub_reads_as_not_implemented_for_a_person_too() {
    grader()
        .args(["sequential-bank", "--runs", "3", "--seed", SEED])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("not implemented yet: deposit"))
        .stdout(predicates::str::contains("panicked at").not());
}

//! The reference solutions pass every invariant of every exercise, in
//! every report format.

mod common;

use common::{exercise, grader, json, SEED};

#[test]
fn grading_the_solutions_passes_everything() {
    let out = grader()
        .args([
            "--solutions",
            "--runs",
            "30",
            "--seed",
            SEED,
            "--format",
            "json",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    assert_eq!(report["passed"], true);
    let exercises = report["exercises"].as_array().unwrap();
    assert_eq!(exercises.len(), 5, "every exercise is graded");
    for e in exercises {
        assert_eq!(e["status"], "passed", "{}: {}", e["slug"], e["headline"]);
        assert_eq!(e["runs"], 30);
        for inv in e["invariants"].as_array().unwrap() {
            assert_eq!(inv["status"], "passed", "{} / {}", e["slug"], inv["name"]);
            if inv["quantifier"] == "every" {
                assert_eq!(inv["held"], 30, "{} / {}", e["slug"], inv["name"]);
            }
        }
    }
    // The race of exercise 2 shows, and its finals are reported.
    let race = exercise(&report, "unlocked-race");
    let finals = race["distributions"][0]["values"].as_array().unwrap();
    assert!(
        finals.len() > 1,
        "several final balances over 30 runs: {finals:?}"
    );
    // Each exercise says which mode it ran in.
    assert_eq!(exercise(&report, "sequential-bank")["mode"], "free");
    assert_eq!(exercise(&report, "locked-bank")["mode"], "controlled");
}

#[test]
fn gradescope_results_give_full_marks_to_the_solutions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    grader()
        .args([
            "--solutions",
            "1",
            "3",
            "--runs",
            "5",
            "--seed",
            SEED,
            "--format",
            "gradescope",
            "--output",
        ])
        .arg(&path)
        .assert()
        .code(0);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(results["max_score"], 40.0);
    assert_eq!(results["score"], 40.0);
    let tests = results["tests"].as_array().unwrap();
    assert!(tests.iter().all(|t| t["status"] == "passed"), "{tests:?}");
    assert!(tests
        .iter()
        .any(|t| t["name"] == "03 locked-bank: the final balance is the start"));
    for field in ["name", "score", "max_score", "status", "output"] {
        assert!(
            tests.iter().all(|t| !t[field].is_null()),
            "every test has {field}"
        );
    }
}

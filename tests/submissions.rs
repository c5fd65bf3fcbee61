//! A submission is graded inside a pristine copy of the course: only each
//! exercise's `src/lib.rs` is taken from it. One that does not compile
//! fails that exercise alone, with the compiler's first error; a missing
//! one fails as missing; the rest is graded; every other file it brings is
//! named as ignored.

mod common;

use common::{exercise, fixture, grader, invariant, json, SEED};

#[test]
fn a_mixed_submission_is_graded_exercise_by_exercise() {
    let out = grader()
        .args([
            "1",
            "2",
            "3",
            "--runs",
            "10",
            "--seed",
            SEED,
            "--format",
            "json",
            "--workspace",
        ])
        .arg(fixture("mixed-bag"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);

    let broken = exercise(&report, "sequential-bank");
    assert_eq!(broken["status"], "build-failed");
    let headline = broken["headline"].as_str().unwrap();
    assert!(
        headline.starts_with("does not compile: exercises/01-sequential-bank/src/lib.rs:"),
        "{headline}"
    );
    assert!(headline.contains("undefined_bonus"), "{headline}");
    assert_eq!(broken["runs"], 0);

    let race = exercise(&report, "unlocked-race");
    assert_eq!(race["status"], "passed", "{}", race["headline"]);
    assert_eq!(invariant(race, "lost-update")["status"], "passed");

    let missing = exercise(&report, "locked-bank");
    assert_eq!(missing["status"], "missing");
    assert!(missing["headline"]
        .as_str()
        .unwrap()
        .contains("exercises/03-locked-bank/src/lib.rs"));

    let ignored: Vec<&str> = report["ignored_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        ignored,
        [
            "NOTES.txt (not part of the course)",
            "multiproc/src/lock.rs (differs from the course's; the course's is used)"
        ]
    );
}

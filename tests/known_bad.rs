//! The lessons' buggy programs, submitted as solutions, are caught: the
//! unlocked bank fails the locked bank's exact balance, the faulty drain
//! is reported as a hang, and a drain that never returns is stopped at its
//! deadline with the stuck processes named. Each submission is a fixture
//! holding only the student's file; the rest comes from the course.

use std::time::{Duration, Instant};

mod common;

use common::{exercise, fixture, grader, invariant, json, SEED};
use predicates::str::contains;

#[test]
fn the_unlocked_bank_fails_the_locked_banks_exact_balance() {
    let out = grader()
        .args([
            "locked-bank",
            "--runs",
            "20",
            "--seed",
            SEED,
            "--format",
            "json",
            "--workspace",
        ])
        .arg(fixture("unlocked-bank"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    let bank = exercise(&report, "locked-bank");
    assert_eq!(bank["status"], "failed");
    let exact = invariant(bank, "final-equals-start");
    assert_eq!(exact["status"], "failed");
    let failure = &exact["failure"];
    let expected = failure["expected"].as_str().unwrap();
    let start = expected.strip_prefix("final balance ").unwrap();
    assert_ne!(failure["seen"], start);
    let evidence = failure["evidence"][0].as_str().unwrap();
    assert!(
        evidence.contains(" load ") && evidence.contains(" store "),
        "{evidence}"
    );
    assert!(evidence.contains("lost"), "{evidence}");
    let replay = failure["replay"].as_str().unwrap();
    assert!(
        replay.starts_with("cargo grade replay locked-bank --seed "),
        "{replay}"
    );
    // The command is for the submission's own checkout: the grader's
    // path to it means nothing to its author.
    assert!(!replay.contains("--workspace"), "{replay}");
    // The lock was handed in and never taken.
    assert_eq!(invariant(bank, "update-inside-lock")["status"], "failed");
    assert_eq!(invariant(bank, "acquisitions")["status"], "failed");
    // Only exercise 3 was asked for, and the submission brings nothing else.
    assert_eq!(report["exercises"].as_array().unwrap().len(), 1);
    assert_eq!(report["ignored_files"].as_array().unwrap().len(), 0);
}

#[test]
fn replaying_a_failing_seed_reproduces_the_failure() {
    let out = grader()
        .args([
            "3",
            "--runs",
            "3",
            "--seed",
            SEED,
            "--format",
            "json",
            "--workspace",
        ])
        .arg(fixture("unlocked-bank"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    let failure = &invariant(exercise(&report, "locked-bank"), "final-equals-start")["failure"];
    let seen = failure["seen"].as_str().unwrap();
    let lost = failure["evidence"][0].as_str().unwrap();
    let (trace, _) = lost.split_once(" → ").unwrap();
    // The failure shown is shrunk: its replay command names its seed and
    // its schedule.
    let command = failure["replay"].as_str().unwrap();
    let args: Vec<&str> = command
        .strip_prefix("cargo grade ")
        .unwrap()
        .split(' ')
        .map(|a| if a == "''" { "" } else { a })
        .collect();
    assert!(command.contains(" --seed "), "{command}");
    assert!(command.contains(" --schedule "), "{command}");
    grader()
        .args(&args)
        .arg("--workspace")
        .arg(fixture("unlocked-bank"))
        .assert()
        .code(1)
        .stdout(contains(format!("seen      {seen}")))
        .stdout(contains(trace))
        .stdout(contains("Trace ("));
}

#[test]
fn the_faulty_drain_is_reported_as_a_hang_in_bounded_time() {
    let started = Instant::now();
    let out = grader()
        .args([
            "queue-drain",
            "--runs",
            "10",
            "--seed",
            SEED,
            "--format",
            "json",
            "--workspace",
        ])
        .arg(fixture("faulty-drain"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    let drain = exercise(&report, "queue-drain");
    let hang = invariant(drain, "no-hang");
    assert_eq!(hang["status"], "failed");
    assert!(hang["broken"].as_u64().unwrap() >= 1);
    let seen = hang["failure"]["seen"].as_str().unwrap();
    assert!(seen.starts_with("deadlocked: "), "{seen}");
    assert!(seen.contains("waits in get on queue 'queue'"), "{seen}");
    assert!(drain["headline"].as_str().unwrap().contains("no hang"));
    // Not a crash: nothing panicked.
    assert_eq!(invariant(drain, "no-panic")["status"], "passed");
    assert!(started.elapsed() < course_tests::DEADLINE);
}

#[test]
fn a_drain_that_never_returns_is_stopped_at_its_deadline() {
    let out = grader()
        .args([
            "4",
            "--runs",
            "2",
            "--timeout",
            "1",
            "--seed",
            SEED,
            "--format",
            "json",
            "--workspace",
        ])
        .arg(fixture("endless-drain"))
        .timeout(Duration::from_secs(300))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    let hang = invariant(exercise(&report, "queue-drain"), "no-hang");
    assert_eq!(hang["broken"], 2);
    let seen = hang["failure"]["seen"].as_str().unwrap();
    assert!(seen.starts_with("timed out"), "{seen}");
    assert!(
        seen.contains("stuck: "),
        "the stuck processes are named: {seen}"
    );
}

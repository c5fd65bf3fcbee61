//! A property that is never put to the test is not shown to hold. Each
//! exercise names the situations its scenario is meant to bring about (a
//! child checking the owner while the other child holds the lock, an
//! intruder's release while a child holds it, the lock handed from one
//! worker to the other...), and the report counts, from each run's trace,
//! the runs that went through each. At default settings every situation
//! must come up in some run of every session: a scenario that never put
//! a child's check next to the other child's holding would fail here.

mod common;

use common::{exercise, graded};

/// Grades the reference solutions of `exercises` at the default number
/// of runs, with `seed`; returns the JSON report.
fn default_session(exercises: &[&str], seed: &str) -> serde_json::Value {
    let mut args = exercises.to_vec();
    args.extend(["--solutions", "--seed", seed]);
    graded(&args, 0)
}

#[test]
fn every_situation_comes_up_in_some_run_of_a_default_session() {
    for seed in ["7", "1234"] {
        let report = default_session(&["2", "3", "4", "5"], seed);
        for slug in [
            "unlocked-race",
            "locked-bank",
            "queue-drain",
            "reentrant-lock",
        ] {
            let ex = exercise(&report, slug);
            let coverage = ex["coverage"].as_array().unwrap();
            assert!(!coverage.is_empty(), "{slug} names no situation");
            for c in coverage {
                assert!(
                    c["runs"].as_u64().unwrap() > 0,
                    "seed {seed}: {slug}: never in {} runs: {}",
                    ex["runs"],
                    c["name"]
                );
            }
        }
    }
}

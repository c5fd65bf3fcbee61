//! A grading session skips the warm-up of its staged copy (settling the
//! lock file, building the course's own crates) while a mark beside the
//! copy says the course is unchanged since the last warm-up succeeded. A
//! mark that is wrong must cost a warm-up, never a grade.
//!
//! Alone in its test binary: it changes the staged copy that every
//! `--solutions` grading shares, and the binaries of a `cargo test` run
//! one after another.

mod common;

use std::fs;

use common::{course_root, graded, SEED};

fn grade_exercise_1() -> serde_json::Value {
    graded(&["--solutions", "1", "--runs", "2", "--seed", SEED], 0)
}

#[test]
fn a_wrong_warm_up_mark_costs_a_warm_up_not_a_grade() {
    let root = course_root();
    let stage = root.join("target/grader/stage-solutions");
    let mark = root.join("target/grader/stage-solutions.warm");
    assert_eq!(grade_exercise_1()["passed"], true);
    assert!(mark.is_file(), "a successful warm-up is marked");
    let course_lock = fs::read(root.join("Cargo.lock")).unwrap();
    let settled = fs::read(stage.join("Cargo.lock")).unwrap();
    assert_ne!(
        course_lock, settled,
        "the copy's lock file is settled to its smaller workspace"
    );
    // The mark now lies: the copy's lock file is not the settled one, and
    // a build with `--frozen` refuses it.
    fs::write(stage.join("Cargo.lock"), &course_lock).unwrap();
    let report = grade_exercise_1();
    assert_eq!(
        report["exercises"][0]["status"], "passed",
        "{}",
        report["exercises"][0]["headline"]
    );
    assert_eq!(
        fs::read(stage.join("Cargo.lock")).unwrap(),
        settled,
        "the failed build warmed up and settled the lock file again"
    );
    assert!(mark.is_file(), "and marked it");
}

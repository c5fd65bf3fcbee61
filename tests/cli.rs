//! The command line: usage errors, the exercise list, help.

mod common;

use common::{course_root, grader};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

#[test]
fn an_unknown_exercise_is_a_usage_error_naming_the_real_ones() {
    grader()
        .args(["nosuch"])
        .assert()
        .code(2)
        .stderr(contains("unknown exercise `nosuch`"))
        .stderr(contains("locked-bank (3)"));
}

#[test]
fn a_workspace_that_does_not_exist_is_a_usage_error() {
    grader()
        .args(["--workspace", "/nonexistent/submission"])
        .assert()
        .code(2)
        .stderr(contains("no such directory"));
}

#[test]
fn bad_option_values_are_refused_before_anything_runs() {
    grader().args(["--runs", "0"]).assert().code(2);
    grader().args(["--timeout", "-1"]).assert().code(2);
    grader().args(["--mode", "sometimes"]).assert().code(2);
    grader()
        .args(["--solutions", "--workspace", "."])
        .assert()
        .code(2);
    grader()
        .args(["replay", "locked-bank"])
        .assert()
        .code(2)
        .stderr(contains("--seed"));
}

#[test]
fn list_shows_every_exercise_with_its_lessons_title() {
    let mut assert = grader().arg("list").assert().code(0);
    for (dir, slug) in [
        ("01-sequential-bank", "sequential-bank"),
        ("02-unlocked-race", "unlocked-race"),
        ("03-locked-bank", "locked-bank"),
        ("04-queue-drain", "queue-drain"),
        ("05-reentrant-lock", "reentrant-lock"),
    ] {
        assert = assert.stdout(contains(slug));
        let readme =
            std::fs::read_to_string(course_root().join("exercises").join(dir).join("README.md"));
        if let Ok(text) = readme {
            let heading = text.lines().find_map(|l| l.strip_prefix("# ")).unwrap();
            // The heading, less any leading exercise number.
            let title =
                heading.trim_start_matches(|c: char| c.is_ascii_digit() || " ·.:-".contains(c));
            assert = assert.stdout(contains(title));
        }
    }
}

#[test]
fn help_states_the_defaults() {
    // clap wraps help to the terminal: with no terminal on any of the
    // standard streams it falls back to COLUMNS, fixed here.
    let out = grader()
        .arg("--help")
        .env("COLUMNS", "100")
        .write_stdin("")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(out).unwrap();
    assert!(help.contains("[default: 200]"), "{help}");
    insta::assert_snapshot!("help", help);
}

#[test]
fn no_colour_reaches_a_pipe() {
    grader()
        .env_remove("NO_COLOR")
        .args(["sequential-bank", "--solutions", "--runs", "2"])
        .assert()
        .stdout(contains("\u{1b}[").not());
}

//! The command line: usage errors, the exercise list, help, colour.

mod common;

use common::{course_root, grader, stdout_of};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

#[test]
fn an_unknown_exercise_is_a_usage_error_naming_the_real_ones() {
    grader()
        .args(["nosuch"])
        .assert()
        .code(2)
        .stderr(contains("unknown exercise `nosuch`"))
        .stderr(contains("locked-bank (3)"))
        .stderr(contains("did you mean").not());
    grader()
        .args(["queue-drian"])
        .assert()
        .code(2)
        .stderr(contains("`queue-drian` (did you mean `queue-drain`?)"));
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
fn an_unknown_invariant_or_demo_is_a_usage_error_naming_the_real_ones() {
    grader()
        .args(["locked-bank", "--invariant", "final-is-start"])
        .assert()
        .code(2)
        .stderr(contains("`final-is-start`"))
        .stderr(contains("final-equals-start"));
    grader()
        .args(["locked-bank", "queue-drain", "--demo", "unlocked"])
        .assert()
        .code(2)
        .stderr(contains("name that exercise alone"));
    grader()
        .args(["queue-drain", "--demo", "unlocked"])
        .assert()
        .code(2)
        .stderr(contains("it has: faulty"));
    grader()
        .args(["unlocked-race", "--demo", "faulty"])
        .assert()
        .code(2)
        .stderr(contains("no buggy program"));
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
    let help = help(&["--help"]);
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

/// A command's help, as clap prints it at 100 columns.
fn help(args: &[&str]) -> String {
    stdout_of(grader().args(args).env("COLUMNS", "100").write_stdin(""))
}

#[test]
fn replay_has_its_own_help_that_explains_the_schedule() {
    let text = help(&["replay", "--help"]);
    assert!(text.starts_with("Re-run one run of an exercise"), "{text}");
    assert!(text.contains("The schedule:"), "{text}");
    assert!(text.contains("SLOTxCOUNT"), "{text}");
    assert!(text.contains("--internal"), "{text}");
    // Not the grading help.
    assert!(!text.contains("--format"), "{text}");
    assert!(!text.contains("Grade the reference solutions"), "{text}");
    insta::assert_snapshot!("replay_help", text);
}

#[test]
fn the_student_commands_have_help() {
    insta::assert_snapshot!("watch_help", help(&["watch", "--help"]));
    insta::assert_snapshot!("hint_help", help(&["hint", "--help"]));
    insta::assert_snapshot!("reset_help", help(&["reset", "--help"]));
    insta::assert_snapshot!("list_help", help(&["list", "--help"]));
}

#[test]
fn colour_follows_the_flag_then_no_color_then_clicolor_force() {
    let escapes = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = grader();
        cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.args(args).assert().code(0).get_output().stdout.clone();
        String::from_utf8(out).unwrap().contains("\u{1b}[")
    };
    assert!(!escapes(&["list"], &[]), "a pipe gets no colour");
    assert!(escapes(&["list"], &[("CLICOLOR_FORCE", "1")]));
    assert!(!escapes(
        &["list"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    ));
    assert!(escapes(
        &["list", "--color", "always"],
        &[("NO_COLOR", "1")]
    ));
    assert!(!escapes(
        &["list", "--color", "never"],
        &[("CLICOLOR_FORCE", "1")]
    ));
}

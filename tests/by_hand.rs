//! Every program runs by hand, as the lessons tell a student to run it:
//! `cargo run -p NAME`, with no grader around it. The lesson's own numbers
//! stand in for the parameters the grader would draw, and the program must
//! end as the lesson says.

use std::process::Command;

use course_tests::built;

/// Runs `package`'s program (with `args`) as a student would, pauses
/// turned into yields so that it takes milliseconds; returns its exit
/// code and what it printed.
fn run(package: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(built(package, package))
        .args(args)
        .env("MULTIPROC_TIME_SCALE", "0")
        .env_remove("MULTIPROC_SCHED")
        .output()
        .expect("the program runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn every_solution_runs_by_hand_and_ends_as_its_lesson_says() {
    for (package, last) in [
        ("sequential-bank-solution", "Final balance: 600"),
        ("unlocked-race-solution", "Final balance: "),
        ("locked-bank-solution", "Final balance: 600"),
        ("queue-drain-solution", "Left in the queue: 0"),
        (
            "reentrant-lock-solution",
            "At the end: no owner, depth 0, inner lock free",
        ),
    ] {
        let (code, text) = run(package, &[]);
        assert_eq!(code, Some(0), "{package}:\n{text}");
        assert!(
            text.lines().any(|l| l.starts_with(last)),
            "{package} does not end with {last:?}:\n{text}"
        );
    }
}

#[test]
fn the_lessons_demos_run_by_hand() {
    let (code, text) = run("locked-bank", &["--demo", "unlocked"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Final balance: "), "{text}");
}

#[test]
fn a_stub_run_by_hand_says_what_is_not_implemented_yet() {
    let (code, text) = run("sequential-bank", &[]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("not implemented yet: deposit"), "{text}");
}

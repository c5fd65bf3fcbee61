//! The student's loop: `list` with each exercise's status, `hint` one more
//! each time, `reset` only when asked and answered, `watch` that grades at
//! once and leaves on Ctrl-C, and a session that speaks before it works.
//!
//! `list` and `hint` keep their state under the course's target
//! directory; these tests give them a fresh one of their own
//! (`CARGO_TARGET_DIR`), so that what they show is what the test wrote.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{course_root, grader, grader_path, SEED};
use predicates::str::contains;

/// The target directory the grader uses when the test gives it none.
fn course_target() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if !t.is_empty() => {
            let t = PathBuf::from(t);
            if t.is_absolute() {
                t
            } else {
                course_root().join(t)
            }
        }
        _ => course_root().join("target"),
    }
}

/// Writes the status file of an exercise, as grading would.
fn status(target: &Path, dir: &str, json: serde_json::Value) {
    let path = target
        .join("grader")
        .join("status")
        .join(format!("{dir}.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, json.to_string()).unwrap();
}

fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    String::from_utf8(cmd.assert().code(0).get_output().stdout.clone()).unwrap()
}

#[test]
fn list_shows_where_the_student_stands_on_each_exercise() {
    let target = tempfile::tempdir().unwrap();
    status(
        target.path(),
        "01-sequential-bank",
        serde_json::json!({
            "exercise": "sequential-bank", "status": "passed", "headline": null,
            "runs": 200, "seed": 7, "graded_at": 1, "file_modified": null
        }),
    );
    status(
        target.path(),
        "03-locked-bank",
        serde_json::json!({
            "exercise": "locked-bank", "status": "failed",
            "headline": "the final balance is the start: broken in 183/200 runs",
            "runs": 200, "seed": 7, "graded_at": 1,
            // A file modified since it was graded.
            "file_modified": 1
        }),
    );
    let text = stdout_of(grader().arg("list").env("CARGO_TARGET_DIR", target.path()));
    let line = |slug: &str| {
        text.lines()
            .find(|l| l.contains(slug))
            .unwrap_or_else(|| panic!("no {slug} in:\n{text}"))
            .to_string()
    };
    assert!(line("sequential-bank").ends_with("passing"), "{text}");
    assert!(line("unlocked-race").ends_with("not started"), "{text}");
    assert!(
        line("locked-bank").contains("failing: the final balance is the start"),
        "{text}"
    );
    assert!(line("locked-bank").ends_with("(edited since)"), "{text}");
    assert!(
        text.contains("Next: unlocked-race (`cargo grade watch 2`"),
        "{text}"
    );
    insta::assert_snapshot!("list_with_statuses", text);
}

#[test]
fn grading_the_exercises_saves_each_ones_status() {
    grader()
        // Exercise 2: no other test here grades it, so its status is this
        // test's.
        .args(["unlocked-race", "--runs", "2", "--seed", "4242"])
        .assert()
        .code(1);
    let path = course_target()
        .join("grader")
        .join("status")
        .join("02-unlocked-race.json");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["exercise"], "unlocked-race");
    assert_eq!(saved["runs"], 2);
    assert_eq!(saved["seed"], 4242);
    assert!(saved["status"].is_string(), "{saved}");
}

#[test]
fn each_hint_request_shows_one_more() {
    let target = tempfile::tempdir().unwrap();
    let hint = || {
        let mut cmd = grader();
        cmd.args(["hint", "locked-bank"])
            .env("CARGO_TARGET_DIR", target.path());
        stdout_of(&mut cmd)
    };
    let first = hint();
    assert!(first.contains("Hint 1 of 3"), "{first}");
    assert!(!first.contains("Hint 2 of"), "{first}");
    assert!(
        first.contains("2 more hints: `cargo grade hint 3`"),
        "{first}"
    );
    insta::assert_snapshot!("hint_first", first);

    let second = hint();
    assert!(
        second.contains("Hint 1 of 3") && second.contains("Hint 2 of 3"),
        "{second}"
    );
    assert!(!second.contains("Hint 3 of"), "{second}");

    let third = hint();
    assert!(third.contains("Hint 3 of 3"), "{third}");
    assert!(third.contains("That was the last hint"), "{third}");
    let fourth = hint();
    assert!(fourth.contains("There are no more hints"), "{fourth}");

    let ledger: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(target.path().join("grader").join("hints.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ledger["locked-bank"], 3);
    // Another exercise's hints start from the first.
    let mut cmd = grader();
    cmd.args(["hint", "1"])
        .env("CARGO_TARGET_DIR", target.path());
    assert!(stdout_of(&mut cmd).contains("Hint 1 of"));
}

#[test]
fn a_mistyped_exercise_gets_a_suggestion_everywhere() {
    for args in [
        vec!["lockd-bank"],
        vec!["hint", "lockd-bank"],
        vec!["reset", "lockd-bank"],
        vec!["watch", "lockd-bank"],
        vec!["replay", "lockd-bank", "--seed", "1"],
    ] {
        grader()
            .args(&args)
            .assert()
            .code(2)
            .stderr(contains("did you mean `locked-bank`?"));
    }
}

#[test]
fn reset_changes_nothing_unless_the_student_says_yes() {
    let file = course_root().join("exercises/01-sequential-bank/src/lib.rs");
    let before = std::fs::read(&file).unwrap();
    let out = grader()
        .args(["reset", "1"])
        .write_stdin("n\n")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), before, "{stdout}{stderr}");
    if stdout.contains("already as it was given") {
        // The checkout's file is the stub as given: nothing to ask.
        assert_eq!(out.status.code(), Some(0));
    } else if stderr.contains("cannot reset") {
        // No git history here (a zip, a shallow clone): the message says
        // how to get the file back instead.
        assert!(stderr.contains("To get the file back"), "{stderr}");
        assert_eq!(out.status.code(), Some(1));
    } else {
        assert!(stdout.contains("[y/N]"), "{stdout}");
        assert!(stdout.contains("Not reset"), "{stdout}");
        assert_eq!(out.status.code(), Some(1));
    }
}

/// Reads `child`'s stdout line by line on a thread of its own.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The lines until one contains `wanted`, within `deadline`.
fn until(rx: &mpsc::Receiver<String>, wanted: &str, deadline: Duration) -> Vec<String> {
    let end = Instant::now() + deadline;
    let mut seen = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(wanted);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!(
        "no line with {wanted:?} within {deadline:?}; got:\n{}",
        seen.join("\n")
    );
}

fn grader_command() -> Command {
    let mut cmd = Command::new(grader_path());
    cmd.current_dir(course_root())
        .env("NO_COLOR", "1")
        .env_remove("MULTIPROC_SCHED")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn watch_grades_at_once_and_leaves_on_ctrl_c() {
    let mut child = grader_command()
        .args(["watch", "sequential-bank", "--runs", "3"])
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let seen = until(
        &rx,
        "Watching exercises/01-sequential-bank/src/lib.rs",
        Duration::from_secs(600),
    );
    let text = seen.join("\n");
    assert!(text.contains("01 sequential-bank: 3 quick runs"), "{text}");
    assert!(text.contains("sequential-bank does not pass yet"), "{text}");
    common::interrupt(child.id());
    until(&rx, "Stopped watching", Duration::from_secs(30));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_header_comes_before_any_work_and_exercises_as_they_are_graded() {
    let mut child = grader_command()
        .args(["1", "3", "--runs", "3", "--seed", SEED])
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let first = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(
        first.starts_with("Grading exercises/: 3 runs each"),
        "{first}"
    );
    // The header is out while the session still builds and runs.
    assert!(child.try_wait().unwrap().is_none(), "the session was over");
    let rest = until(&rx, "exercises passed", Duration::from_secs(600)).join("\n");
    let one = rest.find("01 sequential-bank").expect(&rest);
    let three = rest.find("03 locked-bank").expect(&rest);
    assert!(one < three, "{rest}");
    child.wait().unwrap();
}

#[test]
fn off_a_terminal_other_formats_log_each_exercise_on_stderr() {
    let mut child = grader_command()
        .args(["1", "--runs", "2", "--seed", SEED, "--format", "json"])
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        stderr.starts_with("Grading exercises/: 2 runs each"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n01 sequential-bank: FAILED ("),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runs"], 2);
}

//! `grader batch`: a class of submissions graded at once, each in
//! isolation, into a CSV class table and a Gradescope results.json per
//! student. One broken submission does not stop the others.
//!
//! The class is made here from the course itself: alice hands in the
//! reference solutions (as a checkout of the course), bob the stubs as
//! shipped (just the exercises/ folder), and carol the solutions with one
//! exercise that does not compile.

use std::fs;
use std::path::Path;

mod common;

use common::{course_root, grader, EXERCISES, SEED};

/// Puts `from/DIR/src/lib.rs` of every exercise into `to/DIR/src/lib.rs`.
fn hand_in(from: &str, to: &Path) {
    for dir in EXERCISES {
        let src = course_root().join(from).join(dir).join("src/lib.rs");
        let dest = to.join(dir).join("src");
        fs::create_dir_all(&dest).unwrap();
        fs::copy(&src, dest.join("lib.rs")).unwrap();
    }
}

fn cells(line: &str) -> Vec<&str> {
    // The rows checked here have no quoted field before the notes.
    line.trim_end_matches("\r\n").splitn(9, ',').collect()
}

#[test]
fn a_class_is_graded_into_a_table_and_results_per_student() {
    let class = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    hand_in("solutions", &class.path().join("alice/exercises"));
    hand_in("exercises", &class.path().join("bob"));
    let carol = class.path().join("carol/exercises");
    hand_in("solutions", &carol);
    let broken = carol.join("03-locked-bank/src/lib.rs");
    let text = fs::read_to_string(&broken).unwrap();
    fs::write(&broken, text.replacen("Ok(())", "Ok(undefined_bonus)", 1)).unwrap();
    // Not submissions: a file, and a hidden folder.
    fs::write(class.path().join("roster.txt"), "alice bob carol").unwrap();
    fs::create_dir(class.path().join(".git")).unwrap();

    let output = grader()
        .args(["batch"])
        .arg(class.path())
        .args(["--runs", "10", "--seed", SEED, "--jobs", "2", "--output"])
        .arg(out.path())
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Grading 3 submissions"), "{stdout}");
    assert!(stdout.contains("3 of 3 graded"), "{stdout}");

    let table = fs::read_to_string(out.path().join("class.csv")).unwrap();
    let lines: Vec<&str> = table.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 4, "a header and a row per student:\n{table}");
    assert_eq!(
        lines[0],
        "student,01 sequential-bank,02 unlocked-race,03 locked-bank,04 queue-drain,\
         05 reentrant-lock,total,max,notes\r\n"
    );
    assert_eq!(lines[1], "alice,20,20,20,20,20,100,100,\r\n");

    let bob = cells(lines[2]);
    assert_eq!(bob[..8], ["bob", "0", "0", "0", "0", "0", "0", "100"]);
    assert!(
        bob[8].contains("01 not implemented yet: deposit"),
        "{}",
        bob[8]
    );

    let carol = cells(lines[3]);
    assert_eq!(
        carol[..8],
        ["carol", "20", "20", "0", "20", "20", "80", "100"]
    );
    assert!(
        carol[8].starts_with("03 does not compile: "),
        "{}",
        carol[8]
    );
    assert!(carol[8].contains("undefined_bonus"), "{}", carol[8]);

    // Each student's Gradescope results and report.
    for (student, score) in [("alice", 100.0), ("bob", 0.0), ("carol", 80.0)] {
        let dir = out.path().join(student);
        let results: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
        assert_eq!(results["score"], score, "{student}");
        assert_eq!(results["max_score"], 100.0, "{student}");
        let report = fs::read_to_string(dir.join("report.txt")).unwrap();
        assert!(
            report.contains(&format!(
                "Grading the submission at {}",
                class.path().join(student).display()
            )),
            "{report}"
        );
    }
    let report = fs::read_to_string(out.path().join("carol/report.txt")).unwrap();
    assert!(report.contains("03 locked-bank"), "{report}");
    assert!(report.contains("DOES NOT BUILD"), "{report}");
    assert!(!out.path().join("roster.txt").exists());
    assert!(!out.path().join(".git").exists());
}

#[test]
fn a_batch_without_submissions_is_a_usage_error() {
    let class = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    grader()
        .args(["batch"])
        .arg(class.path())
        .arg("--output")
        .arg(out.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no submissions"));
    grader()
        .args(["batch", "/nonexistent/class", "--output"])
        .arg(out.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no such directory"));
}

#[test]
fn a_class_graded_in_parts_merges_into_one_table() {
    let class = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // Split in two by name: alice and bob in part 1, carol in part 2.
    hand_in("solutions", &class.path().join("alice/exercises"));
    hand_in("exercises", &class.path().join("bob"));
    hand_in("solutions", &class.path().join("carol"));
    let part = |k: usize| {
        let dir = out.path().join(format!("part-{k}"));
        let output = grader()
            .arg("batch")
            .arg(class.path())
            .args([
                "sequential-bank",
                "--runs",
                "3",
                "--seed",
                SEED,
                "--jobs",
                "1",
            ])
            .args(["--shard", &format!("{k}/2"), "--output"])
            .arg(&dir)
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        (dir, String::from_utf8(output).unwrap())
    };
    let (one, said) = part(1);
    assert!(
        said.contains("Grading 2 of 3 submissions (part 1/2)"),
        "{said}"
    );
    let (two, said) = part(2);
    assert!(
        said.contains("Grading 1 of 3 submissions (part 2/2)"),
        "{said}"
    );
    assert!(said.contains("grader merge"), "{said}");

    let merged = out.path().join("class");
    grader()
        .arg("merge")
        .args([&two, &one])
        .arg("--output")
        .arg(&merged)
        .assert()
        .code(0)
        .stdout(predicates::str::contains("Joined 2 parts: 3 students"));
    let table = fs::read_to_string(merged.join("class.csv")).unwrap();
    let lines: Vec<&str> = table.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert_eq!(lines[0], "student,01 sequential-bank,total,max,notes\r\n");
    assert_eq!(lines[1], "alice,20,20,20,\r\n");
    assert!(lines[2].starts_with("bob,0,0,20,"), "{table}");
    assert_eq!(lines[3], "carol,20,20,20,\r\n");
    for student in ["alice", "bob", "carol"] {
        assert!(
            merged.join(student).join("results.json").is_file(),
            "{student}"
        );
        assert!(
            merged.join(student).join("report.txt").is_file(),
            "{student}"
        );
    }

    // One part alone is not the class.
    grader()
        .arg("merge")
        .arg(&one)
        .arg("--output")
        .arg(out.path().join("half"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("part 2/2 is missing"));
}

#[test]
fn a_part_needs_the_seed_every_part_shares() {
    let class = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    hand_in("exercises", &class.path().join("bob"));
    grader()
        .arg("batch")
        .arg(class.path())
        .args(["--shard", "1/2", "--output"])
        .arg(out.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--shard 1/2 needs --seed"));
    grader()
        .arg("batch")
        .arg(class.path())
        .args(["--shard", "3/2", "--seed", "1", "--output"])
        .arg(out.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is not K/N with 1 <= K <= N"));
}

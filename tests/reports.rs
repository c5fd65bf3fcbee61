//! The reports themselves, as snapshots: the human report and the JSON
//! report of a failing submission, and the human report of the solutions;
//! the JUnit report, validated against Jenkins' schema, and Gradescope's
//! results, checked against its specification. Timings, pids, CPU counts
//! and paths are redacted; the rest (verdicts, rates, seeds, the
//! interleavings shown) is fixed by the seed.

mod common;

use common::{course_root, fixture, grader, stable_filters, SEED};

fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in stable_filters() {
        settings.add_filter(pattern, replacement);
    }
    // How many runs a shrinking made may vary from one session to the
    // next; the schedule it found has not.
    settings.add_filter(r#"("choices": \d+,\s+"runs": )\d+"#, "$1[runs]");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn stdout(args: &[&str], workspace: Option<&str>) -> String {
    let mut cmd = grader();
    // Reports are not wrapped off a terminal unless COLUMNS says so.
    cmd.args(args)
        .args(["--seed", SEED, "--jobs", "2"])
        .env_remove("COLUMNS");
    if let Some(w) = workspace {
        cmd.arg("--workspace").arg(fixture(w));
    }
    let out = cmd.assert().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn human_report_of_a_failing_submission() {
    let text = stdout(&["locked-bank", "--runs", "10"], Some("unlocked-bank"));
    snapshot("human_unlocked_bank", &text);
}

#[test]
fn json_report_of_a_failing_submission() {
    let text = stdout(
        &["locked-bank", "--runs", "10", "--format", "json"],
        Some("unlocked-bank"),
    );
    snapshot("json_unlocked_bank", &text);
}

#[test]
fn human_report_of_the_solutions() {
    let text = stdout(&["--solutions", "--runs", "20"], None);
    snapshot("human_solutions", &text);
}

#[test]
fn junit_has_a_suite_per_exercise_and_a_case_per_invariant() {
    let text = stdout(
        &["locked-bank", "--runs", "5", "--format", "junit"],
        Some("unlocked-bank"),
    );
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(
        text.contains(r#"<testsuite name="03 locked-bank""#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"<testcase name="no two critical sections overlap" classname="locked-bank""#
        ),
        "{text}"
    );
    assert!(text.contains("<failure"), "{text}");
    let cases = text.matches("<testcase ").count();
    assert!(cases >= 7, "{cases} test cases: {text}");
    assert!(text.contains(&format!(r#"tests="{cases}""#)), "{text}");
}

/// A report with what changes from one session to the next (times,
/// timestamps, the machine's name) redacted.
fn junit_snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in stable_filters() {
        settings.add_filter(pattern, replacement);
    }
    settings.add_filter(r#"time="[0-9.]+""#, r#"time="[s]""#);
    settings.add_filter(r#"timestamp="[^"]+""#, r#"timestamp="[when]""#);
    settings.add_filter(r#"hostname="[^"]+""#, r#"hostname="[host]""#);
    settings.add_filter(r#"name="cpus" value="\d+""#, r#"name="cpus" value="[n]""#);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// Validates JUnit XML against Jenkins' junit-10.xsd (vendored in
/// tests/xsd/) with xmllint; says so and passes when xmllint is missing
/// (CI installs it).
fn assert_valid_junit(text: &str) {
    let schema = course_root().join("tests").join("xsd").join("junit-10.xsd");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    std::fs::write(&file, text).unwrap();
    let out = match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!(
                "skipped: xmllint cannot be run ({e}); install libxml2-utils to validate \
                 the JUnit reports against junit-10.xsd"
            );
            return;
        }
    };
    assert!(
        out.status.success(),
        "the JUnit report does not validate against junit-10.xsd:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn junit_validates_against_jenkins_schema() {
    // A failing submission, an exercise it lacks, the stubs (whose
    // invariants cannot be checked), an unknown exercise.
    let failing = stdout(
        &["1", "3", "--runs", "5", "--format", "junit"],
        Some("unlocked-bank"),
    );
    assert_valid_junit(&failing);
    assert!(!failing.contains("disabled="), "{failing}");
    assert!(!failing.contains("<testcase name=\"builds\" classname=\"sequential-bank\"/>"));
    for attr in ["timestamp=", "hostname=", "time="] {
        assert!(failing.contains(attr), "no {attr}: {failing}");
    }
    junit_snapshot("junit_unlocked_bank", &failing);

    let stubs = stdout(&["1", "nosuch", "--runs", "2", "--format", "junit"], None);
    assert_valid_junit(&stubs);
    // What no run could be judged on is skipped, not failed.
    assert!(
        stubs.contains("<skipped message=\"not checked in 2/2 runs"),
        "{stubs}"
    );
    assert!(stubs.contains("skipped=\"2\""), "{stubs}");
    assert!(stubs.contains("unknown exercise `nosuch`"), "{stubs}");
}

#[test]
fn gradescope_results_follow_the_autograder_specification() {
    let text = stdout(
        &[
            "1",
            "3",
            "--runs",
            "5",
            "--format",
            "gradescope",
            "--gradescope-visibility",
            "after_due_date",
        ],
        Some("unlocked-bank"),
    );
    let results = common::json(text.as_bytes());
    let top = results.as_object().unwrap();
    let known = [
        "score",
        "max_score",
        "execution_time",
        "output",
        "output_format",
        "test_output_format",
        "test_name_format",
        "visibility",
        "stdout_visibility",
        "extra_data",
        "tests",
    ];
    for key in top.keys() {
        assert!(known.contains(&key.as_str()), "unknown field {key}");
    }
    let formats = ["text", "html", "simple_format", "md", "ansi"];
    let visibilities = ["hidden", "after_due_date", "after_published", "visible"];
    for key in ["output_format", "test_output_format", "test_name_format"] {
        assert!(formats.contains(&top[key].as_str().unwrap()), "{key}");
    }
    assert_eq!(top["visibility"], "after_due_date");
    assert!(visibilities.contains(&top["stdout_visibility"].as_str().unwrap()));
    assert!(top["execution_time"].is_u64(), "{}", top["execution_time"]);
    // Scores in hundredths add up exactly: each exercise's tests to 20,
    // the whole to the maximum, the earned shares to the score.
    let cents = |v: &serde_json::Value| (v.as_f64().unwrap() * 100.0).round() as i64;
    let tests = top["tests"].as_array().unwrap();
    let mut per_exercise = std::collections::BTreeMap::<String, i64>::new();
    let (mut max, mut score) = (0, 0);
    for t in tests {
        for key in t.as_object().unwrap().keys() {
            assert!(
                [
                    "score",
                    "max_score",
                    "status",
                    "name",
                    "name_format",
                    "number",
                    "output",
                    "output_format",
                    "tags",
                    "visibility",
                    "extra_data"
                ]
                .contains(&key.as_str()),
                "unknown test field {key}"
            );
        }
        assert!(["passed", "failed"].contains(&t["status"].as_str().unwrap()));
        let name = t["name"].as_str().unwrap();
        *per_exercise.entry(name[..2].to_string()).or_default() += cents(&t["max_score"]);
        max += cents(&t["max_score"]);
        score += cents(&t["score"]);
        assert!(
            (cents(&t["max_score"]) as f64 / 100.0 - t["max_score"].as_f64().unwrap()).abs() < 1e-9,
            "a maximum in more than hundredths: {t}"
        );
    }
    assert!(
        per_exercise.values().all(|&c| c == 2000),
        "{per_exercise:?}"
    );
    assert_eq!(max, cents(&top["max_score"]));
    assert_eq!(score, cents(&top["score"]));
    // The replay commands are the student's own.
    assert!(!text.contains("--workspace"), "{text}");
    assert!(
        text.contains("cargo grade replay locked-bank --seed"),
        "{text}"
    );

    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in stable_filters() {
        settings.add_filter(pattern, replacement);
    }
    settings.add_filter(r#""execution_time": \d+"#, r#""execution_time": "[s]""#);
    settings.bind(|| insta::assert_snapshot!("gradescope_unlocked_bank", text));
}

#[test]
fn failure_details_are_wrapped_to_the_width_with_their_indentation() {
    let mut cmd = grader();
    cmd.args(["locked-bank", "--runs", "3", "--seed", SEED, "--jobs", "2"])
        .arg("--workspace")
        .arg(fixture("unlocked-bank"))
        .env("COLUMNS", "72");
    let text = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
    let details: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("       ") && !l.trim_start().starts_with("replay"))
        // A word longer than the line (a replay's schedule) is kept whole.
        .filter(|l| l.trim().contains(' '))
        .collect();
    assert!(!details.is_empty(), "{text}");
    for line in &details {
        assert!(line.chars().count() <= 72, "too long: {line:?}\n{text}");
    }
    // The trace goes on under its first line's text, never under its
    // label, and each of its lines but the last ends on a separator.
    let at = details
        .iter()
        .position(|l| l.trim_start().starts_with("trace"))
        .expect(&text);
    assert!(details[at].ends_with('·'), "{text}");
    assert!(details[at + 1].starts_with(&" ".repeat(17)), "{text}");
    snapshot("human_unlocked_bank_72_columns", &text);
}

#[test]
fn junit_of_an_interrupted_session_validates_too() {
    // The grader takes Ctrl-C from its parent: this test.
    let child = std::process::Command::new(common::grader_path())
        .current_dir(course_root())
        .env("NO_COLOR", "1")
        .args(["--solutions", "3", "--runs", "1000000", "--seed", SEED])
        .args(["--format", "junit"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    common::interrupt(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("<error"), "{text}");
    assert_valid_junit(&text);
}

//! What instructors hand out and run: the student edition
//! (`grader export-student`), the Gradescope zip and scripts, and the
//! GitHub Classroom workflow.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{course_root, grader, grader_path, stdout_of, DEADLINE, EXERCISES};
use predicates::str::contains;

/// The instructors' shell scripts.
const SCRIPTS: [&str; 3] = [
    "instructors/gradescope/setup.sh",
    "instructors/gradescope/run_autograder",
    "instructors/gradescope/make-zip.sh",
];

/// The target directory the tests run from: `<target>/<profile>/deps/..`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("tests run from <target>/<profile>/deps")
        .to_path_buf()
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The lines of `text` that mention the solutions, as a student must not
/// read them.
fn solution_mentions(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            l.contains("solutions/") || l.contains("--solutions") || l.contains("-solution")
        })
        .collect()
}

fn export(dir: &Path) -> String {
    stdout_of(grader().arg("export-student").arg(dir))
}

#[test]
fn the_student_edition_holds_no_solution_and_grades() {
    let base = tempfile::tempdir().unwrap();
    let edition = base.path().join("course");
    let summary = export(&edition);

    let all = files(&edition);
    for gone in [
        "solutions",
        "tests",
        "instructors",
        ".ci",
        "grader/benches",
        "grader/boundary/tests",
    ] {
        assert!(
            !all.iter().any(|f| f.starts_with(gone)),
            "{gone} was exported: {all:?}"
        );
        assert!(
            summary.contains(&format!("{gone}/ (")),
            "{gone} not listed as left out:\n{summary}"
        );
    }
    for kept in [
        "README.md",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "grader/src/main.rs",
        "grader/boundary/src/lib.rs",
        "multiproc/src/lib.rs",
        "scenarios/src/lib.rs",
        "report/src/lib.rs",
    ] {
        assert!(edition.join(kept).is_file(), "{kept} is missing");
    }
    for dir in EXERCISES {
        let stub =
            fs::read_to_string(edition.join("exercises").join(dir).join("src/lib.rs")).unwrap();
        let course =
            fs::read_to_string(course_root().join("exercises").join(dir).join("src/lib.rs"))
                .unwrap();
        assert_eq!(stub, course, "{dir}: the stub, as the course has it");
    }

    // No mention of the solutions in what students read; the rest of the
    // lessons as written.
    let readme = fs::read_to_string(edition.join("README.md")).unwrap();
    assert_eq!(solution_mentions(&readme), Vec::<&str>::new());
    assert!(readme.contains("## For students"), "{readme}");
    assert!(!readme.contains("## For instructors"), "{readme}");
    assert!(!readme.contains("tests/fixtures"), "{readme}");
    for dir in EXERCISES {
        let lesson =
            fs::read_to_string(edition.join("exercises").join(dir).join("README.md")).unwrap();
        assert_eq!(solution_mentions(&lesson), Vec::<&str>::new(), "{dir}");
        let course =
            fs::read_to_string(course_root().join("exercises").join(dir).join("README.md"))
                .unwrap();
        let kept = course
            .lines()
            .filter(|l| solution_mentions(l).is_empty())
            .count();
        assert!(
            lesson.lines().count() >= kept,
            "{dir}: the lesson lost more than its mentions of the solutions"
        );
    }
    let lesson = fs::read_to_string(edition.join("exercises/05-reentrant-lock/README.md")).unwrap();
    assert!(
        lesson.contains("`cargo run -p reentrant-lock`"),
        "renamed to the student's package"
    );

    // A workspace without the solutions and the course's tests, which
    // cargo loads offline and builds whole.
    let manifest = fs::read_to_string(edition.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("solutions/"), "{manifest}");
    assert!(!manifest.contains("course-tests"), "{manifest}");
    let lock = fs::read_to_string(edition.join("Cargo.lock")).unwrap();
    assert!(!lock.contains("-solution\""), "Cargo.lock trimmed");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir().join("student-edition");
    let status = Command::new(&cargo)
        .args(["metadata", "--offline", "--format-version", "1"])
        .current_dir(&edition)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo metadata --offline fails in the edition"
    );
    let status = Command::new(&cargo)
        .args(["build", "-q", "--offline", "--workspace"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&edition)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo build --workspace fails in the edition"
    );

    // The edition's own grader grades the edition's stubs.
    let out = assert_cmd::Command::new(target.join("debug/grader"))
        .args([
            "sequential-bank",
            "--runs",
            "3",
            "--seed",
            "7",
            "--format",
            "json",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env("NO_COLOR", "1")
        .current_dir(&edition)
        .timeout(DEADLINE)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = common::json(&out);
    let ex = common::exercise(&report, "sequential-bank");
    assert!(
        common::headline(ex).contains("not implemented yet: deposit"),
        "{ex}"
    );
    // `--solutions` is refused there, and says why.
    assert_cmd::Command::new(target.join("debug/grader"))
        .args(["sequential-bank", "--solutions", "--runs", "1"])
        .env("CARGO_TARGET_DIR", &target)
        .env("NO_COLOR", "1")
        .current_dir(&edition)
        .timeout(DEADLINE)
        .assert()
        .code(2)
        .stderr(contains("has no solutions/ folder"));
}

#[test]
fn the_export_summary_says_what_was_left_out() {
    let base = tempfile::tempdir().unwrap();
    let edition = base.path().join("course");
    let summary = export(&edition);
    // Counts and line numbers change with every edit of the README; what
    // is left out is what the snapshot shows.
    let course = regex_escape(&course_root().display().to_string());
    let edition = regex_escape(&edition.display().to_string());
    insta::with_settings!({filters => vec![
        (edition.as_str(), "[edition]"),
        (course.as_str(), "[course]"),
        (r"\d+ files", "[n] files"),
        (r"line \d+(, \d+)*", "line [n]"),
    ]}, {
        insta::assert_snapshot!("export_summary", summary);
    });
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

#[test]
fn an_export_is_refused_into_a_folder_that_holds_something() {
    let base = tempfile::tempdir().unwrap();
    fs::write(base.path().join("notes.txt"), "mine").unwrap();
    grader()
        .arg("export-student")
        .arg(base.path())
        .assert()
        .code(2)
        .stderr(contains(
            "is not empty: export into a new or empty directory",
        ));
    assert_eq!(
        fs::read_to_string(base.path().join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn the_gradescope_zip_holds_the_student_edition() {
    let have = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
    if !(have("git") && have("python3") && course_root().join(".git").exists()) {
        eprintln!("skipped: make-zip.sh needs git, python3 and a git checkout of the course");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let zip = base.path().join("autograder.zip");
    let out = Command::new(course_root().join("instructors/gradescope/make-zip.sh"))
        .arg(&zip)
        .env("GRADER", grader_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\n\
             for i in zipfile.ZipFile(sys.argv[1]).infolist():\n    \
                 print(oct(i.external_attr >> 16), i.filename)",
        ])
        .arg(&zip)
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    let names: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, n)| n))
        .collect();
    for needed in [
        "setup.sh",
        "run_autograder",
        "source/Cargo.toml",
        "source/Cargo.lock",
        "source/grader/src/main.rs",
        "source/exercises/03-locked-bank/src/lib.rs",
    ] {
        assert!(
            names.contains(&needed),
            "{needed} is not in the zip:\n{listing}"
        );
    }
    for gone in [
        "source/solutions/",
        "source/tests/",
        "source/grader/boundary/tests/",
        "source/grader/benches/",
        "source/instructors/",
    ] {
        assert!(
            !names.iter().any(|n| n.starts_with(gone)),
            "{gone} is in the zip:\n{listing}"
        );
    }
    for script in ["setup.sh", "run_autograder"] {
        let mode = listing
            .lines()
            .find(|l| l.ends_with(&format!(" {script}")))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|m| u32::from_str_radix(m.trim_start_matches("0o"), 8).ok())
            .unwrap_or(0);
        assert!(
            mode & 0o111 != 0,
            "{script} is not executable in the zip: {mode:o}"
        );
    }
}

/// A fake grader for `run_autograder`: a script that does `body`.
fn fake_grader(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("fake-grader");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    let mut perms = fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&path, perms).unwrap();
    path
}

/// Runs `run_autograder` on an autograder root; returns its results.json.
fn run_autograder(root: &Path, grader: Option<&Path>) -> serde_json::Value {
    let mut cmd = Command::new(course_root().join("instructors/gradescope/run_autograder"));
    cmd.env("AUTOGRADER", root);
    match grader {
        Some(g) => cmd.env("GRADER", g),
        None => cmd.env_remove("GRADER"),
    };
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "run_autograder must end well for Gradescope to read the results: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(root.join("results/results.json")).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn run_autograder_always_leaves_results_that_say_what_happened() {
    // No course where Gradescope puts it.
    let root = tempfile::tempdir().unwrap();
    let results = run_autograder(root.path(), None);
    assert_eq!(results["score"], 0);
    let output = results["output"].as_str().unwrap();
    assert!(
        output.contains("could not grade this submission (no course in"),
        "{output}"
    );

    // A grader that cannot run at all (a usage error, exit status 2).
    fs::create_dir(root.path().join("source")).unwrap();
    let broken = fake_grader(root.path(), "echo 'grader: broken' >&2; exit 2");
    let results = run_autograder(root.path(), Some(&broken));
    assert!(
        results["output"]
            .as_str()
            .unwrap()
            .contains("(exit status 2)"),
        "{results}"
    );

    // A submission graded, some exercise failed (exit status 1): the
    // grader's own results stand, and the grader was asked for them.
    let graded = fake_grader(
        root.path(),
        "while [ \"$1\" != --output ]; do shift; done\n\
         echo '{\"score\": 40, \"tests\": []}' > \"$2\"\nexit 1",
    );
    let results = run_autograder(root.path(), Some(&graded));
    assert_eq!(results["score"], 40, "{results}");
}

#[test]
fn the_instructors_scripts_pass_shellcheck() {
    for script in SCRIPTS {
        let status = Command::new("bash")
            .args(["-n"])
            .arg(course_root().join(script))
            .status()
            .unwrap();
        assert!(status.success(), "{script}: bash cannot parse it");
    }
    let Ok(out) = Command::new("shellcheck")
        .args(["--severity=style", "--shell=bash"])
        .args(SCRIPTS.map(|s| course_root().join(s)))
        .output()
    else {
        eprintln!("skipped: shellcheck is not installed (apt-get install shellcheck); only `bash -n` was checked");
        return;
    };
    assert!(
        out.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_classroom_workflow_reports_points_and_skips_the_first_push() {
    let text = fs::read_to_string(course_root().join("instructors/github-classroom.yml")).unwrap();
    // The reporter finds the job's check run by this name.
    assert!(text.contains("\n  run-autograding-tests:\n"), "{text}");
    assert!(
        text.contains("if: github.actor != 'github-classroom[bot]'"),
        "{text}"
    );
    assert!(text.contains("checks: write"), "{text}");
    let graders = text
        .matches("uses: education/autograding-command-grader@v1")
        .count();
    assert_eq!(graders, EXERCISES.len(), "one graded test per exercise");
    assert_eq!(text.matches("max-score: 20").count(), EXERCISES.len());
    let runners = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("runners: "))
        .expect("the reporter's runners");
    for runner in runners.split(',') {
        assert!(
            text.contains(&format!("id: {runner}\n")),
            "no step {runner}"
        );
        assert!(
            text.contains(&format!(
                "{}_RESULTS: \"${{{{ steps.{runner}.outputs.result }}}}\"",
                runner.to_uppercase()
            )),
            "the reporter is not given {runner}'s result"
        );
    }
    assert!(
        text.contains("uses: education/autograding-grading-reporter@v1"),
        "{text}"
    );
    assert!(
        text.contains("sudo "),
        "the grader runs as root on the runner: {text}"
    );
}

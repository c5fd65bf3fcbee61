//! The mutation gate: every mutant that cargo-mutants makes of the
//! reference solutions is graded, and every one must fail.
//!
//! A grader that passes a wrong program is worse than none, and the
//! known-bad variants only cover the mistakes someone thought of. So the
//! mistakes are also made mechanically: `cargo mutants --list --json
//! --diff` (a real external tool, installed by `.ci/run`) lists each small
//! change it can make to `solutions/*/src/lib.rs` (a `+` turned into a
//! `-`, a body replaced by `Ok(())`, a match arm deleted) with its diff.
//! Each diff is applied to the solution and the result handed to the
//! grader as a student's submission, in one `grader batch` over all of
//! them. A mutant the grader passes is a hole in the grading, and fails
//! this test by name.
//!
//! The few mutants that nothing can tell from the solution sit in
//! `tests/mutants/equivalent.txt`, each with the reason. A mutant that
//! does not compile fails its build, which fails its exercise: it is
//! counted as caught, and listed apart.
//!
//! Each mutant is graded with fewer runs than a student ([`RUNS`] instead
//! of 200) to keep CI quick. That costs no detection here: every mutant
//! of the current solutions is caught with a single run per mutant
//! (`MUTANTS_RUNS=1 cargo test --test mutants`), because the models judge
//! every operation of every run, not only the rare interleavings that
//! lose an update. A mutant caught only by chance would show as a flaky
//! failure of this test, not as a pass.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

mod common;

use common::{class_verdict, course_root, grade_class, SEED};
use serde_json::Value;

/// Runs per mutant; `MUTANTS_RUNS` sets another count, to measure what
/// fewer or more runs catch.
const RUNS: &str = "20";

fn runs() -> String {
    std::env::var("MUTANTS_RUNS").unwrap_or_else(|_| RUNS.to_string())
}

/// One mutant, as cargo-mutants lists it.
struct Mutant {
    /// `file:line:col: description`.
    name: String,
    /// The same without line and column: what the equivalence list names.
    key: String,
    /// The file it changes, relative to the course root.
    file: String,
    /// The unified diff that makes it.
    diff: String,
}

/// The mutants of the solutions' `src/lib.rs`, or `None` when
/// cargo-mutants is not installed.
fn mutants() -> Option<Vec<Mutant>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args(["mutants", "--list", "--json", "--diff", "--workspace"])
        .args(["--file", "solutions/*/src/lib.rs"])
        .current_dir(course_root())
        .output()
        .expect("cargo runs");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("no such command") {
            return None;
        }
        panic!("cargo mutants --list failed:\n{err}");
    }
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("a JSON list of mutants");
    Some(
        list.iter()
            .map(|m| {
                let name = m["name"].as_str().expect("a name").to_string();
                let file = m["file"].as_str().expect("a file").to_string();
                let description = name
                    .splitn(4, ':')
                    .nth(3)
                    .expect("file:line:col: description")
                    .trim()
                    .to_string();
                Mutant {
                    key: format!("{file}: {description}"),
                    diff: m["diff"].as_str().expect("a diff").to_string(),
                    name,
                    file,
                }
            })
            .collect(),
    )
}

/// The equivalence list: mutant key → reason.
fn equivalent() -> BTreeMap<String, String> {
    let path = course_root().join("tests/mutants/equivalent.txt");
    let text = fs::read_to_string(&path).expect("tests/mutants/equivalent.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, why) = l
                .split_once(" -- ")
                .unwrap_or_else(|| panic!("no ' -- reason' in the equivalence list: {l}"));
            (key.trim().to_string(), why.trim().to_string())
        })
        .collect()
}

/// `solutions/NN-slug/src/lib.rs` → `NN-slug`.
fn exercise_dir(file: &str) -> &str {
    file.strip_prefix("solutions/")
        .and_then(|rest| rest.strip_suffix("/src/lib.rs"))
        .unwrap_or_else(|| panic!("not a solution's lib.rs: {file}"))
}

/// Writes the mutant as a student's submission: the solution with the
/// diff applied, at `exercises/NN-slug/src/lib.rs`.
fn write_submission(m: &Mutant, dir: &Path) {
    let original = fs::read_to_string(course_root().join(&m.file)).expect("the solution");
    let patch = diffy::Patch::from_str(&m.diff)
        .unwrap_or_else(|e| panic!("{}: cargo-mutants' diff does not parse: {e}", m.name));
    let mutated = diffy::apply(&original, &patch)
        .unwrap_or_else(|e| panic!("{}: the diff does not apply: {e}", m.name));
    assert_ne!(mutated, original, "{}: the mutant changes nothing", m.name);
    let src = dir
        .join("exercises")
        .join(exercise_dir(&m.file))
        .join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("lib.rs"), mutated).unwrap();
}

#[test]
fn every_mutant_of_the_solutions_fails() {
    let Some(all) = mutants() else {
        eprintln!(
            "skipped: cargo-mutants is not installed (`cargo install --locked cargo-mutants`; \
             .ci/run installs it)"
        );
        return;
    };
    let equivalent = equivalent();
    for key in equivalent.keys() {
        assert!(
            all.iter().any(|m| &m.key == key),
            "tests/mutants/equivalent.txt names a mutant cargo-mutants no longer makes: {key}"
        );
    }
    let graded: Vec<&Mutant> = all
        .iter()
        .filter(|m| !equivalent.contains_key(&m.key))
        .collect();
    assert!(
        graded.len() >= 40,
        "cargo-mutants made only {} mutants to grade",
        graded.len()
    );

    // The class: one student per mutant, named m001, m002, ...
    let class = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let students: Vec<(String, &Mutant)> = graded
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("m{:03}", i + 1), *m))
        .collect();
    for (student, m) in &students {
        write_submission(m, &class.path().join(student));
    }
    grade_class(
        class.path(),
        output.path(),
        &["--runs", &runs(), "--seed", SEED],
    );

    let mut survivors = Vec::new();
    let mut unviable = 0;
    for (student, m) in &students {
        match class_verdict(output.path(), student, exercise_dir(&m.file)) {
            Ok(()) => survivors.push(format!("{} (student {student})", m.name)),
            Err(failed) => {
                if failed.iter().any(|t| t.ends_with(": builds and runs")) {
                    unviable += 1;
                }
            }
        }
    }
    eprintln!(
        "{} mutants: {} graded, {} caught ({} of them do not build), {} equivalent",
        all.len(),
        graded.len(),
        graded.len() - survivors.len(),
        unviable,
        equivalent.len()
    );
    assert!(
        survivors.is_empty(),
        "the grader passed {} of {} mutants of the solutions:\n  {}\n\
         Each is a wrong program graded as right: make an invariant catch it, or, if no \
         grading can tell it from the solution, add it to tests/mutants/equivalent.txt with \
         the reason.",
        survivors.len(),
        graded.len(),
        survivors.join("\n  ")
    );
}

//! Known-bad variants are caught, by the invariant that names their bug.
//!
//! Each variant in `tests/fixtures/variants/NN-name/` is a submission
//! holding one exercise's `src/lib.rs`: the reference solution broken in
//! one place, with the bug named at the top of the file. Each test grades
//! one variant at the exercise's default settings (20 runs, seed 7) and
//! checks that the exercise fails, and fails where it should: which
//! invariant, in every run or in some, and what the report says was seen.
//! The solutions, graded the same way, pass: the variants fail for their
//! bugs, not for the settings.
//!
//! Under the controlled scheduler (the default for exercises 2 to 5) a
//! run's seed fixes its interleaving, so "fails in some run" is as
//! repeatable here as "fails in every run". One test grades the racy
//! variants pinned to one CPU and checks that the verdicts do not change.

use std::path::PathBuf;
use std::process::Command;

mod common;

use common::{fixture, grader, invariant, json, SEED};
use serde_json::Value;

/// Runs per grading: enough for every racy variant here to fail at seed 7
/// (the rarest, the drain with the get outside the lock, hangs in about a
/// third of controlled runs), few enough for the whole file to take
/// seconds once the programs are built.
const RUNS: u64 = 20;

fn variant(name: &str) -> PathBuf {
    fixture("variants").join(name)
}

/// The exercise's number, from the variant's `NN-` prefix.
fn number(name: &str) -> String {
    name[..2].trim_start_matches('0').to_string()
}

fn args(name: &str) -> Vec<String> {
    vec![
        number(name),
        "--runs".into(),
        RUNS.to_string(),
        "--seed".into(),
        SEED.into(),
        "--format".into(),
        "json".into(),
        "--workspace".into(),
        variant(name).display().to_string(),
    ]
}

/// Grades a variant (with extra grader arguments) and returns the report,
/// which must say the exercise failed and nothing else went wrong.
fn grade(name: &str, extra: &[&str]) -> Value {
    let out = grader()
        .args(args(name))
        .args(extra)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    check_report(name, &report);
    report
}

fn check_report(name: &str, report: &Value) {
    assert_eq!(report["passed"], false, "{name}");
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0), "{name}");
    assert_eq!(
        report["ignored_files"].as_array().map(Vec::len),
        Some(0),
        "{name}: a variant holds only the student's file"
    );
    let ex = the_exercise(report);
    assert_eq!(ex["number"].to_string(), number(name), "{name}");
    assert_eq!(
        ex["status"], "failed",
        "{name} must fail its exercise: {}",
        ex["headline"]
    );
    assert_eq!(ex["build"]["ok"], true, "{name} must build");
    assert_eq!(ex["runs"], RUNS, "{name}");
}

fn the_exercise(report: &Value) -> &Value {
    let all = report["exercises"].as_array().expect("exercises");
    assert_eq!(all.len(), 1, "one exercise graded");
    &all[0]
}

/// The invariant failed in every run, and says it saw `seen`.
#[track_caller]
fn broken_every_run(ex: &Value, id: &str, seen: &str) {
    let inv = invariant(ex, id);
    assert_eq!(inv["status"], "failed", "{id}: {inv}");
    assert_eq!(inv["broken"], RUNS, "{id} is broken in every run: {inv}");
    assert_seen(inv, id, seen);
}

/// The invariant failed in at least one run (a race), and says it saw
/// `seen`. Returns the number of runs it was broken in.
#[track_caller]
fn broken_some_run(ex: &Value, id: &str, seen: &str) -> u64 {
    let inv = invariant(ex, id);
    assert_eq!(inv["status"], "failed", "{id}: {inv}");
    let broken = inv["broken"].as_u64().unwrap();
    assert!(broken >= 1, "{id}: {inv}");
    assert_seen(inv, id, seen);
    broken
}

#[track_caller]
fn assert_seen(inv: &Value, id: &str, seen: &str) {
    let said = inv["failure"]["seen"].as_str().unwrap_or_default();
    assert!(said.contains(seen), "{id}: expected {seen:?} in {said:?}");
}

#[track_caller]
fn passed(ex: &Value, id: &str) {
    let inv = invariant(ex, id);
    assert_eq!(inv["status"], "passed", "{id}: {inv}");
}

/// Every run of the exercise failed some invariant.
#[track_caller]
fn every_run_fails(ex: &Value) {
    assert_eq!(ex["failing_run_count"], RUNS, "{}", ex["headline"]);
}

// ------------------------------------------------------------ exercise 1

#[test]
fn ex1_off_by_one_fails_the_balance_after_deposit() {
    let report = grade("01-off-by-one", &[]);
    let ex = the_exercise(&report);
    broken_every_run(ex, "after-deposit", "");
    // Withdrawing one step short too brings the balance back to the start,
    // but withdraw is judged on what it was given: it is wrong too.
    broken_every_run(ex, "after-withdraw", "");
}

// ------------------------------------------------------------ exercise 2

#[test]
fn ex2_single_step_fails_all_steps() {
    let report = grade("02-single-step", &[]);
    let ex = the_exercise(&report);
    broken_every_run(ex, "all-steps", "stored it 1 times");
    passed(ex, "two-processes");
    passed(ex, "reachable");
}

#[test]
fn ex2_atomic_looking_never_shows_the_lost_update() {
    let report = grade("02-atomic-looking", &[]);
    let ex = the_exercise(&report);
    // A "some" invariant: no single run is wrong, the session is.
    let lost = invariant(ex, "lost-update");
    assert_eq!(lost["quantifier"], "some");
    assert_eq!(lost["status"], "failed", "{lost}");
    assert_eq!(lost["held"], 0, "no run lost an update: {lost}");
    assert_eq!(ex["failing_run_count"], 0);
    for id in ["two-processes", "overlap", "all-steps", "reachable"] {
        passed(ex, id);
    }
    assert_eq!(
        ex["distributions"][0]["values"],
        serde_json::json!([["0", RUNS]]),
        "every final balance is its start"
    );
}

// ------------------------------------------------------------ exercise 3

#[test]
fn ex3_lock_around_load_only_fails_update_inside_lock() {
    let report = grade("03-lock-around-load-only", &[]);
    let ex = the_exercise(&report);
    broken_every_run(ex, "update-inside-lock", "without holding the lock");
    broken_some_run(ex, "final-equals-start", "");
    passed(ex, "acquisitions");
    passed(ex, "exclusive");
    passed(ex, "lock-free-at-exit");
}

#[test]
fn ex3_lock_released_between_load_and_store_fails_update_inside_lock() {
    let report = grade("03-lock-released-between-load-and-store", &[]);
    let ex = the_exercise(&report);
    broken_every_run(
        ex,
        "update-inside-lock",
        "released the lock between its load",
    );
    // Two holdings per update are allowed as such: what is wrong is the
    // store made under the second.
    passed(ex, "acquisitions");
    broken_some_run(ex, "final-equals-start", "");
    passed(ex, "exclusive");
}

#[test]
fn ex3_value_own_lock_only_fails_acquisitions_and_update_inside_lock() {
    let report = grade("03-value-own-lock-only", &[]);
    let ex = the_exercise(&report);
    broken_every_run(
        ex,
        "acquisitions",
        "deposit took it 0 times, withdraw took it 0 times",
    );
    broken_every_run(ex, "update-inside-lock", "without holding the lock");
    broken_some_run(ex, "final-equals-start", "");
}

#[test]
fn ex3_missing_release_fails_no_panic() {
    let report = grade("03-missing-release", &[]);
    let ex = the_exercise(&report);
    broken_every_run(ex, "no-panic", "already holds this lock");
    broken_every_run(ex, "clean-exit", "");
    assert_ne!(invariant(ex, "lock-free-at-exit")["status"], "passed");
}

#[test]
fn ex3_unlocked_fails_acquisitions_and_final_equals_start() {
    let report = grade("03-unlocked", &[]);
    let ex = the_exercise(&report);
    broken_every_run(
        ex,
        "acquisitions",
        "deposit took it 0 times, withdraw took it 0 times",
    );
    broken_every_run(ex, "update-inside-lock", "without holding the lock");
    broken_some_run(ex, "final-equals-start", "");
}

/// The racy variants of exercise 3: each loses updates only in some
/// interleavings.
const RACY_BANKS: [&str; 4] = [
    "03-lock-around-load-only",
    "03-lock-released-between-load-and-store",
    "03-value-own-lock-only",
    "03-unlocked",
];

#[test]
fn ex3_racy_variants_are_caught_from_the_trace_even_when_no_update_is_lost() {
    // Left to the operating system, updates are rarely lost; the trace
    // still shows every store made outside one holding of the lock.
    for name in RACY_BANKS {
        let report = grade(name, &["--mode", "free"]);
        let ex = the_exercise(&report);
        assert_eq!(ex["mode"], "free", "{name}");
        let inv = invariant(ex, "update-inside-lock");
        assert_eq!(inv["broken"], RUNS, "{name}: {inv}");
        every_run_fails(ex);
    }
}

// ------------------------------------------------------------ exercise 4

/// A hang, reported as the deadlock it is: who waits in `get`, for ever.
#[track_caller]
fn reported_as_a_hang(ex: &Value) {
    broken_some_run(ex, "no-hang", "waits in get on queue 'queue'");
    let seen = invariant(ex, "no-hang")["failure"]["seen"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(seen.starts_with("deadlocked: "), "{seen}");
    assert!(ex["headline"].as_str().unwrap().contains("no hang"));
    // The runs that end are right: nothing is taken twice or lost, and
    // nothing panicked; only the hang is wrong.
    for id in ["exactly-once", "counts-sum", "queue-empty"] {
        assert_eq!(invariant(ex, id)["broken"], 0, "{id}");
    }
    passed(ex, "no-panic");
}

#[test]
fn ex4_faulty_drain_hangs() {
    let report = grade("04-faulty-drain", &[]);
    reported_as_a_hang(the_exercise(&report));
}

#[test]
fn ex4_check_under_lock_get_outside_hangs() {
    let report = grade("04-check-under-lock-get-outside", &[]);
    reported_as_a_hang(the_exercise(&report));
}

// ------------------------------------------------------------ exercise 5

#[test]
fn ex5_no_owner_check_lets_the_intruder_release() {
    let report = grade("05-no-owner-check", &[]);
    let ex = the_exercise(&report);
    every_run_fails(ex);
    // The intruder's release went through: the probe names the bug in
    // every run, and the model sees the intruder write into a lock that
    // another process holds.
    broken_every_run(ex, "probe-not-owner", "and changed the lock");
    broken_some_run(ex, "exclusive", "intruder wrote rlock.depth");
}

#[test]
fn ex5_not_reentrant_fails_the_owners_second_acquire() {
    let report = grade("05-not-reentrant", &[]);
    let ex = the_exercise(&report);
    broken_every_run(
        ex,
        "owner-calls",
        "acquire returned an error of the inner lock",
    );
    broken_every_run(ex, "no-panic", "already holds this lock");
    assert_eq!(invariant(ex, "exclusive")["broken"], 0);
}

#[test]
fn ex5_release_forgets_depth_lets_go_of_the_inner_lock_too_early() {
    let report = grade("05-release-forgets-depth", &[]);
    let ex = the_exercise(&report);
    // The parent's first release frees the inner lock while it still owns
    // the reentrant one: the model sees it at that very release.
    broken_every_run(
        ex,
        "owner-and-depth",
        "let go of rlock.lock with rlock.owner=",
    );
    // Shrunk, the simplest run that shows it has no preemption: the
    // parent's own second release writes without the inner lock.
    broken_some_run(ex, "exclusive", "held rlock.lock");
}

#[test]
fn ex5_missing_release_leaves_the_lock_held() {
    let report = grade("05-missing-release", &[]);
    let ex = the_exercise(&report);
    every_run_fails(ex);
    broken_every_run(ex, "rounds", "and it still holds the lock");
    broken_every_run(ex, "clean-exit", "");
    // The lock a dead child left owned is not free: the parent's release
    // is rightly refused as a non-owner's.
    assert_eq!(invariant(ex, "probe-extra-release")["broken"], 0);
    assert_ne!(invariant(ex, "free-at-end")["status"], "passed");
}

#[test]
fn ex5_owner_checked_at_last_level_only_lets_the_intruder_count_down() {
    let report = grade("05-owner-checked-at-last-level-only", &[]);
    let ex = the_exercise(&report);
    broken_some_run(
        ex,
        "probe-not-owner",
        "returned Ok(()), and changed the lock",
    );
    broken_some_run(ex, "exclusive", "intruder wrote rlock.depth");
}

// ----------------------------------------------------- the control group

#[test]
fn the_solutions_pass_with_the_same_settings() {
    let out = grader()
        .args([
            "--solutions",
            "--runs",
            &RUNS.to_string(),
            "--seed",
            SEED,
            "--format",
            "json",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    assert_eq!(report["passed"], true);
    for ex in report["exercises"].as_array().unwrap() {
        assert_eq!(ex["status"], "passed", "{}: {}", ex["slug"], ex["headline"]);
        assert_eq!(ex["failing_run_count"], 0, "{}", ex["slug"]);
    }
}

#[test]
fn every_variant_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture("variants"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("exercises").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let source = include_str!("variants.rs");
    for name in &on_disk {
        assert!(
            source.contains(&format!("grade(\"{name}\"")),
            "tests/fixtures/variants/{name} is graded by no test"
        );
    }
    assert!(on_disk.len() >= 15, "{on_disk:?}");
}

// --------------------------------------------------------- on one CPU

/// The verdicts of a report, invariant by invariant: (id, held, broken,
/// unchecked).
fn verdicts(report: &Value) -> Vec<(String, u64, u64, u64)> {
    the_exercise(report)["invariants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["held"].as_u64().unwrap(),
                i["broken"].as_u64().unwrap(),
                i["unchecked"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The failing runs a report lists: (run, the invariants it broke).
fn failing_runs(report: &Value) -> Vec<(u64, Value)> {
    the_exercise(report)["failing_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run"].as_u64().unwrap(), r["failed"].clone()))
        .collect()
}

/// Runs the grader restricted to CPU 0: with `taskset` if the machine has
/// it, else by restricting this test's own thread before starting the
/// grader (a thread's CPU set is inherited by the processes it starts).
fn grade_on_one_cpu(name: &str) -> Value {
    let taskset = Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut cmd = if taskset {
        let mut cmd = assert_cmd::Command::new("taskset");
        cmd.arg("-c").arg("0").arg(common::grader_path());
        cmd
    } else {
        pin_this_thread_to_cpu0();
        assert_cmd::Command::new(common::grader_path())
    };
    let out = cmd
        .args(args(name))
        .current_dir(common::course_root())
        .env("NO_COLOR", "1")
        .env_remove("MULTIPROC_SCHED")
        .timeout(common::DEADLINE)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report = json(&out);
    check_report(name, &report);
    report
}

fn pin_this_thread_to_cpu0() {
    extern "C" {
        fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
    }
    let mask: [u64; 16] = {
        let mut m = [0; 16];
        m[0] = 1;
        m
    };
    // SAFETY: pid 0 is the calling thread; the mask is a valid, fully
    // initialised cpu_set_t-sized buffer (1024 bits) that outlives the call.
    let rc = unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
    assert_eq!(
        rc,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn racy_variants_are_caught_the_same_on_one_cpu() {
    for name in RACY_BANKS
        .into_iter()
        .chain(["04-faulty-drain", "04-check-under-lock-get-outside"])
    {
        let pinned = grade_on_one_cpu(name);
        assert_eq!(pinned["cpus"], 1, "{name}: the grader saw one CPU");
        let ex = the_exercise(&pinned);
        assert_eq!(ex["mode"], "controlled", "{name}");
        assert_eq!(ex["default_mode"], true, "{name}");
        if name.starts_with("03-") {
            // The race itself shows, not only its trace.
            broken_some_run(ex, "final-equals-start", "");
        } else {
            reported_as_a_hang(ex);
        }
        // The controlled scheduler decides every interleaving from the
        // seed: the same verdicts, run for run, as with every CPU.
        let unpinned = grade(name, &[]);
        assert_eq!(verdicts(&pinned), verdicts(&unpinned), "{name}");
        assert_eq!(failing_runs(&pinned), failing_runs(&unpinned), "{name}");
    }
}

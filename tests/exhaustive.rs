//! The exhaustive search (`--mode exhaustive`) and the shrinking of
//! random failures, end to end: the real grader, the real programs.
//!
//! - Every reference solution verifies at the default bound.
//! - Every known-bad variant is refuted, the same way on every search
//!   (whatever the number of parallel runs), with the fewest preemptions
//!   that break it.
//! - A failure of random runs, shrunk (or, when shrinking leaves more
//!   than one preemption, found again at a small size), still fails when
//!   replayed.
//! - The replay of a minimal counterexample reproduces it, 100 times out
//!   of 100.

mod common;

use common::{
    class_verdict, grade_class, graded, grader, invariant, patches, staged, variant_patch, SEED,
};
use serde_json::Value;

/// A known-bad variant staged as a submission, in a temporary folder
/// removed when dropped.
fn variant(name: &str) -> tempfile::TempDir {
    staged(&variant_patch("variants", name))
}

fn number(name: &str) -> &str {
    name[..2].trim_start_matches('0')
}

fn only(report: &Value) -> &Value {
    let all = report["exercises"].as_array().expect("exercises");
    assert_eq!(all.len(), 1, "one exercise graded");
    &all[0]
}

/// Searches a variant exhaustively (default bound); its exercise.
fn search_variant(name: &str, jobs: &str) -> Value {
    let staged = variant(name);
    let path = staged.path().display().to_string();
    let report = graded(
        &[
            number(name),
            "--mode",
            "exhaustive",
            "--jobs",
            jobs,
            "--workspace",
            &path,
        ],
        1,
    );
    only(&report).clone()
}

#[test]
fn every_reference_solution_verifies_at_the_default_bound() {
    let report = graded(&["--solutions", "--mode", "exhaustive"], 0);
    assert_eq!(report["bound"], 2, "the default bound");
    for ex in report["exercises"].as_array().unwrap() {
        let slug = &ex["slug"];
        let s = &ex["search"];
        assert_eq!(ex["status"], "passed", "{slug}: {}", ex["headline"]);
        assert_eq!(s["verified"], true, "{slug}: {s}");
        assert_eq!(s["bound"], 2, "{slug}");
        assert!(s["counterexample"].is_null(), "{slug}");
        assert_eq!(ex["runs"], 0, "{slug}: no random runs in this mode");
        let schedules = s["schedules"].as_u64().unwrap();
        assert!(schedules >= 1, "{slug}");
        for size in s["sizes"].as_array().unwrap() {
            assert_eq!(size["complete"], true, "{slug}: {size}");
        }
        for inv in ex["invariants"].as_array().unwrap() {
            assert_eq!(inv["search"]["schedules"], schedules, "{slug}: {inv}");
        }
    }
    // The concurrent exercises interleave: more than one schedule each.
    for slug in [
        "unlocked-race",
        "locked-bank",
        "queue-drain",
        "reentrant-lock",
    ] {
        let ex = common::exercise(&report, slug);
        assert!(ex["search"]["schedules"].as_u64().unwrap() > 10, "{slug}");
    }
}

/// Each variant: the invariant its counterexample breaks, its size, and
/// the fewest preemptions that break it.
const REFUTED: &[(&str, &str, u64, u64)] = &[
    ("02-single-step", "updates", 1, 0),
    ("03-lock-around-load-only", "update-inside-lock", 1, 0),
    (
        "03-lock-released-between-load-and-store",
        "update-inside-lock",
        1,
        0,
    ),
    ("03-missing-release", "no-panic", 2, 0),
    ("03-unlocked", "acquisitions", 1, 0),
    ("03-value-own-lock-only", "acquisitions", 1, 0),
    ("04-check-under-lock-get-outside", "no-hang", 1, 1),
    ("04-faulty-drain", "no-hang", 1, 1),
    ("05-missing-release", "no-panic", 1, 0),
    ("05-no-owner-check", "no-panic", 1, 0),
    ("05-not-reentrant", "no-panic", 1, 0),
    ("05-owner-checked-at-last-level-only", "no-panic", 1, 0),
    ("05-release-forgets-depth", "exclusive", 1, 0),
];

#[test]
fn every_known_bad_variant_is_refuted_with_its_fewest_preemptions() {
    for &(name, id, size, preemptions) in REFUTED {
        let ex = search_variant(name, "2");
        assert_eq!(ex["status"], "failed", "{name}");
        let s = &ex["search"];
        assert_eq!(s["verified"], false, "{name}");
        let c = &s["counterexample"];
        assert_eq!(c["invariant"], id, "{name}: {c}");
        assert_eq!(c["size"], size, "{name}: {c}");
        assert_eq!(c["preemptions"], preemptions, "{name}: {c}");
        // The failure shown is the counterexample, with its replay.
        let inv = invariant(&ex, id);
        let f = &inv["failure"];
        assert_eq!(f["preemptions"], preemptions, "{name}: {f}");
        assert_eq!(f["schedule"], c["schedule"], "{name}: {f}");
        let replay = f["replay"].as_str().unwrap();
        assert!(
            replay.contains(&format!("--size {size}")),
            "{name}: {replay}"
        );
    }
    // A lost update never shows in any schedule: the search proves it
    // (the race needs one, and there is none), with no counterexample.
    let ex = search_variant("02-atomic-looking", "2");
    assert_eq!(ex["status"], "failed");
    let lost = invariant(&ex, "lost-update");
    assert_eq!(lost["status"], "failed", "{lost}");
    assert_eq!(lost["search"]["held"], 0, "{lost}");
    assert!(ex["search"]["counterexample"].is_null());
}

#[test]
fn a_search_gives_the_same_counterexample_whatever_runs_in_parallel() {
    for name in ["04-faulty-drain", "04-check-under-lock-get-outside"] {
        let one = search_variant(name, "1");
        let two = search_variant(name, "2");
        let three = search_variant(name, "2");
        for other in [&two, &three] {
            assert_eq!(
                one["search"]["counterexample"], other["search"]["counterexample"],
                "{name}"
            );
            assert_eq!(
                one["search"]["schedules"], other["search"]["schedules"],
                "{name}"
            );
        }
        // In words: the one preemption, where it cuts in.
        let why = &one["search"]["counterexample"]["preempted"];
        let said = why[0].as_str().unwrap_or_default();
        assert!(said.contains(" runs between "), "{name}: {why}");
    }
}

/// The replay of `replay` (a failure's replay command, `cargo grade
/// replay ...`) against the variant's workspace: its exit code and what
/// it printed.
fn replay(replay: &str, name: &str) -> (i32, String) {
    let args: Vec<&str> = replay
        .strip_prefix("cargo grade ")
        .expect("a cargo grade command")
        .split(' ')
        .map(|a| if a == "''" { "" } else { a })
        .collect();
    let staged = variant(name);
    let path = staged.path().display().to_string();
    let out = grader()
        .args(&args)
        .args(["--workspace", &path])
        .output()
        .expect("the grader runs");
    (
        out.status.code().unwrap_or(-1),
        steady(&String::from_utf8_lossy(&out.stdout)),
    )
}

/// A replay's output without what may change from one run to the next
/// of the same interleaving: how long it took, and the pids (the same in
/// every run where the box has a pid namespace, which needs root).
fn steady(out: &str) -> String {
    let mut text = String::new();
    for line in out.lines() {
        let line = match line.rfind(" after ") {
            Some(i) if line.starts_with("Ended:") => &line[..i],
            _ => line,
        };
        let mut rest = line;
        while let Some(i) = rest.find("pid ") {
            text.push_str(&rest[..i + 4]);
            rest = rest[i + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
            text.push('N');
        }
        text.push_str(rest);
        text.push('\n');
    }
    text
}

#[test]
fn a_shrunk_random_failure_still_fails_the_same_way() {
    for name in ["03-unlocked", "04-check-under-lock-get-outside"] {
        let staged = variant(name);
        let path = staged.path().display().to_string();
        let report = graded(
            &[
                number(name),
                "--runs",
                "20",
                "--seed",
                SEED,
                "--workspace",
                &path,
            ],
            1,
        );
        let ex = only(&report).clone();
        let (mut shrunk, mut searched) = (0, 0);
        for inv in ex["invariants"].as_array().unwrap() {
            let f = &inv["failure"];
            let Some(after) = f["preemptions"].as_u64() else {
                continue;
            };
            if let Some(before) = f["shrunk"]["preemptions"].as_u64() {
                // Shrunk at the run's own size.
                shrunk += 1;
                assert!(after <= before, "{name}: {f}");
            } else {
                // Still more than one preemption once shrunk, so the
                // search's simplest schedule at a small size is shown,
                // with the random run that failed first.
                searched += 1;
                assert!(f["size"].is_u64(), "{name}: {f}");
                assert!(f["seed"].is_u64(), "{name}: {f}");
                assert!(after <= 1, "{name}: {f}");
            }
            let (code, out) = replay(f["replay"].as_str().unwrap(), name);
            assert_eq!(code, 1, "{name}: the shown schedule fails:\n{out}");
            let broken = format!("✗ {}", inv["name"].as_str().unwrap());
            assert!(
                out.contains(&broken),
                "{name}: the replay breaks {broken:?}:\n{out}"
            );
        }
        // A lost update needs one preemption, between a load and its
        // store, whatever the random run had.
        if name == "03-unlocked" {
            assert!(shrunk > 0, "{name}: some failure was shrunk");
            let lost = &invariant(&ex, "final-equals-start")["failure"];
            assert_eq!(lost["preemptions"], 1, "{lost}");
            let said = lost["preempted"][0].as_str().unwrap_or_default();
            assert!(said.contains("'s load ("), "{said}");
            assert!(said.contains(") and its store ("), "{said}");
        }
        // A drain's hang on its last item keeps hundreds of preemptions at
        // the run's size; at three items it needs one.
        if name == "04-check-under-lock-get-outside" {
            assert!(searched > 0, "{name}: the hang is shown at a small size");
            let hang = &invariant(&ex, "no-hang")["failure"];
            assert_eq!(hang["preemptions"], 1, "{hang}");
        }
    }
}

#[test]
fn the_replay_of_a_minimal_counterexample_reproduces_it_100_times_out_of_100() {
    let name = "04-faulty-drain";
    let ex = search_variant(name, "2");
    let f = &invariant(&ex, "no-hang")["failure"];
    let command = f["replay"].as_str().unwrap().to_string();
    let (code, first) = replay(&command, name);
    assert_eq!(code, 1, "{first}");
    assert!(
        first.contains("✗ every run terminates (no hang)"),
        "{first}"
    );
    assert!(
        first.contains("One preemption:\n  - P2 runs between P1's empty() (no) and its get"),
        "{first}"
    );
    let schedule = f["schedule"].as_str().unwrap();
    let full = first
        .lines()
        .find_map(|l| l.strip_prefix("Schedule: "))
        .expect("the replay prints its schedule");
    assert!(full.starts_with(schedule), "{full} follows {schedule}");
    for n in 1..100 {
        let (code, again) = replay(&command, name);
        assert_eq!(code, 1, "replay {n}");
        assert_eq!(again, first, "replay {n} differs from the first");
    }
}

#[test]
fn the_verdict_is_in_every_report_format() {
    let text = |format: &str| {
        let out = grader()
            .args([
                "2",
                "--solutions",
                "--mode",
                "exhaustive",
                "--format",
                format,
            ])
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let verified = "verified: all ";
    let human = text("human");
    assert!(human.contains(verified), "{human}");
    assert!(
        human.contains(" schedules with ≤ 2 preemptions at "),
        "{human}"
    );
    let junit = text("junit");
    assert!(
        junit.contains("<property name=\"schedules\" value=\""),
        "{junit}"
    );
    assert!(junit.contains(verified), "{junit}");
    let gradescope: Value = serde_json::from_str(&text("gradescope")).unwrap();
    let said = gradescope["output"].as_str().unwrap();
    assert!(said.contains(verified), "{said}");
    let report: Value = serde_json::from_str(&text("json")).unwrap();
    let s = &only(&report)["search"];
    assert_eq!(s["verified"], true);
    assert!(s["schedules"].as_u64().unwrap() > 0);
}

/// Every wrong variant of exercises 2 to 5, each one a student of one
/// `grader batch`, is refuted by the search: none is verified, whatever
/// the number it was written for (the last size of each exercise is the
/// top of its random ranges). The table above checks the counterexamples
/// of some; this checks them all, new ones included.
#[test]
fn no_known_bad_variant_is_verified() {
    let course = common::course_root();
    let class = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let variants: Vec<(String, String)> = patches::patches_in(&common::fixture("variants"))
        .iter()
        .map(|p| patches::name_of(p))
        .filter(|n| !n.starts_with("01"))
        .map(|name| {
            let patch = variant_patch("variants", &name);
            patches::stage(&course, &patch, &class.path().join(&name))
                .unwrap_or_else(|why| panic!("{why}"));
            let exercise = patches::apply(&course, &patch).unwrap().exercise;
            (name, exercise)
        })
        .collect();
    assert!(variants.len() >= 30, "{} variants", variants.len());
    grade_class(class.path(), output.path(), &["--mode", "exhaustive"]);
    let verified: Vec<&String> = variants
        .iter()
        .filter(|(name, exercise)| class_verdict(output.path(), name, exercise).is_ok())
        .map(|(name, _)| name)
        .collect();
    assert!(
        verified.is_empty(),
        "the search verified wrong programs: {verified:?}"
    );
}

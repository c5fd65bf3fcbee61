//! The exhaustive-search benchmark: what proving costs, against sampling.
//!
//! ```sh
//! cargo bench -p grader --bench exhaustive_bench -- --test --ignored --nocapture
//! ```
//!
//! (One ignored test in a bench target, like the other benchmarks:
//! `--test` makes the bench harness run it, `cargo test` never does.) It
//! runs the real grader binary and reads its JSON reports. Every part has
//! its baseline, random mode (the exercise's default, 200 runs), measured
//! in the same run:
//!
//! 1. **The reference solutions**, per exercise: `--mode exhaustive` at
//!    bound K (default 2), with the reduction and without it (once):
//!    schedules
//!    run, schedules per second, and the time to verify; against 200
//!    random runs: runs per second, and their time.
//! 2. **The known-bad variants** (`tests/fixtures/variants/`), each in
//!    both modes: caught or not, how fast (the exercise's own time, its
//!    build apart), and the counterexample's preemptions (the search's, or
//!    the random failure's once shrunk).
//! 3. **The student's loop** for exercise 3: edit the file, then the
//!    verdict, at default settings and in exhaustive mode.
//! 4. **The whole course**, already built: `grader --solutions` at
//!    default settings and with `--mode exhaustive`.
//!
//! Settings: `EXHAUSTIVE_BENCH_REPEATS` (default 3, medians of that
//! many), `EXHAUSTIVE_BENCH_BOUND` (2), `EXHAUSTIVE_BENCH_PARTS` (a list
//! of part numbers, default `1234`). Figures depend on the machine and its
//! load: run it on a quiet one.

use std::path::PathBuf;

use serde_json::Value;

// The variants' patches are applied by the same code as in the course's
// tests.
#[path = "../../tests/support/patches.rs"]
mod patches;
mod support;

use support::{course_root, env_or, grade, median, SLUGS};

fn only(report: &Value) -> &Value {
    &report["exercises"][0]
}

fn solutions_part(repeats: usize, bound: &str) {
    println!("\n1. The reference solutions ({repeats} times each; medians)");
    println!(
        "| exercise | exhaustive K={bound}: schedules | schedules/s | time to verify (s) \
         | without the reduction: schedules | schedules/s | time (s) \
         | random, 200 runs: runs/s | time (s) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (number, slug) in SLUGS {
        let mut cells = Vec::new();
        for extra in [&[][..], &["--no-reduction"][..]] {
            let (mut count, mut rate, mut time, mut verified) = (0.0, vec![], vec![], true);
            // Without the reduction, once: it is the slow one.
            let times = if extra.is_empty() { repeats } else { 1 };
            for _ in 0..times {
                let mut args = vec![number, "--solutions", "--mode", "exhaustive"];
                args.extend_from_slice(&["--bound", bound]);
                args.extend_from_slice(extra);
                let (report, _) = grade(&args);
                let s = &only(&report)["search"];
                verified &= s["verified"] == true;
                count = s["schedules"].as_f64().unwrap_or(f64::NAN);
                rate.push(s["schedules_per_second"].as_f64().unwrap_or(f64::NAN));
                time.push(s["elapsed_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0);
            }
            let mark = if verified { "" } else { " (not verified)" };
            cells.push(format!(
                "{count}{mark} | {:.0} | {:.2}",
                median(rate),
                median(time)
            ));
        }
        let (mut rate, mut time) = (vec![], vec![]);
        for r in 0..repeats {
            let seed = (1 + r).to_string();
            let (report, _) = grade(&[number, "--solutions", "--seed", &seed]);
            let ex = only(&report);
            let secs = ex["elapsed_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0;
            rate.push(ex["runs"].as_f64().unwrap_or(f64::NAN) / secs);
            time.push(secs);
        }
        println!(
            "| {slug} | {} | {} | {:.0} | {:.2} |",
            cells[0],
            cells[1],
            median(rate),
            median(time)
        );
    }
}

fn variants_part(bound: &str) {
    let root = course_root();
    let patches: Vec<PathBuf> = patches::patches_in(&root.join("tests/fixtures/variants"))
        .into_iter()
        .filter(|p| !patches::name_of(p).starts_with("01"))
        .collect();
    println!("\n2. The known-bad variants (exercise time, build apart)");
    println!(
        "| variant | exhaustive K={bound}: caught | schedules | time (s) | preemptions \
         | random, 200 runs: caught | failing runs | time (s) | preemptions, shrunk |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for patch in patches {
        let name = patches::name_of(&patch);
        let number = name[..2].trim_start_matches('0').to_string();
        let staged = tempfile::tempdir().expect("a temporary folder");
        patches::stage(&root, &patch, staged.path()).unwrap_or_else(|why| panic!("{why}"));
        let path = staged.path().display().to_string();
        let common = [number.as_str(), "--seed", "7", "--workspace", &path];
        // Built once before it is timed.
        grade(&[&common[..], &["--runs", "1"]].concat());
        let (report, _) =
            grade(&[&common[..], &["--mode", "exhaustive", "--bound", bound]].concat());
        let ex = only(&report);
        let s = &ex["search"];
        let cx = &s["counterexample"];
        let exhaustive = format!(
            "{} | {} | {:.2} | {}",
            ex["status"] == "failed",
            s["schedules"],
            s["elapsed_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0,
            if cx.is_null() {
                "none (a situation never seen)".to_string()
            } else {
                cx["preemptions"].to_string()
            }
        );
        let (report, _) = grade(&common);
        let ex = only(&report);
        let shrunk: Vec<String> = ex["invariants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| {
                let f = &i["failure"];
                let p = f["preemptions"].as_u64()?;
                let before = f["shrunk"]["preemptions"].as_u64()?;
                Some(format!(
                    "{}: {before} → {p}",
                    i["id"].as_str().unwrap_or("")
                ))
            })
            .collect();
        println!(
            "| {name} | {exhaustive} | {} | {}/{} | {:.2} | {} |",
            ex["status"] == "failed",
            ex["failing_run_count"],
            ex["runs"],
            ex["elapsed_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0,
            if shrunk.is_empty() {
                "–".to_string()
            } else {
                shrunk.join("; ")
            }
        );
    }
}

/// Grades exercise 3 after rewriting its solution with a fresh comment,
/// so that the crate is rebuilt: the student's edit, then the verdict.
fn edit_then_grade(n: usize, extra: &[&str]) -> f64 {
    let file = course_root().join("solutions/03-locked-bank/src/lib.rs");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}\n// exhaustive bench edit {n}\n")).unwrap();
    let mut args = vec!["3", "--solutions"];
    args.extend_from_slice(extra);
    let (_, secs) = grade(&args);
    std::fs::write(&file, text).unwrap();
    secs
}

fn loop_part(repeats: usize) {
    edit_then_grade(0, &["--runs", "1"]);
    let (mut random, mut exhaustive) = (Vec::new(), Vec::new());
    for n in 1..=repeats {
        random.push(edit_then_grade(n, &[]));
        exhaustive.push(edit_then_grade(n, &["--mode", "exhaustive"]));
    }
    println!(
        "\n3. The student's loop, exercise 3: an edit, then the verdict ({repeats} each; medians)"
    );
    println!("| grading | wall time (s) |");
    println!("|---|---|");
    println!("| default (random, 200 runs) | {:.2} |", median(random));
    println!("| --mode exhaustive | {:.2} |", median(exhaustive));
}

fn course_part(repeats: usize) {
    grade(&["--solutions", "--runs", "1"]);
    let (mut random, mut exhaustive) = (Vec::new(), Vec::new());
    for r in 0..repeats {
        let seed = (1 + r).to_string();
        random.push(grade(&["--solutions", "--seed", &seed]).1);
        exhaustive.push(grade(&["--solutions", "--mode", "exhaustive"]).1);
    }
    println!("\n4. The whole course, already built ({repeats} times; medians)");
    println!("| grading | wall time (s) |");
    println!("|---|---|");
    println!(
        "| `grader --solutions` (random, 5 × 200 runs) | {:.2} |",
        median(random)
    );
    println!(
        "| `grader --solutions --mode exhaustive` | {:.2} |",
        median(exhaustive)
    );
}

#[test]
#[ignore = "a benchmark: cargo bench -p grader --bench exhaustive_bench -- --test --ignored --nocapture"]
fn exhaustive_bench() {
    let repeats = env_or("EXHAUSTIVE_BENCH_REPEATS", 3);
    let bound = env_or("EXHAUSTIVE_BENCH_BOUND", 2).to_string();
    let parts = std::env::var("EXHAUSTIVE_BENCH_PARTS").unwrap_or_else(|_| "1234".into());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("exhaustive bench: {cpus} CPUs");
    grade(&["--solutions", "--runs", "1"]);
    if parts.contains('1') {
        solutions_part(repeats, &bound);
    }
    if parts.contains('2') {
        variants_part(&bound);
    }
    if parts.contains('3') {
        loop_part(repeats);
    }
    if parts.contains('4') {
        course_part(repeats);
    }
}

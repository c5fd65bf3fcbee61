//! The cost benchmark: what grading costs beyond the programs themselves.
//!
//! ```sh
//! cargo bench -p grader --bench cost_bench -- --test --ignored --nocapture
//! ```
//!
//! (One ignored test in a bench target, like the race benchmark: `--test`
//! makes the bench harness run it, `cargo test` never does.) It runs the
//! real grader binary and reads its JSON reports. Three parts, each with
//! its baseline measured in the same run:
//!
//! 1. **Per-run overhead**, per exercise: the median, over `REPEATS`
//!    sessions of `RUNS` runs of the reference solutions one at a time
//!    (`--jobs 1`), of `overhead_median_ms`, a run's time from the
//!    grader's request to its verdict less the scenario's own time. The
//!    baseline is the bare cost of starting a process and waiting for it
//!    (`/bin/true`, fork and exec), which no sandbox can go below.
//! 2. **Build checks**, per exercise: the time to grade one run after the
//!    student's file changed (a warm stage: only that crate and its
//!    program are rebuilt), with the language boundary and without it
//!    (`--no-language-boundary`), alternating, `REPEATS` times each. The
//!    difference is what the checks add to a build.
//! 3. **The whole course**: `grader --solutions` at default settings, the
//!    programs already built, `REPEATS` times; the baseline is the same
//!    with one run per exercise (what is not running).
//!
//! Settings: `COST_BENCH_RUNS` (default 200), `COST_BENCH_REPEATS` (5).
//! Figures depend on the machine and its load: run it on a quiet one.

use std::process::Command;
use std::time::Instant;

mod support;

use support::{course_root, env_or, grade, median, SLUGS};

fn overhead_part(runs: usize, repeats: usize) {
    let runs = runs.to_string();
    let mut per_exercise: Vec<Vec<f64>> = vec![Vec::new(); SLUGS.len()];
    let mut judge: Vec<Vec<f64>> = vec![Vec::new(); SLUGS.len()];
    for r in 0..repeats {
        let seed = (1 + r * 1000).to_string();
        let (report, _) = grade(&[
            "--solutions",
            "--runs",
            &runs,
            "--jobs",
            "1",
            "--seed",
            &seed,
        ]);
        for (i, ex) in report["exercises"].as_array().unwrap().iter().enumerate() {
            let t = &ex["timing"];
            per_exercise[i].push(t["overhead_median_ms"].as_f64().unwrap_or(f64::NAN));
            judge[i].push(t["judge_median_ms"].as_f64().unwrap_or(f64::NAN));
        }
    }
    let mut spawn = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let status = Command::new("/bin/true").status().expect("/bin/true runs");
        assert!(status.success());
        spawn.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("\n1. Per-run overhead ({repeats} sessions of {runs} runs, --jobs 1; medians)");
    println!("| exercise | overhead (ms) | of which judging (ms) |");
    println!("|---|---|---|");
    for (i, (_, slug)) in SLUGS.iter().enumerate() {
        println!(
            "| {slug} | {:.2} | {:.2} |",
            median(per_exercise[i].clone()),
            median(judge[i].clone())
        );
    }
    println!(
        "| baseline: start /bin/true and wait | {:.2} | |",
        median(spawn)
    );
}

/// Grades one run of exercise `number` after rewriting its student file
/// with a fresh comment, so that the exercise crate is rebuilt.
fn one_build(number: &str, dir: &str, n: usize, extra: &[&str]) -> f64 {
    let file = course_root().join("solutions").join(dir).join("src/lib.rs");
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = format!("{text}\n// cost bench edit {n}\n");
    std::fs::write(&file, edited).unwrap();
    let mut args = vec![number, "--solutions", "--runs", "1"];
    args.extend_from_slice(extra);
    let (_, secs) = grade(&args);
    std::fs::write(&file, text).unwrap();
    secs
}

fn build_part(repeats: usize) {
    println!("\n2. A build after an edit, warm stage ({repeats} each, alternating; medians)");
    println!("| exercise | with the checks (s) | without (s) | the checks add (s) |");
    println!("|---|---|---|---|");
    for (number, dir) in SLUGS {
        // Warm both stages first.
        one_build(number, dir, 0, &[]);
        one_build(number, dir, 0, &["--no-language-boundary"]);
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for n in 1..=repeats {
            with.push(one_build(number, dir, n, &[]));
            without.push(one_build(number, dir, n, &["--no-language-boundary"]));
        }
        let (w, wo) = (median(with), median(without));
        println!("| {dir} | {w:.2} | {wo:.2} | {:.2} |", w - wo);
    }
}

fn course_part(repeats: usize) {
    grade(&["--solutions", "--runs", "1"]);
    let (mut full, mut one) = (Vec::new(), Vec::new());
    for r in 0..repeats {
        let seed = (1 + r).to_string();
        full.push(grade(&["--solutions", "--seed", &seed]).1);
        one.push(grade(&["--solutions", "--runs", "1", "--seed", &seed]).1);
    }
    println!("\n3. The whole course, already built ({repeats} times; medians)");
    println!("| grading | wall time (s) |");
    println!("|---|---|");
    println!(
        "| `grader --solutions` (5 × 200 runs) | {:.2} |",
        median(full)
    );
    println!("| baseline: 5 × 1 run | {:.2} |", median(one));
}

#[test]
#[ignore = "a benchmark: cargo bench -p grader --bench cost_bench -- --test --ignored --nocapture"]
fn cost_bench() {
    let runs = env_or("COST_BENCH_RUNS", 200);
    let repeats = env_or("COST_BENCH_REPEATS", 5);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cost bench: {cpus} CPUs");
    grade(&["--solutions", "--runs", "1"]);
    overhead_part(runs, repeats);
    build_part(repeats);
    course_part(repeats);
}

//! The race benchmark: how often, and how soon, the grader catches each
//! known-bad variant in `tests/fixtures/variants/`, in every scheduling
//! mode, and how long grading the whole course takes at default settings.
//! Each variant is a patch against a reference solution; it is applied to
//! the solution as it is now and staged as a submission of one file in a
//! temporary folder, which the benchmark grades.
//!
//! ```sh
//! cargo bench -p grader --bench race_bench -- --test --ignored --nocapture
//! ```
//!
//! (The benchmark is one ignored test in a bench target, because the
//! grader's package has a single binary that `cargo grade` runs; `--test`
//! makes the bench harness run it, `--ignored` selects it, `--nocapture`
//! shows its progress. `cargo test` never runs it.)
//!
//! It runs the real grader binary on each variant's staged submission,
//! with `--format json`, and reads the reports. Three parts:
//!
//! 1. **Modes.** For each variant and each mode (`free`, `perturb`,
//!    `controlled`, `pct`), `SESSIONS` grading sessions of `RUNS` runs, with
//!    seeds that do not overlap. Per cell: the rate of failing runs, the
//!    median over sessions of the runs to the first failure (the first
//!    failing run's index + 1, from the report's `failing_runs` and each
//!    invariant's `failure.run`), and the sessions that failed the
//!    exercise. Both for the variant's *key* invariant (the race itself:
//!    `final-equals-start` for the locked bank, `no-hang` for the drain)
//!    and for *any* invariant (what the student is told).
//! 2. **Sessions at defaults.** For each variant, `DEFAULT_SESSIONS`
//!    sessions exactly as `cargo grade --workspace` makes them (200 runs,
//!    the exercise's default mode and timeout), counting the sessions that
//!    failed the exercise. The issue's target: every one of them.
//! 3. **Course time.** `grader --solutions` at default settings, the
//!    programs already built, `COURSE_REPEATS` times.
//!
//! Settings, from the environment:
//!
//! | variable | default | |
//! |---|---|---|
//! | `RACE_BENCH_RUNS` | 100 | runs per session in part 1 |
//! | `RACE_BENCH_SESSIONS` | 10 | sessions per variant and mode in part 1 |
//! | `RACE_BENCH_DEFAULT_SESSIONS` | 100 | sessions per variant in part 2 (0 skips it) |
//! | `RACE_BENCH_COURSE_REPEATS` | 3 | gradings of the whole course in part 3 (0 skips it) |
//! | `RACE_BENCH_TIMEOUT` | 1 | `--timeout` in free and perturb modes in part 1, seconds: a hung run is waited for this long (a healthy run takes tens of milliseconds) |
//! | `RACE_BENCH_SEED` | 1 | the base seed |
//! | `RACE_BENCH_ONLY` | | grade only the variants whose name contains this |
//! | `RACE_BENCH_MODES` | `free,perturb,controlled,pct` | the modes of part 1 |
//! | `RACE_BENCH_OUT` | | also write the tables (markdown) to this file |
//!
//! Free and perturb figures depend on the machine (its CPUs, its load);
//! controlled and pct figures depend only on the seeds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

// The variants' patches are applied by the same code as in the course's
// tests (the grader cannot depend on the course's root package, which the
// student edition does not have).
#[path = "../../tests/support/patches.rs"]
mod patches;

/// The course's root.
fn course_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is a member of the course's workspace")
        .to_path_buf()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={s:?} is not valid")),
        _ => default,
    }
}

struct Settings {
    runs: u64,
    sessions: u64,
    default_sessions: u64,
    course_repeats: u64,
    timeout: f64,
    seed: u64,
    only: String,
    modes: Vec<String>,
    out: Option<PathBuf>,
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            runs: env_or("RACE_BENCH_RUNS", 100),
            sessions: env_or("RACE_BENCH_SESSIONS", 10),
            default_sessions: env_or("RACE_BENCH_DEFAULT_SESSIONS", 100),
            course_repeats: env_or("RACE_BENCH_COURSE_REPEATS", 3),
            timeout: env_or("RACE_BENCH_TIMEOUT", 1.0),
            seed: env_or("RACE_BENCH_SEED", 1),
            only: env_or("RACE_BENCH_ONLY", String::new()),
            modes: env_or(
                "RACE_BENCH_MODES",
                "free,perturb,controlled,pct".to_string(),
            )
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect(),
            out: std::env::var_os("RACE_BENCH_OUT").map(PathBuf::from),
        }
    }
}

/// A known-bad variant: its patch, staged as a submission holding one
/// exercise's file.
struct Variant {
    name: String,
    /// The staged submission (removed when the variant is dropped).
    staged: tempfile::TempDir,
    /// The exercise's number, from the name's `NN-` prefix.
    exercise: u32,
    /// The invariant that shows the bug itself; `None`: any invariant.
    key: Option<&'static str>,
}

/// The invariant that shows each variant's bug, where one does. For the
/// locked bank's races the key is the lost update itself (the trace
/// invariants catch those variants in every run, whatever the mode); for
/// the drain's, the hang; for the reentrant lock, whatever breaks first.
/// The other variants' keys name their one wrong thing.
fn key_invariant(name: &str) -> Option<&'static str> {
    match name {
        "01-off-by-one" | "01-hard-coded-amount" | "01-hard-coded-steps" => Some("after-deposit"),
        "02-single-step" | "02-hard-coded-steps" => Some("all-steps"),
        "02-atomic-looking" => Some("lost-update"),
        "03-hard-coded-steps" => Some("all-steps"),
        n if n.starts_with("03-missing-release") => Some("no-panic"),
        n if n.starts_with("02-") || n == "03-hard-coded-amount" || n == "03-swapped-direction" => {
            Some("updates")
        }
        n if n.starts_with("03-") => Some("final-equals-start"),
        "04-faulty-drain" | "04-check-under-lock-get-outside" => Some("no-hang"),
        n if n.starts_with("04-") => Some("exactly-once"),
        _ => None,
    }
}

fn variants(only: &str) -> Vec<Variant> {
    let root = course_root();
    let found = patches::patches_in(&root.join("tests/fixtures/variants"));
    assert!(!found.is_empty(), "no patch in tests/fixtures/variants");
    found
        .iter()
        .map(|patch| (patches::name_of(patch), patch))
        .filter(|(name, _)| name.contains(only))
        .map(|(name, patch)| {
            let staged = tempfile::tempdir().expect("a temporary folder");
            patches::stage(&root, patch, staged.path()).unwrap_or_else(|why| panic!("{why}"));
            Variant {
                key: key_invariant(&name),
                exercise: name[..2].parse().expect("a variant's name starts with NN-"),
                staged,
                name,
            }
        })
        .collect()
}

/// Runs the grader with these arguments and returns its JSON report.
fn grade(args: &[String]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(args)
        .args(["--format", "json"])
        .current_dir(course_root())
        .env("NO_COLOR", "1")
        .env_remove("MULTIPROC_SCHED")
        .output()
        .expect("the grader runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "grader {args:?} gave no JSON report ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// What one session said about one variant.
struct Session {
    /// The exercise failed.
    caught: bool,
    /// Runs that failed some invariant (an "every" one).
    failing_runs: u64,
    /// 1 + the index of the first of them.
    first_failing: Option<u64>,
    /// Runs that broke the key invariant.
    key_broken: u64,
    /// 1 + the index of the first of them.
    key_first: Option<u64>,
    /// The key invariant's quantifier is "some": it is judged per session.
    key_per_session: bool,
    runs: u64,
}

fn session(report: &Value, variant: &Variant) -> Session {
    let ex = &report["exercises"][0];
    assert_eq!(
        ex["number"].as_u64(),
        Some(variant.exercise as u64),
        "{}: the report is about another exercise",
        variant.name
    );
    let first_failing = ex["failing_runs"][0]["run"].as_u64().map(|r| r + 1);
    let key = variant
        .key
        .and_then(|id| ex["invariants"].as_array()?.iter().find(|i| i["id"] == id));
    let runs = ex["runs"].as_u64().unwrap_or(0);
    let (key_broken, key_first, key_per_session) = match key {
        Some(k) => (
            k["broken"].as_u64().unwrap_or(0),
            k["failure"]["run"].as_u64().map(|r| r + 1),
            k["quantifier"] == "some",
        ),
        None => (
            ex["failing_run_count"].as_u64().unwrap_or(0),
            first_failing,
            false,
        ),
    };
    Session {
        caught: ex["status"] != "passed",
        failing_runs: ex["failing_run_count"].as_u64().unwrap_or(0),
        first_failing,
        key_broken,
        key_first,
        key_per_session,
        runs,
    }
}

/// The median of "runs to the first failure" over sessions; a session
/// with none counts as never (above every number).
fn median_first(firsts: &[Option<u64>], runs: u64) -> String {
    let mut v: Vec<u64> = firsts.iter().map(|f| f.unwrap_or(u64::MAX)).collect();
    v.sort_unstable();
    if v.is_empty() {
        return "–".into();
    }
    // The lower median: with 10 sessions, the 5th smallest.
    match v[(v.len() - 1) / 2] {
        u64::MAX => format!(">{runs}"),
        n => n.to_string(),
    }
}

fn rate(count: u64, of: u64) -> String {
    if of == 0 {
        return "–".into();
    }
    let pct = 100.0 * count as f64 / of as f64;
    if pct > 0.0 && pct < 1.0 {
        format!("{pct:.1}%")
    } else {
        format!("{pct:.0}%")
    }
}

/// Part 1: one cell of the table.
struct Cell {
    key: String,
    any: String,
    caught: String,
}

fn modes_part(settings: &Settings, variants: &[Variant], out: &mut String) {
    let n = settings.runs;
    let k = settings.sessions;
    let total = variants.len() * settings.modes.len();
    let mut rows = Vec::new();
    let mut done = 0;
    for v in variants {
        let mut cells = Vec::new();
        for mode in &settings.modes {
            done += 1;
            let started = Instant::now();
            let mut sessions = Vec::new();
            for s in 0..k {
                let seed = settings.seed + s * 100_000;
                let mut args: Vec<String> = vec![
                    v.exercise.to_string(),
                    "--workspace".into(),
                    v.staged.path().display().to_string(),
                    "--runs".into(),
                    n.to_string(),
                    "--seed".into(),
                    seed.to_string(),
                    "--mode".into(),
                    mode.clone(),
                ];
                if mode == "free" || mode == "perturb" {
                    args.extend(["--timeout".into(), settings.timeout.to_string()]);
                }
                sessions.push(session(&grade(&args), v));
            }
            eprintln!(
                "[{done}/{total}] {} {mode}: {k} sessions of {n} runs in {:.1} s",
                v.name,
                started.elapsed().as_secs_f64()
            );
            let runs: u64 = sessions.iter().map(|s| s.runs).sum();
            let caught = sessions.iter().filter(|s| s.caught).count();
            let any = format!(
                "{} · {}",
                rate(sessions.iter().map(|s| s.failing_runs).sum(), runs),
                median_first(
                    &sessions.iter().map(|s| s.first_failing).collect::<Vec<_>>(),
                    n
                )
            );
            let key = if v.key.is_none() {
                "(any)".to_string()
            } else if sessions.iter().any(|s| s.key_per_session) {
                // A "some" invariant: missed in a run means nothing; the
                // session fails when it is never seen.
                format!("judged per session: {caught}/{k} sessions fail")
            } else {
                format!(
                    "{} · {}",
                    rate(sessions.iter().map(|s| s.key_broken).sum(), runs),
                    median_first(&sessions.iter().map(|s| s.key_first).collect::<Vec<_>>(), n)
                )
            };
            cells.push(Cell {
                key,
                any,
                caught: format!("{caught}/{k}"),
            });
        }
        rows.push((v, cells));
    }

    out.push_str(&format!(
        "\n### The bug itself (key invariant): failing runs · median runs to the first ({k} sessions × {n} runs)\n\n"
    ));
    table_header(out, "variant | key invariant", &settings.modes);
    for (v, cells) in &rows {
        out.push_str(&format!("| {} | {} |", v.name, v.key.unwrap_or("(any)")));
        for c in cells {
            out.push_str(&format!(" {} |", c.key));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\n### Caught (any invariant): failing runs · median runs to the first · sessions failed ({k} sessions × {n} runs)\n\n"
    ));
    table_header(out, "variant", &settings.modes);
    for (v, cells) in &rows {
        out.push_str(&format!("| {} |", v.name));
        for c in cells {
            out.push_str(&format!(" {} · {} |", c.any, c.caught));
        }
        out.push('\n');
    }
}

fn table_header(out: &mut String, first: &str, modes: &[String]) {
    out.push_str(&format!("| {first} |"));
    for m in modes {
        out.push_str(&format!(" {} |", if m == "pct" { "pct3" } else { m }));
    }
    out.push_str(&format!(
        "\n|{}|{}\n",
        first
            .split('|')
            .map(|_| "---")
            .collect::<Vec<_>>()
            .join("|"),
        modes.iter().map(|_| "---|").collect::<String>()
    ));
}

fn defaults_part(settings: &Settings, variants: &[Variant], out: &mut String) {
    let m = settings.default_sessions;
    out.push_str(&format!(
        "\n### At default settings: {m} sessions of 200 runs each (seeds {}…)\n\n",
        settings.seed + 10_000_000
    ));
    out.push_str("| variant | mode | sessions failed | failing runs per session (min · median) | runs to the first failure (median · max) | key invariant broken per session (min) |\n|---|---|---|---|---|---|\n");
    for v in variants {
        let started = Instant::now();
        let mut sessions = Vec::new();
        let mut mode = String::new();
        for s in 0..m {
            let seed = settings.seed + 10_000_000 + s * 1_000;
            let report = grade(&[
                v.exercise.to_string(),
                "--workspace".into(),
                v.staged.path().display().to_string(),
                "--seed".into(),
                seed.to_string(),
            ]);
            mode = report["exercises"][0]["mode"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            sessions.push(session(&report, v));
        }
        eprintln!(
            "[defaults] {}: {m} sessions in {:.1} s",
            v.name,
            started.elapsed().as_secs_f64()
        );
        let caught = sessions.iter().filter(|s| s.caught).count();
        let mut failing: Vec<u64> = sessions.iter().map(|s| s.failing_runs).collect();
        failing.sort_unstable();
        let mut firsts: Vec<u64> = sessions
            .iter()
            .map(|s| s.first_failing.unwrap_or(u64::MAX))
            .collect();
        firsts.sort_unstable();
        let show = |n: u64| {
            if n == u64::MAX {
                "none".to_string()
            } else {
                n.to_string()
            }
        };
        let key_min = if sessions.iter().any(|s| s.key_per_session) {
            "(per session)".to_string()
        } else {
            sessions
                .iter()
                .map(|s| s.key_broken)
                .min()
                .map_or("–".into(), |n| n.to_string())
        };
        out.push_str(&format!(
            "| {} | {mode} | {caught}/{m} | {} · {} | {} · {} | {key_min} |\n",
            v.name,
            failing.first().copied().unwrap_or(0),
            failing
                .get(failing.len().saturating_sub(1) / 2)
                .copied()
                .unwrap_or(0),
            firsts
                .get(firsts.len().saturating_sub(1) / 2)
                .map_or("–".into(), |&n| show(n)),
            firsts.last().map_or("–".into(), |&n| show(n)),
        ));
    }
}

fn course_part(settings: &Settings, out: &mut String) {
    // Once to build (not timed), then the timed gradings.
    grade(&["--solutions".into(), "--runs".into(), "1".into()]);
    let mut times = Vec::new();
    let mut per_exercise: Vec<Vec<(String, f64)>> = Vec::new();
    let mut cpus = 0;
    for _ in 0..settings.course_repeats {
        let started = Instant::now();
        let report = grade(&["--solutions".into()]);
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(
            report["passed"], true,
            "the solutions must pass at default settings"
        );
        cpus = report["cpus"].as_u64().unwrap_or(0);
        times.push(wall);
        per_exercise.push(
            report["exercises"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .map(|e| {
                            (
                                format!(
                                    "{} ({}, {} runs)",
                                    e["slug"].as_str().unwrap_or("?"),
                                    e["mode"].as_str().unwrap_or("?"),
                                    e["runs"]
                                ),
                                e["elapsed_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        );
    }
    if times.is_empty() {
        return;
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    out.push_str(&format!(
        "\n### Grading the whole course at default settings (`grader --solutions`, built, {cpus} CPUs)\n\n\
         wall time: median {:.1} s over {} gradings ({})\n\n| exercise | time in its runs (median) |\n|---|---|\n",
        sorted[(sorted.len() - 1) / 2],
        times.len(),
        times
            .iter()
            .map(|t| format!("{t:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for i in 0..per_exercise[0].len() {
        let mut t: Vec<f64> = per_exercise.iter().map(|p| p[i].1).collect();
        t.sort_by(f64::total_cmp);
        out.push_str(&format!(
            "| {} | {:.2} s |\n",
            per_exercise[0][i].0,
            t[(t.len() - 1) / 2]
        ));
    }
}

#[test]
#[ignore = "a benchmark of several minutes: cargo bench -p grader --bench race_bench -- --test --ignored --nocapture"]
fn race_bench() {
    let settings = Settings::from_env();
    let variants = variants(&settings.only);
    assert!(!variants.is_empty(), "no variant matches");
    let started = Instant::now();
    let mut out = format!(
        "## Race benchmark\n\n{} variants; cells read \"rate of failing runs · median runs to the first failing run\"; \
         free and perturb with --timeout {} s.\n",
        variants.len(),
        settings.timeout
    );
    if settings.sessions > 0 && !settings.modes.is_empty() {
        modes_part(&settings, &variants, &mut out);
    }
    if settings.default_sessions > 0 {
        defaults_part(&settings, &variants, &mut out);
    }
    if settings.course_repeats > 0 {
        course_part(&settings, &mut out);
    }
    out.push_str(&format!(
        "\n(benchmark took {:.0} s)\n",
        started.elapsed().as_secs_f64()
    ));
    println!("{out}");
    if let Some(path) = &settings.out {
        std::fs::write(path, &out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

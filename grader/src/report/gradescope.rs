//! Gradescope's `results.json`.
//!
//! Scoring: every exercise is worth [`POINTS_PER_EXERCISE`] points, split
//! evenly among its invariants; an invariant earns its share only if it
//! passed. An exercise that does not build, or that the submission lacks,
//! earns nothing and appears as one test worth the whole exercise. So the
//! score says how much of the course holds, not just how many exercises
//! passed outright.

use serde::Serialize;

use super::{exercise_text, invariant_text};
use crate::judge::verdict::{ExerciseResult, ExerciseStatus, InvariantStatus, Session};

/// What one exercise is worth.
pub const POINTS_PER_EXERCISE: f64 = 20.0;

#[derive(Serialize)]
struct Results {
    score: f64,
    max_score: f64,
    output: String,
    visibility: &'static str,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Whether an exercise is scored as a whole (nothing ran) rather than
/// invariant by invariant.
///
/// An exercise whose runs were cut short (interrupted) scores 0 as a
/// whole: the runs it did not make could have failed, and a score must
/// not reward stopping a session early.
fn scored_whole(e: &ExerciseResult) -> bool {
    matches!(
        e.status,
        ExerciseStatus::BuildFailed
            | ExerciseStatus::Refused
            | ExerciseStatus::Missing
            | ExerciseStatus::Interrupted
    ) || e.invariants.is_empty()
}

/// An exercise's score: its share of [`POINTS_PER_EXERCISE`] for each
/// invariant that passed, rounded to hundredths.
pub fn exercise_score(e: &ExerciseResult) -> f64 {
    if scored_whole(e) {
        return 0.0;
    }
    let share = POINTS_PER_EXERCISE / e.invariants.len() as f64;
    let passed = e
        .invariants
        .iter()
        .filter(|i| i.status == InvariantStatus::Passed)
        .count();
    round(share * passed as f64)
}

/// Renders the session as Gradescope results.
pub fn render(s: &Session) -> String {
    let mut tests = Vec::new();
    let mut score = 0.0;
    for e in &s.exercises {
        let prefix = format!("{:02} {}", e.number, e.slug);
        if scored_whole(e) {
            tests.push(Test {
                name: format!("{prefix}: builds and runs"),
                score: 0.0,
                max_score: POINTS_PER_EXERCISE,
                status: "failed",
                output: exercise_text(e),
            });
            continue;
        }
        let share = POINTS_PER_EXERCISE / e.invariants.len() as f64;
        for inv in &e.invariants {
            let passed = inv.status == InvariantStatus::Passed;
            if passed {
                score += share;
            }
            let mut output = format!("{} in {} runs", inv.rate(), e.mode.name());
            if let Some(text) = invariant_text(inv) {
                output.push('\n');
                output.push_str(&text);
            }
            tests.push(Test {
                name: format!("{prefix}: {}", inv.name),
                score: if passed { round(share) } else { 0.0 },
                max_score: round(share),
                status: if passed { "passed" } else { "failed" },
                output,
            });
        }
    }
    let max = POINTS_PER_EXERCISE * s.exercises.len() as f64;
    let mut output = format!(
        "{} of {} exercises passed ({} runs each, seed {}, {} CPUs).",
        s.passed_count(),
        s.exercises.len(),
        s.runs,
        s.seed,
        s.cpus
    );
    if s.interrupted {
        output.push_str(
            "\nThe grader was interrupted: these are the results of the runs that finished.",
        );
    }
    if !s.ignored_files.is_empty() {
        output.push_str(&format!(
            "\nIgnored from the submission (only each exercise's src/lib.rs is graded): {}",
            s.ignored_files.join(", ")
        ));
    }
    let results = Results {
        score: round(score),
        max_score: max,
        output,
        visibility: "visible",
        tests,
    };
    let mut text = serde_json::to_string_pretty(&results).unwrap_or_default();
    text.push('\n');
    text
}

//! Gradescope's `results.json`, as its autograder specification gives it
//! (gradescope-autograders.readthedocs.io, "Autograder Specifications").
//!
//! Scoring: every exercise is worth [`POINTS_PER_EXERCISE`] points, split
//! among its invariants in hundredths of a point, as evenly as hundredths
//! allow (20 among 3 is 6.67, 6.67 and 6.66), so that the tests' maxima
//! add up to the exercise's worth exactly, and the whole to the course's
//! maximum; an invariant earns its share only if it passed. An exercise
//! that does not build, or that the submission lacks, earns nothing and
//! appears as one test worth the whole exercise. So the score says how
//! much of the course holds, not just how many exercises passed outright.

use clap::ValueEnum;
use serde::Serialize;

use super::{exercise_text, invariant_text};
use crate::judge::verdict::{ExerciseResult, ExerciseStatus, InvariantStatus, Session};

/// What one exercise is worth.
pub const POINTS_PER_EXERCISE: f64 = 20.0;
/// The same, in hundredths: scores are added up in these, exactly.
const CENTS_PER_EXERCISE: u64 = 2000;

/// When students see the results (Gradescope's `visibility`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Visibility {
    /// At once, as soon as the submission is graded.
    #[default]
    Visible,
    /// After the assignment's due date.
    AfterDueDate,
    /// Once the instructor publishes the grades.
    AfterPublished,
    /// Never (instructors only).
    Hidden,
}

#[derive(Serialize)]
struct Results {
    score: f64,
    /// Not in Gradescope's specification (Gradescope adds up the tests'
    /// maxima itself); kept for the tools that read these files, such as
    /// an instructor's scripts.
    max_score: f64,
    execution_time: u64,
    output: String,
    output_format: &'static str,
    test_output_format: &'static str,
    test_name_format: &'static str,
    visibility: Visibility,
    stdout_visibility: Visibility,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    number: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
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

/// Each of `n` invariants' share of an exercise, in hundredths: equal
/// but for the remainder, one hundredth more to each of the first ones,
/// so that they add up to the exercise's worth.
fn shares(n: usize) -> Vec<u64> {
    let n = n.max(1) as u64;
    let (each, left) = (CENTS_PER_EXERCISE / n, CENTS_PER_EXERCISE % n);
    (0..n).map(|i| each + u64::from(i < left)).collect()
}

fn points(cents: u64) -> f64 {
    cents as f64 / 100.0
}

/// An exercise's score in hundredths: the shares of the invariants that
/// passed.
fn exercise_cents(e: &ExerciseResult) -> u64 {
    if scored_whole(e) {
        return 0;
    }
    e.invariants
        .iter()
        .zip(shares(e.invariants.len()))
        .filter(|(i, _)| i.status == InvariantStatus::Passed)
        .map(|(_, share)| share)
        .sum()
}

/// An exercise's score: its share of [`POINTS_PER_EXERCISE`] for each
/// invariant that passed.
pub fn exercise_score(e: &ExerciseResult) -> f64 {
    points(exercise_cents(e))
}

/// Renders the session as Gradescope results, visible at once.
pub fn render(s: &Session) -> String {
    render_with(s, Visibility::Visible)
}

/// Renders the session as Gradescope results that students see as
/// `visibility` says.
pub fn render_with(s: &Session, visibility: Visibility) -> String {
    let mut tests = Vec::new();
    let mut score = 0;
    for e in &s.exercises {
        let prefix = format!("{:02} {}", e.number, e.slug);
        if scored_whole(e) {
            tests.push(Test {
                name: format!("{prefix}: builds and runs"),
                number: format!("{}", e.number),
                score: 0.0,
                max_score: POINTS_PER_EXERCISE,
                status: "failed",
                output: exercise_text(e),
            });
            continue;
        }
        for (k, (inv, share)) in e
            .invariants
            .iter()
            .zip(shares(e.invariants.len()))
            .enumerate()
        {
            let passed = inv.status == InvariantStatus::Passed;
            if passed {
                score += share;
            }
            let mut output = format!("{} in {} runs", inv.rate(), e.mode.name());
            if let Some(text) = invariant_text(inv, e) {
                output.push('\n');
                output.push_str(&text);
            }
            tests.push(Test {
                name: format!("{prefix}: {}", inv.name),
                number: format!("{}.{}", e.number, k + 1),
                score: if passed { points(share) } else { 0.0 },
                max_score: points(share),
                status: if passed { "passed" } else { "failed" },
                output,
            });
        }
    }
    let max = points(CENTS_PER_EXERCISE * s.exercises.len() as u64);
    let how = match s.bound {
        Some(k) => format!(
            "every schedule with {} at each exercise's small sizes",
            super::at_most(k)
        ),
        None => format!("{} runs each, seed {}", s.runs, s.seed),
    };
    let mut output = format!(
        "{} of {} exercises passed ({how}, {} CPUs).",
        s.passed_count(),
        s.exercises.len(),
        s.cpus
    );
    for line in s
        .exercises
        .iter()
        .filter_map(|e| super::search_line(e).map(|l| format!("{:02} {}: {l}", e.number, e.slug)))
    {
        output.push('\n');
        output.push_str(&line);
    }
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
        score: points(score),
        max_score: max,
        execution_time: (s.elapsed_ms / 1000.0).ceil() as u64,
        output,
        output_format: "text",
        test_output_format: "text",
        test_name_format: "text",
        visibility,
        // What the grader printed while grading: for the instructor only.
        stdout_visibility: Visibility::Hidden,
        tests,
    };
    let mut text = serde_json::to_string_pretty(&results).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_exercise_exactly() {
        for n in 1..=12 {
            let s = shares(n);
            assert_eq!(s.len(), n);
            assert_eq!(s.iter().sum::<u64>(), CENTS_PER_EXERCISE, "{n}");
            assert!(
                s.iter().max().unwrap() - s.iter().min().unwrap() <= 1,
                "{s:?}"
            );
        }
        assert_eq!(shares(3), [667, 667, 666]);
    }
}

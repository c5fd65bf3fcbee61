//! `grader list`: the exercises, their lessons, where they live.

use std::fmt::Write;

use crate::catalog::EXERCISES;
use crate::course::Course;

/// The list, one exercise per line.
pub fn render(course: &Course) -> String {
    let mut out = String::new();
    let width = EXERCISES.iter().map(|e| e.slug.len()).max().unwrap_or(0);
    for e in EXERCISES {
        let _ = writeln!(
            out,
            "{:>2}  {:<width$}  {}  (exercises/{}, default mode {})",
            e.number,
            e.slug,
            e.lesson_title(&course.root),
            e.dir,
            e.default_mode.name()
        );
    }
    out
}

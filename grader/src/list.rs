//! `grader list`: the exercises, their lessons, and where the student
//! stands on each, from the last verdict saved under `target/` (see
//! [`status`](crate::student::status)).

use std::fmt::Write;

use crate::catalog::EXERCISES;
use crate::course::Course;
use crate::report::term::Paint;
use crate::student::status::{self, Standing};

/// The list, one exercise per line, then what to do next.
pub fn render(course: &Course, p: Paint) -> String {
    let mut out = String::new();
    let slug_width = EXERCISES.iter().map(|e| e.slug.len()).max().unwrap_or(0);
    let titles: Vec<String> = EXERCISES
        .iter()
        .map(|e| e.lesson_title(&course.root))
        .collect();
    let title_width = titles.iter().map(|t| t.chars().count()).max().unwrap_or(0);
    let mut next = None;
    for (e, title) in EXERCISES.iter().zip(&titles) {
        let st = status::status(course, e);
        let (mark, word) = match &st.standing {
            Standing::Passing => (p.green("✓"), p.green("passing")),
            Standing::Failing(_) => (p.red("✗"), p.red("failing")),
            Standing::NotStarted => (p.dim("·"), p.dim("not started")),
        };
        if st.standing != Standing::Passing && next.is_none() {
            next = Some(e);
        }
        let mut line = format!(
            "{mark} {:>2}  {:<slug_width$}  {}{}  {word}",
            e.number,
            e.slug,
            title,
            " ".repeat(title_width - title.chars().count()),
        );
        if let Standing::Failing(why) = &st.standing {
            let _ = write!(line, ": {}", crate::report::wrap::first_line(why, 70));
        }
        if st.edited_since {
            let _ = write!(line, " {}", p.dim("(edited since)"));
        }
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{}",
        p.dim(
            "Each status is the last verdict of `cargo grade` on your exercises/. \
             The lessons: exercises/NN-name/README.md."
        )
    );
    match next {
        Some(e) => {
            let _ = writeln!(
                out,
                "Next: {} (`cargo grade watch {}` grades it on every save; `cargo grade hint {}` gives a hint).",
                e.slug, e.number, e.number
            );
        }
        None => {
            let _ = writeln!(out, "Every exercise passes.");
        }
    }
    out
}

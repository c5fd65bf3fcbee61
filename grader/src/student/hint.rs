//! `grader hint EX`: the exercise's hints, one more each time.
//!
//! The lesson teaches; the hints help someone stuck on the exercise. They
//! are data beside it, `exercises/NN-name/hints.md`: a Markdown file in
//! which each `## ` heading starts one hint, from a nudge to the nearly
//! said. How many of them the student has seen is kept under the
//! course's target directory (`target/grader/hints.json`), so that each
//! call shows one more, with the ones before it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::catalog::Exercise;
use crate::cli::ExerciseArg;
use crate::course::Course;
use crate::report::term::{self, Paint};

/// The hint file's name, in each exercise's directory.
pub const HINTS_FILE: &str = "hints.md";

/// One hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// Its heading.
    pub title: String,
    /// Its text, Markdown, without the heading.
    pub body: String,
}

/// The hints of a hint file, in order: each `## ` heading starts one;
/// what comes before the first is the file's own introduction.
pub fn parse(text: &str) -> Vec<Hint> {
    let mut hints: Vec<Hint> = Vec::new();
    let mut fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        }
        match line.strip_prefix("## ").filter(|_| !fence) {
            Some(title) => hints.push(Hint {
                title: title.trim().to_string(),
                body: String::new(),
            }),
            None => {
                if let Some(h) = hints.last_mut() {
                    h.body.push_str(line);
                    h.body.push('\n');
                }
            }
        }
    }
    for h in &mut hints {
        h.body = h.body.trim_matches('\n').to_string();
    }
    hints
}

/// Where the count of hints shown is kept.
fn ledger(course: &Course) -> PathBuf {
    course.grader_dir().join("hints.json")
}

fn shown(path: &Path) -> BTreeMap<String, usize> {
    fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The hint file of an exercise.
pub fn hints_path(course: &Course, e: &Exercise) -> PathBuf {
    course.root.join("exercises").join(e.dir).join(HINTS_FILE)
}

/// `grader hint EX`.
pub fn hint_command(course: &Course, args: &ExerciseArg) -> ExitCode {
    let e = match super::find(&args.exercise) {
        Ok(e) => e,
        Err(msg) => {
            eprintln!("grader: {msg}");
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    let file = hints_path(course, e);
    let hints = match fs::read_to_string(&file) {
        Ok(text) => parse(&text),
        Err(err) => {
            eprintln!(
                "grader: {} has no hints ({}: {err}); its lesson is exercises/{}/README.md",
                e.slug,
                file.display(),
                e.dir
            );
            return ExitCode::from(crate::EXIT_FAILED);
        }
    };
    if hints.is_empty() {
        eprintln!(
            "grader: {} has no hints (no `## ` heading in {}); its lesson is exercises/{}/README.md",
            e.slug,
            file.display(),
            e.dir
        );
        return ExitCode::from(crate::EXIT_FAILED);
    }
    let path = ledger(course);
    let mut counts = shown(&path);
    let before = counts.get(e.slug).copied().unwrap_or(0).min(hints.len());
    let now = (before + 1).min(hints.len());
    counts.insert(e.slug.to_string(), now);
    let saved = serde_json::to_string_pretty(&counts)
        .map_err(std::io::Error::other)
        .and_then(|t| crate::batch::write_whole(&path, &(t + "\n")));
    if let Err(err) = saved {
        eprintln!(
            "grader: warning: cannot remember the hints shown ({}: {err}); the next call shows the same",
            path.display()
        );
    }
    let paint = Paint::new(term::stdout_color());
    print!("{}", render(e, &hints, now, before == now, paint));
    ExitCode::from(crate::EXIT_PASSED)
}

/// The first `now` hints of `e`, then what comes next; `again` when no
/// new hint was left to show.
pub fn render(e: &Exercise, hints: &[Hint], now: usize, again: bool, p: Paint) -> String {
    let mut out = String::new();
    for (i, h) in hints.iter().take(now).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{}",
            p.bold(&format!(
                "Hint {} of {} · {}: {}",
                i + 1,
                hints.len(),
                e.slug,
                h.title
            ))
        );
        out.push('\n');
        for line in h.body.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out.push('\n');
    let left = hints.len() - now;
    let next = if left > 0 {
        format!(
            "{left} more {}: `cargo grade hint {}` shows the next.",
            if left == 1 { "hint" } else { "hints" },
            e.number
        )
    } else if again {
        format!(
            "There are no more hints for {}. The lesson explains the rest: exercises/{}/README.md",
            e.slug, e.dir
        )
    } else {
        format!(
            "That was the last hint for {}. The lesson explains the rest: exercises/{}/README.md",
            e.slug, e.dir
        )
    };
    let _ = writeln!(out, "{}", p.dim(&next));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# Hints\n\nIntro, not a hint.\n\n## First\n\nLook at `x`.\n\n## Second\n\n```rust\n## not a heading\nlet y = 1;\n```\n";

    #[test]
    fn each_heading_starts_a_hint() {
        let hints = parse(FILE);
        assert_eq!(hints.len(), 2);
        assert_eq!(hints[0].title, "First");
        assert_eq!(hints[0].body, "Look at `x`.");
        assert!(hints[1].body.contains("## not a heading"));
    }

    #[test]
    fn every_exercise_has_hints() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for e in crate::catalog::EXERCISES {
            let file = root.join("exercises").join(e.dir).join(HINTS_FILE);
            let text =
                fs::read_to_string(&file).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
            let hints = parse(&text);
            assert!(hints.len() >= 2, "{}: {} hints", e.slug, hints.len());
            for h in &hints {
                assert!(
                    !h.title.is_empty() && !h.body.is_empty(),
                    "{}: {h:?}",
                    e.slug
                );
            }
        }
    }
}

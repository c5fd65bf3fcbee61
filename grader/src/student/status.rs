//! Where the student stands on each exercise: the last verdict of each,
//! saved after every grading of the course's own `exercises/`.
//!
//! One small JSON file per exercise, `target/grader/status/NN-name.json`
//! (its fields are in `grader/SCHEMA.md`), written whole after the
//! exercise is graded. It is the student's own record, for `list` and
//! `watch`: grading the solutions or another checkout does not touch it,
//! and an exercise cut short by Ctrl-C keeps the verdict it had.

use std::fs;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::build::stage::STUDENT_FILE;
use crate::catalog::{Exercise, EXERCISES};
use crate::course::Course;
use crate::judge::verdict::{ExerciseResult, ExerciseStatus};

/// One exercise's last verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// The exercise's slug.
    pub exercise: String,
    /// Its status, as the JSON report names it (`passed`, `failed`,
    /// `build-failed`, `refused`, `missing`).
    pub status: String,
    /// Why it did not pass, in one line.
    pub headline: Option<String>,
    /// The runs made.
    pub runs: usize,
    /// The seed of the first run.
    pub seed: u64,
    /// When it was graded, in seconds since 1970.
    pub graded_at: u64,
    /// The student's file's modification time when grading started, in
    /// nanoseconds since 1970: a file modified since then was not graded
    /// as it is now.
    pub file_modified: Option<u128>,
}

/// Where the student stands on an exercise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Never graded.
    NotStarted,
    /// The last grading found this wrong (its headline).
    Failing(String),
    /// The last grading passed.
    Passing,
}

/// An exercise's standing, and whether its file changed since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub standing: Standing,
    /// The file was edited after it was last graded.
    pub edited_since: bool,
}

fn dir(course: &Course) -> PathBuf {
    course.grader_dir().join("status")
}

fn path(course: &Course, e: &Exercise) -> PathBuf {
    dir(course).join(format!("{}.json", e.dir))
}

/// The student's file of an exercise.
pub fn student_file(course: &Course, e: &Exercise) -> PathBuf {
    course.root.join("exercises").join(e.dir).join(STUDENT_FILE)
}

/// The student's file's modification time, in nanoseconds since 1970.
pub fn file_stamp(course: &Course, e: &Exercise) -> Option<u128> {
    let modified = fs::metadata(student_file(course, e))
        .ok()?
        .modified()
        .ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_nanos())
}

/// Saves the verdict of `r`, graded from a file last modified at
/// `stamp`. A verdict cut short is not one: it is not saved.
pub fn save(course: &Course, r: &ExerciseResult, seed: u64, stamp: Option<u128>) {
    if r.status == ExerciseStatus::Interrupted {
        return;
    }
    let Some(e) = EXERCISES.iter().find(|e| e.number == r.number) else {
        return;
    };
    let saved = Saved {
        exercise: r.slug.to_string(),
        status: serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "failed".into()),
        headline: r.headline.clone(),
        runs: r.runs,
        seed,
        graded_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        file_modified: stamp,
    };
    let Ok(text) = serde_json::to_string_pretty(&saved) else {
        return;
    };
    // A status that cannot be saved costs the list its column, not the
    // grading: say so, and go on.
    if let Err(err) = crate::batch::write_whole(&path(course, e), &(text + "\n")) {
        eprintln!(
            "grader: warning: cannot save the status of {} under {}: {err}",
            e.slug,
            dir(course).display()
        );
    }
}

/// Forgets an exercise's verdict (its file was reset).
pub fn forget(course: &Course, e: &Exercise) {
    let _ = fs::remove_file(path(course, e));
}

/// The saved verdict of an exercise, if any.
pub fn load(course: &Course, e: &Exercise) -> Option<Saved> {
    let text = fs::read_to_string(path(course, e)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Where the student stands on `e`.
pub fn status(course: &Course, e: &Exercise) -> Status {
    let Some(saved) = load(course, e) else {
        return Status {
            standing: Standing::NotStarted,
            edited_since: false,
        };
    };
    let standing = if saved.status == "passed" {
        Standing::Passing
    } else {
        Standing::Failing(saved.headline.unwrap_or_else(|| saved.status.clone()))
    };
    Status {
        standing,
        edited_since: saved.file_modified.is_some() && saved.file_modified != file_stamp(course, e),
    }
}

/// The first exercise not passing yet (the first one when all pass).
pub fn first_not_passing(course: &Course) -> &'static Exercise {
    EXERCISES
        .iter()
        .find(|e| status(course, e).standing != Standing::Passing)
        .unwrap_or(&EXERCISES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_file_reads_back() {
        let saved = Saved {
            exercise: "locked-bank".into(),
            status: "failed".into(),
            headline: Some("final = start: broken in 3/20 runs".into()),
            runs: 20,
            seed: 7,
            graded_at: 1,
            file_modified: Some(2),
        };
        let text = serde_json::to_string(&saved).unwrap();
        assert_eq!(serde_json::from_str::<Saved>(&text).unwrap(), saved);
    }
}

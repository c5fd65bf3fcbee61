//! The student's loop around grading: `watch`, `hint`, `reset`.

use std::process::ExitCode;

use crate::cli::{ExerciseArg, ResetArgs, WatchArgs};
use crate::course::Course;

/// `grader watch`: grades the exercise again on every save.
pub fn watch_command(_course: &Course, _args: &WatchArgs) -> ExitCode {
    eprintln!("grader: watch is not available yet");
    ExitCode::from(2)
}

/// `grader hint EX`: the next hint of an exercise.
pub fn hint_command(_course: &Course, _args: &ExerciseArg) -> ExitCode {
    eprintln!("grader: hint is not available yet");
    ExitCode::from(2)
}

/// `grader reset EX`: the exercise's file as it was given.
pub fn reset_command(_course: &Course, _args: &ResetArgs) -> ExitCode {
    eprintln!("grader: reset is not available yet");
    ExitCode::from(2)
}

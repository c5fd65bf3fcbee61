//! The instructor's commands besides grading: `merge` and `export-student`.

use std::process::ExitCode;

use crate::cli::{ExportArgs, MergeArgs};
use crate::course::Course;

/// `grader merge PART... --output DIR`: one class table from the parts.
pub fn merge_command(_args: &MergeArgs) -> ExitCode {
    eprintln!("grader: merge is not available yet");
    ExitCode::from(2)
}

/// `grader export-student DIR`: the course as students get it.
pub fn export_command(_course: &Course, _args: &ExportArgs) -> ExitCode {
    eprintln!("grader: export-student is not available yet");
    ExitCode::from(2)
}

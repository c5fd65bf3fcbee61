//! The instructor's commands besides grading: `merge` and `export-student`.

mod export;
mod merge;
mod scrub;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{ExportArgs, MergeArgs};
use crate::course::Course;

/// Joined, and every student graded.
const EXIT_OK: u8 = 0;
/// Joined, but the grader failed on some student (their row says so).
const EXIT_SOME_FAILED: u8 = 1;
/// Refused: the parts or the arguments are wrong; the message says how.
const EXIT_REFUSED: u8 = 2;

/// `grader merge PART... --output DIR`: one class table from the parts.
pub fn merge_command(args: &MergeArgs) -> ExitCode {
    let merged = match merge::merge(&args.parts, &args.output) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("grader: merge refused: {e}");
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    print_whole(&format!(
        "Joined {} part{}: {} student{}; class table: {}\n",
        merged.parts,
        if merged.parts == 1 { "" } else { "s" },
        merged.students,
        if merged.students == 1 { "" } else { "s" },
        args.output.join(crate::batch::CLASS_TABLE).display()
    ));
    if !merged.grader_failed.is_empty() {
        eprintln!(
            "grader: could not grade some submissions: {}",
            merged.grader_failed.join(", ")
        );
        return ExitCode::from(EXIT_SOME_FAILED);
    }
    ExitCode::from(EXIT_OK)
}

/// `grader export-student DIR`: the course as students get it.
pub fn export_command(course: &Course, args: &ExportArgs) -> ExitCode {
    let from = args.from.as_deref().unwrap_or(&course.root);
    let done = match export::export(from, &args.dir) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("grader: export-student: {e}");
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    if let Some(why) = &done.unchecked {
        eprintln!("grader: warning: the edition was not loaded with cargo to check it: {why}");
    }
    print_whole(&summary(from, &args.dir, &done));
    ExitCode::from(EXIT_OK)
}

/// What an export wrote and left out, for the instructor to review.
fn summary(from: &Path, to: &Path, done: &export::Exported) -> String {
    let mut out = format!(
        "Wrote the student edition of {} to {}: {} files.\nLeft out:\n",
        from.display(),
        to.display(),
        done.files
    );
    for what in &done.left_out {
        let _ = writeln!(out, "  {what}");
    }
    for (file, lines) in &done.renamed {
        let _ = writeln!(
            out,
            "{}: a solution's package renamed to the exercise's (line {})",
            file.display(),
            join_numbers(lines)
        );
    }
    for (file, dropped) in &done.dropped {
        let _ = writeln!(
            out,
            "{}: left out (written for instructors, or naming what students do not get):",
            file.display()
        );
        for d in dropped {
            let _ = writeln!(out, "  line {}: {}", d.line, shorten(&d.what, 90));
        }
    }
    let _ = writeln!(
        out,
        "Make a new repository from it (the course's history holds the solutions), \
         and check it: cd {} && cargo grade 1",
        to.display()
    );
    out
}

/// Prints to standard output, quietly giving up if it is closed (piped
/// into `head`, say): the work is done either way.
fn print_whole(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn join_numbers(lines: &[usize]) -> String {
    lines
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

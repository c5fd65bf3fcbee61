//! Nothing left behind, even by a grader that was killed.
//!
//! A grader's processes are all in boxes, and a box ends with its init,
//! which ends with the grader (a parent-death signal): a killed grader
//! leaves no process. What it can leave is a temporary directory and
//! empty control groups. Each carries the grader's pid in its name
//! (`grader-PID-...`, `course-grader-PID-...`), and every grader, when it
//! starts, removes those whose grader is no longer running.

use std::fs;
use std::io;
use std::path::Path;

use super::cgroup;

/// The prefix of a grader's temporary directory; its pid follows.
const TEMP_PREFIX: &str = "grader-";

/// A temporary directory for this grader, named so that [`sweep`] can
/// tell whose it is.
pub fn temp_dir() -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
        .tempdir()
}

/// Removes what graders that are no longer running left behind: their
/// temporary directories and control groups. Returns how many it removed.
pub fn sweep() -> usize {
    let mut removed = cgroup::sweep();
    let tmp = std::env::temp_dir();
    let Ok(entries) = fs::read_dir(&tmp) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(TEMP_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() as i32 || is_grader(owner) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) && fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether `pid` is a running grader.
pub fn is_grader(pid: i32) -> bool {
    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split(|&b| b == 0)
            .next()
            .and_then(|argv0| {
                Path::new(std::str::from_utf8(argv0).ok()?)
                    .file_name()
                    .map(|n| n.to_os_string())
            })
            .is_some_and(|n| n.to_string_lossy().starts_with("grader"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temporary_directory_of_a_dead_grader_is_swept_and_a_live_ones_is_not() {
        let mine = temp_dir().unwrap();
        // A pid that is no grader: this test's own parent is cargo.
        let dead = std::env::temp_dir().join(format!("{TEMP_PREFIX}999999999-test"));
        fs::create_dir_all(dead.join("bin")).unwrap();
        sweep();
        assert!(!dead.exists(), "the dead grader's directory is gone");
        assert!(mine.path().exists(), "this grader's own directory stays");
    }
}

//! Helpers shared by the tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use boundary::{check, course_policy, Verdict};

/// The course's repository (this crate is `grader/boundary` in it).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `src/lib.rs` of every directory matching `pattern/*` under the
/// repository, `*` standing for one directory name at each place it occurs.
pub fn files(pattern: &str) -> Vec<PathBuf> {
    let mut found = vec![repo()];
    for part in pattern.split('/') {
        let mut next = Vec::new();
        for dir in found {
            if part == "*" {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    if entry.path().is_dir() {
                        next.push(entry.path());
                    }
                }
            } else {
                next.push(dir.join(part));
            }
        }
        found = next;
    }
    let mut files: Vec<PathBuf> = found.into_iter().filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// The verdict on `source` under the course's policy.
pub fn verdict(source: &str) -> Verdict {
    check("src/lib.rs", source, &course_policy())
}

/// Panics, listing the refusals, unless `source` is accepted.
pub fn assert_accepted(label: &str, source: &str) {
    let v = verdict(source);
    assert!(v.is_accepted(), "{label} was refused:\n{v}");
}

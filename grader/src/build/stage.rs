//! Staging a submission: the course, pristine, with only the student's
//! files taken from the submission.
//!
//! A submission could otherwise change what is measured: edit a scenario
//! driver, the runtime, a `Cargo.toml` (a new dependency, a build script).
//! So the grader builds a copy of *this* course in which only each
//! exercise's `src/lib.rs` comes from the submission. Everything else the
//! submission brings is ignored, and named in the report so nobody wonders
//! why their edit to the runtime made no difference.
//!
//! The copy lives in the course's target directory and is reused: files
//! are rewritten only when their content changed, so cargo's fingerprints
//! (which look at modification times) rebuild only what differs. A lock
//! file keeps two graders from staging into it at once.
//!
//! A grading session uses the copy named `stage`; batch grading gives each
//! of its parallel jobs a copy of its own (`batch-1`, `batch-2`, ...), so
//! that submissions are built in isolation and each copy's builds stay
//! incremental from one student to the next. A new copy is seeded from a
//! built one ([`seed`]), sources and target directory with their
//! modification times, so that cargo finds it already built.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::catalog::Exercise;
use crate::course::Course;

/// The student's file in each exercise.
pub const STUDENT_FILE: &str = "src/lib.rs";
/// Largest student file taken (bytes).
const MAX_STUDENT_FILE: u64 = 1 << 20;
/// How many files of a submission are looked at before giving up listing.
const MAX_WALK: usize = 20_000;

/// A staged copy of the course holding a submission's files.
#[derive(Debug)]
pub struct Staged {
    /// The copy's workspace root.
    pub root: PathBuf,
    /// Where its builds go.
    pub target_dir: PathBuf,
    /// For each exercise slug: `Ok(path in the submission)` when its file
    /// was taken, `Err(why not)` otherwise.
    pub taken: Vec<(&'static str, Result<String, String>)>,
    /// Files of the submission that were not used, with why.
    pub ignored: Vec<String>,
    /// Held while the copy is being built; see [`Staged::unlock`].
    lock: Option<Flock<File>>,
}

impl Staged {
    /// Lets other graders stage into the copy again: call it once every
    /// program is built and copied out of it.
    pub fn unlock(&mut self) {
        self.lock = None;
    }
}

/// The copy a grading session uses.
pub const DEFAULT_STAGE: &str = "stage";

/// Takes the lock of the copy named `name`, waiting for another grader
/// that holds it.
fn lock(base: &Path, name: &str) -> io::Result<Flock<File>> {
    fs::create_dir_all(base)?;
    let lock_file = File::create(base.join(format!("{name}.lock")))?;
    Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))
}

/// Stages `submission` over a pristine copy of `course`, in the copy
/// named `name` (see the module's documentation).
pub fn stage(
    course: &Course,
    name: &str,
    submission: &Path,
    exercises: &[&'static Exercise],
) -> io::Result<Staged> {
    let base = course.grader_dir();
    let lock = lock(&base, name)?;
    let root = base.join(name);
    let target_dir = root.join("target");
    sync_tree(&course.root, &root, &course.target_dir)?;

    let exercises_dir = submission_exercises(submission);
    let mut taken = Vec::new();
    let mut used = BTreeSet::new();
    for e in exercises {
        let rel = format!("exercises/{}/{STUDENT_FILE}", e.dir);
        let from = exercises_dir.join(e.dir).join(STUDENT_FILE);
        let shown = from
            .strip_prefix(submission)
            .unwrap_or(&from)
            .display()
            .to_string();
        let result = match fs::symlink_metadata(&from) {
            Ok(m) if m.file_type().is_symlink() => {
                Err(format!("{shown} is a symbolic link; not followed"))
            }
            Ok(m) if !m.is_file() => Err(format!("{shown} is not a file")),
            Ok(m) if m.len() > MAX_STUDENT_FILE => Err(format!("{shown} is larger than 1 MiB")),
            Ok(_) => copy_if_changed(&from, &root.join(&rel))
                .map(|_| shown.clone())
                .map_err(|err| format!("{shown}: {err}")),
            Err(_) => Err(format!("the submission has no {shown}")),
        };
        if result.is_ok() {
            used.insert(from.clone());
        }
        taken.push((e.slug, result));
    }
    let ignored = ignored_files(submission, &course.root, &used);
    Ok(Staged {
        root,
        target_dir,
        taken,
        ignored,
        lock: Some(lock),
    })
}

/// Makes the copy named `name` a pristine copy of the course (its stubs
/// included) and returns its manifest, for a build of the course's own
/// crates before any submission is staged there.
pub fn pristine(course: &Course, name: &str) -> io::Result<PathBuf> {
    let base = course.grader_dir();
    let _lock = lock(&base, name)?;
    let root = base.join(name);
    sync_tree(&course.root, &root, &course.target_dir)?;
    Ok(root.join("Cargo.toml"))
}

/// Whether the copy named `name` has been built.
pub fn is_built(course: &Course, name: &str) -> bool {
    course
        .grader_dir()
        .join(name)
        .join("target")
        .join("release")
        .is_dir()
}

/// Makes the copy named `name`, if there is none yet, from a copy that
/// has been built (`donors`, the first that has a target directory), so
/// that its first build is incremental too. Returns whether it copied.
pub fn seed(course: &Course, name: &str, donors: &[&str]) -> io::Result<bool> {
    let base = course.grader_dir();
    let root = base.join(name);
    if root.exists() {
        return Ok(false);
    }
    for donor in donors.iter().filter(|d| **d != name) {
        if !is_built(course, donor) {
            continue;
        }
        let from = base.join(donor);
        let _donor_lock = lock(&base, donor)?;
        let _lock = lock(&base, name)?;
        if root.exists() {
            return Ok(false);
        }
        let partial = base.join(format!("{name}.partial"));
        let _ = fs::remove_dir_all(&partial);
        copy_tree(&from, &partial)?;
        fs::rename(&partial, &root)?;
        return Ok(true);
    }
    Ok(false)
}

/// Copies a directory tree, keeping each file's modification time (cargo
/// decides what to rebuild by them).
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &dest)?;
            let modified = entry.metadata()?.modified()?;
            File::options()
                .write(true)
                .open(&dest)?
                .set_modified(modified)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &dest)?;
        }
    }
    Ok(())
}

/// A submission is a checkout of the course, or just its `exercises/`.
fn submission_exercises(submission: &Path) -> PathBuf {
    let nested = submission.join("exercises");
    if nested.is_dir() {
        nested
    } else {
        submission.to_path_buf()
    }
}

/// Whether a directory entry at `rel` (relative to a checkout's root) is
/// part of the course's sources, as opposed to build output or VCS data.
fn is_source(rel: &Path, name: &str, is_dir: bool) -> bool {
    let top = rel.components().count() == 1;
    if is_dir && (name == ".git" || name == "target" || (top && name.starts_with("target-"))) {
        return false;
    }
    !(name.starts_with('.') && name != ".cargo" && name != ".ci")
}

/// Makes `to` a copy of the sources under `from`, touching only what
/// changed and removing what is gone.
fn sync_tree(from: &Path, to: &Path, skip: &Path) -> io::Result<()> {
    let mut wanted = BTreeSet::new();
    walk(from, skip, &mut |rel, path| {
        wanted.insert(rel.to_path_buf());
        copy_if_changed(path, &to.join(rel)).map(|_| ())
    })?;
    let mut stale = Vec::new();
    walk(to, &to.join("target"), &mut |rel, path| {
        if !wanted.contains(rel) {
            stale.push(path.to_path_buf());
        }
        Ok(())
    })?;
    for path in stale {
        fs::remove_file(path)?;
    }
    Ok(())
}

/// Calls `f(relative path, path)` for every source file under `root`.
fn walk(
    root: &Path,
    skip: &Path,
    f: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let mut dirs = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if path == skip || !is_source(&rel, &name, kind.is_dir()) {
                continue;
            }
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                seen += 1;
                if seen > MAX_WALK {
                    return Ok(());
                }
                f(&rel, &path)?;
            }
        }
    }
    Ok(())
}

/// Copies `from` to `to` unless `to` already has the same bytes; returns
/// whether it wrote.
fn copy_if_changed(from: &Path, to: &Path) -> io::Result<bool> {
    let new = fs::read(from)?;
    if fs::read(to).is_ok_and(|old| old == new) {
        return Ok(false);
    }
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(to, new)?;
    Ok(true)
}

/// The submission's files that were not taken and are not identical to
/// the course's, as "path (why)".
fn ignored_files(submission: &Path, course: &Path, used: &BTreeSet<PathBuf>) -> Vec<String> {
    let mut ignored = Vec::new();
    let exercises_only = !submission.join("exercises").is_dir();
    let _ = walk(submission, Path::new(""), &mut |rel, path| {
        if used.contains(path) {
            return Ok(());
        }
        let in_course = if exercises_only {
            Path::new("exercises").join(rel)
        } else {
            rel.to_path_buf()
        };
        let note = match (fs::read(course.join(&in_course)), fs::read(path)) {
            (Ok(a), Ok(b)) if a == b => return Ok(()),
            (Ok(_), _) => "differs from the course's; the course's is used",
            (Err(_), _) => "not part of the course",
        };
        ignored.push(format!("{} ({note})", rel.display()));
        Ok(())
    });
    ignored.sort();
    ignored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_vcs_data_are_not_sources() {
        assert!(!is_source(Path::new("target"), "target", true));
        assert!(!is_source(Path::new("target-gr"), "target-gr", true));
        assert!(!is_source(Path::new(".git"), ".git", true));
        assert!(is_source(Path::new(".cargo"), ".cargo", true));
        assert!(is_source(
            Path::new("exercises/03-locked-bank/src"),
            "src",
            true
        ));
        assert!(is_source(
            Path::new("tests/target-notes.md"),
            "target-notes.md",
            false
        ));
    }

    #[test]
    fn a_copied_tree_keeps_its_modification_times() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        fs::create_dir_all(from.join("target/.fingerprint")).unwrap();
        fs::write(from.join("target/.fingerprint/a"), "x").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        File::options()
            .write(true)
            .open(from.join("target/.fingerprint/a"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        copy_tree(&from, &to).unwrap();
        let copied = to.join("target/.fingerprint/a");
        assert_eq!(fs::read_to_string(&copied).unwrap(), "x");
        assert_eq!(fs::metadata(&copied).unwrap().modified().unwrap(), old);
    }

    #[test]
    fn copies_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("sub/b"));
        fs::write(&a, "one").unwrap();
        assert!(copy_if_changed(&a, &b).unwrap());
        assert!(!copy_if_changed(&a, &b).unwrap());
        fs::write(&a, "two").unwrap();
        assert!(copy_if_changed(&a, &b).unwrap());
        assert_eq!(fs::read_to_string(&b).unwrap(), "two");
    }
}

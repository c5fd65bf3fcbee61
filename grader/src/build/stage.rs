//! Staging: the course, pristine, with only the student's files taken
//! from the submission.
//!
//! A submission could otherwise change what is measured: edit a scenario
//! driver, the runtime, a `Cargo.toml` (a new dependency, a build script),
//! or reach files it should not (`#[path]` to a reference solution). So
//! every grading (a submission, the student's own checkout, the reference
//! solutions) builds a copy of *this* course in which only each exercise's
//! `src/lib.rs` comes from what is graded. The copy holds the crates the
//! exercises need and nothing else: no `solutions/`, no `tests/` (their
//! fixtures are near-solutions), no grader, no instructors' files. Its
//! `Cargo.toml` is written for it: those crates, with overflow checks on
//! (an underflow is a panic at the student's line, not a wrapped number).
//!
//! Everything the submission brings besides its files is ignored, and
//! named in the report. The submission is read without following links
//! (in any component of a path) and with a cap on every read, so neither
//! a link to another student's folder nor a 2 GiB file does anything.
//!
//! The copy lives in the course's target directory and is reused: files
//! are rewritten only when their content changed, so cargo's fingerprints
//! (which look at modification times) rebuild only what differs. A lock
//! file keeps two graders from staging into it at once. Batch grading
//! gives each of its parallel jobs a copy of its own (`batch-1`, ...); a
//! new copy is seeded from a built one ([`seed`]).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;

use crate::catalog::{Exercise, EXERCISES};
use crate::course::Course;

/// The student's file in each exercise.
pub const STUDENT_FILE: &str = "src/lib.rs";
/// Largest student file taken (bytes).
pub const MAX_STUDENT_FILE: u64 = 1 << 20;
/// How many files of a submission are looked at before giving up listing.
const MAX_WALK: usize = 20_000;
/// Largest submission file compared with the course's when listing
/// ignored files; a larger one is only compared by size.
const MAX_COMPARED: u64 = 1 << 20;
/// The course's own crates a staged copy holds, besides the exercises.
const COURSE_CRATES: [&str; 3] = ["multiproc", "report", "scenarios"];

/// What is graded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submission {
    /// A checkout of the course, or just its `exercises/` folder, or
    /// either inside one extra folder (a zip of the repository).
    Checkout(PathBuf),
    /// The reference solutions, `solutions/*/src/lib.rs` of the course.
    Solutions,
}

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
    /// Notes on where the files were found ("found in course-main/").
    pub notes: Vec<String>,
    /// Whether the course's own crates are known to be built here.
    pub warmth: Warmth,
    /// Held while the copy is being built; see [`Staged::unlock`].
    lock: Option<Flock<File>>,
}

/// Whether a staged copy's lock file is settled and the course's own
/// crates are built, as the last warm-up left them.
///
/// Each build is a cargo run of its own, and even one with nothing to do
/// costs tens of milliseconds; a student who grades one exercise after
/// each edit pays for every one. The warm-up (settle the lock file, build
/// the course's shared crates) is needed only when something of the
/// course's changed since it last succeeded, so a mark beside the copy
/// (out of every box's reach) holds the digest of what it succeeded with.
/// A wrong mark costs nothing but time: an exercise's build that fails
/// after a skipped warm-up warms up and builds again.
#[derive(Debug)]
pub struct Warmth {
    /// The mark matches the course as staged now: no warm-up needed.
    pub warm: bool,
    mark: PathBuf,
    digest: u64,
}

impl Warmth {
    /// Records a successful warm-up of the course as staged now.
    pub fn record(&mut self) {
        self.warm = fs::write(&self.mark, self.digest.to_string()).is_ok();
    }

    /// Forgets it (a build failed after a skipped warm-up).
    pub fn forget(&mut self) {
        let _ = fs::remove_file(&self.mark);
        self.warm = false;
    }
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
    submission: &Submission,
    exercises: &[&'static Exercise],
) -> io::Result<Staged> {
    let base = course.grader_dir();
    let lock = lock(&base, name)?;
    let root = base.join(name);
    let target_dir = root.join("target");
    let mark = base.join(format!("{name}.warm"));
    let settled = fs::read_to_string(&mark)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    let digest = sync_course(&course.root, &root, settled)?;
    let warmth = Warmth {
        warm: settled == Some(digest) && target_dir.join("release").is_dir(),
        mark,
        digest,
    };
    let mut notes = Vec::new();
    let (from_root, exercises_rel) = match submission {
        Submission::Solutions => (course.root.join("solutions"), PathBuf::new()),
        Submission::Checkout(dir) => {
            let (rel, note) = locate_exercises(dir);
            notes.extend(note);
            (dir.clone(), rel)
        }
    };
    let mut taken = Vec::new();
    let mut used = BTreeSet::new();
    for e in exercises {
        let rel = exercises_rel.join(e.dir).join(STUDENT_FILE);
        let shown = rel.display().to_string();
        let dest = root.join("exercises").join(e.dir).join(STUDENT_FILE);
        let result = read_capped(&from_root, &rel, MAX_STUDENT_FILE)
            .and_then(|bytes| write_if_changed(&dest, &bytes).map_err(|e| e.to_string()))
            .map(|_| shown.clone())
            .map_err(|why| format!("{shown}: {why}"));
        if result.is_ok() {
            used.insert(rel);
        }
        taken.push((e.slug, result));
    }
    let ignored = match submission {
        Submission::Checkout(dir) if dir != &course.root => {
            ignored_files(dir, &exercises_rel, &course.root, &used)
        }
        _ => Vec::new(),
    };
    Ok(Staged {
        root,
        target_dir,
        taken,
        ignored,
        notes,
        warmth,
        lock: Some(lock),
    })
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

/// Where the exercises are in a submission, relative to it: `exercises/`
/// of a checkout, the folder itself when it holds the exercise folders,
/// or either of those inside one extra folder (a zip with its top
/// folder), which is said in a note.
fn locate_exercises(dir: &Path) -> (PathBuf, Option<String>) {
    let holds_exercises = |d: &Path| EXERCISES.iter().any(|e| is_real_dir(&d.join(e.dir)));
    if is_real_dir(&dir.join("exercises")) {
        return (PathBuf::from("exercises"), None);
    }
    if holds_exercises(dir) {
        return (PathBuf::new(), None);
    }
    let subdirs: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| PathBuf::from(e.file_name()))
                .collect()
        })
        .unwrap_or_default();
    if let [only] = subdirs.as_slice() {
        let inner = dir.join(only);
        let note = Some(format!(
            "the submission's files were found inside its one folder `{}/`",
            only.display()
        ));
        if is_real_dir(&inner.join("exercises")) {
            return (only.join("exercises"), note);
        }
        if holds_exercises(&inner) {
            return (only.clone(), note);
        }
    }
    (PathBuf::from("exercises"), None)
}

/// A directory, and not a link to one.
fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Reads `base`/`rel` without following a link in any component of
/// `rel`, and at most `cap` bytes; says why not in words.
pub fn read_capped(base: &Path, rel: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let open = |dir: Option<&OwnedFd>, name: &OsStr, flags: OFlag| -> nix::Result<OwnedFd> {
        let at = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
        let fd = nix::fcntl::openat(
            // SAFETY: `at` is AT_FDCWD or a descriptor we own, alive here.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(at) },
            name,
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(fd)
    };
    let mut dir = open(None, base.as_os_str(), OFlag::O_DIRECTORY | OFlag::O_RDONLY)
        .map_err(|e| format!("cannot open the submission: {e}"))?;
    let parts: Vec<&OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p),
            _ => None,
        })
        .collect();
    let Some((file, dirs)) = parts.split_last() else {
        return Err("not a file".into());
    };
    let mut walked = PathBuf::new();
    for part in dirs {
        walked.push(part);
        dir =
            open(Some(&dir), part, OFlag::O_DIRECTORY | OFlag::O_RDONLY).map_err(|e| match e {
                nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR if is_link(base, &walked) => {
                    format!(
                        "`{}` is a symbolic link; links are not followed",
                        walked.display()
                    )
                }
                nix::errno::Errno::ENOENT => "the submission has no such file".to_string(),
                e => format!("cannot open `{}`: {e}", walked.display()),
            })?;
    }
    walked.push(file);
    let fd = open(Some(&dir), file, OFlag::O_RDONLY | OFlag::O_NONBLOCK).map_err(|e| match e {
        nix::errno::Errno::ELOOP => "it is a symbolic link; links are not followed".to_string(),
        nix::errno::Errno::ENOENT => "the submission has no such file".to_string(),
        e => format!("cannot open it: {e}"),
    })?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > cap {
        return Err(format!("larger than {} KiB", cap >> 10));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > cap {
        return Err(format!("larger than {} KiB", cap >> 10));
    }
    Ok(bytes)
}

fn is_link(base: &Path, rel: &Path) -> bool {
    fs::symlink_metadata(base.join(rel)).is_ok_and(|m| m.file_type().is_symlink())
}

/// Makes `to` a copy of the course's crates that the exercises need, and
/// writes its manifest (see the module docs); removes what is gone.
///
/// Returns a digest of everything of the course's it holds (every file
/// but the students', the manifest and the lock file), for [`Warmth`].
/// The lock file is copied unless `settled` is this digest: then the copy
/// already holds the lock file that the last warm-up settled from the
/// same one.
fn sync_course(course: &Path, to: &Path, settled: Option<u64>) -> io::Result<u64> {
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    let mut wanted = BTreeSet::new();
    let roots: Vec<PathBuf> = COURSE_CRATES
        .iter()
        .map(PathBuf::from)
        .chain(std::iter::once(PathBuf::from("exercises")))
        .collect();
    for top in &roots {
        walk(&course.join(top), &mut |rel, path| {
            let rel = top.join(rel);
            // The student's own files are the submission's to give.
            if rel.starts_with("exercises") && rel.ends_with(STUDENT_FILE) && to.join(&rel).exists()
            {
                wanted.insert(rel);
                return Ok(());
            }
            let bytes = fs::read(path)?;
            (&rel, &bytes).hash(&mut digest);
            wanted.insert(rel.clone());
            write_if_changed(&to.join(rel), &bytes).map(|_| ())
        })?;
    }
    let manifest = manifest(course)?;
    manifest.hash(&mut digest);
    let lock = fs::read(course.join("Cargo.lock"))?;
    lock.hash(&mut digest);
    let digest = digest.finish();
    wanted.insert(PathBuf::from("Cargo.lock"));
    if settled != Some(digest) || !to.join("Cargo.lock").is_file() {
        write_if_changed(&to.join("Cargo.lock"), &lock)?;
    }
    wanted.insert(PathBuf::from("Cargo.toml"));
    write_if_changed(&to.join("Cargo.toml"), manifest.as_bytes())?;
    let mut stale = Vec::new();
    walk(to, &mut |rel, path| {
        if !rel.starts_with("target") && !wanted.contains(rel) {
            stale.push(path.to_path_buf());
        }
        Ok(())
    })?;
    for path in stale {
        fs::remove_file(path)?;
    }
    Ok(digest)
}

/// The staged copy's manifest: the course's workspace settings, its
/// course crates and exercises as members, overflow checks on.
fn manifest(course: &Path) -> io::Result<String> {
    let text = fs::read_to_string(course.join("Cargo.toml"))?;
    let mut doc: toml::Table = text.parse().map_err(io::Error::other)?;
    let workspace = doc
        .remove("workspace")
        .and_then(|w| w.as_table().cloned())
        .ok_or_else(|| io::Error::other("the course's Cargo.toml has no [workspace]"))?;
    let mut members: Vec<toml::Value> = COURSE_CRATES
        .iter()
        .map(|c| toml::Value::from(*c))
        .collect();
    members.extend(
        EXERCISES
            .iter()
            .map(|e| toml::Value::from(format!("exercises/{}", e.dir))),
    );
    let mut ws = toml::Table::new();
    ws.insert("resolver".into(), "2".into());
    ws.insert("members".into(), toml::Value::Array(members));
    for key in ["package", "dependencies", "lints"] {
        if let Some(v) = workspace.get(key) {
            ws.insert(key.into(), v.clone());
        }
    }
    let mut out = toml::Table::new();
    out.insert("workspace".into(), toml::Value::Table(ws));
    let mut release = toml::Table::new();
    release.insert("debug".into(), 1.into());
    release.insert("overflow-checks".into(), true.into());
    let mut profile = toml::Table::new();
    profile.insert("release".into(), toml::Value::Table(release));
    out.insert("profile".into(), toml::Value::Table(profile));
    Ok(format!(
        "# Written by the grader: the course's crates that the exercises need.\n{}",
        toml::to_string(&out).map_err(io::Error::other)?
    ))
}

/// Whether a directory entry is part of a checkout's sources, as opposed
/// to build output or VCS data.
fn is_source(name: &str, is_dir: bool) -> bool {
    if is_dir && (name == "target" || name.starts_with("target-")) {
        return false;
    }
    !name.starts_with('.')
}

/// Calls `f(relative path, path)` for every source file under `root`,
/// never following a link.
fn walk(root: &Path, f: &mut dyn FnMut(&Path, &Path) -> io::Result<()>) -> io::Result<()> {
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
            if !is_source(&name, kind.is_dir()) {
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

/// Writes `new` to `to` unless `to` already holds those bytes; returns
/// whether it wrote.
fn write_if_changed(to: &Path, new: &[u8]) -> io::Result<bool> {
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
/// the course's, as "path (why)". Sizes are compared first; no file is
/// read past a cap.
fn ignored_files(
    submission: &Path,
    exercises_rel: &Path,
    course: &Path,
    used: &BTreeSet<PathBuf>,
) -> Vec<String> {
    let mut ignored = Vec::new();
    // Where the submission's root sits in the course: `exercises/` when
    // only that folder was given.
    let course_rel = |rel: &Path| -> Option<PathBuf> {
        if exercises_rel.as_os_str().is_empty() {
            return Some(Path::new("exercises").join(rel));
        }
        let top = exercises_rel.parent().unwrap_or(Path::new(""));
        rel.strip_prefix(top).ok().map(Path::to_path_buf)
    };
    let _ = walk(submission, &mut |rel, path| {
        if used.contains(rel) {
            return Ok(());
        }
        let same = course_rel(rel).and_then(|c| {
            let ours = fs::metadata(course.join(&c)).ok()?;
            let theirs = fs::symlink_metadata(path).ok()?;
            if ours.len() != theirs.len() || theirs.len() > MAX_COMPARED {
                return Some(false);
            }
            let a = fs::read(course.join(&c)).ok()?;
            let b = read_capped(submission, rel, MAX_COMPARED).ok()?;
            Some(a == b)
        });
        let note = match same {
            Some(true) => return Ok(()),
            Some(false) => "differs from the course's; the course's is used",
            None => "not part of the course",
        };
        ignored.push(format!("{} ({note})", rel.display()));
        Ok(())
    });
    ignored.sort();
    ignored
}

/// Gives the copy's build output to `uid`:`gid`, the user its builds run
/// as, where it is not theirs yet.
pub fn hand_over(target_dir: &Path, uid: u32, gid: u32) -> io::Result<()> {
    fs::create_dir_all(target_dir)?;
    let mine = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(p).is_ok_and(|m| m.uid() == uid && m.gid() == gid)
    };
    if mine(target_dir) {
        return Ok(());
    }
    let mut dirs = vec![target_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        std::os::unix::fs::lchown(&dir, Some(uid), Some(gid))?;
        for entry in fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path);
            } else {
                std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_vcs_data_are_not_sources() {
        assert!(!is_source("target", true));
        assert!(!is_source("target-gr", true));
        assert!(!is_source(".git", true));
        assert!(is_source("src", true));
        assert!(is_source("target-notes.md", false));
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
    fn writes_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("sub/b");
        assert!(write_if_changed(&b, b"one").unwrap());
        assert!(!write_if_changed(&b, b"one").unwrap());
        assert!(write_if_changed(&b, b"two").unwrap());
        assert_eq!(fs::read_to_string(&b).unwrap(), "two");
    }

    #[test]
    fn a_settled_lock_file_is_kept_until_the_course_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (course, to) = (dir.path().join("course"), dir.path().join("stage"));
        for c in COURSE_CRATES {
            fs::create_dir_all(course.join(c).join("src")).unwrap();
            fs::write(course.join(c).join("src/lib.rs"), "").unwrap();
        }
        fs::create_dir_all(course.join("exercises")).unwrap();
        fs::write(course.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        fs::write(course.join("Cargo.lock"), "course's").unwrap();
        let first = sync_course(&course, &to, None).unwrap();
        assert_eq!(
            fs::read_to_string(to.join("Cargo.lock")).unwrap(),
            "course's"
        );
        // A warm-up settles the copy's lock file; the next staging keeps it.
        fs::write(to.join("Cargo.lock"), "settled").unwrap();
        assert_eq!(sync_course(&course, &to, Some(first)).unwrap(), first);
        assert_eq!(
            fs::read_to_string(to.join("Cargo.lock")).unwrap(),
            "settled"
        );
        // Without the mark, or once a course file changed, it is copied again.
        assert_eq!(sync_course(&course, &to, None).unwrap(), first);
        assert_eq!(
            fs::read_to_string(to.join("Cargo.lock")).unwrap(),
            "course's"
        );
        fs::write(to.join("Cargo.lock"), "settled").unwrap();
        let lib = course.join(COURSE_CRATES[0]).join("src/lib.rs");
        fs::write(&lib, "pub fn changed() {}").unwrap();
        let second = sync_course(&course, &to, Some(first)).unwrap();
        assert_ne!(second, first);
        assert_eq!(
            fs::read_to_string(to.join("Cargo.lock")).unwrap(),
            "course's"
        );
    }

    #[test]
    fn links_are_refused_in_any_component_and_reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir_all(sub.join("exercises/01/src")).unwrap();
        fs::write(sub.join("exercises/01/src/lib.rs"), "fn x() {}").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir_all(elsewhere.join("src")).unwrap();
        fs::write(elsewhere.join("src/lib.rs"), "secret").unwrap();
        std::os::unix::fs::symlink(&elsewhere, sub.join("exercises/02")).unwrap();
        std::os::unix::fs::symlink(
            elsewhere.join("src/lib.rs"),
            sub.join("exercises/01/src/link.rs"),
        )
        .unwrap();
        let ok = read_capped(&sub, Path::new("exercises/01/src/lib.rs"), 100).unwrap();
        assert_eq!(ok, b"fn x() {}");
        let dir_link = read_capped(&sub, Path::new("exercises/02/src/lib.rs"), 100).unwrap_err();
        assert!(
            dir_link.contains("`exercises/02` is a symbolic link"),
            "{dir_link}"
        );
        let file_link = read_capped(&sub, Path::new("exercises/01/src/link.rs"), 100).unwrap_err();
        assert!(file_link.contains("symbolic link"), "{file_link}");
        let capped = read_capped(&sub, Path::new("exercises/01/src/lib.rs"), 4).unwrap_err();
        assert!(capped.contains("larger than"), "{capped}");
        let missing = read_capped(&sub, Path::new("exercises/03/src/lib.rs"), 4).unwrap_err();
        assert!(missing.contains("no such file"), "{missing}");
    }

    #[test]
    fn a_zip_with_an_extra_top_folder_is_found() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("course-main/exercises/03-locked-bank/src")).unwrap();
        let (rel, note) = locate_exercises(dir.path());
        assert_eq!(rel, Path::new("course-main/exercises"));
        assert!(note.unwrap().contains("course-main/"));
        let (rel, note) = locate_exercises(&dir.path().join("course-main"));
        assert_eq!((rel, note), (PathBuf::from("exercises"), None));
    }
}

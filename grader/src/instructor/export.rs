//! `grader export-student DIR`: the course as students get it.
//!
//! A student needs the lessons and the stubs (`exercises/`), what their
//! programs are built on (`multiproc/`, `report/`, `scenarios/`), the
//! grader to grade with (`grader/`), the `cargo grade` alias
//! (`.cargo/config.toml`) and the README. Nothing else is copied: what is
//! not on that list stays out, so that a folder added to the course later
//! (notes, answers) is not handed out by mistake. Left out in particular:
//!
//! - `solutions/`: the reference solutions;
//! - `tests/`: the course's tests, whose fixtures are near-solutions (the
//!   known-bad variants are each a solution broken in one place) and
//!   whose attack tests hold working banks;
//! - inside `grader/`, its crates' tests, benches and examples: the
//!   boundary's tests hold a working solution of every exercise (to show
//!   that they are accepted), and the race benchmark grades the variants;
//! - `instructors/`, `.ci/`, and the git history (which holds the
//!   solutions: make a new repository from the edition, never a fork).
//!
//! The lessons and the README lose their mentions of the solutions (see
//! [`scrub`]), and the workspace's `Cargo.toml` its solution members and
//! the course's own test package, so that `cargo grade` and
//! `cargo build --workspace` work in the edition. The edition is then
//! loaded with `cargo metadata`, which checks it and trims `Cargo.lock` to
//! the packages it still has.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::scrub::{self, Dropped, Rules};
use crate::catalog::{Source, EXERCISES};

/// What the edition holds from the course's top level.
const KEPT: [&str; 10] = [
    "exercises",
    "multiproc",
    "report",
    "scenarios",
    "grader",
    ".cargo/config.toml",
    ".gitignore",
    "README.md",
    "Cargo.toml",
    "Cargo.lock",
];

/// Folders left out of `grader/`, at any depth: its crates' test, bench
/// and example targets and their data. They test the grader against
/// solutions and near-solutions; students need none of them to grade.
const GRADER_DEV_DIRS: [&str; 5] = ["tests", "benches", "examples", "fixtures", "snapshots"];

/// Sections of the course's README written for instructors and for the
/// course's authors: hosting the grader, its threat model, the course's
/// own tests and the variants (each one a hint at a solution).
const INSTRUCTOR_SECTIONS: [&str; 4] = [
    "For instructors",
    "Threat model",
    "Tests",
    "Known-bad and right variants, and how often races show",
];

/// What an export did.
#[derive(Debug, Default)]
pub struct Exported {
    /// Files written.
    pub files: usize,
    /// What of the course was left out, with why.
    pub left_out: Vec<String>,
    /// For each Markdown file changed: what was left out of it.
    pub dropped: Vec<(PathBuf, Vec<Dropped>)>,
    /// For each Markdown file changed: the lines where a solution's
    /// package was renamed to the exercise's.
    pub renamed: Vec<(PathBuf, Vec<usize>)>,
    /// A check that could not be made, and why.
    pub unchecked: Option<String>,
}

/// Writes the student edition of the course at `from` into `to`, which
/// must not exist or be empty.
pub fn export(from: &Path, to: &Path) -> Result<Exported, String> {
    if !(from.join("Cargo.toml").is_file() && from.join("exercises").is_dir()) {
        return Err(format!(
            "{}: not the course (no Cargo.toml and exercises/ there)",
            from.display()
        ));
    }
    check_stubs(from)?;
    prepare(to)?;
    let to_canonical = fs::canonicalize(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let mut done = Exported::default();
    let rules = rules(from);
    for top in KEPT {
        let path = from.join(top);
        if !path.exists() {
            continue;
        }
        copy(
            &path,
            &to.join(top),
            Path::new(top),
            &to_canonical,
            &rules,
            &mut done,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let mut left_out = left_out(from, &to_canonical);
    left_out.append(&mut done.left_out);
    done.left_out = left_out;
    let manifest = to.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    fs::write(&manifest, workspace_manifest(&text, to)?)
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    done.unchecked = check_loads(to)?;
    Ok(done)
}

/// Refuses an export whose stubs are not stubs: an instructor who tried
/// the exercises in this checkout would hand out their answers. A stub
/// leaves its functions to write (`todo!`), and is not the solution.
fn check_stubs(from: &Path) -> Result<(), String> {
    for e in EXERCISES {
        let rel = Path::new("exercises").join(e.dir).join("src/lib.rs");
        let Ok(stub) = fs::read_to_string(from.join(&rel)) else {
            continue;
        };
        let solution = fs::read_to_string(from.join("solutions").join(e.dir).join("src/lib.rs"));
        let restore = format!(
            "restore the stub (`git checkout {}`) and export again",
            rel.display()
        );
        if solution.is_ok_and(|s| s == stub) {
            return Err(format!(
                "{} is the reference solution, not the stub: {restore}",
                rel.display()
            ));
        }
        if !(stub.contains("todo!(") || stub.contains("unimplemented!(")) {
            return Err(format!(
                "{} leaves nothing to write (no `todo!`): it looks filled in; {restore}",
                rel.display()
            ));
        }
    }
    Ok(())
}

/// Makes `to` an empty directory, refusing one that holds anything.
fn prepare(to: &Path) -> Result<(), String> {
    match fs::read_dir(to) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{} is not empty: export into a new or empty directory",
                    to.display()
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))
        }
        Err(e) => Err(format!("{}: {e}", to.display())),
    }
}

/// The scrubbing rules for this course: its solutions' packages renamed,
/// and what the edition leaves out named.
fn rules(from: &Path) -> Rules {
    let mut paths: Vec<String> = left_out_names(from)
        .into_iter()
        .map(|name| format!("{name}/"))
        .collect();
    paths.extend(GRADER_DEV_DIRS.iter().map(|d| format!("grader/{d}/")));
    paths.sort();
    paths.dedup();
    Rules {
        renames: EXERCISES
            .iter()
            .map(|e| (e.package(&Source::Solutions), e.package(&Source::Exercises)))
            .collect(),
        paths,
        sections: INSTRUCTOR_SECTIONS.iter().map(|s| s.to_string()).collect(),
    }
}

/// The course's top-level folders the edition does not hold (build
/// output and git aside).
fn left_out_names(from: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(from)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !is_build_output(n) && n != ".git")
                .filter(|n| !KEPT.iter().any(|k| k.split('/').next() == Some(n.as_str())))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What of the course the edition leaves out, with why, for the summary.
fn left_out(from: &Path, to: &Path) -> Vec<String> {
    let why = |name: &str| match name {
        "solutions" => "the reference solutions",
        "tests" => "the course's tests; their fixtures are near-solutions",
        "instructors" => "Gradescope's and GitHub Classroom's files",
        ".ci" => "the course's CI",
        _ => "not part of the student edition",
    };
    left_out_names(from)
        .iter()
        .filter(|name| fs::canonicalize(from.join(name)).ok().as_deref() != Some(to))
        .map(|name| format!("{name}/ ({})", why(name)))
        .collect()
}

/// Why a folder of the grader's is left out, for the summary.
fn dev_dir_reason(name: &str) -> &'static str {
    match name {
        "tests" => "the grader's own tests: they hold working solutions, to show they are accepted",
        "benches" => "the race benchmark: it grades the solutions and the known-bad variants",
        "examples" => "tools for the course's authors",
        _ => "test data of the grader's",
    }
}

fn is_build_output(name: &str) -> bool {
    name == "target" || name.starts_with("target-")
}

/// Copies `path` (the course's `rel`) to `dest`, leaving out what the
/// edition does not hold and scrubbing the Markdown students read.
fn copy(
    path: &Path,
    dest: &Path,
    rel: &Path,
    to: &Path,
    rules: &Rules,
    done: &mut Exported,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        if fs::canonicalize(path)? == to {
            return Ok(());
        }
        fs::create_dir_all(dest)?;
        let mut entries: Vec<_> = fs::read_dir(path)?.collect::<io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type()?.is_dir();
            let in_grader = rel.starts_with("grader");
            if name == ".git" || (is_dir && is_build_output(&name)) {
                continue;
            }
            if is_dir && in_grader && GRADER_DEV_DIRS.contains(&name.as_str()) {
                done.left_out.push(format!(
                    "{}/ ({})",
                    rel.join(&name).display(),
                    dev_dir_reason(&name)
                ));
                continue;
            }
            copy(
                &entry.path(),
                &dest.join(&name),
                &rel.join(&name),
                to,
                rules,
                done,
            )?;
        }
        return Ok(());
    }
    if !meta.is_file() {
        // A link or a device: nothing a course needs, and a link could
        // point back into what is left out.
        return Ok(());
    }
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    let is_lesson = rel.starts_with("exercises") && rel.extension().is_some_and(|x| x == "md");
    if is_lesson || rel == Path::new("README.md") {
        let text = fs::read_to_string(path)?;
        let mut rules = rules.clone();
        if is_lesson {
            rules.sections.clear();
        }
        let scrubbed = scrub::scrub(&text, &rules);
        fs::write(dest, &scrubbed.text)?;
        if !scrubbed.dropped.is_empty() {
            done.dropped.push((rel.to_path_buf(), scrubbed.dropped));
        }
        if !scrubbed.renamed.is_empty() {
            done.renamed.push((rel.to_path_buf(), scrubbed.renamed));
        }
    } else {
        fs::copy(path, dest)?;
    }
    done.files += 1;
    Ok(())
}

/// The course's workspace manifest without what is not in the edition:
/// only the workspace and its profiles are kept (the root package is the
/// course's own tests), and only the members that were exported. Comments
/// and layout are kept.
fn workspace_manifest(text: &str, to: &Path) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("the course's Cargo.toml: {e}"))?;
    let root = doc.as_table_mut();
    let keys: Vec<String> = root.iter().map(|(k, _)| k.to_string()).collect();
    for key in keys {
        if !["workspace", "profile", "patch", "replace", "cargo-features"].contains(&key.as_str()) {
            root.remove(&key);
        }
    }
    let exported =
        |member: &str| member.contains('*') || to.join(member).join("Cargo.toml").is_file();
    let workspace = doc
        .get_mut("workspace")
        .and_then(|w| w.as_table_like_mut())
        .ok_or("the course's Cargo.toml has no [workspace]")?;
    for list in ["members", "default-members"] {
        if let Some(members) = workspace.get_mut(list).and_then(|m| m.as_array_mut()) {
            members.retain(|m| m.as_str().is_some_and(exported));
        }
    }
    Ok(format!("{}\n", doc.to_string().trim()))
}

/// Loads the edition with `cargo metadata`, which also trims its
/// `Cargo.lock` to the packages it holds. Returns why it could not be
/// checked, when cargo cannot be run; fails when it does not load.
fn check_loads(to: &Path) -> Result<Option<String>, String> {
    let out = Command::new(crate::course::cargo())
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(to.join("Cargo.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match out {
        Err(e) => Ok(Some(format!("cannot run cargo ({e})"))),
        Ok(out) if out.status.success() => Ok(None),
        Ok(out) => Err(format!(
            "the student edition in {} does not load as a cargo workspace; \
             cargo says:\n{}",
            to.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_keeps_the_workspace_and_the_exported_members() {
        let to = tempfile::tempdir().unwrap();
        for member in ["grader", "exercises/01-a"] {
            fs::create_dir_all(to.path().join(member)).unwrap();
            fs::write(to.path().join(member).join("Cargo.toml"), "").unwrap();
        }
        let course = "[package]\nname = \"course-tests\"\n\n[lib]\npath = \"tests/support/lib.rs\"\n\n\
                      [dev-dependencies]\ninsta = \"1\"\n\n\
                      [workspace]\nresolver = \"2\"\nmembers = [\n    \"grader\",\n    \"exercises/01-a\",\n    \
                      \"solutions/01-a\",\n]\n\n# Shared settings.\n[workspace.package]\nedition = \"2021\"\n\n\
                      [profile.release]\ndebug = 1\n";
        let out = workspace_manifest(course, to.path()).unwrap();
        assert_eq!(
            out,
            "[workspace]\nresolver = \"2\"\nmembers = [\n    \"grader\",\n    \"exercises/01-a\",\n]\n\n\
             # Shared settings.\n[workspace.package]\nedition = \"2021\"\n\n[profile.release]\ndebug = 1\n"
        );
    }

    #[test]
    fn a_filled_in_stub_is_refused() {
        let course = tempfile::tempdir().unwrap();
        let e = &EXERCISES[0];
        let stub = course.path().join("exercises").join(e.dir).join("src");
        let solution = course.path().join("solutions").join(e.dir).join("src");
        fs::create_dir_all(&stub).unwrap();
        fs::create_dir_all(&solution).unwrap();
        fs::write(stub.join("lib.rs"), "pub fn f() { todo!(\"f\") }\n").unwrap();
        fs::write(solution.join("lib.rs"), "pub fn f() {}\n").unwrap();
        assert_eq!(check_stubs(course.path()), Ok(()));
        fs::write(stub.join("lib.rs"), "pub fn f() {}\n").unwrap();
        let why = check_stubs(course.path()).unwrap_err();
        assert!(why.contains("is the reference solution"), "{why}");
        fs::write(stub.join("lib.rs"), "pub fn f() { 1; }\n").unwrap();
        let why = check_stubs(course.path()).unwrap_err();
        assert!(why.contains("looks filled in"), "{why}");
        assert!(why.contains("git checkout exercises/"), "{why}");
    }

    #[test]
    fn an_export_goes_to_a_new_or_empty_directory() {
        let base = tempfile::tempdir().unwrap();
        let fresh = base.path().join("a/b");
        assert_eq!(prepare(&fresh), Ok(()));
        assert!(fresh.is_dir());
        assert_eq!(prepare(&fresh), Ok(()), "empty");
        fs::write(fresh.join("x"), "").unwrap();
        assert!(prepare(&fresh).unwrap_err().contains("is not empty"));
    }
}

//! `grader reset EX`: the exercise's file as it was given.
//!
//! "As given" is the file in the commit that added it to the course's
//! git history (`git log --diff-filter=A`, oldest first): a student's own
//! commits come after it, so it is the stub whatever they committed
//! since. Before the file is replaced, the student is asked (unless
//! `--yes`), and their version is kept under `target/grader/reset/`:
//! a reset is never the loss of a day's work. Without git, or without the
//! history (a zip, a shallow clone), nothing is touched, and the message
//! says how to get the file back.

use std::fmt;
use std::fs;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::build::stage::STUDENT_FILE;
use crate::catalog::Exercise;
use crate::cli::ResetArgs;
use crate::course::Course;
use crate::grade::shell_quote;

/// The file as given.
#[derive(Debug)]
pub struct Given {
    /// The commit that added it.
    pub commit: String,
    /// Its contents then.
    pub contents: Vec<u8>,
}

/// Why the file as given cannot be had.
#[derive(Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// There is no git to ask.
    NoGit(String),
    /// The checkout is no git repository (a zip, a copy).
    NotARepository(String),
    /// A shallow clone: the commit that added the file may be missing.
    Shallow,
    /// No commit adds the file.
    NotInHistory,
    /// Git failed.
    Git(String),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::NoGit(why) => write!(f, "git cannot be run ({why})"),
            Unavailable::NotARepository(why) => {
                write!(f, "this checkout is not a git repository ({why})")
            }
            Unavailable::Shallow => write!(
                f,
                "this checkout is a shallow clone, without the commit that added the file"
            ),
            Unavailable::NotInHistory => write!(f, "no commit of this checkout adds the file"),
            Unavailable::Git(why) => write!(f, "git failed: {why}"),
        }
    }
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, Unavailable> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| Unavailable::NoGit(e.to_string()))?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if why.contains("not a git repository") {
        Err(Unavailable::NotARepository(
            why.lines().next().unwrap_or_default().to_string(),
        ))
    } else {
        Err(Unavailable::Git(why))
    }
}

/// The file at `rel` (relative to `root`) as the commit that added it
/// has it.
pub fn given(root: &Path, rel: &str) -> Result<Given, Unavailable> {
    let shallow = git(root, &["rev-parse", "--is-shallow-repository"])?;
    if String::from_utf8_lossy(&shallow).trim() == "true" {
        return Err(Unavailable::Shallow);
    }
    let log = git(root, &["log", "--diff-filter=A", "--format=%H", "--", rel]).map_err(|e| {
        match e {
            // A repository with no commit yet.
            Unavailable::Git(why) if why.contains("does not have any commits") => {
                Unavailable::NotInHistory
            }
            e => e,
        }
    })?;
    let log = String::from_utf8_lossy(&log);
    let commit = log
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .ok_or(Unavailable::NotInHistory)?
        .to_string();
    let contents = git(root, &["show", &format!("{commit}:{rel}")])?;
    Ok(Given { commit, contents })
}

/// What to do when the file cannot be had from git: exact steps.
fn how_to_get_it_back(e: &Exercise, rel: &str, why: &Unavailable) -> String {
    let fresh = format!(
        "copy {rel} from a fresh copy of the course (the repository or zip you got it from) \
         over yours"
    );
    let q = shell_quote(rel);
    match why {
        Unavailable::Shallow => format!(
            "fetch the whole history with `git fetch --unshallow`, then run `cargo grade reset {}` \
             again; or {fresh}",
            e.number
        ),
        Unavailable::NoGit(_) => format!(
            "install git and run `cargo grade reset {}` again; or {fresh}",
            e.number
        ),
        Unavailable::NotInHistory => format!(
            "if the course's first commit is in another branch or repository, take the file from \
             there (`git show COMMIT:{q} > {q}`); or {fresh}"
        ),
        Unavailable::NotARepository(_) | Unavailable::Git(_) => fresh,
    }
}

/// Where the student's version is kept before a reset.
fn backup_path(course: &Course, e: &Exercise) -> PathBuf {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    course
        .grader_dir()
        .join("reset")
        .join(format!("{}-{now}.rs", e.dir))
}

/// Asks on the terminal (or reads the answer from standard input);
/// anything but yes is no, and so is no answer.
fn confirm(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    // Typed at a terminal, the answer ended the line; read from a pipe,
    // it did not show.
    if !std::io::stdin().is_terminal() {
        println!();
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

/// A relative path as the student sees it.
fn display(path: &Path, course: &Course) -> String {
    path.strip_prefix(&course.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `grader reset EX`.
pub fn reset_command(course: &Course, args: &ResetArgs) -> ExitCode {
    let e = match super::find(&args.exercise) {
        Ok(e) => e,
        Err(msg) => {
            eprintln!("grader: {msg}");
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    let rel = format!("exercises/{}/{STUDENT_FILE}", e.dir);
    let file = course.root.join(&rel);
    let given = match given(&course.root, &rel) {
        Ok(g) => g,
        Err(why) => {
            eprintln!(
                "grader: cannot reset {rel}: {why}. Nothing was changed. To get the file back, {}.",
                how_to_get_it_back(e, &rel, &why)
            );
            return ExitCode::from(crate::EXIT_FAILED);
        }
    };
    let short = &given.commit[..given.commit.len().min(10)];
    let current = fs::read(&file).ok();
    if current.as_deref() == Some(given.contents.as_slice()) {
        println!("{rel} is already as it was given (commit {short}): nothing to do.");
        return ExitCode::from(crate::EXIT_PASSED);
    }
    let backup = backup_path(course, e);
    if !args.yes {
        let question = match &current {
            Some(_) => format!(
                "Put {rel} back as it was given (commit {short})? Your version will be kept as {}.",
                display(&backup, course)
            ),
            None => format!("Put {rel} back as it was given (commit {short})?"),
        };
        if !confirm(&question) {
            println!("Not reset: {rel} is as it was.");
            return ExitCode::from(crate::EXIT_FAILED);
        }
    }
    if let Some(mine) = &current {
        let kept = backup
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(&backup, mine));
        if let Err(err) = kept {
            eprintln!(
                "grader: cannot keep your version as {} ({err}): nothing was changed",
                backup.display()
            );
            return ExitCode::from(crate::EXIT_FAILED);
        }
    }
    if let Err(err) = file
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| fs::write(&file, &given.contents))
    {
        eprintln!("grader: cannot write {rel}: {err}");
        return ExitCode::from(crate::EXIT_FAILED);
    }
    super::status::forget(course, e);
    match current {
        Some(_) => println!(
            "Reset {rel} as it was given (commit {short}). Your version is in {}.",
            display(&backup, course)
        ),
        None => println!("Put back {rel} as it was given (commit {short})."),
    }
    ExitCode::from(crate::EXIT_PASSED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(ok, "git {args:?}");
    }

    fn have_git() -> bool {
        let ok = Command::new("git").arg("--version").output().is_ok();
        if !ok {
            eprintln!("skipped: git is not installed");
        }
        ok
    }

    #[test]
    fn the_file_as_given_is_the_one_its_first_commit_added() {
        if !have_git() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let rel = "exercises/01-x/src/lib.rs";
        let file = dir.path().join(rel);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        run(dir.path(), &["init", "-q"]);
        fs::write(&file, "todo!()\n").unwrap();
        run(dir.path(), &["add", "."]);
        run(dir.path(), &["commit", "-q", "-m", "course"]);
        fs::write(&file, "mine\n").unwrap();
        run(dir.path(), &["commit", "-q", "-am", "my work"]);
        fs::write(&file, "mine, not committed\n").unwrap();
        let g = given(dir.path(), rel).unwrap();
        assert_eq!(g.contents, b"todo!()\n");
    }

    #[test]
    fn without_history_it_says_so() {
        if !have_git() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let err = given(dir.path(), "exercises/01-x/src/lib.rs").unwrap_err();
        assert!(matches!(err, Unavailable::NotARepository(_)), "{err:?}");
        run(dir.path(), &["init", "-q"]);
        let err = given(dir.path(), "exercises/01-x/src/lib.rs").unwrap_err();
        assert_eq!(err, Unavailable::NotInHistory);
    }
}

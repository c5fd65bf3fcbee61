//! Helpers for the integration tests that need their dev-dependencies:
//! running the grader with assert_cmd and reading its JSON reports.
//!
//! Each test file includes this module and uses part of it.
#![allow(dead_code)]

pub use course_tests::*;

/// A command running the grader from the course's root, with colour and
/// progress off and a deadline.
pub fn grader() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(grader_path());
    cmd.current_dir(course_root())
        .env("NO_COLOR", "1")
        .env_remove("MULTIPROC_SCHED")
        .timeout(DEADLINE);
    cmd
}

/// What a command that must succeed printed on its standard output.
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.assert().code(0).get_output().stdout.clone();
    String::from_utf8(out).expect("the grader prints UTF-8")
}

/// Grades with `args` and JSON output, expecting exit status `code`;
/// the report.
pub fn graded(args: &[&str], code: i32) -> serde_json::Value {
    let out = grader()
        .args(args)
        .args(["--format", "json"])
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    json(&out)
}

/// Parses a JSON report.
pub fn json(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "the report is not JSON ({e}):\n{}",
            String::from_utf8_lossy(stdout)
        )
    })
}

/// The exercise with this slug in a JSON report.
pub fn exercise<'a>(report: &'a serde_json::Value, slug: &str) -> &'a serde_json::Value {
    report["exercises"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["slug"] == slug))
        .unwrap_or_else(|| panic!("no exercise {slug} in the report"))
}

/// The invariant with this id in an exercise of a JSON report.
pub fn invariant<'a>(exercise: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    exercise["invariants"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("no invariant {id} in {}", exercise["slug"]))
}

/// The variable a grader passes on to every process it starts, so that a
/// test can find whatever a session left behind.
pub const MARK: &str = "COURSE_GRADER_MARK";

/// Sends Ctrl-C's signal to the process `pid` from this test, its parent:
/// only the terminal and the parent may interrupt a grader.
pub fn interrupt(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
}

/// Whether this test runs as root, which the sandbox needs to be whole
/// (namespaces, control groups, a uid of its own). Tests of the sandbox
/// say so and skip without it; CI runs as root.
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// A grader whose processes and files can be told from everyone else's.
pub struct Watched {
    pub mark: String,
    pub tmp: tempfile::TempDir,
    cgroups_before: std::collections::BTreeSet<String>,
    shm_before: std::collections::BTreeSet<String>,
    tmp_before: std::collections::BTreeSet<String>,
}

impl Watched {
    pub fn new(name: &str) -> Watched {
        Watched {
            mark: format!("{name}-{}", std::process::id()),
            tmp: tempfile::tempdir().unwrap(),
            cgroups_before: cgroups(),
            shm_before: listing(std::path::Path::new("/dev/shm")),
            tmp_before: listing(std::path::Path::new("/tmp")),
        }
    }

    /// The grader, marked, with its own temporary directory.
    pub fn grader(&self) -> assert_cmd::Command {
        let mut cmd = grader();
        cmd.env(MARK, &self.mark).env("TMPDIR", self.tmp.path());
        cmd
    }

    /// Grades the submission at `path` with `args`, expecting exit status
    /// 1 (some exercise failed); returns the JSON report.
    pub fn grade(&self, path: &std::path::Path, args: &[&str]) -> serde_json::Value {
        let out = self
            .grader()
            .args(args)
            .args(["--seed", SEED, "--format", "json", "--workspace"])
            .arg(path)
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        json(&out)
    }

    /// Grades the submission at `path` with `args`, whatever the exit
    /// status (0 or 1); returns the JSON report.
    pub fn grade_any(&self, path: &std::path::Path, args: &[&str]) -> serde_json::Value {
        let out = self
            .grader()
            .args(args)
            .args(["--seed", SEED, "--format", "json", "--workspace"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out.stdout)
    }

    /// Nothing of the session is left: no process, no temporary file, no
    /// control group, nothing in /dev/shm or /tmp.
    pub fn assert_clean(&self) {
        let entry = format!("{MARK}={}", self.mark);
        let mut alive = marked(&entry);
        for _ in 0..100 {
            if alive.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            alive = marked(&entry);
        }
        assert!(
            alive.is_empty(),
            "still running after the grader: {alive:?}"
        );
        let left = listing(self.tmp.path());
        assert!(left.is_empty(), "temporary files left: {left:?}");
        let stale: Vec<String> = cgroups()
            .difference(&self.cgroups_before)
            .filter(|name| {
                let pid = name
                    .trim_start_matches("course-grader-")
                    .split('-')
                    .next()
                    .unwrap_or_default();
                !std::path::Path::new("/proc").join(pid).exists()
            })
            .cloned()
            .collect();
        assert!(stale.is_empty(), "control groups left: {stale:?}");
        let shm: Vec<String> = listing(std::path::Path::new("/dev/shm"))
            .difference(&self.shm_before)
            .cloned()
            .collect();
        assert!(shm.is_empty(), "shared memory left in /dev/shm: {shm:?}");
        // Another grader may be running beside this one (other tests):
        // only what a grader that is gone left counts.
        let gone = |name: &str| {
            let pid = name.split('-').nth(1).unwrap_or_default();
            pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists()
        };
        let tmp: Vec<String> = listing(std::path::Path::new("/tmp"))
            .difference(&self.tmp_before)
            .filter(|n| n.starts_with("grader-") && gone(n))
            .cloned()
            .collect();
        assert!(tmp.is_empty(), "files left in /tmp: {tmp:?}");
    }
}

/// Live processes (not zombies) whose environment holds `entry`.
pub fn marked(entry: &str) -> Vec<String> {
    let mut found = Vec::new();
    for dir in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        let Ok(environ) = std::fs::read(dir.path().join("environ")) else {
            continue;
        };
        if !environ.split(|&b| b == 0).any(|e| e == entry.as_bytes()) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.path().join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or("?");
        if state != "Z" {
            found.push(format!("{name}: {stat}"));
        }
    }
    found
}

/// The graders' control groups now.
pub fn cgroups() -> std::collections::BTreeSet<String> {
    let roots = [
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup",
    ];
    roots
        .iter()
        .flat_map(|root| listing(std::path::Path::new(root)))
        .filter(|n| n.starts_with("course-grader-"))
        .collect()
}

pub fn listing(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The first failure's "seen" of an invariant.
pub fn seen<'a>(e: &'a serde_json::Value, id: &str) -> &'a str {
    invariant(e, id)["failure"]["seen"]
        .as_str()
        .unwrap_or_else(|| panic!("{} / {id} has no failure: {}", e["slug"], e))
}

/// An exercise's headline.
pub fn headline(e: &serde_json::Value) -> &str {
    e["headline"].as_str().unwrap_or_default()
}

/// Writes a submission of one file per exercise into a new temporary
/// directory: `(exercise directory, source)`.
pub fn submission(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (exercise, source) in files {
        let path = dir.path().join("exercises").join(exercise).join("src");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("lib.rs"), source).unwrap();
    }
    dir
}

/// Whether the calling test may go on: true as root; otherwise says
/// that the test is skipped, and why.
pub fn root_or_skip() -> bool {
    if !is_root() {
        eprintln!("skipped: this test needs root (the whole sandbox); CI runs as root");
    }
    is_root()
}

/// The patch of a variant: `tests/fixtures/{folder}/{name}.patch`
/// (`folder` is `variants` for the wrong ones, `right` for the right ones).
pub fn variant_patch(folder: &str, name: &str) -> std::path::PathBuf {
    fixture(folder).join(format!("{name}.patch"))
}

/// The variant of `patch` staged as a submission of one file in a new
/// temporary folder, which is removed when dropped. Panics, naming the
/// patch, when it no longer applies to its reference solution: the
/// solution changed, and the variant must be made again.
pub fn staged(patch: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Err(why) = patches::stage(&course_root(), patch, dir.path()) {
        panic!("{why}");
    }
    dir
}

/// The exercise's number (`5`) of a variant, from its name's `NN-` prefix.
pub fn number_of(name: &str) -> String {
    name[..2].trim_start_matches('0').to_string()
}

/// Grades the submission at `dir`, staged from the variant `name`, on its
/// exercise alone with `args`: the JSON report and the exit code. The
/// variant must build: a variant that does not is a broken fixture.
pub fn graded_variant(
    name: &str,
    dir: &std::path::Path,
    args: &[&str],
) -> (serde_json::Value, Option<i32>) {
    let out = grader()
        .arg(number_of(name))
        .args(args)
        .args(["--format", "json", "--workspace"])
        .arg(dir)
        .output()
        .unwrap();
    let report = json(&out.stdout);
    let ex = &report["exercises"][0];
    assert_eq!(
        ex["build"]["ok"], true,
        "{name} must build: {}",
        ex["headline"]
    );
    (report, out.status.code())
}

/// What one grading session at default settings said of a variant.
pub struct Session {
    pub seed: u64,
    /// The exercise passed.
    pub passed: bool,
    /// Runs that broke some invariant.
    pub failing_runs: u64,
    /// The invariants that failed, with the runs each was broken in.
    pub failed: Vec<String>,
}

/// Grades the variant of `patch` once per seed in `seeds`, exactly as
/// `cargo grade N --workspace DIR --seed K` does (its default runs and
/// mode): the measure of how surely a verdict holds, session after
/// session.
pub fn default_sessions(patch: &std::path::Path, seeds: &[u64]) -> Vec<Session> {
    let name = patches::name_of(patch);
    let dir = staged(patch);
    seeds
        .iter()
        .map(|&seed| {
            let (report, _) = graded_variant(&name, dir.path(), &["--seed", &seed.to_string()]);
            let ex = &report["exercises"][0];
            let failed = ex["invariants"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["status"] == "failed")
                .map(|i| format!("{} {}", i["id"].as_str().unwrap(), i["broken"]))
                .collect();
            Session {
                seed,
                passed: ex["status"] == "passed",
                failing_runs: ex["failing_run_count"].as_u64().unwrap_or(0),
                failed,
            }
        })
        .collect()
}

/// The seeds of the sessions that the measures of `default_sessions` make
/// for each variant: `VARIANT_SESSIONS` of them (10 unless set), from 1,
/// `VARIANT_SEED_STEP` apart (1000 unless set). Run *i* of a session uses
/// its seed + *i*, so a step of at least the number of runs (200) keeps
/// the sessions' runs apart: ten sessions, not one session's runs again.
pub fn session_seeds() -> Vec<u64> {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(default)
    };
    let (n, step) = (var("VARIANT_SESSIONS", 10), var("VARIANT_SEED_STEP", 1000));
    (0..n).map(|i| 1 + i * step).collect()
}

/// Whether a variant is measured: `VARIANT_ONLY`, if set, picks the
/// variants whose name contains it.
pub fn measured(name: &str) -> bool {
    std::env::var("VARIANT_ONLY").map_or(true, |only| name.contains(only.trim()))
}

/// Grades the class in `class` (a folder per student) with `grader batch`
/// and `args`, into `output`; panics if the batch itself did not grade.
pub fn grade_class(class: &std::path::Path, output: &std::path::Path, args: &[&str]) {
    let out = grader()
        .arg("batch")
        .args(args)
        .arg("--output")
        .arg(output)
        .arg(class)
        .output()
        .expect("the grader runs");
    // A batch fails only when grading itself failed for some student.
    assert!(
        out.status.success(),
        "the batch did not grade:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a batch said of one student's exercise (`03-locked-bank`), from
/// the student's Gradescope results in `output`: `Ok(())` if it passed,
/// else the failed tests.
pub fn class_verdict(
    output: &std::path::Path,
    student: &str,
    exercise: &str,
) -> Result<(), Vec<String>> {
    let path = output.join(student).join("results.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{student}: no results: {e}"));
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    let prefix = format!("{}:", exercise.replacen('-', " ", 1));
    let tests: Vec<&serde_json::Value> = results["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter(|t| t["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
        .collect();
    assert!(
        !tests.is_empty(),
        "{student}: no results for {exercise}: {results}"
    );
    let failed: Vec<String> = tests
        .iter()
        .filter(|t| t["status"] != "passed")
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed)
    }
}

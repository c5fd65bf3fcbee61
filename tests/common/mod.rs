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

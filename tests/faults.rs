//! A submission can do anything: loop, deadlock, panic, abort, segfault,
//! fork or allocate without end, flood its output, scribble on its report,
//! leave a daemon behind, kill its parent, die holding the lock, or make
//! the compiler itself spin. Each of these gets a verdict that names what
//! happened, the grader finishes in bounded time, and afterwards nothing
//! of the run is left: no process, no temporary directory, no pids cgroup,
//! nothing in /dev/shm.
//!
//! The fixtures are in `tests/fixtures/faults/`, several faults to a
//! submission (one per exercise), so that they share a staged build.
//! Every grader here runs with a marker in its environment, which every
//! process it starts inherits, and with a `TMPDIR` of its own; that is how
//! a leftover would be found.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

use common::{exercise, fixture, grader, invariant, json, SEED};

/// A bound on one fault session, builds included (the first staged build
/// compiles the course's dependencies).
const BOUND: Duration = Duration::from_secs(300);

/// The environment variable that marks this test's processes.
const MARK: &str = "COURSE_FAULT_TEST_MARK";

/// A grader whose processes can be told from everyone else's.
struct Watched {
    mark: String,
    tmp: tempfile::TempDir,
    cgroups_before: BTreeSet<String>,
    shm_before: BTreeSet<String>,
}

impl Watched {
    fn new(name: &str) -> Watched {
        Watched {
            mark: format!("{name}-{}", std::process::id()),
            tmp: tempfile::tempdir().unwrap(),
            cgroups_before: cgroups(),
            shm_before: listing(Path::new("/dev/shm")),
        }
    }

    /// The grader, marked, with its own temporary directory.
    fn grader(&self) -> assert_cmd::Command {
        let mut cmd = grader();
        cmd.env(MARK, &self.mark)
            .env("TMPDIR", self.tmp.path())
            .timeout(BOUND);
        cmd
    }

    /// Grades `fixture` with `args` and the JSON report; returns it.
    fn grade(&self, fixture_name: &str, args: &[&str]) -> serde_json::Value {
        let started = Instant::now();
        let out = self
            .grader()
            .args(args)
            .args(["--seed", SEED, "--format", "json", "--workspace"])
            .arg(fixture(fixture_name))
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        assert!(started.elapsed() < BOUND);
        json(&out)
    }

    /// Nothing of the session is left.
    fn assert_clean(&self) {
        let entry = format!("{MARK}={}", self.mark);
        let mut alive = marked(&entry);
        for _ in 0..100 {
            if alive.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
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
                let pid = name.trim_start_matches("course-grader-");
                !Path::new("/proc").join(pid).exists()
            })
            .cloned()
            .collect();
        assert!(stale.is_empty(), "pids cgroups left: {stale:?}");
        let shm: Vec<String> = listing(Path::new("/dev/shm"))
            .difference(&self.shm_before)
            .cloned()
            .collect();
        assert!(shm.is_empty(), "shared memory left in /dev/shm: {shm:?}");
    }
}

/// Live processes (not zombies) whose environment holds `entry`.
fn marked(entry: &str) -> Vec<String> {
    let mut found = Vec::new();
    for dir in fs::read_dir("/proc").unwrap().flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        let Ok(environ) = fs::read(dir.path().join("environ")) else {
            continue;
        };
        if !environ.split(|&b| b == 0).any(|e| e == entry.as_bytes()) {
            continue;
        }
        let stat = fs::read_to_string(dir.path().join("stat")).unwrap_or_default();
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

/// The supervisors' pids cgroups now.
fn cgroups() -> BTreeSet<String> {
    ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
        .iter()
        .flat_map(|root| listing(Path::new(root)))
        .filter(|n| n.starts_with("course-grader-"))
        .collect()
}

fn listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a pids cgroup caps a run's processes here (as root, with the
/// controller mounted and writable): without one, a fork bomb is not
/// contained, so it is not run.
fn process_cap_available() -> bool {
    let probe = format!("course-fault-probe-{}", std::process::id());
    for root in ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"].map(Path::new) {
        if !root.join("cgroup.procs").exists() {
            continue;
        }
        let dir = root.join(&probe);
        if fs::create_dir(&dir).is_ok() {
            let ok = dir.join("pids.max").exists();
            let _ = fs::remove_dir(&dir);
            return ok;
        }
    }
    false
}

/// The first failure's "seen" of an invariant.
fn seen<'a>(e: &'a serde_json::Value, id: &str) -> &'a str {
    invariant(e, id)["failure"]["seen"]
        .as_str()
        .unwrap_or_else(|| panic!("{} / {id} has no failure: {}", e["slug"], e))
}

fn headline(e: &serde_json::Value) -> &str {
    e["headline"].as_str().unwrap_or_default()
}

#[test]
fn hangs_deadlocks_panics_and_crashes_are_named() {
    let w = Watched::new("crashes");
    let report = w.grade("faults/crashes", &["--runs", "3", "--timeout", "2"]);

    // Loops for ever: stopped at the deadline, found running.
    let looping = exercise(&report, "sequential-bank");
    let why = seen(looping, "clean-exit");
    assert!(why.starts_with("timed out after 2."), "{why}");
    assert!(why.contains("the process tree was killed"), "{why}");
    assert!(why.contains("stuck: MainProcess running"), "{why}");
    assert!(headline(looping).contains("timed out"), "{looping}");

    // Panics: the message, the process and the place.
    let panicking = exercise(&report, "unlocked-race");
    let why = seen(panicking, "no-panic");
    assert!(
        why.starts_with("deposit panicked at exercises/02-unlocked-race/src/lib.rs:"),
        "{why}"
    );
    assert!(why.ends_with("the vault is on fire (balance 600)"), "{why}");

    // Dies holding the lock: the other worker finds the holder dead.
    let dying = exercise(&report, "locked-bank");
    let why = seen(dying, "no-panic");
    assert!(why.contains("withdraw failed: holder died"), "{why}");
    assert!(why.contains("died holding the lock"), "{why}");

    // Deadlocks: who waits for what, at once (no timeout needed).
    let stuck = exercise(&report, "queue-drain");
    let why = seen(stuck, "no-hang");
    assert!(why.starts_with("deadlocked: "), "{why}");
    assert!(
        why.contains("waits in get on queue 'queue' (empty)"),
        "{why}"
    );
    assert!(
        why.contains("waits in acquire of lock 'lock' (held by"),
        "{why}"
    );
    assert_eq!(invariant(stuck, "no-hang")["broken"], 3);

    // Aborts: the signal's name.
    let aborting = exercise(&report, "reentrant-lock");
    assert_eq!(
        seen(aborting, "no-panic"),
        "the main process was killed by SIGABRT"
    );

    for e in report["exercises"].as_array().unwrap() {
        assert_eq!(e["status"], "failed", "{}", e["slug"]);
        assert_eq!(e["runs"], 3, "{}", e["slug"]);
    }
    w.assert_clean();
}

#[test]
fn limits_floods_and_garbage_are_named() {
    let w = Watched::new("resources");
    let fork_bomb = process_cap_available();
    let mut args = vec!["--runs", "3", "--timeout", "3"];
    if !fork_bomb {
        eprintln!("no pids cgroup here: the fork bomb is not run");
        args.extend(["2", "3", "4", "5"]);
    }
    let report = w.grade("faults/resources", &args);

    if fork_bomb {
        // Forks without end: the refused fork, and the cap that refused it.
        let bomb = exercise(&report, "sequential-bank");
        let why = seen(bomb, "no-panic");
        assert!(
            why.contains("refused: Resource temporarily unavailable"),
            "{why}"
        );
        assert!(why.contains("process limit ("), "{why}");
        assert!(why.ends_with("reached"), "{why}");
    }

    // Floods stdout: stopped, and said so.
    let flood = exercise(&report, "unlocked-race");
    let why = seen(flood, "clean-exit");
    assert!(why.starts_with("output flood: "), "{why}");
    assert!(why.contains("over the limit of 16 MiB"), "{why}");

    // Allocates without end: the abort, and the limit behind it.
    let hog = exercise(&report, "locked-bank");
    let why = seen(hog, "no-panic");
    assert!(why.starts_with("deposit was killed by SIGABRT"), "{why}");
    assert!(
        why.contains("address space limit (2048 MiB) reached"),
        "{why}"
    );

    // Writes garbage in its report: the line, and its start.
    let garbage = exercise(&report, "queue-drain");
    let why = seen(garbage, "clean-exit");
    assert!(why.starts_with("malformed report, line 3: "), "{why}");
    assert!(why.contains("all tests passed, trust me"), "{why}");
    assert_eq!(invariant(garbage, "no-hang")["status"], "not-checked");

    // Segfaults: the signal's name.
    let wild = exercise(&report, "reentrant-lock");
    assert_eq!(
        seen(wild, "no-panic"),
        "the main process was killed by SIGSEGV"
    );
    w.assert_clean();
}

#[test]
fn a_program_that_turns_on_its_parent_or_leaves_a_daemon_is_caught_and_cleaned_up() {
    let w = Watched::new("escapes");
    let report = w.grade("faults/escapes", &["--runs", "3", "--timeout", "3"]);

    // Kills its parent, the run's supervisor: the grader cleans up.
    let killer = exercise(&report, "sequential-bank");
    let why = seen(killer, "no-panic");
    assert!(
        why.starts_with("its parent, the grader's run supervisor, was killed during the run"),
        "{why}"
    );
    assert!(
        why.contains("the grader stopped the run and killed its processes"),
        "{why}"
    );
    assert_eq!(invariant(killer, "no-panic")["broken"], 3);

    // Leaves a daemon (double fork, setsid): found and killed.
    let daemon = exercise(&report, "unlocked-race");
    let why = seen(daemon, "clean-exit");
    assert!(
        why.starts_with("left a process running after the main process ended: pid "),
        "{why}"
    );
    assert!(why.ends_with("it was killed"), "{why}");

    // A worker kills its own parent, the program's main process.
    let orphan = exercise(&report, "locked-bank");
    assert_eq!(
        seen(orphan, "no-panic"),
        "the main process was killed by SIGKILL"
    );

    // Tells its supervisor to stop: not taken for the grader's Ctrl-C,
    // and every run is judged. (A supervisor that takes the signal stops
    // the run, and is replaced; one that ignores signals from the programs
    // it runs lets the program go on: its children then signal *their*
    // parent, the main process, the same way.)
    let signaller = exercise(&report, "reentrant-lock");
    let why = seen(signaller, "no-panic");
    assert!(
        why.starts_with("it signalled its parent, the grader's run supervisor, to stop")
            || why == "the main process was killed by SIGTERM",
        "{why}"
    );
    assert_eq!(signaller["runs"], 3);
    assert_eq!(invariant(signaller, "no-panic")["broken"], 3);
    assert!(report.get("interrupted").is_none(), "not an interrupt");

    assert_eq!(exercise(&report, "queue-drain")["status"], "missing");
    w.assert_clean();
}

#[test]
fn a_build_that_passes_its_limits_fails_its_exercise() {
    let w = Watched::new("build");
    let report = w.grade(
        "faults/build",
        &["1", "2", "--runs", "1", "--build-timeout", "10"],
    );
    let spinning = exercise(&report, "sequential-bank");
    assert_eq!(spinning["status"], "build-failed");
    assert_eq!(
        headline(spinning),
        "the build did not finish within its time limit (10 s) and was stopped"
    );
    let hog = exercise(&report, "unlocked-race");
    assert_eq!(hog["status"], "build-failed");
    let h = headline(hog);
    assert!(
        h.starts_with("the build reached its address space limit (4096 MiB): does not compile: "),
        "{h}"
    );
    assert!(h.contains("/dev/zero"), "{h}");
    assert_eq!(hog["runs"], 0);
    w.assert_clean();
}

#[test]
fn ctrl_c_stops_everything_and_reports_the_runs_so_far() {
    let w = Watched::new("ctrl-c");
    let mut cmd = std::process::Command::new(common::grader_path());
    cmd.current_dir(common::course_root())
        .env("NO_COLOR", "1")
        .env_remove("MULTIPROC_SCHED")
        .env(MARK, &w.mark)
        .env("TMPDIR", w.tmp.path())
        .args(["1", "--runs", "400", "--jobs", "2", "--seed", SEED])
        .args(["--format", "json", "--workspace"])
        .arg(fixture("faults/slow"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();

    // Wait until a few runs have been made (each has a directory of its
    // own in the session's temporary directory while it runs).
    let started = Instant::now();
    while !run_started(w.tmp.path(), 6) {
        assert!(started.elapsed() < BOUND, "no run started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupted_at = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        interrupted_at.elapsed() < Duration::from_secs(20),
        "the grader took {:?} to stop",
        interrupted_at.elapsed()
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out.stdout);
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["passed"], false);
    let bank = exercise(&report, "sequential-bank");
    assert_eq!(bank["status"], "interrupted");
    let runs = bank["runs"].as_u64().unwrap();
    assert!((4..400).contains(&runs), "{runs} runs");
    assert_eq!(
        headline(bank),
        format!("interrupted after {runs} of 400 runs; every invariant held so far")
    );
    // The runs that finished are judged; the ones cut short are not.
    for inv in bank["invariants"].as_array().unwrap() {
        assert_eq!(inv["held"], runs, "{}", inv["id"]);
        assert_eq!(inv["status"], "passed", "{}", inv["id"]);
    }
    w.assert_clean();
}

/// Whether run `index` of the session under `tmp` has started.
fn run_started(tmp: &Path, index: usize) -> bool {
    listing(tmp).iter().any(|session| {
        let runs = tmp.join(session).join("runs");
        listing(&runs)
            .iter()
            .filter_map(|r| r.rsplit('-').next()?.parse::<usize>().ok())
            .any(|i| i >= index)
    })
}

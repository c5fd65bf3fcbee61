//! A submission can do anything: loop, deadlock, panic, abort, segfault,
//! fork or allocate without end, flood its output, scribble on its report,
//! leave a daemon behind, kill its parent or its siblings, die holding the
//! lock, or make the compiler itself spin. Each of these gets a verdict that
//! names what happened, the grader finishes in bounded time, and afterwards
//! nothing of the session is left: no process, no temporary file, no
//! control group, nothing in /dev/shm.
//!
//! The fixtures (in `tests/fixtures/faults/`, several faults to a
//! submission, one per exercise, so that they share a staged build) use
//! `unsafe` and the parts of `std` that exercises may not. They are graded
//! without the language boundary (`--no-language-boundary`, a test-only
//! switch): what is shown here is what the run supervisor and the
//! sandbox do on their own.

use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

use common::{exercise, fixture, headline, invariant, json, seen, Watched, SEED};

/// A bound on one fault session, builds included (the first staged build
/// compiles the course's dependencies).
const BOUND: Duration = Duration::from_secs(600);

/// The grading options every fault session shares.
const UNCHECKED: &str = "--no-language-boundary";

#[test]
fn hangs_deadlocks_panics_and_crashes_are_named() {
    let w = Watched::new("crashes");
    let report = w.grade(
        &fixture("faults/crashes"),
        &[UNCHECKED, "--runs", "3", "--timeout", "2"],
    );

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
    assert!(why.contains("the vault is on fire (balance "), "{why}");

    // Dies holding the lock: the other worker finds the holder dead.
    let dying = exercise(&report, "locked-bank");
    let why = seen(dying, "no-panic");
    assert!(
        why.contains("withdraw returned an error: holder died"),
        "{why}"
    );
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
    let capped = common::is_root();
    let mut args = vec![UNCHECKED, "--runs", "3", "--timeout", "3"];
    if !capped {
        eprintln!(
            "not root: no control group caps a run's processes here, so the fork bomb is not run"
        );
        args.extend(["2", "3", "4", "5"]);
    }
    let report = w.grade(&fixture("faults/resources"), &args);

    if capped {
        // Forks without end: the refused fork, and the cap that refused it.
        let bomb = exercise(&report, "sequential-bank");
        let why = seen(bomb, "no-panic");
        assert!(
            why.contains("refused: Resource temporarily unavailable"),
            "{why}"
        );
        assert!(why.contains("process limit (64 at once) reached"), "{why}");
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

    // Writes garbage into its report pipe: the line, and its start.
    let garbage = exercise(&report, "queue-drain");
    let why = seen(garbage, "clean-exit");
    assert!(why.starts_with("malformed report, line "), "{why}");
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
    let report = w.grade(
        &fixture("faults/escapes"),
        &[UNCHECKED, "--runs", "3", "--timeout", "3"],
    );

    // Kills its parent, the box's supervisor: refused, and named. Without
    // a pid namespace the supervisor runs as another user, and the kill
    // is simply not allowed: the run goes on.
    let killer = exercise(&report, "sequential-bank");
    if common::is_root() {
        let why = seen(killer, "no-panic");
        assert!(
            why.starts_with("it made a system call the sandbox refuses (kill: a signal to the sandbox's supervisor)"),
            "{why}"
        );
        assert_eq!(invariant(killer, "no-panic")["broken"], 3);
    }

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

    // Tells its parent to stop: the main process's own parent is the
    // supervisor (refused, and named); a child's is the main process,
    // which the signal ends. Not taken for an interrupt of the grader.
    let signaller = exercise(&report, "reentrant-lock");
    let why = seen(signaller, "no-panic");
    assert!(
        why == "the main process was killed by SIGTERM"
            || why.starts_with("it made a system call the sandbox refuses (kill"),
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
        &fixture("faults/build"),
        &[UNCHECKED, "1", "2", "--runs", "1", "--build-timeout", "10"],
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
        .env(common::MARK, &w.mark)
        .env("TMPDIR", w.tmp.path())
        .args([
            UNCHECKED, "1", "--runs", "400", "--jobs", "2", "--seed", SEED,
        ])
        .args(["--format", "json", "--workspace"])
        .arg(fixture("faults/slow"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();

    // Wait until runs are being made (a run's processes carry the mark and
    // the exercise's name), then a little longer.
    let started = Instant::now();
    let entry = format!("{}={}", common::MARK, w.mark);
    while !common::marked(&entry)
        .iter()
        .any(|p| p.contains("(sequential-bank)") || p.contains("(sequential-ban"))
    {
        assert!(started.elapsed() < BOUND, "no run started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(800));
    // From its parent (this test): only the terminal and the parent may
    // interrupt a grader.
    let interrupted_at = Instant::now();
    common::interrupt(pid);
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
    assert!((1..400).contains(&runs), "{runs} runs");
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

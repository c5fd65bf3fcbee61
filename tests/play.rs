//! `grader play`, driven by scripted keys: every frame is drawn on
//! ratatui's test backend and printed (`--keys`), and the frames that
//! matter are compared with snapshots in `tests/snapshots/`.
//!
//! The processes are real: each key that moves one runs the exercise's
//! program again under a stepped schedule, in its box. The same choices
//! always bring the same frames, so the snapshots hold (the screen names
//! processes, never their pids).

mod common;

use common::{fixture, grader, Watched};

/// The frames `grader play` printed, each with the key it followed.
fn frames(stdout: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        if let Some(key) = line.strip_prefix("── ").and_then(|l| l.strip_suffix(" ──")) {
            out.push((key.to_string(), String::new()));
        } else if let Some((_, frame)) = out.last_mut() {
            frame.push_str(line);
            frame.push('\n');
        }
    }
    out
}

/// Plays `keys`; returns the frames and the lines printed after them.
fn play(args: &[&str], keys: &str) -> (Vec<(String, String)>, String) {
    let out = grader()
        .arg("play")
        .args(args)
        .args(["--keys", keys, "--size", "100x30"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tail: String = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Schedule played:"))
        .collect::<Vec<_>>()
        .join("\n");
    (frames(&stdout), tail)
}

/// The unlocked bank, played into a lost update: withdraw runs a whole
/// update and loads again; deposit loads the same balance and stores;
/// withdraw's store then writes over it. Undo takes the losing move back,
/// restart goes back to the beginning, and undo again undoes the restart.
#[test]
fn a_lost_update_played_by_hand() {
    let moves = format!(
        "g {} {} {} u r u q",
        ["2"; 12].join(" "),
        ["1"; 9].join(" "),
        ["2"; 6].join(" ")
    );
    let (frames, tail) = play(
        &["locked-bank", "--solutions", "--demo", "unlocked"],
        &moves,
    );
    let [.., lost, undone, restarted, _back, _quit] = frames.as_slice() else {
        panic!("too few frames: {}", frames.len());
    };
    let lost = &lost.1;
    assert!(
        lost.contains("→ withdraw's store 890 overwrote deposit's 924"),
        "{lost}"
    );
    assert!(lost.contains("✗ every update's load and store are inside one holding"));
    assert!(lost.contains("Trace so far (9 operations)"), "{lost}");
    assert!(
        undone.1.contains("Trace so far (8 operations)"),
        "{}",
        undone.1
    );
    assert!(
        restarted.1.contains("Trace so far (2 operations)"),
        "{}",
        restarted.1
    );
    insta::assert_snapshot!("play_lost_update", lost);
    insta::assert_snapshot!("play_first_frame", &frames[0].1);
    // The schedule played comes back by replay.
    assert!(
        tail.starts_with("Schedule played: 0.2x12.1x9.2x5"),
        "{tail}"
    );
    assert!(
        tail.contains("Replay it: cargo grade replay locked-bank --seed 1 --schedule"),
        "{tail}"
    );
}

/// A move that cannot be made is refused with the reason, and a key that
/// is none is named.
#[test]
fn refused_moves_say_why() {
    let (frames, _) = play(
        &["queue-drain", "--solutions", "--demo", "faulty"],
        "7 g 0 x q",
    );
    assert!(
        frames[1].1.contains("there is no process 7"),
        "{}",
        frames[1].1
    );
    assert!(
        frames[3]
            .1
            .contains("MainProcess cannot run: it waits in join"),
        "{}",
        frames[3].1
    );
    assert!(frames[4].1.contains("x: no such key"), "{}", frames[4].1);
}

/// A stub stops at its first call, and the screen names the function.
#[test]
fn a_stub_is_named() {
    let (frames, _) = play(&["locked-bank"], "1 q");
    let after = &frames[1].1;
    assert!(
        after.contains("deposit stopped: not implemented yet: deposit"),
        "{after}"
    );
}

/// A submission that does not build, or a demo that does not exist, is
/// named before any screen.
#[test]
fn bad_input_is_named() {
    let out = grader()
        .args(["play", "1", "--workspace"])
        .arg(fixture("mixed-bag"))
        .args(["--keys", "q"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sequential-bank cannot be played"), "{err}");
    assert!(err.contains("undefined_bonus"), "{err}");
    let out = grader()
        .args(["play", "3", "--solutions", "--demo", "nope", "--keys", "q"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown demonstration \"nope\""), "{err}");
}

/// Every move's processes are gone once the game ends.
#[test]
fn nothing_is_left_running() {
    let watched = Watched::new("play");
    watched
        .grader()
        .args(["play", "locked-bank", "--solutions", "--demo", "unlocked"])
        .args(["--keys", "1 2 g u q"])
        .assert()
        .success();
    watched.assert_clean();
}

/// The frame before quitting, after `keys` played on exercise 2 of the
/// fault fixture `faults/NAME`.
fn last_frame(name: &str, keys: &str) -> String {
    let workspace = fixture("faults").join(name).display().to_string();
    let (frames, _) = play(&["unlocked-race", "--workspace", &workspace], keys);
    frames[frames.len() - 2].1.clone()
}

/// A process that panics is shown as dead, with its message, and the
/// others play on.
#[test]
fn a_process_that_panics_is_shown_dead() {
    let last = last_frame("crashes", "1 1 1 1 1 q");
    assert!(
        last.contains("[1] deposit      panicked: the vault is on fire"),
        "{last}"
    );
    assert!(
        last.contains("deposit panicked: the vault is on fire (balance "),
        "{last}"
    );
    assert!(last.contains("[0] MainProcess  next:"), "{last}");
}

/// A child killed by a signal that nobody waited for (a stack overflow
/// aborts it) is shown dead with the signal the kernel reported, not as
/// having ended, and the others play on.
#[test]
fn a_process_killed_by_a_signal_is_shown_dead() {
    let last = last_frame("play", "1 1 q");
    assert!(
        last.contains("[1] deposit      killed by SIGABRT"),
        "{last}"
    );
    assert!(last.contains("[0] MainProcess  next:"), "{last}");
    assert!(last.contains("[2] withdraw     next:"), "{last}");
}

/// A move after which a process never reaches its next step (it spins
/// between two) is stopped at the deadline and named, with the process
/// still running and the trace before the move; undo takes the move
/// back, and nothing is left running.
#[test]
fn a_move_that_hangs_is_named_and_can_be_undone() {
    let faults = fixture("faults").join("play");
    let watched = Watched::new("play-hang");
    let out = watched
        .grader()
        .args(["play", "locked-bank", "--workspace"])
        .arg(&faults)
        .args(["--timeout", "1", "--keys", "g 2 2 u q", "--size", "100x30"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let frames = frames(&String::from_utf8_lossy(&out));
    let keys: Vec<&str> = frames.iter().map(|(k, _)| k.as_str()).collect();
    let hung = &frames[keys.iter().rposition(|k| *k == "key 2").unwrap()].1;
    assert!(hung.contains("the run went wrong: the move hung"), "{hung}");
    // The trace up to the move stays, and each process says where the
    // deadline found it: the one that spins still running.
    assert!(hung.contains("Trace so far (2 operations)"), "{hung}");
    assert!(hung.contains("[2] withdraw     hung: running"), "{hung}");
    let undone = &frames[keys.iter().position(|k| *k == "key u").unwrap()].1;
    assert!(undone.contains("your move"), "{undone}");
    assert!(undone.contains("[2] withdraw     next: pause"), "{undone}");
    watched.assert_clean();
}

/// Ctrl-C from the parent during a move that hangs ends the game at once:
/// the move's processes are killed, the schedule played so far is printed,
/// and nothing is left running.
#[test]
fn ctrl_c_during_a_move_ends_the_game_and_leaves_nothing() {
    use std::time::{Duration, Instant};
    let watched = Watched::new("play-ctrl-c");
    let child = std::process::Command::new(common::grader_path())
        .current_dir(common::course_root())
        .env(common::MARK, &watched.mark)
        .env("TMPDIR", watched.tmp.path())
        .env("NO_COLOR", "1")
        .args(["play", "locked-bank", "--workspace"])
        .arg(fixture("faults").join("play"))
        .args(["--timeout", "300", "--keys", "g 2 2 q", "--size", "100x30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the move that spins is under way: withdraw's process runs,
    // carrying the mark.
    let started = Instant::now();
    let entry = format!("{}={}", common::MARK, watched.mark);
    while common::marked(&entry).len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no move started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The first moves take a fraction of a second; the spinning one runs
    // until its deadline.
    std::thread::sleep(Duration::from_secs(3));
    let interrupted_at = Instant::now();
    common::interrupt(child.id());
    let out = child.wait_with_output().unwrap();
    // Far sooner than the move's deadline of 300 s.
    assert!(
        interrupted_at.elapsed() < Duration::from_secs(60),
        "play took {:?} to stop",
        interrupted_at.elapsed()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the run went wrong: interrupted (Ctrl-C)"),
        "{stdout}"
    );
    assert!(stdout.contains("Schedule played:"), "{stdout}");
    watched.assert_clean();
}

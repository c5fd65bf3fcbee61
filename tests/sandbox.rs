//! The sandbox on its own: attacks on the grader, the machine and other
//! students, built without the language boundary (`--no-language-boundary`)
//! so that they compile, and graded as root, as Gradescope and CI grade.
//! Each must be contained: the verdict is the one the submission earns
//! (or names the attack), other students' results are unchanged, nothing
//! is left behind (no process, control group, file or shared memory), and
//! no secret reaches any output.
//!
//! These tests need root (namespaces, control groups, a uid of its own)
//! and say so and skip without it.

use std::fs;
use std::path::Path;
use std::time::Duration;

mod common;

use common::{exercise, headline, invariant, seen, submission, Watched};

const UNCHECKED: &str = "--no-language-boundary";

/// A correct exercise 1, into which an attack is put before the
/// arithmetic: `ATTACK` is replaced.
const BANK: &str = "
#[allow(unused_unsafe, unused_imports)]
pub fn deposit(balance: i64, amount: i64, steps: u32) -> i64 {
    ATTACK
    balance + amount * steps as i64
}
pub fn withdraw(balance: i64, amount: i64, steps: u32) -> i64 {
    balance - amount * steps as i64
}
extern \"C\" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn setns(fd: i32, nstype: i32) -> i32;
    fn fork() -> i32;
    fn setsid() -> i32;
    fn _exit(code: i32) -> !;
    fn getppid() -> i32;
}
";

fn bank(attack: &str) -> String {
    BANK.replace("ATTACK", attack)
}

/// Grades exercise 1 of a submission with `source`, without the language
/// boundary, 3 runs, each with a 5 s deadline unless `extra` sets one.
fn grade_bank(w: &Watched, source: &str, extra: &[&str]) -> serde_json::Value {
    let dir = submission(&[("01-sequential-bank", source)]);
    let mut args = vec![UNCHECKED, "1", "--runs", "3"];
    if !extra.contains(&"--timeout") {
        args.extend_from_slice(&["--timeout", "5"]);
    }
    args.extend_from_slice(extra);
    let report = w.grade_any(dir.path(), &args);
    exercise(&report, "sequential-bank").clone()
}

/// No output of a session holds the machine's secrets.
fn no_secret(text: &str) {
    if let Ok(shadow) = fs::read_to_string("/etc/shadow") {
        for line in shadow.lines().filter(|l| l.contains(":$")) {
            let hash = line.split(':').nth(1).unwrap_or_default();
            assert!(!text.contains(hash), "a password hash reached the output");
        }
        assert!(
            !text.contains("root:*:") && !text.contains("daemon:*:"),
            "/etc/shadow reached the output"
        );
    }
}

#[test]
fn reading_secrets_finds_nothing_at_run_time_or_at_build_time() {
    if !common::root_or_skip() {
        return;
    }
    let w = Watched::new("secrets");
    // Run time: /etc/shadow, the solutions and the grader's memory are not
    // in the box. A read that worked would be put in the verdict.
    let reader = bank(
        "for path in [\"/etc/shadow\", \"/root/.bash_history\", \"/proc/1/mem\"] {
            if let Ok(text) = std::fs::read(path) {
                panic!(\"{path}: {}\", String::from_utf8_lossy(&text));
            }
        }
        let course = std::path::Path::new(env!(\"CARGO_MANIFEST_DIR\")).join(\"../../../../../solutions\");
        if course.exists() { panic!(\"the solutions are visible\"); }",
    );
    let ex = grade_bank(&w, &reader, &[]);
    no_secret(&ex.to_string());
    assert_eq!(ex["status"], "passed", "{ex}");

    // Build time: the compiler, reading a file for a macro, sees only the
    // course.
    let builder = bank("").replace(
        "pub fn withdraw",
        "pub const SECRET: &str = include_str!(\"/etc/shadow\");\npub fn withdraw",
    );
    let ex = grade_bank(&w, &builder, &[]);
    no_secret(&ex.to_string());
    assert_eq!(ex["status"], "build-failed", "{ex}");
    assert!(
        headline(&ex).contains("couldn't read `/etc/shadow`"),
        "{ex}"
    );
    w.assert_clean();
}

#[test]
fn the_network_and_the_graders_namespaces_are_out_of_reach() {
    if !common::root_or_skip() {
        return;
    }
    let w = Watched::new("setns");
    // No network; and setns, to any namespace, is refused and named.
    let escaper = bank(
        "if std::net::TcpStream::connect(\"127.0.0.1:22\").is_ok() { panic!(\"connected\"); }
        for pid in [1, 2, 3] {
            if let Ok(f) = std::fs::File::open(format!(\"/proc/{pid}/ns/net\")) {
                use std::os::fd::AsRawFd;
                unsafe { setns(f.as_raw_fd(), 0) };
            }
        }
        unsafe { setns(-1, 0) };",
    );
    let ex = grade_bank(&w, &escaper, &[]);
    let why = seen(&ex, "no-panic");
    assert_eq!(
        why,
        "it made a system call the sandbox refuses (setns); the run was stopped"
    );
    w.assert_clean();
}

#[test]
fn the_supervisor_and_the_grader_cannot_be_stopped_from_inside() {
    if !common::root_or_skip() {
        return;
    }
    let w = Watched::new("stop");
    // SIGSTOP to the supervisor (the box's init): refused and named; the
    // grader goes on.
    let stopper = bank("unsafe { kill(getppid(), 19) };");
    let ex = grade_bank(&w, &stopper, &[]);
    assert!(
        seen(&ex, "no-panic").starts_with("it made a system call the sandbox refuses (kill: a signal to the sandbox's supervisor)"),
        "{ex}"
    );
    assert_eq!(ex["runs"], 3);

    // SIGINT to every process it can reach, and to its process group:
    // only the run's own are reached (not the fork server, which shares
    // the group but not the run's Landlock domain); the grader is not
    // interrupted and judges every run.
    let interrupter = bank("unsafe { kill(-1, 2); kill(0, 2) };");
    let dir = submission(&[("01-sequential-bank", &interrupter)]);
    let report = w.grade_any(
        dir.path(),
        &[UNCHECKED, "1", "--runs", "3", "--timeout", "5"],
    );
    assert!(report.get("interrupted").is_none(), "{report}");
    let ex = exercise(&report, "sequential-bank");
    assert_eq!(ex["runs"], 3);
    assert_eq!(
        seen(ex, "no-panic"),
        "the main process was killed by SIGINT"
    );
    w.assert_clean();
}

#[test]
fn a_daemon_does_not_outlive_its_run_nor_the_grader() {
    if !common::root_or_skip() {
        return;
    }
    let w = Watched::new("daemon");
    // Double fork, setsid, then wait for the grader to be gone and write
    // over its results: killed with its run, and named.
    let daemon = bank(
        "if unsafe { fork() } == 0 {
            unsafe { setsid() };
            if unsafe { fork() } == 0 {
                std::thread::sleep(std::time::Duration::from_secs(3));
                let _ = std::fs::write(\"/tmp/rewritten\", \"100/100\");
                unsafe { _exit(0) };
            }
            unsafe { _exit(0) };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));",
    );
    let ex = grade_bank(&w, &daemon, &[]);
    let why = seen(&ex, "clean-exit");
    assert!(
        why.starts_with("left a process running after the main process ended"),
        "{why}"
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(!Path::new("/tmp/rewritten").exists());
    w.assert_clean();
}

#[test]
fn limits_hold_for_the_whole_run_and_cannot_be_raised() {
    if !common::root_or_skip() {
        return;
    }
    let w = Watched::new("limits");
    // Raises its own limits (no /sys to write; setrlimit above the hard
    // limit is refused), then forks 80 processes: the 64 cap holds.
    let raiser = bank(
        "let _ = std::fs::write(\"/sys/fs/cgroup/pids/pids.max\", \"max\");
        let _ = std::fs::write(\"/sys/fs/cgroup/pids/cgroup.procs\", std::process::id().to_string());
        let mut made = 0;
        for _ in 0..80 {
            match unsafe { fork() } {
                0 => { std::thread::sleep(std::time::Duration::from_secs(2)); unsafe { _exit(0) } }
                pid if pid > 0 => made += 1,
                _ => break,
            }
        }
        if made >= 64 { panic!(\"made {made} processes\"); }
        panic!(\"fork refused after {made}\");",
    );
    let ex = grade_bank(&w, &raiser, &[]);
    let why = seen(&ex, "no-panic");
    assert!(why.contains("fork refused after"), "{why}");
    assert!(why.contains("process limit (64 at once) reached"), "{why}");

    // Memory spread over several processes: 3 × 1 GiB under a 2 GiB limit
    // for the run as a whole (each is under its own 2 GiB address space).
    let hog = bank(
        "for _ in 0..2 { if unsafe { fork() } == 0 { break; } }
        let v = vec![7u8; 1 << 30];
        std::thread::sleep(std::time::Duration::from_millis(500));
        std::hint::black_box(&v);",
    );
    // Writing 3 GiB is slow on a loaded machine: a generous deadline, so
    // that the limit, not the clock, ends the run.
    let ex = grade_bank(&w, &hog, &["--timeout", "60"]);
    let text = ex.to_string();
    assert!(
        text.contains("memory limit (2048 MiB for the whole run) reached"),
        "{text}"
    );
    assert_ne!(ex["status"], "passed");
    w.assert_clean();
}

#[test]
fn the_course_and_the_machine_are_read_only_and_leftovers_are_named() {
    if !common::root_or_skip() {
        return;
    }
    let w = Watched::new("writes");
    let course = common::course_root();
    let driver = course.join("scenarios/src/common.rs");
    let grader = common::grader_path();
    let before = (fs::read(&driver).unwrap(), fs::read(grader).unwrap());
    // Writes the course's driver, the grader, cargo's home; fills /tmp and
    // leaves a file in /dev/shm.
    let writer = bank(&format!(
        "for path in [{:?}, {:?}, \"/root/.cargo/config.toml\", \"/usr/bin/cc\"] {{
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(path) {{
                let _ = f.write_all(b\"// written by a submission\");
            }}
        }}
        for i in 0..6 {{ let _ = std::fs::write(format!(\"/tmp/big{{i}}\"), vec![1u8; 60 << 20]); }}
        let _ = std::fs::write(\"/dev/shm/left-behind\", b\"x\");",
        driver.display().to_string(),
        grader.display().to_string()
    ));
    let ex = grade_bank(&w, &writer, &[]);
    assert_eq!(
        seen(&ex, "clean-exit"),
        "left files behind in /dev/shm: /dev/shm/left-behind (they were removed)"
    );
    assert_eq!(invariant(&ex, "no-panic")["status"], "passed");
    let after = (fs::read(&driver).unwrap(), fs::read(grader).unwrap());
    assert!(before == after, "the course or the grader was written to");
    w.assert_clean();
}

#[test]
fn in_a_batch_one_student_cannot_touch_the_others() {
    if !common::root_or_skip() {
        return;
    }
    let w = Watched::new("batch");
    let class = tempfile::tempdir().unwrap();
    let course = common::course_root();
    for honest in ["alice", "bob"] {
        let dir = class
            .path()
            .join(honest)
            .join("exercises/01-sequential-bank/src");
        fs::create_dir_all(&dir).unwrap();
        fs::copy(
            course.join("solutions/01-sequential-bank/src/lib.rs"),
            dir.join("lib.rs"),
        )
        .unwrap();
    }
    let output = tempfile::tempdir().unwrap();
    // Mallory kills every process she can, reads and writes the other
    // students' folders and the output, and leaves a daemon to rewrite
    // the class table once the grader is gone.
    let mallory = bank(&format!(
        "unsafe {{ kill(-1, 9) }};
        for dir in [{class:?}, {out:?}] {{
            if let Ok(entries) = std::fs::read_dir(dir) {{
                for e in entries.flatten() {{ let _ = std::fs::remove_dir_all(e.path()); }}
            }}
        }}
        if unsafe {{ fork() }} == 0 {{
            unsafe {{ setsid() }};
            std::thread::sleep(std::time::Duration::from_secs(2));
            let _ = std::fs::write(std::path::Path::new({out:?}).join(\"class.csv\"), \"mallory,100\");
            unsafe {{ _exit(0) }};
        }}",
        class = class.path().display().to_string(),
        out = output.path().display().to_string(),
    ));
    let dir = class
        .path()
        .join("mallory/exercises/01-sequential-bank/src");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("lib.rs"), mallory).unwrap();
    w.grader()
        .args(["batch"])
        .arg(class.path())
        .args(["1", "--runs", "5", "--jobs", "3", "--seed", "7", UNCHECKED])
        .arg("--output")
        .arg(output.path())
        .assert()
        .code(0);
    std::thread::sleep(Duration::from_secs(3));
    let table = fs::read_to_string(output.path().join("class.csv")).unwrap();
    let row = |who: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(who))
            .unwrap_or_else(|| panic!("no row for {who}: {table}"))
            .split(',')
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("alice")[1], "20", "{table}");
    assert_eq!(row("bob")[1], "20", "{table}");
    assert_ne!(row("mallory")[1], "20", "{table}");
    assert!(class.path().join("alice/exercises").exists());
    w.assert_clean();
}

//! Forged grades: submissions written as a hostile student would write
//! them, to pass without doing the work. Each one must fail, with a
//! verdict that names the attack, and each layer is shown on its own:
//!
//! - **the language boundary** refuses the file before it is built (the
//!   sandbox is switched off for those cases, with `--no-sandbox`, to show
//!   that the refusal needs nothing else);
//! - **the evidence checks** reject a report that contradicts what the
//!   grader sent or what the kernel saw (the language boundary is switched
//!   off, with `--no-language-boundary`, so that the forgery compiles);
//! - **staging** never reaches past the submission's own files: links are
//!   not followed, and the course's solutions are not in the staged copy.
//!
//! The sandbox's own tests are in `sandbox.rs`.

use std::os::unix::fs::symlink;

mod common;

use common::{exercise, headline, seen, submission, Watched};

const EX1: &str = "01-sequential-bank";
const EX3: &str = "03-locked-bank";

/// A correct exercise 1, for attacks that add something to it.
const BANK: &str = "
pub fn deposit(balance: i64, amount: i64, steps: u32) -> i64 {
    balance + amount * steps as i64
}
pub fn withdraw(balance: i64, amount: i64, steps: u32) -> i64 {
    balance - amount * steps as i64
}
";

/// Grades exercise 1 of a one-file submission with `args`; returns the
/// exercise's part of the JSON report.
fn grade_one(w: &Watched, exercise_dir: &str, source: &str, args: &[&str]) -> serde_json::Value {
    let dir = submission(&[(exercise_dir, source)]);
    let number = &exercise_dir[..2];
    let mut all = vec![number, "--runs", "3"];
    all.extend_from_slice(args);
    let report = w.grade(dir.path(), &all);
    let slug = &exercise_dir[3..];
    exercise(&report, slug).clone()
}

/// The language boundary refuses each of these before anything is built:
/// the verdict is "refused at build", with the file, the line, the column
/// and the item, and why.
#[test]
fn the_language_boundary_refuses_every_forbidden_api_by_name() {
    let w = Watched::new("boundary");
    let bank_with = |extra: &str| format!("{BANK}\n{extra}\n");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unsafe",
            bank_with("pub fn f() -> u8 { unsafe { *std::ptr::null::<u8>() } }"),
            "`unsafe` is not available in exercises",
        ),
        (
            "std::fs",
            bank_with("pub fn f() { let _ = std::fs::read_to_string(\"/etc/shadow\"); }"),
            "`std::fs` is not available in exercises",
        ),
        (
            "std::process",
            bank_with("pub fn f() { std::process::exit(0) }"),
            "`std::process::exit` is not available in exercises",
        ),
        (
            "std::env",
            bank_with("pub fn f() { let _ = std::env::var(\"HOME\"); }"),
            "`std::env` is not available in exercises",
        ),
        (
            "std::os",
            bank_with("use std::os::unix::process::parent_id;"),
            "`std::os` is not available in exercises",
        ),
        (
            "std::net",
            bank_with("pub fn f() { let _ = std::net::TcpStream::connect(\"127.0.0.1:1\"); }"),
            "`std::net` is not available in exercises",
        ),
        (
            "stdin",
            bank_with("pub fn f() { let _ = std::io::stdin(); }"),
            "`std::io::stdin` is not available in exercises",
        ),
        (
            "threads",
            bank_with("pub fn f() { std::thread::spawn(|| {}); }"),
            "`std::thread::spawn` is not available in exercises",
        ),
        (
            "an alias of std",
            bank_with("use std as s;\npub fn f() { let _ = s::fs::read(\"x\"); }"),
            "`std::fs` is not available in exercises",
        ),
        (
            "the scheduler",
            bank_with("pub fn f() { let _ = multiproc::sched::configure(&multiproc::sched::Mode::Free); }"),
            "`multiproc::sched` is part of the course's runtime",
        ),
        (
            "the trace",
            bank_with("pub fn f() { multiproc::trace::mark(1, 2); }"),
            "`multiproc::trace` is part of the course's runtime",
        ),
        (
            "a constructor",
            bank_with("#[used]\n#[link_section = \".init_array\"]\nstatic C: fn() = f;\nfn f() {}"),
            "changes how the program is linked",
        ),
        (
            "a symbol",
            bank_with("#[no_mangle]\npub extern \"C\" fn main() {}"),
            "changes how the program is linked",
        ),
        (
            "extern",
            bank_with("extern \"C\" { fn system(c: *const u8) -> i32; }"),
            "extern",
        ),
        (
            "asm",
            bank_with("std::arch::global_asm!(\"nop\");"),
            "global_asm",
        ),
        (
            "#[path]",
            bank_with("#[path = \"../../../solutions/01-sequential-bank/src/lib.rs\"]\nmod r;"),
            "`#[path]` reads another file",
        ),
        (
            "include_str!",
            bank_with("pub const S: &str = include_str!(\"/etc/shadow\");"),
            "`include_str!` reads another file",
        ),
        (
            "env!",
            bank_with("pub const S: &str = env!(\"HOME\");"),
            "env",
        ),
        (
            "mod util;",
            bank_with("mod util;"),
            "exercises are graded one file each",
        ),
    ];
    for (what, source, said) in &cases {
        let ex = grade_one(&w, EX1, source, &["--no-sandbox"]);
        assert_eq!(ex["status"], "refused", "{what}: {ex}");
        let h = headline(&ex);
        assert!(
            h.starts_with("refused at build: exercises/01-sequential-bank/src/lib.rs:"),
            "{what}: {h}"
        );
        assert!(h.contains(said), "{what}: {h}");
        assert_eq!(ex["runs"], 0, "{what}: nothing ran");
    }
    w.assert_clean();
}

/// A constructor (code in `.init_array`, run before `main`) that plays
/// the fork server itself and answers every run with a made-up report:
/// the language boundary refuses it by name, and so does the check of
/// the compiled code, which looks at what the compiler made whatever the
/// source did.
#[test]
fn code_that_runs_before_main_is_refused_before_it_runs() {
    let w = Watched::new("constructor");
    let forger = format!(
        "{BANK}
#[used]
#[link_section = \".init_array\"]
static BEFORE_MAIN: extern \"C\" fn() = forge;
extern \"C\" fn forge() {{
    // Would take over the fork server's socket and answer with a report
    // of its own; it never gets to run.
    std::process::exit(0);
}}
"
    );
    let refused = grade_one(&w, EX1, &forger, &["--no-sandbox"]);
    assert_eq!(refused["status"], "refused", "{refused}");
    assert!(
        headline(&refused).contains("`#[used]`")
            || headline(&refused).contains("`#[link_section]`"),
        "{refused}"
    );

    // Without the check of the source (and with `unsafe` let through),
    // the compiled library still holds the constructor: refused after
    // the build, and never run.
    let ex = grade_one(
        &w,
        EX1,
        &forger,
        &["--no-language-boundary", "--no-sandbox"],
    );
    assert_eq!(ex["status"], "refused", "{ex}");
    let h = headline(&ex);
    assert!(
        h.starts_with("refused after the build: the compiled code holds code that runs before main (section .init_array"),
        "{h}"
    );
    assert_eq!(ex["runs"], 0);
    w.assert_clean();
}

/// The report is the program's claim, checked against the grader's own
/// copy of the run's configuration and the kernel's account of the run.
/// With the language boundary off, so that the forgeries compile, each
/// is rejected by those checks, by name.
#[test]
fn forged_reports_are_rejected_by_name() {
    let w = Watched::new("forged");
    // A second header, giving `steps: 0` (nothing to compute), written
    // into the report pipe the program inherits.
    let second_header = format!(
        "{BANK}
fn forge() {{
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let header = b\"{{\\\"record\\\":\\\"header\\\",\\\"exercise\\\":\\\"sequential-bank\\\",\\\"mode\\\":\\\"free\\\",\\\"pid\\\":1,\\\"cpus\\\":1,\\\"time_scale\\\":0.0,\\\"seed\\\":0,\\\"params\\\":{{\\\"start\\\":0,\\\"amount\\\":0,\\\"steps\\\":0}}}}\\n\";
    for fd in 3..64 {{
        let kind = std::fs::read_link(format!(\"/proc/self/fd/{{fd}}\"));
        if kind.is_ok_and(|k| k.to_string_lossy().starts_with(\"pipe:\")) {{
            let mut f = unsafe {{ std::fs::File::from_raw_fd(fd) }};
            let _ = f.write_all(header);
            std::mem::forget(f);
        }}
    }}
}}
pub fn record() {{ forge() }}
"
    )
    .replace(
        "pub fn deposit(balance: i64, amount: i64, steps: u32) -> i64 {\n",
        "pub fn deposit(balance: i64, amount: i64, steps: u32) -> i64 {\n    forge();\n",
    );
    let ex = grade_one(&w, EX1, &second_header, &["--no-language-boundary"]);
    assert_eq!(ex["status"], "failed", "{ex}");
    let why = seen(&ex, "clean-exit");
    assert!(
        why.starts_with("report rejected: a second header, at line 2"),
        "{why}"
    );
    assert_eq!(
        common::invariant(&ex, "after-deposit")["status"],
        "not-checked"
    );

    // A program that reports children it never had: the kernel's pids say
    // otherwise (the box's pid namespace hands them out in order).
    if common::is_root() {
        let invented = "
use multiproc::{Lock, LockError, Value};
pub fn deposit(b: &Value<i64>, l: &Lock, amount: i64, steps: u32) -> Result<(), LockError> {
    for _ in 0..steps { let _g = l.guard()?; b.update(|x| x + amount); }
    Ok(())
}
pub fn withdraw(b: &Value<i64>, l: &Lock, amount: i64, steps: u32) -> Result<(), LockError> {
    for _ in 0..steps { let _g = l.guard()?; b.update(|x| x - amount); }
    // A helper process the report does not mention (waited for: nothing
    // is left running).
    unsafe extern \"C\" { fn fork() -> i32; fn _exit(code: i32) -> !; fn waitpid(p: i32, s: *mut i32, o: i32) -> i32; }
    let pid = unsafe { fork() };
    if pid == 0 { unsafe { _exit(0) } }
    unsafe { waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(())
}
";
        let ex = grade_one(&w, EX3, invented, &["--no-language-boundary"]);
        let why = seen(&ex, "clean-exit");
        assert!(
            why.starts_with("report rejected: the run made 4 processes"),
            "{why}"
        );
        assert!(why.contains("is unaccounted for"), "{why}");
    }
    w.assert_clean();
}

/// Switching the scheduler off from inside a run: the mode is fixed
/// before the first fork, so the call is refused (and with the language
/// boundary on, it never compiles). The faulty drain still deadlocks.
#[test]
fn the_scheduling_mode_cannot_be_changed_by_the_graded_code() {
    let w = Watched::new("mode");
    let escape = "
use multiproc::sched::{configure, Mode};
use multiproc::{Lock, Queue, QueueError};
pub fn drain(queue: &Queue<u32>, _lock: &Lock) -> Result<Vec<u32>, QueueError> {
    let _ = configure(&Mode::Free);
    let mut taken = Vec::new();
    while !queue.empty() {
        taken.push(queue.get()?);
    }
    Ok(taken)
}
";
    let refused = grade_one(&w, "04-queue-drain", escape, &["--no-sandbox"]);
    assert_eq!(refused["status"], "refused", "{refused}");
    assert!(
        headline(&refused).contains("`multiproc::sched`"),
        "{refused}"
    );

    let dir = submission(&[("04-queue-drain", escape)]);
    let report = w.grade(dir.path(), &["4", "--runs", "20", "--no-language-boundary"]);
    let ex = exercise(&report, "queue-drain");
    assert_eq!(ex["mode"], "controlled");
    assert_eq!(ex["status"], "failed", "{ex}");
    let hung = common::invariant(ex, "no-hang")["broken"].as_u64().unwrap();
    assert!(hung > 0, "the faulty drain still deadlocks: {ex}");
    w.assert_clean();
}

/// Staging takes the submission's own files and nothing else: a link in
/// any component of a path is refused and named, and the course's
/// solutions are not in the staged copy for `#[path]` to reach.
#[test]
fn staging_follows_no_link_and_holds_no_solution() {
    let w = Watched::new("staging");
    let course = common::course_root();
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("exercises");
    std::fs::create_dir_all(ex.join(EX1)).unwrap();
    // A link as a directory on the way to the file...
    symlink(
        course.join("solutions/01-sequential-bank/src"),
        ex.join(EX1).join("src"),
    )
    .unwrap();
    // ...as the exercise's directory...
    symlink(course.join("solutions/03-locked-bank"), ex.join(EX3)).unwrap();
    // ...and as the file itself.
    std::fs::create_dir_all(ex.join("04-queue-drain/src")).unwrap();
    symlink(
        course.join("solutions/04-queue-drain/src/lib.rs"),
        ex.join("04-queue-drain/src/lib.rs"),
    )
    .unwrap();
    let report = w.grade(dir.path(), &["1", "3", "4", "--runs", "1", "--no-sandbox"]);
    for (slug, link) in [
        (
            "sequential-bank",
            "`exercises/01-sequential-bank/src` is a symbolic link",
        ),
        (
            "locked-bank",
            "`exercises/03-locked-bank` is a symbolic link",
        ),
        ("queue-drain", "it is a symbolic link"),
    ] {
        let e = exercise(&report, slug);
        assert_eq!(e["status"], "missing", "{slug}: {e}");
        assert!(headline(e).contains(link), "{slug}: {}", headline(e));
    }

    // With the language boundary off, `#[path]` to a solution compiles
    // against the staged copy, where there is none.
    let reach =
        "#[path = \"../../../solutions/01-sequential-bank/src/lib.rs\"]\nmod r;\npub use r::*;\n";
    let e = grade_one(&w, EX1, reach, &["--no-language-boundary"]);
    assert_eq!(e["status"], "build-failed", "{e}");
    let h = headline(&e);
    assert!(
        h.contains("couldn't read") && h.contains("solutions/"),
        "{h}"
    );
    w.assert_clean();
}

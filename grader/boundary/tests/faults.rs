//! The course's fault fixtures (`tests/fixtures/faults/`) test the grader's
//! supervisor: crashes, escapes, floods, endless builds. Those that name
//! something outside the student API are now stopped before they are
//! compiled; those that misbehave with allowed means only (a panic, a
//! deadlock, a flood of output, endless allocation) still need the
//! supervisor. This pins which is which, and what each refusal names.

mod common;

use common::{files, repo, verdict};

/// Each fault fixture, by its path under `tests/fixtures/faults/`, with the
/// items refused in it (empty: accepted).
const EXPECTED: &[(&str, &[&str])] = &[
    ("build/exercises/01-sequential-bank", &[]),
    ("build/exercises/02-unlocked-race", &["include_bytes!"]),
    (
        "crashes/exercises/01-sequential-bank",
        &["std::hint::black_box"],
    ),
    ("crashes/exercises/02-unlocked-race", &[]),
    ("crashes/exercises/03-locked-bank", &["std::process::exit"]),
    ("crashes/exercises/04-queue-drain", &[]),
    (
        "crashes/exercises/05-reentrant-lock",
        &["std::process::abort"],
    ),
    (
        "escapes/exercises/01-sequential-bank",
        &["extern \"C\" { ... }", "unsafe"],
    ),
    (
        "escapes/exercises/02-unlocked-race",
        &[
            "std::process::Command",
            "std::process::Stdio",
            "Command::new",
            "Stdio::null",
        ],
    ),
    (
        "escapes/exercises/03-locked-bank",
        &[
            "std::process::Command",
            "std::os::unix::process::parent_id",
            "Command::new",
        ],
    ),
    (
        "escapes/exercises/05-reentrant-lock",
        &[
            "std::os::unix::process::parent_id",
            "std::process::Command::new",
        ],
    ),
    (
        "resources/exercises/01-sequential-bank",
        &["multiproc::Process", "Process::start"],
    ),
    ("play/exercises/02-unlocked-race", &[]),
    ("play/exercises/03-locked-bank", &[]),
    ("resources/exercises/02-unlocked-race", &[]),
    ("resources/exercises/03-locked-bank", &[]),
    (
        "resources/exercises/04-queue-drain",
        &[
            "std::os::fd::FromRawFd",
            "std::fs::read_dir",
            "std::fs::read_link",
            "unsafe",
            "std::fs::File::from_raw_fd",
            "std::mem::forget",
        ],
    ),
    (
        "resources/exercises/05-reentrant-lock",
        &["unsafe", "std::ptr::write_volatile"],
    ),
    ("slow/exercises/01-sequential-bank", &[]),
];

#[test]
fn each_fault_is_refused_for_what_it_names_or_accepted() {
    let faults = repo().join("tests/fixtures/faults");
    let found = files("tests/fixtures/faults/*/exercises/*/src/lib.rs");
    assert_eq!(
        found.len(),
        EXPECTED.len(),
        "a fault fixture was added or removed: {found:?}"
    );
    for (dir, items) in EXPECTED {
        let path = faults.join(dir).join("src/lib.rs");
        let v = verdict(&std::fs::read_to_string(&path).unwrap());
        let refused: Vec<&str> = v.refusals.iter().map(|r| r.item.as_str()).collect();
        assert_eq!(&refused, items, "{dir}:\n{v}");
    }
}

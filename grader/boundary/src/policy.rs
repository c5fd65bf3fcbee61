//! What a submission may name: the course's policy, as lists.
//!
//! Everything a reviewer needs to audit is in the tables at the top of this
//! file: which crates lead outside the student's file, which paths of them
//! are allowed, which macros, attributes and derives, and the one sentence
//! a student reads for each thing that is refused.

/// Names that, first in a path, lead outside the student's file. A path
/// that starts with one of them is checked against [`ALLOWED`]; any other
/// path is the student's own. All are treated as crates, whether or not the
/// exercise crate can actually reach them: a name that does not resolve
/// costs nothing to refuse, and one that does must not slip through.
#[rustfmt::skip]
const CRATES: &[&str] = &[
    "std", "core", "alloc", "proc_macro", "test", // the toolchain's crates
    "multiproc", "scenarios", "course_report", "boundary", "grader", // the course's
    "nix", "libc", "serde", "serde_json", // the course's dependencies
];

/// `core` is the part of `std` that needs no operating system: the same
/// items under another name, so its paths follow `std`'s rules.
#[rustfmt::skip]
const SAME_AS: &[(&str, &str)] = &[("core", "std")];

/// What may be named. An entry allows itself and every path below it: for
/// a module that is the whole module; for a type or trait, its associated
/// items (which method calls reach anyway); for a function, just itself.
/// A module that only some entries lie in (`std::io`, `multiproc`) may be
/// imported, but each path through it is then checked in full.
#[rustfmt::skip]
const ALLOWED: &[&str] = &[
    // std, whole modules. Everything here is process-local: what is
    // dangerous to the grader is other files, other processes, threads,
    // the environment and raw memory, none of which is in these.
    "std::collections", "std::cmp", "std::ops", "std::iter", "std::convert",
    "std::num", "std::str", "std::string", "std::vec", "std::boxed", "std::rc",
    "std::cell", "std::marker", "std::result", "std::option", "std::hash",
    "std::borrow", "std::char", "std::array", "std::slice", "std::primitive",
    "std::default", "std::clone", "std::any", "std::fmt", "std::error",
    "std::time",
    // Arc, Mutex, atomics, OnceLock, mpsc...: threads are what is dangerous,
    // not these.
    "std::sync",
    // The legacy modules of numeric constants (`std::u32::MAX`).
    "std::i8", "std::i16", "std::i32", "std::i64", "std::i128", "std::isize",
    "std::u8", "std::u16", "std::u32", "std::u64", "std::u128", "std::usize",
    "std::f32", "std::f64",
    // std, single items. `std::future`, `std::task` and `std::pin` are
    // harmless but left out: no exercise needs them.
    "std::io::Error", "std::io::ErrorKind", "std::io::Result", "std::io::Write",
    "std::io::stdout", "std::io::stderr",
    "std::thread::sleep", "std::thread::yield_now",
    "std::mem::swap", "std::mem::replace", "std::mem::take", "std::mem::drop",
    "std::mem::size_of",
    // The caller's own pid: one of the sound ways to name a lock's owner.
    // The rest of `std::process` (exit, abort, Command) stays out.
    "std::process::id",
    // The course's runtime: the student API, at the crate's root...
    "multiproc::Lock", "multiproc::LockError", "multiproc::LockGuard",
    "multiproc::Value", "multiproc::Plain",
    "multiproc::Queue", "multiproc::QueueError",
    "multiproc::pause", "multiproc::current_pid", "multiproc::current_name",
    // ...and the same items in their modules.
    "multiproc::lock::Lock", "multiproc::lock::LockError", "multiproc::lock::LockGuard",
    "multiproc::value::Value", "multiproc::value::Plain",
    "multiproc::queue::Queue", "multiproc::queue::QueueError",
    "multiproc::time::pause",
    "multiproc::process::current_pid", "multiproc::process::current_name",
];

/// Allowed in addition inside an item marked exactly `#[cfg(test)]`. Such
/// code is compiled only by `cargo test` of the exercise itself, never into
/// the program the grader builds (`cargo build`), so it cannot touch a
/// grade; the reference solutions' unit tests speed up the clock with it.
#[rustfmt::skip]
const ALLOWED_IN_TESTS: &[&str] = &["multiproc::time::set_time_scale"];

/// Macros that may be invoked, by name or through `std::` / `core::`. None
/// of them reads a file or the environment, or defines anything.
#[rustfmt::skip]
const MACROS: &[&str] = &[
    "println", "print", "eprintln", "eprint", "format", "format_args", "write", "writeln",
    "vec", "assert", "assert_eq", "assert_ne", "debug_assert", "debug_assert_eq",
    "debug_assert_ne", "panic", "todo", "unimplemented", "unreachable", "matches", "dbg",
    "cfg", "stringify", "concat", "line", "column", "file", "module_path",
    // Harmless on its own; what it might be given is checked like the rest.
    "compile_error",
];

/// Attributes that may be written, on anything, also inside `cfg_attr`.
/// A name ending in `::*` allows a whole tool's attributes.
#[rustfmt::skip]
const ATTRIBUTES: &[&str] = &[
    "doc", "allow", "warn", "deny", "forbid", "expect", "derive", "must_use", "inline",
    "cold", "track_caller", "cfg", "cfg_attr", "test", "ignore", "should_panic",
    "non_exhaustive", "deprecated", "repr", "automatically_derived", "rustfmt::skip",
    "clippy::*",
];

/// What `#[derive(...)]` may name: the standard derives, and no macro from
/// another crate.
#[rustfmt::skip]
const DERIVES: &[&str] = &[
    "Debug", "Clone", "Copy", "PartialEq", "Eq", "PartialOrd", "Ord", "Hash", "Default",
];

/// What a student reads when something is refused: "`AREA` " followed by
/// the text under AREA's key, with `{name}` filled in.
///
/// A refused path is looked up by its longest prefix that has a key, then
/// under `<path>`; a macro under `name!`, then `<macro>`; an attribute
/// under `#[name]`, then `<attribute>`. The other keys are for the
/// constructs refused whatever they name.
#[rustfmt::skip]
const REASONS: &[(&str, &str)] = &[
    // Paths.
    ("<path>", "is not available in exercises: your code runs with only the course's API"),
    ("std::thread", "is not available in exercises: your code runs with only the course's API (threads do not survive the `fork` that starts each process; to wait, use `multiproc::pause`)"),
    ("std::panic", "is not available in exercises: it would change how panics are reported (the `panic!` macro itself is available)"),
    ("std::io", "is not available in exercises: your code runs with only the course's API (of `std::io`, exercises may use `Write`, `Error`, `ErrorKind`, `Result`, `stdout` and `stderr`)"),
    ("std::process", "is not available in exercises: your code runs with only the course's API (of `std::process`, exercises may use `id`)"),
    ("std::mem", "is not available in exercises: your code runs with only the course's API (of `std::mem`, exercises may use `swap`, `replace`, `take`, `drop` and `size_of`)"),
    ("alloc", "is not available in exercises: the same items are in `std` (for example `std::vec::Vec`)"),
    ("multiproc", "is part of the course's runtime that only the course's own code uses"),
    ("scenarios", "is the course's own code, which exercises may not use"),
    ("course_report", "is the course's own code, which exercises may not use"),
    ("grader", "is the course's own code, which exercises may not use"),
    ("boundary", "is the course's own code, which exercises may not use"),
    ("nix", "is not available in exercises: your code runs with only the course's API (`multiproc`)"),
    ("libc", "is not available in exercises: your code runs with only the course's API (`multiproc`)"),
    // Macros.
    ("<macro>", "is not a macro exercises may use: the standard formatting and assertion macros are (`println!`, `format!`, `write!`, `vec!`, `assert_eq!`, `panic!`, ...)"),
    ("include!", "reads another file: exercises are graded one file each"),
    ("include_str!", "reads another file: exercises are graded one file each"),
    ("include_bytes!", "reads another file: exercises are graded one file each"),
    ("env!", "reads the environment of the build, which is not part of your exercise"),
    ("option_env!", "reads the environment of the build, which is not part of your exercise"),
    ("macro_rules!", "defines a macro, and defining macros is not available in exercises: write a function instead"),
    ("thread_local!", "is not available in exercises: threads are not (keep what a process shares in a `multiproc::Value`)"),
    ("asm!", "is not available in exercises"),
    ("global_asm!", "is not available in exercises"),
    ("naked_asm!", "is not available in exercises"),
    // Attributes.
    ("<attribute>", "is not an attribute exercises may use"),
    ("#[path]", "reads another file: exercises are graded one file each, so put the module inline (`mod name { ... }`)"),
    ("#[link]", "changes how the program is linked, which is not available in exercises"),
    ("#[link_name]", "changes how the program is linked, which is not available in exercises"),
    ("#[link_section]", "changes how the program is linked, which is not available in exercises"),
    ("#[no_mangle]", "changes how the program is linked, which is not available in exercises"),
    ("#[export_name]", "changes how the program is linked, which is not available in exercises"),
    ("#[used]", "changes how the program is linked, which is not available in exercises"),
    ("#[global_allocator]", "replaces part of the runtime, which is not available in exercises"),
    ("#[panic_handler]", "replaces part of the runtime, which is not available in exercises"),
    ("#[no_std]", "changes how the crate is built, which is not available in exercises"),
    ("#[no_main]", "changes how the crate is built, which is not available in exercises"),
    ("#[feature]", "changes how the crate is built, which is not available in exercises"),
    ("#[crate_type]", "changes how the crate is built, which is not available in exercises"),
    ("#[crate_name]", "changes how the crate is built, which is not available in exercises"),
    ("#[macro_use]", "is about macros from elsewhere, which exercises do not use"),
    ("#[macro_export]", "is about macros from elsewhere, which exercises do not use"),
    ("#[unsafe]", "is not available in exercises: nothing `unsafe` is"),
    // Constructs.
    ("unsafe", "is not available in exercises"),
    ("extern crate", "is not available in exercises: the crates you may use are already there by name (`use multiproc::Lock;`)"),
    ("extern block", "declares foreign functions, which are not available in exercises"),
    ("extern fn", "is not available in exercises: write a plain `fn`"),
    ("extern", "is not available in exercises"),
    ("mod;", "reads another file: exercises are graded one file each, so put the module inline (`mod {name} { ... }`)"),
    ("static mut", "is not available in exercises: it needs `unsafe` (keep what processes share in a `multiproc::Value`, and other state in `std::sync` types)"),
    ("<crate name>", "has the name of the crate `{name}`, which would hide where a path through it leads: choose another name"),
    ("<glob>", "imports all of `{name}`, which exercises may use only in part: import the items you need by name"),
    ("<derive>", "is not available in exercises: only the standard derives are (`Debug`, `Clone`, `Copy`, `PartialEq`, `Eq`, `PartialOrd`, `Ord`, `Hash`, `Default`)"),
    ("<unknown crate>", "names a crate that exercises do not have"),
    ("<unreadable use>", "could not be read, so what it imports cannot be checked: write it as `use path::to::item;`"),
    ("<unreadable attribute>", "could not be read, so it cannot be checked"),
    ("<unreadable file>", "could not be read as Rust tokens (is a bracket, brace, parenthesis or string left open?), so it cannot be checked: fix it so that it compiles"),
    ("<not ascii>", "is not an ASCII name: exercises use ASCII names only, so that every name means what it looks like"),
    ("<too deep>", "opens brackets more than {name} deep, more than can be checked"),
    ("<renamings>", "goes through too many renamings (`use ... as ...`) to be checked"),
];

/// What a file may name, and what the student is told about the rest.
///
/// [`course_policy`] is the course's; the fields are public so that a
/// reviewer can print them and a test can vary them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Names that, first in a path, lead outside the file (the table `CRATES` in `policy.rs` says why).
    pub crates: Vec<String>,
    /// Crates whose paths are checked as another crate's (`core` → `std`).
    pub same_as: Vec<(String, String)>,
    /// Paths that may be named, with everything below them (the table `ALLOWED` in `policy.rs` explains).
    pub allowed: Vec<String>,
    /// Paths that may be named, in addition, inside `#[cfg(test)]` items.
    pub allowed_in_tests: Vec<String>,
    /// Macros that may be invoked (names, without the `!`).
    pub macros: Vec<String>,
    /// Attributes that may be written; `tool::*` allows a whole tool's.
    pub attributes: Vec<String>,
    /// Derives that `#[derive]` may name.
    pub derives: Vec<String>,
    /// Why each refused thing is refused (the table `REASONS` in `policy.rs` says how they are found).
    pub reasons: Vec<(String, String)>,
}

/// The course's policy: the student API of `multiproc`, the process-local
/// parts of `std`, the standard macros and derives, and nothing else.
pub fn course_policy() -> Policy {
    fn owned(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }
    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }
    Policy {
        crates: owned(CRATES),
        same_as: pairs(SAME_AS),
        allowed: owned(ALLOWED),
        allowed_in_tests: owned(ALLOWED_IN_TESTS),
        macros: owned(MACROS),
        attributes: owned(ATTRIBUTES),
        derives: owned(DERIVES),
        reasons: pairs(REASONS),
    }
}

/// How a policy judges a path that leads outside the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Judgement {
    /// Some entry is the path or lies above it.
    Allowed,
    /// The path lies above some entries only: a module that may be named,
    /// but not used as a whole.
    Partial,
    /// Neither; the first `area` segments are what is not available.
    Refused { area: usize },
}

/// A [`Policy`] with its paths split into segments, ready for one check.
pub(crate) struct Rules<'p> {
    pub(crate) policy: &'p Policy,
    allowed: Vec<Vec<&'p str>>,
    in_tests: Vec<Vec<&'p str>>,
}

impl<'p> Rules<'p> {
    pub(crate) fn new(policy: &'p Policy) -> Self {
        let split = |paths: &'p [String]| paths.iter().map(|p| p.split("::").collect()).collect();
        Rules {
            policy,
            allowed: split(&policy.allowed),
            in_tests: split(&policy.allowed_in_tests),
        }
    }

    pub(crate) fn is_crate(&self, name: &str) -> bool {
        self.policy.crates.iter().any(|c| c == name)
    }

    /// `path` with its crate replaced by the one it is the same as.
    fn canonical<'a>(&'a self, path: &'a [String]) -> impl Iterator<Item = &'a str> + Clone {
        let first = path.first().map(|f| {
            self.policy
                .same_as
                .iter()
                .find(|(from, _)| from == f)
                .map_or(f.as_str(), |(_, to)| to.as_str())
        });
        first
            .into_iter()
            .chain(path.iter().skip(1).map(String::as_str))
    }

    /// Judges a path whose first segment is a crate.
    pub(crate) fn judge(&self, path: &[String], in_test: bool) -> Judgement {
        let path: Vec<&str> = self.canonical(path).collect();
        let extra: &[Vec<&str>] = if in_test { &self.in_tests } else { &[] };
        let entries = || self.allowed.iter().chain(extra);
        if entries().any(|e| path.starts_with(e)) {
            return Judgement::Allowed;
        }
        if entries().any(|e| e.starts_with(&path)) {
            return Judgement::Partial;
        }
        let area = (1..=path.len())
            .find(|&k| !entries().any(|e| e.starts_with(&path[..k])))
            .unwrap_or(path.len());
        Judgement::Refused { area }
    }

    /// Whether `path` names an allowed macro (`std::println`, `core::panic`).
    pub(crate) fn is_allowed_macro_path(&self, path: &[String]) -> bool {
        let path: Vec<&str> = self.canonical(path).collect();
        matches!(path.as_slice(), ["std", name] if self.is_allowed_macro(name))
    }

    pub(crate) fn is_allowed_macro(&self, name: &str) -> bool {
        self.policy.macros.iter().any(|m| m == name)
    }

    pub(crate) fn is_allowed_attribute(&self, name: &str) -> bool {
        self.policy
            .attributes
            .iter()
            .any(|a| match a.strip_suffix("::*") {
                Some(tool) => name
                    .strip_prefix(tool)
                    .is_some_and(|rest| rest.starts_with("::")),
                None => a == name,
            })
    }

    pub(crate) fn is_allowed_derive(&self, name: &str) -> bool {
        self.policy.derives.iter().any(|d| d == name)
    }

    fn reason(&self, key: &str) -> Option<&'p str> {
        self.policy
            .reasons
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r.as_str())
    }

    /// "`area` " and the reason under `key`, or under `fallback` if `key`
    /// has none, with `{name}` replaced by `name`.
    pub(crate) fn say(&self, area: &str, key: &str, fallback: &str, name: &str) -> String {
        let reason = self
            .reason(key)
            .or_else(|| self.reason(fallback))
            .unwrap_or("is not available in exercises");
        format!("`{area}` {}", reason.replace("{name}", name))
    }

    /// "`area` " and the reason of the longest prefix of `path` that has
    /// one.
    pub(crate) fn say_path(&self, area: &str, path: &[String]) -> String {
        let path: Vec<&str> = self.canonical(path).collect();
        let reason = (1..=path.len())
            .rev()
            .find_map(|k| self.reason(&path[..k].join("::")))
            .or_else(|| self.reason("<path>"))
            .unwrap_or("is not available in exercises");
        format!("`{area}` {reason}")
    }
}

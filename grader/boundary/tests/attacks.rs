//! What must be refused, each with a message that names what was refused.

mod common;

use common::{assert_accepted, verdict};

/// A file around `body`: items at the top level, then `body` in a function.
fn in_fn(body: &str) -> String {
    format!("use multiproc::Value;\n\npub fn f(x: u8) {{\n    {body};\n}}\n")
}

/// Asserts that `source` is refused, and that some refusal's item is
/// `item` and its message says `says`.
#[track_caller]
fn assert_refused(source: &str, item: &str, says: &str) {
    let v = verdict(source);
    assert!(
        v.refusals
            .iter()
            .any(|r| r.item == item && r.message.contains(says)),
        "expected a refusal of `{item}` saying {says:?} for:\n{source}\ngot:\n{v}"
    );
}

const NOT_AVAILABLE: &str = "is not available in exercises";
const INTERNAL: &str = "is part of the course's runtime that only the course's own code uses";

#[test]
fn the_message_for_std_fs_names_the_module_and_the_line() {
    let source = "pub fn f() {\n    let _ = std::fs::read_to_string(\"x\");\n}\n";
    let v = verdict(source);
    assert_eq!(v.refusals.len(), 1, "{v}");
    let r = &v.refusals[0];
    assert_eq!((r.line, r.column), (2, 13));
    assert!(
        r.message
            .contains("`std::fs` is not available in exercises"),
        "{}",
        r.message
    );
    assert_eq!(
        r.to_string(),
        "src/lib.rs:2:13: `std::fs::read_to_string`: `std::fs` is not available in exercises: \
         your code runs with only the course's API"
    );
}

#[test]
fn reading_other_files() {
    assert_refused(
        "#[path = \"../../../solutions/03-locked-bank/src/lib.rs\"] mod r;",
        "#[path]",
        "reads another file",
    );
    assert_refused(
        "#[path = \"x.rs\"] mod r;",
        "mod r;",
        "put the module inline (`mod r { ... }`)",
    );
    assert_refused(
        "mod util;",
        "mod util;",
        "exercises are graded one file each",
    );
    assert_refused(
        &in_fn("let _ = include_str!(\"/etc/shadow\")"),
        "include_str!",
        "reads another file",
    );
    assert_refused(
        "compile_error!(include_str!(\"/etc/shadow\"));",
        "include_str!",
        "reads another file",
    );
    assert_refused(
        "#[doc = include_str!(\"x\")] pub fn f() {}",
        "include_str!",
        "reads another file",
    );
    assert_refused(
        "#![doc = std::include_str!(\"x\")]",
        "std::include_str!",
        "reads another file",
    );
    assert_refused(
        "const B: &[u8] = include_bytes!(\"/dev/zero\");",
        "include_bytes!",
        "reads another file",
    );
    assert_refused("include!(\"x.rs\");", "include!", "reads another file");
    assert_refused(
        "#[cfg_attr(all(), path = \"x\")] mod r;",
        "#[path]",
        "reads another file",
    );
    assert_refused(
        "#[cfg_attr(unix, cfg_attr(all(), path = \"x\"))] mod r {}",
        "#[path]",
        "reads another file",
    );
}

#[test]
fn reading_the_environment() {
    assert_refused("const X: &str = env!(\"HOME\");", "env!", "environment");
    assert_refused(
        "const X: Option<&str> = option_env!(\"HOME\");",
        "option_env!",
        "environment",
    );
    assert_refused(
        &in_fn("std::env::var(\"X\").ok()"),
        "std::env::var",
        "`std::env` is not available",
    );
}

#[test]
fn linking_and_runtime_attributes() {
    assert_refused(
        "#[cfg_attr(all(), no_mangle)] pub fn f() {}",
        "#[no_mangle]",
        "linked",
    );
    assert_refused(
        "#[link_section = \".init_array\"] #[used] static C: fn() = f;",
        "#[link_section]",
        "linked",
    );
    assert_refused(
        "#[link_section = \".init_array\"] #[used] static C: fn() = f;",
        "#[used]",
        "linked",
    );
    assert_refused(
        "#[export_name = \"main\"] pub fn f() {}",
        "#[export_name]",
        "linked",
    );
    assert_refused(
        "#[unsafe(no_mangle)] pub fn f() {}",
        "#[unsafe(no_mangle)]",
        NOT_AVAILABLE,
    );
    assert_refused(
        "#[global_allocator] static A: X = X;",
        "#[global_allocator]",
        "runtime",
    );
    assert_refused("#![no_std]", "#[no_std]", "built");
    assert_refused("#![feature(asm)]", "#[feature]", "built");
    assert_refused("#![cfg_attr(all(), feature(asm))]", "#[feature]", "built");
    assert_refused("#[macro_use] mod m {}", "#[macro_use]", "macros");
    assert_refused(
        "#[derive(serde::Serialize)] pub struct S;",
        "#[derive(serde::Serialize)]",
        "standard derives",
    );
    assert_refused(
        "#[derive(Debug, Frobnicate)] pub struct S;",
        "#[derive(Frobnicate)]",
        "standard derives",
    );
}

#[test]
fn foreign_code() {
    assert_refused(
        "extern \"C\" { fn system(c: *const u8) -> i32; }",
        "extern \"C\" { ... }",
        "foreign functions",
    );
    assert_refused(
        "pub extern \"C\" fn f() {}",
        "extern \"C\" fn",
        NOT_AVAILABLE,
    );
    assert_refused("extern crate std as s;", "extern crate std", NOT_AVAILABLE);
    assert_refused(&in_fn("asm!(\"nop\")"), "asm!", NOT_AVAILABLE);
    assert_refused(
        "std::arch::global_asm!(\"\");",
        "std::arch::global_asm!",
        NOT_AVAILABLE,
    );
}

#[test]
fn renamed_crates() {
    assert_refused(
        &in_fn("use std as s; s::fs::read(\"x\")"),
        "s::fs::read",
        "`std::fs` is not available",
    );
    assert_refused(
        &in_fn("use std::{self as s}; s::process::exit(0)"),
        "s::process::exit",
        "`std::process::exit` is not available",
    );
    assert_refused("use ::std::fs;", "::std::fs", "`std::fs` is not available");
    assert_refused(
        &in_fn("::std::fs::read(\"x\")"),
        "::std::fs::read",
        "`std::fs` is not available",
    );
    assert_refused(
        &in_fn("r#std::fs::read(\"x\")"),
        "r#std::fs::read",
        "`std::fs` is not available",
    );
    assert_refused(
        &in_fn("return ::std::process::exit(1)"),
        "::std::process::exit",
        "`std::process`",
    );
    assert_refused(
        "use multiproc as std;",
        "multiproc as std",
        "has the name of the crate `std`",
    );
    assert_refused(
        "mod std { pub mod fs {} }",
        "mod std",
        "has the name of the crate `std`",
    );
    assert_refused("fn std() {}", "fn std", "has the name of the crate `std`");
    assert_refused(
        "struct core;",
        "struct core",
        "has the name of the crate `core`",
    );
    assert_refused(
        &in_fn("::foo::bar()"),
        "::foo::bar",
        "`::foo` names a crate that exercises do not have",
    );
}

#[test]
fn paths_inside_macros_closures_and_constants() {
    let read = "std::fs::read";
    let fs = "`std::fs` is not available";
    assert_refused(
        &in_fn("println!(\"{}\", std::fs::read_to_string(\"x\").unwrap())"),
        "std::fs::read_to_string",
        fs,
    );
    assert_refused(&in_fn("let _ = vec![std::fs::read(\"x\")]"), read, fs);
    assert_refused(&in_fn("assert!(std::fs::read(\"x\").is_ok())"), read, fs);
    assert_refused(&in_fn("let c = || std::fs::read(\"x\"); c()"), read, fs);
    assert_refused(
        "const R: fn(&str) -> std::io::Result<Vec<u8>> = |p| std::fs::read(p);",
        read,
        fs,
    );
    assert_refused(
        &in_fn("let _ = <std::fs::File as std::io::Read>::read"),
        "std::fs::File",
        fs,
    );
    assert_refused(
        &in_fn("let _ = <std::fs::File as std::io::Read>::read"),
        "std::io::Read",
        "`std::io::Read`",
    );
    assert_refused(
        &in_fn("let _ = Box::<std::fs::File>::new"),
        "std::fs::File",
        fs,
    );
    // A `use` inside a macro's arguments renames like any other.
    assert_refused(
        &in_fn("println!(\"{:?}\", { use std as s; s::fs::read(\"x\") })"),
        "s::fs::read",
        fs,
    );
    assert_refused(
        &in_fn("let _ = vec![{ #[path = \"x\"] mod r; 1 }]"),
        "#[path]",
        "reads another file",
    );
}

#[test]
fn processes_threads_panics_and_the_network() {
    assert_refused(
        &in_fn("std::process::Command::new(\"sh\")"),
        "std::process::Command::new",
        "`std::process`",
    );
    assert_refused(
        &in_fn("std::thread::spawn(|| {})"),
        "std::thread::spawn",
        "`std::thread::spawn` is not available",
    );
    assert_refused(
        &in_fn("std::thread::scope(|_| {})"),
        "std::thread::scope",
        "threads do not survive",
    );
    assert_refused(
        &in_fn("std::panic::set_hook(Box::new(|_| {}))"),
        "std::panic::set_hook",
        "`std::panic`",
    );
    assert_refused(
        &in_fn("std::panic::catch_unwind(|| {})"),
        "std::panic::catch_unwind",
        "`std::panic`",
    );
    assert_refused(
        &in_fn("std::net::TcpStream::connect(\"127.0.0.1:1\")"),
        "std::net::TcpStream::connect",
        "`std::net`",
    );
    assert_refused(
        "use std::os::unix::process::CommandExt;",
        "std::os::unix::process::CommandExt",
        "`std::os`",
    );
    assert_refused(&in_fn("thread_local!{}"), "thread_local!", NOT_AVAILABLE);
}

#[test]
fn the_parts_of_std_io_and_std_mem_that_are_not_allowed() {
    assert_refused(
        &in_fn("std::io::stdin()"),
        "std::io::stdin",
        "`std::io::stdin` is not available",
    );
    assert_refused(
        &in_fn("use std::io; io::stdin()"),
        "io::stdin",
        "`std::io::stdin` is not available",
    );
    assert_refused("use std::io::*;", "std::io::*", "imports all of `std::io`");
    assert_refused(
        &in_fn("std::mem::transmute::<u8, i8>(0)"),
        "std::mem::transmute",
        "`std::mem::transmute`",
    );
    assert_refused(
        &in_fn("std::mem::forget(x)"),
        "std::mem::forget",
        "`std::mem::forget`",
    );
    assert_refused(
        &in_fn("std::ptr::null::<u8>()"),
        "std::ptr::null",
        "`std::ptr`",
    );
    assert_refused(
        &in_fn("core::ptr::null::<u8>()"),
        "core::ptr::null",
        "`core::ptr` is not available",
    );
    assert_refused(
        &in_fn("alloc::vec::Vec::<u8>::new()"),
        "alloc::vec::Vec",
        "`alloc`",
    );
    // Re-exported by a module of the student's, then used through it.
    assert_refused(
        &in_fn("mod m { pub use std::io; } m::io::stdin()"),
        "m::io::stdin",
        "`std::io::stdin`",
    );
    // Renamed through `self::`.
    assert_refused(
        &in_fn("use std as s; self::s::fs::read(\"x\")"),
        "self::s::fs::read",
        "`std::fs`",
    );
}

#[test]
fn the_runtime_beyond_the_student_api() {
    assert_refused(
        "use multiproc::sched::{configure, Mode};",
        "multiproc::sched::configure",
        INTERNAL,
    );
    assert_refused(
        &in_fn("multiproc::sched::configure(&multiproc::sched::Mode::Free)"),
        "multiproc::sched::configure",
        "`multiproc::sched` is part of the course's runtime",
    );
    assert_refused(
        &in_fn("multiproc::trace::mark(1, 2)"),
        "multiproc::trace::mark",
        INTERNAL,
    );
    assert_refused(
        "use multiproc::*;",
        "multiproc::*",
        "imports all of `multiproc`",
    );
    assert_refused(
        &in_fn("multiproc::Process::start(\"x\", || {})"),
        "multiproc::Process::start",
        INTERNAL,
    );
    assert_refused(
        &in_fn("multiproc::time::set_time_scale(0.0)"),
        "multiproc::time::set_time_scale",
        INTERNAL,
    );
    assert_refused(
        &in_fn("scenarios::common::write_probe(\"x\", true, String::new())"),
        "scenarios::common::write_probe",
        "is the course's own code",
    );
    assert_refused(
        &in_fn("nix::unistd::fork()"),
        "nix::unistd::fork",
        "`nix` is not available",
    );
    assert_refused(
        &in_fn("libc::getpid()"),
        "libc::getpid",
        "`libc` is not available",
    );
}

#[test]
fn test_only_allowances_stay_in_tests() {
    let in_test = "#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() { multiproc::time::set_time_scale(0.0); }\n}\n";
    assert_accepted("cfg(test) module", in_test);
    assert_accepted(
        "cfg(test) fn",
        "#[cfg(test)]\n#[allow(dead_code)]\npub(crate) fn speed_up() -> bool { multiproc::time::set_time_scale(0.0) }\n",
    );
    // Imported in a test module, used outside it.
    assert_refused(
        "#[cfg(test)] use multiproc::time::set_time_scale;\npub fn f() { set_time_scale(0.0); }",
        "set_time_scale",
        INTERNAL,
    );
    // Another predicate, or an attribute on less than an item.
    assert_refused(
        "#[cfg(any(test, unix))] mod t { fn f() { multiproc::time::set_time_scale(0.0); } }",
        "multiproc::time::set_time_scale",
        INTERNAL,
    );
    assert_refused(
        "fn f<#[cfg(test)] T>() { multiproc::time::set_time_scale(0.0); }",
        "multiproc::time::set_time_scale",
        INTERNAL,
    );
    // Nothing else is relaxed in tests.
    assert_refused(
        "#[cfg(test)] mod t { fn f() { std::fs::read(\"x\"); } }",
        "std::fs::read",
        NOT_AVAILABLE,
    );
}

#[test]
fn defining_macros_and_unsafe() {
    assert_refused(
        "macro_rules! m { ($c:ident) => { $c::fs::read(\"x\") } }",
        "macro_rules!",
        "defining macros is not available in exercises",
    );
    assert_refused(
        &in_fn("unsafe { }"),
        "unsafe",
        "`unsafe` is not available in exercises",
    );
    assert_refused(
        "unsafe fn f() {}",
        "unsafe",
        "`unsafe` is not available in exercises",
    );
    assert_refused(
        &in_fn("vec![unsafe { 1 }]"),
        "unsafe",
        "`unsafe` is not available in exercises",
    );
    assert_refused(
        "static mut COUNT: u32 = 0;",
        "static mut COUNT",
        "needs `unsafe`",
    );
}

#[test]
fn what_looks_alike_but_is_allowed() {
    assert_accepted("turbofish", &in_fn("let _ = Vec::<u8>::new()"));
    assert_accepted(
        "std turbofish",
        &in_fn("let _ = std::collections::HashMap::<u8, u8>::new()"),
    );
    assert_accepted("cast", &in_fn("let _ = x as std::primitive::u8"));
    assert_accepted(
        "qualified",
        &in_fn("let _ = <Vec<u8> as std::iter::IntoIterator>::into_iter"),
    );
    assert_accepted(
        "std macro path",
        &in_fn("std::println!(\"{}\", core::format_args!(\"x\"))"),
    );
    assert_accepted(
        "partial module",
        "use std::io;\npub fn f() -> io::Result<()> { Ok(()) }",
    );
    assert_accepted(
        "use std",
        "use std;\npub fn f() { std::thread::sleep(std::time::Duration::ZERO) }",
    );
    assert_accepted(
        "whole module glob",
        "use std::collections::*;\npub fn f() -> HashMap<u8, u8> { HashMap::new() }",
    );
    assert_accepted("enum glob", "use multiproc::LockError::*;\n");
    assert_accepted("local glob", "mod a { pub fn f() {} }\nuse self::a::*;\n");
    assert_accepted("not equal", &in_fn("if x != 3 && !(x == 4) { return; }"));
    assert_accepted(
        "shebang",
        "#!/usr/bin/env run-cargo-script\npub fn f() {}\n",
    );
    assert_accepted(
        "generic arrow",
        "pub fn f() -> ::std::time::Duration { ::core::time::Duration::ZERO }",
    );
}

#[test]
fn refusals_are_capped_and_counted() {
    let source: String = (0..30)
        .map(|i| format!("pub fn f{i}() {{ std::fs::read(\"x\"); }}\n"))
        .collect();
    let v = verdict(&source);
    assert_eq!(v.refusals.len(), boundary::MAX_REFUSALS);
    assert_eq!(v.more, 10);
    assert!(v.to_string().ends_with("... and 10 more refusals\n"));
    let lines: Vec<usize> = v.refusals.iter().map(|r| r.line).collect();
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "sorted by position: {lines:?}"
    );
}

#[test]
fn files_that_cannot_be_read_are_refused_not_passed_on() {
    let v = verdict("pub fn f() { (\n");
    assert_eq!(v.refusals.len(), 1, "{v}");
    assert!(v.refusals[0].message.contains("could not be read"));
    let deep = format!(
        "pub fn f() {{ {}1{} }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let v = verdict(&deep);
    assert_eq!(v.refusals.len(), 1, "{v}");
    assert!(
        v.refusals[0].message.contains("more than can be checked"),
        "{v}"
    );
    // A shebang-looking first line that rustc reads as an attribute.
    assert_refused(
        "#! /* a /* nested */ comment */ [no_std]\n",
        "#[no_std]",
        "built",
    );
}

#[test]
fn truncated_files_never_panic() {
    let path = common::repo().join("solutions/05-reentrant-lock/src/lib.rs");
    let source = std::fs::read_to_string(path).unwrap();
    for (end, _) in source.char_indices().step_by(7) {
        let _ = verdict(&source[..end]);
    }
}

#[test]
fn names_are_ascii_so_that_they_mean_what_they_look_like() {
    // U+212A KELVIN SIGN is `K` to the compiler: one alias, two spellings.
    let source = "use std::io as \u{212A};\npub fn f() { K::stdin(); }\n";
    assert_refused(source, "\u{212A}", "is not an ASCII name");
    assert_refused("pub fn caf\u{e9}() {}", "caf\u{e9}", "is not an ASCII name");
    // Letters outside ASCII in strings and comments are fine.
    assert_accepted(
        "strings",
        "// caf\u{e9}\npub const S: &str = \"caf\u{e9} \u{212A}\";\n",
    );
}

#[test]
fn random_token_soup_never_panics() {
    // A small linear congruential generator: reproducible, no dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n
    };
    let pieces = [
        "use",
        "std",
        "core",
        "::",
        ":",
        "<",
        ">",
        "#",
        "!",
        "[",
        "]",
        "(",
        ")",
        "{",
        "}",
        ";",
        ",",
        "'a",
        "as",
        "s",
        "fs",
        "*",
        "self",
        "super",
        "crate",
        "mod",
        "extern",
        "static",
        "mut",
        "unsafe",
        "macro_rules",
        "cfg",
        "test",
        "cfg_attr",
        "derive",
        "path",
        "=",
        "\"x\"",
        "r#std",
        "include_str",
        "fn",
        "pub",
        "multiproc",
        "time",
        "set_time_scale",
        "->",
        "=>",
        "$",
        "_",
    ];
    for _ in 0..3000 {
        let len = next(40);
        let source: Vec<&str> = (0..len).map(|_| pieces[next(pieces.len())]).collect();
        let _ = verdict(&source.join(" "));
    }
}

#[test]
fn what_the_lexer_reads_as_comments_and_strings_rustc_does_too() {
    // Block comments nest: the code after the outer `*/` is code.
    assert_refused(
        "/* /* */ */ pub fn f() { std::fs::read(\"x\"); }",
        "std::fs::read",
        NOT_AVAILABLE,
    );
    // Raw strings end only at their own number of `#`.
    assert_refused(
        "pub const S: &str = r##\"a\"# b\"##; pub fn f() { std::fs::read(\"x\"); }",
        "std::fs::read",
        NOT_AVAILABLE,
    );
    assert_accepted(
        "in a raw string",
        "pub const S: &str = r#\"std::fs::read(\"x\")\"#;",
    );
    assert_accepted(
        "in a comment",
        "/* std::fs::read(\"x\") /* nested */ still */ pub fn f() {}",
    );
    assert_refused(
        "pub const C: char = '\"'; pub fn f() { std::fs::read(\"x\"); }",
        "std::fs::read",
        NOT_AVAILABLE,
    );
}

//! # boundary: what a student's file may name
//!
//! A student's exercise file is compiled into the same process as the
//! course's scenario driver and report writer, so whatever that file can
//! reach, it can tamper with: the report, the grader's files, its other
//! processes. The boundary is what keeps a grade honest. It has two halves:
//!
//! - the compiler forbids `unsafe` in exercise crates (`unsafe_code =
//!   "forbid"` in their Cargo lints, which also covers `no_mangle`,
//!   `export_name`, `link_section` and `global_asm!`);
//! - this crate, run by the grader before it compiles a file, checks that
//!   the file names only what a [`Policy`] allows: the student API of the
//!   course's runtime and the process-local parts of `std`.
//!
//! ```
//! let policy = boundary::course_policy();
//! let verdict = boundary::check(
//!     "src/lib.rs",
//!     "pub fn f() -> String { std::fs::read_to_string(\"x\").unwrap() }",
//!     &policy,
//! );
//! assert!(!verdict.is_accepted());
//! assert_eq!(
//!     verdict.to_string(),
//!     "src/lib.rs:1:24: `std::fs::read_to_string`: `std::fs` is not available \
//!      in exercises: your code runs with only the course's API\n"
//! );
//! ```
//!
//! ## What is checked
//!
//! The check reads the file's tokens, so it sees code inside macro
//! arguments and attributes exactly as anywhere else (see `scan.rs` for
//! why not a syntax tree):
//!
//! - every path (`a::b::c`, `::a::b`, `r#a::b`) is resolved through the
//!   file's `use` renamings; one that leads into a crate must be allowed
//!   by the policy;
//! - every macro invocation must be an allowed macro; defining macros is
//!   refused;
//! - every attribute, also inside `cfg_attr`, must be an allowed one, and
//!   `derive` may name only the standard derives;
//! - `use`: a glob import only of a module allowed whole; no renaming to a
//!   crate's name (nor any item so named);
//! - `unsafe`, `extern` (crates, blocks, functions), `static mut` and
//!   out-of-line modules (`mod util;`) are refused wherever they appear.
//!
//! ## What it assumes
//!
//! - The policy's crate list includes every crate the exercise can reach
//!   by name (its dependencies and the toolchain's).
//! - The graded program is built without `--test`: code in an item marked
//!   `#[cfg(test)]` may in addition name [`Policy::allowed_in_tests`].
//! - A file the tokenizer cannot read is refused rather than passed to the
//!   compiler: its lexer and rustc's could disagree, and what is not read
//!   cannot be checked.

mod policy;
mod scan;

use std::fmt;

pub use policy::{course_policy, Policy};

/// At most this many refusals are listed; [`Verdict::more`] counts the rest.
pub const MAX_REFUSALS: usize = 20;

/// Something in a file that the policy does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The file's name, as given to [`check`].
    pub file: String,
    /// Where the refused thing starts: its line, from 1...
    pub line: usize,
    /// ...and its column, in characters, from 1.
    pub column: usize,
    /// The refused thing, as written (`std::fs::read`, `#[path]`, `mod util;`).
    pub item: String,
    /// Why, in words a student understands, and what to do instead when
    /// that is obvious.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Refusal {
            file,
            line,
            column,
            item,
            message,
        } = self;
        write!(f, "{file}:{line}:{column}: `{item}`: {message}")
    }
}

/// The outcome of [`check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The first refusals by position in the file, at most [`MAX_REFUSALS`].
    pub refusals: Vec<Refusal>,
    /// How many more there are.
    pub more: usize,
}

impl Verdict {
    /// Whether the file may be compiled.
    pub fn is_accepted(&self) -> bool {
        self.refusals.is_empty()
    }
}

/// One refusal per line, then how many more there are, if any.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for refusal in &self.refusals {
            writeln!(f, "{refusal}")?;
        }
        match self.more {
            0 => Ok(()),
            1 => writeln!(f, "... and 1 more refusal"),
            n => writeln!(f, "... and {n} more refusals"),
        }
    }
}

/// Checks one source file against `policy`. `file_name` is only used to
/// name the file in refusals.
///
/// Never panics, whatever the source. Tokens are read with proc-macro2,
/// which keeps each file it reads for the life of the thread so that
/// positions can be given: a few bytes per byte checked.
pub fn check(file_name: &str, source: &str, policy: &Policy) -> Verdict {
    let rules = policy::Rules::new(policy);
    let mut refusals = scan::scan(file_name, source, &rules);
    refusals.sort_by(|a, b| {
        (a.line, a.column, &a.item, &a.message).cmp(&(b.line, b.column, &b.item, &b.message))
    });
    refusals.dedup();
    let more = refusals.len().saturating_sub(MAX_REFUSALS);
    refusals.truncate(MAX_REFUSALS);
    Verdict { refusals, more }
}

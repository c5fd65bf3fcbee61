//! The language boundary, applied to a staged student file before it is
//! built (the rules themselves are the `boundary` crate's).
//!
//! Together with the compiler's `unsafe_code = "forbid"` (set in each
//! exercise's manifest, which the submission cannot change) and the check
//! of the compiled code for constructors ([`binary`](super::binary)), it
//! keeps a student's file to the course's API: nothing that reads files,
//! starts processes, links symbols or reaches the runtime's internals.

use std::fs;
use std::path::Path;

/// A refused file: one line for the verdict, and every refusal.
#[derive(Clone, Debug)]
pub struct Refused {
    /// "refused at build: src/lib.rs:12:5: `std::fs` ...".
    pub headline: String,
    /// Every refusal, one per line.
    pub details: String,
}

/// Why the staged student file at `path` (shown as `shown`) is refused,
/// if it is.
pub fn refuse(path: &Path, shown: &str) -> Option<Refused> {
    let source = match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            return Some(Refused {
                headline: format!("refused at build: {shown} cannot be read ({e})"),
                details: String::new(),
            })
        }
    };
    let verdict = ::boundary::check(shown, &source, &::boundary::course_policy());
    let first = verdict.refusals.first()?;
    Some(Refused {
        headline: format!("refused at build: {first}"),
        details: verdict.to_string().trim_end().to_string(),
    })
}

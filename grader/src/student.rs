//! The student's loop around grading: `watch`, `hint`, `reset`, and the
//! status that `list` shows.
//!
//! - [`status`]: each exercise's last verdict, saved under `target/` after
//!   every grading of `exercises/`, so that `list` can say where the
//!   student stands.
//! - [`hint`]: the hints kept beside each exercise, one more each time.
//! - [`reset`]: an exercise's file as it was given, from git.
//! - [`watch`]: grading again on every save.

pub mod hint;
pub mod reset;
pub mod status;
pub mod watch;

pub use hint::hint_command;
pub use reset::reset_command;
pub use watch::watch_command;

use crate::catalog::{self, Exercise, EXERCISES};

/// The exercise a name means (a slug, a number, a directory), or a
/// message naming the real ones, and the closest, when it is a typo.
pub fn find(name: &str) -> Result<&'static Exercise, String> {
    catalog::find(name).ok_or_else(|| unknown_message(&[name.to_string()]))
}

/// "unknown exercise `lockd-bank` (did you mean `locked-bank`?); the
/// exercises are ...".
pub fn unknown_message(names: &[String]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|n| match suggestion(n) {
            Some(s) => format!("`{n}` (did you mean `{s}`?)"),
            None => format!("`{n}`"),
        })
        .collect();
    format!(
        "unknown exercise {}; the exercises are {}",
        quoted.join(", "),
        catalog::names()
    )
}

/// The exercise a mistyped name most likely meant: the slug closest to
/// it, if close enough to be a typo (or a part of a slug, such as
/// `locked` for `locked-bank`).
pub fn suggestion(name: &str) -> Option<&'static str> {
    let name = name.trim().to_lowercase();
    if name.is_empty() {
        return None;
    }
    EXERCISES
        .iter()
        .map(|e| {
            let whole = strsim::normalized_damerau_levenshtein(&name, e.slug);
            let part = e
                .slug
                .split('-')
                .map(|w| strsim::normalized_damerau_levenshtein(&name, w))
                .fold(0.0, f64::max);
            (e.slug, whole.max(part))
        })
        .filter(|&(_, score)| score >= 0.7)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(slug, _)| slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_suggests_the_exercise_meant() {
        assert_eq!(suggestion("lockd-bank"), Some("locked-bank"));
        assert_eq!(suggestion("locked_bank"), Some("locked-bank"));
        assert_eq!(suggestion("reentrant"), Some("reentrant-lock"));
        assert_eq!(suggestion("queue-drian"), Some("queue-drain"));
        assert_eq!(suggestion("zebra"), None);
        assert_eq!(suggestion("9"), None);
    }

    #[test]
    fn the_message_names_every_exercise_and_the_suggestion() {
        let msg = unknown_message(&["lockd-bank".into()]);
        assert!(
            msg.contains("`lockd-bank` (did you mean `locked-bank`?)"),
            "{msg}"
        );
        assert!(msg.contains("reentrant-lock (5)"), "{msg}");
    }
}

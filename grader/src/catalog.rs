//! The course's exercises: where each lives, what its program is called,
//! how its runs are scheduled by default, and what must hold in them.
//!
//! Everything the grader knows about an exercise is in [`EXERCISES`]; the
//! rest of the grader is generic over it.

use std::path::{Path, PathBuf};

use crate::judge::invariants::{
    common, locked_bank, queue_drain, reentrant_lock, sequential_bank, unlocked_race, Distribution,
    Invariant, Situation,
};
use crate::judge::params;
use crate::mode::ModeKind;
use course_report::Params;

/// One exercise of the course.
#[derive(Debug)]
pub struct Exercise {
    /// Its number, 1-based.
    pub number: u8,
    /// Its slug: the package and binary name of the student's crate.
    pub slug: &'static str,
    /// Its directory under `exercises/` and `solutions/`.
    pub dir: &'static str,
    /// The lesson's title, when its README cannot be read.
    pub title: &'static str,
    /// The mode whose verdicts can be trusted for this exercise: free for
    /// the one-process bank (nothing to interleave), the controlled
    /// scheduler for the others, because a race the operating system
    /// schedules by chance shows in too few runs to grade on.
    pub default_mode: ModeKind,
    /// The exercise's own invariants (the common ones come first, see
    /// [`Exercise::invariants`]).
    pub own: &'static [Invariant],
    /// Values whose distribution the report shows.
    pub distributions: &'static [Distribution],
    /// Whether its program runs more than one process, so that pauses
    /// shape the interleaving.
    pub concurrent: bool,
    /// The parameters of a run with this seed.
    pub params: fn(u64) -> Params,
    /// The situations its scenario is meant to bring about, counted over
    /// a session: each must happen in some run at default settings.
    pub coverage: &'static [Situation],
    /// The sizes the exhaustive search tries every schedule at, smallest
    /// first.
    pub sizes: &'static [Size],
    /// The lesson's buggy programs, by name (`--demo NAME`).
    pub demos: &'static [&'static str],
}

/// A size the exhaustive search runs an exercise at.
#[derive(Debug)]
pub struct Size {
    /// What it is, in a few words ("2 steps each").
    pub name: &'static str,
    /// Its parameters.
    pub params: fn() -> Params,
    /// The most preemptions searched at this size, whatever the bound
    /// asked: a longer run has many more places to preempt, so a size
    /// that is there for a bug that needs no preemption at all (one that
    /// shows only at the tenth step) is searched no deeper than that.
    pub max_preemptions: Option<u32>,
}

/// The two banks' smallest size, searched to the session's bound.
const SMALL_BANK: Size = Size {
    name: "2 steps each",
    params: params::small_bank,
    max_preemptions: None,
};

/// The two banks' size at the top of their random ranges.
const FULL_BANK: Size = Size {
    name: "150 steps each, without preemption",
    params: params::full_bank,
    max_preemptions: Some(0),
};

impl Size {
    /// The bound this size is searched to in a session bounded by `bound`.
    pub fn bound(&self, bound: u32) -> u32 {
        self.max_preemptions.map_or(bound, |m| m.min(bound))
    }
}

/// The exercises, in order.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        number: 1,
        slug: "sequential-bank",
        dir: "01-sequential-bank",
        title: "A bank account in one process",
        default_mode: ModeKind::Free,
        own: sequential_bank::INVARIANTS,
        distributions: &[],
        concurrent: false,
        params: params::bank,
        coverage: sequential_bank::COVERAGE,
        sizes: &[
            Size {
                name: "3 steps",
                params: params::small_sequential_bank,
                max_preemptions: None,
            },
            Size {
                name: "150 steps, without preemption",
                params: params::full_sequential_bank,
                max_preemptions: Some(0),
            },
        ],
        demos: &[],
    },
    Exercise {
        number: 2,
        slug: "unlocked-race",
        dir: "02-unlocked-race",
        title: "Two processes, one balance, no lock",
        default_mode: ModeKind::Controlled,
        own: unlocked_race::INVARIANTS,
        distributions: unlocked_race::DISTRIBUTIONS,
        concurrent: true,
        params: params::two_workers,
        coverage: unlocked_race::COVERAGE,
        sizes: &[SMALL_BANK, FULL_BANK],
        demos: &[],
    },
    Exercise {
        number: 3,
        slug: "locked-bank",
        dir: "03-locked-bank",
        title: "A lock between processes",
        default_mode: ModeKind::Controlled,
        own: locked_bank::INVARIANTS,
        distributions: &[],
        concurrent: true,
        params: params::two_workers,
        coverage: locked_bank::COVERAGE,
        sizes: &[
            SMALL_BANK,
            Size {
                name: "10 steps each",
                params: params::ten_step_bank,
                max_preemptions: Some(0),
            },
            FULL_BANK,
        ],
        demos: &["unlocked"],
    },
    Exercise {
        number: 4,
        slug: "queue-drain",
        dir: "04-queue-drain",
        title: "Draining a queue safely",
        default_mode: ModeKind::Controlled,
        own: queue_drain::INVARIANTS,
        distributions: &[],
        concurrent: true,
        params: params::queue,
        coverage: queue_drain::COVERAGE,
        sizes: &[
            Size {
                name: "3 items",
                params: params::small_queue,
                max_preemptions: None,
            },
            Size {
                name: "150 items, without preemption",
                params: params::full_queue,
                max_preemptions: Some(0),
            },
        ],
        demos: &["faulty"],
    },
    Exercise {
        number: 5,
        slug: "reentrant-lock",
        dir: "05-reentrant-lock",
        title: "A reentrant lock",
        default_mode: ModeKind::Controlled,
        own: reentrant_lock::INVARIANTS,
        distributions: &[],
        concurrent: true,
        params: params::reentrant,
        coverage: reentrant_lock::COVERAGE,
        sizes: &[
            Size {
                name: "depth 2, the intruder while the parent holds it",
                params: params::small_reentrant_parent_probe,
                max_preemptions: None,
            },
            Size {
                name: "depth 2, the intruder while a child holds it",
                params: params::small_reentrant_child_probe,
                max_preemptions: None,
            },
            Size {
                name: "depth 6, 3 rounds, without preemption",
                params: params::full_reentrant,
                max_preemptions: Some(0),
            },
        ],
        demos: &[],
    },
];

/// Where the programs to grade come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The course's own `exercises/` (the student's working copy).
    Exercises,
    /// The reference solutions in `solutions/`.
    Solutions,
    /// A submission: another checkout, whose `src/lib.rs` files are graded
    /// inside a pristine copy of the course.
    Workspace(PathBuf),
}

impl Exercise {
    /// Every invariant, the common ones first: "no panic" leads because a
    /// panic explains every other failure of the run, and "clean exit"
    /// follows the exercise's own, as the catch-all.
    pub fn invariants(&self) -> Vec<Invariant> {
        let mut all = vec![common::NO_PANIC];
        all.extend_from_slice(self.own);
        all.push(common::CLEAN_EXIT);
        all
    }

    /// The pause factor for runs in `mode`, unless one was given: the
    /// lessons' pauses (scaled down a hundredfold) where they shape the
    /// interleaving, none where they only slow a run down.
    pub fn time_scale(&self, mode: ModeKind, given: Option<f64>) -> f64 {
        given.unwrap_or(if self.concurrent && !mode.replays_exactly() {
            0.01
        } else {
            0.0
        })
    }

    /// The cargo package to build.
    pub fn package(&self, source: &Source) -> String {
        match source {
            Source::Solutions => format!("{}-solution", self.slug),
            _ => self.slug.to_string(),
        }
    }

    /// The lesson's title: the first `# ` heading of the exercise's
    /// README, or the built-in one.
    pub fn lesson_title(&self, root: &Path) -> String {
        std::fs::read_to_string(root.join("exercises").join(self.dir).join("README.md"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string()))
            })
            .map(|t| strip_number(&t).to_string())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| self.title.to_string())
    }
}

/// A heading without the exercise number it may start with ("01 · The
/// sequential bank"): reports print the number already.
fn strip_number(title: &str) -> &str {
    let rest = title.trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() == title.len() {
        return title;
    }
    rest.trim_start_matches(|c: char| c.is_whitespace() || "·.:-—".contains(c))
}

/// Finds an exercise by slug, number (`3`, `03`) or directory name.
pub fn find(name: &str) -> Option<&'static Exercise> {
    let name = name.trim().trim_end_matches('/');
    let name = name.rsplit('/').next().unwrap_or(name);
    EXERCISES.iter().find(|e| {
        e.slug == name || e.dir == name || name.parse::<u8>().is_ok_and(|n| n == e.number)
    })
}

/// The slugs, for error messages.
pub fn names() -> String {
    EXERCISES
        .iter()
        .map(|e| format!("{} ({})", e.slug, e.number))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exercises_are_found_by_slug_number_or_directory() {
        assert_eq!(find("locked-bank").map(|e| e.number), Some(3));
        assert_eq!(find("3").map(|e| e.number), Some(3));
        assert_eq!(find("03").map(|e| e.number), Some(3));
        assert_eq!(find("exercises/03-locked-bank/").map(|e| e.number), Some(3));
        assert!(find("6").is_none());
        assert!(find("locked").is_none());
    }

    #[test]
    fn titles_lose_their_leading_number() {
        assert_eq!(
            strip_number("01 · The sequential bank"),
            "The sequential bank"
        );
        assert_eq!(strip_number("3. Locks"), "Locks");
        assert_eq!(strip_number("Locks for 2"), "Locks for 2");
    }

    #[test]
    fn invariant_ids_are_unique_within_an_exercise() {
        for e in EXERCISES {
            let mut ids: Vec<&str> = e.invariants().iter().map(|i| i.id).collect();
            ids.sort();
            let n = ids.len();
            ids.dedup();
            assert_eq!(ids.len(), n, "{}", e.slug);
        }
    }
}

//! Scheduling modes, as the grader names them on its command line and as it
//! hands them to an exercise program in `MULTIPROC_SCHED`.
//!
//! The runtime's modes take a seed; the grader derives one per run (base
//! seed + run index) so that every failing run can be replayed on its own.

use clap::ValueEnum;
use serde::Serialize;

/// The depth the grader gives PCT: two priority changes, enough for the
/// course's bugs (a lost update needs one preemption, the faulty drain two).
pub const PCT_DEPTH: u32 = 3;

/// How the runs of an exercise are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeKind {
    /// The operating system schedules; races show only by chance.
    Free,
    /// Seeded yields and short sleeps at every scheduling point.
    Perturb,
    /// One process at a time, the next one picked uniformly at random.
    Controlled,
    /// One process at a time, picked by PCT (priorities with a few changes).
    Pct,
    /// Every schedule up to a number of preemptions, at the exercise's
    /// small sizes (see `search`).
    Exhaustive,
}

impl ModeKind {
    /// The value of `MULTIPROC_SCHED` for a run with this seed.
    pub fn env_value(self, seed: u64) -> String {
        match self {
            ModeKind::Free => "free".to_string(),
            ModeKind::Perturb => format!("perturb:{seed}"),
            ModeKind::Controlled => format!("controlled:random:{seed}"),
            ModeKind::Pct => format!("controlled:pct{PCT_DEPTH}:{seed}"),
            // The search names each schedule itself; alone, a seed names
            // the default one.
            ModeKind::Exhaustive => "replay:".to_string(),
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModeKind::Free => "free",
            ModeKind::Perturb => "perturb",
            ModeKind::Controlled => "controlled",
            ModeKind::Pct => "pct",
            ModeKind::Exhaustive => "exhaustive",
        }
    }

    /// A phrase for reports.
    pub fn describe(self) -> &'static str {
        match self {
            ModeKind::Free => "free (the operating system schedules)",
            ModeKind::Perturb => "perturb (seeded yields and sleeps)",
            ModeKind::Controlled => "controlled (one process at a time, random choice)",
            ModeKind::Pct => "pct (one process at a time, PCT priorities)",
            ModeKind::Exhaustive => "exhaustive (every schedule up to the bound, at small sizes)",
        }
    }

    /// Whether a run's seed fixes its interleaving, so that replaying the
    /// seed reproduces the run exactly.
    pub fn replays_exactly(self) -> bool {
        matches!(
            self,
            ModeKind::Controlled | ModeKind::Pct | ModeKind::Exhaustive
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_what_the_runtime_parses() {
        assert_eq!(ModeKind::Free.env_value(7), "free");
        assert_eq!(ModeKind::Perturb.env_value(7), "perturb:7");
        assert_eq!(ModeKind::Controlled.env_value(7), "controlled:random:7");
        assert_eq!(ModeKind::Pct.env_value(7), "controlled:pct3:7");
    }
}

//! Stepping: the controlled scheduler with a person as its strategy.
//!
//! `grader play` lets a student be the scheduler: choose which process
//! moves next, one choice at a time, over real processes running their own
//! code. A process cannot be held still across the grader's calls (each
//! run is a fresh fork in a box, with a deadline), so a step is a *replay*:
//! the program is run again from the start, following the choices made so
//! far, and paused at the next choice. Because a run under the controlled
//! scheduler is fixed by its choices, the replay reaches the very same
//! place every time; undoing a step is replaying one choice fewer.
//!
//! Paused means ended, with its state told: at the first choice past the
//! list, the process holding the token reports every live process, the
//! runnable ones with the operation each will do next and the blocked ones
//! with what they wait for (through the deadlock handler, with
//! [`Stuck::runnable`](super::controlled::Stuck::runnable) set), then ends
//! them all, as a deadlock does.
//!
//! `step:SCHEDULE+SLOT` goes on past the list while `SLOT` can run, and
//! pauses at the first choice where it cannot: "run this process until it
//! blocks (or ends)".

use std::fmt;
use std::str::FromStr;

/// What a stepped run follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Steps {
    /// The choices to follow, as a schedule string (`1x2.0.2`).
    pub schedule: String,
    /// After them, keep choosing this slot while it can run.
    pub then: Option<u8>,
}

impl fmt::Display for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.then {
            Some(slot) => write!(f, "{}+{slot}", self.schedule),
            None => write!(f, "{}", self.schedule),
        }
    }
}

impl FromStr for Steps {
    type Err = String;

    /// Parses `SCHEDULE` or `SCHEDULE+SLOT` (the schedule may be empty:
    /// pause at the first choice).
    fn from_str(s: &str) -> Result<Steps, String> {
        let (schedule, then) = match s.split_once('+') {
            Some((sch, slot)) => {
                let slot: u8 = slot
                    .parse()
                    .ok()
                    .filter(|&n| (n as usize) < super::controlled::MAX_PROCESSES)
                    .ok_or_else(|| format!("bad step {s:?}: expected SCHEDULE+SLOT"))?;
                (sch, Some(slot))
            }
            None => (s, None),
        };
        super::schedule::parse(schedule)?;
        Ok(Steps {
            schedule: schedule.to_string(),
            then,
        })
    }
}

/// What the scheduler does at choice number `n`, given the list's length,
/// the slot to run on and who can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Follow the list (or its fallback): choose as a replay does.
    Replay,
    /// Past the list: choose this slot.
    Pick(usize),
    /// Past the list: pause here.
    Pause,
}

pub(super) fn next(n: usize, len: usize, then: Option<usize>, runnable: &[usize]) -> Next {
    if n < len {
        return Next::Replay;
    }
    match then {
        Some(slot) if runnable.contains(&slot) => Next::Pick(slot),
        _ => Next::Pause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip() {
        let s: Steps = "1x2.0+2".parse().unwrap();
        assert_eq!(s.schedule, "1x2.0");
        assert_eq!(s.then, Some(2));
        assert_eq!(s.to_string(), "1x2.0+2");
        let empty: Steps = "".parse().unwrap();
        assert_eq!((empty.schedule.as_str(), empty.then), ("", None));
        assert!("1+x".parse::<Steps>().is_err());
        assert!("1+99".parse::<Steps>().is_err());
        assert!("z".parse::<Steps>().is_err());
    }

    #[test]
    fn pauses_past_the_list_unless_told_to_go_on() {
        assert_eq!(next(0, 2, None, &[0, 1]), Next::Replay);
        assert_eq!(next(2, 2, None, &[0, 1]), Next::Pause);
        assert_eq!(next(2, 2, Some(1), &[0, 1]), Next::Pick(1));
        assert_eq!(next(3, 2, Some(1), &[0, 2]), Next::Pause);
    }
}

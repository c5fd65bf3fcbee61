//! The game behind `grader play`: the choices made so far, and what the
//! real processes did with them.
//!
//! Every move is a fresh run of the exercise's program, in its box, under
//! a stepped schedule (`step:CHOICES`, see `multiproc::sched::step`): the
//! processes replay the choices made so far and pause at the next one,
//! telling who can run and what each will do. Nothing is simulated, and
//! nothing is kept running between moves, so undo is replaying one move
//! fewer, and quitting leaves no process behind.

use crate::catalog::Exercise;
use crate::judge::invariants::{judge, Check, Quantifier, Violation};
use crate::judge::run::RunData;
use crate::run::runner::{self, Plan};
use crate::run::supervise::{Ending, ProcInfo};
use crate::search::schedule::{format, parse};
use crate::timeline::Timeline;

/// What a process is doing at the pause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// It can run; what it will do next.
    Next(String),
    /// It waits; for what.
    Waits(String),
    /// It ended normally.
    Ended,
    /// It panicked or was killed; how.
    Died(String),
    /// The move ran past its deadline and this process was still there:
    /// where it was (`running`, `waiting in futex_do_wait`).
    Hung(String),
}

/// One process on the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Its slot: the number to press (0 is the main process).
    pub slot: usize,
    /// Its name.
    pub name: String,
    /// What it is doing.
    pub status: Status,
}

/// Where the run is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Paused at a choice.
    Paused,
    /// The program ran to its end.
    Finished,
    /// Nobody can run: deadlocked.
    Deadlocked,
    /// The run went wrong before the next choice (a hang, a crash, a
    /// report the grader rejected): why.
    Broken(String),
}

/// What the processes did with the choices made so far.
#[derive(Clone, Debug)]
pub struct View {
    /// The run as lanes, the same model the HTML pictures draw.
    pub timeline: Timeline,
    /// Each process, by slot.
    pub procs: Vec<Proc>,
    /// Where the run is.
    pub phase: Phase,
    /// The invariants broken so far, in the grade report's words.
    pub broken: Vec<(&'static str, Violation)>,
    /// The panics, as the report tells them.
    pub panics: Vec<String>,
    /// The choices the run made, as a schedule string.
    pub schedule: String,
}

impl View {
    /// The slots that can run now.
    pub fn runnable(&self) -> Vec<usize> {
        self.procs
            .iter()
            .filter(|p| matches!(p.status, Status::Next(_)))
            .map(|p| p.slot)
            .collect()
    }
}

/// A game: an exercise's program, the choices made, and their history.
pub struct Game {
    exercise: &'static Exercise,
    plan: Plan,
    /// Every earlier list of choices, for undo.
    history: Vec<Vec<u8>>,
    /// The choices made so far.
    pub choices: Vec<u8>,
    /// What they led to.
    pub view: View,
}

impl Game {
    /// Starts a game: runs the program to its first choice.
    pub fn new(exercise: &'static Exercise, plan: Plan) -> Game {
        let view = play(exercise, &plan, &[], None, None);
        let choices = parse(&view.schedule).unwrap_or_default();
        Game {
            exercise,
            plan,
            history: Vec::new(),
            choices,
            view,
        }
    }

    /// Lets `slot` make one move. Returns why not, when it cannot run.
    pub fn step(&mut self, slot: usize) -> Result<(), String> {
        self.check(slot)?;
        let mut next = self.choices.clone();
        next.push(slot as u8);
        self.go(next, None);
        Ok(())
    }

    /// Lets `slot` run until it blocks or ends.
    pub fn run_until_blocked(&mut self, slot: usize) -> Result<(), String> {
        self.check(slot)?;
        let next = self.choices.clone();
        self.go(next, Some(slot as u8));
        Ok(())
    }

    /// Takes the last move back. Returns false when there is none.
    pub fn undo(&mut self) -> bool {
        let Some(previous) = self.history.pop() else {
            return false;
        };
        self.view = play(self.exercise, &self.plan, &previous, None, None);
        self.choices = previous;
        true
    }

    /// Starts over from the first choice (undo can still go back).
    pub fn restart(&mut self) {
        self.go(Vec::new(), None);
    }

    /// The command that replays the game's run: the choices made, then
    /// whatever a replay does past them.
    pub fn replay_command(&self, source: &str) -> String {
        let mut cmd = format!(
            "cargo grade replay {} --seed {}",
            self.exercise.slug, self.plan.base_seed
        );
        if !self.view.schedule.is_empty() {
            cmd.push_str(&format!(" --schedule {}", self.view.schedule));
        }
        if let Some(d) = &self.plan.demo {
            cmd.push_str(&format!(" --demo {d}"));
        }
        cmd.push_str(source);
        cmd
    }

    fn check(&self, slot: usize) -> Result<(), String> {
        if self.view.phase != Phase::Paused {
            return Err("the run is over: u takes a move back, r starts again".into());
        }
        match self.view.procs.iter().find(|p| p.slot == slot) {
            Some(p) => match &p.status {
                Status::Next(_) => Ok(()),
                Status::Waits(what) => Err(format!("{} cannot run: it waits in {what}", p.name)),
                Status::Ended => Err(format!("{} has ended", p.name)),
                Status::Died(how) => Err(format!("{} {how}", p.name)),
                Status::Hung(how) => Err(format!("{} hung: {how}", p.name)),
            },
            None => Err(format!("there is no process {slot}")),
        }
    }

    fn go(&mut self, choices: Vec<u8>, then: Option<u8>) {
        let view = play(self.exercise, &self.plan, &choices, then, Some(&self.view));
        self.history.push(std::mem::take(&mut self.choices));
        self.choices = parse(&view.schedule).unwrap_or_default();
        self.view = view;
    }
}

/// Runs the program through `choices` (then `then` while it can run) and
/// reads where it paused. `before` is the pause the move started from.
fn play(
    exercise: &'static Exercise,
    plan: &Plan,
    choices: &[u8],
    then: Option<u8>,
    before: Option<&View>,
) -> View {
    let mut plan = plan.clone();
    let mut sched = format!("step:{}", format(choices));
    if let Some(slot) = then {
        sched.push_str(&format!("+{slot}"));
    }
    plan.sched_override = Some(sched);
    let run = runner::run_once(&plan, 0);
    let seen = view(exercise, &run, choices);
    match before {
        Some(before)
            if run.outcome.ending == Ending::TimedOut && seen.timeline.steps.is_empty() =>
        {
            hung(before, &run, seen)
        }
        _ => seen,
    }
}

/// A move that ran past its deadline. Its processes were killed before
/// they could report, so the run tells nothing of its own; but it
/// replayed the same choices up to the move, so the pause the move
/// started from is its trace, and each process is shown where the
/// deadline found it (the one that spins "running").
fn hung(before: &View, run: &RunData, seen: View) -> View {
    let mut found: Vec<&ProcInfo> = run.outcome.stuck.iter().collect();
    let procs = before
        .procs
        .iter()
        .map(|p| {
            // The kernel keeps 15 bytes of a name.
            let mut cut = p.name.len().min(15);
            while !p.name.is_char_boundary(cut) {
                cut -= 1;
            }
            // The main process keeps its program's name: know it by pid.
            let main = run.outcome.pids.map(|r| r.main).filter(|_| p.slot == 0);
            let at = found
                .iter()
                .position(|s| Some(s.pid) == main)
                .or_else(|| found.iter().position(|s| s.name == p.name[..cut]));
            let status = match at.map(|i| found.remove(i)) {
                Some(s) => Status::Hung(s.whereabouts()),
                None => match &p.status {
                    Status::Next(_) | Status::Waits(_) => Status::Ended,
                    other => other.clone(),
                },
            };
            Proc {
                status,
                ..p.clone()
            }
        })
        .collect();
    View {
        timeline: before.timeline.clone(),
        procs,
        phase: Phase::Broken(format!(
            "the move hung, killed after {:.1} s",
            run.outcome.elapsed_ms / 1000.0
        )),
        ..seen
    }
}

/// What a run shows: who can run, who waits, what broke.
pub fn view(exercise: &Exercise, run: &RunData, choices: &[u8]) -> View {
    let report = run.report.as_ref().ok();
    let deadlock = run.deadlock();
    let paused = deadlock.is_some_and(|d| d.stuck.iter().any(|s| s.runnable));
    let phase = if paused {
        Phase::Paused
    } else if deadlock.is_some() {
        Phase::Deadlocked
    } else if report.is_some_and(|r| r.summary.is_some()) {
        Phase::Finished
    } else if run.interrupted {
        Phase::Broken("interrupted (Ctrl-C)".into())
    } else {
        // The program's own words first: an unknown demo, a failed setup.
        let said = run.outcome.stderr.lines().find(|l| !l.trim().is_empty());
        Phase::Broken(match said {
            Some(line) => format!("{} ({})", run.ending_phrase(), line.trim()),
            None => run.ending_phrase(),
        })
    };
    let broken = if paused {
        live_breaks(exercise, run)
    } else if run.interrupted {
        // Stopped from outside: nothing the program did.
        Vec::new()
    } else {
        crate::timeline::broken(exercise, run)
    };
    let timeline = Timeline::of_run(exercise, run, &broken, false);
    let panics: Vec<String> = report
        .map(|r| {
            r.panics
                .iter()
                .map(|p| match &p.not_implemented {
                    Some(f) => format!(
                        "{} stopped: not implemented yet: {f} (write it in exercises/{}/src/lib.rs)",
                        p.process, exercise.dir
                    ),
                    None => format!("{} panicked: {}", p.process, p.message),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut procs: Vec<Proc> = timeline
        .lanes
        .iter()
        .enumerate()
        .map(|(slot, lane)| {
            let stuck = deadlock.and_then(|d| d.stuck.iter().find(|s| s.pid == lane.pid));
            let panicked = report
                .and_then(|r| r.panics.iter().find(|p| p.pid == lane.pid))
                .map(|p| {
                    p.not_implemented.as_ref().map_or_else(
                        || format!("panicked: {}", p.message),
                        |f| format!("stopped: not implemented yet: {f}"),
                    )
                });
            // A crash its parent never waited for, as the kernel told
            // the supervisor (a stack overflow: "killed by SIGSEGV").
            // (A signal only: the process that pauses a stepped run
            // leaves with an exit code of its own.)
            let died = run
                .outcome
                .deaths
                .iter()
                .find(|d| d.pid == lane.pid && d.how.starts_with("killed by"))
                .map(|d| d.how.clone());
            let status = match (stuck, panicked) {
                (_, Some(how)) => Status::Died(how),
                (Some(s), None) if s.runnable => Status::Next(without_pids(&s.waiting_for)),
                (Some(s), None) => Status::Waits(without_pids(&s.waiting_for)),
                (None, None) => match (died, &phase) {
                    (Some(how), _) => Status::Died(how),
                    (None, Phase::Broken(why)) => Status::Died(why.clone()),
                    (None, _) => Status::Ended,
                },
            };
            Proc {
                slot,
                name: lane.name.clone(),
                status,
            }
        })
        .collect();
    // A child that ended is not in the pause's list: say how it ended.
    if let Some(s) = report.and_then(|r| r.summary.as_ref()) {
        for p in procs.iter_mut() {
            if let Some(c) = s.children.iter().find(|c| c.name == p.name) {
                if !c.success && p.status == Status::Ended {
                    p.status = Status::Died(c.exit.clone());
                }
            }
        }
    }
    let schedule = report
        .and_then(|r| {
            r.summary
                .as_ref()
                .and_then(|s| s.schedule.clone())
                .or_else(|| r.deadlock.as_ref()?.schedule.clone())
        })
        .unwrap_or_else(|| format(choices));
    View {
        timeline,
        procs,
        phase,
        broken,
        panics,
        schedule,
    }
}

/// The invariants a paused run has broken already. The pause ends the
/// run (every process is stopped), so what judges a run's ending (a hang,
/// a clean exit) is left out; the others judge the trace so far, as they
/// judge a run cut short: they can find a break, never a pass.
fn live_breaks(exercise: &Exercise, run: &RunData) -> Vec<(&'static str, Violation)> {
    let cut = Err(crate::judge::run::Unchecked("paused".into()));
    let mut out: Vec<(&'static str, Violation)> = exercise
        .invariants()
        .iter()
        .filter(|inv| inv.quantifier == Quantifier::Every && !inv.of_the_ending)
        .filter_map(|inv| match judge(inv, run, &cut) {
            Ok(Check::Broken(v)) => Some((inv.name, v)),
            _ => None,
        })
        .collect();
    out.sort_by_key(|(_, v)| v.at.unwrap_or(u64::MAX));
    out
}

/// `text` without its pids (`join of process P2 (pid 6)` is `join of
/// process P2`, `(held by P1, pid 7)` is `(held by P1)`): the names say
/// who, and a pid differs from run to run where no pid namespace numbers
/// them.
fn without_pids(text: &str) -> String {
    let mut out = text.to_string();
    for (open, close) in [(" (pid ", ")"), (", pid ", "")] {
        let mut from = 0;
        while let Some(i) = out[from..].find(open).map(|i| i + from) {
            let after = &out[i + open.len()..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 && after[digits..].starts_with(close) {
                out.replace_range(i..i + open.len() + digits + close.len(), "");
            } else {
                from = i + open.len();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_left_out() {
        assert_eq!(
            without_pids("join of process P2 (pid 6)"),
            "join of process P2"
        );
        assert_eq!(
            without_pids("acquire of lock 'l' (held by P1, pid 7)"),
            "acquire of lock 'l' (held by P1)"
        );
        assert_eq!(without_pids("a (pid x)"), "a (pid x)");
    }
}

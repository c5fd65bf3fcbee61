//! Verdicts: one run judged, many runs tallied, a session's results.
//!
//! A run is judged where it ran (on a worker thread) and only its verdict
//! is kept, so a session of thousands of runs holds no traces. Tallies keep
//! the *lowest-numbered* failing run of each invariant, whatever order the
//! runs finished in, so the same seed gives the same report.
//!
//! These types are also the JSON report (see `grader/SCHEMA.md`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::Exercise;
use crate::judge::invariants::{common, judge, Check, Invariant, Quantifier, Violation};
use crate::judge::run::{RunData, Unchecked};
use crate::mode::ModeKind;
use crate::search::SearchResult;

/// The JSON report's schema name; bumped when a field changes meaning.
pub const SCHEMA: &str = "course-grader/1";
/// How many failing runs an exercise lists.
const FAILING_RUNS_LISTED: usize = 10;

/// One run, judged.
#[derive(Debug)]
pub struct RunVerdict {
    /// The run's index.
    pub index: usize,
    /// The run's seed.
    pub seed: u64,
    /// How it ended, in words.
    pub ending: String,
    /// Each invariant's result, in the exercise's order.
    pub checks: Vec<Result<Check, Unchecked>>,
    /// Each distribution's value in this run.
    pub values: Vec<Option<String>>,
    /// The controlled scheduler's choices, if it ran.
    pub schedule: Option<String>,
    /// What the supervisor could not do (limits not applied, ...).
    pub warnings: Vec<String>,
    /// Times of this run.
    pub times: RunTimes,
    /// The run's parameters, as a phrase ("start 727, amount 7, steps 60").
    pub params: String,
    /// Which of the exercise's situations the run went through.
    pub covered: Vec<bool>,
    /// Where the run sits in an exhaustive search, if it was one of its
    /// schedules.
    pub place: Option<Place>,
}

/// A schedule of an exhaustive search, or a failing run shrunk to one:
/// what a counterexample shows besides the run itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Place {
    /// The search's size it ran at (1-based), or none for a run at the
    /// session's own parameters (a shrunk run).
    pub size: Option<usize>,
    /// Its preemptions.
    pub preemptions: u32,
    /// Its choices up to the last that is not the default (a schedule
    /// string): all that `grader replay --schedule` needs.
    pub schedule: String,
    /// Each preemption in words ("withdraw runs between deposit's load
    /// (600) and its store (605)").
    pub preempted: Vec<String>,
}

/// How long one run took, seen from three places.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunTimes {
    /// From the grader asking for the run to its verdict.
    pub wall_ms: f64,
    /// From the program's start to its end, as its supervisor saw it.
    pub program_ms: f64,
    /// The scenario itself, from its report (tracing on to summary).
    pub scenario_ms: Option<f64>,
    /// Judging the run: its invariants, models and situations.
    pub judge_ms: f64,
}

/// Judges one run against an exercise's invariants.
pub fn judge_run(exercise: &Exercise, invariants: &[Invariant], run: &RunData) -> RunVerdict {
    let clean = common::clean(run);
    RunVerdict {
        index: run.index,
        seed: run.seed,
        ending: run.ending_phrase(),
        checks: invariants
            .iter()
            .map(|inv| judge(inv, run, &clean))
            .collect(),
        values: exercise
            .distributions
            .iter()
            .map(|d| (d.value)(run))
            .collect(),
        schedule: run.report.as_ref().ok().and_then(|r| {
            r.summary
                .as_ref()
                .and_then(|s| s.schedule.clone())
                .or_else(|| r.deadlock.as_ref()?.schedule.clone())
        }),
        warnings: run.outcome.warnings.clone(),
        params: params_phrase(&run.config.params),
        covered: exercise.coverage.iter().map(|c| (c.seen)(run)).collect(),
        place: None,
        times: RunTimes {
            wall_ms: 0.0,
            program_ms: run.outcome.elapsed_ms,
            scenario_ms: run
                .report
                .as_ref()
                .ok()
                .and_then(|r| r.summary.as_ref())
                .map(|s| s.elapsed_ns as f64 / 1e6),
            judge_ms: 0.0,
        },
    }
}

/// "start 727, amount 7, steps 60", "items: 83 of them, depth 4".
pub fn params_phrase(params: &course_report::Params) -> String {
    params
        .iter()
        .map(|(k, v)| match v {
            course_report::Param::Int(n) => format!("{k} {n}"),
            course_report::Param::List(items) if items.len() <= 8 => format!("{k} {items:?}"),
            course_report::Param::List(items) => format!("{} {k}", items.len()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether an invariant held over the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvariantStatus {
    /// Held in every run (or, for a "some" invariant, was seen).
    Passed,
    /// Broken in some run (or never seen).
    Failed,
    /// No run could be judged on it, or some could not and none broke it:
    /// not known to hold, so not passed.
    NotChecked,
}

/// One invariant over the session.
#[derive(Clone, Debug, Serialize)]
pub struct InvariantResult {
    /// Stable identifier.
    pub id: &'static str,
    /// The property in words.
    pub name: &'static str,
    /// Every run, or some run.
    pub quantifier: Quantifier,
    /// The verdict.
    pub status: InvariantStatus,
    /// Runs in which it held (was seen).
    pub held: usize,
    /// Runs in which it was broken (was not seen).
    pub broken: usize,
    /// Runs that could not be judged on it.
    pub unchecked: usize,
    /// All runs.
    pub runs: usize,
    /// Why runs could not be judged (the first such run's reason).
    pub unchecked_reason: Option<String>,
    /// The evidence, when it failed.
    pub failure: Option<Failure>,
    /// How it fared in the exhaustive search, when there was one.
    pub search: Option<SearchCount>,
}

/// One invariant over the schedules of an exhaustive search.
#[derive(Clone, Debug, Serialize)]
pub struct SearchCount {
    /// Every schedule, or some schedule (an invariant that holds in
    /// every random run but not in every schedule, see
    /// `Invariant::not_in_every_schedule`).
    pub quantifier: Quantifier,
    /// Its verdict over the search.
    pub status: InvariantStatus,
    /// Schedules in which it held (was seen).
    pub held: usize,
    /// Schedules in which it broke (was not seen).
    pub broken: usize,
    /// Schedules that could not be judged on it.
    pub unchecked: usize,
    /// All schedules.
    pub schedules: usize,
}

impl InvariantResult {
    /// "200/200", "17/200 (3 not checked)"; with a search,
    /// "712/712 schedules · 200/200 runs".
    pub fn rate(&self) -> String {
        let mut s = format!("{}/{}", self.held, self.runs);
        if self.unchecked > 0 {
            s.push_str(&format!(" ({} not checked)", self.unchecked));
        }
        let Some(c) = &self.search else {
            return s;
        };
        let mut searched = format!("{}/{} schedules", c.held, c.schedules);
        if c.unchecked > 0 {
            searched.push_str(&format!(" ({} not checked)", c.unchecked));
        }
        if self.runs == 0 {
            searched
        } else {
            format!("{searched} · {s} runs")
        }
    }

    /// "183/200 runs", "3/40 schedules", "3/40 schedules and 183/200
    /// runs": where it broke.
    pub fn broken_phrase(&self) -> String {
        let runs = (self.broken > 0 || self.search.is_none())
            .then(|| format!("{}/{} runs", self.broken, self.runs));
        let schedules = self
            .search
            .as_ref()
            .filter(|c| c.broken > 0)
            .map(|c| format!("{}/{} schedules", c.broken, c.schedules));
        match (schedules, runs) {
            (Some(s), Some(r)) => format!("{s} and {r}"),
            (Some(s), None) => s,
            (None, Some(r)) => r,
            (None, None) => format!("0/{} runs", self.runs),
        }
    }
}

/// Joins an exhaustive search's results with the random runs' (if any):
/// an invariant fails if either broke it (or, seen in some run, passes
/// if either saw it); the failure shown is the search's when the search
/// broke it, its counterexample being the simplest; counts of runs stay
/// the random runs', with the search's beside them.
pub fn merge(
    invariants: &[Invariant],
    searched: Finished,
    schedules: usize,
    sampled: Option<Finished>,
) -> Finished {
    let count = |i: &InvariantResult| SearchCount {
        quantifier: i.quantifier,
        status: i.status,
        held: i.held,
        broken: i.broken,
        unchecked: i.unchecked,
        schedules,
    };
    let Some(mut sampled) = sampled else {
        let mut only = searched;
        for (i, inv) in only.invariants.iter_mut().zip(invariants) {
            i.search = Some(count(i));
            (i.held, i.broken, i.unchecked, i.runs) = (0, 0, 0, 0);
            // As the exercise has it; the search's own is in `search`.
            i.quantifier = inv.quantifier;
        }
        // Runs are random runs: there were none.
        only.failing_runs.clear();
        only.failing_run_count = 0;
        only.timing = None;
        for c in &mut only.coverage {
            c.schedules = Some(c.runs);
            c.runs = 0;
        }
        return only;
    };
    for (r, s) in sampled.invariants.iter_mut().zip(searched.invariants) {
        use InvariantStatus::*;
        r.status = match (r.quantifier, r.status, s.status) {
            (Quantifier::Some, Passed, _) | (Quantifier::Some, _, Passed) => Passed,
            (_, Failed, _) | (_, _, Failed) => Failed,
            (_, NotChecked, _) | (_, _, NotChecked) => NotChecked,
            _ => Passed,
        };
        if s.status == Failed && s.failure.is_some() {
            r.failure = s.failure.clone();
        }
        if r.status != Failed {
            r.failure = None;
        }
        if r.unchecked_reason.is_none() {
            r.unchecked_reason = s.unchecked_reason.clone();
        }
        r.search = Some(count(&s));
    }
    for (c, s) in sampled.coverage.iter_mut().zip(searched.coverage) {
        c.schedules = Some(s.runs);
    }
    sampled.warnings.extend(searched.warnings);
    sampled.warnings.sort();
    sampled.warnings.dedup();
    sampled
}

/// Why an invariant failed, with the run that shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The first run that broke it (none for a "some" invariant never seen).
    pub run: Option<usize>,
    /// That run's seed.
    pub seed: Option<u64>,
    /// What should have been.
    pub expected: String,
    /// What was.
    pub seen: String,
    /// The trace that shows it, one line each.
    pub evidence: Vec<String>,
    /// The command that replays the run.
    pub replay: Option<String>,
    /// The controlled scheduler's choices in that run (`replay --schedule`).
    pub schedule: Option<String>,
    /// That run's parameters ("start 727, amount 7, steps 60").
    pub params: Option<String>,
    /// The fewest preemptions that break it, when known: the exhaustive
    /// search's counterexample, or a failing run shrunk.
    pub preemptions: Option<u32>,
    /// The search's size the counterexample is at (1-based; `replay
    /// --size`).
    pub size: Option<usize>,
    /// Each preemption of the counterexample, in words.
    pub preempted: Vec<String>,
    /// What the failing run was before it was shrunk, when it was.
    pub shrunk: Option<ShrunkFrom>,
    /// Where in that run's trace it broke, when the trace shows it.
    #[serde(skip)]
    pub at: Option<u64>,
}

/// A failing run before it was shrunk to the schedule its failure shows.
#[derive(Clone, Debug, Serialize)]
pub struct ShrunkFrom {
    /// Its preemptions.
    pub preemptions: u32,
    /// Its choices that were not the default.
    pub choices: usize,
    /// The runs the shrinking made.
    pub runs: usize,
}

impl Failure {
    /// "this needs only 1 preemption: withdraw runs between deposit's
    /// load (600) and its store (605)", when the failure has a
    /// counterexample.
    pub fn why(&self) -> Option<String> {
        let n = self.preemptions?;
        Some(match n {
            0 => "this fails with no preemption at all: each process runs until it blocks, \
                  pauses or ends"
                .to_string(),
            1 => format!(
                "this needs only 1 preemption: {}",
                self.preempted.join("; ")
            ),
            n => format!("this needs {n} preemptions: {}", self.preempted.join("; ")),
        })
    }
}

/// How often each value was seen.
#[derive(Clone, Debug, Serialize)]
pub struct DistributionResult {
    /// What was counted.
    pub name: &'static str,
    /// Each value and the runs it was seen in, most frequent first.
    pub values: Vec<(String, usize)>,
}

impl DistributionResult {
    /// "600 ×17, 595 ×40".
    pub fn line(&self) -> String {
        let shown: Vec<String> = self
            .values
            .iter()
            .take(12)
            .map(|(v, n)| format!("{v} ×{n}"))
            .collect();
        let more = self.values.len().saturating_sub(12);
        let mut s = format!("{}: {}", self.name, shown.join(", "));
        if more > 0 {
            s.push_str(&format!(", and {more} other values"));
        }
        s
    }
}

/// A run in which something failed.
#[derive(Clone, Debug, Serialize)]
pub struct FailingRun {
    /// Its index.
    pub run: usize,
    /// Its seed.
    pub seed: u64,
    /// How it ended.
    pub ending: String,
    /// The ids of the invariants it broke or could not be judged on.
    pub failed: Vec<&'static str>,
}

/// How an exercise came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExerciseStatus {
    /// Every invariant passed.
    Passed,
    /// Some invariant did not pass.
    Failed,
    /// It did not build.
    BuildFailed,
    /// Its file uses what exercises may not (the language boundary), or
    /// its compiled code holds code that runs before `main`: it was not
    /// run.
    Refused,
    /// The submission has no file for it.
    Missing,
    /// The grader was interrupted (Ctrl-C) before it finished this
    /// exercise's runs; its results are those of the runs it finished.
    Interrupted,
}

/// The build of one exercise.
#[derive(Clone, Debug, Serialize)]
pub struct BuildResult {
    /// Whether it built.
    pub ok: bool,
    /// How long it took.
    pub elapsed_ms: f64,
    /// The first error, in one line.
    pub error: Option<String>,
    /// The compiler's rendering of it.
    pub details: Option<String>,
}

/// One exercise's results.
#[derive(Clone, Debug, Serialize)]
pub struct ExerciseResult {
    /// Its number.
    pub number: u8,
    /// Its slug.
    pub slug: &'static str,
    /// Its lesson's title.
    pub title: String,
    /// The package built.
    pub package: String,
    /// The verdict.
    pub status: ExerciseStatus,
    /// The first reason it failed, in one line.
    pub headline: Option<String>,
    /// The scheduling mode its runs used.
    pub mode: ModeKind,
    /// Whether that is the exercise's default mode.
    pub default_mode: bool,
    /// The factor its pauses were scaled by.
    pub time_scale: f64,
    /// Runs made.
    pub runs: usize,
    /// The seeds of the first and last run.
    pub seeds: Option<(u64, u64)>,
    /// The build.
    pub build: Option<BuildResult>,
    /// Each invariant.
    pub invariants: Vec<InvariantResult>,
    /// Distributions of values over the runs.
    pub distributions: Vec<DistributionResult>,
    /// How many runs went through each of the situations the scenario is
    /// meant to bring about.
    pub coverage: Vec<CoverageResult>,
    /// The first failing runs, by index.
    pub failing_runs: Vec<FailingRun>,
    /// How many runs failed in all.
    pub failing_run_count: usize,
    /// Time its runs took, summed over runs and divided by the number of
    /// parallel jobs: about the wall time its share of the session took
    /// (the build not included).
    pub elapsed_ms: f64,
    /// How long its runs took.
    pub timing: Option<Timing>,
    /// What the reader should know about this exercise's verdict (that it
    /// depends on the CPU count).
    pub warnings: Vec<String>,
    /// What the supervisor of its runs could not do here (a limit not
    /// applied, no network isolation); the same for every exercise on one
    /// machine, so the session lists them once too.
    pub run_warnings: Vec<String>,
    /// The exhaustive search, when there was one.
    pub search: Option<SearchResult>,
}

/// The first run that broke an invariant.
#[derive(Clone, Debug)]
struct FirstBroken {
    run: usize,
    seed: u64,
    violation: Violation,
    /// The scheduler's choices in it.
    schedule: Option<String>,
    params: String,
    place: Option<Place>,
}

/// A tally of one exercise's runs as they arrive.
pub struct Tally {
    invariants: Vec<Invariant>,
    held: Vec<usize>,
    broken: Vec<usize>,
    unchecked: Vec<usize>,
    first_broken: Vec<Option<FirstBroken>>,
    first_unchecked: Vec<Option<(usize, String)>>,
    values: Vec<BTreeMap<String, usize>>,
    failing: BTreeMap<usize, FailingRun>,
    failing_count: usize,
    warnings: BTreeSet<String>,
    times: Vec<RunTimes>,
    runs: usize,
    covered: Vec<usize>,
}

/// Adds each run's verdict in turn (a search's schedules, say).
impl Extend<RunVerdict> for Tally {
    fn extend<I: IntoIterator<Item = RunVerdict>>(&mut self, verdicts: I) {
        for v in verdicts {
            self.add(v);
        }
    }
}

impl Tally {
    /// An empty tally for these invariants and `distributions` values.
    pub fn new(invariants: Vec<Invariant>, distributions: usize) -> Tally {
        let n = invariants.len();
        Tally {
            invariants,
            held: vec![0; n],
            broken: vec![0; n],
            unchecked: vec![0; n],
            first_broken: vec![None; n],
            first_unchecked: vec![None; n],
            values: vec![BTreeMap::new(); distributions],
            failing: BTreeMap::new(),
            failing_count: 0,
            warnings: BTreeSet::new(),
            times: Vec::new(),
            runs: 0,
            covered: Vec::new(),
        }
    }

    /// Adds one run's verdict.
    pub fn add(&mut self, v: RunVerdict) {
        self.runs += 1;
        self.times.push(v.times);
        let mut failed = Vec::new();
        for (i, check) in v.checks.into_iter().enumerate() {
            let every = self.invariants[i].quantifier == Quantifier::Every;
            match check {
                Ok(Check::Held) => self.held[i] += 1,
                Ok(Check::Broken(violation)) => {
                    self.broken[i] += 1;
                    if every {
                        failed.push(self.invariants[i].id);
                    }
                    if self.first_broken[i]
                        .as_ref()
                        .is_none_or(|f| v.index < f.run)
                    {
                        self.first_broken[i] = Some(FirstBroken {
                            run: v.index,
                            seed: v.seed,
                            violation,
                            schedule: v.schedule.clone(),
                            params: v.params.clone(),
                            place: v.place.clone(),
                        });
                    }
                }
                Err(Unchecked(why)) => {
                    self.unchecked[i] += 1;
                    failed.push(self.invariants[i].id);
                    if self.first_unchecked[i]
                        .as_ref()
                        .is_none_or(|(r, _)| v.index < *r)
                    {
                        self.first_unchecked[i] = Some((v.index, why));
                    }
                }
            }
        }
        if self.covered.len() < v.covered.len() {
            self.covered.resize(v.covered.len(), 0);
        }
        for (count, seen) in self.covered.iter_mut().zip(&v.covered) {
            *count += usize::from(*seen);
        }
        for (map, value) in self.values.iter_mut().zip(v.values) {
            if let Some(value) = value {
                *map.entry(value).or_insert(0) += 1;
            }
        }
        if !failed.is_empty() {
            self.failing_count += 1;
            self.failing.insert(
                v.index,
                FailingRun {
                    run: v.index,
                    seed: v.seed,
                    ending: v.ending,
                    failed,
                },
            );
            if self.failing.len() > FAILING_RUNS_LISTED {
                self.failing.pop_last();
            }
        }
        for w in v.warnings {
            if self.warnings.len() < 5 {
                self.warnings.insert(w);
            }
        }
    }

    /// Runs tallied so far.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// The invariants' results; `replay(seed, place)` gives the command
    /// that replays a run.
    pub fn finish(
        self,
        distributions: &[&'static str],
        situations: &[&'static str],
        replay: &dyn Fn(u64, Option<&Place>) -> Option<String>,
    ) -> Finished {
        let runs = self.runs;
        let coverage = situations
            .iter()
            .enumerate()
            .map(|(i, name)| CoverageResult {
                name,
                runs: self.covered.get(i).copied().unwrap_or(0),
                schedules: None,
            })
            .collect();
        let distributions: Vec<DistributionResult> = distributions
            .iter()
            .zip(self.values)
            .map(|(name, map)| {
                let mut values: Vec<(String, usize)> = map.into_iter().collect();
                values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| numeric_order(&a.0, &b.0)));
                DistributionResult { name, values }
            })
            .collect();
        let mut invariants = Vec::new();
        for (i, inv) in self.invariants.iter().enumerate() {
            let (held, broken, unchecked) = (self.held[i], self.broken[i], self.unchecked[i]);
            let status = match inv.quantifier {
                Quantifier::Every if broken > 0 => InvariantStatus::Failed,
                Quantifier::Every if unchecked > 0 || runs == 0 => InvariantStatus::NotChecked,
                Quantifier::Every => InvariantStatus::Passed,
                Quantifier::Some if held > 0 => InvariantStatus::Passed,
                Quantifier::Some if broken > 0 => InvariantStatus::Failed,
                Quantifier::Some => InvariantStatus::NotChecked,
            };
            let failure = match (status, inv.quantifier, &self.first_broken[i]) {
                (InvariantStatus::Failed, Quantifier::Every, Some(f)) => Some(Failure {
                    run: Some(f.run),
                    seed: Some(f.seed),
                    expected: f.violation.expected.clone(),
                    seen: f.violation.seen.clone(),
                    evidence: f.violation.evidence.clone(),
                    replay: replay(f.seed, f.place.as_ref()),
                    schedule: match &f.place {
                        Some(p) => Some(p.schedule.clone()),
                        None => f.schedule.clone(),
                    },
                    params: Some(f.params.clone()),
                    preemptions: f.place.as_ref().map(|p| p.preemptions),
                    size: f.place.as_ref().and_then(|p| p.size),
                    preempted: f
                        .place
                        .as_ref()
                        .map(|p| p.preempted.clone())
                        .unwrap_or_default(),
                    shrunk: None,
                    at: f.violation.at,
                }),
                (InvariantStatus::Failed, Quantifier::Some, first) => {
                    let mut evidence: Vec<String> =
                        distributions.iter().map(DistributionResult::line).collect();
                    if let Some(f) = first {
                        evidence.extend(f.violation.evidence.iter().cloned());
                    }
                    Some(Failure {
                        run: None,
                        seed: None,
                        expected: "seen in at least one run".into(),
                        seen: format!(
                            "not seen in any of {broken} run{}{}",
                            if broken == 1 { "" } else { "s" },
                            first
                                .as_ref()
                                .map(|f| format!(" (every run: {})", f.violation.seen))
                                .unwrap_or_default()
                        ),
                        evidence,
                        replay: None,
                        schedule: None,
                        params: None,
                        preemptions: None,
                        size: None,
                        preempted: Vec::new(),
                        shrunk: None,
                        at: None,
                    })
                }
                _ => None,
            };
            invariants.push(InvariantResult {
                id: inv.id,
                name: inv.name,
                quantifier: inv.quantifier,
                status,
                held,
                broken,
                unchecked,
                runs,
                unchecked_reason: self.first_unchecked[i].as_ref().map(|(_, why)| why.clone()),
                failure,
                search: None,
            });
        }
        Finished {
            coverage,
            timing: Timing::of(&self.times),
            invariants,
            distributions,
            failing_runs: self.failing.into_values().collect(),
            failing_run_count: self.failing_count,
            warnings: self.warnings.into_iter().collect(),
        }
    }
}

/// How many runs went through one of an exercise's situations.
#[derive(Clone, Debug, Serialize)]
pub struct CoverageResult {
    /// The situation, in words.
    pub name: &'static str,
    /// The runs it happened in.
    pub runs: usize,
    /// The schedules of the exhaustive search it happened in, when there
    /// was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedules: Option<usize>,
}

/// A finished tally.
pub struct Finished {
    /// How many runs went through each situation.
    pub coverage: Vec<CoverageResult>,
    /// How long the runs took.
    pub timing: Option<Timing>,
    /// Each invariant.
    pub invariants: Vec<InvariantResult>,
    /// Each distribution.
    pub distributions: Vec<DistributionResult>,
    /// The first failing runs.
    pub failing_runs: Vec<FailingRun>,
    /// How many runs failed.
    pub failing_run_count: usize,
    /// Warnings from the runs.
    pub warnings: Vec<String>,
}

/// How long an exercise's runs took, in milliseconds (medians unless
/// said otherwise). The overhead is what the grader adds to a run: the
/// supervisor, starting the program, writing and reading its report,
/// judging it.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// A run, from the grader's request to its verdict.
    pub run_median_ms: f64,
    /// The 90th percentile of the same.
    pub run_p90_ms: f64,
    /// The slowest run.
    pub run_max_ms: f64,
    /// The program, start to end, as its supervisor saw it.
    pub program_median_ms: f64,
    /// The scenario's own time, from its report.
    pub scenario_median_ms: Option<f64>,
    /// A run's time less its scenario's own time.
    pub overhead_median_ms: Option<f64>,
    /// Of that overhead, the judging of the run.
    pub judge_median_ms: f64,
}

impl Timing {
    fn of(times: &[RunTimes]) -> Option<Timing> {
        let pick = |f: &dyn Fn(&RunTimes) -> Option<f64>, q: f64| {
            quantile(times.iter().filter_map(f).collect(), q)
        };
        Some(Timing {
            run_median_ms: pick(&|t| Some(t.wall_ms), 0.5)?,
            run_p90_ms: pick(&|t| Some(t.wall_ms), 0.9)?,
            run_max_ms: pick(&|t| Some(t.wall_ms), 1.0)?,
            program_median_ms: pick(&|t| Some(t.program_ms), 0.5)?,
            scenario_median_ms: pick(&|t| t.scenario_ms, 0.5),
            overhead_median_ms: pick(&|t| t.scenario_ms.map(|s| t.wall_ms - s), 0.5),
            judge_median_ms: pick(&|t| Some(t.judge_ms), 0.5)?,
        })
    }
}

fn quantile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    Some((v[i] * 1000.0).round() / 1000.0)
}

fn numeric_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// The one-line reason an exercise failed: the first invariant that did
/// not pass, in the exercise's order (so a panic comes first).
///
/// Of the invariants broken in the earliest failing run, the one broken
/// earliest in that run's trace comes first: a child that enters while
/// the parent holds the lock is the cause, the panic that follows it the
/// symptom. Invariants without a place in the trace follow, in the
/// exercise's order.
pub fn headline(invariants: &[InvariantResult]) -> Option<String> {
    let failed = invariants
        .iter()
        .enumerate()
        .filter(|(_, i)| i.status != InvariantStatus::Passed);
    let (_, inv) = failed.min_by_key(|(order, i)| {
        let f = i.failure.as_ref();
        (
            f.and_then(|f| f.run).unwrap_or(usize::MAX),
            f.and_then(|f| f.at).unwrap_or(u64::MAX),
            *order,
        )
    })?;
    Some(match (&inv.failure, inv.status) {
        (Some(f), _) if inv.id == common::NO_PANIC.id || inv.id == common::CLEAN_EXIT.id => {
            format!("{} (in {}/{} runs)", f.seen, inv.broken, inv.runs)
        }
        (Some(f), _) if inv.quantifier == Quantifier::Some => format!("{}: {}", inv.name, f.seen),
        (Some(f), _) => format!(
            "{}: broken in {} (first: {})",
            inv.name,
            inv.broken_phrase(),
            f.seen
        ),
        (None, _) => format!(
            "{}: not checked ({})",
            inv.name,
            inv.unchecked_reason
                .as_deref()
                .unwrap_or("no run could be judged")
        ),
    })
}

/// A whole grading session.
#[derive(Clone, Debug, Serialize)]
pub struct Session {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The grader's version.
    pub grader_version: &'static str,
    /// What was graded: `exercises`, `solutions` or `workspace`.
    pub source: &'static str,
    /// The submission's path, for `workspace`.
    pub workspace: Option<String>,
    /// Runs per exercise.
    pub runs: usize,
    /// The seed of run 0 of every exercise.
    pub seed: u64,
    /// Parallel runs.
    pub jobs: usize,
    /// Each run's deadline, in seconds.
    pub timeout_secs: f64,
    /// The factor pauses were scaled by, if given (else each exercise's
    /// default; see `ExerciseResult::time_scale`).
    pub time_scale: Option<f64>,
    /// CPUs the grader could use.
    pub cpus: usize,
    /// The mode given with `--mode`, if any.
    pub mode_override: Option<ModeKind>,
    /// The most preemptions the exhaustive search tried, when there was
    /// one (`--mode exhaustive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<u32>,
    /// The lesson's buggy program graded instead of the exercise's code
    /// (`--demo`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<String>,
    /// The only invariants judged (`--invariant`), when not all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// Every exercise graded.
    pub exercises: Vec<ExerciseResult>,
    /// Names given that are no exercise.
    pub unknown: Vec<String>,
    /// Files of the submission that were not used.
    pub ignored_files: Vec<String>,
    /// Problems of the session as a whole.
    pub errors: Vec<String>,
    /// What the run supervisor could not do on this machine (limits it
    /// could not apply), from every exercise's runs.
    pub warnings: Vec<String>,
    /// Whether the grader was interrupted (Ctrl-C) before it finished:
    /// the results are those of the runs it finished. Present only when
    /// true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Whether every exercise passed (and nothing unknown was asked for).
    pub passed: bool,
    /// Wall time of the whole session, builds included.
    pub elapsed_ms: f64,
}

impl Session {
    /// How many exercises passed.
    pub fn passed_count(&self) -> usize {
        self.exercises
            .iter()
            .filter(|e| e.status == ExerciseStatus::Passed)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(_: &RunData) -> Result<Check, Unchecked> {
        Ok(Check::Held)
    }

    fn verdict(index: usize, check: Result<Check, Unchecked>) -> RunVerdict {
        RunVerdict {
            index,
            seed: 100 + index as u64,
            ending: "exited normally".into(),
            checks: vec![check],
            values: vec![],
            schedule: None,
            warnings: vec![],
            times: RunTimes::default(),
            params: String::new(),
            covered: vec![],
            place: None,
        }
    }

    #[test]
    fn keeps_the_lowest_numbered_failure_whatever_the_arrival_order() {
        let mut t = Tally::new(vec![Invariant::every("x", "x", held)], 0);
        t.add(verdict(5, Ok(Check::broken("a", "five"))));
        t.add(verdict(2, Ok(Check::broken("a", "two"))));
        t.add(verdict(0, Ok(Check::Held)));
        let f = t.finish(&[], &[], &|s, _| Some(format!("replay {s}")));
        let inv = &f.invariants[0];
        assert_eq!(inv.status, InvariantStatus::Failed);
        assert_eq!(inv.rate(), "1/3");
        let failure = inv.failure.as_ref().unwrap();
        assert_eq!((failure.run, failure.seen.as_str()), (Some(2), "two"));
        assert_eq!(failure.replay.as_deref(), Some("replay 102"));
        assert_eq!(
            f.failing_runs.iter().map(|r| r.run).collect::<Vec<_>>(),
            [2, 5]
        );
    }

    #[test]
    fn a_some_invariant_passes_once_seen_and_fails_if_never() {
        let seen = {
            let mut t = Tally::new(vec![Invariant::some("y", "y", held)], 0);
            t.add(verdict(0, Ok(Check::broken("a", "b"))));
            t.add(verdict(1, Ok(Check::Held)));
            t.finish(&[], &[], &|_, _| None)
        };
        assert_eq!(seen.invariants[0].status, InvariantStatus::Passed);
        assert!(
            seen.failing_runs.is_empty(),
            "not seeing it in one run is no failure"
        );
        let never = {
            let mut t = Tally::new(vec![Invariant::some("y", "y", held)], 0);
            t.add(verdict(0, Ok(Check::broken("a", "600"))));
            t.finish(&[], &[], &|_, _| None)
        };
        assert_eq!(never.invariants[0].status, InvariantStatus::Failed);
        assert!(never.invariants[0]
            .failure
            .as_ref()
            .unwrap()
            .seen
            .contains("not seen in any of 1 run"));
    }

    #[test]
    fn unjudged_runs_keep_an_invariant_from_passing() {
        let mut t = Tally::new(vec![Invariant::every("z", "z", held)], 0);
        t.add(verdict(0, Ok(Check::Held)));
        t.add(verdict(1, Err(Unchecked("panicked".into()))));
        let f = t.finish(&[], &[], &|_, _| None);
        assert_eq!(f.invariants[0].status, InvariantStatus::NotChecked);
        assert_eq!(f.invariants[0].rate(), "1/2 (1 not checked)");
        assert!(headline(&f.invariants)
            .unwrap()
            .contains("not checked (panicked)"));
    }
}

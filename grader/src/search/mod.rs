//! The exhaustive search: every schedule of an exercise with at most K
//! preemptions, at the exercise's small sizes, each one a real run.
//!
//! Random runs find most races quickly, but a pass says only that no run
//! tried happened to fail. At a small size the schedules can all be
//! tried instead: a pass is then a proof, for that size and bound, and a
//! failure comes with the simplest schedule that shows it.
//!
//! Each schedule is one run through the same fork server and box as any
//! other, in replay mode: the grader sends the schedule's prefix in the
//! run's configuration, and the run reports the choices it had at each
//! decision point (`multiproc::sched::exhaustive`). [`tree`] turns those
//! into the schedules next to it. The search goes level by level
//! (iterative context bounding): every schedule with no preemption, then
//! every one with one, up to the bound. It stops at the first level with
//! a failing schedule, which therefore has the fewest preemptions that
//! break the program; of those, the one with the shortest prefix is the
//! counterexample.
//!
//! A level goes in rounds: the schedules found so far are run, spread
//! over `jobs` threads, and the schedules their runs lead to (at the same
//! level) make the next round. Between rounds, in a fixed order, the
//! [reduction](reduce) drops every schedule whose branch was already
//! taken. So the same program gives the same schedules, the same count
//! and the same counterexample whatever the threads did.
//!
//! The sizes are searched smallest first; a size can cap the bound (see
//! [`Size`]).
//!
//! Each run also gives the *shape* of its interleaving: the order in which
//! the processes took their turns at each shared object. Two schedules
//! with the same shape are the same interleaving (a Mazurkiewicz trace);
//! the report counts the distinct ones among the schedules run.

pub mod explain;
pub mod reduce;
pub use multiproc::sched::schedule;
pub mod shrink;
pub mod tree;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::catalog::{Exercise, Size};
use crate::judge::invariants::{Check, Invariant, Quantifier};
use crate::judge::run::RunData;
use crate::judge::verdict::{self, params_phrase, Place, RunVerdict};
use crate::run::interrupt;
use crate::run::runner::{self, Plan};
use reduce::Branch;
use tree::{Frontier, Node};

/// The most schedules one size may take: a bound far beyond what a size
/// was chosen for stops there, incomplete, rather than for ever.
const MAX_SCHEDULES: usize = 100_000;

/// What to search.
pub struct Request<'a> {
    /// The exercise.
    pub exercise: &'static Exercise,
    /// How its program runs (the program, each run's deadline, the box).
    pub plan: &'a Plan,
    /// Its invariants as the search judges them ([`Invariant::in_search`]).
    pub invariants: &'a [Invariant],
    /// The most preemptions searched.
    pub bound: u32,
    /// Whether schedules that reach a state already searched from are
    /// skipped (see [`reduce`]).
    pub reduce: bool,
    /// Runs at once.
    pub jobs: usize,
    /// The most schedules to run in all, if fewer than every one up to
    /// the bound: a search that spends them ends without a verdict of
    /// its own, and whatever failed so far still has the fewest
    /// preemptions of its size (the levels below were complete).
    pub budget: Option<usize>,
}

/// The search of one exercise, as reports give it.
#[derive(Clone, Debug, Serialize)]
pub struct SearchResult {
    /// The most preemptions searched (a size may search fewer).
    pub bound: u32,
    /// Every schedule up to its size's bound ran, at every size, and none
    /// broke an invariant that must hold in every schedule.
    pub verified: bool,
    /// Schedules run, at every size.
    pub schedules: usize,
    /// How many different interleavings those were: schedules that differ
    /// only in the order of operations on different objects are one.
    pub distinct_traces: usize,
    /// Schedules not run because they would only have taken a branch
    /// (a state, and the process run next) already taken, with no fewer
    /// preemptions (see [`reduce`]).
    pub skipped: usize,
    /// Whether that reduction was on.
    pub reduced: bool,
    /// Each size.
    pub sizes: Vec<SizeResult>,
    /// The first failing schedule: fewest preemptions, then shortest.
    pub counterexample: Option<Counterexample>,
    /// Wall time of the search.
    pub elapsed_ms: f64,
    /// Schedules run per second of that.
    pub schedules_per_second: f64,
    /// What the search could not do (a run that did not follow its
    /// schedule, a run that did not say what it could have chosen).
    pub warnings: Vec<String>,
}

/// The search at one size.
#[derive(Clone, Debug, Serialize)]
pub struct SizeResult {
    /// Its number (1-based; `replay --size`).
    pub number: usize,
    /// What it is.
    pub name: &'static str,
    /// Its parameters.
    pub params: String,
    /// The most preemptions searched at it.
    pub bound: u32,
    /// Schedules run.
    pub schedules: usize,
    /// Schedules run with no preemption, with one, and so on.
    pub by_preemptions: Vec<usize>,
    /// Different interleavings among them.
    pub distinct_traces: usize,
    /// Schedules skipped by the reduction.
    pub skipped: usize,
    /// Whether every schedule up to its bound ran, or was skipped as
    /// already searched (no counterexample or interruption stopped it).
    pub complete: bool,
}

/// A failing schedule of the search.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// The size it is at.
    pub size: usize,
    /// The first invariant it breaks, in the exercise's order.
    pub invariant: &'static str,
    /// Its preemptions.
    pub preemptions: u32,
    /// Its prefix, as a schedule string.
    pub schedule: String,
    /// Each preemption in words.
    pub preempted: Vec<String>,
}

/// What a search found: its result, and the verdict of every schedule in
/// the order they are shown (by size, then fewest preemptions, then
/// shortest), numbered so.
pub struct Found {
    /// The result.
    pub result: SearchResult,
    /// Every schedule's verdict.
    pub verdicts: Vec<RunVerdict>,
    /// Whether it was interrupted.
    pub interrupted: bool,
}

impl SearchResult {
    /// "all 301 schedules with ≤ 2 preemptions at 2 steps each, and all 4
    /// with no preemption at 10 steps each".
    pub fn extent(&self) -> String {
        let parts: Vec<String> = self
            .sizes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let with = crate::report::at_most(s.bound);
                let all = match (s.schedules, i) {
                    (1, _) => "the 1 schedule".to_string(),
                    (n, 0) => format!("all {n} schedules"),
                    (n, _) => format!("all {n}"),
                };
                format!("{all} with {with} at {}", s.name)
            })
            .collect();
        parts.join(", and ")
    }
}

/// One schedule run and judged.
struct Done {
    size: usize,
    node: Node,
    verdict: RunVerdict,
    failed: bool,
    signature: Option<u64>,
}

/// What a run leads to: the schedules next to it, and the branches it took
/// itself.
struct Leads {
    children: Vec<Node>,
    taken: Vec<Branch>,
}

/// The search's state, shared by its threads.
struct State {
    /// The size being searched (an index into the exercise's sizes).
    size: usize,
    /// Its bound.
    size_bound: u32,
    /// Its schedules still to run, beyond the current level.
    frontier: Frontier,
    /// The current round's schedules not yet started.
    queue: Vec<Node>,
    /// The next round's: schedules at the current level found by this
    /// round's runs.
    next_round: Vec<Node>,
    /// The branches this round's runs took, and at what cost.
    taken: Vec<(Branch, u32)>,
    /// Every branch taken or started at this size, with the fewest
    /// preemptions it was reached with.
    seen: HashMap<Branch, u32>,
    /// Whether branches already taken are skipped.
    reduce: bool,
    /// Schedules skipped at this size.
    skipped: usize,
    /// Runs in progress.
    running: usize,
    /// Whether the current level has a failing schedule.
    failed: bool,
    /// Schedules run at the current size.
    run_at_size: usize,
    done: Vec<Done>,
    /// Each size as it ended: (schedules by level, skipped, complete).
    ended: Vec<(Vec<usize>, usize, bool)>,
    by_level: Vec<usize>,
    finished: bool,
    interrupted: bool,
    warnings: Vec<String>,
    /// The most schedules to run (see [`Request::budget`]).
    budget: usize,
}

impl State {
    /// The current round is over: go on to the next round of this level,
    /// the next level, the next size, or stop.
    fn advance(&mut self, sizes: &[Size], bound: u32) {
        for (branch, cost) in std::mem::take(&mut self.taken) {
            let known = self.seen.entry(branch).or_insert(cost);
            *known = (*known).min(cost);
        }
        loop {
            let capped = self.run_at_size >= MAX_SCHEDULES;
            let spent = self.done.len() >= self.budget;
            if self.failed || self.interrupted || capped || spent {
                if capped {
                    self.warnings.push(format!(
                        "the search stopped after {MAX_SCHEDULES} schedules at {}",
                        sizes[self.size].name
                    ));
                }
                self.end_size(false);
                self.finished = true;
                return;
            }
            let candidates = if !self.next_round.is_empty() {
                std::mem::take(&mut self.next_round)
            } else {
                match self.frontier.pop_level() {
                    Some((level, nodes)) if level <= self.size_bound => nodes,
                    _ => {
                        self.end_size(true);
                        if self.size + 1 >= sizes.len() {
                            self.finished = true;
                            return;
                        }
                        self.size += 1;
                        self.size_bound = sizes[self.size].bound(bound);
                        self.frontier = Frontier::new();
                        self.seen.clear();
                        self.run_at_size = 0;
                        continue;
                    }
                }
            };
            self.queue = self.admit(candidates);
            if !self.queue.is_empty() {
                return;
            }
        }
    }

    /// The schedules of a round, in a fixed order, without those whose
    /// branch was taken already with no more preemptions.
    fn admit(&mut self, mut nodes: Vec<Node>) -> Vec<Node> {
        nodes.sort_by(|a, b| a.key().cmp(&b.key()));
        if !self.reduce {
            return nodes;
        }
        let before = nodes.len();
        nodes.retain(|n| match n.branch {
            None => true,
            Some(b) => match self.seen.get(&b) {
                Some(&cost) if cost <= n.preemptions => false,
                _ => {
                    self.seen.insert(b, n.preemptions);
                    true
                }
            },
        });
        self.skipped += before - nodes.len();
        nodes
    }

    fn end_size(&mut self, complete: bool) {
        let skipped = std::mem::take(&mut self.skipped);
        self.ended
            .push((std::mem::take(&mut self.by_level), skipped, complete));
    }
}

/// Searches `req.exercise` at each of its sizes, telling `tell` how far
/// it has got.
pub fn search(req: &Request, tell: &(dyn Fn(String) + Sync)) -> Found {
    let started = Instant::now();
    let sizes = req.exercise.sizes;
    let mut first = State {
        size: 0,
        size_bound: sizes.first().map_or(0, |s| s.bound(req.bound)),
        frontier: Frontier::new(),
        queue: Vec::new(),
        next_round: Vec::new(),
        taken: Vec::new(),
        seen: HashMap::new(),
        reduce: req.reduce,
        skipped: 0,
        running: 0,
        failed: false,
        run_at_size: 0,
        done: Vec::new(),
        ended: Vec::new(),
        by_level: Vec::new(),
        finished: sizes.is_empty(),
        interrupted: false,
        warnings: Vec::new(),
        budget: req.budget.unwrap_or(usize::MAX),
    };
    if !first.finished {
        first.advance(sizes, req.bound);
    }
    let state = Mutex::new(first);
    let wake = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..req.jobs.max(1) {
            scope.spawn(|| {
                worker(req, &state, &wake, tell);
                runner::close_slot();
            });
        }
    });
    let state = state.into_inner().unwrap_or_else(|e| e.into_inner());
    finish(req, state, started)
}

/// One thread of the search: takes schedules and runs them until the
/// search is over.
fn worker(req: &Request, state: &Mutex<State>, wake: &Condvar, tell: &(dyn Fn(String) + Sync)) {
    let sizes = req.exercise.sizes;
    loop {
        let (size, node) = {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if s.finished {
                    return;
                }
                if interrupt::interrupted() {
                    s.interrupted = true;
                }
                if !s.interrupted && s.done.len() + s.running < s.budget {
                    if let Some(node) = s.queue.pop() {
                        s.running += 1;
                        break (s.size, node);
                    }
                }
                if s.running == 0 {
                    s.advance(sizes, req.bound);
                    wake.notify_all();
                    continue;
                }
                s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        let (done, leads, warning) = run_schedule(req, size, node);
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.running -= 1;
        s.run_at_size += 1;
        let level = done.node.preemptions as usize;
        if s.by_level.len() <= level {
            s.by_level.resize(level + 1, 0);
        }
        s.by_level[level] += 1;
        s.failed |= done.failed;
        for child in leads.children {
            if child.preemptions as usize == level {
                s.next_round.push(child);
            } else {
                s.frontier.push(child);
            }
        }
        let cost = done.node.preemptions;
        s.taken.extend(leads.taken.into_iter().map(|b| (b, cost)));
        if let Some(w) = warning {
            if !s.warnings.contains(&w) {
                s.warnings.push(w);
            }
        }
        s.done.push(done);
        let total = s.done.len();
        if total.is_multiple_of(16) {
            tell(format!(
                "{:02} {}: {total} schedules, {} preemption{} at {}",
                req.exercise.number,
                req.exercise.slug,
                level,
                if level == 1 { "" } else { "s" },
                sizes[size].name
            ));
        }
        wake.notify_all();
    }
}

/// Runs one schedule and judges it; gives what it leads to (nothing when
/// it failed: the schedules after it could not show fewer preemptions),
/// and what went wrong with the search, if anything.
fn run_schedule(req: &Request, size: usize, node: Node) -> (Done, Leads, Option<String>) {
    let e = req.exercise;
    let sched = format!("replay:{}", schedule::format(&node.prefix));
    let config = req.plan.config_at_size(size + 1, &e.sizes[size], sched);
    let t = Instant::now();
    let run = runner::run_with(req.plan, 0, config);
    let mut v = verdict::judge_run(e, req.invariants, &run);
    v.times.wall_ms = t.elapsed().as_secs_f64() * 1000.0;
    let failed = v
        .checks
        .iter()
        .zip(req.invariants)
        .any(|(c, inv)| inv.quantifier == Quantifier::Every && !matches!(c, Ok(Check::Held)));
    let choices = run.choices();
    let mut warning = None;
    let leads = match choices {
        _ if failed || run.interrupted => Leads {
            children: Vec::new(),
            taken: Vec::new(),
        },
        Some(c) => {
            if !tree::followed(&node.prefix, c) {
                warning = Some(
                    "a run did not follow the schedule it was given: the program does not \
                     behave the same way twice under the scheduler, so the search may have \
                     missed schedules"
                        .to_string(),
                );
            }
            let states = req.reduce.then(|| reduce::fingerprints(&run, c)).flatten();
            Leads {
                children: node.children(c, states.as_deref(), req.plan_bound(size)),
                taken: states.map_or_else(Vec::new, |s| node.taken(c, &s)),
            }
        }
        None => {
            warning = Some(
                "a run did not say which choices it had, so the schedules after it were not \
                 searched"
                    .to_string(),
            );
            Leads {
                children: Vec::new(),
                taken: Vec::new(),
            }
        }
    };
    let preempted = if failed {
        choices
            .map(|c| explain::preemptions(&run, c))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let prefix = schedule::format(&node.prefix);
    v.schedule = Some(prefix.clone());
    v.place = Some(Place {
        size: Some(size + 1),
        preemptions: node.preemptions,
        schedule: prefix,
        preempted,
    });
    let signature = signature(&run);
    (
        Done {
            size,
            node,
            verdict: v,
            failed,
            signature,
        },
        leads,
        warning,
    )
}

impl Request<'_> {
    /// The bound of size `size`.
    fn plan_bound(&self, size: usize) -> u32 {
        self.exercise.sizes[size].bound(self.bound)
    }
}

/// The shape of a run's interleaving: for each shared object, which
/// process operated on it, in order. Schedules with the same shape differ
/// only in how independent operations were ordered. (Every two operations
/// on one object count as dependent, two loads included, so this counts
/// at least as many shapes as there are Mazurkiewicz traces.)
fn signature(run: &RunData) -> Option<u64> {
    let events = run.trace().ok()?;
    let mut per_object: BTreeMap<u32, Vec<(String, &str)>> = BTreeMap::new();
    for e in events {
        per_object
            .entry(e.object)
            .or_default()
            .push((run.names.process(e.pid), e.op.as_str()));
    }
    let mut h = DefaultHasher::new();
    per_object.hash(&mut h);
    Some(h.finish())
}

/// The verdicts in the order schedules are shown, and the result.
fn finish(req: &Request, state: State, started: Instant) -> Found {
    let sizes = req.exercise.sizes;
    let mut done = state.done;
    done.sort_by(|a, b| (a.size, a.node.key()).cmp(&(b.size, b.node.key())));
    let mut distinct: Vec<HashSet<u64>> = vec![HashSet::new(); sizes.len()];
    for d in &done {
        if let Some(sig) = d.signature {
            distinct[d.size].insert(sig);
        }
    }
    let counterexample = done.iter().find(|d| d.failed).map(|d| {
        let invariant = d
            .verdict
            .checks
            .iter()
            .zip(req.invariants)
            .find(|(c, inv)| inv.quantifier == Quantifier::Every && !matches!(c, Ok(Check::Held)))
            .map_or("", |(_, inv)| inv.id);
        let place = d.verdict.place.clone().unwrap_or_default();
        Counterexample {
            size: d.size + 1,
            invariant,
            preemptions: place.preemptions,
            schedule: place.schedule,
            preempted: place.preempted,
        }
    });
    let size_results: Vec<SizeResult> = state
        .ended
        .iter()
        .enumerate()
        .map(|(i, (by_level, skipped, complete))| SizeResult {
            number: i + 1,
            name: sizes[i].name,
            params: params_phrase(&(sizes[i].params)()),
            bound: sizes[i].bound(req.bound),
            schedules: by_level.iter().sum(),
            by_preemptions: by_level.clone(),
            distinct_traces: distinct[i].len(),
            skipped: *skipped,
            complete: *complete,
        })
        .collect();
    let schedules = done.len();
    let elapsed = started.elapsed().as_secs_f64();
    let verified = counterexample.is_none()
        && !state.interrupted
        && size_results.len() == sizes.len()
        && size_results.iter().all(|s| s.complete);
    let result = SearchResult {
        bound: req.bound,
        verified,
        schedules,
        distinct_traces: distinct.iter().map(HashSet::len).sum(),
        skipped: size_results.iter().map(|s| s.skipped).sum(),
        reduced: req.reduce,
        sizes: size_results,
        counterexample,
        elapsed_ms: elapsed * 1000.0,
        schedules_per_second: if elapsed > 0.0 {
            (schedules as f64 / elapsed * 10.0).round() / 10.0
        } else {
            0.0
        },
        warnings: state.warnings,
    };
    let verdicts = done
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut v = d.verdict;
            v.index = i;
            v
        })
        .collect();
    Found {
        result,
        verdicts,
        interrupted: state.interrupted,
    }
}

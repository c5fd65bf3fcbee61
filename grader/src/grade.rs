//! A grading session: build each exercise, run it many times in parallel,
//! judge every run, tally the verdicts.
//!
//! Nothing an exercise does stops the session: a crate that does not
//! compile, a missing file, a program that hangs or crashes each fail that
//! exercise with a reason, and the others are graded all the same.

use std::cell::OnceCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::build::compile::{BuildError, Builder, Built};
use crate::build::stage::{self, Staged, Submission, STUDENT_FILE};
use crate::build::{binary, boundary};
use crate::catalog::{Exercise, Source};
use crate::course::Course;
use crate::judge::invariants::Invariant;
use crate::judge::verdict::{
    self, BuildResult, ExerciseResult, ExerciseStatus, Failure, Finished, Place, Session,
    ShrunkFrom, Tally, SCHEMA,
};
use crate::mode::ModeKind;
use crate::report::term::Progress;
use crate::run::interrupt;
use crate::run::runner::{self, Plan};
use crate::run::sweep;
use crate::search::{self, shrink};

/// What to grade, and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the programs come from.
    pub source: Source,
    /// The exercises to grade.
    pub exercises: Vec<&'static Exercise>,
    /// Names asked for that are no exercise.
    pub unknown: Vec<String>,
    /// Runs per exercise.
    pub runs: usize,
    /// The seed of run 0.
    pub seed: u64,
    /// Parallel runs.
    pub jobs: usize,
    /// Each run's deadline.
    pub timeout: Duration,
    /// A mode for every exercise instead of each one's default.
    pub mode: Option<ModeKind>,
    /// The most preemptions the exhaustive search tries.
    pub bound: u32,
    /// Whether the search skips the schedules that reach a state already
    /// searched from.
    pub reduce: bool,
    /// The factor pauses are scaled by, if given.
    pub time_scale: Option<f64>,
    /// Whether to draw a progress bar.
    pub progress: bool,
    /// How long each exercise's build may take.
    pub build_timeout: Duration,
    /// The staged copy a submission is built in (see [`stage`]).
    pub stage: String,
    /// Whether the language boundary is enforced (always, but in tests
    /// that show what the other layers do alone).
    pub boundary: bool,
    /// The only invariants judged, by id (all when empty).
    pub only: Vec<String>,
    /// The lesson's buggy program run instead of the exercise's code.
    pub demo: Option<String>,
    /// Whether builds and runs are boxed (always, but in such tests).
    pub sandbox: bool,
}

/// The most preemptions the exhaustive search tries by default.
pub const DEFAULT_BOUND: u32 = 2;

impl Options {
    /// The mode an exercise's random runs use (`exhaustive` when it has
    /// none, only the search).
    pub fn mode_for(&self, e: &Exercise) -> ModeKind {
        self.mode.unwrap_or(e.default_mode)
    }

    /// Whether `e` is searched exhaustively: with `--mode exhaustive`.
    /// (Not by default: the random runs at the lesson's sizes catch every
    /// known-bad variant in a fraction of the time; see the README's
    /// figures.)
    pub fn searches(&self, e: &Exercise) -> bool {
        !e.sizes.is_empty() && self.mode == Some(ModeKind::Exhaustive)
    }

    /// Whether `e` gets random runs too: always, but with `--mode
    /// exhaustive`.
    pub fn samples(&self) -> bool {
        self.mode != Some(ModeKind::Exhaustive)
    }

    /// The command that replays one run of `e` (with `place`, its
    /// schedule of a search, or its shrunk schedule).
    pub fn replay_command(&self, e: &Exercise, seed: u64, place: Option<&Place>) -> Option<String> {
        // The command a student runs in their own checkout: a submission
        // is graded as that checkout's own `cargo grade` grades it, so it
        // names no path of the grading machine (the human report tells an
        // instructor to add `--workspace`).
        let mut solutions = if self.source == Source::Solutions {
            " --solutions".to_string()
        } else {
            String::new()
        };
        if let Some(demo) = &self.demo {
            solutions.push_str(&format!(" --demo {demo}"));
        }
        let schedule = |s: &str| {
            if s.is_empty() {
                " --schedule ''".to_string()
            } else {
                format!(" --schedule {s}")
            }
        };
        if let Some(Place {
            size: Some(n),
            schedule: s,
            ..
        }) = place
        {
            let schedule = if s.is_empty() {
                String::new()
            } else {
                format!(" --schedule {s}")
            };
            return Some(format!(
                "cargo grade replay {} --size {n}{schedule}{solutions}",
                e.slug
            ));
        }
        let mode = self.mode_for(e);
        if mode == ModeKind::Free {
            return None;
        }
        let mut cmd = format!("cargo grade replay {} --seed {seed}", e.slug);
        if let Some(p) = place {
            cmd.push_str(&schedule(&p.schedule));
        }
        cmd.push_str(&solutions);
        if mode != e.default_mode {
            cmd.push_str(&format!(" --mode {}", mode.name()));
        }
        if !mode.replays_exactly() {
            cmd.push_str("  (perturb mode: the same choices, but not the same timing)");
        }
        Some(cmd)
    }
}

/// Quotes a word (a path) for a POSIX shell when it needs it. A word
/// that no shell can hold (a NUL byte) is left as it is.
pub fn shell_quote(s: &str) -> String {
    shlex::try_quote(s).map_or_else(|_| s.to_string(), |q| q.into_owned())
}

/// The number of CPUs this process may use.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A program ready to run, or why there is none.
enum Prepared {
    Ready {
        program: PathBuf,
        build: BuildResult,
    },
    Failed {
        status: ExerciseStatus,
        headline: String,
        build: Option<BuildResult>,
    },
}

/// What is graded, as a submission to stage.
pub fn submission(course: &Course, source: &Source) -> Submission {
    match source {
        Source::Exercises => Submission::Checkout(course.root.clone()),
        Source::Solutions => Submission::Solutions,
        Source::Workspace(p) => Submission::Checkout(p.clone()),
    }
}

/// The uid the builds of a staged copy run as: one per copy, so that a
/// copy's build output keeps its owner from one session to the next.
fn build_uid(stage: &str) -> u32 {
    let hash = stage
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    61_000 + hash % 1000
}

/// Where builds happen: a staged copy of the course holding what is
/// graded, built in a box of its own.
pub struct Workbench {
    staged: Result<Staged, String>,
    builder: Option<Builder>,
    build_timeout: Duration,
    /// Whether the language boundary is checked (always, but in tests of
    /// the other layers).
    boundary: bool,
    /// The build of the course's shared crates, once done: why it failed,
    /// if it did.
    warmed: OnceCell<Option<BuildError>>,
    /// Exercises built together already (see [`Workbench::build_together`]).
    prebuilt: std::collections::HashMap<&'static str, Built>,
    /// The language boundary's verdict on each exercise's file, once
    /// checked: why it is refused, if it is.
    checked: std::collections::HashMap<&'static str, Option<boundary::Refused>>,
}

impl Workbench {
    /// Stages what `source` names into the copy named `stage_name`.
    pub fn new(
        course: &Course,
        source: &Source,
        exercises: &[&'static Exercise],
        stage_name: &str,
        build_timeout: Duration,
        boundary: bool,
        sandbox: bool,
    ) -> Workbench {
        let staged = stage::stage(course, stage_name, &submission(course, source), exercises)
            .map_err(|e| format!("cannot stage the submission: {e}"));
        let builder = staged.as_ref().ok().map(|s| {
            let mut b = Builder::new(
                &s.root.join("Cargo.toml"),
                &s.target_dir,
                build_uid(stage_name),
            );
            b.bare = !sandbox;
            b.cap_lints = !boundary;
            b
        });
        Workbench {
            staged,
            builder,
            build_timeout,
            boundary,
            warmed: OnceCell::new(),
            prebuilt: Default::default(),
            checked: Default::default(),
        }
    }

    /// Why the submission could not be staged, if it could not.
    pub fn error(&self) -> Option<String> {
        self.staged.as_ref().err().cloned()
    }

    /// Files of the submission that were not used.
    pub fn ignored(&self) -> Vec<String> {
        self.staged
            .as_ref()
            .map(|s| s.ignored.clone())
            .unwrap_or_default()
    }

    /// Notes on the submission (where its files were found).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self
            .staged
            .as_ref()
            .map(|s| s.notes.clone())
            .unwrap_or_default();
        if let Some(b) = &self.builder {
            notes.extend(b.warnings.iter().map(|w| format!("build sandbox: {w}")));
        }
        notes
    }

    /// Builds `exercises` in one cargo run before each is prepared, when
    /// that can be done safely: only those whose file was taken and
    /// passes the language boundary (a refused file is never compiled),
    /// and only when the course's crates need no warm-up. If anything
    /// fails, nothing is kept, and each exercise is built alone.
    pub fn build_together(&mut self, exercises: &[&'static Exercise]) {
        let Ok(staged) = &self.staged else { return };
        if !staged.warmth.warm {
            return;
        }
        let mut ready: Vec<&'static str> = Vec::new();
        for e in exercises {
            if let Some(Ok(shown)) = self.taken(e) {
                if self.refusal(e, &shown).is_none() {
                    ready.push(e.slug);
                }
            }
        }
        let Some(builder) = self.builder.as_mut() else {
            return;
        };
        // A build that does not finish in a minute is not the quick path
        // it is meant to be: each exercise then gets its own deadline.
        let deadline = self.build_timeout.min(Duration::from_secs(60));
        if let Some(built) = builder.build_all(&ready, deadline) {
            self.prebuilt = ready.into_iter().zip(built).collect();
        }
    }

    /// Where `e`'s file was taken from in the submission, or why it was
    /// not; `None` when the session has no staged copy or does not grade
    /// `e`.
    fn taken(&self, e: &Exercise) -> Option<Result<String, String>> {
        let staged = self.staged.as_ref().ok()?;
        let (_, taken) = staged.taken.iter().find(|(slug, _)| *slug == e.slug)?;
        Some(taken.clone())
    }

    /// Why the language boundary refuses `e`'s staged file (shown as
    /// `shown`), if it does. Checked once a session: building together
    /// and preparing each exercise both ask.
    fn refusal(&mut self, e: &Exercise, shown: &str) -> Option<boundary::Refused> {
        if !self.boundary {
            return None;
        }
        let root = &self.staged.as_ref().ok()?.root;
        let file = root.join("exercises").join(e.dir).join(STUDENT_FILE);
        self.checked
            .entry(e.slug)
            .or_insert_with(|| boundary::refuse(&file, shown))
            .clone()
    }

    /// Builds the course's shared crates, once a session: `None` when
    /// they are built, or the failure of every exercise when they are not.
    fn warm_up(&mut self) -> Option<Prepared> {
        let builder = self.builder.as_mut().expect("staged, so a builder");
        let mut first = false;
        let warm = self.warmed.get_or_init(|| {
            first = true;
            builder.warm_up().err()
        });
        let Some(err) = warm else {
            if first {
                if let Ok(s) = &mut self.staged {
                    s.warmth.record();
                }
            }
            return None;
        };
        let (status, headline) = if err.interrupted {
            (ExerciseStatus::Interrupted, err.headline.clone())
        } else {
            (
                ExerciseStatus::BuildFailed,
                format!("the course's own crates did not build: {}", err.headline),
            )
        };
        Some(Prepared::Failed {
            status,
            headline,
            build: Some(BuildResult {
                ok: false,
                elapsed_ms: 0.0,
                error: Some(err.headline.clone()),
                details: Some(err.details.clone()),
            }),
        })
    }

    /// Checks, builds one exercise and copies its program into `bin`, so
    /// that a later build by anyone cannot change it under the running
    /// session.
    fn prepare(&mut self, e: &Exercise, bin: &Path) -> Prepared {
        if let Err(err) = &self.staged {
            return Prepared::Failed {
                status: ExerciseStatus::Missing,
                headline: err.clone(),
                build: None,
            };
        }
        let shown = match self.taken(e) {
            Some(Ok(shown)) => shown,
            Some(Err(why)) => {
                return Prepared::Failed {
                    status: ExerciseStatus::Missing,
                    headline: why,
                    build: None,
                }
            }
            None => String::new(),
        };
        if let Some(refusal) = self.refusal(e, &shown) {
            return Prepared::Failed {
                status: ExerciseStatus::Refused,
                headline: refusal.headline.clone(),
                build: Some(BuildResult {
                    ok: false,
                    elapsed_ms: 0.0,
                    error: Some(refusal.headline.clone()),
                    details: Some(refusal.details),
                }),
            };
        }
        // A warm-up skipped on the word of the copy's mark is made after
        // all if the build fails: the mark may be wrong, the failure the
        // course's (see `Warmth`).
        let skipped = self.staged.as_ref().is_ok_and(|s| s.warmth.warm);
        if !skipped {
            if let Some(failed) = self.warm_up() {
                return failed;
            }
        }
        if let Some(built) = self.prebuilt.remove(e.slug) {
            return self.ready(e, bin, built);
        }
        let builder = self.builder.as_mut().expect("staged, so a builder");
        let mut result = builder.build(e.slug, self.build_timeout);
        if skipped && result.as_ref().is_err_and(|e| !e.interrupted) {
            if let Ok(s) = &mut self.staged {
                s.warmth.forget();
            }
            if let Some(failed) = self.warm_up() {
                return failed;
            }
            let builder = self.builder.as_mut().expect("staged, so a builder");
            result = builder.build(e.slug, self.build_timeout);
        }
        match result {
            Ok(built) => self.ready(e, bin, built),
            Err(BuildError {
                headline,
                details,
                interrupted,
            }) => Prepared::Failed {
                status: if interrupted {
                    ExerciseStatus::Interrupted
                } else {
                    ExerciseStatus::BuildFailed
                },
                headline: headline.clone(),
                build: Some(BuildResult {
                    ok: false,
                    elapsed_ms: 0.0,
                    error: Some(headline),
                    details: Some(details),
                }),
            },
        }
    }

    /// A built exercise, checked (its compiled library) and copied out.
    fn ready(&self, e: &Exercise, bin: &Path, built: Built) -> Prepared {
        let build = BuildResult {
            ok: true,
            elapsed_ms: built.elapsed.as_secs_f64() * 1000.0,
            error: None,
            details: None,
        };
        // Always, even with the source check off: it looks at what
        // the compiler made, whatever the source did.
        let ctors = match &built.library {
            Some(rlib) => binary::constructors(rlib),
            None => Some(
                "refused after the build: the compiled library could not be found to check".into(),
            ),
        };
        if let Some(why) = ctors {
            return Prepared::Failed {
                status: ExerciseStatus::Refused,
                headline: why.clone(),
                build: Some(BuildResult {
                    ok: false,
                    error: Some(why),
                    ..build
                }),
            };
        }
        match private_copy(&built.executable, bin, e.slug) {
            Ok(program) => Prepared::Ready { program, build },
            Err(err) => Prepared::Failed {
                status: ExerciseStatus::BuildFailed,
                headline: format!("cannot copy the built program: {err}"),
                build: Some(build),
            },
        }
    }

    /// Every program is built and copied out: the staged copy may be
    /// reused by others, and the build's box ends.
    pub fn done_building(&mut self) {
        if let Ok(s) = &mut self.staged {
            s.unlock();
        }
        self.builder = None;
    }

    /// Builds one exercise for a single run: its program, or why not
    /// (with the compiler's message).
    pub fn prepare_one(&mut self, e: &Exercise, bin: &Path) -> Result<PathBuf, String> {
        match self.prepare(e, bin) {
            Prepared::Ready { program, .. } => Ok(program),
            Prepared::Failed {
                headline, build, ..
            } => {
                let details = build.and_then(|b| b.details).unwrap_or_default();
                Err(format!("{headline}\n{details}").trim_end().to_string())
            }
        }
    }
}

/// Builds the course's shared crates in the staged copy `stage_name`
/// (a pristine one: no submission is staged), so that later builds there
/// are incremental.
pub fn warm(course: &Course, stage_name: &str) -> Result<(), String> {
    let staged = stage::stage(
        course,
        stage_name,
        &Submission::Checkout(course.root.clone()),
        &[],
    )
    .map_err(|e| format!("cannot stage the course: {e}"))?;
    Builder::new(
        &staged.root.join("Cargo.toml"),
        &staged.target_dir,
        build_uid(stage_name),
    )
    .warm_up()
    .map_err(|e| format!("the course's own crates did not build: {}", e.headline))
}

fn private_copy(exe: &Path, bin: &Path, name: &str) -> std::io::Result<PathBuf> {
    fs::create_dir_all(bin)?;
    let to = bin.join(name);
    let _ = fs::remove_file(&to);
    fs::copy(exe, &to)?;
    Ok(to)
}

/// An exercise being graded.
struct InFlight {
    exercise: &'static Exercise,
    title: String,
    package: String,
    invariants: Vec<Invariant>,
    prepared: Prepared,
}

/// What a session tells its caller while it works, so that nothing is
/// silent: a report printed as it comes, a line in a log.
pub enum Event<'a> {
    /// An exercise is being built; `first` when the course's own crates
    /// must be built before it (a fresh checkout: a few minutes).
    Building {
        exercise: &'static Exercise,
        first: bool,
    },
    /// An exercise is graded: its result as it will be in the session.
    /// Exercises are told in the session's order.
    Done(&'a ExerciseResult),
}

/// The session's shape before any work: what is graded and how, with no
/// result yet (for the report's header).
pub fn preview(opts: &Options) -> Session {
    session(opts, Vec::new(), Vec::new(), Vec::new(), Instant::now())
}

/// Grades `opts.exercises` of the course.
pub fn grade(course: &Course, opts: &Options) -> Session {
    grade_with(course, opts, &mut |_| {})
}

/// Grades `opts.exercises` of the course, telling `on` what it does as
/// it goes (with the progress bar, if any, off the screen).
pub fn grade_with(course: &Course, opts: &Options, on: &mut dyn FnMut(Event)) -> Session {
    let started = Instant::now();
    let mut errors = Vec::new();
    let tmp = match sweep::temp_dir() {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!("cannot make a temporary directory: {e}"));
            return session(opts, Vec::new(), Vec::new(), errors, started);
        }
    };
    let progress = Progress::new((opts.exercises.len() * opts.runs) as u64, opts.progress);
    let mut first_build = !stage::is_built(course, &opts.stage);
    let mut bench = Workbench::new(
        course,
        &opts.source,
        &opts.exercises,
        &opts.stage,
        opts.build_timeout,
        opts.boundary,
        opts.sandbox,
    );
    errors.extend(bench.error());
    let bin = tmp.path().join("bin");

    if !first_build && opts.exercises.len() > 1 {
        progress.message("building the exercises".to_string());
        bench.build_together(&opts.exercises);
    }
    let mut flights: Vec<Option<InFlight>> = Vec::new();
    for &e in &opts.exercises {
        let first = first_build && bench.error().is_none();
        first_build = false;
        progress.message(if first {
            format!(
                "building the course's crates, then {} (the first build takes a few minutes)",
                e.slug
            )
        } else {
            format!("building {:02} {}", e.number, e.slug)
        });
        progress.suspend(|| on(Event::Building { exercise: e, first }));
        flights.push(Some(InFlight {
            exercise: e,
            title: e.lesson_title(&course.root),
            package: e.package(&opts.source),
            invariants: e
                .invariants()
                .into_iter()
                .filter(|i| opts.only.is_empty() || opts.only.iter().any(|id| id == i.id))
                .collect(),
            prepared: bench.prepare(e, &bin),
        }));
    }

    let notes = bench.notes();
    bench.done_building();

    // What the workers need of each exercise, borrowed by them while the
    // results are finished here, on this thread.
    let judges: Vec<(&'static Exercise, Vec<Invariant>)> = flights
        .iter()
        .flatten()
        .map(|f| (f.exercise, f.invariants.clone()))
        .collect();
    // How each exercise that built runs.
    let programs: Vec<Option<Plan>> = flights
        .iter()
        .flatten()
        .map(|f| match &f.prepared {
            Prepared::Ready { program, .. } => Some(Plan {
                exercise: f.exercise.slug.to_string(),
                program: program.clone(),
                demo: opts.demo.clone(),
                mode: opts.mode_for(f.exercise),
                sched_override: None,
                base_seed: opts.seed,
                time_scale: f
                    .exercise
                    .time_scale(opts.mode_for(f.exercise), opts.time_scale),
                timeout: opts.timeout,
                params: f.exercise.params,
                bare: !opts.sandbox,
            }),
            Prepared::Failed { .. } => None,
        })
        .collect();
    // The exhaustive searches first, one exercise at a time, each over
    // every job: they are the quickest way to a verdict.
    let mut searched: Vec<Option<search::Found>> = Vec::new();
    for ((e, invariants), plan) in judges.iter().zip(&programs) {
        let found = match plan {
            Some(plan) if opts.searches(e) && !interrupt::interrupted() => {
                progress.message(format!("{:02} {}: exhaustive search", e.number, e.slug));
                let in_search: Vec<Invariant> = invariants.iter().map(|i| i.in_search()).collect();
                let request = search::Request {
                    exercise: e,
                    plan,
                    invariants: &in_search,
                    bound: opts.bound,
                    reduce: opts.reduce,
                    jobs: opts.jobs,
                    budget: None,
                };
                Some(search::search(&request, &|m| progress.message(m)))
            }
            _ => None,
        };
        searched.push(found);
    }
    // Every random run of every exercise that built, in one pool.
    let plans: Vec<Option<Plan>> = programs
        .iter()
        .map(|p| p.clone().filter(|_| opts.samples()))
        .collect();
    let jobs: Vec<(usize, usize)> = plans
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_some())
        .flat_map(|(i, _)| (0..opts.runs).map(move |r| (i, r)))
        .collect();
    // Verdicts are tallied as they arrive, on this thread; an exercise is
    // finished, and told, as soon as its last run is in.
    let mut tallies: Vec<Option<(Tally, Duration)>> = judges
        .iter()
        .map(|(e, invariants)| {
            Some((
                Tally::new(invariants.clone(), e.distributions.len()),
                Duration::ZERO,
            ))
        })
        .collect();
    let mut arrived = vec![0usize; judges.len()];
    let mut results: Vec<Option<ExerciseResult>> = (0..judges.len()).map(|_| None).collect();
    let mut told = 0;
    let mut settle = |i: usize,
                      flights: &mut Vec<Option<InFlight>>,
                      tallies: &mut Vec<Option<(Tally, Duration)>>,
                      results: &mut Vec<Option<ExerciseResult>>,
                      told: &mut usize| {
        if let (Some(f), Some((tally, time))) = (flights[i].take(), tallies[i].take()) {
            let ran = Ran {
                tally,
                time,
                sampled: plans[i].as_ref(),
                program: programs[i].as_ref(),
                searched: searched[i].take(),
            };
            results[i] = Some(finish(f, ran, opts, interrupt::interrupted()));
        }
        while let Some(Some(r)) = results.get(*told) {
            progress.suspend(|| on(Event::Done(r)));
            *told += 1;
        }
    };
    // Those that will not run are done already.
    for (i, plan) in plans.iter().enumerate() {
        if plan.is_none() {
            settle(i, &mut flights, &mut tallies, &mut results, &mut told);
        }
    }
    runner::parallel(
        jobs.len(),
        opts.jobs,
        |k| {
            let (i, r) = jobs[k];
            let plan = plans[i].as_ref().expect("only planned exercises are run");
            let t = Instant::now();
            let run = runner::run_once(plan, r);
            // A run stopped by Ctrl-C is no observation of the program.
            let verdict = (!run.interrupted).then(|| {
                let (exercise, invariants) = &judges[i];
                let judging = Instant::now();
                let mut v = verdict::judge_run(exercise, invariants, &run);
                v.times.judge_ms = judging.elapsed().as_secs_f64() * 1000.0;
                v.times.wall_ms = t.elapsed().as_secs_f64() * 1000.0;
                v
            });
            (i, verdict)
        },
        |(i, verdict)| {
            arrived[i] += 1;
            let e = judges[i].0;
            progress.step(format!(
                "{:02} {}: {}/{} runs",
                e.number, e.slug, arrived[i], opts.runs
            ));
            if let (Some(v), Some((tally, time))) = (verdict, tallies[i].as_mut()) {
                *time += Duration::from_secs_f64(v.times.wall_ms / 1000.0);
                tally.add(v);
            }
            if arrived[i] == opts.runs {
                settle(i, &mut flights, &mut tallies, &mut results, &mut told);
            }
        },
    );
    progress.finish();
    let interrupted = interrupt::interrupted();
    // What an interruption left unfinished.
    for i in 0..judges.len() {
        settle(i, &mut flights, &mut tallies, &mut results, &mut told);
    }

    // The shrinking of failures ran here, in this thread's own box.
    runner::close_slot();
    let ignored = bench.ignored();
    let results = results.into_iter().flatten().collect();
    drop(tmp);
    let mut s = session(opts, results, ignored, errors, started);
    s.interrupted = interrupted;
    s.passed = s.passed && !interrupted;
    let mut warnings: Vec<String> = s
        .exercises
        .iter()
        .flat_map(|e| e.run_warnings.clone())
        .chain(notes)
        .collect();
    warnings.sort();
    warnings.dedup();
    s.warnings = warnings;
    s.passed = s.passed && s.unknown.is_empty();
    s
}

/// What an exercise's runs gave: its random runs' tally and time, and its
/// search.
struct Ran<'a> {
    tally: Tally,
    time: Duration,
    /// How its random runs were made, if it had any.
    sampled: Option<&'a Plan>,
    /// How its program runs (for shrinking a failure).
    program: Option<&'a Plan>,
    searched: Option<search::Found>,
}

fn finish(f: InFlight, ran: Ran, opts: &Options, interrupted: bool) -> ExerciseResult {
    let Ran {
        tally,
        time: run_time,
        sampled,
        program,
        searched,
    } = ran;
    let e = f.exercise;
    let mode = if sampled.is_some() || searched.is_none() {
        opts.mode_for(e)
    } else {
        ModeKind::Exhaustive
    };
    let mut warnings = Vec::new();
    if e.default_mode != ModeKind::Free && !mode.replays_exactly() && cpus() == 1 {
        warnings.push(format!(
            "{} mode on 1 CPU: races show far less often than under the controlled scheduler, \
             so this verdict depends on the machine",
            mode.name()
        ));
    }
    let base = |status, headline: Option<String>, build| ExerciseResult {
        number: e.number,
        slug: e.slug,
        title: f.title.clone(),
        package: f.package.clone(),
        status,
        headline,
        mode,
        default_mode: opts.mode.is_none_or(|m| m == e.default_mode),
        time_scale: e.time_scale(mode, opts.time_scale),
        runs: 0,
        seeds: None,
        build,
        invariants: Vec::new(),
        distributions: Vec::new(),
        coverage: Vec::new(),
        failing_runs: Vec::new(),
        failing_run_count: 0,
        elapsed_ms: 0.0,
        timing: None,
        warnings: warnings.clone(),
        run_warnings: Vec::new(),
        search: None,
    };
    match f.prepared {
        Prepared::Failed {
            status,
            headline,
            build,
        } => base(status, Some(headline), build),
        Prepared::Ready { build, .. } => {
            let runs = tally.runs();
            let names: Vec<&'static str> = e.distributions.iter().map(|d| d.name).collect();
            let situations: Vec<&'static str> = e.coverage.iter().map(|c| c.name).collect();
            let replay = |seed, place: Option<&Place>| opts.replay_command(e, seed, place);
            let mut done = tally.finish(&names, &situations, &replay);
            if let (Some(plan), true) = (program, mode.replays_exactly()) {
                shrink_failures(e, plan, &f.invariants, &mut done, opts);
            }
            let (search_result, search_interrupted) = match searched {
                Some(found) => {
                    let mut t = Tally::new(
                        f.invariants.iter().map(|i| i.in_search()).collect(),
                        e.distributions.len(),
                    );
                    let schedules = found.verdicts.len();
                    t.extend(found.verdicts);
                    let of_search = t.finish(&names, &situations, &replay);
                    let sampled_runs = sampled.is_some().then_some(done);
                    done = verdict::merge(&f.invariants, of_search, schedules, sampled_runs);
                    (Some(found.result), found.interrupted)
                }
                None => (None, false),
            };
            let schedules = search_result.as_ref().map_or(0, |s| s.schedules);
            let mut headline = verdict::headline(&done.invariants);
            let mut status = if headline.is_none() && runs + schedules > 0 {
                ExerciseStatus::Passed
            } else {
                ExerciseStatus::Failed
            };
            let cut_short = (sampled.is_some() && runs < opts.runs) || search_interrupted;
            if interrupted && cut_short {
                status = ExerciseStatus::Interrupted;
                let so_far = match (&headline, runs) {
                    (_, 0) => String::new(),
                    (Some(h), _) => format!("; so far: {h}"),
                    (None, _) => "; every invariant held so far".into(),
                };
                headline = Some(if runs == 0 {
                    "interrupted before any run".to_string()
                } else {
                    format!("interrupted after {runs} of {} runs{so_far}", opts.runs)
                });
            }
            let mut r = base(status, headline, Some(build));
            if let Some(s) = &search_result {
                r.elapsed_ms += s.elapsed_ms;
            }
            r.search = search_result;
            r.runs = runs;
            r.seeds = (runs > 0).then(|| (opts.seed, opts.seed.wrapping_add(runs as u64 - 1)));
            r.invariants = done.invariants;
            r.distributions = done.distributions;
            r.coverage = done.coverage;
            r.failing_runs = done.failing_runs;
            r.failing_run_count = done.failing_run_count;
            r.timing = done.timing;
            r.elapsed_ms += run_time.as_secs_f64() * 1000.0 / opts.jobs.max(1) as f64;
            r.run_warnings = done.warnings;
            r
        }
    }
}

/// Shrinks each failure that random runs found, so that what is shown
/// is the simplest schedule that still breaks the same invariant.
fn shrink_failures(
    e: &'static Exercise,
    plan: &Plan,
    invariants: &[Invariant],
    done: &mut Finished,
    opts: &Options,
) {
    // One budget for the exercise, spent in the invariants' order: the
    // first failure, the one the headline names, first.
    let mut left = shrink::BUDGET;
    for (result, inv) in done.invariants.iter_mut().zip(invariants) {
        let Some(f) = result.failure.as_mut() else {
            continue;
        };
        if left < 8 {
            break;
        }
        let (Some(run), Some(schedule)) = (f.run, f.schedule.clone()) else {
            continue;
        };
        if f.preemptions.is_some() || interrupt::interrupted() {
            continue;
        }
        let config = plan.config(run);
        let Some(s) = shrink::shrink(plan, inv, &config, &schedule, left) else {
            left = left.saturating_sub(1);
            continue;
        };
        left = left.saturating_sub(s.runs);
        if s.place.preemptions > 1 && !interrupt::interrupted() {
            if let Some(smaller) = smallest(e, plan, inv, s.place.preemptions - 1, opts) {
                // Found at a small size with fewer preemptions: shown
                // instead, as the search shows it, with the run that
                // first failed still named.
                *f = Failure {
                    run: f.run,
                    seed: f.seed,
                    ..smaller
                };
                continue;
            }
        }
        let shrink::Shrunk {
            place,
            violation,
            preemptions_before,
            choices_before,
            runs,
        } = s;
        f.expected = violation.expected;
        f.seen = violation.seen;
        f.evidence = violation.evidence;
        f.at = violation.at;
        f.replay = opts.replay_command(e, config.seed, Some(&place));
        f.schedule = Some(place.schedule.clone());
        f.preemptions = Some(place.preemptions);
        f.preempted = place.preempted;
        f.shrunk = Some(ShrunkFrom {
            preemptions: preemptions_before,
            choices: choices_before,
            runs,
        });
    }
}

/// The most schedules [`smallest`] runs.
const SMALLEST_BUDGET: usize = 300;

/// The failure of `invariant` with the fewest preemptions (at most
/// `most`) at `e`'s small sizes, as the exhaustive search finds it, when
/// it finds one within [`SMALLEST_BUDGET`] schedules.
///
/// Shrinking works at the failing run's own size, where the one switch
/// that matters can hide among hundreds of steps: a drain that hangs on
/// its last item of a hundred keeps most of its preemptions. At three
/// items the same race is one preemption, and the search finds it in a
/// few dozen schedules.
fn smallest(
    e: &'static Exercise,
    plan: &Plan,
    invariant: &Invariant,
    most: u32,
    opts: &Options,
) -> Option<Failure> {
    let invariants = [invariant.in_search()];
    let request = search::Request {
        exercise: e,
        plan,
        invariants: &invariants,
        bound: most.min(DEFAULT_BOUND),
        reduce: true,
        jobs: opts.jobs,
        budget: Some(SMALLEST_BUDGET),
    };
    let found = search::search(&request, &|_| {});
    found.result.counterexample.as_ref()?;
    let mut tally = Tally::new(invariants.to_vec(), e.distributions.len());
    tally.extend(found.verdicts);
    let replay = |seed, place: Option<&Place>| opts.replay_command(e, seed, place);
    let done = tally.finish(&[], &[], &replay);
    let failure = done.invariants.into_iter().next()?.failure?;
    failure.size.is_some().then_some(failure)
}

fn session(
    opts: &Options,
    exercises: Vec<ExerciseResult>,
    ignored: Vec<String>,
    errors: Vec<String>,
    started: Instant,
) -> Session {
    let passed = errors.is_empty()
        && !exercises.is_empty()
        && exercises.iter().all(|e| e.status == ExerciseStatus::Passed);
    let (source, workspace) = match &opts.source {
        Source::Exercises => ("exercises", None),
        Source::Solutions => ("solutions", None),
        Source::Workspace(p) => ("workspace", Some(p.display().to_string())),
    };
    Session {
        interrupted: false,
        schema: SCHEMA,
        grader_version: env!("CARGO_PKG_VERSION"),
        source,
        workspace,
        runs: opts.runs,
        seed: opts.seed,
        jobs: opts.jobs,
        timeout_secs: opts.timeout.as_secs_f64(),
        time_scale: opts.time_scale,
        cpus: cpus(),
        mode_override: opts.mode,
        bound: (opts.mode == Some(ModeKind::Exhaustive)).then_some(opts.bound),
        demo: opts.demo.clone(),
        only: opts.only.clone(),
        exercises,
        unknown: opts.unknown.clone(),
        ignored_files: ignored,
        errors,
        warnings: Vec::new(),
        passed,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/tmp/sub-1"), "/tmp/sub-1");
        assert_eq!(shell_quote("/tmp/my sub"), "'/tmp/my sub'");
        let quoted = shell_quote("it's");
        assert_eq!(shlex::split(&quoted), Some(vec!["it's".to_string()]));
    }
}

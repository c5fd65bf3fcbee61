//! The course's grader. See `grader --help`, and the README for the
//! student's and the instructor's workflows.

mod batch;
mod build;
mod catalog;
mod cli;
mod course;
mod grade;
mod instructor;
mod judge;
mod list;
mod mode;
mod play;
mod replay;
mod report;
mod run;
mod search;
mod student;
mod timeline;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::course::Course;
use crate::report::term::Paint;
use crate::report::Format;

/// Every exercise passed.
const EXIT_PASSED: u8 = 0;
/// Some exercise failed.
const EXIT_FAILED: u8 = 1;
/// The command line was wrong, or the course could not be found.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    // The supervisor of a run is this same binary, re-executed. It must
    // take over before anything else happens in the process: before clap
    // (which could print or exit) and before any thread exists (it forks).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "__supervise")
    {
        run::supervise::supervise_main();
    }
    let cli = Cli::parse();
    report::term::set_color(cli.color);
    run::interrupt::install();
    run::sweep::sweep();
    let course = match Course::locate() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    match cli.command {
        Some(Command::List) => {
            let paint = Paint::new(report::term::stdout_color());
            print!("{}", list::render(&course, paint));
            ExitCode::from(EXIT_PASSED)
        }
        Some(Command::Replay(args)) => {
            let source = args.source();
            let exercise = match one_exercise(&course, &args.exercise, &source) {
                Ok(e) => e,
                Err(code) => return code,
            };
            let req = replay::Request {
                exercise,
                source: source.source(),
                seed: args.seed,
                schedule: args.schedule,
                size: args.size.map(|n| n as usize),
                mode: args.run.mode,
                timeout: Duration::from_secs_f64(args.run.timeout),
                time_scale: args.run.time_scale,
                build_timeout: Duration::from_secs_f64(args.run.build_timeout),
                full: args.full,
                internal: args.internal,
                demo: args.demo,
                pictures: replay::Pictures {
                    html: args.html,
                    svg: args.svg,
                },
                stage: stage_name(&source, &args.run),
                boundary: !args.run.no_language_boundary,
                sandbox: !args.run.no_sandbox,
            };
            let paint = Paint::new(report::term::stdout_color()).with_width(report::term::width());
            let (text, held) = replay::replay(&course, &req, paint);
            print!("{text}");
            ExitCode::from(if held { EXIT_PASSED } else { EXIT_FAILED })
        }
        Some(Command::Play(args)) => {
            let source = args.source();
            let exercise = match one_exercise(&course, &args.exercise, &source) {
                Ok(e) => e,
                Err(code) => return code,
            };
            let run = cli::RunArgs {
                mode: None,
                timeout: args.timeout,
                time_scale: None,
                build_timeout: args.build_timeout,
                no_language_boundary: false,
                no_sandbox: false,
                bound: grade::DEFAULT_BOUND,
                no_reduction: false,
            };
            play::play_command(
                &course,
                play::Options {
                    exercise,
                    source: source.source(),
                    demo: args.demo,
                    seed: args.seed,
                    timeout: Duration::from_secs_f64(args.timeout),
                    build_timeout: Duration::from_secs_f64(args.build_timeout),
                    stage: stage_name(&source, &run),
                    boundary: true,
                    sandbox: true,
                    keys: args.keys,
                    size: args.size,
                },
            )
        }
        Some(Command::Batch(args)) => batch_command(&course, args),
        Some(Command::Merge(args)) => instructor::merge_command(&args),
        Some(Command::ExportStudent(args)) => instructor::export_command(&course, &args),
        Some(Command::Watch(args)) => student::watch_command(&course, &args),
        Some(Command::Hint(args)) => student::hint_command(&course, &args),
        Some(Command::Reset(args)) => student::reset_command(&course, &args),
        None => grade_command(&course, cli.grade),
    }
}

fn batch_command(course: &Course, args: cli::BatchArgs) -> ExitCode {
    if !args.class.is_dir() {
        return usage_error(&format!("{}: no such directory", args.class.display()));
    }
    let (exercises, unknown) = select(&args.exercises);
    if !unknown.is_empty() {
        return usage_error(&unknown_message(&unknown));
    }
    if let (Some((k, n)), None) = (args.shard, args.seed) {
        return usage_error(&format!(
            "--shard {k}/{n} needs --seed: every part of the class must be graded with the \
             same seed (add, say, --seed 1 to every part)"
        ));
    }
    let opts = batch::Options {
        class: args.class.clone(),
        output: args.output.clone(),
        exercises,
        runs: args.runs as usize,
        seed: args.seed.unwrap_or_else(fresh_seed),
        jobs: args.jobs.map_or_else(grade::cpus, |j| j as usize),
        timeout: Duration::from_secs_f64(args.run.timeout),
        mode: args.run.mode,
        bound: args.run.bound,
        time_scale: args.run.time_scale,
        build_timeout: Duration::from_secs_f64(args.run.build_timeout),
        shard: args.shard,
    };
    if let Err(e) = batch::check_output(&opts.output) {
        return usage_error(&format!(
            "--output {}: cannot write there ({e})",
            opts.output.display()
        ));
    }
    let (class, students) = match batch::students(&opts.class, &opts.output) {
        Ok(s) if s.is_empty() => {
            return usage_error(&format!(
                "{}: no submissions (one subdirectory per student)",
                opts.class.display()
            ))
        }
        Ok(s) => (s.len(), batch::in_part(&s, opts.shard).len()),
        Err(e) => return usage_error(&format!("{}: {e}", opts.class.display())),
    };
    let part = match opts.shard {
        Some((k, n)) => format!("{students} of {class} submissions (part {k}/{n})"),
        None => format!(
            "{students} submission{}",
            if students == 1 { "" } else { "s" }
        ),
    };
    println!(
        "Grading {part} in {}: {} runs each, seed {}, {} at once",
        opts.class.display(),
        opts.runs,
        opts.seed,
        opts.jobs.clamp(1, students.max(1))
    );
    let max =
        batch::score_text(report::gradescope::POINTS_PER_EXERCISE * opts.exercises.len() as f64);
    let outcome = batch::run(course, &opts, |row| {
        let mut line = format!(
            "  {:<24} {:>6}/{max}  {} of {} passed",
            row.student,
            batch::score_text(row.total),
            row.passed,
            row.scores.len()
        );
        if !row.notes.is_empty() {
            let first = row.notes.split(" | ").next().unwrap_or_default();
            line.push_str(&format!("  ({first})"));
        }
        println!("{line}");
        let _ = std::io::stdout().flush();
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("grader: the batch failed: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    println!(
        "{} of {students} graded in {:.1} s; class table: {}",
        outcome.rows.len(),
        outcome.elapsed.as_secs_f64(),
        opts.output.join(batch::CLASS_TABLE).display()
    );
    if let (Some((k, n)), false) = (opts.shard, outcome.interrupted) {
        println!(
            "Part {k}/{n} done. Once all {n} parts are, join their outputs: \
             grader merge PART-OUTPUT... --output DIR"
        );
    }
    if outcome.interrupted {
        println!(
            "INTERRUPTED: not graded: {}",
            if outcome.not_graded.is_empty() {
                "none".to_string()
            } else {
                outcome.not_graded.join(", ")
            }
        );
        return ExitCode::from(run::interrupt::EXIT_INTERRUPTED);
    }
    let failed: Vec<&str> = outcome
        .rows
        .iter()
        .filter(|r| r.grader_failed)
        .map(|r| r.student.as_str())
        .collect();
    if !failed.is_empty() {
        eprintln!(
            "grader: could not grade some submissions: {}",
            failed.join(", ")
        );
        return ExitCode::from(EXIT_FAILED);
    }
    ExitCode::from(EXIT_PASSED)
}

/// The exercises named (all when none is), and the names that are none.
fn select(names: &[String]) -> (Vec<&'static catalog::Exercise>, Vec<String>) {
    let mut exercises: Vec<&'static catalog::Exercise> = Vec::new();
    let mut unknown = Vec::new();
    for name in names {
        match catalog::find(name) {
            Some(e) if !exercises.iter().any(|x| x.number == e.number) => exercises.push(e),
            Some(_) => {}
            None => unknown.push(name.clone()),
        }
    }
    if names.is_empty() {
        exercises = catalog::EXERCISES.iter().collect();
    }
    (exercises, unknown)
}

fn grade_command(course: &Course, args: cli::GradeArgs) -> ExitCode {
    if let Some(msg) = missing_source(course, &args.source) {
        return usage_error(&msg);
    }
    if let Some(path) = &args.output {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if let Err(e) = batch::check_output(dir) {
            return usage_error(&format!(
                "--output {}: cannot write there ({e})",
                path.display()
            ));
        }
    }
    let (exercises, unknown) = select(&args.exercises);
    if !unknown.is_empty() {
        eprintln!("grader: {}", unknown_message(&unknown));
        if exercises.is_empty() {
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let opts = grade::Options {
        source: args.source.source(),
        exercises,
        unknown: unknown.clone(),
        runs: args.runs as usize,
        seed: args.seed.unwrap_or_else(fresh_seed),
        jobs: args.jobs.map_or_else(grade::cpus, |j| j as usize),
        timeout: Duration::from_secs_f64(args.run.timeout),
        mode: args.run.mode,
        bound: args.run.bound,
        reduce: !args.run.no_reduction,
        time_scale: args.run.time_scale,
        progress: report::term::progress_wanted() && args.format == Format::Human,
        build_timeout: Duration::from_secs_f64(args.run.build_timeout),
        stage: stage_name(&args.source, &args.run),
        boundary: !args.run.no_language_boundary,
        sandbox: !args.run.no_sandbox,
        only: args.invariants.clone(),
        demo: args.demo.clone(),
    };
    if let Some(message) = unknown_invariants(&opts).or_else(|| wrong_demo(&opts)) {
        eprintln!("grader: {message}");
        return ExitCode::from(EXIT_USAGE);
    }
    // The student's own exercises: their verdicts are the list's status.
    let stamps: Option<Vec<Option<u128>>> =
        (opts.source == catalog::Source::Exercises).then(|| {
            opts.exercises
                .iter()
                .map(|e| student::status::file_stamp(course, e))
                .collect()
        });
    // The human report to stdout is printed as it comes: the header now,
    // each exercise when it is graded. Any other report is one document,
    // written at the end; meanwhile stderr says what is happening.
    let streamed = args.format == Format::Human && args.output.is_none();
    let paint = Paint::new(args.output.is_none() && report::term::stdout_color())
        .with_width(report::term::width());
    let note = Paint::new(report::term::stderr_color());
    let preview = grade::preview(&opts);
    if streamed {
        print_now(&report::human::header(&preview, paint));
    } else {
        eprint!("{}", report::human::header(&preview, note));
    }
    let session = grade::grade_with(course, &opts, &mut |event| match event {
        grade::Event::Building { exercise, first } if first && !opts.progress => eprintln!(
            "grader: building the course's crates, then {} (the first build takes a few minutes)",
            exercise.slug
        ),
        grade::Event::Building { .. } => {}
        grade::Event::Done(e) if streamed => print_now(&report::human::exercise(e, paint)),
        grade::Event::Done(e) => eprintln!("{}", report::human::one_line(e, note)),
    });
    if let Some(stamps) = stamps {
        for e in &session.exercises {
            let at = opts.exercises.iter().position(|x| x.number == e.number);
            let stamp = at.and_then(|i| stamps[i]);
            student::status::save(course, e, session.seed, stamp);
        }
    }
    // Pictures of the failing runs, for the page and for --html.
    let pictures = if args.format == Format::Html || args.html.is_some() {
        timeline::session::replays(course, &opts, &session)
    } else {
        Vec::new()
    };
    let drawn = args.html.as_ref().map(|path| {
        let page = timeline::session::page(&session, &pictures);
        timeline::files::written("Pictures of the failing runs", path, &page)
    });
    if streamed {
        print_now(&report::human::footer(&session, paint));
        if let Some(line) = &drawn {
            print_now(line);
        }
    } else {
        if let Some(line) = &drawn {
            eprint!("{line}");
        }
        let style = report::Style {
            paint,
            visibility: args.gradescope_visibility,
        };
        let text = match args.format {
            Format::Html => timeline::session::page(&session, &pictures),
            format => report::render(&session, format, style),
        };
        match &args.output {
            Some(path) => {
                if let Err(e) = batch::write_whole(path, &text) {
                    eprintln!("grader: cannot write the report to {}: {e}", path.display());
                    return ExitCode::from(EXIT_USAGE);
                }
                eprintln!(
                    "grader: {} of {} exercises passed; report written to {}",
                    session.passed_count(),
                    session.exercises.len(),
                    path.display()
                );
            }
            None => print_now(&text),
        }
    }
    if session.interrupted {
        return ExitCode::from(run::interrupt::EXIT_INTERRUPTED);
    }
    ExitCode::from(match (unknown.is_empty(), session.passed) {
        (false, _) => EXIT_USAGE,
        (true, true) => EXIT_PASSED,
        (true, false) => EXIT_FAILED,
    })
}

/// Prints `text` to stdout at once (a pipe is block-buffered otherwise,
/// and a log would show nothing until the end).
fn print_now(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The staged copy a session builds in: one per kind of source, so that
/// switching between them does not rebuild everything.
fn stage_name(source: &cli::SourceArgs, run: &cli::RunArgs) -> String {
    let base = if source.solutions {
        "stage-solutions"
    } else {
        build::stage::DEFAULT_STAGE
    };
    match (run.no_language_boundary, run.no_sandbox) {
        (false, false) => base.to_string(),
        (true, _) => format!("{base}-unchecked"),
        (false, true) => format!("{base}-unboxed"),
    }
}

/// A `--demo` that is not one of the one exercise graded.
fn wrong_demo(opts: &grade::Options) -> Option<String> {
    let demo = opts.demo.as_ref()?;
    let [e] = opts.exercises.as_slice() else {
        return Some(format!(
            "--demo {demo} grades one exercise's buggy program: name that exercise alone"
        ));
    };
    if e.demos.contains(&demo.as_str()) {
        return None;
    }
    Some(match e.demos {
        [] => format!("{} has no buggy program to show", e.slug),
        known => format!(
            "{} has no buggy program named `{demo}`; it has: {}",
            e.slug,
            known.join(", ")
        ),
    })
}

/// An `--invariant` that no exercise graded has, with those it could be.
fn unknown_invariants(opts: &grade::Options) -> Option<String> {
    let known: Vec<&str> = opts
        .exercises
        .iter()
        .flat_map(|e| e.invariants())
        .map(|i| i.id)
        .collect();
    let unknown: Vec<&String> = opts
        .only
        .iter()
        .filter(|id| !known.contains(&id.as_str()))
        .collect();
    let first = unknown.first()?;
    let mut ids = known.clone();
    ids.sort();
    ids.dedup();
    Some(format!(
        "no exercise graded has the invariant `{first}`; theirs are: {}",
        ids.join(", ")
    ))
}

fn unknown_message(names: &[String]) -> String {
    student::unknown_message(names)
}

/// What the source flags name and is not there: a `--workspace` that is
/// no directory, or `--solutions` in a copy of the course without them
/// (the student edition `export-student` writes has none).
fn missing_source(course: &Course, source: &cli::SourceArgs) -> Option<String> {
    if source.solutions && !course.root.join("solutions").is_dir() {
        return Some(format!(
            "--solutions: this copy of the course ({}) has no solutions/ folder; \
             a student edition comes without them",
            course.root.display()
        ));
    }
    let path = source.workspace.as_ref()?;
    (!path.is_dir()).then(|| format!("--workspace {}: no such directory", path.display()))
}

/// The exercise a one-exercise command (`replay`, `play`) names, once its
/// source is known to be there; else the usage error, already printed.
fn one_exercise(
    course: &Course,
    name: &str,
    source: &cli::SourceArgs,
) -> Result<&'static catalog::Exercise, ExitCode> {
    let exercise = student::find(name).map_err(|msg| usage_error(&msg))?;
    if let Some(msg) = missing_source(course, source) {
        return Err(usage_error(&msg));
    }
    Ok(exercise)
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("grader: {msg}");
    ExitCode::from(EXIT_USAGE)
}

/// A seed for a session that was given none: different every time, small
/// enough to type back.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64 ^ d.as_secs());
    (nanos ^ (std::process::id() as u64).rotate_left(17)) % 1_000_000
}

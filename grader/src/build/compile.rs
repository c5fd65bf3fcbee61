//! Building what is graded: one exercise crate at a time, supervised.
//!
//! Each crate is built by its own `cargo build --release -p PACKAGE`, so a
//! submission where one exercise does not compile fails that exercise only.
//! Cargo's JSON messages give the executable's path (wherever the target
//! directory is) and the compiler's first error, which becomes the verdict.
//!
//! Building is running code too: the compiler evaluates the student's
//! constants and expands their macros (a `const` that loops for ever, an
//! `include_bytes!("/dev/zero")`). So a build runs under a run supervisor
//! like any run ([`supervise::run`]): its own process group and pids
//! cgroup, no network, a deadline, capped output, and limits on address
//! space, CPU time, file size and open files. A build that passes a limit
//! fails its exercise, saying which limit.
//!
//! Before the first exercise, [`warm_up`] builds the course's own crates
//! that every exercise depends on (the runtime, the scenario drivers and
//! their dependencies): none of the submission's code is in them, so the
//! exercises' own builds, and their deadline, are about the student's
//! code alone. Builds are offline (the supervisor has no network); if a
//! dependency is missing from cargo's cache, [`warm_up`] fetches it first
//! (`cargo fetch`, with the course's own manifests and lock file only).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::course::cargo;
use crate::run::interrupt;
use crate::run::supervise::{self, Ending, Limits, RunOutcome, RunSpec};

/// The crate every exercise program depends on; building it builds
/// everything the exercises share.
const SHARED_PACKAGE: &str = "scenarios";
/// How long the course's shared crates may take to build (a first build
/// compiles every dependency).
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Address space of each process of a build (the compiler needs more
/// than a run; far less than this in practice).
const BUILD_ADDRESS_SPACE: u64 = 4 << 30;
/// Output of a build kept for its messages (stdout, and stderr, each).
const BUILD_OUTPUT_KEPT: usize = 4 << 20;
/// Output past which a build is stopped as a flood.
const BUILD_OUTPUT_KILL: u64 = 64 << 20;
/// Processes (and threads) a build may have at once.
const BUILD_PROCESSES: u32 = 1024;

/// A successful build.
#[derive(Clone, Debug)]
pub struct Built {
    /// The program.
    pub executable: PathBuf,
    /// How long cargo took.
    pub elapsed: Duration,
}

/// A failed build.
#[derive(Clone, Debug)]
pub struct BuildError {
    /// One line: the compiler's first error, with its place, or the limit
    /// the build reached.
    pub headline: String,
    /// The compiler's rendering of that error, or the end of cargo's
    /// output when there is no compiler error.
    pub details: String,
    /// Whether the grader was interrupted during the build.
    pub interrupted: bool,
}

/// The limits a build runs under.
pub fn limits(timeout: Duration) -> Limits {
    Limits {
        timeout,
        output_cap: BUILD_OUTPUT_KEPT,
        output_kill: BUILD_OUTPUT_KILL,
        address_space: Some(BUILD_ADDRESS_SPACE),
        cpu_seconds: Some(timeout.as_secs().max(60)),
        file_size: Some(1 << 30),
        open_files: Some(4096),
        max_processes: Some(BUILD_PROCESSES),
    }
}

/// Builds the crates every exercise shares, once before the exercises;
/// fetches missing dependencies first if the offline build needs them.
pub fn warm_up(manifest: &Path, target_dir: Option<&Path>) -> Result<(), BuildError> {
    let first = cargo_build(manifest, target_dir, SHARED_PACKAGE, WARM_UP_TIMEOUT, false);
    match first {
        Ok(_) => Ok(()),
        Err(e) if !e.interrupted && needs_fetch(&e) => {
            fetch(manifest);
            cargo_build(manifest, target_dir, SHARED_PACKAGE, WARM_UP_TIMEOUT, false).map(|_| ())
        }
        Err(e) => Err(e),
    }
}

fn needs_fetch(e: &BuildError) -> bool {
    let text = format!("{}\n{}", e.headline, e.details);
    text.contains("offline") || text.contains("failed to download")
}

/// `cargo fetch` of the course's manifest, outside any supervisor (it
/// needs the network); it runs none of the submission's code.
fn fetch(manifest: &Path) {
    let _ = Command::new(cargo())
        .arg("fetch")
        .arg("--manifest-path")
        .arg(manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Builds `package` of the workspace whose manifest is `manifest`, into
/// `target_dir` when given (else wherever cargo is configured to), under
/// a supervisor that stops it after `timeout`.
pub fn build(
    manifest: &Path,
    target_dir: Option<&Path>,
    package: &str,
    timeout: Duration,
) -> Result<Built, BuildError> {
    cargo_build(manifest, target_dir, package, timeout, true)
}

fn cargo_build(
    manifest: &Path,
    target_dir: Option<&Path>,
    package: &str,
    timeout: Duration,
    is_bin: bool,
) -> Result<Built, BuildError> {
    let fail = |headline: String, details: String| BuildError {
        headline,
        details,
        interrupted: false,
    };
    if interrupt::interrupted() {
        return Err(BuildError {
            headline: "interrupted before it was built".into(),
            details: String::new(),
            interrupted: true,
        });
    }
    let started = Instant::now();
    let mut args: Vec<String> = [
        "build",
        "--release",
        "--offline",
        "--message-format=json",
        "-p",
        package,
        "--manifest-path",
    ]
    .map(String::from)
    .to_vec();
    args.push(manifest.display().to_string());
    if let Some(dir) = target_dir {
        args.push("--target-dir".into());
        args.push(dir.display().to_string());
    }
    let spec = RunSpec {
        program: resolve(&cargo()),
        args,
        env: vec![("CARGO_TERM_COLOR".into(), "never".into())],
        cwd: manifest.parent().map(Path::to_path_buf),
        limits: limits(timeout),
    };
    let outcome = supervise::run(&spec).map_err(|e| {
        fail(
            format!("cannot run cargo ({}): {e}", spec.program.display()),
            String::new(),
        )
    })?;
    let found = read_messages(&outcome.stdout, package);
    let elapsed = started.elapsed();
    if let Some(stopped) = stopped_by_limit(&outcome, timeout) {
        return Err(BuildError {
            interrupted: outcome.ending == Ending::Interrupted,
            ..fail(stopped, tail(&outcome.stderr, 20))
        });
    }
    let limit = outcome
        .limit_hit
        .as_ref()
        .map(|l| format!("the build reached its {l}: "))
        .or_else(|| {
            // The compiler says so itself when an allocation fails.
            let compiler_ran_out = found
                .first_error
                .as_ref()
                .is_some_and(|(headline, _)| headline.ends_with("out of memory"))
                || outcome.stderr.contains("memory allocation of");
            compiler_ran_out.then(|| {
                format!(
                    "the build reached its address space limit ({} MiB): ",
                    BUILD_ADDRESS_SPACE >> 20
                )
            })
        })
        .unwrap_or_default();
    if let Some((headline, details)) = found.first_error {
        return Err(fail(
            format!("{limit}does not compile: {headline}"),
            details,
        ));
    }
    let succeeded = outcome.ending == Ending::Exited { code: 0 };
    let executable = found.executable.or_else(|| {
        // The artifact message can be lost past the output cap; the
        // program is where cargo always puts it.
        let exe = target_dir?.join("release").join(package);
        (succeeded && is_bin && exe.is_file()).then_some(exe)
    });
    match (succeeded, executable) {
        (true, Some(executable)) => Ok(Built {
            executable,
            elapsed,
        }),
        (true, None) if !is_bin => Ok(Built {
            executable: PathBuf::new(),
            elapsed,
        }),
        (true, None) => Err(fail(
            format!("cargo built no program named `{package}`"),
            tail(&outcome.stderr, 20),
        )),
        (false, _) => {
            let first = outcome
                .stderr
                .lines()
                .find(|l| l.starts_with("error"))
                .map(str::to_string)
                .unwrap_or_else(|| match &outcome.ending {
                    Ending::Signaled { name, .. } => format!("cargo was killed by {name}"),
                    Ending::Exited { code } => format!("cargo build failed (exit code {code})"),
                    _ => "cargo build failed".into(),
                });
            Err(fail(
                format!("{limit}does not build: {first}"),
                tail(&outcome.stderr, 20),
            ))
        }
    }
}

/// Why the supervisor stopped a build, if it did.
fn stopped_by_limit(outcome: &RunOutcome, timeout: Duration) -> Option<String> {
    match outcome.ending {
        Ending::TimedOut => Some(format!(
            "the build did not finish within its time limit ({} s) and was stopped",
            timeout.as_secs_f64()
        )),
        Ending::OutputFlood => Some(format!(
            "the build wrote more than its output limit ({} MiB) and was stopped",
            BUILD_OUTPUT_KILL >> 20
        )),
        Ending::Interrupted => Some("the build was interrupted".into()),
        _ => None,
    }
}

/// The path of a program named without a directory, found on `PATH` (the
/// supervisor runs programs by path).
fn resolve(program: &Path) -> PathBuf {
    if program.components().count() > 1 {
        return program.to_path_buf();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| program.to_path_buf())
}

#[derive(Default)]
struct Found {
    executable: Option<PathBuf>,
    first_error: Option<(String, String)>,
}

fn read_messages(stdout: &str, package: &str) -> Found {
    let mut found = Found::default();
    for line in BufReader::new(stdout.as_bytes()).lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match msg["reason"].as_str() {
            Some("compiler-artifact") => {
                let is_bin = msg["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"));
                if is_bin && msg["target"]["name"] == package {
                    if let Some(exe) = msg["executable"].as_str() {
                        found.executable = Some(PathBuf::from(exe));
                    }
                }
            }
            Some("compiler-message") if found.first_error.is_none() => {
                let m = &msg["message"];
                if m["level"] == "error" {
                    found.first_error = Some(describe_error(m));
                }
            }
            _ => {}
        }
    }
    found
}

/// "src/lib.rs:12:9: cannot find value `x` in this scope", and the
/// compiler's full rendering.
fn describe_error(m: &Value) -> (String, String) {
    let text = m["message"].as_str().unwrap_or("error").to_string();
    let place = m["spans"].as_array().and_then(|spans| {
        let s = spans
            .iter()
            .find(|s| s["is_primary"] == true)
            .or(spans.first())?;
        Some(format!(
            "{}:{}:{}: ",
            s["file_name"].as_str()?,
            s["line_start"].as_u64()?,
            s["column_start"].as_u64()?
        ))
    });
    let rendered = m["rendered"].as_str().unwrap_or_default();
    (
        format!("{}{text}", place.unwrap_or_default()),
        rendered.lines().take(40).collect::<Vec<_>>().join("\n"),
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_and_the_program_come_from_cargos_messages() {
        let out = concat!(
            r#"{"reason":"compiler-message","message":{"level":"warning","message":"unused","spans":[],"rendered":"w"}}"#,
            "\n",
            r#"{"reason":"compiler-message","message":{"level":"error","message":"cannot find value `x`","spans":[{"is_primary":true,"file_name":"src/lib.rs","line_start":3,"column_start":9}],"rendered":"error: cannot find value `x`"}}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"locked-bank"},"executable":"/t/release/locked-bank"}"#,
            "\n",
            "{truncated",
        );
        let found = read_messages(out, "locked-bank");
        let (headline, details) = found.first_error.unwrap();
        assert_eq!(headline, "src/lib.rs:3:9: cannot find value `x`");
        assert_eq!(details, "error: cannot find value `x`");
        assert_eq!(
            found.executable.as_deref(),
            Some(Path::new("/t/release/locked-bank"))
        );
    }

    #[test]
    fn programs_are_found_on_the_path() {
        assert!(resolve(Path::new("sh")).is_absolute());
        assert_eq!(resolve(Path::new("/bin/sh")), Path::new("/bin/sh"));
    }
}

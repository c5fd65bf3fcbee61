//! Building what is graded: one exercise crate at a time, in a box.
//!
//! Each crate is built by its own `cargo build --release -p PACKAGE` in the
//! staged copy of the course, so a submission where one exercise does not
//! compile fails that exercise only. Cargo's JSON messages give the
//! executable's path and the compiler's first error, which becomes the
//! verdict.
//!
//! Building is running code too: the compiler evaluates the student's
//! constants and expands macros (a `const` that loops for ever, an
//! `include_bytes!("/dev/zero")`, an `include_str!` of a secret). So every
//! build runs in a box like the runs' (see [`sandbox`](crate::run::sandbox)),
//! with the toolchain, the cargo registry and the staged course bound
//! read-only, only the staged copy's target directory writable, and
//! nothing else of the machine there to read: no `/etc`, no home, no
//! other student, no solutions. The box has a deadline, capped output,
//! per-process limits and a process and memory limit for the whole build.
//! A build that passes a limit fails its exercise, saying which.
//!
//! Before the first exercise, [`Builder::warm_up`] builds the course's own
//! crates that every exercise depends on (none of the submission's code is
//! in them), so that the exercises' own builds, and their deadline, are
//! about the student's code alone. Builds are offline; if a dependency is
//! missing from cargo's cache, it is fetched first, outside any box, with
//! the course's own manifests and lock file only.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::course::cargo;
use crate::run::cgroup::GroupLimits;
use crate::run::interrupt;
use crate::run::sandbox::{Bind, BoxSpec};
use crate::run::slot::BoxHandle;
use crate::run::supervise::{Answer, Ending, Limits, Request, RunOutcome, RunSpec};

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
/// Memory a whole build may hold.
const BUILD_MEMORY: u64 = 6 << 30;

/// A successful build.
#[derive(Clone, Debug)]
pub struct Built {
    /// The program.
    pub executable: PathBuf,
    /// The package's library (the student's code, compiled), if it has one.
    pub library: Option<PathBuf>,
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

impl BuildError {
    fn new(headline: String, details: String) -> BuildError {
        BuildError {
            headline,
            details,
            interrupted: false,
        }
    }
}

/// The limits a build runs under.
pub fn limits(timeout: Duration) -> Limits {
    Limits {
        timeout,
        output_cap: BUILD_OUTPUT_KEPT,
        output_kill: BUILD_OUTPUT_KILL,
        address_space: Some(BUILD_ADDRESS_SPACE),
        cpu_seconds: Some(timeout.as_secs().max(60) * 4),
        file_size: Some(1 << 30),
        open_files: Some(4096),
        report_cap: 0,
    }
}

/// Where the toolchain is: its sysroot (holding `cargo` and `rustc`
/// themselves, not rustup's proxies) and cargo's home.
#[derive(Clone, Debug)]
pub struct Toolchain {
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
    /// `CARGO_HOME`, or `~/.cargo`.
    pub cargo_home: PathBuf,
}

impl Toolchain {
    /// The toolchain the grader was started with, found once.
    pub fn find() -> Result<&'static Toolchain, String> {
        static FOUND: OnceLock<Result<Toolchain, String>> = OnceLock::new();
        FOUND
            .get_or_init(|| {
                let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
                let out = Command::new(&rustc)
                    .args(["--print", "sysroot"])
                    .stderr(Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run rustc: {e}"))?;
                let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
                if !sysroot.join("bin").join("cargo").is_file() {
                    return Err(format!(
                        "no cargo in the toolchain at {}",
                        sysroot.display()
                    ));
                }
                let cargo_home = std::env::var_os("CARGO_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
                    .ok_or("neither CARGO_HOME nor HOME is set")?;
                Ok(Toolchain {
                    sysroot,
                    cargo_home,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The system directories every box binds read-only (links among them,
/// such as `/lib` → `usr/lib`, are recreated as links).
pub const SYSTEM_DIRS: [&str; 6] = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"];

/// Builds the exercises of one staged copy, in a box of its own.
pub struct Builder {
    manifest: PathBuf,
    target_dir: PathBuf,
    uid: u32,
    boxed: Option<BoxHandle>,
    /// What the build box could not isolate.
    pub warnings: Vec<String>,
    /// Build in a box without namespaces, Landlock or seccomp (for tests
    /// of the other layers only).
    pub bare: bool,
    /// Let `unsafe` through (`--cap-lints warn`): the language boundary
    /// is off (for tests of the other layers only).
    pub cap_lints: bool,
}

impl Builder {
    /// A builder for the staged copy whose manifest is `manifest`, with
    /// its builds going to `target_dir` and running as `uid`.
    pub fn new(manifest: &Path, target_dir: &Path, uid: u32) -> Builder {
        Builder {
            manifest: manifest.to_path_buf(),
            target_dir: target_dir.to_path_buf(),
            uid,
            boxed: None,
            warnings: Vec::new(),
            bare: false,
            cap_lints: false,
        }
    }

    fn spec(&self, toolchain: &Toolchain) -> BoxSpec {
        let stage = self
            .manifest
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        let mut binds: Vec<Bind> = SYSTEM_DIRS.iter().map(|d| Bind::read_only(*d)).collect();
        // `cc` is a link into the alternatives system on Debian.
        binds.push(Bind::read_only("/etc/alternatives"));
        binds.push(Bind::read_only(&toolchain.sysroot));
        for dir in ["registry", "git"] {
            binds.push(Bind::read_only(toolchain.cargo_home.join(dir)));
        }
        binds.push(Bind::read_only(&stage));
        binds.push(Bind {
            path: self.target_dir.clone(),
            at: None,
            writable: true,
        });
        BoxSpec {
            name: format!(
                "build {}",
                stage
                    .file_name()
                    .map_or("".into(), |n| n.to_string_lossy().into_owned())
            ),
            uid: self.uid,
            gid: self.uid,
            binds,
            tmp_mib: 1024,
            shm_mib: 16,
            scratch: vec![toolchain.cargo_home.clone()],
            cgroup_procs: Vec::new(),
            bare: self.bare,
        }
    }

    /// The box, started on first use.
    fn boxed(&mut self) -> Result<&mut BoxHandle, BuildError> {
        if self.boxed.is_none() {
            let toolchain = Toolchain::find().map_err(|e| BuildError::new(e, String::new()))?;
            if let Err(e) = crate::build::stage::hand_over(&self.target_dir, self.uid, self.uid) {
                if nix::unistd::Uid::effective().is_root() {
                    return Err(BuildError::new(
                        format!("cannot prepare the build directory: {e}"),
                        String::new(),
                    ));
                }
            }
            let spec = self.spec(toolchain);
            let limits = GroupLimits {
                pids: BUILD_PROCESSES,
                memory: BUILD_MEMORY,
            };
            let handle = BoxHandle::start(spec, limits).map_err(|e| {
                BuildError::new(
                    format!("cannot set up the build's sandbox: {e}"),
                    String::new(),
                )
            })?;
            self.warnings = handle.isolation.warnings.clone();
            self.boxed = Some(handle);
        }
        Ok(self.boxed.as_mut().expect("just set"))
    }

    /// Builds the crates every exercise shares; fetches missing
    /// dependencies first if the offline build needs them.
    pub fn warm_up(&mut self) -> Result<(), BuildError> {
        settle_lock_file(&self.manifest);
        match self.cargo_build(SHARED_PACKAGE, WARM_UP_TIMEOUT, false) {
            Ok(_) => Ok(()),
            Err(e) if !e.interrupted && needs_fetch(&e) => {
                fetch(&self.manifest);
                self.cargo_build(SHARED_PACKAGE, WARM_UP_TIMEOUT, false)
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Builds `package`, stopping it after `timeout`.
    pub fn build(&mut self, package: &str, timeout: Duration) -> Result<Built, BuildError> {
        self.cargo_build(package, timeout, true)
    }

    /// Builds `packages` in one cargo run, when there are several: each
    /// one's build, or `None` when the run as a whole did not succeed.
    ///
    /// Each cargo run costs tens of milliseconds even with nothing to do,
    /// so a session builds the exercises it grades together first. Only a
    /// build where everything compiled is taken; otherwise each exercise
    /// is built alone after all (see [`Builder::build`]), so that each
    /// failure is its own exercise's.
    pub fn build_all(&mut self, packages: &[&str], timeout: Duration) -> Option<Vec<Built>> {
        if packages.len() < 2 {
            return None;
        }
        let (outcome, group_limit, started) = self.run_cargo(packages, timeout).ok()?;
        if outcome.ending != (Ending::Exited { code: 0 }) || group_limit.is_some() {
            return None;
        }
        packages
            .iter()
            .map(|p| {
                judge_build(
                    outcome.clone(),
                    None,
                    p,
                    &self.target_dir,
                    timeout,
                    true,
                    started,
                )
                .ok()
            })
            .collect()
    }

    fn cargo_build(
        &mut self,
        package: &str,
        timeout: Duration,
        is_bin: bool,
    ) -> Result<Built, BuildError> {
        let (outcome, group_limit, started) = self.run_cargo(&[package], timeout)?;
        judge_build(
            outcome,
            group_limit,
            package,
            &self.target_dir,
            timeout,
            is_bin,
            started,
        )
    }

    /// Runs `cargo build` of `packages` in the build's box: how it ended,
    /// the control group's limit it reached if any, and when it started.
    fn run_cargo(
        &mut self,
        packages: &[&str],
        timeout: Duration,
    ) -> Result<(RunOutcome, Option<String>, Instant), BuildError> {
        if interrupt::interrupted() {
            return Err(BuildError {
                headline: "interrupted before it was built".into(),
                details: String::new(),
                interrupted: true,
            });
        }
        let toolchain = Toolchain::find().map_err(|e| BuildError::new(e, String::new()))?;
        let bin = toolchain.sysroot.join("bin");
        let mut args: Vec<String> = ["build", "--release", "--frozen", "--message-format=json"]
            .map(String::from)
            .to_vec();
        for p in packages {
            args.push("-p".into());
            args.push(p.to_string());
        }
        args.push("--manifest-path".into());
        args.push(self.manifest.display().to_string());
        args.push("--target-dir".into());
        args.push(self.target_dir.display().to_string());
        let env: Vec<(String, String)> = [
            ("PATH", format!("{}:/usr/bin:/bin", bin.display())),
            ("RUSTC", bin.join("rustc").display().to_string()),
            ("CARGO_HOME", toolchain.cargo_home.display().to_string()),
            ("HOME", "/tmp".into()),
            ("TMPDIR", "/tmp".into()),
            ("CARGO_TERM_COLOR", "never".into()),
            ("LANG", "C.UTF-8".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut env = env;
        if let Some(mark) = std::env::var_os(crate::run::runner::MARK_ENV) {
            env.push((
                crate::run::runner::MARK_ENV.into(),
                mark.to_string_lossy().into_owned(),
            ));
        }
        if self.cap_lints {
            env.push(("RUSTFLAGS".into(), "--cap-lints=warn".into()));
        }
        let spec = RunSpec {
            program: bin.join("cargo"),
            args,
            env,
            cwd: Some(PathBuf::from("/tmp")),
            limits: limits(timeout),
        };
        let started = Instant::now();
        let answer = self
            .boxed()?
            .ask(&Request::Exec(spec), timeout + Duration::from_secs(30));
        let outcome = match answer {
            Ok(Answer::Outcome(o)) => *o,
            Ok(Answer::Error { message }) => {
                self.boxed = None;
                return Err(BuildError::new(
                    format!("cannot run cargo: {message}"),
                    String::new(),
                ));
            }
            Ok(other) => {
                self.boxed = None;
                return Err(BuildError::new(
                    format!("unexpected answer {other:?}"),
                    String::new(),
                ));
            }
            Err(e) => {
                self.boxed = None;
                return Err(BuildError {
                    interrupted: interrupt::interrupted(),
                    ..BuildError::new(
                        if interrupt::interrupted() {
                            "the build was interrupted".into()
                        } else {
                            format!("the build's sandbox failed: {e}")
                        },
                        String::new(),
                    )
                });
            }
        };
        let group_limit = self.boxed.as_mut().and_then(|b| b.group_limit_hit());
        Ok((outcome, group_limit, started))
    }
}

/// Makes the staged copy's lock file fit its (smaller) workspace, outside
/// any box: `cargo metadata` reads manifests and the lock file and builds
/// nothing.
fn settle_lock_file(manifest: &Path) {
    let _ = Command::new(cargo())
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn needs_fetch(e: &BuildError) -> bool {
    let text = format!("{}\n{}", e.headline, e.details);
    text.contains("offline") || text.contains("failed to download") || text.contains("--frozen")
}

/// `cargo fetch` of the course's manifest, outside any box (it needs the
/// network); it runs none of the submission's code.
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

/// What a finished build means.
fn judge_build(
    outcome: RunOutcome,
    group_limit: Option<String>,
    package: &str,
    target_dir: &Path,
    timeout: Duration,
    is_bin: bool,
    started: Instant,
) -> Result<Built, BuildError> {
    let found = read_messages(&outcome.stdout, package);
    let elapsed = started.elapsed();
    if let Some(stopped) = stopped_by_limit(&outcome, timeout) {
        return Err(BuildError {
            interrupted: outcome.ending == Ending::Interrupted,
            ..BuildError::new(stopped, tail(&outcome.stderr, 20))
        });
    }
    let limit = outcome
        .limit_hit
        .clone()
        .or(group_limit)
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
        return Err(BuildError::new(
            format!("{limit}does not compile: {headline}"),
            details,
        ));
    }
    let succeeded = outcome.ending == Ending::Exited { code: 0 };
    let executable = found.executable.or_else(|| {
        // The artifact message can be lost past the output cap; the
        // program is where cargo always puts it.
        let exe = target_dir.join("release").join(package);
        (succeeded && is_bin && exe.is_file()).then_some(exe)
    });
    match (succeeded, executable) {
        (true, Some(executable)) => Ok(Built {
            executable,
            library: found.library,
            elapsed,
        }),
        (true, None) if !is_bin => Ok(Built {
            executable: PathBuf::new(),
            library: found.library,
            elapsed,
        }),
        (true, None) => Err(BuildError::new(
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
            Err(BuildError::new(
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

#[derive(Default)]
struct Found {
    executable: Option<PathBuf>,
    library: Option<PathBuf>,
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
                let is_lib = msg["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "lib" || k == "rlib"));
                if is_lib && msg["target"]["name"] == package.replace('-', "_") {
                    found.library = msg["filenames"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f.as_str())
                        .find(|f| f.ends_with(".rlib"))
                        .map(PathBuf::from);
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
}

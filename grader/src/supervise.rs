//! Run supervision: one run of a student's program, bounded and cleaned up.
//!
//! API placeholder: the implementation is being written; the signatures
//! below are stable.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Resource limits for one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock deadline; the whole process tree is killed when it passes.
    pub timeout: Duration,
    /// Bytes of stdout and of stderr kept (each); more is counted, not kept.
    pub output_cap: usize,
    /// Output past this many bytes (stdout + stderr) ends the run as a flood.
    pub output_kill: u64,
    /// RLIMIT_AS in bytes.
    pub address_space: Option<u64>,
    /// RLIMIT_CPU in seconds.
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_FSIZE in bytes.
    pub file_size: Option<u64>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
    /// Most processes the run may have alive at once (pids cgroup).
    pub max_processes: Option<u32>,
    /// Run in a fresh network namespace (no network) where allowed.
    pub no_network: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            output_cap: 64 * 1024,
            output_kill: 16 * 1024 * 1024,
            address_space: Some(2 << 30),
            cpu_seconds: Some(60),
            file_size: Some(64 << 20),
            open_files: Some(256),
            max_processes: Some(64),
            no_network: true,
        }
    }
}

/// What to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSpec {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to the environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Limits.
    pub limits: Limits,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Ending {
    /// The program exited with this code.
    Exited { code: i32 },
    /// A signal killed it (`SIGSEGV`, `SIGABRT`, `SIGXCPU`, ...).
    Signaled { signal: i32, name: String },
    /// The deadline passed; the tree was killed.
    TimedOut,
    /// It wrote more than `output_kill` bytes; the tree was killed.
    OutputFlood,
    /// The grader was interrupted (Ctrl-C); the tree was killed.
    Interrupted,
}

/// A process seen in the run's tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcInfo {
    /// Its pid.
    pub pid: i32,
    /// Its command name (`/proc/PID/comm`).
    pub name: String,
    /// Its state letter (`S` sleeping, `R` running, `Z` zombie, ...).
    pub state: String,
    /// Where in the kernel it waits (`/proc/PID/wchan`: `pipe_read`,
    /// `futex_wait_queue`, `do_wait`, ...), empty when running.
    pub wchan: String,
}

/// Everything known about one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutcome {
    /// How it ended.
    pub ending: Ending,
    /// The start of stdout (lossy UTF-8), at most `output_cap` bytes.
    pub stdout: String,
    /// The start of stderr (lossy UTF-8), at most `output_cap` bytes.
    pub stderr: String,
    /// All stdout bytes written.
    pub stdout_bytes: u64,
    /// All stderr bytes written.
    pub stderr_bytes: u64,
    /// Wall time from start to the end of the main process, in ms.
    pub elapsed_ms: f64,
    /// On a timeout: every process of the tree, and where it was stuck.
    pub stuck: Vec<ProcInfo>,
    /// Processes still alive after the main process ended (killed since).
    pub leftovers: Vec<ProcInfo>,
    /// Limits that could not be applied here, and similar notes.
    pub warnings: Vec<String>,
}

/// Runs `spec` under a supervisor process and returns what happened.
/// Safe to call from many threads at once.
pub fn run(spec: &RunSpec) -> io::Result<RunOutcome> {
    let _ = spec;
    Err(io::Error::other("supervise::run is not written yet"))
}

/// The entry point of the hidden `__supervise` subcommand. Call it first
/// thing in `main`, before any thread is started, when the first argument
/// is `__supervise`. Never returns.
pub fn supervise_main() -> ! {
    std::process::exit(2)
}

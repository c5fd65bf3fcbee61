//! Cleaning up after a run whose supervisor is gone.
//!
//! A run's supervisor kills and reaps every process of the run (see
//! [`crate::run::supervise`]). But the supervisor is the program's parent, and a
//! student's code runs as the grader's own user: it can kill its parent.
//! Then nobody is left to clean up: the run's processes become orphans of
//! init, and the supervisor's pids cgroup stays behind.
//!
//! So the grader does it itself:
//! - [`kill_by_env`] finds the run's processes by an entry of their
//!   environment that is unique to the run (its `COURSE_REPORT` path, which
//!   every process the program starts inherits) and kills them;
//! - [`stale_cgroups`] kills whatever is left in the pids cgroup of a
//!   supervisor that is no longer alive, and removes the cgroup.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::WaitPidFlag;
use nix::unistd::Pid;

/// How many times a sweep looks again for processes that a fork in
/// progress may have added, before it gives up.
const ROUNDS: usize = 200;

/// Where supervisors make their pids cgroups (cgroup v1, then v2).
const CGROUP_ROOTS: [&str; 2] = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"];
/// The prefix of a supervisor's cgroup; its pid follows.
const CGROUP_PREFIX: &str = "course-grader-";

/// Makes the grader a child subreaper: the orphans of a run whose
/// supervisor was killed become the grader's children rather than init's,
/// so that the grader can reap them once it has killed them.
pub fn become_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Kills every live process whose environment holds `entry` (`NAME=value`,
/// exactly), until none is left, and reaps those that are the grader's
/// children; returns those it killed, as "pid N (name)", in pid order.
pub fn kill_by_env(entry: &str) -> Vec<String> {
    let mut killed = BTreeMap::new();
    for _ in 0..ROUNDS {
        let found = with_env(entry);
        if found.is_empty() {
            break;
        }
        for (pid, name) in found {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            killed.entry(pid).or_insert(name);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for &pid in killed.keys() {
        // Only the grader's own children (orphans it was given) can be
        // reaped; waiting by pid never takes another thread's child.
        let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
    }
    killed
        .into_iter()
        .map(|(pid, name)| format!("pid {pid} ({name})"))
        .collect()
}

/// Live processes (not zombies, not this one) whose environment holds
/// `entry`, with their names.
pub fn with_env(entry: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for pid in pids() {
        if pid == me {
            continue;
        }
        let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ.split(|&b| b == 0).any(|e| e == entry.as_bytes()) {
            continue;
        }
        if let Some((name, state)) = name_and_state(pid) {
            if state != "Z" {
                found.push((pid, name));
            }
        }
    }
    found
}

/// Every pid in `/proc`.
fn pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// A process's name and state letter, from `/proc/PID/stat`.
pub fn name_and_state(pid: i32) -> Option<(String, String)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let state = stat
        .get(close + 2..)?
        .split_whitespace()
        .next()?
        .to_string();
    Some((stat[open + 1..close].to_string(), state))
}

/// The parent pid of a process, from `/proc/PID/stat`.
pub fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    stat.get(close + 2..)?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The live children of this process.
pub fn my_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    pids()
        .into_iter()
        .filter(|&p| parent_of(p) == Some(me))
        .filter(|&p| name_and_state(p).is_some_and(|(_, s)| s != "Z"))
        .collect()
}

/// Whether `pid` is a live run supervisor (`grader __supervise`).
fn is_supervisor(pid: i32) -> bool {
    let alive = name_and_state(pid).is_some_and(|(_, s)| s != "Z");
    alive
        && fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            c.split(|&b| b == 0)
                .any(|a| a == crate::run::supervise::SUPERVISE_ARG.as_bytes())
        })
}

/// Empties and removes the pids cgroups of supervisors that are no longer
/// alive; returns how many it removed.
pub fn stale_cgroups() -> usize {
    let mut removed = 0;
    for root in CGROUP_ROOTS.iter().map(Path::new) {
        let Ok(dir) = fs::read_dir(root) else {
            continue;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(CGROUP_PREFIX)
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            if is_supervisor(pid) {
                continue;
            }
            if empty_cgroup(&entry.path()) {
                removed += 1;
            }
        }
    }
    removed
}

/// Kills every member of a cgroup until it has none, then removes it.
fn empty_cgroup(dir: &Path) -> bool {
    for _ in 0..ROUNDS {
        let members: Vec<i32> = fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        for &pid in &members {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn finds_and_kills_processes_by_an_environment_entry() {
        let marker = format!("GRADER_SWEEP_TEST={}", std::process::id());
        let (name, value) = marker.split_once('=').unwrap();
        let mut child = Command::new("sleep")
            .arg("30")
            .env(name, value)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // The child may not have exec'd yet; its environment is there once
        // it has.
        let mut seen = Vec::new();
        for _ in 0..500 {
            seen = with_env(&marker);
            if !seen.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(seen.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [pid]);
        let killed = kill_by_env(&marker);
        assert_eq!(killed.len(), 1, "{killed:?}");
        assert!(killed[0].starts_with(&format!("pid {pid} (")), "{killed:?}");
        // Killed, and reaped (it was this process's child): gone.
        assert!(with_env(&marker).is_empty());
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        assert!(child.try_wait().is_err(), "already reaped");
    }
}

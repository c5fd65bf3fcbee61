//! The control groups that bound a sandbox as a whole.
//!
//! Resource limits (`setrlimit`) count per process: three processes of 2 GiB
//! each are 6 GiB. A control group counts the whole tree, whatever it
//! forks: how many processes it may have at once (`pids`), and how much
//! memory they may hold together (`memory`, tmpfs pages included).
//!
//! The grader (root, outside every sandbox) makes one group per sandbox,
//! sets its limits and hands its `cgroup.procs` files to the sandbox's
//! supervisor, which joins before it enters its namespaces. Inside, there
//! is no `/sys` and nobody is root: the sandbox can neither raise its
//! limits nor leave its group. Afterwards the grader removes the group,
//! and a group whose grader died is removed at the next start
//! ([`sweep`]).
//!
//! Both layouts are handled: cgroup v1, one hierarchy per controller
//! (`/sys/fs/cgroup/pids`, `/sys/fs/cgroup/memory`), and cgroup v2, one
//! unified hierarchy (current Docker and GitHub runners), where the
//! controllers must be enabled in the parent first, and a parent that
//! holds processes cannot enable them: then the grader moves itself into
//! a leaf of its own (`grader`) and tries again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The prefix of every group the grader makes; the grader's pid follows.
pub const PREFIX: &str = "course-grader-";

/// Limits of one sandbox as a whole.
#[derive(Clone, Copy, Debug)]
pub struct GroupLimits {
    /// Processes (and threads) alive at once.
    pub pids: u32,
    /// Bytes of memory, page cache and tmpfs included.
    pub memory: u64,
}

/// Which layout the machine has.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Layout {
    /// v1: the pids and memory hierarchies (either may be missing).
    V1 {
        pids: Option<PathBuf>,
        memory: Option<PathBuf>,
    },
    /// v2: the directory under which groups are made, and whether the
    /// memory controller is there.
    V2 { parent: PathBuf, memory: bool },
}

/// One sandbox's groups.
#[derive(Debug)]
pub struct Group {
    dirs: Vec<PathBuf>,
    limits: GroupLimits,
}

fn layout() -> io::Result<Layout> {
    let v1 = |c: &str| {
        let p = Path::new("/sys/fs/cgroup").join(c);
        p.join("cgroup.procs").exists().then_some(p)
    };
    let (pids, memory) = (v1("pids"), v1("memory"));
    if pids.is_some() || memory.is_some() {
        return Ok(Layout::V1 { pids, memory });
    }
    let root = Path::new("/sys/fs/cgroup");
    let controllers = fs::read_to_string(root.join("cgroup.controllers"))
        .map_err(|_| io::Error::other("no cgroup v1 pids or memory hierarchy, and no cgroup v2"))?;
    if !controllers.split_whitespace().any(|c| c == "pids") {
        return Err(io::Error::other("the pids controller is not available"));
    }
    // Groups go under the grader's own group: in a container, that is the
    // container's root; on a host, wherever the grader was started.
    let own = fs::read_to_string("/proc/self/cgroup")?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .ok_or_else(|| io::Error::other("the grader is in no cgroup v2 group"))?;
    let parent = root.join(own.trim_start_matches('/'));
    let parent = if parent.file_name().is_some_and(|n| n == "grader") {
        parent.parent().map(Path::to_path_buf).unwrap_or(parent)
    } else {
        parent
    };
    let memory = controllers.split_whitespace().any(|c| c == "memory");
    enable_v2(&parent, memory)?;
    Ok(Layout::V2 { parent, memory })
}

/// Enables pids (and memory) for `parent`'s children, moving the grader
/// out of `parent` into a leaf first if `parent` holds processes.
fn enable_v2(parent: &Path, memory: bool) -> io::Result<()> {
    let want = if memory { "+pids +memory" } else { "+pids" };
    let control = parent.join("cgroup.subtree_control");
    if fs::read_to_string(&control)?.contains("pids")
        && (!memory || fs::read_to_string(&control)?.contains("memory"))
    {
        return Ok(());
    }
    match fs::write(&control, want) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let leaf = parent.join("grader");
            let _ = fs::create_dir(&leaf);
            for pid in fs::read_to_string(parent.join("cgroup.procs"))?.lines() {
                // Every process of the parent moves (threads follow).
                let _ = fs::write(leaf.join("cgroup.procs"), pid);
            }
            fs::write(&control, want)
        }
        Err(e) => Err(e),
    }
}

impl Group {
    /// Makes the groups of sandbox `name` with `limits`.
    pub fn create(name: &str, limits: GroupLimits) -> io::Result<Group> {
        let layout = layout()?;
        let leaf = format!("{PREFIX}{}-{name}", std::process::id());
        let dirs: Vec<PathBuf> = match &layout {
            Layout::V1 { pids, memory } => {
                pids.iter().chain(memory).map(|h| h.join(&leaf)).collect()
            }
            Layout::V2 { parent, .. } => vec![parent.join(&leaf)],
        };
        let group = Group { dirs, limits };
        for dir in &group.dirs {
            let _ = fs::remove_dir(dir);
            fs::create_dir(dir)?;
        }
        group.set_limits()?;
        Ok(group)
    }

    fn set_limits(&self) -> io::Result<()> {
        let GroupLimits { pids, memory } = self.limits;
        for dir in &self.dirs {
            if dir.join("pids.max").exists() {
                fs::write(dir.join("pids.max"), pids.to_string())?;
            }
            if dir.join("memory.limit_in_bytes").exists() {
                fs::write(dir.join("memory.limit_in_bytes"), memory.to_string())?;
                // Where swap is accounted, none of it either.
                let _ = fs::write(dir.join("memory.memsw.limit_in_bytes"), memory.to_string());
            }
            if dir.join("memory.max").exists() {
                fs::write(dir.join("memory.max"), memory.to_string())?;
                let _ = fs::write(dir.join("memory.swap.max"), "0");
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files a process writes its pid to, to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// How many forks the pids limit has refused so far.
    pub fn pids_refused(&self) -> u64 {
        self.counter("pids.events", "max")
    }

    /// How many processes the memory limit has killed so far.
    pub fn oom_kills(&self) -> u64 {
        self.counter("memory.events", "oom_kill")
            .max(self.counter("memory.oom_control", "oom_kill"))
    }

    /// The process limit.
    pub fn pid_limit(&self) -> u32 {
        self.limits.pids
    }

    /// The memory limit in bytes.
    pub fn memory_limit(&self) -> u64 {
        self.limits.memory
    }

    fn counter(&self, file: &str, key: &str) -> u64 {
        self.dirs
            .iter()
            .filter_map(|d| fs::read_to_string(d.join(file)).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for dir in &self.dirs {
            empty_and_remove(dir);
        }
    }
}

/// Kills every member of a group until it has none, then removes it.
fn empty_and_remove(dir: &Path) -> bool {
    for _ in 0..500 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return true;
        }
        // v2 kills the whole group at once; v1, member by member.
        if fs::write(dir.join("cgroup.kill"), "1").is_err() {
            for pid in fs::read_to_string(dir.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
            {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// Removes the groups of graders that are no longer running; returns how
/// many it removed.
pub fn sweep() -> usize {
    let mut roots: Vec<PathBuf> = ["pids", "memory"]
        .iter()
        .map(|c| Path::new("/sys/fs/cgroup").join(c))
        .collect();
    if let Ok(Layout::V2 { parent, .. }) = layout() {
        roots.push(parent);
    }
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    let mut removed = 0;
    for root in roots {
        let Ok(entries) = fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(owner) = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<i32>().ok())
            else {
                continue;
            };
            if owner == std::process::id() as i32 || alive(owner) {
                continue;
            }
            if empty_and_remove(&entry.path()) {
                removed += 1;
            }
        }
    }
    removed
}

/// Whether a grader with this pid is still running.
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split('\0')
            .next()
            .is_some_and(|argv0| argv0.contains("grader"))
    })
}

//! The sandbox (a "box") every run and every build happens in.
//!
//! A box is set up once per grading slot, in the manner of IOI's
//! `isolate`, by its supervisor (`grader __supervise`) before it takes any
//! request, and everything the supervisor starts afterwards is inside:
//!
//! - **namespaces**: its own mount, pid, network, IPC, UTS and cgroup
//!   namespaces. The supervisor is the pid namespace's init: the box's
//!   processes cannot see or signal anything outside it, and cannot kill
//!   their init, whose death ends them all. The network namespace is empty.
//! - **a root of its own**: a fresh tmpfs, into which only what the box
//!   needs is bound, read-only (the system's libraries and, for builds,
//!   the toolchain, the cargo registry and the staged course), plus a new
//!   `/proc`, a minimal `/dev`, and private, size-capped `/tmp` and
//!   `/dev/shm`. Other students, the grader's output, `solutions/`, `/etc`
//!   and home directories are simply not there.
//! - **an identity of its own**: each process the supervisor starts runs
//!   as an unprivileged uid and gid (per slot), with no capabilities, no
//!   supplementary groups and `no_new_privs`.
//! - **Landlock**: writes only under `/tmp`, `/dev/shm` and the box's
//!   writable binds; no signals and no abstract sockets out of the box's
//!   domain. It holds even where namespaces are not available.
//! - **seccomp**: the system calls no course program or build needs are
//!   refused (see [`seccomp`](super::seccomp)).
//! - **control groups**: a process and a memory limit for the box as a
//!   whole (see [`cgroup`](super::cgroup)), joined before the namespaces.
//!
//! Where the machine lacks something (not root, no user namespaces, no
//! Landlock), the box is set up without it and the supervisor says
//! exactly which guarantee is lost; every report carries those warnings.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{fork, ForkResult, Gid, Uid};
use seccompiler::BpfProgram;
use serde::{Deserialize, Serialize};

use super::seccomp;

/// A host path made visible in the box.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bind {
    /// The path on the host.
    pub path: PathBuf,
    /// Where it is in the box; at the same path when `None` (a build's
    /// paths are the same inside and out, so that cargo's fingerprints,
    /// which hold them, stay valid from one build to the next).
    #[serde(default)]
    pub at: Option<PathBuf>,
    /// Whether the box may write there (a build's target directory).
    pub writable: bool,
}

impl Bind {
    /// `path`, read-only, at the same path.
    pub fn read_only(path: impl Into<PathBuf>) -> Bind {
        Bind {
            path: path.into(),
            at: None,
            writable: false,
        }
    }

    /// Where the bind is in the box.
    pub fn inside(&self) -> &Path {
        self.at.as_deref().unwrap_or(&self.path)
    }
}

/// Everything a supervisor needs to set its box up.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BoxSpec {
    /// What the box is for, in messages ("runs of slot 1").
    pub name: String,
    /// The uid and gid the box's processes run as (when the grader is
    /// root; otherwise they keep the grader's own).
    pub uid: u32,
    /// See `uid`.
    pub gid: u32,
    /// Host paths to bind into the box.
    pub binds: Vec<Bind>,
    /// Size of the box's `/tmp`, in MiB.
    pub tmp_mib: u64,
    /// Size of the box's `/dev/shm`, in MiB.
    pub shm_mib: u64,
    /// Writable, empty directories (tmpfs) made in the box before the
    /// binds, so that a bind can land inside one (a cargo home of the
    /// box's own, with the registry bound read-only inside it).
    #[serde(default)]
    pub scratch: Vec<PathBuf>,
    /// The control groups to join (their `cgroup.procs` files).
    pub cgroup_procs: Vec<PathBuf>,
    /// Set up without namespaces, Landlock or seccomp: only for tests that
    /// show what one layer does without the others.
    #[serde(default)]
    pub bare: bool,
}

/// What the supervisor managed to set up.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Isolation {
    /// A pid namespace whose init is the supervisor.
    pub pid_namespace: bool,
    /// A root of the box's own.
    pub own_root: bool,
    /// An empty network namespace.
    pub no_network: bool,
    /// The box's processes run as an unprivileged uid of their own.
    pub own_uid: bool,
    /// The control groups were joined.
    pub cgroups: bool,
    /// Which guarantees are lost, in words, one per missing layer.
    pub warnings: Vec<String>,
}

/// The directories a box's processes may write: the box's own `/tmp` and
/// `/dev/shm` (or, in a box without a root of its own, its work
/// directory), and the writable binds.
fn writable_dirs(spec: &BoxSpec, iso: &Isolation, work: &Path) -> Vec<PathBuf> {
    let mut dirs = if iso.own_root {
        vec![PathBuf::from("/tmp"), PathBuf::from("/dev/shm")]
    } else {
        vec![work.to_path_buf()]
    };
    dirs.extend(spec.scratch.iter().cloned());
    dirs.extend(
        spec.binds
            .iter()
            .filter(|b| b.writable)
            .map(|b| b.inside().to_path_buf()),
    );
    dirs
}

/// Sets the box up around the calling process (the supervisor, just
/// started, single-threaded). With a pid namespace this forks: the caller
/// stays outside as a go-between that waits for the box and never
/// returns; the function returns in the box's init.
pub fn enter(spec: &BoxSpec) -> Isolation {
    let mut iso = Isolation::default();
    let root = Uid::effective().is_root();
    for procs in &spec.cgroup_procs {
        match fs::write(procs, "0") {
            Ok(()) => iso.cgroups = true,
            Err(e) => iso.warnings.push(format!(
                "the box's control group could not be joined ({}: {e}): its process and memory limits do not hold",
                procs.display()
            )),
        }
    }
    if spec.cgroup_procs.is_empty() && !spec.bare {
        iso.warnings.push(
            "no control groups here: the box has no limit on its processes and memory as a whole (only per process)".into(),
        );
    }
    if spec.bare {
        iso.warnings
            .push("the OS sandbox is off (bare box, for tests of the other layers)".into());
        return iso;
    }
    let wanted = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    let unshared = if root {
        unshare(wanted).map_err(|e| format!("{e}"))
    } else {
        enter_user_namespace(wanted)
    };
    if let Err(e) = unshared {
        iso.warnings.push(format!(
            "no namespaces here ({e}): the box's processes can see the machine's processes, files and network; only Landlock, seccomp and the limits confine them"
        ));
        return iso;
    }
    iso.no_network = true;
    iso.own_uid = root;
    if !root {
        iso.warnings.push(
            "not root: the box's processes keep the grader's own user (in a user namespace of their own)".into(),
        );
    }
    // The caller stays outside the new pid namespace; its child is init.
    // SAFETY: the supervisor is single-threaded at this point.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {}
        Ok(ForkResult::Parent { child }) => go_between(child),
        Err(e) => {
            iso.warnings.push(format!("no pid namespace ({e})"));
            return iso;
        }
    }
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number: if the
    // go-between dies (the grader killed it), so does the box.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    iso.pid_namespace = true;
    let _ = nix::unistd::sethostname("grader-box");
    match build_root(spec) {
        Ok(()) => iso.own_root = true,
        Err(e) => iso.warnings.push(format!(
            "no root of its own ({e}): the box sees the machine's files (read-only where Landlock works)"
        )),
    }
    iso
}

/// The go-between outside the pid namespace: waits for the box's init and
/// leaves with its status. Killed, it takes the box down with it (the
/// init's parent-death signal).
fn go_between(init: nix::unistd::Pid) -> ! {
    // It needs none of the grader's pipes: only the init answers.
    if let Ok(null) = fs::File::open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
    }
    let code = loop {
        match nix::sys::wait::waitpid(init, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => break code,
            Ok(nix::sys::wait::WaitStatus::Signaled(..)) => break 1,
            Err(nix::errno::Errno::EINTR) | Ok(_) => continue,
            Err(_) => break 1,
        }
    };
    std::process::exit(code)
}

/// Unprivileged: a user namespace in which the grader's user is root, and
/// the other namespaces owned by it.
fn enter_user_namespace(wanted: CloneFlags) -> Result<(), String> {
    let (uid, gid) = (Uid::current().as_raw(), Gid::current().as_raw());
    unshare(CloneFlags::CLONE_NEWUSER | wanted).map_err(|e| format!("{e}"))?;
    fs::write("/proc/self/setgroups", "deny").map_err(|e| e.to_string())?;
    fs::write("/proc/self/uid_map", format!("0 {uid} 1")).map_err(|e| e.to_string())?;
    fs::write("/proc/self/gid_map", format!("0 {gid} 1")).map_err(|e| e.to_string())?;
    Ok(())
}

fn mnt(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), String> {
    mount(source, target, fstype, flags, data).map_err(|e| {
        format!(
            "mount {} on {}: {e}",
            source.map_or("-".into(), |s| s.display().to_string()),
            target.display()
        )
    })
}

/// Builds the box's root (see the module docs) and moves into it.
fn build_root(spec: &BoxSpec) -> Result<(), String> {
    let base = Path::new("/tmp");
    mnt(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    mnt(
        Some(Path::new("tmpfs")),
        base,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=16m,mode=755"),
    )?;
    let (new, old) = (base.join("newroot"), base.join("oldroot"));
    fs::create_dir(&new).map_err(|e| e.to_string())?;
    fs::create_dir(&old).map_err(|e| e.to_string())?;
    // The host's root moves to /oldroot, the tmpfs becomes /: every host
    // path is still reachable, under /oldroot, while the new root is made.
    nix::unistd::pivot_root(base, &old).map_err(|e| format!("pivot_root: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| e.to_string())?;
    let (host, new) = (Path::new("/oldroot"), Path::new("/newroot"));
    mnt(Some(new), new, None, MsFlags::MS_BIND, None)?;
    let dir = |p: &str, mode: u32| -> Result<PathBuf, String> {
        let path = new.join(p);
        fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let _ = fs::set_permissions(&path, fs::Permissions::from_mode(mode));
        Ok(path)
    };
    let proc = dir("proc", 0o555)?;
    mnt(
        Some(Path::new("proc")),
        &proc,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;
    let dev = dir("dev", 0o755)?;
    mnt(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("size=64k,mode=755"),
    )?;
    for node in ["null", "zero", "full", "random", "urandom"] {
        let (from, to) = (host.join("dev").join(node), dev.join(node));
        fs::File::create(&to).map_err(|e| e.to_string())?;
        mnt(Some(&from), &to, None, MsFlags::MS_BIND, None)?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, dev.join(link)).map_err(|e| e.to_string())?;
    }
    let shm = dir("dev/shm", 0o1777)?;
    mnt(
        Some(Path::new("tmpfs")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&format!("size={}m,mode=1777", spec.shm_mib)),
    )?;
    let tmp = dir("tmp", 0o1777)?;
    mnt(
        Some(Path::new("tmpfs")),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&format!("size={}m,mode=1777", spec.tmp_mib)),
    )?;
    // The box's own /tmp and /dev are in place before the binds, so that a
    // bind under them (a course checked out under /tmp) lands inside them
    // rather than under a mount that would hide it.
    for dir in &spec.scratch {
        let path = new.join(dir.strip_prefix("/").unwrap_or(dir));
        fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        mnt(
            Some(Path::new("tmpfs")),
            &path,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("size=64m,mode=777"),
        )?;
    }
    for bind in &spec.binds {
        bind_in(host, new, bind)?;
    }
    let etc = dir("etc", 0o755)?;
    let names = format!(
        "root:x:0:0:root:/tmp:/bin/sh\nrunner:x:{}:{}:runner:/tmp:/bin/sh\n",
        spec.uid, spec.gid
    );
    let _ = fs::write(etc.join("passwd"), names);
    let _ = fs::write(
        etc.join("group"),
        format!("root:x:0:\nrunner:x:{}:\n", spec.gid),
    );
    for file in ["ld.so.cache", "ld.so.conf"] {
        let (from, to) = (host.join("etc").join(file), etc.join(file));
        if from.is_file() {
            fs::File::create(&to).map_err(|e| e.to_string())?;
            mnt(Some(&from), &to, None, MsFlags::MS_BIND, None)?;
            read_only(&to)?;
        }
    }
    let put_old = new.join(".oldroot");
    fs::create_dir(&put_old).map_err(|e| e.to_string())?;
    nix::unistd::pivot_root(new, &put_old).map_err(|e| format!("pivot_root: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| e.to_string())?;
    // The staging tmpfs and the host's root with it: gone from the box.
    umount2("/.oldroot", MntFlags::MNT_DETACH).map_err(|e| format!("umount: {e}"))?;
    let _ = fs::remove_dir("/.oldroot");
    mnt(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
        None,
    )?;
    nix::unistd::chdir("/tmp").map_err(|e| e.to_string())?;
    Ok(())
}

/// Binds `host`/`bind.path` at `new`/`bind.path`; a symbolic link is
/// recreated as a link (`/lib` → `usr/lib` on merged-/usr systems).
fn bind_in(host: &Path, new: &Path, bind: &Bind) -> Result<(), String> {
    let inside = bind.inside();
    let from = host.join(bind.path.strip_prefix("/").unwrap_or(&bind.path));
    let to = new.join(inside.strip_prefix("/").unwrap_or(inside));
    let meta = match fs::symlink_metadata(&from) {
        Ok(m) => m,
        Err(_) => return Ok(()), // not on this machine (`/lib64`, say)
    };
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    if meta.file_type().is_symlink() {
        let target = fs::read_link(&from).map_err(|e| e.to_string())?;
        if fs::symlink_metadata(&to).is_err() {
            symlink(&target, &to).map_err(|e| e.to_string())?;
        }
        return Ok(());
    }
    if meta.is_dir() {
        fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))?;
    } else {
        fs::File::create(&to).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    mnt(
        Some(&from),
        &to,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    if !bind.writable {
        read_only(&to)?;
    }
    Ok(())
}

/// Makes a bind mount read-only (and nosuid, nodev), keeping the flags its
/// filesystem is mounted with, which a remount may not drop.
fn read_only(path: &Path) -> Result<(), String> {
    let kept = nix::sys::statvfs::statvfs(path)
        .map(|s| {
            use nix::sys::statvfs::FsFlags;
            let f = s.flags();
            let mut keep = MsFlags::empty();
            for (have, want) in [
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
                (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
                (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
                (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
            ] {
                if f.contains(have) {
                    keep |= want;
                }
            }
            keep
        })
        .unwrap_or(MsFlags::empty());
    mnt(
        None,
        path,
        None,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | kept,
        None,
    )
}

/// What a box's process is confined by, prepared in the supervisor
/// before any fork so that the child only makes system calls.
pub struct Confinement {
    uid: u32,
    gid: u32,
    as_root: bool,
    filters: Vec<BpfProgram>,
    writable: Vec<PathBuf>,
    bare: bool,
}

impl Confinement {
    /// Prepares the confinement of `spec`'s processes in a box set up as
    /// `iso` says, working in `work`; `iso` gets warnings about what
    /// cannot be enforced here.
    pub fn new(spec: &BoxSpec, iso: &mut Isolation, work: &Path) -> Confinement {
        let warnings = &mut iso.warnings;
        let filters = if spec.bare {
            Vec::new()
        } else {
            seccomp::filters().unwrap_or_else(|e| {
                warnings.push(format!(
                    "no seccomp filter ({e}): every system call is allowed"
                ));
                Vec::new()
            })
        };
        if !spec.bare && landlock_abi() < 1 {
            warnings.push(
                "no Landlock on this kernel: writes outside the box's own directories are stopped only by its read-only root".into(),
            );
        }
        Confinement {
            uid: spec.uid,
            gid: spec.gid,
            as_root: Uid::effective().is_root(),
            filters,
            writable: writable_dirs(spec, iso, work),
            bare: spec.bare,
        }
    }

    /// In a forked child, before `exec`: become the box's unprivileged
    /// user with no way back, then let Landlock and seccomp close the
    /// rest. Returns what failed, for the child to report and leave.
    pub fn apply(&self) -> Result<(), String> {
        // SAFETY: setsid and prctl take plain values.
        unsafe {
            libc::setsid();
            // The box's init may die only by the grader's hand; its
            // children follow it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        }
        if self.bare {
            return Ok(());
        }
        drop_privileges(self.as_root, self.uid, self.gid)?;
        // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes plain values.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(format!("no_new_privs: {}", io::Error::last_os_error()));
        }
        landlock(&self.writable)?;
        seccomp::install(&self.filters)
    }
}

/// Drops every capability for good: the bounding set, the supplementary
/// groups, then the uid (as root: to the box's own; in a user namespace:
/// the capabilities themselves, there being no other uid to go to).
fn drop_privileges(as_root: bool, uid: u32, gid: u32) -> Result<(), String> {
    for cap in 0..=63 {
        // SAFETY: PR_CAPBSET_DROP takes a capability number; numbers past
        // the kernel's last capability fail harmlessly.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
    }
    if as_root {
        nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
        let (g, u) = (Gid::from_raw(gid), Uid::from_raw(uid));
        nix::unistd::setresgid(g, g, g).map_err(|e| format!("setresgid: {e}"))?;
        nix::unistd::setresuid(u, u, u).map_err(|e| format!("setresuid: {e}"))?;
    }
    // Whatever is left (a user namespace's root keeps its capabilities
    // across the calls above): cleared.
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads a version-3 header and two data structs.
    if unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } != 0 {
        return Err(format!("capset: {}", io::Error::last_os_error()));
    }
    Ok(())
}

/// The Landlock ABI version of this kernel (0: none).
pub fn landlock_abi() -> i32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only queries.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    v.max(0) as i32
}

/// Writes only under `writable`; no signals or abstract sockets out of
/// this domain (where the kernel has those scopes). Best effort: a kernel
/// without Landlock was warned about when the box was set up.
fn landlock(writable: &[PathBuf]) -> Result<(), String> {
    use landlock::{
        make_bitflags, Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr,
        RulesetCreatedAttr, Scope, ABI,
    };
    if landlock_abi() < 1 {
        return Ok(());
    }
    let abi = ABI::V6;
    let err = |e: landlock::RulesetError| format!("landlock: {e}");
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .scope(make_bitflags!(Scope::{Signal | AbstractUnixSocket}))
        .map_err(err)?
        .create()
        .map_err(err)?;
    let everywhere = PathFd::new("/").map_err(|e| format!("landlock: {e}"))?;
    ruleset = ruleset
        .add_rule(PathBeneath::new(everywhere, AccessFs::from_read(abi)))
        .map_err(err)?;
    for dir in writable {
        if let Ok(fd) = PathFd::new(dir) {
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, AccessFs::from_all(abi)))
                .map_err(err)?;
        }
    }
    // The device files everyone writes to (`/dev/null` above all).
    for node in ["null", "zero", "full", "random", "urandom"] {
        if let Ok(fd) = PathFd::new(Path::new("/dev").join(node)) {
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, AccessFs::from_file(abi)))
                .map_err(err)?;
        }
    }
    ruleset.restrict_self().map_err(err)?;
    Ok(())
}

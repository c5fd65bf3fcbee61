//! The system calls a sandboxed process may not make.
//!
//! A course program needs memory, processes, pipes, futexes and the clock;
//! a build needs files, processes and threads. Neither needs to trace or
//! read another process, mount, change namespaces, load kernel code or
//! open a new way around the other layers (io_uring, `pidfd_getfd`,
//! `TIOCSTI`). Those are refused by a seccomp filter that every process
//! of a sandbox inherits and cannot remove.
//!
//! A refused call raises `SIGSYS` (`SECCOMP_RET_TRAP`): the course's
//! runtime names the call on stderr and ends the run (see
//! `scenarios::serve`), and anything else is killed by the signal, so an
//! attempt is never silent. `clone3` is answered `ENOSYS` instead: its
//! flags cannot be inspected by a filter, and the C library falls back to
//! `clone`, whose namespace flags can.
//!
//! The filters are built with `seccompiler`, the seccomp compiler of the
//! Firecracker project.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The exit code the course's runtime leaves with after a refused call
/// (128 + SIGSYS, as a shell reports a death by that signal).
pub const REFUSED_EXIT_CODE: i32 = 128 + libc::SIGSYS;

/// The refused calls, by number and name.
pub fn refused_calls() -> Vec<(i64, &'static str)> {
    let mut calls = vec![
        (libc::SYS_ptrace, "ptrace"),
        (libc::SYS_process_vm_readv, "process_vm_readv"),
        (libc::SYS_process_vm_writev, "process_vm_writev"),
        (libc::SYS_pidfd_getfd, "pidfd_getfd"),
        (libc::SYS_kcmp, "kcmp"),
        (libc::SYS_process_madvise, "process_madvise"),
        (libc::SYS_migrate_pages, "migrate_pages"),
        (libc::SYS_move_pages, "move_pages"),
        (libc::SYS_mount, "mount"),
        (libc::SYS_umount2, "umount2"),
        (libc::SYS_pivot_root, "pivot_root"),
        (libc::SYS_chroot, "chroot"),
        (libc::SYS_move_mount, "move_mount"),
        (libc::SYS_open_tree, "open_tree"),
        (libc::SYS_fsopen, "fsopen"),
        (libc::SYS_fsmount, "fsmount"),
        (libc::SYS_fspick, "fspick"),
        (libc::SYS_fsconfig, "fsconfig"),
        (libc::SYS_mount_setattr, "mount_setattr"),
        (libc::SYS_setns, "setns"),
        (libc::SYS_unshare, "unshare"),
        (libc::SYS_bpf, "bpf"),
        (libc::SYS_perf_event_open, "perf_event_open"),
        (libc::SYS_userfaultfd, "userfaultfd"),
        (libc::SYS_io_uring_setup, "io_uring_setup"),
        (libc::SYS_io_uring_enter, "io_uring_enter"),
        (libc::SYS_io_uring_register, "io_uring_register"),
        (libc::SYS_keyctl, "keyctl"),
        (libc::SYS_add_key, "add_key"),
        (libc::SYS_request_key, "request_key"),
        (libc::SYS_kexec_load, "kexec_load"),
        (libc::SYS_kexec_file_load, "kexec_file_load"),
        (libc::SYS_init_module, "init_module"),
        (libc::SYS_finit_module, "finit_module"),
        (libc::SYS_delete_module, "delete_module"),
        (libc::SYS_reboot, "reboot"),
        (libc::SYS_swapon, "swapon"),
        (libc::SYS_swapoff, "swapoff"),
        (libc::SYS_acct, "acct"),
        (libc::SYS_syslog, "syslog"),
        (libc::SYS_vhangup, "vhangup"),
        (libc::SYS_quotactl, "quotactl"),
        (libc::SYS_open_by_handle_at, "open_by_handle_at"),
        (libc::SYS_name_to_handle_at, "name_to_handle_at"),
        (libc::SYS_fanotify_init, "fanotify_init"),
        (libc::SYS_settimeofday, "settimeofday"),
        (libc::SYS_clock_settime, "clock_settime"),
        (libc::SYS_clock_adjtime, "clock_adjtime"),
        (libc::SYS_adjtimex, "adjtimex"),
        (libc::SYS_sethostname, "sethostname"),
        (libc::SYS_setdomainname, "setdomainname"),
        (libc::SYS_personality, "personality"),
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        (libc::SYS_iopl, "iopl"),
        (libc::SYS_ioperm, "ioperm"),
        (libc::SYS_uselib, "uselib"),
    ]);
    calls
}

/// The name of a refused call, by number, and what it was refused for
/// when that is not the call itself.
pub fn call_name(number: i64) -> Option<&'static str> {
    let signal = [
        (libc::SYS_kill, "kill: a signal to the sandbox's supervisor"),
        (
            libc::SYS_tkill,
            "tkill: a signal to the sandbox's supervisor",
        ),
        (
            libc::SYS_tgkill,
            "tgkill: a signal to the sandbox's supervisor",
        ),
        (
            libc::SYS_rt_sigqueueinfo,
            "rt_sigqueueinfo: a signal to the sandbox's supervisor",
        ),
        (
            libc::SYS_rt_tgsigqueueinfo,
            "rt_tgsigqueueinfo: a signal to the sandbox's supervisor",
        ),
        (
            libc::SYS_pidfd_open,
            "pidfd_open of the sandbox's supervisor",
        ),
        (libc::SYS_clone, "clone into a new namespace"),
        (libc::SYS_ioctl, "ioctl of a terminal"),
    ];
    refused_calls()
        .into_iter()
        .chain(signal)
        .find(|(n, _)| *n == number)
        .map(|(_, name)| name)
}

/// The namespace flags a `clone` may not carry: a new namespace is a way
/// around the sandbox's own.
const NAMESPACE_FLAGS: [i32; 8] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
    0x80, // CLONE_NEWTIME
];

/// Terminal ioctls that push input into, or take over, a terminal.
const TERMINAL_IOCTLS: [u64; 2] = [libc::TIOCSTI, libc::TIOCLINUX];

fn arch() -> TargetArch {
    #[cfg(target_arch = "aarch64")]
    return TargetArch::aarch64;
    #[cfg(not(target_arch = "aarch64"))]
    TargetArch::x86_64
}

/// The filters to install, in order: the refusals, then `clone3`.
pub fn filters() -> Result<Vec<BpfProgram>, String> {
    let err = |e: seccompiler::BackendError| e.to_string();
    let mut refused: BTreeMap<i64, Vec<SeccompRule>> = refused_calls()
        .into_iter()
        .map(|(n, _)| (n, Vec::new()))
        .collect();
    let masked = |arg, mask: u64| -> Result<SeccompRule, String> {
        SeccompRule::new(vec![SeccompCondition::new(
            arg,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(mask),
            mask,
        )
        .map_err(err)?])
        .map_err(err)
    };
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|&flag| masked(0, flag as u64))
        .collect::<Result<Vec<_>, _>>()?;
    refused.insert(libc::SYS_clone, clone_rules);
    let ioctl_rules = TERMINAL_IOCTLS
        .iter()
        .map(|&request| {
            SeccompRule::new(vec![SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                request,
            )
            .map_err(err)?])
            .map_err(err)
        })
        .collect::<Result<Vec<_>, _>>()?;
    refused.insert(libc::SYS_ioctl, ioctl_rules);
    // A signal to pid 1, the box's init (its supervisor): the kernel
    // would ignore it, but the attempt is named.
    let to_init = |arg| -> Result<Vec<SeccompRule>, String> {
        Ok(vec![SeccompRule::new(vec![SeccompCondition::new(
            arg,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            1,
        )
        .map_err(err)?])
        .map_err(err)?])
    };
    for call in [
        libc::SYS_kill,
        libc::SYS_tkill,
        libc::SYS_tgkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_pidfd_open,
    ] {
        refused.insert(call, to_init(0)?);
    }
    let refusals = SeccompFilter::new(refused, SeccompAction::Allow, SeccompAction::Trap, arch())
        .map_err(err)?;
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch(),
    )
    .map_err(err)?;
    [refusals, clone3]
        .into_iter()
        .map(|f| BpfProgram::try_from(f).map_err(err))
        .collect()
}

/// Installs `filters` on the calling thread (and `no_new_privs`, which
/// they need): from here on, and in every process it starts, the refused
/// calls raise `SIGSYS`.
pub fn install(filters: &[BpfProgram]) -> Result<(), String> {
    for filter in filters {
        seccompiler::apply_filter(filter).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_compile_and_name_their_calls() {
        assert_eq!(filters().unwrap().len(), 2);
        assert_eq!(call_name(libc::SYS_ptrace), Some("ptrace"));
        assert_eq!(call_name(libc::SYS_read), None);
    }
}

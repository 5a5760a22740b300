//! The last steps before execve, shared by the container's init and by
//! `exec`: scheduling, rlimits, no_new_privs, seccomp, capabilities, user,
//! umask, cwd, the executable and LSM labels, in runc's order.

use super::sync;
use crate::linux::process::{self, Exec};
use crate::linux::{caps, sched, seccomp, stdio, sys};
use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxPersonality, Process};
use std::os::fd::OwnedFd;

/// Apply `p` to the calling process. A seccomp filter is loaded here when
/// it must be (without no_new_privs it needs CAP_SYS_ADMIN, so before the
/// capability drop; a notify filter's fd goes to the parent over `sock`).
/// Otherwise it is returned, for the caller to load before execve. The
/// program was compiled by the parent.
///
/// First of all, every fd from `3 + preserve_fds` up is made close-on-exec:
/// only stdio and the preserved fds may reach the container's process
/// (CVE-2024-21626). That happens before any filter is loaded, so that the
/// container's profile need not allow close_range(2).
pub fn apply<'f>(
    p: &Process,
    personality: Option<&LinuxPersonality>,
    filter: Option<&'f seccomp::Program>,
    preserve_fds: u32,
    sock: &OwnedFd,
) -> Result<(Exec, Option<&'f seccomp::Program>)> {
    crate::fail_point("init:setup")?;
    sys::cloexec_from(3u32.saturating_add(preserve_fds))
        .context("mark fds close-on-exec (close_range)")?;
    // Default dispositions and an empty mask for the new program, before a
    // seccomp filter could block rt_sigaction.
    sys::reset_signals().context("reset signal dispositions and mask")?;
    if let Some(per) = personality {
        sched::set_personality(per)?;
    }
    sched::apply(p)?;
    process::set_rlimits(p)?;
    let nnp = p.no_new_privileges().unwrap_or(false);
    if nnp {
        nix::sys::prctl::set_no_new_privs()
            .context("prctl PR_SET_NO_NEW_PRIVS (process.noNewPrivileges)")?;
    }
    // chdir as root now (runc's order), and check the cwd before a filter
    // could block getcwd (CVE-2024-21626 check). Only if root was refused
    // is it tried again as the user, after the uid change.
    let cwd_entered = process::enter_cwd(p)?;
    if let (Some(s), false) = (filter, nnp) {
        if let Some(fd) = s.load()? {
            sync::send_seccomp_fd(sock, &fd)?;
        }
    }
    // No process.capabilities means none, as with runc (not root's full set).
    let capsets = match p.capabilities() {
        Some(c) => caps::parse(c)?,
        None => caps::Sets::none(),
    };
    caps::drop_bounding(&capsets.bounding)?;
    let setgroups_ok = std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    // The stdio pipes and our pty become the user's before the switch.
    stdio::hand_to_user(p.user().uid(), p.terminal().unwrap_or(false))?;
    process::set_user(p, setgroups_ok)?;
    if !cwd_entered {
        process::enter_cwd_as_user(p)?;
    }
    caps::apply(&capsets)?;
    if let Some(m) = p.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(m));
    }
    let exec = process::prepare_exec(p)?;
    process::set_lsm_labels(p)?;
    // With no_new_privs the filter is loaded by the caller, after the
    // capability drop and the uid change. A notify filter is loaded now, though: its fd must reach the
    // agent through the parent, which may be gone later (runc does the same).
    let mut late = None;
    if let (Some(f), true) = (filter, nnp) {
        if f.notifies() {
            if let Some(fd) = f.load()? {
                sync::send_seccomp_fd(sock, &fd)?;
            }
        } else {
            late = Some(f);
        }
    }
    Ok((exec, late))
}

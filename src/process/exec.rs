//! `exec`: start one more process inside a running container.
//!
//! husk forks a helper that joins the container's namespaces (user first,
//! mount last), forks once more so the new pid namespace applies, and
//! reports the grandchild's pid. The parent puts that pid into the
//! container's cgroup, then lets it set itself up (terminal, rlimits,
//! seccomp, user, capabilities, cwd) and execve. As for `create`, nothing
//! is re-executed and no thread exists at the fork.

use super::sync::{self, recv_msg, send_msg, Msg};
use crate::linux::clone::{clone, Forked};
use crate::linux::{console, sched, seccomp, sys};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType as Ns, LinuxSeccomp, Process};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

pub struct ExecOpts<'a> {
    pub init_pid: i32,
    /// Namespace types the container has (new or joined).
    pub namespaces: Vec<Ns>,
    pub process: &'a Process,
    pub seccomp: Option<&'a LinuxSeccomp>,
    /// `seccomp`, compiled.
    pub program: Option<&'a seccomp::Program>,
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
    /// The container's state, for a seccomp agent.
    pub state_json: String,
    /// cgroup directories (one per hierarchy) the process joins.
    pub cgroup_dirs: Vec<PathBuf>,
    /// Rootless cgroups: a cgroup the process may not join is ignored, as
    /// runc ignores it.
    pub rootless_cgroups: bool,
    pub console: Option<OwnedFd>,
    pub preserve_fds: u32,
    /// Make husk the reaper of the process (foreground exec).
    pub subreaper: bool,
    /// The session keyring to join (`_ses.ID`, as the init), or None to
    /// keep the caller's (`--no-new-keyring` at create).
    pub session_keyring: Option<String>,
}

/// Open the init's namespaces that differ from ours, in join order.
fn open_namespaces(pid: i32, types: &[Ns]) -> Result<Vec<(Ns, OwnedFd)>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for typ in crate::linux::namespaces::JOIN_ORDER {
        if !types.contains(&typ) {
            continue;
        }
        let name = typ.to_string();
        let theirs = format!("/proc/{pid}/ns/{name}");
        let f = std::fs::File::open(&theirs).with_context(|| format!("open {theirs}"))?;
        let mine = std::fs::metadata(format!("/proc/self/ns/{name}")).ok();
        let same = match (f.metadata(), mine) {
            (Ok(a), Some(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if !same {
            out.push((typ, OwnedFd::from(f)));
        }
    }
    Ok(out)
}

/// Start the process; returns its host pid once it is about to execve.
pub fn exec(o: ExecOpts) -> Result<i32> {
    let joins = open_namespaces(o.init_pid, &o.namespaces)?;
    // A container without a mount namespace of its own shares ours, and
    // its init is chrooted into the rootfs: the new process goes there
    // too, through the init's root (runc would leave it at the host's /).
    let chroot = if o.namespaces.contains(&Ns::Mount) {
        None
    } else {
        let p = format!("/proc/{}/root", o.init_pid);
        let fd = nix::fcntl::open(
            p.as_str(),
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .with_context(|| format!("open {p}"))?;
        Some(fd)
    };
    if o.subreaper {
        nix::sys::prctl::set_child_subreaper(true).context("prctl PR_SET_CHILD_SUBREAPER")?;
    }
    let (parent_sock, child_sock) = sync::pair()?;
    let middle = match clone(0)? {
        Forked::Child => {
            drop(parent_sock);
            child_main(&o, joins, chroot, child_sock)
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_sock);
    drop(joins);
    drop(chroot);
    let mut pids = vec![middle];
    let result = (|| -> Result<i32> {
        let pid = match recv_msg(&parent_sock)? {
            Some(Msg::Pid(p)) => p,
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(m) => bail!("exec sync channel: unexpected {m:?}"),
            None => bail!("exec: the process exited while joining the container's namespaces"),
        };
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(middle), None);
        pids = vec![pid];
        let spid = pid.to_string();
        for dir in &o.cgroup_dirs {
            let f = dir.join("cgroup.procs");
            match std::fs::write(&f, &spid) {
                Err(e) if o.rootless_cgroups => {
                    crate::logging::debug(&format!("rootless: exec not in {}: {e}", f.display()))
                }
                r => r.with_context(|| format!("add pid {pid} to {}", f.display()))?,
            }
        }
        send_msg(&parent_sock, &Msg::Go(pid))?;
        loop {
            match recv_msg(&parent_sock)? {
                Some(Msg::Ready) => return Ok(pid),
                Some(Msg::SeccompFd(remote)) => {
                    // A filter with SCMP_ACT_NOTIFY: hand its listener to the agent.
                    let sec = o
                        .seccomp
                        .context("exec sent a seccomp fd but linux.seccomp is unset")?;
                    let fd = seccomp::take_listener_fd(pid, remote)?;
                    send_msg(&parent_sock, &Msg::SeccompFdDone)?;
                    seccomp::send_to_agent(sec, &fd, pid, &o.state_json)?;
                }
                Some(Msg::Error(e)) => bail!("{e}"),
                Some(m) => bail!("exec sync channel: unexpected {m:?}"),
                None => bail!("exec: the process exited during setup"),
            }
        }
    })();
    if result.is_err() {
        for &p in &pids {
            let p = nix::unistd::Pid::from_raw(p);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
    }
    result
}

fn child_main(
    o: &ExecOpts,
    joins: Vec<(Ns, OwnedFd)>,
    chroot: Option<OwnedFd>,
    sock: OwnedFd,
) -> ! {
    if let Err(e) = child(o, joins, chroot, &sock) {
        let _ = send_msg(&sock, &Msg::Error(format!("{e:#}")));
        sys::exit_now(1)
    }
    // `child` only returns Ok in the middle process, after the fork.
    sys::exit_now(0)
}

fn child(
    o: &ExecOpts,
    joins: Vec<(Ns, OwnedFd)>,
    chroot: Option<OwnedFd>,
    sock: &OwnedFd,
) -> Result<()> {
    // Not dumpable while we are a husk image inside the container: its
    // processes cannot open our /proc/PID/exe (CVE-2019-5736). execve
    // restores the flag for the new program.
    nix::sys::prctl::set_dumpable(false).context("prctl PR_SET_DUMPABLE")?;
    if let Some(root) = chroot {
        // Before joining a user namespace, while we have CAP_SYS_CHROOT
        // over the mount namespace we share.
        nix::unistd::fchdir(&root).context("fchdir to the init's root")?;
        nix::unistd::chroot(".").context("chroot into the init's root (no mount namespace)")?;
        nix::unistd::chdir("/").context("chdir /")?;
    }
    for (typ, fd) in &joins {
        nix::sched::setns(fd.as_fd(), crate::linux::namespaces::flag(*typ))
            .with_context(|| format!("setns into the container's {typ} namespace"))?;
        if *typ == Ns::User {
            nix::unistd::setresgid(0.into(), 0.into(), 0.into())
                .context("setresgid 0 in the container's user namespace")?;
            nix::unistd::setresuid(0.into(), 0.into(), 0.into())
                .context("setresuid 0 in the container's user namespace")?;
        }
    }
    drop(joins);
    // A joined pid (or time) namespace applies to our children only.
    match clone(0)? {
        Forked::Parent(pid) => {
            send_msg(sock, &Msg::Pid(pid))?;
            return Ok(());
        }
        Forked::Child => {}
    }
    if let Err(e) = grandchild(o, sock) {
        let _ = send_msg(sock, &Msg::Error(format!("{e:#}")));
        sys::exit_now(1)
    }
    unreachable!("grandchild returns only on error")
}

fn grandchild(o: &ExecOpts, sock: &OwnedFd) -> Result<()> {
    match recv_msg(sock)? {
        Some(Msg::Go(_)) => {}
        other => bail!("exec sync channel: expected Go, got {other:?}"),
    }
    if let Some(name) = &o.session_keyring {
        // Not the caller's session keyring: the container's (as the init).
        // EDQUOT/ENOSYS on some hosts: carry on without one, as the init does.
        let _ = sys::join_session_keyring(name);
    }
    crate::linux::stdio::reopen_dev_null()?;
    let p = o.process;
    if let Some(a) = p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().clone())
    {
        sched::set_affinity(&a)?;
    }
    if p.terminal().unwrap_or(false) {
        let size = p
            .console_size()
            .map(|s| (s.height() as u16, s.width() as u16));
        console::setup(o.console.as_ref(), size)?;
    }
    if let Some(adj) = p.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .context("write oom_score_adj (process.oomScoreAdj)")?;
    }
    // Also makes every fd above stdio and the preserved ones close-on-exec,
    // before any filter is loaded.
    let (exec, late_filter) =
        super::setup::apply(p, o.personality, o.program, o.preserve_fds, sock)?;
    if let Some(f) = late_filter {
        f.load()?;
    }
    if let Some(a) = p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.cpu_affinity_final().clone())
    {
        sched::set_affinity(&a)?;
    }
    send_msg(sock, &Msg::Ready)?;
    let err = sys::execve(&exec.path, &exec.argv, &exec.envp);
    eprintln!("husk: exec {:?}: {err}", exec.path);
    sys::exit_now(if err.raw_os_error() == Some(libc::ENOENT) {
        127
    } else {
        126
    })
}

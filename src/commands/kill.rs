use crate::cgroups::Cgroup;
use crate::cli::KillArgs;
use crate::container::state::{is_alive, Status};
use crate::container::Container;
use crate::error::HuskError;
use crate::linux::sys;
use anyhow::{Context, Result};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

pub fn run(root: &Path, a: &KillArgs) -> Result<()> {
    // runc's order: an unknown container is reported before a bad signal.
    let c = Container::load(root, &a.id)?;
    let sig = super::parse_signal(a.signal.as_deref().unwrap_or("SIGTERM"))?;
    let status = c.status();
    if a.all {
        // Also after the init exited, when other processes may remain in a
        // shared pid namespace (containerd does this): a stopped container
        // with nothing left to signal is no error, as with runc.
        return signal_all(&c, sig);
    }
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(HuskError::NotRunning(a.id.clone()).into());
    }
    signal_init(&c, sig)?;
    if sig == libc::SIGKILL && status == Status::Paused {
        // A frozen (v1) process only dies once thawed, as runc does.
        let _ = Cgroup::new(&c.state.cgroup_path).freeze(false);
    }
    Ok(())
}

/// A pidfd for the init, checked against the stored start time after it was
/// opened, so a recycled pid is never signalled.
pub fn init_pidfd(c: &Container) -> Option<OwnedFd> {
    let fd = sys::pidfd_open(c.state.pid).ok()?;
    is_alive(c.state.pid, c.state.pid_start_time).then_some(fd)
}

pub fn signal_init(c: &Container, sig: i32) -> Result<()> {
    let fd = init_pidfd(c).ok_or_else(|| HuskError::NotRunning(c.id().to_string()))?;
    sys::pidfd_send_signal(fd.as_fd(), sig)
        .with_context(|| format!("send signal {sig} to the container's init"))
}

/// Every process of the container: those of its cgroup; for a rootless
/// container without a cgroup, those of its own pid namespace.
pub fn container_pids(c: &Container) -> Result<Vec<i32>> {
    let mut cg = Cgroup::of(&c.state);
    if !cg.has_none()? {
        return cg.pids();
    }
    if c.state.shared_pid_ns {
        // No cgroup and no pid namespace of its own: nothing tells its
        // processes from the host's.
        return cg.pids();
    }
    if !is_alive(c.state.pid, c.state.pid_start_time) {
        // The namespace died with its init.
        return Ok(vec![]);
    }
    let ns = std::fs::read_link(format!("/proc/{}/ns/pid", c.state.pid))
        .with_context(|| format!("read /proc/{}/ns/pid", c.state.pid))?;
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").context("read /proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if std::fs::read_link(e.path().join("ns/pid")).is_ok_and(|l| l == ns) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Signal every process of the container, each through a pidfd so that a
/// pid recycled meanwhile is not hit: those of its cgroup; for a rootless
/// container without a cgroup, those of its own pid namespace. Nothing
/// left is not an error (runc: `kill --all` of a stopped container works).
pub fn signal_all(c: &Container, sig: i32) -> Result<()> {
    let mut cg = Cgroup::of(&c.state);
    let pids = match cg.has_none() {
        Ok(true) if c.state.shared_pid_ns && is_alive(c.state.pid, c.state.pid_start_time) => {
            return Err(cg
                .pids()
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("no cgroup"))
                .context("kill --all"));
        }
        Ok(true) => container_pids(c)?,
        _ => cg.pids().unwrap_or_default(),
    };
    for pid in pids {
        if let Ok(fd) = sys::pidfd_open(pid) {
            let _ = sys::pidfd_send_signal(fd.as_fd(), sig);
        }
    }
    if sig == libc::SIGKILL && cg.is_frozen() {
        let _ = cg.freeze(false);
    }
    Ok(())
}

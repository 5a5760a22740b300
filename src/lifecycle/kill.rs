//! `kill` and the container's processes (`ps`, `kill --all`, `delete`).

use super::table::{check, Op};
use crate::container::state::{is_alive, Status};
use crate::container::Container;
use crate::error::HuskError;
use crate::linux::sys;
use anyhow::{Context, Result};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Send `signal` (a name: KILL, SIGKILL, kill; or a number, 0 to 64) to the init of
/// container `id`, or with `all` to every process of the container.
pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    // runc's order: an unknown container is reported before a bad signal.
    let c = Container::load(root, id)?;
    let sig = parse_signal(signal)?;
    let status = c.status();
    check(if all { Op::KillAll } else { Op::Kill }, status, id)?;
    if all {
        return signal_all(&c, sig);
    }
    signal_init(&c, sig)?;
    if sig == libc::SIGKILL && status == Status::Paused {
        // A frozen (v1) process only dies once thawed, as runc does.
        let _ = c.state.cgroup().freeze(false);
    }
    Ok(())
}

/// The host pids of every process of container `id` (`ps`).
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    container_pids(&Container::load(root, id)?)
}

/// A pidfd for the init, checked against the stored start time after it was
/// opened, so a recycled pid is never signalled.
pub(super) fn init_pidfd(c: &Container) -> Option<OwnedFd> {
    let fd = sys::pidfd_open(c.state.pid).ok()?;
    is_alive(c.state.pid, c.state.pid_start_time).then_some(fd)
}

fn signal_init(c: &Container, sig: i32) -> Result<()> {
    let fd = init_pidfd(c).ok_or_else(|| HuskError::NotRunning(c.id().to_string()))?;
    sys::pidfd_send_signal(fd.as_fd(), sig)
        .with_context(|| format!("send signal {sig} to the container's init"))
}

/// Every process of the container: those of its cgroup; for a rootless
/// container without a cgroup, those of its own pid namespace.
fn container_pids(c: &Container) -> Result<Vec<i32>> {
    let mut cg = c.state.cgroup();
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
pub(super) fn signal_all(c: &Container, sig: i32) -> Result<()> {
    let mut cg = c.state.cgroup();
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

/// The highest signal number the kernel accepts (`_NSIG`, SIGRTMAX).
const SIGNAL_MAX: i32 = 64;

/// Parse a signal given as a name (KILL, SIGKILL, kill) or a number. Any
/// number from 0 (no signal: only checks that the process exists) to 64 is
/// valid, real-time signals (32-64) included, as with runc and kill(1).
fn parse_signal(s: &str) -> Result<i32> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        if (0..=SIGNAL_MAX).contains(&n) {
            return Ok(n);
        }
        anyhow::bail!("invalid signal {s:?}: a number must be 0 to {SIGNAL_MAX}");
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    nix::sys::signal::Signal::from_str(&name)
        .map(|sig| sig as i32)
        .map_err(|_| anyhow::anyhow!("invalid signal {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), 10);
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert_eq!(parse_signal("37").unwrap(), 37);
        assert_eq!(parse_signal("64").unwrap(), 64);
        for bad in ["65", "-1", "NOPE", "", "SIG"] {
            assert!(parse_signal(bad).is_err(), "{bad:?}");
        }
    }
}

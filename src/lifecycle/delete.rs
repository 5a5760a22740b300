//! `delete`: kill what is left of the container, then remove its cgroup
//! and state directory and run the poststop hooks.

use super::table::{check, Op};
use crate::container::state::Status;
use crate::container::Container;
use crate::error::HuskError;
use crate::linux::hooks;
use anyhow::Result;
use nix::sys::signal::Signal;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// Delete container `id`; with `force` also a running or paused one. As
/// runc, `delete --force` of an unknown container succeeds.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match Container::load_locked(root, id) {
        Ok(c) => c,
        Err(e)
            if force
                && e.downcast_ref::<HuskError>()
                    .is_some_and(|h| matches!(h, HuskError::NotExist(_))) =>
        {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    delete_container(&c, force)
}

/// Delete `c`, loaded by the caller (locked, or just made by run).
pub(super) fn delete_container(c: &Container, force: bool) -> Result<()> {
    let status = c.status();
    let op = if force { Op::DeleteForce } else { Op::Delete };
    check(op, status, c.id())?;
    let kill_first = match status {
        // The creator died half-way: its init may still wait on the fifo.
        Status::Stopped => c.state.creating && c.state.pid > 0,
        // A created container's init only waits for start: kill it, as
        // runc does; a running or paused one only with --force (checked).
        Status::Created | Status::Creating | Status::Running | Status::Paused => true,
    };
    if kill_first {
        kill_and_wait(c)?;
    }
    crate::crash_point("delete:before-destroy");
    destroy(c)
}

/// SIGKILL the init (and with a shared pid namespace, every process of the
/// cgroup), then wait until it is gone: no fixed sleep, the pidfd says when.
fn kill_and_wait(c: &Container) -> Result<()> {
    if c.state.shared_pid_ns {
        let _ = super::kill::signal_all(c, libc::SIGKILL);
    }
    if let Some(fd) = super::kill::init_pidfd(c) {
        let _ = crate::linux::sys::pidfd_send_signal(fd.as_fd(), Signal::SIGKILL as i32);
        let mut cg = c.state.cgroup();
        if cg.is_frozen() {
            let _ = cg.freeze(false);
        }
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16));
    }
    if c.state.shared_pid_ns {
        // Wait for the rest of the cgroup to die too.
        let mut cg = c.state.cgroup();
        let deadline = Instant::now() + Duration::from_secs(10);
        while cg.pids().map(|p| !p.is_empty()).unwrap_or(false) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(())
}

/// Remove everything of a stopped container: cgroup, state dir; then run
/// the poststop hooks (their failures are only logged, and all run). A cgroup that
/// cannot be removed (a process from outside still in it) keeps the state
/// dir, so that `delete --force` can be retried and nothing is orphaned.
fn destroy(c: &Container) -> Result<()> {
    let mut cg = c.state.cgroup();
    cg.destroy()?;
    if let Some(h) = c.state.hooks.as_ref().and_then(|h| h.poststop().as_ref()) {
        let st = hooks::state_json(c.id(), "stopped", 0, &c.state.bundle, &c.state.annotations);
        // Each failure is only logged and the next hooks still run (spec;
        // runc 1.1 stops at the first and fails `delete`).
        hooks::run_all_warn("poststop", h, &st);
    }
    c.remove_dir()
}

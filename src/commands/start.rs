use crate::container::state::Status;
use crate::container::Container;
use crate::error::HuskError;
use crate::linux::hooks;
use anyhow::{bail, Context, Result};
use std::os::fd::AsFd;
use std::path::Path;

/// Release the init blocked on exec.fifo, then run poststart hooks.
pub fn run(root: &Path, id: &str) -> Result<()> {
    let c = Container::load_locked(root, id)?;
    start(&c)
}

/// What the init wrote to exec.fifo before it exited: `E<message>`.
fn read_failure(fifo: &Path) -> Option<String> {
    let r = nix::fcntl::open(
        fifo,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; 4096];
    let n = nix::unistd::read(&r, &mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    text.strip_prefix('E').map(|m| m.trim().to_string())
}

pub fn start(c: &Container) -> Result<()> {
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(
                HuskError::WrongState("cannot start a container that has stopped".into()).into(),
            )
        }
        Status::Running | Status::Paused => {
            return Err(
                HuskError::WrongState("cannot start an already running container".into()).into(),
            )
        }
        Status::Creating => {
            return Err(HuskError::WrongState(
                "cannot start a container that is being created".into(),
            )
            .into())
        }
    }
    let fifo = c.fifo_path();
    // O_NONBLOCK: ENXIO at once if the init (the only reader) has died.
    let f = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ENXIO => {
            anyhow::anyhow!("cannot start a container that has stopped: its init exited")
        }
        e => anyhow::Error::new(e).context(format!("open {}", fifo.display())),
    })?;
    crate::crash_point("start:before-release");
    nix::unistd::write(&f, b"0").context("write exec.fifo")?;
    // The init keeps the fifo open until execve (close-on-exec) or until it
    // fails (startContainer hooks, late seccomp, exec): wait for the last
    // reader to go (POLLERR on our write end), then read back the error the
    // init left, if any. So `start` fails when the process could not start,
    // and poststart runs only after the process has started.
    let mut fds = [nix::poll::PollFd::new(
        f.as_fd(),
        nix::poll::PollFlags::empty(),
    )];
    loop {
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => {
                r.context("wait for the container process to start")?;
                break;
            }
        }
    }
    let failure = read_failure(&fifo);
    std::fs::remove_file(&fifo).with_context(|| format!("remove {}", fifo.display()))?;
    if let Some(msg) = failure {
        bail!("container process failed to start: {msg}");
    }
    if let Some(h) = c.state.hooks.as_ref().and_then(|h| h.poststart().as_ref()) {
        let st = hooks::state_json(
            c.id(),
            "running",
            c.state.pid,
            &c.state.bundle,
            &c.state.annotations,
        );
        // A failing poststart hook is only logged, and the next ones still
        // run (spec; runc 1.1 stops, kills the container and fails).
        hooks::run_all_warn("poststart", h, &st);
    }
    Ok(())
}

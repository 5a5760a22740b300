use crate::container::state::Status;
use crate::container::Container;
use crate::error::HuskError;
use crate::linux::hooks;
use anyhow::{Context, Result};
use std::path::Path;

/// Release the init blocked on exec.fifo, then run poststart hooks.
pub fn run(root: &Path, id: &str) -> Result<()> {
    let c = Container::load_locked(root, id)?;
    start(&c)
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
    std::fs::remove_file(&fifo).with_context(|| format!("remove {}", fifo.display()))?;
    nix::unistd::write(&f, b"0").context("write exec.fifo")?;
    if let Some(h) = c.state.hooks.as_ref().and_then(|h| h.poststart().as_ref()) {
        let st = hooks::state_json(
            c.id(),
            "running",
            c.state.pid,
            &c.state.bundle,
            &c.state.annotations,
        );
        // A failing poststart hook is only logged (spec).
        if let Err(e) = hooks::run_all("poststart", h, &st) {
            crate::logging::warn(&format!("{e:#}"));
        }
    }
    Ok(())
}

//! The container lifecycle: create, start, run, kill, delete, pause,
//! resume, exec and state, as the commands call them.
//!
//! Each operation loads the container, asks the status table
//! ([`table`]) whether its status allows the operation (runc's error
//! words when not), does the work through the modules below (`process`
//! clones and execs, `container` keeps the state, `cgroups`, `linux`),
//! and returns what the command prints. A command parses its flags, calls
//! this module (`update` and `events` call [`open`], then the cgroup) and
//! prints; no command calls another.
//!
//! ```text
//! create ─▶ creating ─▶ created ──start──▶ running ──pause──▶ paused
//!                          │                  │ ◀──resume───── │
//!                          └── the init exits or is killed ────┴──▶ stopped ──delete──▶ gone
//! ```
//!
//! The table has the details: `pause` also freezes a created container;
//! `delete` also removes a created one (killing its waiting init), and
//! with `--force` a running or paused one.
//!
//! The status is never stored: `Container::status` derives it from the
//! kernel on each call. Operations that change the container hold its
//! state directory's lock ([`table::locks`]).
//!
//! Layering: a layer of its own, above `container` and `process` (it uses
//! them, and `cgroups`, `linux`, `spec`); only `commands` uses it.

mod delete;
mod exec;
mod foreground;
mod kill;
pub mod table;

pub use crate::process::parent::CreateOpts;
pub use delete::delete;
pub use exec::{exec, ExecRequest};
pub use kill::{kill, pids};
pub use table::{check, Op};

use crate::container::state::Status;
use crate::container::Container;
use crate::linux::hooks;
use crate::process::fifo;
use anyhow::Result;
use std::path::Path;

/// Load container `id` (holding its lock if `op` changes it) and check
/// that its status allows `op`.
pub fn open(root: &Path, id: &str, op: Op) -> Result<(Container, Status)> {
    let c = if table::locks(op) {
        Container::load_locked(root, id)?
    } else {
        Container::load(root, id)?
    };
    let status = c.status();
    check(op, status, c.id())?;
    Ok((c, status))
}

/// Create a container: its state saved, its init set up and waiting on
/// exec.fifo for `start`.
pub fn create(o: &CreateOpts) -> Result<Container> {
    crate::process::parent::create(o)
}

/// Start a created container.
pub fn start(root: &Path, id: &str) -> Result<()> {
    start_container(&Container::load_locked(root, id)?)
}

/// Release the init of `c` (see process::fifo), then run the poststart
/// hooks.
fn start_container(c: &Container) -> Result<()> {
    check(Op::Start, c.status(), c.id())?;
    fifo::release(&c.fifo_path())?;
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

/// create + start. Detached, returns 0 once started. In the foreground,
/// waits for the init (forwarding signals to it and relaying its terminal
/// when husk holds it), deletes the container unless `keep`, and returns
/// the init's exit status.
pub fn run(o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    // Foreground with a terminal and no console socket: husk holds the
    // pty's master. The bundle is loaded once, for that and for create.
    let bundle = if !detach && o.console_socket.is_none() {
        Some(crate::spec::Bundle::load(o.bundle)?)
    } else {
        None
    };
    let terminal = bundle
        .as_ref()
        .and_then(|b| b.spec.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false);
    let pair = if terminal {
        Some(foreground::terminal_pair()?)
    } else {
        None
    };
    let opts = CreateOpts {
        console_fd: pair.as_ref().map(|p| &p.1),
        subreaper: !detach,
        ..*o
    };
    let mut c = match bundle {
        Some(b) => crate::process::parent::create_from(&opts, b)?,
        None => create(&opts)?,
    };
    let master = match &pair {
        Some((ours, _)) => Some(foreground::recv_fd(ours)?),
        None => None,
    };
    drop(pair);
    if detach {
        start_container(&c)?;
        return Ok(0);
    }
    // Block the signals we forward before the process can run.
    let fwd = foreground::Forwarder::new()?;
    let started = start_container(&c);
    // From here other commands (kill, state, exec) must get the lock.
    c.unlock();
    let code = match started {
        Ok(()) => fwd.wait(c.state.pid, master.as_ref())?,
        Err(e) => {
            let _ = delete::delete_container(&c, true);
            return Err(e);
        }
    };
    drop(fwd);
    if !keep {
        delete::delete_container(&c, true)?;
    }
    Ok(code)
}

/// Freeze every process of the container.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    let (c, _) = open(root, id, Op::Pause)?;
    c.state.cgroup().freeze(true)
}

/// Thaw a paused container.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    let (c, _) = open(root, id, Op::Resume)?;
    c.state.cgroup().freeze(false)
}

/// runc's `state` JSON of the container, pretty-printed.
pub fn state(root: &Path, id: &str) -> Result<String> {
    let (c, status) = open(root, id, Op::State)?;
    Ok(serde_json::to_string_pretty(&c.state.to_oci(status))?)
}

//! OCI hooks: run a hook binary with the container state on stdin, with
//! its timeout, from the runtime (prestart, createRuntime, poststart,
//! poststop) or from inside the container (createContainer, startContainer).

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

/// The state JSON a hook receives on stdin.
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    annotations: &std::collections::HashMap<String, String>,
) -> String {
    let st = crate::container::state::OciState {
        oci_version: crate::container::state::OCI_VERSION,
        id,
        pid,
        status,
        bundle,
        rootfs: std::path::Path::new(""),
        created: "",
        owner: "",
        annotations,
    };
    let mut v = serde_json::to_value(&st).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("rootfs");
        o.remove("created");
        o.remove("owner");
    }
    v.to_string()
}

/// Run `hooks` in order; the first failure stops and is returned.
pub fn run_all(kind: &str, hooks: &[Hook], state: &str) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state).with_context(|| format!("{kind} hook #{i} ({})", h.path().display()))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &str) -> Result<()> {
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(a0) = args.first() {
        use std::os::unix::process::CommandExt;
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or(&[]) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("exec {}", h.path().display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE).
        let _ = stdin.write_all(state.as_bytes());
    }
    if let Some(t) = h.timeout() {
        if t <= 0 {
            bail!("timeout must be positive, got {t}");
        }
        let pidfd = super::sys::pidfd_open(child.id() as i32).context("pidfd_open hook")?;
        let mut fds = [nix::poll::PollFd::new(
            pidfd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = (t as u64).saturating_mul(1000).min(i32::MAX as u64) as i32;
        let n = loop {
            match nix::poll::poll(
                &mut fds,
                nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.context("poll hook")?,
            }
        };
        if n == 0 {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {t}s");
        }
    }
    let out = child.wait_with_output().context("wait for hook")?;
    if !out.status.success() {
        // What the hook printed, if anything, on the same line.
        let mut msg = out.status.to_string();
        for (name, data) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(data);
            let text = text.trim();
            if !text.is_empty() {
                msg.push_str(&format!(", {name}: {}", text.replace('\n', " | ")));
            }
        }
        bail!("{msg}");
    }
    Ok(())
}

//! `husk exec`: run a new process inside a running container.

use crate::cli::{Cli, ExecArgs};
use crate::error::HuskError;
use crate::lifecycle::ExecRequest;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Capability, LinuxCapabilities, Process};
use std::path::PathBuf;
use std::str::FromStr;

/// runc's exit status for a failed exec, whatever the reason (no such
/// container, not running, a bad process, a missing command, ...); the
/// process' own status otherwise.
const EXEC_FAILED: i32 = 255;

pub fn run(cli: &Cli, a: &ExecArgs) -> Result<i32> {
    exec_in(cli, a).map_err(|e| {
        if e.downcast_ref::<HuskError>()
            .is_some_and(|h| matches!(h, HuskError::Exit(..)))
        {
            return e;
        }
        anyhow::Error::new(HuskError::Exit(EXEC_FAILED, format!("{e:#}")))
    })
}

fn exec_in(cli: &Cli, a: &ExecArgs) -> Result<i32> {
    let r = ExecRequest {
        ignore_paused: a.ignore_paused,
        detach: a.detach,
        console_socket: a.console_socket.as_deref(),
        pid_file: a.pid_file.as_deref(),
        preserve_fds: a.preserve_fds,
        cgroups: &a.cgroup,
    };
    crate::lifecycle::exec(&cli.root, &a.id, &r, |base| build_process(a, base))
}

/// The process to run: `--process FILE` as is, or the container's own
/// process with the command line's overrides (runc's rules).
fn build_process(a: &ExecArgs, base: Option<&Process>) -> Result<Process> {
    if let Some(f) = &a.process {
        let data =
            std::fs::read(f).with_context(|| format!("read process file {}", f.display()))?;
        let parse = || -> Result<Process> {
            let mut raw: serde_json::Value = serde_json::from_slice(&data)?;
            crate::spec::scheduler_flag_names(&mut raw);
            crate::spec::from_value_at(raw, "")
        };
        let mut p = parse().with_context(|| format!("parse process file {}", f.display()))?;
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            bail!("process file {}: args must not be empty", f.display());
        }
        if p.capabilities().is_none() {
            // As runc: without its own, the process gets the container's.
            p.set_capabilities(base.and_then(|b| b.capabilities().clone()));
        }
        return Ok(p);
    }
    if a.command.is_empty() {
        bail!("exec: no command given (arguments after the container id, or --process FILE)");
    }
    let mut p = base.cloned().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    for e in &a.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(PathBuf::from(cwd));
    }
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        user.set_uid(
            uid.parse()
                .with_context(|| format!("--user {u}: uid must be a number"))?,
        );
        if let Some(g) = gid {
            user.set_gid(
                g.parse()
                    .with_context(|| format!("--user {u}: gid must be a number"))?,
            );
        }
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_else(empty_caps);
        for name in &a.cap {
            // oci-spec's names have no CAP_ prefix; accept both forms.
            let up = name.to_ascii_uppercase();
            let bare = up.strip_prefix("CAP_").unwrap_or(&up);
            let cap = Capability::from_str(bare)
                .map_err(|_| anyhow::anyhow!("--cap: unknown capability {name:?}"))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
                caps.ambient().clone(),
            ]
            .iter()
            .enumerate()
            {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(cap);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    2 => caps.set_permitted(Some(s)),
                    _ => caps.set_ambient(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &a.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &a.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    Ok(p)
}

fn empty_caps() -> LinuxCapabilities {
    let mut c = LinuxCapabilities::default();
    c.set_bounding(None);
    c.set_effective(None);
    c.set_permitted(None);
    c.set_inheritable(None);
    c.set_ambient(None);
    c
}

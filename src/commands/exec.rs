//! `husk exec`: run a new process inside a running container.

use crate::cgroups::Cgroup;
use crate::cli::{Cli, ExecArgs};
use crate::container::state::Status;
use crate::container::Container;
use crate::error::HuskError;
use crate::process::exec::{exec, ExecOpts};
use anyhow::{bail, Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
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
    let c = Container::load(&cli.root, &a.id)?;
    match c.status() {
        Status::Created | Status::Running => {}
        Status::Paused if a.ignore_paused => {}
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        Status::Stopped | Status::Creating => {
            return Err(HuskError::WrongState(format!(
                "cannot exec in a stopped container {}: container not running",
                a.id
            ))
            .into())
        }
    }
    let spec = crate::spec::parse_config(&c.state.bundle.join("config.json"))?;
    let linux = spec
        .linux()
        .as_ref()
        .context("linux is missing in the container's config.json")?;
    let process = build_process(a, spec.process().as_ref())?;
    crate::linux::process::validate(&process)?;
    let program = match linux.seccomp() {
        Some(s) => {
            crate::linux::seccomp::validate(s)?;
            Some(crate::linux::seccomp::Program::compile(s)?)
        }
        None => None,
    };
    let terminal = process.terminal().unwrap_or(false);
    let foreground = !a.detach;
    let pair = if terminal && a.console_socket.is_none() && foreground {
        Some(
            nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::Stream,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )
            .context("socketpair for the terminal")?,
        )
    } else {
        None
    };
    let console = match (terminal, &a.console_socket, &pair) {
        (true, Some(p), _) => Some(crate::linux::console::connect(p)?),
        (true, None, Some((_, theirs))) => Some(theirs.try_clone().context("dup terminal socket")?),
        (true, None, None) => bail!("exec --tty: --console-socket is required with --detach"),
        (false, Some(_), _) => {
            bail!("--console-socket is set but no terminal was asked for (use --tty)")
        }
        _ => None,
    };
    let namespaces = linux
        .namespaces()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|n| n.typ())
        .collect();
    let cgroup_dirs = cgroup_dirs(&c.state, &a.cgroup)?;
    let pid = exec(ExecOpts {
        init_pid: c.state.pid,
        namespaces,
        process: &process,
        seccomp: linux.seccomp().as_ref(),
        program: program.as_ref(),
        personality: linux.personality().as_ref(),
        state_json: crate::linux::hooks::state_json(
            &a.id,
            c.status().as_str(),
            c.state.pid,
            &c.state.bundle,
            &c.state.annotations,
        ),
        cgroup_dirs,
        rootless_cgroups: c.state.rootless,
        console,
        preserve_fds: a.preserve_fds,
        subreaper: foreground,
        session_keyring: (!c.state.no_new_keyring).then(|| format!("_ses.{}", a.id)),
    })?;
    if let Some(p) = &a.pid_file {
        crate::process::parent::write_pid_file(p, pid)?;
    }
    if a.detach {
        return Ok(0);
    }
    let master = match &pair {
        Some((ours, _)) => Some(super::run::recv_fd(ours)?),
        None => None,
    };
    drop(pair);
    let mut mask = SigSet::all();
    mask.remove(Signal::SIGKILL);
    mask.remove(Signal::SIGSTOP);
    let old = mask
        .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .context("block signals")?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd")?;
    let code = super::run::wait_init(pid, &sfd, master.as_ref())?;
    let _ = old.thread_set_mask();
    Ok(code)
}

/// The process to run: `--process FILE` as is, or the container's own
/// process with the command line's overrides (runc's rules).
fn build_process(a: &ExecArgs, base: Option<&Process>) -> Result<Process> {
    if let Some(f) = &a.process {
        let data =
            std::fs::read(f).with_context(|| format!("read process file {}", f.display()))?;
        let mut p: Process = serde_json::from_slice(&data)
            .with_context(|| format!("parse process file {}", f.display()))?;
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

/// `--cgroup` values as runc reads them: `PATH` alone (every hierarchy; the
/// only form on cgroup v2) or `CTRL[,CTRL]:PATH`, per controller (v1).
/// Returns (controller, sub-path) pairs; the controller "" means all.
fn parse_sub_cgroups(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for a in args {
        let parts: Vec<&str> = a.splitn(3, ':').collect();
        let (ctrls, sub) = match parts.as_slice() {
            [sub] if args.len() == 1 => ("", *sub),
            [_] => bail!("invalid --cgroup argument: {a} (missing <controller>: prefix)"),
            [ctrls, sub] => (*ctrls, *sub),
            _ => bail!("invalid --cgroup argument: {a}"),
        };
        if sub.split('/').any(|c| c == "..") {
            bail!("invalid --cgroup argument: {a}: {sub} is not a sub cgroup path");
        }
        let sub = sub.trim_start_matches('/').to_string();
        for ctrl in ctrls.split(',') {
            out.retain(|(c, _)| c != ctrl);
            out.push((ctrl.to_string(), sub.clone()));
        }
    }
    Ok(out)
}

/// The container's cgroup directories, or sub-cgroups of it named by
/// `--cgroup`. A controller the container has no hierarchy for is an
/// error (runc: "unknown controller"), and so is every controller on v2,
/// where the one hierarchy has no name. Rootless: only the hierarchies the
/// container has a cgroup in.
fn cgroup_dirs(st: &crate::container::state::State, args: &[String]) -> Result<Vec<PathBuf>> {
    let subs = parse_sub_cgroups(args)?;
    let path = st.cgroup_path.as_str();
    if path.is_empty() {
        if subs.is_empty() {
            return Ok(vec![]);
        }
        bail!("--cgroup: the container has no cgroup (linux.cgroupsPath is empty)");
    }
    let mut cg = Cgroup::of(st);
    let dirs = cg.dirs()?;
    if subs.is_empty() {
        return Ok(dirs);
    }
    // The controllers of each v1 hierarchy, by its mount point.
    let named: Vec<(Vec<String>, PathBuf)> = match cg.layout()? {
        crate::cgroups::Layout::V1 { hierarchies, .. } => hierarchies.clone(),
        crate::cgroups::Layout::V2 { .. } => vec![],
    };
    for (ctrl, _) in &subs {
        if !ctrl.is_empty() && !named.iter().any(|(c, _)| c.contains(ctrl)) {
            bail!(
                "--cgroup: unknown controller {ctrl:?}: the container has no such cgroup hierarchy"
            );
        }
    }
    let mut out = Vec::new();
    for dir in dirs {
        let ctrls: &[String] = named
            .iter()
            .find(|(_, mnt)| dir.starts_with(mnt))
            .map(|(c, _)| c.as_slice())
            .unwrap_or(&[]);
        let sub = subs
            .iter()
            .find(|(c, _)| c.is_empty() || ctrls.contains(c))
            .map(|(_, s)| s);
        match sub {
            Some(s) => {
                let d = dir.join(s);
                if !d.is_dir() {
                    bail!("--cgroup: sub-cgroup {} does not exist", d.display());
                }
                out.push(d);
            }
            None => out.push(dir),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_sub_cgroups;

    fn parse(args: &[&str]) -> Result<Vec<(String, String)>, String> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_sub_cgroups(&v).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn sub_cgroup_arguments_as_runc_reads_them() {
        let p = |c: &str, s: &str| (c.to_string(), s.to_string());
        assert_eq!(parse(&["sub"]).unwrap(), vec![p("", "sub")]);
        assert_eq!(
            parse(&["cpu,memory:a/b", "pids:/c"]).unwrap(),
            vec![p("cpu", "a/b"), p("memory", "a/b"), p("pids", "c")]
        );
        assert!(parse(&["a", "b"])
            .unwrap_err()
            .contains("missing <controller>: prefix"));
        assert!(parse(&["a:b:c"])
            .unwrap_err()
            .contains("invalid --cgroup argument"));
        assert!(parse(&["memory:../x"])
            .unwrap_err()
            .contains("not a sub cgroup"));
    }
}

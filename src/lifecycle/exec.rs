//! `exec`, the lifecycle's side: check the container's status, read its
//! config, and hand the process to process::exec, which joins the
//! container and runs it; in the foreground, wait for it.

use super::foreground;
use super::table::Op;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;
use std::path::{Path, PathBuf};

/// How to run the process (`husk exec`'s flags but the process' own).
pub struct ExecRequest<'a> {
    /// `--ignore-paused`: exec in a paused container too.
    pub ignore_paused: bool,
    pub detach: bool,
    pub console_socket: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    pub preserve_fds: u32,
    /// `--cgroup`: sub-cgroups of the container's to join.
    pub cgroups: &'a [String],
}

/// Run one more process in container `id`. `process` makes it from the
/// container's own `process` (None if its config has none); it is called
/// once the status is checked, so an unknown or stopped container is
/// reported before a bad process. Returns 0 when detached, otherwise the
/// process' exit status.
pub fn exec(
    root: &Path,
    id: &str,
    r: &ExecRequest,
    process: impl FnOnce(Option<&Process>) -> Result<Process>,
) -> Result<i32> {
    let op = if r.ignore_paused {
        Op::ExecIgnorePaused
    } else {
        Op::Exec
    };
    let (c, status) = super::open(root, id, op)?;
    let spec = crate::spec::parse_config(&c.state.bundle.join("config.json"))?;
    let linux = spec
        .linux()
        .as_ref()
        .context("linux is missing in the container's config.json")?;
    let process = process(spec.process().as_ref())?;
    crate::linux::process::validate(&process)?;
    let program = match linux.seccomp() {
        Some(s) => {
            crate::linux::seccomp::validate(s)?;
            Some(crate::linux::seccomp::Program::compile(s)?)
        }
        None => None,
    };
    let terminal = process.terminal().unwrap_or(false);
    let foreground = !r.detach;
    let pair = if terminal && r.console_socket.is_none() && foreground {
        Some(foreground::terminal_pair()?)
    } else {
        None
    };
    let console = match (terminal, r.console_socket, &pair) {
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
    let cgroup_dirs = cgroup_dirs(&c.state, r.cgroups)?;
    let pid = crate::process::exec::exec(crate::process::exec::ExecOpts {
        init_pid: c.state.pid,
        namespaces,
        process: &process,
        seccomp: linux.seccomp().as_ref(),
        program: program.as_ref(),
        personality: linux.personality().as_ref(),
        state_json: crate::linux::hooks::state_json(
            id,
            status.as_str(),
            c.state.pid,
            &c.state.bundle,
            &c.state.annotations,
        ),
        cgroup_dirs,
        rootless_cgroups: c.state.rootless,
        console,
        preserve_fds: r.preserve_fds,
        subreaper: foreground,
        session_keyring: (!c.state.no_new_keyring).then(|| format!("_ses.{id}")),
    })?;
    if let Some(p) = r.pid_file {
        crate::process::parent::write_pid_file(p, pid)?;
    }
    if r.detach {
        return Ok(0);
    }
    let master = match &pair {
        Some((ours, _)) => Some(foreground::recv_fd(ours)?),
        None => None,
    };
    drop(pair);
    let fwd = foreground::Forwarder::new()?;
    fwd.wait(pid, master.as_ref())
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
    let mut cg = st.cgroup();
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

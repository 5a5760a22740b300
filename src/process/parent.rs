//! `create`, husk's side: check the bundle (`spec::Plan`), make the state
//! dir, clone the init, answer its requests, save the state once it is
//! ready. On any error, everything made so far is undone.

use super::sync::{self, recv_msg, send_msg, Msg};
use super::InitArgs;
use crate::cgroups::Cgroup;
use crate::container::state::{self, State};
use crate::container::Container;
use crate::linux::clone::{clone, Forked};
use crate::linux::{console, hooks, namespaces};
use crate::spec::plan::{Inputs, Plan};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxNamespaceType as Ns;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub struct CreateOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
    /// Rootless cgroups (`--rootless`, or auto): see cgroups::Cgroup.
    pub rootless: bool,
    /// `run` in the foreground: become a subreaper so an init that is our
    /// grandchild is still ours to wait for.
    pub subreaper: bool,
    /// A connected socket to use as the console socket (foreground `run`
    /// with a terminal: husk relays the pty itself).
    pub console_fd: Option<&'a OwnedFd>,
}

/// Undo a half-made container: kill the init, remove cgroup and state dir.
struct Cleanup<'a> {
    container: &'a Container,
    cgroup_path: String,
    rootless: bool,
    pids: Vec<i32>,
    /// The pid file, once written.
    pid_file: Option<PathBuf>,
    armed: bool,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for &pid in &self.pids {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
        if !self.cgroup_path.is_empty() {
            let _ = Cgroup::for_create(&self.cgroup_path, self.rootless, true).destroy();
        }
        let _ = self.container.remove_dir();
        if let Some(p) = &self.pid_file {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl CreateOpts<'_> {
    /// What the plan's checks need to know besides the bundle.
    pub fn inputs(&self) -> Inputs<'_> {
        Inputs {
            id: self.id,
            systemd_cgroup: self.systemd_cgroup,
            rootless: self.rootless,
            euid_root: nix::unistd::geteuid().is_root(),
            console_socket: self.console_socket.is_some(),
            console_fd: self.console_fd.is_some(),
        }
    }
}

/// Create the container; returns it with its state saved and the init
/// blocked on exec.fifo. The steps, in order: check (the plan), prepare
/// what needs no undo, make the state dir and save the state, clone the
/// init, write its maps, put it in its cgroup, answer its requests (hooks,
/// seccomp listener), save the final state.
pub fn create(o: &CreateOpts) -> Result<Container> {
    create_from(o, crate::spec::Bundle::load(o.bundle)?)
}

/// [`create`] of a bundle already loaded from `o.bundle` (`run` reads its
/// terminal flag first).
pub fn create_from(o: &CreateOpts, bundle: crate::spec::Bundle) -> Result<Container> {
    // Everything that can be checked is checked before any side effect.
    let plan = Plan::validate(bundle, &o.inputs())?;
    let pre = prepare(o, &plan)?;

    let container = Container::create_dir(o.root, o.id)?;
    let mut cleanup = Cleanup {
        container: &container,
        cgroup_path: String::new(),
        rootless: o.rootless,
        pids: vec![],
        pid_file: None,
        armed: true,
    };
    let mut st = initial_state(o, &plan);
    // Saved before anything else exists, so that a crash from here on
    // leaves a state that `delete --force` can clean up.
    st.save(&container.dir)?;
    cleanup.cgroup_path = plan.cgroup_path.clone();

    let fifo = super::fifo::make(&container.fifo_path())?;

    let (child, sock, direct) = spawn_init(o, &plan, pre, fifo, &container)?;
    cleanup.pids.push(child);
    let init_pid = await_init_pid(&plan, child, direct, &sock, &mut cleanup)?;

    crate::crash_point("create:after-clone");
    crate::fail_point("create:after-clone")?;
    // Record the init before anything else can go wrong, so that a crash
    // from here on leaves a state that `delete --force` can clean up.
    st.pid = init_pid;
    st.pid_start_time = state::proc_stat(init_pid)
        .map(|s| s.1)
        .context("read the init's start time")?;
    st.save(&container.dir)?;
    confine(o, &plan, init_pid)?;
    send_msg(&sock, &Msg::Go(init_pid))?;
    serve_init(o, &plan, &st, init_pid, &sock)?;

    crate::crash_point("create:before-save");
    crate::fail_point("create:before-save")?;
    st.creating = false;
    st.save(&container.dir)?;
    crate::fail_point("create:after-save")?;
    if let Some(p) = o.pid_file {
        write_pid_file(p, init_pid)?;
        cleanup.pid_file = Some(std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
        crate::fail_point("create:after-pidfile")?;
    }
    cleanup.armed = false;
    drop(cleanup);
    let mut container = container;
    container.state = st;
    Ok(container)
}

/// What the parent makes before the state directory, none of which needs
/// undoing: the joined namespaces' fds, the console socket, the compiled
/// seccomp program. Also the last host checks.
struct Prepared {
    joins: Vec<(Ns, OwnedFd)>,
    console: Option<OwnedFd>,
    seccomp: Option<crate::linux::seccomp::Program>,
    idmapped: Vec<Option<OwnedFd>>,
}

fn prepare(o: &CreateOpts, plan: &Plan) -> Result<Prepared> {
    let joins = namespaces::open_joins(plan.namespaces.entries())?;
    // The plan checked that a terminal has a socket, and the reverse.
    let console = match (plan.terminal, o.console_socket, o.console_fd) {
        (true, Some(p), _) => Some(console::connect(p)?),
        (true, None, Some(fd)) => Some(fd.try_clone().context("dup console socket")?),
        _ => None,
    };
    // Compiled now: a profile libseccomp refuses fails before any side
    // effect, and the init only has to load it.
    let seccomp = match plan.linux.seccomp() {
        Some(s) => Some(crate::linux::seccomp::Program::compile(s)?),
        None => None,
    };
    if let Some(dir) = Cgroup::new(&plan.cgroup_path).frozen_before_create()? {
        // The init would be frozen on joining it, and create would hang.
        bail!(
            "container's cgroup is frozen: {} (thaw it, or use another linux.cgroupsPath)",
            dir.display()
        );
    }
    if plan.mount_label_ignored {
        // A label only SELinux would enforce: without it, nothing to do
        // (crun does the same; runc passes it to mount(2) and fails).
        crate::logging::warn(
            "linux.mountLabel is ignored: SELinux is disabled or not supported on this host",
        );
    }
    // The detached idmapped trees: fds too, which need no undo.
    let idmapped = super::rootfs::prepare_idmapped(&plan.mounts)?;
    Ok(Prepared {
        joins,
        console,
        seccomp,
        idmapped,
    })
}

/// The state saved first, with `creating` set and no pid yet.
fn initial_state(o: &CreateOpts, plan: &Plan) -> State {
    State {
        id: o.id.to_string(),
        pid: 0,
        pid_start_time: 0,
        bundle: plan.dir.clone(),
        rootfs: plan.rootfs.clone(),
        created: crate::logging::rfc3339_now(),
        owner: String::new(),
        annotations: plan.annotations(),
        cgroup_path: plan.cgroup_path.clone(),
        shared_pid_ns: !plan.namespaces.has_new(Ns::Pid),
        hooks: plan.spec.hooks().clone(),
        rootless: o.rootless,
        no_new_keyring: o.no_new_keyring,
        creating: true,
    }
}

/// Clone the init (the child runs init::child_main and never returns
/// here). Returns the child's pid, our end of the sync socket, and whether
/// the clone itself made the namespaces (the direct path).
fn spawn_init(
    o: &CreateOpts,
    plan: &Plan,
    pre: Prepared,
    fifo: OwnedFd,
    container: &Container,
) -> Result<(i32, OwnedFd, bool)> {
    let direct = !plan.namespaces.joins_any() && !plan.namespaces.has_new(Ns::Time);
    let flags = if direct {
        plan.namespaces.clone_flags()
    } else {
        0
    };
    if o.subreaper && !direct {
        nix::sys::prctl::set_child_subreaper(true).context("prctl PR_SET_CHILD_SUBREAPER")?;
    }
    let (parent_sock, child_sock) = sync::pair()?;
    let args = InitArgs {
        id: o.id,
        plan,
        fifo: Some(fifo),
        console: pre.console,
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        preserve_fds: o.preserve_fds,
        joins: pre.joins,
        direct,
        lock_fd: container.lock_fd(),
        idmapped: pre.idmapped,
        seccomp: pre.seccomp.as_ref(),
        dumpable_until_maps: plan.namespaces.has_new(Ns::User)
            && crate::linux::rootless::unprivileged(),
    };
    crate::crash_point("create:before-clone");
    crate::fail_point("create:before-clone")?;
    // --- the clone: husk is single-threaded here, as everywhere ---
    let child = match clone(flags)? {
        Forked::Child => {
            drop(parent_sock);
            super::init::child_main(args, child_sock)
        }
        Forked::Parent(pid) => pid,
    };
    drop(args);
    drop(child_sock);
    Ok((child, parent_sock, direct))
}

/// Write the init's id maps (at once on the direct path, when it asks on
/// the other) and learn its pid, which differs from `child` when it forked
/// into a new pid or time namespace.
fn await_init_pid(
    plan: &Plan,
    child: i32,
    direct: bool,
    sock: &OwnedFd,
    cleanup: &mut Cleanup,
) -> Result<i32> {
    let uid_maps = plan.linux.uid_mappings().as_deref().unwrap_or(&[]);
    let gid_maps = plan.linux.gid_mappings().as_deref().unwrap_or(&[]);
    if direct {
        if plan.namespaces.has_new(Ns::User) {
            namespaces::write_id_maps(child, uid_maps, gid_maps)?;
        }
        return Ok(child);
    }
    loop {
        match recv_msg(sock)? {
            Some(Msg::MapsPlease) => {
                namespaces::write_id_maps(child, uid_maps, gid_maps)?;
                send_msg(sock, &Msg::MapsDone)?;
            }
            Some(Msg::Pid(p)) => {
                if p != child {
                    // The intermediate process exits after the fork.
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
                    cleanup.pids = vec![p];
                }
                return Ok(p);
            }
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(m) => bail!("init sync channel: unexpected {m:?}"),
            None => bail!("container init exited during namespace setup"),
        }
    }
}

/// Put the init in its cgroup and apply the limits.
fn confine(o: &CreateOpts, plan: &Plan, init_pid: i32) -> Result<()> {
    let mut cg = Cgroup::for_create(&plan.cgroup_path, o.rootless, plan.explicit_cgroup);
    cg.apply(init_pid)?;
    crate::crash_point("create:after-cgroup");
    crate::fail_point("create:after-cgroup")?;
    // Always: without resources, runc still confines devices to its
    // default list.
    let no_resources = oci_spec::runtime::LinuxResources::default();
    cg.set(plan.linux.resources().as_ref().unwrap_or(&no_resources))?;
    crate::fail_point("create:after-resources")
}

/// Answer the init until it is ready: run prestart and createRuntime hooks
/// once its mounts exist, pass a seccomp listener on to the agent.
fn serve_init(
    o: &CreateOpts,
    plan: &Plan,
    st: &State,
    init_pid: i32,
    sock: &OwnedFd,
) -> Result<()> {
    loop {
        match recv_msg(sock)? {
            Some(Msg::HooksPlease) => {
                if let Some(h) = plan.hooks() {
                    // "created": the runtime environment exists (after step
                    // 2 of the spec's lifecycle), as crun says; runc 1.1
                    // says "creating". They run in the bundle directory, as
                    // with runc and crun.
                    let json =
                        hooks::state_json(o.id, "created", init_pid, &plan.dir, &st.annotations);
                    let cwd = Some(plan.dir.as_path());
                    #[allow(deprecated)]
                    if let Some(list) = h.prestart() {
                        hooks::run_all_in("prestart", list, &json, cwd)?;
                    }
                    if let Some(list) = h.create_runtime() {
                        hooks::run_all_in("createRuntime", list, &json, cwd)?;
                    }
                }
                crate::crash_point("create:after-mounts");
                crate::fail_point("create:after-mounts")?;
                send_msg(sock, &Msg::HooksDone)?;
            }
            Some(Msg::SeccompFd(remote)) => {
                // The init loaded a filter with SCMP_ACT_NOTIFY: pass its
                // listener on to the seccomp agent. The init may go on once
                // we hold a copy; it waits for the agent on notified
                // syscalls anyway.
                let sec = plan
                    .linux
                    .seccomp()
                    .as_ref()
                    .context("init sent a seccomp fd but linux.seccomp is unset")?;
                let fd = crate::linux::seccomp::take_listener_fd(init_pid, remote)?;
                send_msg(sock, &Msg::SeccompFdDone)?;
                let json =
                    hooks::state_json(o.id, "creating", init_pid, &plan.dir, &st.annotations);
                crate::linux::seccomp::send_to_agent(sec, &fd, init_pid, &json)?;
            }
            Some(Msg::Ready) => return Ok(()),
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(m) => bail!("init sync channel: unexpected {m:?}"),
            None => bail!("container init exited before it was ready"),
        }
    }
}

/// The pid file: the decimal pid, no newline, written atomically, and
/// without a temp file left behind if husk is killed meanwhile.
pub fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    let abs: PathBuf =
        std::path::absolute(p).with_context(|| format!("pid file {}", p.display()))?;
    state::write_no_leftover(&abs, pid.to_string().as_bytes(), 0o644)
}

//! `create`, husk's side: validate, make the state dir, clone the init,
//! answer its requests, save the state once it is ready. On any error,
//! everything made so far is undone.

use super::clone::{clone, Forked};
use super::sync::{self, recv_msg, send_msg, Msg};
use super::InitArgs;
use crate::cgroups::{self, Cgroup};
use crate::container::state::{self, State};
use crate::container::Container;
use crate::linux::{console, hooks, namespaces};
use crate::spec::Bundle;
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

/// Create the container; returns it with its state saved and the init
/// blocked on exec.fifo.
pub fn create(o: &CreateOpts) -> Result<Container> {
    // Everything that can be checked is checked before any side effect.
    let bundle = Bundle::load(o.bundle)?;
    crate::container::validate_id(o.id)?;
    let linux = bundle.spec.linux().as_ref().context("linux is missing")?;
    let cgroups_path = linux
        .cgroups_path()
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty());
    let cgroup_path = if o.rootless && cgroups_path.is_none() {
        cgroups::rootless_default_path(o.id, o.systemd_cgroup)?
    } else {
        cgroups::resolve_path(cgroups_path, o.id, o.systemd_cgroup)?
    };
    if !nix::unistd::geteuid().is_root() {
        // runc's checks for a rootless container (euid != 0), before the
        // kernel's EPERM.
        if !bundle.has_ns(Ns::User) {
            bail!("linux.namespaces: a rootless container (husk is not run by root) requires a user namespace (husk spec --rootless writes such a config)");
        }
        if bundle.has_new_ns(Ns::User) {
            if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
                bail!("linux.uidMappings: a rootless container requires at least one uid mapping");
            }
            if linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
                bail!("linux.gidMappings: a rootless container requires at least one gid mapping");
            }
        }
    }
    let joins = namespaces::open_joins(&bundle.namespaces())?;
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let console = match (terminal, o.console_socket, o.console_fd) {
        (true, Some(p), _) => Some(console::connect(p)?),
        (true, None, Some(fd)) => Some(fd.try_clone().context("dup console socket")?),
        (true, None, None) => bail!("process.terminal is true: --console-socket is required"),
        (false, Some(_), _) => bail!("--console-socket is set but process.terminal is false"),
        _ => None,
    };
    // Compiled now: a profile libseccomp refuses fails before any side
    // effect, and the init only has to load it.
    let seccomp = match linux.seccomp() {
        Some(s) => {
            crate::linux::seccomp::validate(s)?;
            Some(crate::linux::seccomp::Program::compile(s)?)
        }
        None => None,
    };
    if let Some(d) = linux.devices() {
        crate::linux::devices::validate(d)?;
    }
    let idmap_plan = crate::linux::idmap::plan(&bundle)?;
    if let Some(dir) = Cgroup::new(&cgroup_path).frozen_before_create()? {
        // The init would be frozen on joining it, and create would hang.
        bail!(
            "container's cgroup is frozen: {} (thaw it, or use another linux.cgroupsPath)",
            dir.display()
        );
    }
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty())
        && !crate::linux::process::selinux_enabled()
    {
        // A label only SELinux would enforce: without it, nothing to do
        // (crun does the same; runc passes it to mount(2) and fails).
        crate::logging::warn(
            "linux.mountLabel is ignored: SELinux is disabled or not supported on this host",
        );
    }

    let container = Container::create_dir(o.root, o.id)?;
    let mut cleanup = Cleanup {
        container: &container,
        cgroup_path: String::new(),
        rootless: o.rootless,
        pids: vec![],
        pid_file: None,
        armed: true,
    };
    let mut st = State {
        id: o.id.to_string(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::logging::rfc3339_now(),
        owner: String::new(),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        cgroup_path: cgroup_path.clone(),
        systemd: o.systemd_cgroup,
        shared_pid_ns: !bundle.has_new_ns(Ns::Pid),
        hooks: bundle.spec.hooks().clone(),
        rootless: o.rootless,
        no_new_keyring: o.no_new_keyring,
        creating: true,
    };
    // Saved before anything else exists, so that a crash from here on
    // leaves a state that `delete --force` can clean up.
    st.save(&container.dir)?;
    cleanup.cgroup_path = cgroup_path.clone();

    let fifo_path = container.fifo_path();
    nix::unistd::mkfifo(
        &fifo_path,
        nix::sys::stat::Mode::from_bits_truncate(crate::container::FIFO_MODE),
    )
    .with_context(|| format!("mkfifo {}", fifo_path.display()))?;
    // O_RDWR: the init can then block in read() until `start` writes, and
    // `start`'s O_WRONLY|O_NONBLOCK open fails with ENXIO if the init died.
    let fifo: OwnedFd = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {}", fifo_path.display()))?;

    let direct = joins.is_empty() && !bundle.has_new_ns(Ns::Time);
    let mut flags = 0;
    if direct {
        let new_user = bundle.has_new_ns(Ns::User);
        for ns in bundle.namespaces() {
            // The cgroup namespace is unshared by the init once it is in its
            // cgroup; with a new user namespace, the ipc one once the init is
            // root there (see init::run).
            if ns.typ != Ns::Cgroup && !(new_user && ns.typ == Ns::Ipc) {
                flags |= ns.clone_flag();
            }
        }
    }
    if o.subreaper && !direct {
        nix::sys::prctl::set_child_subreaper(true).context("prctl PR_SET_CHILD_SUBREAPER")?;
    }
    let (parent_sock, child_sock) = sync::pair()?;
    let idmapped = crate::linux::idmap::prepare(&bundle, &idmap_plan)?;
    let args = InitArgs {
        id: o.id,
        bundle: &bundle,
        cgroup_path: &cgroup_path,
        fifo: Some(fifo),
        console,
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        preserve_fds: o.preserve_fds,
        joins,
        direct,
        lock_fd: container.lock_fd(),
        idmapped,
        seccomp: seccomp.as_ref(),
        dumpable_until_maps: bundle.has_new_ns(Ns::User)
            && (!nix::unistd::geteuid().is_root() || crate::linux::rootless::running_in_userns()),
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
    cleanup.pids.push(child);

    let uid_maps = linux.uid_mappings().clone().unwrap_or_default();
    let gid_maps = linux.gid_mappings().clone().unwrap_or_default();
    let init_pid = if direct {
        if bundle.has_new_ns(Ns::User) {
            namespaces::write_id_maps(child, &uid_maps, &gid_maps)?;
        }
        child
    } else {
        loop {
            match recv_msg(&parent_sock)? {
                Some(Msg::MapsPlease) => {
                    namespaces::write_id_maps(child, &uid_maps, &gid_maps)?;
                    send_msg(&parent_sock, &Msg::MapsDone)?;
                }
                Some(Msg::Pid(p)) => {
                    if p != child {
                        // The intermediate process exits after the fork.
                        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
                        cleanup.pids = vec![p];
                    }
                    break p;
                }
                Some(Msg::Error(e)) => bail!("{e}"),
                Some(m) => bail!("init sync channel: unexpected {m:?}"),
                None => bail!("container init exited during namespace setup"),
            }
        }
    };

    crate::crash_point("create:after-clone");
    crate::fail_point("create:after-clone")?;
    // Record the init before anything else can go wrong, so that a crash
    // from here on leaves a state that `delete --force` can clean up.
    st.pid = init_pid;
    st.pid_start_time = state::proc_stat(init_pid)
        .map(|s| s.1)
        .context("read the init's start time")?;
    st.save(&container.dir)?;
    let mut cg = Cgroup::for_create(&cgroup_path, o.rootless, cgroups_path.is_some());
    cg.apply(init_pid)?;
    crate::crash_point("create:after-cgroup");
    crate::fail_point("create:after-cgroup")?;
    // Always: without resources, runc still confines devices to its
    // default list.
    let no_resources = oci_spec::runtime::LinuxResources::default();
    cg.set(linux.resources().as_ref().unwrap_or(&no_resources))?;
    crate::fail_point("create:after-resources")?;
    send_msg(&parent_sock, &Msg::Go(init_pid))?;

    loop {
        match recv_msg(&parent_sock)? {
            Some(Msg::HooksPlease) => {
                if let Some(h) = bundle.spec.hooks() {
                    // "created": the runtime environment exists (after step
                    // 2 of the spec's lifecycle), as crun says; runc 1.1
                    // says "creating". They run in the bundle directory, as
                    // with runc and crun.
                    let json =
                        hooks::state_json(o.id, "created", init_pid, &bundle.dir, &st.annotations);
                    let cwd = Some(bundle.dir.as_path());
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
                send_msg(&parent_sock, &Msg::HooksDone)?;
            }
            Some(Msg::SeccompFd(remote)) => {
                // The init loaded a filter with SCMP_ACT_NOTIFY: pass its
                // listener on to the seccomp agent. The init may go on once
                // we hold a copy; it waits for the agent on notified
                // syscalls anyway.
                let sec = linux
                    .seccomp()
                    .as_ref()
                    .context("init sent a seccomp fd but linux.seccomp is unset")?;
                let fd = crate::linux::seccomp::take_listener_fd(init_pid, remote)?;
                send_msg(&parent_sock, &Msg::SeccompFdDone)?;
                let json =
                    hooks::state_json(o.id, "creating", init_pid, &bundle.dir, &st.annotations);
                crate::linux::seccomp::send_to_agent(sec, &fd, init_pid, &json)?;
            }
            Some(Msg::Ready) => break,
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(m) => bail!("init sync channel: unexpected {m:?}"),
            None => bail!("container init exited before it was ready"),
        }
    }

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

/// The pid file: the decimal pid, no newline, written atomically, and
/// without a temp file left behind if husk is killed meanwhile.
pub fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    let abs: PathBuf =
        std::path::absolute(p).with_context(|| format!("pid file {}", p.display()))?;
    state::write_no_leftover(&abs, pid.to_string().as_bytes(), 0o644)
}

//! The container's init, from the clone to execve, in the order runc, crun
//! and youki share. Runs in the child: errors are sent to the parent as
//! `Error(chain)` and the child exits; nothing here may panic.

use super::rootfs;
use super::sync::{self, expect, send_msg, Msg};
use super::InitArgs;
use crate::linux::{console, devices, hooks, namespaces, paths, process, stdio, sys};
use crate::spec::Plan;
use anyhow::{bail, Context, Result};
use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::LinuxNamespaceType as Ns;
use std::os::fd::{AsFd, OwnedFd};

/// Entry point of the cloned child. Never returns.
pub fn child_main(args: InitArgs, sock: OwnedFd) -> ! {
    // Not dumpable while we are a copy of husk inside the container's
    // namespaces: its processes cannot open /proc/PID/exe of this process
    // to overwrite the husk binary (CVE-2019-5736). execve resets it.
    // Rootless, only once our id maps are written: the /proc files of a
    // process that is not dumpable belong to root, and an unprivileged
    // parent could not write them (runc does the same).
    if !args.dumpable_until_maps {
        let _ = nix::sys::prctl::set_dumpable(false);
    }
    if let Some(fd) = args.lock_fd {
        // SAFETY: the fd is our inherited copy of the parent's lock on the
        // state directory; nothing in the child uses it.
        unsafe { libc::close(fd) };
    }
    match run(args, &sock) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = send_msg(&sock, &Msg::Error(format!("{e:#}")));
            sys::exit_now(1)
        }
    }
}

enum Never {}

/// Stage 1 of the indirect path: join namespaces, unshare the new ones,
/// and fork again if a pid or time namespace must take effect. Returns in
/// the process that goes on to be the container's init.
fn enter_namespaces(args: &mut InitArgs, sock: &OwnedFd) -> Result<()> {
    let plan = args.plan;
    let ns = &plan.namespaces;
    let joins = std::mem::take(&mut args.joins);
    let mut joined_mnt = None;
    for (typ, fd) in &joins {
        match typ {
            Ns::Mount => joined_mnt = Some(fd),
            Ns::User => {
                setns(fd.as_fd(), namespaces::flag(*typ))
                    .with_context(|| format!("setns {typ} (linux.namespaces)"))?;
                // Become root of the joined user namespace.
                let _ = nix::unistd::setresgid(0.into(), 0.into(), 0.into());
                let _ = nix::unistd::setresuid(0.into(), 0.into(), 0.into());
            }
            _ => setns(fd.as_fd(), namespaces::flag(*typ))
                .with_context(|| format!("setns {typ} (linux.namespaces)"))?,
        }
    }
    if ns.has_new(Ns::User) {
        unshare(CloneFlags::CLONE_NEWUSER).context("unshare user namespace")?;
        send_msg(sock, &Msg::MapsPlease)?;
        expect(sock, Msg::MapsDone)?;
        become_root()?;
    }
    if let Some(fd) = joined_mnt {
        setns(fd.as_fd(), CloneFlags::CLONE_NEWNS).context("setns mnt (linux.namespaces)")?;
    }
    unshare(ns.unshare_flags()).context("unshare namespaces")?;
    if ns.has_new(Ns::Time) {
        write_time_offsets(plan)?;
    }
    let must_fork = ns.has(Ns::Pid) || ns.has(Ns::Time);
    if !must_fork {
        send_msg(sock, &Msg::Pid(nix::unistd::getpid().as_raw()))?;
        return Ok(());
    }
    match crate::linux::clone::clone(0)? {
        crate::linux::clone::Forked::Child => Ok(()),
        crate::linux::clone::Forked::Parent(pid) => {
            // The parent reaps us; the grandchild is re-parented to husk
            // (a subreaper) or to whoever adopts it.
            let _ = send_msg(sock, &Msg::Pid(pid));
            sys::exit_now(0)
        }
    }
}

/// uid and gid 0 in the new user namespace, whose maps the parent wrote.
fn become_root() -> Result<()> {
    nix::unistd::setresgid(0.into(), 0.into(), 0.into())
        .context("setresgid 0 in the new user namespace")?;
    nix::unistd::setresuid(0.into(), 0.into(), 0.into())
        .context("setresuid 0 in the new user namespace")?;
    Ok(())
}

fn write_time_offsets(plan: &Plan) -> Result<()> {
    let Some(offs) = plan.linux.time_offsets() else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, o) in offs {
        text.push_str(&format!(
            "{clock} {} {}\n",
            o.secs().unwrap_or(0),
            o.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text)
        .context("write timens_offsets (linux.timeOffsets)")
}

/// The init's steps, in order; each is a function below.
fn run(mut args: InitArgs, sock: &OwnedFd) -> Result<Never> {
    let plan = args.plan;
    if !args.direct {
        enter_namespaces(&mut args, sock)?;
    }
    // The parent has written our id maps and put us in our cgroup.
    let host_pid = match sync::recv_msg(sock)? {
        Some(Msg::Go(p)) => p,
        Some(Msg::Error(e)) => bail!("{e}"),
        other => bail!("init sync channel: expected Go, got {other:?}"),
    };
    if args.dumpable_until_maps {
        nix::sys::prctl::set_dumpable(false).context("prctl PR_SET_DUMPABLE")?;
    }
    // Also when husk itself runs in one (rootless Podman): no mknod, sysfs
    // only with a network namespace of the user namespace, locked flags.
    let in_userns = plan.namespaces.has(Ns::User) || crate::linux::rootless::running_in_userns();
    finish_namespaces(&args)?;
    // Without a mount namespace of its own (new or joined) the container
    // shares the runtime's: its mounts are made there, inside the rootfs,
    // and it is chrooted into the rootfs. The propagation of the runtime's
    // mounts is left alone (the plan refused rootfsPropagation,
    // root.readonly and masked or read-only paths for such a container).
    let own_mntns = plan.namespaces.has(Ns::Mount);
    make_mounts(&mut args, in_userns, own_mntns)?;

    // prestart + createRuntime run in the parent, now that mounts exist.
    send_msg(sock, &Msg::HooksPlease)?;
    expect(sock, Msg::HooksDone)?;
    if let Some(h) = plan.hooks().and_then(|h| h.create_container().as_ref()) {
        // They run in the container's namespaces before pivot_root, with
        // the rootfs (as the host path names it) as their cwd, as runc's.
        nix::unistd::chdir(&plan.rootfs).with_context(|| {
            format!(
                "chdir {} (for createContainer hooks)",
                plan.rootfs.display()
            )
        })?;
        // "created", as prestart's and createRuntime's state.
        let st = hooks::state_json(args.id, "created", host_pid, &plan.dir, &plan.annotations());
        hooks::run_all("createContainer", h, &st)?;
    }

    enter_rootfs(&mut args, own_mntns)?;
    set_identity(plan, in_userns, own_mntns)?;

    // Also makes every fd above stdio and the preserved ones close-on-exec.
    let (exec, late_filter) = super::setup::apply(
        &plan.process,
        plan.linux.personality().as_ref(),
        args.seccomp,
        args.preserve_fds,
        sock,
    )?;
    if let Some(f) = late_filter {
        // With no_new_privs, now, before `create` returns: the filter is in
        // force while the startContainer hooks run, as with runc. It must
        // allow what the init does until execve (write, read, and what
        // running a hook takes), as runc's must.
        f.load()?;
    }

    send_msg(sock, &Msg::Ready)?;
    wait_start_and_exec(&mut args, host_pid, exec)
}

/// The namespaces that are made late: on the direct path, root in the new
/// user namespace and then the ipc one; the cgroup one (we are in our
/// cgroup now); the session keyring; the oom score.
fn finish_namespaces(args: &InitArgs) -> Result<()> {
    let plan = args.plan;
    let ns = &plan.namespaces;
    if args.direct && ns.has_new(Ns::User) {
        become_root()?;
        if ns.has_new(Ns::Ipc) {
            // Now, not at the clone: the ipc namespace's mqueue root
            // (/dev/mqueue) belongs to whoever made it, and at the clone we
            // were nobody (65534) in the new user namespace. The indirect
            // path unshares it as root too.
            unshare(CloneFlags::CLONE_NEWIPC).context("unshare ipc namespace")?;
        }
    }
    if ns.has_new(Ns::Cgroup) {
        // After the parent moved us into the container's cgroup, so that
        // becomes the namespace's root.
        unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare cgroup namespace")?;
    }
    if !args.no_new_keyring {
        // EDQUOT/ENOSYS on some hosts: like runc, carry on without one.
        let _ = sys::join_session_keyring(&format!("_ses.{}", args.id));
    }
    if let Some(adj) = plan.process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .context("write oom_score_adj (process.oomScoreAdj)")?;
    }
    Ok(())
}

/// The root filesystem: propagation, the spec's mounts (as the plan parsed
/// them), device nodes and /dev's symlinks.
fn make_mounts(args: &mut InitArgs, in_userns: bool, own_mntns: bool) -> Result<()> {
    let plan = args.plan;
    let ctx = rootfs::RootfsCtx {
        rootfs: &plan.rootfs,
        cgroup_path: &plan.cgroup_path,
        in_userns,
        new_cgroupns: plan.namespaces.has_new(Ns::Cgroup),
        // None without SELinux (create warned).
        mount_label: plan.mount_label.as_deref(),
    };
    if own_mntns {
        rootfs::prepare(&ctx, plan.rootfs_propagation)?;
    }
    let root = nix::fcntl::open(
        &plan.rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open rootfs {}", plan.rootfs.display()))?;
    rootfs::mount_all(&ctx, root.as_fd(), &plan.mounts, &args.idmapped)?;
    args.idmapped.clear();
    if !plan.dev_bound {
        devices::create_all(
            root.as_fd(),
            plan.linux.devices().as_deref().unwrap_or(&[]),
            in_userns,
        )?;
    }
    devices::symlinks(root.as_fd(), plan.has_devpts)
}

/// Into the rootfs (pivot_root, or a chroot without a mount namespace of
/// its own), then stdio, the cwd and the console.
fn enter_rootfs(args: &mut InitArgs, own_mntns: bool) -> Result<()> {
    let plan = args.plan;
    if own_mntns {
        rootfs::enter(&plan.rootfs, args.no_pivot)?;
    } else {
        // No pivot_root (nor --no-pivot's move over /) in a namespace the
        // host uses: a chroot, as runc and crun do.
        nix::unistd::chdir(&plan.rootfs)
            .with_context(|| format!("chdir {}", plan.rootfs.display()))?;
        nix::unistd::chroot(".").context("chroot into the rootfs (no mount namespace)")?;
        nix::unistd::chdir("/").context("chdir /")?;
    }
    stdio::reopen_dev_null()?;
    let proc_ = &plan.process;
    process::create_cwd(proc_)?;
    if plan.terminal {
        let size = proc_
            .console_size()
            .map(|s| (s.height() as u16, s.width() as u16));
        console::setup(args.console.as_ref(), size)?;
    }
    args.console = None;
    Ok(())
}

/// Hostname, domainname, sysctls; then read-only and masked paths and the
/// root's propagation and read-only flag.
fn set_identity(plan: &Plan, in_userns: bool, own_mntns: bool) -> Result<()> {
    let spec = &plan.spec;
    if let Some(h) = spec.hostname().as_ref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).context("sethostname (hostname)")?;
    }
    if let Some(d) = spec.domainname().as_ref().filter(|d| !d.is_empty()) {
        std::fs::write("/proc/sys/kernel/domainname", d).context("set domainname (domainname)")?;
    }
    if let Some(sysctl) = plan.linux.sysctl() {
        // Checked against the namespaces by the plan; written without
        // leaving /proc/sys.
        crate::linux::sysctl::write_all(sysctl, in_userns)?;
    }
    if own_mntns {
        paths::readonly(plan.linux.readonly_paths().as_deref().unwrap_or(&[]))?;
        paths::mask(plan.linux.masked_paths().as_deref().unwrap_or(&[]))?;
        // Last: an "unbindable" propagation would refuse the binds above.
        rootfs::finalize(plan.rootfs_propagation, plan.root_readonly)?;
    }
    Ok(())
}

/// Wait for `start`, run the startContainer hooks, execve.
fn wait_start_and_exec(args: &mut InitArgs, host_pid: i32, exec: process::Exec) -> Result<Never> {
    let plan = args.plan;
    // Wait for `start`, keeping the fifo open until execve; report a
    // failure through it (the protocol: process::fifo).
    let fifo = args.fifo.take();
    if let Some(f) = &fifo {
        super::fifo::wait_for_start(f)?;
    }
    let fail = |msg: String| -> ! {
        if let Some(f) = &fifo {
            super::fifo::report_failure(f, &msg);
        }
        eprintln!("husk: {msg}");
        sys::exit_now(1)
    };
    if let Some(h) = plan.hooks().and_then(|h| h.start_container().as_ref()) {
        // The user process has not run yet: the container is "created".
        let st = hooks::state_json(args.id, "created", host_pid, &plan.dir, &plan.annotations());
        if let Err(e) = hooks::run_all("startContainer", h, &st) {
            fail(format!("{e:#}"));
        }
    }
    let err = sys::execve(&exec.path, &exec.argv, &exec.envp);
    if let Some(f) = &fifo {
        super::fifo::report_failure(f, &format!("exec {:?}: {err}", exec.path));
    }
    eprintln!("husk: exec {:?}: {err}", exec.path);
    sys::exit_now(if err.raw_os_error() == Some(libc::ENOENT) {
        127
    } else {
        126
    })
}

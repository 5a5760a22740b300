//! The container's init, from the clone to execve, in the order runc, crun
//! and youki share. Runs in the child: errors are sent to the parent as
//! `Error(chain)` and the child exits; nothing here may panic.

use super::sync::{self, expect, send_msg, Msg};
use super::InitArgs;
use crate::linux::{
    console, devices, hooks, namespaces, paths, process, resolve, rootfs, stdio, sys,
};
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
    let b = args.bundle;
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
    if b.has_new_ns(Ns::User) {
        unshare(CloneFlags::CLONE_NEWUSER).context("unshare user namespace")?;
        send_msg(sock, &Msg::MapsPlease)?;
        expect(sock, Msg::MapsDone)?;
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .context("setresgid 0 in the new user namespace")?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .context("setresuid 0 in the new user namespace")?;
    }
    if let Some(fd) = joined_mnt {
        setns(fd.as_fd(), CloneFlags::CLONE_NEWNS).context("setns mnt (linux.namespaces)")?;
    }
    let mut flags = CloneFlags::empty();
    for ns in b.namespaces() {
        if ns.path.is_none() && !matches!(ns.typ, Ns::User | Ns::Cgroup) {
            flags |= namespaces::flag(ns.typ);
        }
    }
    unshare(flags).context("unshare namespaces")?;
    if b.has_new_ns(Ns::Time) {
        write_time_offsets(b)?;
    }
    let must_fork = b.has_ns(Ns::Pid) || b.has_ns(Ns::Time);
    if !must_fork {
        send_msg(sock, &Msg::Pid(nix::unistd::getpid().as_raw()))?;
        return Ok(());
    }
    match super::clone::clone(0)? {
        super::clone::Forked::Child => Ok(()),
        super::clone::Forked::Parent(pid) => {
            // The parent reaps us; the grandchild is re-parented to husk
            // (a subreaper) or to whoever adopts it.
            let _ = send_msg(sock, &Msg::Pid(pid));
            sys::exit_now(0)
        }
    }
}

fn write_time_offsets(b: &crate::spec::Bundle) -> Result<()> {
    let Some(offs) = b
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
    else {
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

fn run(mut args: InitArgs, sock: &OwnedFd) -> Result<Never> {
    let b = args.bundle;
    let spec = &b.spec;
    let linux = spec.linux().as_ref().context("linux is missing")?;
    let proc_ = spec.process().as_ref().context("process is missing")?;

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
    let in_userns = b.has_ns(Ns::User) || crate::linux::rootless::running_in_userns();
    if args.direct && b.has_new_ns(Ns::User) {
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .context("setresgid 0 in the new user namespace")?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .context("setresuid 0 in the new user namespace")?;
        if b.has_new_ns(Ns::Ipc) {
            // Now, not at the clone: the ipc namespace's mqueue root
            // (/dev/mqueue) belongs to whoever made it, and at the clone we
            // were nobody (65534) in the new user namespace. The indirect
            // path unshares it as root too.
            unshare(CloneFlags::CLONE_NEWIPC).context("unshare ipc namespace")?;
        }
    }
    if b.has_new_ns(Ns::Cgroup) {
        // After the parent moved us into the container's cgroup, so that
        // becomes the namespace's root.
        unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare cgroup namespace")?;
    }
    if !args.no_new_keyring {
        // EDQUOT/ENOSYS on some hosts: like runc, carry on without one.
        let _ = sys::join_session_keyring(&format!("_ses.{}", args.id));
    }
    if let Some(adj) = proc_.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .context("write oom_score_adj (process.oomScoreAdj)")?;
    }

    // Root filesystem.
    let ctx = rootfs::RootfsCtx {
        rootfs: &b.rootfs,
        cgroup_path: args.cgroup_path,
        in_userns,
        new_cgroupns: b.has_new_ns(Ns::Cgroup),
        // Ignored without SELinux (create warned).
        mount_label: linux
            .mount_label()
            .as_deref()
            .filter(|l| !l.is_empty() && crate::linux::process::selinux_enabled()),
    };
    let propagation = linux.rootfs_propagation().as_deref();
    // Without a mount namespace of its own (new or joined) the container
    // shares the runtime's: its mounts are made there, inside the rootfs,
    // and it is chrooted into the rootfs. The propagation of the runtime's
    // mounts is left alone (Bundle::validate refused rootfsPropagation,
    // root.readonly and masked or read-only paths for such a container).
    let own_mntns = b.has_ns(Ns::Mount);
    if own_mntns {
        rootfs::prepare(&ctx, propagation)?;
    }
    let root = nix::fcntl::open(
        &b.rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open rootfs {}", b.rootfs.display()))?;
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    rootfs::mount_all(&ctx, root.as_fd(), mounts, &args.idmapped)?;
    args.idmapped.clear();
    // Compared cleaned: `/tmp/../dev` is /dev too.
    let dev_bound = mounts.iter().any(|m| {
        resolve::clean(m.destination()) == std::path::Path::new("/dev")
            && m.options()
                .as_ref()
                .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
    });
    if !dev_bound {
        devices::create_all(
            root.as_fd(),
            linux.devices().as_deref().unwrap_or(&[]),
            in_userns,
        )?;
    }
    let has_devpts = mounts
        .iter()
        .any(|m| resolve::clean(m.destination()) == std::path::Path::new("/dev/pts"));
    devices::symlinks(root.as_fd(), has_devpts)?;
    drop(root);

    // prestart + createRuntime run in the parent, now that mounts exist.
    send_msg(sock, &Msg::HooksPlease)?;
    expect(sock, Msg::HooksDone)?;
    let annotations = spec.annotations().clone().unwrap_or_default();
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        // They run in the container's namespaces before pivot_root, with
        // the rootfs (as the host path names it) as their cwd, as runc's.
        nix::unistd::chdir(&b.rootfs)
            .with_context(|| format!("chdir {} (for createContainer hooks)", b.rootfs.display()))?;
        // "created", as prestart's and createRuntime's state.
        let st = hooks::state_json(args.id, "created", host_pid, &b.dir, &annotations);
        hooks::run_all("createContainer", h, &st)?;
    }

    if own_mntns {
        rootfs::enter(&b.rootfs, args.no_pivot)?;
    } else {
        // No pivot_root (nor --no-pivot's move over /) in a namespace the
        // host uses: a chroot, as runc and crun do.
        nix::unistd::chdir(&b.rootfs).with_context(|| format!("chdir {}", b.rootfs.display()))?;
        nix::unistd::chroot(".").context("chroot into the rootfs (no mount namespace)")?;
        nix::unistd::chdir("/").context("chdir /")?;
    }
    stdio::reopen_dev_null()?;
    process::create_cwd(proc_)?;

    if proc_.terminal().unwrap_or(false) {
        let size = proc_
            .console_size()
            .map(|s| (s.height() as u16, s.width() as u16));
        console::setup(args.console.as_ref(), size)?;
    }
    args.console = None;

    if let Some(h) = spec.hostname().as_ref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).context("sethostname (hostname)")?;
    }
    if let Some(d) = spec.domainname().as_ref().filter(|d| !d.is_empty()) {
        std::fs::write("/proc/sys/kernel/domainname", d).context("set domainname (domainname)")?;
    }
    if let Some(sysctl) = linux.sysctl() {
        // Checked against the namespaces by Bundle::validate; written
        // without leaving /proc/sys.
        crate::linux::sysctl::write_all(sysctl, in_userns)?;
    }
    if own_mntns {
        paths::readonly(linux.readonly_paths().as_deref().unwrap_or(&[]))?;
        paths::mask(linux.masked_paths().as_deref().unwrap_or(&[]))?;
        // Last: an "unbindable" propagation would refuse the binds above.
        rootfs::finalize(
            propagation,
            spec.root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
        )?;
    }

    // Also makes every fd above stdio and the preserved ones close-on-exec.
    let (exec, late_filter) = super::setup::apply(
        proc_,
        linux.personality().as_ref(),
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
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        // The user process has not run yet: the container is "created".
        let st = hooks::state_json(args.id, "created", host_pid, &b.dir, &annotations);
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

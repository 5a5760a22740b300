//! The container's root filesystem: propagation, the spec's mounts with
//! destinations resolved inside the rootfs, pivot_root, read-only root.
//!
//! Every destination is resolved inside the rootfs (see `resolve`: `..`
//! and symlinks never leave it, missing mount points are created there)
//! and mounted through its /proc/self/fd path, so a symlink in the rootfs
//! (or one swapped in during setup) can never send a mount outside it
//! (CVE-2021-30465). proc and sysfs go only on real directories, and
//! nothing but the files lxcfs emulates may be mounted inside /proc.

use crate::linux::mountinfo;
use crate::linux::mountopts::MountOpts;
use crate::linux::paths::locked_flags;
use crate::linux::resolve::{self, Kind};
use crate::linux::sys;
use crate::spec::plan::MountPlan;
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

const NONE: Option<&str> = None;

pub struct RootfsCtx<'a> {
    pub rootfs: &'a Path,
    pub cgroup_path: &'a str,
    pub in_userns: bool,
    pub new_cgroupns: bool,
    /// `linux.mountLabel`: SELinux context of tmpfs, devpts and mqueue mounts.
    pub mount_label: Option<&'a str>,
}

/// Make our copy of the host's mounts slave (or what rootfsPropagation
/// says: `propagation`, as the plan parsed it), so nothing we mount
/// propagates back to the host, and bind the rootfs onto itself so it is a
/// mount point for pivot_root.
pub fn prepare(ctx: &RootfsCtx, propagation: Option<MsFlags>) -> Result<()> {
    let flag = propagation.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(NONE, "/", NONE, flag, NONE).context("make / slave (rootfsPropagation)")?;
    make_rootfs_mount_private(ctx.rootfs)?;
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .with_context(|| format!("bind rootfs {} onto itself", ctx.rootfs.display()))?;
    Ok(())
}

/// With a shared rootfsPropagation, the mount that holds the rootfs (the
/// rootfs itself when it is a mount point, as an overlay snapshot is) is
/// still a peer of the host's: the bind of the rootfs onto itself would
/// join that peer group, every mount of the container would appear on the
/// host, and pivot_root refuses a new root whose parent mount is shared.
/// Make that mount private (in our namespace only), as runc does; the bind
/// below, a copy of it, then starts private too. rootfsPropagation is
/// applied to the container's / after the pivot.
fn make_rootfs_mount_private(rootfs: &Path) -> Result<()> {
    let mounts = mountinfo::read()?;
    // The deepest mount point at or above the rootfs; of several stacked
    // there, the last (the top one, which path lookup finds).
    let holder = mounts
        .iter()
        .filter(|m| rootfs.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())
        .with_context(|| format!("no mount holds the rootfs {}", rootfs.display()))?;
    // Unbindable (rootfsPropagation "unbindable" or "runbindable" on /)
    // would refuse the bind below as much as shared would spoil it.
    if !holder.is_shared() && !holder.is_unbindable() {
        return Ok(());
    }
    mount(NONE, &holder.mount_point, NONE, MsFlags::MS_PRIVATE, NONE).with_context(|| {
        format!(
            "make {} (the mount holding the rootfs) private",
            holder.mount_point.display()
        )
    })
}

/// Mount every entry of `mounts` (as the plan parsed them) inside the
/// rootfs. `idmapped[i]` is the detached idmapped tree made by the parent
/// for `mounts[i]`, if any.
pub fn mount_all(
    ctx: &RootfsCtx,
    root: BorrowedFd,
    mounts: &[MountPlan],
    idmapped: &[Option<OwnedFd>],
) -> Result<()> {
    for (i, m) in mounts.iter().enumerate() {
        let tree = idmapped.get(i).and_then(|t| t.as_ref());
        mount_one(ctx, root, m, tree)
            .with_context(|| format!("mount {}", m.destination().display()))?;
    }
    Ok(())
}

/// Where runc's checkProcMount lets a mount go inside /proc: the files
/// lxcfs emulates.
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// runc's checkProcMount, on the resolved destination (so neither `..`
/// nor a symlink gets around it): on /proc itself only a procfs (a new
/// one, or a bind of one), inside /proc only PROC_ALLOWED. A mount over
/// /proc's files could hide what maskedPaths masks or replace the
/// files the kernel's LSM interfaces are written through.
fn check_proc_mount(
    root: BorrowedFd,
    target: &OwnedFd,
    typ: &str,
    source: Option<&Path>,
) -> Result<()> {
    let at = resolve::container_path(root, target.as_fd())?;
    if !at.starts_with("/proc") {
        return Ok(());
    }
    if at == Path::new("/proc") {
        let procfs = |p: &Path| {
            nix::sys::statfs::statfs(p)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        };
        if typ == "proc" || source.is_some_and(procfs) {
            return Ok(());
        }
        bail!("only a procfs may be mounted on /proc (the destination resolves to /proc)");
    }
    if PROC_ALLOWED.iter().any(|a| at == Path::new(a)) {
        return Ok(());
    }
    bail!(
        "{} is inside /proc, where only {} may be mounted",
        at.display(),
        PROC_ALLOWED.join(", ")
    )
}

fn mount_one(
    ctx: &RootfsCtx,
    root: BorrowedFd,
    mp: &MountPlan,
    tree: Option<&OwnedFd>,
) -> Result<()> {
    let (m, opts, bind) = (&mp.mount, &mp.opts, mp.bind);
    let typ = mp.typ();
    let dest = m.destination();
    // procfs and sysfs: never where a symlink points (CVE-2023-27561).
    let strict = !bind && (typ == "proc" || typ == "sysfs");
    let (target, kind, source) = if bind {
        let source = m.source().as_ref().context("bind mount without source")?;
        let md = std::fs::metadata(source)
            .with_context(|| format!("bind source {}", source.display()))?;
        let kind = if md.is_dir() { Kind::Dir } else { Kind::File };
        let target = resolve::open_or_create(root, dest, kind)?;
        (target, kind, Some(source.as_path()))
    } else if strict {
        let target = resolve::open_dir_no_symlinks(root, dest)
            .with_context(|| format!("{typ} must be mounted on an ordinary directory"))?;
        (target, Kind::Dir, None)
    } else {
        (
            resolve::open_or_create(root, dest, Kind::Dir)?,
            Kind::Dir,
            None,
        )
    };
    check_proc_mount(root, &target, typ, source)?;
    if bind {
        return bind_mount(ctx, root, m, opts, tree, target, kind);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        drop(target);
        return mount_cgroup(ctx, root, m, opts);
    }
    if opts.tmpcopyup && typ == "tmpfs" {
        return tmpcopyup(root, dest, &target, opts);
    }
    let source = m
        .source()
        .as_ref()
        .map(|s| s.as_path())
        .unwrap_or(Path::new(typ));
    let tpath = sys::fd_path(&target);
    let mut data_owned = opts.data.clone();
    if let (Some(label), "tmpfs" | "devpts" | "mqueue") = (ctx.mount_label, typ) {
        if !data_owned.is_empty() {
            data_owned.push(',');
        }
        data_owned.push_str(&format!("context=\"{label}\""));
    }
    let data = (!data_owned.is_empty()).then_some(data_owned.as_str());
    let flags = opts.flags & !MsFlags::MS_REMOUNT;
    match mount(Some(source), tpath.as_str(), Some(typ), flags, data) {
        Ok(()) => {}
        // sysfs can't be mounted in a user namespace without its own netns:
        // bind the host's /sys instead, as runc does.
        Err(Errno::EPERM) if typ == "sysfs" && ctx.in_userns => {
            mount(
                Some("/sys"),
                tpath.as_str(),
                NONE,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                NONE,
            )
            .context("bind /sys")?;
            let fd = reopen(root, dest, strict)?;
            let p = sys::fd_path(&fd);
            let f = MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | (flags & !MsFlags::MS_REC)
                | locked_flags(&p);
            mount(NONE, p.as_str(), NONE, f, NONE).context("remount /sys")?;
        }
        Err(e) => return Err(e).with_context(|| format!("mount {typ} {}", source.display())),
    }
    drop(target);
    finish_mount(root, dest, opts, strict)
}

/// The destination again, after something was mounted on it: the old fd
/// still points at the directory under the mount. `strict`: as for proc
/// and sysfs, no symlink on the way.
fn reopen(root: BorrowedFd, dest: &Path, strict: bool) -> Result<OwnedFd> {
    if strict {
        return resolve::open_dir_no_symlinks(root, dest);
    }
    resolve::open(root, dest, OFlag::O_PATH)
        .with_context(|| format!("reopen {} in the rootfs", dest.display()))
}

/// Propagation and recursive attributes, on the freshly mounted tree.
fn finish_mount(root: BorrowedFd, dest: &Path, opts: &MountOpts, strict: bool) -> Result<()> {
    if opts.propagation.is_empty() && opts.rec_set == 0 && opts.rec_clr == 0 {
        return Ok(());
    }
    let fd = reopen(root, dest, strict)?;
    let p = sys::fd_path(&fd);
    for prop in &opts.propagation {
        mount(NONE, p.as_str(), NONE, *prop, NONE)
            .with_context(|| format!("set propagation {prop:?}"))?;
    }
    if opts.rec_set != 0 || opts.rec_clr != 0 {
        sys::mount_setattr(fd.as_fd(), true, opts.rec_set, opts.rec_clr, None)
            .context("mount_setattr (recursive mount options)")?;
    }
    Ok(())
}

fn bind_mount(
    ctx: &RootfsCtx,
    root: BorrowedFd,
    m: &Mount,
    opts: &MountOpts,
    tree: Option<&OwnedFd>,
    target: OwnedFd,
    kind: Kind,
) -> Result<()> {
    let source = m.source().as_ref().context("bind mount without source")?;
    let dest = m.destination();
    if (kind == Kind::Dir) != resolve::is_dir(&target) {
        bail!(
            "bind mount of {} onto {}: file type mismatch",
            source.display(),
            dest.display()
        );
    }
    let tpath = sys::fd_path(&target);
    let rec = opts.flags & MsFlags::MS_REC;
    if let Some(tree) = tree {
        crate::linux::idmap::attach(tree, &tpath)?;
    } else {
        mount(
            Some(source.as_path()),
            tpath.as_str(),
            NONE,
            MsFlags::MS_BIND | rec,
            NONE,
        )
        .with_context(|| format!("bind {}", source.display()))?;
    }
    drop(target);
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        let fd = reopen(root, dest, false)?;
        let p = sys::fd_path(&fd);
        let mut f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra;
        if ctx.in_userns {
            f |= locked_flags(&p) & !opts.cleared;
        }
        mount(NONE, p.as_str(), NONE, f, NONE).context("remount bind mount with its options")?;
    }
    finish_mount(root, dest, opts, false)
}

/// `tmpcopyup` (Podman --read-only): the new tmpfs starts with a copy of
/// what the image had at that directory. The image's directory is opened
/// before the tmpfs hides it (lookups relative to that fd still see what
/// is under the mount) and copied with `*at` calls that follow no symlink
/// and open nothing but directories and regular files.
fn tmpcopyup(root: BorrowedFd, dest: &Path, target: &OwnedFd, opts: &MountOpts) -> Result<()> {
    let dir = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let src = openat(target, ".", dir, Mode::empty())
        .with_context(|| format!("tmpcopyup: open {} in the rootfs", dest.display()))?;
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    let tpath = sys::fd_path(target);
    mount(
        Some("tmpfs"),
        tpath.as_str(),
        Some("tmpfs"),
        opts.flags & !(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT),
        data,
    )
    .context("tmpcopyup: mount tmpfs")?;
    let tmpfs = resolve::open(root, dest, dir).context("tmpcopyup: open the new tmpfs")?;
    copy_dir(&src, &tmpfs).context("tmpcopyup: copy")?;
    let st = fstat(&src).context("tmpcopyup: stat")?;
    nix::sys::stat::fchmod(&tmpfs, Mode::from_bits_truncate(st.st_mode & 0o7777))
        .context("tmpcopyup: chmod")?;
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        let p = sys::fd_path(&tmpfs);
        mount(
            NONE,
            p.as_str(),
            NONE,
            MsFlags::MS_REMOUNT | opts.flags,
            data,
        )
        .context("tmpcopyup: remount ro")?;
    }
    finish_mount(root, dest, opts, false)
}

/// Copies the directory `src` into the (new, empty) directory `dst`:
/// directories, regular files and symlinks, with owners and modes; other
/// kinds of files are skipped.
fn copy_dir(src: &OwnedFd, dst: &OwnedFd) -> Result<()> {
    use nix::fcntl::AtFlags;
    let entries = nix::dir::Dir::from_fd(src.try_clone()?)?;
    let names: Vec<std::ffi::CString> = entries
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    let dirf = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    for name in &names {
        let n = name.as_c_str();
        let st = fstatat(src, n, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        match st.st_mode & SFlag::S_IFMT.bits() {
            t if t == SFlag::S_IFDIR.bits() => {
                mkdirat(dst, n, Mode::from_bits_truncate(0o700))?;
                let from = openat(src, n, dirf, Mode::empty())?;
                let to = openat(dst, n, dirf, Mode::empty())?;
                copy_dir(&from, &to)?;
                nix::unistd::fchown(&to, Some(st.st_uid.into()), Some(st.st_gid.into()))?;
                nix::sys::stat::fchmod(&to, mode)?;
            }
            t if t == SFlag::S_IFLNK.bits() => {
                let target = readlinkat(src, n)?;
                nix::unistd::symlinkat(target.as_os_str(), dst, n)?;
                nix::unistd::fchownat(
                    dst,
                    n,
                    Some(st.st_uid.into()),
                    Some(st.st_gid.into()),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
            }
            t if t == SFlag::S_IFREG.bits() => {
                // O_NONBLOCK: if it was swapped for a FIFO, the open does
                // not wait for a writer; the type is checked on the fd.
                let ro = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
                let from = openat(src, n, ro, Mode::empty())?;
                if fstat(&from)?.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
                    continue;
                }
                let wr = OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC;
                let to = openat(dst, n, wr, Mode::from_bits_truncate(0o600))?;
                let (mut from, mut to) = (std::fs::File::from(from), std::fs::File::from(to));
                std::io::copy(&mut from, &mut to)?;
                nix::unistd::fchown(&to, Some(st.st_uid.into()), Some(st.st_gid.into()))?;
                nix::sys::stat::fchmod(&to, mode)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A `cgroup` mount. With a new cgroup namespace the kernel shows the
/// container's cgroup as the root; without one, bind the container's own
/// cgroup directories so it still sees only itself.
fn mount_cgroup(ctx: &RootfsCtx, root: BorrowedFd, m: &Mount, opts: &MountOpts) -> Result<()> {
    let dest = m.destination();
    let layout = crate::cgroups::Layout::detect()?;
    let rel = ctx.cgroup_path.trim_start_matches('/');
    let ro = opts.flags & MsFlags::MS_RDONLY;
    let base = opts.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    match &layout {
        crate::cgroups::Layout::V2 { mount: mnt } => {
            if ctx.new_cgroupns {
                let target = resolve::open_or_create(root, dest, Kind::Dir)?;
                let t = sys::fd_path(&target);
                mount(
                    Some("cgroup2"),
                    t.as_str(),
                    Some("cgroup2"),
                    base | ro,
                    NONE,
                )
                .context("mount cgroup2")?;
            } else if let Some(src) = cgroup_source(mnt, rel, &[]) {
                bind_ro(root, &src, dest, base | ro)?;
            }
        }
        crate::cgroups::Layout::V1 {
            hierarchies,
            unified,
        } => {
            let target = resolve::open_or_create(root, dest, Kind::Dir)?;
            let t = sys::fd_path(&target);
            mount(
                Some("tmpfs"),
                t.as_str(),
                Some("tmpfs"),
                base,
                Some("mode=755"),
            )
            .context("mount tmpfs for cgroups")?;
            drop(target);
            let mut all: Vec<(&[String], PathBuf)> = hierarchies
                .iter()
                .map(|(c, p)| (c.as_slice(), p.clone()))
                .collect();
            if let Some(u) = unified {
                all.push((&[], u.clone()));
            }
            for (ctrls, host_mount) in all {
                let sub = dest.join(host_mount.file_name().unwrap_or_default());
                let src = if ctx.new_cgroupns {
                    // The paths of /proc/self/cgroup are the namespace's now.
                    Some(host_mount.join(rel)).filter(|p| p.is_dir())
                } else {
                    cgroup_source(&host_mount, rel, ctrls)
                };
                match src {
                    Some(src) => bind_ro(root, &src, &sub, base | ro)?,
                    // A rootless container without a cgroup of its own
                    // there: an empty directory.
                    None => drop(resolve::open_or_create(root, &sub, Kind::Dir)?),
                }
            }
            if !ro.is_empty() {
                let fd = resolve::open_or_create(root, dest, Kind::Dir)?;
                let p = sys::fd_path(&fd);
                mount(
                    NONE,
                    p.as_str(),
                    NONE,
                    MsFlags::MS_REMOUNT | base | ro,
                    Some("mode=755"),
                )
                .context("remount cgroup tmpfs read-only")?;
            }
        }
    }
    finish_mount(root, dest, opts, false)
}

/// Bind `src` (recursively) onto `dest` inside the rootfs and remount it
/// with `flags`, reopening the destination so the remount hits the new mount.
/// What to show of one hierarchy (`ctrls`: its controllers, none for the
/// cgroup2 one): the container's cgroup; where a rootless container has
/// none there (no permission to make one), the cgroup the init is in, as
/// runc shows. The init is in its cgroups already.
fn cgroup_source(host_mount: &Path, rel: &str, ctrls: &[String]) -> Option<PathBuf> {
    let mine = host_mount.join(rel);
    if mine.is_dir() {
        return Some(mine);
    }
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, names, path) = (f.next()?, f.next()?, f.next()?);
        let same = if ctrls.is_empty() {
            names.is_empty()
        } else {
            let mut a: Vec<&str> = names.split(',').collect();
            let mut b: Vec<&str> = ctrls.iter().map(String::as_str).collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        };
        same.then(|| path.to_string())
    })?;
    Some(host_mount.join(own.trim_start_matches('/'))).filter(|p| p.is_dir())
}

fn bind_ro(root: BorrowedFd, src: &Path, dest: &Path, flags: MsFlags) -> Result<()> {
    let fd = resolve::open_or_create(root, dest, Kind::Dir)?;
    mount(
        Some(src),
        sys::fd_path(&fd).as_str(),
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .with_context(|| format!("bind {}", src.display()))?;
    drop(fd);
    if !flags.is_empty() {
        let fd = resolve::open_or_create(root, dest, Kind::Dir)?;
        let p = sys::fd_path(&fd);
        let f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | locked_flags(&p);
        mount(NONE, p.as_str(), NONE, f, NONE)
            .with_context(|| format!("remount {}", dest.display()))?;
    }
    Ok(())
}

/// Enter the rootfs: pivot_root(".", ".") and detach the old root, or with
/// --no-pivot, move the rootfs over / and chroot.
pub fn enter(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        hide_host_procfs(rootfs)?;
        nix::unistd::chdir(rootfs).with_context(|| format!("chdir {}", rootfs.display()))?;
        mount(Some(rootfs), "/", NONE, MsFlags::MS_MOVE, NONE)
            .context("move rootfs to / (--no-pivot)")?;
        nix::unistd::chroot(".").context("chroot (--no-pivot)")?;
        nix::unistd::chdir("/").context("chdir /")?;
        return Ok(());
    }
    let old = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open /")?;
    let new = nix::fcntl::open(
        rootfs,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open rootfs {}", rootfs.display()))?;
    nix::unistd::fchdir(&new).context("fchdir rootfs")?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    // The old root is now stacked under "."; get back to it to detach it.
    nix::unistd::fchdir(&old).context("fchdir old root")?;
    // Slave first, so the unmount does not propagate to the host.
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .context("make old root slave")?;
    umount2(".", MntFlags::MNT_DETACH).context("detach old root")?;
    nix::unistd::chdir("/").context("chdir /")?;
    Ok(())
}

/// --no-pivot keeps the host's mounts in the container's mount namespace,
/// under the moved root. The kernel lets a user namespace mount a new
/// procfs or sysfs when a full, uncovered one is in its mount namespace:
/// a host /proc left there would let the container mount a /proc without
/// maskedPaths. Detach every full proc and sysfs mount outside the rootfs
/// (slave first: nothing propagates to the host), or cover it with a
/// tmpfs where that is refused, as runc does.
fn hide_host_procfs(rootfs: &Path) -> Result<()> {
    let mounts = mountinfo::read()?;
    let full_procfs = mounts.iter().filter(|m| {
        m.root == Path::new("/")
            && (m.fstype == "proc" || m.fstype == "sysfs")
            && !m.mount_point.starts_with(rootfs)
    });
    for m in full_procfs {
        let p = m.mount_point.as_path();
        match mount(NONE, p, NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE) {
            Ok(()) => {}
            // Gone with a mount above it that was detached already.
            Err(Errno::ENOENT | Errno::EINVAL) => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("make {} slave (--no-pivot)", p.display()))
            }
        }
        match umount2(p, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL | Errno::EPERM) => {
                mount(Some("tmpfs"), p, Some("tmpfs"), MsFlags::empty(), NONE)
                    .with_context(|| format!("cover {} with a tmpfs (--no-pivot)", p.display()))?
            }
            Err(e) => {
                return Err(e).with_context(|| format!("detach {} (--no-pivot)", p.display()))
            }
        }
    }
    Ok(())
}

/// After pivot: apply rootfsPropagation to / (if it asks for more than the
/// default), and make / read-only when root.readonly is set.
pub fn finalize(propagation: Option<MsFlags>, readonly: bool) -> Result<()> {
    if let Some(prop) = propagation {
        mount(NONE, "/", NONE, prop, NONE).context("apply rootfsPropagation to /")?;
    }
    if readonly {
        let f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags("/");
        mount(NONE, "/", NONE, f, NONE).context("remount / read-only (root.readonly)")?;
    }
    Ok(())
}

/// Make the detached idmapped trees, one per mount the plan idmaps (in the
/// parent, before the clone: see linux/idmap.rs).
pub fn prepare_idmapped(mounts: &[MountPlan]) -> Result<Vec<Option<OwnedFd>>> {
    let mut out = Vec::with_capacity(mounts.len());
    for (i, m) in mounts.iter().enumerate() {
        let Some(idmap) = &m.idmap else {
            out.push(None);
            continue;
        };
        let what = || format!("mounts[{i}] ({})", m.destination().display());
        let source = m
            .mount
            .source()
            .as_ref()
            .with_context(|| format!("{}: bind mount without source", what()))?;
        let rbind = m.opts.flags.contains(MsFlags::MS_REC);
        let tree = crate::linux::idmap::idmapped_tree(source, rbind, &idmap.maps, idmap.recursive)
            .with_context(what)?;
        out.push(Some(tree));
    }
    Ok(out)
}

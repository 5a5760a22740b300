//! How every path inside the container's rootfs is resolved.
//!
//! A path from the config (a mount destination, a device, a masked or
//! read-only path) is resolved as if the rootfs were `/`: symlinks are
//! followed inside it, `..` goes up kernel-style (after the symlinks before
//! it, never above the root), and nothing outside the rootfs is ever
//! reached. An existing path is opened with openat2(RESOLVE_IN_ROOT); a
//! missing one is created by [`open_or_create`], which resolves the same way
//! one component at a time with `*at` calls on directory fds and
//! `O_NOFOLLOW`: a dangling symlink's target is created inside the rootfs
//! (as runc's SecureJoin + create), never on the host. Creation is
//! exclusive (mkdirat, `O_CREAT|O_EXCL`) and everything is opened `O_PATH`:
//! a FIFO or a device at a destination is never opened for I/O.

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Symlinks followed by one resolution before it fails with ELOOP (the
/// kernel's limit).
const MAX_SYMLINKS: u32 = 40;

/// `p` as an absolute path with `.` and `..` resolved by name, `..` of `/`
/// being `/`. This is where a path lands when none of its components is a
/// symlink; used to compare destinations (`/dev`, `/dev/pts`).
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The components openat2 and the walk take: names and `..`, in order.
fn components(p: &Path) -> impl DoubleEndedIterator<Item = &OsStr> {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n),
        Component::ParentDir => Some(OsStr::new("..")),
        _ => None,
    })
}

/// Opens `p` (absolute or not, relative to `root` either way) with
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): the kernel resolves
/// it as if `root` were `/`. `O_CLOEXEC` is added.
pub fn open(root: BorrowedFd, p: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let mut rel: PathBuf = components(p).collect();
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // EAGAIN: a concurrent rename or mount made the kernel give up on `..`.
    let mut tries = 0;
    loop {
        match openat2(root, &rel, how) {
            Err(Errno::EAGAIN) if tries < 8 => tries += 1,
            r => return r,
        }
    }
}

/// What to create at a destination that does not exist yet.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    Dir,
    File,
}

/// Opens `p` inside `root` as `O_PATH`, creating what is missing: its
/// directories, and the last component as a `kind`. Symlinks (the last
/// component's too) are followed inside `root`.
pub fn open_or_create(root: BorrowedFd, p: &Path, kind: Kind) -> Result<OwnedFd> {
    match open(root, p, OFlag::O_PATH) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT) => walk(root, p, Some(kind), true),
        Err(e) => Err(e).with_context(|| format!("open {} in the rootfs", p.display())),
    }
}

/// Opens the directory `p` inside `root` as `O_PATH`, creating missing
/// directories, and fails if any component of `p` is a symlink or the last
/// is not a directory: where proc and sysfs are mounted (CVE-2023-27561,
/// CVE-2023-28642), a symlink must not choose the place.
pub fn open_dir_no_symlinks(root: BorrowedFd, p: &Path) -> Result<OwnedFd> {
    let fd = walk(root, p, Some(Kind::Dir), false)?;
    if !is_dir(&fd) {
        bail!("{} in the rootfs is not a directory", clean(p).display());
    }
    Ok(fd)
}

/// The path of `fd` as the container will see it (`/proc/uptime`), from
/// the kernel's names of `fd` and `root`.
pub fn container_path(root: BorrowedFd, fd: BorrowedFd) -> Result<PathBuf> {
    use std::os::fd::AsRawFd;
    let name = |raw: i32| {
        std::fs::read_link(format!("/proc/self/fd/{raw}"))
            .with_context(|| format!("readlink /proc/self/fd/{raw}"))
    };
    let r = name(root.as_raw_fd())?;
    let f = name(fd.as_raw_fd())?;
    match f.strip_prefix(&r) {
        Ok(rest) => Ok(Path::new("/").join(rest)),
        Err(_) => bail!("{} is outside the rootfs {}", f.display(), r.display()),
    }
}

pub fn is_dir(fd: &OwnedFd) -> bool {
    fstat(fd)
        .map(|s| s.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits())
        .unwrap_or(false)
}

/// `/a/b/name` for messages: the directories walked into, then `name`.
fn shown(dirs: &[(OwnedFd, OsString)], name: &OsStr) -> String {
    let mut p = PathBuf::from("/");
    p.extend(dirs.iter().map(|(_, n)| n));
    p.push(name);
    p.display().to_string()
}

/// Resolves `p` in `root` component by component, like the kernel with
/// RESOLVE_IN_ROOT: `dirs` is the chain of directories entered (so `..`
/// pops one, and stays at the root when there is none), an absolute
/// symlink restarts at the root, a relative one continues from its
/// directory. Missing components are created when `create` says what the
/// last one is. With `follow` false, any symlink is an error.
fn walk(root: BorrowedFd, p: &Path, create: Option<Kind>, follow: bool) -> Result<OwnedFd> {
    let mut todo: VecDeque<OsString> = components(p).map(OsStr::to_os_string).collect();
    let mut dirs: Vec<(OwnedFd, OsString)> = Vec::new();
    let mut links = 0;
    let mut creations = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            dirs.pop();
            continue;
        }
        let last = todo.is_empty();
        let dir = dirs.last().map(|(f, _)| f.as_fd()).unwrap_or(root);
        let nofollow = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = match openat(dir, name.as_os_str(), nofollow, Mode::empty()) {
            Ok(fd) => fd,
            // A missing name followed by `..` cancels out (it cannot be a
            // symlink): nothing is created for it, as with SecureJoin.
            Err(Errno::ENOENT) if todo.front().is_some_and(|n| n == "..") => {
                todo.pop_front();
                continue;
            }
            Err(Errno::ENOENT) if create.is_some() => {
                // Bounded: something that keeps appearing and vanishing
                // under us is an attack, not a reason to loop.
                creations += 1;
                if creations > 64 {
                    bail!(
                        "create {} in the rootfs: it keeps changing",
                        shown(&dirs, &name)
                    );
                }
                let made = if last && create == Some(Kind::File) {
                    // O_EXCL: fails on anything already there, a dangling
                    // symlink included; the read-only fd is closed at once.
                    let excl = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
                    openat(
                        dir,
                        name.as_os_str(),
                        excl | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    mkdirat(dir, name.as_os_str(), Mode::from_bits_truncate(0o755))
                };
                match made {
                    // EEXIST: made by someone else meanwhile; look again.
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!("create {} in the rootfs", shown(&dirs, &name))
                        })
                    }
                }
                todo.push_front(name);
                continue;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("open {} in the rootfs", shown(&dirs, &name)))
            }
        };
        let st = fstat(&fd).with_context(|| format!("stat {}", shown(&dirs, &name)))?;
        let typ = st.st_mode & SFlag::S_IFMT.bits();
        if typ == SFlag::S_IFLNK.bits() {
            let target = readlinkat(dir, name.as_os_str())
                .with_context(|| format!("readlink {} in the rootfs", shown(&dirs, &name)))?;
            if !follow {
                bail!(
                    "{} in the rootfs is a symlink (to {})",
                    shown(&dirs, &name),
                    Path::new(&target).display()
                );
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP).with_context(|| format!("resolve {}", p.display()));
            }
            // procfs's magic links (/proc/self/fd/N...) name no path: like
            // RESOLVE_NO_MAGICLINKS, do not follow symlinks there at all.
            if nix::sys::statfs::fstatfs(dir)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
            {
                return Err(Errno::ELOOP).with_context(|| {
                    format!(
                        "{} is a symlink on procfs: not followed",
                        shown(&dirs, &name)
                    )
                });
            }
            let target = Path::new(&target);
            if target.is_absolute() {
                dirs.clear();
            }
            for c in components(target).rev() {
                todo.push_front(c.to_os_string());
            }
        } else if last {
            return Ok(fd);
        } else if typ == SFlag::S_IFDIR.bits() {
            dirs.push((fd, name));
        } else {
            return Err(Errno::ENOTDIR)
                .with_context(|| format!("open {} in the rootfs", shown(&dirs, &name)));
        }
    }
    // The path ended with `..` (or was the root itself).
    match dirs.pop() {
        Some((fd, _)) => Ok(fd),
        None => openat(root, ".", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .context("open the rootfs"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A scratch directory standing for a rootfs, removed on drop.
    struct Scratch(PathBuf, OwnedFd);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let d =
                std::env::temp_dir().join(format!("husk-resolve-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            let fd =
                nix::fcntl::open(&d, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
            Scratch(d, fd)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn clean_resolves_dot_and_dotdot_by_name() {
        assert_eq!(clean(Path::new("/tmp/../mnt2")), Path::new("/mnt2"));
        assert_eq!(clean(Path::new("/../../x/./y/")), Path::new("/x/y"));
        assert_eq!(clean(Path::new("dev/pts")), Path::new("/dev/pts"));
        assert_eq!(clean(Path::new("/..")), Path::new("/"));
    }

    #[test]
    fn a_dangling_absolute_symlink_is_created_inside_the_root() {
        let s = Scratch::new("dangling");
        let outside =
            std::env::temp_dir().join(format!("husk-resolve-{}-outside", std::process::id()));
        std::fs::create_dir_all(s.0.join("etc")).unwrap();
        symlink(outside.join("file"), s.0.join("etc/link")).unwrap();
        let fd = open_or_create(s.1.as_fd(), Path::new("/etc/link"), Kind::File).unwrap();
        assert!(!outside.exists(), "created outside the root");
        let inside = s.0.join(outside.strip_prefix("/").unwrap()).join("file");
        assert!(inside.is_file());
        assert_eq!(
            container_path(s.1.as_fd(), fd.as_fd()).unwrap(),
            Path::new("/")
                .join(outside.strip_prefix("/").unwrap())
                .join("file")
        );
    }

    #[test]
    fn dotdot_is_resolved_after_symlinks_and_stops_at_the_root() {
        let s = Scratch::new("dotdot");
        std::fs::create_dir_all(s.0.join("b/c")).unwrap();
        symlink("b/c", s.0.join("a")).unwrap();
        open_or_create(s.1.as_fd(), Path::new("/a/../x"), Kind::Dir).unwrap();
        assert!(s.0.join("b/x").is_dir());
        open_or_create(s.1.as_fd(), Path::new("/../../y/../z"), Kind::Dir).unwrap();
        assert!(s.0.join("z").is_dir() && !s.0.join("y").exists());
        let fd = open(s.1.as_fd(), Path::new("/b/c/../../.."), OFlag::O_PATH).unwrap();
        assert_eq!(
            container_path(s.1.as_fd(), fd.as_fd()).unwrap(),
            Path::new("/")
        );
    }

    #[test]
    fn strict_resolution_refuses_any_symlink() {
        let s = Scratch::new("strict");
        symlink("/tmp", s.0.join("proc")).unwrap();
        std::fs::create_dir_all(s.0.join("real")).unwrap();
        symlink("real", s.0.join("a")).unwrap();
        for p in ["/proc", "/a/sys"] {
            let e = open_dir_no_symlinks(s.1.as_fd(), Path::new(p)).unwrap_err();
            assert!(format!("{e:#}").contains("is a symlink"), "{p}: {e:#}");
        }
        assert!(!s.0.join("real/sys").exists() && !s.0.join("tmp").exists());
        open_dir_no_symlinks(s.1.as_fd(), Path::new("/x/../sys")).unwrap();
        assert!(s.0.join("sys").is_dir() && !s.0.join("x").exists());
    }

    #[test]
    fn a_symlink_loop_fails_with_eloop() {
        let s = Scratch::new("loop");
        symlink("l2", s.0.join("l1")).unwrap();
        symlink("l1", s.0.join("l2")).unwrap();
        let e = open_or_create(s.1.as_fd(), Path::new("/l1/x"), Kind::Dir).unwrap_err();
        assert!(format!("{e:#}").contains("ELOOP"), "{e:#}");
    }

    #[test]
    fn clean_more_cases() {
        assert_eq!(clean(Path::new("")), Path::new("/"));
        assert_eq!(clean(Path::new(".")), Path::new("/"));
        assert_eq!(clean(Path::new("a/b/../../..")), Path::new("/"));
        assert_eq!(clean(Path::new("//dev//pts/")), Path::new("/dev/pts"));
        assert_eq!(clean(Path::new("/a/./b/./../c")), Path::new("/a/c"));
    }

    #[test]
    fn components_keep_dotdot_and_drop_root_and_dot() {
        let c: Vec<&OsStr> = components(Path::new("/a/./../b/")).collect();
        assert_eq!(c, [OsStr::new("a"), OsStr::new(".."), OsStr::new("b")]);
        assert_eq!(components(Path::new("/")).count(), 0);
    }

    #[test]
    fn open_or_create_makes_files_and_directories_and_reuses_existing() {
        let s = Scratch::new("create");
        let f = open_or_create(s.1.as_fd(), Path::new("a/b/file"), Kind::File).unwrap();
        assert!(s.0.join("a/b/file").is_file() && !is_dir(&f));
        let d = open_or_create(s.1.as_fd(), Path::new("/a/b/dir"), Kind::Dir).unwrap();
        assert!(is_dir(&d));
        // Existing: opened, whatever kind was asked.
        let again = open_or_create(s.1.as_fd(), Path::new("/a/b/file"), Kind::Dir).unwrap();
        assert!(!is_dir(&again));
        assert_eq!(
            container_path(s.1.as_fd(), again.as_fd()).unwrap(),
            Path::new("/a/b/file")
        );
        // The root itself.
        let r = open(s.1.as_fd(), Path::new("/"), OFlag::O_PATH).unwrap();
        assert_eq!(
            container_path(s.1.as_fd(), r.as_fd()).unwrap(),
            Path::new("/")
        );
    }

    #[test]
    fn a_file_in_the_way_of_a_directory_fails() {
        let s = Scratch::new("file-in-way");
        std::fs::write(s.0.join("f"), "x").unwrap();
        let e = format!(
            "{:#}",
            open_or_create(s.1.as_fd(), Path::new("/f/sub"), Kind::Dir).unwrap_err()
        );
        assert!(e.contains("/f"), "{e}");
        let e = format!(
            "{:#}",
            open_dir_no_symlinks(s.1.as_fd(), Path::new("/f")).unwrap_err()
        );
        assert!(e.contains("/f in the rootfs is not a directory"), "{e}");
    }

    #[test]
    fn relative_symlinks_climbing_out_stay_inside() {
        let s = Scratch::new("climb");
        std::fs::create_dir_all(s.0.join("d")).unwrap();
        symlink("../../../../etc", s.0.join("d/up")).unwrap();
        let fd = open_or_create(s.1.as_fd(), Path::new("/d/up/passwd-made"), Kind::File).unwrap();
        assert!(s.0.join("etc/passwd-made").is_file());
        assert_eq!(
            container_path(s.1.as_fd(), fd.as_fd()).unwrap(),
            Path::new("/etc/passwd-made")
        );
        assert!(!Path::new("/etc/passwd-made").exists());
    }

    #[test]
    fn container_path_of_an_fd_outside_the_root_fails() {
        let s = Scratch::new("outside");
        let other = nix::fcntl::open("/", OFlag::O_PATH, Mode::empty()).unwrap();
        let e = container_path(s.1.as_fd(), other.as_fd())
            .unwrap_err()
            .to_string();
        assert!(e.contains("is outside the rootfs"), "{e}");
    }
}

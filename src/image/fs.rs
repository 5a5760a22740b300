//! File-system primitives for unpacking into a directory that tar entries
//! must never leave.
//!
//! Every path is resolved with openat2(2) and `RESOLVE_IN_ROOT` against an
//! fd of the root: `..` and absolute symlinks stop at the root, as they
//! would for a process chrooted there, so an entry that goes through a
//! symlink pointing "outside" lands inside the rootfs instead. The last
//! component is then operated on with `*at` calls that never follow it.
//! The only `unsafe` of this module are the two xattr calls nix lacks.

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Opens `rel` (relative to `root`, resolved as if `root` were `/`) with
/// `flags`. The empty path is the root itself.
pub fn open_in_root(root: BorrowedFd, rel: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let rel: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // EAGAIN: a concurrent rename made the kernel give up; try again.
    let mut tries = 0;
    loop {
        match openat2(root, rel, how) {
            Err(Errno::EAGAIN) if tries < 8 => tries += 1,
            r => return r,
        }
    }
}

/// A directory of the tree, as an `O_PATH` fd for `*at` calls.
pub fn open_dir(root: BorrowedFd, rel: &Path) -> nix::Result<OwnedFd> {
    open_in_root(root, rel, OFlag::O_PATH | OFlag::O_DIRECTORY)
}

/// Opens the directory `rel`, creating it and its missing ancestors
/// (mode 0755, owned by the caller). Returns the fd and the directories
/// created, so that the caller can count them as part of its layer.
pub fn make_dirs(root: BorrowedFd, rel: &Path) -> Result<(OwnedFd, Vec<PathBuf>)> {
    match open_dir(root, rel) {
        Ok(fd) => return Ok((fd, Vec::new())),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).with_context(|| format!("open directory /{}", rel.display())),
    }
    let mut made = Vec::new();
    let mut cur = PathBuf::new();
    let mut fd = open_dir(root, &cur).context("open the root directory")?;
    for comp in rel.iter() {
        cur.push(comp);
        fd = match open_dir(root, &cur) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                match mkdirat(&fd, comp, Mode::from_bits_truncate(0o755)) {
                    Ok(()) => made.push(cur.clone()),
                    // A name that exists but cannot be opened is a dangling
                    // symlink: its target is not created on its behalf.
                    Err(Errno::EEXIST) => bail!(
                        "/{} is a symbolic link to a missing directory",
                        cur.display()
                    ),
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("create directory /{}", cur.display()))
                    }
                }
                open_dir(root, &cur)
                    .with_context(|| format!("open directory /{}", cur.display()))?
            }
            Err(e) => return Err(e).with_context(|| format!("open directory /{}", cur.display())),
        };
    }
    Ok((fd, made))
}

/// The file type of `name` in `dir`, without following it; None if absent.
pub fn kind_at(dir: BorrowedFd, name: &OsStr) -> nix::Result<Option<SFlag>> {
    match fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT))),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `name` from `dir`, a whole tree if it is a directory. Never
/// follows a symlink, and refuses to descend into another file system (a
/// mount point) when `dev` is given. Absent is not an error.
pub fn remove_at(dir: BorrowedFd, name: &OsStr, dev: Option<u64>) -> Result<()> {
    let st = match fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("stat {}", name.to_string_lossy())),
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        if dev.is_some_and(|d| d != st.st_dev) {
            bail!(
                "{} is a mount point: not removing it",
                name.to_string_lossy()
            );
        }
        let fd = openat(
            dir,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", name.to_string_lossy()))?;
        clear_dir(fd.as_fd(), dev, &mut |_| false)
            .with_context(|| format!("in {}", name.to_string_lossy()))?;
        unlinkat(dir, name, UnlinkatFlags::RemoveDir)
    } else {
        unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
    }
    .or_else(|e| if e == Errno::ENOENT { Ok(()) } else { Err(e) })
    .with_context(|| format!("remove {}", name.to_string_lossy()))
}

/// Removes every entry of the directory `dir` for which `keep` is false.
pub fn clear_dir(
    dir: BorrowedFd,
    dev: Option<u64>,
    keep: &mut dyn FnMut(&OsStr) -> bool,
) -> Result<()> {
    for name in list_dir(dir)? {
        if !keep(&name) {
            remove_at(dir, &name, dev)?;
        }
    }
    Ok(())
}

/// Names in the directory `dir` (a readable directory fd), without . and ..
pub fn list_dir(dir: BorrowedFd) -> Result<Vec<std::ffi::OsString>> {
    let fd = openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    Ok(names)
}

fn cstr(b: &[u8]) -> std::io::Result<CString> {
    CString::new(b).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

/// fsetxattr(2) on an open (not `O_PATH`) fd.
pub fn fsetxattr(fd: BorrowedFd, name: &[u8], value: &[u8]) -> std::io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: `n` is NUL-terminated and `value` a valid slice whose length is
    // passed along; the kernel only reads them.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// lsetxattr(2) on `name` in the directory `dir`, not following `name`:
/// for symlinks and device nodes, which cannot be opened for fsetxattr.
/// The path goes through /proc/self/fd so that only the last component is
/// looked up, in `dir`.
pub fn lsetxattr_at(
    dir: BorrowedFd,
    name: &OsStr,
    attr: &[u8],
    value: &[u8],
) -> std::io::Result<()> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.as_bytes());
    let p = cstr(&p)?;
    let a = cstr(attr)?;
    // SAFETY: both strings are NUL-terminated and `value` a valid slice
    // whose length is passed along; the kernel only reads them.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            a.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

//! What husk's own binary looks like at an execve into a container
//! (CVE-2019-5736).
//!
//! Every process husk starts inside a container is a copy of husk until its
//! execve. At that execve, `/proc/self/exe` still names husk's binary: a
//! container file `#!/proc/self/exe` makes the kernel run husk's binary as
//! the interpreter, inside the container and dumpable, and a process of the
//! container can then open `/proc/PID/exe` and write the binary once it is
//! no longer busy. A process of a second container sharing the pid
//! namespace can do the same in the short window before the init makes
//! itself non-dumpable.
//!
//! The rule: a husk command that starts processes in a container (`create`,
//! `run`, `exec`) never runs from a writable view of its binary. Before it
//! does anything else it re-executes itself from one of:
//!
//! 1. a read-only, detached bind mount of its binary (open_tree
//!    OPEN_TREE_CLONE, mount_setattr MOUNT_ATTR_RDONLY, then execveat of
//!    that fd). The mount is in no namespace: nobody can remount it
//!    read-write, and it is gone when the last process running from it
//!    exits. Opening `/proc/PID/exe` for writing fails with EROFS. No copy:
//!    the page cache of the binary is shared. Needs CAP_SYS_ADMIN over
//!    husk's mount namespace;
//! 2. otherwise (rootless), a sealed memfd copy (F_SEAL_WRITE, GROW, SHRINK,
//!    SEAL): writes fail with EPERM. Costs a copy of the binary.
//!
//! A binary that is already on a read-only mount, or already a sealed
//! memfd, is used as it is.
//!
//! Measured on the release build (2.8 MB, bench/): the memfd copy cost
//! about 1.5 ms of CPU per command and made `exec` slower than crun; the
//! read-only clone costs a few syscalls and the execve.

use anyhow::{Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

/// MFD_EXEC (Linux 6.3): ask for an executable memfd even where
/// vm.memfd_noexec makes them non-executable by default. Older kernels
/// refuse the flag (EINVAL); we retry without it.
const MFD_EXEC: libc::c_uint = 0x0010;

/// The seals that make the copy immutable.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// The environment variable that carries the identity of the binary on
/// disk across the re-exec (the copy's own identity changes every time).
const FROM_VAR: &str = "HUSK_SEALED_FROM";

static IDENTITY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `device:inode:size:mtime` of a file.
fn identity_of(md: &nix::sys::stat::FileStat) -> String {
    format!(
        "{}:{}:{}:{}.{}",
        md.st_dev, md.st_ino, md.st_size, md.st_mtime, md.st_mtime_nsec
    )
}

/// Identifies husk's binary on disk (`device:inode:size:mtime`), also when
/// this process runs from the sealed copy: a rebuilt or replaced husk has
/// another identity (the seccomp cache keys its programs with it).
pub fn binary_identity() -> String {
    IDENTITY
        .get_or_init(|| {
            nix::sys::stat::stat("/proc/self/exe")
                .map(|m| identity_of(&m))
                .unwrap_or_default()
        })
        .clone()
}

/// Whether `fd` is a memfd carrying at least our seals.
fn is_sealed(fd: &OwnedFd) -> bool {
    match fcntl(fd, FcntlArg::F_GET_SEALS) {
        Ok(bits) => SealFlag::from_bits_truncate(bits).contains(seals()),
        // EINVAL: not a file that supports seals (a regular file).
        Err(_) => false,
    }
}

/// Make sure this process runs from a read-only view of its binary:
/// returns Ok at once if it already does; otherwise re-executes itself,
/// with the same arguments and environment, from a read-only clone of it
/// or a sealed copy (and never returns). Fails with one line if neither
/// can be made: husk then does not start a container at all.
pub fn ensure() -> Result<()> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open /proc/self/exe (sealed copy of husk, CVE-2019-5736)")?;
    if is_sealed(&exe) || on_readonly_mount(&exe) {
        if let Some(from) = std::env::var_os(FROM_VAR) {
            // Not passed on to hooks or anything else husk starts.
            std::env::remove_var(FROM_VAR);
            let _ = IDENTITY.set(from.to_string_lossy().into_owned());
        }
        return Ok(());
    }
    let st = nix::sys::stat::fstat(&exe).context("fstat /proc/self/exe")?;
    let from = identity_of(&st);
    let target = match readonly_clone(std::path::Path::new("/proc/self/exe")) {
        Ok(fd) => fd,
        // EPERM without CAP_SYS_ADMIN (rootless), ENOSYS before Linux 5.12.
        Err(_) => sealed_copy(&exe, st.st_size as usize)
            .context("make a sealed copy of husk (CVE-2019-5736)")?,
    };
    drop(exe);
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(std::os::unix::ffi::OsStringExt::into_vec(a)))
        .collect::<Result<_, _>>()
        .context("an argument holds a NUL byte")?;
    let envp: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != FROM_VAR)
        .chain([(FROM_VAR.into(), from.into())])
        .filter_map(|(k, v)| {
            let mut kv = std::os::unix::ffi::OsStringExt::into_vec(k);
            kv.push(b'=');
            kv.extend(std::os::unix::ffi::OsStringExt::into_vec(v));
            CString::new(kv).ok()
        })
        .collect();
    // The fd is close-on-exec: execveat(AT_EMPTY_PATH) of an ELF binary
    // does not need it after the kernel has opened the file.
    let err = nix::unistd::fexecve(target.as_fd(), &argv, &envp).unwrap_err();
    Err(err).context("re-execute husk from a read-only view of itself (CVE-2019-5736)")
}

/// Whether `fd`'s file is on a read-only mount.
fn on_readonly_mount(fd: &OwnedFd) -> bool {
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    fstatvfs(fd).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY))
}

/// An O_PATH fd of `file` on a detached, read-only bind mount of it.
fn readonly_clone(file: &std::path::Path) -> Result<OwnedFd> {
    let tree = super::sys::open_tree_clone(file, false)
        .with_context(|| format!("open_tree {}", file.display()))?;
    super::sys::mount_setattr(tree.as_fd(), false, super::sys::MOUNT_ATTR_RDONLY, 0, None)
        .context("mount_setattr MOUNT_ATTR_RDONLY")?;
    Ok(tree)
}

/// A sealed memfd holding the `size` bytes of `exe`.
fn sealed_copy(exe: &OwnedFd, size: usize) -> Result<OwnedFd> {
    let base = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let fd = match memfd_create("husk", base | MFdFlags::from_bits_retain(MFD_EXEC)) {
        Err(nix::errno::Errno::EINVAL) => memfd_create("husk", base),
        r => r,
    }
    .context("memfd_create")?;
    let mut done = 0;
    while done < size {
        match nix::sys::sendfile::sendfile(&fd, exe, None, size - done) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("sendfile into the memfd"),
        }
    }
    if done != size {
        anyhow::bail!("copied {done} of {size} bytes of /proc/self/exe");
    }
    fcntl(&fd, FcntlArg::F_ADD_SEALS(seals())).context("fcntl F_ADD_SEALS")?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn exe() -> OwnedFd {
        nix::fcntl::open(
            "/proc/self/exe",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    fn reopen(fd: &OwnedFd, write: bool) -> std::io::Result<std::fs::File> {
        use std::os::fd::AsRawFd;
        std::fs::OpenOptions::new()
            .read(!write)
            .append(write)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    #[test]
    fn the_sealed_copy_holds_the_binary_and_refuses_writes() {
        let exe = exe();
        let size = nix::sys::stat::fstat(&exe).unwrap().st_size as usize;
        let copy = sealed_copy(&exe, size).unwrap();
        assert!(is_sealed(&copy));
        let mut mine = Vec::new();
        std::fs::File::open("/proc/self/exe")
            .unwrap()
            .read_to_end(&mut mine)
            .unwrap();
        let mut theirs = Vec::new();
        reopen(&copy, false)
            .unwrap()
            .read_to_end(&mut theirs)
            .unwrap();
        assert!(mine == theirs, "the copy differs from the binary");
        // Opening for writing may work; writing must not.
        if let Ok(mut f) = reopen(&copy, true) {
            assert!(f.write_all(b"x").is_err(), "wrote into the sealed copy");
        }
    }

    #[test]
    fn the_readonly_clone_refuses_writes() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: open_tree needs CAP_SYS_ADMIN");
            return;
        }
        // Not our own binary: writing a running one is ETXTBSY anyway.
        let dir = std::env::temp_dir().join(format!("husk-sealed-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bin");
        std::fs::write(&file, b"binary").unwrap();
        let clone = readonly_clone(&file).map_err(|e| format!("{e:#}"));
        let opened = clone
            .as_ref()
            .map(|c| reopen(c, true))
            .map_err(|e| e.clone());
        let same = clone
            .as_ref()
            .map(|c| {
                let a = nix::sys::stat::fstat(c).unwrap();
                let b = nix::sys::stat::stat(&file).unwrap();
                (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
            })
            .map_err(|e| e.clone());
        drop(clone);
        let _ = std::fs::remove_dir_all(&dir);
        let e = opened
            .unwrap()
            .expect_err("opened the read-only clone for writing");
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        assert!(same.unwrap(), "the clone is another file");
    }

    #[test]
    fn a_regular_writable_file_is_neither_sealed_nor_read_only() {
        let f = nix::fcntl::open(
            "/tmp",
            OFlag::O_TMPFILE | OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        );
        let Ok(f) = f else { return };
        assert!(!is_sealed(&f));
        assert!(!on_readonly_mount(&f));
    }
}

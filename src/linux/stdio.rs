//! What an fd handed to a container's process may point at.
//!
//! The rule, for the init and for `exec` alike: the process gets its
//! stdio (fds 0–2), the fds the caller asked to preserve
//! (`--preserve-fds`), and nothing else; every other fd is close-on-exec
//! before execve (`sys::cloexec_from`, CVE-2024-21626). A stdio fd that is
//! the host's `/dev/null` (containerd and Docker hand one in) is replaced
//! by the container's own `/dev/null`: a process with CAP_CHOWN or
//! CAP_FOWNER could otherwise chown or chmod the host's device node
//! through `/proc/self/fd/0`. Other stdio fds (pipes, files, a pty) are the
//! caller's choice and stay; for a non-root `process.user`, the anonymous
//! pipes among them and the container's own pty change owner to that user
//! before the uid switch (`hand_to_user`), so the process can reopen them.

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};
use std::os::fd::BorrowedFd;

fn is_null_device(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
        && nix::sys::stat::major(st.st_rdev) == 1
        && nix::sys::stat::minor(st.st_rdev) == 3
}

/// Replace each stdio fd that is a null device other than the container's
/// `/dev/null` with the container's. Runs after pivot_root (init) or after
/// joining the container's mount namespace (exec), so `/dev/null` is the
/// container's.
pub fn reopen_dev_null() -> Result<()> {
    let mut foreign = [None; 3];
    for (fd, slot) in foreign.iter_mut().enumerate() {
        // SAFETY: fds 0-2 are only borrowed for fstat; a closed one fails.
        let b = unsafe { BorrowedFd::borrow_raw(fd as i32) };
        if let Ok(st) = fstat(b) {
            if is_null_device(&st) {
                *slot = Some((st.st_dev, st.st_ino));
            }
        }
    }
    if foreign.iter().all(Option::is_none) {
        return Ok(());
    }
    // The container's /dev/null may be a symlink (a device bound in a user
    // namespace onto an image's link): follow it, inside the container's
    // root, but open it for I/O only once it is known to be the null device.
    let what = "stdio is the host's /dev/null: open the container's /dev/null to replace it";
    let path = nix::fcntl::open("/dev/null", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .context(what)?;
    let st = fstat(&path).context("fstat the container's /dev/null")?;
    if !is_null_device(&st) {
        bail!("stdio is the host's /dev/null, and the container's /dev/null is not the null device (1:3)");
    }
    let null = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context(what)?;
    let again = fstat(&null).context("fstat the container's /dev/null")?;
    if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
        bail!("the container's /dev/null changed while husk opened it");
    }
    for (fd, id) in foreign.iter().enumerate() {
        if id.is_some_and(|id| id != (st.st_dev, st.st_ino)) {
            let r = match fd {
                0 => nix::unistd::dup2_stdin(&null),
                1 => nix::unistd::dup2_stdout(&null),
                _ => nix::unistd::dup2_stderr(&null),
            };
            r.with_context(|| format!("dup2 the container's /dev/null onto fd {fd}"))?;
        }
    }
    Ok(())
}

/// `f_type` of an anonymous pipe's file system (linux/magic.h).
const PIPEFS_MAGIC: i64 = 0x5049_5045;
/// `f_type` of devpts (linux/magic.h).
const DEVPTS_MAGIC: i64 = 0x1cd1;

/// What to do with one stdio fd before the user switch.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    /// Leave it: already the user's, or not ours to change.
    Keep,
    /// fchown it to the user.
    Give,
}

/// The rule of [`hand_to_user`], from the fd's fstat and fstatfs.
fn decide(mode: u32, st_uid: u32, fs_type: i64, uid: u32, terminal: bool) -> Owner {
    let fmt = mode & libc::S_IFMT;
    if st_uid == uid {
        return Owner::Keep;
    }
    let pipe = fmt == libc::S_IFIFO && fs_type == PIPEFS_MAGIC;
    let our_pty = terminal && fmt == libc::S_IFCHR && fs_type == DEVPTS_MAGIC;
    if pipe || our_pty {
        Owner::Give
    } else {
        Owner::Keep
    }
}

/// Hand the stdio pipes, and the terminal husk made for the process, to the
/// process' user before it drops privileges, as runc does: a non-root
/// process can then reopen them (`echo > /dev/stdout`, `/dev/stderr`, the
/// tty). Only the owner changes, the group stays.
///
/// Unlike runc, which changes every stdio fd but a null device, only
/// anonymous pipes (pipefs) and, with `process.terminal`, the container's
/// own pty are changed: a regular file, a named FIFO, a socket or a
/// terminal of the caller is an object of the host that a container start
/// must not give away. EPERM/EINVAL (an owner or id not mapped in a user
/// namespace) and EROFS leave the fd as it is, as for runc.
pub fn hand_to_user(uid: u32, terminal: bool) -> Result<()> {
    use nix::errno::Errno;
    use std::os::fd::AsFd;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for (fd, b) in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()]
        .into_iter()
        .enumerate()
    {
        // A closed one fails fstat and is skipped.
        let Ok(st) = fstat(b) else { continue };
        if is_null_device(&st) {
            continue;
        }
        // The statfs type is i64 on x86_64 but narrower elsewhere.
        #[allow(clippy::unnecessary_cast)]
        let fs_type = match nix::sys::statfs::fstatfs(b) {
            Ok(s) => s.filesystem_type().0 as i64,
            Err(_) => continue,
        };
        if decide(st.st_mode, st.st_uid, fs_type, uid, terminal) == Owner::Keep {
            continue;
        }
        match nix::unistd::fchown(b, Some(nix::unistd::Uid::from_raw(uid)), None) {
            Ok(()) | Err(Errno::EPERM | Errno::EINVAL | Errno::EROFS) => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("fchown stdio fd {fd} to uid {uid} (process.user.uid)")
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pipes_and_our_pty_change_owner() {
        let fifo = libc::S_IFIFO | 0o600;
        let chr = libc::S_IFCHR | 0o620;
        let reg = libc::S_IFREG | 0o644;
        let sock = libc::S_IFSOCK | 0o777;
        const EXT4: i64 = 0xef53;
        const SOCKFS: i64 = 0x534f_434b;
        assert_eq!(decide(fifo, 0, PIPEFS_MAGIC, 1000, false), Owner::Give);
        assert_eq!(decide(fifo, 1000, PIPEFS_MAGIC, 1000, false), Owner::Keep);
        // A named FIFO lives on a host file system.
        assert_eq!(decide(fifo, 0, EXT4, 1000, false), Owner::Keep);
        assert_eq!(decide(reg, 0, EXT4, 1000, false), Owner::Keep);
        assert_eq!(decide(sock, 0, SOCKFS, 1000, false), Owner::Keep);
        // The pty husk made, not a terminal the caller passed in.
        assert_eq!(decide(chr, 0, DEVPTS_MAGIC, 1000, true), Owner::Give);
        assert_eq!(decide(chr, 0, DEVPTS_MAGIC, 1000, false), Owner::Keep);
        assert_eq!(decide(chr, 0, EXT4, 1000, true), Owner::Keep);
    }
}

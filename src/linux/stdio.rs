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
//! caller's choice and stay.

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

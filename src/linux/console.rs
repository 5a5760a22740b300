//! The container's terminal: a pty created inside the container, its master
//! sent over `--console-socket` (one SCM_RIGHTS message, the terminal's name
//! as payload), its slave made the process' controlling terminal and stdio.

use super::sys;
use anyhow::{Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Connect to the console socket (in the parent, before the clone, so a
/// socket nobody listens on fails early and names the path).
pub fn connect(path: &Path) -> Result<OwnedFd> {
    use std::os::unix::net::UnixStream;
    let s = UnixStream::connect(path)
        .with_context(|| format!("connect to console socket {}", path.display()))?;
    Ok(OwnedFd::from(s))
}

/// Open a new pty in the current mount namespace.
pub fn open_pty() -> Result<(OwnedFd, String)> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context("open /dev/ptmx")?;
    nix::pty::unlockpt(&master).context("unlock pty (TIOCSPTLCK)")?;
    let name = nix::pty::ptsname_r(&master).context("pty name (TIOCGPTN)")?;
    Ok((master.into(), name))
}

/// Send the master to the console socket.
pub fn send_master(sock: &OwnedFd, master: &OwnedFd, name: &str) -> Result<()> {
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .context("send pty master to console socket")?;
    Ok(())
}

/// Make the slave our controlling terminal and stdin/stdout/stderr.
pub fn become_tty(slave_path: &str, size: Option<(u16, u16)>) -> Result<()> {
    nix::unistd::setsid().context("setsid")?;
    let slave = nix::fcntl::open(
        slave_path,
        nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {slave_path}"))?;
    let fd = slave.as_raw_fd();
    sys::set_controlling_tty(fd).context("ioctl TIOCSCTTY")?;
    if let Some((rows, cols)) = size {
        sys::set_winsize(fd, rows, cols).context("set console size")?;
    }
    nix::unistd::dup2_stdin(&slave).context("dup2 pty slave to stdin")?;
    nix::unistd::dup2_stdout(&slave).context("dup2 pty slave to stdout")?;
    nix::unistd::dup2_stderr(&slave).context("dup2 pty slave to stderr")?;
    Ok(())
}

/// Set up the terminal inside the container: with a console socket, hand
/// the master to it; returns the master when there is no socket (the caller
/// relays it itself).
pub fn setup(console: Option<&OwnedFd>, size: Option<(u16, u16)>) -> Result<Option<OwnedFd>> {
    let (master, name) = open_pty()?;
    if let Some(sock) = console {
        send_master(sock, &master, &name)?;
        become_tty(&name, size)?;
        return Ok(None);
    }
    become_tty(&name, size)?;
    Ok(Some(master))
}

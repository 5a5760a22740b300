//! A process in the foreground (`run`, `exec` without `--detach`): husk
//! waits for it, forwards the signals it gets to it, and relays its
//! terminal when husk holds the pty's master.

use crate::linux::sys;
use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// A connected pair of sockets: the container's end goes to `create` or
/// `exec` as the console socket, which sends back the pty's master.
pub(super) fn terminal_pair() -> Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the terminal")
}

/// Every signal but SIGKILL and SIGSTOP blocked and read from a signalfd,
/// to be forwarded to the process; the old mask comes back on drop. Made
/// before the process can run, so that no signal is lost.
pub(super) struct Forwarder {
    sfd: SignalFd,
    old: SigSet,
}

impl Forwarder {
    pub(super) fn new() -> Result<Forwarder> {
        let mut mask = SigSet::all();
        mask.remove(Signal::SIGKILL);
        mask.remove(Signal::SIGSTOP);
        let old = mask
            .thread_swap_mask(SigmaskHow::SIG_BLOCK)
            .context("block signals")?;
        let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .context("signalfd")?;
        Ok(Forwarder { sfd, old })
    }

    /// Wait until process `pid` (our child, or a grandchild with husk the
    /// subreaper) exits; returns its exit status (128+N if signal N killed
    /// it). `master`: the pty to relay to our stdio.
    pub(super) fn wait(&self, pid: i32, master: Option<&OwnedFd>) -> Result<i32> {
        wait_init(pid, &self.sfd, master)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.old.thread_set_mask();
    }
}

/// Receive one fd sent with SCM_RIGHTS (the pty master).
pub(super) fn recv_fd(sock: &OwnedFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .context("receive pty master")?;
    for c in msg.cmsgs().context("read control message")? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    anyhow::bail!("the container sent no terminal")
}

/// Put the host terminal in raw mode while we relay; restored on drop.
struct RawMode(Option<nix::sys::termios::Termios>);
impl RawMode {
    fn new() -> RawMode {
        let stdin = std::io::stdin();
        match nix::sys::termios::tcgetattr(stdin.as_fd()) {
            Ok(t) => {
                let mut raw = t.clone();
                nix::sys::termios::cfmakeraw(&mut raw);
                let _ = nix::sys::termios::tcsetattr(
                    stdin.as_fd(),
                    nix::sys::termios::SetArg::TCSANOW,
                    &raw,
                );
                RawMode(Some(t))
            }
            Err(_) => RawMode(None),
        }
    }
}
impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

fn wait_init(init: i32, sfd: &SignalFd, master: Option<&OwnedFd>) -> Result<i32> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let _raw = master.map(|_| RawMode::new());
    if let Some(m) = master {
        if let Ok((r, c)) = sys::get_winsize(0) {
            let _ = sys::set_winsize(m.as_raw_fd(), r, c);
        }
    }
    let stdin = std::io::stdin();
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let mut code: Option<i32> = None;
    let mut buf = [0u8; 8192];
    loop {
        // Reap: the init, and any orphan re-parented to us.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, c)) if p.as_raw() == init => code = Some(c),
                Ok(WaitStatus::Signaled(p, s, _)) if p.as_raw() == init => {
                    code = Some(128 + s as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if let Some(c) = code {
            if !master_open {
                return Ok(c);
            }
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let mi = fds.len();
        if let (Some(m), true) = (master, master_open) {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
        }
        let timeout = if code.is_some() {
            PollTimeout::from(100u8)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
            Ok(0) => master_open = false,
            Ok(_) => {}
        }
        let ready = |i: usize, f: &[PollFd]| {
            f.get(i)
                .and_then(|p| p.revents())
                .is_some_and(|r| !r.is_empty())
        };
        if ready(0, &fds) {
            while let Ok(Some(si)) = sfd.read_signal() {
                let sig = si.ssi_signo as i32;
                if sig == libc::SIGCHLD {
                    continue;
                }
                if sig == libc::SIGWINCH {
                    if let (Some(m), Ok((r, c))) = (master, sys::get_winsize(0)) {
                        let _ = sys::set_winsize(m.as_raw_fd(), r, c);
                    }
                    continue;
                }
                if let Ok(s) = Signal::try_from(sig) {
                    let _ = nix::sys::signal::kill(Pid::from_raw(init), s);
                }
            }
        }
        if let Some(m) = master {
            if stdin_open && ready(1, &fds) {
                match nix::unistd::read(&stdin, &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        let _ = nix::unistd::write(m, &buf[..n]);
                    }
                }
            }
            if master_open && ready(mi, &fds) {
                match nix::unistd::read(m, &mut buf) {
                    Ok(0) | Err(_) => master_open = false,
                    Ok(n) => {
                        let _ = nix::unistd::write(std::io::stdout(), &buf[..n]);
                    }
                }
            }
        }
    }
}

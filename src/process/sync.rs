//! Messages between husk (the parent) and the container's init (the child)
//! over one SOCK_SEQPACKET socketpair: one datagram per message, so no
//! framing is needed, and EOF means the peer is gone.
//!
//! | direction      | message        | meaning                                                  |
//! |----------------|----------------|----------------------------------------------------------|
//! | child → parent | `MapsPlease`   | I unshared a user namespace: write my uid/gid maps        |
//! | parent → child | `MapsDone`     | maps written                                             |
//! | child → parent | `Pid(p)`       | the init is host pid p (after a second fork)             |
//! | parent → child | `Go(p)`        | maps and cgroup are in place; your host pid is p: set up  |
//! | child → parent | `HooksPlease`  | mounts are done: run prestart + createRuntime hooks      |
//! | parent → child | `HooksDone`    | hooks ran                                                |
//! | child → parent | `SeccompFd(n)` | my fd n is the listener of my notify filter: copy it      |
//! | parent → child | `SeccompFdDone`| copied (pidfd_getfd) and passed on to the seccomp agent   |
//! | child → parent | `Ready`        | set up; blocked on exec.fifo until `start`               |
//! | child → parent | `Error(msg)`   | setup failed; the child exits after sending it           |
//!
//! `SeccompFd` is sent with write(2) and carries only the fd number; the
//! parent copies the fd with pidfd_getfd (as runc does): the filter is
//! already active then, and a notify rule on the syscall that sends it
//! would block the init until an agent that does not have the fd yet
//! answers. Only `write` is refused as a notify target (seccomp.rs).

use anyhow::{bail, Context, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    MapsPlease,
    MapsDone,
    Pid(i32),
    Go(i32),
    HooksPlease,
    HooksDone,
    SeccompFd(i32),
    SeccompFdDone,
    Ready,
    Error(String),
}

pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the init sync channel")
}

pub fn send_msg(fd: &OwnedFd, msg: &Msg) -> Result<()> {
    send(fd.as_raw_fd(), &encode(msg), MsgFlags::MSG_NOSIGNAL)
        .context("send on the init sync channel")?;
    Ok(())
}

fn encode(msg: &Msg) -> Vec<u8> {
    let mut buf = Vec::with_capacity(16);
    match msg {
        Msg::MapsPlease => buf.push(1),
        Msg::MapsDone => buf.push(2),
        Msg::Pid(p) => {
            buf.push(3);
            buf.extend_from_slice(&p.to_le_bytes());
        }
        Msg::Go(p) => {
            buf.push(4);
            buf.extend_from_slice(&p.to_le_bytes());
        }
        Msg::HooksPlease => buf.push(5),
        Msg::HooksDone => buf.push(6),
        Msg::Ready => buf.push(7),
        Msg::SeccompFd(fd) => {
            buf.push(9);
            buf.extend_from_slice(&fd.to_le_bytes());
        }
        Msg::SeccompFdDone => buf.push(10),
        Msg::Error(s) => {
            buf.push(8);
            // One datagram: keep it well under the socket buffer.
            let b = s.as_bytes();
            buf.extend_from_slice(&b[..b.len().min(32 * 1024)]);
        }
    }
    buf
}

/// Receive one message; `None` on EOF (the peer closed or died).
pub fn recv_msg(fd: &OwnedFd) -> Result<Option<Msg>> {
    let mut buf = [0u8; 33 * 1024];
    let n = loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.context("receive on the init sync channel")?,
        }
    };
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(match buf[0] {
        1 => Msg::MapsPlease,
        2 => Msg::MapsDone,
        3 if n >= 5 => Msg::Pid(i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]])),
        4 if n >= 5 => Msg::Go(i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]])),
        5 => Msg::HooksPlease,
        6 => Msg::HooksDone,
        7 => Msg::Ready,
        8 => Msg::Error(String::from_utf8_lossy(&buf[1..n]).into_owned()),
        9 if n >= 5 => Msg::SeccompFd(i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]])),
        10 => Msg::SeccompFdDone,
        t => bail!("init sync channel: unknown message tag {t}"),
    }))
}

/// Wait for exactly `want`; anything else is an error.
pub fn expect(fd: &OwnedFd, want: Msg) -> Result<()> {
    match recv_msg(fd)? {
        Some(m) if m == want => Ok(()),
        Some(Msg::Error(e)) => bail!("{e}"),
        Some(m) => bail!("init sync channel: expected {want:?}, got {m:?}"),
        None => bail!("init sync channel: peer exited while waiting for {want:?}"),
    }
}

/// Child: hand the listener fd of a just-loaded notify filter to the
/// parent, and wait until it has its copy. One write(2) and one recv: see
/// the note on `SeccompFd` at the top.
pub fn send_seccomp_fd(sock: &OwnedFd, listener: &OwnedFd) -> Result<()> {
    let buf = encode(&Msg::SeccompFd(listener.as_raw_fd()));
    nix::unistd::write(sock, &buf).context("send the seccomp listener fd to the parent")?;
    expect(sock, Msg::SeccompFdDone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(fd: &OwnedFd, bytes: &[u8]) {
        send(fd.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL).unwrap();
    }

    #[test]
    fn every_message_round_trips() {
        let (a, b) = pair().unwrap();
        let all = [
            Msg::MapsPlease,
            Msg::MapsDone,
            Msg::Pid(4242),
            Msg::Go(-1),
            Msg::HooksPlease,
            Msg::HooksDone,
            Msg::SeccompFd(7),
            Msg::SeccompFdDone,
            Msg::Ready,
            Msg::Error("mount /proc: permission denied".into()),
        ];
        for m in &all {
            send_msg(&a, m).unwrap();
            assert_eq!(recv_msg(&b).unwrap().as_ref(), Some(m));
        }
    }

    #[test]
    fn encoding_is_a_tag_and_little_endian_payload() {
        assert_eq!(encode(&Msg::Ready), [7]);
        assert_eq!(encode(&Msg::Pid(0x01020304)), [3, 4, 3, 2, 1]);
        assert_eq!(encode(&Msg::SeccompFd(5)), [9, 5, 0, 0, 0]);
        assert_eq!(encode(&Msg::Error("é".into())), [8, 0xc3, 0xa9]);
        // A huge error is cut to fit one datagram.
        assert_eq!(
            encode(&Msg::Error("x".repeat(100_000))).len(),
            1 + 32 * 1024
        );
    }

    #[test]
    fn truncated_and_unknown_messages_are_errors() {
        let (a, b) = pair().unwrap();
        // A pid message without its 4 bytes.
        raw(&a, &[3, 1]);
        let e = recv_msg(&b).unwrap_err().to_string();
        assert_eq!(e, "init sync channel: unknown message tag 3");
        raw(&a, &[99]);
        assert!(recv_msg(&b).unwrap_err().to_string().contains("tag 99"));
        // An error message with invalid UTF-8 is kept, lossily.
        raw(&a, &[8, b'b', 0xff, b'd']);
        assert_eq!(recv_msg(&b).unwrap(), Some(Msg::Error("b\u{fffd}d".into())));
        // An empty error message.
        raw(&a, &[8]);
        assert_eq!(recv_msg(&b).unwrap(), Some(Msg::Error(String::new())));
    }

    #[test]
    fn eof_is_none_and_expect_says_what_it_waited_for() {
        let (a, b) = pair().unwrap();
        send_msg(&a, &Msg::HooksDone).unwrap();
        expect(&b, Msg::HooksDone).unwrap();
        send_msg(&a, &Msg::Ready).unwrap();
        let e = expect(&b, Msg::MapsDone).unwrap_err().to_string();
        assert_eq!(e, "init sync channel: expected MapsDone, got Ready");
        // The child's error is passed on as it is.
        send_msg(&a, &Msg::Error("exec: no such file".into())).unwrap();
        assert_eq!(
            expect(&b, Msg::Ready).unwrap_err().to_string(),
            "exec: no such file"
        );
        drop(a);
        assert_eq!(recv_msg(&b).unwrap(), None);
        let e = expect(&b, Msg::Go(1)).unwrap_err().to_string();
        assert!(e.contains("peer exited while waiting for Go(1)"), "{e}");
    }

    #[test]
    fn seccomp_fd_is_sent_by_number_and_acknowledged() {
        let (parent, child) = pair().unwrap();
        let listener: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let n = listener.as_raw_fd();
        let t = std::thread::spawn(move || {
            assert_eq!(recv_msg(&parent).unwrap(), Some(Msg::SeccompFd(n)));
            send_msg(&parent, &Msg::SeccompFdDone).unwrap();
        });
        send_seccomp_fd(&child, &listener).unwrap();
        t.join().unwrap();
    }
}

//! The exec.fifo protocol: how `start` releases an init that `create`
//! left waiting, and how the init tells `start` that it failed.
//!
//! 1. `create` (process::parent) makes `<state dir>/exec.fifo` with [`make`]
//!    (mode `container::FIFO_MODE`), which opens it `O_RDWR|O_CLOEXEC`
//!    before the clone; the init inherits that fd. O_RDWR keeps the fifo
//!    open for writing too, so the init's read blocks instead of seeing
//!    EOF, and a writer's non-blocking open finds a reader as long as the
//!    init lives.
//! 2. The init, set up, blocks in [`wait_for_start`] until one byte comes.
//! 3. `start` calls [`release`]: it opens the fifo `O_WRONLY|O_NONBLOCK`
//!    (ENXIO at once if the init, the only reader, has died), writes one
//!    byte, and waits (poll) until the last reader is gone (POLLERR). The
//!    init keeps its fd until execve closes it (close-on-exec) or until it
//!    exits.
//! 4. An init that fails after the byte (startContainer hooks, execve)
//!    writes `E<message>` to the fifo with [`report_failure`] before it
//!    exits; `release` reads it back and fails with it, so `start` fails
//!    when the process could not start, and poststart runs only after it
//!    has started.
//! 5. `release` removes the fifo: from then on the container reads as
//!    running (its status is "created" exactly while the fifo exists).

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The prefix of a failure report.
const FAILURE: char = 'E';
/// The longest failure report, in bytes (one read of `release` takes it).
const MAX_REPORT: usize = 4000;

/// Create's side: make the fifo at `path` and open it for the init (step 1).
pub fn make(path: &Path) -> Result<OwnedFd> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(crate::container::FIFO_MODE))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    nix::fcntl::open(path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("open {}", path.display()))
}

/// `start`'s side: release the init waiting on the fifo at `path`, wait
/// until it has exec'd or died, remove the fifo, and fail with the init's
/// report if it failed.
pub fn release(path: &Path) -> Result<()> {
    let f = nix::fcntl::open(
        path,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ENXIO => {
            anyhow::anyhow!("cannot start a container that has stopped: its init exited")
        }
        e => anyhow::Error::new(e).context(format!("open {}", path.display())),
    })?;
    crate::crash_point("start:before-release");
    nix::unistd::write(&f, b"0").context("write exec.fifo")?;
    // POLLERR on our write end: no reader is left.
    let mut fds = [nix::poll::PollFd::new(
        f.as_fd(),
        nix::poll::PollFlags::empty(),
    )];
    loop {
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => {
                r.context("wait for the container process to start")?;
                break;
            }
        }
    }
    let failure = read_failure(path);
    std::fs::remove_file(path).with_context(|| format!("remove {}", path.display()))?;
    if let Some(msg) = failure {
        bail!("container process failed to start: {msg}");
    }
    Ok(())
}

/// What the init wrote to the fifo before it exited, if anything.
fn read_failure(path: &Path) -> Option<String> {
    let r = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; 4096];
    let n = nix::unistd::read(&r, &mut buf).ok()?;
    parse_report(&buf[..n])
}

/// A report as read back: `E<message>` gives the message; anything else
/// (nothing, or a stray byte) is no failure.
fn parse_report(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.strip_prefix(FAILURE).map(|m| m.trim().to_string())
}

/// The init's side: block until `start` writes its byte to `fifo` (the fd
/// `create` opened O_RDWR).
pub fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(fifo, &mut b) {
            Ok(1) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => bail!("exec.fifo closed before start"),
            Err(e) => return Err(e).context("read exec.fifo"),
        }
    }
}

/// The init's side, after the byte: tell `start` why the process did not
/// start. Best effort: `start` fails anyway when nothing is reported.
pub fn report_failure(fifo: &OwnedFd, msg: &str) {
    let _ = nix::unistd::write(fifo, report(msg).as_bytes());
}

/// `E<message>`, cut to [`MAX_REPORT`] bytes on a character boundary.
fn report(msg: &str) -> String {
    let mut line = format!("{FAILURE}{msg}");
    if line.len() > MAX_REPORT {
        let mut end = MAX_REPORT;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_as_its_message() {
        assert_eq!(
            parse_report(report("exec \"/x\": No such file").as_bytes()).as_deref(),
            Some("exec \"/x\": No such file")
        );
        assert_eq!(parse_report(b""), None);
        assert_eq!(parse_report(b"0"), None);
    }

    #[test]
    fn a_long_report_is_cut_on_a_character_boundary() {
        let msg = "é".repeat(3000);
        let r = report(&msg);
        assert!(r.len() <= MAX_REPORT);
        assert!(r.starts_with('E'));
        assert!(parse_report(r.as_bytes()).is_some());
    }

    #[test]
    fn the_protocol_through_a_real_fifo() {
        let dir = std::env::temp_dir().join(format!("husk-fifo-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("exec.fifo");
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600)).unwrap();
        let ours =
            nix::fcntl::open(&path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        // The "init": waits for the byte, then reports a failure and goes.
        let child = std::thread::spawn(move || {
            wait_for_start(&ours).unwrap();
            report_failure(&ours, "startContainer hook #0: exit status: 1");
        });
        let err = release(&path).unwrap_err();
        child.join().unwrap();
        assert_eq!(
            format!("{err:#}"),
            "container process failed to start: startContainer hook #0: exit status: 1"
        );
        assert!(!path.exists());
        // No reader left: `start` of a dead init.
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600)).unwrap();
        let err = release(&path).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot start a container that has stopped: its init exited"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

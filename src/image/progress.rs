//! The progress line: `layer 2/5  12.3 MiB / 40.0 MiB` on stderr, redrawn
//! at most ten times a second, only when stderr is a terminal; and the
//! interruption check that goes with the long loops.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// SIGINT, SIGTERM and SIGHUP, blocked and read from a non-blocking
/// signalfd: an interrupted unpack becomes an error like any other, and
/// the temporary directories are removed on the way out.
pub struct Interrupt(SignalFd);

impl Interrupt {
    pub fn install() -> anyhow::Result<Interrupt> {
        use anyhow::Context;
        let mut mask = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            mask.add(s);
        }
        mask.thread_block().context("block signals")?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .context("signalfd")?;
        Ok(Interrupt(fd))
    }

    /// Fails with [`Interrupted`] once one of the signals has arrived.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.0.read_signal() {
            Ok(Some(si)) => Err(Interrupted(
                Signal::try_from(si.ssi_signo as i32)
                    .map(|s| s.as_str())
                    .unwrap_or("a signal"),
            )
            .into()),
            _ => Ok(()),
        }
    }
}

#[derive(Debug)]
pub struct Interrupted(&'static str);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.0)
    }
}

impl std::error::Error for Interrupted {}

pub struct Progress {
    on: bool,
    layers: usize,
    layer: Cell<usize>,
    bytes: Cell<u64>,
    size: Cell<Option<u64>>,
    last: Cell<Option<Instant>>,
}

impl Progress {
    pub fn new(layers: usize) -> Progress {
        Progress {
            on: nix::unistd::isatty(io::stderr()).unwrap_or(false),
            layers,
            layer: Cell::new(0),
            bytes: Cell::new(0),
            size: Cell::new(None),
            last: Cell::new(None),
        }
    }

    /// Starts layer `n` (from 1) of `size` bytes, if known.
    pub fn layer(&self, n: usize, size: Option<u64>) {
        self.layer.set(n);
        self.bytes.set(0);
        self.size.set(size);
        self.last.set(None);
        self.draw(true);
    }

    fn add(&self, n: usize) {
        self.bytes.set(self.bytes.get() + n as u64);
        self.draw(false);
    }

    fn draw(&self, force: bool) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        if !force
            && self
                .last
                .get()
                .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.last.set(Some(now));
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let total = match self.size.get() {
            Some(s) => format!(" / {:.1} MiB", mib(s)),
            None => String::new(),
        };
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[Klayer {}/{}  {:.1} MiB{total}",
            self.layer.get(),
            self.layers,
            mib(self.bytes.get())
        );
        let _ = err.flush();
    }

    /// Counts what is read through `r`.
    pub fn reader<'a, R: Read>(&'a self, r: R) -> Counted<'a, R> {
        Counted { inner: r, p: self }
    }
}

impl Drop for Progress {
    /// Erases the line, so that what follows (an error) starts clean.
    fn drop(&mut self) {
        if self.on && self.layer.get() > 0 {
            let _ = write!(io::stderr(), "\r\x1b[K");
        }
    }
}

pub struct Counted<'a, R> {
    inner: R,
    p: &'a Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.p.add(n);
        Ok(n)
    }
}

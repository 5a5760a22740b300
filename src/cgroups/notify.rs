//! OOM notifications for `husk events`, without threads: one fd to poll.
//!
//! - v1: an eventfd registered for `memory.oom_control` through
//!   `cgroup.event_control`; the kernel signals it on each OOM, and once
//!   more when the cgroup is removed (then `cgroup.event_control` is gone).
//! - v2: `memory.events` and `cgroup.events` are kernfs files whose changes
//!   wake poll(2) with POLLPRI; an OOM is a rise of the `oom`/`oom_kill`
//!   counters, the end is `populated 0`.

use super::stats::parse_u64;
use anyhow::{Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// The cgroup ran out of memory.
    Oom,
    /// The cgroup is gone (v1) or has no process left (v2).
    Gone,
    Timeout,
}

pub enum OomWatcher {
    V1 {
        efd: OwnedFd,
        /// Kept open: the registration lives as long as this file.
        _oom_control: File,
        event_control: PathBuf,
    },
    V2 {
        memory_events: File,
        cgroup_events: File,
        ooms: u64,
        /// Seen unpopulated while reporting an OOM: Gone comes next.
        gone: bool,
    },
}

fn to_ms(t: Option<Duration>) -> PollTimeout {
    match t {
        None => PollTimeout::NONE,
        Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::MAX),
    }
}

/// Read a kernfs file from the start through `f` (which re-arms its poll).
fn reread(f: &File) -> Result<String> {
    let mut buf = vec![0u8; 4096];
    let n = nix::sys::uio::pread(f, &mut buf, 0).context("read cgroup events file")?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn value(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(parse_u64)
        .unwrap_or(0)
}

/// The OOM count of v2's memory.events: `oom` (limit hit) and `oom_kill`.
fn ooms(text: &str) -> u64 {
    value(text, "oom") + value(text, "oom_kill")
}

impl OomWatcher {
    pub fn v1(dir: &Path) -> Result<OomWatcher> {
        let oc = dir.join("memory.oom_control");
        let oom_control = File::open(&oc).with_context(|| format!("open {}", oc.display()))?;
        let efd = super::sys::eventfd().context("eventfd")?;
        let event_control = dir.join("cgroup.event_control");
        use std::os::fd::AsRawFd;
        let line = format!("{} {}", efd.as_raw_fd(), oom_control.as_raw_fd());
        std::fs::write(&event_control, line)
            .with_context(|| format!("register for OOM events in {}", event_control.display()))?;
        Ok(OomWatcher::V1 {
            efd,
            _oom_control: oom_control,
            event_control,
        })
    }

    pub fn v2(dir: &Path) -> Result<OomWatcher> {
        let open = |f: &str| {
            let p = dir.join(f);
            File::open(&p).with_context(|| format!("open {}", p.display()))
        };
        let memory_events = open("memory.events")?;
        let cgroup_events = open("cgroup.events")?;
        let ooms = ooms(&reread(&memory_events)?);
        let gone = value(&reread(&cgroup_events)?, "populated") == 0;
        Ok(OomWatcher::V2 {
            memory_events,
            cgroup_events,
            ooms,
            gone,
        })
    }

    /// Wait for the next event, at most `timeout` (None: forever).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Event> {
        match self {
            OomWatcher::V1 {
                efd, event_control, ..
            } => {
                let mut fds = [PollFd::new(efd.as_fd(), PollFlags::POLLIN)];
                match nix::poll::poll(&mut fds, to_ms(timeout)) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(Event::Timeout),
                    Ok(_) => {}
                    Err(e) => return Err(e).context("poll the OOM eventfd"),
                }
                let mut buf = [0u8; 8];
                nix::unistd::read(&*efd, &mut buf).context("read the OOM eventfd")?;
                // The kernel also signals the eventfd when the cgroup is removed.
                if !event_control.exists() {
                    return Ok(Event::Gone);
                }
                Ok(Event::Oom)
            }
            OomWatcher::V2 {
                memory_events,
                cgroup_events,
                ooms: seen,
                gone,
            } => {
                if *gone {
                    return Ok(Event::Gone);
                }
                let flags = PollFlags::POLLPRI | PollFlags::POLLERR;
                let mut fds = [
                    PollFd::new(memory_events.as_fd(), flags),
                    PollFd::new(cgroup_events.as_fd(), flags),
                ];
                match nix::poll::poll(&mut fds, to_ms(timeout)) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(Event::Timeout),
                    Ok(_) => {}
                    Err(e) => return Err(e).context("poll memory.events"),
                }
                // Re-read both (this re-arms them), OOMs first: a container
                // killed by the OOM killer also becomes unpopulated.
                let now = ooms(&reread(memory_events)?);
                let populated = value(&reread(cgroup_events)?, "populated");
                *gone = populated == 0;
                if now > *seen {
                    *seen = now;
                    return Ok(Event::Oom);
                }
                if *gone {
                    return Ok(Event::Gone);
                }
                Ok(Event::Timeout)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counters() {
        let t = "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(super::ooms(t), 2);
        assert_eq!(super::value("populated 1\nfrozen 0\n", "populated"), 1);
    }
}

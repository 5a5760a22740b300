//! OCI hooks: run a hook binary with the container state on stdin, with
//! its timeout, from the runtime (prestart, createRuntime, poststart,
//! poststop) or from inside the container (createContainer, startContainer).

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Hook;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The state JSON a hook receives on stdin.
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    annotations: &std::collections::HashMap<String, String>,
) -> String {
    let st = crate::oci::OciState {
        oci_version: crate::oci::OCI_VERSION,
        id,
        pid,
        status,
        bundle,
        rootfs: std::path::Path::new(""),
        created: "",
        owner: "",
        annotations,
    };
    let mut v = serde_json::to_value(&st).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("rootfs");
        o.remove("created");
        o.remove("owner");
    }
    v.to_string()
}

/// Run `hooks` in order, from husk's cwd; the first failure stops and is
/// returned.
pub fn run_all(kind: &str, hooks: &[Hook], state: &str) -> Result<()> {
    run_all_in(kind, hooks, state, None)
}

/// [`run_all`] with `cwd` as the hooks' working directory (prestart and
/// createRuntime run in the bundle, as with runc and crun).
pub fn run_all_in(
    kind: &str,
    hooks: &[Hook],
    state: &str,
    cwd: Option<&std::path::Path>,
) -> Result<()> {
    crate::fail_point(&format!("hook:{kind}"))?;
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state, cwd).with_context(|| describe(kind, i, h))?;
    }
    Ok(())
}

/// Run every hook of `hooks` in order, even when one fails: each failure
/// is logged as a warning (poststart and poststop: "the runtime MUST log a
/// warning, but the remaining hooks and lifecycle continue as if the hook
/// had succeeded"). Returns how many failed.
pub fn run_all_warn(kind: &str, hooks: &[Hook], state: &str) -> usize {
    if let Err(e) = crate::fail_point(&format!("hook:{kind}")) {
        crate::logging::warn(&format!("{e:#}"));
        return hooks.len();
    }
    let mut failed = 0;
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run_one(h, state, None) {
            crate::logging::warn(&format!("{}: {e:#}", describe(kind, i, h)));
            failed += 1;
        }
    }
    failed
}

fn describe(kind: &str, i: usize, h: &Hook) -> String {
    format!("{kind} hook #{i} ({})", h.path().display())
}

/// At most this much of a hook's stdout and of its stderr is kept for the
/// error message.
const OUTPUT_KEPT: usize = 16 * 1024;

fn run_one(h: &Hook, state: &str, cwd: Option<&std::path::Path>) -> Result<()> {
    let deadline = match h.timeout() {
        Some(t) if t <= 0 => bail!("timeout must be positive, got {t}"),
        Some(t) => Some((t, Instant::now() + Duration::from_secs(t as u64))),
        None => None,
    };
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(a0) = args.first() {
        use std::os::unix::process::CommandExt;
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or(&[]) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("exec {}", h.path().display()))?;
    let pidfd = match super::sys::pidfd_open(child.id() as i32) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e).context("pidfd_open hook");
        }
    };
    let io = HookIo {
        stdin: child.stdin.take().map(OwnedFd::from),
        stdout: child.stdout.take().map(OwnedFd::from),
        stderr: child.stderr.take().map(OwnedFd::from),
    };
    let outcome = {
        // Blocked while we write: a hook that exits without reading its
        // stdin makes the write fail with EPIPE, never kill husk.
        let _sigpipe = SigpipeBlocked::new();
        io.run(pidfd.as_fd(), state.as_bytes(), deadline.map(|d| d.1))
    };
    let (out, err) = match outcome {
        Ok(o) => o,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            match (e, deadline) {
                (IoEnd::TimedOut, Some((t, _))) => bail!("timed out after {t}s"),
                (IoEnd::TimedOut, None) => bail!("timed out"),
                (IoEnd::Poll(e), _) => return Err(e).context("poll hook"),
            }
        }
    };
    let status = child.wait().context("wait for hook")?;
    if !status.success() {
        // What the hook printed, if anything, on the same line.
        let mut msg = status.to_string();
        for (name, data) in [("stdout", &out), ("stderr", &err)] {
            let text = String::from_utf8_lossy(data);
            let text = text.trim();
            if !text.is_empty() {
                msg.push_str(&format!(", {name}: {}", text.replace('\n', " | ")));
            }
        }
        bail!("{msg}");
    }
    Ok(())
}

enum IoEnd {
    TimedOut,
    Poll(nix::errno::Errno),
}

/// The hook's end of its three pipes, driven without threads: one poll
/// loop writes the state to stdin and reads stdout and stderr until the
/// hook exits (its pidfd turns readable) or the deadline passes.
struct HookIo {
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
}

impl HookIo {
    fn run(
        mut self,
        pidfd: BorrowedFd,
        data: &[u8],
        deadline: Option<Instant>,
    ) -> std::result::Result<(Vec<u8>, Vec<u8>), IoEnd> {
        use nix::errno::Errno;
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        for fd in [&self.stdin, &self.stdout, &self.stderr]
            .into_iter()
            .flatten()
        {
            set_nonblocking(fd.as_fd()).map_err(IoEnd::Poll)?;
        }
        if data.is_empty() {
            self.stdin = None;
        }
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut written = 0;
        loop {
            let timeout = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(IoEnd::TimedOut);
                    }
                    // Rounded up: poll must not return just before the deadline.
                    let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128);
                    PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX)
                }
            };
            let (exited, w, r_out, r_err);
            {
                let mut fds = vec![PollFd::new(pidfd, PollFlags::POLLIN)];
                let mut idx = [None; 3];
                let watched = [
                    (&self.stdin, PollFlags::POLLOUT),
                    (&self.stdout, PollFlags::POLLIN),
                    (&self.stderr, PollFlags::POLLIN),
                ];
                for (i, (fd, ev)) in watched.into_iter().enumerate() {
                    if let Some(f) = fd {
                        fds.push(PollFd::new(f.as_fd(), ev));
                        idx[i] = Some(fds.len() - 1);
                    }
                }
                let [i_in, i_out, i_err] = idx;
                match poll(&mut fds, timeout) {
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(IoEnd::Poll(e)),
                    Ok(_) => {}
                }
                let ready = |i: Option<usize>| {
                    i.and_then(|i| fds[i].revents())
                        .is_some_and(|r| !r.is_empty())
                };
                exited = ready(Some(0));
                w = ready(i_in);
                r_out = ready(i_out);
                r_err = ready(i_err);
            }
            if w {
                if let Some(fd) = &self.stdin {
                    match nix::unistd::write(fd, &data[written..]) {
                        Ok(n) => written += n,
                        Err(Errno::EAGAIN | Errno::EINTR) => {}
                        // EPIPE: the hook does not read its stdin; fine.
                        Err(_) => written = data.len(),
                    }
                    if written >= data.len() {
                        // EOF for the hook.
                        self.stdin = None;
                    }
                }
            }
            if r_out {
                drain(&mut self.stdout, &mut out);
            }
            if r_err {
                drain(&mut self.stderr, &mut err);
            }
            if exited {
                // What it wrote before exiting is still in the pipes (a
                // child it left behind may hold them open: no waiting).
                drain(&mut self.stdout, &mut out);
                drain(&mut self.stderr, &mut err);
                return Ok((out, err));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(IoEnd::TimedOut);
            }
        }
    }
}

fn set_nonblocking(fd: BorrowedFd) -> nix::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let fl = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Read what `fd` has now (non-blocking), keeping up to OUTPUT_KEPT bytes
/// in `buf`; at EOF or on an error the fd is closed.
fn drain(fd: &mut Option<OwnedFd>, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    while let Some(f) = fd {
        match nix::unistd::read(f.as_fd(), &mut chunk) {
            Ok(0) => *fd = None,
            Ok(n) => {
                let keep = n.min(OUTPUT_KEPT.saturating_sub(buf.len()));
                buf.extend_from_slice(&chunk[..keep]);
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => return,
            Err(_) => *fd = None,
        }
    }
}

/// SIGPIPE blocked for the lifetime of the value, then the old mask back.
/// Rust starts husk with SIGPIPE ignored; this keeps a write to a pipe
/// nobody reads harmless even if that changes: a SIGPIPE raised meanwhile
/// is taken off the pending set before the mask is restored.
struct SigpipeBlocked {
    old: Option<nix::sys::signal::SigSet>,
}

impl SigpipeBlocked {
    fn new() -> Self {
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
        let mut set = SigSet::empty();
        set.add(Signal::SIGPIPE);
        let mut old = SigSet::empty();
        let ok = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).is_ok();
        SigpipeBlocked {
            old: ok.then_some(old),
        }
    }
}

impl Drop for SigpipeBlocked {
    fn drop(&mut self) {
        use nix::sys::signal::{pthread_sigmask, SigmaskHow, Signal};
        if let Some(old) = &self.old {
            if !old.contains(Signal::SIGPIPE) {
                super::sys::discard_pending(libc::SIGPIPE);
            }
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Option<i64>) -> Hook {
        let mut b = oci_spec::runtime::HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()]);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().expect("hook")
    }

    /// More than a pipe holds.
    fn big_state() -> String {
        "x".repeat(512 * 1024)
    }

    #[test]
    fn timeout_bounds_the_write_of_the_state() {
        let t = Instant::now();
        let e = run_one(&sh("exec sleep 30", Some(1)), &big_state(), None).unwrap_err();
        assert_eq!(format!("{e:#}"), "timed out after 1s");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    #[test]
    fn a_hook_that_exits_without_reading_is_fine() {
        run_one(&sh("exit 0", None), &big_state(), None).unwrap();
        // Even when a child it leaves holds its stdin open.
        let t = Instant::now();
        run_one(
            &sh("exec 3<&0; sleep 3 <&3 3<&- >/dev/null 2>&1 & exit 0", None),
            &big_state(),
            None,
        )
        .unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn the_state_reaches_stdin_and_output_the_error() {
        let e = run_one(
            &sh("wc -c; echo oops >&2; exit 3", Some(10)),
            &big_state(),
            None,
        )
        .unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(msg.contains(&format!("stdout: {}", 512 * 1024)), "{msg}");
        assert!(msg.contains("stderr: oops"), "{msg}");
        run_one(&sh("cat >/dev/null", None), &big_state(), None).unwrap();
    }

    #[test]
    fn run_all_warn_runs_every_hook_and_counts_failures() {
        let dir = std::env::temp_dir().join(format!("husk-hooks-warn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mark = dir.join("ran");
        let hooks = [
            sh("exit 3", None),
            sh(&format!("echo a >> {}", mark.display()), None),
            sh("exec sleep 30", Some(1)),
            sh(&format!("echo b >> {}", mark.display()), None),
        ];
        let failed = run_all_warn("poststop", &hooks, "{}");
        let ran = std::fs::read_to_string(&mark).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(failed, 2);
        assert_eq!(ran, "a\nb\n");
    }

    #[test]
    fn hooks_run_in_the_cwd_given() {
        let dir = std::env::temp_dir().join(format!("husk-hooks-cwd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let r = run_all_in("prestart", &[sh("pwd > here", None)], "{}", Some(&dir));
        let here = std::fs::read_to_string(dir.join("here")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        r.unwrap();
        assert_eq!(here.trim_end(), dir.to_str().unwrap());
    }

    #[test]
    fn a_bad_timeout_starts_nothing() {
        let e = run_one(&sh("exit 0", Some(0)), "{}", None).unwrap_err();
        assert_eq!(format!("{e:#}"), "timeout must be positive, got 0");
    }

    #[test]
    fn state_json_has_only_the_hook_fields() {
        let mut ann = std::collections::HashMap::new();
        let v: serde_json::Value = serde_json::from_str(&state_json(
            "c1",
            "created",
            42,
            std::path::Path::new("/b"),
            &ann,
        ))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ociVersion": "1.2.0", "id": "c1", "pid": 42, "status": "created", "bundle": "/b"})
        );
        ann.insert("org.x".to_string(), "1".to_string());
        let v: serde_json::Value = serde_json::from_str(&state_json(
            "c1",
            "stopped",
            0,
            std::path::Path::new("/b"),
            &ann,
        ))
        .unwrap();
        assert_eq!(v["annotations"], serde_json::json!({"org.x": "1"}));
        assert_eq!(v["pid"], 0);
    }

    #[test]
    fn describe_names_kind_index_and_path() {
        let h = sh("exit 0", None);
        assert_eq!(describe("poststop", 2, &h), "poststop hook #2 (/bin/sh)");
    }
}

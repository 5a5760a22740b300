//! Issue 15's attacks on what a container's process is handed: the
//! runtime's own binary (CVE-2019-5736 through exec and /proc/PID/exe),
//! stdio that is the host's /dev/null, signal dispositions and mask, the
//! caller's session keyring, and signals a foreground `run` must forward.
//! Each checks the host, and each holds for runc 1.1.5 too
//! (HUSK_TEST_RUNTIME=runc) unless gated on is_husk().

mod common;

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

/// Copy the shared libraries and the dynamic loader `bin` needs into the
/// rootfs at their host paths, as any distribution image has them, so the
/// runtime's binary can run inside the container (a static one needs none).
fn give_image_the_libraries_of(fx: &Fixture, bin: &std::path::Path) {
    let out = Command::new("ldd").arg(bin).output().unwrap();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(path) = line.split_whitespace().find(|w| w.starts_with('/')) else {
            continue;
        };
        let dst = fx.rootfs.join(path.trim_start_matches('/'));
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        // Follow the host's symlinks: the image gets the files.
        fs::copy(path, &dst).unwrap_or_else(|e| panic!("copy {path}: {e}"));
    }
}

/// Fill a pipe's buffer so that the next write to it blocks; the write
/// end is left blocking again.
fn fill_pipe(w: &OwnedFd) {
    let fd = w.as_raw_fd();
    // SAFETY: fcntl and write on an fd we own, with a valid buffer.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        let buf = [b'x'; 4096];
        while libc::write(fd, buf.as_ptr().cast(), buf.len()) > 0 {}
        libc::fcntl(fd, libc::F_SETFL, fl);
    }
}

/// Ignore `sigs` in a command's child before it execs the runtime, as
/// `nohup` or a non-interactive shell's `&` do.
fn ignoring(cmd: &mut Command, sigs: &'static [i32]) {
    // SAFETY: only signal(2), async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for &s in sigs {
                libc::signal(s, libc::SIG_IGN);
            }
            Ok(())
        });
    }
}

// ---------------------------------------------------------------------------
// CVE-2019-5736

/// The container runs `#!/proc/self/exe` by `exec`: the kernel runs the
/// runtime's binary (whatever /proc/self/exe of the exec'ing process is) as
/// the interpreter, inside the container. It blocks writing its usage error
/// to a full pipe while the container's init opens /proc/PID/exe of it,
/// then tries to write the binary through that fd until the runtime has
/// exited. The runtime binary on the host must be unchanged.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn cve_2019_5736_exec_of_a_proc_self_exe_script_cannot_overwrite_the_runtime() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("a5736-exec");
    let bin = runtime_copy(&fx);
    let bin_s = bin.to_str().unwrap().to_string();
    let before = fs::read(&bin).unwrap();
    give_image_the_libraries_of(&fx, &bin);
    let out_dir = fx.bind_host_dir("out", "/out");
    let evil = fx.rootfs.join("evil");
    fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(&evil, fs::Permissions::from_mode(0o755)).unwrap();
    fx.set_sh(
        "touch /out/ready; \
         while [ ! -e /out/exited ] && [ ! -e /out/found ]; do \
           for p in /proc/[0-9]*; do \
             l=$(readlink $p/exe 2>/dev/null) || continue; \
             case \"$l\" in ''|*busybox*) continue;; esac; \
             if exec 3<$p/exe; then echo \"$l\" >/out/found; break; fi; \
           done; \
         done; \
         if [ ! -e /out/found ]; then echo not-found >/out/result; touch /out/done; exec sleep 1000; fi; \
         while :; do \
           if echo pwned >>/proc/self/fd/3; then echo write-ok >/out/result; break; fi; \
           if [ -e /out/exited ]; then \
             echo pwned >>/proc/self/fd/3 && echo write-ok >/out/result || echo write-denied >/out/result; \
             break; \
           fi; \
           sleep 0.02; \
         done 2>/out/err; touch /out/done; exec sleep 1000",
    );
    let out = fx.husk_custom(
        &bin_s,
        &["run", "-d", "--bundle", fx.bundle_str(), &fx.id],
        |_| {},
    );
    assert!(out.status.success(), "run -d: {}", describe(&out));
    assert!(
        wait_until(STATE_TIMEOUT, || out_dir.join("ready").exists()),
        "the container did not start"
    );

    let (r, w) = pipe();
    fill_pipe(&w);
    let mut child = Command::new(&bin_s)
        .args(["--root", fx.root_str(), "exec", &fx.id, "/evil"])
        .stdin(Stdio::null())
        .stdout(Stdio::from(w.try_clone().unwrap()))
        .stderr(Stdio::from(w))
        .spawn()
        .unwrap();
    // The interpreter blocks on the full pipe until we drain it.
    let found = wait_until(STATE_TIMEOUT, || out_dir.join("found").exists());
    let mut drained = Vec::new();
    let mut reader = fs::File::from(r);
    let status = loop {
        let mut buf = [0u8; 65536];
        // SAFETY: non-blocking read of a pipe we own.
        let n = unsafe {
            let fd = reader.as_raw_fd();
            libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
            libc::read(fd, buf.as_mut_ptr().cast(), buf.len())
        };
        if n > 0 {
            drained.extend_from_slice(&buf[..n as usize]);
        }
        if let Ok(Some(s)) = child.try_wait() {
            let _ = reader.read_to_end(&mut drained);
            break s;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    fs::write(out_dir.join("exited"), "").unwrap();
    assert!(
        wait_until(STATE_TIMEOUT, || out_dir.join("done").exists()),
        "the attacker did not finish"
    );
    let read = |f: &str| fs::read_to_string(out_dir.join(f)).unwrap_or_default();
    let report = format!(
        "exec status {status:?}; found: {}; result: {}; err: {}",
        read("found").trim(),
        read("result").trim(),
        read("err").trim()
    );
    assert!(
        fs::read(&bin).unwrap() == before,
        "the runtime binary was modified: {report}"
    );
    assert!(
        found,
        "the interpreter was never seen in the container: {report}"
    );
    assert!(read("result").contains("write-denied"), "{report}");
}

/// Every runtime process a container can see runs from a view of the
/// binary that cannot be written: the init of a created container does not
/// show the binary's path as its exe, and not even the host's root can
/// write through that link (EROFS on husk's read-only clone, EPERM on a
/// sealed memfd as runc 1.1.5 uses).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn cve_2019_5736_the_init_runs_from_a_read_only_view_of_the_runtime() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("a5736-sealed");
    fx.set_args(&["true"]);
    fx.create();
    let pid = fx.state()["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    let link = fs::read_link(&exe).unwrap();
    assert_ne!(
        link,
        fs::canonicalize(runtime_path()).unwrap(),
        "the created container's init runs from the runtime's binary itself"
    );
    let len = fs::metadata(&exe).unwrap().len();
    let w = fs::OpenOptions::new().append(true).open(&exe);
    if let Ok(mut f) = w {
        use std::io::Write;
        let r = f.write_all(b"pwned");
        assert!(r.is_err(), "wrote into the init's binary through {exe}");
    }
    assert_eq!(fs::metadata(&exe).unwrap().len(), len);
    fx.run_ok(&["delete", "--force", &fx.id]);
}

// ---------------------------------------------------------------------------
// stdio that is the host's /dev/null

/// Puts the host's /dev/null back as it was, whatever the test did.
struct DevNullGuard(fs::Metadata);
impl Drop for DevNullGuard {
    fn drop(&mut self) {
        let _ = std::os::unix::fs::chown("/dev/null", Some(self.0.uid()), Some(self.0.gid()));
        let _ = fs::set_permissions(
            "/dev/null",
            fs::Permissions::from_mode(self.0.mode() & 0o7777),
        );
    }
}

/// `l`: `INODE MAJOR:MINOR` of the process's stdin, then of the
/// container's /dev/null. A null device on stdin must be the container's.
/// (runc's foreground init gets a pipe instead; husk passes the caller's
/// stdin through, swapped for the container's /dev/null.)
fn assert_null_is_the_containers(l: &[&str], who: &str) {
    if l[0].ends_with(" 1:3") || is_husk() {
        assert_eq!(
            l[0], l[1],
            "{who}: stdin is a null device other than the container's"
        );
    }
}

fn dev_null_owner() -> (u32, u32, u32) {
    let m = fs::metadata("/dev/null").unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// With stdin (and stdout) the host's /dev/null, as containerd and Docker
/// hand it in, a root process with CAP_CHOWN and CAP_FOWNER chowns and
/// chmods /proc/self/fd/0: the host's /dev/null must not change, in the
/// init and in an exec'd process. The fd the container sees is its own
/// /dev/null.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn host_dev_null_as_stdio_is_replaced_by_the_containers() {
    if !require_root() {
        return;
    }
    let _guard = DevNullGuard(fs::metadata("/dev/null").unwrap());
    let before = dev_null_owner();
    let fx = Fixture::new("a-devnull");
    {
        let mut c = fx.config_mut();
        let caps = json!(["CAP_CHOWN", "CAP_FOWNER", "CAP_KILL"]);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set] = caps.clone();
        }
    }
    let out_dir = fx.bind_host_dir("out", "/out");
    let script = "chown 4242:4242 /proc/self/fd/0; chmod 600 /proc/self/fd/0; \
                  stat -L -c '%i %t:%T' /proc/self/fd/0 > /out/$1; \
                  stat -c '%i %t:%T' /dev/null >> /out/$1";
    // The init: stdin is the host's /dev/null (run_with_timeout).
    fx.set_args(&["sh", "-c", script, "sh", "init"]);
    let out = fx.run_container();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        dev_null_owner(),
        before,
        "the init changed the host's /dev/null"
    );
    let lines = fs::read_to_string(out_dir.join("init")).unwrap();
    let l: Vec<&str> = lines.lines().collect();
    assert_eq!(l.len(), 2, "{lines}");
    assert_null_is_the_containers(&l, "init");

    // An exec'd process, stdin and stdout the host's /dev/null.
    let fx2 = Fixture::new("a-devnull-exec");
    fx2.config_mut()["process"]["capabilities"] = fx.config()["process"]["capabilities"].clone();
    let out_dir = fx2.bind_host_dir("out", "/out");
    fx2.run_detached_sleeper();
    let out = fx2.husk_custom(
        &runtime(),
        &["exec", &fx2.id, "sh", "-c", script, "sh", "exec"],
        |c| {
            c.stdout(Stdio::null());
        },
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        dev_null_owner(),
        before,
        "exec changed the host's /dev/null"
    );
    let lines = fs::read_to_string(out_dir.join("exec")).unwrap();
    let l: Vec<&str> = lines.lines().collect();
    assert_eq!(l.len(), 2, "{lines}");
    assert_null_is_the_containers(&l, "exec");
}

// ---------------------------------------------------------------------------
// Signals

/// The bit mask of a `SigIgn:`/`SigBlk:` line of /proc/PID/status.
fn sig_mask(status: &str, key: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_default();
    u64::from_str_radix(line.trim_start_matches(key).trim(), 16)
        .unwrap_or_else(|_| panic!("no {key} line in:\n{status}"))
}

/// No signal is blocked, none of `caller` is ignored, and with husk none
/// at all is ignored. (runc 1.1.5's exec leaves signal 32, which glibc
/// reserves, ignored when its caller is multi-threaded.)
fn assert_default_signals(out: &std::process::Output, caller: &[i32]) {
    let text = stdout_str(out);
    assert_eq!(sig_mask(&text, "SigBlk:"), 0, "{}", describe(out));
    let ign = sig_mask(&text, "SigIgn:");
    let caller_bits = caller.iter().fold(0u64, |m, &s| m | 1 << (s - 1));
    assert_eq!(ign & caller_bits, 0, "{}", describe(out));
    if is_husk() {
        assert_eq!(ign, 0, "{}", describe(out));
    }
    assert_eq!(stderr_str(out).trim(), "", "yes | head -c1 complained");
}

/// The container's processes start with every signal at its default
/// disposition and none blocked, even when the runtime's caller ignored
/// some (nohup, `&`): `yes | head -c1` is quiet, as on a host.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn container_processes_start_with_default_signal_dispositions() {
    if !require_root() {
        return;
    }
    const IGNORED: &[i32] = &[libc::SIGINT, libc::SIGHUP, libc::SIGPIPE, libc::SIGTERM];
    let fx = Fixture::new("a-signals");
    let script = "grep -E '^Sig(Ign|Blk)' /proc/self/status; yes | head -c1 >/dev/null";
    fx.set_sh(script);
    let out = fx.husk_custom(
        &runtime(),
        &["run", "--bundle", fx.bundle_str(), &fx.id],
        |c| ignoring(c, IGNORED),
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_default_signals(&out, IGNORED);

    // exec, from a caller that ignores the same signals.
    let fx = Fixture::new("a-signals-exec");
    fx.run_detached_sleeper();
    let out = fx.husk_custom(&runtime(), &["exec", &fx.id, "sh", "-c", script], |c| {
        ignoring(c, IGNORED)
    });
    assert!(out.status.success(), "{}", describe(&out));
    assert_default_signals(&out, IGNORED);
}

/// `nohup runtime run ... &`: SIGINT and SIGHUP were ignored when the
/// runtime started, yet a foreground run forwards both to the container.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn foreground_run_forwards_signals_its_caller_ignored() {
    if !require_root() {
        return;
    }
    for (sig, name) in [(libc::SIGINT, "INT"), (libc::SIGHUP, "HUP")] {
        let fx = Fixture::new(&format!("a-fwd-{name}"));
        let out_dir = fx.bind_host_dir("out", "/out");
        fx.set_sh(&format!(
            "trap 'echo got > /out/got; exit 7' {name}; touch /out/ready; \
             while :; do sleep 0.05; done"
        ));
        fx.write_config();
        let (o, e) = (fx.dir.join("fwd.out"), fx.dir.join("fwd.err"));
        let mut cmd = Command::new(runtime());
        cmd.args([
            "--root",
            fx.root_str(),
            "run",
            "--bundle",
            fx.bundle_str(),
            &fx.id,
        ]);
        ignoring(&mut cmd, &[libc::SIGINT, libc::SIGHUP]);
        cmd.stdin(Stdio::null())
            .stdout(fs::File::create(&o).unwrap())
            .stderr(fs::File::create(&e).unwrap());
        let mut child = cmd.spawn().unwrap();
        let ready = wait_until(STATE_TIMEOUT, || out_dir.join("ready").exists());
        // SAFETY: kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = wait_timeout(&mut child, STATE_TIMEOUT);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let err = fs::read_to_string(&e).unwrap_or_default();
        assert!(ready, "SIG{name}: the container did not start: {err}");
        assert!(
            out_dir.join("got").exists(),
            "SIG{name} was not forwarded (run: {status:?}) {err}"
        );
        assert_eq!(status.and_then(|s| s.code()), Some(7), "SIG{name}: {err}");
    }
}

// ---------------------------------------------------------------------------
// Keyrings

/// A key only its possessor may view, in the caller's session keyring, is
/// invisible in /proc/keys of the init and of an exec'd process: both join
/// the container's own session keyring.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn container_processes_do_not_possess_the_callers_session_keyring() {
    if !require_root() {
        return;
    }
    if Command::new("keyctl").arg("--version").output().is_err() {
        eprintln!("skipped: keyctl (Debian package keyutils) is not installed");
        return;
    }
    let fx = Fixture::new("a-keyring");
    // The base config masks /proc/keys, as runc spec and Docker do.
    fx.config_mut()["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p != "/proc/keys");
    let out_dir = fx.bind_host_dir("out", "/out");
    fx.set_sh("cat /proc/keys > /out/init; exec sleep 1000");
    fx.write_config();
    let desc = format!("husk-test-secret-{}", std::process::id());
    // keyctl session: a new anonymous session keyring for this shell only,
    // gone (with the key) when the shell ends.
    let script = format!(
        "k=$(keyctl add user {desc} s3cr3t @s) && keyctl setperm $k 0x3f000000 && \
         grep -c {desc} /proc/keys > {out}/host; \
         \"$0\" --root {root} run -d --bundle {bundle} {id} >{out}/run 2>&1 </dev/null && \
         \"$0\" --root {root} exec {id} cat /proc/keys > {out}/exec",
        out = out_dir.display(),
        root = fx.root_str(),
        bundle = fx.bundle_str(),
        id = fx.id,
    );
    let out = Command::new("keyctl")
        .args(["session", "-", "sh", "-c", &script, &runtime()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let read = |f: &str| fs::read_to_string(out_dir.join(f)).unwrap_or_default();
    assert_eq!(
        read("host").trim(),
        "1",
        "the key is not visible to its possessor on the host"
    );
    assert!(
        wait_until(STATE_TIMEOUT, || out_dir.join("init").exists()),
        "the init did not write /proc/keys"
    );
    assert!(
        !read("init").contains(&desc),
        "the init possesses the caller's key:\n{}",
        read("init")
    );
    assert!(
        !read("exec").contains(&desc),
        "exec possesses the caller's key:\n{}",
        read("exec")
    );
}

// ---------------------------------------------------------------------------
// The runtime's own stdout

/// `runtime list | head -0`: stdout is a pipe nobody reads. The runtime
/// ends quietly (killed by SIGPIPE, as runc and C tools are), no panic,
/// no error line.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn closed_stdout_ends_the_runtime_quietly() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("a-epipe");
    fx.run_detached_sleeper();
    for args in [
        vec!["list"],
        vec!["state", fx.id.as_str()],
        vec!["ps", "--format", "json", fx.id.as_str()],
    ] {
        let (r, w) = pipe();
        drop(r);
        let mut full = vec!["--root", fx.root_str()];
        full.extend_from_slice(&args);
        let out = Command::new(runtime())
            .args(&full)
            .stdin(Stdio::null())
            .stdout(Stdio::from(w))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {}",
            describe(&out)
        );
        assert_eq!(stderr_str(&out), "", "{args:?} printed on stderr");
    }
}

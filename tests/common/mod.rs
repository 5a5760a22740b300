//! Shared harness of the integration tests.
//!
//! Every test builds a [`Fixture`]: a private state directory (`--root`) and a
//! bundle with a busybox rootfs under `/tmp/husk-tests/<id>/`, whose
//! `config.json` starts as `test-bundles/base/config.json` and is mutated by
//! the test. Dropping the fixture removes everything it may have left behind
//! (containers, host-side mounts, cgroups, files), also when the test panics.
//!
//! The runtime under test is husk (`CARGO_BIN_EXE_husk`), or the program named
//! by `HUSK_TEST_RUNTIME` (e.g. `runc`, the oracle: every assertion here must
//! hold for runc too, unless gated on [`is_husk`]).
#![allow(dead_code)]

use std::cell::{Cell, RefCell, RefMut};
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Everything the tests create lives under this directory.
pub const TEST_BASE: &str = "/tmp/husk-tests";
/// Parent of the fixtures' cgroups (absolute cgroupsPath): a relative path
/// would nest them under the test process's own cgroup.
pub const CGROUP_PARENT: &str = "/husk-test";
/// How long one runtime command may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a container to reach a state.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(10);

static COUNTER: AtomicUsize = AtomicUsize::new(0);
/// Fixtures alive in this process: the shared `husk-test` cgroup parent is
/// removed only by the last one, so that no test removes it while another is
/// creating its container under it.
static LIVE: Mutex<usize> = Mutex::new(0);

// ---------------------------------------------------------------------------
// Runtime selection

/// The runtime binary under test.
pub fn runtime() -> String {
    match std::env::var("HUSK_TEST_RUNTIME") {
        Ok(r) if !r.is_empty() => r,
        _ => env!("CARGO_BIN_EXE_husk").to_string(),
    }
}

/// Whether the runtime under test is husk (rather than the runc oracle).
/// Assertions about behaviour runc does not have are gated on this.
pub fn is_husk() -> bool {
    let rt = runtime();
    let base = Path::new(&rt)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    base.starts_with("husk")
}

/// Returns false (after printing why) when the tests cannot run: they need
/// root. Use as `if !require_root() { return; }`, in a test marked
/// `#[cfg_attr(husk_not_root, ignore = "needs root")]`: build.rs sets
/// `husk_not_root` when the build runs as a user, so such a test is
/// reported as ignored rather than passed. This is the runtime guard behind
/// it: a non-root run of a test binary built as root fails (it would
/// otherwise pass without testing anything); one built as a user reaches
/// here only through `--include-ignored`, and skips.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if cfg!(husk_not_root) {
            eprintln!("skipped: this test needs root");
            return false;
        }
        panic!(
            "this test needs root, and this test binary was built as root: \
             run it as root, or rebuild as this user (the root tests are then ignored)"
        );
    }
    true
}

/// The crate's top directory (for test-bundles/).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// Running commands with a time limit

/// Fixed host paths that a client tool creates whatever it is told (as
/// lib.sh's remember_dirs): those missing when this is made are removed
/// when it drops, files first, then directories that are empty by then.
/// List parents before children.
pub struct CreatedPaths(Vec<PathBuf>);

impl CreatedPaths {
    pub fn remember(paths: &[&str]) -> CreatedPaths {
        let missing = paths
            .iter()
            .map(PathBuf::from)
            .filter(|p| fs::symlink_metadata(p).is_err())
            .rev()
            .collect();
        CreatedPaths(missing)
    }
}

impl Drop for CreatedPaths {
    fn drop(&mut self) {
        for p in &self.0 {
            if p.is_dir() {
                let _ = fs::remove_dir(p);
            } else {
                let _ = fs::remove_file(p);
            }
        }
    }
}

/// Runs a client script, `script RUNTIME`, under timeout(1) (`limit`
/// seconds; its SIGTERM lets the script's trap stop its daemons and remove
/// what it made) and returns its status and output, stdout then stderr.
pub fn run_client_script(script: &Path, name: &str, limit: u64) -> (Output, String) {
    let dir = PathBuf::from(TEST_BASE).join(format!("client-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new("timeout");
    // The kill grace outlasts a client command's own time limit (lib.sh's
    // `cap`) and the script's cleanup, which its trap runs on SIGTERM.
    cmd.args(["-k", "150", &limit.to_string()])
        .arg(script)
        .arg(runtime_path());
    let out = run_with_timeout(
        cmd,
        &dir.join("out"),
        &dir.join("err"),
        Duration::from_secs(limit + 200),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir(TEST_BASE);
    let text = format!("{}{}", stdout_str(&out), stderr_str(&out));
    (out, text)
}

/// The verdict on a client script's run: false if it skipped (exit 3 and a
/// `skip:` line, said on stderr; a failure when HUSK_CLIENTS_REQUIRED is
/// set, as .ci/run does), else it must have passed every check
/// (`N passed, 0 failed` as its last count, N > 0, no `FAIL ` line, exit 0).
pub fn client_script_passed(out: &Output, text: &str) -> bool {
    if out.status.code() == Some(3) && text.contains("skip:") {
        // .ci/run installs every client: there, a skip is a failure.
        assert!(
            std::env::var_os("HUSK_CLIENTS_REQUIRED").is_none(),
            "the client script skipped, and HUSK_CLIENTS_REQUIRED is set: {text}"
        );
        eprintln!("skipped: {text}");
        return false;
    }
    let last = text
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 "),
        "status {}:\n{text}",
        out.status
    );
    assert!(!text.lines().any(|l| l.starts_with("FAIL ")), "{text}");
    assert!(out.status.success(), "{text}");
    true
}

/// Runs `cmd` with stdin from /dev/null and stdout/stderr into the files
/// `out` and `err` (never pipes: a container started by create or run
/// --detach inherits them and may keep them open long after the runtime
/// exited), waits at most `timeout`, and returns what it printed.
pub fn run_with_timeout(mut cmd: Command, out: &Path, err: &Path, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let stdout = fs::File::create(out).unwrap_or_else(|e| panic!("create {}: {e}", out.display()));
    let stderr = fs::File::create(err).unwrap_or_else(|e| panic!("create {}: {e}", err.display()));
    cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let status = match wait_timeout(&mut child, timeout) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{desc} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&fs::read(out).unwrap_or_default()),
                String::from_utf8_lossy(&fs::read(err).unwrap_or_default())
            );
        }
    };
    Output {
        status,
        stdout: fs::read(out).unwrap_or_default(),
        stderr: fs::read(err).unwrap_or_default(),
    }
}

/// Waits for `child` for at most `timeout`; None if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    let mut nap = Duration::from_millis(1);
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Polls `f` until it returns true or `timeout` passes; returns its last value.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A readable description of a command's result, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stdout_str(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_str(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---------------------------------------------------------------------------
// Host-side helpers

/// Mount points (unescaped) of this process's mount namespace.
pub fn host_mounts() -> Vec<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .collect()
}

/// Mount points at or under `dir` in this process's mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().trim_end_matches('/').to_string();
    let prefix = format!("{d}/");
    host_mounts()
        .into_iter()
        .filter(|m| *m == d || m.starts_with(&prefix))
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmounts everything mounted at or under `dir`, deepest first
/// (with umount(8): the test process itself never mounts or unmounts).
pub fn umount_under(dir: &Path) {
    for _ in 0..3 {
        let mut ms = mounts_under(dir);
        if ms.is_empty() {
            return;
        }
        ms.sort_by_key(|m| std::cmp::Reverse(m.matches('/').count()));
        for m in ms {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&m)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs a host command (e.g. `mount --bind A B`) and asserts it succeeded.
pub fn host_cmd(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(out.status.success(), "{args:?} failed:\n{}", describe(&out));
    out
}

/// The cgroup v1 hierarchies (and the v2 one, if mounted) of the host:
/// directories of /sys/fs/cgroup (or /sys/fs/cgroup itself on a pure v2 host).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return vec![base.to_path_buf()];
    }
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir(base) {
        for e in rd.flatten() {
            // Skip the cpu,cpuacct-style symlinks: their targets are listed too.
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                v.push(e.path());
            }
        }
    }
    v.sort();
    v
}

/// The directories of the cgroup `/husk-test/<id>` in every hierarchy that
/// has it.
pub fn cgroup_dirs_of(id: &str) -> Vec<PathBuf> {
    cgroup_mounts()
        .into_iter()
        .map(|m| m.join(CGROUP_PARENT.trim_start_matches('/')).join(id))
        .filter(|p| p.is_dir())
        .collect()
}

/// Pids of the processes whose root directory or working directory is at or
/// under `dir`: a container's processes, seen from the host, have their
/// bundle's rootfs as root.
pub fn processes_under(dir: &Path) -> Vec<i32> {
    let d = dir.to_string_lossy().trim_end_matches('/').to_string();
    let prefix = format!("{d}/");
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            for link in ["root", "cwd"] {
                if let Ok(t) = fs::read_link(e.path().join(link)) {
                    let t = t.to_string_lossy().into_owned();
                    if t == d || t.starts_with(&prefix) {
                        pids.push(pid);
                        break;
                    }
                }
            }
        }
    }
    pids
}

/// Whether `pid` exists and is not a zombie.
pub fn process_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            // The state follows the command name, which is in parentheses.
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start())
                .unwrap_or("");
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

/// The target of /proc/self/ns/<ns> of this (host) process.
pub fn host_ns(ns: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{ns}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A helper process (e.g. `unshare --net sleep 60`) that is killed and reaped
/// when dropped.
pub struct Helper {
    pub child: Child,
}

impl Helper {
    pub fn spawn(args: &[&str]) -> Helper {
        let child = Command::new(args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
        Helper { child }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The fixture

/// The busybox binary shared (hard-linked) by the rootfs of every fixture of
/// this test process: a private copy, so that no test can reach the host's
/// /bin/busybox through a hard link. Removed when the process exits.
fn shared_busybox() -> Option<&'static Path> {
    static BUSYBOX: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUSYBOX
        .get_or_init(|| {
            let dir = PathBuf::from(format!("{TEST_BASE}/busybox-{}", std::process::id()));
            let src = ["/bin/busybox", "/usr/bin/busybox"]
                .iter()
                .map(Path::new)
                .find(|p| p.exists())?;
            fs::create_dir_all(&dir).ok()?;
            let dst = dir.join("busybox");
            fs::copy(src, &dst).ok()?;
            extern "C" fn remove_shared_busybox() {
                let dir = format!("{TEST_BASE}/busybox-{}", std::process::id());
                let _ = fs::remove_dir_all(dir);
                // Only if empty: other test processes may be using it.
                let _ = fs::remove_dir(TEST_BASE);
            }
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(remove_shared_busybox) };
            Some(dst)
        })
        .as_deref()
}

/// Builds a busybox rootfs in `dir` with test-bundles/make-rootfs.sh.
pub fn make_rootfs(dir: &Path) {
    let script = repo_dir().join("test-bundles/make-rootfs.sh");
    let mut cmd = Command::new(&script);
    cmd.arg(dir);
    if let Some(bb) = shared_busybox() {
        cmd.env("BUSYBOX", bb).env("LINK", "1");
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "make-rootfs.sh failed:\n{}",
        describe(&out)
    );
}

/// The base configuration, test-bundles/base/config.json.
pub fn base_config() -> Value {
    static BASE: OnceLock<Value> = OnceLock::new();
    BASE.get_or_init(|| {
        let p = repo_dir().join("test-bundles/base/config.json");
        let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    })
    .clone()
}

pub struct Fixture {
    /// The container id (also the last component of the cgroup path).
    pub id: String,
    /// /tmp/husk-tests/<id>
    pub dir: PathBuf,
    /// The runtime's state directory (--root).
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    config: RefCell<Value>,
    dirty: Cell<bool>,
    ids: RefCell<Vec<String>>,
    seq: Cell<usize>,
    last_logs: RefCell<Option<(PathBuf, PathBuf)>>,
}

impl Fixture {
    /// A fresh bundle and state directory for container `t-<name>-<pid>-<n>`.
    pub fn new(name: &str) -> Fixture {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("t-{name}-{}-{n}", std::process::id());
        let dir = PathBuf::from(TEST_BASE).join(&id);
        sweep_stale();
        let root = dir.join("root");
        // A leftover from an earlier process with the same pid: clean it.
        if dir.exists() {
            cleanup_dir(&dir, &root, std::slice::from_ref(&id));
        }
        let bundle = dir.join("bundle");
        let rootfs = bundle.join("rootfs");
        fs::create_dir_all(&bundle).unwrap_or_else(|e| panic!("{}: {e}", bundle.display()));
        *LIVE.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let mut config = base_config();
        config["linux"]["cgroupsPath"] = json!(format!("{CGROUP_PARENT}/{id}"));
        let fx = Fixture {
            id: id.clone(),
            dir,
            root,
            bundle,
            rootfs,
            config: RefCell::new(config),
            dirty: Cell::new(true),
            ids: RefCell::new(vec![id]),
            seq: Cell::new(0),
            last_logs: RefCell::new(None),
        };
        make_rootfs(&fx.rootfs);
        fx
    }

    pub fn root_str(&self) -> &str {
        self.root.to_str().unwrap()
    }

    pub fn bundle_str(&self) -> &str {
        self.bundle.to_str().unwrap()
    }

    pub fn config_path(&self) -> PathBuf {
        self.bundle.join("config.json")
    }

    /// The state directory the runtime keeps for container `id`.
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Another container id, cleaned up with the fixture. Its cgroup is
    /// `/husk-test/<that id>` when config_for_id(that id) is used; with the
    /// fixture's config as is, it shares the fixture's cgroup path.
    pub fn new_id(&self, suffix: &str) -> String {
        let id = format!("{}-{suffix}", self.id);
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// Registers an id (e.g. one a test expects the runtime to reject) for
    /// cleanup.
    pub fn track_id(&self, id: &str) {
        self.ids.borrow_mut().push(id.to_string());
    }

    pub fn config(&self) -> Value {
        self.config.borrow().clone()
    }

    /// The config to mutate; written to the bundle before the next command.
    pub fn config_mut(&self) -> RefMut<'_, Value> {
        self.dirty.set(true);
        self.config.borrow_mut()
    }

    /// Sets process.args.
    pub fn set_args(&self, args: &[&str]) {
        self.config_mut()["process"]["args"] = json!(args);
    }

    /// Sets process.args to `sh -c script`.
    pub fn set_sh(&self, script: &str) {
        self.set_args(&["sh", "-c", script]);
    }

    /// Points linux.cgroupsPath at /husk-test/<id>.
    pub fn set_cgroup_for(&self, id: &str) {
        self.config_mut()["linux"]["cgroupsPath"] = json!(format!("{CGROUP_PARENT}/{id}"));
    }

    /// Appends a mount to the config.
    pub fn add_mount(&self, destination: &str, typ: &str, source: &str, options: &[&str]) {
        let mut c = self.config_mut();
        let mounts = c["mounts"].as_array_mut().expect("mounts is an array");
        mounts.push(json!({
            "destination": destination,
            "type": typ,
            "source": source,
            "options": options,
        }));
    }

    /// A directory on the host, outside the bundle, for bind mounts.
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let d = self.dir.join("host").join(name);
        fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        d
    }

    /// Creates a host directory and bind-mounts it read-write at
    /// `destination` in the container; returns the host path.
    pub fn bind_host_dir(&self, name: &str, destination: &str) -> PathBuf {
        let d = self.host_dir(name);
        self.add_mount(destination, "bind", d.to_str().unwrap(), &["rbind", "rw"]);
        d
    }

    /// Writes the config to the bundle now (it is otherwise written before
    /// the next runtime command, if it changed).
    pub fn write_config(&self) {
        let text = serde_json::to_string_pretty(&*self.config.borrow()).unwrap();
        fs::write(self.config_path(), text)
            .unwrap_or_else(|e| panic!("{}: {e}", self.config_path().display()));
        self.dirty.set(false);
    }

    fn next_log_paths(&self) -> (PathBuf, PathBuf) {
        let n = self.seq.get();
        self.seq.set(n + 1);
        let logs = self.dir.join("logs");
        let _ = fs::create_dir_all(&logs);
        let paths = (logs.join(format!("{n}.out")), logs.join(format!("{n}.err")));
        *self.last_logs.borrow_mut() = Some(paths.clone());
        paths
    }

    /// The files that received the stdout and stderr of the last runtime
    /// command (and of the container it created, which inherits them).
    pub fn last_logs(&self) -> (PathBuf, PathBuf) {
        self.last_logs.borrow().clone().expect("no command was run")
    }

    /// Runs `RUNTIME --root ROOT args...` (after writing the config if it
    /// changed), with stdin from /dev/null.
    pub fn husk(&self, args: &[&str]) -> Output {
        let mut full = vec!["--root", self.root_str()];
        full.extend_from_slice(args);
        self.husk_raw(&full)
    }

    /// Runs `RUNTIME args...`, without adding --root.
    pub fn husk_raw(&self, args: &[&str]) -> Output {
        self.husk_in(None, args)
    }

    /// Runs `RUNTIME args...` in working directory `cwd` (if any), without
    /// adding --root.
    pub fn husk_in(&self, cwd: Option<&Path>, args: &[&str]) -> Output {
        if self.dirty.get() {
            self.write_config();
        }
        let (out, err) = self.next_log_paths();
        let mut cmd = Command::new(runtime());
        cmd.args(args);
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        run_with_timeout(cmd, &out, &err, COMMAND_TIMEOUT)
    }

    /// Runs a runtime command and asserts it succeeded.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.husk(args);
        assert!(out.status.success(), "{args:?} failed:\n{}", describe(&out));
        out
    }

    /// Runs a runtime command and asserts it failed.
    pub fn run_fail(&self, args: &[&str]) -> Output {
        let out = self.husk(args);
        assert!(
            !out.status.success(),
            "{args:?} unexpectedly succeeded:\n{}",
            describe(&out)
        );
        out
    }

    /// Runs a runtime command, asserts it succeeded, returns its stdout.
    pub fn stdout_of(&self, args: &[&str]) -> String {
        stdout_str(&self.run_ok(args))
    }

    /// `run --bundle BUNDLE ID` in the foreground.
    pub fn run_container(&self) -> Output {
        self.husk(&["run", "--bundle", self.bundle_str(), &self.id])
    }

    /// Runs `sh -c script` in a container, asserts it exited 0, and returns
    /// its stdout.
    pub fn run_sh(&self, script: &str) -> String {
        self.set_sh(script);
        let out = self.run_container();
        assert!(
            out.status.success(),
            "container script failed: {script}\n{}",
            describe(&out)
        );
        stdout_str(&out)
    }

    /// `create --bundle BUNDLE ID`, asserting success.
    pub fn create(&self) -> Output {
        self.create_id(&self.id)
    }

    pub fn create_id(&self, id: &str) -> Output {
        self.run_ok(&["create", "--bundle", self.bundle_str(), id])
    }

    /// The state of container `id`, asserting `state` succeeds.
    pub fn state_of(&self, id: &str) -> Value {
        let out = self.run_ok(&["state", id]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("state of {id} is not JSON ({e}):\n{}", describe(&out)))
    }

    pub fn state(&self) -> Value {
        self.state_of(&self.id)
    }

    pub fn status_of(&self, id: &str) -> String {
        self.state_of(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until container `id` has status `want`; panics otherwise.
    pub fn wait_status(&self, id: &str, want: &str) {
        let mut last = String::new();
        let ok = wait_until(STATE_TIMEOUT, || {
            last = self.status_of(id);
            last == want
        });
        assert!(
            ok,
            "container {id} did not become {want} (last status: {last})"
        );
    }

    /// Creates and starts a container running `sleep 1000`; returns its pid.
    pub fn start_sleeper(&self) -> i32 {
        self.set_args(&["sleep", "1000"]);
        self.create();
        self.run_ok(&["start", &self.id]);
        let st = self.state();
        assert_eq!(st["status"], "running", "state after start: {st}");
        st["pid"].as_i64().expect("pid") as i32
    }

    /// Best-effort removal of everything the fixture may have left; safe to
    /// call more than once.
    pub fn cleanup(&self) {
        let ids = self.ids.borrow().clone();
        cleanup_dir(&self.dir, &self.root, &ids);
    }
}

/// Best-effort removal of a fixture directory `dir`: deletes containers
/// `ids` from the state directory `root` with the runtime, kills what is left
/// of them (in their cgroups, or rooted under `dir`), unmounts whatever is
/// mounted under `dir`, removes their cgroups and then `dir`.
pub fn cleanup_dir(dir: &Path, root: &Path, ids: &[String]) {
    let rt = runtime();
    for id in ids {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            continue;
        }
        if root.is_dir() {
            let (out, err) = (dir.join("cleanup.out"), dir.join("cleanup.err"));
            if let (Ok(o), Ok(e)) = (fs::File::create(&out), fs::File::create(&err)) {
                if let Ok(mut child) = Command::new(&rt)
                    .arg("--root")
                    .arg(root)
                    .args(["delete", "--force", id])
                    .stdin(Stdio::null())
                    .stdout(o)
                    .stderr(e)
                    .spawn()
                {
                    if wait_timeout(&mut child, COMMAND_TIMEOUT).is_none() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                }
            }
        }
    }
    // Processes the runtime failed to kill: those in the fixture's own
    // cgroups, and those whose root is in its bundle. All were started by
    // the tests.
    for id in ids {
        for d in cgroup_dirs_of(id) {
            kill_cgroup(&d);
        }
    }
    for pid in processes_under(dir) {
        // SAFETY: plain syscall.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    umount_under(dir);
    for id in ids {
        for d in cgroup_dirs_of(id) {
            remove_cgroup(&d);
        }
    }
    // Only remove the files once nothing is mounted under them: never
    // recurse into a bind-mounted host directory.
    if mounts_under(dir).is_empty() {
        let _ = fs::remove_dir_all(dir);
    } else {
        eprintln!(
            "warning: mounts left under {}, not removing it",
            dir.display()
        );
    }
}

/// Cleans up what test processes that no longer exist (killed before their
/// fixtures were dropped) left in TEST_BASE. Runs once per process.
fn sweep_stale() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let Ok(rd) = fs::read_dir(TEST_BASE) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // t-<name>-<pid>-<n> or busybox-<pid>
            let pid = if let Some(rest) = name.strip_prefix("busybox-") {
                rest.parse::<u32>().ok()
            } else if name.starts_with("t-") {
                name.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok())
            } else {
                None
            };
            let Some(pid) = pid else { continue };
            if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            let dir = e.path();
            let root = dir.join("root");
            let mut ids = vec![name.clone()];
            if let Ok(rd) = fs::read_dir(&root) {
                ids.extend(
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned()),
                );
            }
            cleanup_dir(&dir, &root, &ids);
        }
    });
}

/// SIGKILLs the processes of the cgroup directory `d` (one of ours).
fn kill_cgroup(d: &Path) {
    for _ in 0..50 {
        let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        let pids: Vec<i32> = procs
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: plain syscall.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Removes the cgroup directory `d` (children first), retrying while its
/// processes finish exiting.
fn remove_cgroup(d: &Path) {
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup(&e.path());
            }
        }
    }
    for _ in 0..100 {
        match fs::remove_dir(d) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.cleanup();
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        *live -= 1;
        if *live == 0 {
            // Tolerates other processes' tests still using it (EBUSY).
            for m in cgroup_mounts() {
                let _ = fs::remove_dir(m.join(CGROUP_PARENT.trim_start_matches('/')));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Assertions on what a container leaves behind

/// What the runtime left of container `id`, if anything: its state
/// directory, a cgroup, or a process in the fixture's bundle.
pub fn leftovers_of(fx: &Fixture, id: &str) -> Option<String> {
    let st = fx.state_dir(id);
    if st.exists() {
        return Some(format!("state directory {} left behind", st.display()));
    }
    let cgs = cgroup_dirs_of(id);
    if !cgs.is_empty() {
        return Some(format!("cgroups left behind: {cgs:?}"));
    }
    let mut procs = Vec::new();
    // A dying process may linger for a moment after the runtime returns.
    wait_until(Duration::from_secs(2), || {
        procs = processes_under(&fx.dir)
            .into_iter()
            .filter(|p| process_alive(*p))
            .collect();
        procs.is_empty()
    });
    if !procs.is_empty() {
        return Some(format!("processes left behind: {procs:?}"));
    }
    None
}

/// Asserts the runtime left nothing of container `id` behind: no state
/// directory, no cgroup, no process in the fixture's bundle.
pub fn assert_nothing_left(fx: &Fixture, id: &str) {
    if let Some(left) = leftovers_of(fx, id) {
        panic!("{left}");
    }
}

/// Asserts a command failed the way runtime errors should: non-zero status,
/// an error message on stderr (exactly one line, for husk).
pub fn assert_clean_error(out: &Output) {
    assert!(
        !out.status.success(),
        "unexpectedly succeeded:\n{}",
        describe(out)
    );
    assert!(
        out.status.code().is_some(),
        "killed by a signal:\n{}",
        describe(out)
    );
    let err = stderr_str(out);
    assert!(
        !err.trim().is_empty(),
        "no error message on stderr:\n{}",
        describe(out)
    );
    if is_husk() {
        let lines: Vec<&str> = err.trim_end().lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected exactly one line on stderr:\n{}",
            describe(out)
        );
    }
}

/// Whether `p` is a character device with the given major and minor numbers.
pub fn is_char_dev(p: &Path, major: u64, minor: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    match fs::metadata(p) {
        Ok(m) => {
            let rdev = m.rdev();
            m.file_type().is_char_device()
                && libc::major(rdev) as u64 == major
                && libc::minor(rdev) as u64 == minor
        }
        Err(_) => false,
    }
}

/// Parses `Key:\tvalue` lines (as in /proc/self/status) into (key, value).
pub fn status_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// Lines of a container's /proc/self/mountinfo whose mount point is `target`.
pub fn mountinfo_lines<'a>(mountinfo: &'a str, target: &str) -> Vec<&'a str> {
    mountinfo
        .lines()
        .filter(|l| l.split(' ').nth(4).map(unescape_mountinfo).as_deref() == Some(target))
        .collect()
}

/// A parsed mountinfo line.
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub root: String,
    pub target: String,
    /// Per-mount options (ro, nosuid, ...).
    pub options: Vec<String>,
    /// Optional fields (shared:N, master:N, ...).
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Superblock options (size=..., mode=...).
    pub super_options: Vec<String>,
}

pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut v = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < 6 || sep + 3 > f.len() {
            continue;
        }
        v.push(MountInfo {
            root: unescape_mountinfo(f[3]),
            target: unescape_mountinfo(f[4]),
            options: f[5].split(',').map(String::from).collect(),
            optional: f[6..sep].iter().map(|s| s.to_string()).collect(),
            fstype: f[sep + 1].to_string(),
            source: f.get(sep + 2).map(|s| s.to_string()).unwrap_or_default(),
            super_options: f
                .get(sep + 3)
                .map(|s| s.split(',').map(String::from).collect())
                .unwrap_or_default(),
        });
    }
    v
}

/// The last (topmost) mount at `target` in a parsed mountinfo.
pub fn find_mount<'a>(mounts: &'a [MountInfo], target: &str) -> Option<&'a MountInfo> {
    mounts.iter().rev().find(|m| m.target == target)
}

/// Splits `text` at a marker line `==name==` produced by scripts that print
/// several sections: returns the section named `name`.
pub fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let marker = format!("=={name}==\n");
    let start = text
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("no section {name} in output:\n{text}"));
    let rest = &text[start..];
    let end = rest.find("\n==").map(|i| i + 1).unwrap_or(rest.len());
    &rest[..end]
}

// ---------------------------------------------------------------------------
// Console sockets, extra fds, other runtime binaries

/// What a console-socket receiver got: every fd of every SCM_RIGHTS
/// control message of the first message, and its payload.
pub struct ConsoleMsg {
    pub fds: Vec<std::os::fd::OwnedFd>,
    /// The payload bytes (runc sends the terminal's name).
    pub payload: String,
    /// How many SCM_RIGHTS control messages there were.
    pub rights_msgs: usize,
}

/// A unix socket listening at `path` (the `--console-socket` of runc's
/// protocol): a thread accepts one connection and receives one message.
pub struct ConsoleSocket {
    pub path: PathBuf,
    rx: std::sync::mpsc::Receiver<Result<ConsoleMsg, String>>,
}

impl ConsoleSocket {
    /// Binds `path` and accepts, in a thread, for at most COMMAND_TIMEOUT.
    pub fn listen(path: &Path) -> ConsoleSocket {
        use std::os::unix::net::UnixListener;
        let _ = fs::remove_file(path);
        let listener = UnixListener::bind(path)
            .unwrap_or_else(|e| panic!("bind console socket {}: {e}", path.display()));
        listener.set_nonblocking(true).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let start = Instant::now();
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if start.elapsed() > COMMAND_TIMEOUT {
                            let _ = tx.send(Err("nobody connected".to_string()));
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("accept: {e}")));
                        return;
                    }
                }
            };
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(COMMAND_TIMEOUT)).unwrap();
            let _ = tx.send(recv_fds(&stream));
        });
        ConsoleSocket {
            path: path.to_path_buf(),
            rx,
        }
    }

    /// The message received (waits for at most `timeout`).
    pub fn wait(&self, timeout: Duration) -> Result<ConsoleMsg, String> {
        self.rx
            .recv_timeout(timeout)
            .unwrap_or_else(|e| Err(format!("no message: {e}")))
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// recvmsg(2) of one message with room for several SCM_RIGHTS fds.
fn recv_fds(stream: &std::os::unix::net::UnixStream) -> Result<ConsoleMsg, String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut buf = [0u8; 4096];
    let mut cbuf = [0u64; 64]; // 512 bytes, aligned
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: the buffers outlive the call.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(format!("recvmsg: {}", std::io::Error::last_os_error()));
    }
    let mut fds = Vec::new();
    let mut rights_msgs = 0;
    // SAFETY: walking the control buffer the kernel filled, with the libc
    // CMSG macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                rights_msgs += 1;
                let data = libc::CMSG_DATA(c) as *const i32;
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / 4 {
                    fds.push(OwnedFd::from_raw_fd(*data.add(i)));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err("control message truncated".to_string());
    }
    Ok(ConsoleMsg {
        fds,
        payload: String::from_utf8_lossy(&buf[..n as usize]).into_owned(),
        rights_msgs,
    })
}

/// Reads a pty master until the other side is closed (EIO), `until`
/// returns true for what was read so far, or `timeout` passes.
pub fn read_pty(
    master: &std::os::fd::OwnedFd,
    timeout: Duration,
    mut until: impl FnMut(&str) -> bool,
) -> String {
    use std::os::fd::AsRawFd;
    let fd = master.as_raw_fd();
    let start = Instant::now();
    let mut out = Vec::new();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(200) as i32) };
        if r < 0 {
            break;
        }
        if r == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: reading into a local buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break; // EIO: no slave open any more
        }
        out.extend_from_slice(&buf[..n as usize]);
        if until(&String::from_utf8_lossy(&out)) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `fd` is a pty master (`/dev/ptmx` or `/dev/pts/ptmx`).
pub fn is_pty_master(fd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCGPTN writes one int.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) == 0 }
}

/// A pipe (read end, write end), both close-on-exec.
pub fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two ints.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: fresh fds we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Reads what is available in a pipe (read end) without blocking longer
/// than `timeout`; stops at EOF.
pub fn read_pipe(fd: &std::os::fd::OwnedFd, timeout: Duration) -> String {
    read_pty(fd, timeout, |_| false)
}

impl Fixture {
    /// Runs `PROGRAM --root ROOT args...` where PROGRAM is `program`
    /// (another binary than runtime(), e.g. a copy), with `setup` applied
    /// to the command (extra fds, environment).
    pub fn husk_custom(
        &self,
        program: &str,
        args: &[&str],
        setup: impl FnOnce(&mut Command),
    ) -> Output {
        if self.dirty.get() {
            self.write_config();
        }
        let (out, err) = self.next_log_paths();
        let mut cmd = Command::new(program);
        cmd.arg("--root").arg(self.root_str()).args(args);
        setup(&mut cmd);
        run_with_timeout(cmd, &out, &err, COMMAND_TIMEOUT)
    }

    /// Runs `RUNTIME --root ROOT args...` with `fd` as the runtime's fd 3
    /// (for --preserve-fds 1).
    pub fn husk_with_fd3(&self, args: &[&str], fd: &std::os::fd::OwnedFd) -> Output {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let raw = fd.as_raw_fd();
        self.husk_custom(&runtime(), args, move |cmd| {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if raw == 3 {
                        // dup2 onto itself keeps CLOEXEC: clear it.
                        let fl = libc::fcntl(3, libc::F_GETFD);
                        libc::fcntl(3, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
                    } else if libc::dup2(raw, 3) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        })
    }

    /// `run --detach` of `sleep 1000`; returns the init's pid.
    pub fn run_detached_sleeper(&self) -> i32 {
        self.set_args(&["sleep", "1000"]);
        self.run_ok(&["run", "--detach", "--bundle", self.bundle_str(), &self.id]);
        let st = self.state();
        assert_eq!(st["status"], "running", "state after run -d: {st}");
        st["pid"].as_i64().expect("pid") as i32
    }

    /// `exec ID args...` of the fixture's container (args may start with
    /// exec's flags).
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut full = vec!["exec"];
        full.extend_from_slice(args);
        self.husk(&full)
    }
}

/// A copy of the runtime binary in the fixture (so that a successful attack
/// damages only the copy), with the same file name (is_husk looks at it).
pub fn runtime_copy(fx: &Fixture) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let src = runtime_path();
    let dir = fx.dir.join("bin");
    fs::create_dir_all(&dir).unwrap();
    let dst = dir.join(src.file_name().unwrap());
    fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
    dst
}

/// The path of the runtime binary under test (resolved on PATH).
pub fn runtime_path() -> PathBuf {
    let rt = runtime();
    if rt.contains('/') {
        return PathBuf::from(rt);
    }
    for d in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(d).join(&rt);
        if p.is_file() {
            return p;
        }
    }
    for d in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let p = Path::new(d).join(&rt);
        if p.is_file() {
            return p;
        }
    }
    panic!("runtime {rt} not found");
}

/// Whether a line looks like an RFC 3339 timestamp
/// (`YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !(b[10] == b'T' || b[10] == b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == st {
            return false;
        }
    }
    match &s[i..] {
        "Z" | "z" => true,
        tz => {
            let t = tz.as_bytes();
            t.len() == 6
                && (t[0] == b'+' || t[0] == b'-')
                && t[1..3].iter().all(u8::is_ascii_digit)
                && t[3] == b':'
                && t[4..6].iter().all(u8::is_ascii_digit)
        }
    }
}

/// A shell snippet printing the numbers of the shell's open fds on one
/// line (`0 1 2 `), without counting the fd the glob itself opens (closed
/// by the time `[ -e ]` runs) or pipes of command substitutions.
pub const SH_LIST_FDS: &str =
    "for f in /proc/$$/fd/*; do [ -e \"$f\" ] && echo -n \"${f##*/} \"; done; echo";

/// A shell snippet printing `N TARGET` for each of the shell's open fds.
pub const SH_LIST_FD_TARGETS: &str =
    "for f in /proc/$$/fd/*; do [ -e \"$f\" ] && echo \"${f##*/} $(readlink \"$f\")\"; done; true";

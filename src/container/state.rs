//! state.json: what husk remembers about a container between commands.
//! The status is never stored: it is derived from the kernel on each load.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct State {
    pub id: String,
    /// Host pid of the container's init (0 before it exists).
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (/proc/PID/stat field
    /// 22): a recycled pid never matches it.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The cgroup path relative to each hierarchy's mount point.
    pub cgroup_path: String,
    /// The init shares the host's (or another) pid namespace: killing it
    /// does not kill the rest, so kill --all and delete use the cgroup.
    #[serde(default)]
    pub shared_pid_ns: bool,
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The runtime's own settings to apply to `exec` processes.
    #[serde(default)]
    pub rootless: bool,
    /// `create --no-new-keyring`: `exec` keeps the caller's session
    /// keyring too.
    #[serde(default)]
    pub no_new_keyring: bool,
    /// Set while `create` runs. If it is still set when nobody holds the
    /// lock, the creator died half-way: the container counts as stopped
    /// and `delete` kills whatever it left.
    #[serde(default)]
    pub creating: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::oci::{OciState, OCI_VERSION};

impl State {
    /// The container's cgroup, as this state recorded it.
    pub fn cgroup(&self) -> crate::cgroups::Cgroup {
        crate::cgroups::Cgroup::recorded(&self.cgroup_path, self.rootless)
    }
}

impl State {
    pub fn to_oci(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: OCI_VERSION,
            id: &self.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status: status.as_str(),
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }

    pub fn load(dir: &Path) -> Result<State> {
        use std::io::Read;
        let p = dir.join("state.json");
        // No statx for a size hint: a state file is a few hundred bytes.
        // (File::read_to_end would ask for it with statx and lseek.)
        let mut data = vec![0u8; 4096];
        let mut len = 0;
        let mut f = std::fs::File::open(&p).with_context(|| format!("read {}", p.display()))?;
        loop {
            if len == data.len() {
                data.resize(len * 2, 0);
            }
            match f.read(&mut data[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).with_context(|| format!("read {}", p.display())),
            }
        }
        data.truncate(len);
        Self::parse(&data).with_context(|| format!("parse {}", p.display()))
    }

    /// Parse the bytes of a state.json. A cgroup path that climbs out of
    /// the hierarchy (`..`) is refused: `delete` would remove what it names.
    pub fn parse(data: &[u8]) -> Result<State> {
        let st: State = serde_json::from_slice(data)?;
        if Path::new(&st.cgroup_path)
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            anyhow::bail!("cgroup_path {:?} has a .. component", st.cgroup_path);
        }
        Ok(st)
    }

    /// Write state.json atomically: a temp file, fsync-free, then rename.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let data = serde_json::to_vec(self).context("serialize state")?;
        write_atomic(&dir.join("state.json"), &data, super::STATE_MODE)
    }
}

/// Write `data` to `path` through a temporary file and rename(2), so that a
/// reader sees either the old or the new content, never a torn one. The
/// file gets `mode` (less the umask), whatever a stale temp file had.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
    };
    let write = || -> std::io::Result<()> {
        let mut f = match open() {
            // Left by a writer that died with our pid: its mode is not ours.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp)?;
                open()?
            }
            r => r?,
        };
        f.write_all(data)?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("write {}", path.display()))
    })
}

/// What /proc/PID/stat says about a process: (state char, start time).
pub fn proc_stat(pid: i32) -> Option<(u8, u64)> {
    use std::io::Read;
    // One read(2) into a buffer that holds any stat line (52 numbers and a
    // 16-byte name), instead of std::fs::read's statx and growing reads:
    // `list` does this for every container.
    let mut buf = [0u8; 2048];
    let mut f = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let n = f.read(&mut buf).ok()?;
    let data = &buf[..n];
    // The command name may hold spaces and parens: fields start after the last ')'.
    let close = data.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(data.get(close + 2..)?).ok()?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.bytes().next()?;
    // `state` is field 3; starttime is field 22, i.e. 19 further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid` is the same live (non-zombie) process that had `start_time`.
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some((st, start)) => st != b'Z' && st != b'X' && start == start_time,
        None => false,
    }
}

/// Write `path` (mode `mode` less the umask) so that no temporary file
/// outlives a writer killed at any instant, for files outside husk's state
/// directory (the pid file). The data goes to an unnamed O_TMPFILE inode,
/// linked into place once complete: a writer that dies before leaves
/// nothing. Only when `path` already exists is a named temp needed (link
/// cannot replace), for the two syscalls between its link and the rename;
/// the writer holds a lock on it, so a later writer removes the temps of
/// dead ones. On a filesystem without O_TMPFILE the named temp is used
/// throughout.
pub fn write_no_leftover(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_no_leftover_inner(path, data, mode)
        .map_err(|e| anyhow::Error::new(e).context(format!("write {}", path.display())))
}

fn write_no_leftover_inner(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{AtFlags, Flock, FlockArg, OFlag, AT_FDCWD};
    use nix::sys::stat::Mode;
    use std::os::fd::{AsRawFd, OwnedFd};

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EISDIR))?;
    let tmp = dir.join(format!(
        ".{}.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mode = Mode::from_bits_truncate(mode);
    let anon = match nix::fcntl::open(
        dir,
        OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        mode,
    ) {
        Ok(fd) => Some(fd),
        // No O_TMPFILE on this filesystem.
        Err(Errno::EOPNOTSUPP | Errno::EISDIR | Errno::EINVAL) => None,
        Err(e) => return Err(e.into()),
    };
    let named = anon.is_none();
    let fd: OwnedFd = match anon {
        Some(fd) => fd,
        None => {
            sweep_dead_temps(dir, &name.to_string_lossy());
            nix::fcntl::open(
                &tmp,
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                mode,
            )?
        }
    };
    // Held until we return: a temp whose lock is free is a dead writer's.
    let fd = Flock::lock(fd, FlockArg::LockExclusive).map_err(|(_, e)| e)?;
    let unlink_tmp = |r: std::io::Result<()>| {
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r
    };
    let mut off = 0;
    while off < data.len() {
        match nix::unistd::write(&*fd, &data[off..]) {
            Ok(n) => off += n,
            Err(Errno::EINTR) => {}
            Err(e) => return unlink_tmp(Err(e.into())),
        }
    }
    if named {
        crate::crash_point("pidfile:before-rename");
        return unlink_tmp(std::fs::rename(&tmp, path));
    }
    crate::crash_point("pidfile:before-link");
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    match nix::unistd::linkat(
        AT_FDCWD,
        proc_path.as_str(),
        AT_FDCWD,
        path,
        AtFlags::AT_SYMLINK_FOLLOW,
    ) {
        Ok(()) => return Ok(()),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(e.into()),
    }
    // `path` exists: link under a temp name, then rename over it.
    sweep_dead_temps(dir, &name.to_string_lossy());
    nix::unistd::linkat(
        AT_FDCWD,
        proc_path.as_str(),
        AT_FDCWD,
        &tmp,
        AtFlags::AT_SYMLINK_FOLLOW,
    )?;
    crate::crash_point("pidfile:before-rename");
    unlink_tmp(std::fs::rename(&tmp, path))
}

/// Remove `.<name>.<digits>` in `dir` left by a writer of `<name>` that
/// died between its link and its rename: a regular file nobody holds a
/// lock on (write_no_leftover locks its temp; husk before it used the
/// same names, without lock, for temps that were never valid once their
/// writer was gone).
fn sweep_dead_temps(dir: &Path, name: &str) {
    use nix::fcntl::{Flock, FlockArg, OFlag};
    use std::os::unix::fs::MetadataExt;
    let prefix = format!(".{name}.");
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let f = e.file_name();
        let Some(rest) = f.to_str().and_then(|s| s.strip_prefix(&prefix)) else {
            continue;
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let p = e.path();
        let Ok(fd) = nix::fcntl::open(
            &p,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) else {
            continue;
        };
        let Ok(st) = nix::sys::stat::fstat(&fd) else {
            continue;
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            continue;
        }
        let Ok(_lock) = Flock::lock(fd, FlockArg::LockExclusiveNonblock) else {
            continue; // its writer is alive
        };
        // Still the inode we locked (not a new writer's under that name).
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.ino() == st.st_ino && m.dev() == st.st_dev)
        {
            let _ = std::fs::remove_file(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        State {
            id: "c1".into(),
            pid: 1234,
            pid_start_time: 98765,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-12-06T00:00:00.000000000Z".into(),
            owner: "root".into(),
            annotations: HashMap::from([("k".to_string(), "v".to_string())]),
            cgroup_path: "/husk/c1".into(),
            rootless: true,
            ..Default::default()
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let st = sample();
        st.save(t.path()).unwrap();
        let back = State::load(t.path()).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&st).unwrap()
        );
        // Nothing but state.json is left (no temp file).
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.path().join("state.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "state is not readable by others: {mode:o}");
    }

    #[test]
    fn old_state_without_the_newer_fields_loads() {
        // A state.json of an older husk: only the fields it always had.
        let old = br#"{"id":"x","pid":7,"pid_start_time":1,"bundle":"/b","rootfs":"/b/r",
            "created":"t","cgroup_path":"/husk/x"}"#;
        let st = State::parse(old).unwrap();
        assert_eq!(st.id, "x");
        assert!(st.owner.is_empty() && st.annotations.is_empty());
        assert!(!st.shared_pid_ns && !st.rootless && !st.creating);
        assert!(st.hooks.is_none());
        // Unknown fields of a newer husk are ignored.
        let newer = br#"{"id":"x","pid":7,"pid_start_time":1,"bundle":"/b","rootfs":"/b/r",
            "created":"t","cgroup_path":"","future":{"a":1}}"#;
        assert!(State::parse(newer).is_ok());
    }

    #[test]
    fn partial_or_hostile_states_are_refused() {
        let e = State::parse(br#"{"id":"x"}"#).unwrap_err().to_string();
        assert!(e.contains("missing field"), "{e}");
        assert!(State::parse(b"").is_err());
        assert!(State::parse(br#"{"id":"x","pid":"7"}"#).is_err());
        let e = State::parse(
            br#"{"id":"x","pid":7,"pid_start_time":1,"bundle":"/b","rootfs":"/b/r",
            "created":"t","cgroup_path":"/husk/../../etc"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("has a .. component"), "{e}");
        // A missing file names the path.
        let t = tempfile::tempdir().unwrap();
        let e = State::load(t.path()).unwrap_err().to_string();
        assert!(e.starts_with("read ") && e.ends_with("state.json"), "{e}");
        std::fs::write(t.path().join("state.json"), "{").unwrap();
        let e = State::load(t.path()).unwrap_err().to_string();
        assert!(e.starts_with("parse ") && e.ends_with("state.json"), "{e}");
    }

    #[test]
    fn load_reads_a_state_bigger_than_the_first_buffer() {
        let t = tempfile::tempdir().unwrap();
        let mut st = sample();
        for i in 0..500 {
            st.annotations.insert(format!("key{i}"), "v".repeat(20));
        }
        st.save(t.path()).unwrap();
        assert!(
            std::fs::metadata(t.path().join("state.json"))
                .unwrap()
                .len()
                > 8192
        );
        assert_eq!(State::load(t.path()).unwrap().annotations.len(), 501);
    }

    #[test]
    fn oci_state_json_is_runcs() {
        let st = sample();
        let v = serde_json::to_value(st.to_oci(Status::Running)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ociVersion": "1.2.0", "id": "c1", "pid": 1234,
                "status": "running", "bundle": "/b", "rootfs": "/b/rootfs",
                "created": "2026-12-06T00:00:00.000000000Z", "owner": "root",
                "annotations": {"k": "v"}})
        );
        // Stopped: pid 0; no annotations: the key is left out.
        let mut st = sample();
        st.annotations.clear();
        let v = serde_json::to_value(st.to_oci(Status::Stopped)).unwrap();
        assert_eq!(v["pid"], 0);
        assert_eq!(v["status"], "stopped");
        assert!(v.get("annotations").is_none());
        let names: Vec<String> = [Status::Creating, Status::Created, Status::Paused]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, ["creating", "created", "paused"]);
    }

    #[test]
    fn proc_stat_and_liveness() {
        let me = std::process::id() as i32;
        let (state, start) = proc_stat(me).unwrap();
        assert!(state == b'R' || state == b'S', "{}", state as char);
        assert!(is_alive(me, start));
        // Same pid, other start time: a recycled pid.
        assert!(!is_alive(me, start + 1));
        assert!(!is_alive(0, 0));
        assert!(!is_alive(-5, 0));
        assert_eq!(proc_stat(i32::MAX), None);
    }

    #[test]
    fn write_atomic_replaces_and_sets_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        write_atomic(&p, b"one", 0o600).unwrap();
        // A stale temp of a writer that had our pid, with another mode.
        let stale = t.path().join(format!(".f.{}", std::process::id()));
        std::fs::write(&stale, "junk").unwrap();
        std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o666)).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!stale.exists());
        let e = write_atomic(&t.path().join("no/such/f"), b"x", 0o600)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("write ") && e.ends_with("no/such/f"), "{e}");
    }

    #[test]
    fn write_no_leftover_creates_replaces_and_sweeps_dead_temps() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("pid");
        write_no_leftover(&p, b"1", 0o644).unwrap();
        write_no_leftover(&p, b"22", 0o644).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"22");
        // A dead writer's temp (nobody holds its lock) is removed; a file
        // that only looks similar is not.
        std::fs::write(t.path().join(".pid.12345"), "x").unwrap();
        std::fs::write(t.path().join(".pid.12a"), "x").unwrap();
        sweep_dead_temps(t.path(), "pid");
        assert!(!t.path().join(".pid.12345").exists());
        assert!(t.path().join(".pid.12a").exists());
        let mut names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        assert_eq!(names, [".pid.12a", "pid"]);
    }
}

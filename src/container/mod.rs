//! A container on disk: its state directory under `--root`, its lock, and
//! its status derived from the kernel.

pub mod state;

use crate::error::HuskError;
use anyhow::{bail, Context, Result};
use state::{State, Status};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub const FIFO: &str = "exec.fifo";
/// Mode of a `--root` directory husk creates (runc's).
pub const ROOT_MODE: u32 = 0o700;
/// Mode of a container's state directory (runc's).
pub const DIR_MODE: u32 = 0o711;
/// Mode of state.json: it holds the annotations and the hooks' env.
pub const STATE_MODE: u32 = 0o600;
/// Mode of exec.fifo. runc's is 0622 because its init opens it for
/// writing as the container's root; husk's init reads it through an fd
/// opened before the clone and `start` writes it, so only root needs it:
/// with 0622 any user could start a created container.
pub const FIFO_MODE: u32 = 0o600;

pub struct Container {
    pub dir: PathBuf,
    pub state: State,
    /// Holds the flock on the state directory while we own it.
    _lock: Option<OwnedFd>,
}

/// Checked by the plan; here for the commands that take an id.
pub use crate::spec::validate_id;

fn open_dir(dir: &Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map(OwnedFd::from)
}

fn flock(fd: &OwnedFd, op: libc::c_int) -> bool {
    // SAFETY-free: nix's flock takes a RawFd and only changes lock state.
    #[allow(deprecated)]
    nix::fcntl::flock(
        fd.as_raw_fd(),
        match op {
            libc::LOCK_SH => nix::fcntl::FlockArg::LockSharedNonblock,
            libc::LOCK_EX => nix::fcntl::FlockArg::LockExclusive,
            _ => nix::fcntl::FlockArg::LockExclusiveNonblock,
        },
    )
    .is_ok()
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.root_cause()
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// `--root` may be missing (it is made on create) but not something else
/// than a directory.
pub fn check_root(root: &Path) -> Result<()> {
    match std::fs::metadata(root) {
        Ok(md) if !md.is_dir() => bail!("--root {}: not a directory", root.display()),
        _ => Ok(()),
    }
}

impl Container {
    /// Make the state directory of a new container, locked. EEXIST means
    /// the id is taken.
    pub fn create_dir(root: &Path, id: &str) -> Result<Container> {
        validate_id(id)?;
        check_root(root)?;
        // Like runc: a root husk makes is for root only (0700); a
        // container's directory can be traversed (0711) but not listed,
        // and state.json inside is 0600. An existing root keeps its mode.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(ROOT_MODE)
            .create(root)
            .with_context(|| format!("create root directory {}", root.display()))?;
        let dir = root.join(id);
        match std::fs::DirBuilder::new().mode(DIR_MODE).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(HuskError::Exists(id.to_string()).into())
            }
            Err(e) => {
                return Err(e).with_context(|| format!("create state directory {}", dir.display()))
            }
        }
        let fd = open_dir(&dir).with_context(|| format!("open {}", dir.display()))?;
        flock(&fd, libc::LOCK_EX);
        Ok(Container {
            dir,
            state: State {
                id: id.to_string(),
                ..Default::default()
            },
            _lock: Some(fd),
        })
    }

    /// Load a container, holding its exclusive lock (for commands that
    /// change it). A state directory without a readable state.json (left by
    /// a crash) loads as a stopped container so that delete can clean it.
    pub fn load_locked(root: &Path, id: &str) -> Result<Container> {
        Self::load_inner(root, id, true)
    }

    /// Load a container for reading only.
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        Self::load_inner(root, id, false)
    }

    fn load_inner(root: &Path, id: &str, lock: bool) -> Result<Container> {
        validate_id(id).map_err(|_| HuskError::NotExist(id.to_string()))?;
        let dir = root.join(id);
        let lock_fd = if lock {
            let fd = match open_dir(&dir) {
                Ok(fd) => fd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(HuskError::NotExist(id.to_string()).into())
                }
                Err(e) => {
                    check_root(root)?;
                    return Err(e).with_context(|| format!("open {}", dir.display()));
                }
            };
            flock(&fd, libc::LOCK_EX);
            Some(fd)
        } else {
            None
        };
        // Unlocked (`state`, `list`), the directory is not opened: only
        // when state.json cannot be read does it matter whether it exists.
        // A missing state.json is a create killed between mkdir and the
        // first save: nothing else exists yet, so it reads as stopped and
        // `delete` removes the directory (runc does the same). One that
        // exists but does not parse is refused: its process and cgroup are
        // unknown, and deleting the directory would orphan them.
        let state = match State::load(&dir) {
            Ok(s) => s,
            Err(e) if !is_not_found(&e) => return Err(e),
            Err(_) if !lock && !dir.is_dir() => {
                check_root(root)?;
                return Err(HuskError::NotExist(id.to_string()).into());
            }
            Err(_) => State {
                id: id.to_string(),
                ..Default::default()
            },
        };
        Ok(Container {
            dir,
            state,
            _lock: lock_fd,
        })
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// The status, derived from the kernel (runc's refreshState).
    pub fn status(&self) -> Status {
        if self.state.creating {
            if self._lock.is_none() && self.locked_by_other() {
                return Status::Creating;
            }
            return Status::Stopped;
        }
        if self.state.pid <= 0 {
            // A create in progress holds the exclusive lock.
            if self._lock.is_none() {
                if let Ok(fd) = open_dir(&self.dir) {
                    if !flock(&fd, libc::LOCK_SH) {
                        return Status::Creating;
                    }
                }
            }
            return Status::Stopped;
        }
        if !state::is_alive(self.state.pid, self.state.pid_start_time) {
            return Status::Stopped;
        }
        if self.dir.join(FIFO).exists() {
            return Status::Created;
        }
        if self.state.cgroup().is_frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    /// Whether another process holds the state directory's lock.
    fn locked_by_other(&self) -> bool {
        match open_dir(&self.dir) {
            Ok(fd) => !flock(&fd, libc::LOCK_SH),
            Err(_) => false,
        }
    }

    /// Raw fd of the state directory lock we hold, if any.
    pub fn lock_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self._lock.as_ref().map(|f| f.as_raw_fd())
    }

    /// Give up the lock early (a foreground `run` must not block `kill`).
    pub fn unlock(&mut self) {
        self._lock = None;
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(FIFO)
    }

    /// Remove the state directory.
    pub fn remove_dir(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("remove {}", self.dir.display())),
        }
    }
}

//! The few sentinel errors whose words callers match on (containerd's
//! `checkKillError`, go-runc): everything else is a plain `anyhow` chain.

use std::fmt;

#[derive(Debug)]
pub enum HuskError {
    /// Unknown container id: containerd matches "does not exist".
    NotExist(String),
    /// Duplicate id on create.
    Exists(String),
    /// The container is not running (kill of a stopped container, exec, ...).
    NotRunning(String),
    /// Operation not allowed in the container's current status.
    WrongState(String),
    /// Fail with this exit code (exec: 255 for any failure, as runc).
    Exit(i32, String),
}

impl fmt::Display for HuskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HuskError::NotExist(id) => write!(f, "container {id} does not exist"),
            HuskError::Exists(id) => write!(f, "container with id {id} already exists"),
            HuskError::NotRunning(id) => {
                write!(f, "container {id} is not running: container not running")
            }
            HuskError::WrongState(msg) | HuskError::Exit(_, msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for HuskError {}

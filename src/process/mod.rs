//! Creating the container's init: the clone, the parent's side of the
//! setup conversation, and the child's recipe.

pub mod exec;
pub mod fifo;
pub mod init;
pub mod parent;
pub mod rootfs;
pub mod setup;
pub mod sync;

use crate::spec::Plan;
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::OwnedFd;

/// What the child needs. Never serialized: the child inherits it in the
/// copy of our memory that clone gives it.
pub struct InitArgs<'a> {
    pub id: &'a str,
    /// The checked config (its cgroup path resolved).
    pub plan: &'a Plan,
    /// exec.fifo, opened O_RDWR: `start` writes one byte to it.
    pub fifo: Option<OwnedFd>,
    /// Connected `--console-socket`.
    pub console: Option<OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Namespaces to join, in join order.
    pub joins: Vec<(LinuxNamespaceType, OwnedFd)>,
    /// The clone itself created every new namespace (no joins, no time
    /// namespace); otherwise the child unshares and may fork once more.
    pub direct: bool,
    /// The parent's flock on the state directory: the child closes its
    /// copy at once, or the lock would live as long as the init.
    pub lock_fd: Option<std::os::fd::RawFd>,
    /// Detached idmapped trees made by the parent, by index in `mounts`.
    pub idmapped: Vec<Option<OwnedFd>>,
    /// Stay dumpable until the parent has written our id maps (it is not
    /// root: see init::child_main).
    pub dumpable_until_maps: bool,
    /// `linux.seccomp`, compiled by the parent.
    pub seccomp: Option<&'a crate::linux::seccomp::Program>,
}

//! husk: an OCI container runtime, a drop-in replacement for runc.
//!
//! Layout: `cli` parses runc's command line, `commands` glues each
//! subcommand to the library, `lifecycle` owns the operations on a
//! container and the status table, `container` owns the on-disk state,
//! `process` creates the container init (parent and child halves, the
//! rootfs recipe), `spec` turns config.json into a checked plan, `linux`
//! holds one kernel concern per file (namespaces, mounts, caps,
//! seccomp, ...), `cgroups` drives cgroup v1 and v2. README's "Layers"
//! says which may use which.

pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod container;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod image;
pub mod lifecycle;
pub mod linux;
pub mod logging;
pub mod network;
pub mod oci;
pub mod process;
pub mod spec;

/// Test hook for crash-safety tests: in debug builds, `HUSK_CRASH_AT=NAME`
/// makes husk SIGKILL itself when it reaches the point NAME.
pub fn crash_point(name: &str) {
    if cfg!(debug_assertions) && std::env::var_os("HUSK_CRASH_AT").is_some_and(|v| v == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Test hook for failure-path tests: in debug builds, `HUSK_FAIL_AT=NAME`
/// makes the step NAME return an error (instead of crashing, as
/// `HUSK_CRASH_AT` does), so that the undo of everything made before it
/// runs. The error names the point.
pub fn fail_point(name: &str) -> anyhow::Result<()> {
    if cfg!(debug_assertions) && std::env::var_os("HUSK_FAIL_AT").is_some_and(|v| v == name) {
        anyhow::bail!("{name}: failure injected by HUSK_FAIL_AT");
    }
    Ok(())
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const SPEC_VERSION: &str = "1.2.0";

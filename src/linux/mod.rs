//! One kernel concern per file.

pub mod caps;
pub mod clone;
pub mod console;
pub mod devices;
pub mod hooks;
pub mod idmap;
pub mod mountinfo;
pub mod mountopts;
pub mod namespaces;
pub mod paths;
pub mod process;
pub mod resolve;
pub mod rootless;
pub mod sched;
pub mod sealed_exe;
pub mod seccomp;
pub mod seccomp_cache;
pub mod stdio;
pub mod sys;
pub mod sysctl;

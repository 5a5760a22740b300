//! Entry points for the fuzz targets (`fuzz/`) and for the corpus replay
//! test (`tests/fuzz_corpus.rs`): each takes arbitrary bytes, runs the same
//! code husk runs on that input, and must return (an error is fine) without
//! panicking, hanging or touching anything outside its scratch directory.
//!
//! Not part of husk's interface; the runtime never calls it.

use crate::container::state::{State, Status};
use crate::spec::plan::{Inputs, Plan};
use crate::spec::{parse_config_bytes, Bundle};
use std::path::{Path, PathBuf};

/// config.json: the raw and typed parse, then `Plan::validate`, the very
/// checks `create` makes before its first side effect (spec, namespaces,
/// mounts and their options, idmaps, rootfsPropagation, hooks, process,
/// id, cgroups path, console, seccomp, devices). An odd-length input takes
/// `--systemd-cgroup`'s cgroups path rules.
pub fn config(data: &[u8]) {
    let Ok((spec, mount_idmaps)) = parse_config_bytes(data, Path::new("config.json")) else {
        return;
    };
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let b = Bundle {
        dir: PathBuf::from("/nonexistent-bundle"),
        rootfs: PathBuf::from("/nonexistent-bundle/rootfs"),
        spec,
        mount_idmaps,
    };
    let inputs = Inputs {
        id: "fuzz",
        systemd_cgroup: data.len() % 2 == 1,
        rootless: false,
        euid_root: true,
        console_socket: terminal,
        console_fd: false,
    };
    let _ = Plan::validate(b, &inputs);
}

/// state.json: parse, and the OCI state `husk state` would print.
pub fn state(data: &[u8]) {
    if let Ok(st) = State::parse(data) {
        let _ = serde_json::to_string(&st.to_oci(Status::Stopped));
    }
}

/// A `linux.seccomp` object: the field checks of the raw JSON, the typed
/// parse, validation, and the translation into a libseccomp filter
/// compiled to BPF (never loaded).
pub fn seccomp(data: &[u8]) {
    let Ok(raw) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let wrapped = serde_json::json!({ "linux": { "seccomp": raw } });
    if crate::linux::seccomp::validate_json(&wrapped).is_err() {
        return;
    }
    let Ok(s) = serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(raw) else {
        return;
    };
    if s.listener_path().is_some() {
        // validate() looks the agent's socket up on the host.
        return;
    }
    if crate::linux::seccomp::validate(&s).is_err() {
        return;
    }
    if let Ok(f) = crate::linux::seccomp::Filter::build(&s) {
        let _ = f.export();
    }
}

pub use crate::image::fuzzing::{image_archive, tar_layer};

//! The OCI runtime spec's state document, as runc writes it: what `state`
//! prints and what every hook reads on its stdin. A leaf module, below
//! `linux` (hooks) and `container` (the `state` command).

use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// runc's `state` JSON (the spec's fields, and runc's `rootfs`, `created`
/// and `owner`).
#[derive(Serialize)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'a str,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
}

/// The version of the runtime spec husk implements (`ociVersion`).
pub const OCI_VERSION: &str = crate::SPEC_VERSION;

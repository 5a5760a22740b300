//! Capabilities: the five sets of `process.capabilities`.

use anyhow::{Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;
use std::str::FromStr;

/// Convert the spec's capability names to the kernel's.
fn set_of(s: &Option<oci_spec::runtime::Capabilities>) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    if let Some(s) = s {
        for c in s {
            let name = serde_json::to_value(c)?
                .as_str()
                .unwrap_or_default()
                .to_string();
            let cap = Capability::from_str(&name)
                .with_context(|| format!("process.capabilities: unknown capability {name}"))?;
            out.insert(cap);
        }
    }
    Ok(out)
}

pub struct Sets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

impl Sets {
    /// No capability at all: what a process without `process.capabilities`
    /// gets (runc drops every set then too).
    pub fn none() -> Sets {
        Sets {
            bounding: CapsHashSet::new(),
            effective: CapsHashSet::new(),
            permitted: CapsHashSet::new(),
            inheritable: CapsHashSet::new(),
            ambient: CapsHashSet::new(),
        }
    }
}

pub fn parse(c: &LinuxCapabilities) -> Result<Sets> {
    Ok(Sets {
        bounding: set_of(c.bounding())?,
        effective: set_of(c.effective())?,
        permitted: set_of(c.permitted())?,
        inheritable: set_of(c.inheritable())?,
        ambient: set_of(c.ambient())?,
    })
}

/// Drop from the bounding set everything not in `keep`. Needs CAP_SETPCAP,
/// so it runs before the uid change. One prctl per capability, no reads:
/// EINVAL means this kernel does not know the capability.
pub fn drop_bounding(keep: &CapsHashSet) -> Result<()> {
    for cap in caps::all() {
        if keep.contains(&cap) {
            continue;
        }
        if let Err(e) = super::sys::capbset_drop(cap.index()) {
            if e.raw_os_error() == Some(libc::EINVAL) {
                continue;
            }
            return Err(e).with_context(|| format!("drop {cap} from the bounding set"));
        }
    }
    Ok(())
}

fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0u64, |m, c| m | c.bitmask())
}

/// capset(2) of effective, permitted and inheritable in one call: the
/// kernel checks the three together (effective must stay within
/// permitted), so setting them one by one cannot shrink permitted.
fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<()> {
    super::sys::capset(effective, permitted, inheritable)
        .context("capset(effective, permitted, inheritable)")
}

/// Set effective, permitted, inheritable and ambient (after the uid change,
/// with keep-caps so the permitted set survived it).
pub fn apply(s: &Sets) -> Result<()> {
    let supported = caps::runtime::thread_all_supported();
    let only =
        |set: &CapsHashSet| -> CapsHashSet { set.intersection(&supported).copied().collect() };
    capset(
        mask(&only(&s.effective)),
        mask(&only(&s.permitted)),
        mask(&only(&s.inheritable)),
    )?;
    caps::clear(None, CapSet::Ambient).ok();
    for cap in only(&s.ambient) {
        // As runc: an ambient capability that is not both permitted and
        // inheritable cannot be raised; that is not fatal (runc's own
        // spec template asks for ambient without inheritable).
        if caps::raise(None, CapSet::Ambient, cap).is_err() {
            crate::logging::debug(&format!(
                "cannot raise ambient {cap}: not permitted and inheritable"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(v: serde_json::Value) -> Result<Sets> {
        let c: LinuxCapabilities = serde_json::from_value(v)?;
        parse(&c)
    }

    #[test]
    fn names_map_to_the_kernels_capabilities() {
        let s = caps(serde_json::json!({
            "bounding": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
            "effective": ["CAP_SYS_ADMIN"],
            "ambient": ["CAP_BPF", "CAP_CHECKPOINT_RESTORE"]}))
        .unwrap();
        assert_eq!(s.bounding.len(), 2, "duplicates collapse");
        assert!(s.bounding.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert!(s.effective.contains(&Capability::CAP_SYS_ADMIN));
        assert!(s.ambient.contains(&Capability::CAP_CHECKPOINT_RESTORE));
        // Absent sets are empty.
        assert!(s.permitted.is_empty() && s.inheritable.is_empty());
    }

    #[test]
    fn unknown_names_are_refused() {
        // oci-spec refuses them when the config is parsed.
        assert!(caps(serde_json::json!({"bounding": ["CAP_FLY"]})).is_err());
        assert!(caps(serde_json::json!({"bounding": ["CAP_"]})).is_err());
    }

    #[test]
    fn masks_are_one_bit_per_capability() {
        let s = caps(serde_json::json!({"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"]}))
            .unwrap();
        assert_eq!(mask(&s.bounding), 1 | (1 << 5) | (1 << 21));
        assert_eq!(mask(&Sets::none().bounding), 0);
    }
}

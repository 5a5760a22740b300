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
            let name = serde_json::to_value(c)?.as_str().unwrap_or_default().to_string();
            let cap = Capability::from_str(&name).with_context(|| format!("process.capabilities: unknown capability {name}"))?;
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
/// so it runs before the uid change.
pub fn drop_bounding(keep: &CapsHashSet) -> Result<()> {
    for cap in caps::all() {
        if keep.contains(&cap) {
            continue;
        }
        match caps::drop(None, CapSet::Bounding, cap) {
            Ok(()) => {}
            // A capability this kernel does not know.
            Err(_) if !caps::runtime::thread_all_supported().contains(&cap) => {}
            Err(e) => return Err(anyhow::anyhow!("{e}")).with_context(|| format!("drop {cap} from the bounding set")),
        }
    }
    Ok(())
}

/// Set effective, permitted, inheritable and ambient (after the uid change,
/// with keep-caps so the permitted set survived it).
pub fn apply(s: &Sets) -> Result<()> {
    let supported = caps::runtime::thread_all_supported();
    let only = |set: &CapsHashSet| -> CapsHashSet { set.intersection(&supported).copied().collect() };
    // Permitted first: effective and inheritable must be subsets of it
    // (inheritable: of permitted or bounding).
    let mut perm = only(&s.permitted);
    perm.extend(only(&s.effective));
    caps::set(None, CapSet::Permitted, &perm).map_err(|e| anyhow::anyhow!("{e}")).context("capset permitted")?;
    caps::set(None, CapSet::Inheritable, &only(&s.inheritable))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("capset inheritable")?;
    caps::set(None, CapSet::Effective, &only(&s.effective)).map_err(|e| anyhow::anyhow!("{e}")).context("capset effective")?;
    if s.permitted != perm {
        caps::set(None, CapSet::Permitted, &only(&s.permitted))
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("capset permitted")?;
    }
    caps::clear(None, CapSet::Ambient).ok();
    for cap in only(&s.ambient) {
        caps::raise(None, CapSet::Ambient, cap)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("raise ambient {cap} (it must be permitted and inheritable)"))?;
    }
    Ok(())
}

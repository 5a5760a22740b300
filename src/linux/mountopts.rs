//! Parsing the `options` of a spec mount into mount(2) flags, propagation,
//! recursive attributes (mount_setattr) and the filesystem data string.

use super::sys;
use anyhow::Result;
use nix::mount::MsFlags;

#[derive(Debug, Clone)]
pub struct MountOpts {
    /// Flags for mount(2), without propagation flags.
    pub flags: MsFlags,
    /// Flags that the options cleared (rw, suid, ...): matters for remounts.
    pub cleared: MsFlags,
    /// Propagation changes, applied one by one after the mount.
    pub propagation: Vec<MsFlags>,
    /// mount_setattr(2) attributes to set and clear recursively (rro, ...).
    pub rec_set: u64,
    pub rec_clr: u64,
    /// Filesystem-specific data (`mode=755,size=65536k`).
    pub data: String,
    pub tmpcopyup: bool,
    /// `idmap` / `ridmap`: make an idmapped bind mount.
    pub idmap: bool,
    pub ridmap: bool,
}

impl Default for MountOpts {
    fn default() -> Self {
        MountOpts {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            rec_set: 0,
            rec_clr: 0,
            data: String::new(),
            tmpcopyup: false,
            idmap: false,
            ridmap: false,
        }
    }
}

impl MountOpts {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

pub fn parse(options: &[String]) -> Result<MountOpts> {
    let mut o = MountOpts::default();
    for opt in options {
        let (set, clear): (MsFlags, MsFlags) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "nosymfollow" => (MsFlags::from_bits_retain(256), MsFlags::empty()),
            "symfollow" => (MsFlags::empty(), MsFlags::from_bits_retain(256)),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                let base = match opt.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                let rec = if opt.starts_with('r') {
                    MsFlags::MS_REC
                } else {
                    MsFlags::empty()
                };
                o.propagation.push(base | rec);
                continue;
            }
            "tmpcopyup" => {
                o.tmpcopyup = true;
                continue;
            }
            "idmap" => {
                o.idmap = true;
                continue;
            }
            "ridmap" => {
                o.idmap = true;
                o.ridmap = true;
                continue;
            }
            r if r.len() > 1 && r.starts_with('r') && rec_attr(&r[1..]).is_some() => {
                let (attr, set) = rec_attr(&r[1..]).expect("checked");
                if set {
                    o.rec_set |= attr;
                    o.rec_clr &= !attr;
                } else {
                    o.rec_clr |= attr;
                    o.rec_set &= !attr;
                }
                if attr & sys::MOUNT_ATTR__ATIME != 0 || r == "rrelatime" || r == "rnorelatime" {
                    o.rec_clr |= sys::MOUNT_ATTR__ATIME;
                }
                continue;
            }
            other => {
                if other.is_empty() {
                    continue;
                }
                if !o.data.is_empty() {
                    o.data.push(',');
                }
                o.data.push_str(other);
                continue;
            }
        };
        o.flags.insert(set);
        o.flags.remove(clear);
        o.cleared.insert(clear);
        o.cleared.remove(set);
    }
    Ok(o)
}

/// `rX` recursive attribute names: the attribute and whether it is set.
fn rec_attr(name: &str) -> Option<(u64, bool)> {
    Some(match name {
        "ro" => (sys::MOUNT_ATTR_RDONLY, true),
        "rw" => (sys::MOUNT_ATTR_RDONLY, false),
        "nosuid" => (sys::MOUNT_ATTR_NOSUID, true),
        "suid" => (sys::MOUNT_ATTR_NOSUID, false),
        "nodev" => (sys::MOUNT_ATTR_NODEV, true),
        "dev" => (sys::MOUNT_ATTR_NODEV, false),
        "noexec" => (sys::MOUNT_ATTR_NOEXEC, true),
        "exec" => (sys::MOUNT_ATTR_NOEXEC, false),
        "nodiratime" => (sys::MOUNT_ATTR_NODIRATIME, true),
        "diratime" => (sys::MOUNT_ATTR_NODIRATIME, false),
        "relatime" => (sys::MOUNT_ATTR_RELATIME, true),
        "norelatime" => (sys::MOUNT_ATTR_RELATIME, false),
        "noatime" => (sys::MOUNT_ATTR_NOATIME, true),
        "atime" => (sys::MOUNT_ATTR_NOATIME, false),
        "strictatime" => (sys::MOUNT_ATTR_STRICTATIME, true),
        "nostrictatime" => (sys::MOUNT_ATTR_STRICTATIME, false),
        "nosymfollow" => (sys::MOUNT_ATTR_NOSYMFOLLOW, true),
        "symfollow" => (sys::MOUNT_ATTR_NOSYMFOLLOW, false),
        _ => return None,
    })
}

/// Every option word husk understands, for `features`.
pub const KNOWN: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

#[cfg(test)]
mod tests {
    use super::*;
    fn p(v: &[&str]) -> MountOpts {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }
    #[test]
    fn flags_and_data() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert!(o
            .flags
            .contains(MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME));
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = p(&["rbind", "ro", "rprivate"]);
        assert!(o.is_bind() && o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        let o = p(&["bind", "rro", "rnosuid"]);
        assert_eq!(o.rec_set, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID);
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY) && o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn every_flag_word_sets_or_clears_its_flag() {
        for (word, flag, set) in [
            ("ro", MsFlags::MS_RDONLY, true),
            ("nosuid", MsFlags::MS_NOSUID, true),
            ("suid", MsFlags::MS_NOSUID, false),
            ("nodev", MsFlags::MS_NODEV, true),
            ("noexec", MsFlags::MS_NOEXEC, true),
            ("sync", MsFlags::MS_SYNCHRONOUS, true),
            ("dirsync", MsFlags::MS_DIRSYNC, true),
            ("remount", MsFlags::MS_REMOUNT, true),
            ("noatime", MsFlags::MS_NOATIME, true),
            ("relatime", MsFlags::MS_RELATIME, true),
            ("strictatime", MsFlags::MS_STRICTATIME, true),
            ("lazytime", MsFlags::MS_LAZYTIME, true),
            ("bind", MsFlags::MS_BIND, true),
        ] {
            let o = p(&[word]);
            assert_eq!(o.flags.contains(flag), set, "{word}");
            assert_eq!(o.cleared.contains(flag), !set, "{word}");
            assert!(o.propagation.is_empty() && o.data.is_empty(), "{word}");
        }
    }

    #[test]
    fn propagation_words_keep_their_order() {
        let o = p(&["shared", "rslave", "unbindable"]);
        assert_eq!(
            o.propagation,
            vec![
                MsFlags::MS_SHARED,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                MsFlags::MS_UNBINDABLE
            ]
        );
        assert!(o.flags.is_empty());
    }

    #[test]
    fn recursive_attributes_set_and_clear() {
        let o = p(&["rro", "rrw"]);
        assert_eq!((o.rec_set, o.rec_clr), (0, sys::MOUNT_ATTR_RDONLY));
        let o = p(&["rnoatime"]);
        assert_eq!(o.rec_set, sys::MOUNT_ATTR_NOATIME);
        assert_ne!(o.rec_clr & sys::MOUNT_ATTR__ATIME, 0);
        let o = p(&["idmap"]);
        assert!(o.idmap && !o.ridmap);
        let o = p(&["ridmap", "tmpcopyup"]);
        assert!(o.idmap && o.ridmap && o.tmpcopyup);
    }

    #[test]
    fn every_known_word_parses_without_data() {
        for w in KNOWN {
            assert!(p(&[w]).data.is_empty(), "{w} went to the data string");
        }
        assert_eq!(p(&["", "x=1", "", "y"]).data, "x=1,y");
    }
}

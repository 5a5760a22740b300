//! `linux.sysctl`: which kernel namespace owns each key, checked before any
//! side effect, and the write itself, which cannot leave /proc/sys.
//!
//! The table is runc's (1.1.5 validator): a key is allowed only when the
//! container has its own instance of the namespace that scopes it, so that
//! the write cannot change the host.
//!
//! | keys | owner |
//! | --- | --- |
//! | `kernel.msgmax`, `kernel.msgmnb`, `kernel.msgmni`, `kernel.sem`, `kernel.shmall`, `kernel.shmmax`, `kernel.shmmni`, `kernel.shm_rmid_forced`, `fs.mqueue.*` | IPC namespace |
//! | `net.*` | network namespace |
//! | `kernel.domainname` | UTS namespace |
//! | `kernel.hostname` | refused: the OCI `hostname` field sets it |
//! | anything else | refused: not in a separate kernel namespace |
//!
//! runc accepts a namespace joined by path for IPC and UTS without looking
//! at it; husk also refuses a path that is the host's own namespace (the
//! one husk runs in), as runc does for the network namespace.

use super::namespaces::NsEntry;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxNamespaceType as Ns;
use std::collections::HashMap;
use std::path::Path;

/// The namespace a sysctl key belongs to, or why it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Ipc,
    Net,
    /// `kernel.domainname`.
    Uts,
    /// `kernel.hostname`: namespaced, but the `hostname` field owns it.
    Hostname,
    /// Global to the kernel (`vm.*`, `kernel.core_pattern`, ...).
    None,
}

const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// A key in its dotted form: like runc, a key whose first separator is `/`
/// (`net/ipv4/ip_forward`) is the same key written with slashes.
pub fn dotted(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

/// Which namespace owns `key` (in dotted form).
pub fn owner(key: &str) -> Owner {
    if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        Owner::Ipc
    } else if key.starts_with("net.") {
        Owner::Net
    } else if key == "kernel.domainname" {
        Owner::Uts
    } else if key == "kernel.hostname" {
        Owner::Hostname
    } else {
        Owner::None
    }
}

/// The path of `key` under /proc/sys: every `.` is a `/` (as runc writes
/// it). None when a component would be empty, `.` or `..`, or the key holds
/// a NUL: such a key names no sysctl, or one it does not spell.
pub fn rel_path(key: &str) -> Option<String> {
    let p = key.replace('.', "/");
    let ok = !p.contains('\0') && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    ok.then_some(p)
}

/// Whether the namespace at `path` is the one husk itself runs in (what
/// runc calls the host's): same device and inode as /proc/self/ns/<ns>.
pub fn is_host_ns(typ: Ns, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let name = match typ {
        Ns::Network => "net",
        Ns::Ipc => "ipc",
        Ns::Uts => "uts",
        Ns::Mount => "mnt",
        Ns::Pid => "pid",
        Ns::User => "user",
        Ns::Cgroup => "cgroup",
        Ns::Time => "time",
    };
    let own = format!("/proc/self/ns/{name}");
    let a = std::fs::metadata(&own).with_context(|| format!("stat {own}"))?;
    let b = std::fs::metadata(path).with_context(|| format!("stat {}", path.display()))?;
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}

/// Check every key of `sysctl` against the namespaces of the config, in
/// key order (the first offender is reported). `is_host` tells whether a
/// namespace joined by path is the host's (is_host_ns, or a stand-in in
/// unit tests).
pub fn validate_with(
    sysctl: &HashMap<String, String>,
    nss: &[NsEntry],
    is_host: &dyn Fn(Ns, &Path) -> Result<bool>,
) -> Result<()> {
    // None: no such namespace; Some(true): the host's; Some(false): own.
    let private = |typ: Ns| -> Result<bool> {
        match nss.iter().find(|n| n.typ == typ) {
            None => Ok(false),
            Some(NsEntry { path: None, .. }) => Ok(true),
            Some(NsEntry { path: Some(p), .. }) => Ok(!is_host(typ, p)?),
        }
    };
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for raw in keys {
        let key = dotted(raw);
        if rel_path(raw).is_none() {
            bail!("linux.sysctl: invalid key {raw:?}: empty, \".\" or \"..\" component");
        }
        match owner(&key) {
            Owner::Ipc => {
                let ok = private(Ns::Ipc).context("linux.sysctl: invalid ipc namespace path")?;
                if !ok {
                    bail!("linux.sysctl: sysctl {key:?} is not allowed in the hosts ipc namespace");
                }
            }
            Owner::Net => {
                let ok = private(Ns::Network).context("linux.sysctl: invalid netns path")?;
                if !ok {
                    bail!("linux.sysctl: sysctl {key:?} not allowed in host network namespace");
                }
            }
            Owner::Uts => {
                let ok = private(Ns::Uts).context("linux.sysctl: invalid uts namespace path")?;
                if !ok {
                    bail!("linux.sysctl: sysctl {key:?} is not in a separate kernel namespace");
                }
            }
            Owner::Hostname => {
                if nss.iter().any(|n| n.typ == Ns::Uts) {
                    bail!("linux.sysctl: sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field");
                }
                bail!("linux.sysctl: sysctl {key:?} is not in a separate kernel namespace");
            }
            Owner::None => {
                bail!("linux.sysctl: sysctl {key:?} is not in a separate kernel namespace")
            }
        }
    }
    Ok(())
}

/// validate_with against the real host namespaces.
pub fn validate(sysctl: &HashMap<String, String>, nss: &[NsEntry]) -> Result<()> {
    validate_with(sysctl, nss, &is_host_ns)
}

/// Write every sysctl, in the container (after pivot_root, before /proc is
/// made read-only). Each file is opened beneath /proc/sys without following
/// a symlink or crossing a mount, and must be on procfs: a mount or link
/// the config put under /proc cannot redirect the write to the host.
/// Write every key. `in_userns`: the init is in a user namespace, where
/// the kernel keeps some keys of the container's own namespaces read-only
/// or hidden: such a failure says so.
pub fn write_all(sysctl: &HashMap<String, String>, in_userns: bool) -> Result<()> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
    if sysctl.is_empty() {
        return Ok(());
    }
    crate::fail_point("init:sysctl")?;
    let dir = nix::fcntl::open(
        "/proc/sys",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("linux.sysctl: open /proc/sys")?;
    let is_proc = |fd: &std::os::fd::OwnedFd| {
        fstatfs(fd).is_ok_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC)
    };
    if !is_proc(&dir) {
        bail!("linux.sysctl: /proc/sys is not on procfs");
    }
    let mut keys: Vec<(&String, &String)> = sysctl.iter().collect();
    keys.sort();
    for (k, v) in keys {
        let rel = rel_path(k).with_context(|| format!("linux.sysctl: invalid key {k:?}"))?;
        let how = OpenHow::new()
            .flags(OFlag::O_WRONLY | OFlag::O_TRUNC | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
            .resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_XDEV,
            );
        let hint = |e: nix::errno::Errno| {
            let denied = matches!(
                e,
                nix::errno::Errno::EACCES
                    | nix::errno::Errno::EPERM
                    | nix::errno::Errno::EROFS
                    | nix::errno::Errno::ENOENT
            );
            if in_userns && denied {
                " (the kernel does not let a user namespace set this sysctl)"
            } else {
                ""
            }
        };
        let fd = openat2(&dir, rel.as_str(), how).map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "linux.sysctl: openat2 /proc/sys/{rel} ({k}){}",
                hint(e)
            ))
        })?;
        if !is_proc(&fd) {
            bail!("linux.sysctl: /proc/sys/{rel} ({k}) is not on procfs");
        }
        let n = nix::unistd::write(&fd, v.as_bytes()).map_err(|e| {
            anyhow::Error::new(e).context(format!("linux.sysctl: write {k}={v}{}", hint(e)))
        })?;
        if n != v.len() {
            bail!(
                "linux.sysctl: write {k}={v}: short write ({n} of {} bytes)",
                v.len()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ns(typ: Ns, path: Option<&str>) -> NsEntry {
        NsEntry {
            typ,
            path: path.map(PathBuf::from),
        }
    }

    /// "/host" stands for the host's namespace, anything else for another.
    fn fake_host(_: Ns, p: &Path) -> Result<bool> {
        if p == Path::new("/missing") {
            bail!("stat /missing: No such file or directory");
        }
        Ok(p == Path::new("/host"))
    }

    fn check(key: &str, nss: &[NsEntry]) -> Result<()> {
        let m = HashMap::from([(key.to_string(), "1".to_string())]);
        validate_with(&m, nss, &fake_host)
    }

    fn err(key: &str, nss: &[NsEntry]) -> String {
        format!("{:#}", check(key, nss).expect_err(key))
    }

    fn all_new() -> Vec<NsEntry> {
        [Ns::Pid, Ns::Network, Ns::Ipc, Ns::Uts, Ns::Mount]
            .into_iter()
            .map(|t| ns(t, None))
            .collect()
    }

    #[test]
    fn owners() {
        for k in IPC_KEYS {
            assert_eq!(owner(k), Owner::Ipc, "{k}");
        }
        assert_eq!(owner("fs.mqueue.msg_max"), Owner::Ipc);
        assert_eq!(owner("net.ipv4.ip_forward"), Owner::Net);
        assert_eq!(owner("kernel.domainname"), Owner::Uts);
        assert_eq!(owner("kernel.hostname"), Owner::Hostname);
        for k in [
            "vm.swappiness",
            "kernel.core_pattern",
            "kernel.msgmax2",
            "fs.mqueue",
            "netx.a",
            "kernel.shm_next_id",
            "fs.file-max",
        ] {
            assert_eq!(owner(k), Owner::None, "{k}");
        }
    }

    #[test]
    fn slash_form_is_the_same_key() {
        assert_eq!(dotted("net/ipv4/ip_forward"), "net.ipv4.ip_forward");
        assert_eq!(
            dotted("net.ipv4.conf.eth0/100.forwarding"),
            "net.ipv4.conf.eth0/100.forwarding"
        );
        assert_eq!(dotted("kernel/core_pattern"), "kernel.core_pattern");
        assert_eq!(dotted("vm"), "vm");
        assert!(err("kernel/core_pattern", &all_new()).contains("\"kernel.core_pattern\""));
        check("net/ipv4/ip_forward", &all_new()).unwrap();
    }

    #[test]
    fn own_namespaces_allow_their_keys() {
        for k in [
            "kernel.msgmax",
            "fs.mqueue.queues_max",
            "net.ipv4.ip_forward",
            "kernel.domainname",
        ] {
            check(k, &all_new()).unwrap_or_else(|e| panic!("{k}: {e:#}"));
        }
        // Joined by path, but not the host's.
        let joined = [
            ns(Ns::Network, Some("/other")),
            ns(Ns::Ipc, Some("/other")),
            ns(Ns::Uts, Some("/other")),
        ];
        for k in ["kernel.sem", "net.core.somaxconn", "kernel.domainname"] {
            check(k, &joined).unwrap_or_else(|e| panic!("{k}: {e:#}"));
        }
    }

    #[test]
    fn host_namespaces_refuse_their_keys() {
        // No entry at all (Docker's --network host, --ipc host).
        assert_eq!(
            err("net.ipv4.ip_forward", &[ns(Ns::Mount, None)]),
            "linux.sysctl: sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert_eq!(
            err("kernel.shmmax", &[ns(Ns::Mount, None)]),
            "linux.sysctl: sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace"
        );
        assert!(err("kernel.domainname", &[ns(Ns::Mount, None)])
            .contains("is not in a separate kernel namespace"));
        // Joined by path, and the path is the host's own.
        let host = [
            ns(Ns::Network, Some("/host")),
            ns(Ns::Ipc, Some("/host")),
            ns(Ns::Uts, Some("/host")),
        ];
        assert!(err("net.core.somaxconn", &host).contains("host network namespace"));
        assert!(err("fs.mqueue.msg_max", &host).contains("hosts ipc namespace"));
        assert!(err("kernel.domainname", &host).contains("\"kernel.domainname\""));
        // A path that cannot be looked at is refused, naming it.
        let e = err("net.core.somaxconn", &[ns(Ns::Network, Some("/missing"))]);
        assert!(
            e.contains("invalid netns path") && e.contains("/missing"),
            "{e}"
        );
    }

    #[test]
    fn global_keys_are_always_refused() {
        for k in [
            "vm.swappiness",
            "kernel.core_pattern",
            "kernel.modprobe",
            "fs.file-max",
        ] {
            assert_eq!(
                err(k, &all_new()),
                format!("linux.sysctl: sysctl \"{k}\" is not in a separate kernel namespace")
            );
        }
        assert!(err("kernel.hostname", &all_new())
            .contains("conflicts with the OCI \"hostname\" field"));
        assert!(err("kernel.hostname", &[]).contains("not in a separate kernel namespace"));
    }

    #[test]
    fn tricky_keys_are_refused() {
        for k in [
            "net..ipv4.ip_forward",
            "net.",
            ".net.x",
            "net/../kernel/core_pattern",
            "",
            "net.a\0b",
        ] {
            let e = check(k, &all_new());
            assert!(e.is_err(), "{k:?} accepted");
        }
        assert_eq!(
            rel_path("net.ipv4.ip_forward").as_deref(),
            Some("net/ipv4/ip_forward")
        );
        assert_eq!(
            rel_path("net/ipv4/ip_forward").as_deref(),
            Some("net/ipv4/ip_forward")
        );
        assert_eq!(rel_path("net/../x"), None);
        assert_eq!(rel_path("/net/x"), None);
    }

    #[test]
    fn first_offender_in_key_order() {
        let m = HashMap::from([
            ("vm.b".to_string(), "1".to_string()),
            ("vm.a".to_string(), "1".to_string()),
            ("net.x".to_string(), "1".to_string()),
        ]);
        let e = validate_with(&m, &all_new(), &fake_host).unwrap_err();
        assert!(format!("{e:#}").contains("\"vm.a\""), "{e:#}");
    }
}

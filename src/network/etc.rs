//! `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` for a container.
//!
//! Where each file goes, in order:
//! 1. if config.json bind-mounts a file at `/etc/NAME`, into that file's
//!    source, in place (the bind mount already refers to its inode);
//! 2. otherwise into the rootfs, `ROOTFS/etc/NAME`, replaced through a
//!    temporary file and rename(2).
//!
//! The rootfs belongs to the container and may hold anything, so nothing in
//! it is followed: `etc` is opened with O_NOFOLLOW, and a symlink at
//! `etc/NAME` is replaced rather than written through (otherwise a rootfs
//! with `etc/hosts -> /etc/shadow` would have husk overwrite the host's).

use anyhow::{Context, Result};
use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::{mkdirat, Mode};
use serde_json::Value;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// What goes into the files.
pub struct EtcFiles {
    pub hostname: String,
    pub hosts: String,
    pub resolv: String,
}

impl EtcFiles {
    pub fn new(hostname: &str, ip: Ipv4Addr, dns: &[Ipv4Addr]) -> EtcFiles {
        let hosts = format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{hostname}\n"
        );
        let resolv = if dns.is_empty() {
            resolv_from_host(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
        } else {
            dns.iter().map(|d| format!("nameserver {d}\n")).collect()
        };
        EtcFiles {
            hostname: format!("{hostname}\n"),
            hosts,
            resolv,
        }
    }

    /// Writes the three files for the bundle `bundle` whose config is
    /// `config`.
    pub fn write(&self, bundle: &Path, config: &Value) -> Result<()> {
        let root = config["root"]["path"].as_str().unwrap_or("rootfs");
        let rootfs = bundle.join(root);
        for (name, text) in [
            ("hosts", &self.hosts),
            ("hostname", &self.hostname),
            ("resolv.conf", &self.resolv),
        ] {
            match bind_source(bundle, config, &format!("/etc/{name}")) {
                Some(src) => std::fs::write(&src, text).with_context(|| {
                    format!("write /etc/{name} into its bind source {}", src.display())
                })?,
                None => write_in_rootfs(&rootfs, name, text).with_context(|| {
                    format!("write /etc/{name} into rootfs {}", rootfs.display())
                })?,
            }
        }
        Ok(())
    }
}

/// The host's resolv.conf without loopback nameservers, which mean nothing
/// in the container's network namespace (Docker does the same).
fn resolv_from_host(text: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match (f.next(), f.next()) {
            (Some("nameserver"), Some(addr)) => {
                let loopback = addr
                    .parse::<std::net::IpAddr>()
                    .map(|a| a.is_loopback())
                    .unwrap_or(true);
                if !loopback {
                    out.push_str(&format!("nameserver {addr}\n"));
                    servers += 1;
                }
            }
            (Some("search" | "domain" | "options"), Some(_)) => {
                out.push_str(line.trim());
                out.push('\n');
            }
            _ => {}
        }
    }
    if servers == 0 {
        out.insert_str(
            0,
            "# husk: the host has no non-loopback nameserver; use husk network attach --dns\n",
        );
    }
    out
}

/// The source of a bind mount of a regular file at `dest` in config.json.
fn bind_source(bundle: &Path, config: &Value, dest: &str) -> Option<PathBuf> {
    let m = config["mounts"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["destination"].as_str().map(|d| d.trim_end_matches('/')) == Some(dest))?;
    let is_bind = m["type"] == "bind"
        || m["options"]
            .as_array()
            .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"));
    let src = Path::new(m["source"].as_str()?);
    let src = if src.is_absolute() {
        src.to_path_buf()
    } else {
        bundle.join(src)
    };
    (is_bind && src.is_file()).then_some(src)
}

fn write_in_rootfs(rootfs: &Path, name: &str, text: &str) -> Result<()> {
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open the rootfs")?;
    let etc = match openat(&root, "etc", dir_flags, Mode::empty()) {
        Err(nix::errno::Errno::ENOENT) => {
            mkdirat(&root, "etc", Mode::from_bits_truncate(0o755)).context("create etc")?;
            openat(&root, "etc", dir_flags, Mode::empty())
        }
        r => r,
    }
    .context("open etc (it must be a directory, not a symlink)")?;
    let tmp = format!(".{name}.husk-{}", std::process::id());
    let fd = openat(
        &etc,
        tmp.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )
    .with_context(|| format!("create etc/{tmp}"))?;
    let mut f = std::fs::File::from(fd);
    let res = f
        .write_all(text.as_bytes())
        .context("write")
        .and_then(|_| renameat(&etc, tmp.as_str(), &etc, name).context("rename into place"));
    if res.is_err() {
        let _ = nix::unistd::unlinkat(&etc, tmp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_drops_loopback() {
        let host = "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.org\noptions edns0\n";
        assert_eq!(
            resolv_from_host(host),
            "nameserver 192.0.2.53\nsearch example.org\noptions edns0\n"
        );
        assert!(resolv_from_host("nameserver ::1\n").starts_with("# husk"));
    }

    #[test]
    fn files_content() {
        let f = EtcFiles::new(
            "web",
            "10.88.0.2".parse().unwrap(),
            &["192.0.2.53".parse().unwrap()],
        );
        assert_eq!(f.hostname, "web\n");
        assert!(f.hosts.contains("10.88.0.2\tweb\n"));
        assert_eq!(f.resolv, "nameserver 192.0.2.53\n");
    }

    #[test]
    fn resolv_keeps_search_domain_options_and_drops_junk() {
        let host = "nameserver\nnameserver not-an-ip\nnameserver 2001:db8::1\ndomain corp\n  options ndots:2  \nsortlist 10.0.0.0\n";
        assert_eq!(
            resolv_from_host(host),
            "nameserver 2001:db8::1\ndomain corp\noptions ndots:2\n"
        );
        assert!(resolv_from_host("").starts_with("# husk: the host has no non-loopback nameserver"));
    }

    #[test]
    fn hosts_file_lines() {
        let f = EtcFiles::new(
            "c1",
            "10.88.0.9".parse().unwrap(),
            &["1.1.1.1".parse().unwrap(), "8.8.8.8".parse().unwrap()],
        );
        assert_eq!(
            f.hosts,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.88.0.9\tc1\n"
        );
        assert_eq!(f.resolv, "nameserver 1.1.1.1\nnameserver 8.8.8.8\n");
    }

    #[test]
    fn files_go_to_bind_sources_or_the_rootfs() {
        let t = tempfile::tempdir().unwrap();
        let b = t.path();
        std::fs::create_dir_all(b.join("rootfs")).unwrap();
        std::fs::write(b.join("my-hosts"), "old").unwrap();
        let config = serde_json::json!({"root": {"path": "rootfs"}, "mounts": [
            {"destination": "/etc/hosts", "type": "none", "source": "my-hosts", "options": ["rbind", "ro"]},
            {"destination": "/etc/hostname", "type": "tmpfs", "source": "tmpfs"}]});
        let f = EtcFiles::new(
            "h",
            "10.0.0.2".parse().unwrap(),
            &["10.0.0.1".parse().unwrap()],
        );
        f.write(b, &config).unwrap();
        assert_eq!(
            std::fs::read_to_string(b.join("my-hosts")).unwrap(),
            f.hosts
        );
        assert!(!b.join("rootfs/etc/hosts").exists());
        // Not a bind mount: written into the rootfs (etc/ made as needed).
        assert_eq!(
            std::fs::read_to_string(b.join("rootfs/etc/hostname")).unwrap(),
            "h\n"
        );
        assert_eq!(
            std::fs::read_to_string(b.join("rootfs/etc/resolv.conf")).unwrap(),
            "nameserver 10.0.0.1\n"
        );
    }

    #[test]
    fn symlinks_in_the_rootfs_are_replaced_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let b = t.path();
        let victim = b.join("victim");
        std::fs::write(&victim, "secret").unwrap();
        std::fs::create_dir_all(b.join("rootfs/etc")).unwrap();
        std::os::unix::fs::symlink(&victim, b.join("rootfs/etc/hosts")).unwrap();
        let f = EtcFiles::new(
            "h",
            "10.0.0.2".parse().unwrap(),
            &["10.0.0.1".parse().unwrap()],
        );
        f.write(b, &serde_json::json!({})).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
        assert!(!b.join("rootfs/etc/hosts").is_symlink());
        // etc itself a symlink: refused.
        let b2 = t.path().join("b2");
        std::fs::create_dir_all(b2.join("rootfs")).unwrap();
        std::os::unix::fs::symlink(b, b2.join("rootfs/etc")).unwrap();
        let e = format!("{:#}", f.write(&b2, &serde_json::json!({})).unwrap_err());
        assert!(e.contains("must be a directory, not a symlink"), "{e}");
    }
}

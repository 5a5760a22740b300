//! /dev inside the container: the default device nodes, `linux.devices`,
//! and the standard symlinks.

use super::resolve::{open_or_create, Kind};
use super::sys;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

struct Dev {
    path: &'static str,
    major: u64,
    minor: u64,
}

/// Devices every container gets (as runc).
const DEFAULT: &[Dev] = &[
    Dev {
        path: "/dev/null",
        major: 1,
        minor: 3,
    },
    Dev {
        path: "/dev/zero",
        major: 1,
        minor: 5,
    },
    Dev {
        path: "/dev/full",
        major: 1,
        minor: 7,
    },
    Dev {
        path: "/dev/random",
        major: 1,
        minor: 8,
    },
    Dev {
        path: "/dev/urandom",
        major: 1,
        minor: 9,
    },
    Dev {
        path: "/dev/tty",
        major: 5,
        minor: 0,
    },
];

pub fn validate(devs: &[LinuxDevice]) -> Result<()> {
    for d in devs {
        // `..` could take the node out of /dev (or, through a symlink in
        // the image, anywhere in the rootfs): refused, never dropped.
        if d.path().components().any(|c| c == Component::ParentDir) {
            bail!(
                "linux.devices: {}: '..' is not allowed in a device path",
                d.path().display()
            );
        }
        // Path::starts_with compares components: "/dev" itself (or
        // "/dev/.") would pass it, and name no node under /dev.
        if !d.path().starts_with("/dev/") || d.path().components().count() < 3 {
            bail!("linux.devices: {} must be under /dev", d.path().display());
        }
        if d.typ() == LinuxDeviceType::A {
            bail!(
                "linux.devices: {}: type 'a' is only valid in resources.devices",
                d.path().display()
            );
        }
    }
    Ok(())
}

/// Create the default devices and `linux.devices`. In a user namespace
/// mknod is not allowed: bind-mount the host's node instead.
pub fn create_all(root: BorrowedFd, extra: &[LinuxDevice], in_userns: bool) -> Result<()> {
    crate::fail_point("init:devices")?;
    for d in DEFAULT {
        if extra.iter().any(|e| e.path() == Path::new(d.path)) {
            continue;
        }
        make(
            root,
            Path::new(d.path),
            SFlag::S_IFCHR,
            d.major,
            d.minor,
            0o666,
            0,
            0,
            in_userns,
        )?;
    }
    for d in extra {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => bail!("linux.devices: type 'a' is not a device"),
        };
        make(
            root,
            d.path(),
            kind,
            d.major() as u64,
            d.minor() as u64,
            d.file_mode().unwrap_or(0o666),
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
            in_userns,
        )
        .with_context(|| format!("linux.devices: {}", d.path().display()))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn make(
    root: BorrowedFd,
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    in_userns: bool,
) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().context("device path has no name")?;
    // The directory is resolved (and made) inside the rootfs; the node
    // itself is handled with *at calls that never follow it.
    let dir = open_or_create(root, parent, Kind::Dir)?;
    if in_userns {
        // As runc: the mount point is resolved like any bind destination.
        let target = open_or_create(root, path, Kind::File)?;
        mount(
            Some(path),
            sys::fd_path(&target).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind device {}", path.display()))?;
        return Ok(());
    }
    // Replace whatever the image has at that name.
    let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    mknodat(
        &dir,
        name,
        kind,
        Mode::from_bits_truncate(mode & 0o7777),
        makedev(major, minor),
    )
    .with_context(|| format!("mknod {}", path.display()))?;
    // The node just made, never what a symlink put there meanwhile names.
    let node = nix::fcntl::openat(
        &dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {}", path.display()))?;
    let st = nix::sys::stat::fstat(&node).with_context(|| format!("stat {}", path.display()))?;
    let rdev_differs = kind != SFlag::S_IFIFO && st.st_rdev != makedev(major, minor);
    if st.st_mode & SFlag::S_IFMT.bits() != kind.bits() || rdev_differs {
        bail!("{} was replaced while it was being made", path.display());
    }
    // mknod applies the umask: set the owner, then the mode, exactly
    // (chown would clear set-id bits).
    nix::unistd::fchownat(
        &node,
        "",
        Some(uid.into()),
        Some(gid.into()),
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .with_context(|| format!("chown {}", path.display()))?;
    // chmod through the fd's /proc path: the node itself is not opened.
    std::fs::set_permissions(
        sys::fd_path(&node),
        std::fs::Permissions::from_mode(mode & 0o7777),
    )
    .with_context(|| format!("chmod {}", path.display()))?;
    Ok(())
}

/// /dev/fd, /dev/stdin.. and /dev/ptmx → pts/ptmx.
pub fn symlinks(root: BorrowedFd, has_devpts: bool) -> Result<()> {
    let dev = open_or_create(root, Path::new("/dev"), Kind::Dir)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    if has_devpts {
        let _ = nix::unistd::unlinkat(&dev, "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir);
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        match nix::unistd::symlinkat(target, &dev, name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("symlink /dev/{name}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(v: serde_json::Value) -> LinuxDevice {
        serde_json::from_value(v).unwrap()
    }

    fn err(v: serde_json::Value) -> String {
        validate(&[dev(v)]).unwrap_err().to_string()
    }

    #[test]
    fn devices_must_be_under_dev_without_dotdot() {
        validate(&[
            dev(serde_json::json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229})),
            dev(serde_json::json!({"path": "/dev/sda", "type": "b", "major": 8, "minor": 0})),
            dev(
                serde_json::json!({"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}),
            ),
            dev(serde_json::json!({"path": "/dev/fifo", "type": "p"})),
        ])
        .unwrap();
        assert_eq!(
            err(serde_json::json!({"path": "/dev/../etc/x", "type": "c", "major": 1, "minor": 3})),
            "linux.devices: /dev/../etc/x: '..' is not allowed in a device path"
        );
        assert_eq!(
            err(serde_json::json!({"path": "/etc/null", "type": "c", "major": 1, "minor": 3})),
            "linux.devices: /etc/null must be under /dev"
        );
        // "/dev" itself and "/devices/x" are not under /dev/.
        for p in ["/dev", "/dev/", "/dev/."] {
            assert!(
                err(serde_json::json!({"path": p, "type": "c", "major": 1, "minor": 3}))
                    .contains("must be under /dev"),
                "{p}"
            );
        }
        assert!(err(
            serde_json::json!({"path": "/devx/null", "type": "c", "major": 1, "minor": 3})
        )
        .contains("must be under /dev"));
    }

    #[test]
    fn type_a_is_for_cgroup_rules_only() {
        assert!(err(serde_json::json!({"path": "/dev/all", "type": "a"}))
            .contains("type 'a' is only valid in resources.devices"));
    }

    #[test]
    fn the_default_devices_are_runcs() {
        let names: Vec<(&str, u64, u64)> =
            DEFAULT.iter().map(|d| (d.path, d.major, d.minor)).collect();
        assert_eq!(
            names,
            [
                ("/dev/null", 1, 3),
                ("/dev/zero", 1, 5),
                ("/dev/full", 1, 7),
                ("/dev/random", 1, 8),
                ("/dev/urandom", 1, 9),
                ("/dev/tty", 5, 0),
            ]
        );
    }
}

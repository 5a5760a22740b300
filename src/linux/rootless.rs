//! Rootless: husk run by an unprivileged user, or as root inside a user
//! namespace (rootless Podman runs its runtime so). runc's rules:
//!
//! - `--rootless true|false|auto` (default auto) decides whether cgroup
//!   permission errors are ignored: auto is true when husk is not uid 0,
//!   or is uid 0 inside a user namespace.
//! - The default `--root` is `$XDG_RUNTIME_DIR/husk` when husk is not uid
//!   0, or is uid 0 inside a user namespace and `$USER` is not `root`
//!   (and `$XDG_RUNTIME_DIR` is set); otherwise `/run/husk`. That
//!   directory is made 0700 and then set to 01700: the sticky bit keeps
//!   it from being pruned by the XDG runtime-dir cleaner.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// The root of everyone else's state: the default `--root`.
pub const SYSTEM_ROOT: &str = "/run/husk";

/// Whether this process is in a user namespace other than the initial one
/// (runc's `userns.RunningInUserNS`): the initial one maps every id,
/// `0 0 4294967295`.
pub fn running_in_userns() -> bool {
    static CACHE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CACHE.get_or_init(|| {
        let Ok(text) = std::fs::read_to_string("/proc/self/uid_map") else {
            return false;
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        !(fields.len() == 3 && fields[0] == "0" && fields[1] == "0" && fields[2] == "4294967295")
    })
}

fn euid_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether husk runs without the host's root: a user other than root, or
/// root of a user namespace (runc's rule for rootless).
pub fn unprivileged() -> bool {
    !euid_is_root() || running_in_userns()
}

/// `--rootless`: Some(true/false), or None for auto. Go's ParseBool
/// spellings, as runc.
pub fn parse_flag(v: Option<&str>) -> Result<Option<bool>> {
    match v.unwrap_or("auto") {
        "" => Ok(None),
        s if s.eq_ignore_ascii_case("auto") => Ok(None),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Some(false)),
        s => bail!("--rootless: invalid value {s:?}: use true, false or auto"),
    }
}

/// Whether cgroups are handled rootless: permission errors for a cgroup
/// husk chose itself are ignored, device rules are best effort.
pub fn cgroups_rootless(flag: Option<&str>) -> Result<bool> {
    Ok(match parse_flag(flag)? {
        Some(b) => b,
        // runc also asks a systemd user instance with --systemd-cgroup;
        // husk writes cgroupfs itself, so its cgroupfs rule applies.
        None => unprivileged(),
    })
}

/// Whether the default `--root` is under `$XDG_RUNTIME_DIR`.
fn honor_xdg_runtime_dir() -> bool {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none_or(|v| v.is_empty()) {
        return false;
    }
    if !euid_is_root() {
        return true;
    }
    if !running_in_userns() {
        // The real root: /run/husk, whatever XDG_RUNTIME_DIR says.
        return false;
    }
    std::env::var_os("USER").is_none_or(|u| u != "root")
}

/// The state directory: `--root` if given, else the default above. The
/// default under `$XDG_RUNTIME_DIR` is made now (0700, then sticky), as
/// runc does before every command.
pub fn resolve_root(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(r) = flag {
        return Ok(r);
    }
    if !honor_xdg_runtime_dir() {
        return Ok(PathBuf::from(SYSTEM_ROOT));
    }
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let xdg = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_default());
    let root = xdg.join("husk");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&root)
        .with_context(|| {
            format!(
                "create the default --root {} ($XDG_RUNTIME_DIR must be writable by the user)",
                root.display()
            )
        })?;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o1700)).with_context(
        || {
            format!(
                "chmod 01700 the default --root {} (check the permissions of $XDG_RUNTIME_DIR)",
                root.display()
            )
        },
    )?;
    Ok(root)
}

/// The uid/gid map helpers of shadow (Debian package `uidmap`): on PATH,
/// else in /usr/bin.
pub fn find_helper(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let p = PathBuf::from("/usr/bin").join(name);
        p.is_file().then_some(p)
    })
}

#[cfg(test)]
mod tests {
    use super::parse_flag;
    #[test]
    fn rootless_flag() {
        assert_eq!(parse_flag(None).unwrap(), None);
        assert_eq!(parse_flag(Some("auto")).unwrap(), None);
        assert_eq!(parse_flag(Some("")).unwrap(), None);
        assert_eq!(parse_flag(Some("true")).unwrap(), Some(true));
        assert_eq!(parse_flag(Some("1")).unwrap(), Some(true));
        assert_eq!(parse_flag(Some("False")).unwrap(), Some(false));
        assert!(parse_flag(Some("yes")).is_err());
    }
}

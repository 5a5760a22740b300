//! The calling thread's /proc/thread-self/mountinfo, parsed.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

pub struct MountEntry {
    /// Where it is mounted (field 5), octal escapes undone.
    pub mount_point: PathBuf,
    /// The directory of its file system that is mounted (field 4): `/` for
    /// a full mount.
    pub root: PathBuf,
    pub fstype: String,
    /// The optional fields: `shared:N`, `master:N`, ...
    pub optional: Vec<String>,
}

impl MountEntry {
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }

    pub fn is_unbindable(&self) -> bool {
        self.optional.iter().any(|o| o == "unbindable")
    }
}

/// The mounts of our mount namespace, in the kernel's order (a mount
/// comes after the one it is mounted on). This thread's: a thread that
/// unshared its mount namespace (the fuzz sandbox) sees its own.
pub fn read() -> Result<Vec<MountEntry>> {
    let text = std::fs::read_to_string("/proc/thread-self/mountinfo")
        .context("read /proc/thread-self/mountinfo")?;
    Ok(text.lines().filter_map(parse_line).collect())
}

fn parse_line(l: &str) -> Option<MountEntry> {
    let f: Vec<&str> = l.split(' ').collect();
    let sep = f.iter().position(|x| *x == "-")?;
    if sep < 6 || f.len() < sep + 2 {
        return None;
    }
    Some(MountEntry {
        root: unescape(f[3]),
        mount_point: unescape(f[4]),
        optional: f[6..sep].iter().map(|s| s.to_string()).collect(),
        fstype: f[sep + 1].to_string(),
    })
}

/// Undoes the kernel's `\ooo` escapes (space, tab, newline, backslash).
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let d = |k: usize| u32::from(b[i + k] - b'0');
            out.push((d(1) * 64 + d(2) * 8 + d(3)) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_line_with_escapes_and_optional_fields() {
        let m = parse_line(
            "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:7 - ext3 /dev/root rw",
        )
        .unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/mnt/a b"));
        assert_eq!(m.root, PathBuf::from("/mnt1"));
        assert_eq!(m.fstype, "ext3");
        assert_eq!(m.optional, ["master:1", "shared:7"]);
        assert!(m.is_shared());
        let m = parse_line("22 27 0:21 / /proc rw,relatime - proc proc rw").unwrap();
        assert!(m.optional.is_empty() && !m.is_shared());
        assert!(parse_line("garbage").is_none());
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(
            unescape("/a\\011b\\012c\\134d"),
            PathBuf::from("/a\tb\nc\\d")
        );
        // Not an escape: kept as is.
        assert_eq!(unescape("/x\\09"), PathBuf::from("/x\\09"));
        assert_eq!(unescape("/x\\0"), PathBuf::from("/x\\0"));
        assert_eq!(unescape("/end\\"), PathBuf::from("/end\\"));
        // A byte that is not UTF-8 survives.
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(unescape("/\\377").as_os_str().as_bytes(), b"/\xff");
    }

    #[test]
    fn optional_fields_and_separator() {
        let m = parse_line(
            "40 1 0:5 / /m rw shared:3 master:2 propagate_from:1 unbindable - tmpfs t rw",
        )
        .unwrap();
        assert_eq!(m.optional.len(), 4);
        assert!(m.is_shared() && m.is_unbindable());
        // Paths with dashes are not the separator, a field that is "-".
        let m = parse_line("41 1 0:5 /- /- rw - tmpfs t rw").unwrap();
        assert_eq!(
            (m.root, m.mount_point),
            (PathBuf::from("/-"), PathBuf::from("/-"))
        );
        // Too few fields before or after the separator.
        assert!(parse_line("1 2 3 4 5 - x").is_none());
        assert!(parse_line("1 2 0:1 / /m rw -").is_none());
        assert!(parse_line("").is_none());
    }

    #[test]
    fn reads_this_threads_mounts() {
        let all = read().unwrap();
        assert!(all
            .iter()
            .any(|m| m.mount_point == std::path::Path::new("/")));
        assert!(all.iter().any(|m| m.fstype == "proc"));
    }
}

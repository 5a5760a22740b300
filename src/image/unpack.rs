//! Applying one layer (a tar stream) onto a directory.
//!
//! Two ways to handle the layer's deletions, as the OCI image spec's
//! `layer.md` describes them: in a flat rootfs a whiteout `.wh.NAME`
//! removes NAME and an opaque marker `.wh..wh..opq` removes what lower
//! layers put in its directory; in a layer of an overlay stack they become
//! what overlayfs reads instead, a 0/0 character device NAME and the xattr
//! `trusted.overlay.opaque=y` on the directory.
//!
//! Paths are resolved inside the root only (see [`super::fs`]); an entry
//! or hard-link target with a `..` component is refused outright, since no
//! image needs one and it can only be an attempt to escape.

use super::fs::{self, open_in_root};
use super::progress::Interrupt;
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fchmodat, FchmodatFlags, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, Gid, Uid};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whiteouts {
    /// Apply deletions: the target is a flat rootfs.
    Remove,
    /// Keep them as overlayfs whiteouts: the target is one overlay layer.
    Overlay,
}

const WH: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
const OVERLAY_OPAQUE: &[u8] = b"trusted.overlay.opaque";

/// What a `.wh.` entry name means.
#[derive(Debug, PartialEq, Eq)]
enum Whiteout<'a> {
    /// Not a whiteout: an ordinary entry.
    No,
    /// `.wh..wh..opq`: its directory is opaque.
    Opaque,
    /// `.wh.NAME`: NAME is deleted (any bytes, as file names).
    Delete(&'a OsStr),
    /// Another `.wh..wh.` name (AUFS bookkeeping) or a bare `.wh.`:
    /// meaningless here, skipped.
    Ignore,
}

fn whiteout_kind(name: &OsStr) -> Whiteout<'_> {
    let Some(target) = name.as_bytes().strip_prefix(WH.as_bytes()) else {
        return Whiteout::No;
    };
    if name == OPAQUE {
        Whiteout::Opaque
    } else if target.starts_with(WH.as_bytes()) || target.is_empty() {
        Whiteout::Ignore
    } else {
        Whiteout::Delete(OsStr::from_bytes(target))
    }
}

/// Metadata of an entry, from its header and PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    atime: TimeSpec,
    mtime: TimeSpec,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

pub struct Unpacker<'a> {
    root: OwnedFd,
    interrupt: &'a Interrupt,
    whiteouts: Whiteouts,
    /// Paths this layer wrote, with all their ancestors: what an opaque
    /// directory keeps.
    seen: HashSet<PathBuf>,
    /// Directories whose times are set once the layer is done (adding an
    /// entry changes its directory's mtime).
    dir_times: Vec<(PathBuf, TimeSpec, TimeSpec)>,
    buf: Vec<u8>,
}

impl<'a> Unpacker<'a> {
    /// `root` is the directory the layer is applied to; `interrupt` is
    /// checked between entries and while copying data.
    pub fn new(
        root: &Path,
        whiteouts: Whiteouts,
        interrupt: &'a Interrupt,
    ) -> Result<Unpacker<'a>> {
        let root = nix::fcntl::open(
            root,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", root.display()))?;
        Ok(Unpacker {
            root,
            interrupt,
            whiteouts,
            seen: HashSet::new(),
            dir_times: Vec::new(),
            buf: vec![0; 256 << 10],
        })
    }

    /// Applies the layer read from `r`, which must be the uncompressed tar.
    pub fn apply(&mut self, r: impl Read) -> Result<()> {
        self.seen.clear();
        self.dir_times.clear();
        let mut ar = tar::Archive::new(r);
        for entry in ar.entries().context("read tar")? {
            self.interrupt.check()?;
            let mut entry = entry.context("read tar entry")?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            self.entry(&mut entry)
                .with_context(|| format!("tar entry {name:?}"))?;
        }
        // Directory times last, deepest first (setting them touches nothing
        // else, but the order keeps a parent from being seen mid-update).
        let mut times = std::mem::take(&mut self.dir_times);
        times.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.components().count()));
        for (path, atime, mtime) in &times {
            self.set_dir_times(path, *atime, *mtime)
                .with_context(|| format!("set times of /{}", path.display()))?;
        }
        Ok(())
    }

    fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        use tar::EntryType as T;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let path = clean(&entry.path_bytes())?;
        let meta = meta(entry)?;
        let Some(name) = path.file_name().map(OsStr::to_os_string) else {
            // "./": the root directory itself.
            if kind == T::Directory {
                let fd = open_in_root(self.root(), Path::new(""), OFlag::O_RDONLY)?;
                set_meta_fd(fd.as_fd(), &meta, true)?;
                self.dir_times.push((path, meta.atime, meta.mtime));
            }
            return Ok(());
        };
        let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
        match whiteout_kind(&name) {
            Whiteout::No => {}
            Whiteout::Opaque => return self.opaque(&parent),
            Whiteout::Delete(target) => return self.whiteout(&parent, target),
            Whiteout::Ignore => return Ok(()),
        }
        let (dir, made) = fs::make_dirs(self.root(), &parent)?;
        self.mark(&path);
        for p in made {
            self.mark(&p);
        }
        let dir = dir.as_fd();
        match kind {
            T::Directory => {
                match fs::kind_at(dir, &name)? {
                    Some(SFlag::S_IFDIR) => {}
                    Some(_) => {
                        fs::remove_at(dir, &name, None)?;
                        mkdir(dir, &name)?;
                    }
                    None => mkdir(dir, &name)?,
                }
                let fd = openat(
                    dir,
                    name.as_os_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .context("open directory")?;
                set_meta_fd(fd.as_fd(), &meta, true)?;
                self.dir_times.push((path, meta.atime, meta.mtime));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                let f = replace(dir, &name, |d, n| {
                    openat(
                        d,
                        n,
                        OFlag::O_WRONLY
                            | OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o600),
                    )
                })?;
                let mut f = std::fs::File::from(f);
                loop {
                    self.interrupt.check()?;
                    let n = entry.read(&mut self.buf).context("read file data")?;
                    if n == 0 {
                        break;
                    }
                    f.write_all(&self.buf[..n]).context("write file")?;
                }
                set_meta_fd(f.as_fd(), &meta, false)?;
            }
            T::Symlink => {
                let target = entry.link_name_bytes().context("symlink without target")?;
                let target = OsStr::from_bytes(&target).to_os_string();
                replace(dir, &name, |d, n| {
                    nix::unistd::symlinkat(target.as_os_str(), d, n)
                })?;
                set_meta_at(dir, &name, &meta, true)?;
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .context("hard link without target")?;
                let target = clean(&target).with_context(|| {
                    format!("hard link target {:?}", String::from_utf8_lossy(&target))
                })?;
                if target == path {
                    return Ok(());
                }
                let tname = target.file_name().context("hard link to the root")?;
                let tdir = fs::open_dir(self.root(), target.parent().unwrap_or(Path::new("")))
                    .with_context(|| format!("hard link target /{}", target.display()))?;
                replace(dir, &name, |d, n| {
                    nix::unistd::linkat(&tdir, tname, d, n, AtFlags::empty())
                })
                .with_context(|| format!("hard link to /{}", target.display()))?;
            }
            T::Char | T::Block | T::Fifo => {
                let sflag = match kind {
                    T::Char => SFlag::S_IFCHR,
                    T::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let h = entry.header();
                let major = h.device_major()?.unwrap_or(0);
                let minor = h.device_minor()?.unwrap_or(0);
                let dev = nix::sys::stat::makedev(major.into(), minor.into());
                let perm = Mode::from_bits_truncate(meta.mode);
                replace(dir, &name, |d, n| {
                    nix::sys::stat::mknodat(d, n, sflag, perm, dev)
                })?;
                set_meta_at(dir, &name, &meta, false)?;
            }
            other => bail!("unsupported tar entry type {other:?}"),
        }
        Ok(())
    }

    /// Records that this layer wrote `p` (and so its ancestors).
    fn mark(&mut self, p: &Path) {
        let mut cur = Some(p);
        while let Some(c) = cur {
            if c.as_os_str().is_empty() || !self.seen.insert(c.to_path_buf()) {
                break;
            }
            cur = c.parent();
        }
    }

    /// A whiteout `.wh.TARGET` in directory `parent`.
    fn whiteout(&mut self, parent: &Path, target: &OsStr) -> Result<()> {
        match self.whiteouts {
            Whiteouts::Remove => {
                let dir = match fs::open_dir(self.root(), parent) {
                    Ok(d) => d,
                    Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(()),
                    Err(e) => return Err(e).context("open the whiteout's directory"),
                };
                fs::remove_at(dir.as_fd(), target, None)
            }
            Whiteouts::Overlay => {
                let (dir, made) = fs::make_dirs(self.root(), parent)?;
                for p in made {
                    self.mark(&p);
                }
                replace(dir.as_fd(), target, |d, n| {
                    nix::sys::stat::mknodat(d, n, SFlag::S_IFCHR, Mode::empty(), 0)
                })
                .context("create overlay whiteout")
            }
        }
    }

    /// An opaque marker in directory `dir`: hide what lower layers put there.
    fn opaque(&mut self, dir: &Path) -> Result<()> {
        match self.whiteouts {
            Whiteouts::Remove => {
                let fd = match fs::open_dir(self.root(), dir) {
                    Ok(d) => d,
                    Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(()),
                    Err(e) => return Err(e).context("open the opaque directory"),
                };
                self.prune(fd.as_fd(), dir)
            }
            Whiteouts::Overlay => {
                let (_, made) = fs::make_dirs(self.root(), dir)?;
                for p in made {
                    self.mark(&p);
                }
                self.mark(dir);
                let fd = open_in_root(self.root(), dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                fs::fsetxattr(fd.as_fd(), OVERLAY_OPAQUE, b"y")
                    .context("set trusted.overlay.opaque (the layer store needs a file system with trusted xattrs)")
            }
        }
    }

    /// Removes from `dir` (at path `at`) everything this layer did not write.
    fn prune(&self, dir: BorrowedFd, at: &Path) -> Result<()> {
        for name in fs::list_dir(dir)? {
            let p = at.join(&name);
            if !self.seen.contains(&p) {
                fs::remove_at(dir, &name, None)?;
            } else if fs::kind_at(dir, &name)? == Some(SFlag::S_IFDIR) {
                let sub = fs::open_dir(dir, Path::new(&name))?;
                self.prune(sub.as_fd(), &p)?;
            }
        }
        Ok(())
    }

    fn set_dir_times(&self, path: &Path, atime: TimeSpec, mtime: TimeSpec) -> Result<()> {
        let fd = match open_in_root(self.root(), path, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
            Ok(fd) => fd,
            // Removed or replaced by a later entry of the layer.
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        nix::sys::stat::futimens(&fd, &atime, &mtime)?;
        Ok(())
    }
}

fn mkdir(dir: BorrowedFd, name: &OsStr) -> Result<()> {
    nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o700)).context("create directory")
}

/// Runs `make` (which creates `name` in `dir`); if something is already
/// there, removes it and tries once more.
fn replace<T>(
    dir: BorrowedFd,
    name: &OsStr,
    mut make: impl FnMut(BorrowedFd, &OsStr) -> nix::Result<T>,
) -> Result<T> {
    match make(dir, name) {
        Err(Errno::EEXIST) => {
            fs::remove_at(dir, name, None)?;
            Ok(make(dir, name)?)
        }
        r => Ok(r?),
    }
}

/// An entry's path as relative components: leading `/` and `./` dropped,
/// `..` refused.
fn clean(raw: &[u8]) -> Result<PathBuf> {
    let mut p = PathBuf::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => bail!("a \"..\" component would escape the rootfs"),
            c => p.push(OsStr::from_bytes(c)),
        }
    }
    Ok(p)
}

fn meta<R: Read>(entry: &mut tar::Entry<R>) -> Result<Meta> {
    let h = entry.header();
    let mut m = Meta {
        mode: h.mode()? & 0o7777,
        uid: u32::try_from(h.uid()?).context("uid")?,
        gid: u32::try_from(h.gid()?).context("gid")?,
        mtime: TimeSpec::new(h.mtime()? as i64, 0),
        atime: TimeSpec::new(0, 0),
        xattrs: Vec::new(),
    };
    let mut atime = None;
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            let text = || std::str::from_utf8(value).unwrap_or("");
            match key {
                b"uid" => m.uid = text().parse().context("PAX uid")?,
                b"gid" => m.gid = text().parse().context("PAX gid")?,
                b"mtime" => m.mtime = pax_time(text()).context("PAX mtime")?,
                b"atime" => atime = Some(pax_time(text()).context("PAX atime")?),
                _ => {
                    if let Some(attr) = key.strip_prefix(b"SCHILY.xattr.") {
                        // overlayfs reads trusted.overlay.* as instructions
                        // (redirects, metacopy): only husk writes those.
                        if !attr.starts_with(b"trusted.overlay.") {
                            m.xattrs.push((attr.to_vec(), value.to_vec()));
                        }
                    }
                }
            }
        }
    }
    m.atime = atime.unwrap_or(m.mtime);
    Ok(m)
}

/// A PAX time: decimal seconds with an optional fraction.
fn pax_time(s: &str) -> Result<TimeSpec> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let neg = sec.starts_with('-');
    let sec: i64 = sec.parse()?;
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let mut nsec: i64 = digits.parse()?;
    let mut sec = sec;
    if neg && nsec > 0 {
        sec -= 1;
        nsec = 1_000_000_000 - nsec;
    }
    Ok(TimeSpec::new(sec, nsec))
}

/// Owner, mode, xattrs and (unless `dir`: later) times through an open fd.
/// The owner first: chown clears the set-id bits and security.capability.
fn set_meta_fd(fd: BorrowedFd, m: &Meta, dir: bool) -> Result<()> {
    fchown(fd, Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)))
        .with_context(|| format!("chown to {}:{}", m.uid, m.gid))?;
    fchmod(fd, Mode::from_bits_truncate(m.mode)).with_context(|| format!("chmod {:o}", m.mode))?;
    for (k, v) in &m.xattrs {
        fs::fsetxattr(fd, k, v)
            .with_context(|| format!("set xattr {}", String::from_utf8_lossy(k)))?;
    }
    if !dir {
        nix::sys::stat::futimens(fd, &m.atime, &m.mtime).context("set times")?;
    }
    Ok(())
}

/// The same for `name` in `dir`, never following it (symlinks, devices).
fn set_meta_at(dir: BorrowedFd, name: &OsStr, m: &Meta, symlink: bool) -> Result<()> {
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(m.uid)),
        Some(Gid::from_raw(m.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .with_context(|| format!("chown to {}:{}", m.uid, m.gid))?;
    if !symlink {
        // A node created just now by this process, in a directory nobody
        // else writes to: following is harmless (and fchmodat cannot not
        // follow on older kernels).
        fchmodat(
            dir,
            name,
            Mode::from_bits_truncate(m.mode),
            FchmodatFlags::FollowSymlink,
        )
        .with_context(|| format!("chmod {:o}", m.mode))?;
    }
    for (k, v) in &m.xattrs {
        fs::lsetxattr_at(dir, name, k, v)
            .with_context(|| format!("set xattr {}", String::from_utf8_lossy(k)))?;
    }
    nix::sys::stat::utimensat(
        dir,
        name,
        &m.atime,
        &m.mtime,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .context("set times")?;
    Ok(())
}

/// Names the layer wrote in `dir`, for tests.
#[cfg(test)]
fn names(p: &Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(clean(b"./a/b/").unwrap(), PathBuf::from("a/b"));
        assert_eq!(clean(b"/etc/passwd").unwrap(), PathBuf::from("etc/passwd"));
        assert_eq!(clean(b"./").unwrap(), PathBuf::from(""));
        assert!(clean(b"../x").is_err());
        assert!(clean(b"a/../../x").is_err());
    }

    #[test]
    fn whiteout_names() {
        fn k(s: &str) -> Whiteout<'_> {
            whiteout_kind(OsStr::new(s))
        }
        assert_eq!(k("file"), Whiteout::No);
        assert_eq!(k("a.wh.b"), Whiteout::No, "only a prefix counts");
        assert_eq!(k(".wh.gone"), Whiteout::Delete(OsStr::new("gone")));
        assert_eq!(k(".wh..hidden"), Whiteout::Delete(OsStr::new(".hidden")));
        assert_eq!(k(".wh..wh..opq"), Whiteout::Opaque);
        assert_eq!(k(".wh..wh..opq2"), Whiteout::Ignore);
        assert_eq!(k(".wh..wh.plnk"), Whiteout::Ignore, "AUFS hard-link dir");
        assert_eq!(k(".wh."), Whiteout::Ignore);
        let raw = OsStr::from_bytes(b".wh.\xff");
        let want = OsStr::from_bytes(b"\xff");
        assert_eq!(whiteout_kind(raw), Whiteout::Delete(want), "any bytes");
    }

    #[test]
    fn pax_times() {
        assert_eq!(pax_time("12.5").unwrap(), TimeSpec::new(12, 500_000_000));
        assert_eq!(pax_time("7").unwrap(), TimeSpec::new(7, 0));
        assert_eq!(pax_time("-1.25").unwrap(), TimeSpec::new(-2, 750_000_000));
    }

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn ids(h: &mut tar::Header) {
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        ids(&mut h);
        b.append_data(&mut h, path, data).unwrap();
    }

    fn dir(b: &mut tar::Builder<Vec<u8>>, path: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o755);
        h.set_entry_type(tar::EntryType::Directory);
        ids(&mut h);
        b.append_data(&mut h, path, &[][..]).unwrap();
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (chown)");
            return;
        }
        let tmp = std::env::temp_dir().join(format!("husk-unpack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let stop = Interrupt::install().unwrap();
        let mut u = Unpacker::new(&tmp, Whiteouts::Remove, &stop).unwrap();
        let l1 = tar_of(|b| {
            dir(b, "d");
            file(b, "d/old", b"1");
            file(b, "gone", b"2");
            dir(b, "o");
            file(b, "o/old", b"3");
        });
        u.apply(&l1[..]).unwrap();
        // The opaque marker after a new entry of the same layer: that entry stays.
        let l2 = tar_of(|b| {
            file(b, ".wh.gone", b"");
            dir(b, "o");
            file(b, "o/new", b"4");
            file(b, "o/.wh..wh..opq", b"");
            file(b, "d/new", b"5");
        });
        u.apply(&l2[..]).unwrap();
        assert_eq!(names(&tmp), ["d", "o"]);
        assert_eq!(names(&tmp.join("o")), ["new"]);
        assert_eq!(names(&tmp.join("d")), ["new", "old"]);
        let bad = tar_of(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            ids(&mut h);
            // append_data refuses "..": write the name into the header.
            h.as_gnu_mut().unwrap().name[..6].copy_from_slice(b"../esc");
            h.set_cksum();
            b.append(&h, &b"x"[..]).unwrap();
        });
        let e = u.apply(&bad[..]).unwrap_err();
        assert!(format!("{e:#}").contains("escape the rootfs"), "{e:#}");
        let bad_link = tar_of(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Link);
            ids(&mut h);
            h.as_gnu_mut().unwrap().linkname[..16].copy_from_slice(b"../../etc/passwd");
            b.append_data(&mut h, "hl", &[][..]).unwrap();
        });
        let e = u.apply(&bad_link[..]).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("hard link target") && msg.contains("escape"),
            "{msg}"
        );
        assert!(!tmp.join("hl").exists());
        assert!(!tmp.parent().unwrap().join("esc").exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

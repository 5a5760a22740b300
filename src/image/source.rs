//! Where an image's files are read from: an OCI image layout directory, or a
//! tar archive of one (`oci-archive`) or of `docker save`.
//!
//! An archive is not extracted: one pass over its headers records where each
//! file's bytes are, and blobs are then read in place with positioned reads.
//! A gzip- or zstd-compressed archive is first decompressed into an unnamed
//! temporary file next to the bundle being made.

use super::digest::Digest;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

pub enum Source {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        file: File,
        /// Normalized member name → (offset of its data, size).
        files: HashMap<String, (u64, u64)>,
    },
}

/// A file's bytes inside an archive, read with pread so that several can be
/// open at once.
pub struct Slice<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = (self.end - self.pos).min(buf.len() as u64) as usize;
        if left == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..left], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Source {
    /// Opens `path`, a directory or an archive. `scratch` is a directory on
    /// the bundle's file system for the decompressed copy of a compressed
    /// archive.
    pub fn open(path: &Path, scratch: &Path) -> Result<Source> {
        let meta = std::fs::metadata(path).with_context(|| format!("open {}", path.display()))?;
        if meta.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let mut file = File::open(path).with_context(|| format!("open {}", path.display()))?;
        let mut magic = [0u8; 4];
        let n =
            read_full(&mut file, &mut magic).with_context(|| format!("read {}", path.display()))?;
        file.rewind()?;
        let compressed = matches!(magic[..n], [0x1f, 0x8b, ..] | [0x28, 0xb5, 0x2f, 0xfd]);
        if compressed {
            file = decompress(&file, magic[0] == 0x1f, scratch)
                .with_context(|| format!("decompress {}", path.display()))?;
        }
        let files = index_tar(&file).with_context(|| format!("read archive {}", path.display()))?;
        Ok(Source::Tar {
            path: path.to_path_buf(),
            file,
            files,
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Dir(p) | Source::Tar { path: p, .. } => p.display().to_string(),
        }
    }

    /// Whether the image holds the file `name` (relative, `/`-separated).
    pub fn has(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => d.join(name).is_file(),
            Source::Tar { files, .. } => normalize(name).is_some_and(|n| files.contains_key(&n)),
        }
    }

    /// Opens the file `name` with its size.
    pub fn open_file(&self, name: &str) -> Result<(Box<dyn Read + '_>, u64)> {
        let bad = || format!("{}: invalid file name {name:?}", self.describe());
        let norm = normalize(name).with_context(bad)?;
        match self {
            Source::Dir(d) => {
                let p = d.join(&norm);
                let f = File::open(&p).with_context(|| format!("open {}", p.display()))?;
                let size = f.metadata()?.len();
                Ok((Box::new(f), size))
            }
            Source::Tar { file, files, path } => {
                let &(pos, size) = files.get(&norm).with_context(|| {
                    format!("{}: no file {name} in the archive", path.display())
                })?;
                let slice = Slice {
                    file,
                    pos,
                    end: pos + size,
                };
                Ok((Box::new(slice), size))
            }
        }
    }

    /// Opens the blob `digest` of an OCI layout (`blobs/sha256/<hex>`).
    pub fn open_blob(&self, digest: &Digest) -> Result<(Box<dyn Read + '_>, u64)> {
        let name = format!("blobs/sha256/{}", digest.hex());
        if !self.has(&name) {
            bail!("{}: blob {digest} is missing", self.describe());
        }
        self.open_file(&name)
    }
}

/// Decompresses `file` into an unnamed temporary file in `scratch`.
fn decompress(file: &File, gzip: bool, scratch: &Path) -> Result<File> {
    let mut dec: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(zstd::Decoder::new(file)?)
    };
    let mut tmp = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(scratch)
        .with_context(|| format!("create a temporary file in {}", scratch.display()))?;
    io::copy(&mut dec, &mut tmp)?;
    tmp.rewind()?;
    Ok(tmp)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A member name as a key: no `./`, no leading or doubled `/`, no `..`.
fn normalize(name: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Records the data position of every regular file of the archive, and
/// resolves its symbolic and hard links to the files they name (`docker
/// save` links identical layers to one another).
fn index_tar(file: &File) -> Result<HashMap<String, (u64, u64)>> {
    let mut ar = tar::Archive::new(file);
    let mut files = HashMap::new();
    let mut links = Vec::new();
    for entry in ar.entries_with_seek()? {
        let entry = entry?;
        let raw = entry.path_bytes();
        let Some(name) = std::str::from_utf8(&raw).ok().and_then(normalize) else {
            continue;
        };
        let kind = entry.header().entry_type();
        if kind.is_file() || kind == tar::EntryType::Continuous {
            files.insert(name, (entry.raw_file_position(), entry.size()));
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name_bytes().unwrap_or_default();
            let target = String::from_utf8_lossy(&target).into_owned();
            let target = if kind.is_symlink() {
                // Relative to the link's directory.
                let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                dir.join(target).to_string_lossy().into_owned()
            } else {
                target
            };
            links.push((name, target));
        }
    }
    // Links may point at links: resolve a few rounds, then give up on the rest.
    for _ in 0..8 {
        let mut progress = false;
        for (name, target) in &links {
            if files.contains_key(name) {
                continue;
            }
            if let Some(t) = resolve_dots(target) {
                if let Some(&v) = files.get(&t) {
                    files.insert(name.clone(), v);
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
    Ok(files)
}

/// Lexically resolves `a/../b` inside the archive (never above its top).
fn resolve_dots(p: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize("./a//b").as_deref(), Some("a/b"));
        assert_eq!(normalize("/index.json").as_deref(), Some("index.json"));
        assert_eq!(normalize("../x"), None);
        assert_eq!(normalize("./"), None);
        assert_eq!(
            resolve_dots("a/b/../../c/layer.tar").as_deref(),
            Some("c/layer.tar")
        );
        assert_eq!(resolve_dots("../c"), None);
    }

    /// A temporary directory, removed on drop.
    struct Tmp(PathBuf);

    impl Tmp {
        fn new(name: &str) -> Tmp {
            let d = std::env::temp_dir().join(format!("husk-unit-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Tmp(d)
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A tar with `a/layer.tar`, a symlink and a hard link to it, and a
    /// link that leads out of the archive.
    fn archive() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "./a/layer.tar", &b"hello"[..])
            .unwrap();
        let mut link = |kind, name: &str, target: &str| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(0);
            b.append_link(&mut h, name, target).unwrap();
        };
        link(tar::EntryType::Symlink, "b/layer.tar", "../a/layer.tar");
        link(tar::EntryType::Link, "c/layer.tar", "a/layer.tar");
        link(tar::EntryType::Symlink, "d/chain.tar", "../b/layer.tar");
        link(tar::EntryType::Symlink, "e/out.tar", "../../etc/passwd");
        b.into_inner().unwrap()
    }

    fn read(src: &Source, name: &str) -> String {
        let (mut r, size) = src.open_file(name).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s.len() as u64, size);
        s
    }

    #[test]
    fn archive_links_resolve_inside_it() {
        let t = Tmp::new("src-links");
        let p = t.0.join("image.tar");
        std::fs::write(&p, archive()).unwrap();
        let src = Source::open(&p, &t.0).unwrap();
        for name in [
            "a/layer.tar",
            "/a/layer.tar",
            "b/layer.tar",
            "c/layer.tar",
            "d/chain.tar",
        ] {
            assert_eq!(read(&src, name), "hello", "{name}");
        }
        assert!(
            !src.has("e/out.tar"),
            "a link out of the archive leads nowhere"
        );
        let e = src.open_file("nope").err().unwrap().to_string();
        assert!(e.contains("no file nope in the archive"), "{e}");
        let e = src.open_file("../a/layer.tar").err().unwrap().to_string();
        assert!(e.contains("invalid file name"), "{e}");
        assert_eq!(src.describe(), p.display().to_string());
    }

    #[test]
    fn compressed_archives_are_read_too() {
        use std::io::Write;
        let t = Tmp::new("src-gz");
        let gz = t.0.join("image.tar.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&archive()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let zst = t.0.join("image.tar.zst");
        std::fs::write(&zst, zstd::encode_all(&archive()[..], 1).unwrap()).unwrap();
        for p in [gz, zst] {
            let src = Source::open(&p, &t.0).unwrap();
            assert_eq!(read(&src, "c/layer.tar"), "hello", "{}", p.display());
        }
        // The decompressed copy is an unnamed file: nothing is left.
        let mut left: Vec<_> = std::fs::read_dir(&t.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["image.tar.gz", "image.tar.zst"]);
    }

    #[test]
    fn directories_and_missing_blobs() {
        let t = Tmp::new("src-dir");
        std::fs::create_dir_all(t.0.join("blobs/sha256")).unwrap();
        std::fs::write(t.0.join("index.json"), "{}").unwrap();
        let src = Source::open(&t.0, &t.0).unwrap();
        assert!(src.has("index.json") && !src.has("blobs") && !src.has("oci-layout"));
        assert_eq!(read(&src, "./index.json"), "{}");
        let d = Digest::parse(&format!("sha256:{}", "0".repeat(64))).unwrap();
        let e = src.open_blob(&d).err().unwrap().to_string();
        assert!(e.ends_with(&format!("blob {d} is missing")), "{e}");
        let e = Source::open(&t.0.join("nope"), &t.0).err().unwrap();
        assert!(e.to_string().starts_with("open "), "{e}");
    }
}

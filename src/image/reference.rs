//! The IMAGE argument of `husk bundle`: a path, or a reference as skopeo
//! and umoci write them.
//!
//! ```text
//! PATH                         the image at PATH (any format); --tag selects
//! PATH:TAG                     the same with --tag TAG (umoci's DIR:TAG)
//! oci:DIR[:REF]                an OCI layout; REF: the exact ref.name annotation
//! oci-archive:FILE[:REF]       a tar of an OCI layout; REF as for oci:
//! docker-archive:FILE[:NAME[:TAG]|:@N]
//!                              a `docker save` archive: the RepoTag NAME:TAG
//!                              (normalized as docker does: busybox is
//!                              docker.io/library/busybox:latest), or entry N
//! ```
//!
//! A path that exists as given wins over splitting on ':', so paths with a
//! colon still work; otherwise the path is the longest prefix ending before
//! a ':' that exists (skopeo takes the first ':', so its paths cannot hold
//! one), and what follows is the tag, name or index. A reference that
//! names an image and `--tag` together are refused, naming both. Other
//! skopeo transports (`docker://`, `containers-storage:` ...) fail with one
//! line naming them. This module only parses: the caller passes the file
//! system lookup, so every rule here is tested without one.

use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the image at the path must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Whatever it is: an OCI layout or archive, or a docker save archive.
    Any,
    /// `oci:`: an OCI image layout directory.
    OciLayout,
    /// `oci-archive:`: a tar of an OCI image layout.
    OciArchive,
    /// `docker-archive:`: a `docker save` archive.
    DockerArchive,
}

/// Which image of the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Select {
    /// The only one (or, in an index, the one for the platform).
    Only,
    /// `--tag` or `PATH:TAG`: a ref.name or RepoTag, loosely (see
    /// `select::tag_matches`).
    Tag(String),
    /// `oci:` and `oci-archive:`: exactly this ref.name annotation.
    RefName(String),
    /// `docker-archive:FILE:NAME:TAG`: the RepoTag that normalizes to it.
    Docker(DockerRef),
    /// `docker-archive:FILE:@N`: entry N of manifest.json.
    Index(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub path: PathBuf,
    pub format: Format,
    pub select: Select,
}

/// A file system lookup: None if `p` does not exist, else whether it is a
/// directory (following symlinks).
pub type Stat<'a> = &'a dyn Fn(&Path) -> Option<bool>;

/// The transports husk reads, as skopeo spells them.
pub const SUPPORTED: &str =
    "oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:NAME:TAG|:@N], or a path [PATH:TAG]";

/// skopeo's other transports: named in the error instead of being taken
/// for a path.
const OTHER_TRANSPORTS: [&str; 8] = [
    "docker",
    "docker-daemon",
    "containers-storage",
    "dir",
    "ostree",
    "sif",
    "tarball",
    "atomic",
];

/// Parses the IMAGE argument against the file system seen through `stat`.
pub fn parse(arg: &OsStr, tag: Option<&str>, stat: Stat) -> Result<ImageRef> {
    let show = arg.to_string_lossy();
    if arg.is_empty() {
        bail!("no image given");
    }
    let r = parse_inner(arg, stat)?;
    if let (Some(t), Some(own)) = (tag, r.select.describe()) {
        bail!("both --tag {t:?} and {own} (in {show:?}) select the image: give one of them");
    }
    Ok(match (tag, r.select) {
        (Some(t), Select::Only) => ImageRef {
            select: Select::Tag(t.to_string()),
            ..r
        },
        (_, select) => ImageRef { select, ..r },
    })
}

fn parse_inner(arg: &OsStr, stat: Stat) -> Result<ImageRef> {
    let show = arg.to_string_lossy();
    let bytes = arg.as_bytes();
    if stat(Path::new(arg)).is_some() {
        return Ok(ImageRef {
            path: PathBuf::from(arg),
            format: Format::Any,
            select: Select::Only,
        });
    }
    let (transport, rest) = match bytes.iter().position(|&b| b == b':') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => bail!("image {show} does not exist"),
    };
    let format = match transport {
        b"oci" => Format::OciLayout,
        b"oci-archive" => Format::OciArchive,
        b"docker-archive" => Format::DockerArchive,
        // `dir:TAG` with a directory named `dir` is umoci's form.
        t if rest.starts_with(b"//")
            || (OTHER_TRANSPORTS.iter().any(|o| o.as_bytes() == t)
                && stat(Path::new(OsStr::from_bytes(t))).is_none()) =>
        {
            bail!(
                "unsupported image transport \"{}:\" in {show:?}: husk bundle reads {SUPPORTED}",
                String::from_utf8_lossy(t)
            )
        }
        _ => return bare(bytes, &show, stat),
    };
    let name = String::from_utf8_lossy(transport);
    if rest.is_empty() {
        bail!("{name}: no path given in {show:?}");
    }
    let (path, sel, is_dir) = match split_existing(rest, stat) {
        Some(s) => s,
        None => {
            // As skopeo: the path ends at the first ':'.
            let end = rest.iter().position(|&b| b == b':').unwrap_or(rest.len());
            let p = Path::new(OsStr::from_bytes(&rest[..end]));
            bail!("{name}: {} does not exist (in {show:?})", p.display());
        }
    };
    match (format, is_dir) {
        (Format::OciLayout, false) => bail!(
            "oci: {} is not a directory (an OCI archive is read with oci-archive:)",
            path.display()
        ),
        (Format::OciArchive | Format::DockerArchive, true) => bail!(
            "{name}: {} is a directory, not an archive (an OCI layout is read with oci:)",
            path.display()
        ),
        _ => {}
    }
    let sel = match sel {
        None => None,
        Some(s) => Some(
            std::str::from_utf8(s)
                .with_context(|| format!("{name}: the reference in {show:?} is not UTF-8"))?,
        ),
    };
    let select = match format {
        Format::DockerArchive => docker_select(sel)?,
        _ => match sel {
            None | Some("") => Select::Only,
            Some(r) if is_ref_name(r) => Select::RefName(r.to_string()),
            Some(r) => bail!(
                "{name}: invalid reference {r:?}: a ref.name is letters and digits, joined by \
                 one of -._:@+ or -- and by /"
            ),
        },
    };
    Ok(ImageRef {
        path,
        format,
        select,
    })
}

/// `PATH:TAG` without a transport: the longest existing prefix is the path.
fn bare(bytes: &[u8], show: &str, stat: Stat) -> Result<ImageRef> {
    let Some((path, Some(tag), _)) = split_existing(bytes, stat) else {
        bail!("image {show} does not exist");
    };
    let tag =
        std::str::from_utf8(tag).with_context(|| format!("the tag in {show:?} is not UTF-8"))?;
    if tag.is_empty() {
        bail!("empty tag after ':' in {show:?}");
    }
    Ok(ImageRef {
        path,
        format: Format::Any,
        select: Select::Tag(tag.to_string()),
    })
}

/// The longest prefix of `s` that exists, ending at the end of `s` or just
/// before a ':', with what follows that ':' and whether it is a directory.
fn split_existing<'a>(s: &'a [u8], stat: Stat) -> Option<(PathBuf, Option<&'a [u8]>, bool)> {
    let whole = Path::new(OsStr::from_bytes(s));
    if let Some(dir) = stat(whole) {
        return Some((whole.to_path_buf(), None, dir));
    }
    let colons: Vec<usize> = (0..s.len()).filter(|&i| s[i] == b':').collect();
    colons.iter().rev().find_map(|&i| {
        let p = Path::new(OsStr::from_bytes(&s[..i]));
        let dir = (i > 0).then(|| stat(p)).flatten()?;
        Some((p.to_path_buf(), Some(&s[i + 1..]), dir))
    })
}

/// `docker-archive:`'s part after the path, as skopeo reads it.
fn docker_select(sel: Option<&str>) -> Result<Select> {
    let Some(s) = sel else {
        return Ok(Select::Only);
    };
    if let Some(n) = s.strip_prefix('@') {
        let i: i64 = n
            .parse()
            .map_err(|_| anyhow::anyhow!("docker-archive: invalid source index @{n}"))?;
        if i < 0 {
            bail!("docker-archive: invalid source index @{i}: must not be negative");
        }
        return Ok(Select::Index(i as usize));
    }
    let r = DockerRef::parse(s).with_context(|| format!("docker-archive: invalid name {s:?}"))?;
    Ok(Select::Docker(r))
}

impl Select {
    /// How the reference itself chose the image, for the error that it
    /// and --tag were both given.
    fn describe(&self) -> Option<String> {
        match self {
            Select::Only => None,
            Select::Tag(t) => Some(format!("the tag {t:?}")),
            Select::RefName(r) => Some(format!("the reference {r:?}")),
            Select::Docker(d) => Some(format!("the name \"{d}\"")),
            Select::Index(i) => Some(format!("the index @{i}")),
        }
    }
}

/// An OCI ref.name annotation, as the image spec defines it and skopeo
/// checks it: components of letters and digits joined by one of `-._:@+`
/// or `--`, separated by `/`.
pub fn is_ref_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|c| {
            let b = c.as_bytes();
            let sep = |x: u8| b"-._:@+".contains(&x);
            let mut i = 0;
            let mut run_alnum = false;
            while i < b.len() {
                if b[i].is_ascii_alphanumeric() {
                    run_alnum = true;
                    i += 1;
                } else if run_alnum && b[i..].starts_with(b"--") {
                    run_alnum = false;
                    i += 2;
                } else if run_alnum && sep(b[i]) {
                    run_alnum = false;
                    i += 1;
                } else {
                    return false;
                }
            }
            run_alnum
        })
}

/// A docker image name with its tag, normalized as docker and skopeo do:
/// `busybox` is `docker.io/library/busybox:latest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerRef {
    /// `domain/path`.
    pub name: String,
    pub tag: String,
}

impl fmt::Display for DockerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

const DOCKER_HUB: &str = "docker.io";

impl DockerRef {
    /// Parses `[DOMAIN/]PATH[:TAG]`; the tag defaults to `latest`. A digest
    /// is refused: a docker archive names its images by tag.
    pub fn parse(s: &str) -> Result<DockerRef> {
        if s.is_empty() {
            bail!("invalid reference format: empty");
        }
        if s.contains('@') {
            bail!("reference does not include a tag: a digest cannot name an image in a docker archive");
        }
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("invalid repository name: cannot be a 64-byte hexadecimal string");
        }
        let (domain, rest) = match s.split_once('/') {
            Some((d, r)) if d.contains(['.', ':']) || d == "localhost" => (d, r),
            _ => (DOCKER_HUB, s),
        };
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB
        } else {
            domain
        };
        let (path, tag) = match rest.rfind(':') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, "latest"),
        };
        if path.to_lowercase() != path {
            bail!("invalid reference format: repository name must be lowercase");
        }
        if !is_domain(domain) || !path.split('/').all(is_path_component) || !is_tag(tag) {
            bail!("invalid reference format");
        }
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        let name = format!("{domain}/{path}");
        if name.len() > 255 {
            bail!("repository name must not be more than 255 characters");
        }
        Ok(DockerRef {
            name,
            tag: tag.to_string(),
        })
    }
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = matches!(sep, b"." | b"_" | b"__") || sep.iter().all(|&x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Host name labels (letters, digits, inner `-`) joined by `.`, with an
/// optional `:port`.
fn is_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let label = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    host.split('.').all(label)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_tag(s: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake file system: path → is a directory.
    fn fs(entries: &[(&str, bool)]) -> HashMap<PathBuf, bool> {
        entries
            .iter()
            .map(|(p, d)| (PathBuf::from(p), *d))
            .collect()
    }

    fn parse_in(fs: &HashMap<PathBuf, bool>, arg: &str, tag: Option<&str>) -> Result<ImageRef> {
        parse(OsStr::new(arg), tag, &|p: &Path| fs.get(p).copied())
    }

    fn ok(fs: &HashMap<PathBuf, bool>, arg: &str) -> (String, Format, Select) {
        let r = parse_in(fs, arg, None).unwrap_or_else(|e| panic!("{arg}: {e:#}"));
        (r.path.display().to_string(), r.format, r.select)
    }

    fn err(fs: &HashMap<PathBuf, bool>, arg: &str, tag: Option<&str>) -> String {
        match parse_in(fs, arg, tag) {
            Ok(r) => panic!("{arg}: accepted as {r:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    fn std_fs() -> HashMap<PathBuf, bool> {
        fs(&[
            ("L", true),
            ("/img/layout", true),
            ("a.tar", false),
            ("/img/ds.tar", false),
            ("odd:name", true),
            ("/x/with:colon.tar", false),
        ])
    }

    fn docker(name: &str, tag: &str) -> Select {
        Select::Docker(DockerRef {
            name: name.into(),
            tag: tag.into(),
        })
    }

    #[test]
    fn plain_paths_keep_tag_flag() {
        let f = std_fs();
        assert_eq!(ok(&f, "L"), ("L".into(), Format::Any, Select::Only));
        let r = parse_in(&f, "/img/ds.tar", Some("v1")).unwrap();
        assert_eq!(r.select, Select::Tag("v1".into()));
        assert_eq!(r.format, Format::Any);
    }

    #[test]
    fn existing_path_with_colon_wins() {
        let f = std_fs();
        assert_eq!(
            ok(&f, "odd:name"),
            ("odd:name".into(), Format::Any, Select::Only)
        );
        let (p, _, s) = ok(&f, "odd:name:v2");
        assert_eq!((p.as_str(), s), ("odd:name", Select::Tag("v2".into())));
        let (p, fmt, s) = ok(&f, "docker-archive:/x/with:colon.tar");
        assert_eq!(
            (p.as_str(), fmt, s),
            ("/x/with:colon.tar", Format::DockerArchive, Select::Only)
        );
        // A file literally named like a reference is that file.
        let f = fs(&[("oci:L", true), ("dir", true)]);
        assert_eq!(ok(&f, "oci:L"), ("oci:L".into(), Format::Any, Select::Only));
        // So is a directory named like one of skopeo's other transports.
        assert_eq!(
            ok(&f, "dir:v1"),
            ("dir".into(), Format::Any, Select::Tag("v1".into()))
        );
    }

    #[test]
    fn umoci_dir_tag() {
        let f = std_fs();
        assert_eq!(
            ok(&f, "L:app"),
            ("L".into(), Format::Any, Select::Tag("app".into()))
        );
        assert_eq!(
            ok(&f, "/img/layout:busybox:1.36").2,
            Select::Tag("busybox:1.36".into())
        );
        assert_eq!(ok(&f, "a.tar:v1").2, Select::Tag("v1".into()));
        assert!(err(&f, "L:", None).contains("empty tag"));
    }

    #[test]
    fn oci_transport() {
        let f = std_fs();
        assert_eq!(
            ok(&f, "oci:L"),
            ("L".into(), Format::OciLayout, Select::Only)
        );
        assert_eq!(
            ok(&f, "oci:L:"),
            ("L".into(), Format::OciLayout, Select::Only)
        );
        assert_eq!(ok(&f, "oci:L:app").2, Select::RefName("app".into()));
        assert_eq!(
            ok(&f, "oci:/img/layout:busybox:1.0").2,
            Select::RefName("busybox:1.0".into())
        );
        assert!(err(&f, "oci:a.tar", None).contains("not a directory"));
        assert!(err(&f, "oci:L:Bad Name", None).contains("invalid reference"));
        assert!(err(&f, "oci:L:@0", None).contains("invalid reference"));
    }

    #[test]
    fn oci_archive_transport() {
        let f = std_fs();
        assert_eq!(
            ok(&f, "oci-archive:a.tar"),
            ("a.tar".into(), Format::OciArchive, Select::Only)
        );
        assert_eq!(
            ok(&f, "oci-archive:a.tar:foo").2,
            Select::RefName("foo".into())
        );
        assert!(err(&f, "oci-archive:L", None).contains("is a directory"));
    }

    #[test]
    fn docker_archive_transport() {
        let f = std_fs();
        assert_eq!(ok(&f, "docker-archive:a.tar").2, Select::Only);
        assert_eq!(
            ok(&f, "docker-archive:a.tar:busybox").2,
            docker("docker.io/library/busybox", "latest")
        );
        assert_eq!(
            ok(&f, "docker-archive:a.tar:husk-test/ds:v1").2,
            docker("docker.io/husk-test/ds", "v1")
        );
        assert_eq!(
            ok(&f, "docker-archive:/img/ds.tar:localhost:5000/x/y:2").2,
            docker("localhost:5000/x/y", "2")
        );
        assert!(err(&f, "docker-archive:L", None).contains("is a directory"));
    }

    #[test]
    fn docker_archive_source_index() {
        let f = std_fs();
        assert_eq!(ok(&f, "docker-archive:a.tar:@0").2, Select::Index(0));
        assert_eq!(ok(&f, "docker-archive:a.tar:@12").2, Select::Index(12));
        assert!(err(&f, "docker-archive:a.tar:@-1", None).contains("must not be negative"));
        assert!(err(&f, "docker-archive:a.tar:@x", None).contains("invalid source index"));
        assert!(err(&f, "docker-archive:a.tar:@", None).contains("invalid source index"));
    }

    #[test]
    fn docker_archive_bad_names() {
        let f = std_fs();
        // skopeo: an empty name after ':' is an invalid reference.
        assert!(err(&f, "docker-archive:a.tar:", None).contains("invalid name"));
        let e = err(&f, "docker-archive:a.tar:Busybox:1", None);
        assert!(e.contains("must be lowercase"), "{e}");
        let e = err(
            &f,
            &format!("docker-archive:a.tar:busybox@sha256:{}", "a".repeat(64)),
            None,
        );
        assert!(e.contains("does not include a tag"), "{e}");
    }

    #[test]
    fn tag_flag_conflicts_with_a_reference_that_selects() {
        let f = std_fs();
        for (arg, own) in [
            ("L:app", "the tag \"app\""),
            ("oci:L:app", "the reference \"app\""),
            (
                "docker-archive:a.tar:b:1",
                "the name \"docker.io/library/b:1\"",
            ),
            ("docker-archive:a.tar:@0", "the index @0"),
        ] {
            let e = err(&f, arg, Some("other"));
            assert!(
                e.contains("--tag \"other\"") && e.contains(own),
                "{arg}: {e}"
            );
        }
        // A transport without a selector takes --tag.
        let r = parse_in(&f, "oci:L", Some("app")).unwrap();
        assert_eq!(
            (r.format, r.select),
            (Format::OciLayout, Select::Tag("app".into()))
        );
    }

    #[test]
    fn unknown_transports_are_named() {
        let f = std_fs();
        for (arg, t) in [
            ("docker://busybox", "docker:"),
            ("containers-storage:busybox", "containers-storage:"),
            ("docker-daemon:busybox:latest", "docker-daemon:"),
            ("dir:/tmp/x", "dir:"),
            ("https://example.com/x", "https:"),
        ] {
            let e = err(&f, arg, None);
            assert!(
                e.contains(&format!("unsupported image transport \"{t}\"")),
                "{arg}: {e}"
            );
            assert!(
                e.contains("oci-archive:FILE"),
                "lists the supported ones: {e}"
            );
        }
    }

    #[test]
    fn missing_images() {
        let f = std_fs();
        assert!(err(&f, "/nonexistent/image", None).contains("does not exist"));
        assert!(err(&f, "busybox:latest", None).contains("image busybox:latest does not exist"));
        let e = err(&f, "oci:nope:app", None);
        assert!(e.contains("oci: nope does not exist"), "{e}");
        assert!(err(&f, "oci:", None).contains("no path given"));
        assert!(err(&f, "", None).contains("no image given"));
    }

    #[test]
    fn ref_names() {
        for good in [
            "app",
            "v1.0",
            "busybox:1.36",
            "a/b/c",
            "x--y",
            "a+b@c",
            "A9",
        ] {
            assert!(is_ref_name(good), "{good}");
        }
        for bad in ["", "@0", "a b", "-a", "a-", "a//b", "/a", "a/", "a..b"] {
            assert!(!is_ref_name(bad), "{bad}");
        }
    }

    #[test]
    fn docker_normalization() {
        let n = |s: &str| DockerRef::parse(s).unwrap().to_string();
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(n("library/busybox:1"), "docker.io/library/busybox:1");
        assert_eq!(
            n("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(n("example.com/a/b:v2"), "example.com/a/b:v2");
        assert_eq!(n("localhost/x"), "localhost/x:latest");
        assert_eq!(n("localhost:5000/x:2"), "localhost:5000/x:2");
        assert_eq!(
            n("my_repo/a-b__c:T_1.x-y"),
            "docker.io/my_repo/a-b__c:T_1.x-y"
        );
    }

    #[test]
    fn docker_bad_references() {
        for bad in [
            "",
            "a:",
            "a:-x",
            "UPPER",
            "a_",
            "a/-b",
            "bad host!/x",
            "a:b:c",
            &"e".repeat(64),
            &format!("x/{}", "a".repeat(260)),
        ] {
            assert!(DockerRef::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(is_tag(&"t".repeat(128)));
        assert!(!is_tag(&"t".repeat(129)));
    }
}

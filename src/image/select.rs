//! From an image source to one image: its verified config and its layers.
//!
//! An OCI layout is entered through `index.json`: the tag selects among its
//! manifests (annotation `org.opencontainers.image.ref.name`), the platform
//! among the entries of an image index or Docker manifest list. A `docker
//! save` archive is entered through `manifest.json`, whose `RepoTags` the
//! tag selects among. Every manifest, index and config is verified against
//! its digest before it is parsed.

use super::digest::{read_json, Digest};
use super::reference::{DockerRef, Format, Select};
use super::source::Source;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub platform: Option<Platform>,
}

#[derive(Deserialize, Debug, Clone, PartialEq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The parts of an image config husk uses.
#[derive(Deserialize, Debug, Default)]
pub struct ImageConfig {
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    pub rootfs: Option<RootFs>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub user: Option<String>,
    pub env: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    /// `docker save` layers carry no media type: look at the first bytes.
    Detect,
}

/// One layer, bottom first.
#[derive(Clone, Debug)]
pub struct Layer {
    /// File of the layer in the source.
    pub file: String,
    /// Digest of the blob as stored; None for legacy `docker save` layers,
    /// which are verified through their diff id alone.
    pub digest: Option<Digest>,
    /// Size of the blob as stored, when the manifest gives it.
    pub size: Option<u64>,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    pub compression: Compression,
}

#[derive(Debug)]
pub struct Image {
    pub config: ImageConfig,
    pub layers: Vec<Layer>,
    /// The name the image was chosen by, if any.
    pub reference: Option<String>,
}

/// The platform husk runs on, as OCI spells it.
pub fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    };
    Platform {
        os: "linux".into(),
        architecture: arch.into(),
        variant: None,
    }
}

/// Parses `os/arch[/variant]`.
pub fn parse_platform(s: &str) -> Result<Platform> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts[..] {
        [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: parts.get(2).map(|v| v.to_string()),
        }),
        _ => bail!("invalid platform {s:?}: expected OS/ARCH[/VARIANT], e.g. linux/amd64"),
    }
}

fn platform_matches(want: &Platform, have: &Option<Platform>) -> bool {
    let Some(have) = have else { return true };
    have.os == want.os
        && have.architecture == want.architecture
        && (want.variant.is_none() || have.variant == want.variant)
}

/// Whether `name` (a ref.name annotation or a RepoTag) is what `tag` asks
/// for: the same string, its tag part (`busybox:1.36` for `1.36`), or the
/// repository with an implied `latest`.
fn tag_matches(name: &str, tag: &str) -> bool {
    if name == tag {
        return true;
    }
    let (repo, t) = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => (name, "latest"),
    };
    t == tag
        || (repo == tag && t == "latest")
        || short_repo(repo) == tag
        || format!("{}:{t}", short_repo(repo)) == tag
}

/// `docker.io/library/busybox` → `busybox`.
fn short_repo(repo: &str) -> &str {
    repo.strip_prefix("docker.io/library/")
        .or_else(|| repo.strip_prefix("docker.io/"))
        .unwrap_or(repo)
}

/// Chooses the image of `src` that `sel` names (or its only one) for
/// `platform`. `format` is what the reference's transport says the source
/// is: a docker save archive of docker 25 or later is also an OCI layout,
/// read as one or the other as asked.
pub fn select(src: &Source, sel: &Select, format: Format, platform: &Platform) -> Result<Image> {
    let (oci_ok, docker_ok) = (src.has("index.json"), src.has("manifest.json"));
    match format {
        Format::Any if docker_ok => docker(src, sel),
        Format::Any if oci_ok => oci(src, sel, platform),
        Format::Any => bail!(
            "{} is neither an OCI image layout nor a docker save archive (no index.json, no manifest.json)",
            src.describe()
        ),
        Format::OciLayout | Format::OciArchive if oci_ok => oci(src, sel, platform),
        Format::OciLayout => bail!("oci: {} is not an OCI image layout (no index.json)", src.describe()),
        Format::OciArchive => bail!(
            "oci-archive: {} is not an OCI archive (no index.json){}",
            src.describe(),
            if docker_ok { "; it is a docker save archive: use docker-archive:" } else { "" }
        ),
        Format::DockerArchive if docker_ok => docker(src, sel),
        Format::DockerArchive => bail!(
            "docker-archive: {} is not a docker save archive (no manifest.json){}",
            src.describe(),
            if oci_ok { "; it is an OCI archive: use oci-archive:" } else { "" }
        ),
    }
}

/// The names among `names` that `sel` chooses: for a tag, the exact
/// matches if there are any, else the loose ones ([`tag_matches`]).
fn chosen<'a>(names: &[&'a str], sel: &Select) -> Vec<&'a str> {
    match sel {
        Select::Only | Select::Index(_) => names.to_vec(),
        Select::RefName(r) => names.iter().copied().filter(|n| n == r).collect(),
        Select::Tag(t) => {
            let exact: Vec<&str> = names.iter().copied().filter(|n| n == t).collect();
            if exact.is_empty() {
                names
                    .iter()
                    .copied()
                    .filter(|n| tag_matches(n, t))
                    .collect()
            } else {
                exact
            }
        }
        Select::Docker(d) => names
            .iter()
            .copied()
            .filter(|n| DockerRef::parse(n).is_ok_and(|r| &r == d))
            .collect(),
    }
}

/// "tag \"x\"", "reference \"x\"", ... for the error that it was not found.
fn what(sel: &Select) -> String {
    match sel {
        Select::Only => "an image".into(),
        Select::Tag(t) => format!("tag {t:?}"),
        Select::RefName(r) => format!("reference {r:?}"),
        Select::Docker(d) => format!("name \"{d}\""),
        Select::Index(i) => format!("image @{i}"),
    }
}

fn oci(src: &Source, sel: &Select, platform: &Platform) -> Result<Image> {
    let (r, size) = src.open_file("index.json")?;
    let index: Index = read_json(r, "index.json", None, Some(size))?;
    let name_of = |d: &Descriptor| {
        d.annotations
            .get(REF_NAME)
            .or_else(|| d.annotations.get(CONTAINERD_NAME))
            .cloned()
    };
    let mut cands: Vec<&Descriptor> = index.manifests.iter().collect();
    if let Select::Docker(_) | Select::Index(_) = sel {
        bail!(
            "{}: {} selects in docker archives only",
            src.describe(),
            what(sel)
        );
    }
    if *sel != Select::Only {
        // skopeo's oci: looks at ref.name only; --tag also at containerd's name.
        let keys: &[&str] = match sel {
            Select::RefName(_) => &[REF_NAME],
            _ => &[REF_NAME, CONTAINERD_NAME],
        };
        let names: Vec<&str> = cands
            .iter()
            .flat_map(|d| keys.iter().filter_map(|k| d.annotations.get(*k)))
            .map(String::as_str)
            .collect();
        let wanted = chosen(&names, sel);
        cands.retain(|d| {
            keys.iter().any(|k| {
                d.annotations
                    .get(*k)
                    .is_some_and(|n| wanted.contains(&n.as_str()))
            })
        });
        if cands.is_empty() {
            bail!(
                "{} not found in {} (tags: {})",
                what(sel),
                src.describe(),
                list(index.manifests.iter().filter_map(name_of))
            );
        }
    }
    let desc = pick(src, &cands, platform, &name_of)?;
    let reference = match sel {
        Select::Tag(t) | Select::RefName(t) => Some(t.clone()),
        _ => name_of(desc),
    };
    let manifest = resolve_manifest(src, desc, platform, 0)?;
    let cdesc = &manifest.config;
    let cdigest = Digest::parse(&cdesc.digest).context("config descriptor")?;
    let (r, _) = src.open_blob(&cdigest)?;
    let config: ImageConfig = read_json(
        r,
        &format!("config {cdigest}"),
        Some(&cdigest),
        Some(cdesc.size),
    )?;
    let diff_ids = diff_ids(&config, manifest.layers.len())?;
    let mut layers = Vec::new();
    for (l, diff_id) in manifest.layers.iter().zip(diff_ids) {
        let digest = Digest::parse(&l.digest).context("layer descriptor")?;
        layers.push(Layer {
            file: format!("blobs/sha256/{}", digest.hex()),
            digest: Some(digest),
            size: Some(l.size),
            diff_id,
            compression: layer_compression(&l.media_type)?,
        });
    }
    Ok(Image {
        config,
        layers,
        reference,
    })
}

/// The one descriptor among `cands` for `platform`, or an error naming the
/// choices.
fn pick<'a>(
    src: &Source,
    cands: &[&'a Descriptor],
    platform: &Platform,
    name_of: &dyn Fn(&Descriptor) -> Option<String>,
) -> Result<&'a Descriptor> {
    let fit: Vec<&Descriptor> = cands
        .iter()
        .copied()
        .filter(|d| platform_matches(platform, &d.platform))
        .collect();
    match fit[..] {
        [d] => Ok(d),
        [] if cands.is_empty() => bail!("{} holds no image", src.describe()),
        [] => bail!(
            "no image for platform {} in {}",
            show_platform(platform),
            src.describe()
        ),
        _ => bail!(
            "{} holds {} images: choose one with --tag or PATH:TAG (tags: {})",
            src.describe(),
            fit.len(),
            list(fit.iter().filter_map(|d| name_of(d)))
        ),
    }
}

fn show_platform(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

fn list(names: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Follows `desc` through nested indexes down to an image manifest.
fn resolve_manifest(
    src: &Source,
    desc: &Descriptor,
    platform: &Platform,
    depth: u32,
) -> Result<Manifest> {
    if depth > 4 {
        bail!("image indexes nested too deep in {}", src.describe());
    }
    let digest = Digest::parse(&desc.digest).context("manifest descriptor")?;
    let what = format!("manifest {digest}");
    let (r, _) = src.open_blob(&digest)?;
    let value: serde_json::Value = read_json(r, &what, Some(&digest), Some(desc.size))?;
    // The descriptor's media type, else the blob's own.
    let mt = if desc.media_type.is_empty() {
        value["mediaType"].as_str().unwrap_or("").to_string()
    } else {
        desc.media_type.clone()
    };
    let is_index =
        INDEX_TYPES.contains(&mt.as_str()) || (mt.is_empty() && value.get("manifests").is_some());
    if is_index {
        let index: Index =
            serde_json::from_value(value).with_context(|| format!("parse {what}"))?;
        let cands: Vec<&Descriptor> = index.manifests.iter().collect();
        let d = pick(src, &cands, platform, &|d| {
            d.platform.as_ref().map(show_platform)
        })?;
        return resolve_manifest(src, d, platform, depth + 1);
    }
    if !mt.is_empty() && !MANIFEST_TYPES.contains(&mt.as_str()) {
        bail!("{what}: unsupported media type {mt:?}");
    }
    let m: Manifest = serde_json::from_value(value).with_context(|| format!("parse {what}"))?;
    Ok(m)
}

/// The decompression a layer media type calls for.
pub fn layer_compression(media_type: &str) -> Result<Compression> {
    let base = media_type
        .strip_prefix("application/vnd.oci.image.layer.nondistributable.v1.tar")
        .or_else(|| media_type.strip_prefix("application/vnd.oci.image.layer.v1.tar"));
    Ok(match (base, media_type) {
        (Some(""), _) => Compression::None,
        (Some("+gzip"), _) => Compression::Gzip,
        (Some("+zstd"), _) => Compression::Zstd,
        (
            _,
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ) => Compression::Gzip,
        (_, "application/vnd.docker.image.rootfs.diff.tar") => Compression::None,
        (_, "application/vnd.docker.image.rootfs.diff.tar.zstd") => Compression::Zstd,
        _ => bail!("unsupported layer media type {media_type:?}"),
    })
}

fn diff_ids(config: &ImageConfig, layers: usize) -> Result<Vec<Digest>> {
    let ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.as_slice())
        .unwrap_or_default();
    if ids.len() != layers {
        bail!(
            "image config lists {} diff_ids for {layers} layers",
            ids.len()
        );
    }
    ids.iter()
        .map(|s| Digest::parse(s).context("config rootfs.diff_ids"))
        .collect()
}

fn docker(src: &Source, sel: &Select) -> Result<Image> {
    let (r, size) = src.open_file("manifest.json")?;
    let entries: Vec<DockerEntry> = read_json(r, "manifest.json", None, Some(size))?;
    let (entry, reference) = docker_entry(&entries, sel, &src.describe())?;
    // Configs are named after their digest: `<hex>.json` (docker before
    // v25) or `blobs/sha256/<hex>`.
    let stem = entry.config.rsplit('/').next().unwrap_or("");
    let cdigest =
        Digest::from_hex(stem.strip_suffix(".json").unwrap_or(stem)).with_context(|| {
            format!(
                "manifest.json: cannot verify config {}: its name is not a sha256 digest",
                entry.config
            )
        })?;
    let (r, size) = src.open_file(&entry.config)?;
    let config: ImageConfig = read_json(
        r,
        &format!("config {}", entry.config),
        Some(&cdigest),
        Some(size),
    )?;
    let diff_ids = diff_ids(&config, entry.layers.len())?;
    let layers = entry
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(file, diff_id)| Layer {
            digest: file
                .strip_prefix("blobs/sha256/")
                .and_then(Digest::from_hex),
            file: file.clone(),
            size: None,
            diff_id,
            compression: Compression::Detect,
        })
        .collect();
    Ok(Image {
        config,
        layers,
        reference,
    })
}

/// The entry of a docker save manifest.json that `sel` names, with the
/// RepoTag it was chosen by (or its first).
fn docker_entry<'a>(
    entries: &'a [DockerEntry],
    sel: &Select,
    source: &str,
) -> Result<(&'a DockerEntry, Option<String>)> {
    let tags_of = |e: &DockerEntry| e.repo_tags.clone().unwrap_or_default();
    let all = || list(entries.iter().flat_map(tags_of));
    let first_tag = |e: &'a DockerEntry| (e, tags_of(e).into_iter().next());
    match sel {
        Select::Only => match entries {
            [e] => Ok(first_tag(e)),
            [] => bail!("{source}: manifest.json lists no image"),
            _ => bail!(
                "{source} holds {} images: choose one with --tag, PATH:TAG or docker-archive:PATH:@N (tags: {})",
                entries.len(),
                all()
            ),
        },
        Select::Index(i) => match entries.get(*i) {
            Some(e) => Ok(first_tag(e)),
            None => bail!(
                "image @{i} not found in {source}, which holds {} (tags: {})",
                entries.len(),
                all()
            ),
        },
        _ => {
            // The first entry with a RepoTag chosen: exact ones first.
            let names: Vec<String> = entries.iter().flat_map(tags_of).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let wanted = chosen(&refs, sel);
            let found = wanted.first().and_then(|w| {
                entries
                    .iter()
                    .find(|e| tags_of(e).iter().any(|n| n == w))
                    .map(|e| (e, Some(w.to_string())))
            });
            found.ok_or_else(|| anyhow::anyhow!("{} not found in {source} (tags: {})", what(sel), all()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert!(tag_matches("latest", "latest"));
        assert!(tag_matches("busybox:1.36", "1.36"));
        assert!(tag_matches("busybox:1.36", "busybox:1.36"));
        assert!(tag_matches("docker.io/library/busybox:latest", "busybox"));
        assert!(tag_matches("docker.io/library/busybox:1", "busybox:1"));
        assert!(tag_matches("localhost:5000/x", "localhost:5000/x"));
        assert!(!tag_matches("busybox:1.36", "1.35"));
        assert!(!tag_matches("v1", "v2"));
    }

    #[test]
    fn media_types() {
        use Compression::*;
        let t = |s| layer_compression(s).unwrap();
        assert_eq!(t("application/vnd.oci.image.layer.v1.tar"), None);
        assert_eq!(t("application/vnd.oci.image.layer.v1.tar+gzip"), Gzip);
        assert_eq!(t("application/vnd.oci.image.layer.v1.tar+zstd"), Zstd);
        assert_eq!(
            t("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"),
            Gzip
        );
        assert_eq!(t("application/vnd.docker.image.rootfs.diff.tar.gzip"), Gzip);
        assert!(layer_compression("application/vnd.oci.image.layer.v1.tar+bzip2").is_err());
        assert!(layer_compression("text/plain").is_err());
    }

    fn sel_tag(t: &str) -> Select {
        Select::Tag(t.into())
    }

    #[test]
    fn exact_names_win_over_loose_ones() {
        let names = ["busybox:latest", "latest", "other:latest"];
        assert_eq!(chosen(&names, &sel_tag("latest")), ["latest"]);
        assert_eq!(chosen(&names[..1], &sel_tag("latest")), ["busybox:latest"]);
        let two = ["a:latest", "b:latest"];
        assert_eq!(
            chosen(&two, &sel_tag("latest")),
            two,
            "both: ambiguous, left to pick"
        );
        assert_eq!(chosen(&names, &Select::Only), names);
    }

    #[test]
    fn ref_names_match_exactly() {
        let names = ["busybox:1.36", "1.36", "app"];
        assert_eq!(chosen(&names, &Select::RefName("1.36".into())), ["1.36"]);
        assert!(chosen(&names, &Select::RefName("busybox".into())).is_empty());
        assert!(chosen(&names, &Select::RefName("App".into())).is_empty());
    }

    #[test]
    fn docker_names_match_normalized() {
        let d = |s: &str| Select::Docker(DockerRef::parse(s).unwrap());
        let names = [
            "busybox:1.36",
            "docker.io/library/alpine:3",
            "localhost:5000/x:2",
            "Bad:tag",
        ];
        assert_eq!(
            chosen(&names, &d("docker.io/library/busybox:1.36")),
            ["busybox:1.36"]
        );
        assert_eq!(
            chosen(&names, &d("alpine:3")),
            ["docker.io/library/alpine:3"]
        );
        assert_eq!(
            chosen(&names, &d("localhost:5000/x:2")),
            ["localhost:5000/x:2"]
        );
        assert!(
            chosen(&names, &d("busybox")).is_empty(),
            "latest is implied, not any tag"
        );
    }

    fn entry(tags: &[&str]) -> DockerEntry {
        DockerEntry {
            config: "c.json".into(),
            repo_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            layers: vec![],
        }
    }

    #[test]
    fn docker_entries() {
        let one = [entry(&["a:1", "a:latest"])];
        let (e, r) = docker_entry(&one, &Select::Only, "x.tar").unwrap();
        assert!(std::ptr::eq(e, &one[0]));
        assert_eq!(r.as_deref(), Some("a:1"), "the first RepoTag names it");
        let two = [entry(&["a:1"]), entry(&["docker.io/library/b:2"])];
        let e = docker_entry(&two, &Select::Only, "x.tar")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.tar holds 2 images")
                && e.contains("@N")
                && e.contains("tags: a:1, docker.io/library/b:2"),
            "{e}"
        );
        let (e, _) = docker_entry(&two, &Select::Index(1), "x.tar").unwrap();
        assert!(std::ptr::eq(e, &two[1]));
        let e = docker_entry(&two, &Select::Index(2), "x.tar")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("image @2 not found in x.tar, which holds 2"),
            "{e}"
        );
        let (e, r) = docker_entry(&two, &sel_tag("2"), "x.tar").unwrap();
        assert_eq!(
            (std::ptr::eq(e, &two[1]), r.as_deref()),
            (true, Some("docker.io/library/b:2"))
        );
        let d = Select::Docker(DockerRef::parse("b:2").unwrap());
        assert!(std::ptr::eq(
            docker_entry(&two, &d, "x.tar").unwrap().0,
            &two[1]
        ));
        let e = docker_entry(&two, &sel_tag("3"), "x.tar")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "tag \"3\" not found in x.tar (tags: a:1, docker.io/library/b:2)"
        );
        let e = docker_entry(&[], &Select::Only, "x.tar")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lists no image"), "{e}");
        let untagged = [DockerEntry {
            repo_tags: None,
            ..entry(&[])
        }];
        assert_eq!(docker_entry(&untagged, &Select::Only, "x").unwrap().1, None);
    }

    /// An OCI layout in a temporary directory, removed on drop.
    struct Layout(std::path::PathBuf);

    impl Layout {
        fn new(name: &str) -> Layout {
            let dir = std::env::temp_dir().join(format!("husk-unit-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
            Layout(dir)
        }

        /// Stores `v` as a blob; its descriptor (with `extra` merged in).
        fn blob(&self, v: &serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
            use sha2::Digest as _;
            let bytes = serde_json::to_vec(v).unwrap();
            let hex: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            std::fs::write(self.0.join("blobs/sha256").join(&hex), &bytes).unwrap();
            let mut d = serde_json::json!({"digest": format!("sha256:{hex}"), "size": bytes.len()});
            d.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            d
        }

        /// An image whose config's Cmd is [cmd], with no layers.
        fn image(&self, cmd: &str, extra: serde_json::Value) -> serde_json::Value {
            let config = serde_json::json!({"config": {"Cmd": [cmd]}, "rootfs": {"diff_ids": []}});
            let c = self.blob(
                &config,
                serde_json::json!({"mediaType": "application/vnd.oci.image.config.v1+json"}),
            );
            let m = serde_json::json!({"schemaVersion": 2, "config": c, "layers": []});
            let mut e = serde_json::json!({"mediaType": MANIFEST_TYPES[0]});
            e.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            self.blob(&m, e)
        }

        fn index(&self, manifests: Vec<serde_json::Value>) -> Source {
            let i = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
            std::fs::write(self.0.join("index.json"), serde_json::to_vec(&i).unwrap()).unwrap();
            Source::Dir(self.0.clone())
        }
    }

    impl Drop for Layout {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn named(n: &str) -> serde_json::Value {
        serde_json::json!({"annotations": {REF_NAME: n}})
    }

    fn cmd_of(i: &Image) -> String {
        i.config.config.as_ref().unwrap().cmd.as_ref().unwrap()[0].clone()
    }

    #[test]
    fn oci_selection_by_name() {
        let l = Layout::new("sel-name");
        let src = l.index(vec![
            l.image("app", named("busybox:1.36")),
            l.image("other", named("1.36")),
            l.image(
                "ctr",
                serde_json::json!({"annotations": {CONTAINERD_NAME: "docker.io/library/ctr:v1"}}),
            ),
        ]);
        let host = host_platform();
        let get =
            |s: Select, f: Format| select(&src, &s, f, &host).map(|i| (cmd_of(&i), i.reference));
        assert_eq!(
            get(sel_tag("1.36"), Format::Any).unwrap(),
            ("other".into(), Some("1.36".into()))
        );
        assert_eq!(
            get(sel_tag("busybox"), Format::Any).unwrap().0,
            "app",
            "--tag: a repository matches any of its tags"
        );
        assert_eq!(
            get(Select::RefName("busybox:1.36".into()), Format::OciLayout)
                .unwrap()
                .0,
            "app"
        );
        assert_eq!(
            get(sel_tag("ctr:v1"), Format::Any).unwrap().0,
            "ctr",
            "--tag: containerd's name too"
        );
        let e = get(
            Select::RefName("docker.io/library/ctr:v1".into()),
            Format::OciLayout,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("reference \"docker.io/library/ctr:v1\" not found in {} (tags: busybox:1.36, 1.36, docker.io/library/ctr:v1)", l.0.display()),
            "oci: looks at ref.name only, as skopeo"
        );
        let e = get(Select::Only, Format::OciLayout)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds 3 images: choose one"), "{e}");
        let e = get(Select::Index(0), Format::OciLayout)
            .unwrap_err()
            .to_string();
        assert!(e.contains("docker archives only"), "{e}");
    }

    #[test]
    fn oci_selection_by_platform_through_an_index() {
        let l = Layout::new("sel-platform");
        let amd = l.image(
            "amd",
            serde_json::json!({"platform": {"os": "linux", "architecture": "amd64"}}),
        );
        let arm = l.image("arm", serde_json::json!({"platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}));
        let inner = serde_json::json!({"schemaVersion": 2, "mediaType": INDEX_TYPES[0], "manifests": [amd, arm]});
        let idx = l.blob(
            &inner,
            serde_json::json!({"mediaType": INDEX_TYPES[0], "annotations": {REF_NAME: "multi"}}),
        );
        let src = l.index(vec![idx]);
        let on = |p: &str| {
            select(
                &src,
                &Select::Only,
                Format::Any,
                &parse_platform(p).unwrap(),
            )
            .map(|i| cmd_of(&i))
        };
        assert_eq!(on("linux/amd64").unwrap(), "amd");
        assert_eq!(on("linux/arm64").unwrap(), "arm");
        assert_eq!(on("linux/arm64/v8").unwrap(), "arm");
        assert!(on("linux/arm64/v7")
            .unwrap_err()
            .to_string()
            .contains("no image for platform linux/arm64/v7"));
        let i = select(
            &src,
            &Select::Only,
            Format::Any,
            &parse_platform("linux/amd64").unwrap(),
        )
        .unwrap();
        assert_eq!(i.reference.as_deref(), Some("multi"));
    }

    #[test]
    fn oci_blobs_are_verified_before_use() {
        let l = Layout::new("sel-verify");
        let mut d = l.image("app", named("app"));
        let src = l.index(vec![d.clone()]);
        let hex = d["digest"].as_str().unwrap()[7..].to_string();
        std::fs::write(
            l.0.join("blobs/sha256").join(&hex),
            b"{\"schemaVersion\":2}",
        )
        .unwrap();
        let e = select(&src, &Select::Only, Format::Any, &host_platform()).unwrap_err();
        assert!(e.to_string().contains("manifest sha256:"), "{e}");
        // A descriptor with a bad digest is refused before any file is opened.
        d["digest"] = "sha256:../../etc/passwd".into();
        let src = l.index(vec![d]);
        let e = select(&src, &Select::Only, Format::Any, &host_platform()).unwrap_err();
        assert!(format!("{e:#}").contains("invalid sha256 digest"), "{e:#}");
    }

    #[test]
    fn transports_insist_on_their_format() {
        let l = Layout::new("sel-format");
        let src = l.index(vec![l.image("app", named("app"))]);
        let host = host_platform();
        let e = select(&src, &Select::Only, Format::DockerArchive, &host)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a docker save archive") && e.contains("use oci-archive:"),
            "{e}"
        );
        assert!(select(&src, &Select::Only, Format::OciArchive, &host).is_ok());
        std::fs::remove_file(l.0.join("index.json")).unwrap();
        let e = select(&src, &Select::Only, Format::Any, &host)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("neither an OCI image layout nor a docker save archive"),
            "{e}"
        );
        let e = select(&src, &Select::Only, Format::OciLayout, &host)
            .unwrap_err()
            .to_string();
        assert!(e.contains("oci:") && e.contains("no index.json"), "{e}");
    }

    #[test]
    fn diff_ids_must_match_the_layers() {
        let config: ImageConfig = serde_json::from_value(
            serde_json::json!({"rootfs": {"diff_ids": ["sha256:".to_string() + &"a".repeat(64)]}}),
        )
        .unwrap();
        assert_eq!(diff_ids(&config, 1).unwrap().len(), 1);
        let e = diff_ids(&config, 2).unwrap_err().to_string();
        assert_eq!(e, "image config lists 1 diff_ids for 2 layers");
        assert_eq!(diff_ids(&ImageConfig::default(), 0).unwrap().len(), 0);
        let bad: ImageConfig =
            serde_json::from_value(serde_json::json!({"rootfs": {"diff_ids": ["md5:00"]}}))
                .unwrap();
        assert!(diff_ids(&bad, 1).is_err());
    }

    #[test]
    fn names_and_lists() {
        assert_eq!(short_repo("docker.io/library/busybox"), "busybox");
        assert_eq!(short_repo("docker.io/me/app"), "me/app");
        assert_eq!(short_repo("quay.io/me/app"), "quay.io/me/app");
        assert_eq!(list(std::iter::empty()), "none");
        assert_eq!(list(["a".to_string(), "b".to_string()].into_iter()), "a, b");
        assert_eq!(
            show_platform(&parse_platform("linux/arm/v7").unwrap()),
            "linux/arm/v7"
        );
        assert_eq!(host_platform().os, "linux");
        assert!(tag_matches("docker.io/me/app:2", "me/app:2"));
    }

    #[test]
    fn platforms() {
        let p = parse_platform("linux/arm64/v8").unwrap();
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert!(parse_platform("linux").is_err());
        let want = parse_platform("linux/amd64").unwrap();
        assert!(platform_matches(&want, &None));
        assert!(platform_matches(
            &want,
            &Some(parse_platform("linux/amd64/v3").unwrap())
        ));
        assert!(!platform_matches(
            &want,
            &Some(parse_platform("linux/arm64").unwrap())
        ));
    }
}

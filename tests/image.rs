//! `husk bundle`: real images built during the test (umoci and hand-made
//! layers, test-bundles/images/), turned into bundles in both rootfs modes,
//! checked on the host and run with `husk run`.
//!
//! The images are built once per test process under
//! /tmp/husk-tests/t-images-<pid>-0 and removed at exit. Every test works in
//! its own fixture directory; the fixture's teardown unmounts what is left
//! mounted there (overlay bundles) before removing it, also on panic.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------
// Images

struct Images {
    /// OCI layout from make-oci.sh: tags app, other, multi.
    layout: PathBuf,
    /// docker save archive from make-docker-save.sh.
    docker: PathBuf,
}

fn script(name: &str) -> PathBuf {
    repo_dir().join("test-bundles/images").join(name)
}

/// Runs a test-bundles/images script; panics with its output on failure.
fn run_script(name: &str, args: &[&Path]) {
    let out = Command::new(script(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\n{}",
        describe(&out)
    );
}

/// The shared images, built on first use; None (after saying why) when
/// they cannot be built here.
fn images() -> Option<&'static Images> {
    static IMAGES: OnceLock<Option<Images>> = OnceLock::new();
    IMAGES
        .get_or_init(|| {
            let dir = PathBuf::from(format!("{TEST_BASE}/t-images-{}-0", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).ok()?;
            extern "C" fn remove_images() {
                let _ =
                    fs::remove_dir_all(format!("{TEST_BASE}/t-images-{}-0", std::process::id()));
            }
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(remove_images) };
            let layout = dir.join("layout");
            let docker = dir.join("docker-save.tar");
            let out = Command::new(script("make-oci.sh"))
                .arg(&layout)
                .stdin(Stdio::null())
                .output()
                .ok()?;
            if !out.status.success() {
                let err = stderr_str(&out);
                // Only a missing tool is a reason to skip; anything else fails.
                if err.contains("missing:") || err.contains("cannot install") {
                    eprintln!("skipped: cannot build test images: {err}");
                    return None;
                }
                panic!("make-oci.sh failed:\n{}", describe(&out));
            }
            run_script("make-docker-save.sh", &[&docker]);
            Some(Images { layout, docker })
        })
        .as_ref()
}

/// Root, and the images: `let Some(img) = setup() else { return };`
fn setup() -> Option<&'static Images> {
    if !require_root() {
        return None;
    }
    images()
}

// ---------------------------------------------------------------------------
// Bundles

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Flat,
    Overlay,
}

const MODES: [Mode; 2] = [Mode::Flat, Mode::Overlay];

fn store_of(fx: &Fixture) -> PathBuf {
    fx.dir.join("store")
}

/// `husk bundle [--overlay --layer-store STORE] ARGS...`.
fn bundle_cmd(fx: &Fixture, mode: Mode, store: &Path, args: &[&str]) -> Output {
    let mut full = vec!["bundle"];
    if mode == Mode::Overlay {
        full.extend(["--overlay", "--layer-store", store.to_str().unwrap()]);
    }
    full.extend_from_slice(args);
    fx.husk_raw(&full)
}

/// Makes bundle `name` under the fixture directory, asserting success.
fn make_bundle(fx: &Fixture, mode: Mode, name: &str, args: &[&str]) -> PathBuf {
    let b = fx.dir.join(name);
    let mut full: Vec<&str> = Vec::new();
    let (opts, rest) = match args.iter().position(|a| *a == "--") {
        Some(i) => (&args[..i], &args[i..]),
        None => (args, &[][..]),
    };
    full.extend_from_slice(opts);
    full.push(b.to_str().unwrap());
    full.extend_from_slice(rest);
    let out = bundle_cmd(fx, mode, &store_of(fx), &full);
    assert!(
        out.status.success(),
        "husk bundle {full:?} ({mode:?}) failed:\n{}",
        describe(&out)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr not silent without a tty:\n{}",
        describe(&out)
    );
    b
}

fn config_of(b: &Path) -> Value {
    let p = b.join("config.json");
    serde_json::from_slice(&fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs bundle `b` as the fixture's container (cgroup /husk-test/<id>) and
/// returns its stdout, asserting success.
fn run_bundle(fx: &Fixture, b: &Path) -> String {
    let mut c = config_of(b);
    c["linux"]["cgroupsPath"] = json!(format!("{CGROUP_PARENT}/{}", fx.id));
    fs::write(
        b.join("config.json"),
        serde_json::to_vec_pretty(&c).unwrap(),
    )
    .unwrap();
    let out = fx.husk(&["run", "--bundle", b.to_str().unwrap(), &fx.id]);
    assert!(
        out.status.success(),
        "run of {} failed:\n{}",
        b.display(),
        describe(&out)
    );
    stdout_str(&out)
}

/// The value of the first `key: value` line of `out`.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}: ");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key:?} line in:\n{out}"))
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn getfattr(p: &Path, name: &str) -> String {
    let out = host_cmd(&[
        "getfattr",
        "--absolute-names",
        "--only-values",
        "-n",
        name,
        p.to_str().unwrap(),
    ]);
    stdout_str(&out)
}

/// Nothing of a failed bundle left: no target, no staging directory next
/// to it, nothing mounted, no half-unpacked layer or refs in the store.
fn assert_no_trace(fx: &Fixture, b: &Path) {
    assert!(!b.exists(), "{} left behind", b.display());
    let staging: Vec<String> = names(&fx.dir)
        .into_iter()
        .filter(|n| n.contains("husk-tmp"))
        .collect();
    assert!(staging.is_empty(), "staging directories left: {staging:?}");
    assert!(
        mounts_under(&fx.dir).is_empty(),
        "mounts left: {:?}",
        mounts_under(&fx.dir)
    );
    let layers = store_of(fx).join("layers/sha256");
    if layers.is_dir() {
        let tmp: Vec<String> = names(&layers)
            .into_iter()
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(tmp.is_empty(), "temporary layers left: {tmp:?}");
        assert!(names(&store_of(fx).join("bundles")).is_empty(), "refs left");
    }
}

// ---------------------------------------------------------------------------
// The OCI image, in both modes

/// What the in-container checks print, one `key: value` line each.
const CONTENT_SCRIPT: &str = r#"
echo "data: $(ls -A /data | tr '\n' ' ')"
echo "opq: $(ls -A /opq | tr '\n' ' ')"
echo "opq-sub: $(ls -A /opq/sub | tr '\n' ' ')"
echo "recreate: $(ls -A /recreate | tr '\n' ' ')"
echo "abs-link: $(readlink /links/abs) $(cat /links/abs)"
echo "rel-link: $(cat /links/rel)"
echo "hard: $(stat -c %i /data/keep) $(stat -c %i /links/hard) $(stat -c %h /data/keep)"
echo "modes: $(stat -c '%a:%u:%g' /perm/setuid /perm/owned /perm/sticky /work | tr '\n' ' ')"
echo "devs: $(stat -c '%t:%T' /devs/null /devs/blk | tr '\n' ' ')"
echo "fifo: $(test -p /devs/fifo && echo yes)"
echo "abs-entry: $(cat /abs-entry)"
echo "mtime: $(stat -c %Y /data/keep)"
"#;

fn check_oci(mode: Mode) {
    let Some(img) = setup() else { return };
    let fx = Fixture::new(&format!("img-oci-{mode:?}").to_lowercase());
    let layout = img.layout.to_str().unwrap();

    // Defaults from the image config.
    let b = make_bundle(&fx, mode, "app", &["--tag", "app", layout]);
    let c = config_of(&b);
    assert_eq!(
        c["process"]["args"],
        json!(["/bin/entry.sh", "default-arg"])
    );
    assert_eq!(c["process"]["cwd"], "/work");
    assert_eq!(c["process"]["user"]["uid"], 1000);
    assert_eq!(c["process"]["user"]["gid"], 2000);
    assert_eq!(c["annotations"]["org.example.flavour"], "husk");
    assert_eq!(
        c["annotations"]["org.opencontainers.image.stopSignal"],
        "SIGINT"
    );
    assert_eq!(c["root"]["path"], "rootfs");
    let out = run_bundle(&fx, &b);
    assert_eq!(field(&out, "args"), "default-arg");
    assert!(
        field(&out, "id").starts_with("uid=1000(test) gid=2000(extra)"),
        "{out}"
    );
    assert_eq!(field(&out, "pwd"), "/work");
    let env: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("env: "))
        .collect();
    assert!(env.contains(&"FOO=bar"), "{out}");
    assert!(env.contains(&"PATH=/usr/bin:/bin"), "{out}");
    assert!(env.contains(&"HOME=/tmp"), "{out}");

    // The layers, seen from the host.
    let r = b.join("rootfs");
    assert_eq!(
        names(&r.join("data")),
        ["keep"],
        "whiteouts (umoci and hand-made)"
    );
    assert_eq!(names(&r.join("opq")), ["new", "sub"], "opaque dir");
    assert_eq!(
        names(&r.join("opq/sub")),
        ["l5"],
        "opaque dir: a lower subdirectory's files"
    );
    assert_eq!(
        names(&r.join("recreate")),
        ["new"],
        "deleted and recreated dir"
    );
    assert_eq!(
        fs::read_link(r.join("links/abs")).unwrap(),
        Path::new("/data/keep")
    );
    assert_eq!(
        fs::read_link(r.join("links/rel")).unwrap(),
        Path::new("../data/keep")
    );
    let keep = fs::metadata(r.join("data/keep")).unwrap();
    let hard = fs::metadata(r.join("links/hard")).unwrap();
    assert_eq!((keep.ino(), keep.nlink()), (hard.ino(), 2), "hard link");
    assert_eq!(keep.mtime(), 981173106, "mtime of /data/keep");
    let abs = fs::symlink_metadata(r.join("links/abs")).unwrap();
    assert_eq!(abs.mtime(), 1015218367, "mtime of the symlink itself");
    assert_eq!(getfattr(&r.join("data/keep"), "user.husk"), "hello");
    let m = |p: &str| {
        let m = fs::symlink_metadata(r.join(p)).unwrap();
        (m.mode() & 0o7777, m.uid(), m.gid())
    };
    assert_eq!(m("perm/setuid"), (0o4755, 0, 0));
    assert_eq!(m("perm/owned"), (0o640, 1000, 2000));
    assert_eq!(m("perm/sticky"), (0o1777, 0, 0));
    assert_eq!(m("work"), (0o755, 1000, 1000));
    assert_eq!(m("devs/fifo").0, 0o622);
    assert!(is_char_dev(&r.join("devs/null"), 1, 3));
    let blk = fs::symlink_metadata(r.join("devs/blk")).unwrap();
    assert!(blk.file_type().is_block_device());
    assert_eq!((libc::major(blk.rdev()), libc::minor(blk.rdev())), (7, 42));
    assert!(fs::symlink_metadata(r.join("devs/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(fs::read_to_string(r.join("abs-entry")).unwrap(), "abs\n");

    // The same, from inside the container; args replace the image's Cmd.
    let b2 = make_bundle(
        &fx,
        mode,
        "app2",
        &["--tag", "app", layout, "--", "sh", "-c", CONTENT_SCRIPT],
    );
    assert_eq!(config_of(&b2)["process"]["args"][0], "/bin/entry.sh");
    let out = run_bundle(&fx, &b2);
    assert_eq!(field(&out, "data").trim(), "keep");
    assert_eq!(field(&out, "opq").trim(), "new sub");
    assert_eq!(field(&out, "opq-sub").trim(), "l5");
    assert_eq!(field(&out, "recreate").trim(), "new");
    assert_eq!(field(&out, "abs-link"), "/data/keep keep");
    assert_eq!(field(&out, "rel-link"), "keep");
    let h: Vec<&str> = field(&out, "hard").split(' ').collect();
    assert_eq!((h[0] == h[1], h[2]), (true, "2"), "{out}");
    assert_eq!(
        field(&out, "modes").trim(),
        "4755:0:0 640:1000:2000 1777:0:0 755:1000:1000"
    );
    assert_eq!(field(&out, "devs").trim(), "1:3 7:2a");
    assert_eq!(field(&out, "fifo"), "yes");
    assert_eq!(field(&out, "abs-entry"), "abs");
    assert_eq!(field(&out, "mtime"), "981173106");

    if mode == Mode::Overlay {
        // Layers unpacked once, with overlay whiteouts; the rootfs mounted.
        let store = store_of(&fx);
        assert_eq!(
            fs::metadata(&store).unwrap().mode() & 0o777,
            0o700,
            "a private store"
        );
        let layers = names(&store.join("layers/sha256"));
        assert_eq!(layers.len(), 5, "layers in the store: {layers:?}");
        assert_eq!(names(&store.join("bundles")).len(), 2);
        let marker: Value =
            serde_json::from_slice(&fs::read(b.join("husk-bundle.json")).unwrap()).unwrap();
        let diff_ids = marker["layers"].as_array().unwrap();
        let top = |n: usize| {
            store
                .join("layers/sha256")
                .join(diff_ids[n].as_str().unwrap().trim_start_matches("sha256:"))
        };
        assert!(
            is_char_dev(&top(1).join("data/gone"), 0, 0),
            "whiteout in layer 2"
        );
        assert_eq!(getfattr(&top(3).join("opq"), "trusted.overlay.opaque"), "y");
        let mi = parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap());
        let m = find_mount(&mi, b.join("rootfs").to_str().unwrap()).expect("rootfs mounted");
        assert_eq!(m.fstype, "overlay");
        // A file written in the container goes to the bundle's upper dir.
        fs::write(b.join("rootfs/data/new-file"), "x").unwrap();
        assert!(b.join("upper/data/new-file").exists());
        assert!(!top(0).join("data/new-file").exists());
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn oci_image_flat() {
    check_oci(Mode::Flat);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn oci_image_overlay() {
    check_oci(Mode::Overlay);
}

// ---------------------------------------------------------------------------
// docker save

fn check_docker(mode: Mode) {
    let Some(img) = setup() else { return };
    let fx = Fixture::new(&format!("img-docker-{mode:?}").to_lowercase());
    let docker = img.docker.to_str().unwrap();
    let b = make_bundle(&fx, mode, "ds", &[docker]);
    let r = b.join("rootfs");
    assert_eq!(names(&r.join("data")), ["b"]);
    assert_eq!(names(&r.join("opq")), ["new"]);
    assert!(r.join("etc/l3").is_file());
    let out = run_bundle(&fx, &b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "docker-save", "{out}");
    assert_eq!(lines[1], "hello from docker save");
    assert!(
        lines[2].starts_with("uid=1000(test) gid=1000(test)"),
        "{out}"
    );
    assert!(
        lines[2].contains("2000(extra)"),
        "supplementary group from /etc/group: {out}"
    );
    assert_eq!(lines[3], "/data");
    assert_eq!(lines[4], "FOO=from-docker");
    // Selected by RepoTag, in full or by its tag.
    for tag in ["husk-test/ds:v1", "v1"] {
        let name = format!("ds-{}", tag.len());
        let b = make_bundle(&fx, mode, &name, &["--tag", tag, docker]);
        assert!(b.join("rootfs/etc/motd").is_file());
    }
    let out = bundle_cmd(
        &fx,
        mode,
        &store_of(&fx),
        &["--tag", "v2", docker, fx.dir.join("x").to_str().unwrap()],
    );
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("tag \"v2\" not found"),
        "{}",
        describe(&out)
    );
    assert_no_trace_but_store(&fx, &fx.dir.join("x"));
}

/// Like assert_no_trace, for a fixture whose store holds other bundles.
fn assert_no_trace_but_store(fx: &Fixture, b: &Path) {
    assert!(!b.exists(), "{} left behind", b.display());
    assert!(
        !names(&fx.dir).iter().any(|n| n.contains("husk-tmp")),
        "staging left"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn docker_save_flat() {
    check_docker(Mode::Flat);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn docker_save_overlay() {
    check_docker(Mode::Overlay);
}

// ---------------------------------------------------------------------------
// Sources and selection

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn oci_archive_plain_and_compressed() {
    let Some(img) = setup() else { return };
    let fx = Fixture::new("img-archive");
    let tar = fx.dir.join("image.tar");
    host_cmd(&[
        "tar",
        "-C",
        img.layout.to_str().unwrap(),
        "-cf",
        tar.to_str().unwrap(),
        ".",
    ]);
    host_cmd(&["sh", "-c", &format!("gzip -c {0} > {0}.gz", tar.display())]);
    for (name, src) in [("plain", tar.clone()), ("gz", tar.with_extension("tar.gz"))] {
        let b = make_bundle(
            &fx,
            Mode::Flat,
            name,
            &["--tag", "app", src.to_str().unwrap()],
        );
        assert_eq!(names(&b.join("rootfs/opq")), ["new", "sub"]);
        assert_eq!(config_of(&b)["process"]["args"][0], "/bin/entry.sh");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn tag_and_platform_selection() {
    let Some(img) = setup() else { return };
    let fx = Fixture::new("img-select");
    let layout = img.layout.to_str().unwrap();
    let args = |b: &Path| config_of(b)["process"]["args"].clone();
    let b = make_bundle(&fx, Mode::Flat, "other", &["--tag", "other", layout]);
    assert_eq!(args(&b), json!(["/bin/echo", "other-tag"]));
    assert_eq!(run_bundle(&fx, &b), "other-tag\n");
    let b = make_bundle(
        &fx,
        Mode::Flat,
        "arm",
        &["--tag", "multi", "--platform", "linux/arm64", layout],
    );
    assert_eq!(args(&b), json!(["/bin/echo", "other-tag"]));
    let b = make_bundle(
        &fx,
        Mode::Flat,
        "amd",
        &["--tag", "multi", "--platform", "linux/amd64", layout],
    );
    assert_eq!(args(&b)[0], "/bin/entry.sh");
    // Without --platform: the host's.
    let b = make_bundle(&fx, Mode::Flat, "host", &["--tag", "multi", layout]);
    let want = if std::env::consts::ARCH == "aarch64" {
        "/bin/echo"
    } else {
        "/bin/entry.sh"
    };
    assert_eq!(args(&b)[0], want);

    let x = fx.dir.join("x");
    let x = x.to_str().unwrap();
    for (cmd, want) in [
        (vec!["--tag", "nope", layout, x], "tag \"nope\" not found"),
        (vec![layout, x], "choose one with --tag"),
        (
            vec!["--tag", "multi", "--platform", "linux/s390x", layout, x],
            "no image for platform linux/s390x",
        ),
        (vec!["--platform", "linux", layout, x], "invalid platform"),
        (
            vec!["--tag", "app", "/nonexistent/image", x],
            "does not exist",
        ),
    ] {
        let out = bundle_cmd(&fx, Mode::Flat, &store_of(&fx), &cmd);
        assert_clean_error(&out);
        assert!(
            stderr_str(&out).contains(want),
            "{cmd:?}: want {want:?}\n{}",
            describe(&out)
        );
        assert_no_trace(&fx, Path::new(x));
    }
    // An existing, non-empty target is never overwritten.
    let b = fx.dir.join("other");
    let out = bundle_cmd(
        &fx,
        Mode::Flat,
        &store_of(&fx),
        &["--tag", "app", layout, b.to_str().unwrap()],
    );
    assert_clean_error(&out);
    assert!(stderr_str(&out).contains("not empty"), "{}", describe(&out));
    assert_eq!(args(&b), json!(["/bin/echo", "other-tag"]));
}

// ---------------------------------------------------------------------------
// Bad input: one error line, nothing left behind

fn check_bad(kind: &str, want: &str) {
    let Some(img) = setup() else { return };
    let fx = Fixture::new(&format!("img-bad-{kind}"));
    let bad = fx.dir.join(format!("bad-{kind}"));
    run_script("make-bad.sh", &[&img.layout, Path::new(kind), &bad]);
    for mode in MODES {
        // A fresh store: a layer already stored is not read again.
        let _ = fs::remove_dir_all(store_of(&fx));
        let b = fx.dir.join("b");
        let out = bundle_cmd(
            &fx,
            mode,
            &store_of(&fx),
            &["--tag", "app", bad.to_str().unwrap(), b.to_str().unwrap()],
        );
        assert_clean_error(&out);
        assert!(
            stderr_str(&out).contains(want),
            "{kind} ({mode:?}): want {want:?}\n{}",
            describe(&out)
        );
        assert_no_trace(&fx, &b);
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_digest() {
    check_bad("digest", "does not match its digest");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_digest_compressed() {
    check_bad("digest-gzip", "does not match its digest");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_truncated_blob() {
    check_bad("truncated", "is truncated");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_media_type() {
    check_bad("mediatype", "unsupported layer media type");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_escaping_entry() {
    check_bad("escape", "would escape the rootfs");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn symlinks_never_lead_out_of_the_rootfs() {
    let Some(img) = setup() else { return };
    let fx = Fixture::new("img-symlink");
    let host = fx.host_dir("escape");
    let bad = fx.dir.join("bad");
    run_script(
        "make-bad.sh",
        &[&img.layout, Path::new("symlink-escape"), &bad, &host],
    );
    let host_etc_before = Path::new("/etc/hl-target").exists();
    for mode in MODES {
        let b = make_bundle(
            &fx,
            mode,
            &format!("b-{mode:?}"),
            &["--tag", "app", bad.to_str().unwrap()],
        );
        let r = b.join("rootfs");
        let inside = r.join(host.strip_prefix("/").unwrap());
        assert!(
            names(&host).is_empty(),
            "{mode:?}: written on the host: {:?}",
            names(&host)
        );
        assert_eq!(
            Path::new("/etc/hl-target").exists(),
            host_etc_before,
            "host /etc touched"
        );
        assert_eq!(names(&inside), ["pwned-abs", "pwned-rel"], "{mode:?}");
        let t = fs::metadata(r.join("etc/hl-target")).unwrap();
        assert_eq!(
            t.ino(),
            fs::metadata(r.join("hl")).unwrap().ino(),
            "{mode:?}: hard link"
        );
    }
}

// ---------------------------------------------------------------------------
// rm and gc

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rm_and_gc() {
    let Some(img) = setup() else { return };
    let fx = Fixture::new("img-gc");
    let layout = img.layout.to_str().unwrap();
    let store = store_of(&fx);
    let store_s = store.to_str().unwrap();
    let layers = || names(&store.join("layers/sha256"));
    let a = make_bundle(&fx, Mode::Overlay, "a", &["--tag", "app", layout]);
    // "other" has the same layers: nothing new to unpack.
    let o = make_bundle(&fx, Mode::Overlay, "o", &["--tag", "other", layout]);
    let d = make_bundle(&fx, Mode::Overlay, "d", &[img.docker.to_str().unwrap()]);
    assert_eq!(layers().len(), 5 + 3);
    let gc = |fx: &Fixture| stdout_str(&fx.run_ok(&["bundle", "gc", "--layer-store", store_s]));
    assert_eq!(gc(&fx), "", "gc with every bundle alive");

    fx.run_ok(&["bundle", "rm", d.to_str().unwrap()]);
    assert!(!d.exists());
    assert!(mounts_under(&d).is_empty());
    assert_eq!(gc(&fx).lines().count(), 3, "the docker layers go");
    assert_eq!(layers().len(), 5);

    // A bundle removed by hand (unmounted, deleted) no longer holds layers.
    umount_under(&o);
    fs::remove_dir_all(&o).unwrap();
    assert_eq!(gc(&fx), "");
    fx.run_ok(&["bundle", "rm", a.to_str().unwrap()]);
    assert_eq!(gc(&fx).lines().count(), 5);
    assert!(layers().is_empty());
    assert!(names(&store.join("bundles")).is_empty());

    // rm of a flat bundle; of a directory husk did not make.
    let f = make_bundle(&fx, Mode::Flat, "f", &["--tag", "app", layout]);
    fx.run_ok(&["bundle", "rm", f.to_str().unwrap()]);
    assert!(!f.exists());
    let out = fx.husk(&["bundle", "rm", fx.bundle_str()]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("not a bundle made by husk bundle"),
        "{}",
        describe(&out)
    );
    assert!(fx.rootfs.join("bin/busybox").exists());
}

// ---------------------------------------------------------------------------
// config.json options

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn run_options() {
    let Some(img) = setup() else { return };
    let fx = Fixture::new("img-options");
    let layout = img.layout.to_str().unwrap();
    let ro = fx.host_dir("ro");
    fs::write(ro.join("file"), "from host").unwrap();
    let rw = fx.host_dir("rw");
    let ro_arg = format!("{}:/hostro:ro", ro.display());
    let rw_arg = format!("{}:/hostrw", rw.display());
    let script = "cat /hostro/file; echo; touch /hostro/x 2>/dev/null || echo ro-mount; \
                  touch /hostrw/x && echo rw-mount; touch /newfile 2>/dev/null || echo ro-root; \
                  readlink /proc/self/ns/net";
    let b = make_bundle(
        &fx,
        Mode::Overlay,
        "b",
        &[
            "--tag",
            "other",
            "--read-only",
            "--net",
            "host",
            "--mount",
            &ro_arg,
            "--mount",
            &rw_arg,
            layout,
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    let c = config_of(&b);
    assert_eq!(c["root"]["readonly"], true);
    assert_eq!(c["process"]["user"]["uid"], 0);
    let out = run_bundle(&fx, &b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "from host",
            "ro-mount",
            "rw-mount",
            "ro-root",
            host_ns("net").as_str()
        ]
    );
    assert!(rw.join("x").exists());

    let b = make_bundle(&fx, Mode::Flat, "tty", &["--tag", "other", "--tty", layout]);
    let c = config_of(&b);
    assert_eq!(c["process"]["terminal"], true);
    assert!(c["process"]["env"]
        .as_array()
        .unwrap()
        .contains(&json!("TERM=xterm")));
    assert_eq!(c["root"]["readonly"], false);
    let ns: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(
        ns.contains(&"network"),
        "a network namespace by default: {ns:?}"
    );

    let out = bundle_cmd(
        &fx,
        Mode::Flat,
        &store_of(&fx),
        &[
            "--mount",
            "/nonexistent:/x",
            layout,
            fx.dir.join("y").to_str().unwrap(),
        ],
    );
    assert_clean_error(&out);
    assert!(stderr_str(&out).contains("--mount"), "{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn progress_on_a_terminal_only() {
    let Some(img) = setup() else { return };
    let fx = Fixture::new("img-progress");
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: script(1) is missing");
        return;
    }
    // Silence without a terminal is checked by every make_bundle.
    let b = fx.dir.join("b");
    let cmd = format!(
        "{} bundle --tag app {} {}",
        runtime(),
        img.layout.display(),
        b.display()
    );
    let out = host_cmd(&["script", "-qec", &cmd, "/dev/null"]);
    let text = stdout_str(&out);
    assert!(text.contains("layer 1/5"), "no progress line:\n{text}");
    assert!(text.contains("layer 5/5"), "no progress line:\n{text}");
    assert!(text.contains("\x1b[K"), "the line is not erased:\n{text}");
    assert!(b.join("config.json").is_file());
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn interrupted_bundle_leaves_nothing() {
    let Some(img) = setup() else { return };
    let fx = Fixture::new("img-interrupt");
    for mode in MODES {
        let b = fx.dir.join("b");
        let store = store_of(&fx);
        let mut cmd = Command::new(runtime());
        cmd.arg("bundle");
        if mode == Mode::Overlay {
            cmd.args(["--overlay", "--layer-store", store.to_str().unwrap()]);
        }
        let child = cmd
            .args(["--tag", "app"])
            .arg(&img.layout)
            .arg(&b)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn husk bundle");
        // Unpacking the 2 MiB base layer takes a while in a debug build.
        std::thread::sleep(std::time::Duration::from_millis(400));
        // SAFETY: plain syscall on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            eprintln!("{mode:?}: finished before the signal");
            assert!(b.join("config.json").is_file());
            fx.run_ok(&["bundle", "rm", b.to_str().unwrap()]);
        } else {
            assert_clean_error(&out);
            assert!(
                stderr_str(&out).contains("interrupted by SIGINT"),
                "{}",
                describe(&out)
            );
            assert_no_trace(&fx, &b);
        }
    }
}

#[test]
fn man_page_covers_every_flag() {
    let man = fs::read_to_string(repo_dir().join("man/husk-bundle.8")).expect("man/husk-bundle.8");
    let man = man.replace("\\-", "-");
    for sub in [&["bundle"][..], &["bundle", "rm"], &["bundle", "gc"]] {
        if let [_, name] = sub {
            assert!(
                man.contains(&format!(".B {name}")) || man.contains(&format!(".BI {name} ")),
                "{name} missing"
            );
        }
        let out = Command::new(runtime())
            .args(sub)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        for word in stdout_str(&out).split_whitespace() {
            let flag = word.trim_end_matches(',').split('=').next().unwrap();
            let is_flag = flag
                .strip_prefix("--")
                .is_some_and(|f| f.starts_with(|c: char| c.is_ascii_lowercase()));
            if is_flag && flag != "--help" {
                assert!(
                    man.contains(flag),
                    "husk {sub:?} {flag} is not in man/husk-bundle.8"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Image references as skopeo writes them, with skopeo as the oracle

/// Runs skopeo, returning its output (never panics: the caller decides).
fn skopeo(args: &[&str]) -> Output {
    Command::new("skopeo")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run skopeo: {e}"))
}

fn skopeo_ok(args: &[&str]) {
    let out = skopeo(args);
    assert!(out.status.success(), "skopeo {args:?}:\n{}", describe(&out));
}

/// Every entry of the tree under `root`: path, type and mode, owner, size,
/// link target, link count, contents and (but for directories, whose
/// times depend on the order of creation) mtime.
fn tree(root: &Path) -> Vec<String> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let p = root.join(&rel);
        let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let ft = m.file_type();
        let mut line = format!(
            "{} {:o} {}:{} n{}",
            rel.display(),
            m.mode(),
            m.uid(),
            m.gid(),
            m.nlink()
        );
        if ft.is_dir() {
            let mut kids: Vec<PathBuf> = fs::read_dir(&p)
                .unwrap()
                .map(|e| rel.join(e.unwrap().file_name()))
                .collect();
            kids.sort();
            stack.extend(kids.into_iter().rev());
        } else if ft.is_symlink() {
            line += &format!(" -> {}", fs::read_link(&p).unwrap().display());
        } else if ft.is_file() {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            fs::read(&p).unwrap().hash(&mut h);
            line += &format!(" {}b {:x} t{}", m.len(), h.finish(), m.mtime());
        } else {
            line += &format!(" dev{:x} t{}", m.rdev(), m.mtime());
        }
        out.push(line);
    }
    out
}

/// The bundle IMAGE makes equals `want` (rootfs tree, config.json).
fn assert_same_bundle(fx: &Fixture, n: &mut usize, image: &str, want: &(Vec<String>, Value)) {
    *n += 1;
    let b = make_bundle(fx, Mode::Flat, &format!("ref-{n}"), &[image]);
    let got = (tree(&b.join("rootfs")), config_of(&b));
    assert!(
        got.1 == want.1,
        "{image}: config.json differs:\n{:#}\n{:#}",
        got.1,
        want.1
    );
    if got.0 != want.0 {
        let diff: Vec<_> = got
            .0
            .iter()
            .filter(|l| !want.0.contains(l))
            .take(5)
            .collect();
        panic!("{image}: the rootfs differs from the plain form's, e.g. {diff:?}");
    }
    fs::remove_dir_all(&b).unwrap();
}

/// Runs husk bundle ARGS... X, expecting one error line with `want` in it
/// and nothing left behind.
fn assert_refused(fx: &Fixture, args: &[&str], want: &str) {
    let x = fx.dir.join("x");
    let mut a = args.to_vec();
    a.push(x.to_str().unwrap());
    let out = bundle_cmd(fx, Mode::Flat, &store_of(fx), &a);
    assert_clean_error(&out);
    let err = stderr_str(&out);
    assert!(
        err.contains(want),
        "{args:?}: want {want:?}\n{}",
        describe(&out)
    );
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line:\n{err}");
    assert_no_trace(fx, &x);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn references_as_skopeo_writes_them() {
    let Some(img) = setup() else { return };
    if !Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("skipped: skopeo is not installed (apt-get install skopeo)");
        return;
    }
    // skopeo records blob digests in root's cache, whatever else it is told.
    let _cache = CreatedPaths::remember(&[
        "/var/lib/containers",
        "/var/lib/containers/cache",
        "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
    ]);
    let fx = Fixture::new("img-refs");
    let d = |name: &str| fx.dir.join(name).to_str().unwrap().to_string();
    let layout = img.layout.to_str().unwrap();
    let baseline = |tag: &str| {
        let b = make_bundle(
            &fx,
            Mode::Flat,
            &format!("base-{tag}"),
            &["--tag", tag, layout],
        );
        (tree(&b.join("rootfs")), config_of(&b))
    };
    let (app, other) = (baseline("app"), baseline("other"));

    // The forms, made by skopeo. Docker archives cannot hold zstd layers:
    // recompress them to gzip first (the uncompressed layers, and so the
    // rootfs, stay the same).
    let gz = d("gz");
    skopeo_ok(&[
        "copy",
        "-q",
        &format!("oci:{layout}:app"),
        &format!("oci:{}", d("one")),
    ]);
    for tag in ["app", "other"] {
        skopeo_ok(&[
            "copy",
            "-q",
            "--dest-compress",
            "--dest-compress-format",
            "gzip",
            &format!("oci:{layout}:{tag}"),
            &format!("oci:{gz}:{tag}"),
        ]);
    }
    skopeo_ok(&[
        "copy",
        "-q",
        &format!("oci:{layout}:app"),
        &format!("oci-archive:{}:app/v:1", d("app.tar")),
    ]);
    skopeo_ok(&[
        "copy",
        "-q",
        "--additional-tag",
        "localhost:5000/x/app:2",
        &format!("oci:{gz}:app"),
        &format!("docker-archive:{}:busybox:1.36", d("app-d.tar")),
    ]);
    skopeo_ok(&[
        "copy",
        "-q",
        &format!("oci:{gz}:other"),
        &format!("docker-archive:{}:example.com/o:2", d("other-d.tar")),
    ]);
    // A docker archive of two images (as `docker save a b` writes): the two
    // archives' files side by side, their manifest.json entries in a row.
    let m = d("multi");
    fs::create_dir(&m).unwrap();
    for t in ["app-d.tar", "other-d.tar"] {
        host_cmd(&["tar", "-C", &m, "-xf", &d(t)]);
        fs::rename(format!("{m}/manifest.json"), format!("{m}/{t}.json")).unwrap();
    }
    let parts = [
        format!("{m}/app-d.tar.json"),
        format!("{m}/other-d.tar.json"),
    ];
    let merged = host_cmd(&["jq", "-c", "-s", "add", &parts[0], &parts[1]]);
    fs::write(format!("{m}/manifest.json"), &merged.stdout).unwrap();
    for p in &parts {
        fs::remove_file(p).unwrap();
    }
    let _ = fs::remove_file(format!("{m}/repositories"));
    host_cmd(&["tar", "-C", &m, "-cf", &d("multi.tar"), "."]);
    // A path with a colon: the existing path wins over splitting.
    fs::copy(d("app.tar"), d("with:colon.tar")).unwrap();

    let (app_d, other_d, multi) = (d("app-d.tar"), d("other-d.tar"), d("multi.tar"));
    let accepted: Vec<(String, &(Vec<String>, Value))> = vec![
        (format!("oci:{layout}:app"), &app),
        (format!("oci:{layout}:other"), &other),
        (format!("oci:{}", d("one")), &app),
        (format!("oci:{}:", d("one")), &app),
        (format!("oci:{gz}:app"), &app),
        (format!("oci-archive:{}", d("app.tar")), &app),
        (format!("oci-archive:{}:app/v:1", d("app.tar")), &app),
        (format!("docker-archive:{app_d}"), &app),
        (format!("docker-archive:{app_d}:busybox:1.36"), &app),
        (
            format!("docker-archive:{app_d}:docker.io/library/busybox:1.36"),
            &app,
        ),
        (
            format!("docker-archive:{app_d}:localhost:5000/x/app:2"),
            &app,
        ),
        (format!("docker-archive:{app_d}:@0"), &app),
        (format!("docker-archive:{other_d}:example.com/o:2"), &other),
        (format!("docker-archive:{multi}:@0"), &app),
        (format!("docker-archive:{multi}:@1"), &other),
        (format!("docker-archive:{multi}:example.com/o:2"), &other),
        (format!("docker-archive:{multi}:busybox:1.36"), &app),
    ];
    let mut n = 0;
    for (image, want) in &accepted {
        let out = skopeo(&["inspect", "--config", image]);
        assert!(
            out.status.success(),
            "skopeo refuses {image}:\n{}",
            describe(&out)
        );
        assert_same_bundle(&fx, &mut n, image, want);
    }
    // Forms skopeo does not have: umoci's DIR:TAG, PATH:TAG for archives,
    // and paths with a colon.
    for (image, want) in [
        (format!("{layout}:app"), &app),
        (format!("{gz}:other"), &other),
        (format!("{}:app/v:1", d("app.tar")), &app),
        (format!("{app_d}:busybox:1.36"), &app),
        (format!("{multi}:example.com/o:2"), &other),
        (d("with:colon.tar"), &app),
        (format!("oci-archive:{}", d("with:colon.tar")), &app),
        (format!("oci-archive:{}:app/v:1", d("with:colon.tar")), &app),
    ] {
        assert_same_bundle(&fx, &mut n, &image, want);
    }

    // What skopeo refuses, husk refuses: one line, nothing left behind.
    let refused = [
        (format!("oci:{layout}"), "holds 3 images"),
        (format!("oci:{layout}:"), "holds 3 images"),
        (format!("oci:{layout}:nope"), "reference \"nope\" not found"),
        (format!("oci:{layout}:busybox:1.0"), "not found"),
        (format!("oci:{layout}:@0"), "invalid reference"),
        (format!("oci:{layout}:Bad Name"), "invalid reference"),
        (format!("oci:{}:app", d("nonexistent")), "does not exist"),
        (format!("oci:{}", d("app.tar")), "not a directory"),
        (
            format!("oci-archive:{}", img.docker.display()),
            "not an OCI archive",
        ),
        (format!("oci-archive:{}:nope", d("app.tar")), "not found"),
        (format!("docker-archive:{layout}"), "is a directory"),
        (
            format!("docker-archive:{app_d}:busybox"),
            "docker.io/library/busybox:latest\" not found",
        ),
        (format!("docker-archive:{app_d}:1.36"), "not found"),
        (format!("docker-archive:{app_d}:@1"), "image @1 not found"),
        (
            format!("docker-archive:{app_d}:@-1"),
            "must not be negative",
        ),
        (format!("docker-archive:{app_d}:@x"), "invalid source index"),
        (format!("docker-archive:{app_d}:"), "invalid name"),
        (
            format!("docker-archive:{app_d}:Busybox:1.36"),
            "must be lowercase",
        ),
        (format!("docker-archive:{multi}"), "holds 2 images"),
        ("nosuchtransport:x".to_string(), "does not exist"),
    ];
    for (image, want) in &refused {
        let out = skopeo(&["inspect", "--config", image]);
        assert!(
            !out.status.success(),
            "skopeo accepts {image}:\n{}",
            describe(&out)
        );
        assert_refused(&fx, &[image], want);
    }
    // husk's own refusals: other transports (not run through skopeo, which
    // would go to the network or to containers-storage), and a reference
    // that names an image together with --tag.
    assert_refused(
        &fx,
        &["docker://busybox"],
        "unsupported image transport \"docker:\"",
    );
    assert_refused(
        &fx,
        &["containers-storage:busybox"],
        "unsupported image transport \"containers-storage:\"",
    );
    let r = format!("oci:{layout}:app");
    assert_refused(
        &fx,
        &["--tag", "other", &r],
        "both --tag \"other\" and the reference \"app\"",
    );
    let r = format!("{layout}:app");
    assert_refused(
        &fx,
        &["--tag", "app", &r],
        "both --tag \"app\" and the tag \"app\"",
    );
    let r = format!("docker-archive:{app_d}:@0");
    assert_refused(&fx, &["--tag", "v", &r], "the index @0");
    // A name that is not there lists what the image holds.
    let r = format!("oci:{layout}:nope");
    assert_refused(&fx, &[&r], "(tags: app, other, multi)");
    let r = format!("docker-archive:{multi}:@5");
    assert_refused(
        &fx,
        &[&r],
        "holds 2 (tags: docker.io/library/busybox:1.36, localhost:5000/x/app:2, example.com/o:2)",
    );
}

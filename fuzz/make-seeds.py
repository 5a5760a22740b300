#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

    fuzz/make-seeds.py

Small, meaningful inputs: the repository's config.json and seccomp
profiles, a state.json, tiny docker-save and OCI archives (plain and
gzip), and layer tars with whiteouts, an opaque directory, links, `..`
and symlinks that point out of the root. Standard library only.
"""
import gzip
import hashlib
import io
import json
import os
import tarfile

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(top, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    """members: (name, kind, payload) with kind file|dir|symlink|link|char."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, kind, payload in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = 0o755 if kind == "dir" else 0o644
            if kind == "file":
                data = payload.encode() if isinstance(payload, str) else payload
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                       "link": tarfile.LNKTYPE, "char": tarfile.CHRTYPE}[kind]
            if kind in ("symlink", "link"):
                ti.linkname = payload
            t.addfile(ti)
    return buf.getvalue()


# --- config.json -----------------------------------------------------------
base = json.load(open(os.path.join(top, "test-bundles", "base", "config.json")))
put("config", "base.json", json.dumps(base, indent=1))
seccomp = json.load(open(os.path.join(top, "test-bundles", "seccomp", "docker-default.json")))
c = json.loads(json.dumps(base))
c["linux"]["seccomp"] = seccomp
put("config", "seccomp.json", json.dumps(c))
c = json.loads(json.dumps(base))
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["mounts"].append({"destination": "/data", "type": "bind", "source": "/tmp",
                    "options": ["rbind", "idmap", "ro"],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]})
c["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                          "fileMode": 438, "uid": 0, "gid": 0}]
c["linux"]["cgroupsPath"] = "system.slice:husk:fuzz"
c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
c["linux"]["resources"] = {"memory": {"limit": 67108864}, "pids": {"limit": 10},
                           "cpu": {"shares": 512, "quota": 50000, "period": 100000}}
c["hostname"] = "fuzz"
put("config", "userns-idmap-devices.json", json.dumps(c))
put("config", "minimal.json", json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                                           "process": {"args": ["sh"], "cwd": "/"},
                                           "linux": {"namespaces": [{"type": "mount"}]}}))

# --- state.json ------------------------------------------------------------
put("state", "created.json", json.dumps({
    "id": "c1", "pid": 4242, "pid_start_time": 123456, "bundle": "/tmp/b",
    "rootfs": "/tmp/b/rootfs", "created": "2026-11-22T20:00:00.000000000Z", "owner": "",
    "annotations": {"a": "b"}, "cgroup_path": "/husk/c1", "systemd": False,
    "shared_pid_ns": False, "hooks": {"poststop": [{"path": "/bin/true", "args": ["true"]}]},
    "rootless": False, "creating": False}))
put("state", "creating.json", json.dumps({
    "id": "c2", "pid": 0, "pid_start_time": 0, "bundle": "/b", "rootfs": "/b/r",
    "created": "", "cgroup_path": "husk/c2", "creating": True}))

# --- linux.seccomp ---------------------------------------------------------
put("seccomp", "docker-default.json", json.dumps(seccomp))
put("seccomp", "moby-default.json",
    open(os.path.join(top, "test-bundles", "seccomp", "moby-default.json")).read())
put("seccomp", "args-and-flags.json", json.dumps({
    "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                  {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_KILL_PROCESS",
         "args": [{"index": 1, "value": 15, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"},
                  {"index": 2, "value": 4, "op": "SCMP_CMP_GE"}]},
        {"names": ["mkdir", "no_such_call"], "action": "SCMP_ACT_NOTIFY"},
        {"names": ["kexec_load"], "action": "SCMP_ACT_TRAP"},
        {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 3},
        {"names": ["getpid"], "action": "SCMP_ACT_LOG"}]}))

# --- layers ----------------------------------------------------------------
layer_plain = tar_bytes([("etc", "dir", None), ("etc/motd", "file", "hello\n"),
                         ("bin", "dir", None), ("bin/sh", "symlink", "busybox"),
                         ("bin/busybox", "file", b"\x7fELF"), ("bin/ls", "link", "bin/busybox")])
layer_wh = tar_bytes([("etc/.wh.motd", "file", ""), ("opq", "dir", None),
                      ("opq/.wh..wh..opq", "file", ""), ("opq/new", "file", "n"),
                      ("dev", "dir", None), ("dev/null", "char", None)])
put("tar_layer", "plain.tar", layer_plain)
put("tar_layer", "whiteouts.tar", layer_wh)
put("tar_layer", "dotdot.tar", tar_bytes([("../escaped", "file", "x"), ("a/../../b", "file", "y")]))
put("tar_layer", "symlink-out.tar", tar_bytes([
    ("esc", "symlink", "../../../../../.."), ("abs", "symlink", "/"),
    ("esc/tmp/pwned-rel", "file", "x"), ("abs/etc/pwned-abs", "file", "x"),
    ("hl", "link", "abs/etc/passwd"), ("dir-then-link", "dir", None),
    ("dir-then-link", "symlink", "/etc"), ("dir-then-link/x", "file", "z")]))
put("tar_layer", "gnu-longname.tar", tar_bytes([("d/" + "n" * 150, "file", "long")],
                                                fmt=tarfile.GNU_FORMAT))

# --- image archives ----------------------------------------------------------
def sha(b):
    return hashlib.sha256(b).hexdigest()

def docker_save():
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Cmd": ["cat", "/etc/motd"], "Env": ["A=1"],
                                 "WorkingDir": "/", "User": "1000:1000"},
                      "rootfs": {"type": "layers",
                                 "diff_ids": ["sha256:" + sha(layer_plain),
                                              "sha256:" + sha(layer_wh)]}}).encode()
    man = json.dumps([{"Config": sha(cfg) + ".json", "RepoTags": ["fuzz/img:latest"],
                       "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode()
    return tar_bytes([("manifest.json", "file", man), (sha(cfg) + ".json", "file", cfg),
                      ("l1", "dir", None), ("l1/layer.tar", "file", layer_plain),
                      ("l2", "dir", None), ("l2/layer.tar", "file", layer_wh)])

def oci_archive():
    gz = gzip.compress(layer_plain, mtime=0)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Entrypoint": ["sh"]},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer_plain)]}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": "sha256:" + sha(cfg), "size": len(cfg)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  "digest": "sha256:" + sha(gz), "size": len(gz)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + sha(man), "size": len(man),
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}).encode()
    return tar_bytes([("oci-layout", "file", '{"imageLayoutVersion":"1.0.0"}'),
                      ("index.json", "file", index), ("blobs", "dir", None),
                      ("blobs/sha256", "dir", None),
                      ("blobs/sha256/" + sha(man), "file", man),
                      ("blobs/sha256/" + sha(cfg), "file", cfg),
                      ("blobs/sha256/" + sha(gz), "file", gz)])

put("image_archive", "docker-save.tar", docker_save())
put("image_archive", "oci.tar", oci_archive())
put("image_archive", "oci.tar.gz", gzip.compress(oci_archive(), mtime=0))

#!/usr/bin/env python3
"""Translate Docker's default seccomp profile into an OCI `linux.seccomp`.

    test-bundles/seccomp/gen-docker-default.py [moby-default.json] > docker-default.json

Does what dockerd does before it hands the profile to the runtime
(moby/profiles seccomp_linux.go, setupSeccomp): picks the architectures of
`archMap` for the host, and keeps a rule only if its `includes` hold and
its `excludes` do not, for

  --arch     the Go name of the host arch (default: from `uname -m`),
  --caps     the bounding capabilities of the container (default: Docker's
             default set, moby daemon/pkg/oci/caps/defaults.go),
  --kernel   the kernel version tested against `minKernel` (default: the
             host's, `uname -r`).

The result is the `linux.seccomp` object only; tests put it into their
config.json. Standard library only.
"""
import argparse
import json
import os
import platform
import re
import sys

DOCKER_DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

# uname -m -> Go arch, and Go arch -> the name the profile's arches use
# (moby: goToNative, then nativeToSeccomp for archMap).
UNAME_TO_GO = {"x86_64": "amd64", "i686": "386", "i386": "386", "aarch64": "arm64",
               "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
               "riscv64": "riscv64", "loongarch64": "loong64"}
GO_TO_NATIVE = {"386": "x86", "amd64": "amd64", "arm": "arm", "arm64": "arm64",
                "loong64": "loongarch64", "mips64": "mips64", "mips64le": "mipsel64",
                "mipsle": "mipsel", "ppc": "ppc", "ppc64": "ppc64", "ppc64le": "ppc64le",
                "riscv64": "riscv64", "s390": "s390", "s390x": "s390x"}
NATIVE_TO_SECCOMP = {"x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64",
                     "arm": "SCMP_ARCH_ARM", "arm64": "SCMP_ARCH_AARCH64",
                     "loongarch64": "SCMP_ARCH_LOONGARCH64", "mips64": "SCMP_ARCH_MIPS64",
                     "mipsel64": "SCMP_ARCH_MIPSEL64", "mipsel": "SCMP_ARCH_MIPSEL",
                     "ppc": "SCMP_ARCH_PPC", "ppc64": "SCMP_ARCH_PPC64",
                     "ppc64le": "SCMP_ARCH_PPC64LE", "riscv64": "SCMP_ARCH_RISCV64",
                     "s390": "SCMP_ARCH_S390", "s390x": "SCMP_ARCH_S390X"}


def version(s):
    """'6.1.0-18-amd64' -> (6, 1)"""
    m = re.match(r"(\d+)\.(\d+)", s)
    if not m:
        sys.exit(f"gen-docker-default: bad kernel version {s!r}")
    return (int(m.group(1)), int(m.group(2)))


def translate(profile, native, caps, kernel):
    out = {k: v for k, v in profile.items() if k not in ("archMap", "syscalls")}
    arches = []
    for a in profile.get("archMap") or []:
        if a["architecture"] == NATIVE_TO_SECCOMP.get(native):
            arches = [a["architecture"]] + (a.get("subArchitectures") or [])
            break
    if arches:
        out["architectures"] = arches
    rules = []
    for call in profile.get("syscalls") or []:
        call = dict(call)
        if call.get("name"):
            call["names"] = [call.pop("name")]
        exc, inc = call.pop("excludes", None) or {}, call.pop("includes", None) or {}
        call.pop("comment", None)
        if native in (exc.get("arches") or []):
            continue
        if any(c in caps for c in exc.get("caps") or []):
            continue
        if exc.get("minKernel") and kernel >= version(exc["minKernel"]):
            continue
        if inc.get("arches") and native not in inc["arches"]:
            continue
        if any(c not in caps for c in inc.get("caps") or []):
            continue
        if inc.get("minKernel") and kernel < version(inc["minKernel"]):
            continue
        rules.append(call)
    out["syscalls"] = rules
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", nargs="?", default=os.path.join(here, "moby-default.json"))
    ap.add_argument("--arch", default=UNAME_TO_GO.get(platform.machine(), platform.machine()))
    ap.add_argument("--caps", default=",".join(DOCKER_DEFAULT_CAPS))
    ap.add_argument("--kernel", default=platform.release())
    a = ap.parse_args()
    native = GO_TO_NATIVE.get(a.arch)
    if native is None:
        sys.exit(f"gen-docker-default: unknown arch {a.arch!r}")
    with open(a.profile) as f:
        profile = json.load(f)
    caps = [c for c in a.caps.split(",") if c]
    json.dump(translate(profile, native, caps, version(a.kernel)), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

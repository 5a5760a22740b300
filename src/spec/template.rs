//! The starter config.json of `husk spec` (the same template as runc's),
//! which `husk bundle` also starts from.

use serde_json::{json, Value};

/// The starter configuration. `rootless` swaps the network namespace for a
/// user namespace mapping the caller's ids to root, and drops what an
/// unprivileged user cannot do. On a cgroup v2 host (`cgroup_v2`) the
/// container gets its own cgroup namespace, as with `runc spec`: its
/// /sys/fs/cgroup then shows its own cgroup as the root.
pub fn template(rootless: bool, cgroup_v2: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut devpts_opts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if !rootless {
        devpts_opts.push("gid=5");
    }
    let sys = if rootless {
        json!({"destination": "/sys", "type": "none", "source": "/sys",
               "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]})
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts_opts}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        sys,
    ];
    if !rootless {
        mounts.push(
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                           "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
        );
    }
    let mut namespaces = vec![json!({"type": "pid"})];
    if !rootless {
        namespaces.push(json!({"type": "network"}));
    }
    namespaces.extend([
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ]);
    if cgroup_v2 {
        namespaces.push(json!({"type": "cgroup"}));
    }
    if rootless {
        namespaces.push(json!({"type": "user"}));
    }
    let mut linux = json!({
        "maskedPaths": [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
            "/proc/scsi"
        ],
        "readonlyPaths": [
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
        ],
        "namespaces": namespaces,
    });
    if rootless {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    } else {
        linux["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    }
    json!({
        "ociVersion": crate::SPEC_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "husk",
        "mounts": mounts,
        "linux": linux
    })
}

#[cfg(test)]
mod tests {
    fn namespaces(v: &serde_json::Value) -> Vec<&str> {
        v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn template_parses_as_oci_spec() {
        for rootless in [false, true] {
            for v2 in [false, true] {
                let v = super::template(rootless, v2);
                let s: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
                assert_eq!(s.hostname().as_deref(), Some("husk"));
            }
        }
    }

    #[test]
    fn cgroup_namespace_only_on_cgroup_v2() {
        // runc spec's order: after mount, before a rootless user namespace.
        assert_eq!(
            namespaces(&super::template(false, false)),
            ["pid", "network", "ipc", "uts", "mount"]
        );
        assert_eq!(
            namespaces(&super::template(false, true)),
            ["pid", "network", "ipc", "uts", "mount", "cgroup"]
        );
        assert_eq!(
            namespaces(&super::template(true, true)),
            ["pid", "ipc", "uts", "mount", "cgroup", "user"]
        );
        assert_eq!(
            namespaces(&super::template(true, false)),
            ["pid", "ipc", "uts", "mount", "user"]
        );
    }
}

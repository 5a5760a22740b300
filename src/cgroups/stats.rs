//! Resource statistics in the JSON shape of runc 1.1's `types.Stats` (the
//! `data` of a `husk events` stats event). Field names, and which fields
//! are left out when zero, follow runc's `json:"...,omitempty"` tags; Go
//! never omits a struct, so nested objects are always present.

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

fn zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Serialize, Default, Debug)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: IntelRdt,
    /// runc fills this from the container's veth pairs; husk creates none.
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

#[derive(Serialize, Default, Debug)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Serialize, Default, Debug, Clone, PartialEq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "zero")]
    pub value: u64,
}

#[derive(Serialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty", rename = "ioQueueRecursive")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Serialize, Default, Debug)]
pub struct Pids {
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

#[derive(Serialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Serialize, Default, Debug)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Serialize, Default, Debug)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Memory {
    #[serde(skip_serializing_if = "zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// Intel RDT is not supported: always `{}` as in runc without resctrl.
#[derive(Serialize, Default, Debug)]
pub struct IntelRdt {}

// ---------------------------------------------------------------------------
// Parsing cgroupfs files

/// A cgroup value: a number, or "max" (u64::MAX, as runc's parser does).
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        return Some(u64::MAX);
    }
    // Negative values (e.g. v1 "-1") saturate like runc's parser.
    s.parse::<u64>().ok().or_else(|| {
        s.parse::<i64>()
            .ok()
            .map(|v| if v < 0 { 0 } else { v as u64 })
    })
}

/// Read a one-number file.
pub fn read_u64(dir: &Path, file: &str) -> Result<u64> {
    let p = dir.join(file);
    let s = std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
    parse_u64(&s).with_context(|| format!("parse {}: {:?}", p.display(), s.trim()))
}

/// Like [`read_u64`], but a missing file is 0.
pub fn read_u64_opt(dir: &Path, file: &str) -> Result<u64> {
    match std::fs::read_to_string(dir.join(file)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        _ => read_u64(dir, file),
    }
}

/// `key value` lines (memory.stat, cpu.stat, memory.events, ...).
pub fn read_kv(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>> {
    let p = dir.join(file);
    let s = std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
    Ok(s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), parse_u64(v)?))
        })
        .collect())
}

/// One value of a `key value` file; None if the file or key is missing.
pub fn kv_value(dir: &Path, file: &str, key: &str) -> Option<u64> {
    read_kv(dir, file).ok()?.get(key).copied()
}

/// A cpuset list ("0-3,5") as runc reports it: every member.
pub fn parse_cpuset(s: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(v) = part.parse() {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Hugepage sizes of the kernel, in runc's naming ("2MB", "1GB"), from
/// /sys/kernel/mm/hugepages/hugepages-<N>kB.
pub fn hugepage_sizes() -> Vec<String> {
    let mut sizes: Vec<(u64, String)> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some((kb, size_name(kb * 1024)))
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, s)| s).collect()
}

/// docker/go-units' CustomSize("%g%s", size, 1024, ["B","KB","MB","GB",...]).
fn size_name(bytes: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v}{}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lists() {
        assert_eq!(size_name(2048 * 1024), "2MB");
        assert_eq!(size_name(1048576 * 1024), "1GB");
        assert_eq!(size_name(64 * 1024), "64KB");
        assert_eq!(parse_cpuset("0-2,5\n"), vec![0, 1, 2, 5]);
        assert_eq!(parse_u64("max\n"), Some(u64::MAX));
        assert_eq!(parse_u64("-1"), Some(0));
    }

    #[test]
    fn json_shape() {
        let v = serde_json::to_value(Stats::default()).unwrap();
        for k in [
            "cpu",
            "cpuset",
            "memory",
            "pids",
            "blkio",
            "hugetlb",
            "intel_rdt",
            "network_interfaces",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        assert_eq!(v["memory"]["usage"]["limit"], 0);
        assert!(v["memory"].get("kernelTCP").is_some());
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
    }

    #[test]
    fn parse_u64_values_of_cgroupfs() {
        assert_eq!(parse_u64(" 42 \n"), Some(42));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        // v1's "unlimited" memory.limit_in_bytes is a plain number.
        assert_eq!(parse_u64("9223372036854771712"), Some(9223372036854771712));
        assert_eq!(parse_u64("-5"), Some(0));
        assert_eq!(parse_u64(""), None);
        assert_eq!(parse_u64("12k"), None);
        assert_eq!(parse_u64("MAX"), None);
    }

    #[test]
    fn cpuset_lists_with_ranges_and_junk() {
        assert_eq!(parse_cpuset(""), Vec::<u16>::new());
        assert_eq!(parse_cpuset("\n"), Vec::<u16>::new());
        assert_eq!(parse_cpuset("7"), vec![7]);
        assert_eq!(parse_cpuset("0-1,4-5,8"), vec![0, 1, 4, 5, 8]);
        // A reversed range is empty; junk parts are skipped.
        assert_eq!(parse_cpuset("3-1,x,2"), vec![2]);
    }

    #[test]
    fn read_helpers_name_the_file() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("n"), "junk\n").unwrap();
        std::fs::write(d.join("kv"), "a 1\nb max\nbad\nc x\n").unwrap();
        let e = read_u64(d, "n").unwrap_err().to_string();
        assert!(e.contains("parse") && e.ends_with("n: \"junk\""), "{e}");
        assert!(read_u64(d, "missing")
            .unwrap_err()
            .to_string()
            .starts_with("read "));
        assert_eq!(read_u64_opt(d, "missing").unwrap(), 0);
        assert!(read_u64_opt(d, "n").is_err(), "present but bad is an error");
        let kv = read_kv(d, "kv").unwrap();
        assert_eq!(kv.len(), 2);
        assert_eq!(kv["b"], u64::MAX);
        assert_eq!(kv_value(d, "kv", "a"), Some(1));
        assert_eq!(kv_value(d, "kv", "c"), None);
        assert_eq!(kv_value(d, "nope", "a"), None);
    }

    #[test]
    fn omitempty_fields_are_left_out_when_zero() {
        let mut s = Stats::default();
        s.pids.current = 2;
        s.hugetlb.insert("2MB".into(), Hugetlb::default());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["pids"], serde_json::json!({"current": 2}));
        assert_eq!(v["hugetlb"]["2MB"], serde_json::json!({"failcnt": 0}));
        assert_eq!(v["blkio"], serde_json::json!({}));
        assert_eq!(v["intel_rdt"], serde_json::json!({}));
        assert_eq!(v["network_interfaces"], serde_json::Value::Null);
        assert!(v["memory"].get("cache").is_none());
        assert!(v["cpuset"].get("cpus").is_none());
        assert_eq!(v["cpuset"]["sched_relax_domain_level"], 0);
        let mut b = Blkio::default();
        b.io_queued_recursive.push(BlkioEntry {
            major: 8,
            ..Default::default()
        });
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v, serde_json::json!({"ioQueueRecursive": [{"major": 8}]}));
    }

    #[test]
    fn size_names_as_go_units() {
        assert_eq!(size_name(512), "512B");
        assert_eq!(size_name(16 * 1024 * 1024 * 1024), "16GB");
        assert_eq!(size_name(1536 * 1024), "1.5MB");
        for s in hugepage_sizes() {
            assert!(s.ends_with('B'), "{s}");
        }
    }
}

//! `husk update` and `husk events`.

use crate::cgroups::notify::Event;
use crate::cli::{EventsArgs, UpdateArgs};
use crate::lifecycle::{self, Op};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// Change the resource limits of a created, running or paused container.
/// Like runc, `--resources` replaces every flag, values that are absent or
/// 0 stay as they are, and device rules are never touched. The cgroup is
/// the record: nothing else needs saving.
pub fn run(root: &Path, a: &UpdateArgs) -> Result<()> {
    let (c, _) = lifecycle::open(root, &a.id, Op::Update)?;
    let res: LinuxResources = match a.resources.as_deref() {
        Some(src) => {
            let mut text = String::new();
            if src == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("read resources from stdin")?;
            } else {
                text = std::fs::read_to_string(src).with_context(|| format!("read {src}"))?;
            }
            serde_json::from_str(&text).with_context(|| format!("parse resources {src}"))?
        }
        None => serde_json::from_value(flags_to_resources(a)?)
            .context("resources from the command line")?,
    };
    if a.l3_cache_schema.is_some() {
        bail!("Intel RDT/CAT: l3 cache schema is not enabled");
    }
    if a.mem_bw_schema.is_some() {
        bail!("Intel RDT/MBA: memory bandwidth schema is not enabled");
    }
    c.state.cgroup().update(&res)
}

/// The flags as a LinuxResources JSON object.
fn flags_to_resources(a: &UpdateArgs) -> Result<Value> {
    let mut memory = Map::new();
    for (flag, key, v) in [
        ("memory", "limit", &a.memory),
        ("memory-reservation", "reservation", &a.memory_reservation),
        ("memory-swap", "swap", &a.memory_swap),
        ("kernel-memory", "kernel", &a.kernel_memory),
        ("kernel-memory-tcp", "kernelTCP", &a.kernel_memory_tcp),
    ] {
        if let Some(v) = v {
            let n = ram_in_bytes(v).with_context(|| format!("invalid value for {flag}: {v:?}"))?;
            memory.insert(key.into(), n.into());
        }
    }
    let mut cpu = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            cpu.insert(k.into(), v);
        }
    };
    put("shares", a.cpu_share.map(Value::from));
    put("quota", a.cpu_quota.map(Value::from));
    put("period", a.cpu_period.map(Value::from));
    put("burst", a.cpu_burst.map(Value::from));
    put("idle", a.cpu_idle.map(Value::from));
    put("realtimeRuntime", a.cpu_rt_runtime.map(Value::from));
    put("realtimePeriod", a.cpu_rt_period.map(Value::from));
    put("cpus", a.cpuset_cpus.clone().map(Value::from));
    put("mems", a.cpuset_mems.clone().map(Value::from));
    let mut r = json!({ "memory": memory, "cpu": cpu });
    if let Some(w) = a.blkio_weight {
        r["blockIO"] = json!({ "weight": w });
    }
    if let Some(p) = a.pids_limit {
        r["pids"] = json!({ "limit": p });
    }
    Ok(r)
}

/// docker/go-units RAMInBytes: "1024", "512k", "1.5g", "64MiB", "1 GB"
/// (binary units), or -1 for unlimited.
fn ram_in_bytes(s: &str) -> Result<i64> {
    if s == "-1" {
        return Ok(-1);
    }
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok().context("not a size")?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit
        .strip_suffix('b')
        .unwrap_or(&unit)
        .trim_end_matches('i')
        .to_string();
    let mult: f64 = match unit.as_str() {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => bail!("unknown unit {unit:?}"),
    };
    Ok((n * mult) as i64)
}

/// Go's time.ParseDuration for the units people use: "5s", "500ms",
/// "1m30s", "1.5h", "100us".
fn parse_duration(s: &str) -> Result<Duration> {
    let mut rest = s.trim();
    let mut total = 0f64;
    if rest.is_empty() {
        bail!("invalid duration {s:?}");
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let n: f64 = rest[..n_end]
            .parse()
            .ok()
            .with_context(|| format!("invalid duration {s:?}"))?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => bail!("invalid duration {s:?}: missing or unknown unit"),
        };
        total += n * secs;
        rest = &rest[u_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// runc's event envelope.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    typ: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
}

fn emit<T: Serialize>(typ: &str, id: &str, data: Option<T>) -> Result<()> {
    let mut line = serde_json::to_string(&Envelope { typ, id, data })?;
    line.push('\n');
    super::print_stdout(&line)
}

/// `events --stats` prints the statistics once; otherwise stats every
/// `--interval` and OOM events as they come, until the container's cgroup
/// goes away. One thread: poll(2) on the OOM fd with the interval as timeout.
pub fn events(root: &Path, a: &EventsArgs) -> Result<()> {
    let interval = parse_duration(&a.interval)?;
    if interval.is_zero() {
        bail!("duration interval must be greater than 0");
    }
    let (c, _) = lifecycle::open(root, &a.id, Op::Events)?;
    let mut cg = c.state.cgroup();
    if a.stats {
        return emit("stats", &a.id, Some(cg.stats()?));
    }
    let mut watcher = cg.oom_watcher()?;
    let mut next = Instant::now() + interval;
    loop {
        let now = Instant::now();
        if now >= next {
            match cg.stats() {
                Ok(s) => emit("stats", &a.id, Some(s))?,
                // As runc: a failed read is logged, the stream goes on.
                Err(e) => crate::logging::error(&format!("{e:#}")),
            }
            next = now + interval;
        }
        match watcher.wait(Some(next.saturating_duration_since(Instant::now())))? {
            Event::Oom => emit::<()>("oom", &a.id, None)?,
            Event::Gone => return Ok(()),
            Event::Timeout => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(ram_in_bytes("1024").unwrap(), 1024);
        assert_eq!(ram_in_bytes("512k").unwrap(), 512 * 1024);
        assert_eq!(ram_in_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(ram_in_bytes("2 GB").unwrap(), 2 << 30);
        assert_eq!(ram_in_bytes("-1").unwrap(), -1);
        assert!(ram_in_bytes("12q").is_err());
        assert!(ram_in_bytes("abc").is_err());
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5").is_err());
    }
}

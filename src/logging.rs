//! logrus-compatible log lines, the shape containerd's shim parses:
//! `{"level":"error","msg":"...","time":"RFC3339"}` per line, appended.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

struct Logger {
    file: Option<File>,
    format: LogFormat,
    debug: bool,
}

// A Mutex only because statics need Sync; husk is single-threaded.
static LOGGER: Mutex<Option<Logger>> = Mutex::new(None);

/// Set up logging. The log file is opened with O_APPEND: every call for a
/// container shares one file.
pub fn init(path: Option<&Path>, format: LogFormat, debug: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    let file = match path {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(p)
                .with_context(|| format!("open log file {}", p.display()))?,
        ),
        None => None,
    };
    *LOGGER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

pub fn has_log_file() -> bool {
    LOGGER
        .lock()
        .map(|l| l.as_ref().is_some_and(|l| l.file.is_some()))
        .unwrap_or(false)
}

fn write(level: &str, msg: &str) {
    let mut guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(logger) = guard.as_mut() else { return };
    if level == "debug" && !logger.debug {
        return;
    }
    let time = rfc3339_now();
    let line = match logger.format {
        LogFormat::Json => format!(
            "{{\"level\":\"{level}\",\"msg\":{},\"time\":\"{time}\"}}\n",
            serde_json::Value::String(msg.to_string())
        ),
        LogFormat::Text => format!("time=\"{time}\" level={level} msg={:?}\n", msg),
    };
    match logger.file.as_mut() {
        Some(f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None if level != "error" => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        None => {}
    }
}

pub fn error(msg: &str) {
    write("error", msg)
}
pub fn warn(msg: &str) {
    write("warning", msg)
}
pub fn debug(msg: &str) {
    write("debug", msg)
}

/// Current UTC time as RFC 3339 with nanoseconds (Go's RFC3339Nano layout).
pub fn rfc3339_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::rfc3339;
    #[test]
    fn formats_like_go() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000, 120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
    }
}

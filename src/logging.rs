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
    let line = format_line(logger.format, level, msg, &rfc3339_now());
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

/// One log line, newline included: logrus's JSON fields (level, msg, time)
/// or its text form.
fn format_line(format: LogFormat, level: &str, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => format!(
            "{{\"level\":\"{level}\",\"msg\":{},\"time\":\"{time}\"}}\n",
            serde_json::Value::String(msg.to_string())
        ),
        LogFormat::Text => format!("time=\"{time}\" level={level} msg={:?}\n", msg),
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
    use super::*;
    #[test]
    fn formats_like_go() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000, 120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
    }

    #[test]
    fn dates_around_leap_years_and_month_ends() {
        assert_eq!(rfc3339(951_868_799, 0), "2000-02-29T23:59:59Z");
        assert_eq!(rfc3339(951_868_800, 0), "2000-03-01T00:00:00Z");
        // 1900 is not a leap year, 2100 neither; 2024 is.
        assert_eq!(rfc3339(1_709_164_800, 0), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_400, 0), "2100-03-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_704_067_199, 999_999_999),
            "2023-12-31T23:59:59.999999999Z"
        );
        // Before the epoch.
        assert_eq!(rfc3339(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(-2_208_988_800, 0), "1900-01-01T00:00:00Z");
    }

    #[test]
    fn now_is_a_utc_timestamp() {
        let t = rfc3339_now();
        assert!(t.ends_with('Z') && t.len() >= 20, "{t}");
        assert_eq!(&t[4..5], "-");
        assert_eq!(&t[10..11], "T");
    }

    #[test]
    fn json_lines_are_logrus_shaped() {
        let l = format_line(
            LogFormat::Json,
            "error",
            "open \"x\": no such file\n\tat y",
            "T",
        );
        assert!(l.ends_with("}\n") && l.matches('\n').count() == 1, "{l}");
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"level": "error", "msg": "open \"x\": no such file\n\tat y", "time": "T"})
        );
        // Key order as logrus writes them (containerd reads any order).
        assert!(l.starts_with("{\"level\":\"error\",\"msg\":"), "{l}");
        let l = format_line(LogFormat::Json, "warning", "ü \u{1}", "T");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&l).unwrap()["msg"],
            "ü \u{1}"
        );
    }

    #[test]
    fn text_lines_quote_the_message() {
        assert_eq!(
            format_line(
                LogFormat::Text,
                "warning",
                "hook \"x\" failed",
                "2026-01-01T00:00:00Z"
            ),
            "time=\"2026-01-01T00:00:00Z\" level=warning msg=\"hook \\\"x\\\" failed\"\n"
        );
        assert_eq!(
            format_line(LogFormat::Text, "debug", "a\nb", "T"),
            "time=\"T\" level=debug msg=\"a\\nb\"\n"
        );
    }

    #[test]
    fn log_file_lines_are_appended_and_debug_is_filtered() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("log.json");
        std::fs::write(&p, "earlier line\n").unwrap();
        init(Some(&p), LogFormat::Json, false).unwrap();
        assert!(has_log_file());
        error("unit-test-error-line");
        debug("unit-test-debug-line");
        init(Some(&p), LogFormat::Json, true).unwrap();
        debug("unit-test-debug-on");
        *LOGGER.lock().unwrap_or_else(|e| e.into_inner()) = None;
        assert!(!has_log_file());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("earlier line\n"), "appended: {text}");
        // Other tests may log meanwhile: look only at this test's lines.
        let mine: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| l.contains("unit-test-"))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(mine.len(), 2, "{text}");
        assert_eq!(mine[0]["level"], "error");
        assert_eq!(mine[1]["msg"], "unit-test-debug-on");
        let e = init(Some(&t.path().join("no/dir/log")), LogFormat::Text, false).unwrap_err();
        assert!(e.to_string().starts_with("open log file "), "{e}");
    }
}

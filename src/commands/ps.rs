use crate::cli::PsArgs;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// List the container's processes: `--format json` gives the array of host
/// pids containerd reads; `table` runs ps(1) and keeps the container's rows.
pub fn run(root: &Path, a: &PsArgs) -> Result<()> {
    let pids = crate::lifecycle::pids(root, &a.id)?;
    match a.format.as_str() {
        "json" => super::print_stdout(&(serde_json::to_string(&pids)? + "\n"))?,
        "table" => {
            let args: Vec<String> = if a.ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                a.ps_args.clone()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("run ps")?;
            if !out.status.success() {
                bail!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let pid_col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .context("ps output has no PID column")?;
            let mut out = format!("{header}\n");
            for l in lines {
                let pid: Option<i32> = l
                    .split_whitespace()
                    .nth(pid_col)
                    .and_then(|p| p.parse().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            super::print_stdout(&out)?;
        }
        f => bail!("invalid format option {f:?}: use table or json"),
    }
    Ok(())
}

use crate::cli::ListArgs;
use crate::container::Container;
use anyhow::{bail, Context, Result};
use std::path::Path;

#[derive(serde::Serialize)]
struct Item<'a> {
    #[serde(rename = "ociVersion")]
    oci_version: &'a str,
    id: &'a str,
    pid: i32,
    status: &'a str,
    bundle: &'a Path,
    rootfs: &'a Path,
    created: &'a str,
    owner: String,
    #[serde(skip_serializing_if = "std::collections::HashMap::is_empty")]
    annotations: &'a std::collections::HashMap<String, String>,
}

pub fn run(root: &Path, a: &ListArgs) -> Result<()> {
    let mut ids: Vec<String> = match std::fs::read_dir(root) {
        Ok(rd) => rd
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
        Err(e) => {
            crate::container::check_root(root)?;
            return Err(e).with_context(|| format!("read --root directory {}", root.display()));
        }
    };
    ids.sort();
    if a.quiet {
        let mut out = String::new();
        for id in &ids {
            out.push_str(id);
            out.push('\n');
        }
        return super::print_stdout(&out);
    }
    let containers: Vec<(Container, &'static str)> = ids
        .iter()
        .filter_map(|id| match Container::load(root, id) {
            Ok(c) => Some(c),
            // As runc: name the broken one on stderr, list the others.
            Err(e) => {
                eprintln!("load container {id}: {e:#}");
                None
            }
        })
        .map(|c| {
            let s = c.status().as_str();
            (c, s)
        })
        .collect();
    match a.format.as_str() {
        "json" => {
            let items: Vec<Item> = containers
                .iter()
                .map(|(c, s)| {
                    let o = c.state.to_oci(crate::container::state::Status::Running);
                    Item {
                        oci_version: o.oci_version,
                        id: o.id,
                        pid: if *s == "stopped" { 0 } else { o.pid },
                        status: s,
                        bundle: o.bundle,
                        rootfs: o.rootfs,
                        created: o.created,
                        owner: owner_name(&c.dir),
                        annotations: o.annotations,
                    }
                })
                .collect();
            if items.is_empty() {
                // Go marshals runc's empty (nil) slice as null.
                super::print_stdout("null\n")?;
            } else {
                super::print_stdout(&(serde_json::to_string(&items)? + "\n"))?;
            }
        }
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for (c, s) in &containers {
                let pid = if *s == "stopped" { 0 } else { c.state.pid };
                rows.push(vec![
                    c.id().to_string(),
                    pid.to_string(),
                    s.to_string(),
                    c.state.bundle.display().to_string(),
                    c.state.created.clone(),
                    owner_name(&c.dir),
                ]);
            }
            super::print_stdout(&tabulate(&rows))?;
        }
        f => bail!("invalid format option {f:?}: use table or json"),
    }
    Ok(())
}

/// runc's owner: the user owning the container's state directory, by
/// name, or `#UID` when it has none.
fn owner_name(dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::metadata(dir) else {
        return String::new();
    };
    match nix::unistd::User::from_uid(md.uid().into()) {
        Ok(Some(u)) => u.name,
        _ => format!("#{}", md.uid()),
    }
}

/// Go's tabwriter as runc sets it up (minwidth 12, padding 3, spaces):
/// every cell but the last of a row is padded to its column's width.
pub fn tabulate(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut width = vec![0usize; cols];
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count() + 3).max(12);
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < r.len() {
                out.extend(std::iter::repeat_n(' ', width[i] - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

//! The shape of the source, checked without root: the top-level modules
//! form the layers README's "Repository layout" describes (a module uses
//! only modules of lower layers, so the graph has no cycle), and no
//! function is longer than FN_MAX_LINES.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layers, lowest first. A module may use the modules of lower layers
/// only (never one of its own layer or above). Keep in step with README.
const LAYERS: &[&[&str]] = &[
    &["error", "logging", "oci"],
    &["linux"],
    &["cgroups"],
    &["spec"],
    &["container"],
    &["process"],
    &["lifecycle"],
    &["network", "image"],
    &["cli"],
    &["commands"],
    &["fuzzing"],
];

/// The longest function allowed, in lines (signature to closing brace).
const FN_MAX_LINES: usize = 150;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a line: without its `//` comment and with string literals
/// emptied (a rough lexer: enough for this source, which has no `//`
/// inside raw strings on a line of code that matters here).
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_str = false;
                    out.push('"');
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push('"');
            }
            '/' if chars.peek() == Some(&'/') => break,
            '\'' => {
                // A char literal ('x', '\n', '{'): skip it; a lifetime has
                // no closing quote within two characters.
                let rest: String = chars.clone().take(3).collect();
                if let Some(end) = rest.find('\'').filter(|&i| i > 0 && i <= 2) {
                    for _ in 0..=end {
                        chars.next();
                    }
                    out.push_str("' '");
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The top-level module a file of src/ belongs to (None for lib.rs,
/// main.rs and bin/).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.as_str() {
        "lib.rs" | "main.rs" | "bin" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// `crate::NAME` paths in `code`, and the names of `use crate::{a, b::c}`.
fn crate_refs(code: &str, out: &mut Vec<String>) {
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let body = group.split('}').next().unwrap_or("");
            for item in body.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        rest = after;
    }
}

fn layer_of(m: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&m))
}

#[test]
fn modules_use_only_lower_layers() {
    let mut files = vec![];
    rust_files(&src(), &mut files);
    // module -> (used module -> first place it is used)
    let mut uses: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in &files {
        let Some(m) = module_of(f) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        let mut in_tests = false;
        for (n, line) in text.lines().enumerate() {
            // Unit tests may reach anywhere.
            if line.starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if in_tests {
                break;
            }
            let mut refs = vec![];
            crate_refs(&code_of(line), &mut refs);
            for r in refs {
                if r != m && layer_of(&r).is_some() {
                    let at = format!("{}:{}", f.display(), n + 1);
                    uses.entry(m.clone()).or_default().entry(r).or_insert(at);
                }
            }
        }
    }
    let mut bad = vec![];
    for (m, used) in &uses {
        let Some(lm) = layer_of(m) else {
            bad.push(format!("module {m} is in no layer of tests/layout.rs"));
            continue;
        };
        for (u, at) in used {
            let lu = layer_of(u).unwrap();
            if lu >= lm {
                bad.push(format!("{m} (layer {lm}) uses {u} (layer {lu}) at {at}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "module layering broken:\n{}",
        bad.join("\n")
    );
}

/// (lines, "file:line name") of every function longer than `max` lines.
fn long_functions(max: usize) -> Vec<(usize, String)> {
    let mut files = vec![];
    rust_files(&src(), &mut files);
    let mut long = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<String> = text.lines().map(code_of).collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            let Some(pos) = t.find("fn ") else { continue };
            let head = &t[..pos];
            let is_decl = head.split_whitespace().all(|w| {
                matches!(w, "pub" | "const" | "unsafe" | "async" | "extern" | "\"C\"")
                    || w.starts_with("pub(")
            });
            if !is_decl {
                continue;
            }
            let name: String = t[pos + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let mut depth = 0i32;
            let mut started = false;
            let mut end = None;
            'scan: for (j, lj) in lines.iter().enumerate().skip(i) {
                for c in lj.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            started = true;
                        }
                        '}' => depth -= 1,
                        ';' if !started => break 'scan,
                        _ => {}
                    }
                    if started && depth == 0 {
                        end = Some(j);
                        break 'scan;
                    }
                }
            }
            if let Some(e) = end {
                let n = e - i + 1;
                if n > max {
                    long.push((n, format!("{}:{} {name}", f.display(), i + 1)));
                }
            }
        }
    }
    long.sort();
    long
}

#[test]
fn no_function_is_too_long() {
    let long = long_functions(FN_MAX_LINES);
    assert!(
        long.is_empty(),
        "functions over {FN_MAX_LINES} lines:\n{}",
        long.iter()
            .map(|(n, w)| format!("{n:5} {w}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_checks_see_what_they_check() {
    // The lexer drops comments and strings, not code.
    assert_eq!(
        code_of(r#"let a = "crate::x"; // crate::y"#),
        r#"let a = ""; "#
    );
    let mut refs = vec![];
    crate_refs("use crate::{linux::sys, spec};", &mut refs);
    assert_eq!(refs, ["linux", "spec"]);
    // The function scan finds the long functions of this very file's size.
    assert!(!long_functions(1).is_empty());
}

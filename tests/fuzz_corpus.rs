//! The fuzz targets on stable Rust: every input of `fuzz/corpus/<target>/`
//! and a few thousand deterministic mutations of them go through the same
//! entry points the `cargo fuzz` targets call (`husk::fuzzing`). No input
//! may panic. A panicking input is written to
//! `target/fuzz-failures/<target>-<n>` for `cargo fuzz run <target> FILE`.
//!
//! `HUSK_FUZZ_MUTATIONS=N` sets the number of mutated inputs per target,
//! made round-robin from the corpus files (default below). The image and
//! layer targets need root (their sandbox is a private mount namespace);
//! they are skipped otherwise.

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = repo().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Tokens that make JSON and paths interesting.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e999",
    b"18446744073709551616",
    b"4294967296",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"../",
    b"/..",
    b"//",
    b"\xff\xfe",
    b"\"SCMP_ACT_NOTIFY\"",
    b"\"SCMP_CMP_MASKED_EQ\"",
    b"\"user\"",
    b"\"idmap\"",
    b".wh.",
    b".wh..wh..opq",
    b"\"index\":7",
    b"\"size\":-1",
];

fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                v.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.below(len);
                v.splice(at..at, chunk);
            }
            4 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                v.splice(at..at, t.iter().copied());
            }
            5 if len > 0 => v.truncate(rng.below(len)),
            6 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                if !o.is_empty() {
                    let at = rng.below(len + 1);
                    let from = rng.below(o.len());
                    v.truncate(at);
                    v.extend_from_slice(&o[from..]);
                }
            }
            _ => {
                // A number somewhere made huge or negative.
                if let Some(i) = v.iter().position(|c| c.is_ascii_digit()) {
                    let t: &[u8] = if rng.below(2) == 0 {
                        b"-"
                    } else {
                        b"99999999999"
                    };
                    v.splice(i..i, t.iter().copied());
                }
            }
        }
    }
    v
}

fn run(target: &str, f: fn(&[u8]), mutations: usize) {
    let mutations = std::env::var("HUSK_FUZZ_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(mutations);
    let seeds = corpus(target);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
    let mut failures = Vec::new();
    let mut inputs: Vec<Vec<u8>> = seeds.clone();
    for i in 0..mutations {
        let s = &seeds[i % seeds.len()];
        inputs.push(mutate(&mut rng, s, &seeds));
    }
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for (n, input) in inputs.iter().enumerate() {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(input))).is_err() {
            let dir = repo().join("target/fuzz-failures");
            let _ = std::fs::create_dir_all(&dir);
            let p = dir.join(format!("{target}-{n}"));
            let _ = std::fs::write(&p, input);
            failures.push(p);
        }
    }
    std::panic::set_hook(quiet);
    assert!(
        failures.is_empty(),
        "{target}: {} of {} inputs panicked; saved as {:?}",
        failures.len(),
        inputs.len(),
        failures
    );
    eprintln!("{target}: {} inputs, none panicked", inputs.len());
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn config() {
    run("config", husk::fuzzing::config, 12000);
}

#[test]
fn state() {
    run("state", husk::fuzzing::state, 8000);
}

#[test]
fn seccomp() {
    run("seccomp", husk::fuzzing::seccomp, 3000);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn image_archive() {
    if !is_root() {
        eprintln!("skipped: the image sandbox needs root");
        return;
    }
    run("image_archive", husk::fuzzing::image_archive, 3000);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn tar_layer() {
    if !is_root() {
        eprintln!("skipped: the layer sandbox needs root");
        return;
    }
    run("tar_layer", husk::fuzzing::tar_layer, 5000);
}

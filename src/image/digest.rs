//! Content digests, and a reader that verifies one while the bytes stream
//! through it.
//!
//! A blob is never trusted before its last byte has been hashed: the
//! verifying reader fails the read that reaches the end of a blob whose
//! size or sha256 differs from its descriptor, so a corrupt or truncated
//! layer fails the unpack that is reading it (and the unpack happens in a
//! temporary directory that is then thrown away).

use anyhow::{bail, Context, Result};
use sha2::{Digest as _, Sha256};
use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

/// A `sha256:<64 lowercase hex>` digest, the only algorithm husk accepts.
/// Parsing checks the hex, so a digest is always safe to use as a file name.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl TryFrom<String> for Digest {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Digest> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl Digest {
    pub fn parse(s: &str) -> Result<Digest> {
        let Some((algo, hex)) = s.split_once(':') else {
            bail!("invalid digest {s:?}: no algorithm");
        };
        if algo != "sha256" {
            bail!("unsupported digest algorithm in {s:?} (only sha256 is supported)");
        }
        if !is_sha256_hex(hex) {
            bail!("invalid sha256 digest {s:?}");
        }
        Ok(Digest(s.to_string()))
    }

    pub fn from_hex(hex: &str) -> Option<Digest> {
        is_sha256_hex(hex).then(|| Digest(format!("sha256:{hex}")))
    }

    /// The 64 hex digits, without `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// How the verification of a blob went, readable after its reader moved
/// into a decoder. The failure is kept aside so that the error reported is
/// "digest mismatch" rather than whatever the decompressor or the tar
/// parser made of the io error it received.
#[derive(Default, Debug)]
pub struct Status {
    pub failure: Option<String>,
    /// The whole blob was read and matched.
    pub verified: bool,
}

pub type Shared = Rc<RefCell<Status>>;

/// Hashes and counts what is read through it; at the end of the stream,
/// fails unless the count and the hash match what was expected.
pub struct Verify<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    what: String,
    want: Option<Digest>,
    size: Option<u64>,
    done: bool,
    status: Shared,
}

impl<R: Read> Verify<R> {
    /// `what` names the blob in errors ("layer 2/5 sha256:…"). `want` may be
    /// None to only compute the digest (read it with [`Verify::digest`]).
    pub fn new(inner: R, what: String, want: Option<Digest>, size: Option<u64>) -> Verify<R> {
        Verify {
            inner,
            hasher: Sha256::new(),
            read: 0,
            what,
            want,
            size,
            done: false,
            status: Rc::default(),
        }
    }

    /// Shared handle on this reader's status.
    pub fn status(&self) -> Shared {
        self.status.clone()
    }

    /// The digest of everything read so far.
    pub fn digest(&self) -> Digest {
        Digest(format!(
            "sha256:{}",
            to_hex(&self.hasher.clone().finalize())
        ))
    }

    fn fail(&mut self, msg: String) -> io::Error {
        self.status.borrow_mut().failure = Some(msg.clone());
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }
}

impl<R: Read> Read for Verify<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        if let Some(size) = self.size {
            if self.read > size {
                return Err(self.fail(format!(
                    "{} is larger than the {size} bytes its descriptor gives",
                    self.what
                )));
            }
            if n == 0 && self.read < size {
                return Err(self.fail(format!(
                    "{} is truncated: {} of {size} bytes",
                    self.what, self.read
                )));
            }
        }
        if n == 0 {
            self.done = true;
            if let Some(want) = &self.want {
                let got = self.digest();
                if &got != want {
                    return Err(self.fail(format!(
                        "{} does not match its digest: got {got}",
                        self.what
                    )));
                }
            }
            self.status.borrow_mut().verified = true;
        }
        Ok(n)
    }
}

/// Reads the rest of `r` (the tar end marker, padding, a compressed
/// stream's trailer) so that a verifying reader underneath sees the end of
/// its blob.
pub fn drain(r: &mut impl Read) -> io::Result<()> {
    io::copy(r, &mut io::sink()).map(|_| ())
}

/// Largest JSON blob (manifest, index, config) read into memory.
pub const MAX_JSON: u64 = 16 << 20;

/// Reads a small blob whole, verifying its size and digest, and parses it
/// as JSON.
pub fn read_json<T: serde::de::DeserializeOwned>(
    r: impl Read,
    what: &str,
    want: Option<&Digest>,
    size: Option<u64>,
) -> Result<T> {
    if size.is_some_and(|s| s > MAX_JSON) {
        bail!("{what} is too large ({} bytes)", size.unwrap_or(0));
    }
    let mut v = Verify::new(r.take(MAX_JSON + 1), what.to_string(), want.cloned(), size);
    let mut buf = Vec::new();
    v.read_to_end(&mut buf).map_err(|e| {
        let failure = v.status().borrow().failure.clone();
        anyhow::anyhow!(failure.unwrap_or_else(|| format!("read {what}: {e}")))
    })?;
    if buf.len() as u64 > MAX_JSON {
        bail!("{what} is too large (more than {MAX_JSON} bytes)");
    }
    serde_json::from_slice(&buf).with_context(|| format!("parse {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parse_rejects_bad_digests() {
        assert!(Digest::parse(EMPTY).is_ok());
        assert!(Digest::parse("sha512:abc").is_err());
        assert!(Digest::parse("sha256:../../etc/passwd").is_err());
        assert!(Digest::parse(&EMPTY.to_uppercase()).is_err());
        assert!(Digest::parse("e3b0c442").is_err());
    }

    #[test]
    fn verify_checks_size_and_hash() {
        let good = Digest::parse(EMPTY).unwrap();
        let mut v = Verify::new(&b""[..], "blob".into(), Some(good.clone()), Some(0));
        assert!(drain(&mut v).is_ok());
        let mut v = Verify::new(&b"x"[..], "blob".into(), Some(good.clone()), Some(1));
        let e = drain(&mut v).unwrap_err();
        assert!(e.to_string().contains("does not match its digest"), "{e}");
        let mut v = Verify::new(&b"xy"[..], "blob".into(), Some(good.clone()), Some(3));
        let e = drain(&mut v).unwrap_err();
        assert!(e.to_string().contains("truncated: 2 of 3"), "{e}");
        assert!(v.status().borrow().failure.is_some());
        let mut v = Verify::new(&b"xyz"[..], "blob".into(), Some(good), Some(2));
        assert!(drain(&mut v).is_err());
    }

    const ABC: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn hex_and_display() {
        let d = Digest::parse(ABC).unwrap();
        assert_eq!(d.hex(), &ABC[7..]);
        assert_eq!(d.to_string(), ABC);
        assert_eq!(d.as_str(), ABC);
        assert_eq!(Digest::from_hex(d.hex()), Some(d));
        assert_eq!(Digest::from_hex("abc"), None);
        assert_eq!(Digest::from_hex(&ABC[7..].to_uppercase()), None);
        assert_eq!(to_hex(&[0, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn digest_messages_name_the_problem() {
        let e = |s: &str| Digest::parse(s).unwrap_err().to_string();
        assert!(e("abc").contains("no algorithm"));
        assert!(e("md5:abc").contains("only sha256"));
        assert!(e("sha256:abc").contains("invalid sha256 digest"));
        assert!(e(&format!("{ABC}0")).contains("invalid sha256 digest"));
    }

    #[test]
    fn serde_checks_on_the_way_in() {
        let d: Digest = serde_json::from_str(&format!("\"{ABC}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{ABC}\""));
        assert!(serde_json::from_str::<Digest>("\"sha256:../x\"").is_err());
        assert!(serde_json::from_str::<Digest>("42").is_err());
    }

    #[test]
    fn verify_computes_and_reports() {
        // Without an expected digest: computes it, accepts anything.
        let mut v = Verify::new(&b"abc"[..], "blob".into(), None, None);
        drain(&mut v).unwrap();
        assert_eq!(v.digest().as_str(), ABC);
        assert!(v.status().borrow().verified);
        // With one, in small reads: verified at the end only.
        let want = Digest::parse(ABC).unwrap();
        let mut v = Verify::new(&b"abc"[..], "blob".into(), Some(want), Some(3));
        let status = v.status();
        let mut one = [0u8; 1];
        assert_eq!(v.read(&mut one).unwrap(), 1);
        assert!(!status.borrow().verified);
        drain(&mut v).unwrap();
        assert!(status.borrow().verified);
        assert!(status.borrow().failure.is_none());
        // Reads after the end stay at the end.
        assert_eq!(v.read(&mut one).unwrap(), 0);
    }

    #[test]
    fn verify_fails_as_soon_as_a_blob_is_too_long() {
        let mut v = Verify::new(&b"abcdef"[..], "layer 1/1".into(), None, Some(2));
        let mut buf = [0u8; 4];
        let e = v.read(&mut buf).unwrap_err();
        assert!(
            e.to_string()
                .contains("layer 1/1 is larger than the 2 bytes"),
            "{e}"
        );
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn json_blobs() {
        let want = Digest::parse(ABC).unwrap();
        let v: serde_json::Value = read_json(&b"[1]"[..], "index.json", None, Some(3)).unwrap();
        assert_eq!(v, serde_json::json!([1]));
        let e = read_json::<serde_json::Value>(&b"abc"[..], "config", Some(&want), Some(3));
        assert!(
            format!("{:#}", e.unwrap_err()).contains("parse config"),
            "digest ok, not JSON"
        );
        let e = read_json::<serde_json::Value>(&b"[2]"[..], "manifest", Some(&want), None);
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("manifest does not match its digest"));
        let e = read_json::<serde_json::Value>(&b"[1]"[..], "m", None, Some(MAX_JSON + 1));
        assert!(e.unwrap_err().to_string().contains("too large"));
        let big = vec![b' '; MAX_JSON as usize + 2];
        let e = read_json::<serde_json::Value>(&big[..], "index.json", None, None);
        assert!(e.unwrap_err().to_string().contains("too large"));
    }
}

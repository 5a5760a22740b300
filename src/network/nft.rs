//! NAT through the `nft` command: one husk-owned table, `table ip husk`,
//! whose rules carry a comment naming their bridge and container, so that
//! teardown finds them by comment (and nothing else on the host is touched).
//!
//! ```text
//! table ip husk {
//!   chain prerouting  { type nat hook prerouting priority dstnat; }   published ports, from outside
//!   chain output      { type nat hook output priority -100; }         published ports, from the host itself
//!   chain postrouting { type nat hook postrouting priority srcnat; }  masquerade
//!   chain guard       { type filter hook prerouting priority raw; }   127.0.0.0/8 arriving on a bridge: drop
//! }
//! ```
//!
//! Each change is one `nft -f -` transaction: all of a container's rules go
//! in, or none. The table is deleted when its last rule is.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TABLE: &str = "husk";

/// `HOSTPORT:CONTAINERPORT[/tcp|udp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub host: u16,
    pub container: u16,
    pub proto: &'static str,
}

impl Publish {
    pub fn parse(s: &str) -> Result<Publish> {
        let (ports, proto) = match s.split_once('/') {
            Some((p, "tcp")) => (p, "tcp"),
            Some((p, "udp")) => (p, "udp"),
            Some((_, other)) => bail!("publish {s:?}: protocol must be tcp or udp, not {other:?}"),
            None => (s, "tcp"),
        };
        let (h, c) = ports
            .split_once(':')
            .with_context(|| format!("publish {s:?}: expected HOSTPORT:CONTAINERPORT[/tcp|udp]"))?;
        let port = |p: &str| -> Result<u16> {
            match p.parse::<u16>() {
                Ok(n) if n > 0 => Ok(n),
                _ => bail!("publish {s:?}: bad port {p:?} (1 to 65535)"),
            }
        };
        Ok(Publish {
            host: port(h)?,
            container: port(c)?,
            proto,
        })
    }
}

impl std::fmt::Display for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.host, self.container, self.proto)
    }
}

/// The `nft` binary.
pub struct Nft {
    bin: PathBuf,
}

impl Nft {
    /// `explicit`, or `nft` from PATH, or from the sbin directories: hooks
    /// run with an empty environment, so PATH alone is not enough.
    pub fn find(explicit: Option<&Path>) -> Result<Nft> {
        let bin = match explicit {
            Some(p) => {
                if !p.is_file() {
                    bail!("nft not found at {} (--nft)", p.display());
                }
                p.to_path_buf()
            }
            None => {
                let path = std::env::var("PATH").unwrap_or_default();
                let dirs = path.split(':').filter(|d| !d.is_empty()).chain([
                    "/usr/sbin",
                    "/sbin",
                    "/usr/bin",
                    "/bin",
                ]);
                let mut found = None;
                for d in dirs {
                    let p = Path::new(d).join("nft");
                    if p.is_file() {
                        found = Some(p);
                        break;
                    }
                }
                found.context(
                    "nft not found (in PATH, /usr/sbin, /sbin): published ports and masquerade \
                     need nftables (Debian: apt-get install nftables)",
                )?
            }
        };
        let nft = Nft { bin };
        nft.output(&["--version"], None)
            .with_context(|| format!("{} does not work", nft.bin.display()))?;
        Ok(nft)
    }

    fn output(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("run {}", self.bin.display()))?;
        // A write error (EPIPE: nft exited early) is reported after its exit
        // status, which says more.
        let written = match (stdin, child.stdin.take()) {
            (Some(text), Some(mut w)) => w.write_all(text.as_bytes()),
            _ => Ok(()),
        };
        let out = child
            .wait_with_output()
            .with_context(|| format!("wait for {}", self.bin.display()))?;
        if out.status.success() {
            written.with_context(|| format!("write to {}", self.bin.display()))?;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = err.trim().replace('\n', "; ");
            bail!(
                "{} {}: {}: {err}",
                self.bin.display(),
                args.join(" "),
                out.status
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Adds `rules` (lines `CHAIN RULE...`) in one transaction, creating the
    /// table and chains first if needed.
    pub fn add(&self, rules: &[String]) -> Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        let mut script = format!(
            "add table ip {TABLE}\n\
             add chain ip {TABLE} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n\
             add chain ip {TABLE} output {{ type nat hook output priority -100; policy accept; }}\n\
             add chain ip {TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
             add chain ip {TABLE} guard {{ type filter hook prerouting priority raw; policy accept; }}\n"
        );
        for r in rules {
            script.push_str(&format!("add rule ip {TABLE} {r}\n"));
        }
        self.output(&["-f", "-"], Some(&script))
            .context("add nftables rules")
            .map(|_| ())
    }

    /// The (chain, handle, comment) of every rule of the table; empty if
    /// there is no table.
    fn rules(&self) -> Result<Vec<(String, u64, String)>> {
        let tables = self.output(&["-j", "list", "tables", "ip"], None)?;
        let v: serde_json::Value =
            serde_json::from_str(&tables).context("parse the output of nft -j list tables")?;
        let has_table = v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|o| o["table"]["name"] == TABLE);
        if !has_table {
            return Ok(Vec::new());
        }
        let text = self.output(&["-j", "list", "table", "ip", TABLE], None)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).context("parse the output of nft -j list table")?;
        let mut out = Vec::new();
        for o in v["nftables"].as_array().into_iter().flatten() {
            let r = &o["rule"];
            if let (Some(chain), Some(handle)) = (r["chain"].as_str(), r["handle"].as_u64()) {
                let comment = r["comment"].as_str().unwrap_or_default().to_string();
                out.push((chain.to_string(), handle, comment));
            }
        }
        Ok(out)
    }

    /// Whether some rule's comment satisfies `pred`.
    pub fn has(&self, pred: impl Fn(&str) -> bool) -> Result<bool> {
        Ok(self.rules()?.iter().any(|(_, _, c)| pred(c)))
    }

    /// Deletes the rules whose comment satisfies `pred`, in one
    /// transaction, and the table once it has no rule left.
    pub fn delete(&self, pred: impl Fn(&str) -> bool) -> Result<()> {
        let rules = self.rules().context("list nftables rules")?;
        if rules.is_empty() {
            return Ok(());
        }
        let (gone, kept): (Vec<_>, Vec<_>) = rules.into_iter().partition(|(_, _, c)| pred(c));
        let script = if kept.is_empty() {
            format!("delete table ip {TABLE}\n")
        } else {
            gone.iter()
                .map(|(chain, h, _)| format!("delete rule ip {TABLE} {chain} handle {h}\n"))
                .collect()
        };
        if script.is_empty() {
            return Ok(());
        }
        self.output(&["-f", "-"], Some(&script))
            .context("delete nftables rules")
            .map(|_| ())
    }
}

/// The rules of one container.
pub fn container_rules(
    tag: &str,
    bridge: &str,
    ip: Ipv4Addr,
    masquerade: bool,
    publish: &[Publish],
) -> Vec<String> {
    let mut v = Vec::new();
    if masquerade {
        v.push(format!(
            "postrouting ip saddr {ip} oifname != \"{bridge}\" masquerade comment \"{tag}\""
        ));
    }
    for p in publish {
        // `fib daddr type local`: any address of this host (Docker's
        // `-m addrtype --dst-type LOCAL`), from outside and from the host.
        for chain in ["prerouting", "output"] {
            v.push(format!(
                "{chain} fib daddr type local {} dport {} dnat to {ip}:{} comment \"{tag}\"",
                p.proto, p.host, p.container
            ));
        }
    }
    v
}

/// The rules a bridge needs once one of its containers publishes a port.
pub fn bridge_rules(bridge: &str) -> Vec<String> {
    let tag = bridge_tag(bridge);
    vec![
        // The host reaching 127.0.0.1:HOSTPORT: after DNAT in `output` the
        // packet leaves through the bridge with source 127.0.0.1, which the
        // container could not answer; masquerade it to the gateway address.
        format!(
            "postrouting ip saddr 127.0.0.0/8 oifname \"{bridge}\" masquerade comment \"{tag}\""
        ),
        // route_localnet (needed for the above) would also let anything on
        // the bridge reach the host's 127.0.0.1 services
        // (CVE-2020-8558): drop such packets before routing.
        format!("guard iifname \"{bridge}\" ip daddr 127.0.0.0/8 drop comment \"{tag}\""),
    ]
}

pub fn bridge_tag(bridge: &str) -> String {
    format!("husk {bridge}")
}

/// The comment on a container's rules: `husk BRIDGE ID` (nft comments are
/// at most 128 bytes, so a long id is cut and made unique by a hash).
pub fn container_tag(bridge: &str, id: &str) -> String {
    let t = format!("husk {bridge} {id}");
    if t.len() <= 120 {
        return t;
    }
    format!("husk {bridge} {}~{}", &id[..64], super::short_hash(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_parse() {
        assert_eq!(
            Publish::parse("8080:80").unwrap(),
            Publish {
                host: 8080,
                container: 80,
                proto: "tcp"
            }
        );
        assert_eq!(
            Publish::parse("53:5353/udp").unwrap().to_string(),
            "53:5353/udp"
        );
        assert!(Publish::parse("0:80").is_err());
        assert!(Publish::parse("8080").is_err());
        assert!(Publish::parse("8080:80/sctp").is_err());
        assert!(Publish::parse("70000:80").is_err());
    }

    #[test]
    fn tags_fit_a_comment() {
        let long = "x".repeat(1000);
        assert!(container_tag("husk0", &long).len() <= 128);
        assert_eq!(container_tag("b", "c1"), "husk b c1");
        // A bridge's tag is a prefix of none of its containers' tags but
        // itself is distinct: teardown of a container matches exactly.
        assert_ne!(bridge_tag("b"), container_tag("b", "c1"));
    }

    #[test]
    fn publish_parse_errors_name_the_input() {
        let e = |s: &str| Publish::parse(s).unwrap_err().to_string();
        assert!(e("8080:80/sctp").contains("protocol must be tcp or udp, not \"sctp\""));
        assert!(e("8080").contains("expected HOSTPORT:CONTAINERPORT"));
        assert!(e(":80").contains("bad port \"\""));
        assert!(e("80:-1").contains("bad port \"-1\""));
        assert!(e("65536:1").contains("(1 to 65535)"));
        assert_eq!(
            Publish::parse("65535:1/tcp").unwrap().to_string(),
            "65535:1/tcp"
        );
        assert!(
            Publish::parse("1:2/TCP").is_err(),
            "protocol names are lower case"
        );
    }

    #[test]
    fn container_rule_text() {
        let ip: Ipv4Addr = "10.88.0.2".parse().unwrap();
        let p = [
            Publish::parse("8080:80").unwrap(),
            Publish::parse("53:53/udp").unwrap(),
        ];
        let r = container_rules("husk husk0 web", "husk0", ip, true, &p);
        assert_eq!(
            r,
            [
                "postrouting ip saddr 10.88.0.2 oifname != \"husk0\" masquerade comment \"husk husk0 web\"",
                "prerouting fib daddr type local tcp dport 8080 dnat to 10.88.0.2:80 comment \"husk husk0 web\"",
                "output fib daddr type local tcp dport 8080 dnat to 10.88.0.2:80 comment \"husk husk0 web\"",
                "prerouting fib daddr type local udp dport 53 dnat to 10.88.0.2:53 comment \"husk husk0 web\"",
                "output fib daddr type local udp dport 53 dnat to 10.88.0.2:53 comment \"husk husk0 web\"",
            ]
        );
        assert!(container_rules("t", "b", ip, false, &[]).is_empty());
    }

    #[test]
    fn bridge_rule_text_guards_localhost() {
        assert_eq!(
            bridge_rules("husk0"),
            [
                "postrouting ip saddr 127.0.0.0/8 oifname \"husk0\" masquerade comment \"husk husk0\"",
                "guard iifname \"husk0\" ip daddr 127.0.0.0/8 drop comment \"husk husk0\"",
            ]
        );
    }

    #[test]
    fn long_ids_get_a_unique_tag() {
        let a = format!("{}a", "x".repeat(200));
        let b = format!("{}b", "x".repeat(200));
        assert_ne!(container_tag("husk0", &a), container_tag("husk0", &b));
        assert!(container_tag("husk0", &a).starts_with(&format!("husk husk0 {}~", "x".repeat(64))));
        // Exactly at the limit: kept whole.
        let id = "y".repeat(120 - "husk b ".len());
        assert_eq!(container_tag("b", &id), format!("husk b {id}"));
    }

    /// A stand-in for nft: logs its arguments and stdin, and answers the
    /// list commands with `tables.json` and `table.json` of its directory.
    fn fake_nft() -> (tempfile::TempDir, Nft) {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().display().to_string();
        let script = format!(
            "#!/bin/sh\necho \"ARGS $*\" >> {dir}/log\n\
             case \"$*\" in\n\
             '-f -') cat >> {dir}/log ;;\n\
             '-j list tables ip') cat {dir}/tables.json ;;\n\
             '-j list table ip husk') cat {dir}/table.json ;;\n\
             fail*) echo 'Error: no' >&2; exit 1 ;;\n\
             esac\n"
        );
        let bin = d.path().join("nft");
        std::fs::write(&bin, script).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            d.path().join("tables.json"),
            r#"{"nftables":[{"table":{"name":"husk"}}]}"#,
        )
        .unwrap();
        let nft = Nft::find(Some(&bin)).unwrap();
        (d, nft)
    }

    fn log(d: &tempfile::TempDir) -> String {
        std::fs::read_to_string(d.path().join("log")).unwrap_or_default()
    }

    #[test]
    fn add_is_one_transaction_with_the_table_and_chains() {
        let (d, nft) = fake_nft();
        nft.add(&[]).unwrap();
        assert_eq!(log(&d), "ARGS --version\n", "nothing to add: nft not run");
        nft.add(&bridge_rules("b0")).unwrap();
        let l = log(&d);
        assert!(l.contains("ARGS -f -\nadd table ip husk\n"), "{l}");
        assert!(l.contains("add chain ip husk prerouting { type nat hook prerouting priority dstnat; policy accept; }"));
        assert!(l.contains(
            "add chain ip husk guard { type filter hook prerouting priority raw; policy accept; }"
        ));
        assert!(l.ends_with(
            "add rule ip husk guard iifname \"b0\" ip daddr 127.0.0.0/8 drop comment \"husk b0\"\n"
        ));
    }

    #[test]
    fn delete_by_comment_or_the_whole_table() {
        let (d, nft) = fake_nft();
        std::fs::write(
            d.path().join("table.json"),
            r#"{"nftables":[{"metainfo":{}},{"table":{"name":"husk"}},
              {"rule":{"chain":"prerouting","handle":4,"comment":"husk b0 c1"}},
              {"rule":{"chain":"output","handle":5,"comment":"husk b0 c1"}},
              {"rule":{"chain":"guard","handle":9,"comment":"husk b0"}}]}"#,
        )
        .unwrap();
        assert!(nft.has(|c| c == "husk b0").unwrap());
        assert!(!nft.has(|c| c == "husk b1").unwrap());
        nft.delete(|c| c == "husk b0 c1").unwrap();
        let l = log(&d);
        assert!(
            l.contains(
                "delete rule ip husk prerouting handle 4\ndelete rule ip husk output handle 5\n"
            ),
            "{l}"
        );
        assert!(!l.contains("delete table"));
        // Nothing would be left: the table goes instead.
        nft.delete(|c| c.starts_with("husk b0")).unwrap();
        assert!(log(&d).ends_with("ARGS -f -\ndelete table ip husk\n"));
        // No table at all: nothing listed, nothing deleted.
        std::fs::write(d.path().join("tables.json"), r#"{"nftables":[]}"#).unwrap();
        let before = log(&d);
        nft.delete(|_| true).unwrap();
        assert_eq!(
            log(&d).matches("-f -").count(),
            before.matches("-f -").count()
        );
    }

    #[test]
    fn nft_failures_name_the_command_and_its_stderr() {
        let (d, nft) = fake_nft();
        let e = format!("{:#}", nft.output(&["fail", "now"], None).unwrap_err());
        assert!(
            e.contains("/nft fail now: exit status: 1: Error: no"),
            "{e}"
        );
        let e = Nft::find(Some(&d.path().join("missing")))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("(--nft)"), "{e}");
    }
}

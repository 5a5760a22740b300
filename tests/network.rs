//! `husk network`: the bridge network helper, with real containers whose
//! config runs it as createRuntime / poststop hooks, and by hand against
//! network namespaces of helper processes (`unshare --net sleep`).
//!
//! Every test uses its own bridge (`hkt<pid>x<n>`) and its own subnet
//! 10.199.X.0/24 (or smaller), chosen free of host routes, and a [`TestNet`]
//! that removes the bridge, its nft rules and its store when dropped, also
//! on panic. Traffic only goes between the host's side of the test bridge
//! (its gateway address, or 127.0.0.1 DNATed to a container) and the test's
//! containers.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const HUSK: &str = env!("CARGO_BIN_EXE_husk");
const STORE_DIR: &str = "/run/husk-network";

/// Root, and the nft program; prints why when a test cannot run.
fn require_net() -> bool {
    if !require_root() {
        return false;
    }
    if !["/usr/sbin/nft", "/sbin/nft"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        eprintln!("skipped: nft not found (apt-get install nftables)");
        return false;
    }
    true
}

static NET_SEQ: AtomicUsize = AtomicUsize::new(0);
/// Serializes the choice of subnets and ports among this process's tests.
static PICK: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A test's bridge network: bridge name, subnet, a directory for command
/// output; removes everything of the bridge when dropped.
struct TestNet {
    bridge: String,
    /// X of 10.199.X.0/24.
    third: u8,
    dir: PathBuf,
    seq: AtomicUsize,
}

impl TestNet {
    fn new() -> TestNet {
        let n = NET_SEQ.fetch_add(1, Ordering::SeqCst);
        sweep_stale();
        let bridge = format!("hkt{}x{n}", std::process::id());
        assert!(bridge.len() <= 15, "{bridge}");
        let mut used = PICK.lock().unwrap_or_else(|e| e.into_inner());
        let routes = String::from_utf8_lossy(
            &host_cmd(&["ip", "-4", "route", "show", "table", "all"]).stdout,
        )
        .into_owned();
        let stores: String = fs::read_dir(STORE_DIR)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| fs::read_to_string(e.path()).unwrap_or_default())
            .collect();
        let start = (std::process::id() as usize * 7 + n * 13) % 240;
        let third = (0..240)
            .map(|i| ((start + i) % 240 + 10) as u8)
            .find(|x| {
                let net = format!("10.199.{x}.");
                !used.contains(&u16::from(*x)) && !routes.contains(&net) && !stores.contains(&net)
            })
            .expect("no free 10.199.X.0/24 for the test");
        used.insert(u16::from(third));
        let dir = PathBuf::from(TEST_BASE).join(format!("net-{bridge}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TestNet {
            bridge,
            third,
            dir,
            seq: AtomicUsize::new(0),
        }
    }

    fn subnet(&self) -> String {
        format!("10.199.{}.0/24", self.third)
    }

    fn gateway(&self) -> String {
        format!("10.199.{}.1", self.third)
    }

    /// Runs `husk ARGS...` (bounded in time) and returns what it did.
    fn husk(&self, args: &[&str]) -> Output {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let (out, err) = (
            self.dir.join(format!("{n}.out")),
            self.dir.join(format!("{n}.err")),
        );
        let mut cmd = Command::new(HUSK);
        cmd.args(args);
        run_with_timeout(cmd, &out, &err, COMMAND_TIMEOUT)
    }

    fn husk_ok(&self, args: &[&str]) -> Output {
        let out = self.husk(args);
        assert!(
            out.status.success(),
            "husk {args:?} failed:\n{}",
            describe(&out)
        );
        out
    }

    /// `husk network attach --bridge B --subnet S EXTRA... --pid PID ID`
    fn attach(&self, id: &str, pid: i32, extra: &[&str]) -> Output {
        let pid = pid.to_string();
        let subnet = self.subnet();
        let mut args = vec![
            "network",
            "attach",
            "--bridge",
            &self.bridge,
            "--subnet",
            &subnet,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--pid", &pid, id]);
        self.husk(&args)
    }

    /// The allocation store of the bridge, if any.
    fn store(&self) -> Option<Value> {
        let text = fs::read_to_string(self.store_path()).ok()?;
        Some(serde_json::from_str(&text).expect("store is JSON"))
    }

    fn store_path(&self) -> PathBuf {
        Path::new(STORE_DIR).join(format!("{}.json", self.bridge))
    }

    /// The address of container `id` in the store.
    fn ip_of(&self, id: &str) -> String {
        let s = self.store().expect("no store");
        s["containers"][id]["ip"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} not in store: {s}"))
            .to_string()
    }

    fn veth_of(&self, id: &str) -> String {
        let s = self.store().expect("no store");
        s["containers"][id]["veth"].as_str().unwrap().to_string()
    }

    /// The hook entries that attach/detach a container to this network.
    fn hooks(&self, attach_extra: &[&str]) -> Value {
        let subnet = self.subnet();
        let mut attach = vec![
            "husk",
            "network",
            "attach",
            "--bridge",
            &self.bridge,
            "--subnet",
            &subnet,
        ];
        attach.extend_from_slice(attach_extra);
        json!({
            "createRuntime": [{"path": HUSK, "args": attach}],
            "poststop": [{"path": HUSK, "args": ["husk", "network", "detach", "--bridge", &self.bridge]}],
        })
    }

    /// Asserts nothing of the network is left: no bridge, none of `veths`,
    /// no nft rule of the bridge, no store.
    fn assert_gone(&self, veths: &[String]) {
        let links = links();
        assert!(
            !links.contains(&self.bridge),
            "bridge {} left: {links:?}",
            self.bridge
        );
        for v in veths {
            assert!(!links.contains(v), "veth {v} left: {links:?}");
        }
        let rules = nft_comments();
        let mine: Vec<_> = rules.iter().filter(|c| self.owns(c)).collect();
        assert!(mine.is_empty(), "nft rules left: {mine:?}");
        assert!(self.store().is_none(), "store left: {:?}", self.store());
    }

    fn owns(&self, comment: &str) -> bool {
        let t = format!("husk {}", self.bridge);
        comment == t || comment.starts_with(&format!("{t} "))
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = self.husk(&["network", "rm", "--force", &self.bridge]);
        // Whatever husk could not remove.
        if links().contains(&self.bridge) {
            let _ = Command::new("ip")
                .args(["link", "del", &self.bridge])
                .status();
        }
        for (chain, handle, comment) in nft_rules() {
            if self.owns(&comment) {
                let _ = Command::new("nft")
                    .args([
                        "delete",
                        "rule",
                        "ip",
                        "husk",
                        &chain,
                        "handle",
                        &handle.to_string(),
                    ])
                    .status();
            }
        }
        let _ = fs::remove_file(self.store_path());
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Removes what test processes that were killed before their TestNet was
/// dropped left: the bridge networks `hkt<pid>x<n>` of pids that are gone.
fn sweep_stale() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let names: Vec<String> = fs::read_dir(STORE_DIR)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(String::from)
            })
            .chain(links())
            .chain(
                fs::read_dir(TEST_BASE)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_prefix("net-")
                            .map(String::from)
                    }),
            )
            .chain(
                nft_comments()
                    .iter()
                    .filter_map(|c| c.split(' ').nth(1).map(String::from)),
            )
            .collect();
        for name in names {
            let Some((pid, n)) = name.strip_prefix("hkt").and_then(|r| r.split_once('x')) else {
                continue;
            };
            // hkt<pid>x<n>, or hkt<pid>x<n>d: a test's extra link.
            let n = n.strip_suffix('d').unwrap_or(n);
            let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u32>()) else {
                continue;
            };
            if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            let _ = Command::new(HUSK)
                .args(["network", "rm", "--force", &name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = Command::new("ip")
                .args(["link", "del", &name])
                .stderr(Stdio::null())
                .status();
            let _ = fs::remove_dir_all(Path::new(TEST_BASE).join(format!("net-{name}")));
            let tag = format!("husk {name}");
            for (chain, handle, comment) in nft_rules() {
                if comment == tag || comment.starts_with(&format!("{tag} ")) {
                    let _ = Command::new("nft")
                        .args([
                            "delete",
                            "rule",
                            "ip",
                            "husk",
                            &chain,
                            "handle",
                            &handle.to_string(),
                        ])
                        .status();
                }
            }
        }
    });
}

/// Names of the host's links.
fn links() -> Vec<String> {
    let out = host_cmd(&["ip", "-o", "link", "show"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// (chain, handle, comment) of the rules of `table ip husk`.
fn nft_rules() -> Vec<(String, u64, String)> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "ip", "husk"])
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else { return Vec::new() };
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let r = &o["rule"];
            Some((
                r["chain"].as_str()?.to_string(),
                r["handle"].as_u64()?,
                r["comment"].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn nft_comments() -> Vec<String> {
    nft_rules().into_iter().map(|r| r.2).collect()
}

/// A free TCP port on the host (nothing listens on it), for publishing.
fn free_port() -> u16 {
    let mut used = PICK.lock().unwrap_or_else(|e| e.into_inner());
    let start = 20_000 + (std::process::id() % 20_000) as u16;
    for i in 0..5000u16 {
        let p = 20_000 + (start - 20_000 + i * 7) % 20_000;
        if !used.contains(&p) && std::net::TcpListener::bind(("0.0.0.0", p)).is_ok() {
            used.insert(p);
            return p;
        }
    }
    panic!("no free port");
}

/// A helper process in a network namespace of its own.
fn netns_helper() -> Helper {
    Helper::spawn(&["unshare", "--net", "sleep", "120"])
}

/// Waits until `pid` is in a network namespace other than ours (unshare
/// has run).
fn wait_netns(pid: i32) {
    let me = host_ns("net");
    let ok = wait_until(STATE_TIMEOUT, || {
        fs::read_link(format!("/proc/{pid}/ns/net"))
            .map(|l| l.to_string_lossy() != me)
            .unwrap_or(false)
    });
    assert!(ok, "process {pid} never got its own network namespace");
}

/// `GET /` over TCP to `addr`, with bounded waits; the response, or None.
fn http_get(addr: &str) -> Option<String> {
    let sa: SocketAddr = addr.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Retries `http_get` until it answers (the server may still be starting).
fn http_get_retry(addr: &str) -> String {
    let mut last = None;
    wait_until(Duration::from_secs(10), || {
        last = http_get(addr);
        last.as_deref().is_some_and(|b| b.contains("200 OK"))
    });
    last.unwrap_or_else(|| panic!("no HTTP answer from {addr}"))
}

/// Adds a capability to the container process's sets.
fn add_cap(fx: &Fixture, cap: &str) {
    let mut c = fx.config_mut();
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!(cap));
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn containers_reach_each_other_and_the_host_reaches_a_published_port() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    let port = free_port();
    let publish = format!("{port}:80/tcp");

    // Container A: a web server on port 80 and a TCP echo server on 7.
    let a = Fixture::new("net-a");
    a.config_mut()["hooks"] = net.hooks(&["--publish", &publish]);
    a.config_mut()["hostname"] = json!("web-a");
    a.add_mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"]);
    a.set_sh("mkdir /tmp/www && echo hello-from-a > /tmp/www/index.html && httpd -p 80 -h /tmp/www && exec nc -ll -p 7 -e cat");
    a.create();
    a.run_ok(&["start", &a.id]);
    let a_ip = net.ip_of(&a.id);
    let a_veth = net.veth_of(&a.id);
    assert!(
        a_ip.starts_with(&format!("10.199.{}.", net.third)),
        "{a_ip}"
    );

    // The host reaches A through the bridge, and through the published
    // port on 127.0.0.1 and on the bridge's own address.
    let direct = http_get_retry(&format!("{a_ip}:80"));
    assert!(direct.contains("hello-from-a"), "{direct}");
    for host in ["127.0.0.1", &net.gateway()] {
        let body = http_get_retry(&format!("{host}:{port}"));
        assert!(body.contains("hello-from-a"), "via {host}:{port}: {body}");
    }

    // Container B pings A and talks to its echo server, and shows its /etc.
    let b = Fixture::new("net-b");
    b.config_mut()["hooks"] = net.hooks(&["--hostname", "peer-b", "--dns", "192.0.2.53"]);
    add_cap(&b, "CAP_NET_RAW");
    let out = b.run_sh(&format!(
        "ping -c1 -W5 {a_ip} >/dev/null && echo ping-ok; \
         echo echo-through-a | nc -w5 {a_ip} 7; \
         echo ==hostname==; cat /etc/hostname; echo ==hosts==; cat /etc/hosts; \
         echo ==resolv==; cat /etc/resolv.conf; echo ==route==; ip route; echo ==end=="
    ));
    assert!(out.contains("ping-ok\n"), "{out}");
    assert!(out.contains("echo-through-a\n"), "{out}");
    assert_eq!(section(&out, "hostname"), "peer-b\n");
    assert!(section(&out, "hosts").contains("\tpeer-b\n"), "{out}");
    assert!(
        section(&out, "hosts").contains("127.0.0.1\tlocalhost"),
        "{out}"
    );
    assert_eq!(section(&out, "resolv"), "nameserver 192.0.2.53\n");
    assert!(
        section(&out, "route").contains(&format!("default via {} dev eth0", net.gateway())),
        "{out}"
    );
    // B was deleted by `run`: its poststop hook detached it.
    let s = net.store().expect("store while A is attached");
    assert_eq!(s["containers"].as_object().unwrap().len(), 1, "{s}");
    assert_eq!(
        fs::read_to_string(a.rootfs.join("etc/hostname")).unwrap(),
        "web-a\n"
    );

    // While A is attached its rules are there; after delete, nothing is.
    let comments = nft_comments();
    assert!(
        comments.contains(&format!("husk {} {}", net.bridge, a.id)),
        "{comments:?}"
    );
    a.run_ok(&["delete", "--force", &a.id]);
    net.assert_gone(&[a_veth]);
    assert!(
        http_get(&format!("127.0.0.1:{port}")).is_none(),
        "port {port} still forwarded"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn fifty_concurrent_attaches_get_fifty_addresses() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    let helpers: Vec<Helper> = (0..50).map(|_| netns_helper()).collect();
    for h in &helpers {
        wait_netns(h.pid());
    }
    let subnet = net.subnet();
    let spawn = |args: Vec<String>, i: usize, what: &str| {
        let out = fs::File::create(net.dir.join(format!("{what}{i}.out"))).unwrap();
        let err = fs::File::create(net.dir.join(format!("{what}{i}.err"))).unwrap();
        Command::new(HUSK)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap()
    };
    let wait_all = |children: Vec<std::process::Child>, what: &str| {
        for (i, mut c) in children.into_iter().enumerate() {
            let st = wait_timeout(&mut c, Duration::from_secs(60)).expect("husk network timed out");
            let err =
                fs::read_to_string(net.dir.join(format!("{what}{i}.err"))).unwrap_or_default();
            assert!(st.success(), "{what} #{i} failed: {err}");
        }
    };
    let children: Vec<_> = helpers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let args = [
                "network",
                "attach",
                "--bridge",
                &net.bridge,
                "--subnet",
                &subnet,
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(["--pid".into(), h.pid().to_string(), format!("c{i}")])
            .collect();
            spawn(args, i, "attach")
        })
        .collect();
    wait_all(children, "attach");

    let store = net.store().expect("store");
    let ips: BTreeSet<String> = (0..50).map(|i| net.ip_of(&format!("c{i}"))).collect();
    assert_eq!(ips.len(), 50, "duplicate addresses: {store}");
    // What each namespace really has agrees with the store.
    for (i, h) in helpers.iter().enumerate() {
        let out = host_cmd(&[
            "nsenter",
            "-t",
            &h.pid().to_string(),
            "-n",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ]);
        let have = stdout_str(&out);
        let want = format!("inet {}/24", net.ip_of(&format!("c{i}")));
        assert!(have.contains(&want), "c{i}: {have} (want {want})");
    }
    let veths: Vec<String> = (0..50).map(|i| net.veth_of(&format!("c{i}"))).collect();

    let children: Vec<_> = (0..50)
        .map(|i| {
            let args = vec!["network".into(), "detach".into(), format!("c{i}")];
            spawn(args, i, "detach")
        })
        .collect();
    wait_all(children, "detach");
    net.assert_gone(&veths);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exhausted_subnet_is_refused_and_nothing_is_left() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    // A /30: .0 network, .1 gateway, .3 broadcast: room for one container.
    let subnet = format!("10.199.{}.0/30", net.third);
    let (h1, h2) = (netns_helper(), netns_helper());
    wait_netns(h1.pid());
    wait_netns(h2.pid());
    let p1 = h1.pid().to_string();
    let p2 = h2.pid().to_string();
    net.husk_ok(&[
        "network",
        "attach",
        "--bridge",
        &net.bridge,
        "--subnet",
        &subnet,
        "--pid",
        &p1,
        "one",
    ]);
    let out = net.husk(&[
        "network",
        "attach",
        "--bridge",
        &net.bridge,
        "--subnet",
        &subnet,
        "--pid",
        &p2,
        "two",
    ]);
    assert_clean_error(&out);
    assert!(stderr_str(&out).contains("exhausted"), "{}", describe(&out));
    let s = net.store().unwrap();
    assert_eq!(s["containers"].as_object().unwrap().len(), 1, "{s}");
    let ports = stdout_str(&host_cmd(&[
        "ip",
        "-o",
        "link",
        "show",
        "master",
        &net.bridge,
    ]));
    assert_eq!(ports.lines().count(), 1, "{ports}");
    let ns2 = stdout_str(&host_cmd(&["nsenter", "-t", &p2, "-n", "ip", "-o", "link"]));
    assert!(!ns2.contains("eth0"), "{ns2}");

    // rm refuses while a container is attached; --force detaches it.
    let veth = net.veth_of("one");
    let out = net.husk(&["network", "rm", &net.bridge]);
    assert_clean_error(&out);
    assert!(stderr_str(&out).contains("one"), "{}", describe(&out));
    net.husk_ok(&["network", "rm", "--force", &net.bridge]);
    net.assert_gone(&[veth]);
}

/// Removes a link of the test when dropped.
struct Dummy(String);
impl Drop for Dummy {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn subnet_overlapping_a_host_route_is_refused() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    // A route of the host in the test's range: a link of our own (a bridge: this kernel may lack the dummy driver).
    let dummy = Dummy(format!("{}d", net.bridge));
    host_cmd(&["ip", "link", "add", &dummy.0, "type", "bridge"]);
    host_cmd(&[
        "ip",
        "addr",
        "add",
        &format!("10.199.{}.1/24", net.third),
        "dev",
        &dummy.0,
    ]);
    host_cmd(&["ip", "link", "set", &dummy.0, "up"]);
    let h = netns_helper();
    wait_netns(h.pid());
    let out = net.husk(&[
        "network",
        "attach",
        "--bridge",
        &net.bridge,
        "--subnet",
        &format!("10.199.{}.128/25", net.third),
        "--pid",
        &h.pid().to_string(),
        "c1",
    ]);
    assert_clean_error(&out);
    let err = stderr_str(&out);
    assert!(err.contains("overlaps") && err.contains(&dummy.0), "{err}");
    net.assert_gone(&[]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_input_is_refused_before_any_change() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    let h = netns_helper();
    wait_netns(h.pid());
    let long = "sixteen-chars-xx";
    let cases: &[(&str, &[&str], &str)] = &[
        (long, &[], "1 to 15 characters"),
        (
            &net.bridge,
            &["--subnet", "10.199.1.7/24"],
            "not the network address",
        ),
        (&net.bridge, &["--subnet", "10.199.1.0/31"], "prefix length"),
        (&net.bridge, &["--publish", "80"], "HOSTPORT:CONTAINERPORT"),
        (&net.bridge, &["--publish", "8080:80/sctp"], "tcp or udp"),
        (&net.bridge, &["--ip", "10.199.1.x"], "not an IPv4 address"),
        (
            &net.bridge,
            &["--publish", "8080:80", "--nft", "/nonexistent/nft"],
            "nft not found",
        ),
    ];
    let pid = h.pid().to_string();
    for (bridge, args, want) in cases {
        let mut a = vec!["network", "attach", "--bridge", bridge];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--pid", &pid, "c1"]);
        let out = net.husk(&a);
        assert_clean_error(&out);
        assert!(
            stderr_str(&out).contains(want),
            "{args:?}: {}",
            describe(&out)
        );
        assert!(!links().iter().any(|l| l == long));
        net.assert_gone(&[]);
    }
    // A process in the host's network namespace.
    let host_proc = Helper::spawn(&["sleep", "120"]);
    let out = net.attach("c1", host_proc.pid(), &[]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("no network namespace of its own"),
        "{}",
        describe(&out)
    );
    net.assert_gone(&[]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn container_without_its_own_network_namespace_fails_to_create() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    let fx = Fixture::new("net-nons");
    fx.config_mut()["hooks"] = net.hooks(&[]);
    fx.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    fx.set_args(&["true"]);
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("no network namespace of its own"),
        "{}",
        describe(&out)
    );
    assert_nothing_left(&fx, &fx.id);
    net.assert_gone(&[]);
}

/// An `nft` that works for `--version` and fails for everything else: the
/// rules step fails after the bridge and veth were made.
fn failing_nft(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("nft");
    fs::write(
        &p,
        "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\necho 'nft: simulated failure' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn failure_half_way_rolls_back() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    let nft = failing_nft(&net.dir);
    let (h1, h2, h3) = (netns_helper(), netns_helper(), netns_helper());
    for h in [&h1, &h2, &h3] {
        wait_netns(h.pid());
    }

    // On a new bridge: the bridge goes again too.
    let out = net.attach(
        "c1",
        h1.pid(),
        &["--publish", "18081:80", "--nft", nft.to_str().unwrap()],
    );
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("simulated failure"),
        "{}",
        describe(&out)
    );
    net.assert_gone(&[]);

    // On a bridge that has a container: only the new one's part goes.
    let out = net.attach("ok", h1.pid(), &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = net.attach(
        "c2",
        h2.pid(),
        &["--publish", "18081:80", "--nft", nft.to_str().unwrap()],
    );
    assert_clean_error(&out);
    let s = net.store().unwrap();
    assert_eq!(
        s["containers"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["ok"],
        "{s}"
    );
    assert_eq!(
        stdout_str(&host_cmd(&[
            "ip",
            "-o",
            "link",
            "show",
            "master",
            &net.bridge
        ]))
        .lines()
        .count(),
        1
    );
    let ns2 = stdout_str(&host_cmd(&[
        "nsenter",
        "-t",
        &h2.pid().to_string(),
        "-n",
        "ip",
        "-o",
        "link",
    ]));
    assert!(!ns2.contains("eth0"), "{ns2}");

    // A namespace that already has an eth0.
    host_cmd(&[
        "nsenter",
        "-t",
        &h3.pid().to_string(),
        "-n",
        "ip",
        "link",
        "add",
        "eth0",
        "type",
        "bridge",
    ]);
    let out = net.attach("c3", h3.pid(), &[]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("already has an eth0"),
        "{}",
        describe(&out)
    );
    let s = net.store().unwrap();
    assert_eq!(s["containers"].as_object().unwrap().len(), 1, "{s}");

    let veth = net.veth_of("ok");
    net.husk_ok(&["network", "detach", "ok"]);
    net.assert_gone(&[veth]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn allocation_of_a_dead_container_is_reclaimed() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    let mut h1 = netns_helper();
    let h2 = netns_helper();
    wait_netns(h1.pid());
    wait_netns(h2.pid());
    net.husk_ok(&[
        "network",
        "attach",
        "--bridge",
        &net.bridge,
        "--subnet",
        &net.subnet(),
        "--pid",
        &h1.pid().to_string(),
        "dead",
    ]);
    let dead_veth = net.veth_of("dead");
    // The container dies without a detach: its namespace, and the veth
    // pair with it, go away.
    let _ = h1.child.kill();
    let _ = h1.child.wait();
    assert!(
        wait_until(Duration::from_secs(10), || !links().contains(&dead_veth)),
        "veth {dead_veth} outlived its namespace"
    );
    net.attach(
        "alive",
        h2.pid(),
        &["--publish", &format!("{}:80", free_port())],
    );
    let s = net.store().unwrap();
    let ids: Vec<&String> = s["containers"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["alive"], "{s}");
    // The poststop of the dead one, late: nothing to do, no error.
    let mut cmd = Command::new(HUSK);
    cmd.args(["network", "detach"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(br#"{"ociVersion":"1.0.2","id":"dead","pid":0,"status":"stopped","bundle":"/nonexistent"}"#).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));

    let veth = net.veth_of("alive");
    net.husk_ok(&["network", "detach", "alive"]);
    net.assert_gone(&[veth, dead_veth]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn ls_and_inspect() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    let h = netns_helper();
    wait_netns(h.pid());
    let out = net.attach(
        "c1",
        h.pid(),
        &["--ip", &format!("10.199.{}.42", net.third)],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("attach prints JSON");
    assert_eq!(printed["ip"], format!("10.199.{}.42", net.third));
    assert_eq!(printed["gateway"], net.gateway());

    let ls = stdout_str(&net.husk_ok(&["network", "ls"]));
    let line = ls
        .lines()
        .find(|l| l.starts_with(&net.bridge))
        .unwrap_or_else(|| panic!("{ls}"));
    assert!(
        line.contains(&net.subnet()) && line.contains("c1="),
        "{line}"
    );
    let v: Value =
        serde_json::from_slice(&net.husk_ok(&["network", "inspect", &net.bridge]).stdout).unwrap();
    assert_eq!(
        v["containers"]["c1"]["ip"],
        format!("10.199.{}.42", net.third)
    );

    let out = net.husk(&["network", "detach", "nonexistent-id"]);
    assert_clean_error(&out);
    let veth = net.veth_of("c1");
    net.husk_ok(&["network", "detach", "--bridge", &net.bridge, "c1"]);
    net.assert_gone(&[veth]);
    let out = net.husk(&["network", "inspect", &net.bridge]);
    assert_clean_error(&out);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn etc_files_go_to_bind_sources_or_the_rootfs_never_through_symlinks() {
    if !require_net() {
        return;
    }
    let net = TestNet::new();
    let h = netns_helper();
    wait_netns(h.pid());
    let bundle = net.dir.join("bundle");
    let rootfs = bundle.join("rootfs");
    fs::create_dir_all(rootfs.join("etc")).unwrap();
    // A host file the rootfs points at: it must not be written.
    let victim = net.dir.join("victim");
    fs::write(&victim, "untouched\n").unwrap();
    std::os::unix::fs::symlink(&victim, rootfs.join("etc/hosts")).unwrap();
    // /etc/resolv.conf is bind-mounted from a file of the bundle.
    let resolv = bundle.join("resolv.conf");
    fs::write(&resolv, "old\n").unwrap();
    let config = json!({
        "root": {"path": "rootfs"},
        "hostname": "from-config",
        "mounts": [{"destination": "/etc/resolv.conf", "type": "bind",
                    "source": "resolv.conf", "options": ["rbind", "ro"]}],
    });
    fs::write(bundle.join("config.json"), config.to_string()).unwrap();
    let out = net.attach(
        "c1",
        h.pid(),
        &["--bundle", bundle.to_str().unwrap(), "--dns", "192.0.2.53"],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let ip = net.ip_of("c1");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched\n");
    let hosts = rootfs.join("etc/hosts");
    assert!(!fs::symlink_metadata(&hosts)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&hosts)
        .unwrap()
        .contains(&format!("{ip}\tfrom-config\n")));
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/hostname")).unwrap(),
        "from-config\n"
    );
    assert_eq!(
        fs::read_to_string(&resolv).unwrap(),
        "nameserver 192.0.2.53\n"
    );
    assert!(!rootfs.join("etc/resolv.conf").exists());
    let veth = net.veth_of("c1");
    net.husk_ok(&["network", "detach", "c1"]);

    // A rootfs whose etc is a symlink is refused, and nothing is left.
    fs::remove_dir_all(rootfs.join("etc")).unwrap();
    std::os::unix::fs::symlink(net.dir.join("elsewhere"), rootfs.join("etc")).unwrap();
    let out = net.attach("c2", h.pid(), &["--bundle", bundle.to_str().unwrap()]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("not a symlink"),
        "{}",
        describe(&out)
    );
    assert!(!net.dir.join("elsewhere").exists());
    net.assert_gone(&[veth]);
}

#[test]
fn man_page_covers_every_subcommand_and_flag() {
    let man =
        fs::read_to_string(repo_dir().join("man/husk-network.8")).expect("man/husk-network.8");
    let man = man.replace("\\-", "-");
    for sub in ["attach", "detach", "rm", "ls", "inspect"] {
        assert!(
            man.contains(&format!(".B {sub}")) || man.contains(&format!(".SS {sub}")),
            "{sub} missing"
        );
        let out = Command::new(HUSK)
            .args(["network", sub, "--help"])
            .output()
            .unwrap();
        for word in stdout_str(&out).split_whitespace() {
            let flag = word.trim_end_matches(',');
            if flag.starts_with("--") && flag.len() > 2 && flag != "--help" {
                let flag = flag.split('=').next().unwrap();
                assert!(
                    man.contains(flag),
                    "husk network {sub} {flag} is not in man/husk-network.8"
                );
            }
        }
    }
}

/// husk SIGKILLed during `create` after the createRuntime hook attached the
/// container (and again just before the state is saved): `delete --force`
/// runs the poststop hook from the saved state, and the address, veth,
/// port forward and bridge are all released.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn crash_after_attach_then_delete_force_releases_the_network() {
    if !require_net() || !cfg!(debug_assertions) {
        return;
    }
    for point in ["create:after-mounts", "create:before-save"] {
        let net = TestNet::new();
        let fx = Fixture::new("net-crash");
        fx.config_mut()["hooks"] = net.hooks(&["--publish", &format!("{}:80/tcp", free_port())]);
        fx.set_args(&["sleep", "100"]);
        fx.write_config();
        let mut cmd = Command::new(HUSK);
        cmd.args([
            "--root",
            fx.root_str(),
            "create",
            "--bundle",
            fx.bundle_str(),
            &fx.id,
        ]);
        cmd.env("HUSK_CRASH_AT", point);
        let out = run_with_timeout(
            cmd,
            &fx.dir.join("crash.out"),
            &fx.dir.join("crash.err"),
            COMMAND_TIMEOUT,
        );
        assert!(
            !out.status.success(),
            "{point}: create did not stop:\n{}",
            describe(&out)
        );
        // Allocated (the veth itself may already be gone with the init's
        // network namespace: the init dies with its creator).
        let veth = net.veth_of(&fx.id);
        fx.run_ok(&["delete", "--force", &fx.id]);
        assert_nothing_left(&fx, &fx.id);
        net.assert_gone(&[veth]);
    }
}

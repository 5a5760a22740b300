//! `husk network`: glue between the command line (or a hook's stdin) and
//! `crate::network`.

use crate::cli::{NetworkAction, NetworkArgs, NetworkAttachArgs};
use crate::network::{self, ipam, nft::Publish, AttachOpts, HookState, Netns};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// `husk network` is for root on the host only: bridges, veths, nft rules
/// and /run/husk-net are the host's.
pub fn require_root() -> Result<()> {
    if crate::linux::rootless::unprivileged() {
        bail!("husk network needs root on the host: a rootless container's network is its caller's (Podman brings slirp4netns or pasta)");
    }
    Ok(())
}

pub fn run(root: &Path, a: &NetworkArgs) -> Result<()> {
    require_root()?;
    let dir = Path::new(ipam::STATE_DIR);
    match &a.action {
        NetworkAction::Attach(a) => {
            let o = attach_opts(root, a)?;
            let done = network::attach(&o)?;
            println!("{}", serde_json::to_string(&done)?);
        }
        NetworkAction::Detach(a) => {
            let (id, hook) = match &a.id {
                Some(id) => (id.clone(), false),
                None => (HookState::read()?.id, true),
            };
            let done = network::detach(dir, &id, a.bridge.as_deref(), a.nft.as_deref())?;
            // A poststop hook may run for a container whose allocation a
            // later attach already reclaimed (its veth was gone): fine.
            if done.is_empty() && !hook {
                bail!("container {id} is not attached to any husk network");
            }
        }
        NetworkAction::Rm(a) => network::remove(dir, &a.bridge, a.force, a.nft.as_deref())?,
        NetworkAction::Ls(a) => {
            let stores = network::list(dir)?;
            match a.format.as_str() {
                "json" => println!("{}", serde_json::to_string(&stores)?),
                "table" => {
                    println!(
                        "{:<16}{:<20}{:<16}CONTAINERS",
                        "BRIDGE", "SUBNET", "GATEWAY"
                    );
                    for s in stores {
                        let ids: Vec<String> = s
                            .containers
                            .iter()
                            .map(|(id, c)| format!("{id}={}", c.ip))
                            .collect();
                        println!(
                            "{:<16}{:<20}{:<16}{}",
                            s.bridge,
                            s.subnet,
                            s.gateway.to_string(),
                            ids.join(",")
                        );
                    }
                }
                f => bail!("invalid format {f:?}: table or json"),
            }
        }
        NetworkAction::Inspect(a) => {
            network::validate_bridge_name(&a.bridge)?;
            let s = network::list(dir)?
                .into_iter()
                .find(|s| s.bridge == a.bridge)
                .with_context(|| format!("no husk network with bridge {}", a.bridge))?;
            println!("{}", serde_json::to_string_pretty(&s)?);
        }
    }
    Ok(())
}

fn attach_opts(root: &Path, a: &NetworkAttachArgs) -> Result<AttachOpts> {
    // Parse everything before looking at the container.
    let subnet = a.subnet.as_deref().map(ipam::Subnet::parse).transpose()?;
    let ip =
        a.ip.as_deref()
            .map(|s| {
                s.parse()
                    .with_context(|| format!("--ip {s:?}: not an IPv4 address"))
            })
            .transpose()?;
    let publish = a
        .publish
        .iter()
        .map(|p| Publish::parse(p))
        .collect::<Result<Vec<_>>>()?;
    let dns = a
        .dns
        .iter()
        .map(|s| {
            s.parse()
                .with_context(|| format!("--dns {s:?}: not an IPv4 address"))
        })
        .collect::<Result<Vec<_>>>()?;
    let (id, pid, bundle) = match &a.id {
        None => {
            let st = HookState::read()?;
            (
                st.id,
                st.pid,
                Some(st.bundle).filter(|b| !b.as_os_str().is_empty()),
            )
        }
        Some(id) => match crate::container::Container::load(root, id) {
            Ok(c) => (id.clone(), c.state.pid, Some(c.state.bundle)),
            // By hand for something that is not a husk container: its
            // namespace must then be given.
            Err(_) if a.pid.is_some() || a.netns.is_some() => (id.clone(), 0, None),
            Err(e) => {
                return Err(
                    e.context("give --pid or --netns for a process that is not a husk container")
                )
            }
        },
    };
    let netns = match (&a.netns, a.pid) {
        (Some(p), _) => Netns::Path(p.clone()),
        (None, Some(p)) => Netns::Pid(p),
        (None, None) => Netns::Pid(pid),
    };
    Ok(AttachOpts {
        id,
        netns,
        bundle: if a.no_etc {
            None
        } else {
            a.bundle.clone().or(bundle)
        },
        bridge: a.bridge.clone(),
        subnet,
        ip,
        masquerade: a.masquerade,
        publish,
        hostname: a.hostname.clone(),
        dns,
        nft: a.nft.clone(),
        state_dir: PathBuf::from(ipam::STATE_DIR),
    })
}

//! `husk bundle`: glue between the command line and `crate::image`.

use crate::cli::{BundleAction, BundleArgs};
use crate::image::{self, BindMount, Options, RunOptions};
use anyhow::{Context, Result};

pub fn run(a: &BundleArgs) -> Result<()> {
    match &a.action {
        Some(BundleAction::Rm { bundle }) => image::remove(bundle),
        Some(BundleAction::Gc { layer_store }) => {
            for d in image::gc(layer_store)? {
                println!("removed {d}");
            }
            Ok(())
        }
        None => {
            let m = &a.make;
            let mounts = m
                .mounts
                .iter()
                .map(|s| BindMount::parse(s))
                .collect::<Result<Vec<_>>>()?;
            let opts = Options {
                image: m.image.clone().context("no image given")?,
                bundle: m.bundle.clone().context("no bundle directory given")?,
                tag: m.tag.clone(),
                platform: m.platform.clone(),
                layer_store: m.overlay.then(|| m.layer_store.clone()),
                run: RunOptions {
                    args: m.args.clone(),
                    terminal: m.tty,
                    host_network: m.net == "host",
                    read_only: m.read_only,
                    mounts,
                },
            };
            image::create(&opts)
        }
    }
}

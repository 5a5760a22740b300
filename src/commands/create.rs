use crate::cli::{Cli, CreateArgs};
use crate::container::Container;
use crate::process::parent::{create, CreateOpts};
use anyhow::Result;

pub fn opts<'a>(cli: &'a Cli, a: &'a CreateArgs, subreaper: bool) -> Result<CreateOpts<'a>> {
    Ok(CreateOpts {
        root: &cli.root,
        id: &a.id,
        bundle: &a.bundle,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        systemd_cgroup: cli.systemd_cgroup,
        rootless: crate::linux::rootless::cgroups_rootless(cli.rootless.as_deref())?,
        subreaper,
        console_fd: None,
    })
}

pub fn run(cli: &Cli, a: &CreateArgs) -> Result<Container> {
    create(&opts(cli, a, false)?)
}

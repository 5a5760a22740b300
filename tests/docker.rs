//! Docker running the runtime under test from the README's configuration
//! (tests/docker.sh: private daemons and directories, `--network none`, a
//! locally built busybox image; about 15 s).

mod common;

use common::*;

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn docker_from_the_readme_configuration() {
    if !require_root() {
        return;
    }
    let script = repo_dir().join("tests/docker.sh");
    let (out, text) = run_client_script(&script, "docker", 100);
    client_script_passed(&out, &text);
}

//! `husk-tools`: the image-to-bundle and bridge-network helpers, which
//! `husk bundle ...` and `husk network ...` run. A binary of its own so
//! that the runtime does not carry their code.

fn main() {
    husk::commands::main(husk::commands::dispatch_tools)
}

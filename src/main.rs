//! `husk`, the runtime. `husk bundle` and `husk network` run `husk-tools`.

fn main() {
    husk::commands::main(husk::commands::dispatch)
}

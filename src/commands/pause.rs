use anyhow::Result;
use std::path::Path;

/// pause (freeze) or resume (thaw) every process of the container.
pub fn run(root: &Path, id: &str, pause: bool) -> Result<()> {
    if pause {
        crate::lifecycle::pause(root, id)
    } else {
        crate::lifecycle::resume(root, id)
    }
}

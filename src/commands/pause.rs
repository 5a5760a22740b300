use crate::cgroups::Cgroup;
use crate::container::state::Status;
use crate::container::Container;
use crate::error::HuskError;
use anyhow::Result;
use std::path::Path;

/// pause (freeze) or resume (thaw) every process of the container.
pub fn run(root: &Path, id: &str, pause: bool) -> Result<()> {
    let c = Container::load_locked(root, id)?;
    match (c.status(), pause) {
        (Status::Running | Status::Created, true) | (Status::Paused, false) => {}
        (Status::Stopped, _) => return Err(HuskError::NotRunning(id.to_string()).into()),
        (s, true) => {
            return Err(
                HuskError::WrongState(format!("container {id} is {s}: cannot pause it")).into(),
            )
        }
        (_, false) => {
            return Err(HuskError::WrongState(format!("container {id} is not paused")).into())
        }
    }
    Cgroup::of(&c.state).freeze(pause)
}

//! The status table: which operation each status allows, and the words of
//! the refusal. Every command that depends on the status checks it here
//! (through [`check`]), so the rules and runc's error words — which
//! containerd, go-runc and Docker match ("container not running", "not
//! stopped", "cannot start …") — live in one place.

use crate::container::state::Status;
use crate::error::HuskError;

/// An operation on an existing container.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    Start,
    /// `kill` of the init.
    Kill,
    /// `kill --all`: every process of the container's cgroup.
    KillAll,
    Delete,
    /// `delete --force`.
    DeleteForce,
    Pause,
    Resume,
    Exec,
    /// `exec --ignore-paused`.
    ExecIgnorePaused,
    Update,
    Events,
    State,
}

/// What the table says for one operation in one status.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rule {
    Allow,
    /// "container ID is not running: container not running".
    NotRunning,
    StartStopped,
    StartRunning,
    StartCreating,
    /// "cannot delete container ID that is not stopped: STATUS".
    NotStopped,
    /// "container ID is STATUS: cannot pause it".
    CannotPause,
    NotPaused,
    ExecPaused,
    ExecStopped,
    EventsStopped,
}

use Rule::*;

/// The table. Columns, in [`column`]'s order: creating (a `create` still
/// running, or one that died half-way and holds no lock), created,
/// running, paused, stopped.
#[rustfmt::skip]
const TABLE: [(Op, [Rule; 5]); 12] = [
    //                       creating       created        running        paused         stopped
    (Op::Start,             [StartCreating, Allow,         StartRunning,  StartRunning,  StartStopped]),
    (Op::Kill,              [NotRunning,    Allow,         Allow,         Allow,         NotRunning]),
    // Also a stopped one: other processes may remain in a shared pid
    // namespace (containerd does this); nothing left is no error (runc).
    (Op::KillAll,           [Allow,         Allow,         Allow,         Allow,         Allow]),
    // A created (or half-created) container's init only waits for start:
    // delete kills it, as runc does.
    (Op::Delete,            [Allow,         Allow,         NotStopped,    NotStopped,    Allow]),
    (Op::DeleteForce,       [Allow,         Allow,         Allow,         Allow,         Allow]),
    (Op::Pause,             [CannotPause,   Allow,         Allow,         CannotPause,   NotRunning]),
    (Op::Resume,            [NotPaused,     NotPaused,     NotPaused,     Allow,         NotRunning]),
    (Op::Exec,              [ExecStopped,   Allow,         Allow,         ExecPaused,    ExecStopped]),
    (Op::ExecIgnorePaused,  [ExecStopped,   Allow,         Allow,         Allow,         ExecStopped]),
    (Op::Update,            [NotRunning,    Allow,         Allow,         Allow,         NotRunning]),
    (Op::Events,            [Allow,         Allow,         Allow,         Allow,         EventsStopped]),
    (Op::State,             [Allow,         Allow,         Allow,         Allow,         Allow]),
];

fn column(s: Status) -> usize {
    match s {
        Status::Creating => 0,
        Status::Created => 1,
        Status::Running => 2,
        Status::Paused => 3,
        Status::Stopped => 4,
    }
}

fn rule(op: Op, status: Status) -> Rule {
    TABLE
        .iter()
        .find(|(o, _)| *o == op)
        .map_or(Allow, |(_, row)| row[column(status)])
}

/// Whether `op` holds the state directory's lock: the operations that
/// change the container (or must not overlap a `create` or `delete`);
/// `kill`, `exec`, `events` and `state` only read it and never wait for
/// the lock.
pub fn locks(op: Op) -> bool {
    matches!(
        op,
        Op::Start | Op::Delete | Op::DeleteForce | Op::Pause | Op::Resume | Op::Update
    )
}

/// Whether `op` is allowed on a container in `status`.
pub fn allows(op: Op, status: Status) -> bool {
    rule(op, status) == Allow
}

/// `Ok` if `op` is allowed on container `id` in `status`; otherwise the
/// error with runc's words.
pub fn check(op: Op, status: Status, id: &str) -> Result<(), HuskError> {
    let wrong = |m: &str| Err(HuskError::WrongState(m.to_string()));
    match rule(op, status) {
        Allow => Ok(()),
        NotRunning => Err(HuskError::NotRunning(id.to_string())),
        StartStopped => wrong("cannot start a container that has stopped"),
        StartRunning => wrong("cannot start an already running container"),
        StartCreating => wrong("cannot start a container that is being created"),
        NotStopped => wrong(&format!(
            "cannot delete container {id} that is not stopped: {status}"
        )),
        CannotPause => wrong(&format!("container {id} is {status}: cannot pause it")),
        NotPaused => wrong(&format!("container {id} is not paused")),
        ExecPaused => wrong("cannot exec in a paused container (use --ignore-paused to override)"),
        ExecStopped => wrong(&format!(
            "cannot exec in a stopped container {id}: container not running"
        )),
        EventsStopped => wrong(&format!("container with id {id} is not running")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 5] = [
        Status::Creating,
        Status::Created,
        Status::Running,
        Status::Paused,
        Status::Stopped,
    ];

    /// The error line for `op` on container "c1" in `s`, or None if allowed.
    fn words(op: Op, s: Status) -> Option<String> {
        check(op, s, "c1").err().map(|e| e.to_string())
    }

    /// Assert the row of `op`: for each status in ALL's order, None
    /// (allowed) or the exact error line.
    fn row(op: Op, want: [Option<&str>; 5]) {
        for (s, w) in ALL.into_iter().zip(want) {
            assert_eq!(words(op, s).as_deref(), w, "{op:?} in {s}");
            assert_eq!(allows(op, s), w.is_none(), "{op:?} in {s}");
        }
    }

    const NOT_RUNNING: Option<&str> = Some("container c1 is not running: container not running");

    #[test]
    fn every_operation_has_one_row() {
        for (i, (op, _)) in TABLE.iter().enumerate() {
            assert!(TABLE[i + 1..].iter().all(|(o, _)| o != op), "{op:?} twice");
        }
    }

    #[test]
    fn start_only_a_created_container() {
        row(
            Op::Start,
            [
                Some("cannot start a container that is being created"),
                None,
                Some("cannot start an already running container"),
                Some("cannot start an already running container"),
                Some("cannot start a container that has stopped"),
            ],
        );
    }

    #[test]
    fn kill_needs_a_live_init() {
        row(Op::Kill, [NOT_RUNNING, None, None, None, NOT_RUNNING]);
    }

    #[test]
    fn kill_all_in_any_status() {
        row(Op::KillAll, [None; 5]);
    }

    #[test]
    fn delete_refuses_a_running_or_paused_container() {
        row(
            Op::Delete,
            [
                None,
                None,
                Some("cannot delete container c1 that is not stopped: running"),
                Some("cannot delete container c1 that is not stopped: paused"),
                None,
            ],
        );
    }

    #[test]
    fn delete_force_in_any_status() {
        row(Op::DeleteForce, [None; 5]);
    }

    #[test]
    fn pause_a_created_or_running_container() {
        row(
            Op::Pause,
            [
                Some("container c1 is creating: cannot pause it"),
                None,
                None,
                Some("container c1 is paused: cannot pause it"),
                NOT_RUNNING,
            ],
        );
    }

    #[test]
    fn resume_only_a_paused_container() {
        let not_paused = Some("container c1 is not paused");
        row(
            Op::Resume,
            [not_paused, not_paused, not_paused, None, NOT_RUNNING],
        );
    }

    #[test]
    fn exec_in_a_created_or_running_container() {
        let stopped = Some("cannot exec in a stopped container c1: container not running");
        row(
            Op::Exec,
            [
                stopped,
                None,
                None,
                Some("cannot exec in a paused container (use --ignore-paused to override)"),
                stopped,
            ],
        );
    }

    #[test]
    fn exec_ignore_paused_also_in_a_paused_one() {
        let stopped = Some("cannot exec in a stopped container c1: container not running");
        row(Op::ExecIgnorePaused, [stopped, None, None, None, stopped]);
    }

    #[test]
    fn update_needs_a_live_container() {
        row(Op::Update, [NOT_RUNNING, None, None, None, NOT_RUNNING]);
    }

    #[test]
    fn events_of_anything_but_a_stopped_container() {
        row(
            Op::Events,
            [
                None,
                None,
                None,
                None,
                Some("container with id c1 is not running"),
            ],
        );
    }

    #[test]
    fn only_the_operations_that_change_a_container_lock_it() {
        for op in [
            Op::Start,
            Op::Delete,
            Op::DeleteForce,
            Op::Pause,
            Op::Resume,
            Op::Update,
        ] {
            assert!(locks(op), "{op:?}");
        }
        for op in [
            Op::Kill,
            Op::KillAll,
            Op::Exec,
            Op::ExecIgnorePaused,
            Op::Events,
            Op::State,
        ] {
            assert!(!locks(op), "{op:?}");
        }
    }

    #[test]
    fn state_in_any_status() {
        row(Op::State, [None; 5]);
    }

    #[test]
    fn containerd_words_for_a_stopped_container() {
        // containerd's checkKillError and go-runc match these words.
        for op in [Op::Kill, Op::Pause, Op::Resume, Op::Update] {
            let w = words(op, Status::Stopped).unwrap();
            assert!(w.contains("container not running"), "{op:?}: {w}");
        }
        let w = words(Op::Exec, Status::Stopped).unwrap();
        assert!(w.contains("container not running"), "{w}");
        let w = words(Op::Delete, Status::Running).unwrap();
        assert!(w.contains("not stopped"), "{w}");
    }

    #[test]
    fn refusals_are_the_sentinel_errors() {
        assert!(matches!(
            check(Op::Kill, Status::Stopped, "x"),
            Err(HuskError::NotRunning(id)) if id == "x"
        ));
        assert!(matches!(
            check(Op::Start, Status::Running, "x"),
            Err(HuskError::WrongState(_))
        ));
        assert!(matches!(
            check(Op::Resume, Status::Stopped, "x"),
            Err(HuskError::NotRunning(_))
        ));
    }

    #[test]
    fn the_id_is_named_as_given() {
        let w = words(Op::Delete, Status::Paused).unwrap();
        assert_eq!(w, "cannot delete container c1 that is not stopped: paused");
        let e = check(Op::Pause, Status::Paused, "a.b_c-1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "container a.b_c-1 is paused: cannot pause it"
        );
    }

    #[test]
    fn only_created_and_running_allow_every_process_operation() {
        for op in [Op::Kill, Op::Exec, Op::Update, Op::Pause] {
            for s in ALL {
                let live = matches!(s, Status::Created | Status::Running);
                if live {
                    assert!(allows(op, s), "{op:?} in {s}");
                }
            }
            assert!(!allows(op, Status::Stopped), "{op:?} when stopped");
            assert!(!allows(op, Status::Creating), "{op:?} when creating");
        }
    }
}

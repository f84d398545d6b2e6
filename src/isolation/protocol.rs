//! What crosses the pipes between the caller, the launcher and the sandbox's pid 1.
//!
//! The caller sends one [`super::SandboxPlan`] as JSON, preceded by its length (eight
//! bytes, little-endian); the launcher answers with JSON lines of [`LauncherEvent`]. After
//! the plan the caller may send one-byte requests (stop gracefully, stop now); the end of
//! the channel, when the caller exits or drops its handle, stops the sandbox too. Inside, a failed setup step is reported as a
//! [`SetupFailure`] on a close-on-exec pipe; end-of-file on that pipe means `execve`
//! succeeded.

use serde::{Deserialize, Serialize};

use super::report::SandboxReport;

/// The descriptor number the launcher finds its channel on.
pub const LAUNCHER_FD: i32 = 3;

/// The first descriptor number of those passed along to the agent (pinned files).
pub const FIRST_PASSED_FD: i32 = 4;

/// The first argument that turns the binary into the launcher.
pub const LAUNCHER_ARG: &str = "__mycelium_launcher";

/// The longest plan a launcher accepts (a task passed in the environment is part of it).
pub const MAX_PLAN_BYTES: u64 = 64 << 20;

/// A setup step that failed inside the sandbox (or in the launcher).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{step}: {detail}")]
pub struct SetupFailure {
    /// The step, such as `mount /usr` or `execve`.
    pub step: String,
    /// The kernel's error number (0 when not a system call).
    pub errno: i32,
    /// The full message.
    pub detail: String,
}

impl SetupFailure {
    /// A failure of `step`: what happened, and the kernel's error number (0 when not a
    /// system call).
    #[must_use]
    pub fn new(step: &str, detail: String, errno: i32) -> Self {
        SetupFailure {
            step: step.into(),
            errno,
            detail,
        }
    }
}

/// A message from the launcher to the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LauncherEvent {
    /// The command is running; what was applied.
    Started {
        /// The layers applied.
        report: Box<SandboxReport>,
        /// pid 1 of the sandbox, in the launcher's pid namespace.
        init_pid: i32,
    },
    /// Setup failed; nothing of the command ran.
    Failed {
        /// What failed.
        failure: SetupFailure,
    },
    /// The sandbox ended.
    Exited {
        /// How.
        status: super::SandboxStatus,
    },
}

//! How a sandbox's end becomes a workflow's status.

use crate::isolation::SandboxStatus;
use crate::state::WorkflowStatus;

/// The workflow status, exit code and error for a sandbox that ended as `status`;
/// `cancelled` when someone asked it to stop. `completed` is exit 0 alone; a non-zero exit,
/// a signal, a stop nobody asked for and a setup failure are `failed`, with the reason.
#[must_use]
pub fn classify(
    status: &SandboxStatus,
    cancelled: bool,
) -> (WorkflowStatus, Option<i32>, Option<String>) {
    match status {
        SandboxStatus::Exited { code: 0 } => (WorkflowStatus::Completed, Some(0), None),
        SandboxStatus::Exited { code } => (
            WorkflowStatus::Failed,
            Some(*code),
            Some(format!("the agent exited with code {code}")),
        ),
        SandboxStatus::Signaled { signal } => {
            let name = nix::sys::signal::Signal::try_from(*signal)
                .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_owned());
            (
                WorkflowStatus::Failed,
                Some(128 + signal),
                Some(format!("the agent was killed by {name}")),
            )
        }
        SandboxStatus::TimedOut { after } => (
            WorkflowStatus::TimedOut,
            None,
            Some(format!(
                "timed out after {} ([agent] timeout); the sandbox was stopped",
                crate::policy::format_duration(*after)
            )),
        ),
        SandboxStatus::Stopped if cancelled => (
            WorkflowStatus::Cancelled,
            None,
            Some("cancelled on request".into()),
        ),
        SandboxStatus::Stopped => (
            WorkflowStatus::Failed,
            None,
            Some("the sandbox was stopped".into()),
        ),
        SandboxStatus::SetupFailed { failure } => (
            WorkflowStatus::Failed,
            None,
            Some(format!(
                "sandbox setup failed at {}: {}",
                failure.step, failure.detail
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isolation::SetupFailure;
    use std::time::Duration;

    #[test]
    fn every_end_has_one_status() {
        let c = |s, cancelled| classify(&s, cancelled);
        assert_eq!(
            c(SandboxStatus::Exited { code: 0 }, false),
            (WorkflowStatus::Completed, Some(0), None)
        );
        assert_eq!(
            c(SandboxStatus::Exited { code: 3 }, false).0,
            WorkflowStatus::Failed
        );
        assert_eq!(
            c(SandboxStatus::Signaled { signal: 9 }, false),
            (
                WorkflowStatus::Failed,
                Some(137),
                Some("the agent was killed by SIGKILL".into())
            )
        );
        assert_eq!(
            c(
                SandboxStatus::TimedOut {
                    after: Duration::from_secs(1)
                },
                true
            )
            .0,
            WorkflowStatus::TimedOut
        );
        assert_eq!(c(SandboxStatus::Stopped, true).0, WorkflowStatus::Cancelled);
        assert_eq!(c(SandboxStatus::Stopped, false).0, WorkflowStatus::Failed);
        let failure = SetupFailure::new("execve", "execve: No such file".into(), 2);
        assert_eq!(
            c(SandboxStatus::SetupFailed { failure }, false).2,
            Some("sandbox setup failed at execve: execve: No such file".into())
        );
    }
}

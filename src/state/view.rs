//! The public view of a workflow: the fields a reader outside mycelium is shown
//! (`mycelium status --json`, `mycelium workflows --json`, and later the MCP server).
//!
//! It leaves out what only the executor needs (owner, lease, output byte count) and the
//! task text. Times are RFC 3339 UTC strings, exactly as the store keeps them; absent
//! values are JSON `null`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{WorkflowRecord, format_time};
use crate::policy::RiskLevel;

/// One workflow as shown to readers.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WorkflowView {
    /// 32 lowercase hexadecimal digits.
    pub workflow_id: String,
    /// `pending`, `running`, `completed`, `failed`, `cancelled` or `timed_out`.
    pub status: &'static str,
    /// The agent's name.
    pub agent_name: String,
    /// When it was recorded.
    pub created_at: String,
    /// When its sandbox started.
    pub started_at: Option<String>,
    /// When it ended.
    pub completed_at: Option<String>,
    /// The agent's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The sanitized tail of the output (the last 64 KiB), once it ended.
    pub result: Option<String>,
    /// Whether output was dropped.
    pub truncated: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// Redactions per sanitizer rule.
    pub redactions: BTreeMap<String, u64>,
    /// The sandbox report (`null` until it ends).
    pub layers: serde_json::Value,
    /// The agent's computed risk.
    pub risk_level: RiskLevel,
    /// The consent checksum.
    pub checksum: String,
}

impl From<&WorkflowRecord> for WorkflowView {
    fn from(r: &WorkflowRecord) -> Self {
        WorkflowView {
            workflow_id: r.workflow_id.to_string(),
            status: r.status.as_str(),
            agent_name: r.agent_name.clone(),
            created_at: format_time(r.created_at),
            started_at: r.started_at.map(format_time),
            completed_at: r.completed_at.map(format_time),
            exit_code: r.exit_code,
            result: r.result.clone(),
            truncated: r.truncated,
            error: r.error.clone(),
            redactions: r.redactions.clone(),
            layers: r.layers.clone(),
            risk_level: r.risk_level,
            checksum: r.checksum.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{NewWorkflow, WorkflowId};

    #[test]
    fn a_pending_record_shows_nulls_and_never_its_task() {
        let id = WorkflowId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let created: jiff::Timestamp = "2026-12-04T20:58:00.123456Z".parse().unwrap();
        let new = NewWorkflow {
            agent_name: "echo".to_owned(),
            task: "the task text".to_owned(),
            risk_level: RiskLevel::High,
            checksum: "sha256:abcd".to_owned(),
        };
        let mut record = WorkflowRecord::pending(id, &new, created);
        record.cancel_requested = true;
        let json = serde_json::to_value(WorkflowView::from(&record)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "workflow_id": "0123456789abcdef0123456789abcdef",
                "status": "pending",
                "agent_name": "echo",
                "created_at": "2026-12-04T20:58:00.123456Z",
                "started_at": null,
                "completed_at": null,
                "exit_code": null,
                "result": null,
                "truncated": false,
                "error": null,
                "redactions": {},
                "layers": null,
                "risk_level": "high",
                "checksum": "sha256:abcd",
            })
        );
    }
}

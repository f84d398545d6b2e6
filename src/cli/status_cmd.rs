//! `mycelium status ID [--json]`: one workflow's record.

use std::fmt::Write as _;

use anyhow::Result;

use super::args::StatusArgs;
use super::{exit, get_workflow, open_store_settled};
use crate::state::{WorkflowRecord, WorkflowView};

pub(super) fn run(args: &StatusArgs, redis: Option<&str>) -> Result<i32> {
    let store = open_store_settled(redis)?;
    let record = get_workflow(&*store, args.id)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&WorkflowView::from(&record))?
        );
    } else {
        print!("{}", human(&record));
    }
    Ok(exit::OK)
}

/// The record as aligned `label  value` lines, then the result tail.
fn human(r: &WorkflowRecord) -> String {
    let time = |t: Option<&str>| t.unwrap_or("-").to_owned();
    let view = WorkflowView::from(r);
    let redactions = if r.redactions.is_empty() {
        "none".to_owned()
    } else {
        r.redactions
            .iter()
            .map(|(rule, n)| format!("{rule} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = vec![
        ("workflow", view.workflow_id.clone()),
        ("agent", r.agent_name.clone()),
        ("status", r.status.to_string()),
        ("risk", r.risk_level.as_str().to_owned()),
        ("created", view.created_at.clone()),
        ("started", time(view.started_at.as_deref())),
        ("completed", time(view.completed_at.as_deref())),
        (
            "exit code",
            r.exit_code.map_or("-".to_owned(), |c| c.to_string()),
        ),
        ("error", r.error.clone().unwrap_or_else(|| "-".to_owned())),
        (
            "truncated",
            if r.truncated {
                "yes: output was dropped; the result is its tail".to_owned()
            } else {
                "no".to_owned()
            },
        ),
        ("redactions", redactions),
    ];
    if r.cancel_requested && !r.status.is_terminal() {
        lines.push(("cancel", "requested".to_owned()));
    }
    let mut out = String::new();
    for (label, value) in lines {
        let _ = writeln!(out, "{label:<11} {value}");
    }
    if let Some(result) = r.result.as_deref().filter(|t| !t.is_empty()) {
        let _ = write!(out, "\nresult (sanitized tail):\n{result}");
        if !result.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

//! `mycelium workflows [--status S] [--limit N] [--json]`: recent workflows, newest first.

use std::fmt::Write as _;

use anyhow::Result;

use super::args::WorkflowsArgs;
use super::{exit, open_store_settled};
use crate::state::{ListFilter, WorkflowRecord, WorkflowView};

pub(super) fn run(args: &WorkflowsArgs, redis: Option<&str>) -> Result<i32> {
    let store = open_store_settled(redis)?;
    let records = store.list(&ListFilter {
        status: args.status,
        limit: usize::try_from(args.limit).unwrap_or(usize::MAX),
    })?;
    if args.json {
        let views: Vec<WorkflowView> = records.iter().map(WorkflowView::from).collect();
        println!("{}", serde_json::to_string_pretty(&views)?);
    } else if records.is_empty() {
        match args.status {
            Some(status) => println!("no {status} workflows"),
            None => println!("no workflows"),
        }
    } else {
        print!("{}", table(&records));
    }
    Ok(exit::OK)
}

/// One line per record under a header; created to the second, in UTC.
fn table(records: &[WorkflowRecord]) -> String {
    let rows: Vec<[String; 5]> = records
        .iter()
        .map(|r| {
            [
                r.workflow_id.to_string(),
                r.agent_name.clone(),
                r.status.to_string(),
                r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                r.exit_code.map_or("-".to_owned(), |c| c.to_string()),
            ]
        })
        .collect();
    let header = ["ID", "AGENT", "STATUS", "CREATED", "EXIT"].map(str::to_owned);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let [id, agent, status, created, code] = row;
        let _ = writeln!(
            out,
            "{id:<w0$}  {agent:<w1$}  {status:<w2$}  {created:<w3$}  {code}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
    }
    out
}

//! `mycelium agents`: the agents on the search path, their risk and consent state.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::args::AgentsArgs;
use super::consent_cmd::manager;
use super::{exit, load_options, search_path};
use crate::consent::catalog::catalog;
use crate::policy::RiskLevel;
use crate::registry::Checksum;

/// One row, as `--json` prints it.
#[derive(Serialize)]
struct Row {
    name: String,
    description: Option<String>,
    policy: String,
    definition: Option<String>,
    risk: Option<RiskLevel>,
    checksum: Option<Checksum>,
    /// `granted`, `not-required`, `missing`, `changed`, `expired`, `denied`, or `unknown`
    /// when the agent or the store could not be read.
    consent: String,
    error: Option<String>,
}

pub(super) fn run(args: &AgentsArgs, policies: Option<&Path>) -> Result<i32> {
    let search = search_path(policies);
    let listing = catalog(&search, &load_options(policies), &manager()?)?;
    for s in &listing.discovery.skipped {
        eprintln!("mycelium: skipped {}: {}", s.path.display(), s.reason);
    }
    // A clash makes its name unusable, not the listing: the rest is listed, the clash is
    // reported, and the exit code says something needs fixing.
    for d in &listing.discovery.duplicates {
        eprintln!("mycelium: error: {}", d.error());
    }
    // A damaged store is reported, never taken as empty.
    if let Some(e) = &listing.store_error {
        eprintln!("mycelium: error: {e}");
    }
    let mut code = if listing.store_error.is_none() && listing.discovery.duplicates.is_empty() {
        exit::OK
    } else {
        exit::FAILURE
    };
    let mut rows = Vec::new();
    for listed in listing.agents {
        let mut row = Row {
            name: listed.entry.name.clone(),
            description: None,
            policy: listed.entry.policy_path.display().to_string(),
            definition: None,
            risk: None,
            checksum: None,
            consent: "unknown".into(),
            error: None,
        };
        match listed.agent {
            Ok(agent) => {
                row.description = agent.description;
                row.definition = agent.definition.map(|d| d.display().to_string());
                row.risk = Some(agent.risk.level);
                row.checksum = Some(agent.checksum);
                row.consent = agent.consent.into();
            }
            Err(e) => {
                code = exit::FAILURE;
                row.error = Some(e);
            }
        }
        rows.push(row);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(code);
    }
    if rows.is_empty() {
        println!(
            "no agents found in {}",
            search
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(code);
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:width$}  {:7}  {:12}  DESCRIPTION",
        "NAME", "RISK", "CONSENT"
    );
    for r in &rows {
        let risk = r.risk.map_or("invalid", RiskLevel::as_str);
        let desc = match (&r.error, &r.description) {
            (Some(e), _) => e.replace('\n', " | "),
            (None, Some(d)) => d.clone(),
            (None, None) => String::new(),
        };
        println!("{:width$}  {risk:7}  {:12}  {desc}", r.name, r.consent);
    }
    Ok(code)
}

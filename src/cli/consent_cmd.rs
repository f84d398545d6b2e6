//! `mycelium consent grant|check|revoke|deny|list|reset`.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use serde::Serialize;

use super::args::{ConsentCheckArgs, ConsentCommand, GrantArgs, ListArgs, NamesArgs};
use super::{exit, load_options, mycelium_home, search_path};
use crate::consent::manager::when;
use crate::consent::prompt::{self, Answer};
use crate::consent::{ConsentConfig, ConsentManager, Grantor, Status};
use crate::policy::parse_duration;
use crate::registry::{self, Checksum, is_valid_name};

pub(super) fn run(cmd: ConsentCommand, policies: Option<&Path>) -> Result<i32> {
    match cmd {
        ConsentCommand::Grant(args) => grant(&args, policies),
        ConsentCommand::Check(args) => check(&args, policies),
        ConsentCommand::Revoke(args) => revoke(&args),
        ConsentCommand::Deny(args) => deny(&args),
        ConsentCommand::List(args) => list(&args),
        ConsentCommand::Reset => reset(),
    }
}

/// The manager for `$MYCELIUM_HOME`, with `[consent]` from its config.toml.
pub(super) fn manager() -> Result<ConsentManager> {
    let home = mycelium_home();
    Ok(ConsentManager::new(&home, ConsentConfig::load(&home)?))
}

fn grant(args: &GrantArgs, policies: Option<&Path>) -> Result<i32> {
    let duration = match &args.duration {
        None => None,
        Some(text) => match parse_duration(text) {
            Ok(d) if d.is_zero() => bail!("--for {text}: must be longer than zero"),
            Ok(d) => Some(d),
            Err(e) => bail!("--for: {e}"),
        },
    };
    // Checked before anything is loaded: without a terminal there is no one to ask, and
    // waiting on a pipe that never answers would hang a script.
    if !args.yes && !std::io::stdin().is_terminal() {
        eprintln!(
            "mycelium: not granted: standard input is not a terminal, so no one can be asked; run `mycelium consent grant` in a terminal, or add --yes to grant from a script"
        );
        return Ok(exit::FAILURE);
    }
    let manager = manager()?;
    let search = search_path(policies);
    let opts = load_options(policies);
    let mut code = exit::OK;
    for name in &args.agents {
        let entry = registry::find(&search, name)?;
        let agent = registry::load_agent(&entry, &opts)?;
        let status = manager.check(&agent)?;
        if let Status::Denied { .. } = status {
            eprintln!(
                "mycelium: not granted: {}, then run `mycelium consent grant {name}` again",
                status.describe(name)
            );
            code = exit::FAILURE;
            continue;
        }
        let banner = prompt::banner(&agent, &status);
        if args.yes {
            eprint!("{banner}");
            eprintln!("--yes given: granting without asking");
        } else {
            let answer = prompt::ask(std::io::stdin().lock(), std::io::stderr(), &banner)?;
            if answer != Answer::Yes {
                let why = if answer == Answer::EndOfInput {
                    "input ended before an answer"
                } else {
                    "the answer was not yes"
                };
                eprintln!("not granted: {why}; nothing was recorded for {name}");
                code = exit::FAILURE;
                continue;
            }
        }
        let record = manager.grant(&agent, duration, Grantor::current())?;
        println!(
            "granted {name} {}{}",
            record.checksum,
            record
                .expires_at
                .map(|e| format!(" until {}", when(e)))
                .unwrap_or_default()
        );
    }
    Ok(code)
}

/// `consent check --json`.
#[derive(Serialize)]
struct CheckOutput<'a> {
    agent: &'a str,
    checksum: Checksum,
    /// The files the checksum covers, in the order they are hashed.
    policy: &'a Path,
    definition: Option<&'a Path>,
    pins: Vec<&'a Path>,
    allowed: bool,
    status: &'a Status,
}

fn check(args: &ConsentCheckArgs, policies: Option<&Path>) -> Result<i32> {
    let manager = manager()?;
    let entry = registry::find(&search_path(policies), &args.agent)?;
    let agent = registry::load_agent(&entry, &load_options(policies))?;
    let status = manager.check(&agent)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&CheckOutput {
                agent: &agent.name,
                checksum: agent.checksum,
                policy: &agent.policy.path,
                definition: agent.definition.as_ref().map(|d| d.path.as_path()),
                pins: agent.pins.iter().map(|p| p.path.as_path()).collect(),
                allowed: status.allows_run(),
                status: &status,
            })?
        );
    }
    eprintln!("{}", status.describe(&agent.name));
    Ok(if status.allows_run() {
        exit::OK
    } else {
        exit::FAILURE
    })
}

fn valid_names(names: &[String]) -> Result<()> {
    match names.iter().find(|n| !is_valid_name(n)) {
        Some(bad) => Err(anyhow!(registry::RegistryError::BadName {
            name: bad.clone()
        })),
        None => Ok(()),
    }
}

fn revoke(args: &NamesArgs) -> Result<i32> {
    valid_names(&args.agents)?;
    let manager = manager()?;
    for name in &args.agents {
        let r = manager.revoke(name)?;
        match (r.grant, r.denial) {
            (false, false) => println!("{name}: no consent or denial on record"),
            (true, false) => println!("{name}: consent revoked"),
            (false, true) => println!("{name}: denial lifted; it will be asked about again"),
            (true, true) => println!("{name}: consent revoked and denial lifted"),
        }
    }
    Ok(exit::OK)
}

fn deny(args: &NamesArgs) -> Result<i32> {
    valid_names(&args.agents)?;
    let manager = manager()?;
    for name in &args.agents {
        manager.deny(name, Grantor::current())?;
        println!(
            "{name}: denied; it will not run, and cannot be granted, until `mycelium consent revoke {name}`"
        );
    }
    Ok(exit::OK)
}

fn list(args: &ListArgs) -> Result<i32> {
    let manager = manager()?;
    let data = manager.list()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&data)?);
        return Ok(exit::OK);
    }
    if data.consents.is_empty() && data.denials.is_empty() {
        println!("no consent recorded in {}", manager.store_path().display());
        return Ok(exit::OK);
    }
    let now = jiff::Timestamp::now();
    for r in data.consents.values() {
        let expiry = match r.expires_at {
            None => String::new(),
            Some(e) if e <= now => format!(", expired {}", when(e)),
            Some(e) => format!(", expires {}", when(e)),
        };
        println!(
            "{}  granted  risk {}  {}  by {} (uid {}) {}{expiry}",
            r.agent,
            r.risk.level,
            r.checksum,
            r.granted_by.user,
            r.granted_by.uid,
            when(r.granted_at)
        );
    }
    for d in data.denials.values() {
        println!(
            "{}  denied  by {} (uid {}) {}",
            d.agent,
            d.denied_by.user,
            d.denied_by.uid,
            when(d.denied_at)
        );
    }
    Ok(exit::OK)
}

fn reset() -> Result<i32> {
    let manager = manager()?;
    match manager.reset()? {
        Some(aside) => println!(
            "moved {} to {}; no agent has consent now",
            manager.store_path().display(),
            aside.display()
        ),
        None => println!("no consent store at {}", manager.store_path().display()),
    }
    Ok(exit::OK)
}

//! `mycelium run`: start an agent by name, with consent, confined by its policy.
//!
//! The agent's files are read once (`registry::load_agent`): the policy bytes that were
//! hashed are the ones parsed, and every pinned file is executed from a sealed in-memory copy
//! of exactly the bytes that were hashed, passed into the sandbox as a descriptor — a file
//! swapped or rewritten after the consent check is never what runs.

use std::io::{IsTerminal, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;

use anyhow::{Result, bail};

use super::args::RunArgs;
use super::consent_cmd::manager;
use super::{exit, load_options, search_path};
use crate::consent::prompt::{self, Answer};
use crate::consent::{Grantor, Status};
use crate::isolation::{self, IsolationError, protocol::FIRST_PASSED_FD};
use crate::policy::TaskMode;
use crate::registry;

pub(super) fn run(args: RunArgs, policies: Option<&std::path::Path>) -> Result<i32> {
    let opts = load_options(policies);
    let entry = registry::find(&search_path(policies), &args.agent)?;
    let agent = registry::load_agent(&entry, &opts)?;
    let name = &agent.name;
    if agent.policy.agent.command.is_empty() {
        bail!(
            "{name}: its policy has no [agent] command; add one, or run a command with `mycelium exec --policy {}`",
            entry.policy_path.display()
        );
    }

    let manager = manager()?;
    let status = manager.check(&agent)?;
    if !status.allows_run() {
        let interactive =
            std::io::stdin().is_terminal() && !matches!(status, Status::Denied { .. });
        if !interactive {
            eprintln!("mycelium: {}", status.describe(name));
            eprintln!(
                "mycelium: not run; grant consent in a terminal with `mycelium consent grant {name}`"
            );
            return Ok(exit::FAILURE);
        }
        let banner = prompt::banner(&agent, &status);
        if prompt::ask(std::io::stdin().lock(), std::io::stderr(), &banner)? != Answer::Yes {
            eprintln!("mycelium: not granted; {name} was not run");
            return Ok(exit::FAILURE);
        }
        manager.grant(&agent, None, Grantor::current())?;
    }

    // Pinned files go in as sealed copies at FIRST_PASSED_FD, +1, …: the program itself
    // is executed from its descriptor, and a pinned script named in the arguments is read
    // through /proc/self/fd.
    let mut passed: Vec<OwnedFd> = Vec::new();
    let mut argv = agent.policy.agent.command.clone();
    let mut exec_fd = None;
    for pin in &agent.pins {
        let used_as_program = argv[0] == pin.path.to_string_lossy();
        let used_as_arg: Vec<usize> = argv
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, a)| **a == pin.path.to_string_lossy())
            .map(|(i, _)| i)
            .collect();
        if !used_as_program && used_as_arg.is_empty() {
            continue;
        }
        let fd_num =
            FIRST_PASSED_FD + i32::try_from(passed.len()).unwrap_or(i32::MAX - FIRST_PASSED_FD);
        passed.push(pin.sealed_copy()?);
        if used_as_program {
            exec_fd = Some(fd_num);
        }
        for i in used_as_arg {
            argv[i] = format!("/proc/self/fd/{fd_num}");
        }
    }
    let mut caller: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let task = args.task.clone();
    match (agent.policy.agent.task, &task) {
        (TaskMode::Arg, Some(t)) => argv.push(t.clone()),
        (TaskMode::Env, Some(t)) => caller.push(("MYCELIUM_TASK".into(), t.clone())),
        _ => {}
    }
    let mut prepared = match isolation::prepare(
        &agent.policy,
        args.workspace.as_deref(),
        argv,
        caller.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ) {
        Ok(p) => p,
        Err(e) => return Ok(report_error(&e)),
    };
    if agent.policy.agent.task == TaskMode::Env
        && let Some(t) = &task
    {
        prepared.plan.env.insert("MYCELIUM_TASK".into(), t.clone());
    }
    prepared.plan.passed_fds = u32::try_from(passed.len()).unwrap_or(u32::MAX);
    prepared.plan.exec_fd = exec_fd;

    let stdin_task = agent.policy.agent.task == TaskMode::Stdin && task.is_some();
    let stdin = if stdin_task {
        Stdio::piped()
    } else {
        Stdio::inherit()
    };
    let forwarder = isolation::SignalForwarder::install()?;
    let mut sandbox = match isolation::launch_with_fds(
        &prepared.plan,
        stdin,
        Stdio::inherit(),
        Stdio::inherit(),
        &passed,
    ) {
        Ok(s) => s,
        Err(e) => return Ok(report_error(&e)),
    };
    drop(passed);
    if stdin_task && let (Some(mut pipe), Some(t)) = (sandbox.take_stdin(), &task) {
        // An agent that exits without reading its task is not an error of ours.
        let _ = pipe.write_all(t.as_bytes());
    }
    if let Err(e) = sandbox.wait_started() {
        return Ok(report_error(&e));
    }
    match sandbox.wait_forwarding_signals(&forwarder) {
        Ok(code) => Ok(code),
        Err(e) => Ok(report_error(&e)),
    }
}

fn report_error(e: &IsolationError) -> i32 {
    super::exec_cmd::report_error(e)
}

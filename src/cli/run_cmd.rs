//! `mycelium run`: start an agent by name, with consent, confined by its policy.
//!
//! The agent's files are read once (`registry::load_agent`): the policy bytes that were
//! hashed are the ones parsed, and every pinned file is executed from a sealed in-memory copy
//! of exactly the bytes that were hashed, passed into the sandbox as a descriptor — a file
//! swapped or rewritten after the consent check is never what runs. Everything the agent
//! prints goes through the output sanitizer, with this run's withheld secrets as literals.

use std::io::{IsTerminal, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use anyhow::{Result, bail};

use super::args::RunArgs;
use super::consent_cmd::manager;
use super::{exit, load_options, search_path};
use crate::consent::prompt::{self, Answer};
use crate::consent::{Grantor, Status};
use crate::isolation::pty::{self, Terminal};
use crate::isolation::{self, Io, IsolationError, protocol::FIRST_PASSED_FD};
use crate::policy::TaskMode;
use crate::registry;
use crate::sanitize::{OutputSanitizer, Redactions};

pub(super) fn run(args: RunArgs, policies: Option<&std::path::Path>) -> Result<i32> {
    let opts = load_options(policies);
    // Nothing runs when the name, the agent's files or its policy are wrong: 125.
    let entry = match registry::find(&search_path(policies), &args.agent) {
        Ok(e) => e,
        Err(e) => return Ok(not_run(e, exit::SANDBOX)),
    };
    let agent = match registry::load_agent(&entry, &opts) {
        Ok(a) => a,
        Err(e) => return Ok(not_run(e, exit::SANDBOX)),
    };
    let name = &agent.name;
    if agent.policy.agent.command.is_empty() {
        return Ok(not_run(
            anyhow::anyhow!(
                "{name}: its policy has no [agent] command; add one, or run a command with `mycelium exec --policy {}`",
                entry.policy_path.display()
            ),
            exit::SANDBOX,
        ));
    }

    // Consent that is missing, refused or unreadable: 77.
    if let Err(e) = ensure_consent(&agent) {
        return Ok(not_run(e, exit::CONSENT));
    }
    match launch(&args, &agent, &opts) {
        Ok(code) => Ok(code),
        Err(e) => Ok(not_run(e, exit::SANDBOX)),
    }
}

/// Print why nothing ran; the exit code that says so.
fn not_run(e: impl Into<anyhow::Error>, code: i32) -> i32 {
    eprintln!("mycelium: error: {:#}", e.into());
    code
}

/// The agent may run: its consent is valid or not needed, or a person at this terminal
/// grants it now.
///
/// # Errors
/// Why it may not, with what to do about it.
fn ensure_consent(agent: &registry::LoadedAgent) -> Result<()> {
    let name = &agent.name;
    let manager = manager()?;
    let status = manager.check(agent)?;
    if status.allows_run() {
        return Ok(());
    }
    let denied = matches!(status, Status::Denied { .. });
    if denied || !std::io::stdin().is_terminal() {
        eprintln!("mycelium: {}", status.describe(name));
        if denied {
            // `consent grant` refuses a denied agent: the denial must be lifted first.
            bail!(
                "{name} was not run: it is denied; `mycelium consent revoke {name}` lifts the denial, after which `mycelium consent grant {name}` (or `run` in a terminal) asks for consent again"
            );
        }
        bail!(
            "{name} was not run: grant consent in a terminal with `mycelium consent grant {name}` (from a script: `mycelium consent grant --yes {name}`)"
        );
    }
    let banner = prompt::banner(agent, &status);
    if prompt::ask(std::io::stdin().lock(), std::io::stderr(), &banner)? != Answer::Yes {
        bail!("not granted; {name} was not run");
    }
    manager.grant(agent, None, Grantor::current())?;
    Ok(())
}

/// Start the consented agent and wait for it; its exit code.
///
/// # Errors
/// A failure before the agent could start (its pinned files, the sanitizer's rules).
fn launch(
    args: &RunArgs,
    agent: &registry::LoadedAgent,
    opts: &crate::policy::LoadOptions,
) -> Result<i32> {
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
    let caller = super::caller_env();
    let task = args.task.clone();
    if let (TaskMode::Arg, Some(t)) = (agent.policy.agent.task, &task) {
        argv.push(t.clone());
    }
    let mut prepared = match isolation::prepare_with(
        &agent.policy,
        args.workspace.as_deref(),
        &opts.protected,
        argv,
        caller.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &args.overrides.to_overrides(),
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

    // Everything the agent prints reaches us only through the sanitizer, with the withheld
    // secret values of this run as literals.
    let sanitizer = Arc::new(build_sanitizer(&prepared.env.withheld)?);

    let stdin_task = agent.policy.agent.task == TaskMode::Stdin && task.is_some();
    let stdin = if stdin_task { Io::Piped } else { Io::Inherit };
    // The agent never gets the caller's terminal: streams that are terminals get one of
    // the sandbox's own, whose output is sanitized like the pipes'. Dropping `terminal`
    // restores the caller's.
    let mut ttys = pty::caller_terminals();
    ttys[0] &= !stdin_task;
    let mut terminal = match Terminal::open(ttys) {
        Ok(t) => t,
        Err(e) => return Ok(report_error(&e)),
    };
    if let Some(t) = &terminal {
        t.prepare(&mut prepared.plan);
    }
    let io = |i, otherwise| match &terminal {
        Some(t) => t.io(i, otherwise),
        None => otherwise,
    };
    let forwarder = isolation::SignalForwarder::install()?;
    let mut sandbox = match isolation::launch_with_fds(
        &prepared.plan,
        io(0, stdin),
        io(1, Io::Piped),
        io(2, Io::Piped),
        &passed,
    ) {
        Ok(s) => s,
        Err(e) => return Ok(report_error(&e)),
    };
    drop(passed);
    let mut terminal_pump = None;
    if let Some(t) = &mut terminal {
        t.release_slave();
        // Raw before any output is relayed: the sandbox's terminal has done the output
        // processing already.
        let relay = t.window_sync().and_then(|w| {
            sandbox.set_window_sync(w);
            t.relay_input()?;
            Ok((t.output()?, t.output_target()?))
        });
        match relay {
            Ok((from, to)) => terminal_pump = Some(pump(from, to, Arc::clone(&sanitizer))),
            Err(e) => return Ok(report_error(&e)),
        }
    }
    if stdin_task && let (Some(mut pipe), Some(t)) = (sandbox.take_stdin(), &task) {
        // An agent that exits without reading its task is not an error of ours.
        let _ = pipe.write_all(t.as_bytes());
    }
    let pumps = [
        sandbox
            .take_stdout()
            .map(|r| pump(r, std::io::stdout(), Arc::clone(&sanitizer))),
        sandbox
            .take_stderr()
            .map(|r| pump(r, std::io::stderr(), Arc::clone(&sanitizer))),
        terminal_pump,
    ];
    let result = match sandbox.wait_started() {
        Ok(_) => sandbox.wait_forwarding_signals(&forwarder),
        Err(e) => Err(e),
    };
    let mut redactions = Redactions::default();
    for p in pumps.into_iter().flatten() {
        if let Ok(r) = p.join() {
            for (id, n) in r.0 {
                *redactions.0.entry(id).or_default() += n;
            }
        }
    }
    // Everything the sandbox wrote has been shown: the caller's terminal is put back.
    drop(terminal);
    if redactions.total() > 0 {
        let list: Vec<String> = redactions
            .0
            .iter()
            .map(|(id, n)| format!("{id}: {n}"))
            .collect();
        eprintln!(
            "mycelium: redacted {} secret(s) from the output ({})",
            redactions.total(),
            list.join(", ")
        );
    }
    match result {
        Ok(end) => Ok(super::exec_cmd::exit_code(&end)),
        Err(e) => Ok(report_error(&e)),
    }
}

/// The built-in rules, the user's `$MYCELIUM_HOME/rules.toml`, and the withheld values.
fn build_sanitizer(withheld: &[crate::isolation::env::Withheld]) -> Result<OutputSanitizer> {
    let mut builder = OutputSanitizer::builder(super::sanitize_cmd::builtin_and_user_rules()?);
    for w in withheld {
        builder.literal(format!("env:{}", w.name), w.value.as_bytes());
    }
    Ok(builder.build()?)
}

/// Copy `from` to `to` through a sanitizing stream; the redaction counts at the end.
fn pump<R: Read + Send + 'static, W: Write + Send + 'static>(
    mut from: R,
    mut to: W,
    sanitizer: Arc<OutputSanitizer>,
) -> std::thread::JoinHandle<Redactions> {
    std::thread::spawn(move || {
        let mut stream = sanitizer.stream();
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::new();
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            out.clear();
            stream.push(&buf[..n], &mut out);
            if to.write_all(&out).and_then(|()| to.flush()).is_err() {
                break;
            }
        }
        out.clear();
        stream.finish(&mut out);
        let _ = to.write_all(&out).and_then(|()| to.flush());
        stream.redactions()
    })
}

fn report_error(e: &IsolationError) -> i32 {
    super::exec_cmd::report_error(e)
}

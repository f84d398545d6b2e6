//! `mycelium run`: start an agent by name, with consent, confined by its policy, as a
//! recorded workflow.
//!
//! The agent's files are read once (`registry::load_agent`): the policy bytes that were
//! hashed are the ones parsed, and every pinned file is executed from a sealed in-memory copy
//! of exactly the bytes that were hashed. Consent is asked here, at the terminal; the run
//! itself is the [`ProcessManager`]'s, on a current-thread runtime so that the sandbox
//! starts from this single-threaded process as `exec`'s does. Everything the agent prints
//! goes through the output sanitizer, to this terminal live and into the workflow store.

use std::io::{IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::args::RunArgs;
use super::consent_cmd::manager;
use super::{exit, load_options, mycelium_home, open_store, search_path};
use crate::consent::prompt::{self, Answer};
use crate::consent::{Grantor, Status};
use crate::isolation::pty::{self, Terminal};
use crate::isolation::{self, SandboxStatus};
use crate::policy::TaskMode;
use crate::process::{
    Attach, DEFAULT_LEASE, Invocation, ManagerConfig, ProcessError, ProcessManager, Starter,
};
use crate::registry;
use crate::state::ProcessSettings;
use crate::state::audit::{AuditLog, StartedBy, Via};

pub(super) fn run(
    mut args: RunArgs,
    policies: Option<&std::path::Path>,
    redis: Option<&str>,
) -> Result<i32> {
    let task_from_stdin = args.task.as_deref() == Some("-");
    if task_from_stdin {
        let mut task = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut task)
            .context("reading the task from standard input")?;
        args.task = Some(task);
    }
    // A context that cannot be given to the agent: nothing runs, 125.
    let context = match args.context.as_deref().map(read_context).transpose() {
        Ok(c) => c,
        Err(e) => return Ok(not_run(e, exit::SANDBOX)),
    };
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
    let name = agent.name.clone();
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
    if args.detach && !args.detached_child {
        return detach(args.task.as_deref().filter(|_| task_from_stdin));
    }
    let detached = args.detached_child;
    let store = match open_store(redis) {
        Ok(s) => Arc::from(s),
        Err(e) => return Ok(not_run(e.context("the workflow store"), exit::FAILURE)),
    };
    let home = mycelium_home();
    let audit = match AuditLog::open(&home) {
        Ok(a) => Some(a),
        Err(e) => return Ok(not_run(e, exit::FAILURE)),
    };
    let settings = match ProcessSettings::load(&home) {
        Ok(s) => s,
        Err(e) => return Ok(not_run(e, exit::FAILURE)),
    };
    let config = ManagerConfig {
        store,
        starter: Starter::Direct,
        consent: manager()?,
        rules: super::sanitize_cmd::builtin_and_user_rules()?,
        audit,
        max_concurrent: 1,
        lease: settings.lease.unwrap_or(DEFAULT_LEASE),
    };

    // The agent never gets the caller's terminal: streams that are terminals get one of
    // the sandbox's own, whose output is sanitized like the pipes'. Dropping it restores
    // the caller's.
    let stdin_task = agent.policy.agent.task == TaskMode::Stdin && args.task.is_some();
    let mut ttys = pty::caller_terminals();
    ttys[0] &= !stdin_task;
    let attach = if detached {
        Attach::default()
    } else {
        let terminal = match Terminal::open(ttys) {
            Ok(t) => t,
            Err(e) => return Ok(super::exec_cmd::report_error(&e)),
        };
        Attach {
            stdout: Some(Box::new(std::io::stdout())),
            stderr: Some(Box::new(std::io::stderr())),
            terminal,
            // Taken before the sandbox starts, so a ^C meanwhile is held and passed on.
            signals: Some(isolation::SignalForwarder::install()?),
        }
    };
    let invocation = Invocation {
        agent,
        task: args.task,
        context,
        workspace: args.workspace,
        protected: opts.protected.clone(),
        overrides: args.overrides.to_overrides(),
        caller_env: super::caller_env(),
        started_by: StartedBy::current(Some(Via::Cli)),
        attach,
    };
    // A current-thread runtime: no other thread exists when the sandbox starts, so it
    // starts from this process directly, as `exec`'s does.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let finished = runtime.block_on(async move {
        let manager = ProcessManager::new(config)?;
        // Workflows whose owner died (killed, host lost) are settled first, and old ones
        // swept: a workflow is never left `running` forever.
        if let Err(e) = manager.housekeeping().await {
            eprintln!("mycelium: warning: {e}");
        }
        let invoked = manager.invoke(invocation).await?;
        if detached {
            // The id is the one line the waiting `run --detach` prints; nobody reads this
            // process's streams after it.
            println!("{}", invoked.workflow_id);
            let _ = std::io::stdout().flush();
            let _ = isolation::detach_standard_streams();
        }
        invoked.finished().await
    });
    let finished = match finished {
        Ok(f) => f,
        Err(ProcessError::Consent { agent, why }) => {
            return Ok(not_run(anyhow::anyhow!("{agent}: {why}"), exit::CONSENT));
        }
        Err(ProcessError::Prepare(e)) => return Ok(super::exec_cmd::report_error(&e)),
        Err(e) => return Ok(not_run(e, exit::SANDBOX)),
    };
    let redactions = &finished.record.redactions;
    let total: u64 = redactions.values().sum();
    if total > 0 {
        let list: Vec<String> = redactions
            .iter()
            .map(|(id, n)| format!("{id}: {n}"))
            .collect();
        eprintln!(
            "mycelium: redacted {total} secret(s) from the output ({})",
            list.join(", ")
        );
    }
    Ok(match (&finished.setup_error, &finished.status) {
        (Some(e), _) => super::exec_cmd::report_error(e),
        (None, SandboxStatus::SetupFailed { failure }) => super::exec_cmd::report_error(
            &crate::isolation::probe::classify_failure(failure.clone()),
        ),
        (None, status) => super::exec_cmd::exit_code(status),
    })
}

/// `run --detach`: start this command again as a background process of its own (a new
/// process group, no terminal, standard input only for a task read from it), print the
/// workflow id it reports and return; its own errors reach standard error before that.
/// `stdin_task`: the task this process read from standard input (`-`), which the child
/// reads from its own.
fn detach(stdin_task: Option<&str>) -> Result<i32> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let piped_task = stdin_task.is_some();
    args.push("--detached-child".into());
    let mut child = std::process::Command::new("/proc/self/exe")
        .args(&args)
        .process_group(0)
        .stdin(if piped_task {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting the background process")?;
    if let (Some(mut stdin), Some(t)) = (child.stdin.take(), stdin_task) {
        stdin.write_all(t.as_bytes())?;
    }
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)?;
    }
    match crate::state::WorkflowId::parse(line.trim_end()) {
        Ok(id) => {
            println!("{id}");
            Ok(exit::OK)
        }
        // It ended before recording a workflow; it said why on standard error.
        Err(_) => Ok(child.wait()?.code().unwrap_or(exit::FAILURE)),
    }
}

/// The JSON of `--context FILE`: a regular file (a FIFO or a device is refused without
/// being read, and opening never waits for a writer) of at most
/// [`isolation::plan::MAX_CONTEXT_BYTES`], parsed as JSON.
///
/// # Errors
/// What is wrong with the file, naming it; for invalid JSON, its line and column.
fn read_context(path: &std::path::Path) -> Result<serde_json::Value> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let max = isolation::plan::MAX_CONTEXT_BYTES;
    let shown = path.display();
    let kind = |t: std::fs::FileType| {
        if t.is_fifo() {
            "a FIFO"
        } else if t.is_dir() {
            "a directory"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a device"
        }
    };
    let refuse = |t: std::fs::FileType| {
        anyhow::anyhow!(
            "--context {shown}: this is {}, not a regular file; give a file holding JSON",
            kind(t)
        )
    };
    // Looked at before it is opened, so a device or a FIFO is never opened at all; then
    // opened without waiting (O_NONBLOCK: a FIFO swapped in meanwhile does not block) and
    // checked again on the descriptor.
    let meta = std::fs::metadata(path).with_context(|| format!("--context {shown}"))?;
    if !meta.file_type().is_file() {
        return Err(refuse(meta.file_type()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .with_context(|| format!("--context {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("--context {shown}"))?;
    if !meta.file_type().is_file() {
        return Err(refuse(meta.file_type()));
    }
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("--context {shown}: reading it"))?;
    if bytes.len() > max {
        bail!(
            "--context {shown}: the file is larger than {} MiB; pass a smaller context",
            max >> 20
        );
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        // serde_json's message ends with its own " at line L column C": given once, first.
        let full = e.to_string();
        let at = format!(" at line {} column {}", e.line(), e.column());
        let what = full.strip_suffix(&at).unwrap_or(&full);
        anyhow::anyhow!(
            "--context {shown}:{}:{}: not valid JSON: {what}",
            e.line(),
            e.column()
        )
    })
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

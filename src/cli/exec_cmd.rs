//! `mycelium exec`: run one command under a policy.

use anyhow::Result;

use super::args::ExecArgs;
use super::{exit, load_options};
use crate::isolation::pty::{self, Terminal};
use crate::isolation::{self, Io, IsolationError};
use crate::policy::Policy;

pub(super) fn run(args: ExecArgs, policies: Option<&std::path::Path>) -> Result<i32> {
    let opts = load_options(policies);
    let policy = match Policy::load(&args.policy, &opts) {
        Ok(p) => p,
        Err(e) => {
            for d in e.diagnostics(&args.policy) {
                eprintln!("{d}");
            }
            eprintln!("mycelium: policy is invalid; nothing was run");
            return Ok(exit::SANDBOX);
        }
    };
    let caller = super::caller_env();
    let prepared = match isolation::prepare_with(
        &policy,
        args.workspace.as_deref(),
        &opts.protected,
        args.command,
        caller.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &args.overrides.to_overrides(),
    ) {
        Ok(p) => p,
        Err(e) => return Ok(report_error(&e)),
    };
    // The agent never gets the caller's terminal: streams that are terminals get one of
    // the sandbox's own, relayed below. Dropping `terminal` restores the caller's.
    let mut terminal = match Terminal::open(pty::caller_terminals()) {
        Ok(t) => t,
        Err(e) => return Ok(report_error(&e)),
    };
    let mut plan = prepared.plan.clone();
    if let Some(t) = &terminal {
        t.prepare(&mut plan);
    }
    let io = |i| match &terminal {
        Some(t) => t.io(i, Io::Inherit),
        None => Io::Inherit,
    };
    let forwarder = isolation::SignalForwarder::install()?;
    let mut sandbox = match isolation::launch(&plan, io(0), io(1), io(2)) {
        Ok(s) => s,
        Err(e) => return Ok(report_error(&e)),
    };
    if let Some(t) = &mut terminal {
        t.release_slave();
    }
    if let Err(e) = sandbox.wait_started() {
        return Ok(report_error(&e));
    }
    let relay = match terminal.as_mut().map(|t| start_relay(t, &mut sandbox)) {
        Some(Err(e)) => return Ok(report_error(&e)),
        Some(Ok(r)) => Some(r),
        None => None,
    };
    if args.report {
        let withheld: Vec<&str> = prepared
            .env
            .withheld
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        let json = serde_json::json!({
            "policy": policy.path,
            "risk": policy.risk().level,
            "sandbox": sandbox.report(&prepared.plan),
            "env": { "passed": prepared.plan.env.keys().collect::<Vec<_>>(), "withheld": withheld },
        });
        eprintln!("{}", serde_json::to_string(&json)?);
    }
    let end = sandbox.wait_forwarding_signals(&forwarder);
    // All the sandbox wrote to its terminal is shown before the caller's is restored.
    if let Some(r) = relay {
        let _ = r.join();
    }
    drop(terminal);
    let code = match end {
        Ok(end) => exit_code(&end),
        Err(e) => report_error(&e),
    };
    drop(forwarder);
    // The rest is plain memory (policy, plan, the caller's environment) that our exit, right
    // after this, returns anyway: skip destructors that sat between the agent's exit and ours.
    std::mem::forget((prepared, policy, caller));
    Ok(code)
}

/// Relay the sandbox's terminal: keystrokes in, output out (joined once the sandbox is
/// gone), window size on `SIGWINCH`.
fn start_relay(
    t: &mut Terminal,
    sandbox: &mut isolation::RunningSandbox,
) -> Result<std::thread::JoinHandle<()>, IsolationError> {
    sandbox.set_window_sync(t.window_sync()?);
    // Raw before any output is relayed: the sandbox's terminal has done the output
    // processing already.
    t.relay_input()?;
    Ok(pty::spawn_copy(t.output()?, t.output_target()?))
}

/// The command's exit code: its own, 128+N for signal N, or [`exit::TIMED_OUT`] (with a
/// message) when it ran out of time.
pub(super) fn exit_code(end: &isolation::SandboxStatus) -> i32 {
    if let isolation::SandboxStatus::TimedOut { after } = end {
        eprintln!(
            "mycelium: timed out after {} ([agent] timeout); the command was stopped",
            crate::policy::format_duration(*after)
        );
    }
    end.code()
}

pub(super) fn report_error(e: &IsolationError) -> i32 {
    eprintln!("mycelium: {e}");
    match e {
        IsolationError::Exec { failure } if failure.errno == libc::ENOENT => {
            eprintln!(
                "mycelium: the command must be inside a path the policy grants (see `mycelium policy explain`)"
            );
            exit::NOT_FOUND
        }
        IsolationError::Exec { .. } => exit::NOT_EXECUTABLE,
        _ => {
            eprintln!("mycelium: nothing was run");
            exit::SANDBOX
        }
    }
}

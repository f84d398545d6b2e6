//! `mycelium exec`: run one command under a policy.

use anyhow::Result;

use super::args::ExecArgs;
use super::{exit, load_options};
use crate::isolation::{self, IsolationError};
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
    let forwarder = isolation::SignalForwarder::install()?;
    let mut sandbox = match isolation::launch(
        &prepared.plan,
        isolation::Io::Inherit,
        isolation::Io::Inherit,
        isolation::Io::Inherit,
    ) {
        Ok(s) => s,
        Err(e) => return Ok(report_error(&e)),
    };
    if let Err(e) = sandbox.wait_started() {
        return Ok(report_error(&e));
    }
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
    let code = match sandbox.wait_forwarding_signals(&forwarder) {
        Ok(code) => code,
        Err(e) => report_error(&e),
    };
    drop(forwarder);
    // The rest is plain memory (policy, plan, the caller's environment) that our exit, right
    // after this, returns anyway: skip destructors that sat between the agent's exit and ours.
    std::mem::forget((prepared, policy, caller));
    Ok(code)
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

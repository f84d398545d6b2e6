//! `mycelium policy check` and `mycelium policy explain`.

use anyhow::Result;
use serde::Serialize;

use super::args::{CheckArgs, ExplainArgs, PolicyCommand};
use super::{exit, load_options};
use crate::policy::{Diagnostic, LoadOptions, Policy, RiskLevel, explain};

pub(super) fn run(cmd: PolicyCommand, policies: Option<&std::path::Path>) -> Result<i32> {
    let opts = load_options(policies);
    match cmd {
        PolicyCommand::Check(args) => check(&args, &opts),
        PolicyCommand::Explain(mut args) => {
            // A name that is not a file is looked up as an agent.
            let name = args.file.to_string_lossy().into_owned();
            if !args.file.exists() && crate::registry::is_valid_name(&name) {
                args.file =
                    crate::registry::find(&super::search_path(policies), &name)?.policy_path;
            }
            explain_cmd(&args, &opts)
        }
    }
}

/// One file's result, as `--json` prints it.
#[derive(Serialize)]
struct CheckResult {
    file: String,
    valid: bool,
    risk: Option<RiskLevel>,
    errors: Vec<Diagnostic>,
}

fn check(args: &CheckArgs, opts: &LoadOptions) -> Result<i32> {
    let mut all_valid = true;
    for file in &args.files {
        let result = match Policy::load(file, opts) {
            Ok(p) => CheckResult {
                file: file.display().to_string(),
                valid: true,
                risk: Some(p.risk().level),
                errors: vec![],
            },
            Err(e) => CheckResult {
                file: file.display().to_string(),
                valid: false,
                risk: None,
                errors: e.diagnostics(file),
            },
        };
        all_valid &= result.valid;
        if args.json {
            println!("{}", serde_json::to_string(&result)?);
        } else if result.valid {
            println!(
                "{}: ok (risk: {})",
                result.file,
                result.risk.map_or("?", RiskLevel::as_str)
            );
        } else {
            for d in &result.errors {
                println!("{d}");
            }
        }
    }
    Ok(if all_valid { exit::OK } else { exit::FAILURE })
}

fn explain_cmd(args: &ExplainArgs, opts: &LoadOptions) -> Result<i32> {
    let policy = match Policy::load(&args.file, opts) {
        Ok(p) => p,
        Err(e) => {
            for d in e.diagnostics(&args.file) {
                eprintln!("{d}");
            }
            return Ok(exit::FAILURE);
        }
    };
    let ex = explain(&policy);
    let here = on_this_host(&policy);
    if args.json {
        let mut v = serde_json::to_value(&ex)?;
        v["on_this_host"] = serde_json::to_value(&here)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{ex}");
        println!("On this host:");
        for line in &here {
            println!("  - {line}");
        }
    }
    Ok(exit::OK)
}

/// What this kernel enforces of the policy: Landlock's account and the seccomp summary.
fn on_this_host(policy: &Policy) -> Vec<String> {
    use crate::isolation::{cgroup, landlock, seccomp};
    let mut out = Vec::new();
    let plan = landlock::LandlockPlan::from_policy(policy, None);
    match landlock::describe(&plan, landlock::probe_abi()) {
        Ok(r) => {
            let v = serde_json::to_value(&r).unwrap_or_default();
            out.push(format!(
                "Landlock ABI {}: file rights enforced on every path above; TCP connect {}, bind {}; scoped: {}",
                v["abi"],
                v["tcp_connect"]["kind"].as_str().unwrap_or("?").replace('_', " "),
                v["tcp_bind"]["kind"].as_str().unwrap_or("?").replace('_', " "),
                v["scopes"].as_array().map_or("nothing".to_string(), |s| {
                    let names: Vec<&str> = s.iter().filter_map(|x| x.as_str()).collect();
                    if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
                })
            ));
        }
        Err(e) => out.push(format!(
            "Landlock cannot enforce this policy here, so it would not run: {e}"
        )),
    }
    let limits = cgroup::CgroupLimits::from_policy(&policy.limits);
    let memory = cgroup::memory_enforcement(&limits);
    if limits.memory.is_some() {
        out.push(format!(
            "memory limit, for this caller on this host: {}",
            cgroup::describe_memory(memory)
        ));
    }
    let s = seccomp::describe(&policy.seccomp, policy.network.mode, memory);
    out.push(format!(
        "seccomp: {} system calls allowed, everything else answers {}; {}",
        s.allowed,
        s.otherwise,
        s.argument_checks.join("; ")
    ));
    out
}

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
        PolicyCommand::Explain(args) => explain_cmd(&args, &opts),
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&ex)?);
    } else {
        print!("{ex}");
    }
    Ok(exit::OK)
}

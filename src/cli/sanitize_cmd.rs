//! `mycelium sanitize`: standard input to standard output through the output sanitizer.

use std::io::{Read, Write};

use anyhow::{Context, Result};
use serde::Serialize;

use super::args::SanitizeArgs;
use super::{exit, mycelium_home};
use crate::sanitize::naive::NaiveSanitizer;
use crate::sanitize::{OutputSanitizer, Redactions, RuleSet};

/// The most bytes read at once. A read returns what is there, so interactive output
/// still flows at once; a large read lets a file or a busy pipe go through in few steps
/// (each step's fixed cost, looking over every rule's queue, is spread over more text)
/// while the buffers stay within the L2 cache.
const READ_SIZE: usize = 256 * 1024;

/// What `--stats` prints.
#[derive(Serialize)]
struct Stats {
    bytes_in: u64,
    bytes_out: u64,
    total: u64,
    redactions: Redactions,
}

/// The built-in rules plus the user's `$MYCELIUM_HOME/rules.toml`, if there is one: what
/// every sanitizer of this command line starts from (`sanitize` and `run`).
pub(super) fn builtin_and_user_rules() -> Result<RuleSet> {
    let mut rules = RuleSet::builtin()?;
    let home_rules = mycelium_home().join("rules.toml");
    if home_rules.is_file() {
        rules.load_file(&home_rules)?;
    }
    Ok(rules)
}

fn rule_set(args: &SanitizeArgs) -> Result<RuleSet> {
    let mut rules = builtin_and_user_rules()?;
    for file in &args.rules {
        rules.load_file(file)?;
    }
    if let Some(template) = &args.replacement {
        rules.set_replacement(template.clone());
    }
    Ok(rules)
}

pub(super) fn run(args: &SanitizeArgs) -> Result<i32> {
    let rules = match rule_set(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mycelium: {e:#}");
            return Ok(exit::FAILURE);
        }
    };
    if args.list_rules {
        for r in rules.rules() {
            println!("{:<36} {:<20} {}", r.id, r.provider, r.reason);
        }
        return Ok(exit::OK);
    }
    if args.naive {
        return naive(&rules);
    }
    let mut builder = OutputSanitizer::builder(rules);
    for name in &args.redact_env {
        match std::env::var_os(name) {
            Some(value) => {
                builder.literal(format!("env:{name}"), value.as_encoded_bytes());
            }
            None => eprintln!("mycelium: warning: --redact-env {name}: variable is not set"),
        }
    }
    for name in builder.skipped_literals() {
        eprintln!(
            "mycelium: warning: --redact-env {}: value is shorter than {} bytes and is not \
             redacted as a literal",
            name.trim_start_matches("env:"),
            crate::sanitize::MIN_LITERAL_LEN
        );
    }
    let sanitizer = builder.build()?;
    let mut stream = sanitizer.stream();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut buf = vec![0u8; READ_SIZE];
    let mut out = Vec::with_capacity(READ_SIZE * 2);
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading standard input"),
        };
        bytes_in += n as u64;
        stream.push(&buf[..n], &mut out);
        if !out.is_empty() {
            stdout.write_all(&out).context("writing standard output")?;
            stdout.flush().context("writing standard output")?;
            bytes_out += out.len() as u64;
            out.clear();
        }
    }
    stream.finish(&mut out);
    stdout.write_all(&out).context("writing standard output")?;
    stdout.flush().context("writing standard output")?;
    bytes_out += out.len() as u64;
    if args.stats {
        let redactions = stream.redactions();
        let stats = Stats {
            bytes_in,
            bytes_out,
            total: redactions.total(),
            redactions,
        };
        eprintln!("{}", serde_json::to_string(&stats)?);
    }
    Ok(exit::OK)
}

fn naive(rules: &RuleSet) -> Result<i32> {
    let naive = NaiveSanitizer::new(rules)?;
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .context("reading standard input")?;
    let output = naive.sanitize(&input);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&output)
        .context("writing standard output")?;
    stdout.flush().context("writing standard output")?;
    Ok(exit::OK)
}

//! clap definitions for every command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::exit::HELP;

/// Run untrusted programs confined by a policy: namespaces, a private root, scrubbed
/// environment; validate and explain policies.
#[derive(Debug, Parser)]
#[command(name = "mycelium", version, after_help = HELP, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate and explain policy files.
    #[command(subcommand, after_help = HELP)]
    Policy(PolicyCommand),
}

/// `mycelium policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files; exit 0 when all are valid, 1 otherwise.
    ///
    /// Every problem is reported as FILE:LINE:COLUMN: KEY: MESSAGE. Paths under
    /// {workspace} are only checked when --workspace is given.
    #[command(after_help = HELP)]
    Check(CheckArgs),
    /// Describe in plain words what a policy lets an agent read, write, reach and inherit,
    /// and its risk level with the reasons.
    #[command(after_help = HELP)]
    Explain(ExplainArgs),
}

/// Arguments of `policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file (one per line) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `policy explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The policy file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

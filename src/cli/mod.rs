//! The command line: clap definitions and one thin function per command.
//!
//! Each command translates arguments into calls on the library modules and their results
//! into text or JSON and an exit code ([`exit`]). No policy, isolation or consent logic
//! lives here.
#![allow(clippy::print_stdout, reason = "the command line's output is its job")]

mod args;
mod doctor_cmd;
mod exec_cmd;
pub mod exit;
mod policy_cmd;
mod sanitize_cmd;

use clap::Parser;

pub use args::{Cli, Command};

/// Parse the process arguments, run the command, return the exit code.
#[must_use]
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Exec(args) => exec_cmd::run(args),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Doctor(args) => doctor_cmd::run(&args),
        Command::Sanitize(args) => sanitize_cmd::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mycelium: error: {e:#}");
            exit::FAILURE
        }
    }
}

/// `$HOME` of the caller, for `{home}`.
pub(crate) fn caller_home() -> std::path::PathBuf {
    std::env::var_os("HOME").map_or_else(|| std::path::PathBuf::from("/"), Into::into)
}

/// Options every policy load uses: `{home}` and the paths that must never be granted.
pub(crate) fn load_options() -> crate::policy::LoadOptions {
    let home = caller_home();
    let state =
        std::env::var_os("MYCELIUM_HOME").map_or_else(|| home.join(".mycelium"), Into::into);
    crate::policy::LoadOptions {
        home,
        protected: vec![state],
    }
}

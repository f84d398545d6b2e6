//! Output sanitizing: credential rules, a keyword prefilter with regexes around its hits,
//! exact-value redaction of withheld secrets, and streaming across chunk boundaries.
//!
//! Everything an agent prints passes through an [`OutputSanitizer`] before it reaches the
//! MCP client, the workflow store or a log. The key invariant: for any split of the output
//! into chunks, [`SanitizeStream`] emits exactly what [`OutputSanitizer::sanitize`] produces
//! for the whole text, and no byte that could still belong to a secret is emitted before
//! the engine has decided about it. There are no timers: text that could be the start of a
//! secret is held until more text (or the end of the stream) settles it, never released
//! because time passed. The hold-back is bounded (the longest rule match, or an open
//! private-key block up to [`BLOCK_CAP`]), so memory is too.
//!
//! This module must never allocate per input byte, nor let a secret split across two
//! writes through.

mod analysis;
mod ansi;
mod builtin;
#[cfg(test)]
#[path = "cases_tests.rs"]
mod cases_tests;
mod engine;
mod literal;
pub mod naive;
pub mod rules;
mod scan;
mod stream;

use std::path::PathBuf;

pub use engine::{OutputSanitizer, Redactions, Sanitized, SanitizerBuilder};
pub use literal::MIN_LITERAL_LEN;
pub use rules::{Rule, RuleSet};
pub use scan::AutomatonTooLarge;
pub use stream::{BLOCK_CAP, SanitizeStream};

/// Why rules or a sanitizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SanitizeError {
    /// A rules file could not be read.
    #[error("cannot read rules file {}", path.display())]
    ReadRules {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A rules file is not valid.
    #[error("{}:{line}:{column}: {message}", path.display())]
    RulesFile {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A built-in rule does not compile (a bug in mycelium).
    #[error("built-in rule {id} is invalid: {message}")]
    BadBuiltin {
        /// The rule id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// A rule id given to disable does not exist.
    #[error("no rule has id {id:?}; `mycelium sanitize --list-rules` shows them")]
    UnknownRule {
        /// The id asked for.
        id: String,
    },
    /// The keyword automaton could not be built.
    #[error("cannot build the keyword automaton")]
    Automaton(#[source] AutomatonTooLarge),
}

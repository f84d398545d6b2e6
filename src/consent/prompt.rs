//! The human channel: the consent banner and the yes/no question.
//!
//! The banner says which agent, its checksum, its risk and why, and what it can read,
//! write, reach and inherit — the same [`crate::policy::Explanation`] `policy explain`
//! prints — followed, for a re-consent, by what changed since the last grant. Only the
//! answer `yes` (lowercase; blanks around it ignored) grants; anything else, an empty line
//! or end of input is a refusal. Ctrl-C ends the process before anything is written.
//! Reading and writing go through the generic reader and writer given, so the same code
//! serves a terminal and unit tests.

use std::fmt::Write as _;
use std::io::{BufRead, Write};

use super::manager::{Status, render_changes, when};
use crate::policy::explain;
use crate::registry::LoadedAgent;

/// The human's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// They typed `yes`.
    Yes,
    /// They typed something else.
    No,
    /// Input ended (Ctrl-D) before an answer.
    EndOfInput,
}

impl Answer {
    /// Whether consent was given.
    #[must_use]
    pub fn is_yes(self) -> bool {
        self == Answer::Yes
    }
}

/// The question, ending without a newline so the answer is typed after it.
pub const QUESTION: &str =
    "Allow this agent to run under this policy? Type yes to consent [yes/no]: ";

/// The banner for `agent`, given its current status (for the diff on re-consent).
#[must_use]
pub fn banner(agent: &LoadedAgent, status: &Status) -> String {
    let mut s = String::new();
    let rule = "=".repeat(72);
    let _ = writeln!(s, "{rule}");
    let _ = writeln!(s, "CONSENT REQUESTED for agent {}", agent.name);
    let _ = writeln!(s, "{rule}");
    let _ = writeln!(s, "checksum:   {}", agent.checksum);
    let _ = writeln!(s, "policy:     {}", agent.policy.path.display());
    if let Some(d) = &agent.definition {
        let _ = writeln!(s, "definition: {}", d.path.display());
    }
    for p in &agent.pins {
        let _ = writeln!(
            s,
            "pinned:     {} ({})",
            p.path.display(),
            p.digest.short(16)
        );
    }
    let _ = writeln!(s);
    let _ = write!(s, "{}", explain(&agent.policy));
    match status {
        Status::Changed { record, changes } => {
            let _ = writeln!(
                s,
                "\nThis agent CHANGED since {} (uid {}) consented on {}.",
                record.granted_by.user,
                record.granted_by.uid,
                when(record.granted_at)
            );
            let _ = writeln!(s, "{}", render_changes(changes).trim_start());
        }
        Status::Expired { record } => {
            let _ = writeln!(
                s,
                "\nThe earlier consent for exactly this agent expired {}.",
                record.expires_at.map_or_else(|| "?".into(), when)
            );
        }
        Status::Granted { record } => {
            let _ = writeln!(
                s,
                "\nAlready granted on {}; answering yes records a new grant.",
                when(record.granted_at)
            );
        }
        Status::NotRequired { level, required_at } => {
            let _ = writeln!(
                s,
                "\nRisk {level} is below consent.required_at = {required_at}: this agent runs without consent; a grant is recorded anyway."
            );
        }
        Status::Missing { .. } | Status::Denied { .. } => {}
    }
    let _ = writeln!(s, "{rule}");
    s
}

/// Show `banner`, ask [`QUESTION`], read one line.
///
/// # Errors
/// When writing the question or reading the answer fails.
pub fn ask<R: BufRead, W: Write>(
    mut input: R,
    mut output: W,
    banner: &str,
) -> std::io::Result<Answer> {
    output.write_all(banner.as_bytes())?;
    output.write_all(QUESTION.as_bytes())?;
    output.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        // Keep the terminal tidy: the cursor is still after the question.
        output.write_all(b"\n")?;
        return Ok(Answer::EndOfInput);
    }
    Ok(if line.trim() == "yes" {
        Answer::Yes
    } else {
        Answer::No
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_is_yes() {
        let ask_with = |input: &str| ask(input.as_bytes(), Vec::new(), "B\n").unwrap();
        assert_eq!(ask_with("yes\n"), Answer::Yes);
        assert_eq!(ask_with("  yes \n"), Answer::Yes);
        for no in ["y\n", "YES\n", "no\n", "\n", "yes please\n", "ye\n"] {
            assert_eq!(ask_with(no), Answer::No, "{no:?}");
        }
        assert_eq!(ask_with(""), Answer::EndOfInput);
    }

    #[test]
    fn banner_then_question() {
        let mut out = Vec::new();
        ask("no\n".as_bytes(), &mut out, "BANNER\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("BANNER\n{QUESTION}")
        );
    }
}

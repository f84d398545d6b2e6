//! Exit codes, shared by every command and listed in `--help`.
//!
//! `exec` and `run` give one code per kind of outcome, so a script can tell "nothing ran"
//! from "consent is needed" from "the agent failed": the codes of mycelium itself are the
//! ones container runtimes and coreutils `timeout` use (125, 126, 127, 124) plus 77
//! (`EX_NOPERM`, sysexits.h) for consent. Any other code is the command's own.

/// Success (for `exec` and `run`: the command exited 0).
pub const OK: i32 = 0;
/// A check failed (invalid policy, consent missing) or a command failed.
pub const FAILURE: i32 = 1;
/// The command line was wrong.
pub const USAGE: i32 = 2;
/// `run`: the agent may not run — consent is missing, changed, expired, refused at the
/// prompt, could not be read, or the agent is denied. Nothing ran.
pub const CONSENT: i32 = 77;
/// `exec`, `run`: the command ran past its `[agent] timeout` and was killed.
pub const TIMED_OUT: i32 = 124;
/// `exec`, `run`: nothing ran — the policy is invalid, the agent name is unknown or
/// ambiguous, the workspace cannot be used, or the sandbox could not be built.
pub const SANDBOX: i32 = 125;
/// `exec`: the command was found but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// `exec`: the command was not found inside the sandbox.
pub const NOT_FOUND: i32 = 127;

/// The text appended to `--help`.
pub const HELP: &str = "\
Exit codes:
  0    success; for `exec` and `run`, the command exited 0
  1    a check failed (policy check, consent check, doctor, agents) or a command failed
  2    usage error
  77   run: not run for lack of consent (missing, changed, expired, refused, denied,
       or the consent store cannot be read)
  124  exec, run: the command timed out ([agent] timeout) and was killed
  125  exec, run: nothing ran: invalid policy, unknown or ambiguous agent name, unusable
       workspace, or the sandbox could not be built here
  126  exec, run: the command exists but could not be executed
  127  exec, run: the command was not found inside the sandbox
  N    exec, run: otherwise the command's own exit code; 128+N when killed by signal N";

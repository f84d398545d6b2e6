//! Exit codes, shared by every command and listed in `--help`.

/// Success (for `exec`: the command exited 0).
pub const OK: i32 = 0;
/// A check failed (invalid policy, consent missing) or a command failed.
pub const FAILURE: i32 = 1;
/// The command line was wrong.
pub const USAGE: i32 = 2;
/// `exec`: the sandbox could not be built (invalid policy, missing kernel feature).
pub const SANDBOX: i32 = 125;
/// `exec`, `run`: the command ran past `[agent] timeout` and was stopped (as coreutils
/// `timeout` exits).
pub const TIMED_OUT: i32 = 124;
/// `exec`: the command was found but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// `exec`: the command was not found inside the sandbox.
pub const NOT_FOUND: i32 = 127;

/// The text appended to `--help`.
pub const HELP: &str = "\
Exit codes:
  0    success; for `exec` and `run`, the command exited 0
  1    a check failed (invalid policy, consent missing or refused) or the command failed
  2    usage error
  124  exec, run: the command ran past the policy's [agent] timeout and was stopped
  125  exec, run: the sandbox could not be built (invalid policy, missing kernel feature)
  126  exec, run: the command exists but could not be executed
  127  exec, run: the command was not found inside the sandbox
  N    exec, run: the command's own exit code; 128+N when it was killed by signal N";

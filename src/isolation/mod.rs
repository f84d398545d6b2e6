//! `EnvironmentIsolation`: turning a policy into a confined process.
//!
//! Everything that touches the kernel to build a sandbox lives here, and all `unsafe` code
//! and raw system calls of the project live in `sys`. The module never parses policy files
//! (it takes a checked [`crate::policy::Policy`]) and never talks to a store.
//!
//! The pieces, in the order a run uses them: [`plan::prepare`] (policy → plan, pure, and the
//! scrubbed environment), [`launch`] (spawn the launcher, hand it the plan),
//! the launcher (clone into namespaces), the child (new root, then exec), and
//! [`RunningSandbox`] (events and exit code back to the caller).

pub mod cgroup;
mod child;
pub mod env;
pub mod env_shape;
mod handle;
pub mod ids;
pub mod landlock;
mod launcher;
pub mod local;
pub mod overrides;
pub mod plan;
pub mod probe;
mod procmask;
pub mod protocol;
pub mod pty;
pub mod report;
pub mod resolve;
pub mod seccomp;
pub mod spawner;
#[allow(unsafe_code, reason = "the one module allowed to hold unsafe code")]
mod sys;
#[cfg(test)]
mod testutil;
pub mod workspace;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use serde::{Deserialize, Serialize};

pub use handle::RunningSandbox;
pub use local::Io;
pub use overrides::Overrides;
pub use plan::{PreparedSandbox, SandboxPlan, prepare, prepare_with};
pub use protocol::{LauncherEvent, SetupFailure};
pub use report::SandboxReport;
pub use spawner::Spawner;

/// Exit code of a launcher or pid 1 whose setup failed (the caller reads the reason from
/// the channel, not from this code).
pub(crate) const SETUP_FAILED_CODE: i32 = 125;

/// Signals the caller, the launcher and pid 1 pass on to the agent: the one list each of
/// them blocks and takes through a signalfd ([`signal_set`], [`SignalForwarder`]), so
/// none of them is ever killed by a signal meant for the agent.
pub(crate) const FORWARDED_SIGNALS: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// [`FORWARDED_SIGNALS`] as a set.
pub(crate) fn forwarded_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED_SIGNALS {
        set.add(s);
    }
    set
}

/// The forwarded signals plus `SIGCHLD`: what the launcher and pid 1 take via signalfd.
pub(crate) fn signal_set() -> SigSet {
    let mut set = forwarded_set();
    set.add(Signal::SIGCHLD);
    set
}

/// How long an agent that ran past `[agent] timeout` has between `SIGTERM` and the
/// `SIGKILL` of its whole sandbox.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// How a sandbox ended: the agent's own exit, kept apart from what mycelium did to it and
/// from a sandbox that never started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SandboxStatus {
    /// The agent exited with this code.
    Exited {
        /// The code.
        code: i32,
    },
    /// A signal ended the agent (or pid 1, when something outside killed it).
    Signaled {
        /// The signal's number.
        signal: i32,
    },
    /// It ran past `[agent] timeout`: `SIGTERM`, then after [`TIMEOUT_GRACE`] the whole
    /// sandbox killed.
    TimedOut {
        /// The timeout that ran out.
        #[serde(with = "duration_ms")]
        after: Duration,
    },
    /// The caller stopped it ([`RunningSandbox::terminate`] or [`RunningSandbox::kill`]).
    Stopped,
    /// Setup failed: nothing of the command ran.
    SetupFailed {
        /// The step that failed and the kernel's answer.
        failure: SetupFailure,
    },
}

impl SandboxStatus {
    /// The code a shell would show for the agent's end: its exit code, 128+N for signal N,
    /// 124 after a timeout, 137 (`SIGKILL`) when stopped, 125 when setup failed.
    #[must_use]
    pub fn code(&self) -> i32 {
        match self {
            SandboxStatus::Exited { code } => *code,
            SandboxStatus::Signaled { signal } => 128 + signal,
            SandboxStatus::TimedOut { .. } => 124,
            SandboxStatus::Stopped => 128 + libc::SIGKILL,
            SandboxStatus::SetupFailed { .. } => SETUP_FAILED_CODE,
        }
    }
}

/// `Duration` as whole milliseconds on the launcher's channel.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Why a sandbox could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum IsolationError {
    /// The kernel lacks something the policy needs; nothing ran.
    #[error("{feature} is not available: {cause}\n  fix: {fix}")]
    Unsupported {
        /// The missing feature.
        feature: &'static str,
        /// Why, as far as the host tells.
        cause: String,
        /// What the user can do.
        fix: String,
    },
    /// The policy cannot be turned into a sandbox on this host.
    #[error("{}: {message}", policy.display())]
    Plan {
        /// The policy file.
        policy: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A setup step failed; nothing of the command ran.
    #[error("sandbox setup failed at {}: {}", failure.step, failure.detail)]
    Setup {
        /// The step and the kernel's answer.
        failure: SetupFailure,
    },
    /// The command could not be executed inside the sandbox.
    #[error("{}", failure.detail)]
    Exec {
        /// The exec failure.
        failure: SetupFailure,
    },
    /// The launcher could not be started or stopped talking.
    #[error("launcher: {what}")]
    Launcher {
        /// What happened.
        what: String,
        /// The cause.
        #[source]
        source: Option<std::io::Error>,
    },
}

/// Point this process's standard streams at `/dev/null`, letting go of what they were (a
/// process that goes on in the background after its caller stopped reading them).
///
/// # Errors
/// The kernel's answer to `open` or `dup2`.
pub fn detach_standard_streams() -> Result<(), std::io::Error> {
    sys::null_stdio().map_err(|e| std::io::Error::from_raw_os_error(e.errno as i32))
}

/// Whether this process was started as the internal launcher (`argv[1]` is the marker).
#[must_use]
pub fn is_launcher_invocation() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == protocol::LAUNCHER_ARG)
}

/// The launcher's entry point, called from `main` before anything else; never returns.
pub fn launcher_main() -> ! {
    launcher::main()
}

/// This process's `/proc/self/stat` when a sandbox can be started from it: it must have
/// one thread, and `MYCELIUM_LAUNCHER=1` (which asks for the re-executed launcher every
/// time) must not be set.
fn can_start_here() -> Option<local::SelfStat> {
    if std::env::var_os("MYCELIUM_LAUNCHER").is_some_and(|v| v == "1") {
        return None;
    }
    local::SelfStat::read().filter(|s| s.threads == 1)
}

/// Start the sandbox `plan` describes, with the given standard streams.
///
/// A single-threaded caller starts it itself; any other goes through the launcher, a
/// fresh single-threaded process re-executed from this binary.
///
/// # Errors
/// [`IsolationError::Launcher`] when the binary cannot be re-executed, or what a failed
/// step before the agent's setup tells (see [`RunningSandbox::wait_started`]).
pub fn launch(
    plan: &SandboxPlan,
    stdin: Io,
    stdout: Io,
    stderr: Io,
) -> Result<RunningSandbox, IsolationError> {
    launch_with_fds(plan, stdin, stdout, stderr, &[])
}

/// Like [`launch`], passing `passed` along into the sandbox at descriptors
/// [`protocol::FIRST_PASSED_FD`], `+1`, … (the plan's `passed_fds` must say how many).
///
/// # Errors
/// As [`launch`]; [`IsolationError::Launcher`] when the counts differ.
pub fn launch_with_fds(
    plan: &SandboxPlan,
    stdin: Io,
    stdout: Io,
    stderr: Io,
    passed: &[OwnedFd],
) -> Result<RunningSandbox, IsolationError> {
    check_passed(plan, passed)?;
    if let Some(stat) = can_start_here() {
        let raw: Vec<i32> = passed.iter().map(AsRawFd::as_raw_fd).collect();
        return local::start(plan, [stdin, stdout, stderr], &raw, stat.areas)
            .map(RunningSandbox::local)
            .map_err(probe::classify_failure);
    }
    spawn_launcher(plan, [stdin, stdout, stderr], passed)
}

/// The plan's count of passed descriptors is `passed`'s, and within what can be placed.
///
/// # Errors
/// [`IsolationError::Launcher`] saying both counts.
pub(crate) fn check_passed(plan: &SandboxPlan, passed: &[OwnedFd]) -> Result<(), IsolationError> {
    if usize::try_from(plan.passed_fds).ok() != Some(passed.len())
        || passed.len() + 1 > sys::MAX_PASSED_FDS
    {
        return Err(IsolationError::Launcher {
            what: format!(
                "plan expects {} passed descriptors, got {} (at most {})",
                plan.passed_fds,
                passed.len(),
                sys::MAX_PASSED_FDS - 1
            ),
            source: None,
        });
    }
    Ok(())
}

fn spawn_launcher(
    plan: &SandboxPlan,
    io: [Io; 3],
    passed: &[OwnedFd],
) -> Result<RunningSandbox, IsolationError> {
    let err = |what: &str| {
        let what = what.to_string();
        move |e| IsolationError::Launcher {
            what,
            source: Some(e),
        }
    };
    let (theirs_io, ours_io) = handle::launcher_stdio(io)?;
    let [stdin, stdout, stderr] = theirs_io.map(|fd| fd.map_or_else(Stdio::inherit, Stdio::from));
    let (ours, theirs) = UnixStream::pair().map_err(err("socketpair"))?;
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg(protocol::LAUNCHER_ARG)
        .env_clear()
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr);
    let theirs = OwnedFd::from(theirs);
    let mut fds: Vec<(&OwnedFd, i32)> = vec![(&theirs, protocol::LAUNCHER_FD)];
    fds.extend(passed.iter().zip(protocol::FIRST_PASSED_FD..));
    let child = sys::spawn_with_fds(&mut cmd, &fds).map_err(err("spawn launcher"))?;
    drop((theirs, cmd));
    RunningSandbox::launcher(Some(child), ours, ours_io, plan)
}

/// Takes the forwarded signals (`SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGUSR1`,
/// `SIGUSR2`, `SIGWINCH`: the one list pid 1 and the launcher use too) for this process,
/// so they can be passed on to a sandbox instead of killing the caller (or, for
/// `SIGWINCH`, being lost). Create it before [`launch`], so a signal that arrives while
/// the sandbox starts is held rather than lost; for single-threaded callers (the CLI).
/// Dropping it unblocks the signals again.
#[derive(Debug)]
pub struct SignalForwarder {
    fd: SignalFd,
    set: SigSet,
}

impl SignalForwarder {
    /// Block the signals and open a signalfd for them.
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the kernel refuses.
    pub fn install() -> Result<Self, IsolationError> {
        let set = forwarded_set();
        let err = |e: Errno| IsolationError::Launcher {
            what: format!("signal forwarding: {}", e.desc()),
            source: None,
        };
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(err)?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(err)?;
        Ok(SignalForwarder { fd, set })
    }
}

impl Drop for SignalForwarder {
    fn drop(&mut self) {
        let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&self.set), None);
    }
}

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
#[allow(unsafe_code, reason = "the one module allowed to hold unsafe code")]
mod sys;
#[cfg(test)]
mod testutil;
pub mod workspace;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

pub use local::Io;
pub use overrides::Overrides;
pub use plan::{PreparedSandbox, SandboxPlan, prepare, prepare_with};
pub use protocol::{LauncherEvent, SetupFailure};
pub use report::SandboxReport;

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

/// How a sandbox's command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxExit {
    /// Its exit code, 128+N when a signal N ended it.
    pub code: i32,
    /// `Some(timeout)` when it was stopped because it ran past `[agent] timeout`.
    pub timed_out: Option<Duration>,
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

/// A started sandbox: its report, its standard streams, its exit code.
#[derive(Debug)]
pub struct RunningSandbox {
    inner: Started,
    /// The plan's `[agent] timeout`, for the exit of a launcher that enforced it.
    timeout: Option<Duration>,
    /// With the launcher: copies the window size on `SIGWINCH` (see
    /// [`RunningSandbox::set_window_sync`]).
    window: Option<pty::WindowSync>,
}

#[derive(Debug)]
enum Started {
    /// Started by this process (see [`local`]).
    Local(Box<local::LocalSandbox>),
    /// Started by a re-executed launcher, which relays events over a socket.
    Launcher {
        child: Child,
        events: BufReader<UnixStream>,
        /// What the launcher reported once the command started.
        report: Option<Box<SandboxReport>>,
    },
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
    if let Some(stat) = can_start_here() {
        let raw: Vec<i32> = passed.iter().map(AsRawFd::as_raw_fd).collect();
        return local::start(plan, [stdin, stdout, stderr], &raw, stat.areas)
            .map(|s| RunningSandbox {
                inner: Started::Local(Box::new(s)),
                timeout: plan.timeout,
                window: None,
            })
            .map_err(probe::classify_failure);
    }
    spawn_launcher(plan, [stdin, stdout, stderr], passed)
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
    let stdio = |i: Io| match i {
        Io::Inherit => Ok(Stdio::inherit()),
        Io::Piped => Ok(Stdio::piped()),
        Io::Fd(fd) => fd.try_clone().map(Stdio::from),
    };
    let [stdin, stdout, stderr] = io;
    let (ours, theirs) = UnixStream::pair().map_err(err("socketpair"))?;
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg(protocol::LAUNCHER_ARG)
        .env_clear()
        .stdin(stdio(stdin).map_err(err("dup terminal"))?)
        .stdout(stdio(stdout).map_err(err("dup terminal"))?)
        .stderr(stdio(stderr).map_err(err("dup terminal"))?);
    let theirs = OwnedFd::from(theirs);
    let mut fds: Vec<(&OwnedFd, i32)> = vec![(&theirs, protocol::LAUNCHER_FD)];
    fds.extend(passed.iter().zip(protocol::FIRST_PASSED_FD..));
    let child = sys::spawn_with_fds(&mut cmd, &fds).map_err(err("spawn launcher"))?;
    drop(theirs);
    let json = serde_json::to_vec(plan).map_err(|e| IsolationError::Launcher {
        what: format!("encode plan: {e}"),
        source: None,
    })?;
    let mut w = &ours;
    w.write_all(&json).map_err(err("send plan"))?;
    ours.shutdown(std::net::Shutdown::Write)
        .map_err(err("send plan"))?;
    Ok(RunningSandbox {
        inner: Started::Launcher {
            child,
            events: BufReader::new(ours),
            report: None,
        },
        timeout: plan.timeout,
        window: None,
    })
}

impl RunningSandbox {
    /// The read end of the sandbox's standard output, when it was created as a pipe.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        match &mut self.inner {
            Started::Local(s) => s.pipes[1].take().map(Into::into),
            Started::Launcher { child, .. } => child.stdout.take(),
        }
    }

    /// The read end of the sandbox's standard error, when it was created as a pipe.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        match &mut self.inner {
            Started::Local(s) => s.pipes[2].take().map(Into::into),
            Started::Launcher { child, .. } => child.stderr.take(),
        }
    }

    /// The write end of the sandbox's standard input, when it was created as a pipe.
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        match &mut self.inner {
            Started::Local(s) => s.pipes[0].take().map(Into::into),
            Started::Launcher { child, .. } => child.stdin.take(),
        }
    }

    /// Copy the caller's window size to the sandbox's own terminal on every `SIGWINCH`
    /// (instead of forwarding the signal: the terminal's kernel signals the agent).
    pub fn set_window_sync(&mut self, sync: pty::WindowSync) {
        match &mut self.inner {
            Started::Local(s) => s.window = Some(sync),
            Started::Launcher { .. } => self.window = Some(sync),
        }
    }

    /// Whether this process started the sandbox itself (rather than through the launcher).
    #[must_use]
    pub fn started_here(&self) -> bool {
        matches!(self.inner, Started::Local(_))
    }

    /// Wait until the command has started, or say why it did not.
    ///
    /// # Errors
    /// [`IsolationError::Setup`], [`IsolationError::Exec`] or a diagnosed
    /// [`IsolationError::Unsupported`] when the sandbox could not be built.
    pub fn wait_started(&mut self) -> Result<(), IsolationError> {
        let (child, events, stored) = match &mut self.inner {
            Started::Local(s) => return s.wait_started().map_err(probe::classify_failure),
            Started::Launcher {
                child,
                events,
                report,
            } => (child, events, report),
        };
        match next_event(events)? {
            Some(LauncherEvent::Started { report }) => {
                *stored = Some(report);
                Ok(())
            }
            Some(LauncherEvent::Failed { failure }) => {
                let _ = child.wait();
                Err(probe::classify_failure(failure))
            }
            Some(LauncherEvent::Exited { .. }) | None => {
                let status = child.wait().ok();
                Err(IsolationError::Launcher {
                    what: format!("ended before the command started ({status:?})"),
                    source: None,
                })
            }
        }
    }

    /// What was applied: the layers of the sandbox `plan` (the plan it was launched with)
    /// describes. Written on demand, so that a caller who does not ask pays nothing for it.
    #[must_use]
    pub fn report(&self, plan: &SandboxPlan) -> SandboxReport {
        match &self.inner {
            Started::Local(s) => s.report(plan),
            Started::Launcher { report, .. } => report
                .as_deref()
                .cloned()
                .unwrap_or_else(|| report::for_plan(plan, "", "")),
        }
    }

    /// Wait for the command to end; its exit code (128+N for signal N) and whether it ran
    /// out of time (`[agent] timeout`, enforced while waiting). It returns once no process
    /// of the sandbox runs any more; the kernel may still be tearing its namespaces down.
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the launcher died without reporting.
    pub fn wait(self) -> Result<SandboxExit, IsolationError> {
        let timeout = self.timeout;
        let (mut child, mut events) = match self.inner {
            Started::Local(s) => return Ok(s.wait()),
            Started::Launcher { child, events, .. } => (child, events),
        };
        let code = loop {
            match next_event(&mut events)? {
                Some(LauncherEvent::Exited { code, timed_out }) => {
                    break Some(SandboxExit {
                        code,
                        timed_out: timeout.filter(|_| timed_out),
                    });
                }
                Some(_) => {}
                None => break None,
            }
        };
        let status = child.wait().map_err(|e| IsolationError::Launcher {
            what: "wait".into(),
            source: Some(e),
        })?;
        code.ok_or_else(|| IsolationError::Launcher {
            what: format!("ended without reporting an exit code ({status})"),
            source: None,
        })
    }

    /// Like [`RunningSandbox::wait`], passing the signals `forwarder` took on to the
    /// sandbox meanwhile.
    ///
    /// # Errors
    /// As [`RunningSandbox::wait`].
    pub fn wait_forwarding_signals(
        self,
        forwarder: &SignalForwarder,
    ) -> Result<SandboxExit, IsolationError> {
        let (launcher, events) = match &self.inner {
            // The sandbox's own signal descriptor takes the forwarded signals (they are
            // blocked in this process) and passes them to pid 1.
            Started::Local(_) => return self.wait(),
            Started::Launcher { child, events, .. } => (Pid::from_raw(child.id() as i32), events),
        };
        // An event already buffered would never wake poll on the socket.
        while events.buffer().is_empty() {
            let mut fds = [
                PollFd::new(events.get_ref().as_fd(), PollFlags::POLLIN),
                PollFd::new(forwarder.fd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(_) => break,
                Ok(_) => {}
            }
            if fds[1]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN))
            {
                while let Ok(Some(info)) = forwarder.fd.read_signal() {
                    match (&self.window, Signal::try_from(info.ssi_signo as i32)) {
                        (Some(w), Ok(Signal::SIGWINCH)) => w.sync(),
                        (_, Ok(sig)) => {
                            let _ = kill(launcher, sig);
                        }
                        (_, Err(_)) => {}
                    }
                }
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                break;
            }
        }
        self.wait()
    }
}

/// The launcher's next event, or `None` when it closed its channel.
fn next_event(events: &mut BufReader<UnixStream>) -> Result<Option<LauncherEvent>, IsolationError> {
    let mut line = String::new();
    loop {
        match events.read_line(&mut line) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(IsolationError::Launcher {
                    what: "read event".into(),
                    source: Some(e),
                });
            }
        }
    }
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|e| IsolationError::Launcher {
            what: format!("bad event {line:?}: {e}"),
            source: None,
        })
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

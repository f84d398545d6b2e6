//! [`RunningSandbox`]: the handle on one started sandbox, whichever way it was started.
//!
//! Like `std::process::Child`, but for the whole sandbox: how it ended as a typed
//! [`SandboxStatus`] (the agent's exit or signal kept apart from a timeout, a stop and a
//! setup failure), `try_wait`, `terminate` and `kill` of every process in it, descriptors
//! an async caller can wait on, and kill-on-drop on every path.
//!
//! Nothing about it depends on the thread that made it. A sandbox started here (directly)
//! has pid 1 as this process's child; one started by a launcher — re-executed, or forked
//! by the spawner — is tied to this process only by the launcher's channel, whose end
//! (this process exits, or drops the handle) makes the launcher kill the sandbox.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::Child;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::local::{self, LocalSandbox, STOP_GRACEFULLY, STOP_NOW};
use super::plan::SandboxPlan;
use super::protocol::{LauncherEvent, MAX_PLAN_BYTES};
use super::{IsolationError, SandboxReport, SandboxStatus, SignalForwarder, probe, pty, report};

/// A started sandbox: its report, its standard streams, how it ended.
#[derive(Debug)]
pub struct RunningSandbox {
    inner: Started,
    /// The caller's forwarded signals, passed on to a launcher while waiting (see
    /// [`RunningSandbox::forward_signals`]).
    forwarder: Option<SignalForwarder>,
    /// With a launcher: copies the window size on `SIGWINCH` (see
    /// [`RunningSandbox::set_window_sync`]).
    window: Option<pty::WindowSync>,
}

#[derive(Debug)]
enum Started {
    /// Started by this process (see [`local`]).
    Local(Box<LocalSandbox>),
    /// Started by a launcher, which relays events over a socket.
    Launcher(LauncherSide),
}

/// This process's side of a launcher's channel.
#[derive(Debug)]
struct LauncherSide {
    /// The launcher, when this process executed it (reaped here); `None` when the spawner
    /// forked it (the spawner reaps it).
    child: Option<Child>,
    events: BufReader<UnixStream>,
    /// What the launcher reported once the command started.
    report: Option<Box<SandboxReport>>,
    /// pid 1, as the launcher reported it.
    init: Option<Pid>,
    /// The launcher's process descriptor, when it is this process's child.
    pidfd: Option<OwnedFd>,
    /// How it ended, once known.
    end: Option<SandboxStatus>,
    /// The caller's ends of piped standard streams: stdin (write), stdout, stderr (read).
    pipes: [Option<OwnedFd>; 3],
}

impl RunningSandbox {
    /// A sandbox this process started itself.
    pub(super) fn local(sandbox: LocalSandbox) -> Self {
        RunningSandbox {
            inner: Started::Local(Box::new(sandbox)),
            forwarder: None,
            window: None,
        }
    }

    /// A sandbox a launcher starts from `plan`, sent here on `chan`; `pipes` are this
    /// process's ends of piped standard streams.
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the plan cannot be sent (the launcher is then
    /// stopped and reaped).
    pub(super) fn launcher(
        child: Option<Child>,
        chan: UnixStream,
        pipes: [Option<OwnedFd>; 3],
        plan: &SandboxPlan,
    ) -> Result<Self, IsolationError> {
        let pidfd = child
            .as_ref()
            .and_then(|c| super::sys::pidfd_open(Pid::from_raw(i32::try_from(c.id()).ok()?)).ok());
        let side = LauncherSide {
            child,
            events: BufReader::new(chan),
            report: None,
            init: None,
            pidfd,
            end: None,
            pipes,
        };
        send_plan(side.events.get_ref(), plan)?;
        Ok(RunningSandbox {
            inner: Started::Launcher(side),
            forwarder: None,
            window: None,
        })
    }

    fn pipe(&mut self, i: usize) -> Option<OwnedFd> {
        match &mut self.inner {
            Started::Local(s) => s.pipes[i].take(),
            Started::Launcher(l) => l.pipes[i].take(),
        }
    }

    /// The read end of the sandbox's standard output, when it was created as a pipe.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.pipe(1).map(Into::into)
    }

    /// The read end of the sandbox's standard error, when it was created as a pipe.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.pipe(2).map(Into::into)
    }

    /// The write end of the sandbox's standard input, when it was created as a pipe.
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.pipe(0).map(Into::into)
    }

    /// Copy the caller's window size to the sandbox's own terminal on every `SIGWINCH`
    /// (instead of forwarding the signal: the terminal's kernel signals the agent).
    pub fn set_window_sync(&mut self, sync: pty::WindowSync) {
        match &mut self.inner {
            Started::Local(s) => s.window = Some(sync),
            Started::Launcher(_) => self.window = Some(sync),
        }
    }

    /// Whether this process started the sandbox itself (rather than through a launcher).
    #[must_use]
    pub fn started_here(&self) -> bool {
        matches!(self.inner, Started::Local(_))
    }

    /// pid 1 of the sandbox in this process's pid namespace, once known (at once when
    /// started here; after [`RunningSandbox::wait_started`] with a launcher). Only for
    /// display: signal the sandbox with [`RunningSandbox::kill`], which cannot hit a
    /// process that reused the number.
    #[must_use]
    pub fn pid(&self) -> Option<Pid> {
        match &self.inner {
            Started::Local(s) => Some(s.init_pid()),
            Started::Launcher(l) => l.init,
        }
    }

    /// A process descriptor that becomes readable when the process this one waits for
    /// exits: pid 1 when started here, the launcher when this process executed it; `None`
    /// for a launcher forked by the spawner (wait on [`RunningSandbox::ready_fd`]).
    #[must_use]
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        match &self.inner {
            Started::Local(s) => s.pidfd(),
            Started::Launcher(l) => l.pidfd.as_ref().map(AsFd::as_fd),
        }
    }

    /// A descriptor that becomes readable whenever [`RunningSandbox::try_wait`] may have
    /// news: pid 1's exit pipe, or the launcher's channel. `None` once the end is known.
    #[must_use]
    pub fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.inner {
            Started::Local(s) => s.ready_fd(),
            Started::Launcher(l) => l.end.is_none().then(|| l.events.get_ref().as_fd()),
        }
    }

    /// When [`RunningSandbox::try_wait`] must be called even if nothing is readable (a
    /// timeout or a stop's grace to act on, for a sandbox started here; a launcher keeps
    /// its own time).
    #[must_use]
    pub fn next_deadline(&self) -> Option<std::time::Instant> {
        match &self.inner {
            Started::Local(s) => s.next_deadline(),
            Started::Launcher(_) => None,
        }
    }

    /// Wait until the command has started, or say why it did not.
    ///
    /// # Errors
    /// [`IsolationError::Setup`], [`IsolationError::Exec`] or a diagnosed
    /// [`IsolationError::Unsupported`] when the sandbox could not be built.
    pub fn wait_started(&mut self) -> Result<(), IsolationError> {
        let l = match &mut self.inner {
            Started::Local(s) => return s.wait_started().map_err(probe::classify_failure),
            Started::Launcher(l) => l,
        };
        while l.report.is_none() && l.end.is_none() {
            l.next(true)?;
        }
        match &l.end {
            Some(SandboxStatus::SetupFailed { failure }) => {
                Err(probe::classify_failure(failure.clone()))
            }
            _ => Ok(()),
        }
    }

    /// What was applied: the layers of the sandbox `plan` (the plan it was launched with)
    /// describes. Written on demand, so that a caller who does not ask pays nothing for it.
    #[must_use]
    pub fn report(&self, plan: &SandboxPlan) -> SandboxReport {
        match &self.inner {
            Started::Local(s) => s.report(plan),
            Started::Launcher(l) => l
                .report
                .as_deref()
                .cloned()
                .unwrap_or_else(|| report::for_plan(plan, "", "")),
        }
    }

    /// How the sandbox ended, if it has, without blocking.
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the launcher died without reporting.
    pub fn try_wait(&mut self) -> Result<Option<SandboxStatus>, IsolationError> {
        match &mut self.inner {
            Started::Local(s) => Ok(s.try_wait()),
            Started::Launcher(l) => {
                while l.end.is_none() && l.next(false)? {}
                Ok(l.end.clone())
            }
        }
    }

    /// Pass the signals `forwarder` takes on to the sandbox whenever this handle waits
    /// ([`RunningSandbox::wait_timeout`]). A sandbox started here takes them through its
    /// own descriptor already; the forwarder is kept (so they stay blocked) until the
    /// handle goes.
    pub fn forward_signals(&mut self, forwarder: SignalForwarder) {
        self.forwarder = Some(forwarder);
    }

    /// Pass on what the attached forwarder holds, to the launcher this process executed.
    fn relay_forwarded(&self) {
        if let Some(f) = &self.forwarder {
            self.relay_from(f);
        }
    }

    /// Pass on what `f` holds to the launcher this process executed (the window size goes
    /// to the sandbox's terminal instead of `SIGWINCH`).
    fn relay_from(&self, f: &SignalForwarder) {
        let Started::Launcher(l) = &self.inner else {
            return;
        };
        let launcher = l
            .child
            .as_ref()
            .and_then(|c| i32::try_from(c.id()).ok())
            .map(Pid::from_raw);
        while let Ok(Some(info)) = f.fd.read_signal() {
            match (&self.window, Signal::try_from(info.ssi_signo as i32)) {
                (Some(w), Ok(Signal::SIGWINCH)) => w.sync(),
                (_, Ok(sig)) => {
                    if let Some(pid) = launcher {
                        let _ = kill(pid, sig);
                    }
                }
                (_, Err(_)) => {}
            }
        }
    }

    /// Wait at most `limit` for the sandbox to end; `None` when it still runs. Meanwhile
    /// the timeout is enforced and, for a sandbox started here, the forwarded signals this
    /// process receives are passed on (as [`RunningSandbox::wait`] does).
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the launcher died without reporting.
    pub fn wait_timeout(
        &mut self,
        limit: std::time::Duration,
    ) -> Result<Option<SandboxStatus>, IsolationError> {
        let until = std::time::Instant::now() + limit;
        loop {
            if let Some(end) = self.try_wait()? {
                return Ok(Some(end));
            }
            let now = std::time::Instant::now();
            if now >= until {
                return Ok(None);
            }
            let wake = self.next_deadline().map_or(until, |d| d.min(until));
            // Rounded up, so the wake-up is never early (which would spin).
            let ms = wake.saturating_duration_since(now).as_millis() + 1;
            let timeout = PollTimeout::try_from(i32::try_from(ms).unwrap_or(i32::MAX))
                .unwrap_or(PollTimeout::MAX);
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(2);
            if let Some(fd) = self.ready_fd() {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            match (&self.inner, &self.forwarder) {
                (Started::Local(s), _) => fds.push(PollFd::new(s.signal_fd(), PollFlags::POLLIN)),
                (Started::Launcher(_), Some(f)) => {
                    fds.push(PollFd::new(f.fd.as_fd(), PollFlags::POLLIN));
                }
                (Started::Launcher(_), None) => {}
            }
            let polled = poll(&mut fds, timeout);
            drop(fds);
            self.relay_forwarded();
            match polled {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => {
                    return Err(IsolationError::Launcher {
                        what: "poll".into(),
                        source: Some(e.into()),
                    });
                }
            }
        }
    }

    /// Wait for the sandbox to end. It returns once no process of the sandbox runs any
    /// more; the kernel may still be tearing its namespaces down. `[agent] timeout` is
    /// enforced meanwhile (here, or by the launcher).
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the launcher died without reporting.
    pub fn wait(mut self) -> Result<SandboxStatus, IsolationError> {
        match &mut self.inner {
            Started::Local(s) => Ok(s.wait()),
            Started::Launcher(l) => {
                while l.end.is_none() {
                    l.next(true)?;
                }
                Ok(l.end.clone().unwrap_or(SandboxStatus::Stopped))
            }
        }
    }

    /// Stop the agent as a timeout does: `SIGTERM` to its process group now, every process
    /// of the sandbox killed [`super::TIMEOUT_GRACE`] later. The end is
    /// [`SandboxStatus::Stopped`] (unless it had ended already).
    pub fn terminate(&mut self) {
        match &mut self.inner {
            Started::Local(s) => s.terminate(),
            Started::Launcher(l) => l.request(STOP_GRACEFULLY),
        }
    }

    /// Kill every process of the sandbox now. The end is [`SandboxStatus::Stopped`]
    /// (unless it had ended already).
    pub fn kill(&mut self) {
        match &mut self.inner {
            Started::Local(s) => s.kill(),
            Started::Launcher(l) => l.request(STOP_NOW),
        }
    }

    /// Like [`RunningSandbox::wait`], passing the signals `forwarder` took on to the
    /// sandbox meanwhile.
    ///
    /// # Errors
    /// As [`RunningSandbox::wait`].
    pub fn wait_forwarding_signals(
        self,
        forwarder: &SignalForwarder,
    ) -> Result<SandboxStatus, IsolationError> {
        let l = match &self.inner {
            // The sandbox's own signal descriptor takes the forwarded signals (they are
            // blocked in this process) and passes them to pid 1.
            Started::Local(_) => return self.wait(),
            Started::Launcher(l) => l,
        };
        // An event already buffered would never wake poll on the socket.
        while l.events.buffer().is_empty() && l.end.is_none() {
            let mut fds = [
                PollFd::new(l.events.get_ref().as_fd(), PollFlags::POLLIN),
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
                self.relay_from(forwarder);
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                break;
            }
        }
        self.wait()
    }
}

impl LauncherSide {
    /// Take the launcher's next event: blocking, or only when one is ready. Whether one was
    /// taken.
    fn next(&mut self, block: bool) -> Result<bool, IsolationError> {
        if !block && self.events.buffer().is_empty() {
            let mut fds = [PollFd::new(
                self.events.get_ref().as_fd(),
                PollFlags::POLLIN,
            )];
            if !poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0) {
                return Ok(false);
            }
        }
        match next_event(&mut self.events) {
            Ok(Some(LauncherEvent::Started { report, init_pid })) => {
                self.report = Some(report);
                self.init = Some(Pid::from_raw(init_pid));
            }
            Ok(Some(LauncherEvent::Failed { failure })) => {
                self.end = Some(SandboxStatus::SetupFailed { failure });
                self.reap();
            }
            Ok(Some(LauncherEvent::Exited { status })) => {
                self.end = Some(status);
                self.reap();
            }
            Ok(None) => {
                let status = self.reap();
                self.end = Some(SandboxStatus::Stopped);
                return Err(IsolationError::Launcher {
                    what: format!("ended without reporting how the sandbox ended ({status})"),
                    source: None,
                });
            }
            Err(e) => {
                self.end = Some(SandboxStatus::Stopped);
                self.request(STOP_NOW);
                return Err(e);
            }
        }
        Ok(true)
    }

    /// Ask the launcher to stop the sandbox; it may be gone already.
    fn request(&self, what: u8) {
        if self.end.is_none() {
            let _ = self.events.get_ref().write_all(&[what]);
        }
    }

    /// Wait for the launcher when it is this process's child; how it ended, for messages.
    fn reap(&mut self) -> String {
        match self.child.take().map(|mut c| c.wait()) {
            Some(Ok(status)) => status.to_string(),
            Some(Err(e)) => e.to_string(),
            None => "forked by the spawner".into(),
        }
    }
}

impl Drop for LauncherSide {
    fn drop(&mut self) {
        // Kill-on-drop: the launcher stops the sandbox on this request, and on the
        // channel's end anyway.
        self.request(STOP_NOW);
        let _ = self.events.get_ref().shutdown(std::net::Shutdown::Both);
        self.reap();
    }
}

/// Send `plan` on a launcher's channel: its length (eight bytes, little-endian), then the
/// JSON.
///
/// # Errors
/// [`IsolationError::Launcher`] when it cannot be encoded or written.
fn send_plan(chan: &UnixStream, plan: &SandboxPlan) -> Result<(), IsolationError> {
    let json = serde_json::to_vec(plan).map_err(|e| IsolationError::Launcher {
        what: format!("encode plan: {e}"),
        source: None,
    })?;
    let len = json.len() as u64;
    if len > MAX_PLAN_BYTES {
        return Err(IsolationError::Launcher {
            what: format!("the plan is {len} bytes, over the limit of {MAX_PLAN_BYTES}"),
            source: None,
        });
    }
    let mut w = chan;
    w.write_all(&len.to_le_bytes())
        .and_then(|()| w.write_all(&json))
        .map_err(|e| IsolationError::Launcher {
            what: "send plan".into(),
            source: Some(e),
        })
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

/// A descriptor, or none, for each standard stream.
pub(super) type Streams = [Option<OwnedFd>; 3];

/// The pipes for standard streams a launcher's sandbox gets: for each, the descriptor to
/// hand the launcher (`None`: its own, i.e. inherited) and this process's end.
///
/// # Errors
/// [`IsolationError::Launcher`] when a pipe cannot be made or a descriptor copied.
pub(super) fn launcher_stdio(io: [local::Io; 3]) -> Result<(Streams, Streams), IsolationError> {
    let err = |what: &'static str| {
        move |e: std::io::Error| IsolationError::Launcher {
            what: what.into(),
            source: Some(e),
        }
    };
    let mut theirs: [Option<OwnedFd>; 3] = [None, None, None];
    let mut ours: [Option<OwnedFd>; 3] = [None, None, None];
    for (i, kind) in io.into_iter().enumerate() {
        match kind {
            local::Io::Inherit => {}
            local::Io::Piped => {
                let (r, w) = std::io::pipe().map_err(err("pipe"))?;
                let (t, o): (OwnedFd, OwnedFd) = if i == 0 {
                    (r.into(), w.into())
                } else {
                    (w.into(), r.into())
                };
                theirs[i] = Some(t);
                ours[i] = Some(o);
            }
            local::Io::Fd(fd) => theirs[i] = Some(fd.try_clone().map_err(err("dup terminal"))?),
        }
    }
    Ok((theirs, ours))
}

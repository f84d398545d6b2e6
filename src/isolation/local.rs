//! Starting a sandbox from the calling process: clone pid 1 into new namespaces, write its
//! id maps, put it in its cgroup, let it build the root and start the agent, then forward
//! signals and collect the agent's exit code.
//!
//! The calling process must be single-threaded: the child of `clone` runs Rust code (it
//! allocates, builds the root) on a copy of the caller, and only the calling thread exists
//! in that copy. The command line is single-threaded when it starts a sandbox; a
//! multi-threaded caller goes through the launcher instead (a fresh, single-threaded
//! process started from this binary that calls [`start`] on its behalf).
//!
//! What pid 1 inherits from the caller, and what it does about it:
//! - descriptors: all are closed except the standard streams, the passed ones and its three
//!   pipes, right after `clone`;
//! - command line and environment: the strings the kernel placed at `execve` (what
//!   `/proc/1/cmdline` and `/proc/1/environ` show) and those `environ` points to are
//!   overwritten with zeros before anything else, and `/proc/1/cmdline` reads
//!   `mycelium-init`;
//! - memory: the rest of the caller's memory stays mapped in pid 1, copies of variables the
//!   caller made on its heap included. That is why pid 1 is not dumpable, holds no
//!   capability, is outside the agent's Landlock domain and is behind the agent's seccomp
//!   filter (no `ptrace`, no `process_vm_readv`): four separate checks stand between the
//!   agent and that memory. `MYCELIUM_LAUNCHER=1` starts every sandbox through the
//!   re-executed launcher instead, whose memory never held the caller's; it costs one
//!   more start of this binary (about a millisecond).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, geteuid, getgid, getuid, pipe2, setgroups};

use super::cgroup::SandboxCgroup;
use super::child::AgentEnd;
use super::plan::SandboxPlan;
use super::protocol::{FIRST_PASSED_FD, SetupFailure};
use super::pty::WindowSync;
use super::report::{self, SandboxReport};
use super::sys::{self, CloneResult};
use super::{SandboxStatus, TIMEOUT_GRACE, child, signal_set};

fn errno_failure(step: &str, e: Errno) -> SetupFailure {
    SetupFailure::new(step, e.desc().into(), e as i32)
}

/// One standard stream of the sandbox.
#[derive(Debug, Clone)]
pub enum Io {
    /// The caller's own stream.
    Inherit,
    /// A pipe; the caller gets the other end.
    Piped,
    /// This descriptor (the slave of the sandbox's own terminal, see [`super::pty`]).
    Fd(std::sync::Arc<OwnedFd>),
}

/// What `/proc/self/stat` says of this process that starting a sandbox needs: read once,
/// before the decision to start here and before `clone`.
#[derive(Debug, Clone, Copy)]
pub struct SelfStat {
    /// Field 20: the number of threads.
    pub threads: u64,
    /// Fields 48–51: where the argument and environment strings are (copied as they are
    /// into pid 1, which wipes them).
    pub areas: Option<sys::StringAreas>,
}

impl SelfStat {
    /// Read `/proc/self/stat`; `None` when it cannot be read or parsed.
    #[must_use]
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) is in parentheses and may hold spaces: count fields
        // from the last ')', where field 3 has index 0.
        let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
        let num = |field: usize| fields.get(field - 3)?.parse::<usize>().ok();
        let areas = (|| {
            Some(sys::StringAreas {
                args: (num(48)?, num(49)?),
                env: (num(50)?, num(51)?),
            })
        })();
        Some(SelfStat {
            threads: num(20)? as u64,
            areas,
        })
    }
}

/// A sandbox started by this process whose agent is running (or whose setup is still
/// under way until [`LocalSandbox::wait_started`] answers).
#[derive(Debug)]
pub struct LocalSandbox {
    init: Pid,
    signals: SignalFd,
    old_mask: SigSet,
    status: Option<File>,
    exit: Option<File>,
    group: Option<SandboxCgroup>,
    maps: (String, String),
    /// `[agent] timeout` and when it runs out (`None`: no limit, or already passed).
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    /// After the timeout's `SIGTERM`: when pid 1 gets `SIGKILL`.
    kill_at: Option<Instant>,
    /// The timeout ran out.
    timed_out: bool,
    /// The caller asked it to stop ([`LocalSandbox::terminate`], [`LocalSandbox::kill`]).
    stopped: bool,
    /// pid 1's process descriptor: readable once it has exited.
    pidfd: Option<OwnedFd>,
    /// How it ended, once known: then nothing of the sandbox is left to stop (pid 1 has
    /// reported or been reaped).
    end: Option<SandboxStatus>,
    /// The launcher's channel ended or failed: it is no longer polled.
    control_gone: bool,
    /// Set by the caller when the sandbox has its own terminal: `SIGWINCH` copies the
    /// window size to it instead of being forwarded.
    pub(super) window: Option<WindowSync>,
    /// The caller's ends of piped standard streams: stdin (write), stdout, stderr (read).
    pub(super) pipes: [Option<OwnedFd>; 3],
}

/// How the wait for pid 1 ended.
enum InitEnd {
    /// pid 1 reported how the agent ended: no process of the sandbox runs any more, though
    /// pid 1 itself may not have exited yet.
    Reported(AgentEnd),
    /// pid 1 exited (and was reaped) without reporting: how it ended.
    Exited(AgentEnd),
}

/// A request on the launcher's channel (see [`LocalSandbox::wait_controlled`]).
pub(super) const STOP_GRACEFULLY: u8 = b'T';
/// A request on the launcher's channel: kill the whole sandbox now.
pub(super) const STOP_NOW: u8 = b'K';

/// Start the sandbox `plan` describes, with `passed` placed at descriptors
/// [`FIRST_PASSED_FD`], `+1`, … inside. The calling process must be single-threaded;
/// `areas` are its own argument and environment strings ([`SelfStat`]), for pid 1 to wipe.
///
/// # Errors
/// The step that failed before pid 1 could be started or given its id maps and cgroup.
pub fn start(
    plan: &SandboxPlan,
    io: [Io; 3],
    passed: &[RawFd],
    areas: Option<sys::StringAreas>,
) -> Result<LocalSandbox, SetupFailure> {
    // Pipes for the standard streams: the child's end first, the caller's second.
    let mut child_io: [Option<OwnedFd>; 3] = [None, None, None];
    let mut pipes: [Option<OwnedFd>; 3] = [None, None, None];
    for (i, kind) in io.iter().enumerate() {
        match kind {
            Io::Piped => {
                let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| errno_failure("pipe", e))?;
                let (theirs, ours) = if i == 0 { (r, w) } else { (w, r) };
                child_io[i] = Some(theirs);
                pipes[i] = Some(ours);
            }
            Io::Fd(fd) => {
                let copy = fd.try_clone().map_err(|e| {
                    SetupFailure::new("dup", e.to_string(), e.raw_os_error().unwrap_or(0))
                })?;
                child_io[i] = Some(copy);
            }
            Io::Inherit => {}
        }
    }
    // Real root may drop its supplementary groups (an unprivileged caller cannot, and
    // writes `deny` to setgroups below so they cannot be used to drop access either).
    if geteuid().is_root() {
        setgroups(&[]).map_err(|e| errno_failure("setgroups", e))?;
    }

    // Signals are taken through a signalfd, so block them first; pid 1 inherits the mask
    // and the agent clears it just before exec.
    let mut old_mask = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&signal_set()),
        Some(&mut old_mask),
    )
    .map_err(|e| errno_failure("sigprocmask", e))?;
    let restore = |e: SetupFailure| {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
        e
    };
    let signals = SignalFd::with_flags(&signal_set(), SfdFlags::SFD_CLOEXEC)
        .map_err(|e| restore(errno_failure("signalfd", e)))?;
    let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(|e| restore(errno_failure("pipe", e)));
    let (go_r, go_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let (exit_r, exit_w) = pipe()?;

    let mut flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    if plan.new_network_ns {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    // The inside ids map to the caller's own, or for a root caller to the unprivileged
    // ids the plan chose (`ids::choose`): never to host uid 0 when the plan has them.
    let (outer_uid, outer_gid) = match plan.host_ids {
        Some(h) => (h.uid, h.gid),
        None => (getuid().as_raw(), getgid().as_raw()),
    };
    let uid_map = format!("{} {} 1", plan.uid, outer_uid);
    let gid_map = format!("{} {} 1", plan.gid, outer_gid);
    // Without a cgroup to join first, pid 1 writes its own one-id maps (user_namespaces(7)
    // lets a process map its own effective ids when it created the namespace's creds) and
    // goes on at once; with one, or with ids other than its own, this process writes them
    // (it holds CAP_SETUID where it stands; pid 1 may only map the id it has) and moves pid
    // 1 into the group before letting it run anything.
    let maps_by_init = plan.cgroup.is_empty() && !plan.cgroup_required && plan.host_ids.is_none();
    let init = match sys::clone_process(flags) {
        Err(e) => {
            return Err(restore(SetupFailure::new(
                "clone",
                e.to_string(),
                e.errno as i32,
            )));
        }
        Ok(CloneResult::Child) => {
            let maps = maps_by_init.then_some((uid_map.as_str(), gid_map.as_str()));
            pid1(
                plan,
                child_io,
                passed,
                [go_r, status_w, exit_w],
                maps,
                areas,
            )
        }
        Ok(CloneResult::Parent(pid)) => pid,
    };
    drop((go_r, status_w, exit_w, child_io));
    let abort = |f: SetupFailure| {
        let _ = kill(init, Signal::SIGKILL);
        let _ = waitpid(init, None);
        restore(f)
    };

    let group = if maps_by_init {
        None
    } else {
        write_id_maps(&init.to_string(), &uid_map, &gid_map).map_err(abort)?;
        // Into its cgroup before it runs anything, so every process it ever starts is
        // counted.
        SandboxCgroup::create(&format!("mycelium-{init}"), &plan.cgroup, init)
            .map_err(|e| abort(SetupFailure::new("cgroup", e, 0)))?
    };
    if group.is_none() && plan.cgroup_required {
        return Err(abort(SetupFailure::new(
            "cgroup",
            "no cgroup could be created for the sandbox, and limits.memory relies on one here (memfd and System V IPC are allowed only because a memory cgroup counts them)".into(),
            0,
        )));
    }
    // Let pid 1 go on; it was waiting so that it never ran without its id maps and cgroup.
    let mut go = File::from(go_w);
    std::io::Write::write_all(&mut go, b"G")
        .map_err(|e| abort(SetupFailure::new("start sandbox", e.to_string(), 0)))?;
    Ok(LocalSandbox {
        init,
        signals,
        old_mask,
        status: Some(File::from(status_r)),
        exit: Some(File::from(exit_r)),
        group,
        maps: (uid_map, gid_map),
        timeout: plan.timeout,
        deadline: plan.timeout.and_then(|t| Instant::now().checked_add(t)),
        kill_at: None,
        timed_out: false,
        stopped: false,
        pidfd: sys::pidfd_open(init).ok(),
        end: None,
        control_gone: false,
        window: None,
        pipes,
    })
}

/// pid 1 right after `clone`: its descriptors, keyring, environment and (when `maps` are
/// given) its own id maps, then the init.
fn pid1(
    plan: &SandboxPlan,
    io: [Option<OwnedFd>; 3],
    passed: &[RawFd],
    [go, status, exit]: [OwnedFd; 3],
    maps: Option<(&str, &str)>,
    areas: Option<sys::StringAreas>,
) -> ! {
    let stdio = io.each_ref().map(|o| o.as_ref().map(AsRawFd::as_raw_fd));
    let keep = [go.as_raw_fd(), status.as_raw_fd(), exit.as_raw_fd()];
    // Nothing of the caller's may reach the sandbox: its command line and environment are
    // wiped (pid 1's command line, which the agent can read, says only what it is) and
    // every descriptor it did not hand over explicitly is closed.
    sys::wipe_arguments_and_environment(c"mycelium-init", areas);
    let Ok([go, status, exit]) = sys::arrange_fds(stdio, passed, FIRST_PASSED_FD, keep) else {
        // There is no channel to report on yet; the caller sees the status pipe close.
        sys::exit_immediately(super::SETUP_FAILED_CODE)
    };
    std::mem::forget(io);
    let mut status_file = File::from(status);
    // Keys in the caller's session keyring must not be reachable from the sandbox.
    match sys::join_session_keyring() {
        Ok(_) => {}
        Err(e) if e.errno == Errno::ENOSYS => {}
        Err(e) => child::die(
            &mut status_file,
            &SetupFailure::new("keyctl JOIN_SESSION_KEYRING", e.to_string(), e.errno as i32),
        ),
    }
    if let Some((uid_map, gid_map)) = maps
        && let Err(f) = write_id_maps("self", uid_map, gid_map)
    {
        child::die(&mut status_file, &f);
    }
    child::run_init(plan, go, OwnedFd::from(status_file), exit)
}

/// Write the one-id maps of process `pid` (a number, or `self`).
fn write_id_maps(pid: &str, uid_map: &str, gid_map: &str) -> Result<(), SetupFailure> {
    let write = |file: &str, content: &str| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, content).map_err(|e| {
            SetupFailure::new(
                &format!("write {file}"),
                format!("{path}: {e}"),
                e.raw_os_error().unwrap_or(0),
            )
        })
    };
    // Without `deny`, an unprivileged user may not write gid_map (user_namespaces(7)); it
    // also stops the sandbox from dropping supplementary groups to dodge a deny-ACL.
    write("setgroups", "deny")?;
    write("uid_map", uid_map)?;
    write("gid_map", gid_map)
}

impl LocalSandbox {
    /// pid 1, as this process sees it.
    #[must_use]
    pub fn init_pid(&self) -> Pid {
        self.init
    }

    /// What was applied to the sandbox `plan` (the plan it was started from) describes.
    #[must_use]
    pub fn report(&self, plan: &SandboxPlan) -> SandboxReport {
        let mut report = report::for_plan(plan, &self.maps.0, &self.maps.1);
        if let Some(g) = &self.group {
            report.limits.mechanism = format!("rlimit + {}", g.mechanism);
            report.limits.applied.extend(g.applied.iter().cloned());
        }
        report
    }

    /// Wait until the agent has been executed, or say which step failed.
    ///
    /// # Errors
    /// The failure pid 1 or the agent reported; nothing of the command ran.
    pub fn wait_started(&mut self) -> Result<(), SetupFailure> {
        let Some(mut status) = self.status.take() else {
            return Ok(());
        };
        // EOF: the agent's exec closed the last copy. Data: a failure.
        let mut buf = Vec::new();
        let _ = status.read_to_end(&mut buf);
        if buf.is_empty() {
            return Ok(());
        }
        let _ = waitpid(self.init, None);
        if let Some(g) = self.group.take() {
            g.remove();
        }
        self.exit = None;
        let failure = serde_json::from_slice(&buf).unwrap_or_else(|_| {
            SetupFailure::new("setup", String::from_utf8_lossy(&buf).into_owned(), 0)
        });
        self.end = Some(SandboxStatus::SetupFailed {
            failure: SetupFailure::clone(&failure),
        });
        Err(failure)
    }

    /// Wait for the agent to end, passing on the signals this process receives meanwhile
    /// (`SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGUSR1`, `SIGUSR2`, `SIGWINCH`).
    ///
    /// It returns as soon as pid 1 reports how the agent ended, which it does once every
    /// process of the sandbox is gone; pid 1 itself may still be exiting then (the kernel
    /// tears the namespaces down). Only with a cgroup is pid 1 waited for, since the group
    /// can only be removed once it is empty.
    ///
    /// With `[agent] timeout`, the agent gets `SIGTERM` (through pid 1, which passes it to
    /// the agent's process group) when the time is up, and pid 1 `SIGKILL` (which ends every
    /// process of its namespace) [`TIMEOUT_GRACE`] later; the status then says it timed out.
    #[must_use]
    pub fn wait(&mut self) -> SandboxStatus {
        self.wait_loop(None)
    }

    /// [`LocalSandbox::wait`] that also obeys `control`, the launcher's channel to its
    /// caller: `STOP_GRACEFULLY` stops the agent as a timeout would, `STOP_NOW` kills
    /// the sandbox, and the end of the channel (the caller is gone, or dropped its handle)
    /// kills it too: a launcher never keeps a sandbox its caller let go of.
    #[must_use]
    pub fn wait_controlled(&mut self, control: &UnixStream) -> SandboxStatus {
        self.wait_loop(Some(control))
    }

    fn wait_loop(&mut self, control: Option<&UnixStream>) -> SandboxStatus {
        if let Some(end) = self.end.clone() {
            return end;
        }
        let end = self.wait_for_init(control);
        self.finish(end)
    }

    /// pid 1 reported or was reaped: clean up and say how it ended.
    fn finish(&mut self, end: InitEnd) -> SandboxStatus {
        let agent = match end {
            InitEnd::Reported(agent) if self.group.is_none() => agent,
            InitEnd::Reported(agent) => {
                let _ = waitpid(self.init, None);
                agent
            }
            InitEnd::Exited(own) => own,
        };
        if let Some(g) = self.group.take() {
            g.remove();
        }
        self.exit = None;
        let status = match (self.timeout.filter(|_| self.timed_out), agent) {
            (Some(after), _) => SandboxStatus::TimedOut { after },
            (None, _) if self.stopped => SandboxStatus::Stopped,
            (None, AgentEnd::Exited(code)) => SandboxStatus::Exited { code },
            (None, AgentEnd::Signaled(signal)) => SandboxStatus::Signaled { signal },
        };
        self.end = Some(status.clone());
        status
    }

    /// How the sandbox ended, if it has, without blocking; acts on the timeout when it has
    /// run out. Call it when [`LocalSandbox::ready_fd`] is readable or at
    /// [`LocalSandbox::next_deadline`].
    pub fn try_wait(&mut self) -> Option<SandboxStatus> {
        if let Some(end) = &self.end {
            return Some(end.clone());
        }
        self.forward_pending_signals();
        let _ = self.enforce_timeout();
        let mut fds = [PollFd::new(self.exit.as_ref()?.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0);
        if !ready {
            return None;
        }
        let end = self.read_exit_pipe();
        Some(self.finish(end))
    }

    /// The exit pipe is readable: pid 1's report, or its end (then pid 1 is reaped).
    fn read_exit_pipe(&mut self) -> InitEnd {
        if let Some(mut e) = self.exit.take() {
            let mut bytes = [0u8; AgentEnd::LEN];
            // Eight bytes or nothing: a pipe write that small is atomic.
            if e.read_exact(&mut bytes).is_ok()
                && let Some(end) = AgentEnd::from_bytes(bytes)
            {
                return InitEnd::Reported(end);
            }
        }
        // The write end closed without a report: pid 1 is gone or going.
        match waitpid(self.init, None) {
            Ok(WaitStatus::Signaled(_, sig, _)) => InitEnd::Exited(AgentEnd::Signaled(sig as i32)),
            Ok(WaitStatus::Exited(_, code)) => InitEnd::Exited(AgentEnd::Exited(code)),
            _ => InitEnd::Exited(AgentEnd::Signaled(libc::SIGKILL)),
        }
    }

    /// Pass on the forwarded signals this process has received (they are blocked, and
    /// wait in the signal descriptor), without blocking; `SIGCHLD` is left to the wait.
    fn forward_pending_signals(&mut self) {
        loop {
            let mut fds = [PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            if !poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0) {
                return;
            }
            let Ok(Some(info)) = self.signals.read_signal() else {
                return;
            };
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) | Err(_) => {}
                Ok(Signal::SIGWINCH) if self.window.is_some() => {
                    if let Some(w) = &self.window {
                        w.sync();
                    }
                }
                Ok(sig) => {
                    let _ = kill(self.init, sig);
                }
            }
        }
    }

    /// The descriptor the forwarded signals arrive on: readable when
    /// [`LocalSandbox::try_wait`] has a signal to pass on.
    #[must_use]
    pub fn signal_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.signals.as_fd()
    }

    /// A descriptor that becomes readable when the sandbox has ended (pid 1's report, or
    /// its end): what an async caller waits on before [`LocalSandbox::try_wait`].
    #[must_use]
    pub fn ready_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.exit.as_ref().map(AsFd::as_fd)
    }

    /// pid 1's process descriptor (`pidfd_open`), readable once pid 1 has exited.
    #[must_use]
    pub fn pidfd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// When [`LocalSandbox::try_wait`] must next be called to act on the timeout.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.kill_at.or(self.deadline)
    }

    /// Stop the agent the way a timeout does: `SIGTERM` to its process group now, the
    /// whole sandbox killed [`TIMEOUT_GRACE`] later (by [`LocalSandbox::try_wait`] or the
    /// wait). The status will be [`SandboxStatus::Stopped`].
    pub fn terminate(&mut self) {
        if self.end.is_some() || self.kill_at.is_some() {
            return;
        }
        self.stopped = true;
        let _ = kill(self.init, Signal::SIGTERM);
        self.kill_at = Instant::now().checked_add(TIMEOUT_GRACE);
    }

    /// Kill every process of the sandbox now (pid 1's death ends its namespace). The
    /// status will be [`SandboxStatus::Stopped`] unless it had ended already.
    pub fn kill(&mut self) {
        if self.end.is_some() {
            return;
        }
        self.stopped = true;
        // pid 1 is our child and not yet reaped, so its pid cannot have been reused.
        let _ = kill(self.init, Signal::SIGKILL);
    }

    /// Act on the timeout when it has run out; how long poll may sleep until it next must.
    fn enforce_timeout(&mut self) -> PollTimeout {
        let now = Instant::now();
        if self.kill_at.is_some_and(|t| now >= t) {
            // The agent had its grace: pid 1's death takes the whole namespace with it.
            let _ = kill(self.init, Signal::SIGKILL);
            self.kill_at = None;
        } else if self.deadline.is_some_and(|t| now >= t) {
            self.timed_out = true;
            self.deadline = None;
            let _ = kill(self.init, Signal::SIGTERM);
            self.kill_at = now.checked_add(TIMEOUT_GRACE);
        }
        match self.kill_at.or(self.deadline) {
            None => PollTimeout::NONE,
            Some(t) => {
                // Rounded up, so the wake-up is never early (which would spin).
                let ms = t.saturating_duration_since(now).as_millis() + 1;
                PollTimeout::try_from(i32::try_from(ms).unwrap_or(i32::MAX))
                    .unwrap_or(PollTimeout::MAX)
            }
        }
    }

    /// Obey one read from the launcher's channel.
    fn obey(&mut self, control: &UnixStream) {
        let mut byte = [0u8; 1];
        match (&*control).read(&mut byte) {
            Ok(1) if byte[0] == STOP_GRACEFULLY => self.terminate(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // STOP_NOW, anything unknown, an error, or the end of the channel.
            _ => {
                self.kill();
                self.control_gone = true;
            }
        }
    }

    fn wait_for_init(&mut self, control: Option<&UnixStream>) -> InitEnd {
        loop {
            let sleep = self.enforce_timeout();
            let control = control.filter(|_| !self.control_gone);
            let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            if let Some(e) = &self.exit {
                fds.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
            }
            if let Some(c) = control {
                fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
            }
            let polled = poll(&mut fds, sleep);
            let ready = |i: usize| {
                fds.get(i)
                    .and_then(PollFd::revents)
                    .is_some_and(|r| !r.is_empty())
            };
            let exit_ready = self.exit.is_some() && ready(1);
            let control_ready = control.is_some() && ready(fds.len() - 1);
            // If poll itself fails, block on the signals alone: that wait still ends.
            let broken = polled.is_err_and(|e| e != Errno::EINTR);
            let signal_ready = broken || ready(0);
            drop(fds);
            if broken {
                self.exit = None;
                self.control_gone = true;
            }
            if exit_ready {
                return self.read_exit_pipe();
            }
            if let (true, Some(c)) = (control_ready, control) {
                self.obey(c);
            }
            if !signal_ready {
                continue;
            }
            match self.signals.read_signal() {
                Ok(Some(info)) if info.ssi_signo as i32 == libc::SIGCHLD => {
                    match waitpid(self.init, Some(WaitPidFlag::WNOHANG)) {
                        Ok(WaitStatus::Exited(_, code)) => {
                            return InitEnd::Exited(AgentEnd::Exited(code));
                        }
                        Ok(WaitStatus::Signaled(_, sig, _)) => {
                            return InitEnd::Exited(AgentEnd::Signaled(sig as i32));
                        }
                        _ => {}
                    }
                }
                Ok(Some(info))
                    if info.ssi_signo as i32 == libc::SIGWINCH && self.window.is_some() =>
                {
                    if let Some(w) = &self.window {
                        w.sync();
                    }
                }
                Ok(Some(info)) => {
                    if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                        let _ = kill(self.init, sig);
                    }
                }
                Ok(None) | Err(_) => {}
            }
        }
    }
}

impl Drop for LocalSandbox {
    fn drop(&mut self) {
        if self.end.is_none() {
            // Dropped before the end: the sandbox goes with it (pid 1's death ends every
            // process of its namespace).
            let _ = kill(self.init, Signal::SIGKILL);
            let _ = waitpid(self.init, None);
        }
        if let Some(g) = self.group.take() {
            g.remove();
        }
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }
}

//! The spawner: how a multi-threaded host (the MCP server, a worker) starts sandboxes.
//!
//! The clone child of a sandbox runs ordinary Rust, which is only sound in a copy of a
//! single-threaded process, and pid 1 should never hold the host's memory. So the host
//! starts one spawner at start-up: this binary re-executed with an empty environment, its
//! standard input and output on `/dev/null` (a server's stdout is its protocol), in a
//! session of its own (a `^C` meant for the host does not reach it). For each sandbox the
//! host sends it one message on a `SOCK_SEQPACKET` socket — a small header and, by
//! `SCM_RIGHTS`, the launcher channel, the standard streams and the passed descriptors —
//! and the spawner forks: the child arranges those descriptors exactly as a re-executed
//! launcher finds them and becomes that launcher (`launcher::main`). A sandbox costs a fork
//! of a small, clean process instead of an `execve` of the binary.
//!
//! Who dies with whom: the host's channel to each launcher is what ties a sandbox to the
//! host (its end stops the sandbox), so the spawner's own death leaves running sandboxes
//! alone; the host starts a new spawner for the next sandbox ([`Spawner::spawn`] retries
//! once on a dead one). The spawner exits when the host's end of its socket closes.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, sendmsg, socketpair,
};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{Pid, setsid};

use super::handle::{self, RunningSandbox};
use super::local::Io;
use super::plan::SandboxPlan;
use super::protocol::{FIRST_PASSED_FD, LAUNCHER_FD};
use super::sys::{self, CloneResult};
use super::{IsolationError, launcher};

/// The first argument that turns the binary into the spawner.
pub const SPAWNER_ARG: &str = "__mycelium_spawner";

/// The descriptor the spawner finds its request socket on.
const SPAWNER_FD: i32 = 3;

// The forked launcher's channel sits at LAUNCHER_FD and the passed descriptors right after
// it, where `launcher::main` finds them.
const _: () = assert!(LAUNCHER_FD + 1 == FIRST_PASSED_FD);

/// A request's header: which standard streams follow (bit i: stream i), then how many
/// passed descriptors.
const HEADER_LEN: usize = 2;

fn launcher_error(what: &str, source: Option<std::io::Error>) -> IsolationError {
    IsolationError::Launcher {
        what: what.into(),
        source,
    }
}

/// The host's side of the spawner: starts sandboxes through it, and starts it again when
/// it has died.
#[derive(Debug)]
pub struct Spawner {
    exe: PathBuf,
    current: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    child: Child,
    requests: OwnedFd,
}

impl Running {
    fn start(exe: &Path) -> Result<Self, IsolationError> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| launcher_error("spawner socketpair", Some(e.into())))?;
        let mut cmd = Command::new(exe);
        cmd.arg(SPAWNER_ARG)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = sys::spawn_with_fds(&mut cmd, &[(&theirs, SPAWNER_FD)])
            .map_err(|e| launcher_error("start the spawner", Some(e)))?;
        Ok(Running {
            child,
            requests: ours,
        })
    }

    fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Send one request: the header and the descriptors, in one message.
    fn send(&self, header: [u8; HEADER_LEN], fds: &[i32]) -> std::io::Result<()> {
        let iov = [IoSlice::new(&header)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        sendmsg::<()>(
            self.requests.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map(|_| ())
        .map_err(std::io::Error::from)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Closing our end tells the spawner to exit; running sandboxes are not its to stop.
        let _ =
            nix::sys::socket::shutdown(self.requests.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let _ = self.child.wait();
    }
}

impl Spawner {
    /// Start the spawner from the binary `exe` (for the `mycelium` binary itself,
    /// `/proc/self/exe`).
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when it cannot be started.
    pub fn start(exe: &Path) -> Result<Self, IsolationError> {
        let running = Running::start(exe)?;
        Ok(Spawner {
            exe: exe.to_path_buf(),
            current: Mutex::new(Some(running)),
        })
    }

    /// The spawner's pid right now, if one runs.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        let mut current = self.current.lock().ok()?;
        let running = current.as_mut()?;
        running.is_alive().then(|| running.child.id())
    }

    /// Start the sandbox `plan` describes, like [`super::launch_with_fds`]; a standard
    /// stream given as [`Io::Inherit`] is the spawner's: `/dev/null` for input and output,
    /// the host's standard error. A spawner found dead is started again, once.
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the spawner cannot be reached or started, the
    /// descriptor counts are wrong, or the plan cannot be sent.
    pub fn spawn(
        &self,
        plan: &SandboxPlan,
        stdin: Io,
        stdout: Io,
        stderr: Io,
        passed: &[OwnedFd],
    ) -> Result<RunningSandbox, IsolationError> {
        super::check_passed(plan, passed)?;
        let (theirs_io, ours_io) = handle::launcher_stdio([stdin, stdout, stderr])?;
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| launcher_error("socketpair", Some(e)))?;
        let mut mask = 0u8;
        let mut fds = vec![theirs.as_raw_fd()];
        for (i, fd) in theirs_io.iter().enumerate() {
            if let Some(fd) = fd {
                mask |= 1 << i;
                fds.push(fd.as_raw_fd());
            }
        }
        fds.extend(passed.iter().map(AsRawFd::as_raw_fd));
        let header = [mask, u8::try_from(passed.len()).unwrap_or(u8::MAX)];
        self.send(header, &fds)?;
        // The spawner has its copies now; ours go, so the launcher's end is its alone.
        drop((theirs, theirs_io));
        RunningSandbox::launcher(None, ours, ours_io, plan)
    }

    fn send(&self, header: [u8; HEADER_LEN], fds: &[i32]) -> Result<(), IsolationError> {
        let mut current = self
            .current
            .lock()
            .map_err(|_| launcher_error("spawner lock poisoned", None))?;
        for attempt in 0..2 {
            if !current.as_mut().is_some_and(Running::is_alive) {
                // Dropping the dead one reaps it.
                *current = None;
                *current = Some(Running::start(&self.exe)?);
            }
            let Some(running) = current.as_ref() else {
                continue;
            };
            match running.send(header, fds) {
                Ok(()) => return Ok(()),
                // It died between the check and the send: start another, once.
                Err(_) if attempt == 0 => *current = None,
                Err(e) => return Err(launcher_error("send to the spawner", Some(e))),
            }
        }
        Err(launcher_error("the spawner could not be started", None))
    }
}

/// Whether this process was started as the spawner (`argv[1]` is the marker).
#[must_use]
pub fn is_spawner_invocation() -> bool {
    std::env::args_os().nth(1).is_some_and(|a| a == SPAWNER_ARG)
}

/// The spawner's whole life: take requests until the host closes its socket. Never
/// returns.
pub fn main() -> ! {
    let Ok(requests) = sys::adopt_inherited_fd(SPAWNER_FD) else {
        eprintln!("mycelium: the spawner is internal; run `mycelium serve` instead");
        sys::exit_immediately(2)
    };
    // Out of the host's session and process group: terminal signals meant for the host
    // (^C) do not reach the spawner or the launchers it forks.
    let _ = setsid();
    loop {
        reap_launchers();
        // Wake now and then to reap launchers that ended (their exit is no request).
        let mut fds = [PollFd::new(requests.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(1000u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => sys::exit_immediately(1),
        }
        let mut header = [0u8; HEADER_LEN];
        match sys::recv_with_fds(requests.as_fd(), &mut header) {
            // The host closed its end: it is gone, or done with us.
            Ok((0, _)) => sys::exit_immediately(0),
            Ok((n, fds)) if n == HEADER_LEN => fork_launcher(header, fds),
            // A malformed request: its descriptors close with it, the host sees its
            // launcher's channel end.
            Ok(_) => {}
            Err(e) if e.errno == nix::errno::Errno::EINTR => {}
            Err(e) if e.errno == nix::errno::Errno::EMSGSIZE => {}
            Err(_) => sys::exit_immediately(1),
        }
    }
}

/// Reap every launcher that has exited.
fn reap_launchers() {
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == nix::sys::wait::WaitStatus::StillAlive {
            break;
        }
    }
}

/// Fork a launcher for one request: `fds` are its channel, the standard streams the
/// header's mask names, then the passed descriptors.
fn fork_launcher(header: [u8; HEADER_LEN], fds: Vec<OwnedFd>) {
    let [mask, passed] = header;
    let streams = (0..3).filter(|i| mask & (1 << i) != 0).count();
    if fds.len() != 1 + streams + usize::from(passed) {
        return;
    }
    match sys::clone_process(CloneFlags::empty()) {
        // The host sees its channel end and reports the sandbox lost.
        Err(_) => {}
        // Our copies close when `fds` drops.
        Ok(CloneResult::Parent(_)) => {}
        Ok(CloneResult::Child) => {
            // This copy of the spawner is single-threaded (the spawner never starts a
            // thread), so it may go on as the launcher.
            let mut it = fds.iter().map(AsRawFd::as_raw_fd);
            let chan = it.next();
            let mut stdio = [None; 3];
            for (i, slot) in stdio.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    *slot = it.next();
                }
            }
            // The channel goes where a re-executed launcher finds it, the passed ones right
            // after it, as `launcher::main` expects; everything else (the request socket,
            // other requests' descriptors) is closed.
            let at_launcher_fd: Vec<i32> = chan.into_iter().chain(it).collect();
            if sys::arrange_fds(stdio, &at_launcher_fd, LAUNCHER_FD, []).is_err() {
                sys::exit_immediately(super::SETUP_FAILED_CODE);
            }
            // Their numbers now hold other descriptors (or none): never close them again.
            std::mem::forget(fds);
            launcher::main()
        }
    }
}

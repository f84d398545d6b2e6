//! The launcher: re-executed from this binary, single-threaded, it creates the sandbox.
//!
//! It starts with an empty environment, descriptors 0–2, its channel (fd 3) and any pinned
//! files the caller passes (fd 4 on), reads the [`SandboxPlan`], closes anything else it
//! inherited, leaves the caller's session
//! keyring, and clones pid 1 of the sandbox into new namespaces. It writes the id maps,
//! lets pid 1 proceed, relays setup failures, forwards signals, and reports the exit code.
//! None of the caller's environment, descriptors or keys exist in any process it creates.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::prctl;
use nix::sys::signal::{SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, geteuid, getgid, getppid, getuid, pipe2, setgroups};

use super::cgroup::SandboxCgroup;
use super::plan::SandboxPlan;
use super::protocol::{FIRST_PASSED_FD, LAUNCHER_FD, LauncherEvent, SetupFailure};
use super::report;
use super::sys::{self, CloneResult};
use super::{SETUP_FAILED_CODE, child, signal_set};

fn send(chan: &mut UnixStream, event: &LauncherEvent) {
    if let Ok(mut line) = serde_json::to_vec(event) {
        line.push(b'\n');
        // The caller may be gone; there is nobody left to tell.
        let _ = chan.write_all(&line);
    }
}

fn failure(step: &str, detail: String, errno: i32) -> SetupFailure {
    SetupFailure {
        step: step.into(),
        errno,
        detail,
    }
}

/// The launcher's whole life. Never returns.
pub(super) fn main() -> ! {
    let Ok(fd) = sys::adopt_inherited_fd(LAUNCHER_FD) else {
        eprintln!("mycelium: the launcher is internal; run `mycelium exec` instead");
        sys::exit_immediately(2)
    };
    let mut chan = UnixStream::from(fd);
    match run(&mut chan) {
        Ok(code) => sys::exit_immediately(code),
        Err(f) => {
            send(&mut chan, &LauncherEvent::Failed { failure: f });
            sys::exit_immediately(SETUP_FAILED_CODE)
        }
    }
}

fn run(chan: &mut UnixStream) -> Result<i32, SetupFailure> {
    let mut buf = Vec::new();
    chan.read_to_end(&mut buf)
        .map_err(|e| failure("read plan", e.to_string(), 0))?;
    let plan: SandboxPlan =
        serde_json::from_slice(&buf).map_err(|e| failure("read plan", e.to_string(), 0))?;
    // Descriptors the caller leaked to us (without close-on-exec) must not reach the
    // sandbox; ours are 0, 1, 2, the channel and the ones the plan says were passed.
    let keep = u32::try_from(FIRST_PASSED_FD).unwrap_or(4) + plan.passed_fds;
    sys::close_fds_from(keep).map_err(|e| failure("close_range", e.to_string(), e.errno as i32))?;

    // Die with the caller; if it already died, stop here.
    prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| failure("prctl PR_SET_PDEATHSIG", e.desc().into(), e as i32))?;
    if getppid() == Pid::from_raw(1) {
        return Err(failure("start", "the caller exited".into(), 0));
    }
    // Keys in the caller's session keyring must not be reachable from the sandbox.
    match sys::join_session_keyring() {
        Ok(_) => {}
        Err(e) if e.errno == nix::errno::Errno::ENOSYS => {}
        Err(e) => {
            return Err(failure(
                "keyctl JOIN_SESSION_KEYRING",
                e.to_string(),
                e.errno as i32,
            ));
        }
    }
    // Real root may drop its supplementary groups (an unprivileged caller cannot, and
    // writes `deny` to setgroups below so they cannot be used to drop access either).
    if geteuid().is_root() {
        setgroups(&[]).map_err(|e| failure("setgroups", e.desc().into(), e as i32))?;
    }

    // Signals are taken through a signalfd, so block them first; the sandbox inherits the
    // mask and the agent clears it just before exec.
    let mask = signal_set();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .map_err(|e| failure("sigprocmask", e.desc().into(), e as i32))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| failure("signalfd", e.desc().into(), e as i32))?;

    let (go_r, go_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| failure("pipe", e.desc().into(), e as i32))?;
    let (status_r, status_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| failure("pipe", e.desc().into(), e as i32))?;

    let mut flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    if plan.new_network_ns {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    let (outer_uid, outer_gid) = (getuid(), getgid());
    let init = match sys::clone_process(flags) {
        Err(e) => return Err(failure("clone", e.to_string(), e.errno as i32)),
        Ok(CloneResult::Child) => {
            drop((go_w, status_r, signals));
            // The channel is the caller's business, not the sandbox's. run_init never
            // returns, so the stream that owned this descriptor is never used again.
            let _ = nix::unistd::close(chan.as_raw_fd());
            child::run_init(&plan, go_r, status_w)
        }
        Ok(CloneResult::Parent(pid)) => pid,
    };
    drop((go_r, status_w));

    let uid_map = format!("{} {} 1", plan.uid, outer_uid);
    let gid_map = format!("{} {} 1", plan.gid, outer_gid);
    if let Err(f) = write_id_maps(init, &uid_map, &gid_map) {
        let _ = kill(init, Signal::SIGKILL);
        let _ = waitpid(init, None);
        return Err(f);
    }
    // Into its cgroup before it runs anything, so every process it ever starts is counted.
    let group = match SandboxCgroup::create(&format!("mycelium-{init}"), &plan.cgroup, init) {
        Ok(g) => g,
        Err(e) => {
            let _ = kill(init, Signal::SIGKILL);
            let _ = waitpid(init, None);
            return Err(failure("cgroup", e, 0));
        }
    };
    if group.is_none() && plan.cgroup_required {
        let _ = kill(init, Signal::SIGKILL);
        let _ = waitpid(init, None);
        return Err(failure(
            "cgroup",
            "no usable pids cgroup; limits.processes cannot be enforced for root".into(),
            0,
        ));
    }
    // Let pid 1 go on; it was waiting so that it never ran without its id maps.
    std::fs::File::from(go_w)
        .write_all(b"G")
        .map_err(|e| failure("start sandbox", e.to_string(), 0))?;

    // EOF on the status pipe: the agent's exec closed the last copy. Data: a failure.
    let mut status = Vec::new();
    let _ = std::fs::File::from(status_r).read_to_end(&mut status);
    if !status.is_empty() {
        let _ = waitpid(init, None);
        if let Some(g) = group {
            g.remove();
        }
        return Err(serde_json::from_slice(&status).unwrap_or_else(|_| {
            failure("setup", String::from_utf8_lossy(&status).into_owned(), 0)
        }));
    }
    let mut report = report::for_plan(&plan, &uid_map, &gid_map);
    if let Some(g) = &group {
        report.limits.mechanism = format!("rlimit + {}", g.mechanism);
        report.limits.applied.extend(g.applied.iter().cloned());
    }
    send(
        chan,
        &LauncherEvent::Started {
            report: Box::new(report),
        },
    );
    let code = wait_for_init(init, &signals);
    if let Some(g) = group {
        g.remove();
    }
    send(chan, &LauncherEvent::Exited { code });
    Ok(code)
}

fn write_id_maps(pid: Pid, uid_map: &str, gid_map: &str) -> Result<(), SetupFailure> {
    let write = |file: &str, content: &str| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, content).map_err(|e| {
            failure(
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

fn wait_for_init(init: Pid, signals: &SignalFd) -> i32 {
    loop {
        match signals.read_signal() {
            Ok(Some(info)) if info.ssi_signo as i32 == libc::SIGCHLD => {
                match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(_, code)) => return code,
                    Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
                    _ => {}
                }
            }
            Ok(Some(info)) => {
                if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                    let _ = kill(init, sig);
                }
            }
            Ok(None) | Err(_) => {}
        }
    }
}

//! The launcher: this binary re-executed as a fresh, single-threaded process that starts a
//! sandbox for a caller that cannot do it itself (a multi-threaded one: the child of
//! `clone` runs Rust code, which is only sound when the caller had a single thread).
//!
//! It starts with an empty environment, descriptors 0–2, its channel (fd 3) and any pinned
//! files the caller passes (fd 4 on), reads the [`SandboxPlan`], closes anything else it
//! inherited, and starts the sandbox with [`local::start`]; it relays the report, a setup
//! failure or the exit code back as [`LauncherEvent`]s.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{Pid, getppid};

use super::local::{self, Io};
use super::plan::SandboxPlan;
use super::protocol::{FIRST_PASSED_FD, LAUNCHER_FD, LauncherEvent, SetupFailure};
use super::{SETUP_FAILED_CODE, sys};

fn send(chan: &mut UnixStream, event: &LauncherEvent) {
    if let Ok(mut line) = serde_json::to_vec(event) {
        line.push(b'\n');
        // The caller may be gone; there is nobody left to tell.
        let _ = chan.write_all(&line);
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
        .map_err(|e| SetupFailure::new("read plan", e.to_string(), 0))?;
    let plan: SandboxPlan = serde_json::from_slice(&buf)
        .map_err(|e| SetupFailure::new("read plan", e.to_string(), 0))?;
    // Descriptors the caller leaked to us (without close-on-exec) are not ours to keep;
    // ours are 0, 1, 2, the channel and the ones the plan says were passed.
    let passed = FIRST_PASSED_FD..FIRST_PASSED_FD + i32::try_from(plan.passed_fds).unwrap_or(0);
    let keep = u32::try_from(passed.end).unwrap_or(u32::MAX);
    sys::close_fds_from(keep)
        .map_err(|e| SetupFailure::new("close_range", e.to_string(), e.errno as i32))?;

    // Die with the caller; if it already died, stop here.
    prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| SetupFailure::new("prctl PR_SET_PDEATHSIG", e.desc().into(), e as i32))?;
    if getppid() == Pid::from_raw(1) {
        return Err(SetupFailure::new("start", "the caller exited".into(), 0));
    }
    let passed: Vec<i32> = passed.collect();
    let areas = local::SelfStat::read().and_then(|s| s.areas);
    let mut sandbox = local::start(
        &plan,
        [Io::Inherit, Io::Inherit, Io::Inherit],
        &passed,
        areas,
    )?;
    // pid 1 has its copies of the standard streams and passed descriptors; ours are let
    // go, so that the end of the agent's output is seen when the agent's side closes.
    if let (Some(first), Some(last)) = (passed.first(), passed.last()) {
        let _ = sys::close_fd_range(*first as u32, *last as u32);
    }
    let _ = sys::null_stdio();
    sandbox.wait_started()?;
    let report = sandbox.report(&plan);
    send(
        chan,
        &LauncherEvent::Started {
            report: Box::new(report),
        },
    );
    let end = sandbox.wait();
    send(
        chan,
        &LauncherEvent::Exited {
            code: end.code,
            timed_out: end.timed_out.is_some(),
        },
    );
    Ok(end.code)
}

//! The launcher: this binary re-executed as a fresh, single-threaded process that starts a
//! sandbox for a caller that cannot do it itself (a multi-threaded one: the child of
//! `clone` runs Rust code, which is only sound when the caller had a single thread).
//!
//! It starts with an empty environment, descriptors 0–2, its channel (fd 3) and any pinned
//! files the caller passes (fd 4 on), reads the [`SandboxPlan`], closes anything else it
//! inherited, and starts the sandbox with [`local::start`]; it relays the report, a setup
//! failure or the exit status back as [`LauncherEvent`]s, and obeys stop requests (or the
//! channel's end) from its caller.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use super::local::{self, Io};
use super::plan::SandboxPlan;
use super::protocol::{FIRST_PASSED_FD, LAUNCHER_FD, LauncherEvent, MAX_PLAN_BYTES, SetupFailure};
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
    serve(UnixStream::from(fd))
}

/// Start and follow the one sandbox the plan on `chan` describes, reporting on `chan`; the
/// descriptors passed along sit at [`FIRST_PASSED_FD`] on. Never returns. Used by the
/// re-executed launcher and by each process the spawner forks.
pub(super) fn serve(mut chan: UnixStream) -> ! {
    match run(&mut chan) {
        Ok(code) => sys::exit_immediately(code),
        Err(f) => {
            send(&mut chan, &LauncherEvent::Failed { failure: f });
            sys::exit_immediately(SETUP_FAILED_CODE)
        }
    }
}

/// Read the length-prefixed plan.
fn read_plan(chan: &mut UnixStream) -> Result<SandboxPlan, SetupFailure> {
    let fail = |e: String| SetupFailure::new("read plan", e, 0);
    let mut len = [0u8; 8];
    chan.read_exact(&mut len).map_err(|e| fail(e.to_string()))?;
    let len = u64::from_le_bytes(len);
    if len > MAX_PLAN_BYTES {
        return Err(fail(format!("plan of {len} bytes is over the limit")));
    }
    let mut buf = vec![0u8; usize::try_from(len).map_err(|e| fail(e.to_string()))?];
    chan.read_exact(&mut buf).map_err(|e| fail(e.to_string()))?;
    serde_json::from_slice(&buf).map_err(|e| fail(e.to_string()))
}

fn run(chan: &mut UnixStream) -> Result<i32, SetupFailure> {
    let plan = read_plan(chan)?;
    // Descriptors the caller leaked to us (without close-on-exec) are not ours to keep;
    // ours are 0, 1, 2, the channel and the ones the plan says were passed.
    let passed = FIRST_PASSED_FD..FIRST_PASSED_FD + i32::try_from(plan.passed_fds).unwrap_or(0);
    let keep = u32::try_from(passed.end).unwrap_or(u32::MAX);
    sys::close_fds_from(keep)
        .map_err(|e| SetupFailure::new("close_range", e.to_string(), e.errno as i32))?;
    // No parent-death signal here: it follows the *thread* that started us, which in a
    // multi-threaded caller may retire while the sandbox should go on. The channel is what
    // ties us to the caller: its end (the caller exited, or dropped its handle) stops the
    // sandbox (`wait_controlled`).
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
            init_pid: sandbox.init_pid().as_raw(),
        },
    );
    let status = sandbox.wait_controlled(chan);
    let code = status.code();
    send(chan, &LauncherEvent::Exited { status });
    Ok(code)
}

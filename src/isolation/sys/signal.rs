//! Signal dispositions for a program about to be executed.

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use super::SysError;

/// Reset every catchable signal to its default action.
///
/// Ignored signals survive `execve` (signal(7)); the Rust runtime ignores `SIGPIPE`, and a
/// program started with it ignored misbehaves (`yes | head` loops on `EPIPE`).
///
/// # Errors
/// The kernel's answer to `sigaction`.
pub fn reset_signal_dispositions() -> Result<(), SysError> {
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if sig == Signal::SIGKILL || sig == Signal::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL registers no handler code, so no function of ours can
        // run in signal context; the previous action is discarded.
        unsafe { sigaction(sig, &dfl) }.map_err(|errno| SysError {
            call: "sigaction",
            arg: sig.to_string(),
            errno,
        })?;
    }
    Ok(())
}

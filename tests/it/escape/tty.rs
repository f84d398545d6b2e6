//! TIOCSTI: pushing characters into the caller's terminal as if typed there, so they run in
//! the user's shell after the agent exits. The test gives the sandbox a fresh pty as stdin.

use std::os::fd::OwnedFd;
use std::process::Stdio;

use super::{Outcome, assert_refused, assert_succeeded, confined_cmd, default_policy, run_bounded};
use crate::escape_gate;
use crate::sandbox::Fixture;

/// Run the probe with a fresh pty's slave side as stdin, unconfined and confined.
fn tiocsti(name: &str, mode: &str) {
    let probe = super::probe_bin().unwrap();
    let pty = || nix::pty::openpty(None, None).expect("openpty");
    let stdin = |slave: OwnedFd| Stdio::from(slave);

    // Positive twin: the probe makes the pty its controlling terminal and injects (allowed
    // while dev.tty.legacy_tiocsti is 1, the default before Linux 6.2 and on most distros).
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti")
        .map_or(true, |s| s.trim() == "1");
    let host_pty = pty();
    let mut cmd = std::process::Command::new(probe);
    cmd.arg(mode).env_clear().stdin(stdin(host_pty.slave));
    let o = Outcome::parse(&run_bounded(cmd));
    eprintln!("unconfined {mode}: {o:?}");
    if legacy {
        assert_succeeded(name, &o);
    }

    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    let sandbox_pty = pty();
    let mut cmd = confined_cmd(&policy, probe, &[mode]);
    cmd.stdin(stdin(sandbox_pty.slave));
    let o = Outcome::parse(&run_bounded(cmd));
    eprintln!("confined {mode}: {o:?}");
    // EPERM from seccomp; EIO where the kernel has TIOCSTI disabled altogether.
    assert_refused(name, &o, &["EPERM", "EIO"]);
    drop(sandbox_pty.master);
    drop(host_pty.master);
}

#[test]
fn tiocsti_into_the_callers_terminal_is_refused() {
    escape_gate!("tiocsti_into_the_callers_terminal_is_refused");
    tiocsti("ioctl(TIOCSTI)", "tiocsti");
}

/// CVE-2019-10063: ioctl(2) takes the request as an int, so `TIOCSTI | 1 << 32` is TIOCSTI
/// to the kernel; a filter comparing all 64 bits lets it through.
#[test]
fn tiocsti_with_high_request_bits_is_refused() {
    escape_gate!("tiocsti_with_high_request_bits_is_refused");
    tiocsti("ioctl(TIOCSTI | 1 << 32)", "tiocsti_high");
}

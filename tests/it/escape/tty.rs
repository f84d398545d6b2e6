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

// ---- The caller's terminal (issue 10, item 4) ----
//
// The test opens a pty pair that stands for the caller's terminal and gives its slave to
// `mycelium exec` / `run` as all three standard streams. A hostile agent spoils the
// terminal on its standard streams (raw, -echo, TIOCEXCL, O_NONBLOCK on the file
// description, TCOOFF); afterwards the test's terminal must be exactly as before. The
// positive twins: the same attack run unconfined on such a terminal changes every one of
// those properties (so the comparison detects each), and the agent still has a terminal
// (input typed on the test's pty reaches it, its output arrives, it sees the window size).

use std::io::{Read, Write as _};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::mpsc;

use nix::pty::Winsize;
use nix::sys::termios::tcgetattr;

use super::DEADLINE;

/// A pty pair standing for the caller's terminal, 31 rows by 97 columns.
struct CallerTty {
    master: OwnedFd,
    slave: OwnedFd,
}

fn caller_tty() -> CallerTty {
    let size = Winsize {
        ws_row: 31,
        ws_col: 97,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let p = nix::pty::openpty(Some(&size), None).expect("openpty");
    CallerTty {
        master: p.master,
        slave: p.slave,
    }
}

impl CallerTty {
    fn stdio(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().unwrap())
    }

    /// `cmd` with all three standard streams on this terminal.
    fn attach(&self, cmd: &mut Command) {
        cmd.stdin(self.stdio())
            .stdout(self.stdio())
            .stderr(self.stdio());
    }

    /// Read what was written to the terminal until `marker` appears (or the output ends),
    /// in a thread, so a missing marker fails the test after `DEADLINE` instead of hanging.
    fn read_until(&self, marker: &'static str) -> mpsc::Receiver<String> {
        let mut master = std::fs::File::from(self.master.try_clone().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains(marker) {
                match master.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&seen).into_owned());
        });
        rx
    }
}

/// Everything of a terminal an agent could leave changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TtyState {
    /// Input, output, control and local flags, and the control characters.
    termios: (u64, u64, u64, u64, Vec<u8>),
    /// The file status flags of the test's own file description (`O_NONBLOCK` lives here).
    status_flags: i32,
    /// `EXCL 0` or `EXCL 1`, as the probe reads TIOCGEXCL.
    exclusive: String,
    /// Writing one byte through a fresh, non-blocking open of the terminal: `Ok(1)`, or
    /// `EAGAIN` when output is stopped (TCOOFF), or `EBUSY` when exclusive (non-root).
    write: Result<usize, i32>,
}

fn tty_state(t: &CallerTty, probe: &Path) -> TtyState {
    let tio = tcgetattr(t.slave.as_fd()).expect("tcgetattr");
    let termios = (
        u64::from(tio.input_flags.bits()),
        u64::from(tio.output_flags.bits()),
        u64::from(tio.control_flags.bits()),
        u64::from(tio.local_flags.bits()),
        tio.control_chars.to_vec(),
    );
    let status_flags =
        nix::fcntl::fcntl(t.slave.as_fd(), nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
    let mut cmd = Command::new(probe);
    cmd.arg("tty_excl").env_clear().stdin(t.stdio());
    let exclusive = String::from_utf8_lossy(&run_bounded(cmd).stdout)
        .trim()
        .to_string();
    let path = format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&t.slave)
    );
    let write = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&path)
        .and_then(|mut f| f.write(b"."))
        .map_err(|e| e.raw_os_error().unwrap_or(-1));
    TtyState {
        termios,
        status_flags,
        exclusive,
        write,
    }
}

/// Run `cmd` to its end, failing the test after `DEADLINE`.
fn wait_bounded(mut cmd: Command) -> ExitStatus {
    wait_child_bounded(cmd.spawn().expect("spawn"))
}

/// Wait for `child`, killing it and failing the test after `DEADLINE`.
fn wait_child_bounded(mut child: std::process::Child) -> ExitStatus {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(s) => s.expect("wait"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("still running after {DEADLINE:?}: killed");
        }
    }
}

/// The positive twin of the spoiling tests: run unconfined on a terminal, the probe
/// changes every property `TtyState` holds (through `fd`, for `tty_spoil FD`).
fn assert_spoiling_is_detected(probe: &Path, fd: &str) {
    let t = caller_tty();
    let before = tty_state(&t, probe);
    assert_eq!(before.exclusive, "EXCL 0");
    assert_eq!(before.write, Ok(1));
    let mut cmd = Command::new(probe);
    cmd.args(["tty_spoil", fd]).env_clear();
    t.attach(&mut cmd);
    assert_eq!(wait_bounded(cmd).code(), Some(0), "unconfined tty_spoil");
    let after = tty_state(&t, probe);
    assert_ne!(after.termios, before.termios, "raw -echo is seen");
    assert_eq!(
        after.status_flags & libc::O_NONBLOCK,
        libc::O_NONBLOCK,
        "O_NONBLOCK is seen"
    );
    assert_eq!(after.exclusive, "EXCL 1", "TIOCEXCL is seen");
    assert!(
        matches!(after.write, Err(e) if e == libc::EAGAIN || e == libc::EBUSY),
        "TCOOFF is seen: {:?}",
        after.write
    );
}

/// A policy for the probe whose `[agent] command` is `command`.
fn agent_policy(fx: &Fixture, probe: &Path, command: &[&str]) -> std::path::PathBuf {
    let body = std::fs::read_to_string(default_policy(fx, probe, &[], "")).unwrap();
    let command: Vec<String> = command.iter().map(|a| format!("{a:?}")).collect();
    fx.mkdir("policies");
    fx.file(
        "policies/tty-agent.toml",
        &format!("[agent]\ncommand = [{}]\n\n{body}", command.join(", ")),
    )
}

/// `mycelium run tty-agent` with consent already granted.
fn run_agent_cmd(fx: &Fixture) -> Command {
    let home = fx.mkdir("home");
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let cmd = |args: &[&str]| {
        let mut c = Command::new(crate::common::bin());
        c.arg("--policies")
            .arg(fx.path().join("policies"))
            .args(args)
            .env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", fx.path())
            .env("MYCELIUM_HOME", &home)
            .current_dir(fx.path())
            .stdin(Stdio::null());
        c
    };
    let o = cmd(&["consent", "grant", "--yes", "tty-agent"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    cmd(&["run", "tty-agent"])
}

/// Spoil the terminal through `cmd` (which runs the probe's `tty_spoil` confined) and
/// check the test's terminal is exactly as before. `stdin_too`: the terminal is on all
/// three streams, else on standard output and error only (standard input is null).
fn assert_terminal_untouched(probe: &Path, mut cmd: Command, stdin_too: bool) {
    let t = caller_tty();
    let before = tty_state(&t, probe);
    t.attach(&mut cmd);
    if !stdin_too {
        cmd.stdin(Stdio::null());
    }
    // The probe succeeds: it did all of it, to a terminal of the sandbox's own.
    assert_eq!(wait_bounded(cmd).code(), Some(0), "confined tty_spoil");
    let after = tty_state(&t, probe);
    assert_eq!(
        after, before,
        "the caller's terminal was changed by the agent"
    );
}

#[test]
fn agent_cannot_spoil_the_callers_terminal_through_exec() {
    let probe = escape_gate!("agent_cannot_spoil_the_callers_terminal_through_exec");
    assert_spoiling_is_detected(probe, "0");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    assert_terminal_untouched(
        probe,
        confined_cmd(&policy, probe, &["tty_spoil", "0"]),
        true,
    );
}

/// The same through standard output, when only the output streams are the terminal (no
/// raw mode is needed then: nothing is typed into the sandbox).
#[test]
fn agent_cannot_spoil_the_callers_terminal_through_its_output() {
    let probe = escape_gate!("agent_cannot_spoil_the_callers_terminal_through_its_output");
    assert_spoiling_is_detected(probe, "1");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    for fd in ["1", "2"] {
        assert_terminal_untouched(
            probe,
            confined_cmd(&policy, probe, &["tty_spoil", fd]),
            false,
        );
    }
}

#[test]
fn agent_cannot_spoil_the_callers_terminal_through_run() {
    let probe = escape_gate!("agent_cannot_spoil_the_callers_terminal_through_run");
    assert_spoiling_is_detected(probe, "0");
    let fx = Fixture::new();
    agent_policy(&fx, probe, &[probe.to_str().unwrap(), "tty_spoil", "0"]);
    assert_terminal_untouched(probe, run_agent_cmd(&fx), true);
    // run's output streams.
    let fx = Fixture::new();
    agent_policy(&fx, probe, &[probe.to_str().unwrap(), "tty_spoil", "1"]);
    assert_terminal_untouched(probe, run_agent_cmd(&fx), false);
}

/// What an agent sees of its terminal, ending with a marker: whether each stream is a
/// terminal, its name, `/dev/tty`, the window size, a line typed on the caller's terminal.
const SEE_TERMINAL: &str = "for fd in 0 1 2; do test -t $fd && echo \"fd $fd: terminal\"; done; \
     echo \"name: $(tty)\"; echo via /dev/tty > /dev/tty; \
     stty size; read line; echo \"read: $line\"; echo END-OF-OUTPUT";

/// The lines [`SEE_TERMINAL`] prints when the agent has a terminal of its own.
fn assert_sees_terminal(text: &str) {
    for line in [
        "fd 0: terminal",
        "fd 1: terminal",
        "fd 2: terminal",
        "via /dev/tty",
        "31 97",
        "read: typed words",
    ] {
        assert!(
            text.contains(&format!("{line}\r\n")),
            "{line:?} in {text:?}"
        );
    }
    assert!(text.contains("name: /dev/pts/"), "tty names it: {text:?}");
}

/// Type a line on the caller's terminal, run `cmd` on it, and return what it wrote.
fn converse(probe: &Path, mut cmd: Command) -> String {
    let t = caller_tty();
    let before = tty_state(&t, probe);
    t.attach(&mut cmd);
    // Typed ahead: it waits in the terminal until the relay reads it.
    std::fs::File::from(t.master.try_clone().unwrap())
        .write_all(b"typed words\r")
        .unwrap();
    let output = t.read_until("END-OF-OUTPUT");
    let status = wait_bounded(cmd);
    let text = output.recv_timeout(DEADLINE).expect("output");
    assert_eq!(status.code(), Some(0), "{text}");
    // Raw mode while relaying; put back exactly afterwards.
    assert_eq!(tty_state(&t, probe), before);
    text
}

#[test]
fn agent_has_a_terminal_of_its_own_under_exec() {
    let probe = escape_gate!("agent_has_a_terminal_of_its_own_under_exec");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    let text = converse(
        probe,
        confined_cmd(&policy, Path::new("/bin/sh"), &["-c", SEE_TERMINAL]),
    );
    assert_sees_terminal(&text);
}

#[test]
fn agent_has_a_sanitized_terminal_of_its_own_under_run() {
    let probe = escape_gate!("agent_has_a_sanitized_terminal_of_its_own_under_run");
    let fx = Fixture::new();
    let script = SEE_TERMINAL.replace(
        "echo END-OF-OUTPUT",
        "echo token ghp_abcdefghijklmnopqrstuvwxyz0123456789; echo END-OF-OUTPUT",
    );
    agent_policy(&fx, probe, &["/bin/sh", "-c", &script]);
    let text = converse(probe, run_agent_cmd(&fx));
    assert_sees_terminal(&text);
    assert!(text.contains("token [REDACTED:github-pat]\r\n"), "{text:?}");
    assert!(!text.contains("ghp_abc"), "{text:?}");
}

#[test]
fn window_size_changes_reach_the_agent() {
    let probe = escape_gate!("window_size_changes_reach_the_agent");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    let script = "trap 'stty size; echo END-OF-OUTPUT; exit 0' WINCH; echo READY; \
                  while :; do sleep 0.1; done";
    let mut cmd = confined_cmd(&policy, Path::new("/bin/sh"), &["-c", script]);
    let t = caller_tty();
    t.attach(&mut cmd);
    let ready = t.read_until("READY");
    let child = cmd.spawn().unwrap();
    assert!(ready.recv_timeout(DEADLINE).unwrap().contains("READY"));
    // Resize the test's terminal, and signal mycelium as its terminal would if it were
    // its controlling one.
    let name = nix::unistd::ttyname(t.slave.as_fd()).unwrap();
    let o = Command::new("stty")
        .arg("-F")
        .arg(&name)
        .args(["rows", "40", "cols", "120"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let output = t.read_until("END-OF-OUTPUT");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGWINCH).unwrap();
    let text = output.recv_timeout(DEADLINE).expect("output");
    let status = wait_child_bounded(child);
    assert!(text.contains("40 120\r\n"), "{text:?}");
    assert_eq!(status.code(), Some(0));
}

/// `^C` typed on the caller's terminal (raw while relaying, so it arrives as a byte) is
/// turned into `SIGINT` by the sandbox's own terminal, for the agent's process group:
/// the agent is interruptible from the keyboard as before, and mycelium keeps running to
/// report its exit and restore the terminal.
#[test]
fn control_c_typed_on_the_callers_terminal_interrupts_the_agent() {
    let probe = escape_gate!("control_c_typed_on_the_callers_terminal_interrupts_the_agent");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    let script = "trap 'echo got INT; echo END-OF-OUTPUT; exit 3' INT; echo READY; \
                  while :; do sleep 0.1; done";
    let mut cmd = confined_cmd(&policy, Path::new("/bin/sh"), &["-c", script]);
    let t = caller_tty();
    let before = tty_state(&t, probe);
    t.attach(&mut cmd);
    let ready = t.read_until("READY");
    let child = cmd.spawn().unwrap();
    assert!(ready.recv_timeout(DEADLINE).unwrap().contains("READY"));
    let output = t.read_until("END-OF-OUTPUT");
    std::fs::File::from(t.master.try_clone().unwrap())
        .write_all(b"\x03")
        .unwrap();
    let text = output.recv_timeout(DEADLINE).expect("output");
    let status = wait_child_bounded(child);
    assert!(text.contains("got INT\r\n"), "{text:?}");
    assert_eq!(status.code(), Some(3));
    assert_eq!(tty_state(&t, probe), before);
}

//! The sandbox's own terminal: when a standard stream of the caller is a terminal, the
//! agent never gets that terminal. It gets a new pseudo-terminal instead (its slave end
//! replaces each stream that was a terminal, and becomes the agent's controlling
//! terminal after its `setsid`), and the caller relays between its terminal and the
//! master end: keystrokes in, output out, window size on `SIGWINCH`.
//!
//! What the agent does to its terminal (raw mode, `-echo`, `TIOCEXCL`, `TCOOFF`,
//! `O_NONBLOCK` on the file description) happens to that pseudo-terminal, which goes away
//! with the sandbox. The only change made to the caller's terminal is ours: raw mode while
//! keystrokes are relayed, so that they reach the sandbox's terminal as typed (its own line
//! discipline echoes them and turns `^C` into `SIGINT` for the agent). [`Terminal`] saves
//! the caller's settings, file status flags and exclusive mode first and puts them back
//! exactly when it is dropped, on every path out of a command. Flow control of the
//! caller's terminal is never touched, so it needs no restoring.
//!
//! Inside, the sandbox's terminal has its names: `/dev/pts/N` (the host's entry for that
//! very pty, bound only after checking it is the same device) and `/dev/tty`, which opens
//! the opener's controlling terminal, so inside never any terminal but that one. No other
//! pty of the host is visible.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use nix::unistd::isatty;

use std::path::PathBuf;

use super::IsolationError;
use super::local::Io;
use super::plan::SandboxPlan;
use super::sys;

fn failed(what: &str, e: impl std::fmt::Display) -> IsolationError {
    IsolationError::Launcher {
        what: format!(
            "terminal: {what}: {e}; run with standard streams that are not terminals (`< /dev/null | cat`) to do without one"
        ),
        source: None,
    }
}

/// The caller's standard stream `i` (0, 1 or 2).
fn caller_stream(i: usize) -> BorrowedFd<'static> {
    sys::standard_stream(i)
}

/// Which of this process's standard streams 0, 1 and 2 are terminals.
#[must_use]
pub fn caller_terminals() -> [bool; 3] {
    std::array::from_fn(|i| isatty(caller_stream(i)).unwrap_or(false))
}

/// The caller's terminal as it was before raw mode, to be put back.
#[derive(Debug)]
struct Saved {
    termios: Termios,
    flags: OFlag,
    /// `None` where the kernel cannot tell (before Linux 3.8); then it is left alone.
    exclusive: Option<bool>,
}

/// A pseudo-terminal for the sandbox and the state of the caller's terminal around it.
#[derive(Debug)]
pub struct Terminal {
    master: Arc<OwnedFd>,
    slave: Option<Arc<OwnedFd>>,
    /// The caller's streams that are terminals: these get the slave.
    ttys: [bool; 3],
    saved: Option<Saved>,
}

impl Terminal {
    /// A new pseudo-terminal with the settings and window size of the caller's first
    /// stream that is a terminal, or `None` when `ttys` (see [`caller_terminals`]) holds
    /// none.
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the pair cannot be opened.
    pub fn open(ttys: [bool; 3]) -> Result<Option<Terminal>, IsolationError> {
        let Some(first) = ttys.iter().position(|t| *t) else {
            return Ok(None);
        };
        let reference = caller_stream(first);
        let settings = tcgetattr(reference).map_err(|e| failed("tcgetattr", e))?;
        let size = sys::window_size(reference).ok();
        let pair =
            sys::open_pty(size.as_ref(), Some(&settings)).map_err(|e| failed("openpty", e))?;
        Ok(Some(Terminal {
            master: Arc::new(pair.master),
            slave: Some(Arc::new(pair.slave)),
            ttys,
            saved: None,
        }))
    }

    /// Prepare `plan` for this terminal: the agent takes it as its controlling terminal,
    /// and may open it by its names inside, `/dev/tty` and `/dev/pts/N` (read and write,
    /// no ioctl through those opens: Landlock's device rights). Each may be absent (a host
    /// without `/dev/tty`, a pty whose name could not be matched), so both are optional.
    pub fn prepare(&self, plan: &mut SandboxPlan) {
        plan.controlling_terminal = true;
        for p in ["/dev/tty", "/dev/pts"] {
            plan.landlock.devices.push(PathBuf::from(p));
            plan.landlock.optional.push(PathBuf::from(p));
        }
    }

    /// What stream `i` of the sandbox is: the slave when the caller's stream `i` is a
    /// terminal (before [`Terminal::release_slave`]), else `otherwise`.
    #[must_use]
    pub fn io(&self, i: usize, otherwise: Io) -> Io {
        match &self.slave {
            Some(s) if self.ttys.get(i) == Some(&true) => Io::Fd(Arc::clone(s)),
            _ => otherwise,
        }
    }

    /// Let go of this process's copy of the slave once the sandbox has its own: the end
    /// of the sandbox's output is seen when the last copy inside closes.
    pub fn release_slave(&mut self) {
        self.slave = None;
    }

    /// Relay the caller's keystrokes into the sandbox's terminal, with the caller's
    /// terminal in raw mode, when the caller's standard input is a terminal (otherwise the
    /// input stream went in as it is and there is nothing to relay).
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the caller's terminal cannot be read or set.
    pub fn relay_input(&mut self) -> Result<(), IsolationError> {
        if !self.ttys[0] || self.saved.is_some() {
            return Ok(());
        }
        let stdin = caller_stream(0);
        let termios = tcgetattr(stdin).map_err(|e| failed("tcgetattr", e))?;
        let flags = fcntl(stdin, FcntlArg::F_GETFL).map_err(|e| failed("fcntl F_GETFL", e))?;
        self.saved = Some(Saved {
            termios: termios.clone(),
            flags: OFlag::from_bits_retain(flags),
            exclusive: sys::is_exclusive(stdin).ok(),
        });
        let mut raw = termios;
        cfmakeraw(&mut raw);
        // TCSANOW: waiting for output to drain could wait forever on a stopped terminal.
        tcsetattr(stdin, SetArg::TCSANOW, &raw).map_err(|e| failed("tcsetattr", e))?;
        let mut to = File::from(
            self.master
                .try_clone()
                .map_err(|e| failed("dup master", e))?,
        );
        let mut from = File::from(
            stdin
                .try_clone_to_owned()
                .map_err(|e| failed("dup stdin", e))?,
        );
        // Not joined: it ends with this process, or at the end of the caller's input. It
        // blocks in read on the caller's terminal, which raw mode keeps blocking.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        Ok(())
    }

    /// A reader of everything the sandbox writes to its terminal (echo included); it ends
    /// (`EIO`) once no process of the sandbox holds the slave.
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the master cannot be duplicated.
    pub fn output(&self) -> Result<File, IsolationError> {
        self.master
            .try_clone()
            .map(File::from)
            .map_err(|e| failed("dup master", e))
    }

    /// Where the sandbox's terminal output goes: the caller's standard output when it is
    /// a terminal, else its standard error, else its standard input (a terminal is
    /// normally open for writing too).
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the stream cannot be duplicated.
    pub fn output_target(&self) -> Result<File, IsolationError> {
        let i = [1, 2, 0].into_iter().find(|i| self.ttys[*i]).unwrap_or(1);
        caller_stream(i)
            .try_clone_to_owned()
            .map(File::from)
            .map_err(|e| failed("dup output", e))
    }

    /// What copies the caller's window size to the sandbox's terminal.
    ///
    /// # Errors
    /// [`IsolationError::Launcher`] when the descriptors cannot be duplicated.
    pub fn window_sync(&self) -> Result<WindowSync, IsolationError> {
        let i = self.ttys.iter().position(|t| *t).unwrap_or(0);
        Ok(WindowSync {
            from: caller_stream(i)
                .try_clone_to_owned()
                .map_err(|e| failed("dup terminal", e))?,
            to: Arc::clone(&self.master),
        })
    }

    /// Put the caller's terminal back as it was before [`Terminal::relay_input`]; done
    /// by drop too. Idempotent.
    pub fn restore(&mut self) {
        let Some(saved) = self.saved.take() else {
            return;
        };
        let stdin = caller_stream(0);
        let _ = tcsetattr(stdin, SetArg::TCSANOW, &saved.termios);
        let _ = fcntl(stdin, FcntlArg::F_SETFL(saved.flags));
        if let Some(on) = saved.exclusive {
            let _ = sys::set_exclusive(stdin, on);
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Copies the caller's window size to the sandbox's terminal, whose kernel then sends
/// `SIGWINCH` to the agent (the terminal's foreground process group).
#[derive(Debug)]
pub struct WindowSync {
    from: OwnedFd,
    to: Arc<OwnedFd>,
}

impl WindowSync {
    /// Copy the size once (on `SIGWINCH`); a terminal that cannot tell is left as it is.
    pub fn sync(&self) {
        if let Ok(size) = sys::window_size(self.from.as_fd()) {
            let _ = sys::set_window_size(self.to.as_fd(), &size);
        }
    }
}

/// Copy `from` to `to` until `from` ends (the relay of a terminal's output for `exec`).
pub fn spawn_copy(mut from: File, mut to: File) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
}

//! The escape suite: small hostile C programs (`probes/probe.c`, one mode per attempt), each
//! run twice. Unconfined first, as this test's own child, where it must print `SUCCEEDED`:
//! proof that the probe can detect the thing, so a broken probe fails instead of passing.
//! Then under `mycelium exec` with the `default` seccomp profile, where it must print
//! `REFUSED <ERRNO>`. Where an unconfined success is unsafe or impossible (module loading,
//! kexec) or needs root (raw devices, bpf, mount), the test says why next to the probe.
//!
//! The probe is compiled with `cc -static` (the sandbox root need not hold the host's
//! libraries) into a world-readable directory of the build tree, once per version of its
//! source: the suite also runs as uid 65534, and leaves nothing in the temporary directory.

mod bombs;
mod devices;
mod families;
mod ids;
mod links;
mod memory;
mod paths;
mod planted;
mod privs;
mod procmask;
mod procs;
mod search;
mod setuid;
mod sockets;
mod syscalls;
mod tty;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use crate::sandbox::{Fixture, exec_cmd, policy_body};

/// What a probe printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The attempt worked.
    Succeeded,
    /// The attempt failed with this errno name (or `EMPTY`, `EUID<n>`), plus any detail.
    Refused(String),
    /// Anything else: the probe broke, was killed, or the sandbox did not start.
    Broken(String),
}

impl Outcome {
    fn parse(o: &Output) -> Outcome {
        let text = String::from_utf8_lossy(&o.stdout);
        let line = text.lines().next().unwrap_or("").trim();
        match (o.status.code(), line) {
            (Some(0), "SUCCEEDED") => Outcome::Succeeded,
            (Some(0), l) if l.starts_with("REFUSED ") => {
                Outcome::Refused(l["REFUSED ".len()..].to_string())
            }
            _ => Outcome::Broken(format!(
                "status {:?}, stdout {text:?}, stderr {:?}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            )),
        }
    }

    /// The errno name of a refusal (first word), or `None`.
    pub fn errno(&self) -> Option<&str> {
        match self {
            Outcome::Refused(r) => r.split_whitespace().next(),
            _ => None,
        }
    }
}

/// Skip (or fail under `MYCELIUM_REQUIRE_SANDBOX=1`) unless the sandbox can run here and
/// the probe compiled; evaluates to the probe's path.
#[macro_export]
macro_rules! escape_gate {
    ($name:expr) => {{
        if !$crate::common::gate::require_sandbox($name) {
            return;
        }
        match $crate::escape::probe_bin() {
            Ok(p) => p,
            Err(reason) => {
                if std::env::var("MYCELIUM_REQUIRE_SANDBOX").as_deref() == Ok("1") {
                    panic!("{}: MYCELIUM_REQUIRE_SANDBOX=1 but {reason}", $name);
                }
                eprintln!("SKIPPED {}: needs a C compiler ({reason})", $name);
                return;
            }
        }
    }};
}

/// Prefix of the directories the probe is built in.
const PROBE_DIR_PREFIX: &str = "mycelium-escape-probes-";

/// Remove probe directories earlier runs of this user left behind (statics are never
/// dropped, so each run leaves its own); a day old, so no running suite loses its probe.
fn remove_stale_probe_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let me = nix::unistd::geteuid().as_raw();
    let day = Duration::from_secs(24 * 3600);
    for e in entries.flatten() {
        let stale = e
            .file_name()
            .to_string_lossy()
            .starts_with(PROBE_DIR_PREFIX)
            && e.metadata().is_ok_and(|m| {
                m.is_dir()
                    && m.uid() == me
                    && m.modified()
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > day)
            });
        if stale {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The directory in the build tree that holds compiled probes (`cargo clean` removes it):
/// nothing of the suite is left in the temporary directory.
fn build_tree_probe_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("escape-probes")
}

/// Whether every directory from `/` down to `dir` lets any user through, so a sandbox
/// whose ids are not the caller's (the unprivileged rerun) can reach a probe in it.
fn world_traversable(dir: &Path) -> bool {
    dir.ancestors().all(|d| {
        std::fs::metadata(d).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o001 != 0)
    })
}

/// Compile `src` to `bin` (through a temporary name in the same directory, renamed into
/// place, so a run that reads `bin` meanwhile never sees half a file).
fn compile_probe(src: &Path, bin: &Path) -> Result<(), String> {
    let partial = bin.with_extension(format!("partial-{}", std::process::id()));
    let o = Command::new("cc")
        .args(["-static", "-O1", "-Wall", "-o"])
        .arg(&partial)
        .arg(src)
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if !o.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(format!(
            "cc -static {} failed (static glibc comes with libc6-dev): {}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
        .and_then(|()| std::fs::rename(&partial, bin))
        .map_err(|e| format!("install {}: {e}", bin.display()))
}

/// The compiled probe. It is built into the build tree
/// (`$CARGO_TARGET_TMPDIR/escape-probes/probe-<hash of the source>`, world-readable), and
/// a run whose user cannot write there (the unprivileged rerun) uses the copy the main run
/// built. Only when neither works is it built in a directory of the temporary directory,
/// which `scripts/test-unprivileged.sh` points at a directory it removes afterwards.
/// `Err` says why it could not be built.
pub fn probe_bin() -> Result<&'static Path, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        remove_stale_probe_dirs();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/escape/probes/probe.c");
        let source = std::fs::read(&src).map_err(|e| format!("read {}: {e}", src.display()))?;
        let hash = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&source));
        let name = format!("probe-{}", hex::encode(&hash[..8]));

        let dir = build_tree_probe_dir();
        let bin = dir.join(&name);
        if world_traversable(&dir) && bin.is_file() {
            return Ok(bin);
        }
        let built = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)))
            .map_err(|e| format!("create {}: {e}", dir.display()))
            .and_then(|()| compile_probe(&src, &bin));
        if built.is_ok() && world_traversable(&dir) {
            return Ok(bin);
        }

        let dir = tempfile::Builder::new()
            .prefix(PROBE_DIR_PREFIX)
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
        let bin = dir.join(&name);
        compile_probe(&src, &bin)?;
        Ok(bin)
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

/// How long any probe run may take before it is killed and the test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Run `cmd` to completion, killing it (and failing the test) after `DEADLINE`.
pub fn run_bounded(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(o) => o.expect("wait"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("{cmd:?} still running after {DEADLINE:?}: killed");
        }
    }
}

/// Run the probe unconfined, as this test's child.
pub fn unconfined(probe: &Path, args: &[&str]) -> Outcome {
    let mut cmd = Command::new(probe);
    cmd.args(args)
        .env_clear()
        .stdin(Stdio::null())
        .current_dir("/");
    let o = Outcome::parse(&run_bounded(cmd));
    eprintln!("unconfined {args:?}: {o:?}");
    o
}

/// The `default` policy: the system paths and the probe's directory read-only, a private
/// `/tmp`, no network, the default seccomp profile; `extra_ro` and `rest` add to it.
pub fn default_policy(fx: &Fixture, probe: &Path, extra_ro: &[&Path], rest: &str) -> PathBuf {
    let mut ro = vec![format!(
        "{:?}",
        probe.parent().unwrap().display().to_string()
    )];
    ro.extend(
        extra_ro
            .iter()
            .map(|p| format!("{:?}", p.display().to_string())),
    );
    let body = policy_body(
        &ro.join(", "),
        &format!(
            "tmpfs = {{ \"/tmp\" = \"16M\" }}\n\n[network]\nmode = \"none\"\n\n[seccomp]\nprofile = \"default\"\n{rest}"
        ),
    );
    fx.policy("default", &body)
}

/// `mycelium exec --policy POLICY -- probe ARGS` (not yet run).
pub fn confined_cmd(policy: &Path, probe: &Path, args: &[&str]) -> Command {
    let mut argv = vec![probe.to_str().unwrap()];
    argv.extend_from_slice(args);
    exec_cmd(policy, None, &argv)
}

/// Run the probe under `mycelium exec` with `policy`.
pub fn confined(policy: &Path, probe: &Path, args: &[&str]) -> Outcome {
    let o = Outcome::parse(&run_bounded(confined_cmd(policy, probe, args)));
    eprintln!("confined {args:?}: {o:?}");
    o
}

/// Assert an unconfined run succeeded: the probe can see what it looks for.
#[track_caller]
pub fn assert_succeeded(what: &str, o: &Outcome) {
    assert_eq!(
        o,
        &Outcome::Succeeded,
        "positive twin: {what} must succeed unconfined, else the probe detects nothing"
    );
}

/// Assert a confined run was refused, with one of `errnos` when that is not empty.
#[track_caller]
pub fn assert_refused(what: &str, o: &Outcome, errnos: &[&str]) {
    match o.errno() {
        Some(e) if errnos.is_empty() || errnos.contains(&e) => {}
        _ => panic!(
            "ESCAPE: {what} under the default policy: expected REFUSED {errnos:?}, got {o:?}"
        ),
    }
}

/// Whether this test runs as root (some positive twins need it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A host process to aim at (the probe's `target` mode): knows its canary's address and
/// holds a canary variable in its environment; killed on drop.
pub struct HostTarget {
    child: Child,
    /// Address of the canary string in its memory, as printed (hex).
    pub addr: String,
}

/// The environment variable the host target holds.
pub const ENV_CANARY: &str = "MYCELIUM_ESCAPE_CANARY=host-environ-canary";

impl HostTarget {
    pub fn spawn(probe: &Path) -> HostTarget {
        let (k, v) = ENV_CANARY.split_once('=').unwrap();
        let mut child = Command::new(probe)
            .arg("target")
            .env_clear()
            .env(k, v)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("target printed {line:?}"))
            .trim()
            .to_string();
        HostTarget { child, addr }
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for HostTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

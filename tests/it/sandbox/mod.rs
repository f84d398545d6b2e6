//! Real confined processes under `mycelium exec`: each test asserts what the command could
//! not do, next to a positive twin proving the probe would have seen it.

mod env;
mod exit;
mod fs;
mod handle;
mod net;
mod procs;
mod signals;
mod timeout;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::bin;

/// The system paths every test policy grants read-only.
pub const SYSTEM: &str = r#""/usr", "/bin", "/lib", "?/lib64", "?/etc/ld.so.cache""#;

/// The unprivileged owner of the directories a root test run makes (`nobody`, the user
/// `scripts/test-unprivileged.sh` reruns the suite as).
pub const TEST_OWNER: u32 = 65534;

/// A world-readable scratch directory (the suite also runs as an unprivileged user).
pub struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mycelium-it-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Create a directory (mode 0777 so an unprivileged sandbox user can write it).
    pub fn mkdir(&self, name: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        p
    }

    /// Create a directory to pass as the workspace: [`Fixture::mkdir`], and when the suite
    /// runs as root, owned by [`TEST_OWNER`] (a root caller's agent takes the workspace
    /// owner's ids, and a root-owned workspace is refused).
    pub fn workspace(&self, name: &str) -> PathBuf {
        let p = self.mkdir(name);
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(&p, Some(TEST_OWNER), Some(TEST_OWNER)).unwrap();
        }
        p
    }

    /// Write a world-readable file.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    /// Write a policy file from its body.
    pub fn policy(&self, name: &str, body: &str) -> PathBuf {
        self.file(&format!("{name}.toml"), body)
    }
}

/// A policy granting the system paths read-only plus `extra` TOML.
pub fn policy_body(read_only_extra: &str, rest: &str) -> String {
    let extra = if read_only_extra.is_empty() {
        String::new()
    } else {
        format!(", {read_only_extra}")
    };
    format!("[filesystem]\nread_only = [{SYSTEM}{extra}]\n{rest}\n")
}

/// `mycelium exec --policy POLICY [--workspace WS] -- ARGV`, with an explicit environment.
pub fn exec_cmd(policy: &Path, workspace: Option<&Path>, argv: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("exec").arg("--policy").arg(policy);
    if let Some(ws) = workspace {
        cmd.arg("--workspace").arg(ws);
    }
    cmd.arg("--").args(argv);
    cmd.env_clear()
        .envs(crate::common::launcher_env())
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null());
    cmd
}

/// Run a shell script in the sandbox.
pub fn sh(policy: &Path, workspace: Option<&Path>, script: &str) -> Output {
    exec_cmd(policy, workspace, &["/bin/sh", "-c", script])
        .output()
        .unwrap()
}

pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A `sleep` argument of about 1000 s that no other process on the host has: the tag
/// makes it unique to this test and this run, so it can be looked for in `/proc`.
pub fn marker(tag: u32) -> String {
    format!("1000.{}{tag:04}", std::process::id())
}

/// Host processes whose command line holds `marker`.
pub fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Wait, up to a minute, until `done` holds; whether it did.
pub fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    done()
}

/// Skip the test (returning early) unless the sandbox can run here.
#[macro_export]
macro_rules! gate {
    ($name:expr) => {
        if !$crate::common::gate::require_sandbox($name) {
            return;
        }
    };
}

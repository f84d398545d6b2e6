//! What a red team found in the links fix (issue 10, item 1): the workspace's own path, the
//! files mycelium reads (policy, definition, pinned files) and a writable grant written
//! through an alias were all still reached through planted links, and a FIFO swapped in for
//! a file mycelium reads blocked it forever. Every attack runs through the real binary,
//! next to its positive twin (the link does lead to the victim on the host; the physical
//! path works).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::run_bounded;
use crate::common::bin;
use crate::gate;
use crate::sandbox::{Fixture, SYSTEM, exec_cmd};

const SECRET: &str = "victim-secret-line\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fixture with a victim directory (standing in for `~/.ssh` or `/var/lib/…`) holding a
/// secret, and a directory everyone may write (standing in for `/tmp`).
struct Scene {
    fx: Fixture,
    victim: PathBuf,
    shared: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let fx = Fixture::new();
        // Owned by the test owner on a root run, so that it is a workspace a root caller
        // may use (the positive twins pass it physically).
        let victim = std::fs::canonicalize(fx.workspace("victim")).unwrap();
        std::fs::write(victim.join("keys"), SECRET).unwrap();
        std::fs::set_permissions(victim.join("keys"), PermissionsExt::from_mode(0o666)).unwrap();
        let shared = std::fs::canonicalize(fx.mkdir("shared")).unwrap();
        Scene { fx, victim, shared }
    }

    fn home(&self) -> PathBuf {
        self.fx.path().join("mycelium-home")
    }

    /// A policy that writes the workspace.
    fn writer(&self) -> PathBuf {
        self.fx.policy(
            "writer",
            &format!("[filesystem]\nread_only = [{SYSTEM}]\nread_write = [\"{{workspace}}\"]\n"),
        )
    }

    /// `exec --policy P --workspace WS -- sh -c SCRIPT`, from `cwd`.
    fn exec(&self, policy: &Path, ws: &Path, cwd: &Path, script: &str) -> Output {
        let mut cmd = exec_cmd(policy, Some(ws), &["/bin/sh", "-c", script]);
        cmd.env("MYCELIUM_HOME", self.home()).current_dir(cwd);
        run_bounded(cmd)
    }

    fn victim_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.victim.join("keys")).unwrap(),
            SECRET
        );
        let names: Vec<_> = std::fs::read_dir(&self.victim)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("keys")]);
    }
}

/// Nothing ran (125), stdout is empty, and stderr has `needle`.
fn assert_refused(o: &Output, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(125),
        "stdout {:?} stderr {err}",
        text(&o.stdout)
    );
    assert!(err.contains(needle), "wanted {needle:?} in: {err}");
    assert_eq!(text(&o.stdout), "");
}

fn workspace_link_message(link: &Path, target: &Path) -> String {
    format!(
        "{} is a symbolic link (to {}) on the workspace's path that someone other than root could have placed (another user, or an earlier agent), so mycelium does not follow it: pass the workspace's physical path (the real directory) instead",
        link.display(),
        target.display()
    )
}

const PAYLOAD: &str = "cat keys; echo planted >> keys; echo ran";

#[test]
fn a_workspace_named_through_another_users_link_is_refused() {
    gate!("a_workspace_named_through_another_users_link_is_refused");
    let s = Scene::new();
    // Another user's /tmp/shared-ws -> the victim, in a directory everyone may write.
    let link = s.shared.join("shared-ws");
    symlink(&s.victim, &link).unwrap();
    // On the host the link does lead to the secret.
    assert_eq!(std::fs::read_to_string(link.join("keys")).unwrap(), SECRET);
    let policy = s.writer();
    let message = workspace_link_message(&link, &s.victim);
    // Absolute, relative to the working directory, and with the link as a parent.
    let o = s.exec(&policy, &link, Path::new("/"), PAYLOAD);
    assert_refused(&o, &message);
    let o = s.exec(&policy, Path::new("shared-ws"), &s.shared, PAYLOAD);
    assert_refused(&o, &message);
    let o = s.exec(
        &policy,
        Path::new("shared/shared-ws/."),
        s.fx.path(),
        PAYLOAD,
    );
    assert_refused(&o, &message);
    std::fs::create_dir(s.victim.join("sub")).unwrap();
    let o = s.exec(&policy, &link.join("sub"), Path::new("/"), "echo ran");
    assert_refused(&o, &message);
    std::fs::remove_dir(s.victim.join("sub")).unwrap();
    s.victim_untouched();

    // Positive twin: the physical path is the workspace, absolute or relative.
    let o = s.exec(&policy, &s.victim, Path::new("/"), PAYLOAD);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{SECRET}ran\n"));
    let o = s.exec(&policy, Path::new("victim"), s.fx.path(), "cat keys");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{SECRET}planted\n"));
}

#[test]
fn a_workspace_subdirectory_an_earlier_agent_turned_into_a_link_is_refused() {
    gate!("a_workspace_subdirectory_an_earlier_agent_turned_into_a_link_is_refused");
    let s = Scene::new();
    let proj = std::fs::canonicalize(s.fx.workspace("proj")).unwrap();
    let front = proj.join("frontend");
    std::fs::create_dir(&front).unwrap();
    std::fs::set_permissions(&front, PermissionsExt::from_mode(0o777)).unwrap();
    let policy = s.writer();
    // Run 1, on the whole project: the agent replaces frontend with a link to the victim.
    let o = s.exec(
        &policy,
        &proj,
        Path::new("/"),
        &format!(
            "rmdir frontend && ln -s {} frontend && echo planted",
            s.victim.display()
        ),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "planted\n");
    assert_eq!(std::fs::read_to_string(front.join("keys")).unwrap(), SECRET);
    // Run 2 names the subdirectory: absolute, and relative from the project.
    let message = workspace_link_message(&front, &s.victim);
    let o = s.exec(&policy, &front, Path::new("/"), PAYLOAD);
    assert_refused(&o, &message);
    let o = s.exec(&policy, Path::new("frontend"), &proj, PAYLOAD);
    assert_refused(&o, &message);
    s.victim_untouched();

    // Positive twin: a real directory there is a workspace.
    std::fs::remove_file(&front).unwrap();
    s.fx.workspace("proj/frontend");
    let o = s.exec(
        &policy,
        Path::new("frontend"),
        &proj,
        "echo mine > f && cat f",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "mine\n");
    assert_eq!(std::fs::read_to_string(front.join("f")).unwrap(), "mine\n");
}

fn file_link_message(link: &Path, target: &Path) -> String {
    format!(
        "{} is a symbolic link (to {}) that someone other than root could have placed, so mycelium does not read through it: name the file itself (its real path)",
        link.display(),
        target.display()
    )
}

#[test]
fn a_policy_file_reached_through_a_planted_link_or_a_fifo_is_refused() {
    gate!("a_policy_file_reached_through_a_planted_link_or_a_fifo_is_refused");
    let s = Scene::new();
    let real = s.fx.policy(
        "reader",
        &format!("[filesystem]\nread_only = [{SYSTEM}]\nread_write = [\"{{workspace}}\"]\n"),
    );
    let link = s.shared.join("policy.toml");
    symlink(&real, &link).unwrap();
    let o = s.exec(&link, &s.victim, Path::new("/"), "cat keys");
    assert_refused(&o, &file_link_message(&link, &real));
    // A FIFO named as the policy: refused at once, never opened (it would block).
    let fifo = s.shared.join("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let o = s.exec(&fifo, &s.victim, Path::new("/"), "cat keys");
    let err = text(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "{} is a FIFO, not a regular file; mycelium reads only regular files here (it never opens a FIFO, socket or device it finds)",
            fifo.display()
        )),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "");
    // Positive twin: the policy's own path.
    let o = s.exec(&real, &s.victim, Path::new("/"), "cat keys");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), SECRET);
}

/// `mycelium --policies DIR run NAME -w WS`.
fn run_agent(s: &Scene, policies: &Path, name: &str, ws: &Path) -> Output {
    let ws = ws.display().to_string();
    mycelium(s, policies, &["run", name, "-w", &ws])
}

/// `mycelium --policies DIR ARGS…`, with its own state directory.
fn mycelium(s: &Scene, policies: &Path, args: &[&str]) -> Output {
    let home = s.fx.mkdir("home");
    std::fs::set_permissions(&home, PermissionsExt::from_mode(0o700)).unwrap();
    let mut c = Command::new(bin());
    c.arg("--policies").arg(policies).args(args);
    c.env_clear()
        .envs(crate::common::launcher_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", s.fx.path())
        .env("MYCELIUM_HOME", &home)
        .current_dir(s.fx.path())
        .stdin(Stdio::null());
    run_bounded(c)
}

#[test]
fn pinned_files_and_definitions_are_not_read_through_planted_links() {
    gate!("pinned_files_and_definitions_are_not_read_through_planted_links");
    let s = Scene::new();
    let policies = s.fx.mkdir("policies");
    let agent = s.fx.file("agent.sh", "#!/bin/sh\necho from-agent\n");
    std::fs::set_permissions(&agent, PermissionsExt::from_mode(0o755)).unwrap();
    let def =
        s.fx.file("def.md", "---\nname: pinned\n---\nDo the thing.\n");
    // What an agent with the shared directory writable leaves: links to the real files.
    let agent_link = s.shared.join("agent.sh");
    symlink(&agent, &agent_link).unwrap();
    let def_link = s.shared.join("def.md");
    symlink(&def, &def_link).unwrap();
    let write = |pin: &Path, definition: Option<&Path>| {
        let d = definition.map_or(String::new(), |d| {
            format!("definition = {:?}\n", d.display().to_string())
        });
        s.fx.file(
            "policies/pinned.toml",
            &format!(
                "[agent]\ncommand = [\"/bin/sh\", {agent:?}]\npin = [{pin:?}]\n{d}\n[filesystem]\nread_only = [{SYSTEM}, {agent:?}]\n",
                agent = agent.display().to_string(),
                pin = pin.display().to_string(),
            ),
        );
    };
    write(&agent_link, None);
    let o = run_agent(&s, &policies, "pinned", &s.victim);
    let err = text(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "pinned file {}: cannot open: {}",
            agent_link.display(),
            file_link_message(&agent_link, &agent)
        )),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "");
    write(&agent, Some(&def_link));
    let o = run_agent(&s, &policies, "pinned", &s.victim);
    let err = text(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("cannot read definition {}", def_link.display())),
        "{err}"
    );
    assert!(err.contains(&file_link_message(&def_link, &def)), "{err}");
    assert_eq!(text(&o.stdout), "");

    // Positive twin: the real paths, pinned and defined, run.
    write(&agent, Some(&def));
    let o = mycelium(&s, &policies, &["consent", "grant", "--yes", "pinned"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = run_agent(&s, &policies, "pinned", &s.victim);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "from-agent\n");
}

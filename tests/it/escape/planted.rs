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
    let link = s.shared.join("policy.toml");
    symlink(&real, &link).unwrap();
    let o = s.exec(&link, &s.victim, Path::new("/"), "cat keys");
    assert_refused(&o, &file_link_message(&link, &real));
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
        .envs(crate::common::profile_env())
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

/// `exec --policy P -- sh -c SCRIPT`, no workspace, optionally inside a private mount
/// namespace where `bind` (source, alias) is bind-mounted first.
fn exec_plain(s: &Scene, policy: &Path, script: &str, bind: Option<(&Path, &Path)>) -> Output {
    match bind {
        None => {
            let mut cmd = exec_cmd(policy, None, &["/bin/sh", "-c", script]);
            cmd.env("MYCELIUM_HOME", s.home());
            run_bounded(cmd)
        }
        Some((src, alias)) => exec_after(
            s,
            policy,
            script,
            &format!(
                "mount --bind {:?} {:?}",
                src.display().to_string(),
                alias.display().to_string()
            ),
        ),
    }
}

/// The same command, started by a shell that first runs `setup` (mounts) in a mount
/// namespace of its own (nothing of it reaches the host's).
fn exec_after(s: &Scene, policy: &Path, script: &str, setup: &str) -> Output {
    let mut cmd = exec_cmd(policy, None, &["/bin/sh", "-c", script]);
    cmd.env("MYCELIUM_HOME", s.home());
    let mut outer = Command::new("unshare");
    outer
        .args(["-m", "--propagation", "private", "/bin/sh", "-c"])
        .arg(format!("{setup} && exec \"$@\""))
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    outer.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            outer.env(k, v);
        }
    }
    outer.stdin(Stdio::null());
    run_bounded(outer)
}

#[test]
fn a_writable_grant_written_through_an_alias_still_makes_its_place_untrusted() {
    gate!("a_writable_grant_written_through_an_alias_still_makes_its_place_untrusted");
    let s = Scene::new();
    let root = nix::unistd::geteuid().is_root();
    // fx/real/data: a closed directory of the caller's; fx/alias -> real, the caller's link
    // in the caller's closed directory (root's, on a root run: a link mycelium trusts).
    let real = s.fx.path().join("real");
    let data = real.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for d in [&real, &data] {
        std::fs::set_permissions(d, PermissionsExt::from_mode(0o755)).unwrap();
    }
    symlink("real", s.fx.path().join("alias")).unwrap();
    // In data/, a link to the victim such as an earlier run with data/ writable may have
    // left (root-owned on a root run).
    let conf = data.join("conf");
    symlink(&s.victim, &conf).unwrap();
    let read = format!("cat {}/keys", conf.display());
    let policy = |rw: &Path| {
        s.fx.policy(
            "alias",
            &format!(
                "[filesystem]\nread_only = [{SYSTEM}, {conf:?}]\nread_write = [{rw:?}]\n",
                conf = conf.display().to_string(),
                rw = rw.display().to_string()
            ),
        )
    };
    let refusal = format!(
        "{} is a symbolic link (to {}) that someone other than root could have placed, so mycelium does not follow it: grant the link's target instead",
        conf.display(),
        s.victim.display()
    );
    // data/ made writable through the link alias/, or written physically.
    for rw in [s.fx.path().join("alias/data"), data.clone()] {
        let o = exec_plain(&s, &policy(&rw), &read, None);
        assert_refused(&o, &refusal);
    }
    if root {
        // …and through a bind-mounted alias of data/.
        let bound = s.fx.mkdir("bound");
        let o = exec_plain(&s, &policy(&bound), &read, Some((&data, &bound)));
        assert_refused(&o, &refusal);
    }
    s.victim_untouched();

    // Positive twin: with data/ not writable, root's link there is followed (on a root
    // run; the test owner's own link never is).
    let other = s.fx.mkdir("elsewhere");
    let o = exec_plain(&s, &policy(&other), &read, None);
    if root {
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), SECRET);
        // The bind twin: the same run, with the alias made of another directory.
        let bound = s.fx.path().join("bound");
        let o = exec_plain(&s, &policy(&bound), &read, Some((&other, &bound)));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), SECRET);
    } else {
        assert_refused(&o, &refusal);
    }
}

#[test]
fn a_granted_directory_with_mounts_below_it_is_refused_with_a_reason() {
    gate!("a_granted_directory_with_mounts_below_it_is_refused_with_a_reason");
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "SKIPPED a_granted_directory_with_mounts_below_it_is_refused_with_a_reason: needs root to mount below a granted directory"
        );
        return;
    }
    let s = Scene::new();
    let dir = std::fs::canonicalize(s.fx.mkdir("ovm")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/hidden"), "under-the-mount\n").unwrap();
    std::fs::write(dir.join("ok"), "visible\n").unwrap();
    let policy = s.fx.policy(
        "ovm",
        &format!(
            "[filesystem]\nread_only = [{SYSTEM}, {:?}]\n",
            dir.display().to_string()
        ),
    );
    let script = format!("cat {}/ok; ls {}/sub", dir.display(), dir.display());
    let mount = format!(
        "mount -t tmpfs none {:?}",
        dir.join("sub").display().to_string()
    );
    let o = exec_after(&s, &policy, &script, &mount);
    assert_refused(
        &o,
        &format!(
            "bind {}: {} has mounts under it that a sandbox cannot carry (open_tree: EINVAL): grant those mounted directories separately, or grant a path with no mounts below it",
            dir.display(),
            dir.display()
        ),
    );
    // Positive twin: the same directory with nothing mounted below it.
    let o = exec_after(&s, &policy, &script, "true");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "visible\nhidden\n");
}

#[test]
fn a_tmpfs_below_a_link_the_sandbox_keeps_is_refused_when_planned() {
    gate!("a_tmpfs_below_a_link_the_sandbox_keeps_is_refused_when_planned");
    let s = Scene::new();
    // /lib is a root link on merged-/usr systems; elsewhere /bin is checked the same way.
    let link = ["/lib", "/bin"]
        .into_iter()
        .find(|l| std::fs::symlink_metadata(l).is_ok_and(|m| m.file_type().is_symlink()));
    let Some(link) = link else {
        eprintln!(
            "SKIPPED a_tmpfs_below_a_link_the_sandbox_keeps_is_refused_when_planned: neither /lib nor /bin is a link here"
        );
        return;
    };
    let real = std::fs::canonicalize(link).unwrap();
    let policy = |at: &str| {
        s.fx.policy(
            "tmpfs",
            &format!("[filesystem]\nread_only = [{SYSTEM}]\ntmpfs = {{ {at:?} = \"1M\" }}\n"),
        )
    };
    let o = exec_plain(&s, &policy(&format!("{link}/x")), "echo ran", None);
    assert_refused(
        &o,
        &format!(
            "filesystem.tmpfs: {link}/x is or lies under {link}, which is a symbolic link inside the sandbox (as on the host) and a mount point is never reached through a link: put the tmpfs at {}/x instead",
            real.display()
        ),
    );
    assert!(
        !text(&o.stderr).contains("inside the workspace"),
        "{}",
        text(&o.stderr)
    );
    // Positive twin: a tmpfs elsewhere mounts.
    let o = exec_plain(
        &s,
        &policy("/scratch"),
        "echo hi > /scratch/f && cat /scratch/f",
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "hi\n");
}

#[test]
fn a_file_grant_written_with_a_trailing_slash_is_refused_at_load() {
    gate!("a_file_grant_written_with_a_trailing_slash_is_refused_at_load");
    let s = Scene::new();
    let file = s.fx.file("note", "a-note\n");
    let dir = std::fs::canonicalize(s.fx.mkdir("dir")).unwrap();
    std::fs::write(dir.join("in"), "inside\n").unwrap();
    let policy = |f: &str, d: &str| {
        s.fx.policy(
            "slash",
            &format!("[filesystem]\nread_only = [{SYSTEM},\n  {f:?},\n  {d:?}]\n"),
        )
    };
    let script = format!("cat {} {}/in", file.display(), dir.display());
    let p = policy(
        &format!("{}/", file.display()),
        &format!("{}/", dir.display()),
    );
    let o = exec_plain(&s, &p, &script, None);
    let err = text(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "{}:3:3: filesystem.read_only[5]: \"{}/\" ends with `/`, which names a directory, but {} is not a directory; remove the trailing `/` to grant the file",
            p.display(),
            file.display(),
            file.display()
        )),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "");
    // Positive twin: the file without the slash (the directory keeps its slash).
    let p = policy(&file.display().to_string(), &format!("{}/", dir.display()));
    let o = exec_plain(&s, &p, &script, None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "a-note\ninside\n");
}

//! The workspace chosen at run time (issue 10, item 6): `exec -w` and `run -w` refuse `/`,
//! the home directory and its parents, system directories and credential locations
//! (followed through links), with exit 125 and a message; a project directory works, and
//! `--allow-workspace` accepts exactly the directory it names.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pretty_assertions::assert_eq;

use crate::common::bin;
use crate::gate;
use crate::sandbox::{Fixture, SYSTEM};

/// A caller's world: a home (with `.ssh/authorized_keys`), a project inside it, the
/// consent store, policies.
struct World {
    fx: Fixture,
}

impl World {
    fn new() -> World {
        let fx = Fixture::new();
        fx.mkdir("home/.ssh");
        fx.file(
            "home/.ssh/authorized_keys",
            "ssh-ed25519 AAAA the-real-key\n",
        );
        fx.workspace("home/project");
        fx.mkdir("policies");
        fx.mkdir("state");
        std::fs::set_permissions(
            fx.path().join("state"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        // The workspace-writer of the issue: it appends to a file in its workspace.
        fx.file(
            "policies/writer.toml",
            &format!(
                "[agent]\ncommand = [\"/bin/sh\", \"-c\", \"echo planted >> authorized_keys; echo ran\"]\n\n[filesystem]\nread_only = [{SYSTEM}]\nread_write = [\"{{workspace}}\"]\n"
            ),
        );
        World { fx }
    }

    fn home(&self) -> PathBuf {
        self.fx.path().join("home")
    }

    fn keys(&self) -> String {
        std::fs::read_to_string(self.home().join(".ssh/authorized_keys")).unwrap()
    }

    fn policy(&self) -> PathBuf {
        self.fx.path().join("policies/writer.toml")
    }

    /// `mycelium ARGS…` with HOME set to this world's home.
    fn run(&self, args: &[&str]) -> Output {
        self.run_with_path(args, "/usr/bin:/bin")
    }

    /// [`World::run`] with the caller's `PATH` set to `path`.
    fn run_with_path(&self, args: &[&str], path: &str) -> Output {
        Command::new(bin())
            .arg("--policies")
            .arg(self.fx.path().join("policies"))
            .args(args)
            .env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", path)
            .env("HOME", self.home())
            .env("MYCELIUM_HOME", self.fx.path().join("state"))
            .current_dir(self.fx.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn exec(&self, ws: &Path, extra: &[&str]) -> Output {
        self.exec_with_path(ws, extra, "/usr/bin:/bin")
    }

    /// [`World::exec`] with the caller's `PATH` set to `path`.
    fn exec_with_path(&self, ws: &Path, extra: &[&str], path: &str) -> Output {
        let policy = self.policy();
        let mut args = vec!["exec", "--policy", policy.to_str().unwrap()];
        args.extend(["--workspace", ws.to_str().unwrap()]);
        args.extend(extra);
        args.extend([
            "--",
            "/bin/sh",
            "-c",
            "echo planted >> authorized_keys; echo ran",
        ]);
        self.run_with_path(&args, path)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The message for refusing `resolved` because of `why`.
fn refused(policy: &Path, resolved: &Path, why: &str) -> String {
    format!(
        "mycelium: {}: workspace {} is refused: {why}; choose a project directory (for example one inside your home), or pass --allow-workspace {} to hand exactly this directory to the agent\nmycelium: nothing was run\n",
        policy.display(),
        resolved.display(),
        resolved.display()
    )
}

/// What a workspace named through the test's own `link` (to `target`) gets: on a root run
/// the link is root's, in a closed root-owned directory, so it is followed and `target` is
/// judged; as any other user it is a link someone other than root placed, refused first.
fn refused_via_link(policy: &Path, link: &Path, target: &Path, why: &str) -> String {
    if nix::unistd::geteuid().is_root() {
        return refused(policy, target, why);
    }
    format!(
        "mycelium: {}: workspace {}: {} is a symbolic link (to {}) on the workspace's path that someone other than root could have placed (another user, or an earlier agent), so mycelium does not follow it: pass the workspace's physical path (the real directory) instead\nmycelium: nothing was run\n",
        policy.display(),
        link.display(),
        link.display(),
        target.display()
    )
}

#[test]
fn exec_refuses_homes_credentials_and_system_directories() {
    gate!("exec_refuses_homes_credentials_and_system_directories");
    let w = World::new();
    let home = w.home();
    let ssh = home.join(".ssh");
    let link = w.fx.path().join("project-link");
    std::os::unix::fs::symlink(&ssh, &link).unwrap();
    let inside = w.fx.mkdir("home/.ssh/sub");
    let services = w.fx.mkdir("home/.config/systemd/user");
    let home_why =
        "it is a home directory or contains one (with the credentials and start-up files in it)";
    let cred = |c: &Path| {
        format!(
            "it is, lies inside or contains the credential location {}",
            c.display()
        )
    };
    let cases: Vec<(PathBuf, PathBuf, String)> = vec![
        (ssh.clone(), ssh.clone(), cred(&ssh)),
        (link.clone(), ssh.clone(), cred(&ssh)),
        (inside.clone(), inside.clone(), cred(&ssh)),
        (home.clone(), home.clone(), home_why.into()),
        (
            services.clone(),
            services.clone(),
            format!(
                "it lies in {}, the user's own configuration (start-up files, services, programs on the PATH)",
                home.join(".config").display()
            ),
        ),
        // The fixture's directory is the home's parent.
        (
            w.fx.path().to_path_buf(),
            w.fx.path().to_path_buf(),
            home_why.into(),
        ),
        (
            "/".into(),
            "/".into(),
            "it is the root of the host's file system".into(),
        ),
        ("/etc".into(), "/etc".into(), cred(Path::new("/etc/shadow"))),
        (
            "/usr/share".into(),
            "/usr/share".into(),
            "it lies in the system directory /usr".into(),
        ),
        (
            "/var/tmp".into(),
            "/var/tmp".into(),
            "it is a directory every user shares; make a directory inside it".into(),
        ),
        // /var holds the service state in /var/lib, and on most hosts the homes of service
        // accounts (www-data's /var/www, mail's /var/mail), which are named first.
        (
            "/var".into(),
            "/var".into(),
            if passwd_has_home_under("/var") {
                home_why.into()
            } else {
                cred(Path::new("/var/lib"))
            },
        ),
    ];
    for (given, resolved, why) in cases {
        let o = w.exec(&given, &[]);
        let expected = if given == link {
            refused_via_link(&w.policy(), &link, &resolved, &why)
        } else {
            refused(&w.policy(), &resolved, &why)
        };
        assert_eq!(
            (o.status.code(), text(&o.stderr), text(&o.stdout)),
            (Some(125), expected, String::new()),
            "-w {}",
            given.display()
        );
    }
    assert_eq!(w.keys(), "ssh-ed25519 AAAA the-real-key\n");
}

/// The red team's variant: `-w ~/bin` let an agent plant `ls` where a login shell looks
/// first. Every directory of programs run by name is refused, or a directory holding one:
/// each home's `bin` and `go/bin`, every absolute entry of the caller's `PATH` (also
/// reached through a link on it); a directory inside one is not on the PATH and is fine.
#[test]
fn exec_refuses_directories_of_programs_run_by_name() {
    gate!("exec_refuses_directories_of_programs_run_by_name");
    let w = World::new();
    let bin_dir = w.fx.workspace("home/bin");
    let go = w.fx.workspace("home/go");
    w.fx.workspace("home/go/bin");
    let tools = w.fx.workspace("tools");
    let tools_bin = w.fx.workspace("tools/bin");
    let via = w.fx.path().join("via");
    std::os::unix::fs::symlink(&tools, &via).unwrap();
    // Entries that do not exist yet: under a linked prefix (`npm install` makes it later),
    // and a link whose target is still to come.
    let later = w.fx.workspace("tools/later");
    let proj = w.fx.workspace("proj4");
    let dangling = w.fx.path().join("mybin");
    std::os::unix::fs::symlink(proj.join("bin"), &dangling).unwrap();
    let path = format!(
        "/usr/bin:/bin:relative/bin:{}:{}:{}",
        via.join("bin").display(),
        via.join("later/node_modules/.bin").display(),
        dangling.display()
    );
    let why = |d: &Path| {
        format!(
            "it is or contains {}, a directory of programs run by name (on the PATH)",
            d.display()
        )
    };
    for (ws, dir) in [
        (&bin_dir, bin_dir.clone()),
        (&go, go.join("bin")),
        (&tools_bin, tools_bin.clone()),
        (&tools, tools_bin.clone()),
        (&later, later.join("node_modules/.bin")),
        (&proj, proj.join("bin")),
    ] {
        let o = w.exec_with_path(ws, &[], &path);
        assert_eq!(
            (o.status.code(), text(&o.stderr), text(&o.stdout)),
            (
                Some(125),
                refused(&w.policy(), ws, &why(&dir)),
                String::new()
            ),
            "-w {}",
            ws.display()
        );
        assert!(!ws.join("authorized_keys").exists(), "{}", ws.display());
    }
    // Twins: inside a PATH directory, and beside one, the agent runs.
    for ws in [w.fx.workspace("tools/bin/sub"), w.fx.workspace("tools/src")] {
        let o = w.exec_with_path(&ws, &[], &path);
        assert_eq!(
            (o.status.code(), text(&o.stdout)),
            (Some(0), "ran\n".to_string()),
            "-w {}: {}",
            ws.display(),
            text(&o.stderr)
        );
    }
}

/// The third red team's variant: the dotfiles layout. Where a home's hidden entries lead
/// through links (`~/.bashrc -> dotfiles/bashrc`, `~/.ssh -> sync/ssh`) is the user's
/// configuration and credentials under another name: refused as a workspace (or one that
/// contains it), and reading it rates high.
#[test]
fn where_a_homes_hidden_entries_lead_is_refused() {
    gate!("where_a_homes_hidden_entries_lead_is_refused");
    let w = World::new();
    let home = w.home();
    let dotfiles = w.fx.workspace("home/dotfiles");
    std::fs::write(dotfiles.join("bashrc"), "# the user's shell start-up\n").unwrap();
    std::os::unix::fs::symlink("dotfiles/bashrc", home.join(".bashrc")).unwrap();
    let sync = w.fx.workspace("home/sync");
    let ssh = w.fx.workspace("home/sync/ssh");
    std::os::unix::fs::symlink("sync/ssh", home.join(".profile-ssh-is-not-it")).unwrap();
    std::fs::remove_dir_all(home.join(".ssh")).unwrap();
    std::os::unix::fs::symlink("sync/ssh", home.join(".ssh")).unwrap();
    let why = |target: &Path, entry: &str| {
        format!(
            "it is, lies inside or contains {}, where {} leads (the user's own configuration or credentials)",
            target.display(),
            home.join(entry).display()
        )
    };
    for (ws, target, entry) in [
        (&dotfiles, dotfiles.join("bashrc"), ".bashrc"),
        (&ssh, ssh.clone(), ".ssh"),
        (&sync, ssh.clone(), ".ssh"),
    ] {
        let o = w.exec(ws, &[]);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "-w {}: {stderr}", ws.display());
        // The first link found may be either name for the same target.
        assert!(
            stderr.contains(&why(&target, entry))
                || stderr.contains(&why(&target, ".profile-ssh-is-not-it")),
            "-w {}: {stderr}",
            ws.display()
        );
        assert!(!ws.join("authorized_keys").exists());
    }
    // Reading where ~/.ssh leads is reading ~/.ssh.
    let policy = w.fx.file(
        "policies/keys.toml",
        &format!(
            "[filesystem]\nread_only = [{SYSTEM}, {:?}]\n",
            ssh.display().to_string()
        ),
    );
    let o = w.run(&["policy", "explain", policy.to_str().unwrap()]);
    let out = text(&o.stdout);
    assert!(out.contains("Risk: HIGH"), "{out}");
    assert!(
        out.contains(&format!("where {} leads", home.join(".ssh").display())),
        "{out}"
    );
    // Twin: a project beside them is fine.
    let o = w.exec(&home.join("project"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn exec_runs_in_a_project_directory_and_with_allow_workspace() {
    gate!("exec_runs_in_a_project_directory_and_with_allow_workspace");
    let w = World::new();
    let project = w.home().join("project");
    // Positive twin: a project directory inside the home works.
    let o = w.exec(&project, &[]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "ran\n".to_string()),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(project.join("authorized_keys")).unwrap(),
        "planted\n"
    );
    // The override names exactly one directory: another refused one stays refused.
    let ssh = w.home().join(".ssh");
    let o = w.exec(&ssh, &["--allow-workspace", w.home().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert_eq!(w.keys(), "ssh-ed25519 AAAA the-real-key\n");
    // Named exactly, it is accepted (as root, the agent takes the directory owner's
    // ids: give it one that is not root, as a human would have to).
    if nix::unistd::geteuid().is_root() {
        let o = w.exec(
            &ssh,
            &[
                "--allow-workspace",
                ssh.to_str().unwrap(),
                "--run-as",
                "65534",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        // The key file is root's and mode 0644: nobody may not append to it.
        assert_eq!(w.keys(), "ssh-ed25519 AAAA the-real-key\n");
    } else {
        let o = w.exec(&ssh, &["--allow-workspace", ssh.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(w.keys(), "ssh-ed25519 AAAA the-real-key\nplanted\n");
    }
}

#[test]
fn run_refuses_a_credential_workspace_for_a_consented_writer() {
    gate!("run_refuses_a_credential_workspace_for_a_consented_writer");
    let w = World::new();
    let o = w.run(&["consent", "grant", "--yes", "writer"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let ssh = w.home().join(".ssh");
    let link = w.fx.path().join("link");
    std::os::unix::fs::symlink(&ssh, &link).unwrap();
    for given in [&ssh, &link] {
        let o = w.run(&["run", "writer", "-w", given.to_str().unwrap()]);
        let why = format!(
            "it is, lies inside or contains the credential location {}",
            ssh.display()
        );
        let expected = if given == &link {
            refused_via_link(&w.policy(), &link, &ssh, &why)
        } else {
            refused(&w.policy(), &ssh, &why)
        };
        assert_eq!(
            (o.status.code(), text(&o.stderr), text(&o.stdout)),
            (Some(125), expected, String::new())
        );
    }
    let home = w.home();
    let o = w.run(&["run", "writer", "-w", home.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert_eq!(w.keys(), "ssh-ed25519 AAAA the-real-key\n");
    // Positive twin: the same consented agent runs in a project directory.
    let project = w.home().join("project");
    let o = w.run(&["run", "writer", "-w", project.to_str().unwrap()]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "ran\n".to_string()),
        "{}",
        text(&o.stderr)
    );
}

/// Whether some account in this host's /etc/passwd has its home inside `dir`.
fn passwd_has_home_under(dir: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').nth(5))
        .any(|h| Path::new(h).starts_with(dir))
}

/// A root caller's agent takes the ids of the workspace's owner, read from the directory
/// that was opened and is mounted: an agent that swaps the workspace's name for a link to
/// another user's directory while a later run is being planned (`renameat2` exchange, in a
/// loop) never makes that run act as the other user. Before, the owner was looked up by
/// name again after the open, and this loop hit within a few dozen runs.
#[test]
fn a_swapped_workspace_never_chooses_whose_ids_the_agent_takes() {
    gate!("a_swapped_workspace_never_chooses_whose_ids_the_agent_takes");
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "SKIPPED a_swapped_workspace_never_chooses_whose_ids_the_agent_takes: ids are chosen only for a root caller"
        );
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let fx = Fixture::new();
    let race = fx.workspace("race");
    let x = fx.workspace("race/x");
    // Another user's private directory, and a link to it beside the workspace.
    let victim = fx.mkdir("victim");
    std::os::unix::fs::chown(&victim, Some(4242), Some(4242)).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&victim, race.join("y")).unwrap();
    let policy = fx.policy(
        "w",
        &format!("[filesystem]\nread_only = [{SYSTEM}]\nread_write = [\"{{workspace}}\"]\n"),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (stop, race) = (std::sync::Arc::clone(&stop), race.clone());
        std::thread::spawn(move || {
            let dir = std::fs::File::open(&race).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = nix::fcntl::renameat2(
                    &dir,
                    "x",
                    &dir,
                    "y",
                    nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                );
            }
        })
    };
    for i in 0..400 {
        let _ = crate::sandbox::sh(&policy, Some(&x), &format!("touch probe-{i}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    let mut made = 0;
    for dir in [&victim, &race.join("x"), &race.join("y")] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if e.file_name().to_string_lossy().starts_with("probe-") {
                made += 1;
                assert_eq!(
                    (meta.uid(), dir == &victim),
                    (crate::sandbox::TEST_OWNER, false),
                    "{} was made as uid {}",
                    e.path().display(),
                    meta.uid()
                );
            }
        }
    }
    // Some runs got through the swaps (the others were refused, as they should be).
    assert!(made > 0, "no run started at all");
}

//! Links, FIFOs and sockets planted at a granted path (issue 10, item 1): an earlier agent
//! with a writable workspace replaces `{workspace}/out` (or a parent of a nested grant)
//! with a link to a host directory, and a later run whose policy grants that path must not
//! get the host directory mounted. Every attack is run end to end through the real binary,
//! next to its positive twin (the link does lead to the canary on the host, and a real
//! directory at the same grant mounts and works).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::run_bounded;
use crate::common::bin;
use crate::gate;
use crate::sandbox::{Fixture, SYSTEM, exec_cmd};

const CANARY: &str = "host-canary-line\n";

/// A workspace, and a fake host "etc" (with a canary `passwd`) that links point at.
struct Scene {
    fx: Fixture,
    ws: PathBuf,
    etc: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let fx = Fixture::new();
        let ws = std::fs::canonicalize(fx.workspace("ws")).unwrap();
        let etc = std::fs::canonicalize(fx.mkdir("etc")).unwrap();
        std::fs::write(etc.join("passwd"), CANARY).unwrap();
        std::fs::set_permissions(etc.join("passwd"), PermissionsExt::from_mode(0o666)).unwrap();
        Scene { fx, ws, etc }
    }

    fn policy(&self, read_only: &str, read_write: &str) -> PathBuf {
        let ro = if read_only.is_empty() {
            String::new()
        } else {
            format!(", {read_only}")
        };
        self.fx.policy(
            "links",
            &format!("[filesystem]\nread_only = [{SYSTEM}{ro}]\nread_write = [{read_write}]\n"),
        )
    }

    fn sh(&self, policy: &Path, script: &str) -> Output {
        let mut cmd = exec_cmd(policy, Some(&self.ws), &["/bin/sh", "-c", script]);
        cmd.env("MYCELIUM_HOME", self.fx.path().join("mycelium-home"));
        run_bounded(cmd)
    }

    /// The canary is exactly as it was, and nothing was added next to it.
    fn assert_host_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.etc.join("passwd")).unwrap(),
            CANARY
        );
        let names: Vec<_> = std::fs::read_dir(&self.etc)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("passwd")]);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Nothing ran (125), and the error names `link` as a link in the workspace.
fn assert_refused_link(o: &Output, link: &Path) {
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(125),
        "stdout {:?} stderr {err}",
        text(&o.stdout)
    );
    assert!(
        err.contains(&format!(
            "{} is a symbolic link inside the workspace; mycelium never follows a link there",
            link.display()
        )),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert_eq!(text(&o.stdout), "");
}

/// The script writes through the grant and reads the canary name: the attack's payload.
const PAYLOAD: &str = "echo pwned >> out/passwd; cat out/passwd; echo ran";

#[test]
fn absolute_link_at_a_read_write_grant_is_refused() {
    gate!("absolute_link_at_a_read_write_grant_is_refused");
    let s = Scene::new();
    let link = s.ws.join("out");
    symlink(&s.etc, &link).unwrap();
    // On the host the link does lead to the canary.
    assert_eq!(
        std::fs::read_to_string(link.join("passwd")).unwrap(),
        CANARY
    );
    let policy = s.policy("", "\"{workspace}/out\"");
    let o = s.sh(&policy, PAYLOAD);
    assert_refused_link(&o, &link);
    s.assert_host_untouched();

    // Positive twin: a real directory at the same grant mounts read-write.
    std::fs::remove_file(&link).unwrap();
    std::fs::create_dir(&link).unwrap();
    std::fs::set_permissions(&link, PermissionsExt::from_mode(0o777)).unwrap();
    let o = s.sh(&policy, PAYLOAD);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "pwned\nran\n");
    assert_eq!(
        std::fs::read_to_string(link.join("passwd")).unwrap(),
        "pwned\n"
    );
    s.assert_host_untouched();
}

#[test]
fn relative_dotdot_link_at_a_read_only_grant_is_refused() {
    gate!("relative_dotdot_link_at_a_read_only_grant_is_refused");
    let s = Scene::new();
    let link = s.ws.join("out");
    // ws/out -> ../etc: the fake etc next to the workspace.
    symlink("../etc", &link).unwrap();
    assert_eq!(
        std::fs::read_to_string(link.join("passwd")).unwrap(),
        CANARY
    );
    let policy = s.policy("\"{workspace}/out\"", "");
    let o = s.sh(&policy, "cat out/passwd; echo ran");
    assert_refused_link(&o, &link);
    s.assert_host_untouched();

    // A deeper relative climb, to the real host root.
    std::fs::remove_file(&link).unwrap();
    let depth = s.ws.components().count();
    symlink(format!("{}etc", "../".repeat(depth)), &link).unwrap();
    assert!(link.join("passwd").exists());
    let o = s.sh(&policy, "cat out/passwd; echo ran");
    assert_refused_link(&o, &link);

    // Positive twin: a real directory is mounted read-only.
    std::fs::remove_file(&link).unwrap();
    std::fs::create_dir(&link).unwrap();
    std::fs::write(link.join("passwd"), "mine\n").unwrap();
    let o = s.sh(
        &policy,
        "cat out/passwd; echo x > out/passwd || echo read-only",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "mine\nread-only\n");
}

#[test]
fn link_at_a_nested_grants_parent_is_refused() {
    gate!("link_at_a_nested_grants_parent_is_refused");
    let s = Scene::new();
    // The policy grants {workspace}/a/out; the agent renames `a` away and links `a` to a
    // host directory that has an `out` of its own.
    std::fs::create_dir_all(s.ws.join("a/out")).unwrap();
    std::fs::rename(s.ws.join("a"), s.ws.join("a.old")).unwrap();
    std::fs::create_dir(s.etc.join("out")).unwrap();
    std::fs::write(s.etc.join("out/secret"), CANARY).unwrap();
    let link = s.ws.join("a");
    symlink(&s.etc, &link).unwrap();
    let policy = s.policy("", "\"{workspace}/a/out\"");
    let o = s.sh(
        &policy,
        "cat a/out/secret; echo pwned > a/out/new; echo ran",
    );
    assert_refused_link(&o, &link);
    assert!(!s.etc.join("out/new").exists());
    assert_eq!(
        std::fs::read_to_string(s.etc.join("out/secret")).unwrap(),
        CANARY
    );

    // Positive twin: the real parent back in place.
    std::fs::remove_file(&link).unwrap();
    std::fs::rename(s.ws.join("a.old"), s.ws.join("a")).unwrap();
    std::fs::set_permissions(s.ws.join("a/out"), PermissionsExt::from_mode(0o777)).unwrap();
    let o = s.sh(&policy, "echo mine > a/out/new && cat a/out/new");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "mine\n");
}

#[test]
fn link_at_an_optional_grant_is_refused_not_skipped() {
    gate!("link_at_an_optional_grant_is_refused_not_skipped");
    let s = Scene::new();
    let link = s.ws.join("out");
    symlink(&s.etc, &link).unwrap();
    // The workspace itself read-only (the agent starts there), `out` optional read-write.
    let policy = s.policy("\"{workspace}\"", "\"?{workspace}/out\"");
    let o = s.sh(&policy, PAYLOAD);
    assert_refused_link(&o, &link);
    s.assert_host_untouched();

    // Positive twin: an optional grant that is simply absent is skipped and the run goes on.
    std::fs::remove_file(&link).unwrap();
    let o = s.sh(&policy, "test -e out || echo absent");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "absent\n");
}

#[test]
fn link_to_a_file_such_as_authorized_keys_is_refused() {
    gate!("link_to_a_file_such_as_authorized_keys_is_refused");
    let s = Scene::new();
    let keys = s.fx.mkdir("dot-ssh").join("authorized_keys");
    std::fs::write(&keys, "ssh-ed25519 AAAA owner\n").unwrap();
    std::fs::set_permissions(&keys, PermissionsExt::from_mode(0o666)).unwrap();
    let link = s.ws.join("notes.txt");
    symlink(&keys, &link).unwrap();
    let policy = s.policy("", "\"{workspace}/notes.txt\"");
    let o = s.sh(
        &policy,
        "echo ssh-ed25519 BBBB attacker >> notes.txt; cat notes.txt",
    );
    assert_refused_link(&o, &link);
    assert_eq!(
        std::fs::read_to_string(&keys).unwrap(),
        "ssh-ed25519 AAAA owner\n"
    );

    // A hard link of it is refused too: a granted workspace file must have one name.
    std::fs::remove_file(&link).unwrap();
    if std::fs::hard_link(&keys, &link).is_ok() {
        let o = s.sh(&policy, "echo ssh-ed25519 BBBB attacker >> notes.txt");
        assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(&format!(
                "{} has 2 hard links; a file granted from a workspace must have exactly one",
                link.display()
            )),
            "{}",
            text(&o.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&keys).unwrap(),
            "ssh-ed25519 AAAA owner\n"
        );
        std::fs::remove_file(&link).unwrap();
    }

    // Positive twin: a real file at the grant is mounted and writable.
    std::fs::write(&link, "first\n").unwrap();
    std::fs::set_permissions(&link, PermissionsExt::from_mode(0o666)).unwrap();
    let o = s.sh(&policy, "echo second >> notes.txt; cat notes.txt");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "first\nsecond\n");
}

#[test]
fn link_to_mycelium_home_is_refused() {
    gate!("link_to_mycelium_home_is_refused");
    let s = Scene::new();
    let home = s.fx.mkdir("mycelium-home");
    std::fs::write(home.join("consent.json"), "{}\n").unwrap();
    let link = s.ws.join("out");
    symlink(&home, &link).unwrap();
    let policy = s.policy("", "\"{workspace}/out\"");
    let o = s.sh(&policy, "echo forged > out/consent.json");
    assert_refused_link(&o, &link);
    assert_eq!(
        std::fs::read_to_string(home.join("consent.json")).unwrap(),
        "{}\n"
    );

    // The protected check holds for the object: a workspace that contains
    // $MYCELIUM_HOME is refused whichever name leads to it (a link the workspace walk
    // follows is root's: on a root run the test's own; otherwise the link itself is
    // refused first).
    let alias = s.fx.path().join("alias");
    symlink(s.fx.path(), &alias).unwrap();
    let mut cmd = exec_cmd(&policy, Some(&alias), &["/bin/true"]);
    cmd.env("MYCELIUM_HOME", &home);
    let o = run_bounded(cmd);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    let why = if nix::unistd::geteuid().is_root() {
        "mycelium's own state".to_string()
    } else {
        format!(
            "{} is a symbolic link (to {}) on the workspace's path that someone other than root could have placed",
            alias.display(),
            s.fx.path().display()
        )
    };
    assert!(text(&o.stderr).contains(&why), "{}", text(&o.stderr));
}

#[test]
fn fifo_and_socket_at_a_granted_path_are_refused_without_opening_them() {
    gate!("fifo_and_socket_at_a_granted_path_are_refused_without_opening_them");
    let s = Scene::new();
    let at = s.ws.join("out");
    let policy = s.policy("\"{workspace}/out\"", "");
    // A FIFO: opening it would block mycelium forever (run_bounded fails the test then).
    nix::unistd::mkfifo(&at, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let o = s.sh(&policy, "echo ran");
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(&format!(
            "{} is a FIFO; only directories and regular files can be granted",
            at.display()
        )),
        "{}",
        text(&o.stderr)
    );
    std::fs::remove_file(&at).unwrap();
    // A unix socket, listening.
    let _listener = std::os::unix::net::UnixListener::bind(&at).unwrap();
    let o = s.sh(&policy, "echo ran");
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(&format!(
            "{} is a socket; only directories and regular files can be granted",
            at.display()
        )),
        "{}",
        text(&o.stderr)
    );
    drop(_listener);
    std::fs::remove_file(&at).unwrap();
    // Positive twin: a regular file there.
    std::fs::write(&at, "plain\n").unwrap();
    let o = s.sh(&policy, "cat out");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "plain\n");
}

#[test]
fn a_link_outside_the_workspace_that_others_could_place_is_refused() {
    gate!("a_link_outside_the_workspace_that_others_could_place_is_refused");
    let s = Scene::new();
    // A directory everyone may write (as /tmp is): a link there is not root's alone.
    let open = s.fx.mkdir("open");
    std::fs::set_permissions(&open, PermissionsExt::from_mode(0o777)).unwrap();
    let open = std::fs::canonicalize(open).unwrap();
    let link = open.join("data");
    symlink(&s.etc, &link).unwrap();
    let policy = s.policy(&format!("{:?}", link.display().to_string()), "");
    let o = s.sh(&policy, &format!("cat {}/passwd", link.display()));
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(&format!(
            "{} is a symbolic link (to {}) that someone other than root could have placed, so mycelium does not follow it: grant the link's target instead",
            link.display(),
            s.etc.display()
        )),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(text(&o.stdout), "");

    // Positive twin: granting the target itself works.
    let policy = s.policy(&format!("{:?}", s.etc.display().to_string()), "");
    let o = s.sh(&policy, &format!("cat {}/passwd", s.etc.display()));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), CANARY);
}

#[test]
fn root_owned_system_links_still_work_and_stay_links() {
    gate!("root_owned_system_links_still_work_and_stay_links");
    let s = Scene::new();
    std::fs::create_dir(s.ws.join("out")).unwrap();
    std::fs::set_permissions(s.ws.join("out"), PermissionsExt::from_mode(0o777)).unwrap();
    let policy = s.policy("", "\"{workspace}/out\"");
    let bin_is_link = std::fs::symlink_metadata("/bin")
        .unwrap()
        .file_type()
        .is_symlink();
    let script = if bin_is_link {
        "readlink /bin; /bin/echo ok > out/f && cat out/f"
    } else {
        "echo usr/bin; /bin/echo ok > out/f && cat out/f"
    };
    let o = s.sh(&policy, script);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let expect_link = if bin_is_link {
        std::fs::read_link("/bin").unwrap().display().to_string()
    } else {
        "usr/bin".to_string()
    };
    assert_eq!(text(&o.stdout), format!("{expect_link}\nok\n"));
    assert_eq!(std::fs::read_to_string(s.ws.join("out/f")).unwrap(), "ok\n");
}

#[test]
fn overlapping_grants_name_both_entries() {
    gate!("overlapping_grants_name_both_entries");
    let s = Scene::new();
    std::fs::create_dir(s.ws.join("dir")).unwrap();
    // /bin/sh lies inside /bin, which is a link (to usr/bin) in the sandbox too.
    let policy = s.fx.policy(
        "overlap",
        &format!(
            "[filesystem]\nread_only = [{SYSTEM},\n  \"/bin/sh\"]\nread_write = [\"{{workspace}}\"]\n"
        ),
    );
    let o = s.sh(&policy, "echo ran");
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("filesystem.read_only[5] (line 3) grants /bin/sh, which lies inside /bin granted by filesystem.read_only[1] (line 2)"),
        "{err}"
    );
    assert!(err.contains("the two grants overlap"), "{err}");
    assert!(!err.contains("/newroot"), "{err}");
    // Positive twin: a nested grant on a real directory inside another grant is fine.
    let policy = s.fx.policy(
        "nested",
        &format!(
            "[filesystem]\nread_only = [{SYSTEM},\n  \"{{workspace}}/dir\"]\nread_write = [\"{{workspace}}\"]\n"
        ),
    );
    let o = s.sh(
        &policy,
        "echo a > new && (echo b > dir/y || echo dir-read-only)",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "dir-read-only\n");
}

#[test]
fn run_refuses_a_planted_link_too() {
    gate!("run_refuses_a_planted_link_too");
    let s = Scene::new();
    let fx = &s.fx;
    fx.mkdir("policies");
    let home = fx.mkdir("home");
    std::fs::set_permissions(&home, PermissionsExt::from_mode(0o700)).unwrap();
    fx.file(
        "policies/reader.toml",
        &format!(
            "[agent]\ncommand = [\"/bin/cat\", \"out/passwd\"]\n\n[filesystem]\nread_only = [{SYSTEM}, \"{{workspace}}/out\"]\n"
        ),
    );
    let link = s.ws.join("out");
    symlink(&s.etc, &link).unwrap();
    let run = || {
        let mut c = Command::new(bin());
        c.arg("--policies")
            .arg(fx.path().join("policies"))
            .args(["run", "reader", "-w"])
            .arg(&s.ws);
        c.env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", fx.path())
            .env("MYCELIUM_HOME", &home)
            .current_dir(fx.path())
            .stdin(Stdio::null());
        run_bounded(c)
    };
    let o = run();
    let err = text(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "{} is a symbolic link inside the workspace",
            link.display()
        )),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "");
    // Positive twin: a real directory, and the agent reads it.
    std::fs::remove_file(&link).unwrap();
    std::fs::create_dir(&link).unwrap();
    std::fs::write(link.join("passwd"), "own\n").unwrap();
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "own\n");
}

#[test]
fn a_link_swapped_in_while_the_sandbox_is_built_never_reaches_the_host() {
    gate!("a_link_swapped_in_while_the_sandbox_is_built_never_reaches_the_host");
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = Scene::new();
    let out = s.ws.join("out");
    let alt = s.ws.join("alt");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, PermissionsExt::from_mode(0o777)).unwrap();
    // Relative, so that it leads to the canary from under pid 1's old root as well.
    symlink("../etc", &alt).unwrap();
    let policy = s.policy("", "\"{workspace}/out\"");
    // Another "agent" keeps exchanging the real directory and a link to the canary's
    // directory, atomically, while runs are planned and built.
    let stop = AtomicBool::new(false);
    let outcomes = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                renameat2(AT_FDCWD, &out, AT_FDCWD, &alt, RenameFlags::RENAME_EXCHANGE).unwrap();
            }
        });
        let outcomes: Vec<Output> = (0..20)
            .map(|_| s.sh(&policy, "echo pwned >> out/passwd && echo wrote"))
            .collect();
        stop.store(true, Ordering::Relaxed);
        outcomes
    });
    let count = |needle: &str| {
        outcomes
            .iter()
            .filter(|o| text(&o.stderr).contains(needle))
            .count()
    };
    eprintln!(
        "{} ran, {} refused while planning, {} refused by pid 1",
        outcomes.iter().filter(|o| o.status.success()).count(),
        count("is a symbolic link inside the workspace"),
        count("changed since it was checked")
    );
    for o in &outcomes {
        let err = text(&o.stderr);
        match o.status.code() {
            // It ran on the real directory.
            Some(0) => assert_eq!(text(&o.stdout), "wrote\n"),
            // Refused: a link seen while planning, or a change seen by pid 1.
            Some(125) => assert!(
                err.contains("is a symbolic link inside the workspace")
                    || err.contains("changed since it was checked"),
                "{err}"
            ),
            other => panic!("unexpected exit {other:?}: {err}"),
        }
    }
    // Whatever the interleaving, the host's canary was never reached.
    s.assert_host_untouched();
}

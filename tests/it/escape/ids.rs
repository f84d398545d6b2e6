//! Whose host ids the agent acts with (issue 10, item 2b). Run as root, the agent must never
//! be host uid 0: its ids map to the workspace owner's, to `nobody` without a workspace, to
//! an explicit `--run-as`, and a root-owned workspace is refused. Run unprivileged, the
//! agent is the caller and `--run-as` another user is refused.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pretty_assertions::assert_eq;

use super::{is_root, run_bounded};
use crate::gate;
use crate::sandbox::{Fixture, SYSTEM, TEST_OWNER, err, out};

/// The owner given to workspaces in the root run: an id with no passwd entry, so its
/// group is the workspace's group.
const OTHER_UID: u32 = 4242;

/// A writable-workspace policy, `rest` added to `[filesystem]`'s tail.
fn writer_policy(fx: &Fixture, name: &str, rest: &str) -> std::path::PathBuf {
    fx.policy(
        name,
        &format!(
            "[filesystem]\nread_only = [{SYSTEM}]\nread_write = [\"{{workspace}}\"]\n{rest}\n"
        ),
    )
}

/// Run `script` with `sh -c` under `policy` (`mycelium exec`, `extra` options before `--`),
/// optionally through the re-executed launcher.
fn run(policy: &Path, ws: Option<&Path>, extra: &[&str], launcher: bool, script: &str) -> Output {
    let mut c = Command::new(crate::common::bin());
    c.arg("exec").arg("--policy").arg(policy);
    if let Some(ws) = ws {
        c.arg("--workspace").arg(ws);
    }
    c.args(extra).args(["--", "/bin/sh", "-c", script]);
    c.env_clear()
        .envs(crate::common::launcher_env())
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null());
    if launcher {
        c.env("MYCELIUM_LAUNCHER", "1");
    }
    run_bounded(c)
}

/// A workspace owned by `uid` (root run) or by this user (unprivileged run); its owner.
fn owned_workspace(fx: &Fixture, name: &str, uid: u32) -> (std::path::PathBuf, u32, u32) {
    let ws = fx.mkdir(name);
    if is_root() {
        std::os::unix::fs::chown(&ws, Some(uid), Some(uid)).unwrap();
    }
    let m = std::fs::metadata(&ws).unwrap();
    (ws, m.uid(), m.gid())
}

#[test]
fn files_the_agent_makes_belong_to_the_workspace_owner_on_every_start_path() {
    gate!("files_the_agent_makes_belong_to_the_workspace_owner_on_every_start_path");
    let fx = Fixture::new();
    // Without limits pid 1 may write its own maps; with limits.processes the caller writes
    // them and moves pid 1 into a cgroup (required for root).
    let plain = writer_policy(&fx, "plain", "");
    let limited = writer_policy(&fx, "limited", "\n[limits]\nprocesses = 64");
    for (policy, what) in [(&plain, "plain"), (&limited, "cgroup")] {
        for launcher in [false, true] {
            let (ws, owner, group) =
                owned_workspace(&fx, &format!("ws-{what}-{launcher}"), OTHER_UID);
            // A setuid copy of a shell is the plant; whether or not the chmod is refused,
            // the copy must not belong to root.
            let o = run(
                policy,
                Some(&ws),
                &[],
                launcher,
                "touch made && mkdir dir && cp /bin/sh sh && (chmod 4755 sh 2>/dev/null; true) && id -u && id -g",
            );
            assert_eq!(
                (o.status.code(), out(&o)),
                (Some(0), "1000\n1000\n".to_string()),
                "{what}, launcher {launcher}: {}",
                err(&o)
            );
            for f in ["made", "dir", "sh"] {
                let m = std::fs::symlink_metadata(ws.join(f)).unwrap();
                assert_eq!(
                    (m.uid(), m.gid()),
                    (owner, group),
                    "{what}, launcher {launcher}: {f} belongs to the workspace owner"
                );
                assert_ne!(m.uid(), 0, "ESCAPE: the agent left a root-owned {f}");
            }
        }
    }
}

#[test]
fn pid_1_and_the_agent_hold_no_host_root_ids() {
    gate!("pid_1_and_the_agent_hold_no_host_root_ids");
    let fx = Fixture::new();
    let (ws, owner, group) = owned_workspace(&fx, "ws", OTHER_UID);
    let policy = writer_policy(&fx, "p", "");
    // Inside, pid 1 and the agent have the inside ids (a process left with host uid 0 would
    // show the overflow id, 65534); the map says which host ids those are.
    let o = run(
        &policy,
        Some(&ws),
        &[],
        false,
        "grep -E '^(Uid|Gid):' /proc/1/status /proc/self/status | tr -s '\\t ' ' '; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '",
    );
    assert_eq!(
        (o.status.code(), out(&o)),
        (
            Some(0),
            format!(
                "/proc/1/status:Uid: 1000 1000 1000 1000\n/proc/1/status:Gid: 1000 1000 1000 1000\n\
                 /proc/self/status:Uid: 1000 1000 1000 1000\n/proc/self/status:Gid: 1000 1000 1000 1000\n \
                 1000 {owner} 1\n 1000 {group} 1\n"
            )
        ),
        "{}",
        err(&o)
    );
}

#[test]
fn root_only_host_files_stay_unreadable_to_a_root_callers_agent() {
    gate!("root_only_host_files_stay_unreadable_to_a_root_callers_agent");
    let fx = Fixture::new();
    let secret = fx.mkdir("secret");
    let root_only = fx.file("secret/root-only", "root only\n");
    std::fs::set_permissions(&root_only, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = fx.file("secret/public", "public\n");
    let policy = fx.policy(
        "p",
        &format!(
            "[filesystem]\nread_only = [{SYSTEM}, {:?}, \"?/etc/shadow\"]\n",
            secret.display().to_string()
        ),
    );
    let script = format!(
        "cat {} || echo refused; cat {}; cat /etc/shadow >/dev/null 2>&1 && echo shadow || echo no-shadow",
        root_only.display(),
        public.display()
    );
    for launcher in [false, true] {
        let o = run(&policy, None, &[], launcher, &script);
        // Run unprivileged, the file is the caller's own and the agent, being the caller,
        // reads it: only /etc/shadow is refused.
        let expected = if is_root() {
            "refused\npublic\nno-shadow\n"
        } else {
            "root only\npublic\nno-shadow\n"
        };
        assert_eq!(
            (o.status.code(), out(&o)),
            (Some(0), expected.to_string()),
            "launcher {launcher}: {}",
            err(&o)
        );
    }
    // Positive twin: the test itself reads both files.
    assert_eq!(std::fs::read_to_string(&root_only).unwrap(), "root only\n");
}

#[test]
fn without_a_workspace_a_root_callers_agent_is_nobody() {
    gate!("without_a_workspace_a_root_callers_agent_is_nobody");
    let fx = Fixture::new();
    let policy = fx.policy(
        "p",
        &format!("[filesystem]\nread_only = [{SYSTEM}]\ntmpfs = {{ \"/tmp\" = \"1M\" }}\n"),
    );
    let o = run(
        &policy,
        None,
        &[],
        false,
        "cat /proc/self/uid_map | tr -s ' '",
    );
    // As root: nobody. As the unprivileged rerun's user (nobody itself): the caller.
    let me = nix::unistd::getuid().as_raw();
    let expected = if is_root() { TEST_OWNER } else { me };
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), format!(" 1000 {expected} 1\n")),
        "{}",
        err(&o)
    );
}

#[test]
fn a_root_owned_workspace_is_refused_unless_run_as_names_a_user() {
    gate!("a_root_owned_workspace_is_refused_unless_run_as_names_a_user");
    let fx = Fixture::new();
    let policy = writer_policy(&fx, "p", "");
    let ws = fx.mkdir("ws");
    let me = nix::unistd::getuid().as_raw();
    if is_root() {
        let o = run(&policy, Some(&ws), &[], false, "touch planted");
        assert_eq!(o.status.code(), Some(125), "{}", err(&o));
        assert_eq!(
            err(&o),
            format!(
                "mycelium: {}: workspace {} is owned by root, and a root caller's agent never acts as root: chown the workspace to the user it is for, run mycelium as that user, or pass --run-as UID[:GID] to run the agent as that unprivileged user\nmycelium: nothing was run\n",
                policy.display(),
                ws.display()
            )
        );
        assert!(!ws.join("planted").exists());
        // Positive twin: the human names a user; the agent runs as that user (the workspace
        // is mode 0777), and what it makes is that user's.
        let o = run(
            &policy,
            Some(&ws),
            &["--run-as", "4243:4244"],
            true,
            "touch planted",
        );
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let m = std::fs::metadata(ws.join("planted")).unwrap();
        assert_eq!((m.uid(), m.gid()), (4243, 4244));
        // uid 0 is never a choice.
        let o = run(&policy, Some(&ws), &["--run-as", "0"], false, "true");
        assert_eq!(o.status.code(), Some(2), "{}", err(&o));
        assert!(
            err(&o).contains("the agent never runs as host uid or gid 0"),
            "{}",
            err(&o)
        );
    } else {
        // Only root may choose ids: another user is refused, its own ids are accepted.
        let o = run(
            &policy,
            Some(&ws),
            &["--run-as", "4243"],
            false,
            "touch planted",
        );
        assert_eq!(o.status.code(), Some(125), "{}", err(&o));
        assert!(
            err(&o).contains(&format!(
                "--run-as 4243: only root can run the agent as another user; drop --run-as (the agent runs as you, uid {me})"
            )),
            "{}",
            err(&o)
        );
        assert!(!ws.join("planted").exists());
        let own = me.to_string();
        let o = run(
            &policy,
            Some(&ws),
            &["--run-as", &own],
            false,
            "touch planted",
        );
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        assert_eq!(std::fs::metadata(ws.join("planted")).unwrap().uid(), me);
    }
}

#[test]
fn an_inside_root_agent_still_maps_to_the_workspace_owner() {
    gate!("an_inside_root_agent_still_maps_to_the_workspace_owner");
    let fx = Fixture::new();
    let (ws, owner, _) = owned_workspace(&fx, "ws", OTHER_UID);
    let policy = fx.policy(
        "p",
        &format!(
            "[agent]\nuid = 0\ngid = 0\n\n[filesystem]\nread_only = [{SYSTEM}]\nread_write = [\"{{workspace}}\"]\n"
        ),
    );
    let o = run(&policy, Some(&ws), &[], false, "id -u; touch made");
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "0\n".to_string()),
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::metadata(ws.join("made")).unwrap().uid(), owner);
}

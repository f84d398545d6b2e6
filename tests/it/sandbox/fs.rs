//! The new root: only what the policy names exists, and only the workspace is writable.

use pretty_assertions::assert_eq;

use super::{Fixture, err, out, policy_body, sh};
use crate::gate;

#[test]
fn canary_outside_policy_is_invisible() {
    gate!("canary_outside_policy_is_invisible");
    let fx = Fixture::new();
    let canary = fx.file("canary.txt", "host-secret-canary\n");
    // Positive twin: the file is there and readable from the host ...
    assert_eq!(
        std::fs::read_to_string(&canary).unwrap(),
        "host-secret-canary\n"
    );
    // ... and from a sandbox whose policy grants it, so the probe below can see it.
    let granting = fx.policy(
        "granting",
        &policy_body(&format!("{:?}", canary.display().to_string()), ""),
    );
    let o = sh(&granting, None, &format!("cat {}", canary.display()));
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "host-secret-canary\n".to_string()),
        "{}",
        err(&o)
    );

    let denying = fx.policy("denying", &policy_body("", ""));
    let script = format!(
        "cat {c} 2>/dev/null && echo READ; test -e {c} && echo EXISTS; ls {d} 2>/dev/null | grep -q canary && echo LISTED; echo done",
        c = canary.display(),
        d = fx.path().display()
    );
    let o = sh(&denying, None, &script);
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "done\n".to_string()),
        "{}",
        err(&o)
    );
}

#[test]
fn host_paths_not_named_do_not_exist() {
    gate!("host_paths_not_named_do_not_exist");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    // Positive twin: these exist on the host.
    for p in ["/etc/passwd", "/home", "/root", "/var"] {
        assert!(
            std::path::Path::new(p).exists(),
            "{p} should exist on the host for this test"
        );
    }
    let o = sh(
        &policy,
        None,
        "for p in /etc/passwd /etc/shadow /home /root /var /work /sys /boot; do test -e $p && echo $p; done; \
         for p in /bin /dev/null /etc/ld.so.cache /lib /proc/self /tmp /usr/bin/sh; do test -e $p || echo missing $p; done",
    );
    // Nothing printed: none of the host's other paths exists, all granted ones do. (Listing
    // `/` itself is refused by Landlock, which grants no right on the root directory.)
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), String::new()),
        "{}",
        err(&o)
    );
}

#[test]
fn write_outside_workspace_fails_and_host_file_is_unchanged() {
    gate!("write_outside_workspace_fails_and_host_file_is_unchanged");
    let fx = Fixture::new();
    let ws = fx.workspace("ws");
    let ro = fx.mkdir("ro");
    let host_file = fx.file("ro/keep.txt", "original\n");
    std::fs::set_permissions(
        &host_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    // Positive twin: the host file is writable from outside (mode 0666).
    let policy = fx.policy(
        "p",
        &policy_body(
            &format!("{:?}", ro.display().to_string()),
            "read_write = [\"{workspace}\"]\ntmpfs = { \"/tmp\" = \"8M\" }",
        ),
    );
    let script = format!(
        "echo hacked > {f} && echo WROTE; echo x > {r}/new.txt && echo CREATED; echo x > /usr/evil && echo USR; echo ok > {w}/result.txt && cat {f}",
        f = host_file.display(),
        r = ro.display(),
        w = ws.display()
    );
    let o = sh(&policy, Some(&ws), &script);
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "original\n".to_string()),
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "original\n");
    assert!(!ro.join("new.txt").exists());
    // The declared write worked and landed on the host.
    assert_eq!(
        std::fs::read_to_string(ws.join("result.txt")).unwrap(),
        "ok\n"
    );
}

#[test]
fn declared_reads_work_and_tmp_is_private() {
    gate!("declared_reads_work_and_tmp_is_private");
    let fx = Fixture::new();
    let data = fx.mkdir("data");
    fx.file("data/a.txt", "alpha\n");
    let policy = fx.policy(
        "p",
        &policy_body(&format!("{:?}", data.display().to_string()), ""),
    );
    let scratch = format!("/tmp/mycelium-private-{}", std::process::id());
    let o = sh(
        &policy,
        None,
        &format!(
            "cat {}/a.txt && echo scratch > {scratch} && cat {scratch}",
            data.display()
        ),
    );
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "alpha\nscratch\n".to_string()),
        "{}",
        err(&o)
    );
    // The sandbox's /tmp is its own tmpfs: nothing it wrote there reaches the host.
    assert!(!std::path::Path::new(&scratch).exists());
}

#[test]
fn a_workspace_exposing_mycelium_state_is_refused() {
    gate!("a_workspace_exposing_mycelium_state_is_refused");
    let fx = Fixture::new();
    let ws = fx.workspace("ws");
    let state = fx.mkdir("ws/state");
    let marker = ws.join("ran");
    let policy = fx.policy("p", &policy_body("", "read_write = [\"{workspace}\"]"));
    let script = format!("touch {}", marker.display());
    // Positive twin: with mycelium's state elsewhere the same run works.
    let o = super::exec_cmd(&policy, Some(&ws), &["/bin/sh", "-c", &script])
        .env("MYCELIUM_HOME", fx.path().join("elsewhere"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    std::fs::remove_file(&marker).unwrap();
    let o = super::exec_cmd(&policy, Some(&ws), &["/bin/sh", "-c", &script])
        .env("MYCELIUM_HOME", &state)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(
        err(&o).contains(&format!("would expose {}", state.display())),
        "{}",
        err(&o)
    );
    assert!(!marker.exists());
}

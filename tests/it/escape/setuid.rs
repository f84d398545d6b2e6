//! Set-id plants (issue 10, item 2a): the agent must not leave a file with S_ISUID or
//! S_ISGID behind, by any call that sets or creates with a mode — chmod, fchmod, fchmodat,
//! fchmodat2, chmod through `/proc/self/fd`, open/openat/creat with O_CREAT, O_TMPFILE,
//! mknod(at), mode words with garbage in the high half — nor through openat2, whose mode
//! the filter cannot see (answered ENOSYS). Each way is tried unconfined first (the bit
//! really lands), then in a writable grant, where it must be refused and the file left
//! without the bit. Ordinary modes (0755, 0644, the sticky bit, `install -m 755`) still work.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Outcome, assert_refused, assert_succeeded, confined, default_policy, unconfined};
use crate::escape_gate;
use crate::sandbox::{Fixture, out, sh};

/// Every way of giving a path a mode that the probe's `setid` mode knows.
const WAYS: &[&str] = &[
    "chmod",
    "chmod_high",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "procfd",
    "open",
    "open_high",
    "openat",
    "creat",
    "mknod",
    "mknodat",
    "tmpfile",
    "openat2",
];

/// The default policy with `dir` granted read-write.
fn writable_policy(fx: &Fixture, probe: &Path, dir: &Path) -> PathBuf {
    let body = std::fs::read_to_string(default_policy(fx, probe, &[], ""))
        .unwrap()
        .replacen(
            "tmpfs = ",
            &format!("read_write = [{:?}]\ntmpfs = ", dir.display().to_string()),
            1,
        );
    assert!(body.contains("read_write = ["));
    fx.policy("writable", &body)
}

/// The file a way writes for `name` in `dir` (tmpfile links `dir/NAME/planted`).
fn target(dir: &Path, way: &str, name: &str) -> (PathBuf, PathBuf) {
    let path = dir.join(name);
    if way == "tmpfile" {
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let planted = path.join("planted");
        (path, planted)
    } else {
        (path.clone(), path)
    }
}

/// The set-id bits of `file`, if it exists.
fn set_id_bits(file: &Path) -> Option<u32> {
    std::fs::metadata(file)
        .ok()
        .map(|m| m.permissions().mode() & 0o6000)
}

#[test]
fn set_id_bits_cannot_be_set_or_created_by_any_call() {
    let probe = escape_gate!("set_id_bits_cannot_be_set_or_created_by_any_call");
    let fx = Fixture::new();
    let host = fx.mkdir("host");
    let ws = fx.mkdir("ws");
    let policy = writable_policy(&fx, probe, &ws);
    for &way in WAYS {
        for mode in ["4755", "2755", "6711"] {
            let name = format!("{way}-{mode}");
            // Positive twin: unconfined, the bit lands on the file.
            let (path, planted) = target(&host, way, &name);
            let o = unconfined(probe, &["setid", way, path.to_str().unwrap(), mode]);
            assert_succeeded(&format!("setid {way} {mode}"), &o);
            assert_ne!(set_id_bits(&planted), Some(0), "{way} {mode} unconfined");
            // Confined: refused, and nothing with the bit exists afterwards.
            let (path, planted) = target(&ws, way, &name);
            let o = confined(
                &policy,
                probe,
                &["setid", way, path.to_str().unwrap(), mode],
            );
            let errno = if way == "openat2" { "ENOSYS" } else { "EPERM" };
            assert_refused(&format!("setid {way} {mode}"), &o, &[errno]);
            let left = set_id_bits(&planted);
            assert!(
                left.is_none() || left == Some(0),
                "ESCAPE: {} has set-id bits {left:?} after `setid {way} {mode}` ({o:?})",
                planted.display()
            );
        }
    }
}

#[test]
fn ordinary_modes_still_work_in_a_writable_grant() {
    let probe = escape_gate!("ordinary_modes_still_work_in_a_writable_grant");
    let fx = Fixture::new();
    let ws = fx.mkdir("ws");
    let policy = writable_policy(&fx, probe, &ws);
    // The sticky bit grants nothing and stays allowed, like every permission bit.
    for (way, mode) in [
        ("chmod", "755"),
        ("chmod", "1777"),
        ("fchmod", "755"),
        ("fchmodat", "600"),
        ("fchmodat2", "640"),
        ("procfd", "700"),
        ("open", "644"),
        ("openat", "600"),
        ("creat", "755"),
        ("mknod", "644"),
        ("tmpfile", "600"),
    ] {
        let (path, planted) = target(&ws, way, &format!("{way}-{mode}"));
        let o = confined(
            &policy,
            probe,
            &["setid", way, path.to_str().unwrap(), mode],
        );
        assert_eq!(o, Outcome::Succeeded, "setid {way} {mode}");
        let got = std::fs::metadata(&planted).unwrap().permissions().mode() & 0o7777;
        // Creating calls are subject to the sandbox's umask (022 at most takes w from g, o).
        assert_eq!(
            got & !0o022,
            u32::from_str_radix(mode, 8).unwrap() & !0o022,
            "{way} {mode}"
        );
    }
    // `install -m 755`, the way build scripts put an executable in place.
    let dest = ws.join("installed");
    let o = sh(
        &policy,
        None,
        &format!(
            "install -m 755 /bin/sh {0} && stat -c %a {0}",
            dest.display()
        ),
    );
    assert_eq!(out(&o).trim(), "755", "{o:?}");
    // And `install -m 4755` fails there instead of planting a set-uid copy of the shell.
    let dest = ws.join("installed-setuid");
    let o = sh(
        &policy,
        None,
        &format!("install -m 4755 /bin/sh {}; echo $?", dest.display()),
    );
    assert_ne!(out(&o).trim(), "0", "{o:?}");
    let left = set_id_bits(&dest);
    assert!(
        left.is_none() || left == Some(0),
        "ESCAPE: install -m 4755 left {} with bits {left:?}",
        dest.display()
    );
}

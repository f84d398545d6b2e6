//! Raw devices, /sys and the cgroup tree: none of them is reachable from the sandbox, whose
//! /dev holds only null, zero, full, random and urandom, and which has no /sys at all.

use std::path::Path;

use super::{
    Outcome, assert_refused, assert_succeeded, confined, default_policy, is_root, unconfined,
};
use crate::escape_gate;
use crate::sandbox::Fixture;

/// Devices a hostile agent wants and the mode the probe opens them with. Opening is the
/// whole attempt: the probe never reads or writes them, so the positive twin is harmless.
const DEVICES: [(&str, &str); 5] = [
    ("/dev/vda", "r"),
    ("/dev/sda", "r"),
    ("/dev/nvme0n1", "r"),
    // Reading physical memory; absent on many kernels (CONFIG_DEVMEM=n).
    ("/dev/mem", "r"),
    // Writing the kernel log (forged messages).
    ("/dev/kmsg", "w"),
];

#[test]
fn raw_devices_cannot_be_opened() {
    let probe = escape_gate!("raw_devices_cannot_be_opened");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    let mut on_host = 0;
    for (dev, mode) in DEVICES {
        // Positive twin: where the host has the node, the probe reaches it unconfined — it
        // opens it, or the host's own device policy refuses it (a device cgroup, other
        // users' EACCES), but it is never "not found". Inside it must not exist at all.
        if Path::new(dev).exists() {
            let o = unconfined(probe, &["open", dev, mode]);
            assert!(
                o == Outcome::Succeeded || o.errno().is_some_and(|e| e != "ENOENT"),
                "positive twin: the probe cannot see {dev} on the host: {o:?}"
            );
            on_host += 1;
        }
        let o = confined(&policy, probe, &["open", dev, mode]);
        assert_refused(&format!("open({dev}, {mode})"), &o, &["ENOENT"]);
    }
    assert!(
        on_host >= 1,
        "the host has none of {DEVICES:?}: nothing is proven"
    );
}

/// A root-writable kernel knob under /sys.
const SYS_KNOB: &str = "/sys/kernel/profiling";

#[test]
fn sys_is_not_writable() {
    let probe = escape_gate!("sys_is_not_writable");
    let fx = Fixture::new();
    // Positive twin (root only; the probe opens for writing and writes nothing).
    if is_root() && Path::new(SYS_KNOB).exists() {
        assert_succeeded(
            "open /sys knob",
            &unconfined(probe, &["open", SYS_KNOB, "w"]),
        );
    }
    let policy = default_policy(&fx, probe, &[], "");
    for path in [
        SYS_KNOB,
        "/sys/fs/cgroup/cgroup.procs",
        "/sys/kernel/uevent_helper",
    ] {
        let o = confined(&policy, probe, &["open", path, "w"]);
        assert_refused(
            &format!("open({path}, w)"),
            &o,
            &["ENOENT", "EROFS", "EACCES"],
        );
    }
}

/// The cgroup v2 hierarchy's root, from our mount table.
fn cgroup2_root() -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split(' ').nth(4).map(str::to_string))?
    })
}

#[test]
fn parent_cgroup_cannot_be_joined() {
    let probe = escape_gate!("parent_cgroup_cannot_be_joined");
    let fx = Fixture::new();
    let root = cgroup2_root().expect("a cgroup v2 hierarchy is mounted on the host");
    let procs = format!("{root}/cgroup.procs");
    // Positive twin (root only): the probe moves itself into the top cgroup — exempt from
    // the no-internal-processes rule — and exits at once.
    if is_root() {
        assert_succeeded(
            "join the top cgroup",
            &unconfined(probe, &["cgroup_procs", &procs]),
        );
    }
    let policy = default_policy(&fx, probe, &[], "");
    for path in [procs.as_str(), "/sys/fs/cgroup/cgroup.procs"] {
        let o = confined(&policy, probe, &["cgroup_procs", path]);
        assert_refused(&format!("write {path}"), &o, &["ENOENT", "EROFS", "EACCES"]);
    }
}

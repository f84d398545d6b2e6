//! `/proc` files that describe the host kernel are masked in every sandbox, whoever the
//! caller is (issue 10, item 2c): files read empty, directories are empty.

use std::path::Path;

use pretty_assertions::assert_eq;

use super::run_bounded;
use crate::gate;
use crate::sandbox::{Fixture, SYSTEM, err, exec_cmd, out};

/// Masked files, as the sandbox lists them (mycelium's `procmask::MASKED_FILES`).
const FILES: [&str; 25] = [
    "kcore",
    "vmcore",
    "keys",
    "key-users",
    "kmsg",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "latency_stats",
    "lock_stat",
    "lockdep",
    "lockdep_chains",
    "lockdep_stats",
    "kpageflags",
    "kpagecount",
    "kpagecgroup",
    "kpageidle",
    "slabinfo",
    "vmallocinfo",
    "pagetypeinfo",
    "kallsyms",
    "iomem",
    "ioports",
    "mtrr",
    "sysrq-trigger",
];

/// Masked directories.
const DIRS: [&str; 5] = ["acpi", "asound", "scsi", "driver", "firmware"];

fn policy(fx: &Fixture) -> std::path::PathBuf {
    fx.policy("p", &format!("[filesystem]\nread_only = [{SYSTEM}]\n"))
}

/// For each name, what `sh` finds reading it: `NAME BYTES`, or `NAME refused` when it
/// cannot be opened. A masked file opens and reads empty; a root-only file that is merely
/// unreadable would say `refused`, so the mask is what these tests see.
fn read_script(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("n=$(wc -c < /proc/{n} 2>/dev/null) && echo {n} $n || echo {n} refused"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn host_kernel_files_in_proc_read_empty_inside() {
    gate!("host_kernel_files_in_proc_read_empty_inside");
    let fx = Fixture::new();
    let present: Vec<&str> = FILES
        .iter()
        .copied()
        .filter(|f| Path::new("/proc").join(f).exists())
        .collect();
    // The kernel files the issue names must be there to be masked, or this proves nothing.
    for f in [
        "kpageflags",
        "slabinfo",
        "timer_list",
        "vmallocinfo",
        "kallsyms",
    ] {
        assert!(present.contains(&f), "/proc/{f} missing on this host");
    }
    let o = run_bounded(exec_cmd(
        &policy(&fx),
        None,
        &["/bin/sh", "-c", &read_script(&present)],
    ));
    let expected: String = present.iter().map(|f| format!("{f} 0\n")).collect();
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), expected),
        "{}",
        err(&o)
    );
    // Writing the masked sysrq-trigger (when the kernel has one) reaches nothing.
    if present.contains(&"sysrq-trigger") {
        let o = run_bounded(exec_cmd(
            &policy(&fx),
            None,
            &[
                "/bin/sh",
                "-c",
                "echo h > /proc/sysrq-trigger && echo wrote",
            ],
        ));
        assert_ne!(
            out(&o),
            "wrote\n",
            "ESCAPE: /proc/sysrq-trigger was writable"
        );
    }
}

#[test]
fn world_readable_kernel_files_are_masked_but_readable_unconfined() {
    gate!("world_readable_kernel_files_are_masked_but_readable_unconfined");
    let fx = Fixture::new();
    // Positive twin: unconfined, any user reads these (symbol names, address ranges).
    for f in ["kallsyms", "iomem"] {
        let host = std::fs::read(Path::new("/proc").join(f)).unwrap();
        assert!(!host.is_empty(), "/proc/{f} reads empty on the host");
    }
    let o = run_bounded(exec_cmd(
        &policy(&fx),
        None,
        &["/bin/sh", "-c", &read_script(&["kallsyms", "iomem"])],
    ));
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "kallsyms 0\niomem 0\n".to_string()),
        "{}",
        err(&o)
    );
}

#[test]
fn host_kernel_directories_in_proc_are_empty_inside() {
    gate!("host_kernel_directories_in_proc_are_empty_inside");
    let fx = Fixture::new();
    let present: Vec<&str> = DIRS
        .iter()
        .copied()
        .filter(|d| Path::new("/proc").join(d).is_dir())
        .collect();
    assert!(
        !present.is_empty(),
        "no masked directory exists on this host"
    );
    // Each is listed, then shown as mounted (inside, a read-only tmpfs covers it; procfs
    // directories are not mount points of their own), then written to.
    let script = present
        .iter()
        .map(|d| {
            format!(
                "printf '%s %s\\n' {d} \"$(ls -A /proc/{d} | wc -l)\"; \
                 grep ' /proc/{d} ' /proc/self/mountinfo | sed 's/^[^ ]* [^ ]* [^ ]* [^ ]* \\([^ ]*\\) \\([^ ,]*\\).* - \\([^ ]*\\) .*/\\1 \\2 \\3/'; \
                 touch /proc/{d}/x 2>/dev/null && echo wrote {d} || true"
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let o = run_bounded(exec_cmd(&policy(&fx), None, &["/bin/sh", "-c", &script]));
    let expected: String = present
        .iter()
        .map(|d| format!("{d} 0\n/proc/{d} ro tmpfs\n"))
        .collect();
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), expected),
        "{}",
        err(&o)
    );
    // Positive twin: on the host none of them is a mount of its own (what the sandbox shows
    // is its mask, not the host's layout).
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for d in &present {
        let point = format!(" /proc/{d} ");
        assert!(
            !host.contains(&point),
            "/proc/{d} is a mount point on the host"
        );
    }
}

#[test]
fn the_sandboxs_own_proc_files_stay_readable() {
    gate!("the_sandboxs_own_proc_files_stay_readable");
    let fx = Fixture::new();
    let o = run_bounded(exec_cmd(
        &policy(&fx),
        None,
        &[
            "/bin/sh",
            "-c",
            "head -1 /proc/self/status; grep -c ^processor /proc/cpuinfo >/dev/null && echo cpuinfo; grep -q ^MemTotal: /proc/meminfo && echo meminfo; grep -q ' / / ' /proc/self/mountinfo && echo mountinfo",
        ],
    ));
    assert_eq!(
        (o.status.code(), out(&o)),
        (
            Some(0),
            "Name:\thead\ncpuinfo\nmeminfo\nmountinfo\n".to_string()
        ),
        "{}",
        err(&o)
    );
}

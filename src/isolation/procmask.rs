//! Masking the kernel files of a sandbox's `/proc` that describe the host rather than the
//! sandbox, as container runtimes do.
//!
//! A fresh `/proc` shows only the sandbox's processes, but many of its top-level files are
//! the host kernel's: physical page maps, slab and vmalloc layouts, timers of every process,
//! the kernel log, the keys of every user. Most are root-only on the host, so they matter
//! most when a privileged caller's ids reach the sandbox, but some are world-readable and
//! the list does not depend on who the caller is: every sandbox masks all of them. A file
//! is covered by a read-only bind of `/dev/null` (it reads empty, writes go nowhere), a
//! directory by an empty read-only tmpfs. What the running kernel does not have is skipped.
//!
//! Runs in pid 1 right after `/proc` is mounted, while the host's `/dev/null` is still
//! reachable under the old root.

use std::path::Path;

use nix::mount::{MsFlags, mount};
use nix::sys::statvfs::{FsFlags, statvfs};

use super::protocol::SetupFailure;

/// Files under `/proc` covered with `/dev/null`, each with why.
pub const MASKED_FILES: [&str; 25] = [
    // Physical memory of the host as an ELF core, and the crash kernel's copy of it.
    "kcore",
    "vmcore",
    // Keys and key quotas of every user on the host.
    "keys",
    "key-users",
    // The host kernel log (read destructively) and its tunables.
    "kmsg",
    // Timers, scheduler and latency state of every host process.
    "timer_list",
    "timer_stats",
    "sched_debug",
    "latency_stats",
    "lock_stat",
    "lockdep",
    "lockdep_chains",
    "lockdep_stats",
    // Physical page flags, map counts, owning cgroups, idle bits: help Rowhammer and
    // side channels.
    "kpageflags",
    "kpagecount",
    "kpagecgroup",
    "kpageidle",
    // Kernel heap and vmalloc layouts, kernel symbol and physical address maps: defeat
    // KASLR for a kernel exploit.
    "slabinfo",
    "vmallocinfo",
    "pagetypeinfo",
    "kallsyms",
    "iomem",
    "ioports",
    // Memory type range registers (writable by host root).
    "mtrr",
    // Magic SysRq: reboot, crash, kill every process of the host.
    "sysrq-trigger",
];

/// Directories under `/proc` covered with an empty read-only tmpfs, each with why.
pub const MASKED_DIRS: [&str; 5] = [
    // Firmware tables, sound and SCSI devices, driver state of the host.
    "acpi", "asound", "scsi", "driver", // Firmware knobs.
    "firmware",
];

fn failed(step: String, e: nix::errno::Errno) -> SetupFailure {
    SetupFailure::new(&step, format!("{step}: {}", e.desc()), e as i32)
}

/// Mask [`MASKED_FILES`] and [`MASKED_DIRS`] under `proc` (the sandbox's fresh `/proc`,
/// as pid 1 sees it), binding files over with `null` (the host's `/dev/null`).
///
/// # Errors
/// The mount that failed; a sandbox whose `/proc` cannot be masked does not start.
pub fn mask(proc: &Path, null: &Path) -> Result<(), SetupFailure> {
    // Flags the host's /dev mount has locked (read-only, nosuid, …) must be kept on the
    // remount, or the kernel refuses it (mount_namespaces(7), "locked" flags).
    let locked = statvfs(null).map_err(|e| failed(format!("statvfs {}", null.display()), e))?;
    let mut keep = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if locked.flags().contains(fs) {
            keep |= ms;
        }
    }
    let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    for name in MASKED_FILES {
        let target = proc.join(name);
        // symlink_metadata: a name this kernel lacks is skipped; nothing here is a link.
        if std::fs::symlink_metadata(&target).is_err() {
            continue;
        }
        let step = || format!("mask /proc/{name}");
        mount(
            Some(null),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| failed(step(), e))?;
        mount(
            None::<&str>,
            &target,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | ro | keep,
            None::<&str>,
        )
        .map_err(|e| failed(step(), e))?;
    }
    for name in MASKED_DIRS {
        let target = proc.join(name);
        if !std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        mount(
            Some("tmpfs"),
            &target,
            Some("tmpfs"),
            ro | MsFlags::MS_NODEV,
            Some("size=4k,mode=0555"),
        )
        .map_err(|e| failed(format!("mask /proc/{name}"), e))?;
    }
    Ok(())
}

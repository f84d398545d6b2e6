//! The agent's system-call filter: `[seccomp]` → a compiled BPF program → installed.
//!
//! This module owns the two built-in allow-lists (`default`, `strict`), the calls that the
//! default profile never allows (each with its reason), the argument checks on `clone`,
//! `ioctl`, `personality`, `socket`, `socketpair` and the mode of every call that sets or
//! creates with one (no set-id bits), the calls refused when `limits.memory` has no cgroup
//! behind it ([`UnaccountedMemory`]), the x86_64 and aarch64 name tables, and the code
//! generator that lowers a [`RuleSet`] to classic BPF. Building a filter is pure
//! ([`compile`], [`validate`], [`describe`]); only [`install`] touches the kernel, through
//! `seccompiler`'s safe `apply_filter`.
//!
//! Shape of every compiled program, in evaluation order:
//!
//! 1. a guard: a foreign audit architecture (i386 on x86_64, arm32 on aarch64) or an x32
//!    call (`__X32_SYSCALL_BIT`) kills the whole process; `clone3` and `openat2` answer
//!    `ENOSYS`, because their flags (and openat2's mode) live in memory a filter cannot read
//!    and libc falls back to `clone` and `openat`, whose arguments it can;
//! 2. a balanced binary search over the call number (layout at [`compile`]'s code
//!    generator): allowed calls (some only for some arguments) return ALLOW, everything
//!    else — including calls added by kernels newer than these tables — answers `EPERM`.
//!
//! Invariant: a call in [`NEVER_ALLOWED`] is allowed only when the policy's own `allow`
//! names it, which `policy` counts as relaxing the profile (higher risk).

mod syscalls_aarch64;
mod syscalls_x86_64;

use std::collections::{BTreeMap, BTreeSet};

use seccompiler::{BpfProgram, sock_filter};
use serde::{Deserialize, Serialize};

use crate::policy::{NetworkMode, Seccomp, SeccompProfile};

/// A CPU architecture whose system-call table this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// 64-bit x86 (the native x86_64 ABI; x32 and i386 calls are killed).
    X86_64,
    /// 64-bit Arm.
    Aarch64,
}

impl Arch {
    /// The architecture this binary was built for.
    #[must_use]
    pub const fn native() -> Arch {
        #[cfg(target_arch = "x86_64")]
        {
            Arch::X86_64
        }
        #[cfg(target_arch = "aarch64")]
        {
            Arch::Aarch64
        }
    }

    /// The name used in messages (`x86_64`, `aarch64`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// `(name, number)` pairs of this architecture's calls, sorted by name.
    fn table(self) -> &'static [(&'static str, i64)] {
        match self {
            Arch::X86_64 => syscalls_x86_64::SYSCALLS,
            Arch::Aarch64 => syscalls_aarch64::SYSCALLS,
        }
    }

    /// The number of the system call `name` on this architecture.
    #[must_use]
    pub fn syscall_number(self, name: &str) -> Option<i64> {
        self.position(name)
            .and_then(|i| self.table().get(i))
            .map(|(_, nr)| *nr)
    }

    /// Where `name` is in [`Arch::table`].
    fn position(self, name: &str) -> Option<usize> {
        self.table().binary_search_by(|(n, _)| (*n).cmp(name)).ok()
    }

    /// Every system-call name this architecture has, sorted.
    pub fn syscall_names(self) -> impl Iterator<Item = &'static str> {
        self.table().iter().map(|(n, _)| *n)
    }

    /// `AUDIT_ARCH_*` as seen in `seccomp_data.arch`.
    fn audit_arch(self) -> u32 {
        const EM_X86_64: u32 = 62;
        const EM_AARCH64: u32 = 183;
        const AUDIT_ARCH_64BIT: u32 = 0x8000_0000;
        const AUDIT_ARCH_LE: u32 = 0x4000_0000;
        let machine = match self {
            Arch::X86_64 => EM_X86_64,
            Arch::Aarch64 => EM_AARCH64,
        };
        machine | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong compiling or installing a filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A name in `[seccomp] allow` or `deny` is not a system call of the architecture.
    #[error(
        "`{name}` is not a system call on {arch}; run `mycelium policy check` to list such names"
    )]
    UnknownSyscall {
        /// The name as written.
        name: String,
        /// The architecture it was looked up in.
        arch: Arch,
    },
    /// The rule set does not fit a classic BPF program (never the case for the built-in
    /// profiles and `allow`/`deny` lists).
    #[error("could not build the seccomp program for {arch}: {reason}")]
    Build {
        /// The architecture compiled for.
        arch: Arch,
        /// What does not fit.
        reason: &'static str,
    },
    /// The filter was compiled for another architecture than the one running.
    #[error("the seccomp filter was compiled for {filter} but this machine is {native}")]
    WrongArch {
        /// The filter's architecture.
        filter: Arch,
        /// The machine's.
        native: Arch,
    },
    /// Joining a fresh session keyring failed.
    #[error("could not join a fresh session keyring")]
    Keyring {
        /// The kernel's answer.
        #[source]
        source: crate::isolation::sys::SysError,
    },
    /// The kernel refused the program.
    #[error("could not install the seccomp filter (no_new_privs must be set first)")]
    Install {
        /// The kernel's answer.
        #[source]
        source: seccompiler::Error,
    },
}

/// A compiled filter: a BPF program for one architecture, cheap to clone and to send over
/// the launcher's pipe. Compile once per policy with [`compile`], install per spawn with
/// [`install`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompFilter {
    arch: Arch,
    /// `sock_filter` instructions as `(code, jt, jf, k)`.
    program: Vec<(u16, u8, u8, u32)>,
}

impl SeccompFilter {
    /// The architecture the program was built for.
    #[must_use]
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Number of BPF instructions (the kernel allows at most 4096).
    #[must_use]
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Whether the program has no instruction (never true for a compiled filter).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The instructions as `(code, jt, jf, k)`.
    #[must_use]
    pub fn instructions(&self) -> &[(u16, u8, u8, u32)] {
        &self.program
    }

    fn bpf(&self) -> BpfProgram {
        self.program
            .iter()
            .map(|&(code, jt, jf, k)| sock_filter { code, jt, jf, k })
            .collect()
    }
}

// Argument values the rules compare against (identical on x86_64 and aarch64).
const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32 as u64;
const PER_LINUX: u64 = 0;
const PERSONALITY_QUERY: u64 = 0xffff_ffff;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;
const AF_INET: u64 = libc::AF_INET as u64;
const AF_INET6: u64 = libc::AF_INET6 as u64;
const AF_NETLINK: u64 = libc::AF_NETLINK as u64;
const AF_UNIX: u64 = libc::AF_UNIX as u64;
const NETLINK_ROUTE: u64 = libc::NETLINK_ROUTE as u64;
/// The bits of a socket type that may be set in a socketpair: SOCK_STREAM (1) and
/// SOCK_SEQPACKET (5) are made of bits 0 and 2 only, SOCK_DGRAM (2) and SOCK_RAW (3, which
/// AF_UNIX treats as a datagram socket) need bit 1, so refusing every other bit keeps
/// datagrams out; the remaining values 0 and 4 (SOCK_RDM) are refused by AF_UNIX itself.
const SOCKETPAIR_TYPE_BITS: u64 = (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u32 as u64 | 0b0101;
/// Every bit of a 32-bit socket type outside [`SOCKETPAIR_TYPE_BITS`].
const SOCKETPAIR_REFUSED_TYPE_BITS: u64 = 0xffff_ffff & !SOCKETPAIR_TYPE_BITS;
/// `S_ISUID | S_ISGID`: a file with either bit runs as its owner or group (`S_ISVTX`, the
/// sticky bit, grants nothing and stays allowed).
const SET_ID_BITS: u64 = (libc::S_ISUID | libc::S_ISGID) as u64;
/// The open flags under which open/openat create a file and so use their mode: `O_CREAT`
/// and `__O_TMPFILE` (`O_TMPFILE` without its `O_DIRECTORY` part); 0o100 and 0o20000000 on
/// both architectures (the generic values; x86_64 and aarch64 differ only in O_DIRECTORY).
const CREATING_OPEN_FLAGS: u64 = 0o100 | 0o2000_0000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Calls the default profile never allows, each with the reason.
#[rustfmt::skip]
pub const NEVER_ALLOWED: &[(&str, &str)] = &[
    ("ptrace", "reads and rewrites the memory and registers of other processes"),
    ("process_vm_readv", "reads another process's memory directly"),
    ("process_vm_writev", "writes another process's memory directly"),
    ("kcmp", "compares kernel objects of other processes, leaking their layout"),
    ("pidfd_getfd", "copies file descriptors out of another process"),
    ("keyctl", "reaches kernel keyrings that may hold the caller's credentials"),
    ("add_key", "stores keys in kernel keyrings shared beyond the sandbox"),
    ("request_key", "asks the kernel (and its upcall helpers) for keys"),
    ("bpf", "loads programs into the kernel; a large and often-exploited surface"),
    ("perf_event_open", "exposes kernel and hardware performance data; frequent exploit vector"),
    ("userfaultfd", "stalls kernel page faults at will, a standard race-widening exploit tool"),
    ("io_uring_setup", "io_uring bypasses per-call filtering and has had many kernel bugs"),
    ("io_uring_enter", "io_uring bypasses per-call filtering and has had many kernel bugs"),
    ("io_uring_register", "io_uring bypasses per-call filtering and has had many kernel bugs"),
    ("kexec_load", "replaces the running kernel"),
    ("kexec_file_load", "replaces the running kernel"),
    ("init_module", "loads code into the kernel"),
    ("finit_module", "loads code into the kernel"),
    ("delete_module", "unloads kernel code"),
    ("mount", "changes the file-system view the sandbox was built with"),
    ("umount2", "removes mounts, possibly uncovering what they hid"),
    ("pivot_root", "changes the root the sandbox was built with"),
    ("chroot", "changes the root directory, a classic step in escapes"),
    ("move_mount", "new mount API: changes the file-system view"),
    ("open_tree", "new mount API: clones mount trees"),
    ("open_tree_attr", "new mount API: clones mount trees with new attributes"),
    ("fsopen", "new mount API: creates file-system contexts"),
    ("fsconfig", "new mount API: configures file-system contexts"),
    ("fsmount", "new mount API: creates mounts"),
    ("fspick", "new mount API: reconfigures existing mounts"),
    ("mount_setattr", "new mount API: changes mount flags such as read-only"),
    ("setns", "joins other namespaces"),
    ("unshare", "creates namespaces, where the agent would regain capabilities"),
    ("reboot", "restarts or halts the machine (or a pid namespace)"),
    ("swapon", "changes the host's swap devices"),
    ("swapoff", "changes the host's swap devices"),
    ("acct", "turns process accounting on or off host-wide"),
    ("quotactl", "changes or reads disk quotas of the host's file systems"),
    ("quotactl_fd", "changes or reads disk quotas of the host's file systems"),
    ("open_by_handle_at", "opens files by handle, bypassing path checks (the shocker escape)"),
    ("name_to_handle_at", "produces file handles for open_by_handle_at"),
    ("lookup_dcookie", "resolves kernel directory cookies to host paths"),
    ("clone3", "its flags are in memory a filter cannot read; answered with ENOSYS"),
    ("openat2", "its flags and mode are in memory a filter cannot read (a set-id mode would \
        pass); answered with ENOSYS, on which libc, Go and Rust fall back to openat"),
];

/// Calls refused when the sandbox's memory limit has no cgroup behind it (see
/// [`UnaccountedMemory`]), each with the reason: memory they hold is not in the address
/// space `RLIMIT_AS` bounds.
#[rustfmt::skip]
pub const UNACCOUNTED_MEMORY_CALLS: &[(&str, &str)] = &[
    ("memfd_create", "file pages of a memfd are outside the address space RLIMIT_AS bounds"),
    ("shmget", "System V segments outlive every mapping and are not in any address space"),
    ("msgget", "System V message queues hold up to msgmnb bytes each, 32000 queues per namespace"),
    ("semget", "System V semaphore sets are kernel memory, up to 32000 sets of 32000 each"),
    ("vmsplice", "a pipe keeps the spliced pages (a whole huge page each) after munmap"),
    ("splice", "a pipe keeps file pages, also of files unlinked from a size-limited tmpfs"),
    ("sendfile", "into a pipe it is splice: the pipe keeps the file's pages"),
    ("socketpair", "each socket queues up to net.core.wmem_max (SO_SNDBUF) in the kernel"),
];

/// Whether memory the agent could hold outside its address space is bounded by something
/// other than the seccomp filter. `plan` decides: a memory cgroup bounds it; without one,
/// `limits.memory` is only `RLIMIT_AS`, which counts no file or IPC pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UnaccountedMemory {
    /// No limit needs it, or a memory cgroup counts it: the profile's calls stay allowed.
    #[default]
    Allowed,
    /// `limits.memory` is set and no memory cgroup can be had: the calls of
    /// [`UNACCOUNTED_MEMORY_CALLS`] answer `EPERM`, whatever `allow` says.
    Refused,
}

/// The `default` profile: what shells, coreutils, Python, Node, git and compilers use.
/// Names missing from an architecture's table (e.g. `open` on aarch64) are skipped there.
#[rustfmt::skip]
const DEFAULT_ALLOW: &[&str] = &[
    // Files and descriptors.
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "creat", "close", "close_range", "lseek", "dup",
    "dup2", "dup3", "pipe", "pipe2", "fcntl", "flock", "fsync", "fdatasync", "sync", "syncfs",
    "sync_file_range", "truncate", "ftruncate", "fallocate", "fadvise64", "readahead", "sendfile",
    "splice", "tee", "vmsplice", "copy_file_range", "stat", "fstat", "lstat", "newfstatat", "statx",
    "statfs", "fstatfs", "access", "faccessat", "faccessat2", "getdents", "getdents64", "getcwd",
    "chdir", "fchdir", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link",
    "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat", "chmod",
    "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "umask", "utime",
    "utimes", "utimensat", "futimesat", "mknod", "mknodat", "getxattr", "lgetxattr", "fgetxattr",
    "getxattrat", "listxattr", "llistxattr", "flistxattr", "listxattrat", "setxattr", "lsetxattr",
    "fsetxattr", "setxattrat", "removexattr", "lremovexattr", "fremovexattr", "removexattrat",
    "file_getattr", "file_setattr", "inotify_init", "inotify_init1", "inotify_add_watch",
    "inotify_rm_watch", "memfd_create", "cachestat", "ioctl",
    // Memory.
    "brk", "mmap", "munmap", "mprotect", "mremap", "msync", "mincore", "madvise", "mlock", "mlock2",
    "munlock", "mlockall", "munlockall", "pkey_alloc", "pkey_free", "pkey_mprotect", "mseal",
    "membarrier", "remap_file_pages", "get_mempolicy", "set_mempolicy", "mbind", "map_shadow_stack",
    // Processes, threads and signals.
    "clone", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "kill",
    "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack",
    "signalfd", "signalfd4", "pause", "restart_syscall", "getpid", "getppid", "gettid", "getpgid",
    "setpgid", "getpgrp", "getsid", "setsid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
    "getresgid", "getgroups", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
    "setgroups", "setfsuid", "setfsgid", "capget", "capset", "prctl", "arch_prctl",
    "set_tid_address", "set_robust_list", "get_robust_list", "futex", "futex_waitv", "futex_wake",
    "futex_wait", "futex_requeue", "rseq", "sched_yield", "sched_getaffinity", "sched_setaffinity",
    "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "sched_getattr",
    "sched_setattr", "getpriority", "setpriority", "ioprio_get", "ioprio_set", "getrlimit",
    "setrlimit", "prlimit64", "getrusage", "times", "personality", "pidfd_open",
    "pidfd_send_signal", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
    "landlock_restrict_self",
    // Time and system information.
    "uname", "sysinfo", "getrandom", "gettimeofday", "time", "clock_gettime", "clock_getres",
    "clock_nanosleep", "nanosleep", "alarm", "getitimer", "setitimer", "timer_create",
    "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete", "timerfd_create",
    "timerfd_settime", "timerfd_gettime", "getcpu",
    // Waiting on events.
    "eventfd", "eventfd2", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
    // Asynchronous I/O (the old interface, which seccomp can still see call by call).
    "io_setup", "io_destroy", "io_getevents", "io_pgetevents", "io_submit", "io_cancel",
    // Sockets.
    "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
    "setsockopt", "getsockopt",
    // System V and POSIX IPC (private to the sandbox's IPC namespace).
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
    "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr",
];

/// The `strict` profile: enough for `sh`, coreutils and `python3`, nothing more (no
/// sockets, no IPC, no scheduling or memory-policy changes).
#[rustfmt::skip]
const STRICT_ALLOW: &[&str] = &[
    "read", "write", "readv", "writev", "pread64", "pwrite64", "open", "openat", "close",
    "close_range", "lseek", "dup", "dup2", "dup3", "pipe", "pipe2", "fcntl", "flock", "fsync",
    "fdatasync", "sync", "truncate", "ftruncate", "fadvise64", "sendfile", "copy_file_range",
    "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
    "faccessat2", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "rename", "renameat",
    "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat", "unlink", "unlinkat", "symlink",
    "symlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown",
    "fchown", "lchown", "fchownat", "umask", "utimensat", "getxattr", "lgetxattr", "fgetxattr",
    "listxattr", "llistxattr", "flistxattr", "ioctl", "brk", "mmap", "munmap", "mprotect", "mremap",
    "madvise", "clone", "fork", "vfork", "execve", "exit", "exit_group", "wait4", "waitid", "kill",
    "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "sigaltstack",
    "restart_syscall", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid",
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "arch_prctl",
    "set_tid_address", "set_robust_list", "rseq", "futex", "sched_yield", "sched_getaffinity",
    "getrlimit", "prlimit64", "getrusage", "times", "personality", "uname", "sysinfo", "getrandom",
    "gettimeofday", "time", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
    "alarm", "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "eventfd2",
];

/// What `/bin/sh` cannot start without; each inner list is one need, met by any of its
/// names (architectures differ: aarch64 has no `open`, `fork` or `pipe`).
const NEEDED_BY_SH: &[&[&str]] = &[
    &["execve"],
    &["brk"],
    &["mmap"],
    &["mprotect"],
    &["munmap"],
    &["read"],
    &["write"],
    &["close"],
    &["openat", "open"],
    &["fstat", "newfstatat", "statx"],
    &["fcntl"],
    &["dup2", "dup3"],
    &["pipe2", "pipe"],
    &["clone", "fork", "vfork"],
    &["wait4", "waitid"],
    &["rt_sigaction"],
    &["rt_sigprocmask"],
    &["rt_sigreturn"],
    &["exit_group"],
];

/// How much of an argument a check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgWidth {
    /// Only the low 32 bits: right for `int`/`unsigned int` arguments, which the kernel
    /// truncates itself, so that set high bits cannot slip a value past the check.
    Low32,
}

/// A comparison on one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgOp {
    /// Equal to the value.
    Eq,
    /// Different from the value.
    Ne,
    /// No bit of the value is set in the argument.
    NoBitOf,
}

/// One argument check: `arg <op> value` on `width` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ArgCheck {
    /// Argument index, 0-based.
    pub arg: u8,
    /// Bits compared.
    pub width: ArgWidth,
    /// The comparison.
    pub op: ArgOp,
    /// The constant.
    pub value: u64,
}

/// When an allowed call is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Allowance {
    /// With any arguments.
    Always,
    /// When every check of at least one of the lists holds.
    When(Vec<Vec<ArgCheck>>),
}

/// The filter as data, before it is lowered to BPF: allowed calls by name and whether
/// `clone3` gets `ENOSYS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSet {
    /// The architecture.
    pub arch: Arch,
    /// Allowed calls and their argument conditions.
    pub allowed: BTreeMap<&'static str, Allowance>,
    /// `clone3` answers `ENOSYS` (so libc falls back to the inspectable `clone`).
    pub clone3_enosys: bool,
    /// `openat2` answers `ENOSYS` (so libc falls back to the inspectable `openat`).
    pub openat2_enosys: bool,
}

fn low32(arg: u8, op: ArgOp, value: u64) -> ArgCheck {
    ArgCheck {
        arg,
        width: ArgWidth::Low32,
        op,
        value,
    }
}

/// The argument conditions the profiles put on a call, if any.
fn conditions(
    name: &str,
    network: NetworkMode,
    unix_sockets: bool,
    memory: UnaccountedMemory,
) -> Option<Vec<Vec<ArgCheck>>> {
    match name {
        // clone(flags, …): the kernel reads only the low 32 bits of flags; any namespace
        // flag would give the child fresh namespaces where it holds every capability.
        "clone" => Some(vec![vec![low32(0, ArgOp::NoBitOf, CLONE_NAMESPACE_FLAGS)]]),
        // ioctl(fd, request, …): request is an unsigned int to the kernel, so compare the low
        // 32 bits only (CVE-2019-10063: a 64-bit compare let TIOCSTI | 1 << 32 through).
        // TIOCSTI pushes input into the controlling terminal; TIOCLINUX can do the same on
        // virtual consoles.
        "ioctl" => Some(vec![vec![
            low32(1, ArgOp::Ne, TIOCSTI),
            low32(1, ArgOp::Ne, TIOCLINUX),
        ]]),
        // personality(persona): other personas switch off ASLR (ADDR_NO_RANDOMIZE) or make
        // mappings executable (READ_IMPLIES_EXEC); the default one and the query are fine.
        "personality" => Some(vec![
            vec![low32(0, ArgOp::Eq, PER_LINUX)],
            vec![low32(0, ArgOp::Eq, PERSONALITY_QUERY)],
        ]),
        // socket(domain, type, protocol): an allow-list of families, refused with EPERM like
        // every other refusal of the filter. Families outside it are not confined by the
        // network namespace (AF_VSOCK reaches the hypervisor and other VMs' vsock space) or
        // are large, rarely used kernel surfaces (AF_ALG, AF_TIPC, AF_KEY, AF_RDS,
        // AF_BLUETOOTH, AF_PACKET, AF_XDP, …).
        // - AF_INET and AF_INET6 only where the network mode gives an interface (loopback,
        //   host); in `none` there is nothing to reach.
        // - AF_UNIX only with network.unix_sockets: connecting to a socket file needs only
        //   write permission on it, which read-only mounts do not remove and which the agent
        //   has as the caller's own uid, so a granted directory holding docker.sock, a D-Bus
        //   or a journald socket would otherwise hand those services over.
        // - AF_NETLINK only for NETLINK_ROUTE (getaddrinfo and getifaddrs read interfaces
        //   and addresses through it); audit, sock_diag (which lists the host's sockets on
        //   the host network), uevents and the rest are refused.
        // - When `limits.memory` has no cgroup behind it (`memory` is `Refused`), neither
        //   AF_UNIX nor AF_NETLINK: their receive queues are kernel memory no rlimit counts
        //   (a red team held 10 GB under 512M in netlink error replies, 784 MiB in one
        //   process's unix sockets); glibc gets along without netlink (getaddrinfo then
        //   assumes both address families).
        "socket" => {
            let mut alternatives = Vec::new();
            if network != NetworkMode::None {
                alternatives.push(vec![low32(0, ArgOp::Eq, AF_INET)]);
                alternatives.push(vec![low32(0, ArgOp::Eq, AF_INET6)]);
            }
            if memory == UnaccountedMemory::Allowed {
                if unix_sockets {
                    alternatives.push(vec![low32(0, ArgOp::Eq, AF_UNIX)]);
                }
                alternatives.push(vec![
                    low32(0, ArgOp::Eq, AF_NETLINK),
                    low32(2, ArgOp::Eq, NETLINK_ROUTE),
                ]);
            }
            if alternatives.is_empty() {
                // No family at all: an impossible check refuses every call.
                alternatives.push(vec![low32(0, ArgOp::Eq, u64::from(u32::MAX))]);
            }
            Some(alternatives)
        }
        // socketpair(domain, type, protocol, sv): AF_UNIX only (AF_TIPC has pairs too).
        // Without network.unix_sockets only connected stream or seqpacket pairs: those
        // refuse connect (EISCONN) and ignore or refuse a sendto/sendmsg address, whereas
        // a datagram pair's sockets can be pointed at any pathname socket the agent can
        // see (journald, syslog, sd_notify sockets in a read-only grant), and seccomp
        // cannot read the address sendmsg carries. SOCK_NONBLOCK and SOCK_CLOEXEC may be
        // or-ed in (see SOCKETPAIR_TYPE_BITS for why a bit test suffices).
        "socketpair" => {
            let mut checks = vec![low32(0, ArgOp::Eq, AF_UNIX)];
            if !unix_sockets {
                checks.push(low32(1, ArgOp::NoBitOf, SOCKETPAIR_REFUSED_TYPE_BITS));
            }
            Some(vec![checks])
        }
        // The mode of every call that sets or creates with one: no S_ISUID or S_ISGID, so
        // the agent cannot leave a set-id program behind for other users (or, for a root
        // caller, a root shell). mode_t is an unsigned int (umode_t inside the kernel), so
        // the low 32 bits are all the kernel reads. fchmodat2's flags (AT_SYMLINK_NOFOLLOW,
        // AT_EMPTY_PATH) change which file, not which mode, and /proc/self/fd/N paths end
        // in these same calls.
        "chmod" | "fchmod" | "creat" | "mknod" => {
            Some(vec![vec![low32(1, ArgOp::NoBitOf, SET_ID_BITS)]])
        }
        "fchmodat" | "fchmodat2" | "mknodat" => {
            Some(vec![vec![low32(2, ArgOp::NoBitOf, SET_ID_BITS)]])
        }
        // open(path, flags, mode) and openat(dfd, path, flags, mode) use the mode only when
        // they create (O_CREAT, O_TMPFILE): either no creating flag, or a mode without
        // set-id bits. (openat2 answers ENOSYS: its open_how is out of the filter's sight.)
        "open" => Some(vec![
            vec![low32(1, ArgOp::NoBitOf, CREATING_OPEN_FLAGS)],
            vec![low32(2, ArgOp::NoBitOf, SET_ID_BITS)],
        ]),
        "openat" => Some(vec![
            vec![low32(2, ArgOp::NoBitOf, CREATING_OPEN_FLAGS)],
            vec![low32(3, ArgOp::NoBitOf, SET_ID_BITS)],
        ]),
        _ => None,
    }
}

/// The profile's names as written (the code uses [`profile_positions`]; tests compare).
#[cfg(test)]
fn profile_names(profile: SeccompProfile) -> &'static [&'static str] {
    match profile {
        SeccompProfile::Default => DEFAULT_ALLOW,
        SeccompProfile::Strict => STRICT_ALLOW,
    }
}

// ---- The profiles resolved against the tables at compile time ----
//
// Every sandbox start builds its rule set, and looking ~350 names up one by one (then
// keying a map by them) was ~0.1 ms of string comparisons on the start-up path. The
// positions of each profile's names in each architecture's name-sorted table are therefore
// computed by the compiler; at run time the positions are sorted as integers, which puts
// the names in table (= name) order, and the map is bulk-built from that in linear time.

/// Marks a profile name the architecture does not have (e.g. `open` on aarch64).
const ABSENT: u16 = u16::MAX;

/// The calls that [`conditions`] may put argument checks on; a test keeps the two in step.
const CONDITIONED: [&str; 14] = [
    "chmod",
    "clone",
    "creat",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "ioctl",
    "mknod",
    "mknodat",
    "open",
    "openat",
    "personality",
    "socket",
    "socketpair",
];

/// Byte-wise order of two names, as `str::cmp` (which is not `const`).
const fn cmp_names(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return if a[i] < b[i] {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            };
        }
        i += 1;
    }
    if a.len() < b.len() {
        std::cmp::Ordering::Less
    } else if a.len() > b.len() {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// The position of each of `names` in the name-sorted `table`, or [`ABSENT`]; evaluated by
/// the compiler. `N` must be `names.len()`.
const fn positions<const N: usize>(names: &[&str], table: &[(&str, i64)]) -> [u16; N] {
    assert!(names.len() == N && table.len() < ABSENT as usize);
    let mut out = [ABSENT; N];
    let mut k = 0;
    while k < N {
        let (mut lo, mut hi) = (0, table.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match cmp_names(table[mid].0.as_bytes(), names[k].as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    out[k] = mid as u16;
                    break;
                }
            }
        }
        k += 1;
    }
    out
}

const DEFAULT_ON_X86_64: [u16; DEFAULT_ALLOW.len()] =
    positions(DEFAULT_ALLOW, syscalls_x86_64::SYSCALLS);
const DEFAULT_ON_AARCH64: [u16; DEFAULT_ALLOW.len()] =
    positions(DEFAULT_ALLOW, syscalls_aarch64::SYSCALLS);
const STRICT_ON_X86_64: [u16; STRICT_ALLOW.len()] =
    positions(STRICT_ALLOW, syscalls_x86_64::SYSCALLS);
const STRICT_ON_AARCH64: [u16; STRICT_ALLOW.len()] =
    positions(STRICT_ALLOW, syscalls_aarch64::SYSCALLS);

/// Positions in `arch`'s table of the profile's names (in the profile's order).
fn profile_positions(profile: SeccompProfile, arch: Arch) -> &'static [u16] {
    match (profile, arch) {
        (SeccompProfile::Default, Arch::X86_64) => &DEFAULT_ON_X86_64,
        (SeccompProfile::Default, Arch::Aarch64) => &DEFAULT_ON_AARCH64,
        (SeccompProfile::Strict, Arch::X86_64) => &STRICT_ON_X86_64,
        (SeccompProfile::Strict, Arch::Aarch64) => &STRICT_ON_AARCH64,
    }
}

/// Build the rule set for `spec` on `arch`: the profile's names present on `arch`, with
/// their argument conditions, plus `allow` (unconditionally), minus `deny`.
///
/// A name in `allow` lifts the argument conditions the profile would put on it; a name in
/// both lists is denied.
///
/// # Errors
/// [`SeccompError::UnknownSyscall`] for a name in `allow` or `deny` that `arch` lacks.
pub fn rules(spec: &Seccomp, network: NetworkMode, arch: Arch) -> Result<RuleSet, SeccompError> {
    rules_with(spec, network, UnaccountedMemory::Allowed, arch)
}

/// [`rules`], with the calls of [`UNACCOUNTED_MEMORY_CALLS`] removed when `memory` is
/// [`UnaccountedMemory::Refused`] (even those `allow` names: the limit would be a lie).
///
/// # Errors
/// [`SeccompError::UnknownSyscall`] for a name in `allow` or `deny` that `arch` lacks.
pub fn rules_with(
    spec: &Seccomp,
    network: NetworkMode,
    memory: UnaccountedMemory,
    arch: Arch,
) -> Result<RuleSet, SeccompError> {
    let table = arch.table();
    let known = |name: &str| -> Result<&'static str, SeccompError> {
        arch.position(name)
            .and_then(|i| table.get(i))
            .map(|(n, _)| *n)
            .ok_or_else(|| SeccompError::UnknownSyscall {
                name: name.to_owned(),
                arch,
            })
    };
    let mut positions: Vec<u16> = profile_positions(spec.profile, arch)
        .iter()
        .copied()
        .filter(|&p| p != ABSENT)
        .collect();
    positions.sort_unstable();
    // Sorted positions are sorted names: `collect` bulk-builds the map without searching.
    let mut allowed: BTreeMap<&'static str, Allowance> = positions
        .iter()
        .filter_map(|&p| table.get(usize::from(p)))
        .map(|(name, _)| (*name, Allowance::Always))
        .collect();
    for name in CONDITIONED {
        if let Some(allowance) = allowed.get_mut(name)
            && let Some(alternatives) = conditions(name, network, spec.unix_sockets, memory)
        {
            *allowance = Allowance::When(alternatives);
        }
    }
    let (mut clone3_enosys, mut openat2_enosys) = (true, true);
    for name in &spec.allow {
        let name = known(name)?;
        match name {
            "clone3" => clone3_enosys = false,
            "openat2" => openat2_enosys = false,
            _ => {}
        }
        allowed.insert(name, Allowance::Always);
    }
    for name in &spec.deny {
        let name = known(name)?;
        allowed.remove(name);
        // Denying these outright would break libc's fallback; ENOSYS is the refusal.
        match name {
            "clone3" => clone3_enosys = true,
            "openat2" => openat2_enosys = true,
            _ => {}
        }
    }
    if memory == UnaccountedMemory::Refused {
        for (name, _) in UNACCOUNTED_MEMORY_CALLS {
            allowed.remove(name);
        }
    }
    Ok(RuleSet {
        arch,
        allowed,
        clone3_enosys,
        openat2_enosys,
    })
}

// ---- Code generation: RuleSet → classic BPF ----
//
// Layout of a compiled program:
//
//     guard                 ld [arch]; jeq native ?: ret KILL; ld [nr];
//                           (x86_64) jset X32_BIT ? ret KILL;  jeq clone3 ? ret ENOSYS;
//                           jeq openat2 ? ret ENOSYS
//     ld [nr]
//     search tree           jge pivot → right subtree, else fall through to the left one
//       leaf                ret ALLOW | ret EPERM | the call's argument-check block
//
// The tree does not test numbers one by one: the 32-bit number line is cut into maximal
// intervals of equal verdict (a run of allowed calls such as read..=close is one leaf, a run
// of unassigned or refused numbers another, a call with argument checks usually one of its
// own), and a balanced binary search over the interval starts picks the leaf. For `default`
// on x86_64 that is 80 leaves, 191 instructions in all (seccompiler's linear chain had
// 1,520), and any call runs at most about 20 of them. That matters twice: on every call the
// agent makes, and at install time, when the kernel's `seccomp_cache_prepare` runs the
// filter once per syscall number to find the calls it may allow without running it.
//
// Every leaf ends in `ret`, so nothing after a leaf depends on the accumulator and the
// argument-check blocks may load arguments freely. Conditional jumps in classic BPF are
// forward-only with 8-bit offsets: a tree node jumps over its left subtree, so when that is
// longer than 255 instructions the node jumps to an unconditional `ja` (32-bit offset)
// instead. All other jumps stay within one argument-check block and are short.
//
// Argument-check block, for alternatives `A1 or A2 or …`, each an AND of checks:
//
//     A1: ld args[i] (low word)   only when the previous check loaded another argument
//         jeq/jset k              a failing check jumps to A2
//         …
//         ret ALLOW
//     A2: …
//         ret EPERM               every alternative failed

/// One classic-BPF instruction as `(code, jt, jf, k)` (`struct sock_filter`).
type Insn = (u16, u8, u8, u32);

// The opcodes emitted (include/uapi/linux/bpf_common.h); all are on the list the kernel's
// `seccomp_check_filter` accepts.
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS: A = 32-bit word of seccomp_data at k
const JA: u16 = 0x05; // BPF_JMP | BPF_JA: pc += k
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K: A == k
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K: A >= k (unsigned)
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K: A & k != 0
const RET_K: u16 = 0x06; // BPF_RET | BPF_K: return k

// Offsets in `struct seccomp_data` (include/uapi/linux/seccomp.h): `int nr; __u32 arch;
// __u64 instruction_pointer; __u64 args[6];`. Both architectures here are little-endian
// (their audit arch has __AUDIT_ARCH_LE), so the low word of args[i] is at 16 + 8 * i and
// the high word, which no check ever loads, at 20 + 8 * i.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
const DATA_ARGS: u32 = 16;
const ARG_COUNT: u8 = 6;

/// `BPF_MAXINSNS`: the kernel refuses longer programs.
const MAX_INSNS: usize = 4096;

const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

fn stmt(code: u16, k: u32) -> Insn {
    (code, 0, 0, k)
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    (code, jt, jf, k)
}

/// The guard run before the search tree (see the module docs). Leaves the number in A.
fn guard(arch: Arch, enosys: &[(&'static str, i64)]) -> Result<Vec<Insn>, SeccompError> {
    let mut g = vec![
        stmt(LD_W_ABS, DATA_ARCH),
        jump(JEQ_K, arch.audit_arch(), 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, DATA_NR),
    ];
    if arch == Arch::X86_64 {
        // x32 calls arrive with the x86_64 audit arch and bit 30 set in the number.
        g.push(jump(JSET_K, X32_SYSCALL_BIT, 0, 1));
        g.push(stmt(RET_K, RET_KILL_PROCESS));
    }
    for &(name, nr) in enosys {
        let nr = u32::try_from(nr).map_err(|_| SeccompError::UnknownSyscall {
            name: name.into(),
            arch,
        })?;
        g.push(jump(JEQ_K, nr, 0, 1));
        g.push(stmt(RET_K, RET_ENOSYS));
    }
    Ok(g)
}

/// What the filter answers for a range of call numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict<'a> {
    Allow,
    Deny,
    /// Allowed when every check of one of the alternatives holds.
    Check(&'a [Vec<ArgCheck>]),
}

/// The numbers from `from` up to the next leaf's `from` (or `u32::MAX`) share `verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Leaf<'a> {
    from: u32,
    verdict: Verdict<'a>,
}

/// Cut the number line into maximal intervals of one verdict, in order, the first from 0.
fn leaves<'a>(by_number: &BTreeMap<u32, Verdict<'a>>) -> Vec<Leaf<'a>> {
    fn push<'a>(leaves: &mut Vec<Leaf<'a>>, from: u32, verdict: Verdict<'a>) {
        // Equal verdicts, argument checks included, answer alike: one interval.
        if leaves.last().is_some_and(|l| l.verdict == verdict) {
            return;
        }
        leaves.push(Leaf { from, verdict });
    }
    let mut out = Vec::new();
    // The first number no leaf covers yet (u32::MAX + 1 once all are covered).
    let mut uncovered: u64 = 0;
    for (&nr, &verdict) in by_number {
        if let Ok(gap) = u32::try_from(uncovered)
            && gap < nr
        {
            push(&mut out, gap, Verdict::Deny);
        }
        push(&mut out, nr, verdict);
        uncovered = u64::from(nr) + 1;
    }
    if let Ok(from) = u32::try_from(uncovered) {
        push(&mut out, from, Verdict::Deny);
    }
    out
}

/// The argument-check block of one call (layout above).
fn check_block(arch: Arch, alternatives: &[Vec<ArgCheck>]) -> Result<Vec<Insn>, SeccompError> {
    let build = |reason| SeccompError::Build { arch, reason };
    let mut code = Vec::new();
    for checks in alternatives {
        // (index of a check's jump, whether it passes on true): its other branch must land on
        // the next alternative, whose position is known once this one is emitted.
        let mut jumps = Vec::new();
        let mut loaded = None;
        for check in checks {
            // The only width, so the high word is never loaded; a new one must be lowered here.
            let ArgWidth::Low32 = check.width;
            if check.arg >= ARG_COUNT {
                return Err(build("an argument check names an argument past the sixth"));
            }
            let k = u32::try_from(check.value)
                .map_err(|_| build("a 32-bit argument check compares with a wider constant"))?;
            if loaded != Some(check.arg) {
                code.push(stmt(LD_W_ABS, DATA_ARGS + 8 * u32::from(check.arg)));
                loaded = Some(check.arg);
            }
            let (op, passes_on_true) = match check.op {
                ArgOp::Eq => (JEQ_K, true),
                ArgOp::Ne => (JEQ_K, false),
                ArgOp::NoBitOf => (JSET_K, false),
            };
            jumps.push((code.len(), passes_on_true));
            code.push(jump(op, k, 0, 0));
        }
        code.push(stmt(RET_K, RET_ALLOW));
        let next = code.len();
        for (at, passes_on_true) in jumps {
            let skip = u8::try_from(next - at - 1)
                .map_err(|_| build("an alternative has too many argument checks"))?;
            if let Some(insn) = code.get_mut(at) {
                if passes_on_true {
                    insn.2 = skip;
                } else {
                    insn.1 = skip;
                }
            }
        }
        if checks.is_empty() {
            // Always holds: nothing after it could run.
            return Ok(code);
        }
    }
    code.push(stmt(RET_K, RET_EPERM));
    Ok(code)
}

/// The balanced search tree over `leaves` (sorted, non-empty), A holding the number.
fn search_tree(arch: Arch, leaves: &[Leaf<'_>]) -> Result<Vec<Insn>, SeccompError> {
    let (left, right) = leaves.split_at(leaves.len() / 2);
    let Some(pivot) = right.first() else {
        return Ok(vec![stmt(RET_K, RET_EPERM)]);
    };
    if left.is_empty() {
        return match pivot.verdict {
            Verdict::Allow => Ok(vec![stmt(RET_K, RET_ALLOW)]),
            Verdict::Deny => Ok(vec![stmt(RET_K, RET_EPERM)]),
            Verdict::Check(alternatives) => check_block(arch, alternatives),
        };
    }
    let left = search_tree(arch, left)?;
    let right = search_tree(arch, right)?;
    let mut code = Vec::with_capacity(2 + left.len() + right.len());
    if let Ok(skip) = u8::try_from(left.len()) {
        code.push(jump(JGE_K, pivot.from, skip, 0));
    } else {
        // Too far for a conditional jump: hop over the left subtree with `ja`.
        let skip = u32::try_from(left.len()).map_err(|_| SeccompError::Build {
            arch,
            reason: "the program is too long",
        })?;
        code.push(jump(JGE_K, pivot.from, 0, 1));
        code.push(stmt(JA, skip));
    }
    code.extend(left);
    code.extend(right);
    Ok(code)
}

/// Compile `spec` into a BPF program for `arch`, with `memory` saying whether calls that
/// hold memory outside the address space must be refused. Do it once per policy (and
/// `memory`) and reuse the result for every spawn.
///
/// # Errors
/// [`SeccompError::UnknownSyscall`] for a name `arch` lacks, [`SeccompError::Build`] if the
/// rules do not fit a classic BPF program (e.g. over 4096 instructions).
pub fn compile(
    spec: &Seccomp,
    network: NetworkMode,
    memory: UnaccountedMemory,
    arch: Arch,
) -> Result<SeccompFilter, SeccompError> {
    lower(&rules_with(spec, network, memory, arch)?)
}

/// Lower a rule set to its BPF program (layout above).
fn lower(set: &RuleSet) -> Result<SeccompFilter, SeccompError> {
    let arch = set.arch;
    let mut by_number = BTreeMap::new();
    // `allowed` and the table are both sorted by name: walk them together.
    let mut table = arch.table().iter().peekable();
    for (name, allowance) in &set.allowed {
        while table.next_if(|(n, _)| n < name).is_some() {}
        let Some(&(_, nr)) = table.next_if(|(n, _)| n == name) else {
            continue;
        };
        let nr = u32::try_from(nr).map_err(|_| SeccompError::UnknownSyscall {
            name: (*name).to_owned(),
            arch,
        })?;
        let verdict = match allowance {
            Allowance::Always => Verdict::Allow,
            Allowance::When(alternatives) => Verdict::Check(alternatives),
        };
        by_number.insert(nr, verdict);
    }
    let enosys: Vec<(&'static str, i64)> = [
        ("clone3", set.clone3_enosys),
        ("openat2", set.openat2_enosys),
    ]
    .into_iter()
    .filter(|&(_, on)| on)
    .filter_map(|(name, _)| arch.syscall_number(name).map(|nr| (name, nr)))
    .collect();
    let mut program = guard(arch, &enosys)?;
    // The guard leaves the number in A; load it again so the tree does not depend on that.
    program.push(stmt(LD_W_ABS, DATA_NR));
    program.extend(search_tree(arch, &leaves(&by_number))?);
    if program.len() > MAX_INSNS {
        return Err(SeccompError::Build {
            arch,
            reason: "the program is longer than the kernel's 4096 instructions",
        });
    }
    Ok(SeccompFilter { arch, program })
}

/// Install `filter` on the calling thread (and so on everything it executes). Call it last
/// before `execve`, after `no_new_privs` is set.
///
/// # Errors
/// [`SeccompError::WrongArch`] for a filter built for another architecture,
/// [`SeccompError::Install`] when the kernel refuses it (no `no_new_privs`, no seccomp).
pub fn install(filter: &SeccompFilter) -> Result<(), SeccompError> {
    if filter.arch != Arch::native() {
        return Err(SeccompError::WrongArch {
            filter: filter.arch,
            native: Arch::native(),
        });
    }
    seccompiler::apply_filter(&filter.bpf()).map_err(|source| SeccompError::Install { source })
}

/// Whether this kernel can run seccomp filters (the `Seccomp:` field of
/// `/proc/self/status` exists only on kernels built with `CONFIG_SECCOMP`), for `doctor`
/// and fail-closed checks.
#[must_use]
pub fn kernel_supports_filters() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|status| status.lines().any(|l| l.starts_with("Seccomp:")))
}

/// Make the calling process join a new, anonymous session keyring, so no key of the
/// caller's session is reachable from the sandbox even where `keyctl` is allowed. Call it in
/// the child before [`install`] (the default filter denies `keyctl`).
///
/// # Errors
/// [`SeccompError::Keyring`] with the kernel's answer.
pub fn join_fresh_session_keyring() -> Result<(), SeccompError> {
    crate::isolation::sys::keyring::join_session_keyring()
        .map(|_| ())
        .map_err(|source| SeccompError::Keyring { source })
}

/// Which list of `[seccomp]` a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompList {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
    /// The resulting allow-list as a whole.
    Profile,
}

/// A problem `policy check` reports in `[seccomp]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeccompProblem {
    /// The list the problem is in.
    pub list: SeccompList,
    /// The entry's index in that list, when one entry is at fault.
    pub index: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

impl SeccompProblem {
    /// The policy key path, e.g. `seccomp.deny[2]` or `seccomp.profile`.
    #[must_use]
    pub fn key(&self) -> String {
        match (self.list, self.index) {
            (SeccompList::Allow, Some(i)) => format!("seccomp.allow[{i}]"),
            (SeccompList::Deny, Some(i)) => format!("seccomp.deny[{i}]"),
            (SeccompList::Allow, None) => "seccomp.allow".into(),
            (SeccompList::Deny, None) => "seccomp.deny".into(),
            (SeccompList::Profile, _) => "seccomp.profile".into(),
        }
    }
}

/// Check `[seccomp]` against `arch`: unknown or repeated names, names both allowed and
/// denied, and an allow-list that could not start `/bin/sh`.
#[must_use]
pub fn validate(spec: &Seccomp, arch: Arch) -> Vec<SeccompProblem> {
    let mut problems = Vec::new();
    let mut check_list = |list: SeccompList, names: &[String]| {
        let mut seen = BTreeSet::new();
        for (i, name) in names.iter().enumerate() {
            if arch.syscall_number(name).is_none() {
                problems.push(SeccompProblem {
                    list,
                    index: Some(i),
                    message: format!("`{name}` is not a system call on {arch}"),
                });
            } else if !seen.insert(name.as_str()) {
                problems.push(SeccompProblem {
                    list,
                    index: Some(i),
                    message: format!("`{name}` is listed twice"),
                });
            }
        }
    };
    check_list(SeccompList::Allow, &spec.allow);
    check_list(SeccompList::Deny, &spec.deny);
    for (i, name) in spec.allow.iter().enumerate() {
        if spec.deny.contains(name) {
            problems.push(SeccompProblem {
                list: SeccompList::Allow,
                index: Some(i),
                message: format!("`{name}` is both allowed and denied; deny wins, remove one"),
            });
        }
    }
    // Whether `arch` has `name` and the effective allow-list (profile, plus `allow`, minus
    // `deny`) lets it through. Runs on every policy load, so no set of ~350 names is built.
    let profile = profile_positions(spec.profile, arch);
    let effective = |name: &str| {
        !spec.deny.iter().any(|d| d == name)
            && arch.position(name).is_some_and(|p| {
                spec.allow.iter().any(|a| a == name)
                    || u16::try_from(p).is_ok_and(|p| profile.contains(&p))
            })
    };
    for need in NEEDED_BY_SH {
        let present: Vec<&str> = need
            .iter()
            .copied()
            .filter(|n| arch.position(n).is_some())
            .collect();
        if present.is_empty() || present.iter().any(|n| effective(n)) {
            continue;
        }
        let index = spec.deny.iter().position(|d| present.contains(&d.as_str()));
        problems.push(SeccompProblem {
            list: if index.is_some() {
                SeccompList::Deny
            } else {
                SeccompList::Profile
            },
            index,
            message: format!(
                "/bin/sh cannot start without `{}`; the agent would be stopped before it runs",
                present.join("` or `")
            ),
        });
    }
    problems
}

/// A short account of a filter for `policy explain` and `exec --report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeccompSummary {
    /// `default` or `strict`.
    pub profile: &'static str,
    /// The architecture counted.
    pub arch: Arch,
    /// How many calls are allowed (some only with certain arguments).
    pub allowed: usize,
    /// What every other call answers.
    pub otherwise: &'static str,
    /// Argument checks, in words.
    pub argument_checks: Vec<String>,
    /// Calls the policy adds to the profile.
    pub added: Vec<String>,
    /// Calls the policy removes from it.
    pub removed: Vec<String>,
    /// Notable calls that stay denied, with the reason.
    pub denied: Vec<(&'static str, &'static str)>,
    /// What happens to calls of a foreign ABI (x32, i386).
    pub foreign_abi: &'static str,
}

/// Summarise what `spec` allows on this machine's architecture.
#[must_use]
pub fn describe(spec: &Seccomp, network: NetworkMode, memory: UnaccountedMemory) -> SeccompSummary {
    let arch = Arch::native();
    // Unknown names are `policy check`'s to report; describe what the known ones do.
    let known = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|n| arch.syscall_number(n).is_some())
            .cloned()
            .collect()
    };
    let cleaned = Seccomp {
        profile: spec.profile,
        allow: known(&spec.allow),
        deny: known(&spec.deny),
        unix_sockets: spec.unix_sockets,
    };
    let set = rules_with(&cleaned, network, memory, arch).ok();
    let allowed = set.as_ref().map_or(0, |s| s.allowed.len());
    let mut argument_checks = Vec::new();
    if let Some(set) = &set {
        for (name, allowance) in &set.allowed {
            if let Allowance::When(_) = allowance {
                argument_checks.push(match *name {
                    "clone" => "clone: no namespace flags".to_owned(),
                    "ioctl" => "ioctl: not TIOCSTI or TIOCLINUX (low 32 bits compared)".to_owned(),
                    "personality" => "personality: only the default persona or a query".to_owned(),
                    "socket" => {
                        let mut families = Vec::new();
                        if network != NetworkMode::None {
                            families.push("AF_INET, AF_INET6");
                        }
                        if memory == UnaccountedMemory::Allowed {
                            if spec.unix_sockets {
                                families.push("AF_UNIX");
                            }
                            families.push("AF_NETLINK with NETLINK_ROUTE");
                        }
                        if families.is_empty() {
                            "socket: every family refused (no network, and limits.memory without a cgroup)".to_owned()
                        } else {
                            format!(
                                "socket: only {}; every other family refused",
                                families.join(", ")
                            )
                        }
                    }
                    "socketpair" if spec.unix_sockets => "socketpair: AF_UNIX only".to_owned(),
                    "socketpair" => {
                        "socketpair: AF_UNIX stream or seqpacket pairs only (no datagrams)"
                            .to_owned()
                    }
                    "open" | "openat" => {
                        format!("{name}: no S_ISUID or S_ISGID in the mode when creating")
                    }
                    other => format!("{other}: no S_ISUID or S_ISGID in the mode"),
                });
            }
        }
        if set.clone3_enosys {
            argument_checks.push("clone3: answers ENOSYS so libc falls back to clone".into());
        }
        if set.openat2_enosys {
            argument_checks.push("openat2: answers ENOSYS so libc falls back to openat".into());
        }
    }
    let memory_calls = match memory {
        UnaccountedMemory::Allowed => &[][..],
        UnaccountedMemory::Refused => UNACCOUNTED_MEMORY_CALLS,
    };
    let denied = NEVER_ALLOWED
        .iter()
        .chain(memory_calls)
        .copied()
        .filter(|(n, _)| {
            arch.syscall_number(n).is_some()
                && set.as_ref().is_none_or(|s| !s.allowed.contains_key(n))
        })
        .collect();
    SeccompSummary {
        profile: spec.profile.as_str(),
        arch,
        allowed,
        otherwise: "EPERM",
        argument_checks,
        added: cleaned.allow,
        removed: cleaned.deny,
        denied,
        foreign_abi: "process killed",
    }
}

#[cfg(test)]
mod tests;

//! Inside the sandbox: pid 1's setup of the new root, then the agent's last steps to exec.
//!
//! Runs in the process created by the launcher's `clone`, which is single-threaded and so
//! may allocate freely. The order of steps is the security argument, so each says why it
//! sits where it does. Any failure is reported as a [`SetupFailure`] on the status pipe
//! and the process exits; nothing of the command has run at that point.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::CloneFlags;
use nix::sys::prctl;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::statvfs::{FsFlags, statvfs};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, chdir, execve, pipe2, pivot_root, sethostname, setsid};

use super::plan::{HOSTNAME, MountSpec, RlimitKind, SandboxPlan};
use super::protocol::SetupFailure;
use super::signal_set;
use super::sys::{self, CloneResult};
use super::{landlock, resolve, seccomp};

/// Where the new root is assembled, inside the first (scratch) root.
const NEW_ROOT: &str = "/newroot";
/// Where the host's root is visible while the new root is assembled.
const OLD_ROOT: &str = "/oldroot";
/// Device nodes the sandbox provides, bound from the host's `/dev`.
pub(crate) const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

type Step<T = ()> = Result<T, SetupFailure>;

fn fail(step: impl Into<String>, errno: Errno) -> SetupFailure {
    let step = step.into();
    SetupFailure::new(&step, format!("{step}: {}", errno.desc()), errno as i32)
}

fn message_fail(step: &str, e: &dyn std::error::Error) -> SetupFailure {
    let mut detail = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        detail.push_str(&format!(": {c}"));
        cause = c.source();
    }
    SetupFailure::new(step, detail, 0)
}

fn io_fail(step: impl Into<String>, e: &std::io::Error) -> SetupFailure {
    let step = step.into();
    SetupFailure::new(&step, format!("{step}: {e}"), e.raw_os_error().unwrap_or(0))
}

/// Report a failure to the launcher and end this process.
pub(super) fn die(status: &mut std::fs::File, failure: &SetupFailure) -> ! {
    if let Ok(json) = serde_json::to_vec(failure) {
        let _ = status.write_all(&json);
    }
    sys::exit_immediately(super::SETUP_FAILED_CODE)
}

/// pid 1 of the sandbox: wait for the id maps, build the root, start the agent, then reap
/// and forward signals until the agent exits. When it has, and every other process of the
/// sandbox is gone, how the agent ended is written to `exit` ([`AgentEnd::to_bytes`]) so
/// the launcher can report it without waiting for the namespaces to be torn down. Never
/// returns.
pub(super) fn run_init(plan: &SandboxPlan, go: OwnedFd, status: OwnedFd, exit: OwnedFd) -> ! {
    let mut status = std::fs::File::from(status);
    if let Err(f) = wait_for_go(go) {
        die(&mut status, &f);
    }
    if let Err(f) = super::ids::take_inside_ids(plan) {
        die(&mut status, &f);
    }
    // A change of ids clears the parent-death signal (prctl(2), PR_SET_PDEATHSIG): set it
    // again, then make sure the caller did not die in between, or the sandbox would outlive
    // it (and its timeout) for good.
    if let Err(f) = keep_dying_with_the_caller(&exit) {
        die(&mut status, &f);
    }
    let signals = match SignalFd::with_flags(&signal_set(), SfdFlags::SFD_CLOEXEC) {
        Ok(s) => s,
        Err(e) => die(&mut status, &fail("signalfd", e)),
    };
    // The agent is forked now, before the root is built, so that its own first steps
    // (which need no file system) run while pid 1 mounts; it waits on `ready` for the
    // rest. It shares pid 1's mount namespace, so it sees every mount pid 1 makes, and
    // `pivot_root` moves its root along with pid 1's.
    let (ready_r, ready_w) = match pipe2(OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => die(&mut status, &fail("pipe", e)),
    };
    let agent = match sys::clone_process(CloneFlags::empty()) {
        Err(e) => die(&mut status, &fail("fork agent", e.errno)),
        Ok(CloneResult::Child) => {
            drop((signals, exit, ready_w));
            let failure = start_agent(plan, ready_r);
            die(&mut status, &failure)
        }
        Ok(CloneResult::Parent(agent)) => agent,
    };
    drop(ready_r);
    if let Err(f) = setup_root(plan) {
        // The agent sees `ready` close without a byte and ends; pdeathsig would end it
        // anyway.
        let _ = kill(agent, Signal::SIGKILL);
        die(&mut status, &f);
    }
    if std::fs::File::from(ready_w).write_all(b"R").is_err() {
        let _ = kill(agent, Signal::SIGKILL);
        die(&mut status, &fail("start agent", Errno::EPIPE));
    }
    // Our copy of the status pipe must close so the launcher sees EOF at the agent's exec;
    // the agent's copy closes there (close-on-exec).
    drop(status);
    // pid 1 needs no privilege to reap and forward signals: give it all up, and stay
    // non-dumpable so the agent can neither ptrace it nor read its memory.
    let _ = prctl::set_dumpable(false);
    // The standard streams and descriptors passed along are the agent's; pid 1 keeps none
    // of them open, so a reader of the agent's output sees the end of it when the agent's
    // side closes, not when pid 1 exits.
    let _ = sys::null_stdio();
    if plan.passed_fds > 0 {
        let first = super::protocol::FIRST_PASSED_FD as u32;
        let _ = sys::close_fd_range(first, first + plan.passed_fds - 1);
    }
    if sys::drop_all_capabilities().is_err() {
        let _ = kill(agent, Signal::SIGKILL);
        sys::exit_immediately(super::SETUP_FAILED_CODE);
    }
    let end = reap_until_agent_exits(agent, &signals);
    if kill_and_reap_the_rest() {
        let _ = std::fs::File::from(exit).write_all(&end.to_bytes());
    }
    // Exiting pid 1 makes the kernel kill whatever might be left of the namespace (only
    // possible when the sweep above gave up) before we are reaped.
    sys::exit_immediately(end.code())
}

/// How the agent ended, once it has.
fn reap_until_agent_exits(agent: Pid, signals: &SignalFd) -> AgentEnd {
    loop {
        let info = match signals.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(Errno::EINTR) => continue,
            Err(_) => sys::exit_immediately(super::SETUP_FAILED_CODE),
        };
        let signo = info.ssi_signo as i32;
        if signo == libc::SIGCHLD {
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(pid, code)) if pid == agent => {
                        return AgentEnd::Exited(code);
                    }
                    Ok(WaitStatus::Signaled(pid, sig, _)) if pid == agent => {
                        return AgentEnd::Signaled(sig as i32);
                    }
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        } else if info.ssi_pid == 0 {
            // Sent from outside our pid namespace (the launcher): pass it on to the agent's
            // process group. Signals the agent sends to pid 1 itself are not echoed back.
            if let Ok(sig) = Signal::try_from(signo) {
                let _ = kill(Pid::from_raw(-agent.as_raw()), sig);
            }
        }
    }
}

/// How the agent's process ended, as pid 1 saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AgentEnd {
    /// It exited with this code.
    Exited(i32),
    /// This signal ended it.
    Signaled(i32),
}

impl AgentEnd {
    /// Its length on the `exit` pipe.
    pub(super) const LEN: usize = 8;

    /// The code a shell would show: the exit code, or 128+N for signal N.
    pub(super) fn code(self) -> i32 {
        match self {
            AgentEnd::Exited(c) => c,
            AgentEnd::Signaled(s) => 128 + s,
        }
    }

    /// Eight bytes, native order: the kind (0 exited, 1 signaled), then the value. A pipe
    /// write this small is atomic, so the reader gets all of it or nothing.
    pub(super) fn to_bytes(self) -> [u8; Self::LEN] {
        let (kind, value) = match self {
            AgentEnd::Exited(c) => (0i32, c),
            AgentEnd::Signaled(s) => (1, s),
        };
        let mut b = [0u8; Self::LEN];
        b[..4].copy_from_slice(&kind.to_ne_bytes());
        b[4..].copy_from_slice(&value.to_ne_bytes());
        b
    }

    /// The inverse of [`AgentEnd::to_bytes`]; `None` for an unknown kind.
    pub(super) fn from_bytes(b: [u8; Self::LEN]) -> Option<Self> {
        let [k0, k1, k2, k3, v0, v1, v2, v3] = b;
        let value = i32::from_ne_bytes([v0, v1, v2, v3]);
        match i32::from_ne_bytes([k0, k1, k2, k3]) {
            0 => Some(AgentEnd::Exited(value)),
            1 => Some(AgentEnd::Signaled(value)),
            _ => None,
        }
    }
}

/// Kill every other process of the namespace (double-forked daemons included; orphans
/// are ours to reap) and reap them all. True when none is left; false if some could not
/// be made to go within the bound, in which case the exit of pid 1 must do it.
fn kill_and_reap_the_rest() -> bool {
    for _ in 0..1000 {
        // kill(-1) from a namespace's init reaches every process of the namespace but
        // itself; ESRCH means there is none.
        let none_signalled = kill(Pid::from_raw(-1), Signal::SIGKILL) == Err(Errno::ESRCH);
        match waitpid(None, None) {
            Err(Errno::ECHILD) if none_signalled => return true,
            // Alive but not yet ours: an orphan still being handed over by a dying
            // subreaper. Give it a moment.
            Err(Errno::ECHILD) => std::thread::yield_now(),
            Ok(_) | Err(_) => {}
        }
    }
    false
}

/// Set `PR_SET_PDEATHSIG` again after a change of ids, and end here if the caller is
/// already gone: its end of `exit` is then closed, which `poll` reports on ours as
/// `POLLERR` (pipe(7)), so no death can fall between the two checks unnoticed.
fn keep_dying_with_the_caller(exit: &OwnedFd) -> Step {
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| fail("prctl PR_SET_PDEATHSIG", e))?;
    let mut fds = [nix::poll::PollFd::new(
        exit.as_fd(),
        nix::poll::PollFlags::POLLOUT,
    )];
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).map_err(|e| fail("poll", e))?;
    let gone = fds[0].revents().is_some_and(|r| {
        r.intersects(nix::poll::PollFlags::POLLERR | nix::poll::PollFlags::POLLHUP)
    });
    if gone {
        sys::exit_immediately(super::SETUP_FAILED_CODE);
    }
    Ok(())
}

/// Wait until the caller has written the id maps (and set up the cgroup).
fn wait_for_go(go: OwnedFd) -> Step {
    // Die with the caller. Set before waiting, then the wait itself detects a caller that
    // died earlier (EOF instead of the go byte).
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| fail("prctl PR_SET_PDEATHSIG", e))?;
    let mut byte = [0u8; 1];
    match std::fs::File::from(go).read(&mut byte) {
        Ok(1) => Ok(()),
        _ => sys::exit_immediately(super::SETUP_FAILED_CODE),
    }
}

/// The new root, hostname, loopback: everything the agent waits for.
fn setup_root(plan: &SandboxPlan) -> Step {
    sethostname(HOSTNAME).map_err(|e| fail("sethostname", e))?;
    build_root(plan)?;
    if plan.network == crate::policy::NetworkMode::Loopback {
        sys::bring_loopback_up().map_err(|e| fail("bring up lo", e.errno))?;
    }
    Ok(())
}

fn mnt(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Step {
    mount(source, target, fstype, flags, data)
        .map_err(|e| fail(format!("mount {}", target.display()), e))
}

/// Inside path `p` under the new root.
fn under(root: &str, p: &Path) -> PathBuf {
    Path::new(root).join(p.strip_prefix("/").unwrap_or(p))
}

fn mkdir_p(p: &Path) -> Step {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(p)
        .map_err(|e| io_fail(format!("mkdir {}", p.display()), &e))
}

fn touch(p: &Path) -> Step {
    if let Some(parent) = p.parent() {
        mkdir_p(parent)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(p)
        .map(drop)
        .map_err(|e| io_fail(format!("create mount point {}", p.display()), &e))
}

/// Flags a bind mount inherits from its source and that a user namespace may not clear
/// (clearing them is `EPERM`: mount_namespaces(7), "locked" mount flags).
fn locked_flags(source: &Path) -> Step<MsFlags> {
    let st = statvfs(source).map_err(|e| fail(format!("statvfs {}", source.display()), e))?;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    Ok(out)
}

/// Bind `source` (a host path under the old root) at `target` and remount it with `flags`
/// plus whatever the source has locked.
fn bind(source: &Path, target: &Path, flags: MsFlags) -> Step {
    mnt(Some(source), target, None, MsFlags::MS_BIND, None)?;
    let keep = locked_flags(source)?;
    mnt(
        None,
        target,
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags | keep,
        None,
    )
}

/// A resolver failure as a setup failure.
fn resolve_fail(step: &str, e: &resolve::ResolveError) -> SetupFailure {
    let errno = match e {
        resolve::ResolveError::Io { errno, .. } | resolve::ResolveError::Missing { errno, .. } => {
            *errno as i32
        }
        _ => 0,
    };
    SetupFailure::new(step, format!("{step}: {e}"), errno)
}

/// A failed `open_tree` of a bind source. `EINVAL` there means the source has mounts below
/// it that this (user) namespace may not detach from it (open_tree(2): a non-recursive
/// clone of a mount with locked children): a sandbox cannot carry them.
fn open_tree_fail(source: &Path, target: &Path, e: &sys::SysError) -> SetupFailure {
    if e.errno == Errno::EINVAL {
        let step = format!("bind {}", target.display());
        return SetupFailure::new(
            &step,
            format!(
                "{step}: {} has mounts under it that a sandbox cannot carry (open_tree: EINVAL): grant those mounted directories separately, or grant a path with no mounts below it",
                source.display()
            ),
            libc::EINVAL,
        );
    }
    mount_api_fail(target, e)
}

/// A failed call of the new mount API; `ENOSYS` says which call this kernel lacks.
fn mount_api_fail(target: &Path, e: &sys::SysError) -> SetupFailure {
    let step = format!("bind {}", target.display());
    if e.errno == Errno::ENOSYS {
        return SetupFailure::new(
            &step,
            format!(
                "{step}: unsupported: this kernel lacks {} (the mount API of Linux 5.12+, which mycelium needs to mount exactly what it checked); use a newer kernel",
                e.call
            ),
            libc::ENOSYS,
        );
    }
    SetupFailure::new(&step, format!("{step}: {e}"), e.errno as i32)
}

/// The plan's binds, links and tmpfs mounts, in order. Each bind source is re-opened under
/// the old root with no link allowed and mounted only if it is still the object the plan
/// checked on the host; each mount point is opened beneath the new root without following
/// a link (a concurrent run may be changing a host directory bound above it), and the mount
/// is made on that descriptor.
fn mount_plan(mounts: &[MountSpec], root: &Path) -> Step {
    let dir = |p: &Path| {
        sys::mountfd::openat2(
            None,
            p,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            sys::mountfd::RESOLVE_NO_LINKS,
        )
        .map_err(|e| fail(format!("open {}", p.display()), e.errno))
    };
    let old = dir(Path::new(OLD_ROOT))?;
    let new = dir(root)?;
    for m in mounts {
        match m {
            MountSpec::Bind {
                source,
                target,
                writable,
                is_dir,
                id,
            } => {
                let step = format!("bind {}", target.display());
                let src = resolve::reopen_checked(old.as_fd(), source, *id, *is_dir)
                    .map_err(|e| resolve_fail(&step, &e))?;
                let dst = resolve::open_target(new.as_fd(), target, *is_dir)
                    .map_err(|e| resolve_fail(&step, &e))?;
                let tree = sys::mountfd::open_tree_clone(src.as_fd())
                    .map_err(|e| open_tree_fail(source, target, &e))?;
                // Flags are only added: whatever the source has locked stays.
                let mut attr = sys::mountfd::MOUNT_ATTR_NOSUID | sys::mountfd::MOUNT_ATTR_NODEV;
                if !writable {
                    attr |= sys::mountfd::MOUNT_ATTR_RDONLY;
                }
                sys::mountfd::mount_setattr(tree.as_fd(), attr)
                    .map_err(|e| mount_api_fail(target, &e))?;
                sys::mountfd::move_mount(tree.as_fd(), dst.as_fd())
                    .map_err(|e| mount_api_fail(target, &e))?;
            }
            MountSpec::Symlink { at, points_to } => {
                let step = format!("symlink {}", at.display());
                let (Some(parent), Some(name)) = (at.parent(), at.file_name()) else {
                    return Err(fail(step, Errno::EINVAL));
                };
                let parent = resolve::open_target(new.as_fd(), parent, true)
                    .map_err(|e| resolve_fail(&step, &e))?;
                nix::unistd::symlinkat(points_to.as_path(), parent.as_fd(), name)
                    .map_err(|e| fail(step, e))?;
            }
            MountSpec::Tmpfs { target, size } => {
                let step = format!("mount {}", target.display());
                let dst = resolve::open_target(new.as_fd(), target, true)
                    .map_err(|e| resolve_fail(&step, &e))?;
                // Mount on exactly the directory opened: "." after fchdir to it.
                nix::unistd::fchdir(&dst).map_err(|e| fail(step.clone(), e))?;
                let data = format!("mode=1777,size={size}");
                mnt(
                    Some(Path::new("tmpfs")),
                    Path::new("."),
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    Some(&data),
                )
                .map_err(|f| SetupFailure::new(&step, format!("{step}: {}", f.detail), f.errno))?;
            }
            MountSpec::Context { target, contents } => {
                mount_context(new.as_fd(), target, contents)?;
            }
        }
    }
    chdir("/").map_err(|e| fail("chdir /", e))?;
    Ok(())
}

/// The invocation's context: a tmpfs of its own at `target` (beneath the new root `new`,
/// reached without following a link), the file written into it, then the mount made
/// read-only, so neither the agent nor anything it runs can change the file or add to it.
fn mount_context(new: std::os::fd::BorrowedFd<'_>, target: &Path, contents: &str) -> Step {
    let step = format!("mount {}", target.display());
    let dst = resolve::open_target(new, target, true).map_err(|e| resolve_fail(&step, &e))?;
    let below = nix::sys::stat::fstat(&dst).map_err(|e| fail(step.clone(), e))?;
    // Mount on exactly the directory opened: "." after fchdir to it. Two inodes: the
    // directory and the file.
    nix::unistd::fchdir(&dst).map_err(|e| fail(step.clone(), e))?;
    let size = super::plan::context_tmpfs_size(contents.len());
    let data = format!("mode=0755,size={size},nr_inodes=2");
    mnt(
        Some(Path::new("tmpfs")),
        Path::new("."),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(&data),
    )
    .map_err(|f| SetupFailure::new(&step, format!("{step}: {}", f.detail), f.errno))?;
    // The working directory is still the covered directory; the new tmpfs is what the
    // path reaches now. Nothing else runs in the sandbox yet (the agent waits for `ready`),
    // so it is ours: check that it is a new file system all the same.
    let dir = resolve::open_target(new, target, true).map_err(|e| resolve_fail(&step, &e))?;
    let st = nix::sys::stat::fstat(&dir).map_err(|e| fail(step.clone(), e))?;
    if st.st_dev == below.st_dev {
        return Err(fail(step, Errno::EXDEV));
    }
    let write_step = format!("write {}/{}", target.display(), super::plan::CONTEXT_FILE);
    let file = sys::mountfd::openat2(
        Some(dir.as_fd()),
        Path::new(super::plan::CONTEXT_FILE),
        libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
        0o444,
        sys::mountfd::RESOLVE_STRICT_BENEATH,
    )
    .map_err(|e| fail(write_step.clone(), e.errno))?;
    // The mode given to open is cut by the umask; set it whole.
    nix::sys::stat::fchmod(&file, nix::sys::stat::Mode::from_bits_truncate(0o444))
        .map_err(|e| fail(write_step.clone(), e))?;
    std::fs::File::from(file)
        .write_all(contents.as_bytes())
        .map_err(|e| io_fail(write_step, &e))?;
    // Read-only from here on, for everyone in this namespace: flags are only added.
    sys::mountfd::mount_setattr(
        dir.as_fd(),
        sys::mountfd::MOUNT_ATTR_RDONLY
            | sys::mountfd::MOUNT_ATTR_NOSUID
            | sys::mountfd::MOUNT_ATTR_NODEV
            | sys::mountfd::MOUNT_ATTR_NOEXEC,
    )
    .map_err(|e| fail(format!("mount_setattr {}", target.display()), e.errno))?;
    Ok(())
}

fn build_root(plan: &SandboxPlan) -> Step {
    // Nothing we mount may propagate back to the host's mount namespace.
    mnt(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;

    // A scratch root on top of /tmp: pivoting into it leaves the host's root reachable at
    // /oldroot (with the host's /tmp uncovered), so every bind below reads host paths
    // from one place without the new root hiding any of them.
    let scratch = Path::new("/tmp");
    mnt(
        Some(Path::new("tmpfs")),
        scratch,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0700,size=1m"),
    )?;
    chdir(scratch).map_err(|e| fail("chdir scratch", e))?;
    mkdir_p(&scratch.join("oldroot"))?;
    pivot_root(".", "oldroot").map_err(|e| fail("pivot_root scratch", e))?;
    chdir("/").map_err(|e| fail("chdir /", e))?;

    let root = Path::new(NEW_ROOT);
    mkdir_p(root)?;
    mnt(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=1m"),
    )?;

    mount_plan(&plan.mounts, root)?;

    // A fresh /proc for the new pid namespace: it shows only the sandbox's processes.
    let proc_dir = under(NEW_ROOT, Path::new("/proc"));
    mkdir_p(&proc_dir)?;
    mnt(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;
    // Kernel knobs stay read-only even where the kernel would let namespace root write.
    for sub in ["sys", "sysrq-trigger", "irq", "bus"] {
        let p = proc_dir.join(sub);
        if p.exists() {
            mnt(Some(&p), &p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            mnt(
                None,
                &p,
                None,
                MsFlags::MS_REMOUNT
                    | MsFlags::MS_BIND
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_NOEXEC,
                None,
            )?;
        }
    }
    super::procmask::mask(&proc_dir, &Path::new(OLD_ROOT).join("dev/null"))?;

    // A minimal /dev: five harmless character devices and the fd links.
    let dev = under(NEW_ROOT, Path::new("/dev"));
    mkdir_p(&dev)?;
    mnt(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )?;
    for name in DEVICES {
        let node = dev.join(name);
        touch(&node)?;
        // No MS_NODEV here: these mounts exist to be opened as devices.
        bind(
            &Path::new(OLD_ROOT).join("dev").join(name),
            &node,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        )?;
    }
    if plan.controlling_terminal {
        bind_own_terminal(&dev)?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(to, dev.join(link))
            .map_err(|e| io_fail(format!("symlink /dev/{link}"), &e))?;
    }

    // Let go of the host's root: from here on nothing outside the new root is reachable.
    umount2(OLD_ROOT, MntFlags::MNT_DETACH).map_err(|e| fail("umount old root", e))?;
    // The new root's own directory tree (mount points) is read-only: the agent cannot add
    // files at /, only in what the policy made writable and in its tmpfs mounts.
    mnt(
        None,
        root,
        None,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None,
    )?;
    chdir(root).map_err(|e| fail("chdir new root", e))?;
    pivot_root(".", ".").map_err(|e| fail("pivot_root", e))?;
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
    // only the new root (pivot_root(2), NOTES).
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| fail("umount scratch root", e))?;
    chdir("/").map_err(|e| fail("chdir /", e))?;
    Ok(())
}

/// The agent's process: its own steps, then (once pid 1 says the root is ready) the steps
/// that need the new root, then exec. Returns only on failure.
fn start_agent(plan: &SandboxPlan, ready: OwnedFd) -> SetupFailure {
    if let Err(f) = prepare_agent(plan) {
        return f;
    }
    let mut byte = [0u8; 1];
    if !matches!(std::fs::File::from(ready).read(&mut byte), Ok(1)) {
        // pid 1 failed to build the root and has said why; there is nothing to add.
        sys::exit_immediately(super::SETUP_FAILED_CODE);
    }
    match confine_agent(plan) {
        Ok(()) => exec_command(plan),
        Err(f) => f,
    }
}

/// The agent's steps that do not depend on the new root.
fn prepare_agent(plan: &SandboxPlan) -> Step {
    // A new session: no controlling terminal, and its own process group for signals.
    setsid().map_err(|e| fail("setsid", e))?;
    if plan.controlling_terminal {
        set_own_terminal()?;
    }
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| fail("prctl PR_SET_PDEATHSIG", e))?;
    for l in &plan.rlimits {
        let res = match l.name {
            RlimitKind::RlimitAs => Resource::RLIMIT_AS,
            RlimitKind::RlimitNproc => Resource::RLIMIT_NPROC,
            RlimitKind::RlimitNofile => Resource::RLIMIT_NOFILE,
            RlimitKind::RlimitFsize => Resource::RLIMIT_FSIZE,
            RlimitKind::RlimitCpu => Resource::RLIMIT_CPU,
            RlimitKind::RlimitCore => Resource::RLIMIT_CORE,
        };
        setrlimit(res, l.value, l.value).map_err(|e| fail(format!("setrlimit {:?}", l.name), e))?;
    }
    // Every capability of the sandbox's user namespace goes, bounding set included, so not
    // even uid 0 inside regains any at exec. (Only one id is mapped, so none of them could
    // have overridden a permission check on a file anyway.)
    sys::drop_all_capabilities().map_err(|e| fail("drop capabilities", e.errno))?;
    // No privilege can be gained by exec from here on (setuid bits, file capabilities).
    prctl::set_no_new_privs().map_err(|e| fail("prctl PR_SET_NO_NEW_PRIVS", e))?;
    // The caller's runtime ignores SIGPIPE (and the caller may have inherited other
    // ignored signals); the agent gets the defaults a freshly started program expects.
    sys::reset_signal_dispositions().map_err(|e| fail("reset signal dispositions", e.errno))?;
    Ok(())
}

/// The sandbox's own terminal (on pid 1's standard streams, as on the agent's) at its name
/// under `/dev/pts`, so that `tty` and `ttyname` find it, and `/dev/tty`, which opens the
/// opener's controlling terminal: inside, never any terminal but that one. Neither the
/// caller's terminal nor the host's other ptys get a name inside.
fn bind_own_terminal(dev: &Path) -> Step {
    let Some(fd) = (0..3).find(|i| nix::unistd::isatty(sys::standard_stream(*i)).unwrap_or(false))
    else {
        return Ok(());
    };
    // Its name, from the host's /proc as pid 1 sees it. A bind must come from a mount of
    // this namespace (not through the descriptor), so the host's /dev/pts entry of that
    // name is bound, and only when it is the very same terminal (same devpts instance and
    // device number): a pty of another devpts instance is never swapped for a host one.
    let link = Path::new(OLD_ROOT).join(format!("proc/self/fd/{fd}"));
    let target = std::fs::read_link(&link)
        .map_err(|e| io_fail(format!("readlink {}", link.display()), &e))?;
    let ours = nix::sys::stat::fstat(sys::standard_stream(fd)).map_err(|e| fail("fstat", e))?;
    let name = target
        .file_name()
        .filter(|n| !n.is_empty() && n.as_encoded_bytes().iter().all(u8::is_ascii_digit));
    if let Some(name) = name {
        let source = Path::new(OLD_ROOT).join("dev/pts").join(name);
        let same = nix::sys::stat::stat(&source)
            .is_ok_and(|st| (st.st_dev, st.st_rdev) == (ours.st_dev, ours.st_rdev));
        if same {
            let node = dev.join("pts").join(name);
            touch(&node)?;
            bind(&source, &node, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC)?;
        }
    }
    let tty = Path::new(OLD_ROOT).join("dev/tty");
    if tty.exists() {
        let node = dev.join("tty");
        touch(&node)?;
        bind(&tty, &node, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC)?;
    }
    Ok(())
}

/// Make the sandbox's own terminal (the first standard stream that is one: the caller put
/// it there, see `pty.rs`) the agent's controlling terminal, so that `^C` typed into it
/// signals the agent and job control works inside.
fn set_own_terminal() -> Step {
    match (0..3)
        .map(sys::standard_stream)
        .find(|fd| nix::unistd::isatty(fd).unwrap_or(false))
    {
        Some(fd) => sys::set_controlling_terminal(fd).map_err(|e| fail("TIOCSCTTY", e.errno)),
        None => Ok(()),
    }
}

/// The agent's steps on the new root, the seccomp filter last.
fn confine_agent(plan: &SandboxPlan) -> Step {
    chdir(&plan.cwd).map_err(|e| fail(format!("chdir {}", plan.cwd.display()), e))?;
    // Landlock after the new root exists (its rules name paths as seen inside): even a
    // wrong bind mount would still be refused by the kernel's own access checks.
    landlock::apply(&plan.landlock).map_err(|e| message_fail("landlock", &e))?;
    // Signals were blocked so pid 1 could take them through a signalfd; the agent starts
    // with none blocked.
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|e| fail("sigprocmask", e))?;
    // seccomp last: every step above may use calls the filter denies.
    seccomp::install(&plan.seccomp).map_err(|e| message_fail("seccomp", &e))?;
    Ok(())
}

/// `execve` the command, searching the agent's `PATH` for a bare name.
fn exec_command(plan: &SandboxPlan) -> SetupFailure {
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| SetupFailure {
            step: "execve".into(),
            errno: libc::EINVAL,
            detail: format!("{s:?} contains a NUL byte"),
        })
    };
    let argv: Result<Vec<CString>, _> = plan.argv.iter().map(|a| cstr(a)).collect();
    let envp: Result<Vec<CString>, _> = plan
        .env
        .iter()
        .map(|(k, v)| cstr(&format!("{k}={v}")))
        .collect();
    let (argv, envp) = match (argv, envp) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(f), _) | (_, Err(f)) => return f,
    };
    let program = &plan.argv[0];
    if let Some(fd) = plan.exec_fd {
        // The pinned program: run the open file that was hashed, not whatever the path
        // names now.
        let file = match sys::adopt_inherited_fd(fd) {
            Ok(f) => f,
            Err(e) => return fail("execveat", e.errno),
        };
        let Err(e) =
            nix::unistd::execveat(&file, c"", &argv, &envp, nix::fcntl::AtFlags::AT_EMPTY_PATH);
        return SetupFailure {
            step: "execve".into(),
            errno: e as i32,
            detail: format!("{program} (pinned, from descriptor {fd}): {}", e.desc()),
        };
    }
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![PathBuf::from(program)]
    } else {
        let path = plan
            .env
            .get("PATH")
            .map_or(super::env::SAFE_PATH, String::as_str);
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(program))
            .collect()
    };
    let mut last = Errno::ENOENT;
    for c in &candidates {
        let Ok(cpath) = CString::new(c.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        let Err(e) = execve(&cpath, &argv, &envp);
        // Like execvp: keep looking past a missing or unreadable candidate, but remember
        // that one existed and could not be run.
        if e != Errno::ENOENT && e != Errno::ENOTDIR {
            last = e;
            if e != Errno::EACCES {
                break;
            }
        }
    }
    SetupFailure {
        step: "execve".into(),
        errno: last as i32,
        detail: format!("{program}: {}", last.desc()),
    }
}

//! System calls issued by the confinement tests to see whether a filter lets them through.
//!
//! Each [`Probe`] is one call with fixed, harmless arguments: integers, `-1` file
//! descriptors, and NULL pointers only where the kernel fails cleanly (`EFAULT`) or accepts
//! NULL. A probe never hands the kernel memory it could write to, except [`ioctl_probe`],
//! whose buffer is large enough for any request it is used with.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// One system call with fixed arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// `ptrace(PTRACE_TRACEME)`: become traced by the parent (harmless in a forked child).
    PtraceTraceme,
    /// `process_vm_readv(getpid(), NULL, 0, NULL, 0, 0)`: a zero-length read of ourselves.
    ProcessVmReadvSelf,
    /// `process_vm_writev(getpid(), NULL, 0, NULL, 0, 0)`.
    ProcessVmWritevSelf,
    /// `kcmp(getpid(), getpid(), KCMP_VM, 0, 0)`.
    KcmpSelf,
    /// `keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)`.
    KeyctlSessionId,
    /// `add_key(NULL, NULL, NULL, 0, 0)`: `EFAULT` if it reaches the kernel.
    AddKeyNull,
    /// `request_key(NULL, NULL, NULL, 0)`: `EFAULT` if it reaches the kernel.
    RequestKeyNull,
    /// `bpf(BPF_MAP_CREATE, NULL, 0)`.
    BpfNull,
    /// `perf_event_open(NULL, 0, -1, -1, 0)`: `EFAULT` if it reaches the kernel.
    PerfEventOpenNull,
    /// `userfaultfd(UFFD_USER_MODE_ONLY)`: the descriptor leaks into the exiting child.
    UserfaultfdUserMode,
    /// `io_uring_setup(0, NULL)`.
    IoUringSetupNull,
    /// `io_uring_enter(-1, 0, 0, 0, NULL, 0)`.
    IoUringEnterBadFd,
    /// `io_uring_register(-1, 0, NULL, 0)`.
    IoUringRegisterBadFd,
    /// `kexec_file_load(-1, -1, 0, NULL, 0)`.
    KexecFileLoadBadFd,
    /// `init_module(NULL, 0, NULL)`.
    InitModuleNull,
    /// `finit_module(-1, NULL, 0)`.
    FinitModuleBadFd,
    /// `delete_module(NULL, 0)`.
    DeleteModuleNull,
    /// `mount(NULL, NULL, NULL, 0, NULL)`.
    MountNull,
    /// `umount2(NULL, 0)`.
    Umount2Null,
    /// `pivot_root(NULL, NULL)`.
    PivotRootNull,
    /// `chroot(NULL)`: `EFAULT` if it reaches the kernel.
    ChrootNull,
    /// `move_mount(-1, NULL, -1, NULL, 0)`.
    MoveMountBadFd,
    /// `open_tree(-1, NULL, 0)`.
    OpenTreeNull,
    /// `fsopen(NULL, 0)`.
    FsopenNull,
    /// `fsconfig(-1, 0, NULL, NULL, 0)`.
    FsconfigBadFd,
    /// `fsmount(-1, 0, 0)`.
    FsmountBadFd,
    /// `fspick(-1, NULL, 0)`.
    FspickNull,
    /// `mount_setattr(-1, NULL, 0, NULL, 0)`.
    MountSetattrNull,
    /// `setns(-1, 0)`: `EBADF` if it reaches the kernel.
    SetnsBadFd,
    /// `unshare(CLONE_NEWUSER)`: succeeds for an unprivileged process where user namespaces
    /// are enabled.
    UnshareUser,
    /// `reboot(0, 0, 0, NULL)`: bad magic numbers, `EINVAL` for a privileged caller.
    RebootBadMagic,
    /// `swapon(NULL, 0)`.
    SwaponNull,
    /// `swapoff(NULL)`.
    SwapoffNull,
    /// `acct(NULL)`: turns process accounting off when privileged.
    AcctNull,
    /// `quotactl(0, NULL, 0, NULL)`.
    QuotactlNull,
    /// `open_by_handle_at(-1, NULL, 0)`.
    OpenByHandleAtNull,
    /// `name_to_handle_at(AT_FDCWD, NULL, NULL, NULL, 0)`: `EFAULT` if it reaches the kernel.
    NameToHandleAtNull,
    /// `pidfd_getfd(-1, 0, 0)`: `EBADF` if it reaches the kernel.
    PidfdGetfdBadFd,
    /// `personality(ADDR_NO_RANDOMIZE)`: switch address-space randomisation off.
    PersonalityNoRandomize,
    /// `personality(0xffffffff)`: query the current persona.
    PersonalityQuery,
    /// `clone3(NULL, 0)`: `EINVAL` if it reaches the kernel.
    Clone3Null,
    /// Call number 999, which no kernel assigns yet (stands for a future call).
    Unassigned,
    /// `getpid` through the x32 ABI (`__X32_SYSCALL_BIT` set).
    #[cfg(target_arch = "x86_64")]
    X32Getpid,
}

impl Probe {
    /// The call's number and six arguments.
    fn call(self) -> (libc::c_long, [libc::c_long; 6]) {
        let me = libc::c_long::from(nix::unistd::getpid().as_raw());
        let null = 0;
        let bad_fd = -1;
        match self {
            Probe::PtraceTraceme => (
                libc::SYS_ptrace,
                [libc::PTRACE_TRACEME.into(), 0, 0, 0, 0, 0],
            ),
            Probe::ProcessVmReadvSelf => (libc::SYS_process_vm_readv, [me, null, 0, null, 0, 0]),
            Probe::ProcessVmWritevSelf => (libc::SYS_process_vm_writev, [me, null, 0, null, 0, 0]),
            Probe::KcmpSelf => (libc::SYS_kcmp, [me, me, 1, 0, 0, 0]),
            Probe::KeyctlSessionId => (libc::SYS_keyctl, [0, -3, 0, 0, 0, 0]),
            Probe::AddKeyNull => (libc::SYS_add_key, [null, null, null, 0, 0, 0]),
            Probe::RequestKeyNull => (libc::SYS_request_key, [null, null, null, 0, 0, 0]),
            Probe::BpfNull => (libc::SYS_bpf, [0, null, 0, 0, 0, 0]),
            Probe::PerfEventOpenNull => (libc::SYS_perf_event_open, [null, 0, -1, -1, 0, 0]),
            Probe::UserfaultfdUserMode => (libc::SYS_userfaultfd, [1, 0, 0, 0, 0, 0]),
            Probe::IoUringSetupNull => (libc::SYS_io_uring_setup, [0, null, 0, 0, 0, 0]),
            Probe::IoUringEnterBadFd => (libc::SYS_io_uring_enter, [bad_fd, 0, 0, 0, null, 0]),
            Probe::IoUringRegisterBadFd => {
                (libc::SYS_io_uring_register, [bad_fd, 0, null, 0, 0, 0])
            }
            Probe::KexecFileLoadBadFd => {
                (libc::SYS_kexec_file_load, [bad_fd, bad_fd, 0, null, 0, 0])
            }
            Probe::InitModuleNull => (libc::SYS_init_module, [null, 0, null, 0, 0, 0]),
            Probe::FinitModuleBadFd => (libc::SYS_finit_module, [bad_fd, null, 0, 0, 0, 0]),
            Probe::DeleteModuleNull => (libc::SYS_delete_module, [null, 0, 0, 0, 0, 0]),
            Probe::MountNull => (libc::SYS_mount, [null, null, null, 0, null, 0]),
            Probe::Umount2Null => (libc::SYS_umount2, [null, 0, 0, 0, 0, 0]),
            Probe::PivotRootNull => (libc::SYS_pivot_root, [null, null, 0, 0, 0, 0]),
            Probe::ChrootNull => (libc::SYS_chroot, [null, 0, 0, 0, 0, 0]),
            Probe::MoveMountBadFd => (libc::SYS_move_mount, [bad_fd, null, bad_fd, null, 0, 0]),
            Probe::OpenTreeNull => (libc::SYS_open_tree, [bad_fd, null, 0, 0, 0, 0]),
            Probe::FsopenNull => (libc::SYS_fsopen, [null, 0, 0, 0, 0, 0]),
            Probe::FsconfigBadFd => (libc::SYS_fsconfig, [bad_fd, 0, null, null, 0, 0]),
            Probe::FsmountBadFd => (libc::SYS_fsmount, [bad_fd, 0, 0, 0, 0, 0]),
            Probe::FspickNull => (libc::SYS_fspick, [bad_fd, null, 0, 0, 0, 0]),
            Probe::MountSetattrNull => (libc::SYS_mount_setattr, [bad_fd, null, 0, null, 0, 0]),
            Probe::SetnsBadFd => (libc::SYS_setns, [bad_fd, 0, 0, 0, 0, 0]),
            Probe::UnshareUser => (
                libc::SYS_unshare,
                [libc::CLONE_NEWUSER.into(), 0, 0, 0, 0, 0],
            ),
            Probe::RebootBadMagic => (libc::SYS_reboot, [0, 0, 0, null, 0, 0]),
            Probe::SwaponNull => (libc::SYS_swapon, [null, 0, 0, 0, 0, 0]),
            Probe::SwapoffNull => (libc::SYS_swapoff, [null, 0, 0, 0, 0, 0]),
            Probe::AcctNull => (libc::SYS_acct, [null, 0, 0, 0, 0, 0]),
            Probe::QuotactlNull => (libc::SYS_quotactl, [0, null, 0, null, 0, 0]),
            Probe::OpenByHandleAtNull => (libc::SYS_open_by_handle_at, [bad_fd, null, 0, 0, 0, 0]),
            Probe::NameToHandleAtNull => (
                libc::SYS_name_to_handle_at,
                [libc::AT_FDCWD.into(), null, null, null, 0, 0],
            ),
            Probe::PidfdGetfdBadFd => (libc::SYS_pidfd_getfd, [bad_fd, 0, 0, 0, 0, 0]),
            Probe::PersonalityNoRandomize => (libc::SYS_personality, [0x0004_0000, 0, 0, 0, 0, 0]),
            Probe::PersonalityQuery => (libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]),
            Probe::Clone3Null => (libc::SYS_clone3, [null, 0, 0, 0, 0, 0]),
            Probe::Unassigned => (999, [0; 6]),
            #[cfg(target_arch = "x86_64")]
            Probe::X32Getpid => (libc::SYS_getpid | 0x4000_0000, [0; 6]),
        }
    }

    /// Issue the call; `Ok` carries its non-negative return value.
    pub(crate) fn run(self) -> Result<i64, Errno> {
        let (nr, a) = self.call();
        // SAFETY: `Probe::call` only yields the fixed argument lists documented on each
        // variant: integers, -1 descriptors and NULL pointers, none of which lets the kernel
        // write into or read from memory of this process.
        let ret = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
        if ret < 0 { Err(Errno::last()) } else { Ok(ret) }
    }
}

/// `clone(flags | SIGCHLD)` like `fork`: the child `_exit(0)`s at once, the parent reaps it.
///
/// # Errors
/// The kernel's (or a filter's) answer to `clone`, or to `waitpid`.
pub(crate) fn clone_probe(flags: nix::sched::CloneFlags) -> Result<(), Errno> {
    let flags = libc::c_long::from(flags.bits()) | libc::c_long::from(libc::SIGCHLD);
    // SAFETY: without CLONE_VM the child gets a copy of our address space, like fork(); its
    // stack pointer argument is 0 (keep the current one) and it only calls `_exit` below.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    match ret {
        r if r < 0 => Err(Errno::last()),
        0 => super::fork::exit_immediately(0),
        pid => {
            let pid = i32::try_from(pid).map_err(|_| Errno::EOVERFLOW)?;
            waitpid(Pid::from_raw(pid), None).map(|_| ())
        }
    }
}

/// `ioctl(fd, request, buf)` with a zeroed 256-byte buffer as the argument.
///
/// # Errors
/// The kernel's (or a filter's) answer.
pub(crate) fn ioctl_probe(fd: BorrowedFd<'_>, request: u64) -> Result<i64, Errno> {
    let mut buf = [0u8; 256];
    // SAFETY: `fd` is borrowed and open for the whole call; `buf` is a live, writable
    // 256-byte buffer, larger than what the terminal requests used by the tests (TIOCSTI
    // reads one byte, TIOCLINUX one, TCGETS writes a 60-byte termios) read or write.
    let ret = unsafe { libc::syscall(libc::SYS_ioctl, fd.as_raw_fd(), request, buf.as_mut_ptr()) };
    if ret < 0 { Err(Errno::last()) } else { Ok(ret) }
}

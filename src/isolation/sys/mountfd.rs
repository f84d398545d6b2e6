//! Path resolution and mounting by descriptor: `openat2` with `RESOLVE_*` restrictions, and
//! the new mount API (`open_tree`, `mount_setattr`, `move_mount`), so that what was checked
//! is what gets mounted.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;

use super::{SysError, syscall_number};

/// `RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: no link of any kind is followed, the last
/// component included.
pub const RESOLVE_NO_LINKS: u64 = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
/// [`RESOLVE_NO_LINKS`] plus `RESOLVE_BENEATH`: the walk may not leave the starting directory.
pub const RESOLVE_STRICT_BENEATH: u64 = RESOLVE_NO_LINKS | libc::RESOLVE_BENEATH;

/// `OPEN_TREE_CLONE` (linux/mount.h): a detached copy of the mount.
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `MOVE_MOUNT_F_EMPTY_PATH`: the source is the descriptor itself.
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
/// `MOVE_MOUNT_T_EMPTY_PATH`: the target is the descriptor itself.
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
/// `MOUNT_ATTR_RDONLY`.
pub const MOUNT_ATTR_RDONLY: u64 = 0x01;
/// `MOUNT_ATTR_NOSUID`.
pub const MOUNT_ATTR_NOSUID: u64 = 0x02;
/// `MOUNT_ATTR_NODEV`.
pub const MOUNT_ATTR_NODEV: u64 = 0x04;
/// `MOUNT_ATTR_NOEXEC`.
pub const MOUNT_ATTR_NOEXEC: u64 = 0x08;

/// `struct open_how` (linux/openat2.h; the `libc` one cannot be built outside it).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `struct mount_attr` (linux/mount.h, `MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cpath(call: &'static str, path: &Path) -> Result<CString, SysError> {
    CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| SysError {
        call,
        arg: path.display().to_string(),
        errno: Errno::EINVAL,
    })
}

/// `openat2(dir, path, {flags | O_CLOEXEC, mode, resolve})`; `dir` `None` is the current
/// directory. Returns the new descriptor.
///
/// # Errors
/// The kernel's answer: `ELOOP` for a link `resolve` forbids, `EXDEV` for an escape from
/// beneath `dir`, `ENOSYS` before Linux 5.6.
pub fn openat2(
    dir: Option<BorrowedFd<'_>>,
    path: &Path,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, SysError> {
    let c = cpath("openat2", path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve,
    };
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: `c` is a NUL-terminated string and `how` a properly initialised open_how that
    // both outlive the call; the size passed is that of the struct. The kernel only reads
    // them, and returns a new descriptor that nothing else owns.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    let fd: i32 = syscall_number("openat2", ret).map_err(|e| SysError {
        arg: path.display().to_string(),
        ..e
    })?;
    // SAFETY: a successful openat2 returns a fresh descriptor owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH)`: a detached
/// copy of the mount at exactly the object `fd` refers to (not recursive).
///
/// # Errors
/// The kernel's answer (`ENOSYS` before Linux 5.2; `EINVAL` when `fd` lies in another mount
/// namespace or has locked mounts below it).
pub fn open_tree_clone(fd: BorrowedFd<'_>) -> Result<OwnedFd, SysError> {
    let flags =
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as libc::c_uint;
    // SAFETY: an empty NUL-terminated path and integer arguments; the kernel reads the
    // path only and returns a new descriptor nothing else owns.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
    let new: i32 = syscall_number("open_tree", ret)?;
    // SAFETY: a successful open_tree returns a fresh descriptor owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH, {attr_set: set})`: add mount flags (never clears
/// any, so flags the mount has locked stay).
///
/// # Errors
/// The kernel's answer (`ENOSYS` before Linux 5.12).
pub fn mount_setattr(fd: BorrowedFd<'_>, set: u64) -> Result<(), SysError> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: an empty NUL-terminated path and an initialised mount_attr of the size
    // passed, both alive for the call; the kernel only reads them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    syscall_number::<i64>("mount_setattr", ret).map(drop)
}

/// `move_mount(from, "", to, "", F_EMPTY_PATH | T_EMPTY_PATH)`: attach the detached mount
/// `from` on exactly the object `to` refers to.
///
/// # Errors
/// The kernel's answer (`ENOSYS` before Linux 5.2).
pub fn move_mount(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), SysError> {
    // SAFETY: two empty NUL-terminated paths and integer arguments; the kernel only reads
    // the paths.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    syscall_number::<i64>("move_mount", ret).map(drop)
}

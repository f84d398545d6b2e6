//! Bringing up `lo` in a fresh network namespace.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

use super::SysError;

/// Set `IFF_UP` on the loopback interface of the current network namespace.
///
/// # Errors
/// The kernel's answer for the socket or either `ioctl`.
pub fn bring_loopback_up() -> Result<(), SysError> {
    let sock: OwnedFd = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|errno| SysError {
        call: "socket",
        arg: "AF_INET".into(),
        errno,
    })?;
    // SAFETY: ifreq is a plain C struct for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the NUL-terminated name and writes ifru_flags inside `req`,
    // which lives on our stack for the whole call; `sock` is an open socket we own.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
    if ret < 0 {
        return Err(SysError::last("ioctl", "SIOCGIFFLAGS lo"));
    }
    // SAFETY: the kernel just filled ifru_flags, the union member SIOCGIFFLAGS writes.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: as above; SIOCSIFFLAGS reads the name and ifru_flags from `req`.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) };
    if ret < 0 {
        return Err(SysError::last("ioctl", "SIOCSIFFLAGS lo"));
    }
    Ok(())
}

//! Wiping the command line and environment a process inherited from its parent.

use std::ffi::CStr;

unsafe extern "C" {
    /// glibc's and musl's `char **environ`.
    static mut environ: *mut *mut libc::c_char;
}

/// Where the kernel put a process's argument and environment strings at `execve`:
/// `[start, end)` of each (`arg_start`…`env_end` of `/proc/PID/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringAreas {
    /// The argument strings.
    pub args: (usize, usize),
    /// The environment strings.
    pub env: (usize, usize),
}

/// Overwrite the command line and every `NAME=value` string of this process's environment
/// with zeros, leave the environment empty, and make the command line read `title`.
/// `areas` must be this process's own, read before it (or the process it was cloned
/// from, whose address space it copies) could change them; without them only the
/// `environ` strings are cleared.
///
/// For a child cloned from a caller whose arguments and variables must not be kept: they
/// live in the area the kernel set up at `execve` (which `/proc/PID/cmdline` and
/// `/proc/PID/environ` show) or, for variables set later, on the heap; both are cleared.
/// The process must be single-threaded and must not read its arguments or environment
/// afterwards.
pub fn wipe_arguments_and_environment(title: &CStr, areas: Option<StringAreas>) {
    // What the blocks below rely on: the process is single-threaded (the contract above),
    // so nothing reads or changes `environ` concurrently; it is null or points to an array
    // of string pointers ended by a null pointer, each string NUL-terminated, owned by the
    // process and writable (on the stack where execve put it, or on the heap where setenv
    // did).
    // SAFETY: reading the pointer's value; no reference to the static is made.
    let first = unsafe { environ };
    if !first.is_null() {
        let mut entry = first;
        loop {
            // SAFETY: `entry` lies within the array (see above): it was advanced only past
            // non-null entries.
            let s = unsafe { *entry };
            if s.is_null() {
                break;
            }
            // SAFETY: `s` is a valid NUL-terminated string (see above).
            let len = unsafe { libc::strlen(s) };
            // SAFETY: the `len` bytes before its terminator belong to the string and are
            // writable; nothing holds a Rust reference into them.
            unsafe { std::ptr::write_bytes(s, 0, len) };
            // SAFETY: `entry` was not the terminating entry, so the next one is in bounds.
            entry = unsafe { entry.add(1) };
        }
        // SAFETY: `first` points to the array's first slot, which is ours to write; a null
        // there leaves any later reader (none is expected) a valid, empty environment.
        unsafe { *first = std::ptr::null_mut() };
    }
    let Some(StringAreas {
        args: (a0, a1),
        env: (e0, e1),
    }) = areas.filter(|a| a.args.0 < a.args.1 && a.env.0 <= a.env.1)
    else {
        return;
    };
    // SAFETY: the kernel reports these two ranges as this process's argument and
    // environment strings, which it copied onto the top of the main stack at execve: they
    // are mapped, writable and ours. Nothing holds a Rust reference into them (std keeps
    // raw argv pointers, which will read empty strings, and environ was emptied above).
    unsafe { std::ptr::write_bytes(a0 as *mut u8, 0, a1 - a0) };
    // SAFETY: as above.
    unsafe { std::ptr::write_bytes(e0 as *mut u8, 0, e1 - e0) };
    let t = title.to_bytes();
    if t.len() < a1 - a0 {
        // SAFETY: as above; the title and its (already zero) terminator fit in the range.
        unsafe { std::ptr::copy_nonoverlapping(t.as_ptr(), a0 as *mut u8, t.len()) };
    }
}

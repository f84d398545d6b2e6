//! Resolving granted paths without following a link an agent could have planted.
//!
//! The rules (docs/threat-model.md, "Links, FIFOs and aliases"):
//! - under the workspace no symbolic link is ever followed: the path is walked one component
//!   at a time from the workspace's own descriptor, and a link found is an error naming it;
//! - elsewhere a link is followed only when only root could have placed it: the link is
//!   owned by root, sits in a root-owned directory that group and others cannot write, and
//!   lies inside no directory this run makes writable, compared by identity (`/bin ->
//!   usr/bin`, `/etc/alternatives/*`);
//! - the workspace's own path ([`Workspace::open`]) and the files mycelium reads
//!   ([`open_file`]: policy, definition, pinned files) are walked by the same rule;
//! - the object granted must be a directory or a regular file (a FIFO, socket or device
//!   there is refused; everything is opened `O_PATH`, so nothing found is ever opened for
//!   reading), and a file granted from a workspace (or from under a writable grant) must
//!   have a single hard link.
//!
//! What comes out is a descriptor, the physical path (every link replaced by what it points
//! to), the object's identity `(st_dev, st_ino)` and the identities of every directory above
//! it: pid 1 re-opens the path with no link allowed at all and mounts only if the identity
//! still matches ([`reopen_checked`]), and the protected-path check compares identities,
//! so a bind-mounted alias, a hard link or `..` cannot hide mycelium's own state.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{FileStat, Mode, fstat, fstatat, mkdirat};
use serde::{Deserialize, Serialize};

use super::sys::mountfd::{RESOLVE_STRICT_BENEATH, openat2};

/// Most links followed in one path, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// Which object a path named when it was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl Identity {
    fn of(st: &FileStat) -> Identity {
        Identity {
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }
}

/// Why a path could not be resolved safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A link inside the workspace.
    #[error(
        "{} is a symbolic link inside the workspace; mycelium never follows a link there \
         (an agent may have planted it): remove it, or put a real directory or file in its place",
        link.display()
    )]
    LinkInWorkspace {
        /// The link.
        link: PathBuf,
    },
    /// A link that someone other than root could have placed.
    #[error(
        "{} is a symbolic link (to {}) that someone other than root could have placed, so \
         mycelium does not follow it: grant the link's target instead",
        link.display(),
        target.display()
    )]
    UntrustedLink {
        /// The link.
        link: PathBuf,
        /// What it points to.
        target: PathBuf,
    },
    /// A link on the workspace's own path that someone other than root could have placed.
    #[error(
        "{} is a symbolic link (to {}) on the workspace's path that someone other than root \
         could have placed (another user, or an earlier agent), so mycelium does not follow \
         it: pass the workspace's physical path (the real directory) instead",
        link.display(),
        target.display()
    )]
    UntrustedWorkspaceLink {
        /// The link.
        link: PathBuf,
        /// What it points to.
        target: PathBuf,
    },
    /// A link on the path of a file mycelium reads that someone other than root could have
    /// placed.
    #[error(
        "{} is a symbolic link (to {}) that someone other than root could have placed, so \
         mycelium does not read through it: name the file itself (its real path)",
        link.display(),
        target.display()
    )]
    UntrustedFileLink {
        /// The link.
        link: PathBuf,
        /// What it points to.
        target: PathBuf,
    },
    /// A file mycelium reads is not a regular file.
    #[error(
        "{} is a {kind}, not a regular file; mycelium reads only regular files here (it never \
         opens a FIFO, socket or device it finds): put the real file there",
        path.display()
    )]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// Neither a directory nor a regular file.
    #[error(
        "{} is a {kind}; only directories and regular files can be granted (mycelium never \
         opens a FIFO, socket or device it finds): remove it or grant another path",
        path.display()
    )]
    NotFileOrDir {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A regular file in the workspace (or under a writable grant) with more than one name.
    #[error(
        "{} has {nlink} hard links; a file granted from a workspace must have exactly one \
         (another name may be a file the policy does not grant): copy it instead",
        path.display()
    )]
    HardLinked {
        /// The file.
        path: PathBuf,
        /// Its link count.
        nlink: u64,
    },
    /// The path does not exist.
    #[error("{}: {}", path.display(), errno.desc())]
    Missing {
        /// The first missing path.
        path: PathBuf,
        /// `ENOENT` or `ENOTDIR`.
        errno: Errno,
    },
    /// Too many links.
    #[error("{}: more than {MAX_LINKS} symbolic links to follow", path.display())]
    TooManyLinks {
        /// The path.
        path: PathBuf,
    },
    /// The object is no longer the one that was checked.
    #[error(
        "{} changed since it was checked (it is now another object); nothing ran: run again, \
         and if it repeats, find what is replacing it",
        path.display()
    )]
    Changed {
        /// The path.
        path: PathBuf,
    },
    /// The kernel lacks `openat2` (Linux 5.6+).
    #[error(
        "{}: unsupported: this kernel lacks openat2 (Linux 5.6+), which mycelium needs to \
         open paths without following planted links; use a newer kernel",
        path.display()
    )]
    Unsupported {
        /// The path being opened.
        path: PathBuf,
    },
    /// Any other failure of the kernel.
    #[error("{}: {}", path.display(), errno.desc())]
    Io {
        /// The path.
        path: PathBuf,
        /// The kernel's answer.
        errno: Errno,
    },
}

impl ResolveError {
    /// True when the path (or a parent) simply does not exist: an optional grant is skipped.
    #[must_use]
    pub fn is_missing(&self) -> bool {
        matches!(self, ResolveError::Missing { .. })
    }
}

/// A granted path, opened.
#[derive(Debug)]
pub struct Resolved {
    /// `O_PATH` descriptor of the object.
    pub fd: OwnedFd,
    /// Its physical path: no component is a link.
    pub path: PathBuf,
    /// Its identity.
    pub id: Identity,
    /// A directory; otherwise a regular file.
    pub is_dir: bool,
    /// When the named path itself was a (trusted) link: what it contained.
    pub link: Option<PathBuf>,
    /// Identities of the object and of every directory above it, up to `/`.
    pub chain: Vec<Identity>,
}

/// How links met on the walk are treated.
#[derive(Clone, Copy)]
enum Links<'a> {
    /// None is followed (the workspace; or a path known to hold none).
    Never,
    /// Followed only when only root could have placed them, and never inside one of these
    /// directories (by identity: the workspace and every writable grant of the run, as they
    /// resolved, so neither a link nor a bind-mounted alias of one hides it).
    RootOnly(&'a [Identity]),
}

/// What a walk from `/` is for: it decides how a refused link is reported.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A granted path.
    Grant,
    /// The workspace's own path (`--workspace`).
    WorkspacePath,
    /// A file mycelium reads (policy, definition, pinned file).
    File,
}

/// The directories walked so far: descriptor, physical path, status.
type Stack = Vec<(OwnedFd, PathBuf, FileStat)>;

/// True when a directory of `stack` is one of `writable` (a link there may be the agent's).
fn under_writable(stack: &[(OwnedFd, PathBuf, FileStat)], writable: &[Identity]) -> bool {
    stack
        .iter()
        .any(|(_, _, st)| writable.contains(&Identity::of(st)))
}

fn io(path: &Path) -> impl Fn(Errno) -> ResolveError + '_ {
    move |errno| match errno {
        Errno::ENOSYS => ResolveError::Unsupported {
            path: path.to_path_buf(),
        },
        Errno::ENOENT | Errno::ENOTDIR => ResolveError::Missing {
            path: path.to_path_buf(),
            errno,
        },
        errno => ResolveError::Io {
            path: path.to_path_buf(),
            errno,
        },
    }
}

fn kind_of(mode: u32) -> Option<&'static str> {
    match mode & libc::S_IFMT {
        libc::S_IFDIR | libc::S_IFREG => None,
        libc::S_IFIFO => Some("FIFO"),
        libc::S_IFSOCK => Some("socket"),
        libc::S_IFCHR => Some("character device"),
        libc::S_IFBLK => Some("block device"),
        libc::S_IFLNK => Some("symbolic link"),
        _ => Some("special file"),
    }
}

/// Split a path into the names to walk (`/` and `.` dropped, `..` kept).
fn names(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// Walk `rest` from the last directory of `stack` (descriptor, physical path, identity),
/// one name at a time, under `links`. `in_workspace` names link errors as workspace ones.
fn walk(
    stack: Stack,
    rest: &Path,
    links: Links<'_>,
    in_workspace: bool,
) -> Result<Resolved, ResolveError> {
    let (stack, link) = walk_raw(stack, rest, links, in_workspace, Purpose::Grant)?;
    finish(stack, link, rest, links, in_workspace)
}

/// The walk itself: the directories (and last object) it went through, and what the named
/// path contained when it was itself a followed link.
fn walk_raw(
    mut stack: Stack,
    rest: &Path,
    links: Links<'_>,
    in_workspace: bool,
    purpose: Purpose,
) -> Result<(Stack, Option<PathBuf>), ResolveError> {
    let floor = stack.len();
    let mut pending = names(rest);
    let mut followed = 0;
    let mut link = None;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            // Only link contents hold `..` (grants are normalised); never above the start.
            if stack.len() > floor {
                stack.pop();
            }
            continue;
        }
        let (cur, cur_path, cur_st) = stack.last().ok_or(ResolveError::Io {
            path: rest.to_path_buf(),
            errno: Errno::EINVAL,
        })?;
        let here = cur_path.join(&name);
        let st = fstatat(cur, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(io(&here))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            let trusted = match links {
                Links::Never => false,
                Links::RootOnly(writable) => {
                    st.st_uid == 0
                        && cur_st.st_uid == 0
                        && cur_st.st_mode & 0o022 == 0
                        && !under_writable(&stack, writable)
                }
            };
            if in_workspace || matches!(links, Links::Never) {
                return Err(ResolveError::LinkInWorkspace { link: here });
            }
            // EINVAL: no longer a link (replaced since the fstatat above).
            let target = nix::fcntl::readlinkat(cur, name.as_os_str())
                .map(PathBuf::from)
                .map_err(|e| match e {
                    Errno::EINVAL => ResolveError::Changed { path: here.clone() },
                    e => io(&here)(e),
                })?;
            if !trusted {
                return Err(match purpose {
                    Purpose::Grant => ResolveError::UntrustedLink { link: here, target },
                    Purpose::WorkspacePath => {
                        ResolveError::UntrustedWorkspaceLink { link: here, target }
                    }
                    Purpose::File => ResolveError::UntrustedFileLink { link: here, target },
                });
            }
            followed += 1;
            if followed > MAX_LINKS {
                return Err(ResolveError::TooManyLinks { path: here });
            }
            if followed == 1 && pending.is_empty() {
                link = Some(target.clone());
            }
            if target.is_absolute() {
                stack.truncate(1);
            }
            let mut spliced = names(&target);
            spliced.extend(pending);
            pending = spliced;
            continue;
        }
        // The name was not a link a moment ago; opening it with no link allowed makes sure
        // it still is not.
        let fd = openat2(
            Some(cur.as_fd()),
            Path::new(&name),
            libc::O_PATH,
            0,
            RESOLVE_STRICT_BENEATH,
        )
        .map_err(|e| match e.errno {
            Errno::ELOOP if in_workspace => ResolveError::LinkInWorkspace { link: here.clone() },
            Errno::ELOOP => ResolveError::Changed { path: here.clone() },
            errno => io(&here)(errno),
        })?;
        let st = fstat(&fd).map_err(io(&here))?;
        if !pending.is_empty() && st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(ResolveError::Missing {
                path: here,
                errno: Errno::ENOTDIR,
            });
        }
        stack.push((fd, here, st));
    }
    Ok((stack, link))
}

/// Turn a walk's stack into the [`Resolved`] object at its top, refusing what may not be
/// granted (a FIFO, socket or device; a file with several names in a writable place).
fn finish(
    mut stack: Stack,
    link: Option<PathBuf>,
    rest: &Path,
    links: Links<'_>,
    in_workspace: bool,
) -> Result<Resolved, ResolveError> {
    let chain: Vec<Identity> = stack
        .iter()
        .rev()
        .map(|(_, _, st)| Identity::of(st))
        .collect();
    let Some((fd, path, st)) = stack.pop() else {
        return Err(ResolveError::Io {
            path: rest.to_path_buf(),
            errno: Errno::EINVAL,
        });
    };
    if let Some(kind) = kind_of(st.st_mode) {
        return Err(ResolveError::NotFileOrDir { path, kind });
    }
    let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    #[allow(clippy::unnecessary_cast, reason = "st_nlink is u32 on some targets")]
    let nlink = st.st_nlink as u64;
    let writable_place = match links {
        Links::Never => in_workspace,
        Links::RootOnly(writable) => chain.iter().any(|id| writable.contains(id)),
    };
    if writable_place && !is_dir && nlink > 1 {
        return Err(ResolveError::HardLinked { path, nlink });
    }
    Ok(Resolved {
        fd,
        path,
        id: Identity::of(&st),
        is_dir,
        link,
        chain,
    })
}

fn root_stack() -> Result<Vec<(OwnedFd, PathBuf, FileStat)>, ResolveError> {
    let root = Path::new("/");
    let fd = openat2(None, root, libc::O_PATH | libc::O_DIRECTORY, 0, 0)
        .map_err(|e| io(root)(e.errno))?;
    let st = fstat(&fd).map_err(io(root))?;
    Ok(vec![(fd, root.to_path_buf(), st)])
}

/// The workspace, opened once. Its own path is walked from `/` like a grant: a link on
/// the way is followed only when only root could have placed it (another user's
/// `/tmp/shared-ws -> /var/lib/victim`, or an earlier agent's `proj/frontend -> ~/.ssh`,
/// is refused); nothing beneath it is followed at all.
#[derive(Debug)]
pub struct Workspace {
    /// The workspace directory itself.
    pub dir: Resolved,
    /// Every directory from `/` to the workspace, for walks beneath it.
    stack: Stack,
}

/// `path` made absolute against the physical working directory (`getcwd` has no links).
fn absolute(path: &Path) -> Result<PathBuf, ResolveError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| ResolveError::Io {
        path: path.to_path_buf(),
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    Ok(cwd.join(path))
}

impl Workspace {
    /// Open the directory `path` names (relative to the working directory when relative).
    /// `writable` are the identities of directories the run makes writable: no link inside
    /// one is followed on the way.
    ///
    /// # Errors
    /// [`ResolveError`] when it is missing or not a directory, or its path passes through a
    /// link someone other than root could have placed
    /// ([`ResolveError::UntrustedWorkspaceLink`]).
    pub fn open(path: &Path, writable: &[Identity]) -> Result<Workspace, ResolveError> {
        let abs = absolute(path)?;
        let (stack, _) = walk_raw(
            root_stack()?,
            &abs,
            Links::RootOnly(writable),
            false,
            Purpose::WorkspacePath,
        )?;
        let (last, p, st) = stack.last().ok_or(ResolveError::Io {
            path: abs.clone(),
            errno: Errno::EINVAL,
        })?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(ResolveError::Missing {
                path: p.clone(),
                errno: Errno::ENOTDIR,
            });
        }
        let dir = Resolved {
            fd: last.try_clone().map_err(|_| ResolveError::Io {
                path: p.clone(),
                errno: Errno::EMFILE,
            })?,
            path: p.clone(),
            id: Identity::of(st),
            is_dir: true,
            link: None,
            chain: stack
                .iter()
                .rev()
                .map(|(_, _, st)| Identity::of(st))
                .collect(),
        };
        Ok(Workspace { dir, stack })
    }

    /// The workspace's physical path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir.path
    }

    /// Resolve `rel` beneath the workspace: no link followed, no way out.
    ///
    /// # Errors
    /// [`ResolveError`]: a link (named), a missing path, a FIFO/socket/device, a file with
    /// several hard links.
    pub fn resolve(&self, rel: &Path) -> Result<Resolved, ResolveError> {
        let stack = self
            .stack
            .iter()
            .map(|(fd, p, st)| {
                Ok((
                    fd.try_clone().map_err(|_| io(p)(Errno::EMFILE))?,
                    p.clone(),
                    *st,
                ))
            })
            .collect::<Result<Vec<_>, ResolveError>>()?;
        walk(stack, rel, Links::Never, true)
    }
}

/// Resolve an absolute host path, following only links root alone could have placed and
/// none inside a directory of `writable` (the identities of the workspace and of every
/// writable grant of the run, as resolved). Paths under `workspace` are resolved beneath it
/// (no link followed at all).
///
/// # Errors
/// [`ResolveError`]: an untrusted link (named, with its target), a missing path, a
/// FIFO/socket/device.
pub fn resolve_host(
    path: &Path,
    workspace: Option<&Workspace>,
    writable: &[Identity],
) -> Result<Resolved, ResolveError> {
    if let Some(ws) = workspace
        && let Ok(rel) = path.strip_prefix(ws.path())
    {
        return ws.resolve(rel);
    }
    walk(root_stack()?, path, Links::RootOnly(writable), false)
}

/// Open for reading the object an `O_PATH` descriptor holds, through the descriptor
/// (`/proc/self/fd/N`), never by a name someone could change meanwhile.
fn reopen_for_reading(fd: BorrowedFd<'_>) -> Result<OwnedFd, super::sys::SysError> {
    let magic = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    openat2(None, &magic, libc::O_RDONLY | libc::O_NOCTTY, 0, 0)
}

/// Open the regular file `path` for reading, for mycelium itself (a policy, an agent
/// definition, a pinned file): the path is walked from `/` following only links root alone
/// could have placed, the object is checked with `fstat` on an `O_PATH` descriptor, and only
/// then re-opened for reading through that descriptor (`/proc/self/fd/N`), so a FIFO or
/// device swapped in is never opened (it would block, or act) and a planted link is never
/// read through.
///
/// # Errors
/// An [`std::io::Error`] of the matching kind whose message is the [`ResolveError`]: an
/// untrusted link (named), a missing path, something other than a regular file.
pub fn open_file(path: &Path) -> std::io::Result<std::fs::File> {
    let wrap = |e: ResolveError| {
        let kind = match &e {
            ResolveError::Missing { errno, .. } | ResolveError::Io { errno, .. } => {
                std::io::Error::from(*errno).kind()
            }
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, e)
    };
    let abs = absolute(path).map_err(wrap)?;
    let (stack, _) = walk_raw(
        root_stack().map_err(wrap)?,
        &abs,
        Links::RootOnly(&[]),
        false,
        Purpose::File,
    )
    .map_err(wrap)?;
    let Some((fd, found, st)) = stack.last() else {
        return Err(wrap(ResolveError::Io {
            path: abs,
            errno: Errno::EINVAL,
        }));
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(wrap(ResolveError::NotRegularFile {
            path: found.clone(),
            kind: kind_of(st.st_mode).unwrap_or("directory"),
        }));
    }
    let file = reopen_for_reading(fd.as_fd()).map_err(|e| wrap(io(found)(e.errno)))?;
    // The re-open went through the checked descriptor; make sure it is that object.
    let now = fstat(&file).map_err(|e| wrap(io(found)(e)))?;
    check_identity(found, Identity::of(st), false, &now).map_err(wrap)?;
    Ok(std::fs::File::from(file))
}

/// One path that must never be visible in a sandbox.
#[derive(Debug, Clone)]
pub struct Protected {
    /// As far as it exists, its physical path; the rest as written.
    pub path: PathBuf,
    /// The identities of it and its parents, when it exists.
    chain: Option<Vec<Identity>>,
}

impl Protected {
    /// Look `path` up (it is mycelium's own: links in it are followed).
    #[must_use]
    pub fn new(path: &Path) -> Protected {
        let mut existing = path.to_path_buf();
        let mut tail = Vec::new();
        let canon = loop {
            if let Ok(c) = std::fs::canonicalize(&existing) {
                break c;
            }
            match (
                existing.file_name().map(|n| n.to_os_string()),
                existing.parent(),
            ) {
                (Some(n), Some(parent)) => {
                    tail.push(n);
                    existing = parent.to_path_buf();
                }
                _ => break existing.clone(),
            }
        };
        let exists = tail.is_empty();
        let mut full = canon;
        full.extend(tail.iter().rev());
        let chain = if exists {
            walk(
                root_stack().ok().unwrap_or_default(),
                &full,
                Links::Never,
                false,
            )
            .ok()
            .map(|r| r.chain)
        } else {
            None
        };
        Protected { path: full, chain }
    }

    /// True when `r` is, lies inside or contains this path, by name or by identity (a bind
    /// mount or hard link of it is the same object).
    #[must_use]
    pub fn exposed_by(&self, r: &Resolved) -> bool {
        if r.path.starts_with(&self.path) || self.path.starts_with(&r.path) {
            return true;
        }
        match &self.chain {
            Some(mine) => r.chain.contains(&mine[0]) || mine.contains(&r.id),
            None => false,
        }
    }
}

/// Whether `rel` beneath the directory `dir` names a real directory (`true`) or regular
/// file (`false`) there, with no link on the way; otherwise what is wrong, in words.
///
/// # Errors
/// A sentence: a link, a missing path, another kind of file.
pub fn lookup_beneath(dir: &Resolved, rel: &Path) -> Result<bool, String> {
    let full = dir.path.join(rel);
    let fd = openat2(
        Some(dir.fd.as_fd()),
        rel,
        libc::O_PATH,
        0,
        RESOLVE_STRICT_BENEATH,
    )
    .map_err(|e| match e.errno {
        Errno::ELOOP => format!("{} is or passes through a symbolic link", full.display()),
        Errno::ENOENT | Errno::ENOTDIR => format!("{} does not exist", full.display()),
        errno => format!("{}: {}", full.display(), errno.desc()),
    })?;
    let st = fstat(&fd).map_err(|e| format!("{}: {}", full.display(), e.desc()))?;
    match kind_of(st.st_mode) {
        None => Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR),
        Some(kind) => Err(format!("{} is a {kind}", full.display())),
    }
}

/// Pid 1's side: re-open `path` beneath `root` (the host's root as pid 1 sees it) with no
/// link of any kind allowed (the plan's paths hold none), and check it is still `expected`.
///
/// # Errors
/// [`ResolveError::Changed`] when a link or another object is found there now.
pub fn reopen_checked(
    root: BorrowedFd<'_>,
    path: &Path,
    expected: Identity,
    is_dir: bool,
) -> Result<OwnedFd, ResolveError> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let fd =
        openat2(Some(root), rel, libc::O_PATH, 0, RESOLVE_STRICT_BENEATH).map_err(|e| {
            match e.errno {
                Errno::ELOOP | Errno::EXDEV => ResolveError::Changed {
                    path: path.to_path_buf(),
                },
                errno => io(path)(errno),
            }
        })?;
    let st = fstat(&fd).map_err(io(path))?;
    check_identity(path, expected, is_dir, &st)?;
    Ok(fd)
}

/// The pure part of [`reopen_checked`]: `st` must be the object checked on the host.
///
/// # Errors
/// [`ResolveError::Changed`].
pub fn check_identity(
    path: &Path,
    expected: Identity,
    is_dir: bool,
    st: &FileStat,
) -> Result<(), ResolveError> {
    let fmt = st.st_mode & libc::S_IFMT;
    let kind_ok = if is_dir {
        fmt == libc::S_IFDIR
    } else {
        fmt == libc::S_IFREG
    };
    if Identity::of(st) != expected || !kind_ok {
        return Err(ResolveError::Changed {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Pid 1's side: open (creating what is missing, as directories and an empty file) the
/// mount point `path` beneath `root` (the new root), never following a link: a concurrent
/// run may be changing a host directory bound above it.
///
/// # Errors
/// [`ResolveError::Changed`] for a link on the way (the plan saw real directories there),
/// [`ResolveError::NotFileOrDir`] for something that is not a directory (a regular file for
/// a file mount) where the mount point should be.
pub fn open_target(
    root: BorrowedFd<'_>,
    path: &Path,
    is_dir: bool,
) -> Result<OwnedFd, ResolveError> {
    let mut cur = root
        .try_clone_to_owned()
        .map_err(|_| io(path)(Errno::EMFILE))?;
    let all: Vec<OsString> = names(path).into_iter().collect();
    let mut here = PathBuf::from("/");
    for (i, name) in all.iter().enumerate() {
        here.push(name);
        let last = i + 1 == all.len();
        let want_dir = !last || is_dir;
        let open = |cur: &OwnedFd| {
            openat2(
                Some(cur.as_fd()),
                Path::new(name),
                libc::O_PATH | libc::O_NOFOLLOW,
                0,
                RESOLVE_STRICT_BENEATH,
            )
        };
        let fd = match open(&cur) {
            Ok(fd) => fd,
            Err(e) if e.errno == Errno::ENOENT => {
                let made = if want_dir {
                    mkdirat(&cur, name.as_os_str(), Mode::from_bits_truncate(0o755))
                } else {
                    openat2(
                        Some(cur.as_fd()),
                        Path::new(name),
                        libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW,
                        0o644,
                        RESOLVE_STRICT_BENEATH,
                    )
                    .map(drop)
                    .map_err(|e| e.errno)
                };
                match made {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(errno) => return Err(io(&here)(errno)),
                }
                open(&cur).map_err(|e| io(&here)(e.errno))?
            }
            Err(e) if e.errno == Errno::ELOOP => {
                return Err(ResolveError::Changed { path: here });
            }
            Err(e) => return Err(io(&here)(e.errno)),
        };
        let st = fstat(&fd).map_err(io(&here))?;
        let fmt = st.st_mode & libc::S_IFMT;
        if fmt == libc::S_IFLNK {
            return Err(ResolveError::Changed { path: here });
        }
        let ok = if want_dir {
            fmt == libc::S_IFDIR
        } else {
            fmt == libc::S_IFREG
        };
        if !ok {
            return Err(ResolveError::NotFileOrDir {
                path: here,
                kind: kind_of(st.st_mode).unwrap_or(if want_dir { "file" } else { "directory" }),
            });
        }
        cur = fd;
    }
    Ok(cur)
}

#[cfg(test)]
mod tests;

//! The workspace chosen at run time, checked like a policy path.
//!
//! A policy is consented to as "writes {workspace}", but the workspace is only named when
//! the agent runs (`exec -w`, `run -w`), so a consent for a harmless-looking policy would
//! otherwise hand an agent `~/.ssh`, the home directory or `/etc` read-write. The resolved
//! directory (symlinks followed: the directory that would really be mounted) is refused
//! when it is:
//!
//! - `/`;
//! - a home directory or a parent of one: every account's in `/etc/passwd` (the caller's
//!   and the workspace owner's among them, wherever they are: `/opt/app`, `/srv/git`),
//!   `$HOME`, and `/home` — but not a system directory some account calls home
//!   (`/usr/sbin`, `/bin`; [`sensitive::is_system_home`]);
//! - a credential location ([`crate::policy::sensitive`]) under any of those homes or on
//!   the system, inside one or containing one, or a directory that is or lies inside a
//!   component named like a home's credential entry anywhere (`/srv/deploy/.ssh`). A
//!   directory merely *holding* such an entry (a project's own `.npmrc`) is accepted: the
//!   caller chose it, and only the risk of a policy's fixed grants looks inside them;
//! - inside a hidden entry of one of those homes (`~/.config/systemd/user`,
//!   `~/.local/bin`): the user's configuration and start-up files;
//! - a directory of programs that users run by name, or a directory containing one (a
//!   directory inside one is fine: PATH lookups do not descend into it): every
//!   absolute entry of the caller's `$PATH`, and each home's `bin` and `go/bin` (login
//!   shells put `~/bin` on the PATH when it exists, so it counts even when the caller's
//!   PATH lacks it, and for other users whose PATH mycelium cannot know);
//! - a system directory or anything inside it ([`SYSTEM_TREES`]), or one of
//!   [`SHARED_DIRS`] itself; inside `/var` only `/var/tmp/…` and `/var/home/…` (homes on
//!   some distributions) are accepted.
//!
//! A human at the terminal may accept one refused directory with `--allow-workspace DIR`
//! (a CLI-only argument of `exec` and `run`); mycelium's own state stays refused even then.

use std::path::{Path, PathBuf};

use super::IsolationError;
use crate::policy::sensitive;

/// Directories whose whole tree is the host's: programs, configuration, kernel interfaces,
/// root's home, runtime state. A workspace there would let the agent change the system.
pub const SYSTEM_TREES: [&str; 17] = [
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/proc",
    "/sys", "/dev", "/root", "/run", "/opt", "/nix", "/snap",
];

/// Directories shared by every user: refused themselves (other users' files sit there),
/// while a directory made inside them is fine.
pub const SHARED_DIRS: [&str; 5] = ["/tmp", "/var/tmp", "/mnt", "/media", "/srv"];

/// Subtrees of `/var` where a workspace may be.
const VAR_ALLOWED: [&str; 2] = ["/var/tmp", "/var/home"];

/// Directories inside a home whose programs the user runs by name (see the module docs).
pub const HOME_PROGRAM_DIRS: [&str; 2] = ["bin", "go/bin"];

/// Why `ws` (resolved) cannot be a workspace, or `None`. `homes` are the home directories
/// to protect; `program_dirs` the directories of programs users run by name (the caller's
/// `$PATH`), as written and resolved.
#[must_use]
pub fn refusal(ws: &Path, homes: &[PathBuf], program_dirs: &[PathBuf]) -> Option<String> {
    if ws == Path::new("/") {
        return Some("it is the root of the host's file system".into());
    }
    if sensitive::contains_home(ws, homes) {
        return Some("it is a home directory or contains one (with the credentials and start-up files in it)".into());
    }
    if let Some(c) = sensitive::credential_overlap(ws, homes) {
        return Some(format!(
            "it is, lies inside or contains the credential location {}",
            c.display()
        ));
    }
    // A home's hidden entries are the user's configuration: start-up files, user
    // services, autostart entries, `~/.local/bin` on the user's PATH. Writing there plants
    // code the user runs later.
    for h in homes.iter().filter(|h| !sensitive::is_system_home(h)) {
        if let Ok(rest) = ws.strip_prefix(h)
            && let Some(first) = rest.components().next()
            && first.as_os_str().as_encoded_bytes().starts_with(b".")
        {
            return Some(format!(
                "it lies in {}, the user's own configuration (start-up files, services, programs on the PATH)",
                h.join(first).display()
            ));
        }
    }
    // Where a home's hidden entries lead through links (the dotfiles layout): the user's
    // configuration and credentials under other names.
    if let Some(e) = sensitive::linked_entries(homes)
        .into_iter()
        .find(|e| sensitive::overlaps(ws, &e.target))
    {
        return Some(format!(
            "it is, lies inside or contains {}, where {} leads (the user's own configuration or credentials)",
            e.target.display(),
            e.entry.display()
        ));
    }
    // A program planted where users run programs by name runs as them later.
    // As written and where they lead (`~/bin` may be a link, or not exist yet under a
    // home reached through a link).
    let personal = homes
        .iter()
        .flat_map(|h| HOME_PROGRAM_DIRS.iter().map(move |d| h.join(d)))
        .flat_map(|d| {
            let resolved = resolve_existing_prefix(&d).filter(|r| *r != d);
            std::iter::once(d).chain(resolved)
        });
    if let Some(d) = program_dirs
        .iter()
        .cloned()
        .chain(personal)
        .find(|d| d.starts_with(ws))
    {
        return Some(format!(
            "it is or contains {}, a directory of programs run by name (on the PATH)",
            d.display()
        ));
    }
    if let Some(t) = SYSTEM_TREES.iter().find(|t| ws.starts_with(t)) {
        return Some(format!("it lies in the system directory {t}"));
    }
    if SHARED_DIRS.iter().any(|d| ws == Path::new(d)) {
        return Some("it is a directory every user shares; make a directory inside it".into());
    }
    if ws.starts_with("/var") && !VAR_ALLOWED.iter().any(|a| ws.starts_with(a)) {
        return Some(
            "it lies in /var, the host's service state (only /var/tmp/… is accepted)".into(),
        );
    }
    None
}

/// The home directories a workspace may not be or contain: every account's in
/// `/etc/passwd` (the caller's and the workspace owner's among them) and `$HOME`, each as
/// written and resolved ([`sensitive::homes`]).
fn homes_to_protect() -> Vec<PathBuf> {
    let env_home = std::env::var_os("HOME").map(PathBuf::from);
    sensitive::homes(env_home.as_deref())
}

/// The absolute directories of the caller's `$PATH`, as written and resolved (relative
/// entries, which name the current directory, are left out: they are no fixed place).
fn path_dirs() -> Vec<PathBuf> {
    let Some(path) = std::env::var_os("PATH") else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| d.is_absolute() && d != Path::new("/"))
        .collect();
    let resolved: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| resolve_existing_prefix(d))
        .filter(|c| c != Path::new("/") && !dirs.contains(c))
        .collect();
    dirs.extend(resolved);
    dirs
}

/// `path` with its longest existing prefix resolved (links followed, also a link whose
/// target does not exist yet) and the rest, which does not exist yet, appended as written:
/// where the path will lead once it is created; `None` for a link loop.
/// A PATH entry such as `~/work/app/node_modules/.bin` exists only after `npm install`,
/// and the workspace that will hold it must be recognised by its physical path already.
fn resolve_existing_prefix(path: &Path) -> Option<PathBuf> {
    let mut path = path.to_path_buf();
    // Each round follows one dangling link on the way; 40 as the kernel's own limit.
    for _ in 0..40 {
        let mut rest: Vec<std::ffi::OsString> = Vec::new();
        let mut cur = path.as_path();
        let real = loop {
            match std::fs::canonicalize(cur) {
                Ok(real) => break real,
                Err(_) => {
                    rest.push(cur.file_name()?.to_os_string());
                    cur = cur.parent()?;
                }
            }
        };
        let Some(first) = rest.pop() else {
            return Some(real);
        };
        let next = real.join(&first);
        match std::fs::read_link(&next) {
            // A link to something that does not exist yet: where it points, then the rest.
            Ok(target) => {
                let mut p = real.join(target);
                p.extend(rest.iter().rev());
                path = p;
            }
            Err(_) => {
                let mut p = next;
                p.extend(rest.iter().rev());
                return Some(p);
            }
        }
    }
    None
}

/// [`refusal`] for this host: its accounts' homes and the caller's `$PATH`.
#[must_use]
pub fn refusal_here(ws: &Path) -> Option<String> {
    refusal(ws, &homes_to_protect(), &path_dirs())
}

/// Refuse the resolved workspace `ws` when [`refusal`] gives a reason, unless `allow` (the
/// `--allow-workspace` a human passed) resolves to the same directory.
///
/// # Errors
/// [`IsolationError::Plan`] saying why, and what to do.
pub fn check(policy: &Path, ws: &Path, allow: Option<&Path>) -> Result<(), IsolationError> {
    if allow
        .and_then(|a| std::fs::canonicalize(a).ok())
        .is_some_and(|a| a == ws)
    {
        return Ok(());
    }
    match refusal_here(ws) {
        None => Ok(()),
        Some(why) => Err(IsolationError::Plan {
            policy: policy.to_path_buf(),
            message: format!(
                "workspace {} is refused: {why}; choose a project directory (for example one inside your home), or pass --allow-workspace {} to hand exactly this directory to the agent",
                ws.display(),
                ws.display()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_and_accepted_workspaces() {
        let homes = [PathBuf::from("/var/home/u")];
        for p in [
            "/",
            "/var/home/u",
            "/var/home",
            "/var",
            "/home",
            "/var/home/u/.ssh",
            "/var/home/u/.ssh/keys",
            "/var/home/u/.config",
            "/var/home/u/.config/systemd/user",
            "/var/home/u/.local/bin",
            "/var/home/u/.cache/x",
            "/etc",
            "/etc/nginx",
            "/usr/local/src",
            "/lib64",
            "/proc/self",
            "/root/p",
            "/tmp",
            "/var/tmp",
            "/var/log",
            "/var/lib/app",
        ] {
            assert!(refusal(Path::new(p), &homes, &[]).is_some(), "{p} accepted");
        }
        for p in [
            "/var/home/u/src/project",
            "/var/home/u/src/.hidden/project",
            "/home/other/project",
            "/tmp/project",
            "/var/tmp/build",
            "/srv/data/p",
            "/mnt/disk/p",
        ] {
            assert_eq!(refusal(Path::new(p), &homes, &[]), None, "{p}");
        }
    }

    #[test]
    fn entries_that_do_not_exist_yet_resolve_through_their_existing_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("work")).unwrap();
        let real = std::fs::canonicalize(&real).unwrap();
        assert_eq!(
            resolve_existing_prefix(&dir.path().join("work/app/node_modules/.bin")),
            Some(real.join("app/node_modules/.bin"))
        );
        // A dangling link on the way: where it points, then the rest.
        std::os::unix::fs::symlink(real.join("proj/bin"), dir.path().join("mybin")).unwrap();
        assert_eq!(
            resolve_existing_prefix(&dir.path().join("mybin")),
            Some(real.join("proj/bin"))
        );
        std::os::unix::fs::symlink("real/p2", dir.path().join("rel")).unwrap();
        assert_eq!(
            resolve_existing_prefix(&dir.path().join("rel/bin")),
            Some(real.join("p2/bin"))
        );
        // A loop ends.
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        assert_eq!(resolve_existing_prefix(&dir.path().join("loop/bin")), None);
    }

    #[test]
    fn directories_of_programs_run_by_name_are_refused() {
        let homes = [PathBuf::from("/srv/u")];
        let path = [
            PathBuf::from("/srv/tools/bin"),
            PathBuf::from("/data/opt/node/bin"),
        ];
        // Each home's bin and go/bin, a PATH entry, or a directory containing one.
        for p in [
            "/srv/u/bin",
            "/srv/u/go/bin",
            "/srv/u/go",
            "/srv/tools/bin",
            "/srv/tools",
            "/data/opt",
        ] {
            let why = refusal(Path::new(p), &homes, &path);
            assert!(
                why.as_deref()
                    .is_some_and(|w| w.contains("programs run by name")),
                "{p}: {why:?}"
            );
        }
        // Twins: neighbours, and directories inside one (not on the PATH themselves).
        for p in [
            "/srv/u/binaries",
            "/srv/u/src/bin",
            "/srv/u/bin/project",
            "/srv/tools/src",
            "/srv/tools/bin/sub",
            "/data/project",
        ] {
            assert_eq!(refusal(Path::new(p), &homes, &path), None, "{p}");
        }
    }

    #[test]
    fn other_accounts_homes_anywhere_are_protected_but_system_homes_change_nothing() {
        let passwd = "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
                      systemd-network:x:998:998::/:/usr/sbin/nologin\n\
                      git:x:991:991::/srv/git:/bin/sh\n\
                      www-data:x:33:33::/var/www:/bin/sh\n\
                      appsvc:x:990:990::/opt/app:/bin/sh\n\
                      u:x:1001:100::/var/home/u:/bin/sh\n";
        let homes = sensitive::homes_in_passwd(passwd, None);
        let why = |p: &str| refusal(Path::new(p), &homes, &[]);
        assert_eq!(
            why("/srv/git/.ssh"),
            Some(
                "it is, lies inside or contains the credential location /srv/git/.ssh".to_string()
            )
        );
        assert_eq!(
            why("/srv/git"),
            Some("it is a home directory or contains one (with the credentials and start-up files in it)".to_string())
        );
        assert_eq!(
            why("/srv/git/.config/x"),
            Some("it lies in /srv/git/.config, the user's own configuration (start-up files, services, programs on the PATH)".to_string())
        );
        for p in ["/srv", "/var/www/.aws", "/opt/app/.ssh/keys"] {
            assert!(why(p).is_some(), "{p} accepted");
        }
        // Positive twins: a project in another account's home, or next to a system
        // account's home, is fine; `/` as a home does not make every hidden directory one.
        for p in [
            "/srv/git/project",
            "/srv/data/p",
            "/tmp/project",
            "/.build/p",
        ] {
            assert_eq!(why(p), None, "{p}");
        }
    }

    #[test]
    fn a_workspace_named_like_a_credential_entry_anywhere_is_refused() {
        let homes = [PathBuf::from("/var/home/u")];
        let why = |p: &str| refusal(Path::new(p), &homes, &[]);
        for (p, c) in [
            ("/srv/deploy/.ssh", "/srv/deploy/.ssh"),
            ("/srv/deploy/.ssh/keys", "/srv/deploy/.ssh"),
            ("/tmp/x/.aws", "/tmp/x/.aws"),
            ("/var/tmp/ci/.config/gh", "/var/tmp/ci/.config/gh"),
            ("/data/.password-store/work", "/data/.password-store"),
            ("/mnt/disk/.gnupg", "/mnt/disk/.gnupg"),
        ] {
            assert_eq!(
                why(p),
                Some(format!(
                    "it is, lies inside or contains the credential location {c}"
                )),
                "{p}"
            );
        }
        // Positive twins: look-alike names, and the directories around them (a project
        // holding its own `.npmrc` stays a valid workspace: only risk looks inside).
        for p in [
            "/srv/deploy",
            "/tmp/x/aws",
            "/tmp/x/.aws-notes",
            "/var/tmp/ci/.config",
        ] {
            assert_eq!(why(p), None, "{p}");
        }
    }
}

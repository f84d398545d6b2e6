//! Where credentials live on a host, and which host paths are plain system files: the
//! tables both the risk level ([`super::assess`]) and the run-time workspace check
//! (`isolation::workspace`) are computed from.
//!
//! A leaf: it depends on nothing of ours and touches no kernel interface beyond reading
//! `/etc/passwd` for the caller's own entry. One list per fact: a location added here is
//! high risk to read *and* refused as a workspace.

use std::path::{Path, PathBuf};

/// Entries of a home directory whose contents are credentials, relative to the home.
/// Reading any of them, or a directory that contains one (the home itself), is high risk.
pub const HOME_CREDENTIALS: [&str; 22] = [
    // Private keys, agent sockets, authorized_keys (writing it lets anyone log in).
    ".ssh",
    // GnuPG private keys and trust database.
    ".gnupg",
    // Cloud credentials: AWS, Azure, Google Cloud, Kubernetes, container registries.
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker",
    // Passwords for machines and package registries, in plain text.
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    // Git and GitHub tokens.
    ".git-credentials",
    ".config/gh",
    // Password stores and keyrings.
    ".password-store",
    ".local/share/keyrings",
    ".pki",
    // Browser profiles: saved passwords, session cookies.
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    // mycelium's own state (consent store, policies), default location.
    ".mycelium",
];

/// Host paths outside any home whose contents are credentials or hand out the host.
pub const SYSTEM_CREDENTIALS: [&str; 15] = [
    // Password hashes (and their backup copies).
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    // Host keys of the SSH server: whoever holds them can impersonate the host.
    "/etc/ssh",
    // Who may become root, and how.
    "/etc/sudoers",
    "/etc/sudoers.d",
    // Kerberos host key; TLS private keys.
    "/etc/krb5.keytab",
    "/etc/ssl/private",
    // root's home holds all of the above for root.
    "/root",
    // Service state: databases, tokens, machine secrets of every daemon.
    "/var/lib",
    // Mounted secrets (containers, Kubernetes service-account tokens).
    "/run/secrets",
    "/var/run/secrets",
    // The Docker socket is root on the host for whoever can write it.
    "/run/docker.sock",
    "/var/run/docker.sock",
];

/// Host paths that hold only programs, libraries and public configuration: reading them
/// (or anything inside) is low risk. Any other host path is at least medium.
pub const SYSTEM_READ: [&str; 24] = [
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/pki/tls/certs",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/os-release",
    "/etc/mime.types",
    "/etc/protocols",
];

/// The home directories of the caller: its passwd entry's (the real one, whatever
/// `$HOME` says) and `env_home` (`$HOME`) when that differs, each also as resolved.
/// Credentials are looked for under each.
#[must_use]
pub fn caller_homes(env_home: Option<&Path>) -> Vec<PathBuf> {
    let mut homes = Vec::new();
    if let Some(entry) = passwd_entry(nix::unistd::getuid().as_raw()) {
        homes.push(entry.home);
    }
    if let Some(h) = env_home
        && h.is_absolute()
        && h != Path::new("/")
        && !homes.iter().any(|x| x == h)
    {
        homes.push(h.to_path_buf());
    }
    // And where they really are (`/home` is a link to `/var/home` on some systems).
    let resolved: Vec<PathBuf> = homes
        .iter()
        .filter_map(|h| std::fs::canonicalize(h).ok())
        .filter(|c| !homes.contains(c) && c != Path::new("/"))
        .collect();
    homes.extend(resolved);
    // A system account's "home" in a system directory (`/bin`, `/usr/sbin`) holds no
    // credentials and must not make the system directories themselves personal.
    homes.retain(|h| !is_system_read(h));
    homes
}

/// One line of `/etc/passwd`, the parts mycelium needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Primary group.
    pub gid: u32,
    /// Home directory.
    pub home: PathBuf,
}

/// The `/etc/passwd` entry of `uid`, if it has one. Read directly (not through NSS, which
/// a static binary cannot load): directory-service users have none here.
#[must_use]
pub fn passwd_entry(uid: u32) -> Option<PasswdEntry> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    parse_passwd(&text, uid)
}

fn parse_passwd(text: &str, uid: u32) -> Option<PasswdEntry> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || f[2].parse::<u32>().ok()? != uid {
            return None;
        }
        Some(PasswdEntry {
            gid: f[3].parse().ok()?,
            home: PathBuf::from(f[5]),
        })
    })
}

/// Whether `a` is `b`, lies inside it, or contains it (component-wise).
#[must_use]
pub fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The credential location `p` is, lies inside or contains, if any: under one of `homes`
/// or on the system. `/` contains them all and is not reported here.
#[must_use]
pub fn credential_overlap(p: &Path, homes: &[PathBuf]) -> Option<PathBuf> {
    if p == Path::new("/") {
        return None;
    }
    // Other users' homes count too: `/home/<user>` of whatever path lies under /home.
    let other = home_under_homes_root(p);
    for home in homes.iter().chain(other.as_ref()) {
        for c in HOME_CREDENTIALS {
            let c = home.join(c);
            if overlaps(p, &c) {
                return Some(c);
            }
        }
    }
    SYSTEM_CREDENTIALS
        .iter()
        .map(Path::new)
        .find(|c| overlaps(p, c))
        .map(Path::to_path_buf)
}

/// Where every user's home directory usually is.
pub const HOMES_ROOT: &str = "/home";

/// Whether `p` is a home directory or contains one: one of `homes`, any user's home
/// directly under [`HOMES_ROOT`], [`HOMES_ROOT`] itself, or a parent of those.
#[must_use]
pub fn contains_home(p: &Path, homes: &[PathBuf]) -> bool {
    Path::new(HOMES_ROOT).starts_with(p)
        || p.parent() == Some(Path::new(HOMES_ROOT))
        || homes.iter().any(|h| h.starts_with(p))
}

/// `/home/<user>` when `p` is that directory or lies inside it.
fn home_under_homes_root(p: &Path) -> Option<PathBuf> {
    let user = p.strip_prefix(HOMES_ROOT).ok()?.components().next()?;
    Some(Path::new(HOMES_ROOT).join(user))
}

/// Whether `p` is one of [`SYSTEM_READ`] or inside one.
#[must_use]
pub fn is_system_read(p: &Path) -> bool {
    SYSTEM_READ.iter().any(|s| p.starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_give_gid_and_home() {
        let text = "root:x:0:0:root:/root:/bin/sh\nu:x:1001:100::/var/home/u:/bin/sh\nbad\n";
        assert_eq!(
            parse_passwd(text, 1001),
            Some(PasswdEntry {
                gid: 100,
                home: PathBuf::from("/var/home/u")
            })
        );
        assert_eq!(parse_passwd(text, 7), None);
    }

    #[test]
    fn credentials_are_found_inside_and_as_parents() {
        let homes = [PathBuf::from("/var/home/u")];
        let ssh = Some(PathBuf::from("/var/home/u/.ssh"));
        assert_eq!(
            credential_overlap(Path::new("/var/home/u/.ssh/id_ed25519"), &homes),
            ssh
        );
        assert_eq!(credential_overlap(Path::new("/var/home/u"), &homes), ssh);
        assert_eq!(credential_overlap(Path::new("/var"), &homes), ssh);
        assert_eq!(
            credential_overlap(Path::new("/etc"), &homes),
            Some(PathBuf::from("/etc/shadow"))
        );
        assert_eq!(
            credential_overlap(Path::new("/etc/ssh/sshd_config"), &homes),
            Some(PathBuf::from("/etc/ssh"))
        );
        assert_eq!(
            credential_overlap(Path::new("/var/home/u/src"), &homes),
            None
        );
        assert_eq!(credential_overlap(Path::new("/usr/lib"), &homes), None);
        assert_eq!(credential_overlap(Path::new("/"), &homes), None);
    }

    #[test]
    fn system_read_is_component_wise() {
        assert!(is_system_read(Path::new("/usr/lib/x")));
        assert!(is_system_read(Path::new("/lib64")));
        assert!(!is_system_read(Path::new("/usrx")));
        assert!(!is_system_read(Path::new("/etc")));
        assert!(!is_system_read(Path::new("/etc/ssl/private")));
    }

    #[test]
    fn homes_and_their_parents_contain_a_home() {
        let homes = [PathBuf::from("/var/home/u")];
        for p in [
            "/var/home/u",
            "/var/home",
            "/var",
            "/home",
            "/home/bob",
            "/",
        ] {
            assert!(contains_home(Path::new(p), &homes), "{p}");
        }
        for p in ["/var/home/u/src", "/home/other/src", "/var/tmp"] {
            assert!(!contains_home(Path::new(p), &homes), "{p}");
        }
    }
}

//! Where credentials live on a host, and which host paths are plain system files: the
//! tables both the risk level ([`super::assess`]) and the run-time workspace check
//! (`isolation::workspace`) are computed from.
//!
//! A leaf: it depends on nothing of ours and touches no kernel interface beyond reading
//! `/etc/passwd` (every account's home) and looking up whether a few credential paths
//! exist. One list per fact: a location added here is high risk to read *and* refused as a
//! workspace.
//!
//! Credentials are looked for under the home of **every** account in `/etc/passwd` (and
//! `$HOME`), wherever it is: `/home/u`, `/var/home/u`, `/opt/app`, `/srv/git`, `/var/www`,
//! `/var/lib/x`. Some accounts' "homes" are system directories (`/usr/sbin`, `/bin`, `/`,
//! `/dev`, `/nonexistent`, see [`SYSTEM_HOME_TREES`]); those must not make the system
//! directories themselves personal, so a grant of `/usr` stays low: their credential
//! entries (`/usr/sbin/.ssh`) still count when a path is one or lies inside one, but a path
//! *containing* one counts only when it exists.

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
pub const SYSTEM_CREDENTIALS: [&str; 34] = [
    // Password hashes (and their backup copies).
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    // Earlier password hashes of every user, kept by pam_pwhistory.
    "/etc/security/opasswd",
    // Host keys of the SSH server: whoever holds them can impersonate the host.
    "/etc/ssh",
    // Who may become root, and how.
    "/etc/sudoers",
    "/etc/sudoers.d",
    // Kerberos host key.
    "/etc/krb5.keytab",
    // TLS private keys: Debian's and Red Hat's layouts, and certbot's certificates' keys.
    "/etc/ssl/private",
    "/etc/pki/tls/private",
    "/etc/letsencrypt",
    // VPN private keys and pre-shared secrets: WireGuard, OpenVPN, IPsec, PPP.
    "/etc/wireguard",
    "/etc/openvpn",
    "/etc/ipsec.secrets",
    "/etc/ipsec.d/private",
    "/etc/ppp/chap-secrets",
    "/etc/ppp/pap-secrets",
    // Wi-Fi, VPN and 802.1X passwords of NetworkManager, wpa_supplicant and netplan.
    "/etc/NetworkManager/system-connections",
    "/etc/wpa_supplicant",
    "/etc/netplan",
    // Kubernetes control plane: cluster CA keys and admin kubeconfigs (kubeadm, k3s, RKE2).
    // (The kubelet's client keys are in /var/lib/kubelet/pki, inside /var/lib below.)
    "/etc/kubernetes",
    "/etc/rancher",
    // systemd credentials handed to services, at rest and decrypted.
    "/etc/credstore",
    "/etc/credstore.encrypted",
    "/run/credentials",
    // Directory-service bind passwords (SSSD); MySQL's maintenance account on Debian.
    "/etc/sssd",
    "/etc/mysql/debian.cnf",
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

/// Trees in which an account's "home" is a system directory, not a place where a person
/// keeps files: programs and libraries (daemon's `/usr/sbin`, bin's `/bin`, games'
/// `/usr/games`), kernel and device interfaces (sys's `/dev`), and the conventional
/// `/nonexistent`. `/` itself is one too. Containing such a home's credential entries
/// counts only when they exist (see the module docs).
pub const SYSTEM_HOME_TREES: [&str; 11] = [
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/dev",
    "/proc",
    "/sys",
    "/nonexistent",
];

/// Whether the home `h` is a system directory ([`SYSTEM_HOME_TREES`], or `/`) rather than
/// someone's own directory.
#[must_use]
pub fn is_system_home(h: &Path) -> bool {
    h == Path::new("/") || SYSTEM_HOME_TREES.iter().any(|t| h.starts_with(t))
}

/// Every account's home directory from the passwd text `passwd`, then `env_home`
/// (`$HOME`) when it is absolute and not already listed; as written, without duplicates,
/// in file order. Relative and empty home fields are skipped.
#[must_use]
pub fn homes_in_passwd(passwd: &str, env_home: Option<&Path>) -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = Vec::new();
    let entries = passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7).then(|| Path::new(f[5]))
    });
    for h in entries.chain(env_home) {
        if h.is_absolute() && !homes.iter().any(|x| x == h) {
            homes.push(h.to_path_buf());
        }
    }
    homes
}

/// The home directories credentials are looked for under: every account's in
/// `/etc/passwd` (the caller's real one among them, whatever `$HOME` says) and `env_home`
/// (`$HOME`), each also as resolved. System-directory homes ([`is_system_home`]) are kept:
/// the functions below treat them apart.
#[must_use]
pub fn homes(env_home: Option<&Path>) -> Vec<PathBuf> {
    // Unreadable /etc/passwd: only $HOME is known (credential_overlap still covers /home).
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut homes = homes_in_passwd(&passwd, env_home);
    // And where they really are (`/home` is a link to `/var/home` on some systems).
    let resolved: Vec<PathBuf> = homes
        .iter()
        .filter_map(|h| std::fs::canonicalize(h).ok())
        .collect();
    for c in resolved {
        if !homes.contains(&c) {
            homes.push(c);
        }
    }
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
/// (and any `/home/<user>`) or on the system. `/` contains them all and is not reported
/// here. Under a system-directory home ([`is_system_home`]), a location `p` merely contains
/// counts only when it exists.
#[must_use]
pub fn credential_overlap(p: &Path, homes: &[PathBuf]) -> Option<PathBuf> {
    credential_overlap_in(p, homes, &|c| std::fs::symlink_metadata(c).is_ok())
}

/// [`credential_overlap`], asking `exists` whether a path is there.
fn credential_overlap_in(
    p: &Path,
    homes: &[PathBuf],
    exists: &dyn Fn(&Path) -> bool,
) -> Option<PathBuf> {
    if p == Path::new("/") {
        return None;
    }
    // Users without a passwd entry (directory services) have homes too: `/home/<user>` of
    // whatever path lies under /home.
    let other = home_under_homes_root(p);
    for home in homes.iter().chain(other.as_ref()) {
        let system = is_system_home(home);
        for c in HOME_CREDENTIALS {
            let c = home.join(c);
            let hit = if p.starts_with(&c) {
                true
            } else if c.starts_with(p) {
                // `/usr` contains daemon's `/usr/sbin/.ssh` in name only, unless it is there.
                !system || exists(&c)
            } else {
                false
            };
            if hit {
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

/// Whether `p` is a home directory or contains one: one of `homes` that is not a system
/// directory ([`is_system_home`]), any user's home directly under [`HOMES_ROOT`],
/// [`HOMES_ROOT`] itself, or a parent of those.
#[must_use]
pub fn contains_home(p: &Path, homes: &[PathBuf]) -> bool {
    Path::new(HOMES_ROOT).starts_with(p)
        || p.parent() == Some(Path::new(HOMES_ROOT))
        || homes.iter().any(|h| !is_system_home(h) && h.starts_with(p))
}

/// The home among `homes` (not a system directory) that `p` is or lies inside, if any.
#[must_use]
pub fn personal_home_of<'a>(p: &Path, homes: &'a [PathBuf]) -> Option<&'a Path> {
    homes
        .iter()
        .filter(|h| !is_system_home(h))
        .find(|h| p.starts_with(h))
        .map(PathBuf::as_path)
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
    use pretty_assertions::assert_eq;

    use super::*;

    /// A host's accounts: system ones with system-directory homes, service accounts with
    /// homes in /opt, /srv, /var/www and /var/lib, people in /home and /var/home.
    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
games:x:5:60:games:/usr/games:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
appsvc:x:990:990::/opt/app:/bin/sh
git:x:991:991::/srv/git:/bin/sh
postgres:x:101:104::/var/lib/postgresql:/bin/bash
u:x:1001:100::/var/home/u:/bin/sh
bob:x:1002:100::/home/bob:/bin/sh
broken:x:7:7
relative:x:8:8::home/rel:/bin/sh
empty:x:9:9:::/bin/sh
";

    /// The homes of [`PASSWD`] for a caller whose `$HOME` is `env_home`.
    fn fixture_homes(env_home: Option<&str>) -> Vec<PathBuf> {
        homes_in_passwd(PASSWD, env_home.map(Path::new))
    }

    /// [`credential_overlap_in`] on [`PASSWD`]'s homes, where only `present` exist.
    fn overlap(p: &str, present: &[&str]) -> Option<String> {
        let exists = |c: &Path| present.iter().any(|x| Path::new(x) == c);
        credential_overlap_in(Path::new(p), &fixture_homes(None), &exists)
            .map(|c| c.display().to_string())
    }

    #[test]
    fn every_accounts_home_is_listed_then_home_env() {
        let listed: Vec<String> = fixture_homes(Some("/work/me"))
            .iter()
            .map(|h| h.display().to_string())
            .collect();
        assert_eq!(
            listed,
            vec![
                "/root",
                "/usr/sbin",
                "/bin",
                "/dev",
                "/usr/games",
                "/var/www",
                "/nonexistent",
                "/",
                "/opt/app",
                "/srv/git",
                "/var/lib/postgresql",
                "/var/home/u",
                "/home/bob",
                "/work/me",
            ]
        );
        // $HOME already listed, or relative, adds nothing.
        assert_eq!(fixture_homes(Some("/opt/app")), fixture_homes(None));
        assert_eq!(fixture_homes(Some("rel")), fixture_homes(None));
    }

    #[test]
    fn system_directory_homes_are_told_apart() {
        for h in [
            "/",
            "/usr/sbin",
            "/bin",
            "/dev",
            "/usr/games",
            "/nonexistent",
        ] {
            assert!(is_system_home(Path::new(h)), "{h}");
        }
        for h in [
            "/opt/app",
            "/srv/git",
            "/var/www",
            "/var/lib/postgresql",
            "/var/home/u",
            "/home/bob",
            "/root",
            "/usrx/u",
        ] {
            assert!(!is_system_home(Path::new(h)), "{h}");
        }
    }

    #[test]
    fn credentials_under_every_accounts_home_are_found_wherever_it_is() {
        let cases = [
            // Being one, lying inside one.
            ("/opt/app/.ssh", "/opt/app/.ssh"),
            ("/opt/app/.ssh/id_ed25519", "/opt/app/.ssh"),
            ("/srv/git/.ssh/authorized_keys", "/srv/git/.ssh"),
            ("/var/www/.ssh", "/var/www/.ssh"),
            ("/var/www/.aws/credentials", "/var/www/.aws"),
            ("/var/lib/postgresql/.gnupg", "/var/lib/postgresql/.gnupg"),
            ("/var/home/u/.kube/config", "/var/home/u/.kube"),
            ("/home/bob/.docker/config.json", "/home/bob/.docker"),
            // Containing one: the home, its parents.
            ("/opt/app", "/opt/app/.ssh"),
            ("/opt", "/opt/app/.ssh"),
            ("/srv", "/srv/git/.ssh"),
            ("/var/www", "/var/www/.ssh"),
            ("/var/home", "/var/home/u/.ssh"),
            // A user without a passwd entry under /home.
            ("/home/carol/.netrc", "/home/carol/.netrc"),
            // On the system.
            ("/etc/ssh/sshd_config", "/etc/ssh"),
        ];
        for (p, c) in cases {
            assert_eq!(overlap(p, &[]), Some(c.to_string()), "{p}");
        }
    }

    #[test]
    fn a_system_directory_home_does_not_make_system_directories_personal() {
        // daemon's home is /usr/sbin, bin's /bin, sys's /dev, games' /usr/games.
        for p in [
            "/usr",
            "/usr/sbin",
            "/usr/sbin/sshd",
            "/bin",
            "/usr/games",
            "/dev",
        ] {
            assert_eq!(overlap(p, &[]), None, "{p}");
            assert!(!contains_home(Path::new(p), &fixture_homes(None)), "{p}");
        }
        // Its credential entries are still credential locations, named or inside...
        assert_eq!(
            overlap("/usr/sbin/.ssh", &[]),
            Some("/usr/sbin/.ssh".to_string())
        );
        assert_eq!(
            overlap("/bin/.gnupg/private-keys-v1.d", &[]),
            Some("/bin/.gnupg".to_string())
        );
        // ...and containing them counts once they exist.
        assert_eq!(
            overlap("/usr", &["/usr/sbin/.ssh"]),
            Some("/usr/sbin/.ssh".to_string())
        );
        assert_eq!(
            overlap("/bin", &["/bin/.netrc"]),
            Some("/bin/.netrc".to_string())
        );
        // A person's home counts whether its credentials exist or not.
        assert_eq!(overlap("/opt", &[]), Some("/opt/app/.ssh".to_string()));
    }

    #[test]
    fn host_credential_stores_are_credential_locations() {
        let homes = fixture_homes(None);
        for (p, c) in [
            ("/etc/security/opasswd", "/etc/security/opasswd"),
            ("/etc/wireguard/wg0.conf", "/etc/wireguard"),
            (
                "/etc/NetworkManager/system-connections/home.nmconnection",
                "/etc/NetworkManager/system-connections",
            ),
            (
                "/etc/NetworkManager",
                "/etc/NetworkManager/system-connections",
            ),
            ("/etc/letsencrypt/live/x/privkey.pem", "/etc/letsencrypt"),
            ("/etc/ssl/private", "/etc/ssl/private"),
            ("/etc/ssl", "/etc/ssl/private"),
            ("/etc/pki/tls/private/host.key", "/etc/pki/tls/private"),
            ("/etc/kubernetes/admin.conf", "/etc/kubernetes"),
            ("/etc/rancher/k3s/k3s.yaml", "/etc/rancher"),
            ("/var/lib/kubelet/pki", "/var/lib"),
            ("/etc/openvpn/client.key", "/etc/openvpn"),
            ("/etc/wpa_supplicant", "/etc/wpa_supplicant"),
            ("/etc/credstore", "/etc/credstore"),
            ("/run/credentials/app.service", "/run/credentials"),
            // root's home is a home like any other, and a system credential location.
            ("/root", "/root/.ssh"),
            ("/etc/security", "/etc/security/opasswd"),
        ] {
            assert_eq!(
                credential_overlap(Path::new(p), &homes),
                Some(PathBuf::from(c)),
                "{p}"
            );
        }
        // Positive twins: public configuration next to them.
        for p in [
            "/etc/ssl/certs",
            "/etc/pki/tls/certs",
            "/etc/security/limits.conf",
            "/etc/NetworkManager/NetworkManager.conf",
        ] {
            assert_eq!(credential_overlap(Path::new(p), &homes), None, "{p}");
        }
    }

    #[test]
    fn every_persons_home_contains_a_home_and_is_personal() {
        let homes = fixture_homes(None);
        for p in [
            "/opt/app", "/opt", "/srv/git", "/srv", "/var/www", "/var/lib",
        ] {
            assert!(contains_home(Path::new(p), &homes), "{p}");
        }
        assert_eq!(
            personal_home_of(Path::new("/opt/app/lib/x.so"), &homes),
            Some(Path::new("/opt/app"))
        );
        assert_eq!(personal_home_of(Path::new("/opt/other"), &homes), None);
        assert_eq!(personal_home_of(Path::new("/usr/sbin/sshd"), &homes), None);
        assert_eq!(personal_home_of(Path::new("/etc"), &homes), None);
    }

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

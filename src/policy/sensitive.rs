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
//! `/var/lib/x`. Homes come in three kinds ([`home_kind`]):
//!
//! - a system directory some account calls home ([`HomeKind::System`]: daemon's
//!   `/usr/sbin`, bin's `/bin`, `/`, sys's `/dev`, `/nonexistent`): it must not make the
//!   system directories personal, so a grant of `/usr` stays low. Its credential entries
//!   (`/usr/sbin/.ssh`) still count when a path is one or lies inside one, but a path
//!   *containing* one counts only when it exists;
//! - a home of its own inside a system tree ([`HomeKind::InSystemTree`]: `/usr/local/rtsvc`,
//!   `/usr/share/httpd`): a person's files (a grant of it, or inside it, is at least
//!   medium, and the home contains its credential entries whether they exist or not), while
//!   its parents (`/usr/local`, `/usr`) contain them only when they exist;
//! - anywhere else ([`HomeKind::Personal`]): the home and each of its parents hold its
//!   credentials, whether they exist or not.
//!
//! The names of [`HOME_CREDENTIALS`] also count **anywhere** on the host, in no home at all:
//! a path that is, or lies inside, a component named like one (`/opt/deploy/.ssh/id_rsa`,
//! `/etc/ssl/certs/.ssh`) is a credential location ([`named_credential`]), and a directory
//! that directly holds an existing one (`/opt/deploy` when `/opt/deploy/.ssh` is there) holds
//! credentials ([`contained_credential`], one `symlink_metadata` per name). The limit:
//! nothing below a granted directory is scanned, so `/opt` holding `/opt/deploy/.ssh` (two
//! levels down, in no account's home) is not found.

use std::path::{Path, PathBuf};

/// Entries of a home directory whose contents are credentials, relative to the home; each
/// with why. Reading one, anything inside one, or a directory that contains one (the home
/// itself) is high risk. The names count anywhere on the host, not only in a home: a path
/// that is or lies inside a component named like one ([`named_credential`]) is a credential
/// location, and a granted directory that directly holds an existing one
/// ([`contained_credential`]) holds credentials (`/opt/deploy/.ssh` of a deploy key that
/// belongs to no account's home).
pub const HOME_CREDENTIALS: &[(&str, &str)] = &[
    (
        ".ssh",
        "private keys, agent sockets, authorized_keys (writing it lets anyone log in)",
    ),
    (".gnupg", "GnuPG private keys and trust database"),
    // Cloud, cluster and storage credentials.
    (".aws", "AWS access keys and SSO tokens"),
    (".azure", "Azure CLI tokens"),
    (".config/gcloud", "Google Cloud credentials and tokens"),
    (".kube", "Kubernetes cluster credentials (kubeconfig)"),
    (".docker", "container registry logins (config.json)"),
    (
        ".config/containers/auth.json",
        "Podman and Buildah registry logins",
    ),
    (".s3cfg", "s3cmd's S3 access keys"),
    (".boto", "gsutil and boto storage keys"),
    (
        ".config/rclone",
        "rclone's cloud storage tokens and passwords",
    ),
    (
        ".terraform.d/credentials.tfrc.json",
        "Terraform Cloud API tokens",
    ),
    (".vault-token", "HashiCorp Vault token"),
    // Passwords for machines, mail and databases, in plain text.
    (
        ".netrc",
        "passwords for machines (curl, git, ftp) in plain text",
    ),
    (
        ".authinfo",
        "Emacs and Gnus passwords for mail and news servers",
    ),
    (
        ".authinfo.gpg",
        "the same, encrypted to the user's own GnuPG key",
    ),
    (".msmtprc", "msmtp's SMTP password"),
    (".pgpass", "PostgreSQL passwords"),
    (".my.cnf", "MySQL client password"),
    // Package registries.
    (".npmrc", "npm registry tokens"),
    (".yarnrc.yml", "Yarn registry tokens (npmAuthToken)"),
    (".pypirc", "PyPI upload passwords and tokens"),
    (".cargo/credentials", "crates.io token (older file name)"),
    (".cargo/credentials.toml", "crates.io token"),
    (".gem/credentials", "RubyGems API key"),
    (".m2/settings.xml", "Maven repository passwords"),
    (
        ".gradle/gradle.properties",
        "Gradle repository and signing passwords",
    ),
    // Model hubs and AI tools.
    (".huggingface/token", "Hugging Face token (older location)"),
    (".cache/huggingface/token", "Hugging Face token"),
    (".kaggle/kaggle.json", "Kaggle API key"),
    (".claude/.credentials.json", "Claude Code's OAuth tokens"),
    // Git and GitHub tokens.
    (
        ".git-credentials",
        "Git passwords and tokens in plain text (credential store)",
    ),
    (".config/git/credentials", "the same, at its XDG location"),
    (".config/gh", "GitHub CLI OAuth token"),
    (".config/hub", "hub's GitHub token"),
    // Password managers and keyrings.
    (".password-store", "pass's encrypted passwords"),
    (".config/op", "1Password CLI configuration and sessions"),
    (".config/Bitwarden CLI", "Bitwarden CLI's vault and session"),
    (
        ".local/share/keyrings",
        "GNOME keyring: every application's saved passwords",
    ),
    (".gnome2/keyrings", "GNOME keyring at its older location"),
    (
        ".pki",
        "NSS key database (client certificates and their keys)",
    ),
    // Browser and mail profiles: saved passwords, session cookies, mail.
    (
        ".mozilla",
        "Firefox profiles: saved passwords, session cookies",
    ),
    (
        ".thunderbird",
        "Thunderbird profiles: mail passwords and mail",
    ),
    (
        ".config/google-chrome",
        "Chrome profiles: saved passwords, session cookies",
    ),
    (
        ".config/chromium",
        "Chromium profiles: saved passwords, session cookies",
    ),
    (
        ".config/BraveSoftware",
        "Brave profiles: saved passwords, session cookies",
    ),
    // Histories: passwords and tokens typed on command lines.
    (
        ".bash_history",
        "shell history: commands typed with passwords and tokens",
    ),
    (
        ".zsh_history",
        "shell history: commands typed with passwords and tokens",
    ),
    (
        ".local/share/fish/fish_history",
        "shell history: commands typed with passwords and tokens",
    ),
    (
        ".python_history",
        "Python REPL history: keys pasted into it",
    ),
    (
        ".psql_history",
        "psql history: ALTER ROLE ... PASSWORD statements",
    ),
    (
        ".mysql_history",
        "mysql history: CREATE USER ... IDENTIFIED BY statements",
    ),
    // mycelium's own state (consent store, policies), default location.
    (
        ".mycelium",
        "mycelium's own state: consent store and policies",
    ),
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

/// Trees in which homes are told apart from the directories around them: programs and
/// libraries. A home that is one of [`SYSTEM_HOME_DIRS`] is a system directory; any other
/// home in them (`/usr/local/rtsvc`) is someone's ([`HomeKind::InSystemTree`]).
pub const SYSTEM_HOME_TREES: [&str; 7] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// The standard directories of [`SYSTEM_HOME_TREES`] that accounts call home (daemon's
/// `/usr/sbin`, bin's `/bin`, games' `/usr/games`) and that hold programs, libraries and
/// shared data, never one person's files.
pub const SYSTEM_HOME_DIRS: [&str; 22] = [
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/games",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/share",
    "/usr/src",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/local/games",
    "/usr/local/lib",
    "/usr/local/share",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
];

/// Trees where no home is anyone's: kernel and device interfaces (sys's `/dev`, rtkit's
/// `/proc`, `/dev/null`) and the conventional `/nonexistent`.
pub const NON_HOME_TREES: [&str; 4] = ["/dev", "/proc", "/sys", "/nonexistent"];

/// What kind of place an account's home is (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeKind {
    /// A system directory ([`SYSTEM_HOME_DIRS`], [`NON_HOME_TREES`], or `/`).
    System,
    /// A home of its own inside one of [`SYSTEM_HOME_TREES`] (`/usr/local/rtsvc`).
    InSystemTree,
    /// Anywhere else (`/home/u`, `/var/home/u`, `/opt/app`, `/srv/git`, `/root`).
    Personal,
}

/// The kind of the home `h`.
#[must_use]
pub fn home_kind(h: &Path) -> HomeKind {
    if h == Path::new("/")
        || SYSTEM_HOME_DIRS.iter().any(|d| h == Path::new(d))
        || NON_HOME_TREES.iter().any(|t| h.starts_with(t))
    {
        HomeKind::System
    } else if SYSTEM_HOME_TREES.iter().any(|t| h.starts_with(t)) {
        HomeKind::InSystemTree
    } else {
        HomeKind::Personal
    }
}

/// Whether the home `h` is a system directory ([`HomeKind::System`]) rather than someone's
/// own directory.
#[must_use]
pub fn is_system_home(h: &Path) -> bool {
    home_kind(h) == HomeKind::System
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

/// A home's entry that is a symbolic link, and where it leads: the dotfiles layout
/// (`~/.bashrc -> dotfiles/bashrc`, `~/.ssh -> sync/ssh`) puts the user's configuration and
/// credentials in directories that are not hidden themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedEntry {
    /// The link, as it sits in the home (`/home/u/.ssh`).
    pub entry: PathBuf,
    /// Where it leads, resolved.
    pub target: PathBuf,
    /// Whether the entry is one of [`HOME_CREDENTIALS`] (else it is configuration).
    pub credential: bool,
}

/// Every hidden entry of the homes among `homes` that exist and are not system directories
/// which is a link, and every credential entry deeper in them (`.config/gh`) that is one,
/// with where each leads. A link that leads nowhere (dangling) leads where it points.
#[must_use]
pub fn linked_entries(homes: &[PathBuf]) -> Vec<LinkedEntry> {
    let mut out = Vec::new();
    // `is_link`: what the home's listing said, when it was listed.
    let mut add = |entry: PathBuf, credential: bool, is_link: Option<bool>| {
        let is_link = is_link.unwrap_or_else(|| {
            std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink())
        });
        if !is_link {
            return;
        }
        let target = std::fs::canonicalize(&entry).ok().or_else(|| {
            let to = std::fs::read_link(&entry).ok()?;
            Some(entry.parent()?.join(to))
        });
        if let Some(target) = target
            && !out
                .iter()
                .any(|e: &LinkedEntry| e.target == target && e.entry == entry)
        {
            out.push(LinkedEntry {
                entry,
                target,
                credential,
            });
        }
    };
    for home in homes.iter().filter(|h| home_kind(h) != HomeKind::System) {
        let Ok(dir) = std::fs::read_dir(home) else {
            continue;
        };
        let mut hidden = Vec::new();
        for e in dir.flatten() {
            let name = e.file_name();
            if name.as_encoded_bytes().starts_with(b".") {
                let credential = HOME_CREDENTIALS
                    .iter()
                    .any(|(c, _)| name == first_component(c));
                // The listing's own type (no `lstat`), unless the file system gave none.
                let is_link = e.file_type().ok().map(|t| t.is_symlink());
                add(home.join(&name), credential, is_link);
                hidden.push(name);
            }
        }
        // Deeper entries (`.config/gh`) only under a hidden directory the home has.
        for (c, _) in HOME_CREDENTIALS.iter().filter(|(c, _)| c.contains('/')) {
            if hidden.iter().any(|n| n == first_component(c)) {
                add(home.join(c), true, None);
            }
        }
    }
    out
}

/// The credential entry among `linked` ([`linked_entries`]) that leads, through a link, to
/// where `p` is, lies inside or contains: `/srv/sync/ssh` when `~/.ssh -> /srv/sync/ssh`.
#[must_use]
pub fn linked_credential<'a>(p: &Path, linked: &'a [LinkedEntry]) -> Option<&'a LinkedEntry> {
    linked
        .iter()
        .find(|e| e.credential && overlaps(p, &e.target))
}

/// The credential location `p` is, lies inside or contains, if any: under one of `homes`
/// (and any `/home/<user>`), named like a home's credential entry anywhere
/// ([`named_credential`]), or on the system. `/` contains them all and is not reported
/// here. How a location `p` merely contains counts depends on its home's kind
/// ([`home_kind`], see the module docs).
#[must_use]
pub fn credential_overlap(p: &Path, homes: &[PathBuf]) -> Option<PathBuf> {
    credential_overlap_in(p, homes, &|c| std::fs::symlink_metadata(c).is_ok())
}

/// [`credential_overlap`], asking `exists` whether a path is there (a rating of many
/// grants asks about the same paths: see [`Probes`]).
pub fn credential_overlap_in(
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
        // A credential entry of `home` can only be, hold or lie in `p` when `p` and `home`
        // are on one line: skip the others without building their entries. `inside` is
        // where `p` is in the home; `None` when `p` holds the whole home.
        let inside = p.strip_prefix(home).ok();
        if inside.is_none() && !home.starts_with(p) {
            continue;
        }
        let kind = home_kind(home);
        let mut present = Present::new(home, exists);
        for (c, _) in HOME_CREDENTIALS {
            let entry = Path::new(c);
            let hit = match inside {
                // `p` is the entry or lies inside it.
                Some(rel) if rel.starts_with(entry) => true,
                // `p`, in the home, holds the entry. The home itself holds its
                // credentials; a system directory (`/usr/sbin` of daemon) in name only,
                // unless it is there.
                Some(rel) if entry.starts_with(rel) => kind != HomeKind::System || present.has(c),
                Some(_) => false,
                // `p` holds the whole home: a person's home holds its credentials; `/usr`
                // holds `/usr/local/rtsvc/.ssh` or `/usr/sbin/.ssh` in name only, unless
                // it is there.
                None => kind == HomeKind::Personal || present.has(c),
            };
            if hit {
                return Some(home.join(c));
            }
        }
    }
    named_credential(p).or_else(|| {
        SYSTEM_CREDENTIALS
            .iter()
            .map(Path::new)
            .find(|c| overlaps(p, c))
            .map(Path::to_path_buf)
    })
}

/// The part of `p` named like one of [`HOME_CREDENTIALS`] when `p` is it or lies inside
/// it, wherever it is on the host: `/opt/deploy/.ssh/id_ed25519` → `/opt/deploy/.ssh`,
/// `/srv/ci/.config/gh/hosts.yml` → `/srv/ci/.config/gh`. A name is a credential entry in
/// no home as much as in one: a deploy key in `/opt/deploy/.ssh` is still a key.
#[must_use]
pub fn named_credential(p: &Path) -> Option<PathBuf> {
    let parts: Vec<std::path::Component<'_>> = p.components().collect();
    // Outermost first, so `/x/.ssh/.ssh` reports `/x/.ssh`: the entry's components are
    // looked for from each position of `p`'s.
    (0..parts.len()).find_map(|i| {
        HOME_CREDENTIALS.iter().find_map(|(c, _)| {
            let n = c.split('/').count();
            let rest = parts.get(i..i + n)?;
            let matches = c
                .split('/')
                .zip(rest)
                .all(|(want, got)| got.as_os_str() == want);
            matches.then(|| parts[..i + n].iter().collect())
        })
    })
}

/// A credential entry ([`HOME_CREDENTIALS`]) that exists directly in the directory `dir`:
/// `dir/.ssh`, `dir/.config/gh`, and for a `dir` that is itself the start of a longer
/// entry (`/srv/ci/.config`), the rest of it (`/srv/ci/.config/gh`). One
/// `symlink_metadata` per name, nothing scanned deeper: `/opt` holding
/// `/opt/deploy/.ssh` is not found here.
#[must_use]
pub fn contained_credential(dir: &Path) -> Option<PathBuf> {
    contained_credential_in(dir, &|c| std::fs::symlink_metadata(c).is_ok())
}

/// [`contained_credential`], asking `exists` whether a path is there.
pub fn contained_credential_in(dir: &Path, exists: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    if dir == Path::new("/") {
        return None;
    }
    // `dir`'s components, last first.
    let tail: Vec<&std::ffi::OsStr> = dir.iter().rev().collect();
    let mut present = Present::new(dir, exists);
    HOME_CREDENTIALS.iter().find_map(|(c, _)| {
        if present.has(c) {
            return Some(dir.join(c));
        }
        // `dir` may already end with the entry's first components (`.config` of
        // `.config/gh`): what remains of the entry is then looked for in it.
        let parts: Vec<&str> = c.split('/').collect();
        (1..parts.len())
            .filter(|&j| j <= tail.len() && (0..j).all(|k| tail[k] == parts[j - 1 - k]))
            .map(|j| dir.join(parts[j..].join("/")))
            .find(|candidate| exists(candidate))
    })
}

/// Whether paths are there, each looked at once (`lstat`) for as long as this lives: one
/// risk rating asks about the same credential names under the same directories for
/// several grants (`/bin` and where it leads, `/usr` and the homes inside it).
#[derive(Debug, Default)]
pub struct Probes {
    seen: std::cell::RefCell<std::collections::HashMap<Vec<u8>, bool>>,
}

impl Probes {
    /// Whether something is at `p` (a link counts, wherever it leads).
    #[must_use]
    pub fn exists(&self, p: &Path) -> bool {
        let key = p.as_os_str().as_encoded_bytes();
        if let Some(&there) = self.seen.borrow().get(key) {
            return there;
        }
        let there = std::fs::symlink_metadata(p).is_ok();
        self.seen.borrow_mut().insert(key.to_vec(), there);
        there
    }
}

/// The first component of a credential entry (`.config` of `.config/gh`).
fn first_component(entry: &str) -> &str {
    entry.split('/').next().unwrap_or(entry)
}

/// Whether credential entries are there under one directory, asking `exists` once per
/// first component: under an absent `.config`, no `.config/gh` is looked for.
struct Present<'a> {
    base: &'a Path,
    exists: &'a dyn Fn(&Path) -> bool,
    firsts: Vec<(&'static str, bool)>,
}

impl<'a> Present<'a> {
    fn new(base: &'a Path, exists: &'a dyn Fn(&Path) -> bool) -> Self {
        Present {
            base,
            exists,
            firsts: Vec::new(),
        }
    }

    /// Whether `base/entry` is there.
    fn has(&mut self, entry: &'static str) -> bool {
        let first = first_component(entry);
        let known = self.firsts.iter().find(|(f, _)| *f == first).map(|k| k.1);
        let first_there = known.unwrap_or_else(|| {
            let there = (self.exists)(&self.base.join(first));
            self.firsts.push((first, there));
            there
        });
        first_there && (first.len() == entry.len() || (self.exists)(&self.base.join(entry)))
    }
}

/// Where every user's home directory usually is.
pub const HOMES_ROOT: &str = "/home";

/// Whether `p` is a home directory or contains one: one of `homes` that is a person's
/// ([`HomeKind::Personal`]), any user's home directly under [`HOMES_ROOT`], [`HOMES_ROOT`]
/// itself, or a parent of those. Homes inside system trees do not make `/usr` a parent of
/// homes; their own grants are rated by [`credential_overlap`] and [`personal_home_of`].
#[must_use]
pub fn contains_home(p: &Path, homes: &[PathBuf]) -> bool {
    Path::new(HOMES_ROOT).starts_with(p)
        || p.parent() == Some(Path::new(HOMES_ROOT))
        || homes
            .iter()
            .any(|h| h.starts_with(p) && home_kind(h) == HomeKind::Personal)
}

/// The home among `homes` (not a system directory) that `p` is or lies inside, if any:
/// a person's home anywhere, `/usr/local/rtsvc` in a system tree too.
#[must_use]
pub fn personal_home_of<'a>(p: &Path, homes: &'a [PathBuf]) -> Option<&'a Path> {
    // The cheap test first: most homes are not on `p`'s line at all.
    homes
        .iter()
        .filter(|h| p.starts_with(h))
        .find(|h| !is_system_home(h))
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
rtsvc:x:993:993::/usr/local/rtsvc:/bin/sh
httpd:x:48:48::/usr/share/httpd:/sbin/nologin
null:x:10:10::/dev/null:/bin/false
broken:x:7:7
relative:x:8:8::home/rel:/bin/sh
empty:x:9:9:::/bin/sh
";

    /// The homes of [`PASSWD`] for a caller whose `$HOME` is `env_home`.
    fn fixture_homes(env_home: Option<&str>) -> Vec<PathBuf> {
        homes_in_passwd(PASSWD, env_home.map(Path::new))
    }

    /// [`credential_overlap_in`] on [`PASSWD`]'s homes, where only `present` exist (and
    /// the directories on their way).
    fn overlap(p: &str, present: &[&str]) -> Option<String> {
        let exists = |c: &Path| present.iter().any(|x| Path::new(x).starts_with(c));
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
                "/usr/local/rtsvc",
                "/usr/share/httpd",
                "/dev/null",
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

    #[test]
    fn homes_are_system_directories_homes_in_system_trees_or_personal() {
        let kinds: Vec<(&str, HomeKind)> = [
            "/",
            "/usr/sbin",
            "/usr/games",
            "/bin",
            "/usr/local",
            "/dev",
            "/dev/null",
            "/proc",
            "/nonexistent",
            "/usr/local/rtsvc",
            "/usr/share/httpd",
            "/usr/lib/svc/home",
            "/opt/app",
            "/var/www",
            "/root",
            "/usrx/u",
        ]
        .into_iter()
        .map(|h| (h, home_kind(Path::new(h))))
        .collect();
        use HomeKind::{InSystemTree, Personal, System};
        assert_eq!(
            kinds,
            vec![
                ("/", System),
                ("/usr/sbin", System),
                ("/usr/games", System),
                ("/bin", System),
                ("/usr/local", System),
                ("/dev", System),
                ("/dev/null", System),
                ("/proc", System),
                ("/nonexistent", System),
                ("/usr/local/rtsvc", InSystemTree),
                ("/usr/share/httpd", InSystemTree),
                ("/usr/lib/svc/home", InSystemTree),
                ("/opt/app", Personal),
                ("/var/www", Personal),
                ("/root", Personal),
                ("/usrx/u", Personal),
            ]
        );
    }

    #[test]
    fn a_home_inside_a_system_tree_is_personal_but_not_its_parents() {
        let homes = fixture_homes(None);
        // The home itself holds its credential entries, named or not; inside it they count.
        for (p, c) in [
            ("/usr/local/rtsvc", "/usr/local/rtsvc/.ssh"),
            ("/usr/local/rtsvc/.ssh", "/usr/local/rtsvc/.ssh"),
            ("/usr/local/rtsvc/.ssh/id_ed25519", "/usr/local/rtsvc/.ssh"),
            ("/usr/local/rtsvc/.config/gh", "/usr/local/rtsvc/.config/gh"),
            ("/usr/share/httpd", "/usr/share/httpd/.ssh"),
        ] {
            assert_eq!(overlap(p, &[]), Some(c.to_string()), "{p}");
        }
        // Its files are that account's.
        assert_eq!(
            personal_home_of(Path::new("/usr/local/rtsvc/data/x"), &homes),
            Some(Path::new("/usr/local/rtsvc"))
        );
        assert_eq!(
            personal_home_of(Path::new("/usr/local/rtsvc"), &homes),
            Some(Path::new("/usr/local/rtsvc"))
        );
        // Its parents are not homes, and hold its credentials only once they exist.
        for p in ["/usr/local", "/usr", "/usr/share"] {
            assert!(!contains_home(Path::new(p), &homes), "{p}");
            assert_eq!(personal_home_of(Path::new(p), &homes), None, "{p}");
            assert_eq!(overlap(p, &[]), None, "{p}");
        }
        assert_eq!(
            overlap("/usr/local", &["/usr/local/rtsvc/.aws"]),
            Some("/usr/local/rtsvc/.aws".to_string())
        );
        assert_eq!(
            overlap("/usr", &["/usr/local/rtsvc/.pgpass"]),
            Some("/usr/local/rtsvc/.pgpass".to_string())
        );
        // Positive twin: a person's home holds them whether they exist or not.
        assert_eq!(overlap("/opt/app", &[]), Some("/opt/app/.ssh".to_string()));
    }

    #[test]
    fn credential_names_count_anywhere_on_the_host() {
        for (p, c) in [
            ("/opt/deploy/.ssh", "/opt/deploy/.ssh"),
            ("/opt/deploy/.ssh/id_ed25519", "/opt/deploy/.ssh"),
            ("/opt/deploy/.aws", "/opt/deploy/.aws"),
            ("/usr/local/.ssh", "/usr/local/.ssh"),
            ("/etc/ssl/certs/.ssh", "/etc/ssl/certs/.ssh"),
            ("/srv/ci/.config/gh/hosts.yml", "/srv/ci/.config/gh"),
            (
                "/data/x/.cache/huggingface/token",
                "/data/x/.cache/huggingface/token",
            ),
            (
                "/mnt/backup/.password-store/mail.gpg",
                "/mnt/backup/.password-store",
            ),
            ("/opt/browser/.mozilla/firefox", "/opt/browser/.mozilla"),
            ("/var/tmp/.kube/config", "/var/tmp/.kube"),
            (
                "/srv/x/.config/Bitwarden CLI/data.json",
                "/srv/x/.config/Bitwarden CLI",
            ),
            ("/x/.ssh/y/.ssh", "/x/.ssh"),
            ("/.ssh", "/.ssh"),
        ] {
            assert_eq!(
                named_credential(Path::new(p)),
                Some(PathBuf::from(c)),
                "{p}"
            );
            assert_eq!(overlap(p, &[]), Some(c.to_string()), "{p}");
        }
        // Positive twins: names that only look alike, and parents of an entry's name.
        for p in [
            "/opt/deploy",
            "/opt/deploy/ssh",
            "/opt/deploy/.sshd",
            "/opt/deploy/x.ssh",
            "/etc/ssl/certs",
            "/srv/ci/.config",
            "/srv/ci/.config/ghost",
            "/data/x/.cache/huggingface",
            "/opt/.cargo/registry",
            "/usr/local",
        ] {
            assert_eq!(named_credential(Path::new(p)), None, "{p}");
            assert_eq!(overlap(p, &[]), None, "{p}");
        }
    }

    /// [`contained_credential_in`] where only `present` exist (and the directories on
    /// their way).
    fn contained(dir: &str, present: &[&str]) -> Option<String> {
        let exists = |c: &Path| present.iter().any(|x| Path::new(x).starts_with(c));
        contained_credential_in(Path::new(dir), &exists).map(|c| c.display().to_string())
    }

    #[test]
    fn a_directory_directly_holding_a_credential_entry_is_found() {
        for (dir, present, c) in [
            ("/opt/deploy", "/opt/deploy/.ssh", "/opt/deploy/.ssh"),
            ("/usr/local", "/usr/local/.ssh", "/usr/local/.ssh"),
            ("/srv/ci", "/srv/ci/.config/gh", "/srv/ci/.config/gh"),
            (
                "/srv/ci/.config",
                "/srv/ci/.config/gh",
                "/srv/ci/.config/gh",
            ),
            (
                "/srv/m/.cache",
                "/srv/m/.cache/huggingface/token",
                "/srv/m/.cache/huggingface/token",
            ),
            (
                "/srv/m/.cache/huggingface",
                "/srv/m/.cache/huggingface/token",
                "/srv/m/.cache/huggingface/token",
            ),
            ("/srv/app", "/srv/app/.pgpass", "/srv/app/.pgpass"),
            (
                "/srv/app",
                "/srv/app/.bash_history",
                "/srv/app/.bash_history",
            ),
        ] {
            assert_eq!(contained(dir, &[present]), Some(c.to_string()), "{dir}");
        }
        // Positive twins: nothing there; deeper than one level (the documented limit);
        // an entry's prefix that is not the directory's tail; `/`.
        for (dir, present) in [
            ("/usr", "/nowhere"),
            ("/opt", "/opt/deploy/.ssh"),
            ("/srv", "/srv/ci/.config/gh"),
            ("/srv/ci/config", "/srv/ci/config/gh"),
            ("/", "/.ssh"),
        ] {
            assert_eq!(contained(dir, &[present]), None, "{dir}");
        }
    }

    #[test]
    fn contained_credentials_are_looked_up_on_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let deploy = dir.path().join("deploy");
        std::fs::create_dir_all(deploy.join(".ssh")).unwrap();
        std::fs::write(deploy.join(".ssh/id_ed25519"), "key").unwrap();
        let plain = dir.path().join("plain");
        std::fs::create_dir_all(plain.join("sub/.ssh")).unwrap();
        assert_eq!(contained_credential(&deploy), Some(deploy.join(".ssh")));
        // A dangling link is an entry too: it is looked at, not followed.
        let linked = dir.path().join("linked");
        std::fs::create_dir(&linked).unwrap();
        std::os::unix::fs::symlink("/nonexistent-target", linked.join(".netrc")).unwrap();
        assert_eq!(contained_credential(&linked), Some(linked.join(".netrc")));
        // Positive twin: one level deeper is not scanned.
        assert_eq!(contained_credential(&plain), None);
    }

    #[test]
    fn every_home_credential_entry_is_relative_has_a_reason_and_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (c, why) in HOME_CREDENTIALS {
            assert!(Path::new(c).is_relative() && c.starts_with('.'), "{c}");
            assert!(!why.is_empty(), "{c}");
            assert!(seen.insert(*c), "{c} listed twice");
        }
    }
    #[test]
    fn linked_entries_are_followed_to_where_they_lead() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let home = root.join("opt/u");
        for d in [
            "opt/u/sync/ssh",
            "opt/u/dotfiles",
            "opt/u/.config",
            "gh-real",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(home.join("dotfiles/bashrc"), "").unwrap();
        std::os::unix::fs::symlink("sync/ssh", home.join(".ssh")).unwrap();
        std::os::unix::fs::symlink("dotfiles/bashrc", home.join(".bashrc")).unwrap();
        std::os::unix::fs::symlink(root.join("gh-real"), home.join(".config/gh")).unwrap();
        // A real hidden directory is no link: not listed.
        std::fs::create_dir(home.join(".cache")).unwrap();
        let mut got = linked_entries(std::slice::from_ref(&home));
        got.sort_by(|a, b| a.entry.cmp(&b.entry));
        let e = |entry: &str, target: PathBuf, credential| LinkedEntry {
            entry: home.join(entry),
            target,
            credential,
        };
        assert_eq!(
            got,
            vec![
                e(".bashrc", home.join("dotfiles/bashrc"), false),
                e(".config/gh", root.join("gh-real"), true),
                e(".ssh", home.join("sync/ssh"), true),
            ]
        );
        // Reading where a credential entry leads is reading the credential.
        let linked = linked_entries(std::slice::from_ref(&home));
        let entry = |p: &Path| linked_credential(p, &linked).map(|e| e.entry.clone());
        assert_eq!(
            entry(&home.join("sync/ssh/id_ed25519")),
            Some(home.join(".ssh"))
        );
        assert_eq!(entry(&home.join("sync")), Some(home.join(".ssh")));
        // Twins: where configuration leads is no credential; a neighbour is nothing.
        assert_eq!(entry(&home.join("dotfiles")), None);
        assert_eq!(entry(&root.join("opt/other")), None);
    }
}

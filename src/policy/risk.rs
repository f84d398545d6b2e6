//! The risk level of a policy, computed from what it grants, never declared.
//!
//! Each rule below adds a reason with its own level; the policy's level is the highest.
//! Consent is required at or above a configured level, so every rule here decides when a
//! human is asked: each carries a comment on why it sits at its level.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{GrantPath, NetworkMode, Policy, sensitive};

/// How much an agent could do to the host if it were hostile.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Reads only what it is given, reaches nothing, inherits nothing sensitive.
    Low,
    /// Changes the user's files (the workspace) or reads personal data.
    Medium,
    /// Can reach the network, write outside the workspace, hold secrets, or runs with a
    /// relaxed system-call filter.
    High,
}

impl RiskLevel {
    /// `low`, `medium` or `high`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }

    /// Parse `low`, `medium` or `high`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(RiskLevel::Low),
            "medium" => Some(RiskLevel::Medium),
            "high" => Some(RiskLevel::High),
            _ => None,
        }
    }
}

impl std::fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason contributing to the level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskReason {
    /// The level this reason alone implies.
    pub level: RiskLevel,
    /// In plain words.
    pub text: String,
}

/// The computed risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Risk {
    /// The highest level of any reason (low when there is none).
    pub level: RiskLevel,
    /// Every reason, highest first.
    pub reasons: Vec<RiskReason>,
}

/// Compute the risk of a policy for this caller: credential locations are looked for
/// under every account's home in `/etc/passwd` (the caller's real one among them) and
/// under `$HOME` when that differs ([`sensitive::homes`]).
#[must_use]
pub fn assess(policy: &Policy) -> Risk {
    let env_home = std::env::var_os("HOME").map(PathBuf::from);
    assess_with_homes(policy, &sensitive::homes(env_home.as_deref()))
}

/// Compute the risk of a policy, looking for credential locations under each of `homes`
/// (system-directory homes such as `/usr/sbin` are told apart by
/// [`sensitive::is_system_home`]).
#[must_use]
pub fn assess_with_homes(policy: &Policy, homes: &[PathBuf]) -> Risk {
    let mut reasons = Vec::new();
    let mut add = |level, text: String| reasons.push(RiskReason { level, text });

    match policy.network.mode {
        // The host's network reaches the LAN, cloud metadata endpoints and the internet.
        NetworkMode::Host => add(RiskLevel::High, "network.mode = \"host\": the agent can reach every address the host can (LAN, internet, cloud metadata, local services)".into()),
        // Its own loopback only: nothing outside the sandbox answers there.
        NetworkMode::Loopback | NetworkMode::None => {}
    }

    for g in &policy.filesystem.read_write {
        match &g.path {
            // Writing the workspace is the job of many agents, but it changes the user's files.
            GrantPath::Workspace(_) => add(
                RiskLevel::Medium,
                format!(
                    "writes {} (changes files in the workspace)",
                    g.path.display()
                ),
            ),
            // Any other writable host path is outside what the user handed over.
            GrantPath::Host(p) => add(
                RiskLevel::High,
                format!("writes {} outside the workspace", p.display()),
            ),
        }
    }
    // Where the homes' hidden entries lead through links: read once for every grant; and
    // whether credential entries are there, each looked at once.
    let mut linked: Option<Vec<sensitive::LinkedEntry>> = None;
    let probes = sensitive::Probes::default();
    for g in &policy.filesystem.read_only {
        let GrantPath::Host(p) = &g.path else {
            continue;
        };
        let linked = linked.get_or_insert_with(|| sensitive::linked_entries(homes));
        // What is mounted is the link's target: rate the path as written and as resolved,
        // and keep the higher.
        let resolved = std::fs::canonicalize(p).ok().filter(|c| c != p);
        let as_written = sensitive_read(p, homes, linked, &probes);
        let as_resolved = resolved.and_then(|c| sensitive_read(&c, homes, linked, &probes));
        let reason = match (as_written, as_resolved) {
            (Some(w), Some(r)) if r.0 > w.0 => Some(r),
            (None, r) => r,
            (w, _) => w,
        };
        if let Some(reason) = reason {
            add(reason.0, reason.1);
        }
    }

    if policy.network.unix_sockets {
        // Connecting to a socket file needs only write permission on it, which a read-only
        // grant does not take away: docker.sock or a D-Bus socket in any granted path would
        // be reachable as the caller's own user.
        add(RiskLevel::High, "network.unix_sockets = true: the agent can connect to unix sockets in granted paths (e.g. docker.sock, D-Bus) as the caller's user".into());
    }
    for name in &policy.env.allow_secrets {
        // A passed secret can be exfiltrated by any agent that also has a channel out.
        add(
            RiskLevel::High,
            format!("receives the sensitive variable {name} (env.allow_secrets)"),
        );
    }

    if !policy.seccomp.allow.is_empty() {
        // Each extra system call widens the kernel surface the agent can attack.
        add(
            RiskLevel::High,
            format!(
                "system-call filter relaxed: also allows {}",
                policy.seccomp.allow.join(", ")
            ),
        );
    }
    if policy.agent.uid == 0 {
        // Root inside its namespace is not host root, but it owns every file it creates there
        // and any namespace-local privilege the kernel grants root.
        add(
            RiskLevel::Medium,
            "runs as uid 0 inside its namespace (agent.uid = 0)".into(),
        );
    }

    reasons.sort_by_key(|r| std::cmp::Reverse(r.level));
    let level = reasons
        .iter()
        .map(|r| r.level)
        .max()
        .unwrap_or(RiskLevel::Low);
    Risk { level, reasons }
}

/// The risk of reading a host path, if reading it is more than low.
fn sensitive_read(
    p: &Path,
    homes: &[PathBuf],
    linked: &[sensitive::LinkedEntry],
    probes: &sensitive::Probes,
) -> Option<(RiskLevel, String)> {
    let s = p.to_string_lossy();
    // Everything, credentials of every user included.
    if p == Path::new("/") {
        return Some((
            RiskLevel::High,
            "reads the whole host file system (/)".into(),
        ));
    }
    // A home directory (or /home, or a parent) holds credentials, whichever are listed.
    if sensitive::contains_home(p, homes) {
        return Some((
            RiskLevel::High,
            format!(
                "reads {s}, which is or contains home directories (and the credentials in them)"
            ),
        ));
    }
    // Reading a credential, or a directory holding one (/etc), hands it out.
    if let Some(c) = sensitive::credential_overlap_in(p, homes, &|c| probes.exists(c)) {
        return Some((
            RiskLevel::High,
            format!(
                "reads {s}, which is, holds or lies inside a credential location ({})",
                c.display()
            ),
        ));
    }
    // Where a home's credential entry leads through a link (`~/.ssh -> /srv/sync/ssh`) is
    // that credential location under another name.
    if let Some(e) = sensitive::linked_credential(p, linked) {
        return Some((
            RiskLevel::High,
            format!(
                "reads {s}, which is, holds or lies inside {}, where {} leads",
                e.target.display(),
                e.entry.display()
            ),
        ));
    }
    // A directory that directly holds a credential entry (`/opt/deploy/.ssh`, no account's
    // home) hands it out as surely as a home does. Only one level is looked at.
    // Only a directory (or a link to one) holds entries.
    if std::fs::metadata(p).is_ok_and(|m| m.is_dir())
        && let Some(c) = sensitive::contained_credential_in(p, &|c| probes.exists(c))
    {
        return Some((
            RiskLevel::High,
            format!(
                "reads {s}, which holds {}, named like a home's credentials",
                c.display()
            ),
        ));
    }
    // Dotenv files exist to hold secrets.
    if p.file_name().is_some_and(|n| n == ".env") {
        return Some((
            RiskLevel::High,
            format!("reads {s}, a dotenv file that usually holds secrets"),
        ));
    }
    // Inside someone's home, outside its credentials: that user's own files, even where
    // the home sits in a system set (`/opt/app`).
    if sensitive::personal_home_of(p, homes).is_some() {
        return Some((RiskLevel::Medium, format!("reads personal files under {s}")));
    }
    // Programs, libraries and public configuration.
    if sensitive::is_system_read(p) {
        return None;
    }
    // Anything else on the host (other configuration, logs, hardware details, other
    // users' files) is more than the agent needs to run.
    Some((
        RiskLevel::Medium,
        format!("reads {s}, a host path outside the system directories (see docs/policy.md)"),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use pretty_assertions::assert_eq;

    use super::*;
    use crate::policy::LoadOptions;

    /// The policy `body` for a caller whose home is `home` (mycelium's state protected at a
    /// path that does not exist); a malformed body fails with its diagnostics.
    fn load_for(body: &str, home: &Path) -> Policy {
        let opts = LoadOptions {
            home: home.to_path_buf(),
            protected: vec![PathBuf::from("/nonexistent-state")],
        };
        Policy::from_bytes(Path::new("/p.toml"), body.as_bytes().to_vec(), &opts)
            .map_err(|e| e.diagnostics(Path::new("/p.toml")))
            .unwrap()
    }

    /// The level of a policy reading `paths` (each optional, so none need exist) for a
    /// caller whose home is `/var/home/u`, not under /home.
    fn level_of_reading(paths: &[&str]) -> RiskLevel {
        let list: Vec<String> = paths.iter().map(|p| format!("\"?{p}\"")).collect();
        let body = format!("[filesystem]\nread_only = [{}]\n", list.join(", "));
        let policy = load_for(&body, Path::new("/var/home/u"));
        assess_with_homes(&policy, &[PathBuf::from("/var/home/u")]).level
    }

    #[test]
    fn credential_locations_under_any_home_are_high() {
        for p in [
            "{home}/.ssh",
            "{home}/.ssh/id_ed25519",
            "{home}/.gnupg",
            "{home}/.aws/credentials",
            "{home}/.config/gcloud",
            "{home}/.kube",
            "{home}/.docker/config.json",
            "{home}/.netrc",
            "{home}/.npmrc",
            "{home}/.pypirc",
            "{home}/.git-credentials",
            "{home}/.config/gh",
            "{home}/.password-store",
            "{home}/.local/share/keyrings",
            "{home}/.mozilla",
            "{home}/.config/google-chrome",
            "{home}/.config/chromium",
            // Another user's credentials, and another user's home.
            "/home/bob/.ssh",
            "/home/bob",
            // Parents of credential locations hold them.
            "{home}",
            "{home}/.config",
            "/var/home",
            "/var",
            "/home",
        ] {
            assert_eq!(level_of_reading(&[p]), RiskLevel::High, "{p}");
        }
    }

    #[test]
    fn system_credentials_and_their_parents_are_high() {
        for p in [
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/ssh",
            "/etc/ssh/ssh_host_ed25519_key",
            "/etc/sudoers.d",
            "/etc/ssl/private",
            "/etc",
            "/root",
            "/var/lib/secrets",
            "/run/secrets",
        ] {
            assert_eq!(level_of_reading(&[p]), RiskLevel::High, "{p}");
        }
    }

    #[test]
    fn host_paths_outside_the_system_set_are_medium() {
        for p in [
            "{home}/src",
            "/home/bob/src",
            "/var/log",
            "/etc/nginx",
            "/etc/passwd",
            "/srv/data",
            "/sys/class",
            "/tmp/x",
        ] {
            assert_eq!(level_of_reading(&[p]), RiskLevel::Medium, "{p}");
        }
    }

    /// Accounts of a host where the caller (`appsvc`) lives in /opt/app and other service
    /// accounts live in /srv, /var/www and /var/lib; daemon's home is /usr/sbin.
    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998::/:/usr/sbin/nologin
appsvc:x:990:990::/opt/app:/bin/sh
git:x:991:991::/srv/git:/bin/sh
x:x:992:992::/var/lib/x:/bin/sh
rtsvc:x:993:993::/usr/local/rtsvc:/bin/sh
";

    /// The risk (level, first reason) of a policy reading `path` (optional) for the caller
    /// `appsvc` of [`PASSWD`], whose `{home}` is /opt/app.
    fn rated_for_appsvc(path: &str) -> (RiskLevel, String) {
        let body = format!("[filesystem]\nread_only = [\"?{path}\"]\n");
        let policy = load_for(&body, Path::new("/opt/app"));
        let homes = sensitive::homes_in_passwd(PASSWD, Some(Path::new("/opt/app")));
        let risk = assess_with_homes(&policy, &homes);
        let first = risk.reasons.first().map(|r| r.text.clone());
        (risk.level, first.unwrap_or_default())
    }

    #[test]
    fn regression_credentials_under_homes_outside_slash_home_are_high() {
        let credential = |p: &str, c: &str| {
            format!("reads {p}, which is, holds or lies inside a credential location ({c})")
        };
        let homes = |p: &str| {
            format!(
                "reads {p}, which is or contains home directories (and the credentials in them)"
            )
        };
        for (path, reason) in [
            // The caller's own home is in /opt, a system set: its credentials still count.
            ("{home}/.ssh", credential("/opt/app/.ssh", "/opt/app/.ssh")),
            (
                "{home}/.ssh/id_ed25519",
                credential("/opt/app/.ssh/id_ed25519", "/opt/app/.ssh"),
            ),
            ("{home}/.aws", credential("/opt/app/.aws", "/opt/app/.aws")),
            ("{home}", homes("/opt/app")),
            ("/opt", homes("/opt")),
            // Other accounts' homes, wherever they are.
            (
                "/srv/git/.ssh",
                credential("/srv/git/.ssh", "/srv/git/.ssh"),
            ),
            ("/srv", homes("/srv")),
            (
                "/var/www/.ssh",
                credential("/var/www/.ssh", "/var/www/.ssh"),
            ),
            (
                "/var/www/.docker/config.json",
                credential("/var/www/.docker/config.json", "/var/www/.docker"),
            ),
            ("/var/www", homes("/var/www")),
            (
                "/var/lib/x/.kube",
                credential("/var/lib/x/.kube", "/var/lib/x/.kube"),
            ),
            // A system account's credential entries, named directly.
            (
                "/usr/sbin/.ssh",
                credential("/usr/sbin/.ssh", "/usr/sbin/.ssh"),
            ),
            (
                "/usr/sbin/.gnupg/pubring.kbx",
                credential("/usr/sbin/.gnupg/pubring.kbx", "/usr/sbin/.gnupg"),
            ),
            // Host credential stores.
            (
                "/etc/security/opasswd",
                credential("/etc/security/opasswd", "/etc/security/opasswd"),
            ),
            (
                "/etc/wireguard",
                credential("/etc/wireguard", "/etc/wireguard"),
            ),
            (
                "/etc/NetworkManager/system-connections",
                credential(
                    "/etc/NetworkManager/system-connections",
                    "/etc/NetworkManager/system-connections",
                ),
            ),
            (
                "/etc/letsencrypt/live",
                credential("/etc/letsencrypt/live", "/etc/letsencrypt"),
            ),
            (
                "/etc/ssl/private",
                credential("/etc/ssl/private", "/etc/ssl/private"),
            ),
            (
                "/etc/kubernetes",
                credential("/etc/kubernetes", "/etc/kubernetes"),
            ),
            (
                "/etc/rancher/k3s/k3s.yaml",
                credential("/etc/rancher/k3s/k3s.yaml", "/etc/rancher"),
            ),
            ("/root", homes("/root")),
        ] {
            assert_eq!(rated_for_appsvc(path), (RiskLevel::High, reason), "{path}");
        }
    }

    #[test]
    fn system_directories_some_account_calls_home_stay_low() {
        // daemon's home is /usr/sbin, bin's /bin, sys's /dev: these hold no credentials
        // (none exist there on a test machine), so the system set stays low...
        for path in [
            "/usr",
            "/usr/sbin",
            "/usr/sbin/sshd",
            "/bin",
            "/lib",
            "/etc/ssl/certs",
        ] {
            assert_eq!(
                rated_for_appsvc(path),
                (RiskLevel::Low, String::new()),
                "{path}"
            );
        }
        // ...while the files of a person's home in a system set are that person's.
        assert_eq!(
            rated_for_appsvc("{home}/lib"),
            (
                RiskLevel::Medium,
                "reads personal files under /opt/app/lib".to_string()
            )
        );
        assert_eq!(
            rated_for_appsvc("/srv/git/repos"),
            (
                RiskLevel::Medium,
                "reads personal files under /srv/git/repos".to_string()
            )
        );
        // Positive twin of /opt: another package's directory there holds no one's home.
        assert_eq!(
            rated_for_appsvc("/opt/other"),
            (RiskLevel::Low, String::new())
        );
    }

    /// The risk of a policy with only `env` as its `[env]` table.
    fn rated_env(env: &str) -> Risk {
        let policy = load_for(&format!("[env]\n{env}\n"), Path::new("/var/home/u"));
        assess_with_homes(&policy, &[])
    }

    #[test]
    fn a_secret_reaches_the_agent_only_through_allow_secrets_which_is_high() {
        // `pass` of a sensitive name delivers nothing (the scrubber uses the same
        // matcher, env_secrets::name_reason, and withholds it): no risk from it.
        let six = "\"SSHPASS\", \"CI_JOB_JWT\", \"npm_config__authToken\", \"BORG_PASSPHRASE\", \"GPG_PASSPHRASE\", \"SLACK_WEBHOOK_URL\"";
        assert_eq!(
            rated_env(&format!("pass = [{six}, \"EDITOR\"]")),
            Risk {
                level: RiskLevel::Low,
                reasons: vec![]
            }
        );
        let allowed = rated_env("allow_secrets = [\"npm_config__authToken\", \"SSHPASS\"]");
        assert_eq!(
            allowed,
            Risk {
                level: RiskLevel::High,
                reasons: ["npm_config__authToken", "SSHPASS"]
                    .map(|n| RiskReason {
                        level: RiskLevel::High,
                        text: format!("receives the sensitive variable {n} (env.allow_secrets)"),
                    })
                    .to_vec()
            }
        );
    }

    #[test]
    fn a_link_is_rated_by_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let link = dir.path().join("innocent");
        std::os::unix::fs::symlink(home.join(".ssh"), &link).unwrap();
        let body = format!(
            "[filesystem]\nread_only = [{:?}]\n",
            link.display().to_string()
        );
        let policy = load_for(&body, &home);
        let home = std::fs::canonicalize(&home).unwrap();
        assert_eq!(assess_with_homes(&policy, &[home]).level, RiskLevel::High);
    }

    #[test]
    fn system_files_stay_low() {
        assert_eq!(
            level_of_reading(&[
                "/usr",
                "/bin",
                "/sbin",
                "/lib",
                "/lib64",
                "/etc/ld.so.cache",
                "/etc/ssl/certs",
                "/etc/alternatives",
                "/etc/localtime",
                "/etc/hosts",
                "/etc/resolv.conf",
            ]),
            RiskLevel::Low
        );
    }

    /// `reads {p}, which is, holds or lies inside a credential location ({c})`.
    fn credential_reason(p: &str, c: &str) -> String {
        format!("reads {p}, which is, holds or lies inside a credential location ({c})")
    }

    #[test]
    fn regression_credential_names_outside_any_home_are_high() {
        for (path, c) in [
            ("/opt/deploy/.ssh", "/opt/deploy/.ssh"),
            ("/opt/deploy/.ssh/id_ed25519", "/opt/deploy/.ssh"),
            ("/opt/deploy/.aws", "/opt/deploy/.aws"),
            ("/opt/deploy/.aws/credentials", "/opt/deploy/.aws"),
            ("/usr/local/.ssh", "/usr/local/.ssh"),
            ("/usr/lib/x/.gnupg", "/usr/lib/x/.gnupg"),
            ("/etc/ssl/certs/.ssh", "/etc/ssl/certs/.ssh"),
            ("/srv/ci/.config/gh/hosts.yml", "/srv/ci/.config/gh"),
            ("/var/tmp/.docker/config.json", "/var/tmp/.docker"),
            ("/opt/deploy/.netrc", "/opt/deploy/.netrc"),
        ] {
            assert_eq!(
                rated_for_appsvc(path),
                (RiskLevel::High, credential_reason(path, c)),
                "{path}"
            );
        }
        // Positive twins: the directories around them, where nothing of the kind exists.
        for path in ["/opt/deploy", "/usr/local", "/usr/lib/x", "/etc/ssl/certs"] {
            assert_eq!(
                rated_for_appsvc(path),
                (RiskLevel::Low, String::new()),
                "{path}"
            );
        }
    }

    /// The risk (level, first reason) of a policy reading the existing `path`.
    fn rated_on_host(path: &Path) -> (RiskLevel, String) {
        let body = format!(
            "[filesystem]\nread_only = [{:?}]\n",
            path.display().to_string()
        );
        let policy = load_for(&body, Path::new("/var/home/u"));
        let risk = assess_with_homes(&policy, &[PathBuf::from("/var/home/u")]);
        let first = risk.reasons.first().map(|r| r.text.clone());
        (risk.level, first.unwrap_or_default())
    }

    #[test]
    fn regression_a_directory_holding_a_credential_entry_is_high() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let mut cases = Vec::new();
        for entry in [
            ".ssh",
            ".aws",
            ".config/gh",
            ".pgpass",
            ".cache/huggingface/token",
        ] {
            let d = root.join(format!("deploy{}", cases.len()));
            let c = d.join(entry);
            std::fs::create_dir_all(c.parent().unwrap()).unwrap();
            std::fs::write(&c, "secret").unwrap();
            cases.push((d, c));
        }
        for (d, c) in &cases {
            assert_eq!(
                rated_on_host(d),
                (
                    RiskLevel::High,
                    format!(
                        "reads {}, which holds {}, named like a home's credentials",
                        d.display(),
                        c.display()
                    )
                ),
                "{}",
                d.display()
            );
        }
        // Positive twin: a directory with ordinary files, and one whose credentials lie a
        // level deeper (the documented limit), are only outside the system set.
        let plain = root.join("plain");
        std::fs::create_dir_all(plain.join("sub/.ssh")).unwrap();
        std::fs::write(plain.join("ssh"), "not a key").unwrap();
        assert_eq!(
            rated_on_host(&plain),
            (
                RiskLevel::Medium,
                format!(
                    "reads {}, a host path outside the system directories (see docs/policy.md)",
                    plain.display()
                )
            )
        );
    }

    #[test]
    fn regression_a_home_inside_a_system_tree_is_personal() {
        assert_eq!(
            rated_for_appsvc("/usr/local/rtsvc"),
            (
                RiskLevel::High,
                credential_reason("/usr/local/rtsvc", "/usr/local/rtsvc/.ssh")
            )
        );
        assert_eq!(
            rated_for_appsvc("/usr/local/rtsvc/.pgpass"),
            (
                RiskLevel::High,
                credential_reason("/usr/local/rtsvc/.pgpass", "/usr/local/rtsvc/.pgpass")
            )
        );
        assert_eq!(
            rated_for_appsvc("/usr/local/rtsvc/data"),
            (
                RiskLevel::Medium,
                "reads personal files under /usr/local/rtsvc/data".to_string()
            )
        );
        // Positive twin: the system directories around it stay low.
        for path in ["/usr/local", "/usr", "/usr/local/bin"] {
            assert_eq!(
                rated_for_appsvc(path),
                (RiskLevel::Low, String::new()),
                "{path}"
            );
        }
    }

    #[test]
    fn regression_every_listed_home_credential_is_high_in_a_home_and_anywhere() {
        // The red team's list: each was medium before (personal files).
        let named = [
            ".pgpass",
            ".my.cnf",
            ".vault-token",
            ".terraform.d/credentials.tfrc.json",
            ".gem/credentials",
            ".config/rclone",
            ".s3cfg",
            ".boto",
            ".claude/.credentials.json",
            ".huggingface/token",
            ".cache/huggingface/token",
            ".kaggle/kaggle.json",
            ".m2/settings.xml",
            ".gradle/gradle.properties",
            ".config/containers/auth.json",
            ".config/git/credentials",
            ".authinfo",
            ".authinfo.gpg",
            ".msmtprc",
            ".netrc",
            ".pypirc",
            ".npmrc",
            ".yarnrc.yml",
            ".cargo/credentials.toml",
            ".cargo/credentials",
            ".config/hub",
            ".config/gh",
            ".local/share/keyrings",
            ".gnome2/keyrings",
            ".mozilla",
            ".thunderbird",
            ".config/google-chrome",
            ".config/chromium",
            ".config/BraveSoftware",
            ".config/op",
            ".config/Bitwarden CLI",
            ".bash_history",
            ".zsh_history",
            ".local/share/fish/fish_history",
            ".python_history",
            ".psql_history",
            ".mysql_history",
            ".ssh",
        ];
        for e in named {
            assert!(
                sensitive::HOME_CREDENTIALS.iter().any(|(c, _)| *c == e),
                "{e} is not listed"
            );
        }
        for (e, _) in sensitive::HOME_CREDENTIALS {
            for (path, c) in [
                (format!("{{home}}/{e}"), format!("/opt/app/{e}")),
                (format!("/srv/elsewhere/{e}"), format!("/srv/elsewhere/{e}")),
            ] {
                assert_eq!(
                    rated_for_appsvc(&path),
                    (RiskLevel::High, credential_reason(&c, &c)),
                    "{path}"
                );
            }
        }
        // Positive twin: the same names' ordinary neighbours are personal files only.
        assert_eq!(
            rated_for_appsvc("{home}/.config/htop"),
            (
                RiskLevel::Medium,
                "reads personal files under /opt/app/.config/htop".to_string()
            )
        );
    }

    /// The whole risk of a policy whose body is `body`, for a caller whose home is
    /// `/var/home/u`. Nothing is protected: the loader refuses a grant of `/` whenever
    /// mycelium's own state lies under it (always, outside tests), and the rule for `/` must
    /// hold without that check.
    fn rated(body: &str) -> Risk {
        let opts = LoadOptions {
            home: PathBuf::from("/var/home/u"),
            protected: vec![],
        };
        let policy = Policy::from_bytes(Path::new("/p.toml"), body.as_bytes().to_vec(), &opts)
            .map_err(|e| e.diagnostics(Path::new("/p.toml")))
            .unwrap();
        assess_with_homes(&policy, &[PathBuf::from("/var/home/u")])
    }

    #[test]
    fn every_grant_outside_the_filesystem_reads_adds_its_reason_highest_first() {
        let risk = rated(
            "[agent]\nuid = 0\n\
             [filesystem]\nread_only = [\"{workspace}/ref\", \"?/\", \"?/srv/app/.env\"]\n\
             read_write = [\"{workspace}\", \"?/srv/out\"]\n\
             [network]\nmode = \"host\"\nunix_sockets = true\n\
             [seccomp]\nallow = [\"openat2\"]\n",
        );
        let reason = |level, text: &str| RiskReason {
            level,
            text: text.to_string(),
        };
        assert_eq!(
            risk,
            Risk {
                level: RiskLevel::High,
                // A read-only workspace grant adds nothing; the sort is stable, so reasons of
                // one level keep the order of the rules.
                reasons: vec![
                    reason(
                        RiskLevel::High,
                        "network.mode = \"host\": the agent can reach every address the host can (LAN, internet, cloud metadata, local services)"
                    ),
                    reason(RiskLevel::High, "writes /srv/out outside the workspace"),
                    reason(RiskLevel::High, "reads the whole host file system (/)"),
                    reason(
                        RiskLevel::High,
                        "reads /srv/app/.env, a dotenv file that usually holds secrets"
                    ),
                    reason(
                        RiskLevel::High,
                        "network.unix_sockets = true: the agent can connect to unix sockets in granted paths (e.g. docker.sock, D-Bus) as the caller's user"
                    ),
                    reason(
                        RiskLevel::High,
                        "system-call filter relaxed: also allows openat2"
                    ),
                    reason(
                        RiskLevel::Medium,
                        "writes {workspace} (changes files in the workspace)"
                    ),
                    reason(
                        RiskLevel::Medium,
                        "runs as uid 0 inside its namespace (agent.uid = 0)"
                    ),
                ],
            }
        );
        // Positive twin: none of those grants, nothing to report.
        assert_eq!(
            rated("[filesystem]\nread_only = [\"{workspace}\"]\n"),
            Risk {
                level: RiskLevel::Low,
                reasons: vec![],
            }
        );
    }

    #[test]
    fn levels_print_and_parse_as_their_names() {
        for level in [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High] {
            assert_eq!(RiskLevel::parse(&level.to_string()), Some(level));
        }
        assert_eq!(RiskLevel::parse("severe"), None);
    }
}

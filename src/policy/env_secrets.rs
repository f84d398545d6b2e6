//! Which environment variables hold secrets: the block-list the scrubber
//! (`isolation::env`), `policy explain` and the risk level all use. One list, one matcher.
//!
//! A leaf: pure functions on a variable's name (and, for [`value_reason`], its value); it
//! reads no process state. Its invariant: a name is matched the way people spell it, not
//! only the way one convention does. Names are compared case-insensitively and split into
//! words at `_`, `-`, `.`, camelCase boundaries (`authToken` → `auth` `Token`, `APIKey` →
//! `API` `Key`) and letter/digit boundaries, so `npm_config__authToken`, `apiKey`,
//! `X_API_KEY` and `CI_JOB_JWT_V2` are all seen for what they are. Words glued together
//! without a boundary (`SSHPASS`, `AUTHTOKEN`, `APIKEY`) are caught by the stems a word may
//! end with (`Rule::WordEnd`).
//!
//! When in doubt a name is withheld: a policy that needs a withheld name lists it in
//! `allow_secrets` (and is high risk), or gives the agent a fixed value with `set`.

/// Sensitive names, exactly (compared upper-cased); each with why it is withheld. Most are
/// caught by [`RULES`] too; naming them here gives the precise reason.
const NAMES: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AWS credentials"),
    ("AWS_SECRET_ACCESS_KEY", "AWS credentials"),
    ("AWS_SESSION_TOKEN", "AWS credentials"),
    ("AWS_SECURITY_TOKEN", "AWS credentials (legacy name)"),
    (
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "points at an AWS identity token",
    ),
    (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "points at a GCP service-account key",
    ),
    ("GOOGLE_API_KEY", "Google API key"),
    ("CLOUDSDK_AUTH_ACCESS_TOKEN", "gcloud access token"),
    ("AZURE_CLIENT_SECRET", "Azure service principal secret"),
    ("AZURE_STORAGE_KEY", "Azure storage account key"),
    (
        "AZURE_STORAGE_CONNECTION_STRING",
        "Azure storage credentials",
    ),
    (
        "ARM_CLIENT_SECRET",
        "Azure (Terraform) service principal secret",
    ),
    ("DIGITALOCEAN_ACCESS_TOKEN", "DigitalOcean API token"),
    ("HEROKU_API_KEY", "Heroku API key"),
    (
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "Alibaba Cloud credentials",
    ),
    ("GITHUB_TOKEN", "GitHub token"),
    ("GH_TOKEN", "GitHub CLI token"),
    ("GITLAB_TOKEN", "GitLab token"),
    ("CI_JOB_TOKEN", "GitLab CI job token"),
    ("CI_JOB_JWT", "GitLab CI identity token"),
    ("CI_JOB_JWT_V2", "GitLab CI identity token"),
    ("BITBUCKET_APP_PASSWORD", "Bitbucket credentials"),
    ("ACTIONS_RUNTIME_TOKEN", "GitHub Actions runtime token"),
    (
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GitHub Actions OIDC token request",
    ),
    (
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "GitHub Actions OIDC token request",
    ),
    ("BUILDKITE_AGENT_ACCESS_TOKEN", "Buildkite agent token"),
    ("CIRCLE_TOKEN", "CircleCI token"),
    ("NPM_TOKEN", "npm publish token"),
    ("NODE_AUTH_TOKEN", "npm registry token"),
    ("TWINE_PASSWORD", "PyPI upload credentials"),
    ("CARGO_REGISTRY_TOKEN", "crates.io token"),
    ("GEM_HOST_API_KEY", "RubyGems API key"),
    ("DOCKER_AUTH_CONFIG", "container registry credentials"),
    ("DOCKER_CONFIG", "points at container registry credentials"),
    ("OPENAI_API_KEY", "OpenAI API key"),
    ("ANTHROPIC_API_KEY", "Anthropic API key"),
    ("HF_TOKEN", "Hugging Face token"),
    ("HUGGING_FACE_HUB_TOKEN", "Hugging Face token"),
    ("COHERE_API_KEY", "Cohere API key"),
    ("REPLICATE_API_TOKEN", "Replicate API token"),
    ("GROQ_API_KEY", "Groq API key"),
    ("GEMINI_API_KEY", "Gemini API key"),
    ("SLACK_WEBHOOK_URL", "Slack webhook: posts as the workspace"),
    ("DISCORD_WEBHOOK", "Discord webhook: posts as the server"),
    ("DATABASE_URL", "database URL, usually with a password"),
    ("PGPASSWORD", "PostgreSQL password"),
    ("PGPASSFILE", "points at PostgreSQL passwords"),
    ("MYSQL_PWD", "MySQL password"),
    ("REDIS_URL", "Redis URL, often with a password"),
    ("MONGODB_URI", "MongoDB URI, usually with a password"),
    ("MONGO_URL", "MongoDB URL, usually with a password"),
    ("AMQP_URL", "message broker URL, usually with a password"),
    ("SENTRY_DSN", "Sentry DSN (holds a key)"),
    ("VAULT_TOKEN", "HashiCorp Vault token"),
    ("SSHPASS", "SSH password for sshpass"),
    ("BORG_PASSPHRASE", "Borg backup repository passphrase"),
    (
        "BORG_PASSCOMMAND",
        "a command that prints the Borg passphrase",
    ),
    ("RESTIC_PASSWORD", "restic backup repository password"),
    ("GPG_PASSPHRASE", "GnuPG key passphrase"),
    // A path, not a secret, but what it points at is: withheld so no agent learns where
    // the credentials are or uses them if a grant happens to expose them.
    ("KUBECONFIG", "points at Kubernetes credentials"),
    ("KRB5CCNAME", "points at the user's Kerberos tickets"),
    ("XAUTHORITY", "points at the X display's access cookie"),
    ("SSLKEYLOGFILE", "where TLS session keys are written"),
    ("SSH_AUTH_SOCK", "gives use of the user's SSH keys"),
    ("GPG_AGENT_INFO", "gives use of the user's GPG keys"),
    ("GIT_ASKPASS", "a program that answers with Git credentials"),
    ("SSH_ASKPASS", "a program that answers with SSH passphrases"),
];

/// A shape of variable name.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// The upper-cased name starts with this.
    Prefix(&'static str),
    /// One of the name's words is exactly this.
    Word(&'static str),
    /// One of the name's words is this or ends with it (`SSHPASS`, `AUTHTOKEN`), unless the
    /// word is one of the listed ordinary words.
    WordEnd(&'static str, &'static [&'static str]),
    /// These words appear one after the other.
    Words(&'static [&'static str]),
    /// One of the name's words is exactly this, unless the word before it is one of the
    /// listed ones (`RANDOM_SEED` is no secret, `MASTER_SEED` is).
    WordNotAfter(&'static str, &'static [&'static str]),
}

/// English words that end in `PASS` and mean no password.
const PASS_WORDS: &[&str] = &[
    "BYPASS",
    "COMPASS",
    "ENCOMPASS",
    "OVERPASS",
    "SURPASS",
    "TRESPASS",
    "UNDERPASS",
];

/// Words before `SEED` that make it a random-number generator's seed, which reproduces a
/// run and unlocks nothing.
const RNG_WORDS: &[&str] = &["RANDOM", "RNG", "HASH", "SHUFFLE", "TEST"];

/// Sensitive name shapes; each with why it is withheld. Checked after [`NAMES`].
const RULES: &[(Rule, &str)] = &[
    (Rule::Prefix("MYCELIUM_"), "mycelium's own configuration"),
    // Whole families: their non-secret members (region, profile) are given with `set`.
    (
        Rule::Prefix("AWS_"),
        "AWS configuration and credentials (keys, session tokens, profiles)",
    ),
    (
        Rule::Prefix("AZURE_"),
        "Azure configuration and credentials (client secrets, storage keys)",
    ),
    (
        Rule::WordEnd("TOKEN", &[]),
        "a token: whoever holds it acts as its owner",
    ),
    (Rule::WordEnd("SECRET", &[]), "named a secret"),
    (Rule::Word("SECRETS"), "named secrets"),
    (Rule::WordEnd("PASSWORD", &[]), "a password"),
    (Rule::Word("PASSWORDS"), "passwords"),
    (Rule::WordEnd("PASSWD", &[]), "a password"),
    (
        Rule::WordEnd("PASS", PASS_WORDS),
        "a password (PASS as a word or word ending: SMTP_PASS, SSHPASS, PGPASS)",
    ),
    (
        Rule::Word("PWD"),
        "a password (MYSQL_PWD; PWD alone is the working directory)",
    ),
    (Rule::Word("PW"), "a password (ROOT_PW, DB_PW)"),
    (Rule::WordEnd("PASSCODE", &[]), "a passcode"),
    (
        Rule::WordEnd("PASSPHRASE", &[]),
        "a passphrase that unlocks a key or a backup",
    ),
    (Rule::WordEnd("JWT", &[]), "a signed identity token"),
    (
        Rule::WordEnd("COOKIE", &[]),
        "a cookie logs in as its owner",
    ),
    (
        Rule::WordEnd("COOKIES", &[]),
        "cookies log in as their owner",
    ),
    (
        Rule::Word("SESSION"),
        "a session key (BW_SESSION, OP_SESSION_*); desktop session names are exempt",
    ),
    (Rule::WordEnd("CREDENTIAL", &[]), "a credential"),
    (Rule::WordEnd("CREDENTIALS", &[]), "credentials"),
    (Rule::Word("CREDS"), "credentials"),
    (
        Rule::Word("AUTH"),
        "authentication material (BASIC_AUTH, npm's _auth, SSH_AUTH_SOCK)",
    ),
    (Rule::Word("AUTHN"), "authentication material"),
    (
        Rule::WordEnd("AUTHORIZATION", &[]),
        "an Authorization header value",
    ),
    (Rule::Word("BEARER"), "a bearer token"),
    (
        Rule::Word("KEY"),
        "a key (API_KEY, ACCESS_KEY, PRIVATE_KEY, *_KEY)",
    ),
    (Rule::Word("KEYS"), "keys"),
    (Rule::WordEnd("APIKEY", &[]), "an API key"),
    (Rule::WordEnd("ACCESSKEY", &[]), "an access key"),
    (Rule::WordEnd("SECRETKEY", &[]), "a secret key"),
    (Rule::WordEnd("PRIVATEKEY", &[]), "a private key"),
    (Rule::WordEnd("AUTHKEY", &[]), "an authentication key"),
    (Rule::WordEnd("MASTERKEY", &[]), "a master key"),
    (Rule::WordEnd("SIGNINGKEY", &[]), "a signing key"),
    (Rule::WordEnd("ENCRYPTIONKEY", &[]), "an encryption key"),
    (Rule::WordEnd("LICENSEKEY", &[]), "a licence key"),
    (Rule::WordEnd("PRIVKEY", &[]), "a private key"),
    (
        Rule::Word("PRIVATE"),
        "private material, usually a key (APP_PRIVATE, *_PRIVATE)",
    ),
    (
        Rule::Word("PEM"),
        "PEM-encoded material, often a private key (TLS_PEM, *_PEM)",
    ),
    (
        Rule::WordEnd("KEYSTORE", &[]),
        "a keystore: private keys (JAVA_KEYSTORE, ANDROID_KEYSTORE)",
    ),
    (
        Rule::Word("SIGNING"),
        "signing material (SIGNING_SECRET, CODE_SIGNING_IDENTITY)",
    ),
    (Rule::Word("HMAC"), "an HMAC key"),
    (
        Rule::Word("SALT"),
        "a salt frameworks keep secret (SIGNING_SALT, WordPress's AUTH_SALT)",
    ),
    (
        Rule::WordEnd("MNEMONIC", &[]),
        "a recovery phrase: whoever has it has the wallet or key",
    ),
    (
        Rule::WordNotAfter("SEED", RNG_WORDS),
        "a seed (SEED_PHRASE, MASTER_SEED, OTP_SEED); a random-number seed (RANDOM_SEED, RNG_SEED) is exempt",
    ),
    (Rule::Word("OTP"), "a one-time-password secret or code"),
    (Rule::Word("TOTP"), "a time-based one-time-password secret"),
    (
        Rule::Word("HOTP"),
        "a counter-based one-time-password secret",
    ),
    (
        Rule::Words(&["RECOVERY", "CODES"]),
        "recovery codes: each logs in past the second factor",
    ),
    (
        Rule::Words(&["RECOVERY", "CODE"]),
        "a recovery code: it logs in past the second factor",
    ),
    (
        Rule::Words(&["BACKUP", "CODES"]),
        "backup codes: each logs in past the second factor",
    ),
    (
        Rule::Words(&["BACKUP", "CODE"]),
        "a backup code: it logs in past the second factor",
    ),
    (
        Rule::Word("PAT"),
        "a personal access token (GH_PAT, AZURE_DEVOPS_EXT_PAT)",
    ),
    (
        Rule::WordEnd("WEBHOOK", &[]),
        "a webhook URL: whoever has it can post",
    ),
    (
        Rule::WordEnd("WEBHOOKS", &[]),
        "webhook URLs: whoever has one can post",
    ),
    (
        Rule::Word("HOOK"),
        "a hook URL, a webhook by another name (SLACK_HOOK, HOOK_URL)",
    ),
    (
        Rule::WordEnd("PIN", &[]),
        "a PIN that unlocks a card or a token (PKCS11_PIN)",
    ),
    (Rule::Word("BINDPW"), "an LDAP bind password"),
    (Rule::Word("SK"), "a secret key (STRIPE_SK, DJANGO_SK)"),
    (
        Rule::Words(&["SIGNED", "URL"]),
        "a signed URL: whoever has it is let in until it expires",
    ),
    (
        Rule::WordEnd("PRESIGNED", &[]),
        "a presigned URL: whoever has it is let in until it expires",
    ),
    (
        Rule::WordEnd("HEADERS", &[]),
        "request headers, which carry API keys (OTEL_EXPORTER_OTLP_HEADERS)",
    ),
    (
        Rule::WordEnd("EXTRAHEADER", &[]),
        "an extra request header, usually an authorization (GIT_HTTP_EXTRAHEADER)",
    ),
    (
        Rule::Words(&["MFA", "CODE"]),
        "a one-time second-factor code",
    ),
    (Rule::Words(&["ACCESS", "CODE"]), "an access code"),
    (
        Rule::WordEnd("SESSIONID", &[]),
        "a session id: whoever has it is logged in",
    ),
    (Rule::Words(&["SONAR", "LOGIN"]), "a SonarQube token"),
    (
        Rule::WordEnd("DSN", &[]),
        "a data source name, which holds a password or key (SENTRY_DSN)",
    ),
    (
        Rule::Words(&["CONNECTION", "STRING"]),
        "a connection string, which holds a password",
    ),
    (
        Rule::WordEnd("CONNSTR", &[]),
        "a connection string, which holds a password",
    ),
    (
        Rule::Words(&["DATABASE", "URL"]),
        "a database URL, usually with a password",
    ),
    (
        Rule::Words(&["DATABASE", "URI"]),
        "a database URI, usually with a password",
    ),
    (
        Rule::Words(&["DB", "URL"]),
        "a database URL, usually with a password",
    ),
    (
        Rule::Words(&["DB", "URI"]),
        "a database URI, usually with a password",
    ),
];

/// Names a rule of [`RULES`] matches that are known not to be secrets; each with why.
const NOT_SECRETS: &[(&str, &str)] = &[
    ("PWD", "the shell's working directory"),
    ("XDG_SESSION_TYPE", "x11, wayland or tty"),
    ("XDG_SESSION_CLASS", "user, greeter or lock-screen"),
    ("XDG_SESSION_DESKTOP", "the desktop's name"),
    ("XDG_SESSION_ID", "logind's number for the login session"),
    ("DESKTOP_SESSION", "the desktop's name"),
    (
        "DBUS_SESSION_BUS_ADDRESS",
        "where the session bus listens; unreachable without unix_sockets",
    ),
    (
        "SESSION_MANAGER",
        "the X session manager's address; unreachable without unix_sockets",
    ),
    (
        "OTP_VERSION",
        "the Erlang/OTP release, set in Erlang's container images",
    ),
];

impl Rule {
    fn matches(self, upper: &str, words: &[String]) -> bool {
        match self {
            Rule::Prefix(p) => upper.starts_with(p),
            Rule::Word(w) => words.iter().any(|x| x == w),
            Rule::WordEnd(stem, unless) => words
                .iter()
                .any(|x| x.ends_with(stem) && !unless.contains(&x.as_str())),
            Rule::Words(seq) => words
                .windows(seq.len())
                .any(|win| win.iter().zip(seq).all(|(a, b)| a == b)),
            Rule::WordNotAfter(w, after) => words.iter().enumerate().any(|(i, x)| {
                x == w
                    && !i
                        .checked_sub(1)
                        .and_then(|j| words.get(j))
                        .is_some_and(|prev| after.contains(&prev.as_str()))
            }),
        }
    }
}

/// The upper-cased words of a variable name: split at every character that is not a letter
/// or digit, at a lower-case letter followed by an upper-case one (`authToken`), before the
/// last capital of a run followed by a lower-case letter (`APIKey` → `API` `Key`), and
/// between letters and digits (`JWT2`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some(&prev) = i.checked_sub(1).and_then(|j| chars.get(j)) {
            let next = chars.get(i + 1).copied();
            let boundary = (prev.is_ascii_lowercase() && c.is_ascii_uppercase())
                || (prev.is_ascii_uppercase()
                    && c.is_ascii_uppercase()
                    && next.is_some_and(|n| n.is_ascii_lowercase()))
                || (prev.is_ascii_alphabetic() && c.is_ascii_digit())
                || (prev.is_ascii_digit() && c.is_ascii_alphabetic());
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c.to_ascii_uppercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Why a variable name is withheld, or `None` if it is not sensitive.
#[must_use]
pub fn name_reason(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    if let Some((_, why)) = NAMES.iter().find(|(n, _)| *n == upper) {
        return Some(why);
    }
    if NOT_SECRETS.iter().any(|(n, _)| *n == upper) {
        return None;
    }
    let words = words(name);
    RULES
        .iter()
        .find(|(r, _)| r.matches(&upper, &words))
        .map(|(_, why)| *why)
}

/// Why a variable's *value* is sensitive whatever its name, or `None`: it holds a URL with
/// a password in it (`scheme://user:password@host`), or an `http(s)` URL with any user
/// part (`https://TOKEN@host`, how tokens are often put in Git and package index URLs), or
/// a PEM private key (`-----BEGIN … PRIVATE KEY-----`, however the variable is named: a
/// `CLIENT_CERT` bundle with its key in it is withheld, a certificate alone is not).
#[must_use]
pub fn value_reason(value: &str) -> Option<&'static str> {
    if value.contains("-----BEGIN ") && value.contains("PRIVATE KEY") {
        return Some("its value is a PEM private key");
    }
    let mut rest = value;
    while let Some(at) = rest.find("://") {
        let scheme: String = rest[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .collect::<Vec<char>>()
            .into_iter()
            .rev()
            .collect();
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..end];
        if let Some((userinfo, _host)) = authority.rsplit_once('@') {
            let has_password = userinfo.split_once(':').is_some_and(|(_, p)| !p.is_empty());
            let http = matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https");
            if has_password || (http && !userinfo.is_empty()) {
                return Some("its value is a URL with a password or token in it");
            }
        }
        rest = after;
    }
    None
}

/// Why the variable `name=value` is withheld, or `None`: its name ([`name_reason`]) or its
/// value ([`value_reason`]).
#[must_use]
pub fn sensitive_reason(name: &str, value: &str) -> Option<&'static str> {
    name_reason(name).or_else(|| value_reason(value))
}

/// How many names and rules the block-list holds (for `doctor` and docs).
#[must_use]
pub fn blocklist_len() -> usize {
    NAMES.len() + RULES.len()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn names_split_into_words_at_every_convention() {
        let w = |n: &str| words(n);
        assert_eq!(
            w("npm_config__authToken"),
            ["NPM", "CONFIG", "AUTH", "TOKEN"]
        );
        assert_eq!(w("apiKey"), ["API", "KEY"]);
        assert_eq!(w("APIKey"), ["API", "KEY"]);
        assert_eq!(w("X-Api-Key"), ["X", "API", "KEY"]);
        assert_eq!(w("CI_JOB_JWT_V2"), ["CI", "JOB", "JWT", "V", "2"]);
        assert_eq!(w("PASSWORD2"), ["PASSWORD", "2"]);
        assert_eq!(w("SSHPASS"), ["SSHPASS"]);
        assert_eq!(w("a.b"), ["A", "B"]);
        assert_eq!(w("__"), Vec::<String>::new());
    }

    /// Well-known and invented secret names, in every spelling.
    const SECRETS: &[&str] = &[
        // The red team's six.
        "SSHPASS",
        "CI_JOB_JWT",
        "npm_config__authToken",
        "BORG_PASSPHRASE",
        "GPG_PASSPHRASE",
        "SLACK_WEBHOOK_URL",
        // The listed exact names.
        "PGPASSWORD",
        "MYSQL_PWD",
        "VAULT_TOKEN",
        "KUBECONFIG",
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AZURE_CLIENT_ID",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "NPM_TOKEN",
        "NODE_AUTH_TOKEN",
        "TWINE_PASSWORD",
        "DOCKER_AUTH_CONFIG",
        "CI_JOB_TOKEN",
        "CI_JOB_JWT_V2",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "DISCORD_WEBHOOK",
        "SENTRY_DSN",
        "RESTIC_PASSWORD",
        "DATABASE_URL",
        // Shapes, in every case and convention.
        "npm_config__auth",
        "authToken",
        "AUTHTOKEN",
        // Only word boundaries find these: no stem is glued to them.
        "basicAuth",
        "gitlabPat",
        "dbPwd",
        "apiKey",
        "X_API_KEY",
        "x-api-key",
        "APIKEY",
        "MY_APIKEY",
        "stripeSecretKey",
        "DJANGO_SECRET_KEY",
        "RAILS_MASTER_KEY",
        "SIGNING_KEY",
        "PRIVATE_KEY_PEM",
        "SSH_KEYS",
        "PGPASS",
        "SMTP_PASS",
        "DB_PASSWD",
        "PASSWORD2",
        "SSH_ASKPASS",
        "SUDO_ASKPASS",
        "BASIC_AUTH",
        "HTTP_AUTHORIZATION",
        "SESSION_COOKIE",
        "sessionCookie",
        "BW_SESSION",
        "OP_SESSION_myaccount",
        "GH_PAT",
        "CLIENT_CREDENTIALS",
        "DB_CREDS",
        "TEST_DATABASE_URL",
        "MY_CONNECTION_STRING",
        "DB_CONNSTR",
        "PDO_DSN",
        "TEAMS_WEBHOOK",
        "ID_JWT",
        "LC_DEPLOY_TOKEN",
        "MYCELIUM_REDIS_URL",
        "KRB5CCNAME",
        "SSH_AUTH_SOCK",
        "PASS_THROUGH",
        // The third red team's names.
        "PKCS11_PIN",
        "SIM_PIN",
        "YUBIKEY_PIN",
        "SOFTHSM2_PIN",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "DISCORD_HOOK",
        "SLACK_HOOK",
        "HOOK_URL",
        "SIGNED_URL",
        "PRESIGNED_URL",
        "GIT_HTTP_EXTRAHEADER",
        "SONAR_LOGIN",
        "LDAP_BINDPW",
        "STRIPE_SK",
        "DJANGO_SK",
        "MFA_CODE",
        "ACCESS_CODE",
        "SESSIONID",
        "phpSessionId",
    ];

    /// Ordinary names agents are given every day.
    const ORDINARY: &[&str] = &[
        "PATH",
        "HOME",
        "TERM",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "SHELL",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_CTYPE",
        "TZ",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "XDG_SESSION_TYPE",
        "XDG_SESSION_ID",
        "DESKTOP_SESSION",
        "DBUS_SESSION_BUS_ADDRESS",
        "SESSION_MANAGER",
        "COLORTERM",
        "NO_COLOR",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUST_LOG",
        "GOPATH",
        "GOROOT",
        "PYTHONPATH",
        "PYTHONUNBUFFERED",
        "VIRTUAL_ENV",
        "JAVA_HOME",
        "NODE_ENV",
        "KEYTIMEOUT",
        "KEYBOARD",
        "XKB_DEFAULT_LAYOUT",
        "LESSKEY",
        "TOKENIZERS_PARALLELISM",
        "MAX_TOKENS",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "PASSENGER_APP_ENV",
        "COMPASS_HOME",
        "PROXY_BYPASS",
        "PWD",
        "OLDPWD",
        "HOSTNAME",
        "SHLVL",
        "SSH_TTY",
        "SSH_CONNECTION",
        "HTTP_PROXY",
        "NO_PROXY",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "MANPATH",
        "HISTSIZE",
        "CI",
        // Next to the words added for the second red team: certificates and CA bundles are
        // public, random-number seeds unlock nothing.
        "SSL_CERT_DIR",
        "NODE_EXTRA_CA_CERTS",
        "CURL_CA_BUNDLE",
        "CLIENT_CERT",
        "TLS_CERT_FILE",
        "JAVAX_NET_SSL_TRUSTSTORE",
        "PYTHONHASHSEED",
        "RANDOM_SEED",
        "RNG_SEED",
        "PROPTEST_RNG_SEED",
        "TEST_SEED",
        "OTP_VERSION",
        "PWDEBUG",
        "POWERLINE_CONFIG",
        "SALTSTACK_ENV",
        "PEMBROKE",
        "SEEDLING_DIR",
        "PRIVACY_MODE",
        "CODE_REVIEW",
    ];

    #[test]
    fn secret_names_are_withheld_in_every_spelling() {
        assert!(SECRETS.len() >= 40);
        let missed: Vec<&&str> = SECRETS
            .iter()
            .filter(|n| name_reason(n).is_none())
            .collect();
        assert_eq!(missed, Vec::<&&str>::new());
        // Lower-case spellings of the exact names too.
        for n in ["sshpass", "ci_job_jwt", "Slack_Webhook_Url", "kubeconfig"] {
            assert!(name_reason(n).is_some(), "{n}");
        }
    }

    #[test]
    fn ordinary_names_pass() {
        assert!(ORDINARY.len() >= 30);
        let withheld: Vec<(&str, &str)> = ORDINARY
            .iter()
            .filter_map(|n| name_reason(n).map(|r| (*n, r)))
            .collect();
        assert_eq!(withheld, Vec::<(&str, &str)>::new());
    }

    #[test]
    fn reasons_name_the_rule_that_matched() {
        assert_eq!(name_reason("SSHPASS"), Some("SSH password for sshpass"));
        assert_eq!(
            name_reason("npm_config__authToken"),
            Some("a token: whoever holds it acts as its owner")
        );
        assert_eq!(
            name_reason("apiKey"),
            Some("a key (API_KEY, ACCESS_KEY, PRIVATE_KEY, *_KEY)")
        );
        assert_eq!(
            name_reason("AWS_REGION"),
            Some("AWS configuration and credentials (keys, session tokens, profiles)")
        );
        assert_eq!(
            name_reason("SESSION_TOKEN_X"),
            Some("a token: whoever holds it acts as its owner")
        );
        // An exemption is exact: a secret dressed as a desktop session name is not exempt.
        assert_eq!(
            name_reason("XDG_SESSION_COOKIE"),
            Some("a cookie logs in as its owner")
        );
        assert_eq!(name_reason("XDG_SESSION_TYPE"), None);
    }

    #[test]
    fn values_with_passwords_in_urls_are_sensitive_whatever_the_name() {
        for v in [
            "postgres://app:hunter2@db:5432/app",
            "redis://:s3cret@127.0.0.1:6379/0",
            "https://user:pw@proxy.example:3128",
            "https://ghp_abcdef0123456789@github.com/o/r.git",
            "amqp://guest:guest@rabbit/",
            "mirror https://a:b@pypi.example/simple other",
        ] {
            assert_eq!(
                value_reason(v),
                Some("its value is a URL with a password or token in it"),
                "{v}"
            );
        }
        for v in [
            "",
            "en_US.UTF-8",
            "/usr/bin:/bin",
            "https://pypi.org/simple",
            "ssh://git@github.com/o/r.git",
            "git@github.com:o/r.git",
            "http://proxy.example:3128",
            "user@example.com",
            "mailto:user:x@example.com",
        ] {
            assert_eq!(value_reason(v), None, "{v}");
        }
        assert_eq!(
            sensitive_reason("HTTP_PROXY", "http://u:p@proxy:3128"),
            Some("its value is a URL with a password or token in it")
        );
        assert_eq!(sensitive_reason("HTTP_PROXY", "http://proxy:3128"), None);
    }

    #[test]
    fn every_entry_has_a_reason_and_no_name_is_both_blocked_and_exempt() {
        for (n, why) in NAMES.iter().chain(NOT_SECRETS) {
            assert!(!why.is_empty(), "{n}");
            assert_eq!(*n, n.to_ascii_uppercase(), "{n} must be upper-case");
        }
        for (n, _) in NOT_SECRETS {
            assert!(!NAMES.iter().any(|(b, _)| b == n), "{n}");
            // Each exemption is needed: some rule matches it.
            assert!(
                RULES.iter().any(|(r, _)| r.matches(n, &words(n))),
                "{n} needs no exemption"
            );
        }
        assert!(blocklist_len() >= 100, "{}", blocklist_len());
    }

    /// Names the second red team found passing, and their variants.
    const SECOND_ROUND: &[&str] = &[
        "ROOT_PW",
        "DB_PW",
        "dbPw",
        "PW",
        "SMTP_PW_FILE",
        "APP_PRIVKEY",
        "PRIVKEY",
        "tlsPrivkey",
        "APP_PRIVATE",
        "JWT_PRIVATE_PEM",
        "GITHUB_APP_PRIVATE",
        "TLS_PEM",
        "CLIENT_PEM",
        "serverPem",
        "WALLET_MNEMONIC",
        "MNEMONIC",
        "SEED_PHRASE",
        "MASTER_SEED",
        "OTP_SEED",
        "WALLET_SEED",
        "SEED",
        "OTP",
        "OTP_SECRET_B32",
        "GITHUB_TOTP",
        "totpUri",
        "HOTP_COUNTER_KEY",
        "WEBHOOK_HMAC",
        "HMAC",
        "hmacKey",
        "SIGNING_SALT",
        "AUTH_SALT",
        "PASSWORD_SALT",
        "GITHUB_RECOVERY_CODES",
        "RECOVERY_CODE",
        "BACKUP_CODES",
        "twofaBackupCodes",
        "JAVA_KEYSTORE",
        "KEYSTORE",
        "ANDROID_KEYSTORE_B64",
        "androidKeystore",
        "TRUSTSTORE_PASSWORD",
        "SIGNING_SECRET",
        "CODE_SIGNING_IDENTITY",
        "signingCert",
        "DEVICE_PASSCODE",
    ];

    #[test]
    fn regression_second_round_secret_words_are_withheld() {
        assert!(SECOND_ROUND.len() >= 30);
        let missed: Vec<&&str> = SECOND_ROUND
            .iter()
            .filter(|n| name_reason(n).is_none())
            .collect();
        assert_eq!(missed, Vec::<&&str>::new());
        let reasons: Vec<(&str, Option<&str>)> =
            ["ROOT_PW", "MASTER_SEED", "RANDOM_SEED", "TLS_PEM"]
                .into_iter()
                .map(|n| (n, name_reason(n)))
                .collect();
        assert_eq!(
            reasons,
            vec![
                ("ROOT_PW", Some("a password (ROOT_PW, DB_PW)")),
                (
                    "MASTER_SEED",
                    Some(
                        "a seed (SEED_PHRASE, MASTER_SEED, OTP_SEED); a random-number seed (RANDOM_SEED, RNG_SEED) is exempt"
                    )
                ),
                ("RANDOM_SEED", None),
                (
                    "TLS_PEM",
                    Some("PEM-encoded material, often a private key (TLS_PEM, *_PEM)")
                ),
            ]
        );
    }

    #[test]
    fn a_pem_private_key_is_withheld_whatever_the_name() {
        for v in [
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nMHc",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQ",
        ] {
            assert_eq!(
                sensitive_reason("CLIENT_CERT", v),
                Some("its value is a PEM private key"),
                "{v}"
            );
        }
        // Positive twins: a certificate, a public key, a path to a key.
        for v in [
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----\nMFkw",
            "/etc/ssl/private/host.key",
        ] {
            assert_eq!(sensitive_reason("CLIENT_CERT", v), None, "{v}");
        }
    }
}

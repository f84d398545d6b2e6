//! The built-in rule library: data only, compiled by [`super::rules`].
//!
//! Every regular-expression rule matches within one line (the engine never lets a match
//! cross `\n` or `\r`); multi-line secrets (PEM and PuTTY private keys) are block rules.
//! Each rule's regex must contain one of its keywords inside every match: the keyword
//! automaton decides where a rule is even tried, so a match without one is never seen.
//!
//! `example` and `near_miss` are templates for the tests, not keys: `{set:N}` stands for N
//! random characters of a named set (see `rules_tests.rs`), so no real or fixed credential
//! is ever written down here.

/// How a rule's candidate value is vetted before it is redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// A fixed token format: reject only obvious documentation placeholders
    /// (`EXAMPLE`, runs of `x`).
    Token,
    /// A value found by its key name (`password = …`): also reject template references
    /// (`${X}`, `{{x}}`, `<x>`), well-known placeholders (`changeme`), and unquoted bare
    /// identifiers (`password = getpass`), which are code, not secrets.
    Generic,
    /// [`Guard::Generic`], and also reject a value made only of hex digits: a git SHA or
    /// checksum, never a base64 secret of this length.
    Base64,
}

/// How the end of a block rule is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockEnd {
    /// `-----END …-----`: the literal `-----END`, then the closing five dashes on the same
    /// line.
    PemDashes,
    /// `---- END …----`, the SSH.com (RFC 4716-style) framing with four dashes.
    Ssh2Dashes,
    /// PuTTY's `Private-MAC: <hex>` line: the literal, then hex digits.
    PuttyMac,
}

/// One built-in rule as written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Builtin {
    pub id: &'static str,
    pub provider: &'static str,
    pub pattern: &'static str,
    pub keywords: &'static [&'static str],
    pub entropy: Option<f64>,
    pub guard: Guard,
    pub reason: &'static str,
    /// `Some` for a block rule: the header is `pattern`, the end as given.
    pub block: Option<BlockEnd>,
    /// A byte every match contains: a window without it is skipped without running the
    /// regex (URLs are everywhere in logs; credentials in them need an `@`).
    pub needs: Option<u8>,
    /// The pattern is `key_prefix!()`, names made of key bytes (`[A-Za-z0-9_.-]`), then
    /// `sep!()` and a value: a hit can only be in a match if its key run is followed by a
    /// separator or a separator precedes it, which the engine checks before the regex.
    pub assignment: bool,
    /// Another necessary condition for a hit to lie in a match, checked before the regex.
    pub precheck: Option<Precheck>,
    /// How many line breaks a match may cross after the line its keyword is on (`\r\n`
    /// counts as one). 0 for a one-line rule.
    pub lines_after: u8,
    /// How many line breaks a match may cross before the line its keyword is on. The
    /// secret of such a rule lies after its keyword (the engine redacts nothing before
    /// the hit), so the lines before need not be held back.
    pub lines_before: u8,
    /// For a rule whose match may cross lines after its keyword's: a pattern the part of
    /// the match on the keyword's line always contains (searched from where the match may
    /// start to that line's end, with `$` at the line end). A hit whose line lacks it is
    /// settled as soon as the line is complete, instead of waiting for the next lines.
    pub first_line: Option<&'static str>,
    /// Test template of a true positive (empty for block rules, tested separately).
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the rule tests"))]
    pub example: &'static str,
    /// Test templates that must not be redacted by this rule.
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the rule tests"))]
    pub near_miss: &'static [&'static str],
}

/// A cheap necessary condition for a keyword hit to lie inside a match of its rule; a hit
/// that fails it is settled without running the regex. Each kind relies on the pattern's
/// shape, which `rules_tests.rs` asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precheck {
    /// Every match begins with one of these words (ASCII case-insensitive), so one occurs
    /// in the window starting no later than the hit (`.netrc`: `machine` or `default`).
    /// Checked when the rule is compiled. The words hold no line break, so for a rule whose
    /// match starts on its keyword's line (`lines_before` 0) the word is in that line: it is
    /// looked for there before the `first_line` search.
    Leads(&'static [&'static str]),
    /// The pattern is `header_key!()` (or `(?i)\b`), one keyword, then `header_sep!()`: the
    /// match holds that keyword followed by `\?["']?\s{0,3}[:=]`. For a rule over several
    /// lines that is looked for in the keyword's line first, as `first_line` requires it
    /// there.
    Header,
    /// The pattern is `flag_prefix!()`, names, `)`, then `flag_sep!()`: the match holds a
    /// `-` followed by one of the names and `=` or a space, and that `-` is at or before
    /// the hit (the keywords are `-` and a letter, so a hit in the flag's name starts at or
    /// after the dash before the name, and a hit in the value starts after the flag). A
    /// hit in a qualifying word before the name (`-token` in `--token-password`) fails the
    /// check, but the match also holds the name's own hit, which passes it.
    Flag,
    /// Every match begins, at a word boundary (`\b`), with one of the rule's keywords, each
    /// of which starts with a word byte (`mysql`, `docker`, `7z`, …): so a hit of the rule
    /// that starts at a word boundary lies in the window no later than the hit (the hit
    /// itself or an earlier one). Most hits of short command names are inside words
    /// (`library`, `lazy`) and stop here.
    Command,
    /// The pattern is one of these openers then `secret_name!()` (or an alternation of such
    /// branches), and its keywords are [`SECRET_NAME_KEYWORDS`]. A secret name is made of
    /// name bytes (`[A-Za-z0-9_./:-]`) and holds a keyword, so every match holds a hit
    /// whose text before it ends with an opener and name bytes (the anchor), at or before
    /// every other hit of the match. A hit that is no anchor, with no anchor before it in
    /// the window, is settled at once: the `name`, `key` or `value` of most lines that
    /// mention a password never comes.
    Named(&'static [&'static str]),
    /// The keyword is `://` and the pattern holds it once, followed by `userinfo!()`: a
    /// match's `://` is followed by a `:` then an `@` before any whitespace, `/`, quote,
    /// `<`, `>` or `\`, within [`USERINFO_MAX`] bytes. Checked by the scan.
    Userinfo,
    /// The match is a name, spaces or a TAB, and one value that ends the line (`password
    /// Xv8…` in `vault kv get`, `AZURE_CLIENT_SECRET   Wt3…` in an environment table): from
    /// any of its hits to the line's end there are at most two words (runs of bytes that
    /// are not spaces). Prose that mentions a password goes on for more. The keywords end
    /// the name and hold the space or TAB after it, so the scan queues only hits whose
    /// name starts the line or follows a blank, with one value of 12 bytes or more after.
    Column,
    /// Every match holds one of these words (ASCII case-insensitively), so one occurs in
    /// the window: the pattern has a group outside every other group, and outside any
    /// alternation, each of whose branches holds one of them (checked when the rule is
    /// analysed). `curl` in prose or `curl -sS URL` is settled without a search.
    Holds(&'static [&'static str]),
}

/// A URL's `user:password@`, as the `url-credentials` rule matches it after `://`.
macro_rules! userinfo {
    () => {
        r#"[^\s:@/"'<>\\]{0,128}:(?P<secret>[^\s@/"'<>\\]{1,256})@"#
    };
}
#[cfg_attr(
    not(test),
    allow(unused_imports, reason = "the rule tests check the pattern holds it")
)]
pub(crate) use userinfo;

/// The longest `userinfo!()` before its `@`.
pub(crate) const USERINFO_MAX: usize = 128 + 1 + 256;

/// What [`Precheck::Named`] requires between an opener and the keyword: the bytes a
/// secret name is made of.
pub(crate) const NAME_BYTES: &str = "[A-Za-z0-9_./:-]";

/// The start of an HTTP authorization header, up to its name: a word boundary, or the
/// escaped line break before it in a printed byte string (`b'…\r\nAuthorization: …'`).
macro_rules! header_key {
    () => {
        r"(?i)(?:\b|\\[rn])(?:proxy-)?"
    };
}

/// The separator after a header name, up to `:` or `=`.
macro_rules! header_sep {
    () => {
        r#"\\?["']?\s{0,3}[:=]"#
    };
}

/// The start of a command-line flag, up to its names' group: the dashes and up to two
/// words ending in `-` that qualify the name (`--auth-password`, `--smtp-pass`), so the
/// names' `-` is still right before them.
macro_rules! flag_prefix {
    () => {
        r"(?i)(?:^|\s)--?(?:[a-z0-9]{1,12}-){0,2}(?:"
    };
}

/// What follows a flag's name: `=` or up to three spaces.
macro_rules! flag_sep {
    () => {
        r"(?:=|\s{1,3})"
    };
}

/// The key of a generic assignment up to its name: a boundary, then an optional prefix of
/// key bytes ending in `_`, `.` or `-` (`DB_`, `app.`). The names follow as a group of key
/// bytes, closed with `)`.
macro_rules! key_prefix {
    () => {
        r"(?i)(?:^|[^A-Za-z0-9])(?:[A-Za-z0-9_.-]{0,30}[_.-])?(?:"
    };
}

/// `key = value` separators: `=`, `:`, `=>`, `:=`, with optional quotes around the key,
/// up to [`KEY_PAD`] spaces before the separator (`terraform plan`, `.ini` files and
/// `SecretID:   …` align their separators in a column) and up to [`VALUE_INDENT`] spaces
/// before the value (`kubectl describe` and other tables align their values in a column).
macro_rules! sep {
    () => {
        r#"\\?["'`]?\s{0,40}(?:=>|:=|=|:)\s{0,24}"#
    };
}

/// The most spaces `sep!()` allows between a key and its separator.
pub(crate) const KEY_PAD: usize = 40;

/// The most spaces `sep!()` allows between a separator and its value.
pub(crate) const VALUE_INDENT: usize = 24;

/// A value after a separator: double-quoted (escapes kept inside the redaction, so the
/// quotes around it stay), single-quoted (a quote inside written `''` as YAML does, or
/// `'\''` as `set -x` does), brace-quoted as ODBC connection strings write a value with
/// `;` in it (`Pwd={a;b}`), or bare. A bare value never starts with `:` or `=`
/// (`auth::tests`, `a == b` are code, not assignments) or `&`, keeps a backslash escape
/// (`\=` in `.properties`) and a shell's `'\''`, and is one byte longer than the bounds
/// say. A bare value may hold `&`; the redacted part ends before an `&` that starts the
/// next parameter of a query string (`&page=2`; see `SanitizeStream::secret`).
macro_rules! value {
    ($min:literal, $max:literal) => {
        concat!(
            r#"(?:\\?"(?P<secret_dq>(?:[^"\\\r\n]|\\[^\r\n]){"#,
            $min,
            ",",
            $max,
            r#"})\\?"|'(?P<secret_sq>(?:[^'\r\n]|''|'\\''){"#,
            $min,
            ",",
            $max,
            r#"})'|\{(?P<secret_br>[^{}\s]{"#,
            $min,
            ",",
            $max,
            r#"})\}|(?P<secret>[^\s"'`,;\\:=&](?:[^\s"'`,;\\]|\\[^\s"']|'\\''){"#,
            $min,
            ",",
            $max,
            "}))"
        )
    };
}

pub(crate) use {flag_prefix, key_prefix, sep};
#[cfg(test)]
pub(crate) use {flag_sep, header_key, header_sep};

/// A key or element name that says its value is a secret: glued to any prefix for the
/// long names (`PGPASSWORD`, `clientSecret`, `fs.s3a.secret.key`), after a separator for
/// the short ones (`DB_PASS`, `X_TOKEN`, `x-api-key`), so `bypass` or `nextPageToken` are
/// not.
macro_rules! secret_name {
    () => {
        r"(?:[A-Za-z0-9_./:-]{0,80}?(?:password|passwd|passphrase|secret|secret[_.-]?key)|(?:[A-Za-z0-9_./:-]{0,80}[_./:-])?(?:pass|pwd|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|credentials?|auth|authorization|cookie|x-api-key|signing[_.-]?key|encryption[_.-]?key|session(?:[_.-]?(?:id|key|token))?|jsessionid|phpsessid))"
    };
}

pub(crate) use secret_name;

/// The keywords of [`secret_name`]: one of them is in every name it matches.
pub(crate) const SECRET_NAME_KEYWORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "api.key",
    "access_key",
    "accesskey",
    "access-key",
    "access.key",
    "private_key",
    "privatekey",
    "private-key",
    "private.key",
    "credential",
    "auth",
    "cookie",
    "session",
    "sessid",
    "signing",
    "encryption",
];

/// A command-line value right after its flag (`-pSECRET`, `-p SECRET`), bare or quoted;
/// its groups are named `secret_` and the letter given.
macro_rules! glued_value {
    ($n:literal) => {
        concat!(
            r#"(?:(?P<secret_"#,
            $n,
            r#">[^\s'"-][^\s'"]{2,127})|'(?P<secret_"#,
            $n,
            r#"q>[^'\r\n]{3,128})'|"(?P<secret_"#,
            $n,
            r#"d>[^"\r\n]{3,128})")"#
        )
    };
}

/// A token-character boundary after base64/url-safe tokens, where `\b` fails on a
/// trailing `-` or `/`.
macro_rules! end_b64 {
    () => {
        r"(?:[^A-Za-z0-9+/=_-]|$)"
    };
}
pub(crate) use end_b64;

const fn token(
    id: &'static str,
    provider: &'static str,
    pattern: &'static str,
    keywords: &'static [&'static str],
    reason: &'static str,
    example: &'static str,
    near_miss: &'static [&'static str],
) -> Builtin {
    Builtin {
        id,
        provider,
        pattern,
        keywords,
        entropy: Some(3.0),
        guard: Guard::Token,
        reason,
        block: None,
        needs: None,
        assignment: false,
        precheck: None,
        lines_after: 0,
        lines_before: 0,
        first_line: None,
        example,
        near_miss,
    }
}

#[expect(clippy::too_many_arguments, reason = "one row of the rule table")]
const fn ctx(
    id: &'static str,
    provider: &'static str,
    pattern: &'static str,
    keywords: &'static [&'static str],
    entropy: f64,
    reason: &'static str,
    example: &'static str,
    near_miss: &'static [&'static str],
) -> Builtin {
    Builtin {
        id,
        provider,
        pattern,
        keywords,
        entropy: Some(entropy),
        guard: Guard::Generic,
        reason,
        block: None,
        needs: None,
        assignment: false,
        precheck: None,
        lines_after: 0,
        lines_before: 0,
        first_line: None,
        example,
        near_miss,
    }
}

const fn pem(id: &'static str, label: &'static str, reason: &'static str) -> Builtin {
    Builtin {
        id,
        provider: "PEM",
        pattern: label,
        keywords: &["-----BEGIN "],
        entropy: None,
        guard: Guard::Token,
        reason,
        block: Some(BlockEnd::PemDashes),
        needs: None,
        assignment: false,
        precheck: None,
        lines_after: 0,
        lines_before: 0,
        first_line: None,
        example: "",
        near_miss: &[],
    }
}

/// Every built-in rule, in the order the counts list them.
pub(crate) const BUILTIN: &[Builtin] = &[
    // ---- Cloud ----
    token(
        "aws-access-key-id",
        "AWS",
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
        &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        "an access key id names an IAM credential; with its secret it signs AWS API calls",
        "AKIA{b32:16}",
        &["AKIA{b32:12}", "AKIA{l:16}", "AKIAIOSFODNN7EXAMPLE"],
    ),
    Builtin {
        guard: Guard::Base64,
        ..ctx(
            "aws-secret-access-key",
            "AWS",
            concat!(
                r"(?i)aws[\w.-]{0,20}(?:secret|sk)[\w.-]{0,20}",
                sep!(),
                r#"["']?(?P<secret>[A-Za-z0-9/+]{40})"#,
                end_b64!()
            ),
            &["aws"],
            3.8,
            "the secret half of an IAM access key: signs any call the key's user may make",
            "aws_secret_access_key = {b64:40}",
            &[
                "aws_secret_access_key = {hex:40}",
                "aws_secret_access_key = {b64:30}",
            ],
        )
    },
    ctx(
        "aws-session-token",
        "AWS",
        concat!(
            r"(?i)aws[\w.-]{0,20}session[\w.-]{0,20}token",
            sep!(),
            r#"["']?(?P<secret>[A-Za-z0-9/+=]{100,1200})"#
        ),
        &["aws"],
        4.0,
        "temporary STS credentials: as powerful as the role that issued them until expiry",
        "AWS_SESSION_TOKEN={b64:300}",
        &["AWS_SESSION_TOKEN={b64:50}"],
    ),
    token(
        "aws-session-token-body",
        "AWS",
        r"\b(?:FwoGZXIvYXdzE|IQoJb3JpZ2luX2Vj)[A-Za-z0-9/+=]{100,1200}",
        &["FwoGZXIvYXdzE", "IQoJb3JpZ2luX2Vj"],
        "an STS session token recognised by its encoded header, wherever it appears",
        "IQoJb3JpZ2luX2Vj{b64:400}",
        &["IQoJb3JpZ2luX2Vj{b64:40}"],
    ),
    token(
        "gcp-api-key",
        "Google Cloud",
        concat!(r"\bAIza[0-9A-Za-z_-]{35}", end_b64!()),
        &["AIza"],
        "a Google API key: bills and reads whatever APIs the project enabled for it",
        "AIza{b64u:35}",
        &["AIza{b64u:20}"],
    ),
    ctx(
        "gcp-service-account-key-id",
        "Google Cloud",
        r#"(?i)"private_key_id"\s{0,3}:\s{0,3}"(?P<secret>[a-f0-9]{40})""#,
        &["private_key_id"],
        3.0,
        "identifies a service-account key; printed with the key it belongs to",
        r#""private_key_id": "{hex:40}""#,
        &[r#""private_key_id": "{hex:20}""#],
    ),
    token(
        "gcp-oauth-client-secret",
        "Google Cloud",
        concat!(r"\bGOCSPX-[A-Za-z0-9_-]{28}", end_b64!()),
        &["GOCSPX-"],
        "an OAuth client secret lets anyone impersonate the application to Google",
        "GOCSPX-{b64u:28}",
        &["GOCSPX-{b64u:12}"],
    ),
    token(
        "google-oauth-refresh-token",
        "Google Cloud",
        concat!(r"\b1//0[A-Za-z0-9_-]{40,200}", end_b64!()),
        &["1//0"],
        "a long-lived refresh token mints new access tokens for the user",
        "1//0{b64u:60}",
        &["1//0{b64u:10}"],
    ),
    token(
        "google-oauth-access-token",
        "Google Cloud",
        concat!(
            r"\bya29\.(?:[A-Za-z0-9_-]{1,8}\.)?[A-Za-z0-9_-]{30,2000}",
            end_b64!()
        ),
        &["ya29."],
        "a bearer access token for Google APIs, valid for about an hour",
        "ya29.c.c0{b64u:120}",
        &["ya29.{b64u:10}", "ya29.c.{b64u:10}"],
    ),
    ctx(
        "azure-storage-account-key",
        "Azure",
        r"(?i)AccountKey=(?P<secret>[A-Za-z0-9+/]{80,100}={0,2})",
        &["AccountKey="],
        4.0,
        "a storage account key grants full control of every blob, queue and table in it",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={b64:86}==;EndpointSuffix=core.windows.net",
        &["AccountKey={b64:40}=="],
    ),
    ctx(
        "azure-shared-access-key",
        "Azure",
        r"(?i)SharedAccessKey=(?P<secret>[A-Za-z0-9+/]{42,44}={0,2})",
        &["SharedAccessKey="],
        4.0,
        "Service Bus / Event Hubs / IoT Hub connection string key",
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={b64:43}=",
        &["SharedAccessKey={b64:20}="],
    ),
    ctx(
        "azure-sas-token",
        "Azure",
        r"(?i)\bsv=\d{4}-\d{2}-\d{2}&[^\s&]{1,100}(?:&[^\s&]{1,100}){0,12}?&sig=(?P<secret>[A-Za-z0-9%+/]{30,120}(?:%3D|=){0,2})",
        &["sig="],
        3.5,
        "a shared access signature: a signed URL that grants access without an account",
        "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig={b64:43}%3D",
        &["https://example.net/page?sv=2022-11-02&sig=short"],
    ),
    token(
        "azure-ad-client-secret",
        "Azure",
        r"(?:^|[^A-Za-z0-9_~.-])(?P<secret>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?:[^A-Za-z0-9_~.-]|$)",
        &["Q~"],
        "an Entra ID (Azure AD) application secret: signs in as the application",
        "client_secret={an:3}7Q~{an:34}",
        &["{an:3}7Q~{an:10}"],
    ),
    token(
        "digitalocean-pat",
        "DigitalOcean",
        r"\bdop_v1_[a-f0-9]{64}\b",
        &["dop_v1_"],
        "a DigitalOcean personal access token: full API access to the team",
        "dop_v1_{hex:64}",
        &["dop_v1_{hex:40}"],
    ),
    token(
        "digitalocean-oauth-token",
        "DigitalOcean",
        r"\bdoo_v1_[a-f0-9]{64}\b",
        &["doo_v1_"],
        "a DigitalOcean OAuth access token",
        "doo_v1_{hex:64}",
        &["doo_v1_{l:64}"],
    ),
    token(
        "digitalocean-refresh-token",
        "DigitalOcean",
        r"\bdor_v1_[a-f0-9]{64}\b",
        &["dor_v1_"],
        "a DigitalOcean OAuth refresh token",
        "dor_v1_{hex:64}",
        &["dor_v1_{hex:63}"],
    ),
    ctx(
        "heroku-api-key",
        "Heroku",
        concat!(
            r"(?i)heroku[\w.-]{0,20}",
            sep!(),
            r#"["']?(?P<secret>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b"#
        ),
        &["heroku"],
        3.0,
        "the legacy Heroku API key is a UUID that acts as the account's password",
        "HEROKU_API_KEY={uuid}",
        &["heroku_app_id: 42"],
    ),
    token(
        "heroku-api-token",
        "Heroku",
        concat!(r"\bHRKU-[A-Za-z0-9_-]{60}", end_b64!()),
        &["HRKU-"],
        "a current-format Heroku API token",
        "HRKU-{b64u:60}",
        &["HRKU-{b64u:30}"],
    ),
    token(
        "alibaba-access-key-id",
        "Alibaba Cloud",
        r"\bLTAI[A-Za-z0-9]{12,20}\b",
        &["LTAI"],
        "an Alibaba Cloud AccessKey id; with its secret it signs API calls",
        "LTAI{an:20}",
        &["LTAI{an:6}"],
    ),
    ctx(
        "alibaba-access-key-secret",
        "Alibaba Cloud",
        concat!(
            r"(?i)(?:alibaba|aliyun|alicloud)[\w.-]{0,25}",
            sep!(),
            r#"["']?(?P<secret>[A-Za-z0-9]{30})\b"#
        ),
        &["alibaba", "aliyun", "alicloud"],
        3.8,
        "the AccessKey secret of an Alibaba Cloud account",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET={an:30}",
        &["ALIBABA_CLOUD_REGION=cn-hangzhou"],
    ),
    ctx(
        "cloudflare-api-token",
        "Cloudflare",
        concat!(
            r"(?i)cloudflare[\w.-]{0,25}",
            sep!(),
            r#"["']?(?P<secret>[A-Za-z0-9_-]{40})"#,
            end_b64!()
        ),
        &["cloudflare"],
        3.8,
        "a Cloudflare API token can change DNS, WAF and Workers for its zones",
        "CLOUDFLARE_API_TOKEN={b64u:40}",
        &["CLOUDFLARE_ZONE=example.com"],
    ),
    token(
        "cloudflare-origin-ca-key",
        "Cloudflare",
        r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b",
        &["v1.0-"],
        "an Origin CA key issues certificates for the account's zones",
        "v1.0-{hex:24}-{hex:146}",
        &["v1.0-{hex:24}-{hex:40}"],
    ),
    token(
        "ibm-cloud-iam-key",
        "IBM Cloud",
        concat!(
            r#"(?i)(?:ibm|iam)[\w.-]{0,20}api[\w.-]{0,3}key"#,
            sep!(),
            r#"["']?(?P<secret>[A-Za-z0-9_-]{44})"#,
            end_b64!()
        ),
        &["ibm", "iam"],
        "an IBM Cloud IAM API key signs in as its user or service id",
        "IBM_CLOUD_API_KEY={b64u:44}",
        &["IBM_CLOUD_API_KEY={b64u:20}"],
    ),
    // ---- VCS, registries and CI ----
    token(
        "github-pat",
        "GitHub",
        r"\bghp_[A-Za-z0-9]{36}\b",
        &["ghp_"],
        "a classic personal access token acts as the user on every repository it can reach",
        "ghp_{an:36}",
        &["ghp_{an:30}", "ghp_{an:20}-{an:15}"],
    ),
    token(
        "github-fine-grained-pat",
        "GitHub",
        r"\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b",
        &["github_pat_"],
        "a fine-grained personal access token",
        "github_pat_{an:22}_{an:59}",
        &["github_pat_{an:22}_{an:20}"],
    ),
    token(
        "github-oauth-token",
        "GitHub",
        r"\bgho_[A-Za-z0-9]{36}\b",
        &["gho_"],
        "an OAuth app's user access token",
        "gho_{an:36}",
        &["gho_{an:35}"],
    ),
    token(
        "github-user-to-server-token",
        "GitHub",
        r"\bghu_[A-Za-z0-9]{36}\b",
        &["ghu_"],
        "a GitHub App user-to-server token",
        "ghu_{an:36}",
        &["ghu_{an:12}"],
    ),
    token(
        "github-app-token",
        "GitHub",
        r"\bghs_[A-Za-z0-9]{36}\b",
        &["ghs_"],
        "a GitHub App installation (server-to-server) token, as used by Actions' GITHUB_TOKEN",
        "ghs_{an:36}",
        &["ghs_{an:37}"],
    ),
    token(
        "github-refresh-token",
        "GitHub",
        r"\bghr_[A-Za-z0-9]{36,76}\b",
        &["ghr_"],
        "a GitHub App refresh token mints new user tokens",
        "ghr_{an:76}",
        &["ghr_{an:20}"],
    ),
    token(
        "gitlab-pat",
        "GitLab",
        concat!(
            r"\bglpat-[A-Za-z0-9_-]{20,64}(?:\.[A-Za-z0-9]{2}\.[A-Za-z0-9]{9})?",
            end_b64!()
        ),
        &["glpat-"],
        "a GitLab personal access token",
        "glpat-{b64u:20}",
        &["glpat-{b64u:10}"],
    ),
    token(
        "gitlab-pipeline-trigger-token",
        "GitLab",
        concat!(r"\bglptt-[A-Za-z0-9_-]{40}", end_b64!()),
        &["glptt-"],
        "starts pipelines as the trigger's owner",
        "glptt-{hex:40}",
        &["glptt-{hex:20}"],
    ),
    token(
        "gitlab-runner-registration-token",
        "GitLab",
        concat!(r"\bGR1348941[A-Za-z0-9_-]{20}", end_b64!()),
        &["GR1348941"],
        "registers new runners that then receive the project's jobs and secrets",
        "GR1348941{b64u:20}",
        &["GR1348941{b64u:8}"],
    ),
    token(
        "gitlab-runner-auth-token",
        "GitLab",
        concat!(r"\bglrt-[A-Za-z0-9_-]{20,64}", end_b64!()),
        &["glrt-"],
        "a runner authentication token: picks up jobs, with their CI variables",
        "glrt-{b64u:20}",
        &["glrt-{b64u:8}"],
    ),
    token(
        "gitlab-deploy-token",
        "GitLab",
        concat!(r"\bgldt-[A-Za-z0-9_-]{20}", end_b64!()),
        &["gldt-"],
        "a deploy token reads (or writes) repositories and registries",
        "gldt-{b64u:20}",
        &["gldt-{b64u:8}"],
    ),
    token(
        "gitlab-cicd-job-token",
        "GitLab",
        concat!(r"\bglcbt-[0-9a-fA-F]{1,5}_[A-Za-z0-9_-]{20}", end_b64!()),
        &["glcbt-"],
        "a CI/CD job token acts for the job's user while the job runs",
        "glcbt-{hex:2}_{b64u:20}",
        &["glcbt-{hex:2}_{b64u:5}"],
    ),
    token(
        "gitlab-feed-token",
        "GitLab",
        concat!(r"\bglft-[A-Za-z0-9_-]{20}", end_b64!()),
        &["glft-"],
        "a feed token reads the user's activity and issue feeds",
        "glft-{b64u:20}",
        &["glft-{b64u:8}"],
    ),
    token(
        "gitlab-oauth-app-secret",
        "GitLab",
        r"\bgloas-[a-f0-9]{64}\b",
        &["gloas-"],
        "a GitLab OAuth application secret",
        "gloas-{hex:64}",
        &["gloas-{hex:32}"],
    ),
    token(
        "bitbucket-app-password",
        "Bitbucket",
        r"\bATBB[A-Za-z0-9_=.-]{28,40}\b",
        &["ATBB"],
        "a Bitbucket app password acts as the user over HTTPS and the API",
        "ATBB{an:32}",
        &["ATBB{an:10}"],
    ),
    ctx(
        "bitbucket-client-secret",
        "Bitbucket",
        concat!(
            r"(?i)bitbucket[\w.-]{0,20}secret[\w.-]{0,10}",
            sep!(),
            r#"["']?(?P<secret>[A-Za-z0-9=_-]{32,64})\b"#
        ),
        &["bitbucket"],
        3.5,
        "a Bitbucket OAuth consumer secret",
        "BITBUCKET_CLIENT_SECRET={an:32}",
        &["BITBUCKET_CLIENT_SECRET=${SECRET}"],
    ),
    token(
        "atlassian-api-token",
        "Atlassian",
        concat!(r"\bATATT3[A-Za-z0-9_=-]{100,250}", end_b64!()),
        &["ATATT3"],
        "a Jira/Confluence API token: the user's password for the REST API",
        "ATATT3{b64u:180}",
        &["ATATT3{b64u:20}"],
    ),
    token(
        "npm-token",
        "npm",
        r"\bnpm_[A-Za-z0-9]{36}\b",
        &["npm_"],
        "publishes packages as the user: a supply-chain credential",
        "npm_{an:36}",
        &["npm_{an:20}", "npm_config_cache"],
    ),
    ctx(
        "npmrc-auth-token",
        "npm",
        r"(?i)_authToken\s{0,3}=\s{0,3}(?P<secret>[A-Za-z0-9_./+=-]{10,512})",
        &["_authToken"],
        3.0,
        "the registry token written into .npmrc",
        "//registry.npmjs.org/:_authToken={an:36}",
        &["//registry.npmjs.org/:_authToken=${NPM_TOKEN}"],
    ),
    token(
        "pypi-token",
        "PyPI",
        concat!(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,300}", end_b64!()),
        &["pypi-AgEIcHlwaS5vcmc"],
        "uploads releases to PyPI as the project's maintainer",
        "pypi-AgEIcHlwaS5vcmc{b64u:120}",
        &["pypi-AgEIcHlwaS5vcmc{b64u:10}"],
    ),
    token(
        "rubygems-api-key",
        "RubyGems",
        r"\brubygems_[a-f0-9]{48}\b",
        &["rubygems_"],
        "pushes gems as the owner",
        "rubygems_{hex:48}",
        &["rubygems_{hex:24}"],
    ),
    token(
        "dockerhub-pat",
        "Docker Hub",
        concat!(r"\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{27,40}", end_b64!()),
        &["dckr_pat_", "dckr_oat_"],
        "pushes and pulls images as the user or organisation",
        "dckr_pat_{b64u:27}",
        &["dckr_pat_{b64u:10}"],
    ),
    token(
        "crates-io-token",
        "crates.io",
        r"\bcio[A-Za-z0-9]{32}\b",
        &["cio"],
        "publishes and yanks crates as the owner",
        "cio{an:32}",
        &["cio{an:20}", "ciobanu"],
    ),
    token(
        "circleci-pat",
        "CircleCI",
        r"\bCCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}\b",
        &["CCIPAT_"],
        "a CircleCI personal API token",
        "CCIPAT_{an:22}_{hex:40}",
        &["CCIPAT_{an:22}_{hex:10}"],
    ),
    token(
        "terraform-cloud-token",
        "HashiCorp",
        concat!(
            r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
            end_b64!()
        ),
        &[".atlasv1."],
        "a Terraform Cloud / Enterprise API token: runs plans and applies",
        "{an:14}.atlasv1.{b64u:67}",
        &["{an:14}.atlasv1.{b64u:20}"],
    ),
    token(
        "vault-service-token",
        "HashiCorp",
        concat!(r"\bhvs\.[A-Za-z0-9_-]{24,200}", end_b64!()),
        &["hvs."],
        "a Vault service token reads whatever secrets its policies allow",
        "hvs.{b64u:90}",
        &["hvs.{b64u:10}"],
    ),
    token(
        "vault-batch-token",
        "HashiCorp",
        concat!(r"\bhvb\.[A-Za-z0-9_-]{24,300}", end_b64!()),
        &["hvb."],
        "a Vault batch token",
        "hvb.{b64u:140}",
        &["hvb.{b64u:10}"],
    ),
    token(
        "vault-recovery-token",
        "HashiCorp",
        concat!(r"\bhvr\.[A-Za-z0-9_-]{24,200}", end_b64!()),
        &["hvr."],
        "a Vault recovery token",
        "hvr.{b64u:90}",
        &["hvr.{b64u:10}"],
    ),
    token(
        "buildkite-token",
        "Buildkite",
        r"\bbkua_[a-f0-9]{40}\b",
        &["bkua_"],
        "a Buildkite user API token",
        "bkua_{hex:40}",
        &["bkua_{hex:20}"],
    ),
    token(
        "pulumi-token",
        "Pulumi",
        r"\bpul-[a-f0-9]{40}\b",
        &["pul-"],
        "a Pulumi access token manages stacks and their secrets",
        "pul-{hex:40}",
        &["pul-{hex:20}"],
    ),
    token(
        "doppler-token",
        "Doppler",
        r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}\b",
        &[
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.ct.",
            "dp.scim.",
            "dp.audit.",
        ],
        "a Doppler token reads the configs (all the secrets) it is scoped to",
        "dp.pt.{an:43}",
        &["dp.pt.{an:10}"],
    ),
    token(
        "postman-api-key",
        "Postman",
        r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b",
        &["PMAK-"],
        "a Postman API key reads workspaces, collections and their environments",
        "PMAK-{hex:24}-{hex:34}",
        &["PMAK-{hex:24}-{hex:10}"],
    ),
    token(
        "age-secret-key",
        "age",
        r"\bAGE-SECRET-KEY-1[0-9A-Z]{40,80}\b",
        &["AGE-SECRET-KEY-1"],
        "an age identity decrypts every file encrypted to it",
        "AGE-SECRET-KEY-1{bech:58}",
        &["AGE-SECRET-KEY-1{bech:20}"],
    ),
    // ---- AI providers ----
    token(
        "openai-api-key",
        "OpenAI",
        concat!(
            r"\bsk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200}",
            end_b64!()
        ),
        &["T3BlbkFJ"],
        "an OpenAI key (its body carries the marker T3BlbkFJ): bills the organisation",
        "sk-proj-{an:40}T3BlbkFJ{an:40}",
        &["sk-{an:10}T3BlbkFJ{an:5}"],
    ),
    token(
        "openai-project-key",
        "OpenAI",
        concat!(
            r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{80,200}",
            end_b64!()
        ),
        &["sk-proj-", "sk-svcacct-", "sk-admin-"],
        "an OpenAI project, service-account or admin key",
        "sk-proj-{b64u:120}",
        &["sk-proj-{b64u:20}"],
    ),
    token(
        "anthropic-api-key",
        "Anthropic",
        concat!(
            r"\bsk-ant-(?:api|admin|oat|ort)\d{2}-[A-Za-z0-9_-]{80,120}",
            end_b64!()
        ),
        &["sk-ant-"],
        "an Anthropic API or admin key: bills the organisation",
        "sk-ant-api03-{b64u:93}AA",
        &["sk-ant-api03-{b64u:20}"],
    ),
    token(
        "huggingface-token",
        "Hugging Face",
        r"\bhf_[A-Za-z0-9]{34,40}\b",
        &["hf_"],
        "a Hugging Face user access token (may write to models and datasets)",
        "hf_{an:34}",
        &["hf_{an:10}"],
    ),
    token(
        "huggingface-org-token",
        "Hugging Face",
        r"\bapi_org_[A-Za-z0-9]{34}\b",
        &["api_org_"],
        "a Hugging Face organisation API token",
        "api_org_{an:34}",
        &["api_org_{an:10}"],
    ),
    ctx(
        "cohere-api-key",
        "Cohere",
        concat!(
            r"(?i)(?:cohere|co_api)[\w.-]{0,20}",
            sep!(),
            r#"["']?(?P<secret>[A-Za-z0-9]{40})\b"#
        ),
        &["cohere", "co_api"],
        3.8,
        "a Cohere API key bills the account",
        "COHERE_API_KEY={an:40}",
        &["COHERE_MODEL=command-r-plus"],
    ),
    token(
        "replicate-api-token",
        "Replicate",
        r"\br8_[A-Za-z0-9]{37}\b",
        &["r8_"],
        "a Replicate API token runs models on the account's bill",
        "r8_{an:37}",
        &["r8_{an:10}"],
    ),
    token(
        "groq-api-key",
        "Groq",
        r"\bgsk_[A-Za-z0-9]{52}\b",
        &["gsk_"],
        "a Groq API key",
        "gsk_{an:52}",
        &["gsk_{an:20}"],
    ),
    token(
        "perplexity-api-key",
        "Perplexity",
        r"\bpplx-[A-Za-z0-9]{48}\b",
        &["pplx-"],
        "a Perplexity API key",
        "pplx-{an:48}",
        &["pplx-{an:20}"],
    ),
    token(
        "xai-api-key",
        "xAI",
        r"\bxai-[A-Za-z0-9]{80}\b",
        &["xai-"],
        "an xAI (Grok) API key",
        "xai-{an:80}",
        &["xai-{an:20}"],
    ),
    token(
        "openrouter-api-key",
        "OpenRouter",
        r"\bsk-or-v1-[a-f0-9]{64}\b",
        &["sk-or-v1-"],
        "an OpenRouter key spends the account's credits on any model",
        "sk-or-v1-{hex:64}",
        &["sk-or-v1-{hex:20}"],
    ),
    token(
        "langsmith-api-key",
        "LangChain",
        r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b",
        &["lsv2_"],
        "a LangSmith key reads traces, which hold prompts and outputs",
        "lsv2_pt_{hex:32}_{hex:10}",
        &["lsv2_pt_{hex:32}_{hex:4}"],
    ),
    ctx(
        "mistral-api-key",
        "Mistral",
        concat!(
            r"(?i)mistral[\w.-]{0,20}",
            sep!(),
            r#"["']?(?P<secret>[A-Za-z0-9]{32})\b"#
        ),
        &["mistral"],
        3.8,
        "a Mistral API key",
        "MISTRAL_API_KEY={an:32}",
        &["MISTRAL_MODEL=mistral-large-latest"],
    ),
    // ---- SaaS ----
    token(
        "slack-bot-token",
        "Slack",
        r"\bxoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24}\b",
        &["xoxb-"],
        "a Slack bot token reads and posts in every channel the bot is in",
        "xoxb-{d:12}-{d:13}-{an:24}",
        &["xoxb-{d:12}-{d:13}-{an:10}"],
    ),
    token(
        "slack-user-token",
        "Slack",
        r"\bxox[pe]-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[a-f0-9]{32}\b",
        &["xoxp-", "xoxe-"],
        "a Slack user token acts as the person",
        "xoxp-{d:12}-{d:12}-{d:13}-{hex:32}",
        &["xoxp-{d:12}-{d:12}-{d:13}-{hex:10}"],
    ),
    token(
        "slack-app-token",
        "Slack",
        r"\bxapp-\d-[A-Z0-9]{9,12}-\d{10,13}-[a-f0-9]{64}\b",
        &["xapp-"],
        "an app-level token opens Socket Mode connections for the app",
        "xapp-1-{uan:11}-{d:13}-{hex:64}",
        &["xapp-1-{uan:11}-{d:13}-{hex:20}"],
    ),
    token(
        "slack-config-token",
        "Slack",
        r"\bxoxe\.xox[bp]-\d-[A-Za-z0-9]{150,180}\b",
        &["xoxe.xox"],
        "a configuration access token manages the workspace's apps",
        "xoxe.xoxp-1-{an:160}",
        &["xoxe.xoxp-1-{an:20}"],
    ),
    token(
        "slack-legacy-token",
        "Slack",
        r"\bxox[aors]-(?:[0-9]{1,13}-){1,3}[A-Za-z0-9]{10,48}\b",
        &["xoxa-", "xoxo-", "xoxr-", "xoxs-"],
        "legacy and workspace Slack tokens",
        "xoxs-{d:10}-{d:12}-{an:32}",
        &["xoxs-{d:10}-short"],
    ),
    token(
        "slack-webhook",
        "Slack",
        r"(?i)hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/[A-Za-z0-9]{20,40})\b",
        &["hooks.slack.com/"],
        "an incoming webhook URL posts into its channel for anyone who has it",
        "https://hooks.slack.com/services/T{uan:10}/B{uan:10}/{an:24}",
        &["https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"],
    ),
    token(
        "stripe-secret-key",
        "Stripe",
        r"\bsk_(?:live|test)_[A-Za-z0-9]{24,247}\b",
        &["sk_live_", "sk_test_"],
        "a Stripe secret key moves money and reads customer data",
        "sk_live_{an:99}",
        &["sk_live_{an:10}"],
    ),
    token(
        "stripe-restricted-key",
        "Stripe",
        r"\brk_(?:live|test)_[A-Za-z0-9]{24,247}\b",
        &["rk_live_", "rk_test_"],
        "a Stripe restricted key",
        "rk_live_{an:99}",
        &["rk_live_{an:10}"],
    ),
    token(
        "stripe-webhook-secret",
        "Stripe",
        r"\bwhsec_[A-Za-z0-9+/]{32,64}",
        &["whsec_"],
        "signs webhook events: whoever has it can forge Stripe events",
        "whsec_{an:32}",
        &["whsec_{an:10}"],
    ),
    ctx(
        "twilio-api-key",
        "Twilio",
        concat!(
            r"(?i)twilio[\w.-]{0,25}",
            sep!(),
            r#"["']?(?P<secret>SK[0-9a-fA-F]{32})\b"#
        ),
        &["twilio"],
        3.0,
        "a Twilio API key SID, used with its secret to call the API",
        "TWILIO_API_KEY=SK{hex:32}",
        &["TWILIO_API_KEY=SK{hex:10}"],
    ),
    ctx(
        "twilio-auth-token",
        "Twilio",
        concat!(
            r"(?i)twilio[\w.-]{0,20}(?:auth|token|secret)[\w.-]{0,10}",
            sep!(),
            r#"["']?(?P<secret>[a-f0-9]{32})\b"#
        ),
        &["twilio"],
        3.0,
        "the account auth token: full control of the Twilio account",
        "TWILIO_AUTH_TOKEN={hex:32}",
        &["TWILIO_AUTH_TOKEN={hex:16}"],
    ),
    token(
        "sendgrid-api-key",
        "SendGrid",
        r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
        &["SG."],
        "sends mail as the account (phishing from a trusted domain)",
        "SG.{an:22}.{an:43}",
        &["SG.{an:22}.{an:10}"],
    ),
    token(
        "mailgun-api-key",
        "Mailgun",
        r"\bkey-[0-9a-f]{32}\b",
        &["key-"],
        "a Mailgun private API key sends mail and reads logs",
        "key-{hex:32}",
        &["key-{hex:20}", "key-value-store"],
    ),
    token(
        "mailchimp-api-key",
        "Mailchimp",
        r"\b[0-9a-f]{32}-us\d{1,2}\b",
        &["-us"],
        "a Mailchimp API key: audiences and campaigns",
        "{hex:32}-us14",
        &["{hex:20}-us14", "en-us"],
    ),
    token(
        "shopify-access-token",
        "Shopify",
        r"\bshpat_[a-fA-F0-9]{32}\b",
        &["shpat_"],
        "an Admin API access token for a shop",
        "shpat_{hex:32}",
        &["shpat_{hex:10}"],
    ),
    token(
        "shopify-custom-app-token",
        "Shopify",
        r"\bshpca_[a-fA-F0-9]{32}\b",
        &["shpca_"],
        "a custom app access token",
        "shpca_{hex:32}",
        &["shpca_{hex:10}"],
    ),
    token(
        "shopify-private-app-token",
        "Shopify",
        r"\bshppa_[a-fA-F0-9]{32}\b",
        &["shppa_"],
        "a private app password",
        "shppa_{hex:32}",
        &["shppa_{hex:10}"],
    ),
    token(
        "shopify-shared-secret",
        "Shopify",
        r"\bshpss_[a-fA-F0-9]{32}\b",
        &["shpss_"],
        "an app's shared secret verifies webhooks and OAuth",
        "shpss_{hex:32}",
        &["shpss_{hex:10}"],
    ),
    token(
        "square-access-token",
        "Square",
        concat!(r"\b(?:EAAA|sq0atp-)[A-Za-z0-9_-]{22,60}", end_b64!()),
        &["EAAA", "sq0atp-"],
        "a Square access token takes payments and reads sales",
        "EAAA{b64u:60}",
        &["EAAA{b64u:10}"],
    ),
    token(
        "square-oauth-secret",
        "Square",
        concat!(r"\bsq0csp-[A-Za-z0-9_-]{43}", end_b64!()),
        &["sq0csp-"],
        "a Square application secret",
        "sq0csp-{b64u:43}",
        &["sq0csp-{b64u:10}"],
    ),
    token(
        "braintree-access-token",
        "PayPal / Braintree",
        r"\baccess_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}\b",
        &["access_token$"],
        "a PayPal/Braintree access token takes payments",
        "access_token$production${lan:16}${hex:32}",
        &["access_token$production${lan:16}${hex:8}"],
    ),
    ctx(
        "paypal-client-secret",
        "PayPal / Braintree",
        concat!(
            r"(?i)(?:paypal|braintree)[\w.-]{0,20}(?:secret|private)[\w.-]{0,10}",
            sep!(),
            r#"["']?(?P<secret>[A-Za-z0-9_-]{32,80})\b"#
        ),
        &["paypal", "braintree"],
        3.8,
        "a PayPal REST client secret or Braintree private key",
        "PAYPAL_CLIENT_SECRET={b64u:80}",
        &["PAYPAL_CLIENT_SECRET=${PAYPAL}"],
    ),
    ctx(
        "datadog-api-key",
        "Datadog",
        concat!(
            r"(?i)(?:datadog|dd)[\w.-]{0,20}(?:api|app)[\w.-]{0,6}key",
            sep!(),
            r#"["']?(?P<secret>[a-f0-9]{32,40})\b"#
        ),
        &["datadog", "dd_api", "dd_app", "dd-api", "dd-app"],
        3.0,
        "a Datadog API or application key submits and reads the organisation's data",
        "DD_API_KEY={hex:32}",
        &["DD_API_KEY={hex:10}"],
    ),
    token(
        "newrelic-user-key",
        "New Relic",
        r"\bNRAK-[A-Z0-9]{27}\b",
        &["NRAK-"],
        "a New Relic user API key queries and changes the account",
        "NRAK-{uan:27}",
        &["NRAK-{uan:10}"],
    ),
    token(
        "newrelic-insert-key",
        "New Relic",
        concat!(r"\bNRII-[A-Za-z0-9_-]{32}", end_b64!()),
        &["NRII-"],
        "a New Relic insights insert key",
        "NRII-{b64u:32}",
        &["NRII-{b64u:10}"],
    ),
    token(
        "newrelic-browser-key",
        "New Relic",
        r"\bNRJS-[a-f0-9]{19}\b",
        &["NRJS-"],
        "a New Relic browser ingest key",
        "NRJS-{hex:19}",
        &["NRJS-{hex:10}"],
    ),
    token(
        "newrelic-license-key",
        "New Relic",
        r"\b[a-f0-9]{36}NRAL\b",
        &["NRAL"],
        "a New Relic ingest licence key",
        "{hex:36}NRAL",
        &["{hex:10}NRAL"],
    ),
    Builtin {
        needs: Some(b'@'),
        ..token(
            "sentry-dsn",
            "Sentry",
            r"(?i)\bhttps?://(?P<secret>[a-f0-9]{32})(?::[a-f0-9]{32})?@[A-Za-z0-9.-]{0,100}sentry[A-Za-z0-9.-]{0,100}(?::\d{1,5})?/\d{1,12}\b",
            &["sentry"],
            "a DSN's key lets anyone submit events to (and flood) the project",
            "https://{hex:32}@o{d:6}.ingest.sentry.io/{d:7}",
            &["https://o{d:6}.ingest.sentry.io/{d:7}"],
        )
    },
    token(
        "sentry-auth-token",
        "Sentry",
        concat!(r"\bsntry[su]_[A-Za-z0-9+/=_-]{60,300}", end_b64!()),
        &["sntrys_", "sntryu_"],
        "a Sentry organisation or user auth token",
        "sntryu_{hex:64}",
        &["sntryu_{hex:10}"],
    ),
    token(
        "databricks-token",
        "Databricks",
        r"\bdapi[a-f0-9]{32}(?:-\d)?\b",
        &["dapi"],
        "a Databricks personal access token runs jobs and reads tables",
        "dapi{hex:32}",
        &["dapi{hex:20}", "dapiclient"],
    ),
    token(
        "linear-api-key",
        "Linear",
        r"\blin_api_[A-Za-z0-9]{40}\b",
        &["lin_api_"],
        "a Linear personal API key",
        "lin_api_{an:40}",
        &["lin_api_{an:10}"],
    ),
    token(
        "linear-oauth-token",
        "Linear",
        r"\blin_oauth_[a-f0-9]{64}\b",
        &["lin_oauth_"],
        "a Linear OAuth access token",
        "lin_oauth_{hex:64}",
        &["lin_oauth_{hex:10}"],
    ),
    token(
        "notion-integration-token",
        "Notion",
        r"\b(?:secret_[A-Za-z0-9]{43}|ntn_[0-9]{11}[A-Za-z0-9]{35})\b",
        &["secret_", "ntn_"],
        "a Notion integration token reads and edits the pages shared with it",
        "ntn_{d:11}{an:35}",
        &["ntn_{d:11}{an:5}", "secret_santa"],
    ),
    ctx(
        "discord-bot-token",
        "Discord",
        concat!(
            r"(?i)discord[\w.-]{0,20}",
            sep!(),
            r#"["']?(?P<secret>[MN][A-Za-z0-9]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})"#,
            end_b64!()
        ),
        &["discord"],
        3.5,
        "a Discord bot token logs in as the bot",
        "DISCORD_TOKEN=M{an:25}.{b64u:6}.{b64u:38}",
        &["DISCORD_TOKEN=short"],
    ),
    token(
        "discord-webhook",
        "Discord",
        concat!(
            r"(?i)discord(?:app)?\.com/api/(?:v\d{1,2}/)?webhooks/\d{17,20}/(?P<secret>[A-Za-z0-9_-]{60,100})",
            end_b64!()
        ),
        &["discord.com/api/", "discordapp.com/api/"],
        "a webhook URL posts into its channel for anyone who has it",
        "https://discord.com/api/webhooks/{d:18}/{b64u:68}",
        &["https://discord.com/api/webhooks/{d:18}/{b64u:10}"],
    ),
    token(
        "telegram-bot-token",
        "Telegram",
        concat!(
            r"(?:\b|bot)(?P<secret>\d{8,10}:AA[A-Za-z0-9_-]{33})",
            r"(?:[^A-Za-z0-9_-]|$)"
        ),
        &[":AA"],
        "a Telegram bot token controls the bot and reads its chats",
        "https://api.telegram.org/bot{d:10}:AA{b64u:33}/sendMessage",
        &["{d:10}:AA{b64u:10}", "robot{d:10}:AB{b64u:33}"],
    ),
    token(
        "hubspot-private-app-token",
        "HubSpot",
        r"\bpat-(?:na|eu)\d-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b",
        &["pat-na", "pat-eu"],
        "a HubSpot private app token reads the CRM",
        "pat-na1-{uuid}",
        &["pat-na1-{hex:8}"],
    ),
    token(
        "figma-token",
        "Figma",
        concat!(r"\bfig[dou]_[A-Za-z0-9_-]{40,64}", end_b64!()),
        &["figd_", "figo_", "figu_"],
        "a Figma personal access token",
        "figd_{b64u:40}",
        &["figd_{b64u:10}"],
    ),
    token(
        "mapbox-secret-token",
        "Mapbox",
        r"\bsk\.eyJ[A-Za-z0-9_-]{50,300}\.[A-Za-z0-9_-]{20,40}\b",
        &["sk.eyJ"],
        "a Mapbox secret token",
        "sk.eyJ{an:80}.{an:22}",
        &["sk.eyJ{an:10}.{an:22}"],
    ),
    token(
        "supabase-token",
        "Supabase",
        r"\bsb(?:p|_secret)_[a-f0-9]{40}\b",
        &["sbp_", "sb_secret_"],
        "a Supabase access token manages projects and their databases",
        "sbp_{hex:40}",
        &["sbp_{hex:10}"],
    ),
    token(
        "planetscale-token",
        "PlanetScale",
        concat!(
            r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.=-]{32,64}",
            end_b64!()
        ),
        &["pscale_tkn_", "pscale_pw_", "pscale_oauth_"],
        "a PlanetScale service token or database password",
        "pscale_pw_{b64u:43}",
        &["pscale_pw_{b64u:10}"],
    ),
    token(
        "dynatrace-token",
        "Dynatrace",
        r"\bdt0[a-z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}\b",
        &["dt0c01.", "dt0s01.", "dt0a01."],
        "a Dynatrace API token",
        "dt0c01.{uan:24}.{uan:64}",
        &["dt0c01.{uan:24}.{uan:10}"],
    ),
    token(
        "grafana-service-account-token",
        "Grafana",
        r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b",
        &["glsa_"],
        "a Grafana service account token",
        "glsa_{an:32}_{hex:8}",
        &["glsa_{an:10}_{hex:8}"],
    ),
    token(
        "grafana-cloud-token",
        "Grafana",
        r"\bglc_[A-Za-z0-9+/]{32,400}={0,2}",
        &["glc_"],
        "a Grafana Cloud API token",
        "glc_{an:120}",
        &["glc_{an:10}"],
    ),
    ctx(
        "okta-api-token",
        "Okta",
        concat!(
            r"(?i)okta[\w.-]{0,20}",
            sep!(),
            r#"["']?(?P<secret>00[A-Za-z0-9_-]{40})"#,
            end_b64!()
        ),
        &["okta"],
        3.5,
        "an Okta API token administers the organisation's identities",
        "OKTA_API_TOKEN=00{b64u:40}",
        &["OKTA_ORG_URL=https://dev-1.okta.com"],
    ),
    ctx(
        "kubernetes-client-key-data",
        "Kubernetes",
        r"(?i)client-key-data\s{0,3}:\s{0,3}(?P<secret>[A-Za-z0-9+/]{40,4096}={0,2})",
        &["client-key-data"],
        4.0,
        "the kubeconfig's base64 client private key: cluster access as that user",
        "    client-key-data: {b64:600}",
        &["    client-key-data: REDACTED"],
    ),
    ctx(
        "docker-config-auth",
        "Docker",
        r#"(?i)"auth"\s{0,3}:\s{0,3}"(?P<secret>[A-Za-z0-9+/]{8,1024}={0,2})""#,
        &[r#""auth""#],
        3.0,
        "base64 user:password for a registry in ~/.docker/config.json",
        r#"{"auths":{"ghcr.io":{"auth":"{b64:48}"}}}"#,
        &[r#""auth": """#],
    ),
    // ---- Contexts over several lines, HTTP dumps, command lines ----
    Builtin {
        precheck: Some(Precheck::Named(&[
            r#"\bname\\?["']?\s{0,3}[:=]\s{0,3}\\?["']?"#,
        ])),
        lines_after: 2,
        first_line: Some(concat!(
            r#"(?i)\bname\\?["']?\s{0,3}[:=]\s{0,3}\\?["']?"#,
            secret_name!(),
            r#"\\?["']?\s{0,3},?\s{0,80}(?:$|\\?["']?value\\?["']?\s{0,3}[:=])"#
        )),
        ..ctx(
            "name-value-secret",
            "generic",
            concat!(
                r#"(?i)\bname\\?["']?\s{0,3}[:=]\s{0,3}\\?["']?"#,
                secret_name!(),
                r#"\\?["']?\s{0,3},?\s{0,80}(?:\\?["']?[A-Za-z]{1,20}\\?["']?\s{0,3}:\s{0,3}\\?["'][^"'\r\n]{0,40}\\?["']\s{0,3},\s{0,80}|#[^\r\n]{0,200}\s{1,80}){0,2}\\?["']?value\\?["']?\s{0,3}[:=]\s{0,3}(?:[>|][-+]?[ \t]{0,3}\r?\n[ \t]{1,40})?"#,
                value!(4, 1024)
            ),
            SECRET_NAME_KEYWORDS,
            2.0,
            "an environment list entry (Kubernetes, ECS, Compose) or header pair whose name is a secret's: its value is the secret",
            "- name: DB_PASSWORD\n  value: \"{an:16}\"",
            &[
                "- name: LOG_LEVEL\n  value: {an:12}",
                "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:",
                "- name: API_TOKEN\n  value: \"${API_TOKEN}\"",
                "- name: LOG_FORMAT\n  value: >-\n    {an:20}",
            ],
        )
    },
    Builtin {
        precheck: Some(Precheck::Header),
        lines_after: 1,
        first_line: Some(concat!(
            r#"(?i)\bvalue\\?["']?\s{0,3}[:=]\s{0,3}"#,
            value!(4, 1024),
            r#"\\?["']?\s{0,3},?\s{0,80}(?:$|\\?["']?(?:name|key)\\?["']?\s{0,3}[:=])"#
        )),
        ..ctx(
            "value-name-secret",
            "generic",
            concat!(
                r#"(?i)\bvalue\\?["']?\s{0,3}[:=]\s{0,3}"#,
                value!(4, 1024),
                r#"\\?["']?\s{0,3},?\s{0,80}\\?["']?(?:name|key)\\?["']?\s{0,3}[:=]\s{0,3}\\?["']?"#,
                secret_name!(),
                r#"\\?["']?\s{0,3}(?:$|[,}\]#/>])"#
            ),
            &["value"],
            2.0,
            "the same pair written value first",
            "- value: {an:20}\n  name: REDIS_PASSWORD",
            &[
                "- value: {an:20}\n  name: REDIS_PORT",
                "<add value=\"{an:20}\" key=\"Timeout\" />",
            ],
        )
    },
    Builtin {
        needs: Some(b'<'),
        precheck: Some(Precheck::Named(&["<"])),
        lines_after: 4,
        first_line: Some(concat!(r"(?i)<", secret_name!(), r"(?:$|[\s>])")),
        ..ctx(
            "xml-secret-element",
            "generic",
            concat!(
                r"(?i)<",
                secret_name!(),
                r#"(?:\s{1,10}[A-Za-z_:][^<>]{0,200})?>\s{0,40}(?:<!\[CDATA\[\s{0,40})?(?P<secret>[^<\s][^<\r\n]{1,300}?[^<\s\]])\s{0,40}(?:\]\]>)?\s{0,40}</"#
            ),
            SECRET_NAME_KEYWORDS,
            2.0,
            "an XML element named like a password, secret or token holds one",
            "<password>{an:14}</password>",
            &[
                "<password>${env.DB_PASSWORD}</password>",
                "<passwordPolicy>strict</passwordPolicy>",
                "<password/>",
            ],
        )
    },
    Builtin {
        precheck: Some(Precheck::Named(&[
            r#"\b(?:key|name)\s{0,3}=\s{0,3}["']"#,
            r"<key>\s{0,40}",
            r"<name>\s{0,40}",
        ])),
        lines_after: 4,
        first_line: Some(concat!(
            r#"(?i)(?:\b(?:key|name)\s{0,3}=\s{0,3}["']"#,
            secret_name!(),
            r#"["']|<(?:name|key)>\s{0,40}"#,
            secret_name!(),
            r"\s{0,40}(?:$|</(?:name|key)>))"
        )),
        ..ctx(
            "xml-keyed-value",
            "generic",
            concat!(
                r#"(?i)(?:\b(?:key|name)\s{0,3}=\s{0,3}["']"#,
                secret_name!(),
                r#"["'](?:\s{1,40}[A-Za-z_:][A-Za-z0-9_.:-]{0,30}\s{0,3}=\s{0,3}(?:"[^"<>\r\n]{0,100}"|'[^'<>\r\n]{0,100}')){0,3}(?:\s{1,40}value\s{0,3}=\s{0,3}(?:"(?P<secret_dq>[^"\r\n]{3,300})"|'(?P<secret_sq>[^'\r\n]{3,300})')|\s{0,3}>\s{0,40}(?:<value>\s{0,40})?(?P<secret_x>[^<\s][^<\r\n]{1,300}[^<\s])\s{0,40}</)|<key>\s{0,40}"#,
                secret_name!(),
                r#"\s{0,40}</key>\s{0,200}<string>\s{0,40}(?P<secret_k>[^<\s][^<\r\n]{1,300}[^<\s])\s{0,40}</string>|<name>\s{0,40}"#,
                secret_name!(),
                r"\s{0,40}</name>\s{0,200}(?:<description>[^<]{0,300}</description>\s{0,200})?<value>\s{0,40}(?P<secret_v>[^<\s][^<\r\n]{1,300}[^<\s])\s{0,40}</value>)"
            ),
            SECRET_NAME_KEYWORDS,
            2.0,
            "a configuration entry keyed by a secret's name (`<add key=\"ApiKey\" value=…>`, Hadoop `<name>…secret.key</name><value>…`)",
            "<add key=\"ApiKey\" value=\"{an:24}\" />",
            &[
                "<add key=\"ApiKey\" value=\"\" />",
                "<add key=\"Timeout\" value=\"{an:24}\" />",
                "<property name=\"db.password\" value=\"${db.password}\"/>",
            ],
        )
    },
    Builtin {
        needs: Some(b'='),
        ..ctx(
            "http-cookie",
            "HTTP",
            r#"(?i)(?:\bset-cookie|(?:^|[^A-Za-z0-9_-]|\\[rn])cookie)\\?["']?\s{0,3}:\s{0,3}\[?\s{0,3}\\?["']?(?:[^=;\s"'\\,\]]{1,64}=[^;\s"'\\,\]]{0,15};\s{0,3}){0,40}[^=;\s"'\\,\]]{1,64}=\\?"?(?P<secret_c>[^;\s"'\\,\]]{16,1024}(?:;\s{0,3}[^=;\s"'\\,\]]{1,64}=[^;\s"'\\,\]]{0,512}){0,5})"#,
            &["cookie"],
            3.0,
            "a session cookie in a Cookie or Set-Cookie header logs its bearer in",
            "< Set-Cookie: sessionid={an:32}; Path=/; HttpOnly",
            &[
                "Set-Cookie: lang=en-US; Path=/; Max-Age=31536000",
                "Cookie: theme=dark; lang=en",
            ],
        )
    },
    Builtin {
        precheck: Some(Precheck::Command),
        ..ctx(
            "cli-client-password",
            "generic",
            concat!(
                r#"(?:\b(?i:mysql[a-z_]{0,12}|mariadb[a-z_-]{0,12}|mydumper|myloader|7z[arz]?|rar|unrar)\b[^\r\n|;&]{0,200}?\s-p"#,
                glued_value!("a"),
                r"|\bsshpass\s{1,3}(?:-[a-zA-Z]\s{1,3}\S{1,100}\s{1,3}){0,2}-p\s{0,3}",
                glued_value!("b"),
                r"|\b(?:redis-cli|keydb-cli)\b[^\r\n|;&]{0,200}?\s-a\s{1,3}",
                glued_value!("c"),
                r"|\bldap(?:search|modify|add|delete|whoami|passwd|compare|modrdn|exop|url)\b[^\r\n|;&]{0,200}?\s-w\s{0,3}",
                glued_value!("d"),
                r"|\b(?:sqlcmd|bcp|osql|isql|zip|unzip|zipcloak|ipmitool)\b[^\r\n|;&]{0,200}?\s-P\s{0,3}",
                glued_value!("e"),
                r"|\bmongo(?:sh|dump|restore|import|export|stat|top|files)?\b[^\r\n|;&]{0,200}?\s-p\s{0,3}",
                glued_value!("f"),
                r"|\b(?i:docker|podman|buildah|skopeo|nerdctl|oras|az|helm\s{1,3}registry)\s{1,3}login\b[^\r\n|;&]{0,200}?\s-p\s{1,3}",
                glued_value!("g"),
                r"|\bhtpasswd\s{1,3}(?:-[A-Za-z]{1,6}\s{1,3}){0,3}-[A-Za-z]{0,5}b[A-Za-z]{0,5}\s{1,3}(?:-[A-Za-z]{1,6}\s{1,3}){0,3}(?:[^\s-]\S{0,200}\s{1,3})?[^\s-]\S{0,100}\s{1,3}",
                glued_value!("h"),
                r#"|\b(?:smbclient|rpcclient|smbmap|smbget|smbcacls|smbcquotas)\b[^\r\n|;&]{0,200}?\s(?:-U|--user(?:name)?=?)\s{0,3}["']?[^\s%"']{1,64}%(?P<secret_i>[^\s'"]{3,128})"#,
                r"|\brabbitmqctl\s{1,3}(?:-\S{1,40}\s{1,3}){0,4}(?:add_user|change_password)\s{1,3}\S{1,100}\s{1,3}",
                glued_value!("j"),
                r#"|\bnet use\s{1,3}(?:[A-Za-z]:|\*)?\s{0,3}\\\\\S{1,200}(?:\s{1,3}/[A-Za-z]{1,12}:\S{1,100}){0,2}\s{1,3}(?P<secret_k>[^\s'"/][^\s'"]{2,127})"#,
                r"|\bmysqladmin\b[^\r\n|;&]{0,200}?\s(?:password|passwd)\s{1,3}",
                glued_value!("m"),
                r"|\bopenssl\s{1,3}enc\b[^\r\n|;&]{0,200}?\s-k\s{1,3}",
                glued_value!("n"),
                r"|\baws\s{1,3}configure\s{1,3}set\s{1,3}(?:[A-Za-z0-9_.-]{0,40}\.)?(?:aws_secret_access_key|aws_session_token)\s{1,3}",
                glued_value!("o"),
                r#"|\b(?:sqlplus|rman|expdp|impdp|sqlldr)\s{1,3}(?:-\S{1,10}\s{1,3}){0,2}["']?[^\s/@"']{1,64}/(?P<secret_s>[^\s@/"']{3,128})@"#,
                r"|\b[xw]freerdp\b[^\r\n|;&]{0,200}?\s/p:",
                glued_value!("r"),
                r"|\blftp\b[^\r\n|;&]{0,200}?\s-u\s{1,3}[^\s,]{1,64},",
                glued_value!("t"),
                r"|\bnmcli\b[^\r\n|;&]{0,200}?\spassword\s{1,3}",
                glued_value!("u"),
                ")"
            ),
            &[
                "mysql",
                "mariadb",
                "mydumper",
                "myloader",
                "7z",
                "rar",
                "unrar",
                "sshpass",
                "redis-cli",
                "keydb-cli",
                "ldap",
                "sqlcmd",
                "bcp",
                "osql",
                "isql",
                "zip",
                "unzip",
                "zipcloak",
                "mongo",
                "docker",
                "podman",
                "buildah",
                "skopeo",
                "nerdctl",
                "oras",
                "az",
                "helm",
                "htpasswd",
                "smbclient",
                "rpcclient",
                "smbmap",
                "smbget",
                "smbcacls",
                "smbcquotas",
                "rabbitmqctl",
                "net use",
                "ipmitool",
                "mysqladmin",
                "openssl",
                "aws",
                "sqlplus",
                "rman",
                "expdp",
                "impdp",
                "sqlldr",
                "xfreerdp",
                "wfreerdp",
                "lftp",
                "nmcli",
            ],
            1.0,
            "a password given on a client's command line (`mysql -pSECRET`, `sshpass -p`, `redis-cli -a`, `ldapsearch -w`) shows in ps output, shell traces and logs",
            "mysql -h db -u root -p{an:12} app",
            &[
                "mysql -h db -u root -p app",
                "mysql -h db -P 3306 -u root",
                "redis-cli -a $REDIS_PASSWORD ping",
            ],
        )
    },
    ctx(
        "openssl-pass-arg",
        "OpenSSL",
        r#"(?i)-(?:pass|passin|passout|srcpass|destpass|passwd|password|kpass)\s{1,3}["']?pass:(?P<secret_p>[^\s'"]{3,128})"#,
        &["pass:"],
        1.0,
        "`pass:` hands OpenSSL (and tools built on it) the password itself on the command line",
        "openssl pkcs12 -export -in c.pem -passout pass:{an:12} -out c.p12",
        &["openssl pkcs12 -passin env:P12_PASSWORD -in c.p12"],
    ),
    ctx(
        "redis-auth-command",
        "Redis",
        concat!(
            r"(?::[0-9]{1,5}(?:\[[0-9]{1,2}\])?|not connected)> AUTH\s{1,3}(?:[^\s]{1,64}\s{1,3})?",
            glued_value!("v")
        ),
        &["> auth"],
        1.0,
        "`AUTH [user] password` typed at a redis-cli prompt is echoed with the password",
        "127.0.0.1:6379> AUTH default {an:20}",
        &[
            "127.0.0.1:6379> AUTH default $REDIS_PASSWORD",
            " -> AUTH LOGIN",
            "C> AUTH PLAIN",
        ],
    ),
    ctx(
        "redis-auth-wire",
        "Redis",
        r#"(?i)\] "auth"(?: "[^"\r\n]{1,64}")? "(?P<secret_d>[^"\r\n]{3,128})"|\$4\\r\\nauth\\r\\n\$[0-9]{1,3}\\r\\n(?:[^\\\s"]{1,64}\\r\\n\$[0-9]{1,3}\\r\\n)?(?P<secret>[^\\\s"]{3,128})"#,
        &["] \"auth\"", "$4\\r\\nauth\\r\\n$"],
        1.0,
        "`AUTH` as `redis-cli MONITOR` prints it (quoted words) and as `strace` shows the protocol's bytes (`$4\\r\\nAUTH\\r\\n$20\\r\\n…`): its last word is the password",
        "1710148364.118732 [0 10.0.3.14:52144] \"AUTH\" \"{an:20}\"",
        &[
            "1710148364.118732 [0 10.0.3.14:52144] \"AUTH\"",
            "1710148364.118732 [0 10.0.3.14:52144] \"HGET\" \"auth\" \"{an:20}\"",
        ],
    ),
    ctx(
        "redis-acl-setuser",
        "Redis",
        r"(?i)\bACL\s{1,3}SETUSER\s{1,3}[^\s>]{1,64}(?:\s{1,3}[^\s>][^\s]{0,100}){0,12}?\s{1,3}>(?P<secret>[^\s]{3,128})",
        &["setuser"],
        1.0,
        "`ACL SETUSER name … >password` adds the password in clear text to a Redis user",
        "127.0.0.1:6379> ACL SETUSER worker on >{an:20} ~jobs:* +@all",
        &["127.0.0.1:6379> ACL SETUSER worker on #{hex:64} ~jobs:* +@all"],
    ),
    ctx(
        "ftp-pass-command",
        "FTP",
        r#"(?:>|C:) PASS (?P<secret>[^\s'"*][^\s'"]{2,127})"#,
        &["> pass ", "c: pass "],
        1.0,
        "an FTP or POP3 client's `PASS` command, as `curl -v`, `lftp -d` and mail debug logs echo it, carries the password",
        "> PASS {an:20}",
        &["> PASS ********", "> pass the tests first"],
    ),
    ctx(
        "imap-login-command",
        "IMAP",
        r#"\b[A-Za-z]{0,4}[0-9]{1,6} LOGIN (?:"[^"\r\n]{1,128}"|[^\s"]{1,128}) (?:"(?P<secret_d>[^"\r\n]{3,128})"|(?P<secret>[^\s"]{3,128}))"#,
        &[
            "0 login ", "1 login ", "2 login ", "3 login ", "4 login ", "5 login ", "6 login ",
            "7 login ", "8 login ", "9 login ",
        ],
        1.0,
        "an IMAP `LOGIN user password` command, as a client's protocol trace shows it",
        "C: a001 LOGIN ci@example.com {an:20}",
        &[
            "C: a001 LOGIN ci@example.com \"********\"",
            "S: a001 OK LOGIN completed",
        ],
    ),
    ctx(
        "smtp-auth-plain",
        "SMTP",
        r"(?i)\bAUTH PLAIN (?P<secret>[A-Za-z0-9+/]{12,400}={0,2})",
        &["auth plain "],
        1.0,
        "`AUTH PLAIN` sends the user name and password base64-encoded on the line itself",
        "send: 'AUTH PLAIN {b64:48}\\r\\n'",
        &["250-AUTH PLAIN LOGIN CRAM-MD5"],
    ),
    Builtin {
        lines_after: 1,
        first_line: Some(r"\b334 UGFzc3dvcmQ6"),
        ..ctx(
            "smtp-auth-login-password",
            "SMTP",
            r#"\b334 UGFzc3dvcmQ6[^\r\n]{0,12}(?:\r\n|\r|\n)[^\r\n]{0,20}?(?P<secret>[A-Za-z0-9+/]{4,400}={0,2})(?:$|[\s'"\\])"#,
            &["334 UGFzc3dvcmQ6"],
            1.0,
            "after the server's `334 UGFzc3dvcmQ6` (`Password:` in base64) the client's next line is the password, base64-encoded",
            "<-  334 UGFzc3dvcmQ6\n -> {b64:28}",
            &["<-  334 VXNlcm5hbWU6\n -> {b64:28}"],
        )
    },
    ctx(
        "sql-password",
        "SQL",
        r#"(?i)\bidentified\s{1,3}(?:with\s{1,3}[A-Za-z0-9_]{1,40}\s{1,3})?by\s{1,3}(?:(?:password|values)\s{1,3})?(?:'(?P<secret_q>[^'\r\n]{3,128})'|"(?P<secret_d>[^"\r\n]{3,128})"|(?P<secret>[A-Za-z0-9_#$!%^&*+=.@-]{3,128}))|\bpassword(?: for [^\s=;]{1,100} ?= ?| ?= ?| |\()'(?P<secret_p>[^'\r\n]{3,128})'"#,
        &[
            "identified",
            "password for ",
            "password '",
            "password='",
            "password ='",
            "password= '",
            "password = '",
            "password('",
        ],
        1.0,
        "SQL that sets a password (`CREATE USER … IDENTIFIED BY`, `ALTER ROLE … PASSWORD '…'`, `SET PASSWORD FOR … = '…'`) holds it in clear text, and database logs print the statement",
        "LOG:  statement: ALTER ROLE reporter WITH LOGIN PASSWORD '{an:20}';",
        &[
            "CREATE USER app IDENTIFIED EXTERNALLY;",
            "ALTER ROLE reporter WITH LOGIN PASSWORD '********';",
            "FATAL:  password authentication failed for user \"app\"",
        ],
    ),
    ctx(
        "mongo-user-password",
        "MongoDB",
        r#"\b(?:createUser|updateUser)\s{0,3}\(\s{0,3}(?:["'][^"'\r\n]{1,64}["']\s{0,3},\s{0,3})?\{[^}\r\n]{0,300}?\bpwd\s{0,3}:\s{0,3}(?:"(?P<secret_d>[^"\r\n]{3,128})"|'(?P<secret_q>[^'\r\n]{3,128})')|\bchangeUserPassword\s{0,3}\(\s{0,3}["'][^"'\r\n]{1,64}["']\s{0,3},\s{0,3}(?:"(?P<secret_c>[^"\r\n]{3,128})"|'(?P<secret_cq>[^'\r\n]{3,128})')"#,
        &["createuser", "updateuser", "changeuserpassword"],
        1.0,
        "`db.createUser`, `db.updateUser` and `db.changeUserPassword` in a mongo shell take the password in clear text",
        "test> db.createUser({ user: \"reporting\", pwd: \"{an:20}\", roles: [ \"read\" ] })",
        &[
            "test> db.createUser({ user: \"reporting\", pwd: passwordPrompt(), roles: [ \"read\" ] })",
        ],
    ),
    ctx(
        "jdbc-oracle-credentials",
        "URL",
        r#"(?i)\bjdbc:oracle:(?:thin|oci8?):[^\s/@"'<>\\:]{1,128}/(?P<secret>[^\s@/"'<>\\]{3,128})@"#,
        &["jdbc:oracle:"],
        1.0,
        "an Oracle JDBC URL written `user/password@host` carries the password",
        "jdbc:oracle:thin:scott/{an:20}@//ora01.internal:1521/ORCLPDB1",
        &["jdbc:oracle:thin:@//ora01.internal:1521/ORCLPDB1"],
    ),
    ctx(
        "aws-credentials-text",
        "AWS",
        r"\bCREDENTIALS\t(?:ASIA|AKIA)[A-Z0-9]{16}\t[^\t\r\n]{1,40}\t(?P<secret>[A-Za-z0-9/+=]{40})(?:$|\t)",
        &["credentials\t"],
        3.0,
        "`aws sts get-session-token` and `assume-role` with `--output text` print the secret key as a bare tab-separated column",
        "CREDENTIALS\tASIAQWERTYUIOP234567\t2024-03-11T21:12:44+00:00\t{b64:40}\t{b64:120}",
        &["CREDENTIALS\tASIAQWERTYUIOP234567\t2024-03-11T21:12:44+00:00"],
    ),
    ctx(
        "aws-session-token-text",
        "AWS",
        r"\bCREDENTIALS\t(?:ASIA|AKIA)[A-Z0-9]{16}\t[^\t\r\n]{1,40}\t[A-Za-z0-9/+=]{40}\t(?P<secret>[A-Za-z0-9/+=]{16,2000})",
        &["credentials\t"],
        3.0,
        "the session token in the column after the secret key of the same `--output text` line",
        "CREDENTIALS\tASIAQWERTYUIOP234567\t2024-03-11T21:12:44+00:00\t{b64:40}\t{b64:120}",
        &["CREDENTIALS\tASIAQWERTYUIOP234567\t2024-03-11T21:12:44+00:00\t{b64:40}"],
    ),
    ctx(
        "pgpass-entry",
        "PostgreSQL",
        r"^[ \t]{0,8}[^\s:#][^\s:]{0,252}:(?:[0-9]{1,5}|\*):[^\s:]{1,63}:[^\s:]{1,63}:(?P<secret>(?:[^\s:\\]|\\[^\s]){3,128})$",
        &[":5432:", ":*:"],
        1.0,
        "a `.pgpass` line (`host:port:database:user:password`) ends with the password",
        "db.internal:5432:app:app:{an:20}",
        &[
            "db.internal:5432:app:app:*",
            "2024-03-11 10:12:44 listening on 0.0.0.0:5432",
            "nobody:*:19793:0:99999:7:::",
        ],
    ),
    ctx(
        "web-server-auth-header",
        "HTTP",
        r#"(?i)\b(?:proxy_set_header|add_header|grpc_set_header|more_set_input_headers|RequestHeader\s{1,3}(?:set|append|add))\s{1,3}["']?Authorization:?\s{1,3}["']?(?:Basic|Bearer|Token)\s{1,3}(?P<secret>[A-Za-z0-9+/=._~-]{8,2048})"#,
        &[
            "_header authorization",
            "header set authorization",
            "header append authorization",
            "header add authorization",
            "input_headers",
        ],
        2.0,
        "an nginx or Apache directive that sends a fixed `Authorization` header holds the credential",
        "proxy_set_header Authorization \"Basic {b64:32}\";",
        &["proxy_set_header Authorization $http_authorization;"],
    ),
    ctx(
        "aws-configure-prompt",
        "AWS",
        r"(?i)\bAWS Secret Access Key \[[^\]\r\n]{0,40}\]:\s{0,3}(?P<secret_p>[A-Za-z0-9/+=]{40})",
        &["secret access key ["],
        3.0,
        "`aws configure` echoes the secret access key typed at its prompt",
        "AWS Secret Access Key [None]: {b64:40}",
        &["AWS Secret Access Key [****************abcd]: "],
    ),
    token(
        "private-key-base64",
        "PEM",
        r"\bLS0tLS1CRUdJTi(?:BQUklWQVRFIEtFWS0tLS0t|BSU0EgUFJJVkFURSBLRVktLS0tL|BFQyBQUklWQVRFIEtFWS0tLS0t|BPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS|BEU0EgUFJJVkFURSBLRVktLS0tL|BFTkNSWVBURUQgUFJJVkFURSBLRVktLS0tL)[A-Za-z0-9+/]{16,8000}={0,2}",
        &["LS0tLS1CRUdJTi"],
        "a PEM private key encoded in base64 (Kubernetes secrets, kubeconfig `client-key-data`, CI variables)",
        "tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t{b64:120}",
        &["tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t{b64:120}"],
    ),
    // ---- Generic shapes ----
    token(
        "jwt",
        "JSON Web Token",
        r"\beyJ[A-Za-z0-9_-]{8,1500}\.eyJ[A-Za-z0-9_-]{8,3000}\.(?:[A-Za-z0-9_-]{8,700})?",
        &["eyJ"],
        "a signed token that authenticates its bearer until it expires",
        "eyJhbGciOiJIUzI1NiJ9.eyJ{b64u:60}.{b64u:43}",
        &["eyJhbGciOiJIUzI1NiJ9", "eyJ{b64u:4}.eyJ{b64u:4}."],
    ),
    Builtin {
        precheck: Some(Precheck::Header),
        ..ctx(
            "authorization-bearer",
            "HTTP",
            concat!(
                header_key!(),
                "authorization",
                header_sep!(),
                r#"\s{0,3}\\?["']?bearer\s{1,3}(?P<secret>[A-Za-z0-9._~+/=-]{8,2048})"#
            ),
            &["authorization"],
            2.5,
            "an Authorization: Bearer header carries the caller's credential as-is",
            "Authorization: Bearer {b64u:40}",
            &[
                "Authorization: Bearer ${TOKEN}",
                "Authorization: Bearer <token>",
            ],
        )
    },
    ctx(
        "bearer-token",
        "HTTP",
        r"(?i)\bbearer\s{1,3}(?P<secret>[A-Za-z0-9._~+/-]{20,2048}={0,2})",
        &["bearer"],
        3.5,
        "a bearer credential printed outside a header (curl -v, logs)",
        "-H 'X: Bearer {b64u:40}'",
        &["bearer authentication is required"],
    ),
    Builtin {
        precheck: Some(Precheck::Header),
        ..ctx(
            "authorization-basic",
            "HTTP",
            concat!(
                header_key!(),
                "authorization",
                header_sep!(),
                r#"\s{0,3}\\?["']?basic\s{1,3}(?P<secret>[A-Za-z0-9+/]{6,1024}={0,2})"#
            ),
            &["authorization"],
            2.5,
            "Basic credentials are base64 of user:password, not encryption",
            "Authorization: Basic {b64:28}",
            &["Authorization: Basic <credentials>"],
        )
    },
    Builtin {
        precheck: Some(Precheck::Header),
        ..ctx(
            "authorization-other",
            "HTTP",
            concat!(
                header_key!(),
                "authorization",
                header_sep!(),
                r#"\s{0,3}\\?["']?(?:token|apikey|api-key|digest|hmac|aws4-hmac-sha256|sso-key|key)\s{1,3}(?P<secret>[^\s"'\\]{8,2048})"#
            ),
            &["authorization"],
            2.5,
            "other Authorization schemes (token, Digest, AWS SigV4, …) carry a credential too",
            "Authorization: token {hex:40}",
            &["Authorization: token ${GITHUB_TOKEN}"],
        )
    },
    ctx(
        "api-key-header",
        "HTTP",
        r#"(?i)\b(?:x-api-key|x-auth-token|x-access-token|api-key|x-goog-api-key|x-functions-key|ocp-apim-subscription-key|private-token|x-vault-token)\\?["']?\s{0,3}[:=]\s{0,3}\\?["']?(?P<secret>[A-Za-z0-9._~+/=-]{12,512})"#,
        &[
            "x-api-key",
            "x-auth-token",
            "x-access-token",
            "api-key",
            "x-goog-api-key",
            "x-functions-key",
            "subscription-key",
            "private-token",
            "x-vault-token",
        ],
        3.0,
        "API-key request headers carry the credential in clear",
        "x-api-key: {an:32}",
        &["x-api-key: ${API_KEY}"],
    ),
    Builtin {
        needs: Some(b'@'),
        precheck: Some(Precheck::Userinfo),
        ..ctx(
            "url-credentials",
            "URL",
            concat!(
                r"(?i)\b[a-z][a-z0-9+.-]{1,30}://",
                userinfo!(),
                r"[A-Za-z0-9.\[\]_-]"
            ),
            &["://"],
            0.0,
            "a user:password in a connection URL is the database or service password",
            "postgres://app:{an:20}@db.internal:5432/app",
            &[
                "postgres://user:password@localhost/db",
                "https://user:${PASSWORD}@host/",
                "https://host:8443/path",
            ],
        )
    },
    Builtin {
        precheck: Some(Precheck::Holds(&["-u"])),
        ..ctx(
            "curl-user",
            "URL",
            r#"(?i)\bcurl\b[^\r\n]{0,200}?\s(?:-u|--user)\s{1,3}["']?[^\s"':]{1,64}:(?P<secret>[^\s"']{3,128})"#,
            &["curl"],
            1.5,
            "curl -u user:password puts the password on the command line",
            "curl -u admin:{an:16} https://api.internal/",
            &["curl -u admin:$PASS https://api.internal/"],
        )
    },
    Builtin {
        precheck: Some(Precheck::Leads(&["machine", "default"])),
        lines_before: 4,
        ..ctx(
            "netrc-password",
            "URL",
            r"(?i)\b(?:machine\s{1,40}[^\s]{1,100}|default)(?:\s{1,40}(?:login|account|port)\s{1,40}[^\s]{1,100}){0,3}\s{1,40}password\s{1,40}(?P<secret>[^\s]{3,128})",
            &["password"],
            1.5,
            "a .netrc entry holds the login password for its host, on one line or several",
            "machine api.example.org\n  login bot\n  password {an:20}",
            &[
                "machine api.example.org login bot password ${PW}",
                "the machine asks for a login and a password",
            ],
        )
    },
    Builtin {
        precheck: Some(Precheck::Leads(&["machine", "default"])),
        lines_before: 4,
        ..ctx(
            "netrc-account",
            "URL",
            r"(?i)\b(?:machine\s{1,40}[^\s]{1,100}|default)(?:\s{1,40}(?:login|password|port)\s{1,40}[^\s]{1,100}){0,3}\s{1,40}account\s{1,40}(?P<secret>[^\s]{3,128})",
            &["account"],
            1.5,
            "a .netrc `account` is an additional password some servers ask for",
            "machine ftp.example.org\n  login bob\n  account {an:12}",
            &["machine ftp.example.org login bob account $ACCT"],
        )
    },
    Builtin {
        precheck: Some(Precheck::Column),
        ..ctx(
            "table-secret",
            "generic",
            concat!(
                r#"(?m)(?:^|\s)(?:(?-i:[A-Z0-9_.-]{0,40}(?:PASSWORD|PASSWD|SECRET|TOKEN)|[A-Z0-9.-]{0,40}_(?:PASS|PWD))[ \t]{1,40}"#,
                r#"|(?i:[A-Za-z0-9_.-]{0,40}(?:password|passwd|secret|token)|[A-Za-z0-9.-]{0,40}[_.-](?:pass|pwd))(?:[ \t]{2,40}|\t))"#,
                r#"["']?(?P<secret>[^\s"']{12,200})["']?[ \t]{0,8}$"#
            ),
            &[
                "password ",
                "password\t",
                "passwd ",
                "passwd\t",
                "secret ",
                "secret\t",
                "token ",
                "token\t",
                "_pass ",
                "_pass\t",
                "_pwd ",
                "_pwd\t",
                "-pass ",
                "-pass\t",
                "-pwd ",
                "-pwd\t",
                ".pass ",
                ".pass\t",
                ".pwd ",
                ".pwd\t",
            ],
            3.5,
            "a secret's name and value in a table's row (`vault kv get`, an environment listing)",
            "password           {an:20}",
            &[
                "password    reset required at next login",
                "token expired",
                "AZURE_CLIENT_SECRET            ${AZURE_CLIENT_SECRET}",
                "default-token-x7k2p   kubernetes.io/service-account-token   3      10d",
            ],
        )
    },
    ctx(
        "cisco-type0-secret",
        "Cisco",
        r"(?i)\b(?:secret|password|key) [07] (?P<secret>[^\s]{6,128})",
        &[
            "secret 0 ",
            "secret 7 ",
            "password 0 ",
            "password 7 ",
            "key 0 ",
            "key 7 ",
        ],
        3.0,
        "IOS `secret 0`/`password 0`/`key 0` lines hold the password in clear (type 7 is \
         reversibly obfuscated)",
        "username admin privilege 15 password 0 {an:20}",
        &[
            "password 0 attempts remaining",
            "enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0",
        ],
    ),
    ctx(
        "redis-conf-password",
        "Redis",
        r#"(?i)\b(?:requirepass|masterauth)[ \t]{1,10}["']?(?P<secret>[^\s"']{6,200})"#,
        &["requirepass", "masterauth"],
        3.0,
        "redis.conf `requirepass`/`masterauth` hold the server's password",
        "requirepass {an:20}",
        &[
            "requirepass \"${REDIS_PASSWORD}\"",
            "# requirepass foobared",
        ],
    ),
    ctx(
        "ssm-parameter-text",
        "AWS",
        r"(?i)\bparameter\t[^\t\r\n]{0,200}\t\d{1,6}\t(?:Secure)?String\t(?P<secret>[^\t\r\n]{6,1024})",
        &["parameter\t"],
        3.0,
        "`aws ssm get-parameter(s) --output text` prints the parameter's value in its last column",
        "PARAMETER\t/prod/db/password\t1\tSecureString\t{an:20}",
        &["PARAMETER\t/prod/app/region\t3\tString\tus-east-1"],
    ),
    ctx(
        "vault-unseal-key",
        "HashiCorp Vault",
        r"(?i)\bunseal key \d{1,2}:\s{1,8}(?P<secret>[A-Za-z0-9+/]{20,120}={0,2})",
        &["unseal key "],
        3.0,
        "`vault operator init` prints the unseal keys: a quorum of them unseals the vault",
        "Unseal Key 1: {b64:44}",
        &["Unseal Key 1: <redacted>", "Unseal Key Shares: 5"],
    ),
    ctx(
        "consul-secret-id",
        "HashiCorp Consul",
        r"(?i)\bsecretid\s{0,3}:\s{1,24}(?P<secret>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        &["secretid"],
        2.5,
        "a Consul ACL token's SecretID is the token itself",
        "SecretID:         {uuid}",
        &[
            "AccessorID:       {uuid}",
            "SecretID:         00000000-0000-0000-0000-000000000000",
        ],
    ),
    Builtin {
        assignment: true,
        ..ctx(
            "generic-password",
            "generic",
            concat!(
                key_prefix!(),
                r"[A-Za-z0-9]{0,30}password|[A-Za-z0-9]{0,30}passwd|[A-Za-z0-9]{0,30}passphrase|[A-Za-z0-9]{0,30}[_.-]pass|[A-Za-z0-9]{0,30}[_.-]pwd|pass_?word|sshpass|pass|pwd|psk)",
                sep!(),
                value!(4, 300)
            ),
            &["password", "passwd", "passphrase", "pass", "pwd", "psk"],
            2.2,
            "a value assigned to a password-like key",
            "DB_PASSWORD=\"{an:14}\"",
            &[
                "PWD=/home/ci/build",
                "declare -x PWD=\"/work/main\"",
                "PASS: tests/test-utf8",
                "pass: true",
                "Password: SSLMode:disable}",
                "Password:0xc00001a2b0",
                "DB_PASSWORD=vault:secret/data/app#password",
                "password = \"changeme\"",
                "password: ${DB_PASSWORD}",
                "password = getpass",
                "password_file = /run/secrets/db",
            ],
        )
    },
    Builtin {
        assignment: true,
        ..ctx(
            "generic-secret",
            "generic",
            concat!(
                key_prefix!(),
                r"[A-Za-z0-9]{0,30}secret|secret[_.-]?key|secret[_.-]?key[_.-]?base|hmac|hmac[_.-]?key|client[_.-]?secret|secret[_.-]?access[_.-]?key|private[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key)",
                sep!(),
                value!(8, 300)
            ),
            &[
                "secret",
                "private",
                "signing",
                "encryption",
                "master",
                "hmac",
            ],
            3.0,
            "a value assigned to a secret-like key",
            "export APP_SECRET={an:32}",
            &[
                "\"hashed_secret\": \"{hex:40}\",",
                "hmac: sha256",
                "encryption_key:  {A  customer-supplied  or customer-managed key.}",
                "secret: {{ .Values.secret }}",
                "client_secret: <your-client-secret>",
            ],
        )
    },
    Builtin {
        assignment: true,
        ..ctx(
            "generic-api-key",
            "generic",
            concat!(
                key_prefix!(),
                r"[A-Za-z0-9]{0,30}api[_.-]?key|account[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|app[_.-]?key|client[_.-]?key|license[_.-]?key|subscription[_.-]?key)",
                sep!(),
                value!(12, 300)
            ),
            &[
                "api_key",
                "apikey",
                "api-key",
                "api.key",
                "access_key",
                "accesskey",
                "access-key",
                "auth_key",
                "authkey",
                "app_key",
                "appkey",
                "client_key",
                "license_key",
                "subscription_key",
                "accountkey",
                "account-key",
                "account.key",
            ],
            3.3,
            "a value assigned to an API-key-like key",
            "\"api_key\": \"{an:32}\"",
            &[
                "PRIMARY_KEY=id",
                "[--kms-key=KMS_KEY : --kms-keyring=KMS_KEYRING --kms-location=KMS_LOCATION]",
                "SORT_KEY=created_at",
                "partition_key = \"{an:20}\"",
                "public_key = \"ssh-ed25519 {an:43} ci@build\"",
                "\"api_key\": \"your-api-key-here\"",
                "api_key = os.environ.get",
            ],
        )
    },
    Builtin {
        assignment: true,
        ..ctx(
            "generic-token",
            "generic",
            concat!(
                key_prefix!(),
                r"[A-Za-z0-9]{0,30}token|authtok|d?sonar[_.]login|access[_.-]?token|auth[_.-]?token|refresh[_.-]?token|api[_.-]?token|bearer[_.-]?token|session[_.-]?token|id[_.-]?token|credentials?|auth)",
                sep!(),
                value!(12, 1024)
            ),
            &["token", "credential", "auth", "sonar.login", "sonar_login"],
            3.3,
            "a value assigned to a token- or credential-like key",
            "GITHUB_TOKEN={an:40}",
            &[
                "GET /v1/items?limit=100&page_token={an:32}&sort=asc 200 41ms",
                "\"nextPageToken\": \"{an:40}\"",
                "\"token_type\": \"bearer\"",
                "max_tokens = 4096",
                "token: ${{ secrets.GITHUB_TOKEN }}",
            ],
        )
    },
    ctx(
        "generic-named-key",
        "generic",
        concat!(
            r"(?i)(?:^|[^A-Za-z0-9_.-])[A-Za-z][A-Za-z0-9]{0,30}(?:[_.-][A-Za-z0-9]{1,30}){0,3}_key",
            sep!(),
            value!(12, 300)
        ),
        &["_key=", "_key:", "_key\"", "_key'", "_key ", "_key\t"],
        3.3,
        "a value assigned to any `*_KEY` name (`DEPLOY_KEY`, `SESSION_KEY`, a vendor's key)",
        "DEPLOY_KEY={an:22}",
        &[
            "PRIMARY_KEY=id",
            "SORT_KEY=created_at",
            "[--kms-key=KMS_KEY : --kms-keyring=KMS_KEYRING --kms-location=KMS_LOCATION]",
            "partition_key = \"{an:20}\"",
            "public_key = \"ssh-ed25519 {an:43} ci@build\"",
        ],
    ),
    Builtin {
        precheck: Some(Precheck::Flag),
        ..ctx(
            "cli-secret-flag",
            "generic",
            concat!(
                flag_prefix!(),
                "password|passwd|pass|pw|passphrase|token|api-key|apikey|secret|client-secret|access-token|auth-token|http-password|ftp-password|proxy-password|db-password|admin-password|root-password|new-password|storepass|keypass|srcstorepass|deststorepass|srckeypass|destkeypass)",
                flag_sep!(),
                r#"["']?(?P<secret>[^\s"'-][^\s"']{5,255})"#
            ),
            &[
                "-password",
                "-passwd",
                "-pass",
                "-pw",
                "-token",
                "-api-key",
                "-apikey",
                "-secret",
                "-client-secret",
                "-access-token",
                "-auth-token",
                "-storepass",
                "-keypass",
                "-srcstorepass",
                "-deststorepass",
                "-srckeypass",
                "-destkeypass",
            ],
            2.5,
            "a secret passed as a command-line flag ends up in ps output and logs",
            "sendmail-cli --smtp-password {an:24} --tls",
            &[
                "mysql --password=$DB_PASS -h db",
                "--token-file /run/token",
                "docker build --secret id=npmrc,src=/home/ci/.npmrc -t web .",
                "ansible-playbook --ask-pass site.yml",
            ],
        )
    },
    // ---- Added after the red team: vendor formats, admin commands, printed secrets ----
    token(
        "sonarqube-token",
        "SonarQube",
        r"\bsq[pua]_[a-f0-9]{40}\b",
        &["squ_", "sqp_", "sqa_"],
        "a SonarQube user, project or global analysis token reads the code and its findings",
        "curl -su squ_{hex:40}: https://sonar.example.com/api/projects/search",
        &["squ_{hex:20}", "sqx_{hex:40}"],
    ),
    token(
        "aws-ecr-login-token",
        "AWS",
        r"\beyJwYXlsb2FkIjoi[A-Za-z0-9+/]{60,8000}={0,2}",
        &["eyJwYXlsb2Fk"],
        "`aws ecr get-login-password` prints a registry password (base64 of a JSON payload) valid for 12 hours",
        "eyJwYXlsb2FkIjoi{b64:200}==",
        &["eyJwYXlsb2FkIjoi{b64:20}"],
    ),
    token(
        "elastic-enrollment-token",
        "Elastic",
        r"\beyJ2ZXIiOiI[A-Za-z0-9+/]{60,2000}={0,2}",
        &["eyJ2ZXIiOiI"],
        "an Elasticsearch enrollment token (base64 of JSON with an API key) enrolls Kibana or a node",
        "eyJ2ZXIiOiI4LjEyLjIiLCJhZHIiOlsi{b64:120}",
        &["eyJ2ZXIiOiI{b64:20}"],
    ),
    ctx(
        "kubernetes-dockerconfigjson",
        "Kubernetes",
        r#"(?i)\.dockerconfigjson\\?["']?\s{0,3}:\s{0,3}\\?["']?(?P<secret>eyJ[A-Za-z0-9+/]{20,8000}={0,2})"#,
        &[".dockerconfigjson"],
        3.0,
        "a Kubernetes image-pull secret's `.dockerconfigjson` is base64 of registry logins (`auths`)",
        "  .dockerconfigjson: eyJhdXRocyI6{b64:120}==",
        &[
            "  .dockerconfigjson: <base64>",
            "type: kubernetes.io/dockerconfigjson",
        ],
    ),
    ctx(
        "github-actions-mask",
        "GitHub Actions",
        concat!(
            r"(?i)::(?:add-mask::|set-(?:output|env) name=",
            secret_name!(),
            r#"::)(?P<secret>[^\s'"`]{6,1024})"#
        ),
        &["::add-mask::", "::set-output", "::set-env"],
        2.0,
        "`::add-mask::` is given the secret to hide, and a workflow command that sets a secret-named output prints its value",
        "echo '::add-mask::{an:24}'",
        &[
            "echo \"::add-mask::${{ secrets.NPM_TOKEN }}\"",
            "echo \"::add-mask::$NPM_TOKEN\"",
            "::set-output name=version::{d:1}.{d:2}.{d:1}",
        ],
    ),
    Builtin {
        precheck: Some(Precheck::Command),
        ..ctx(
            "cli-windows-password",
            "generic",
            concat!(
                r#"\b(?i:net user)\s{1,3}[^\s/"']{1,64}\s{1,3}(?:(?P<secret>[^\s'"/*-][^\s'"]{2,127})|'(?P<secret_wq>[^'\r\n]{3,128})'|"(?P<secret_wd>[^"\r\n]{3,128})")"#,
                r"|\b(?i:psexec(?:64)?)(?:\.exe)?\b[^\r\n|;&]{0,120}?\s-p\s{1,3}",
                glued_value!("x"),
                r"|\b(?i:cmdkey)(?:\.exe)?\b[^\r\n|;&]{0,120}?\s/pass:",
                glued_value!("y")
            ),
            &["net user", "psexec", "cmdkey"],
            1.0,
            "a password given to a Windows admin command (`net user NAME PASS`, PsExec `-p`, `cmdkey /pass:`) shows in shell history, transcripts and logs",
            "C:\\> net user svc-backup {an:20} /add",
            &[
                "net user bob /delete",
                "net user bob * /add",
                "PsExec.exe \\\\web01 -u ACME\\admin cmd",
            ],
        )
    },
    Builtin {
        precheck: Some(Precheck::Command),
        ..ctx(
            "ssh-keygen-passphrase",
            "generic",
            concat!(
                r"\bssh-keygen\b[^\r\n|;&]{0,120}?\s-[NP]\s{0,3}",
                glued_value!("z")
            ),
            &["ssh-keygen"],
            1.0,
            "`ssh-keygen -N`/`-P` takes the key's passphrase on the command line",
            "ssh-keygen -t ed25519 -N '{an:20}' -f key",
            &["ssh-keygen -t ed25519 -N '' -f key"],
        )
    },
    Builtin {
        precheck: Some(Precheck::Command),
        ..ctx(
            "cli-secret-store",
            "generic",
            concat!(
                r"\bmc (?:alias set|config host add)\s{1,3}[^\s/]{1,64}\s{1,3}[a-z]{2,6}://\S{1,200}\s{1,3}[^\s'\x22]{1,128}\s{1,3}",
                glued_value!("v"),
                r"|\bgh secret set\b[^\r\n|;&]{0,120}?\s(?:--body|-b)(?:=|\s{1,3})",
                glued_value!("q")
            ),
            &["mc alias set", "mc config host add", "gh secret set"],
            1.0,
            "a secret handed to a command that stores it (`mc alias set NAME URL ACCESS SECRET`, `gh secret set --body`) is on its command line",
            "mc alias set prod https://minio.example.com minio-ci {an:40}",
            &[
                "gh secret set NPM_TOKEN --body \"$NPM_TOKEN\"",
                "mc alias set prod https://minio.example.com $MC_ACCESS $MC_SECRET",
            ],
        )
    },
    Builtin {
        precheck: Some(Precheck::Leads(&["echo", "printf"])),
        ..ctx(
            "stdin-password-pipe",
            "generic",
            concat!(
                r#"\b(?:echo|printf)(?: -[nes]{1,3})? (?:'(?P<secret_q>[^'\r\n]{3,128})'|"(?P<secret_d>[^"\r\n]{3,128})"|(?P<secret>[^\s'"|;&<>-][^\s'"|;&<>]{2,127})) ?\| ?(?:sudo (?:-[A-Za-z]{1,4} ){0,3}-[A-Za-z]{0,3}S\b|(?:docker|podman|nerdctl|helm registry) login\b[^\r\n|;&]{0,100}?--password-stdin|passwd --stdin)"#,
                r#"|\b(?:echo|printf)(?: -[nes]{1,3})? (?:'[^\s':]{1,64}:(?P<secret_cq>[^'\r\n]{3,128})'|"[^\s":]{1,64}:(?P<secret_cd>[^"\r\n]{3,128})"|[^\s'":|]{1,64}:(?P<secret_c>[^\s'"|;&]{3,128})) ?\| ?(?:sudo )?chpasswd\b"#
            ),
            &["sudo -", "password-stdin", "passwd --stdin", "chpasswd"],
            1.0,
            "a password echoed into a command that reads it from stdin (`sudo -S`, `chpasswd`, `--password-stdin`) is still on the command line",
            "echo {an:20} | sudo -S systemctl restart nginx",
            &[
                "echo \"$SUDO_PASSWORD\" | sudo -S true",
                "echo hello | sudo tee /etc/motd",
                "echo \"$REGISTRY_TOKEN\" | docker login ghcr.io -u ci --password-stdin",
            ],
        )
    },
    ctx(
        "powershell-securestring",
        "PowerShell",
        r#"(?i)\bConvertTo-SecureString\s{1,3}(?:-(?:AsPlainText|Force|String)(?::\$true)?\s{1,3}){0,3}(?:'(?P<secret_q>[^'\r\n]{3,256})'|"(?P<secret_d>[^"$\r\n][^"\r\n]{2,255})")"#,
        &["securestring"],
        1.0,
        "`ConvertTo-SecureString 'X' -AsPlainText` holds the password in clear in the script and its transcript",
        "$pw = ConvertTo-SecureString '{an:20}' -AsPlainText -Force",
        &[
            "$pw = ConvertTo-SecureString $env:SVC_PASSWORD -AsPlainText -Force",
            "$pw = ConvertTo-SecureString -AsPlainText \"$password\" -Force",
        ],
    ),
    Builtin {
        lines_after: 1,
        first_line: Some(
            r#"(?i)\bexpect (?:-(?:re|ex|exact|nocase) )?"[^\r\n]{0,60}?(?:password|passphrase|passwd|pass:|pin:)[^\r\n]{0,60}\r?$"#,
        ),
        ..ctx(
            "expect-send-password",
            "generic",
            r#"(?i)\bexpect (?:-(?:re|ex|exact|nocase) )?"[^\r\n]{0,60}?(?:password|passphrase|passwd|pass:|pin:)[^\r\n]{0,60}\r?\n[ \t]{0,40}send (?:-- )?(?:"(?P<secret_d>[^"$\r\n][^"\r\n]{2,127}?)(?:\\r|\\n)?"|\{(?P<secret_b>[^{}$\r\n][^{}\r\n]{2,127}?)(?:\\r|\\n)?\})"#,
            &["expect \"", "expect -"],
            1.0,
            "an expect script answers a password prompt with the password itself",
            "expect \"password:\"\nsend \"{an:20}\\r\"",
            &[
                "expect \"password:\"\nsend \"$env(SSH_PASSWORD)\\r\"",
                "expect \"$ \"\nsend \"uptime\\r\"",
            ],
        )
    },
    Builtin {
        lines_after: 1,
        first_line: Some(concat!(
            r"(?i)(?:\bterraform output (?:-[a-z-]{1,20}(?:=[^\s|>]{1,100})? {1,3}){0,3}[A-Za-z0-9_.-]{0,40}(?:password|passwd|secret|token|key|pass|pwd|credential)[A-Za-z0-9_.-]{0,40}|\bargocd (?:admin )?initial-password\b[^\r\n|>]{0,60}?|\bwg genkey)",
            r"[ \t]{0,3}\r?$"
        )),
        ..ctx(
            "cli-printed-secret",
            "generic",
            concat!(
                r"(?i)(?:\bterraform output (?:-[a-z-]{1,20}(?:=[^\s|>]{1,100})? {1,3}){0,3}[A-Za-z0-9_.-]{0,40}(?:password|passwd|secret|token|key|pass|pwd|credential)[A-Za-z0-9_.-]{0,40}|\bargocd (?:admin )?initial-password\b[^\r\n|>]{0,60}?|\bwg genkey)",
                r##"[ \t]{0,3}\r?\n[ \t]{0,8}"?(?P<secret>[^\s"#<-][^\s"]{7,1023})"?[ \t]{0,3}\r?$"##
            ),
            &["terraform output", "initial-password", "wg genkey"],
            3.0,
            "a command that prints a secret (`terraform output -raw db_password`, `argocd admin initial-password`, `wg genkey`, `cat config/master.key`) prints it bare on the next line",
            "$ terraform output -raw db_password\n{an:20}",
            &[
                "$ terraform output -raw db_password > /run/pw\n{an:20}",
                "$ terraform output -raw db_host\n{an:20}",
            ],
        )
    },
    Builtin {
        precheck: Some(Precheck::Leads(&["cat", "type", "more", "head"])),
        lines_after: 1,
        first_line: Some(
            r"(?i)\b(?:cat|type|more|head) (?:-\S{1,10} ){0,2}[^\s|>;&]{0,80}?(?:privatekey|private[_.-]key|master\.key)[ \t]{0,3}\r?$",
        ),
        ..ctx(
            "key-file-printed",
            "generic",
            concat!(
                r"(?i)\b(?:cat|type|more|head) (?:-\S{1,10} ){0,2}[^\s|>;&]{0,80}?(?:privatekey|private[_.-]key|master\.key)",
                r##"[ \t]{0,3}\r?\n[ \t]{0,8}"?(?P<secret>[^\s"#<-][^\s"]{7,1023})"?[ \t]{0,3}\r?$"##
            ),
            &[
                "privatekey",
                "private_key",
                "private-key",
                "private.key",
                "master.key",
            ],
            3.0,
            "`cat` of a key file that holds one line (`wg genkey`'s `privatekey`, Rails' `config/master.key`) prints the key bare on the next line",
            "$ cat /etc/wireguard/privatekey\n{b64:43}=",
            &[
                "$ cat private.key\n-----BEGIN PRIVATE KEY-----",
                "$ cat private_key.pub\nssh-ed25519 {b64:68} ci@host",
            ],
        )
    },
    Builtin {
        lines_after: 3,
        first_line: Some(
            r"(?i)(?:\bfollowing password to proceed to installation:|/secrets/initialAdminPassword\b)",
        ),
        ..ctx(
            "jenkins-initial-password",
            "Jenkins",
            r"(?i)(?:\bfollowing password to proceed to installation:|/secrets/initialAdminPassword\b[^\r\n|>]{0,40}?)\s{1,80}?(?P<secret>[a-f0-9]{32})\b",
            &["to installation", "initialadmin"],
            3.0,
            "Jenkins prints its initial admin password at first start (and keeps it in `secrets/initialAdminPassword`)",
            "Please use the following password to proceed to installation:\n\n{hex:32}\n",
            &["This may also be found at: /var/jenkins_home/secrets/initialAdminPassword\n\n*****"],
        )
    },
    Builtin {
        lines_after: 1,
        first_line: Some(
            r"(?i)(?:\btemporary password is generated for |\bpassword for the elastic user\b[^\r\n]{0,120}:[ \t]{0,3}\r?$)",
        ),
        ..ctx(
            "service-generated-password",
            "generic",
            r"(?i)(?:\btemporary password is generated for [^\s:]{1,100}: {1,3}|\bpassword for the elastic user\b[^\r\n]{0,120}:[ \t]{0,3}\r?\n[ \t]{0,10})(?P<secret>\S{6,128})",
            &["temporary password", "elastic user"],
            1.5,
            "a server's first start prints the password it generated (mysqld's temporary root password, the Elasticsearch `elastic` user)",
            "[Server] A temporary password is generated for root@localhost: {an:12}",
            &["[Server] A temporary password is generated for root@localhost: "],
        )
    },
    Builtin {
        lines_after: 1,
        first_line: Some(concat!(
            r#"(?i)\[["']?"#,
            secret_name!(),
            r#"["']?(?::(?:protected|private|public)(?::[A-Za-z0-9_\\]{1,100})?)?\] ?=>"#
        )),
        ..ctx(
            "php-dump-secret",
            "PHP",
            concat!(
                r#"(?i)\[["']?"#,
                secret_name!(),
                r#"["']?(?::(?:protected|private|public)(?::[A-Za-z0-9_\\]{1,100})?)?\] ?=> {0,3}(?:\r?\n[ \t]{0,40}string\(\d{1,6}\) "(?P<secret_v>[^\r\n]{1,1024})"|(?P<secret>[^\s(][^\r\n]{2,1023}?))[ \t]{0,3}\r?$"#
            ),
            &["] =>", "]=>"],
            2.0,
            "PHP's `print_r` (`[password] => …`) and `var_dump` (`[\"password\"]=>` then `string(20) \"…\"`) print a secret-named field's value",
            "    [password] => {an:20}",
            &[
                "    [password] => Array",
                "  [\"password\"]=>\n  NULL",
                "    [password_policy] => {an:20}",
            ],
        )
    },
    ctx(
        "php-define-secret",
        "PHP",
        concat!(
            r#"(?i)\bdefine ?\(\s{0,3}['"](?:"#,
            secret_name!(),
            r#"|[A-Za-z0-9_]{0,30}_(?:KEY|SALT))['"]\s{0,3},\s{0,24}(?:'(?P<secret_sq>[^'\r\n]{4,300})'|"(?P<secret_dq>[^"\r\n]{4,300})")"#
        ),
        &["define(", "define ("],
        3.0,
        "a PHP constant named like a password, key or salt (`wp-config.php`'s `DB_PASSWORD`, `AUTH_KEY`) holds one",
        "define( 'DB_PASSWORD', '{an:20}' );",
        &[
            "define( 'DB_PASSWORD', 'password_here' );",
            "define( 'AUTH_KEY', 'put your unique phrase here' );",
            "define( 'DB_HOST', '{an:20}' );",
        ],
    ),
    Builtin {
        lines_before: 5,
        ..ctx(
            "json-nested-secret-value",
            "generic",
            concat!(
                r#"(?i)""#,
                secret_name!(),
                r#""\s{0,3}:\s{0,3}\{[^{}]{0,300}?"value"\s{0,3}:\s{0,3}"(?P<secret_dq>(?:[^"\\\r\n]|\\[^\r\n]){3,1024})""#
            ),
            &["\"value\""],
            2.0,
            "a secret-named entry whose value sits in a nested object (Spring actuator `/env`, `terraform output -json`)",
            "\"db_password\": {\n  \"sensitive\": true,\n  \"type\": \"string\",\n  \"value\": \"{an:20}\"\n}",
            &[
                "\"db_password\": {\n  \"sensitive\": true,\n  \"value\": \"${DB_PASSWORD}\"",
                "\"db_host\": {\n  \"sensitive\": false,\n  \"value\": \"{an:20}\"",
            ],
        )
    },
    Builtin {
        lines_after: 1,
        first_line: Some(r#"(?i)\d{1,4}\) "(?:requirepass|masterauth)"\r?$"#),
        ..ctx(
            "redis-config-secret",
            "Redis",
            r#"(?i)\d{1,4}\) "(?:requirepass|masterauth)"\r?\n[ \t]{0,10}\d{1,4}\) "(?P<secret_dq>[^"\r\n]{1,256})""#,
            &["requirepass", "masterauth"],
            1.5,
            "Redis's `requirepass`/`masterauth` as `CONFIG GET` prints it (the name, then the value on the next line) is the server password; `redis-conf-password` finds them in redis.conf",
            "1) \"requirepass\"\n2) \"{an:20}\"",
            &["1) \"requirepass\"\n2) \"\"", "# requirepass foobared"],
        )
    },
    ctx(
        "json-secret-array",
        "generic",
        r#"(?i)"[A-Za-z0-9_.-]{0,40}(?:api[_.-]?keys|passwords|secret[_.-]?keys|access[_.-]?keys|private[_.-]?keys|(?:access|auth|api|refresh|bearer)[_.-]?tokens)": ?\[\s{0,3}"(?P<secret_dq>[^\]\r\n]{8,4000}?)"\s{0,3}\]"#,
        &["keys\":", "passwords\":", "tokens\":"],
        3.0,
        "a JSON array of API keys, passwords or tokens holds one secret per item",
        "{\"apiKeys\": [\"{an:20}\", \"{an:20}\"]}",
        &["{\"keys\": [\"kid-{d:4}\"]}", "{\"apiKeys\": []}"],
    ),
    Builtin {
        lines_after: 3,
        first_line: Some(r"(?i)\bchpasswd:[ \t]{0,3}\r?$"),
        ..ctx(
            "cloud-init-chpasswd",
            "cloud-init",
            r"(?i)\bchpasswd:[ \t]{0,3}(?:\r?\n[ \t]{1,20}expire:[^\r\n]{0,40})?\r?\n[ \t]{1,20}list:[ \t]{0,3}[|>]?-?[ \t]{0,3}\r?\n[ \t]{1,40}[^\s:]{1,64}:(?P<secret>[^\s]{3,256})",
            &["chpasswd:"],
            1.5,
            "cloud-init's `chpasswd` list sets each `user:password` at first boot",
            "chpasswd:\n  list: |\n    ubuntu:{an:20}",
            &["chpasswd:\n  list: |\n    ubuntu:RANDOM"],
        )
    },
    Builtin {
        lines_after: 1,
        first_line: Some(r#"(?i)\bset-cookie['"]: \[\r?$"#),
        ..ctx(
            "node-set-cookie-array",
            "HTTP",
            r#"(?i)\bset-cookie['"]: \[\r?\n[ \t]{0,20}['"][^=;\s'"]{1,64}=(?P<secret_c>[^;\s'"]{16,1024})"#,
            &["set-cookie':", "set-cookie\":"],
            3.0,
            "Node prints several Set-Cookie headers as an array, one cookie per line",
            "'set-cookie': [\n  'session={an:32}; Path=/; HttpOnly',",
            &["'set-cookie': [\n  'lang=en-US; Path=/',"],
        )
    },
    // ---- Private keys (blocks) ----
    pem(
        "private-key-rsa",
        r"-----BEGIN RSA PRIVATE KEY-----",
        "a PKCS#1 RSA private key",
    ),
    pem(
        "private-key-ec",
        r"-----BEGIN EC PRIVATE KEY-----",
        "an SEC1 elliptic-curve private key",
    ),
    pem(
        "private-key-dsa",
        r"-----BEGIN DSA PRIVATE KEY-----",
        "a DSA private key",
    ),
    pem(
        "private-key-openssh",
        r"-----BEGIN OPENSSH PRIVATE KEY-----",
        "an OpenSSH private key: logs in wherever its public half is authorised",
    ),
    pem(
        "private-key-pkcs8",
        r"-----BEGIN PRIVATE KEY-----",
        "a PKCS#8 private key of any algorithm (service-account JSON keys are these)",
    ),
    pem(
        "private-key-encrypted",
        r"-----BEGIN ENCRYPTED PRIVATE KEY-----",
        "an encrypted PKCS#8 key: still crackable offline, so never printed",
    ),
    pem(
        "private-key-pgp",
        r"-----BEGIN PGP PRIVATE KEY BLOCK-----",
        "an OpenPGP secret key block signs and decrypts as its owner",
    ),
    Builtin {
        id: "private-key-ssh2",
        provider: "PEM",
        pattern: r"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",
        keywords: &["---- BEGIN SSH2 "],
        entropy: None,
        guard: Guard::Token,
        reason: "an SSH.com (SECSH) private key",
        block: Some(BlockEnd::Ssh2Dashes),
        needs: None,
        assignment: false,
        precheck: None,
        lines_after: 0,
        lines_before: 0,
        first_line: None,
        example: "",
        near_miss: &[],
    },
    pem(
        "private-key-other",
        r"-----BEGIN [A-Z0-9]{1,20}(?: [A-Z0-9]{1,20}){0,3} PRIVATE KEY-----",
        "any other PEM private key label (X9.42 DH, ED25519 in some tools, …)",
    ),
    Builtin {
        id: "private-key-putty",
        provider: "PuTTY",
        pattern: r"PuTTY-User-Key-File-[23]: [a-z0-9-]{3,40}",
        keywords: &["PuTTY-User-Key-File-"],
        entropy: None,
        guard: Guard::Token,
        reason: "a PuTTY .ppk private key",
        block: Some(BlockEnd::PuttyMac),
        needs: None,
        assignment: false,
        precheck: None,
        lines_after: 0,
        lines_before: 0,
        first_line: None,
        example: "",
        near_miss: &[],
    },
];

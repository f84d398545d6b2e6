//! Streaming tests: chunking never changes the output, partial secrets are held, memory
//! stays bounded, and odd output (binary, CRLF, progress bars, long lines) survives.

use pretty_assertions::assert_eq;
use proptest::prelude::*;

use super::super::rules::{RuleSet, shannon_entropy};
use super::super::{OutputSanitizer, Sanitized};
use super::BLOCK_CAP;

/// Built once: compiling every rule in a debug build is the slow part of these tests.
fn sanitizer() -> OutputSanitizer {
    static S: std::sync::OnceLock<OutputSanitizer> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let mut b = OutputSanitizer::builder(RuleSet::builtin().unwrap());
        b.literal("env:DB_URL_PASSWORD", "Wq9!zr-7 Lm@p");
        b.build().unwrap()
    })
    .clone()
}

/// Feed `text` split at `cuts`; return the output and the redactions.
fn stream(s: &OutputSanitizer, text: &[u8], cuts: &[usize]) -> Sanitized {
    let mut st = s.stream();
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts {
        let c = c.clamp(prev, text.len());
        st.push(&text[prev..c], &mut out);
        prev = c;
    }
    st.push(&text[prev..], &mut out);
    st.finish(&mut out);
    Sanitized {
        output: out,
        redactions: st.redactions(),
    }
}

const GH: &str = "ghp_R8xk2LmQ9vTz4NpW7yHc3JdF6sBq1AeG5uKo";
const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAvK3m\nq9Zr7Tn2XcW0\n-----END RSA PRIVATE KEY-----";

#[test]
fn a_secret_split_at_every_position_is_redacted_the_same() {
    let s = sanitizer();
    let text = format!("before\nexport GH={GH} after\n{PEM}\nend");
    let whole = s.sanitize(text.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&whole.output),
        "before\nexport GH=[REDACTED:github-pat] after\n[REDACTED:private-key-rsa]\nend"
    );
    for cut in 0..=text.len() {
        assert_eq!(stream(&s, text.as_bytes(), &[cut]), whole, "cut at {cut}");
    }
    let every_byte: Vec<usize> = (0..text.len()).collect();
    assert_eq!(stream(&s, text.as_bytes(), &every_byte), whole);
}

#[test]
fn half_a_key_is_held_however_long_the_pause() {
    let s = sanitizer();
    let mut st = s.stream();
    let mut out = Vec::new();
    st.push(b"line one\ntoken ", &mut out);
    assert_eq!(out, b"line one\n");
    st.push(&GH.as_bytes()[..20], &mut out);
    // No timer exists: pushing nothing or waiting changes nothing.
    st.push(b"", &mut out);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!String::from_utf8_lossy(&out).contains("ghp_"), "{out:?}");
    st.push(&GH.as_bytes()[20..], &mut out);
    st.push(b"\nok\n", &mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "line one\ntoken [REDACTED:github-pat]\nok\n"
    );
}

/// Every cut of `text` gives the whole text's output; returns that output.
fn same_for_every_cut(s: &OutputSanitizer, text: &str) -> String {
    let whole = s.sanitize(text.as_bytes());
    for cut in 0..=text.len() {
        assert_eq!(stream(s, text.as_bytes(), &[cut]), whole, "cut at {cut}");
    }
    let every_byte: Vec<usize> = (0..text.len()).collect();
    assert_eq!(stream(s, text.as_bytes(), &every_byte), whole);
    String::from_utf8(whole.output).unwrap()
}

#[test]
fn terminal_colours_neither_hide_a_secret_nor_get_lost() {
    let s = sanitizer();
    let cases = [
        // A coloured value, a coloured key, escapes around the separator.
        (
            "\x1b[1mDB_PASSWORD\x1b[0m=\x1b[33mhunter2-Xq9Zr\x1b[0m\n",
            "\x1b[1mDB_PASSWORD\x1b[0m=\x1b[33m[REDACTED:generic-password]\x1b[0m\n",
        ),
        // A token right after a colour code (no word boundary in the raw bytes).
        (
            &format!("\x1b[32m{GH}\x1b[0m done\n"),
            "\x1b[32m[REDACTED:github-pat]\x1b[0m done\n",
        ),
        // A token cut in two by colours: the escapes inside follow the replacement.
        (
            &format!("{}\x1b[38;5;208m{}\x1b[0m\n", &GH[..10], &GH[10..]),
            "[REDACTED:github-pat]\x1b[38;5;208m\x1b[0m\n",
        ),
        // jq -C style JSON.
        (
            "{\x1b[1;39m\"password\"\x1b[0m\x1b[1;39m: \x1b[0;32m\"Wz8-hunter2-Q\"\x1b[0m}\n",
            "{\x1b[1;39m\"password\"\x1b[0m\x1b[1;39m: \x1b[0;32m\"[REDACTED:generic-password]\"\x1b[0m}\n",
        ),
        // Ordinary coloured output, an OSC title and a stray escape pass as they are.
        (
            "\x1b[32mPASS\x1b[0m auth_test (12 tests)\x1b]0;build\x07 \x1b[1\x1bZ\n",
            "\x1b[32mPASS\x1b[0m auth_test (12 tests)\x1b]0;build\x07 \x1b[1\x1bZ\n",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(same_for_every_cut(&s, text), want, "{text:?}");
    }
}

#[test]
fn a_context_over_several_lines_holds_only_what_it_must() {
    let s = sanitizer();
    let text =
        "spec:\n  env:\n  - name: DB_PASSWORD\n    value: \"hunter2-Xq9Zr\"\n  - name: LOG\n";
    assert_eq!(
        same_for_every_cut(&s, text),
        "spec:\n  env:\n  - name: DB_PASSWORD\n    value: \"[REDACTED:name-value-secret]\"\n  - name: LOG\n"
    );
    // The name's line waits for the next one; the lines before it do not.
    let mut st = s.stream();
    let mut out = Vec::new();
    st.push(b"spec:\n  env:\n  - name: DB_PASSWORD\n", &mut out);
    assert_eq!(out, b"spec:\n  env:\n");
    st.push(b"    value: \"hunter2-Xq9Zr\"\n", &mut out);
    // The name's line waits for two lines (a field or a comment may come between), and a
    // `value:` line for one (it may be named below: value first).
    assert_eq!(out, b"spec:\n  env:\n");
    st.push(b"  - name: LOG\n", &mut out);
    assert!(
        String::from_utf8_lossy(&out)
            .ends_with("value: \"[REDACTED:name-value-secret]\"\n  - name: LOG\n")
    );

    // A .netrc entry: the lines before `password` are released before it arrives, yet
    // its value is found with them.
    let netrc = "machine db.internal\n  login app\n  password s3cr3t-Vq8\nmachine x\n";
    assert_eq!(
        same_for_every_cut(&s, netrc),
        "machine db.internal\n  login app\n  password [REDACTED:netrc-password]\nmachine x\n"
    );
    let mut st = s.stream();
    let mut out = Vec::new();
    st.push(b"machine db.internal\n  login app\n", &mut out);
    assert_eq!(out, b"machine db.internal\n  login app\n");
    st.push(b"  password s3cr3t-Vq8\n", &mut out);
    st.finish(&mut out);
    assert!(!String::from_utf8_lossy(&out).contains("s3cr3t"), "{out:?}");
}

#[test]
fn complete_lines_are_released_immediately() {
    let s = sanitizer();
    let mut st = s.stream();
    let mut out = Vec::new();
    st.push(b"compiling foo v1.0\n", &mut out);
    assert_eq!(out, b"compiling foo v1.0\n");
    st.push(b"progress 10%\rprogress 20%\r", &mut out);
    assert_eq!(out, b"compiling foo v1.0\nprogress 10%\rprogress 20%\r");
}

#[test]
fn pem_blocks_in_every_layout() {
    let s = sanitizer();
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nq3Vx0pZ8yY2Jt/4mQ==";
    let layouts = [
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"),
        format!(
            "-----BEGIN PRIVATE KEY-----\r\n{}\r\n-----END PRIVATE KEY-----",
            body.replace('\n', "\r\n")
        ),
        format!(
            "    -----BEGIN PRIVATE KEY-----\n    {}\n    -----END PRIVATE KEY-----",
            body.replace('\n', "\n    ")
        ),
        format!(
            "-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n",
            body.replace('\n', "\\n")
        ),
    ];
    for (i, key) in layouts.iter().enumerate() {
        let json =
            format!("{{\"type\": \"service_account\", \"private_key\": \"{key}\", \"x\": 1}}\n");
        let out = s.sanitize(json.as_bytes());
        let text = String::from_utf8(out.output).unwrap();
        assert!(
            !text.contains("MIIEvQ") && !text.contains("q3Vx0"),
            "layout {i}: {text}"
        );
        assert_eq!(
            out.redactions.get("private-key-pkcs8"),
            1,
            "layout {i}: {text}"
        );
        if i == 3 {
            // JSON-escaped layout: the document stays valid JSON.
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["x"], 1);
        }
    }
    for label in ["EC", "DSA", "OPENSSH", "ENCRYPTED"] {
        let key = format!(
            "-----BEGIN {label} PRIVATE KEY-----\nAAAA{body}\n-----END {label} PRIVATE KEY-----\n"
        );
        let out = s.sanitize(key.as_bytes());
        assert_eq!(out.redactions.total(), 1, "{label}");
        assert!(
            !String::from_utf8_lossy(&out.output).contains("q3Vx0"),
            "{label}"
        );
    }
    let pgp = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQdGBF{body}\n=ab12\n-----END PGP PRIVATE KEY BLOCK-----\n"
    );
    assert_eq!(
        s.sanitize(pgp.as_bytes()).redactions.get("private-key-pgp"),
        1
    );
}

#[test]
fn an_unterminated_key_is_redacted_to_the_end_or_the_cap() {
    let s = sanitizer();
    let out = s.sanitize(b"x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n");
    assert_eq!(out.output, b"x\n[REDACTED:private-key-openssh]");
    // Past the cap, the held part is redacted (fail closed) and text after it flows again.
    let mut text = b"-----BEGIN RSA PRIVATE KEY-----\n".to_vec();
    while text.len() < BLOCK_CAP + 100 {
        text.extend_from_slice(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n");
    }
    text.extend_from_slice(b"after\n");
    let mut st = s.stream();
    let mut out = Vec::new();
    let mut max_held = 0;
    for chunk in text.chunks(1000) {
        st.push(chunk, &mut out);
        max_held = max_held.max(st.held());
    }
    st.finish(&mut out);
    assert!(max_held <= BLOCK_CAP + 1000, "held {max_held}");
    let shown = String::from_utf8_lossy(&out);
    assert!(
        shown.starts_with("[REDACTED:private-key-rsa]"),
        "{}",
        &shown[..80]
    );
    assert!(shown.ends_with("after\n"));
    assert_eq!(out, s.sanitize(&text).output);
}

#[test]
fn memory_stays_bounded_on_long_lines() {
    let s = sanitizer();
    let mut st = s.stream();
    let mut out = Vec::new();
    let line = "word ".repeat(20_000); // a 100 KB line, no newline
    let mut max_held = 0;
    for chunk in line.as_bytes().chunks(4096) {
        st.push(chunk, &mut out);
        max_held = max_held.max(st.held());
    }
    assert!(max_held <= s.max_holdback() + 4096, "held {max_held}");
    st.finish(&mut out);
    assert_eq!(out, line.as_bytes());
}

#[test]
fn literals_and_their_encodings_are_redacted() {
    let s = sanitizer();
    let value = "Wq9!zr-7 Lm@p";
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("u:{value}"))
    };
    let text =
        format!("a {value} b\nurl=Wq9%21zr-7%20Lm%40p\nform=Wq9%21zr-7+Lm%40p\nauth {b64}\n");
    let out = s.sanitize(text.as_bytes());
    let shown = String::from_utf8_lossy(&out.output);
    assert!(!shown.contains("zr-7"), "{shown}");
    assert!(
        out.redactions.get("env:DB_URL_PASSWORD") >= 4,
        "{:?}",
        out.redactions
    );
    let mut b = OutputSanitizer::builder(RuleSet::empty());
    b.literal("env:SHORT", "abc1234");
    assert_eq!(b.skipped_literals(), ["env:SHORT"]);
}

#[test]
fn binary_and_invalid_utf8_pass_through_except_secrets() {
    let s = sanitizer();
    let mut text: Vec<u8> = (0u8..=255).collect();
    text.extend_from_slice(b"\xff\xfe ");
    text.extend_from_slice(GH.as_bytes());
    text.extend_from_slice(b" \xc3\x28\x00\x1b[31mred\x1b[0m\r\n");
    let out = s.sanitize(&text);
    let mut want: Vec<u8> = (0u8..=255).collect();
    want.extend_from_slice(b"\xff\xfe [REDACTED:github-pat] \xc3\x28\x00\x1b[31mred\x1b[0m\r\n");
    assert_eq!(out.output, want);
}

#[test]
fn json_quoting_survives_redaction() {
    let s = sanitizer();
    let text = br#"{"password": "p4ss\"w0rd\\x", "api_key": "Zk29vLqP0aXe7TnB4cWd", "n": 1}"#;
    let out = s.sanitize(text);
    let v: serde_json::Value = serde_json::from_slice(&out.output).unwrap();
    assert_eq!(v["password"], "[REDACTED:generic-password]");
    assert_eq!(v["api_key"], "[REDACTED:generic-api-key]");
}

/// A bare value keeps an `&` inside it; only the next parameter of a query string is left
/// out of the redaction, whatever the chunking.
#[test]
fn an_ampersand_ends_a_value_only_before_the_next_parameter() {
    let s = sanitizer();
    for (text, want) in [
        (
            "password=Xk3Rv9&Tq2LmZ8wNbQ done\n",
            "password=[REDACTED:generic-password] done\n",
        ),
        (
            "GET /cb?access_token=Xk3Rv9Tq2LmZ8wNbQp7&page=2 200\n",
            "GET /cb?access_token=[REDACTED:generic-token]&page=2 200\n",
        ),
        (
            "DB_PASSWORD=Xk3R&v9Tq&2LmZ8wNbQ&x=1\n",
            "DB_PASSWORD=[REDACTED:generic-password]&x=1\n",
        ),
    ] {
        assert_eq!(same_for_every_cut(&s, text), want, "{text:?}");
    }
}

/// Pieces random texts are made of: ordinary words, separators, keyword bait, secrets.
fn piece() -> impl Strategy<Value = (Vec<u8>, Option<String>)> {
    let plain = prop_oneof![
        Just(b"hello ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"token ".to_vec()),
        Just(b"password: ".to_vec()),
        Just(b"-----BEGIN ".to_vec()),
        Just(b"ghp_".to_vec()),
        Just(b"sk-ant-".to_vec()),
        Just(b"://".to_vec()),
        Just(b"\x1b[1m".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
        "[a-zA-Z0-9 =:\"'_./+-]{0,30}".prop_map(String::into_bytes),
    ]
    .prop_map(|p| (p, None));
    let secret = prop_oneof![
        "[A-Za-z0-9]{36}".prop_map(|s| format!("ghp_{s}")),
        "[A-Za-z0-9_-]{93}".prop_map(|s| format!("sk-ant-api03-{s}AA")),
        "[A-Z2-7]{16}".prop_map(|s| format!("AKIA{s}")),
        "[A-Za-z0-9]{20}".prop_map(|s| format!("postgres://app:{s}@db/x")),
        "[A-Za-z0-9+/]{64}".prop_map(|s| format!(
            "-----BEGIN EC PRIVATE KEY-----\n{}\n{}\n-----END EC PRIVATE KEY-----",
            &s[..32],
            &s[32..]
        )),
        Just("Wq9!zr-7 Lm@p".to_owned()),
        // Contexts over several lines and colours.
        "[A-Za-z0-9]{20}".prop_map(|s| format!("- name: DB_PASSWORD\n  value: {s}")),
        "[A-Za-z0-9]{20}".prop_map(|s| format!("machine h.example\n  login u\n  password {s}")),
        "[A-Za-z0-9]{36}".prop_map(|s| format!("\x1b[32mghp_{s}\x1b[0m")),
    ]
    // Real tokens are random; shrinking would otherwise walk towards AKIAAAAA…, which the
    // rules' entropy floors rightly refuse as a secret.
    .prop_filter("random-looking", |s| shannon_entropy(s.as_bytes()) >= 3.5)
    .prop_map(|s| {
        // Surround with separators so neighbours cannot extend the token.
        (format!(" {s} \n").into_bytes(), Some(s))
    });
    prop_oneof![4 => plain, 1 => secret]
}

/// The part of a secret that must never appear in output.
fn core_of(secret: &str) -> &str {
    if secret.starts_with("- name:") || secret.starts_with("machine") {
        return &secret[secret.len() - 20..];
    }
    if let Some(rest) = secret.strip_prefix("\x1b[32mghp_") {
        return &rest[..36];
    }
    if let Some(rest) = secret.strip_prefix("postgres://app:") {
        return &rest[..20];
    }
    if secret.starts_with("-----BEGIN") {
        return &secret[31..63];
    }
    secret
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chunking_never_changes_the_output_and_no_secret_survives(
        pieces in proptest::collection::vec(piece(), 0..40),
        cuts in proptest::collection::vec(0usize..2000, 0..12),
    ) {
        let s = sanitizer();
        let mut text = Vec::new();
        let mut secrets = Vec::new();
        for (p, secret) in pieces {
            text.extend_from_slice(&p);
            secrets.extend(secret);
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = s.sanitize(&text);
        let streamed = stream(&s, &text, &cuts);
        prop_assert_eq!(&streamed, &whole);
        let shown = String::from_utf8_lossy(&whole.output);
        for secret in &secrets {
            prop_assert!(!shown.contains(core_of(secret)), "{} survived in {}", secret, shown);
        }
    }
}

/// Pieces of keyword-dense text: generic key names next to every separator form, keywords
/// inside values, quotes, escapes, `\v` and other whitespace, several hits per line.
fn dense_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "token",
            "TOKEN",
            "auth",
            "Authorization",
            "pass",
            "password",
            "passwd",
            "pwd",
            "passphrase",
            "secret",
            "private",
            "signing",
            "api_key",
            "apikey",
            "access-key",
            "credential",
            "credentials",
            "Bearer ",
            "machine h login u password ",
            "curl -u ",
            "postgres://",
            "redis://:",
            "https://host/p ",
            "://u:",
            "@h ",
            "Zq9x",
            "value",
            ": ",
            "mysql -u r -p",
            "<password>",
            "- name: DB_PASSWORD\n  value: ",
            "--token",
            "--password=",
            "GITHUB_",
            "DB_",
            "app.",
            "x-api-key",
            "tokens",
            "_id",
            // Key names of a rule that hold none of its keywords: such a match is only
            // found from a keyword in its value.
            "auth-key",
            "client.key",
            "access.key",
            "9api_key7",
            "Q2token8",
            // Flags and headers with every separator their pre-checks allow.
            "--api-key\t",
            "-passwd\x0b",
            "Proxy-Authorization\\\":\x0c",
            "authorization'   =",
            "Basic ",
            "token ",
            "machine\th\x0clogin u\tpassword\x0b",
            // Contexts over several lines, their first-line and look-back shapes.
            "- name: DB_PASSWORD",
            "\"name\": \"API_TOKEN\",",
            "name=",
            "value: ",
            "\"value\": ",
            "- value: ",
            "  name: X_SECRET",
            "<password>",
            "</password>",
            "<Pass enc=\"b\">",
            "<name>fs.secret.key</name>",
            "<value>",
            "</value>",
            "key=\"ApiKey\" value=\"",
            "<![CDATA[",
            "]]>",
            "machine h\n login u\n",
            "default\n",
            "account ",
            "Cookie: a=b; sid=",
            "Set-Cookie: s=",
            "mysql -u r -p",
            "-passout pass:",
            // Keywords after a separator whose key is or is not one of the rule's names
            // (the value side of the assignment pre-check), glued names, separators read
            // backwards through quotes, a backslash and spaces.
            "url=https://h/a?auth=",
            "\"note\": \"uses ",
            "auth::tests::",
            "mytoken",
            "fooPassWord",
            "dbSecret\\\"  :",
            "access_token'\t=",
            "x_credentials`",
            "key=\"",
            "<Token>",
            "<name>",
            // Command names at a word boundary or inside a word, and a command name
            // inside another's match.
            "library ",
            "unrar x ",
            "lazy ",
            "_mysql ",
            "7z a -p",
            "docker login -u u -p ",
            "mysql -u docker -p",
            // Terminal escapes, whole and cut.
            "\x1b[1m",
            "\x1b[0m",
            "\x1b[38;5;208m",
            "\x1b[",
            "\x1b(B",
            "\x1b]0;t\x07",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::sample::select(vec![
            "=", ":", "=>", ":=", " = ", ": ", "   =", "    :", "\\\"", "\"", "'", "`", "\x0b",
            "\t", "\x0c", "\\", ",", ";", " ", "  ", "\n", "\r\n", "\r", "-", "_", ".", "(",
            "${X}", "checking", "changeme",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        "[A-Za-z0-9+/_-]{4,40}".prop_map(String::into_bytes),
        "[a-z]{1,8}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The shared window searches and the separator pre-check change how much work a hit
    /// costs, never what is redacted: the output equals the one-search-per-hit reference
    /// on keyword-dense text, whole and in chunks.
    #[test]
    fn engine_equals_the_per_hit_reference_on_dense_text(
        pieces in proptest::collection::vec(dense_piece(), 0..80),
        cuts in proptest::collection::vec(0usize..2000, 0..12),
    ) {
        let s = sanitizer();
        let text = pieces.concat();
        let mut reference = s.reference_stream();
        let mut want = Vec::new();
        reference.push(&text, &mut want);
        reference.finish(&mut want);
        let want = Sanitized { output: want, redactions: reference.redactions() };
        prop_assert_eq!(&s.sanitize(&text), &want);
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(&stream(&s, &text, &cuts), &want);
    }
}

#[test]
fn engine_equals_the_per_hit_reference_on_the_benchmark_text() {
    // The lines of benches/sanitize.rs's dense text, with a secret of every generic kind.
    let mut text = String::new();
    for i in 0..400u32 {
        text.push_str(match i % 13 {
            0 => "token usage: prompt_tokens=12 completion_tokens=7 auth ok\n",
            1 => "password: checking policy for user1 (min length 12) key rotation due\n",
            2 => "GET https://api.example.org/v1/keys?page=3 Authorization header present\n",
            3 => "{\"api_key_id\": 4, \"secret_ref\": \"vault://kv/app\", \"token_type\": \"bearer\"}\n",
            4 => "--token-file /run/secrets/t --password-file /run/secrets/p # auth 5\n",
            5 => "secret scanning: passwd file untouched; credentials cached; private key 6\n",
            6 => "export GITHUB_TOKEN=ghp_R8xk2LmQ9vTz4NpW7yHc3JdF6sBq1AeG5uKo\n",
            7 => "db: {password: \"Zq8#vLr2!mKx9\", api_key = 'Wf7pQ2zR9kLm4Tx8Yb3N'}\n",
            8 => "auth_token => Xr7Kp2Lm9Qz4Wv8T credentials:\x0b 9vLr2mKx8ZqQ7pW3 x\n",
            9 => "APP_SECRET=\\\"k9Lm2Qx7Rz4Wp8Tv\\\" token=abc x password=short1 pass: P4ss-w0rd!x\n",
            10 => "curl -u admin:S3cr3tPassw0rd https://h/ machine h login u password Pw9xLq2mZ\n",
            11 => "oauth token refresh for client 5f0c succeeded; access token valid\n",
            _ => "auth-key: \"Zq8vLr2mKx9api_key\" client.key=Wf7pQ2zR9kapikeyLm4Tx8Yb3N\n",
        });
    }
    let s = sanitizer();
    let mut reference = s.reference_stream();
    let mut want = Vec::new();
    reference.push(text.as_bytes(), &mut want);
    reference.finish(&mut want);
    let got = s.sanitize(text.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&got.output),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(got.redactions, reference.redactions());
    assert!(got.redactions.total() > 200, "{:?}", got.redactions);
}

/// The scan settles a `://` without user info at once; user info of any length, cut
/// anywhere, still reaches the rule (short, long, a user name or none, `:` in the password).
#[test]
fn url_user_info_of_every_shape_is_redacted_however_cut() {
    let s = sanitizer();
    let long_user = "u".repeat(120);
    let long_pass = format!("Zq9{}", "x7Lm".repeat(60));
    let cases = [
        ("redis://:Zq9xLm2@cache:6379/0\n", Some("Zq9xLm2")),
        ("ftp://u:Zq9x@h/\n", Some("Zq9x")),
        ("amqp://guest:pa:ss9Q@mq/vhost\n", Some("pa:ss9Q")),
        (
            &*format!("postgres://{long_user}:{long_pass}@db/app\n"),
            Some(long_pass.as_str()),
        ),
        ("https://host/x:y@z and https://a.b/c\n", None),
        ("see http://u:p q@h\n", None),
    ];
    for (text, secret) in cases {
        let out = same_for_every_cut(&s, text);
        let mut reference = s.reference_stream();
        let mut want = Vec::new();
        reference.push(text.as_bytes(), &mut want);
        reference.finish(&mut want);
        assert_eq!(out, String::from_utf8(want).unwrap(), "{text:?}");
        match secret {
            Some(secret) => {
                assert!(!out.contains(secret), "{text:?} -> {out:?}");
                assert!(out.contains("[REDACTED:url-credentials]"), "{out:?}");
            }
            None => assert_eq!(out, text),
        }
    }
}

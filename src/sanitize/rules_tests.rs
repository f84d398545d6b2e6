//! Per-rule tests: a generated, format-valid example of every built-in rule is redacted,
//! and its near misses are not; rules files report located errors.

use std::path::Path;

use pretty_assertions::assert_eq;

use super::super::builtin::{
    BUILTIN, USERINFO_MAX, flag_prefix, flag_sep, header_key, header_sep, key_prefix, secret_name,
    sep, userinfo,
};
use super::super::{OutputSanitizer, SanitizeError};
use super::*;

/// A small deterministic generator, so failures reproduce.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap()
    }
}

fn charset(name: &str) -> &'static [u8] {
    match name {
        "hex" => b"0123456789abcdef",
        "HEX" => b"0123456789ABCDEF",
        "an" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "lan" => b"abcdefghijklmnopqrstuvwxyz0123456789",
        "uan" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "b64" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "b64u" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
        "b32" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "bech" => b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
        "d" => b"0123456789",
        "l" => b"abcdefghijklmnopqrstuvwxyz",
        "u" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        other => panic!("unknown charset {other}"),
    }
}

/// Expand `{set:N}` and `{uuid}`; returns the text and the random parts.
pub(crate) fn expand(template: &str, rng: &mut Rng) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let spec = &rest[open + 1..open + close];
        let generated = if spec == "uuid" {
            let hex = charset("hex");
            let mut s = String::new();
            for (i, n) in [8, 4, 4, 4, 12].iter().enumerate() {
                if i > 0 {
                    s.push('-');
                }
                for _ in 0..*n {
                    s.push(char::from(hex[rng.below(16)]));
                }
            }
            Some(s)
        } else if let Some((set, n)) = spec.split_once(':')
            && let Ok(n) = n.parse::<usize>()
        {
            let chars = charset(set);
            Some(
                (0..n)
                    .map(|_| char::from(chars[rng.below(chars.len())]))
                    .collect(),
            )
        } else {
            None
        };
        out.push_str(&rest[..open]);
        match generated {
            Some(g) => {
                out.push_str(&g);
                parts.push(g);
                rest = &rest[open + close + 1..];
            }
            // Not a template (a JSON brace in the example): keep it.
            None => {
                out.push('{');
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    (out, parts)
}

fn sanitizer() -> OutputSanitizer {
    static S: std::sync::OnceLock<OutputSanitizer> = std::sync::OnceLock::new();
    S.get_or_init(|| OutputSanitizer::with_builtin_rules().unwrap())
        .clone()
}

#[test]
fn library_has_at_least_80_rules_with_unique_ids_and_reasons() {
    let rules = RuleSet::builtin().unwrap();
    assert!(rules.rules().len() >= 80, "{} rules", rules.rules().len());
    let mut ids = std::collections::HashSet::new();
    for r in rules.rules() {
        assert!(ids.insert(r.id.clone()), "duplicate id {}", r.id);
        assert!(!r.reason.is_empty() && !r.provider.is_empty(), "{}", r.id);
        check_id(&r.id).unwrap();
    }
}

#[test]
fn every_rule_has_a_test_example_or_is_a_block_rule() {
    for b in BUILTIN {
        assert!(
            !b.example.is_empty() || b.block.is_some(),
            "rule {} has no example",
            b.id
        );
    }
}

/// The engine's separator pre-check for assignment rules reasons from their shape: the
/// key prefix, a group of names made of key bytes, `sep!()`, a value; and keywords made of
/// key bytes that start with a letter. A rule marked `assignment` must keep that shape.
#[test]
fn assignment_rules_have_the_shape_the_precheck_assumes() {
    let key_byte = |b: u8| b.is_ascii_alphanumeric() || b"_.-".contains(&b);
    let mut marked = 0;
    for b in BUILTIN.iter().filter(|b| b.assignment) {
        marked += 1;
        let names = b
            .pattern
            .strip_prefix(key_prefix!())
            .unwrap_or_else(|| panic!("{}: pattern does not start with key_prefix!()", b.id));
        let (names, rest) = names.split_once(')').unwrap();
        assert!(
            rest.starts_with(sep!()),
            "{}: no sep!() after the names",
            b.id
        );
        // A glued prefix of key bytes (`postgresPassword`) is the one repetition allowed.
        let plain = names.replace("[A-Za-z0-9]{0,30}", "");
        assert!(
            plain.bytes().all(|c| key_byte(c) || b"|[]?".contains(&c)),
            "{}: names {names:?} may match a byte that is not a key byte",
            b.id
        );
        for k in b.keywords {
            assert!(
                k.as_bytes()[0].is_ascii_alphabetic() && k.bytes().all(key_byte),
                "{}: keyword {k:?}",
                b.id
            );
        }
    }
    assert_eq!(marked, 4);
}

/// The value side of the assignment pre-check asks for a key name right before the
/// separator: every key the names group accepts must end with one of the rule's key-name
/// ends (`engine::key_name_ends`). Checked on many keys built from name fragments, glued
/// prefixes and case changes, against the names group compiled alone.
#[test]
fn key_name_ends_end_every_key_the_names_group_accepts() {
    let fragments = [
        "pass",
        "word",
        "pwd",
        "passwd",
        "phrase",
        "secret",
        "key",
        "api",
        "access",
        "auth",
        "app",
        "client",
        "license",
        "subscription",
        "private",
        "signing",
        "encryption",
        "master",
        "token",
        "refresh",
        "bearer",
        "session",
        "id",
        "credential",
        "s",
        "db",
        "ssh",
        "_",
        ".",
        "-",
        "x",
        "Q9",
        "PGP",
        "Word",
    ];
    let mut rng = Rng::new(7);
    for b in BUILTIN.iter().filter(|b| b.assignment) {
        let ends = super::super::engine::key_name_ends(b.pattern);
        assert!(!ends.is_empty(), "{}: no key-name ends", b.id);
        let (names, _) = b
            .pattern
            .strip_prefix(key_prefix!())
            .and_then(|r| r.split_once(')'))
            .unwrap();
        let group = regex::bytes::Regex::new(&format!("(?i-u)^(?:{names})$")).unwrap();
        let mut accepted = 0;
        for _ in 0..40_000 {
            let mut key = String::new();
            for _ in 0..=rng.below(4) {
                let f = fragments[rng.below(fragments.len())];
                if rng.below(3) == 0 {
                    key.push_str(&f.to_ascii_uppercase());
                } else {
                    key.push_str(f);
                }
            }
            if group.is_match(key.as_bytes()) {
                accepted += 1;
                let lower = key.to_ascii_lowercase();
                assert!(
                    ends.iter().any(|e| lower.as_bytes().ends_with(e)),
                    "{}: {key:?} ends with none of {:?}",
                    b.id,
                    ends.iter()
                        .map(|e| String::from_utf8_lossy(e))
                        .collect::<Vec<_>>()
                );
            }
        }
        assert!(accepted > 50, "{}: only {accepted} keys accepted", b.id);
    }
}

/// The engine's other pre-checks reason from the pattern's shape too: a `Header` rule is
/// `header_key!()`, its one keyword, `header_sep!()`; a `Flag` rule is `flag_prefix!()`,
/// names, `)`, `flag_sep!()`, with keywords of a `-` and a letter; a `Leads` rule is
/// checked when it is compiled (every match begins with the word).
#[test]
fn prechecked_rules_have_the_shape_their_precheck_assumes() {
    let mut marked = 0;
    for b in BUILTIN.iter().filter(|b| b.precheck.is_some()) {
        marked += 1;
        match b.precheck {
            Some(Precheck::Header) => {
                assert_eq!(b.keywords.len(), 1, "{}", b.id);
                let want = format!("{}{}{}", header_key!(), b.keywords[0], header_sep!());
                let plain = format!(r"(?i)\b{}{}", b.keywords[0], header_sep!());
                assert!(
                    b.pattern.starts_with(&want) || b.pattern.starts_with(&plain),
                    "{}: not {want}…",
                    b.id
                );
                if let Some(first) = b.first_line {
                    assert!(
                        first.starts_with(&plain),
                        "{}: first line not {plain}…",
                        b.id
                    );
                }
            }
            Some(Precheck::Flag) => {
                let names = b.pattern.strip_prefix(flag_prefix!()).unwrap_or_else(|| {
                    panic!("{}: pattern does not start with flag_prefix!()", b.id)
                });
                let (names, rest) = names.split_once(')').unwrap();
                assert!(rest.starts_with(flag_sep!()), "{}: no flag_sep!()", b.id);
                assert!(
                    names
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || b"-|".contains(&c)),
                    "{}: names {names:?} are not plain words",
                    b.id
                );
                for k in b.keywords {
                    assert!(
                        k.starts_with('-') && k.as_bytes()[1].is_ascii_alphabetic(),
                        "{}: keyword {k:?}",
                        b.id
                    );
                }
            }
            Some(Precheck::Command) => {
                let hir = regex_syntax::ParserBuilder::new()
                    .unicode(false)
                    .utf8(false)
                    .build()
                    .parse(b.pattern)
                    .unwrap();
                assert!(
                    begins_at_word_boundary(&hir),
                    "{}: a match may begin without \\b",
                    b.id
                );
                let seq = regex_syntax::hir::literal::Extractor::new()
                    .kind(regex_syntax::hir::literal::ExtractKind::Prefix)
                    .limit_total(100_000)
                    .extract(&hir);
                let literals = seq
                    .literals()
                    .unwrap_or_else(|| panic!("{}: no finite set of prefixes", b.id));
                for lit in literals {
                    let lit = lit.as_bytes().to_ascii_lowercase();
                    assert!(
                        b.keywords
                            .iter()
                            .any(|k| lit.starts_with(&k.as_bytes().to_ascii_lowercase())),
                        "{}: a match may begin with {:?}, no keyword",
                        b.id,
                        String::from_utf8_lossy(&lit)
                    );
                }
                for k in b.keywords {
                    let first = k.as_bytes()[0];
                    assert!(
                        first.is_ascii_alphanumeric() || first == b'_',
                        "{}: {k:?}",
                        b.id
                    );
                }
            }
            Some(Precheck::Leads(words)) => {
                // The engine looks for the word in the keyword's line alone.
                assert!(
                    words
                        .iter()
                        .all(|w| !w.is_empty() && !w.contains(['\n', '\r'])),
                    "{}: {words:?}",
                    b.id
                );
                // Rule::from_builtin refuses the rule otherwise; prove that check bites.
                let wrong = Builtin {
                    pattern: r"(?i)\blogin\s{1,3}password\s{1,3}(?P<secret>\S{3,128})",
                    ..*b
                };
                assert!(Rule::from_builtin(&wrong).is_err(), "{}: {words:?}", b.id);
                assert!(Rule::from_builtin(b).is_ok(), "{}", b.id);
            }
            Some(Precheck::Named(openers)) => {
                // Rule::from_builtin refuses a branch without an opener and a name, or
                // other keywords; prove those checks bite.
                let unopened = Builtin {
                    pattern: concat!(
                        r"(?i)\bkey:\s{0,3}",
                        secret_name!(),
                        r"\s(?P<secret>\S{3,20})"
                    ),
                    ..*b
                };
                assert!(Rule::from_builtin(&unopened).is_err(), "{}", b.id);
                let other_keywords = Builtin {
                    keywords: &["password"],
                    ..*b
                };
                assert!(Rule::from_builtin(&other_keywords).is_err(), "{}", b.id);
                assert!(Rule::from_builtin(b).is_ok(), "{openers:?}");
            }
            Some(Precheck::Userinfo) => {
                assert_eq!(b.keywords, &["://"], "{}", b.id);
                assert_eq!(b.pattern.matches("://").count(), 1, "{}", b.id);
                let want = concat!("://", userinfo!());
                assert!(b.pattern.contains(want), "{}: no {want}", b.id);
                // The length the scan allows before the `@`.
                assert_eq!(USERINFO_MAX, 128 + 1 + 256);
                assert!(userinfo!().contains("{0,128}:") && userinfo!().contains("{1,256})@"));
            }
            Some(Precheck::Holds(words)) => {
                // Rule::from_builtin refuses the rule otherwise; prove that check bites:
                // the group made optional, in an alternation, or with a branch lacking
                // the words.
                for pattern in [
                    r"(?i)\bcurl\b[^\r\n]{0,200}?\s(?:-u|--user)?\s{1,3}(?P<secret>\S{3,128})",
                    r"(?i)\bcurl\b[^\r\n]{0,200}?\s(?:-u|--user)\s(?P<secret>\S{3,128})|\bcurl\s\S+",
                    r"(?i)\bcurl\b[^\r\n]{0,200}?\s(?:-u|--login)\s(?P<secret>\S{3,128})",
                ] {
                    let wrong = Builtin { pattern, ..*b };
                    assert!(Rule::from_builtin(&wrong).is_err(), "{}: {pattern}", b.id);
                }
                assert!(Rule::from_builtin(b).is_ok(), "{}: {words:?}", b.id);
            }
            Some(Precheck::Column) => {
                // A name, blanks, one value without blanks, then only blanks to the line's end.
                assert!(
                    b.pattern
                        .ends_with(r#"["']?(?P<secret>[^\s"']{12,200})["']?[ \t]{0,8}$"#),
                    "{}",
                    b.id
                );
                assert!(b.pattern.starts_with(r"(?m)(?:^|\s)"), "{}", b.id);
            }
            None => {}
        }
    }
    assert_eq!(marked, 19);
}

/// A [`Precheck::Named`] rule's anchor test: a keyword is an anchor when the text before
/// it ends with one of the rule's openers and name bytes, in either case, and not in prose.
#[test]
fn named_rules_tell_an_anchor_by_the_text_before_it() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "name-value-secret",
            &[
                "- name: DB_|PASSWORD",
                "{\"Name\": \"api_|token\"",
                "name:x_|password",
                "name = \\\"my.|secret",
                "  - NAME: |AUTH",
            ],
            &[
                "echo the |password",
                "value: |token",
                "name: DB |PASSWORD",
                "rename: db_|password",
                "name; |secret",
            ],
        ),
        (
            "xml-secret-element",
            &["<db.|password>", "<|Token ", "<spring:datasource-|password"],
            &["a |password", "<!-- |password", "< |secret>"],
        ),
        (
            "xml-keyed-value",
            &[
                "<add key=\"|ApiKey\"",
                "<property name = 'db.|password'",
                "<key>  aws.|secret",
                "<NAME>|token",
            ],
            &[
                "value=\"|password\"",
                "key=|password",
                "monkey=\"|secret\"",
                "<value>|token",
            ],
        ),
    ];
    for (id, anchors, others) in cases {
        let rule = RuleSet::builtin()
            .unwrap()
            .rules()
            .iter()
            .find(|r| r.id == *id)
            .unwrap()
            .clone();
        assert!(matches!(rule.precheck, Some(Precheck::Named(_))), "{id}");
        for (text, want) in anchors
            .iter()
            .map(|t| (t, true))
            .chain(others.iter().map(|t| (t, false)))
        {
            let at = text.find('|').unwrap();
            let hay = text.replace('|', "");
            assert_eq!(
                rule.compiled.is_anchor(hay.as_bytes(), 0..at),
                want,
                "{id}: {text:?}"
            );
        }
    }
}

/// Whether every match of `hir` begins where `\b` (ASCII) holds.
fn begins_at_word_boundary(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{HirKind, Look};
    match hir.kind() {
        HirKind::Look(Look::WordAscii | Look::WordStartAscii) => true,
        HirKind::Concat(parts) => parts.first().is_some_and(begins_at_word_boundary),
        HirKind::Alternation(alts) => alts.iter().all(begins_at_word_boundary),
        HirKind::Capture(group) => begins_at_word_boundary(&group.sub),
        _ => false,
    }
}

#[test]
fn every_generated_example_is_redacted_by_its_rule() {
    let s = sanitizer();
    for (i, b) in BUILTIN
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.example.is_empty())
    {
        for round in 0..8u64 {
            let mut rng = Rng::new(i as u64 * 1000 + round);
            let (example, parts) = expand(b.example, &mut rng);
            let text = format!("log: starting\n  {example}\nnext line\n");
            let out = s.sanitize(text.as_bytes());
            let shown = String::from_utf8_lossy(&out.output);
            assert!(
                out.redactions.get(b.id) >= 1,
                "rule {} did not redact its example {example:?}: {shown} {:?}",
                b.id,
                out.redactions
            );
            let longest = parts.iter().max_by_key(|p| p.len()).unwrap();
            assert!(
                !shown.contains(longest.as_str()),
                "rule {}: random part {longest} survived: {shown}",
                b.id
            );
            assert!(shown.starts_with("log: starting\n  ") && shown.ends_with("\nnext line\n"));
        }
    }
}

#[test]
fn near_misses_are_not_redacted_by_their_rule() {
    let s = sanitizer();
    for (i, b) in BUILTIN.iter().enumerate() {
        for (j, near) in b.near_miss.iter().enumerate() {
            let mut rng = Rng::new((i * 100 + j) as u64);
            let (near, _) = expand(near, &mut rng);
            let text = format!("note: {near}\n");
            let out = s.sanitize(text.as_bytes());
            assert_eq!(
                out.redactions.get(b.id),
                0,
                "rule {} redacted its near miss {near:?}: {}",
                b.id,
                String::from_utf8_lossy(&out.output)
            );
        }
    }
}

#[test]
fn ordinary_identifiers_and_data_are_left_alone() {
    let s = sanitizer();
    let mut rng = Rng::new(7);
    let mut b64 = |n: usize| expand(&format!("{{b64:{n}}}"), &mut rng).0;
    let image = b64(4000);
    let integrity = b64(86);
    let samples = [
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8\nAuthor: A <a@b.c>\n".to_owned(),
        "Merge: 1a2b3c4 5d6e7f8\nsha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            .to_owned(),
        "request_id=3f2504e0-4f89-11d3-9a0c-0305e82c3301 status=200 took=12ms\n".to_owned(),
        "{\"id\": \"123e4567-e89b-12d3-a456-426614174000\", \"name\": \"widget\"}\n".to_owned(),
        format!("\"integrity\": \"sha512-{integrity}==\",\n"),
        format!("<img src=\"data:image/png;base64,{image}\">\n"),
        "password = \"changeme\"  # set your own\n".to_owned(),
        "export TOKEN=${TOKEN}\nAPI_KEY=<your-api-key>\n".to_owned(),
        "The password must be at least 12 characters.\n".to_owned(),
        "max_tokens: 4096\ntoken_count = 17\n".to_owned(),
        "\u{1b}[32mPASS\u{1b}[0m tests/auth_test.rs (12 tests)\n".to_owned(),
        "Downloading crates ...\r  50%\r 100%\n".to_owned(),
        // Found by the corpus script: a Rust test path is not `auth: <value>`.
        "test auth::tests::rejects_expired_token ... ok\n".to_owned(),
    ];
    for text in samples {
        let out = s.sanitize(text.as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&out.output),
            text,
            "redacted: {:?}",
            out.redactions
        );
    }
}

#[test]
fn user_rules_add_disable_and_replace() {
    let mut rules = RuleSet::builtin().unwrap();
    let n = rules.rules().len();
    rules
        .load_str(
            r#"
replacement = "<<{id}>>"
disable = ["jwt", "generic-token"]

[[rule]]
id = "acme-key"
provider = "Acme"
regex = 'acme_[a-z0-9]{32}'
keywords = ["acme_"]
entropy = 3.0
reason = "Acme API key"
"#,
            Path::new("rules.toml"),
        )
        .unwrap();
    assert_eq!(rules.rules().len(), n - 1);
    let s = OutputSanitizer::builder(rules).build().unwrap();
    let out = s.sanitize(b"k=acme_0123456789abcdefghijklmnopqrstuv\n");
    assert_eq!(String::from_utf8_lossy(&out.output), "k=<<acme-key>>\n");
}

fn load_err(text: &str) -> String {
    let mut rules = RuleSet::builtin().unwrap();
    match rules.load_str(text, Path::new("r.toml")) {
        Err(e @ SanitizeError::RulesFile { .. }) => e.to_string(),
        other => panic!("expected a located error, got {other:?}"),
    }
}

#[test]
fn rules_file_errors_name_file_line_and_column() {
    assert_eq!(
        load_err(
            "disable = [\"jwt\"]\n\n[[rule]]\nid = \"x\"\nregex = 'a+'\nkeywords = [\"ab\"]\n"
        ),
        "r.toml:5:9: regex can match text of unbounded length; use bounded repetition such as \
         {1,64} instead of + or *"
    );
    assert_eq!(
        load_err("disable = [\"nope\"]\n"),
        "r.toml:1:12: disable: no rule has id \"nope\""
    );
    assert_eq!(
        load_err("[[rule]]\nid = \"github-pat\"\nregex = 'x{2}'\nkeywords = [\"xx\"]\n"),
        "r.toml:2:6: duplicate rule id \"github-pat\" (to replace a built-in rule, disable it first)"
    );
    assert_eq!(
        load_err("[[rule]]\nid = \"a\"\nregex = 'x{2}'\nkeywords = []\n"),
        "r.toml:4:12: a rule needs at least one keyword (the prefilter only tries a rule where \
         one occurs)"
    );
    assert!(
        load_err("[[rule]]\nid = \"a\"\nregex = '(x{2}'\nkeywords = [\"xx\"]\n")
            .starts_with("r.toml:3:9: invalid regex")
    );
    assert!(
        load_err("[[rule]]\nid = \"a\"\nregexp = 'x'\n").starts_with("r.toml:3:1: unknown field")
    );
    assert!(load_err("nonsense = = 1").starts_with("r.toml:1:"));
}

#[test]
fn placeholder_and_code_guards() {
    for p in [
        "changeme",
        "${DB_PASS}",
        "$DB_PASS",
        "{{ secret }}",
        "<password>",
        "xxxxxxxxxx",
        "********",
        "%PASSWORD%",
        "[password]",
        "#{systemEnvironment['APP_SECRET']}",
        "changeit",
    ] {
        assert!(is_placeholder(p.as_bytes()), "{p}");
    }
    for p in ["hunter2!", "Zq8#kP2m", "ghp_abc123"] {
        assert!(!is_placeholder(p.as_bytes()), "{p}");
    }
    for c in [
        "getpass",
        "config.db.password",
        "DB_PASSWORD",
        "read_secret()",
        "self._authkey)",
        "Permission",
        "INCORRECT",
    ] {
        assert!(looks_like_code(c.as_bytes()), "{c}");
    }
    for c in [
        "hunter22",
        "Tr0ub4dor",
        "s3cr3t.value!",
        "Summer2024",
        "HunterTwo",
    ] {
        assert!(!looks_like_code(c.as_bytes()), "{c}");
    }
}

/// Built-in rules compile at their first use, so every one must compile: this is the
/// invariant `Compiled::get` relies on.
#[test]
fn every_builtin_rule_compiles() {
    let set = RuleSet::builtin().unwrap();
    for rule in set.rules() {
        assert!(!rule.compiled.is_built(), "{} compiled at start", rule.id);
        let built = rule
            .compiled
            .build()
            .unwrap_or_else(|e| panic!("{}: {e}", rule.id));
        assert_eq!(built.value.is_some(), rule.assignment, "{}", rule.id);
        let first_line = rule.compiled.build_first_line();
        let first_line = first_line.unwrap_or_else(|e| panic!("{}: {e}", rule.id));
        assert_eq!(first_line.is_some(), rule.lines_after > 0, "{}", rule.id);
        let opener = rule.compiled.build_opener();
        let opener = opener.unwrap_or_else(|e| panic!("{}: {e}", rule.id));
        assert_eq!(
            opener.is_some(),
            matches!(rule.precheck, Some(Precheck::Named(_))),
            "{}",
            rule.id
        );
    }
}

/// Text without any rule's keyword compiles no rule; a keyword compiles its rules only.
#[test]
fn rules_compile_only_when_their_keyword_appears() {
    let sanitizer = OutputSanitizer::builder(RuleSet::builtin().unwrap())
        .build()
        .unwrap();
    let out = sanitizer.sanitize(b"hello, world\nnothing to see here\n");
    assert_eq!(out.output, b"hello, world\nnothing to see here\n");
    let built = |s: &OutputSanitizer| {
        s.engine
            .rules
            .iter()
            .filter(|r| r.compiled.is_built())
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(built(&sanitizer), Vec::<String>::new());
    let token = "ghp_8kQzX2vLmN4pR7sT1wY3uB6dF9hJ0cE5aG2i";
    let out = sanitizer.sanitize(format!("token {token}\n").as_bytes());
    assert_eq!(out.output, b"token [REDACTED:github-pat]\n");
    let compiled = built(&sanitizer);
    assert!(compiled.contains(&"github-pat".to_owned()), "{compiled:?}");
    assert!(
        compiled.len() < sanitizer.engine.rules.len() / 2,
        "{compiled:?}"
    );
}

/// A start reads each built-in rule's analysis from the table `build.rs` wrote
/// (`BUILTIN_FACTS`) instead of parsing the patterns: that table must be exactly what the
/// analysis says of the rules as they are now, in order.
#[test]
fn build_script_table_matches_the_analysis_of_every_builtin_rule() {
    assert_eq!(
        BUILTIN_FACTS.iter().map(|f| f.id).collect::<Vec<_>>(),
        BUILTIN.iter().map(|b| b.id).collect::<Vec<_>>(),
        "{STALE_FACTS}"
    );
    for (b, facts) in BUILTIN.iter().zip(BUILTIN_FACTS) {
        let table = facts
            .analysis
            .map(|(max_len, anchored, names)| {
                (
                    max_len,
                    anchored,
                    names.iter().map(|n| n.to_vec()).collect(),
                )
            })
            .map_err(str::to_owned);
        let now = analyze(b).map(|f| (f.max_len, f.anchored, f.names));
        assert_eq!(table, now, "{}: {STALE_FACTS}", b.id);
    }
}

/// A rule the build script found invalid, or a table entry for another rule, fails the
/// rule set as a pattern that does not parse did when it was parsed at start.
#[test]
fn a_bad_or_stale_table_entry_is_refused() {
    let b = &BUILTIN[0];
    let invalid = StaticFacts {
        id: b.id,
        analysis: Err("regex can match the empty string"),
    };
    let err = Rule::from_table(b, &invalid).unwrap_err().to_string();
    assert!(err.contains("empty string") && err.contains(b.id), "{err}");
    let other = StaticFacts {
        id: BUILTIN[1].id,
        analysis: Ok((20, false, &[])),
    };
    let err = Rule::from_table(b, &other).unwrap_err().to_string();
    assert!(err.contains("does not match the rules"), "{err}");
    let good = &BUILTIN_FACTS[0];
    assert!(Rule::from_table(b, good).is_ok());
}

/// A redaction replaces the secret and nothing around it: the byte a token rule's closing
/// boundary looks at, and the brackets after a cookie value, stay.
#[test]
fn a_redaction_keeps_the_delimiters_around_the_secret() {
    let s = sanitizer();
    let mut rng = Rng::new(11);
    let (key, _) = expand("AIza{b64u:35}", &mut rng);
    let (cookie, _) = expand("{an:20}", &mut rng);
    for (text, want) in [
        (
            format!("<string name=\"k\">{key}</string>\n"),
            "<string name=\"k\">[REDACTED:gcp-api-key]</string>\n",
        ),
        (
            format!("{{\"k\": \"{key}\",\n"),
            "{\"k\": \"[REDACTED:gcp-api-key]\",\n",
        ),
        (
            format!("Header: map[Cookie:[sessionid={cookie}]]\n"),
            "Header: map[Cookie:[sessionid=[REDACTED:http-cookie]]]\n",
        ),
    ] {
        let out = s.sanitize(text.as_bytes());
        assert_eq!(String::from_utf8_lossy(&out.output), want);
    }
}

/// The anchor test steps its DFA by hand; the crate's own reverse search is the reference.
/// Random text from the bytes openers and names are made of (and others), every Named
/// rule, random ranges, including ones that end before a non-word byte or at the end.
/// The union of every rule's openers finds an anchor exactly where one of them does, and
/// still finds it in a wider range.
#[test]
fn the_hand_stepped_opener_search_agrees_with_the_crates() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let pieces: &[&str] = &[
        "name", "NAME", "key", "<key>", "<name>", "<", ">", "=", ":", " ", "  ", "\"", "'", "\\",
        "\n", "\r", "pass", "word", "_", ".", "-", "/", "x", "é", "value", ",", "[",
    ];
    let set = RuleSet::builtin().unwrap();
    let named: Vec<&Rule> = set
        .rules()
        .iter()
        .filter(|r| matches!(r.precheck, Some(Precheck::Named(_))))
        .collect();
    assert_eq!(named.len(), 3);
    let union = crate::sanitize::engine::NamedAnchors::new(set.rules());
    let (mut anchors, mut others) = (0, 0);
    for _ in 0..20_000 {
        let text: String = (0..next(12)).map(|_| pieces[next(pieces.len())]).collect();
        let hay = text.as_bytes();
        let end = next(hay.len() + 1);
        // Half the ranges start where an opener's word does, so that its `\b` looks at
        // the byte before the range.
        let words: Vec<usize> = text
            .match_indices(['n', 'N', 'k'])
            .map(|(i, _)| i)
            .filter(|&i| i <= end)
            .collect();
        let start = if words.is_empty() || next(2) == 0 {
            next(end + 1)
        } else {
            words[next(words.len())]
        };
        let mut any = false;
        for rule in &named {
            rule.compiled.is_anchor(b"", 0..0);
            let opener = rule.compiled.opener().unwrap();
            // The run of name bytes is skipped by table for every one of them.
            assert!(opener.run.is_some(), "{}", rule.id);
            let want = opener.search(hay, start..end);
            assert_eq!(
                opener.ends_here(hay, start..end),
                want,
                "{}: {text:?} {start}..{end}",
                rule.id
            );
            if want {
                anchors += 1;
            } else {
                others += 1;
            }
            any |= want;
        }
        assert_eq!(
            union.may_anchor(hay, start..end),
            any,
            "{text:?} {start}..{end}"
        );
        let wider = next(start + 1);
        assert!(
            !any || union.may_anchor(hay, wider..end),
            "{text:?} {wider}..{end}"
        );
    }
    assert!(anchors > 1_000 && others > 1_000, "{anchors} {others}");
}

/// Only repetitions bounded above [`LONGEST_COUNTED_REPETITION`] lose their bound, at any
/// depth, and capture groups keep their index and name.
#[test]
fn only_long_counted_repetitions_are_compiled_unbounded() {
    use regex_automata::util::syntax;
    let parse = |p: &str| syntax::parse_with(p, &syntax::Config::new().unicode(false)).unwrap();
    let max = super::LONGEST_COUNTED_REPETITION;
    for (pattern, unbounded) in [
        (format!("a{{0,{max}}}"), false),
        (format!("a{{3,{}}}", max + 1), true),
        (format!("x(?:y|(?P<secret>[0-9]{{1,{}}}))z", max * 4), true),
        (format!("(?:ab{{2,{}}}){{0,3}}", max + 7), true),
        ("a{12}b{1,40}".to_string(), false),
    ] {
        let hir = super::unbound_long_repetitions(&parse(&pattern));
        assert_eq!(
            hir.properties().maximum_len().is_none(),
            unbounded,
            "{pattern}"
        );
        assert_eq!(
            hir.properties().minimum_len(),
            parse(&pattern).properties().minimum_len()
        );
    }
    let (regex, groups) =
        super::build(&format!("k=(?P<secret_dq>[a-z]{{1,{}}})", max * 2)).unwrap();
    assert_eq!(groups, vec![(1, true)]);
    let long = format!("k={}", "q".repeat(max as usize * 3));
    let m = regex.find(long.as_bytes()).unwrap();
    assert_eq!(
        m.len(),
        long.len(),
        "the bound is gone: the window bounds a match instead"
    );
}

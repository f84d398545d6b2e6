//! Corpus tests: labelled secrets whose context spans lines or is not `key=value`, and
//! look-alike text that must pass untouched, read from `cases/*.txt`.
//!
//! A file starts with `#` comment lines; each case starts with `--- secret: <what>` or
//! `--- clean: <what>` and its text is every following line up to the next `--- ` line.
//! In the text, `{set:N}` and `{uuid}` are random parts (see [`expand`]), `[[text]]` is a
//! fixed secret, and `{esc}`, `{cr}`, `{tab}` stand for ESC, CR and TAB.
//!
//! A secret case passes when no random part and no `[[...]]` text is left in the output
//! and every input line holding no secret comes out as a whole, unchanged line. A clean
//! case passes when the output is the input. Either way, streaming the text in any
//! chunks must give the whole-text output. All failures of a file are reported together.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::OutputSanitizer;
use super::rules::tests::{Rng, expand};

/// Kubernetes, ECS, docker-compose and Helm environment lists. Each corpus file is
/// embedded with its name, so the tests need no paths at run time.
const KUBERNETES: (&str, &str) = ("kubernetes.txt", include_str!("cases/kubernetes.txt"));
/// `.netrc` files.
const NETRC: (&str, &str) = ("netrc.txt", include_str!("cases/netrc.txt"));
/// XML configuration.
const XML: (&str, &str) = ("xml.txt", include_str!("cases/xml.txt"));
/// HTTP debug output.
const HTTP: (&str, &str) = ("http.txt", include_str!("cases/http.txt"));
/// Command lines.
const CLI: (&str, &str) = ("cli.txt", include_str!("cases/cli.txt"));
/// ANSI-coloured output.
const ANSI: (&str, &str) = ("ansi.txt", include_str!("cases/ansi.txt"));
/// Protocol traces and SQL statements.
const PROTOCOLS: (&str, &str) = ("protocols.txt", include_str!("cases/protocols.txt"));
/// Admin commands, printed secrets, structured values and vendor formats.
const COMMANDS: (&str, &str) = ("commands.txt", include_str!("cases/commands.txt"));
/// Generic assignments: names, separators, value ends and escapes.
const ASSIGNMENTS: (&str, &str) = ("assignments.txt", include_str!("cases/assignments.txt"));
/// Ordinary messages that mention credentials (clean only).
const ERRORS: (&str, &str) = ("errors.txt", include_str!("cases/errors.txt"));

/// Every corpus file.
const FILES: [(&str, &str); 10] = [
    KUBERNETES,
    NETRC,
    XML,
    HTTP,
    CLI,
    ANSI,
    PROTOCOLS,
    COMMANDS,
    ASSIGNMENTS,
    ERRORS,
];

/// Whether a case holds secrets or must pass unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Its random parts and `[[...]]` texts must be redacted.
    Secret,
    /// The output must equal the input.
    Clean,
}

/// One labelled case as written in a corpus file.
#[derive(Debug)]
struct Case {
    /// Secret or clean.
    kind: Kind,
    /// The description after the label.
    description: String,
    /// The template text, every line with its newline.
    template: String,
    /// 1-based line of the `--- ` header, for messages.
    line: usize,
}

/// Parse a corpus file into its cases; a malformed file panics with the line.
fn parse(name: &str, text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if let Some(header) = line.strip_prefix("--- ") {
            let header = header.trim_end_matches(['\n', '\r']);
            let (kind, description) = if let Some(d) = header.strip_prefix("secret:") {
                (Kind::Secret, d)
            } else if let Some(d) = header.strip_prefix("clean:") {
                (Kind::Clean, d)
            } else {
                panic!(
                    "{name}:{}: a case header must be `--- secret:` or `--- clean:`",
                    i + 1
                );
            };
            cases.push(Case {
                kind,
                description: description.trim().to_owned(),
                template: String::new(),
                line: i + 1,
            });
        } else if let Some(case) = cases.last_mut() {
            case.template.push_str(line);
        } else {
            assert!(
                line.starts_with('#') || line.trim().is_empty(),
                "{name}:{}: only `#` comments may come before the first case",
                i + 1
            );
        }
    }
    cases
}

/// Replace the escapes `{esc}`, `{cr}`, `{tab}` and the `[[...]]` markers; returns the text
/// for [`expand`] and the fixed secrets.
fn substitute(template: &str) -> (String, Vec<String>) {
    let mut text = template
        .replace("{esc}", "\u{1b}")
        .replace("{cr}", "\r")
        .replace("{tab}", "\t");
    let mut fixed = Vec::new();
    while let Some(open) = text.find("[[") {
        let close = open
            + text[open..]
                .find("]]")
                .unwrap_or_else(|| panic!("unclosed `[[` in {template:?}"));
        let secret = text[open + 2..close].to_owned();
        text.replace_range(open..close + 2, &secret);
        fixed.push(secret);
    }
    (text, fixed)
}

/// A seed that depends only on the file and the case's position, so runs reproduce.
fn seed(name: &str, index: usize) -> u64 {
    name.bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        .wrapping_add(index as u64)
}

/// Feed `text` to a stream split at `cuts` (ascending) and return the output.
fn stream(s: &OutputSanitizer, text: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut st = s.stream();
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts {
        st.push(&text[prev..c], &mut out);
        prev = c;
    }
    st.push(&text[prev..], &mut out);
    st.finish(&mut out);
    out
}

/// The text with control characters and non-ASCII escaped, one input line per line.
fn escaped(text: &[u8]) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(text).split_inclusive('\n') {
        out.push_str("        | ");
        out.push_str(&line.escape_debug().to_string());
        out.push('\n');
    }
    out
}

/// Check one case; returns what is wrong with it, if anything.
fn check(s: &OutputSanitizer, case: &Case, rng: &mut Rng) -> Vec<String> {
    let (substituted, fixed) = substitute(&case.template);
    let (text, random) = expand(&substituted, rng);
    let secrets: Vec<String> = fixed.into_iter().chain(random).collect();
    let output = s.sanitize(text.as_bytes()).output;
    let out_str = String::from_utf8_lossy(&output);
    let mut problems = Vec::new();
    match case.kind {
        Kind::Secret => {
            if secrets.is_empty() {
                problems.push("malformed: a secret case with no secret in it".to_owned());
            }
            for secret in &secrets {
                if out_str.contains(secret.as_str()) {
                    problems.push(format!("missed secret {secret:?}"));
                }
            }
            // Every line without a secret must survive whole (as often as it was given).
            let mut available: HashMap<&str, usize> = HashMap::new();
            for line in out_str.split('\n') {
                *available.entry(line).or_default() += 1;
            }
            for line in text.split('\n') {
                if secrets.iter().any(|x| line.contains(x.as_str())) {
                    continue;
                }
                match available.get_mut(line) {
                    Some(n) if *n > 0 => *n -= 1,
                    _ => problems.push(format!("over-redaction: line {line:?} was changed")),
                }
            }
        }
        Kind::Clean => {
            if output != text.as_bytes() {
                problems.push("clean text altered".to_owned());
            }
        }
    }
    // Streaming must not change the result: every single cut, then a few multi-cut splits.
    let bytes = text.as_bytes();
    let mut splits: Vec<Vec<usize>> = (0..=bytes.len()).map(|c| vec![c]).collect();
    for _ in 0..8 {
        let n = 2 + rng.below(8);
        let mut cuts: Vec<usize> = (0..n).map(|_| rng.below(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        splits.push(cuts);
    }
    if let Some(cuts) = splits.iter().find(|cuts| stream(s, bytes, cuts) != output) {
        let streamed = stream(s, bytes, cuts);
        problems.push(format!(
            "streamed with cuts at {cuts:?} the output differs from the whole text's:\n{}",
            escaped(&streamed)
        ));
    }
    if !problems.is_empty() {
        problems.push(format!(
            "input:\n{}      output:\n{}",
            escaped(bytes),
            escaped(&output)
        ));
    }
    problems
}

/// Run every case of one corpus file and panic with all failures at once.
fn run((name, text): (&str, &str)) {
    let s = OutputSanitizer::with_builtin_rules().unwrap();
    let cases = parse(name, text);
    let mut report = String::new();
    let mut failed = 0;
    for (index, case) in cases.iter().enumerate() {
        let mut rng = Rng::new(seed(name, index));
        let problems = check(&s, case, &mut rng);
        if problems.is_empty() {
            continue;
        }
        failed += 1;
        let kind = match case.kind {
            Kind::Secret => "secret",
            Kind::Clean => "clean",
        };
        let _ = writeln!(
            report,
            "\n{name}:{} [{kind}] {}",
            case.line, case.description
        );
        for p in problems {
            let _ = writeln!(report, "    {p}");
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} cases in {name} failed:\n{report}",
        cases.len()
    );
}

/// Kubernetes, ECS, docker-compose and Helm environment lists.
#[test]
fn kubernetes_cases() {
    run(KUBERNETES);
}

/// `.netrc` files over one or several lines.
#[test]
fn netrc_cases() {
    run(NETRC);
}

/// XML configuration: app settings, Maven, Hadoop, Spring.
#[test]
fn xml_cases() {
    run(XML);
}

/// Cookies and `Authorization` headers in HTTP debug dumps.
#[test]
fn http_cases() {
    run(HTTP);
}

/// Passwords on command lines: history, `ps`, `set -x`, CI logs.
#[test]
fn cli_cases() {
    run(CLI);
}

/// Secrets inside ANSI-coloured output.
#[test]
fn ansi_cases() {
    run(ANSI);
}

/// Redis, FTP, POP3, IMAP and SMTP client traces, SQL and mongo shell statements that set
/// a password, connection URLs.
#[test]
fn protocols_cases() {
    run(PROTOCOLS);
}

/// Passwords given to admin commands, secrets printed bare by the command or banner that
/// makes them, values set apart from their names by structure, vendor formats.
#[test]
fn commands_cases() {
    run(COMMANDS);
}

/// Ordinary messages that mention credentials pass untouched.
#[test]
fn errors_cases() {
    run(ERRORS);
}

#[test]
fn assignments_cases() {
    run(ASSIGNMENTS);
}

/// The corpus cannot shrink silently: enough secret cases per context file, enough clean
/// messages, and every case well-formed.
#[test]
fn corpus_keeps_its_size() {
    for (name, text) in FILES {
        let cases = parse(name, text);
        let secret = cases.iter().filter(|c| c.kind == Kind::Secret).count();
        let clean = cases.len() - secret;
        if name == ERRORS.0 {
            assert_eq!(secret, 0, "{name} holds clean cases only");
            assert!(clean >= 25, "{name} has {clean} clean cases, fewer than 25");
        } else {
            assert!(
                secret >= 10,
                "{name} has {secret} secret cases, fewer than 10"
            );
            assert!(clean >= 8, "{name} has {clean} clean cases, fewer than 8");
        }
        for case in &cases {
            assert!(
                !case.description.is_empty() && !case.template.is_empty(),
                "{name}:{}: a case needs a description and text",
                case.line
            );
            let (substituted, fixed) = substitute(&case.template);
            let (_, random) = expand(&substituted, &mut Rng::new(1));
            if case.kind == Kind::Secret {
                assert!(
                    !fixed.is_empty() || !random.is_empty(),
                    "{name}:{}: a secret case without a secret",
                    case.line
                );
            }
        }
    }
}

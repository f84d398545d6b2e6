//! What a rule's pattern is, read from its syntax tree without compiling it: whether it
//! can be a rule at all, its longest match, its key or flag names, and whether every match
//! begins with a keyword.
//!
//! This file is compiled twice: into the crate (user rules are checked with it at load,
//! and the tests hold the built-in table to it), and into the build script, which runs
//! [`analyze`] on every built-in rule and writes the results into a table the crate
//! includes (`builtin_facts.rs` in `OUT_DIR`). A start therefore parses no built-in
//! pattern. It may only use `std`, `regex_syntax` and `super::builtin`.

use super::builtin::{Builtin, Precheck};
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};

/// The longest text one regex rule may match. Bounds the stream's hold-back.
pub const MAX_RULE_LEN: usize = 8 * 1024;

/// What the runtime needs to know about a built-in rule's pattern before it compiles it.
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "the build script runs it on the built-in rules; the tests compare"
    )
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The longest match, in bytes.
    pub(crate) max_len: usize,
    /// For an assignment rule, its key names; for a flag rule, its flag names (lower-case;
    /// see `Rule::names`). Empty otherwise.
    pub(crate) names: Vec<Vec<u8>>,
    /// Whether every match starts with a keyword (see [`starts_with_keyword`]).
    pub(crate) anchored: bool,
}

/// Check a built-in rule and work out its [`Facts`], or say why it cannot be a rule.
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "the build script runs it on the built-in rules; the tests compare"
    )
)]
pub(crate) fn analyze(b: &Builtin) -> Result<Facts, String> {
    let max_len = check(b.pattern)?;
    check_keywords(b.keywords)?;
    let names = match b.precheck {
        _ if b.assignment => group_names(b.pattern, super::builtin::key_prefix!()),
        Some(Precheck::Flag) => group_names(b.pattern, super::builtin::flag_prefix!()),
        _ => Vec::new(),
    };
    if b.precheck == Some(Precheck::Flag) && names.is_empty() {
        return Err("a flag pre-check needs a finite set of flag names".to_owned());
    }
    if let Some(Precheck::Leads(words)) = b.precheck
        && !starts_with_keyword(b.pattern, words)
    {
        return Err(format!("not every match begins with one of {words:?}"));
    }
    if let Some(Precheck::Named(openers)) = b.precheck {
        named_shape(b.pattern, b.keywords, openers)?;
    }
    if let Some(Precheck::Holds(words)) = b.precheck
        && !holds_one_of(b.pattern, words)
    {
        return Err(format!("not every match holds one of {words:?}"));
    }
    Ok(Facts {
        max_len,
        names,
        anchored: starts_with_keyword(b.pattern, b.keywords),
    })
}

/// A parser with the flags every rule is compiled with (bytes, no Unicode).
fn parser() -> regex_syntax::Parser {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .multi_line(true)
        .crlf(true)
        .build()
}

/// Check a pattern without compiling it: its longest match, or why it cannot be a rule
/// (located by the caller).
pub(crate) fn check(pattern: &str) -> Result<usize, String> {
    let hir = parser()
        .parse(pattern)
        .map_err(|e| format!("invalid regex: {}", one_line(&e.to_string())))?;
    let props = hir.properties();
    let Some(max_len) = props.maximum_len() else {
        return Err(
            "regex can match text of unbounded length; use bounded repetition such as \
             {1,64} instead of + or *"
                .to_owned(),
        );
    };
    if max_len > MAX_RULE_LEN {
        return Err(format!(
            "regex can match up to {max_len} bytes; the limit is {MAX_RULE_LEN}"
        ));
    }
    if props.minimum_len().unwrap_or(0) == 0 {
        return Err("regex can match the empty string".to_owned());
    }
    Ok(max_len)
}

/// A message on one line (regex errors draw a caret under the pattern).
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why a rule's keywords cannot gate it, if they cannot.
pub(crate) fn check_keywords<K: AsRef<str>>(keywords: &[K]) -> Result<(), String> {
    if keywords.is_empty() {
        return Err(
            "a rule needs at least one keyword (the prefilter only tries a rule \
                    where one occurs)"
                .to_owned(),
        );
    }
    for k in keywords {
        let k = k.as_ref();
        if k.len() < 2 {
            return Err(format!("keyword {k:?} is shorter than 2 bytes"));
        }
        if k.bytes().any(|b| b == b'\n' || b == b'\r') {
            return Err(format!("keyword {k:?} contains a line break"));
        }
    }
    Ok(())
}

/// Whether every match of `pattern` begins with one of `keywords` (ASCII case folded):
/// then the match containing a keyword hit starts at a hit, and an anchored search there
/// replaces a search of the whole window.
pub(crate) fn starts_with_keyword<K: AsRef<str>>(pattern: &str, keywords: &[K]) -> bool {
    let Ok(hir) = parser().parse(pattern) else {
        return false;
    };
    let seq = Extractor::new()
        .kind(ExtractKind::Prefix)
        // Case-insensitive words in an alternation (`(?i)(?:machine|default)`) have 2^n
        // spellings each.
        .limit_total(1024)
        .extract(&hir);
    let Some(literals) = seq.literals() else {
        return false;
    };
    !literals.is_empty()
        && literals.iter().all(|lit| {
            let lit = lit.as_bytes().to_ascii_lowercase();
            keywords
                .iter()
                .any(|k| lit.starts_with(&k.as_ref().as_bytes().to_ascii_lowercase()))
        })
}

/// The exact finite set of strings the group after `prefix` (closed by the first `)`)
/// matches, lower-case, or none when it is not small and finite.
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "the build script runs it on the built-in rules; the tests compare"
    )
)]
fn group_names(pattern: &str, prefix: &str) -> Vec<Vec<u8>> {
    let Some(seq) = group_literals(pattern, prefix, ExtractKind::Prefix) else {
        return Vec::new();
    };
    match seq.literals() {
        Some(literals) if seq.is_exact() => literals
            .iter()
            .map(|lit| lit.as_bytes().to_ascii_lowercase())
            .collect(),
        _ => Vec::new(),
    }
}

/// The literals of the names group after `prefix` (closed by the first `)`), as
/// `regex_syntax` extracts them: whole names or their beginnings (`Prefix`), or their
/// endings (`Suffix`). `None` when the pattern has no such group or it does not parse.
pub(crate) fn group_literals(pattern: &str, prefix: &str, kind: ExtractKind) -> Option<Seq> {
    let (names, _) = after_prefix(pattern, prefix)?;
    let hir = parser().parse(names).ok()?;
    Some(Extractor::new().kind(kind).extract(&hir))
}

/// The pattern after `prefix` split at the first `)`: the names and the rest.
pub(crate) fn after_prefix<'p>(pattern: &'p str, prefix: &str) -> Option<(&'p str, &'p str)> {
    pattern.strip_prefix(prefix)?.split_once(')')
}

/// Check the shape [`Precheck::Named`] relies on: the keywords are the secret names'
/// keywords, and the pattern is `(?i)` then one branch, or a group of branches that is the
/// whole pattern, each beginning with one of `openers` then `secret_name!()`.
fn named_shape(pattern: &str, keywords: &[&str], openers: &[&str]) -> Result<(), String> {
    if keywords != super::builtin::SECRET_NAME_KEYWORDS {
        return Err("a named pre-check needs the secret names' keywords".to_owned());
    }
    let body = pattern
        .strip_prefix("(?i)")
        .ok_or("a named pre-check needs a pattern that starts with (?i)")?;
    let branches = match body.strip_prefix("(?:") {
        Some(inner) if group_end(body) == Some(body.len()) => {
            top_level_branches(&inner[..inner.len() - 1])
        }
        _ => vec![body],
    };
    for branch in branches {
        if !openers.iter().any(|o| {
            branch
                .strip_prefix(o)
                .is_some_and(|rest| rest.starts_with(super::builtin::secret_name!()))
        }) {
            return Err(format!(
                "the branch {:?} does not begin with one of {openers:?} and the secret name",
                &branch[..branch.len().min(60)]
            ));
        }
    }
    Ok(())
}

/// Whether `pattern` is one branch (after `(?i)`) with a group outside every other group
/// each of whose branches holds one of `words`, ASCII case-insensitively: every match then
/// holds one of them.
fn holds_one_of(pattern: &str, words: &[&str]) -> bool {
    let body = pattern.strip_prefix("(?i)").unwrap_or(pattern);
    if top_level_branches(body).len() != 1 {
        return false;
    }
    let mut depth = 0usize;
    let mut opens = Vec::new();
    walk(body, |i, c| match c {
        b'(' => {
            if depth == 0 {
                opens.push(i);
            }
            depth += 1;
        }
        b')' => depth = depth.saturating_sub(1),
        _ => {}
    });
    opens.into_iter().any(|at| {
        let group = &body[at..];
        let Some(end) = group_end(group) else {
            return false;
        };
        // A group followed by a quantifier that allows zero is not in every match.
        let optional = matches!(group.as_bytes().get(end), Some(b'?' | b'*'))
            || group[end..].starts_with("{0");
        let Some(inner) = group[..end - 1].strip_prefix("(?:") else {
            return false;
        };
        !optional
            && top_level_branches(inner).iter().all(|branch| {
                let branch = branch.to_ascii_lowercase();
                words
                    .iter()
                    .any(|w| branch.contains(&w.to_ascii_lowercase()))
            })
    })
}

/// The end (one past its `)`) of the group that opens `pattern`, read with escapes and
/// classes skipped.
fn group_end(pattern: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut end = None;
    walk(pattern, |i, c| match c {
        b'(' => depth += 1,
        b')' => {
            depth -= 1;
            if depth == 0 && end.is_none() {
                end = Some(i + 1);
            }
        }
        _ => {}
    });
    end
}

/// `pattern` split at the `|` outside every group.
fn top_level_branches(pattern: &str) -> Vec<&str> {
    let mut depth = 0usize;
    let mut cuts = Vec::new();
    walk(pattern, |i, c| match c {
        b'(' => depth += 1,
        b')' => depth = depth.saturating_sub(1),
        b'|' if depth == 0 => cuts.push(i),
        _ => {}
    });
    let mut branches = Vec::new();
    let mut from = 0;
    for cut in cuts {
        branches.push(&pattern[from..cut]);
        from = cut + 1;
    }
    branches.push(&pattern[from..]);
    branches
}

/// Call `seen(offset, byte)` for each byte of `pattern` that is syntax: not escaped and
/// not inside a character class.
fn walk(pattern: &str, mut seen: impl FnMut(usize, u8)) {
    let bytes = pattern.as_bytes();
    let mut i = 0;
    let mut class = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b']' if class => class = false,
            b'[' if !class => {
                class = true;
                // A `]` right after `[` or `[^` is a literal.
                if bytes.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if bytes.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            c if !class => seen(i, c),
            _ => {}
        }
        i += 1;
    }
}

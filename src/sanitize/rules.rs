//! Rules: the built-in library and user rules files, compiled and validated.
//!
//! A rule is a regular expression over bytes (Unicode off: `\w`, `\b` and `(?i)` are ASCII,
//! `.` and negated classes match any byte), the keywords that gate it, an optional entropy
//! floor and a guard against placeholders. Every rule must have a bounded maximum match
//! length, since the streaming engine holds back at most that much text; a pattern with
//! `*` or `+` is refused with a message saying to use `{m,n}`.
//!
//! Rules files are TOML and are validated like policy files: every problem names the file,
//! line and column.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, OnceLock};

use aho_corasick::AhoCorasick;

use regex_automata::dfa::{Automaton, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::primitives::StateID;
use regex_automata::util::syntax;
use regex_automata::{Input, meta};
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};
use serde::Deserialize;
use toml::Spanned;

use super::SanitizeError;
#[cfg(test)]
use super::analysis::analyze;
use super::analysis::{after_prefix, check, check_keywords, one_line, starts_with_keyword};
use super::builtin::{BUILTIN, Builtin};
pub(crate) use super::builtin::{BlockEnd, Guard, Precheck};

pub use super::analysis::MAX_RULE_LEN;

/// The default replacement; `{id}` is replaced by the rule id.
pub const DEFAULT_REPLACEMENT: &str = "[REDACTED:{id}]";

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable id, shown in the replacement and the counts (`github-pat`).
    pub id: String,
    /// Who issues the credential (`GitHub`).
    pub provider: String,
    /// Why it is a secret, one line.
    pub reason: String,
    /// The literals that must occur inside every match (ASCII case-insensitive).
    pub keywords: Vec<String>,
    /// Minimum Shannon entropy (bits per byte) of the redacted value, when set.
    pub entropy: Option<f64>,
    /// The pattern as written.
    pub pattern: String,
    /// Whether the rule ships with mycelium.
    pub builtin: bool,
    /// The compiled pattern: built at the rule's first use for a built-in rule (most
    /// output never contains most rules' keywords, and compiling every rule was nearly all
    /// of a start-up), at load for a user's rule (whose errors must show then).
    pub(crate) compiled: Compiled,
    pub(crate) max_len: usize,
    pub(crate) guard: Guard,
    pub(crate) block: Option<BlockEnd>,
    /// A byte every match contains.
    pub(crate) needs: Option<u8>,
    /// A generic `key = value` assignment (see `Builtin::assignment`): a hit needs a
    /// separator after its key or before it.
    pub(crate) assignment: bool,
    /// For an assignment rule, every key name it accepts, lower-case (`password`,
    /// `secret_key`, …); empty when the names are not a small finite set. For a
    /// [`Precheck::Flag`] rule, its flag names.
    pub(crate) names: Vec<Vec<u8>>,
    /// Another necessary condition for a hit to lie in a match (see [`Precheck`]).
    pub(crate) precheck: Option<Precheck>,
    /// The pattern ends with `end_b64!()`, which takes the byte after a token: it is not
    /// redacted.
    pub(crate) ends_with_boundary: bool,
    /// Line breaks a match may cross after its keyword's line (0: one line).
    pub(crate) lines_after: usize,
    /// Line breaks a match may cross before its keyword's line; its secret starts at or
    /// after the keyword.
    pub(crate) lines_before: usize,
    /// Every match starts with a keyword: searched anchored at the hit.
    pub(crate) anchored: bool,
}

/// A rule's pattern, compiled at its first use; clones share the compiled form.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pattern: Arc<str>,
    /// Whether it is an assignment rule (its value part is compiled apart too).
    assignment: bool,
    /// For a rule over several lines: what the line of its keyword must hold.
    first_line: Option<&'static str>,
    /// For a [`Precheck::Named`] rule, its openers.
    openers: Option<&'static [&'static str]>,
    cell: Arc<OnceLock<Built>>,
    /// The `first_line` pattern and the openers' DFA, each compiled apart when first used:
    /// they settle most hits, and the whole pattern is then never compiled.
    first_line_cell: Arc<OnceLock<Option<meta::Regex>>>,
    opener_cell: Arc<OnceLock<Option<Opener>>>,
}

/// What compiling a rule's pattern gives.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) regex: meta::Regex,
    /// Capture groups whose span is the secret, with whether the value was quoted.
    pub(crate) secret_groups: Vec<(usize, bool)>,
    /// For an assignment rule: the pattern after its key names (`sep!()` and the value),
    /// compiled on its own with its secret groups. A match's key ends at the first non-key
    /// byte after its first byte, so the value's groups can be found by this small regex
    /// from there instead of the whole one (whose capture search costs far more).
    pub(crate) value: Option<AssignmentTail>,
}

/// The reverse DFA of a [`Precheck::Named`] rule's openers then name bytes, and its start
/// state for a search that ends before a word byte (a keyword's first byte).
#[derive(Debug)]
pub(crate) struct Opener {
    dfa: dense::DFA<Vec<u32>>,
    start_before_word: StateID,
    /// The state one name byte leads to from the start, and the bytes that lead there
    /// from the start and stay there (the name bytes an opener cannot end with): a run of
    /// them is skipped by a table lookup per byte instead of a DFA step.
    run: Option<(StateID, Box<[bool; 256]>)>,
}

impl Opener {
    /// Whether `hay[range]` ends with an opener then name bytes. The DFA is stepped
    /// here rather than by `try_search_rev`, whose set-up per search cost more than the
    /// few bytes a search reads (a hit is checked for every secret-name keyword).
    pub(crate) fn ends_here(&self, hay: &[u8], range: Range<usize>) -> bool {
        let dfa = &self.dfa;
        let mut state = match hay.get(range.end) {
            Some(&b) if is_word_byte(b) => self.start_before_word,
            _ => return self.search(hay, range),
        };
        let mut end = range.end;
        if let Some((run_state, bytes)) = &self.run {
            let skipped = hay[range.clone()]
                .iter()
                .rev()
                .take_while(|&&b| bytes[usize::from(b)])
                .count();
            if skipped > 0 {
                state = *run_state;
                end -= skipped;
            }
        }
        for &b in hay[range.start..end].iter().rev() {
            state = dfa.next_state(state, b);
            if dfa.is_special_state(state) {
                if dfa.is_match_state(state) {
                    return true;
                }
                if dfa.is_dead_state(state) {
                    return false;
                }
            }
        }
        // The byte before the range, for look-around; none at the haystack's start.
        state = match range.start.checked_sub(1) {
            Some(i) => dfa.next_state(state, hay[i]),
            None => dfa.next_eoi_state(state),
        };
        dfa.is_match_state(state)
    }

    /// [`Opener::ends_here`] by the crate's own reverse search.
    fn search(&self, hay: &[u8], range: Range<usize>) -> bool {
        let input = Input::new(hay)
            .range(range)
            .anchored(regex_automata::Anchored::Yes)
            .earliest(true);
        // A quit or gave-up error cannot happen (no quit bytes, no heuristic Unicode word
        // boundary); should one, the hit is kept.
        self.dfa
            .try_search_rev(&input)
            .map_or(true, |m| m.is_some())
    }
}

impl Compiled {
    /// A pattern checked by [`check`], compiled when first used.
    fn lazy(
        pattern: &str,
        assignment: bool,
        first_line: Option<&'static str>,
        openers: Option<&'static [&'static str]>,
    ) -> Compiled {
        Compiled {
            pattern: pattern.into(),
            assignment,
            first_line,
            openers,
            cell: Arc::new(OnceLock::new()),
            first_line_cell: Arc::new(OnceLock::new()),
            opener_cell: Arc::new(OnceLock::new()),
        }
    }

    /// A pattern compiled now.
    fn now(pattern: &str, assignment: bool) -> Result<Compiled, String> {
        let c = Compiled::lazy(pattern, assignment, None, None);
        let built = c.build()?;
        let _ = c.cell.set(built);
        Ok(c)
    }

    fn build(&self) -> Result<Built, String> {
        let (regex, secret_groups) = build(&self.pattern)?;
        let value = if self.assignment {
            compile_value(&self.pattern)?
        } else {
            None
        };
        Ok(Built {
            regex,
            secret_groups,
            value,
        })
    }

    /// The `first_line` pattern, compiled.
    fn build_first_line(&self) -> Result<Option<meta::Regex>, String> {
        self.first_line.map(|p| Ok(build(p)?.0)).transpose()
    }

    /// The openers' DFA, built.
    fn build_opener(&self) -> Result<Option<Opener>, String> {
        self.openers.map(build_opener).transpose()
    }

    /// For a rule over several lines (see `Builtin::first_line`): what is found in the
    /// keyword's line, from the window's start, whenever a match is.
    pub(crate) fn first_line(&self) -> Option<&meta::Regex> {
        self.first_line_cell
            .get_or_init(|| {
                #[expect(
                    clippy::expect_used,
                    reason = "built-in patterns only, each compiled by the test suite (`every_builtin_rule_compiles`)"
                )]
                self.build_first_line()
                    .expect("a built-in rule's first-line pattern compiles")
            })
            .as_ref()
    }

    /// For a [`Precheck::Named`] rule: whether the text of `hay[range]` ends with an
    /// opener then name bytes, i.e. whether a hit starting at `range.end` may lie in a
    /// secret name after one of its openers (look-around sees past the range, as the
    /// rule's own search does). Always for other rules.
    pub(crate) fn is_anchor(&self, hay: &[u8], range: Range<usize>) -> bool {
        self.opener_cell
            .get_or_init(|| {
                #[expect(
                    clippy::expect_used,
                    reason = "built-in openers only, each built by the test suite (`every_builtin_rule_compiles`)"
                )]
                self.build_opener().expect("a built-in rule's openers compile")
            })
            .as_ref()
            .is_none_or(|opener| opener.ends_here(hay, range))
    }

    /// For a [`Precheck::Named`] rule, its openers.
    pub(crate) fn openers(&self) -> Option<&'static [&'static str]> {
        self.openers
    }

    /// The compiled pattern.
    pub(crate) fn get(&self) -> &Built {
        self.cell.get_or_init(|| {
            #[expect(
                clippy::expect_used,
                reason = "built-in patterns are compiled lazily only after `check` accepted them, and the test suite compiles every one (`every_builtin_rule_compiles`)"
            )]
            self.build().expect("a built-in rule's pattern compiles")
        })
    }

    /// Whether it has been compiled.
    #[cfg(test)]
    pub(crate) fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }

    /// The openers' DFA, if built.
    #[cfg(test)]
    pub(crate) fn opener(&self) -> Option<&Opener> {
        self.opener_cell.get().and_then(Option::as_ref)
    }
}

/// The part of an assignment pattern after its key names: `sep!()` and the value
/// (`value!()`: double-quoted, single-quoted or bare), compiled apart.
#[derive(Debug, Clone)]
pub(crate) struct AssignmentTail {
    pub(crate) sep: meta::Regex,
    pub(crate) value: meta::Regex,
    /// The value's secret groups, as in [`Rule`].
    pub(crate) groups: Vec<(usize, bool)>,
}

/// The separator and value of an assignment pattern, each compiled alone (see
/// `Rule::value`), with `(?i)` as in the whole pattern. Neither part has look-around, so run
/// anchored where the key ends they find what the whole pattern would.
fn compile_value(pattern: &str) -> Result<Option<AssignmentTail>, String> {
    let Some(value) = after_prefix(pattern, super::builtin::key_prefix!())
        .and_then(|(_, rest)| rest.strip_prefix(super::builtin::sep!()))
    else {
        return Ok(None);
    };
    let (sep, _) = build(concat!("(?i)", super::builtin::sep!()))?;
    let (value, groups) = build(&format!("(?i){value}"))?;
    Ok(Some(AssignmentTail { sep, value, groups }))
}

/// The reverse DFA of [`Built::opener`]: any of `openers`, then name bytes, with the
/// syntax the rules' patterns are compiled with (ASCII, case-insensitive as `(?i)`).
pub(crate) fn build_opener(openers: &[&str]) -> Result<Opener, String> {
    let pattern = format!("(?:{}){}*", openers.join("|"), super::builtin::NAME_BYTES);
    let dfa = dense::Builder::new()
        .configure(dense::Config::new().start_kind(regex_automata::dfa::StartKind::Anchored))
        .syntax(
            syntax::Config::new()
                .unicode(false)
                .utf8(false)
                .case_insensitive(true)
                .multi_line(true)
                .crlf(true),
        )
        .thompson(thompson::Config::new().reverse(true).utf8(false))
        .build(&pattern)
        .map_err(|e| format!("invalid opener {pattern:?}: {}", one_line(&e.to_string())))?;
    let start_before_word = dfa
        .start_state(
            &regex_automata::util::start::Config::new()
                .anchored(regex_automata::Anchored::Yes)
                .look_behind(Some(b'a')),
        )
        .map_err(|e| format!("opener {pattern:?}: {e}"))?;
    let after_one = dfa.next_state(start_before_word, b'a');
    let mut bytes = Box::new([false; 256]);
    if !dfa.is_special_state(after_one) {
        for c in 0..=u8::MAX {
            bytes[usize::from(c)] = dfa.next_state(start_before_word, c) == after_one
                && dfa.next_state(after_one, c) == after_one;
        }
    }
    Ok(Opener {
        run: bytes[usize::from(b'a')].then_some((after_one, bytes)),
        dfa,
        start_before_word,
    })
}

/// A byte `\b` counts as a word byte (ASCII: `[A-Za-z0-9_]`).
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A repetition with an upper bound above this is compiled without it (see [`build`]).
pub(crate) const LONGEST_COUNTED_REPETITION: u32 = 256;

/// Compile a pattern: the regex and its secret groups (named `secret…`).
///
/// A repetition bounded above [`LONGEST_COUNTED_REPETITION`] (`[A-Za-z0-9+/]{40,4096}`)
/// is compiled unbounded (`{40,}`): a counted repetition becomes one automaton state per
/// count, and the long ones made up most of the time a start spends compiling. The
/// pattern's longest match is still worked out from the bounds as written, and every
/// search of a rule runs in a window no longer than that around its keyword, so a match
/// can only grow, within the window, where the bound would have cut it short — which
/// redacts the rest of an over-long value instead of letting it out.
fn build(pattern: &str) -> Result<(meta::Regex, Vec<(usize, bool)>), String> {
    let config = syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .multi_line(true)
        .crlf(true);
    let hir = syntax::parse_with(pattern, &config)
        .map_err(|e| format!("invalid regex: {}", one_line(&e.to_string())))?;
    let regex = meta::Regex::builder()
        .configure(meta::Config::new().utf8_empty(false))
        .build_from_hir(&unbound_long_repetitions(&hir))
        .map_err(|e| format!("invalid regex: {}", one_line(&e.to_string())))?;
    let mut secret_groups = Vec::new();
    for (index, name) in regex
        .group_info()
        .pattern_names(regex_automata::PatternID::ZERO)
        .enumerate()
    {
        if let Some(name) = name
            && name.starts_with("secret")
        {
            secret_groups.push((index, name != "secret"));
        }
    }
    Ok((regex, secret_groups))
}

/// `hir` with every repetition bounded above [`LONGEST_COUNTED_REPETITION`] unbounded.
fn unbound_long_repetitions(hir: &Hir) -> Hir {
    let all = |subs: &[Hir]| {
        subs.iter()
            .map(unbound_long_repetitions)
            .collect::<Vec<_>>()
    };
    match hir.kind() {
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            max: rep.max.filter(|&max| max <= LONGEST_COUNTED_REPETITION),
            sub: Box::new(unbound_long_repetitions(&rep.sub)),
            ..*rep
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(unbound_long_repetitions(&cap.sub)),
        }),
        HirKind::Concat(subs) => Hir::concat(all(subs)),
        HirKind::Alternation(subs) => Hir::alternation(all(subs)),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => hir.clone(),
    }
}

fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "rule id {id:?} must be 1-64 characters of a-z, 0-9, '-', '_' and '.'"
        ))
    }
}

/// One built-in rule's [`analyze`] result, worked out by the build script
/// (`build.rs`) and kept in [`BUILTIN_FACTS`].
#[derive(Debug)]
struct StaticFacts {
    /// The rule's id, to catch a table that does not belong to this `BUILTIN`.
    id: &'static str,
    /// The longest match and the key or flag names, or why the rule is invalid.
    analysis: Result<(usize, bool, &'static [&'static [u8]]), &'static str>,
}

/// What [`RuleSet::builtin`] says when [`BUILTIN_FACTS`] does not match [`BUILTIN`].
const STALE_FACTS: &str =
    "the build script's table of rule facts does not match the rules (rebuild with cargo)";

// `BUILTIN_FACTS: &[StaticFacts]`, one per `BUILTIN` entry in order: the build script
// runs `analysis::analyze` on each, so a start parses no built-in pattern.
include!(concat!(env!("OUT_DIR"), "/builtin_facts.rs"));

impl Rule {
    /// A built-in rule, its pattern analysed now (the tests' path; a start reads the
    /// analysis from [`BUILTIN_FACTS`]).
    #[cfg(test)]
    fn from_builtin(b: &Builtin) -> Result<Self, SanitizeError> {
        let facts = analyze(b).map_err(|message| SanitizeError::BadBuiltin {
            id: b.id.to_owned(),
            message,
        })?;
        Ok(Self::with_facts(
            b,
            facts.max_len,
            facts.anchored,
            facts.names,
        ))
    }

    /// A built-in rule from its entry in [`BUILTIN_FACTS`].
    fn from_table(b: &Builtin, facts: &StaticFacts) -> Result<Self, SanitizeError> {
        let bad = |message: &str| SanitizeError::BadBuiltin {
            id: b.id.to_owned(),
            message: message.to_owned(),
        };
        if facts.id != b.id {
            return Err(bad(STALE_FACTS));
        }
        let (max_len, anchored, names) = facts.analysis.map_err(bad)?;
        let names = names.iter().map(|n| n.to_vec()).collect();
        Ok(Self::with_facts(b, max_len, anchored, names))
    }

    /// A built-in rule whose pattern [`analyze`] accepted with these results.
    fn with_facts(b: &Builtin, max_len: usize, anchored: bool, names: Vec<Vec<u8>>) -> Self {
        let keywords: Vec<String> = b.keywords.iter().map(|k| (*k).to_owned()).collect();
        Self {
            id: b.id.to_owned(),
            provider: b.provider.to_owned(),
            reason: b.reason.to_owned(),
            entropy: b.entropy.filter(|e| *e > 0.0),
            pattern: b.pattern.to_owned(),
            builtin: true,
            compiled: Compiled::lazy(
                b.pattern,
                b.assignment,
                b.first_line,
                match b.precheck {
                    Some(Precheck::Named(openers)) => Some(openers),
                    _ => None,
                },
            ),
            max_len,
            guard: b.guard,
            block: b.block,
            needs: b.needs,
            assignment: b.assignment,
            names,
            precheck: b.precheck,
            ends_with_boundary: b.pattern.ends_with(super::builtin::end_b64!()),
            lines_after: usize::from(b.lines_after),
            lines_before: usize::from(b.lines_before),
            anchored,
            keywords,
        }
    }

    /// Whether every match starts with a keyword (searched anchored at the hit); known once
    /// the rule is compiled, which this does.
    pub(crate) fn anchored(&self) -> bool {
        self.anchored
    }

    /// Whether this rule redacts a multi-line block (a private key) rather than one match.
    #[must_use]
    pub fn is_block(&self) -> bool {
        self.block.is_some()
    }
}

/// A set of rules and the replacement template: the built-ins, minus any disabled, plus
/// user rules.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    replacement: String,
}

/// A rules file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    replacement: Option<Spanned<String>>,
    #[serde(default)]
    disable: Vec<Spanned<String>>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    provider: Option<String>,
    regex: Spanned<String>,
    keywords: Spanned<Vec<String>>,
    entropy: Option<Spanned<f64>>,
    reason: Option<String>,
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

impl RuleSet {
    /// Every built-in rule and the default replacement.
    ///
    /// # Errors
    ///
    /// [`SanitizeError::BadBuiltin`] if a built-in rule does not compile (a bug, caught by
    /// the test suite).
    pub fn builtin() -> Result<Self, SanitizeError> {
        if BUILTIN_FACTS.len() != BUILTIN.len() {
            return Err(SanitizeError::BadBuiltin {
                id: "*".to_owned(),
                message: STALE_FACTS.to_owned(),
            });
        }
        let rules = BUILTIN
            .iter()
            .zip(BUILTIN_FACTS)
            .map(|(b, facts)| Rule::from_table(b, facts))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rules,
            replacement: DEFAULT_REPLACEMENT.to_owned(),
        })
    }

    /// No rules at all (literals only, or user rules only).
    #[must_use]
    pub fn empty() -> Self {
        Self {
            rules: Vec::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
        }
    }

    /// The rules, in order.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The replacement template (`{id}` stands for the rule id).
    #[must_use]
    pub fn replacement(&self) -> &str {
        &self.replacement
    }

    /// Set the replacement template; `{id}` stands for the rule id.
    pub fn set_replacement(&mut self, template: impl Into<String>) {
        self.replacement = template.into();
    }

    /// Remove a rule by id.
    ///
    /// # Errors
    ///
    /// [`SanitizeError::UnknownRule`] when no rule has that id.
    pub fn disable(&mut self, id: &str) -> Result<(), SanitizeError> {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        if self.rules.len() == before {
            return Err(SanitizeError::UnknownRule { id: id.to_owned() });
        }
        Ok(())
    }

    /// Read a rules file and apply it: `disable`, `replacement`, then each `[[rule]]`.
    ///
    /// # Errors
    ///
    /// [`SanitizeError::ReadRules`] when the file cannot be read,
    /// [`SanitizeError::RulesFile`] (with line and column) when it is invalid. Nothing is
    /// changed when an error is returned.
    pub fn load_file(&mut self, path: &Path) -> Result<(), SanitizeError> {
        let text = std::fs::read_to_string(path).map_err(|source| SanitizeError::ReadRules {
            path: path.to_owned(),
            source,
        })?;
        self.load_str(&text, path)
    }

    /// [`RuleSet::load_file`] on text already read; `path` is only used in messages.
    ///
    /// # Errors
    ///
    /// [`SanitizeError::RulesFile`] when the text is not a valid rules file.
    pub fn load_str(&mut self, text: &str, path: &Path) -> Result<(), SanitizeError> {
        let fail = |span: Option<Range<usize>>, message: String| {
            let (line, column) = span.map_or((1, 1), |s| line_col(text, s.start));
            SanitizeError::RulesFile {
                path: PathBuf::from(path),
                line,
                column,
                message,
            }
        };
        let raw: RawFile =
            toml::from_str(text).map_err(|e| fail(e.span(), one_line(e.message())))?;
        let mut next = self.clone();
        for id in &raw.disable {
            next.disable(id.get_ref()).map_err(|_| {
                fail(
                    Some(id.span()),
                    format!("disable: no rule has id {:?}", id.get_ref()),
                )
            })?;
        }
        if let Some(rep) = &raw.replacement {
            next.replacement = rep.get_ref().clone();
        }
        let mut ids: HashSet<String> = next.rules.iter().map(|r| r.id.clone()).collect();
        for r in raw.rule {
            let id = r.id.get_ref();
            check_id(id).map_err(|m| fail(Some(r.id.span()), m))?;
            if !ids.insert(id.clone()) {
                return Err(fail(
                    Some(r.id.span()),
                    format!(
                        "duplicate rule id {id:?} (to replace a built-in rule, disable it first)"
                    ),
                ));
            }
            let max_len = check(r.regex.get_ref()).map_err(|m| fail(Some(r.regex.span()), m))?;
            let compiled = Compiled::now(r.regex.get_ref(), false)
                .map_err(|m| fail(Some(r.regex.span()), m))?;
            check_keywords(r.keywords.get_ref()).map_err(|m| fail(Some(r.keywords.span()), m))?;
            let entropy = match &r.entropy {
                Some(e) if !(0.0..=8.0).contains(e.get_ref()) => {
                    return Err(fail(
                        Some(e.span()),
                        "entropy is in bits per byte, between 0 and 8".to_owned(),
                    ));
                }
                Some(e) => Some(*e.get_ref()).filter(|v| *v > 0.0),
                None => None,
            };
            let anchored = starts_with_keyword(r.regex.get_ref(), r.keywords.get_ref());
            next.rules.push(Rule {
                anchored,
                needs: None,
                assignment: false,
                names: Vec::new(),
                precheck: None,
                ends_with_boundary: false,
                lines_after: 0,
                lines_before: 0,
                id: id.clone(),
                provider: r.provider.unwrap_or_else(|| "user".to_owned()),
                reason: r.reason.unwrap_or_default(),
                keywords: r.keywords.into_inner(),
                entropy,
                pattern: r.regex.into_inner(),
                builtin: false,
                compiled,
                max_len,
                guard: Guard::Token,
                block: None,
            });
        }
        *self = next;
        Ok(())
    }
}

/// Shannon entropy of a byte string, in bits per byte.
#[must_use]
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    #[expect(clippy::cast_precision_loss, reason = "lengths are far below 2^52")]
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Values that documentation and templates use in place of a real secret.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "changeit",
    "change_me",
    "change-me",
    "password",
    "passwd",
    "secret",
    "token",
    "example",
    "sample",
    "dummy",
    "test",
    "testing",
    "placeholder",
    "redacted",
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "empty",
    "notset",
    "not_set",
    "unset",
    "todo",
    "fixme",
    "foobar",
    "string",
    "value",
    "default",
    "required",
    "optional",
    "hidden",
    "masked",
];

/// Substrings that mark a value as a placeholder wherever they appear in it.
const PLACEHOLDER_PARTS: &[&str] = &[
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "changeme",
    "xxxxxxxx",
    "redacted",
    "****",
    "....",
    "<",
    ">",
    "${",
    "#{",
    "{{",
    "}}",
    "%(",
    "process.env",
    "os.environ",
    "secrets.",
    "getenv",
    "lorem",
    "dummy",
    "sample",
    "insert_",
    "insert-",
    "replace_me",
    "replace-me",
    "-here",
    "_here",
    "unique phrase",
];

/// Whether any of [`PLACEHOLDER_PARTS`] occurs in `text`: one automaton pass instead of a
/// substring search per part (this runs for every candidate a generic rule finds).
fn has_placeholder_part(text: &str) -> bool {
    static PARTS: LazyLock<Option<AhoCorasick>> =
        LazyLock::new(|| AhoCorasick::new(PLACEHOLDER_PARTS).ok());
    match &*PARTS {
        Some(parts) => parts.is_match(text),
        None => PLACEHOLDER_PARTS.iter().any(|p| text.contains(p)),
    }
}

/// Schemes that name a secret kept in a secret store instead of holding it.
const SECRET_REFERENCES: &[&str] = &[
    "vault:",
    "op://",
    "ref+",
    "sm://",
    "gcpsm://",
    "awssm:",
    "azurekv:",
    "keyvault:",
    "secretref:",
];

/// Whether `name` holds upper- and lower-case letters and digits, as random text does and
/// variable names (`DB_PASS`, `dbPassword`, `db_pass2`) rarely do.
fn is_mixed(name: &[u8]) -> bool {
    name.iter().any(u8::is_ascii_uppercase)
        && name.iter().any(u8::is_ascii_lowercase)
        && name.iter().any(u8::is_ascii_digit)
}

/// Whether `value` is a documentation placeholder rather than a credential.
pub(crate) fn is_placeholder(value: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    let Ok(text) = std::str::from_utf8(&lower) else {
        return false;
    };
    if PLACEHOLDER_WORDS.contains(&text) || has_placeholder_part(text) {
        return true;
    }
    // A shell or template variable: $NAME, $(cmd), %NAME%. A name mixes upper- and
    // lower-case letters with digits only by chance: `$Xk3Rv9Tq2LmZ8w` is a literal
    // that happens to start with `$`.
    if let Some(rest) = value.strip_prefix(b"$")
        && (rest.starts_with(b"(") || (rest.iter().all(|&b| is_word_byte(b)) && !is_mixed(rest)))
    {
        return true;
    }
    // A file the secret is read from (`"/run/secrets/db"`, `PWD="/work/main"`): lower-case
    // path segments, where random text mixes cases and digits.
    if (value.starts_with(b"/") || value.starts_with(b"./") || value.starts_with(b"~/"))
        && value.iter().filter(|&&b| b == b'/').count() >= 2
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_./-~".contains(b))
        && value.split(|&b| b == b'/').all(|seg| !is_mixed(seg))
    {
        return true;
    }
    // The same on Windows: `C:\Users\ci\build`.
    if value.len() > 3
        && value[0].is_ascii_alphabetic()
        && value[1..].starts_with(b":\\")
        && value[3..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-\\ ".contains(b))
        && value[3..].split(|&b| b == b'\\').all(|seg| !is_mixed(seg))
    {
        return true;
    }
    // A Go pointer printed for a field (`Password:0xc00001a2b0`), not its value.
    if let Some(hex) = text.strip_prefix("0x")
        && (6..=12).contains(&hex.len())
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return true;
    }
    // A reference to a secret kept elsewhere (`vault:secret/data/app#password`,
    // `op://vault/item/field`), resolved at run time.
    if SECRET_REFERENCES.iter().any(|r| text.starts_with(r)) {
        return true;
    }
    if text.len() > 2 && text.starts_with('%') && text.ends_with('%') {
        return true;
    }
    // An AWS ARN names a secret (`arn:aws:secretsmanager:…:secret:prod/db-Xk3Rv9`); it is
    // not one.
    if text.starts_with("arn:aws") {
        return true;
    }
    // Usage text's optional argument: `-p[password]`, `[TOKEN]`.
    if text.len() > 2 && text.starts_with('[') && text.ends_with(']') {
        return true;
    }
    // One character repeated (aaaaaaaa, 00000000).
    value.iter().all(|&b| b == value[0])
}

/// Whether an unquoted value reads as code, a name or a word rather than a secret: a bare
/// word of lower-case letters (`getpass`, `incorrect`), one capitalised or upper-case word
/// (`Permission` in `cat: /etc/passwd: Permission denied`, `NONE`), an UPPER_SNAKE
/// constant, or a dotted path (`config.db.password`).
pub(crate) fn looks_like_code(value: &[u8]) -> bool {
    // Prose punctuation after a word (`option.`, `PASSWORD,`, `prompt):`, a hyphen that
    // breaks a line in a manual page) is not part of it.
    let trimmed = value
        .iter()
        .rposition(u8::is_ascii_alphanumeric)
        .map_or(&value[..0], |i| &value[..=i]);
    if trimmed.len() < value.len() && !trimmed.is_empty() && looks_like_code(trimmed) {
        return true;
    }
    // A path, not a password: `/usr/bin/systemctl`, `./keys/id_rsa`, `~/.ssh/id_ed25519`.
    let path = (value.starts_with(b"/") || value.starts_with(b"./") || value.starts_with(b"~/"))
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(b));
    // Colon-separated names (`uid:gid:gecos:dir:shell`): a format, not a value.
    let fields = value.contains(&b':')
        && value
            .split(|&b| b == b':')
            .all(|p| !p.is_empty() && !p.contains(&b':') && looks_like_code(p));
    // Words joined by hyphens or underscores (`Windows-Integrated`).
    let words = value.iter().any(|b| b"-_".contains(b))
        && value.split(|b| b"-_".contains(b)).all(|p| {
            !p.is_empty()
                && p.iter().all(u8::is_ascii_alphabetic)
                && (p[1..].iter().all(u8::is_ascii_lowercase)
                    || p[1..].iter().all(u8::is_ascii_uppercase))
        });
    // A mount or secret spec (`id=npmrc,src=/home/ci/.npmrc`, BuildKit's `--secret`):
    // comma-separated `name=value` items, the first an `id` or `type`.
    let spec = (value.starts_with(b"id=") || value.starts_with(b"type="))
        && value.split(|&b| b == b',').all(|item| {
            item.iter()
                .position(|&b| b == b'=')
                .is_some_and(|eq| eq > 0 && item[..eq].iter().all(u8::is_ascii_lowercase))
        });
    // Another option of a usage line (`KMS_KEY : --kms-keyring=KMS_KEYRING`).
    let flag = value.starts_with(b"--") && value.get(2).is_some_and(u8::is_ascii_alphabetic);
    if path || fields || words || spec || flag || go_field(value) {
        return true;
    }
    let ident = |s: &[u8]| {
        !s.is_empty()
            && (s[0].is_ascii_alphabetic() || s[0] == b'_')
            && s.iter().all(|&b| is_word_byte(b))
    };
    let lower_word = value
        .iter()
        .all(|b| b.is_ascii_lowercase() || *b == b'_' || *b == b'-');
    let word = value.first().is_some_and(u8::is_ascii_uppercase)
        && (value[1..].iter().all(u8::is_ascii_lowercase)
            || value[1..].iter().all(u8::is_ascii_uppercase));
    let upper_const = value.contains(&b'_')
        && value
            .iter()
            .all(|b| b.is_ascii_uppercase() || *b == b'_' || b.is_ascii_digit());
    // Digits are rare in code paths and near-certain in a long random token.
    let dotted = value.contains(&b'.')
        && !value.iter().any(u8::is_ascii_digit)
        && value.split(|&b| b == b'.').all(ident);
    // A call, or the end of one (`authkey=self._authkey)` in a call's arguments).
    let call = value.contains(&b'(') || value.contains(&b'[') || value.ends_with(b")");
    lower_word || word || upper_const || dotted || call
}

/// Whether `value` is the next field of a Go `%+v` struct after an empty one
/// (`Password: SSLMode:disable}`): a capitalised field name, `:`, then a value that reads
/// as code, a number, or nothing.
fn go_field(value: &[u8]) -> bool {
    let value = value.strip_suffix(b"}").unwrap_or(value);
    let Some(colon) = value.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, rest) = (&value[..colon], &value[colon + 1..]);
    name.first().is_some_and(u8::is_ascii_uppercase)
        && name.iter().all(u8::is_ascii_alphanumeric)
        && (rest.is_empty() || rest.iter().all(u8::is_ascii_digit) || looks_like_code(rest))
}

#[cfg(test)]
#[path = "rules_tests.rs"]
pub(crate) mod tests;

//! The compiled sanitizer: one Aho-Corasick automaton over every rule keyword and every
//! literal variant, the rules' regexes, and the replacement text per rule.
//!
//! Like ripgrep's matcher, literals come first: the automaton scans every byte once, and a
//! rule's regex only runs in a bounded window around a hit of one of its keywords. Clean
//! text therefore costs one automaton pass and a copy. The engine is immutable and shared
//! (`Arc`) by every [`SanitizeStream`] of a run.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::SanitizeError;
use super::analysis::group_literals;
use super::literal::{MIN_LITERAL_LEN, variants};
use super::rules::{Opener, Rule, RuleSet, build_opener};
use super::scan::KeywordScanner;
use super::stream::SanitizeStream;

/// What an automaton pattern stands for.
#[derive(Debug)]
pub(crate) enum Target {
    /// A keyword: the rules (indices) it gates.
    Keyword(Vec<usize>),
    /// A literal variant: its bytes (matched exactly; the automaton folds ASCII case) and
    /// its label index.
    Literal(usize),
}

/// The compiled, shared part of a sanitizer.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) scanner: KeywordScanner,
    pub(crate) targets: Vec<Target>,
    pub(crate) rules: Vec<Rule>,
    /// Literal variants, by automaton pattern index (empty for keywords).
    pub(crate) literal_bytes: Vec<Vec<u8>>,
    /// Every literal variant with its label, for the partial-match check at the tail.
    pub(crate) literals: Vec<(Vec<u8>, usize)>,
    /// Ids: rules first, then literal names.
    pub(crate) labels: Vec<String>,
    pub(crate) replacements: Vec<Vec<u8>>,
    /// Longest automaton pattern.
    pub(crate) max_pattern_len: usize,
    /// Longest match of any rule.
    pub(crate) max_rule_len: usize,
    /// Longest literal variant.
    pub(crate) max_literal_len: usize,
    /// Longest match of a rule that may start on a line before its keyword's: how much
    /// already emitted text a stream keeps for such a rule's search.
    pub(crate) max_lookback: usize,
    /// Per rule: for an assignment rule, literals one of which ends every key name its
    /// pattern accepts (see [`key_name_ends`]); empty otherwise or when unknown.
    pub(crate) key_ends: Vec<Vec<Vec<u8>>>,
    /// Every [`Precheck::Named`](super::rules::Precheck::Named) rule's openers at once.
    pub(crate) named: NamedAnchors,
}

/// The openers of every secret-name rule in one reverse DFA, built at its first use. A
/// hit of a secret-name keyword is checked against it once: when no opener of any of
/// them ends before the hit, the hit is no anchor of any of them, and their own DFAs are
/// not walked (most such hits, in prose and in code, are none).
#[derive(Debug, Default)]
pub(crate) struct NamedAnchors {
    openers: Vec<&'static str>,
    /// The longest match of any of the rules.
    pub(crate) max_len: usize,
    cell: OnceLock<Option<Opener>>,
}

impl NamedAnchors {
    /// The openers of `rules`' secret-name rules.
    pub(crate) fn new(rules: &[Rule]) -> NamedAnchors {
        let mut named = NamedAnchors::default();
        for rule in rules {
            if let Some(openers) = rule.compiled.openers() {
                named.openers.extend_from_slice(openers);
                named.max_len = named.max_len.max(rule.max_len);
            }
        }
        named
    }

    /// Whether some rule's opener then name bytes end `hay[range]`: `false` answers for
    /// each rule's [`Compiled::is_anchor`](super::rules::Compiled::is_anchor) over the
    /// same range or a shorter one ending where it does.
    pub(crate) fn may_anchor(&self, hay: &[u8], range: Range<usize>) -> bool {
        self.cell
            .get_or_init(|| {
                #[expect(
                    clippy::expect_used,
                    reason = "built-in openers only, and the test suite builds their union (`every_builtin_rule_compiles`)"
                )]
                (!self.openers.is_empty())
                    .then(|| build_opener(&self.openers).expect("the built-in openers compile"))
            })
            .as_ref()
            .is_none_or(|opener| opener.ends_here(hay, range))
    }
}

/// For an assignment pattern (`key_prefix!()`, a group of names closed by the first `)`,
/// then the separator): a finite set of literals, lower-case, such that every string the
/// names group matches ends with one of them, ASCII case folded (`password` for
/// `[A-Za-z0-9]{0,30}password`); empty when there is no such set. The group is parsed
/// case-sensitively and compared folded, which only widens the set of keys let through.
pub(crate) fn key_name_ends(pattern: &str) -> Vec<Vec<u8>> {
    let Some(seq) = group_literals(
        pattern,
        super::builtin::key_prefix!(),
        regex_syntax::hir::literal::ExtractKind::Suffix,
    ) else {
        return Vec::new();
    };
    match seq.literals() {
        // An empty literal would let every key through: no better than no check.
        Some(literals) if literals.iter().all(|l| !l.as_bytes().is_empty()) => literals
            .iter()
            .map(|l| l.as_bytes().to_ascii_lowercase())
            .collect(),
        _ => Vec::new(),
    }
}

/// Builds an [`OutputSanitizer`] from rules and literals.
#[derive(Debug)]
pub struct SanitizerBuilder {
    rules: RuleSet,
    literals: Vec<(String, Vec<u8>)>,
    skipped: Vec<String>,
}

impl SanitizerBuilder {
    /// Start from a rule set (use [`RuleSet::builtin`] for the defaults).
    #[must_use]
    pub fn new(rules: RuleSet) -> Self {
        Self {
            rules,
            literals: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Redact `value` wherever it appears (also base64-, URL- or JSON-encoded), labelled
    /// `name` (for example `env:GITHUB_TOKEN`). A value shorter than
    /// [`MIN_LITERAL_LEN`] bytes is not used; its name is listed by
    /// [`SanitizerBuilder::skipped_literals`].
    pub fn literal(&mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> &mut Self {
        let name = name.into();
        let value = value.as_ref();
        if value.len() < MIN_LITERAL_LEN {
            self.skipped.push(name);
        } else {
            self.literals.push((name, value.to_vec()));
        }
        self
    }

    /// Names of literals that were too short to be used.
    #[must_use]
    pub fn skipped_literals(&self) -> &[String] {
        &self.skipped
    }

    /// Compile the automaton.
    ///
    /// # Errors
    ///
    /// [`SanitizeError::Automaton`] if the automaton cannot be built (it would exceed its
    /// size limits).
    pub fn build(&self) -> Result<OutputSanitizer, SanitizeError> {
        let rules = self.rules.rules().to_vec();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut targets: Vec<Target> = Vec::new();
        let mut literal_bytes: Vec<Vec<u8>> = Vec::new();
        let mut by_keyword: HashMap<Vec<u8>, usize> = HashMap::new();
        for (index, rule) in rules.iter().enumerate() {
            for k in &rule.keywords {
                let folded = k.as_bytes().to_ascii_lowercase();
                let pid = *by_keyword.entry(folded.clone()).or_insert_with(|| {
                    patterns.push(folded);
                    targets.push(Target::Keyword(Vec::new()));
                    literal_bytes.push(Vec::new());
                    patterns.len() - 1
                });
                if let Target::Keyword(list) = &mut targets[pid]
                    && !list.contains(&index)
                {
                    list.push(index);
                }
            }
        }
        let mut labels: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
        let mut literals = Vec::new();
        for (name, value) in &self.literals {
            let label = match labels.iter().position(|l| l == name) {
                Some(i) => i,
                None => {
                    labels.push(name.clone());
                    labels.len() - 1
                }
            };
            for v in variants(value) {
                patterns.push(v.clone());
                targets.push(Target::Literal(label));
                literal_bytes.push(v.clone());
                literals.push((v, label));
            }
        }
        let scanner = KeywordScanner::new(&patterns).map_err(SanitizeError::Automaton)?;
        let template = self.rules.replacement();
        let replacements = labels
            .iter()
            .map(|id| template.replace("{id}", id).into_bytes())
            .collect();
        let engine = Engine {
            scanner,
            targets,
            max_pattern_len: patterns.iter().map(Vec::len).max().unwrap_or(0),
            max_rule_len: rules.iter().map(|r| r.max_len).max().unwrap_or(0),
            max_literal_len: literals.iter().map(|(v, _)| v.len()).max().unwrap_or(0),
            max_lookback: rules
                .iter()
                .filter(|r| r.lines_before > 0)
                .map(|r| r.max_len)
                .max()
                .unwrap_or(0),
            named: NamedAnchors::new(&rules),
            key_ends: rules
                .iter()
                .map(|r| {
                    if r.assignment {
                        key_name_ends(&r.pattern)
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
            rules,
            literal_bytes,
            literals,
            labels,
            replacements,
        };
        Ok(OutputSanitizer {
            engine: Arc::new(engine),
        })
    }
}

/// Redacts credentials from agent output. Cheap to clone; each run takes its own
/// [`SanitizeStream`].
#[derive(Debug, Clone)]
pub struct OutputSanitizer {
    pub(crate) engine: Arc<Engine>,
}

/// The result of sanitizing a whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized {
    /// The text with every secret replaced.
    pub output: Vec<u8>,
    /// How many secrets each rule redacted.
    pub redactions: Redactions,
}

/// Redaction counts per rule id (only ids with at least one redaction), for the workflow
/// record and `--stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Redactions(pub BTreeMap<String, u64>);

impl Redactions {
    /// Total redactions.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// The count for one rule id (0 when none).
    #[must_use]
    pub fn get(&self, id: &str) -> u64 {
        self.0.get(id).copied().unwrap_or(0)
    }
}

impl OutputSanitizer {
    /// A builder starting from `rules`.
    #[must_use]
    pub fn builder(rules: RuleSet) -> SanitizerBuilder {
        SanitizerBuilder::new(rules)
    }

    /// The built-in rules and no literals.
    ///
    /// # Errors
    ///
    /// As [`RuleSet::builtin`] and [`SanitizerBuilder::build`].
    pub fn with_builtin_rules() -> Result<Self, SanitizeError> {
        SanitizerBuilder::new(RuleSet::builtin()?).build()
    }

    /// Sanitize a whole text at once. Identical to feeding it to a [`SanitizeStream`] in
    /// any chunks and finishing.
    #[must_use]
    pub fn sanitize(&self, input: &[u8]) -> Sanitized {
        let mut stream = self.stream();
        let mut output = Vec::with_capacity(input.len());
        // Chunks keep the working set in cache; the result is the same for any chunking.
        for chunk in input.chunks(64 * 1024) {
            stream.push(chunk, &mut output);
        }
        stream.finish(&mut output);
        Sanitized {
            output,
            redactions: stream.redactions(),
        }
    }

    /// A new stream for one output channel.
    #[must_use]
    pub fn stream(&self) -> SanitizeStream {
        SanitizeStream::new(Arc::clone(&self.engine))
    }

    /// A stream that settles every hit with its own search (no shared window searches,
    /// no separator pre-check): the reference the differential tests hold the engine to.
    #[cfg(test)]
    pub(crate) fn reference_stream(&self) -> SanitizeStream {
        SanitizeStream::reference(Arc::clone(&self.engine))
    }

    /// The rules in use.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.engine.rules
    }

    /// The most bytes a stream holds back at the tail of ordinary text (not counting an
    /// open private-key block or a partial literal).
    #[must_use]
    pub fn max_holdback(&self) -> usize {
        self.engine.max_rule_len + self.engine.max_pattern_len
    }
}

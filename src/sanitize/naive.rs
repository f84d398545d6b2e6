//! The naive baseline the benchmarks compare against: every rule's regex applied to the
//! whole text one after another with `replace_all`, no prefilter, no streaming.
//!
//! Only for measurement; it is not used on agent output (it cannot stream, and it
//! redacts whole matches rather than the secret part).

use regex::bytes::{Regex, RegexBuilder};

use super::rules::RuleSet;

/// Every rule as a separate `regex::bytes::Regex`.
#[derive(Debug)]
pub struct NaiveSanitizer {
    regexes: Vec<(Regex, Vec<u8>)>,
}

impl NaiveSanitizer {
    /// Compile every rule of `rules`; a block rule becomes header, anything, end marker.
    ///
    /// # Errors
    ///
    /// When a pattern does not compile with the `regex` crate.
    pub fn new(rules: &RuleSet) -> Result<Self, regex::Error> {
        let mut regexes = Vec::new();
        for rule in rules.rules() {
            let pattern = if rule.is_block() {
                format!(
                    r"(?:{})(?s:.*?)(?:-----END|---- END|Private-MAC: )[^\r\n]{{0,64}}",
                    rule.pattern
                )
            } else {
                rule.pattern.clone()
            };
            let regex = RegexBuilder::new(&pattern)
                .unicode(false)
                .multi_line(true)
                .crlf(true)
                .build()?;
            let replacement = rules.replacement().replace("{id}", &rule.id).into_bytes();
            regexes.push((regex, replacement));
        }
        Ok(Self { regexes })
    }

    /// Apply every rule in turn.
    #[must_use]
    pub fn sanitize(&self, input: &[u8]) -> Vec<u8> {
        let mut text = input.to_vec();
        for (regex, replacement) in &self.regexes {
            text = regex
                .replace_all(&text, regex::bytes::NoExpand(replacement))
                .into_owned();
        }
        text
    }
}

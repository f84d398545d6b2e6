//! Any text as a rules file: an error or a rule set, never a panic; a rule set that loads
//! builds a sanitizer that runs.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mycelium::sanitize::{OutputSanitizer, RuleSet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut rules = RuleSet::empty();
    if rules.load_str(text, Path::new("fuzz.toml")).is_ok() {
        if let Ok(s) = OutputSanitizer::builder(rules).build() {
            let _ = s.sanitize(data);
        }
    }
});

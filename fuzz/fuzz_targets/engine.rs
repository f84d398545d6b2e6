//! Any bytes, any chunking: no panic, and streaming equals sanitizing at once.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mycelium::sanitize::{OutputSanitizer, RuleSet};

fn sanitizer() -> &'static OutputSanitizer {
    static S: OnceLock<OutputSanitizer> = OnceLock::new();
    S.get_or_init(|| {
        let mut b = OutputSanitizer::builder(RuleSet::builtin().expect("built-in rules"));
        b.literal("env:FUZZ", "fuzz-literal-value");
        b.build().expect("sanitizer")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, text)) = data.split_first() else { return };
    let s = sanitizer();
    let whole = s.sanitize(text);
    // Chunk sizes 1..=256 drawn from the first byte.
    let step = usize::from(seed) + 1;
    let mut st = s.stream();
    let mut out = Vec::new();
    for chunk in text.chunks(step) {
        st.push(chunk, &mut out);
    }
    st.finish(&mut out);
    assert_eq!(out, whole.output);
    assert_eq!(st.redactions(), whole.redactions);
});

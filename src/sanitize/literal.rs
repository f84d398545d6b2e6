//! Exact-value redaction: the encodings under which a withheld value is searched for.
//!
//! A value is redacted as itself and as it appears base64-encoded (standard and URL-safe
//! alphabets, at each of the three alignments it can have inside a longer encoded string),
//! percent-encoded (upper and lower case hex, and form encoding with `+` for space) and
//! JSON-string-escaped. Values shorter than [`MIN_LITERAL_LEN`] are not used: short values
//! (`1`, `true`, `admin`, a port number) occur by chance all over ordinary output, so
//! redacting them would destroy the output and, by showing where they were cut, reveal the
//! value anyway.

use base64::Engine as _;

/// Values shorter than this many bytes are not redacted as literals.
pub const MIN_LITERAL_LEN: usize = 8;

/// The byte strings under which `value` is searched for, deduplicated, value first.
pub(crate) fn variants(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![value.to_vec()];
    for offset in 0..3 {
        let b64 = base64_inner(value, offset);
        if b64.len() >= MIN_LITERAL_LEN {
            let url: Vec<u8> = b64
                .iter()
                .map(|&b| match b {
                    b'+' => b'-',
                    b'/' => b'_',
                    other => other,
                })
                .collect();
            out.push(b64);
            out.push(url);
        }
    }
    out.push(percent(value, b"0123456789ABCDEF", false));
    out.push(percent(value, b"0123456789abcdef", false));
    out.push(percent(value, b"0123456789ABCDEF", true));
    out.push(json_escaped(value));
    let mut seen = std::collections::HashSet::new();
    out.retain(|v| seen.insert(v.clone()));
    out
}

/// The base64 characters determined by `value` alone when it starts `offset` bytes into
/// a 3-byte group: characters that also depend on neighbouring bytes are dropped, so the
/// result occurs in any base64 text that encodes `value` at that alignment.
fn base64_inner(value: &[u8], offset: usize) -> Vec<u8> {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(value);
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&padded);
    let first_bit = 8 * offset;
    let end_bit = 8 * (offset + value.len());
    encoded
        .bytes()
        .enumerate()
        .filter(|(j, _)| 6 * j >= first_bit && 6 * j + 6 <= end_bit)
        .map(|(_, c)| c)
        .collect()
}

fn percent(value: &[u8], hex: &[u8; 16], form: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else if form && b == b' ' {
            out.push(b'+');
        } else {
            out.push(b'%');
            out.push(hex[usize::from(b >> 4)]);
            out.push(hex[usize::from(b & 0xf)]);
        }
    }
    out
}

fn json_escaped(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &b in value {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    #[test]
    fn base64_variants_occur_in_encodings_at_every_alignment() {
        let value = b"s3cr3t-value-for-test";
        let vars = variants(value);
        for prefix_len in 0..6 {
            let mut text = vec![b'q'; prefix_len];
            text.extend_from_slice(value);
            text.extend_from_slice(b"tail!");
            for engine in [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE,
            ] {
                let enc = engine.encode(&text);
                assert!(
                    vars.iter()
                        .any(|v| enc.as_bytes().windows(v.len()).any(|w| w == v)),
                    "no variant found in {enc} (prefix {prefix_len})"
                );
            }
        }
    }

    #[test]
    fn percent_and_json_variants() {
        let vars = variants(b"p@ss w\"rd/1234");
        assert!(vars.contains(&b"p%40ss%20w%22rd%2F1234".to_vec()));
        assert!(vars.contains(&b"p%40ss+w%22rd%2F1234".to_vec()));
        assert!(vars.contains(&b"p@ss w\\\"rd/1234".to_vec()));
    }
}

//! The consent checksum: SHA-256 over everything a human approves when they consent.
//!
//! The input is a domain-separated, length-prefixed encoding of the policy file's exact
//! bytes, the definition file's path and bytes, and each pinned file's path and bytes, in
//! the order the policy lists them. Every part carries its own tag and length, so no two
//! different sets of files can encode to the same byte string (moving bytes from the end of
//! one part to the start of the next changes a length), and "no definition" differs from
//! "an empty definition".
//!
//! Layout (all lengths are unsigned 64-bit big-endian):
//!
//! ```text
//! "mycelium-consent-v1" 0x00
//! 0x01 len(policy) policy-bytes
//! [0x02 len(def-path) def-path len(def) def-bytes]          only when a definition is named
//! [0x03 len(pin-path) pin-path len(pin) pin-bytes] …         once per pinned file, in order
//! ```
//!
//! Paths are absolute and encoded as their raw bytes. docs/consent.md shows how to
//! recompute the value by hand. This module only hashes bytes it is given; it never reads
//! a file, so the caller decides (and guarantees) which bytes were read.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The domain tag that starts every encoding; a new layout gets a new tag.
pub const DOMAIN: &[u8] = b"mycelium-consent-v1\0";
/// Tag of the policy part.
pub const TAG_POLICY: u8 = 0x01;
/// Tag of the definition part.
pub const TAG_DEFINITION: u8 = 0x02;
/// Tag of one pinned file.
pub const TAG_PIN: u8 = 0x03;

/// A SHA-256 digest, printed as `sha256:<64 lowercase hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// SHA-256 of `bytes` alone (used for per-file digests shown in diffs).
    #[must_use]
    pub fn of_bytes(bytes: &[u8]) -> Checksum {
        Checksum(Sha256::digest(bytes).into())
    }

    /// The first `n` hex digits, for short displays.
    #[must_use]
    pub fn short(&self, n: usize) -> String {
        let mut s = hex::encode(self.0);
        s.truncate(n);
        format!("sha256:{s}")
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a text is not a checksum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a checksum: expected `sha256:` followed by 64 hex digits")]
pub struct ChecksumParseError {
    /// The text.
    pub text: String,
}

impl FromStr for Checksum {
    type Err = ChecksumParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ChecksumParseError { text: s.into() };
        let hex_part = s.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| bad())?;
        Ok(Checksum(out))
    }
}

impl Serialize for Checksum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Builds the checksum part by part, in the layout above.
///
/// The order is enforced by the caller's sequence of calls: policy first, then the
/// definition if any, then each pin. [`consent_checksum`] is the one-call form.
pub struct ChecksumBuilder {
    hasher: Sha256,
}

impl ChecksumBuilder {
    /// Start with the domain tag and the policy's exact bytes.
    #[must_use]
    pub fn new(policy: &[u8]) -> ChecksumBuilder {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        hasher.update([TAG_POLICY]);
        put(&mut hasher, policy);
        ChecksumBuilder { hasher }
    }

    /// Add the definition file.
    #[must_use]
    pub fn definition(mut self, path: &Path, bytes: &[u8]) -> ChecksumBuilder {
        self.hasher.update([TAG_DEFINITION]);
        put(&mut self.hasher, path.as_os_str().as_bytes());
        put(&mut self.hasher, bytes);
        self
    }

    /// Add one pinned file.
    #[must_use]
    pub fn pin(mut self, path: &Path, bytes: &[u8]) -> ChecksumBuilder {
        self.hasher.update([TAG_PIN]);
        put(&mut self.hasher, path.as_os_str().as_bytes());
        put(&mut self.hasher, bytes);
        self
    }

    /// The checksum.
    #[must_use]
    pub fn finish(self) -> Checksum {
        Checksum(self.hasher.finalize().into())
    }
}

/// A length prefix, then the bytes.
fn put(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The consent checksum of a policy, its optional definition and its pinned files.
#[must_use]
pub fn consent_checksum<'a>(
    policy: &[u8],
    definition: Option<(&Path, &[u8])>,
    pins: impl IntoIterator<Item = (&'a Path, &'a [u8])>,
) -> Checksum {
    let mut b = ChecksumBuilder::new(policy);
    if let Some((path, bytes)) = definition {
        b = b.definition(path, bytes);
    }
    for (path, bytes) in pins {
        b = b.pin(path, bytes);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn known_answers_match_the_documented_layout() {
        // Both values were computed with Python's hashlib over the layout in the module
        // docs (the same recipe docs/consent.md gives), not by this code.
        assert_eq!(
            consent_checksum(b"abc", None, []).to_string(),
            "sha256:928b34b14be40678822138aca00e31515ccff2c95ad52992fc6ac3c2179f52d7"
        );
        assert_eq!(
            consent_checksum(
                b"abc",
                Some((Path::new("/d"), b"x")),
                [(Path::new("/p"), &b""[..])]
            )
            .to_string(),
            "sha256:23e7d6bddfcbedd5453ec624d02da46baf9b5e3023c8b0b33a9ce833d8292752"
        );
    }

    #[test]
    fn boundaries_between_parts_matter() {
        let p = Path::new("/d");
        let a = consent_checksum(b"ab", Some((p, b"c")), []);
        let b = consent_checksum(b"a", Some((p, b"bc")), []);
        assert_ne!(a, b);
    }

    #[test]
    fn no_definition_differs_from_empty_definition() {
        let a = consent_checksum(b"x", None, []);
        let b = consent_checksum(b"x", Some((Path::new("/d"), b"")), []);
        assert_ne!(a, b);
    }

    #[test]
    fn a_definition_is_not_a_pin() {
        let p = Path::new("/f");
        let a = consent_checksum(b"x", Some((p, b"y")), []);
        let b = consent_checksum(b"x", None, [(p, &b"y"[..])]);
        assert_ne!(a, b);
    }

    #[test]
    fn pin_path_and_order_count() {
        let (p, q) = (Path::new("/p"), Path::new("/q"));
        let base = consent_checksum(b"x", None, [(p, &b"1"[..]), (q, &b"2"[..])]);
        let swapped = consent_checksum(b"x", None, [(q, &b"2"[..]), (p, &b"1"[..])]);
        let moved = consent_checksum(b"x", None, [(q, &b"1"[..]), (p, &b"2"[..])]);
        assert_ne!(base, swapped);
        assert_ne!(base, moved);
    }

    #[test]
    fn one_byte_changes_the_checksum() {
        assert_ne!(
            consent_checksum(b"mode = \"none\"", None, []),
            consent_checksum(b"mode = \"nonf\"", None, [])
        );
    }

    #[test]
    fn text_round_trip_and_strict_parse() {
        let c = consent_checksum(b"abc", None, []);
        let text = c.to_string();
        assert!(text.starts_with("sha256:"));
        assert_eq!(text.len(), 7 + 64);
        assert_eq!(text.parse::<Checksum>(), Ok(c));
        assert!("sha256:abc".parse::<Checksum>().is_err());
        assert!(text.to_uppercase().parse::<Checksum>().is_err());
        assert!(text.replace("sha256:", "md5:").parse::<Checksum>().is_err());
    }
}

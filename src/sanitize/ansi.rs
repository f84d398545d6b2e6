//! Terminal escape sequences are transparent to the rules.
//!
//! Coloured output puts control sequences between a key and its value, around a value, or
//! inside a token (`ghp_` in one colour, the rest in another), where they would break a
//! rule's match or its `\b`. So the stream sets aside every CSI sequence (`ESC [`
//! parameters, intermediates, a final byte: colours, cursor moves, erasing), the
//! character-set designations (`ESC ( B`, which `tput sgr0` prints) and the two-byte
//! cursor save/restore and keypad escapes (`ESC 7`, `ESC 8`, `ESC =`, `ESC >`) before the
//! rules see the text, and puts each one back at its place in the output. An escape inside a redacted
//! span comes out right after the replacement, so colour state is kept and nothing of the
//! secret is. Every other escape (OSC titles and hyperlinks, DCS, …) stays in the text the
//! rules see, since such strings carry text of their own.
//!
//! Whether bytes are an escape depends only on the bytes (an escape split across writes is
//! held until it is complete), so the output still does not depend on the chunking. An
//! escape longer than [`MAX_ESCAPE`] bytes, or the fifth in a row at one place, is text:
//! the escapes held alongside held text are at most four per held byte.

use std::collections::VecDeque;

/// The escape byte.
const ESC: u8 = 0x1b;

/// The longest escape set aside; a longer one is text.
pub(crate) const MAX_ESCAPE: usize = 32;

/// The most escapes set aside in a row at one place; the next one is text.
pub(crate) const MAX_RUN: usize = 4;

/// What the bytes at the start of a candidate escape are.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    /// An escape of this many bytes.
    Complete(usize),
    /// Not an escape that is set aside: the `ESC` is text.
    Text,
    /// A prefix of one: more bytes decide.
    NeedMore,
}

/// Classify `b` (which starts with `ESC`).
fn classify(b: &[u8]) -> Class {
    let Some(&kind) = b.get(1) else {
        return Class::NeedMore;
    };
    match kind {
        b'[' => {
            let mut i = 2;
            while i < b.len() && (0x30..=0x3f).contains(&b[i]) {
                i += 1;
            }
            while i < b.len() && (0x20..=0x2f).contains(&b[i]) {
                i += 1;
            }
            match b.get(i) {
                _ if i >= MAX_ESCAPE => Class::Text,
                None => Class::NeedMore,
                Some(0x40..=0x7e) => Class::Complete(i + 1),
                Some(_) => Class::Text,
            }
        }
        b'(' | b')' | b'*' | b'+' => match b.get(2) {
            None => Class::NeedMore,
            Some(0x30..=0x7e) => Class::Complete(3),
            Some(_) => Class::Text,
        },
        // Save and restore the cursor, keypad modes: no text of their own.
        b'7' | b'8' | b'=' | b'>' => Class::Complete(2),
        _ => Class::Text,
    }
}

/// One escape set aside: it goes out right before the text byte at `pos` (absolute, in
/// the text the rules see).
#[derive(Debug, Clone, Copy)]
struct Held {
    pos: usize,
    len: u8,
    bytes: [u8; MAX_ESCAPE],
}

impl Held {
    fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The escapes of one stream: those set aside and not yet written, and an escape whose
/// end has not arrived.
#[derive(Debug, Default)]
pub(crate) struct Escapes {
    /// An incomplete escape (starting with `ESC`, shorter than [`MAX_ESCAPE`]).
    partial: Vec<u8>,
    held: VecDeque<Held>,
    /// The place of the last escape set aside and how many were set aside there in a row.
    run: (usize, usize),
}

impl Escapes {
    /// Split `chunk` into the text the rules see (appended to `text`, whose first byte is at
    /// absolute offset `base`) and escapes (kept here).
    pub(crate) fn split(&mut self, chunk: &[u8], text: &mut Vec<u8>, base: usize) {
        let mut rest = chunk;
        loop {
            if self.partial.is_empty() {
                match memchr::memchr(ESC, rest) {
                    None => {
                        text.extend_from_slice(rest);
                        return;
                    }
                    Some(i) => {
                        text.extend_from_slice(&rest[..i]);
                        self.partial.push(ESC);
                        rest = &rest[i + 1..];
                    }
                }
            }
            // Add bytes one at a time until the escape is decided (it is short).
            loop {
                match classify(&self.partial) {
                    Class::NeedMore => {
                        let Some((&b, tail)) = rest.split_first() else {
                            return;
                        };
                        self.partial.push(b);
                        rest = tail;
                    }
                    Class::Complete(n) => {
                        debug_assert_eq!(n, self.partial.len());
                        self.set_aside(text, base);
                        break;
                    }
                    Class::Text => {
                        self.not_an_escape(text, base);
                        break;
                    }
                }
            }
        }
    }

    /// The end of the stream: an incomplete escape is text.
    pub(crate) fn finish(&mut self, text: &mut Vec<u8>) {
        text.append(&mut self.partial);
    }

    /// Record the complete escape in `partial` at the current end of the text.
    fn set_aside(&mut self, text: &mut Vec<u8>, base: usize) {
        let pos = base + text.len();
        let count = if self.run.0 == pos { self.run.1 } else { 0 };
        if count >= MAX_RUN {
            text.append(&mut self.partial);
            return;
        }
        let mut bytes = [0; MAX_ESCAPE];
        bytes[..self.partial.len()].copy_from_slice(&self.partial);
        self.held.push_back(Held {
            pos,
            len: u8::try_from(self.partial.len()).unwrap_or(0),
            bytes,
        });
        self.run = (pos, count + 1);
        self.partial.clear();
    }

    /// The `ESC` in `partial` is text; what followed it is split again (it may hold
    /// another `ESC`).
    fn not_an_escape(&mut self, text: &mut Vec<u8>, base: usize) {
        let after: Vec<u8> = self.partial[1..].to_vec();
        self.partial.clear();
        text.push(ESC);
        self.split(&after, text, base);
    }

    /// Copy the text `text[from..to]` (absolute offsets; `text` starts at `base`) with the
    /// escapes placed at or after `from` and at or before `to` in their places.
    pub(crate) fn copy(
        &mut self,
        text: &[u8],
        base: usize,
        from: usize,
        to: usize,
        out: &mut Vec<u8>,
    ) {
        let mut pos = from;
        while let Some(h) = self.held.front() {
            if h.pos > to {
                break;
            }
            let at = h.pos.max(pos);
            out.extend_from_slice(&text[pos - base..at - base]);
            out.extend_from_slice(h.bytes());
            pos = at;
            self.held.pop_front();
        }
        out.extend_from_slice(&text[pos - base..to - base]);
    }

    /// Write the escapes placed before `end` (those inside a span just replaced).
    pub(crate) fn release_before(&mut self, end: usize, out: &mut Vec<u8>) {
        while let Some(h) = self.held.front() {
            if h.pos >= end {
                break;
            }
            out.extend_from_slice(h.bytes());
            self.held.pop_front();
        }
    }

    /// How many escapes are held.
    #[cfg(test)]
    pub(crate) fn held_count(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_csi_and_designations_and_nothing_else() {
        assert_eq!(classify(b"\x1b[0m"), Class::Complete(4));
        assert_eq!(classify(b"\x1b[38;2;255;0;0m"), Class::Complete(15));
        assert_eq!(classify(b"\x1b[K"), Class::Complete(3));
        assert_eq!(classify(b"\x1b[?25l"), Class::Complete(6));
        assert_eq!(classify(b"\x1b(B"), Class::Complete(3));
        assert_eq!(classify(b"\x1b[38;5"), Class::NeedMore);
        assert_eq!(classify(b"\x1b"), Class::NeedMore);
        assert_eq!(classify(b"\x1b]0;title\x07"), Class::Text);
        assert_eq!(classify(b"\x1b[1\n"), Class::Text);
        assert_eq!(classify(b"\x1b7"), Class::Complete(2));
        assert_eq!(classify(b"\x1bM"), Class::Text);
        let long = [b"\x1b[".as_slice(), &[b'1'; 40], b"m"].concat();
        assert_eq!(classify(&long), Class::Text);
    }

    #[test]
    fn splits_the_same_in_any_chunks_and_puts_escapes_back() {
        let input = b"a\x1b[1mb\x1b]0;t\x07c\x1b[3\x1b[0md\x1b(Be\x1b[";
        let mut whole = (Escapes::default(), Vec::new());
        whole.0.split(input, &mut whole.1, 0);
        whole.0.finish(&mut whole.1);
        assert_eq!(whole.1, b"ab\x1b]0;t\x07c\x1b[3de\x1b[");
        for cut in 0..=input.len() {
            let (mut e, mut text) = (Escapes::default(), Vec::new());
            e.split(&input[..cut], &mut text, 0);
            e.split(&input[cut..], &mut text, 0);
            e.finish(&mut text);
            assert_eq!(text, whole.1, "cut at {cut}");
            let mut out = Vec::new();
            let len = text.len();
            e.copy(&text, 0, 0, len, &mut out);
            assert_eq!(out, input, "cut at {cut}");
        }
    }

    #[test]
    fn a_run_of_escapes_at_one_place_is_bounded() {
        let input = b"x\x1b[m\x1b[m\x1b[m\x1b[m\x1b[m\x1b[my".repeat(3);
        let (mut e, mut text) = (Escapes::default(), Vec::new());
        e.split(&input, &mut text, 0);
        assert!(e.held_count() <= MAX_RUN * 3 + 3, "{}", e.held_count());
        assert!(text.windows(3).any(|w| w == b"\x1b[m"));
        let mut out = Vec::new();
        let len = text.len();
        e.copy(&text, 0, 0, len, &mut out);
        assert_eq!(out, input);
    }
}

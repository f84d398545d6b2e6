//! Output pumps: the sandbox's output → the sanitizer → the store (capped) and, for a
//! person at a terminal, a live copy.
//!
//! Each stream gets its own thread and sanitizing stream, so a secret split across two
//! writes of one stream is still caught; the two streams share one [`OutputKeeper`], which
//! decides what the store keeps under the run's cap: the first half of the cap as it
//! comes (the head), then a rolling tail of the other half, the rest counted and dropped
//! while the agent keeps running. Nothing unsanitized is ever kept or written.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use crate::sanitize::{OutputSanitizer, Redactions};
use crate::state::{WorkflowId, WorkflowStore};

/// How much of the sanitized output's end a record keeps as its `result`.
pub const RESULT_TAIL_BYTES: usize = 64 * 1024;

/// What the store keeps of one run's output, under its cap.
#[derive(Debug)]
pub struct OutputKeeper {
    store: Arc<dyn WorkflowStore>,
    id: WorkflowId,
    /// Bytes still allowed into the head.
    head_left: u64,
    /// The rolling tail kept past the head, at most `tail_cap` bytes.
    tail: VecDeque<u8>,
    tail_cap: usize,
    /// The last [`RESULT_TAIL_BYTES`] of everything, for the record's `result`.
    result: VecDeque<u8>,
    /// Bytes neither in the head nor in the final tail.
    dropped: u64,
    /// Kept output the store has not taken yet (it was unreachable), at most
    /// [`PENDING_CAP`] bytes; sent before anything newer.
    pending: Vec<u8>,
    /// Output lost because the store stayed unreachable longer than `pending` holds, not
    /// yet noted in the output.
    lost: u64,
    /// Whether any output was ever lost that way.
    lost_any: bool,
    /// The last store error while output was pending.
    store_error: Option<crate::state::StateError>,
}

/// How much kept output waits for an unreachable store before more is lost.
pub const PENDING_CAP: usize = 4 << 20;

impl OutputKeeper {
    /// A keeper for workflow `id` that stores at most `cap` bytes.
    #[must_use]
    pub fn new(store: Arc<dyn WorkflowStore>, id: WorkflowId, cap: u64) -> Self {
        let head = cap / 2;
        OutputKeeper {
            store,
            id,
            head_left: head,
            tail: VecDeque::new(),
            tail_cap: usize::try_from(cap - head).unwrap_or(usize::MAX),
            result: VecDeque::new(),
            dropped: 0,
            pending: Vec::new(),
            lost: 0,
            lost_any: false,
            store_error: None,
        }
    }

    /// Take sanitized bytes.
    pub fn keep(&mut self, text: &[u8]) {
        if text.is_empty() {
            return;
        }
        push_rolling(&mut self.result, text, RESULT_TAIL_BYTES);
        let into_head = usize::try_from(self.head_left)
            .unwrap_or(usize::MAX)
            .min(text.len());
        // The head ends on a character boundary: what is cut goes to the tail.
        let into_head = floor_char_boundary(text, into_head);
        if into_head > 0 {
            self.append(&text[..into_head]);
            self.head_left -= into_head as u64;
            if into_head < text.len() {
                // The head is full: nothing more enters it, even a character that would fit.
                self.head_left = 0;
            }
        }
        let rest = &text[into_head..];
        if !rest.is_empty() {
            self.head_left = 0;
            let before = self.tail.len() + rest.len();
            push_rolling(&mut self.tail, rest, self.tail_cap);
            self.dropped += (before - self.tail.len()) as u64;
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = PENDING_CAP.saturating_sub(self.pending.len());
        if bytes.len() > room {
            self.lost += (bytes.len() - room) as u64;
            self.lost_any = true;
        }
        self.pending
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        // After a failure the store is tried again from the supervisor's rounds, not on
        // every write: an unreachable server would stall the pumps (and the agent).
        if self.store_error.is_none() {
            self.flush();
        }
    }

    /// Send what is pending to the store; whether nothing is left. A character cut at the
    /// end waits for the rest of it; text that is not UTF-8 is stored with replacement
    /// characters.
    pub fn flush(&mut self) -> bool {
        if self.lost > 0 && self.pending.len() < PENDING_CAP {
            let note = format!(
                "\n[mycelium: {} bytes of output lost while the workflow store was unreachable]\n",
                self.lost
            );
            self.lost = 0;
            self.pending.extend_from_slice(note.as_bytes());
        }
        if self.pending.is_empty() {
            return true;
        }
        let upto = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            // An incomplete character at the end: keep it for the next append.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        if upto == 0 {
            return false;
        }
        let text = String::from_utf8_lossy(&self.pending[..upto]).into_owned();
        match self.store.append_output(self.id, &text) {
            Ok(()) => {
                self.pending.drain(..upto);
                self.store_error = None;
                self.pending.is_empty()
            }
            Err(e) => {
                self.store_error = Some(e);
                false
            }
        }
    }

    /// Whether kept output still waits for the store.
    #[must_use]
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.lost > 0
    }

    /// The last store error while output was pending.
    #[must_use]
    pub fn store_error(&self) -> Option<&crate::state::StateError> {
        self.store_error.as_ref()
    }

    /// Queue the tail (after a note of what was dropped) and try to send what is pending;
    /// the record's `result` and whether output was dropped or lost. What the store has
    /// not taken stays pending: call [`OutputKeeper::flush`] until it is gone.
    pub fn finish(&mut self) -> (String, bool) {
        let tail: Vec<u8> = self.tail.drain(..).collect();
        if self.dropped > 0 {
            let note = format!(
                "\n[mycelium: {} bytes of output dropped here (limits.output)]\n",
                self.dropped
            );
            self.append(note.as_bytes());
        }
        // The tail starts on a character boundary: skip continuation bytes.
        let start = tail.iter().position(|b| !is_continuation(*b)).unwrap_or(0);
        if start < tail.len() {
            self.append(&tail[start..]);
        }
        let result: Vec<u8> = self.result.drain(..).collect();
        let start = result
            .iter()
            .position(|b| !is_continuation(*b))
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&result[start..]).into_owned();
        // A character cut at the very end is complete now or never.
        if std::str::from_utf8(&self.pending).is_err_and(|e| e.error_len().is_none()) {
            self.pending.push(b'\n');
        }
        self.flush();
        (text, self.dropped > 0 || self.lost_any)
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// The largest index ≤ `at` that does not cut a UTF-8 character of `text` (text that is
/// not UTF-8 is cut anywhere).
fn floor_char_boundary(text: &[u8], at: usize) -> usize {
    if at >= text.len() || std::str::from_utf8(text).is_err() {
        return at.min(text.len());
    }
    let mut i = at;
    while i > 0 && is_continuation(text[i]) {
        i -= 1;
    }
    i
}

/// Append `bytes` to `buf`, keeping only its last `cap` bytes.
fn push_rolling(buf: &mut VecDeque<u8>, bytes: &[u8], cap: usize) {
    if bytes.len() >= cap {
        buf.clear();
        buf.extend(&bytes[bytes.len() - cap..]);
        return;
    }
    let over = (buf.len() + bytes.len()).saturating_sub(cap);
    buf.drain(..over);
    buf.extend(bytes);
}

/// Copy `from` through a sanitizing stream into `keeper` and, when given, `live`, until
/// `from` ends; the redactions made. A `live` that fails (a closed terminal) is let go;
/// the store keeps receiving.
pub fn pump<R: Read + Send + 'static>(
    mut from: R,
    mut live: Option<Box<dyn Write + Send>>,
    sanitizer: Arc<OutputSanitizer>,
    keeper: Arc<Mutex<OutputKeeper>>,
) -> std::thread::JoinHandle<Redactions> {
    std::thread::spawn(move || {
        let mut stream = sanitizer.stream();
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::new();
        let deliver = |out: &[u8], live: &mut Option<Box<dyn Write + Send>>| {
            if let Ok(mut k) = keeper.lock() {
                k.keep(out);
            }
            if let Some(w) = live
                && w.write_all(out).and_then(|()| w.flush()).is_err()
            {
                *live = None;
            }
        };
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // EIO: a terminal whose other side closed; anything else ends it too.
                Err(_) => break,
            };
            out.clear();
            stream.push(&buf[..n], &mut out);
            deliver(&out, &mut live);
        }
        out.clear();
        stream.finish(&mut out);
        deliver(&out, &mut live);
        stream.redactions()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_buffers_keep_the_end() {
        let mut b = VecDeque::new();
        push_rolling(&mut b, b"abcdef", 4);
        assert_eq!(b.iter().copied().collect::<Vec<_>>(), b"cdef");
        push_rolling(&mut b, b"gh", 4);
        assert_eq!(b.iter().copied().collect::<Vec<_>>(), b"efgh");
        push_rolling(&mut b, b"", 4);
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn head_cuts_on_character_boundaries() {
        let text = "aé".as_bytes();
        assert_eq!(floor_char_boundary(text, 2), 1);
        assert_eq!(floor_char_boundary(text, 3), 3);
        assert_eq!(floor_char_boundary(b"\xff\xfe", 1), 1);
    }
}

//! Streaming: carry-over between chunks, so a secret split across writes is still caught
//! and the output is identical for every chunking of the same text.
//!
//! The stream keeps the bytes it has not emitted yet (plus one byte of context for `\b`
//! and `^`). After each chunk it
//!
//! 1. runs the keyword automaton over the new bytes (re-reading the last few old ones, so
//!    a keyword split across chunks is found), queueing each hit on the rules it gates and
//!    recording literal matches at once;
//! 2. decides every queued hit whose outcome the text seen so far already fixes: a rule's
//!    match must contain the keyword, lies within one line and is at most the rule's
//!    maximum length, so the hit is settled once the line has ended or that many bytes
//!    have arrived after it. Private-key blocks are settled by their `-----END` line, by
//!    [`BLOCK_CAP`] bytes (then the whole held part is redacted: fail closed), or by the end
//!    of the stream;
//! 3. emits everything before the earliest byte that an undecided hit, a hit that could
//!    still form at the tail, or a partial literal at the tail could cover.
//!
//! Every decision depends only on the text and on absolute positions, never on where chunks
//! begin or on time, which is why the output does not depend on the chunking. There is no
//! timer anywhere: a half-printed key followed by a long pause stays held.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use memchr::{memchr2, memmem, memrchr2};
use regex_automata::Input;

use super::ansi::Escapes;
use super::builtin::{KEY_PAD, USERINFO_MAX, VALUE_INDENT};
use super::engine::{Engine, NamedAnchors, Redactions, Target};
use super::rules::{
    AssignmentTail, BlockEnd, Guard, Precheck, Rule, is_placeholder, is_word_byte, looks_like_code,
    shannon_entropy,
};

/// The most bytes a private-key block may span. A block with no end marker within this
/// many bytes is redacted up to here (fail closed) and scanning resumes after it.
pub const BLOCK_CAP: usize = 64 * 1024;

/// How far after `-----END` the closing dashes may be (the label's length).
const END_LABEL_MAX: usize = 64;

/// A keyword hit queued on one rule; absolute positions.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    /// For a block rule whose header has matched: where the block starts and where the
    /// search for its end resumes.
    block: Option<(usize, usize)>,
    /// For a [`Precheck::Command`] or [`Precheck::Named`] rule: whether the scan found the
    /// hit an anchor (see [`may_count`]), in the widest window the hit can have.
    anchor: bool,
    /// What is known of the hit's line, found once when the hit is queued and shared by
    /// every rule its keyword gates (and by the next hits on the same line).
    line: Line,
}

/// The part of a hit's line looked at so far: no line break in `[start, hit.start)` nor in
/// `[hit.end, end)`; `start` follows a break when `start_closed`, and `end` is a break when
/// `end_closed`. Otherwise the search stopped there (the longest rule's reach, or the end
/// of the text then), and a window that reaches further looks further.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    start_closed: bool,
    end: usize,
    end_closed: bool,
}

impl Line {
    /// Where a one-line window no further back than `lo` starts, if what was looked at
    /// tells: the line's start, or `lo` when that is later.
    fn known_start(self, lo: usize) -> Option<usize> {
        (lo >= self.start || self.start_closed).then(|| lo.max(self.start))
    }

    /// The line break before `to` that ends a one-line window, if what was looked at
    /// tells: `Some(None)` when there is none before `to`, `None` when the text past
    /// `end` must be looked at.
    fn known_break(self, to: usize) -> Option<Option<usize>> {
        (self.end_closed || to <= self.end)
            .then(|| Some(self.end).filter(|&e| self.end_closed && e < to))
    }
}

/// The outcome of trying to decide a hit.
enum Decision {
    /// Not enough text yet.
    Wait,
    /// Settled (with or without a redaction).
    Done,
}

/// One output channel being sanitized. Feed it with [`SanitizeStream::push`], end it with
/// [`SanitizeStream::finish`].
#[derive(Debug)]
pub struct SanitizeStream {
    engine: Arc<Engine>,
    /// Bytes from absolute offset `base` on.
    buf: Vec<u8>,
    base: usize,
    /// Absolute offset up to which output has been emitted.
    emitted: usize,
    /// Absolute offset up to which the automaton has run.
    scanned: usize,
    /// Queued hits per rule, ordered by (start, end).
    pending: Vec<VecDeque<Hit>>,
    /// Per rule: where its next match may start (the end of its last one).
    next: Vec<usize>,
    /// Decided redactions not yet emitted: (start, end) → label (the lowest index wins
    /// when two rules redact exactly the same bytes).
    spans: BTreeMap<(usize, usize), usize>,
    counts: Vec<u64>,
    finished: bool,
    /// Share one search among the hits of a rule in the same window. Off only in the
    /// tests' reference streams, which search once per hit as the definition says.
    shared: bool,
    /// Terminal escapes set aside from `buf` (see [`super::ansi`]).
    escapes: Escapes,
    /// Per rule: the start of its last anchor hit decided so far (for
    /// [`Precheck::Command`], a hit at a word boundary; for [`Precheck::Named`], one after
    /// an opener and name bytes).
    word_hit: Vec<Option<usize>>,
    /// Per rule: the start of the last anchor hit the scan has queued (see [`may_count`]).
    scan_anchor: Vec<Option<usize>>,
    /// Per rule: for a [`Precheck::Command`] rule, the start of its last anchor hit decided
    /// so far at which a match starts.
    viable_hit: Vec<Option<usize>>,
}

/// The leftmost-first matches of one rule in one window `[a, b)`, found lazily and shared
/// by every hit of the rule whose window it is. A hit's answer is the first of these
/// matches that ends at or after the hit (none if it starts after the hit), exactly what
/// a search per hit from `a` would find, because that search walks the same sequence.
#[derive(Debug, Default)]
struct WindowMatches {
    /// The window; `None` before the first search.
    window: Option<(usize, usize)>,
    /// Matches found so far, in order, with the verdict once one was asked for.
    found: Vec<WindowMatch>,
    /// Where the next search starts; `None` once the window has no more matches.
    resume: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct WindowMatch {
    start: usize,
    end: usize,
    /// The secret span and whether the guard accepted it, once computed.
    verdict: Option<(usize, usize, bool)>,
}

impl SanitizeStream {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        let rules = engine.rules.len();
        let labels = engine.labels.len();
        Self {
            engine,
            buf: Vec::new(),
            base: 0,
            emitted: 0,
            scanned: 0,
            pending: vec![VecDeque::new(); rules],
            next: vec![0; rules],
            spans: BTreeMap::new(),
            counts: vec![0; labels],
            finished: false,
            shared: true,
            escapes: Escapes::default(),
            word_hit: vec![None; rules],
            scan_anchor: vec![None; rules],
            viable_hit: vec![None; rules],
        }
    }

    /// A stream that searches once per hit, with no sharing or shortcuts: the reference
    /// the tests compare the engine against.
    #[cfg(test)]
    pub(crate) fn reference(engine: Arc<Engine>) -> Self {
        Self {
            shared: false,
            ..Self::new(engine)
        }
    }

    /// Feed the next chunk; append whatever can already be released to `out`.
    ///
    /// Pushing after [`SanitizeStream::finish`] starts nothing new: the bytes are appended
    /// to the same (finished) stream and released at once.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        self.escapes.split(chunk, &mut self.buf, self.base);
        if self.finished {
            self.escapes.finish(&mut self.buf);
        }
        self.step(out);
    }

    /// The end of the stream: settle everything and release the rest.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.finished = true;
        self.escapes.finish(&mut self.buf);
        self.step(out);
    }

    /// Redactions so far (those already emitted).
    #[must_use]
    pub fn redactions(&self) -> Redactions {
        Redactions(
            self.engine
                .labels
                .iter()
                .zip(&self.counts)
                .filter(|(_, c)| **c > 0)
                .map(|(l, c)| (l.clone(), *c))
                .collect(),
        )
    }

    /// Bytes currently held back (not yet emitted).
    #[must_use]
    pub fn held(&self) -> usize {
        self.end() - self.emitted
    }

    fn end(&self) -> usize {
        self.base + self.buf.len()
    }

    fn idx(&self, abs: usize) -> usize {
        abs - self.base
    }

    fn step(&mut self, out: &mut Vec<u8>) {
        self.scan();
        self.decide();
        let safe = self.safe_point();
        self.emit(safe, out);
        self.compact();
    }

    /// Run the automaton over the bytes not scanned yet.
    fn scan(&mut self) {
        let end = self.end();
        if self.scanned >= end {
            return;
        }
        let engine = Arc::clone(&self.engine);
        let from = self
            .scanned
            .saturating_sub(engine.max_pattern_len.saturating_sub(1))
            .max(self.base);
        let old = self.scanned;
        let base = self.base;
        let after = old.saturating_sub(base);
        let end_abs = end;
        let Self {
            buf,
            pending,
            spans,
            next,
            scan_anchor,
            shared,
            ..
        } = self;
        let hay: &[u8] = buf;
        let reach = engine.max_rule_len;
        // The line of the previous hit: hits come in order, several to a line.
        let mut last: Option<Line> = None;
        engine.scanner.scan(
            hay,
            from - base,
            after,
            &mut |pid, a, e| match &engine.targets[pid] {
                Target::Keyword(rules) => {
                    // Found only for a hit some rule keeps.
                    let mut line: Option<Line> = None;
                    let (start, end) = (base + a, base + e);
                    let mut scan_hit = ScanHit::new(&engine.named, (start, end));
                    for &r in rules {
                        let rule = &engine.rules[r];
                        let anchor = if *shared {
                            match may_count(
                                rule,
                                hay,
                                base,
                                &mut scan_hit,
                                next[r],
                                &mut scan_anchor[r],
                            ) {
                                Some(anchor) => anchor,
                                None => continue,
                            }
                        } else {
                            false
                        };
                        let line = *line.get_or_insert_with(|| {
                            let l = match last {
                                Some(l) if l.start <= a && e <= l.end => l,
                                _ => line_around(hay, a, e, reach),
                            };
                            last = Some(l);
                            Line {
                                start: base + l.start,
                                end: base + l.end,
                                ..l
                            }
                        });
                        let hit = Hit {
                            start,
                            end,
                            block: None,
                            anchor,
                            line,
                        };
                        if *shared
                            && rule.assignment
                            && !may_assign_in_line(
                                rule,
                                hay,
                                base,
                                &engine.key_ends[r],
                                hit,
                                next[r],
                                end_abs,
                            )
                        {
                            continue;
                        }
                        insert_sorted(&mut pending[r], hit);
                    }
                }
                Target::Literal(label) => {
                    if hay[a..e] == engine.literal_bytes[pid][..] {
                        add_span(spans, base + a, base + e, *label);
                    }
                }
            },
        );
        self.scanned = end;
    }

    fn add_span(&mut self, start: usize, end: usize, label: usize) {
        add_span(&mut self.spans, start, end, label);
    }

    /// Settle every queued hit that can be settled.
    fn decide(&mut self) {
        let engine = Arc::clone(&self.engine);
        let mut memo = WindowMatches::default();
        for (r, rule) in engine.rules.iter().enumerate() {
            memo.window = None;
            while let Some(hit) = self.pending[r].front().copied() {
                let decision = if rule.block.is_some() {
                    self.decide_block(r, rule, hit)
                } else {
                    self.decide_regex(r, rule, hit, &mut memo)
                };
                match decision {
                    Decision::Done => {
                        self.pending[r].pop_front();
                    }
                    Decision::Wait => break,
                }
            }
        }
    }

    /// The earliest position a match containing `hit` may start at: after the rule's
    /// previous match, no further back than the rule's length, and on the hit's line (or
    /// as many lines before it as the rule may cross).
    fn window_start(&self, r: usize, rule: &Rule, hit: Hit) -> usize {
        let lo = window_floor(rule, self.next[r], hit.end, self.base);
        if self.shared && rule.lines_before == 0 {
            let line = hit.line;
            return line.known_start(lo).unwrap_or_else(|| {
                // Not looked at so far back when the hit was queued.
                memrchr2(b'\n', b'\r', &self.buf[self.idx(lo)..self.idx(line.start)])
                    .map_or(lo, |i| lo + i + 1)
            });
        }
        let mut at = hit.start;
        let mut left = rule.lines_before;
        while lo < at {
            let Some(i) = memrchr2(b'\n', b'\r', &self.buf[self.idx(lo)..self.idx(at)]) else {
                return lo;
            };
            let brk = lo + i;
            if left == 0 {
                return brk + 1;
            }
            left -= 1;
            // `\r\n` is one line break.
            at = if self.buf[self.idx(brk)] == b'\n'
                && brk > lo
                && self.buf[self.idx(brk - 1)] == b'\r'
            {
                brk - 1
            } else {
                brk
            };
        }
        lo
    }

    /// Where the search window for `hit` ends, or `None` when the text so far does not
    /// fix it yet: at the line break that ends the hit's line (or the last line the rule
    /// may cross), or the rule's length after the hit.
    fn window_end(&self, rule: &Rule, hit: Hit) -> Option<usize> {
        self.window_end_after(rule, hit, rule.lines_after)
    }

    /// [`SanitizeStream::window_end`] for a window that crosses `lines` line breaks.
    fn window_end_after(&self, rule: &Rule, hit: Hit, lines: usize) -> Option<usize> {
        // A rule shorter than its keyword cannot contain it; the window is then empty.
        let limit = (hit.start + rule.max_len).max(hit.end);
        let end = self.end();
        if self.shared && lines == 0 {
            let line = hit.line;
            let to = limit.min(end);
            let brk = line.known_break(to).unwrap_or_else(|| {
                // Not looked at so far when the hit was queued.
                memchr2(b'\n', b'\r', &self.buf[self.idx(line.end)..self.idx(to)])
                    .map(|i| line.end + i)
            });
            return match brk {
                Some(b) => Some(b),
                None if end > limit => Some(limit),
                None if self.finished => Some(end),
                None => None,
            };
        }
        let mut from = hit.end;
        let mut left = lines;
        loop {
            let slice = &self.buf[self.idx(from)..self.idx(limit.min(end))];
            let Some(i) = memchr2(b'\n', b'\r', slice) else {
                break;
            };
            let brk = from + i;
            if left == 0 {
                return Some(brk);
            }
            left -= 1;
            from = brk + 1;
            // `\r\n` is one line break: a `\r` at the tail waits for the next byte.
            if self.buf[self.idx(brk)] == b'\r' && from < limit {
                if from == end && !self.finished {
                    return None;
                }
                if from < end && self.buf[self.idx(from)] == b'\n' {
                    from += 1;
                }
            }
        }
        if end > limit {
            // One byte past the window must be there: `\b` and `$` look at it.
            Some(limit)
        } else if self.finished {
            Some(end)
        } else {
            None
        }
    }

    /// The leftmost-first match of `rule` in `[from, b)` (anchored at `from` when the rule
    /// is), as absolute offsets. Bounds only (DFA): capture groups are computed only for
    /// the match that counts.
    fn next_match(&self, rule: &Rule, from: usize, b: usize) -> Option<(usize, usize)> {
        let input = Input::new(&self.buf)
            .range(self.idx(from)..self.idx(b))
            .anchored(if rule.anchored() {
                regex_automata::Anchored::Yes
            } else {
                regex_automata::Anchored::No
            });
        let m = rule.compiled.get().regex.search(&input)?;
        Some((self.base + m.start(), self.base + m.end()))
    }

    /// The secret span of the match `[ms, me)` found in a window ending at `b`, and whether
    /// it was quoted. A bare value's closing brackets that it does not open (`password=X)`
    /// in `Config(host=h, password=X)`, `X}` or `X>`) close the text around it: they are
    /// left out.
    fn secret(&self, rule: &Rule, ms: usize, me: usize, b: usize) -> (usize, usize, bool) {
        let (ss, mut se, quoted) = self.secret_span(rule, ms, me, b);
        if !quoted && rule.guard != Guard::Token {
            // A query string's next parameter (`token=X&page=2`) is not part of the value;
            // an `&` followed by anything else is (`password=ab&cd`).
            let value = &self.buf[self.idx(ss)..self.idx(se)];
            if let Some(amp) = memchr::memchr_iter(b'&', value).find(|&i| {
                let name = value[i + 1..]
                    .iter()
                    .take(65)
                    .take_while(|&&c| is_key_byte(c))
                    .count();
                (1..=64).contains(&name) && value.get(i + 1 + name) == Some(&b'=')
            }) {
                se = ss + amp;
            }
            while se > ss + 1 {
                let value = &self.buf[self.idx(ss)..self.idx(se)];
                let open = match value[value.len() - 1] {
                    b')' => b'(',
                    b']' => b'[',
                    b'}' => b'{',
                    b'>' => b'<',
                    _ => break,
                };
                if value.contains(&open) {
                    break;
                }
                se -= 1;
            }
        }
        (ss, se, quoted)
    }

    /// [`Self::secret`] before trailing brackets are looked at.
    fn secret_span(&self, rule: &Rule, ms: usize, me: usize, b: usize) -> (usize, usize, bool) {
        let built = rule.compiled.get();
        if built.secret_groups.is_empty() {
            // A token rule's closing boundary (`end_b64!()`) may have taken the byte after
            // the token, which is not part of the secret.
            let end =
                if rule.ends_with_boundary && me > ms && !is_token_byte(self.buf[self.idx(me - 1)])
                {
                    me - 1
                } else {
                    me
                };
            return (ms, end, true);
        }
        if self.shared
            && let Some(tail) = &built.value
            && let Some(span) = self.assignment_secret(tail, ms, me, b)
        {
            return span;
        }
        let mut caps = built.regex.create_captures();
        let input = Input::new(&self.buf)
            .range(self.idx(ms)..self.idx(b))
            .anchored(regex_automata::Anchored::Yes);
        built.regex.search_captures(&input, &mut caps);
        built
            .secret_groups
            .iter()
            .find_map(|&(g, quoted)| caps.get_group(g).map(|s| (s.start, s.end, quoted)))
            .map_or((ms, me, true), |(s, e, q)| {
                (self.base + s, self.base + e, q)
            })
    }

    /// The secret span of an assignment rule's match `[ms, me)` (window end `b`), found
    /// without the whole pattern's capture search, or `None` to fall back to it.
    ///
    /// The key is the match's first byte (a boundary or a key byte) and the key bytes after
    /// it; the separator starts with a byte that is not one, so every path of the match
    /// leaves the key at the same place `k`. Leftmost-first takes the separator's
    /// preferred path (what its own anchored search at `k` returns, ending at `v`) if any
    /// value can follow it; the value's own anchored search at `v` over the same window
    /// then ends where the match does, at `me`. When it does, the value's first byte says
    /// which form it is (a bare value never starts with a quote or `\`): bare is `[v, me)`,
    /// single-quoted `[v + 1, me - 1)`, and double-quoted, whose escapes need care, gets a
    /// capture search of the value alone.
    fn assignment_secret(
        &self,
        tail: &AssignmentTail,
        ms: usize,
        me: usize,
        b: usize,
    ) -> Option<(usize, usize, bool)> {
        let anchored = |from: usize| {
            Input::new(&self.buf)
                .range(self.idx(from)..self.idx(b))
                .anchored(regex_automata::Anchored::Yes)
        };
        let k = ms
            + 1
            + self.buf[self.idx(ms) + 1..self.idx(me)]
                .iter()
                .take_while(|&&c| is_key_byte(c))
                .count();
        let v = self.base + tail.sep.search(&anchored(k))?.end();
        if self.base + tail.value.search(&anchored(v))?.end() != me || v >= me {
            return None;
        }
        match self.buf[self.idx(v)] {
            b'\'' => Some((v + 1, me - 1, true)),
            b'"' | b'\\' | b'{' => {
                let mut caps = tail.value.create_captures();
                tail.value.search_captures(&anchored(v), &mut caps);
                tail.groups
                    .iter()
                    .find_map(|&(g, quoted)| caps.get_group(g).map(|s| (s.start, s.end, quoted)))
                    .map(|(s, e, q)| (self.base + s, self.base + e, q))
            }
            _ => Some((v, me, false)),
        }
    }

    /// Find the match of `rule` containing `hit` within `[a, b)`: returns the match's end
    /// and the secret span with whether it was quoted. One search per hit: the definition
    /// that [`SanitizeStream::shared_verdict`] reproduces.
    fn find_containing(
        &self,
        rule: &Rule,
        hit: Hit,
        a: usize,
        b: usize,
    ) -> Option<(usize, usize, usize, usize, bool)> {
        let mut from = if rule.anchored() { hit.start } else { a };
        while from < b {
            if rule.anchored() && from > hit.start {
                return None;
            }
            let (ms, me) = self.next_match(rule, from, b)?;
            if ms > hit.start {
                return None;
            }
            if me >= hit.end {
                let (ss, se, quoted) = self.secret(rule, ms, me, b);
                return Some((ms, me, ss, se, quoted));
            }
            from = me.max(ms + 1);
        }
        None
    }

    /// For an unanchored rule: the match containing `hit` in `[a, b)` and whether the
    /// guard accepts its secret, as `(match end, secret start, secret end, accepted)`,
    /// walking the window's matches in `memo` (searching only past what earlier hits
    /// of the same window already found).
    fn shared_verdict(
        &self,
        rule: &Rule,
        hit: Hit,
        a: usize,
        b: usize,
        memo: &mut WindowMatches,
    ) -> Option<(usize, usize, usize, bool)> {
        if memo.window != Some((a, b)) {
            memo.window = Some((a, b));
            memo.found.clear();
            memo.resume = Some(a);
        }
        let mut i = 0;
        loop {
            if i == memo.found.len() {
                let from = memo.resume.filter(|&f| f < b)?;
                match self.next_match(rule, from, b) {
                    Some((ms, me)) => {
                        memo.found.push(WindowMatch {
                            start: ms,
                            end: me,
                            verdict: None,
                        });
                        memo.resume = Some(me.max(ms + 1));
                    }
                    None => {
                        memo.resume = None;
                        return None;
                    }
                }
            }
            let m = &mut memo.found[i];
            if m.start > hit.start {
                return None;
            }
            if m.end >= hit.end {
                let (ss, se, accepted) = match m.verdict {
                    Some(v) => v,
                    None => {
                        let (ss, se, quoted) = self.secret(rule, m.start, m.end, b);
                        let v = (ss, se, self.accepts(rule, m.start, ss, se, quoted));
                        m.verdict = Some(v);
                        v
                    }
                };
                return Some((m.end, ss, se, accepted));
            }
            i += 1;
        }
    }

    /// Whether the guard of `rule` lets the secret `[start, end)` of the match starting at
    /// `ms` be redacted.
    fn accepts(&self, rule: &Rule, ms: usize, start: usize, end: usize, quoted: bool) -> bool {
        let value = &self.buf[self.idx(start)..self.idx(end)];
        if value.is_empty() {
            return false;
        }
        // A name between colons (`…:123456789012:secret:prod/db-Xk3Rv9`, an ARN or URN)
        // is a path segment, not a key: the match is `:name:value` with nothing else.
        if rule.assignment
            && start > ms + 2
            && self.buf[self.idx(ms)] == b':'
            && self.buf[self.idx(start - 1)] == b':'
            && self.buf[self.idx(ms + 1)..self.idx(start - 1)]
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
        {
            return false;
        }
        if let Some(floor) = rule.entropy
            && shannon_entropy(value) < floor
        {
            return false;
        }
        match rule.guard {
            Guard::Token => {
                let lower = value.to_ascii_lowercase();
                let has = |needle: &[u8]| memmem::find(&lower, needle).is_some();
                !(has(b"example")
                    || has(b"xxxxxxxx")
                    || has(b"placeholder")
                    || has(b"redacted")
                    || value.iter().all(|&b| b == value[0]))
            }
            Guard::Generic | Guard::Base64 => {
                if is_placeholder(value)
                    || (!quoted && looks_like_code(value))
                    || self.names_no_secret(start)
                {
                    return false;
                }
                !(rule.guard == Guard::Base64 && value.iter().all(u8::is_ascii_hexdigit))
            }
        }
    }

    /// Whether the assignment whose value starts at `start` has a key that names no secret
    /// ([`names_no_secret`]), or is a test result (`PASS: tests/t0001.sh`: the upper-case
    /// `PASS` of automake and DejaGnu, then `:`).
    fn names_no_secret(&self, start: usize) -> bool {
        let key = self.key_before(start);
        let name = &self.buf[key.clone()];
        if names_no_secret(name) {
            return true;
        }
        name == b"PASS" && self.buf[key.end..self.idx(start)].contains(&b':')
    }

    /// The key name of the assignment whose value starts at `start`: the key bytes before
    /// its separator (`sep!()` read backwards: an opening quote, spaces, `=`, `:`, `=>` or
    /// `:=`, spaces, a closing quote and a `\\`), at most 64 bytes of it, as a range of the
    /// buffer; empty when there is none in it.
    fn key_before(&self, start: usize) -> std::ops::Range<usize> {
        let text = &self.buf[..self.idx(start)];
        let mut k = text.len();
        let back = |k: &mut usize, pred: &dyn Fn(u8) -> bool, most: usize| {
            let mut n = 0;
            while *k > 0 && n < most && pred(text[*k - 1]) {
                *k -= 1;
                n += 1;
            }
        };
        back(&mut k, &|c| matches!(c, b'"' | b'\'' | b'\\'), 2);
        back(&mut k, &is_regex_space, 64);
        back(&mut k, &|c| matches!(c, b'=' | b':' | b'>'), 2);
        back(&mut k, &is_regex_space, 64);
        back(&mut k, &|c| matches!(c, b'"' | b'\'' | b'`' | b'\\'), 2);
        let end = k;
        back(&mut k, &is_key_byte, 64);
        k..end
    }

    /// Whether `rule` can have a match containing `hit` in `[a, b)`, by its [`Precheck`]:
    /// a necessary condition, so `false` answers as the regex would.
    fn may_match(&self, rule: &Rule, precheck: Precheck, hit: Hit, a: usize, b: usize) -> bool {
        if a >= b {
            return false;
        }
        let window = &self.buf[self.idx(a)..self.idx(b)];
        // Offsets into `window` at or before which the match's leading part must start.
        let upto = |len: usize| (hit.start.saturating_sub(a) + len).min(window.len());
        match precheck {
            Precheck::Leads(words) => words
                .iter()
                .any(|w| find_ci(&window[..upto(w.len())], w.as_bytes())),
            Precheck::Header => rule.keywords.iter().any(|k| {
                ci_positions(window, k.as_bytes())
                    .any(|p| header_sep_follows(&window[p + k.len()..]))
            }),
            // Need the rule's earlier hits: checked in `decide_regex`.
            Precheck::Command | Precheck::Named(_) => true,
            // Checked by the scan, with the bytes after the keyword.
            Precheck::Userinfo => true,
            Precheck::Holds(words) => words.iter().any(|w| find_ci(window, w.as_bytes())),
            Precheck::Column => at_most_two_words(&window[hit.start.saturating_sub(a)..]),
            Precheck::Flag => memchr::memchr_iter(b'-', &window[..upto(1)]).any(|d| {
                let flag = &window[d + 1..];
                // Names are lower-case: most differ from the flag in their first byte.
                let first = flag.first().map(u8::to_ascii_lowercase);
                rule.names.iter().any(|name| {
                    flag.len() > name.len()
                        && name.first() == first.as_ref()
                        && flag[..name.len()].eq_ignore_ascii_case(name)
                        && (flag[name.len()] == b'=' || is_regex_space(flag[name.len()]))
                })
            }),
        }
    }

    /// Whether a match of `rule` starts at `at` and ends by `b`.
    fn starts_match(&self, rule: &Rule, at: usize, b: usize) -> bool {
        let input = Input::new(&self.buf)
            .range(self.idx(at)..self.idx(b))
            .anchored(regex_automata::Anchored::Yes)
            .earliest(true);
        rule.compiled.get().regex.is_match(input)
    }

    /// For a rule over several lines: whether the hit's line holds what the part of a
    /// match on it must (`Builtin::first_line`), or `None` until that line is complete.
    /// A [`Precheck::Leads`] rule's leading word, or a [`Precheck::Header`] rule's keyword
    /// and separator, is looked for in that line first.
    /// `a` is the hit's window start.
    fn first_line_holds(&self, rule: &Rule, hit: Hit, a: usize) -> Option<bool> {
        let Some(check) = rule.compiled.first_line() else {
            return Some(true);
        };
        let b = self.window_end_after(rule, hit, 0)?;
        // A match starting on the hit's line begins there with one of the leading words,
        // which hold no line break, or holds its keyword and separator there (the
        // `first_line` pattern of a header rule starts with them): found in the line's part
        // of the window, before the search of the line.
        if rule.lines_before == 0
            && let Some(precheck @ (Precheck::Leads(_) | Precheck::Header)) = rule.precheck
            && !self.may_match(rule, precheck, hit, a, b)
        {
            return Some(false);
        }
        let input = if rule.anchored() {
            Input::new(&self.buf)
                .range(self.idx(hit.start)..self.idx(b))
                .anchored(regex_automata::Anchored::Yes)
        } else {
            Input::new(&self.buf).range(self.idx(a)..self.idx(b))
        };
        Some(check.is_match(input))
    }

    fn decide_regex(
        &mut self,
        r: usize,
        rule: &Rule,
        hit: Hit,
        memo: &mut WindowMatches,
    ) -> Decision {
        if hit.start < self.next[r] {
            return Decision::Done;
        }
        let a = self.window_start(r, rule, hit);
        if self.shared && matches!(rule.precheck, Some(Precheck::Command | Precheck::Named(_))) {
            // Every match holds an anchor hit, in the window, at or before each of its
            // hits; hits are decided in order, so the last anchor is known. An anchor
            // before `next[r]` is in no window from here on. Whether a hit is one the scan
            // found, in a window no smaller than this one.
            if hit.anchor {
                self.word_hit[r] = Some(hit.start);
            } else if self.word_hit[r].is_none_or(|p| p < a) {
                return Decision::Done;
            }
        }
        if self.shared && rule.lines_after > 0 {
            match self.first_line_holds(rule, hit, a) {
                None => return Decision::Wait,
                Some(false) => return Decision::Done,
                Some(true) => {}
            }
        }
        let Some(b) = self.window_end(rule, hit) else {
            return Decision::Wait;
        };
        if let Some(byte) = rule.needs
            && memchr::memchr(byte, &self.buf[self.idx(a)..self.idx(b)]).is_none()
        {
            return Decision::Done;
        }
        if self.shared && rule.precheck == Some(Precheck::Command) {
            // A match starts at a word-start hit where an anchored search finds one, and
            // lies within that hit's own window (one line, the rule's length).
            if hit.anchor && self.starts_match(rule, hit.start, b) {
                self.viable_hit[r] = Some(hit.start);
            }
            if self.viable_hit[r].is_none_or(|p| p < a) {
                return Decision::Done;
            }
        }
        if self.shared
            && rule.assignment
            && !may_assign(&self.buf, self.base, &self.engine.key_ends[r], hit, a, b)
        {
            return Decision::Done;
        }
        if self.shared
            && let Some(precheck) = rule.precheck
            && !self.may_match(rule, precheck, hit, a, b)
        {
            return Decision::Done;
        }
        let verdict = if self.shared && !rule.anchored() {
            self.shared_verdict(rule, hit, a, b, memo)
        } else {
            self.find_containing(rule, hit, a, b)
                .map(|(ms, me, ss, se, quoted)| {
                    (me, ss, se, self.accepts(rule, ms, ss, se, quoted))
                })
        };
        if let Some((me, ss, se, true)) = verdict
            && (rule.lines_before == 0 || ss >= hit.start)
        {
            self.next[r] = me;
            self.add_span(ss, se, r);
        }
        Decision::Done
    }

    fn decide_block(&mut self, r: usize, rule: &Rule, hit: Hit) -> Decision {
        let (start, mut from) = match hit.block {
            Some(state) => state,
            None => {
                if hit.start < self.next[r] {
                    return Decision::Done;
                }
                let Some(b) = self.window_end(rule, hit) else {
                    return Decision::Wait;
                };
                let a = self.window_start(r, rule, hit);
                match self.find_containing(rule, hit, a, b) {
                    Some((_, me, ms, _, _)) if ms <= hit.start => {
                        // For a header the whole match is the span start; find_containing
                        // reports the match start when there is no secret group.
                        let state = (ms, me);
                        if let Some(front) = self.pending[r].front_mut() {
                            front.block = Some(state);
                        }
                        state
                    }
                    _ => return Decision::Done,
                }
            }
        };
        let kind = rule.block.unwrap_or(BlockEnd::PemDashes);
        let (marker, closing): (&[u8], &[u8]) = match kind {
            BlockEnd::PemDashes => (b"-----END", b"-----"),
            BlockEnd::Ssh2Dashes => (b"---- END", b"----"),
            BlockEnd::PuttyMac => (b"Private-MAC: ", b""),
        };
        let end = self.end();
        let cap_end = start + BLOCK_CAP;
        loop {
            let limit = end.min(cap_end);
            let found = if from < limit {
                memmem::find(&self.buf[self.idx(from)..self.idx(limit)], marker).map(|i| from + i)
            } else {
                None
            };
            let Some(p) = found else {
                if end >= cap_end || self.finished {
                    self.close_block(r, start, limit);
                    return Decision::Done;
                }
                let resume = end.saturating_sub(marker.len() - 1).max(from);
                if let Some(front) = self.pending[r].front_mut() {
                    front.block = Some((start, resume));
                }
                return Decision::Wait;
            };
            let tail = p + marker.len();
            match self.block_close(kind, tail, closing) {
                Some(Some(close)) => {
                    self.close_block(r, start, close);
                    return Decision::Done;
                }
                // Not a valid end line: keep looking after it.
                Some(None) => from = p + 1,
                None => {
                    if let Some(front) = self.pending[r].front_mut() {
                        front.block = Some((start, p));
                    }
                    return Decision::Wait;
                }
            }
        }
    }

    /// After an end marker at `tail`: `Some(Some(end))` when the end line is complete,
    /// `Some(None)` when this is not a valid end line, `None` when more text is needed.
    fn block_close(&self, kind: BlockEnd, tail: usize, closing: &[u8]) -> Option<Option<usize>> {
        let end = self.end();
        let limit = tail + END_LABEL_MAX;
        let avail = &self.buf[self.idx(tail.min(end))..self.idx(limit.min(end))];
        let line = memchr2(b'\n', b'\r', avail).map_or(avail, |i| &avail[..i]);
        match kind {
            BlockEnd::PuttyMac => {
                let hex = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
                let line_ended = line.len() < avail.len();
                if hex < line.len() || line_ended || tail + hex >= limit || self.finished {
                    Some(Some(tail + hex))
                } else {
                    None
                }
            }
            BlockEnd::PemDashes | BlockEnd::Ssh2Dashes => {
                if let Some(i) = memmem::find(line, closing) {
                    return Some(Some(tail + i + closing.len()));
                }
                let line_ended = line.len() < avail.len();
                if line_ended || tail + avail.len() >= limit || self.finished {
                    Some(None)
                } else {
                    None
                }
            }
        }
    }

    fn close_block(&mut self, r: usize, start: usize, end: usize) {
        self.next[r] = end;
        self.add_span(start, end, r);
    }

    /// The first byte that must still be held back.
    fn safe_point(&self) -> usize {
        let end = self.end();
        if self.finished {
            return end;
        }
        let engine = &self.engine;
        let mut safe = end;
        // A keyword that has not (fully) arrived yet lies on the last line, so its match
        // starts on that line and no more than the longest rule before the tail (a rule
        // whose match may start lines before its keyword redacts nothing before it).
        if engine.max_rule_len > 0 {
            let lo = (end + 1).saturating_sub(engine.max_rule_len).max(self.base);
            let line = memrchr2(b'\n', b'\r', &self.buf[self.idx(lo)..]).map_or(lo, |i| lo + i + 1);
            safe = safe.min(line);
        }
        // A literal whose first bytes are the tail.
        if engine.max_literal_len > 1 {
            let from = end
                .saturating_sub(engine.max_literal_len - 1)
                .max(self.emitted)
                .max(self.base);
            for i in from..end {
                let tail = &self.buf[self.idx(i)..];
                if engine
                    .literals
                    .iter()
                    .any(|(v, _)| v.len() > tail.len() && v.starts_with(tail))
                {
                    safe = safe.min(i);
                    break;
                }
            }
        }
        // Hits not settled yet.
        for (r, queue) in self.pending.iter().enumerate() {
            let rule = &engine.rules[r];
            for hit in queue {
                let bound = match hit.block {
                    Some((start, _)) => start,
                    None if rule.lines_before > 0 => hit.start,
                    None => self.window_start(r, rule, *hit),
                };
                safe = safe.min(bound);
            }
        }
        // Never cut a redaction (or a group of overlapping ones) in two.
        let mut group: Option<(usize, usize)> = None;
        for &(s, e) in self.spans.keys() {
            if s >= safe {
                break;
            }
            group = match group {
                Some((gs, ge)) if s < ge => Some((gs, ge.max(e))),
                _ => Some((s, e)),
            };
            if let Some((gs, ge)) = group
                && ge > safe
            {
                safe = gs;
                break;
            }
        }
        safe.max(self.emitted)
    }

    /// Release `[emitted, safe)`, replacing redacted spans.
    fn emit(&mut self, safe: usize, out: &mut Vec<u8>) {
        let mut pos = self.emitted;
        while let Some((&(s, e), &label)) = self.spans.first_key_value() {
            if s >= safe {
                break;
            }
            self.spans.remove(&(s, e));
            self.counts[label] += 1;
            let mut group_end = e;
            while let Some((&(s2, e2), &l2)) = self.spans.first_key_value() {
                if s2 >= group_end {
                    break;
                }
                self.spans.remove(&(s2, e2));
                self.counts[l2] += 1;
                group_end = group_end.max(e2);
            }
            let s = s.max(pos);
            self.escapes.copy(&self.buf, self.base, pos, s, out);
            out.extend_from_slice(&self.engine.replacements[label]);
            // Escapes inside the span follow its replacement.
            self.escapes.release_before(group_end, out);
            pos = group_end.max(pos);
        }
        if pos <= safe {
            self.escapes.copy(&self.buf, self.base, pos, safe, out);
            pos = safe;
        }
        self.emitted = pos;
    }

    /// Drop bytes no longer needed: all but one byte of context before the emitted point
    /// (and the lines a rule may look back on), and what the automaton must re-read.
    fn compact(&mut self) {
        let keep = self
            .emitted
            .saturating_sub(1 + self.engine.max_lookback)
            .min(self.scanned.saturating_sub(self.engine.max_pattern_len))
            .max(self.base);
        let drop = keep - self.base;
        if drop > 0 && (drop >= 4096 || drop * 2 >= self.buf.len()) {
            self.buf.drain(..drop);
            self.base = keep;
        }
    }
}

/// Whether an assignment rule (`key_prefix!()`, key names, `sep!()`, value) can have a
/// match containing `hit` in `[a, b)`: a necessary condition, so `false` answers as the
/// regex would, for the cost of a few byte tests instead of a search of the line.
///
/// The hit's keyword is made of key bytes and starts with a letter, so in a match it
/// lies either in the key or in the value (separator bytes are never key bytes).
/// `ends` are the rule's key-name ends ([`Engine::key_ends`]).
fn may_assign(buf: &[u8], base: usize, ends: &[Vec<u8>], hit: Hit, a: usize, b: usize) -> bool {
    may_be_in_key(buf, base, ends, hit, a, b) || may_be_in_value(buf, base, ends, hit, a)
}

/// In the key: the key ends where the run of key bytes after the hit ends, with one of
/// the rule's key-name ends, and the separator (`\\?["'`]?\s{0,3}` then `=` or `:`)
/// starts right there.
fn may_be_in_key(buf: &[u8], base: usize, ends: &[Vec<u8>], hit: Hit, a: usize, b: usize) -> bool {
    let after = &buf[hit.end - base..b - base];
    let key_end = after.iter().take_while(|&&c| is_key_byte(c)).count();
    if !separator_follows(&after[key_end..], b"\"'`", KEY_PAD) {
        return false;
    }
    ends_with_key_name(&buf[a - base..hit.end - base + key_end], ends)
}

/// In the value: some `=` or `:` before the hit starts a separator, right after a key
/// name (up to three spaces, a quote and a `\` after it: `sep!()` read backwards), and
/// after it and at most [`VALUE_INDENT`] spaces the value starts, either quoted (`"`
/// or `\"` with no unescaped `"` up to the hit; `'` with no `'` up to it) or bare,
/// with no space, quote, `,`, `;` or `\` between its start and the hit.
fn may_be_in_value(buf: &[u8], base: usize, ends: &[Vec<u8>], hit: Hit, a: usize) -> bool {
    if a >= hit.start {
        return false;
    }
    let before = &buf[a - base..hit.start - base];
    let value_from = |v: usize| {
        let v = v + before[v.min(before.len())..]
            .iter()
            .take(VALUE_INDENT)
            .take_while(|&&c| is_regex_space(c))
            .count();
        let rest = &before[v.min(before.len())..];
        match rest.first() {
            // `\"` or `"`: no unescaped `"` up to the hit.
            Some(b'"' | b'\\') => {
                let open = usize::from(rest[0] == b'\\') + 1;
                rest.get(open - 1) == Some(&b'"')
                    && memchr::memchr_iter(b'"', &rest[open.min(rest.len())..])
                        .all(|q| rest[open + q - 1] == b'\\')
            }
            Some(b'\'') => single_quoted_open(&rest[1..]),
            Some(b'{')
                if !rest[1..]
                    .iter()
                    .any(|&c| c == b'{' || c == b'}' || is_regex_space(c)) =>
            {
                true
            }
            _ => bare_value_reaches(rest),
        }
    };
    memchr::memchr2_iter(b'=', b':', before).any(|p| {
        // `=>` and `:=` are one separator: the value may start after either byte. The
        // value is looked at first: it fails sooner than the key names are compared.
        (value_from(p + 1) || (matches!(before.get(p + 1), Some(b'>' | b'=')) && value_from(p + 2)))
            && key_name_before(&before[..p], ends)
    })
}

/// Whether the scan queues `hit` for `rule` (`hay` is the buffer, from
/// absolute offset `base`; `next` the rule's next match start so far; `last_anchor` its
/// last anchor hit queued), judged from the bytes around the hit before its line is
/// looked for: `None` to drop it, else whether it is an anchor (see [`Hit::anchor`]). A regex rule settles a hit inside its last match at once; a
/// [`Precheck::Command`] or [`Precheck::Named`] rule one that is no anchor with no
/// anchor before it in its window; an anchored [`Precheck::Header`] rule one whose keyword
/// is not followed by its separator; a [`Precheck::Userinfo`] rule a `://` not followed
/// by `user:password@`. Each is known here already, from the text up to the hit (and the
/// few bytes after it, when they are there) and the widest window the hit can have;
/// `decide_regex` checks again in its own window. Saves the line, the queue and the
/// decision for most hits of short command names, secret-name keywords and URLs.
fn may_count(
    rule: &Rule,
    hay: &[u8],
    base: usize,
    hit: &mut ScanHit<'_>,
    next: usize,
    last_anchor: &mut Option<usize>,
) -> Option<bool> {
    let (start, end) = (hit.start, hit.end);
    if rule.block.is_some() {
        return Some(false);
    }
    if start < next {
        return None;
    }
    let keep = |holds: bool| holds.then_some(false);
    let Some(precheck) = rule.precheck else {
        return Some(false);
    };
    let (at, after) = (start - base, &hay[end - base..]);
    // No further back than `window_start` can reach.
    let lo = window_floor(rule, next, end, base).min(start);
    let anchor = match precheck {
        // `\b` before the keyword's word byte; at the buffer's first byte the byte before
        // may be gone, which only lets more hits through.
        Precheck::Command => at == 0 || !is_word_byte(hay[at - 1]),
        Precheck::Named(_) => {
            hit.may_anchor(hay, base) && rule.compiled.is_anchor(hay, lo - base..at)
        }
        // `\?["']?\s{0,3}` then `:` or `=`: six bytes decide it.
        Precheck::Header if rule.anchored() && after.len() >= 6 => {
            return keep(header_sep_follows(after));
        }
        Precheck::Userinfo => return keep(userinfo_follows(after)),
        // The keyword ends the name with the blank after it: the name's run of key bytes
        // starts the line or follows a blank, and the value ends the line. Looked at no
        // further than the rule's length (the window's reach).
        Precheck::Column => {
            let name_start = hay[..at]
                .iter()
                .rev()
                .take(64)
                .take_while(|&&c| is_key_byte(c))
                .count();
            let opens =
                at == name_start || (name_start < 64 && is_regex_space(hay[at - name_start - 1]));
            return keep(
                opens && column_value_follows(&hay[at..(at + rule.max_len).min(hay.len())]),
            );
        }
        Precheck::Leads(_) | Precheck::Header | Precheck::Flag | Precheck::Holds(_) => {
            return Some(false);
        }
    };
    if anchor {
        // Hits come in order of their end: a longer keyword may start earlier.
        *last_anchor = Some(last_anchor.map_or(start, |p| p.max(start)));
        return Some(true);
    }
    keep(last_anchor.is_some_and(|p| p >= lo))
}

/// A keyword hit as the scan sees it: where it is, and whether an opener of some
/// secret-name rule ends before it, asked at most once for all of them (in the widest
/// window any of them has, which holds each one's).
struct ScanHit<'e> {
    anchors: &'e NamedAnchors,
    /// The hit's absolute start and end.
    start: usize,
    end: usize,
    answer: Option<bool>,
}

impl<'e> ScanHit<'e> {
    fn new(anchors: &'e NamedAnchors, (start, end): (usize, usize)) -> Self {
        ScanHit {
            anchors,
            start,
            end,
            answer: None,
        }
    }

    /// `false` when no secret-name rule's opener ends before the hit (`hay` holds the
    /// text from absolute offset `base`).
    fn may_anchor(&mut self, hay: &[u8], base: usize) -> bool {
        let (start, end, anchors) = (self.start, self.end, self.anchors);
        *self.answer.get_or_insert_with(|| {
            // No later than any rule's `window_floor`.
            let lo = end.saturating_sub(anchors.max_len).max(base).min(start);
            anchors.may_anchor(hay, lo - base..start - base)
        })
    }
}

/// How far back a window of `rule` for a hit ending at `end` may start, before lines are
/// counted: after the rule's last match (`next`), no further than its length, and within
/// the buffer (from `base`).
fn window_floor(rule: &Rule, next: usize, end: usize, base: usize) -> usize {
    next.max(end.saturating_sub(rule.max_len)).max(base)
}

/// For an assignment rule, whether the scan queues `hit`: [`may_assign`] in the widest
/// window the hit can have, once its line is there (`end` is the end of the text so far).
fn may_assign_in_line(
    rule: &Rule,
    hay: &[u8],
    base: usize,
    ends: &[Vec<u8>],
    hit: Hit,
    next: usize,
    end: usize,
) -> bool {
    if rule.lines_after > 0 || rule.lines_before > 0 {
        return true;
    }
    // `window_start` and `window_end_after` for one line, from what the scan has seen of
    // it; a start not known yet is taken no later than it can be.
    let lo = window_floor(rule, next, hit.end, base);
    let a = hit.line.known_start(lo).unwrap_or(lo);
    let limit = (hit.start + rule.max_len).max(hit.end);
    let b = match hit.line.known_break(limit.min(end)) {
        Some(Some(brk)) => brk,
        Some(None) if end > limit => limit,
        _ => return true,
    };
    may_assign(hay, base, ends, hit, a.min(hit.start), b)
}

/// Whether `rest` (the text after a `://`) may start with `userinfo!()`: a `:` then an
/// `@` before any byte user info cannot hold, within its length; true when the text ends
/// first.
fn userinfo_follows(rest: &[u8]) -> bool {
    let most = USERINFO_MAX + 1;
    let stop = rest
        .iter()
        .take(most)
        .position(|&c| c.is_ascii_whitespace() || c == 0x0b || b"@/\"'<>\\".contains(&c));
    match stop {
        Some(i) => rest[i] == b'@' && rest[..i].contains(&b':'),
        None => rest.len() <= most,
    }
}

/// The line around the keyword at `[a, e)` of `hay` (offsets into it), looked at no
/// further than `reach` bytes (the longest rule) from the keyword.
fn line_around(hay: &[u8], a: usize, e: usize, reach: usize) -> Line {
    let lo = e.saturating_sub(reach);
    let (start, start_closed) = memrchr2(b'\n', b'\r', &hay[lo.min(a)..a])
        .map_or((lo.min(a), false), |i| (lo.min(a) + i + 1, true));
    let hi = (a + reach).max(e).min(hay.len());
    let (end, end_closed) =
        memchr2(b'\n', b'\r', &hay[e..hi]).map_or((hi, false), |i| (e + i, true));
    Line {
        start,
        start_closed,
        end,
        end_closed,
    }
}

/// Whether `needle` occurs in `hay`, ASCII case-insensitively.
fn find_ci(hay: &[u8], needle: &[u8]) -> bool {
    ci_positions(hay, needle).next().is_some()
}

/// Where `needle` (non-empty) starts in `hay`, ASCII case-insensitively.
fn ci_positions<'h>(hay: &'h [u8], needle: &'h [u8]) -> impl Iterator<Item = usize> + 'h {
    let first = needle.first().copied().unwrap_or(0);
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), hay).filter(
        move |&p| {
            hay.len() - p >= needle.len() && hay[p..p + needle.len()].eq_ignore_ascii_case(needle)
        },
    )
}

/// For a hit in a [`Precheck::Column`] name (`text` from it on): the name and one value
/// of at least 12 bytes (the rule's shortest) are the line's last words; while the line's
/// end is not in view, at most two words so far.
fn column_value_follows(text: &[u8]) -> bool {
    let Some(end) = memchr2(b'\n', b'\r', text) else {
        return at_most_two_words(text);
    };
    let mut words = text[..end]
        .split(|&c| is_regex_space(c))
        .filter(|w| !w.is_empty());
    words.next().is_some() && words.next().is_some_and(|v| v.len() >= 12) && words.next().is_none()
}

/// Whether `text` (from a hit to its window's end) holds at most two words, runs of
/// bytes that are not `\s`, before its first line break ([`Precheck::Column`]).
fn at_most_two_words(text: &[u8]) -> bool {
    let line = memchr2(b'\n', b'\r', text).map_or(text, |i| &text[..i]);
    let mut words = 0;
    let mut in_word = false;
    for &c in line {
        let space = is_regex_space(c);
        if !space && !in_word {
            words += 1;
            if words > 2 {
                return false;
            }
        }
        in_word = !space;
    }
    true
}

/// Whether `rest` starts with `header_sep!()`: `\\?["']?\s{0,3}[:=]`.
fn header_sep_follows(rest: &[u8]) -> bool {
    separator_follows(rest, b"\"'", 3)
}

/// Whether `rest` starts with a separator: an optional `\`, an optional one of `quotes`,
/// up to `pad` spaces, then `:` or `=` (`header_sep!()` with 3; `sep!()` up to its `[:=]`
/// with [`KEY_PAD`]).
fn separator_follows(rest: &[u8], quotes: &[u8], pad: usize) -> bool {
    let mut i = usize::from(rest.first() == Some(&b'\\'));
    if rest.get(i).is_some_and(|c| quotes.contains(c)) {
        i += 1;
    }
    i += rest
        .iter()
        .skip(i)
        .take(pad)
        .take_while(|&&c| is_regex_space(c))
        .count();
    matches!(rest.get(i), Some(b':' | b'='))
}

/// A byte `end_b64!()` does not take (`[A-Za-z0-9+/=_-]`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
}

/// Whether `key` ends with one of `ends` (ASCII case-insensitive); `true` when `ends` is
/// empty (no key-name check).
fn ends_with_key_name(key: &[u8], ends: &[Vec<u8>]) -> bool {
    ends.is_empty()
        || key.last().is_some_and(|&last| {
            // The last bytes first: most ends differ there.
            ends.iter().any(|end| {
                key.len() >= end.len()
                    && end.last().is_some_and(|e| e.eq_ignore_ascii_case(&last))
                    && key[key.len() - end.len()..].eq_ignore_ascii_case(end)
            })
        })
}

/// Whether `before` (the text from the window's start up to a `=` or `:`) can end with a
/// key name and the part of `sep!()` before that byte, `\\?["'`]?\s{0,40}`: read backwards,
/// the spaces, a quote and a backslash are each determined by the bytes (a key name ends
/// with a key byte), so what is left must end with one of `ends`.
fn key_name_before(before: &[u8], ends: &[Vec<u8>]) -> bool {
    if ends.is_empty() {
        return true;
    }
    let mut k = before.len();
    let spaces = before
        .iter()
        .rev()
        .take(KEY_PAD)
        .take_while(|&&c| is_regex_space(c))
        .count();
    k -= spaces;
    if k > 0 && matches!(before[k - 1], b'"' | b'\'' | b'`') {
        k -= 1;
    }
    if k > 0 && before[k - 1] == b'\\' {
        k -= 1;
    }
    ends_with_key_name(&before[..k], ends)
}

/// Key names that end like a secret's but name something that is not one: pagination
/// cursors (`page_token`), database and cache keys (`primary_key`, `sort_key`), public
/// keys, and the hashes of a detect-secrets baseline (`hashed_secret`).
const NOT_SECRET_NAMES: &[&[u8]] = &[
    b"pagetoken",
    b"nexttoken",
    b"continuationtoken",
    b"paginationtoken",
    b"synctoken",
    b"cursortoken",
    b"hashedsecret",
    b"primarykey",
    b"foreignkey",
    b"sortkey",
    b"partitionkey",
    b"rangekey",
    b"hashkey",
    b"rowkey",
    b"cachekey",
    b"publickey",
    b"pubkey",
    b"idempotencykey",
    b"routingkey",
    b"dedupkey",
    b"deduplicationkey",
    b"objectkey",
    b"lookupkey",
    b"groupkey",
    b"messagekey",
    b"querykey",
    b"indexkey",
    b"uniquekey",
];

/// Whether the assignment key `key` names a value that is not a secret
/// ([`NOT_SECRET_NAMES`], compared without `_`, `-` and `.` and ASCII case).
fn names_no_secret(key: &[u8]) -> bool {
    let mut tail = [0u8; 32];
    let mut n = 0;
    for &c in key.iter().rev() {
        if n == tail.len() {
            break;
        }
        if !matches!(c, b'_' | b'-' | b'.') {
            tail[tail.len() - 1 - n] = c.to_ascii_lowercase();
            n += 1;
        }
    }
    let tail = &tail[tail.len() - n..];
    NOT_SECRET_NAMES.iter().any(|name| tail.ends_with(name))
}

/// A byte of a generic key name (`[A-Za-z0-9_.-]`).
fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Whether `text`, after a `'` opening a single-quoted value, can still be inside it: every
/// `'` in it is part of a `''` or `'\\''` written for a quote in the value (or may become
/// one with the bytes after).
fn single_quoted_open(text: &[u8]) -> bool {
    let mut i = 0;
    while let Some(q) = memchr::memchr(b'\'', &text[i..]) {
        let rest = &text[i + q..];
        let pair = [b"''".as_slice(), b"'\\''".as_slice()]
            .into_iter()
            .find(|p| rest.starts_with(p) || p.starts_with(rest));
        match pair {
            Some(p) => i += q + p.len().min(rest.len()),
            None => return false,
        }
    }
    true
}

/// Whether `text` can be the start of a bare value, up to a hit inside it: bytes
/// [`is_bare_value_byte`] takes, a `\\` escaping a byte that is no space or quote, and
/// `'\\''` (each may be cut short by the hit).
fn bare_value_reaches(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if is_bare_value_byte(c) {
            i += 1;
        } else if c == b'\\' {
            match text.get(i + 1) {
                None => return true,
                Some(&n) if !is_regex_space(n) && !matches!(n, b'"' | b'\'') => i += 2,
                Some(_) => return false,
            }
        } else if c == b'\'' {
            let rest = &text[i..];
            let esc = b"'\\''".as_slice();
            if rest.starts_with(esc) {
                i += esc.len();
            } else {
                return esc.starts_with(rest);
            }
        } else {
            return false;
        }
    }
    true
}

/// A byte a bare assignment value may hold after its first (`[^\s"'`,;\\]`).
fn is_bare_value_byte(b: u8) -> bool {
    !is_regex_space(b) && !matches!(b, b'"' | b'\'' | b'`' | b',' | b';' | b'\\')
}

/// `\s` in the rules' regexes: ASCII whitespace including vertical tab (Unicode is off).
fn is_regex_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fn add_span(spans: &mut BTreeMap<(usize, usize), usize>, start: usize, end: usize, label: usize) {
    spans
        .entry((start, end))
        .and_modify(|l| *l = (*l).min(label))
        .or_insert(label);
}

fn insert_sorted(queue: &mut VecDeque<Hit>, hit: Hit) {
    let key = (hit.start, hit.end);
    // Hits mostly arrive in order: append without VecDeque::insert's general path.
    if queue
        .back()
        .is_none_or(|last| (last.start, last.end) <= key)
    {
        queue.push_back(hit);
        return;
    }
    let mut i = queue.len();
    while i > 0 && (queue[i - 1].start, queue[i - 1].end) > key {
        i -= 1;
    }
    queue.insert(i, hit);
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

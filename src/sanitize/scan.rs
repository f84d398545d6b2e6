//! The keyword scan: every occurrence of every keyword and literal variant (overlapping,
//! ASCII case-insensitive), found with an Aho-Corasick DFA.
//!
//! A DFA step is one dependent table load, so a single scan is bound by load latency
//! (about 700 MB/s here), not bandwidth. Large inputs are therefore cut into four lanes
//! stepped in one interleaved loop: the four chains of loads are independent and the CPU
//! overlaps them, which roughly quadruples throughput. Each lane starts its automaton
//! `longest pattern - 1` bytes before its own part and reports only matches ending inside
//! its part, so every occurrence is reported exactly once, as a single scan would.
//!
//! The DFA is built here rather than by the `aho-corasick` crate, whose general builder
//! (a noncontiguous NFA, then a DFA from it) took ~3 ms for the built-in keywords, most of
//! a `mycelium sanitize` start. This one writes the trie straight into a dense table over
//! byte classes and fills in the failure transitions in one breadth-first pass (~10 times
//! faster); the table has the same layout as the crate's DFA (premultiplied `u32` state ids,
//! a power-of-two stride of byte classes), so a step costs the same.

use std::fmt;

/// Below this many bytes one lane is used.
const LANE_MIN: usize = 16 * 1024;
const LANES: usize = 4;

/// The automaton would need more states than its `u32` state ids can address.
#[derive(Debug)]
pub struct AutomatonTooLarge {
    states: usize,
}

impl fmt::Display for AutomatonTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} automaton states exceed the table's 32-bit state ids",
            self.states
        )
    }
}

impl std::error::Error for AutomatonTooLarge {}

/// The compiled keyword automaton: an Aho-Corasick DFA with ASCII case folded.
#[derive(Debug)]
pub(crate) struct KeywordScanner {
    /// `trans[state + class]` is the next state. State ids are premultiplied (a state's
    /// index shifted left by `stride2`), so a step is one add and one load.
    trans: Vec<u32>,
    /// Each byte's class: bytes no pattern contains share class 0, a letter shares its
    /// class with its other case.
    classes: [u8; 256],
    start: u32,
    /// Match states come first: a state id below this is a match state.
    match_limit: u32,
    stride2: u32,
    /// Match state `k`'s patterns are `match_pids[match_at[k]..match_at[k + 1]]`, its own
    /// first, then those of its failure chain, longest first.
    match_at: Vec<u32>,
    match_pids: Vec<u32>,
    pattern_lens: Vec<usize>,
    max_len: usize,
}

/// A missing trie transition, before the failure pass fills it in.
const NONE: u32 = u32::MAX;

impl KeywordScanner {
    /// The DFA over `patterns` (non-empty byte strings, matched ASCII case-insensitively);
    /// pattern ids are indices into `patterns`.
    pub(crate) fn new(patterns: &[Vec<u8>]) -> Result<Self, AutomatonTooLarge> {
        let mut classes = [0u8; 256];
        let mut count = 1usize;
        for p in patterns {
            for &b in p {
                let b = usize::from(b.to_ascii_lowercase());
                if classes[b] == 0 {
                    // At most 230 folded byte values, so the count stays within a `u8`.
                    classes[b] = u8::try_from(count).unwrap_or(u8::MAX);
                    count += 1;
                }
            }
        }
        for b in b'A'..=b'Z' {
            classes[usize::from(b)] = classes[usize::from(b.to_ascii_lowercase())];
        }
        let stride = count.next_power_of_two();
        let stride2 = stride.trailing_zeros();
        let class = |b: u8| usize::from(classes[usize::from(b)]);

        // The trie, one dense row per node (indices, not yet premultiplied). Reserving the
        // most it can need costs nothing until rows are written.
        let most = 1 + patterns.iter().map(Vec::len).sum::<usize>();
        let too_large = |states: usize| {
            states
                .checked_mul(stride)
                .is_none_or(|n| n > u32::MAX as usize)
        };
        let mut rows: Vec<u32> = Vec::with_capacity(most.saturating_mul(stride));
        rows.resize(stride, NONE);
        let mut own: Vec<Vec<u32>> = vec![Vec::new()];
        for (pid, p) in patterns.iter().enumerate() {
            let mut node = 0usize;
            for &b in p {
                let at = node * stride + class(b);
                node = if rows[at] == NONE {
                    let id = own.len();
                    if too_large(id + 1) {
                        return Err(AutomatonTooLarge { states: id + 1 });
                    }
                    own.push(Vec::new());
                    rows.resize(rows.len() + stride, NONE);
                    rows[at] = id as u32;
                    id
                } else {
                    rows[at] as usize
                };
            }
            own[node].push(pid as u32);
        }
        let states = own.len();

        // Failure links, breadth first: a node's failure state is shallower, so its row is
        // complete when the node's missing transitions are copied from it.
        let mut fail = vec![0u32; states];
        let mut matches = own;
        let mut queue: Vec<u32> = Vec::with_capacity(states);
        for next in &mut rows[..stride] {
            match *next {
                NONE => *next = 0,
                child => queue.push(child),
            }
        }
        let mut head = 0;
        while head < queue.len() {
            let u = queue[head] as usize;
            head += 1;
            let f = fail[u] as usize;
            if !matches[f].is_empty() {
                let inherited = matches[f].clone();
                matches[u].extend(inherited);
            }
            for c in 0..stride {
                let via_fail = rows[f * stride + c];
                match rows[u * stride + c] {
                    NONE => rows[u * stride + c] = via_fail,
                    child => {
                        fail[child as usize] = via_fail;
                        queue.push(child);
                    }
                }
            }
        }

        // Renumber so the match states come first: slot `s` takes node `order[s]`'s row,
        // moved in place one cycle of the permutation at a time. Then premultiply.
        let mut order: Vec<u32> = (0..states as u32).collect();
        order.sort_by_key(|&u| matches[u as usize].is_empty());
        let mut new_id = vec![0u32; states];
        for (slot, &u) in order.iter().enumerate() {
            new_id[u as usize] = slot as u32;
        }
        let match_count = order
            .iter()
            .take_while(|&&u| !matches[u as usize].is_empty())
            .count();
        let mut done = vec![false; states];
        let mut first = vec![0u32; stride];
        for s in 0..states {
            if done[s] {
                continue;
            }
            first.copy_from_slice(&rows[s * stride..][..stride]);
            let mut slot = s;
            loop {
                done[slot] = true;
                let src = order[slot] as usize;
                if src == s {
                    rows[slot * stride..][..stride].copy_from_slice(&first);
                    break;
                }
                rows.copy_within(src * stride..(src + 1) * stride, slot * stride);
                slot = src;
            }
        }
        for next in &mut rows {
            *next = new_id[*next as usize] << stride2;
        }
        let trans = rows;
        let mut match_at = Vec::with_capacity(match_count + 1);
        let mut match_pids = Vec::new();
        for &u in &order[..match_count] {
            match_at.push(match_pids.len() as u32);
            match_pids.extend_from_slice(&matches[u as usize]);
        }
        match_at.push(match_pids.len() as u32);
        Ok(Self {
            trans,
            classes,
            start: new_id[0] << stride2,
            match_limit: (match_count as u32) << stride2,
            stride2,
            match_at,
            match_pids,
            pattern_lens: patterns.iter().map(Vec::len).collect(),
            max_len: patterns.iter().map(Vec::len).max().unwrap_or(0),
        })
    }

    /// The state after `sid` on `byte`.
    #[inline(always)]
    fn next(&self, sid: u32, byte: u8) -> u32 {
        self.trans[(sid + u32::from(self.classes[usize::from(byte)])) as usize]
    }

    /// Call `found(pattern, start, end)` for every occurrence in `hay` that starts at or
    /// after `from` and ends after `after` (offsets into `hay`).
    pub(crate) fn scan(
        &self,
        hay: &[u8],
        from: usize,
        after: usize,
        found: &mut impl FnMut(usize, usize, usize),
    ) {
        if self.max_len == 0 || from >= hay.len() {
            return;
        }
        let len = hay.len() - from;
        if len < LANE_MIN {
            self.scan_one(hay, from, hay.len(), after, found);
            return;
        }
        let part = len / LANES;
        let overlap = self.max_len - 1;
        // Lane j covers its part [p_j, p_{j+1}) and starts `overlap` bytes early.
        let starts: [usize; LANES] = std::array::from_fn(|j| {
            if j == 0 {
                from
            } else {
                from + j * part - overlap.min(j * part)
            }
        });
        let parts: [usize; LANES] = std::array::from_fn(|j| from + j * part);
        let ends: [usize; LANES] = std::array::from_fn(|j| {
            if j + 1 == LANES {
                hay.len()
            } else {
                parts[j + 1]
            }
        });
        let reports: [usize; LANES] =
            std::array::from_fn(|j| if j == 0 { after } else { parts[j].max(after) });
        let common = (0..LANES).map(|j| ends[j] - starts[j]).min().unwrap_or(0);
        let lanes: [&[u8]; LANES] = std::array::from_fn(|j| &hay[starts[j]..starts[j] + common]);
        let mut s = [self.start; LANES];
        let mut hits: [Vec<(usize, usize, usize)>; LANES] = Default::default();
        for (i, (((&b0, &b1), &b2), &b3)) in lanes[0]
            .iter()
            .zip(lanes[1])
            .zip(lanes[2])
            .zip(lanes[3])
            .enumerate()
        {
            s[0] = self.next(s[0], b0);
            s[1] = self.next(s[1], b1);
            s[2] = self.next(s[2], b2);
            s[3] = self.next(s[3], b3);
            let limit = self.match_limit;
            if (s[0] < limit) | (s[1] < limit) | (s[2] < limit) | (s[3] < limit) {
                for j in 0..LANES {
                    let end = starts[j] + i + 1;
                    self.matches_at(s[j], end, reports[j], &mut |p, a, e| {
                        hits[j].push((p, a, e))
                    });
                }
            }
        }
        // Each lane finishes alone, from where the interleaved loop stopped.
        for j in 0..LANES {
            let mut sid = s[j];
            for (i, &b) in hay[starts[j] + common..ends[j]].iter().enumerate() {
                sid = self.next(sid, b);
                if sid < self.match_limit {
                    let end = starts[j] + common + i + 1;
                    self.matches_at(sid, end, reports[j], &mut |p, a, e| hits[j].push((p, a, e)));
                }
            }
            for &(p, a, e) in &hits[j] {
                found(p, a, e);
            }
        }
    }

    fn scan_one(
        &self,
        hay: &[u8],
        from: usize,
        to: usize,
        after: usize,
        found: &mut impl FnMut(usize, usize, usize),
    ) {
        let mut sid = self.start;
        for (i, &b) in hay[from..to].iter().enumerate() {
            sid = self.next(sid, b);
            if sid < self.match_limit {
                self.matches_at(sid, from + i + 1, after, found);
            }
        }
    }

    /// Report the patterns that state `sid` matches, ending at `end`.
    fn matches_at(
        &self,
        sid: u32,
        end: usize,
        after: usize,
        found: &mut impl FnMut(usize, usize, usize),
    ) {
        if end <= after || sid >= self.match_limit {
            return;
        }
        let k = (sid >> self.stride2) as usize;
        let pids = &self.match_pids[self.match_at[k] as usize..self.match_at[k + 1] as usize];
        for &pid in pids {
            let pid = pid as usize;
            found(pid, end - self.pattern_lens[pid], end);
        }
    }
}

#[cfg(test)]
mod tests {
    use aho_corasick::AhoCorasick;

    use super::*;

    /// One occurrence: pattern, start, end.
    type Found = (usize, usize, usize);

    /// What `scanner` reports for `text` from `from`, ending after `after`, and what the
    /// `aho-corasick` crate's overlapping search finds there: (pattern, start, end), sorted.
    fn scan_and_reference(
        scanner: &KeywordScanner,
        reference: &AhoCorasick,
        text: &[u8],
        from: usize,
        after: usize,
    ) -> (Vec<Found>, Vec<Found>) {
        let mut got = Vec::new();
        scanner.scan(text, from, after, &mut |p, a, e| got.push((p, a, e)));
        got.sort_unstable();
        let mut want: Vec<_> = reference
            .find_overlapping_iter(aho_corasick::Input::new(text).range(from..))
            .filter(|m| m.end() > after)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect();
        want.sort_unstable();
        (got, want)
    }

    #[test]
    fn lanes_report_exactly_what_the_reference_search_finds() {
        let patterns: Vec<Vec<u8>> = ["token", "ghp_", "pass", "password", "://", "-----BEGIN "]
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        let scanner = KeywordScanner::new(&patterns).unwrap();
        let reference = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&patterns)
            .unwrap();
        let mut text = Vec::new();
        for i in 0..20_000u32 {
            text.extend_from_slice(match i % 7 {
                0 => b"PassWord ".as_slice(),
                1 => b"https://x ",
                2 => b"tok",
                3 => b"en ghp_",
                4 => b"-----BEGIN ",
                _ => b"plain words ",
            });
        }
        for (from, after) in [(0, 0), (3, 100), (1000, 5000)] {
            let (got, want) = scan_and_reference(&scanner, &reference, &text, from, after);
            assert_eq!(got, want);
        }
    }

    /// The DFA built here reports what the `aho-corasick` crate's overlapping search does,
    /// pattern for pattern, on random pattern sets (shared prefixes, one pattern inside
    /// another, duplicates, both cases, bytes above ASCII) and random text from the same
    /// bytes, scanned from random offsets, in one lane and in four.
    #[test]
    fn the_dfa_agrees_with_the_aho_corasick_crate() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let alphabet = b"abAB-_:/x\xff\x00\n";
        for round in 0..60 {
            let mut patterns: Vec<Vec<u8>> = (0..1 + next(40))
                .map(|_| {
                    (0..1 + next(6))
                        .map(|_| alphabet[next(alphabet.len())])
                        .collect()
                })
                .collect();
            if round % 3 == 0 {
                patterns.push(patterns[0].clone());
            }
            let scanner = KeywordScanner::new(&patterns).unwrap();
            let reference = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&patterns)
                .unwrap();
            let len = if round % 4 == 0 { 70_000 } else { 2_000 };
            let text: Vec<u8> = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let (from, after) = (next(100), next(3_000));
            let (got, want) = scan_and_reference(&scanner, &reference, &text, from, after);
            assert_eq!(got, want, "round {round}: {patterns:?}");
        }
    }
}

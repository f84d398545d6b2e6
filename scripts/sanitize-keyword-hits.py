#!/usr/bin/env python3
"""How often each built-in rule keyword occurs in a text, per MB: the hits the sanitizer's
keyword automaton reports and the decide path in src/sanitize/stream.rs then settles.

usage: scripts/sanitize-keyword-hits.py FILE [TOP]     (TOP rows, default 30)

Keywords and the rules they gate are read from src/sanitize/builtin.rs (no build needed).
Counts are ASCII case-insensitive, as the automaton matches; a keyword is counted without
overlapping itself (none of the built-in keywords overlaps itself in ordinary text). A
hit queues every rule its keyword gates, so the "queued" column is hits x rules.
"""
import os
import re
import sys

STRING = re.compile(r'r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.S)


def unescape(s):
    return s.encode().decode("unicode_escape")


def builtin_keywords(path):
    text = open(path).read()
    text = text[text.index("pub(crate) const BUILTIN"):]
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'(?:\btoken|\bctx|\bpem)\(\s*"([^"]+)"', text)]
    starts += [(m.start(), m.group(1)) for m in re.finditer(r'\bid:\s*"([^"]+)"', text)]
    starts.sort()
    rules = []
    for pos, rid in starts:
        if text[pos:pos + 4] == "pem(":
            rules.append((rid, ["-----BEGIN "]))
            continue
        i = pos
        while not text.startswith("&[", i):  # the first list outside a string literal
            m = STRING.match(text, i) if text[i] in 'r"' and not text[i - 1].isalnum() else None
            i = m.end() if m else i + 1
        i += 2
        kws = []
        while True:
            while text[i] in " \n\t,":
                i += 1
            if text[i] == "]":
                break
            m = STRING.match(text, i)
            kws.append(m.group(2) if m.group(2) is not None else unescape(m.group(3)))
            i = m.end()
        rules.append((rid, kws))
    return rules


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    rules = builtin_keywords(os.path.join(root, "src/sanitize/builtin.rs"))
    gates = {}
    for rid, kws in rules:
        for k in kws:
            gates.setdefault(k.lower(), []).append(rid)
    data = open(sys.argv[1], "rb").read().lower()
    mb = len(data) / 1e6
    counts = {k: data.count(k.encode()) for k in gates}
    total = sum(counts.values())
    queued = sum(n * len(gates[k]) for k, n in counts.items())
    print(f"{len(rules)} rules, {len(gates)} keywords; {mb:.1f} MB: {total / mb:,.0f} keyword hits/MB, "
          f"{queued / mb:,.0f} rule hits queued/MB")
    print(f"{'keyword':<24} {'hits/MB':>9} {'share':>6}  rules")
    for k, n in sorted(counts.items(), key=lambda kv: -kv[1])[:top]:
        if n:
            print(f"{k!r:<24} {n / mb:>9,.0f} {100 * n / max(total, 1):>5.1f}%  {','.join(gates[k])}")


if __name__ == "__main__":
    main()

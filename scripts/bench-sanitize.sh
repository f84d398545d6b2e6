#!/usr/bin/env bash
# Throughput of `mycelium sanitize` (release build) on clean and keyword-dense text,
# against the naive baseline (`--naive`: every rule's regex with replace_all in turn),
# measured in the same run. Inputs are generated here (scripts/sanitize-gen.py), so
# no data is downloaded.
#
# usage: scripts/bench-sanitize.sh [CLEAN_MB] [DENSE_MB]   (defaults 256 and 32)
set -euo pipefail
cd "$(dirname "$0")/.."
clean_mb=${1:-256}
dense_mb=${2:-32}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
bin=$(scripts/bin-path.sh release)

python3 scripts/sanitize-gen.py clean "$clean_mb" "$work/clean.txt"
python3 scripts/sanitize-gen.py dense "$dense_mb" "$work/dense.txt"
# The naive baseline is slow; it gets a smaller slice of the same text.
head -c $((32 * 1024 * 1024)) "$work/clean.txt" > "$work/clean-small.txt"

# best of 3 wall-clock seconds of `$bin sanitize ARGS < FILE > /dev/null`
best() {
    local file=$1; shift
    python3 - "$bin" "$file" "$@" <<'PY'
import subprocess, sys, time
binary, path, *args = sys.argv[1:]
best = None
for _ in range(3):
    with open(path, "rb") as f:
        t = time.perf_counter()
        subprocess.run([binary, "sanitize", *args], stdin=f, stdout=subprocess.DEVNULL, check=True)
        d = time.perf_counter() - t
    best = d if best is None else min(best, d)
print(f"{best:.4f}")
PY
}

mbps() { python3 -c "import os,sys; print(f'{os.path.getsize(sys.argv[1])/float(sys.argv[2])/1e6:.0f}')" "$1" "$2"; }

printf '%-8s %-8s %10s %10s\n' text engine size_MB MB/s
report() {
    local name=$1 file=$2; shift 2
    local secs; secs=$(best "$file" "$@")
    local size; size=$(python3 -c "import os,sys; print(os.path.getsize(sys.argv[1])//1000000)" "$file")
    local rate; rate=$(mbps "$file" "$secs")
    printf '%-8s %-8s %10s %10s\n' "$name" "${1:-mycelium}" "$size" "$rate" >&2
    echo "$rate"
}
c_fast=$(report clean "$work/clean.txt")
c_fast_small=$(report clean "$work/clean-small.txt")
c_naive=$(report clean "$work/clean-small.txt" --naive)
d_fast=$(report dense "$work/dense.txt")
d_naive=$(report dense "$work/dense.txt" --naive)
python3 - "$c_fast" "$c_fast_small" "$c_naive" "$d_fast" "$d_naive" <<'PY'
import sys
c, cs, cn, d, dn = map(float, sys.argv[1:])
print(f"clean: {c/1000:.2f} GB/s ({c:.0f} MB/s); same 32 MB slice: mycelium {cs:.0f} MB/s vs naive {cn:.0f} MB/s = {cs/cn:.1f}x")
print(f"dense: {d:.0f} MB/s vs naive {dn:.0f} MB/s = {d/dn:.1f}x")
print("(wall clock of the whole process, including ~30 ms start-up to compile the rules)")
PY

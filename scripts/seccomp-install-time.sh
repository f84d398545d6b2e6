#!/usr/bin/env bash
# Kernel time of the one seccomp(SECCOMP_SET_MODE_FILTER) call a sandbox start makes
# (BPF checks, conversion to eBPF, JIT, the constant-action cache), measured with
# `perf trace -s` around `mycelium exec`. Prints the median and the range over RUNS runs
# (a run whose syscall entry perf lost, reported as 0, is left out).
#
#   scripts/seccomp-install-time.sh [BIN] [POLICY] [RUNS]
#   (defaults: the release build (scripts/bin-path.sh), policies/bench-default.toml, 50; needs perf and
#   permission to trace, e.g. root or kernel.perf_event_paranoid <= 1)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-$(scripts/bin-path.sh release)}
policy=${2:-policies/bench-default.toml}
runs=${3:-50}
for _ in $(seq "$runs"); do
  perf trace -s -e seccomp -- "$bin" exec --policy "$policy" -- /bin/true 2>&1 |
    awk '$1 == "seccomp" && $4 > 0 { print $4 }'
done | sort -n | awk '
  { v[NR] = $1 }
  END {
    if (NR == 0) { print "no seccomp call traced" > "/dev/stderr"; exit 1 }
    printf "seccomp install: median %.3f ms, min %.3f, max %.3f (%d runs)\n",
      v[int((NR + 1) / 2)], v[1], v[NR], NR
  }'

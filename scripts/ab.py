#!/usr/bin/env python3
"""Interleaved timing of whole commands, for comparing two builds or two tools fairly.

    scripts/ab.py RUNS 'CMD A' 'CMD B' ...

Runs each command once per round, in turn (so drift on a busy machine hits all of them
alike), after ten warm-up rounds, and prints the median, 10th and 90th percentile
wall-clock time of each, spawn to reap. Standard output is discarded.
"""
import os
import shlex
import statistics
import sys
import time


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    runs = int(sys.argv[1])
    cmds = [shlex.split(c) for c in sys.argv[2:]]
    devnull = os.open(os.devnull, os.O_WRONLY)
    times = [[] for _ in cmds]
    for round_ in range(runs + 10):
        for i, argv in enumerate(cmds):
            start = time.perf_counter_ns()
            pid = os.posix_spawn(argv[0], argv, os.environ,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
            os.waitpid(pid, 0)
            if round_ >= 10:
                times[i].append((time.perf_counter_ns() - start) / 1e6)
    for text, t in zip(sys.argv[2:], times):
        t.sort()
        print(f"{statistics.median(t):7.3f} ms  p10 {t[len(t) // 10]:.3f}  "
              f"p90 {t[9 * len(t) // 10]:.3f}  {text[:90]}")


if __name__ == "__main__":
    main()

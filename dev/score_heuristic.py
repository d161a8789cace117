#!/usr/bin/env python3
"""Scores the tree's heuristic (w4a16_heuristic, as BUILD/dev/plan_dump --costs runs it offline on a
132-SM H100) against measured times of every configuration.

  dev/score_heuristic.py BUILD RUN.txt [RUN.txt ...]

RUN.txt: w4a16-bench --config all output (any dtype and zero mode, group 128; e.g.
docs/perf/h100-session30-decode-fit-fp16-int.txt). For each problem: the time of the configuration
the heuristic picks for that problem's dtype and zero mode over the fastest measured one. Prints the
geometric mean per dtype / zero mode at M <= 8 and past it, then the worst problems. Session 30
scored the decode model's refit with it (src/kernels/sm90_launch.cuh has the numbers)."""
import math
import os
import re
import subprocess
import sys


def parse(path):
    """[(M, N, K, dtype, zeros, {config: us})] in file order (config without the sm90_ prefix)."""
    out, cur = [], {}
    for line in open(path):
        m = re.match(r"^\s+((?:sm90_|gemv_)\S+)\s+([0-9.]+) us$", line)
        if m:
            cur[m.group(1).replace("sm90_", "")] = float(m.group(2))
            continue
        m = re.search(r"\[\s*\d+/\d+\] M=(\d+) N=(\d+) K=(\d+) (\w+) zeros=(\w+)", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), m.group(5), cur))
            cur = {}
    return out


def main():
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    build, files = sys.argv[1], sys.argv[2:]
    runs = [r for f in files for r in parse(f) if r[5]]
    if not runs:
        sys.exit("score_heuristic.py: no --config all rows in " + " ".join(files))
    text = "".join(f"{m} {n} {k} {dt} {z}\n" for m, n, k, dt, z, _ in runs)
    out = subprocess.run([os.path.join(build, "dev", "plan_dump"), "--costs"], input=text, capture_output=True,
                         text=True, check=True).stdout.split("\n")
    by, worst = {}, []
    for (m, n, k, dt, z, times), line in zip(runs, out):
        pick = line.split()[3].replace("sm90_", "")
        if pick not in times:
            print(f"  M={m} {n}x{k} {dt} {z}: {pick} was not timed; left out")
            continue
        ratio = times[pick] / min(times.values())
        by.setdefault((dt, z, m <= 8), []).append(ratio)
        worst.append((ratio, m, n, k, dt, z, pick, min(times, key=times.get)))
    for (dt, z, low), v in sorted(by.items()):
        gm = math.exp(sum(map(math.log, v)) / len(v))
        print(f"{dt} zeros={z} {'M <= 8' if low else 'M > 8 '}: the heuristic's choice / the fastest, "
              f"geometric mean {gm:.4f} over {len(v)} problems")
    for w in sorted(worst, reverse=True)[:8]:
        print("  %.3f  M=%d %dx%d %s %s: %s (fastest %s)" % w)


if __name__ == "__main__":
    main()

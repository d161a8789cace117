#!/usr/bin/env python3
"""Fits the heuristic's cost model (src/kernels/sm90_launch.cuh, tile_cost) and scores it.

  dev/fit_tile_model.py BUILD RULE.txt GRID.txt

RULE.txt and GRID.txt: w4a16-bench --config all output (fp16, group 128, zeros none) on the same
problems, run without and with W4A16_SM90_STREAM=0 (the wave rule's plans, the split-K grid's),
e.g. docs/perf/h100-session15-mid-sk.txt and -mid-nosk.txt. BUILD/dev/plan_dump gives the plans.
Prints per tile the five constants (least squares on relative error) and the fit's error, then
per problem the fastest of the six (tile, plan) times against the model's choice. Needs numpy."""
import math, re, subprocess, sys
import numpy as np

TILES = {64: "t64_w2_k256_s4", 128: "t128_w2_k128_s5", 256: "t256_w2_k64_s6"}
SMS = 132


def parse(path):
    """[(M, N, K, {config: us})] in file order."""
    out, cur = [], {}
    for line in open(path):
        m = re.match(r"\s+sm90_(\S+)\s+([0-9.]+) us$", line)
        if m:
            cur[m.group(1)] = float(m.group(2))
            continue
        m = re.search(r"\[\s*\d+/\d+\] M=(\d+) N=(\d+) K=(\d+)", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), cur))
            cur = {}
    return out


def features(plan, tiles, k):
    """The model's terms (a, o, s2, sw, sk) for a plan ("sk0" or "s<splits>")."""
    kk = k / 1024
    if plan.startswith("sk"):
        return [tiles * kk / SMS, math.ceil(tiles / SMS), 0, 0, 1]
    s = int(plan[1:])
    if s == 1:
        r = math.ceil(tiles / SMS)
        return [r * kk, r, 0, 0, 0]
    return [kk / s, 1, 1 if s == 2 else 0, 1 if s > 2 else 0, 0]


def main():
    build, rule_txt, grid_txt = sys.argv[1:4]
    rule, grid = parse(rule_txt), parse(grid_txt)
    assert [p[:3] for p in rule] == [p[:3] for p in grid], "the two runs must time the same problems"
    dump = subprocess.run([build + "/dev/plan_dump"], input="".join(f"{m} {n} {k}\n" for m, n, k, _ in rule),
                          capture_output=True, text=True, check=True).stdout.split("\n")
    plans = {}
    for line in filter(None, dump):
        m, n, k, bt, _bk, tiles, p_rule, p_grid = line.split()
        plans[(int(m), int(n), int(k), int(bt))] = (int(tiles), p_rule, p_grid)
    rows = []  # (problem index, bt, plan, features, us)
    for i, ((m, n, k, t_rule), (_, _, _, t_grid)) in enumerate(zip(rule, grid)):
        for bt, name in TILES.items():
            tiles, p_rule, p_grid = plans[(m, n, k, bt)]
            rows.append((i, bt, p_rule, features(p_rule, tiles, k), t_rule[name]))
            rows.append((i, bt, p_grid, features(p_grid, tiles, k), t_grid[name]))
    coef = {}
    for bt in TILES:
        sel = [r for r in rows if r[1] == bt]
        x = np.array([r[3] for r in sel], float)
        y = np.array([r[4] for r in sel])
        c, *_ = np.linalg.lstsq(x / y[:, None], np.ones(len(y)), rcond=None)
        err = x @ c / y - 1
        coef[bt] = c
        print(f"t{bt}: a {c[0]:.2f} o {c[1]:.2f} s2 {c[2]:.2f} sw {c[3]:.2f} sk {c[4]:.2f}  "
              f"rms error {np.sqrt(np.mean(err ** 2)):.3f}, max {np.max(np.abs(err)):.3f}")
    logs = []
    for i, (m, n, k, _) in enumerate(rule):
        mine = [r for r in rows if r[0] == i]
        best = min(r[4] for r in mine)
        pick = min(mine, key=lambda r: float(np.dot(r[3], coef[r[1]])))
        same = [r[4] for r in mine if r[1] == pick[1] and r[2] == pick[2]]  # both runs if one plan
        got = sum(same) / len(same)
        logs.append(math.log(got / best))
        print(f"M={m:5} {n:6}x{k:<6} model t{pick[1]} {pick[2]:4} {got:9.1f} us, fastest {best:9.1f} us ({got / best:.3f})")
    print(f"model's choice / fastest, geometric mean over {len(logs)} problems: {math.exp(sum(logs) / len(logs)):.3f}")


if __name__ == "__main__":
    main()

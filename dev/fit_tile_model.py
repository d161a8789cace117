#!/usr/bin/env python3
"""Fits the heuristic's cost model (src/kernels/sm90_launch.cuh, tile_cost) and scores it.

  dev/fit_tile_model.py BUILD RULE.txt GRID.txt [RULE2.txt GRID2.txt ...]
  dev/fit_tile_model.py --score [--against REV] BUILD RULE.txt GRID.txt [...]

RULE.txt and GRID.txt: w4a16-bench --config all output (fp16, group 128, zeros none) on the same
problems, run with W4A16_SM90_MODEL=0 and with W4A16_SM90_STREAM=0 (the wave rule's plans, the
split-K grid's; session 15's rule runs predate the model and needed no switch),
e.g. docs/perf/h100-session16-fit-sk.txt and -fit-nosk.txt (scripts/gpu-fit.sh). Several pairs
are fitted together (a tile a pair did not time is left out of it: session 15's pair has no t192).
BUILD/dev/plan_dump gives the plans. Prints per tile the five constants (least squares on relative
error) and the fit's error, then per problem the fastest of the (tile, plan) pairs the product can
run (each time averaged over the pairs) against the model's choice. --score fits nothing: it scores
the constants in the tree's sm90_launch.cuh (e.g. on held-out runs), and with --against REV also
those of git revision REV on the same times (the tiles REV's table knows). Needs numpy."""
import math, os, re, subprocess, sys
import numpy as np

TILES = {64: "t64_w2_k256_s4", 128: "t128_w2_k128_s5", 192: "t192_w2_k64_s7", 256: "t256_w2_k64_s6"}
SMS = 132


def parse(path, config_line=r"\s+sm90_(\S+)\s+([0-9.]+) us$"):
    """[(M, N, K, {config: us})] in file order; config_line matches a configuration's time line
    (group 1 the name kept, group 2 the time)."""
    out, cur = [], {}
    for line in open(path):
        m = re.match(config_line, line)
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


def table(text):
    """{bt: [a, o, s2, sw, sk]} from sm90_launch.cuh's tile_cost table."""
    rows = re.findall(r"\{(\d+), (\d+), ([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+)\},", text)
    return {int(r[0]): np.array([float(x) for x in r[2:]]) for r in rows if int(r[0]) in TILES}


def cublas(paths):
    """{(M, N, K): mean cuBLAS us} from the problem lines of the runs."""
    got = {}
    for path in paths:
        for line in open(path):
            m = re.search(r"\] M=(\d+) N=(\d+) K=(\d+) .*cuBLAS ([0-9.]+) us", line)
            if m:
                got.setdefault(tuple(map(int, m.groups()[:3])), []).append(float(m.group(4)))
    return {key: sum(v) / len(v) for key, v in got.items()}


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        sys.exit(__doc__)
    score = args[0] == "--score"
    against = None
    if score:
        args = args[1:]
        if args and args[0] == "--against":
            against, args = args[1], args[2:]
    build, files = args[0], args[1:]
    assert files and len(files) % 2 == 0, "RULE.txt GRID.txt pairs"
    runs = []  # (rule, grid) per pair
    for rule_txt, grid_txt in zip(files[::2], files[1::2]):
        rule, grid = parse(rule_txt), parse(grid_txt)
        assert [p[:3] for p in rule] == [p[:3] for p in grid], "the two runs must time the same problems"
        runs.append((rule, grid))
    probs = list(dict.fromkeys(p[:3] for rule, _ in runs for p in rule))
    dump = subprocess.run([build + "/dev/plan_dump"], input="".join(f"{m} {n} {k}\n" for m, n, k in probs),
                          capture_output=True, text=True, check=True).stdout.split("\n")
    plans = {}
    for line in filter(None, dump):
        m, n, k, bt, _bk, tiles, p_rule, p_grid = line.split()
        plans[(int(m), int(n), int(k), int(bt))] = (int(tiles), p_rule, p_grid)
    rows = []  # ((M, N, K), bt, plan, features, us); a tile a run did not time is left out
    for rule, grid in runs:
        for (m, n, k, t_rule), (_, _, _, t_grid) in zip(rule, grid):
            for bt, name in TILES.items():
                tiles, p_rule, p_grid = plans[(m, n, k, bt)]
                if name in t_rule and name in t_grid:
                    rows.append(((m, n, k), bt, p_rule, features(p_rule, tiles, k), t_rule[name]))
                    rows.append(((m, n, k), bt, p_grid, features(p_grid, tiles, k), t_grid[name]))
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "kernels", "sm90_launch.cuh")
    if score:
        coef = table(open(here).read())
        print("the tree's constants: " + ", ".join(f"t{bt} {[float(x) for x in c]}" for bt, c in coef.items()))
    else:
        coef = {}
        for bt in TILES:
            sel = [r for r in rows if r[1] == bt]
            x = np.array([r[3] for r in sel], float)
            y = np.array([r[4] for r in sel])
            c, *_ = np.linalg.lstsq(x / y[:, None], np.ones(len(y)), rcond=None)
            err = x @ c / y - 1
            coef[bt] = c
            print(f"t{bt}: a {c[0]:.2f} o {c[1]:.2f} s2 {c[2]:.2f} sw {c[3]:.2f} sk {c[4]:.2f}  "
                  f"rms error {np.sqrt(np.mean(err ** 2)):.3f}, max {np.max(np.abs(err)):.3f} ({len(sel)} times)")
    old = None
    if against:
        text = subprocess.run(["git", "show", against + ":src/kernels/sm90_launch.cuh"], capture_output=True,
                              text=True, check=True, cwd=os.path.dirname(here)).stdout
        old = table(text)
        print(f"{against}'s constants: " + ", ".join(f"t{bt} {[float(x) for x in c]}" for bt, c in old.items()))
    cub = cublas(files)
    logs, olds, xcub, xcub_old = [], [], [], []
    for prob in probs:
        m, n, k = prob
        mine = {}  # (bt, plan) -> [us of every run]; the plan the product can run: the rule's, or
        for r in rows:  # the split-K grid where the rule takes stream-K (sm90_launch.cuh's plan)
            if r[0] == prob and (r[2] == plans[(m, n, k, r[1])][1] or plans[(m, n, k, r[1])][1].startswith("sk")):
                mine.setdefault((r[1], r[2]), []).append(r[4])
        avg = {key: sum(v) / len(v) for key, v in mine.items()}
        best = min(avg.values())

        def choose(cf):
            keys = [key for key in avg if key[0] in cf]
            return min(keys, key=lambda key: float(np.dot(features(key[1], plans[(m, n, k, key[0])][0], k), cf[key[0]])))

        pick = choose(coef)
        got = avg[pick]
        logs.append(math.log(got / best))
        xcub.append(math.log(cub[prob] / got))
        line = f"M={m:5} {n:6}x{k:<6} model t{pick[0]} {pick[1]:4} {got:9.1f} us, fastest {best:9.1f} us ({got / best:.3f})"
        if old is not None:
            o = choose(old)
            olds.append(math.log(got / avg[o]))
            xcub_old.append(math.log(cub[prob] / avg[o]))
            line += f"; {against}: t{o[0]} {o[1]:4} {avg[o]:9.1f} us ({got / avg[o]:.3f})"
        print(line)
    gm = lambda v: math.exp(sum(v) / len(v))
    print(f"model's choice / fastest, geometric mean over {len(logs)} problems: {gm(logs):.3f}; x cuBLAS {gm(xcub):.3f}")
    if old is not None:
        print(f"model's choice / {against}'s: {gm(olds):.3f} ({math.exp(min(olds)):.3f} - {math.exp(max(olds)):.3f}); "
              f"x cuBLAS {gm(xcub):.3f} against {gm(xcub_old):.3f}")


if __name__ == "__main__":
    main()

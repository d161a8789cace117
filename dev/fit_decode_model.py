#!/usr/bin/env python3
"""Fits the heuristic's decode model (src/kernels/sm90_launch.cuh, decode_cost) and scores it.

  dev/fit_decode_model.py BUILD RUN.txt [RUN.txt ...]
  dev/fit_decode_model.py --score BUILD RUN.txt [RUN.txt ...]

RUN.txt: w4a16-bench --config all output at M <= 64 (e.g. docs/perf/h100-session18-decode-fp16.txt).
BUILD/dev/plan_dump --decode gives the plans (the wave rule's, as the product runs them). Per tile:
  o + max(MB / B, KB per CTA / r) + (K split ? s : 0) + (stream-K ? sk : 0)
r and B by a grid search, o, s and sk by least squares on relative error, from the runs where M
fits one token tile. Prints the table rows for decode_cost, then how the model's choice (the
least modelled time among the tiles of 8 to 64 tokens covering M in one or two token tiles, as
decode_cost has them since session 19; a tie within 1% to fewer tokens, as configs.c since session
20) compares with the fastest of those measured tiles, fitted on all shapes and leaving each shape
out of the fit in turn. --score fits nothing: it scores the
tree's table on the runs (e.g. another dtype or zero mode). Needs numpy."""
import math, os, re, subprocess, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fit_tile_model import parse  # noqa: E402  (the bench's --config all lines)

TILES = {  # configs.def names of the decode model's tiles -> (bw, bt, bk)
    "t8_w3_k256_s7": (192, 8, 256), "t8_w2_k256_s10": (128, 8, 256), "t16_w3_k256_s6": (192, 16, 256),
    "t16_w3_k128_s10": (192, 16, 128), "t16_w2_k256_s8": (128, 16, 256), "t32_w3_k256_s5": (192, 32, 256),
    "t32_w2_k128_s10": (128, 32, 128), "t64_w2_k256_s4": (128, 64, 256), "t64_w2_k128_s8": (128, 64, 128),
}


TIE = 0.01  # configs.c: modelled costs within 1% of the least count as a tie


def plans(build, probs):
    """{(M, N, K, bw, bt, bk): (tiles_n, tiles_m, k_iters, splits, iters_per_split, stream, ctas)}"""
    out = subprocess.run([build + "/dev/plan_dump", "--decode"], input="".join(f"{m} {n} {k}\n" for m, n, k in probs),
                         capture_output=True, text=True, check=True).stdout
    got = {}
    for line in filter(None, out.split("\n")):
        v = list(map(int, line.split()))
        got[tuple(v[:6])] = tuple(v[6:])
    return got


def terms(prob, tile, pl, sms=132):
    """(MB streamed, KB per CTA, split?, stream-K?) as decode_plan_cost computes them."""
    (m, n, k), (bw, bt, bk) = prob, tile
    tn, tm, ki, splits, ips, stream, ctas = pl
    iters = tn * tm * ki / ctas if stream else ips * math.ceil(ctas / sms)
    return tm * n * k / 2 / 1e6, iters * bw * bk / 2 / 1e3, int(splits > 1), stream


def cost(c, t):
    r, b, o, s, sk = c
    return o + max(t[0] / b, t[1] / r) + s * t[2] + sk * t[3]


def fit(rows):
    """rows: [(terms, us)] -> (r, B, o, s, sk), rms, max relative error"""
    y = np.array([us for _, us in rows])
    x = np.array([[1, t[2], t[3]] for t, _ in rows], float) / y[:, None]
    best = None
    for r in np.arange(10, 40, 0.25):
        for b in np.arange(1.8, 3.3, 0.02):
            rest = (y - np.array([max(t[0] / b, t[1] / r) for t, _ in rows])) / y
            c, *_ = np.linalg.lstsq(x, rest, rcond=None)
            err = x @ c - rest
            rms = float(np.sqrt(np.mean(err ** 2)))
            if best is None or rms < best[1]:
                best = ((float(r), float(b), *map(float, c)), rms, float(np.max(np.abs(err))))
    return best


def table(text):
    """{name: (r, B, o, s, sk)} from sm90_launch.cuh's decode_cost table."""
    rows = re.findall(r"\{(\d+), (\d+), (\d+), ([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+)\}", text)
    by = {tuple(map(int, r[:3])): tuple(map(float, r[3:])) for r in rows}
    return {name: by[t] for name, t in TILES.items() if t in by}


def choices(runs, pl, coef, only=None):
    """[(chosen us / fastest us, M, N, K, chosen)] over the problems (of shape `only`)."""
    out = []
    for m, n, k, times in runs:
        if m > 64 or (only and (n, k) != only):
            continue
        cand = [nm for nm, t in TILES.items() if nm in times and nm in coef and m <= 2 * t[1]]
        c = {nm: cost(coef[nm], terms((m, n, k), TILES[nm], pl[(m, n, k, *TILES[nm])])) for nm in cand}
        # as w4a16_heuristic (configs.c, session 20): a modelled tie within TIE goes to fewer tokens
        near = [nm for nm in cand if c[nm] <= (1 + TIE) * min(c.values())]
        pick = min(near, key=lambda nm: (TILES[nm][1], c[nm]))
        out.append((times[pick] / min(times[nm] for nm in cand), m, n, k, pick))
    return out


def report(label, got):
    gm = math.exp(sum(math.log(g[0]) for g in got) / len(got))
    print(f"{label}: the model's choice / the fastest tile, geometric mean {gm:.4f} over {len(got)} problems")
    for g in sorted(got, reverse=True)[:5]:
        print(f"  {g[0]:.3f}  M={g[1]} {g[2]}x{g[3]}: {g[4]}")


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        sys.exit(__doc__)
    score = args[0] == "--score"
    build, files = (args[1], args[2:]) if score else (args[0], args[1:])
    runs = [p for f in files for p in parse(f)]
    probs = list(dict.fromkeys(p[:3] for p in runs))
    pl = plans(build, probs)

    def rows(name, skip=None):
        t = TILES[name]
        return [(terms((m, n, k), t, pl[(m, n, k, *t)]), times[name]) for m, n, k, times in runs
                if name in times and m <= t[1] and (n, k) != skip]

    if score:
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "kernels", "sm90_launch.cuh")
        report("the tree's table", choices(runs, pl, table(open(here).read())))
        return
    coef = {}
    for name, (bw, bt, bk) in TILES.items():
        c, rms, mx = fit(rows(name))
        coef[name] = c
        print(f"        {{{bw}, {bt}, {bk}, {c[0]:.2f}, {c[1]:.2f}, {c[2]:.2f}, {c[3]:.2f}, {c[4]:.2f}}},"
              f"  /* {name}: rms error {rms:.3f}, max {mx:.3f} */")
    report("fitted on all shapes", choices(runs, pl, coef))
    shapes = sorted(set((n, k) for _, n, k in probs))
    loso = []
    for sh in shapes:
        loso += choices(runs, pl, {name: fit(rows(name, sh))[0] for name in TILES}, sh)
    report("each shape left out of the fit", loso)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fits the heuristic's decode model (src/kernels/sm90_launch.cuh, decode_cost) and scores it.

  dev/fit_decode_model.py BUILD RUN.txt [RUN.txt ...]
  dev/fit_decode_model.py --score [--table FILE] BUILD RUN.txt [RUN.txt ...]

RUN.txt: w4a16-bench --config all output at M <= 64 (e.g. docs/perf/h100-session18-decode-fp16.txt).
BUILD/dev/plan_dump --decode gives the plans (the wave rule's, as the product runs them). Per tile:
  o + max(MB / B, KB per CTA / r) + (K split ? s : 0) + (stream-K ? sk : 0)
r and B by a grid search, o, s and sk by least squares on relative error, from the runs where M
fits one token tile. Prints the table rows for decode_cost, then how the model's choice (the
least modelled time among the tiles of 8 to 64 tokens covering M in one or two token tiles, as
decode_cost has them since session 19; a tie within 1% to fewer tokens, as configs.c since session
20) compares with the fastest of those measured tiles, fitted on all shapes and leaving each shape
out of the fit in turn (one table at every M). --score fits nothing: it scores the tree's tables
(table, with upto8_t8's 8-token lines at M <= 8, as decode_cost takes them) or FILE's rows in the
same form (e.g. a fit's output; one table at every M) on the runs (e.g. another dtype or zero
mode). Session
26's fit (sessions 18-25's fp16 runs without zeros and docs/perf/h100-session26-decode-fit.txt) gave
the tree's table for M > 8 but its t64 lines, which stay session 18's. Needs numpy.

Until session 26 (52feac1) the tiles of fewer than 64 tokens split K in clusters of the split's
CTAs wherever all of them fit (up to 14% slower than the workspace they take now: 5120x4096 M=16
t16_w3_k256 13.6 -> 11.65 us): a file whose first line does not name session 26 or later ("gemv
kernel: session 26 ...") gives no time of such a tile where its plan did that (CLUSTERS)."""
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
# cudaOccupancyMaxActiveClusters on the H100, clusters of 2 ... 8 CTAs of one SM each (session 26)
CLUSTERS = {2: 66, 3: 39, 4: 30, 5: 22, 6: 17, 7: 15, 8: 15}


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


def table(text, upto8=False):
    """{name: (r, B, o, s, sk)} from sm90_launch.cuh's decode_cost table (upto8: as at M <= 8, with the
    8-token lines of upto8_t8), or from the rows of a fit's output."""
    def lines(t):
        rows = re.findall(r"\{(\d+), (\d+), (\d+), ([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+)(?:, [0-9.]+)*\}", t)
        return {tuple(map(int, r[:3])): tuple(map(float, r[3:8])) for r in rows}
    if "upto8_t8[]" in text:  # sm90_launch.cuh since session 30: the 8-token lines at M <= 8 apart
        main, t8 = text.split("upto8_t8[]")
        by = lines(main)
        if upto8:
            by.update(lines(t8.split("};")[0]))
    else:
        by = lines(text)
    return {name: by[t] for name, t in TILES.items() if t in by}


def session(path):
    """The session number the file's first line names ("... session 26 ..."), or 0."""
    m = re.search(r"session (\d+)", open(path).readline(), re.IGNORECASE)
    return int(m.group(1)) if m else 0


def clustered(tile, plan):
    """Whether a plan of this tile split K in clusters before session 26 (every cluster resident)."""
    tn, tm, _, splits, _, stream, _ = plan
    return tile[1] < 64 and not stream and splits in CLUSTERS and tn * tm <= CLUSTERS[splits]


def drop_stale(runs, pl, old):
    """runs without the times of clustered() plans in old files' runs"""
    out = []
    for (m, n, k, times), stale in zip(runs, old):
        if stale:
            times = {nm: us for nm, us in times.items()
                     if not (nm in TILES and clustered(TILES[nm], pl[(m, n, k, *TILES[nm])]))}
        out.append((m, n, k, times))
    return out


def choices(runs, pl, coef, only=None, coef8=None):
    """[(chosen us / fastest us, M, N, K, chosen)] over the problems (of shape `only`); coef8: the
    table at M <= 8 if another"""
    out = []
    for m, n, k, times in runs:
        if m > 64 or (only and (n, k) != only):
            continue
        tab = coef8 if coef8 and m <= 8 else coef
        cand = [nm for nm, t in TILES.items() if nm in times and nm in tab and m <= 2 * t[1]]
        c = {nm: cost(tab[nm], terms((m, n, k), TILES[nm], pl[(m, n, k, *TILES[nm])])) for nm in cand}
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
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "kernels", "sm90_launch.cuh")
    if score and args[1] == "--table":
        here, args = args[2], args[:1] + args[3:]
    build, files = (args[1], args[2:]) if score else (args[0], args[1:])
    per_file = [(f, parse(f)) for f in files]
    runs = [p for _, ps in per_file for p in ps]
    old = [session(f) < 26 for f, ps in per_file for _ in ps]
    probs = list(dict.fromkeys(p[:3] for p in runs))
    pl = plans(build, probs)
    runs = drop_stale(runs, pl, old)

    def rows(name, skip=None):
        t = TILES[name]
        return [(terms((m, n, k), t, pl[(m, n, k, *t)]), times[name]) for m, n, k, times in runs
                if name in times and m <= t[1] and (n, k) != skip]

    if score:
        text = open(here).read()
        report("the table of " + os.path.basename(here), choices(runs, pl, table(text), coef8=table(text, True)))
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

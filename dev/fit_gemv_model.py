#!/usr/bin/env python3
"""Fits the decode kernel's time model (src/kernels/gemv.cu, gemv_cost) and scores the heuristic's
choice between it and the Hopper tiles.

  dev/fit_gemv_model.py [--score] BUILD RUN.txt [RUN.txt ...]   (--score: the tree's model only)

RUN.txt: w4a16-bench --config all output (every configuration's time per problem, M <= 16 rows are
used), or a table in the format of docs/perf/h100-session22-gemv-model.txt ("M N K MB kw gemv_tX us
model fastest-tile us"; only that kernel's time and the fastest Hopper tile's are known there). The
A file whose problems all have integer zeros (zeros=int) is scored with gemv_cost's factor for them
and left out of the fits (the model is fitted without zeros). The
decode kernel's times are kept only from files whose first line says "gemv kernel: session 22", "23",
"24", "25", "26" or "31" (earlier runs timed a slower kernel); of session 22's, only where the tree
still runs one fragment per stripe, and of session 23's gemv_t8 only (its gemv_t16 ran two, with
spills). The Hopper tiles' times of plans that split K in clusters before session 26 are not used
(they ran slower: dev/fit_decode_model.py, CLUSTERS); where such a tile is the choice, the problem
is not scored.
BUILD/dev/plan_dump --costs gives the tree's modelled times
of the Hopper tiles. Three forms of the model, each fitted per kernel (t8 over its rows at M <= 8,
t16 over all of its rows) by least squares on relative error (o closed form, the rest by grid
search):
  flat  o + max(MB / B, chain)                               (session 20)
  waves o + max(full waves' MB / B + last wave, chain), last wave = max(its MB / B, one CTA's MB / r)
  sm    o + max(the busiest SM's MB / r + L x its rounds of CTAs, chain)
        (kw_cost's terms; the tree's form since session 22); for t16 r with one fragment per stripe
        and, fitted alone on its rows, r with two, as gemv_cost
chain = c x 64-k blocks per warp x rounds of warps, as gemv.cu; CTAs per SM as gemv_slots (zeros none),
fragments per stripe as stripe_frags.
Prints the coefficients, the rms error, and the heuristic's choice against the fastest measured
configuration (geometric mean), fitted on all shapes and with each shape left out of the fit, every
form scored on the problems where all of them chose a configuration the runs timed. Needs numpy."""
import math, os, re, subprocess, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fit_tile_model import parse as parse_bench  # noqa: E402  (the bench's --config all lines)
import fit_decode_model  # noqa: E402  (its plans and the runs' stale cluster-split times)

SMS = 132
zint2 = {}  # gemv_cost's factor with integer zeros at two fragments per stripe, per kernel (the tree's)


def parse(path):
    """[(M, N, K, {config: us})] at M <= 16; the decode kernel's times are kept only from runs of
    session 22's to 26's kernel (the file's first line says "gemv kernel: session 22" / "23" / "24" /
    "25" / "26" / "31"; 25, 26 and 31 run 24's decode kernel, 31 with session 27's pdl wait, which
    timed within 1.1% of session 26's: gemv_t8 1.011x on 66 common problems, gemv_t16 1.002-1.003x
    on 105): the earlier ones ran a kernel ~10-15% slower.
    Session 22 ran one fragment per stripe everywhere, so its times count only where the tree still
    does; session 23's gemv_t16 ran two with spills (not kept), so only its gemv_t8 times count."""
    lines = open(path).read().split("\n")
    s22, s23 = ("gemv kernel: session %d" % s in lines[0] for s in (22, 23))
    s24on = any("gemv kernel: session %d" % s in lines[0] for s in (24, 25, 26, 31))  # 24's kernel
    heads = [line for line in lines if re.search(r"\[\s*\d+/\d+\] M=", line)]
    zint = bool(heads) and all("zeros=int" in line for line in heads)  # the file's rows: integer zeros

    def keep(nm, m, n, k):
        if not nm.startswith("gemv_"):
            return True
        if s24on:
            return True
        if s23:
            return nm == "gemv_t8"
        return s22 and frags(tokens(nm) // 8, m, n, k) == 1
    out = []
    for m, n, k, t in parse_bench(path, r"\s+((?:sm90|gemv)_\S+)\s+([0-9.]+) us$"):
        out.append((m, n, k, {nm: us for nm, us in t.items() if keep(nm, m, n, k)}, zint))
    for v in (line.split() for line in lines):
        if len(v) == 10 and v[5].startswith("gemv_") and v[0].isdigit():
            m, n, k = int(v[0]), int(v[1]), int(v[2])
            t = {v[5]: float(v[6])} if keep(v[5], m, n, k) else {}
            if v[8] != "-":
                t["sm90_" + v[8]] = float(v[9])
            out.append((m, n, k, t, False))
    return [r for r in out if r[0] <= 16]


def most_warps(kt):
    kw = 8
    while kw > 1 and kt // kw < 4:
        kw //= 2
    return kw


def frags(nt, m, n, k):
    """gemv.cu's stripe_frags: 16-row fragments per stripe"""
    if m < 3 or (n + 31) // 32 * most_warps((k + 63) // 64) < 5 * SMS:
        return 1
    if nt == 2:
        return 2
    return 2 if m > 4 or warps_rule(n, k, nt, m, 1) == 8 else 1


def slots(nt, m, nr):
    """gemv.cu's gemv_slots (zeros none): CTAs per SM by the ring sized by M and the registers"""
    stage = 2 * 512 * nr + 2 * 128 * m + 128 * nr
    stages = (4 if nr == 1 else 3) if nt == 1 else 2
    smem = 8 * stages * stage + 8 * nr * nt * 512 + 8 * 128 + 1024
    return min(233472 // smem, 3 if nt == 1 and nr == 1 else 1 if nt == 2 and nr == 2 else 2)


def kw_cost(stripes, rows, k, kw, sl):
    per_cta = 8 // kw
    ctas = -(-stripes // per_cta)
    per_sm = -(-ctas // SMS)
    return 24576 * (-(-per_sm // sl)) + per_sm * rows * min(per_cta, stripes) * k / 2


def stripe_warps(n, k, nt, m):
    """gemv.cu's stripe_warps"""
    return warps_rule(n, k, nt, m, frags(nt, m, n, k))


def warps_rule(n, k, nt, m, nr):
    """gemv.cu's grid_for (its kw)"""
    rows = 16 * nr
    stripes, kt, sl = (n + rows - 1) // rows, (k + 63) // 64, slots(nt, m, nr)
    kw = most_warps(kt)
    best, w = kw_cost(stripes, rows, k, kw, sl), kw // 2
    while w >= 1:
        c = kw_cost(stripes, rows, k, w, sl)
        if c < 0.98 * best:
            best, kw = c, w
        w //= 2
    return kw


def terms(m, n, k, nt):
    """(MB, full waves' MB, last wave's MB, one CTA's MB, chain blocks, busiest SM's MB, its rounds,
    fragments per stripe)"""
    nr = frags(nt, m, n, k)
    kw, sl, rows = stripe_warps(n, k, nt, m), slots(nt, m, nr), 16 * nr
    stripes, kt = (n + rows - 1) // rows, (k + 63) // 64
    per_cta = 8 // kw
    ctas = (stripes + per_cta - 1) // per_cta
    cta_mb = per_cta * rows * k / 2 / 1e6
    full, rem = divmod(ctas, sl * SMS)
    rounds = (stripes * kw + 8 * sl * SMS - 1) // (8 * sl * SMS)
    per_sm = -(-ctas // SMS)
    return (n * k / 2e6, full * sl * SMS * cta_mb, rem * cta_mb, cta_mb, ((kt + kw - 1) // kw) * rounds,
            per_sm * cta_mb, -(-per_sm // sl), nr)


def model(form, c, t):
    """the modelled time; t: one problem's terms, or a numpy array of them (one row each)"""
    t = np.asarray(t, float).T
    if form == "flat":
        o, b, ch = c
        return o + np.maximum(t[0] / b, ch * t[4])
    if form == "sm":  # (o, r, lat, c), or (o, r one fragment, r two fragments, lat, c) as gemv_cost
        o, r, lat, ch = c[0], c[1], c[-2], c[-1]
        if len(c) == 5:
            r = np.where(t[7] == 2, c[2], c[1])
        return o + np.maximum(t[5] / r + lat * t[6], ch * t[4])
    o, b, r, ch = c
    last = np.where(t[2] > 0, np.maximum(t[2] / b, t[3] / r), 0.0)
    return o + np.maximum(t[1] / b + last, ch * t[4])


GRID = {"flat": [np.arange(1.2, 2.4, 0.02), np.arange(0.15, 0.6, 0.005)],
        "waves": [np.arange(1.2, 2.4, 0.04), np.arange(0.004, 0.04, 0.001), np.arange(0.15, 0.6, 0.02)],
        "sm": [np.arange(0.008, 0.04, 0.0005), np.arange(0.0, 3.0, 0.1), np.arange(0.15, 0.6, 0.02)]}


def fit(form, rows):
    """rows [(terms, us)] -> (coefficients, rms, max relative error)"""
    y = np.array([us for _, us in rows])
    tt = [t for t, _ in rows]
    best = None
    for b in GRID[form][0]:
        for r in GRID[form][1] if form != "flat" else [None]:
            for ch in GRID[form][-1]:
                c = (0.0, b, ch) if form == "flat" else (0.0, b, r, ch)
                rest = model(form, c, tt)
                o = float(np.sum((y - rest) / y ** 2) / np.sum(1 / y ** 2))  # least relative squares
                err = (o + rest - y) / y
                rms = float(np.sqrt(np.mean(err ** 2)))
                if best is None or rms < best[1]:
                    best = ((o, *c[1:]), rms, float(np.max(np.abs(err))))
    return best


def fit_two(rows):
    """the sm form for gemv_t16, as gemv_cost: (o, r, L, c) fitted on the rows with one fragment per
    stripe, then the rate with two fragments (one CTA per SM) alone on theirs, the rest kept
    -> ((o, r1, r2, L, c), rms, max relative error) over all rows"""
    one, two = [r for r in rows if r[0][7] == 1], [r for r in rows if r[0][7] == 2]
    c = fit("sm", one)[0]
    best = None
    for r2 in GRID["sm"][0] if two else [c[1]]:
        c5 = (c[0], c[1], r2, c[2], c[3])
        err = np.array([(float(model("sm", c5, [t])[0]) - us) / us for t, us in two or one])
        rms = float(np.sqrt(np.mean(err ** 2)))
        if best is None or rms < best[1]:
            best = (c5, rms)
    y = np.array([us for _, us in rows])
    err = (model("sm", best[0], [t for t, _ in rows]) - y) / y
    return best[0], float(np.sqrt(np.mean(err ** 2))), float(np.max(np.abs(err)))


def hopper_costs(build, probs):
    """{(M, N, K): {config: modelled us}} of the Hopper tiles (plan_dump --costs)"""
    out = subprocess.run([build + "/dev/plan_dump", "--costs"], input="".join(f"{m} {n} {k}\n" for m, n, k in probs),
                         capture_output=True, text=True, check=True).stdout
    got = {}
    for line in filter(None, out.split("\n")):
        v = line.split()
        got[tuple(map(int, v[:3]))] = {kv.split("=")[0]: float(kv.split("=")[1]) for kv in v[4:]
                                       if kv.startswith("sm90_")}
    return got


def tokens(name):
    return int(re.search(r"_t(\d+)", name).group(1))


def score(runs, hc, form, coef, only=None):
    """{(M, N, K, integer zeros?): (chosen / fastest, chosen)}: the least modelled time (the decode
    kernel's times zint2 with integer zeros at two fragments, as gemv_cost), a tie within 1% to
    fewer tokens; None where the run has no time for the choice, or a stale one (main)"""
    got = {}
    for m, n, k, times, zint in runs:
        if only and (n, k) != only:
            continue
        c = {nm: us for nm, us in hc[(m, n, k)].items() if m <= tokens(nm) * 2}
        for g in ("gemv_t8", "gemv_t16"):
            if m <= tokens(g) and g in coef:
                c[g] = float(model(form, coef[g], terms(m, n, k, tokens(g) // 8)))
                if zint and g in zint2 and frags(tokens(g) // 8, m, n, k) == 2:
                    c[g] *= zint2[g]
        near = [nm for nm in c if c[nm] <= 1.01 * min(c.values())]
        pick = min(near, key=lambda nm: (tokens(nm), c[nm]))
        if "stale " + pick in times:
            got[(m, n, k, zint)] = None
            continue
        times = {nm: us for nm, us in times.items() if not nm.startswith("stale ")}
        # a Hopper tile the run did not time (the session-20 table keeps only the fastest): its
        # time is taken as the fastest Hopper tile's, which favours the Hopper side
        hop = [us for nm, us in times.items() if nm.startswith("sm90_")]
        t = times.get(pick, min(hop) if pick.startswith("sm90_") and hop else None)
        got[(m, n, k, zint)] = None if t is None else (t / min(times.values()), pick)
    return got


def report(results):
    """results [(label, score's dict)], each reported over the problems every one of them could score"""
    common = set.intersection(*({p for p, v in r.items() if v} for _, r in results))
    print(f"scored on the {len(common)} problems every form could score (the others' choice was not timed):")
    for label, r in results:
        got = sorted(((r[p][0], p, r[p][1]) for p in common), reverse=True)
        gm = math.exp(sum(math.log(g[0]) for g in got) / len(got))
        print(f"  {label}: chosen / fastest, geometric mean {gm:.4f}; worst " +
              ", ".join(f"{g[0]:.3f} M={g[1][0]} {g[1][1]}x{g[1][2]}{' int' if g[1][3] else ''} {g[2]}"
                        for g in got[:3]))


def main():
    args = sys.argv[1:]
    only_score = bool(args) and args[0] == "--score"
    args = args[1:] if only_score else args
    if len(args) < 2:
        sys.exit(__doc__)
    build, files = args[0], args[1:]
    per_file = [(f, parse(f)) for f in files]
    runs = [r for _, rs in per_file for r in rs]
    # the Hopper tiles' times of plans that split K in clusters before session 26 (fit_decode_model.py)
    old = [fit_decode_model.session(f) < 26 for f, rs in per_file for _ in rs]
    pl = fit_decode_model.plans(build, list(dict.fromkeys(r[:3] for r in runs)))

    def stale(m, n, k, g):
        tile = fit_decode_model.TILES.get(g[5:])
        return tile is not None and fit_decode_model.clustered(tile, pl[(m, n, k, *tile)])
    runs = [(m, n, k, {("stale " if o and stale(m, n, k, g) else "") + g: us for g, us in t.items()}, zint)
            for (m, n, k, t, zint), o in zip(runs, old)]
    hc = hopper_costs(build, list(dict.fromkeys(r[:3] for r in runs)))
    global zint2
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "kernels", "gemv.cu")).read()
    # the last argument, zint2, is a number or (gemv_t16 since session 30) "dtype == BF16 ? bf16 : fp16":
    # the fp16 value, the last number, is taken
    t8, t16 = [tuple(map(float, c[:5])) + (float(re.findall(r"[0-9.]+", c[5])[-1]),) for c in re.findall(
        r"gemv_cost\(p, info, \d, ([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+), ([^;]+)\);", src)]
    zint2 = {"gemv_t8": t8[5], "gemv_t16": t16[5]}
    t8, t16 = t8[:5], t16[:5]
    results = [("the tree's model (sm)", score(runs, hc, "sm", {"gemv_t8": t8, "gemv_t16": t16}))]
    if only_score:
        report(results)
        return

    def rows(g, skip=None):
        return [(terms(m, n, k, tokens(g) // 8), t[g]) for m, n, k, t, zint in runs
                if g in t and not zint and (g == "gemv_t16" or m <= 8) and (n, k) != skip]

    shapes = sorted(set((n, k) for _, n, k, _, _ in runs))
    for form in ("flat", "waves", "sm"):
        coef = {}
        def fit_g(g, skip=None):
            return fit_two(rows(g, skip)) if form == "sm" and g == "gemv_t16" else fit(form, rows(g, skip))
        for g in ("gemv_t8", "gemv_t16"):
            c, rms, mx = fit_g(g)
            coef[g] = c
            print(f"{form} {g}: " + ", ".join(f"{x:.4g}" for x in c) + f"  rms {rms:.3f}, max {mx:.3f}, {len(rows(g))} rows")
        results.append((f"{form}, fitted on all shapes", score(runs, hc, form, coef)))
        loso = {}
        for sh in shapes:
            loso.update(score(runs, hc, form, {g: fit_g(g, sh)[0] for g in coef}, sh))
        results.append((f"{form}, each shape left out of the fit", loso))
    report(results)


if __name__ == "__main__":
    main()

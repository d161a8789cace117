/* sm90_launch.cuh - host side of the Hopper kernel: split-K choice, workspace, tensor maps,
 * launch. Included by one small .cu per tile configuration (see configs.def). */
#pragma once

#include <cudaTypedefs.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sm90_gemm.cuh"
#include "sm90_pingpong.cuh"

namespace sm90 {

template <int BT, int BK, int STAGES, int NW> constexpr size_t smem_bytes()
{
    /* + 1024: the kernel aligns the dynamic shared-memory base to 1024 B (128B swizzle atoms) */
    return sizeof(Smem<__half, BT, BK, STAGES, NW>) + 1024;
}
template <int BT, int BK, int STAGES> constexpr size_t smem_bytes_pp()
{
    return sizeof(PPSmem<__half, BT, BK, STAGES>) + 1024;
}

struct Plan {
    int tiles_n, tiles_m, k_iters, splits, iters_per_split;
    int stream;   /* 1: stream-K over a persistent 1-D grid of `ctas` CTAs */
    int dp_tiles; /* stream-K: whole tiles per CTA before the split ones (stream_range) */
    int ctas;     /* CTAs launched */
    int64_t slots; /* workspace slots for split tiles (0: no tile is split) */
};

/* Debug switch W4A16_SM90_STREAM=0|1: force the split-K grid or stream-K everywhere (the GPU
 * tests run once with stream-K forced, so that small problems exercise it too). */
inline int stream_env()
{
    static const int v = env_switch("W4A16_SM90_STREAM");
    return v;
}

/* Debug switch W4A16_SM90_CSPLIT=0|1: split-K partial sums through the workspace always (0) or
 * through a cluster's distributed shared memory wherever the splits fit one cluster (1). */
inline int csplit_env()
{
    static const int v = env_switch("W4A16_SM90_CSPLIT");
    return v;
}

/* Debug switch W4A16_SM90_TMA_STORE=0: the epilogue's direct stores everywhere. */
inline bool tma_env()
{
    static const bool v = env_switch("W4A16_SM90_TMA_STORE") != 0;
    return v;
}

/* Debug switch W4A16_SM90_KEEP_D=0|1: the output and partial sums with an L2 evict_normal (0)
 * or evict_last (1) policy everywhere, instead of the launch's choice (Params::keep_d). */
inline int keep_d_env()
{
    static const int v = env_switch("W4A16_SM90_KEEP_D");
    return v;
}

/* Debug switch W4A16_SM90_SPLITS=n (1 to 64): the split-K grid splits K n ways (at most one
 * split per k iteration) wherever it is used, instead of the wave rule's count; for experiments
 * on how thin the splits of small problems may be (dev/NOTES.md, session 19). */
inline int splits_env()
{
    static const int v = [] {
        const int n = env_int("W4A16_SM90_SPLITS");
        return n >= 1 && n <= 64 ? n : 0;
    }();
    return v;
}

/* dev/pipe_probe's buffer for VARIANT 9's time stamps ([CTAs][STAMP_SLOTS]); no product use. */
inline unsigned long long *&dev_stamps()
{
    static unsigned long long *buf = nullptr;
    return buf;
}

/* Debug switch W4A16_DEBUG (set): print each launch's plan to stderr. */
inline bool debug_env()
{
    static const bool v = getenv("W4A16_DEBUG") != nullptr;
    return v;
}

/* A plan's tile counts: bw weight rows x bt tokens per tile, bk k per iteration. */
inline Plan plan_tiles(const w4a16_problem *p, int bw, int bt, int bk)
{
    Plan pl = {};
    pl.tiles_n = (int)((p->n + bw - 1) / bw);
    pl.tiles_m = (int)((p->m + bt - 1) / bt);
    pl.k_iters = (int)((p->k + bk - 1) / bk);
    return pl;
}

/* The split-K grid (force_stream 0) or stream-K (1), or, with -1, the wave rule below. */
inline Plan plan_rule(const w4a16_problem *p, const w4a16_device_info *info, int bw, int bt, int bk, int force_stream)
{
    Plan pl = plan_tiles(p, bw, bt, bk);
    const int64_t tiles = (int64_t)pl.tiles_n * pl.tiles_m, sms = info->sm_count;
    const int64_t waves = (tiles + sms - 1) / sms;
    /* Stream-K when whole tiles would leave a last wave mostly idle: 57344x8192 at M=16 has 299
     * tiles of 192 rows, 2.27 waves of 132 (H100), so a third of the last wave's time the GPU
     * idles. Each CTA then takes an equal run of k iterations across tile boundaries. */
    pl.stream = force_stream == 1 || (force_stream == -1 && tiles * 2 > sms &&
                                      (double)tiles / (double)(waves * sms) < 0.9 && pl.k_iters >= 8);
    pl.dp_tiles = 0;
    if (pl.stream) {
        const int64_t units = tiles * pl.k_iters;
        pl.ctas = (int)(units < sms ? units : sms);
        pl.splits = 1;
        pl.iters_per_split = pl.k_iters;
        /* whole tiles for the full waves, then stream-K for the rest, for one row of tiles
         * (stream_range has the measurements) */
        if (whole_tiles_first(bk, bw, bt) && pl.tiles_m == 1)
            pl.dp_tiles = (int)(tiles / pl.ctas);
        const int64_t sk_units = stream_split_units(tiles, pl.k_iters, pl.ctas, pl.dp_tiles);
        pl.slots = sk_units % pl.ctas == 0 && (sk_units / pl.ctas) % pl.k_iters == 0 ? 0 : pl.ctas;
        return pl;
    }
    /* Split K only while the output tiles fill less than half the GPU (splitting more tiles
     * cost more in partial sums than it gained: 28672x8192 at M=256 fell from 0.72x to 0.52x
     * cuBLAS on the H100 with 4 splits), then take the fewest splits whose wave efficiency is
     * within 2% of the best, each split keeping >= 4 stages of work. */
    int splits = 1;
    if (tiles * 2 <= sms) {
        double best = 0.0;
        for (int s = 1; s * tiles <= sms; s++) {
            if (s > 1 && pl.k_iters / s < 4) break;
            const int64_t ctas = tiles * s, w = (ctas + sms - 1) / sms;
            const double eff = (double)ctas / (double)(w * sms);
            if (eff > best + 0.02) {
                best = eff;
                splits = s;
            }
        }
    }
    if (splits_env()) splits = splits_env() < pl.k_iters ? splits_env() : pl.k_iters;
    pl.iters_per_split = (pl.k_iters + splits - 1) / splits;
    pl.splits = (pl.k_iters + pl.iters_per_split - 1) / pl.iters_per_split;
    pl.ctas = (int)(tiles * pl.splits);
    pl.slots = pl.splits > 1 ? tiles : 0;
    return pl;
}

/* A time model (us, H100) of the 128-row tiles with 64 to 256 tokens, which the heuristic weighs
 * against each other past M = 64 and which decides there between stream-K and the split-K grid:
 *   whole tiles, R = ceil(tiles / SMs) rounds:    R (a K / 1024 + o)
 *   K split s ways (one round):                   a K / (1024 s) + o + (s == 2 ? s2 : sw)
 *   stream-K over all SMs:                        a tiles K / (1024 SMs) + o ceil(tiles / SMs) + sk
 * Fitted (least squares on relative error) to w4a16-bench --config all, H100, fp16, group 128,
 * zeros none: 72 problems (M = 96 ... 2048 on eight model shapes), each configuration with the
 * wave rule's plan and with stream-K off, two such pairs of runs (sessions 15 and 16; t192 only
 * in the second); rms error 5.6 / 5.9 / 6.4 / 7.4% (t64 / t128 / t192 / t256), about the runs'
 * own spread (same plan, two runs: 10-90% within -3.3 / +3.9%).
 * docs/perf/h100-session15-mid-{sk,nosk}.txt and h100-session16-fit-{sk,nosk}.txt hold the data,
 * dev/fit_tile_model.py refits it (dev/plan_dump gives it the plans; scripts/gpu-fit.sh collects
 * it). Stream-K's fix-ups (sk) cost 7 to 28 us: it rarely beats whole tiles at K = 4096
 * (14336x4096 M=256: t256 66.1 us stream-K against 50.7 us for one round of 112 tiles). In the
 * same data the model's choice came within 0.2% of the fastest of the eight (geometric mean); on
 * 70 held-out problems (M = 80 ... 3072, ten model shapes, h100-session16-val-{sk,nosk}.txt)
 * within 0.4%, where the session-15 model without t192 was within 3.6% (dev/fit_tile_model.py
 * --score --against a38c11d). */
struct TileCost {
    int bt, bk;
    double a, o, s2, sw, sk;
};
inline const TileCost *tile_cost(int bw, int bt, int bk)
{
    static const TileCost table[] = {
        {64, 256, 4.37, 1.57, 5.08, 0.00, 7.18},
        {128, 128, 6.87, 1.99, 4.66, 8.01, 12.92},
        {192, 64, 9.91, 3.18, 3.84, 8.56, 19.38},
        {256, 64, 11.25, 5.63, 3.69, 9.34, 27.63},
    };
    if (bw != 128) return nullptr;
    for (const TileCost &c : table)
        if (c.bt == bt && c.bk == bk) return &c;
    return nullptr;
}
inline double plan_cost(const TileCost &c, const Plan &pl, int sms)
{
    const double tiles = (double)pl.tiles_n * pl.tiles_m, rounds = ceil(tiles / sms);
    const double kk = (double)pl.k_iters * c.bk / 1024.0;
    if (pl.stream) return c.a * tiles * kk / sms + c.o * rounds + c.sk;
    if (pl.splits == 1) return rounds * (c.a * kk + c.o);
    return c.a * (double)pl.iters_per_split * c.bk / 1024.0 + c.o + (pl.splits == 2 ? c.s2 : c.sw);
}
/* The model applies past M = 64 (tiles of 64 tokens at M <= 64 keep the wave rule, which
 * their decode-like shapes were tuned with) to the tiles it knows, unless switched off. */
inline const TileCost *model_for(const w4a16_problem *p, int bw, int bt, int bk)
{
    return p->m > 64 && model_env() ? tile_cost(bw, bt, bk) : nullptr;
}

/* A time model (us, H100) of decode and small batches, M <= 64 on one or two token tiles of 8 to
 * 64 tokens, which the heuristic weighs the small tiles by (the wave rule's plan; the weights
 * streamed):
 *   o + max(MB / B, KB per CTA / r) + (K split ? s : 0) + (stream-K ? sk : 0)
 * MB: the weights of the token tiles (N K / 2 bytes per tile of tokens); KB per CTA: its k
 * iterations (stream-K: the average, tiles x iterations / CTAs) times the rounds of CTAs, each
 * iteration bw x bk / 2 bytes. B (TB/s) is the tile's streaming rate with every SM busy, r (KB/us)
 * one CTA's: the three-warpgroup tiles stream faster per CTA (r 25) than the 128-row ones (16-22),
 * which win where they give more CTAs or less stream-K fix-up (sk). Fitted (least squares on
 * relative error, dev/fit_decode_model.py) to w4a16-bench --config all, H100, session 18, fp16,
 * group 128, zeros none, 24 shapes x M = 1, 8, 16, 20, 32, 48, 64
 * (docs/perf/h100-session18-{decode,mid}-fp16.txt); rms error 5-10% per tile. Against the fastest
 * of these tiles, its choice took 1.0067x the time at M <= 16 and 1.0027x at M = 17 ... 64 (1.0058x
 * overall leaving each shape out of the fit in turn, worst 1.12x: 1024x4096 M=1), and 1.0104x /
 * 1.0034x in bf16 with integer zeros (h100-session18-{decode,mid}-bf16int.txt); the token rule it
 * replaces (sessions 13-17, no 8-token tiles) took 1.073x / 1.0085x (bf16 int 1.070x / 1.0080x),
 * worst 1.52x (1280x8192 M=1: t16_w2_k256 14.75 us, t16_w3_k128 9.73) and 1.18x (6144x4096 M=20:
 * t32_w2_k128 15.52, t32_w3_k256 13.17). On 12 other shapes at M = 1 and 16 (h100-session18-
 * decode-val-*.txt) the choice took 1.005x the fastest configuration's time, worst 1.036x; at
 * M = 24 and 40 (h100-session18-mid-val-*.txt) 1.013x, worst 1.20x (2560^2 M=40, where two token
 * tiles of t32_w2_k128 win; the token rule: 1.016x). Fitted on rows of up to two (or any number
 * of) token tiles too, the model's choices took 1.006x (1.012x) the fastest such configuration's
 * time against this one-tile model's 1.009x (1.010x), with negative split and stream-K terms:
 * not kept. Fitted on one-tile rows as it is, but weighing tiles that cover M in two token tiles
 * as well (session 19; decode_cost), its choice changed on 4 of 312 recorded problems, each
 * faster: M=48 and 64 1024x4096 t32_w2_k128 9.38 us against t64_w2_k128 13.73 and 13.78 (bf16 int
 * M=64 9.54 against 13.79), and M=40 12288x4096 t32_w3_k256 22.19 against t64_w2_k256 24.83.
 * Against the fastest tile of one or two token tiles: 1.0106x -> 1.0026x (mid-fp16), 1.0124x ->
 * 1.0076x (mid-val, held out), 1.0111x -> 1.0034x (mid-bf16int); M <= 16 unchanged (no two-tile
 * choice there). Scored on session 18's recorded runs (dev/fit_decode_model.py --score); on the
 * GPU (session 20, docs/perf/h100-session20-mid-decode.txt) those problems ran the predicted tiles:
 * 1024x4096 M=48 / 64 9.50 / 9.47 us, 12288x4096 M=40 22.38. The heuristic (configs.c) gives a
 * modelled tie within 1% to the tile with fewer tokens, which fixed 2560^2 M=40 (t64_w2_k128
 * 11.15 modelled against t32_w2_k128 11.22; measured 12.77 / 10.64) and 6 of 48 choices on 12 small
 * shapes (h100-session20-small-shapes.txt, 1.034x -> 1.015x the fastest configuration).
 * Refitted in session 26 for M > 8 (the same form; t64's lines kept): until 52feac1 the tiles of < 64
 * tokens split K in clusters wherever all of the split's clusters fit (cudaOccupancyMaxActiveClusters
 * on the H100: 66 / 39 / 30 / 22 / 17 / 15 / 15 clusters of 2 ... 8 CTAs), up to 14% slower than the
 * workspace they take since (5120x4096 M=16 t16_w3_k256 13.6 -> 11.65 us), and the table had been
 * fitted on those times. The refit leaves them out of sessions 18-25's runs and adds 132 problems of
 * the current kernels (docs/perf/h100-session26-decode-fit.txt: 22 shapes, M = 1 ... 32, fp16, zeros
 * none): rms error 1.4-2.9% per tile (was 5-10%). w4a16-bench A/B against the old table, three or two
 * rounds, 12 shapes where the choice changed, fp16 and bf16, zeros none and int
 * (h100-session26-decode-ab.txt): at M = 12 and 16 0.9745x the time over 56 rows (0.899-1.005;
 * 6144x4096 M=12 gemv_t16 12.80 -> t16_w3_k256 12.19 us, with integer zeros 13.60 -> 12.27), but at
 * M <= 8 1.0067x over 80 (0.974-1.093): there the choice is mostly between gemv_t8 and the 8-token
 * tiles, and gemv_t8's model is 5-8% high on 7392x8192, 10240x8192 and 6144x4096 (10240x8192 M=1
 * gemv_t8 22.1 -> t8_w3_k256 23.5 us), which the old table's equally high tiles balanced. So M <= 8
 * keeps the old table (table_upto8; since session 30 only its 8-token lines, upto8_t8). With
 * gemv.cu's model, the heuristic's choice took 1.0032x the fastest configuration's time on the
 * fitted runs (the old table 1.0076x, the refit at every M 1.0062x) and 1.0071x on 30 held-out
 * problems (h100-session26-decode-val.txt; 1.0121x, 1.0011x). */
struct DecodeCost {
    int bw, bt, bk;
    double r, b, o, s, sk;
    double rz, rzb; /* r's factor past M = 8 with zero points (integer or float), fp16 / bf16 */
};
/* The tiles the decode model knows (dev/plan_dump --decode lists their plans for the fit), fitted in
 * session 30 (below), but t16_w2_k256's line, session 26's, and t64's, session 18's; with upto8 =
 * true, the lines that replace the 8-token tiles' at M <= 8, session 18's (see above).
 * Session 30's refit: sessions 28 and 29 made t16_w3_k256 and t16_w2_k256 4-6% faster on
 * 10240x8192 and 5120x13824 (the warp-wide producer, the words a block ahead), so the model took
 * t8_w2_k256, gemv_t8 or t32_w3_k256 where a 16-token tile was faster (M = 8 10240x8192 t8_w2_k256
 * 23.82 us against t16_w3_k256 22.64). Refitted (dev/fit_decode_model.py's form and fit) on
 * w4a16-bench --config all of the current kernels (docs/perf/h100-session30-decode-fit-*.txt:
 * session 26's 24 shapes and 8192x28672, 57344x8192, 28672x4096, 16384x8192; M = 1 ... 32, fp16,
 * zeros none), rms error 1.4-2.4% per tile. Not kept from the refit: its 8-token lines at M <= 8
 * (each shape left out of the fit in turn, the choice took 1.0121x the fastest configuration's time
 * there against the old lines' 1.0068x), and its t16_w2_k256 line, which took that tile over
 * t16_w3_k256 at M = 9-16 on 8192x28672 and 57344x8192, 1.2-1.5% slower there (M = 16 fp16:
 * 48.48 / 47.92 us, 89.14 / 87.82), more in bf16 (M = 1: 50.32 / 48.62, 93.06 / 89.50) and with
 * zeros. Zero points slow the tiles unequally, so past M = 8 a tile's per-CTA rate r is scaled by
 * rz (fp16) or rzb (bf16) where the problem has zero points, fitted (least squares on relative
 * error, the rest of the line fixed) to the same shapes with integer zeros (M = 1, 8, 16, 32) and
 * in bf16 with integer zeros (M = 1, 8, 16); gemv_t16's factor is now its whole mean ratio (gemv.cu,
 * zint2). At M <= 8 such factors made the choice worse (fp16 integer zeros 1.0060 -> 1.0126): none
 * there. Float zeros take the integer zeros' factors, untimed. The heuristic's choice against the
 * fastest configuration on those runs, before (the session-26 table, fitted on none of them) ->
 * after: fp16 without zeros, M <= 8 1.0068 -> 1.0064, M = 12 ... 32 1.0059 -> 1.0026; fp16 integer
 * zeros 1.0125 -> 1.0065, 1.0113 -> 1.0025; bf16 integer zeros 1.0133 -> 1.0074, 1.0191 -> 1.0030
 * (fitted on these runs; the refit's lines with each shape left out of the fit in turn, t16_w2_k256
 * and the factors as fitted: fp16 without zeros 1.0081 / 1.0039, fp16 integer zeros 1.0077 /
 * 1.0036, bf16 integer zeros 1.0106 / 1.0072). On the GPU (scripts/gpu-ab.sh, w4a16-bench against
 * the tree before, two rounds in alternating order, nine shapes not in the fit: 2560x8192, 9216x4096,
 * 2048x14336, 5120x17408, 1024x28672, 10240x4096, 14336x4096, 13824x5120, 6144x4096; M = 1, 8, 16,
 * 32; fp16 and bf16, zeros none and int; docs/perf/h100-session30.txt) the 78 of 144 rows whose
 * choice changed took 0.9774x the time (M = 8 0.940, 24 rows: 10240x4096 t8_w2_k256 -> t16_w3_k256
 * 0.903-0.926, 2560x8192 gemv_t8 -> t16_w3_k256 0.843-0.896; M = 16 0.975; M = 1 1.002; M = 32
 * 1.006), the unchanged ones 1.0013x. Its losses: M = 1 without zeros where gemv_t8 was taken
 * (2048x14336 1.085, 9216x4096 1.050-1.065), 14336x4096 M = 32 (t32_w3_k256 over t32_w2_k128,
 * 1.030-1.041), 13824x5120 M = 16 with zeros (t16_w3_k256 over gemv_t16, 1.055-1.070) and 6144x4096
 * M = 16 (t16_w3_k128 over t16_w3_k256, 1.015-1.032). The TARGETS.md rows keep their choices.
 * Session 32: t32_w2_k128's line is session 30's scaled by the speed-up its every-lane wait
 * measured (WarpProducer: 0.9924; r and B divided by it, o, s and sk multiplied), and
 * t16_w3_k128's zero factors rz and rzb are 0.98 (were 0.96 / 0.94), not refitted. Scaling
 * t16_w3_k128's whole line by its own speed-up (0.978, session 31) took it where it loses:
 * 13824x5120 without zeros over gemv_t16 1.011-1.018x the time, 11008x2048 M = 8-16 over
 * t16_w3_k256 1.005-1.021x (w4a16-bench, gpu-ab.sh, two rounds). With these lines the choice moved
 * on 36 of 2212 problems (dev/plan_dump --costs: 49 shapes, M = 1 ... 64, both dtypes, zeros none
 * and int); against the tree before (docs/perf/h100-session32.txt): t32_w3_k256 -> t32_w2_k128 at
 * M = 20-32 on 14336x4096, 1024x28672, 5120x4096, 2560x8192 (M = 24 and 32) and 1536x14336 (with
 * integer zeros, M = 24 and 32), timed at M = 20 and 32 (1536x14336: 24 and 32), 0.919-0.988x on
 * 16 rows (14336x4096 M=32 fp16 24.50 -> 22.51 us: one of the refit's losses above, gone);
 * t16_w3_k256 -> t16_w3_k128 at M = 9-16 on 13824x5120 with integer zeros 0.890-0.909x (6 rows;
 * bf16 M=16 25.80 -> 23.28, where the refit's choice lost to gemv_t16's 24.36); t16_w2_k256 ->
 * t16_w3_k128 on 2560x5120 with integer zeros 0.992-1.007x (6 rows). */
inline const DecodeCost *decode_table(int *count, bool upto8 = false)
{
    static const DecodeCost table[] = {
        {192, 8, 256, 25.25, 2.94, 5.55, 1.82, 3.73, 0.92, 0.90},
        {128, 8, 256, 20.75, 2.74, 6.22, 0.85, 3.00, 0.91, 0.90},
        {192, 16, 256, 36.75, 2.94, 6.40, 1.91, 4.49, 0.88, 0.85},
        {192, 16, 128, 19.50, 2.58, 5.34, 1.87, 3.47, 0.98, 0.98},
        {128, 16, 256, 20.00, 2.64, 5.82, 1.38, 3.80, 1.00, 1.00},
        {192, 32, 256, 38.25, 2.92, 7.56, 1.74, 5.82, 0.85, 0.84},
        {128, 32, 128, 16.63, 2.20, 5.97, 1.42, 3.94, 0.96, 0.95},
        {128, 64, 256, 17.25, 2.08, 8.42, 0.96, 6.43, 1.00, 1.00},
        {128, 64, 128, 16.00, 1.96, 7.65, 1.45, 7.02, 1.00, 1.00},
    };
    /* at M <= 8, the 8-token tiles' lines (session 18's) */
    static const DecodeCost upto8_t8[] = {
        {192, 8, 256, 25.50, 3.26, 7.10, 2.03, 5.08, 1.00, 1.00},
        {128, 8, 256, 21.50, 2.76, 7.06, 1.14, 1.90, 1.00, 1.00},
    };
    *count = upto8 ? (int)(sizeof upto8_t8 / sizeof upto8_t8[0]) : (int)(sizeof table / sizeof table[0]);
    return upto8 ? upto8_t8 : table;
}
inline const DecodeCost *decode_cost(const w4a16_problem *p, int bw, int bt, int bk)
{
    if (p->m > 64 || p->m > 2 * bt || !model_env()) return nullptr;
    int count;
    for (int pass = p->m <= 8 ? 0 : 1; pass < 2; pass++) { /* pass 0: the lines at M <= 8 */
        const DecodeCost *table = decode_table(&count, pass == 0);
        for (int i = 0; i < count; i++)
            if (table[i].bw == bw && table[i].bt == bt && table[i].bk == bk) return &table[i];
    }
    return nullptr;
}
inline double decode_plan_cost(const DecodeCost &c, const w4a16_problem *p, const Plan &pl, int sms)
{
    const double tiles = (double)pl.tiles_n * pl.tiles_m;
    const double iters = pl.stream ? tiles * pl.k_iters / pl.ctas : (double)pl.iters_per_split * ceil((double)pl.ctas / sms);
    const double cta_kb = iters * c.bw * c.bk / 2.0 / 1e3, mb = (double)pl.tiles_m * p->n * p->k / 2.0 / 1e6;
    const double rzf = p->dtype == W4A16_DTYPE_BF16 ? c.rzb : c.rz; /* with zero points, past M = 8 */
    const double r = p->zero_mode == W4A16_ZEROS_NONE || p->m <= 8 ? c.r : c.r * rzf;
    return c.o + fmax(mb / c.b, cta_kb / r) + (pl.splits > 1 ? c.s : 0.0) + (pl.stream ? c.sk : 0.0);
}

/* force_stream: -1 lets the plan choose, 0 / 1 forces the split-K grid / stream-K (dev/pipe_probe
 * compares them). Where the wave rule takes stream-K and the cost model applies, the model may
 * turn it down for the split-K grid; it never takes stream-K where the rule does not (its data has
 * no stream-K run of more than 3.4 waves). */
inline Plan plan(const w4a16_problem *p, const w4a16_device_info *info, int bw, int bt, int bk, int force_stream = -1)
{
    if (force_stream == -1) force_stream = stream_env();
    const Plan rule = plan_rule(p, info, bw, bt, bk, force_stream);
    const TileCost *c = force_stream == -1 && rule.stream ? model_for(p, bw, bt, bk) : nullptr;
    if (!c) return rule;
    const Plan grid = plan_rule(p, info, bw, bt, bk, 0);
    return plan_cost(*c, grid, info->sm_count) < plan_cost(*c, rule, info->sm_count) ? grid : rule;
}

/* The model's time for the configuration's plan, or -1 where the model does not apply. */
inline double model_cost(const w4a16_problem *p, const w4a16_device_info *info, int bw, int bt, int bk)
{
    if (stream_env() != -1) return -1.0;
    if (const DecodeCost *d = decode_cost(p, bw, bt, bk))
        return decode_plan_cost(*d, p, plan(p, info, bw, bt, bk), info->sm_count);
    const TileCost *c = model_for(p, bw, bt, bk);
    return c ? plan_cost(*c, plan(p, info, bw, bt, bk), info->sm_count) : -1.0;
}

/* The ping-pong kernel's plan: whole tiles of 128 weight rows, a persistent grid of at most one
 * CTA per SM (gemm_kernel_pp), no split of K and no workspace. */
inline Plan plan_pp(const w4a16_problem *p, const w4a16_device_info *info, int bt, int bk)
{
    Plan pl = plan_tiles(p, 128, bt, bk);
    const int64_t tiles = (int64_t)pl.tiles_n * pl.tiles_m;
    pl.ctas = (int)(tiles < info->sm_count ? tiles : info->sm_count);
    pl.splits = 1; /* stream, dp_tiles and slots stay 0 */
    pl.iters_per_split = pl.k_iters;
    return pl;
}

/* The ping-pong kernel counts a CTA's ring stages in an int: (tiles per CTA) x k_iters < 2^31. */
inline int pp_supports(const w4a16_problem *p, const w4a16_device_info *info, int bt, int bk)
{
    if (p->m == 0) return 1;
    const Plan pl = plan_pp(p, info, bt, bk);
    const int64_t per_cta = ((int64_t)pl.tiles_n * pl.tiles_m + pl.ctas - 1) / pl.ctas;
    return (per_cta + 1) * pl.k_iters < ((int64_t)1 << 31);
}

inline size_t workspace_bytes(const w4a16_problem *p, const w4a16_device_info *info, int bw, int bt, int bk,
                              int force_stream = -1)
{
    if (p->m == 0) return 0;
    const Plan pl = plan(p, info, bw, bt, bk, force_stream);
    return (size_t)pl.slots * ((size_t)bw * bt * sizeof(float) + sizeof(int));
}

inline int supports(const w4a16_problem *p, const w4a16_device_info *info, int bt, size_t smem)
{
    if (smem > (size_t)info->smem_optin_bytes) return 0;
    if ((p->m + bt - 1) / bt > 65535) return 0;                   /* grid.y limit */
    /* scale/zero coordinates g*N + n are int32 in the kernel (and TMA coordinates are int32) */
    if ((p->k / p->group_size) * p->n >= ((int64_t)1 << 31)) return 0;
    return 1;
}

/* cuTensorMapEncodeTiled from the driver, without linking libcuda (DESIGN.md). */
inline PFN_cuTensorMapEncodeTiled_v12000 encode_fn()
{
    static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void *f = nullptr;
        cudaDriverEntryPointQueryResult q;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) !=
                cudaSuccess ||
            q != cudaDriverEntryPointSuccess)
            f = nullptr;
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
    }();
    return fn;
}

inline int encode(CUtensorMap *tm, CUtensorMapDataType type, int rank, const void *base, const uint64_t *dims,
                  const uint64_t *strides, const uint32_t *box, CUtensorMapSwizzle swz)
{
    PFN_cuTensorMapEncodeTiled_v12000 fn = encode_fn();
    if (!fn) return (int)cudaErrorNotSupported;
    const uint32_t estr[2] = {1, 1};
    const uint64_t no_strides[1] = {0}; /* rank 1 has no strides, but the pointer must be valid */
    CUresult r = fn(tm, type, (cuuint32_t)rank, const_cast<void *>(base), dims, strides ? strides : no_strides, box,
                    estr, CU_TENSOR_MAP_INTERLEAVE_NONE, swz, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                    CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS && debug_env()) /* debug switch: say which map the driver refused */
        fprintf(stderr, "w4a16: cuTensorMapEncodeTiled(rank %d, type %d, dim0 %llu, box0 %u, swizzle %d) = %d\n", rank,
                (int)type, (unsigned long long)dims[0], box[0], (int)swz, (int)r);
    return r == CUDA_SUCCESS ? 0 : (int)cudaErrorInvalidValue;
}

/* How many clusters of csz CTAs of `kernel` can run at once (cudaOccupancyMaxActiveClusters: it
 * depends on the GPU's GPC layout and the kernel's shared memory); 0 if none or csz is not in
 * [2, 8]. cache[csz] keeps the answer (0: not asked yet, -1: the query failed); each kernel has
 * its own cache. */
template <typename K> inline int max_clusters(K kernel, int csz, size_t smem, int threads, int (&cache)[9])
{
    if (csz < 2 || csz > 8) return 0;
    if (!cache[csz]) {
        cudaLaunchAttribute attr[1];
        attr[0].id = cudaLaunchAttributeClusterDimension;
        attr[0].val.clusterDim.x = 1;
        attr[0].val.clusterDim.y = 1;
        attr[0].val.clusterDim.z = (unsigned)csz;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(1, 1, (unsigned)csz);
        cfg.blockDim = dim3((unsigned)threads);
        cfg.dynamicSmemBytes = smem;
        cfg.attrs = attr;
        cfg.numAttrs = 1;
        int n = 0;
        const cudaError_t q = cudaOccupancyMaxActiveClusters(&n, kernel, &cfg);
        if (q != cudaSuccess) (void)cudaGetLastError(); /* this query's error only: no cluster split */
        cache[csz] = q == cudaSuccess && n > 0 ? n : -1;
    }
    return cache[csz] > 0 ? cache[csz] : 0;
}

/* Whether a split-K grid of `tiles` tiles adds their partial sums through clusters
 * (Params::csplit) rather than the workspace, given `fit`, how many clusters (one tile's split
 * CTAs each) can be resident at once. force 1: wherever one fits (force 0 never gets here);
 * -1, the default: only when every tile's cluster is resident at once (one wave), and only for
 * tiles of 64 tokens and more (bt: the tile's tokens). H100, w4a16-bench, fp16, two rounds, us, cluster split /
 * workspace (two-way splits in all; session 25, docs/perf/h100-session25-csplit.txt):
 * t64_w2_k128 M=64 8192x2048 12.61 12.58 / 13.34 13.31, t256 M=256 8192^2 51.15 51.06 /
 * 59.54 59.74 and 8192x28672 160.43 158.14 / 166.69 164.70; but the GS loop's tiles are
 * faster without it: t8_w3_k256 M=1 12288x2048 12.83 12.75 / 12.22 12.08, 8192x2048 12.00
 * 11.89 / 11.22 11.12; t16_w3_k256 M=16 12288x2048 12.99 12.85 / 12.35 12.48 (bf16 0.965);
 * t32_w3_k256 and t32_w2_k128 at M = 24, 32 0.969-1.001 (the heuristic's rows). */
inline bool use_csplit(int force, int bt, int64_t fit, int64_t tiles)
{
    return force == 1 ? fit > 0 : bt >= 64 && fit >= tiles;
}

/* force_csplit: -1 lets the launch choose (W4A16_SM90_CSPLIT; use_csplit), 0 / 1 forces the
 * workspace / the cluster reduction for split-K grids (1 still needs splits <= 8 and a cluster
 * that fits, max_clusters). */
/* The kernel of a configuration: the cooperative gemm_kernel, or with PP the ping-pong one. */
using KernelFn = void (*)(const CUtensorMap, const CUtensorMap, const CUtensorMap, const CUtensorMap, const Params);
template <typename T, int BT, int BK, int STAGES, int NW, int VARIANT, bool PP> constexpr KernelFn kernel_fn()
{
    if constexpr (PP) return gemm_kernel_pp<T, BT, BK, STAGES>;
    else return gemm_kernel<T, BT, BK, STAGES, NW, VARIANT>;
}

/* PP: the ping-pong schedule (NW = 2, whole tiles, direct stores). */
template <typename T, int BT, int BK, int STAGES, int NW, int VARIANT = 0, bool PP = false>
int launch_typed(const w4a16_gemm_args *g, int force_stream = -1, int force_csplit = -1)
{
    static_assert(!PP || (NW == 2 && VARIANT == 0), "the ping-pong kernel has two consumer warpgroups, no variants");
    constexpr int BW = Shape<NW>::BW;
    const w4a16_problem &pr = *g->p;
    constexpr bool MC = VARIANT == 5; /* dev: 2x1 clusters, activation box multicast */
    constexpr bool CL2 = MC || VARIANT == 6; /* dev: 2x1 clusters (6: without multicast) */
    const Plan pl = PP ? plan_pp(g->p, g->info, BT, BK) : plan(g->p, g->info, BW, BT, BK, CL2 ? 0 : force_stream);
    if (CL2 && pl.tiles_n % 2) return (int)cudaErrorInvalidValue; /* pairs of n tiles only */
    const CUtensorMapDataType tt = std::is_same<T, __half>::value ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16
                                                                   : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    CUtensorMap tm_a, tm_s, tm_z;
    int e;
    {
        const uint64_t dims[2] = {(uint64_t)pr.k, (uint64_t)pr.m};
        const uint64_t strides[1] = {(uint64_t)pr.lda * sizeof(T)};
        const uint32_t box[2] = {64, MC ? BT / 2 : BT};
        if ((e = encode(&tm_a, tt, 2, g->a, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_128B))) return e;
    }
    const uint64_t gn[1] = {(uint64_t)((pr.k / pr.group_size) * pr.n)};
    const uint32_t box1[1] = {BW};
    if ((e = encode(&tm_s, tt, 1, g->scales, gn, nullptr, box1, CU_TENSOR_MAP_SWIZZLE_NONE))) return e;
    if (pr.zero_mode == W4A16_ZEROS_FLOAT) {
        if ((e = encode(&tm_z, tt, 1, g->zeros, gn, nullptr, box1, CU_TENSOR_MAP_SWIZZLE_NONE))) return e;
    } else if (pr.zero_mode == W4A16_ZEROS_INT) {
        const uint32_t boxz[1] = {Shape<NW>::ZBOX_INT};
        if ((e = encode(&tm_z, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, g->zeros, gn, nullptr, boxz, CU_TENSOR_MAP_SWIZZLE_NONE)))
            return e;
    } else {
        tm_z = tm_s; /* unused */
    }
    Params p;
    p.m = (int)pr.m;
    p.n = (int)pr.n;
    p.k = (int)pr.k;
    p.gshift = pr.group_size == 64 ? 6 : pr.group_size == 128 ? 7 : 31; /* else group = K (validated) */
    p.zmode = (int)pr.zero_mode;
    p.tiles_k = (int)w4a16_pack_tiles_k(pr.k);
    p.k_iters = pl.k_iters;
    p.iters_per_split = pl.iters_per_split;
    p.tiles_n = pl.tiles_n;
    p.tiles_m = pl.tiles_m;
    p.stream = pl.stream;
    p.dp_tiles = pl.dp_tiles;
    p.keep_d = keep_d_env() >= 0 ? keep_d_env() : (int64_t)pr.m * pr.ldd * (int64_t)sizeof(T) <= (8 << 20);
    p.ldd = pr.ldd;
    p.alpha = pr.alpha;
    p.w = (const uint8_t *)g->w;
    p.bias = g->bias;
    p.d = g->d;
    p.partials = (float *)g->workspace;
    p.stamps = VARIANT == 9 ? dev_stamps() : nullptr;
    p.pdl = pr.pdl;
    p.counters = pl.slots ? (int *)((char *)g->workspace + (size_t)pl.slots * BW * BT * sizeof(float)) : nullptr;

    const KernelFn kernel = kernel_fn<T, BT, BK, STAGES, NW, VARIANT, PP>();
    constexpr size_t smem = PP ? smem_bytes_pp<BT, BK, STAGES>() : smem_bytes<BT, BK, STAGES, NW>();
    cudaError_t ce = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (ce != cudaSuccess) return (int)ce;
    const dim3 grid = pl.stream || PP ? dim3((unsigned)pl.ctas)
                                      : dim3((unsigned)pl.tiles_n, (unsigned)pl.tiles_m, (unsigned)pl.splits);
    /* Split-K partial sums through a cluster's shared memory (VARIANT 3 and 4 skip the tail, 5
     * has its own clusters). */
    if (force_csplit == -1) force_csplit = csplit_env();
    p.csplit = 0;
    if (!PP && (VARIANT <= 2 || VARIANT >= 7) && !pl.stream && pl.splits > 1 && force_csplit != 0) {
        static int cache[9]; /* per kernel (this instantiation) */
        const int64_t fit = max_clusters(kernel, pl.splits, smem, Shape<NW>::THREADS, cache);
        p.csplit = use_csplit(force_csplit, BT, fit, (int64_t)pl.tiles_n * pl.tiles_m);
    }
    /* D through TMA stores (store_tile_tma) where its rows are 16-byte aligned; stream-K keeps the
     * direct stores (its ring is busy with the next tile), and so do cluster splits whose CTAs'
     * token ranges would be uneven (each CTA stores BT / splits token rows). */
    CUtensorMap tm_d = tm_s; /* unused unless p.tma_d */
    p.tma_d = !PP && !pl.stream && (uintptr_t)g->d % 16 == 0 && (pr.ldd * sizeof(T)) % 16 == 0 && VARIANT != 3 &&
              VARIANT != 4 && (!p.csplit || (BT / 8) % pl.splits == 0) && tma_env();
    if (p.tma_d) {
        const uint64_t dims[2] = {(uint64_t)pr.n, (uint64_t)pr.m};
        const uint64_t strides[1] = {(uint64_t)pr.ldd * sizeof(T)};
        const uint32_t box[2] = {64, (uint32_t)(p.csplit ? BT / pl.splits : BT)};
        if ((e = encode(&tm_d, tt, 2, g->d, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_128B))) return e;
    }
    if (debug_env())
        fprintf(stderr, "w4a16: sm90 t%d_%c%d_k%d_s%d v%d: tiles %d x %d, k_iters %d, %s %d, csplit %d, tma_d %d\n",
                BT, PP ? 'p' : 'w', NW, BK, STAGES, VARIANT, pl.tiles_n, pl.tiles_m, pl.k_iters,
                pl.stream || PP ? "persistent ctas" : "splits", pl.stream || PP ? pl.ctas : pl.splits, p.csplit,
                p.tma_d);
    if (CL2 || p.csplit || p.pdl) {
        cudaLaunchAttribute attr[2];
        unsigned na = 0;
        if (CL2 || p.csplit) {
            attr[na].id = cudaLaunchAttributeClusterDimension;
            attr[na].val.clusterDim.x = CL2 ? 2 : 1;
            attr[na].val.clusterDim.y = 1;
            attr[na].val.clusterDim.z = CL2 ? 1 : (unsigned)pl.splits;
            na++;
        }
        if (p.pdl) na += pdl_attribute(&attr[na]);
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = grid;
        cfg.blockDim = dim3(Shape<NW>::THREADS);
        cfg.dynamicSmemBytes = smem;
        cfg.stream = g->stream;
        cfg.attrs = attr;
        cfg.numAttrs = na;
        const cudaError_t le = cudaLaunchKernelEx(&cfg, kernel, tm_a, tm_s, tm_z, tm_d, p);
        if (le != cudaSuccess) return (int)le;
    } else {
        kernel<<<grid, Shape<NW>::THREADS, smem, g->stream>>>(tm_a, tm_s, tm_z, tm_d, p);
    }
    return launch_status();
}

} // namespace sm90

/* One configuration = one tile shape, both activation dtypes. */
#define W4A16_SM90_NAME(what, BT, BK, S, NW) w4a16_sm90_##what##_t##BT##_w##NW##_k##BK##_s##S
#define W4A16_SM90_DEFINE(BT, BK, S, NW)                                                                    \
    extern "C" int W4A16_SM90_NAME(launch, BT, BK, S, NW)(const w4a16_gemm_args *g)                        \
    {                                                                                                       \
        return g->p->dtype == W4A16_DTYPE_FP16 ? sm90::launch_typed<__half, BT, BK, S, NW>(g)               \
                                               : sm90::launch_typed<__nv_bfloat16, BT, BK, S, NW>(g);       \
    }                                                                                                       \
    extern "C" int W4A16_SM90_NAME(supports, BT, BK, S, NW)(const w4a16_problem *p,                         \
                                                            const w4a16_device_info *info)                  \
    {                                                                                                       \
        return sm90::supports(p, info, BT, sm90::smem_bytes<BT, BK, S, NW>());                              \
    }                                                                                                       \
    extern "C" size_t W4A16_SM90_NAME(workspace, BT, BK, S, NW)(const w4a16_problem *p,                     \
                                                                const w4a16_device_info *info)              \
    {                                                                                                       \
        return sm90::workspace_bytes(p, info, sm90::Shape<NW>::BW, BT, BK);                                 \
    }                                                                                                       \
    extern "C" int W4A16_SM90_NAME(ksplits, BT, BK, S, NW)(const w4a16_problem *p,                          \
                                                           const w4a16_device_info *info)                   \
    {                                                                                                       \
        const sm90::Plan pl = sm90::plan(p, info, sm90::Shape<NW>::BW, BT, BK);                             \
        return pl.stream ? 1 : pl.splits;                                                                   \
    }                                                                                                       \
    extern "C" double W4A16_SM90_NAME(cost, BT, BK, S, NW)(const w4a16_problem *p,                          \
                                                           const w4a16_device_info *info)                   \
    {                                                                                                       \
        return sm90::model_cost(p, info, sm90::Shape<NW>::BW, BT, BK);                                      \
    }

/* One ping-pong configuration (gemm_kernel_pp: 128-row tiles, two warpgroups taking turns). */
#define W4A16_SM90_PP_NAME(what, BT, BK, S) w4a16_sm90_##what##_t##BT##_p2_k##BK##_s##S
#define W4A16_SM90_DEFINE_PP(BT, BK, S)                                                                     \
    extern "C" int W4A16_SM90_PP_NAME(launch, BT, BK, S)(const w4a16_gemm_args *g)                          \
    {                                                                                                       \
        return g->p->dtype == W4A16_DTYPE_FP16 ? sm90::launch_typed<__half, BT, BK, S, 2, 0, true>(g)       \
                                               : sm90::launch_typed<__nv_bfloat16, BT, BK, S, 2, 0, true>(g); \
    }                                                                                                       \
    extern "C" int W4A16_SM90_PP_NAME(supports, BT, BK, S)(const w4a16_problem *p,                           \
                                                           const w4a16_device_info *info)                    \
    {                                                                                                       \
        return sm90::supports(p, info, BT, sm90::smem_bytes_pp<BT, BK, S>()) &&                             \
               sm90::pp_supports(p, info, BT, BK);                                                          \
    }


/* configs.c - the table of compiled kernel configurations and the heuristic.
 * Index 0 is the portable reference kernel; the rest come from kernels/configs.def (as
 * filtered by the W4A16_CONFIGS CMake option into w4a16_configs.def). */
#include "internal.h"

static int simt_supports(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)p;
    (void)info;
    return 1;
}

static size_t no_workspace(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)p;
    (void)info;
    return 0;
}

static int no_split(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)p;
    (void)info;
    return 1;
}

static double no_cost(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)p;
    (void)info;
    return -1.0;
}

/* The decode kernel (kernels/gemv.cu): one token tile of 8 or 16, no workspace, K split only
 * inside its CTAs. N < 2^30: it steps the group constants' pointers by up to 4 N bytes in 32 bits. */
int w4a16_launch_gemv_t8(const w4a16_gemm_args *g);
int w4a16_launch_gemv_t16(const w4a16_gemm_args *g);
double w4a16_gemv_cost_t8(const w4a16_problem *p, const w4a16_device_info *info);
double w4a16_gemv_cost_t16(const w4a16_problem *p, const w4a16_device_info *info);
static int gemv_t8_supports(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)info;
    return p->m <= 8 && p->n < ((int64_t)1 << 30);
}
static int gemv_t16_supports(const w4a16_problem *p, const w4a16_device_info *info)
{
    (void)info;
    return p->m <= 16 && p->n < ((int64_t)1 << 30);
}

#define W4A16_SM90_NAME(what, BT, BK, S, NW) w4a16_sm90_##what##_t##BT##_w##NW##_k##BK##_s##S
#define X(BT, BK, S, NW)                                                                                  \
    int W4A16_SM90_NAME(launch, BT, BK, S, NW)(const w4a16_gemm_args *g);                                  \
    int W4A16_SM90_NAME(supports, BT, BK, S, NW)(const w4a16_problem *p, const w4a16_device_info *info);   \
    size_t W4A16_SM90_NAME(workspace, BT, BK, S, NW)(const w4a16_problem *p, const w4a16_device_info *info); \
    int W4A16_SM90_NAME(ksplits, BT, BK, S, NW)(const w4a16_problem *p, const w4a16_device_info *info);    \
    double W4A16_SM90_NAME(cost, BT, BK, S, NW)(const w4a16_problem *p, const w4a16_device_info *info);
#define W4A16_SM90_PP_NAME(what, BT, BK, S) w4a16_sm90_##what##_t##BT##_p2_k##BK##_s##S
#define P(BT, BK, S)                                                                                      \
    int W4A16_SM90_PP_NAME(launch, BT, BK, S)(const w4a16_gemm_args *g);                                   \
    int W4A16_SM90_PP_NAME(supports, BT, BK, S)(const w4a16_problem *p, const w4a16_device_info *info);
#include "w4a16_configs.def"
#undef X
#undef P

typedef struct {
    w4a16_config c;
    int tokens; /* tokens per tile (0 for the reference kernel) */
    int bk, nw; /* k per stage, consumer warpgroups */
    int pp;     /* 1: the ping-pong schedule (configs.def's P lines) */
    int gemv;   /* 1: the decode kernel (gemv.cu): weighed by its time model only, never by the
                 * token rule */
} config_entry;

static const config_entry configs[] = {
    {{"simt_ref", w4a16_launch_simt, simt_supports, no_workspace, no_split, no_cost}, 0, 0, 0, 0, 0},
#define X(BT, BK, S, NW)                                                                                  \
    {{"sm90_t" #BT "_w" #NW "_k" #BK "_s" #S, W4A16_SM90_NAME(launch, BT, BK, S, NW),                      \
      W4A16_SM90_NAME(supports, BT, BK, S, NW), W4A16_SM90_NAME(workspace, BT, BK, S, NW),                 \
      W4A16_SM90_NAME(ksplits, BT, BK, S, NW), W4A16_SM90_NAME(cost, BT, BK, S, NW)},                      \
     BT, BK, NW, 0, 0},
#define P(BT, BK, S) /* whole tiles: no workspace, no split of K */                                      \
    {{"sm90_t" #BT "_p2_k" #BK "_s" #S, W4A16_SM90_PP_NAME(launch, BT, BK, S),                             \
      W4A16_SM90_PP_NAME(supports, BT, BK, S), no_workspace, no_split, no_cost},                           \
     BT, BK, 2, 1, 0},
#include "w4a16_configs.def"
#undef X
#undef P
    {{"gemv_t8", w4a16_launch_gemv_t8, gemv_t8_supports, no_workspace, no_split, w4a16_gemv_cost_t8},
     8, 64, 0, 0, 1},
    {{"gemv_t16", w4a16_launch_gemv_t16, gemv_t16_supports, no_workspace, no_split, w4a16_gemv_cost_t16},
     16, 64, 0, 0, 1},
};

int w4a16_config_count(void) { return (int)(sizeof configs / sizeof configs[0]); }

const char *w4a16_config_name(int index)
{
    return index >= 0 && index < w4a16_config_count() ? configs[index].c.name : NULL;
}

const w4a16_config *w4a16_get_config(int index) { return &configs[index].c; }

/* A three-warpgroup tile (192 weight rows) or a tile of 256-k stages whose K splits would keep
 * fewer than 8 stages each: the next line with as many tokens is taken instead where there is
 * one, so the heuristic ends on the first such line that is not thin, else on the last. H100,
 * dev/pipe_probe, fp16: M=32 on 4096^2 t32_w3 10.41 us with 6 splits of <= 6 stages, t32_w2
 * 9.84 us; t16_w3_k256 with 4 splits of 4 stages on 4096^2 12.1 us, t16_w3_k128 9.4 us; on
 * 8192^2 (3 splits of ~10 stages) t16_w3_k256 won since 76d000c (configs.def has the numbers).
 * t64_w2_k256 on 4096^2 at M=64 (4 splits of 4 stages) against t64_w2_k128 (w4a16-bench, three
 * rounds each, session 9): 39.75 vs 38.90 us summed (fp16), 1.015-1.018 with integer zeros. */
static int thin_splits(const config_entry *e, const w4a16_problem *p, const w4a16_device_info *info)
{
    if (e->nw != 3 && e->bk != 256) return 0;
    const int64_t iters = (p->k + e->bk - 1) / e->bk;
    return iters / e->c.ksplits(p, info) < 8;
}

/* Where a valid configuration has a time model (past M = 64: sm90_launch.cuh's model_for; up to
 * M = 64 its decode model, decode_cost, for the tiles of 8 to 64 tokens that cover M in one or
 * two token tiles; up to M = 16 the decode kernel's, gemv.cu's gemv_cost), the least modelled
 * time (below). Otherwise (no modelled configuration compiled, or W4A16_SM90_MODEL=0) the token
 * rule over the Hopper tiles: the smallest token tile that covers M (fewest wasted MMA
 * columns); for M beyond the largest tile, the largest. Past M = 64 under that rule, a tile whose
 * grid would split K more than two ways (two-way splits meet in a cluster's shared memory, more
 * go through the workspace) gives way to the 64-token tile if that one splits K at most two ways:
 * on 4096x4096 (H100, dev/pipe_probe, fp16) M = 128 took 21.9 us with t128 (4 splits) and 16.7 us
 * with t64 (2), M = 256 31.4 us with t256 (4) and 24.8 us with t64 (none); with session 9's tiles
 * M = 128 16.61 us with t128_w2_k128 and 14.53 with t64_w2_k256, M = 256 25.42 with t256, 20.21
 * with t128_w2_k128 and 19.24 with t64_w2_k256. Falls back to the reference kernel when no Hopper
 * configuration can run the problem. Ping-pong lines are left to the tuner (configs.def). */
int w4a16_heuristic(const w4a16_problem *p, const w4a16_device_info *info)
{
    /* The configuration of least modelled time, where one has a model (the cost functions
     * answer -1 where none applies). Up to M = 64 (session 18): on 24 shapes x seven M the
     * decode model's choice took 1.007x (M <= 16) and 1.003x (17 ... 64) the fastest tile's time,
     * the token rule's 1.073x and 1.009x, worst 1.52x (sm90_launch.cuh has the numbers).
     * Past M = 64: On the model's 72 problems (M = 96 ... 2048, eight model shapes)
     * the token rule below ran up to 1.62x slower than the fastest configuration (14336x4096
     * M=384: t256, two token tiles, 135.2 us against t128's 83.5), 1.089x in geometric mean; the
     * model's choices 1.009x. On 70 other problems (M = 80 ... 3072 on ten model shapes, four of
     * them new; two runs each, alternating) it took 0.889x the token rule's time, 0.485-1.087x
     * per problem; x cuBLAS 1.000 against 0.889 in geometric mean
     * (docs/perf/h100-session15-model-val.txt). With t192 and the model refitted (session 16),
     * on another 70 held-out problems timed once with every configuration (h100-session16-val-*):
     * 0.969x the session-15 model's time (0.772-1.000x), x cuBLAS 1.020 against 0.988. The token
     * rule (W4A16_SM90_MODEL=0) now takes t192 for M = 129 ... 192 (unless the t64 fallback). */
    int pick = -1;
    double pick_us = 0.0, us[sizeof configs / sizeof configs[0]];
    for (int i = 1; i < w4a16_config_count(); i++) {
        us[i] = configs[i].pp || !configs[i].c.supports(p, info) ? -1.0 : configs[i].c.cost(p, info);
        if (us[i] >= 0.0 && (pick < 0 || us[i] < pick_us)) {
            pick = i;
            pick_us = us[i];
        }
    }
    /* Up to M = 64, a modelled tie (within 1%) goes to the tile with fewer tokens: it wastes fewer
     * MMA columns, and the decode model (rms error 5-10%) cannot tell such tiles apart. On session
     * 18's 312 recorded problems this changed three choices, each faster (w4a16-bench --config all,
     * H100, fp16): 3584^2 M=1 and M=16 t16_w3_k128 10.22 us against t32_w2_k128 12.51 / 12.32
     * (modelled 11.23 / 11.22), 2560^2 M=40 t32_w2_k128 10.64 against t64_w2_k128 12.77 (11.22 /
     * 11.15); geometric mean against the fastest tile of one or two token tiles 1.0069 -> 1.0051. */
    if (pick >= 0 && p->m <= 64) {
        const int first = pick;
        for (int i = 1; i < w4a16_config_count(); i++)
            if (us[i] >= 0.0 && us[i] <= 1.01 * us[first] &&
                (configs[i].tokens < configs[pick].tokens ||
                 (configs[i].tokens == configs[pick].tokens && us[i] < us[pick])))
                pick = i;
    }
    if (pick >= 0) return pick;
    int best = -1, largest = -1, t64 = -1;
    for (int i = 1; i < w4a16_config_count(); i++) {
        if (configs[i].pp || configs[i].gemv || !configs[i].c.supports(p, info)) continue;
        /* an 8-token line only where its K splits are not thin: otherwise the 16-token lines'
         * rule decides (the t8 lines are t16 lines with half the token columns) */
        if (configs[i].tokens < 16 && thin_splits(&configs[i], p, info)) continue;
        if (largest < 0 || configs[i].tokens > configs[largest].tokens) largest = i;
        if (configs[i].tokens >= p->m &&
            (best < 0 || configs[i].tokens < configs[best].tokens ||
             (configs[i].tokens == configs[best].tokens && thin_splits(&configs[best], p, info))))
            best = i;
        if (configs[i].tokens == 64 && t64 < 0) t64 = i;
    }
    if (best < 0) best = largest;
    if (best >= 0 && p->m > 64 && t64 >= 0 && configs[best].tokens > 64 && configs[best].c.ksplits(p, info) > 2 &&
        configs[t64].c.ksplits(p, info) <= 2)
        best = t64;
    return best >= 0 ? best : 0;
}

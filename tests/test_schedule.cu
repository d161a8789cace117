/* test_schedule.cu - the sm90 kernel's work split, checked on the CPU (no GPU needed).
 *
 * The kernel walks "units" (one output tile, one k iteration). Split-K gives each CTA of a
 * (tiles_n, tiles_m, splits) grid a run of one tile's k iterations; stream-K gives each of a
 * persistent grid's CTAs whole tiles for the full waves (dp_tiles each, where plan() asks for
 * them) and then an equal run of the remaining tiles' units, crossing tile boundaries
 * (stream_range); the partial sums of a split tile meet in workspace slot stream_slot(tile).
 * This test replays that walk
 * (the same segment loop as the kernel's consumers) for many shapes and checks:
 *   - every unit is owned by exactly one CTA, and each tile's segments add up to k_iters (the
 *     counter target the kernel's last CTA waits for);
 *   - under stream-K, every split tile's slot is in [0, ctas) and no two split tiles share one;
 *   - plan() keeps split-K grids within the SMs and its workspace covers every slot it uses;
 *     stream-K plans without slots split no tile;
 *   - past M = 64 the cost model only turns the wave rule's stream-K down, where it prices the
 *     split-K grid lower, and leaves every other plan as the rule makes it;
 *   - a cluster split's CTAs store disjoint token ranges that cover the tile (csplit_range), and
 *     the cluster split is the default only for tiles of >= 64 tokens (use_csplit);
 *   - the ping-pong kernel's tiles each go to one CTA and warpgroup, as the producer fills them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <vector>

#include "check.h"
#include "kernels/sm90_launch.cuh"

/* Replays one stream-K partition; returns the number of split tiles. */
static int64_t replay_stream(int64_t tiles, int64_t k_iters, int64_t ctas, int64_t dp_tiles, const char *what)
{
    const int64_t units = tiles * k_iters, sk_units = sm90::stream_split_units(tiles, k_iters, ctas, dp_tiles);
    std::vector<int64_t> done(tiles, 0), slot_tile(ctas, -1);
    std::vector<char> split(tiles, 0);
    int64_t next = 0, next_dp = sk_units, n_split = 0;
    CHECK(sk_units >= 0, "%s: %lld whole tiles per CTA exceed the tiles", what, (long long)dp_tiles);
    for (int64_t c = 0; c < ctas; c++) {
        int64_t r[4]; /* in the kernel's order: whole tiles, then split units */
        sm90::stream_range(c, tiles, k_iters, ctas, dp_tiles, 0, &r[0], &r[1]);
        sm90::stream_range(c, tiles, k_iters, ctas, dp_tiles, 1, &r[2], &r[3]);
        CHECK(r[0] == next_dp && r[1] == r[0] + dp_tiles * k_iters && r[0] % k_iters == 0,
              "%s: CTA %lld's whole tiles: units [%lld, %lld)", what, (long long)c, (long long)r[0], (long long)r[1]);
        CHECK(r[2] == next && r[2] <= r[3], "%s: CTA %lld's split units start at %lld, not %lld", what, (long long)c,
              (long long)r[2], (long long)next);
        next = r[3];
        next_dp = r[1];
        /* the kernel's segment loop, over both ranges */
        for (int64_t u = r[0], u_end = r[1], ri = 0; u < u_end || (ri == 0 && r[2] < r[3]);) {
            if (u == u_end) u = r[2], u_end = r[3], ri = 2;
            const int64_t tile = u / k_iters;
            const int64_t it_begin = u - tile * k_iters;
            const int64_t it_end = k_iters < u_end - tile * k_iters ? k_iters : u_end - tile * k_iters;
            const int64_t n_it = it_end - it_begin;
            CHECK(n_it > 0, "%s: empty segment", what);
            if (n_it <= 0) return -1;
            u += n_it;
            done[tile] += n_it;
            if (n_it < k_iters && !split[tile]) {
                split[tile] = 1;
                n_split++;
                CHECK(tile * k_iters < sk_units, "%s: tile %lld of the whole tiles split", what, (long long)tile);
                const int64_t s = sm90::stream_slot(tile, k_iters, sk_units, ctas);
                CHECK(s >= 0 && s < ctas, "%s: tile %lld slot %lld outside [0, %lld)", what, (long long)tile,
                      (long long)s, (long long)ctas);
                if (s < 0 || s >= ctas) continue;
                CHECK(slot_tile[s] == -1, "%s: tiles %lld and %lld share slot %lld", what, (long long)slot_tile[s],
                      (long long)tile, (long long)s);
                slot_tile[s] = tile;
            }
        }
    }
    CHECK(next == sk_units && next_dp == units, "%s: the CTAs end at units %lld and %lld of %lld and %lld", what,
          (long long)next, (long long)next_dp, (long long)sk_units, (long long)units);
    for (int64_t t = 0; t < tiles; t++)
        CHECK(done[t] == k_iters, "%s: tile %lld got %lld of %lld k iterations", what, (long long)t,
              (long long)done[t], (long long)k_iters);
    return n_split;
}

static void test_stream_partitions(void)
{
    const int64_t tiles_list[] = {1, 2, 3, 5, 22, 43, 64, 131, 132, 133, 299, 448, 1024};
    const int64_t k_list[] = {1, 2, 3, 7, 8, 21, 64, 128, 224};
    const int64_t ctas_list[] = {1, 2, 7, 66, 131, 132};
    int64_t cases = 0, splits = 0;
    char what[96];
    for (int64_t tiles : tiles_list)
        for (int64_t k : k_list)
            for (int64_t c : ctas_list) {
                const int64_t ctas = c < tiles * k ? c : tiles * k;
                for (int64_t dp : {(int64_t)0, tiles / ctas}) { /* plain stream-K, and whole tiles first */
                    snprintf(what, sizeof what, "stream-K tiles=%lld k_iters=%lld ctas=%lld dp_tiles=%lld",
                             (long long)tiles, (long long)k, (long long)ctas, (long long)dp);
                    const int64_t n = replay_stream(tiles, k, ctas, dp, what);
                    if (n > 0) splits += n;
                    cases++;
                }
            }
    printf("stream-K partitions: %lld cases, %lld split tiles checked\n", (long long)cases, (long long)splits);
}

/* An H100 as the handle sees it: 132 SMs, 227 KB of opt-in shared memory, 50 MB of L2. */
static w4a16_device_info h100_info(void)
{
    w4a16_device_info info = {};
    info.cc_major = 9;
    info.sm_count = 132;
    info.smem_optin_bytes = 232448;
    info.l2_bytes = 50 << 20;
    return info;
}

/* plan() on the H100's 132 SMs for the tiles of every configuration shape (configs.def's
 * cooperative lines, all of them whatever W4A16_CONFIGS builds; the ping-pong plan is plan_pp's). */
static void test_plans(void)
{
    const w4a16_device_info info = h100_info();
    const struct { int bw, bt, bk; } tiles[] = {
#define X(BT, BK, S, NW) {sm90::Shape<NW>::BW, BT, BK},
#define P(BT, BK, S)
#include "kernels/configs.def"
#undef X
#undef P
    };
    const int64_t ms[] = {1, 16, 64, 96, 192, 256, 384, 1024, 4096};
    const int64_t nks[][2] = {{4096, 4096}, {8192, 8192}, {8192, 28672}, {57344, 8192}, {14336, 4096},
                              {200, 384},   {264, 72}};
    int64_t plans = 0, streams = 0, hybrids = 0;
    char what[128];
    for (const auto &t : tiles)
        for (int64_t m : ms)
            for (const auto &nk : nks) {
                w4a16_problem p;
                if (w4a16_problem_init(&p, m, nk[0], nk[1], W4A16_DTYPE_FP16, 64, W4A16_ZEROS_NONE)) continue;
                const sm90::Plan pl = sm90::plan(&p, &info, t.bw, t.bt, t.bk);
                snprintf(what, sizeof what, "plan bw=%d bt=%d bk=%d M=%lld N=%lld K=%lld", t.bw, t.bt, t.bk,
                         (long long)m, (long long)nk[0], (long long)nk[1]);
                const int64_t tiles_total = (int64_t)pl.tiles_n * pl.tiles_m;
                CHECK(pl.tiles_n == (nk[0] + t.bw - 1) / t.bw && pl.tiles_m == (m + t.bt - 1) / t.bt &&
                          pl.k_iters == (nk[1] + t.bk - 1) / t.bk,
                      "%s: tile counts", what);
                const size_t ws = sm90::workspace_bytes(&p, &info, t.bw, t.bt, t.bk);
                CHECK(ws == (size_t)pl.slots * ((size_t)t.bw * t.bt * 4 + 4), "%s: workspace %zu for %lld slots", what,
                      ws, (long long)pl.slots);
                plans++;
                if (pl.stream) {
                    streams++;
                    CHECK(pl.ctas >= 1 && pl.ctas <= info.sm_count, "%s: %d stream-K CTAs", what, pl.ctas);
                    const bool whole_first = t.bk == 256 && t.bw * t.bt * 4 <= 16384 && pl.tiles_m == 1;
                    CHECK(sm90::whole_tiles_first(t.bk, t.bw, t.bt) == (t.bk == 256 && t.bw * t.bt * 4 <= 16384),
                          "%s: whole_tiles_first", what);
                    CHECK(pl.dp_tiles == (whole_first ? tiles_total / pl.ctas : 0), "%s: %d whole tiles per CTA", what,
                          pl.dp_tiles);
                    if (whole_first && pl.dp_tiles > 0) hybrids++;
                    const int64_t n_split = replay_stream(tiles_total, pl.k_iters, pl.ctas, pl.dp_tiles, what);
                    CHECK(pl.slots == 0 || pl.slots == pl.ctas, "%s: %lld slots for %d CTAs", what,
                          (long long)pl.slots, pl.ctas);
                    CHECK(n_split == 0 || pl.slots == pl.ctas, "%s: split tiles but no slots", what);
                } else {
                    CHECK(pl.splits >= 1 && pl.iters_per_split >= 1, "%s: splits %d of %d", what, pl.splits,
                          pl.iters_per_split);
                    CHECK((int64_t)(pl.splits - 1) * pl.iters_per_split < pl.k_iters &&
                              (int64_t)pl.splits * pl.iters_per_split >= pl.k_iters,
                          "%s: %d splits of %d iterations for %d", what, pl.splits, pl.iters_per_split, pl.k_iters);
                    CHECK(pl.splits == 1 || tiles_total * pl.splits <= info.sm_count,
                          "%s: %d splits of %lld tiles exceed the SMs", what, pl.splits, (long long)tiles_total);
                    CHECK(pl.slots == (pl.splits > 1 ? tiles_total : 0), "%s: %lld slots", what, (long long)pl.slots);
                    CHECK(pl.ctas == tiles_total * pl.splits, "%s: %d CTAs", what, pl.ctas);
                }
            }
    printf("plans: %lld checked, %lld of them stream-K, %lld with whole tiles first\n", (long long)plans,
           (long long)streams, (long long)hybrids);
    CHECK(streams > 0, "no shape chose stream-K: the stream-K plan checks did not run");
    CHECK(hybrids > 0, "no plan took whole tiles first: those checks did not run");
}

/* The cost model's say in plan() (sm90_launch.cuh's tile_cost): the plan is the wave rule's
 * except where the rule takes stream-K past M = 64 for a modelled tile and the model prices the
 * split-K grid lower. Both outcomes occur on these shapes. */
static void test_model_plans(void)
{
    const w4a16_device_info info = h100_info();
    const struct { int bt, bk; } tiles[] = {{64, 256}, {128, 128}, {192, 64}, {256, 64}, {64, 128}};
    int64_t checked = 0, declined = 0, kept = 0;
    char what[128];
    for (const auto &t : tiles)
        for (int64_t m = 1; m <= 4096; m += m < 64 ? 21 : m < 1024 ? 32 : 512)
            for (int64_t n = 2048; n <= 65536; n += 2048)
                for (int64_t k : {2048, 4096, 8192, 14336, 28672}) {
                    w4a16_problem p;
                    if (w4a16_problem_init(&p, m, n, k, W4A16_DTYPE_FP16, 128, W4A16_ZEROS_NONE)) continue;
                    snprintf(what, sizeof what, "model plan bt=%d bk=%d M=%lld N=%lld K=%lld", t.bt, t.bk,
                             (long long)m, (long long)n, (long long)k);
                    const sm90::Plan pl = sm90::plan(&p, &info, 128, t.bt, t.bk);
                    const sm90::Plan rule = sm90::plan_rule(&p, &info, 128, t.bt, t.bk, -1);
                    const sm90::Plan grid = sm90::plan_rule(&p, &info, 128, t.bt, t.bk, 0);
                    const sm90::TileCost *c = sm90::tile_cost(128, t.bt, t.bk);
                    checked++;
                    const bool same_as = pl.stream == rule.stream && pl.splits == rule.splits && pl.ctas == rule.ctas;
                    const bool is_grid = !pl.stream && pl.splits == grid.splits && pl.ctas == grid.ctas;
                    if (m <= 64 || !c || !rule.stream) {
                        CHECK(same_as, "%s: not the wave rule's plan", what);
                        continue;
                    }
                    const double grid_us = sm90::plan_cost(*c, grid, info.sm_count),
                                 sk_us = sm90::plan_cost(*c, rule, info.sm_count);
                    CHECK(grid_us > 0.0 && sk_us > 0.0, "%s: costs %g / %g us", what, grid_us, sk_us);
                    if (grid_us < sk_us) {
                        CHECK(is_grid, "%s: the model priced the grid lower (%.1f vs %.1f us) but kept stream-K",
                              what, grid_us, sk_us);
                        declined++;
                    } else {
                        CHECK(same_as, "%s: stream-K priced lower but not kept", what);
                        kept++;
                    }
                    CHECK(sm90::model_cost(&p, &info, 128, t.bt, t.bk) == (grid_us < sk_us ? grid_us : sk_us),
                          "%s: model_cost is not the chosen plan's", what);
                }
    printf("model plans: %lld checked; past M = 64 stream-K declined %lld times, kept %lld times\n",
           (long long)checked, (long long)declined, (long long)kept);
    CHECK(declined > 0 && kept > 0, "the model's two outcomes did not both occur");
}

/* The ping-pong kernel's walk (gemm_kernel_pp, replayed as its loops are written): the producer
 * fills the CTA's tiles c, c + G, ... in order, alternating the owning warpgroup; warpgroup w
 * takes tiles c + w G, c + (w + 2) G, ...; its tile's first stage is at ring position jj k_iters.
 * Every tile goes to exactly one CTA and warpgroup, that warpgroup is the owner the producer
 * signals, and the positions agree. plan_pp never splits and uses no workspace; pp_supports
 * refuses a problem whose positions would not fit the kernel's int. */
static void test_pp_plans(void)
{
    w4a16_device_info info = {};
    info.cc_major = 9;
    info.sm_count = 132;
    const int64_t ms[] = {1, 100, 128, 129, 1024, 4096};
    const int64_t nks[][2] = {{4096, 4096}, {8192, 8192}, {57344, 8192}, {8256, 640}, {200, 384}};
    int64_t plans = 0, multi = 0; /* multi: CTAs with more than two tiles */
    char what[128];
    for (int64_t m : ms)
        for (const auto &nk : nks) {
            w4a16_problem p;
            if (w4a16_problem_init(&p, m, nk[0], nk[1], W4A16_DTYPE_FP16, 64, W4A16_ZEROS_NONE)) continue;
            const sm90::Plan pl = sm90::plan_pp(&p, &info, 128, 128);
            snprintf(what, sizeof what, "ping-pong plan M=%lld N=%lld K=%lld", (long long)m, (long long)nk[0],
                     (long long)nk[1]);
            const int64_t tiles = (int64_t)pl.tiles_n * pl.tiles_m, G = pl.ctas;
            CHECK(pl.tiles_n == (nk[0] + 127) / 128 && pl.tiles_m == (m + 127) / 128 &&
                      pl.k_iters == (nk[1] + 127) / 128,
                  "%s: tile counts", what);
            CHECK(G == (tiles < info.sm_count ? tiles : info.sm_count) && G >= 1, "%s: %lld CTAs", what, (long long)G);
            CHECK(pl.stream == 0 && pl.splits == 1 && pl.slots == 0, "%s: split or workspace", what);
            CHECK(sm90::pp_supports(&p, &info, 128, 128) == 1, "%s: refused", what);
            std::vector<int> owner(tiles, -1), seen(tiles, 0);
            for (int64_t c = 0; c < G; c++) {
                int own = 0;
                int64_t pos = 0;
                std::vector<int64_t> first_pos;
                for (int64_t tile = c; tile < tiles; tile += G, own ^= 1, pos += pl.k_iters) {
                    owner[tile] = own;
                    first_pos.push_back(pos);
                }
                if (first_pos.size() > 2) multi++;
                for (int w = 0; w < 2; w++) {
                    int64_t jj = w;
                    for (int64_t tile = c + w * G; tile < tiles; tile += 2 * G, jj += 2) {
                        seen[tile]++;
                        CHECK(owner[tile] == w, "%s: tile %lld filled for warpgroup %d, taken by %d", what,
                              (long long)tile, owner[tile], w);
                        CHECK(jj * pl.k_iters == first_pos[jj], "%s: tile %lld at position %lld, filled at %lld", what,
                              (long long)tile, (long long)(jj * pl.k_iters), (long long)first_pos[jj]);
                    }
                }
            }
            for (int64_t t = 0; t < tiles; t++)
                CHECK(seen[t] == 1, "%s: tile %lld taken %d times", what, (long long)t, seen[t]);
            plans++;
        }
    /* per-channel groups pass the scale-index limit of supports(), so only pp_supports refuses
     * 528 x 64 tiles (256 per CTA) of 2^23 k iterations each */
    w4a16_problem big;
    w4a16_problem_init(&big, 528 * 128, 8192, (int64_t)1 << 30, W4A16_DTYPE_FP16, (int64_t)1 << 30, W4A16_ZEROS_NONE);
    CHECK(sm90::pp_supports(&big, &info, 128, 128) == 0, "ping-pong: 2^31 ring positions per CTA accepted");
    big.m = 1024;
    CHECK(sm90::pp_supports(&big, &info, 128, 128) == 1, "ping-pong: 8 tiles of 2^23 k iterations refused");
    printf("ping-pong plans: %lld checked, %lld CTAs with more than two tiles\n", (long long)plans,
           (long long)multi);
    CHECK(multi > 0, "no ping-pong plan gave a CTA three tiles: the hand-over checks did not run");
}

/* The cluster split's token groups: for every tile width and cluster size the CTAs' ranges
 * [qb, qe) partition [0, BT / 8), and where BT / 8 divides evenly (the launch then stores with
 * a TMA box of BT / csz rows) each range has exactly BT / 8 / csz groups. */
static void test_csplit_ranges()
{
    int cases = 0;
    for (int bt = 8; bt <= 256; bt += 8)
        for (int csz = 2; csz <= 8; csz++) {
            const int q_count = bt / 8;
            std::vector<int> owner(q_count, -1);
            for (int rank = 0; rank < csz; rank++) {
                int qb, qe;
                sm90::csplit_range(rank, csz, q_count, &qb, &qe);
                CHECK(0 <= qb && qb <= qe && qe <= q_count, "BT %d csz %d rank %d: [%d, %d)", bt, csz, rank, qb, qe);
                if (q_count % csz == 0)
                    CHECK(qe - qb == q_count / csz, "BT %d csz %d rank %d: %d groups, TMA box has %d", bt, csz, rank,
                          qe - qb, q_count / csz);
                for (int q = qb; q < qe && q >= 0 && q < q_count; q++) {
                    CHECK(owner[q] == -1, "BT %d csz %d: group %d stored by ranks %d and %d", bt, csz, q, owner[q],
                          rank);
                    owner[q] = rank;
                }
            }
            for (int q = 0; q < q_count; q++) CHECK(owner[q] >= 0, "BT %d csz %d: group %d stored by no rank", bt, csz, q);
            cases++;
        }
    printf("cluster split ranges: %d (BT, cluster size) cases\n", cases);
}

/* The cluster split's default (use_csplit): tiles of 64 tokens and more whose clusters are all
 * resident at once; never the 8- to 32-token tiles, which ran 0.935-0.977 of the time through the
 * workspace (session 25); forcing it takes any fit. */
static void test_csplit_default()
{
    static const struct { int force, bt; int64_t fit, tiles; bool want; } cases[] = {
        {-1, 64, 66, 64, true},   {-1, 256, 66, 64, true},  {-1, 128, 64, 64, true},
        {-1, 64, 32, 64, false},  {-1, 256, 0, 43, false},  {-1, 8, 66, 64, false},
        {-1, 16, 66, 64, false},  {-1, 32, 66, 64, false},  {1, 16, 1, 64, true},
        {1, 256, 0, 64, false},
    };
    for (const auto &c : cases)
        CHECK(sm90::use_csplit(c.force, c.bt, c.fit, c.tiles) == c.want,
              "force %d BT %d, %lld clusters fit, %lld tiles: want %d", c.force, c.bt, (long long)c.fit,
              (long long)c.tiles, (int)c.want);
    printf("cluster split's default: %d cases\n", (int)(sizeof cases / sizeof cases[0]));
}

/* The decode kernel's warps per stripe (gemv.cu, kw_cost) on a 132-SM H100, against the width
 * measured fastest with it forced (W4A16_GEMV_KW; session 21, docs/perf/h100-session21-gemv-kw.txt,
 * t8 at M = 1 and t16 at M = 16 agreeing except where said). Session 20's rule took 8 on the first
 * three. Session 22's kernel (three CTAs per SM at M = 1, h100-session22-gemv-ab.txt) measured the
 * same best widths at M = 1, 6144x4096 included (kw 8 / 4: 10.98 / 11.70). */
static void test_gemv_warps()
{
    unsetenv("W4A16_GEMV_KW"); /* the debug switch, read at the first call, would override the rule */
    static const struct { int64_t n, k; int kw; } cases[] = {
        {8192, 2048, 4},  /* us, kw 8 / 4 / 2: 10.50 / 9.12 / 9.57 (t8) */
        {7168, 2048, 4},  /* 10.18 / 9.06 / 9.42 */
        {11008, 2048, 4}, /* 13.38 / 11.87 / 12.32 */
        {4096, 4096, 8},  /* 9.12 / 9.71 / 14.00 */
        {5120, 5120, 8},  /* 13.25 / 14.14 / 16.35 */
        {6144, 4096, 8},  /* t16 14.05 / 14.46 / 15.87 (t8 12.59 at kw 4 against 13.34) */
        {8960, 1536, 4},  /* 11.78 / 10.30 / 10.37; kw 8 would leave 3 blocks per warp */
        {2048, 8192, 8},  /* session 20: 10.66 against kw 4's 14.85 */
    };
    for (const auto &c : cases) {
        w4a16_problem p;
        CHECK(w4a16_problem_init(&p, 1, c.n, c.k, W4A16_DTYPE_FP16, 128, W4A16_ZEROS_NONE) == W4A16_SUCCESS,
              "problem %lldx%lld", (long long)c.n, (long long)c.k);
        const int kw = w4a16_gemv_stripe_warps(&p, 132);
        CHECK(kw == c.kw, "gemv warps per stripe on %lldx%lld: %d, measured best %d", (long long)c.n,
              (long long)c.k, kw, c.kw);
    }
}

/* The decode kernel's 16-row fragments per stripe (gemv.cu, stripe_frags) on a 132-SM H100, against
 * gemv_t8 / gemv_t16 forced with one / two (W4A16_GEMV_NR; sessions 23 and 24,
 * docs/perf/h100-session23-gemv-nr.txt, h100-session24-t16-nr.txt, us). */
static void test_gemv_frags()
{
    unsetenv("W4A16_GEMV_NR"); /* the debug switch, read at the first call, would override the rule */
    static const struct { int64_t m, n, k; int nr; } cases[] = {
        {8, 6144, 4096, 2},   /* 14.94 / 12.05 */
        {8, 4096, 4096, 2},   /* 10.05 / 8.99 */
        {8, 4096, 14336, 2},  /* 19.12 / 16.86 */
        {6, 12288, 2048, 2},  /* 13.47 / 12.18 */
        {8, 2048, 8192, 1},   /* 9.89 / 11.02: 64 stripes of 32 rows, 3.9 warps per SM */
        {8, 1536, 8960, 1},   /* 9.87 / 11.55 */
        {4, 57344, 8192, 1},  /* 91.55 / 92.99: one fragment fits three CTAs per SM there, two two */
        {4, 12288, 2048, 1},  /* 11.07 / 12.16 */
        /* M = 3, 4 where one fragment would take 8 warps per stripe (a third call, fp16 zeros none,
         * two rounds summed) */
        {4, 5120, 5120, 2},   /* 25.82 / 24.61 */
        {3, 4096, 14336, 2},  /* 33.78 / 32.86 */
        {3, 8960, 1536, 1},   /* 18.56 / 19.52 (4 warps per stripe with one) */
        {2, 4096, 4096, 1},   /* 18.48 / 18.32, but 1.002x over the six shapes at M = 2 */
        /* gemv_t16: two fragments (one CTA per SM), as gemv_t8 where the stripes give >= 5 warps per SM */
        {16, 4096, 4096, 2},  /* 10.15 / 9.89 */
        {16, 28672, 4096, 2}, /* 38.20 / 31.60 */
        {16, 8960, 1536, 2},  /* 11.83 / 10.81 */
        {16, 2048, 8192, 1},  /* 10.35 / 12.12: 64 stripes of 32 rows, 3.9 warps per SM */
        {16, 1536, 8960, 1},  /* 10.41 / 12.69 */
        {12, 4096, 14336, 2}, /* 19.01 / 18.08 (session 23, two fragments with spills in two CTAs
                                 per SM: 18.96 / 20.43) */
        {12, 28672, 4096, 2}, /* 38.61 / 31.33 */
        {9, 12288, 2048, 2},  /* 14.16 / 12.35 */
        {10, 4096, 14336, 2}, /* 18.56 / 17.98 */
        {9, 2048, 8192, 1},   /* few stripes, as at M = 16 */
    };
    for (const auto &c : cases) {
        w4a16_problem p;
        CHECK(w4a16_problem_init(&p, c.m, c.n, c.k, W4A16_DTYPE_FP16, 128, W4A16_ZEROS_NONE) == W4A16_SUCCESS,
              "problem %lldx%lld", (long long)c.n, (long long)c.k);
        const int nr = w4a16_gemv_stripe_frags(&p, 132);
        CHECK(nr == c.nr, "gemv fragments per stripe at M=%lld on %lldx%lld: %d, measured best %d", (long long)c.m,
              (long long)c.n, (long long)c.k, nr, c.nr);
    }
}

int main(void)
{
    test_csplit_ranges();
    test_csplit_default();
    test_stream_partitions();
    test_plans();
    test_model_plans();
    test_pp_plans();
    test_gemv_warps();
    test_gemv_frags();
    return check_exit_code("test_schedule");
}

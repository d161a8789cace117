/* plan_dump - the sm90 plans of the cost model's tiles (sm90_launch.cuh's tile_cost) on a 132-SM
 * H100, for dev/fit_tile_model.py. No GPU. Reads "M N K" lines; prints one line per problem and
 * tile: M N K bt bk, then the wave rule's plan and the split-K grid's (stream-K as "sk", else the
 * split count), each with its tile count.
 * plan_dump --decode: the wave rule's plans of the decode model's tiles (decode_cost), for
 * dev/fit_decode_model.py: M N K bw bt bk tiles_n tiles_m k_iters splits iters_per_split stream
 * ctas.
 * plan_dump --costs: the heuristic's view of each problem (group 128; fp16 without zeros unless the
 * line names them: "M N K [fp16|bf16] [none|int|float]"): M N K, the configuration w4a16_heuristic
 * picks, then name=us for every valid configuration with a time model (dev/fit_gemv_model.py). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kernels/sm90_launch.cuh"

int main(int argc, char **argv)
{
    const bool decode = argc > 1 && !strcmp(argv[1], "--decode");
    const bool costs = argc > 1 && !strcmp(argv[1], "--costs");
    w4a16_device_info info = {};
    info.cc_major = 9;
    info.sm_count = 132;
    info.smem_optin_bytes = 232448;
    info.l2_bytes = 50 << 20;
    const int tiles[][2] = {{64, 256}, {128, 128}, {192, 64}, {256, 64}};
    long long m, n, k;
    char line[256], dt[16] = "", zm[16] = "";
    while (fgets(line, sizeof line, stdin)) {
        dt[0] = zm[0] = 0;
        if (sscanf(line, "%lld %lld %lld %15s %15s", &m, &n, &k, dt, zm) < 3) continue;
        const w4a16_dtype dtype = strcmp(dt, "bf16") ? W4A16_DTYPE_FP16 : W4A16_DTYPE_BF16;
        const w4a16_zero_mode zeros = !strcmp(zm, "int") ? W4A16_ZEROS_INT
                                      : !strcmp(zm, "float") ? W4A16_ZEROS_FLOAT : W4A16_ZEROS_NONE;
        w4a16_problem p;
        if (w4a16_problem_init(&p, m, n, k, dtype, 128, zeros)) return 1;
        if (costs) {
            printf("%lld %lld %lld %s", m, n, k, w4a16_config_name(w4a16_heuristic(&p, &info)));
            for (int i = 1; i < w4a16_config_count(); i++) {
                const w4a16_config *c = w4a16_get_config(i);
                const double us = c->supports(&p, &info) ? c->cost(&p, &info) : -1.0;
                if (us >= 0.0) printf(" %s=%.3f", c->name, us);
            }
            printf("\n");
            continue;
        }
        if (decode) {
            int count;
            const sm90::DecodeCost *t = sm90::decode_table(&count);
            for (int i = 0; i < count; i++) {
                const sm90::Plan r = sm90::plan_rule(&p, &info, t[i].bw, t[i].bt, t[i].bk, -1);
                printf("%lld %lld %lld %d %d %d %d %d %d %d %d %d %d\n", m, n, k, t[i].bw, t[i].bt, t[i].bk,
                       r.tiles_n, r.tiles_m, r.k_iters, r.splits, r.iters_per_split, r.stream, r.ctas);
            }
            continue;
        }
        for (const auto &t : tiles) {
            const sm90::Plan r = sm90::plan_rule(&p, &info, 128, t[0], t[1], -1);
            const sm90::Plan g = sm90::plan_rule(&p, &info, 128, t[0], t[1], 0);
            printf("%lld %lld %lld %d %d %d %s%d %s%d\n", m, n, k, t[0], t[1], r.tiles_n * r.tiles_m, r.stream ? "sk" : "s",
                   r.stream ? 0 : r.splits, g.stream ? "sk" : "s", g.stream ? 0 : g.splits);
        }
    }
    return 0;
}

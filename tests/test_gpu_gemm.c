/* test_gpu_gemm.c - w4a16_gemm on the GPU against the references, every element checked.
 *
 * For every case: random weights (fp32 in [-1, 1) quantized by w4a16_quantize_host), random A
 * in [-1, 1) with NaN in the lda padding (which must never be read), the output poisoned with
 * 0xFFFF (NaN) before each call, every element checked against ref_gemm_cpu (small problems)
 * or ref_gemm_gpu (large) with ref_check's tolerance (one ulp of the dtype relative, plus two
 * ulps of the output's rms absolute), the ldd padding and a guard after D checked untouched.
 * Each case runs with the heuristic (config -1) and with every configuration forced (a forced
 * configuration that w4a16_select_config refuses is skipped with a note). The workspace is
 * zeroed once and checked to be all zero after every call that uses it.
 *
 *   test_gpu_gemm            the quick tier (M in 1..16, 17, 31, 64, 127, 128, 129, 255, 1024
 *                            and two M = 8192 cases; W4A16_TEST_LONG=1: a longer sweep)
 *                            W4A16_TEST_PART=i/n runs the i-th of n interleaved parts of the
 *                            weight setups (the M = 8192 cases with part 1), so that a long tier
 *                            fits a time limit per run; the n parts together are the whole tier
 *                            W4A16_TEST_CONFIGS=p1,p2,... forces only the configurations whose
 *                            names start with one of the prefixes (the heuristic's call stays),
 *                            e.g. "gemv" to rerun a tier for the decode kernel alone
 *   test_gpu_gemm --small    a few small cases, quick enough for compute-sanitizer
 *   test_gpu_gemm --probe    only the device check: exit 0 on sm_90, 77 otherwise
 * Exit 77 ("SKIPPED") without an sm_90 device. */
#include "check.h"
#include "gpu_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { int64_t n, k, group; } shape;

static w4a16_handle handle;
static gpu_workspace ws;
static int64_t calls, skipped_configs;
static const char *config_filter; /* W4A16_TEST_CONFIGS, NULL: every configuration */

/* Whether W4A16_TEST_CONFIGS lets configuration cfg be forced (the heuristic, -1, always runs). */
static int config_wanted(int cfg)
{
    if (cfg < 0 || !config_filter) return 1;
    const char *name = w4a16_config_name(cfg);
    for (const char *f = config_filter; *f;) {
        const size_t len = strcspn(f, ",");
        if (len && !strncmp(name, f, len)) return 1;
        f += len + (f[len] == ',');
    }
    return 0;
}

static const char *dname(w4a16_dtype t) { return t == W4A16_DTYPE_BF16 ? "bf16" : "fp16"; }
static const char *zname(w4a16_zero_mode z)
{
    return z == W4A16_ZEROS_NONE ? "NONE" : z == W4A16_ZEROS_INT ? "INT" : "FLOAT";
}

/* One problem (weights, M, variant) against one reference, under every configuration. */
static void run_case(const gpu_weights *w, int64_t m, int with_bias, float alpha, int stride_a, int stride_d,
                     ref_rng *rng, double *worst_all)
{
    w4a16_problem p;
    W4_OK(w4a16_problem_init(&p, m, w->n, w->k, w->dtype, w->group, w->mode));
    p.alpha = alpha;
    if (stride_a) p.lda = w->k + 8;
    if (stride_d) p.ldd = w->n + 8;

    /* A [m, lda] with NaN padding; bias [n]. */
    uint16_t *a = malloc(2 * (size_t)(m * p.lda) + 2), *bias = malloc(2 * (size_t)w->n);
    double *ref = malloc(sizeof(double) * (size_t)(m * w->n) + 8);
    if (!a || !bias || !ref) exit(1);
    for (int64_t i = 0; i < m * p.lda; i++) a[i] = 0xffff; /* NaN in fp16 and bf16 */
    for (int64_t i = 0; i < m; i++) ref_fill_uniform(rng, w->dtype, a + i * p.lda, w->k, -1.0f, 1.0f);
    ref_fill_uniform(rng, w->dtype, bias, w->n, -1.0f, 1.0f);
    void *d_a = dev_upload(a, 2 * (size_t)(m * p.lda) + 2);
    void *d_bias = dev_upload(bias, 2 * (size_t)w->n);

    const int cpu_ref = (double)m * (double)w->n * (double)w->k <= (double)(1 << 26);
    if (cpu_ref) {
        CHECK(ref_gemm_cpu(&p, a, w->q, w->scales, w->zeros, with_bias ? bias : NULL, ref) == 0, "ref_gemm_cpu");
    } else {
        CHECK(ref_gemm_gpu(handle, &p, d_a, w->d_q, w->d_scales, w->d_zeros, with_bias ? bias : NULL, ref) == 0,
              "ref_gemm_gpu");
    }

    gpu_output out;
    output_alloc(&out, m, p.ldd);
    for (int cfg = -1; cfg < w4a16_config_count(); cfg++) {
        if (!config_wanted(cfg)) continue;
        char label[256];
        p.config = cfg;
        int chosen = -1;
        const w4a16_status sel = w4a16_select_config(handle, &p, &chosen);
        snprintf(label, sizeof label, "%s %s N=%lld K=%lld g=%lld M=%lld%s alpha=%g lda=%lld ldd=%lld config %d (%s)",
                 dname(w->dtype), zname(w->mode), (long long)w->n, (long long)w->k, (long long)w->group, (long long)m,
                 with_bias ? " bias" : "", alpha, (long long)p.lda, (long long)p.ldd, cfg,
                 sel == W4A16_SUCCESS ? w4a16_config_name(chosen) : "refused");
        if (sel != W4A16_SUCCESS) {
            CHECK(cfg >= 0, "%s: the heuristic found no configuration: %s", label, w4a16_last_error());
            if (skipped_configs++ < 20) printf("note: skipped %s: %s\n", label, w4a16_last_error());
            continue;
        }
        size_t need = 0;
        W4_OK(w4a16_workspace_size(handle, &p, &need));
        CHECK(workspace_reserve(&ws, handle, need) == 0, "%s: workspace not zero before growing it", label);
        output_poison(&out, NULL);
        const w4a16_status st = w4a16_gemm(handle, &p, d_a, w->d_packed, w->d_scales, w->d_zeros,
                                           with_bias ? d_bias : NULL, out.dev, ws.dev, ws.bytes, NULL);
        calls++;
        CHECK(st == W4A16_SUCCESS, "%s: w4a16_gemm returned %s: %s", label, w4a16_status_string(st),
              w4a16_last_error());
        output_download(&out);
        double worst = 0.0;
        const int64_t bad = output_check(label, &p, &out, ref, &worst);
        CHECK(bad == 0, "%s: %lld bad elements (worst err/tol %.3g)", label, (long long)bad, worst);
        if (worst > *worst_all) *worst_all = worst;
        if (need) CHECK(workspace_check_zero(label, &ws) == 0, "%s: workspace not left zeroed", label);
    }
    output_free(&out);
    cudaFree(d_a);
    cudaFree(d_bias);
    free(a);
    free(bias);
    free(ref);
}

/* Every M of the list against one weight setup; the bias / alpha / stride variant rotates with
 * a global counter so that every combination meets every setup. */
static void run_setup(const shape *s, w4a16_dtype dtype, w4a16_zero_mode mode, const int64_t *ms, int n_ms,
                      ref_rng *rng, int *variant)
{
    gpu_weights w;
    weights_make(&w, s->n, s->k, s->group, mode, dtype, rng);
    const int before = check_failures;
    double worst = 0.0;
    const clock_t t0 = clock();
    for (int i = 0; i < n_ms; i++) {
        const int v = (*variant)++;
        run_case(&w, ms[i], v & 1, (v >> 1) & 1 ? 0.5f : 1.0f, (v >> 2) & 1, (v >> 3) & 1, rng, &worst);
    }
    printf("%s %-5s N=%-5lld K=%-5lld g=%-5lld %2d M values: %s (worst err/tol %.3f, %.1f s)\n", dname(dtype),
           zname(mode), (long long)s->n, (long long)s->k, (long long)s->group, n_ms,
           check_failures == before ? "ok" : "FAILED", worst, (double)(clock() - t0) / CLOCKS_PER_SEC);
    fflush(stdout);
    weights_free(&w);
}

/* W4A16_TEST_PART=i/n (1 <= i <= n <= 64); unset or empty: the whole tier. */
static int part_from_env(int *part, int *parts)
{
    const char *v = getenv("W4A16_TEST_PART");
    if (!v || !v[0]) return 1;
    char tail = 0;
    if (sscanf(v, "%d/%d%c", part, parts, &tail) != 2 || *parts < 1 || *parts > 64 || *part < 1 || *part > *parts) {
        fprintf(stderr, "test_gpu_gemm: W4A16_TEST_PART=%s: expected i/n with 1 <= i <= n <= 64\n", v);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    int small = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--small")) small = 1;
        else if (!strcmp(argv[i], "--probe")) return gpu_have_sm90("test_gpu_gemm") ? 0 : GPU_SKIP;
        else {
            fprintf(stderr, "usage: %s [--small | --probe]\n", argv[0]);
            return 2;
        }
    }
    if (!gpu_have_sm90("test_gpu_gemm")) return GPU_SKIP;
    W4_OK(w4a16_create(&handle, 0));
    const int long_tier = !small && gpu_long_tier();
    config_filter = getenv("W4A16_TEST_CONFIGS");
    if (config_filter && !config_filter[0]) config_filter = NULL;
    int wanted = 0;
    for (int i = 0; i < w4a16_config_count(); i++) wanted += config_wanted(i);
    if (config_filter && !wanted) {
        fprintf(stderr, "test_gpu_gemm: W4A16_TEST_CONFIGS=%s names no compiled configuration\n", config_filter);
        w4a16_destroy(handle);
        return 2;
    }
    printf("%d configurations", w4a16_config_count());
    if (config_filter) printf(", %d forced (W4A16_TEST_CONFIGS=%s)", wanted, config_filter);
    printf(":");
    for (int i = 0; i < w4a16_config_count(); i++)
        if (config_wanted(i)) printf(" %s", w4a16_config_name(i));
    printf("\n%s tier\n", small ? "small" : long_tier ? "long" : "quick");

    static const int64_t quick_ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 64, 127, 128,
                                       129, 255, 1024};
    static const int64_t long_ms[] = {1,  2,  3,  4,  5,   6,   7,   8,   9,   10,  11,  12,  13,  14,   15,
                                      16, 17, 23, 24, 31,  32,  33,  47,  48,  63,  64,  65,  96,  127,  128,
                                      129, 192, 255, 256, 257, 384, 511, 512, 1000, 1024, 2048, 4096};
    static const int64_t small_ms[] = {1, 17, 129};
    /* N and K beyond multiples of 128 (tails in both), every group size, K with fewer k-tiles
     * than pipeline stages, the smallest N, one group past a tile boundary. */
    static const shape quick_shapes[] = {
        {200, 384, 128}, {136, 640, 64}, {264, 72, 72}, {384, 512, 128}, {8, 448, 64}, {64, 64, 64},
    };
    static const shape long_shapes[] = {
        {200, 384, 128}, {136, 640, 64},  {264, 72, 72},     {384, 512, 128},   {8, 448, 64},
        {64, 64, 64},    {8, 8, 8},       {1032, 1088, 64},  {4096, 4096, 128}, {7392, 2048, 64},
        {256, 8192, 8192}, {2048, 10944, 64},
    };
    static const shape small_shapes[] = {{136, 640, 64}, {264, 72, 72}};
    const shape *shapes = small ? small_shapes : long_tier ? long_shapes : quick_shapes;
    const int n_shapes = small ? 2 : long_tier ? (int)(sizeof long_shapes / sizeof long_shapes[0])
                                                : (int)(sizeof quick_shapes / sizeof quick_shapes[0]);
    const int64_t *ms = small ? small_ms : long_tier ? long_ms : quick_ms;
    const int n_ms = small ? 3 : long_tier ? (int)(sizeof long_ms / sizeof long_ms[0])
                                           : (int)(sizeof quick_ms / sizeof quick_ms[0]);

    int part = 1, parts = 1;
    if (!part_from_env(&part, &parts)) return 2;
    if (parts > 1) printf("part %d of %d\n", part, parts);

    /* Each setup seeds its own generator and keeps its place in the bias / alpha / stride
     * rotation, so a part checks its setups exactly as the whole tier does. */
    int variant = 0, setup = 0;
    const time_t t0 = time(NULL);
    for (int si = 0; si < n_shapes; si++)
        for (int dt = 0; dt < 2; dt++)
            for (int z = 0; z < 3; z++) {
                if (small && (dt + z) % 2) continue; /* --small: fp16 NONE/FLOAT, bf16 INT */
                ref_rng rng = {(0x5eed0000c0ffeeULL + 0x9e3779b97f4a7c15ULL * (uint64_t)setup) | 1};
                const int mine = setup++ % parts == part - 1;
                if (mine) run_setup(&shapes[si], (w4a16_dtype)dt, (w4a16_zero_mode)z, ms, n_ms, &rng, &variant);
                else variant += n_ms; /* the bias / alpha / stride rotation as in one run */
            }

    if (!small && part == 1) {
        ref_rng rng = {0x5eed0000c0ffeeULL - 1};
        /* M = 8192 (against cuBLAS through ref_gemm_gpu; modest N, K keep the SIMT config quick). */
        static const struct { shape s; w4a16_dtype t; w4a16_zero_mode z; int bias; float alpha; int sa, sd; } big[] = {
            {{1024, 1024, 128}, W4A16_DTYPE_FP16, W4A16_ZEROS_INT, 1, 0.5f, 1, 1},
            {{1024, 1024, 64}, W4A16_DTYPE_BF16, W4A16_ZEROS_FLOAT, 0, 1.0f, 0, 0},
        };
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
            gpu_weights w;
            weights_make(&w, big[i].s.n, big[i].s.k, big[i].s.group, big[i].z, big[i].t, &rng);
            double worst = 0.0;
            const int before = check_failures;
            run_case(&w, 8192, big[i].bias, big[i].alpha, big[i].sa, big[i].sd, &rng, &worst);
            printf("%s %-5s N=%-5lld K=%-5lld g=%-5lld M=8192: %s (worst err/tol %.3f)\n", dname(big[i].t),
                   zname(big[i].z), (long long)big[i].s.n, (long long)big[i].s.k, (long long)big[i].s.group,
                   check_failures == before ? "ok" : "FAILED", worst);
            weights_free(&w);
        }
    }

    CHECK(workspace_check_zero("final", &ws) == 0, "the workspace is not all zero at the end");
    printf("%lld GEMM calls checked in %lld s; %lld forced configurations refused the problem and were skipped\n",
           (long long)calls, (long long)(time(NULL) - t0), (long long)skipped_configs);
    workspace_free(&ws);
    w4a16_destroy(handle);
    return check_exit_code("test_gpu_gemm");
}

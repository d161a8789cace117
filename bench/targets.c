/* targets.c - TARGETS.md's speed targets per row of w4a16-bench's results (targets.h). */
#include "targets.h"

#include <math.h>
#include <stddef.h>

/* The three large shapes (N x K) and their M = 256 figures. */
static const struct {
    int64_t n, k;
    double x256;
} large[] = {{8192, 8192, 1.25}, {8192, 28672, 1.15}, {57344, 8192, 1.12}};

/* TARGETS.md's two tables at its four shapes (N x K) and seven M: cuBLAS fp16's time on its H100
 * (us), and its best existing kernels, x cuBLAS fp16 (the fastest of CUTLASS's mixed-input kernel
 * in TensorRT-LLM's configurations, Marlin, Humming and PyTorch's int4 kernel, each against cuBLAS
 * in its own run). */
static const int64_t table_m[7] = {1, 4, 16, 64, 256, 1024, 4096};
typedef struct {
    int64_t n, k;
    double v[7];
} table_row;
static const table_row cublas_us[] = {
    {4096, 4096, {18.9, 18.6, 19.4, 17.8, 21.2, 48.0, 183.7}},
    {8192, 8192, {49.6, 50.0, 50.3, 51.4, 57.1, 179.9, 715.9}},
    {8192, 28672, {166.6, 167.0, 166.8, 173.7, 185.6, 620.7, 2812.1}},
    {57344, 8192, {327.5, 328.7, 332.0, 339.0, 362.4, 1280.0, 5454.4}},
};
static const table_row best_x[] = {
    {4096, 4096, {1.94, 1.60, 1.44, 0.97, 0.96, 1.01, 1.01}},
    {8192, 8192, {2.50, 2.47, 2.46, 1.58, 1.16, 1.05, 0.90}},
    {8192, 28672, {3.00, 3.00, 3.03, 2.07, 1.14, 0.99, 1.09}},
    {57344, 8192, {3.37, 3.32, 3.32, 2.42, 1.05, 0.96, 0.99}},
};

static double lookup(const table_row *t, size_t rows, int64_t m, int64_t n, int64_t k)
{
    for (size_t s = 0; s < rows; s++)
        for (int j = 0; j < 7; j++)
            if (t[s].n == n && t[s].k == k && table_m[j] == m) return t[s].v[j];
    return 0.0;
}

double bench_targets_cublas_us(int64_t m, int64_t n, int64_t k)
{
    return lookup(cublas_us, sizeof cublas_us / sizeof cublas_us[0], m, n, k);
}

double bench_best_existing_x(int64_t m, int64_t n, int64_t k)
{
    return lookup(best_x, sizeof best_x / sizeof best_x[0], m, n, k);
}

/* x cuBLAS that 0.95 of the roofline means for this row: the roofline is the same for cuBLAS,
 * whose share of it is pct_roofline / x_cublas. */
static double x_cap(const bench_row *r)
{
    return 95.0 * r->x_cublas / r->pct_roofline;
}

int bench_row_target(const bench_row *r, bench_target *t)
{
    if (r->status != BENCH_ROW_OK || !(r->x_cublas > 0) || !(r->pct_roofline > 0) || !(r->pct_bw > 0)) return 0;
    int big = -1;
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++)
        if (large[i].n == r->n && large[i].k == r->k) big = (int)i;
    const int64_t m = r->m;
    t->kind = BENCH_TARGET_X;
    t->asked = 1.0;
    if (big >= 0 && (m == 1 || m == 2 || m == 4 || m == 8 || m == 16)) {
        t->kind = BENCH_TARGET_BW;
        t->asked = 85.0;
    } else if (r->n == 4096 && r->k == 4096 && m <= 16) {
        t->asked = 2.5;
    } else if (big >= 0 && (m == 32 || m == 64)) {
        t->asked = big == 2 && m == 64 ? 3.0 : 2.5;
    } else if (big >= 0 && m == 256) {
        t->asked = large[big].x256;
    } else if (m >= 1024) {
        t->asked = 1.02;
    }
    /* the cap, in the target's unit: % of the memory ceiling scales with pct_roofline as the time does */
    const double cap = t->kind == BENCH_TARGET_BW ? 95.0 * r->pct_bw / r->pct_roofline : x_cap(r);
    t->capped = cap < t->asked;
    t->want = t->capped ? cap : t->asked;
    const double got = t->kind == BENCH_TARGET_BW ? r->pct_bw : r->x_cublas;
    t->floor_met = r->x_cublas >= fmin(1.0, x_cap(r));
    const double bx = bench_best_existing_x(m, r->n, r->k);
    t->best_x = bx;
    t->best_met = !(bx > 0) || r->x_cublas >= fmin(1.1 * bx, x_cap(r));
    t->met = got >= t->want && t->floor_met && t->best_met;
    return 1;
}

/* targets.h - the speed targets of ../shared/TARGETS.md ("Our targets"), judged per row of
 * w4a16-bench's results. Pure C, no GPU. The figures are the H100 SXM's; report.c prints the
 * verdicts only for such a GPU. */
#ifndef W4A16_BENCH_TARGETS_H
#define W4A16_BENCH_TARGETS_H

#include "report.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bench_target_kind {
    BENCH_TARGET_BW = 1, /* effective bandwidth, % of the measured memory ceiling (pct_bw) */
    BENCH_TARGET_X = 2   /* x cuBLAS (x_cublas) */
} bench_target_kind;

typedef struct bench_target {
    bench_target_kind kind; /* the row's main target: the region's, else "never below 1.0x" */
    double asked;           /* TARGETS.md's figure (% of the ceiling, or x cuBLAS) */
    double want;            /* what the row must reach in the same unit, after the cap */
    int capped;             /* 1: 0.95 of the roofline asks less than the figure, and is the target */
    int floor_met;          /* "never below 1.0x cuBLAS", capped the same way */
    double best_x;          /* TARGETS.md's best existing kernel, x cuBLAS fp16; 0 off its table */
    int best_met;           /* x cuBLAS >= 1.1 best_x, capped the same way (1 off its table) */
    int met;                /* the main target, the floor and the 1.1x-the-best one all met */
} bench_target;

/* Fills *t for an OK row whose derived columns are filled (bench_derive) and returns 1; 0 for
 * any other row. Every OK row has at least the floor, 1.0x cuBLAS. The regions: M in {1, 2, 4, 8,
 * 16} on 8192x8192, 8192x28672 and 57344x8192 (N x K): 85% of the memory ceiling; M <= 16 on
 * 4096x4096: 2.5x; M = 32 and 64 on the three large shapes: 2.5x (57344x8192 at M = 64: 3.0x);
 * M = 256 on them: 1.25x, 1.15x, 1.12x; M >= 1024, any shape: 1.02x. No target asks for more
 * than 0.95 of the roofline (pct_roofline): where a figure would, that is the target instead.
 * "1.1x the best existing kernel" is judged at the 28 points of TARGETS.md's table of those
 * kernels (its four shapes x M = 1, 4, 16, 64, 256, 1024, 4096) from their x cuBLAS fp16 there;
 * a bf16 row's own ratio is against bf16 cuBLAS (3-5% faster than fp16 at M >= 1024). */
int bench_row_target(const bench_row *r, bench_target *t);

/* TARGETS.md's best existing kernel's x cuBLAS fp16 at (M, N, K), or 0 off its table. */
double bench_best_existing_x(int64_t m, int64_t n, int64_t k);

/* TARGETS.md's cuBLAS fp16 time on its H100 at (M, N, K), us, or 0 off its table: a harness far
 * from it (beyond +-10%) is suspect. */
double bench_targets_cublas_us(int64_t m, int64_t n, int64_t k);

#ifdef __cplusplus
}
#endif
#endif

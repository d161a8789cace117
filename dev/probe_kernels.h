/* probe_kernels.h - the kernel variants dev/pipe_probe launches directly (fp16), instantiated in
 * three translation units (probe_kernels_1/2/3.cu) that compile in parallel, and declared
 * extern in pipe_probe.cu. In one unit, pipe_probe.cu alone took ~90 s to compile and ended the
 * 2-core CI build by itself (154 s of the 180 s allowed, session 8).
 * X(BT, BK, STAGES, NW, VARIANT); VARIANTs: sm90_gemm.cuh. Session 11 dropped the variants of a
 * configuration no longer compiled (t16_w2_k128_s12, dropped in session 6) and t128's
 * other-loop, multicast and 2x1 cluster rows (t256 keeps the same three; no recorded result
 * rests on the t128 ones), so that the 2-core CI build keeps its margin under 3 minutes
 * (161 s with them; probe_kernels_2.cu alone compiled in 41 s). Session 12 dropped t256's
 * other-loop, multicast and 2x1 cluster rows too (sessions 2-3's results, not rerun since) and
 * added the memory-only rows (1, 3) of t16_w3_k256 and t64_w2_k256 (dev/stream_bw's question).
 * Session 17 added t8_w3_k256_s7 (m64n8 wgmmas for M <= 8), a library line since session 18.
 * Session 18 timed t8_w3_k128_s14 (H100, fp16, M=1, us: 6144x4096 10.19 against t8_w3_k256 10.39
 * and t16_w3_k128 10.32; 14336x4096 18.74 against t8_w2_k256 17.95; 2048x8192 8.75 against 8.29;
 * 8192^2 18.87 against t8_w3_k256 17.15) and dropped it: it won nowhere by more than 2%.
 * Session 19 added t8_w2_k256_s10's memory-only rows (1, 3) and time stamps (9): where the time of
 * the small decode shapes (4096^2 M=1: 10.3 us) goes. Session 28 dropped t16_w3_k128's no-loads
 * row (8): with the warp-wide producer ptxas serialized its wgmmas (C7513, which fails CI); the
 * no-dequantization row (7) stays. */
#pragma once
#include "internal.h"

#define PROBE_KERNELS_1(X)                                                                                     \
    X(16, 128, 10, 3, 0) X(16, 128, 10, 3, 1) X(16, 128, 10, 3, 3) X(16, 128, 10, 3, 4) X(16, 128, 10, 3, 7)  \
    X(16, 128, 10, 3, 9) X(16, 256, 6, 3, 7)                                                                  \
    X(16, 256, 6, 3, 9) X(32, 128, 10, 2, 0) X(16, 256, 6, 3, 1) X(16, 256, 6, 3, 3) X(8, 256, 10, 2, 1)       \
    X(8, 256, 10, 2, 3) X(8, 256, 10, 2, 9)
#define PROBE_KERNELS_2(X)                                                                                     \
    X(64, 128, 8, 2, 0) X(64, 128, 8, 2, 1) X(64, 128, 8, 2, 5) X(64, 128, 8, 2, 6) X(64, 128, 8, 2, 7)        \
    X(64, 128, 8, 2, 9) X(128, 128, 5, 2, 0) X(128, 128, 5, 2, 7) X(128, 128, 5, 2, 9) X(64, 256, 4, 2, 1)         \
    X(64, 256, 4, 2, 3)
#define PROBE_KERNELS_3(X)                                                                                     \
    X(256, 64, 6, 2, 0) X(256, 64, 6, 2, 1) X(256, 64, 6, 2, 3) X(256, 64, 6, 2, 4) X(256, 64, 6, 2, 7)        \
    X(256, 64, 6, 2, 8) X(256, 64, 6, 2, 9)

#define PROBE_EXTERN(BT, BK, S, NW, V)                                                                         \
    namespace sm90 {                                                                                           \
    extern template int launch_typed<__half, BT, BK, S, NW, V>(const w4a16_gemm_args *, int, int);            \
    }
#define PROBE_INSTANTIATE(BT, BK, S, NW, V)                                                                    \
    namespace sm90 {                                                                                           \
    template int launch_typed<__half, BT, BK, S, NW, V>(const w4a16_gemm_args *, int, int);                   \
    }

/* Clusters of csz CTAs of the product kernel (VARIANT 0) of t16_w3_k128 (1), t64_w2_k128 (2) and
 * t256_w2_k64 (3) that can be resident at once, after a launch has set its shared-memory size;
 * one per translation unit, next to the kernel's instantiation. */
int probe_clusters_t16(int csz);
int probe_clusters_t64(int csz);
int probe_clusters_t256(int csz);

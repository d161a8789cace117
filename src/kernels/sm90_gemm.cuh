/*
 * sm90_gemm.cuh - the Hopper W4A16 kernel: D^T = W . A^T with wgmma.
 *
 * Weights (dequantized in registers) are wgmma's A operand (64 rows per warpgroup), tokens are
 * its N dimension (BT per tile), activations come through TMA into 128B-swizzled shared memory
 * as the B operand. One producer warpgroup (one elected thread) fills a ring of STAGES
 * shared-memory stages with TMA / bulk copies; two or three consumer warpgroups
 * ("cooperative": 64 weight rows each) dequantize and issue wgmma. Work is a walk over units
 * (one tile, one k step): a grid z dimension splits K (split-K) when the output tiles alone
 * cannot fill the GPU, and a persistent 1-D grid takes equal runs of units across tile
 * boundaries (stream-K) when whole tiles would leave the last wave mostly idle. Partial sums
 * of a split tile meet in the workspace; the CTA that completes a tile's k iterations
 * finishes it and zeroes its workspace slot again.
 *
 * The packed weight layout (packed_layout.h) gives each consumer thread the nibbles of its
 * four k16 A fragments of a 64x64 tile in one 16-byte shared-memory load. Fragments hold the
 * dequantized weights (q - z) s (+ float zero), except in small token tiles with integer or no
 * zeros and groups of >= 128 ("GS"): there they hold the integers q - z, and each group's fp32
 * sums are scaled once.
 */
#pragma once

#include <cuda.h>
#include <type_traits>

#include "common.cuh"
#include "fragment_dequant.cuh"
#include "ptx.cuh"
#include "wgmma_ops.cuh"

namespace sm90 {

/* NW consumer warpgroups (2 or 3), 64 weight rows each: a tile holds BW = 64 NW weight rows
 * and the CTA 128 (NW + 1) threads. Registers after setmaxnreg: producer 40, consumers
 * 232 (NW = 2) or 152 (NW = 3). setmaxnreg.inc waits until the CTA's own pool, what the
 * launch allocated (THREADS x the kernel's count, at most 65536 / THREADS rounded down to a
 * multiple of 8), covers every warpgroup's new count: 128*40 + 128*NW*R <= THREADS * that.
 * NW = 2: 64512 <= 384 * 168; NW = 3: 63488 <= 512 * 128. (NW = 4 with R = 112 asks 62464
 * of 640 * 96 = 61440: a t16_w4 tried in session 6 hung in setmaxnreg, dev/NOTES.md.) */
template <int NW> struct Shape {
    static_assert(NW == 2 || NW == 3, "two or three consumer warpgroups");
    static constexpr int BW = 64 * NW;
    static constexpr int THREADS = 128 * (NW + 1);
    static constexpr int CONSUMER_REGS = NW == 2 ? 232 : 152;
    static constexpr int ZBOX_INT = BW + 16; /* see the NOTE below */
};
/* NOTE: integer zeros are uint8 [G, N] with only N % 8 == 0, and a TMA box must start 16-byte
 * aligned (an unaligned 1-D start gave "illegal instruction" on the H100). So each group row's
 * box starts at the 16-byte boundary at or below g*N + n0 and is 16 bytes longer; consumers
 * skip the (g*N + n0) % 16 leading bytes. (A producer warp copying them with plain loads
 * instead made M<=16 1.7x slower: 54.5 us vs 31.3 us on 8192x8192, H100.) */

struct Params {
    /* gshift: log2(group size) for groups of 64 or 128, 31 for one group per row (k < K < 2^31
     * so k >> 31 = 0): the group of k is k >> gshift, no integer division in the loops. */
    int m, n, k, gshift, zmode, tiles_k, k_iters, iters_per_split;
    /* Work: tiles_n x tiles_m output tiles (tile = mt * tiles_n + nt) of k_iters units each.
     * stream = 0: grid (tiles_n, tiles_m, splits), split z takes iters_per_split units of its
     * tile. stream = 1 (stream-K): a 1-D persistent grid of G CTAs, CTA c takes units
     * [c U / G, (c + 1) U / G) of all U = tiles x k_iters, crossing tile boundaries; with
     * dp_tiles > 0 (t16_w3_k256 only, see stream_range) first dp_tiles whole tiles, then its
     * share of the other tiles' units. */
    int tiles_n, tiles_m, stream;
    /* csplit = 1 (split-K grid only): the splits of a tile form one (1, 1, splits) cluster and
     * add their partial sums through distributed shared memory instead of the workspace. */
    int csplit;
    /* tma_d = 1: the epilogue stages each warpgroup's tile in shared memory and stores it with
     * one TMA store (tm_d); only for the split-K grid (stream-K's ring is still in use by the
     * next tile then) and a 16-byte aligned D. */
    int tma_d;
    /* pdl = 1 (w4a16_problem::pdl, launched with programmatic stream serialization): one thread
     * asks L2 for the first stages' weights before the producer waits for the preceding grid
     * (prefetch_first_stages). In the padding before ldd: as the last field it grew Params to
     * 136 bytes, and ptxas compiled the consumers differently (t16_w3_k128: 3904 -> 3136 SASS
     * instructions, fewer HFMA2 and LOP3; not measured) where here it adds only the prologue. */
    int pdl;
    int64_t ldd;
    float alpha;
    const uint8_t *w;   /* packed data (after the header) */
    const void *bias;   /* [n] or NULL */
    void *d;
    float *partials;    /* split tiles: [slots][BW * BT] fp32, zero between calls */
    unsigned long long *stamps; /* dev VARIANT 9 only: [CTA][STAMP_SLOTS] %globaltimer values */
    int *counters;      /* split tiles: [slots] k iterations added so far, zero between calls */
    int dp_tiles;       /* stream-K: whole tiles per CTA first (see stream; last, so that the
                         * other fields keep the offsets the 128-k kernels were tuned with) */
    /* keep_d = 1 (D of at most 8 MB): D and the split tiles' partial sums are written with an
     * L2 evict_last policy. With the default policy the weight stream evicts their lines and
     * their write-backs interleave with it: dev/stream_bw (H100, 224 MB streamed as t16_w3_k256
     * does) lost 2.2 us to 6 KB of plain stores per whole tile, 0.2-0.5 us with evict_last, and
     * the same 2.2 us storing to a fixed 6 KB per CTA. In the product (dev/pipe_probe, fp16,
     * us, two rounds, evict_normal / evict_last): 57344x8192 M=16 91.60 / 89.16, 91.29 / 88.79;
     * M=1 89.51 / 88.59, 89.85 / 88.61; 8192x28672 M=16 48.47 / 47.71, 48.38 / 47.78; M=64 (t64)
     * 57344x8192 118.43 / 116.82, 118.45 / 116.69; 8192^2 22.37 / 22.05, 22.42 / 22.20. */
    int keep_d;
};

/* dev VARIANT 9: %globaltimer (ns) at points of the first consumer thread's way through its
 * CTA, into p.stamps[CTA * STAMP_SLOTS + slot] (enum Stamp, in order along the way; dev/pipe_probe
 * prints where the time goes). Thread 128 (warpgroup 0's first) stamps, except WG1_DONE (256). */
enum Stamp {
    ST_ENTRY, ST_FIRST_DATA, ST_LOOP_DONE, ST_WG1_DONE, ST_RED_BAR, ST_RED_STORED, ST_RED_READY, ST_RED_DONE,
    ST_EPI_BAR, ST_EPI_STAGED, ST_EPI_DONE, ST_EXIT, ST_SMID, STAMP_SLOTS
};
template <int VARIANT> __device__ __forceinline__ void stamp(const Params &p, int slot)
{
    if constexpr (VARIANT == 9) {
        unsigned long long ns;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
        const unsigned cta = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
        if (p.stamps) p.stamps[(size_t)cta * STAMP_SLOTS + slot] = ns;
        if (p.stamps && slot == ST_ENTRY) { /* the SM this CTA runs on, + 1 */
            unsigned sm;
            asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
            p.stamps[(size_t)cta * STAMP_SLOTS + ST_SMID] = sm + 1ull;
        }
    }
}

/* Stream-K's partition of `units` (tiles x k iterations) over `ctas` CTAs: CTA c takes units
 * [stream_unit_begin(c), stream_unit_begin(c + 1)). */
__host__ __device__ __forceinline__ int64_t stream_unit_begin(int64_t c, int64_t units, int64_t ctas)
{
    return c * units / ctas;
}
/* Stream-K's unit ranges [*a, *b) for CTA c of `ctas`, walked in this order: range 0, its
 * dp_tiles whole tiles (no partial sums); range 1, its even share of the units of the other
 * sk_tiles = tiles - dp_tiles x ctas tiles, the first ones (split tiles, partial sums through the
 * workspace). With dp_tiles = 0 this is plain stream-K. plan() sets dp_tiles = tiles / ctas for
 * t16_w3_k256 with one row of tiles, whose partial sums are small (12 KB): only the last, partial
 * wave is split and a CTA meets at most two split tiles, at its end, instead of crossing two or
 * three tile boundaries on the way. H100, dev/pipe_probe, scripts/gpu-ab.sh, 57344x8192, two
 * rounds, us: M=16 93.20 / 93.20 against 97.41 / 96.38, M=1 91.64 against 94.84. Slower, so
 * plain stream-K there: the remainder split first (M=16 99.0 / 99.4 against 96.9 / 97.0); t64
 * and t256, whose 32 and 128 KB partial sums then all meet at the end (M=64 132.0 / 131.4
 * against 130.7 / 128.0, M=256 323.1 / 325.6 against 305.1 / 306.1); t32_w3 (24 KB: M=32 102.0
 * / 100.4 against 99.7 / 99.6); two token tiles (t16 at M=32: 192.7 / 192.6 against 183.9 /
 * 183.4), where the split tiles' weight rows are no longer read near the time the other token
 * tile reads them. t32_w2 (16 KB) measured the same either way. The kernels with 128-k stages
 * keep the plain walk in their code (gemm_kernel's HYB): a rework of the walk shared by all
 * tiles made t16_w3_k128 4-7.5% slower (dev/NOTES.md, session 7). */
/* The units of the split tiles under stream-K (stream_range's range 1 over all CTAs). */
__host__ __device__ __forceinline__ int64_t stream_split_units(int64_t tiles, int64_t k_iters, int64_t ctas,
                                                               int64_t dp_tiles)
{
    return (tiles - dp_tiles * ctas) * k_iters;
}
__host__ __device__ __forceinline__ void stream_range(int64_t c, int64_t tiles, int64_t k_iters, int64_t ctas,
                                                     int64_t dp_tiles, int range, int64_t *a, int64_t *b)
{
    const int64_t sk_units = stream_split_units(tiles, k_iters, ctas, dp_tiles);
    if (range == 1) {
        *a = stream_unit_begin(c, sk_units, ctas);
        *b = stream_unit_begin(c + 1, sk_units, ctas);
    } else {
        *a = sk_units + c * dp_tiles * k_iters;
        *b = *a + dp_tiles * k_iters;
    }
}
/* Whether a kernel takes whole tiles first under stream-K (stream_range; plan() and gemm_kernel
 * both ask this): 256-k stages and partial sums of at most 16 KB, i.e. t16_w3_k256. */
__host__ __device__ constexpr bool whole_tiles_first(int bk, int bw, int bt)
{
    return bk == 256 && (size_t)bw * bt * sizeof(float) <= 16384;
}
/* The workspace slot of a split tile under stream-K: the CTA that owns the tile's first unit,
 * the largest c with stream_unit_begin(c) <= tile * k_iters (units: the split tiles' units). At
 * most one split tile starts in each CTA (only its last tile can run past its end), so slots
 * are unique; tests/test_schedule checks both over many shapes. */
__host__ __device__ __forceinline__ int64_t stream_slot(int64_t tile, int64_t k_iters, int64_t units, int64_t ctas)
{
    return ((tile * k_iters + 1) * ctas - 1) / units;
}

/* Under a cluster split (Params::csplit) CTA `rank` of the csz in a cluster sums and stores
 * token groups [*qb, *qe) of the tile's q_count (8 tokens each); tests/test_schedule checks
 * that the ranges partition the tile, and that they are equal whenever q_count % csz == 0 (the
 * TMA store's box then has BT / csz rows). */
__host__ __device__ __forceinline__ void csplit_range(int rank, int csz, int q_count, int *qb, int *qe)
{
    *qb = rank * q_count / csz;
    *qe = (rank + 1) * q_count / csz;
}

template <typename T, int BT, int BK, int STAGES, int NW> struct Smem {
    static constexpr int KB = BK / 64;
    static constexpr int BW = Shape<NW>::BW; /* 64-wide k blocks per stage; also max groups per stage */
    alignas(1024) T a[STAGES][KB][BT * 64];     /* activation boxes: 64 k x BT tokens, 128B swizzle */
    alignas(16) uint8_t w[STAGES][NW][KB * W4A16_PACK_TILE_BYTES];
    alignas(16) T scales[STAGES][KB][BW];
    alignas(16) T zeros[STAGES][KB][BW];       /* float offsets, or uint8 integer zeros */
    uint64_t full[STAGES], empty[STAGES];
    uint64_t peers_ready; /* cluster split (Params::csplit): see cluster_reduce */
};

/* ZM for a loop whose zero mode is not known at compile time but is never W4A16_ZEROS_FLOAT
 * (the GS loop): one run-time branch on it instead of two. */
constexpr int ZM_NONE_OR_INT = -2;

/* The dequantization constants of this thread's two weight rows for the 64-k block kb of stage
 * s (k0: the stage's first k, g0 = k0 >> gshift its first group). valid = false (a block past
 * K, or a warpgroup past N: nothing was loaded there) gives s = zf = 0, so the block's weights
 * dequantize to exactly 0 whatever stale nibbles the stage holds. */
template <typename T, int BT, int BK, int STAGES, int NW, int ZM = -1>
__device__ __forceinline__ GroupConsts<T> group_consts(const Smem<T, BT, BK, STAGES, NW> &sm, const Params &p, int s,
                                                       int kb, int k0, int g0, int row0, bool valid, int n0)
{
    const int g = (k0 + 64 * kb) >> p.gshift, gi = g - g0; /* absolute group, group row in the stage */
    const int zmode = ZM >= 0 ? ZM : p.zmode; /* ZM >= 0: the zero mode known at compile time */
    GroupConsts<T> gc;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const T sv = sm.scales[s][gi][row0 + 8 * h];
        int z = 8;
        T zf = from_f32<T>(0.0f);
        if (zmode == W4A16_ZEROS_INT) {
            const int off = (g * p.n + n0) & 15; /* see ZBOX_INT */
            z = reinterpret_cast<const uint8_t *>(&sm.zeros[s][gi][0])[off + row0 + 8 * h];
        } else if (ZM != ZM_NONE_OR_INT && zmode == W4A16_ZEROS_FLOAT) {
            zf = sm.zeros[s][gi][row0 + 8 * h];
        }
        set_row_consts<T>(gc, h, sv, z, zf, valid);
    }
    return gc;
}

/* The wgmma B descriptor of stage s's 64-k block kb, k16 step j: the 128B-swizzled box starts
 * BT * 128 bytes per block apart and a k16 step is 32 bytes into each 128-byte row; the
 * descriptor's start-address field is in 16-byte units (no carry: shared addresses < 2^18). */
template <typename T, int BT, int BK, int STAGES, int NW>
__device__ __forceinline__ uint64_t b_desc(uint64_t d0, int kb, int j)
{
    return d0 + (uint64_t)((kb * BT * 128 + 32 * j) >> 4);
}

/* This thread's four packed words of 64-k block kb of stage s (one 16-byte load), or for dev
 * VARIANT 8 (DQ = 2) words from the thread index and no load. */
template <typename T, int BT, int BK, int STAGES, int NW, int DQ>
__device__ __forceinline__ void block_words(const Smem<T, BT, BK, STAGES, NW> &sm, int s, int kb, int c_wg, int t,
                                            uint32_t (&words)[4])
{
    if constexpr (DQ < 2) {
        const uint4 wq = *reinterpret_cast<const uint4 *>(&sm.w[s][c_wg][kb * W4A16_PACK_TILE_BYTES + 16 * t]);
        words[0] = wq.x;
        words[1] = wq.y;
        words[2] = wq.z;
        words[3] = wq.w;
    } else {
#pragma unroll
        for (int j = 0; j < 4; j++) words[j] = (uint32_t)(t + j);
    }
}

/* dev VARIANT 7 / 8 (pipe_probe, results not checked): DQ = 1 skips the dequantization (the
 * packed words go to the tensor cores as they are), DQ = 2 also skips the shared-memory loads
 * of weights and scales (fragments from the thread index). With them, the rest of the consumer
 * (the wgmma pipeline, the ring, the tail) is timed alone. */
template <typename T, int DQ, bool GS = false>
__device__ __forceinline__ void fragment_words(uint32_t q, const GroupConsts<T> &gc, uint32_t (&a)[4])
{
    if constexpr (DQ == 0) {
        dequant_word<T, GS>(q, gc, a);
    } else {
#pragma unroll
        for (int r = 0; r < 4; r++) a[r] = q ^ (uint32_t)r;
    }
}

/* The group constants of this thread's two weight rows for 64-k block kb of stage s (first k:
 * k0); a block past K gets the zeroing constants (group_consts). */
template <typename T, int BT, int BK, int STAGES, int NW, int ZM = -1>
__device__ __forceinline__ GroupConsts<T> block_consts(const Smem<T, BT, BK, STAGES, NW> &sm, const Params &p, int s,
                                                       int kb, int k0, int row0, bool wg_valid, int n0)
{
    return group_consts<T, BT, BK, STAGES, NW, ZM>(sm, p, s, kb, k0, k0 >> p.gshift, row0,
                                                   wg_valid && k0 + 64 * kb < p.k, n0);
}

/* This thread's part of 64-k block kb of stage s (first k: k0): its four packed words (one
 * 16-byte load) and the group constants of its two weight rows. */
template <typename T, int BT, int BK, int STAGES, int NW, int ZM = -1>
__device__ __forceinline__ GroupConsts<T> load_block(const Smem<T, BT, BK, STAGES, NW> &sm, const Params &p, int s,
                                                     int kb, int k0, int c_wg, int t, int row0, bool wg_valid, int n0,
                                                     uint32_t (&words)[4])
{
    block_words<T, BT, BK, STAGES, NW, 0>(sm, s, kb, c_wg, t, words);
    return block_consts<T, BT, BK, STAGES, NW, ZM>(sm, p, s, kb, k0, row0, wg_valid, n0);
}

/* load_block, or for dev VARIANT 8 (DQ = 2) words from the thread index and no loads. */
template <typename T, int BT, int BK, int STAGES, int NW, int DQ, int ZM = -1>
__device__ __forceinline__ GroupConsts<T> load_block_dev(const Smem<T, BT, BK, STAGES, NW> &sm, const Params &p,
                                                         int s, int kb, int k0, int c_wg, int t, int row0,
                                                         bool wg_valid, int n0, uint32_t (&words)[4])
{
    if constexpr (DQ < 2) {
        return load_block<T, BT, BK, STAGES, NW, ZM>(sm, p, s, kb, k0, c_wg, t, row0, wg_valid, n0, words);
    } else {
        block_words<T, BT, BK, STAGES, NW, DQ>(sm, s, kb, c_wg, t, words);
        return GroupConsts<T>{};
    }
}

/* A consumer warp is done with stage i % STAGES (one arrival per warp). */
template <typename T, int BT, int BK, int STAGES, int NW>
__device__ __forceinline__ void release_stage(Smem<T, BT, BK, STAGES, NW> &sm, int i, int lane)
{
    __syncwarp();
    if (lane == 0) ptx::mbarrier_arrive(&sm.empty[i % STAGES]);
}

/* Large token tiles: one k16 step at a time, two fragment buffers, wgmma_wait<1> after each
 * commit; the caller drains (wait<0>) and releases the stage. Releasing it one step later
 * instead, without draining, made ptxas serialize the wgmmas (C7513: the fragment buffers'
 * reuse across the loop's back edge is beyond its analysis). Draining only every second or
 * fourth stage (stage groups in straight-line code, no C7513), and three fragment buffers with
 * wgmma_wait<2>, were within 1% of this loop at M = 256 and 1024 on 8192^2 (t256 and t128,
 * H100, dev/pipe_probe, same run; draining every second stage: 749 vs 767 us at M = 4096 in
 * another run), so the drain is not what holds large tiles back. */
template <typename T, int BT, int BK, int STAGES, int NW, int DQ = 0, int ZM = -1>
__device__ __forceinline__ void consume_stage_steps(Smem<T, BT, BK, STAGES, NW> &sm, const Params &p, int i, int it,
                                                    float (&acc)[BT / 2], int c_wg, int t, int row0, bool wg_valid,
                                                    int n0)
{
    constexpr int KB = BK / 64;
    const int s = i % STAGES;
    mbar_wait(&sm.full[s], (i / STAGES) & 1);
    const int k0 = it * BK;
    const uint64_t d0 = smem_desc_sw128(&sm.a[s][0][0]);
    uint32_t frag[2][4];
#pragma unroll
    for (int kb = 0; kb < KB; kb++) {
        uint32_t words[4];
        const GroupConsts<T> gc =
            load_block_dev<T, BT, BK, STAGES, NW, DQ, ZM>(sm, p, s, kb, k0, c_wg, t, row0, wg_valid, n0, words);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            uint32_t(&a)[4] = frag[(kb * 4 + j) & 1];
            fragment_words<T, DQ>(words[j], gc, a);
#pragma unroll
            for (int r = 0; r < 4; r++) fence_reg(a[r]);
            wgmma_fence();
            wgmma_rs<BT, std::is_same<T, __nv_bfloat16>::value>::mma(acc, a, b_desc<T, BT, BK, STAGES, NW>(d0, kb, j),
                                                                     1);
            wgmma_commit();
            wgmma_wait<1>(); /* the previous step's registers are free again */
        }
    }
}

/* Blocks [KB0, KB0 + KB) of stage i (KB = KBN, or the whole stage) into the fragment buffer F. */
template <typename T, int BT, int BK, int STAGES, int NW, int DQ = 0, int KB0 = 0, int KBN = 0, int ZM = -1>
__device__ __forceinline__ void dequant_stage(const Smem<T, BT, BK, STAGES, NW> &sm, const Params &p, int i, int it,
                                              uint32_t (&F)[(KBN > 0 ? KBN * 64 : BK) / 16][4], int c_wg, int t,
                                              int row0, bool wg_valid, int n0)
{
    constexpr int KB = KBN > 0 ? KBN : BK / 64;
    const int s = i % STAGES;
    const int k0 = it * BK;
#pragma unroll
    for (int kb_ = 0; kb_ < KB; kb_++) {
        const int kb = KB0 + kb_;
        uint32_t words[4];
        const GroupConsts<T> gc =
            load_block_dev<T, BT, BK, STAGES, NW, DQ, ZM>(sm, p, s, kb, k0, c_wg, t, row0, wg_valid, n0, words);
#pragma unroll
        for (int j = 0; j < 4; j++) fragment_words<T, DQ>(words[j], gc, F[kb_ * 4 + j]);
    }
}

/* The GS loop of 16-token tiles loads a block's packed words a block ahead, in the previous
 * block's dequant_block_gs before that block's dequantization, so that the shared-memory load
 * leaves the block's dependent chain (load, dequantization, wgmma); within a stage only (block
 * 0 of the next stage waits on its full barrier as before). H100, w4a16-bench, against the
 * tree without it (session 29): M = 12 and 16, t16_w3_k256 on five shapes, fp16 / bf16, zeros
 * none / int, two rounds, against the mean of two unchanged trees run before and after it:
 * 0.994 of the time over 35 rows (8192x28672 0.987, 7 rows; 57344x8192 0.995; 28672x4096 0.996;
 * 6144x4096 0.998); an earlier run, three rounds, M = 16: 0.979-0.996 (10 rows). With t8
 * (t8_w3_k256, M = 1 and 4) it took 1.019-1.044 of the time, except 57344x8192 fp16 without
 * zeros (0.988); with t32 0.988-1.011. Those keep the load in the block: t8's consumer loop is
 * as fast as it is by ptxas's schedule, which any change moves (dev/NOTES.md, session 29).
 * t16_w3_k128 and t16_w2_k256 take it too: against t16_w3_k256 alone (session 30, M = 12 and
 * 16 on 2560x4096 (t16_w3_k128) and 1024x14336, 1024x28672, 10240x1024 (t16_w2_k256), both
 * dtypes and zeros none / int, four rounds in alternating order) 0.993 of the time over 32 rows
 * (0.977-1.004; fp16 none 1.000, fp16 int 0.994, bf16 none 0.993, bf16 int 0.986). Not in dev
 * VARIANT 7 and 8 (DQ > 0):
 * in 7 ptxas serialized t16_w3_k256's wgmmas (C7513). */
template <int BT, int DQ> constexpr bool GS_PREFETCH = BT == 16 && DQ == 0;

/* The words of block KB of stage s for the GS loop: loaded by the previous block (GS_PREFETCH),
 * or here. */
template <typename T, int BT, int BK, int STAGES, int NW, int DQ, int KB>
__device__ __forceinline__ void take_words(const Smem<T, BT, BK, STAGES, NW> &sm, int s, int c_wg, int t,
                                           uint32_t (&words)[4], const uint32_t (&wpre)[4])
{
    if constexpr (GS_PREFETCH<BT, DQ> && KB > 0) {
#pragma unroll
        for (int j = 0; j < 4; j++) words[j] = wpre[j];
    } else {
        block_words<T, BT, BK, STAGES, NW, DQ>(sm, s, KB, c_wg, t, words);
    }
}

/* GS loop: 64-k block KB of stage i into F as q - z, and for a group's first block its scales
 * for this thread's two rows into sf (0 where the block holds nothing). A GS group (128 k or all
 * of K, aligned to the stage) spans blocks 2j and 2j + 1. With 256-k stages an even block reads
 * the group's constants into gc and the odd block reuses them: half the zero-point loads and
 * constants per group (t16_w3_k256's loop 387 -> 320 instructions per stage, fp16 SASS; H100,
 * w4a16-bench, two rounds, medians before / after, us: bf16 57344x8192 M=16 93.6 / 91.0, zeros
 * int M=1 98.0 / 96.3; fp16 zeros int M=32 106.2 / 102.9; fp16 without zeros 0.98-1.03 of the
 * time, within its rows' noise). 128-k stages (t16_w3_k128, t32_w2_k128: 4096^2) keep a full
 * read per block: with the reuse they were 1-2% slower there (11.51 / 11.78 us at M=32, fp16).
 * With 256-k stages the odd block 1 also reads the second group's constants (into gcn) for block
 * 2, a block before they are needed: off that block's dependent chain (shared-memory loads, then
 * the constants, then the dequantization). H100, w4a16-bench, three rounds, two runs (session 25):
 * fp16 t16_w3_k256 M=16 on 57344x8192 and 8192x28672, zeros none and int, 0.970-0.985 of the time
 * (57344x8192 none 89.5 -> 86.8 us); t8 (M = 1, 4), t32 and bf16 0.983-1.013, geometric mean of
 * 24 rows 0.996 / 0.995. Reading the next stage's first group's constants in block 2 as well
 * (its full barrier waited for a block earlier) made those rows 1.0075x slower (1.011-1.023 with
 * integer zeros); not kept. */
template <typename T, int BT, int BK, int STAGES, int NW, int DQ, int KB>
__device__ __forceinline__ void dequant_block_gs(const Smem<T, BT, BK, STAGES, NW> &sm, const Params &p, int i,
                                                 int it, uint32_t (&F)[4][4], int c_wg, int t, int row0,
                                                 bool wg_valid, int n0, float (&sf)[2], GroupConsts<T> &gc,
                                                 GroupConsts<T> &gcn, uint32_t (&wpre)[4])
{
    constexpr bool REUSE = BK == 256;
    const int s = i % STAGES;
    uint32_t words[4];
    if constexpr (DQ == 2) { /* dev VARIANT 8: no loads, and gc untouched (writing it made ptxas
                              * serialize this variant's wgmmas, C7513) */
        block_words<T, BT, BK, STAGES, NW, DQ>(sm, s, KB, c_wg, t, words);
        if constexpr (KB % 2 == 0) sf[0] = sf[1] = 0.0f;
    } else if constexpr (REUSE && KB == 2) { /* the stage's second group: constants from block 1 */
        take_words<T, BT, BK, STAGES, NW, DQ, KB>(sm, s, c_wg, t, words, wpre);
        gc = gcn;
    } else if constexpr (KB % 2 == 0 || !REUSE) {
        if constexpr (DQ == 0) { /* load_block, with the words perhaps loaded a block ahead */
            take_words<T, BT, BK, STAGES, NW, DQ, KB>(sm, s, c_wg, t, words, wpre);
            gc = block_consts<T, BT, BK, STAGES, NW, REUSE ? ZM_NONE_OR_INT : -1>(sm, p, s, KB, it * BK, row0,
                                                                                 wg_valid, n0);
        } else {
            gc = load_block_dev<T, BT, BK, STAGES, NW, DQ, REUSE ? ZM_NONE_OR_INT : -1>(sm, p, s, KB, it * BK, c_wg, t,
                                                                                       row0, wg_valid, n0, words);
        }
    } else {
        take_words<T, BT, BK, STAGES, NW, DQ, KB>(sm, s, c_wg, t, words, wpre);
        if constexpr (KB == 1) { /* the next group's constants, a block before they are needed */
            const int k0 = it * BK;
            gcn = group_consts<T, BT, BK, STAGES, NW, ZM_NONE_OR_INT>(sm, p, s, 2, k0, k0 >> p.gshift, row0,
                                                                     wg_valid && k0 + 128 < p.k, n0);
        }
    }
    if constexpr (DQ < 2 && KB % 2 == 0) { /* a group's first block: its scales for the fold */
        sf[0] = __low2float(gc.s[0]);
        sf[1] = __low2float(gc.s[1]);
    }
    if constexpr (GS_PREFETCH<BT, DQ> && KB + 1 < BK / 64) /* the next block's words, before this one's math */
        block_words<T, BT, BK, STAGES, NW, DQ>(sm, s, KB + 1, c_wg, t, wpre);
#pragma unroll
    for (int j = 0; j < 4; j++) fragment_words<T, DQ, true>(words[j], gc, F[j]);
}

/* The wgmmas of blocks [KB0, KB0 + KB) of stage i from F, committed as one group. ZERO: the first
 * one overwrites acc (scale-d = 0). */
template <typename T, int BT, int BK, int STAGES, int NW, int KB0 = 0, int KBN = 0, bool ZERO = false>
__device__ __forceinline__ void issue_stage(Smem<T, BT, BK, STAGES, NW> &sm, int i, float (&acc)[BT / 2],
                                            uint32_t (&F)[(KBN > 0 ? KBN * 64 : BK) / 16][4])
{
    constexpr int KB = KBN > 0 ? KBN : BK / 64;
#pragma unroll
    for (int j = 0; j < KB * 4; j++)
#pragma unroll
        for (int r = 0; r < 4; r++) fence_reg(F[j][r]);
    wgmma_fence();
    const uint64_t d0 = smem_desc_sw128(&sm.a[i % STAGES][0][0]);
#pragma unroll
    for (int kb_ = 0; kb_ < KB; kb_++)
#pragma unroll
        for (int j = 0; j < 4; j++)
            wgmma_rs<BT, std::is_same<T, __nv_bfloat16>::value>::mma(
                acc, F[kb_ * 4 + j], b_desc<T, BT, BK, STAGES, NW>(d0, KB0 + kb_, j), ZERO && kb_ == 0 && j == 0 ? 0 : 1);
    wgmma_commit();
}

/* Consumer step for one stage: wait until it is full, dequantize its weights into the fragment
 * buffer F (all k16 steps of the stage), then issue the stage's wgmmas and commit them as one
 * group. The caller waits and releases the stage. */
template <typename T, int BT, int BK, int STAGES, int NW, int DQ = 0, int KB0 = 0, int KBN = 0, int ZM = -1>
__device__ __forceinline__ void consume_stage(Smem<T, BT, BK, STAGES, NW> &sm, const Params &p, int i, int it,
                                              float (&acc)[BT / 2],
                                              uint32_t (&F)[(KBN > 0 ? KBN * 64 : BK) / 16][4], int c_wg, int t,
                                              int row0, bool wg_valid, int n0)
{
    if constexpr (KB0 == 0) mbar_wait(&sm.full[i % STAGES], (i / STAGES) & 1);
    dequant_stage<T, BT, BK, STAGES, NW, DQ, KB0, KBN, ZM>(sm, p, i, it, F, c_wg, t, row0, wg_valid, n0);
    issue_stage<T, BT, BK, STAGES, NW, KB0, KBN>(sm, i, acc, F);
}

template <bool C, typename X> __device__ __forceinline__ X &pick(X &a, X &b)
{
    if constexpr (C) return a;
    else return b;
}

/* f(std::integral_constant<int, zero mode>) for the problem's zero mode, so that a consumer loop
 * is compiled once per mode (ZM) and each block's group constants carry no branch on it; or,
 * with COPIES = false, f(std::integral_constant<int, -1>) (one copy, the mode read at run time).
 * The copies made ptxas serialize the wgmmas of the small tiles (C7512: t16, t32, t64 with
 * 128-k stages), so gemm_kernel asks for them only where it measured a gain. */
template <bool COPIES, typename F> __device__ __forceinline__ void by_zero_mode(int zmode, F &&f)
{
    if constexpr (!COPIES)
        f(std::integral_constant<int, -1>{});
    else if (zmode == W4A16_ZEROS_NONE)
        f(std::integral_constant<int, W4A16_ZEROS_NONE>{});
    else if (zmode == W4A16_ZEROS_INT)
        f(std::integral_constant<int, W4A16_ZEROS_INT>{});
    else
        f(std::integral_constant<int, W4A16_ZEROS_FLOAT>{});
}

/* GS: a chunk's integer sums g (complete: after the wgmma_wait that covers it) times its group's
 * scales sf (rows r0, r0 + 8 of this thread: accumulator r belongs to row r0 + 8 ((r >> 1) & 1)),
 * added to acc. */
template <int BT> __device__ __forceinline__ void fold_group(float (&acc)[BT / 2], float (&g)[BT / 2], const float (&sf)[2])
{
#pragma unroll
    for (int r = 0; r < BT / 2; r++) {
        fence_reg(g[r]);
        acc[r] = fmaf(sf[(r >> 1) & 1], g[r], acc[r]);
    }
}

/* cluster_reduce's partial sums of token groups [Q0, Q1), thread t's at mine[q * 128] */
template <int BT, int Q0, int Q1>
__device__ __forceinline__ void store_groups(float4 *mine, const float (&acc)[BT / 2])
{
#pragma unroll
    for (int q = Q0; q < Q1; q++)
        mine[q * 128] = make_float4(acc[4 * q], acc[4 * q + 1], acc[4 * q + 2], acc[4 * q + 3]);
}

/* Split-K through distributed shared memory (Params::csplit): the csz CTAs of one cluster hold
 * partial sums of the same tile. Each stores the accumulators its peers sum into its own (now
 * idle) ring, then CTA `rank` sums token groups [qb, qe) (8 tokens each) over all of them, for
 * its share of the epilogue. Only the consumers take part: every consumer thread tells each peer
 * through the peer's `ready` mbarrier (release.cluster) that its partial sums are stored; a
 * consumer-only cluster barrier, arrived on here after the reads and waited for before exit (the
 * caller), keeps each CTA's shared memory until its peers have read it. Per thread rather than
 * one thread after a CTA barrier: compute-sanitizer racecheck (cluster split forced,
 * test_gpu_gemm --small) reported 9737 store/read hazards with the one-thread form and none with
 * this one, at the same speed (H100, 8192^2 M=256 t256 62.4-62.6 vs 62.6-62.9 us). Cluster
 * barriers in place of `ready` did the same job, but then every thread, the producer's too, had
 * to take part, and the barriers in the producer's exit path changed how ptxas compiled its loop:
 * every tile ran 7-27% slower, cluster split or not (H100, 8192^2, one run: t128 at M = 1024
 * 331.9 vs 270.7 us without them, t16 1010.7 vs 858.7 us). */
template <int BT, int NW, int VARIANT = 0>
__device__ __forceinline__ void cluster_reduce(float4 *buf, uint64_t *ready, float (&acc)[BT / 2], int c_wg, int t,
                                               int rank, int csz, int qb, int qe, const Params &p)
{
    constexpr int Q = BT / 8;
    /* the other warpgroups' last wgmmas may still read the ring this overwrites */
    asm volatile("bar.sync 1, %0;\n" ::"n"(128 * NW) : "memory");
    if (threadIdx.x == 128) stamp<VARIANT>(p, ST_RED_BAR);
    float4 *mine = buf + (size_t)c_wg * Q * 128 + t;
    /* Only the groups the peers sum: in a pair, the other half (in straight-line code: a condition
     * per group became a branch per group in ptxas's code, see store_tile_tma). */
    if (csz == 2 && Q % 2 == 0) {
        if (rank == 0)
            store_groups<BT, Q / 2, Q>(mine, acc);
        else
            store_groups<BT, 0, Q / 2>(mine, acc);
    } else {
        store_groups<BT, 0, Q>(mine, acc);
    }
    for (int d = 1; d < csz; d++) mbar_arrive_remote_release(ready, (uint32_t)((rank + d) % csz));
    if (threadIdx.x == 128) stamp<VARIANT>(p, ST_RED_STORED);
    mbar_wait_cluster(ready, 0);
    if (threadIdx.x == 128) stamp<VARIANT>(p, ST_RED_READY);
    for (int d = 1; d < csz; d++) {
        const float4 *peer =
            static_cast<const float4 *>(__cluster_map_shared_rank((void *)mine, (unsigned)((rank + d) % csz)));
#pragma unroll
        for (int q = 0; q < Q; q++) {
            if (q < qb || q >= qe) continue;
            const float4 v = peer[q * 128];
            acc[4 * q] += v.x;
            acc[4 * q + 1] += v.y;
            acc[4 * q + 2] += v.z;
            acc[4 * q + 3] += v.w;
        }
    }
    /* done with the peers' shared memory: the first half of the exit barrier (the caller waits
     * before the CTA exits), so that its latency passes during the epilogue. With this and the
     * half-size stores above, time stamps (H100, 8192^2 M=256 t256) put main loop end -> exit at
     * 5.8 us instead of 6.5 us (stores 1.0 vs 1.3 us, exit wait 0.0 vs 1.0 us); gpu-ab.sh, same
     * machine, two rounds: 47.27 / 46.81 vs 47.62 / 47.28 us. */
    cluster_arrive_aligned();
}

/* The epilogue through shared memory: this warpgroup's 64 x BT tile, alpha * acc + bias in the
 * output type, goes into `stage` as BT rows of 64 weight rows (128 B, TMA's 128-byte swizzle:
 * 16-byte chunk c of row m at c ^ (m % 8), which also keeps the 2-byte stores conflict-free),
 * then one TMA store writes token rows [8 qb, 8 qe) of it (TMA clips at M and N). The direct
 * stores it replaces write 16-byte pieces of four rows per instruction. Measured against them
 * (H100, 8192^2, t256, dev/pipe_probe, same run): M = 1024 188.7 vs 190.4 us, M = 256 55.5 vs
 * 55.9 us. */
template <typename T, int BT, int NW, int VARIANT = 0>
__device__ __forceinline__ void store_tile_tma(uint8_t *stage, const CUtensorMap *tm_d, const Params &p,
                                               const float (&acc)[BT / 2], int c_wg, int t, int n0, int m0, int qb,
                                               int qe, bool wg_valid)
{
    const int warp = t / 32, lane = t % 32;
    uint8_t *tile = stage + c_wg * BT * 128;
    const T *bias = reinterpret_cast<const T *>(p.bias);
    /* every warpgroup's last wgmmas have left the ring this overwrites */
    asm volatile("bar.sync 1, %0;\n" ::"n"(128 * NW) : "memory");
    if (threadIdx.x == 128) stamp<VARIANT>(p, ST_EPI_BAR);
    /* Every token row is staged, [qb, qe) or not (only those go out): with a condition per
     * token group ptxas made each group a branch that recomputed the address, ~30 instructions
     * per two stores. Time stamps (dev/pipe_probe, H100, 8192^2 t256) put the staging at 3.6 us
     * at M = 1024 and 3.1 us at M = 256 with the condition, 0.8 us without; the same machine
     * (scripts/gpu-ab.sh) timed t256 at 167.2 -> 161.6 us at M = 1024, 49.9 -> 46.9 us at
     * M = 256, 669.4 -> 648.5 us at M = 4096. Row ml = 8 q + 2 (lane % 4) + r1 has
     * ml % 8 = 2 (lane % 4) + r1, so its address is a base per (h, r1) plus q * 1024. */
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int nl = 16 * warp + lane / 4 + 8 * h, n = n0 + c_wg * 64 + nl;
        const float b = bias && n < p.n ? to_f32(__ldg(bias + n)) : 0.0f;
#pragma unroll
        for (int r1 = 0; r1 < 2; r1++) {
            const int m8 = 2 * (lane % 4) + r1;
            uint8_t *base = tile + m8 * 128 + (((nl >> 3) ^ m8) << 4) + (nl & 7) * 2;
#pragma unroll
            for (int q = 0; q < BT / 8; q++)
                *reinterpret_cast<T *>(base + q * 1024) = from_f32<T>(fmaf(p.alpha, acc[4 * q + 2 * h + r1], b));
        }
    }
    ptx::fence_proxy_async(ptx::space_shared); /* the writes above, visible to the TMA unit */
    asm volatile("bar.sync %0, 128;\n" ::"r"(2 + c_wg) : "memory");
    if (threadIdx.x == 128) stamp<VARIANT>(p, ST_EPI_STAGED);
    if (t == 0 && wg_valid && qe > qb) {
        const int32_t c[2] = {n0 + c_wg * 64, m0 + 8 * qb};
        ptx::cp_async_bulk_tensor(ptx::space_global, ptx::space_shared, tm_d, c, tile + qb * 1024);
        ptx::cp_async_bulk_commit_group();
        ptx::cp_async_bulk_wait_group_read(ptx::n32_t<0>()); /* before the CTA's shared memory goes */
    }
}

/* The epilogue's direct stores (stream-K, unaligned D, W4A16_SM90_TMA_STORE=0): this thread's
 * two weight rows n and n + 8 of token groups [qb, qe), alpha * acc + bias, one element each. */
template <typename T, int BT>
__device__ __forceinline__ void store_tile_direct(const Params &p, const float (&acc)[BT / 2], int lane, int n_row0,
                                                  int m0, int qb, int qe)
{
    T *d = reinterpret_cast<T *>(p.d);
    const T *bias = reinterpret_cast<const T *>(p.bias);
    const uint64_t pol = l2_policy(p.keep_d);
    auto st = [&](T *a, T v) { st_b16_hint(a, *reinterpret_cast<const uint16_t *>(&v), pol); };
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int n = n_row0 + 8 * h;
        if (n >= p.n) continue;
        const float b = bias ? to_f32(__ldg(bias + n)) : 0.0f;
        /* Whole tiles without a branch per token group (see store_tile_tma; stream-K at M = 256 on
         * 57344x8192, t256, H100: 317.9 -> 313.4 us). Not for small tiles: in t16_w3 the extra
         * path changed the main loop's SASS (12 -> 9 uniform instructions), for two groups. */
        if (BT >= 64 && qb == 0 && qe == BT / 8) {
#pragma unroll
            for (int r1 = 0; r1 < 2; r1++) {
                const int m = m0 + 2 * (lane % 4) + r1;
                T *dm = d + (int64_t)m * p.ldd + n;
                const int64_t step = 8 * p.ldd;
#pragma unroll
                for (int q = 0; q < BT / 8; q++, dm += step) {
                    const T v = from_f32<T>(fmaf(p.alpha, acc[4 * q + 2 * h + r1], b));
                    if (m + 8 * q < p.m) st(dm, v);
                }
            }
            continue;
        }
#pragma unroll
        for (int r = 0; r < BT / 2; r++) {
            if (((r >> 1) & 1) != h || (r >> 2) < qb || (r >> 2) >= qe) continue;
            const int m = m0 + 8 * (r >> 2) + 2 * (lane % 4) + (r & 1);
            if (m < p.m) st(d + (int64_t)m * p.ldd + n, from_f32<T>(fmaf(p.alpha, acc[r], b)));
        }
    }
}

/* The producer warpgroup's entry: it gives up registers to the consumers (setmaxnreg), and its
 * thread 0 pulls the activation, scale and zero tensor maps into the descriptor cache. True in
 * the threads that run the producer's loop: thread 0 alone, or with WARP the whole of warp 0,
 * whose elected lane issues the loads (see WarpProducer). */
template <bool WARP>
__device__ __forceinline__ bool producer_begin(const CUtensorMap *a, const CUtensorMap *s, const CUtensorMap *z)
{
#ifndef W4A16_SM90_NO_SETMAXNREG
    setmaxnreg_dec<40>();
#endif
    if (threadIdx.x >= (WARP ? 32u : 1u)) return false;
    if (threadIdx.x == 0) {
        prefetch_tensormap(a);
        prefetch_tensormap(s);
        prefetch_tensormap(z);
    }
    return true;
}

/* Who runs the producer's loop. With one thread (the loop in divergent code) ptxas computes the
 * copies' coordinates and addresses in vector registers and wraps each TMA instruction in a
 * uniform-register loop (R2UR, ELECT, BRA.U.ANY): t8_w3_k256's stage took ~556 SASS
 * instructions. Run by the whole warp, with the copies issued by an elected lane (`leader`), it
 * is uniform code (~219 instructions; t16_w3_k256 ~232), the consumer loops unchanged. The
 * producer shares its SM sub-partition with consumer warps, so the leaner loop helps where the
 * consumers are busy. w4a16-bench A/B (H100, two or three rounds, summed time, warp form over
 * one thread, the elected lane alone waiting): M = 16 t16_w3_k256 with integer zeros or bf16
 * 0.926-0.993 (57344x8192 bf16 int 95.7 -> 89.5 us, 8192x28672 52.1 -> 48.2), fp16 without
 * zeros 1.023; M = 64 t64_w2_k256 0.914-1.013. Where the stream alone sets the pace it lost:
 * t8_w3_k256 at M = 1 and 4 0.986-1.082 (8192x28672 fp16 46.1 -> 48.7 us; not understood: with
 * the one-thread form's YIELD in the wait loop it lost as much), and t256 at M = 256 on 8192^2
 * 1.003-1.028. So: tiles of 16 to 64 tokens. Their waits: with t16 the elected lane alone waiting
 * (a YIELD in its spin loop) beat all lanes waiting (0.930-0.984 against 0.939-1.001 over the
 * same eight rows), with t64 all lanes did better (0.936-1.010 against 0.957-1.014, 12 rows).
 * Session 31 timed the one-thread form for the 16-token tiles again, with GS_PREFETCH (w4a16-bench
 * --config all, M = 16, 10 shapes, fp16 / bf16, zeros none / int, four rounds; one thread over
 * this form, geometric mean per mode): t16_w3_k256 1.011-1.035, t16_w2_k256 1.062-1.097,
 * t16_w3_k128 0.999-1.012. t16_w3_k256 is faster with one thread only on stream-K plans of
 * ~9-11 units per CTA that cross tiles (13824x5120 0.880-0.900, 14336x4096 0.908-0.950), and on
 * 8192^2, 12288x4096 and 4096x14336 it runs 3-9% slower than session 26's kernel in either form
 * (M = 16 fp16 8192^2: 19.45 us here, 19.87 with one thread, 18.9 before; the bisection and the
 * stamps are in docs/perf/h100-session31.txt). Every lane waiting, over the elected lane alone
 * (session 31, --config all, four rounds: fp16 none at M = 1 and 16 on 8192^2, 12288x4096,
 * 4096x14336, 13824x5120 and 14336x4096; integer zeros, both dtypes, M = 16, 32, 64 on 13824x5120,
 * 5120x13824, 8192x28672 and 57344x8192): t16_w3_k128 0.930-0.991 on every row (geometric mean
 * per mode 0.947-0.962), t16_w3_k256 0.928-1.029 (fp16 none 1.000, with zeros 0.967-0.977,
 * but 1.020-1.029 at M = 16 on 13824x5120 and 8192x28672 with zeros, where the heuristic takes
 * it), t16_w2_k256 fp16 none 1.065 (up to 1.159), with zeros 0.935-0.947, t32_w3_k256
 * 0.994-1.006. So t16_w3_k128 waits with every lane; w4a16-bench with the heuristic's choice
 * (gpu-ab.sh, two rounds in alternating order, 56 rows where it takes t16_w3_k128: 1536x8960,
 * 2560x4096, 4608x3584, 6144x4096, 12288x2048, 1536x14336, 3072x8192, 1024x11008, M = 1, 8, 16,
 * both dtypes, zeros none and int): 0.9777 of the time (0.954-0.999), the 40 other rows 0.998.
 * t32_w2_k128 with every lane waiting (session 32, gpu-ab.sh, w4a16-bench with the heuristic's
 * choice, two rounds in alternating order, 48 rows where it takes t32_w2_k128: 2048x4096,
 * 2560x4096, 3584x3584, 4096x4096, 2048x8192, 8192x2048, M = 24 and 32, both dtypes, zeros none
 * and int): 0.9924 of the time (fp16 none 0.966-1.012, e.g. 4096^2 M=32 11.89 -> 11.48 us; with
 * zeros 0.980-1.019; docs/perf/h100-session32.txt). So the 128-k tiles of 16 and 32 tokens and
 * t64 wait with every lane; the 256-k tiles of 16 and 32 tokens (t16_w3_k256, t16_w2_k256,
 * t32_w3_k256) with the elected lane. */
template <int BT, int BK> struct WarpProducer {
    static constexpr bool value = BT >= 16 && BT <= 64;
    /* every lane spins on the empty barrier (t64; t16_w3_k128 since session 31, t32_w2_k128 since
     * session 32, above) */
    static constexpr bool all_wait = BT > 32 || (BK == 128 && (BT == 16 || BT == 32));
};

/* w4a16_problem::pdl: while the stream's preceding grid finishes, one thread of the CTA asks L2
 * for the weights of its first stages, units [u0, u0 + STAGES) of its work that lie in u0's tile
 * (that needs nothing the preceding grid writes); the producer's loop waits for that grid
 * (grid_dep_wait) before its first load. At the kernel's start, outside the producer: there its
 * registers (40 after setmaxnreg) made ptxas spill in t16_w3_k256 and t16_w3_k128. */
template <int BK, int STAGES, int NW>
__device__ __forceinline__ void prefetch_first_stages(const Params &p, int64_t u0, int64_t u1)
{
    if (u0 >= u1 || u1 > INT32_MAX) return; /* a hint: 32-bit divisions (64-bit ones spilled t16_w3_k128) */
    const uint32_t tile = (uint32_t)u0 / (uint32_t)p.k_iters;
    const int it = (int)((uint32_t)u0 - tile * (uint32_t)p.k_iters), nt = (int)(tile % (uint32_t)p.tiles_n);
    const int units = min(min(STAGES, p.k_iters - it), (int)(u1 - u0));
    const int kt0 = it * (BK / 64), blocks = min(units * (BK / 64), p.tiles_k - kt0);
    for (int c = 0; c < NW; c++) {
        const int rb = nt * NW + c; /* the 64-row block */
        if (rb < (p.n + 63) / 64)
            bulk_prefetch_l2(p.w + ((int64_t)rb * p.tiles_k + kt0) * W4A16_PACK_TILE_BYTES,
                             (uint32_t)(blocks * W4A16_PACK_TILE_BYTES));
    }
}

/* The producer's work for one stage: stage s receives k iteration `it` (k0 = it BK) of the tile
 * whose first weight row is n0 and first token m0: its activation boxes, the NW 64-row blocks
 * of packed weights (those within N) and the scales (and zeros) of the groups it touches, all
 * completing on the mbarrier `full` (the stage's full barrier, or in the ping-pong kernel the
 * owning warpgroup's) with the byte count announced first. MC (dev VARIANT 5): 2x1 clusters,
 * each CTA loading half of each activation box and multicasting it to both. Shared by the
 * cooperative and the ping-pong kernel. Called by every thread of the producer's loop; only
 * `leader` issues anything (WarpProducer). */
template <typename T, int BT, int BK, int STAGES, int NW, bool MC = false>
__device__ __forceinline__ void fill_stage(Smem<T, BT, BK, STAGES, NW> &sm, const Params &p, const CUtensorMap *tm_a,
                                           const CUtensorMap *tm_s, const CUtensorMap *tm_z, uint64_t *full, int s,
                                           int it, int n0, int m0, uint32_t crank, bool leader)
{
    constexpr int KB = BK / 64, BW = Shape<NW>::BW, ZBOX_INT = Shape<NW>::ZBOX_INT;
    const int k0 = it * BK, kend = min(k0 + BK, p.k);
    const int kt0 = k0 / 64, wblocks = min(KB, p.tiles_k - kt0);
    const int g0 = k0 >> p.gshift, g1 = (kend - 1) >> p.gshift; /* groups this stage touches */
    uint32_t bytes = KB * BT * 128; /* A boxes: always complete (TMA zero-fills past M, K) */
    for (int c = 0; c < NW; c++)
        if (n0 / 64 + c < (p.n + 63) / 64) bytes += wblocks * W4A16_PACK_TILE_BYTES;
    bytes += (g1 - g0 + 1) * (BW * sizeof(T) + (p.zmode == W4A16_ZEROS_FLOAT   ? BW * sizeof(T)
                                                : p.zmode == W4A16_ZEROS_INT ? ZBOX_INT
                                                                             : 0));
    /* each instruction under `leader`, not one early return: the copies' arithmetic then stays in
     * the warp's uniform code (with a return, t16_w3_k256's stage took 361 instructions, not 232) */
    if (leader) ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, full, bytes);
    for (int kb = 0; kb < KB; kb++) {
        if constexpr (MC) { /* rows [crank BT/2, (crank + 1) BT/2) of the box, to both CTAs */
            const int32_t c[2] = {k0 + 64 * kb, m0 + (int)crank * (BT / 2)};
            if (leader)
                ptx::cp_async_bulk_tensor(ptx::space_cluster, ptx::space_global, &sm.a[s][kb][crank * (BT / 2) * 64],
                                          tm_a, c, full, (uint16_t)0x3);
        } else {
            const int32_t c[2] = {k0 + 64 * kb, m0};
            if (leader)
                ptx::cp_async_bulk_tensor(ptx::space_cluster, ptx::space_global, &sm.a[s][kb][0], tm_a, c, full);
        }
    }
    for (int c = 0; c < NW; c++) {
        const int nt = n0 / 64 + c;
        if (nt >= (p.n + 63) / 64) continue;
        const uint8_t *src = p.w + ((int64_t)nt * p.tiles_k + kt0) * W4A16_PACK_TILE_BYTES;
        /* Tiles of <= 32 tokens (decode: each weight byte is read once) load their weights with an
         * L2 evict_first policy, so that the stream leaves the activations, scales and outputs in
         * L2. w4a16-bench A/B (H100, fp16, three rounds, medians, us, before / after): zeros none,
         * 8192^2 M=1 20.2 / 19.1, M=16 19.9 / 19.1, 57344x8192 M=1 89.8 / 88.3, M=16 90.3 / 88.6,
         * 8192x28672 M=16 49.0 / 47.9, 4096^2 M=1 11.1 / 10.9; integer zeros and bf16 0.99-1.01
         * (consumer-bound). t64 with it, 4096^2 M = 64, 128, 256, both dtypes and zero modes: 11
         * of 12 rows slower (0.992-1.025 of the time; a noisy machine), so it keeps the default
         * policy. Making it at run time (Params) changed ptxas's consumer loops and cost 6-18%
         * (dev/NOTES.md, session 12). */
        if (!leader) continue;
        if constexpr (BT <= 32)
            bulk_load_evict_first(&sm.w[s][c][0], src, (uint32_t)(wblocks * W4A16_PACK_TILE_BYTES), full);
        else
            ptx::cp_async_bulk(ptx::space_cluster, ptx::space_global, &sm.w[s][c][0], src,
                               (uint32_t)(wblocks * W4A16_PACK_TILE_BYTES), full);
    }
    for (int g = g0; g <= g1 && leader; g++) {
        const int32_t c[1] = {g * p.n + n0};
        ptx::cp_async_bulk_tensor(ptx::space_cluster, ptx::space_global, &sm.scales[s][g - g0][0], tm_s, c, full);
        if (p.zmode == W4A16_ZEROS_FLOAT)
            ptx::cp_async_bulk_tensor(ptx::space_cluster, ptx::space_global, &sm.zeros[s][g - g0][0], tm_z, c,
                                      full);
        if (p.zmode == W4A16_ZEROS_INT) { /* box starts rounded down to 16 B, see ZBOX_INT */
            const int32_t cz[1] = {(g * p.n + n0) & ~15};
            ptx::cp_async_bulk_tensor(ptx::space_cluster, ptx::space_global, &sm.zeros[s][g - g0][0],
                                      tm_z, cz, full);
        }
    }
}

/* VARIANT 0 is the product. dev/pipe_probe only: VARIANT 1 keeps the producer and the ring but
 * its consumers only wait for each stage and release it (the memory pipeline's own speed);
 * VARIANT 2 makes large token tiles use the small tiles' per-stage loop; VARIANT 3 is 1
 * without the split-K tail and the epilogue; VARIANT 4 launches the same grid with no work
 * (launch, prologue and exit: the fixed cost); VARIANT 5 is the product with 2x1 clusters and
 * the activation box multicast (correct; no faster than VARIANT 6, H100: t256 at M = 1024 on
 * 8192^2 199 us vs 195 us, 192 us without clusters); VARIANT 6 launches the product in 2x1
 * clusters without multicast; VARIANT 7 skips the dequantization, 8 also the weight and scale
 * loads from shared memory (fragment_words); VARIANT 9 is the product with time stamps. */
template <typename T, int BT, int BK, int STAGES, int NW, int VARIANT = 0>
__global__ void __launch_bounds__(Shape<NW>::THREADS, 1)
    gemm_kernel(const __grid_constant__ CUtensorMap tm_a, const __grid_constant__ CUtensorMap tm_s,
                const __grid_constant__ CUtensorMap tm_z, const __grid_constant__ CUtensorMap tm_d, const Params p)
{
    using S = Smem<T, BT, BK, STAGES, NW>;
    constexpr int BW = Shape<NW>::BW, NWG = NW;
    constexpr int KB = S::KB;
    static_assert(BT % 8 == 0 && BT >= 8 && BT <= 256, "wgmma N must be a multiple of 8 in [8, 256]");
    static_assert(BK == 64 || BK == 128 || (BK == 256 && BT < 128), "a stage holds one, two (or four) 64-k blocks");
    static_assert(sizeof(S) >= (sizeof(float) + sizeof(T)) * BW * BT,
                  "cluster_reduce's fp32 tile and store_tile_tma's staging tile fit in the ring");
    /* Align by pointer arithmetic on the __shared__ array (not through an integer) so that the
     * compiler keeps the shared window: through uintptr_t the scale loads became generic LD.E
     * with 64-bit address arithmetic (ncu source view, H100). */
    extern __shared__ __align__(1024) uint8_t smem_raw[];
    const uint32_t pad = (1024u - ((uint32_t)__cvta_generic_to_shared(smem_raw) & 1023u)) & 1023u;
    S &sm = *reinterpret_cast<S *>(smem_raw + pad);

    /* This CTA's work: units [u0, u1) of the problem's tiles x k_iters units (see Params), and
     * for HYB kernels under stream-K then those of stream_range's range 1 (next_range). */
    const int64_t k_iters = p.k_iters;
    constexpr bool HYB = whole_tiles_first(BK, Shape<NW>::BW, BT);
    /* HYB kernels compute it in each branch (producer, consumers): computed once up here and live
     * into both, ptxas spilled it in t16_w3_k256 (after the GS loop came in). The others compute
     * it here (computed in the branches, the time-stamp variant of t16_w3_k128 spilled). */
    auto range0 = [&](int64_t &u0, int64_t &u1) {
        if (p.stream) {
            if constexpr (HYB) {
                stream_range(blockIdx.x, (int64_t)p.tiles_n * p.tiles_m, k_iters, gridDim.x, p.dp_tiles, 0, &u0, &u1);
            } else {
                const int64_t U = (int64_t)p.tiles_n * p.tiles_m * k_iters;
                u0 = stream_unit_begin(blockIdx.x, U, gridDim.x);
                u1 = stream_unit_begin((int64_t)blockIdx.x + 1, U, gridDim.x);
            }
        } else {
            const int64_t tile = (int64_t)blockIdx.y * p.tiles_n + blockIdx.x;
            const int64_t b = (int64_t)blockIdx.z * p.iters_per_split;
            u0 = tile * k_iters + b;
            u1 = tile * k_iters + min(k_iters, b + p.iters_per_split);
        }
        if constexpr (VARIANT == 4) u1 = u0; /* dev: launch, prologue and exit only */
    };
    int64_t u0_all = 0, u1_all = 0;
    if constexpr (!HYB) range0(u0_all, u1_all);
    auto work_range = [&](int64_t &u0, int64_t &u1) {
        if constexpr (HYB) {
            range0(u0, u1);
        } else {
            u0 = u0_all;
            u1 = u1_all;
        }
    };
    /* HYB: at the end of range 0 (u == u1), on to range 1, once; u0 moves so that u - u0 stays
     * the ring's stage count. A no-op in the other kernels. */
    auto next_range = [&](int64_t &u, int64_t &ub0, int64_t &ub1, bool &second) {
        if constexpr (HYB) {
            if (p.stream && u == ub1 && !second) {
                second = true;
                /* %ctaid.x read here, so that ptxas computes range 1 here instead of keeping it
                 * live from the start (the consumers of t16_w3_k256 spilled it otherwise) */
                uint32_t c;
                asm volatile("mov.u32 %0, %%ctaid.x;\n" : "=r"(c));
                int64_t a, b;
                stream_range(c, (int64_t)p.tiles_n * p.tiles_m, k_iters, gridDim.x, p.dp_tiles, 1, &a, &b);
                ub0 = a - (ub1 - ub0);
                u = a;
                ub1 = b;
            }
        }
    };
    /* dev VARIANT 5: 2x1 clusters along N; each CTA loads half of the activation box and
     * multicasts it to both (dev/NOTES.md has the plan this follows). */
    constexpr bool MC = VARIANT == 5;
    uint32_t crank = 0;
    if constexpr (MC) crank = ptx::get_sreg_cluster_ctarank();

    if (threadIdx.x == 128) stamp<VARIANT>(p, ST_ENTRY);
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            ptx::mbarrier_init(&sm.full[s], 1);
            ptx::mbarrier_init(&sm.empty[s], NWG * 4 * (MC ? 2 : 1)); /* one arrival per consumer warp */
        }
        if (p.csplit) { /* one arrival from each consumer thread of each peer CTA (cluster_reduce) */
            ptx::mbarrier_init(&sm.peers_ready, (gridDim.z - 1) * NWG * 128);
        }
        ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
    }
    if (threadIdx.x == 32 && p.pdl) { /* beside thread 0's barrier set-up */
        int64_t u0, u1;
        work_range(u0, u1);
        prefetch_first_stages<BK, STAGES, NW>(p, u0, u1);
    }
    /* The peers' barriers exist before anything arrives on them. Without a cluster launch the
     * cluster is this CTA alone and this is a CTA barrier (the same speed as __syncthreads in
     * the A/B of the commit that introduced it, H100). */
    cluster_arrive_relaxed_aligned();
    cluster_wait_aligned();

    const int wg = threadIdx.x / 128;
    if (wg == 0) {
        /* ---------------- producer ---------------- */
        constexpr bool WARP = WarpProducer<BT, BK>::value;
        if (producer_begin<WARP>(&tm_a, &tm_s, &tm_z)) {
            /* Walk the units incrementally: 64-bit divisions per stage (three of them) cost the
             * producer thread more than a stage's worth of time at t128 (M=256 went from 61 to
             * 90 us on the H100 when they were in this loop). */
            const bool leader = WARP ? elect_one_sync() : true;
            int s = 0, ph = 0;
            bool second = false;
            int64_t u0, u1;
            work_range(u0, u1);
            grid_dep_wait(); /* w4a16_problem::pdl: nothing read before (prefetch_first_stages) */
            for (int64_t ua = u0, ub0 = u0, ub1 = u1;;) { /* once, or per range (HYB) */
                next_range(ua, ub0, ub1, second);
                if (ua == ub1) break;
                const int64_t tile0 = ua / k_iters;
                int it = (int)(ua - tile0 * k_iters), nt = (int)(tile0 % p.tiles_n), mt = (int)(tile0 / p.tiles_n);
                const int n_units = (int)(ub1 - ua);
                ua = ub1;
                for (int i = 0; i < n_units; i++) {
                    const int n0 = nt * BW, m0 = mt * BT;
                    if (leader || WarpProducer<BT, BK>::all_wait) mbar_wait(&sm.empty[s], ph ^ 1);
                    if constexpr (WARP) __syncwarp();
                    fill_stage<T, BT, BK, STAGES, NW, MC>(sm, p, &tm_a, &tm_s, &tm_z, &sm.full[s], s, it, n0, m0,
                                                          crank, leader);
                    if (++s == STAGES) s = 0, ph ^= 1;
                    if (++it == p.k_iters) {
                        it = 0;
                        if (++nt == p.tiles_n) nt = 0, mt++;
                    }
                }
            }
        }
        if constexpr (MC) { /* leave only when the peer can no longer write here */
            __syncwarp();
            cluster_arrive_aligned();
            cluster_wait_aligned();
        }
        return;
    }

    /* ---------------- consumers ---------------- */
#ifndef W4A16_SM90_NO_SETMAXNREG
    setmaxnreg_inc<Shape<NW>::CONSUMER_REGS>();
#endif
    grid_dep_wait(); /* w4a16_problem::pdl: before the bias, the workspace and D */
    int64_t u0, u1;
    work_range(u0, u1);
    const int c_wg = wg - 1, t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
    const int row0 = c_wg * 64 + 16 * warp + lane / 4; /* this thread's weight rows: row0, row0 + 8 (in tile) */
    auto release = [&](int i) {
        release_stage(sm, i, lane);
        if constexpr (MC) /* the peer's producer also refills this stage of ours */
            if (lane == 0) mbar_arrive_cluster(&sm.empty[i % STAGES], crank ^ 1u);
    };
    if constexpr (VARIANT == 3) {
        /* dev: the ring alone, without the split-K tail and the epilogue */
        int64_t ua = u0, ub0 = u0, ub1 = u1, n = 0;
        bool second = false;
        next_range(ua, ub0, ub1, second);
        n = ub1 - ua;
        ua = ub1;
        next_range(ua, ub0, ub1, second);
        n += ub1 - ua;
        for (int i = 0; i < (int)n; i++) {
            mbar_wait(&sm.full[i % STAGES], (i / STAGES) & 1);
            release(i);
        }
    } else {
        /* One segment per tile this CTA touches: k iterations [it_begin, it_end) of that tile, the
         * ring's stages i0 .. i0 + n_it - 1. */
        bool second = false;
        int64_t u = u0;
        next_range(u, u0, u1, second); /* range 0 may be empty */
        for (; u < u1; next_range(u, u0, u1, second)) {
            const int64_t tile = u / k_iters;
            const int it_begin = (int)(u - tile * k_iters);
            const int it_end = (int)min(k_iters, u1 - tile * k_iters);
            const int i0 = (int)(u - u0), n_it = it_end - it_begin;
            u += n_it;
            const int n0 = (int)(tile % p.tiles_n) * BW, m0 = (int)(tile / p.tiles_n) * BT;
            const bool wg_valid = n0 / 64 + c_wg < (p.n + 63) / 64;
            float acc[BT / 2];
#pragma unroll
            for (int r = 0; r < BT / 2; r++) acc[r] = 0.0f;

            /* NOTE: small token tiles consume stages two at a time so that the fragment buffers
             * F0/F1 have compile-time indices: stage i's wgmmas run while stage i+1 is dequantized
             * into the other buffer, and stage i is released only after wgmma_wait<1> (issued after
             * stage i+1's commit) proves it done. Waiting after every k16 step instead reached
             * 0.94 TB/s at M=16 on 8192x8192 (H100). Large token tiles keep the per-step loop: in
             * one dev/pipe_probe run (H100, 8192x8192 fp16) t256 took 679 vs 768 us at M=4096,
             * 171 vs 174 us at M=1024 and 62.0 vs 63.3 us at M=256 with it (an earlier run, before
             * stream-K, had 696 vs 677 us at M=4096: within the run-to-run spread there). */
            constexpr bool PER_STEP = (BT >= 128) != (VARIANT == 2);
            constexpr int DQ = VARIANT == 7 ? 1 : VARIANT == 8 ? 2 : 0;
            /* GS ("group scale"): with integer or no zeros and groups of >= 128 (one group per
             * 128-k chunk), the fragments hold q - z and each chunk's fp32 sums are scaled once
             * (fold_group): 8 FFMA per 128-k chunk and thread at t16 instead of 32 HFMA2 (32 at t64,
             * no gain there, so token tiles <= 32 only). */
            constexpr bool GS_OK = BT <= 32;
            const bool gs = p.zmode != W4A16_ZEROS_FLOAT && p.gshift >= 7;
            /* The GS loop: one 64-k block at a time through two fragment buffers (16 registers
             * each), one block's wgmmas in flight while the next block is dequantized, drained
             * (wgmma_wait<0>) before each fold. Two sums in flight, each folded after the next
             * wgmma_wait<1>, made ptxas serialize the wgmmas (C7514: it does not follow which
             * group is done across the loop's back edge); halves of 128 k spilled at t16 and
             * serialized at t32 (C7512). Against the loops below without GS (H100, w4a16-bench,
             * three rounds back to back, fp16, M = 1/4/16/32 on the four TARGETS shapes, zeros
             * none and int): 0.980 of the time (geometric mean of 32 rows); integer zeros on
             * 8192x28672 and 57344x8192 0.955-0.967, 8192^2 decode 0.95-0.99, 4096^2 with
             * integer zeros 1.007-1.026 (t16_w3_k128). This loop without GS (full dequantization
             * per block) was 2-4% slower than the halves loop for groups of 64 and float zeros
             * on t16_w3_k256, so those keep the loops below. */
            auto gs_loop = [&]() {
                uint32_t B0[4][4], B1[4][4];
                float G[BT / 2], sfc[2], sfn[2];
                GroupConsts<T> gcg, gcn; /* the constants of the group being dequantized, and of the next */
                uint32_t wpre[4]; /* the next block's words (GS_PREFETCH) */
                mbar_wait(&sm.full[i0 % STAGES], (i0 / STAGES) & 1);
                dequant_block_gs<T, BT, BK, STAGES, NW, DQ, 0>(sm, p, i0, it_begin, B0, c_wg, t, row0, wg_valid, n0,
                                                               sfn, gcg, gcn, wpre);
                for (int i = i0; i < i0 + n_it; i++) {
                    const int it = it_begin + i - i0;
                    auto step = [&](auto kb_c) {
                        constexpr int kb = decltype(kb_c)::value;
                        uint32_t(&cur)[4][4] = pick<(kb & 1) != 0>(B1, B0);
                        uint32_t(&nxt)[4][4] = pick<(kb & 1) != 0>(B0, B1);
                        if constexpr (kb % 2 == 0) { /* a group's first block */
                            sfc[0] = sfn[0];
                            sfc[1] = sfn[1];
                        }
                        issue_stage<T, BT, BK, STAGES, NW, kb, 1, kb % 2 == 0>(sm, i, G, cur);
                        if constexpr (kb + 1 < KB) {
                            dequant_block_gs<T, BT, BK, STAGES, NW, DQ, kb + 1>(sm, p, i, it, nxt, c_wg, t, row0,
                                                                                wg_valid, n0, sfn, gcg, gcn, wpre);
                        } else if (i + 1 < i0 + n_it) {
                            mbar_wait(&sm.full[(i + 1) % STAGES], ((i + 1) / STAGES) & 1);
                            dequant_block_gs<T, BT, BK, STAGES, NW, DQ, 0>(sm, p, i + 1, it + 1, nxt, c_wg, t, row0,
                                                                           wg_valid, n0, sfn, gcg, gcn, wpre);
                        }
                        wgmma_wait<0>();
                        if constexpr (kb % 2 == 1) fold_group<BT>(acc, G, sfc); /* the group's two blocks */
                    };
                    step(std::integral_constant<int, 0>{});
                    step(std::integral_constant<int, 1>{});
                    if constexpr (KB == 4) {
                        step(std::integral_constant<int, 2>{});
                        step(std::integral_constant<int, 3>{});
                    }
                    release(i);
                }
            };
            if constexpr (VARIANT == 9) { /* the first stage's data (waiting twice on a phase is harmless) */
                mbar_wait(&sm.full[i0 % STAGES], (i0 / STAGES) & 1);
                if (threadIdx.x == 128 && i0 == 0) stamp<VARIANT>(p, ST_FIRST_DATA);
            }
            if constexpr (VARIANT == 1) {
                for (int i = i0; i < i0 + n_it; i++) {
                    mbar_wait(&sm.full[i % STAGES], (i / STAGES) & 1);
                    release(i);
                } /* then the split-K reduction and the epilogue, with zero accumulators */
            } else if constexpr (BK == 256) {
                /* four 64-k blocks a stage, in two halves (fragment buffers F0, F1): a stage's
                 * second half runs on the tensor cores while the next stage's first half is
                 * dequantized. Half the stages of BK = 128 for the same bytes: t32_w3 at M=32
                 * took 20.13 vs 21.84 us on 8192^2 and 50.84 vs 58.69 us on 8192x28672 (H100,
                 * dev/pipe_probe, one run); smaller stages cost more (configs.def). */
                if (GS_OK && gs) {
                    gs_loop();
                } else {
                    /* t64 (BT = 64): one copy per zero mode, a 256-k stage's loop 945 -> 340-378
                     * instructions (fp16 SASS); H100, dev/pipe_probe back to back, fp16, zeros
                     * none, us, before / after: M=64 8192^2 23.01 / 22.42, 57344x8192 119.31 /
                     * 116.57, M=48 8192x28672 60.04 / 58.59; w4a16-bench, three rounds, M = 48
                     * and 64 on the three large shapes, both dtypes, all three zero modes: 0.987
                     * of the time (36 rows; fp16 zeros none 0.953-0.982). Smaller tiles keep one
                     * copy (by_zero_mode: C7512). */
                    by_zero_mode<(BT >= 64)>(p.zmode, [&](auto zm) {
                        constexpr int ZM = decltype(zm)::value, KH = KB / 2;
                        uint32_t F0[KH * 4][4], F1[KH * 4][4];
                        for (int i = i0; i < i0 + n_it; i++) {
                            consume_stage<T, BT, BK, STAGES, NW, DQ, 0, KH, ZM>(sm, p, i, it_begin + i - i0, acc, F0,
                                                                                c_wg, t, row0, wg_valid, n0);
                            wgmma_wait<1>();
                            if (i > i0) release(i - 1);
                            consume_stage<T, BT, BK, STAGES, NW, DQ, KH, KH, ZM>(sm, p, i, it_begin + i - i0, acc, F1,
                                                                                 c_wg, t, row0, wg_valid, n0);
                            wgmma_wait<1>();
                        }
                        wgmma_wait<0>(); /* unconditionally: else ptxas injects a wait itself (C7517) */
                        release(i0 + n_it - 1);
                    });
                }
            } else if constexpr (PER_STEP) {
                /* One copy of the loop per zero mode (ZM): no branch on it in each stage's group
                 * constants, and none of the other modes' code. A stage's loop went from 185 to
                 * 121-130 instructions at t256 and from 315 to 195-213 at t128 (fp16 SASS). H100,
                 * dev/pipe_probe back to back, fp16, zeros none, us, before / after: t128 M=128
                 * 8192^2 32.54 / 29.28, 57344x8192 191.38 / 178.05; t256 M=256 8192^2 47.19 /
                 * 47.00, M=1024 160.39 / 158.99, M=4096 643.53 / 638.33. w4a16-bench (power-capped,
                 * three rounds, zeros none and int): M=128 rows 0.907-0.967 of the time, t256 rows
                 * at M=256 and 1024 0.960-1.029 (geometric mean of 24 rows 0.977). */
                by_zero_mode<true>(p.zmode, [&](auto zm) {
                    for (int i = i0; i < i0 + n_it; i++) {
                        consume_stage_steps<T, BT, BK, STAGES, NW, DQ, decltype(zm)::value>(
                            sm, p, i, it_begin + i - i0, acc, c_wg, t, row0, wg_valid, n0);
                        wgmma_wait<0>();
                        release(i);
                    }
                });
            } else {
                uint32_t F0[KB * 4][4], F1[KB * 4][4];
                int i = i0;
                const int i_end = i0 + n_it;
                if (GS_OK && gs) {
                    gs_loop();
                } else {
                    for (; i + 1 < i_end; i += 2) {
                        consume_stage<T, BT, BK, STAGES, NW, DQ>(sm, p, i, it_begin + i - i0, acc, F0, c_wg, t, row0,
                                                                 wg_valid, n0);
                        wgmma_wait<1>();
                        if (i > i0) release(i - 1);
                        consume_stage<T, BT, BK, STAGES, NW, DQ>(sm, p, i + 1, it_begin + i + 1 - i0, acc, F1, c_wg,
                                                                 t, row0, wg_valid, n0);
                        wgmma_wait<1>();
                        release(i);
                    }
                    if (i < i_end) {
                        consume_stage<T, BT, BK, STAGES, NW, DQ>(sm, p, i, it_begin + i - i0, acc, F0, c_wg, t, row0,
                                                                 wg_valid, n0);
                        wgmma_wait<1>();
                        if (i > i0) release(i - 1);
                    }
                    wgmma_wait<0>();
                    release(i_end - 1);
                }
            }
#pragma unroll
            for (int r = 0; r < BT / 2; r++) fence_reg(acc[r]);
            if (threadIdx.x == 128) stamp<VARIANT>(p, ST_LOOP_DONE);
            if (threadIdx.x == 256) stamp<VARIANT>(p, ST_WG1_DONE);

            /* ---------------- partial tiles: meet in a cluster or the workspace ---------------- */
            int qb = 0, qe = BT / 8; /* token groups this CTA stores */
            if (n_it < k_iters && p.csplit) {
                const int csz = (int)gridDim.z, rank = (int)blockIdx.z; /* cluster (1, 1, splits) */
                csplit_range(rank, csz, BT / 8, &qb, &qe);
                cluster_reduce<BT, NW, VARIANT>(reinterpret_cast<float4 *>(smem_raw + pad), &sm.peers_ready, acc,
                                                c_wg, t, rank, csz, qb, qe, p);
            } else if (n_it < k_iters) {
                /* The slot of a split tile: the tile itself for a split-K grid; for stream-K the CTA
                 * that owns the tile's first unit (at most one split tile starts in each CTA). */
                const int64_t tiles = (int64_t)p.tiles_n * p.tiles_m;
                const int64_t sk_units =
                    HYB ? stream_split_units(tiles, k_iters, gridDim.x, p.dp_tiles) : tiles * k_iters;
                const int64_t slot = p.stream ? stream_slot(tile, k_iters, sk_units, gridDim.x) : tile;
                /* This warpgroup's 64 x BT partial sums; thread t keeps its accumulators 4q..4q+3 at
                 * part[512 q + 4 t], so that each goes out in one 16-byte vector reduction (a quarter
                 * of the red instructions; the benchmark did not move beyond its noise with it: M=256
                 * on 8192x8192 74.9 us vs 74.3 us before, H100, different machines). */
                float *part = p.partials + slot * (BW * BT) + (int64_t)c_wg * 64 * BT;
                __shared__ int last_flag;
                /* NOTE: every CTA adds into the workspace and counts its k iterations; the one that
                 * completes the count reads the sum back and finishes the tile. */
                const uint64_t pol = l2_policy(p.keep_d);
#pragma unroll
                for (int q = 0; q < BT / 8; q++)
                    red_add_v4_f32_hint(&part[512 * q + 4 * t], acc[4 * q], acc[4 * q + 1], acc[4 * q + 2],
                                        acc[4 * q + 3], pol);
                /* One thread counts for the CTA with acquire-release semantics, between two CTA
                 * barriers (the CTA's reductions before the count, the other CTAs' before this
                 * one's reads), as CUTLASS's semaphores do. It replaces a __threadfence()
                 * (MEMBAR.SC.GPU) in every thread before the count and after it: time stamps
                 * (H100, t16_w3, 8192^2 M=16) put the last CTA's reductions-to-sum at 0.77 us
                 * instead of 1.79; scripts/gpu-ab.sh, same machine: 8192^2 M=16 20.74 -> 19.80 us,
                 * 4096^2 M=1 10.29 -> 9.47, M=16 10.49 -> 9.53, 8192x28672 M=16 53.25 -> 52.55. */
                asm volatile("bar.sync 1, %0;\n" ::"n"(128 * NWG) : "memory");
                if (threadIdx.x == 128) {
                    const int old = atom_add_acq_rel_gpu(&p.counters[slot], n_it);
                    last_flag = old + n_it == (int)k_iters;
                }
                asm volatile("bar.sync 1, %0;\n" ::"n"(128 * NWG) : "memory");
                if (!last_flag) continue;
#pragma unroll
                for (int q = 0; q < BT / 8; q++) {
                    float4 *pq = reinterpret_cast<float4 *>(&part[512 * q + 4 * t]);
                    const float4 v = __ldcg(pq);
                    acc[4 * q] = v.x;
                    acc[4 * q + 1] = v.y;
                    acc[4 * q + 2] = v.z;
                    acc[4 * q + 3] = v.w;
                    st_v4_f32_hint(reinterpret_cast<float *>(pq), 0.0f, 0.0f, 0.0f, 0.0f, pol); /* leave it zeroed */
                }
                if (threadIdx.x == 128) p.counters[slot] = 0;
            }

            if (threadIdx.x == 128) stamp<VARIANT>(p, ST_RED_DONE);
            /* ---------------- epilogue: D[token][n] = alpha * acc + bias ---------------- */
            if (p.tma_d)
                store_tile_tma<T, BT, NW, VARIANT>(smem_raw + pad + sizeof(float) * BW * BT, &tm_d, p, acc, c_wg, t,
                                                   n0, m0, qb, qe, wg_valid);
            else
                store_tile_direct<T, BT>(p, acc, lane, n0 + row0, m0, qb, qe);
            if (threadIdx.x == 128) stamp<VARIANT>(p, ST_EPI_DONE);
        }
    }
    /* A cluster split's CTA (one tile each) leaves only when its peers have read its partial sums:
     * a cluster barrier of the consumers alone, arrived on after the reads (cluster_reduce) and
     * waited for here, so that the epilogue hides its latency. The producer warpgroup has
     * returned, and exited threads do not hold up barrier.cluster (PTX ISA, `exit`). Out of the
     * tile loop: a one-thread mbarrier wait inside it made ptxas keep the ring's address out of
     * uniform registers in the main loop (SASS). An mbarrier (`done`, arrived on remotely after
     * the reads) did this job before at the same speed, but compute-sanitizer racecheck does not
     * follow it and warned that a peer "might have already exited" (9600 warnings on
     * test_gpu_gemm --small, split forced). */
    if (p.csplit) cluster_wait_aligned(); /* arrived on in cluster_reduce */
    if constexpr (MC) {
        cluster_arrive_aligned();
        cluster_wait_aligned();
    }
    if (threadIdx.x == 128) stamp<VARIANT>(p, ST_EXIT);
}

} // namespace sm90

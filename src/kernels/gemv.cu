/*
 * gemv.cu - the decode kernel for M <= 8 / 16 ("gemv_t8", "gemv_t16") on small weights: no TMA, no
 * producer warp, no split-K workspace. Each warp owns a stripe of 16 weight rows (a quarter of a
 * packed 64-row tile: packed_layout.h gives warp w of a tile 512 contiguous bytes per 64-k block,
 * which is also mma.sync m16n8k16's A-fragment map), or of 32 (two such fragments: gemv_t8 from
 * M = 3 or 5 up, gemv_t16 at every M, where enough stripes remain; stripe_frags), and walks a
 * contiguous run of K's 64-k blocks through its own ring of cp.async stages (weights, the
 * activations' token rows, the blocks' scales and zeros); the stripe's warps of a CTA sum their
 * fp32 partial sums through shared memory, so K is split inside the CTA only. Per 64-k block: the
 * Hopper kernel's dequantization (fragment_dequant.cuh; scales on the fp32 sums per group, "GS",
 * except with float zeros), ldmatrix for the activations, four mma.sync m16n8k16 per 8 tokens.
 *
 * Why (H100, w4a16-bench, fp16, docs/perf/h100-session20-gemv*.txt): on small weights the Hopper
 * kernel's tiles are few (1536^2: 12 of 128 rows), so it splits K across CTAs and pays the TMA
 * ring's first data and the split tail; 1536^2 M=1 took 10.10 us there (cuBLAS 7.90), 7.23 here.
 * Here 16 rows are the unit of work. On large weights the Hopper kernel is faster: this kernel
 * issues ~86 instructions per 64-k block and warp (fp16, groups of 128, zeros none; ~160 before
 * session 22) against ~80 in the Hopper consumers (the copies, their waits and ldmatrix are each
 * warp's own), 57344x8192 M=1 90.5 us against 86.0. The heuristic weighs it by its own time
 * model (gemv_cost below).
 */
#include "common.cuh"
#include "fragment_dequant.cuh"
#include "ptx.cuh"

#include <stdlib.h>

namespace {

constexpr int WARPS = 8, THREADS = 32 * WARPS;
constexpr int TILE_WORDS4 = W4A16_PACK_TILE_BYTES / 16; /* uint4 per packed 64x64 tile */
constexpr int WBYTES = 512;                               /* a warp's part of a packed tile */
constexpr int U = 2;                                      /* 64-k blocks per stage */

/* One warp's stage: U consecutive 64-k blocks, each with the stripe's NR x 512 bytes of weights
 * (fragment r's at + 512 r), the M token rows of its 64 activations (128 bytes each, 16-byte chunk
 * c of row r at chunk c ^ (r & 7): ldmatrix's eight row addresses then fall in distinct banks; rows
 * past M are read from a zero row elsewhere, so only M rows take room), and two slots of group
 * constants: 16 NR scales, 16 NR zeros (integer: bytes; float: the dtype). Block v's parts at
 * W + v NR WBYTES, act + v actb; slot j's at sc + j slot (scales) and sc + j slot + 32 NR (zeros).
 * Slot 0 holds the stage's first block's group (with groups of 128 both blocks'), slot 1 block 1's
 * with groups of 64. Sized by M, so that small M fits more CTAs per SM (gemv_slots). */
constexpr int ST_W = 0;
struct StageLayout {
    uint32_t act, actb, sc, slot, bytes;
};
__host__ __device__ inline StageLayout stage_layout(int m, int nr)
{
    StageLayout l;
    l.act = ST_W + U * WBYTES * (uint32_t)nr;
    l.actb = 128u * (uint32_t)m;
    l.sc = l.act + U * l.actb;
    l.slot = 64u * (uint32_t)nr;
    l.bytes = l.sc + 2 * l.slot;
    return l;
}

/* CTAs per SM the registers allow (__launch_bounds__): three for t8 with one fragment per stripe
 * (<= 80 registers), one for t16 with two (134-144 registers, no spills; at two CTAs' 128 it
 * spilled and ran slower, see stripe_frags), else two. Integer zeros fit 80 since session 23 (88
 * registers before, with 64-bit strides for the constants' copies; fp16, H100, w4a16-bench,
 * gemv_t8 forced, A/B in one call, M = 1 / 4, us: 6144x4096 13.93 / 14.08 -> 12.04 / 12.29,
 * 12288x2048 13.89 / 14.10 -> 12.10 / 12.19; 4096^2, 4096x14336, 14336x4096, 8192^2 1.002-1.012x
 * the time). */
__host__ __device__ constexpr int min_ctas(int nt, int nr)
{
    return nt == 1 && nr == 1 ? 3 : nt == 2 && nr == 2 ? 1 : 2;
}

__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* cp.async of 16 bytes, L1 bypassed (streamed weights) / cached (activations, read by the
 * CTA's other stripes); src_bytes < 16 zero-fills the rest */
__device__ __forceinline__ void cp_async_cg16(uint32_t dst, const void *src)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src) : "memory");
}
__device__ __forceinline__ void cp_async_ca16(uint32_t dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}
/* The same under a predicate: ptxas pads an unpredicated cp.async with three never-executed LDS
 * (SASS "@!PT LDS RZ, [RZ]"), predicated ones only the first of a stage (t8's steady stage: 12 ->
 * 3). The steady loop's weight copies carry a predicate that is always true (from a kernel
 * argument, so that ptxas cannot fold it). With the constants' copies predicated instead of
 * branched and the fold's scales read at a shared address: ~182 -> ~173 instructions per stage,
 * 0.991x the time (H100, gemv_t8, 12 rows of 4096^2 to 57344x8192 at M = 1 and 8, each 0.98-1.00x;
 * docs/perf/h100-session22-gemv-ab.txt). */
__device__ __forceinline__ void cp_async_cg16_if(uint32_t p, uint32_t dst, const void *src)
{
    asm volatile("{\n .reg .pred q;\n setp.ne.b32 q, %2, 0;\n"
                 " @q cp.async.cg.shared.global [%0], [%1], 16;\n}\n" ::"r"(dst),
                 "l"(src), "r"(p)
                 : "memory");
}
__device__ __forceinline__ void cp_async_ca16_if(uint32_t p, uint32_t dst, const void *src, int src_bytes)
{
    asm volatile("{\n .reg .pred q;\n setp.ne.b32 q, %3, 0;\n"
                 " @q cp.async.ca.shared.global [%0], [%1], 16, %2;\n}\n" ::"r"(dst),
                 "l"(src), "r"(src_bytes), "r"(p)
                 : "memory");
}
__device__ __forceinline__ void cp_async_ca8_if(uint32_t p, uint32_t dst, const void *src, int src_bytes)
{
    asm volatile("{\n .reg .pred q;\n setp.ne.b32 q, %3, 0;\n"
                 " @q cp.async.ca.shared.global [%0], [%1], 8, %2;\n}\n" ::"r"(dst),
                 "l"(src), "r"(src_bytes), "r"(p)
                 : "memory");
}
template <typename T> __device__ __forceinline__ float bits_to_f32(uint32_t b);
template <> __device__ __forceinline__ float bits_to_f32<__half>(uint32_t b)
{
    return __half2float(__ushort_as_half((unsigned short)b));
}
template <> __device__ __forceinline__ float bits_to_f32<__nv_bfloat16>(uint32_t b)
{
    return __bfloat162float(__ushort_as_bfloat16((unsigned short)b));
}
__device__ __forceinline__ uint32_t lds_u16(uint32_t addr)
{
    uint16_t v;
    asm volatile("ld.shared.u16 %0, [%1];\n" : "=h"(v) : "r"(addr));
    return v;
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr)
                 : "memory");
}

template <typename T> __device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                               uint32_t b1);
template <> __device__ __forceinline__ void mma_16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                             uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <> __device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4],
                                                                    uint32_t b0, uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* An empty asm that makes a lane constant opaque, so that ptxas keeps it in a register instead of
 * recomputing it from the lane index in every stage (it did: ~20 instructions per stage). */
__device__ __forceinline__ void pin(uint32_t &x) { asm volatile("" : "+r"(x)); }

/* d = a b + 0: a group's first MMA, so its sums need no zeroing */
template <typename T> __device__ __forceinline__ void mma_16816_z(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                                 uint32_t b1)
{
    float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    mma_16816<T>(z, a, b0, b1);
#pragma unroll
    for (int e = 0; e < 4; e++) d[e] = z[e];
}

/* The kernel's arguments, 32-bit where the API's limits allow (N, K, lda, ldd < 2^31). */
template <typename T> struct GemvArgs {
    const uint8_t *w;
    const T *a, *scales, *bias;
    const void *zeros;
    T *d;
    int m, n, lda, ldd;
    int kt_count;  /* 64-k blocks */
    int tail_ch;   /* 16-byte chunks of the last block inside K (1 ... 8) */
    int gsh;       /* group of block kt: kt >> gsh (groups of 64 or 128); 31: one group (per-channel) */
    int kw;        /* warps per stripe */
    int pdl;       /* w4a16_problem::pdl: the first blocks' weights into L2 before grid_dep_wait */
    float alpha;
};

/* The dequantization constants of stripe rows g and g + 8 from the stage's copies
 * (sm90::group_consts): rows past N were copied as zeros, so they get s = zf = 0 and their padding
 * weights give exactly 0. */
template <typename T, int ZM>
__device__ __forceinline__ sm90::GroupConsts<T> gemv_consts(const uint8_t *sc, const uint8_t *ze, int g)
{
    sm90::GroupConsts<T> gc;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int r = g + 8 * h;
        const T sv = reinterpret_cast<const T *>(sc)[r];
        int z = 8;
        T zf = from_f32<T>(0.0f);
        if constexpr (ZM == W4A16_ZEROS_INT) z = ze[r];
        if constexpr (ZM == W4A16_ZEROS_FLOAT) zf = reinterpret_cast<const T *>(ze)[r];
        sm90::set_row_consts<T>(gc, h, sv, z, zf, true);
    }
    return gc;
}

/* NT token tiles of 8 (M <= 8 NT); each warp runs its own ring of S stages of U 64-k blocks
 * (cp.async, one commit group per stage). kw warps of the CTA share a stripe (CTA: WARPS / kw
 * stripes); warp q of a stripe takes the q-th of kw contiguous runs of blocks, cut at groups.
 * Measured on the way (H100, w4a16-bench, fp16, M=1, us; docs/perf/h100-session20-gemv.txt):
 * - U = 2 with the copies' addresses stepped per stage, against one block per stage and
 *   addresses recomputed: 57344x8192 107.65 vs 122.43, 8192x28672 56.46 vs 64.10, 4096^2 10.24
 *   vs 10.50 (SASS: the copies took ~100 instructions per block before);
 * - 8 stages of one block in 2 CTAs per SM against 4 stages in 4 CTAs: 119.94 vs 126.05 us on
 *   57344x8192, 10.32 vs 10.43 on 4096^2: more warps do not issue faster (ncu: 5.4-8.6 cycles
 *   between a warp's instructions either way);
 * - one lane issuing cp.async.bulk copies of weights and token rows instead: slower everywhere
 *   (57344x8192 152.37, M=8 257.47 against 105.74; 4096^2 11.98).
 * The kernel was issue-bound from ~8 MB of weights up (session 20); below, the launch and the first
 * data. Session 22 (H100, w4a16-bench A/B in one call, fp16, group 128, kw by the rule, us): the steady
 * loop without per-block checks (copies, group folds), lane constants pinned in registers (ptxas
 * recomputed them every stage) and each group's first MMA from zero, 318 -> ~180 SASS
 * instructions per stage of two blocks (t8): t8 M=1 8192^2 20.15 -> 18.16, 14336x4096 19.85 ->
 * 16.84, 8192x28672 55.89 -> 47.34, 57344x8192 107.10 -> 94.42, 4096^2 9.34 -> 9.04; t16 M=16
 * 8192^2 23.10 -> 20.90, 57344x8192 129.03 -> 109.00, 4096^2 10.36 -> 10.41.
 * Then ncu (57344x8192 M=1, t8): 5.7 cycles per issued instruction and warp, 35% of cycles with
 * no eligible warp, stalls mostly fixed-latency dependencies (1.8 per issue) and shared-memory
 * loads (0.67), memory 0.21: more warps, not more bytes in flight. So the stage holds only M
 * token rows and t8 fits three CTAs per SM (80 registers) up to M = 4: 57344x8192 M=1 94.42 ->
 * 90.86-91.33 (two calls), M = 8 (two CTAs either way) 91.49-91.86 against 91.70; 6144x4096 M=1
 * 10.83 (session 21: 12.59 with its best width). */
template <typename T, int NT, int NR, int S, int ZM>
__global__ void __launch_bounds__(THREADS, min_ctas(NT, NR)) gemv_kernel(const GemvArgs<T> p)
{
    /* GS (as the Hopper kernel's small tiles): fragments hold q - z, each group's fp32 sums are
     * scaled once; float zeros need the dequantized weights */
    constexpr bool GS = ZM != W4A16_ZEROS_FLOAT;
    const StageLayout SL = stage_layout(p.m, NR);
    constexpr int ROWS = 16 * NR, WB = WBYTES * NR; /* a stripe's rows, a block's weight bytes */
    extern __shared__ __align__(128) uint8_t ring[];
    __shared__ float4 red[WARPS][NR * NT][32];
    __shared__ __align__(16) uint8_t zrow[WARPS][128];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, c = lane & 3;
    const int kw = p.kw, q = warp % kw;
    const int stripe = blockIdx.x * (WARPS / kw) + warp / kw;
    const int stripes = (p.n + ROWS - 1) / ROWS;
    uint8_t *const mine = ring + warp * S * SL.bytes;
    const uint32_t mine_s = smem_addr(mine);
    float acc[NR][NT][4] = {}, gacc[NR][NT][4] = {};
    if (stripe < stripes) {
        /* warp q's blocks: a contiguous run [b0, b0 + n_i), cut at whole groups of 128 */
        const int gt = p.gsh == 1 ? 2 : 1, units = (p.kt_count + gt - 1) / gt;
        const int b0 = q * units / kw * gt, n_i = min((q + 1) * units / kw * gt, p.kt_count) - b0;
        /* the stripe's NR quarters of its packed 64-row tile are contiguous (512 bytes each) */
        constexpr int SPT = 4 / NR; /* stripes per tile */
        const int64_t tile0 = (int64_t)(stripe / SPT) * p.kt_count * TILE_WORDS4;
        const uint8_t *wp = p.w + (tile0 + 32 * NR * (stripe % SPT) + lane) * 16 + (int64_t)b0 * W4A16_PACK_TILE_BYTES;
        /* this lane's activation chunks: token rows r_u = lane / 8 + 4 u (u < 2 NT), chunk
         * lane % 8 of even u's rows and (lane % 8) ^ 4 of odd u's: all land at position
         * (lane % 8) ^ (lane / 8) of their rows (chunk c of row r sits at c ^ (r & 7)), so one
         * base address plus 512 u names every destination. Pointers advance with the stages. */
        constexpr int CH = 2 * NT;
        const int rr = lane >> 3;
        const uint8_t *ap[CH];
        bool aval[CH];
        int ach[CH];
#pragma unroll
        for (int u = 0; u < CH; u++) {
            const int r = rr + 4 * u;
            ach[u] = (lane & 7) ^ (4 * (u & 1));
            aval[u] = r < p.m;
            ap[u] = reinterpret_cast<const uint8_t *>(p.a + (int64_t)(aval[u] ? r : 0) * p.lda + 64 * (int64_t)b0 +
                                                      8 * ach[u]);
        }
        uint32_t adst = SL.act + rr * 128 + (((lane & 7) ^ rr) & 7) * 16, wdst = ST_W + 16 * lane;
        pin(adst);
        pin(wdst);
        const int kt_last = p.kt_count - 1;
        /* group constants: lanes h < 2 NR copy the scales of rows 8h ... 8h + 7, lanes 2 NR + h
         * the zeros. An 8-row chunk past N (N is a multiple of 8: all of it or none) is
         * zero-filled, so its rows get scale 0 (and zero 0) without a check in the loop. A stage
         * holds one block's constants in slot 0 (the stage's first block's group: with groups of
         * 128 both blocks share it, as b0 is cut at whole groups; per-channel, the one group), and
         * with groups of 64 block 1's in slot 1. */
        const int h = lane % (2 * NR);
        const bool sl = lane < 2 * NR; /* a scales lane */
        const bool glane = lane < (ZM == W4A16_ZEROS_NONE ? 2 : 4) * NR, gin = ROWS * stripe + 8 * h < p.n;
        const bool g8 = ZM == W4A16_ZEROS_INT && !sl; /* 8 integer zeros: 8 bytes */
        const int gbytes = gin ? (g8 ? 8 : 16) : 0;
        /* 32-bit, and so the per-stage step (up to 4 N bytes): the configurations take N < 2^30
         * (configs.c). A register fewer: bf16 with integer zeros then fits three CTAs per SM. */
        const uint32_t gstride = gin ? (uint32_t)p.n * (sl || ZM != W4A16_ZEROS_INT ? (uint32_t)sizeof(T) : 1u) : 0u;
        const uint8_t *gp =
            !gin ? (const uint8_t *)p.scales
            : sl || ZM == W4A16_ZEROS_NONE
                ? (const uint8_t *)(p.scales + ROWS * stripe + 8 * h)
                : (const uint8_t *)p.zeros + (ZM == W4A16_ZEROS_INT ? 1 : (int)sizeof(T)) * (ROWS * stripe + 8 * h);
        if (p.gsh != 31) gp += (int64_t)(b0 >> p.gsh) * gstride;
        const uint32_t gs_step = p.gsh == 31 ? 0u : (uint32_t)(U >> p.gsh) * gstride; /* per stage */
        const bool g64 = p.gsh == 0;
        uint32_t gdst = SL.sc + (sl ? 16 * h : 32 * NR + (ZM == W4A16_ZEROS_INT ? 8 : 16) * h);
        pin(gdst);
        /* token rows past M are never copied: ldmatrix reads them from a zero row instead (one per
         * warp). Zeroing those rows in every stage slot cost 2 us at M=1 on the short runs of
         * 7168x2048 and 8192x2048 (w4a16-bench, H100: M=1 14.80 / 12.75 us against M=8 11.65 /
         * 10.78) */
        reinterpret_cast<uint32_t *>(zrow[warp])[lane] = 0u;
        const int n_s = (n_i + U - 1) / U; /* stages of this warp */
        /* Stages 0 ... n_fast - 1 have all U blocks inside the run and none is K's last (the one
         * that may end inside its 64 k): their copies go without per-block checks. */
        const int n_fast = min(n_i, kt_last - b0) / U;
        /* always true, but not to ptxas (a constant predicate it folds, and pads the copy again) */
        const uint32_t gl = glane ? 1u : 0u, always = p.kt_count > 0 ? 1u : 0u;
        auto copy_consts = [&](uint32_t st, bool second) {
            if (g8) cp_async_ca8_if(gl, st + gdst, gp, gbytes);
            else cp_async_ca16_if(gl, st + gdst, gp, gbytes);
            if (second) {
                if (g8) cp_async_ca8_if(gl, st + SL.slot + gdst, gp + gstride, gbytes);
                else cp_async_ca16_if(gl, st + SL.slot + gdst, gp + gstride, gbytes);
            }
        };
        auto step = [&]() {
            wp += U * W4A16_PACK_TILE_BYTES;
#pragma unroll
            for (int u = 0; u < CH; u++) ap[u] += 128 * U;
            gp += gs_step;
            cp_async_commit(); /* empty groups too: the wait below counts groups */
        };
        /* issue_fast(i) / issue(i) run for i = 0, 1, 2, ... in order: the pointers step one stage
         * each call */
        auto issue_fast = [&](int i) {
            const uint32_t st = mine_s + (i % S) * SL.bytes;
#pragma unroll
            for (int v = 0; v < U; v++) {
#pragma unroll
                for (int r = 0; r < NR; r++)
                    cp_async_cg16_if(always, st + wdst + v * WB + r * WBYTES,
                                     wp + v * W4A16_PACK_TILE_BYTES + r * WBYTES);
#pragma unroll
                for (int u = 0; u < CH; u++)
                    if (aval[u]) cp_async_ca16(st + adst + v * SL.actb + 512 * u, ap[u] + 128 * v, 16);
            }
            copy_consts(st, g64);
            step();
        };
        auto issue = [&](int i) {
            if (i < n_fast) {
                issue_fast(i);
                return;
            }
            const uint32_t st = mine_s + (i % S) * SL.bytes;
            if (U * i < n_i) {
#pragma unroll
                for (int v = 0; v < U; v++) {
                    const int kt = b0 + U * i + v;
                    if (U * i + v < n_i) {
#pragma unroll
                        for (int r = 0; r < NR; r++)
                            cp_async_cg16(st + wdst + v * WB + r * WBYTES, wp + v * W4A16_PACK_TILE_BYTES + r * WBYTES);
                        /* a chunk past K is zero-filled (nothing read; the source named is A's
                         * start, so no address past A's end is ever formed) */
#pragma unroll
                        for (int u = 0; u < CH; u++) {
                            const bool in = kt != kt_last || ach[u] < p.tail_ch;
                            if (aval[u])
                                cp_async_ca16(st + adst + v * SL.actb + 512 * u,
                                              in ? ap[u] + 128 * v : (const uint8_t *)p.a, in ? 16 : 0);
                        }
                    }
                }
                copy_consts(st, g64 && U * i + 1 < n_i);
            }
            step();
        };
        /* w4a16_problem::pdl: until the preceding grid has completed, only L2 prefetches of the
         * warp's first blocks (lane v: block v, NR x 512 bytes); then every read and write.
         * No griddepcontrol.launch_dependents here or in the Hopper kernel (H100, fp16): the
         * instruction's presence alone, not executed (pdl = 0), made w4a16-bench's M = 1 rows
         * 1.4-7% slower (A/B in one call, us: 8192x28672 t8_w3_k256 46.5 -> 49.0, 57344x8192
         * 86.9 -> 88.1; executed, 4096^2 gemv_t8 9.26 -> 9.45; without it 0.995-1.008x), and chains of
         * calls with pdl = 1 gained about as much without it (dev/pdl_chain, pdl = 1 over 0: 4096^2
         * M=1 0.919, 8192^2 M=16 0.905, 8192x28672 M=1 0.957; with it, executed once the loads
         * were issued, 0.914 / 0.907 / 0.918; at the kernel's start, 8192^2 M=1 lost, 1.037:
         * docs/perf/h100-session27-pdl.txt). */
        if (p.pdl && lane < (S - 1) * U && lane < n_i)
            bulk_prefetch_l2(wp - 16 * lane + (int64_t)lane * W4A16_PACK_TILE_BYTES, (uint32_t)WB);
        grid_dep_wait();
        __syncwarp();
#pragma unroll
        for (int i = 0; i < S - 1; i++) issue(i);
        /* ldmatrix: lane L gives row L % 8 (+ 8 t) of matrix L / 8 (+ 4 x): k16 step mi / 2,
         * half mi % 2, i.e. 16-byte chunk mi of the row */
        const int lr = lane & 7, lm = lane >> 3;
        uint32_t ldm[NT][2], zaddr[2];
        bool live[NT];
#pragma unroll
        for (int t = 0; t < NT; t++) {
            live[t] = lr + 8 * t < p.m;
#pragma unroll
            for (int x = 0; x < 2; x++) ldm[t][x] = SL.act + (lr + 8 * t) * 128 + (((lm + 4 * x) ^ lr) & 7) * 16;
        }
#pragma unroll
        for (int x = 0; x < 2; x++) {
            zaddr[x] = smem_addr(zrow[warp]) + ((lm + 4 * x) & 7) * 16;
            pin(zaddr[x]);
#pragma unroll
            for (int t = 0; t < NT; t++) pin(ldm[t][x]);
        }
        /* the constants of zeros none (GS) are the same for every group */
        sm90::GroupConsts<T> gc_none;
        if constexpr (ZM == W4A16_ZEROS_NONE) {
#pragma unroll
            for (int hh = 0; hh < 2; hh++)
                sm90::set_row_consts<T>(gc_none, hh, from_f32<T>(0.0f), 8, from_f32<T>(0.0f), true);
            pin(*reinterpret_cast<uint32_t *>(&gc_none.c[0]));
            pin(*reinterpret_cast<uint32_t *>(&gc_none.chi[1]));
        }
        /* fragment r's constants in the slot at gsl (rows 16 r + g, 16 r + g + 8) */
        using GC = sm90::GroupConsts<T>;
        auto consts = [&](GC (&gc)[NR], const uint8_t *gsl) {
#pragma unroll
            for (int r = 0; r < NR; r++) {
                if constexpr (ZM == W4A16_ZEROS_NONE) gc[r] = gc_none;
                else
                    gc[r] = gemv_consts<T, ZM>(gsl + SL.sc + 32 * r,
                                               gsl + SL.sc + 32 * NR + (ZM == W4A16_ZEROS_INT ? 16 : 32) * r, g);
            }
        };
        /* Block v of the stage at st_s: dequantize, multiply into gacc (GS) or acc. FIRST: the
         * block opens its group, so its first MMA starts from zero instead of gacc; FOLD: it closes
         * its group here, whose sums are then scaled into acc (gacc is left as it is: the next
         * group's FIRST block overwrites it; a block that is not FIRST must follow a zeroed or
         * unfolded gacc). */
        uint32_t sc_lane = SL.sc + 2 * g; /* this lane's row g scale in a slot; g + 8 at + 16 */
        pin(sc_lane);
        auto block = [&](uint32_t st_s, int v, uint32_t slot, const GC (&gc)[NR], bool first, bool fold) {
            uint32_t b[NT][8];
#pragma unroll
            for (int t = 0; t < NT; t++)
#pragma unroll
                for (int x = 0; x < 2; x++)
                    ldmatrix_x4(live[t] ? st_s + v * SL.actb + ldm[t][x] : zaddr[x], b[t][4 * x], b[t][4 * x + 1],
                                b[t][4 * x + 2], b[t][4 * x + 3]);
#pragma unroll
            for (int r = 0; r < NR; r++) {
                uint4 wq;
                asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                             : "=r"(wq.x), "=r"(wq.y), "=r"(wq.z), "=r"(wq.w)
                             : "r"(st_s + wdst + v * WB + r * WBYTES));
                const uint32_t words[4] = {wq.x, wq.y, wq.z, wq.w};
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    uint32_t af[4];
                    sm90::dequant_word<T, GS>(words[j], gc[r], af);
#pragma unroll
                    for (int t = 0; t < NT; t++) {
                        if (GS && first && j == 0) mma_16816_z<T>(gacc[r][t], af, b[t][0], b[t][1]);
                        else mma_16816<T>(GS ? gacc[r][t] : acc[r][t], af, b[t][2 * j], b[t][2 * j + 1]);
                    }
                }
            }
            if (GS && fold)
#pragma unroll
                for (int r = 0; r < NR; r++) {
                    const uint32_t sa = st_s + slot + sc_lane + 32 * r;
                    const float s0 = bits_to_f32<T>(lds_u16(sa)), s1 = bits_to_f32<T>(lds_u16(sa + 16));
#pragma unroll
                    for (int t = 0; t < NT; t++)
#pragma unroll
                        for (int e = 0; e < 4; e++)
                            acc[r][t][e] = fmaf(e < 2 ? s0 : s1, gacc[r][t][e], acc[r][t][e]);
                }
        };
        auto zero_gacc = [&]() {
#pragma unroll
            for (int r = 0; r < NR; r++)
#pragma unroll
                for (int t = 0; t < NT; t++)
#pragma unroll
                    for (int e = 0; e < 4; e++) gacc[r][t][e] = 0.0f;
        };
        /* The steady loop: stage i and the stage it issues are both fast, and stage i is not the
         * run's last (n_fast <= n_s). Groups of 128 open at block 0 and close at block 1; groups of
         * 64 open and close at every block; per-channel, the run's one group closes at its end. */
        int i = 0;
        for (; i < n_fast - (S - 1); i++) {
            issue_fast(i + S - 1);
            cp_async_wait<S - 1>();
            __syncwarp();
            const uint32_t st_s = mine_s + (i % S) * SL.bytes;
            const uint8_t *st = mine + (i % S) * SL.bytes;
            GC gc[NR];
            if (p.gsh == 0) {
                consts(gc, st);
                block(st_s, 0, 0, gc, true, true);
                consts(gc, st + SL.slot);
                block(st_s, 1, SL.slot, gc, true, true);
            } else {
                consts(gc, st);
                const bool g128 = p.gsh == 1;
                block(st_s, 0, 0, gc, g128, false);
                block(st_s, 1, 0, gc, false, g128);
            }
            __syncwarp(); /* every lane done with stage i % S before the next issue refills it */
        }
        /* the steady loop's last group was folded (groups of 64 or 128) */
        if (GS && p.gsh != 31 && i > 0) zero_gacc();
        /* the rest: stages that are not fast, or issue stages that are not, and the run's last */
        const int gs_mask = p.gsh == 0 ? 3 : p.gsh == 1 ? 2 : 0;
        for (; i < n_s; i++) {
            issue(i + S - 1);
            cp_async_wait<S - 1>();
            __syncwarp();
            const uint32_t st_s = mine_s + (i % S) * SL.bytes;
            const uint8_t *st = mine + (i % S) * SL.bytes;
            const int last = n_i - 1 - U * i; /* the run's last block is block `last` of this stage */
#pragma unroll
            for (int v = 0; v < U; v++) {
                if (v > last) break;
                const bool fold = ((gs_mask >> v) & 1) || v == last;
                const uint32_t slot = v && g64 ? SL.slot : 0;
                GC gc[NR];
                consts(gc, st + slot);
                block(st_s, v, slot, gc, false, fold);
                if (GS && fold) zero_gacc();
            }
            __syncwarp(); /* every lane done with stage i % S before the next issue refills it */
        }
        cp_async_wait<0>();
    }
    /* the stripe's kw warps meet in shared memory; its first warp finishes */
    if (kw > 1) {
#pragma unroll
        for (int r = 0; r < NR; r++)
#pragma unroll
            for (int t = 0; t < NT; t++)
                red[warp][NT * r + t][lane] = make_float4(acc[r][t][0], acc[r][t][1], acc[r][t][2], acc[r][t][3]);
        __syncthreads();
        if (q == 0)
            for (int o = 1; o < kw; o++)
#pragma unroll
                for (int r = 0; r < NR; r++)
#pragma unroll
                    for (int t = 0; t < NT; t++) {
                        const float4 v = red[warp + o][NT * r + t][lane];
                        acc[r][t][0] += v.x;
                        acc[r][t][1] += v.y;
                        acc[r][t][2] += v.z;
                        acc[r][t][3] += v.w;
                    }
    }
    if (q != 0 || stripe >= stripes) return;
    /* accumulator e of fragment r: weight row 16 r + g + 8 (e >> 1) of the stripe, token 8 t + 2c + (e & 1) */
#pragma unroll
    for (int r = 0; r < NR; r++)
#pragma unroll
        for (int t = 0; t < NT; t++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int n = ROWS * stripe + 16 * r + g + 8 * (e >> 1), m = 8 * t + 2 * c + (e & 1);
                if (n >= p.n || m >= p.m) continue;
                float v = p.alpha * acc[r][t][e];
                if (p.bias) v += to_f32(p.bias[n]);
                p.d[(int64_t)m * p.ldd + n] = from_f32<T>(v);
            }
}

/* Stages per warp: 8 (t8) or 4 (t16) blocks of 16 rows' weights in flight per warp; t8 with 32-row
 * stripes 6 (three stages, so that two CTAs fit at M = 8); t16 two stages either way (three with
 * two fragments: 1.0028x the time over 28 rows, session 24, dev/NOTES.md). */
constexpr int stages(int nt, int nr) { return nt == 1 ? (nr == 1 ? 4 : 3) : 2; }

/* The dynamic shared memory of a CTA: its 8 warps' rings, sized by M */
static int ring_bytes(int nt, int nr, int64_t m)
{
    return WARPS * stages(nt, nr) * (int)stage_layout((int)m, nr).bytes;
}

/* The most warps per stripe (of 8, 4, 2, 1) that keep each warp >= 4 blocks of 64 k, of kt. */
static int most_warps(int64_t kt)
{
    int kw = 8;
    while (kw > 1 && kt / kw < 4) kw /= 2;
    return kw;
}

/* CTAs of the kernel resident per SM for p: the shared memory (228 KB per SM, 1 KB of it
 * reserved per CTA; the ring is sized by M) and the registers (min_ctas) allow. */
int gemv_slots(int nt, int nr, const w4a16_problem *p)
{
    const int64_t smem = (int64_t)ring_bytes(nt, nr, p->m) +                      /* ring */
                         (int64_t)WARPS * nr * nt * 32 * 16 + WARPS * 128 + 1024; /* red, zrow, reserved */
    const int by_smem = (int)(233472 / smem);
    const int regs = min_ctas(nt, nr);
    return by_smem < regs ? by_smem : regs;
}

/* The launcher's grid for kw warps per stripe (8 / kw stripes per CTA) spread evenly over sms SMs
 * with `slots` CTAs resident on each: stripes per CTA, CTAs on the busiest SM, its rounds of CTAs. */
struct SmLoad {
    int64_t per_cta, per_sm, rounds;
};
SmLoad sm_load(int64_t stripes, int kw, int sms, int slots)
{
    SmLoad l;
    l.per_cta = WARPS / kw;
    l.per_sm = ((stripes + l.per_cta - 1) / l.per_cta + sms - 1) / sms;
    l.rounds = (l.per_sm + slots - 1) / slots;
    return l;
}

/* Bytes of weights on the busiest SM plus a cost per round of CTAs on its `slots` slots, for kw
 * warps per stripe: the launcher's grid (8 / kw stripes per CTA), CTAs spread evenly over the SMs.
 * A round costs ~1 us (a warp's ring is filled, waited for and drained once per CTA), taken as
 * 24 KB at ~23 KB/us per SM (3.0 TB/s over 132 SMs). */
double kw_cost(int64_t stripes, int64_t rows_per_stripe, int64_t k, int kw, int sms, int slots)
{
    const SmLoad l = sm_load(stripes, kw, sms, slots);
    const int64_t rows = rows_per_stripe * (l.per_cta < stripes ? l.per_cta : stripes);
    return 24576.0 * (double)l.rounds + (double)l.per_sm * (double)rows * (double)k / 2.0;
}

/* The grid for nr fragments per stripe. Warps per stripe: of 8, 4, 2, 1, the most that keep each
 * warp >= 4 blocks of 64 k, then fewer where that costs >= 2% less by kw_cost.
 * H100, w4a16-bench, fp16, us, kw = 8 / 4 / 2 forced (session 21, one call; t8 at M=1, t16 at
 * M=16): the rule's kw = 4 where kw = 8 needs a second round of CTAs: 8192x2048 10.50 / 9.12 /
 * 9.57 and 11.89 / 10.08 / 10.82, 7168x2048 10.18 / 9.06 / 9.42 and 11.81 / 10.02 / 10.66,
 * 11008x2048 13.38 / 11.87 / 12.32 and 15.55 / 13.54 / 14.43; it keeps kw = 8 on 4096^2 9.12 / 9.71 /
 * 14.00 and 10.26 / 10.75 / 15.82, 5120^2 13.25 / 14.14 / 16.35 and 15.52 / 16.48 / 18.45, 6144x4096
 * 13.34 / 12.59 / 14.02 and 14.05 / 14.46 / 15.87, and kw = 4 on 8960x1536 (kw = 8 there: 3
 * blocks per warp) 11.78 / 10.30 / 10.37 and 13.41 / 11.78 / 12.30. Session 20, against kw = 4
 * forced: 1536^2-class shapes want the most warps (2048x8192 M=1 10.66 vs 14.85). */
struct Grid {
    int nr, kw, slots; /* 16-row fragments per stripe, warps per stripe, CTAs resident per SM */
    int64_t stripes;
};
static Grid grid_for(const w4a16_problem *p, int sms, int nt, int nr)
{
    Grid gr;
    gr.nr = nr;
    gr.stripes = (p->n + 16 * nr - 1) / (16 * nr);
    gr.slots = gemv_slots(nt, nr, p);
    int kw = most_warps(w4a16_pack_tiles_k(p->k));
    double best = kw_cost(gr.stripes, 16 * nr, p->k, kw, sms, gr.slots);
    for (int w = kw / 2; w >= 1; w /= 2) {
        const double c = kw_cost(gr.stripes, 16 * nr, p->k, w, sms, gr.slots);
        if (c < 0.98 * best) {
            best = c;
            kw = w;
        }
    }
    gr.kw = kw;
    return gr;
}

/* 16-row fragments per stripe, NR: for gemv_t8 two where the 32-row stripes give at least 5 warps
 * per SM at the most warps per stripe (of 8, each >= 4 blocks of 64 k) and M >= 5, or M = 3, 4 where
 * one fragment's stripes would take 8 warps each (grid_for; fewer share the token rows through L1);
 * for gemv_t16 two where the same 5 warps per SM hold; else one. W4A16_GEMV_NR=1|2 forces it (debug).
 * A stripe reads its token rows once per 16 NR weight rows: with one fragment they are as many
 * bytes as the stripe's weights at M = 4 and twice as many at M = 8, all from L2 where the CTA's
 * warps walk different K (kw = 8). H100, w4a16-bench, fp16, group 128, gemv_t8 with one / two
 * fragments, one call (session 23), us:
 * - M = 8: 6144x4096 14.94 / 12.05, 5120x4096 13.49 / 11.68, 4096x14336 19.12 / 16.86, 4096^2 10.05
 *   / 8.99, 12288x2048 13.70 / 12.45, 8192x28672 52.93 / 50.53, 8192^2 18.82 / 19.01, 57344x8192
 *   91.86 / 91.31; few stripes: 2048x8192 9.89 / 11.02 (3.9 warps per SM), 1536x8960 9.87 / 11.55;
 * - M = 4, where one fragment fits three CTAs per SM and two fit two: 4096^2 9.42 / 9.01, 6144x4096
 *   11.71 / 11.34, but 57344x8192 91.55 / 92.99, 12288x2048 11.07 / 12.16, 28672x4096 30.16 /
 *   31.07 (those take 2 or 4 warps per stripe with one fragment).
 * - M = 2 / 3 / 4 (a third call, two rounds each, summed), fp16 zeros none: where one fragment takes
 *   8 warps per stripe, two took 1.002 / 0.987 / 0.969 of the time (geometric mean of 6 shapes from
 *   3584^2 to 4096x14336; 5120^2 0.975 / 0.970 / 0.953, 6144x4096 1.030 / 1.002 / 0.974), with
 *   integer zeros (three CTAs per SM with one) 0.975 / 0.971 / 0.964; elsewhere 12288x2048 and
 *   8960x1536 1.025-1.105 at each M, 14336x4096 and 8192^2 0.95-1.02.
 * gemv_t16 with two fragments needs 134-144 registers, so one CTA per SM (min_ctas), where one
 * fragment runs two; the stripe's token rows are read once per 32 weight rows instead of 16. H100,
 * w4a16-bench, group 128, gemv_t16 forced with one / two fragments (session 24), us:
 * - M = 9 / 10 / 11 / 12 / 14 / 15, fp16 zeros none, 14 shapes, two calls of one round: 0.78-0.99 of
 *   the time (28672x4096 35.49 / 30.83 at M = 9, 38.61 / 31.33 at 12, 40.86 / 31.73 at 15; 6144x4096
 *   M=15 15.15 / 12.72), but for 3584^2 1.005 / 1.011 / 0.975 / 1.002 / 0.976 / 0.965 and 57344x8192
 *   1.033 / 1.034 / 1.025 / 1.013 / 0.991 / 0.972 (the Hopper tile takes it);
 * - M = 16, two rounds each:
 *   fp16 zeros none: 4096^2 10.15 / 9.89, 6144x4096 14.80 / 12.60, 4096x14336 19.84 / 18.06,
 *   14336x4096 19.76 / 18.83, 8192^2 20.33 / 19.71, 8192x28672 56.17 / 53.58, 28672x4096 38.20 /
 *   31.60, 12288x2048 13.75 / 12.61, 8960x1536 11.83 / 10.81, 8192x2048 9.95 / 9.90, but 57344x8192
 *   106.38 / 109.81 (the Hopper tile takes it: 88.34); few stripes: 2048x8192 10.35 / 12.12,
 *   1536x8960 10.41 / 12.69 (2.9-3.9 warps per SM);
 *   bf16 and integer zeros on six of those shapes: 0.85-0.98 of the time (fp16 int 28672x4096 39.11
 *   / 34.36, bf16 int 4096^2 10.54 / 10.33).
 * Session 23 built it with two CTAs' 128 registers (4-12 bytes of spills) and found M = 12 slower on
 * most shapes (4096x14336 18.96 / 20.43); without the spills, in one CTA per SM, it is faster there.
 * docs/perf/h100-session23-gemv-nr.txt, h100-session24-t16-nr.txt. */
static int stripe_frags(int nt, const w4a16_problem *p, int sms)
{
    static const int forced = [] {
        const int v = env_int("W4A16_GEMV_NR");
        return v == 1 || v == 2 ? v : 0;
    }();
    if (forced) return forced;
    if (p->m < 3 || (p->n + 31) / 32 * most_warps(w4a16_pack_tiles_k(p->k)) < 5 * (int64_t)sms) return 1;
    if (nt == 2) return 2;
    return p->m > 4 || grid_for(p, sms, nt, 1).kw == 8 ? 2 : 1;
}

/* The launcher's grid for p on sms SMs (nt token tiles of 8); W4A16_GEMV_KW=1|2|4|8 forces the warps
 * per stripe (debug). */
static Grid gemv_grid(const w4a16_problem *p, int sms, int nt)
{
    static const int forced = [] {
        const int v = env_int("W4A16_GEMV_KW");
        return v == 1 || v == 2 || v == 4 || v == 8 ? v : 0;
    }();
    Grid gr = grid_for(p, sms, nt, stripe_frags(nt, p, sms));
    if (forced) gr.kw = forced;
    return gr;
}

template <typename T, int NT, int NR, int ZM> int launch_zm(const w4a16_gemm_args *g, const Grid &gr)
{
    constexpr int S = stages(NT, NR);
    const int smem = ring_bytes(NT, NR, g->p->m);
    /* every call, as the Hopper launcher does: the attribute belongs to the current device */
    const cudaError_t e =
        cudaFuncSetAttribute(gemv_kernel<T, NT, NR, S, ZM>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return (int)e;
    const w4a16_problem &p = *g->p;
    GemvArgs<T> a;
    a.w = (const uint8_t *)g->w;
    a.a = (const T *)g->a;
    a.scales = (const T *)g->scales;
    a.bias = (const T *)g->bias;
    a.zeros = g->zeros;
    a.d = (T *)g->d;
    a.m = (int)p.m;
    a.n = (int)p.n;
    a.lda = (int)p.lda;
    a.ldd = (int)p.ldd;
    a.kt_count = (int)w4a16_pack_tiles_k(p.k);
    a.tail_ch = (int)((p.k - 64 * (int64_t)(a.kt_count - 1)) / 8);
    a.gsh = p.group_size == 64 ? 0 : p.group_size == 128 ? 1 : 31; /* else group = K (validated) */
    a.kw = gr.kw;
    a.pdl = p.pdl;
    a.alpha = p.alpha;
    const int64_t per_cta = WARPS / gr.kw;
    const dim3 grid((unsigned)((gr.stripes + per_cta - 1) / per_cta));
    if (a.pdl) {
        cudaLaunchAttribute attr[1];
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = grid;
        cfg.blockDim = dim3(THREADS);
        cfg.dynamicSmemBytes = (size_t)smem;
        cfg.stream = g->stream;
        cfg.attrs = attr;
        cfg.numAttrs = pdl_attribute(&attr[0]);
        const cudaError_t le = cudaLaunchKernelEx(&cfg, gemv_kernel<T, NT, NR, S, ZM>, a);
        if (le != cudaSuccess) return (int)le;
    } else {
        gemv_kernel<T, NT, NR, S, ZM><<<grid, THREADS, smem, g->stream>>>(a);
    }
    return launch_status();
}

template <typename T, int NT, int NR> int launch_nr(const w4a16_gemm_args *g, const Grid &gr)
{
    switch (g->p->zero_mode) {
    case W4A16_ZEROS_INT: return launch_zm<T, NT, NR, W4A16_ZEROS_INT>(g, gr);
    case W4A16_ZEROS_FLOAT: return launch_zm<T, NT, NR, W4A16_ZEROS_FLOAT>(g, gr);
    default: return launch_zm<T, NT, NR, W4A16_ZEROS_NONE>(g, gr);
    }
}

template <typename T, int NT> int launch(const w4a16_gemm_args *g)
{
    const Grid gr = gemv_grid(g->p, g->info->sm_count, NT);
    return gr.nr == 2 ? launch_nr<T, NT, 2>(g, gr) : launch_nr<T, NT, 1>(g, gr);
}

} // namespace

/* Time model (us, H100), like the Hopper tiles' decode model (sm90_launch.cuh), in kw_cost's terms:
 *   o + max(the busiest SM's weight MB / r + L x its rounds of CTAs,
 *           c x blocks per warp x rounds of warps),
 * the launcher's grid (8 / kw stripes per CTA of 16 NR rows, CTAs spread evenly over the SMs,
 * gemv_slots of them resident per SM). The second term is the warps' serial chain where the
 * stripes are few (1280x8192: 80 stripes of 8 warps, each 16 blocks). Least squares on relative
 * error (dev/fit_gemv_model.py, form "sm") over w4a16-bench, H100, session 22's kernel, fp16, group
 * 128, zeros none, 35 shapes of 0.4 to 235 MB, M = 1, 8 (t8) and 16 (t16),
 * docs/perf/h100-session22-gemv-model.txt: t8 o 3.94 us, r 0.021 MB/us (2.8 TB/s over 132 SMs), L 1.9
 * us, c 0.33 us (rms 5.8%); t16 4.488, 0.0175, 1.7, 0.35 (rms 2.9%). With the Hopper tiles' decode
 * model, the heuristic's choice took 1.0059x the fastest
 * configuration's time on those 105 problems (each shape left out of the fit: 1.0068x), where the
 * session-20 form (o + max(MB / B, chain)) took 1.0196x with its coefficients and 1.0186x refitted.
 * Session 23's 32-row stripes at M = 5-8 (gemv_t8) kept these coefficients: with the grid in 32-row
 * stripes they modelled the new kernel's M = 8 times within 4% on 11 of the 14 shapes that run it
 * (6-8% high on 14336x4096, 8960x1536 and 57344x8192; call 1 of h100-session23-gemv-nr.txt), and the
 * choice took 1.0013x the fastest on 86 problems (dev/fit_gemv_model.py --score, session 22's table
 * and docs/perf/h100-session23-decode-all.txt); refits took 1.0021x (each shape left out 1.0035x).
 * gemv_t16 with two fragments (session 24) streams faster than one: the same coefficients but r
 * (r2) 0.0205 MB/us, fitted alone on its 14 rows at M = 16 (rms 2.9%, max 4.5%; with 0.0175 they
 * were modelled 1-17% high and the choice went to a Hopper tile 9-16% slower on 5120x4096 and
 * 14336x4096). On 112 rows of it at M = 9-16 (forced and --config all) rms 3.2%, 1.5% low on
 * average; all four refitted there: rms 2.5%, not kept. Over 103 problems (the files above and
 * docs/perf/h100-session24-decode-m{12,16}.txt) the choice took 1.0028x the fastest, worst 1.041x
 * (M=12 5120x4096 and 6144x4096: the Hopper decode model has their fastest tile 7-8% high); refits of
 * all four t16 coefficients 1.0035x (each shape left out 1.0046x).
 * With integer zeros gemv_t16's two fragments pay more than the Hopper tiles (zint2 = 1.03 on its
 * modelled time; the model is fitted without zeros). H100, w4a16-bench, M = 16, time with integer
 * zeros over time without: gemv_t16 fp16 1.029-1.093 (mean 1.067, 6 shapes), the Hopper tiles
 * 1.023-1.042 (mean 1.036, 7 shapes); bf16 int over fp16 none on 12 held-out shapes: gemv_t16 1.091,
 * the fastest Hopper tile 1.052 (docs/perf/h100-session24-decode-val-{fp16,bf16int}.txt). On those
 * 12 bf16 int problems the choice took 1.0226x the fastest without the factor, 1.0129x with it
 * (4608x3584 1.106x -> the fastest; 13824x5120 1.039x -> 1.025x); on the 24 fp16 ones (zeros
 * none, unchanged) 1.0086x, worst 1.054x. gemv_t8 keeps 1.0 (at M = 1 it paid about what the Hopper
 * t8 tiles pay for integer zeros: 4096^2 1.06, 8192^2 1.04 against 1.04-1.05, session 23).
 * Since session 30 the Hopper tiles' decode model has zero-point factors of its own past M = 8
 * (sm90_launch.cuh), and zint2 is gemv_t16's whole mean ratio, measured again on 28 shapes at
 * M = 1, 8 and 16 (w4a16-bench --config all, docs/perf/h100-session30-decode-fit-*.txt): 1.067 in
 * fp16, 1.072 in bf16 (integer zeros against fp16 without). Off with the other models
 * (W4A16_SM90_MODEL=0). */
static double gemv_cost(const w4a16_problem *p, const w4a16_device_info *info, int nt, double o, double r1,
                        double r2, double lat, double c, double zint2)
{
    if (!model_env()) return -1.0;
    const int sms = info->sm_count;
    const Grid gr = gemv_grid(p, sms, nt);
    const int64_t kt = w4a16_pack_tiles_k(p->k), sm_warps = (int64_t)WARPS * gr.slots * sms;
    const SmLoad l = sm_load(gr.stripes, gr.kw, sms, gr.slots);
    const int64_t warp_rounds = (gr.stripes * gr.kw + sm_warps - 1) / sm_warps;
    const double sm_mb = (double)l.per_sm * (double)l.per_cta * 16.0 * gr.nr * (double)p->k / 2e6;
    const double chain = c * (double)((kt + gr.kw - 1) / gr.kw) * (double)warp_rounds;
    const double r_mbus = gr.nr == 2 ? r2 : r1;
    const double f = gr.nr == 2 && p->zero_mode == W4A16_ZEROS_INT ? zint2 : 1.0;
    return f * (o + fmax(sm_mb / r_mbus + lat * (double)l.rounds, chain));
}

extern "C" int w4a16_gemv_stripe_warps(const w4a16_problem *p, int sms)
{
    return gemv_grid(p, sms, p->m <= 8 ? 1 : 2).kw;
}

extern "C" int w4a16_gemv_stripe_frags(const w4a16_problem *p, int sms)
{
    return gemv_grid(p, sms, p->m <= 8 ? 1 : 2).nr;
}

extern "C" double w4a16_gemv_cost_t8(const w4a16_problem *p, const w4a16_device_info *info)
{
    return gemv_cost(p, info, 1, 3.94, 0.021, 0.021, 1.9, 0.33, 1.0);
}

extern "C" double w4a16_gemv_cost_t16(const w4a16_problem *p, const w4a16_device_info *info)
{
    return gemv_cost(p, info, 2, 4.488, 0.0175, 0.0205, 1.7, 0.35, p->dtype == W4A16_DTYPE_BF16 ? 1.072 : 1.067);
}

extern "C" int w4a16_launch_gemv_t8(const w4a16_gemm_args *g)
{
    return g->p->dtype == W4A16_DTYPE_FP16 ? launch<__half, 1>(g) : launch<__nv_bfloat16, 1>(g);
}

extern "C" int w4a16_launch_gemv_t16(const w4a16_gemm_args *g)
{
    return g->p->dtype == W4A16_DTYPE_FP16 ? launch<__half, 2>(g) : launch<__nv_bfloat16, 2>(g);
}

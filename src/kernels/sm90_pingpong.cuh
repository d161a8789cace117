/*
 * sm90_pingpong.cuh - the ping-pong schedule of the Hopper kernel (sm90_gemm.cuh has the
 * cooperative one and every helper used here).
 *
 * Two consumer warpgroups take turns: each owns whole output tiles of 128 weight rows x BT
 * tokens (both 64-row blocks of the stage: two m64nBTk16 wgmmas per k16 step, two accumulator
 * sets), the CTA's tiles alternating between them. While one warpgroup runs its main loop, the
 * other stores its previous tile's outputs: the epilogue hides under the tensor work instead of
 * stopping it, which the cooperative kernel's epilogue and tile changes do. The producer fills
 * the ring with the CTA's tiles in order, k iteration by k iteration; the CTA is persistent
 * over whole tiles (tile c, c + G, c + 2G, ... of a grid of G CTAs; no split of K).
 *
 * Ordering: a warpgroup waits on a ring stage's full barrier only for its own tiles' stages,
 * which lie k_iters (one tile) further along the ring than the other warpgroup's. An mbarrier
 * phase wait only tells phases apart by parity, so it must never run more than one phase ahead
 * of the stage: each warpgroup starts a tile's main loop only after the other has passed every
 * full-barrier wait of its own tile (a named-barrier handshake, one per tile, as CUTLASS's
 * ping-pong orders its math warpgroups). The main loops therefore never overlap, and each
 * warpgroup has the tensor cores alone for its tile.
 */
#pragma once

#include "sm90_gemm.cuh"

namespace sm90 {

/* Named barriers 2 and 3 (0 is __syncthreads; the cooperative kernel's split path uses 1):
 * warpgroup c waits on 2 + c for the other's main loop to end; 128 threads arrive, 128 wait. */
__device__ __forceinline__ void pp_wait_turn(int c_wg)
{
    asm volatile("bar.sync %0, 256;\n" ::"r"(2 + c_wg) : "memory");
}
__device__ __forceinline__ void pp_pass_turn(int c_wg)
{
    asm volatile("bar.arrive %0, 256;\n" ::"r"(3 - c_wg) : "memory");
}

/* The four wgmmas of 64-k block KB of stage i from F, committed as one group; with first != 0
 * the first one overwrites acc (scale-d = 0), so the accumulators need no zeroing: zeroing them
 * let ptxas sink the second set's zeroing below the first set's wgmmas and serialize them
 * (C7515). */
template <typename T, int BT, int BK, int STAGES, int KB>
__device__ __forceinline__ void pp_issue(Smem<T, BT, BK, STAGES, 2> &sm, int i, float (&acc)[BT / 2],
                                         uint32_t (&F)[4][4], bool first)
{
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int r = 0; r < 4; r++) fence_reg(F[j][r]);
    wgmma_fence();
    const uint64_t d0 = smem_desc_sw128(&sm.a[i % STAGES][0][0]);
#pragma unroll
    for (int j = 0; j < 4; j++)
        wgmma_rs<BT, std::is_same<T, __nv_bfloat16>::value>::mma(acc, F[j], b_desc<T, BT, BK, STAGES, 2>(d0, KB, j),
                                                                 j == 0 && first ? 0 : 1);
    wgmma_commit();
}

template <typename T, int BT, int BK, int STAGES>
__global__ void __launch_bounds__(Shape<2>::THREADS, 1)
    gemm_kernel_pp(const __grid_constant__ CUtensorMap tm_a, const __grid_constant__ CUtensorMap tm_s,
                   const __grid_constant__ CUtensorMap tm_z, const __grid_constant__ CUtensorMap tm_d, const Params p)
{
    (void)tm_d; /* the ping-pong epilogue stores directly: the ring is busy with the other tile */
    using S = Smem<T, BT, BK, STAGES, 2>;
    constexpr int BW = Shape<2>::BW, KB = S::KB;
    static_assert(BK == 128 && BT % 8 == 0 && BT >= 8 && BT <= 128,
                  "two 64-k blocks a stage (four units); two m64nBT accumulator sets fit up to BT = 128");
    extern __shared__ __align__(1024) uint8_t smem_raw[];
    const uint32_t pad = (1024u - ((uint32_t)__cvta_generic_to_shared(smem_raw) & 1023u)) & 1023u;
    S &sm = *reinterpret_cast<S *>(smem_raw + pad);
    const int64_t tiles = (int64_t)p.tiles_n * p.tiles_m;
    const int k_iters = p.k_iters;

    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            ptx::mbarrier_init(&sm.full[s], 1);
            ptx::mbarrier_init(&sm.empty[s], 4); /* one warpgroup consumes a stage: one arrival per warp */
        }
        ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
    }
    __syncthreads();

    const int wg = threadIdx.x / 128;
    if (wg == 0) {
        /* ---------------- producer: the CTA's tiles in order, every k iteration ---------------- */
#ifndef W4A16_SM90_NO_SETMAXNREG
        setmaxnreg_dec<40>();
#endif
        if (threadIdx.x == 0) {
            prefetch_tensormap(&tm_a);
            prefetch_tensormap(&tm_s);
            prefetch_tensormap(&tm_z);
            int s = 0, ph = 0;
            for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
                const int n0 = (int)(tile % p.tiles_n) * BW, m0 = (int)(tile / p.tiles_n) * BT;
                for (int it = 0; it < k_iters; it++) {
                    mbar_wait(&sm.empty[s], ph ^ 1);
                    fill_stage<T, BT, BK, STAGES, 2>(sm, p, &tm_a, &tm_s, &tm_z, s, it, n0, m0, 0u);
                    if (++s == STAGES) s = 0, ph ^= 1;
                }
            }
        }
        return;
    }

    /* ---------------- consumers: warpgroup c_wg takes the CTA's tiles c_wg, c_wg + 2, ... ---------------- */
#ifndef W4A16_SM90_NO_SETMAXNREG
    setmaxnreg_inc<Shape<2>::CONSUMER_REGS>();
#endif
    const int c_wg = wg - 1, t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
    const int r0 = 16 * warp + lane / 4; /* this thread's rows r0, r0 + 8 of each 64-row block */
    int jj = c_wg;                       /* the tile's place in the CTA's sequence */
    for (int64_t tile = blockIdx.x + (int64_t)c_wg * gridDim.x; tile < tiles; tile += 2 * (int64_t)gridDim.x, jj += 2) {
        if (jj > 0) pp_wait_turn(c_wg);
        const int n0 = (int)(tile % p.tiles_n) * BW, m0 = (int)(tile / p.tiles_n) * BT;
        const bool valid0 = n0 / 64 < (p.n + 63) / 64, valid1 = n0 / 64 + 1 < (p.n + 63) / 64;
        const int i0 = jj * k_iters, i_end = i0 + k_iters;
        float acc0[BT / 2], acc1[BT / 2]; /* written first by scale-d = 0 wgmmas (pp_issue) */
        /* The main loop walks units of one 64-k block of one row block (4 wgmmas into acc0 or
         * acc1), through two fragment buffers: a unit's wgmmas run while the next unit is
         * dequantized. Units of both row blocks of a stage's 64-k blocks, then the stage is
         * released after the next stage's first unit proves them done. Two 64-k blocks of both
         * row blocks in flight (64 fragment registers) made ptxas serialize the wgmmas (C7512).
         * One copy of the loop per zero mode. */
        by_zero_mode<true>(p.zmode, [&](auto zm) {
            constexpr int ZM = decltype(zm)::value;
            uint32_t F0[4][4], F1[4][4];
            /* unit U = 2 kb + rb of stage i: block kb, row block rb, fragment buffer U % 2 */
            auto dequant = [&](auto u_c, int i) {
                constexpr int U = decltype(u_c)::value, kb = U / 2, rb = U % 2;
                dequant_stage<T, BT, BK, STAGES, 2, 0, kb, 1, ZM>(sm, p, i, i - i0, pick<rb == 0>(F0, F1), rb, t,
                                                                  r0 + 64 * rb, rb ? valid1 : valid0, n0);
            };
            auto issue = [&](auto u_c, int i) {
                constexpr int U = decltype(u_c)::value, kb = U / 2, rb = U % 2;
                pp_issue<T, BT, BK, STAGES, kb>(sm, i, pick<rb == 0>(acc0, acc1), pick<rb == 0>(F0, F1),
                                                kb == 0 && i == i0);
            };
            mbar_wait(&sm.full[i0 % STAGES], (i0 / STAGES) & 1);
            dequant(std::integral_constant<int, 0>{}, i0);
            for (int i = i0; i < i_end; i++) {
                auto unit = [&](auto u_c) {
                    constexpr int U = decltype(u_c)::value;
                    issue(u_c, i);
                    wgmma_wait<1>(); /* unit U - 1 done: its buffer is free */
                    if constexpr (U == 0)
                        if (i > i0) release_stage(sm, i - 1, lane);
                    if constexpr (U + 1 < 2 * KB) {
                        dequant(std::integral_constant<int, U + 1>{}, i);
                    } else if (i + 1 < i_end) {
                        mbar_wait(&sm.full[(i + 1) % STAGES], ((i + 1) / STAGES) & 1);
                        dequant(std::integral_constant<int, 0>{}, i + 1);
                    }
                };
                unit(std::integral_constant<int, 0>{});
                unit(std::integral_constant<int, 1>{});
                unit(std::integral_constant<int, 2>{});
                unit(std::integral_constant<int, 3>{});
            }
        });
        /* every full-barrier wait of this tile is behind us: the other warpgroup's turn */
        if (tile + gridDim.x < tiles) pp_pass_turn(c_wg);
        wgmma_wait<0>();
        release_stage(sm, i_end - 1, lane);
#pragma unroll
        for (int r = 0; r < BT / 2; r++) {
            fence_reg(acc0[r]);
            fence_reg(acc1[r]);
        }
        store_tile_direct<T, BT>(p, acc0, lane, n0 + r0, m0, 0, BT / 8);
        store_tile_direct<T, BT>(p, acc1, lane, n0 + 64 + r0, m0, 0, BT / 8);
    }
}

} // namespace sm90

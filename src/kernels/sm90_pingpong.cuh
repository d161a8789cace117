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
 * Ordering: each warpgroup has its own full barrier per ring stage (PPSmem::full_wg), so that it
 * waits only on the phases of its own tiles' stages, one after another: an mbarrier phase wait
 * tells phases apart by parity only, and the one full barrier per stage of the cooperative
 * kernel would also go through the other warpgroup's phases, up to a tile's worth ahead. The
 * empty barriers stay shared (the producer walks every stage in order). The ring's order lets a
 * warpgroup's tile start only when the other's is within STAGES stages of its end, so the main
 * loops overlap little: each warpgroup has the tensor cores mostly alone.
 */
#pragma once

#include "sm90_gemm.cuh"

namespace sm90 {

/* The ping-pong kernel's shared memory: the cooperative kernel's ring, and each consumer
 * warpgroup's own full barriers (the ring's `full` is unused). */
template <typename T, int BT, int BK, int STAGES> struct PPSmem {
    Smem<T, BT, BK, STAGES, 2> ring;
    uint64_t full_wg[2][STAGES];
};

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
    static_assert(STAGES <= 32, "a consumer's full-barrier phases are bits of one word");
    static_assert(BK == 128 && BT % 8 == 0 && BT >= 8 && BT <= 128,
                  "two 64-k blocks a stage (four units); two m64nBT accumulator sets fit up to BT = 128");
    extern __shared__ __align__(1024) uint8_t smem_raw[];
    const uint32_t pad = (1024u - ((uint32_t)__cvta_generic_to_shared(smem_raw) & 1023u)) & 1023u;
    PPSmem<T, BT, BK, STAGES> &pp = *reinterpret_cast<PPSmem<T, BT, BK, STAGES> *>(smem_raw + pad);
    S &sm = pp.ring;
    const int64_t tiles = (int64_t)p.tiles_n * p.tiles_m;
    const int k_iters = p.k_iters;

    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            ptx::mbarrier_init(&pp.full_wg[0][s], 1);
            ptx::mbarrier_init(&pp.full_wg[1][s], 1);
            /* One warpgroup consumes a stage, and each of its threads arrives after its own reads.
             * The cooperative kernel's one arrival per warp after __syncwarp (release_stage) made
             * compute-sanitizer racecheck report write-after-read hazards here (H100, 520 x 8192 x
             * 640, 320 tiles on 132 CTAs: 4 errors, the reads of lanes 1-31 against the next
             * fill's bulk copy; also with one consumer warpgroup taking every tile), and none
             * with this form. (mbarrier.arrive releases the arriving thread's own accesses.) */
            ptx::mbarrier_init(&sm.empty[s], 128);
        }
        ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
    }
    if (threadIdx.x == 32 && p.pdl) { /* the CTA's first tile, as gemm_kernel */
        const int64_t u0 = (int64_t)blockIdx.x * k_iters;
        prefetch_first_stages<BK, STAGES, 2>(p, u0, blockIdx.x < tiles ? u0 + k_iters : u0);
    }
    __syncthreads();

    const int wg = threadIdx.x / 128;
    if (wg == 0) {
        /* ---------------- producer: the CTA's tiles in order, every k iteration ---------------- */
        static_assert(!WarpProducer<BT, BK>::value, "the ping-pong producer's loop runs in thread 0");
        if (producer_begin<false>(&tm_a, &tm_s, &tm_z)) {
            grid_dep_wait(); /* as gemm_kernel */
            int s = 0, ph = 0, owner = 0; /* owner: the consumer warpgroup of this tile */
            for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x, owner ^= 1) {
                const int n0 = (int)(tile % p.tiles_n) * BW, m0 = (int)(tile / p.tiles_n) * BT;
                for (int it = 0; it < k_iters; it++) {
                    mbar_wait(&sm.empty[s], ph ^ 1);
                    fill_stage<T, BT, BK, STAGES, 2>(sm, p, &tm_a, &tm_s, &tm_z, &pp.full_wg[owner][s], s, it, n0,
                                                     m0, 0u, true);
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
    grid_dep_wait(); /* as gemm_kernel */
    const int c_wg = wg - 1, t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
    const int r0 = 16 * warp + lane / 4; /* this thread's rows r0, r0 + 8 of each 64-row block */
    int jj = c_wg;                       /* the tile's place in the CTA's sequence */
    uint64_t *full = pp.full_wg[c_wg];
    uint32_t phases = 0; /* bit s: the parity of the next phase of full[s] this warpgroup waits for */
    auto wait_full = [&](int i) {
        const int s = i % STAGES;
        mbar_wait(&full[s], (phases >> s) & 1u);
        phases ^= 1u << s;
    };
    for (int64_t tile = blockIdx.x + (int64_t)c_wg * gridDim.x; tile < tiles; tile += 2 * (int64_t)gridDim.x, jj += 2) {
        const int n0 = (int)(tile % p.tiles_n) * BW, m0 = (int)(tile / p.tiles_n) * BT;
        const bool valid0 = n0 / 64 < (p.n + 63) / 64, valid1 = n0 / 64 + 1 < (p.n + 63) / 64;
        const int i0 = jj * k_iters, i_end = i0 + k_iters;
        float acc0[BT / 2], acc1[BT / 2]; /* written first by scale-d = 0 wgmmas (pp_issue) */
        /* The main loop walks units of one 64-k block of one row block (4 wgmmas into acc0 or
         * acc1), through two fragment buffers: a unit's wgmmas run while the next unit is
         * dequantized. Units of both row blocks of a stage's 64-k blocks, then the stage is
         * released after the next stage's first unit proves them done. Two 64-k blocks of both
         * row blocks per buffer (64 fragment registers), and three or four one-unit buffers with
         * wgmma_wait<2>, made ptxas serialize the wgmmas for lack of registers (C7512).
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
            wait_full(i0);
            dequant(std::integral_constant<int, 0>{}, i0);
            for (int i = i0; i < i_end; i++) {
                auto unit = [&](auto u_c) {
                    constexpr int U = decltype(u_c)::value;
                    issue(u_c, i);
                    wgmma_wait<1>(); /* unit U - 1 done: its buffer is free */
                    if constexpr (U == 0)
                        if (i > i0) ptx::mbarrier_arrive(&sm.empty[(i - 1) % STAGES]);
                    if constexpr (U + 1 < 2 * KB) {
                        dequant(std::integral_constant<int, U + 1>{}, i);
                    } else if (i + 1 < i_end) {
                        wait_full(i + 1);
                        dequant(std::integral_constant<int, 0>{}, i + 1);
                    }
                };
                unit(std::integral_constant<int, 0>{});
                unit(std::integral_constant<int, 1>{});
                unit(std::integral_constant<int, 2>{});
                unit(std::integral_constant<int, 3>{});
            }
        });
        wgmma_wait<0>();
        ptx::mbarrier_arrive(&sm.empty[(i_end - 1) % STAGES]);
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

/*
 * stream_bw.cu - how fast the sm90 kernel's kind of ring streams weights from DRAM, with nothing
 * else in the kernel: one producer thread per CTA fills a ring of `stages` stages with bulk copies
 * (cp.async.bulk, as the product's weight loads), one consumer warpgroup waits for each stage
 * and releases it (one arrival per warp, as the product's consumers). A developer's probe for
 * the question of dev/NOTES.md session 11 (why t64_w2_k256's ring streams at ~2.5 TB/s where
 * t16_w3_k256's reaches ~3 TB/s) and for what the consumers' tile ends cost the stream
 * (session 12: the TAIL_* models below).
 *
 * The weights are modelled as the packed layout's 64-row blocks of `blk` contiguous bytes
 * (K/64 x 2 KB: 256 KB for K = 8192). A tile is `streams` consecutive blocks (the consumer
 * warpgroups' rows); one unit is `chunk` bytes of each of the tile's blocks, at the same k.
 * Schedules over the grid (one CTA per SM):
 *   sk   stream-K: CTA c takes units [c U / G, (c + 1) U / G) of the U units, tile-major (the
 *        product's non-HYB kernels, t64 among them);
 *   hyb  whole tiles first, round robin, then stream-K over the rest (the product's HYB kernels,
 *        t16_w3_k256).
 * `act` > 0 adds one more copy of `act` bytes per unit from a 1 MB buffer that L2 serves (as the
 * activation boxes). Each row: median of 5 batches of 20 back-to-back launches, GB/s of the
 * weight bytes. Usage: stream_bw [total_MB (default 224: 57344 x 8192 int4)] [blk_KB (256)].
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <vector>

#include "dev_check.h"
#include "ptx.cuh"

struct Job {
    const uint8_t *w, *act;
    int64_t blk;     /* bytes per 64-row block */
    int streams;     /* blocks per tile */
    int chunk;       /* bytes per block per unit */
    int stages;      /* ring stages */
    int act_bytes;   /* L2-resident bytes per unit (0: none) */
    int64_t tiles;   /* tiles in the problem */
    int upt;         /* units per tile = blk / chunk */
    int hyb;         /* 1: whole tiles first */
    int tail;        /* the consumers' work at each tile end (TAIL_*) */
    int where;       /* 0: at every tile end; 1: all but the CTA's last; 2: the last only */
    int part_bytes;  /* a tile's fp32 partial sums (BW x BT x 4) */
    float *part;     /* [tiles][part_bytes / 4] partial sums, zero */
    int *count;      /* [tiles] units counted, zero */
    uint8_t *d;      /* [tiles][part_bytes / 2] the tile's output */
};

/* What the consumers do where a tile's units end in this CTA (the product's split-K tail and
 * epilogue, sm90_gemm.cuh), with zeros for sums: */
enum {
    TAIL_NONE,    /* nothing (VARIANT 3 of the product) */
    TAIL_FULL,    /* split tile: red.add of its partials, bar, acq_rel count, bar, the count's last
                     finisher reads the sums back, zeroes them and stores the tile; whole tile:
                     the stores (VARIANT 1) */
    TAIL_RELAXED, /* the same with a relaxed count (wrong as a protocol: the cost of the ordering) */
    TAIL_STORES,  /* the stores only, split tiles too */
    TAIL_NOCOUNT, /* split tiles' red.add only, whole tiles' stores */
    TAIL_WARP,    /* the stores, by one warp of the four */
    TAIL_BULK,    /* the stores through shared memory and one bulk copy (cp.async.bulk) */
    TAIL_SPIN,    /* no stores: the consumers spin 1000 clocks (what a consumer's delay costs) */
    TAIL_CS,      /* the stores with st.global.cs */
    TAIL_HOT,     /* the stores, each CTA to its own 6-32 KB (stays in L2) */
    TAIL_LAST,    /* the stores with an L2::evict_last policy */
    TAIL_SPIN4,   /* no stores: the consumers spin 4000 clocks */
    TAIL_WALK,    /* nothing, but the tile walk of the others (their baseline) */
    TAIL_KEEP,    /* TAIL_FULL with an L2 evict_last policy on the stores, reductions and zeroing */
    TAIL_DEFER    /* TAIL_KEEP, but a split tile ending before the CTA's last unit only adds its
                     partials there and counts after the last */
};

/* CTA c's stream-K range [a, b) over the tile-major units: all units (sk), or those of the tiles
 * left after the whole tiles (hyb) */
__device__ void sk_range(const Job &j, int c, int G, int64_t *a, int64_t *b)
{
    const int64_t dp = j.hyb ? j.tiles / G * G : 0, rest = (j.tiles - dp) * j.upt;
    *a = dp * j.upt + c * rest / G;
    *b = dp * j.upt + (c + 1) * rest / G;
}

__global__ void __launch_bounds__(256, 1) k_stream(const Job j)
{
    extern __shared__ __align__(1024) uint8_t smem[];
    uint64_t *full = reinterpret_cast<uint64_t *>(smem), *empty = full + 32;
    uint8_t *ring = smem + 1024;
    const int stage_bytes = j.streams * j.chunk + j.act_bytes;
    if (threadIdx.x == 0) {
        for (int s = 0; s < j.stages; s++) {
            ptx::mbarrier_init(&full[s], 1);
            ptx::mbarrier_init(&empty[s], 4); /* one arrival per consumer warp */
        }
        ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
    }
    __syncthreads();
    /* the units of this CTA, in order: whole tiles (hyb) then its stream-K range */
    int64_t a, b;
    sk_range(j, blockIdx.x, gridDim.x, &a, &b);
    const int64_t whole = j.hyb ? j.tiles / gridDim.x : 0; /* whole tiles of this CTA */
    const int64_t n_units = whole * j.upt + (b - a);
    if (threadIdx.x == 0) {
        int s = 0, ph = 0;
        for (int64_t i = 0; i < n_units; i++) {
            int64_t u;
            if (i < whole * j.upt)
                u = (blockIdx.x + (i / j.upt) * gridDim.x) * j.upt + i % j.upt;
            else
                u = a + (i - whole * j.upt);
            const int64_t t = u / j.upt, k = u % j.upt;
            mbar_wait(&empty[s], ph ^ 1);
            ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, &full[s],
                                           (uint32_t)stage_bytes);
            uint8_t *dst = ring + (size_t)s * stage_bytes;
            for (int q = 0; q < j.streams; q++)
                ptx::cp_async_bulk(ptx::space_cluster, ptx::space_global, dst + q * j.chunk,
                                   j.w + (t * j.streams + q) * j.blk + k * j.chunk, (uint32_t)j.chunk, &full[s]);
            if (j.act_bytes)
                ptx::cp_async_bulk(ptx::space_cluster, ptx::space_global, dst + j.streams * j.chunk,
                                   j.act + (k * j.act_bytes) % (1 << 20), (uint32_t)j.act_bytes, &full[s]);
            if (++s == j.stages) s = 0, ph ^= 1;
        }
    } else if (threadIdx.x >= 128) {
        /* one consumer warpgroup; each of its warps arrives on the stage's empty barrier (with
         * warp 4 alone releasing, the other warps could fall a ring behind and miss a phase:
         * the 112 MB run of session 12 hung) */
        const int t = threadIdx.x - 128;
        int &last = *reinterpret_cast<int *>(smem + 512); /* after the barriers */
        uint8_t *staging = ring + (size_t)j.stages * stage_bytes;
        const uint64_t pol = l2_policy(true); /* evict_last: TAIL_LAST, TAIL_KEEP, TAIL_DEFER */
        auto store_tile = [&](int64_t tile) { /* 16-byte stores of the tile's output */
            uint4 *d = reinterpret_cast<uint4 *>(j.d + tile * (j.part_bytes / 2));
            if (j.tail == TAIL_WALK) {
            } else if (j.tail == TAIL_SPIN || j.tail == TAIL_SPIN4) {
                const long long c0 = clock64();
                while (clock64() - c0 < (j.tail == TAIL_SPIN ? 1000 : 4000)) {
                }
            } else if (j.tail == TAIL_HOT) {
                uint4 *h = reinterpret_cast<uint4 *>(j.d + blockIdx.x * (j.part_bytes / 2));
                for (int q = t; q < j.part_bytes / 32; q += 128) h[q] = make_uint4(0, 0, 0, 0);
            } else if (j.tail == TAIL_LAST || j.tail >= TAIL_KEEP) {
                for (int q = t; q < j.part_bytes / 32; q += 128)
                    st_v4_f32_hint(reinterpret_cast<float *>(d + q), 0.f, 0.f, 0.f, 0.f, pol);
            } else if (j.tail == TAIL_WARP) {
                if (t < 32)
                    for (int q = t; q < j.part_bytes / 32; q += 32) d[q] = make_uint4(0, 0, 0, 0);
            } else if (j.tail == TAIL_CS) {
                for (int q = t; q < j.part_bytes / 32; q += 128) __stcs(d + q, make_uint4(0, 0, 0, 0));
            } else if (j.tail == TAIL_BULK) {
                if (t == 0) ptx::cp_async_bulk_wait_group_read(ptx::n32_t<0>()); /* the previous tile's */
                asm volatile("bar.sync 1, 128;\n" ::: "memory");
                uint4 *st = reinterpret_cast<uint4 *>(staging);
                for (int q = t; q < j.part_bytes / 32; q += 128) st[q] = make_uint4(0, 0, 0, 0);
                ptx::fence_proxy_async(ptx::space_shared);
                asm volatile("bar.sync 1, 128;\n" ::: "memory");
                if (t == 0) {
                    ptx::cp_async_bulk(ptx::space_global, ptx::space_shared, d, staging, (uint32_t)(j.part_bytes / 2));
                    ptx::cp_async_bulk_commit_group();
                }
            } else {
                for (int q = t; q < j.part_bytes / 32; q += 128) d[q] = make_uint4(0, 0, 0, 0);
            }
        };
        int64_t cur_tile = whole ? blockIdx.x : a / j.upt, pend_tile = 0;
        int pend_n = 0; /* TAIL_DEFER: a split tile's count put off to the end */
        int cur_k = whole ? 0 : (int)(a % j.upt), seg_k = cur_k;
        const bool keep = j.tail >= TAIL_KEEP;
        auto count = [&](int64_t ct, int cn) { /* count cn units of tile ct; the last finisher stores it */
            float *cp = j.part + ct * (j.part_bytes / 4);
            asm volatile("bar.sync 1, 128;\n" ::: "memory");
            if (t == 0) {
                int old;
                if (j.tail != TAIL_RELAXED)
                    old = atom_add_acq_rel_gpu(&j.count[ct], cn);
                else
                    asm volatile("atom.relaxed.gpu.global.add.s32 %0, [%1], %2;\n"
                                 : "=r"(old)
                                 : "l"(&j.count[ct]), "r"(cn)
                                 : "memory");
                last = old + cn == j.upt;
            }
            asm volatile("bar.sync 1, 128;\n" ::: "memory");
            if (!last) return;
            float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
            for (int q = t; q < j.part_bytes / 16; q += 128) {
                float4 *pq = reinterpret_cast<float4 *>(cp) + q;
                const float4 v = __ldcg(pq);
                acc.x += v.x, acc.y += v.y, acc.z += v.z, acc.w += v.w;
                if (keep)
                    st_v4_f32_hint(&pq->x, 0.f, 0.f, 0.f, 0.f, pol);
                else
                    __stcg(pq, make_float4(0.f, 0.f, 0.f, 0.f));
            }
            if (t == 0) j.count[ct] = 0;
            if (acc.x != 0.f) j.count[ct] = 1; /* never (the sums are zeros): keeps the reads */
            store_tile(ct);
        };
        for (int64_t i = 0; i < n_units; i++) {
            mbar_wait(&full[i % j.stages], (uint32_t)((i / j.stages) & 1));
            __syncwarp();
            if (threadIdx.x % 32 == 0) ptx::mbarrier_arrive(&empty[i % j.stages]);
            if (j.tail == TAIL_NONE) continue;
            /* this unit's tile and k, walked incrementally (as the product does) */
            const int64_t tile = cur_tile;
            const int k = cur_k, n_seg = cur_k + 1 - seg_k;
            if (++cur_k == j.upt || i + 1 == whole * j.upt) { /* on to the next tile, or to the stream-K range */
                cur_tile += gridDim.x;
                cur_k = 0;
                if (i + 1 == whole * j.upt) cur_tile = a / j.upt, cur_k = (int)(a % j.upt);
                else if (i + 1 > whole * j.upt) cur_tile = tile + 1;
                seg_k = cur_k;
            }
            const bool end = k + 1 == j.upt || i + 1 == n_units;
            if (!end || (j.where == 1 && i + 1 == n_units) || (j.where == 2 && i + 1 < n_units)) continue;
            if (n_seg == j.upt || j.tail == TAIL_STORES || (j.tail >= TAIL_WARP && j.tail < TAIL_KEEP)) {
                store_tile(tile);
                if (i + 1 == n_units && pend_n) count(pend_tile, pend_n);
                continue;
            }
            float *part = j.part + tile * (j.part_bytes / 4);
            for (int q = t; q < j.part_bytes / 16; q += 128) {
                if (keep)
                    red_add_v4_f32_hint(part + 4 * q, 0.f, 0.f, 0.f, 0.f, pol);
                else
                    red_add_v4_f32(part + 4 * q, 0.f, 0.f, 0.f, 0.f);
            }
            if (j.tail == TAIL_NOCOUNT) continue;
            if (j.tail == TAIL_DEFER && i + 1 < n_units) { /* count after the CTA's last unit */
                pend_tile = tile, pend_n = n_seg;
                continue;
            }
            count(tile, n_seg);
            if (i + 1 == n_units && pend_n) count(pend_tile, pend_n);
        }
        if (j.tail == TAIL_BULK && t == 0) ptx::cp_async_bulk_wait_group_read(ptx::n32_t<0>());
    }
}

int main(int argc, char **argv)
{
    const int64_t total = (argc > 1 ? atoll(argv[1]) : 224) << 20, blk = (argc > 2 ? atoll(argv[2]) : 256) << 10;
    int sms;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    /* two copies of the weights, alternated, so that no launch finds the previous one's tail in L2 */
    uint8_t *w, *act;
    CK(cudaMalloc(&w, 2 * total));
    CK(cudaMemset(w, 1, 2 * total));
    CK(cudaMalloc(&act, 1 << 20));
    CK(cudaMemset(act, 2, 1 << 20));
    CK(cudaFuncSetAttribute(k_stream, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    printf("stream_bw: %lld MB of weights in blocks of %lld KB, %d CTAs\n", (long long)(total >> 20),
           (long long)(blk >> 10), sms);
    /* workspace for the tails: partial sums and output per tile (at most 448 tiles of 32 KB) */
    const int64_t max_tiles = total / blk, max_part = 32 << 10;
    float *part;
    int *count;
    uint8_t *d;
    CK(cudaMalloc(&part, max_tiles * max_part));
    CK(cudaMemset(part, 0, max_tiles * max_part));
    CK(cudaMalloc(&count, max_tiles * sizeof(int)));
    CK(cudaMemset(count, 0, max_tiles * sizeof(int)));
    CK(cudaMalloc(&d, max_tiles * max_part / 2));
    static const char *tails[] = {"none", "full", "relaxed", "stores", "nocount", "warp", "bulk", "spin",
                                  "cs",   "hot",  "evlast",  "spin4",  "walk",    "keep", "defer"};
    /* streams, chunk KB, stages, act KB, hyb, tail, partials KB: t64_w2_k256 at M = 64 (act: 64
     * tokens x 256 k), t16_w3_k256 at M = 16, then pure rings (the first run's rows) */
    static const char *wheres[] = {"all", "mid", "last"};
    /* streams, chunk KB, stages, act KB, hyb, tail, partials KB, where: the pure rings (the
     * product's shapes first), then t16_w3_k256 at M = 16 (act: 16 tokens x 256 k, whole tiles
     * first, 12 KB partials) and t64_w2_k256 at M = 64 (act: 64 tokens x 256 k, stream-K, 32 KB)
     * with the tail models (dev/NOTES.md, session 12, has each row's numbers) */
    const int cases[][8] = {
        {3, 8, 6, 0, 1, TAIL_NONE, 12, 0},    {2, 8, 4, 0, 0, TAIL_NONE, 32, 0},    {2, 8, 4, 32, 0, TAIL_NONE, 32, 0},
        {2, 8, 7, 0, 0, TAIL_NONE, 32, 0},    {2, 16, 4, 0, 0, TAIL_NONE, 32, 0},   {1, 32, 6, 0, 0, TAIL_NONE, 32, 0},
        {4, 8, 4, 0, 0, TAIL_NONE, 32, 0},    {2, 4, 8, 0, 0, TAIL_NONE, 32, 0},    {3, 8, 6, 8, 1, TAIL_WALK, 12, 0},
        {3, 8, 6, 8, 1, TAIL_FULL, 12, 0},    {3, 8, 6, 8, 1, TAIL_RELAXED, 12, 0}, {3, 8, 6, 8, 1, TAIL_FULL, 12, 2},
        {3, 8, 6, 8, 1, TAIL_STORES, 12, 1},  {3, 8, 6, 8, 1, TAIL_WARP, 12, 1},    {3, 8, 6, 8, 1, TAIL_BULK, 12, 1},
        {3, 8, 6, 8, 1, TAIL_CS, 12, 1},      {3, 8, 6, 8, 1, TAIL_HOT, 12, 1},     {3, 8, 6, 8, 1, TAIL_LAST, 12, 1},
        {3, 8, 6, 8, 1, TAIL_SPIN, 12, 1},    {3, 8, 6, 8, 1, TAIL_SPIN4, 12, 1},   {3, 8, 6, 8, 1, TAIL_KEEP, 12, 0},
        {3, 8, 6, 8, 1, TAIL_DEFER, 12, 0},   {2, 8, 4, 32, 0, TAIL_WALK, 32, 0},   {2, 8, 4, 32, 0, TAIL_FULL, 32, 0},
        {2, 8, 4, 32, 0, TAIL_STORES, 32, 1}, {2, 8, 4, 32, 0, TAIL_LAST, 32, 1},   {2, 8, 4, 32, 0, TAIL_SPIN, 32, 1},
        {2, 8, 4, 32, 0, TAIL_KEEP, 32, 0},   {2, 8, 4, 32, 0, TAIL_DEFER, 32, 0},
    };
    for (const auto &c : cases) {
        Job j;
        j.act = act;
        j.blk = blk;
        j.streams = c[0];
        j.chunk = c[1] << 10;
        j.stages = c[2];
        j.act_bytes = c[3] << 10;
        j.hyb = c[4];
        j.tail = c[5];
        j.part_bytes = c[6] << 10;
        j.where = c[7];
        j.part = part;
        j.count = count;
        j.d = d;
        j.tiles = total / (blk * j.streams);
        j.upt = (int)(blk / j.chunk);
        const int smem =
            1024 + j.stages * (j.streams * j.chunk + j.act_bytes) + (j.tail == TAIL_BULK ? j.part_bytes / 2 : 0);
        if (smem > 227 * 1024 || j.stages > 32) {
            printf("skip %d x %d KB x %d stages: %d B of shared memory\n", c[0], c[1], c[2], smem);
            continue;
        }
        const double bytes = (double)j.tiles * j.streams * blk;
        std::vector<float> t;
        for (int b = 0; b < 6; b++) {
            CK(cudaEventRecord(e0));
            for (int i = 0; i < 20; i++) {
                j.w = w + (i & 1) * total;
                k_stream<<<sms, 256, smem>>>(j);
            }
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            CK(cudaGetLastError());
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (b) t.push_back(ms * 1000.0f / 20.0f); /* the first batch warms up */
        }
        std::sort(t.begin(), t.end());
        printf("streams %d  chunk %2d KB  stages %2d  in flight %3d KB  act %2d KB  %-3s  tail %-7s %-4s  %8.2f us  "
               "%6.0f GB/s\n",
               c[0], c[1], c[2], c[0] * c[1] * c[2], c[3], j.hyb ? "hyb" : "sk", tails[c[5]], wheres[c[7]],
               t[t.size() / 2], bytes / t[t.size() / 2] / 1e3);
    }
    CK(cudaDeviceSynchronize());
    return 0;
}

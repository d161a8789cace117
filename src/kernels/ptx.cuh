/* ptx.cuh - tiny wrappers for the Hopper instructions CCCL's cuda::ptx lacks, each named after
 * its PTX instruction (PTX ISA 9.0 section in the comment). Written once, used by every kernel. */
#pragma once

#include <cuda/ptx>
#include <stdint.h>

namespace ptx = cuda::ptx;

/* wgmma.fence (9.7.15.7.1): order earlier register writes before the next wgmma reads them. */
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
/* wgmma.commit_group (9.7.15.7.2). */
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
/* wgmma.wait_group N (9.7.15.7.3): at most N committed groups still pending. */
template <int N> __device__ __forceinline__ void wgmma_wait()
{
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
/* Keeps the compiler from moving accumulator reads/writes across a wgmma wait. */
__device__ __forceinline__ void fence_reg(float &r) { asm volatile("" : "+f"(r)::"memory"); }
/* Pins a fragment register's definition before the next volatile asm (the wgmma.fence), so that
 * ptxas need not inject warpgroup.arrive (C7519) for dequant code it sank below the fence. */
__device__ __forceinline__ void fence_reg(uint32_t &r) { asm volatile("" : "+r"(r)::"memory"); }

/* setmaxnreg (9.7.17.x): move registers between warpgroups; needs __launch_bounds__(n, 1). */
template <int R> __device__ __forceinline__ void setmaxnreg_dec()
{
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R));
}
template <int R> __device__ __forceinline__ void setmaxnreg_inc()
{
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R));
}

/* Programmatic dependent launch (PTX ISA "griddepcontrol"; w4a16_problem::pdl): griddepcontrol.wait,
 * until the stream's preceding grids have completed and their writes are visible (a no-op in a
 * grid launched without the attribute). The kernels do not use griddepcontrol.launch_dependents
 * (the next grid then starts as this one's CTAs exit), see gemv_kernel's grid_dep_wait. */
__device__ __forceinline__ void grid_dep_wait() { asm volatile("griddepcontrol.wait;\n" ::: "memory"); }
/* cp.async.bulk.prefetch.L2 (PTX ISA "cp.async.bulk.prefetch", sm_90): bytes (a multiple of 16) at
 * a 16-byte aligned global address into L2, default policy (the lines are to stay until the
 * preceding grid has completed; the weights' loads' evict_first was not tried here). */
__device__ __forceinline__ void bulk_prefetch_l2(const void *src, uint32_t bytes)
{
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(src), "r"(bytes) : "memory");
}

/* prefetch.tensormap: pull a __grid_constant__ tensor map into the descriptor cache. */
__device__ __forceinline__ void prefetch_tensormap(const void *tm)
{
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(tm) : "memory");
}

/* Shared-memory matrix descriptor (9.7.15.5.1.2.2) for a K-major tile stored as TMA
 * 128B-swizzled boxes: 8-row atoms of 128 B, SBO = 1024 B, LBO unused, swizzle mode 1. */
__device__ __forceinline__ uint64_t smem_desc_sw128(const void *smem_ptr)
{
    const uint32_t addr = (uint32_t)__cvta_generic_to_shared(smem_ptr);
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) |
           ((uint64_t)1 << 62);
}

/* barrier.cluster.arrive.release.aligned / barrier.cluster.wait.acquire.aligned (9.7.13.3):
 * every thread of the warp executes them together (callers reconverge the warp first). cuda::ptx
 * offers only the non-.aligned forms, around which ptxas adds divergence handling
 * (WARPSYNC.COLLECTIVE, BRA.DIV). */
__device__ __forceinline__ void cluster_arrive_aligned()
{
    asm volatile("barrier.cluster.arrive.release.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void cluster_arrive_relaxed_aligned()
{
    asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void cluster_wait_aligned()
{
    asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

/* elect.sync (PTX ISA 9.7.13.x): true in one lane of the (converged) warp. */
__device__ __forceinline__ bool elect_one_sync()
{
    uint32_t e;
    asm volatile("{\n .reg .pred p;\n elect.sync _|p, 0xffffffff;\n selp.u32 %0, 1, 0, p;\n}\n" : "=r"(e));
    return e != 0;
}

/* Spin on an mbarrier phase (try_wait suspends in hardware for a while, so this is cheap). */
__device__ __forceinline__ void mbar_wait(uint64_t *bar, uint32_t parity)
{
    while (!ptx::mbarrier_try_wait_parity(bar, parity)) {
    }
}

/* mapa (9.7.9.22): the shared::cluster address of `p`'s shared-memory offset in CTA `cta`. */
__device__ __forceinline__ uint32_t peer_shared_addr(const void *p, uint32_t cta)
{
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    uint32_t r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(a), "r"(cta));
    return r;
}

/* mbarrier.arrive (9.7.13.15.13) on the barrier at the same shared-memory offset in CTA `cta` of
 * the cluster (mapa, 9.7.9.22), with the default .release.cta semantics. cuda::ptx offers only
 * .release.cluster and .relaxed.cluster for remote barriers; with .release.cluster every
 * consumer warp's stage release cost a cluster-scope fence: multicast t256 at M = 1024 on
 * 8192^2 took 357 us (kernel without clusters 170 us, H100), with this arrive 199 us (192 us,
 * another H100). */
__device__ __forceinline__ void mbar_arrive_cluster(const uint64_t *bar, uint32_t cta)
{
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(peer_shared_addr(bar, cta)) : "memory");
}

/* mbarrier.arrive.release.cluster on the barrier at the same shared-memory offset in CTA `cta`
 * of the cluster: this thread's earlier memory operations become visible to a thread of that
 * CTA that waits with acquire.cluster. */
__device__ __forceinline__ void mbar_arrive_remote_release(const uint64_t *bar, uint32_t cta)
{
    asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];\n" ::"r"(peer_shared_addr(bar, cta))
                 : "memory");
}

/* Spin on an mbarrier phase with acquire.cluster semantics (the arrivals came from peer CTAs). */
__device__ __forceinline__ void mbar_wait_cluster(uint64_t *bar, uint32_t parity)
{
    while (!ptx::mbarrier_try_wait_parity(ptx::sem_acquire, ptx::scope_cluster, bar, parity)) {
    }
}

/* red.global.add.v4.f32 (PTX 8.1, sm_90): four adjacent floats in one reduction request. */
__device__ __forceinline__ void red_add_v4_f32(float *p, float a, float b, float c, float d)
{
    asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"l"(p), "f"(a), "f"(b), "f"(c), "f"(d)
                 : "memory");
}

/* An L2 cache policy (createpolicy, PTX ISA 9.7.9.x) for the output and the split tiles' partial
 * sums: evict_last while they are small beside the L2 (Params::keep_d), else evict_normal. */
__device__ __forceinline__ uint64_t l2_policy(bool evict_last)
{
    uint64_t pol;
    if (evict_last)
        asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;\n" : "=l"(pol));
    else
        asm volatile("createpolicy.fractional.L2::evict_normal.b64 %0, 1.0;\n" : "=l"(pol));
    return pol;
}

/* cp.async.bulk global -> shared::cluster (complete_tx on `bar`) with the L2 evict_first policy */
__device__ __forceinline__ void bulk_load_evict_first(void *dst, const void *src, uint32_t bytes, uint64_t *bar)
{
    uint64_t pol; /* volatile: made at each use, not hoisted into the producer's registers (t16_w3_k256 spilled) */
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(pol));
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1], %2, "
                 "[%3], %4;\n" ::"r"((uint32_t)__cvta_generic_to_shared(dst)),
                 "l"(src), "r"(bytes), "r"((uint32_t)__cvta_generic_to_shared(bar)), "l"(pol)
                 : "memory");
}

/* red_add_v4_f32 and stores with an L2 cache policy (.L2::cache_hint) */
__device__ __forceinline__ void red_add_v4_f32_hint(float *p, float a, float b, float c, float d, uint64_t pol)
{
    asm volatile("red.global.add.L2::cache_hint.v4.f32 [%0], {%1, %2, %3, %4}, %5;\n" ::"l"(p), "f"(a), "f"(b), "f"(c),
                 "f"(d), "l"(pol)
                 : "memory");
}
__device__ __forceinline__ void st_v4_f32_hint(float *p, float a, float b, float c, float d, uint64_t pol)
{
    asm volatile("st.global.L2::cache_hint.v4.f32 [%0], {%1, %2, %3, %4}, %5;\n" ::"l"(p), "f"(a), "f"(b), "f"(c),
                 "f"(d), "l"(pol)
                 : "memory");
}
__device__ __forceinline__ void st_b16_hint(void *p, uint16_t v, uint64_t pol)
{
    asm volatile("st.global.L2::cache_hint.b16 [%0], %1, %2;\n" ::"l"(p), "h"(v), "l"(pol) : "memory");
}

/* atom.acq_rel.gpu.global.add.s32 (PTX ISA, "atom"): returns the old value; release orders
 * every write that happens before it (the CTA's, through a preceding bar.sync) before the add,
 * acquire orders the add before every read after it (the CTA's, through a following bar.sync). */
__device__ __forceinline__ int atom_add_acq_rel_gpu(int *p, int v)
{
    int old;
    asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], %2;\n" : "=r"(old) : "l"(p), "r"(v) : "memory");
    return old;
}

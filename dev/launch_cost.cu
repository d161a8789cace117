/*
 * launch_cost.cu - what a launch of the sm90 kernel's shape costs before any work: event pairs
 * around single launches (median of 200, as the benchmark times) and back-to-back batches (mean
 * per launch), for 132 CTAs of 384 threads:
 *   null           an empty kernel, no shared memory;
 *   smem           the same with 227 KB of dynamic shared memory (as the product's ring);
 *   params         the same with ~700 B of __grid_constant__ parameters (four tensor maps);
 *   barriers       + 12 mbarriers initialized and a CTA-wide cluster barrier (the prologue);
 *   first_data     + one 16 KB bulk copy from DRAM per CTA, waited for by every thread;
 *   first_data_x6  + six 32 KB bulk copies per CTA (a full 256-k ring), waited for in order;
 *   first_tensor   + one 2 KB tensor-map box (64 k x 16 tokens, 128B swizzle) instead, the map
 *                  prefetched right before (as the product does), and without the prefetch.
 * A third column times each single launch as w4a16-bench does: 64 launches, each between its own
 * event pair, queued behind a spinning gate kernel so that the host's launch rate is not timed
 * (median). Uses the kernel headers' PTX wrappers only. A developer's probe.
 */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "dev_check.h"
#include "ptx.cuh"

struct BigParams {
    CUtensorMap m[4];
    int x[40];
};

__global__ void __launch_bounds__(384, 1) k_null(int *sink)
{
    if (sink && threadIdx.x == 1000) *sink = 1;
}

__global__ void __launch_bounds__(384, 1) k_params(const __grid_constant__ BigParams b, int *sink)
{
    if (sink && threadIdx.x == 1000) *sink = b.x[3];
}

/* the product kernel's prologue: 12 mbarriers initialized, then a CTA-wide cluster barrier */
__device__ __forceinline__ void prologue(uint64_t *bar)
{
    if (threadIdx.x == 0) {
        for (int s = 0; s < 12; s++) ptx::mbarrier_init(&bar[s], 1);
        ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
    }
    cluster_arrive_relaxed_aligned();
    cluster_wait_aligned();
}

/* mode 0: barriers only; 1: one copy of `bytes`; 2: `copies` copies of `bytes` into a ring */
__global__ void __launch_bounds__(384, 1) k_prologue(int mode, const uint8_t *src, int bytes, int copies, int *sink)
{
    extern __shared__ __align__(1024) uint8_t smem[];
    uint64_t *bar = reinterpret_cast<uint64_t *>(smem);
    prologue(bar);
    if (mode == 0) return;
    const int n = mode == 1 ? 1 : copies;
    if (threadIdx.x == 0) {
        for (int c = 0; c < n; c++) {
            ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, &bar[c],
                                           (uint32_t)bytes);
            ptx::cp_async_bulk(ptx::space_cluster, ptx::space_global, smem + 1024 + (size_t)c * bytes,
                               src + ((size_t)blockIdx.x * n + c) * bytes, (uint32_t)bytes, &bar[c]);
        }
    }
    if (threadIdx.x >= 128) {
        for (int c = 0; c < n; c++) mbar_wait(&bar[c], 0);
        if (sink && smem[1024 + threadIdx.x] == 0xff && threadIdx.x == 2000) *sink = 1;
    }
}

/* one 64 x 16 box of a 2-D fp16 tensor map per CTA (rows blockIdx.x * 16 ...), with or without
 * prefetch.tensormap first */
__global__ void __launch_bounds__(384, 1) k_tensor(const __grid_constant__ CUtensorMap tm, int prefetch, int *sink)
{
    extern __shared__ __align__(1024) uint8_t smem[];
    uint64_t *bar = reinterpret_cast<uint64_t *>(smem);
    prologue(bar);
    if (threadIdx.x == 0) {
        if (prefetch) prefetch_tensormap(&tm);
        ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, &bar[0], 2048u);
        const int32_t c[2] = {0, (int32_t)blockIdx.x * 16};
        ptx::cp_async_bulk_tensor(ptx::space_cluster, ptx::space_global, smem + 1024, &tm, c, &bar[0]);
    }
    if (threadIdx.x >= 128) {
        mbar_wait(&bar[0], 0);
        if (sink && smem[1024 + threadIdx.x] == 0xff && threadIdx.x == 2000) *sink = 1;
    }
}

__global__ void gate_kernel(const volatile unsigned *flag, unsigned target)
{
    while (*flag < target) {
    }
}

static volatile unsigned *gate_host;
static unsigned *gate_dev;
static unsigned gate_count;

template <typename F> static void time_it(const char *name, F launch)
{
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int i = 0; i < 20; i++) launch(i);
    CK(cudaDeviceSynchronize());
    std::vector<float> v;
    for (int i = 0; i < 200; i++) {
        CK(cudaEventRecord(e0));
        launch(i);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        v.push_back(ms * 1000.0f);
    }
    std::sort(v.begin(), v.end());
    float best = 1e30f;
    for (int b = 0; b < 5; b++) {
        CK(cudaEventRecord(e0));
        for (int i = 0; i < 50; i++) launch(i);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        best = std::min(best, ms * 1000.0f / 50.0f);
    }
    /* the benchmark's way: queued behind a gate, each launch between its own event pair */
    std::vector<cudaEvent_t> ev(128);
    for (auto &e : ev) CK(cudaEventCreate(&e));
    std::vector<float> g;
    for (int r = 0; r < 4; r++) {
        gate_kernel<<<1, 1>>>(gate_dev, ++gate_count);
        for (int i = 0; i < 64; i++) {
            CK(cudaEventRecord(ev[2 * i]));
            launch(i);
            CK(cudaEventRecord(ev[2 * i + 1]));
        }
        *gate_host = gate_count;
        CK(cudaDeviceSynchronize());
        for (int i = 0; i < 64; i++) {
            float ms;
            CK(cudaEventElapsedTime(&ms, ev[2 * i], ev[2 * i + 1]));
            g.push_back(ms * 1000.0f);
        }
    }
    for (auto &e : ev) cudaEventDestroy(e);
    std::sort(g.begin(), g.end());
    CK(cudaGetLastError());
    printf("%-16s single (event pair) median %6.2f us, p10 %6.2f, p90 %6.2f; back to back %6.2f us; gated "
           "event pairs median %6.2f us, p10 %6.2f\n",
           name, v[100], v[20], v[180], best, g[g.size() / 2], g[g.size() / 10]);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
}

int main()
{
    const int ctas = 132, threads = 384, smem = 227 * 1024;
    int *sink;
    CK(cudaMalloc(&sink, 4));
    CK(cudaHostAlloc((void **)&gate_host, sizeof(unsigned), cudaHostAllocMapped));
    *gate_host = 0;
    CK(cudaHostGetDevicePointer((void **)&gate_dev, (void *)gate_host, 0));
    /* sources for the copies: rotate through 256 MB so that DRAM serves them */
    const size_t span = 256u << 20;
    uint8_t *src;
    CK(cudaMalloc(&src, span));
    CK(cudaMemset(src, 1, span));
    CK(cudaFuncSetAttribute(k_null, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    CK(cudaFuncSetAttribute(k_params, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    CK(cudaFuncSetAttribute(k_prologue, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    BigParams bp;
    memset(&bp, 0, sizeof bp);
    time_it("null", [&](int) { k_null<<<ctas, threads>>>(sink); });
    time_it("null_1cta", [&](int) { k_null<<<1, 32>>>(sink); });
    time_it("smem", [&](int) { k_null<<<ctas, threads, smem>>>(sink); });
    time_it("params", [&](int) { k_params<<<ctas, threads, smem>>>(bp, sink); });
    time_it("barriers", [&](int) { k_prologue<<<ctas, threads, smem>>>(0, src, 0, 0, sink); });
    const size_t per1 = (size_t)ctas * 16384, per6 = (size_t)ctas * 6 * 32768;
    time_it("first_data", [&](int i) {
        k_prologue<<<ctas, threads, smem>>>(1, src + (i * per1) % (span - per1), 16384, 1, sink);
    });
    time_it("first_data_x6", [&](int i) {
        k_prologue<<<ctas, threads, smem>>>(2, src + (i * per6) % (span - per6) / 1024 * 1024, 32768, 6, sink);
    });
    /* a 2-D fp16 tensor [132 * 16 rows][8192], boxes of 64 x 16, 128B swizzle (as the activations) */
    void *fn = nullptr;
    cudaDriverEntryPointQueryResult q;
    CK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q));
    if (q != cudaDriverEntryPointSuccess || !fn) {
        fprintf(stderr, "no cuTensorMapEncodeTiled\n");
        return 1;
    }
    CUtensorMap tm;
    const cuuint64_t dims[2] = {8192, (cuuint64_t)ctas * 16};
    const cuuint64_t strides[1] = {8192 * 2};
    const cuuint32_t box[2] = {64, 16}, estr[2] = {1, 1};
    if (reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn)(
            &tm, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, src, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
            CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) !=
        CUDA_SUCCESS) {
        fprintf(stderr, "cuTensorMapEncodeTiled failed\n");
        return 1;
    }
    CK(cudaFuncSetAttribute(k_tensor, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    time_it("first_tensor", [&](int) { k_tensor<<<ctas, threads, smem>>>(tm, 1, sink); });
    time_it("first_tensor_np", [&](int) { k_tensor<<<ctas, threads, smem>>>(tm, 0, sink); });
    CK(cudaDeviceSynchronize());
    return 0;
}

/* wgmma_lat.cu - dev microbenchmark: how long m64nNk16 RS wgmmas (A from registers, B from shared
 * memory, fp32 sums) take on this GPU when chained into one accumulator, split over independent
 * accumulators, and with 1..3 warpgroups sharing the SM, as the decode consumers issue them.
 * Built by dev/CMakeLists.txt (target wgmma_lat), or by hand: nvcc -gencode
 * arch=compute_90a,code=sm_90a -O3 -std=c++17 -I src/kernels -I include dev/wgmma_lat.cu
 * Prints SM clock cycles per wgmma (per warpgroup) and per 4-wgmma block drained by
 * wgmma_wait<0> (the GS loop's unit). */
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

#include "dev_check.h"
#include "ptx.cuh"
#include "wgmma_ops.cuh"

/* ACC independent accumulators; each block = 4 wgmmas (k16 steps) spread round-robin over them,
 * committed as one group, then wgmma_wait<0> (WAIT = 0) or wgmma_wait<1> (WAIT = 1, one block
 * in flight while the next is issued). */
template <int N, int ACC, int WAIT>
__global__ void __launch_bounds__(384, 1) lat_kernel(int blocks, long long *cycles, float *sink)
{
    extern __shared__ __align__(1024) unsigned char smem[];
    uint8_t *b = (uint8_t *)(((uintptr_t)smem + 1023) & ~(uintptr_t)1023);
    for (int i = threadIdx.x; i < N * 128 / 4; i += blockDim.x) ((uint32_t *)b)[i] = 0;
    __syncthreads();
    float d[ACC][N / 2];
#pragma unroll
    for (int a = 0; a < ACC; a++)
#pragma unroll
        for (int r = 0; r < N / 2; r++) d[a][r] = 0.0f;
    uint32_t f[4] = {0x3c003c00u ^ threadIdx.x, 0x3c003c00u, 0x3c003c00u, 0x3c003c00u};
    const uint64_t desc = smem_desc_sw128(b);
    __syncthreads();
    const long long t0 = clock64();
    for (int k = 0; k < blocks; k++) {
#pragma unroll
        for (int r = 0; r < 4; r++) fence_reg(f[r]);
        wgmma_fence();
#pragma unroll
        for (int j = 0; j < 4; j++) wgmma_rs<N, false>::mma(d[j % ACC], f, desc + 2 * j, 1);
        wgmma_commit();
        wgmma_wait<WAIT>();
        f[0] += 1; /* a new fragment each block, as the dequantization makes */
    }
    wgmma_wait<0>();
    const long long t1 = clock64();
    float s = 0;
#pragma unroll
    for (int a = 0; a < ACC; a++)
#pragma unroll
        for (int r = 0; r < N / 2; r++) s += d[a][r];
    if (s == 12345.0f) sink[threadIdx.x] = s;
    if (threadIdx.x % 128 == 0) cycles[blockIdx.x * 3 + threadIdx.x / 128] = t1 - t0;
}

template <int N, int ACC, int WAIT> static void run(int nwg, int ctas, long long *dc, float *sink)
{
    const int blocks = 4096;
    auto k = lat_kernel<N, ACC, WAIT>;
    const int smem = N * 128 + 1024;
    CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    k<<<ctas, 128 * nwg, smem>>>(blocks, dc, sink); /* warm-up */
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    k<<<ctas, 128 * nwg, smem>>>(blocks, dc, sink);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    long long h[132 * 3];
    CK(cudaMemcpy(h, dc, sizeof(long long) * ctas * 3, cudaMemcpyDeviceToHost));
    double mx = 0;
    for (int c = 0; c < ctas; c++)
        for (int w = 0; w < nwg; w++) mx = h[c * 3 + w] > mx ? (double)h[c * 3 + w] : mx;
    printf("N=%3d acc=%d wait<%d> warpgroups=%d ctas=%3d: %6.1f cycles per wgmma per warpgroup, %7.1f per "
           "block of 4, SM tensor rate %5.1f%% of the 2048 dense fp16 MAC per clock\n",
           N, ACC, WAIT, nwg, ctas, mx / (blocks * 4.0), mx / blocks,
           100.0 * (64.0 * N * 16 * 4 * blocks * nwg) / mx / 2048.0);
}

int main()
{
    long long *dc;
    float *sink;
    CK(cudaMalloc(&dc, sizeof(long long) * 132 * 3));
    CK(cudaMalloc(&sink, sizeof(float) * 384));
    for (int nwg = 1; nwg <= 3; nwg++) {
        run<16, 1, 0>(nwg, 132, dc, sink);
        run<16, 2, 0>(nwg, 132, dc, sink);
        run<16, 4, 0>(nwg, 132, dc, sink);
        run<16, 1, 1>(nwg, 132, dc, sink);
        run<16, 2, 1>(nwg, 132, dc, sink);
        run<32, 1, 0>(nwg, 132, dc, sink);
        run<32, 2, 0>(nwg, 132, dc, sink);
        run<32, 1, 1>(nwg, 132, dc, sink);
        run<64, 1, 0>(nwg, 132, dc, sink);
        run<64, 1, 1>(nwg, 132, dc, sink);
        run<128, 1, 1>(nwg, 132, dc, sink);
    }
    CK(cudaFree(dc));
    CK(cudaFree(sink));
    return 0;
}

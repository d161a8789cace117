/* wgmma_power.cu - dev microbenchmark: the energy of m64n256k16 wgmmas by operand form and data.
 * Every CTA (132 x two warpgroups, as t256) loops over one 64-k block: B is 256 rows x 64 k of
 * fp16 (32 KB, 128B swizzle), A 64 rows x 64 k per warpgroup (SS: 8 KB of shared memory; RS: four
 * k16 fragments in registers), four wgmmas per commit group, one group in flight. Forms: RS (A
 * from registers: the library's kernels), SS (A from shared memory: cuBLAS's), RH (RS with fp16
 * sums), RHP (RH restarted every 64-k block and added into fp32 sums). Data: see main.
 *   wgmma_power ITERS [CASES]   each case once, timed (us per launch); CASES as
 *   "RS/wqf/rand+SS/rand/wqf" (form / A's data / B's data)
 *   PIPE_PROBE_SUSTAIN=S wgmma_power ITERS [CASES]   each case back to back for S seconds after
 *   1 s idle, with wall-clock marks for scripts/gpu-power.sh (PROG=wgmma_power) to match
 *   nvidia-smi against.
 * What it showed (H100, session 19, 4000 iterations = 1.1 T MAC per launch, sustained 2 s at the
 * power cap, mJ per launch; dev/NOTES.md):
 * - B's data decides the energy, the form does not: RS 1737 (random A and B), B constant 784,
 *   A constant 1599; SS 1779 / 805 / 1642. That is ~1.6 pJ per MAC with random operands, ~0.7
 *   with a constant B.
 * - Dequantized weights toggle B as much as random activations do: with weights (q - 8) s of
 *   full-mantissa scales as B and random activations as A (the operands' roles swapped, as a
 *   kernel that dequantizes into shared memory would have them) 1799 against 1699 for the
 *   library's arrangement (weights as A); with dev/pipe_probe's 4-bit-mantissa scales 1626
 *   against 1674. Swapping the roles buys nothing with real data.
 * - fp16 sums: RH 1672 against RS 1790 (weights as A), but restarting them per 64-k block into
 *   fp32 sums (RHP, the precision a GEMM needs) 1861: no gain either.
 * - Integer weights (session 24, same method; the integers q - 8, as a kernel scaling its fp32 sums
 *   per group would multiply): as B 1616 (RS) / 1574 (SS) against random B 1752, as A 1659 against
 *   the dequantized weights' 1747 (RS, random activations as the other operand). So 5-10% of the
 *   tensor work's energy, before the per-group folds and (for B) the shared-memory writes such a
 *   kernel would add; docs/perf/h100-session24-t16-nr.txt.
 * Built by dev/CMakeLists.txt (target wgmma_power). */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <unistd.h>

#include "dev_check.h"
#include "ptx.cuh"
#include "wgmma_ops.cuh"
#include "wgmma_ss_ops.cuh"

constexpr int BT = 256, NWG = 2;
constexpr int B_BYTES = BT * 128, A_BYTES = 64 * 128;
constexpr int SMEM = B_BYTES + NWG * A_BYTES + 1024;

/* Forms: RS, SS; RH: RS with fp16 sums (m64n256k16.f16.f16.f16); RHP: RH restarted every four
 * wgmmas (one 64-k block) and added into fp32 sums, as a kernel keeping fp32 precision would.
 * src: 16384 fp16 values for B (then 8192 per warpgroup for A); RS fragments come from the A data
 * at this thread's position (not in the fragment layout: only the bits' statistics matter). */
enum { F_RS, F_SS, F_RH, F_RHP, F_COUNT };
static const char *const form_names[F_COUNT] = {"RS", "SS", "RH", "RHP"};
template <int FORM>
__global__ void __launch_bounds__(128 * NWG, 1)
    power_kernel(int iters, const uint4 *bsrc, const uint4 *asrc, float *sink)
{
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    uint8_t *sm = (uint8_t *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    uint4 *b4 = (uint4 *)sm, *a4 = (uint4 *)(sm + B_BYTES);
    for (int i = threadIdx.x; i < B_BYTES / 16; i += blockDim.x) b4[i] = bsrc[i];
    for (int i = threadIdx.x; i < NWG * A_BYTES / 16; i += blockDim.x) a4[i] = asrc[i];
    const int wg = threadIdx.x / 128, t = threadIdx.x % 128;
    uint32_t f[4][4];
#pragma unroll
    for (int j = 0; j < 4; j++) {
        const uint4 v = asrc[(wg * A_BYTES / 16 + t * 4 + j) % (NWG * A_BYTES / 16)];
        f[j][0] = v.x, f[j][1] = v.y, f[j][2] = v.z, f[j][3] = v.w;
    }
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    float d[BT / 2];
#pragma unroll
    for (int r = 0; r < BT / 2; r++) d[r] = 0.0f;
    uint32_t h[FORM >= F_RH ? BT / 4 : 1];
#pragma unroll
    for (int r = 0; r < (FORM >= F_RH ? BT / 4 : 1); r++) h[r] = 0u;
    const uint64_t db = smem_desc_sw128(sm), da = smem_desc_sw128(sm + B_BYTES + wg * A_BYTES);
    for (int it = 0; it < iters; it++) {
        wgmma_fence();
#pragma unroll
        for (int j = 0; j < 4; j++) {
            if constexpr (FORM == F_SS) wgmma_ss<BT, false>::mma(d, da + 2 * j, db + 2 * j, 1);
            else if constexpr (FORM == F_RS) wgmma_rs<BT, false>::mma(d, f[j], db + 2 * j, 1);
            else wgmma_rs_f16acc256::mma(h, f[j], db + 2 * j, FORM == F_RHP && j == 0 ? 0 : 1);
        }
        wgmma_commit();
        if constexpr (FORM == F_RHP) {
            wgmma_wait<0>();
#pragma unroll
            for (int r = 0; r < BT / 4; r++) {
                const float2 v = __half22float2(*reinterpret_cast<const __half2 *>(&h[r]));
                d[2 * r] += v.x;
                d[2 * r + 1] += v.y;
            }
        } else {
            wgmma_wait<1>();
        }
    }
    wgmma_wait<0>();
    float s = 0;
#pragma unroll
    for (int r = 0; r < BT / 2; r++) s += d[r];
    if constexpr (FORM == F_RH)
#pragma unroll
        for (int r = 0; r < BT / 4; r++) s += __half2float(__low2half(*reinterpret_cast<const __half2 *>(&h[r])));
    if (s == 12345.0f) sink[threadIdx.x] = s;
}

static double now_s()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Operand data kinds: rand uniform in [-1, 1) (activations), const 0.75 everywhere, and two kinds
 * of dequantized weights (q - 8) s with uniform nibbles q and one scale s per 64-k row (a group):
 * wq4 s = 2^-4 (1 + 4 random low mantissa bits), dev/pipe_probe's scales; wqf s uniform in
 * [0.004, 0.04) with a full mantissa, as real checkpoints' scales; int: the integers q - 8 alone
 * (what a kernel applying the scales to its fp32 sums per group would multiply). */
enum { D_RAND, D_CONST, D_WQ4, D_WQF, D_INT, D_COUNT };
static const char *const kind_names[D_COUNT] = {"rand", "const", "wq4", "wqf", "int"};

int main(int argc, char **argv)
{
    const int iters = argc > 1 ? atoi(argv[1]) : 4000;
    /* cases "RS/wq4/rand+SS/rand/wqf+..." (form / A data / B data); default: all forms x rand, const */
    const char *cases = argc > 2 ? argv[2]
                                 : "RS/rand/rand+RS/rand/const+RS/const/rand+RS/const/const+SS/rand/rand+SS/rand/const+"
                                   "SS/const/rand+SS/const/const";
    const char *sus = getenv("PIPE_PROBE_SUSTAIN");
    const double secs = sus ? atof(sus) : 0.0;
    const int nb = B_BYTES / 2, na = NWG * A_BYTES / 2, n = nb + na;
    unsigned short *h = (unsigned short *)malloc((size_t)n * 2);
    uint64_t x = 88172645463325252ull;
    auto rnd = [&] { return (x = x * 6364136223846793005ull + 1442695040888963407ull) >> 11; };
    void *dsrc[D_COUNT];
    for (int kind = 0; kind < D_COUNT; kind++) {
        float s = 0.0f;
        for (int i = 0; i < n; i++) {
            float v;
            if (i % 64 == 0) { /* a new 64-k row: its scale */
                if (kind == D_WQ4) {
                    __half_raw r;
                    r.x = (unsigned short)(0x2c00 | (rnd() & 15));
                    s = __half2float(__half(r));
                } else {
                    s = 0.004f + 0.036f * (float)(rnd() & 0xffffff) / 16777216.0f;
                }
            }
            if (kind == D_RAND) v = (float)(rnd() & 0xffffff) * (2.0f / 16777216.0f) - 1.0f;
            else if (kind == D_CONST) v = 0.75f;
            else if (kind == D_INT) v = (float)((int)(rnd() & 15) - 8);
            else v = (float)((int)(rnd() & 15) - 8) * __half2float(__float2half(s));
            const __half hv = __float2half(v);
            memcpy(&h[i], &hv, 2);
        }
        CK(cudaMalloc(&dsrc[kind], (size_t)n * 2));
        CK(cudaMemcpy(dsrc[kind], h, (size_t)n * 2, cudaMemcpyHostToDevice));
    }
    float *sink;
    CK(cudaMalloc(&sink, 4096));
    CK(cudaFuncSetAttribute(power_kernel<F_RS>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    CK(cudaFuncSetAttribute(power_kernel<F_SS>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    CK(cudaFuncSetAttribute(power_kernel<F_RH>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    CK(cudaFuncSetAttribute(power_kernel<F_RHP>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    int sms;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    printf("wgmma_power: %d CTAs x %d warpgroups, %d iterations of 4 m64n%dk16 wgmmas per warpgroup per launch\n", sms,
           NWG, iters, BT);
    for (const char *c = cases; *c;) {
        char form[8] = "", an[8] = "", bn[8] = "";
        if (sscanf(c, "%3[RSHP]/%7[a-z0-9]/%7[a-z0-9]", form, an, bn) != 3) {
            fprintf(stderr, "wgmma_power: bad case list at \"%s\"\n", c);
            return 2;
        }
        int ad = -1, bd = -1, fm = -1;
        for (int k = 0; k < F_COUNT; k++)
            if (!strcmp(form, form_names[k])) fm = k;
        for (int k = 0; k < D_COUNT; k++) {
            if (!strcmp(an, kind_names[k])) ad = k;
            if (!strcmp(bn, kind_names[k])) bd = k;
        }
        if (ad < 0 || bd < 0 || fm < 0) {
            fprintf(stderr, "wgmma_power: unknown form or data kind in \"%s\"\n", c);
            return 2;
        }
        const char *next = strchr(c, '+');
        c = next ? next + 1 : c + strlen(c);
        const uint4 *bsrc = (const uint4 *)dsrc[bd];
        const uint4 *asrc = (const uint4 *)((const unsigned short *)dsrc[ad] + nb);
        auto launch = [&] {
            if (fm == F_RS) power_kernel<F_RS><<<sms, 128 * NWG, SMEM>>>(iters, bsrc, asrc, sink);
            else if (fm == F_SS) power_kernel<F_SS><<<sms, 128 * NWG, SMEM>>>(iters, bsrc, asrc, sink);
            else if (fm == F_RH) power_kernel<F_RH><<<sms, 128 * NWG, SMEM>>>(iters, bsrc, asrc, sink);
            else power_kernel<F_RHP><<<sms, 128 * NWG, SMEM>>>(iters, bsrc, asrc, sink);
            CK(cudaGetLastError());
        };
        char name[64];
        snprintf(name, sizeof name, "%s A %s B %s", form, an, bn);
        launch();
        CK(cudaDeviceSynchronize());
        if (secs > 0) {
            usleep(1000000);
            const double t0 = now_s();
            long cnt = 0;
            while (now_s() - t0 < secs) {
                for (int i = 0; i < 20; i++, cnt++) launch();
                CK(cudaDeviceSynchronize());
            }
            const double t1 = now_s();
            printf("sustain %-24s M=0 N=0 K=0: %ld launches, %.2f us each, wall %.3f .. %.3f (epoch s)\n", name, cnt,
                   (t1 - t0) / cnt * 1e6, t0, t1);
        } else {
            CK(cudaEventRecord(e0));
            for (int i = 0; i < 10; i++) launch();
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            const double us = ms * 100.0, flop = 2.0 * sms * NWG * iters * 4 * 64.0 * BT * 16;
            printf("%-24s %10.2f us per launch, %.1f TFLOP/s\n", name, us, flop / us * 1e-6);
        }
    }
    return 0;
}

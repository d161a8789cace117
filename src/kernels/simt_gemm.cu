/*
 * simt_gemm.cu - the portable reference GEMM ("simt_ref"): shared-memory tiles and fp32 FMA,
 * no tensor cores. Correct for every problem the API accepts; the fallback when no tuned
 * Hopper configuration applies, and a second opinion in tests. Reads the packed layout.
 */
#include "common.cuh"

namespace {

constexpr int BM = 64, BN = 64, BK = 32, THREADS = 256;

/* Dequantized weight (n, k) from the packed tensor, rounded to the activation dtype. */
template <typename T>
__device__ __forceinline__ float packed_weight(const uint8_t *w, int64_t tiles_k, int64_t n, int64_t k,
                                               int64_t N, int64_t group, int zmode, const T *scales,
                                               const void *zeros)
{
    int64_t byte;
    int shift;
    w4a16_pack_locate(n, k, tiles_k, &byte, &shift);
    const int v = (w[byte] >> shift) & 0xf;
    const int64_t gi = (k / group) * N + n;
    const float s = to_f32(scales[gi]);
    int z = 8;
    float zf = 0.0f;
    if (zmode == W4A16_ZEROS_INT) z = ((const uint8_t *)zeros)[gi];
    if (zmode == W4A16_ZEROS_FLOAT) zf = to_f32(((const T *)zeros)[gi]);
    return round_through<T>(w4a16_dequant_value(zmode, v, z, s, zf));
}

template <typename T>
__global__ void __launch_bounds__(THREADS) simt_gemm_kernel(w4a16_problem p, const T *a, const uint8_t *w,
                                                            const T *scales, const void *zeros, const T *bias,
                                                            T *d)
{
    __shared__ float as[BK][BM + 1];
    __shared__ float ws[BK][BN + 1];
    const int tid = threadIdx.x;
    const int64_t m0 = (int64_t)blockIdx.x * BM;
    const int tm = tid / 16, tn = tid % 16; /* each thread: rows tm + 16i, cols tn + 16j */
    const int64_t tiles_k = w4a16_pack_tiles_k(p.k);
    for (int64_t n0 = (int64_t)blockIdx.y * BN; n0 < p.n; n0 += (int64_t)gridDim.y * BN) {
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < p.k; k0 += BK) {
        for (int i = tid; i < BM * BK; i += THREADS) {
            const int r = i / BK, c = i % BK;
            const int64_t m = m0 + r, k = k0 + c;
            as[c][r] = (m < p.m && k < p.k) ? to_f32(a[m * p.lda + k]) : 0.0f;
            const int64_t n = n0 + r;
            ws[c][r] = (n < p.n && k < p.k)
                           ? packed_weight<T>(w, tiles_k, n, k, p.n, p.group_size, p.zero_mode, scales, zeros)
                           : 0.0f;
        }
        __syncthreads();
        for (int c = 0; c < BK; c++) {
            float av[4], wv[4];
            for (int i = 0; i < 4; i++) av[i] = as[c][tm + 16 * i];
            for (int j = 0; j < 4; j++) wv[j] = ws[c][tn + 16 * j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], wv[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; i++) {
        const int64_t m = m0 + tm + 16 * i;
        if (m >= p.m) continue;
        for (int j = 0; j < 4; j++) {
            const int64_t n = n0 + tn + 16 * j;
            if (n >= p.n) continue;
            float v = p.alpha * acc[i][j];
            if (bias) v += to_f32(bias[n]);
            d[m * p.ldd + n] = from_f32<T>(v);
        }
    }
    }
}

template <typename T> int launch(const w4a16_gemm_args *g)
{
    const w4a16_problem &p = *g->p;
    const int64_t n_tiles = (p.n + BN - 1) / BN;
    dim3 grid((unsigned)((p.m + BM - 1) / BM), (unsigned)(n_tiles < 65535 ? n_tiles : 65535));
    simt_gemm_kernel<T><<<grid, THREADS, 0, g->stream>>>(p, (const T *)g->a, (const uint8_t *)g->w,
                                                        (const T *)g->scales, g->zeros, (const T *)g->bias,
                                                        (T *)g->d);
    return launch_status();
}

} // namespace

extern "C" int w4a16_launch_simt(const w4a16_gemm_args *g)
{
    return g->p->dtype == W4A16_DTYPE_FP16 ? launch<__half>(g) : launch<__nv_bfloat16>(g);
}

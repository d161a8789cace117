/*
 * prep.cu - weight preparation on the GPU: quantize, pack, unpack, dequantize. Each kernel
 * computes exactly what its host twin in quant_host.c computes (same formulas from
 * quant_math.h, same layout from packed_layout.h), so the bytes are identical. Also the
 * act-order gather of activation columns that w4a16_gemm runs before the GEMM.
 */
#include "common.cuh"

namespace {

constexpr int THREADS = 256;

unsigned blocks_for(int64_t items)
{
    const int64_t b = (items + THREADS - 1) / THREADS;
    return (unsigned)(b < (1 << 30) ? b : (1 << 30)); /* kernels loop with a grid stride */
}

__device__ __forceinline__ float round_to(w4a16_dtype t, float f)
{
    return t == W4A16_DTYPE_FP16 ? __half2float(__float2half_rn(f)) : __bfloat162float(__float2bfloat16_rn(f));
}

/* One thread per (row, group). */
__global__ void quantize_kernel(w4a16_dtype src_dtype, const void *w, int64_t n, int64_t k, int64_t group,
                                int zmode, w4a16_dtype sdt, uint8_t *q, void *scales, void *zeros)
{
    const int64_t groups = k / group;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * groups;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t g = i / n, row = i % n; /* adjacent threads: adjacent rows */
        const int64_t k0 = g * group;
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t kk = k0; kk < k0 + group; kk++) {
            const float x = load_any(src_dtype, w, row * k + kk);
            lo = fminf(lo, x);
            hi = fmaxf(hi, x);
        }
        float s = round_to(sdt, w4a16_raw_scale(zmode, lo, hi));
        if (s == 0.0f) s = 1.0f;
        int z = 8;
        float zf = 0.0f;
        store_any(sdt, scales, g * n + row, s);
        if (zmode == W4A16_ZEROS_INT) {
            z = w4a16_int_zero(s, lo);
            ((uint8_t *)zeros)[g * n + row] = (uint8_t)z;
        } else if (zmode == W4A16_ZEROS_FLOAT) {
            zf = round_to(sdt, w4a16_float_zero(s, lo));
            store_any(sdt, zeros, g * n + row, zf);
        }
        for (int64_t kk = k0; kk < k0 + group; kk += 2) {
            const int v0 = w4a16_quantize_value(zmode, s, z, zf, load_any(src_dtype, w, row * k + kk));
            const int v1 = w4a16_quantize_value(zmode, s, z, zf, load_any(src_dtype, w, row * k + kk + 1));
            q[row * (k / 2) + kk / 2] = (uint8_t)(v0 | (v1 << 4));
        }
    }
}

/* One thread per 32-bit word of packed data (thread t, k16 step j of one 64x64 tile). */
__global__ void pack_kernel(const uint8_t *q, int64_t n, int64_t k, uint8_t *packed)
{
    const int64_t tiles_k = w4a16_pack_tiles_k(k);
    const int64_t words = w4a16_pack_tiles_n(n) * tiles_k * (W4A16_PACK_TILE_BYTES / 4);
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        w4a16_pack_header *h = (w4a16_pack_header *)packed; /* packed is 16-byte aligned */
        for (int i = 0; i < 8; i++) h->magic[i] = W4A16_PACK_MAGIC[i];
        h->version = W4A16_PACKED_LAYOUT_VERSION;
        h->reserved = 0;
        h->n = n;
        h->k = k;
        for (int i = (int)sizeof *h; i < W4A16_PACK_HEADER_BYTES; i++) packed[i] = 0;
    }
    uint32_t *data = (uint32_t *)(packed + W4A16_PACK_HEADER_BYTES);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < words; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t tile = i / 512;
        const int t = (int)(i % 512) / 4, j = (int)(i % 4);
        const int64_t nt = tile / tiles_k, kt = tile % tiles_k;
        const int wq = t / 32, g = (t % 32) / 4, c = t % 4;
        uint32_t word = 0;
        for (int slot = 0; slot < 8; slot++) {
            const int64_t row = nt * 64 + 16 * wq + g + 8 * ((slot >> 1) & 1);
            const int64_t kk = kt * 64 + 16 * j + 2 * c + (slot & 1) + 8 * (slot >> 2);
            uint32_t v = 8; /* padding */
            if (row < n && kk < k) v = (q[row * (k / 2) + kk / 2] >> (4 * (kk & 1))) & 0xf;
            word |= v << (4 * ((slot >> 1) + 4 * (slot & 1)));
        }
        data[i] = word;
    }
}

/* One thread per byte of q (two consecutive k of one row). */
__global__ void unpack_kernel(const uint8_t *packed, int64_t n, int64_t k, uint8_t *q)
{
    const int64_t tiles_k = w4a16_pack_tiles_k(k);
    const uint8_t *data = packed + W4A16_PACK_HEADER_BYTES;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * (k / 2);
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = i / (k / 2), kk = 2 * (i % (k / 2));
        uint8_t out = 0;
        for (int h = 0; h < 2; h++) {
            int64_t byte;
            int shift;
            w4a16_pack_locate(row, kk + h, tiles_k, &byte, &shift);
            out |= (uint8_t)(((data[byte] >> shift) & 0xf) << (4 * h));
        }
        q[i] = out;
    }
}

__global__ void dequantize_kernel(const uint8_t *q, int64_t n, int64_t k, int64_t group, int zmode,
                                  w4a16_dtype sdt, const void *scales, const void *zeros, w4a16_dtype odt,
                                  void *w)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * k; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = i / k, kk = i % k;
        const int64_t gi = (kk / group) * n + row;
        const int v = (q[row * (k / 2) + kk / 2] >> (4 * (kk & 1))) & 0xf;
        const float s = load_any(sdt, scales, gi);
        int z = 8;
        float zf = 0.0f;
        if (zmode == W4A16_ZEROS_INT) z = ((const uint8_t *)zeros)[gi];
        if (zmode == W4A16_ZEROS_FLOAT) zf = load_any(sdt, zeros, gi);
        store_any(odt, w, i, w4a16_dequant_value(zmode, v, z, s, zf));
    }
}

/* out[row, j] = a[row, perm[j]] (2-byte elements, bits copied); NaN bits where perm[j] is out
 * of [0, k). Threads along j (coalesced stores), grid y over rows. */
__global__ void gather_cols_kernel(const uint16_t *a, int64_t lda, int64_t m, int64_t k, const int32_t *perm,
                                   uint16_t nan_bits, uint16_t *out)
{
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < k; j += (int64_t)gridDim.x * blockDim.x) {
        const int32_t src = perm[j];
        const bool ok = src >= 0 && src < k;
        for (int64_t row = blockIdx.y; row < m; row += gridDim.y)
            out[row * k + j] = ok ? a[row * lda + src] : nan_bits;
    }
}

} // namespace

extern "C" int w4a16_launch_gather_cols(w4a16_dtype dtype, const void *a, int64_t lda, int64_t m, int64_t k,
                                        const int32_t *perm, void *out, cudaStream_t stream)
{
    const int64_t bx = (k + THREADS - 1) / THREADS;
    const dim3 grid((unsigned)(bx < 65535 ? bx : 65535), (unsigned)(m < 65535 ? m : 65535));
    gather_cols_kernel<<<grid, THREADS, 0, stream>>>((const uint16_t *)a, lda, m, k, perm,
                                                     dtype == W4A16_DTYPE_FP16 ? 0x7E00 : 0x7FC0, (uint16_t *)out);
    return launch_status();
}

extern "C" int w4a16_launch_quantize(w4a16_dtype src_dtype, const void *w, int64_t n, int64_t k, int64_t group,
                                     w4a16_zero_mode zmode, w4a16_dtype sdt, uint8_t *q, void *scales,
                                     void *zeros, cudaStream_t stream)
{
    quantize_kernel<<<blocks_for(n * (k / group)), THREADS, 0, stream>>>(src_dtype, w, n, k, group, (int)zmode,
                                                                         sdt, q, scales, zeros);
    return launch_status();
}

extern "C" int w4a16_launch_pack(const uint8_t *q, int64_t n, int64_t k, void *packed, cudaStream_t stream)
{
    const int64_t words = w4a16_pack_tiles_n(n) * w4a16_pack_tiles_k(k) * (W4A16_PACK_TILE_BYTES / 4);
    pack_kernel<<<blocks_for(words), THREADS, 0, stream>>>(q, n, k, (uint8_t *)packed);
    return launch_status();
}

extern "C" int w4a16_launch_unpack(const void *packed, int64_t n, int64_t k, uint8_t *q, cudaStream_t stream)
{
    unpack_kernel<<<blocks_for(n * (k / 2)), THREADS, 0, stream>>>((const uint8_t *)packed, n, k, q);
    return launch_status();
}

extern "C" int w4a16_launch_dequantize(const uint8_t *q, int64_t n, int64_t k, int64_t group,
                                       w4a16_zero_mode zmode, w4a16_dtype sdt, const void *scales,
                                       const void *zeros, w4a16_dtype odt, void *w, cudaStream_t stream)
{
    dequantize_kernel<<<blocks_for(n * k), THREADS, 0, stream>>>(q, n, k, group, (int)zmode, sdt, scales, zeros,
                                                                 odt, w);
    return launch_status();
}

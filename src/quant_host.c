/* quant_host.c - weight preparation on the host: quantize, pack, unpack, dequantize. */
#include "internal.h"
#include "packed_layout.h"
#include "quant_math.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

float w4a16_half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const int exp = (h >> 10) & 0x1f;
    const uint32_t man = h & 0x3ff;
    float f;
    if (exp == 0) {
        f = ldexpf((float)man, -24);
    } else if (exp == 31) {
        f = man ? NAN : INFINITY;
    } else {
        f = ldexpf((float)(man | 0x400), exp - 25);
    }
    union { float f; uint32_t u; } v = {f};
    v.u |= sign;
    return v.f;
}

uint16_t w4a16_float_to_half(float f)
{
    union { float f; uint32_t u; } v = {f};
    const uint16_t sign = (uint16_t)((v.u >> 16) & 0x8000);
    const float a = fabsf(f);
    if (a != a) return (uint16_t)(sign | 0x7e00);
    if (a >= 65520.0f) return (uint16_t)(sign | 0x7c00); /* rounds to inf */
    if (a < ldexpf(1.0f, -14)) {
        /* subnormal: units of 2^-24, nearbyintf rounds half to even in the default mode */
        return (uint16_t)(sign | (uint16_t)nearbyintf(a * 16777216.0f));
    }
    int e;
    frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    /* 11 significant bits: scale so that the integer part holds them, round to even */
    float m = nearbyintf(ldexpf(a, 11 - e));
    if (m >= 2048.0f) { m *= 0.5f; e += 1; }
    const int hexp = e - 1 + 15;
    if (hexp >= 31) return (uint16_t)(sign | 0x7c00);
    return (uint16_t)(sign | (hexp << 10) | ((uint32_t)m & 0x3ff));
}

float w4a16_bf16_to_float(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

uint16_t w4a16_float_to_bf16(float f)
{
    union { float f; uint32_t u; } v = {f};
    if (f != f) return (uint16_t)((v.u >> 16) | 0x40);
    const uint32_t round = 0x7fff + ((v.u >> 16) & 1);
    return (uint16_t)((v.u + round) >> 16);
}

size_t w4a16_dtype_size(w4a16_dtype t) { return t == W4A16_DTYPE_FP32 ? 4 : 2; }

float w4a16_load_elem(w4a16_dtype t, const void *p, int64_t i)
{
    switch (t) {
    case W4A16_DTYPE_FP16: return w4a16_half_to_float(((const uint16_t *)p)[i]);
    case W4A16_DTYPE_BF16: return w4a16_bf16_to_float(((const uint16_t *)p)[i]);
    case W4A16_DTYPE_FP32: return ((const float *)p)[i];
    }
    return 0.0f;
}

void w4a16_store_elem(w4a16_dtype t, void *p, int64_t i, float f)
{
    switch (t) {
    case W4A16_DTYPE_FP16: ((uint16_t *)p)[i] = w4a16_float_to_half(f); break;
    case W4A16_DTYPE_BF16: ((uint16_t *)p)[i] = w4a16_float_to_bf16(f); break;
    case W4A16_DTYPE_FP32: ((float *)p)[i] = f; break;
    }
}

static float round_to(w4a16_dtype t, float f)
{
    return t == W4A16_DTYPE_FP16 ? w4a16_half_to_float(w4a16_float_to_half(f))
                                 : w4a16_bf16_to_float(w4a16_float_to_bf16(f));
}

w4a16_status w4a16_quantize_host(w4a16_dtype src_dtype, const void *w, int64_t n, int64_t k,
                                 int64_t group_size, w4a16_zero_mode zero_mode,
                                 w4a16_dtype scale_dtype, uint8_t *q, void *scales, void *zeros)
{
    w4a16_status st = w4a16_check_quant_args(src_dtype, w, n, k, group_size, zero_mode, scale_dtype,
                                             q, scales, zeros, 0);
    if (st) return st;
    /* Check finiteness first so that a failure writes nothing. */
    for (int64_t i = 0; i < n * k; i++) {
        const float x = w4a16_load_elem(src_dtype, w, i);
        if (!isfinite(x))
            return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "w[%" PRId64 ", %" PRId64 "] is not finite",
                              i / k, i % k);
    }
    memset(q, 0, (size_t)(n * (k / 2)));
    const int64_t groups = k / group_size;
    for (int64_t row = 0; row < n; row++) {
        for (int64_t g = 0; g < groups; g++) {
            const int64_t k0 = g * group_size;
            float lo = INFINITY, hi = -INFINITY;
            for (int64_t kk = k0; kk < k0 + group_size; kk++) {
                const float x = w4a16_load_elem(src_dtype, w, row * k + kk);
                lo = fminf(lo, x);
                hi = fmaxf(hi, x);
            }
            float s = round_to(scale_dtype, w4a16_raw_scale((int)zero_mode, lo, hi));
            if (s == 0.0f) s = 1.0f; /* a tiny range can round to 0 in the scale dtype */
            int z = 8;
            float zf = 0.0f;
            w4a16_store_elem(scale_dtype, scales, g * n + row, s);
            if (zero_mode == W4A16_ZEROS_INT) {
                z = w4a16_int_zero(s, lo);
                ((uint8_t *)zeros)[g * n + row] = (uint8_t)z;
            } else if (zero_mode == W4A16_ZEROS_FLOAT) {
                zf = round_to(scale_dtype, w4a16_float_zero(s, lo));
                w4a16_store_elem(scale_dtype, zeros, g * n + row, zf);
            }
            for (int64_t kk = k0; kk < k0 + group_size; kk++) {
                const float x = w4a16_load_elem(src_dtype, w, row * k + kk);
                const int v = w4a16_quantize_value((int)zero_mode, s, z, zf, x);
                q[row * (k / 2) + kk / 2] |= (uint8_t)(v << (4 * (kk & 1)));
            }
        }
    }
    return w4a16_ok();
}

w4a16_status w4a16_dequantize_host(const uint8_t *q, int64_t n, int64_t k, int64_t group_size,
                                   w4a16_zero_mode zero_mode, w4a16_dtype scale_dtype,
                                   const void *scales, const void *zeros, w4a16_dtype out_dtype,
                                   void *w)
{
    w4a16_status st = w4a16_check_quant_args(out_dtype, w, n, k, group_size, zero_mode, scale_dtype,
                                             q, scales, zeros, 0);
    if (st) return st;
    for (int64_t row = 0; row < n; row++) {
        for (int64_t kk = 0; kk < k; kk++) {
            const int64_t gi = (kk / group_size) * n + row;
            const int v = (q[row * (k / 2) + kk / 2] >> (4 * (kk & 1))) & 0xf;
            const float s = w4a16_load_elem(scale_dtype, scales, gi);
            float zf = 0.0f;
            int z = 8;
            if (zero_mode == W4A16_ZEROS_INT) z = ((const uint8_t *)zeros)[gi];
            if (zero_mode == W4A16_ZEROS_FLOAT) zf = w4a16_load_elem(scale_dtype, zeros, gi);
            w4a16_store_elem(out_dtype, w, row * k + kk, w4a16_dequant_value((int)zero_mode, v, z, s, zf));
        }
    }
    return w4a16_ok();
}

w4a16_status w4a16_packed_size(int64_t n, int64_t k, size_t *bytes)
{
    w4a16_status st;
    if (!bytes) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "bytes is NULL");
    if ((st = w4a16_check_weight_shape(n, k))) return st;
    *bytes = W4A16_PACK_HEADER_BYTES +
             (size_t)(w4a16_pack_tiles_n(n) * w4a16_pack_tiles_k(k)) * W4A16_PACK_TILE_BYTES;
    return w4a16_ok();
}

w4a16_status w4a16_pack_host(const uint8_t *q, int64_t n, int64_t k, void *packed, size_t packed_bytes)
{
    w4a16_status st = w4a16_check_pack_args(q, n, k, packed, packed_bytes, 0);
    if (st) return st;
    size_t total;
    w4a16_packed_size(n, k, &total);
    uint8_t *out = (uint8_t *)packed;
    /* Header, then every nibble set to 8 (padding dequantizes to 0 in the symmetric mode). */
    memset(out, 0, W4A16_PACK_HEADER_BYTES);
    w4a16_pack_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memcpy(hdr.magic, W4A16_PACK_MAGIC, 8);
    hdr.version = W4A16_PACKED_LAYOUT_VERSION;
    hdr.n = n;
    hdr.k = k;
    memcpy(out, &hdr, sizeof hdr);
    uint8_t *data = out + W4A16_PACK_HEADER_BYTES;
    memset(data, 0x88, total - W4A16_PACK_HEADER_BYTES);
    const int64_t tk = w4a16_pack_tiles_k(k);
    for (int64_t row = 0; row < n; row++) {
        for (int64_t kk = 0; kk < k; kk++) {
            const int v = (q[row * (k / 2) + kk / 2] >> (4 * (kk & 1))) & 0xf;
            int64_t byte;
            int shift;
            w4a16_pack_locate(row, kk, tk, &byte, &shift);
            data[byte] = (uint8_t)((data[byte] & ~(0xf << shift)) | (v << shift));
        }
    }
    return w4a16_ok();
}

w4a16_status w4a16_unpack_host(const void *packed, size_t packed_bytes, int64_t n, int64_t k,
                               uint8_t *q, size_t q_bytes)
{
    w4a16_status st = w4a16_check_unpack_args(packed, packed_bytes, n, k, q, q_bytes, 0);
    if (st) return st;
    w4a16_pack_header hdr;
    memcpy(&hdr, packed, sizeof hdr);
    if (memcmp(hdr.magic, W4A16_PACK_MAGIC, 8) != 0)
        return w4a16_fail(W4A16_ERROR_BAD_PACKED_LAYOUT, "packed tensor has no w4a16 header (bad magic)");
    if (hdr.version != W4A16_PACKED_LAYOUT_VERSION)
        return w4a16_fail(W4A16_ERROR_BAD_PACKED_LAYOUT,
                          "packed layout version %u is not the supported version %d", hdr.version,
                          W4A16_PACKED_LAYOUT_VERSION);
    if (hdr.n != n || hdr.k != k)
        return w4a16_fail(W4A16_ERROR_BAD_PACKED_LAYOUT,
                          "packed tensor is [%" PRId64 ", %" PRId64 "], not the requested [%" PRId64 ", %" PRId64 "]",
                          hdr.n, hdr.k, n, k);
    const uint8_t *data = (const uint8_t *)packed + W4A16_PACK_HEADER_BYTES;
    const int64_t tk = w4a16_pack_tiles_k(k);
    memset(q, 0, (size_t)(n * (k / 2)));
    for (int64_t row = 0; row < n; row++) {
        for (int64_t kk = 0; kk < k; kk++) {
            int64_t byte;
            int shift;
            w4a16_pack_locate(row, kk, tk, &byte, &shift);
            const int v = (data[byte] >> shift) & 0xf;
            q[row * (k / 2) + kk / 2] |= (uint8_t)(v << (4 * (kk & 1)));
        }
    }
    return w4a16_ok();
}

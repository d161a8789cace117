/* test_quant.c - dequantization and quantization on the host against hand-computed numbers.
 *   - w4a16_dequantize_host for each zero mode, scale dtype fp16/bf16, output fp32/fp16/bf16:
 *     expected values written out below (computed by hand in fp32, then rounded once to the
 *     output dtype, round-to-nearest-even);
 *   - the [G, N] layout of scales and zeros with several groups;
 *   - w4a16_quantize_host on hand-made groups (all equal, an outlier, negative only, ...)
 *     with the expected q, scales and zeros written out;
 *   - a property check on random groups, many of them one-signed: |w - dequant(q)| <= s. */
#include "check.h"
#include "ref.h"
#include "w4a16.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Independent decoders (not the library's): fp16 and bf16 bit patterns to double. */
static double half_bits(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

static double bf16_bits(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* fp16 bits of a small dyadic value (exact in fp16; checked by decoding it back). */
static uint16_t half_exact(float f)
{
    const float a = fabsf(f);
    if (a == 0.0f) return 0;
    int e;
    const float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    const uint16_t h = (uint16_t)((f < 0 ? 0x8000 : 0) | ((e - 1 + 15) << 10) | ((int)(m * 2048.0f) & 1023));
    CHECK(half_bits(h) == f, "%g is not exact in fp16", f);
    return h;
}

static double out_elem(w4a16_dtype t, const void *p, int i)
{
    if (t == W4A16_DTYPE_FP32) return ((const float *)p)[i];
    const uint16_t h = ((const uint16_t *)p)[i];
    return t == W4A16_DTYPE_FP16 ? half_bits(h) : bf16_bits(h);
}

static const char *dt(w4a16_dtype t) { return t == W4A16_DTYPE_FP16 ? "fp16" : t == W4A16_DTYPE_BF16 ? "bf16" : "fp32"; }
static const char *zm(w4a16_zero_mode z) { return z == W4A16_ZEROS_NONE ? "NONE" : z == W4A16_ZEROS_INT ? "INT" : "FLOAT"; }

/* ---- dequantization: N = 8 rows, K = 8, per-channel group ------------------------------ */
/* Row 0: s = 0.5, z = 3, zf = -1.25 (exact in every dtype). Row 1: s = 0.1, z = 12, zf = 0.3,
 * which round in the scale dtype: fp16 0.1 = 0x2E66 = 0.0999755859375, 0.3 = 0x34CD =
 * 0.300048828125; bf16 0.1 = 0x3DCD = 0.10009765625, 0.3 = 0x3E9A = 0.30078125.
 * Rows 2..7 repeat row 0 with scale 1 (checked by formula). */
static const uint8_t dq_q[2][8] = {{0, 1, 7, 8, 9, 15, 3, 12}, {15, 14, 0, 8, 5, 10, 2, 13}};
static const uint16_t dq_scale_bits[2][2] = {{0x3800, 0x2E66}, {0x3F00, 0x3DCD}}; /* [fp16|bf16][row] */
static const uint16_t dq_zf_bits[2][2] = {{0xBD00, 0x34CD}, {0xBFA0, 0x3E9A}};
static const uint8_t dq_z[2] = {3, 12};

/* Row 0 in every dtype combination, [mode][k]. */
static const double dq_row0[3][8] = {
    {-4.0, -3.5, -0.5, 0.0, 0.5, 3.5, -2.5, 2.0},       /* (q - 8) * 0.5 */
    {-1.5, -1.0, 2.0, 2.5, 3.0, 6.0, 0.0, 4.5},         /* (q - 3) * 0.5 */
    {-5.25, -4.75, -1.75, -1.25, -0.75, 2.25, -3.75, 0.75}, /* (q - 8) * 0.5 - 1.25 */
};

/* Row 1, [mode][k], per (scale dtype -> output dtype). */
static const struct {
    w4a16_dtype sdt, odt;
    double row1[3][8];
} dq_cases[] = {
    {W4A16_DTYPE_FP16, W4A16_DTYPE_FP32,
     {{0.6998291015625, 0.599853515625, -0.7998046875, 0.0, -0.2999267578125, 0.199951171875, -0.599853515625, 0.4998779296875},
      {0.2999267578125, 0.199951171875, -1.19970703125, -0.39990234375, -0.6998291015625, -0.199951171875, -0.999755859375, 0.0999755859375},
      {0.9998779296875, 0.89990234375, -0.499755859375, 0.300048828125, 0.0001220703125, 0.5, -0.2998046875, 0.7999267578125}}},
    {W4A16_DTYPE_FP16, W4A16_DTYPE_FP16,
     {{0.69970703125, 0.599609375, -0.7998046875, 0.0, -0.2998046875, 0.199951171875, -0.599609375, 0.5},
      {0.2998046875, 0.199951171875, -1.19921875, -0.39990234375, -0.69970703125, -0.199951171875, -1.0, 0.0999755859375},
      {1.0, 0.89990234375, -0.499755859375, 0.300048828125, 0.0001220703125, 0.5, -0.2998046875, 0.7998046875}}},
    {W4A16_DTYPE_FP16, W4A16_DTYPE_BF16,
     {{0.69921875, 0.6015625, -0.80078125, 0.0, -0.30078125, 0.2001953125, -0.6015625, 0.5},
      {0.30078125, 0.2001953125, -1.203125, -0.400390625, -0.69921875, -0.2001953125, -1.0, 0.10009765625},
      {1.0, 0.8984375, -0.5, 0.30078125, 0.0001220703125, 0.5, -0.30078125, 0.80078125}}},
    {W4A16_DTYPE_BF16, W4A16_DTYPE_FP32,
     {{0.70068359375, 0.6005859375, -0.80078125, 0.0, -0.30029296875, 0.2001953125, -0.6005859375, 0.50048828125},
      {0.30029296875, 0.2001953125, -1.201171875, -0.400390625, -0.70068359375, -0.2001953125, -1.0009765625, 0.10009765625},
      {1.00146484375, 0.9013671875, -0.5, 0.30078125, 0.00048828125, 0.5009765625, -0.2998046875, 0.80126953125}}},
    {W4A16_DTYPE_BF16, W4A16_DTYPE_FP16,
     {{0.70068359375, 0.6005859375, -0.80078125, 0.0, -0.30029296875, 0.2001953125, -0.6005859375, 0.50048828125},
      {0.30029296875, 0.2001953125, -1.201171875, -0.400390625, -0.70068359375, -0.2001953125, -1.0009765625, 0.10009765625},
      {1.001953125, 0.9013671875, -0.5, 0.30078125, 0.00048828125, 0.5009765625, -0.2998046875, 0.80126953125}}},
    {W4A16_DTYPE_BF16, W4A16_DTYPE_BF16,
     {{0.69921875, 0.6015625, -0.80078125, 0.0, -0.30078125, 0.2001953125, -0.6015625, 0.5},
      {0.30078125, 0.2001953125, -1.203125, -0.400390625, -0.69921875, -0.2001953125, -1.0, 0.10009765625},
      {1.0, 0.90234375, -0.5, 0.30078125, 0.00048828125, 0.5, -0.30078125, 0.80078125}}},
};

static void test_dequant_hand(void)
{
    const int64_t n = 8, k = 8;
    uint8_t q[8 * 4];
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 8; c += 2) {
            const uint8_t *src = dq_q[r == 1 ? 1 : 0];
            q[r * 4 + c / 2] = (uint8_t)(src[c] | (src[c + 1] << 4));
        }
    for (size_t ci = 0; ci < sizeof dq_cases / sizeof dq_cases[0]; ci++) {
        const w4a16_dtype sdt = dq_cases[ci].sdt, odt = dq_cases[ci].odt;
        const int si = sdt == W4A16_DTYPE_BF16;
        const uint16_t one = si ? 0x3F80 : 0x3C00;
        uint16_t scales[8], zf[8];
        uint8_t zi[8];
        for (int r = 0; r < 8; r++) {
            scales[r] = r < 2 ? dq_scale_bits[si][r] : one;
            zf[r] = r < 2 ? dq_zf_bits[si][r] : 0;
            zi[r] = r < 2 ? dq_z[r] : 8;
        }
        for (int mode = 0; mode < 3; mode++) {
            const w4a16_zero_mode z = (w4a16_zero_mode)mode;
            const void *zeros = z == W4A16_ZEROS_INT ? (const void *)zi : z == W4A16_ZEROS_FLOAT ? (const void *)zf : NULL;
            union { float f[64]; uint16_t h[64]; } out;
            memset(&out, 0xff, sizeof out);
            const w4a16_status st = w4a16_dequantize_host(q, n, k, k, z, sdt, scales, zeros, odt, out.f);
            CHECK(st == W4A16_SUCCESS, "dequantize %s->%s %s: %s", dt(sdt), dt(odt), zm(z), w4a16_last_error());
            for (int c = 0; c < 8; c++) {
                const double got0 = out_elem(odt, &out, c), got1 = out_elem(odt, &out, 8 + c);
                CHECK(got0 == dq_row0[mode][c], "%s->%s %s row 0 k=%d: got %.10g want %.10g", dt(sdt), dt(odt),
                      zm(z), c, got0, dq_row0[mode][c]);
                CHECK(got1 == dq_cases[ci].row1[mode][c], "%s->%s %s row 1 k=%d: got %.10g want %.10g", dt(sdt),
                      dt(odt), zm(z), c, got1, dq_cases[ci].row1[mode][c]);
                for (int r = 2; r < 8; r++) {
                    /* scale 1, z 8, zf 0: q - 8 in every mode */
                    const double got = out_elem(odt, &out, 8 * r + c), want = (double)dq_q[0][c] - 8.0;
                    CHECK(got == want, "%s->%s %s row %d k=%d: got %g want %g", dt(sdt), dt(odt), zm(z), r, c, got,
                          want);
                }
            }
        }
    }
}

/* Several groups: scales[g][n] = (n + 1) * (g == 0 ? 0.25 : 2), int zeros[g][n] = (n + g) % 16,
 * float zeros[g][n] = g == 0 ? -n : 0.5 n (all exact in fp16): the [G, N] indexing. */
static void test_dequant_groups(void)
{
    const int64_t n = 8, k = 128, g = 64;
    uint8_t q[8 * 64];
    uint16_t scales[2 * 8], zf[2 * 8], out[8 * 128];
    uint8_t zi[2 * 8];
    for (int i = 0; i < 8 * 64; i++) q[i] = (uint8_t)(i * 7 + (i >> 3));
    for (int gi = 0; gi < 2; gi++)
        for (int r = 0; r < 8; r++) {
            const float sv = (float)(r + 1) * (gi == 0 ? 0.25f : 2.0f);
            const float zv = gi == 0 ? -(float)r : 0.5f * (float)r;
            const uint16_t sb = half_exact(sv), zb = half_exact(zv);
            scales[gi * 8 + r] = sb;
            zf[gi * 8 + r] = zb;
            zi[gi * 8 + r] = (uint8_t)((r + gi) % 16);
        }
    for (int mode = 0; mode < 3; mode++) {
        const w4a16_zero_mode z = (w4a16_zero_mode)mode;
        const void *zeros = z == W4A16_ZEROS_INT ? (const void *)zi : z == W4A16_ZEROS_FLOAT ? (const void *)zf : NULL;
        CHECK(w4a16_dequantize_host(q, n, k, g, z, W4A16_DTYPE_FP16, scales, zeros, W4A16_DTYPE_FP16, out) ==
                  W4A16_SUCCESS,
              "dequantize groups %s: %s", zm(z), w4a16_last_error());
        int bad = 0;
        for (int r = 0; r < 8; r++)
            for (int c = 0; c < 128; c++) {
                const int gi = c / 64, v = (q[r * 64 + c / 2] >> (4 * (c & 1))) & 15;
                const double s = (r + 1) * (gi == 0 ? 0.25 : 2.0);
                double want = (v - 8) * s;
                if (z == W4A16_ZEROS_INT) want = (v - (r + gi) % 16) * s;
                if (z == W4A16_ZEROS_FLOAT) want += gi == 0 ? -r : 0.5 * r;
                const double got = half_bits(out[r * 128 + c]);
                if (got != want && bad++ < 5)
                    fprintf(stderr, "  groups %s: [%d, %d] got %g want %g\n", zm(z), r, c, got, want);
            }
        CHECK(bad == 0, "groups %s: %d wrong values", zm(z), bad);
    }
}

/* ---- quantization of hand-made groups: N = 8 rows, K = 8, per-channel group ---------------- */
static const float qz_rows[8][8] = {
    {0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f},                /* all equal */
    {0.1f, -0.1f, 0.05f, 0.0f, 0.2f, -0.15f, 0.1f, 7.0f},             /* an outlier */
    {-1.0f, -0.5f, -0.75f, -0.6f, -0.9f, -0.55f, -0.8f, -0.7f},       /* negative only */
    {-3.5f, -3.0f, -2.0f, -1.0f, 0.0f, 1.0f, 2.0f, 3.5f},             /* symmetric, exact */
    {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},                 /* all zero */
    {0.5f, 0.75f, 1.0f, 1.25f, 1.5f, 1.75f, 2.0f, 2.25f},             /* positive only */
    {-3.5f, -3.0f, -2.0f, -1.0f, 0.0f, 1.0f, 2.0f, 3.5f},             /* (rows 6, 7 repeat 3, 5) */
    {0.5f, 0.75f, 1.0f, 1.25f, 1.5f, 1.75f, 2.0f, 2.25f},
};
static const int qz_same_as[8] = {0, 1, 2, 3, 4, 5, 3, 5};

typedef struct {
    uint8_t q[6][8];
    double s[6];
    int z[6];     /* INT */
    double zf[6]; /* FLOAT */
} qz_expect;

/* [scale dtype][mode]: computed by hand from the header's formulas, all arithmetic in fp32. */
static const qz_expect qz_want[2][3] = {
    {/* fp16 scales */
     {{{15, 15, 15, 15, 15, 15, 15, 15}, {8, 8, 8, 8, 8, 8, 8, 15}, {1, 4, 3, 4, 2, 4, 2, 3},
       {1, 2, 4, 6, 8, 10, 12, 15}, {8, 8, 8, 8, 8, 8, 8, 8}, {10, 10, 11, 12, 13, 13, 14, 15}},
      {0.0428466796875, 1.0, 0.142822265625, 0.5, 1.0, 0.321533203125}, {0}, {0}},
     {{{15, 15, 15, 15, 15, 15, 15, 15}, {0, 0, 0, 0, 0, 0, 0, 15}, {0, 7, 4, 6, 1, 7, 3, 4},
       {0, 2, 4, 6, 8, 10, 12, 15}, {0, 0, 0, 0, 0, 0, 0, 0}, {3, 5, 7, 8, 10, 12, 13, 15}},
      {0.0200042724609375, 0.4765625, 0.066650390625, 0.466552734375, 1.0, 0.1500244140625},
      {0, 0, 15, 8, 0, 0}, {0}},
     {{{0, 0, 0, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 1, 0, 1, 15}, {0, 15, 8, 12, 3, 14, 6, 9},
       {0, 1, 3, 5, 8, 10, 12, 15}, {0, 0, 0, 0, 0, 0, 0, 0}, {0, 2, 4, 6, 9, 11, 13, 15}},
      {1.0, 0.4765625, 0.0333251953125, 0.466552734375, 1.0, 0.11663818359375}, {0},
      {8.296875, 3.662109375, -0.7333984375, 0.232421875, 8.0, 1.43359375}}},
    {/* bf16 scales */
     {{{15, 15, 15, 15, 15, 15, 15, 15}, {8, 8, 8, 8, 8, 8, 8, 15}, {1, 4, 3, 4, 2, 4, 2, 3},
       {1, 2, 4, 6, 8, 10, 12, 15}, {8, 8, 8, 8, 8, 8, 8, 8}, {10, 10, 11, 12, 13, 13, 14, 15}},
      {0.04296875, 1.0, 0.142578125, 0.5, 1.0, 0.322265625}, {0}, {0}},
     {{{15, 15, 15, 15, 15, 15, 15, 15}, {0, 0, 0, 0, 0, 0, 0, 15}, {0, 8, 4, 6, 2, 7, 3, 5},
       {0, 1, 3, 5, 7, 9, 11, 14}, {0, 0, 0, 0, 0, 0, 0, 0}, {3, 5, 7, 8, 10, 12, 13, 15}},
      {0.02001953125, 0.4765625, 0.06689453125, 0.466796875, 1.0, 0.150390625}, {0, 0, 15, 7, 0, 0}, {0}},
     {{{0, 0, 0, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 1, 0, 1, 15}, {0, 15, 8, 12, 3, 14, 6, 9},
       {0, 1, 3, 5, 7, 10, 12, 15}, {0, 0, 0, 0, 0, 0, 0, 0}, {0, 2, 4, 6, 9, 11, 13, 15}},
      {1.0, 0.4765625, 0.033447265625, 0.466796875, 1.0, 0.11669921875}, {0},
      {8.3125, 3.65625, -0.734375, 0.234375, 8.0, 1.4375}}},
};

static void test_quantize_hand(void)
{
    const int64_t n = 8, k = 8;
    for (int si = 0; si < 2; si++) {
        const w4a16_dtype sdt = si ? W4A16_DTYPE_BF16 : W4A16_DTYPE_FP16;
        for (int mode = 0; mode < 3; mode++) {
            const w4a16_zero_mode z = (w4a16_zero_mode)mode;
            const qz_expect *e = &qz_want[si][mode];
            uint8_t q[32];
            uint16_t scales[8], zf[8];
            uint8_t zi[8];
            memset(zi, 0xee, sizeof zi);
            void *zeros = z == W4A16_ZEROS_INT ? (void *)zi : z == W4A16_ZEROS_FLOAT ? (void *)zf : NULL;
            CHECK(w4a16_quantize_host(W4A16_DTYPE_FP32, qz_rows, n, k, k, z, sdt, q, scales, zeros) == W4A16_SUCCESS,
                  "quantize %s %s: %s", dt(sdt), zm(z), w4a16_last_error());
            for (int r = 0; r < 8; r++) {
                const int x = qz_same_as[r];
                const double s = out_elem(sdt, scales, r);
                CHECK(s == e->s[x], "%s %s row %d: scale %.12g want %.12g", dt(sdt), zm(z), r, s, e->s[x]);
                if (z == W4A16_ZEROS_INT)
                    CHECK(zi[r] == e->z[x], "%s INT row %d: zero %d want %d", dt(sdt), r, zi[r], e->z[x]);
                if (z == W4A16_ZEROS_FLOAT) {
                    const double got = out_elem(sdt, zf, r);
                    CHECK(got == e->zf[x], "%s FLOAT row %d: zf %.12g want %.12g", dt(sdt), r, got, e->zf[x]);
                }
                for (int c = 0; c < 8; c++) {
                    const int v = (q[r * 4 + c / 2] >> (4 * (c & 1))) & 15;
                    CHECK(v == e->q[x][c], "%s %s row %d k=%d: q %d want %d", dt(sdt), zm(z), r, c, v, e->q[x][c]);
                }
            }
        }
    }
    /* The same exact values given as fp16 give the same q (row 3 and 5 are exact in fp16). */
    uint16_t w16[8 * 8];
    for (int i = 0; i < 64; i++) w16[i] = half_exact(qz_rows[3 + 2 * ((i / 8) & 1)][i % 8]);
    uint8_t q[32];
    uint16_t scales[8];
    CHECK(w4a16_quantize_host(W4A16_DTYPE_FP16, w16, 8, 8, 8, W4A16_ZEROS_NONE, W4A16_DTYPE_FP16, q, scales, NULL) ==
              W4A16_SUCCESS,
          "quantize fp16 source");
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 8; c++) {
            const int v = (q[r * 4 + c / 2] >> (4 * (c & 1))) & 15, x = r & 1 ? 5 : 3;
            CHECK(v == qz_want[0][0].q[x][c], "fp16 source row %d k=%d: q %d want %d", r, c, v, qz_want[0][0].q[x][c]);
        }
}

/* Random groups with random offsets (many all-positive or all-negative): every mode must
 * reconstruct each weight to within one scale step (half a step plus clamping at the edges). */
static void test_quantize_error_bound(void)
{
    const int64_t n = 64, k = 256;
    const int64_t gs[2] = {64, 256};
    ref_rng rng = {0xabcdef12345ULL};
    float *w = malloc(sizeof(float) * (size_t)(n * k)), *back = malloc(sizeof(float) * (size_t)(n * k));
    uint8_t *q = malloc((size_t)(n * k / 2));
    uint16_t *scales = malloc(2 * (size_t)(n * 4)), *zf = malloc(2 * (size_t)(n * 4));
    uint8_t *zi = malloc((size_t)(n * 4));
    if (!w || !back || !q || !scales || !zf || !zi) abort();
    for (int64_t r = 0; r < n; r++) {
        const float c = ref_rand_uniform(&rng, -2.0f, 2.0f), h = ref_rand_uniform(&rng, 0.01f, 1.0f);
        for (int64_t i = 0; i < k; i++) w[r * k + i] = c + ref_rand_uniform(&rng, -h, h);
    }
    for (int gi = 0; gi < 2; gi++)
        for (int si = 0; si < 2; si++)
            for (int mode = 0; mode < 3; mode++) {
                const int64_t g = gs[gi];
                const w4a16_dtype sdt = si ? W4A16_DTYPE_BF16 : W4A16_DTYPE_FP16;
                const w4a16_zero_mode z = (w4a16_zero_mode)mode;
                void *zeros = z == W4A16_ZEROS_INT ? (void *)zi : z == W4A16_ZEROS_FLOAT ? (void *)zf : NULL;
                CHECK(w4a16_quantize_host(W4A16_DTYPE_FP32, w, n, k, g, z, sdt, q, scales, zeros) == W4A16_SUCCESS,
                      "quantize");
                CHECK(w4a16_dequantize_host(q, n, k, g, z, sdt, scales, zeros, W4A16_DTYPE_FP32, back) == W4A16_SUCCESS,
                      "dequantize");
                int64_t bad = 0;
                for (int64_t r = 0; r < n; r++)
                    for (int64_t i = 0; i < k; i++) {
                        const int64_t gidx = (i / g) * n + r;
                        const double s = out_elem(sdt, scales, (int)gidx);
                        const double zoff = z == W4A16_ZEROS_FLOAT ? fabs(out_elem(sdt, zf, (int)gidx)) : 0.0;
                        /* one step, plus the rounding of zf to the scale dtype */
                        const double tol = 1.001 * s + zoff * (si ? 0x1p-8 : 0x1p-11);
                        const double err = fabs((double)back[r * k + i] - (double)w[r * k + i]);
                        if (!(err <= tol) && bad++ < 3)
                            fprintf(stderr, "  g=%lld %s %s: w[%lld,%lld]=%g back %g err %g > %g\n", (long long)g,
                                    dt(sdt), zm(z), (long long)r, (long long)i, w[r * k + i], back[r * k + i], err, tol);
                    }
                CHECK(bad == 0, "g=%lld %s %s: %lld weights off by more than one step", (long long)g, dt(sdt), zm(z),
                      (long long)bad);
            }
    free(w);
    free(back);
    free(q);
    free(scales);
    free(zf);
    free(zi);
}

int main(void)
{
    test_dequant_hand();
    test_dequant_groups();
    test_quantize_hand();
    test_quantize_error_bound();
    return check_exit_code("test_quant");
}

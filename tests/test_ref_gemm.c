/* test_ref_gemm.c - the CPU reference GEMM (tests/ref, ref_gemm_cpu) against a naive GEMM
 * written here from the header's formulas alone: its own nibble reader, fp16/bf16 decoders
 * and round-to-nearest-even encoders, no library call. Small shapes, every zero mode, both
 * dtypes, bias, alpha != 1, strided A with NaN in the padding (which must not be read); and
 * ref_check, on which every GPU test's verdict rests, against outputs it must pass and fail. */
#include "check.h"
#include "ref.h"
#include "w4a16.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static double decode(w4a16_dtype t, uint16_t h)
{
    if (t == W4A16_DTYPE_BF16) {
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    const int e = (h >> 10) & 31, m = h & 1023;
    const double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Round a float (finite, well inside the range) to the dtype's nearest value, ties to even. */
static double round_dtype(w4a16_dtype t, float f)
{
    if (f == 0.0f) return 0.0;
    const int bits = t == W4A16_DTYPE_BF16 ? 8 : 11; /* significant bits */
    int e;
    frexp((double)f, &e);
    if (t == W4A16_DTYPE_FP16 && e < -13) e = -13; /* fp16 subnormals: fixed quantum 2^-24 */
    return ldexp(nearbyint(ldexp((double)f, bits - e)), e - bits);
}

static void naive_gemm(const w4a16_problem *p, const uint16_t *a, const uint8_t *q, const uint16_t *scales,
                       const void *zeros, const uint16_t *bias, double *out)
{
    const int64_t N = p->n, K = p->k;
    double *wdq = malloc(sizeof(double) * (size_t)(N * K));
    if (!wdq) abort();
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            const int v = (q[n * (K / 2) + k / 2] >> (k % 2 ? 4 : 0)) & 15;
            const int64_t gi = (k / p->group_size) * N + n;
            const float s = (float)decode(p->dtype, scales[gi]);
            float w;
            if (p->zero_mode == W4A16_ZEROS_NONE) w = (float)(v - 8) * s;
            else if (p->zero_mode == W4A16_ZEROS_INT) w = (float)(v - ((const uint8_t *)zeros)[gi]) * s;
            else w = fmaf((float)(v - 8), s, (float)decode(p->dtype, ((const uint16_t *)zeros)[gi]));
            wdq[n * K + k] = round_dtype(p->dtype, w);
        }
    for (int64_t m = 0; m < p->m; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) acc += decode(p->dtype, a[m * p->lda + k]) * wdq[n * K + k];
            out[m * N + n] = (double)p->alpha * acc + (bias ? decode(p->dtype, bias[n]) : 0.0);
        }
    free(wdq);
}

/* ref_check itself: an output that is the reference rounded to the dtype passes; one element
 * moved by 1.5 units (of rtol * rms) passes, by 3 units fails, a NaN fails, and the ldd padding
 * is not read. The GPU tests' verdicts rest on it. */
static void test_ref_check(void)
{
    enum { M = 7, N = 40, LDD = 48 };
    for (int dtype = 0; dtype < 2; dtype++) {
        const w4a16_dtype t = (w4a16_dtype)dtype;
        const double rtol = t == W4A16_DTYPE_BF16 ? ldexp(1.0, -7) : ldexp(1.0, -10);
        double ref[M * N], ss = 0.0;
        uint16_t d[M * LDD];
        for (int i = 0; i < M * N; i++) {
            ref[i] = i == 5 ? 0.0 : 3.0 * sin(0.37 * i + 0.1 * dtype); /* element 5: tolerance = atol */
            ss += ref[i] * ref[i];
        }
        const double rms = sqrt(ss / (M * N)), unit = rtol * rms;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < LDD; n++)
                d[m * LDD + n] = n < N ? ref_bits_from_double(t, ref[m * N + n]) : (dtype ? 0x7fc1 : 0x7e01);
        double worst = 0.0;
        CHECK(ref_check("exact", t, d, M, N, LDD, ref, &worst) == 0, "dtype %d: the rounded reference fails", dtype);
        CHECK(worst <= 0.5, "dtype %d: the rounded reference at %.3g of the tolerance", dtype, worst);
        const uint16_t keep = d[5];
        d[5] = ref_bits_from_double(t, 1.5 * unit);
        CHECK(ref_check("1.5 units", t, d, M, N, LDD, ref, NULL) == 0, "dtype %d: 1.5 units off fails", dtype);
        d[5] = ref_bits_from_double(t, 3.0 * unit);
        CHECK(ref_check("3 units (expected to fail)", t, d, M, N, LDD, ref, NULL) == 1,
              "dtype %d: 3 units off passes", dtype);
        d[5] = keep;
        d[2 * LDD + 7] = dtype ? 0x7fc1 : 0x7e01;
        CHECK(ref_check("NaN (expected to fail)", t, d, M, N, LDD, ref, NULL) == 1, "dtype %d: a NaN passes", dtype);
    }
}

int main(void)
{
    test_ref_check();
    static const struct { int64_t m, n, k, g; } shapes[] = {
        {1, 8, 64, 64}, {3, 16, 128, 64}, {17, 24, 256, 128}, {5, 40, 200, 200}, {2, 8, 8, 8}, {9, 16, 384, 128},
    };
    static const float alphas[] = {1.0f, 0.5f, -2.25f};
    ref_rng rng = {0x1234567887654321ULL};
    int cases = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int dtype = 0; dtype < 2; dtype++)
            for (int mode = 0; mode < 3; mode++) {
                const int variant = cases++;
                const int with_bias = variant % 2, strided = (variant / 2) % 2;
                w4a16_problem p;
                w4a16_problem_init(&p, shapes[si].m, shapes[si].n, shapes[si].k, (w4a16_dtype)dtype, shapes[si].g,
                                   (w4a16_zero_mode)mode);
                p.alpha = alphas[variant % 3];
                if (strided) p.lda = p.k + 8;
                CHECK(w4a16_check_problem(&p) == W4A16_SUCCESS, "problem: %s", w4a16_last_error());
                const int64_t M = p.m, N = p.n, K = p.k, G = K / p.group_size;
                uint16_t *a = malloc(2 * (size_t)(M * p.lda)), *bias = malloc(2 * (size_t)N);
                float *w = malloc(sizeof(float) * (size_t)(N * K));
                uint8_t *q = malloc((size_t)(N * K / 2)), *zi = malloc((size_t)(G * N));
                uint16_t *scales = malloc(2 * (size_t)(G * N)), *zf = malloc(2 * (size_t)(G * N));
                double *want = malloc(sizeof(double) * (size_t)(M * N)), *got = malloc(sizeof(double) * (size_t)(M * N));
                if (!a || !bias || !w || !q || !zi || !scales || !zf || !want || !got) abort();
                for (int64_t i = 0; i < M * p.lda; i++) a[i] = dtype ? 0x7fc1 : 0x7e01; /* NaN padding */
                for (int64_t m = 0; m < M; m++) ref_fill_uniform(&rng, p.dtype, a + m * p.lda, K, -1.0f, 1.0f);
                ref_fill_uniform(&rng, p.dtype, bias, N, -1.0f, 1.0f);
                ref_fill_uniform(&rng, W4A16_DTYPE_FP32, w, N * K, -1.0f, 1.0f);
                void *zeros = mode == W4A16_ZEROS_INT ? (void *)zi : mode == W4A16_ZEROS_FLOAT ? (void *)zf : NULL;
                CHECK(w4a16_quantize_host(W4A16_DTYPE_FP32, w, N, K, p.group_size, p.zero_mode, p.dtype, q, scales,
                                          zeros) == W4A16_SUCCESS,
                      "quantize: %s", w4a16_last_error());
                const uint16_t *b = with_bias ? bias : NULL;
                CHECK(ref_gemm_cpu(&p, a, q, scales, zeros, b, got) == 0, "ref_gemm_cpu failed");
                naive_gemm(&p, a, q, scales, zeros, b, want);
                int64_t bad = 0;
                for (int64_t i = 0; i < M * N; i++) {
                    const double tol = 1e-12 * (1.0 + fabs(want[i]));
                    if (!(fabs(got[i] - want[i]) <= tol) && bad++ < 3)
                        fprintf(stderr, "  [m=%lld, n=%lld]: ref %.17g naive %.17g\n", (long long)(i / N),
                                (long long)(i % N), got[i], want[i]);
                }
                CHECK(bad == 0, "M=%lld N=%lld K=%lld g=%lld dtype=%d zeros=%d alpha=%g bias=%d lda=%lld: %lld differ",
                      (long long)M, (long long)N, (long long)K, (long long)p.group_size, dtype, mode, p.alpha,
                      with_bias, (long long)p.lda, (long long)bad);
                free(a);
                free(bias);
                free(w);
                free(q);
                free(zi);
                free(scales);
                free(zf);
                free(want);
                free(got);
            }
    printf("%d reference GEMMs compared\n", cases);
    return check_exit_code("test_ref_gemm");
}

/* ref_cpu.c - the CPU reference GEMM (double accumulation), the output check, test RNG. */
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double ref_bits_to_double(w4a16_dtype t, uint16_t raw)
{
    if (t == W4A16_DTYPE_BF16) {
        uint32_t u = (uint32_t)raw << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    const int e = (raw >> 10) & 31, mant = raw & 1023;
    double v = e == 0 ? ldexp(mant, -24) : e == 31 ? (mant ? NAN : INFINITY) : ldexp(mant | 1024, e - 25);
    return (raw & 0x8000) ? -v : v;
}

uint16_t ref_bits_from_double(w4a16_dtype t, double v)
{
    const int bf = t == W4A16_DTYPE_BF16;
    const int mant = bf ? 7 : 10, bias = bf ? 127 : 15;
    const uint16_t sign = signbit(v) ? 0x8000 : 0, inf = bf ? 0x7f80 : 0x7c00;
    if (v != v) return bf ? 0x7fc0 : 0x7e00;
    const double a = fabs(v);
    if (a == 0.0) return sign;
    int e;
    frexp(a, &e); /* a = f * 2^e, f in [0.5, 1): the leading bit is 2^(e-1) */
    int exp = e - 1;
    if (exp < 1 - bias) exp = 1 - bias; /* subnormal: the quantum of the smallest normal binade */
    const double quantum = ldexp(1.0, exp - mant);
    const double r = nearbyint(a / quantum) * quantum; /* ties to even in the default mode */
    if (r == 0.0) return sign; /* underflow */
    if (r >= ldexp(2.0, bias)) return sign | inf;
    frexp(r, &e);
    if (e - 1 < 1 - bias) return (uint16_t)(sign | (uint16_t)(r / ldexp(1.0, 1 - bias - mant))); /* subnormal */
    const uint32_t m = (uint32_t)(r / ldexp(1.0, e - 1 - mant)) - (1u << mant);
    return (uint16_t)(sign | (uint16_t)((e - 1 + bias) << mant) | (uint16_t)m);
}

/* Element i of an fp16/bf16 array as double. */
static double elem_to_double(w4a16_dtype t, const void *p, int64_t i)
{
    return ref_bits_to_double(t, ((const uint16_t *)p)[i]);
}

int ref_gemm_cpu(const w4a16_problem *p, const void *a, const uint8_t *q, const void *scales,
                 const void *zeros, const void *bias, double *out)
{
    const int64_t M = p->m, N = p->n, K = p->k;
    /* Dequantize straight to the activation dtype (the GEMM's weights), then widen. */
    uint16_t *w16 = (uint16_t *)malloc(sizeof(uint16_t) * (size_t)(N * K));
    double *wdq = (double *)malloc(sizeof(double) * (size_t)(N * K));
    double *arow = (double *)malloc(sizeof(double) * (size_t)(K > 0 ? K : 1));
    int rc = -1;
    if (!w16 || !wdq || !arow) goto done;
    if (w4a16_dequantize_host(q, N, K, p->group_size, p->zero_mode, p->dtype, scales, zeros, p->dtype, w16))
        goto done;
    for (int64_t i = 0; i < N * K; i++) wdq[i] = elem_to_double(p->dtype, w16, i);
    for (int64_t m = 0; m < M; m++) {
        for (int64_t k = 0; k < K; k++) arow[k] = elem_to_double(p->dtype, a, m * p->lda + k);
        for (int64_t n = 0; n < N; n++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) acc += arow[k] * wdq[n * K + k];
            out[m * N + n] = (double)p->alpha * acc + (bias ? elem_to_double(p->dtype, bias, n) : 0.0);
        }
    }
    rc = 0;
done:
    free(w16);
    free(wdq);
    free(arow);
    return rc;
}

int64_t ref_check(const char *label, w4a16_dtype dtype, const void *d, int64_t m, int64_t n, int64_t ldd,
                  const double *ref, double *worst_ratio)
{
    const double rtol = dtype == W4A16_DTYPE_BF16 ? ldexp(1.0, -7) : ldexp(1.0, -10);
    double ss = 0.0;
    for (int64_t i = 0; i < m * n; i++) ss += ref[i] * ref[i];
    const double rms = (m * n > 0) ? sqrt(ss / (double)(m * n)) : 0.0;
    const double atol = 2.0 * rtol * rms; /* see ref.h */
    int64_t bad = 0;
    double worst = 0.0;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            const double got = elem_to_double(dtype, d, i * ldd + j), want = ref[i * n + j];
            const double err = fabs(got - want), tol = atol + rtol * fabs(want);
            const double ratio = err / (tol > 0 ? tol : 1e-300);
            if (!(err <= tol)) {
                if (bad < 5)
                    fprintf(stderr, "  %s: mismatch at [m=%lld, n=%lld]: got %.6g, want %.6g (tol %.3g)\n", label,
                            (long long)i, (long long)j, got, want, tol);
                bad++;
            }
            if (ratio > worst || ratio != ratio) worst = ratio != ratio ? INFINITY : ratio;
        }
    }
    if (bad)
        fprintf(stderr, "  %s: %lld of %lld elements out of tolerance (rtol %.3g, atol %.3g)\n", label,
                (long long)bad, (long long)(m * n), rtol, atol);
    if (worst_ratio) *worst_ratio = worst;
    return bad;
}

uint64_t ref_rand_u64(ref_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

float ref_rand_uniform(ref_rng *r, float lo, float hi)
{
    const double u = (double)(ref_rand_u64(r) >> 11) / 9007199254740992.0;
    return (float)(lo + (hi - lo) * u);
}

void ref_fill_uniform(ref_rng *r, w4a16_dtype t, void *p, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) {
        float f = ref_rand_uniform(r, lo, hi);
        if (f == 0.0f) f = hi * 0.5f + lo * 0.5f + 0.125f;
        if (t == W4A16_DTYPE_FP32) ((float *)p)[i] = f;
        else ((uint16_t *)p)[i] = ref_bits_from_double(t, f);
    }
}

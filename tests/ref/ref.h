/* ref.h - references and checks used by the tests, the demo and the benchmark. */
#ifndef W4A16_REF_H
#define W4A16_REF_H

#include "w4a16.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CPU reference: out[m*n_ld + n] = alpha * sum_k A[m,k] * Wdq[n,k] + bias[n], in double.
 * Wdq is the documented dequantization of the canonical q, rounded to p->dtype.
 * All pointers are host pointers; zeros/bias as in w4a16_gemm. Returns 0 or -1 (bad args). */
int ref_gemm_cpu(const w4a16_problem *p, const void *a, const uint8_t *q, const void *scales,
                 const void *zeros, const void *bias, double *out);

/* GPU reference for large shapes: dequantize q (device) to p->dtype with w4a16_dequantize,
 * multiply with cuBLAS in fp32 compute (fp32 output), then apply alpha and bias on the host.
 * out is a host array [m * n]. Returns 0, or -1 with a message on stderr. */
int ref_gemm_gpu(w4a16_handle h, const w4a16_problem *p, const void *a_dev, const uint8_t *q_dev,
                 const void *scales_dev, const void *zeros_dev, const void *bias_host, double *out);

/* Per-element check of a host output d [m, ldd] of dtype against ref [m, n]:
 * |got - ref| <= atol + rtol * |ref|, with rtol one unit in the last place of the dtype
 * (2^-10 fp16, 2^-7 bf16) and atol = 2 rtol * rms(ref). NaN never passes. The absolute part is
 * two units of the rms because the reference rounds every weight to the dtype and the small-M
 * configurations do not (include/w4a16.h, numerics): their difference is a sum of K roundings,
 * ~0.3 unit of the rms per standard deviation, and with one unit one element of 458752 failed
 * at 1.11 x the tolerance (w4a16-bench, 57344x8192, M=8, fp16, integer zeros, t16_w3_k256,
 * H100, session 11). A wrong partial sum is off by a fraction of the rms. Prints up to 5
 * mismatches with indices, and the worst |err| / tolerance, to stderr under `label`.
 * Returns the number of mismatches. */
int64_t ref_check(const char *label, w4a16_dtype dtype, const void *d, int64_t m, int64_t n, int64_t ldd,
                  const double *ref, double *worst_ratio);

/* fp16/bf16 bits <-> double, written here independently of the library: to_double is exact;
 * from_double rounds to nearest even (subnormals, overflow to inf, NaN kept). */
double ref_bits_to_double(w4a16_dtype t, uint16_t bits);
uint16_t ref_bits_from_double(w4a16_dtype t, double v);

/* Deterministic random numbers (xorshift64*) for test data. */
typedef struct ref_rng { uint64_t s; } ref_rng;
uint64_t ref_rand_u64(ref_rng *r);
float ref_rand_uniform(ref_rng *r, float lo, float hi);
/* Fills n elements of dtype with uniform values in [lo, hi), never all zero. */
void ref_fill_uniform(ref_rng *r, w4a16_dtype t, void *p, int64_t n, float lo, float hi);

#ifdef __cplusplus
}
#endif
#endif

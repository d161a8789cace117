/* bench_kernels.h - the benchmark's own GPU helpers: random data, the output check and the
 * read-only kernel that measures the memory ceiling. CUDA C++ (used by w4a16_bench.cu). */
#ifndef W4A16_BENCH_KERNELS_H
#define W4A16_BENCH_KERNELS_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

/* Fills count 16-bit elements (fp16 when bf16 == 0, else bf16) with uniform values in [lo, hi),
 * a pure function of (seed, index). Asynchronous on s. */
cudaError_t bench_fill_uniform(void *p, int64_t count, int bf16, float lo, float hi, uint64_t seed,
                               cudaStream_t s);

/* Fills bytes of memory with 0xFF (a NaN in fp16 and bf16), so stale output never passes. */
cudaError_t bench_poison(void *p, size_t bytes, cudaStream_t s);

/* The per-element check of ../tests/ref/ref.h's ref_check, on the GPU:
 * |got - ref| <= atol + rtol * |ref|, rtol = 2^-10 (fp16) or 2^-7 (bf16), atol = 2 rtol * rms(ref)
 * (ref.h says why two units);
 * NaN never passes. got: count elements of fp16/bf16, ref: count floats (same layout). */
#define BENCH_CHECK_SHOW 5
typedef struct bench_check_result {
    long long bad;       /* elements out of tolerance */
    double worst_ratio;  /* max over elements of |err| / tolerance (inf if a NaN was seen) */
    double rtol, atol, rms;
    int nshow;           /* mismatches recorded below (some, not necessarily the first) */
    long long idx[BENCH_CHECK_SHOW];
    double got[BENCH_CHECK_SHOW], want[BENCH_CHECK_SHOW];
} bench_check_result;

size_t bench_check_scratch_bytes(void);
/* Runs the check on stream s and waits for it. scratch: device memory of
 * bench_check_scratch_bytes(). */
cudaError_t bench_check_output(const void *got, int bf16, const float *ref, int64_t count, void *scratch,
                               cudaStream_t s, bench_check_result *out);

/* The memory-ceiling kernel: reads every byte of buf (bytes a multiple of 16, 16-byte aligned)
 * with 16-byte loads and writes nothing but a never-taken sink. Launch shapes ("variants")
 * differ in grid size, block size and loads in flight per thread; the caller times each and
 * keeps the best. */
int bench_read_variant_count(void);
const char *bench_read_variant_name(int variant);
cudaError_t bench_read_launch(int variant, const void *buf, size_t bytes, unsigned *sink, int sm_count,
                              cudaStream_t s);

/* The launch gate: one thread that waits until *flag >= target (flag in mapped pinned host
 * memory, written by the host), or sets *timed_out and returns after timeout_ms. Enqueued before
 * a batch of timed calls, it holds the GPU while the host queues the whole batch, so the calls
 * then run back to back and each event pair times the GPU, not the host's launch overhead. */
cudaError_t bench_gate_launch(const unsigned *flag, unsigned target, unsigned *timed_out, unsigned timeout_ms,
                              cudaStream_t s);

#endif

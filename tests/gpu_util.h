/* gpu_util.h - shared pieces of the GPU test programs: the sm_90 check (exit 77 = skipped),
 * checked CUDA calls, weights on the device, the poisoned output buffer and its checks, and
 * the caller-owned workspace with its "left zeroed" check. Test code: on a CUDA error it
 * prints where and exits 1. */
#ifndef W4A16_TEST_GPU_UTIL_H
#define W4A16_TEST_GPU_UTIL_H

#include "ref.h"
#include "w4a16.h"

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#define GPU_SKIP 77 /* ctest SKIP_RETURN_CODE */

#define CUDA_OK(x) gpu_cuda_ok((x), #x, __FILE__, __LINE__)
#define W4_OK(x) gpu_w4_ok((x), #x, __FILE__, __LINE__)
void gpu_cuda_ok(cudaError_t e, const char *what, const char *file, int line);
void gpu_w4_ok(w4a16_status s, const char *what, const char *file, int line);

/* 1 if device 0 is an sm_90 GPU; otherwise prints "SKIPPED: no sm_90 device (...)" and
 * returns 0 (the caller exits with GPU_SKIP). */
int gpu_have_sm90(const char *test);

/* W4A16_TEST_LONG=1 in the environment: the longer sweep. */
int gpu_long_tier(void);

/* For the loops over every configuration: sets p->config = cfg (-1: the heuristic) and returns 1,
 * with the index that runs in *chosen, if it can run p; 0 if configuration cfg refused p (a note
 * is printed: skipped); -1 if the heuristic refused p (printed; the caller counts a failure). */
int gpu_select_config(w4a16_handle h, w4a16_problem *p, int cfg, int *chosen);

void *dev_alloc(size_t bytes);
void *dev_upload(const void *host, size_t bytes);
void dev_download(void *host, const void *dev, size_t bytes);

/* A quantized weight on the host (q, scales, zeros) and on the device (q, packed, scales, zeros). */
typedef struct gpu_weights {
    int64_t n, k, group;
    w4a16_zero_mode mode;
    w4a16_dtype dtype; /* scales (and float zeros) dtype = the GEMM's activation dtype */
    uint8_t *q;
    void *scales, *zeros; /* zeros NULL for ZEROS_NONE */
    void *d_q, *d_packed, *d_scales, *d_zeros;
    size_t packed_bytes;
} gpu_weights;

/* Host arrays for the given shape (contents to be filled by the caller, or by weights_random). */
void weights_alloc(gpu_weights *w, int64_t n, int64_t k, int64_t group, w4a16_zero_mode mode, w4a16_dtype dtype);
/* Random fp32 weights in [-1, 1) quantized by w4a16_quantize_host. */
void weights_random(gpu_weights *w, ref_rng *rng);
/* Packs on the host and copies q, packed, scales and zeros to the device. */
void weights_upload(gpu_weights *w);
/* weights_alloc, weights_random and weights_upload in one call. */
void weights_make(gpu_weights *w, int64_t n, int64_t k, int64_t group, w4a16_zero_mode mode, w4a16_dtype dtype,
                  ref_rng *rng);
void weights_free(gpu_weights *w);


/* The output: [m, ldd] elements plus a guard of GUARD bytes after it, all poisoned with 0xFF
 * (0xFFFF is a NaN in fp16 and bf16) before every call. */
#define GPU_D_GUARD 512
typedef struct gpu_output {
    void *dev;
    uint16_t *host;
    size_t bytes; /* m * ldd * 2 + guard */
} gpu_output;
void output_alloc(gpu_output *o, int64_t m, int64_t ldd);
void output_poison(gpu_output *o, cudaStream_t stream);
void output_download(gpu_output *o); /* synchronizes the device */
void output_free(gpu_output *o);
/* Checks every element of the downloaded output against ref [m, n] (ref_check), and that the
 * padding columns n..ldd-1 and the guard still hold the poison. Returns the failures. */
int64_t output_check(const char *label, const w4a16_problem *p, const gpu_output *o, const double *ref,
                     double *worst_ratio);
/* Bit-exact comparison with the RNE rounding of ref, plus the poison checks. */
int64_t output_check_exact(const char *label, const w4a16_problem *p, const gpu_output *o, const double *ref);

/* A caller-owned workspace: grown on demand (the old one checked zero first), zeroed once
 * with w4a16_workspace_init, and checked to be all zero again after calls. */
typedef struct gpu_workspace {
    void *dev;
    size_t bytes;
} gpu_workspace;
/* Returns the nonzero bytes found in the old workspace when it had to grow (0 otherwise). */
int64_t workspace_reserve(gpu_workspace *ws, w4a16_handle h, size_t need);
/* Returns the number of nonzero bytes (printed under label if any). Synchronizes. */
int64_t workspace_check_zero(const char *label, const gpu_workspace *ws);
void workspace_free(gpu_workspace *ws);

#endif

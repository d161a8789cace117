/* internal.h - declarations shared by the library's host C files and its CUDA launchers. */
#ifndef W4A16_INTERNAL_H
#define W4A16_INTERNAL_H

#include "w4a16.h"

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One tuning-cache entry: a problem's shape and modes -> configuration index. */
typedef struct w4a16_tune_entry {
    int64_t m, n, k, group_size;
    int dtype, zero_mode, config;
} w4a16_tune_entry;

struct w4a16_handle_s {
    w4a16_device_info info;
    int offline; /* 1: created by w4a16_create_offline, never touches a GPU */
    w4a16_tune_entry *tune;  /* the tuning cache (tune.c), tune_count used of tune_cap */
    int tune_count, tune_cap;
};

/* The cached configuration for p on this handle, or -1 (tune.c). */
int w4a16_tune_lookup(w4a16_handle h, const w4a16_problem *p);
/* Frees the handle's tuning cache (tune.c). */
void w4a16_tune_free(w4a16_handle h);

/* ---- errors (status.c) ---- */
#if defined(__GNUC__)
#define W4A16_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define W4A16_PRINTF(a, b)
#endif
/* Records the calling thread's last error message and returns `status`. */
w4a16_status w4a16_fail(w4a16_status status, const char *fmt, ...) W4A16_PRINTF(2, 3);
/* Clears the calling thread's message and returns W4A16_SUCCESS. */
w4a16_status w4a16_ok(void);

/* ---- validation helpers (validate.c) ---- */
w4a16_status w4a16_check_handle(w4a16_handle h, int need_device);
w4a16_status w4a16_check_ptr(const void *p, const char *name, int need_align16);
w4a16_status w4a16_check_weight_shape(int64_t n, int64_t k);
w4a16_status w4a16_check_group(int64_t k, int64_t group_size);
w4a16_status w4a16_check_zero_mode(w4a16_zero_mode z);
w4a16_status w4a16_check_act_dtype(w4a16_dtype t, const char *name);
/* Checks the arguments of a quantize/dequantize call shared by the host and GPU versions. */
w4a16_status w4a16_check_quant_args(w4a16_dtype src_or_out_dtype, const void *w, int64_t n,
                                    int64_t k, int64_t group_size, w4a16_zero_mode zero_mode,
                                    w4a16_dtype scale_dtype, const uint8_t *q, const void *scales,
                                    const void *zeros, int device_pointers);
w4a16_status w4a16_check_pack_args(const void *q, int64_t n, int64_t k, const void *packed,
                                   size_t packed_bytes, int device_pointers);
w4a16_status w4a16_check_unpack_args(const void *packed, size_t packed_bytes, int64_t n, int64_t k,
                                     const void *q, size_t q_bytes, int device_pointers);

/* ---- scalar conversions (quant_host.c) ---- */
float w4a16_half_to_float(uint16_t h);
uint16_t w4a16_float_to_half(float f); /* round to nearest even, overflow to inf */
float w4a16_bf16_to_float(uint16_t h);
uint16_t w4a16_float_to_bf16(float f); /* round to nearest even */
/* Reads element i of an array of dtype t as float / writes f rounded to dtype t. */
float w4a16_load_elem(w4a16_dtype t, const void *p, int64_t i);
void w4a16_store_elem(w4a16_dtype t, void *p, int64_t i, float f);
size_t w4a16_dtype_size(w4a16_dtype t);

/* ---- configurations and kernels (configs.c, the .cu files in src/kernels) ---- */
typedef struct w4a16_gemm_args {
    const w4a16_problem *p;
    const void *a, *w, *scales, *zeros, *bias; /* w points at the packed data (after the header) */
    void *d, *workspace;
    size_t workspace_bytes;
    cudaStream_t stream;
    const w4a16_device_info *info;
} w4a16_gemm_args;

/* A launcher returns 0 on success or a cudaError_t; it must not synchronize. */
typedef int (*w4a16_launch_fn)(const w4a16_gemm_args *args);
/* Returns 1 if the configuration can run the problem on the device (checks only what the
 * generic validation does not: shared memory, alignment of strides for TMA, ...). */
typedef int (*w4a16_supports_fn)(const w4a16_problem *p, const w4a16_device_info *info);
typedef size_t (*w4a16_workspace_fn)(const w4a16_problem *p, const w4a16_device_info *info);

/* How many ways the configuration's grid splits K for the problem (1: whole tiles, including
 * stream-K's persistent grid). The heuristic reads it; it touches no GPU. */
typedef int (*w4a16_ksplits_fn)(const w4a16_problem *p, const w4a16_device_info *info);
/* The configuration's modelled time for the problem in us (sm90_launch.cuh's tile_cost), or a
 * negative value where it has no model. The heuristic reads it; it touches no GPU. */
typedef double (*w4a16_cost_fn)(const w4a16_problem *p, const w4a16_device_info *info);
typedef struct w4a16_config {
    const char *name;
    w4a16_launch_fn launch;
    w4a16_supports_fn supports;
    w4a16_workspace_fn workspace;
    w4a16_ksplits_fn ksplits;
    w4a16_cost_fn cost;
} w4a16_config;

const w4a16_config *w4a16_get_config(int index);
/* Workspace of p under configuration cfg: the configuration's own (split-K partial sums),
 * then, with p->k_perm, the gathered activations [m, k] at *gather_offset (256-aligned). */
size_t w4a16_workspace_need(w4a16_handle h, const w4a16_problem *p, const w4a16_config *cfg,
                            size_t *gather_offset);
int w4a16_heuristic(const w4a16_problem *p, const w4a16_device_info *info);
/* The decode kernel's warps per stripe for p on sms SMs (kernels/gemv.cu). */
int w4a16_gemv_stripe_warps(const w4a16_problem *p, int sms); /* t8 for M <= 8, else t16 */
/* Its 16-row fragments per stripe (1 or 2), the same way. */
int w4a16_gemv_stripe_frags(const w4a16_problem *p, int sms);

/* Portable reference kernel (kernels/simt_gemm.cu). */
int w4a16_launch_simt(const w4a16_gemm_args *args);
/* out[i, j] = a[i, perm[j]] for i < m, j < k (out has row stride k); NaN where perm[j] is not
 * in [0, k) (kernels/prep.cu). */
int w4a16_launch_gather_cols(w4a16_dtype dtype, const void *a, int64_t lda, int64_t m, int64_t k,
                             const int32_t *perm, void *out, cudaStream_t stream);

/* GPU weight preparation (kernels/prep.cu); each returns 0 or a cudaError_t. */
int w4a16_launch_quantize(w4a16_dtype src_dtype, const void *w, int64_t n, int64_t k,
                          int64_t group_size, w4a16_zero_mode zero_mode, w4a16_dtype scale_dtype,
                          uint8_t *q, void *scales, void *zeros, cudaStream_t stream);
int w4a16_launch_pack(const uint8_t *q, int64_t n, int64_t k, void *packed, cudaStream_t stream);
int w4a16_launch_unpack(const void *packed, int64_t n, int64_t k, uint8_t *q, cudaStream_t stream);
int w4a16_launch_dequantize(const uint8_t *q, int64_t n, int64_t k, int64_t group_size,
                            w4a16_zero_mode zero_mode, w4a16_dtype scale_dtype, const void *scales,
                            const void *zeros, w4a16_dtype out_dtype, void *w, cudaStream_t stream);
/* Name and text of a cudaError_t, for messages. */
const char *w4a16_cuda_error_string(int err);

#ifdef __cplusplus
}
#endif
#endif

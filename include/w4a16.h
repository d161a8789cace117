/*
 * w4a16.h - W4A16 GEMM for NVIDIA Hopper (sm_90a): int4 weights with group-wise scales,
 * fp16/bf16 activations and output. Plain C11; no CUDA header is needed to include this.
 *
 *     D[M,N] = alpha * A[M,K] . dequant(W)[N,K]^T + bias[N]
 *
 *     q[n,k] in 0..15 is the stored nibble, g = k / group_size, s = scales[g,n]
 *     dequant(W)[n,k] = (q - 8) * s               W4A16_ZEROS_NONE   (symmetric)
 *                     = (q - z[g,n]) * s          W4A16_ZEROS_INT    (z in 0..15, uint8 [G,N])
 *                     = (q - 8) * s + zf[g,n]     W4A16_ZEROS_FLOAT  (zf in the activation dtype)
 *
 * Every dequantized weight is computed in fp32 from the stored values and rounded once to the
 * activation dtype; the GEMM accumulates in fp32. One exception, at least as accurate: with
 * W4A16_ZEROS_NONE or W4A16_ZEROS_INT and groups of 128 or K, the kernel configurations for
 * small M (16 or 32 tokens per tile) multiply the exact integers (q - z) by the activations and
 * apply each group's scale to the fp32 sums, so no weight is rounded. Results may therefore
 * differ between configurations by the weights' rounding.
 *
 * Conventions
 * - All sizes are in elements unless the name says bytes. Matrices are row-major.
 * - "Device pointer" means memory of the handle's device (cudaMalloc or equivalent).
 * - Every function returns a w4a16_status. On failure a message naming the violated limit is
 *   available from w4a16_last_error() in the calling thread. Nothing is printed, nothing aborts.
 * - Functions that take a stream enqueue work and return without synchronizing, unless stated.
 *
 * The canonical int4 tensor ("q tensor") that users produce and consume:
 *   uint8_t q[N][K/2]; byte q[n][j] holds k = 2j in bits 0..3 and k = 2j+1 in bits 4..7.
 *   (K is a multiple of 8, so every row is a whole number of bytes.)
 * The prepacked tensor consumed by w4a16_gemm is private to the library, begins with a header
 * carrying W4A16_PACKED_LAYOUT_VERSION, and is produced only by w4a16_pack*().
 */
#ifndef W4A16_H
#define W4A16_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define W4A16_VERSION_MAJOR 0
#define W4A16_VERSION_MINOR 1
#define W4A16_VERSION_PATCH 0
/* Version of the prepacked weight layout; a packed tensor of another version is refused. */
#define W4A16_PACKED_LAYOUT_VERSION 1

/* Compatible with the CUDA runtime's own declaration (an identical typedef may repeat in C11). */
typedef struct CUstream_st *cudaStream_t;

typedef enum w4a16_status {
    W4A16_SUCCESS = 0,
    W4A16_ERROR_NULL_POINTER = 1,       /* a required pointer argument is NULL */
    W4A16_ERROR_INVALID_VALUE = 2,      /* an enum or scalar argument is out of its range */
    W4A16_ERROR_INVALID_SHAPE = 3,      /* M, N, K, group size or a leading dimension violates a limit */
    W4A16_ERROR_MISALIGNED = 4,         /* a pointer or stride lacks the required alignment */
    W4A16_ERROR_WORKSPACE_TOO_SMALL = 5,/* workspace_bytes is below w4a16_workspace_size() */
    W4A16_ERROR_BUFFER_TOO_SMALL = 6,   /* an output buffer size is below what is needed */
    W4A16_ERROR_BAD_PACKED_LAYOUT = 7,  /* packed tensor header: wrong magic, version or shape */
    W4A16_ERROR_UNSUPPORTED_DEVICE = 8, /* the device is not sm_90 (Hopper) */
    W4A16_ERROR_NO_DEVICE = 9,          /* an offline handle was asked to run GPU work */
    W4A16_ERROR_CUDA = 10,              /* a CUDA runtime or driver call failed (message says which) */
    W4A16_ERROR_OUT_OF_MEMORY = 11,     /* host allocation failed */
    W4A16_ERROR_IO = 12                 /* a file could not be read or written (tools) */
} w4a16_status;

typedef enum w4a16_dtype {
    W4A16_DTYPE_FP16 = 0,
    W4A16_DTYPE_BF16 = 1,
    W4A16_DTYPE_FP32 = 2 /* only as a source of quantization or a dequantization output */
} w4a16_dtype;

typedef enum w4a16_zero_mode {
    W4A16_ZEROS_NONE = 0,  /* w = (q - 8) * s */
    W4A16_ZEROS_INT = 1,   /* w = (q - z) * s, z: uint8 [G,N] with values 0..15 */
    W4A16_ZEROS_FLOAT = 2  /* w = (q - 8) * s + zf, zf: activation dtype [G,N] */
} w4a16_zero_mode;

/* Limits checked by every function. */
#define W4A16_MAX_DIM ((int64_t)1 << 31) /* M, N, K and leading dimensions are below this */

typedef struct w4a16_handle_s *w4a16_handle;

/* What a handle knows about its device (filled by w4a16_create, given to w4a16_create_offline). */
typedef struct w4a16_device_info {
    int device;                 /* CUDA device ordinal */
    int cc_major, cc_minor;     /* compute capability; only 9.0 is supported */
    int sm_count;               /* multiprocessors */
    int smem_optin_bytes;       /* max dynamic shared memory per block after opt-in */
    int l2_bytes;               /* L2 cache size */
} w4a16_device_info;

/* A GEMM problem. Fill with w4a16_problem_init(), then adjust the optional fields. */
typedef struct w4a16_problem {
    int64_t m;                  /* tokens, >= 0 (0 is a successful no-op) */
    int64_t n;                  /* output features, > 0, multiple of 8 */
    int64_t k;                  /* input features, > 0, multiple of 8 and of group_size */
    w4a16_dtype dtype;          /* activation = output = scale = bias dtype: FP16 or BF16 */
    int64_t group_size;         /* 64, 128 or k (per-channel) */
    w4a16_zero_mode zero_mode;
    int64_t lda;                /* row stride of A in elements, >= k, multiple of 8 (default k) */
    int64_t ldd;                /* row stride of D in elements, >= n, multiple of 8 (default n) */
    float alpha;                /* default 1 */
    int config;                 /* -1: the library chooses (default); else a w4a16_config index */
    const int32_t *k_perm;      /* NULL (default), or act-order (GPTQ desc_act): device [k], the
                                 * weights' K order as a permutation of A's columns; w4a16_gemm
                                 * then multiplies A[:, k_perm] (gathered into the workspace) */
    int pdl;                    /* 0 (default) or 1: programmatic dependent launch, see w4a16_gemm */
} w4a16_problem;

/* ---- Library and errors ---------------------------------------------------------------- */

/* Library version as major*10000 + minor*100 + patch. Never fails. */
int w4a16_version(void);

/* Static name of a status ("W4A16_ERROR_INVALID_SHAPE"); "unknown status" for others. */
const char *w4a16_status_string(w4a16_status status);

/* The message of the last failed call in the calling thread (whatever handle it used),
 * or "" if the last call succeeded. Valid until the next library call in this thread. */
const char *w4a16_last_error(void);

/* ---- Handle ---------------------------------------------------------------------------- */

/* Creates a handle for CUDA device `device`, querying it once.
 * Returns W4A16_ERROR_NULL_POINTER, W4A16_ERROR_INVALID_VALUE (device < 0),
 * W4A16_ERROR_CUDA (no such device / driver problem), W4A16_ERROR_UNSUPPORTED_DEVICE (not sm_90),
 * W4A16_ERROR_OUT_OF_MEMORY. *out is NULL on failure. */
w4a16_status w4a16_create(w4a16_handle *out, int device);

/* Creates a handle that never touches a GPU, for validation and planning: every GPU function
 * validates its arguments exactly as with a real handle, then returns W4A16_ERROR_NO_DEVICE.
 * info must describe an sm_90 device (W4A16_ERROR_UNSUPPORTED_DEVICE otherwise). */
w4a16_status w4a16_create_offline(w4a16_handle *out, const w4a16_device_info *info);

/* Destroys a handle (NULL is allowed). Does not synchronize. */
w4a16_status w4a16_destroy(w4a16_handle handle);

/* Copies the handle's device description into *info. */
w4a16_status w4a16_get_device_info(w4a16_handle handle, w4a16_device_info *info);

/* ---- Problems, configurations and workspace --------------------------------------------- */

/* Sets every field: the given ones, lda = k, ldd = n, alpha = 1, config = -1, k_perm = NULL,
 * pdl = 0. Returns W4A16_ERROR_NULL_POINTER only; shapes are checked by w4a16_check_problem. */
w4a16_status w4a16_problem_init(w4a16_problem *p, int64_t m, int64_t n, int64_t k,
                                w4a16_dtype dtype, int64_t group_size, w4a16_zero_mode zero_mode);

/* Checks a problem without any device: shapes, group size, dtype, zero mode, leading dims,
 * config index, pdl. Returns W4A16_SUCCESS, W4A16_ERROR_NULL_POINTER, W4A16_ERROR_INVALID_VALUE,
 * W4A16_ERROR_INVALID_SHAPE or W4A16_ERROR_MISALIGNED (lda/ldd not multiples of 8). */
w4a16_status w4a16_check_problem(const w4a16_problem *p);

/* Number of compiled kernel configurations, and the name of configuration i
 * ("simt_ref" for the portable reference kernel at index 0; Hopper tiles are named
 * "sm90_t<tokens per tile>_w<consumer warpgroups>_k<k per stage>_s<stages>", e.g.
 * "sm90_t16_w3_k128_s10": 16 tokens x 192 weight rows).
 * w4a16_config_name returns NULL for an index out of range. */
int w4a16_config_count(void);
const char *w4a16_config_name(int index);

/* Whether configuration p->config (or the heuristic's choice when -1) can run p on this
 * handle's device; *chosen receives the configuration index that w4a16_gemm would run. */
w4a16_status w4a16_select_config(w4a16_handle handle, const w4a16_problem *p, int *chosen);

/* Bytes of workspace w4a16_gemm needs for p (0 is possible). The workspace must be zeroed
 * once before first use (cudaMemset or w4a16_workspace_init); every call leaves it zeroed.
 * Use one workspace per concurrently running stream; after a CUDA error, zero it again. */
w4a16_status w4a16_workspace_size(w4a16_handle handle, const w4a16_problem *p, size_t *bytes);

/* Zeroes a workspace on `stream` (asynchronous). */
w4a16_status w4a16_workspace_init(w4a16_handle handle, void *workspace, size_t bytes,
                                  cudaStream_t stream);

/* ---- The GEMM --------------------------------------------------------------------------- */

/* D = alpha * A . dequant(W)^T + bias, enqueued on `stream`. Allocates nothing and never
 * synchronizes (legal inside CUDA graph capture).
 *   a        device, [m, lda] of p->dtype, 16-byte aligned
 *   w_packed device, from w4a16_pack for (n, k), 16-byte aligned (its header is not read here)
 *   scales   device, [G, n] of p->dtype, G = k / group_size, 16-byte aligned
 *   zeros    device: NULL for ZEROS_NONE; uint8 [G, n] for ZEROS_INT; [G, n] of p->dtype for
 *            ZEROS_FLOAT; 16-byte aligned
 *   bias     device, [n] of p->dtype, 16-byte aligned, or NULL for none
 *   d        device, [m, ldd] of p->dtype, 16-byte aligned; must not overlap the inputs
 *   workspace device, >= w4a16_workspace_size bytes, zeroed (see above); NULL if that is 0
 * With p->k_perm (4-byte aligned), column j of the product uses A[:, k_perm[j]]: the weights
 * were permuted along K at conversion (tools/ write <layer>.w4a16_perm). Every k_perm[j] must
 * lie in [0, k); an index outside makes every output of the call NaN (never a silent wrong
 * result; k_perm is not read on the host).
 * With p->pdl = 1 the Hopper and decode configurations are launched with CUDA's programmatic
 * stream serialization: the kernel may start while the stream's preceding kernel is finishing.
 * Before that kernel has completed it only asks L2 to prefetch the first stages of its weights
 * (a hint; L2 serves every later read coherently); every read of its inputs and every write
 * waits for the preceding kernel and its writes (griddepcontrol.wait), so any input or the
 * workspace may come from that kernel as usual. In a chain of calls with pdl = 1 each call's
 * start thus overlaps the previous one's end (the kernels do not trigger their successors
 * early with griddepcontrol.launch_dependents: the next call starts once their CTAs have all
 * exited). The portable reference configuration (config 0) and k_perm's gather kernel launch
 * without the attribute. dev/pdl_chain measures chains of calls with and without it
 * (docs/PERFORMANCE.md).
 * L2 use on sm90: where D takes at most 8 MB, D and the workspace are written with the L2
 * evict_last priority (the weight stream would otherwise evict their lines mid-call), so they
 * stay in L2 for the next kernel ahead of other data; configurations of at most 32 tokens per
 * tile (decode) read the weights with evict_first. W4A16_SM90_KEEP_D=0 (environment) turns
 * the first off.
 * Returns W4A16_SUCCESS, any status of w4a16_check_problem, W4A16_ERROR_NULL_POINTER,
 * W4A16_ERROR_MISALIGNED, W4A16_ERROR_WORKSPACE_TOO_SMALL, W4A16_ERROR_NO_DEVICE (offline
 * handle) or W4A16_ERROR_CUDA (launch failure). */
w4a16_status w4a16_gemm(w4a16_handle handle, const w4a16_problem *p, const void *a,
                        const void *w_packed, const void *scales, const void *zeros,
                        const void *bias, void *d, void *workspace, size_t workspace_bytes,
                        cudaStream_t stream);

/* ---- Autotuning and the tuning cache ---------------------------------------------------- */
/* A handle keeps a tuning cache: entries (problem shape, dtype, group size, zero mode) ->
 * configuration. When p->config is -1, w4a16_select_config, w4a16_workspace_size and
 * w4a16_gemm use a cached entry whose M, N, K, dtype, group_size and zero_mode equal p's
 * (and whose configuration can run p), and the heuristic otherwise. Entries persist through
 * w4a16_tune_cache_save/load; a file records the device (compute capability, SM count) and
 * configuration names, and entries for another device or an unknown name are skipped.
 * The cache is the handle's only mutable state: w4a16_tune, w4a16_tune_cache_set and
 * w4a16_tune_cache_load must not run concurrently with other calls on the same handle. */

/* Times every configuration that can run p within workspace_bytes (each: 2 warm-up calls, then
 * the median of `iters` calls, 1 <= iters <= 1000, each between its own event pair) on the
 * caller's buffers, exactly as w4a16_gemm would run them (d is overwritten; the workspace must
 * be zeroed as for w4a16_gemm and is left zeroed), records the fastest in the handle's cache
 * and returns its index in *best (and its median time in *best_us if not NULL).
 * SYNCHRONIZES the stream (not for use inside graph capture). p->config is ignored.
 * Returns the statuses of w4a16_gemm, W4A16_ERROR_INVALID_VALUE (iters out of range) and
 * W4A16_ERROR_OUT_OF_MEMORY (cache growth). */
w4a16_status w4a16_tune(w4a16_handle handle, const w4a16_problem *p, const void *a, const void *w_packed,
                        const void *scales, const void *zeros, const void *bias, void *d, void *workspace,
                        size_t workspace_bytes, int iters, cudaStream_t stream, int *best, float *best_us);

/* Records (or replaces) the cache entry for p's shape -> configuration `config` (an index of
 * w4a16_config_name, not -1), e.g. to pin a configuration measured elsewhere. Offline handles
 * accept it too. W4A16_ERROR_INVALID_VALUE if the configuration cannot run p. */
w4a16_status w4a16_tune_cache_set(w4a16_handle handle, const w4a16_problem *p, int config);

/* Number of entries in the handle's cache. */
w4a16_status w4a16_tune_cache_size(w4a16_handle handle, int *entries);

/* Writes the cache to a text file / merges a file written by w4a16_tune_cache_save into the
 * cache (entries of the file replace equal keys). W4A16_ERROR_IO if the file cannot be
 * opened or written, or is not a w4a16 tuning cache (the message names the line). */
w4a16_status w4a16_tune_cache_save(w4a16_handle handle, const char *path);
w4a16_status w4a16_tune_cache_load(w4a16_handle handle, const char *path);

/* ---- Weight preparation on the host (no device needed) ---------------------------------- */

/* Bytes of the canonical q tensor (n * k / 2) and of the packed tensor for an [n, k] weight.
 * n: multiple of 8, k: multiple of 8, both in (0, W4A16_MAX_DIM). */
w4a16_status w4a16_q_size(int64_t n, int64_t k, size_t *bytes);
w4a16_status w4a16_packed_size(int64_t n, int64_t k, size_t *bytes);

/* Round-to-nearest group-wise quantization of w[n, k] (src_dtype FP32, FP16 or BF16) into the
 * canonical q tensor, scales [G, n] and zeros [G, n] of the given mode, scale_dtype FP16 or
 * BF16 (the activation dtype of later GEMMs). zeros: NULL for ZEROS_NONE, uint8 for ZEROS_INT,
 * scale_dtype for ZEROS_FLOAT. Per group:
 *   NONE : s = max|w| / 7,  q = clamp(round(w / s) + 8, 0, 15)
 *   INT  : with lo = min(min, 0), hi = max(max, 0) (the range always includes 0):
 *          s = (hi - lo) / 15, z = clamp(round(-lo / s), 0, 15), q = clamp(round(w / s) + z, 0, 15)
 *   FLOAT: s = (max - min) / 15, zf = fma(8, s, min), q = clamp(round((w - zf) / s) + 8, 0, 15)
 *   (round = to nearest, ties to even; all arithmetic in fp32)
 * where s and zf are first rounded to scale_dtype (and s = 1 where it would be 0), so q is
 * computed against the values the GEMM will use. Non-finite inputs give W4A16_ERROR_INVALID_VALUE. */
w4a16_status w4a16_quantize_host(w4a16_dtype src_dtype, const void *w, int64_t n, int64_t k,
                                 int64_t group_size, w4a16_zero_mode zero_mode,
                                 w4a16_dtype scale_dtype, uint8_t *q, void *scales, void *zeros);

/* Canonical q [n, k] -> packed (packed_bytes >= w4a16_packed_size). */
w4a16_status w4a16_pack_host(const uint8_t *q, int64_t n, int64_t k, void *packed,
                             size_t packed_bytes);

/* Packed -> canonical q [n, k] (q_bytes >= n*k/2). Checks the packed header. */
w4a16_status w4a16_unpack_host(const void *packed, size_t packed_bytes, int64_t n, int64_t k,
                               uint8_t *q, size_t q_bytes);

/* Canonical q -> dequantized weights w[n, k] in out_dtype (FP32, FP16 or BF16) by the formula
 * of zero_mode, computed in fp32 then rounded once. scales (and float zeros) are scale_dtype. */
w4a16_status w4a16_dequantize_host(const uint8_t *q, int64_t n, int64_t k, int64_t group_size,
                                   w4a16_zero_mode zero_mode, w4a16_dtype scale_dtype,
                                   const void *scales, const void *zeros, w4a16_dtype out_dtype,
                                   void *w);

/* ---- Weight preparation on the GPU (same results as the host functions, byte for byte) --- */
/* All pointers are device pointers; work is enqueued on `stream`. */

w4a16_status w4a16_quantize(w4a16_handle handle, w4a16_dtype src_dtype, const void *w, int64_t n,
                            int64_t k, int64_t group_size, w4a16_zero_mode zero_mode,
                            w4a16_dtype scale_dtype, uint8_t *q, void *scales, void *zeros,
                            cudaStream_t stream);
w4a16_status w4a16_pack(w4a16_handle handle, const uint8_t *q, int64_t n, int64_t k, void *packed,
                        size_t packed_bytes, cudaStream_t stream);
/* Does not check the packed header (that would need a synchronization). */
w4a16_status w4a16_unpack(w4a16_handle handle, const void *packed, size_t packed_bytes, int64_t n,
                          int64_t k, uint8_t *q, size_t q_bytes, cudaStream_t stream);
w4a16_status w4a16_dequantize(w4a16_handle handle, const uint8_t *q, int64_t n, int64_t k,
                              int64_t group_size, w4a16_zero_mode zero_mode,
                              w4a16_dtype scale_dtype, const void *scales, const void *zeros,
                              w4a16_dtype out_dtype, void *w, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif /* W4A16_H */

/* gemm.c - the GEMM entry point and the GPU weight-preparation entry points: validate,
 * choose a configuration, launch. Nothing here allocates or synchronizes. */
#include "internal.h"
#include "packed_layout.h"

#include <cuda_runtime_api.h>
#include <inttypes.h>

/* Handle checks common to every GPU function: the handle exists, is not offline (after all
 * other validation), and the current device is the handle's. */
static w4a16_status check_gpu_ready(w4a16_handle h)
{
    if (h->offline)
        return w4a16_fail(W4A16_ERROR_NO_DEVICE, "the handle is offline (w4a16_create_offline): "
                                                 "arguments are valid but no GPU work can run");
    int dev = -1;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return w4a16_fail(W4A16_ERROR_CUDA, "cudaGetDevice failed: %s", cudaGetErrorString(e));
    if (dev != h->info.device)
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE,
                          "the current CUDA device is %d but the handle was created for device %d", dev,
                          h->info.device);
    return W4A16_SUCCESS;
}

static w4a16_status launched(int err, const char *what)
{
    if (err) return w4a16_fail(W4A16_ERROR_CUDA, "%s failed: %s", what, w4a16_cuda_error_string(err));
    return w4a16_ok();
}

static w4a16_status choose(w4a16_handle h, const w4a16_problem *p, int *chosen)
{
    int c = p->config;
    if (c < 0) {
        c = w4a16_tune_lookup(h, p); /* a tuned entry that can run p, else the heuristic */
        if (c < 0) c = w4a16_heuristic(p, &h->info);
    }
    const w4a16_config *cfg = w4a16_get_config(c);
    if (!cfg->supports(p, &h->info))
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE,
                          "config %d (%s) cannot run M=%" PRId64 " N=%" PRId64 " K=%" PRId64
                          " group=%" PRId64 " on this device",
                          c, cfg->name, p->m, p->n, p->k, p->group_size);
    *chosen = c;
    return W4A16_SUCCESS;
}

w4a16_status w4a16_select_config(w4a16_handle h, const w4a16_problem *p, int *chosen)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if ((st = w4a16_check_problem(p))) return st;
    if (!chosen) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "chosen is NULL");
    if ((st = choose(h, p, chosen))) return st;
    return w4a16_ok();
}

size_t w4a16_workspace_need(w4a16_handle h, const w4a16_problem *p, const w4a16_config *cfg,
                            size_t *gather_offset)
{
    const size_t own = cfg->workspace(p, &h->info);
    if (!p->k_perm || p->m == 0) {
        if (gather_offset) *gather_offset = 0;
        return own;
    }
    const size_t off = (own + 255) / 256 * 256;
    if (gather_offset) *gather_offset = off;
    return off + (size_t)p->m * (size_t)p->k * w4a16_dtype_size(p->dtype);
}

w4a16_status w4a16_workspace_size(w4a16_handle h, const w4a16_problem *p, size_t *bytes)
{
    w4a16_status st;
    int c = 0;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if ((st = w4a16_check_problem(p))) return st;
    if (!bytes) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "bytes is NULL");
    if ((st = choose(h, p, &c))) return st;
    *bytes = w4a16_workspace_need(h, p, w4a16_get_config(c), NULL);
    return w4a16_ok();
}

w4a16_status w4a16_workspace_init(w4a16_handle h, void *workspace, size_t bytes, cudaStream_t stream)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if (bytes == 0) return w4a16_ok();
    if ((st = w4a16_check_ptr(workspace, "workspace", 1))) return st;
    if ((st = check_gpu_ready(h))) return st;
    return launched(cudaMemsetAsync(workspace, 0, bytes, stream), "cudaMemsetAsync(workspace)");
}

w4a16_status w4a16_gemm(w4a16_handle h, const w4a16_problem *p, const void *a, const void *w_packed,
                        const void *scales, const void *zeros, const void *bias, void *d,
                        void *workspace, size_t workspace_bytes, cudaStream_t stream)
{
    w4a16_status st;
    int c = 0;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if ((st = w4a16_check_problem(p))) return st;
    if ((st = w4a16_check_ptr(a, "a", 1))) return st;
    if ((st = w4a16_check_ptr(w_packed, "w_packed", 1))) return st;
    if ((st = w4a16_check_ptr(scales, "scales", 1))) return st;
    if (p->zero_mode == W4A16_ZEROS_NONE) {
        if (zeros) return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "zeros must be NULL when zero_mode is NONE");
    } else if ((st = w4a16_check_ptr(zeros, "zeros", 1))) {
        return st;
    }
    if (bias && (st = w4a16_check_ptr(bias, "bias", 1))) return st;
    if ((st = w4a16_check_ptr(d, "d", 1))) return st;
    if (p->k_perm && ((uintptr_t)p->k_perm & 3))
        return w4a16_fail(W4A16_ERROR_MISALIGNED, "k_perm is not 4-byte aligned");
    if ((st = choose(h, p, &c))) return st;
    const w4a16_config *cfg = w4a16_get_config(c);
    size_t gather_off = 0;
    const size_t need = w4a16_workspace_need(h, p, cfg, &gather_off);
    if (workspace_bytes < need)
        return w4a16_fail(W4A16_ERROR_WORKSPACE_TOO_SMALL,
                          "workspace_bytes=%zu is below the %zu bytes config %s needs%s", workspace_bytes, need,
                          cfg->name, p->k_perm ? " (with the gathered activations of k_perm)" : "");
    if (need && (st = w4a16_check_ptr(workspace, "workspace", 1))) return st;
    if ((st = check_gpu_ready(h))) return st;
    if (p->m == 0) return w4a16_ok();
    if (!p->k_perm) {
        const w4a16_gemm_args args = {p, a, (const uint8_t *)w_packed + W4A16_PACK_HEADER_BYTES, scales, zeros,
                                      bias, d, workspace, workspace_bytes, stream, &h->info};
        return launched(cfg->launch(&args), cfg->name);
    }
    /* Act-order: gather A[:, k_perm] into the workspace's tail, multiply that, then zero the
     * tail again (the workspace contract: every call leaves it zeroed). */
    void *ga = (uint8_t *)workspace + gather_off;
    const size_t gbytes = need - gather_off;
    if ((st = launched(w4a16_launch_gather_cols(p->dtype, a, p->lda, p->m, p->k, p->k_perm, ga, stream),
                       "gather kernel (k_perm)")))
        return st;
    w4a16_problem pg = *p;
    pg.lda = p->k;
    pg.k_perm = NULL;
    const w4a16_gemm_args args = {&pg, ga, (const uint8_t *)w_packed + W4A16_PACK_HEADER_BYTES, scales, zeros,
                                  bias, d, workspace, gather_off, stream, &h->info};
    if ((st = launched(cfg->launch(&args), cfg->name))) return st;
    return launched(cudaMemsetAsync(ga, 0, gbytes, stream), "cudaMemsetAsync(gathered activations)");
}

/* ---- GPU weight preparation ---- */

w4a16_status w4a16_quantize(w4a16_handle h, w4a16_dtype src_dtype, const void *w, int64_t n, int64_t k,
                            int64_t group_size, w4a16_zero_mode zero_mode, w4a16_dtype scale_dtype,
                            uint8_t *q, void *scales, void *zeros, cudaStream_t stream)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 1))) return st;
    if ((st = w4a16_check_quant_args(src_dtype, w, n, k, group_size, zero_mode, scale_dtype, q, scales,
                                     zeros, 1)))
        return st;
    if ((st = check_gpu_ready(h))) return st;
    return launched(w4a16_launch_quantize(src_dtype, w, n, k, group_size, zero_mode, scale_dtype, q, scales,
                                          zeros, stream),
                    "quantize kernel");
}

w4a16_status w4a16_pack(w4a16_handle h, const uint8_t *q, int64_t n, int64_t k, void *packed,
                        size_t packed_bytes, cudaStream_t stream)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 1))) return st;
    if ((st = w4a16_check_pack_args(q, n, k, packed, packed_bytes, 1))) return st;
    if ((st = check_gpu_ready(h))) return st;
    return launched(w4a16_launch_pack(q, n, k, packed, stream), "pack kernel");
}

w4a16_status w4a16_unpack(w4a16_handle h, const void *packed, size_t packed_bytes, int64_t n, int64_t k,
                          uint8_t *q, size_t q_bytes, cudaStream_t stream)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 1))) return st;
    if ((st = w4a16_check_unpack_args(packed, packed_bytes, n, k, q, q_bytes, 1))) return st;
    if ((st = check_gpu_ready(h))) return st;
    return launched(w4a16_launch_unpack(packed, n, k, q, stream), "unpack kernel");
}

w4a16_status w4a16_dequantize(w4a16_handle h, const uint8_t *q, int64_t n, int64_t k, int64_t group_size,
                              w4a16_zero_mode zero_mode, w4a16_dtype scale_dtype, const void *scales,
                              const void *zeros, w4a16_dtype out_dtype, void *w, cudaStream_t stream)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 1))) return st;
    if ((st = w4a16_check_quant_args(out_dtype, w, n, k, group_size, zero_mode, scale_dtype, q, scales,
                                     zeros, 1)))
        return st;
    if ((st = check_gpu_ready(h))) return st;
    return launched(w4a16_launch_dequantize(q, n, k, group_size, zero_mode, scale_dtype, scales, zeros,
                                            out_dtype, w, stream),
                    "dequantize kernel");
}

/* backend.c - GPU-or-CPU weight preparation for the tools (see backend.h). */
#define _POSIX_C_SOURCE 200809L
#include "backend.h"

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cv_backend_init(cv_backend *b, int want_gpu, int device)
{
    memset(b, 0, sizeof *b);
    b->device = device;
    const char *env = getenv("W4A16_TOOLS_CPU");
    if (env && env[0] && strcmp(env, "0") != 0) want_gpu = 0;
    if (!want_gpu) {
        snprintf(b->description, sizeof b->description, "CPU (GPU not requested)");
        return 0;
    }
    w4a16_handle h = NULL;
    const w4a16_status st = w4a16_create(&h, device);
    if (st != W4A16_SUCCESS) {
        snprintf(b->description, sizeof b->description, "CPU (no usable GPU: %.200s)", w4a16_last_error());
        return 0;
    }
    cudaStream_t s = NULL;
    if (cudaSetDevice(device) != cudaSuccess || cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
        snprintf(b->description, sizeof b->description, "CPU (GPU %d: cannot create a stream)", device);
        w4a16_destroy(h);
        return 0;
    }
    w4a16_device_info info;
    w4a16_get_device_info(h, &info);
    b->handle = h;
    b->stream = s;
    snprintf(b->description, sizeof b->description, "GPU %d (sm_%d%d, %d SMs)", device, info.cc_major,
             info.cc_minor, info.sm_count);
    return 0;
}

void cv_backend_free(cv_backend *b)
{
    if (b->handle) {
        for (int i = 0; i < 4; i++)
            if (b->dbuf[i]) cudaFree(b->dbuf[i]);
        if (b->stream) cudaStreamDestroy((cudaStream_t)b->stream);
        w4a16_destroy(b->handle);
    }
    memset(b, 0, sizeof *b);
}

static int cuda_ok(cudaError_t e, const char *what, char *err)
{
    if (e == cudaSuccess) return 0;
    snprintf(err, 512, "%s failed: %s", what, cudaGetErrorString(e));
    return -1;
}

/* Device buffer `i` of at least `bytes` (256-byte aligned by cudaMalloc). */
static void *dev_buffer(cv_backend *b, int i, size_t bytes, char *err)
{
    if (bytes == 0) bytes = 16;
    if (b->dcap[i] >= bytes) return b->dbuf[i];
    if (b->dbuf[i]) cudaFree(b->dbuf[i]);
    b->dbuf[i] = NULL;
    b->dcap[i] = 0;
    if (cuda_ok(cudaMalloc(&b->dbuf[i], bytes), "cudaMalloc", err)) return NULL;
    b->dcap[i] = bytes;
    return b->dbuf[i];
}

static int lib_ok(w4a16_status st, const char *what, char *err)
{
    if (st == W4A16_SUCCESS) return 0;
    snprintf(err, 512, "%s: %s: %s", what, w4a16_status_string(st), w4a16_last_error());
    return -1;
}

int cv_backend_pack(cv_backend *b, const uint8_t *q, int64_t n, int64_t k, void *packed,
                    size_t packed_bytes, char *err)
{
    if (!b->handle) return lib_ok(w4a16_pack_host(q, n, k, packed, packed_bytes), "w4a16_pack_host", err);
    size_t need, qbytes;
    if (lib_ok(w4a16_packed_size(n, k, &need), "w4a16_packed_size", err) ||
        lib_ok(w4a16_q_size(n, k, &qbytes), "w4a16_q_size", err))
        return -1;
    if (packed_bytes < need) {
        snprintf(err, 512, "packed buffer of %zu bytes is below the %zu needed", packed_bytes, need);
        return -1;
    }
    cudaStream_t s = (cudaStream_t)b->stream;
    void *dq = dev_buffer(b, 0, qbytes, err);
    void *dp = dq ? dev_buffer(b, 1, need, err) : NULL;
    if (!dp) return -1;
    if (cuda_ok(cudaMemcpyAsync(dq, q, qbytes, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync(q)", err) ||
        lib_ok(w4a16_pack(b->handle, (const uint8_t *)dq, n, k, dp, need, s), "w4a16_pack", err) ||
        cuda_ok(cudaMemcpyAsync(packed, dp, need, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(packed)", err) ||
        cuda_ok(cudaStreamSynchronize(s), "cudaStreamSynchronize", err))
        return -1;
    return 0;
}

int cv_backend_quantize(cv_backend *b, w4a16_dtype src_dtype, const void *w, int64_t n, int64_t k,
                        int64_t group_size, w4a16_zero_mode zero_mode, w4a16_dtype scale_dtype,
                        uint8_t *q, void *scales, void *zeros, char *err)
{
    if (!b->handle)
        return lib_ok(w4a16_quantize_host(src_dtype, w, n, k, group_size, zero_mode, scale_dtype, q, scales, zeros),
                      "w4a16_quantize_host", err);
    if (n <= 0 || k <= 0 || group_size <= 0 || k % group_size) /* the library reports the details */
        return lib_ok(w4a16_quantize_host(src_dtype, w, n, k, group_size, zero_mode, scale_dtype, q, scales, zeros),
                      "w4a16_quantize_host", err);
    const size_t esrc = src_dtype == W4A16_DTYPE_FP32 ? 4 : 2;
    const size_t wbytes = (size_t)n * (size_t)k * esrc, qbytes = (size_t)n * (size_t)(k / 2);
    const size_t gbytes = (size_t)(k / group_size) * (size_t)n;
    const size_t sbytes = gbytes * 2, zbytes = zero_mode == W4A16_ZEROS_INT ? gbytes : sbytes;
    cudaStream_t s = (cudaStream_t)b->stream;
    void *dw = dev_buffer(b, 0, wbytes, err);
    void *dq = dw ? dev_buffer(b, 1, qbytes, err) : NULL;
    void *ds = dq ? dev_buffer(b, 2, sbytes, err) : NULL;
    void *dz = ds ? dev_buffer(b, 3, zbytes, err) : NULL;
    if (!dz) return -1;
    if (cuda_ok(cudaMemcpyAsync(dw, w, wbytes, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync(w)", err) ||
        lib_ok(w4a16_quantize(b->handle, src_dtype, dw, n, k, group_size, zero_mode, scale_dtype, (uint8_t *)dq,
                              ds, zero_mode == W4A16_ZEROS_NONE ? NULL : dz, s),
               "w4a16_quantize", err) ||
        cuda_ok(cudaMemcpyAsync(q, dq, qbytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(q)", err) ||
        cuda_ok(cudaMemcpyAsync(scales, ds, sbytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(scales)", err))
        return -1;
    if (zero_mode != W4A16_ZEROS_NONE &&
        cuda_ok(cudaMemcpyAsync(zeros, dz, zbytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(zeros)", err))
        return -1;
    return cuda_ok(cudaStreamSynchronize(s), "cudaStreamSynchronize", err);
}

/* handle.c - handle creation (one device query), destruction, offline handles. */
#include "internal.h"

#include <cuda_runtime_api.h>
#include <stdlib.h>

const char *w4a16_cuda_error_string(int err) { return cudaGetErrorString((cudaError_t)err); }

static w4a16_status check_info(const w4a16_device_info *info)
{
    if (info->cc_major != 9 || info->cc_minor != 0)
        return w4a16_fail(W4A16_ERROR_UNSUPPORTED_DEVICE,
                          "device %d has compute capability %d.%d; w4a16 needs 9.0 (Hopper, sm_90a)",
                          info->device, info->cc_major, info->cc_minor);
    if (info->sm_count <= 0 || info->smem_optin_bytes <= 0 || info->l2_bytes < 0)
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE,
                          "device info has sm_count=%d, smem_optin_bytes=%d, l2_bytes=%d (must be > 0)",
                          info->sm_count, info->smem_optin_bytes, info->l2_bytes);
    return W4A16_SUCCESS;
}

static w4a16_status make_handle(w4a16_handle *out, const w4a16_device_info *info, int offline)
{
    w4a16_handle h = (w4a16_handle)calloc(1, sizeof *h);
    if (!h) return w4a16_fail(W4A16_ERROR_OUT_OF_MEMORY, "cannot allocate a handle");
    h->info = *info;
    h->offline = offline;
    *out = h;
    return w4a16_ok();
}

w4a16_status w4a16_create(w4a16_handle *out, int device)
{
    if (!out) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "out is NULL");
    *out = NULL;
    if (device < 0) return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "device=%d is negative", device);
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess)
        return w4a16_fail(W4A16_ERROR_CUDA, "cudaGetDeviceCount failed: %s", cudaGetErrorString(e));
    if (device >= count)
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "device=%d but only %d CUDA device(s) exist", device,
                          count);
    w4a16_device_info info;
    memset(&info, 0, sizeof info);
    info.device = device;
    const struct { enum cudaDeviceAttr attr; int *dst; } q[] = {
        {cudaDevAttrComputeCapabilityMajor, &info.cc_major},
        {cudaDevAttrComputeCapabilityMinor, &info.cc_minor},
        {cudaDevAttrMultiProcessorCount, &info.sm_count},
        {cudaDevAttrMaxSharedMemoryPerBlockOptin, &info.smem_optin_bytes},
        {cudaDevAttrL2CacheSize, &info.l2_bytes},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        e = cudaDeviceGetAttribute(q[i].dst, q[i].attr, device);
        if (e != cudaSuccess)
            return w4a16_fail(W4A16_ERROR_CUDA, "cudaDeviceGetAttribute(%d) failed: %s", (int)q[i].attr,
                              cudaGetErrorString(e));
    }
    w4a16_status st = check_info(&info);
    if (st) return st;
    return make_handle(out, &info, 0);
}

w4a16_status w4a16_create_offline(w4a16_handle *out, const w4a16_device_info *info)
{
    if (!out) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "out is NULL");
    *out = NULL;
    if (!info) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "info is NULL");
    w4a16_status st = check_info(info);
    if (st) return st;
    return make_handle(out, info, 1);
}

w4a16_status w4a16_destroy(w4a16_handle handle)
{
    if (handle) w4a16_tune_free(handle);
    free(handle);
    return w4a16_ok();
}

w4a16_status w4a16_get_device_info(w4a16_handle handle, w4a16_device_info *info)
{
    if (!handle) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "handle is NULL");
    if (!info) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "info is NULL");
    *info = handle->info;
    return w4a16_ok();
}

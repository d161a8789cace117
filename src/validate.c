/* validate.c - argument checks shared by every public function. Pure host code: no device. */
#include "internal.h"

#include <inttypes.h>

static const char *dtype_name(w4a16_dtype t)
{
    switch (t) {
    case W4A16_DTYPE_FP16: return "fp16";
    case W4A16_DTYPE_BF16: return "bf16";
    case W4A16_DTYPE_FP32: return "fp32";
    }
    return "unknown";
}

w4a16_status w4a16_check_handle(w4a16_handle h, int need_device)
{
    if (!h) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "handle is NULL");
    (void)need_device;
    return W4A16_SUCCESS;
}

w4a16_status w4a16_check_ptr(const void *p, const char *name, int need_align16)
{
    if (!p) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "%s is NULL", name);
    if (need_align16 && ((uintptr_t)p % 16) != 0)
        return w4a16_fail(W4A16_ERROR_MISALIGNED, "%s=%p is not 16-byte aligned", name, p);
    return W4A16_SUCCESS;
}

w4a16_status w4a16_check_weight_shape(int64_t n, int64_t k)
{
    if (n <= 0 || n >= W4A16_MAX_DIM)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE, "N=%" PRId64 " is outside (0, 2^31)", n);
    if (k <= 0 || k >= W4A16_MAX_DIM)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE, "K=%" PRId64 " is outside (0, 2^31)", k);
    if (n % 8)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE, "N=%" PRId64 " is not a multiple of 8", n);
    if (k % 8)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE, "K=%" PRId64 " is not a multiple of 8", k);
    if (n * k / 2 > (int64_t)1 << 40)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE,
                          "N*K=%" PRId64 " exceeds the limit of 2^41 weights", n * k);
    return W4A16_SUCCESS;
}

w4a16_status w4a16_check_group(int64_t k, int64_t group_size)
{
    if (group_size != 64 && group_size != 128 && group_size != k)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE,
                          "group_size=%" PRId64 " is not 64, 128 or K=%" PRId64, group_size, k);
    if (k % group_size)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE,
                          "K=%" PRId64 " is not a multiple of group_size=%" PRId64, k, group_size);
    return W4A16_SUCCESS;
}

w4a16_status w4a16_check_zero_mode(w4a16_zero_mode z)
{
    if (z != W4A16_ZEROS_NONE && z != W4A16_ZEROS_INT && z != W4A16_ZEROS_FLOAT)
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "zero_mode=%d is not NONE(0), INT(1) or FLOAT(2)",
                          (int)z);
    return W4A16_SUCCESS;
}

w4a16_status w4a16_check_act_dtype(w4a16_dtype t, const char *name)
{
    if (t != W4A16_DTYPE_FP16 && t != W4A16_DTYPE_BF16)
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "%s=%d (%s) is not FP16(0) or BF16(1)", name,
                          (int)t, dtype_name(t));
    return W4A16_SUCCESS;
}

static w4a16_status check_any_dtype(w4a16_dtype t, const char *name)
{
    if (t != W4A16_DTYPE_FP16 && t != W4A16_DTYPE_BF16 && t != W4A16_DTYPE_FP32)
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "%s=%d is not FP16(0), BF16(1) or FP32(2)", name,
                          (int)t);
    return W4A16_SUCCESS;
}

w4a16_status w4a16_problem_init(w4a16_problem *p, int64_t m, int64_t n, int64_t k, w4a16_dtype dtype,
                                int64_t group_size, w4a16_zero_mode zero_mode)
{
    if (!p) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "problem is NULL");
    memset(p, 0, sizeof *p);
    p->m = m;
    p->n = n;
    p->k = k;
    p->dtype = dtype;
    p->group_size = group_size;
    p->zero_mode = zero_mode;
    p->lda = k;
    p->ldd = n;
    p->alpha = 1.0f;
    p->config = -1;
    return w4a16_ok();
}

w4a16_status w4a16_check_problem(const w4a16_problem *p)
{
    w4a16_status st;
    if (!p) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "problem is NULL");
    if ((st = w4a16_check_act_dtype(p->dtype, "dtype"))) return st;
    if ((st = w4a16_check_zero_mode(p->zero_mode))) return st;
    if (p->m < 0 || p->m >= W4A16_MAX_DIM)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE, "M=%" PRId64 " is outside [0, 2^31)", p->m);
    if ((st = w4a16_check_weight_shape(p->n, p->k))) return st;
    if ((st = w4a16_check_group(p->k, p->group_size))) return st;
    if (p->lda < p->k || p->lda >= W4A16_MAX_DIM)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE, "lda=%" PRId64 " is below K=%" PRId64 " or >= 2^31",
                          p->lda, p->k);
    if (p->ldd < p->n || p->ldd >= W4A16_MAX_DIM)
        return w4a16_fail(W4A16_ERROR_INVALID_SHAPE, "ldd=%" PRId64 " is below N=%" PRId64 " or >= 2^31",
                          p->ldd, p->n);
    if (p->lda % 8)
        return w4a16_fail(W4A16_ERROR_MISALIGNED, "lda=%" PRId64 " is not a multiple of 8 elements (16 bytes)",
                          p->lda);
    if (p->ldd % 8)
        return w4a16_fail(W4A16_ERROR_MISALIGNED, "ldd=%" PRId64 " is not a multiple of 8 elements (16 bytes)",
                          p->ldd);
    if (p->alpha != p->alpha || p->alpha - p->alpha != 0.0f)
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "alpha is not finite");
    if (p->pdl != 0 && p->pdl != 1) return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "pdl=%d is not 0 or 1", p->pdl);
    if (p->config < -1 || p->config >= w4a16_config_count())
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "config=%d is not -1 or in [0, %d)", p->config,
                          w4a16_config_count());
    return w4a16_ok(); /* public: a success clears the thread's last message */
}

w4a16_status w4a16_check_quant_args(w4a16_dtype w_dtype, const void *w, int64_t n, int64_t k,
                                    int64_t group_size, w4a16_zero_mode zero_mode,
                                    w4a16_dtype scale_dtype, const uint8_t *q, const void *scales,
                                    const void *zeros, int device_pointers)
{
    w4a16_status st;
    const int al = device_pointers; /* device buffers are read with wide loads */
    if ((st = check_any_dtype(w_dtype, "weight dtype"))) return st;
    if ((st = w4a16_check_act_dtype(scale_dtype, "scale_dtype"))) return st;
    if ((st = w4a16_check_zero_mode(zero_mode))) return st;
    if ((st = w4a16_check_weight_shape(n, k))) return st;
    if ((st = w4a16_check_group(k, group_size))) return st;
    if ((st = w4a16_check_ptr(w, "w", al))) return st;
    if ((st = w4a16_check_ptr(q, "q", al))) return st;
    if ((st = w4a16_check_ptr(scales, "scales", al))) return st;
    if (zero_mode == W4A16_ZEROS_NONE) {
        if (zeros)
            return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "zeros must be NULL when zero_mode is NONE");
    } else if ((st = w4a16_check_ptr(zeros, "zeros", al))) {
        return st;
    }
    return W4A16_SUCCESS;
}

w4a16_status w4a16_check_pack_args(const void *q, int64_t n, int64_t k, const void *packed,
                                   size_t packed_bytes, int device_pointers)
{
    w4a16_status st;
    size_t need;
    if ((st = w4a16_packed_size(n, k, &need))) return st;
    if ((st = w4a16_check_ptr(q, "q", device_pointers))) return st;
    if ((st = w4a16_check_ptr(packed, "packed", device_pointers))) return st;
    if (packed_bytes < need)
        return w4a16_fail(W4A16_ERROR_BUFFER_TOO_SMALL,
                          "packed_bytes=%zu is below the %zu bytes a packed [%" PRId64 ", %" PRId64 "] weight needs",
                          packed_bytes, need, n, k);
    return W4A16_SUCCESS;
}

w4a16_status w4a16_check_unpack_args(const void *packed, size_t packed_bytes, int64_t n, int64_t k,
                                     const void *q, size_t q_bytes, int device_pointers)
{
    w4a16_status st;
    size_t need;
    if ((st = w4a16_check_pack_args(q, n, k, packed, packed_bytes, device_pointers))) return st;
    w4a16_q_size(n, k, &need);
    if (q_bytes < need)
        return w4a16_fail(W4A16_ERROR_BUFFER_TOO_SMALL,
                          "q_bytes=%zu is below the %zu bytes of a q [%" PRId64 ", %" PRId64 "] tensor",
                          q_bytes, need, n, k);
    return W4A16_SUCCESS;
}

w4a16_status w4a16_q_size(int64_t n, int64_t k, size_t *bytes)
{
    w4a16_status st;
    if (!bytes) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "bytes is NULL");
    if ((st = w4a16_check_weight_shape(n, k))) return st;
    *bytes = (size_t)(n * (k / 2));
    return w4a16_ok();
}

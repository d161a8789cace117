/*
 * backend.h - where the tools run the library's weight preparation: on the GPU when
 * w4a16_create succeeds (w4a16_pack / w4a16_quantize on device buffers), on the CPU
 * otherwise (w4a16_pack_host / w4a16_quantize_host). Both give the same bytes (the library
 * guarantees it), so the choice only changes speed.
 */
#ifndef W4A16_TOOLS_BACKEND_H
#define W4A16_TOOLS_BACKEND_H

#include "w4a16.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cv_backend {
    w4a16_handle handle; /* NULL on the CPU path */
    int device;
    void *dbuf[4];       /* device buffers, grown on demand */
    size_t dcap[4];
    void *stream;        /* cudaStream_t */
    char description[256]; /* "GPU 0 (132 SMs)" or "CPU (why)" */
} cv_backend;

/* want_gpu = 0 forces the CPU; otherwise the GPU `device` is tried and, if w4a16_create fails
 * (no GPU, no driver, not Hopper), the CPU is used and description says why. The environment
 * variable W4A16_TOOLS_CPU=1 also forces the CPU. Returns 0 (the CPU path cannot fail to start). */
int cv_backend_init(cv_backend *b, int want_gpu, int device);
void cv_backend_free(cv_backend *b);
static inline int cv_backend_is_gpu(const cv_backend *b) { return b->handle != NULL; }

/* Canonical q [n, k/2] (host) -> packed (host, packed_bytes >= w4a16_packed_size).
 * Returns 0, or -1 with a message in err (512 bytes). */
int cv_backend_pack(cv_backend *b, const uint8_t *q, int64_t n, int64_t k, void *packed,
                    size_t packed_bytes, char *err);

/* Round-to-nearest quantization of host w[n, k] (src_dtype) into host q, scales, zeros
 * exactly as w4a16_quantize_host documents. */
int cv_backend_quantize(cv_backend *b, w4a16_dtype src_dtype, const void *w, int64_t n, int64_t k,
                        int64_t group_size, w4a16_zero_mode zero_mode, w4a16_dtype scale_dtype,
                        uint8_t *q, void *scales, void *zeros, char *err);

#ifdef __cplusplus
}
#endif
#endif

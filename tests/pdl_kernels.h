/* pdl_kernels.h - test_gpu_pdl's helper kernels (pdl_kernels.cu). Each returns a cudaError_t. */
#ifndef W4A16_TEST_PDL_KERNELS_H
#define W4A16_TEST_PDL_KERNELS_H

#include <cuda_runtime_api.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Copies bytes (a multiple of 16) from src to dst on s, delay_us after the kernel starts; the
 * kernel lets the stream's next grid start at once (griddepcontrol.launch_dependents). */
int pdl_late_copy(const void *src, void *dst, size_t bytes, unsigned delay_us, cudaStream_t s);
/* Copies the 16-bit x[0] to out with programmatic stream serialization and without waiting for
 * the grid before it: out shows whether that grid had written x yet. */
int pdl_peek(const void *x, void *out, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif

/* header_c11.c - compiled (never run) by the cpu_header_c11* tests with
 * -std=c11 -pedantic -Wall -Wextra -Werror: w4a16.h is strict C11 on its own, and with
 * -DWITH_CUDA_RUNTIME its cudaStream_t typedef agrees with the CUDA runtime's (C11 allows an
 * identical typedef to repeat; a different one is an error), in either include order. */
#if defined(WITH_CUDA_RUNTIME) && !defined(W4A16_AFTER)
#include <cuda_runtime_api.h>
#endif
#include "w4a16.h"
#if defined(WITH_CUDA_RUNTIME) && defined(W4A16_AFTER)
#include <cuda_runtime_api.h>
#endif

/* Use a few declarations so that a broken prototype is noticed too. */
int header_c11_use(cudaStream_t stream);
int header_c11_use(cudaStream_t stream)
{
    w4a16_problem p;
    w4a16_handle h = 0;
    size_t bytes = 0;
    if (w4a16_problem_init(&p, 1, 8, 64, W4A16_DTYPE_FP16, 64, W4A16_ZEROS_NONE) != W4A16_SUCCESS) return 1;
    (void)w4a16_workspace_size(h, &p, &bytes);
    return (int)w4a16_gemm(h, &p, 0, 0, 0, 0, 0, 0, 0, bytes, stream) + w4a16_version();
}

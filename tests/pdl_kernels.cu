/* pdl_kernels.cu - test_gpu_pdl's helper kernels (C entry points): a late writer that lets the
 * next grid in the stream start at once, and a reader launched with programmatic stream
 * serialization that does not wait for the grid before it. */
#include "pdl_kernels.h"

#include <cuda_runtime.h>
#include <stdint.h>

static __device__ uint64_t now_ns()
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;\n" : "=l"(t));
    return t;
}

/* Every CTA first lets dependents launch, then spins delay_ns, then copies its share. */
static __global__ void late_copy_kernel(const uint4 *src, uint4 *dst, size_t n16, uint64_t delay_ns)
{
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
    const uint64_t t0 = now_ns();
    while (now_ns() - t0 < delay_ns) {
    }
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n16; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = src[i];
}

/* No griddepcontrol.wait: reads x[0] while the preceding grid may still run. */
static __global__ void peek_kernel(const uint16_t *x, uint16_t *out)
{
    if (threadIdx.x == 0) *out = *(const volatile uint16_t *)x;
}

extern "C" int pdl_late_copy(const void *src, void *dst, size_t bytes, unsigned delay_us, cudaStream_t s)
{
    if (bytes % 16) return (int)cudaErrorInvalidValue;
    late_copy_kernel<<<132, 256, 0, s>>>((const uint4 *)src, (uint4 *)dst, bytes / 16, 1000ull * delay_us);
    return (int)cudaGetLastError();
}

extern "C" int pdl_peek(const void *x, void *out, cudaStream_t s)
{
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(1);
    cfg.blockDim = dim3(32);
    cfg.stream = s;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return (int)cudaLaunchKernelEx(&cfg, peek_kernel, (const uint16_t *)x, (uint16_t *)out);
}

/* probe_kernels_1.cu - part 1 of dev/pipe_probe's kernel variants (probe_kernels.h). */
#include "kernels/sm90_launch.cuh"
#include "probe_kernels.h"

PROBE_KERNELS_1(PROBE_INSTANTIATE)

int probe_clusters_t16(int csz)
{
    int cache[9] = {0};
    return sm90::max_clusters(sm90::gemm_kernel<__half, 16, 128, 10, 3, 0>, csz,
                              sm90::smem_bytes<16, 128, 10, 3>(), 512, cache);
}

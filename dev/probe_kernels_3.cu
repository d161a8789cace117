/* probe_kernels_3.cu - part 3 of dev/pipe_probe's kernel variants (probe_kernels.h). */
#include "kernels/sm90_launch.cuh"
#include "probe_kernels.h"

PROBE_KERNELS_3(PROBE_INSTANTIATE)

int probe_clusters_t256(int csz)
{
    int cache[9] = {0};
    return sm90::max_clusters(sm90::gemm_kernel<__half, 256, 64, 6, 2, 0>, csz,
                              sm90::smem_bytes<256, 64, 6, 2>(), 384, cache);
}

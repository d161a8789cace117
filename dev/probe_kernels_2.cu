/* probe_kernels_2.cu - part 2 of dev/pipe_probe's kernel variants (probe_kernels.h). */
#include "kernels/sm90_launch.cuh"
#include "probe_kernels.h"

PROBE_KERNELS_2(PROBE_INSTANTIATE)

int probe_clusters_t64(int csz)
{
    int cache[9] = {0};
    return sm90::max_clusters(sm90::gemm_kernel<__half, 64, 128, 8, 2, 0>, csz,
                              sm90::smem_bytes<64, 128, 8, 2>(), 384, cache);
}

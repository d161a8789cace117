#define _POSIX_C_SOURCE 200809L /* mkstemp */
/* test_gpu_tune.c - w4a16_tune on the GPU: it times every configuration that fits the given
 * workspace, records the fastest, the selection then follows the cache (also after a save and
 * a load into another handle), the tuned GEMM's output is checked element by element and the
 * workspace is left zeroed. Exit 77 ("SKIPPED") without an sm_90 device. */
#include "check.h"
#include "gpu_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    if (!gpu_have_sm90("test_gpu_tune")) return GPU_SKIP;
    w4a16_handle h, h2;
    W4_OK(w4a16_create(&h, 0));
    W4_OK(w4a16_create(&h2, 0));
    ref_rng rng = {0x7e57u};
    gpu_workspace ws = {NULL, 0};
    static const struct {
        int64_t m, n, k, g;
        w4a16_dtype t;
        w4a16_zero_mode z;
    } cases[] = {{16, 1024, 2048, 128, W4A16_DTYPE_FP16, W4A16_ZEROS_NONE},
                 {300, 520, 1024, 64, W4A16_DTYPE_BF16, W4A16_ZEROS_INT}};
    char path[] = "/tmp/w4a16_gpu_tune_XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) close(fd);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        gpu_weights w;
        weights_make(&w, cases[ci].n, cases[ci].k, cases[ci].g, cases[ci].z, cases[ci].t, &rng);
        w4a16_problem p;
        W4_OK(w4a16_problem_init(&p, cases[ci].m, w.n, w.k, w.dtype, w.group, w.mode));
        /* a workspace that fits every configuration */
        size_t need = 0;
        for (int c = 0; c < w4a16_config_count(); c++) {
            w4a16_problem q = p;
            size_t b = 0;
            q.config = c;
            if (w4a16_workspace_size(h, &q, &b) == W4A16_SUCCESS && b > need) need = b;
        }
        CHECK(workspace_reserve(&ws, h, need) == 0, "workspace not zero before growing");
        uint16_t *a = malloc(2 * (size_t)(p.m * p.lda));
        double *ref = malloc(sizeof(double) * (size_t)(p.m * p.n));
        if (!a || !ref) return 1;
        ref_fill_uniform(&rng, p.dtype, a, p.m * p.lda, -1.0f, 1.0f);
        CHECK(ref_gemm_cpu(&p, a, w.q, w.scales, w.zeros, NULL, ref) == 0, "ref");
        void *d_a = dev_upload(a, 2 * (size_t)(p.m * p.lda));
        gpu_output out;
        output_alloc(&out, p.m, p.ldd);

        int best = -1, chosen = -1;
        float us = 0.0f;
        const w4a16_status st =
            w4a16_tune(h, &p, d_a, w.d_packed, w.d_scales, w.d_zeros, NULL, out.dev, ws.dev, ws.bytes, 5, NULL, &best, &us);
        CHECK(st == W4A16_SUCCESS, "w4a16_tune: %s", w4a16_last_error());
        CHECK(best >= 0 && best < w4a16_config_count() && us > 0.0f, "best %d, %.2f us", best, us);
        printf("tune M=%lld N=%lld K=%lld: best %s, %.2f us\n", (long long)p.m, (long long)p.n, (long long)p.k,
               w4a16_config_name(best), us);
        CHECK(workspace_check_zero("after tuning", &ws) == 0, "workspace not zeroed by the tuning runs");
        CHECK(w4a16_select_config(h, &p, &chosen) == W4A16_SUCCESS && chosen == best, "selected %d, tuned %d", chosen,
              best);

        output_poison(&out, NULL);
        W4_OK(w4a16_gemm(h, &p, d_a, w.d_packed, w.d_scales, w.d_zeros, NULL, out.dev, ws.dev, ws.bytes, NULL));
        output_download(&out);
        double worst = 0.0;
        CHECK(output_check("tuned gemm", &p, &out, ref, &worst) == 0, "wrong output (worst err/tol %.3g)", worst);
        CHECK(workspace_check_zero("tuned gemm", &ws) == 0, "workspace not zeroed");

        W4_OK(w4a16_tune_cache_save(h, path));
        W4_OK(w4a16_tune_cache_load(h2, path));
        CHECK(w4a16_select_config(h2, &p, &chosen) == W4A16_SUCCESS && chosen == best, "after load: %d, tuned %d",
              chosen, best);
        output_free(&out);
        cudaFree(d_a);
        free(a);
        free(ref);
        weights_free(&w);
    }
    remove(path);
    workspace_free(&ws);
    w4a16_destroy(h);
    w4a16_destroy(h2);
    return check_exit_code("test_gpu_tune");
}

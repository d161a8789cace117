/* test_gpu_perm.c - act-order (w4a16_problem.k_perm) on the GPU.
 *
 * For each case: random weights, random A (NaN in the lda padding), a random permutation of K.
 * The reference is ref_gemm_cpu on A[:, perm] gathered on the host; the GPU runs w4a16_gemm on
 * A itself with k_perm set (the heuristic and every configuration forced), every element is
 * checked, and the workspace (which now also holds the gathered activations) must be left
 * zeroed. Then one index of the permutation is put out of range (k, and -1): every output of
 * the call must be NaN. Exit 77 ("SKIPPED") without an sm_90 device. */
#include "check.h"
#include "gpu_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static w4a16_handle handle;
static gpu_workspace ws;
static int64_t calls;

static int is_nan_bits(w4a16_dtype t, uint16_t b)
{
    return t == W4A16_DTYPE_FP16 ? (b & 0x7C00) == 0x7C00 && (b & 0x03FF) : (b & 0x7F80) == 0x7F80 && (b & 0x007F);
}

static void run_case(const gpu_weights *w, int64_t m, int stride_a, ref_rng *rng)
{
    w4a16_problem p;
    W4_OK(w4a16_problem_init(&p, m, w->n, w->k, w->dtype, w->group, w->mode));
    if (stride_a) p.lda = w->k + 8;
    const int64_t k = w->k;
    uint16_t *a = malloc(2 * (size_t)(m * p.lda)), *ag = malloc(2 * (size_t)(m * k));
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)k);
    double *ref = malloc(sizeof(double) * (size_t)(m * w->n));
    if (!a || !ag || !perm || !ref) exit(1);
    for (int64_t i = 0; i < m * p.lda; i++) a[i] = 0xffff; /* NaN padding: never read */
    for (int64_t i = 0; i < m; i++) ref_fill_uniform(rng, w->dtype, a + i * p.lda, k, -1.0f, 1.0f);
    for (int64_t j = 0; j < k; j++) perm[j] = (int32_t)j;
    for (int64_t j = k - 1; j > 0; j--) { /* Fisher-Yates */
        const int64_t r = (int64_t)(ref_rand_u64(rng) % (uint64_t)(j + 1));
        const int32_t t = perm[j];
        perm[j] = perm[r];
        perm[r] = t;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++) ag[i * k + j] = a[i * p.lda + perm[j]];
    w4a16_problem pr = p; /* the reference multiplies the gathered copy */
    pr.lda = k;
    CHECK(ref_gemm_cpu(&pr, ag, w->q, w->scales, w->zeros, NULL, ref) == 0, "ref_gemm_cpu");

    void *d_a = dev_upload(a, 2 * (size_t)(m * p.lda));
    int32_t *d_perm = dev_upload(perm, sizeof(int32_t) * (size_t)k);
    p.k_perm = d_perm;
    gpu_output out;
    output_alloc(&out, m, p.ldd);
    for (int cfg = -1; cfg < w4a16_config_count(); cfg++) {
        char label[200];
        p.config = cfg;
        int chosen = -1;
        if (w4a16_select_config(handle, &p, &chosen) != W4A16_SUCCESS) {
            CHECK(cfg >= 0, "the heuristic found no configuration: %s", w4a16_last_error());
            continue;
        }
        snprintf(label, sizeof label, "k_perm %s zeros %d N=%lld K=%lld g=%lld M=%lld lda=%lld config %s",
                 w->dtype == W4A16_DTYPE_FP16 ? "fp16" : "bf16", (int)w->mode, (long long)w->n, (long long)k,
                 (long long)w->group, (long long)m, (long long)p.lda, w4a16_config_name(chosen));
        size_t need = 0;
        W4_OK(w4a16_workspace_size(handle, &p, &need));
        CHECK(workspace_reserve(&ws, handle, need) == 0, "%s: workspace not zero before growing it", label);
        output_poison(&out, NULL);
        const w4a16_status st = w4a16_gemm(handle, &p, d_a, w->d_packed, w->d_scales, w->d_zeros, NULL, out.dev,
                                           ws.dev, ws.bytes, NULL);
        calls++;
        CHECK(st == W4A16_SUCCESS, "%s: %s: %s", label, w4a16_status_string(st), w4a16_last_error());
        output_download(&out);
        double worst = 0.0;
        const int64_t bad = output_check(label, &p, &out, ref, &worst);
        CHECK(bad == 0, "%s: %lld bad elements (worst err/tol %.3g)", label, (long long)bad, worst);
        CHECK(workspace_check_zero(label, &ws) == 0, "%s: workspace not left zeroed", label);
    }

    /* An index out of [0, k): every output NaN (never a silent wrong result). */
    const int32_t bad_values[2] = {(int32_t)k, -1};
    for (int b = 0; b < 2; b++) {
        int32_t *pb = malloc(sizeof(int32_t) * (size_t)k);
        if (!pb) exit(1);
        memcpy(pb, perm, sizeof(int32_t) * (size_t)k);
        pb[k / 2] = bad_values[b];
        int32_t *d_pb = dev_upload(pb, sizeof(int32_t) * (size_t)k);
        p.k_perm = d_pb;
        p.config = -1;
        size_t need = 0;
        W4_OK(w4a16_workspace_size(handle, &p, &need));
        CHECK(workspace_reserve(&ws, handle, need) == 0, "workspace not zero before growing it");
        CUDA_OK(cudaMemset(out.dev, 0, out.bytes));
        W4_OK(w4a16_gemm(handle, &p, d_a, w->d_packed, w->d_scales, w->d_zeros, NULL, out.dev, ws.dev, ws.bytes,
                         NULL));
        output_download(&out);
        int64_t not_nan = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t n = 0; n < w->n; n++) not_nan += !is_nan_bits(w->dtype, out.host[i * p.ldd + n]);
        CHECK(not_nan == 0, "k_perm[%lld] = %d: %lld of %lld outputs are not NaN", (long long)(k / 2), bad_values[b],
              (long long)not_nan, (long long)(m * w->n));
        CHECK(workspace_check_zero("bad k_perm", &ws) == 0, "bad k_perm: workspace not left zeroed");
        cudaFree(d_pb);
        free(pb);
    }
    output_free(&out);
    cudaFree(d_a);
    cudaFree(d_perm);
    free(a);
    free(ag);
    free(perm);
    free(ref);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--probe")) return gpu_have_sm90("test_gpu_perm") ? 0 : GPU_SKIP;
    if (!gpu_have_sm90("test_gpu_perm")) return GPU_SKIP;
    W4_OK(w4a16_create(&handle, 0));
    static const struct { int64_t n, k, group; } shapes[] = {{200, 384, 128}, {136, 640, 64}, {264, 72, 72}};
    static const int64_t ms[] = {1, 17, 129};
    ref_rng rng = {0x9e3779b97f4a7c15ULL};
    int variant = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int dt = 0; dt < 2; dt++) {
            const w4a16_zero_mode mode = (w4a16_zero_mode)((si + (size_t)dt) % 3);
            gpu_weights w;
            weights_make(&w, shapes[si].n, shapes[si].k, shapes[si].group, mode, (w4a16_dtype)dt, &rng);
            for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) run_case(&w, ms[mi], variant++ & 1, &rng);
            weights_free(&w);
        }
    printf("%lld checked calls with k_perm\n", (long long)calls);
    workspace_free(&ws);
    W4_OK(w4a16_destroy(handle));
    return check_exit_code("test_gpu_perm");
}

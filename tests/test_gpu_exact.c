/* test_gpu_exact.c - a GEMM whose every intermediate is exact, compared bit for bit.
 *
 * Scales are powers of two (2^-2 .. 2^1), integer zeros 0..15, float zeros multiples of 1/4 in
 * [-2, 2], activations integers in -2..2, bias multiples of 1/4, alpha 1 or 0.5. Then every
 * dequantized weight is exact in fp16 and bf16, every product and partial sum is a multiple of
 * 2^-3 below 2^15 (exact in fp32 in any summation order, split-K included), and the only
 * rounding is the final one to the output dtype: the result must equal the round-to-nearest-even
 * of the exact value (computed by ref_gemm_cpu in double) bit for bit, with every
 * configuration. Exit 77 ("SKIPPED") without an sm_90 device. */
#include "check.h"
#include "gpu_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    if (!gpu_have_sm90("test_gpu_exact")) return GPU_SKIP;
    w4a16_handle h;
    W4_OK(w4a16_create(&h, 0));
    static const struct { int64_t n, k, group; } shapes[] = {{136, 256, 64}, {200, 384, 128}, {264, 72, 72}};
    static const int64_t ms[] = {1, 16, 33, 130};
    ref_rng rng = {0xe8ac7e5717ULL};
    gpu_workspace ws = {NULL, 0};
    int64_t calls = 0, variant = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int dt = 0; dt < 2; dt++)
            for (int z = 0; z < 3; z++) {
                const w4a16_dtype t = (w4a16_dtype)dt;
                gpu_weights w;
                weights_alloc(&w, shapes[si].n, shapes[si].k, shapes[si].group, (w4a16_zero_mode)z, t);
                const int64_t gn = w.k / w.group * w.n;
                for (int64_t i = 0; i < w.n * w.k / 2; i++) w.q[i] = (uint8_t)ref_rand_u64(&rng);
                for (int64_t i = 0; i < gn; i++) {
                    ((uint16_t *)w.scales)[i] = ref_bits_from_double(t, 0.25 * (double)(1 << (ref_rand_u64(&rng) % 4)));
                    if (z == W4A16_ZEROS_INT) ((uint8_t *)w.zeros)[i] = (uint8_t)(ref_rand_u64(&rng) % 16);
                    if (z == W4A16_ZEROS_FLOAT)
                        ((uint16_t *)w.zeros)[i] = ref_bits_from_double(t, 0.25 * (double)((int)(ref_rand_u64(&rng) % 17) - 8));
                }
                weights_upload(&w);
                const int before = check_failures;
                for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++, variant++) {
                    w4a16_problem p;
                    W4_OK(w4a16_problem_init(&p, ms[mi], w.n, w.k, t, w.group, w.mode));
                    p.alpha = variant % 2 ? 0.5f : 1.0f;
                    const int with_bias = (variant / 2) % 2;
                    if ((variant / 4) % 2) p.lda += 8;
                    if ((variant / 3) % 2) p.ldd += 8;
                    uint16_t *a = malloc(2 * (size_t)(p.m * p.lda)), *bias = malloc(2 * (size_t)p.n);
                    double *ref = malloc(sizeof(double) * (size_t)(p.m * p.n));
                    if (!a || !bias || !ref) return 1;
                    for (int64_t i = 0; i < p.m * p.lda; i++)
                        a[i] = i % p.lda < p.k ? ref_bits_from_double(t, (double)((int)(ref_rand_u64(&rng) % 5) - 2)) : 0xffff; /* NaN padding */
                    a[0] = ref_bits_from_double(t, 1.0); /* never all zero */
                    for (int64_t i = 0; i < p.n; i++) bias[i] = ref_bits_from_double(t, 0.25 * (double)((int)(ref_rand_u64(&rng) % 33) - 16));
                    CHECK(ref_gemm_cpu(&p, a, w.q, w.scales, w.zeros, with_bias ? bias : NULL, ref) == 0, "ref");
                    void *d_a = dev_upload(a, 2 * (size_t)(p.m * p.lda)), *d_bias = dev_upload(bias, 2 * (size_t)p.n);
                    gpu_output out;
                    output_alloc(&out, p.m, p.ldd);
                    for (int cfg = -1; cfg < w4a16_config_count(); cfg++) {
                        char label[200];
                        int chosen = -1;
                        const int usable = gpu_select_config(h, &p, cfg, &chosen);
                        CHECK(usable >= 0, "heuristic refused");
                        if (usable <= 0) continue;
                        snprintf(label, sizeof label, "exact %s zeros=%d N=%lld K=%lld g=%lld M=%lld alpha=%g%s lda=%lld ldd=%lld config %s",
                                 dt ? "bf16" : "fp16", z, (long long)p.n, (long long)p.k, (long long)p.group_size,
                                 (long long)p.m, p.alpha, with_bias ? " bias" : "", (long long)p.lda, (long long)p.ldd,
                                 w4a16_config_name(chosen));
                        size_t need = 0;
                        W4_OK(w4a16_workspace_size(h, &p, &need));
                        CHECK(workspace_reserve(&ws, h, need) == 0, "%s: workspace not zero before growing", label);
                        output_poison(&out, NULL);
                        const w4a16_status st = w4a16_gemm(h, &p, d_a, w.d_packed, w.d_scales, w.d_zeros,
                                                           with_bias ? d_bias : NULL, out.dev, ws.dev, ws.bytes, NULL);
                        calls++;
                        CHECK(st == W4A16_SUCCESS, "%s: %s", label, w4a16_last_error());
                        output_download(&out);
                        CHECK(output_check_exact(label, &p, &out, ref) == 0, "%s: not bit-exact", label);
                        if (need) CHECK(workspace_check_zero(label, &ws) == 0, "%s: workspace not zeroed", label);
                    }
                    output_free(&out);
                    cudaFree(d_a);
                    cudaFree(d_bias);
                    free(a);
                    free(bias);
                    free(ref);
                }
                printf("exact %s zeros=%d N=%lld K=%lld g=%lld: %s\n", dt ? "bf16" : "fp16", z, (long long)w.n,
                       (long long)w.k, (long long)w.group, check_failures == before ? "ok" : "FAILED");
                weights_free(&w);
            }
    CHECK(workspace_check_zero("final", &ws) == 0, "workspace not zero at the end");
    printf("%lld GEMM calls compared bit for bit\n", (long long)calls);
    workspace_free(&ws);
    w4a16_destroy(h);
    return check_exit_code("test_gpu_exact");
}

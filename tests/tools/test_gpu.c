/* test_gpu.c - the tools' GPU path gives the CPU path's bytes: w4a16_pack and w4a16_quantize
 * through the backend, and a whole conversion. Exits 77 (skipped) without a usable GPU. */
#define _POSIX_C_SOURCE 200809L
#include "convert.h"
#include "fixtures.h"

#include <stdlib.h>
#include <string.h>

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = (uint8_t *)malloc(*len + 1);
    if (fread(p, 1, *len, fp) != *len) *len = 0;
    fclose(fp);
    return p;
}

int main(void)
{
    cv_backend gpu, cpu;
    cv_backend_init(&gpu, 1, 0);
    if (!cv_backend_is_gpu(&gpu)) {
        printf("tools_gpu: skipped: %s\n", gpu.description);
        return 77;
    }
    cv_backend_init(&cpu, 0, 0);
    printf("tools_gpu: %s\n", gpu.description);
    char err[CV_ERR_LEN];
    ref_rng r = {4242};
    const int64_t shapes[][3] = {{64, 256, 128}, {7392 / 8 * 8, 1024, 64}, {24, 136 * 8, 8 * 136}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int64_t n = shapes[si][0], k = shapes[si][1], gs = shapes[si][2];
        size_t pb;
        w4a16_packed_size(n, k, &pb);
        uint8_t *q = (uint8_t *)malloc((size_t)(n * k / 2)), *p1 = (uint8_t *)malloc(pb), *p2 = (uint8_t *)malloc(pb);
        for (int64_t i = 0; i < n * k / 2; i++) q[i] = (uint8_t)ref_rand_u64(&r);
        CHECK(cv_backend_pack(&gpu, q, n, k, p1, pb, err) == 0, "gpu pack: %s", err);
        CHECK(cv_backend_pack(&cpu, q, n, k, p2, pb, err) == 0, "cpu pack: %s", err);
        CHECK(memcmp(p1, p2, pb) == 0, "pack [%lld, %lld]: GPU and CPU bytes differ", (long long)n, (long long)k);
        for (int dt = 0; dt < 2; dt++)
            for (int zm = 0; zm < 3; zm++) {
                const w4a16_dtype d = (w4a16_dtype)dt;
                const int64_t G = k / gs;
                uint16_t *w = (uint16_t *)malloc((size_t)(n * k) * 2);
                ref_fill_uniform(&r, d, w, n * k, -0.1f, 0.07f);
                uint8_t *q1 = (uint8_t *)malloc((size_t)(n * k / 2)), *q2 = (uint8_t *)malloc((size_t)(n * k / 2));
                uint16_t *s1 = (uint16_t *)malloc((size_t)(G * n) * 2), *s2 = (uint16_t *)malloc((size_t)(G * n) * 2);
                uint16_t *z1 = zm ? (uint16_t *)malloc((size_t)(G * n) * 2) : NULL, *z2 = zm ? (uint16_t *)malloc((size_t)(G * n) * 2) : NULL;
                const size_t zb = (size_t)(G * n) * (zm == 1 ? 1 : 2);
                CHECK(cv_backend_quantize(&gpu, d, w, n, k, gs, (w4a16_zero_mode)zm, d, q1, s1, z1, err) == 0, "gpu q: %s", err);
                CHECK(cv_backend_quantize(&cpu, d, w, n, k, gs, (w4a16_zero_mode)zm, d, q2, s2, z2, err) == 0, "cpu q: %s", err);
                CHECK(!memcmp(q1, q2, (size_t)(n * k / 2)) && !memcmp(s1, s2, (size_t)(G * n) * 2) &&
                          (!zm || !memcmp(z1, z2, zb)),
                      "quantize [%lld, %lld] g%lld dtype %d zeros %d: GPU and CPU differ", (long long)n, (long long)k,
                      (long long)gs, dt, zm);
                free(w);
                free(q1);
                free(q2);
                free(s1);
                free(s2);
                free(z1);
                free(z2);
            }
        free(q);
        free(p1);
        free(p2);
    }
    /* a whole act-order GPTQ conversion: GPU file == CPU file */
    char dir[256], ck[300], o1[512], o2[512], cfg[4096];
    CHECK(fx_tempdir(dir, "gpu") == 0, "tempdir");
    fx_spec s;
    memset(&s, 0, sizeof s);
    s.format = FX_GPTQ_V1;
    s.n = 256;
    s.k = 512;
    s.group_size = 128;
    s.act_order = 1;
    s.bias = 1;
    s.scale_dtype = W4A16_DTYPE_FP16;
    s.seed = 3;
    fx_truth t;
    fx_truth_make(&t, &s);
    fx_config_json(&s, "float16", cfg, sizeof cfg);
    snprintf(ck, sizeof ck, "%s/ckpt", dir);
    const char *names[1] = {"model.layers.0.mlp.up_proj"};
    CHECK(fx_write_checkpoint(ck, cfg, names, &t, 1, 1) == 0, "fixture");
    snprintf(o1, sizeof o1, "%s/gpu.safetensors", dir);
    snprintf(o2, sizeof o2, "%s/cpu.safetensors", dir);
    cv_options o;
    cv_options_init(&o);
    CHECK(cv_convert_dir(ck, o1, &gpu, &o, NULL, err) == 0, "gpu convert: %s", err);
    CHECK(cv_convert_dir(ck, o2, &cpu, &o, NULL, err) == 0, "cpu convert: %s", err);
    size_t l1 = 0, l2 = 0;
    uint8_t *b1 = slurp(o1, &l1), *b2 = slurp(o2, &l2);
    CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0, "GPU and CPU conversions differ");
    free(b1);
    free(b2);
    fx_truth_free(&t);
    fx_rmdir(dir);
    cv_backend_free(&gpu);
    cv_backend_free(&cpu);
    if (fx_failures) {
        fprintf(stderr, "tools_gpu: %d check(s) failed\n", fx_failures);
        return 1;
    }
    printf("tools_gpu: all checks passed\n");
    return 0;
}

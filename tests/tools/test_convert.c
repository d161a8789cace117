/*
 * test_convert.c - the converters against checkpoints written by the test from the formats'
 * definitions: for every format and variant,
 *   - round trip: convert -> w4a16_unpack_host -> the q the test generated (K permuted by the
 *     written perm for act-order, and that perm is the stable argsort of g_idx);
 *   - equivalence: w4a16_dequantize_host of the converted layer equals the format's own
 *     formula computed from the checkpoint's tensors, and ref_gemm_cpu on the converted layer
 *     equals a direct GEMM with the format's formula;
 *   - known vectors (symmetric v1 GPTQ qzeros words are 0x77777777, hand-packed words);
 *   - variants refused with a message; the float-offset (TensorRT-LLM / Machete) API.
 */
#define _POSIX_C_SOURCE 200809L
#include "convert.h"
#include "fixtures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *NAMES[2] = {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj"};

static int nib(const uint8_t *q, int64_t k, int64_t n, int64_t kk)
{
    return (q[n * (k / 2) + kk / 2] >> (4 * (kk & 1))) & 15;
}

static double round_to(w4a16_dtype t, double v) { return fx_h2f(t, fx_f2h(t, (float)v)); }

static uint8_t *read_file_bytes(const char *path, size_t *len)
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

/* The GEMM check: ref_gemm_cpu on the converted layer vs the format's formula directly. */
static void check_gemm(const char *label, const cv_layer *l, const float *wf, const fx_truth *t, double rtol)
{
    const int64_t M = 5, N = l->n, K = l->k;
    ref_rng r = {77 + (uint64_t)N};
    uint16_t *a = (uint16_t *)malloc((size_t)(M * K) * 2), *ag = (uint16_t *)malloc((size_t)(M * K) * 2);
    ref_fill_uniform(&r, l->dtype, a, M * K, -1.0f, 1.0f);
    /* the activations gathered by the layer's permutation: A'[:, j] = A[:, perm[j]] */
    for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < K; j++) ag[m * K + j] = a[m * K + (l->perm ? l->perm[j] : j)];
    w4a16_problem p;
    w4a16_problem_init(&p, M, N, K, l->dtype, l->group_size, l->zero_mode);
    double *got = (double *)malloc((size_t)(M * N) * sizeof(double)), *want = (double *)malloc((size_t)(M * N) * sizeof(double));
    CHECK(ref_gemm_cpu(&p, ag, l->q, l->scales, l->zeros, l->bias, got) == 0, "%s: ref_gemm_cpu failed: %s", label,
          w4a16_last_error());
    double ss = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) acc += (double)fx_h2f(l->dtype, a[m * K + k]) * round_to(l->dtype, wf[n * K + k]);
            if (t->bias) acc += round_to(l->dtype, fx_h2f(t->spec.scale_dtype, t->bias[n]));
            want[m * N + n] = acc;
            ss += acc * acc;
        }
    const double rms = sqrt(ss / (double)(M * N));
    char lab[256];
    snprintf(lab, sizeof lab, "%s GEMM", label);
    CHECK(fx_check_close(lab, got, want, M * N, rtol, rtol * rms) == 0, "%s: GEMM differs from the format's formula", label);
    free(a);
    free(ag);
    free(got);
    free(want);
}

/* The stable argsort of g_idx, computed here independently (insertion by group, then index). */
static int32_t *expected_perm(const fx_truth *t)
{
    const int64_t K = t->spec.k;
    int32_t *p = (int32_t *)malloc((size_t)K * 4);
    int64_t o = 0;
    for (int64_t g = 0; g < t->groups; g++)
        for (int64_t k = 0; k < K; k++)
            if (t->g_idx[k] == g) p[o++] = (int32_t)k;
    return p;
}

/* Converts a checkpoint of `spec` (two layers) and checks everything about the result. */
static void run_variant(const char *label, fx_spec spec, const char *model_dtype, int opt_dtype, int shards,
                        w4a16_zero_mode want_mode)
{
    char dir[256], out[512], out1[512], cfg[4096], err[CV_ERR_LEN];
    printf("%s\n", label);
    CHECK(fx_tempdir(dir, "conv") == 0, "tempdir");
    fx_truth t[2];
    fx_spec s2 = spec;
    s2.seed = spec.seed + 1000;
    s2.bias = !spec.bias;
    fx_truth_make(&t[0], &spec);
    fx_truth_make(&t[1], &s2);
    fx_config_json(&spec, model_dtype, cfg, sizeof cfg);
    char ck[300];
    snprintf(ck, sizeof ck, "%s/ckpt", dir);
    CHECK(fx_write_checkpoint(ck, cfg, NAMES, t, 2, shards) == 0, "%s: writing the checkpoint", label);
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    snprintf(out1, sizeof out1, "%s/out1.safetensors", dir);
    cv_backend be;
    cv_backend_init(&be, 0, 0);
    cv_options o;
    cv_options_init(&o);
    o.dtype = opt_dtype;
    o.threads = 2;
    cv_summary sum;
    if (cv_convert_dir(ck, out, &be, &o, &sum, err)) {
        CHECK(0, "%s: conversion failed: %s", label, err);
        goto cleanup;
    }
    CHECK(sum.layers == 2 && sum.passthrough == 1, "%s: 2 layers and 1 passthrough, got %zu, %zu", label, sum.layers,
          sum.passthrough);
    /* one thread gives the same bytes as two */
    o.threads = 1;
    CHECK(cv_convert_dir(ck, out1, &be, &o, &sum, err) == 0, "%s: %s", label, err);
    size_t la, lb;
    uint8_t *fa = read_file_bytes(out, &la), *fb = read_file_bytes(out1, &lb);
    CHECK(fa && fb && la == lb && memcmp(fa, fb, la) == 0, "%s: outputs of 1 and 2 threads differ", label);
    free(fa);
    free(fb);

    st_file *f = NULL;
    st_model *m = NULL;
    cv_packed_info *info = NULL;
    size_t count = 0;
    CHECK(st_file_open(&f, out, err) == 0, "%s: %s", label, err);
    CHECK(f && cv_packed_file_layers(f, &info, &count, err) == 0 && count == 2, "%s: layers: %s", label, err);
    CHECK(st_model_open(&m, ck, err) == 0, "%s: %s", label, err);
    if (!f || !m || count != 2) goto cleanup2;
    CHECK(st_file_find(f, "model.norm.weight") != NULL, "%s: unquantized tensors are copied", label);
    const w4a16_dtype out_dtype = opt_dtype >= 0 ? (w4a16_dtype)opt_dtype
                                  : model_dtype ? (strcmp(model_dtype, "bfloat16") == 0 ? W4A16_DTYPE_BF16 : W4A16_DTYPE_FP16)
                                                : spec.scale_dtype;
    const int exact = out_dtype == spec.scale_dtype;
    for (int li = 0; li < 2; li++) {
        const fx_truth *tr = &t[li];
        const cv_packed_info *in = NULL;
        for (size_t j = 0; j < count; j++)
            if (!strcmp(info[j].name, NAMES[li])) in = &info[j];
        CHECK(in != NULL, "%s: layer %s missing", label, NAMES[li]);
        if (!in) continue;
        const int64_t N = tr->spec.n, K = tr->spec.k, G = tr->groups;
        CHECK(in->n == N && in->k == K && in->group_size == tr->gs, "%s: shape metadata", label);
        CHECK(in->zero_mode == want_mode, "%s: zero mode %s, expected %s", label, cv_zero_mode_name(in->zero_mode),
              cv_zero_mode_name(want_mode));
        CHECK(in->act_order == tr->spec.act_order, "%s: act_order %d", label, in->act_order);
        CHECK(in->has_bias == tr->spec.bias, "%s: bias %d", label, in->has_bias);
        CHECK(in->dtype == out_dtype, "%s: dtype %s", label, cv_dtype_name(in->dtype));
        cv_layer l;
        if (cv_packed_layer_load(f, in, 1, &l, err)) {
            CHECK(0, "%s: load: %s", label, err);
            continue;
        }
        /* the permutation */
        int32_t *ep = tr->spec.act_order ? expected_perm(tr) : NULL;
        CHECK((l.perm != NULL) == (ep != NULL), "%s: perm present", label);
        if (ep && l.perm) CHECK(memcmp(ep, l.perm, (size_t)K * 4) == 0, "%s: perm is not the stable argsort of g_idx", label);
        /* round trip of q */
        int64_t bad = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < K; j++)
                bad += nib(l.q, K, n, j) != tr->q[n * K + (ep ? ep[j] : j)];
        CHECK(bad == 0, "%s: %lld q values differ from the generated ones", label, (long long)bad);
        /* scales and zeros */
        bad = 0;
        for (int64_t i = 0; i < G * N; i++) {
            const uint16_t want = exact ? tr->s[i] : fx_f2h(out_dtype, fx_h2f(tr->spec.scale_dtype, tr->s[i]));
            bad += ((const uint16_t *)l.scales)[i] != want;
            if (l.zero_mode == W4A16_ZEROS_INT) bad += ((const uint8_t *)l.zeros)[i] != tr->z[i];
        }
        CHECK(bad == 0, "%s: %lld scales/zeros differ", label, (long long)bad);
        /* dequantization: ours (fp32) vs the format's formula */
        float *wf = (float *)malloc((size_t)(N * K) * 4), *wd = (float *)malloc((size_t)(N * K) * 4);
        CHECK(fx_format_dequant(m, NAMES[li], tr->spec.format, tr->spec.group_size, wf) == 0, "%s: formula", label);
        CHECK(w4a16_dequantize_host(l.q, N, K, l.group_size, l.zero_mode, l.dtype, l.scales, l.zeros, W4A16_DTYPE_FP32,
                                    wd) == W4A16_SUCCESS,
              "%s: dequantize: %s", label, w4a16_last_error());
        double *got = (double *)malloc((size_t)(N * K) * sizeof(double)), *want = (double *)malloc((size_t)(N * K) * sizeof(double));
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < K; j++) {
                got[n * K + j] = wd[n * K + j];
                want[n * K + j] = wf[n * K + (l.perm ? l.perm[j] : j)];
            }
        char lab[256];
        snprintf(lab, sizeof lab, "%s %s dequant", label, NAMES[li]);
        /* exact when the scale dtype is kept; else the scale's one rounding (half an ulp) */
        const double rt = exact ? 0.0 : (out_dtype == W4A16_DTYPE_BF16 ? ldexp(1.0, -8) : ldexp(1.0, -11));
        CHECK(fx_check_close(lab, got, want, N * K, rt, 0.0) == 0, "%s: dequantization differs from the formula", label);
        snprintf(lab, sizeof lab, "%s %s", label, NAMES[li]);
        check_gemm(lab, &l, wf, tr, exact ? 1e-6 : (out_dtype == W4A16_DTYPE_BF16 ? ldexp(1.0, -7) : ldexp(1.0, -10)));
        free(got);
        free(want);
        free(wf);
        free(wd);
        free(ep);
        cv_layer_free(&l);
    }
cleanup2:
    cv_packed_info_free(info, count);
    st_file_close(f);
    st_model_close(m);
cleanup:
    cv_backend_free(&be);
    fx_truth_free(&t[0]);
    fx_truth_free(&t[1]);
    fx_rmdir(dir);
}

static fx_spec spec_of(fx_format fmt, int64_t n, int64_t k, int64_t gs, int sym, int act, int bias, w4a16_dtype sd,
                       uint64_t seed)
{
    fx_spec s;
    memset(&s, 0, sizeof s);
    s.format = fmt;
    s.n = n;
    s.k = k;
    s.group_size = gs;
    s.sym = sym;
    s.act_order = act;
    s.bias = bias;
    s.scale_dtype = sd;
    s.seed = seed;
    return s;
}

/* Writes one layer of `spec` (config included) into dir/ckpt; returns the model. */
static st_model *write_one(const char *dir, const fx_spec *spec, fx_truth *t, char *ck)
{
    char cfg[4096], err[ST_ERR_LEN];
    fx_truth_make(t, spec);
    fx_config_json(spec, NULL, cfg, sizeof cfg);
    sprintf(ck, "%s/ckpt", dir);
    if (fx_write_checkpoint(ck, cfg, NAMES, t, 1, 1)) return NULL;
    st_model *m = NULL;
    if (st_model_open(&m, ck, err)) fprintf(stderr, "%s\n", err);
    return m;
}

static uint32_t word_at(const st_model *m, const char *name, int64_t index)
{
    const st_file *f;
    const st_tensor *t = st_model_find(m, name, &f);
    if (!t) return 0xdeadbeef;
    const uint8_t *p = st_file_data(f, t) + 4 * index;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Converts dir/ckpt into dir/out.safetensors and loads layer 0. */
static int convert_load(const char *dir, const char *ck, cv_layer *l, char *err)
{
    char out[512];
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    cv_backend be;
    cv_backend_init(&be, 0, 0);
    cv_options o;
    cv_options_init(&o);
    int rc = cv_convert_dir(ck, out, &be, &o, NULL, err);
    cv_backend_free(&be);
    if (rc) return rc;
    st_file *f;
    if (st_file_open(&f, out, err)) return -1;
    cv_packed_info *info;
    size_t count;
    rc = cv_packed_file_layers(f, &info, &count, err);
    if (!rc) {
        rc = cv_packed_layer_load(f, &info[0], 1, l, err);
        cv_packed_info_free(info, count);
    }
    st_file_close(f);
    return rc;
}

static void test_known_vectors(void)
{
    printf("known vectors\n");
    char dir[256], ck[300], err[CV_ERR_LEN];
    char name[512];
    /* symmetric GPTQ v1: every qzeros word is 0x77777777; v2: 0x88888888 */
    for (int v = 1; v <= 2; v++) {
        fx_truth t;
        CHECK(fx_tempdir(dir, "kv") == 0, "tempdir");
        fx_spec s = spec_of(v == 1 ? FX_GPTQ_V1 : FX_GPTQ_V2, 64, 256, 128, 1, 0, 0, W4A16_DTYPE_FP16, 5);
        st_model *m = write_one(dir, &s, &t, ck);
        snprintf(name, sizeof name, "%s.qzeros", NAMES[0]);
        int64_t bad = 0;
        for (int64_t i = 0; i < 2 * 64 / 8; i++) bad += word_at(m, name, i) != (v == 1 ? 0x77777777u : 0x88888888u);
        CHECK(m && bad == 0, "symmetric GPTQ v%d: %lld qzeros words are not 0x%s", v, (long long)bad,
              v == 1 ? "77777777" : "88888888");
        cv_layer l;
        CHECK(convert_load(dir, ck, &l, err) == 0, "%s", err);
        CHECK(l.zero_mode == W4A16_ZEROS_NONE && l.zeros == NULL, "symmetric GPTQ v%d converts to ZEROS_NONE", v);
        cv_layer_free(&l);
        st_model_close(m);
        fx_truth_free(&t);
        fx_rmdir(dir);
    }
    /* GPTQ qweight word 0x76543210 at [0, 0] is q[0][0..7] = 0..7: canonical bytes 10 32 54 76 */
    {
        fx_truth t;
        CHECK(fx_tempdir(dir, "kv") == 0, "tempdir");
        fx_spec s = spec_of(FX_GPTQ_V2, 8, 64, 64, 0, 0, 0, W4A16_DTYPE_FP16, 6);
        char cfg[4096];
        fx_truth_make(&t, &s);
        for (int i = 0; i < 8; i++) t.q[i] = (uint8_t)i;
        fx_config_json(&s, NULL, cfg, sizeof cfg);
        snprintf(ck, sizeof ck, "%s/ckpt", dir);
        fx_write_checkpoint(ck, cfg, NAMES, &t, 1, 1);
        st_model *m = NULL;
        st_model_open(&m, ck, err);
        snprintf(name, sizeof name, "%s.qweight", NAMES[0]);
        CHECK(m && word_at(m, name, 0) == 0x76543210u, "GPTQ qweight[0,0] = 0x%08x", m ? word_at(m, name, 0) : 0);
        cv_layer l;
        CHECK(convert_load(dir, ck, &l, err) == 0, "%s", err);
        CHECK(l.q && l.q[0] == 0x10 && l.q[1] == 0x32 && l.q[2] == 0x54 && l.q[3] == 0x76,
              "GPTQ word 0x76543210 -> canonical bytes 10 32 54 76");
        cv_layer_free(&l);
        st_model_close(m);
        fx_truth_free(&t);
        fx_rmdir(dir);
    }
    /* AWQ: columns 0..7 of row k=0 holding 0..7 pack (ORDER 0,2,4,6,1,3,5,7) into 0x75316420 */
    {
        fx_truth t;
        CHECK(fx_tempdir(dir, "kv") == 0, "tempdir");
        fx_spec s = spec_of(FX_AWQ, 8, 64, 64, 0, 0, 0, W4A16_DTYPE_FP16, 7);
        char cfg[4096];
        fx_truth_make(&t, &s);
        for (int n = 0; n < 8; n++) t.q[n * 64] = (uint8_t)n;
        fx_config_json(&s, NULL, cfg, sizeof cfg);
        snprintf(ck, sizeof ck, "%s/ckpt", dir);
        fx_write_checkpoint(ck, cfg, NAMES, &t, 1, 1);
        st_model *m = NULL;
        st_model_open(&m, ck, err);
        snprintf(name, sizeof name, "%s.qweight", NAMES[0]);
        CHECK(m && word_at(m, name, 0) == 0x75316420u, "AWQ qweight[0,0] = 0x%08x", m ? word_at(m, name, 0) : 0);
        cv_layer l;
        CHECK(convert_load(dir, ck, &l, err) == 0, "%s", err);
        int ok = l.q != NULL;
        for (int n = 0; ok && n < 8; n++) ok = (l.q[n * 32] & 15) == n;
        CHECK(ok, "AWQ word 0x75316420 -> q[n][0] = n");
        cv_layer_free(&l);
        st_model_close(m);
        fx_truth_free(&t);
        fx_rmdir(dir);
    }
    /* symmetric compressed-tensors weight_packed, transposed, is bit-identical to GPTQ qweight */
    {
        fx_truth t1, t2;
        char dir2[256], ck2[300];
        CHECK(fx_tempdir(dir, "kv") == 0 && fx_tempdir(dir2, "kv") == 0, "tempdir");
        fx_spec s = spec_of(FX_CT, 16, 128, 64, 1, 0, 0, W4A16_DTYPE_FP16, 8);
        st_model *a = write_one(dir, &s, &t1, ck);
        s.format = FX_GPTQ_V2;
        st_model *b = write_one(dir2, &s, &t2, ck2);
        char n1[512], n2[512];
        snprintf(n1, sizeof n1, "%s.weight_packed", NAMES[0]);
        snprintf(n2, sizeof n2, "%s.qweight", NAMES[0]);
        int64_t bad = 0;
        for (int64_t n = 0; n < 16; n++)
            for (int64_t c = 0; c < 16; c++) bad += word_at(a, n1, n * 16 + c) != word_at(b, n2, c * 16 + n);
        CHECK(a && b && bad == 0, "CT sym weight_packed^T != GPTQ qweight (%lld words)", (long long)bad);
        st_model_close(a);
        st_model_close(b);
        fx_truth_free(&t1);
        fx_truth_free(&t2);
        fx_rmdir(dir);
        fx_rmdir(dir2);
    }
}

/* A checkpoint that must be refused, with `needle` in the message. */
static void expect_reject(const char *label, fx_spec s, const char *config_override, void (*mutate)(fx_truth *),
                          const char *needle)
{
    char dir[256], ck[300], cfg[4096], out[512], err[CV_ERR_LEN] = "";
    CHECK(fx_tempdir(dir, "rej") == 0, "tempdir");
    fx_truth t;
    fx_truth_make(&t, &s);
    if (mutate) mutate(&t);
    if (config_override) snprintf(cfg, sizeof cfg, "%s", config_override);
    else fx_config_json(&s, NULL, cfg, sizeof cfg);
    snprintf(ck, sizeof ck, "%s/ckpt", dir);
    fx_write_checkpoint(ck, cfg, NAMES, &t, 1, 1);
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    cv_backend be;
    cv_backend_init(&be, 0, 0);
    cv_options o;
    cv_options_init(&o);
    const int rc = cv_convert_dir(ck, out, &be, &o, NULL, err);
    CHECK(rc != 0, "%s: expected a rejection", label);
    CHECK(rc == 0 || strstr(err, needle), "%s: message \"%s\" lacks \"%s\"", label, err, needle);
    if (rc) printf("  rejected %-28s %s\n", label, err);
    cv_backend_free(&be);
    fx_truth_free(&t);
    fx_rmdir(dir);
}

static void unequal_groups(fx_truth *t)
{
    /* move one channel of group 0 into group 1: groups no longer hold group_size channels */
    for (int64_t k = 0; k < t->spec.k; k++)
        if (t->g_idx[k] == 0) {
            t->g_idx[k] = 1;
            break;
        }
}

static void out_of_range_group(fx_truth *t) { t->g_idx[3] = 1000; }

static void test_rejections(void)
{
    printf("refused checkpoints\n");
    fx_spec s = spec_of(FX_GPTQ_V1, 16, 256, 128, 0, 1, 0, W4A16_DTYPE_FP16, 11);
    s.gidx_i64 = 1;
    expect_reject("desc_act with int64 g_idx", s, NULL, NULL, "non-int32 g_idx is not supported");
    s.gidx_i64 = 0;
    s.no_gidx = 1;
    expect_reject("desc_act without g_idx", s, NULL, NULL, "g_idx is missing");
    s.no_gidx = 0;
    expect_reject("g_idx groups of unequal size", s, NULL, unequal_groups, "channels in g_idx");
    expect_reject("g_idx out of range", s, NULL, out_of_range_group, "outside");
    fx_spec g32 = spec_of(FX_GPTQ_V2, 16, 256, 32, 0, 0, 0, W4A16_DTYPE_FP16, 12);
    expect_reject("group_size 32", g32, NULL, NULL, "group_size=32");
    fx_spec k = spec_of(FX_GPTQ_V2, 16, 256, 64, 0, 0, 0, W4A16_DTYPE_FP16, 13);
    expect_reject("config group 128, tensors group 64", k,
                  "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,"
                  "\"checkpoint_format\":\"gptq_v2\"}}",
                  NULL, "needs [2, 2]");
    fx_spec a = spec_of(FX_AWQ, 16, 256, 64, 0, 0, 0, W4A16_DTYPE_FP16, 14);
    expect_reject("AWQ gemv", a,
                  "{\"quantization_config\":{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":64,\"version\":\"gemv\"}}",
                  NULL, "\"gemv\" is not supported");
    fx_spec c = spec_of(FX_CT, 16, 256, 64, 1, 0, 0, W4A16_DTYPE_FP16, 15);
    expect_reject("CT layer matching no group", c,
                  "{\"quantization_config\":{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\","
                  "\"config_groups\":{\"g\":{\"weights\":{\"num_bits\":4,\"symmetric\":false,\"strategy\":\"group\","
                  "\"group_size\":64}}}}}",
                  NULL, "matches no config group");
    expect_reject("GPTQ config on a CT checkpoint", c,
                  "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":64}}", NULL,
                  "no quantized layer");
}

/* TensorRT-LLM float offsets, Machete offsets and int -> float offsets, through the API. */
static void test_float_offsets(void)
{
    printf("float zero offsets (API)\n");
    const int64_t N = 64, K = 256, gs = 128, G = 2;
    ref_rng r = {99};
    uint8_t *q = (uint8_t *)malloc((size_t)(N * K / 2));
    for (int64_t i = 0; i < N * K / 2; i++) q[i] = (uint8_t)ref_rand_u64(&r);
    uint16_t s[2 * 64], zf[2 * 64], bias[64];
    for (int64_t i = 0; i < G * N; i++) {
        s[i] = fx_f2h(W4A16_DTYPE_FP16, ref_rand_uniform(&r, 0.001f, 0.05f));
        zf[i] = fx_f2h(W4A16_DTYPE_FP16, ref_rand_uniform(&r, -0.2f, 0.2f));
    }
    for (int64_t i = 0; i < N; i++) bias[i] = fx_f2h(W4A16_DTYPE_FP16, ref_rand_uniform(&r, -1.0f, 1.0f));
    char dir[256], path[512], err[CV_ERR_LEN];
    CHECK(fx_tempdir(dir, "trt") == 0, "tempdir");
    snprintf(path, sizeof path, "%s/trt.safetensors", dir);
    cv_layer l[2];
    CHECK(cv_layer_from_float_offsets(&l[0], "trt.layer", N, K, gs, q, W4A16_DTYPE_FP16, s, zf, 0, W4A16_DTYPE_FP16, bias,
                                      err) == 0,
          "%s", err);
    CHECK(cv_layer_from_float_offsets(&l[1], "machete.layer", N, K, gs, q, W4A16_DTYPE_FP16, s, zf, 1, W4A16_DTYPE_FP16,
                                      NULL, err) == 0,
          "%s", err);
    cv_backend be;
    cv_backend_init(&be, 0, 0);
    CHECK(cv_write_layers(path, l, 2, &be, "test", err) == 0, "%s", err);
    cv_layer_free(&l[0]);
    cv_layer_free(&l[1]);
    st_file *f = NULL;
    cv_packed_info *info = NULL;
    size_t count = 0;
    CHECK(st_file_open(&f, path, err) == 0 && cv_packed_file_layers(f, &info, &count, err) == 0 && count == 2, "%s", err);
    for (size_t li = 0; f && li < count; li++) {
        const int machete = strcmp(info[li].name, "machete.layer") == 0;
        cv_layer x;
        if (cv_packed_layer_load(f, &info[li], 1, &x, err)) {
            CHECK(0, "%s", err);
            continue;
        }
        CHECK(x.zero_mode == W4A16_ZEROS_FLOAT && memcmp(x.q, q, (size_t)(N * K / 2)) == 0, "float layer q round trip");
        float *wd = (float *)malloc((size_t)(N * K) * 4), *wf = (float *)malloc((size_t)(N * K) * 4);
        w4a16_dequantize_host(x.q, N, K, gs, x.zero_mode, x.dtype, x.scales, x.zeros, W4A16_DTYPE_FP32, wd);
        double *got = (double *)malloc((size_t)(N * K) * sizeof(double)), *want = (double *)malloc((size_t)(N * K) * sizeof(double));
        int64_t badz = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < K; k++) {
                const int64_t g = (k / gs) * N + n;
                const int v = (q[n * (K / 2) + k / 2] >> (4 * (k & 1))) & 15;
                const double sv = fx_h2f(W4A16_DTYPE_FP16, s[g]), zv = fx_h2f(W4A16_DTYPE_FP16, zf[g]);
                /* TensorRT-LLM: w = q_signed * s + zf; Machete: w = q_unsigned * s + zf_m */
                want[n * K + k] = machete ? v * sv + zv : (v - 8) * sv + zv;
                got[n * K + k] = wd[n * K + k];
                /* the GEMM is checked against the float-offset mode's formula with the stored offset */
                wf[n * K + k] = (float)((v - 8) * sv + fx_h2f(W4A16_DTYPE_FP16, ((const uint16_t *)x.zeros)[g]));
                if (machete && k == 0)
                    badz += ((const uint16_t *)x.zeros)[g] != fx_f2h(W4A16_DTYPE_FP16, fmaf(8.0f, (float)sv, (float)zv));
            }
        CHECK(badz == 0, "Machete offsets are stored as zf_m + 8 s rounded once");
        /* TensorRT-LLM: exact up to fp32 rounding; Machete: the stored offset's fp16 rounding */
        char lab[64];
        snprintf(lab, sizeof lab, "%s dequant", info[li].name);
        CHECK(fx_check_close(lab, got, want, N * K, 1e-6, machete ? ldexp(0.51, -11) : 1e-7) == 0, "%s formula", lab);
        fx_truth tb;
        memset(&tb, 0, sizeof tb);
        tb.spec.scale_dtype = W4A16_DTYPE_FP16;
        tb.bias = machete ? NULL : bias;
        snprintf(lab, sizeof lab, "%s", info[li].name);
        check_gemm(lab, &x, wf, &tb, 1e-6);
        free(wd);
        free(wf);
        free(got);
        free(want);
        cv_layer_free(&x);
    }
    cv_packed_info_free(info, count);
    st_file_close(f);
    /* integer zeros as float offsets: zf = (8 - z) s; agrees with the integer form to zf's rounding */
    uint8_t z[2 * 64];
    uint16_t zf2[2 * 64];
    for (int64_t i = 0; i < G * N; i++) z[i] = (uint8_t)(ref_rand_u64(&r) & 15);
    CHECK(cv_float_offsets_from_int_zeros(G, N, W4A16_DTYPE_FP16, s, z, zf2, err) == 0, "%s", err);
    float *wi = (float *)malloc((size_t)(N * K) * 4), *wl = (float *)malloc((size_t)(N * K) * 4);
    w4a16_dequantize_host(q, N, K, gs, W4A16_ZEROS_INT, W4A16_DTYPE_FP16, s, z, W4A16_DTYPE_FP32, wi);
    w4a16_dequantize_host(q, N, K, gs, W4A16_ZEROS_FLOAT, W4A16_DTYPE_FP16, s, zf2, W4A16_DTYPE_FP32, wl);
    double *a = (double *)malloc((size_t)(N * K) * sizeof(double)), *b = (double *)malloc((size_t)(N * K) * sizeof(double));
    for (int64_t i = 0; i < N * K; i++) {
        a[i] = wl[i];
        b[i] = wi[i];
    }
    CHECK(fx_check_close("int zeros as float offsets", a, b, N * K, 0.0, 15 * 0.05 * ldexp(1.0, -11)) == 0, "int->float");
    z[0] = 16;
    CHECK(cv_float_offsets_from_int_zeros(G, N, W4A16_DTYPE_FP16, s, z, zf2, err) != 0, "a zero of 16 is refused");
    CHECK(cv_layer_from_float_offsets(&l[0], "bad", N, 100, gs, q, W4A16_DTYPE_FP16, s, zf, 0, W4A16_DTYPE_FP16, NULL,
                                      err) != 0 && strstr(err, "K=100"),
          "bad shape refused: %s", err);
    free(wi);
    free(wl);
    free(a);
    free(b);
    free(q);
    cv_backend_free(&be);
    fx_rmdir(dir);
}

int main(void)
{
    const w4a16_dtype F16 = W4A16_DTYPE_FP16, B16 = W4A16_DTYPE_BF16;
    const w4a16_zero_mode NONE = W4A16_ZEROS_NONE, INT = W4A16_ZEROS_INT;
    run_variant("GPTQ v1 sym", spec_of(FX_GPTQ_V1, 64, 256, 128, 1, 0, 1, F16, 1), "float16", -1, 1, NONE);
    run_variant("GPTQ v1 asym", spec_of(FX_GPTQ_V1, 64, 256, 128, 0, 0, 0, F16, 2), NULL, -1, 1, INT);
    run_variant("GPTQ v1 asym act-order", spec_of(FX_GPTQ_V1, 64, 512, 128, 0, 1, 1, F16, 3), "float16", -1, 2, INT);
    run_variant("GPTQ v1 sym act-order g64", spec_of(FX_GPTQ_V1, 32, 256, 64, 1, 1, 0, F16, 4), NULL, -1, 1, NONE);
    run_variant("GPTQ v2 sym", spec_of(FX_GPTQ_V2, 64, 256, 64, 1, 0, 0, F16, 5), NULL, -1, 1, NONE);
    run_variant("GPTQ v2 asym act-order", spec_of(FX_GPTQ_V2, 48, 384, 128, 0, 1, 1, F16, 6), NULL, -1, 2, INT);
    run_variant("GPTQ v2 asym per-channel", spec_of(FX_GPTQ_V2, 64, 256, -1, 0, 0, 0, F16, 7), NULL, -1, 1, INT);
    run_variant("GPTQ v2 asym bf16 scales", spec_of(FX_GPTQ_V2, 64, 256, 128, 0, 0, 1, B16, 8), "bfloat16", -1, 1, INT);
    run_variant("GPTQ v1 asym, fp16 scales into a bf16 model", spec_of(FX_GPTQ_V1, 64, 256, 128, 0, 0, 1, F16, 9),
                "bfloat16", -1, 1, INT);
    run_variant("GPTQ v2 asym, --dtype fp16 over bf16 scales", spec_of(FX_GPTQ_V2, 64, 256, 128, 0, 0, 0, B16, 10), NULL,
                F16, 1, INT);
    run_variant("AWQ gemm", spec_of(FX_AWQ, 64, 256, 128, 0, 0, 0, F16, 11), "float16", -1, 1, INT);
    run_variant("AWQ gemm g64 bias bf16", spec_of(FX_AWQ, 40, 320, 64, 0, 0, 1, B16, 12), NULL, -1, 2, INT);
    run_variant("CT sym", spec_of(FX_CT, 64, 256, 128, 1, 0, 0, F16, 13), "float16", -1, 1, NONE);
    run_variant("CT asym", spec_of(FX_CT, 64, 256, 64, 0, 0, 1, F16, 14), NULL, -1, 1, INT);
    run_variant("CT asym N%16=8", spec_of(FX_CT, 24, 128, 64, 0, 0, 0, B16, 15), NULL, -1, 1, INT);
    run_variant("CT asym actorder group", spec_of(FX_CT, 64, 512, 128, 0, 1, 0, F16, 16), NULL, -1, 2, INT);
    run_variant("CT sym channel", spec_of(FX_CT, 64, 256, -1, 1, 0, 1, B16, 17), "bfloat16", -1, 1, NONE);
    test_known_vectors();
    test_rejections();
    test_float_offsets();
    if (fx_failures) {
        fprintf(stderr, "tools_convert: %d check(s) failed\n", fx_failures);
        return 1;
    }
    printf("tools_convert: all checks passed\n");
    return 0;
}

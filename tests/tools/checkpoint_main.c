/*
 * checkpoint_main.c - generates test checkpoints on disk and verifies the CLI's outputs.
 *
 *   tools_checkpoint gen DIR KIND [--hidden H] [--intermediate I] [--blocks B] [--shards S]
 *       KIND: gptq_v1 (asym, act-order, bias on q/k/v), gptq_v2 (sym), awq, ct_sym, ct_asym
 *       (act-order), fp16 (an unquantized model for w4a16-quantize), or an unsupported variant:
 *       awq_gemv, gptq_bits8, gptq_marlin, ct_w4a8, gptq_gidx_i64. Layers: per block q/k/v/o
 *       [H, H], gate/up [I, H], down [H, I] (Llama names). Written shard by shard.
 *   tools_checkpoint verify DIR OUT.safetensors
 *       every layer of OUT: dequantization == the format's formula on DIR's tensors (exact),
 *       GEMM via ref_gemm_cpu == direct GEMM with the formula; counts; passthrough bytes.
 *   tools_checkpoint verify-quantize MODEL_DIR W4A16.safetensors GPTQ_CONVERTED.safetensors GS ZEROS
 *       the w4a16-quantize output equals w4a16_quantize_host on the model's weights, and the
 *       GPTQ v2 output converted back dequantizes to the same values.
 */
#define _POSIX_C_SOURCE 200809L
#include "convert.h"
#include "fixtures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp) return -1;
    fputs(text, fp);
    return fclose(fp);
}

typedef struct layer_def { char name[128]; int64_t n, k; int bias; } layer_def;

static int make_layers(layer_def *L, int64_t H, int64_t I, int blocks)
{
    static const char *proj[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
    int c = 0;
    for (int b = 0; b < blocks; b++)
        for (int p = 0; p < 7; p++) {
            snprintf(L[c].name, sizeof L[c].name, "model.layers.%d.%s", b, proj[p]);
            L[c].n = p < 4 ? H : p < 6 ? I : H;
            L[c].k = p < 6 ? H : I;
            L[c].bias = p < 3;
            c++;
        }
    return c;
}

static int gen_fp16(const char *dir, int64_t H, int64_t I, int blocks)
{
    layer_def L[7 * 64];
    const int n = make_layers(L, H, I, blocks);
    st_writer *w = st_writer_new();
    char err[ST_ERR_LEN], path[1024];
    ref_rng r = {2024};
    void *bufs[7 * 64 * 2 + 8];
    int nb = 0;
    const int64_t V = 1000;
    const int64_t es[2] = {V, H}, hs[1] = {H};
    uint16_t *emb = (uint16_t *)malloc((size_t)(V * H) * 2), *lm = (uint16_t *)malloc((size_t)(V * H) * 2),
             *norm = (uint16_t *)malloc((size_t)H * 2);
    ref_fill_uniform(&r, W4A16_DTYPE_FP16, emb, V * H, -1.0f, 1.0f);
    ref_fill_uniform(&r, W4A16_DTYPE_FP16, lm, V * H, -0.05f, 0.05f);
    ref_fill_uniform(&r, W4A16_DTYPE_FP16, norm, H, 0.5f, 1.5f);
    bufs[nb++] = emb;
    bufs[nb++] = lm;
    bufs[nb++] = norm;
    int rc = st_writer_add(w, "model.embed_tokens.weight", ST_F16, 2, es, emb, NULL, err) ||
             st_writer_add(w, "lm_head.weight", ST_F16, 2, es, lm, NULL, err) ||
             st_writer_add(w, "model.norm.weight", ST_F16, 1, hs, norm, NULL, err);
    for (int i = 0; i < n && !rc; i++) {
        char name[160];
        const int64_t shape[2] = {L[i].n, L[i].k};
        uint16_t *wt = (uint16_t *)malloc((size_t)(L[i].n * L[i].k) * 2);
        /* rows of different spread, so that groups get different scales */
        for (int64_t row = 0; row < L[i].n; row++)
            ref_fill_uniform(&r, W4A16_DTYPE_FP16, wt + row * L[i].k, L[i].k, -0.02f * (float)(1 + row % 7),
                             0.015f * (float)(1 + row % 5));
        bufs[nb++] = wt;
        snprintf(name, sizeof name, "%.127s.weight", L[i].name);
        rc |= st_writer_add(w, name, ST_F16, 2, shape, wt, NULL, err);
        if (L[i].bias) {
            uint16_t *b = (uint16_t *)malloc((size_t)L[i].n * 2);
            ref_fill_uniform(&r, W4A16_DTYPE_FP16, b, L[i].n, -0.5f, 0.5f);
            bufs[nb++] = b;
            snprintf(name, sizeof name, "%.127s.bias", L[i].name);
            rc |= st_writer_add(w, name, ST_F16, 1, shape, b, NULL, err);
        }
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!rc) rc = st_writer_write(w, path, err);
    if (rc) fprintf(stderr, "gen: %s\n", err);
    st_writer_free(w);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    rc |= write_text(dir, "config.json", "{\"torch_dtype\": \"float16\", \"architectures\": [\"LlamaForCausalLM\"]}\n");
    return rc ? 1 : 0;
}

static int gen(int argc, char **argv)
{
    if (argc < 4) return 2;
    const char *dir = argv[2], *kind = argv[3];
    int64_t H = 256, I = 512;
    int blocks = 1, shards = 1;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--hidden")) H = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--intermediate")) I = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--blocks")) blocks = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shards")) shards = atoi(argv[i + 1]);
        else return 2;
    }
    if (blocks < 1 || blocks > 64 || shards < 1 || H <= 0 || I <= 0) return 2;
    const double t0 = now();
    fx_rmdir(dir);
    if (mkdir(dir, 0755) != 0) {
        perror(dir);
        return 1;
    }
    if (!strcmp(kind, "fp16")) return gen_fp16(dir, H, I, blocks);
    fx_spec s;
    memset(&s, 0, sizeof s);
    s.group_size = 128;
    s.scale_dtype = W4A16_DTYPE_FP16;
    const char *config_override = NULL;
    if (!strcmp(kind, "gptq_v1")) { s.format = FX_GPTQ_V1; s.act_order = 1; }
    else if (!strcmp(kind, "gptq_v2")) { s.format = FX_GPTQ_V2; s.sym = 1; }
    else if (!strcmp(kind, "awq")) s.format = FX_AWQ;
    else if (!strcmp(kind, "ct_sym")) { s.format = FX_CT; s.sym = 1; }
    else if (!strcmp(kind, "ct_asym")) { s.format = FX_CT; s.act_order = 1; }
    else if (!strcmp(kind, "awq_gemv")) {
        s.format = FX_AWQ;
        config_override = "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128, "
                          "\"version\": \"gemv\"}}";
    } else if (!strcmp(kind, "gptq_bits8")) {
        s.format = FX_GPTQ_V2;
        config_override = "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 8, \"group_size\": 128}}";
    } else if (!strcmp(kind, "gptq_marlin")) {
        s.format = FX_GPTQ_V1;
        config_override = "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, "
                          "\"checkpoint_format\": \"marlin\"}}";
    } else if (!strcmp(kind, "ct_w4a8")) {
        s.format = FX_CT;
        s.sym = 1;
        config_override = "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": "
                          "\"pack-quantized\", \"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], "
                          "\"weights\": {\"num_bits\": 4, \"symmetric\": true, \"strategy\": \"group\", \"group_size\": 128}, "
                          "\"input_activations\": {\"num_bits\": 8, \"type\": \"int\", \"dynamic\": true}}}}}";
    } else if (!strcmp(kind, "gptq_gidx_i64")) {
        s.format = FX_GPTQ_V1;
        s.act_order = 1;
        s.gidx_i64 = 1;
    } else {
        fprintf(stderr, "gen: unknown kind %s\n", kind);
        return 2;
    }
    char cfg[4096];
    if (config_override) snprintf(cfg, sizeof cfg, "%s", config_override);
    else fx_config_json(&s, "float16", cfg, sizeof cfg);
    if (write_text(dir, "config.json", cfg)) return 1;
    layer_def L[7 * 64];
    const int nl = make_layers(L, H, I, blocks);
    FILE *ix = NULL;
    if (shards > 1) {
        char p[1024];
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
        ix = fopen(p, "w");
        if (!ix) return 1;
        fprintf(ix, "{\"metadata\": {}, \"weight_map\": {\"model.norm.weight\": \"model-00001-of-%05d.safetensors\"", shards);
    }
    uint64_t bytes = 0;
    for (int sh = 0; sh < shards; sh++) {
        char file[128], path[1024], err[ST_ERR_LEN];
        if (shards > 1) snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", sh + 1, shards);
        else snprintf(file, sizeof file, "model.safetensors");
        st_writer *w = st_writer_new();
        fx_truth *t = (fx_truth *)calloc((size_t)nl, sizeof(fx_truth));
        fx_bufs *b = (fx_bufs *)calloc((size_t)nl, sizeof(fx_bufs));
        uint16_t *norm = (uint16_t *)malloc((size_t)H * 2);
        for (int64_t i = 0; i < H; i++) norm[i] = 0x3c00;
        int rc = 0;
        if (sh == 0) {
            const int64_t hs[1] = {H};
            rc |= st_writer_add(w, "model.norm.weight", ST_F16, 1, hs, norm, NULL, err);
        }
        for (int i = 0; i < nl && !rc; i++) {
            if (i * shards / nl != sh) continue;
            fx_spec ls = s;
            ls.n = L[i].n;
            ls.k = L[i].k;
            ls.bias = L[i].bias;
            ls.seed = 1000 + (uint64_t)i;
            fx_truth_make(&t[i], &ls);
            rc |= fx_add_layer(w, L[i].name, &t[i], &b[i]);
            if (ix) {
                const size_t nt = st_writer_total_bytes(w); /* unused until begin */
                (void)nt;
                static const char *suf[4][4] = {{".qweight", ".qzeros", ".scales", ".g_idx"},
                                                {".qweight", ".qzeros", ".scales", ".g_idx"},
                                                {".qweight", ".qzeros", ".scales", NULL},
                                                {".weight_packed", ".weight_scale", ".weight_shape", NULL}};
                for (int j = 0; j < 4 && suf[ls.format][j]; j++)
                    fprintf(ix, ", \"%s%s\": \"%s\"", L[i].name, suf[ls.format][j], file);
                if (ls.format == FX_CT && !ls.sym) fprintf(ix, ", \"%s.weight_zero_point\": \"%s\"", L[i].name, file);
                if (ls.format == FX_CT && ls.act_order) fprintf(ix, ", \"%s.weight_g_idx\": \"%s\"", L[i].name, file);
                if (ls.bias) fprintf(ix, ", \"%s.bias\": \"%s\"", L[i].name, file);
            }
        }
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (!rc) rc = st_writer_write(w, path, err);
        if (rc) fprintf(stderr, "gen: %s\n", err);
        bytes += st_writer_total_bytes(w);
        st_writer_free(w);
        for (int i = 0; i < nl; i++) {
            fx_bufs_free(&b[i]);
            fx_truth_free(&t[i]);
        }
        free(t);
        free(b);
        free(norm);
        if (rc) return 1;
    }
    if (ix) {
        fprintf(ix, "}}\n");
        if (fclose(ix)) return 1;
    }
    printf("gen: %s: %d layers (%s), %d shard(s), %.1f MB, %.2f s\n", dir, nl, kind, shards, (double)bytes / 1e6,
           now() - t0);
    return 0;
}

static int count_suffix(const st_model *m, const char *suffix)
{
    int c = 0;
    const size_t sl = strlen(suffix);
    for (size_t i = 0; i < st_model_count(m); i++) {
        const char *n = st_model_tensor(m, i, NULL)->name;
        const size_t l = strlen(n);
        c += l > sl && !strcmp(n + l - sl, suffix);
    }
    return c;
}

static double round_to(w4a16_dtype t, double v) { return fx_h2f(t, fx_f2h(t, (float)v)); }

static int verify(const char *in_dir, const char *out_path)
{
    const double t0 = now();
    char err[CV_ERR_LEN];
    cv_scheme s;
    st_model *m = NULL;
    st_file *f = NULL;
    cv_packed_info *info = NULL;
    size_t count = 0;
    if (cv_scheme_load_dir(&s, in_dir, err) || st_model_open(&m, in_dir, err) || st_file_open(&f, out_path, err) ||
        cv_packed_file_layers(f, &info, &count, err)) {
        fprintf(stderr, "verify: %s\n", err);
        return 1;
    }
    fx_format fmt = s.format == CV_FORMAT_AWQ ? FX_AWQ : s.format == CV_FORMAT_CT ? FX_CT
                    : s.gptq_version == 1 ? FX_GPTQ_V1 : FX_GPTQ_V2;
    const int nin = count_suffix(m, fmt == FX_CT ? ".weight_packed" : ".qweight");
    CHECK((size_t)nin == count, "verify: %d quantized layers in, %zu out", nin, count);
    /* the unquantized tensor is copied byte for byte */
    const st_file *nf;
    const st_tensor *ni = st_model_find(m, "model.norm.weight", &nf), *no = st_file_find(f, "model.norm.weight");
    CHECK(ni && no && ni->nbytes == no->nbytes && !memcmp(st_file_data(nf, ni), st_file_data(f, no), ni->nbytes),
          "verify: model.norm.weight is not copied unchanged");
    int64_t values = 0;
    for (size_t i = 0; i < count; i++) {
        cv_layer l;
        if (cv_packed_layer_load(f, &info[i], 1, &l, err)) {
            CHECK(0, "verify: %s", err);
            continue;
        }
        const int64_t N = l.n, K = l.k;
        const int64_t cfg_gs = fmt == FX_CT ? s.ct_groups[0].group_size : s.group_size;
        float *wf = (float *)malloc((size_t)(N * K) * 4), *wd = (float *)malloc((size_t)(N * K) * 4);
        CHECK(fx_format_dequant(m, l.name, fmt, cfg_gs, wf) == 0, "verify: formula for %s", l.name);
        w4a16_dequantize_host(l.q, N, K, l.group_size, l.zero_mode, l.dtype, l.scales, l.zeros, W4A16_DTYPE_FP32, wd);
        int64_t bad = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < K; j++) bad += wd[n * K + j] != wf[n * K + (l.perm ? l.perm[j] : j)];
        CHECK(bad == 0, "verify: %s: %lld dequantized weights differ from the format's formula", l.name, (long long)bad);
        values += N * K;
        /* GEMM: ref_gemm_cpu on the converted layer vs the formula, M = 2 */
        const int64_t M = 2;
        ref_rng r = {5 + i};
        uint16_t *a = (uint16_t *)malloc((size_t)(M * K) * 2), *ag = (uint16_t *)malloc((size_t)(M * K) * 2);
        ref_fill_uniform(&r, l.dtype, a, M * K, -1.0f, 1.0f);
        for (int64_t mm = 0; mm < M; mm++)
            for (int64_t j = 0; j < K; j++) ag[mm * K + j] = a[mm * K + (l.perm ? l.perm[j] : j)];
        w4a16_problem p;
        w4a16_problem_init(&p, M, N, K, l.dtype, l.group_size, l.zero_mode);
        double *got = (double *)malloc((size_t)(M * N) * sizeof(double)), *want = (double *)malloc((size_t)(M * N) * sizeof(double));
        CHECK(ref_gemm_cpu(&p, ag, l.q, l.scales, l.zeros, l.bias, got) == 0, "ref_gemm_cpu");
        const uint16_t *bias = NULL;
        char bn[256];
        snprintf(bn, sizeof bn, "%s.bias", l.name);
        const st_tensor *bt;
        uint16_t *bcopy = (uint16_t *)fx_tensor_copy(m, bn, &bt);
        bias = bcopy;
        CHECK((bias != NULL) == (l.bias != NULL), "verify: %s bias presence", l.name);
        double ss = 0;
        for (int64_t mm = 0; mm < M; mm++)
            for (int64_t n = 0; n < N; n++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)fx_h2f(l.dtype, a[mm * K + k]) * round_to(l.dtype, wf[n * K + k]);
                if (bias) acc += fx_h2f(W4A16_DTYPE_FP16, bias[n]);
                want[mm * N + n] = acc;
                ss += acc * acc;
            }
        const double rms = sqrt(ss / (double)(M * N));
        char lab[300];
        snprintf(lab, sizeof lab, "%s GEMM", l.name);
        CHECK(fx_check_close(lab, got, want, M * N, 1e-6, 1e-6 * rms) == 0, "verify: %s GEMM", l.name);
        free(bcopy);
        free(a);
        free(ag);
        free(got);
        free(want);
        free(wf);
        free(wd);
        cv_layer_free(&l);
    }
    printf("verify: %s: %zu layers, %lld weights equal to the %s formula, %.2f s\n", out_path, count, (long long)values,
           cv_format_name(s.format), now() - t0);
    cv_packed_info_free(info, count);
    st_file_close(f);
    st_model_close(m);
    return fx_failures ? 1 : 0;
}

static int verify_quantize(const char *model_dir, const char *w4_path, const char *gptq_path, int64_t gs,
                           const char *zeros)
{
    char err[CV_ERR_LEN];
    st_model *m = NULL;
    st_file *f = NULL, *g = NULL;
    cv_packed_info *info = NULL, *ginfo = NULL;
    size_t count = 0, gcount = 0;
    if (st_model_open(&m, model_dir, err) || st_file_open(&f, w4_path, err) || st_file_open(&g, gptq_path, err) ||
        cv_packed_file_layers(f, &info, &count, err) || cv_packed_file_layers(g, &ginfo, &gcount, err)) {
        fprintf(stderr, "verify-quantize: %s\n", err);
        return 1;
    }
    const w4a16_zero_mode zm = !strcmp(zeros, "none") ? W4A16_ZEROS_NONE : !strcmp(zeros, "int") ? W4A16_ZEROS_INT
                                                                                              : W4A16_ZEROS_FLOAT;
    const int want_layers = count_suffix(m, "_proj.weight");
    CHECK((size_t)want_layers == count && count == gcount, "verify-quantize: %d proj weights, %zu and %zu layers",
          want_layers, count, gcount);
    /* what was not selected is copied unchanged */
    const char *kept[3] = {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"};
    for (int i = 0; i < 3; i++) {
        const st_file *mf;
        const st_tensor *a = st_model_find(m, kept[i], &mf), *b = st_file_find(f, kept[i]);
        CHECK(a && b && a->nbytes == b->nbytes && !memcmp(st_file_data(mf, a), st_file_data(f, b), a->nbytes),
              "verify-quantize: %s not copied unchanged", kept[i]);
    }
    for (size_t i = 0; i < count; i++) {
        cv_layer l, lg;
        memset(&lg, 0, sizeof lg);
        if (cv_packed_layer_load(f, &info[i], 1, &l, err)) {
            CHECK(0, "%s", err);
            continue;
        }
        const cv_packed_info *gi = NULL;
        for (size_t j = 0; j < gcount; j++)
            if (!strcmp(ginfo[j].name, l.name)) gi = &ginfo[j];
        CHECK(gi && cv_packed_layer_load(g, gi, 1, &lg, err) == 0, "verify-quantize: %s in the GPTQ round trip", l.name);
        const int64_t N = l.n, K = l.k, G = K / gs;
        CHECK(l.group_size == gs && l.zero_mode == zm, "verify-quantize: %s group/zeros", l.name);
        char wn[256];
        snprintf(wn, sizeof wn, "%s.weight", l.name);
        void *w = fx_tensor_copy(m, wn, NULL);
        uint8_t *q = (uint8_t *)malloc((size_t)(N * K / 2));
        uint16_t *sc = (uint16_t *)malloc((size_t)(G * N) * 2);
        void *z = zm == W4A16_ZEROS_NONE ? NULL : malloc((size_t)(G * N) * 2);
        CHECK(w4a16_quantize_host(W4A16_DTYPE_FP16, w, N, K, gs, zm, l.dtype, q, sc, z) == W4A16_SUCCESS,
              "quantize_host: %s", w4a16_last_error());
        CHECK(!memcmp(q, l.q, (size_t)(N * K / 2)) && !memcmp(sc, l.scales, (size_t)(G * N) * 2) &&
                  (!z || !memcmp(z, l.zeros, (size_t)(G * N) * (zm == W4A16_ZEROS_INT ? 1 : 2))),
              "verify-quantize: %s differs from w4a16_quantize_host", l.name);
        if (lg.q) {
            float *a = (float *)malloc((size_t)(N * K) * 4), *b = (float *)malloc((size_t)(N * K) * 4);
            w4a16_dequantize_host(l.q, N, K, l.group_size, l.zero_mode, l.dtype, l.scales, l.zeros, W4A16_DTYPE_FP32, a);
            w4a16_dequantize_host(lg.q, N, K, lg.group_size, lg.zero_mode, lg.dtype, lg.scales, lg.zeros,
                                  W4A16_DTYPE_FP32, b);
            CHECK(!memcmp(a, b, (size_t)(N * K) * 4) && lg.perm == NULL,
                  "verify-quantize: %s: GPTQ v2 round trip dequantizes differently", l.name);
            CHECK((l.bias == NULL) == (lg.bias == NULL) && (!l.bias || !memcmp(l.bias, lg.bias, (size_t)N * 2)),
                  "verify-quantize: %s bias", l.name);
            free(a);
            free(b);
        }
        free(w);
        free(q);
        free(sc);
        free(z);
        cv_layer_free(&l);
        cv_layer_free(&lg);
    }
    printf("verify-quantize: %zu layers equal to w4a16_quantize_host; the GPTQ v2 round trip matches\n", count);
    cv_packed_info_free(info, count);
    cv_packed_info_free(ginfo, gcount);
    st_file_close(f);
    st_file_close(g);
    st_model_close(m);
    return fx_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 4 && !strcmp(argv[1], "gen")) rc = gen(argc, argv);
    else if (argc == 4 && !strcmp(argv[1], "verify")) rc = verify(argv[2], argv[3]);
    else if (argc == 7 && !strcmp(argv[1], "verify-quantize"))
        rc = verify_quantize(argv[2], argv[3], argv[4], atoll(argv[5]), argv[6]);
    if (rc == 2) fprintf(stderr, "usage: see the comment at the top of checkpoint_main.c\n");
    return rc;
}

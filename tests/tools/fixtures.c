/* fixtures.c - checkpoints written from the formats' definitions, and their own formulas. */
#define _POSIX_C_SOURCE 200809L
#include "fixtures.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fx_failures = 0;

static const int AWQ_ORDER[8] = {0, 2, 4, 6, 1, 3, 5, 7}; /* nibble i holds column 8c + ORDER[i] */

float fx_h2f(w4a16_dtype t, uint16_t h) { return (float)ref_bits_to_double(t, h); }

uint16_t fx_f2h(w4a16_dtype t, float f) { return ref_bits_from_double(t, f); }

void fx_truth_make(fx_truth *t, const fx_spec *spec)
{
    memset(t, 0, sizeof *t);
    t->spec = *spec;
    const int64_t n = spec->n, k = spec->k;
    t->gs = spec->group_size == -1 ? k : spec->group_size;
    t->groups = k / t->gs;
    ref_rng r = {spec->seed * 0x9E3779B97F4A7C15ull + 12345};
    t->q = (uint8_t *)malloc((size_t)(n * k));
    t->z = (uint8_t *)malloc((size_t)(t->groups * n));
    t->s = (uint16_t *)malloc((size_t)(t->groups * n) * 2);
    t->g_idx = (int32_t *)malloc((size_t)k * 4);
    for (int64_t i = 0; i < n * k; i++) t->q[i] = (uint8_t)(ref_rand_u64(&r) & 15);
    const int sym = spec->sym && spec->format != FX_AWQ;
    for (int64_t i = 0; i < t->groups * n; i++) {
        t->z[i] = sym ? 8 : (uint8_t)(ref_rand_u64(&r) & 15);
        t->s[i] = fx_f2h(spec->scale_dtype, ref_rand_uniform(&r, 0.001f, 0.05f));
    }
    if (spec->act_order) {
        int32_t *perm = (int32_t *)malloc((size_t)k * 4);
        for (int64_t i = 0; i < k; i++) perm[i] = (int32_t)i;
        for (int64_t i = k - 1; i > 0; i--) { /* Fisher-Yates */
            const int64_t j = (int64_t)(ref_rand_u64(&r) % (uint64_t)(i + 1));
            const int32_t x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        /* the j-th channel in quantization order belongs to group j / gs */
        for (int64_t j = 0; j < k; j++) t->g_idx[perm[j]] = (int32_t)(j / t->gs);
        free(perm);
    } else {
        for (int64_t i = 0; i < k; i++) t->g_idx[i] = (int32_t)(i / t->gs);
    }
    if (spec->bias) {
        t->bias = (uint16_t *)malloc((size_t)n * 2);
        for (int64_t i = 0; i < n; i++) t->bias[i] = fx_f2h(spec->scale_dtype, ref_rand_uniform(&r, -1.0f, 1.0f));
    }
}

void fx_truth_free(fx_truth *t)
{
    free(t->q);
    free(t->z);
    free(t->s);
    free(t->g_idx);
    free(t->bias);
    memset(t, 0, sizeof *t);
}

void fx_bufs_free(fx_bufs *b)
{
    for (int i = 0; i < b->n; i++) free(b->p[i]);
    b->n = 0;
}

static void *keep(fx_bufs *b, size_t bytes)
{
    void *p = calloc(bytes ? bytes : 1, 1);
    b->p[b->n++] = p;
    return p;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int add(st_writer *w, const char *prefix, const char *suffix, st_dtype dt, int nd, int64_t d0, int64_t d1,
               const void *data)
{
    char name[512], err[ST_ERR_LEN];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    const int64_t shape[2] = {d0, d1};
    if (st_writer_add(w, name, dt, nd, shape, data, NULL, err)) {
        fprintf(stderr, "fixture: %s\n", err);
        return -1;
    }
    return 0;
}

int fx_add_layer(st_writer *w, const char *prefix, const fx_truth *t, fx_bufs *b)
{
    const fx_spec *s = &t->spec;
    const int64_t N = s->n, K = s->k, G = t->groups;
    const st_dtype sdt = s->scale_dtype == W4A16_DTYPE_BF16 ? ST_BF16 : ST_F16;
    int rc = 0;
    if (s->format == FX_GPTQ_V1 || s->format == FX_GPTQ_V2) {
        /* qweight [K/8, N]: nibble i of word (r, n) is q at k = 8r + i */
        uint8_t *qw = (uint8_t *)keep(b, (size_t)(K / 8 * N) * 4);
        for (int64_t r = 0; r < K / 8; r++)
            for (int64_t n = 0; n < N; n++) {
                uint32_t word = 0;
                for (int i = 0; i < 8; i++) word |= (uint32_t)t->q[n * K + 8 * r + i] << (4 * i);
                put32(qw + 4 * (r * N + n), word);
            }
        /* qzeros [G, N/8]: nibble i of word (g, c) is z at n = 8c + i; v1 stores z - 1 */
        uint8_t *qz = (uint8_t *)keep(b, (size_t)(G * N / 8) * 4);
        for (int64_t g = 0; g < G; g++)
            for (int64_t c = 0; c < N / 8; c++) {
                uint32_t word = 0;
                for (int i = 0; i < 8; i++) {
                    uint32_t z = t->z[g * N + 8 * c + i];
                    if (s->format == FX_GPTQ_V1) z = (z - 1) & 15;
                    word |= z << (4 * i);
                }
                put32(qz + 4 * (g * (N / 8) + c), word);
            }
        rc |= add(w, prefix, ".qweight", ST_I32, 2, K / 8, N, qw);
        rc |= add(w, prefix, ".qzeros", ST_I32, 2, G, N / 8, qz);
        rc |= add(w, prefix, ".scales", sdt, 2, G, N, t->s);
        if (s->no_gidx) {
            /* some writers omit g_idx when there is no act-order */
        } else if (s->gidx_i64) {
            uint8_t *gi = (uint8_t *)keep(b, (size_t)K * 8);
            for (int64_t k = 0; k < K; k++) put32(gi + 8 * k, (uint32_t)t->g_idx[k]);
            rc |= add(w, prefix, ".g_idx", ST_I64, 1, K, 0, gi);
        } else {
            uint8_t *gi = (uint8_t *)keep(b, (size_t)K * 4);
            for (int64_t k = 0; k < K; k++) put32(gi + 4 * k, (uint32_t)t->g_idx[k]);
            rc |= add(w, prefix, ".g_idx", ST_I32, 1, K, 0, gi);
        }
    } else if (s->format == FX_AWQ) {
        /* qweight [K, N/8]: nibble i of word (k, c) holds column 8c + ORDER[i] */
        uint8_t *qw = (uint8_t *)keep(b, (size_t)(K * N / 8) * 4);
        for (int64_t k = 0; k < K; k++)
            for (int64_t c = 0; c < N / 8; c++) {
                uint32_t word = 0;
                for (int i = 0; i < 8; i++) word |= (uint32_t)t->q[(8 * c + AWQ_ORDER[i]) * K + k] << (4 * i);
                put32(qw + 4 * (k * (N / 8) + c), word);
            }
        uint8_t *qz = (uint8_t *)keep(b, (size_t)(G * N / 8) * 4);
        for (int64_t g = 0; g < G; g++)
            for (int64_t c = 0; c < N / 8; c++) {
                uint32_t word = 0;
                for (int i = 0; i < 8; i++) word |= (uint32_t)t->z[g * N + 8 * c + AWQ_ORDER[i]] << (4 * i);
                put32(qz + 4 * (g * (N / 8) + c), word);
            }
        rc |= add(w, prefix, ".qweight", ST_I32, 2, K, N / 8, qw);
        rc |= add(w, prefix, ".qzeros", ST_I32, 2, G, N / 8, qz);
        rc |= add(w, prefix, ".scales", sdt, 2, G, N, t->s);
    } else {
        /* compressed-tensors: weight_packed [N, K/8] along K, low nibble first (q + 8 stored) */
        uint8_t *wp = (uint8_t *)keep(b, (size_t)(N * K / 8) * 4);
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < K / 8; c++) {
                uint32_t word = 0;
                for (int i = 0; i < 8; i++) word |= (uint32_t)t->q[n * K + 8 * c + i] << (4 * i);
                put32(wp + 4 * (n * (K / 8) + c), word);
            }
        uint16_t *ws = (uint16_t *)keep(b, (size_t)(N * G) * 2); /* [N, G] */
        for (int64_t n = 0; n < N; n++)
            for (int64_t g = 0; g < G; g++) ws[n * G + g] = t->s[g * N + n];
        int64_t *shape = (int64_t *)keep(b, 16);
        uint8_t *shp = (uint8_t *)shape;
        put32(shp, (uint32_t)N);
        put32(shp + 4, 0);
        put32(shp + 8, (uint32_t)K);
        put32(shp + 12, 0);
        rc |= add(w, prefix, ".weight_packed", ST_I32, 2, N, K / 8, wp);
        rc |= add(w, prefix, ".weight_scale", sdt, 2, N, G, ws);
        rc |= add(w, prefix, ".weight_shape", ST_I64, 1, 2, 0, shape);
        if (!s->sym) { /* [ceil(N/8), G], packed along dim 0, zp + 8 stored (= our z) */
            const int64_t R = (N + 7) / 8;
            uint8_t *zp = (uint8_t *)keep(b, (size_t)(R * G) * 4);
            for (int64_t r = 0; r < R; r++)
                for (int64_t g = 0; g < G; g++) {
                    uint32_t word = 0;
                    for (int i = 0; i < 8 && 8 * r + i < N; i++) word |= (uint32_t)t->z[g * N + 8 * r + i] << (4 * i);
                    put32(zp + 4 * (r * G + g), word);
                }
            rc |= add(w, prefix, ".weight_zero_point", ST_I32, 2, R, G, zp);
        }
        if (s->act_order) {
            uint8_t *gi = (uint8_t *)keep(b, (size_t)K * 4);
            for (int64_t k = 0; k < K; k++) put32(gi + 4 * k, (uint32_t)t->g_idx[k]);
            rc |= add(w, prefix, ".weight_g_idx", ST_I32, 1, K, 0, gi);
        }
    }
    if (t->bias) rc |= add(w, prefix, ".bias", sdt, 1, N, 0, t->bias);
    return rc;
}

void fx_config_json(const fx_spec *s, const char *model_dtype, char *out, size_t len)
{
    char dt[64] = "";
    if (model_dtype) snprintf(dt, sizeof dt, "\"torch_dtype\": \"%s\", ", model_dtype);
    const long long gs = (long long)s->group_size;
    if (s->format == FX_GPTQ_V1 || s->format == FX_GPTQ_V2)
        snprintf(out, len,
                 "{%s\"architectures\": [\"LlamaForCausalLM\"], \"quantization_config\": {\"quant_method\": \"gptq\", "
                 "\"bits\": 4, \"group_size\": %lld, \"desc_act\": %s, \"sym\": %s, \"checkpoint_format\": \"%s\", "
                 "\"damp_percent\": 0.01, \"true_sequential\": true}}",
                 dt, gs, s->act_order ? "true" : "false", s->sym ? "true" : "false",
                 s->format == FX_GPTQ_V1 ? "gptq" : "gptq_v2");
    else if (s->format == FX_AWQ)
        snprintf(out, len,
                 "{%s\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": %lld, "
                 "\"zero_point\": true, \"version\": \"gemm\", \"modules_to_not_convert\": null}}",
                 dt, gs);
    else
        snprintf(out, len,
                 "{%s\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\", "
                 "\"quantization_status\": \"compressed\", \"ignore\": [\"lm_head\"], \"kv_cache_scheme\": null, "
                 "\"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], \"input_activations\": null, "
                 "\"output_activations\": null, \"weights\": {\"num_bits\": 4, \"type\": \"int\", \"symmetric\": %s, "
                 "\"strategy\": \"%s\", \"group_size\": %lld, \"actorder\": %s, \"dynamic\": false, "
                 "\"observer\": \"minmax\"}}}}}",
                 dt, s->sym ? "true" : "false", gs == -1 ? "channel" : "group", gs == -1 ? 0LL : gs,
                 s->act_order ? "\"group\"" : "null");
}

static int write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return -1;
    }
    fputs(text, fp);
    return fclose(fp);
}

int fx_write_checkpoint(const char *dir, const char *config_json, const char *const *names, fx_truth *truths,
                        int count, int shards)
{
    char path[1024], err[ST_ERR_LEN];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (write_text(path, config_json)) return -1;
    if (shards < 1) shards = 1;
    int rc = 0;
    const int64_t k0 = truths[0].spec.k;
    uint16_t *norm = (uint16_t *)malloc((size_t)k0 * 2);
    for (int64_t i = 0; i < k0; i++) norm[i] = 0x3c00; /* 1.0 */
    FILE *index = NULL;
    if (shards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        index = fopen(path, "w");
        if (!index) return -1;
        fprintf(index, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    }
    for (int sh = 0; sh < shards && !rc; sh++) {
        char file[128];
        if (shards > 1) snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", sh + 1, shards);
        else snprintf(file, sizeof file, "model.safetensors");
        st_writer *w = st_writer_new();
        fx_bufs *bufs = (fx_bufs *)calloc((size_t)count, sizeof(fx_bufs));
        int nb = 0;
        if (sh == 0) {
            const int64_t shape[1] = {k0};
            rc |= st_writer_add(w, "model.norm.weight", ST_F16, 1, shape, norm, NULL, err);
            if (index) fprintf(index, "\"model.norm.weight\": \"%s\"", file);
        }
        for (int i = 0; i < count && !rc; i++) {
            if (i * shards / count != sh) continue; /* contiguous blocks of layers per shard */
            memset(&bufs[nb], 0, sizeof bufs[nb]);
            rc |= fx_add_layer(w, names[i], &truths[i], &bufs[nb]);
            nb++;
            if (index) {
                static const char *suffix[4][6] = {
                    {".qweight", ".qzeros", ".scales", NULL},
                    {".qweight", ".qzeros", ".scales", NULL},
                    {".qweight", ".qzeros", ".scales", NULL},
                    {".weight_packed", ".weight_scale", ".weight_shape", NULL},
                };
                const fx_spec *s = &truths[i].spec;
                for (int j = 0; suffix[s->format][j]; j++)
                    fprintf(index, ", \"%s%s\": \"%s\"", names[i], suffix[s->format][j], file);
                if (s->format <= FX_GPTQ_V2 && !s->no_gidx) fprintf(index, ", \"%s.g_idx\": \"%s\"", names[i], file);
                if (s->format == FX_CT && !s->sym) fprintf(index, ", \"%s.weight_zero_point\": \"%s\"", names[i], file);
                if (s->format == FX_CT && s->act_order) fprintf(index, ", \"%s.weight_g_idx\": \"%s\"", names[i], file);
                if (s->bias) fprintf(index, ", \"%s.bias\": \"%s\"", names[i], file);
            }
        }
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (!rc && st_writer_write(w, path, err)) {
            fprintf(stderr, "fixture: %s\n", err);
            rc = -1;
        }
        st_writer_free(w);
        for (int i = 0; i < nb; i++) fx_bufs_free(&bufs[i]);
        free(bufs);
    }
    if (index) {
        fprintf(index, "}}\n");
        rc |= fclose(index);
    }
    free(norm);
    return rc ? -1 : 0;
}

void *fx_tensor_copy(const st_model *m, const char *name, const st_tensor **tp)
{
    const st_file *f;
    const st_tensor *t = st_model_find(m, name, &f);
    if (tp) *tp = t;
    if (!t) return NULL;
    void *p = malloc(t->nbytes ? (size_t)t->nbytes : 1);
    memcpy(p, st_file_data(f, t), (size_t)t->nbytes);
    return p;
}

static void *need(const st_model *m, const char *prefix, const char *suffix, const st_tensor **t)
{
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    return fx_tensor_copy(m, name, t);
}

static float scale_at(const st_tensor *t, const uint8_t *p, int64_t i)
{
    const uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
    return fx_h2f(t->dtype == ST_BF16 ? W4A16_DTYPE_BF16 : W4A16_DTYPE_FP16, h);
}

int fx_format_dequant(const st_model *m, const char *prefix, fx_format format, int64_t group_size, float *w)
{
    const st_tensor *tq, *tz, *ts, *tg;
    int rc = -1;
    uint8_t *g = NULL;
    if (format == FX_CT) {
        const st_tensor *tshape;
        uint8_t *shape = (uint8_t *)need(m, prefix, ".weight_shape", &tshape);
        uint8_t *q = (uint8_t *)need(m, prefix, ".weight_packed", &tq);
        uint8_t *s = (uint8_t *)need(m, prefix, ".weight_scale", &ts);
        uint8_t *z = (uint8_t *)need(m, prefix, ".weight_zero_point", &tz);
        g = (uint8_t *)need(m, prefix, ".weight_g_idx", &tg);
        if (shape && q && s) {
            const int64_t N = get32(shape), K = get32(shape + 8), G = ts->shape[1], cols = tq->shape[1];
            const int64_t gs = group_size == -1 ? K : group_size;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < K; k++) {
                    const int64_t gi = g ? (int32_t)get32(g + 4 * k) : k / gs;
                    const int qs = (int)((get32(q + 4 * (n * cols + k / 8)) >> (4 * (k % 8))) & 15) - 8;
                    const int zs = z ? (int)((get32(z + 4 * ((n / 8) * G + gi)) >> (4 * (n % 8))) & 15) - 8 : 0;
                    w[n * K + k] = (float)(qs - zs) * scale_at(ts, s, n * G + gi);
                }
            rc = 0;
        }
        free(shape);
        free(q);
        free(s);
        free(z);
    } else {
        uint8_t *q = (uint8_t *)need(m, prefix, ".qweight", &tq);
        uint8_t *z = (uint8_t *)need(m, prefix, ".qzeros", &tz);
        uint8_t *s = (uint8_t *)need(m, prefix, ".scales", &ts);
        g = format == FX_AWQ ? NULL : (uint8_t *)need(m, prefix, ".g_idx", &tg);
        if (q && z && s) {
            const int64_t N = ts->shape[1];
            const int64_t K = format == FX_AWQ ? tq->shape[0] : tq->shape[0] * 8;
            const int64_t gs = group_size == -1 ? K : group_size;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < K; k++) {
                    const int64_t gi = g ? (int32_t)get32(g + 4 * k) : k / gs;
                    int qv, zv;
                    if (format == FX_AWQ) {
                        /* column 8c + ORDER[i] is in nibble i: find i for this column */
                        int i = 0;
                        while (AWQ_ORDER[i] != n % 8) i++;
                        qv = (int)((get32(q + 4 * (k * (N / 8) + n / 8)) >> (4 * i)) & 15);
                        zv = (int)((get32(z + 4 * (gi * (N / 8) + n / 8)) >> (4 * i)) & 15);
                    } else {
                        qv = (int)((get32(q + 4 * ((k / 8) * N + n)) >> (4 * (k % 8))) & 15);
                        zv = (int)((get32(z + 4 * (gi * (N / 8) + n / 8)) >> (4 * (n % 8))) & 15);
                        if (format == FX_GPTQ_V1) zv = (zv + 1) & 15;
                    }
                    w[n * K + k] = (float)(qv - zv) * scale_at(ts, s, gi * N + n);
                }
            rc = 0;
        }
        free(q);
        free(z);
        free(s);
    }
    free(g);
    return rc;
}

int64_t fx_check_close(const char *label, const double *got, const double *want, int64_t count, double rtol,
                       double atol)
{
    int64_t bad = 0;
    double worst = 0.0;
    for (int64_t i = 0; i < count; i++) {
        const double err = fabs(got[i] - want[i]), tol = atol + rtol * fabs(want[i]);
        if (!(err <= tol)) {
            if (bad < 5)
                fprintf(stderr, "  %s: mismatch at %" PRId64 ": got %.8g, want %.8g (tol %.3g)\n", label, i, got[i],
                        want[i], tol);
            bad++;
        }
        if (tol > 0 && err / tol > worst) worst = err / tol;
    }
    if (bad) fprintf(stderr, "  %s: %" PRId64 " of %" PRId64 " out of tolerance\n", label, bad, count);
    else printf("  %s: %" PRId64 " values ok, worst error %.3f of tolerance\n", label, count, worst);
    return bad;
}

int fx_tempdir(char *out, const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, 256, "%s/w4a16-%s-XXXXXX", base && base[0] ? base : "/tmp", tag);
    return mkdtemp(out) ? 0 : -1;
}

void fx_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) fx_rmdir(path);
        else unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

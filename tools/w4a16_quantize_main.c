/* w4a16-quantize - fp16/bf16 (or fp32) safetensors in, round-to-nearest group-wise int4 out,
 * in the library's packed layout or as a GPTQ v2 checkpoint. See docs/FORMATS.md. */
#define _POSIX_C_SOURCE 200809L
#include "cli_common.h"
#include "convert.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: w4a16-quantize [options] INPUT OUTPUT\n"
            "\n"
            "Quantizes the 2-D weights (tensors named *.weight) of an fp16/bf16/fp32 safetensors model to\n"
            "4 bits, round-to-nearest per group of K (w4a16_quantize; the GPU when present).\n"
            "INPUT is a .safetensors file, a model.safetensors.index.json or a directory of them.\n"
            "OUTPUT is a .safetensors file (--format w4a16) or a directory that receives\n"
            "model.safetensors and quantize_config.json (--format gptq_v2).\n"
            "\n"
            "options:\n"
            "  --format w4a16|gptq_v2  output layout (default w4a16)\n"
            "  --group-size N          64, 128 or -1 for per-channel (default 128)\n"
            "  --zeros none|int|float  zero mode (default int; gptq_v2 takes none or int)\n"
            "  --dtype fp16|bf16       scale dtype = activation dtype (default: the weight's, fp16 for fp32)\n"
            "  --include RE            quantize only names matching this POSIX extended regex (repeatable;\n"
            "                          a plain substring is a regex too)\n"
            "  --include-substr TEXT   quantize only names containing TEXT (repeatable)\n"
            "  --exclude RE            never quantize names matching RE (default: \"embed\"; --exclude ''\n"
            "                          clears the default)\n"
            "  --no-passthrough        write only the quantized layers\n"
            "  --cpu, --device N, -j N, --progress, --no-progress, -v, -q, -h   as in w4a16-convert\n");
}

typedef struct item {
    const st_tensor *w, *bias;
    const st_file *fw, *fb;
    cv_packed_info info;       /* name = layer prefix */
    size_t idx[CV_OUT_TENSORS];/* w4a16 output */
    size_t gidx[5];            /* gptq_v2: qweight, qzeros, scales, g_idx, bias(unused) */
} item;

typedef struct qjob {
    item *items;
    size_t count;
    int gptq;
    cv_backend *be;
    st_writer *w;
    cli_bar *bar;
    pthread_mutex_t lock;
    size_t next, done;
    uint64_t done_bytes, total_bytes;
    int failed;
    char err[CV_ERR_LEN];
} qjob;

static w4a16_dtype src_dtype(st_dtype t)
{
    return t == ST_F32 ? W4A16_DTYPE_FP32 : t == ST_BF16 ? W4A16_DTYPE_BF16 : W4A16_DTYPE_FP16;
}

static int finite_check(const item *it, const void *w, char *err)
{
    const w4a16_dtype t = src_dtype(it->w->dtype);
    const uint64_t n = it->w->numel;
    for (uint64_t i = 0; i < n; i++) {
        float f;
        if (t == W4A16_DTYPE_FP32) f = ((const float *)w)[i];
        else if (t == W4A16_DTYPE_BF16) f = cv_bf16_to_float(((const uint16_t *)w)[i]);
        else f = cv_half_to_float(((const uint16_t *)w)[i]);
        if (!isfinite(f)) {
            snprintf(err, CV_ERR_LEN, "%s: element %" PRIu64 " is not finite", it->w->name, i);
            return -1;
        }
    }
    return 0;
}

/* GPTQ v2 tensors from the canonical form. */
static void to_gptq(const cv_layer *l, uint8_t *qweight, uint8_t *qzeros)
{
    const int64_t n = l->n, k = l->k, rb = k / 2, G = k / l->group_size;
    for (int64_t r = 0; r < k / 8; r++)
        for (int64_t c = 0; c < n; c++) memcpy(qweight + 4 * (r * n + c), l->q + c * rb + 4 * r, 4);
    for (int64_t g = 0; g < G; g++) {
        for (int64_t c = 0; c < n / 8; c++) {
            uint32_t word = 0;
            for (int i = 0; i < 8; i++) {
                const uint32_t z = l->zero_mode == W4A16_ZEROS_INT ? ((const uint8_t *)l->zeros)[g * n + 8 * c + i] : 8u;
                word |= z << (4 * i);
            }
            uint8_t *p = qzeros + 4 * (g * (n / 8) + c);
            for (int b = 0; b < 4; b++) p[b] = (uint8_t)(word >> (8 * b));
        }
    }
}

static int quantize_item(qjob *j, item *it, char *err)
{
    const cv_packed_info *in = &it->info;
    cv_layer l;
    memset(&l, 0, sizeof l);
    l.name = (char *)in->name;
    l.n = in->n;
    l.k = in->k;
    l.group_size = in->group_size;
    l.zero_mode = in->zero_mode;
    l.dtype = in->dtype;
    const w4a16_dtype sd = src_dtype(it->w->dtype);
    const size_t gn = (size_t)(in->k / in->group_size * in->n);
    void *w = malloc((size_t)it->w->nbytes);
    l.q = (uint8_t *)malloc((size_t)(in->n * (in->k / 2)));
    l.scales = malloc(gn * 2);
    if (in->zero_mode != W4A16_ZEROS_NONE) l.zeros = malloc(gn * (in->zero_mode == W4A16_ZEROS_INT ? 1 : 2));
    if (it->bias) l.bias = malloc((size_t)in->n * 2);
    uint8_t *gq = NULL, *gz = NULL;
    int32_t *gi = NULL;
    int rc = -1;
    if (!w || !l.q || !l.scales || (in->zero_mode && !l.zeros) || (it->bias && !l.bias)) {
        snprintf(err, CV_ERR_LEN, "%s: out of memory", in->name);
        goto done;
    }
    memcpy(w, st_file_data(it->fw, it->w), (size_t)it->w->nbytes); /* aligned copy */
    if (finite_check(it, w, err)) goto done;
    char sub[CV_ERR_LEN];
    if (cv_backend_quantize(j->be, sd, w, in->n, in->k, in->group_size, in->zero_mode, in->dtype, l.q, l.scales,
                            l.zeros, sub)) {
        snprintf(err, CV_ERR_LEN, "%.200s: %.300s", it->w->name, sub);
        goto done;
    }
    if (it->bias) {
        const uint8_t *b = st_file_data(it->fb, it->bias);
        for (int64_t i = 0; i < in->n; i++) {
            float f;
            if (it->bias->dtype == ST_F32) {
                memcpy(&f, b + 4 * i, 4);
            } else {
                uint16_t h;
                memcpy(&h, b + 2 * i, 2);
                f = it->bias->dtype == ST_BF16 ? cv_bf16_to_float(h) : cv_half_to_float(h);
            }
            ((uint16_t *)l.bias)[i] = in->dtype == W4A16_DTYPE_BF16 ? cv_float_to_bf16(f) : cv_float_to_half(f);
        }
    }
    if (!j->gptq) {
        if (cv_layer_pack(&l, j->be, err) || cv_out_put(j->w, it->idx, &l, err)) goto done;
    } else {
        const size_t G = (size_t)(in->k / in->group_size);
        gq = (uint8_t *)malloc((size_t)(in->n * (in->k / 2)));
        gz = (uint8_t *)malloc(G * (size_t)(in->n / 2));
        gi = (int32_t *)malloc((size_t)in->k * 4);
        if (!gq || !gz || !gi) {
            snprintf(err, CV_ERR_LEN, "%s: out of memory", in->name);
            goto done;
        }
        to_gptq(&l, gq, gz);
        for (int64_t k = 0; k < in->k; k++) gi[k] = (int32_t)(k / in->group_size);
        if (st_writer_put(j->w, it->gidx[0], gq, (size_t)(in->n * (in->k / 2)), err) ||
            st_writer_put(j->w, it->gidx[1], gz, G * (size_t)(in->n / 2), err) ||
            st_writer_put(j->w, it->gidx[2], l.scales, gn * 2, err) ||
            st_writer_put(j->w, it->gidx[3], gi, (size_t)in->k * 4, err))
            goto done;
    }
    rc = 0;
done:
    l.name = NULL; /* borrowed */
    cv_layer_free(&l);
    free(w);
    free(gq);
    free(gz);
    free(gi);
    return rc;
}

static void *worker(void *arg)
{
    qjob *j = (qjob *)arg;
    char err[CV_ERR_LEN];
    for (;;) {
        pthread_mutex_lock(&j->lock);
        const size_t i = j->failed ? j->count : j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->count) break;
        const int r = quantize_item(j, &j->items[i], err);
        pthread_mutex_lock(&j->lock);
        if (r && !j->failed) {
            j->failed = 1;
            memcpy(j->err, err, sizeof err);
        }
        j->done++;
        j->done_bytes += j->items[i].w->nbytes;
        cli_bar_update(j->bar, j->done_bytes, j->total_bytes, j->done, j->count);
        pthread_mutex_unlock(&j->lock);
        if (r) break;
    }
    return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

#define MAX_PATTERNS 32

int main(int argc, char **argv)
{
    int gptq = 0, passthrough = 1, dtype = -1;
    cli_common_opts c;
    cli_common_defaults(&c);
    long long group = 128;
    w4a16_zero_mode zm = W4A16_ZEROS_INT;
    const char *include_re[MAX_PATTERNS], *include_sub[MAX_PATTERNS], *exclude_re[MAX_PATTERNS];
    int ninc = 0, nsub = 0, nexc = 0, exclude_given = 0;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has = i + 1 < argc;
        const int shared = cli_common_option("w4a16-quantize", argc, argv, &i, &c);
        if (shared < 0) return 2;
        if (shared) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--format") && has) {
            const char *f = argv[++i];
            if (!strcmp(f, "w4a16")) gptq = 0;
            else if (!strcmp(f, "gptq_v2")) gptq = 1;
            else {
                fprintf(stderr, "w4a16-quantize: --format %s is not w4a16 or gptq_v2\n", f);
                return 2;
            }
        } else if (!strcmp(a, "--group-size") && has) {
            if (cli_parse_int(argv[++i], &group) || (group != -1 && group <= 0)) {
                fprintf(stderr, "w4a16-quantize: bad --group-size %s\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--zeros") && has) {
            const char *z = argv[++i];
            if (!strcmp(z, "none")) zm = W4A16_ZEROS_NONE;
            else if (!strcmp(z, "int")) zm = W4A16_ZEROS_INT;
            else if (!strcmp(z, "float")) zm = W4A16_ZEROS_FLOAT;
            else {
                fprintf(stderr, "w4a16-quantize: --zeros %s is not none, int or float\n", z);
                return 2;
            }
        } else if (!strcmp(a, "--dtype") && has) {
            const char *d = argv[++i];
            if (!strcmp(d, "fp16")) dtype = W4A16_DTYPE_FP16;
            else if (!strcmp(d, "bf16")) dtype = W4A16_DTYPE_BF16;
            else {
                fprintf(stderr, "w4a16-quantize: --dtype %s is not fp16 or bf16\n", d);
                return 2;
            }
        } else if ((!strcmp(a, "--include") || !strcmp(a, "--include-substr") || !strcmp(a, "--exclude")) && has) {
            if (ninc + nsub + nexc >= MAX_PATTERNS) {
                fprintf(stderr, "w4a16-quantize: at most %d patterns\n", MAX_PATTERNS);
                return 2;
            }
            if (!strcmp(a, "--include")) include_re[ninc++] = argv[++i];
            else if (!strcmp(a, "--include-substr")) include_sub[nsub++] = argv[++i];
            else {
                exclude_given = 1;
                if (argv[++i][0]) exclude_re[nexc++] = argv[i];
            }
        } else if (!strcmp(a, "--no-passthrough")) {
            passthrough = 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "w4a16-quantize: unknown option %s (or missing value)\n", a);
            usage(stderr);
            return 2;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (npos != 2) {
        usage(stderr);
        return 2;
    }
    if (gptq && zm == W4A16_ZEROS_FLOAT) {
        fprintf(stderr, "w4a16-quantize: GPTQ has no float zeros (use --zeros none or int)\n");
        return 2;
    }
    if (!exclude_given) exclude_re[nexc++] = "embed";
    regex_t inc[MAX_PATTERNS], exc[MAX_PATTERNS];
    for (int i = 0; i < ninc + nexc; i++) {
        const char *p = i < ninc ? include_re[i] : exclude_re[i - ninc];
        regex_t *r = i < ninc ? &inc[i] : &exc[i - ninc];
        const int e = regcomp(r, p, REG_EXTENDED | REG_NOSUB);
        if (e) {
            char m[256];
            regerror(e, r, m, sizeof m);
            fprintf(stderr, "w4a16-quantize: bad regular expression \"%s\": %s\n", p, m);
            return 2;
        }
    }

    const double t0 = cli_now();
    char err[CV_ERR_LEN];
    snprintf(err, sizeof err, "out of memory");
    st_model *m = NULL;
    if (st_model_open(&m, pos[0], err)) {
        fprintf(stderr, "w4a16-quantize: %s\n", err);
        return 1;
    }
    const size_t nt = st_model_count(m);
    item *items = (item *)calloc(nt ? nt : 1, sizeof(item));
    unsigned char *used = (unsigned char *)calloc(nt ? nt : 1, 1);
    size_t *oidx = (size_t *)calloc(nt ? nt : 1, sizeof(size_t));
    cv_packed_info *infos = (cv_packed_info *)calloc(nt ? nt : 1, sizeof(cv_packed_info));
    st_writer *w = st_writer_new();
    size_t count = 0, skipped = 0, npass = 0;
    int rc = 1;
    char *out_file = NULL;
    cv_backend be;
    cv_backend_init(&be, c.want_gpu, (int)c.device);
    if (!items || !used || !oidx || !infos || !w) {
        fprintf(stderr, "w4a16-quantize: out of memory\n");
        goto done;
    }
    /* Which tensors: 2-D, *.weight, float, matching the filters, of a shape the library takes. */
    for (size_t i = 0; i < nt; i++) {
        const st_file *f;
        const st_tensor *t = st_model_tensor(m, i, &f);
        if (t->ndim != 2 || !ends_with(t->name, ".weight") || strlen(t->name) == 7) continue;
        if (t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_F32) continue;
        int want = ninc + nsub == 0;
        for (int r = 0; r < ninc && !want; r++) want = regexec(&inc[r], t->name, 0, NULL, 0) == 0;
        for (int r = 0; r < nsub && !want; r++) want = strstr(t->name, include_sub[r]) != NULL;
        for (int r = 0; r < nexc && want; r++) want = regexec(&exc[r], t->name, 0, NULL, 0) != 0;
        if (!want) continue;
        const int64_t n = t->shape[0], k = t->shape[1], gs = group == -1 ? k : group;
        w4a16_problem p;
        w4a16_problem_init(&p, 1, n, k, W4A16_DTYPE_FP16, gs, zm);
        if (w4a16_check_problem(&p) != W4A16_SUCCESS) {
            if (c.verbose && !c.quiet) printf("  left unquantized: %s [%" PRId64 ", %" PRId64 "]: %s\n", t->name, n, k,
                                          w4a16_last_error());
            skipped++;
            continue;
        }
        item *it = &items[count++];
        it->w = t;
        it->fw = f;
        used[i] = 1;
        const size_t plen = strlen(t->name) - 7;
        char *prefix = (char *)malloc(plen + 6);
        if (!prefix) {
            fprintf(stderr, "w4a16-quantize: out of memory\n");
            goto done;
        }
        memcpy(prefix, t->name, plen);
        prefix[plen] = 0;
        it->info.name = prefix;
        it->info.n = n;
        it->info.k = k;
        it->info.group_size = gs;
        it->info.zero_mode = zm;
        it->info.dtype = dtype >= 0 ? (w4a16_dtype)dtype : t->dtype == ST_BF16 ? W4A16_DTYPE_BF16 : W4A16_DTYPE_FP16;
        if (!gptq) { /* the layer's bias joins it (in the scale dtype) */
            memcpy(prefix + plen, ".bias", 6);
            const st_file *fb;
            const st_tensor *b = st_model_find(m, prefix, &fb);
            prefix[plen] = 0;
            if (b && b->ndim == 1 && b->shape[0] == n && (b->dtype == ST_F16 || b->dtype == ST_BF16 || b->dtype == ST_F32)) {
                it->bias = b;
                it->fb = fb;
                it->info.has_bias = 1;
            }
        }
    }
    /* Biases that joined a layer are not copied; everything else is. */
    for (size_t i = 0; i < count; i++) {
        if (!items[i].bias) continue;
        for (size_t t = 0; t < nt; t++)
            if (st_model_tensor(m, t, NULL) == items[i].bias) used[t] = 1;
    }
    if (count == 0) {
        fprintf(stderr, "w4a16-quantize: no tensor to quantize in %s (2-D *.weight of a supported shape%s)\n", pos[0],
                ninc + nsub ? " matching --include" : "");
        goto done;
    }
    /* Declare the output. */
    qjob job;
    memset(&job, 0, sizeof job);
    for (size_t i = 0; i < count; i++) {
        item *it = &items[i];
        infos[i] = it->info;
        job.total_bytes += it->w->nbytes;
        if (!gptq) {
            if (cv_out_declare(w, &it->info, it->idx, err)) goto fail;
            continue;
        }
        const int64_t n = it->info.n, k = it->info.k, G = k / it->info.group_size;
        const int64_t sq[2] = {k / 8, n}, sz[2] = {G, n / 8}, ss[2] = {G, n}, sg[1] = {k};
        const char *suf[4] = {".qweight", ".qzeros", ".scales", ".g_idx"};
        const st_dtype dts[4] = {ST_I32, ST_I32, cv_st_dtype(it->info.dtype), ST_I32};
        const int64_t *shp[4] = {sq, sz, ss, sg};
        const size_t plen = strlen(it->info.name);
        for (int s = 0; s < 4; s++) {
            char *name = (char *)malloc(plen + 16);
            if (!name) goto fail;
            snprintf(name, plen + 16, "%s%s", it->info.name, suf[s]);
            const int r = st_writer_add(w, name, dts[s], s == 3 ? 1 : 2, shp[s], NULL, &it->gidx[s], err);
            free(name);
            if (r) goto fail;
        }
    }
    for (size_t i = 0; passthrough && i < nt; i++) {
        if (used[i]) continue;
        const st_tensor *t = st_model_tensor(m, i, NULL);
        if (st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, NULL, &oidx[i], err)) goto fail;
        job.total_bytes += t->nbytes;
        npass++;
    }
    char source[256];
    snprintf(source, sizeof source, "w4a16-quantize: round-to-nearest, group %lld, zeros %s", group,
             cv_zero_mode_name(zm));
    if (gptq) {
        if (st_writer_set_metadata(w, "format", "pt", err)) goto fail;
        if (mkdir(pos[1], 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "w4a16-quantize: cannot create %s: %s\n", pos[1], strerror(errno));
            goto done;
        }
        out_file = (char *)malloc(strlen(pos[1]) + 32);
        if (!out_file) goto fail;
        sprintf(out_file, "%s/model.safetensors", pos[1]);
    } else {
        if (cv_out_metadata(w, infos, count, source, err)) goto fail;
        out_file = (char *)malloc(strlen(pos[1]) + 1);
        if (!out_file) goto fail;
        strcpy(out_file, pos[1]);
    }
    if (st_writer_begin(w, out_file, err)) goto fail;
    cli_bar bar;
    cli_bar_init(&bar, "quantizing", c.progress);
    job.items = items;
    job.count = count;
    job.gptq = gptq;
    job.be = &be;
    job.w = w;
    job.bar = &bar;
    pthread_mutex_init(&job.lock, NULL);
    int nthr = cv_backend_is_gpu(&be) ? 1 : c.threads;
    if ((size_t)nthr > count) nthr = (int)count;
    if (nthr <= 1) {
        worker(&job);
    } else {
        pthread_t tid[64];
        int started = 0;
        for (; started < nthr; started++)
            if (pthread_create(&tid[started], NULL, worker, &job) != 0) break;
        if (!started) worker(&job);
        for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    }
    pthread_mutex_destroy(&job.lock);
    if (job.failed) {
        cli_bar_finish(&bar);
        memcpy(err, job.err, sizeof err);
        goto fail;
    }
    for (size_t i = 0; passthrough && i < nt; i++) {
        if (used[i]) continue;
        const st_file *f;
        const st_tensor *t = st_model_tensor(m, i, &f);
        if (st_writer_put(w, oidx[i], st_file_data(f, t), (size_t)t->nbytes, err)) goto fail;
        job.done_bytes += t->nbytes;
        cli_bar_update(&bar, job.done_bytes, job.total_bytes, job.done, job.count);
    }
    cli_bar_finish(&bar);
    if (st_writer_finish(w, err)) goto fail;
    if (gptq) {
        char cfg[4096];
        snprintf(cfg, sizeof cfg, "%s/quantize_config.json", pos[1]);
        FILE *fp = fopen(cfg, "w");
        if (!fp) {
            fprintf(stderr, "w4a16-quantize: cannot write %s: %s\n", cfg, strerror(errno));
            goto done;
        }
        fprintf(fp,
                "{\n  \"bits\": 4,\n  \"group_size\": %lld,\n  \"desc_act\": false,\n  \"sym\": %s,\n"
                "  \"quant_method\": \"gptq\",\n  \"checkpoint_format\": \"gptq_v2\",\n  \"pack_dtype\": \"int32\",\n"
                "  \"quantizer\": \"w4a16-quantize (round-to-nearest)\"\n}\n",
                group, zm == W4A16_ZEROS_NONE ? "true" : "false");
        if (fclose(fp) != 0) {
            fprintf(stderr, "w4a16-quantize: cannot write %s\n", cfg);
            goto done;
        }
    }
    if (!c.quiet) {
        char a[16], b[16];
        const double sec = cli_now() - t0;
        printf("w4a16-quantize: %s -> %s (%s)\n", pos[0], out_file, gptq ? "GPTQ v2" : "w4a16 packed layout");
        printf("  %s\n", source);
        printf("  backend: %s\n", be.description);
        if (c.verbose)
            for (size_t i = 0; i < count; i++)
                printf("    %-60s N=%-6" PRId64 " K=%-6" PRId64 " %s%s\n", items[i].info.name, items[i].info.n,
                       items[i].info.k, cv_dtype_name(items[i].info.dtype), items[i].info.has_bias ? " bias" : "");
        printf("  layers quantized: %zu; 2-D weights left unquantized (shape): %zu; tensors copied: %zu\n", count,
               skipped, npass);
        printf("  %s in, %s out, %.3f s\n", cli_bytes(st_model_data_bytes(m), a, sizeof a),
               cli_bytes(st_writer_total_bytes(w), b, sizeof b), sec);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "w4a16-quantize: %s\n", err);
done:
    for (size_t i = 0; i < count; i++) free(items[i].info.name);
    for (int i = 0; i < ninc; i++) regfree(&inc[i]);
    for (int i = 0; i < nexc; i++) regfree(&exc[i]);
    free(items);
    free(used);
    free(oidx);
    free(infos);
    free(out_file);
    st_writer_free(w);
    cv_backend_free(&be);
    st_model_close(m);
    return rc;
}

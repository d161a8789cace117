/* tune.c - the autotuner and the per-handle tuning cache (problem -> configuration), with a
 * small text file format to keep it across processes. */
#include "internal.h"

#include <cuda_runtime_api.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define TUNE_MAGIC "w4a16-tune"
#define TUNE_FORMAT 1

static int same_key(const w4a16_tune_entry *e, const w4a16_problem *p)
{
    return e->m == p->m && e->n == p->n && e->k == p->k && e->group_size == p->group_size &&
           e->dtype == (int)p->dtype && e->zero_mode == (int)p->zero_mode;
}

static int find(w4a16_handle h, const w4a16_problem *p)
{
    for (int i = 0; i < h->tune_count; i++)
        if (same_key(&h->tune[i], p)) return i;
    return -1;
}

static w4a16_status put(w4a16_handle h, const w4a16_problem *p, int config)
{
    int i = find(h, p);
    if (i < 0) {
        if (h->tune_count == h->tune_cap) {
            const int cap = h->tune_cap ? 2 * h->tune_cap : 16;
            w4a16_tune_entry *t = (w4a16_tune_entry *)realloc(h->tune, (size_t)cap * sizeof *t);
            if (!t) return w4a16_fail(W4A16_ERROR_OUT_OF_MEMORY, "cannot grow the tuning cache to %d entries", cap);
            h->tune = t;
            h->tune_cap = cap;
        }
        i = h->tune_count++;
    }
    const w4a16_tune_entry e = {p->m, p->n, p->k, p->group_size, (int)p->dtype, (int)p->zero_mode, config};
    h->tune[i] = e;
    return W4A16_SUCCESS;
}

void w4a16_tune_free(w4a16_handle h)
{
    free(h->tune);
    h->tune = NULL;
    h->tune_count = h->tune_cap = 0;
}

int w4a16_tune_lookup(w4a16_handle h, const w4a16_problem *p)
{
    const int i = find(h, p);
    if (i < 0) return -1;
    const int c = h->tune[i].config;
    return c >= 0 && c < w4a16_config_count() && w4a16_get_config(c)->supports(p, &h->info) ? c : -1;
}

w4a16_status w4a16_tune_cache_set(w4a16_handle h, const w4a16_problem *p, int config)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if ((st = w4a16_check_problem(p))) return st;
    if (config < 0 || config >= w4a16_config_count())
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "config=%d is not in [0, %d)", config, w4a16_config_count());
    if (!w4a16_get_config(config)->supports(p, &h->info))
        return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "config %d (%s) cannot run M=%" PRId64 " N=%" PRId64 " K=%" PRId64,
                          config, w4a16_config_name(config), p->m, p->n, p->k);
    if ((st = put(h, p, config))) return st;
    return w4a16_ok();
}

w4a16_status w4a16_tune_cache_size(w4a16_handle h, int *entries)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if (!entries) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "entries is NULL");
    *entries = h->tune_count;
    return w4a16_ok();
}

static const char *dtype_word(int t) { return t == W4A16_DTYPE_BF16 ? "bf16" : "fp16"; }
static const char *zeros_word(int z) { return z == W4A16_ZEROS_INT ? "int" : z == W4A16_ZEROS_FLOAT ? "float" : "none"; }

w4a16_status w4a16_tune_cache_save(w4a16_handle h, const char *path)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if (!path) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "path is NULL");
    FILE *f = fopen(path, "w");
    if (!f) return w4a16_fail(W4A16_ERROR_IO, "cannot open %s for writing", path);
    int bad = fprintf(f, "%s %d cc=%d.%d sms=%d\n", TUNE_MAGIC, TUNE_FORMAT, h->info.cc_major, h->info.cc_minor,
                      h->info.sm_count) < 0;
    for (int i = 0; i < h->tune_count && !bad; i++) {
        const w4a16_tune_entry *e = &h->tune[i];
        bad = fprintf(f, "%" PRId64 " %" PRId64 " %" PRId64 " %s %" PRId64 " %s %s\n", e->m, e->n, e->k,
                      dtype_word(e->dtype), e->group_size, zeros_word(e->zero_mode), w4a16_config_name(e->config)) < 0;
    }
    if (fclose(f) != 0) bad = 1;
    if (bad) return w4a16_fail(W4A16_ERROR_IO, "cannot write %s", path);
    return w4a16_ok();
}

w4a16_status w4a16_tune_cache_load(w4a16_handle h, const char *path)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if (!path) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "path is NULL");
    FILE *f = fopen(path, "r");
    if (!f) return w4a16_fail(W4A16_ERROR_IO, "cannot open %s", path);
    char line[256];
    int format = 0, ccmaj = 0, ccmin = 0, sms = 0, lineno = 1;
    if (!fgets(line, sizeof line, f) ||
        sscanf(line, TUNE_MAGIC " %d cc=%d.%d sms=%d", &format, &ccmaj, &ccmin, &sms) != 4 || format != TUNE_FORMAT) {
        fclose(f);
        return w4a16_fail(W4A16_ERROR_IO, "%s:1: not a w4a16 tuning cache (format %d)", path, TUNE_FORMAT);
    }
    /* A cache measured on another device says nothing about this one: keep none of it. */
    const int same_device = ccmaj == h->info.cc_major && ccmin == h->info.cc_minor && sms == h->info.sm_count;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        long long m, n, k, g;
        char dt[8], zs[8], name[96];
        if (sscanf(line, "%lld %lld %lld %7s %lld %7s %95s", &m, &n, &k, dt, &g, zs, name) != 7) {
            fclose(f);
            return w4a16_fail(W4A16_ERROR_IO, "%s:%d: expected 'M N K dtype group zeros config'", path, lineno);
        }
        w4a16_problem p;
        const int dtype = !strcmp(dt, "fp16") ? 0 : !strcmp(dt, "bf16") ? 1 : -1;
        const int zm = !strcmp(zs, "none") ? 0 : !strcmp(zs, "int") ? 1 : !strcmp(zs, "float") ? 2 : -1;
        w4a16_problem_init(&p, m, n, k, (w4a16_dtype)dtype, g, (w4a16_zero_mode)zm);
        if (dtype < 0 || zm < 0 || w4a16_check_problem(&p) != W4A16_SUCCESS) {
            fclose(f);
            return w4a16_fail(W4A16_ERROR_IO, "%s:%d: not a valid problem (M=%lld N=%lld K=%lld %s group=%lld %s)", path,
                              lineno, m, n, k, dt, g, zs);
        }
        int config = -1;
        for (int c = 0; c < w4a16_config_count(); c++)
            if (!strcmp(w4a16_config_name(c), name)) config = c;
        /* skipped: another device, a configuration this build lacks, or one that cannot run p */
        if (!same_device || config < 0 || !w4a16_get_config(config)->supports(&p, &h->info)) continue;
        if ((st = put(h, &p, config))) {
            fclose(f);
            return st;
        }
    }
    fclose(f);
    return w4a16_ok();
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

w4a16_status w4a16_tune(w4a16_handle h, const w4a16_problem *p, const void *a, const void *w_packed,
                        const void *scales, const void *zeros, const void *bias, void *d, void *workspace,
                        size_t workspace_bytes, int iters, cudaStream_t stream, int *best, float *best_us)
{
    w4a16_status st;
    if ((st = w4a16_check_handle(h, 0))) return st;
    if ((st = w4a16_check_problem(p))) return st;
    if (!best) return w4a16_fail(W4A16_ERROR_NULL_POINTER, "best is NULL");
    if (iters < 1 || iters > 1000) return w4a16_fail(W4A16_ERROR_INVALID_VALUE, "iters=%d is not in [1, 1000]", iters);
    if (p->m == 0) return w4a16_fail(W4A16_ERROR_INVALID_SHAPE, "M=0: there is nothing to tune");
    /* Every argument check of the GEMM itself, with the library's own choice (an offline
     * handle stops here with W4A16_ERROR_NO_DEVICE). */
    w4a16_problem pc = *p;
    pc.config = -1;
    st = w4a16_gemm(h, &pc, a, w_packed, scales, zeros, bias, d, workspace, workspace_bytes, stream);
    if (st && st != W4A16_ERROR_WORKSPACE_TOO_SMALL) return st; /* others may fit the workspace */

    float *times = (float *)malloc(sizeof(float) * (size_t)iters);
    if (!times) return w4a16_fail(W4A16_ERROR_OUT_OF_MEMORY, "cannot allocate %d timings", iters);
    cudaEvent_t e0 = NULL, e1 = NULL;
    cudaError_t ce = cudaEventCreate(&e0);
    if (ce == cudaSuccess) ce = cudaEventCreate(&e1);
    int chosen = -1;
    float chosen_us = 0.0f;
    st = W4A16_SUCCESS;
    /* The reference kernel (index 0) only when no Hopper configuration can run p. */
    for (int pass = 0; pass < 2 && chosen < 0 && ce == cudaSuccess && !st; pass++) {
        for (int c = pass == 0 ? 1 : 0; c < (pass == 0 ? w4a16_config_count() : 1) && !st; c++) {
            const w4a16_config *cfg = w4a16_get_config(c);
            if (!cfg->supports(p, &h->info) || w4a16_workspace_need(h, p, cfg, NULL) > workspace_bytes) continue;
            pc.config = c;
            for (int i = 0; i < 2 && !st; i++)
                st = w4a16_gemm(h, &pc, a, w_packed, scales, zeros, bias, d, workspace, workspace_bytes, stream);
            for (int i = 0; i < iters && !st && ce == cudaSuccess; i++) {
                ce = cudaEventRecord(e0, stream);
                if (ce == cudaSuccess)
                    st = w4a16_gemm(h, &pc, a, w_packed, scales, zeros, bias, d, workspace, workspace_bytes, stream);
                if (!st && ce == cudaSuccess) ce = cudaEventRecord(e1, stream);
                if (!st && ce == cudaSuccess) ce = cudaEventSynchronize(e1);
                if (!st && ce == cudaSuccess) ce = cudaEventElapsedTime(&times[i], e0, e1);
            }
            if (st || ce != cudaSuccess) break;
            qsort(times, (size_t)iters, sizeof(float), cmp_float);
            const float us = 1000.0f * times[iters / 2];
            if (chosen < 0 || us < chosen_us) {
                chosen = c;
                chosen_us = us;
            }
        }
    }
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    free(times);
    if (st) return st; /* w4a16_gemm's own status and message */
    if (ce != cudaSuccess) return w4a16_fail(W4A16_ERROR_CUDA, "timing a configuration failed: %s", cudaGetErrorString(ce));
    if (chosen < 0)
        return w4a16_fail(W4A16_ERROR_WORKSPACE_TOO_SMALL,
                          "no configuration can run M=%" PRId64 " N=%" PRId64 " K=%" PRId64 " within workspace_bytes=%zu",
                          p->m, p->n, p->k, workspace_bytes);
    if ((st = put(h, p, chosen))) return st;
    *best = chosen;
    if (best_us) *best_us = chosen_us;
    return w4a16_ok();
}

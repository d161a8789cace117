/* gpu_util.c - see gpu_util.h. */
#include "gpu_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gpu_cuda_ok(cudaError_t e, const char *what, const char *file, int line)
{
    if (e == cudaSuccess) return;
    fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", file, line, what, cudaGetErrorName(e), cudaGetErrorString(e));
    exit(1);
}

void gpu_w4_ok(w4a16_status s, const char *what, const char *file, int line)
{
    if (s == W4A16_SUCCESS) return;
    fprintf(stderr, "%s:%d: %s returned %s: %s\n", file, line, what, w4a16_status_string(s), w4a16_last_error());
    exit(1);
}

int gpu_have_sm90(const char *test)
{
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        printf("%s: SKIPPED: no sm_90 device (%s)\n", test,
               e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device");
        return 0;
    }
    struct cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    if (prop.major != 9 || prop.minor != 0) {
        printf("%s: SKIPPED: no sm_90 device (device 0 is %s, sm_%d%d)\n", test, prop.name, prop.major, prop.minor);
        return 0;
    }
    CUDA_OK(cudaSetDevice(0));
    printf("%s: device 0: %s, %d SMs\n", test, prop.name, prop.multiProcessorCount);
    return 1;
}

int gpu_long_tier(void)
{
    const char *v = getenv("W4A16_TEST_LONG");
    return v && v[0] && strcmp(v, "0") != 0;
}

int gpu_select_config(w4a16_handle h, w4a16_problem *p, int cfg, int *chosen)
{
    p->config = cfg;
    if (w4a16_select_config(h, p, chosen) == W4A16_SUCCESS) return 1;
    if (cfg < 0) {
        fprintf(stderr, "the heuristic refused M=%lld N=%lld K=%lld: %s\n", (long long)p->m, (long long)p->n,
                (long long)p->k, w4a16_last_error());
        return -1;
    }
    printf("note: config %d (%s) refused M=%lld N=%lld K=%lld: skipped\n", cfg, w4a16_config_name(cfg),
           (long long)p->m, (long long)p->n, (long long)p->k);
    return 0;
}

void *dev_alloc(size_t bytes)
{
    void *p = NULL;
    CUDA_OK(cudaMalloc(&p, bytes ? bytes : 16));
    return p;
}

void *dev_upload(const void *host, size_t bytes)
{
    void *p = dev_alloc(bytes);
    CUDA_OK(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice));
    return p;
}

void dev_download(void *host, const void *dev, size_t bytes)
{
    CUDA_OK(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
}

static void *host_alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of host memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

void weights_alloc(gpu_weights *w, int64_t n, int64_t k, int64_t group, w4a16_zero_mode mode, w4a16_dtype dtype)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    w->k = k;
    w->group = group;
    w->mode = mode;
    w->dtype = dtype;
    const size_t gn = (size_t)(k / group * n);
    w->q = host_alloc((size_t)(n * k / 2));
    w->scales = host_alloc(gn * 2);
    if (mode == W4A16_ZEROS_INT) w->zeros = host_alloc(gn);
    if (mode == W4A16_ZEROS_FLOAT) w->zeros = host_alloc(gn * 2);
}

void weights_random(gpu_weights *w, ref_rng *rng)
{
    float *f = host_alloc(sizeof(float) * (size_t)(w->n * w->k));
    ref_fill_uniform(rng, W4A16_DTYPE_FP32, f, w->n * w->k, -1.0f, 1.0f);
    W4_OK(w4a16_quantize_host(W4A16_DTYPE_FP32, f, w->n, w->k, w->group, w->mode, w->dtype, w->q, w->scales,
                              w->zeros));
    free(f);
}

void weights_upload(gpu_weights *w)
{
    const size_t gn = (size_t)(w->k / w->group * w->n);
    W4_OK(w4a16_packed_size(w->n, w->k, &w->packed_bytes));
    void *packed = host_alloc(w->packed_bytes);
    W4_OK(w4a16_pack_host(w->q, w->n, w->k, packed, w->packed_bytes));
    w->d_packed = dev_upload(packed, w->packed_bytes);
    free(packed);
    w->d_q = dev_upload(w->q, (size_t)(w->n * w->k / 2));
    w->d_scales = dev_upload(w->scales, gn * 2);
    if (w->zeros) w->d_zeros = dev_upload(w->zeros, w->mode == W4A16_ZEROS_INT ? gn : gn * 2);
}

void weights_free(gpu_weights *w)
{
    free(w->q);
    free(w->scales);
    free(w->zeros);
    cudaFree(w->d_q);
    cudaFree(w->d_packed);
    cudaFree(w->d_scales);
    cudaFree(w->d_zeros);
    memset(w, 0, sizeof *w);
}

void output_alloc(gpu_output *o, int64_t m, int64_t ldd)
{
    o->bytes = (size_t)(m * ldd) * 2 + GPU_D_GUARD;
    o->dev = dev_alloc(o->bytes);
    o->host = host_alloc(o->bytes);
}

void output_poison(gpu_output *o, cudaStream_t stream) { CUDA_OK(cudaMemsetAsync(o->dev, 0xff, o->bytes, stream)); }

void output_download(gpu_output *o)
{
    CUDA_OK(cudaDeviceSynchronize());
    dev_download(o->host, o->dev, o->bytes);
}

void output_free(gpu_output *o)
{
    cudaFree(o->dev);
    free(o->host);
    memset(o, 0, sizeof *o);
}

/* Padding columns n..ldd-1 of every row and the guard after the last row must still be poison. */
static int64_t check_poison(const char *label, const w4a16_problem *p, const gpu_output *o)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = p->n; j < p->ldd; j++)
            if (o->host[i * p->ldd + j] != 0xffff && bad++ < 3)
                fprintf(stderr, "  %s: padding D[%lld, %lld] was written (0x%04x)\n", label, (long long)i,
                        (long long)j, o->host[i * p->ldd + j]);
    const uint8_t *guard = (const uint8_t *)o->host + (size_t)(p->m * p->ldd) * 2;
    for (int i = 0; i < GPU_D_GUARD; i++)
        if (guard[i] != 0xff && bad++ < 3)
            fprintf(stderr, "  %s: byte %d after the end of D was written\n", label, i);
    if (bad) fprintf(stderr, "  %s: %lld writes outside D[m, n]\n", label, (long long)bad);
    return bad;
}

int64_t output_check(const char *label, const w4a16_problem *p, const gpu_output *o, const double *ref,
                     double *worst_ratio)
{
    const int64_t bad = ref_check(label, p->dtype, o->host, p->m, p->n, p->ldd, ref, worst_ratio);
    return bad + check_poison(label, p, o);
}

int64_t output_check_exact(const char *label, const w4a16_problem *p, const gpu_output *o, const double *ref)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            const uint16_t got = o->host[i * p->ldd + j], want = ref_bits_from_double(p->dtype, ref[i * p->n + j]);
            if (got != want && bad++ < 5)
                fprintf(stderr, "  %s: D[%lld, %lld] = 0x%04x, want 0x%04x (%.9g)\n", label, (long long)i,
                        (long long)j, got, want, ref[i * p->n + j]);
        }
    if (bad) fprintf(stderr, "  %s: %lld elements differ from the exact result\n", label, (long long)bad);
    return bad + check_poison(label, p, o);
}

int64_t workspace_reserve(gpu_workspace *ws, w4a16_handle h, size_t need)
{
    if (need <= ws->bytes) return 0;
    int64_t bad = 0;
    if (ws->dev) {
        bad = workspace_check_zero("workspace before growing", ws);
        cudaFree(ws->dev);
    }
    ws->bytes = need + need / 2;
    ws->dev = dev_alloc(ws->bytes);
    W4_OK(w4a16_workspace_init(h, ws->dev, ws->bytes, NULL));
    return bad;
}

int64_t workspace_check_zero(const char *label, const gpu_workspace *ws)
{
    if (!ws->bytes) return 0;
    uint8_t *host = host_alloc(ws->bytes);
    CUDA_OK(cudaDeviceSynchronize());
    dev_download(host, ws->dev, ws->bytes);
    int64_t bad = 0, first = -1;
    for (size_t i = 0; i < ws->bytes; i++)
        if (host[i]) {
            if (first < 0) first = (int64_t)i;
            bad++;
        }
    if (bad)
        fprintf(stderr, "  %s: the workspace is not left zeroed: %lld nonzero bytes of %zu (first at %lld)\n", label,
                (long long)bad, ws->bytes, (long long)first);
    free(host);
    return bad;
}

void workspace_free(gpu_workspace *ws)
{
    cudaFree(ws->dev);
    memset(ws, 0, sizeof *ws);
}

void weights_make(gpu_weights *w, int64_t n, int64_t k, int64_t group, w4a16_zero_mode mode, w4a16_dtype dtype,
                  ref_rng *rng)
{
    weights_alloc(w, n, k, group, mode, dtype);
    weights_random(w, rng);
    weights_upload(w);
}

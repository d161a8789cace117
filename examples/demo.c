/* demo.c - w4a16 end to end: quantize a random weight on the GPU, pack it, run w4a16_gemm,
 * check the result against a cuBLAS reference, then time w4a16_gemm next to cuBLAS fp16/bf16
 * on the dequantized weight.
 *
 *   w4a16-demo [--m 16] [--n 8192] [--k 8192] [--group 128] [--dtype fp16|bf16]
 *              [--zeros none|int|float] [--config -1] [--iters 50]
 *
 * Timing: weights rotate over copies totalling >= 2x L2 (so they come from HBM, not the cache);
 * 5 warm-up launches, then --iters launches (>= 30) queued behind a host gate so they run back
 * to back, each between its own event pair; the median is reported.
 * Exit status: 0 PASS, 1 FAIL or error, 2 bad arguments, 77 no sm_90 GPU. */
#include "ref.h"
#include "w4a16.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CUDA(x)                                                                                       \
    do {                                                                                              \
        cudaError_t e_ = (x);                                                                         \
        if (e_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "w4a16-demo: %s failed: %s\n", #x, cudaGetErrorString(e_));               \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)
#define W4(x)                                                                                         \
    do {                                                                                              \
        w4a16_status s_ = (x);                                                                        \
        if (s_ != W4A16_SUCCESS) {                                                                    \
            fprintf(stderr, "w4a16-demo: %s: %s: %s\n", #x, w4a16_status_string(s_), w4a16_last_error()); \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

typedef struct {
    long long m, n, k, group;
    w4a16_dtype dtype;
    w4a16_zero_mode zeros;
    int config, iters;
} options;

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--m M] [--n N] [--k K] [--group 64|128|K] [--dtype fp16|bf16] [--zeros none|int|float]\n"
            "          [--config I] [--iters N]\n"
            "defaults: --m 16 --n 8192 --k 8192 --group 128 --dtype fp16 --zeros none --config -1 --iters 50\n",
            argv0);
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){16, 8192, 8192, 128, W4A16_DTYPE_FP16, W4A16_ZEROS_NONE, -1, 50};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return -1;
        if (!v) return -1;
        char *end = NULL;
        const long long num = strtoll(v, &end, 10);
        const int is_num = end && *end == '\0' && end != v;
        if (!strcmp(f, "--m") && is_num) o->m = num;
        else if (!strcmp(f, "--n") && is_num) o->n = num;
        else if (!strcmp(f, "--k") && is_num) o->k = num;
        else if (!strcmp(f, "--group") && is_num) o->group = num;
        else if (!strcmp(f, "--config") && is_num) o->config = (int)num;
        else if (!strcmp(f, "--iters") && is_num) o->iters = (int)num;
        else if (!strcmp(f, "--dtype") && !strcmp(v, "fp16")) o->dtype = W4A16_DTYPE_FP16;
        else if (!strcmp(f, "--dtype") && !strcmp(v, "bf16")) o->dtype = W4A16_DTYPE_BF16;
        else if (!strcmp(f, "--zeros") && !strcmp(v, "none")) o->zeros = W4A16_ZEROS_NONE;
        else if (!strcmp(f, "--zeros") && !strcmp(v, "int")) o->zeros = W4A16_ZEROS_INT;
        else if (!strcmp(f, "--zeros") && !strcmp(v, "float")) o->zeros = W4A16_ZEROS_FLOAT;
        else {
            fprintf(stderr, "w4a16-demo: bad argument %s %s\n", f, v);
            return -1;
        }
        i++;
    }
    if (o->iters < 30) {
        fprintf(stderr, "w4a16-demo: --iters must be >= 30 (the median of at least 30 launches)\n");
        return -1;
    }
    return 0;
}

/* The launch gate: a host function that holds the stream until the host has queued the whole
 * timed batch, so the GPU then runs it back to back and each event pair times the GPU alone. */
static atomic_int gate_open;
static void CUDART_CB gate_wait(void *unused)
{
    (void)unused;
    const clock_t t0 = clock();
    while (!atomic_load(&gate_open) && (double)(clock() - t0) / CLOCKS_PER_SEC < 10.0) {
    }
}


static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* What one timed launch needs: which implementation and which weight copy. */
typedef struct {
    w4a16_handle h;
    const w4a16_problem *p;
    cublasHandle_t cb;
    const void *a;
    void *d, *ws;
    size_t ws_bytes;
    const void *bias;
    /* w4a16: per copy packed / scales / zeros; cuBLAS: per copy dequantized weight */
    void **packed, **scales, **zeros, **wdq;
    int copies;
    cudaStream_t s;
} bench_ctx;

static void launch(const bench_ctx *c, int use_cublas, int copy)
{
    if (use_cublas) {
        const float one = 1.0f, zero = 0.0f;
        const cudaDataType_t t = c->p->dtype == W4A16_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_16F;
        const cublasStatus_t st =
            cublasGemmEx(c->cb, CUBLAS_OP_T, CUBLAS_OP_N, (int)c->p->n, (int)c->p->m, (int)c->p->k, &one,
                         c->wdq[copy], t, (int)c->p->k, c->a, t, (int)c->p->lda, &zero, c->d, t, (int)c->p->ldd,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (st != CUBLAS_STATUS_SUCCESS) {
            fprintf(stderr, "w4a16-demo: cublasGemmEx failed: %d\n", (int)st);
            exit(1);
        }
    } else {
        W4(w4a16_gemm(c->h, c->p, c->a, c->packed[copy], c->scales[copy], c->zeros ? c->zeros[copy] : NULL, c->bias,
                      c->d, c->ws, c->ws_bytes, c->s));
    }
}

/* Median time in microseconds of iters launches, after 5 warm-up launches. */
static double time_median_us(const bench_ctx *c, int use_cublas, int iters)
{
    cudaEvent_t *ev = malloc(sizeof(cudaEvent_t) * 2 * (size_t)iters);
    float *ms = malloc(sizeof(float) * (size_t)iters);
    if (!ev || !ms) exit(1);
    for (int i = 0; i < 2 * iters; i++) CUDA(cudaEventCreate(&ev[i]));
    for (int i = 0; i < 5; i++) launch(c, use_cublas, i % c->copies);
    CUDA(cudaStreamSynchronize(c->s));
    atomic_store(&gate_open, 0);
    CUDA(cudaLaunchHostFunc(c->s, gate_wait, NULL));
    for (int i = 0; i < iters; i++) {
        CUDA(cudaEventRecord(ev[2 * i], c->s));
        launch(c, use_cublas, (i + 5) % c->copies);
        CUDA(cudaEventRecord(ev[2 * i + 1], c->s));
    }
    atomic_store(&gate_open, 1);
    CUDA(cudaStreamSynchronize(c->s));
    for (int i = 0; i < iters; i++) CUDA(cudaEventElapsedTime(&ms[i], ev[2 * i], ev[2 * i + 1]));
    qsort(ms, (size_t)iters, sizeof(float), cmp_float);
    const double med = iters % 2 ? ms[iters / 2] : 0.5 * (ms[iters / 2 - 1] + ms[iters / 2]);
    for (int i = 0; i < 2 * iters; i++) CUDA(cudaEventDestroy(ev[i]));
    free(ev);
    free(ms);
    return med * 1e3;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o)) {
        usage(argv[0]);
        return 2;
    }
    int count = 0;
    struct cudaDeviceProp prop;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        printf("w4a16-demo: SKIPPED: no CUDA device (w4a16 needs an sm_90 GPU)\n");
        return 77;
    }
    CUDA(cudaGetDeviceProperties(&prop, 0));
    w4a16_handle h;
    const w4a16_status cst = w4a16_create(&h, 0);
    if (cst == W4A16_ERROR_UNSUPPORTED_DEVICE) {
        printf("w4a16-demo: SKIPPED: %s\n", w4a16_last_error());
        return 77;
    }
    W4(cst);
    w4a16_device_info info;
    W4(w4a16_get_device_info(h, &info));

    w4a16_problem p;
    W4(w4a16_problem_init(&p, o.m, o.n, o.k, o.dtype, o.group, o.zeros));
    p.config = o.config;
    const w4a16_status pst = w4a16_check_problem(&p);
    if (pst != W4A16_SUCCESS) {
        fprintf(stderr, "w4a16-demo: %s\n", w4a16_last_error());
        return 2;
    }
    int chosen = -1;
    W4(w4a16_select_config(h, &p, &chosen));
    const char *zname[] = {"none", "int", "float"};
    printf("w4a16-demo: M=%lld N=%lld K=%lld %s group=%lld zeros=%s on %s (%d SMs, L2 %d MB), config %s\n", o.m, o.n,
           o.k, o.dtype == W4A16_DTYPE_BF16 ? "bf16" : "fp16", o.group, zname[o.zeros], prop.name, info.sm_count,
           info.l2_bytes >> 20, w4a16_config_name(chosen));

    /* 1. A random fp32 weight, quantized and packed on the GPU. */
    const int64_t N = o.n, K = o.k, M = o.m, G = K / o.group;
    const size_t esz = 2, q_bytes = (size_t)(N * K / 2), s_bytes = (size_t)(G * N) * esz,
                 z_bytes = o.zeros == W4A16_ZEROS_INT ? (size_t)(G * N) : o.zeros == W4A16_ZEROS_FLOAT ? s_bytes : 0;
    size_t packed_bytes = 0;
    W4(w4a16_packed_size(N, K, &packed_bytes));
    ref_rng rng = {0xdeadbeefcafeULL};
    float *w_host = malloc(sizeof(float) * (size_t)(N * K));
    if (!w_host) {
        fprintf(stderr, "w4a16-demo: out of host memory\n");
        return 1;
    }
    ref_fill_uniform(&rng, W4A16_DTYPE_FP32, w_host, N * K, -1.0f, 1.0f);
    void *d_w, *d_q;
    CUDA(cudaMalloc(&d_w, sizeof(float) * (size_t)(N * K)));
    CUDA(cudaMalloc(&d_q, q_bytes));
    CUDA(cudaMemcpy(d_w, w_host, sizeof(float) * (size_t)(N * K), cudaMemcpyHostToDevice));
    free(w_host);

    /* Weight copies for rotation: together >= 2x L2, at least 2. */
    const size_t per_copy = packed_bytes + s_bytes + z_bytes, wdq_bytes = (size_t)(N * K) * esz;
    int copies = (int)((2.0 * info.l2_bytes + per_copy - 1) / per_copy);
    int wdq_copies = (int)((2.0 * info.l2_bytes + wdq_bytes - 1) / wdq_bytes);
    if (copies < 2) copies = 2;
    if (wdq_copies < 2) wdq_copies = 2;
    void **packed = calloc((size_t)copies, sizeof(void *)), **scales = calloc((size_t)copies, sizeof(void *));
    void **zeros = z_bytes ? calloc((size_t)copies, sizeof(void *)) : NULL;
    void **wdq = calloc((size_t)wdq_copies, sizeof(void *));
    if (!packed || !scales || (z_bytes && !zeros) || !wdq) return 1;
    for (int c = 0; c < copies; c++) {
        CUDA(cudaMalloc(&packed[c], packed_bytes));
        CUDA(cudaMalloc(&scales[c], s_bytes));
        if (zeros) CUDA(cudaMalloc(&zeros[c], z_bytes));
    }
    for (int c = 0; c < wdq_copies; c++) CUDA(cudaMalloc(&wdq[c], wdq_bytes));
    W4(w4a16_quantize(h, W4A16_DTYPE_FP32, d_w, N, K, o.group, o.zeros, o.dtype, d_q, scales[0],
                      zeros ? zeros[0] : NULL, NULL));
    W4(w4a16_pack(h, d_q, N, K, packed[0], packed_bytes, NULL));
    W4(w4a16_dequantize(h, d_q, N, K, o.group, o.zeros, o.dtype, scales[0], zeros ? zeros[0] : NULL, o.dtype, wdq[0],
                        NULL));
    for (int c = 1; c < copies; c++) {
        CUDA(cudaMemcpy(packed[c], packed[0], packed_bytes, cudaMemcpyDeviceToDevice));
        CUDA(cudaMemcpy(scales[c], scales[0], s_bytes, cudaMemcpyDeviceToDevice));
        if (zeros) CUDA(cudaMemcpy(zeros[c], zeros[0], z_bytes, cudaMemcpyDeviceToDevice));
    }
    for (int c = 1; c < wdq_copies; c++) CUDA(cudaMemcpy(wdq[c], wdq[0], wdq_bytes, cudaMemcpyDeviceToDevice));
    CUDA(cudaFree(d_w));

    /* 2. Activations and the output. */
    uint16_t *a_host = malloc(esz * (size_t)(M * K) + 2);
    if (!a_host) return 1;
    ref_fill_uniform(&rng, o.dtype, a_host, M * K, -1.0f, 1.0f);
    void *d_a, *d_d, *d_ws = NULL;
    CUDA(cudaMalloc(&d_a, esz * (size_t)(M * K) + 16));
    CUDA(cudaMalloc(&d_d, esz * (size_t)(M * N) + 16));
    CUDA(cudaMemcpy(d_a, a_host, esz * (size_t)(M * K), cudaMemcpyHostToDevice));
    size_t ws_bytes = 0;
    W4(w4a16_workspace_size(h, &p, &ws_bytes));
    if (ws_bytes) {
        CUDA(cudaMalloc(&d_ws, ws_bytes));
        W4(w4a16_workspace_init(h, d_ws, ws_bytes, NULL));
    }

    /* 3. One checked call. */
    CUDA(cudaMemset(d_d, 0xff, esz * (size_t)(M * N))); /* NaN: stale output never passes */
    W4(w4a16_gemm(h, &p, d_a, packed[0], scales[0], zeros ? zeros[0] : NULL, NULL, d_d, d_ws, ws_bytes, NULL));
    CUDA(cudaDeviceSynchronize());
    uint16_t *d_host = malloc(esz * (size_t)(M * N) + 2);
    double *ref = malloc(sizeof(double) * (size_t)(M * N) + 8);
    if (!d_host || !ref) return 1;
    CUDA(cudaMemcpy(d_host, d_d, esz * (size_t)(M * N), cudaMemcpyDeviceToHost));
    if (ref_gemm_gpu(h, &p, d_a, d_q, scales[0], zeros ? zeros[0] : NULL, NULL, ref)) return 1;
    double worst = 0.0, max_err = 0.0, max_ref = 0.0;
    const int64_t bad = ref_check("w4a16-demo", o.dtype, d_host, M, N, N, ref, &worst);
    for (int64_t i = 0; i < M * N; i++) {
        const double got = ref_bits_to_double(o.dtype, d_host[i]);
        const double e = fabs(got - ref[i]);
        if (e > max_err || e != e) max_err = e;
        if (ref[i] > max_ref) max_ref = ref[i];
        if (-ref[i] > max_ref) max_ref = -ref[i];
    }
    printf("check against cuBLAS on the dequantized weight: max |err| %.3g (max |ref| %.3g), worst err/tol %.3f: %s\n",
           max_err, max_ref, worst, bad ? "FAIL" : "PASS");

    /* 4. Timing. */
    cublasHandle_t cb;
    if (cublasCreate(&cb) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "w4a16-demo: cublasCreate failed\n");
        return 1;
    }
    cudaStream_t s;
    CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    cublasSetStream(cb, s);
    bench_ctx ctx = {h, &p, cb, d_a, d_d, d_ws, ws_bytes, NULL, packed, scales, zeros, wdq, copies, s};
    const double t_w4 = time_median_us(&ctx, 0, o.iters);
    ctx.copies = wdq_copies;
    const double t_cb = time_median_us(&ctx, 1, o.iters);
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    /* effective bytes as TARGETS.md counts them */
    const double bytes_w4 = (double)N * K / 2 + 2.0 * G * N + (o.zeros == W4A16_ZEROS_INT ? G * N / 2.0 : 0) +
                            (o.zeros == W4A16_ZEROS_FLOAT ? 2.0 * G * N : 0) + 2.0 * M * K + 2.0 * M * N;
    const double bytes_cb = 2.0 * N * K + 2.0 * M * K + 2.0 * M * N;
    printf("w4a16_gemm  %-28s %9.2f us  %7.1f GB/s  %7.1f TFLOP/s  (median of %d, %d weight copies, %.0f MB)\n",
           w4a16_config_name(chosen), t_w4, bytes_w4 / t_w4 * 1e-3, flops / t_w4 * 1e-6, o.iters, copies,
           (double)copies * per_copy / 1e6);
    printf("cuBLAS %s %-28s %9.2f us  %7.1f GB/s  %7.1f TFLOP/s  (median of %d, %d weight copies, %.0f MB)\n",
           o.dtype == W4A16_DTYPE_BF16 ? "bf16" : "fp16", "(dequantized weight)", t_cb, bytes_cb / t_cb * 1e-3,
           flops / t_cb * 1e-6, o.iters, wdq_copies, (double)wdq_copies * wdq_bytes / 1e6);
    printf("w4a16 speed-up over cuBLAS: %.2fx\n", t_cb / t_w4);

    /* The workspace contract: every call leaves it zeroed. */
    int ws_ok = 1;
    if (ws_bytes) {
        uint8_t *w = malloc(ws_bytes);
        if (!w) return 1;
        CUDA(cudaMemcpy(w, d_ws, ws_bytes, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < ws_bytes; i++) ws_ok &= w[i] == 0;
        free(w);
        if (!ws_ok) printf("FAIL: the workspace was not left zeroed\n");
    }

    cublasDestroy(cb);
    CUDA(cudaStreamDestroy(s));
    for (int c = 0; c < copies; c++) {
        cudaFree(packed[c]);
        cudaFree(scales[c]);
        if (zeros) cudaFree(zeros[c]);
    }
    for (int c = 0; c < wdq_copies; c++) cudaFree(wdq[c]);
    free(packed);
    free(scales);
    free(zeros);
    free(wdq);
    cudaFree(d_q);
    cudaFree(d_a);
    cudaFree(d_d);
    cudaFree(d_ws);
    free(a_host);
    free(d_host);
    free(ref);
    w4a16_destroy(h);
    return bad || !ws_ok ? 1 : 0;
}

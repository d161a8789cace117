/*
 * quick_check.cu - the kernel developer's loop on the H100: every configuration (and the
 * heuristic) on a handful of small problems against the CPU reference, then a few timed
 * shapes against cuBLAS fp16 with rotated weights. Not a test (tests/ has those) and not the
 * benchmark (bench/): a fast sanity pass to run after each kernel change.
 *   quick_check [--no-time] [--time-only]
 *   quick_check --time CONFIG M N K [fp16|bf16 none|int|float]   (one timed case, for ncu)
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vector>
#include <algorithm>

#include "ref.h"
#include "w4a16.h"

#include "dev_check.h"

static w4a16_handle H;

/* One correctness case; returns the number of bad elements. */
static int64_t check_case(int64_t M, int64_t N, int64_t K, int64_t g, w4a16_dtype dt, w4a16_zero_mode zm, int config,
                          int with_bias, float alpha, int stride, uint64_t seed)
{
    ref_rng r = {seed * 2654435761ULL + 17};
    const int64_t G = K / g, lda = K + (stride ? 8 : 0), ldd = N + (stride ? 8 : 0);
    std::vector<float> w(N * K);
    for (auto &x : w) x = ref_rand_uniform(&r, -1.0f, 1.0f);
    std::vector<uint8_t> q(N * K / 2), zi(G * N);
    std::vector<uint16_t> sc(G * N), zf(G * N), a(M * lda), bias(N), d(M * ldd);
    void *zeros_h = zm == W4A16_ZEROS_INT ? (void *)zi.data() : zm == W4A16_ZEROS_FLOAT ? (void *)zf.data() : NULL;
    CW(w4a16_quantize_host(W4A16_DTYPE_FP32, w.data(), N, K, g, zm, dt, q.data(), sc.data(), zeros_h));
    ref_fill_uniform(&r, dt, a.data(), M * lda, -1.0f, 1.0f);
    ref_fill_uniform(&r, dt, bias.data(), N, -1.0f, 1.0f);
    size_t pbytes;
    CW(w4a16_packed_size(N, K, &pbytes));
    std::vector<uint8_t> packed(pbytes);
    CW(w4a16_pack_host(q.data(), N, K, packed.data(), pbytes));
    w4a16_problem p;
    CW(w4a16_problem_init(&p, M, N, K, dt, g, zm));
    p.lda = lda;
    p.ldd = ldd;
    p.alpha = alpha;
    p.config = config;
    int chosen = -1;
    if (w4a16_select_config(H, &p, &chosen) != W4A16_SUCCESS) return 0; /* not runnable: skip */
    std::vector<double> ref(M * N);
    ref_gemm_cpu(&p, a.data(), q.data(), sc.data(), zeros_h, with_bias ? bias.data() : NULL, ref.data());
    void *da, *dw, *ds, *dz = NULL, *db, *dd, *ws = NULL;
    size_t wsb;
    CW(w4a16_workspace_size(H, &p, &wsb));
    CK(cudaMalloc(&da, a.size() * 2));
    CK(cudaMalloc(&dw, pbytes));
    CK(cudaMalloc(&ds, sc.size() * 2));
    CK(cudaMalloc(&dz, G * N * 2));
    CK(cudaMalloc(&db, N * 2));
    CK(cudaMalloc(&dd, d.size() * 2));
    if (wsb) {
        CK(cudaMalloc(&ws, wsb));
        CK(cudaMemset(ws, 0, wsb));
    }
    CK(cudaMemcpy(da, a.data(), a.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dw, packed.data(), pbytes, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(ds, sc.data(), sc.size() * 2, cudaMemcpyHostToDevice));
    if (zm == W4A16_ZEROS_INT) CK(cudaMemcpy(dz, zi.data(), zi.size(), cudaMemcpyHostToDevice));
    if (zm == W4A16_ZEROS_FLOAT) CK(cudaMemcpy(dz, zf.data(), zf.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, bias.data(), N * 2, cudaMemcpyHostToDevice));
    CK(cudaMemset(dd, 0xff, d.size() * 2)); /* poison: NaN */
    int64_t bad = 0;
    if (getenv("QC_VERBOSE"))
        fprintf(stderr, "case %s M=%lld N=%lld K=%lld g=%lld dt=%d z=%d bias=%d alpha=%g stride=%d\n",
                w4a16_config_name(chosen), (long long)M, (long long)N, (long long)K, (long long)g, (int)dt, (int)zm,
                with_bias, alpha, stride);
    for (int rep = 0; rep < 2; rep++) { /* twice: the workspace must come back zeroed */
        CW(w4a16_gemm(H, &p, da, dw, ds, zm == W4A16_ZEROS_NONE ? NULL : dz, with_bias ? db : NULL, dd, ws, wsb, 0));
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(d.data(), dd, d.size() * 2, cudaMemcpyDeviceToHost));
        char label[160];
        snprintf(label, sizeof label, "%s M=%lld N=%lld K=%lld g=%lld %s z=%d bias=%d a=%.2f s=%d rep=%d",
                 w4a16_config_name(chosen), (long long)M, (long long)N, (long long)K, (long long)g,
                 dt == W4A16_DTYPE_FP16 ? "fp16" : "bf16", (int)zm, with_bias, alpha, stride, rep);
        double worst;
        bad += ref_check(label, dt, d.data(), M, N, ldd, ref.data(), &worst);
        for (int64_t m = 0; m < M && stride; m++)
            for (int64_t n = N; n < ldd; n++)
                if (d[m * ldd + n] != 0xffff) {
                    if (bad < 5) fprintf(stderr, "  %s: wrote padding at m=%lld n=%lld\n", label, (long long)m, (long long)n);
                    bad++;
                }
    }
    cudaFree(da); cudaFree(dw); cudaFree(ds); cudaFree(dz); cudaFree(db); cudaFree(dd); cudaFree(ws);
    return bad;
}

static float median(std::vector<float> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

/* Times our GEMM (heuristic or forced config) and cuBLAS fp16 on rotated buffers. */
static void time_case(int64_t M, int64_t N, int64_t K, w4a16_dtype dt, w4a16_zero_mode zm, int config)
{
    const int64_t g = 128, G = K / g;
    size_t pbytes;
    CW(w4a16_packed_size(N, K, &pbytes));
    w4a16_device_info info;
    CW(w4a16_get_device_info(H, &info));
    const size_t per_set = pbytes + G * N * 4 + N * K * 2;
    int sets = (int)((2.0 * info.l2_bytes) / per_set) + 2;
    if (sets > 64) sets = 64;
    std::vector<void *> wp(sets), sc(sets), zz(sets), wdq(sets);
    ref_rng r = {12345};
    std::vector<float> wf(N * K);
    for (auto &x : wf) x = ref_rand_uniform(&r, -1, 1);
    std::vector<uint8_t> q(N * K / 2), zi(G * N);
    std::vector<uint16_t> s(G * N), zf(G * N);
    void *zh = zm == W4A16_ZEROS_INT ? (void *)zi.data() : zm == W4A16_ZEROS_FLOAT ? (void *)zf.data() : NULL;
    CW(w4a16_quantize_host(W4A16_DTYPE_FP32, wf.data(), N, K, g, zm, dt, q.data(), s.data(), zh));
    uint8_t *dq;
    CK(cudaMalloc(&dq, q.size()));
    CK(cudaMemcpy(dq, q.data(), q.size(), cudaMemcpyHostToDevice));
    for (int i = 0; i < sets; i++) {
        CK(cudaMalloc(&wp[i], pbytes));
        CK(cudaMalloc(&sc[i], G * N * 2));
        CK(cudaMalloc(&zz[i], G * N * 2));
        CK(cudaMalloc(&wdq[i], N * K * 2));
        CW(w4a16_pack(H, dq, N, K, wp[i], pbytes, 0));
        CK(cudaMemcpy(sc[i], s.data(), G * N * 2, cudaMemcpyHostToDevice));
        if (zm == W4A16_ZEROS_INT) CK(cudaMemcpy(zz[i], zi.data(), G * N, cudaMemcpyHostToDevice));
        if (zm == W4A16_ZEROS_FLOAT) CK(cudaMemcpy(zz[i], zf.data(), G * N * 2, cudaMemcpyHostToDevice));
        CW(w4a16_dequantize(H, dq, N, K, g, zm, dt, sc[i], zm == W4A16_ZEROS_NONE ? NULL : zz[i], dt, wdq[i], 0));
    }
    void *a, *d, *ws = NULL;
    CK(cudaMalloc(&a, M * K * 2));
    CK(cudaMalloc(&d, M * N * 2));
    std::vector<uint16_t> ah(M * K);
    ref_fill_uniform(&r, dt, ah.data(), M * K, -1, 1);
    CK(cudaMemcpy(a, ah.data(), M * K * 2, cudaMemcpyHostToDevice));
    w4a16_problem p;
    CW(w4a16_problem_init(&p, M, N, K, dt, g, zm));
    p.config = config;
    size_t wsb;
    CW(w4a16_workspace_size(H, &p, &wsb));
    if (wsb) { CK(cudaMalloc(&ws, wsb)); CK(cudaMemset(ws, 0, wsb)); }
    int chosen;
    CW(w4a16_select_config(H, &p, &chosen));
    cublasHandle_t cb;
    cublasCreate(&cb);
    const float one = 1, zero = 0;
    const cudaDataType_t T = dt == W4A16_DTYPE_FP16 ? CUDA_R_16F : CUDA_R_16BF;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<float> t_ours, t_cb;
    const int iters = 40;
    for (int it = -5; it < iters; it++) {
        const int i = (it + 5) % sets;
        float ms;
        CK(cudaEventRecord(e0));
        CW(w4a16_gemm(H, &p, a, wp[i], sc[i], zm == W4A16_ZEROS_NONE ? NULL : zz[i], NULL, d, ws, wsb, 0));
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (it >= 0) t_ours.push_back(ms * 1000);
        CK(cudaEventRecord(e0));
        if (cublasGemmEx(cb, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &one, wdq[i], T, (int)K, a, T, (int)K,
                         &zero, d, T, (int)N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) {
            fprintf(stderr, "cublas failed\n");
            exit(1);
        }
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (it >= 0) t_cb.push_back(ms * 1000);
    }
    {
        /* host cost of one call (validation, tensor maps, launch), no GPU wait */
        CK(cudaDeviceSynchronize());
        cudaEvent_t h0, h1;
        CK(cudaEventCreate(&h0));
        CK(cudaEventCreate(&h1));
        struct timespec a0, a1;
        clock_gettime(CLOCK_MONOTONIC, &a0);
        for (int k2 = 0; k2 < 20; k2++)
            CW(w4a16_gemm(H, &p, a, wp[k2 % sets], sc[k2 % sets], zm == W4A16_ZEROS_NONE ? NULL : zz[k2 % sets], NULL, d, ws, wsb, 0));
        clock_gettime(CLOCK_MONOTONIC, &a1);
        CK(cudaDeviceSynchronize());
        if (getenv("QC_VERBOSE"))
            printf("host time per call: %.1f us\n", ((a1.tv_sec - a0.tv_sec) * 1e9 + (a1.tv_nsec - a0.tv_nsec)) / 20e3);
        cudaEventDestroy(h0);
        cudaEventDestroy(h1);
    }
    const double bytes = N * K / 2.0 + 2.0 * G * N + (zm == W4A16_ZEROS_INT ? G * N / 2.0 : zm == W4A16_ZEROS_FLOAT ? 2.0 * G * N : 0) + 2.0 * M * K + 2.0 * M * N;
    const float to = median(t_ours), tc = median(t_cb);
    printf("%-20s %s z=%d M=%5lld N=%5lld K=%5lld  ours %8.1f us %6.0f GB/s %6.1f TF | cublas %8.1f us | x%.2f\n",
           w4a16_config_name(chosen), dt == W4A16_DTYPE_FP16 ? "fp16" : "bf16", (int)zm, (long long)M, (long long)N,
           (long long)K, to, bytes / to * 1e-3, 2.0 * M * N * K / to * 1e-6, tc, tc / to);
    cublasDestroy(cb);
    for (int i = 0; i < sets; i++) { cudaFree(wp[i]); cudaFree(sc[i]); cudaFree(zz[i]); cudaFree(wdq[i]); }
    cudaFree(dq); cudaFree(a); cudaFree(d); cudaFree(ws);
    CK(cudaGetLastError());
}

/* A configuration argument: an index, or a name such as sm90_t128_p2_k128_s5. */
static int config_arg(const char *arg)
{
    for (int c = 0; c < w4a16_config_count(); c++)
        if (!strcmp(arg, w4a16_config_name(c))) return c;
    return atoi(arg);
}

/* "fp16|bf16" and "none|int|float" into dt and zm; 0 when both are words of those lists. */
static int mode_args(const char *d, const char *z, w4a16_dtype *dt, w4a16_zero_mode *zm)
{
    static const char *const zeros[] = {"none", "int", "float"};
    static const w4a16_zero_mode zmodes[] = {W4A16_ZEROS_NONE, W4A16_ZEROS_INT, W4A16_ZEROS_FLOAT};
    if (strcmp(d, "fp16") && strcmp(d, "bf16")) return -1;
    *dt = strcmp(d, "bf16") ? W4A16_DTYPE_FP16 : W4A16_DTYPE_BF16;
    for (int i = 0; i < 3; i++)
        if (!strcmp(z, zeros[i])) {
            *zm = zmodes[i];
            return 0;
        }
    return -1;
}

int main(int argc, char **argv)
{
    int do_check = 1, do_time = 1;
    if (argc == 6 && !strcmp(argv[1], "--one")) { /* --one CONFIG M N K: one fp16 symmetric case */
        CW(w4a16_create(&H, 0));
        const int64_t bad = check_case(atoll(argv[3]), atoll(argv[4]), atoll(argv[5]), 128, W4A16_DTYPE_FP16,
                                       W4A16_ZEROS_NONE, config_arg(argv[2]), 0, 1.0f, 0, 1);
        printf("one case: %lld bad\n", (long long)bad);
        return bad != 0;
    }
    if ((argc == 6 || argc == 8) && !strcmp(argv[1], "--time")) {
        /* --time CONFIG M N K [fp16|bf16 none|int|float]: one timed case (for ncu), fp16 without
         * zeros unless told */
        w4a16_dtype dt = W4A16_DTYPE_FP16;
        w4a16_zero_mode zm = W4A16_ZEROS_NONE;
        if (argc == 8 && mode_args(argv[6], argv[7], &dt, &zm)) {
            fprintf(stderr, "quick_check --time: dtype fp16|bf16 and zeros none|int|float, not '%s %s'\n", argv[6],
                    argv[7]);
            return 2;
        }
        CW(w4a16_create(&H, 0));
        time_case(atoll(argv[3]), atoll(argv[4]), atoll(argv[5]), dt, zm, config_arg(argv[2]));
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-time")) do_time = 0;
        if (!strcmp(argv[i], "--time-only")) do_check = 0;
    }
    CW(w4a16_create(&H, 0));
    if (do_check) {
        int64_t bad = 0, cases = 0;
        const int64_t Ms[] = {1, 5, 16, 33, 64, 100, 128, 257};
        const struct { int64_t n, k, g; } S[] = {{256, 512, 128}, {200, 384, 64}, {136, 72, 72}, {264, 640, 128}};
        for (int c = -1; c < w4a16_config_count(); c++)
            for (int dt = 0; dt < 2; dt++)
                for (int zm = 0; zm < 3; zm++)
                    for (size_t si = 0; si < sizeof S / sizeof S[0]; si++)
                        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
                            if (c == 0 && Ms[mi] > 64) continue; /* the SIMT reference is slow-ish */
                            const int variant = (int)(mi + si + zm) % 4;
                            bad += check_case(Ms[mi], S[si].n, S[si].k, S[si].g, (w4a16_dtype)dt, (w4a16_zero_mode)zm, c,
                                              variant & 1, variant & 2 ? 0.5f : 1.0f, (int)(mi % 2), 1000 * c + mi * 7 + si);
                            cases++;
                        }
        /* split-K over many k iterations, a big-M case, and 133 tiles of 192 rows (t16_w3_k256 under
         * stream-K takes one whole tile per CTA first, then the 133rd tile split over 8 CTAs:
         * stream_range) */
        for (int c = 1; c < w4a16_config_count(); c++) {
            bad += check_case(3, 128, 4096, 128, W4A16_DTYPE_FP16, W4A16_ZEROS_INT, c, 1, 1.0f, 0, 99 + c);
            bad += check_case(600, 384, 1024, 64, W4A16_DTYPE_BF16, W4A16_ZEROS_FLOAT, c, 1, 0.5f, 1, 77 + c);
            bad += check_case(5, 25536, 2048, 128, W4A16_DTYPE_FP16, W4A16_ZEROS_INT, c, 1, 1.0f, 0, 55 + c);
            cases += 3;
        }
        printf("quick_check: %lld cases, %lld bad elements -> %s\n", (long long)cases, (long long)bad, bad ? "FAIL" : "PASS");
        if (bad) return 1;
    }
    if (do_time) {
        const int64_t Ms[] = {1, 16, 64, 256, 1024, 4096};
        for (int dt = 0; dt < 2; dt++)
            for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++) time_case(Ms[i], 8192, 8192, (w4a16_dtype)dt, W4A16_ZEROS_NONE, -1);
        for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++) time_case(Ms[i], 28672, 8192, W4A16_DTYPE_FP16, W4A16_ZEROS_INT, -1);
        for (int c = 1; c < w4a16_config_count(); c++) {
            time_case(16, 8192, 8192, W4A16_DTYPE_FP16, W4A16_ZEROS_NONE, c);
            time_case(1024, 8192, 8192, W4A16_DTYPE_FP16, W4A16_ZEROS_NONE, c);
            time_case(4096, 8192, 8192, W4A16_DTYPE_FP16, W4A16_ZEROS_NONE, c);
        }
    }
    w4a16_destroy(H);
    return 0;
}

/*
 * pipe_probe.cu - how fast is the memory pipeline alone? Times, on rotated weights (>= 2x L2),
 * back-to-back launches of: every compiled configuration (through w4a16_gemm, forced), the
 * "memory only" variant of a few tiles (same producer and ring, consumers only wait and
 * release: sm90_gemm.cuh VARIANT 1), and cuBLAS fp16 on the dequantized weights.
 *   pipe_probe M N K       (fp16, group 128, no zeros; PIPE_PROBE_QUICK=1: see below)
 *   PIPE_PROBE_SUSTAIN=S pipe_probe M N K: instead, the heuristic's kernel and cuBLAS each
 *   back to back for S seconds (for an nvidia-smi power log: scripts/gpu-power.sh).
 *   PIPE_PROBE_ONLY=a,b pipe_probe M N K: only the rows whose name contains a or b, and cuBLAS.
 *   PIPE_PROBE_STAMPS=1 pipe_probe M N K: instead, where the time of one launch goes, from the
 *   time stamps of the kernel's VARIANT 9 (entry, first data, main loop, split-K, epilogue, exit;
 *   per CTA, as min / median / max over the CTAs) for the tiles the probe compares; with
 *   PIPE_PROBE_PER_SM=1 also whether a CTA's main-loop time follows its SM over five launches.
 *   Activations uniform in [-1, 1) as the benchmark's; PIPE_PROBE_ADIST / PIPE_PROBE_WDIST choose
 *   others for energy experiments (see main); PIPE_PROBE_UNSIGNED=1: the positive ones
 *   used before session 17 (see main).
 * Prints per-launch mean time (batches of 20 launches, best of 5 batches), effective GB/s as
 * TARGETS.md counts bytes and, for every variant that computes D, max |D - cuBLAS| / max |cuBLAS|
 * of its last launch ("BAD" above 2e-2 or for a NaN). A developer's probe, not the benchmark.
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <algorithm>
#include <functional>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "internal.h"
#include "packed_layout.h"
#include "kernels/sm90_launch.cuh"
#include "probe_kernels.h"

/* the kernel variants below are compiled in probe_kernels_*.cu */
PROBE_KERNELS_1(PROBE_EXTERN)
PROBE_KERNELS_2(PROBE_EXTERN)
PROBE_KERNELS_3(PROBE_EXTERN)

#include "dev_check.h"

struct Set {
    void *w, *s, *wdq;
};

/* PIPE_PROBE_QUICK=1: one weight set and one launch per measurement, for compute-sanitizer
 * runs of the variants (the timings then mean nothing). */
static const bool quick = getenv("PIPE_PROBE_QUICK") != nullptr;
/* PIPE_PROBE_ONLY=a,b,...: only the rows whose name contains one of the texts (and cuBLAS) */
static const char *only = getenv("PIPE_PROBE_ONLY");
static bool skipped(const char *name)
{
    if (!only) return false;
    for (const char *t = only; *t;) {
        const char *e = strchr(t, ',');
        const size_t n = e ? (size_t)(e - t) : strlen(t);
        for (const char *q = name; n && *q; q++)
            if (!strncmp(q, t, n)) return false;
        if (!e) break;
        t = e + 1;
    }
    return true;
}

template <typename F> static float time_batches(F launch, int nsets)
{
    if (quick) {
        launch(0);
        CK(cudaDeviceSynchronize());
        return 0.0f;
    }
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int i = 0; i < 3; i++) launch(i % nsets);
    float best = 1e30f;
    for (int b = 0; b < 5; b++) {
        CK(cudaEventRecord(e0));
        for (int i = 0; i < 20; i++) launch((b * 20 + i) % nsets);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (ms < best) best = ms;
    }
    CK(cudaGetLastError());
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return best * 1000.0f / 20.0f;
}

/* PIPE_PROBE_PER_SM: is a CTA's main-loop time (first data to WG0 loop done) a property of its SM?
 * Five more stamped launches of `launch`; per launch, each SM's time (VARIANT 9 stamps %smid); the
 * correlation of the per-SM times between consecutive launches. st: the host copy of the stamps. */
static void per_sm_repeatability(const std::function<void(int)> &launch, int nsets, std::vector<unsigned long long> &st)
{
    const size_t cap = st.size();
    const int R = 5, S = 256;
    std::vector<std::vector<double>> per(R, std::vector<double>(S, -1.0));
    for (int r = 0; r < R; r++) {
        CK(cudaMemset(sm90::dev_stamps(), 0, cap * 8));
        launch((20 + r) % nsets);
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(st.data(), sm90::dev_stamps(), cap * 8, cudaMemcpyDeviceToHost));
        for (size_t c = 0; c < cap / sm90::STAMP_SLOTS; c++) {
            const unsigned long long *x = &st[c * sm90::STAMP_SLOTS];
            if (!x[0] || !x[sm90::ST_FIRST_DATA] || !x[sm90::ST_LOOP_DONE] || !x[sm90::ST_SMID]) continue;
            const int sm = (int)x[sm90::ST_SMID] - 1;
            if (sm >= 0 && sm < S && per[r][sm] < 0)
                per[r][sm] = (x[sm90::ST_LOOP_DONE] - x[sm90::ST_FIRST_DATA]) * 1e-3;
        }
    }
    for (int r = 0; r + 1 < R; r++) {
        double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
        int n = 0;
        for (int sm = 0; sm < S; sm++)
            if (per[r][sm] >= 0 && per[r + 1][sm] >= 0) {
                const double a = per[r][sm], b = per[r + 1][sm];
                sa += a, sb += b, saa += a * a, sbb += b * b, sab += a * b, n++;
            }
        if (n < 2) {
            printf("  per-SM loop time, launch %d vs %d: fewer than two SMs in both\n", r, r + 1);
            continue;
        }
        const double cov = sab / n - sa / n * sb / n, va = saa / n - sa / n * sa / n,
                     vb = sbb / n - sb / n * sb / n;
        printf("  per-SM loop time, launch %d vs %d: %d SMs, correlation %.3f\n", r, r + 1, n,
               cov / sqrt(va * vb + 1e-30));
    }
    std::vector<std::pair<double, int>> mean;
    for (int sm = 0; sm < S; sm++) {
        double t = 0;
        int n = 0;
        for (int r = 0; r < R; r++)
            if (per[r][sm] >= 0) t += per[r][sm], n++;
        if (n == R) mean.push_back({t / R, sm});
    }
    std::sort(mean.begin(), mean.end());
    if (mean.empty()) return;
    printf("  per-SM mean loop time over %d launches: min %.2f (SM %d), median %.2f, max %.2f (SM %d); "
           "slowest SMs:",
           R, mean[0].first, mean[0].second, mean[mean.size() / 2].first, mean.back().first,
           mean.back().second);
    for (size_t i = mean.size() > 12 ? mean.size() - 12 : 0; i < mean.size(); i++)
        printf(" %d", mean[i].second);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: pipe_probe M N K\n");
        return 2;
    }
    const int64_t M = atoll(argv[1]), N = atoll(argv[2]), K = atoll(argv[3]), g = 128, G = K / g;
    w4a16_handle H;
    CW(w4a16_create(&H, 0));
    w4a16_device_info info;
    CW(w4a16_get_device_info(H, &info));
    size_t pbytes;
    CW(w4a16_packed_size(N, K, &pbytes));
    const size_t per_set = pbytes + G * N * 2 + N * K * 2;
    int nsets = (int)(2.0 * info.l2_bytes / (double)(pbytes + G * N * 2)) + 2;
    if (nsets > 48) nsets = 48;
    if (quick) nsets = 1;
    /* random nibbles and scales: every set holds the same values (the timing does not care) */
    std::vector<uint8_t> q(N * K / 2);
    std::vector<uint16_t> sc(G * N), a(M * K);
    uint64_t x = 88172645463325252ull;
    /* PIPE_PROBE_WDIST (energy experiments, with scripts/gpu-power.sh): u (default) uniform
     * nibbles, pos nibbles 8..15 (weights >= 0 without zeros), const every nibble 9 */
    const char *wdist = getenv("PIPE_PROBE_WDIST") ? getenv("PIPE_PROBE_WDIST") : "u";
    for (auto &b : q) {
        b = (uint8_t)((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 56);
        if (!strcmp(wdist, "pos")) b |= 0x88;
        else if (!strcmp(wdist, "const")) b = 0x99;
    }
    for (auto &v : sc) v = 0x2c00 | (uint16_t)((x = x * 6364136223846793005ull + 1) >> 60); /* ~0.06 */
    /* Activations as w4a16-bench's, uniform in [-1, 1). The data move the timings: with the
     * positive ones used before session 17 (PIPE_PROBE_UNSIGNED=1: [0.5, 1), random mantissas
     * only) t256 at M=256 ran 46.2 instead of 50.0 us on 8192^2 and 307.4 instead of 329.2 us on
     * 57344x8192, back to back, and its energy per GEMM at M=1024 on 8192^2, sustained at the
     * power cap (scripts/gpu-power.sh), was 125.0 instead of 134.1 mJ, while cuBLAS's hardly
     * moved (55.5 / 55.7 us; 132.3 / 133.0 mJ). H100, session 17. */
    /* PIPE_PROBE_ADIST (energy experiments): u (default) uniform in [-1, 1), pos [0.5, 1) (as
     * PIPE_PROBE_UNSIGNED=1), abs |u|, sgn +-[0.5, 1) (random signs and mantissas, one
     * exponent), const 0.75 everywhere */
    const char *adist = getenv("PIPE_PROBE_UNSIGNED")  ? "pos"
                        : getenv("PIPE_PROBE_ADIST") ? getenv("PIPE_PROBE_ADIST")
                                                     : "u";
    for (auto &v : a) {
        const uint64_t r = (x = x * 6364136223846793005ull + 1);
        if (!strcmp(adist, "pos") || !strcmp(adist, "sgn")) {
            v = 0x3800 | (uint16_t)(r >> 55 & 0x3ff);
            if (!strcmp(adist, "sgn") && (r >> 30 & 1)) v |= 0x8000;
        } else if (!strcmp(adist, "const")) {
            v = 0x3a00; /* 0.75 */
        } else {
            const float f = (float)(r >> 40) * (2.0f / 16777216.0f) - 1.0f;
            const __half h = __float2half(!strcmp(adist, "abs") ? fabsf(f) : f);
            memcpy(&v, &h, 2);
        }
    }
    if (strcmp(adist, "u") || strcmp(wdist, "u")) printf("data: activations %s, weights %s\n", adist, wdist);
    uint8_t *dq;
    CK(cudaMalloc(&dq, q.size()));
    CK(cudaMemcpy(dq, q.data(), q.size(), cudaMemcpyHostToDevice));
    std::vector<Set> sets(nsets);
    int ndq = (int)(2.0 * info.l2_bytes / (double)(N * K * 2)) + 2;
    if (ndq > nsets) ndq = nsets; /* the dequantized copies live in the first ndq sets */
    if (quick) ndq = 1;
    for (int i = 0; i < nsets; i++) {
        CK(cudaMalloc(&sets[i].w, pbytes));
        CK(cudaMalloc(&sets[i].s, G * N * 2));
        CW(w4a16_pack(H, dq, N, K, sets[i].w, pbytes, 0));
        CK(cudaMemcpy(sets[i].s, sc.data(), G * N * 2, cudaMemcpyHostToDevice));
        sets[i].wdq = nullptr;
        if (i < ndq) {
            CK(cudaMalloc(&sets[i].wdq, N * K * 2));
            CW(w4a16_dequantize(H, dq, N, K, g, W4A16_ZEROS_NONE, W4A16_DTYPE_FP16, sets[i].s, NULL,
                                W4A16_DTYPE_FP16, sets[i].wdq, 0));
        }
    }
    (void)per_set;
    void *da, *dd, *ws = nullptr;
    CK(cudaMalloc(&da, M * K * 2));
    CK(cudaMalloc(&dd, M * N * 2));
    CK(cudaMemcpy(da, a.data(), M * K * 2, cudaMemcpyHostToDevice));
    size_t wsmax = 1 << 20;
    CK(cudaMalloc(&ws, 64 << 20));
    CK(cudaMemset(ws, 0, 64 << 20));
    wsmax = 64 << 20;
    w4a16_problem p;
    CW(w4a16_problem_init(&p, M, N, K, W4A16_DTYPE_FP16, g, W4A16_ZEROS_NONE));
    const double bytes = N * K / 2.0 + 2.0 * G * N + 2.0 * M * K + 2.0 * M * N;
    /* The reference: cuBLAS on the dequantized weight (every set holds the same values, so the
     * last timed launch of any kernel must have produced it too). */
    cublasHandle_t cb;
    if (cublasCreate(&cb) != CUBLAS_STATUS_SUCCESS) return 1;
    const float one = 1, zero = 0;
    auto cublas_gemm = [&](const void *wdq, void *out) {
        if (cublasGemmEx(cb, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &one, wdq, CUDA_R_16F, (int)K, da,
                         CUDA_R_16F, (int)K, &zero, out, CUDA_R_16F, (int)N, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
            exit(1);
    };
    std::vector<__half> ref(M * N), got(M * N);
    cublas_gemm(sets[0].wdq, dd);
    CK(cudaMemcpy(ref.data(), dd, M * N * 2, cudaMemcpyDeviceToHost));
    double ref_max = 0.0;
    for (const __half &x : ref) ref_max = fmax(ref_max, fabs((double)__half2float(x)));
    /* max |D - ref| / max |ref| of the last launch, or -1 for a NaN */
    auto check_last = [&]() -> double {
        CK(cudaMemcpy(got.data(), dd, M * N * 2, cudaMemcpyDeviceToHost));
        double e = 0.0;
        for (int64_t i = 0; i < M * N; i++) {
            const double d = fabs((double)__half2float(got[i]) - (double)__half2float(ref[i]));
            if (d != d) return -1.0;
            e = fmax(e, d);
        }
        return e / (ref_max > 0 ? ref_max : 1.0);
    };
    /* err: < 0 prints nothing (a variant that computes nothing); 2e-2 of max |ref| flags BAD */
    auto report = [&](const char *name, float us, double err = -2.0) {
        printf("%-28s M=%5lld N=%5lld K=%5lld %9.2f us %7.0f GB/s %6.1f TFLOP/s", name, (long long)M, (long long)N,
               (long long)K, us, bytes / us * 1e-3, 2.0 * M * N * K / us * 1e-6);
        if (err == -1.0) printf("  NaN: BAD");
        else if (err >= 0.0) printf("  err %.1e%s", err, err > 2e-2 ? ": BAD" : "");
        printf("\n");
    };
    /* the arguments of a kernel variant launched directly (launch_typed): the packed data starts
     * after the 256-byte header */
    auto dev_args = [&](int i) {
        return w4a16_gemm_args{&p,      da, (const uint8_t *)sets[i].w + W4A16_PACK_HEADER_BYTES,
                               sets[i].s, nullptr, nullptr, dd, ws, wsmax, 0, &info};
    };
    if (const char *sus = getenv("PIPE_PROBE_SUSTAIN")) {
        /* each of the heuristic's kernel and cuBLAS alone, back to back for `sus` seconds after a
         * second of idling, with wall-clock marks to match an nvidia-smi power log against */
        const double secs = atof(sus);
        auto sustain = [&](const char *name, const std::function<void(int)> &launch, int sets_n) {
            CK(cudaDeviceSynchronize());
            usleep(1000000);
            auto now_s = [] {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                return ts.tv_sec + ts.tv_nsec * 1e-9;
            };
            const double t0 = now_s();
            long n = 0;
            while (now_s() - t0 < secs) {
                for (int i = 0; i < 50; i++, n++) launch((int)(n % sets_n));
                CK(cudaDeviceSynchronize());
            }
            const double t1 = now_s();
            printf("sustain %-24s M=%lld N=%lld K=%lld: %ld launches, %.2f us each, wall %.3f .. %.3f (epoch s)\n", name,
                   (long long)M, (long long)N, (long long)K, n, (t1 - t0) / n * 1e6, t0, t1);
        };
        sustain("w4a16 (heuristic)",
                [&](int i) { CW(w4a16_gemm(H, &p, da, sets[i].w, sets[i].s, NULL, NULL, dd, ws, wsmax, 0)); }, nsets);
        sustain("cublas fp16", [&](int i) { cublas_gemm(sets[i].wdq, dd); }, ndq);
        if (getenv("PIPE_PROBE_SUSTAIN_VARIANTS")) {
            /* where the power goes: the decode tile without dequantization, and its ring alone */
            auto variant = [&](const char *name, int (*fn)(const w4a16_gemm_args *, int, int)) {
                sustain(name,
                        [&](int i) {
                            w4a16_gemm_args ga = dev_args(i);
                            CK((cudaError_t)fn(&ga, -1, -1));
                        },
                        nsets);
            };
            if (M <= 8) variant("t8_w3_k256_s7", sm90::launch_typed<__half, 8, 256, 7, 3, 0>);
            if (M <= 16) {
                variant("t16_w3_k256 nodequant", sm90::launch_typed<__half, 16, 256, 6, 3, 7>);
                variant("t16_w3_k256 memonly", sm90::launch_typed<__half, 16, 256, 6, 3, 1>);
            } else if (M >= 256) {
                variant("t256 nodequant", sm90::launch_typed<__half, 256, 64, 6, 2, 7>);
                variant("t256 noloads", sm90::launch_typed<__half, 256, 64, 6, 2, 8>);
            }
        }
        return 0;
    }
    if (getenv("PIPE_PROBE_STAMPS")) {
        const size_t cap = (size_t)65536 * sm90::STAMP_SLOTS;
        CK(cudaMalloc(&sm90::dev_stamps(), cap * 8));
        std::vector<unsigned long long> st(cap);
        auto stamped = [&](const char *name, int (*fn)(const w4a16_gemm_args *, int, int), int force_csplit) {
            auto launch = [&](int i) {
                w4a16_gemm_args ga = dev_args(i);
                CK((cudaError_t)fn(&ga, -1, force_csplit));
            };
            for (int i = 0; i < 200; i++) launch(i % nsets); /* back to back, as the timings run */
            cudaEvent_t e0, e1;
            CK(cudaEventCreate(&e0));
            CK(cudaEventCreate(&e1));
            for (int i = 0; i < 3; i++) launch((10 + i) % nsets);
            /* only the timed launch stamps: a split tile's finisher differs between launches, and
             * earlier launches' stamps in the slots it leaves alone read as before the first entry */
            CK(cudaMemsetAsync(sm90::dev_stamps(), 0, cap * 8));
            CK(cudaEventRecord(e0));
            launch(13 % nsets);
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            CK(cudaMemcpy(st.data(), sm90::dev_stamps(), cap * 8, cudaMemcpyDeviceToHost));
            const char *what[sm90::STAMP_SLOTS] = {"entry", "first data", "WG0 loop done", "WG1 loop done",
                                                   "split: WG bar", "split: stored", "split: peers", "split: met",
                                                   "epi: WG bar", "epi: staged", "epilogue done", "exit", nullptr};
            unsigned long long t0 = ~0ull;
            int ctas = 0;
            for (size_t c = 0; c < cap / sm90::STAMP_SLOTS; c++)
                if (st[c * sm90::STAMP_SLOTS]) {
                    ctas++;
                    t0 = st[c * sm90::STAMP_SLOTS] < t0 ? st[c * sm90::STAMP_SLOTS] : t0;
                }
            printf("%s M=%lld N=%lld K=%lld: %.2f us (event pair, back to back), %d CTAs; us from the first "
                   "CTA's entry: min / median / max over CTAs | us since the previous point: median / max\n",
                   name, (long long)M, (long long)N, (long long)K, ms * 1e3, ctas);
            for (int sl = 0; sl < sm90::ST_SMID; sl++) {
                std::vector<double> at, dt;
                for (size_t c = 0; c < cap / sm90::STAMP_SLOTS; c++) {
                    const unsigned long long *r = &st[c * sm90::STAMP_SLOTS];
                    if (!r[0] || !r[sl]) continue;
                    at.push_back((r[sl] - t0) * 1e-3);
                    int pv = sl - 1; /* the previous point this CTA stamped */
                    while (pv > 0 && !r[pv]) pv--;
                    if (sl > 0) dt.push_back(((double)r[sl] - (double)r[pv]) * 1e-3);
                }
                if (at.empty()) continue;
                std::sort(at.begin(), at.end());
                std::sort(dt.begin(), dt.end());
                printf("  %-15s %4zu CTAs  at %8.2f %8.2f %8.2f", what[sl], at.size(), at[0], at[at.size() / 2],
                       at.back());
                if (!dt.empty()) printf("  | +%8.2f %8.2f", dt[dt.size() / 2], dt.back());
                printf("\n");
            }
            if (getenv("PIPE_PROBE_PER_SM")) per_sm_repeatability(launch, nsets, st);
        };
        if (M <= 8) stamped("stamps t8_w2_k256_s10", sm90::launch_typed<__half, 8, 256, 10, 2, 9>, -1);
        if (M <= 64) {
            stamped("stamps t16_w3_k256_s6", sm90::launch_typed<__half, 16, 256, 6, 3, 9>, -1);
            stamped("stamps t16_w3_k128_s10", sm90::launch_typed<__half, 16, 128, 10, 3, 9>, -1);
            stamped("stamps t64_w2_k128_s8", sm90::launch_typed<__half, 64, 128, 8, 2, 9>, -1);
        } else {
            stamped("stamps t256_w2_k64_s6", sm90::launch_typed<__half, 256, 64, 6, 2, 9>, -1);
            stamped("stamps t128_w2_k128_s5", sm90::launch_typed<__half, 128, 128, 5, 2, 9>, -1);
        }
        return 0;
    }
    int heur;
    CW(w4a16_select_config(H, &p, &heur));
    printf("heuristic: %s; %d weight sets, %d dequantized sets\n", w4a16_config_name(heur), nsets, ndq);
    for (int c = 1; c < w4a16_config_count(); c++) {
        if (skipped(w4a16_config_name(c))) continue;
        w4a16_problem pc = p;
        pc.config = c;
        size_t wsb;
        if (w4a16_workspace_size(H, &pc, &wsb) != W4A16_SUCCESS || wsb > wsmax) continue;
        const float us = time_batches(
            [&](int i) {
                CW(w4a16_gemm(H, &pc, da, sets[i].w, sets[i].s, NULL, NULL, dd, ws, wsb, 0));
            },
            nsets);
        report(w4a16_config_name(c), us, check_last());
    }
    /* kernel variants launched directly (dev_args) */
    auto direct = [&](const char *name, int (*fn)(const w4a16_gemm_args *, int, int), int force_stream = -1,
                      bool computes = true, int force_csplit = -1) {
        if (skipped(name)) return;
        const float us = time_batches(
            [&](int i) {
                w4a16_gemm_args ga = dev_args(i);
                CK((cudaError_t)fn(&ga, force_stream, force_csplit));
            },
            nsets);
        report(name, us, computes ? check_last() : -2.0);
    };
    auto dev_only = [&](const char *name, int (*fn)(const w4a16_gemm_args *, int, int)) {
        direct(name, fn, -1, false);
    };
    /* split-K partial sums through the workspace (gsplit) or a cluster's shared memory (csplit) */
    auto both_splits = [&](const char *tile, int (*fn)(const w4a16_gemm_args *, int, int), bool computes = true) {
        char name[96];
        snprintf(name, sizeof name, "%sgsplit %s", computes ? "" : "memonly ", tile);
        direct(name, fn, 0, computes, 0);
        snprintf(name, sizeof name, "%scsplit %s", computes ? "" : "memonly ", tile);
        direct(name, fn, 0, computes, 1);
    };
    if (M <= 64) {
        both_splits("t16_w3_k128_s10", sm90::launch_typed<__half, 16, 128, 10, 3, 0>);
        direct("stream t16_w3_k128_s10", sm90::launch_typed<__half, 16, 128, 10, 3, 0>, 1);
        both_splits("t64_w2_k128_s8", sm90::launch_typed<__half, 64, 128, 8, 2, 0>);
        direct("stream t64_w2_k128_s8", sm90::launch_typed<__half, 64, 128, 8, 2, 0>, 1);
        both_splits("t32_w2_k128_s10", sm90::launch_typed<__half, 32, 128, 10, 2, 0>);
        direct("multicast t64_w2_k128_s8", sm90::launch_typed<__half, 64, 128, 8, 2, 5>);
        direct("cluster2x1 t64_w2_k128_s8", sm90::launch_typed<__half, 64, 128, 8, 2, 6>);
        direct("memonly t64_w2_k128_s8", sm90::launch_typed<__half, 64, 128, 8, 2, 1>, -1, false);
    } else {
        both_splits("t256_w2_k64_s6", sm90::launch_typed<__half, 256, 64, 6, 2, 0>);
        direct("stream t256_w2_k64_s6", sm90::launch_typed<__half, 256, 64, 6, 2, 0>, 1);
        both_splits("t128_w2_k128_s5", sm90::launch_typed<__half, 128, 128, 5, 2, 0>);
        direct("stream t128_w2_k128_s5", sm90::launch_typed<__half, 128, 128, 5, 2, 0>, 1);
        both_splits("t64_w2_k128_s8", sm90::launch_typed<__half, 64, 128, 8, 2, 0>);
    }
    /* the consumer without dequantization (7) and also without weight/scale loads (8) */
    if (M <= 64) {
        dev_only("nodequant t16_w3_k256_s6", sm90::launch_typed<__half, 16, 256, 6, 3, 7>);
        dev_only("nodequant t16_w3_k128_s10", sm90::launch_typed<__half, 16, 128, 10, 3, 7>);
        dev_only("nodequant t64_w2_k128_s8", sm90::launch_typed<__half, 64, 128, 8, 2, 7>);
    } else {
        dev_only("nodequant t256_w2_k64_s6", sm90::launch_typed<__half, 256, 64, 6, 2, 7>);
        dev_only("noloads t256_w2_k64_s6", sm90::launch_typed<__half, 256, 64, 6, 2, 8>);
        dev_only("nodequant t128_w2_k128_s5", sm90::launch_typed<__half, 128, 128, 5, 2, 7>);
    }
    both_splits("t16_w3_k128_s10", sm90::launch_typed<__half, 16, 128, 10, 3, 1>, false);
    direct("memonly t16_w3_k128_s10 stream", sm90::launch_typed<__half, 16, 128, 10, 3, 1>, 1, false);
    dev_only("memonly-notail t16_w3_k128_s10", sm90::launch_typed<__half, 16, 128, 10, 3, 3>);
    dev_only("empty t16_w3_k128_s10", sm90::launch_typed<__half, 16, 128, 10, 3, 4>);
    if (M <= 8) {
        dev_only("memonly t8_w2_k256_s10", sm90::launch_typed<__half, 8, 256, 10, 2, 1>);
        dev_only("memonly-notail t8_w2_k256_s10", sm90::launch_typed<__half, 8, 256, 10, 2, 3>);
    }
    if (M <= 64) {
        dev_only("memonly t16_w3_k256_s6", sm90::launch_typed<__half, 16, 256, 6, 3, 1>);
        dev_only("memonly-notail t16_w3_k256_s6", sm90::launch_typed<__half, 16, 256, 6, 3, 3>);
        dev_only("memonly t64_w2_k256_s4", sm90::launch_typed<__half, 64, 256, 4, 2, 1>);
        dev_only("memonly-notail t64_w2_k256_s4", sm90::launch_typed<__half, 64, 256, 4, 2, 3>);
    }
    if (M >= 128) {
        both_splits("t256_w2_k64_s6", sm90::launch_typed<__half, 256, 64, 6, 2, 1>, false);
        dev_only("memonly-notail t256_w2_k64_s6", sm90::launch_typed<__half, 256, 64, 6, 2, 3>);
        dev_only("empty t256_w2_k64_s6", sm90::launch_typed<__half, 256, 64, 6, 2, 4>);
    }
    const float us = time_batches([&](int i) { cublas_gemm(sets[i % ndq].wdq, dd); }, ndq);
    report("cublas fp16", us);
    /* after the launches above: each kernel's smem attribute is set, as the query needs */
    printf("clusters resident at once: t16_w3 x2 %d x3 %d x4 %d, t64 x2 %d x3 %d, t256 x2 %d x3 %d\n",
           probe_clusters_t16(2), probe_clusters_t16(3), probe_clusters_t16(4), probe_clusters_t64(2),
           probe_clusters_t64(3), probe_clusters_t256(2), probe_clusters_t256(3));
    cublasDestroy(cb);
    return 0;
}

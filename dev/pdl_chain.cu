/*
 * pdl_chain.cu - what w4a16_problem::pdl saves where GEMMs follow each other, as the layers of a
 * decode step do: L GEMMs of one shape on L weight sets (together > 4x L2, so that none is served
 * from L2), launched back to back between one event pair, the activations of GEMM i + 1 being the
 * output of GEMM i where N = K. Per round, in turn: the chain with pdl = 0, with pdl = 1, and
 * cuBLAS (fp16 or bf16 weights, CUBLAS_GEMM_DEFAULT, as TARGETS.md's baseline) on the same
 * chain; prints the median over the rounds of each chain's time per GEMM, and the
 * same GEMM timed alone between its own event pair (as w4a16-bench times, without its L2
 * rotation: the chain's weight sets rotate instead).
 *   pdl_chain [M N K [bf16] [int] [rounds]]      default 1 8192 8192 fp16, zeros none, 30 rounds
 * A developer's probe (numbers for dev/NOTES.md and docs/PERFORMANCE.md).
 */
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "dev_check.h"

#define CB(x)                                                                       \
    do {                                                                            \
        cublasStatus_t s_ = (x);                                                    \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                          \
            fprintf(stderr, "%s:%d %s: cuBLAS status %d\n", __FILE__, __LINE__, #x, \
                    (int)s_);                                                       \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

static uint64_t rng = 0x5eed1234abcdULL;
static uint32_t next_u32()
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
/* uniform in [-1, 1) as fp16 or bf16 bits */
static uint16_t rand_act(bool bf16)
{
    const float f = (float)(next_u32() & 0xffffff) / 8388608.0f - 1.0f;
    if (bf16) {
        uint32_t u;
        memcpy(&u, &f, 4);
        return (uint16_t)(u >> 16);
    }
    return __half_as_ushort(__float2half(f));
}

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int main(int argc, char **argv)
{
    int64_t m = 1, n = 8192, k = 8192;
    bool bf16 = false, zint = false;
    int rounds = 30;
    if (argc >= 4) {
        m = atoll(argv[1]);
        n = atoll(argv[2]);
        k = atoll(argv[3]);
    }
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "bf16")) bf16 = true;
        else if (!strcmp(argv[i], "int")) zint = true;
        else rounds = atoi(argv[i]);
    }
    if (m < 1 || n < 8 || k < 128 || n % 8 || k % 128 || rounds < 1) {
        fprintf(stderr, "usage: pdl_chain [M N K [bf16] [int] [rounds]]\n");
        return 2;
    }
    const w4a16_dtype dt = bf16 ? W4A16_DTYPE_BF16 : W4A16_DTYPE_FP16;
    const w4a16_zero_mode zm = zint ? W4A16_ZEROS_INT : W4A16_ZEROS_NONE;
    w4a16_handle h;
    CW(w4a16_create(&h, 0));
    w4a16_device_info info;
    CW(w4a16_get_device_info(h, &info));
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

    size_t packed_bytes = 0;
    CW(w4a16_packed_size(n, k, &packed_bytes));
    const int64_t g = k / 128;
    const double l2 = (double)info.l2_bytes;
    const int layers = (int)std::min<double>(64.0, std::max(4.0, std::ceil(4.0 * l2 / (double)packed_bytes)));

    /* one random weight, packed on the host, copied into every layer's buffer */
    std::vector<uint8_t> q((size_t)(n * k / 2)), packed(packed_bytes), zeros((size_t)(g * n));
    for (auto &b : q) b = (uint8_t)next_u32();
    for (auto &z : zeros) z = (uint8_t)(next_u32() & 15);
    CW(w4a16_pack_host(q.data(), n, k, packed.data(), packed_bytes));
    std::vector<uint16_t> scales((size_t)(g * n), bf16 ? 0x3c23 : 0x211f); /* ~0.01 */
    std::vector<void *> w(layers), sc(layers), ze(layers, nullptr);
    for (int l = 0; l < layers; l++) {
        CK(cudaMalloc(&w[l], packed_bytes));
        CK(cudaMalloc(&sc[l], scales.size() * 2));
        CK(cudaMemcpy(w[l], packed.data(), packed_bytes, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(sc[l], scales.data(), scales.size() * 2, cudaMemcpyHostToDevice));
        if (zint) {
            CK(cudaMalloc(&ze[l], zeros.size()));
            CK(cudaMemcpy(ze[l], zeros.data(), zeros.size(), cudaMemcpyHostToDevice));
        }
    }
    /* cuBLAS's weights: random fp16/bf16 [N, K], one per layer as well */
    std::vector<uint16_t> wf((size_t)(n * k));
    for (auto &x : wf) x = rand_act(bf16);
    const int cublas_layers = (int)std::max<double>(2.0, std::ceil(4.0 * l2 / (double)(wf.size() * 2)));
    std::vector<void *> wd(cublas_layers);
    for (int l = 0; l < cublas_layers; l++) {
        CK(cudaMalloc(&wd[l], wf.size() * 2));
        CK(cudaMemcpy(wd[l], wf.data(), wf.size() * 2, cudaMemcpyHostToDevice));
    }
    /* activations: a0, then each layer's output (the next one's input where N = K) */
    std::vector<uint16_t> a0((size_t)(m * k));
    for (auto &x : a0) x = rand_act(bf16);
    const bool feed = n == k;
    std::vector<void *> act(layers + 1);
    for (int l = 0; l <= layers; l++) CK(cudaMalloc(&act[l], (size_t)(m * std::max(n, k) * 2)));
    CK(cudaMemcpy(act[0], a0.data(), a0.size() * 2, cudaMemcpyHostToDevice));

    w4a16_problem p;
    CW(w4a16_problem_init(&p, m, n, k, dt, 128, zm));
    p.alpha = 1.0f / 64.0f;
    int chosen = -1;
    CW(w4a16_select_config(h, &p, &chosen));
    size_t wsb = 0;
    CW(w4a16_workspace_size(h, &p, &wsb));
    void *ws = nullptr;
    if (wsb) {
        CK(cudaMalloc(&ws, wsb));
        CW(w4a16_workspace_init(h, ws, wsb, s));
    }
    cublasHandle_t cb;
    CB(cublasCreate(&cb));
    CB(cublasSetStream(cb, s));
    const cudaDataType ct = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const float one = 1.0f, zero = 0.0f;

    auto input = [&](int l) { return feed ? act[l] : act[0]; };
    auto w4_layer = [&](int l, int pdl) {
        p.pdl = pdl;
        CW(w4a16_gemm(h, &p, input(l), w[l], sc[l], ze[l], nullptr, act[l + 1], ws, wsb, s));
    };
    auto cublas_layer = [&](int l) {
        CB(cublasGemmEx(cb, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one, wd[l % cublas_layers], ct, (int)k,
                        input(l), ct, (int)k, &zero, act[l + 1], ct, (int)n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    };
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    /* mode 0 / 1: w4a16 with pdl 0 / 1; 2: cuBLAS. chain: L launches in one event pair (us per
     * GEMM); else each launch in its own pair (median us) */
    auto time_mode = [&](int mode, bool chain) {
        std::vector<double> one_t;
        if (chain) CK(cudaEventRecord(e0, s));
        for (int l = 0; l < layers; l++) {
            if (!chain) CK(cudaEventRecord(e0, s));
            if (mode == 2) cublas_layer(l);
            else w4_layer(l, mode);
            if (!chain) {
                CK(cudaEventRecord(e1, s));
                CK(cudaEventSynchronize(e1));
                float ms = 0;
                CK(cudaEventElapsedTime(&ms, e0, e1));
                one_t.push_back(1000.0 * ms);
            }
        }
        if (!chain) return median(one_t);
        CK(cudaEventRecord(e1, s));
        CK(cudaEventSynchronize(e1));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        return 1000.0 * ms / layers;
    };
    for (int mode = 0; mode < 3; mode++) time_mode(mode, true); /* warm-up */
    std::vector<double> t[2][3];
    for (int r = 0; r < rounds; r++)
        for (int chain = 1; chain >= 0; chain--)
            for (int mode = 0; mode < 3; mode++) t[chain][mode].push_back(time_mode(mode, chain));
    CK(cudaStreamSynchronize(s));
    const double eff_mb = (n * k / 2.0 + 2.0 * g * n + (zint ? g * n / 2.0 : 0.0) + 2.0 * m * k + 2.0 * m * n) / 1e6;
    printf("pdl_chain M=%lld N=%lld K=%lld %s zeros=%s config %s: %d layers (%.1f MB of weights each), %d rounds\n",
           (long long)m, (long long)n, (long long)k, bf16 ? "bf16" : "fp16", zint ? "int" : "none",
           w4a16_config_name(chosen), layers, packed_bytes / 1e6, rounds);
    const char *names[3] = {"w4a16 pdl=0", "w4a16 pdl=1", "cuBLAS"};
    for (int mode = 0; mode < 3; mode++) {
        const double c = median(t[1][mode]), a = median(t[0][mode]);
        printf("  %-12s chain %8.2f us per GEMM (%6.1f GB/s of effective bytes)   alone %8.2f us\n", names[mode], c,
               eff_mb * 1e3 / c, a);
    }
    printf("  pdl=1 / pdl=0 in the chain: %.4f; x cuBLAS in the chain: pdl=0 %.3f, pdl=1 %.3f\n",
           median(t[1][1]) / median(t[1][0]), median(t[1][2]) / median(t[1][0]), median(t[1][2]) / median(t[1][1]));
    for (auto x : w) cudaFree(x);
    for (auto x : sc) cudaFree(x);
    for (auto x : ze) cudaFree(x);
    for (auto x : wd) cudaFree(x);
    for (auto x : act) cudaFree(x);
    cudaFree(ws);
    cublasDestroy(cb);
    w4a16_destroy(h);
    return 0;
}

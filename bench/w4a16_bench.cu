/* w4a16_bench.cu - w4a16-bench: w4a16_gemm against cuBLAS on the dequantized weights, timed
 * honestly (weights rotated through >= 2x L2, warm-up, median of >= 30 launches each between its
 * own event pair), every result verified before it is reported, with the memory and compute
 * ceilings measured in the same run. See docs/PERFORMANCE.md for the method. */
#include "bench_gitrev.h"
#include "bench_kernels.h"
#include "cli.h"
#include "report.h"
#include "w4a16.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <functional>
#include <math.h>
#include <stdarg.h>
#include <stdexcept>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <string>
#include <vector>

/* ---- errors: every CUDA, cuBLAS and library call is checked; a failure throws ---- */

struct bench_error : std::runtime_error {
    explicit bench_error(const std::string &m) : std::runtime_error(m) {}
};

/* Local wall-clock time as HH:MM:SS.mmm. */
static std::string clock_text()
{
    const auto now = std::chrono::system_clock::now();
    const time_t t = std::chrono::system_clock::to_time_t(now);
    const long ms = (long)(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
    struct tm tmv;
    localtime_r(&t, &tmv);
    char buf[32];
    snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03ld", tmv.tm_hour, tmv.tm_min, tmv.tm_sec, ms);
    return buf;
}

static std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static std::string strf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

static void cuda_check(cudaError_t e, const char *what, int line)
{
    if (e != cudaSuccess) throw bench_error(strf("%s failed: %s (line %d)", what, cudaGetErrorString(e), line));
}
static void cublas_check(cublasStatus_t s, const char *what, int line)
{
    if (s != CUBLAS_STATUS_SUCCESS)
        throw bench_error(strf("%s failed: %s (line %d)", what, cublasGetStatusString(s), line));
}
static void w4_check(w4a16_status s, const char *what, int line)
{
    if (s != W4A16_SUCCESS)
        throw bench_error(strf("%s failed: %s: %s (line %d)", what, w4a16_status_string(s), w4a16_last_error(), line));
}
#define CUDA(x) cuda_check((x), #x, __LINE__)
#define CUBLAS(x) cublas_check((x), #x, __LINE__)
#define W4(x) w4_check((x), #x, __LINE__)

/* A device allocation freed when it goes out of scope. */
struct dev_buf {
    void *p = nullptr;
    size_t bytes = 0;
    dev_buf() = default;
    explicit dev_buf(size_t b) { alloc(b); }
    dev_buf(const dev_buf &) = delete;
    dev_buf &operator=(const dev_buf &) = delete;
    ~dev_buf() { reset(); }
    void alloc(size_t b)
    {
        reset();
        if (b == 0) return;
        cudaError_t e = cudaMalloc(&p, b);
        if (e != cudaSuccess) {
            p = nullptr;
            cudaGetLastError(); /* out-of-memory is not sticky: clear it */
            throw bench_error(strf("cudaMalloc(%.3f GB) failed: %s", b / 1e9, cudaGetErrorString(e)));
        }
        bytes = b;
    }
    void reset()
    {
        if (p) cudaFree(p);
        p = nullptr;
        bytes = 0;
    }
    char *c() const { return (char *)p; }
};

/* After a failure: whether the CUDA context still works (a kernel fault poisons it for good). */
static bool context_alive()
{
    cudaError_t e = cudaDeviceSynchronize();
    cudaGetLastError();
    return e == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* ---- state of one run ---- */

struct bench {
    const bench_opts *o = nullptr;
    w4a16_handle h = nullptr;
    w4a16_device_info info{};
    cublasHandle_t cb = nullptr;
    cudaStream_t s = nullptr;
    std::vector<cudaEvent_t> ev0, ev1;
    dev_buf check_scratch;
    bench_header hdr{};
    std::vector<bench_row> rows;
    int problem_index = 0, problem_total = 0;
    double best_cublas_tflops = 0; /* at M >= 1024, verified */
    std::string best_cublas_where;
    bool cublas_graph_failed = false;
    size_t mem_budget = 0;
    /* the launch gate's flag and timeout report, in mapped pinned host memory */
    struct gate_mem {
        unsigned flag, timed_out;
    };
    volatile gate_mem *gate_host = nullptr;
    gate_mem *gate_dev = nullptr;
    unsigned gate_count = 0;
};

/* ---- timing ---- */

struct timing {
    double med, p10, p90; /* microseconds */
};

static timing summarize(std::vector<float> ms)
{
    std::sort(ms.begin(), ms.end());
    const size_t n = ms.size();
    auto at = [&](double q) { return 1e3 * (double)ms[(size_t)floor(q * (double)(n - 1) + 0.5)]; };
    timing t;
    t.med = n % 2 ? 1e3 * (double)ms[n / 2] : 1e3 * 0.5 * ((double)ms[n / 2 - 1] + (double)ms[n / 2]);
    t.p10 = at(0.10);
    t.p90 = at(0.90);
    return t;
}

using launch_fn = std::function<void(int set)>;

/* One CUDA graph per weight set, each holding one call, captured on first use (for --graph). */
struct graph_set {
    cudaStream_t s;
    const launch_fn &launch;
    std::vector<cudaGraphExec_t> execs;
    graph_set(cudaStream_t stream, int nsets, const launch_fn &l) : s(stream), launch(l), execs((size_t)nsets, nullptr) {}
    graph_set(const graph_set &) = delete;
    graph_set &operator=(const graph_set &) = delete;
    ~graph_set()
    {
        for (cudaGraphExec_t e : execs)
            if (e) cudaGraphExecDestroy(e);
    }
    void ensure(int i)
    {
        if (execs[(size_t)i]) return;
        cudaGraph_t g = nullptr;
        CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
        try {
            launch(i);
        } catch (...) {
            cudaStreamEndCapture(s, &g);
            if (g) cudaGraphDestroy(g);
            cudaGetLastError();
            throw;
        }
        CUDA(cudaStreamEndCapture(s, &g));
        cudaError_t e = cudaGraphInstantiate(&execs[(size_t)i], g, 0);
        cudaGraphDestroy(g);
        CUDA(e);
    }
    void run(int i)
    {
        ensure(i);
        CUDA(cudaGraphLaunch(execs[(size_t)i], s));
    }
};

/* Opens the launch gate at destruction unless already open (also when a call throws). */
struct gate_opener {
    volatile unsigned *flag;
    unsigned target;
    bool open = false;
    void release()
    {
        if (open) return;
        std::atomic_thread_fence(std::memory_order_seq_cst);
        *flag = target;
        std::atomic_thread_fence(std::memory_order_seq_cst);
        open = true;
    }
    ~gate_opener() { release(); }
};

/* Warm-up, then o->iters calls each between its own event pair, cycling through nsets weight
 * sets so that a set is reused only after all the others (>= 2x L2 of weights) were read.
 * NOTE: the timed calls are queued behind a launch gate, 64 at a time, so they run back to back:
 * without it, a call whose host side (validation, tensor-map encoding, launch) outlasts its
 * kernel would leave the GPU idle inside its own event pair and be charged for it. */
static std::vector<float> time_samples(bench &b, int nsets, const launch_fn &launch, bool graph)
{
    graph_set gs(b.s, nsets, launch);
    int next = 0;
    auto step = [&] {
        if (graph) gs.run(next);
        else launch(next);
        next = (next + 1) % nsets;
    };
    /* warm-up: at least 3 calls and --warmup-ms (clocks up, lazy loading and cuBLAS heuristics done) */
    step();
    CUDA(cudaStreamSynchronize(b.s));
    const auto t0 = std::chrono::steady_clock::now();
    int done = 0, batch = 1;
    for (;;) {
        for (int i = 0; i < batch; i++) step();
        CUDA(cudaStreamSynchronize(b.s));
        done += batch;
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if ((done >= 3 && el >= 1e-3 * b.o->warmup_ms) || el >= 60.0) break;
        batch = std::min(batch * 2, 32);
    }
    if (graph)
        for (int i = 0; i < b.o->iters; i++) gs.ensure((next + i) % nsets);
    const int chunk = 64;
    for (int i0 = 0; i0 < b.o->iters; i0 += chunk) {
        gate_opener gate{&b.gate_host->flag, ++b.gate_count};
        CUDA(bench_gate_launch(&b.gate_dev->flag, gate.target, &b.gate_dev->timed_out, 20000, b.s));
        for (int i = i0; i < std::min(i0 + chunk, b.o->iters); i++) {
            CUDA(cudaEventRecord(b.ev0[(size_t)i], b.s));
            step();
            CUDA(cudaEventRecord(b.ev1[(size_t)i], b.s));
        }
        gate.release();
    }
    CUDA(cudaStreamSynchronize(b.s));
    if (b.gate_host->timed_out) {
        b.gate_host->timed_out = 0;
        throw bench_error("the launch gate timed out after 20 s: a call synchronized while the timed calls were "
                          "being queued, so its times are not valid");
    }
    std::vector<float> ms((size_t)b.o->iters);
    for (int i = 0; i < b.o->iters; i++) CUDA(cudaEventElapsedTime(&ms[(size_t)i], b.ev0[(size_t)i], b.ev1[(size_t)i]));
    return ms;
}

static timing time_calls(bench &b, int nsets, const launch_fn &launch, bool graph)
{
    return summarize(time_samples(b, nsets, launch, graph));
}

static void append(std::vector<float> &to, const std::vector<float> &from) { to.insert(to.end(), from.begin(), from.end()); }

/* ---- verification ---- */

/* Checks d (fp16/bf16 [m, n]) against the fp32 reference; prints mismatches to stderr.
 * Returns "" when it passes, else a one-line reason. */
static std::string check(bench &b, const char *what, const void *d, const float *ref, int64_t m, int64_t n, int dtype,
                         double *worst)
{
    bench_check_result r;
    CUDA(bench_check_output(d, dtype == W4A16_DTYPE_BF16, ref, m * n, b.check_scratch.p, b.s, &r));
    if (worst) *worst = r.worst_ratio;
    if (r.bad == 0) return "";
    fprintf(stderr, "  check failed: %s: %lld of %lld elements out of tolerance (rtol %.3g, atol %.3g)\n", what,
            r.bad, (long long)(m * n), r.rtol, r.atol);
    for (int i = 0; i < r.nshow; i++)
        fprintf(stderr, "    at [m=%lld, n=%lld]: got %.6g, want %.6g\n", r.idx[i] / (long long)n,
                r.idx[i] % (long long)n, r.got[i], r.want[i]);
    fprintf(stderr, "    worst |err| / tolerance = %.3g\n", r.worst_ratio);
    return strf("check failed: %lld of %lld elements out of tolerance (worst %.3g x the tolerance)", r.bad,
                (long long)(m * n), r.worst_ratio);
}

/* ---- cuBLAS ---- */

static cudaDataType_t cuda_type(int dtype) { return dtype == W4A16_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_16F; }

/* TARGETS.md's baseline: D[M,N] = A[M,K] . Wdq[N,K]^T, column-major view (N x M) = op_T(Wdq) . A.
 * ref != 0 makes the fp32-output reference instead (fp32 compute, pedantic). */
static void cublas_gemm(bench &b, int64_t m, int64_t n, int64_t k, int dtype, const void *wdq, const void *a, void *d,
                        bool ref)
{
    const float one = 1.0f, zero = 0.0f;
    const cudaDataType_t t = cuda_type(dtype);
    CUBLAS(cublasGemmEx(b.cb, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one, wdq, t, (int)k, a, t, (int)k,
                        &zero, d, ref ? CUDA_R_32F : t, (int)n,
                        ref ? CUBLAS_COMPUTE_32F_PEDANTIC : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* ---- weights: quantized once per shape, replicated into rotation sets ---- */

struct weights {
    int64_t n = 0, k = 0, group = 0;
    int dtype = 0, zeros = 0;
    size_t packed_bytes = 0, scales_bytes = 0, zeros_bytes = 0;
    size_t off_scales = 0, off_zeros = 0, set_stride = 0, dq_stride = 0;
    int nsets = 1, dq_nsets = 1;
    dev_buf slab, dq_slab;
    const void *packed(int i) const { return slab.c() + (size_t)i * set_stride; }
    const void *scales(int i) const { return slab.c() + (size_t)i * set_stride + off_scales; }
    const void *zero_points(int i) const
    {
        return zeros == W4A16_ZEROS_NONE ? nullptr : slab.c() + (size_t)i * set_stride + off_zeros;
    }
    const void *dq(int i) const { return dq_slab.c() + (size_t)i * dq_stride; }
};

/* Sets that together hold >= 2x L2 (at least 2), or 1 with --warm-l2. */
static int rotation_sets(const bench &b, size_t set_bytes)
{
    if (b.o->warm_l2) return 1;
    const double need = 2.0 * (double)b.info.l2_bytes;
    int n = (int)ceil(need / (double)set_bytes);
    return std::max(2, std::min(n, 65536));
}

static void plan_weights(const bench &b, weights &w)
{
    const int64_t g = w.k / w.group;
    W4(w4a16_packed_size(w.n, w.k, &w.packed_bytes));
    w.scales_bytes = (size_t)(g * w.n) * 2;
    w.zeros_bytes = w.zeros == W4A16_ZEROS_INT ? (size_t)(g * w.n) : w.zeros == W4A16_ZEROS_FLOAT ? (size_t)(g * w.n) * 2 : 0;
    w.off_scales = round_up(w.packed_bytes, 256);
    w.off_zeros = w.off_scales + round_up(w.scales_bytes, 256);
    w.set_stride = w.off_zeros + round_up(w.zeros_bytes, 256);
    w.nsets = rotation_sets(b, w.set_stride);
    w.dq_stride = round_up((size_t)(w.n * w.k) * 2, 256);
    w.dq_nsets = rotation_sets(b, w.dq_stride);
}

/* Copies set 0 over sets 1..nsets-1 by doubling (log2(nsets) copies). */
static void replicate(bench &b, char *base, size_t stride, int nsets)
{
    for (int have = 1; have < nsets; have *= 2) {
        const int count = std::min(have, nsets - have);
        CUDA(cudaMemcpyAsync(base + (size_t)have * stride, base, (size_t)count * stride, cudaMemcpyDeviceToDevice, b.s));
    }
}

static void make_weights(bench &b, weights &w, uint64_t seed)
{
    w.slab.alloc((size_t)w.nsets * w.set_stride);
    w.dq_slab.alloc((size_t)w.dq_nsets * w.dq_stride);
    dev_buf q((size_t)(w.n * w.k / 2));
    void *dq0 = w.dq_slab.p;
    void *scales0 = w.slab.c() + w.off_scales;
    void *zeros0 = w.zeros == W4A16_ZEROS_NONE ? nullptr : w.slab.c() + w.off_zeros;
    /* random weights in [-1, 1) -> round-to-nearest int4 -> packed, and the dequantized copy for
     * cuBLAS (written over the random weights once they are quantized) */
    CUDA(bench_fill_uniform(dq0, w.n * w.k, w.dtype == W4A16_DTYPE_BF16, -1.0f, 1.0f, seed, b.s));
    W4(w4a16_quantize(b.h, (w4a16_dtype)w.dtype, dq0, w.n, w.k, w.group, (w4a16_zero_mode)w.zeros,
                      (w4a16_dtype)w.dtype, (uint8_t *)q.p, scales0, zeros0, b.s));
    W4(w4a16_pack(b.h, (const uint8_t *)q.p, w.n, w.k, w.slab.p, w.packed_bytes, b.s));
    W4(w4a16_dequantize(b.h, (const uint8_t *)q.p, w.n, w.k, w.group, (w4a16_zero_mode)w.zeros,
                        (w4a16_dtype)w.dtype, scales0, zeros0, (w4a16_dtype)w.dtype, dq0, b.s));
    replicate(b, w.slab.c(), w.set_stride, w.nsets);
    replicate(b, w.dq_slab.c(), w.dq_stride, w.dq_nsets);
    CUDA(cudaStreamSynchronize(b.s));
}

/* ---- one problem: M tokens against one weight ---- */

static bench_row new_row(const bench_shape &sh, int64_t m, int64_t group, int dtype, int zeros)
{
    bench_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.label, sizeof r.label, "%s", sh.label);
    r.m = m;
    r.n = sh.n;
    r.k = sh.k;
    r.group = group;
    r.dtype = dtype;
    r.zeros = zeros;
    r.status = BENCH_ROW_SKIPPED; /* until it has run */
    snprintf(r.message, sizeof r.message, "not run");
    return r;
}

static void set_message(bench_row &r, bench_row_status st, const std::string &msg)
{
    r.status = st;
    snprintf(r.message, sizeof r.message, "%s", msg.c_str());
}

static std::string problem_text(const bench_row &r)
{
    return strf("M=%lld N=%lld K=%lld %s zeros=%s group=%lld", (long long)r.m, (long long)r.n, (long long)r.k,
                bench_dtype_name(r.dtype), bench_zeros_name(r.zeros), (long long)r.group);
}

static int find_config(const char *arg)
{
    for (int i = 0; i < w4a16_config_count(); i++) {
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        if (!strcmp(arg, w4a16_config_name(i)) || !strcmp(arg, idx)) return i;
    }
    return -1;
}

static bool is_reference_config(const char *name)
{
    return !strcmp(name, "ref") || !strncmp(name, "simt", 4);
}

/* The configurations to time for p: {-1} (heuristic), the forced one, or every valid one. */
static std::vector<int> configs_for(bench &b, w4a16_problem p, std::string *skip)
{
    std::vector<int> list;
    int chosen = -1;
    if (b.o->config_mode == BENCH_CONFIG_HEURISTIC) {
        p.config = -1;
        if (w4a16_select_config(b.h, &p, &chosen) == W4A16_SUCCESS) list.push_back(-1);
        else *skip = strf("the heuristic found no configuration: %s", w4a16_last_error());
        return list;
    }
    const int count = w4a16_config_count();
    std::vector<int> reference;
    for (int i = 0; i < count; i++) {
        if (b.o->config_mode == BENCH_CONFIG_FORCED) {
            char idx[16];
            snprintf(idx, sizeof idx, "%d", i);
            if (strcmp(b.o->config_arg, w4a16_config_name(i)) && strcmp(b.o->config_arg, idx)) continue;
        }
        p.config = i;
        if (w4a16_select_config(b.h, &p, &chosen) != W4A16_SUCCESS) {
            if (b.o->config_mode == BENCH_CONFIG_FORCED) *skip = w4a16_last_error();
            continue;
        }
        /* NOTE: in --config all, the portable reference kernel is timed only where nothing else
         * can run: it exists for correctness, and on the large shapes it would take minutes. */
        if (b.o->config_mode == BENCH_CONFIG_ALL && is_reference_config(w4a16_config_name(i))) reference.push_back(i);
        else list.push_back(i);
    }
    if (list.empty()) list = reference;
    if (list.empty() && skip->empty()) *skip = "no compiled configuration can run this problem";
    return list;
}

static void run_problem(bench &b, const weights &w, int64_t m, bench_row &row)
{
    const int64_t n = w.n, k = w.k;
    const int dtype = w.dtype;
    w4a16_problem p;
    W4(w4a16_problem_init(&p, m, n, k, (w4a16_dtype)dtype, w.group, (w4a16_zero_mode)w.zeros));
    std::string skip;
    const std::vector<int> cfgs = configs_for(b, p, &skip);
    if (cfgs.empty()) {
        set_message(row, BENCH_ROW_SKIPPED, skip);
        return;
    }

    size_t ws_bytes = 0;
    for (int c : cfgs) {
        size_t need = 0;
        p.config = c;
        W4(w4a16_workspace_size(b.h, &p, &need));
        ws_bytes = std::max(ws_bytes, need);
    }
    const size_t out_bytes = (size_t)(m * n) * 2;
    const size_t need = (size_t)(m * k) * 2 + 2 * out_bytes + (b.o->check ? (size_t)(m * n) * 4 : 0) + ws_bytes;
    if (need > b.mem_budget) {
        set_message(row, BENCH_ROW_SKIPPED,
                    strf("needs %.2f GB of device memory beyond the weights; %.2f GB left in the budget", need / 1e9,
                         b.mem_budget / 1e9));
        return;
    }
    dev_buf a((size_t)(m * k) * 2), d(out_bytes), dc(out_bytes), ref(b.o->check ? (size_t)(m * n) * 4 : 0), ws(ws_bytes);
    CUDA(bench_fill_uniform(a.p, m * k, dtype == W4A16_DTYPE_BF16, -1.0f, 1.0f, b.o->seed * 7919 + (uint64_t)m, b.s));
    if (b.o->check) cublas_gemm(b, m, n, k, dtype, w.dq(0), a.p, ref.p, true);
    row.checked = b.o->check;
    const float *rf = (const float *)ref.p;
    const std::string what = problem_text(row);

    /* cuBLAS: verified once, timed over the rotated dequantized copies, verified again */
    launch_fn cublas_call = [&](int i) { cublas_gemm(b, m, n, k, dtype, w.dq(i), a.p, dc.p, false); };
    CUDA(bench_poison(dc.p, out_bytes, b.s));
    cublas_call(0);
    std::string bad = b.o->check ? check(b, ("cuBLAS " + what).c_str(), dc.p, rf, m, n, dtype, nullptr) : "";
    if (!bad.empty()) {
        set_message(row, BENCH_ROW_ERROR, "cuBLAS baseline " + bad);
        return;
    }
    /* NOTE: cuBLAS and ours are timed in the order cuBLAS, ours, ours, cuBLAS (each window o->iters
     * calls after its own warm-up), each median over both of its windows, so that neither kernel
     * always runs in the other's wake. In a sweep the GPU runs at its power cap with the SM clock
     * moving between ~1300 and 1980 MHz; with the order cuBLAS, ours, one H100 sweep read
     * 8192x8192 M=1024 at 0.80x while nvidia-smi sampled 1590 MHz at that row (pipe_probe's
     * back-to-back bursts: 1.04x). The log prints each window's median (targets.log). */
    /* NOTE: --settle-ms of idle GPU first, so that no row is timed in the previous one's wake. With
     * the 25 ms warm-up alone, decode rows right after an M=4096 row lost up to 7% of their
     * bandwidth against the next row (H100, session 13: 57344x8192 M=1 80.5% vs M=4 87.3%, 8192^2
     * M=1 51.6% vs 56.7%; the clocks had not recovered). A 100 ms warm-up instead fixed that too,
     * but timed every kernel at the power cap's steady state, which put cuBLAS 11-20% above
     * TARGETS.md's table from M = 256 up (a harness that table calls suspect).
     * NOTE: and the same idle before every window, not only the first: the window right after an
     * idle runs on the power limiter's headroom. With one idle per problem that was always
     * cuBLAS's first window: over 358 logged problems with cuBLAS above 150 us (sessions 12-16),
     * its first window was faster than its last in 246, by 2.3% on average; on session 14's 36 rows
     * of the heuristic's t256 in 27, by up to 14% (8192^2 M=1024: 177.8 vs 203.2 us, ours 196.7
     * and 202.7 between them). With an idle before every window (H100, session 17, 92 rows above
     * 40 us): first / last 1.001 for cuBLAS, 1.002 for ours. --settle-once restores the old
     * protocol. */
    auto settle = [&](bool every_window) {
        if (every_window && b.o->settle_once) return;
        CUDA(cudaStreamSynchronize(b.s));
        std::this_thread::sleep_for(std::chrono::milliseconds(b.o->settle_ms));
    };
    settle(false);
    std::vector<float> cub;
    bool graph = b.o->graph && !b.cublas_graph_failed;
    try {
        cub = time_samples(b, w.dq_nsets, cublas_call, graph);
    } catch (const bench_error &e) {
        if (!graph || !context_alive()) throw;
        /* NOTE: cuBLAS is documented as capturable (CUDA >= 12.2); if it is not here, time it
         * with stream launches and say so in the header rather than losing the baseline. */
        b.cublas_graph_failed = true;
        snprintf(b.hdr.notes + strlen(b.hdr.notes), sizeof b.hdr.notes - strlen(b.hdr.notes),
                 "NOTE: cuBLAS could not be captured in a CUDA graph (%s); its times are stream launches\n", e.what());
        graph = false;
        cub = time_samples(b, w.dq_nsets, cublas_call, false);
    }

    /* ours: each configuration verified once, timed, and verified again after its second window */
    std::vector<bench_config_result> results;
    std::vector<double> worst;                 /* per configuration: worst |err| / tolerance */
    std::vector<std::vector<float>> samples;   /* per configuration: its times of both windows */
    std::vector<int> chosen_of;                /* per configuration: the configuration run */
    auto ours_for = [&](int cfg) -> launch_fn {
        return [&, cfg](int i) {
            w4a16_problem pc = p;
            pc.config = cfg;
            W4(w4a16_gemm(b.h, &pc, a.p, w.packed(i), w.scales(i), w.zero_points(i), nullptr, d.p, ws.p, ws_bytes,
                          b.s));
        };
    };
    for (int c : cfgs) {
        bench_config_result cr;
        memset(&cr, 0, sizeof cr);
        p.config = c;
        int chosen = c;
        W4(w4a16_select_config(b.h, &p, &chosen));
        snprintf(cr.name, sizeof cr.name, "%s", w4a16_config_name(chosen));
        const std::string cwhat = strf("%s %s", cr.name, what.c_str());
        const launch_fn ours = ours_for(c);
        std::vector<float> ms;
        std::string err;
        double cworst = 0;
        try {
            /* zeroed per configuration, so one that fails cannot break the next */
            if (ws_bytes) W4(w4a16_workspace_init(b.h, ws.p, ws_bytes, b.s));
            CUDA(bench_poison(d.p, out_bytes, b.s));
            ours(0);
            CUDA(cudaStreamSynchronize(b.s));
            if (b.o->check) err = check(b, cwhat.c_str(), d.p, rf, m, n, dtype, &cworst);
            if (err.empty()) {
                settle(true);
                ms = time_samples(b, w.nsets, ours, b.o->graph);
            }
        } catch (const bench_error &e) {
            if (!context_alive()) throw;
            err = e.what();
            fprintf(stderr, "  error: %s: %s\n", cwhat.c_str(), err.c_str());
        }
        cr.ok = err.empty();
        if (!cr.ok && b.o->config_mode == BENCH_CONFIG_ALL) fprintf(stderr, "    %-40s FAILED\n", cr.name);
        if (!cr.ok && b.o->config_mode != BENCH_CONFIG_ALL) {
            snprintf(row.config, sizeof row.config, "%s", cr.name);
            set_message(row, BENCH_ROW_ERROR, strf("config %s: %s", cr.name, err.c_str()));
            return;
        }
        results.push_back(cr);
        worst.push_back(cworst);
        samples.push_back(ms);
        chosen_of.push_back(c);
    }

    /* the second windows, in reverse order: ours, then cuBLAS (see the NOTE above) */
    for (size_t r = results.size(); r-- > 0;) {
        bench_config_result &cr = results[r];
        if (!cr.ok) continue;
        const std::string cwhat = strf("%s %s", cr.name, what.c_str());
        std::string err;
        try {
            if (ws_bytes) W4(w4a16_workspace_init(b.h, ws.p, ws_bytes, b.s));
            settle(true);
            append(samples[r], time_samples(b, w.nsets, ours_for(chosen_of[r]), b.o->graph));
            double after = 0;
            if (b.o->check) err = check(b, ("after timing " + cwhat).c_str(), d.p, rf, m, n, dtype, &after);
            worst[r] = std::max(worst[r], after);
        } catch (const bench_error &e) {
            if (!context_alive()) throw;
            err = e.what();
            fprintf(stderr, "  error: %s (second window): %s\n", cwhat.c_str(), err.c_str());
        }
        if (err.empty()) continue;
        cr.ok = 0;
        if (b.o->config_mode == BENCH_CONFIG_ALL) {
            fprintf(stderr, "    %-40s FAILED\n", cr.name);
        } else {
            snprintf(row.config, sizeof row.config, "%s", cr.name);
            set_message(row, BENCH_ROW_ERROR, strf("config %s: %s", cr.name, err.c_str()));
            return;
        }
    }
    settle(true);
    append(cub, time_samples(b, w.dq_nsets, cublas_call, graph));
    if (b.o->check) bad = check(b, ("cuBLAS after timing " + what).c_str(), dc.p, rf, m, n, dtype, nullptr);
    if (!bad.empty()) {
        set_message(row, BENCH_ROW_ERROR, "cuBLAS baseline after timing " + bad);
        return;
    }
    const timing tc = summarize(cub);
    const size_t half = (size_t)b.o->iters;
    auto window_median = [&](const std::vector<float> &v, size_t from) {
        return summarize(std::vector<float>(v.begin() + (std::ptrdiff_t)from, v.begin() + (std::ptrdiff_t)(from + half)))
            .med;
    };
    row.cublas_us = tc.med;
    row.cublas_p10 = tc.p10;
    row.cublas_p90 = tc.p90;
    const double cublas_tflops = 2.0 * (double)m * (double)n * (double)k / (tc.med * 1e-6) / 1e12;
    if (m >= 1024 && cublas_tflops > b.best_cublas_tflops) {
        b.best_cublas_tflops = cublas_tflops;
        b.best_cublas_where = strf("best cuBLAS rate at M >= 1024 in this run: %s M=%lld N=%lld K=%lld",
                                   bench_dtype_name(dtype), (long long)m, (long long)n, (long long)k);
    }
    for (size_t r = 0; r < results.size(); r++) {
        bench_config_result &cr = results[r];
        if (cr.ok) {
            const timing t = summarize(samples[r]);
            cr.us = t.med;
            cr.p10 = t.p10;
            cr.p90 = t.p90;
        }
        if (cr.ok && b.o->config_mode == BENCH_CONFIG_ALL) fprintf(stderr, "    %-40s %10.2f us\n", cr.name, cr.us);
        if (cr.ok && r == 0 && cub.size() == 2 * half && samples[r].size() == 2 * half)
            fprintf(stderr, "  windows (median us): cuBLAS %.2f, %s %.2f, %.2f, cuBLAS %.2f\n", window_median(cub, 0),
                    cr.name, window_median(samples[r], 0), window_median(samples[r], half), window_median(cub, half));
    }

    const bench_config_result *best = nullptr;
    for (const bench_config_result &cr : results)
        if (cr.ok && (!best || cr.us < best->us)) best = &cr;
    if (b.o->config_mode == BENCH_CONFIG_ALL) {
        row.all = (bench_config_result *)calloc(results.size(), sizeof *row.all);
        if (!row.all) throw bench_error("out of host memory");
        std::copy(results.begin(), results.end(), row.all);
        row.nall = (int)results.size();
    }
    if (!best) {
        set_message(row, BENCH_ROW_ERROR, strf("all %zu configuration(s) failed", results.size()));
        return;
    }
    row.n_configs = 0;
    for (const bench_config_result &cr : results) row.n_configs += cr.ok;
    snprintf(row.config, sizeof row.config, "%s", best->name);
    if (b.o->config_mode == BENCH_CONFIG_ALL && b.o->tune_cache_path) /* saved by finish() */
        W4(w4a16_tune_cache_set(b.h, &p, find_config(best->name)));
    row.check_worst = worst[(size_t)(best - results.data())];
    row.us = best->us;
    row.p10 = best->p10;
    row.p90 = best->p90;
    row.status = BENCH_ROW_OK;
    row.message[0] = 0;
}

/* One weight shape with every M. Errors land in the rows; a dead CUDA context is rethrown. */
static void run_shape(bench &b, const bench_shape &sh, int64_t group_opt, int dtype, int zeros, uint64_t seed)
{
    const int64_t group = group_opt ? group_opt : sh.k;
    const size_t first = b.rows.size();
    for (int i = 0; i < b.o->nm; i++) b.rows.push_back(new_row(sh, b.o->m[i], group, dtype, zeros));
    /* marks rows [from, end) of this shape, which have not run */
    auto fail_rest = [&](size_t from, bench_row_status st, const std::string &msg) {
        for (size_t r = from; r < b.rows.size(); r++) set_message(b.rows[r], st, msg);
    };

    w4a16_problem p;
    W4(w4a16_problem_init(&p, 1, sh.n, sh.k, (w4a16_dtype)dtype, group, (w4a16_zero_mode)zeros));
    if (w4a16_check_problem(&p) != W4A16_SUCCESS) {
        fail_rest(first, BENCH_ROW_SKIPPED, strf("invalid problem: %s", w4a16_last_error()));
        b.problem_index += b.o->nm;
        return;
    }
    weights w;
    w.n = sh.n;
    w.k = sh.k;
    w.group = group;
    w.dtype = dtype;
    w.zeros = zeros;
    try {
        plan_weights(b, w);
        const size_t wbytes =
            (size_t)w.nsets * w.set_stride + (size_t)w.dq_nsets * w.dq_stride + (size_t)(w.n * w.k / 2);
        if (wbytes > b.mem_budget) {
            fail_rest(first, BENCH_ROW_SKIPPED,
                      strf("the weights need %.2f GB of device memory; the budget is %.2f GB", wbytes / 1e9,
                           b.mem_budget / 1e9));
            b.problem_index += b.o->nm;
            return;
        }
        make_weights(b, w, seed);
    } catch (const bench_error &e) {
        if (!context_alive()) throw;
        fail_rest(first, BENCH_ROW_ERROR, strf("preparing the weights: %s", e.what()));
        b.problem_index += b.o->nm;
        return;
    }
    const size_t saved_budget = b.mem_budget;
    b.mem_budget -= std::min(b.mem_budget, (size_t)w.nsets * w.set_stride + (size_t)w.dq_nsets * w.dq_stride);
    for (int i = 0; i < b.o->nm; i++) {
        bench_row &row = b.rows[first + (size_t)i];
        b.problem_index++;
        try {
            run_problem(b, w, b.o->m[i], row);
        } catch (const bench_error &e) {
            if (!context_alive()) {
                b.mem_budget = saved_budget;
                set_message(row, BENCH_ROW_ERROR, e.what());
                fail_rest(first + (size_t)i + 1, BENCH_ROW_ERROR, "not run: the CUDA context died on an earlier problem");
                throw;
            }
            set_message(row, BENCH_ROW_ERROR, e.what());
        }
        /* progress lines carry the wall-clock time, so that a clock/power log taken beside the
         * run (scripts/gpu-final.sh's nvidia-smi) can be matched to the rows */
        const std::string when = clock_text();
        if (row.status == BENCH_ROW_OK)
            fprintf(stderr, "%s [%3d/%d] %s: %.2f us (%s), cuBLAS %.2f us, x%.3f\n", when.c_str(), b.problem_index,
                    b.problem_total, problem_text(row).c_str(), row.us, row.config, row.cublas_us,
                    row.cublas_us / row.us);
        else
            fprintf(stderr, "%s [%3d/%d] %s: %s: %s\n", when.c_str(), b.problem_index, b.problem_total,
                    problem_text(row).c_str(), row.status == BENCH_ROW_ERROR ? "ERROR" : "SKIP", row.message);
    }
    b.mem_budget = saved_budget;
}

/* ---- ceilings ---- */

/* Read-only kernel over >= 2 GiB: best launch shape, median of 20 launches each. */
static void measure_memory_ceiling(bench &b)
{
    size_t bytes = (size_t)2 << 30;
    dev_buf buf;
    try {
        buf.alloc(bytes);
    } catch (const bench_error &) {
        bytes = (size_t)1 << 30; /* small GPU: said in the header */
        buf.alloc(bytes);
    }
    dev_buf sink(16);
    CUDA(cudaMemsetAsync(buf.p, 0x5A, bytes, b.s)); /* XOR of the words is 0: the sink is never written */
    CUDA(cudaMemsetAsync(sink.p, 0, 16, b.s));
    double best = 0;
    int best_v = 0;
    const int reps = 20;
    for (int v = 0; v < bench_read_variant_count(); v++) {
        for (int i = 0; i < 3; i++) CUDA(bench_read_launch(v, buf.p, bytes, (unsigned *)sink.p, b.info.sm_count, b.s));
        for (int i = 0; i < reps; i++) {
            CUDA(cudaEventRecord(b.ev0[(size_t)i], b.s));
            CUDA(bench_read_launch(v, buf.p, bytes, (unsigned *)sink.p, b.info.sm_count, b.s));
            CUDA(cudaEventRecord(b.ev1[(size_t)i], b.s));
        }
        CUDA(cudaStreamSynchronize(b.s));
        std::vector<float> ms(reps);
        for (int i = 0; i < reps; i++) CUDA(cudaEventElapsedTime(&ms[(size_t)i], b.ev0[(size_t)i], b.ev1[(size_t)i]));
        const double tbs = (double)bytes / (summarize(ms).med * 1e-6) / 1e12;
        fprintf(stderr, "memory ceiling: %-50s %.3f TB/s\n", bench_read_variant_name(v), tbs);
        if (tbs > best) {
            best = tbs;
            best_v = v;
        }
    }
    b.hdr.mem_ceiling_tbs = best;
    snprintf(b.hdr.mem_ceiling_how, sizeof b.hdr.mem_ceiling_how,
             "read-only kernel, 16-byte loads over %.2f GiB, median of %d; best of %d launch shapes: %s",
             (double)bytes / (1 << 30), reps, bench_read_variant_count(), bench_read_variant_name(best_v));
    if (strstr(b.hdr.gpu_name, "H100") && strstr(b.hdr.gpu_name, "HBM3") && best < 3.0)
        snprintf(b.hdr.notes + strlen(b.hdr.notes), sizeof b.hdr.notes - strlen(b.hdr.notes),
                 "WARNING: memory ceiling %.3f TB/s is below 3.0 TB/s on an H100 SXM: TARGETS.md says the "
                 "ceiling kernel (or the machine) is at fault\n",
                 best);
}

/* Without any M >= 1024 row, an 8192^3 cuBLAS GEMM per dtype of the run. */
static void measure_compute_ceiling(bench &b)
{
    if (b.best_cublas_tflops > 0) {
        b.hdr.compute_ceiling_tflops = b.best_cublas_tflops;
        snprintf(b.hdr.compute_ceiling_how, sizeof b.hdr.compute_ceiling_how, "%s", b.best_cublas_where.c_str());
        return;
    }
    const int64_t s = 8192;
    double best = 0;
    int best_dtype = 0;
    for (int i = 0; i < b.o->ndtypes; i++) {
        const int dtype = b.o->dtypes[i];
        dev_buf x((size_t)(s * s) * 2), y((size_t)(s * s) * 2), z((size_t)(s * s) * 2);
        CUDA(bench_fill_uniform(x.p, s * s, dtype == W4A16_DTYPE_BF16, -1.0f, 1.0f, 11, b.s));
        CUDA(bench_fill_uniform(y.p, s * s, dtype == W4A16_DTYPE_BF16, -1.0f, 1.0f, 12, b.s));
        const timing t = time_calls(b, 1, [&](int) { cublas_gemm(b, s, s, s, dtype, x.p, y.p, z.p, false); }, false);
        const double tf = 2.0 * (double)s * s * s / (t.med * 1e-6) / 1e12;
        fprintf(stderr, "compute ceiling: cuBLAS %s 8192^3: %.1f TFLOP/s\n", bench_dtype_name(dtype), tf);
        if (tf > best) {
            best = tf;
            best_dtype = dtype;
        }
    }
    b.hdr.compute_ceiling_tflops = best;
    snprintf(b.hdr.compute_ceiling_how, sizeof b.hdr.compute_ceiling_how,
             "no M >= 1024 in this run: cuBLAS %s M=N=K=8192, median of %d", bench_dtype_name(best_dtype), b.o->iters);
}

/* ---- main ---- */

static void fill_header(bench &b)
{
    bench_header &h = b.hdr;
    cudaDeviceProp prop;
    CUDA(cudaGetDeviceProperties(&prop, b.o->device));
    snprintf(h.tool_version, sizeof h.tool_version, "%d.%d.%d", W4A16_VERSION_MAJOR, W4A16_VERSION_MINOR,
             W4A16_VERSION_PATCH);
    /* the commit recorded at build time, unless the environment names it (a copy of the tree
     * built without .git records "unknown") */
    const char *commit = getenv("W4A16_GIT_COMMIT");
    snprintf(h.git_commit, sizeof h.git_commit, "%s", commit && *commit ? commit : W4A16_BENCH_GIT_COMMIT);
    snprintf(h.gpu_name, sizeof h.gpu_name, "%s", prop.name);
    h.device = b.o->device;
    h.cc_major = prop.major;
    h.cc_minor = prop.minor;
    h.sm_count = prop.multiProcessorCount;
    h.total_mem_bytes = (int64_t)prop.totalGlobalMem;
    h.l2_bytes = b.info.l2_bytes;
    int khz = 0, mem_khz = 0, bus = 0;
    CUDA(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, b.o->device));
    CUDA(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, b.o->device));
    CUDA(cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, b.o->device));
    h.sm_clock_mhz = khz / 1000;
    h.mem_clock_mhz = mem_khz / 1000;
    h.mem_bus_bits = bus;
    h.peak_bw_tbs = 2.0 * mem_khz * 1e3 * (bus / 8.0) / 1e12; /* double data rate */
    CUDA(cudaDriverGetVersion(&h.driver_version));
    CUDA(cudaRuntimeGetVersion(&h.runtime_version));
    CUBLAS(cublasGetVersion(b.cb, &h.cublas_version));
    h.config_count = w4a16_config_count();
    if (b.o->config_mode == BENCH_CONFIG_HEURISTIC) snprintf(h.config_mode, sizeof h.config_mode, "heuristic");
    else if (b.o->config_mode == BENCH_CONFIG_ALL)
        snprintf(h.config_mode, sizeof h.config_mode, "all (best of every valid configuration)");
    else snprintf(h.config_mode, sizeof h.config_mode, "forced %s", b.o->config_arg);
    if (b.o->tune_cache_path) {
        int entries = 0;
        W4(w4a16_tune_cache_size(b.h, &entries));
        const size_t len = strlen(h.config_mode);
        snprintf(h.config_mode + len, sizeof h.config_mode - len, " + tuning cache (%d entries)", entries);
    }
    h.iters = b.o->iters;
    h.warmup_ms = b.o->warmup_ms;
    h.settle_ms = b.o->settle_ms;
    h.settle_once = b.o->settle_once;
    h.warm_l2 = b.o->warm_l2;
    h.graph = b.o->graph;
    h.check = b.o->check;
    h.seed = b.o->seed;
}

static int finish(bench &b, bool fatal)
{
    bench_derive(&b.hdr, b.rows.data(), (int)b.rows.size());
    bench_print_header(stdout, &b.hdr);
    bench_print_table(stdout, &b.hdr, b.rows.data(), (int)b.rows.size());
    int rc = fatal ? 1 : 0;
    for (const bench_row &r : b.rows) {
        if (r.status == BENCH_ROW_ERROR) rc = 1;
        for (int j = 0; j < r.nall; j++)
            if (!r.all[j].ok) rc = 1;
    }
    if (b.o->csv_path && bench_write_csv(b.o->csv_path, b.rows.data(), (int)b.rows.size())) rc = 1;
    if (b.o->tune_cache_path && b.o->config_mode == BENCH_CONFIG_ALL &&
        w4a16_tune_cache_save(b.h, b.o->tune_cache_path) != W4A16_SUCCESS) {
        fprintf(stderr, "w4a16-bench: %s\n", w4a16_last_error());
        rc = 1;
    }
    if (b.o->json_path && bench_write_json(b.o->json_path, &b.hdr, b.rows.data(), (int)b.rows.size())) rc = 1;
    if (rc) printf("w4a16-bench: FAILED (see the ERROR lines above and the messages on stderr)\n");
    fflush(stdout);
    bench_free_rows(b.rows.data(), (int)b.rows.size());
    return rc;
}

static void setup(bench &b)
{
    CUDA(cudaSetDevice(b.o->device));
    W4(w4a16_get_device_info(b.h, &b.info));
    CUDA(cudaStreamCreateWithFlags(&b.s, cudaStreamNonBlocking));
    CUBLAS(cublasCreate(&b.cb));
    CUBLAS(cublasSetStream(b.cb, b.s));
    const size_t nev = (size_t)std::max(b.o->iters, 32);
    b.ev0.assign(nev, nullptr);
    b.ev1.assign(nev, nullptr);
    for (size_t i = 0; i < nev; i++) {
        CUDA(cudaEventCreate(&b.ev0[i]));
        CUDA(cudaEventCreate(&b.ev1[i]));
    }
    b.check_scratch.alloc(bench_check_scratch_bytes());
    void *gate = nullptr;
    CUDA(cudaHostAlloc(&gate, sizeof(bench::gate_mem), cudaHostAllocMapped));
    memset(gate, 0, sizeof(bench::gate_mem));
    b.gate_host = (volatile bench::gate_mem *)gate;
    CUDA(cudaHostGetDevicePointer((void **)&b.gate_dev, gate, 0));
    size_t free_b = 0, total_b = 0;
    CUDA(cudaMemGetInfo(&free_b, &total_b));
    /* keep the whole run under 60 GB and leave 1 GiB for cuBLAS, graphs and the driver */
    const size_t reserve = (size_t)1 << 30;
    b.mem_budget = std::min((size_t)60e9, free_b > reserve ? free_b - reserve : 0);
}

/* Index of the configuration named or numbered `arg`, or -1. */

static void print_configs(FILE *f)
{
    fprintf(f, "compiled configurations:");
    for (int i = 0; i < w4a16_config_count(); i++) fprintf(f, " %d=%s", i, w4a16_config_name(i));
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    bench_opts opts;
    const int parsed = bench_parse_args(argc, argv, &opts);
    if (parsed > 0) return 0;
    if (parsed < 0) return 2;
    if (opts.config_mode == BENCH_CONFIG_FORCED && find_config(opts.config_arg) < 0) {
        fprintf(stderr, "w4a16-bench: --config %s: no compiled configuration has that name or index\n",
                opts.config_arg);
        print_configs(stderr);
        return 2;
    }
    if (opts.list_only) {
        bench_print_problems(stdout, &opts);
        print_configs(stdout);
        return 0;
    }

    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        printf("w4a16-bench: no usable CUDA device (cudaGetDeviceCount: %s): nothing to measure, skipping\n",
               e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 77;
    }
    if (opts.device >= count) {
        fprintf(stderr, "w4a16-bench: --device %d but only %d CUDA device(s) exist\n", opts.device, count);
        return 2;
    }
    bench b;
    b.o = &opts;
    w4a16_status st = w4a16_create(&b.h, opts.device);
    if (st == W4A16_ERROR_UNSUPPORTED_DEVICE) {
        printf("w4a16-bench: %s: nothing to measure, skipping\n", w4a16_last_error());
        return 77;
    }
    if (st != W4A16_SUCCESS) {
        fprintf(stderr, "w4a16-bench: w4a16_create failed: %s: %s\n", w4a16_status_string(st), w4a16_last_error());
        return 1;
    }
    if (opts.tune_cache_path && access(opts.tune_cache_path, F_OK) == 0 &&
        w4a16_tune_cache_load(b.h, opts.tune_cache_path) != W4A16_SUCCESS) {
        fprintf(stderr, "w4a16-bench: --tune-cache: %s\n", w4a16_last_error());
        return 2;
    }
    b.problem_total = opts.nm * opts.nshapes * opts.ndtypes * opts.ngroups * opts.nzeros;
    bool fatal = false;
    try {
        setup(b);
        fill_header(b);
        fprintf(stderr, "w4a16-bench: %d problem(s) on %s; measuring the memory ceiling\n", b.problem_total,
                b.hdr.gpu_name);
        measure_memory_ceiling(b);
        int shape_seq = 0;
        for (int di = 0; di < opts.ndtypes; di++)
            for (int zi = 0; zi < opts.nzeros; zi++)
                for (int gi = 0; gi < opts.ngroups; gi++)
                    for (int si = 0; si < opts.nshapes; si++)
                        run_shape(b, opts.shapes[si], opts.groups[gi], opts.dtypes[di], opts.zeros[zi],
                                  opts.seed * 1000003ull + (uint64_t)shape_seq++);
        measure_compute_ceiling(b);
    } catch (const bench_error &err) {
        fprintf(stderr, "w4a16-bench: fatal: %s\n", err.what());
        snprintf(b.hdr.notes + strlen(b.hdr.notes), sizeof b.hdr.notes - strlen(b.hdr.notes),
                 "FATAL: %s (the run stopped here)\n", err.what());
        if (b.hdr.compute_ceiling_tflops <= 0) {
            b.hdr.compute_ceiling_tflops = b.best_cublas_tflops;
            snprintf(b.hdr.compute_ceiling_how, sizeof b.hdr.compute_ceiling_how, "%s",
                     b.best_cublas_tflops > 0 ? b.best_cublas_where.c_str() : "the run stopped before measuring it");
        }
        fatal = true;
    }
    const int rc = finish(b, fatal);
    for (size_t i = 0; i < b.ev0.size(); i++) {
        if (b.ev0[i]) cudaEventDestroy(b.ev0[i]);
        if (b.ev1[i]) cudaEventDestroy(b.ev1[i]);
    }
    if (b.gate_host) cudaFreeHost((void *)b.gate_host);
    if (b.cb) cublasDestroy(b.cb);
    if (b.s) cudaStreamDestroy(b.s);
    w4a16_destroy(b.h);
    return rc;
}

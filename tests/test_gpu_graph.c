/* test_gpu_graph.c - w4a16_gemm inside CUDA graph capture (global mode: any allocation or
 * synchronization in the call would break the capture), then the graph replayed twice on a
 * stream, with new activations written into the same buffer before the second replay. Each
 * replay's output is poisoned first and checked element by element; the workspace must be all
 * zero after each replay (split-K configurations reuse it across replays). Every configuration
 * and the heuristic. Exit 77 ("SKIPPED") without an sm_90 device. */
#include "check.h"
#include "gpu_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    if (!gpu_have_sm90("test_gpu_graph")) return GPU_SKIP;
    w4a16_handle h;
    W4_OK(w4a16_create(&h, 0));
    cudaStream_t s;
    CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    static const struct {
        int64_t m, n, k, g;
        w4a16_dtype t;
        w4a16_zero_mode z;
        int bias, stride;
        float alpha;
    } cases[] = {
        {16, 1024, 2048, 128, W4A16_DTYPE_FP16, W4A16_ZEROS_INT, 1, 0, 1.0f}, /* few tiles: split-K */
        {3, 264, 640, 64, W4A16_DTYPE_FP16, W4A16_ZEROS_NONE, 0, 1, 1.0f},
        {200, 520, 1024, 64, W4A16_DTYPE_BF16, W4A16_ZEROS_FLOAT, 0, 1, 0.5f},
    };
    ref_rng rng = {0x6a7a9b1e5ULL};
    gpu_workspace ws = {NULL, 0};
    int replays = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        gpu_weights w;
        weights_make(&w, cases[ci].n, cases[ci].k, cases[ci].g, cases[ci].z, cases[ci].t, &rng);
        w4a16_problem p;
        W4_OK(w4a16_problem_init(&p, cases[ci].m, w.n, w.k, w.dtype, w.group, w.mode));
        p.alpha = cases[ci].alpha;
        if (cases[ci].stride) {
            p.lda += 8;
            p.ldd += 8;
        }
        const size_t a_bytes = 2 * (size_t)(p.m * p.lda);
        uint16_t *a[2] = {malloc(a_bytes), malloc(a_bytes)}, *bias = malloc(2 * (size_t)p.n);
        double *ref[2] = {malloc(sizeof(double) * (size_t)(p.m * p.n)), malloc(sizeof(double) * (size_t)(p.m * p.n))};
        if (!a[0] || !a[1] || !bias || !ref[0] || !ref[1]) return 1;
        ref_fill_uniform(&rng, p.dtype, bias, p.n, -1.0f, 1.0f);
        for (int r = 0; r < 2; r++) {
            ref_fill_uniform(&rng, p.dtype, a[r], p.m * p.lda, -1.0f, 1.0f);
            CHECK(ref_gemm_cpu(&p, a[r], w.q, w.scales, w.zeros, cases[ci].bias ? bias : NULL, ref[r]) == 0, "ref");
        }
        void *d_a = dev_alloc(a_bytes), *d_bias = dev_upload(bias, 2 * (size_t)p.n);
        gpu_output out;
        output_alloc(&out, p.m, p.ldd);
        for (int cfg = -1; cfg < w4a16_config_count(); cfg++) {
            char label[200];
            int chosen = -1;
            const int usable = gpu_select_config(h, &p, cfg, &chosen);
            CHECK(usable >= 0, "heuristic refused");
            if (usable <= 0) continue;
            snprintf(label, sizeof label, "graph M=%lld N=%lld K=%lld config %d (%s)", (long long)p.m, (long long)p.n,
                     (long long)p.k, cfg, w4a16_config_name(chosen));
            size_t need = 0;
            W4_OK(w4a16_workspace_size(h, &p, &need));
            CHECK(workspace_reserve(&ws, h, need) == 0, "%s: workspace not zero before growing", label);
            CUDA_OK(cudaDeviceSynchronize());

            cudaGraph_t graph = NULL;
            cudaGraphExec_t exec = NULL;
            CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
            const w4a16_status st = w4a16_gemm(h, &p, d_a, w.d_packed, w.d_scales, w.d_zeros,
                                               cases[ci].bias ? d_bias : NULL, out.dev, ws.dev, ws.bytes, s);
            const cudaError_t ce = cudaStreamEndCapture(s, &graph);
            CHECK(st == W4A16_SUCCESS, "%s: w4a16_gemm under capture: %s", label, w4a16_last_error());
            CHECK(ce == cudaSuccess, "%s: capture failed: %s", label, cudaGetErrorString(ce));
            if (st != W4A16_SUCCESS || ce != cudaSuccess) {
                (void)cudaGetLastError();
                if (graph) cudaGraphDestroy(graph);
                continue;
            }
            size_t nodes = 0;
            CUDA_OK(cudaGraphGetNodes(graph, NULL, &nodes));
            CHECK(nodes >= 1, "%s: empty graph", label);
            CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
            for (int r = 0; r < 2; r++, replays++) {
                char what[240];
                snprintf(what, sizeof what, "%s replay %d", label, r + 1);
                CUDA_OK(cudaMemcpyAsync(d_a, a[r], a_bytes, cudaMemcpyHostToDevice, s));
                output_poison(&out, s);
                CUDA_OK(cudaGraphLaunch(exec, s));
                CUDA_OK(cudaStreamSynchronize(s));
                output_download(&out);
                double worst = 0.0;
                CHECK(output_check(what, &p, &out, ref[r], &worst) == 0, "%s: wrong output (worst err/tol %.3g)", what,
                      worst);
                CHECK(workspace_check_zero(what, &ws) == 0, "%s: workspace not zeroed", what);
            }
            CUDA_OK(cudaGraphExecDestroy(exec));
            CUDA_OK(cudaGraphDestroy(graph));
        }
        printf("graph M=%lld N=%lld K=%lld %s zeros=%d: %s\n", (long long)p.m, (long long)p.n, (long long)p.k,
               p.dtype ? "bf16" : "fp16", (int)p.zero_mode, check_failures ? "FAILED so far" : "ok");
        output_free(&out);
        cudaFree(d_a);
        cudaFree(d_bias);
        free(a[0]);
        free(a[1]);
        free(bias);
        free(ref[0]);
        free(ref[1]);
        weights_free(&w);
    }
    printf("%d graph replays checked\n", replays);
    workspace_free(&ws);
    CUDA_OK(cudaStreamDestroy(s));
    w4a16_destroy(h);
    return check_exit_code("test_gpu_graph");
}

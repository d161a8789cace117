/* test_gpu_prep.c - the GPU weight preparation equals the host's byte for byte:
 * w4a16_quantize (q, scales, zeros; fp32/fp16/bf16 sources, fp16/bf16 scales, every zero mode
 * and group size), w4a16_pack (the whole packed tensor, header included), w4a16_unpack and
 * w4a16_dequantize (fp32/fp16/bf16 outputs). Device buffers are poisoned first, so a byte the
 * kernel forgets to write shows up. Exit 77 ("SKIPPED") without an sm_90 device. */
#include "check.h"
#include "gpu_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static w4a16_handle h;

static void *poisoned(size_t bytes)
{
    void *p = dev_alloc(bytes);
    CUDA_OK(cudaMemset(p, 0xa5, bytes));
    return p;
}

/* Compares a device buffer with a host one; prints the first difference. */
static void same_bytes(const char *label, const char *what, const void *dev, const void *host, size_t bytes)
{
    uint8_t *got = malloc(bytes ? bytes : 1);
    if (!got) exit(1);
    CUDA_OK(cudaDeviceSynchronize());
    dev_download(got, dev, bytes);
    size_t diff = 0, first = 0;
    for (size_t i = 0; i < bytes; i++)
        if (got[i] != ((const uint8_t *)host)[i] && diff++ == 0) first = i;
    CHECK(diff == 0, "%s: %s: %zu of %zu bytes differ, first at %zu (gpu 0x%02x, host 0x%02x)", label, what, diff,
          bytes, first, diff ? got[first] : 0, diff ? ((const uint8_t *)host)[first] : 0);
    free(got);
}

static size_t dsize(w4a16_dtype t) { return t == W4A16_DTYPE_FP32 ? 4 : 2; }
static const char *dname(w4a16_dtype t) { return t == W4A16_DTYPE_FP32 ? "fp32" : t == W4A16_DTYPE_BF16 ? "bf16" : "fp16"; }

static void one_case(int64_t n, int64_t k, int64_t g, w4a16_dtype src, w4a16_dtype sdt, w4a16_zero_mode z, ref_rng *rng)
{
    char label[160];
    snprintf(label, sizeof label, "N=%lld K=%lld g=%lld src=%s scales=%s zeros=%d", (long long)n, (long long)k,
             (long long)g, dname(src), dname(sdt), (int)z);
    const size_t nk = (size_t)(n * k), gn = (size_t)(k / g * n), zbytes = z == W4A16_ZEROS_INT ? gn : gn * dsize(sdt);
    /* Random weights; some rows get an offset so that one-signed groups occur. */
    float *wf = malloc(sizeof(float) * nk);
    void *w = malloc(nk * dsize(src));
    uint8_t *q = malloc(nk / 2);
    void *scales = malloc(gn * 2), *zeros = z ? malloc(zbytes) : NULL;
    if (!wf || !w || !q || !scales || (z && !zeros)) exit(1);
    ref_fill_uniform(rng, W4A16_DTYPE_FP32, wf, (int64_t)nk, -1.0f, 1.0f);
    for (int64_t r = 0; r < n; r += 3)
        for (int64_t c = 0; c < k; c++) wf[r * k + c] = wf[r * k + c] * 0.25f + (r % 2 ? 0.5f : -0.75f);
    if (src == W4A16_DTYPE_FP32) {
        memcpy(w, wf, nk * 4);
    } else {
        /* fp16/bf16 sources: the same values rounded to nearest even */
        for (size_t i = 0; i < nk; i++) ((uint16_t *)w)[i] = ref_bits_from_double(src, wf[i]);
    }
    W4_OK(w4a16_quantize_host(src, w, n, k, g, z, sdt, q, scales, zeros));

    void *d_w = dev_upload(w, nk * dsize(src));
    uint8_t *d_q = poisoned(nk / 2);
    void *d_s = poisoned(gn * 2), *d_z = z ? poisoned(zbytes) : NULL;
    W4_OK(w4a16_quantize(h, src, d_w, n, k, g, z, sdt, d_q, d_s, d_z, NULL));
    same_bytes(label, "quantize q", d_q, q, nk / 2);
    same_bytes(label, "quantize scales", d_s, scales, gn * 2);
    if (z) same_bytes(label, "quantize zeros", d_z, zeros, zbytes);

    /* pack / unpack (from the host's q, uploaded, so a quantize difference does not cascade) */
    size_t pbytes = 0;
    W4_OK(w4a16_packed_size(n, k, &pbytes));
    uint8_t *packed = malloc(pbytes);
    if (!packed) exit(1);
    W4_OK(w4a16_pack_host(q, n, k, packed, pbytes));
    uint8_t *d_qh = dev_upload(q, nk / 2);
    void *d_packed = poisoned(pbytes);
    W4_OK(w4a16_pack(h, d_qh, n, k, d_packed, pbytes, NULL));
    same_bytes(label, "pack", d_packed, packed, pbytes);
    uint8_t *d_back = poisoned(nk / 2);
    void *d_packed_host = dev_upload(packed, pbytes);
    W4_OK(w4a16_unpack(h, d_packed_host, pbytes, n, k, d_back, nk / 2, NULL));
    same_bytes(label, "unpack", d_back, q, nk / 2);

    /* dequantize to every output dtype */
    void *d_sh = dev_upload(scales, gn * 2), *d_zh = z ? dev_upload(zeros, zbytes) : NULL;
    for (int ot = 0; ot < 3; ot++) {
        const w4a16_dtype odt = (w4a16_dtype)ot;
        void *out = malloc(nk * dsize(odt));
        if (!out) exit(1);
        W4_OK(w4a16_dequantize_host(q, n, k, g, z, sdt, scales, zeros, odt, out));
        void *d_out = poisoned(nk * dsize(odt));
        W4_OK(w4a16_dequantize(h, d_qh, n, k, g, z, sdt, d_sh, d_zh, odt, d_out, NULL));
        char what[64];
        snprintf(what, sizeof what, "dequantize to %s", dname(odt));
        same_bytes(label, what, d_out, out, nk * dsize(odt));
        cudaFree(d_out);
        free(out);
    }
    cudaFree(d_w);
    cudaFree(d_q);
    cudaFree(d_s);
    cudaFree(d_z);
    cudaFree(d_qh);
    cudaFree(d_packed);
    cudaFree(d_back);
    cudaFree(d_packed_host);
    cudaFree(d_sh);
    cudaFree(d_zh);
    free(wf);
    free(w);
    free(q);
    free(scales);
    free(zeros);
    free(packed);
}

int main(void)
{
    if (!gpu_have_sm90("test_gpu_prep")) return GPU_SKIP;
    W4_OK(w4a16_create(&h, 0));
    /* the last three only with W4A16_TEST_LONG=1 */
    static const struct { int64_t n, k, g; } shapes[] = {
        {72, 200, 200},   {136, 384, 128},  {136, 384, 64},   {8, 8, 8},         {264, 72, 72},
        {1024, 2048, 128}, {4096, 4096, 128}, {7392, 1024, 64}, {256, 8192, 8192},
    };
    const size_t n_shapes = gpu_long_tier() ? 9 : 6;
    ref_rng rng = {0x9a9a9a9a1ULL};
    int cases = 0;
    for (size_t i = 0; i < n_shapes; i++) {
        const int before = check_failures;
        for (int src = 0; src < 3; src++)
            for (int sdt = 0; sdt < 2; sdt++)
                for (int z = 0; z < 3; z++, cases++)
                    one_case(shapes[i].n, shapes[i].k, shapes[i].g, (w4a16_dtype)src, (w4a16_dtype)sdt,
                             (w4a16_zero_mode)z, &rng);
        printf("N=%lld K=%lld g=%lld: %s\n", (long long)shapes[i].n, (long long)shapes[i].k, (long long)shapes[i].g,
               check_failures == before ? "ok" : "FAILED");
    }
    printf("%d cases (source dtype x scale dtype x zero mode x shape)\n", cases);
    w4a16_destroy(h);
    return check_exit_code("test_gpu_prep");
}

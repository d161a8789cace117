/* test_validation.c - every bad argument of every public function returns the documented
 * status and a non-empty w4a16_last_error() message (table-driven). GPU functions are called
 * on an offline handle (w4a16_create_offline): they validate exactly as with a device, then
 * return W4A16_ERROR_NO_DEVICE, so this runs without a GPU. Device pointers are fake (never
 * dereferenced before the offline check) and 16-byte aligned unless a row misaligns them. */
#include "check.h"
#include "w4a16.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FAKE ((void *)(uintptr_t)0x10000)   /* a 16-byte aligned "device pointer" */
#define FAKE_MIS ((void *)(uintptr_t)0x10002) /* the same, misaligned by 2 bytes */

static const char *sname(w4a16_status s) { return w4a16_status_string(s); }

/* Checks the status of one call, and its message: non-empty (containing `needle` if given)
 * on failure, empty on success. */
static void expect(const char *what, w4a16_status got, w4a16_status want, const char *needle)
{
    const char *msg = w4a16_last_error();
    CHECK(got == want, "%s: got %s, want %s (message: \"%s\")", what, sname(got), sname(want), msg);
    if (want == W4A16_SUCCESS) {
        CHECK(msg[0] == '\0', "%s: succeeded but left the message \"%s\"", what, msg);
    } else {
        CHECK(msg[0] != '\0', "%s: %s with an empty message", what, sname(got));
        if (needle) CHECK(strstr(msg, needle) != NULL, "%s: message \"%s\" does not mention \"%s\"", what, msg, needle);
    }
}

/* Makes the thread's last message non-empty, so that a success is seen to clear it. */
static void dirty(void) { (void)w4a16_q_size(-1, -1, NULL); }

static w4a16_handle offline;
static const w4a16_device_info h100 = {0, 9, 0, 132, 232448, 52428800};

/* ---- library, handle ------------------------------------------------------------------ */

static void test_library_and_handles(void)
{
    CHECK(w4a16_version() == W4A16_VERSION_MAJOR * 10000 + W4A16_VERSION_MINOR * 100 + W4A16_VERSION_PATCH,
          "version %d", w4a16_version());
    for (int s = W4A16_SUCCESS; s <= W4A16_ERROR_IO; s++) {
        const char *name = w4a16_status_string((w4a16_status)s);
        CHECK(name && strncmp(name, "W4A16_", 6) == 0, "status %d has name %s", s, name ? name : "(null)");
        for (int t = W4A16_SUCCESS; t < s; t++)
            CHECK(strcmp(name, w4a16_status_string((w4a16_status)t)) != 0, "statuses %d and %d share a name", s, t);
    }
    CHECK(strcmp(w4a16_status_string((w4a16_status)99), "unknown status") == 0, "status 99");
    CHECK(strcmp(w4a16_status_string((w4a16_status)-1), "unknown status") == 0, "status -1");

    w4a16_handle h = (w4a16_handle)FAKE;
    w4a16_device_info info = h100;
    expect("create_offline(out NULL)", w4a16_create_offline(NULL, &info), W4A16_ERROR_NULL_POINTER, "out");
    expect("create_offline(info NULL)", w4a16_create_offline(&h, NULL), W4A16_ERROR_NULL_POINTER, "info");
    CHECK(h == NULL, "create_offline failure leaves *out non-NULL");
    static const struct { const char *what; int major, minor, sms, smem, l2; w4a16_status want; const char *needle; } infos[] = {
        {"sm_80", 8, 0, 108, 166912, 41943040, W4A16_ERROR_UNSUPPORTED_DEVICE, "8.0"},
        {"sm_89", 8, 9, 128, 101376, 75497472, W4A16_ERROR_UNSUPPORTED_DEVICE, "8.9"},
        {"sm_100", 10, 0, 148, 232448, 52428800, W4A16_ERROR_UNSUPPORTED_DEVICE, "10.0"},
        {"sm_91", 9, 1, 132, 232448, 52428800, W4A16_ERROR_UNSUPPORTED_DEVICE, "9.1"},
        {"0 SMs", 9, 0, 0, 232448, 52428800, W4A16_ERROR_INVALID_VALUE, "sm_count"},
        {"no smem", 9, 0, 132, 0, 52428800, W4A16_ERROR_INVALID_VALUE, "smem"},
        {"negative L2", 9, 0, 132, 232448, -1, W4A16_ERROR_INVALID_VALUE, "l2"},
    };
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++) {
        w4a16_device_info bad = {0, infos[i].major, infos[i].minor, infos[i].sms, infos[i].smem, infos[i].l2};
        h = (w4a16_handle)FAKE;
        expect(infos[i].what, w4a16_create_offline(&h, &bad), infos[i].want, infos[i].needle);
        CHECK(h == NULL, "%s: *out not NULL after failure", infos[i].what);
    }
    dirty();
    expect("create_offline(H100)", w4a16_create_offline(&offline, &info), W4A16_SUCCESS, NULL);
    CHECK(offline != NULL, "no offline handle");

    w4a16_device_info got;
    memset(&got, 0, sizeof got);
    expect("get_device_info(handle NULL)", w4a16_get_device_info(NULL, &got), W4A16_ERROR_NULL_POINTER, "handle");
    expect("get_device_info(info NULL)", w4a16_get_device_info(offline, NULL), W4A16_ERROR_NULL_POINTER, "info");
    dirty();
    expect("get_device_info", w4a16_get_device_info(offline, &got), W4A16_SUCCESS, NULL);
    CHECK(memcmp(&got, &h100, sizeof got) == 0, "get_device_info does not return the offline info");

    /* w4a16_create: argument errors, and no crash without a GPU (an error status then). */
    expect("create(out NULL)", w4a16_create(NULL, 0), W4A16_ERROR_NULL_POINTER, "out");
    h = (w4a16_handle)FAKE;
    expect("create(device -1)", w4a16_create(&h, -1), W4A16_ERROR_INVALID_VALUE, "device=-1");
    CHECK(h == NULL, "create failure leaves *out non-NULL");
    int count = 0;
    const int have_gpu = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
    h = (w4a16_handle)FAKE;
    w4a16_status st = w4a16_create(&h, 1000);
    CHECK(st == (have_gpu ? W4A16_ERROR_INVALID_VALUE : W4A16_ERROR_CUDA), "create(device 1000): %s", sname(st));
    CHECK(w4a16_last_error()[0] != '\0' && h == NULL, "create(device 1000): message or *out");
    h = (w4a16_handle)FAKE;
    st = w4a16_create(&h, 0);
    if (!have_gpu) {
        CHECK(st == W4A16_ERROR_CUDA && h == NULL && w4a16_last_error()[0] != '\0',
              "create(0) without a GPU: %s \"%s\"", sname(st), w4a16_last_error());
        printf("w4a16_create(0) without a GPU: %s \"%s\"\n", sname(st), w4a16_last_error());
    } else {
        struct cudaDeviceProp prop;
        const int hopper = cudaGetDeviceProperties(&prop, 0) == cudaSuccess && prop.major == 9 && prop.minor == 0;
        CHECK(st == (hopper ? W4A16_SUCCESS : W4A16_ERROR_UNSUPPORTED_DEVICE), "create(0) with a GPU: %s \"%s\"",
              sname(st), w4a16_last_error());
        if (st == W4A16_SUCCESS) {
            CHECK(w4a16_get_device_info(h, &got) == W4A16_SUCCESS && got.cc_major == 9 && got.sm_count > 0 &&
                      got.l2_bytes > 0 && got.smem_optin_bytes > 0,
                  "device info of device 0");
            w4a16_destroy(h);
        }
    }
    dirty();
    expect("destroy(NULL)", w4a16_destroy(NULL), W4A16_SUCCESS, NULL);
    expect("problem_init(NULL)", w4a16_problem_init(NULL, 1, 8, 64, W4A16_DTYPE_FP16, 64, W4A16_ZEROS_NONE),
           W4A16_ERROR_NULL_POINTER, "problem");

    CHECK(w4a16_config_count() >= 1, "config_count %d", w4a16_config_count());
    CHECK(w4a16_config_name(-1) == NULL && w4a16_config_name(w4a16_config_count()) == NULL, "config_name out of range");
    for (int i = 0; i < w4a16_config_count(); i++)
        CHECK(w4a16_config_name(i) && w4a16_config_name(i)[0], "config %d has no name", i);
}

/* ---- problems: check_problem, select_config, workspace_size, gemm ----------------------- */

enum pfield { P_NONE, P_M, P_N, P_K, P_DTYPE, P_GROUP, P_ZEROS, P_LDA, P_LDD, P_ALPHA, P_CONFIG, P_NK, P_PDL };

typedef struct {
    const char *what;
    enum pfield field;
    double value;
    w4a16_status want; /* of w4a16_check_problem; SUCCESS rows make GPU calls return NO_DEVICE */
    const char *needle;
} problem_row;

/* Base problem: M=16 N=256 K=512 fp16 group 128 integer zeros. */
static const problem_row problem_rows[] = {
    {"valid", P_NONE, 0, W4A16_SUCCESS, NULL},
    {"M=0 (no-op)", P_M, 0, W4A16_SUCCESS, NULL},
    {"M=2^31-1", P_M, 2147483647.0, W4A16_SUCCESS, NULL},
    {"group=K (per-channel)", P_GROUP, 512, W4A16_SUCCESS, NULL},
    {"group=64", P_GROUP, 64, W4A16_SUCCESS, NULL},
    {"lda=K+8", P_LDA, 520, W4A16_SUCCESS, NULL},
    {"ldd=N+8", P_LDD, 264, W4A16_SUCCESS, NULL},
    {"bf16", P_DTYPE, W4A16_DTYPE_BF16, W4A16_SUCCESS, NULL},
    {"alpha=0", P_ALPHA, 0.0, W4A16_SUCCESS, NULL},
    {"M=-1", P_M, -1, W4A16_ERROR_INVALID_SHAPE, "M=-1"},
    {"M=2^31", P_M, 2147483648.0, W4A16_ERROR_INVALID_SHAPE, "M=2147483648"},
    {"N=0", P_N, 0, W4A16_ERROR_INVALID_SHAPE, "N=0"},
    {"N=-8", P_N, -8, W4A16_ERROR_INVALID_SHAPE, "N=-8"},
    {"N=100", P_N, 100, W4A16_ERROR_INVALID_SHAPE, "N=100 is not a multiple of 8"},
    {"N=2^31", P_N, 2147483648.0, W4A16_ERROR_INVALID_SHAPE, "N=2147483648"},
    {"K=0", P_K, 0, W4A16_ERROR_INVALID_SHAPE, "K=0"},
    {"K=100", P_K, 100, W4A16_ERROR_INVALID_SHAPE, "K=100 is not a multiple of 8"},
    {"K=4100", P_K, 4100, W4A16_ERROR_INVALID_SHAPE, "K=4100 is not a multiple of 8"},
    {"K=4160 with group 128", P_K, 4160, W4A16_ERROR_INVALID_SHAPE, "K=4160 is not a multiple of group_size=128"},
    {"N*K above 2^41", P_NK, 2097152.0, W4A16_ERROR_INVALID_SHAPE, "N*K"},
    {"group=32", P_GROUP, 32, W4A16_ERROR_INVALID_SHAPE, "group_size=32"},
    {"group=0", P_GROUP, 0, W4A16_ERROR_INVALID_SHAPE, "group_size=0"},
    {"group=-128", P_GROUP, -128, W4A16_ERROR_INVALID_SHAPE, "group_size=-128"},
    {"group=256 (not K)", P_GROUP, 256, W4A16_ERROR_INVALID_SHAPE, "group_size=256"},
    {"dtype FP32", P_DTYPE, W4A16_DTYPE_FP32, W4A16_ERROR_INVALID_VALUE, "dtype"},
    {"dtype 7", P_DTYPE, 7, W4A16_ERROR_INVALID_VALUE, "dtype"},
    {"dtype -1", P_DTYPE, -1, W4A16_ERROR_INVALID_VALUE, "dtype"},
    {"zero_mode 3", P_ZEROS, 3, W4A16_ERROR_INVALID_VALUE, "zero_mode"},
    {"zero_mode -1", P_ZEROS, -1, W4A16_ERROR_INVALID_VALUE, "zero_mode"},
    {"lda<K", P_LDA, 504, W4A16_ERROR_INVALID_SHAPE, "lda=504"},
    {"lda=0", P_LDA, 0, W4A16_ERROR_INVALID_SHAPE, "lda=0"},
    {"lda=2^31", P_LDA, 2147483648.0, W4A16_ERROR_INVALID_SHAPE, "lda"},
    {"ldd<N", P_LDD, 248, W4A16_ERROR_INVALID_SHAPE, "ldd=248"},
    {"ldd=2^31", P_LDD, 2147483648.0, W4A16_ERROR_INVALID_SHAPE, "ldd"},
    {"lda%8", P_LDA, 516, W4A16_ERROR_MISALIGNED, "lda=516"},
    {"ldd%8", P_LDD, 260, W4A16_ERROR_MISALIGNED, "ldd=260"},
    {"alpha NaN", P_ALPHA, NAN, W4A16_ERROR_INVALID_VALUE, "alpha"},
    {"alpha +inf", P_ALPHA, INFINITY, W4A16_ERROR_INVALID_VALUE, "alpha"},
    {"alpha -inf", P_ALPHA, -INFINITY, W4A16_ERROR_INVALID_VALUE, "alpha"},
    {"config -2", P_CONFIG, -2, W4A16_ERROR_INVALID_VALUE, "config=-2"},
    {"config = count", P_CONFIG, -100, W4A16_ERROR_INVALID_VALUE, "config="}, /* -100: replaced by count */
    {"config = 1000", P_CONFIG, 1000, W4A16_ERROR_INVALID_VALUE, "config=1000"},
    {"pdl=1", P_PDL, 1, W4A16_SUCCESS, NULL},
    {"pdl=2", P_PDL, 2, W4A16_ERROR_INVALID_VALUE, "pdl=2 is not 0 or 1"},
    {"pdl=-1", P_PDL, -1, W4A16_ERROR_INVALID_VALUE, "pdl=-1"},
};

static w4a16_problem base_problem(void)
{
    w4a16_problem p;
    w4a16_problem_init(&p, 16, 256, 512, W4A16_DTYPE_FP16, 128, W4A16_ZEROS_INT);
    return p;
}

static w4a16_problem apply_problem_row(const problem_row *r)
{
    w4a16_problem p = base_problem();
    const int64_t v = (r->value == r->value && fabs(r->value) < 1e18) ? (int64_t)r->value : 0;
    switch (r->field) {
    case P_NONE: break;
    case P_M: p.m = v; break;
    case P_N: p.n = v; p.ldd = v > p.ldd ? v : p.ldd; break;
    case P_K: p.k = v; p.lda = v > p.lda ? v : p.lda; break;
    case P_NK: p.n = v; p.k = v; p.lda = v; p.ldd = v; break;
    case P_DTYPE: p.dtype = (w4a16_dtype)v; break;
    case P_GROUP: p.group_size = v; break;
    case P_ZEROS: p.zero_mode = (w4a16_zero_mode)v; break;
    case P_LDA: p.lda = v; break;
    case P_LDD: p.ldd = v; break;
    case P_ALPHA: p.alpha = (float)r->value; break;
    case P_CONFIG: p.config = v == -100 ? w4a16_config_count() : (int)v; break;
    case P_PDL: p.pdl = (int)v; break;
    }
    return p;
}

/* The gemm's pointer arguments, and the rows that break one of them. */
typedef struct {
    w4a16_handle h;
    const w4a16_problem *p;
    const void *a, *w, *scales, *zeros, *bias;
    void *d, *ws;
    size_t ws_bytes;
} gemm_call;

static w4a16_status run_gemm(const gemm_call *c)
{
    return w4a16_gemm(c->h, c->p, c->a, c->w, c->scales, c->zeros, c->bias, c->d, c->ws, c->ws_bytes, NULL);
}

enum gfield { G_HANDLE, G_PROBLEM, G_A, G_W, G_SCALES, G_ZEROS, G_BIAS, G_D };
enum pval { V_NULL, V_MIS, V_FAKE };

static const struct {
    const char *what;
    enum gfield field;
    enum pval value;
    w4a16_zero_mode mode;
    w4a16_status want;
    const char *needle;
} gemm_rows[] = {
    {"handle NULL", G_HANDLE, V_NULL, W4A16_ZEROS_INT, W4A16_ERROR_NULL_POINTER, "handle"},
    {"problem NULL", G_PROBLEM, V_NULL, W4A16_ZEROS_INT, W4A16_ERROR_NULL_POINTER, "problem"},
    {"a NULL", G_A, V_NULL, W4A16_ZEROS_INT, W4A16_ERROR_NULL_POINTER, "a is NULL"},
    {"a+2", G_A, V_MIS, W4A16_ZEROS_INT, W4A16_ERROR_MISALIGNED, "a="},
    {"w_packed NULL", G_W, V_NULL, W4A16_ZEROS_INT, W4A16_ERROR_NULL_POINTER, "w_packed"},
    {"w_packed+2", G_W, V_MIS, W4A16_ZEROS_INT, W4A16_ERROR_MISALIGNED, "w_packed"},
    {"scales NULL", G_SCALES, V_NULL, W4A16_ZEROS_INT, W4A16_ERROR_NULL_POINTER, "scales"},
    {"scales+2", G_SCALES, V_MIS, W4A16_ZEROS_INT, W4A16_ERROR_MISALIGNED, "scales"},
    {"INT zeros NULL", G_ZEROS, V_NULL, W4A16_ZEROS_INT, W4A16_ERROR_NULL_POINTER, "zeros"},
    {"INT zeros+2", G_ZEROS, V_MIS, W4A16_ZEROS_INT, W4A16_ERROR_MISALIGNED, "zeros"},
    {"FLOAT zeros NULL", G_ZEROS, V_NULL, W4A16_ZEROS_FLOAT, W4A16_ERROR_NULL_POINTER, "zeros"},
    {"FLOAT zeros+2", G_ZEROS, V_MIS, W4A16_ZEROS_FLOAT, W4A16_ERROR_MISALIGNED, "zeros"},
    {"NONE with zeros", G_ZEROS, V_FAKE, W4A16_ZEROS_NONE, W4A16_ERROR_INVALID_VALUE, "zeros must be NULL"},
    {"NONE without zeros", G_ZEROS, V_NULL, W4A16_ZEROS_NONE, W4A16_ERROR_NO_DEVICE, NULL},
    {"bias NULL (allowed)", G_BIAS, V_NULL, W4A16_ZEROS_INT, W4A16_ERROR_NO_DEVICE, NULL},
    {"bias+2", G_BIAS, V_MIS, W4A16_ZEROS_INT, W4A16_ERROR_MISALIGNED, "bias"},
    {"d NULL", G_D, V_NULL, W4A16_ZEROS_INT, W4A16_ERROR_NULL_POINTER, "d is NULL"},
    {"d+2", G_D, V_MIS, W4A16_ZEROS_INT, W4A16_ERROR_MISALIGNED, "d="},
};

static gemm_call valid_gemm(const w4a16_problem *p, size_t ws_bytes)
{
    gemm_call c = {offline, p, FAKE, FAKE, FAKE, p->zero_mode == W4A16_ZEROS_NONE ? NULL : FAKE, FAKE, FAKE,
                   ws_bytes ? FAKE : NULL, ws_bytes};
    return c;
}

static void test_problems(void)
{
    char what[160];
    for (size_t i = 0; i < sizeof problem_rows / sizeof problem_rows[0]; i++) {
        const problem_row *r = &problem_rows[i];
        const w4a16_problem p = apply_problem_row(r);
        const w4a16_status gpu_want = r->want == W4A16_SUCCESS ? W4A16_ERROR_NO_DEVICE : r->want;
        dirty();
        snprintf(what, sizeof what, "check_problem(%s)", r->what);
        expect(what, w4a16_check_problem(&p), r->want, r->needle);

        int chosen = -7;
        dirty();
        snprintf(what, sizeof what, "select_config(%s)", r->what);
        const w4a16_status sel = w4a16_select_config(offline, &p, &chosen);
        if (r->want == W4A16_SUCCESS) {
            /* a valid problem: the heuristic must find a configuration that runs it */
            expect(what, sel, W4A16_SUCCESS, NULL);
            CHECK(chosen >= 0 && chosen < w4a16_config_count(), "%s: chosen %d", what, chosen);
        } else {
            expect(what, sel, r->want, r->needle);
        }

        size_t ws = (size_t)-1;
        dirty();
        snprintf(what, sizeof what, "workspace_size(%s)", r->what);
        expect(what, w4a16_workspace_size(offline, &p, &ws), r->want, r->needle);

        const gemm_call c = valid_gemm(&p, r->want == W4A16_SUCCESS ? ws : 0);
        snprintf(what, sizeof what, "gemm(%s)", r->what);
        expect(what, run_gemm(&c), gpu_want, r->needle);
    }

    /* NULL handle / problem / out-parameter for the planning functions. */
    const w4a16_problem p = base_problem();
    int chosen;
    size_t ws;
    expect("check_problem(NULL)", w4a16_check_problem(NULL), W4A16_ERROR_NULL_POINTER, "problem");
    expect("select_config(handle NULL)", w4a16_select_config(NULL, &p, &chosen), W4A16_ERROR_NULL_POINTER, "handle");
    expect("select_config(problem NULL)", w4a16_select_config(offline, NULL, &chosen), W4A16_ERROR_NULL_POINTER,
           "problem");
    expect("select_config(chosen NULL)", w4a16_select_config(offline, &p, NULL), W4A16_ERROR_NULL_POINTER, "chosen");
    expect("workspace_size(handle NULL)", w4a16_workspace_size(NULL, &p, &ws), W4A16_ERROR_NULL_POINTER, "handle");
    expect("workspace_size(problem NULL)", w4a16_workspace_size(offline, NULL, &ws), W4A16_ERROR_NULL_POINTER,
           "problem");
    expect("workspace_size(bytes NULL)", w4a16_workspace_size(offline, &p, NULL), W4A16_ERROR_NULL_POINTER, "bytes");

    /* Pointer rows of the gemm. */
    for (size_t i = 0; i < sizeof gemm_rows / sizeof gemm_rows[0]; i++) {
        w4a16_problem q = base_problem();
        q.zero_mode = gemm_rows[i].mode;
        size_t need = 0;
        CHECK(w4a16_workspace_size(offline, &q, &need) == W4A16_SUCCESS, "workspace_size");
        gemm_call c = valid_gemm(&q, need);
        void *v = gemm_rows[i].value == V_NULL ? NULL : gemm_rows[i].value == V_MIS ? FAKE_MIS : FAKE;
        switch (gemm_rows[i].field) {
        case G_HANDLE: c.h = NULL; break;
        case G_PROBLEM: c.p = NULL; break;
        case G_A: c.a = v; break;
        case G_W: c.w = v; break;
        case G_SCALES: c.scales = v; break;
        case G_ZEROS: c.zeros = v; break;
        case G_BIAS: c.bias = v; break;
        case G_D: c.d = v; break;
        }
        snprintf(what, sizeof what, "gemm(%s)", gemm_rows[i].what);
        expect(what, run_gemm(&c), gemm_rows[i].want, gemm_rows[i].needle);
    }

    /* Every configuration forced: either it runs the problem (then the gemm gets as far as the
     * device check, and a short workspace is refused) or select_config and gemm refuse it alike. */
    const int64_t ms[] = {0, 1, 16, 129, 8192};
    int workspace_rows = 0;
    for (int cfg = -1; cfg < w4a16_config_count(); cfg++)
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
            w4a16_problem q = base_problem();
            q.m = ms[mi];
            q.config = cfg;
            int ch = -7;
            size_t need = 0;
            const w4a16_status sel = w4a16_select_config(offline, &q, &ch);
            snprintf(what, sizeof what, "config %d (%s) M=%lld", cfg, cfg < 0 ? "heuristic" : w4a16_config_name(cfg),
                     (long long)q.m);
            if (sel != W4A16_SUCCESS) {
                CHECK(sel == W4A16_ERROR_INVALID_VALUE, "%s: select_config %s", what, sname(sel));
                CHECK(w4a16_last_error()[0] != '\0', "%s: select_config: empty message", what);
                const gemm_call c = valid_gemm(&q, 0);
                expect(what, run_gemm(&c), sel, NULL);
                continue;
            }
            CHECK(cfg < 0 || ch == cfg, "%s: select_config chose %d", what, ch);
            CHECK(w4a16_workspace_size(offline, &q, &need) == W4A16_SUCCESS, "%s: workspace_size", what);
            gemm_call c = valid_gemm(&q, need);
            expect(what, run_gemm(&c), W4A16_ERROR_NO_DEVICE, "offline");
            if (need == 0) continue;
            workspace_rows++;
            c.ws_bytes = need - 1;
            expect(what, run_gemm(&c), W4A16_ERROR_WORKSPACE_TOO_SMALL, "workspace_bytes");
            c.ws_bytes = 0;
            expect(what, run_gemm(&c), W4A16_ERROR_WORKSPACE_TOO_SMALL, "workspace_bytes");
            c.ws_bytes = need;
            c.ws = NULL;
            expect(what, run_gemm(&c), W4A16_ERROR_NULL_POINTER, "workspace");
            c.ws = FAKE_MIS;
            expect(what, run_gemm(&c), W4A16_ERROR_MISALIGNED, "workspace");
        }
    if (!workspace_rows)
        printf("note: no configuration needs a workspace for the base problem; workspace-size rows not exercised\n");

    /* Act-order k_perm: the workspace grows by the gathered activations (after the
     * configuration's own part, 256-aligned), a short one and a misaligned k_perm are refused. */
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
        w4a16_problem q = base_problem();
        q.m = ms[mi];
        CHECK(q.k_perm == NULL && q.pdl == 0, "problem_init: k_perm not NULL or pdl not 0");
        size_t plain = 0, with_perm = 0;
        CHECK(w4a16_workspace_size(offline, &q, &plain) == W4A16_SUCCESS, "workspace_size(M=%lld)", (long long)q.m);
        q.k_perm = (const int32_t *)FAKE;
        CHECK(w4a16_workspace_size(offline, &q, &with_perm) == W4A16_SUCCESS, "workspace_size(k_perm)");
        const size_t want = q.m == 0 ? plain : (plain + 255) / 256 * 256 + (size_t)(q.m * q.k * 2);
        CHECK(with_perm == want, "M=%lld: workspace with k_perm %zu, want %zu (%zu without)", (long long)q.m,
              with_perm, want, plain);
        snprintf(what, sizeof what, "gemm(k_perm, M=%lld)", (long long)q.m);
        gemm_call c = valid_gemm(&q, with_perm);
        expect(what, run_gemm(&c), W4A16_ERROR_NO_DEVICE, "offline");
        if (q.m == 0) continue;
        c.ws_bytes = with_perm - 1;
        expect(what, run_gemm(&c), W4A16_ERROR_WORKSPACE_TOO_SMALL, "k_perm");
        c.ws_bytes = with_perm;
        q.k_perm = (const int32_t *)FAKE_MIS;
        expect(what, run_gemm(&c), W4A16_ERROR_MISALIGNED, "k_perm");
    }

    /* workspace_init */
    expect("workspace_init(handle NULL)", w4a16_workspace_init(NULL, FAKE, 64, NULL), W4A16_ERROR_NULL_POINTER, "handle");
    expect("workspace_init(ws NULL)", w4a16_workspace_init(offline, NULL, 64, NULL), W4A16_ERROR_NULL_POINTER, "workspace");
    expect("workspace_init(ws+2)", w4a16_workspace_init(offline, FAKE_MIS, 64, NULL), W4A16_ERROR_MISALIGNED, "workspace");
    expect("workspace_init(offline)", w4a16_workspace_init(offline, FAKE, 64, NULL), W4A16_ERROR_NO_DEVICE, "offline");
    dirty();
    expect("workspace_init(0 bytes)", w4a16_workspace_init(offline, NULL, 0, NULL), W4A16_SUCCESS, NULL);
}

/* ---- weight preparation: quantize, dequantize, pack, unpack; host and GPU ---------------- */

enum qfield { Q_NONE, Q_WDT, Q_W, Q_N, Q_K, Q_G, Q_ZMODE, Q_SDT, Q_Q, Q_SCALES, Q_ZEROS, Q_NONFINITE };

typedef struct {
    const char *what;
    enum qfield field;
    int value;         /* a dtype / mode / size, a pval for pointer fields, or the non-finite kind */
    w4a16_zero_mode mode;
    w4a16_status want_host, want_gpu; /* W4A16_SUCCESS for GPU means NO_DEVICE (offline) */
    const char *needle;
    int skip_host;     /* misaligned pointers: the host functions need no alignment; not called */
} quant_row;

#define ZI W4A16_ZEROS_INT
#define ZN W4A16_ZEROS_NONE
#define ZF W4A16_ZEROS_FLOAT
#define OK W4A16_SUCCESS
#define NP W4A16_ERROR_NULL_POINTER
#define IV W4A16_ERROR_INVALID_VALUE
#define IS W4A16_ERROR_INVALID_SHAPE
#define MA W4A16_ERROR_MISALIGNED

/* Base: w [16, 128] fp32, group 64, scales fp16, the row's zero mode. */
static const quant_row quant_rows[] = {
    {"valid NONE", Q_NONE, 0, ZN, OK, OK, NULL, 0},
    {"valid INT", Q_NONE, 0, ZI, OK, OK, NULL, 0},
    {"valid FLOAT", Q_NONE, 0, ZF, OK, OK, NULL, 0},
    {"w fp16", Q_WDT, W4A16_DTYPE_FP16, ZI, OK, OK, NULL, 0},
    {"w bf16", Q_WDT, W4A16_DTYPE_BF16, ZI, OK, OK, NULL, 0},
    {"scales bf16", Q_SDT, W4A16_DTYPE_BF16, ZF, OK, OK, NULL, 0},
    {"group = K", Q_G, 128, ZI, OK, OK, NULL, 0},
    {"w dtype 3", Q_WDT, 3, ZI, IV, IV, "dtype", 0},
    {"w dtype -1", Q_WDT, -1, ZI, IV, IV, "dtype", 0},
    {"scale dtype FP32", Q_SDT, W4A16_DTYPE_FP32, ZI, IV, IV, "scale_dtype", 0},
    {"scale dtype 9", Q_SDT, 9, ZI, IV, IV, "scale_dtype", 0},
    {"zero mode 3", Q_ZMODE, 3, ZI, IV, IV, "zero_mode", 0},
    {"N=0", Q_N, 0, ZI, IS, IS, "N=0", 0},
    {"N=12", Q_N, 12, ZI, IS, IS, "N=12", 0},
    {"N=-16", Q_N, -16, ZI, IS, IS, "N=-16", 0},
    {"K=0", Q_K, 0, ZI, IS, IS, "K=0", 0},
    {"K=124", Q_K, 124, ZI, IS, IS, "K=124", 0},
    {"K=96 with group 64", Q_K, 96, ZI, IS, IS, "K=96 is not a multiple of group_size=64", 0},
    {"group 32", Q_G, 32, ZI, IS, IS, "group_size=32", 0},
    {"group 0", Q_G, 0, ZI, IS, IS, "group_size=0", 0},
    {"w NULL", Q_W, V_NULL, ZI, NP, NP, "w is NULL", 0},
    {"q NULL", Q_Q, V_NULL, ZI, NP, NP, "q is NULL", 0},
    {"scales NULL", Q_SCALES, V_NULL, ZI, NP, NP, "scales is NULL", 0},
    {"INT zeros NULL", Q_ZEROS, V_NULL, ZI, NP, NP, "zeros", 0},
    {"FLOAT zeros NULL", Q_ZEROS, V_NULL, ZF, NP, NP, "zeros", 0},
    {"NONE with zeros", Q_ZEROS, V_FAKE, ZN, IV, IV, "zeros must be NULL", 0},
    {"w+2", Q_W, V_MIS, ZI, OK, MA, "w=", 1},
    {"q+2", Q_Q, V_MIS, ZI, OK, MA, "q=", 1},
    {"scales+2", Q_SCALES, V_MIS, ZI, OK, MA, "scales=", 1},
    {"zeros+2", Q_ZEROS, V_MIS, ZI, OK, MA, "zeros=", 1},
};

/* Non-finite weights (quantize_host only: the GPU quantizer cannot check without a sync). */
static const struct { const char *what; w4a16_dtype t; uint32_t bits; } nonfinite[] = {
    {"fp32 NaN", W4A16_DTYPE_FP32, 0x7fc00000u}, {"fp32 +inf", W4A16_DTYPE_FP32, 0x7f800000u},
    {"fp32 -inf", W4A16_DTYPE_FP32, 0xff800000u}, {"fp16 inf", W4A16_DTYPE_FP16, 0x7c00u},
    {"fp16 NaN", W4A16_DTYPE_FP16, 0xfe00u},      {"bf16 NaN", W4A16_DTYPE_BF16, 0x7fc0u},
    {"bf16 -inf", W4A16_DTYPE_BF16, 0xff80u},
};

typedef struct {
    w4a16_dtype wdt, sdt;
    void *w;
    int64_t n, k, g;
    w4a16_zero_mode z;
    uint8_t *q;
    void *scales, *zeros;
} quant_call;

/* Host buffers large enough for the base shape (and 64 bytes of slack). */
static float host_w[16 * 128 + 16];
static uint8_t host_q[16 * 64 + 64], host_zi[16 * 2 + 64];
static uint16_t host_s[16 * 2 + 32], host_zf[16 * 2 + 32];

static quant_call apply_quant_row(const quant_row *r, int gpu)
{
    quant_call c = {W4A16_DTYPE_FP32, W4A16_DTYPE_FP16, gpu ? FAKE : host_w, 16, 128, 64, r->mode,
                    gpu ? (uint8_t *)FAKE : host_q, gpu ? FAKE : (void *)host_s, NULL};
    if (r->mode == ZI) c.zeros = gpu ? FAKE : (void *)host_zi;
    if (r->mode == ZF) c.zeros = gpu ? FAKE : (void *)host_zf;
    void *ptr = r->value == V_NULL ? NULL : r->value == V_MIS ? FAKE_MIS : FAKE;
    switch (r->field) {
    case Q_NONE: case Q_NONFINITE: break;
    case Q_WDT: c.wdt = (w4a16_dtype)r->value; break;
    case Q_SDT: c.sdt = (w4a16_dtype)r->value; break;
    case Q_N: c.n = r->value; break;
    case Q_K: c.k = r->value; break;
    case Q_G: c.g = r->value; break;
    case Q_ZMODE: c.z = (w4a16_zero_mode)r->value; break;
    case Q_W: c.w = ptr; break;
    case Q_Q: c.q = (uint8_t *)ptr; break;
    case Q_SCALES: c.scales = ptr; break;
    case Q_ZEROS: c.zeros = ptr; break;
    }
    return c;
}

static void test_quant_functions(void)
{
    char what[160];
    for (size_t i = 0; i < sizeof quant_rows / sizeof quant_rows[0]; i++) {
        const quant_row *r = &quant_rows[i];
        /* finite whether read as fp32, fp16 or bf16 (the previous row's dequantize overwrote it) */
        for (size_t j = 0; j < sizeof host_w / sizeof host_w[0]; j++) host_w[j] = (float)(j % 13) * 0.125f - 0.75f;
        const w4a16_status gpu_want = r->want_gpu == OK ? W4A16_ERROR_NO_DEVICE : r->want_gpu;
        if (!r->skip_host) {
            quant_call c = apply_quant_row(r, 0);
            dirty();
            snprintf(what, sizeof what, "quantize_host(%s)", r->what);
            expect(what, w4a16_quantize_host(c.wdt, c.w, c.n, c.k, c.g, c.z, c.sdt, c.q, c.scales, c.zeros),
                   r->want_host, r->needle);
            /* dequantize_host: the weight dtype is the output dtype (FP32 allowed) */
            dirty();
            snprintf(what, sizeof what, "dequantize_host(%s)", r->what);
            expect(what, w4a16_dequantize_host(c.q, c.n, c.k, c.g, c.z, c.sdt, c.scales, c.zeros, c.wdt, c.w),
                   r->want_host, r->needle);
        }
        quant_call c = apply_quant_row(r, 1);
        snprintf(what, sizeof what, "quantize(%s)", r->what);
        expect(what, w4a16_quantize(offline, c.wdt, c.w, c.n, c.k, c.g, c.z, c.sdt, c.q, c.scales, c.zeros, NULL),
               gpu_want, r->needle);
        snprintf(what, sizeof what, "dequantize(%s)", r->what);
        expect(what, w4a16_dequantize(offline, c.q, c.n, c.k, c.g, c.z, c.sdt, c.scales, c.zeros, c.wdt, c.w, NULL),
               gpu_want, r->needle);
        snprintf(what, sizeof what, "quantize(handle NULL, %s)", r->what);
        expect(what, w4a16_quantize(NULL, c.wdt, c.w, c.n, c.k, c.g, c.z, c.sdt, c.q, c.scales, c.zeros, NULL), NP,
               "handle");
        snprintf(what, sizeof what, "dequantize(handle NULL, %s)", r->what);
        expect(what, w4a16_dequantize(NULL, c.q, c.n, c.k, c.g, c.z, c.sdt, c.scales, c.zeros, c.wdt, c.w, NULL), NP,
               "handle");
    }

    /* Non-finite weights: refused, with the position in the message, and nothing written. */
    for (size_t i = 0; i < sizeof nonfinite / sizeof nonfinite[0]; i++) {
        static union { float f[16 * 128]; uint16_t h[16 * 128]; } w;
        for (int j = 0; j < 16 * 128; j++) {
            if (nonfinite[i].t == W4A16_DTYPE_FP32) w.f[j] = 0.25f;
            else w.h[j] = nonfinite[i].t == W4A16_DTYPE_FP16 ? 0x3400 : 0x3e80; /* 0.25 */
        }
        const int pos = 5 * 128 + 77; /* w[5, 77] */
        if (nonfinite[i].t == W4A16_DTYPE_FP32) memcpy(&w.f[pos], &nonfinite[i].bits, 4);
        else w.h[pos] = (uint16_t)nonfinite[i].bits;
        memset(host_q, 0xa5, sizeof host_q);
        memset(host_s, 0xa5, sizeof host_s);
        snprintf(what, sizeof what, "quantize_host(%s)", nonfinite[i].what);
        expect(what, w4a16_quantize_host(nonfinite[i].t, &w, 16, 128, 64, W4A16_ZEROS_NONE, W4A16_DTYPE_FP16, host_q,
                                         host_s, NULL),
               IV, "w[5, 77]");
        int touched = 0;
        for (size_t j = 0; j < sizeof host_q; j++) touched += host_q[j] != 0xa5;
        for (size_t j = 0; j < sizeof host_s / 2; j++) touched += host_s[j] != 0xa5a5;
        CHECK(touched == 0, "%s: a refused quantize_host wrote %d bytes/elements", what, touched);
    }
}

enum kfield { K_NONE, K_Q, K_PACKED, K_N, K_K, K_PBYTES, K_QBYTES };

static void test_pack_functions(void)
{
    /* Base: n = 72, k = 200 (odd tails), real host buffers. */
    const int64_t n = 72, k = 200;
    size_t need = 0, qneed = 0;
    CHECK(w4a16_packed_size(n, k, &need) == OK && w4a16_q_size(n, k, &qneed) == OK, "sizes");
    uint8_t *packed = malloc(need + 64), *q = malloc(qneed + 64);
    if (!packed || !q) abort();
    memset(q, 0x3c, qneed + 64);
    static const struct {
        const char *what;
        enum kfield field;
        int64_t value;
        w4a16_status want_pack, want_unpack; /* host; GPU: the same, NO_DEVICE for OK */
        const char *needle;
        int skip_host;
    } rows[] = {
        {"valid", K_NONE, 0, OK, OK, NULL, 0},
        {"q NULL", K_Q, V_NULL, NP, NP, "q is NULL", 0},
        {"packed NULL", K_PACKED, V_NULL, NP, NP, "packed is NULL", 0},
        {"q+2", K_Q, V_MIS, MA, MA, "q=", 1},
        {"packed+2", K_PACKED, V_MIS, MA, MA, "packed=", 1},
        {"N=0", K_N, 0, IS, IS, "N=0", 0},
        {"N=70", K_N, 70, IS, IS, "N=70", 0},
        {"K=-8", K_K, -8, IS, IS, "K=-8", 0},
        {"K=204", K_K, 204, IS, IS, "K=204", 0},
        {"packed_bytes = need - 1", K_PBYTES, -1, W4A16_ERROR_BUFFER_TOO_SMALL, W4A16_ERROR_BUFFER_TOO_SMALL,
         "packed_bytes", 0},
        {"packed_bytes = 0", K_PBYTES, -100000000, W4A16_ERROR_BUFFER_TOO_SMALL, W4A16_ERROR_BUFFER_TOO_SMALL,
         "packed_bytes", 0},
        {"q_bytes = need - 1", K_QBYTES, -1, OK, W4A16_ERROR_BUFFER_TOO_SMALL, "q_bytes", 0},
        {"q_bytes = 0", K_QBYTES, -100000000, OK, W4A16_ERROR_BUFFER_TOO_SMALL, "q_bytes", 0},
    };
    char what[160];
    for (int pass = 0; pass < 2; pass++) { /* 0: host, 1: GPU (offline) */
        /* the host pack of the valid row produces the packed tensor the unpack rows read */
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            if (pass == 0 && rows[i].skip_host) continue;
            void *pk = pass ? FAKE : packed;
            uint8_t *qq = pass ? (uint8_t *)FAKE : q;
            int64_t nn = n, kk = k;
            size_t pb = need, qb = qneed;
            void *ptr = rows[i].value == V_NULL ? NULL : rows[i].value == V_MIS ? FAKE_MIS : FAKE;
            switch (rows[i].field) {
            case K_NONE: break;
            case K_Q: qq = (uint8_t *)ptr; break;
            case K_PACKED: pk = ptr; break;
            case K_N: nn = rows[i].value; break;
            case K_K: kk = rows[i].value; break;
            case K_PBYTES: pb = rows[i].value < -1 ? 0 : need - 1; break;
            case K_QBYTES: qb = rows[i].value < -1 ? 0 : qneed - 1; break;
            }
            const w4a16_status wp = rows[i].want_pack, wu = rows[i].want_unpack;
            if (pass == 0) {
                dirty();
                snprintf(what, sizeof what, "pack_host(%s)", rows[i].what);
                expect(what, w4a16_pack_host(qq, nn, kk, pk, pb), wp, wp == OK ? NULL : rows[i].needle);
                dirty();
                snprintf(what, sizeof what, "unpack_host(%s)", rows[i].what);
                expect(what, w4a16_unpack_host(pk, pb, nn, kk, qq, qb), wu, wu == OK ? NULL : rows[i].needle);
            } else {
                snprintf(what, sizeof what, "pack(%s)", rows[i].what);
                expect(what, w4a16_pack(offline, qq, nn, kk, pk, pb, NULL), wp == OK ? W4A16_ERROR_NO_DEVICE : wp,
                       wp == OK ? NULL : rows[i].needle);
                snprintf(what, sizeof what, "unpack(%s)", rows[i].what);
                expect(what, w4a16_unpack(offline, pk, pb, nn, kk, qq, qb, NULL), wu == OK ? W4A16_ERROR_NO_DEVICE : wu,
                       wu == OK ? NULL : rows[i].needle);
                snprintf(what, sizeof what, "pack(handle NULL, %s)", rows[i].what);
                expect(what, w4a16_pack(NULL, qq, nn, kk, pk, pb, NULL), NP, "handle");
                snprintf(what, sizeof what, "unpack(handle NULL, %s)", rows[i].what);
                expect(what, w4a16_unpack(NULL, pk, pb, nn, kk, qq, qb, NULL), NP, "handle");
            }
        }
    }
    /* q_size / packed_size */
    size_t b;
    expect("q_size(bytes NULL)", w4a16_q_size(8, 8, NULL), NP, "bytes");
    expect("packed_size(bytes NULL)", w4a16_packed_size(8, 8, NULL), NP, "bytes");
    expect("q_size(N=7)", w4a16_q_size(7, 8, &b), IS, "N=7");
    expect("packed_size(N=7)", w4a16_packed_size(7, 8, &b), IS, "N=7");
    expect("q_size(K=-8)", w4a16_q_size(8, -8, &b), IS, "K=-8");
    expect("packed_size(K=2^31)", w4a16_packed_size(8, (int64_t)1 << 31, &b), IS, "K=2147483648");
    dirty();
    expect("packed_size(8, 8)", w4a16_packed_size(8, 8, &b), OK, NULL);
    free(packed);
    free(q);
}

int main(void)
{
    test_library_and_handles();
    if (!offline) return check_exit_code("test_validation");
    test_problems();
    test_quant_functions();
    test_pack_functions();
    w4a16_destroy(offline);
    return check_exit_code("test_validation");
}

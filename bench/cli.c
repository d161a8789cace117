/* cli.c - w4a16-bench's command line: options, problem lists, model presets. Pure C, no GPU. */
#include "cli.h"

#include "w4a16.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

/* Per-layer linear shapes (N = output features, K = input features) of common models.
 * qkv is the fused q, k, v projection; gate_up the fused gate and up projections. */
static const struct {
    const char *model, *layer;
    int64_t n, k;
} presets[] = {
    /* Llama-3-8B: hidden 4096, intermediate 14336, 32 q heads and 8 kv heads of 128. */
    {"llama3-8b", "qkv", 6144, 4096},
    {"llama3-8b", "o", 4096, 4096},
    {"llama3-8b", "gate_up", 28672, 4096},
    {"llama3-8b", "down", 4096, 14336},
    /* Llama-3-70B: hidden 8192, intermediate 28672, 64 q heads and 8 kv heads of 128. */
    {"llama3-70b", "qkv", 10240, 8192},
    {"llama3-70b", "o", 8192, 8192},
    {"llama3-70b", "gate_up", 57344, 8192},
    {"llama3-70b", "down", 8192, 28672},
    /* Qwen2.5-72B: hidden 8192, intermediate 29568, 64 q heads and 8 kv heads of 128. */
    {"qwen2.5-72b", "qkv", 10240, 8192},
    {"qwen2.5-72b", "o", 8192, 8192},
    {"qwen2.5-72b", "gate_up", 59136, 8192},
    {"qwen2.5-72b", "down", 8192, 29568},
    /* Mixtral-8x7B expert: hidden 4096, expert intermediate 14336 (w1 and w3 share a shape). */
    {"mixtral-8x7b", "w1_w3", 14336, 4096},
    {"mixtral-8x7b", "w2", 4096, 14336},
};
#define NPRESETS ((int)(sizeof presets / sizeof presets[0]))

/* The shapes and token counts of ../shared/TARGETS.md. */
static const int64_t target_nk[][2] = {{4096, 4096}, {8192, 8192}, {8192, 28672}, {57344, 8192}};
static const int64_t target_m[] = {1, 4, 16, 64, 256, 1024, 4096};

const char *bench_dtype_name(int dtype) { return dtype == W4A16_DTYPE_BF16 ? "bf16" : "fp16"; }

const char *bench_zeros_name(int zeros)
{
    return zeros == W4A16_ZEROS_INT ? "int" : zeros == W4A16_ZEROS_FLOAT ? "float" : "none";
}

void bench_print_usage(FILE *f)
{
    fputs(
        "usage: w4a16-bench [options]\n"
        "\n"
        "Times w4a16_gemm against cuBLAS (cublasGemmEx on the same A and the dequantized W) with\n"
        "weights rotated through buffer sets of >= 2x L2, and reports the measured roofline. On an\n"
        "H100 SXM it also judges every row against TARGETS.md's target for it (bench/targets.h).\n"
        "\n"
        "Problems (the union of every shape option; default: --targets):\n"
        "  --m LIST            token counts M, e.g. 1,16,256 (default 1,4,16,64,256,1024,4096)\n"
        "  --n LIST --k LIST   weight shapes: every N in LIST with every K in LIST\n"
        "  --nk LIST           weight shapes as NxK pairs, e.g. 8192x8192,28672x8192\n"
        "  --preset LIST       model layers: llama3-8b, llama3-70b, qwen2.5-72b, mixtral-8x7b\n"
        "  --targets           the TARGETS.md shapes 4096x4096, 8192x8192, 8192x28672, 57344x8192\n"
        "                      (N x K) with M in 1,4,16,64,256,1024,4096 unless --m is given\n"
        "  --dtype T           fp16 | bf16 | both (default fp16)\n"
        "  --group LIST        group sizes: 64, 128, k (= per-channel); default 128\n"
        "  --zeros LIST        zero-point modes: none, int, float; default none\n"
        "\n"
        "Kernel:\n"
        "  --config C          heuristic (default) | all (time every compiled configuration valid\n"
        "                      for the problem, report the best and how many; the reference\n"
        "                      kernel only where nothing else can run) | a name or index\n"
        "  --tune-cache FILE   the library's tuning cache: loaded (if it exists) before the run, so\n"
        "                      the heuristic mode uses its entries; with --config all, each\n"
        "                      problem's fastest configuration is recorded and FILE rewritten\n"
        "\n"
        "Timing:\n"
        "  --iters N           timed launches per kernel and window, each between its own event\n"
        "                      pair (>= 30, default 50); each kernel is timed in two windows, in\n"
        "                      the order cuBLAS, ours, ours, cuBLAS; median, p10 and p90 of both\n"
        "                      windows are reported\n"
        "  --warmup-ms N       each window's warm-up: at least 3 calls and N ms (default 25)\n"
        "  --settle-ms N       the GPU idle for N ms before every timed window (default 100), so that\n"
        "                      each window starts from the same state of the power limiter\n"
        "  --settle-once       idle only before each problem's first window (cuBLAS's), as before\n"
        "                      session 17: that window then runs on the idle's power headroom\n"
        "  --warm-l2           do not rotate weight buffers (weights may be served from L2)\n"
        "  --graph             time CUDA-graph replays of one call instead of stream launches\n"
        "  --no-check          do not verify results (the default verifies every result)\n"
        "  --device N          CUDA device (default 0)\n"
        "  --seed N            seed of the random data (default 1)\n"
        "\n"
        "Output:\n"
        "  --csv FILE          write the rows as CSV\n"
        "  --json FILE         write the header, the rows and the geometric means as JSON\n"
        "  --list              print the problems and the compiled configurations, and exit\n"
        "                      (needs no GPU)\n"
        "  --help              this text\n"
        "\n"
        "Exit status: 0 all rows passed, 1 a check or a CUDA call failed, 2 bad arguments,\n"
        "77 no usable GPU (no CUDA device or not sm_90).\n",
        f);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "w4a16-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return -1;
}

/* Parses a positive decimal integer that fills the whole of [s, s+len). */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || v <= 0) return -1;
    *out = (int64_t)v;
    return 0;
}

/* Calls item(ctx, s, len) for each comma-separated item of list; stops at the first failure. */
static int for_each_item(const char *list, int (*item)(void *, const char *, size_t), void *ctx)
{
    const char *s = list;
    for (;;) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (item(ctx, s, len)) return -1;
        if (!c) return 0;
        s = c + 1;
    }
}

static int item_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(s, word, len) == 0;
}

typedef struct { int64_t *v; int *n; int cap; } i64_list;
static int add_i64(void *ctx, const char *s, size_t len)
{
    i64_list *l = (i64_list *)ctx;
    int64_t v;
    if (*l->n >= l->cap || parse_i64(s, len, &v)) return -1;
    l->v[(*l->n)++] = v;
    return 0;
}

static int add_group(void *ctx, const char *s, size_t len)
{
    bench_opts *o = (bench_opts *)ctx;
    int64_t v = 0;
    if (o->ngroups >= BENCH_MAX_LIST) return -1;
    if (!item_is(s, len, "k") && !item_is(s, len, "K") && parse_i64(s, len, &v)) return -1;
    o->groups[o->ngroups++] = v; /* 0: per-channel */
    return 0;
}

static int add_zeros(void *ctx, const char *s, size_t len)
{
    bench_opts *o = (bench_opts *)ctx;
    int z;
    if (item_is(s, len, "none")) z = W4A16_ZEROS_NONE;
    else if (item_is(s, len, "int")) z = W4A16_ZEROS_INT;
    else if (item_is(s, len, "float")) z = W4A16_ZEROS_FLOAT;
    else return -1;
    if (o->nzeros >= BENCH_MAX_LIST) return -1;
    o->zeros[o->nzeros++] = z;
    return 0;
}

static int add_dtype(void *ctx, const char *s, size_t len)
{
    bench_opts *o = (bench_opts *)ctx;
    if (o->ndtypes + 2 > BENCH_MAX_LIST) return -1;
    if (item_is(s, len, "fp16") || item_is(s, len, "f16") || item_is(s, len, "half")) {
        o->dtypes[o->ndtypes++] = W4A16_DTYPE_FP16;
    } else if (item_is(s, len, "bf16")) {
        o->dtypes[o->ndtypes++] = W4A16_DTYPE_BF16;
    } else if (item_is(s, len, "both")) {
        o->dtypes[o->ndtypes++] = W4A16_DTYPE_FP16;
        o->dtypes[o->ndtypes++] = W4A16_DTYPE_BF16;
    } else {
        return -1;
    }
    return 0;
}

static int add_shape(bench_opts *o, int64_t n, int64_t k, const char *label)
{
    if (o->nshapes >= BENCH_MAX_SHAPES) return -1;
    bench_shape *s = &o->shapes[o->nshapes++];
    s->n = n;
    s->k = k;
    snprintf(s->label, sizeof s->label, "%s", label);
    return 0;
}

static int add_nk(void *ctx, const char *s, size_t len)
{
    bench_opts *o = (bench_opts *)ctx;
    const char *x = memchr(s, 'x', len);
    if (!x) x = memchr(s, 'X', len);
    int64_t n, k;
    if (!x || parse_i64(s, (size_t)(x - s), &n) || parse_i64(x + 1, len - (size_t)(x - s) - 1, &k)) return -1;
    return add_shape(o, n, k, "");
}

static int add_preset(void *ctx, const char *s, size_t len)
{
    bench_opts *o = (bench_opts *)ctx;
    int found = 0;
    for (int i = 0; i < NPRESETS; i++) {
        if (!item_is(s, len, presets[i].model)) continue;
        char label[BENCH_LABEL_LEN];
        snprintf(label, sizeof label, "%s/%s", presets[i].model, presets[i].layer);
        if (add_shape(o, presets[i].n, presets[i].k, label)) return -1;
        found = 1;
    }
    return found ? 0 : -1;
}

static void defaults(bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->config_mode = BENCH_CONFIG_HEURISTIC;
    o->iters = 50;
    o->warmup_ms = 25;
    o->settle_ms = 100;
    o->check = 1;
    o->seed = 1;
}

int bench_parse_args(int argc, char **argv, bench_opts *o)
{
    int64_t nlist[BENCH_MAX_SHAPES], klist[BENCH_MAX_SHAPES];
    int nn = 0, nk = 0, targets = 0;
    defaults(o);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        char name[32];
        /* "--opt=value" or "--opt value" */
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name) return fail("unknown option %s", arg);
        memcpy(name, arg, nlen);
        name[nlen] = 0;
        static const char *const flags[] = {"--targets", "--warm-l2", "--settle-once", "--graph", "--no-check",
                                            "--list", "--help", "-h"};
        static const char *const valued[] = {"--m", "--n", "--k", "--nk", "--preset", "--dtype", "--group",
                                             "--zeros", "--config", "--iters", "--warmup-ms", "--settle-ms",
                                             "--device", "--seed", "--csv", "--json", "--tune-cache"};
        int is_flag = 0, is_valued = 0;
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) is_flag |= strcmp(name, flags[f]) == 0;
        for (size_t f = 0; f < sizeof valued / sizeof valued[0]; f++) is_valued |= strcmp(name, valued[f]) == 0;
        if (!is_flag && !is_valued) {
            return fail("unknown option %s", name);
        } else if (is_flag) {
            if (eq) return fail("%s takes no value", name);
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return fail("%s needs a value", name);
        }

        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            bench_print_usage(stdout);
            return 1;
        } else if (!strcmp(name, "--targets")) {
            targets = 1;
        } else if (!strcmp(name, "--warm-l2")) {
            o->warm_l2 = 1;
        } else if (!strcmp(name, "--settle-once")) {
            o->settle_once = 1;
        } else if (!strcmp(name, "--graph")) {
            o->graph = 1;
        } else if (!strcmp(name, "--no-check")) {
            o->check = 0;
        } else if (!strcmp(name, "--list")) {
            o->list_only = 1;
        } else if (!strcmp(name, "--m")) {
            i64_list l = {o->m, &o->nm, BENCH_MAX_M};
            o->nm = 0;
            if (for_each_item(val, add_i64, &l)) return fail("bad --m list '%s'", val);
        } else if (!strcmp(name, "--n")) {
            i64_list l = {nlist, &nn, BENCH_MAX_SHAPES};
            nn = 0;
            if (for_each_item(val, add_i64, &l)) return fail("bad --n list '%s'", val);
        } else if (!strcmp(name, "--k")) {
            i64_list l = {klist, &nk, BENCH_MAX_SHAPES};
            nk = 0;
            if (for_each_item(val, add_i64, &l)) return fail("bad --k list '%s'", val);
        } else if (!strcmp(name, "--nk")) {
            if (for_each_item(val, add_nk, o)) return fail("bad --nk list '%s' (want NxK,NxK,...)", val);
        } else if (!strcmp(name, "--preset")) {
            if (for_each_item(val, add_preset, o))
                return fail("bad --preset '%s' (llama3-8b, llama3-70b, qwen2.5-72b, mixtral-8x7b)", val);
        } else if (!strcmp(name, "--dtype")) {
            o->ndtypes = 0;
            if (for_each_item(val, add_dtype, o)) return fail("bad --dtype '%s' (fp16, bf16, both)", val);
        } else if (!strcmp(name, "--group")) {
            o->ngroups = 0;
            if (for_each_item(val, add_group, o)) return fail("bad --group '%s' (64, 128, k)", val);
        } else if (!strcmp(name, "--zeros")) {
            o->nzeros = 0;
            if (for_each_item(val, add_zeros, o)) return fail("bad --zeros '%s' (none, int, float)", val);
        } else if (!strcmp(name, "--config")) {
            if (!strcmp(val, "heuristic")) {
                o->config_mode = BENCH_CONFIG_HEURISTIC;
            } else if (!strcmp(val, "all")) {
                o->config_mode = BENCH_CONFIG_ALL;
            } else {
                if (!*val || strlen(val) >= sizeof o->config_arg) return fail("bad --config '%s'", val);
                o->config_mode = BENCH_CONFIG_FORCED;
                snprintf(o->config_arg, sizeof o->config_arg, "%s", val);
            }
        } else if (!strcmp(name, "--iters")) {
            int64_t v;
            if (parse_i64(val, strlen(val), &v) || v < BENCH_MIN_ITERS || v > 100000)
                return fail("--iters must be an integer from 30 to 100000, not '%s'", val);
            o->iters = (int)v;
        } else if (!strcmp(name, "--warmup-ms") || !strcmp(name, "--settle-ms")) {
            char *end = NULL;
            errno = 0;
            const long v = strtol(val, &end, 10);
            if (!*val || *end || errno || v < 0 || v > 10000)
                return fail("%s must be an integer from 0 to 10000, not '%s'", name, val);
            *(!strcmp(name, "--warmup-ms") ? &o->warmup_ms : &o->settle_ms) = (int)v;
        } else if (!strcmp(name, "--device")) {
            char *end = NULL;
            long v = strtol(val, &end, 10);
            if (!*val || *end || v < 0 || v > 1024) return fail("bad --device '%s'", val);
            o->device = (int)v;
        } else if (!strcmp(name, "--seed")) {
            char *end = NULL;
            unsigned long long v = strtoull(val, &end, 10);
            if (!*val || *end) return fail("bad --seed '%s'", val);
            o->seed = (uint64_t)v;
        } else if (!strcmp(name, "--csv")) {
            o->csv_path = val;
        } else if (!strcmp(name, "--tune-cache")) {
            o->tune_cache_path = val;
        } else if (!strcmp(name, "--json")) {
            o->json_path = val;
        } else {
            return fail("unknown option %s", name);
        }
    }

    if ((nn > 0) != (nk > 0)) return fail("--n and --k go together");
    for (int a = 0; a < nn; a++)
        for (int b = 0; b < nk; b++)
            if (add_shape(o, nlist[a], klist[b], "")) return fail("too many shapes (at most %d)", BENCH_MAX_SHAPES);
    if (targets || o->nshapes == 0) {
        for (size_t s = 0; s < sizeof target_nk / sizeof target_nk[0]; s++)
            if (add_shape(o, target_nk[s][0], target_nk[s][1], "")) return fail("too many shapes");
    }
    if (o->nm == 0) {
        for (size_t j = 0; j < sizeof target_m / sizeof target_m[0]; j++) o->m[o->nm++] = target_m[j];
    }
    if (o->ndtypes == 0) o->dtypes[o->ndtypes++] = W4A16_DTYPE_FP16;
    if (o->ngroups == 0) o->groups[o->ngroups++] = 128;
    if (o->nzeros == 0) o->zeros[o->nzeros++] = W4A16_ZEROS_NONE;
    return 0;
}

void bench_print_problems(FILE *f, const bench_opts *o)
{
    fprintf(f, "M:");
    for (int i = 0; i < o->nm; i++) fprintf(f, " %" PRId64, o->m[i]);
    fprintf(f, "\ndtypes:");
    for (int i = 0; i < o->ndtypes; i++) fprintf(f, " %s", bench_dtype_name(o->dtypes[i]));
    fprintf(f, "\ngroups:");
    for (int i = 0; i < o->ngroups; i++) {
        if (o->groups[i]) fprintf(f, " %" PRId64, o->groups[i]);
        else fprintf(f, " k");
    }
    fprintf(f, "\nzeros:");
    for (int i = 0; i < o->nzeros; i++) fprintf(f, " %s", bench_zeros_name(o->zeros[i]));
    fprintf(f, "\nshapes (N x K):\n");
    for (int i = 0; i < o->nshapes; i++)
        fprintf(f, "  %6" PRId64 " x %-6" PRId64 " %s\n", o->shapes[i].n, o->shapes[i].k, o->shapes[i].label);
    fprintf(f, "%d problems\n", o->nm * o->nshapes * o->ndtypes * o->ngroups * o->nzeros);
    fprintf(f, "timing: 2 windows of %d calls per kernel, each after a warm-up of %d ms; %d ms of idle GPU %s\n",
            o->iters, o->warmup_ms, o->settle_ms, o->settle_once ? "per problem" : "before every window");
}

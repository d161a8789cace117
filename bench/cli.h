/* cli.h - w4a16-bench's command line: options, problem lists, model presets. Pure C, no GPU. */
#ifndef W4A16_BENCH_CLI_H
#define W4A16_BENCH_CLI_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BENCH_MAX_M 64
#define BENCH_MAX_SHAPES 256
#define BENCH_MAX_LIST 8
#define BENCH_LABEL_LEN 48
#define BENCH_MIN_ITERS 30

/* One weight shape: N output features x K input features, with a label ("llama3-8b/qkv"). */
typedef struct bench_shape {
    int64_t n, k;
    char label[BENCH_LABEL_LEN];
} bench_shape;

typedef enum bench_config_mode {
    BENCH_CONFIG_HEURISTIC = 0, /* the library's own choice (problem.config = -1) */
    BENCH_CONFIG_ALL = 1,       /* every compiled configuration valid for the problem; best reported */
    BENCH_CONFIG_FORCED = 2     /* one configuration by name or index */
} bench_config_mode;

typedef struct bench_opts {
    int64_t m[BENCH_MAX_M];
    int nm;
    bench_shape shapes[BENCH_MAX_SHAPES];
    int nshapes;
    int dtypes[BENCH_MAX_LIST]; /* w4a16_dtype values */
    int ndtypes;
    int64_t groups[BENCH_MAX_LIST]; /* 0 = per-channel (group = K) */
    int ngroups;
    int zeros[BENCH_MAX_LIST]; /* w4a16_zero_mode values */
    int nzeros;
    bench_config_mode config_mode;
    char config_arg[64]; /* BENCH_CONFIG_FORCED: a name or a decimal index */
    int iters;
    int warmup_ms; /* each kernel's warm-up before its timed window: >= 3 calls and this long */
    int settle_ms; /* the GPU idle this long before each timed window (settle_once: before each
                    * problem's first window only, the protocol before session 17) */
    int settle_once;
    int warm_l2;
    int graph;
    int check;
    int device;
    int list_only;
    uint64_t seed;
    const char *csv_path;
    const char *json_path;
    const char *tune_cache_path; /* --tune-cache: loaded before the run; with --config all, the
                                    best configuration of each problem is recorded and saved */
} bench_opts;

/* Parses argv into *o (defaults first). Returns 0 to run, 1 when --help was printed (exit 0),
 * -1 after printing an error to stderr (exit 2). */
int bench_parse_args(int argc, char **argv, bench_opts *o);

void bench_print_usage(FILE *f);

/* Prints the problem list (--list). */
void bench_print_problems(FILE *f, const bench_opts *o);

/* Name helpers. */
const char *bench_dtype_name(int dtype);  /* "fp16", "bf16" */
const char *bench_zeros_name(int zeros);  /* "none", "int", "float" */

#ifdef __cplusplus
}
#endif
#endif

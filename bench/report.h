/* report.h - w4a16-bench's results: derived columns (bytes, rates, roofline), the text table,
 * the geometric means per M region, CSV and JSON. Pure C, no GPU. */
#ifndef W4A16_BENCH_REPORT_H
#define W4A16_BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bench_row_status {
    BENCH_ROW_OK = 0,
    BENCH_ROW_ERROR = 1,  /* a check or a CUDA/library call failed: no time is reported */
    BENCH_ROW_SKIPPED = 2 /* not run: the forced configuration cannot run it, or not enough memory */
} bench_row_status;

/* One configuration's result in --config all mode. */
typedef struct bench_config_result {
    char name[64];
    int ok; /* 0: its check failed or it could not run */
    double us, p10, p90;
} bench_config_result;

typedef struct bench_row {
    char label[BENCH_LABEL_LEN];
    int64_t m, n, k, group;
    int dtype, zeros;
    bench_row_status status;
    char message[256]; /* why, for ERROR and SKIPPED rows */
    char config[64];   /* the configuration reported (the best one in --config all mode) */
    int n_configs;     /* configurations timed and verified for this row */
    int checked;       /* 1: results verified against the fp32 reference */
    double us, p10, p90;                     /* ours, microseconds */
    double cublas_us, cublas_p10, cublas_p90; /* cuBLAS on the dequantized weights */
    double check_worst;                      /* worst |err| / tolerance of our result */
    /* derived by bench_derive() */
    double eff_bytes, tflops, gbps, pct_bw, x_cublas, pct_roofline, cublas_tflops;
    /* --config all: every configuration tried (owned by the row, freed by bench_free_rows) */
    bench_config_result *all;
    int nall;
} bench_row;

typedef struct bench_header {
    char tool_version[32];
    char git_commit[64];
    char gpu_name[256];
    int device, cc_major, cc_minor, sm_count;
    int sm_clock_mhz, mem_clock_mhz, mem_bus_bits;
    double peak_bw_tbs; /* from the memory clock and bus width (theoretical) */
    int64_t l2_bytes, total_mem_bytes;
    int driver_version, runtime_version, cublas_version;
    int config_count;
    char config_mode[80];
    int iters, warmup_ms, settle_ms, settle_once, warm_l2, graph, check;
    uint64_t seed;
    double mem_ceiling_tbs;     /* measured, read-only kernel */
    char mem_ceiling_how[160];
    double compute_ceiling_tflops; /* best cuBLAS rate at M >= 1024, or an 8192^3 cuBLAS GEMM */
    char compute_ceiling_how[160];
    char notes[1024]; /* warnings that belong in the header (graph fallback, ...) */
} bench_header;

/* Effective bytes, counted as TARGETS.md says whatever the kernel stores:
 * N*K/2 + 2*G*N [+ G*N/2 int zeros | + 2*G*N float zeros] + 2*M*K + 2*M*N, G = K / group. */
double bench_effective_bytes(int64_t m, int64_t n, int64_t k, int64_t group, int zeros);

/* Fills the derived columns of every OK row from the header's ceilings. */
void bench_derive(const bench_header *h, bench_row *rows, int nrows);

/* The text report: header, table (ERROR/SKIP lines in place of times), geometric means. */
void bench_print_header(FILE *f, const bench_header *h);
void bench_print_table(FILE *f, const bench_header *h, const bench_row *rows, int nrows);

/* Returns 0, or -1 with a message on stderr. */
int bench_write_csv(const char *path, const bench_row *rows, int nrows);
int bench_write_json(const char *path, const bench_header *h, const bench_row *rows, int nrows);

void bench_free_rows(bench_row *rows, int nrows);

#ifdef __cplusplus
}
#endif
#endif

/* cli_common.h - what the two command-line tools share: a progress bar on stderr, sizes. */
#ifndef W4A16_TOOLS_CLI_COMMON_H
#define W4A16_TOOLS_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* A progress bar on stderr, redrawn at most 10 times a second; silent unless enabled. */
typedef struct cli_bar {
    int enabled;
    double t0, last;
    const char *label;
    int drawn;
} cli_bar;

/* mode: 1 on, 0 off, -1 on when stderr is a terminal. */
void cli_bar_init(cli_bar *b, const char *label, int mode);
/* Matches cv_progress_fn (ctx = the cli_bar). */
void cli_bar_update(void *ctx, uint64_t done_bytes, uint64_t total_bytes, size_t items_done, size_t items_total);
void cli_bar_finish(cli_bar *b); /* ends the line */

double cli_now(void);
/* "1.23 GB" into buf (>= 16 bytes). */
const char *cli_bytes(uint64_t n, char *buf, size_t len);
/* Online CPUs (at least 1). */
int cli_cpus(void);
/* Parses a whole decimal integer; 0 on success. */
int cli_parse_int(const char *s, long long *out);

/* The options both tools take: --cpu, --device N, -j/--threads N, --progress, --no-progress,
 * -v/--verbose, -q/--quiet. */
typedef struct cli_common_opts {
    int want_gpu;    /* 0 after --cpu */
    long long device;
    int threads;     /* default: all CPUs */
    int progress;    /* 1 on, 0 off, -1 when stderr is a terminal (0 with --quiet) */
    int verbose, quiet;
} cli_common_opts;
void cli_common_defaults(cli_common_opts *o);
/* If argv[*i] is one of the shared options, consumes it (and its value, advancing *i) and
 * returns 1; returns 0 if it is not; -1 after printing "<tool>: bad ..." for a bad value. */
int cli_common_option(const char *tool, int argc, char **argv, int *i, cli_common_opts *o);

#endif

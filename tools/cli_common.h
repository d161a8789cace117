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

#endif

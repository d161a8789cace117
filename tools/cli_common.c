/* cli_common.c - progress bar and small helpers of the command-line tools. */
#define _POSIX_C_SOURCE 200809L
#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *cli_bytes(uint64_t n, char *buf, size_t len)
{
    const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        u++;
    }
    snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

int cli_cpus(void)
{
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 64 ? 64 : n) : 1;
}

int cli_parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    const long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

void cli_bar_init(cli_bar *b, const char *label, int mode)
{
    b->enabled = mode < 0 ? isatty(STDERR_FILENO) : mode;
    b->t0 = cli_now();
    b->last = 0.0;
    b->label = label;
    b->drawn = 0;
}

void cli_bar_update(void *ctx, uint64_t done, uint64_t total, size_t items_done, size_t items_total)
{
    cli_bar *b = (cli_bar *)ctx;
    if (!b->enabled) return;
    const double t = cli_now();
    if (done < total && t - b->last < 0.1) return;
    b->last = t;
    const double frac = total ? (double)done / (double)total : 1.0;
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    const int fill = (int)(frac * WIDTH);
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = 0;
    const double el = t - b->t0;
    const double eta = frac > 0.0 ? el / frac - el : 0.0;
    char d[16], tt[16];
    fprintf(stderr, "\r%s [%s] %3.0f%%  %zu/%zu layers  %s/%s  %.1fs  ETA %.1fs ", b->label, bar, 100.0 * frac,
            items_done, items_total, cli_bytes(done, d, sizeof d), cli_bytes(total, tt, sizeof tt), el, eta);
    fflush(stderr);
    b->drawn = 1;
}

void cli_bar_finish(cli_bar *b)
{
    if (b->enabled && b->drawn) fputc('\n', stderr);
    b->drawn = 0;
}

/* cli_common.c - progress bar and small helpers of the command-line tools. */
#define _POSIX_C_SOURCE 200809L
#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void cli_common_defaults(cli_common_opts *o)
{
    o->want_gpu = 1;
    o->device = 0;
    o->threads = cli_cpus();
    o->progress = -1;
    o->verbose = o->quiet = 0;
}

int cli_common_option(const char *tool, int argc, char **argv, int *i, cli_common_opts *o)
{
    const char *a = argv[*i];
    const int has = *i + 1 < argc;
    long long v;
    if (!strcmp(a, "--cpu")) {
        o->want_gpu = 0;
    } else if (!strcmp(a, "--device") && has) {
        if (cli_parse_int(argv[++*i], &o->device) || o->device < 0 || o->device > 1024) {
            fprintf(stderr, "%s: bad --device %s\n", tool, argv[*i]);
            return -1;
        }
    } else if ((!strcmp(a, "-j") || !strcmp(a, "--threads")) && has) {
        if (cli_parse_int(argv[++*i], &v) || v < 1 || v > 64) {
            fprintf(stderr, "%s: bad thread count %s (1..64)\n", tool, argv[*i]);
            return -1;
        }
        o->threads = (int)v;
    } else if (!strcmp(a, "--progress")) {
        o->progress = 1;
    } else if (!strcmp(a, "--no-progress")) {
        o->progress = 0;
    } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
        o->verbose = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        o->quiet = 1;
    } else {
        return 0;
    }
    if (o->quiet) o->progress = 0;
    return 1;
}

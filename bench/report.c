/* report.c - w4a16-bench's results: derived columns (bytes, rates, roofline), the text table,
 * the geometric means per M region, CSV and JSON. Pure C, no GPU. */
#include "report.h"

#include "targets.h"
#include "w4a16.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double bench_effective_bytes(int64_t m, int64_t n, int64_t k, int64_t group, int zeros)
{
    const double N = (double)n, K = (double)k, M = (double)m, G = (double)(k / group);
    double bytes = N * K / 2 + 2 * G * N + 2 * M * K + 2 * M * N;
    if (zeros == W4A16_ZEROS_INT) bytes += G * N / 2;
    if (zeros == W4A16_ZEROS_FLOAT) bytes += 2 * G * N;
    return bytes;
}

void bench_derive(const bench_header *h, bench_row *rows, int nrows)
{
    const double bw = h->mem_ceiling_tbs * 1e12, flops = h->compute_ceiling_tflops * 1e12;
    for (int i = 0; i < nrows; i++) {
        bench_row *r = &rows[i];
        if (r->status != BENCH_ROW_OK) continue;
        const double work = 2.0 * (double)r->m * (double)r->n * (double)r->k, t = r->us * 1e-6;
        r->eff_bytes = bench_effective_bytes(r->m, r->n, r->k, r->group, r->zeros);
        r->tflops = work / t / 1e12;
        r->cublas_tflops = work / (r->cublas_us * 1e-6) / 1e12;
        r->gbps = r->eff_bytes / t / 1e9;
        r->pct_bw = bw > 0 ? 100.0 * r->eff_bytes / t / bw : NAN;
        r->x_cublas = r->cublas_us / r->us;
        const double roof = (bw > 0 && flops > 0) ? fmax(r->eff_bytes / bw, work / flops) : NAN;
        r->pct_roofline = 100.0 * roof / t;
    }
}

void bench_print_header(FILE *f, const bench_header *h)
{
    fprintf(f, "w4a16-bench %s (commit %s)\n", h->tool_version, h->git_commit);
    fprintf(f, "GPU %d: %s, sm_%d%d, %d SMs, SM clock %d MHz, memory clock %d MHz x %d bits "
               "(%.2f TB/s theoretical), L2 %.1f MiB, %.1f GiB\n",
            h->device, h->gpu_name, h->cc_major, h->cc_minor, h->sm_count, h->sm_clock_mhz, h->mem_clock_mhz,
            h->mem_bus_bits, h->peak_bw_tbs, (double)h->l2_bytes / (1 << 20),
            (double)h->total_mem_bytes / (1 << 30));
    fprintf(f, "CUDA driver %d.%d, runtime %d.%d, cuBLAS %d.%d.%d; %d compiled configuration(s), selection: %s\n",
            h->driver_version / 1000, h->driver_version % 1000 / 10, h->runtime_version / 1000,
            h->runtime_version % 1000 / 10, h->cublas_version / 10000, h->cublas_version % 10000 / 100,
            h->cublas_version % 100, h->config_count, h->config_mode);
    fprintf(f, "Timing: %s queued behind a launch gate (GPU time), median of 2 windows of %d, each after a "
               "warm-up of >= 3 calls and %d ms and each call between its own event pair, in the order cuBLAS, "
               "ours, ours, cuBLAS, after %d ms of idle GPU %s; weights %s; results %s\n",
            h->graph ? "CUDA-graph replays of one call" : "stream launches", h->iters, h->warmup_ms, h->settle_ms,
            h->settle_once ? "per problem (--settle-once)" : "before every window",
            h->warm_l2 ? "NOT rotated (--warm-l2: may be served from L2)" : "rotated through sets of >= 2x L2",
            h->check ? "verified against an fp32-accumulated cuBLAS reference" : "NOT verified (--no-check)");
    fprintf(f, "Memory ceiling: %.3f TB/s (%s)\n", h->mem_ceiling_tbs, h->mem_ceiling_how);
    if (h->compute_ceiling_tflops > 0)
        fprintf(f, "Compute ceiling: %.1f TFLOP/s (%s)\n", h->compute_ceiling_tflops, h->compute_ceiling_how);
    else
        fprintf(f, "Compute ceiling: not measured (%s)\n", h->compute_ceiling_how);
    if (h->notes[0]) fprintf(f, "%s", h->notes);
}

static int config_width(const bench_row *rows, int nrows)
{
    int w = 6;
    for (int i = 0; i < nrows; i++) {
        int l = (int)strlen(rows[i].config) + (rows[i].nall ? 8 : 0);
        if (rows[i].status == BENCH_ROW_OK && l > w) w = l;
    }
    return w;
}

static int region_of(int64_t m) { return m <= 16 ? 0 : m <= 64 ? 1 : m <= 256 ? 2 : 3; }
static const char *const region_names[4] = {"M<=16", "17..64", "65..256", ">256"};

/* Geometric mean of x cuBLAS per (dtype, zeros, group) and M region. */
typedef struct {
    int dtype, zeros;
    int64_t group; /* 0: per-channel (group == k) */
    double logsum[5];
    int count[5];
} geo_acc;

static int collect_geomeans(const bench_row *rows, int nrows, geo_acc *acc, int cap)
{
    int n = 0;
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        if (r->status != BENCH_ROW_OK || !(r->x_cublas > 0)) continue;
        const int64_t g = r->group == r->k ? 0 : r->group;
        int j = 0;
        while (j < n && !(acc[j].dtype == r->dtype && acc[j].zeros == r->zeros && acc[j].group == g)) j++;
        if (j == n) {
            if (n == cap) continue;
            memset(&acc[n], 0, sizeof acc[n]);
            acc[n].dtype = r->dtype;
            acc[n].zeros = r->zeros;
            acc[n].group = g;
            n++;
        }
        const int reg = region_of(r->m);
        acc[j].logsum[reg] += log(r->x_cublas);
        acc[j].count[reg]++;
        acc[j].logsum[4] += log(r->x_cublas);
        acc[j].count[4]++;
    }
    return n;
}

static void group_text(char *buf, size_t len, int64_t g)
{
    if (g) snprintf(buf, len, "%" PRId64, g);
    else snprintf(buf, len, "k");
}

/* TARGETS.md's tables are for the H100 SXM (80GB HBM3), weights not served from L2; a PCIe H100
 * or an H200 is another machine. */
static int targets_machine(const bench_header *h)
{
    return strstr(h->gpu_name, "H100") && strstr(h->gpu_name, "HBM3") && !h->warm_l2;
}

static void print_cublas_sanity(FILE *f, const bench_header *h, const bench_row *rows, int nrows)
{
    if (!targets_machine(h)) return;
    int compared = 0, off = 0;
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        if (r->status != BENCH_ROW_OK || r->dtype != W4A16_DTYPE_FP16) continue;
        /* cuBLAS does not depend on the group or zero mode: compare each (M, N, K) once */
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = rows[j].status == BENCH_ROW_OK && rows[j].dtype == W4A16_DTYPE_FP16 && rows[j].m == r->m &&
                   rows[j].n == r->n && rows[j].k == r->k;
        if (seen) continue;
        const double want = bench_targets_cublas_us(r->m, r->n, r->k);
        if (!(want > 0)) continue;
        const double dev = r->cublas_us / want - 1.0;
        compared++;
        if (fabs(dev) > 0.10) {
            if (!off) fprintf(f, "\n");
            fprintf(f, "NOTE: cuBLAS fp16 M=%" PRId64 " %" PRId64 "x%" PRId64 " took %.1f us, %+.0f%% from "
                       "TARGETS.md's %.1f us (beyond +-10%%: harness or machine suspect)\n",
                    r->m, r->n, r->k, r->cublas_us, 100 * dev, want);
            off++;
        }
    }
    if (compared)
        fprintf(f, "%scuBLAS fp16 against TARGETS.md's H100 table: %d row(s) compared, %d beyond +-10%%\n",
                off ? "" : "\n", compared, off);
}

static void target_text(char *buf, size_t len, bench_target_kind kind, double v, int unit)
{
    if (kind == BENCH_TARGET_BW) snprintf(buf, len, "%.1f%%%s", v, unit ? " of the memory ceiling" : "");
    else snprintf(buf, len, "x%.3f", v);
}

/* Every row against TARGETS.md's target for it (targets.h): how many met, and each miss. */
static void print_targets(FILE *f, const bench_header *h, const bench_row *rows, int nrows)
{
    if (!targets_machine(h)) return;
    int judged = 0, met = 0;
    bench_target t;
    for (int i = 0; i < nrows; i++)
        if (bench_row_target(&rows[i], &t)) judged++, met += t.met;
    if (!judged) return;
    fprintf(f, "\nTARGETS.md's targets (H100 SXM figures, none above 0.95 of the roofline; 1.1x its best existing "
               "kernels at their 28 points): %d of %d row(s) met\n",
            met, judged);
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        if (!bench_row_target(r, &t) || t.met) continue;
        char got[64], want[64], asked[64];
        target_text(got, sizeof got, t.kind, t.kind == BENCH_TARGET_BW ? r->pct_bw : r->x_cublas, 1);
        target_text(want, sizeof want, t.kind, t.want, 0);
        target_text(asked, sizeof asked, t.kind, t.asked, 0);
        fprintf(f, "  missed: M=%" PRId64 " N=%" PRId64 " K=%" PRId64 " group %" PRId64 " %s zeros=%s: %s", r->m, r->n,
                r->k, r->group, bench_dtype_name(r->dtype), bench_zeros_name(r->zeros), got);
        const int main_met = (t.kind == BENCH_TARGET_BW ? r->pct_bw : r->x_cublas) >= t.want;
        if (!main_met)
            fprintf(f, ", target %s%s%s%s", want, t.capped ? " (0.95 of the roofline; TARGETS.md's figure " : "",
                    t.capped ? asked : "", t.capped ? ")" : "");
        if (!t.floor_met && !(t.kind == BENCH_TARGET_X && t.asked == 1.0)) fprintf(f, "; below 1.0x cuBLAS");
        if (!t.best_met) fprintf(f, "; below 1.1x the best existing kernel (x%.2f)", t.best_x);
        fprintf(f, "\n");
    }
}

void bench_print_table(FILE *f, const bench_header *h, const bench_row *rows, int nrows)
{
    const int cw = config_width(rows, nrows);
    int labels = 0, errors = 0, skipped = 0, config_errors = 0;
    for (int i = 0; i < nrows; i++) labels |= rows[i].label[0] != 0;
    fprintf(f, "\n%6s %6s %6s %5s %5s %5s %-*s %9s %9s %9s %8s %8s %6s %10s %8s %6s%s\n", "M", "N", "K", "group",
            "dtype", "zeros", cw, "config", "med_us", "p10_us", "p90_us", "TFLOP/s", "GB/s", "%bw", "cuBLAS_us",
            "xcuBLAS", "%roof", labels ? "  shape" : "");
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        fprintf(f, "%6" PRId64 " %6" PRId64 " %6" PRId64 " %5" PRId64 " %5s %5s ", r->m, r->n, r->k, r->group,
                bench_dtype_name(r->dtype), bench_zeros_name(r->zeros));
        if (r->status == BENCH_ROW_ERROR) {
            fprintf(f, "ERROR: %s%s%s\n", r->message, r->label[0] ? "  shape " : "", r->label);
            errors++;
            continue;
        }
        if (r->status == BENCH_ROW_SKIPPED) {
            fprintf(f, "SKIP: %s%s%s\n", r->message, r->label[0] ? "  shape " : "", r->label);
            skipped++;
            continue;
        }
        char cfg[96];
        if (r->nall) snprintf(cfg, sizeof cfg, "%s (of %d)", r->config, r->n_configs);
        else snprintf(cfg, sizeof cfg, "%s", r->config);
        fprintf(f, "%-*s %9.2f %9.2f %9.2f %8.2f %8.1f %6.1f %10.2f %8.3f %6.1f%s%s\n", cw, cfg, r->us, r->p10,
                r->p90, r->tflops, r->gbps, r->pct_bw, r->cublas_us, r->x_cublas, r->pct_roofline,
                labels ? "  " : "", r->label);
    }
    /* configurations that failed inside --config all rows */
    for (int i = 0; i < nrows; i++) {
        for (int j = 0; j < rows[i].nall; j++) {
            if (rows[i].all[j].ok) continue;
            fprintf(f, "ERROR: config %s failed on M=%" PRId64 " N=%" PRId64 " K=%" PRId64 " %s zeros=%s (excluded)\n",
                    rows[i].all[j].name, rows[i].m, rows[i].n, rows[i].k, bench_dtype_name(rows[i].dtype),
                    bench_zeros_name(rows[i].zeros));
            config_errors++;
        }
    }

    geo_acc acc[32];
    const int ng = collect_geomeans(rows, nrows, acc, 32);
    if (ng) {
        fprintf(f, "\nGeometric mean of x cuBLAS per M region (number of rows):\n");
        fprintf(f, "%5s %5s %5s", "dtype", "zeros", "group");
        for (int j = 0; j < 4; j++) fprintf(f, " %13s", region_names[j]);
        fprintf(f, " %13s\n", "all");
        for (int a = 0; a < ng; a++) {
            char g[24];
            group_text(g, sizeof g, acc[a].group);
            fprintf(f, "%5s %5s %5s", bench_dtype_name(acc[a].dtype), bench_zeros_name(acc[a].zeros), g);
            for (int j = 0; j < 5; j++) {
                if (acc[a].count[j]) fprintf(f, " %7.3f (%3d)", exp(acc[a].logsum[j] / acc[a].count[j]), acc[a].count[j]);
                else fprintf(f, " %13s", "-");
            }
            fprintf(f, "\n");
        }
    }
    print_cublas_sanity(f, h, rows, nrows);
    print_targets(f, h, rows, nrows);
    fprintf(f, "\n%d row(s): %d ok, %d error(s), %d skipped", nrows, nrows - errors - skipped, errors, skipped);
    if (config_errors) fprintf(f, "; %d configuration(s) failed inside --config all rows", config_errors);
    fprintf(f, "\n");
}

/* ---- CSV ---- */

static void csv_num(FILE *f, double v, const char *fmt)
{
    fputc(',', f);
    if (isfinite(v)) fprintf(f, fmt, v);
}

static void csv_str(FILE *f, const char *s)
{
    fputc(',', f);
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static const char *status_name(bench_row_status s)
{
    return s == BENCH_ROW_OK ? "ok" : s == BENCH_ROW_ERROR ? "error" : "skipped";
}

int bench_write_csv(const char *path, const bench_row *rows, int nrows)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "w4a16-bench: cannot write %s\n", path);
        return -1;
    }
    fprintf(f, "label,m,n,k,group,dtype,zeros,config,n_configs,status,median_us,p10_us,p90_us,tflops,gbps,"
               "pct_bw,cublas_us,cublas_p10_us,cublas_p90_us,x_cublas,pct_roofline,eff_bytes,checked,message,"
               "target_kind,target,target_met\n");
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        const int ok = r->status == BENCH_ROW_OK;
        fprintf(f, "%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%s,%s", r->label[0] ? r->label : "-", r->m,
                r->n, r->k, r->group, bench_dtype_name(r->dtype), bench_zeros_name(r->zeros));
        csv_str(f, ok ? r->config : "");
        fprintf(f, ",%d,%s", ok ? r->n_configs : 0, status_name(r->status));
        const double nan = NAN;
        csv_num(f, ok ? r->us : nan, "%.3f");
        csv_num(f, ok ? r->p10 : nan, "%.3f");
        csv_num(f, ok ? r->p90 : nan, "%.3f");
        csv_num(f, ok ? r->tflops : nan, "%.3f");
        csv_num(f, ok ? r->gbps : nan, "%.1f");
        csv_num(f, ok ? r->pct_bw : nan, "%.2f");
        csv_num(f, ok ? r->cublas_us : nan, "%.3f");
        csv_num(f, ok ? r->cublas_p10 : nan, "%.3f");
        csv_num(f, ok ? r->cublas_p90 : nan, "%.3f");
        csv_num(f, ok ? r->x_cublas : nan, "%.4f");
        csv_num(f, ok ? r->pct_roofline : nan, "%.2f");
        csv_num(f, bench_effective_bytes(r->m, r->n, r->k, r->group, r->zeros), "%.0f");
        fprintf(f, ",%d", r->checked);
        csv_str(f, r->message);
        bench_target t;
        if (bench_row_target(r, &t))
            fprintf(f, ",%s,%.4f,%d", t.kind == BENCH_TARGET_BW ? "pct_bw" : "x_cublas", t.want, t.met);
        else
            fprintf(f, ",,,");
        fputc('\n', f);
    }
    if (fclose(f)) {
        fprintf(stderr, "w4a16-bench: error writing %s\n", path);
        return -1;
    }
    return 0;
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.12g", v);
    else fputs("null", f);
}

static void json_key_str(FILE *f, const char *key, const char *v, int comma)
{
    fprintf(f, "%s\"%s\": ", comma ? ", " : "", key);
    json_str(f, v);
}

static void json_key_num(FILE *f, const char *key, double v, int comma)
{
    fprintf(f, "%s\"%s\": ", comma ? ", " : "", key);
    json_num(f, v);
}

int bench_write_json(const char *path, const bench_header *h, const bench_row *rows, int nrows)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "w4a16-bench: cannot write %s\n", path);
        return -1;
    }
    char buf[64];
    fprintf(f, "{\n  \"header\": {");
    json_key_str(f, "tool_version", h->tool_version, 0);
    json_key_str(f, "git_commit", h->git_commit, 1);
    json_key_str(f, "gpu_name", h->gpu_name, 1);
    json_key_num(f, "device", h->device, 1);
    snprintf(buf, sizeof buf, "%d.%d", h->cc_major, h->cc_minor);
    json_key_str(f, "compute_capability", buf, 1);
    json_key_num(f, "sm_count", h->sm_count, 1);
    json_key_num(f, "sm_clock_mhz", h->sm_clock_mhz, 1);
    json_key_num(f, "mem_clock_mhz", h->mem_clock_mhz, 1);
    json_key_num(f, "mem_bus_bits", h->mem_bus_bits, 1);
    json_key_num(f, "peak_bw_tbs", h->peak_bw_tbs, 1);
    json_key_num(f, "l2_bytes", (double)h->l2_bytes, 1);
    json_key_num(f, "total_mem_bytes", (double)h->total_mem_bytes, 1);
    snprintf(buf, sizeof buf, "%d.%d", h->driver_version / 1000, h->driver_version % 1000 / 10);
    json_key_str(f, "cuda_driver", buf, 1);
    snprintf(buf, sizeof buf, "%d.%d", h->runtime_version / 1000, h->runtime_version % 1000 / 10);
    json_key_str(f, "cuda_runtime", buf, 1);
    snprintf(buf, sizeof buf, "%d.%d.%d", h->cublas_version / 10000, h->cublas_version % 10000 / 100,
             h->cublas_version % 100);
    json_key_str(f, "cublas", buf, 1);
    json_key_num(f, "config_count", h->config_count, 1);
    json_key_str(f, "config_mode", h->config_mode, 1);
    json_key_num(f, "iters", h->iters, 1);
    json_key_num(f, "warmup_ms", h->warmup_ms, 1);
    json_key_num(f, "settle_ms", h->settle_ms, 1);
    fprintf(f, ", \"settle_once\": %s, \"warm_l2\": %s, \"graph\": %s, \"check\": %s",
            h->settle_once ? "true" : "false", h->warm_l2 ? "true" : "false",
            h->graph ? "true" : "false", h->check ? "true" : "false");
    snprintf(buf, sizeof buf, "%" PRIu64, h->seed);
    json_key_str(f, "seed", buf, 1);
    json_key_num(f, "mem_ceiling_tbs", h->mem_ceiling_tbs, 1);
    json_key_str(f, "mem_ceiling_how", h->mem_ceiling_how, 1);
    json_key_num(f, "compute_ceiling_tflops", h->compute_ceiling_tflops > 0 ? h->compute_ceiling_tflops : NAN, 1);
    json_key_str(f, "compute_ceiling_how", h->compute_ceiling_how, 1);
    json_key_str(f, "notes", h->notes, 1);
    fprintf(f, "},\n  \"rows\": [");
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        const int ok = r->status == BENCH_ROW_OK;
        const double nan = NAN;
        fprintf(f, "%s\n    {", i ? "," : "");
        json_key_str(f, "label", r->label, 0);
        json_key_num(f, "m", (double)r->m, 1);
        json_key_num(f, "n", (double)r->n, 1);
        json_key_num(f, "k", (double)r->k, 1);
        json_key_num(f, "group", (double)r->group, 1);
        json_key_str(f, "dtype", bench_dtype_name(r->dtype), 1);
        json_key_str(f, "zeros", bench_zeros_name(r->zeros), 1);
        json_key_str(f, "config", ok ? r->config : "", 1);
        json_key_num(f, "n_configs", ok ? r->n_configs : 0, 1);
        json_key_str(f, "status", status_name(r->status), 1);
        json_key_num(f, "median_us", ok ? r->us : nan, 1);
        json_key_num(f, "p10_us", ok ? r->p10 : nan, 1);
        json_key_num(f, "p90_us", ok ? r->p90 : nan, 1);
        json_key_num(f, "tflops", ok ? r->tflops : nan, 1);
        json_key_num(f, "gbps", ok ? r->gbps : nan, 1);
        json_key_num(f, "pct_bw", ok ? r->pct_bw : nan, 1);
        json_key_num(f, "cublas_us", ok ? r->cublas_us : nan, 1);
        json_key_num(f, "cublas_p10_us", ok ? r->cublas_p10 : nan, 1);
        json_key_num(f, "cublas_p90_us", ok ? r->cublas_p90 : nan, 1);
        json_key_num(f, "x_cublas", ok ? r->x_cublas : nan, 1);
        json_key_num(f, "pct_roofline", ok ? r->pct_roofline : nan, 1);
        json_key_num(f, "eff_bytes", bench_effective_bytes(r->m, r->n, r->k, r->group, r->zeros), 1);
        fprintf(f, ", \"checked\": %s", r->checked ? "true" : "false");
        json_key_num(f, "check_worst_ratio", ok && r->checked ? r->check_worst : nan, 1);
        json_key_str(f, "message", r->message, 1);
        bench_target t;
        if (bench_row_target(r, &t)) {
            json_key_str(f, "target_kind", t.kind == BENCH_TARGET_BW ? "pct_bw" : "x_cublas", 1);
            json_key_num(f, "target", t.want, 1);
            fprintf(f, ", \"target_capped\": %s, \"target_met\": %s", t.capped ? "true" : "false",
                    t.met ? "true" : "false");
            json_key_num(f, "best_existing_x", t.best_x > 0 ? t.best_x : NAN, 1);
        }
        if (r->nall) {
            fprintf(f, ", \"all_configs\": [");
            for (int j = 0; j < r->nall; j++) {
                fprintf(f, "%s{", j ? ", " : "");
                json_key_str(f, "name", r->all[j].name, 0);
                fprintf(f, ", \"ok\": %s", r->all[j].ok ? "true" : "false");
                json_key_num(f, "median_us", r->all[j].ok ? r->all[j].us : nan, 1);
                json_key_num(f, "p10_us", r->all[j].ok ? r->all[j].p10 : nan, 1);
                json_key_num(f, "p90_us", r->all[j].ok ? r->all[j].p90 : nan, 1);
                fprintf(f, "}");
            }
            fprintf(f, "]");
        }
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"geomean_x_cublas\": [");
    geo_acc acc[32];
    const int ng = collect_geomeans(rows, nrows, acc, 32);
    int first = 1;
    for (int a = 0; a < ng; a++) {
        for (int j = 0; j < 5; j++) {
            if (!acc[a].count[j]) continue;
            char g[24];
            group_text(g, sizeof g, acc[a].group);
            fprintf(f, "%s\n    {", first ? "" : ",");
            first = 0;
            json_key_str(f, "dtype", bench_dtype_name(acc[a].dtype), 0);
            json_key_str(f, "zeros", bench_zeros_name(acc[a].zeros), 1);
            json_key_str(f, "group", g, 1);
            json_key_str(f, "region", j < 4 ? region_names[j] : "all", 1);
            json_key_num(f, "x_cublas", exp(acc[a].logsum[j] / acc[a].count[j]), 1);
            json_key_num(f, "rows", acc[a].count[j], 1);
            fprintf(f, "}");
        }
    }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f)) {
        fprintf(stderr, "w4a16-bench: error writing %s\n", path);
        return -1;
    }
    return 0;
}

void bench_free_rows(bench_row *rows, int nrows)
{
    for (int i = 0; i < nrows; i++) {
        free(rows[i].all);
        rows[i].all = NULL;
        rows[i].nall = 0;
    }
}

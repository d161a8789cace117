/* w4a16-convert - a quantized checkpoint directory (GPTQ, AWQ, compressed-tensors) in, one
 * safetensors file in the library's packed layout out. See docs/FORMATS.md. */
#define _POSIX_C_SOURCE 200809L
#include "cli_common.h"
#include "convert.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: w4a16-convert [options] CHECKPOINT_DIR OUTPUT.safetensors\n"
            "\n"
            "Converts a 4-bit GPTQ (checkpoint_format gptq or gptq_v2, desc_act included), AWQ (gemm) or\n"
            "compressed-tensors (pack-quantized) checkpoint into the w4a16 packed layout. The directory\n"
            "holds config.json (quantization_config) or quantize_config.json / quant_config.json, and\n"
            "*.safetensors files (sharded through model.safetensors.index.json or not).\n"
            "\n"
            "options:\n"
            "  --dtype fp16|bf16   dtype of scales, float zeros and bias (default: config.json's\n"
            "                      torch_dtype, else the checkpoint scales' dtype)\n"
            "  --no-passthrough    write only the converted layers (default: copy every other tensor)\n"
            "  --cpu               prepare weights on the CPU even if a GPU is present\n"
            "  --device N          CUDA device to use (default 0)\n"
            "  -j, --threads N     CPU threads when no GPU is used (default: all CPUs)\n"
            "  --progress          always draw the progress bar (default: when stderr is a terminal)\n"
            "  --no-progress       never draw it\n"
            "  -v, --verbose       list every converted layer\n"
            "  -q, --quiet         print nothing but errors\n"
            "  -h, --help          this text\n");
}

int main(int argc, char **argv)
{
    cv_options o;
    cv_options_init(&o);
    cli_common_opts c;
    cli_common_defaults(&c);
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int shared = cli_common_option("w4a16-convert", argc, argv, &i, &c);
        if (shared < 0) return 2;
        if (shared) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--dtype") && i + 1 < argc) {
            const char *d = argv[++i];
            if (!strcmp(d, "fp16")) o.dtype = W4A16_DTYPE_FP16;
            else if (!strcmp(d, "bf16")) o.dtype = W4A16_DTYPE_BF16;
            else {
                fprintf(stderr, "w4a16-convert: --dtype %s is not fp16 or bf16\n", d);
                return 2;
            }
        } else if (!strcmp(a, "--no-passthrough")) {
            o.passthrough = 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "w4a16-convert: unknown option %s (or missing value)\n", a);
            usage(stderr);
            return 2;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (npos != 2) {
        usage(stderr);
        return 2;
    }
    o.threads = c.threads;
    struct stat sb;
    if (stat(pos[0], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "w4a16-convert: %s is not a checkpoint directory\n", pos[0]);
        return 1;
    }
    char err[CV_ERR_LEN];
    cv_scheme scheme;
    st_model *model = NULL;
    cv_plan *plan = NULL;
    if (cv_scheme_load_dir(&scheme, pos[0], err) || st_model_open(&model, pos[0], err) ||
        cv_plan_build(&plan, model, &scheme, &o, err)) {
        fprintf(stderr, "w4a16-convert: %s\n", err);
        st_model_close(model);
        return 1;
    }
    cv_backend be;
    cv_backend_init(&be, c.want_gpu, (int)c.device);
    cli_bar bar;
    cli_bar_init(&bar, "converting", c.progress);
    o.progress = cli_bar_update;
    o.progress_ctx = &bar;
    cv_summary sum;
    const int rc = cv_convert(plan, pos[1], &be, &o, &sum, err);
    cli_bar_finish(&bar);
    if (rc) {
        fprintf(stderr, "w4a16-convert: %s\n", err);
    } else if (!c.quiet) {
        char a[16], b[16];
        printf("w4a16-convert: %s\n", scheme.description);
        printf("  input:   %s (%zu file%s, %s of tensors)\n", pos[0], st_model_file_count(model),
               st_model_file_count(model) == 1 ? "" : "s", cli_bytes(st_model_data_bytes(model), a, sizeof a));
        printf("  output:  %s (%s, packed layout v%d, %s scales)\n", pos[1], cli_bytes(sum.bytes_out, b, sizeof b),
               W4A16_PACKED_LAYOUT_VERSION, cv_dtype_name(plan->dtype));
        printf("  backend: %s%s\n", sum.backend,
               cv_backend_is_gpu(&be) || o.threads <= 1 ? "" : " (parallel over layers)");
        if (c.verbose) {
            for (size_t i = 0; i < plan->nlayers; i++) {
                const cv_layer_plan *L = &plan->layers[i];
                printf("    %-60s N=%-6" PRId64 " K=%-6" PRId64 " group=%-5" PRId64 " zeros=%-5s%s%s\n", L->name, L->n,
                       L->k, L->group_size, cv_zero_mode_name(L->zero_mode), L->act_order ? " act-order" : "",
                       L->has_bias ? " bias" : "");
            }
        }
        printf("  layers converted: %zu (zeros none: %zu, int: %zu; act-order: %zu; with bias: %zu)\n", sum.layers,
               sum.by_mode[0], sum.by_mode[1], sum.act_order, sum.with_bias);
        if (sum.act_order)
            printf("  act-order layers carry <name>.w4a16_perm: gather activations A[:, perm] before the GEMM\n");
        printf("  tensors copied unchanged: %zu\n", sum.passthrough);
        printf("  time: %.3f s (%.1f MB/s of input)\n", sum.seconds,
               sum.seconds > 0 ? (double)sum.bytes_in / 1e6 / sum.seconds : 0.0);
    }
    cv_backend_free(&be);
    cv_plan_free(plan);
    st_model_close(model);
    return rc ? 1 : 0;
}

/*
 * make_corpus.c - writes the fuzz target's seed corpus (tests/tools/corpus/): valid and broken
 * safetensors files, index files, configs, and small checkpoints of every format (written by
 * the test fixtures from the formats' definitions), each prefixed with the target byte that
 * tools/fuzz/fuzz_tools.c expects. Run by hand when the corpus should change:
 *     build-tools/tools/tests/tools_make_corpus tests/tools/corpus
 */
#define _POSIX_C_SOURCE 200809L
#include "convert.h"
#include "fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_dir;
static int written;

static void emit(const char *name, int target, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%d-%s", out_dir, target, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(1);
    }
    const unsigned char t = (unsigned char)target;
    fwrite(&t, 1, 1, fp);
    fwrite(data, 1, len, fp);
    fclose(fp);
    written++;
}

static void emit2(const char *name, int target, const void *a, size_t alen, const void *b, size_t blen)
{
    unsigned char *buf = (unsigned char *)malloc(alen + 1 + blen);
    memcpy(buf, a, alen);
    buf[alen] = 0;
    memcpy(buf + alen + 1, b, blen);
    emit(name, target, buf, alen + 1 + blen);
    free(buf);
}

/* A safetensors image from a header text and `data_len` bytes of data (byte i = i). */
static unsigned char *image(const char *header, size_t data_len, size_t *len)
{
    const size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *p = (unsigned char *)malloc(*len);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(p + 8, header, h);
    for (size_t i = 0; i < data_len; i++) p[8 + h + i] = (unsigned char)i;
    return p;
}

static void emit_image(const char *name, const char *header, size_t data_len)
{
    size_t len;
    unsigned char *p = image(header, data_len, &len);
    emit(name, 0, p, len);
    free(p);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = (unsigned char *)malloc(*len ? *len : 1);
    if (fread(p, 1, *len, fp) != *len) *len = 0;
    fclose(fp);
    return p;
}

/* A one-file checkpoint of `spec` as (config, safetensors image). */
static void emit_checkpoint(const char *name, const fx_spec *spec, const char *model_dtype)
{
    char dir[256], cfg[4096], path[512];
    if (fx_tempdir(dir, "corpus")) exit(1);
    fx_truth t;
    fx_truth_make(&t, spec);
    const char *names[1] = {"model.layers.0.mlp.up_proj"};
    fx_config_json(spec, model_dtype, cfg, sizeof cfg);
    if (fx_write_checkpoint(dir, cfg, names, &t, 1, 1)) exit(1);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t len;
    unsigned char *img = slurp(path, &len);
    emit2(name, 3, cfg, strlen(cfg), img, len);
    /* the same image alone for the reader */
    char n2[256];
    snprintf(n2, sizeof n2, "%s-file", name);
    emit(n2, 0, img, len);
    free(img);
    fx_truth_free(&t);
    fx_rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];

    /* ---- target 0: safetensors files ---- */
    emit_image("empty", "{}      ", 0);
    emit_image("valid-f16-i32",
               "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[8,20]}}",
               20);
    emit_image("valid-all-dtypes",
               "{\"a\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]},"
               "\"b\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[1,2]},"
               "\"c\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[2,4]},"
               "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[4,12]},"
               "\"e\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[12,13]},"
               "\"f\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[13,16]},"
               "\"g\":{\"dtype\":\"U64\",\"shape\":[],\"data_offsets\":[16,24]},"
               "\"h\":{\"dtype\":\"I8\",\"shape\":[0,5],\"data_offsets\":[24,24]}}",
               24);
    emit_image("gap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                      "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]}}", 4);
    emit_image("overlap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                          "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", 3);
    emit_image("trailing", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 5);
    emit_image("past-end", "{\"a\":{\"dtype\":\"U8\",\"shape\":[9],\"data_offsets\":[0,9]}}", 4);
    emit_image("size-mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    emit_image("duplicate", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                            "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2);
    emit_image("overflow", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8);
    emit_image("bad-dtype", "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    emit_image("neg-dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1);
    emit_image("float-dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1);
    emit_image("huge-int", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 1);
    emit_image("extra-key", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1);
    emit_image("bad-metadata", "{\"__metadata__\":{\"k\":1}}", 0);
    emit_image("not-object", "[1,2,3]", 0);
    emit_image("odd-f4", "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2);
    emit_image("deep", "{\"__metadata__\":{\"a\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}}", 0);
    {
        unsigned char big[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
        emit("header-too-long", 0, big, 10);
        unsigned char short_[4] = {1, 0, 0, 0};
        emit("short", 0, short_, 4);
    }
    /* a w4a16 output file, for the packed-file reader */
    {
        char dir[256], path[512], err[CV_ERR_LEN];
        if (fx_tempdir(dir, "corpus")) return 1;
        snprintf(path, sizeof path, "%s/out.safetensors", dir);
        cv_backend be;
        cv_backend_init(&be, 0, 0);
        cv_layer l[2];
        const int64_t n = 16, k = 128, gs = 64, G = 2;
        uint8_t *q = (uint8_t *)malloc((size_t)(n * k / 2));
        uint16_t s[2 * 16], zf[2 * 16], bias[16];
        for (int i = 0; i < n * k / 2; i++) q[i] = (uint8_t)(i * 37);
        for (int i = 0; i < G * n; i++) {
            s[i] = 0x2000 + (uint16_t)i;
            zf[i] = 0xa000 + (uint16_t)i;
        }
        for (int i = 0; i < n; i++) bias[i] = 0x3c00;
        if (cv_layer_from_float_offsets(&l[0], "layer.trt", n, k, gs, q, W4A16_DTYPE_FP16, s, zf, 0, W4A16_DTYPE_FP16,
                                        bias, err) ||
            cv_layer_from_float_offsets(&l[1], "layer.machete", n, k, gs, q, W4A16_DTYPE_FP16, s, zf, 1,
                                        W4A16_DTYPE_BF16, NULL, err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        l[1].perm = (int32_t *)malloc((size_t)k * 4);
        for (int i = 0; i < k; i++) l[1].perm[i] = (int32_t)(k - 1 - i);
        if (cv_write_layers(path, l, 2, &be, "corpus", err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        size_t len;
        unsigned char *img = slurp(path, &len);
        emit("w4a16-packed-file", 0, img, len);
        free(img);
        cv_layer_free(&l[0]);
        cv_layer_free(&l[1]);
        free(q);
        cv_backend_free(&be);
        fx_rmdir(dir);
    }

    /* ---- target 1: index files ---- */
    const char *ix_ok = "{\"metadata\":{\"total_size\":12},\"weight_map\":{\"a.weight\":\"model-00001-of-00002.safetensors\","
                        "\"b.weight\":\"model-00002-of-00002.safetensors\",\"c\":\"model-00001-of-00002.safetensors\"}}";
    emit("index-valid", 1, ix_ok, strlen(ix_ok));
    const char *ix_trav = "{\"weight_map\":{\"a\":\"../../etc/passwd\"}}";
    emit("index-traversal", 1, ix_trav, strlen(ix_trav));
    const char *ix_dup = "{\"weight_map\":{\"a\":\"x.safetensors\",\"a\":\"y.safetensors\"}}";
    emit("index-duplicate", 1, ix_dup, strlen(ix_dup));
    const char *ix_nomap = "{\"metadata\":{}}";
    emit("index-no-map", 1, ix_nomap, strlen(ix_nomap));

    /* ---- target 2: configs ---- */
    const char *cfgs[][2] = {
        {"gptq-v1", "{\"torch_dtype\":\"float16\",\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4,"
                    "\"group_size\":128,\"desc_act\":true,\"sym\":true,\"checkpoint_format\":\"gptq\"}}"},
        {"gptq-v2-format", "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":-1,"
                           "\"format\":\"gptq_v2\",\"pack_dtype\":\"int32\",\"dynamic\":{}}}"},
        {"gptq-8bit", "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":8,\"group_size\":128}}"},
        {"gptq-marlin", "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,"
                        "\"checkpoint_format\":\"marlin\"}}"},
        {"gptq-is-marlin", "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,"
                           "\"is_marlin_format\":true}}"},
        {"awq-gemm", "{\"torch_dtype\":\"bfloat16\",\"quantization_config\":{\"quant_method\":\"awq\",\"bits\":4,"
                     "\"group_size\":128,\"zero_point\":true,\"version\":\"GEMM\"}}"},
        {"awq-gemv", "{\"quantization_config\":{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128,"
                     "\"version\":\"gemv\"}}"},
        {"ct-asym", "{\"quantization_config\":{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\","
                    "\"config_groups\":{\"g\":{\"targets\":[\"Linear\"],\"weights\":{\"num_bits\":4,\"type\":\"int\","
                    "\"symmetric\":false,\"strategy\":\"group\",\"group_size\":128,\"actorder\":\"group\"}}}}}"},
        {"ct-w4a8", "{\"quantization_config\":{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\","
                    "\"config_groups\":{\"g\":{\"weights\":{\"num_bits\":4},\"input_activations\":{\"num_bits\":8}}}}}"},
        {"unknown", "{\"quantization_config\":{\"quant_method\":\"bitsandbytes\"}}"},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) emit(cfgs[i][0], 2, cfgs[i][1], strlen(cfgs[i][1]));
    const char *awq_old = "{\"zero_point\":true,\"q_group_size\":128,\"w_bit\":4,\"version\":\"GEMM\"}";
    emit2("awq-quant-config", 2, "{}", 2, awq_old, strlen(awq_old));

    /* ---- target 3: checkpoints ---- */
    fx_spec s;
    memset(&s, 0, sizeof s);
    s.n = 16;
    s.k = 128;
    s.group_size = 64;
    s.scale_dtype = W4A16_DTYPE_FP16;
    s.seed = 1;
    s.format = FX_GPTQ_V1; s.sym = 1;
    emit_checkpoint("gptq-v1-sym", &s, "float16");
    s.sym = 0; s.act_order = 1; s.bias = 1;
    emit_checkpoint("gptq-v1-asym-actorder", &s, NULL);
    s.format = FX_GPTQ_V2; s.act_order = 0; s.bias = 0; s.group_size = -1;
    emit_checkpoint("gptq-v2-asym-channel", &s, "bfloat16");
    s.format = FX_AWQ; s.group_size = 64; s.scale_dtype = W4A16_DTYPE_BF16;
    emit_checkpoint("awq", &s, NULL);
    s.format = FX_CT; s.sym = 1; s.scale_dtype = W4A16_DTYPE_FP16;
    emit_checkpoint("ct-sym", &s, "float16");
    s.sym = 0; s.act_order = 1;
    emit_checkpoint("ct-asym-actorder", &s, NULL);
    /* regressions: dimensions the file does not bound (next to a zero one), huge group sizes */
    {
        const char *cfg = "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128}}";
        size_t len;
        unsigned char *img = image("{\"x.qweight\":{\"dtype\":\"I32\",\"shape\":[1152921504606846976,0],"
                                   "\"data_offsets\":[0,0]}}", 0, &len);
        emit2("gptq-huge-k-zero-n", 3, cfg, strlen(cfg), img, len);
        free(img);
        const char *awq = "{\"quantization_config\":{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128}}";
        img = image("{\"x.qweight\":{\"dtype\":\"I32\",\"shape\":[0,1152921504606846976],"
                    "\"data_offsets\":[0,0]}}", 0, &len);
        emit2("awq-huge-n-zero-k", 3, awq, strlen(awq), img, len);
        free(img);
        const char *ct = "{\"quantization_config\":{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\","
                         "\"config_groups\":{\"g\":{\"weights\":{\"num_bits\":4,\"strategy\":\"group\","
                         "\"group_size\":9223372036854775807}}}}}";
        img = image("{\"x.weight_packed\":{\"dtype\":\"I32\",\"shape\":[8,1],\"data_offsets\":[0,32]},"
                    "\"x.weight_shape\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[32,48]},"
                    "\"x.weight_scale\":{\"dtype\":\"F16\",\"shape\":[8,1],\"data_offsets\":[48,64]}}", 64, &len);
        /* weight_shape = [8, 8] */
        unsigned char *d = img + len - 64;
        memset(d + 32, 0, 16);
        d[32] = 8;
        d[40] = 8;
        emit2("ct-huge-group", 3, ct, strlen(ct), img, len);
        free(img);
    }
    /* regression: a w4a16 file whose metadata claims a huge layer (loaders check tensors first) */
    {
        const char *hdr = "{\"__metadata__\":{\"format\":\"w4a16\",\"w4a16_layout_version\":\"1\",\"w4a16_layers\":"
                          "\"{\\\"x\\\":{\\\"n\\\":1048576,\\\"k\\\":1048576,\\\"group_size\\\":1048576,"
                          "\\\"zero_mode\\\":\\\"none\\\",\\\"dtype\\\":\\\"fp16\\\",\\\"act_order\\\":false,"
                          "\\\"bias\\\":false}}\"},\"x.w4a16_packed\":{\"dtype\":\"U8\",\"shape\":[16],"
                          "\"data_offsets\":[0,16]}}";
        emit_image("w4a16-huge-metadata", hdr, 16);
    }
    printf("make_corpus: %d files in %s\n", written, out_dir);
    return 0;
}

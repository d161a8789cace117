/*
 * fixtures.h - test checkpoints written from the formats' definitions (../shared/FORMATS.md,
 * docs/FORMATS.md), NOT with the converters or the library's packer, and each format's own
 * dequantization formula, computed from the checkpoint's tensors as written.
 *
 * A test draws a ground truth (q, z, s, g_idx, bias), writes it in a format, converts it,
 * and compares the result with the truth and with the format's formula.
 */
#ifndef W4A16_TEST_FIXTURES_H
#define W4A16_TEST_FIXTURES_H

#include "ref.h"
#include "safetensors.h"
#include "w4a16.h"

#include <stdint.h>
#include <stdio.h>

typedef enum fx_format {
    FX_GPTQ_V1, FX_GPTQ_V2, FX_AWQ, FX_CT
} fx_format;

/* What a test asks for. */
typedef struct fx_spec {
    fx_format format;
    int64_t n, k;
    int64_t group_size;   /* -1: per-channel */
    int sym;              /* GPTQ/CT: symmetric (z = 8 / no zero point) */
    int act_order;        /* GPTQ/CT: a non-trivial g_idx */
    int bias;
    w4a16_dtype scale_dtype; /* of the checkpoint's scales (and bias) */
    uint64_t seed;
    int gidx_i64;         /* GPTQ: write g_idx as int64 (an unsupported variant) */
    int no_gidx;          /* GPTQ: write no g_idx tensor */
} fx_spec;

/* The ground truth of one layer, in the original K order. */
typedef struct fx_truth {
    fx_spec spec;
    int64_t groups, gs;   /* gs: effective group size (K when per-channel) */
    uint8_t *q;           /* [n * k], one stored nibble per byte, q[n*k + k] */
    uint8_t *z;           /* [groups * n], true zero point 0..15 (8 when symmetric) */
    uint16_t *s;          /* [groups * n] scale bits in spec.scale_dtype */
    int32_t *g_idx;       /* [k] */
    uint16_t *bias;       /* [n] in scale_dtype, or NULL */
} fx_truth;

void fx_truth_make(fx_truth *t, const fx_spec *spec);
void fx_truth_free(fx_truth *t);

/* Adds the layer `prefix`'s tensors in the format to a writer. The buffers are allocated and
 * kept in *bufs (free with fx_bufs_free after writing). */
typedef struct fx_bufs { void *p[8]; int n; } fx_bufs;
int fx_add_layer(st_writer *w, const char *prefix, const fx_truth *t, fx_bufs *bufs);
void fx_bufs_free(fx_bufs *b);

/* The config text (config.json with quantization_config) for a spec. model_dtype: "float16",
 * "bfloat16" or NULL (no torch_dtype). */
void fx_config_json(const fx_spec *s, const char *model_dtype, char *out, size_t len);

/* Writes a whole checkpoint directory: config.json and the layers (names[i], truths[i]) plus
 * an unquantized "model.norm.weight" [k0] tensor; over `shards` files with an index when
 * shards > 1. Creates dir. Returns 0 or -1 (message on stderr). */
int fx_write_checkpoint(const char *dir, const char *config_json, const char *const *names, fx_truth *truths,
                        int count, int shards);

/* The format's dequantization formula, read from the checkpoint's own tensors of layer
 * `prefix` (found in model m), into w [n * k] (original K order, fp32 values before any
 * rounding to an activation dtype). v1 (GPTQ) and the format come from `format`. */
int fx_format_dequant(const st_model *m, const char *prefix, fx_format format, int64_t group_size, float *w);

/* Reads the whole of a tensor's data (copy). NULL if absent. */
void *fx_tensor_copy(const st_model *m, const char *name, const st_tensor **t);

/* Checks: |got - want| <= atol + rtol*|want| elementwise; prints up to 5 mismatches. */
int64_t fx_check_close(const char *label, const double *got, const double *want, int64_t count, double rtol,
                       double atol);

/* Element of a fp16/bf16 bit array as float (test-side decoding). */
float fx_h2f(w4a16_dtype t, uint16_t h);
uint16_t fx_f2h(w4a16_dtype t, float f);

/* Makes a fresh temporary directory under $TMPDIR (or /tmp); path into out (>= 256 bytes). */
int fx_tempdir(char *out, const char *tag);
/* rm -r of a directory made by fx_tempdir (flat or one level of files). */
void fx_rmdir(const char *dir);

/* Test bookkeeping: CHECK(cond, fmt, ...) counts failures and prints them. */
extern int fx_failures;
#define CHECK(cond, ...)                                                                            \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                    \
            fprintf(stderr, __VA_ARGS__);                                                           \
            fputc('\n', stderr);                                                                    \
            fx_failures++;                                                                          \
        }                                                                                           \
    } while (0)

#endif

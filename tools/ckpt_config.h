/*
 * ckpt_config.h - what a quantized checkpoint's configuration says: which format (GPTQ, AWQ,
 * compressed-tensors), which variant, group size, symmetry, act-order, and the model dtype.
 * Read from config.json ("quantization_config", "torch_dtype"/"dtype") or, when config.json
 * has no quantization_config, from the quantizer's own file (quantize_config.json for
 * AutoGPTQ/GPTQModel, quant_config.json for AutoAWQ). Variants this project does not convert
 * are refused by name (see docs/FORMATS.md).
 */
#ifndef W4A16_TOOLS_CKPT_CONFIG_H
#define W4A16_TOOLS_CKPT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CV_ERR_LEN 512 /* = ST_ERR_LEN */
#define CV_MAX_CT_GROUPS 32

typedef enum cv_format { CV_FORMAT_GPTQ = 0, CV_FORMAT_AWQ = 1, CV_FORMAT_CT = 2 } cv_format;

/* One compressed-tensors config group's weight scheme. */
typedef struct cv_ct_group {
    int64_t group_size;  /* -1 for strategy "channel" */
    int symmetric;
    int actorder;        /* 1 when actorder is "group" (weight_g_idx tensors are expected) */
} cv_ct_group;

typedef struct cv_scheme {
    cv_format format;
    int gptq_version;    /* GPTQ: 1 (checkpoint_format "gptq", zeros stored as z-1) or 2 */
    int64_t group_size;  /* GPTQ/AWQ: -1 means per-channel (group = K) */
    int desc_act;        /* GPTQ: act-order (g_idx permutes K) */
    int sym;             /* GPTQ: symmetric flag of the config (zeros decide the mode anyway) */
    int model_dtype;     /* w4a16_dtype named by torch_dtype/dtype (FP16 or BF16), or -1 */
    size_t n_ct_groups;
    cv_ct_group ct_groups[CV_MAX_CT_GROUPS];
    char description[160]; /* e.g. "GPTQ v1 (checkpoint_format gptq), 4-bit, group 128, sym, desc_act" */
} cv_scheme;

/* Parses the configuration. `config_json` is config.json's text and `quant_json` the
 * quantizer's own file's text; either may be NULL (len ignored). Returns 0, or -1 with a
 * message in err (CV_ERR_LEN bytes). */
int cv_scheme_parse(cv_scheme *s, const char *config_json, size_t config_len, const char *quant_json,
                    size_t quant_len, char *err);

/* Reads <dir>/config.json and, if needed, <dir>/quantize_config.json or quant_config.json,
 * then cv_scheme_parse. */
int cv_scheme_load_dir(cv_scheme *s, const char *dir, char *err);

const char *cv_format_name(cv_format f); /* "gptq", "awq", "compressed-tensors" */

#ifdef __cplusplus
}
#endif
#endif

/*
 * convert.h - the converter library: quantized checkpoints (GPTQ v1/v2, AWQ gemm,
 * compressed-tensors pack-quantized) and TensorRT-LLM-style float zero offsets into the
 * library's packed layout, written as one safetensors file.
 *
 * Output file, per linear layer <name> (the checkpoint's module name, e.g.
 * "model.layers.0.self_attn.q_proj"):
 *   <name>.w4a16_packed  U8 [bytes]   from w4a16_pack / w4a16_pack_host (carries its own header)
 *   <name>.scales        F16|BF16 [G, N] (the activation dtype)
 *   <name>.zeros         U8 [G, N] (W4A16_ZEROS_INT) or F16|BF16 [G, N] (W4A16_ZEROS_FLOAT);
 *                        absent for W4A16_ZEROS_NONE
 *   <name>.bias          F16|BF16 [N], when the checkpoint has one
 *   <name>.w4a16_perm    I32 [K], act-order only: the weight's K axis was permuted once, so the
 *                        activations must be gathered: A'[:, j] = A[:, perm[j]], then
 *                        D = A' . dequant(W')^T equals the original layer's output
 *                        (w4a16_problem.k_perm makes w4a16_gemm do that gather).
 * __metadata__: "format": "w4a16", "w4a16_layout_version": W4A16_PACKED_LAYOUT_VERSION,
 *   "w4a16_source": a description of the input, and "w4a16_layers": a JSON object
 *   {name: {"n", "k", "group_size", "zero_mode": "none"|"int"|"float", "dtype": "fp16"|"bf16",
 *   "act_order": bool, "bias": bool, "source": "gptq_v1"|...}}.
 * Every other tensor of the checkpoint (embeddings, norms, unquantized layers) is copied
 * unchanged unless cv_options.passthrough is 0.
 */
#ifndef W4A16_TOOLS_CONVERT_H
#define W4A16_TOOLS_CONVERT_H

#include "backend.h"
#include "ckpt_config.h"
#include "safetensors.h"
#include "w4a16.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One linear layer in the library's form (host memory, owned by the struct). */
typedef struct cv_layer {
    char *name;
    const char *source;         /* static: "gptq_v1", "gptq_v2", "awq", "ct", "trt_float", ... */
    int64_t n, k, group_size;
    w4a16_zero_mode zero_mode;
    w4a16_dtype dtype;          /* activation = scale (= float zero, = bias) dtype */
    uint8_t *q;                 /* canonical [n, k/2], K already permuted when perm != NULL */
    void *packed;               /* w4a16_pack output (set by cv_layer_pack or the loader) */
    size_t packed_bytes;
    void *scales;               /* [G, n] of dtype */
    void *zeros;                /* uint8 [G, n] (INT), dtype [G, n] (FLOAT), NULL (NONE) */
    void *bias;                 /* [n] of dtype, or NULL */
    int32_t *perm;              /* [k] or NULL */
} cv_layer;

void cv_layer_free(cv_layer *l); /* frees the buffers and zeroes the struct */

/* Packs l->q into l->packed with the backend (GPU when it has one). */
int cv_layer_pack(cv_layer *l, cv_backend *be, char *err);

/* ---- checkpoints ------------------------------------------------------------------------- */

typedef void (*cv_progress_fn)(void *ctx, uint64_t done_bytes, uint64_t total_bytes, size_t layers_done,
                               size_t layers_total);

typedef struct cv_options {
    int dtype;          /* w4a16_dtype of scales/bias in the output, or -1: config's torch_dtype,
                           else the first layer's scales dtype (F16/BF16), else FP16 */
    int passthrough;    /* 1: copy the non-quantized tensors (default), 0: drop them */
    int threads;        /* CPU path: layers converted in parallel (<= 1: one thread) */
    cv_progress_fn progress;
    void *progress_ctx;
} cv_options;

void cv_options_init(cv_options *o);

/* A layer found in the checkpoint, checked against the config, before any weight is read. */
typedef struct cv_layer_plan {
    char *name;
    int64_t n, k, group_size, groups;
    w4a16_zero_mode zero_mode;
    int act_order;      /* a non-trivial g_idx: perm output */
    int has_bias;
    const char *source;
    const st_tensor *t_qweight, *t_qzeros, *t_scales, *t_gidx, *t_bias, *t_shape;
    const st_file *f_qweight, *f_qzeros, *f_scales, *f_gidx, *f_bias, *f_shape;
    uint64_t in_bytes;  /* bytes of the checkpoint this layer reads */
} cv_layer_plan;

typedef struct cv_plan {
    cv_scheme scheme;
    const st_model *model;
    w4a16_dtype dtype;
    cv_layer_plan *layers;      /* sorted by name */
    size_t nlayers;
    const st_tensor **other;    /* passthrough tensors, sorted by name */
    const st_file **other_files;
    size_t nother;
} cv_plan;

/* Finds every quantized layer of `model` under `scheme`, checks its tensors' dtypes and shapes
 * against the format and the library's limits, reads the small tensors that decide the
 * output's form (GPTQ zeros: NONE when every zero is 8; g_idx: act-order), and lists the
 * other tensors. Fails with the first problem found, naming the tensor. */
int cv_plan_build(cv_plan **out, const st_model *model, const cv_scheme *scheme, const cv_options *o,
                  char *err);
void cv_plan_free(cv_plan *p);

/* Decodes layer i of the plan into the library's form (q, scales, zeros, bias, perm). */
int cv_decode_layer(const cv_plan *p, size_t i, cv_layer *out, char *err);

typedef struct cv_summary {
    size_t layers, by_mode[3], act_order, with_bias, passthrough;
    uint64_t bytes_in, bytes_out;
    double seconds;
    char backend[256];
} cv_summary;

/* Converts every layer of the plan and writes the output file at `out_path`. */
int cv_convert(const cv_plan *p, const char *out_path, cv_backend *be, const cv_options *o, cv_summary *sum,
               char *err);

/* Directory in, file out: cv_scheme_load_dir + st_model_open + cv_plan_build + cv_convert. */
int cv_convert_dir(const char *dir, const char *out_path, cv_backend *be, const cv_options *o, cv_summary *sum,
                   char *err);

/* ---- TensorRT-LLM-style float zero offsets (an API; there is no checkpoint reader) -------- */

/* Builds a W4A16_ZEROS_FLOAT layer from canonical int4 q [n, k/2] (nibble = q_signed + 8),
 * scales [G, n] and float offsets zf [G, n] in src_dtype (FP16, BF16 or FP32), for
 *     w = (nibble - 8) * s + zf                    (unsigned_q = 0, TensorRT-LLM fpA_intB)
 *     w = nibble * s + zf_u,  stored as zf = zf_u + 8 * s   (unsigned_q = 1, Machete)
 * Scales and offsets are rounded once to `dtype` (computed in fp32 first for Machete).
 * bias [n] in src_dtype or NULL. The layer is not packed yet (see cv_layer_pack). */
int cv_layer_from_float_offsets(cv_layer *out, const char *name, int64_t n, int64_t k, int64_t group_size,
                                const uint8_t *q, w4a16_dtype src_dtype, const void *scales, const void *zf,
                                int unsigned_q, w4a16_dtype dtype, const void *bias, char *err);

/* zf = (8 - z) * s for integer zeros z (uint8 [G, n]) and scales [G, n] of dtype, rounded to
 * dtype: the float form of an integer zero point (results differ from the integer form by
 * that rounding near zero). */
int cv_float_offsets_from_int_zeros(int64_t groups, int64_t n, w4a16_dtype dtype, const void *scales,
                                    const uint8_t *z, void *zf, char *err);

/* Writes layers (packing those not packed yet) to a w4a16 file; `source` goes to
 * __metadata__["w4a16_source"]. */
int cv_write_layers(const char *path, cv_layer *layers, size_t count, cv_backend *be, const char *source,
                    char *err);

/* ---- reading our own output -------------------------------------------------------------- */

typedef struct cv_packed_info {
    char *name;
    int64_t n, k, group_size;
    w4a16_zero_mode zero_mode;
    w4a16_dtype dtype;
    int act_order, has_bias;
} cv_packed_info;

/* Parses __metadata__["w4a16_layers"] (checks every field and the layout version given). */
int cv_packed_info_parse(const char *layers_json, size_t len, cv_packed_info **out, size_t *count, char *err);
void cv_packed_info_free(cv_packed_info *info, size_t count);
/* Lists the layers of a w4a16 file (checks "format" and "w4a16_layout_version"). */
int cv_packed_file_layers(const st_file *f, cv_packed_info **out, size_t *count, char *err);
/* Loads one layer (packed bytes, scales, zeros, bias, perm; q is unpacked too when unpack=1),
 * checking every tensor's dtype and shape against the metadata. */
int cv_packed_layer_load(const st_file *f, const cv_packed_info *info, int unpack, cv_layer *out, char *err);

/* ---- writing w4a16 files piece by piece (what cv_convert and cv_write_layers use) --------- */

#define CV_OUT_TENSORS 5 /* packed, scales, zeros, bias, perm */
/* Declares the tensors of one layer described by `info` (idx receives their writer indices,
 * SIZE_MAX for those absent). */
int cv_out_declare(st_writer *w, const cv_packed_info *info, size_t idx[CV_OUT_TENSORS], char *err);
/* Writes a packed layer's tensors (l->packed must be set) at the declared indices. */
int cv_out_put(st_writer *w, const size_t idx[CV_OUT_TENSORS], const cv_layer *l, char *err);
/* Sets the file's __metadata__ for these layers. */
int cv_out_metadata(st_writer *w, const cv_packed_info *infos, size_t count, const char *source, char *err);
/* The cv_packed_info of a layer (name borrowed). */
cv_packed_info cv_layer_info(const cv_layer *l);

/* ---- scalar helpers ---------------------------------------------------------------------- */
float cv_half_to_float(uint16_t h);
uint16_t cv_float_to_half(float f); /* round to nearest even */
float cv_bf16_to_float(uint16_t h);
uint16_t cv_float_to_bf16(float f);  /* round to nearest even */
const char *cv_dtype_name(w4a16_dtype t);        /* "fp16", "bf16", "fp32" */
const char *cv_zero_mode_name(w4a16_zero_mode z); /* "none", "int", "float" */
st_dtype cv_st_dtype(w4a16_dtype t);             /* ST_F16, ST_BF16, ST_F32 */

#ifdef __cplusplus
}
#endif
#endif

/* ckpt_config.c - reading a quantized checkpoint's configuration (see ckpt_config.h). */
#define _POSIX_C_SOURCE 200809L
#include "tool_util.h"
#include "ckpt_config.h"

#include "w4a16.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *cv_format_name(cv_format f)
{
    switch (f) {
    case CV_FORMAT_GPTQ: return "gptq";
    case CV_FORMAT_AWQ: return "awq";
    case CV_FORMAT_CT: return "compressed-tensors";
    }
    return "unknown";
}

/* ---- typed field access: absent or null -> default; wrong type -> error ------------------ */

static const json_t *field(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return (v && !json_is_null(v)) ? v : NULL;
}

static int get_bool(const json_t *obj, const char *key, int dflt, int *out, const char *where, char *err)
{
    const json_t *v = field(obj, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v)) {
        tool_seterr(err, "%s: \"%s\" is not true or false", where, key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int get_int(const json_t *obj, const char *key, int64_t dflt, int64_t *out, const char *where, char *err)
{
    const json_t *v = field(obj, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v)) {
        tool_seterr(err, "%s: \"%s\" is not an integer", where, key);
        return -1;
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* A string field; *out = NULL when absent. */
static int get_str(const json_t *obj, const char *key, const char **out, const char *where, char *err)
{
    const json_t *v = field(obj, key);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v)) {
        tool_seterr(err, "%s: \"%s\" is not a string", where, key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int check_bits(int64_t bits, const char *fmt, char *err)
{
    if (bits != 4) {
        tool_seterr(err, "%s with bits=%" PRId64 " is not supported (only 4-bit weights)", fmt, bits);
        return -1;
    }
    return 0;
}

static int check_group(int64_t g, const char *fmt, char *err)
{
    if (g != -1 && g <= 0) {
        tool_seterr(err, "%s: group_size=%" PRId64 " is neither -1 (per-channel) nor positive", fmt, g);
        return -1;
    }
    return 0;
}

/* ---- GPTQ -------------------------------------------------------------------------------- */

static int parse_gptq(cv_scheme *s, const json_t *q, const char *where, char *err)
{
    int64_t bits;
    const char *fmt = NULL, *fmt2 = NULL, *pack = NULL;
    int marlin = 0;
    s->format = CV_FORMAT_GPTQ;
    if (get_int(q, "bits", -1, &bits, where, err) || get_int(q, "group_size", -1, &s->group_size, where, err) ||
        get_bool(q, "desc_act", 0, &s->desc_act, where, err) || get_bool(q, "sym", 1, &s->sym, where, err) ||
        get_str(q, "checkpoint_format", &fmt, where, err) || get_str(q, "format", &fmt2, where, err) ||
        get_str(q, "pack_dtype", &pack, where, err) || get_bool(q, "is_marlin_format", 0, &marlin, where, err))
        return -1;
    if (check_bits(bits, "GPTQ", err) || check_group(s->group_size, "GPTQ", err)) return -1;
    if (marlin) {
        tool_seterr(err, "GPTQ checkpoint with is_marlin_format=true is not supported (marlin-format flag; "
                    "convert from the original gptq checkpoint)");
        return -1;
    }
    if (fmt && fmt2 && strcmp(fmt, fmt2) != 0) {
        tool_seterr(err, "GPTQ: checkpoint_format \"%.32s\" and format \"%.32s\" disagree", fmt, fmt2);
        return -1;
    }
    if (!fmt) fmt = fmt2 ? fmt2 : "gptq";
    if (strcmp(fmt, "gptq") == 0) {
        s->gptq_version = 1;
    } else if (strcmp(fmt, "gptq_v2") == 0) {
        s->gptq_version = 2;
    } else {
        tool_seterr(err, "GPTQ checkpoint_format \"%.32s\" is not supported (only \"gptq\" and \"gptq_v2\")", fmt);
        return -1;
    }
    if (pack && strcmp(pack, "int32") != 0) {
        tool_seterr(err, "GPTQ pack_dtype \"%.32s\" is not supported (only int32)", pack);
        return -1;
    }
    const json_t *dyn = field(q, "dynamic");
    if (dyn && (!json_is_object(dyn) || json_object_size(dyn) != 0)) {
        tool_seterr(err, "GPTQ \"dynamic\" per-module overrides are not supported");
        return -1;
    }
    char g[32];
    if (s->group_size == -1) snprintf(g, sizeof g, "per-channel");
    else snprintf(g, sizeof g, "group %" PRId64, s->group_size);
    snprintf(s->description, sizeof s->description, "GPTQ %s (checkpoint_format %s), 4-bit, %s, %s%s",
             s->gptq_version == 1 ? "v1" : "v2", fmt, g, s->sym ? "sym" : "asym",
             s->desc_act ? ", desc_act" : "");
    return 0;
}

/* ---- AWQ --------------------------------------------------------------------------------- */

static int parse_awq(cv_scheme *s, const json_t *q, const char *where, char *err)
{
    int64_t bits, wbit, g, qg;
    int zp;
    const char *version = NULL;
    s->format = CV_FORMAT_AWQ;
    if (get_int(q, "bits", -1, &bits, where, err) || get_int(q, "w_bit", -1, &wbit, where, err) ||
        get_int(q, "group_size", 0, &g, where, err) || get_int(q, "q_group_size", 0, &qg, where, err) ||
        get_bool(q, "zero_point", 1, &zp, where, err) || get_str(q, "version", &version, where, err))
        return -1;
    if (bits == -1) bits = wbit;
    if (g == 0) g = qg;
    if (g == 0) {
        tool_seterr(err, "AWQ: no group_size (or q_group_size)");
        return -1;
    }
    s->group_size = g;
    if (check_bits(bits, "AWQ", err) || check_group(g, "AWQ", err)) return -1;
    if (!version) version = "gemm";
    if (strcasecmp(version, "gemm") != 0) {
        tool_seterr(err, "AWQ version \"%.32s\" is not supported (only \"gemm\"; gemv, gemv_fast and marlin use other layouts)",
               version);
        return -1;
    }
    if (!zp) {
        tool_seterr(err, "AWQ with zero_point=false is not supported");
        return -1;
    }
    snprintf(s->description, sizeof s->description, "AWQ gemm, 4-bit, group %" PRId64 ", zero point", g);
    return 0;
}

/* ---- compressed-tensors ------------------------------------------------------------------ */

static int parse_ct_group(cv_ct_group *out, const char *gname, const json_t *grp, const char *cfg_format,
                          char *err)
{
    char where[96];
    snprintf(where, sizeof where, "compressed-tensors config_groups[\"%.48s\"]", gname);
    if (!json_is_object(grp)) {
        tool_seterr(err, "%s is not an object", where);
        return -1;
    }
    const char *gf = NULL;
    if (get_str(grp, "format", &gf, where, err)) return -1;
    if (gf && strcmp(gf, "pack-quantized") != 0) {
        tool_seterr(err, "%s: format \"%.48s\" is not supported (only pack-quantized)", where, gf);
        return -1;
    }
    (void)cfg_format;
    if (field(grp, "input_activations") || field(grp, "output_activations")) {
        tool_seterr(err, "%s quantizes activations too; only weight-only (W4A16) schemes are supported", where);
        return -1;
    }
    const json_t *w = field(grp, "weights");
    if (!w || !json_is_object(w)) {
        tool_seterr(err, "%s has no \"weights\" object", where);
        return -1;
    }
    int64_t bits, gs;
    int sym, dynamic;
    const char *type = NULL, *strategy = NULL, *actorder = NULL;
    if (get_int(w, "num_bits", -1, &bits, where, err) || get_str(w, "type", &type, where, err) ||
        get_bool(w, "symmetric", 1, &sym, where, err) || get_str(w, "strategy", &strategy, where, err) ||
        get_int(w, "group_size", -1, &gs, where, err) || get_bool(w, "dynamic", 0, &dynamic, where, err))
        return -1;
    const json_t *ao = field(w, "actorder");
    if (ao) {
        if (json_is_string(ao)) actorder = json_string_value(ao);
        else if (!json_is_boolean(ao)) {
            tool_seterr(err, "%s: \"actorder\" is not a string", where);
            return -1;
        } else if (json_is_true(ao)) {
            actorder = "group";
        }
    }
    if (check_bits(bits, "compressed-tensors", err)) return -1;
    if (type && strcmp(type, "int") != 0) {
        tool_seterr(err, "%s: weight type \"%.32s\" is not supported (only int)", where, type);
        return -1;
    }
    if (dynamic) {
        tool_seterr(err, "%s: dynamic weight quantization is not supported", where);
        return -1;
    }
    if (!strategy) strategy = gs > 0 ? "group" : "channel";
    if (strcmp(strategy, "group") == 0) {
        if (gs <= 0) {
            tool_seterr(err, "%s: strategy group needs a positive group_size", where);
            return -1;
        }
        out->group_size = gs;
    } else if (strcmp(strategy, "channel") == 0) {
        out->group_size = -1;
    } else {
        tool_seterr(err, "%s: strategy \"%.32s\" is not supported (only group and channel)", where, strategy);
        return -1;
    }
    out->symmetric = sym;
    out->actorder = actorder && strcmp(actorder, "group") == 0;
    if (actorder && strcmp(actorder, "group") != 0 && strcmp(actorder, "weight") != 0 &&
        strcmp(actorder, "static") != 0) {
        tool_seterr(err, "%s: actorder \"%.32s\" is not supported", where, actorder);
        return -1;
    }
    return 0;
}

static int parse_ct(cv_scheme *s, const json_t *q, const char *where, char *err)
{
    const char *fmt = NULL, *status = NULL;
    s->format = CV_FORMAT_CT;
    if (get_str(q, "format", &fmt, where, err) || get_str(q, "quantization_status", &status, where, err))
        return -1;
    if (!fmt || strcmp(fmt, "pack-quantized") != 0) {
        tool_seterr(err, "compressed-tensors format \"%.48s\" is not supported (only pack-quantized)", fmt ? fmt : "(none)");
        return -1;
    }
    if (status && strcmp(status, "compressed") != 0) {
        tool_seterr(err, "compressed-tensors quantization_status \"%.32s\" is not supported (only compressed)", status);
        return -1;
    }
    const json_t *sp = field(q, "sparsity_config");
    if (sp) {
        const char *spf = NULL;
        if (json_is_object(sp)) get_str(sp, "format", &spf, where, NULL);
        if (!spf || strcmp(spf, "dense") != 0) {
            tool_seterr(err, "compressed-tensors sparsity_config (format \"%.32s\") is not supported", spf ? spf : "?");
            return -1;
        }
    }
    if (field(q, "transform_config")) {
        tool_seterr(err, "compressed-tensors transform_config (rotations) is not supported");
        return -1;
    }
    const json_t *groups = field(q, "config_groups");
    if (!groups || !json_is_object(groups) || json_object_size(groups) == 0) {
        tool_seterr(err, "compressed-tensors: no config_groups");
        return -1;
    }
    if (json_object_size(groups) > CV_MAX_CT_GROUPS) {
        tool_seterr(err, "compressed-tensors: more than %d config_groups", CV_MAX_CT_GROUPS);
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)groups, key, val) {
        if (parse_ct_group(&s->ct_groups[s->n_ct_groups], key, val, fmt, err)) return -1;
        s->n_ct_groups++;
    }
    const cv_ct_group *g0 = &s->ct_groups[0];
    char g[32];
    if (g0->group_size == -1) snprintf(g, sizeof g, "per-channel");
    else snprintf(g, sizeof g, "group %" PRId64, g0->group_size);
    snprintf(s->description, sizeof s->description, "compressed-tensors pack-quantized, 4-bit, %s, %s%s%s", g,
             g0->symmetric ? "sym" : "asym", g0->actorder ? ", actorder group" : "",
             s->n_ct_groups > 1 ? " (+ more config groups)" : "");
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------ */

static json_t *load_json(const char *text, size_t len, const char *what, char *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        tool_seterr(err, "%s: %s (line %d, column %d)", what, jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        tool_seterr(err, "%s is not a JSON object", what);
        json_decref(j);
        return NULL;
    }
    return j;
}

int cv_scheme_parse(cv_scheme *s, const char *config_json, size_t config_len, const char *quant_json,
                    size_t quant_len, char *err)
{
    memset(s, 0, sizeof *s);
    s->model_dtype = -1;
    json_t *cfg = NULL, *qf = NULL;
    int rc = -1;
    if (config_json && !(cfg = load_json(config_json, config_len, "config.json", err))) goto done;
    if (quant_json && !(qf = load_json(quant_json, quant_len, "quantize_config.json", err))) goto done;
    const json_t *q = NULL;
    const char *where = "quantization_config";
    if (cfg) {
        const char *dt = NULL;
        if (get_str(cfg, "torch_dtype", &dt, "config.json", err)) goto done;
        if (!dt && get_str(cfg, "dtype", &dt, "config.json", err)) goto done;
        if (dt && strcmp(dt, "float16") == 0) s->model_dtype = W4A16_DTYPE_FP16;
        if (dt && strcmp(dt, "bfloat16") == 0) s->model_dtype = W4A16_DTYPE_BF16;
        q = field(cfg, "quantization_config");
        if (q && !json_is_object(q)) {
            tool_seterr(err, "config.json: quantization_config is not an object");
            goto done;
        }
    }
    if (!q && qf) {
        q = qf;
        where = "quantize_config.json";
    }
    if (!q) {
        tool_seterr(err, "no quantization config (config.json has no quantization_config and there is no "
                    "quantize_config.json or quant_config.json)");
        goto done;
    }
    const char *method = NULL;
    if (get_str(q, "quant_method", &method, where, err)) goto done;
    if (!method) {
        /* The quantizers' own files may omit it: AutoAWQ's quant_config.json has w_bit. */
        method = (json_object_get(q, "w_bit") || json_object_get(q, "version")) ? "awq" : "gptq";
    }
    if (strcmp(method, "gptq") == 0) rc = parse_gptq(s, q, where, err);
    else if (strcmp(method, "awq") == 0) rc = parse_awq(s, q, where, err);
    else if (strcmp(method, "compressed-tensors") == 0) rc = parse_ct(s, q, where, err);
    else tool_seterr(err, "quant_method \"%.48s\" is not supported (gptq, awq and compressed-tensors are)", method);
done:
    json_decref(cfg);
    json_decref(qf);
    return rc;
}

static char *read_text(const char *dir, const char *name, size_t *len, int *missing, char *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    *missing = 0;
    if (!fp) {
        if (errno == ENOENT) *missing = 1;
        else tool_seterr(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    const size_t limit = (size_t)64 << 20;
    size_t cap = 1 << 16, n = 0;
    char *buf = (char *)malloc(cap);
    while (buf) {
        const size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (n < cap) break;
        if (cap >= limit) {
            free(buf);
            buf = NULL;
            tool_seterr(err, "%s: larger than %zu bytes", path, limit);
            fclose(fp);
            return NULL;
        }
        char *nb = (char *)realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf || ferror(fp)) {
        tool_seterr(err, "%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    *len = n;
    return buf;
}

int cv_scheme_load_dir(cv_scheme *s, const char *dir, char *err)
{
    size_t clen = 0, qlen = 0;
    int missing;
    char *cfg = read_text(dir, "config.json", &clen, &missing, err);
    if (!cfg && !missing) return -1;
    char *qj = read_text(dir, "quantize_config.json", &qlen, &missing, err);
    if (!qj && !missing) {
        free(cfg);
        return -1;
    }
    if (!qj) {
        qj = read_text(dir, "quant_config.json", &qlen, &missing, err);
        if (!qj && !missing) {
            free(cfg);
            return -1;
        }
    }
    const int rc = cv_scheme_parse(s, cfg, clen, qj, qlen, err);
    free(cfg);
    free(qj);
    return rc;
}

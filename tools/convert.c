/* convert.c - GPTQ / AWQ / compressed-tensors / float-offset layers into the packed layout. */
#define _POSIX_C_SOURCE 200809L
#include "tool_util.h"
#include "convert.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *cat2(const char *a, const char *b)
{
    const size_t x = strlen(a), y = strlen(b);
    char *s = (char *)malloc(x + y + 1);
    if (!s) return NULL;
    memcpy(s, a, x);
    memcpy(s + x, b, y + 1);
    return s;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- scalars ----------------------------------------------------------------------------- */

float cv_half_to_float(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

uint16_t cv_float_to_half(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    const float a = fabsf(f);
    if (a != a) return (uint16_t)(sign | 0x7e00);
    if (a >= 65520.0f) return (uint16_t)(sign | 0x7c00);
    if (a < ldexpf(1.0f, -14)) return (uint16_t)(sign | (uint16_t)nearbyintf(a * 16777216.0f));
    int e;
    frexpf(a, &e);
    float m = nearbyintf(ldexpf(a, 11 - e));
    if (m >= 2048.0f) {
        m *= 0.5f;
        e++;
    }
    if (e - 1 + 15 >= 31) return (uint16_t)(sign | 0x7c00);
    return (uint16_t)(sign | ((e - 1 + 15) << 10) | ((uint32_t)m & 1023));
}

float cv_bf16_to_float(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t cv_float_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if (f != f) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

const char *cv_dtype_name(w4a16_dtype t)
{
    return t == W4A16_DTYPE_FP16 ? "fp16" : t == W4A16_DTYPE_BF16 ? "bf16" : t == W4A16_DTYPE_FP32 ? "fp32" : "?";
}

const char *cv_zero_mode_name(w4a16_zero_mode z)
{
    return z == W4A16_ZEROS_NONE ? "none" : z == W4A16_ZEROS_INT ? "int" : z == W4A16_ZEROS_FLOAT ? "float" : "?";
}

st_dtype cv_st_dtype(w4a16_dtype t)
{
    return t == W4A16_DTYPE_FP16 ? ST_F16 : t == W4A16_DTYPE_BF16 ? ST_BF16 : ST_F32;
}

static size_t dsize(w4a16_dtype t) { return t == W4A16_DTYPE_FP32 ? 4 : 2; }

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Element i of an F16/BF16/F32 tensor's bytes (little-endian, unaligned). */
static float st_load_float(st_dtype t, const uint8_t *p, uint64_t i)
{
    if (t == ST_F32) {
        const uint32_t u = rd32(p + 4 * i);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    const uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
    return t == ST_BF16 ? cv_bf16_to_float(h) : cv_half_to_float(h);
}

static float w_load(w4a16_dtype t, const void *p, int64_t i)
{
    if (t == W4A16_DTYPE_FP32) return ((const float *)p)[i];
    const uint16_t h = ((const uint16_t *)p)[i];
    return t == W4A16_DTYPE_BF16 ? cv_bf16_to_float(h) : cv_half_to_float(h);
}

/* Rounds f to dtype t (FP16/BF16) and stores it; returns the rounded value. */
static float w_store(w4a16_dtype t, void *p, int64_t i, float f)
{
    if (t == W4A16_DTYPE_FP32) {
        ((float *)p)[i] = f;
        return f;
    }
    const uint16_t h = t == W4A16_DTYPE_BF16 ? cv_float_to_bf16(f) : cv_float_to_half(f);
    ((uint16_t *)p)[i] = h;
    return t == W4A16_DTYPE_BF16 ? cv_bf16_to_float(h) : cv_half_to_float(h);
}

static int is_float_st(st_dtype t) { return t == ST_F16 || t == ST_BF16 || t == ST_F32; }

/* ---- layers ------------------------------------------------------------------------------ */

void cv_layer_free(cv_layer *l)
{
    if (!l) return;
    free(l->name);
    free(l->q);
    free(l->packed);
    free(l->scales);
    free(l->zeros);
    free(l->bias);
    free(l->perm);
    memset(l, 0, sizeof *l);
}

int cv_layer_pack(cv_layer *l, cv_backend *be, char *err)
{
    size_t bytes;
    if (w4a16_packed_size(l->n, l->k, &bytes) != W4A16_SUCCESS) {
        tool_seterr(err, "%s: %s", l->name, w4a16_last_error());
        return -1;
    }
    free(l->packed);
    l->packed = malloc(bytes);
    l->packed_bytes = bytes;
    if (!l->packed) {
        tool_seterr(err, "%s: out of memory (%zu bytes packed)", l->name, bytes);
        return -1;
    }
    char sub[CV_ERR_LEN];
    if (cv_backend_pack(be, l->q, l->n, l->k, l->packed, bytes, sub)) {
        tool_seterr(err, "%s: %s", l->name, sub);
        return -1;
    }
    return 0;
}

cv_packed_info cv_layer_info(const cv_layer *l)
{
    cv_packed_info i;
    memset(&i, 0, sizeof i);
    i.name = l->name;
    i.n = l->n;
    i.k = l->k;
    i.group_size = l->group_size;
    i.zero_mode = l->zero_mode;
    i.dtype = l->dtype;
    i.act_order = l->perm != NULL;
    i.has_bias = l->bias != NULL;
    return i;
}

/* The library's own limits on a layer (N, K multiples of 8, group size, ...). */
static int check_layer_shape(const char *name, int64_t n, int64_t k, int64_t group_size, char *err)
{
    w4a16_problem p;
    w4a16_problem_init(&p, 1, n, k, W4A16_DTYPE_FP16, group_size, W4A16_ZEROS_INT);
    if (w4a16_check_problem(&p) != W4A16_SUCCESS) {
        tool_seterr(err, "%s: N=%" PRId64 ", K=%" PRId64 ", group_size=%" PRId64 " is not supported: %s", name, n, k,
               group_size, w4a16_last_error());
        return -1;
    }
    return 0;
}

/* ---- act-order --------------------------------------------------------------------------- */

/* From g_idx [K] (int32 LE bytes): *perm = NULL when g_idx == arange(K) / group_size; else the
 * stable argsort of g_idx, after checking that every group 0..G-1 holds exactly group_size
 * channels (so the permuted weight has ordinary contiguous groups). */
static int gidx_perm(const char *name, const uint8_t *gbytes, int64_t k, int64_t group_size, int64_t groups,
                     int32_t **perm, char *err)
{
    *perm = NULL;
    int trivial = 1;
    for (int64_t i = 0; i < k && trivial; i++) trivial = (int64_t)(int32_t)rd32(gbytes + 4 * i) == i / group_size;
    if (trivial) return 0;
    if (groups * group_size != k) {
        tool_seterr(err, "%s: act-order g_idx needs K=%" PRId64 " = groups x group_size", name, k);
        return -1;
    }
    int64_t *start = (int64_t *)calloc((size_t)groups + 1, sizeof(int64_t));
    int32_t *p = (int32_t *)malloc((size_t)k * sizeof(int32_t));
    if (!start || !p) {
        free(start);
        free(p);
        tool_seterr(err, "%s: out of memory", name);
        return -1;
    }
    for (int64_t i = 0; i < k; i++) {
        const int32_t g = (int32_t)rd32(gbytes + 4 * i);
        if (g < 0 || g >= groups) {
            tool_seterr(err, "%s: g_idx[%" PRId64 "]=%d is outside [0, %" PRId64 ")", name, i, g, groups);
            free(start);
            free(p);
            return -1;
        }
        start[g + 1]++;
    }
    for (int64_t g = 0; g < groups; g++) {
        if (start[g + 1] != group_size) {
            tool_seterr(err, "%s: act-order group %" PRId64 " has %" PRId64 " channels in g_idx, not group_size=%" PRId64,
                   name, g, start[g + 1], group_size);
            free(start);
            free(p);
            return -1;
        }
        start[g + 1] += start[g];
    }
    for (int64_t i = 0; i < k; i++) p[start[(int32_t)rd32(gbytes + 4 * i)]++] = (int32_t)i;
    free(start);
    *perm = p;
    return 0;
}

static inline int nib_get(const uint8_t *q, int64_t row_bytes, int64_t n, int64_t k)
{
    return (q[n * row_bytes + k / 2] >> (4 * (k & 1))) & 15;
}

/* q'[n, j] = q[n, perm[j]] */
static void permute_q(const uint8_t *src, uint8_t *dst, int64_t n, int64_t k, const int32_t *perm)
{
    const int64_t rb = k / 2;
    for (int64_t r = 0; r < n; r++) {
        uint8_t *d = dst + r * rb;
        for (int64_t j = 0; j < k; j += 2)
            d[j / 2] = (uint8_t)(nib_get(src, rb, r, perm[j]) | (nib_get(src, rb, r, perm[j + 1]) << 4));
    }
}

/* ---- plans ------------------------------------------------------------------------------- */

void cv_options_init(cv_options *o)
{
    memset(o, 0, sizeof *o);
    o->dtype = -1;
    o->passthrough = 1;
    o->threads = 1;
}

void cv_plan_free(cv_plan *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nlayers; i++) free(p->layers[i].name);
    free(p->layers);
    free(p->other);
    free(p->other_files);
    free(p);
}

typedef struct plan_ctx {
    const st_model *m;
    unsigned char *used; /* per model tensor index */
    char *err;
} plan_ctx;

static size_t model_index(const st_model *m, const char *name)
{
    size_t lo = 0, hi = st_model_count(m);
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const int c = strcmp(st_model_tensor(m, mid, NULL)->name, name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return SIZE_MAX;
}

/* Finds <prefix><suffix>; required=1 makes its absence an error. Marks it used. */
static int partner(plan_ctx *c, const char *prefix, const char *suffix, int required, const st_tensor **t,
                   const st_file **f)
{
    *t = NULL;
    *f = NULL;
    char *name = cat2(prefix, suffix);
    if (!name) {
        tool_seterr(c->err, "out of memory");
        return -1;
    }
    *t = st_model_find(c->m, name, f);
    if (!*t && required) {
        tool_seterr(c->err, "%s%s is missing (layer %s)", prefix, suffix, prefix);
        free(name);
        return -1;
    }
    if (*t) c->used[model_index(c->m, name)] = 1;
    free(name);
    return 0;
}

static int expect(plan_ctx *c, const st_tensor *t, int ok_dtype, int ndim, int64_t d0, int64_t d1, const char *what)
{
    /* NOTE: a dimension next to a zero one costs no bytes, so the file does not bound it: cap
     * every dimension before anything multiplies it (K = 8 * rows would overflow). */
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] >= W4A16_MAX_DIM) {
            tool_seterr(c->err, "%s: dimension %d (%" PRId64 ") is not below 2^31", t->name, d, t->shape[d]);
            return -1;
        }
    }
    if (!ok_dtype) {
        tool_seterr(c->err, "%s has dtype %s, which %s does not allow", t->name, st_dtype_name(t->dtype), what);
        return -1;
    }
    if (t->ndim != ndim || (d0 >= 0 && t->shape[0] != d0) || (ndim > 1 && d1 >= 0 && t->shape[1] != d1)) {
        char want[64], got[64], a[24] = "*", b[24] = "*";
        if (d0 >= 0) snprintf(a, sizeof a, "%" PRId64, d0);
        if (d1 >= 0) snprintf(b, sizeof b, "%" PRId64, d1);
        if (ndim == 1) snprintf(want, sizeof want, "[%s]", a);
        else snprintf(want, sizeof want, "[%s, %s]", a, b);
        int o = snprintf(got, sizeof got, "[");
        for (int d = 0; d < t->ndim && d < 4 && o < 48; d++)
            o += snprintf(got + o, sizeof got - (size_t)o, "%s%" PRId64, d ? ", " : "", t->shape[d]);
        snprintf(got + o, sizeof got - (size_t)o, "%s]", t->ndim > 4 ? ", ..." : "");
        tool_seterr(c->err, "%s has shape %s; %s needs %s", t->name, got, what, want);
        return -1;
    }
    return 0;
}

static int plan_bias(plan_ctx *c, cv_layer_plan *L, const char *prefix)
{
    if (partner(c, prefix, ".bias", 0, &L->t_bias, &L->f_bias)) return -1;
    if (L->t_bias && expect(c, L->t_bias, is_float_st(L->t_bias->dtype), 1, L->n, -1, "a bias")) return -1;
    L->has_bias = L->t_bias != NULL;
    return 0;
}

static int plan_groups(plan_ctx *c, cv_layer_plan *L, int64_t cfg_group)
{
    L->group_size = cfg_group == -1 ? L->k : cfg_group;
    if (check_layer_shape(L->name, L->n, L->k, L->group_size, c->err)) return -1;
    L->groups = L->k / L->group_size;
    return 0;
}

static int plan_gidx(plan_ctx *c, cv_layer_plan *L, const char *suffix)
{
    const char *prefix = L->name;
    if (partner(c, prefix, suffix, 0, &L->t_gidx, &L->f_gidx)) return -1;
    if (!L->t_gidx) return 0;
    if (L->t_gidx->dtype != ST_I32) {
        tool_seterr(c->err, "%s has dtype %s: act-order (desc_act) with a non-int32 g_idx is not supported",
               L->t_gidx->name, st_dtype_name(L->t_gidx->dtype));
        return -1;
    }
    if (expect(c, L->t_gidx, 1, 1, L->k, -1, "g_idx")) return -1;
    int32_t *perm;
    if (gidx_perm(L->name, st_file_data(L->f_gidx, L->t_gidx), L->k, L->group_size, L->groups, &perm, c->err))
        return -1;
    L->act_order = perm != NULL;
    free(perm);
    return 0;
}

static int plan_gptq(plan_ctx *c, const cv_scheme *s, cv_layer_plan *L)
{
    const char *p = L->name;
    const st_tensor *qw = L->t_qweight;
    if (qw->dtype != ST_I32) {
        tool_seterr(c->err, "%s has dtype %s: only int32-packed GPTQ (pack_dtype int32) is supported", qw->name,
               st_dtype_name(qw->dtype));
        return -1;
    }
    if (expect(c, qw, 1, 2, -1, -1, "GPTQ qweight [K/8, N]")) return -1;
    L->k = qw->shape[0] * 8;
    L->n = qw->shape[1];
    if (plan_groups(c, L, s->group_size)) return -1;
    L->source = s->gptq_version == 1 ? "gptq_v1" : "gptq_v2";
    if (partner(c, p, ".qzeros", 1, &L->t_qzeros, &L->f_qzeros) ||
        partner(c, p, ".scales", 1, &L->t_scales, &L->f_scales))
        return -1;
    if (expect(c, L->t_qzeros, L->t_qzeros->dtype == ST_I32, 2, L->groups, L->n / 8, "GPTQ qzeros [G, N/8] int32") ||
        expect(c, L->t_scales, is_float_st(L->t_scales->dtype), 2, L->groups, L->n, "GPTQ scales [G, N]"))
        return -1;
    if (plan_gidx(c, L, ".g_idx")) return -1;
    if (s->desc_act && !L->t_gidx) {
        tool_seterr(c->err, "%s: desc_act is set but %s.g_idx is missing", p, p);
        return -1;
    }
    /* Zero mode: NONE when every (corrected) zero is 8, else INT. */
    const uint8_t *zb = st_file_data(L->f_qzeros, L->t_qzeros);
    const uint64_t words = L->t_qzeros->numel;
    L->zero_mode = W4A16_ZEROS_NONE;
    const uint32_t all8 = s->gptq_version == 1 ? 0x77777777u : 0x88888888u;
    for (uint64_t i = 0; i < words; i++) {
        if (rd32(zb + 4 * i) != all8) {
            L->zero_mode = W4A16_ZEROS_INT;
            break;
        }
    }
    return plan_bias(c, L, p);
}

static int plan_awq(plan_ctx *c, const cv_scheme *s, cv_layer_plan *L)
{
    const char *p = L->name;
    const st_tensor *qw = L->t_qweight;
    if (qw->dtype != ST_I32) {
        tool_seterr(c->err, "%s has dtype %s: AWQ gemm qweight must be int32", qw->name, st_dtype_name(qw->dtype));
        return -1;
    }
    if (expect(c, qw, 1, 2, -1, -1, "AWQ qweight [K, N/8]")) return -1;
    L->k = qw->shape[0];
    L->n = qw->shape[1] * 8;
    if (plan_groups(c, L, s->group_size)) return -1;
    L->source = "awq";
    L->zero_mode = W4A16_ZEROS_INT;
    if (partner(c, p, ".qzeros", 1, &L->t_qzeros, &L->f_qzeros) ||
        partner(c, p, ".scales", 1, &L->t_scales, &L->f_scales))
        return -1;
    if (expect(c, L->t_qzeros, L->t_qzeros->dtype == ST_I32, 2, L->groups, L->n / 8, "AWQ qzeros [G, N/8] int32") ||
        expect(c, L->t_scales, is_float_st(L->t_scales->dtype), 2, L->groups, L->n, "AWQ scales [G, N]"))
        return -1;
    return plan_bias(c, L, p);
}

static int plan_ct(plan_ctx *c, const cv_scheme *s, cv_layer_plan *L)
{
    const char *p = L->name;
    const st_tensor *wp = L->t_qweight;
    if (wp->dtype != ST_I32) {
        tool_seterr(c->err, "%s has dtype %s: pack-quantized weights must be int32", wp->name, st_dtype_name(wp->dtype));
        return -1;
    }
    if (expect(c, wp, 1, 2, -1, -1, "compressed-tensors weight_packed [N, ceil(K/8)]")) return -1;
    if (partner(c, p, ".weight_shape", 1, &L->t_shape, &L->f_shape)) return -1;
    const st_tensor *ws = L->t_shape;
    if (expect(c, ws, ws->dtype == ST_I64 || ws->dtype == ST_I32, 1, 2, -1, "weight_shape [2] int64")) return -1;
    const uint8_t *wsb = st_file_data(L->f_shape, ws);
    int64_t dims[2];
    for (int i = 0; i < 2; i++) {
        if (ws->dtype == ST_I64) dims[i] = (int64_t)((uint64_t)rd32(wsb + 8 * i) | ((uint64_t)rd32(wsb + 8 * i + 4) << 32));
        else dims[i] = (int32_t)rd32(wsb + 4 * i);
    }
    if (dims[0] != wp->shape[0] || dims[1] <= 0 || dims[1] >= W4A16_MAX_DIM ||
        (dims[1] + 7) / 8 != wp->shape[1]) {
        tool_seterr(c->err, "%s = [%" PRId64 ", %" PRId64 "] does not match %s [%" PRId64 ", %" PRId64 "]", ws->name,
               dims[0], dims[1], wp->name, wp->shape[0], wp->shape[1]);
        return -1;
    }
    L->n = dims[0];
    L->k = dims[1];
    L->source = "ct";
    if (partner(c, p, ".weight_scale", 1, &L->t_scales, &L->f_scales) ||
        partner(c, p, ".weight_zero_point", 0, &L->t_qzeros, &L->f_qzeros))
        return -1;
    if (expect(c, L->t_scales, is_float_st(L->t_scales->dtype), 2, L->n, -1, "weight_scale [N, G]")) return -1;
    const int64_t G = L->t_scales->shape[1];
    const int sym = L->t_qzeros == NULL;
    /* The config group this layer belongs to: same symmetry and number of groups. */
    int64_t gs = -2;
    for (size_t i = 0; i < s->n_ct_groups && gs == -2; i++) {
        const cv_ct_group *g = &s->ct_groups[i];
        const int64_t cg = g->group_size == -1 || g->group_size >= L->k ? L->k : g->group_size;
        if (g->symmetric == sym && G == (L->k + cg - 1) / cg) gs = G == 1 ? L->k : cg;
    }
    if (gs == -2) {
        tool_seterr(c->err, "%s: %" PRId64 " groups over K=%" PRId64 ", %s, matches no config group", p, G, L->k,
               sym ? "symmetric" : "with a zero point");
        return -1;
    }
    if (plan_groups(c, L, gs)) return -1;
    L->zero_mode = sym ? W4A16_ZEROS_NONE : W4A16_ZEROS_INT;
    if (L->t_qzeros &&
        expect(c, L->t_qzeros, L->t_qzeros->dtype == ST_I32, 2, (L->n + 7) / 8, L->groups, "weight_zero_point [ceil(N/8), G] int32"))
        return -1;
    if (plan_gidx(c, L, ".weight_g_idx")) return -1;
    return plan_bias(c, L, p);
}

static int cmp_layer(const void *a, const void *b)
{
    return strcmp(((const cv_layer_plan *)a)->name, ((const cv_layer_plan *)b)->name);
}

int cv_plan_build(cv_plan **out, const st_model *m, const cv_scheme *s, const cv_options *o, char *err)
{
    *out = NULL;
    const size_t nt = st_model_count(m);
    cv_plan *p = (cv_plan *)calloc(1, sizeof(cv_plan));
    unsigned char *used = (unsigned char *)calloc(nt ? nt : 1, 1);
    if (p) {
        p->layers = (cv_layer_plan *)calloc(nt ? nt : 1, sizeof(cv_layer_plan));
        p->other = (const st_tensor **)calloc(nt ? nt : 1, sizeof(st_tensor *));
        p->other_files = (const st_file **)calloc(nt ? nt : 1, sizeof(st_file *));
    }
    if (!p || !used || !p->layers || !p->other || !p->other_files) {
        free(used);
        cv_plan_free(p);
        tool_seterr(err, "out of memory");
        return -1;
    }
    p->scheme = *s;
    p->model = m;
    plan_ctx c = {m, used, err};
    const char *suffix = s->format == CV_FORMAT_CT ? ".weight_packed" : ".qweight";
    const size_t sl = strlen(suffix);
    for (size_t i = 0; i < nt; i++) {
        const st_file *f;
        const st_tensor *t = st_model_tensor(m, i, &f);
        const size_t len = strlen(t->name);
        if (len < sl || strcmp(t->name + len - sl, suffix) != 0) continue;
        if (len == sl) {
            tool_seterr(err, "tensor \"%s\" has no layer name", t->name);
            goto fail;
        }
        cv_layer_plan *L = &p->layers[p->nlayers++];
        L->name = (char *)malloc(len - sl + 1);
        if (!L->name) {
            tool_seterr(err, "out of memory");
            goto fail;
        }
        memcpy(L->name, t->name, len - sl);
        L->name[len - sl] = 0;
        L->t_qweight = t;
        L->f_qweight = f;
        used[i] = 1;
        const int r = s->format == CV_FORMAT_GPTQ ? plan_gptq(&c, s, L)
                      : s->format == CV_FORMAT_AWQ ? plan_awq(&c, s, L)
                                                   : plan_ct(&c, s, L);
        if (r) goto fail;
        const st_tensor *ts[] = {L->t_qweight, L->t_qzeros, L->t_scales, L->t_gidx, L->t_bias, L->t_shape};
        for (size_t j = 0; j < sizeof ts / sizeof ts[0]; j++) L->in_bytes += ts[j] ? ts[j]->nbytes : 0;
    }
    if (p->nlayers == 0) {
        tool_seterr(err, "no quantized layer (no tensor named *%s) in the checkpoint", suffix);
        goto fail;
    }
    qsort(p->layers, p->nlayers, sizeof(cv_layer_plan), cmp_layer);
    for (size_t i = 0; i < nt; i++) {
        if (used[i]) continue;
        p->other[p->nother] = st_model_tensor(m, i, &p->other_files[p->nother]);
        p->nother++;
    }
    /* The output's dtype. */
    if (o && o->dtype >= 0) p->dtype = (w4a16_dtype)o->dtype;
    else if (s->model_dtype >= 0) p->dtype = (w4a16_dtype)s->model_dtype;
    else p->dtype = p->layers[0].t_scales->dtype == ST_BF16 ? W4A16_DTYPE_BF16 : W4A16_DTYPE_FP16;
    if (p->dtype != W4A16_DTYPE_FP16 && p->dtype != W4A16_DTYPE_BF16) {
        tool_seterr(err, "output dtype %d is not fp16 or bf16", (int)p->dtype);
        goto fail;
    }
    free(used);
    *out = p;
    return 0;
fail:
    free(used);
    cv_plan_free(p);
    return -1;
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* Scales [G, N] (or [N, G] when transposed) of any float dtype -> out [G, N] in dtype, finite. */
static int convert_floats(const char *name, const st_tensor *t, const uint8_t *src, int64_t rows, int64_t cols,
                          int transposed, w4a16_dtype dtype, void *dst, char *err)
{
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            const uint64_t si = transposed ? (uint64_t)(c * rows + r) : (uint64_t)(r * cols + c);
            const float f = st_load_float(t->dtype, src, si);
            const float v = w_store(dtype, dst, r * cols + c, f);
            if (!isfinite(v)) {
                tool_seterr(err, "%s: element %" PRIu64 " (%g) is not finite in %s", name, si, (double)f, cv_dtype_name(dtype));
                return -1;
            }
        }
    }
    return 0;
}

static int alloc_layer(cv_layer *l, const cv_layer_plan *L, w4a16_dtype dtype, char *err)
{
    memset(l, 0, sizeof *l);
    l->name = tool_strdup(L->name);
    l->source = L->source;
    l->n = L->n;
    l->k = L->k;
    l->group_size = L->group_size;
    l->zero_mode = L->zero_mode;
    l->dtype = dtype;
    const size_t gn = (size_t)(L->groups * L->n);
    l->q = (uint8_t *)malloc((size_t)(L->n * (L->k / 2)));
    l->scales = malloc(gn * dsize(dtype));
    if (L->zero_mode != W4A16_ZEROS_NONE) l->zeros = malloc(gn * (L->zero_mode == W4A16_ZEROS_INT ? 1 : dsize(dtype)));
    if (L->has_bias) l->bias = malloc((size_t)L->n * dsize(dtype));
    if (!l->name || !l->q || !l->scales || (L->zero_mode != W4A16_ZEROS_NONE && !l->zeros) ||
        (L->has_bias && !l->bias)) {
        tool_seterr(err, "%s: out of memory", L->name);
        cv_layer_free(l);
        return -1;
    }
    return 0;
}

/* q from GPTQ qweight [K/8, N]: nibble i of word (r, n) is k = 8r + i, so byte j of the
 * little-endian word is canonical byte 4r + j of row n. */
static void gptq_q(const uint8_t *qw, int64_t n, int64_t k, uint8_t *q)
{
    const int64_t rb = k / 2;
    for (int64_t r = 0; r < k / 8; r++)
        for (int64_t c = 0; c < n; c++) memcpy(q + c * rb + 4 * r, qw + 4 * (r * n + c), 4);
}

static const int awq_reverse[8] = {0, 4, 1, 5, 2, 6, 3, 7}; /* column 8c+j is in nibble REVERSE[j] */

int cv_decode_layer(const cv_plan *p, size_t i, cv_layer *l, char *err)
{
    if (i >= p->nlayers) {
        tool_seterr(err, "layer index %zu out of range", i);
        return -1;
    }
    const cv_layer_plan *L = &p->layers[i];
    if (alloc_layer(l, L, p->dtype, err)) return -1;
    const int64_t N = L->n, K = L->k, G = L->groups, rb = K / 2;
    const uint8_t *qw = st_file_data(L->f_qweight, L->t_qweight);
    const uint8_t *sc = st_file_data(L->f_scales, L->t_scales);
    const uint8_t *qz = L->t_qzeros ? st_file_data(L->f_qzeros, L->t_qzeros) : NULL;
    const cv_format fmt = p->scheme.format;
    uint8_t *q = l->q;
    uint8_t *qtmp = NULL;
    int32_t *perm = NULL;
    if (L->act_order) {
        if (gidx_perm(L->name, st_file_data(L->f_gidx, L->t_gidx), K, L->group_size, G, &perm, err)) goto fail;
        if (!perm) {
            tool_seterr(err, "%s: g_idx changed while converting", L->name);
            goto fail;
        }
        qtmp = (uint8_t *)malloc((size_t)(N * rb));
        if (!qtmp) {
            tool_seterr(err, "%s: out of memory", L->name);
            goto fail;
        }
        q = qtmp;
    }
    /* q */
    if (fmt == CV_FORMAT_GPTQ) {
        gptq_q(qw, N, K, q);
    } else if (fmt == CV_FORMAT_AWQ) {
        /* qweight [K, N/8]: column 8c+j of row k is nibble REVERSE[j] of word (k, c) */
        memset(q, 0, (size_t)(N * rb));
        for (int64_t kk = 0; kk < K; kk++) {
            for (int64_t c = 0; c < N / 8; c++) {
                const uint32_t w = rd32(qw + 4 * (kk * (N / 8) + c));
                for (int j = 0; j < 8; j++)
                    q[(8 * c + j) * rb + kk / 2] |= (uint8_t)(((w >> (4 * awq_reverse[j])) & 15) << (4 * (kk & 1)));
            }
        }
    } else {
        /* weight_packed [N, K/8] along K, low nibble first: the rows are canonical bytes */
        for (int64_t r = 0; r < N; r++) memcpy(q + r * rb, qw + (size_t)(r * L->t_qweight->shape[1] * 4), (size_t)rb);
    }
    if (perm) permute_q(qtmp, l->q, N, K, perm);
    /* scales */
    if (convert_floats(L->t_scales->name, L->t_scales, sc, G, N, fmt == CV_FORMAT_CT, p->dtype, l->scales, err))
        goto fail;
    /* zeros */
    if (L->zero_mode == W4A16_ZEROS_INT) {
        uint8_t *z = (uint8_t *)l->zeros;
        for (int64_t g = 0; g < G; g++) {
            for (int64_t n = 0; n < N; n++) {
                uint32_t w;
                int nib;
                if (fmt == CV_FORMAT_CT) { /* [ceil(N/8), G], along N, stored zp + 8 */
                    w = rd32(qz + 4 * ((n / 8) * G + g));
                    nib = (int)(n % 8);
                } else if (fmt == CV_FORMAT_AWQ) {
                    w = rd32(qz + 4 * (g * (N / 8) + n / 8));
                    nib = awq_reverse[n % 8];
                } else {
                    w = rd32(qz + 4 * (g * (N / 8) + n / 8));
                    nib = (int)(n % 8);
                }
                int v = (int)((w >> (4 * nib)) & 15);
                if (fmt == CV_FORMAT_GPTQ && p->scheme.gptq_version == 1) v = (v + 1) & 15; /* v1 stores z - 1 */
                z[g * N + n] = (uint8_t)v;
            }
        }
    }
    if (L->has_bias &&
        convert_floats(L->t_bias->name, L->t_bias, st_file_data(L->f_bias, L->t_bias), 1, N, 0, p->dtype, l->bias, err))
        goto fail;
    l->perm = perm;
    free(qtmp);
    return 0;
fail:
    free(perm);
    free(qtmp);
    cv_layer_free(l);
    return -1;
}

/* ---- output ------------------------------------------------------------------------------ */

int cv_out_declare(st_writer *w, const cv_packed_info *info, size_t idx[CV_OUT_TENSORS], char *err)
{
    for (int i = 0; i < CV_OUT_TENSORS; i++) idx[i] = SIZE_MAX;
    size_t pbytes;
    if (w4a16_packed_size(info->n, info->k, &pbytes) != W4A16_SUCCESS) {
        tool_seterr(err, "%s: %s", info->name, w4a16_last_error());
        return -1;
    }
    const int64_t G = info->k / info->group_size;
    const st_dtype dt = cv_st_dtype(info->dtype);
    const int64_t packed_shape[1] = {(int64_t)pbytes}, gn[2] = {G, info->n}, nshape[1] = {info->n},
                  kshape[1] = {info->k};
    static const char *suffix[CV_OUT_TENSORS] = {".w4a16_packed", ".scales", ".zeros", ".bias", ".w4a16_perm"};
    const int present[CV_OUT_TENSORS] = {1, 1, info->zero_mode != W4A16_ZEROS_NONE, info->has_bias, info->act_order};
    const st_dtype dts[CV_OUT_TENSORS] = {ST_U8, dt, info->zero_mode == W4A16_ZEROS_INT ? ST_U8 : dt, dt, ST_I32};
    const int64_t *shapes[CV_OUT_TENSORS] = {packed_shape, gn, gn, nshape, kshape};
    const int ndims[CV_OUT_TENSORS] = {1, 2, 2, 1, 1};
    for (int i = 0; i < CV_OUT_TENSORS; i++) {
        if (!present[i]) continue;
        char *name = cat2(info->name, suffix[i]);
        if (!name) {
            tool_seterr(err, "out of memory");
            return -1;
        }
        const int r = st_writer_add(w, name, dts[i], ndims[i], shapes[i], NULL, &idx[i], err);
        free(name);
        if (r) return -1;
    }
    return 0;
}

int cv_out_put(st_writer *w, const size_t idx[CV_OUT_TENSORS], const cv_layer *l, char *err)
{
    const size_t gn = (size_t)(l->k / l->group_size * l->n), e = dsize(l->dtype);
    const void *data[CV_OUT_TENSORS] = {l->packed, l->scales, l->zeros, l->bias, l->perm};
    const size_t bytes[CV_OUT_TENSORS] = {l->packed_bytes, gn * e, gn * (l->zero_mode == W4A16_ZEROS_INT ? 1 : e),
                                          (size_t)l->n * e, (size_t)l->k * 4};
    for (int i = 0; i < CV_OUT_TENSORS; i++) {
        if ((idx[i] == SIZE_MAX) != (data[i] == NULL)) {
            tool_seterr(err, "%s: layer tensors do not match their declaration", l->name);
            return -1;
        }
        if (idx[i] != SIZE_MAX && st_writer_put(w, idx[i], data[i], bytes[i], err)) return -1;
    }
    return 0;
}

int cv_out_metadata(st_writer *w, const cv_packed_info *infos, size_t count, const char *source, char *err)
{
    json_t *layers = json_object();
    if (!layers) {
        tool_seterr(err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const cv_packed_info *l = &infos[i];
        json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:s, s:b, s:b}", "n", (json_int_t)l->n, "k", (json_int_t)l->k,
                              "group_size", (json_int_t)l->group_size, "zero_mode", cv_zero_mode_name(l->zero_mode),
                              "dtype", cv_dtype_name(l->dtype), "act_order", l->act_order, "bias", l->has_bias);
        if (!o || json_object_set_new(layers, l->name, o)) {
            json_decref(layers);
            tool_seterr(err, "%s: cannot build the layer metadata (out of memory or bad UTF-8)", l->name);
            return -1;
        }
    }
    char *text = json_dumps(layers, JSON_COMPACT);
    json_decref(layers);
    char ver[16];
    snprintf(ver, sizeof ver, "%d", W4A16_PACKED_LAYOUT_VERSION);
    const int rc = !text || st_writer_set_metadata(w, "format", "w4a16", err) ||
                   st_writer_set_metadata(w, "w4a16_layout_version", ver, err) ||
                   st_writer_set_metadata(w, "w4a16_source", source ? source : "", err) ||
                   st_writer_set_metadata(w, "w4a16_layers", text, err);
    if (!text) tool_seterr(err, "out of memory");
    free(text);
    return rc ? -1 : 0;
}

/* ---- cv_convert -------------------------------------------------------------------------- */

typedef struct conv_job {
    const cv_plan *p;
    cv_backend *be;
    st_writer *w;
    size_t (*idx)[CV_OUT_TENSORS];
    const cv_options *o;
    pthread_mutex_t lock;
    size_t next, done;
    uint64_t done_bytes, total_bytes;
    int failed;
    char err[CV_ERR_LEN];
} conv_job;

static void job_progress(conv_job *j, uint64_t bytes, int layer)
{
    pthread_mutex_lock(&j->lock);
    j->done_bytes += bytes;
    j->done += (size_t)layer;
    if (j->o && j->o->progress) j->o->progress(j->o->progress_ctx, j->done_bytes, j->total_bytes, j->done, j->p->nlayers);
    pthread_mutex_unlock(&j->lock);
}

static void *conv_worker(void *arg)
{
    conv_job *j = (conv_job *)arg;
    char err[CV_ERR_LEN];
    for (;;) {
        pthread_mutex_lock(&j->lock);
        const size_t i = j->failed ? j->p->nlayers : j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->p->nlayers) break;
        cv_layer l;
        int r = cv_decode_layer(j->p, i, &l, err);
        if (!r) {
            r = cv_layer_pack(&l, j->be, err) || cv_out_put(j->w, j->idx[i], &l, err);
            cv_layer_free(&l);
        }
        if (r) {
            pthread_mutex_lock(&j->lock);
            if (!j->failed) memcpy(j->err, err, sizeof err);
            j->failed = 1;
            pthread_mutex_unlock(&j->lock);
            break;
        }
        job_progress(j, j->p->layers[i].in_bytes, 1);
    }
    return NULL;
}

int cv_convert(const cv_plan *p, const char *out_path, cv_backend *be, const cv_options *o, cv_summary *sum,
               char *err)
{
    const double t0 = now_seconds();
    cv_summary s;
    memset(&s, 0, sizeof s);
    snprintf(s.backend, sizeof s.backend, "%s", be->description);
    st_writer *w = st_writer_new();
    size_t(*idx)[CV_OUT_TENSORS] = (size_t(*)[CV_OUT_TENSORS])calloc(p->nlayers, sizeof *idx);
    size_t *oidx = (size_t *)calloc(p->nother ? p->nother : 1, sizeof(size_t));
    cv_packed_info *infos = (cv_packed_info *)calloc(p->nlayers, sizeof(cv_packed_info));
    int rc = -1;
    if (!w || !idx || !oidx || !infos) {
        tool_seterr(err, "out of memory");
        goto done;
    }
    conv_job job;
    memset(&job, 0, sizeof job);
    for (size_t i = 0; i < p->nlayers; i++) {
        const cv_layer_plan *L = &p->layers[i];
        cv_packed_info *in = &infos[i];
        in->name = L->name;
        in->n = L->n;
        in->k = L->k;
        in->group_size = L->group_size;
        in->zero_mode = L->zero_mode;
        in->dtype = p->dtype;
        in->act_order = L->act_order;
        in->has_bias = L->has_bias;
        if (cv_out_declare(w, in, idx[i], err)) goto done;
        s.layers++;
        s.by_mode[L->zero_mode]++;
        s.act_order += (size_t)L->act_order;
        s.with_bias += (size_t)L->has_bias;
        job.total_bytes += L->in_bytes;
    }
    const int pass = !o || o->passthrough;
    for (size_t i = 0; pass && i < p->nother; i++) {
        const st_tensor *t = p->other[i];
        if (st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, NULL, &oidx[i], err)) goto done;
        job.total_bytes += t->nbytes;
        s.passthrough++;
    }
    if (cv_out_metadata(w, infos, p->nlayers, p->scheme.description, err) || st_writer_begin(w, out_path, err))
        goto done;
    job.p = p;
    job.be = be;
    job.w = w;
    job.idx = idx;
    job.o = o;
    pthread_mutex_init(&job.lock, NULL);
    int threads = (o && o->threads > 1 && !cv_backend_is_gpu(be)) ? o->threads : 1;
    if ((size_t)threads > p->nlayers) threads = (int)p->nlayers;
    if (threads <= 1) {
        conv_worker(&job);
    } else {
        pthread_t tid[64];
        if (threads > 64) threads = 64;
        int started = 0;
        for (; started < threads; started++)
            if (pthread_create(&tid[started], NULL, conv_worker, &job) != 0) break;
        if (started == 0) conv_worker(&job);
        for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    }
    pthread_mutex_destroy(&job.lock);
    if (job.failed) {
        memcpy(err, job.err, CV_ERR_LEN);
        goto done;
    }
    for (size_t i = 0; pass && i < p->nother; i++) {
        const st_tensor *t = p->other[i];
        if (st_writer_put(w, oidx[i], st_file_data(p->other_files[i], t), (size_t)t->nbytes, err)) goto done;
        job_progress(&job, t->nbytes, 0);
    }
    if (st_writer_finish(w, err)) goto done;
    s.bytes_in = job.total_bytes;
    s.bytes_out = st_writer_total_bytes(w);
    s.seconds = now_seconds() - t0;
    rc = 0;
done:
    st_writer_free(w);
    free(idx);
    free(oidx);
    free(infos);
    if (sum) *sum = s;
    return rc;
}

int cv_convert_dir(const char *dir, const char *out_path, cv_backend *be, const cv_options *o, cv_summary *sum,
                   char *err)
{
    cv_scheme s;
    st_model *m = NULL;
    cv_plan *p = NULL;
    if (cv_scheme_load_dir(&s, dir, err) || st_model_open(&m, dir, err) || cv_plan_build(&p, m, &s, o, err)) {
        st_model_close(m);
        return -1;
    }
    const int rc = cv_convert(p, out_path, be, o, sum, err);
    cv_plan_free(p);
    st_model_close(m);
    return rc;
}

/* ---- float offsets ----------------------------------------------------------------------- */

int cv_layer_from_float_offsets(cv_layer *l, const char *name, int64_t n, int64_t k, int64_t group_size,
                                const uint8_t *q, w4a16_dtype src_dtype, const void *scales, const void *zf,
                                int unsigned_q, w4a16_dtype dtype, const void *bias, char *err)
{
    memset(l, 0, sizeof *l);
    if (!name || !q || !scales || !zf) {
        tool_seterr(err, "cv_layer_from_float_offsets: name, q, scales and zf are required");
        return -1;
    }
    if ((src_dtype != W4A16_DTYPE_FP16 && src_dtype != W4A16_DTYPE_BF16 && src_dtype != W4A16_DTYPE_FP32) ||
        (dtype != W4A16_DTYPE_FP16 && dtype != W4A16_DTYPE_BF16)) {
        tool_seterr(err, "%s: src_dtype must be fp16/bf16/fp32 and dtype fp16/bf16", name);
        return -1;
    }
    if (check_layer_shape(name, n, k, group_size, err)) return -1;
    cv_layer_plan L;
    memset(&L, 0, sizeof L);
    L.name = (char *)name;
    L.n = n;
    L.k = k;
    L.group_size = group_size;
    L.groups = k / group_size;
    L.zero_mode = W4A16_ZEROS_FLOAT;
    L.has_bias = bias != NULL;
    L.source = unsigned_q ? "machete_float" : "trt_float";
    if (alloc_layer(l, &L, dtype, err)) return -1;
    memcpy(l->q, q, (size_t)(n * (k / 2)));
    const int64_t gn = L.groups * n;
    for (int64_t i = 0; i < gn; i++) {
        const float s = w_load(src_dtype, scales, i);
        const float z = w_load(src_dtype, zf, i);
        /* Machete: w = q*s + zf_u = (q-8)*s + (zf_u + 8s) */
        const float zz = unsigned_q ? fmaf(8.0f, s, z) : z;
        const float sv = w_store(dtype, l->scales, i, s), zv = w_store(dtype, l->zeros, i, zz);
        if (!isfinite(sv) || !isfinite(zv)) {
            tool_seterr(err, "%s: scale or offset %" PRId64 " is not finite in %s", name, i, cv_dtype_name(dtype));
            cv_layer_free(l);
            return -1;
        }
    }
    for (int64_t i = 0; bias && i < n; i++) w_store(dtype, l->bias, i, w_load(src_dtype, bias, i));
    return 0;
}

int cv_float_offsets_from_int_zeros(int64_t groups, int64_t n, w4a16_dtype dtype, const void *scales,
                                    const uint8_t *z, void *zf, char *err)
{
    if (groups <= 0 || n <= 0 || !scales || !z || !zf || (dtype != W4A16_DTYPE_FP16 && dtype != W4A16_DTYPE_BF16)) {
        tool_seterr(err, "cv_float_offsets_from_int_zeros: bad arguments");
        return -1;
    }
    for (int64_t i = 0; i < groups * n; i++) {
        if (z[i] > 15) {
            tool_seterr(err, "zero %" PRId64 " is %d, outside 0..15", i, z[i]);
            return -1;
        }
        w_store(dtype, zf, i, (float)(8 - z[i]) * w_load(dtype, scales, i));
    }
    return 0;
}

int cv_write_layers(const char *path, cv_layer *layers, size_t count, cv_backend *be, const char *source, char *err)
{
    st_writer *w = st_writer_new();
    size_t(*idx)[CV_OUT_TENSORS] = (size_t(*)[CV_OUT_TENSORS])calloc(count ? count : 1, sizeof *idx);
    cv_packed_info *infos = (cv_packed_info *)calloc(count ? count : 1, sizeof(cv_packed_info));
    int rc = -1;
    if (!w || !idx || !infos) {
        tool_seterr(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        if (!layers[i].packed && cv_layer_pack(&layers[i], be, err)) goto done;
        infos[i] = cv_layer_info(&layers[i]);
        if (cv_out_declare(w, &infos[i], idx[i], err)) goto done;
    }
    if (cv_out_metadata(w, infos, count, source, err) || st_writer_begin(w, path, err)) goto done;
    for (size_t i = 0; i < count; i++)
        if (cv_out_put(w, idx[i], &layers[i], err)) goto done;
    rc = st_writer_finish(w, err);
done:
    st_writer_free(w);
    free(idx);
    free(infos);
    return rc;
}

/* ---- reading w4a16 files ----------------------------------------------------------------- */

void cv_packed_info_free(cv_packed_info *info, size_t count)
{
    if (!info) return;
    for (size_t i = 0; i < count; i++) free(info[i].name);
    free(info);
}

static int parse_enum(const char *s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

int cv_packed_info_parse(const char *json, size_t len, cv_packed_info **out, size_t *count, char *err)
{
    *out = NULL;
    *count = 0;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        tool_seterr(err, "w4a16_layers: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return -1;
    }
    int rc = -1;
    cv_packed_info *info = NULL;
    size_t n = 0;
    if (!json_is_object(root)) {
        tool_seterr(err, "w4a16_layers is not a JSON object");
        goto done;
    }
    info = (cv_packed_info *)calloc(json_object_size(root) + 1, sizeof(cv_packed_info));
    if (!info) {
        tool_seterr(err, "out of memory");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        cv_packed_info *l = &info[n];
        json_int_t nn, kk, gs;
        const char *zm, *dt;
        int ao, b;
        json_error_t e2;
        if (json_unpack_ex(v, &e2, 0, "{s:I, s:I, s:I, s:s, s:s, s:b, s:b}", "n", &nn, "k", &kk, "group_size", &gs,
                           "zero_mode", &zm, "dtype", &dt, "act_order", &ao, "bias", &b)) {
            tool_seterr(err, "w4a16_layers[\"%.128s\"]: %s", key, e2.text);
            goto done;
        }
        static const char *const zms[] = {"none", "int", "float"}, *const dts[] = {"fp16", "bf16"};
        const int zi = parse_enum(zm, zms, 3), di = parse_enum(dt, dts, 2);
        if (zi < 0 || di < 0) {
            tool_seterr(err, "w4a16_layers[\"%.128s\"]: unknown zero_mode \"%.16s\" or dtype \"%.16s\"", key, zm, dt);
            goto done;
        }
        if (check_layer_shape(key, (int64_t)nn, (int64_t)kk, (int64_t)gs, err)) goto done;
        l->name = tool_strdup(key);
        if (!l->name) {
            tool_seterr(err, "out of memory");
            goto done;
        }
        n++;
        l->n = (int64_t)nn;
        l->k = (int64_t)kk;
        l->group_size = (int64_t)gs;
        l->zero_mode = (w4a16_zero_mode)zi;
        l->dtype = (w4a16_dtype)di;
        l->act_order = ao;
        l->has_bias = b;
    }
    *out = info;
    *count = n;
    info = NULL;
    rc = 0;
done:
    cv_packed_info_free(info, n);
    json_decref(root);
    return rc;
}

int cv_packed_file_layers(const st_file *f, cv_packed_info **out, size_t *count, char *err)
{
    const char *fmt = st_file_metadata_get(f, "format"), *ver = st_file_metadata_get(f, "w4a16_layout_version"),
               *layers = st_file_metadata_get(f, "w4a16_layers");
    char want[16];
    snprintf(want, sizeof want, "%d", W4A16_PACKED_LAYOUT_VERSION);
    if (!fmt || strcmp(fmt, "w4a16") != 0 || !layers) {
        tool_seterr(err, "%s: not a w4a16 file (no format=w4a16 and w4a16_layers metadata)", st_file_path(f));
        return -1;
    }
    if (!ver || strcmp(ver, want) != 0) {
        tool_seterr(err, "%s: packed layout version %.16s is not the supported version %s", st_file_path(f),
               ver ? ver : "(none)", want);
        return -1;
    }
    return cv_packed_info_parse(layers, strlen(layers), out, count, err);
}

static const uint8_t *layer_tensor(const st_file *f, const char *prefix, const char *suffix, st_dtype dt, int ndim,
                                   int64_t d0, int64_t d1, char *err)
{
    char *name = cat2(prefix, suffix);
    if (!name) {
        tool_seterr(err, "out of memory");
        return NULL;
    }
    const st_tensor *t = st_file_find(f, name);
    const uint8_t *data = NULL;
    if (!t) tool_seterr(err, "%s: %s is missing", st_file_path(f), name);
    else if (t->dtype != dt || t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1))
        tool_seterr(err, "%s: %s has the wrong dtype or shape for its metadata", st_file_path(f), name);
    else data = st_file_data(f, t);
    free(name);
    return data;
}

int cv_packed_layer_load(const st_file *f, const cv_packed_info *in, int unpack, cv_layer *l, char *err)
{
    memset(l, 0, sizeof *l);
    cv_layer_plan L;
    memset(&L, 0, sizeof L);
    L.name = in->name;
    L.n = in->n;
    L.k = in->k;
    L.group_size = in->group_size;
    L.groups = in->k / in->group_size;
    L.zero_mode = in->zero_mode;
    L.has_bias = in->has_bias;
    L.source = "w4a16";
    const st_dtype dt = cv_st_dtype(in->dtype);
    const size_t gn = (size_t)(L.groups * L.n), e = dsize(in->dtype);
    const int isint = in->zero_mode == W4A16_ZEROS_INT;
    size_t pbytes;
    if (w4a16_packed_size(in->n, in->k, &pbytes) != W4A16_SUCCESS) {
        tool_seterr(err, "%s: %s", in->name, w4a16_last_error());
        return -1;
    }
    /* NOTE: every tensor is found and checked before anything is allocated, so the metadata
     * of a hostile file cannot ask for more memory than the file holds. */
    const uint8_t *pp, *ps, *pz = NULL, *pb = NULL, *pq = NULL;
    if (!(pp = layer_tensor(f, in->name, ".w4a16_packed", ST_U8, 1, (int64_t)pbytes, 0, err)) ||
        !(ps = layer_tensor(f, in->name, ".scales", dt, 2, L.groups, L.n, err)) ||
        (in->zero_mode != W4A16_ZEROS_NONE &&
         !(pz = layer_tensor(f, in->name, ".zeros", isint ? ST_U8 : dt, 2, L.groups, L.n, err))) ||
        (in->has_bias && !(pb = layer_tensor(f, in->name, ".bias", dt, 1, L.n, 0, err))) ||
        (in->act_order && !(pq = layer_tensor(f, in->name, ".w4a16_perm", ST_I32, 1, L.k, 0, err))))
        return -1;
    if (alloc_layer(l, &L, in->dtype, err)) return -1;
    l->packed = malloc(pbytes);
    l->packed_bytes = pbytes;
    if (!l->packed) goto oom;
    memcpy(l->packed, pp, pbytes);
    memcpy(l->scales, ps, gn * e);
    if (pz) {
        memcpy(l->zeros, pz, gn * (isint ? 1 : e));
        for (size_t i = 0; isint && i < gn; i++) {
            if (((uint8_t *)l->zeros)[i] > 15) {
                tool_seterr(err, "%s: %s.zeros[%zu] = %d is outside 0..15", st_file_path(f), in->name, i,
                       ((uint8_t *)l->zeros)[i]);
                goto fail;
            }
        }
    }
    if (pb) memcpy(l->bias, pb, (size_t)L.n * e);
    if (pq) {
        const uint8_t *p = pq;
        l->perm = (int32_t *)malloc((size_t)L.k * 4);
        unsigned char *seen = (unsigned char *)calloc((size_t)L.k, 1);
        if (!l->perm || !seen) {
            free(seen);
            goto oom;
        }
        for (int64_t i = 0; i < L.k; i++) {
            const int32_t v = (int32_t)rd32(p + 4 * i);
            if (v < 0 || v >= L.k || seen[v]) {
                tool_seterr(err, "%s: %s.w4a16_perm is not a permutation of 0..K-1 (entry %" PRId64 ")", st_file_path(f),
                       in->name, i);
                free(seen);
                goto fail;
            }
            seen[v] = 1;
            l->perm[i] = v;
        }
        free(seen);
    }
    if (unpack) {
        if (w4a16_unpack_host(l->packed, l->packed_bytes, L.n, L.k, l->q, (size_t)(L.n * (L.k / 2))) != W4A16_SUCCESS) {
            tool_seterr(err, "%s: %s: %s", st_file_path(f), in->name, w4a16_last_error());
            goto fail;
        }
    } else {
        free(l->q);
        l->q = NULL;
    }
    l->dtype = in->dtype;
    return 0;
oom:
    tool_seterr(err, "out of memory");
fail:
    cv_layer_free(l);
    return -1;
}

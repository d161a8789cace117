/* safetensors.c - strict safetensors reader (one file or a sharded checkpoint) and writer. */
#define _POSIX_C_SOURCE 200809L
#include "tool_util.h"
#include "safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- dtypes ------------------------------------------------------------------------------ */

static const struct { const char *name; int bits; } dtype_table[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 8},     [ST_U8] = {"U8", 8},           [ST_I8] = {"I8", 8},
    [ST_F8_E5M2] = {"F8_E5M2", 8}, [ST_F8_E4M3] = {"F8_E4M3", 8}, [ST_F8_E8M0] = {"F8_E8M0", 8},
    [ST_I16] = {"I16", 16},      [ST_U16] = {"U16", 16},        [ST_F16] = {"F16", 16},
    [ST_BF16] = {"BF16", 16},    [ST_I32] = {"I32", 32},        [ST_U32] = {"U32", 32},
    [ST_F32] = {"F32", 32},      [ST_F64] = {"F64", 64},        [ST_I64] = {"I64", 64},
    [ST_U64] = {"U64", 64},      [ST_C64] = {"C64", 64},        [ST_F4] = {"F4", 4},
    [ST_F6_E2M3] = {"F6_E2M3", 6}, [ST_F6_E3M2] = {"F6_E3M2", 6},
};

const char *st_dtype_name(st_dtype t)
{
    return ((unsigned)t < ST_DTYPE_COUNT) ? dtype_table[t].name : "unknown";
}

int st_dtype_bits(st_dtype t) { return ((unsigned)t < ST_DTYPE_COUNT) ? dtype_table[t].bits : 0; }

int st_dtype_from_name(const char *name, st_dtype *out)
{
    for (int i = 0; i < ST_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_table[i].name) == 0) {
            *out = (st_dtype)i;
            return 0;
        }
    }
    return -1;
}

/* Bytes of `ndim` dims of dtype t, overflow-checked: 0 and *bytes, or -1 with a message. */
static int tensor_bytes(st_dtype t, int ndim, const int64_t *shape, uint64_t *numel, uint64_t *bytes,
                        const char *what, char *err)
{
    uint64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            tool_seterr(err, "%s: dimension %d is negative (%" PRId64 ")", what, d, shape[d]);
            return -1;
        }
        const uint64_t s = (uint64_t)shape[d];
        if (s != 0 && n > UINT64_MAX / s) {
            tool_seterr(err, "%s: the element count of its shape overflows 64 bits", what);
            return -1;
        }
        n *= s;
    }
    const uint64_t bits = (uint64_t)st_dtype_bits(t);
    if (n > UINT64_MAX / bits) {
        tool_seterr(err, "%s: its size in bits overflows 64 bits", what);
        return -1;
    }
    if ((n * bits) % 8) {
        tool_seterr(err, "%s: %" PRIu64 " elements of %s are not a whole number of bytes", what, n,
               st_dtype_name(t));
        return -1;
    }
    *numel = n;
    *bytes = n * bits / 8;
    return 0;
}

/* ---- one file ---------------------------------------------------------------------------- */

struct st_file {
    char *path;
    const uint8_t *base; /* the whole file image */
    size_t size;
    int mapped;          /* 1: munmap(base), 2: free(base), 0: borrowed */
    const uint8_t *buffer; /* data buffer (after the header) */
    uint64_t buffer_size;
    st_tensor *tensors;  /* sorted by name */
    size_t count;
    char **meta_keys, **meta_values;
    size_t meta_count;
};

void st_file_close(st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->count; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    if (f->mapped == 1) munmap((void *)f->base, f->size);
    if (f->mapped == 2) free((void *)f->base);
    free(f->path);
    free(f);
}

static int cmp_offset(const void *a, const void *b)
{
    const st_tensor *x = (const st_tensor *)a, *y = (const st_tensor *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* A JSON integer in [0, 2^63) (jansson refuses larger ones while parsing). */
static int json_nonneg_int(const json_t *v, int64_t *out)
{
    if (!json_is_integer(v)) return -1;
    const json_int_t x = json_integer_value(v);
    if (x < 0) return -1;
    *out = (int64_t)x;
    return 0;
}

static int parse_metadata(st_file *f, const json_t *meta, char *err)
{
    if (!json_is_object(meta)) {
        tool_seterr(err, "%s: __metadata__ is not an object", f->path);
        return -1;
    }
    const size_t n = json_object_size(meta);
    f->meta_keys = (char **)calloc(n ? n : 1, sizeof(char *));
    f->meta_values = (char **)calloc(n ? n : 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_values) {
        tool_seterr(err, "%s: out of memory", f->path);
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)meta, key, val) {
        if (!json_is_string(val)) {
            tool_seterr(err, "%s: __metadata__[\"%.64s\"] is not a string", f->path, key);
            return -1;
        }
        f->meta_keys[f->meta_count] = tool_strdup(key);
        f->meta_values[f->meta_count] = tool_strdup(json_string_value(val));
        f->meta_count++;
        if (!f->meta_keys[f->meta_count - 1] || !f->meta_values[f->meta_count - 1]) {
            tool_seterr(err, "%s: out of memory", f->path);
            return -1;
        }
    }
    return 0;
}

static int parse_tensor(st_file *f, const char *name, const json_t *v, st_tensor *t, char *err)
{
    if (!json_is_object(v)) {
        tool_seterr(err, "%s: tensor \"%.128s\" is not an object", f->path, name);
        return -1;
    }
    const json_t *jd = NULL, *js = NULL, *jo = NULL;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (strcmp(key, "dtype") == 0) jd = val;
        else if (strcmp(key, "shape") == 0) js = val;
        else if (strcmp(key, "data_offsets") == 0) jo = val;
        else {
            tool_seterr(err, "%s: tensor \"%.128s\" has an unknown key \"%.64s\"", f->path, name, key);
            return -1;
        }
    }
    if (!jd || !js || !jo) {
        tool_seterr(err, "%s: tensor \"%.128s\" lacks \"%s\"", f->path, name,
               !jd ? "dtype" : !js ? "shape" : "data_offsets");
        return -1;
    }
    if (!json_is_string(jd) || st_dtype_from_name(json_string_value(jd), &t->dtype)) {
        tool_seterr(err, "%s: tensor \"%.128s\" has an unknown dtype %s%.32s%s", f->path, name,
               json_is_string(jd) ? "\"" : "", json_is_string(jd) ? json_string_value(jd) : "(not a string)",
               json_is_string(jd) ? "\"" : "");
        return -1;
    }
    if (!json_is_array(js) || json_array_size(js) > ST_MAX_DIMS) {
        tool_seterr(err, "%s: tensor \"%.128s\": shape is not an array of at most %d integers", f->path,
               name, ST_MAX_DIMS);
        return -1;
    }
    t->ndim = (int)json_array_size(js);
    for (int d = 0; d < t->ndim; d++) {
        if (json_nonneg_int(json_array_get(js, (size_t)d), &t->shape[d])) {
            tool_seterr(err, "%s: tensor \"%.128s\": shape[%d] is not a non-negative integer", f->path, name, d);
            return -1;
        }
    }
    int64_t begin, end;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || json_nonneg_int(json_array_get(jo, 0), &begin) ||
        json_nonneg_int(json_array_get(jo, 1), &end)) {
        tool_seterr(err, "%s: tensor \"%.128s\": data_offsets is not [begin, end] of non-negative integers",
               f->path, name);
        return -1;
    }
    if (end < begin) {
        tool_seterr(err, "%s: tensor \"%.128s\": data_offsets end %" PRId64 " is before begin %" PRId64,
               f->path, name, end, begin);
        return -1;
    }
    char what[200];
    snprintf(what, sizeof what, "%s: tensor \"%.128s\"", f->path, name);
    if (tensor_bytes(t->dtype, t->ndim, t->shape, &t->numel, &t->nbytes, what, err)) return -1;
    if ((uint64_t)(end - begin) != t->nbytes) {
        tool_seterr(err, "%s: tensor \"%.128s\" spans %" PRId64 " bytes but %s x %" PRIu64 " elements need %" PRIu64,
               f->path, name, end - begin, st_dtype_name(t->dtype), t->numel, t->nbytes);
        return -1;
    }
    t->offset = (uint64_t)begin;
    t->name = tool_strdup(name);
    if (!t->name) {
        tool_seterr(err, "%s: out of memory", f->path);
        return -1;
    }
    return 0;
}

static int parse_file(st_file *f, char *err)
{
    if (f->size < 8) {
        tool_seterr(err, "%s: %zu bytes is shorter than the 8-byte header length", f->path, f->size);
        return -1;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->base[i];
    if (hlen > ST_MAX_HEADER_BYTES) {
        tool_seterr(err, "%s: header length %" PRIu64 " exceeds the limit of %u bytes", f->path, hlen,
               ST_MAX_HEADER_BYTES);
        return -1;
    }
    if (hlen > f->size - 8) {
        tool_seterr(err, "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)", f->path,
               hlen, f->size);
        return -1;
    }
    if (hlen < 2 || f->base[8] != '{') {
        tool_seterr(err, "%s: the header does not start with '{'", f->path);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->base + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        tool_seterr(err, "%s: header JSON: %s (at byte %d)", f->path, jerr.text, jerr.position);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) {
        tool_seterr(err, "%s: the header is not a JSON object", f->path);
        goto done;
    }
    f->buffer = f->base + 8 + hlen;
    f->buffer_size = f->size - 8 - hlen;
    const size_t nkeys = json_object_size(root);
    f->tensors = (st_tensor *)calloc(nkeys ? nkeys : 1, sizeof(st_tensor));
    if (!f->tensors) {
        tool_seterr(err, "%s: out of memory", f->path);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (parse_metadata(f, val, err)) goto done;
            continue;
        }
        if (parse_tensor(f, key, val, &f->tensors[f->count], err)) goto done;
        f->count++;
    }
    /* The tensors, in offset order, must tile the buffer: no gap, no overlap, nothing after. */
    qsort(f->tensors, f->count, sizeof(st_tensor), cmp_offset);
    uint64_t expect = 0;
    for (size_t i = 0; i < f->count; i++) {
        const st_tensor *t = &f->tensors[i];
        if (t->offset != expect) {
            if (t->offset > expect)
                tool_seterr(err, "%s: gap in the data buffer: bytes [%" PRIu64 ", %" PRIu64 ") before tensor \"%.128s\" belong to no tensor",
                       f->path, expect, t->offset, t->name);
            else
                tool_seterr(err, "%s: tensor \"%.128s\" at [%" PRIu64 ", %" PRIu64 ") overlaps \"%.128s\"", f->path,
                       t->name, t->offset, t->offset + t->nbytes, f->tensors[i - 1].name);
            goto done;
        }
        expect = t->offset + t->nbytes;
        if (expect > f->buffer_size) {
            tool_seterr(err, "%s: tensor \"%.128s\" ends at byte %" PRIu64 " of a %" PRIu64 "-byte data buffer",
                   f->path, t->name, expect, f->buffer_size);
            goto done;
        }
    }
    if (expect != f->buffer_size) {
        tool_seterr(err, "%s: the data buffer has %" PRIu64 " bytes but its tensors cover %" PRIu64, f->path,
               f->buffer_size, expect);
        goto done;
    }
    qsort(f->tensors, f->count, sizeof(st_tensor), cmp_name);
    rc = 0;
done:
    json_decref(root);
    return rc;
}

static st_file *file_new(const char *label, char *err)
{
    st_file *f = (st_file *)calloc(1, sizeof(st_file));
    if (f) f->path = tool_strdup(label ? label : "(memory)");
    if (!f || !f->path) {
        free(f);
        tool_seterr(err, "out of memory");
        return NULL;
    }
    return f;
}

int st_file_from_memory(st_file **out, const void *data, size_t size, int copy, const char *label,
                        char *err)
{
    *out = NULL;
    if (!data && size) {
        tool_seterr(err, "st_file_from_memory: data is NULL");
        return -1;
    }
    st_file *f = file_new(label, err);
    if (!f) return -1;
    if (copy) {
        uint8_t *p = (uint8_t *)malloc(size ? size : 1);
        if (!p) {
            tool_seterr(err, "%s: out of memory copying %zu bytes", f->path, size);
            st_file_close(f);
            return -1;
        }
        if (size) memcpy(p, data, size);
        f->base = p;
        f->mapped = 2;
    } else {
        f->base = (const uint8_t *)data;
    }
    f->size = size;
    if (parse_file(f, err)) {
        st_file_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

int st_file_open(st_file **out, const char *path, char *err)
{
    *out = NULL;
    st_file *f = file_new(path, err);
    if (!f) return -1;
    const int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        tool_seterr(err, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        st_file_close(f);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        tool_seterr(err, "%s: not a regular file", path);
        close(fd);
        st_file_close(f);
        return -1;
    }
    f->size = (size_t)sb.st_size;
    if (f->size >= 8) {
        void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            tool_seterr(err, "%s: mmap failed: %s", path, strerror(errno));
            close(fd);
            st_file_close(f);
            return -1;
        }
        f->base = (const uint8_t *)p;
        f->mapped = 1;
    } else {
        static const uint8_t empty[8];
        f->base = empty;
    }
    close(fd);
    if (parse_file(f, err)) {
        st_file_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

const char *st_file_path(const st_file *f) { return f->path; }
size_t st_file_size(const st_file *f) { return f->size; }
size_t st_file_count(const st_file *f) { return f->count; }
const st_tensor *st_file_tensor(const st_file *f, size_t i) { return i < f->count ? &f->tensors[i] : NULL; }

const st_tensor *st_file_find(const st_file *f, const char *name)
{
    st_tensor key;
    memset(&key, 0, sizeof key);
    key.name = name;
    return (const st_tensor *)bsearch(&key, f->tensors, f->count, sizeof(st_tensor), cmp_name);
}

const uint8_t *st_file_data(const st_file *f, const st_tensor *t) { return f->buffer + t->offset; }
size_t st_file_metadata_count(const st_file *f) { return f->meta_count; }

int st_file_metadata_at(const st_file *f, size_t i, const char **key, const char **value)
{
    if (i >= f->meta_count) return -1;
    *key = f->meta_keys[i];
    *value = f->meta_values[i];
    return 0;
}

const char *st_file_metadata_get(const st_file *f, const char *key)
{
    for (size_t i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

/* ---- index ------------------------------------------------------------------------------- */

void st_index_free(st_index *ix)
{
    if (!ix) return;
    for (size_t i = 0; i < ix->count; i++) {
        free(ix->names[i]);
        free(ix->files[i]);
    }
    for (size_t i = 0; i < ix->nshards; i++) free(ix->shards[i]);
    free(ix->names);
    free(ix->files);
    free(ix->shards);
    memset(ix, 0, sizeof *ix);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A shard name must be a plain file name in the index's directory. */
static int plain_file_name(const char *s)
{
    return s[0] && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !strchr(s, '/') && !strchr(s, '\\');
}

int st_index_parse(st_index *ix, const char *json, size_t len, char *err)
{
    memset(ix, 0, sizeof *ix);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        tool_seterr(err, "index JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return -1;
    }
    int rc = -1;
    const json_t *wm = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!wm || !json_is_object(wm)) {
        tool_seterr(err, "index JSON: no \"weight_map\" object");
        goto done;
    }
    const size_t n = json_object_size(wm);
    ix->names = (char **)calloc(n ? n : 1, sizeof(char *));
    ix->files = (char **)calloc(n ? n : 1, sizeof(char *));
    char **order = (char **)calloc(n ? 2 * n : 1, sizeof(char *));
    if (!ix->names || !ix->files || !order) {
        free(order);
        tool_seterr(err, "index JSON: out of memory");
        goto done;
    }
    /* Sort (name, file) pairs by name through an array of name pointers followed by file. */
    const char *key;
    json_t *val;
    size_t i = 0;
    json_object_foreach((json_t *)wm, key, val) {
        if (!json_is_string(val) || !plain_file_name(json_string_value(val))) {
            tool_seterr(err, "index JSON: weight_map[\"%.128s\"] is not a plain file name", key);
            free(order);
            goto done;
        }
        ix->names[i] = tool_strdup(key);
        ix->files[i] = tool_strdup(json_string_value(val));
        ix->count = ++i;
        if (!ix->names[i - 1] || !ix->files[i - 1]) {
            free(order);
            tool_seterr(err, "index JSON: out of memory");
            goto done;
        }
    }
    /* sort names and files together */
    for (i = 0; i < n; i++) {
        order[2 * i] = ix->names[i];
        order[2 * i + 1] = ix->files[i];
    }
    qsort(order, n, 2 * sizeof(char *), cmp_str);
    for (i = 0; i < n; i++) {
        ix->names[i] = order[2 * i];
        ix->files[i] = order[2 * i + 1];
    }
    free(order);
    /* distinct shards */
    ix->shards = (char **)calloc(n ? n : 1, sizeof(char *));
    if (!ix->shards) {
        tool_seterr(err, "index JSON: out of memory");
        goto done;
    }
    char **tmp = (char **)malloc((n ? n : 1) * sizeof(char *));
    if (!tmp) {
        tool_seterr(err, "index JSON: out of memory");
        goto done;
    }
    memcpy(tmp, ix->files, n * sizeof(char *));
    qsort(tmp, n, sizeof(char *), cmp_str);
    for (i = 0; i < n; i++) {
        if (ix->nshards && strcmp(ix->shards[ix->nshards - 1], tmp[i]) == 0) continue;
        ix->shards[ix->nshards] = tool_strdup(tmp[i]);
        if (!ix->shards[ix->nshards]) {
            free(tmp);
            tool_seterr(err, "index JSON: out of memory");
            goto done;
        }
        ix->nshards++;
    }
    free(tmp);
    rc = 0;
done:
    json_decref(root);
    if (rc) st_index_free(ix);
    return rc;
}

/* ---- model ------------------------------------------------------------------------------- */

typedef struct st_entry { const st_tensor *t; size_t file; } st_entry;

struct st_model {
    st_file **files;
    size_t nfiles;
    st_entry *entries; /* sorted by name */
    size_t count;
    uint64_t data_bytes;
};

void st_model_close(st_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nfiles; i++) st_file_close(m->files[i]);
    free(m->files);
    free(m->entries);
    free(m);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->t->name, ((const st_entry *)b)->t->name);
}

int st_model_from_files(st_model **out, st_file **files, size_t nfiles, char *err)
{
    *out = NULL;
    st_model *m = (st_model *)calloc(1, sizeof(st_model));
    size_t total = 0;
    for (size_t i = 0; i < nfiles; i++) total += st_file_count(files[i]);
    if (m) {
        m->files = (st_file **)calloc(nfiles ? nfiles : 1, sizeof(st_file *));
        m->entries = (st_entry *)calloc(total ? total : 1, sizeof(st_entry));
    }
    if (!m || !m->files || !m->entries) {
        for (size_t i = 0; i < nfiles; i++) st_file_close(files[i]);
        if (m) {
            free(m->files);
            free(m->entries);
            free(m);
        }
        tool_seterr(err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        m->files[i] = files[i];
        for (size_t j = 0; j < st_file_count(files[i]); j++) {
            m->entries[m->count].t = st_file_tensor(files[i], j);
            m->entries[m->count].file = i;
            m->data_bytes += m->entries[m->count].t->nbytes;
            m->count++;
        }
    }
    m->nfiles = nfiles;
    qsort(m->entries, m->count, sizeof(st_entry), cmp_entry);
    for (size_t i = 1; i < m->count; i++) {
        if (strcmp(m->entries[i].t->name, m->entries[i - 1].t->name) == 0) {
            tool_seterr(err, "tensor \"%.128s\" is in both %s and %s", m->entries[i].t->name,
                   st_file_path(m->files[m->entries[i - 1].file]), st_file_path(m->files[m->entries[i].file]));
            st_model_close(m);
            return -1;
        }
    }
    *out = m;
    return 0;
}

static char *join_path(const char *dir, const char *name)
{
    const size_t a = strlen(dir), b = strlen(name);
    char *p = (char *)malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t o = a;
    if (a && dir[a - 1] != '/') p[o++] = '/';
    memcpy(p + o, name, b + 1);
    return p;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Reads a whole small file (at most `limit` bytes). */
static char *read_small_file(const char *path, size_t limit, size_t *len, char *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tool_seterr(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = (char *)malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= limit) {
                tool_seterr(err, "%s: larger than %zu bytes", path, limit);
                free(buf);
                fclose(fp);
                return NULL;
            }
            cap *= 2;
            char *nb = (char *)realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        const size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    if (!buf) {
        tool_seterr(err, "%s: out of memory", path);
        fclose(fp);
        return NULL;
    }
    if (ferror(fp)) {
        tool_seterr(err, "%s: read error", path);
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    buf[n] = 0;
    *len = n;
    return buf;
}

static int open_with_index(st_model **out, const char *index_path, char *err)
{
    size_t len;
    char *json = read_small_file(index_path, ST_MAX_HEADER_BYTES, &len, err);
    if (!json) return -1;
    st_index ix;
    char sub[ST_ERR_LEN];
    if (st_index_parse(&ix, json, len, sub)) {
        tool_seterr(err, "%s: %s", index_path, sub);
        free(json);
        return -1;
    }
    free(json);
    /* the directory of the index */
    char *dir = tool_strdup(index_path);
    if (!dir) {
        st_index_free(&ix);
        tool_seterr(err, "out of memory");
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else strcpy(dir, ".");
    st_file **files = (st_file **)calloc(ix.nshards ? ix.nshards : 1, sizeof(st_file *));
    int rc = -1;
    size_t opened = 0;
    if (!files) {
        tool_seterr(err, "out of memory");
        goto fail;
    }
    for (; opened < ix.nshards; opened++) {
        char *p = join_path(dir, ix.shards[opened]);
        if (!p) {
            tool_seterr(err, "out of memory");
            goto fail;
        }
        const int r = st_file_open(&files[opened], p, err);
        free(p);
        if (r) goto fail;
    }
    /* every weight_map entry is in its shard */
    for (size_t i = 0; i < ix.count; i++) {
        const char **hit = (const char **)bsearch(&ix.files[i], ix.shards, ix.nshards, sizeof(char *), cmp_str);
        const st_file *f = files[hit - (const char **)ix.shards];
        if (!st_file_find(f, ix.names[i])) {
            tool_seterr(err, "%s: weight_map puts \"%.128s\" in %s, which does not hold it", index_path,
                   ix.names[i], ix.files[i]);
            goto fail;
        }
    }
    /* and every shard tensor is in the weight_map, pointing at that shard */
    for (size_t s = 0; s < ix.nshards; s++) {
        for (size_t j = 0; j < st_file_count(files[s]); j++) {
            const char *name = st_file_tensor(files[s], j)->name;
            char **hit = (char **)bsearch(&name, ix.names, ix.count, sizeof(char *), cmp_str);
            if (!hit || strcmp(ix.files[hit - ix.names], ix.shards[s]) != 0) {
                tool_seterr(err, "%s: tensor \"%.128s\" of %s is not mapped to that file by the weight_map",
                       index_path, name, ix.shards[s]);
                goto fail;
            }
        }
    }
    rc = st_model_from_files(out, files, ix.nshards, err);
    opened = 0; /* owned by the model now (or closed by it) */
fail:
    for (size_t i = 0; i < opened; i++) st_file_close(files[i]);
    free(files);
    free(dir);
    st_index_free(&ix);
    return rc;
}

static int open_dir(st_model **out, const char *dir, char *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        tool_seterr(err, "%s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL, *index_name = NULL;
    size_t n = 0, cap = 0;
    int nindex = 0, rc = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (nm[0] == '.') continue;
        if (ends_with(nm, ".safetensors.index.json")) {
            /* model.safetensors.index.json wins over other index names */
            if (!index_name || strcmp(nm, "model.safetensors.index.json") == 0) {
                free(index_name);
                index_name = tool_strdup(nm);
                if (!index_name) break;
            }
            nindex++;
            continue;
        }
        if (!ends_with(nm, ".safetensors")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = (char **)realloc(names, cap * sizeof(char *));
            if (!nn) break;
            names = nn;
        }
        names[n] = tool_strdup(nm);
        if (!names[n]) break;
        n++;
    }
    closedir(d);
    if (e) {
        tool_seterr(err, "out of memory");
        goto done;
    }
    if (index_name) {
        if (nindex > 1 && strcmp(index_name, "model.safetensors.index.json") != 0) {
            tool_seterr(err, "%s: several *.safetensors.index.json files and no model.safetensors.index.json", dir);
            goto done;
        }
        char *p = join_path(dir, index_name);
        if (!p) {
            tool_seterr(err, "out of memory");
            goto done;
        }
        rc = open_with_index(out, p, err);
        free(p);
        goto done;
    }
    if (n == 0) {
        tool_seterr(err, "%s: no *.safetensors file", dir);
        goto done;
    }
    qsort(names, n, sizeof(char *), cmp_str);
    st_file **files = (st_file **)calloc(n, sizeof(st_file *));
    if (!files) {
        tool_seterr(err, "out of memory");
        goto done;
    }
    size_t opened = 0;
    for (; opened < n; opened++) {
        char *p = join_path(dir, names[opened]);
        if (!p) {
            tool_seterr(err, "out of memory");
            break;
        }
        const int r = st_file_open(&files[opened], p, err);
        free(p);
        if (r) break;
    }
    if (opened == n) {
        rc = st_model_from_files(out, files, n, err);
    } else {
        for (size_t i = 0; i < opened; i++) st_file_close(files[i]);
    }
    free(files);
done:
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(index_name);
    return rc;
}

int st_model_open(st_model **out, const char *path, char *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        tool_seterr(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) return open_dir(out, path, err);
    if (ends_with(path, ".json")) return open_with_index(out, path, err);
    st_file *f;
    if (st_file_open(&f, path, err)) return -1;
    return st_model_from_files(out, &f, 1, err);
}

size_t st_model_count(const st_model *m) { return m->count; }
size_t st_model_file_count(const st_model *m) { return m->nfiles; }
const st_file *st_model_file(const st_model *m, size_t i) { return i < m->nfiles ? m->files[i] : NULL; }
uint64_t st_model_data_bytes(const st_model *m) { return m->data_bytes; }

const st_tensor *st_model_tensor(const st_model *m, size_t i, const st_file **file)
{
    if (i >= m->count) return NULL;
    if (file) *file = m->files[m->entries[i].file];
    return m->entries[i].t;
}

const st_tensor *st_model_find(const st_model *m, const char *name, const st_file **file)
{
    st_tensor t;
    memset(&t, 0, sizeof t);
    t.name = name;
    st_entry key = {&t, 0};
    const st_entry *e = (const st_entry *)bsearch(&key, m->entries, m->count, sizeof(st_entry), cmp_entry);
    if (!e) return NULL;
    if (file) *file = m->files[e->file];
    return e->t;
}

/* ---- writer ------------------------------------------------------------------------------ */

typedef struct st_wtensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t nbytes, offset;
    const void *data;
    unsigned char written;
} st_wtensor;

struct st_writer {
    st_wtensor *t;
    size_t count, cap;
    char **mkeys, **mvals;
    size_t mcount, mcap;
    int fd;
    char *path, *tmp_path;
    uint64_t data_start, total;
    int begun;
};

st_writer *st_writer_new(void)
{
    st_writer *w = (st_writer *)calloc(1, sizeof(st_writer));
    if (w) w->fd = -1;
    return w;
}

void st_writer_free(st_writer *w)
{
    if (!w) return;
    if (w->fd >= 0) {
        close(w->fd);
        if (w->tmp_path) unlink(w->tmp_path);
    }
    for (size_t i = 0; i < w->count; i++) free(w->t[i].name);
    free(w->t);
    for (size_t i = 0; i < w->mcount; i++) {
        free(w->mkeys[i]);
        free(w->mvals[i]);
    }
    free(w->mkeys);
    free(w->mvals);
    free(w->path);
    free(w->tmp_path);
    free(w);
}

int st_writer_set_metadata(st_writer *w, const char *key, const char *value, char *err)
{
    if (w->begun) {
        tool_seterr(err, "st_writer_set_metadata after st_writer_begin");
        return -1;
    }
    for (size_t i = 0; i < w->mcount; i++) {
        if (strcmp(w->mkeys[i], key) == 0) {
            char *v = tool_strdup(value);
            if (!v) {
                tool_seterr(err, "out of memory");
                return -1;
            }
            free(w->mvals[i]);
            w->mvals[i] = v;
            return 0;
        }
    }
    if (w->mcount == w->mcap) {
        const size_t cap = w->mcap ? 2 * w->mcap : 8;
        char **k = (char **)realloc(w->mkeys, cap * sizeof(char *));
        if (k) w->mkeys = k;
        char **v = (char **)realloc(w->mvals, cap * sizeof(char *));
        if (v) w->mvals = v;
        if (!k || !v) {
            tool_seterr(err, "out of memory");
            return -1;
        }
        w->mcap = cap;
    }
    w->mkeys[w->mcount] = tool_strdup(key);
    w->mvals[w->mcount] = tool_strdup(value);
    if (!w->mkeys[w->mcount] || !w->mvals[w->mcount]) {
        free(w->mkeys[w->mcount]);
        free(w->mvals[w->mcount]);
        tool_seterr(err, "out of memory");
        return -1;
    }
    w->mcount++;
    return 0;
}

int st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
                  const void *data, size_t *index, char *err)
{
    if (w->begun) {
        tool_seterr(err, "st_writer_add(\"%.128s\") after st_writer_begin", name);
        return -1;
    }
    if ((unsigned)dtype >= ST_DTYPE_COUNT || ndim < 0 || ndim > ST_MAX_DIMS || strcmp(name, "__metadata__") == 0) {
        tool_seterr(err, "st_writer_add(\"%.128s\"): bad dtype, rank or name", name);
        return -1;
    }
    for (size_t i = 0; i < w->count; i++) {
        if (strcmp(w->t[i].name, name) == 0) {
            tool_seterr(err, "st_writer_add: duplicate tensor name \"%.128s\"", name);
            return -1;
        }
    }
    st_wtensor t;
    memset(&t, 0, sizeof t);
    uint64_t numel;
    char what[160];
    snprintf(what, sizeof what, "tensor \"%.128s\"", name);
    if (tensor_bytes(dtype, ndim, shape, &numel, &t.nbytes, what, err)) return -1;
    t.dtype = dtype;
    t.ndim = ndim;
    for (int d = 0; d < ndim; d++) t.shape[d] = shape[d];
    t.data = data;
    t.name = tool_strdup(name);
    if (!t.name) {
        tool_seterr(err, "out of memory");
        return -1;
    }
    if (w->count == w->cap) {
        const size_t cap = w->cap ? 2 * w->cap : 64;
        st_wtensor *nt = (st_wtensor *)realloc(w->t, cap * sizeof(st_wtensor));
        if (!nt) {
            free(t.name);
            tool_seterr(err, "out of memory");
            return -1;
        }
        w->t = nt;
        w->cap = cap;
    }
    if (index) *index = w->count;
    w->t[w->count++] = t;
    return 0;
}

static int write_all(int fd, const void *data, uint64_t n, uint64_t offset, const char *path, char *err)
{
    const uint8_t *p = (const uint8_t *)data;
    while (n) {
        const size_t chunk = n > ((uint64_t)1 << 30) ? ((size_t)1 << 30) : (size_t)n;
        const ssize_t r = pwrite(fd, p, chunk, (off_t)offset);
        if (r < 0) {
            if (errno == EINTR) continue;
            tool_seterr(err, "%s: write failed: %s", path, strerror(errno));
            return -1;
        }
        p += r;
        n -= (uint64_t)r;
        offset += (uint64_t)r;
    }
    return 0;
}

int st_writer_begin(st_writer *w, const char *path, char *err)
{
    if (w->begun) {
        tool_seterr(err, "st_writer_begin called twice");
        return -1;
    }
    json_t *root = json_object();
    int rc = -1;
    char *hdr = NULL;
    if (!root) goto oom;
    if (w->mcount) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta)) goto oom;
        for (size_t i = 0; i < w->mcount; i++)
            if (json_object_set_new(meta, w->mkeys[i], json_string(w->mvals[i]))) {
                tool_seterr(err, "metadata \"%.64s\" is not valid UTF-8", w->mkeys[i]);
                goto done;
            }
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->count; i++) {
        st_wtensor *t = &w->t[i];
        t->offset = off;
        off += t->nbytes;
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        if (!e || !shape || !offs) {
            json_decref(e);
            json_decref(shape);
            json_decref(offs);
            goto oom;
        }
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
        json_array_append_new(offs, json_integer((json_int_t)t->offset));
        json_array_append_new(offs, json_integer((json_int_t)(t->offset + t->nbytes)));
        json_object_set_new(e, "dtype", json_string(st_dtype_name(t->dtype)));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", offs);
        if (json_object_set_new(root, t->name, e)) {
            tool_seterr(err, "tensor name \"%.64s\" is not valid UTF-8", t->name);
            goto done;
        }
    }
    hdr = json_dumps(root, JSON_COMPACT);
    if (!hdr) goto oom;
    const size_t raw = strlen(hdr), padded = (raw + 7) / 8 * 8;
    if (padded > ST_MAX_HEADER_BYTES) {
        tool_seterr(err, "%s: the header would be %zu bytes, above the format's limit", path, padded);
        goto done;
    }
    w->path = tool_strdup(path);
    w->tmp_path = (char *)malloc(strlen(path) + 5);
    if (!w->path || !w->tmp_path) goto oom;
    sprintf(w->tmp_path, "%s.tmp", path);
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w->fd < 0) {
        tool_seterr(err, "%s: %s", w->tmp_path, strerror(errno));
        goto done;
    }
    w->begun = 1;
    uint8_t lenbytes[8];
    for (int i = 0; i < 8; i++) lenbytes[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    char *hp = (char *)malloc(padded);
    if (!hp) goto oom;
    memcpy(hp, hdr, raw);
    memset(hp + raw, ' ', padded - raw);
    const int wr = write_all(w->fd, lenbytes, 8, 0, w->tmp_path, err) ||
                   write_all(w->fd, hp, padded, 8, w->tmp_path, err);
    free(hp);
    if (wr) goto done;
    w->data_start = 8 + (uint64_t)padded;
    w->total = w->data_start + off;
    if (ftruncate(w->fd, (off_t)w->total) != 0) {
        tool_seterr(err, "%s: %s", w->tmp_path, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < w->count; i++) {
        if (w->t[i].data || w->t[i].nbytes == 0) {
            if (st_writer_put(w, i, w->t[i].data, w->t[i].nbytes, err)) goto done;
        }
    }
    rc = 0;
    goto done;
oom:
    tool_seterr(err, "out of memory");
done:
    free(hdr);
    json_decref(root);
    return rc;
}

int st_writer_put(st_writer *w, size_t index, const void *data, size_t nbytes, char *err)
{
    if (!w->begun || w->fd < 0 || index >= w->count) {
        tool_seterr(err, "st_writer_put: writer not begun or index %zu out of range", index);
        return -1;
    }
    st_wtensor *t = &w->t[index];
    if (nbytes != t->nbytes) {
        tool_seterr(err, "st_writer_put(\"%.128s\"): %zu bytes given, %" PRIu64 " expected", t->name, nbytes,
               t->nbytes);
        return -1;
    }
    if (nbytes && write_all(w->fd, data, nbytes, w->data_start + t->offset, w->tmp_path, err)) return -1;
    t->written = 1;
    return 0;
}

int st_writer_finish(st_writer *w, char *err)
{
    if (!w->begun || w->fd < 0) {
        tool_seterr(err, "st_writer_finish: writer not begun");
        return -1;
    }
    for (size_t i = 0; i < w->count; i++) {
        if (!w->t[i].written) {
            tool_seterr(err, "%s: tensor \"%.128s\" was never written", w->path, w->t[i].name);
            return -1;
        }
    }
    const int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        tool_seterr(err, "%s: %s", w->tmp_path, strerror(errno));
        unlink(w->tmp_path);
        return -1;
    }
    if (rename(w->tmp_path, w->path) != 0) {
        tool_seterr(err, "rename %s -> %s: %s", w->tmp_path, w->path, strerror(errno));
        unlink(w->tmp_path);
        return -1;
    }
    return 0;
}

int st_writer_write(st_writer *w, const char *path, char *err)
{
    if (st_writer_begin(w, path, err)) return -1;
    return st_writer_finish(w, err);
}

uint64_t st_writer_total_bytes(const st_writer *w) { return w->total; }

/* test_safetensors.c - the strict reader on hand-made files (valid, then each violation of the
 * format, which must fail with a message that says what is wrong), the writer round trip, the
 * index parser and sharded checkpoints. */
#define _POSIX_C_SOURCE 200809L
#include "fixtures.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A file image: 8-byte length, header text (padded with `pad` spaces), data bytes i & 255. */
static unsigned char *image(const char *header, size_t pad, size_t data_len, size_t *len)
{
    const size_t h = strlen(header) + pad;
    *len = 8 + h + data_len;
    unsigned char *p = (unsigned char *)malloc(*len);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(p + 8, header, strlen(header));
    memset(p + 8 + strlen(header), ' ', pad);
    for (size_t i = 0; i < data_len; i++) p[8 + h + i] = (unsigned char)i;
    return p;
}

/* Parses an image built from `header`; expect_ok or the error must contain `needle`. */
static void expect(const char *label, const char *header, size_t data_len, int expect_ok, const char *needle)
{
    size_t len;
    unsigned char *p = image(header, 0, data_len, &len);
    char err[ST_ERR_LEN] = "";
    st_file *f = NULL;
    const int rc = st_file_from_memory(&f, p, len, 1, label, err);
    if (expect_ok) {
        CHECK(rc == 0, "%s: expected a valid file, got: %s", label, err);
    } else {
        CHECK(rc != 0, "%s: expected a rejection", label);
        CHECK(rc == 0 || strstr(err, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", label, err, needle);
        if (rc) printf("  rejected %-22s %s\n", label, err);
    }
    st_file_close(f);
    free(p);
}

static void test_valid(void)
{
    const char *h = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
                    "\"b\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[8,20]},"
                    "\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                    "\"s\":{\"dtype\":\"U64\",\"shape\":[],\"data_offsets\":[20,28]},"
                    "\"e\":{\"dtype\":\"BF16\",\"shape\":[0,7],\"data_offsets\":[28,28]},"
                    "\"f4\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[28,31]}}";
    size_t len;
    unsigned char *p = image(h, 5, 31, &len); /* right-padded header */
    char err[ST_ERR_LEN];
    st_file *f;
    CHECK(st_file_from_memory(&f, p, len, 0, "valid", err) == 0, "valid: %s", err);
    if (!f) {
        free(p);
        return;
    }
    CHECK(st_file_count(f) == 5, "5 tensors, got %zu", st_file_count(f));
    const st_tensor *a = st_file_find(f, "a"), *b = st_file_find(f, "b"), *s = st_file_find(f, "s"),
                    *e = st_file_find(f, "e"), *f4 = st_file_find(f, "f4");
    CHECK(a && a->dtype == ST_F16 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 2 && a->nbytes == 8, "a");
    CHECK(b && b->dtype == ST_I32 && b->numel == 3 && b->offset == 8, "b");
    CHECK(s && s->ndim == 0 && s->numel == 1 && s->nbytes == 8, "scalar");
    CHECK(e && e->numel == 0 && e->nbytes == 0, "empty tensor");
    CHECK(f4 && f4->nbytes == 3, "F4 [2,3] is 3 bytes");
    CHECK(st_file_find(f, "zz") == NULL, "absent name");
    CHECK(strcmp(st_file_tensor(f, 0)->name, "a") == 0, "name order");
    const uint8_t *d = st_file_data(f, b);
    CHECK(d[0] == 8 && d[11] == 19, "data of b starts at buffer byte 8");
    CHECK(st_file_metadata_count(f) == 2, "metadata count");
    CHECK(st_file_metadata_get(f, "note") && strcmp(st_file_metadata_get(f, "note"), "x") == 0, "metadata value");
    st_file_close(f);
    free(p);
}

static void test_hostile(void)
{
    const char *T = "\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}";
    char h[1024];
    expect("empty-header", "{}", 0, 1, "");
    snprintf(h, sizeof h, "{%s}", T);
    expect("one-tensor", h, 4, 1, "");
    expect("trailing-bytes", h, 6, 0, "cover");
    expect("data-past-end", h, 3, 0, "data buffer");
    expect("array-header", "[1]", 0, 0, "start with '{'");
    expect("no-brace", " {}", 0, 0, "start with '{'");
    expect("bad-json", "{\"t\":", 0, 0, "header JSON");
    expect("duplicate", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                        "\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, 0, "duplicate");
    expect("gap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}", 3, 0, "gap");
    expect("overlap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                      "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", 3, 0, "overlaps");
    expect("not-from-0", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, 0, "gap");
    expect("size-mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, 0, "need 8");
    expect("end-before-begin", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,1]}}", 2, 0, "before begin");
    expect("numel-overflow", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,0]}}", 0, 0,
           "overflows");
    expect("bits-overflow", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0, 0,
           "overflows");
    expect("odd-f4", "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, 0, "whole number of bytes");
    expect("unknown-dtype", "{\"a\":{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 0, "unknown dtype");
    expect("dtype-not-string", "{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 0, "unknown dtype");
    expect("negative-dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1, 0, "non-negative");
    expect("real-dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1, 0, "non-negative");
    expect("too-big-int", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551617]}}", 1, 0,
           "header JSON");
    expect("negative-offset", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 1, 0, "data_offsets");
    expect("three-offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1, 0, "data_offsets");
    expect("missing-shape", "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, 0, "lacks \"shape\"");
    expect("extra-key", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":0}}", 1, 0, "unknown key");
    expect("tensor-not-object", "{\"a\":[1]}", 0, 0, "not an object");
    expect("metadata-not-object", "{\"__metadata__\":[]}", 0, 0, "__metadata__");
    expect("metadata-not-string", "{\"__metadata__\":{\"a\":1}}", 0, 0, "not a string");
    expect("too-many-dims", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
           1, 0, "at most");
    expect("bad-utf8", "{\"\xff\xfe\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 0, "header JSON");
    expect("nul-in-key", "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 0, "header JSON");

    /* length field problems, built by hand */
    char err[ST_ERR_LEN];
    st_file *f;
    unsigned char short_[5] = {1, 2, 3, 4, 5};
    CHECK(st_file_from_memory(&f, short_, 5, 0, "short", err) != 0 && strstr(err, "shorter"), "short: %s", err);
    unsigned char huge[16] = {0x00, 0xe2, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'}; /* 100,000,256 */
    CHECK(st_file_from_memory(&f, huge, 10, 0, "limit", err) != 0 && strstr(err, "exceeds the limit"), "limit: %s", err);
    unsigned char past[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    CHECK(st_file_from_memory(&f, past, 10, 0, "past", err) != 0 && strstr(err, "past the end"), "past: %s", err);
    unsigned char nul[16] = {3, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0};
    CHECK(st_file_from_memory(&f, nul, 11, 0, "nul-pad", err) != 0, "a NUL after the JSON is refused");
    unsigned char zero[8] = {0};
    CHECK(st_file_from_memory(&f, zero, 8, 0, "zero-header", err) != 0, "a zero-length header is refused");
}

static void test_writer(void)
{
    char dir[256], path[512], err[ST_ERR_LEN];
    CHECK(fx_tempdir(dir, "st") == 0, "tempdir");
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    st_writer *w = st_writer_new();
    const int64_t s1[2] = {3, 5}, s2[1] = {7}, s0[1] = {0};
    uint16_t a[15];
    for (int i = 0; i < 15; i++) a[i] = (uint16_t)(i * 1000);
    int32_t b[7] = {1, -2, 3, -4, 5, -6, 7};
    size_t ib = 0;
    CHECK(st_writer_add(w, "alpha", ST_F16, 2, s1, a, NULL, err) == 0, "%s", err);
    CHECK(st_writer_add(w, "beta", ST_I32, 1, s2, NULL, &ib, err) == 0, "%s", err);
    CHECK(st_writer_add(w, "empty", ST_U8, 1, s0, NULL, NULL, err) == 0, "%s", err);
    CHECK(st_writer_add(w, "alpha", ST_U8, 1, s2, NULL, NULL, err) != 0 && strstr(err, "duplicate"), "dup: %s", err);
    CHECK(st_writer_add(w, "__metadata__", ST_U8, 1, s2, NULL, NULL, err) != 0, "reserved name");
    CHECK(st_writer_set_metadata(w, "k", "v1", err) == 0 && st_writer_set_metadata(w, "k", "v2", err) == 0, "meta");
    CHECK(st_writer_begin(w, path, err) == 0, "begin: %s", err);
    CHECK(st_writer_finish(w, err) != 0 && strstr(err, "never written"), "finish before put: %s", err);
    CHECK(st_writer_put(w, ib, b, 27, err) != 0, "wrong size put refused");
    CHECK(st_writer_put(w, ib, b, 28, err) == 0, "put: %s", err);
    CHECK(st_writer_finish(w, err) == 0, "finish: %s", err);
    st_writer_free(w);
    st_file *f;
    CHECK(st_file_open(&f, path, err) == 0, "reopen: %s", err);
    if (f) {
        const st_tensor *ta = st_file_find(f, "alpha"), *tb = st_file_find(f, "beta");
        CHECK(ta && memcmp(st_file_data(f, ta), a, 30) == 0, "alpha round trip");
        CHECK(tb && memcmp(st_file_data(f, tb), b, 28) == 0, "beta round trip");
        CHECK(st_file_metadata_get(f, "k") && !strcmp(st_file_metadata_get(f, "k"), "v2"), "metadata round trip");
        /* header padded to a multiple of 8 */
        FILE *fp = fopen(path, "rb");
        unsigned char l8[8];
        CHECK(fp && fread(l8, 1, 8, fp) == 8 && l8[0] % 8 == 0, "padded header length");
        if (fp) fclose(fp);
        st_file_close(f);
    }
    /* an unfinished writer leaves nothing behind */
    snprintf(path, sizeof path, "%s/unfinished.safetensors", dir);
    w = st_writer_new();
    st_writer_add(w, "x", ST_U8, 1, s2, NULL, NULL, err);
    st_writer_begin(w, path, err);
    st_writer_free(w);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "unfinished write removed");
    CHECK(st_file_open(&f, dir, err) != 0 && strstr(err, "not a regular file"), "a directory is not a file: %s", err);
    fx_rmdir(dir);
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp) return -1;
    fputs(text, fp);
    return fclose(fp);
}

static void write_st(const char *dir, const char *name, const char *const *tensors, int n)
{
    char path[512], err[ST_ERR_LEN];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    st_writer *w = st_writer_new();
    static const uint8_t data[4] = {1, 2, 3, 4};
    const int64_t shape[1] = {4};
    for (int i = 0; i < n; i++) st_writer_add(w, tensors[i], ST_U8, 1, shape, data, NULL, err);
    CHECK(st_writer_write(w, path, err) == 0, "%s", err);
    st_writer_free(w);
}

static void test_index(void)
{
    st_index ix;
    char err[ST_ERR_LEN];
    const char *ok = "{\"metadata\":{\"total_size\":8},\"weight_map\":{\"b\":\"s2.safetensors\",\"a\":\"s1.safetensors\","
                     "\"c\":\"s1.safetensors\"}}";
    CHECK(st_index_parse(&ix, ok, strlen(ok), err) == 0, "index: %s", err);
    CHECK(ix.count == 3 && ix.nshards == 2 && !strcmp(ix.names[0], "a") && !strcmp(ix.files[1], "s2.safetensors") &&
              !strcmp(ix.shards[0], "s1.safetensors"),
          "index content");
    st_index_free(&ix);
    const char *bad[][2] = {
        {"{\"weight_map\":{\"a\":\"../x.safetensors\"}}", "plain file name"},
        {"{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "plain file name"},
        {"{\"weight_map\":{\"a\":\"..\"}}", "plain file name"},
        {"{\"weight_map\":{\"a\":1}}", "plain file name"},
        {"{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}", "duplicate"},
        {"{\"metadata\":{}}", "weight_map"},
        {"[]", "weight_map"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int rc = st_index_parse(&ix, bad[i][0], strlen(bad[i][0]), err);
        CHECK(rc != 0 && strstr(err, bad[i][1]), "index %zu: %s", i, err);
        if (!rc) st_index_free(&ix);
    }

    /* sharded checkpoints on disk */
    char dir[256];
    st_model *m;
    CHECK(fx_tempdir(dir, "shards") == 0, "tempdir");
    const char *s1[] = {"a", "c"}, *s2[] = {"b"};
    write_st(dir, "s1.safetensors", s1, 2);
    write_st(dir, "s2.safetensors", s2, 1);
    write_file(dir, "model.safetensors.index.json", ok);
    CHECK(st_model_open(&m, dir, err) == 0, "sharded: %s", err);
    if (m) {
        const st_file *f;
        CHECK(st_model_count(m) == 3 && st_model_file_count(m) == 2, "3 tensors in 2 files");
        CHECK(st_model_find(m, "b", &f) && strstr(st_file_path(f), "s2.safetensors"), "b is in s2");
        CHECK(st_model_data_bytes(m) == 12, "data bytes");
        st_model_close(m);
    }
    /* the index names a tensor its shard lacks */
    write_file(dir, "model.safetensors.index.json",
               "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s1.safetensors\"}}");
    CHECK(st_model_open(&m, dir, err) != 0 && strstr(err, "does not hold"), "wrong shard: %s", err);
    /* a shard holds a tensor the index does not map */
    write_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}");
    CHECK(st_model_open(&m, dir, err) != 0 && strstr(err, "not mapped"), "unmapped: %s", err);
    /* a missing shard */
    write_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"s9.safetensors\"}}");
    CHECK(st_model_open(&m, dir, err) != 0 && strstr(err, "s9.safetensors"), "missing shard: %s", err);
    /* no index: every *.safetensors, a name in two files is an error */
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    unlink(p);
    CHECK(st_model_open(&m, dir, err) == 0 && st_model_count(m) == 3, "directory without index: %s", err);
    st_model_close(m);
    const char *dup[] = {"c"};
    write_st(dir, "s3.safetensors", dup, 1);
    CHECK(st_model_open(&m, dir, err) != 0 && strstr(err, "is in both"), "duplicate across files: %s", err);
    /* a single file and an index path */
    snprintf(p, sizeof p, "%s/s2.safetensors", dir);
    CHECK(st_model_open(&m, p, err) == 0 && st_model_count(m) == 1, "single file: %s", err);
    st_model_close(m);
    fx_rmdir(dir);
}

static void test_dtypes(void)
{
    for (int i = 0; i < ST_DTYPE_COUNT; i++) {
        st_dtype t;
        CHECK(st_dtype_from_name(st_dtype_name((st_dtype)i), &t) == 0 && t == (st_dtype)i, "dtype %d round trip", i);
    }
    CHECK(st_dtype_bits(ST_BF16) == 16 && st_dtype_bits(ST_F4) == 4 && st_dtype_bits(ST_F6_E2M3) == 6 &&
              st_dtype_bits(ST_C64) == 64,
          "dtype sizes");
    st_dtype t;
    CHECK(st_dtype_from_name("f16", &t) != 0, "dtype names are case-sensitive");
}

int main(void)
{
    test_dtypes();
    test_valid();
    test_hostile();
    test_writer();
    test_index();
    if (fx_failures) {
        fprintf(stderr, "tools_safetensors: %d check(s) failed\n", fx_failures);
        return 1;
    }
    printf("tools_safetensors: all checks passed\n");
    return 0;
}

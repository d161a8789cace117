/*
 * fuzz_tools.c - libFuzzer target over the safetensors reader, the index and config parsers,
 * the converters (plan + decode + pack) and the reader of our own packed files.
 *
 * Input: byte 0 selects the target (its value mod 4), the rest is its input:
 *   0  a safetensors file image; if it is a w4a16 file, its layers are loaded and unpacked too
 *   1  a model.safetensors.index.json
 *   2  config.json text, optionally followed by a NUL and quantize_config.json text
 *   3  a checkpoint: config.json text, a NUL, then a safetensors file image; converted on the CPU
 *      (unpack(pack(q)) == q is checked for every layer)
 * Any failure must be an error status; crashes, sanitizer reports and leaks are bugs.
 */
#include "convert.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_safetensors(const uint8_t *d, size_t n)
{
    char err[ST_ERR_LEN];
    st_file *f;
    if (st_file_from_memory(&f, d, n, 0, "fuzz", err)) return;
    unsigned sum = 0;
    for (size_t i = 0; i < st_file_count(f); i++) {
        const st_tensor *t = st_file_tensor(f, i);
        const uint8_t *p = st_file_data(f, t);
        for (uint64_t j = 0; j < t->nbytes; j++) sum += p[j];
        if (st_file_find(f, t->name) != t) abort();
    }
    for (size_t i = 0; i < st_file_metadata_count(f); i++) {
        const char *k, *v;
        if (st_file_metadata_at(f, i, &k, &v) || st_file_metadata_get(f, k) == NULL) abort();
    }
    cv_packed_info *info;
    size_t count;
    if (cv_packed_file_layers(f, &info, &count, err) == 0) {
        for (size_t i = 0; i < count; i++) {
            cv_layer l;
            if (cv_packed_layer_load(f, &info[i], 1, &l, err) == 0) cv_layer_free(&l);
        }
        cv_packed_info_free(info, count);
    }
    (void)sum;
    st_file_close(f);
}

static void fuzz_convert(const uint8_t *d, size_t n)
{
    const uint8_t *nul = (const uint8_t *)memchr(d, 0, n);
    if (!nul) return;
    const size_t clen = (size_t)(nul - d);
    char err[CV_ERR_LEN];
    cv_scheme s;
    if (cv_scheme_parse(&s, (const char *)d, clen, NULL, 0, err) &&
        cv_scheme_parse(&s, NULL, 0, (const char *)d, clen, err))
        return;
    st_file *f;
    if (st_file_from_memory(&f, nul + 1, n - clen - 1, 0, "fuzz", err)) return;
    st_model *m;
    if (st_model_from_files(&m, &f, 1, err)) return;
    cv_options o;
    cv_options_init(&o);
    cv_plan *p;
    if (cv_plan_build(&p, m, &s, &o, err) == 0) {
        for (size_t i = 0; i < p->nlayers; i++) {
            cv_layer l;
            if (cv_decode_layer(p, i, &l, err)) continue;
            size_t bytes, qbytes = (size_t)(l.n * (l.k / 2));
            if (w4a16_packed_size(l.n, l.k, &bytes) != W4A16_SUCCESS) abort();
            void *packed = malloc(bytes);
            uint8_t *q2 = (uint8_t *)malloc(qbytes);
            if (packed && q2) {
                if (w4a16_pack_host(l.q, l.n, l.k, packed, bytes) != W4A16_SUCCESS ||
                    w4a16_unpack_host(packed, bytes, l.n, l.k, q2, qbytes) != W4A16_SUCCESS ||
                    memcmp(q2, l.q, qbytes) != 0)
                    abort();
            }
            free(packed);
            free(q2);
            cv_layer_free(&l);
        }
        cv_plan_free(p);
    }
    st_model_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *d = data + 1;
    const size_t n = size - 1;
    char err[ST_ERR_LEN];
    switch (data[0] & 3) {
    case 0:
        fuzz_safetensors(d, n);
        break;
    case 1: {
        st_index ix;
        if (st_index_parse(&ix, (const char *)d, n, err) == 0) st_index_free(&ix);
        break;
    }
    case 2: {
        cv_scheme s;
        const uint8_t *nul = (const uint8_t *)memchr(d, 0, n);
        if (nul) cv_scheme_parse(&s, (const char *)d, (size_t)(nul - d), (const char *)nul + 1, n - (size_t)(nul - d) - 1, err);
        else cv_scheme_parse(&s, (const char *)d, n, NULL, 0, err);
        break;
    }
    default:
        fuzz_convert(d, n);
        break;
    }
    return 0;
}

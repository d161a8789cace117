/*
 * safetensors.h - a strict reader and a streaming writer for the safetensors format, and a
 * reader for checkpoints made of several files (model.safetensors.index.json).
 *
 * The format: 8 bytes of header length H (u64 little-endian), H bytes of UTF-8 JSON starting
 * with '{' (right-padded with spaces), then the data buffer. The JSON maps tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end)} (offsets relative to the buffer) and may
 * hold "__metadata__": {string: string}.
 *
 * The reader refuses, with a message and never a crash: H > ST_MAX_HEADER_BYTES or beyond the
 * file; JSON that is not an object, has duplicate names (jansson's JSON_REJECT_DUPLICATES),
 * unknown dtypes or keys, non-integer or negative sizes; a byte size that is not dtype size x
 * prod(shape) (computed with overflow checks); tensors that do not tile the buffer exactly
 * (gaps, overlaps, data past the end or bytes left after the last tensor).
 *
 * Errors: every function that can fail returns 0 on success and -1 on failure, writing a
 * message into `err` (a caller buffer of ST_ERR_LEN bytes, or NULL).
 * Data is little-endian row-major and not necessarily aligned: copy it, don't cast it.
 */
#ifndef W4A16_TOOLS_SAFETENSORS_H
#define W4A16_TOOLS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ST_ERR_LEN 512
#define ST_MAX_HEADER_BYTES 100000000u
#define ST_MAX_DIMS 16 /* deeper shapes are refused (no real checkpoint comes close) */

typedef enum st_dtype {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_F8_E8M0, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64, ST_C64, ST_F4, ST_F6_E2M3, ST_F6_E3M2,
    ST_DTYPE_COUNT
} st_dtype;

/* "F16", "BF16", ... as the format spells them. */
const char *st_dtype_name(st_dtype t);
/* 0 and *out set when `name` is a known dtype, -1 otherwise. */
int st_dtype_from_name(const char *name, st_dtype *out);
/* Bits per element (4 for F4, 6 for the F6 types, 8 * bytes for the others). */
int st_dtype_bits(st_dtype t);

typedef struct st_tensor {
    const char *name;           /* owned by the file */
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t numel;             /* prod(shape), 1 for a scalar */
    uint64_t nbytes;            /* end - begin */
    uint64_t offset;            /* begin, relative to the data buffer */
} st_tensor;

/* ---- one file ---------------------------------------------------------------------------- */

typedef struct st_file st_file;

/* Opens and validates a file (memory-mapped read-only). */
int st_file_open(st_file **out, const char *path, char *err);
/* Validates a file image in memory. copy=0 borrows `data` (it must outlive the st_file). */
int st_file_from_memory(st_file **out, const void *data, size_t size, int copy, const char *label,
                        char *err);
void st_file_close(st_file *f);

const char *st_file_path(const st_file *f);     /* the path or label given */
size_t st_file_size(const st_file *f);          /* total bytes */
size_t st_file_count(const st_file *f);         /* tensors */
/* Tensor i in name order (strcmp), or NULL past the end. */
const st_tensor *st_file_tensor(const st_file *f, size_t i);
const st_tensor *st_file_find(const st_file *f, const char *name);
/* First byte of a tensor's data (unaligned). */
const uint8_t *st_file_data(const st_file *f, const st_tensor *t);
/* __metadata__ entries, in the file's order. */
size_t st_file_metadata_count(const st_file *f);
int st_file_metadata_at(const st_file *f, size_t i, const char **key, const char **value);
const char *st_file_metadata_get(const st_file *f, const char *key); /* NULL if absent */

/* ---- a checkpoint of one or several files ------------------------------------------------ */

typedef struct st_model st_model;

/* `path` is a .safetensors file, a model.safetensors.index.json, or a directory. A directory
 * is read through its model.safetensors.index.json when present, else as every *.safetensors
 * file in it (a name found in two files is an error). With an index, every weight_map entry
 * must be in the named shard and every tensor of a shard must be in the weight_map; shard
 * names must be plain file names in the index's directory. */
int st_model_open(st_model **out, const char *path, char *err);
/* A model over files already open (ownership passes to the model, also on failure). */
int st_model_from_files(st_model **out, st_file **files, size_t nfiles, char *err);
void st_model_close(st_model *m);

size_t st_model_count(const st_model *m);                 /* tensors in all files */
size_t st_model_file_count(const st_model *m);
const st_file *st_model_file(const st_model *m, size_t i);
/* Tensor i in name order across all files; *file (if not NULL) receives its file. */
const st_tensor *st_model_tensor(const st_model *m, size_t i, const st_file **file);
const st_tensor *st_model_find(const st_model *m, const char *name, const st_file **file);
uint64_t st_model_data_bytes(const st_model *m);          /* sum of all tensors' bytes */

/* A parsed model.safetensors.index.json: weight_map entries in name order. */
typedef struct st_index {
    size_t count;
    char **names;   /* tensor names, sorted */
    char **files;   /* shard file of names[i] */
    size_t nshards;
    char **shards;  /* distinct shard names, sorted */
} st_index;
int st_index_parse(st_index *out, const char *json, size_t len, char *err);
void st_index_free(st_index *ix);

/* ---- writer ------------------------------------------------------------------------------ */

/* Declare every tensor (and metadata), then st_writer_begin writes the header and the data
 * given at declaration, st_writer_put supplies the rest (any order: each tensor has its own
 * offset), and st_writer_finish checks that everything was written and renames "<path>.tmp"
 * into place. Tensors are laid out in declaration order. */
typedef struct st_writer st_writer;

st_writer *st_writer_new(void); /* NULL when out of memory */
void st_writer_free(st_writer *w); /* removes the temporary file of an unfinished write */
int st_writer_set_metadata(st_writer *w, const char *key, const char *value, char *err);
/* `data` (nbytes = dtype size x prod(shape)) is borrowed until begin, or NULL to put later.
 * *index (if not NULL) receives the tensor's index for st_writer_put. */
int st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
                  const void *data, size_t *index, char *err);
int st_writer_begin(st_writer *w, const char *path, char *err);
/* Writes tensor `index`'s data; nbytes must equal its size. Safe from several threads for
 * distinct tensors. */
int st_writer_put(st_writer *w, size_t index, const void *data, size_t nbytes, char *err);
int st_writer_finish(st_writer *w, char *err);
/* begin + finish, for writers whose data was all given to st_writer_add. */
int st_writer_write(st_writer *w, const char *path, char *err);
uint64_t st_writer_total_bytes(const st_writer *w); /* file size once begun */

#ifdef __cplusplus
}
#endif
#endif

/* test_pack.c - the packed weight layout on the host:
 *   - pack -> unpack round trips are bit-exact (every nibble value at every position of
 *     whole tiles; quantized random tensors of odd shapes);
 *   - the packed bytes agree with an independent statement of the wgmma fragment map
 *     (HOPPER-NOTES.md section 1, packed_layout.h's comment), written here from the docs
 *     rather than through w4a16_pack_locate;
 *   - the packed size, the header fields, and refusal of a corrupt header. */
#include "check.h"
#include "ref.h"
#include "w4a16.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int get_nibble(const uint8_t *q, int64_t k, int64_t row, int64_t col)
{
    return (q[row * (k / 2) + col / 2] >> (4 * (col & 1))) & 0xf;
}

static void set_nibble(uint8_t *q, int64_t k, int64_t row, int64_t col, int v)
{
    uint8_t *b = &q[row * (k / 2) + col / 2];
    const int sh = 4 * (int)(col & 1);
    *b = (uint8_t)((*b & ~(0xf << sh)) | ((v & 0xf) << sh));
}

/* pack_host then unpack_host; checks both succeed and q comes back bit for bit. */
static void round_trip(const char *what, const uint8_t *q, int64_t n, int64_t k)
{
    size_t pbytes = 0, qbytes = 0;
    CHECK(w4a16_packed_size(n, k, &pbytes) == W4A16_SUCCESS, "%s: packed_size", what);
    CHECK(w4a16_q_size(n, k, &qbytes) == W4A16_SUCCESS, "%s: q_size", what);
    CHECK(qbytes == (size_t)(n * k / 2), "%s: q_size %zu", what, qbytes);
    uint8_t *packed = malloc(pbytes);
    uint8_t *back = malloc(qbytes);
    if (!packed || !back) abort();
    memset(back, 0x5a, qbytes);
    CHECK(w4a16_pack_host(q, n, k, packed, pbytes) == W4A16_SUCCESS, "%s: pack: %s", what, w4a16_last_error());
    CHECK(w4a16_unpack_host(packed, pbytes, n, k, back, qbytes) == W4A16_SUCCESS, "%s: unpack: %s", what,
          w4a16_last_error());
    int64_t first_bad = -1;
    for (size_t i = 0; i < qbytes && first_bad < 0; i++)
        if (q[i] != back[i]) first_bad = (int64_t)i;
    CHECK(first_bad < 0, "%s [%lld x %lld]: round trip differs first at q byte %lld (row %lld)", what,
          (long long)n, (long long)k, (long long)first_bad, (long long)(first_bad / (k / 2)));
    free(packed);
    free(back);
}

/* Every nibble value 0..15 at every position of 2x3 whole 64x64 tiles (and neighbours that differ). */
static void test_every_nibble_everywhere(void)
{
    const int64_t n = 128, k = 192;
    uint8_t *q = malloc((size_t)(n * k / 2));
    if (!q) abort();
    for (int v = 0; v < 16; v++) {
        for (int64_t r = 0; r < n; r++)
            for (int64_t c = 0; c < k; c++) set_nibble(q, k, r, c, (int)((v + 3 * r + 5 * c) & 15));
        char what[64];
        snprintf(what, sizeof what, "nibble pattern %d", v);
        round_trip(what, q, n, k);
    }
    /* A single nonzero nibble walking over one tile: catches a position mapped twice. */
    for (int64_t pos = 0; pos < 64 * 64; pos += 7) {
        memset(q, 0, (size_t)(n * k / 2));
        set_nibble(q, k, pos / 64, pos % 64, 15);
        round_trip("single nibble", q, n, k);
    }
    free(q);
}

/* Quantize random weights, then round trip the q tensor (odd shapes: N, K not multiples of 64). */
static void test_random_odd_shapes(void)
{
    static const struct { int64_t n, k, g; w4a16_zero_mode z; } cases[] = {
        {72, 200, 200, W4A16_ZEROS_NONE}, {136, 384, 128, W4A16_ZEROS_INT}, {136, 384, 64, W4A16_ZEROS_FLOAT},
        {8, 8, 8, W4A16_ZEROS_NONE},      {264, 72, 72, W4A16_ZEROS_INT},   {64, 64, 64, W4A16_ZEROS_NONE},
    };
    ref_rng rng = {0x9e3779b97f4a7c15ULL};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t n = cases[c].n, k = cases[c].k, g = cases[c].g;
        float *w = malloc(sizeof(float) * (size_t)(n * k));
        uint8_t *q = malloc((size_t)(n * k / 2));
        uint16_t *s = malloc(2 * (size_t)(n * (k / g)));
        uint16_t *z = malloc(2 * (size_t)(n * (k / g)));
        if (!w || !q || !s || !z) abort();
        ref_fill_uniform(&rng, W4A16_DTYPE_FP32, w, n * k, -1.0f, 1.0f);
        CHECK(w4a16_quantize_host(W4A16_DTYPE_FP32, w, n, k, g, cases[c].z, W4A16_DTYPE_FP16, q, s,
                                  cases[c].z == W4A16_ZEROS_NONE ? NULL : z) == W4A16_SUCCESS,
              "quantize %lldx%lld: %s", (long long)n, (long long)k, w4a16_last_error());
        round_trip("random quantized", q, n, k);
        /* and raw random bytes (every byte value possible) */
        for (int64_t i = 0; i < n * k / 2; i++) q[i] = (uint8_t)ref_rand_u64(&rng);
        round_trip("random bytes", q, n, k);
        free(w);
        free(q);
        free(s);
        free(z);
    }
}

/* The layout as the docs state it, as a forward map: tile (nt, kt) of 64x64 at
 * (nt * ceil(K/64) + kt) * 2048 after a 256-byte header; thread t = 0..127 owns 16 bytes at
 * 16 t; word j (bytes 4j..4j+3, little-endian) holds k16 step j; slot s = 0..7 of that word is
 * the wgmma A fragment element a_s of thread t:
 *     w = t/32, g = (t%32)/4, c = t%4
 *     row = 16 w + g + 8 ((s>>1)&1),   k = 16 j + 2 c + (s&1) + 8 (s>>2)
 * and the word's nibbles n0..n7 hold a0 a2 a4 a6 a1 a3 a5 a7. Padding nibbles are 8. */
static const int nibble_holds_slot[8] = {0, 2, 4, 6, 1, 3, 5, 7};

static void test_fragment_map(void)
{
    const int64_t n = 72, k = 200, tiles_n = 2, tiles_k = 4;
    uint8_t *q = malloc((size_t)(n * k / 2));
    size_t pbytes = 0;
    CHECK(w4a16_packed_size(n, k, &pbytes) == W4A16_SUCCESS, "packed_size");
    CHECK(pbytes == 256 + (size_t)(tiles_n * tiles_k) * 2048, "packed size %zu", pbytes);
    uint8_t *packed = malloc(pbytes);
    if (!q || !packed) abort();
    ref_rng rng = {12345};
    for (int64_t i = 0; i < n * k / 2; i++) q[i] = (uint8_t)ref_rand_u64(&rng);
    CHECK(w4a16_pack_host(q, n, k, packed, pbytes) == W4A16_SUCCESS, "pack: %s", w4a16_last_error());
    /* Count how often each (row, k) of the padded matrix is visited: the map must be a bijection. */
    static uint8_t seen[128][256];
    memset(seen, 0, sizeof seen);
    int64_t bad = 0;
    for (int64_t nt = 0; nt < tiles_n; nt++) {
        for (int64_t kt = 0; kt < tiles_k; kt++) {
            const uint8_t *tile = packed + 256 + (nt * tiles_k + kt) * 2048;
            for (int t = 0; t < 128; t++) {
                const int w = t / 32, g = (t % 32) / 4, c = t % 4;
                for (int j = 0; j < 4; j++) {
                    const uint8_t *b = tile + 16 * t + 4 * j;
                    const uint32_t word = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                          (uint32_t)b[3] << 24;
                    for (int nib = 0; nib < 8; nib++) {
                        const int s = nibble_holds_slot[nib];
                        const int64_t row = nt * 64 + 16 * w + g + 8 * ((s >> 1) & 1);
                        const int64_t col = kt * 64 + 16 * j + 2 * c + (s & 1) + 8 * (s >> 2);
                        const int got = (int)(word >> (4 * nib)) & 0xf;
                        const int want = (row < n && col < k) ? get_nibble(q, k, row, col) : 8;
                        seen[row][col]++;
                        if (got != want && bad++ < 5)
                            fprintf(stderr, "  tile (%lld,%lld) t=%d j=%d slot %d -> (n=%lld, k=%lld): nibble %d, want %d\n",
                                    (long long)nt, (long long)kt, t, j, s, (long long)row, (long long)col, got, want);
                    }
                }
            }
        }
    }
    CHECK(bad == 0, "%lld packed nibbles disagree with the documented fragment map", (long long)bad);
    int64_t not_once = 0;
    for (int r = 0; r < 128; r++)
        for (int c = 0; c < 256; c++) not_once += seen[r][c] != 1;
    CHECK(not_once == 0, "%lld positions of the padded 128x256 matrix are not visited exactly once",
          (long long)not_once);
    free(q);
    free(packed);
}

/* HOPPER-NOTES.md section 1, observed on the H100: the (row, k) of a0..a7 of threads 0 and 45.
 * Pack a q tensor whose nibble encodes its position and read those threads' first words back. */
static void test_fragment_map_observed(void)
{
    static const int want[2][8][2] = {
        {{0, 0}, {0, 1}, {8, 0}, {8, 1}, {0, 8}, {0, 9}, {8, 8}, {8, 9}},
        {{19, 2}, {19, 3}, {27, 2}, {27, 3}, {19, 10}, {19, 11}, {27, 10}, {27, 11}},
    };
    static const int threads[2] = {0, 45};
    const int64_t n = 64, k = 64;
    uint8_t q[64 * 32];
    uint8_t packed[256 + 2048];
    for (int i = 0; i < 2; i++) {
        for (int s = 0; s < 8; s++) {
            /* mark only slot s's position with 15, everything else 0 */
            memset(q, 0, sizeof q);
            set_nibble(q, k, want[i][s][0], want[i][s][1], 15);
            CHECK(w4a16_pack_host(q, n, k, packed, sizeof packed) == W4A16_SUCCESS, "pack");
            const uint8_t *b = packed + 256 + 16 * threads[i]; /* word j = 0 */
            const uint32_t word = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            uint32_t expect = 0;
            for (int nib = 0; nib < 8; nib++)
                if (nibble_holds_slot[nib] == s) expect |= 0xfu << (4 * nib);
            CHECK(word == expect, "thread %d slot %d at (%d,%d): word 0x%08x, want 0x%08x", threads[i], s,
                  want[i][s][0], want[i][s][1], word, expect);
        }
    }
}

static void test_sizes_and_header(void)
{
    static const struct { int64_t n, k; size_t bytes; } sizes[] = {
        {8, 8, 256 + 2048},           {64, 64, 256 + 2048},       {72, 200, 256 + 2 * 4 * 2048},
        {136, 384, 256 + 3 * 6 * 2048}, {128, 128, 256 + 4 * 2048}, {8192, 8192, 256 + 128 * 128 * 2048},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t got = 0, qb = 0;
        CHECK(w4a16_packed_size(sizes[i].n, sizes[i].k, &got) == W4A16_SUCCESS, "packed_size");
        CHECK(got == sizes[i].bytes, "packed_size(%lld, %lld) = %zu, want %zu", (long long)sizes[i].n,
              (long long)sizes[i].k, got, sizes[i].bytes);
        CHECK(w4a16_q_size(sizes[i].n, sizes[i].k, &qb) == W4A16_SUCCESS && qb == (size_t)(sizes[i].n * sizes[i].k / 2),
              "q_size(%lld, %lld) = %zu", (long long)sizes[i].n, (long long)sizes[i].k, qb);
    }

    /* Header: "W4A16PKD", version (u32 LE) at 8, reserved at 12, n and k (i64 LE) at 16 and 24,
     * zeros to byte 256. */
    const int64_t n = 136, k = 384;
    size_t pbytes = 0;
    w4a16_packed_size(n, k, &pbytes);
    uint8_t *packed = malloc(pbytes), *q = malloc((size_t)(n * k / 2)), *back = malloc((size_t)(n * k / 2));
    if (!packed || !q || !back) abort();
    for (int64_t i = 0; i < n * k / 2; i++) q[i] = (uint8_t)(i * 37 + 11);
    memset(packed, 0xcd, pbytes);
    CHECK(w4a16_pack_host(q, n, k, packed, pbytes) == W4A16_SUCCESS, "pack");
    CHECK(memcmp(packed, "W4A16PKD", 8) == 0, "magic");
    CHECK(packed[8] == W4A16_PACKED_LAYOUT_VERSION && packed[9] == 0 && packed[10] == 0 && packed[11] == 0,
          "version bytes %02x %02x %02x %02x", packed[8], packed[9], packed[10], packed[11]);
    CHECK(packed[16] == (136 & 0xff) && packed[17] == 0 && packed[24] == (384 & 0xff) && packed[25] == (384 >> 8),
          "n/k bytes");
    int nonzero_pad = 0;
    for (int i = 12; i < 16; i++) nonzero_pad += packed[i] != 0;
    for (int i = 32; i < 256; i++) nonzero_pad += packed[i] != 0;
    CHECK(nonzero_pad == 0, "%d nonzero bytes in the header's reserved space", nonzero_pad);
    CHECK(w4a16_unpack_host(packed, pbytes, n, k, back, (size_t)(n * k / 2)) == W4A16_SUCCESS, "unpack");

    /* A corrupt header is refused with BAD_PACKED_LAYOUT and a message. */
    static const struct { const char *what; int offset; uint8_t value; int64_t n, k; } bad[] = {
        {"magic byte 0", 0, 'X', 136, 384},
        {"magic byte 7", 7, 'd', 136, 384},
        {"version 2", 8, 2, 136, 384},
        {"version 0", 8, 0, 136, 384},
        {"version high byte", 11, 1, 136, 384},
        {"n in header", 16, 128, 136, 384},
        {"k in header", 24, 0, 136, 384},
        {"requested n smaller", -1, 0, 128, 384},
        {"requested k smaller", -1, 0, 136, 320},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *copy = malloc(pbytes);
        if (!copy) abort();
        memcpy(copy, packed, pbytes);
        if (bad[i].offset >= 0) copy[bad[i].offset] = bad[i].value;
        const w4a16_status st = w4a16_unpack_host(copy, pbytes, bad[i].n, bad[i].k, back, (size_t)(n * k / 2));
        CHECK(st == W4A16_ERROR_BAD_PACKED_LAYOUT, "%s: status %s", bad[i].what, w4a16_status_string(st));
        CHECK(w4a16_last_error()[0] != '\0', "%s: empty message", bad[i].what);
        free(copy);
    }
    free(packed);
    free(q);
    free(back);
}

int main(void)
{
    test_every_nibble_everywhere();
    test_random_odd_shapes();
    test_fragment_map();
    test_fragment_map_observed();
    test_sizes_and_header();
    return check_exit_code("test_pack");
}

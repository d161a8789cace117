/*
 * packed_layout.h - the prepacked int4 weight layout (version W4A16_PACKED_LAYOUT_VERSION),
 * shared by the host packer (C) and the device code (CUDA). Private to the library.
 *
 * The packed tensor is a 256-byte header followed by tiles of 64 weight rows (n) x 64 k.
 * Tile (nt, kt) starts at data + (nt * KT + kt) * 2048, KT = ceil(K / 64); rows past N and
 * k past K are padding (nibble 8). Inside a tile, the 128 threads of a consumer warpgroup each
 * own 16 contiguous bytes: thread t reads its wgmma A fragments for the tile's four k16 steps
 * with one 128-bit shared-memory load (conflict-free: a quarter warp covers 128 bytes).
 * Word j (k16 step j) of thread t holds the 8 values of the m64n?k16 A fragment
 * (HOPPER-NOTES.md section 1): with w = t/32, g = (t%32)/4, c = t%4, slot s = 0..7 is
 *     row = 16w + g + 8*((s>>1)&1),  k = 16j + 2c + (s&1) + 8*(s>>2)
 * and slot s sits in nibble (s>>1) + 4*(s&1), i.e. nibbles n0..n7 = a0 a2 a4 a6 a1 a3 a5 a7,
 * so the magic-number conversion, which yields pairs (n_i, n_{i+4}), gives the half2
 * registers (a0,a1) (a2,a3) (a4,a5) (a6,a7) directly.
 */
#ifndef W4A16_PACKED_LAYOUT_H
#define W4A16_PACKED_LAYOUT_H

#include <stdint.h>

#define W4A16_PACK_HEADER_BYTES 256
#define W4A16_PACK_TILE_N 64
#define W4A16_PACK_TILE_K 64
#define W4A16_PACK_TILE_BYTES 2048
#define W4A16_PACK_MAGIC "W4A16PKD"

#ifdef __CUDACC__
#define W4A16_HD __host__ __device__ __forceinline__
#else
#define W4A16_HD static inline
#endif

/* The header at the start of every packed tensor (little-endian, zero padded to 256 bytes). */
typedef struct w4a16_pack_header {
    char magic[8];     /* "W4A16PKD" */
    uint32_t version;  /* W4A16_PACKED_LAYOUT_VERSION */
    uint32_t reserved;
    int64_t n, k;
} w4a16_pack_header;

W4A16_HD int64_t w4a16_pack_tiles_k(int64_t k) { return (k + W4A16_PACK_TILE_K - 1) / W4A16_PACK_TILE_K; }
W4A16_HD int64_t w4a16_pack_tiles_n(int64_t n) { return (n + W4A16_PACK_TILE_N - 1) / W4A16_PACK_TILE_N; }

/* Location of weight (n, k) in the packed data (after the header): byte offset and bit shift. */
W4A16_HD void w4a16_pack_locate(int64_t n, int64_t k, int64_t tiles_k, int64_t *byte, int *shift)
{
    const int r = (int)(n % 64), kk = (int)(k % 64);
    const int j = kk / 16, kin = kk % 16;
    const int w = r / 16, g = r % 8, row_hi = (r % 16) / 8;
    const int c = (kin % 8) / 2, k_lo = kin % 2, k_hi = kin / 8;
    const int slot = k_lo + 2 * row_hi + 4 * k_hi;
    const int nibble = (slot >> 1) + 4 * (slot & 1);
    const int t = 32 * w + 4 * g + c;
    const int64_t tile = (n / 64) * tiles_k + k / 64;
    *byte = tile * W4A16_PACK_TILE_BYTES + 16 * t + 4 * j + nibble / 2;
    *shift = 4 * (nibble % 2);
}

#endif

/*
 * fragment_dequant.cuh - packed int4 words -> dequantized A-fragment registers, shared by the
 * Hopper kernel (wgmma m64nNk16: a warp's 16 rows of the warpgroup's 64) and the decode kernel
 * (gemv.cu: mma.sync m16n8k16, whose A fragment has the same per-warp register map).
 */
#pragma once

#include <type_traits>

#include "common.cuh"

namespace sm90 {

/* fp16/bf16 specifics of the magic-number conversion (HOPPER-NOTES section 8): OR a nibble into
 * the mantissa of MAGIC (1024 in fp16, 128 in bf16; one mantissa LSB = 1) and subtract. */
template <typename T> struct Dq;
template <> struct Dq<__half> {
    using T2 = __half2;
    static constexpr uint32_t MAGIC = 0x64006400u;
};
template <> struct Dq<__nv_bfloat16> {
    using T2 = __nv_bfloat162;
    static constexpr uint32_t MAGIC = 0x43004300u;
};

template <typename T2> __device__ __forceinline__ T2 u32_as(uint32_t u) { return *reinterpret_cast<T2 *>(&u); }
template <typename T2> __device__ __forceinline__ uint32_t as_u32(T2 v) { return *reinterpret_cast<uint32_t *>(&v); }

/* Per-thread dequantization constants for one group: for weight rows r0 (index 0) and r0 + 8.
 * chi is fp16's high-nibble constant (see dequant_word). */
template <typename T> struct GroupConsts {
    typename Dq<T>::T2 c[2], chi[2], s[2], zf[2];
};

/* Row h's constants (0: r0, 1: r0 + 8) from its scale sv, integer zero z (8 without) and float
 * zero zf; valid = false (a row past N, or a block nothing was loaded for) gives s = zf = 0, so
 * its weights dequantize to exactly 0 whatever nibbles are there. */
template <typename T>
__device__ __forceinline__ void set_row_consts(GroupConsts<T> &gc, int h, T sv, int z, T zf, bool valid)
{
    using T2 = typename Dq<T>::T2;
    /* MAGIC + z in both halves (1024 + z in fp16, 128 + z in bf16; z <= 15 carries nowhere): one
     * IMAD with the MAGIC register the conversion holds anyway, where a byte PRMT and an OR took two.
     * fp16 only: -(64 + z) in both halves, whose bits are 0xD400 + 16 z (sign, exponent 6, mantissa
     * z / 64): integer arithmetic instead of a PRMT, an OR and an HADD2 (960 - (1024 + z)). SASS,
     * t8_w3_k256 fp16 with integer zeros: a group's constants 17 -> 14 instructions. H100,
     * w4a16-bench A/B, integer zeros, three rounds (session 24): 0.998x the time over 24 rows
     * (57344x8192 fp16 M=1 / 4 0.992 / 0.994, bf16 M=16 0.986; fp16 M=16 1.006, bf16 M=1 / 4 1.004). */
    gc.c[h] = u32_as<T2>((uint32_t)z * 0x00010001u + Dq<T>::MAGIC);
    gc.chi[h] = u32_as<T2>((uint32_t)z * 0x00100010u + 0xD400D400u);
    gc.s[h] = valid ? T2(sv, sv) : u32_as<T2>(0u);
    gc.zf[h] = valid ? T2(zf, zf) : u32_as<T2>(0u);
}

/* (a & b) | c in one LOP3 (the compiler's own and/or pair takes two: SASS LOP3 has room for
 * one immediate, and both masks are immediates). */
template <uint32_t MASK> __device__ __forceinline__ uint32_t and_or(uint32_t a, uint32_t c)
{
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(d) : "r"(a), "n"(MASK), "r"(c));
    return d;
}

/* Eight weights (one packed word) -> the four A-fragment registers of one k16 step. Register i
 * takes nibbles i and i + 4; registers 0 and 2 hold row r0, 1 and 3 row r0 + 8.
 * Low nibbles: x = MAGIC | n = MAGIC + n, h = x - (MAGIC + z), w = h * s + zf.
 * fp16 high nibbles (bits 4-7 of each half) are not shifted down: x = 1024 + 16 n, and
 * h = x * (1/16) - (64 + z) is exact (x / 16 = 64 + n), one shift per word instead of three.
 * bf16 has too few mantissa bits for that (128 + 16 n overflows the exponent): it shifts.
 * Every step is exact but the last rounding (the bit-exact GPU test checks it). In the decode
 * loop, which is issue-bound (ncu: 2.4 IPC at M=16, 8192^2), this took a word from 19 to 13
 * instructions (fp16). */
template <typename T, bool GS = false>
__device__ __forceinline__ void dequant_word(uint32_t q, const GroupConsts<T> &gc, uint32_t (&a)[4])
{
    using T2 = typename Dq<T>::T2;
    const uint32_t magic = Dq<T>::MAGIC, q8 = q >> 8;
    uint32_t x[4];
    if constexpr (std::is_same<T, __half>::value) {
        x[0] = and_or<0x000F000Fu>(q, magic);
        x[1] = and_or<0x00F000F0u>(q, magic);
        x[2] = and_or<0x000F000Fu>(q8, magic);
        x[3] = and_or<0x00F000F0u>(q8, magic);
    } else {
        x[0] = and_or<0x000F000Fu>(q, magic);
        x[1] = and_or<0x000F000Fu>(q >> 4, magic);
        x[2] = and_or<0x000F000Fu>(q8, magic);
        x[3] = and_or<0x000F000Fu>(q >> 12, magic);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        T2 h;
        if constexpr (std::is_same<T, __half>::value)
            h = (i & 1) ? __hfma2(u32_as<T2>(x[i]), u32_as<T2>(0x2C002C00u) /* 1/16 */, gc.chi[1])
                        : __hsub2(u32_as<T2>(x[i]), gc.c[0]);
        else
            h = __hsub2(u32_as<T2>(x[i]), gc.c[i & 1]);
        /* GS: the integer q - z goes to the tensor cores as it is (exact), the group's scale is
         * applied to the fp32 sums afterwards (fold_group) */
        a[i] = GS ? as_u32<T2>(h) : as_u32<T2>(__hfma2(h, gc.s[i & 1], gc.zf[i & 1]));
    }
}

} // namespace sm90

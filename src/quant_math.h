/*
 * quant_math.h - the scalar quantization formulas, shared by the host (C) and the GPU
 * (CUDA) so that both produce the same bytes. All arithmetic is fp32 with explicit fmaf and
 * rintf (round half to even), so no compiler contraction can make the two sides differ.
 */
#ifndef W4A16_QUANT_MATH_H
#define W4A16_QUANT_MATH_H

#include <math.h>

#include "packed_layout.h" /* W4A16_HD */

/* Scale of a group with minimum lo and maximum hi, before rounding to the scale dtype.
 * NOTE: the integer-zero mode widens the range to include 0 (GPTQ's and AWQ's convention):
 * its zero point must lie in 0..15, so a group that is all positive or all negative would
 * otherwise clamp z and lose most of its values (a group in [-1, -0.5] dequantized to -0.5). */
W4A16_HD float w4a16_raw_scale(int zero_mode, float lo, float hi)
{
    float s;
    if (zero_mode == 0) /* W4A16_ZEROS_NONE */
        s = fmaxf(fabsf(lo), fabsf(hi)) / 7.0f;
    else if (zero_mode == 1) /* W4A16_ZEROS_INT */
        s = (fmaxf(hi, 0.0f) - fminf(lo, 0.0f)) / 15.0f;
    else
        s = (hi - lo) / 15.0f;
    return s == 0.0f ? 1.0f : s;
}

W4A16_HD int w4a16_clamp15(float v) { return v < 0.0f ? 0 : v > 15.0f ? 15 : (int)v; }

/* Integer zero point for the (rounded) scale s and the group minimum lo (range widened to 0). */
W4A16_HD int w4a16_int_zero(float s, float lo) { return w4a16_clamp15(rintf(-fminf(lo, 0.0f) / s)); }

/* Float zero offset for the (rounded) scale s, before rounding to the scale dtype. */
W4A16_HD float w4a16_float_zero(float s, float lo) { return fmaf(8.0f, s, lo); }

/* Nibble of x given the group's rounded scale s, integer zero z and float offset zf. */
W4A16_HD int w4a16_quantize_value(int zero_mode, float s, int z, float zf, float x)
{
    if (zero_mode == 1) return w4a16_clamp15(rintf(x / s) + (float)z); /* INT */
    if (zero_mode == 2) return w4a16_clamp15(rintf((x - zf) / s) + 8.0f); /* FLOAT */
    return w4a16_clamp15(rintf(x / s) + 8.0f); /* NONE */
}

/* Dequantized value in fp32 (z = 8 and zf = 0 in the symmetric mode). */
W4A16_HD float w4a16_dequant_value(int zero_mode, int v, int z, float s, float zf)
{
    if (zero_mode == 2) return fmaf((float)(v - 8), s, zf);
    return (float)(v - z) * s;
}

#endif

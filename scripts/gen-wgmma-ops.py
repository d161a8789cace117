#!/usr/bin/env python3
"""Writes src/kernels/wgmma_ops.cuh: the RS wgmma inline-asm wrappers for each token-tile N.
Run by hand when a new N is needed (not part of the build); the output is committed."""
NS = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256]
out = ['/* wgmma_ops.cuh - wgmma.mma_async m64nNk16 RS wrappers (PTX ISA 9.7.15.5.2), one per N.',
       ' * Written by scripts/gen-wgmma-ops.py; A (weights) from registers, B (activations) from a',
       ' * shared-memory descriptor, f32 accumulators. Operands: d, {a0..a3}, descB, scale-d,',
       ' * imm-scale-a = 1, imm-scale-b = 1, imm-trans-b = 0 (B is K-major). */',
       '#pragma once', '#include <stdint.h>', '',
       'template <int N, bool BF16> struct wgmma_rs;', '']
for n in NS:
    r = n // 2
    for bf in (False, True):
        t = 'bf16' if bf else 'f16'
        regs = ', '.join('%%%d' % i for i in range(r))
        a = ', '.join('%%%d' % (r + i) for i in range(4))
        lines = []
        lines.append('template <> struct wgmma_rs<%d, %s> {' % (n, 'true' if bf else 'false'))
        lines.append('    static __device__ __forceinline__ void mma(float (&d)[%d], const uint32_t (&a)[4], uint64_t desc, int scale_d)' % r)
        lines.append('    {')
        lines.append('        asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %%%d, 0;\\n"' % (r + 5))
        lines.append('                     "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s "' % (n, t, t))
        # split the register list in chunks for readability
        lines.append('                     "{%s}, "' % regs)
        lines.append('                     "{%s}, %%%d, p, 1, 1, 0;\\n}\\n"' % (a, r + 4))
        outs = ', '.join('"+f"(d[%d])' % i for i in range(r))
        lines.append('                     : %s' % outs)
        lines.append('                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d));')
        lines.append('    }')
        lines.append('};')
        out += lines
open('src/kernels/wgmma_ops.cuh', 'w').write('\n'.join(out) + '\n')

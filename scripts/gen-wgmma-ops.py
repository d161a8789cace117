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

# dev/wgmma_ss_ops.cuh: SS wrappers (A and B both from shared-memory descriptors) for the dev
# microbenchmark dev/wgmma_power.cu, which compares their energy with the RS form's.
NS_SS = [128, 256]
out = ['/* wgmma_ss_ops.cuh - wgmma.mma_async m64nNk16 SS wrappers (A and B from shared-memory',
       ' * descriptors, both K-major), f32 sums. Written by scripts/gen-wgmma-ops.py. Operands: d,',
       ' * descA, descB, scale-d, imm-scale-a = 1, imm-scale-b = 1, imm-trans-a = 0, imm-trans-b = 0. */',
       '#pragma once', '#include <stdint.h>', '',
       'template <int N, bool BF16> struct wgmma_ss;', '']
for n in NS_SS:
    r = n // 2
    for bf in (False, True):
        t = 'bf16' if bf else 'f16'
        regs = ', '.join('%%%d' % i for i in range(r))
        out.append('template <> struct wgmma_ss<%d, %s> {' % (n, 'true' if bf else 'false'))
        out.append('    static __device__ __forceinline__ void mma(float (&d)[%d], uint64_t da, uint64_t db, int scale_d)' % r)
        out.append('    {')
        out.append('        asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %%%d, 0;\\n"' % (r + 2))
        out.append('                     "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s "' % (n, t, t))
        out.append('                     "{%s}, "' % regs)
        out.append('                     "%%%d, %%%d, p, 1, 1, 0, 0;\\n}\\n"' % (r, r + 1))
        out.append('                     : %s' % ', '.join('"+f"(d[%d])' % i for i in range(r)))
        out.append('                     : "l"(da), "l"(db), "r"(scale_d));')
        out.append('    }')
        out.append('};')
# and RS with fp16 sums (m64n256k16.f16.f16.f16: 64 registers of two halves each), for the same
# microbenchmark's question whether fp16 accumulators cost less energy per MAC
out += ['', 'struct wgmma_rs_f16acc256 {',
        '    static __device__ __forceinline__ void mma(uint32_t (&d)[64], const uint32_t (&a)[4], uint64_t desc, int scale_d)',
        '    {',
        '        asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %69, 0;\\n"',
        '                     "wgmma.mma_async.sync.aligned.m64n256k16.f16.f16.f16 "',
        '                     "{%s}, "' % ', '.join('%%%d' % i for i in range(64)),
        '                     "{%64, %65, %66, %67}, %68, p, 1, 1, 0;\\n}\\n"',
        '                     : %s' % ', '.join('"+r"(d[%d])' % i for i in range(64)),
        '                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d));',
        '    }', '};']
open('dev/wgmma_ss_ops.cuh', 'w').write('\n'.join(out) + '\n')

#!/usr/bin/env python3
"""Writes src/kernels/wgmma_ops.cuh: the RS wgmma inline-asm wrappers for each token-tile N; and
dev/wgmma_ss_ops.cuh: SS and fp16-sum wrappers for the dev microbenchmark dev/wgmma_power.cu.
Run by hand when a new N is needed (not part of the build); the output is committed."""


def wrapper(head, sig, ptx, nacc, acc_type, operands, inputs, scale_reg):
    """One struct with a static mma(): `nacc` accumulators, then the operand text of the PTX
    instruction; `inputs` the asm input constraints; `scale_reg` the asm operand of scale-d."""
    regs = ', '.join('%%%d' % i for i in range(nacc))
    return [head,
            '    static __device__ __forceinline__ void mma(%s)' % sig,
            '    {',
            '        asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %%%d, 0;\\n"' % scale_reg,
            '                     "%s "' % ptx,
            '                     "{%s}, "' % regs,
            '                     "%s;\\n}\\n"' % operands,
            '                     : %s' % ', '.join('"+%s"(d[%d])' % (acc_type, i) for i in range(nacc)),
            '                     : %s);' % inputs,
            '    }',
            '};']


def dtype(bf):
    return 'bf16' if bf else 'f16'


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
        a = ', '.join('%%%d' % (r + i) for i in range(4))
        out += wrapper('template <> struct wgmma_rs<%d, %s> {' % (n, 'true' if bf else 'false'),
                       'float (&d)[%d], const uint32_t (&a)[4], uint64_t desc, int scale_d' % r,
                       'wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s' % (n, dtype(bf), dtype(bf)), r, 'f',
                       '{%s}, %%%d, p, 1, 1, 0' % (a, r + 4),
                       '"r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d)', r + 5)
open('src/kernels/wgmma_ops.cuh', 'w').write('\n'.join(out) + '\n')

# dev/wgmma_ss_ops.cuh: SS wrappers (A and B both from shared-memory descriptors), and RS with fp16
# sums, for dev/wgmma_power.cu, which compares their energy with the RS form's.
out = ['/* wgmma_ss_ops.cuh - wgmma.mma_async m64nNk16 SS wrappers (A and B from shared-memory',
       ' * descriptors, both K-major), f32 sums. Written by scripts/gen-wgmma-ops.py. Operands: d,',
       ' * descA, descB, scale-d, imm-scale-a = 1, imm-scale-b = 1, imm-trans-a = 0, imm-trans-b = 0. */',
       '#pragma once', '#include <stdint.h>', '',
       'template <int N, bool BF16> struct wgmma_ss;', '']
for n in [128, 256]:
    r = n // 2
    for bf in (False, True):
        out += wrapper('template <> struct wgmma_ss<%d, %s> {' % (n, 'true' if bf else 'false'),
                       'float (&d)[%d], uint64_t da, uint64_t db, int scale_d' % r,
                       'wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s' % (n, dtype(bf), dtype(bf)), r, 'f',
                       '%%%d, %%%d, p, 1, 1, 0, 0' % (r, r + 1), '"l"(da), "l"(db), "r"(scale_d)', r + 2)
# RS with fp16 sums (m64n256k16.f16.f16.f16: 64 registers of two halves each), for the question
# whether fp16 accumulators cost less energy per MAC
out += [''] + wrapper('struct wgmma_rs_f16acc256 {',
                      'uint32_t (&d)[64], const uint32_t (&a)[4], uint64_t desc, int scale_d',
                      'wgmma.mma_async.sync.aligned.m64n256k16.f16.f16.f16', 64, 'r',
                      '{%64, %65, %66, %67}, %68, p, 1, 1, 0',
                      '"r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d)', 69)
open('dev/wgmma_ss_ops.cuh', 'w').write('\n'.join(out) + '\n')

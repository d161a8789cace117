/* common.cuh - small device helpers shared by every kernel: dtype traits, error plumbing. */
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>

#include "../internal.h"
#include "../packed_layout.h"
#include "../quant_math.h"

template <typename T> struct dtype_traits;
template <> struct dtype_traits<__half> {
    static __device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
    static __device__ __forceinline__ __half from_float(float f) { return __float2half_rn(f); }
};
template <> struct dtype_traits<__nv_bfloat16> {
    static __device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
    static __device__ __forceinline__ __nv_bfloat16 from_float(float f) { return __float2bfloat16_rn(f); }
};

template <typename T> __device__ __forceinline__ float to_f32(T x) { return dtype_traits<T>::to_float(x); }
template <typename T> __device__ __forceinline__ T from_f32(float f) { return dtype_traits<T>::from_float(f); }

/* fp32 -> dtype -> fp32, the rounding every dequantized weight goes through. */
template <typename T> __device__ __forceinline__ float round_through(float f) { return to_f32<T>(from_f32<T>(f)); }

/* Reads element i of an array of runtime dtype t (FP16, BF16 or FP32) as float. */
__device__ __forceinline__ float load_any(w4a16_dtype t, const void *p, int64_t i)
{
    if (t == W4A16_DTYPE_FP16) return __half2float(((const __half *)p)[i]);
    if (t == W4A16_DTYPE_BF16) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    return ((const float *)p)[i];
}

__device__ __forceinline__ void store_any(w4a16_dtype t, void *p, int64_t i, float f)
{
    if (t == W4A16_DTYPE_FP16) ((__half *)p)[i] = __float2half_rn(f);
    else if (t == W4A16_DTYPE_BF16) ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(f);
    else ((float *)p)[i] = f;
}

/* w4a16_problem::pdl = 1: the launch attribute that lets the kernel start while the stream's
 * preceding kernel finishes (the kernel then waits for it in grid_dep_wait, ptx.cuh). Returns
 * the number of attributes written (1). */
static inline unsigned pdl_attribute(cudaLaunchAttribute *a)
{
    a->id = cudaLaunchAttributeProgrammaticStreamSerialization;
    a->val.programmaticStreamSerializationAllowed = 1;
    return 1;
}

/* Launch result: the launch error if any (never synchronizes). */
static inline int launch_status(void) { return (int)cudaGetLastError(); }

/* A debug switch NAME=0|1 read once per call site's static: 0 or 1, or -1 when unset or
 * anything else. */
inline int env_switch(const char *name)
{
    const char *e = getenv(name);
    return e && (e[0] == '0' || e[0] == '1') && !e[1] ? e[0] - '0' : -1;
}

/* A debug switch NAME=n: the integer n (atoi), 0 when unset; callers check the range. */
inline int env_int(const char *name)
{
    const char *e = getenv(name);
    return e ? atoi(e) : 0;
}

/* Debug switch W4A16_SM90_MODEL=0: the time models off (the Hopper tiles', sm90_launch.cuh, and
 * the decode kernel's, gemv.cu): the wave rule (plan_rule) and configs.c's token rule instead
 * (the A/B of the commit that brought the model). */
inline bool model_env()
{
    static const bool v = env_switch("W4A16_SM90_MODEL") != 0;
    return v;
}

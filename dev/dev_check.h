/* dev_check.h - the developer tools' checked calls: CK for CUDA runtime calls, CW for library
 * calls; either prints where and what failed and exits 1. */
#pragma once

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#include "w4a16.h"

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)
#define CW(x)                                                                                     \
    do {                                                                                          \
        w4a16_status s_ = (x);                                                                    \
        if (s_ != W4A16_SUCCESS) {                                                                \
            fprintf(stderr, "%s:%d %s: %s: %s\n", __FILE__, __LINE__, #x, w4a16_status_string(s_), \
                    w4a16_last_error());                                                          \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

/* status.c - status names and the per-thread last-error message. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[512];

w4a16_status w4a16_fail(w4a16_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return status;
}

w4a16_status w4a16_ok(void)
{
    last_message[0] = '\0';
    return W4A16_SUCCESS;
}

const char *w4a16_last_error(void) { return last_message; }

int w4a16_version(void)
{
    return W4A16_VERSION_MAJOR * 10000 + W4A16_VERSION_MINOR * 100 + W4A16_VERSION_PATCH;
}

const char *w4a16_status_string(w4a16_status status)
{
    switch (status) {
    case W4A16_SUCCESS: return "W4A16_SUCCESS";
    case W4A16_ERROR_NULL_POINTER: return "W4A16_ERROR_NULL_POINTER";
    case W4A16_ERROR_INVALID_VALUE: return "W4A16_ERROR_INVALID_VALUE";
    case W4A16_ERROR_INVALID_SHAPE: return "W4A16_ERROR_INVALID_SHAPE";
    case W4A16_ERROR_MISALIGNED: return "W4A16_ERROR_MISALIGNED";
    case W4A16_ERROR_WORKSPACE_TOO_SMALL: return "W4A16_ERROR_WORKSPACE_TOO_SMALL";
    case W4A16_ERROR_BUFFER_TOO_SMALL: return "W4A16_ERROR_BUFFER_TOO_SMALL";
    case W4A16_ERROR_BAD_PACKED_LAYOUT: return "W4A16_ERROR_BAD_PACKED_LAYOUT";
    case W4A16_ERROR_UNSUPPORTED_DEVICE: return "W4A16_ERROR_UNSUPPORTED_DEVICE";
    case W4A16_ERROR_NO_DEVICE: return "W4A16_ERROR_NO_DEVICE";
    case W4A16_ERROR_CUDA: return "W4A16_ERROR_CUDA";
    case W4A16_ERROR_OUT_OF_MEMORY: return "W4A16_ERROR_OUT_OF_MEMORY";
    case W4A16_ERROR_IO: return "W4A16_ERROR_IO";
    }
    return "unknown status";
}

/* tool_util.c - small helpers shared by the checkpoint tools' C files. */
#include "tool_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tool_seterr(char *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, TOOL_ERR_LEN, fmt, ap);
    va_end(ap);
}

char *tool_strdup(const char *s)
{
    const size_t n = strlen(s) + 1;
    char *d = (char *)malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* tool_util.h - small helpers shared by the checkpoint tools' C files. */
#ifndef W4A16_TOOL_UTIL_H
#define W4A16_TOOL_UTIL_H

#include <stddef.h>

#define TOOL_ERR_LEN 512 /* every tools error buffer (ST_ERR_LEN, CV_ERR_LEN) has this size */

/* Formats a message into err (TOOL_ERR_LEN bytes); err may be NULL. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void tool_seterr(char *err, const char *fmt, ...);

/* malloc'd copy of s, or NULL when out of memory. */
char *tool_strdup(const char *s);

#endif

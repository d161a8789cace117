/* check.h - the tiny harness of the C test programs: CHECK counts a failure and says where,
 * the program continues (so one run shows every failure) and returns check_exit_code(). */
#ifndef W4A16_TEST_CHECK_H
#define W4A16_TEST_CHECK_H

#include <stdio.h>

static int check_failures;

/* CHECK(condition, printf-format, ...): the format is required (C11 has no empty __VA_ARGS__). */
#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            check_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);             \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
        }                                                                                        \
    } while (0)

/* Prints the verdict line ctest logs show and returns the process exit code. */
static inline int check_exit_code(const char *test)
{
    if (check_failures) {
        fprintf(stderr, "%s: FAILED (%d check%s)\n", test, check_failures, check_failures == 1 ? "" : "s");
        return 1;
    }
    printf("%s: PASSED\n", test);
    return 0;
}

#endif

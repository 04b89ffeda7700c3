/* test.h - the tiny harness of the C unit tests: each CHECK prints "PASS name" or "FAIL name: why",
 * which tests/run.sh counts. test_exit() returns non-zero when anything failed. */
#ifndef QWEN3_TEST_H
#define QWEN3_TEST_H
#include <stdio.h>

static int test_failures_;

#define CHECK(cond, name, ...)                                                   \
    do {                                                                         \
        if (cond) {                                                              \
            printf("PASS %s\n", name);                                           \
        } else {                                                                 \
            test_failures_++;                                                    \
            printf("FAIL %s: ", name);                                           \
            printf(__VA_ARGS__);                                                 \
            printf(" (%s:%d)\n", __FILE__, __LINE__);                            \
        }                                                                        \
    } while (0)

static inline int test_exit(void) { return test_failures_ ? 1 : 0; }
#endif

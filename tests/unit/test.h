/* test.h - the tiny harness of the C unit tests: each CHECK prints "PASS name" or "FAIL name: why",
 * which tests/run.sh counts. test_exit() returns non-zero when anything failed. A program first
 * states how many checks it will report (TEST_EXPECT, "EXPECT n"): the runner fails one that
 * reports fewer or more, so a loop cut short or an early return cannot pass. A check that cannot
 * run here (an instruction set the CPU lacks) prints "SKIP name: reason" (TEST_SKIP) and counts
 * toward the expected number, not as a pass. */
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

#define TEST_EXPECT(n) printf("EXPECT %d\n", (int)(n))

#define TEST_SKIP(name, ...)                                                     \
    do {                                                                         \
        printf("SKIP %s: ", name);                                               \
        printf(__VA_ARGS__);                                                     \
        printf("\n");                                                            \
    } while (0)

static inline int test_exit(void) { return test_failures_ ? 1 : 0; }
#endif

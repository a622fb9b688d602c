/*
 * test.h - the smallest test harness that does the job.
 *
 * A test binary defines test functions and lists them in main():
 *
 *     static void test_roundtrip(void) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-5); }
 *     int main(void) { RUN(test_roundtrip); return test_summary(); }
 *
 * Output is TAP-like, one line per test, which tests/run.py aggregates:
 *     ok - test_roundtrip
 *     not ok - test_other: tests/unit/test_x.c:42: CHECK(a == b)
 *     ok - test_third # SKIP ../shared/data is absent
 * A failed CHECK ends the current test (longjmp) so later checks do not
 * cascade; the binary's exit status is non-zero if any test failed.
 *
 * Paths: tests run from the repository root. TEST_SHARED is ../shared/data.
 */
#ifndef IRIS_TEST_H
#define IRIS_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TEST_SHARED "../shared/data"

static jmp_buf test_jmp_;
static int test_failed_n_, test_passed_n_, test_skipped_;
static char test_msg_[2048];

#define TEST_FAIL_(...)                                                        \
    do {                                                                       \
        snprintf(test_msg_, sizeof test_msg_, __VA_ARGS__);                    \
        longjmp(test_jmp_, 1);                                                 \
    } while (0)

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) TEST_FAIL_("%s:%d: CHECK(%s)", __FILE__, __LINE__, #c);      \
    } while (0)

#define CHECK_MSG(c, ...)                                                      \
    do {                                                                       \
        if (!(c)) {                                                            \
            char m_[1024];                                                     \
            snprintf(m_, sizeof m_, __VA_ARGS__);                              \
            TEST_FAIL_("%s:%d: CHECK(%s): %s", __FILE__, __LINE__, #c, m_);    \
        }                                                                      \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_)                                                          \
            TEST_FAIL_("%s:%d: %s == %s (%lld != %lld)", __FILE__, __LINE__,   \
                       #a, #b, a_, b_);                                        \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                  \
    do {                                                                       \
        double a_ = (double)(a), b_ = (double)(b);                             \
        if (!(fabs(a_ - b_) <= (tol)))                                         \
            TEST_FAIL_("%s:%d: |%s - %s| = %g > %g (%g vs %g)", __FILE__,      \
                       __LINE__, #a, #b, fabs(a_ - b_), (double)(tol), a_, b_);\
    } while (0)

/* Checks a call fails with status and iris_errmsg() contains substr. */
#define CHECK_FAILS(call, status, substr)                                      \
    do {                                                                       \
        CHECK_EQ_INT(call, status);                                            \
        CHECK_MSG(strstr(iris_errmsg(), substr), "message: %s", iris_errmsg());\
    } while (0)

/* Checks an iris call returns IRIS_OK, printing iris_errmsg() otherwise. */
#define CHECK_OK(call)                                                         \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != 0)                                                          \
            TEST_FAIL_("%s:%d: %s -> %d (%s)", __FILE__, __LINE__, #call, rc_, \
                       iris_errmsg());                                         \
    } while (0)

/* Ends the current test as skipped, with a reason. */
#define SKIP(...)                                                              \
    do {                                                                       \
        test_skipped_ = 1;                                                     \
        snprintf(test_msg_, sizeof test_msg_, __VA_ARGS__);                    \
        longjmp(test_jmp_, 2);                                                 \
    } while (0)

#define RUN(fn) test_run_(#fn, fn)

static inline void test_run_(const char *name, void (*fn)(void))
{
    test_msg_[0] = '\0';
    test_skipped_ = 0;
    int r = setjmp(test_jmp_);
    if (r == 0) {
        fn();
        printf("ok - %s\n", name);
        test_passed_n_++;
    } else if (r == 2) {
        printf("ok - %s # SKIP %s\n", name, test_msg_);
    } else {
        printf("not ok - %s: %s\n", name, test_msg_);
        test_failed_n_++;
    }
    fflush(stdout);
}

static inline int test_summary(void) { return test_failed_n_ ? 1 : 0; }

static inline int test_path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Reads a whole file into a malloc'ed buffer (NUL-terminated); NULL on error. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[n] = '\0'; if (len) *len = (size_t)n; }
    return buf;
}

#endif

/*
 * error.h - how every module reports failure.
 *
 * A failing function records a message with iris_fail() and returns its
 * status code in one statement:
 *
 *     if (!f) return iris_fail(IRIS_EIO, "cannot open %s: %s", path, strerror(errno));
 *
 * The message lives in thread-local storage (see iris_errmsg() in iris.h),
 * so concurrent callers never mix messages and no lock is needed. Callers
 * that want to add context wrap the existing message with iris_fail_wrap().
 */
#ifndef IRIS_UTIL_ERROR_H
#define IRIS_UTIL_ERROR_H

#include "iris.h"

#if defined(__GNUC__)
#define IRIS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define IRIS_PRINTF(a, b)
#endif

/* Records a formatted message for this thread and returns status. */
int iris_fail(int status, const char *fmt, ...) IRIS_PRINTF(2, 3);
/* Prefixes the current message with "prefix: " and returns status. */
int iris_fail_wrap(int status, const char *fmt, ...) IRIS_PRINTF(2, 3);
/* Clears this thread's message (successful public calls need not do this). */
void iris_clear_error(void);

#endif

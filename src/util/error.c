/*
 * error.c - thread-local error messages (see error.h for the convention).
 *
 * One fixed buffer per thread: formatting never allocates, so even an
 * out-of-memory failure can be reported. Long messages are truncated.
 */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERRMSG_CAP 1024

static _Thread_local char errmsg_buf[ERRMSG_CAP];

int iris_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg_buf, sizeof errmsg_buf, fmt, ap);
    va_end(ap);
    return status;
}

int iris_fail_wrap(int status, const char *fmt, ...)
{
    char prefix[ERRMSG_CAP], old[ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errmsg_buf, sizeof old);
    /* Truncation is intended: build "prefix: old" piecewise, bounded. */
    size_t n = strlen(prefix);
    memcpy(errmsg_buf, prefix, n + 1);
    if (old[0] && n + 2 < sizeof errmsg_buf) {
        memcpy(errmsg_buf + n, ": ", 3);
        n += 2;
        size_t m = strlen(old);
        if (m > sizeof errmsg_buf - 1 - n) m = sizeof errmsg_buf - 1 - n;
        memcpy(errmsg_buf + n, old, m);
        errmsg_buf[n + m] = '\0';
    }
    return status;
}

void iris_clear_error(void) { errmsg_buf[0] = '\0'; }

const char *iris_errmsg(void) { return errmsg_buf; }

const char *iris_strerror(int status)
{
    static const char *const names[] = {
        [IRIS_OK] = "ok",
        [IRIS_EARG] = "invalid argument",
        [IRIS_EIO] = "I/O error",
        [IRIS_ENOMEM] = "out of memory",
        [IRIS_EFORMAT] = "malformed input",
        [IRIS_EUNSUPPORTED] = "unsupported",
        [IRIS_ELIMIT] = "limit exceeded",
        [IRIS_ENOTFOUND] = "not found",
        [IRIS_EDB] = "database error",
        [IRIS_EMODEL] = "model mismatch",
        [IRIS_ENET] = "network error",
        [IRIS_ETIMEOUT] = "timed out",
        [IRIS_EHTTP] = "remote endpoint error",
        [IRIS_ECANCELLED] = "cancelled",
        [IRIS_EINTERNAL] = "internal error",
    };
    if (status < 0 || (size_t)status >= sizeof names / sizeof names[0] || !names[status])
        return "unknown error";
    return names[status];
}

const char *iris_version(void) { return IRIS_VERSION; }

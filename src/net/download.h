/*
 * download.h - fetch one file over HTTP(S) into place, safely.
 *
 * The bytes go to DEST.part; when the transfer is complete the size and
 * SHA-256 are checked (when the caller knows them) and DEST.part is renamed
 * to DEST, so DEST is either absent or whole and verified. An interrupted
 * transfer leaves DEST.part, and the next call resumes it with an HTTP
 * Range request (starting over if the server ignores the range). A file
 * that fails its checksum is deleted, never installed. Redirects are
 * followed (Hugging Face serves large files from a CDN).
 *
 * Failing to reach the host (DNS, refused, unreachable) is IRIS_ENET within
 * the connect timeout (default 10 s), so an offline machine fails at once.
 */
#ifndef IRIS_NET_DOWNLOAD_H
#define IRIS_NET_DOWNLOAD_H

#include <stdint.h>

typedef void (*iris_download_progress_fn)(uint64_t done, uint64_t total, void *user);

typedef struct iris_download_opts {
    long connect_timeout_ms;  /* default 10 000 (DNS included) */
    long stall_timeout_s;     /* abort when under 1 KiB/s for this long; default 30 */
    iris_download_progress_fn progress; /* may be NULL */
    void *user;
} iris_download_opts;

/* Downloads url to dest. size (0 = unknown) and sha256 (lowercase hex or
 * NULL = unknown) are checked before dest appears. sha256_out (may be
 * NULL) receives the digest of what was installed. If dest already exists
 * with the right size and checksum, nothing is downloaded.
 * Errors: IRIS_ENET (cannot reach the host, connection lost; DEST.part
 * kept for a resume), IRIS_ETIMEOUT (stalled), IRIS_EHTTP (4xx/5xx),
 * IRIS_EFORMAT (size or checksum mismatch), IRIS_EIO (disk). */
int iris_download(const char *url, const char *dest, uint64_t size, const char *sha256,
                  const iris_download_opts *opts, char sha256_out[65]);

#endif

/*
 * download.c - file download with resume, size and SHA-256 checks and an
 * atomic rename into place (see download.h).
 *
 * This is not built on net/http.c: that client is shaped for chat
 * endpoints (buffered or streamed bodies, retries, never following a
 * redirect so an API key cannot leak to another host). A model download
 * carries no secret, must follow Hugging Face's redirect to its CDN, and
 * wants an append-to-file sink with resume instead. The digest is computed
 * from the finished file rather than on the fly, so a resumed transfer
 * needs no saved hashing state; hashing 600 MB costs about a second next to
 * minutes of transfer.
 */
#include "net/download.h"

#include "util/error.h"
#include "util/fs.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct transfer {
    FILE *out;
    uint64_t have;     /* bytes in .part before this transfer */
    uint64_t total;    /* expected final size, 0 = unknown */
    long status;       /* HTTP status of the final response */
    int io_error;
    const iris_download_opts *opts;
} transfer;

/* Appends body bytes to .part. (A server that answers a resume with the
 * whole file makes curl stop with CURLE_RANGE_ERROR before any byte.) */
static size_t on_write(char *data, size_t size, size_t n, void *user)
{
    transfer *t = user;
    size_t len = size * n;
    if (fwrite(data, 1, len, t->out) != len) {
        t->io_error = errno ? errno : EIO;
        return 0;
    }
    return len;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ul,
                       curl_off_t uln)
{
    (void)ul, (void)uln;
    transfer *t = user;
    if (t->opts->progress) {
        uint64_t total = t->total ? t->total : (uint64_t)dltotal + t->have;
        t->opts->progress(t->have + (uint64_t)dlnow, total, t->opts->user);
    }
    return 0;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int curl_status(CURLcode c, const char *url, const char *errbuf, uint64_t got)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(c);
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return iris_fail(IRIS_ENET, "cannot reach %s: %s", url, why);
    case CURLE_OPERATION_TIMEDOUT:
        return iris_fail(IRIS_ETIMEOUT, "%s: the transfer stalled (%s); run again to resume",
                         url, why);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return iris_fail(IRIS_ENET,
                         "%s: the connection broke after %llu bytes (%s); run again to resume",
                         url, (unsigned long long)got, why);
    default:
        return iris_fail(IRIS_ENET, "%s: %s", url, why);
    }
}

/* One GET of url appended to part (from byte t->have when resuming). */
static int fetch(const char *url, const char *part, transfer *t)
{
    pthread_once(&curl_once, curl_init);
    CURL *c = curl_easy_init();
    t->out = fopen(part, t->have ? "ab" : "wb");
    if (!c || !t->out) {
        int e = errno;
        if (c) curl_easy_cleanup(c);
        if (t->out) fclose(t->out);
        return c ? iris_fail(IRIS_EIO, "cannot write %s: %s", part, strerror(e))
                 : iris_fail(IRIS_ENOMEM, "no memory for a transfer");
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    const iris_download_opts *o = t->opts;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "iris/" IRIS_VERSION);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (t->have) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)t->have);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t->status);
    curl_easy_cleanup(c);
    int closed = fclose(t->out);
    if (t->io_error || closed)
        return iris_fail(IRIS_EIO, "cannot write %s: %s", part,
                         strerror(t->io_error ? t->io_error : errno));
    if (rc == CURLE_HTTP_RETURNED_ERROR)
        return iris_fail(IRIS_EHTTP, "%s answered HTTP %ld", url, t->status);
    if (rc == CURLE_RANGE_ERROR) return IRIS_ECANCELLED; /* caller restarts */
    if (rc != CURLE_OK) return curl_status(rc, url, errbuf, file_size(part));
    return IRIS_OK;
}

/* Size and checksum of a finished file; a bad file is removed. */
static int verify(const char *path, const char *url, uint64_t size, const char *sha256,
                  char hex[65])
{
    uint64_t got = file_size(path);
    if (size && got != size) {
        remove(path);
        return iris_fail(IRIS_EFORMAT, "%s: got %llu bytes, expected %llu; the file was removed",
                         url, (unsigned long long)got, (unsigned long long)size);
    }
    int rc = iris_sha256_file(path, hex);
    if (rc) return rc;
    if (sha256 && strcmp(hex, sha256)) {
        remove(path);
        return iris_fail(IRIS_EFORMAT,
                         "%s: checksum mismatch (SHA-256 %s, expected %s); the file was "
                         "removed",
                         url, hex, sha256);
    }
    return IRIS_OK;
}

/* A dest already in place and intact needs no download. */
static int already_there(const char *dest, uint64_t size, const char *sha256, char hex[65])
{
    struct stat st;
    if (stat(dest, &st) != 0 || (size && (uint64_t)st.st_size != size)) return 0;
    return iris_sha256_file(dest, hex) == IRIS_OK && (!sha256 || !strcmp(hex, sha256));
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Renames part to dest durably: file data first, then the directory entry. */
static int install(const char *part, const char *dest)
{
    if (fsync_path(part, O_RDONLY) || rename(part, dest))
        return iris_fail(IRIS_EIO, "cannot move %s into place: %s", part, strerror(errno));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", dest);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        fsync_path(slash == dir ? "/" : dir, O_RDONLY | O_DIRECTORY);
    }
    return IRIS_OK;
}

int iris_download(const char *url, const char *dest, uint64_t size, const char *sha256,
                  const iris_download_opts *opts, char sha256_out[65])
{
    iris_download_opts o = {10000, 30, NULL, NULL};
    if (opts) o = *opts;
    if (o.connect_timeout_ms <= 0) o.connect_timeout_ms = 10000;
    if (o.stall_timeout_s <= 0) o.stall_timeout_s = 30;
    char hex[65], part[4096];
    if (already_there(dest, size, sha256, hex)) {
        if (sha256_out) memcpy(sha256_out, hex, 65);
        return IRIS_OK;
    }
    if (snprintf(part, sizeof part, "%s.part", dest) >= (int)sizeof part)
        return iris_fail(IRIS_ELIMIT, "path too long: %s", dest);
    transfer t = {.total = size, .opts = &o};
    t.have = file_size(part);
    if (size && t.have >= size) t.have = 0; /* nothing to resume: start over */
    int rc = fetch(url, part, &t);
    if (rc == IRIS_ECANCELLED) { /* the range was refused: whole file again */
        t.have = 0;
        rc = fetch(url, part, &t);
    }
    if (rc && file_size(part) == 0) remove(part); /* nothing worth resuming */
    if (!rc) rc = verify(part, url, size, sha256, hex);
    if (!rc) rc = install(part, dest);
    if (!rc && sha256_out) memcpy(sha256_out, hex, 65);
    return rc;
}

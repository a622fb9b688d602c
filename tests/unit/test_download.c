/*
 * test_download.c - iris_download against a loopback HTTP server
 * (tests/py/file_server.py, Python's http.server with byte ranges and
 * scripted faults): a verified download lands atomically; a checksum or
 * size mismatch installs nothing; an interrupted transfer keeps .part and
 * the next call resumes it with a Range request; a server ignoring ranges
 * makes it start over; 404, a refused port and an unresolvable host fail
 * with the right status at once.
 */
#include "test.h"

#include "net/download.h"
#include "util/fs.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model_fixtures.h"

#define BLOB_SIZE 300000

static char *root;
static char blob_sha[65];
static int port;
static pid_t server;

static int start_server(void)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return 0;
    server = fork();
    if (server == 0) {
        dup2(in[0], 0), dup2(out[1], 1);
        close(in[1]), close(out[0]);
        const char *py = access(".venv/bin/python", X_OK) == 0 ? ".venv/bin/python" : "python3";
        execlp(py, py, "tests/py/file_server.py", root, (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[64] = "";
    if (!f || !fgets(line, sizeof line, f) || sscanf(line, "PORT %d", &port) != 1) return 0;
    return 1; /* in[1] stays open: the server quits when this process exits */
}

static void url(char *buf, size_t cap, const char *query)
{
    snprintf(buf, cap, "http://127.0.0.1:%d/blob.bin%s", port, query);
}

static const char *dest(void)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/out/blob.bin", root);
    return p;
}

static void clean(void)
{
    char p[600];
    remove(dest());
    snprintf(p, sizeof p, "%s.part", dest());
    remove(p);
}

static int same_as_blob(const char *path)
{
    char hex[65];
    return iris_sha256_file(path, hex) == IRIS_OK && !strcmp(hex, blob_sha);
}

static uint64_t part_size(void)
{
    char p[600];
    snprintf(p, sizeof p, "%s.part", dest());
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void test_verified(void)
{
    char u[256], hex[65];
    clean();
    url(u, sizeof u, "?redirect=1");
    CHECK_OK(iris_download(u, dest(), BLOB_SIZE, blob_sha, NULL, hex));
    CHECK(same_as_blob(dest()) && !strcmp(hex, blob_sha) && part_size() == 0);
    /* already there and intact: no request at all (this port is closed) */
    CHECK_OK(iris_download("http://127.0.0.1:1/blob.bin", dest(), BLOB_SIZE, blob_sha, NULL, hex));
}

static void test_mismatch(void)
{
    char u[256], wrong[65];
    clean();
    url(u, sizeof u, "");
    memset(wrong, 'a', 64), wrong[64] = '\0';
    CHECK_EQ_INT(iris_download(u, dest(), BLOB_SIZE, wrong, NULL, NULL), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "checksum mismatch") && strstr(iris_errmsg(), blob_sha));
    CHECK(!test_path_exists(dest()) && part_size() == 0);
    CHECK_EQ_INT(iris_download(u, dest(), BLOB_SIZE + 1, NULL, NULL, NULL), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "expected 300001"));
    CHECK(!test_path_exists(dest()));
}

/* Cut at 100 000 bytes, then cut at 250 000: the second call can only
 * succeed if it asked for the remaining 200 000 bytes with a Range. */
static void test_interrupted_then_resumed(void)
{
    char u[256];
    clean();
    url(u, sizeof u, "?cut=100000");
    CHECK_EQ_INT(iris_download(u, dest(), BLOB_SIZE, blob_sha, NULL, NULL), IRIS_ENET);
    CHECK(strstr(iris_errmsg(), "run again to resume"));
    CHECK(!test_path_exists(dest()));
    CHECK_EQ_INT(part_size(), 100000);
    url(u, sizeof u, "?cut=250000");
    CHECK_OK(iris_download(u, dest(), BLOB_SIZE, blob_sha, NULL, NULL));
    CHECK(same_as_blob(dest()) && part_size() == 0);
}

/* A server that ignores Range sends everything again: start over. */
static void test_range_ignored(void)
{
    char u[256];
    clean();
    url(u, sizeof u, "?cut=100000");
    CHECK_EQ_INT(iris_download(u, dest(), BLOB_SIZE, blob_sha, NULL, NULL), IRIS_ENET);
    url(u, sizeof u, "?norange=1");
    CHECK_OK(iris_download(u, dest(), BLOB_SIZE, blob_sha, NULL, NULL));
    CHECK(same_as_blob(dest()));
}

static void test_unreachable(void)
{
    char u[256];
    clean();
    snprintf(u, sizeof u, "http://127.0.0.1:%d/missing.bin", port);
    CHECK_EQ_INT(iris_download(u, dest(), 0, NULL, NULL, NULL), IRIS_EHTTP);
    CHECK(strstr(iris_errmsg(), "404"));
    CHECK_EQ_INT(iris_download("http://127.0.0.1:1/x", dest(), 0, NULL, NULL, NULL), IRIS_ENET);
    CHECK(strstr(iris_errmsg(), "cannot reach"));
    CHECK_EQ_INT(iris_download("https://iris-test.invalid/x", dest(), 0, NULL, NULL, NULL),
                 IRIS_ENET);
    CHECK(!test_path_exists(dest()));
}

int main(void)
{
    root = fx_tmpdir();
    char p[512];
    snprintf(p, sizeof p, "%s/out", root);
    unsigned char *blob = malloc(BLOB_SIZE);
    uint32_t x = 1;
    for (int i = 0; i < BLOB_SIZE; i++) blob[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 24);
    if (!root || mkdir(p, 0755) || fx_write(root, "blob.bin", blob, BLOB_SIZE) ||
        iris_sha256_hex(blob, BLOB_SIZE, blob_sha))
        return 1;
    free(blob);
    if (!start_server()) {
        printf("ok - test_download # SKIP python3 cannot run tests/py/file_server.py\n");
        fx_drop(root);
        return 0;
    }
    RUN(test_verified);
    RUN(test_mismatch);
    RUN(test_interrupted_then_resumed);
    RUN(test_range_ignored);
    RUN(test_unreachable);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    fx_drop(root);
    return test_summary();
}

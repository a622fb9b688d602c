/*
 * test_ingest_walk.c - the indexer's walk (symbolic link loops and
 * duplicates, broken links, FIFOs, hidden names, non-UTF-8 names, the
 * index's own files, sorting), path resolution, file kinds by bytes and
 * names, and CLIP windows for long texts (textvec).
 */
#include "test.h"

#include "ingest/ingest.h"
#include "ingest/textvec.h"
#include "ingest/walk.h"
#include "model_fixtures.h"

#include <unistd.h>

static char *root;

static const char *tp(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", root, name);
    return p;
}

static void put(const char *name, const char *text)
{
    FILE *f = fopen(tp(name), "wb");
    if (!f) TEST_FAIL_("cannot write %s", tp(name));
    fputs(text, f);
    fclose(f);
}

typedef struct events {
    char text[900];
    int skips[IRIS_N_SKIP], ignores, keeps;
} events;

static void on_event(void *user, walk_event ev, int reason, const char *path, const char *msg)
{
    events *e = user;
    const char *rel = strncmp(path, root, strlen(root)) ? path : path + strlen(root) + 1;
    size_t n = strlen(e->text);
    snprintf(e->text + n, sizeof e->text - n, "%d:%d:%s:%s\n", ev, reason, rel, msg);
    if (ev == WALK_SKIP) e->skips[reason]++;
    if (ev == WALK_IGNORE) e->ignores++;
    if (ev == WALK_KEEP) e->keeps++;
}

static void fresh(void)
{
    if (root) fx_drop(root);
    root = fx_tmpdir();
    CHECK(root);
}

static void test_walk_tree(void)
{
    fresh();
    mkdir(tp("a"), 0755), mkdir(tp("a/sub"), 0755), mkdir(tp("a/.git"), 0755);
    mkdir(tp("a/sub/deeper"), 0755);
    put("a/b.txt", "b"), put("a/A.md", "a"), put("a/sub/c.jpg", "c"), put("a/.git/config", "x");
    put("a/.dotfile", "x"), put("a/sub/deeper/d.txt", "d"), put("a/index.db", "db");
    put("a/index.db-wal", "w"), put("a/caf\xe9\xff.txt", "latin-1 name");
    CHECK(symlink("..", tp("a/sub/up")) == 0);          /* loop to an ancestor */
    CHECK(symlink("sub", tp("a/zz-sub-again")) == 0);   /* second path to a folder */
    CHECK(symlink("nowhere", tp("a/broken.jpg")) == 0); /* broken */
    CHECK(symlink("self.txt", tp("a/self.txt")) == 0);  /* ELOOP */
    CHECK(symlink("b.txt", tp("a/link-to-b.txt")) == 0); /* a file link: indexed */
    CHECK(mkfifo(tp("a/pipe.jpg"), 0644) == 0);
    const char *ex[] = {tp("a/index.db"), tp("a/index.db-wal")};
    events e;
    memset(&e, 0, sizeof e);
    walk_list l = {0};
    walk_opts o = {.exclude = ex, .n_exclude = 2, .event = on_event, .user = &e};
    CHECK_OK(walk_root(tp("a"), &o, &l));
    const char *want[] = {"a/A.md", "a/b.txt", "a/caf\xe9\xff.txt", "a/link-to-b.txt",
                          "a/sub/c.jpg", "a/sub/deeper/d.txt"};
    CHECK_MSG(l.n == 6, "%zu files; events:\n%s", l.n, e.text);
    for (size_t i = 0; i < l.n; i++) CHECK_MSG(!strcmp(l.v[i].path, tp(want[i])), "%s", l.v[i].path);
    CHECK_EQ_INT(l.v[1].size, 1);
    CHECK(l.v[1].mtime_ns > 0);
    CHECK_EQ_INT(l.v[0].text_kind, 2);
    CHECK_EQ_INT(l.v[1].text_kind, 1);
    CHECK_EQ_INT(l.v[4].text_kind, 0);
    CHECK_MSG(e.skips[IRIS_SKIP_LOOP] == 2, "%s", e.text);      /* sub/up, self.txt */
    CHECK_MSG(e.skips[IRIS_SKIP_UNREADABLE] == 1, "%s", e.text); /* broken.jpg */
    CHECK_MSG(e.skips[IRIS_SKIP_SPECIAL] == 1, "%s", e.text);   /* pipe.jpg */
    CHECK_MSG(e.ignores == 1 && strstr(e.text, "zz-sub-again"), "%s", e.text);
    CHECK(strstr(e.text, "broken symbolic link"));
    CHECK(strstr(e.text, "a FIFO"));
    walk_list_free(&l);

    /* Hidden names on request; the index's files by identity too. */
    struct stat sb;
    CHECK(stat(tp("a/index.db"), &sb) == 0);
    memset(&e, 0, sizeof e);
    walk_opts o2 = {.hidden = 1, .exclude_dev = sb.st_dev, .exclude_ino = sb.st_ino,
                    .event = on_event, .user = &e};
    CHECK_OK(walk_root(tp("a"), &o2, &l));
    int git = 0, dot = 0, db = 0, wal = 0;
    for (size_t i = 0; i < l.n; i++) {
        git += strstr(l.v[i].path, "/.git/config") != NULL;
        dot += strstr(l.v[i].path, "/.dotfile") != NULL;
        db += !strcmp(l.v[i].path, tp("a/index.db"));
        wal += !strcmp(l.v[i].path, tp("a/index.db-wal"));
    }
    CHECK(git == 1 && dot == 1 && db == 0 && wal == 1);
    walk_list_free(&l);

    /* A root that is a file, and one that is a symbolic link loop. */
    CHECK_OK(walk_root(tp("a/b.txt"), &o, &l));
    CHECK(l.n == 1 && !strcmp(l.v[0].path, tp("a/b.txt")));
    walk_list_free(&l);
    memset(&e, 0, sizeof e);
    CHECK_OK(walk_root(tp("a/self.txt"), &o, &l));
    CHECK(l.n == 0 && e.skips[IRIS_SKIP_LOOP] == 1);
}

static volatile int cancel_now = 1;

static void test_walk_cancel(void)
{
    fresh();
    mkdir(tp("d"), 0755);
    put("d/x.txt", "x");
    walk_list l = {0};
    walk_opts o = {.cancel = &cancel_now};
    CHECK_FAILS(walk_root(tp("d"), &o, &l), IRIS_ECANCELLED, "cancelled");
    walk_list_free(&l);
}

static void test_text_kind_and_sniff(void)
{
    CHECK_EQ_INT(walk_text_kind("/x/notes.TXT"), 1);
    CHECK_EQ_INT(walk_text_kind("/x/README.markdown"), 2);
    CHECK_EQ_INT(walk_text_kind("/x/a.md"), 2);
    CHECK_EQ_INT(walk_text_kind("/x.md/readme"), 0);
    CHECK_EQ_INT(walk_text_kind("/x/.md"), 0);
    CHECK_EQ_INT(walk_text_kind("/x/photo.jpg"), 0);
    const char *un;
    const uint8_t png[] = "\x89PNG\r\n\x1a\n....";
    CHECK_EQ_INT(ingest_sniff(png, sizeof png, 1, &un), STORE_KIND_IMAGE);
    const uint8_t pdf[] = "junk\n%PDF-1.7\n";
    CHECK_EQ_INT(ingest_sniff(pdf, sizeof pdf, 0, &un), STORE_KIND_PDF);
    /* "BM" alone is not a BMP: a text file starting with those letters. */
    const uint8_t bm[] = "BMW service notes, 2024";
    CHECK_EQ_INT(ingest_sniff(bm, sizeof bm, 1, &un), STORE_KIND_TEXT);
    CHECK_EQ_INT(ingest_sniff(bm, sizeof bm, 0, &un), STORE_KIND_OTHER);
    const uint8_t heic[] = "\0\0\0\x18" "ftypheic\0\0\0\0";
    CHECK_EQ_INT(ingest_sniff(heic, sizeof heic, 0, &un), STORE_KIND_IMAGE);
    CHECK(un && strstr(un, "HEIC"));
    const char *msg;
    CHECK_EQ_INT(ingest_skip_parse("corrupt: bad JPEG", &msg), IRIS_SKIP_CORRUPT);
    CHECK(!strcmp(msg, "bad JPEG"));
    CHECK_EQ_INT(ingest_skip_parse("something else", &msg), IRIS_SKIP_OTHER);
    CHECK(!strcmp(msg, "something else"));
    CHECK(!strcmp(iris_skip_name(IRIS_SKIP_TOO_LARGE), "too-large"));
    CHECK(!strcmp(iris_skip_name(99), "?"));
}

static void test_resolve(void)
{
    fresh();
    mkdir(tp("r"), 0755);
    put("r/f.txt", "f");
    char cwd[1024], *abs;
    CHECK(getcwd(cwd, sizeof cwd));
    CHECK(chdir(root) == 0);
    CHECK_OK(walk_resolve("r/./f.txt", &abs));
    CHECK_MSG(!strcmp(abs, tp("r/f.txt")), "%s", abs);
    free(abs);
    CHECK_OK(walk_resolve("r/gone.txt", &abs)); /* missing file, existing folder */
    CHECK_MSG(!strcmp(abs, tp("r/gone.txt")), "%s", abs);
    free(abs);
    CHECK_OK(walk_resolve("nope/x/../y.txt", &abs)); /* nothing exists: lexical */
    CHECK_MSG(!strcmp(abs, tp("nope/y.txt")), "%s", abs);
    free(abs);
    CHECK_OK(walk_resolve("/", &abs));
    CHECK(!strcmp(abs, "/"));
    free(abs);
    CHECK(chdir(cwd) == 0);
    CHECK_FAILS(walk_resolve("", &abs), IRIS_EARG, "empty");
}

/* ----------------------------------------------------------- textvec */

static int tokens(const iris_model *m, const char *s)
{
    int32_t ids[512];
    int n;
    if (iris_tokenize(m, s, ids, 512, &n)) return -1;
    return n;
}

static void test_textvec_windows(void)
{
    iris_model *m;
    CHECK_OK(iris_model_load(TINY_HF, NULL, &m));
    iris_model_info in;
    iris_model_get_info(m, &in);
    char text[4096] = "";
    for (int i = 0; i < 60; i++) strcat(text, i % 7 ? "hello world " : "a\tlonger  line.\n");
    char **w;
    int n;
    CHECK_OK(textvec_windows(m, text, strlen(text), TEXTVEC_MEAN, 100, &w, &n));
    CHECK_MSG(n > 3, "%d windows", n);
    /* Each window fits the context with room for start and end; together
     * they hold every word, in order. */
    char joined[8192] = "";
    for (int i = 0; i < n; i++) {
        int t = tokens(m, w[i]);
        CHECK_MSG(t > 2 && t < in.context_length, "window %d: %d tokens (context %d)", i, t,
                  in.context_length);
        strcat(joined, w[i]);
        strcat(joined, " ");
    }
    char a[8192], b[8192];
    size_t ka = 0, kb = 0;
    for (const char *p = text; *p; p++) if (*p != ' ' && *p != '\t' && *p != '\n') a[ka++] = *p;
    for (const char *p = joined; *p; p++) if (*p != ' ' && *p != '\t' && *p != '\n') b[kb++] = *p;
    a[ka] = b[kb] = '\0';
    CHECK(!strcmp(a, b));
    textvec_windows_free(w, n);
    /* The cap keeps the first windows only. */
    CHECK_OK(textvec_windows(m, text, strlen(text), TEXTVEC_MEAN, 2, &w, &n));
    CHECK_EQ_INT(n, 2);
    textvec_windows_free(w, n);
    /* FIRST: the text itself; empty text: one empty window. */
    CHECK_OK(textvec_windows(m, text, strlen(text), TEXTVEC_FIRST, 16, &w, &n));
    CHECK(n == 1 && !strcmp(w[0], text));
    textvec_windows_free(w, n);
    CHECK_OK(textvec_windows(m, "", 0, TEXTVEC_MEAN, 16, &w, &n));
    CHECK(n == 1 && !strcmp(w[0], ""));
    textvec_windows_free(w, n);
    /* Chinese has no spaces: windows are cut between characters. */
    char zh[2048] = "";
    for (int i = 0; i < 40; i++) strcat(zh, "北京欢迎你");
    CHECK_OK(textvec_windows(m, zh, strlen(zh), TEXTVEC_MEAN, 100, &w, &n));
    CHECK_MSG(n > 1, "%d", n);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        CHECK(tokens(m, w[i]) < in.context_length);
        total += strlen(w[i]);
    }
    CHECK_EQ_INT(total, strlen(zh));
    textvec_windows_free(w, n);
    /* A single word longer than a window still makes one window. */
    char word[600];
    memset(word, 'q', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    CHECK_OK(textvec_windows(m, word, strlen(word), TEXTVEC_MEAN, 4, &w, &n));
    CHECK(n == 1 && !strcmp(w[0], word));
    textvec_windows_free(w, n);
    iris_model_free(m);
}

static void test_textvec_combine(void)
{
    const float v[6] = {1, 0, 0, 0, 1, 0};
    float out[3];
    textvec_combine(v, 2, 3, out);
    CHECK_NEAR(out[0], 1 / sqrt(2), 1e-6);
    CHECK_NEAR(out[1], 1 / sqrt(2), 1e-6);
    CHECK_NEAR(out[2], 0, 1e-9);
    textvec_combine(v, 1, 3, out);
    CHECK(out[0] == 1 && out[1] == 0);
}

int main(void)
{
    RUN(test_walk_tree);
    RUN(test_walk_cancel);
    RUN(test_text_kind_and_sniff);
    RUN(test_resolve);
    RUN(test_textvec_windows);
    RUN(test_textvec_combine);
    if (root) fx_drop(root);
    return test_summary();
}

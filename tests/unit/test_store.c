/* The index store: schema and migrations, content-keyed files (rename,
 * copy, change, skip, prune), items and vectors, BM25 against an
 * independent computation, query injection, Chinese search, transactions,
 * locking, disk full, corrupt files, concurrent readers and SIGKILL. */
#include "iris.h"
#include "store/internal.h"
#include "test.h"
#include "util/fs.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void fresh_dir(void)
{
    char cmd[600];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iris_test_store_%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmpdir, tmpdir);
    if (system(cmd) != 0) abort();
}

static store *open_fresh(void)
{
    fresh_dir();
    store *st;
    if (store_open(tpath("idx/index.db"), NULL, &st)) {
        fprintf(stderr, "open: %s\n", iris_errmsg());
        abort();
    }
    return st;
}

static void sha_of(const char *s, char hex[65]) { iris_sha256_hex(s, strlen(s), hex); }

/* Puts path with content named `content` (hashed), returns the result. */
static store_put_result put(store *st, const char *path, const char *content, int kind)
{
    char sha[65];
    sha_of(content, sha);
    store_put f = {path, 100, 1000, sha, kind};
    store_put_result r;
    if (store_file_put(st, &f, &r)) {
        fprintf(stderr, "put %s: %s\n", path, iris_errmsg());
        abort();
    }
    return r;
}

static int64_t add_text(store *st, int64_t cid, int64_t seq, const char *text)
{
    store_item it = {STORE_TEXT_CHUNK, seq, 0, 0, {0}, 0, (int64_t)strlen(text), text};
    int64_t id = 0;
    if (store_item_add(st, cid, &it, 0, NULL, 0, &id)) {
        fprintf(stderr, "add: %s\n", iris_errmsg());
        abort();
    }
    return id;
}

/* Indexes a whole text file: put, one item per text, done. */
static int64_t index_texts(store *st, const char *path, const char *content,
                           const char *const *texts, int n)
{
    store_put_result r = put(st, path, content, STORE_KIND_TEXT);
    for (int k = 0; k < n; k++) add_text(st, r.content.id, k, texts[k]);
    if (store_content_done(st, r.content.id)) abort();
    return r.content.id;
}

static int n_hits(store *st, const char *q)
{
    store_hit *h;
    int n;
    if (store_fts_search(st, q, NULL, &h, &n)) {
        fprintf(stderr, "search %s: %s\n", q, iris_errmsg());
        return -1;
    }
    store_hits_free(h, n);
    return n;
}

static int64_t scalar(store *st, const char *sql)
{
    sqlite3_stmt *s;
    int64_t v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* ------------------------------------------------------------ basics */

static void test_open_creates_versioned_schema(void)
{
    store *st = open_fresh();
    store_stats s;
    CHECK_OK(store_get_stats(st, &s));
    CHECK_EQ_INT(s.schema_version, STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(s.items, 0);
    CHECK_EQ_INT(scalar(st, "PRAGMA application_id"), STORE_APP_ID);
    sqlite3_stmt *q;
    CHECK(sqlite3_prepare_v2(st->db, "PRAGMA journal_mode", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    CHECK(!strcmp((const char *)sqlite3_column_text(q, 0), "wal"));
    sqlite3_finalize(q);
    CHECK_EQ_INT(scalar(st, "PRAGMA synchronous"), 1); /* NORMAL */
    CHECK_EQ_INT(scalar(st, "PRAGMA foreign_keys"), 1);
    store_close(st);
    /* Reopening an up-to-date index migrates nothing and works. */
    CHECK_OK(store_open(tpath("idx/index.db"), NULL, &st));
    CHECK_EQ_INT(scalar(st, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    store_close(st);
    store_opts ro = {.readonly = 1};
    CHECK_OK(store_open(tpath("idx/index.db"), &ro, &st));
    store_close(st);
}

static void test_migrations_are_atomic(void)
{
    fresh_dir();
    sqlite3 *db;
    CHECK(sqlite3_open(tpath("m.db"), &db) == SQLITE_OK);
    const store_migration good[] = {{1, "CREATE TABLE a(x); INSERT INTO a VALUES(1);"}};
    CHECK_OK(store_migrate(db, "m.db", good, 1));
    /* Version 2 fails half-way: table b must not exist, version stays 1. */
    const store_migration bad[] = {good[0], {2, "CREATE TABLE b(x); INSERT INTO nope VALUES(1);"}};
    CHECK_EQ_INT(store_migrate(db, "m.db", bad, 2), IRIS_EDB);
    CHECK(strstr(iris_errmsg(), "version 2") != NULL);
    sqlite3_stmt *s;
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'b'", -1, &s,
                             NULL) == SQLITE_OK);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    /* Migrating again applies only what is missing. */
    const store_migration fixed[] = {good[0], {2, "CREATE TABLE b(x);"}};
    CHECK_OK(store_migrate(db, "m.db", fixed, 2));
    sqlite3_close(db);
}

static void test_items_vectors_and_lookups(void)
{
    store *st = open_fresh();
    int64_t mid;
    CHECK_OK(store_model_ensure(st, "abc123", "tiny-clip", 4, "{}", &mid));
    store_put_result r = put(st, "/photos/cat.jpg", "cat-bytes", STORE_KIND_IMAGE);
    CHECK(r.new_path && r.new_content && r.content.state == STORE_PENDING);
    CHECK_EQ_INT(r.content.next_seq, 0);
    float v[4] = {0.5f, -0.5f, 0.25f, 1.0f}, got[4];
    store_item it = {STORE_IMAGE, 0, 0, 1, {1, 2, 30, 40}, -1, -1, NULL};
    int64_t id;
    CHECK_OK(store_item_add(st, r.content.id, &it, mid, v, 4, &id));
    store_item ocr = {STORE_OCR_TEXT, 1, 0, 0, {0}, 0, 9, "a cat sat"};
    int64_t id2;
    CHECK_OK(store_item_add(st, r.content.id, &ocr, mid, v, 4, &id2));
    /* Pending content: invisible to readers. */
    CHECK_EQ_INT(n_hits(st, "cat"), 0);
    CHECK_OK(store_content_done(st, r.content.id));
    CHECK_EQ_INT(n_hits(st, "sat"), 1);
    CHECK_EQ_INT(n_hits(st, "cat"), 2); /* the OCR text and the file name */
    store_item_info info;
    CHECK_OK(store_item_get(st, id, &info));
    CHECK_EQ_INT(info.modality, STORE_IMAGE);
    CHECK(info.has_bbox && info.bbox[2] == 30 && info.bbox[3] == 40);
    CHECK(info.text == NULL && info.char_start == -1);
    CHECK(!strcmp(info.path, "/photos/cat.jpg"));
    store_item_info_free(&info);
    CHECK_OK(store_vector_get(st, id, mid, got, 4));
    CHECK(!memcmp(v, got, sizeof v));
    CHECK_EQ_INT(store_vector_get(st, id, mid, got, 3), IRIS_EARG);
    CHECK_EQ_INT(store_item_get(st, 9999, &info), IRIS_ENOTFOUND);
    store_file f;
    CHECK_OK(store_file_get(st, "/photos/cat.jpg", &f));
    CHECK(f.content.state == STORE_DONE && f.content.next_seq == 2 && f.kind == STORE_KIND_IMAGE);
    CHECK_EQ_INT(store_file_get(st, "/photos/dog.jpg", &f), IRIS_ENOTFOUND);
    /* A duplicate seq is refused: no duplicate items, ever. */
    CHECK_EQ_INT(store_item_add(st, r.content.id, &ocr, mid, v, 4, &id2), IRIS_EDB);
    store_item bad = {9, 5, 0, 0, {0}, -1, -1, NULL};
    CHECK_EQ_INT(store_item_add(st, r.content.id, &bad, mid, NULL, 0, NULL), IRIS_EARG);
    store_stats s;
    CHECK_OK(store_get_stats(st, &s));
    CHECK_EQ_INT(s.items, 2);
    CHECK_EQ_INT(s.items_by_modality[STORE_OCR_TEXT], 1);
    CHECK_EQ_INT(s.vectors, 2);
    CHECK_EQ_INT(s.files, 1);
    store_close(st);
}

static int count_vec(void *user, int64_t item, int64_t content, int modality, const float *v,
                     int dim)
{
    (void)item, (void)content, (void)modality, (void)v, (void)dim;
    (*(int *)user)++;
    return 0;
}

static void test_vectors_each_sees_done_contents_only(void)
{
    store *st = open_fresh();
    int64_t mid;
    CHECK_OK(store_model_ensure(st, "k", "m", 2, NULL, &mid));
    float v[2] = {1, 0};
    for (int k = 0; k < 3; k++) {
        char p[32];
        snprintf(p, sizeof p, "/d/%d.jpg", k);
        store_put_result r = put(st, p, p, STORE_KIND_IMAGE);
        store_item it = {STORE_IMAGE, 0, 0, 0, {0}, -1, -1, NULL};
        CHECK_OK(store_item_add(st, r.content.id, &it, mid, v, 2, NULL));
        if (k < 2) CHECK_OK(store_content_done(st, r.content.id));
    }
    int n = 0;
    CHECK_OK(store_vectors_each(st, mid, count_vec, &n));
    CHECK_EQ_INT(n, 2);
    store_close(st);
}

static void test_model_recorded_and_mismatch_refused(void)
{
    store *st = open_fresh();
    store_model m;
    CHECK_EQ_INT(store_model_get(st, &m), IRIS_ENOTFOUND);
    int64_t a, b;
    CHECK_OK(store_model_ensure(st, "aaaa", "vit-b-32", 512, NULL, &a));
    CHECK_OK(store_model_ensure(st, "aaaa", "vit-b-32", 512, NULL, &b));
    CHECK_EQ_INT(a, b);
    CHECK_EQ_INT(store_model_ensure(st, "bbbb", "tiny", 64, NULL, &b), IRIS_EMODEL);
    CHECK(strstr(iris_errmsg(), "vit-b-32") && strstr(iris_errmsg(), "tiny"));
    CHECK_OK(store_model_get(st, &m));
    CHECK(!strcmp(m.key, "aaaa") && m.dim == 512);
    store_close(st);
}

/* -------------------------------------------------- content as the key */

static void test_rename_keeps_items(void)
{
    store *st = open_fresh();
    const char *texts[] = {"zebra crossing"};
    int64_t cid = index_texts(st, "/root/notes/old.txt", "doc", texts, 1);
    int64_t item = scalar(st, "SELECT id FROM items");
    CHECK_EQ_INT(n_hits(st, "old"), 1);
    int64_t scan;
    CHECK_OK(store_scan_begin(st, &scan));
    store_put_result r = put(st, "/root/moved/new.txt", "doc", STORE_KIND_TEXT);
    CHECK(r.new_path && !r.new_content && r.content.state == STORE_DONE);
    CHECK_EQ_INT(r.content.id, cid);
    const char *roots[] = {"/root"};
    int64_t removed;
    CHECK_OK(store_prune_unseen(st, roots, 1, &removed));
    CHECK_EQ_INT(removed, 1);
    CHECK_EQ_INT(scalar(st, "SELECT id FROM items"), item); /* same item, not re-added */
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items"), 1);
    store_item_info info;
    CHECK_OK(store_item_get(st, item, &info));
    CHECK(!strcmp(info.path, "/root/moved/new.txt"));
    store_item_info_free(&info);
    /* The searchable file name followed the rename. */
    CHECK_EQ_INT(n_hits(st, "new"), 1);
    CHECK_EQ_INT(n_hits(st, "old"), 0);
    CHECK_EQ_INT(n_hits(st, "zebra"), 1);
    /* A title is searchable whole, slashes and all. */
    CHECK_OK(store_content_set_title(st, cid, "Input/Output Handbook"));
    CHECK_EQ_INT(n_hits(st, "input"), 1);
    CHECK_EQ_INT(n_hits(st, "handbook"), 1);
    CHECK_EQ_INT(store_content_set_title(st, 999, "x"), IRIS_ENOTFOUND);
    store_close(st);
}

static void test_copies_share_one_content(void)
{
    store *st = open_fresh();
    const char *texts[] = {"shared words", "more words"};
    index_texts(st, "/a/one.txt", "same", texts, 2);
    store_put_result r = put(st, "/b/two.txt", "same", STORE_KIND_TEXT);
    CHECK(!r.new_content && r.content.state == STORE_DONE);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items"), 2);
    CHECK_EQ_INT(n_hits(st, "words"), 2);
    CHECK_EQ_INT(n_hits(st, "two"), 2); /* both file names are searchable */
    int64_t removed;
    CHECK_OK(store_remove(st, "/a/one.txt", &removed));
    CHECK_EQ_INT(removed, 1);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items"), 2);
    CHECK_EQ_INT(n_hits(st, "one"), 0);
    CHECK_OK(store_remove(st, "/b", &removed));
    CHECK_EQ_INT(removed, 1);
    /* Last file gone: content, items and FTS rows go too. */
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM contents"), 0);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items"), 0);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM fts"), 0);
    store_close(st);
}

static void test_changed_file_switches_atomically(void)
{
    store *st = open_fresh();
    int64_t mid;
    CHECK_OK(store_model_ensure(st, "k", "m", 2, NULL, &mid));
    const char *v1[] = {"alpha version"};
    index_texts(st, "/d/f.txt", "v1", v1, 1);
    store_put_result r = put(st, "/d/f.txt", "v2", STORE_KIND_TEXT);
    CHECK(r.content_changed && r.new_content && r.content.state == STORE_PENDING);
    add_text(st, r.content.id, 0, "beta version");
    CHECK_OK(store_content_progress(st, r.content.id, 1));
    /* Until v2 is done, searches still see v1 and only v1. */
    CHECK_EQ_INT(n_hits(st, "alpha"), 1);
    CHECK_EQ_INT(n_hits(st, "beta"), 0);
    CHECK_EQ_INT(n_hits(st, "version"), 1);
    store_file f;
    CHECK_OK(store_file_get(st, "/d/f.txt", &f));
    CHECK(f.content.state == STORE_PENDING && f.content.progress == 1 && f.content.next_seq == 1);
    CHECK_OK(store_content_done(st, r.content.id));
    CHECK_EQ_INT(n_hits(st, "alpha"), 0);
    CHECK_EQ_INT(n_hits(st, "beta"), 1);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM contents"), 1);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM files WHERE prev_content_id IS NOT NULL"), 0);
    /* Changing to content that is already done switches at once. */
    const char *v3[] = {"gamma"};
    index_texts(st, "/d/other.txt", "v3", v3, 1);
    r = put(st, "/d/f.txt", "v3", STORE_KIND_TEXT);
    CHECK(r.content_changed && !r.new_content && r.content.state == STORE_DONE);
    CHECK_EQ_INT(n_hits(st, "beta"), 0);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM contents"), 1);
    store_close(st);
}

static void test_resume_pending_content(void)
{
    store *st = open_fresh();
    store_put_result r = put(st, "/big.pdf", "big", STORE_KIND_PDF);
    for (int k = 0; k < 5; k++) add_text(st, r.content.id, k, "page text");
    CHECK_OK(store_content_progress(st, r.content.id, 3));
    /* A new run finds the same path and content pending where it stopped. */
    r = put(st, "/big.pdf", "big", STORE_KIND_PDF);
    CHECK(!r.new_path && !r.new_content && !r.content_changed);
    CHECK(r.content.state == STORE_PENDING && r.content.progress == 3 && r.content.next_seq == 5);
    store_close(st);
}

static void test_skipped_files_release_content(void)
{
    store *st = open_fresh();
    const char *t[] = {"readable once"};
    index_texts(st, "/x/doc.txt", "good", t, 1);
    char sha[65];
    sha_of("broken", sha);
    store_put f = {"/x/doc.txt", 5, 6, sha, STORE_KIND_TEXT};
    int64_t fid;
    CHECK_OK(store_file_skip(st, &f, "binary data (NUL bytes), not text", &fid));
    store_file got;
    CHECK_OK(store_file_get(st, "/x/doc.txt", &got));
    CHECK(got.status == STORE_FILE_SKIPPED && got.content_id == 0);
    CHECK(!strcmp(got.reason, "binary data (NUL bytes), not text"));
    CHECK_EQ_INT(n_hits(st, "readable"), 0);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM contents"), 0);
    store_put g = {"/x/unreadable", 0, 0, NULL, STORE_KIND_OTHER};
    CHECK_OK(store_file_skip(st, &g, "permission denied", NULL));
    store_stats s;
    CHECK_OK(store_get_stats(st, &s));
    CHECK_EQ_INT(s.files_skipped, 2);
    store_put h = {"/x/y", 0, 0, "not-a-sha", STORE_KIND_OTHER};
    store_put_result res;
    CHECK_EQ_INT(store_file_put(st, &h, &res), IRIS_EARG);
    store_close(st);
}

static void test_prune_is_limited_to_roots(void)
{
    store *st = open_fresh();
    const char *t[] = {"x"};
    index_texts(st, "/a/b/1.txt", "1", t, 1);
    index_texts(st, "/a/bc/2.txt", "2", t, 1);
    index_texts(st, "/a/b", "3", t, 1); /* a file named like the root */
    index_texts(st, "/z/4.txt", "4", t, 1);
    CHECK_OK(store_scan_begin(st, NULL));
    const char *roots[] = {"/a/b/"};
    int64_t removed;
    CHECK_OK(store_prune_unseen(st, roots, 1, &removed));
    CHECK_EQ_INT(removed, 2); /* /a/b/1.txt and /a/b itself, not /a/bc */
    store_file f;
    CHECK_OK(store_file_get(st, "/a/bc/2.txt", &f));
    CHECK_OK(store_file_get(st, "/z/4.txt", &f));
    /* A file touched in the new scan survives pruning. */
    CHECK_OK(store_scan_begin(st, NULL));
    CHECK_OK(store_file_touch(st, f.id));
    const char *all[] = {"/"};
    CHECK_OK(store_prune_unseen(st, all, 1, &removed));
    CHECK_EQ_INT(removed, 1);
    CHECK_OK(store_file_get(st, "/z/4.txt", &f));
    CHECK_EQ_INT(store_file_touch(st, 424242), IRIS_ENOTFOUND);
    store_close(st);
}

static void test_non_utf8_paths(void)
{
    store *st = open_fresh();
    const char *path = "/n/caf\xe9-\xff.txt"; /* Latin-1 bytes, invalid UTF-8 */
    const char *t[] = {"bytes in names"};
    index_texts(st, path, "n", t, 1);
    store_file f;
    CHECK_OK(store_file_get(st, path, &f));
    CHECK_EQ_INT(n_hits(st, "caf"), 1);
    int64_t removed;
    CHECK_OK(store_remove(st, path, &removed));
    CHECK_EQ_INT(removed, 1);
    store_close(st);
}

/* -------------------------------------------------------------- BM25 */

/* FTS5's bm25(): for each phrase, idf * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgD))
 * with k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)) (1e-6 if not
 * positive), f = occurrences in the row, D = tokens in the row (all columns). */
static double bm25_ref(int f, int D, double avgD, int N, int n)
{
    double idf = log((N - n + 0.5) / (n + 0.5));
    if (idf <= 0) idf = 1e-6;
    return idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * D / avgD));
}

/* Ten one-item files named dN (name column: one token); words are
 * separated by single spaces, so token counts are known by construction. */
static const char *bm25_docs[10] = {
    "apple apple apple pear", "apple pear plum fig kiwi lime lemon date",
    "apple apple pear plum",  "pear plum", "fig kiwi", "lime lemon", "date fig",
    "kiwi kiwi", "plum pear fig", "lemon",
};

static int count_words(const char *doc, const char *word)
{
    int n = 0;
    size_t w = strlen(word);
    for (const char *p = doc; *p;) {
        size_t len = strcspn(p, " ");
        n += len == w && !strncmp(p, word, w);
        p += len + (p[len] == ' ');
    }
    return n;
}

static int n_words(const char *doc)
{
    int n = 1;
    for (const char *p = doc; *p; p++) n += *p == ' ';
    return n;
}

/* The expected -bm25() of doc d for an OR query of words. */
static double bm25_expected(int d, const char *const *words, int n_q)
{
    double total = 0, score = 0;
    for (int k = 0; k < 10; k++) total += n_words(bm25_docs[k]) + 1;
    for (int q = 0; q < n_q; q++) {
        int n = 0;
        for (int k = 0; k < 10; k++) n += count_words(bm25_docs[k], words[q]) > 0;
        int f = count_words(bm25_docs[d], words[q]);
        if (f) score += bm25_ref(f, n_words(bm25_docs[d]) + 1, total / 10, 10, n);
    }
    return score;
}

static void check_ranking(store *st, const char *query, const char *const *words, int n_q)
{
    store_hit *h;
    int n, expect_n = 0;
    for (int d = 0; d < 10; d++) expect_n += bm25_expected(d, words, n_q) > 0;
    CHECK_OK(store_fts_search(st, query, NULL, &h, &n));
    CHECK_EQ_INT(n, expect_n);
    for (int k = 0; k < n; k++) {
        store_item_info info;
        CHECK_OK(store_item_get(st, h[k].item_id, &info));
        int d = 0;
        while (d < 10 && strcmp(bm25_docs[d], info.text)) d++;
        store_item_info_free(&info);
        double e = bm25_expected(d, words, n_q);
        CHECK_MSG(fabs(h[k].score - e) <= 1e-9 + 1e-6 * e, "%s: rank %d doc %d: %g vs %g",
                  query, k, d, h[k].score, e);
        CHECK(k == 0 || h[k - 1].score >= h[k].score); /* best first */
    }
    store_hits_free(h, n);
}

static void test_bm25_matches_independent_computation(void)
{
    store *st = open_fresh();
    for (int k = 0; k < 10; k++) {
        char path[32];
        snprintf(path, sizeof path, "/c/d%d", k);
        const char *t[] = {bm25_docs[k]};
        index_texts(st, path, path, t, 1);
    }
    const char *apple[] = {"apple"}, *kd[] = {"kiwi", "date"}, *pf[] = {"pear", "fig"};
    check_ranking(st, "apple", apple, 1);
    check_ranking(st, "kiwi date", kd, 2);
    check_ranking(st, "Pear FIG", pf, 2);
    /* The apple ranking by construction: more occurrences, shorter rows. */
    store_hit *h;
    int n;
    CHECK_OK(store_fts_search(st, "apple", NULL, &h, &n));
    CHECK_EQ_INT(n, 3);
    store_item_info info;
    CHECK_OK(store_item_get(st, h[0].item_id, &info));
    CHECK(!strcmp(info.text, bm25_docs[0]));
    store_item_info_free(&info);
    CHECK(strstr(h[0].snippet, "[apple]") != NULL);
    store_hits_free(h, n);
    store_fts_opts all = {.all_terms = 1};
    CHECK_OK(store_fts_search(st, "kiwi date", &all, &h, &n));
    CHECK_EQ_INT(n, 1);
    store_hits_free(h, n);
    /* Filters: modality and path glob. */
    store_fts_opts img = {.modalities = 1u << STORE_IMAGE};
    CHECK_OK(store_fts_search(st, "apple", &img, &h, &n));
    CHECK_EQ_INT(n, 0);
    store_fts_opts glob = {.path_glob = "/c/d2"};
    CHECK_OK(store_fts_search(st, "apple", &glob, &h, &n));
    CHECK_EQ_INT(n, 1);
    store_hits_free(h, n);
    store_close(st);
}

/* The keyword search ranks bare FTS matches first and filters only the best
 * few hundred; a filter that admits only matches ranked below them must
 * still get them, in order. Doc i holds "target" once and i filler words,
 * so BM25 ranks the docs in index order by construction. */
static void test_fts_filters_beyond_the_first_candidates(void)
{
    store *st = open_fresh();
    enum { N = 300 };
    char *text = malloc(8 + 4 * N);
    for (int i = 0; i < N; i++) {
        char path[32];
        snprintf(path, sizeof path, "/r/%s/d%03d", i >= 290 ? "late" : "early", i);
        strcpy(text, "target");
        for (int k = 0; k < i; k++) strcat(text, " pad");
        const char *t[] = {text};
        index_texts(st, path, path, t, 1);
    }
    free(text);
    struct { const char *glob; int limit, first, n; } cases[] = {
        {NULL, 50, 0, 50},            /* no filter: the fast path alone */
        {"/r/late/*", 50, 290, 10},   /* only the last ranks survive */
        {"/r/late/*", 3, 290, 3},
        {"/r/*/d25?", 5, 250, 5},     /* just past the first candidates */
        {"/r/none/*", 50, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        store_fts_opts o = {.path_glob = cases[c].glob, .limit = cases[c].limit};
        store_hit *h;
        int n;
        CHECK_OK(store_fts_search(st, "target", &o, &h, &n));
        CHECK_MSG(n == cases[c].n, "case %zu: %d hits", c, n);
        for (int k = 0; k < n; k++) {
            store_item_info info;
            CHECK_OK(store_item_get(st, h[k].item_id, &info));
            int pads = 0;
            for (const char *p = info.text; (p = strstr(p, " pad")); p += 4) pads++;
            store_item_info_free(&info);
            CHECK_MSG(pads == cases[c].first + k, "case %zu rank %d: doc %d", c, k, pads);
            CHECK(strstr(h[k].snippet, "[target]") != NULL);
        }
        store_hits_free(h, n);
    }
    store_close(st);
}

static void test_fts_query_building_is_injection_safe(void)
{
    char *q;
    CHECK_OK(store_fts_build_query("cat dog", 0, &q));
    CHECK(!strcmp(q, "\"cat\" OR \"dog\""));
    free(q);
    CHECK_OK(store_fts_build_query("  \"red car\" NEAR(x) ", 1, &q));
    CHECK(!strcmp(q, "\"red car\" AND \"NEAR(x)\""));
    free(q);
    CHECK_OK(store_fts_build_query("... --- !!!", 0, &q));
    CHECK(!strcmp(q, ""));
    free(q);
    CHECK_OK(store_fts_build_query("unbalanced \"quote here", 0, &q));
    CHECK(!strcmp(q, "\"unbalanced\" OR \"quote here\""));
    free(q);

    store *st = open_fresh();
    const char *t1[] = {"apple banana"}, *t2[] = {"cherry"};
    index_texts(st, "/i/one", "1", t1, 1);
    index_texts(st, "/i/two", "2", t2, 1);
    static const char *hostile[] = {
        "apple OR", "NOT apple", "apple AND", "NEAR(apple banana)", "text:apple", "name:one",
        "apple*", "^apple", "-apple", "+apple", ")(", "\"", "\"\"\"", "'; DROP TABLE items; --",
        "{text name}: apple", "apple NOT banana", "*", ":", "\\\"apple\\\"", "a\"b\"c",
        "\xff\xfe garbage \xc3", "",
    };
    for (size_t k = 0; k < sizeof hostile / sizeof hostile[0]; k++) {
        store_hit *h;
        int n;
        CHECK_MSG(store_fts_search(st, hostile[k], NULL, &h, &n) == IRIS_OK, "query <%s>: %s",
                  hostile[k], iris_errmsg());
        store_hits_free(h, n);
    }
    /* Operators are words: "NOT banana" still finds the banana row. */
    CHECK_EQ_INT(n_hits(st, "NOT banana"), 1);
    /* A column filter in user text is not one. */
    CHECK_EQ_INT(n_hits(st, "name:cherry"), 0);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items"), 2);
    store_close(st);
}

static void test_fts_chinese_and_japanese(void)
{
    store *st = open_fresh();
    const char *a[] = {"我爱北京天安门"}, *b[] = {"北京大学是一所大学"},
               *c[] = {"上海是一个城市 with Latin words"}, *d[] = {"東京タワーの写真"},
               *e[] = {"Beijing is the capital"};
    index_texts(st, "/zh/a.txt", "a", a, 1);
    index_texts(st, "/zh/b.txt", "b", b, 1);
    index_texts(st, "/zh/c.txt", "c", c, 1);
    index_texts(st, "/zh/d.txt", "d", d, 1);
    index_texts(st, "/zh/e.txt", "e", e, 1);
    CHECK_EQ_INT(n_hits(st, "北京"), 2);
    CHECK_EQ_INT(n_hits(st, "京大"), 1);   /* only inside 北京大学 */
    CHECK_EQ_INT(n_hits(st, "上海"), 1);
    CHECK_EQ_INT(n_hits(st, "北"), 2);     /* one character */
    CHECK_EQ_INT(n_hits(st, "海上"), 0);   /* order matters */
    CHECK_EQ_INT(n_hits(st, "タワー"), 1);
    CHECK_EQ_INT(n_hits(st, "latin"), 1);  /* Latin beside Chinese, case folded */
    CHECK_EQ_INT(n_hits(st, "城市with"), 1); /* white space is no token */
    CHECK_EQ_INT(n_hits(st, "城市latin"), 0);  /* not adjacent */
    /* A sentence: bigrams, best match first. */
    store_hit *h;
    int n;
    CHECK_OK(store_fts_search(st, "天安门在北京", NULL, &h, &n));
    CHECK(n == 2);
    store_item_info info;
    CHECK_OK(store_item_get(st, h[0].item_id, &info));
    CHECK(!strcmp(info.text, "我爱北京天安门"));
    store_item_info_free(&info);
    CHECK_MSG(strstr(h[0].snippet, "[北京]") || strstr(h[0].snippet, "[北][京]"), "snippet %s",
              h[0].snippet);
    store_hits_free(h, n);
    store_close(st);
}

/* ------------------------------------------------- transactions, errors */

static void test_explicit_transactions(void)
{
    store *st = open_fresh();
    CHECK_OK(store_begin(st));
    CHECK_EQ_INT(store_begin(st), IRIS_EARG);
    const char *t[] = {"rolled back"};
    index_texts(st, "/t/1", "1", t, 1);
    CHECK_OK(store_rollback(st));
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM files"), 0);
    CHECK_EQ_INT(n_hits(st, "rolled"), 0);
    store_stats s0, s1;
    CHECK_OK(store_get_stats(st, &s0));
    CHECK_OK(store_begin(st));
    const char *u[] = {"committed"};
    index_texts(st, "/t/2", "2", u, 1);
    /* A failing call inside the batch undoes only itself. */
    CHECK_EQ_INT(store_item_add(st, 9999, &(store_item){STORE_TEXT_CHUNK, 0, 0, 0, {0}, 0, 1, "x"},
                                0, NULL, 0, NULL),
                 IRIS_EDB);
    CHECK_OK(store_commit(st));
    CHECK_EQ_INT(store_commit(st), IRIS_EARG);
    CHECK_EQ_INT(n_hits(st, "committed"), 1);
    CHECK_OK(store_get_stats(st, &s1));
    CHECK(s1.generation > s0.generation);
    /* Touching files changes no items: the generation stays. */
    int64_t g = s1.generation;
    store_file f;
    CHECK_OK(store_file_get(st, "/t/2", &f));
    CHECK_OK(store_file_touch(st, f.id));
    CHECK_OK(store_get_stats(st, &s1));
    CHECK_EQ_INT(s1.generation, g);
    CHECK_OK(store_rollback(st)); /* harmless without a transaction */
    store_close(st);
}

static void test_locked_index_and_readers(void)
{
    store *w = open_fresh(), *other, *reader;
    store_opts quick = {.busy_timeout_ms = 50};
    CHECK_OK(store_open(tpath("idx/index.db"), &quick, &other));
    store_opts ro = {.readonly = 1};
    CHECK_OK(store_open(tpath("idx/index.db"), &ro, &reader));
    CHECK_OK(store_begin(w));
    const char *t[] = {"uncommitted"};
    index_texts(w, "/l/1", "1", t, 1);
    /* A second writer waits, then fails clearly; readers are not blocked
     * and do not see the open transaction. */
    char sha[65];
    sha_of("2", sha);
    store_put f = {"/l/2", 1, 1, sha, STORE_KIND_TEXT};
    store_put_result r;
    CHECK_EQ_INT(store_file_put(other, &f, &r), IRIS_EDB);
    CHECK_MSG(strstr(iris_errmsg(), "locked") != NULL, "%s", iris_errmsg());
    CHECK_EQ_INT(n_hits(reader, "uncommitted"), 0);
    store_file got;
    CHECK_EQ_INT(store_file_get(reader, "/l/1", &got), IRIS_ENOTFOUND);
    CHECK_OK(store_commit(w));
    CHECK_EQ_INT(n_hits(reader, "uncommitted"), 1);
    CHECK_OK(store_file_put(other, &f, &r));
    /* The read-only handle refuses writes with a clear message. */
    CHECK_EQ_INT(store_file_put(reader, &f, &r), IRIS_EIO);
    CHECK(strstr(iris_errmsg(), "read-only") != NULL);
    store_close(reader);
    store_close(other);
    store_close(w);
}

static void test_disk_full_loses_nothing(void)
{
    store *st = open_fresh();
    const char *t[] = {"kept safe"};
    index_texts(st, "/f/kept", "kept", t, 1);
    store_close(st);
    int64_t pages = 0;
    CHECK_OK(store_open(tpath("idx/index.db"), NULL, &st));
    pages = scalar(st, "PRAGMA page_count");
    store_close(st);
    store_opts capped = {.max_pages = pages + 4};
    CHECK_OK(store_open(tpath("idx/index.db"), &capped, &st));
    CHECK_OK(store_begin(st));
    char big[3000];
    memset(big, 'w', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t k = 0; k < sizeof big - 1; k += 8) big[k] = ' ';
    store_put_result r = put(st, "/f/big", "big", STORE_KIND_TEXT);
    int rc = IRIS_OK;
    for (int k = 0; k < 200 && !rc; k++) {
        store_item it = {STORE_TEXT_CHUNK, k, 0, 0, {0}, 0, 1, big};
        rc = store_item_add(st, r.content.id, &it, 0, NULL, 0, NULL);
    }
    CHECK_EQ_INT(rc, IRIS_EIO);
    CHECK_MSG(strstr(iris_errmsg(), "disk full") != NULL, "%s", iris_errmsg());
    CHECK_OK(store_rollback(st));
    store_close(st);
    CHECK_OK(store_open(tpath("idx/index.db"), NULL, &st));
    CHECK_EQ_INT(n_hits(st, "safe"), 1);
    sqlite3_stmt *s;
    CHECK(sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK(!strcmp((const char *)sqlite3_column_text(s, 0), "ok"));
    sqlite3_finalize(s);
    store_close(st);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_bad_database_files(void)
{
    fresh_dir();
    store *st;
    /* Not SQLite: refused, and the file is left exactly as it was. */
    const char junk[] = "this is a text file, not a database, and it is long enough......"
                        "...............................................................";
    write_file(tpath("junk.db"), junk, sizeof junk);
    CHECK_EQ_INT(store_open(tpath("junk.db"), NULL, &st), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "not an iris index") != NULL);
    size_t n;
    char *after = test_read_file(tpath("junk.db"), &n);
    CHECK(after && n == sizeof junk && !memcmp(after, junk, n));
    free(after);
    /* Someone else's SQLite database: refused untouched. */
    sqlite3 *db;
    CHECK(sqlite3_open(tpath("other.db"), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(store_open(tpath("other.db"), NULL, &st), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "not an iris index") != NULL);
    /* An index from a newer iris. */
    CHECK_OK(store_open(tpath("new.db"), NULL, &st));
    CHECK(sqlite3_exec(st->db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    store_close(st);
    CHECK_EQ_INT(store_open(tpath("new.db"), NULL, &st), IRIS_EUNSUPPORTED);
    CHECK(strstr(iris_errmsg(), "version 99") && strstr(iris_errmsg(), "upgrade"));
    /* A folder, a missing file read-only, a path under a regular file. */
    CHECK_EQ_INT(store_open(tmpdir, NULL, &st), IRIS_EIO);
    store_opts ro = {.readonly = 1};
    CHECK_EQ_INT(store_open(tpath("absent.db"), &ro, &st), IRIS_ENOTFOUND);
    CHECK_EQ_INT(store_open(tpath("junk.db/sub/index.db"), NULL, &st), IRIS_EIO);
    CHECK(strstr(iris_errmsg(), "junk.db") != NULL);
    /* A zero-byte file is an empty database: it becomes an index. */
    write_file(tpath("empty.db"), "", 0);
    CHECK_OK(store_open(tpath("empty.db"), NULL, &st));
    store_close(st);
}

static void test_corrupt_index_reports_clearly(void)
{
    store *st = open_fresh();
    for (int k = 0; k < 200; k++) {
        char p[32];
        snprintf(p, sizeof p, "/c/%d", k);
        const char *t[] = {"some words to fill pages with text and more text"};
        index_texts(st, p, p, t, 1);
    }
    store_close(st);
    /* Overwrite the middle of the file with garbage, header intact. */
    size_t n;
    char *data = test_read_file(tpath("idx/index.db"), &n);
    CHECK(data && n > 16384);
    for (size_t i = 8192; i < n - 4096; i++) data[i] = (char)(i * 7);
    write_file(tpath("idx/index.db"), data, n);
    free(data);
    int rc = store_open(tpath("idx/index.db"), NULL, &st);
    if (rc == IRIS_OK) {
        store_stats s;
        rc = store_get_stats(st, &s);
        if (rc == IRIS_OK) rc = n_hits(st, "words") < 0 ? IRIS_EFORMAT : IRIS_OK;
        store_close(st);
    }
    CHECK_EQ_INT(rc, IRIS_EFORMAT);
    CHECK_MSG(strstr(iris_errmsg(), "corrupt") || strstr(iris_errmsg(), "not an iris index"),
              "%s", iris_errmsg());
}

static void test_read_only_folder(void)
{
    if (geteuid() == 0) SKIP("running as root: permissions are not enforced");
    store *st = open_fresh();
    const char *t[] = {"read only"};
    index_texts(st, "/r/1", "1", t, 1);
    store_close(st);
    chmod(tpath("idx/index.db"), 0444);
    chmod(tpath("idx"), 0555);
    int rc = store_open(tpath("idx/index.db"), NULL, &st);
    if (rc == IRIS_OK) {
        store_put_result r;
        store_put f = {"/r/2", 1, 1, "0000000000000000000000000000000000000000000000000000000000000000", 0};
        rc = store_file_put(st, &f, &r);
        store_close(st);
    }
    CHECK_EQ_INT(rc, IRIS_EIO);
    store_opts ro = {.readonly = 1};
    CHECK_OK(store_open(tpath("idx/index.db"), &ro, &st));
    CHECK_EQ_INT(n_hits(st, "read"), 1);
    store_close(st);
    chmod(tpath("idx"), 0755);
    CHECK_EQ_INT(store_open(tpath("idx/sub/index.db"), NULL, &st), IRIS_OK);
    store_close(st);
}

static void test_caption_cache(void)
{
    store *st = open_fresh();
    char sha[65], *cap;
    sha_of("img", sha);
    CHECK_EQ_INT(store_caption_get(st, sha, "llava", "p1", &cap), IRIS_ENOTFOUND);
    CHECK_OK(store_caption_put(st, sha, "llava", "p1", "a red apple on a table"));
    CHECK_OK(store_caption_put(st, sha, "llava", "p2", "an apple"));
    CHECK_OK(store_caption_get(st, sha, "llava", "p1", &cap));
    CHECK(!strcmp(cap, "a red apple on a table"));
    free(cap);
    CHECK_EQ_INT(store_caption_get(st, sha, "other", "p1", &cap), IRIS_ENOTFOUND);
    store_close(st);
}

/* -------------------------------------------------- concurrency, crashes */

typedef struct reader_arg {
    const char *path;
    atomic_int bad, reads, stop;
} reader_arg;

/* Every visible content must have all of its 5 items. */
static void *reader_main(void *p)
{
    reader_arg *a = p;
    store *st;
    store_opts ro = {.readonly = 1};
    if (store_open(a->path, &ro, &st)) {
        a->bad = -1;
        return NULL;
    }
    while (!a->stop) {
        int64_t partial = scalar(st, "SELECT count(*) FROM (SELECT i.content_id FROM items i"
                                     " JOIN contents c ON c.id = i.content_id WHERE c.state = 1"
                                     " GROUP BY i.content_id HAVING count(*) != 5)");
        int hits = n_hits(st, "common");
        if (partial != 0 || hits < 0 || hits % 5) a->bad++;
        a->reads++;
    }
    store_close(st);
    return NULL;
}

static void write_contents(store *st, int first, int n)
{
    for (int k = first; k < first + n; k++) {
        char p[32];
        snprintf(p, sizeof p, "/w/%d", k);
        store_begin(st);
        store_put_result r = put(st, p, p, STORE_KIND_TEXT);
        for (int i = 0; i < 5; i++) add_text(st, r.content.id, i, "common words");
        store_content_done(st, r.content.id);
        store_commit(st);
    }
}

static void test_readers_see_whole_batches(void)
{
    store *st = open_fresh();
    reader_arg a = {tpath("idx/index.db"), 0, 0, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, reader_main, &a) == 0);
    /* The writer starts once the reader reads (on a loaded machine the thread may start late). */
    for (int i = 0; i < 10000 && atomic_load(&a.reads) == 0 && !a.bad; i++) usleep(1000);
    write_contents(st, 0, 60);
    a.stop = 1;
    pthread_join(th, NULL);
    CHECK_EQ_INT(a.bad, 0);
    CHECK(a.reads > 0);
    store_close(st);
}

static void test_sigkill_leaves_consistent_index(void)
{
    store *st = open_fresh();
    store_close(st);
    srand(1234);
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            store *w;
            if (store_open(tpath("idx/index.db"), NULL, &w)) _exit(2);
            write_contents(w, round * 1000, 1000);
            _exit(0);
        }
        usleep(20000 + rand() % 60000);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK_OK(store_open(tpath("idx/index.db"), NULL, &st));
        CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM (SELECT content_id FROM items"
                                " GROUP BY content_id HAVING count(*) != 5)"),
                     0);
        CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM contents WHERE state = 0"), 0);
        CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items") * 1,
                     scalar(st, "SELECT count(*) FROM fts"));
        sqlite3_stmt *s;
        CHECK(sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(s) == SQLITE_ROW);
        CHECK(!strcmp((const char *)sqlite3_column_text(s, 0), "ok"));
        sqlite3_finalize(s);
        store_close(st);
    }
    /* The kills landed mid-run: some batches committed, not all. */
    CHECK_OK(store_open(tpath("idx/index.db"), NULL, &st));
    int64_t n = scalar(st, "SELECT count(*) FROM contents");
    store_close(st);
    CHECK_MSG(n > 0 && n < 6000, "%lld contents", (long long)n);
}

int main(void)
{
    RUN(test_open_creates_versioned_schema);
    RUN(test_migrations_are_atomic);
    RUN(test_items_vectors_and_lookups);
    RUN(test_vectors_each_sees_done_contents_only);
    RUN(test_model_recorded_and_mismatch_refused);
    RUN(test_rename_keeps_items);
    RUN(test_copies_share_one_content);
    RUN(test_changed_file_switches_atomically);
    RUN(test_resume_pending_content);
    RUN(test_skipped_files_release_content);
    RUN(test_prune_is_limited_to_roots);
    RUN(test_non_utf8_paths);
    RUN(test_bm25_matches_independent_computation);
    RUN(test_fts_filters_beyond_the_first_candidates);
    RUN(test_fts_query_building_is_injection_safe);
    RUN(test_fts_chinese_and_japanese);
    RUN(test_explicit_transactions);
    RUN(test_locked_index_and_readers);
    RUN(test_disk_full_loses_nothing);
    RUN(test_bad_database_files);
    RUN(test_corrupt_index_reports_clearly);
    RUN(test_read_only_folder);
    RUN(test_caption_cache);
    RUN(test_readers_see_whole_batches);
    RUN(test_sigkill_leaves_consistent_index);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}

/*
 * test_ingest.c - iris_index_paths() and iris_remove_path() on the tiny
 * random fixture model: what a first run stores (items per kind, a vector
 * for every item, PDF pages, boxes, figures, OCR of a scanned page), that
 * a second run over an unchanged tree does no work at all, touch / edit /
 * rename / copy / delete, bad input of every kind (each skipped with its
 * reason, nothing indexed before lost), cancellation and resumption
 * without re-encoding, a 1200-page PDF, and removal.
 *
 * Semantics (does a query find the right thing) need a trained model:
 * tests/py/test_index_e2e.py does that with models/tiny-clip.
 */
#include "test.h"

#include "model_fixtures.h"
#include "pdf_fixtures.h"

#include "iris.h"
#include "media/pdf.h"

#include <sqlite3.h>
#include <sys/time.h>
#include <unistd.h>

static char *root;
static char dbpath[600];

static const char *tp(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 600, "%s/%s", root, name);
    return p;
}

static void put(const char *name, const void *data, size_t n)
{
    FILE *f = fopen(tp(name), "wb");
    if (!f) TEST_FAIL_("cannot write %s", tp(name));
    fwrite(data, 1, n, f);
    fclose(f);
}

static void puts_file(const char *name, const char *text) { put(name, text, strlen(text)); }

static void copy_in(const char *src, const char *name)
{
    size_t n;
    char *data = test_read_file(src, &n);
    if (!data) TEST_FAIL_("cannot read %s", src);
    put(name, data, n);
    free(data);
}

/* Sets a file's mtime to t seconds (size and content unchanged). */
static void set_mtime(const char *name, time_t t)
{
    struct timeval tv[2] = {{t, 0}, {t, 0}};
    CHECK(utimes(tp(name), tv) == 0);
}

static void fresh(void)
{
    if (root && !getenv("IRIS_TEST_KEEP")) fx_drop(root);
    root = fx_tmpdir();
    CHECK(root);
    mkdir(tp("data"), 0755);
    snprintf(dbpath, sizeof dbpath, "%s/idx/index.db", root);
}

static iris_db *open_db(void)
{
    iris_db *db = NULL;
    iris_db_opts o = {.model = TINY_HF, .n_threads = 1};
    CHECK_OK(iris_db_open(dbpath, &o, &db));
    return db;
}

static int run_index(iris_index_opts *o, iris_index_summary *s)
{
    iris_db *db = open_db();
    const char *paths[] = {tp("data")};
    int rc = iris_index_paths(db, paths, 1, o, s);
    iris_db_close(db);
    return rc;
}

static void index_ok(iris_index_summary *s)
{
    iris_index_opts o = {.jobs = 2};
    CHECK_OK(run_index(&o, s));
}

/* One integer from SQL on the index (plain tables only). */
static int64_t q(const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open_v2(dbpath, &h, SQLITE_OPEN_READONLY, NULL)) TEST_FAIL_("open %s", dbpath);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL)) TEST_FAIL_("%s: %s", sql, sqlite3_errmsg(h));
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(h);
    return v;
}

/* The invariants every index must keep, whatever happened. */
static void check_consistent(void)
{
    CHECK_EQ_INT(q("SELECT count(*) FROM items i WHERE NOT EXISTS"
                   " (SELECT 1 FROM vectors v WHERE v.item_id = i.id)"), 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM (SELECT content_id, seq FROM items"
                   " GROUP BY content_id, seq HAVING count(*) > 1)"), 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM files WHERE status = 0 AND content_id IS NULL"), 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM (SELECT sha256 FROM contents GROUP BY sha256"
                   " HAVING count(*) > 1)"), 0);
}

static int64_t items_of(int modality)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM items WHERE modality = %d", modality);
    return q(sql);
}

/* A text of n sentences, each different. */
static char *long_text(int n)
{
    char *t = malloc((size_t)n * 64 + 1);
    t[0] = '\0';
    for (int i = 0; i < n; i++)
        sprintf(t + strlen(t), "Sentence number %d talks about topic %d. ", i, i % 17);
    return t;
}

/* The standard tree: 3 images, a text file, a Markdown file. */
static void basic_tree(void)
{
    mkdir(tp("data/sub"), 0755);
    copy_in("tests/fixtures/images/jpeg_420.jpg", "data/a.jpg");
    copy_in("tests/fixtures/images/png_rgb8.png", "data/b.png");
    copy_in("tests/fixtures/images/webp_lossy.webp", "data/sub/c.webp");
    char *t = long_text(150);
    puts_file("data/notes.txt", t);
    free(t);
    puts_file("data/sub/readme.md", "# Title\n\nSome *markdown* text about a [link](http://x).\n");
}

/* ------------------------------------------------------------- tests */

static void test_first_run_and_unchanged_rerun(void)
{
    fresh();
    basic_tree();
    iris_index_summary s;
    index_ok(&s);
    CHECK_EQ_INT(s.files_found, 5);
    CHECK_EQ_INT(s.added, 5);
    CHECK_EQ_INT(s.skipped + s.updated + s.moved + s.removed + s.unchanged, 0);
    CHECK_EQ_INT(s.files_hashed, 5);
    CHECK_EQ_INT(s.files_decoded, 5);
    CHECK_EQ_INT(s.images_encoded, 3);
    CHECK_EQ_INT(items_of(IRIS_MOD_IMAGE), 3);
    int64_t chunks = items_of(IRIS_MOD_TEXT);
    CHECK_MSG(chunks >= 4, "%lld text chunks", (long long)chunks); /* 150 sentences > 512 words */
    CHECK_EQ_INT(s.items_added, 3 + chunks);
    CHECK_EQ_INT(s.items_encoded, s.items_added);
    CHECK(s.texts_encoded > chunks); /* several CLIP windows per chunk */
    CHECK_EQ_INT(q("SELECT count(*) FROM contents WHERE state = 0"), 0);
    check_consistent();
    /* Chunks point back into the file with byte offsets. */
    CHECK_EQ_INT(q("SELECT min(char_start) FROM items WHERE modality = 2"), 0);
    CHECK(q("SELECT max(char_end) FROM items WHERE modality = 2") > 6000);

    iris_index_summary s2;
    index_ok(&s2);
    CHECK_EQ_INT(s2.unchanged, 5);
    CHECK_EQ_INT(s2.files_hashed + s2.files_decoded + s2.items_encoded, 0);
    CHECK_EQ_INT(s2.images_encoded + s2.texts_encoded + s2.bytes_read, 0);
    CHECK_EQ_INT(s2.added + s2.updated + s2.removed + s2.moved + s2.skipped, 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), 3 + chunks);
}

static void test_touch_edit_rename_copy_delete(void)
{
    fresh();
    basic_tree();
    iris_index_summary s;
    index_ok(&s);
    int64_t items = q("SELECT count(*) FROM items"), max_id = q("SELECT max(id) FROM items");

    /* touch: new mtime, same bytes: hashed, not decoded. */
    set_mtime("data/a.jpg", 1000000000);
    index_ok(&s);
    CHECK_EQ_INT(s.unchanged, 5);
    CHECK_EQ_INT(s.files_hashed, 1);
    CHECK_EQ_INT(s.files_decoded + s.items_encoded, 0);

    /* edit: the text changes; its chunks are replaced, nothing else. */
    puts_file("data/sub/readme.md", "# Another title\n\nCompletely new words.\n");
    index_ok(&s);
    CHECK_EQ_INT(s.updated, 1);
    CHECK_EQ_INT(s.unchanged, 4);
    CHECK_EQ_INT(s.files_decoded, 1);
    CHECK_EQ_INT(s.images_encoded, 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), items);
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE text LIKE '%markdown%'"), 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE text LIKE '%Completely new words%'"), 1);

    /* rename + move into another folder: items kept, nothing encoded. */
    CHECK(rename(tp("data/b.png"), tp("data/sub/b-renamed.png")) == 0);
    CHECK(rename(tp("data/notes.txt"), tp("data/notes-moved.txt")) == 0);
    index_ok(&s);
    CHECK_EQ_INT(s.moved, 2);
    CHECK_EQ_INT(s.added + s.removed + s.updated, 0);
    CHECK_EQ_INT(s.files_hashed, 2);
    CHECK_EQ_INT(s.files_decoded + s.items_encoded, 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), items);
    CHECK_EQ_INT(q("SELECT count(*) FROM files"), 5);
    CHECK(q("SELECT count(*) FROM items WHERE id > (SELECT max(id) FROM items) - 0") >= 0);
    (void)max_id;

    /* copy: a second path to the same content; no new items. */
    copy_in(tp("data/a.jpg"), "data/a-copy.jpg");
    index_ok(&s);
    CHECK_EQ_INT(s.added, 1);
    CHECK_EQ_INT(s.files_decoded + s.items_encoded, 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), items);
    CHECK_EQ_INT(q("SELECT count(*) FROM files"), 6);

    /* delete the original: the copy keeps the content. Then the copy. */
    CHECK(unlink(tp("data/a.jpg")) == 0);
    index_ok(&s);
    CHECK_EQ_INT(s.removed, 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), items);
    CHECK(unlink(tp("data/a-copy.jpg")) == 0);
    index_ok(&s);
    CHECK_EQ_INT(s.removed, 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), items - 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM files"), 4);
    check_consistent();
}

static void test_two_copies_in_one_run(void)
{
    fresh();
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "data/copy%d.jpg", i);
        copy_in("tests/fixtures/images/jpeg_444.jpg", name);
    }
    iris_index_summary s;
    index_ok(&s);
    CHECK_EQ_INT(s.added, 6);
    CHECK_EQ_INT(s.files_decoded, 1);
    CHECK_EQ_INT(s.images_encoded, 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM files WHERE content_id IS NOT NULL"), 6);
    CHECK_EQ_INT(q("SELECT count(*) FROM contents WHERE state = 1"), 1);
    check_consistent();
}

static void test_prune_only_under_roots(void)
{
    fresh();
    mkdir(tp("other"), 0755);
    copy_in("tests/fixtures/images/jpeg_444.jpg", "data/x.jpg");
    copy_in("tests/fixtures/images/png_rgb8.png", "other/y.png");
    iris_db *db = open_db();
    const char *both[] = {tp("data"), tp("other")};
    iris_index_summary s;
    CHECK_OK(iris_index_paths(db, both, 2, NULL, &s));
    CHECK_EQ_INT(s.added, 2);
    /* A run over data/ only never touches other/. */
    CHECK(unlink(tp("other/y.png")) == 0);
    const char *one[] = {tp("data")};
    CHECK_OK(iris_index_paths(db, one, 1, NULL, &s));
    CHECK_EQ_INT(s.removed, 0);
    CHECK_EQ_INT(q("SELECT count(*) FROM files"), 2);
    /* Nested roots are walked once. */
    const char *nested[] = {tp("data"), tp("data/x.jpg"), tp("data/.")};
    CHECK_OK(iris_index_paths(db, nested, 3, NULL, &s));
    CHECK_EQ_INT(s.files_found, 1);
    /* --no-prune keeps entries of vanished files. */
    iris_index_opts np = {.no_prune = 1};
    CHECK_OK(iris_index_paths(db, both, 2, &np, &s));
    CHECK_EQ_INT(q("SELECT count(*) FROM files"), 2);
    CHECK_OK(iris_index_paths(db, both, 2, NULL, &s));
    CHECK_EQ_INT(s.removed, 1);
    /* A root that does not exist is a skip, not a prune; all missing fails. */
    const char *gone[] = {tp("data"), tp("missing")};
    CHECK_OK(iris_index_paths(db, gone, 2, NULL, &s));
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_UNREADABLE], 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM files"), 1);
    const char *none[] = {tp("missing")};
    CHECK_FAILS(iris_index_paths(db, none, 1, NULL, &s), IRIS_ENOTFOUND, "does not exist");
    CHECK_FAILS(iris_index_paths(db, none, 0, NULL, &s), IRIS_EARG, "no paths");
    iris_db_close(db);
}

/* --------------------------------------------------------- bad input */

typedef struct logbook {
    char text[4096];
    int n[3];
} logbook;

static void on_log(int what, int reason, const char *path, const char *msg, void *user)
{
    logbook *b = user;
    size_t n = strlen(b->text);
    const char *base = strrchr(path, '/');
    snprintf(b->text + n, sizeof b->text - n, "%d %s %s: %s\n", what, iris_skip_name(reason),
             base ? base + 1 : path, msg);
    if (what >= 0 && what < 3) b->n[what]++;
}

static void draw_words(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)user;
    fz_font *helv = fz_new_base14_font(ctx, "Helvetica");
    char line[64];
    snprintf(line, sizeof line, "Quarterly report page %d about zebras", page + 1);
    fx_text(ctx, dev, helv, 14, 72, 100, line);
    fz_drop_font(ctx, helv);
}

static void test_bad_input(void)
{
    fresh();
    copy_in("tests/fixtures/images/jpeg_420.jpg", "data/good.jpg");
    copy_in("tests/fixtures/images/hostile_truncated.jpg", "data/truncated.jpg");
    copy_in("tests/fixtures/images/hostile_truncated.png", "data/truncated.png");
    copy_in("tests/fixtures/images/hostile_bomb.png", "data/huge.png");
    copy_in("tests/fixtures/images/hostile_heic.heic", "data/photo.heic");
    copy_in("tests/fixtures/images/hostile_zero_width.png", "data/zero-width.png");
    put("data/empty.jpg", "", 0);
    put("data/binary.txt", "a\0b\0\0\0c\0\0", 9);
    puts_file("data/fake.pdf", "%PDF-1.7\nthis is not really a PDF at all\n");
    CHECK(fx_write_pdf(tp("data/locked.pdf"), "encrypt=aes-256,user-password=secret,owner-password=o",
                       NULL, 2, 300, 300, draw_words, NULL) == 0);
    CHECK(mkfifo(tp("data/pipe.txt"), 0644) == 0);
    CHECK(symlink(".", tp("data/loop")) == 0);
    CHECK(symlink("missing.jpg", tp("data/dangling.jpg")) == 0);
    char bad_name[64];
    snprintf(bad_name, sizeof bad_name, "data/caf\xe9-\x01-\xff.txt");
    puts_file(bad_name, "a file whose name is not UTF-8");
    logbook b;
    memset(&b, 0, sizeof b);
    iris_index_opts o = {.log = on_log, .user = &b};
    iris_index_summary s;
    CHECK_OK(run_index(&o, &s));
    CHECK_MSG(s.added == 2, "%lld added\n%.900s", (long long)s.added, b.text); /* good.jpg, the odd name */
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_CORRUPT], 4);   /* truncated x2, zero width, fake pdf */
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_TOO_LARGE], 1); /* the bomb */
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_UNSUPPORTED], 3); /* heic, encrypted, binary text */
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_EMPTY], 1);
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_SPECIAL], 1);
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_LOOP], 1);
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_UNREADABLE], 1); /* dangling link */
    CHECK_EQ_INT(s.skipped, 12);
    CHECK_EQ_INT(b.n[IRIS_LOG_SKIP], 12);
    CHECK_MSG(strstr(b.text, "encrypted"), "%.900s", b.text);
    CHECK_MSG(strstr(b.text, "HEIF"), "%.900s", b.text);
    /* The odd name is stored byte for byte. */
    CHECK_EQ_INT(q("SELECT count(*) FROM files WHERE hex(path) LIKE '%636166E9' || '2D012DFF2E747874'"), 1);
    check_consistent();

    /* Second run: the broken files are not read again, still counted. */
    memset(&b, 0, sizeof b);
    CHECK_OK(run_index(&o, &s));
    CHECK_EQ_INT(s.skipped, 12);
    CHECK_EQ_INT(s.files_hashed + s.files_decoded, 0);
    CHECK_MSG(strstr(b.text, "truncated.jpg"), "%.900s", b.text);

    /* A good file turning bad is skipped; the rest is untouched. */
    int64_t before = q("SELECT count(*) FROM items");
    copy_in("tests/fixtures/images/hostile_truncated.jpg", "data/good.jpg");
    set_mtime("data/good.jpg", 1200000000);
    CHECK_OK(run_index(&o, &s));
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_CORRUPT], 5);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), before - 1);
    /* Repaired: indexed again. */
    copy_in("tests/fixtures/images/jpeg_420.jpg", "data/good.jpg");
    CHECK_OK(run_index(&o, &s));
    CHECK_EQ_INT(s.updated, 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), before);
    check_consistent();
}

static void test_pixel_limit_and_text_limit(void)
{
    fresh();
    copy_in("tests/fixtures/images/jpeg_large_odd.jpg", "data/big.jpg");
    char *t = long_text(100);
    puts_file("data/big.txt", t);
    free(t);
    iris_index_opts o = {.max_pixels = 1000, .max_text_bytes = 100};
    iris_index_summary s;
    CHECK_OK(run_index(&o, &s));
    CHECK_EQ_INT(s.skipped_by[IRIS_SKIP_TOO_LARGE], 2);
    CHECK_EQ_INT(q("SELECT count(*) FROM items"), 0);
}

/* ---------------------------------------------------------------- PDF */

static iris_image scan_img;

static void px_red_blue(unsigned char *p, int x, int y, void *u)
{
    (void)y, (void)u;
    p[0] = x < 60 ? 220 : 20, p[1] = 30, p[2] = x < 60 ? 20 : 220;
}

static void draw_doc(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)user;
    fz_font *helv = fz_new_base14_font(ctx, "Helvetica");
    if (page == 0) {
        fx_text(ctx, dev, helv, 18, 72, 90, "Installation guide");
        for (int i = 0; i < 30; i++) {
            char line[128];
            snprintf(line, sizeof line, "Step %d: tighten bolt number %d with the wrench.", i, i);
            fx_text(ctx, dev, helv, 10, 72, 120 + 14 * i, line);
        }
    } else if (page == 1) {
        fx_text(ctx, dev, helv, 12, 72, 90, "Figure 1: the assembled product");
        fz_image *img = fx_image(ctx, fz_device_rgb(ctx), 120, 90, px_red_blue, NULL, NULL);
        fx_draw_image(ctx, dev, img, 100, 120, 340, 300);
        fz_drop_image(ctx, img);
    } else if (page == 2) {
        fz_image *img = fx_image_from_rgb(ctx, scan_img.rgb, scan_img.width, scan_img.height);
        fx_draw_image(ctx, dev, img, 0, 0, 612, 792);
        fz_drop_image(ctx, img);
    }
    fz_drop_font(ctx, helv);
}

static void draw_scan_text(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)page, (void)user;
    fz_font *helv = fz_new_base14_font(ctx, "Helvetica");
    fx_text(ctx, dev, helv, 28, 72, 150, "Warranty card");
    fx_text(ctx, dev, helv, 28, 72, 200, "Serial number lookup");
    fz_drop_font(ctx, helv);
}

static int have_tessdata(void)
{
    return test_path_exists("/usr/share/tesseract-ocr/5/tessdata/eng.traineddata");
}

static void test_pdf_text_figures_and_scan(void)
{
    fresh();
    /* The scanned page: a text page rendered to pixels, placed as an image. */
    CHECK(fx_write_pdf(tp("scan-src.pdf"), NULL, NULL, 1, 612, 792, draw_scan_text, NULL) == 0);
    pdfdoc *d;
    CHECK_OK(pdfdoc_open(tp("scan-src.pdf"), NULL, &d));
    CHECK_OK(pdfdoc_render(d, 0, 150, 0, &scan_img, NULL));
    pdfdoc_close(d);
    /* Page 4 is blank: nothing to OCR. */
    CHECK(fx_write_pdf(tp("data/manual.pdf"), NULL, "Product Manual", 4, 612, 792, draw_doc, NULL) == 0);
    iris_image_free(&scan_img);
    logbook b;
    memset(&b, 0, sizeof b);
    iris_index_opts o = {.log = on_log, .user = &b};
    iris_index_summary s;
    CHECK_OK(run_index(&o, &s));
    CHECK_EQ_INT(s.added, 1);
    CHECK_EQ_INT(s.pdf_pages, 4);
    CHECK_EQ_INT(s.pages_failed, 0);
    check_consistent();
    /* Page 1: text chunks with their page and a box inside the text area. */
    CHECK(q("SELECT count(*) FROM items WHERE modality = 3 AND page = 1") >= 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE modality = 3 AND page = 1 AND text LIKE "
                   "'%tighten bolt number 29%'"), 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE modality = 3 AND NOT (x0 >= 60 AND y0 >= 60"
                   " AND x1 <= 612 AND y1 <= 792 AND x0 < x1 AND y0 < y1)"), 0);
    /* Page 2: the caption as text, the picture as a figure with its box. */
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE modality = 3 AND page = 2 AND text LIKE "
                   "'%assembled product%'"), 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE modality = 4"), 2); /* + the scan itself */
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE modality = 4 AND page = 3 AND x1 - x0 > 600"), 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE modality = 4 AND page = 2 AND abs(x0 - 100) < 1"
                   " AND abs(y0 - 120) < 1 AND abs(x1 - 340) < 1 AND abs(y1 - 300) < 1"), 1);
    CHECK_EQ_INT(s.images_encoded, 2);
    CHECK_EQ_INT(q("SELECT count(*) FROM contents WHERE title = 'Product Manual'"), 1);
    /* Page 3 has no text layer: rendered and OCR'd; blank page 4 is not. */
    if (!have_tessdata()) SKIP("Tesseract's eng data is not installed: OCR part not checked");
    CHECK_MSG(s.ocr_runs == 1, "%lld OCR runs\n%.900s", (long long)s.ocr_runs, b.text);
    CHECK_MSG(q("SELECT count(*) FROM items WHERE modality = 5 AND page = 3 AND text LIKE "
                "'%Warranty%' AND text LIKE '%Serial%'") == 1, "%.900s", b.text);
    /* Not OCR'd when asked not to. */
    fresh();
    CHECK(fx_write_pdf(tp("data/m.pdf"), NULL, NULL, 1, 612, 792, draw_scan_text, NULL) == 0);
    iris_index_opts off = {.pdf_ocr = -1, .pdf_figures = -1};
    CHECK_OK(run_index(&off, &s));
    CHECK_EQ_INT(s.ocr_runs, 0);
}

static void test_ocr_images(void)
{
    if (!have_tessdata()) SKIP("Tesseract's eng data is not installed");
    fresh();
    CHECK(fx_write_pdf(tp("src.pdf"), NULL, NULL, 1, 612, 300, draw_scan_text, NULL) == 0);
    pdfdoc *d;
    iris_image img;
    CHECK_OK(pdfdoc_open(tp("src.pdf"), NULL, &d));
    CHECK_OK(pdfdoc_render(d, 0, 100, 0, &img, NULL));
    pdfdoc_close(d);
    /* A screenshot-like PNG of known words, written with the BMP helper
     * would be lossless too; PPM-free route: encode through a PDF figure is
     * not an image file, so write a BMP by hand (24-bit, bottom-up). */
    size_t row = ((size_t)img.width * 3 + 3) & ~(size_t)3, n = 54 + row * img.height;
    unsigned char *bmp = calloc(1, n);
    memcpy(bmp, "BM", 2);
    uint32_t v[] = {(uint32_t)n, 0, 54, 40, (uint32_t)img.width, (uint32_t)img.height};
    for (int k = 0; k < 6; k++) memcpy(bmp + 2 + 4 * k, &v[k], 4);
    bmp[26] = 1, bmp[28] = 24;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            const unsigned char *p = img.rgb + ((size_t)(img.height - 1 - y) * img.width + x) * 3;
            unsigned char *o = bmp + 54 + row * y + 3 * (size_t)x;
            o[0] = p[2], o[1] = p[1], o[2] = p[0];
        }
    put("data/screenshot.bmp", bmp, n);
    free(bmp);
    iris_image_free(&img);
    iris_index_opts o = {.ocr = 1};
    iris_index_summary s;
    CHECK_OK(run_index(&o, &s));
    CHECK_EQ_INT(s.ocr_runs, 1);
    CHECK_EQ_INT(items_of(IRIS_MOD_IMAGE), 1);
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE modality = 5 AND page = 0 AND text LIKE "
                   "'%Warranty%'"), 1);
    check_consistent();
}

static void draw_numbered(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)user;
    fz_font *helv = fz_new_base14_font(ctx, "Helvetica");
    char line[96];
    snprintf(line, sizeof line, "Page %d of the long manual mentions part %d.", page + 1, page * 7);
    fx_text(ctx, dev, helv, 12, 72, 72, line);
    fz_drop_font(ctx, helv);
}

static void test_big_pdf(void)
{
    fresh();
    CHECK(fx_write_pdf(tp("data/long.pdf"), NULL, NULL, 1200, 612, 200, draw_numbered, NULL) == 0);
    iris_index_summary s;
    index_ok(&s);
    CHECK_EQ_INT(s.pdf_pages, 1200);
    CHECK_EQ_INT(q("SELECT count(DISTINCT page) FROM items WHERE modality = 3"), 1200);
    CHECK_EQ_INT(q("SELECT count(*) FROM items WHERE page = 777 AND text LIKE '%part 5432%'"), 1);
    check_consistent();
}

/* ------------------------------------------------- cancel and resume */

typedef struct stopper {
    volatile int flag;
    int64_t after_pages, after_files;
} stopper;

static void stop_when(const iris_index_progress *p, void *user)
{
    stopper *st = user;
    if ((st->after_pages && p->pages_done >= st->after_pages) ||
        (st->after_files && p->todo_done >= st->after_files))
        st->flag = 1;
}

static void test_cancel_and_resume(void)
{
    fresh();
    for (int i = 0; i < 30; i++) {
        char name[64], text[160];
        snprintf(name, sizeof name, "data/t%02d.txt", i);
        snprintf(text, sizeof text, "Document %d is about subject %d and nothing else.", i, i * 13);
        puts_file(name, text);
    }
    CHECK(fx_write_pdf(tp("data/z.pdf"), NULL, NULL, 300, 612, 200, draw_numbered, NULL) == 0);
    stopper st = {.after_files = 10};
    iris_index_opts o = {.batch = 2, .jobs = 1, .progress = stop_when, .user = &st,
                         .cancel = &st.flag};
    iris_index_summary s;
    CHECK_FAILS(run_index(&o, &s), IRIS_ECANCELLED, "cancelled");
    int64_t kept = q("SELECT count(*) FROM items");
    CHECK(kept >= 10 && kept < 330);
    check_consistent();
    /* Stop again in the middle of the PDF. */
    st = (stopper){.after_pages = 120};
    CHECK_FAILS(run_index(&o, &s), IRIS_ECANCELLED, "cancelled");
    int64_t kept2 = q("SELECT count(*) FROM items"), pdf_done = q("SELECT progress FROM contents"
                                                                  " WHERE kind = 2");
    CHECK_MSG(pdf_done >= 100 && pdf_done < 300, "pdf progress %lld", (long long)pdf_done);
    CHECK_EQ_INT(q("SELECT count(*) FROM contents WHERE kind = 2 AND state = 0"), 1);
    check_consistent();
    /* Finish: only what is missing is encoded. */
    iris_index_opts plain = {.batch = 2};
    CHECK_OK(run_index(&plain, &s));
    int64_t total = q("SELECT count(*) FROM items");
    CHECK_EQ_INT(total, 330);
    CHECK_EQ_INT(s.items_encoded, total - kept2);
    CHECK_EQ_INT(s.pdf_pages, 300 - pdf_done);
    CHECK_EQ_INT(q("SELECT count(*) FROM contents WHERE state = 0"), 0);
    CHECK_EQ_INT(q("SELECT count(DISTINCT page) FROM items WHERE modality = 3"), 300);
    check_consistent();
}

/* ------------------------------------------------------------ remove */

static void test_remove(void)
{
    fresh();
    basic_tree();
    iris_index_summary s;
    index_ok(&s);
    iris_db *db = open_db();
    int64_t n;
    CHECK_OK(iris_remove_path(db, tp("data/sub"), &n));
    CHECK_EQ_INT(n, 2);
    CHECK_OK(iris_remove_path(db, tp("data/a.jpg"), &n));
    CHECK_EQ_INT(n, 1);
    CHECK_FAILS(iris_remove_path(db, tp("data/a.jpg"), &n), IRIS_ENOTFOUND, "nothing indexed");
    CHECK_FAILS(iris_remove_path(db, "", &n), IRIS_EARG, "no path");
    iris_db_close(db);
    CHECK_EQ_INT(q("SELECT count(*) FROM files"), 2);
    CHECK_EQ_INT(items_of(IRIS_MOD_IMAGE), 1);
    check_consistent();
    /* A read-only handle refuses both. */
    iris_db_opts ro = {.readonly = 1};
    CHECK_OK(iris_db_open(dbpath, &ro, &db));
    const char *p[] = {tp("data")};
    CHECK_FAILS(iris_index_paths(db, p, 1, NULL, &s), IRIS_EARG, "read-only");
    CHECK_FAILS(iris_remove_path(db, tp("data"), &n), IRIS_EARG, "read-only");
    iris_db_close(db);
}

int main(void)
{
    unsetenv("IRIS_MODEL");
    RUN(test_first_run_and_unchanged_rerun);
    RUN(test_touch_edit_rename_copy_delete);
    RUN(test_two_copies_in_one_run);
    RUN(test_prune_only_under_roots);
    RUN(test_bad_input);
    RUN(test_pixel_limit_and_text_limit);
    RUN(test_pdf_text_figures_and_scan);
    RUN(test_ocr_images);
    RUN(test_big_pdf);
    RUN(test_cancel_and_resume);
    RUN(test_remove);
    if (root) fx_drop(root);
    return test_summary();
}

/*
 * fts.c - BM25 keyword search: the "iris" FTS5 tokenizer, safe query
 * building from user text, and the ranked query with snippets.
 *
 * Tokenizer. SQLite's unicode61 tokenizer (case folding, diacritics
 * removed) is right for space-separated scripts, but it treats a run of
 * Chinese characters as one token, so "北京" would never match inside
 * "我爱北京天安门". The "iris" tokenizer wraps unicode61 and emits every
 * CJK character (utf8_is_cjk) as a token of its own, with exact byte
 * offsets so snippet() highlights the original text. A CJK query term is
 * then a phrase of characters, which FTS5 matches only where they are
 * adjacent: exact substring search for Chinese and Japanese of any length,
 * including the two-character words the trigram tokenizer cannot find.
 * Text with no byte that can start a CJK character goes straight to
 * unicode61. Changing what this tokenizer emits needs a migration that
 * rebuilds the fts table.
 *
 * Query building. User text is never passed to MATCH: it is cut into
 * terms at white space (a double-quoted part stays one phrase) and each
 * term becomes an FTS5 string "..." (quotes doubled), so operators,
 * column filters, NEAR, ^ and * in the input are plain text. Terms are
 * joined by OR (rank by BM25, more matched terms rank higher) or AND.
 * In OR mode an unquoted CJK run longer than two characters becomes
 * overlapping bigrams, so a Chinese sentence finds passages sharing its
 * words instead of requiring the whole sentence verbatim.
 */
#include "store/internal.h"

#include "text/utf8.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define MAX_QUERY_TERMS 64

/* ------------------------------------------------------------ tokenizer */

typedef struct iris_tokenizer {
    fts5_tokenizer inner_api;
    Fts5Tokenizer *inner;
} iris_tokenizer;

/* unicode61 tokens of a sub-span, with offsets moved to the full text. */
typedef struct span_ctx {
    void *ctx;
    int (*emit)(void *, int, const char *, int, int, int);
    int offset;
} span_ctx;

static int span_emit(void *p, int tflags, const char *tok, int n, int start, int end)
{
    span_ctx *c = p;
    return c->emit(c->ctx, tflags, tok, n, start + c->offset, end + c->offset);
}

static int tok_create(void *api_ptr, const char **args, int n_args, Fts5Tokenizer **out)
{
    fts5_api *api = api_ptr;
    static const char *inner_args[] = {"remove_diacritics", "2"};
    (void)args, (void)n_args;
    iris_tokenizer *t = sqlite3_malloc(sizeof *t);
    if (!t) return SQLITE_NOMEM;
    void *ud = NULL;
    int rc = api->xFindTokenizer(api, "unicode61", &ud, &t->inner_api);
    if (rc == SQLITE_OK) rc = t->inner_api.xCreate(ud, inner_args, 2, &t->inner);
    if (rc != SQLITE_OK) {
        sqlite3_free(t);
        return rc;
    }
    *out = (Fts5Tokenizer *)t;
    return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *p)
{
    iris_tokenizer *t = (iris_tokenizer *)p;
    t->inner_api.xDelete(t->inner);
    sqlite3_free(t);
}

static int has_cjk_lead(const char *s, int n)
{
    /* CJK starts at U+2E80 (lead byte E2); below that no lead byte. */
    for (int i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0xE2) return 1;
    return 0;
}

static int tok_run(Fts5Tokenizer *p, void *ctx, int flags, const char *text, int n,
                   int (*emit)(void *, int, const char *, int, int, int))
{
    iris_tokenizer *t = (iris_tokenizer *)p;
    if (!has_cjk_lead(text, n)) return t->inner_api.xTokenize(t->inner, ctx, flags, text, n, emit);
    span_ctx sc = {ctx, emit, 0};
    size_t i = 0, span = 0;
    int rc = SQLITE_OK;
    while (rc == SQLITE_OK && i < (size_t)n) {
        size_t at = i;
        uint32_t cp = utf8_next(text, (size_t)n, &i);
        if (!utf8_is_cjk(cp)) continue;
        if (at > span) {
            sc.offset = (int)span;
            rc = t->inner_api.xTokenize(t->inner, &sc, flags, text + span, (int)(at - span),
                                        span_emit);
        }
        if (rc == SQLITE_OK) rc = emit(ctx, 0, text + at, (int)(i - at), (int)at, (int)i);
        span = i;
    }
    if (rc == SQLITE_OK && span < (size_t)n) {
        sc.offset = (int)span;
        rc = t->inner_api.xTokenize(t->inner, &sc, flags, text + span, n - (int)span, span_emit);
    }
    return rc;
}

int store_fts_register(store *st)
{
    fts5_api *api = NULL;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT fts5(?1)", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_pointer(s, 1, &api, "fts5_api_ptr", NULL);
        sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK) return store_sqlerr(st, rc, "finding FTS5");
    if (!api || api->iVersion < 2)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: this SQLite has no FTS5", st->path);
    fts5_tokenizer tk = {tok_create, tok_delete, tok_run};
    rc = api->xCreateTokenizer(api, "iris", api, &tk, NULL);
    return rc == SQLITE_OK ? IRIS_OK : store_sqlerr(st, rc, "registering the FTS tokenizer");
}

/* ------------------------------------------------------- query building */

typedef struct qbuf {
    iris_buf b;
    int terms;
    const char *sep; /* " OR " or " AND " */
} qbuf;

/* Something unicode61 or our CJK split would index: ASCII letters and
 * digits, or any non-ASCII character except spaces (a term of only
 * punctuation would be an empty phrase). */
static int has_word_char(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return 1;
            i++;
            continue;
        }
        uint32_t cp = utf8_next(s, n, &i);
        if (!utf8_is_space(cp) && !(cp >= 0x2000 && cp <= 0x206F) &&
            !(cp >= 0x3000 && cp <= 0x3004) && !(cp >= 0xFF01 && cp <= 0xFF0F))
            return 1;
    }
    return 0;
}

/* Appends one FTS5 string for s[0..n), quotes doubled. */
static int q_phrase(qbuf *q, const char *s, size_t n)
{
    if (!has_word_char(s, n) || q->terms >= MAX_QUERY_TERMS) return IRIS_OK;
    int rc = q->terms ? iris_buf_str(&q->b, q->sep) : IRIS_OK;
    if (!rc) rc = iris_buf_str(&q->b, "\"");
    for (size_t i = 0; !rc && i < n; i++)
        rc = iris_buf_add(&q->b, s[i] == '"' ? "\"\"" : s + i, s[i] == '"' ? 2 : 1, 0);
    if (!rc) rc = iris_buf_str(&q->b, "\"");
    if (!rc) q->terms++;
    return rc;
}

/* An unquoted term in OR mode: CJK runs of 3+ characters become bigrams,
 * the rest of the term stays whole between them. */
static int q_split_term(qbuf *q, const char *s, size_t n)
{
    size_t i = 0, plain = 0; /* s[plain..i) is not emitted yet */
    int rc = IRIS_OK;
    while (!rc && i < n) {
        size_t starts[MAX_QUERY_TERMS + 1], k = 0, j = i;
        while (j < n && k < MAX_QUERY_TERMS) { /* measure the CJK run at i */
            size_t at = j;
            if (!utf8_is_cjk(utf8_next(s, n, &j))) {
                j = at;
                break;
            }
            starts[k++] = at;
        }
        if (k == 0) {
            utf8_next(s, n, &i);
            continue;
        }
        if (k >= 3) {
            if (i > plain) rc = q_phrase(q, s + plain, i - plain);
            starts[k] = j;
            for (size_t b = 0; !rc && b + 2 <= k; b++)
                rc = q_phrase(q, s + starts[b], starts[b + 2] - starts[b]);
            plain = j;
        }
        i = j;
    }
    if (!rc && plain < n) rc = q_phrase(q, s + plain, n - plain);
    return rc;
}

int store_fts_build_query(const char *query, int all_terms, char **out)
{
    *out = NULL;
    qbuf q = {{0}, 0, all_terms ? " AND " : " OR "};
    int rc = IRIS_OK;
    size_t n = query ? strlen(query) : 0, i = 0;
    while (!rc && i < n) {
        size_t at = i;
        if (utf8_is_space(utf8_next(query, n, &i))) continue;
        if (query[at] == '"') { /* a quoted phrase, to the next quote or the end */
            const char *end = memchr(query + at + 1, '"', n - at - 1);
            size_t stop = end ? (size_t)(end - query) : n;
            rc = q_phrase(&q, query + at + 1, stop - at - 1);
            i = end ? stop + 1 : n;
            continue;
        }
        size_t j = at;
        while (j < n && query[j] != '"') {
            size_t k = j;
            if (utf8_is_space(utf8_next(query, n, &k))) break;
            j = k;
        }
        rc = all_terms ? q_phrase(&q, query + at, j - at) : q_split_term(&q, query + at, j - at);
        i = j;
    }
    if (rc) {
        iris_buf_free(&q.b);
        return rc;
    }
    return iris_buf_take(&q.b, out, NULL);
}

/* ----------------------------------------------------------------- search */

static int push_hit(store_hit **hits, int *n, int *cap, sqlite3_stmt *s)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        store_hit *h = realloc(*hits, (size_t)c * sizeof *h);
        if (!h) return iris_fail(IRIS_ENOMEM, "no memory for search hits");
        *hits = h;
        *cap = c;
    }
    const char *snip = (const char *)sqlite3_column_text(s, 2);
    store_hit *h = &(*hits)[*n];
    h->item_id = sqlite3_column_int64(s, 0);
    h->score = sqlite3_column_double(s, 1);
    h->snippet = strdup(snip ? snip : "");
    if (!h->snippet) return iris_fail(IRIS_ENOMEM, "no memory for search hits");
    (*n)++;
    return IRIS_OK;
}

/* Exact query: every match joined with its item and content, filtered,
 * ranked. Its cost grows with the number of matches (two B-tree lookups
 * each), not with the LIMIT. */
static const char full_sql[] =
    "SELECT fts.rowid, -bm25(fts) AS score, snippet(fts, -1, ?2, ?3, '…', ?4)"
    " FROM fts JOIN items i ON i.id = fts.rowid JOIN contents c ON c.id = i.content_id"
    " WHERE fts MATCH ?1 AND c.state = 1 AND ((?5 >> i.modality) & 1)"
    " AND (?6 IS NULL OR EXISTS (SELECT 1 FROM files f"
    "      WHERE (f.content_id = c.id OR f.prev_content_id = c.id) AND f.path GLOB ?6))"
    " ORDER BY score DESC, fts.rowid LIMIT ?7";

/* Fast path, three stages: rank the bare FTS index (no joins) and keep the
 * best ?8 matches; join and filter those, keeping LIMIT; only then re-enter
 * the FTS index for snippet() on at most LIMIT rows. Filtering keeps the
 * order, so when LIMIT rows survive they are exactly the rows the full
 * query returns. The last column tells how many candidates there were:
 * fewer than ?8 means every match was a candidate. snippet() costs ~25 us
 * a row, so it must never see a row that will not be returned: a sort
 * computes its result columns for every input row. */
static const char fast_sql[] =
    "WITH top(id, score) AS MATERIALIZED ("
    "  SELECT rowid, -bm25(fts) FROM fts WHERE fts MATCH ?1"
    "  ORDER BY 2 DESC, rowid LIMIT ?8),"
    " kept(id, score) AS MATERIALIZED ("
    "  SELECT top.id, top.score FROM top"
    "  CROSS JOIN items i ON i.id = top.id CROSS JOIN contents c ON c.id = i.content_id"
    "  WHERE c.state = 1 AND ((?5 >> i.modality) & 1)"
    "  AND (?6 IS NULL OR EXISTS (SELECT 1 FROM files f"
    "       WHERE (f.content_id = c.id OR f.prev_content_id = c.id) AND f.path GLOB ?6))"
    "  ORDER BY top.score DESC, top.id LIMIT ?7)"
    " SELECT kept.id, kept.score, snippet(fts, -1, ?2, ?3, '…', ?4),"
    "  (SELECT count(*) FROM top)"
    " FROM kept CROSS JOIN fts ON fts.rowid = kept.id"
    " WHERE fts MATCH ?1 ORDER BY kept.score DESC, kept.id";

/* Candidates the fast path ranks: enough that typical filters (a modality,
 * a folder) still leave LIMIT rows. */
#define FAST_CANDIDATES(limit) ((limit) * 4 > 200 ? (limit) * 4 : 200)

/* Runs one of the two queries. *exhausted (fast path only) is set when the
 * candidates were every match, so a short list is the true answer. */
static int run_search(store *st, const char *sql, const char *expr, const store_fts_opts *o,
                      int limit, store_hit **hits, int *n_hits, int *exhausted)
{
    sqlite3_stmt *s;
    /* Prepared per call: FTS5 plans depend on the expression. */
    int r = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (r != SQLITE_OK) return store_sqlerr(st, r, "preparing a keyword search");
    sqlite3_bind_text(s, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, o->hl_open ? o->hl_open : "[", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, o->hl_close ? o->hl_close : "]", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, o->snippet_tokens > 0 ? (o->snippet_tokens < 64 ? o->snippet_tokens : 64) : 16);
    sqlite3_bind_int64(s, 5, o->modalities ? o->modalities : STORE_ALL_MODALITIES);
    store_bind_text(s, 6, o->path_glob);
    sqlite3_bind_int(s, 7, limit);
    if (sqlite3_bind_parameter_count(s) >= 8) sqlite3_bind_int(s, 8, FAST_CANDIDATES(limit));
    int cap = 0, rc = IRIS_OK;
    if (exhausted) *exhausted = 0;
    while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
        rc = push_hit(hits, n_hits, &cap, s);
        if (exhausted) *exhausted = sqlite3_column_int(s, 3) < FAST_CANDIDATES(limit);
    }
    if (!rc && r != SQLITE_DONE) rc = store_sqlerr(st, r, "running a keyword search");
    sqlite3_finalize(s);
    return rc;
}

int store_fts_search(store *st, const char *query, const store_fts_opts *opts, store_hit **hits,
                     int *n_hits)
{
    *hits = NULL;
    *n_hits = 0;
    store_fts_opts o = opts ? *opts : (store_fts_opts){0};
    char *expr;
    int rc = store_fts_build_query(query, o.all_terms, &expr);
    if (rc) return rc;
    if (!*expr) { /* nothing searchable: no hits, not an error */
        free(expr);
        return IRIS_OK;
    }
    int limit = o.limit > 0 ? o.limit : 50, exhausted = 0;
    rc = run_search(st, fast_sql, expr, &o, limit, hits, n_hits, &exhausted);
    if (!rc && *n_hits < limit && !exhausted) {
        /* Filters removed too many candidates (or none survived, so the
         * count is unknown): the exact query decides. */
        store_hits_free(*hits, *n_hits);
        *hits = NULL;
        *n_hits = 0;
        rc = run_search(st, full_sql, expr, &o, limit, hits, n_hits, NULL);
    }
    free(expr);
    if (rc) {
        store_hits_free(*hits, *n_hits);
        *hits = NULL;
        *n_hits = 0;
    }
    return rc;
}

void store_hits_free(store_hit *hits, int n_hits)
{
    for (int k = 0; hits && k < n_hits; k++) free(hits[k].snippet);
    free(hits);
}

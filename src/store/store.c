/*
 * store.c - opening an index, transactions, error mapping, the statement
 * cache, models, the caption cache and statistics.
 *
 * Durability choice: WAL with synchronous=NORMAL. In WAL mode a commit is
 * an append to the -wal file; with NORMAL the fsync happens at checkpoints
 * rather than at every commit. A killed process (SIGKILL, crash, OOM) loses
 * nothing that was committed, because the appended frames are already in
 * the OS page cache; only an OS crash or power cut can drop the last few
 * commits, and even then the database stays consistent (WAL frames are
 * checksummed and replayed only up to the last complete commit). Every
 * indexed item can be rebuilt from its file, so losing the tail of a run
 * to a power cut costs re-encoding, not correctness; FULL would add an
 * fsync per batch for that. Readers never block the writer and vice versa;
 * writers take the lock up front (BEGIN IMMEDIATE) and wait for each other
 * through the busy timeout, so there is no upgrade deadlock.
 */
#include "store/internal.h"

#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BUSY_MS 5000

/* ------------------------------------------------------------ errors */

int store_sqlerr(store *st, int rc, const char *what)
{
    const char *path = st ? st->path : "?";
    const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return iris_fail(IRIS_EDB,
                         "%s: %s: the index is locked by another process (waited %d ms); "
                         "try again when it has finished",
                         path, what, st ? st->busy_ms : 0);
    case SQLITE_FULL:
        return iris_fail(IRIS_EIO,
                         "%s: %s: disk full (or the index size cap was reached); the "
                         "transaction was rolled back, nothing committed before is lost",
                         path, what);
    case SQLITE_NOTADB:
        return iris_fail(IRIS_EFORMAT, "%s is not an iris index (not a SQLite database)", path);
    case SQLITE_CORRUPT:
        return iris_fail(IRIS_EFORMAT,
                         "%s: %s: the index is corrupt (%s); move it aside and re-index", path,
                         what, msg);
    case SQLITE_READONLY:
        return iris_fail(IRIS_EIO, "%s: %s: the index is read-only here (%s)", path, what, msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PERM:
        return iris_fail(IRIS_EIO, "%s: %s: %s (%s)", path, what, msg,
                         strerror(st && st->db ? sqlite3_system_errno(st->db) : EIO));
    case SQLITE_NOMEM:
        return iris_fail(IRIS_ENOMEM, "%s: %s: out of memory", path, what);
    default:
        return iris_fail(IRIS_EDB, "%s: %s: %s", path, what, msg);
    }
}

/* --------------------------------------------------------- statements */

sqlite3_stmt *store_stmt(store *st, stmt_id id, const char *sql)
{
    sqlite3_stmt *s = st->stmts[id];
    if (s && strcmp(sqlite3_sql(s), sql) != 0) {
        iris_fail(IRIS_EINTERNAL, "store: statement slot %d used for two queries", (int)id);
        return NULL;
    }
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        return s;
    }
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        store_sqlerr(st, rc, "preparing a statement");
        return NULL;
    }
    st->stmts[id] = s;
    return s;
}

int store_step_done(store *st, sqlite3_stmt *s, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? IRIS_OK : store_sqlerr(st, rc, what);
}

int store_exec(store *st, const char *sql)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? IRIS_OK : store_sqlerr(st, rc, sql);
}

int store_bind_text(sqlite3_stmt *s, int i, const char *text)
{
    return text ? sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

void store_col_copy(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    snprintf(dst, cap, "%s", t ? t : "");
}

/* ------------------------------------------------------- transactions */

static int run_fixed(store *st, stmt_id id, const char *sql)
{
    sqlite3_stmt *s = store_stmt(st, id, sql);
    return s ? store_step_done(st, s, sql) : IRIS_EDB;
}

/* Bumps the generation counter if items changed, then commits. */
static int commit_now(store *st)
{
    int rc = IRIS_OK;
    if (st->dirty)
        rc = run_fixed(st, S_GEN_BUMP,
                       "UPDATE meta SET value = value + 1 WHERE key = 'generation'");
    if (!rc) rc = run_fixed(st, S_COMMIT, "COMMIT");
    if (rc && !sqlite3_get_autocommit(st->db)) run_fixed(st, S_ROLLBACK, "ROLLBACK");
    st->dirty = 0;
    return rc;
}

int store_begin(store *st)
{
    if (!st) return iris_fail(IRIS_EARG, "store_begin: no store");
    if (st->in_tx || st->depth)
        return iris_fail(IRIS_EARG, "%s: a transaction is already open", st->path);
    int rc = run_fixed(st, S_BEGIN, "BEGIN IMMEDIATE");
    if (!rc) {
        st->in_tx = 1;
        st->dirty = 0;
        st->lost = 0;
    }
    return rc;
}

static int lost_error(store *st)
{
    return iris_fail(IRIS_EDB,
                     "%s: the transaction was rolled back after an earlier error; nothing "
                     "of it was written (roll back and start again)",
                     st->path);
}

int store_commit(store *st)
{
    if (!st) return iris_fail(IRIS_EARG, "store_commit: no store");
    if (st->lost) {
        st->lost = 0;
        return lost_error(st);
    }
    if (!st->in_tx) return iris_fail(IRIS_EARG, "%s: no transaction to commit", st->path);
    st->in_tx = 0;
    return commit_now(st);
}

int store_rollback(store *st)
{
    if (!st) return IRIS_OK;
    st->in_tx = 0;
    st->lost = 0;
    st->dirty = 0;
    st->names_cid = 0; /* the cached names may describe rolled-back rows */
    if (sqlite3_get_autocommit(st->db)) return IRIS_OK;
    return run_fixed(st, S_ROLLBACK, "ROLLBACK");
}

/* Atomic units nest: the outermost one without store_begin() owns a
 * transaction, every other one is a savepoint. */
int store_op_begin(store *st)
{
    if (st->lost) return lost_error(st);
    int nested = st->in_tx || st->depth > 0;
    if (!nested) st->dirty = 0;
    int rc = nested ? run_fixed(st, S_SAVEPOINT, "SAVEPOINT op")
                    : run_fixed(st, S_BEGIN, "BEGIN IMMEDIATE");
    if (!rc) st->depth++;
    return rc;
}

int store_op_end(store *st, int rc)
{
    st->depth--;
    if (sqlite3_get_autocommit(st->db)) {
        /* SQLite rolled everything back by itself (disk full, I/O error). */
        if (st->in_tx) st->lost = 1;
        st->in_tx = 0;
        st->dirty = 0;
        st->names_cid = 0;
        return rc ? rc : lost_error(st);
    }
    if (st->in_tx || st->depth > 0) {
        if (!rc) return run_fixed(st, S_RELEASE, "RELEASE op");
        st->names_cid = 0;
        run_fixed(st, S_ROLLBACK_TO, "ROLLBACK TO op");
        run_fixed(st, S_RELEASE, "RELEASE op");
        return rc;
    }
    if (!rc) return commit_now(st);
    st->names_cid = 0;
    st->dirty = 0;
    run_fixed(st, S_ROLLBACK, "ROLLBACK");
    return rc;
}

/* ------------------------------------------------------------- opening */

/* mkdir -p of the folder holding path. */
static int make_parent_dirs(const char *path)
{
    char *dir = strdup(path);
    if (!dir) return iris_fail(IRIS_ENOMEM, "no memory");
    char *slash = strrchr(dir, '/');
    int rc = IRIS_OK;
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; !rc; p++) {
            int end = *p == '\0';
            if (*p != '/' && !end) continue;
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST)
                rc = iris_fail(IRIS_EIO, "cannot create the index folder %s: %s", dir,
                               strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    free(dir);
    return rc;
}

/* Refuses files that are SQLite but not ours, and schemas from the future. */
static int check_identity(store *st)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT (SELECT application_id FROM pragma_application_id),"
                                " (SELECT user_version FROM pragma_user_version),"
                                " (SELECT count(*) FROM sqlite_master)",
                                -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        return store_sqlerr(st, rc, "reading the index header");
    }
    int app = sqlite3_column_int(s, 0), ver = sqlite3_column_int(s, 1);
    int tables = sqlite3_column_int(s, 2);
    sqlite3_finalize(s);
    if (app != STORE_APP_ID && (app != 0 || ver != 0 || tables != 0))
        return iris_fail(IRIS_EFORMAT,
                         "%s is a SQLite database but not an iris index; refusing to touch it",
                         st->path);
    if (ver > STORE_SCHEMA_VERSION)
        return iris_fail(IRIS_EUNSUPPORTED,
                         "%s has index schema version %d, newer than this iris (%s) supports "
                         "(%d); upgrade iris to use it",
                         st->path, ver, IRIS_VERSION, STORE_SCHEMA_VERSION);
    if (st->readonly && ver < STORE_SCHEMA_VERSION)
        return iris_fail(IRIS_EUNSUPPORTED,
                         "%s has index schema version %d and needs migrating to %d; open it "
                         "once for writing (e.g. iris index)",
                         st->path, ver, STORE_SCHEMA_VERSION);
    return IRIS_OK;
}

static int meta_get(store *st, const char *key, int64_t *value)
{
    sqlite3_stmt *s = store_stmt(st, S_META_GET, "SELECT value FROM meta WHERE key = ?1");
    if (!s) return IRIS_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *value = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? IRIS_OK : store_sqlerr(st, rc, "reading meta");
}

static int configure(store *st, const store_opts *o)
{
    char sql[128];
    int rc = sqlite3_busy_timeout(st->db, st->busy_ms);
    if (rc == SQLITE_OK) rc = sqlite3_extended_result_codes(st->db, 1);
    if (rc != SQLITE_OK) return store_sqlerr(st, rc, "configuring the connection");
    if ((rc = store_fts_register(st))) return rc;
    if ((rc = check_identity(st))) return rc;
    if ((rc = store_exec(st, "PRAGMA foreign_keys = ON"))) return rc;
    if (!st->readonly) {
        if ((rc = store_exec(st, "PRAGMA journal_mode = WAL"))) return rc;
        if ((rc = store_exec(st, "PRAGMA synchronous = NORMAL"))) return rc;
        if (o && o->max_pages > 0) {
            snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)o->max_pages);
            if ((rc = store_exec(st, sql))) return rc;
        }
        if ((rc = store_migrate(st->db, st->path, store_migrations, store_n_migrations)))
            return rc;
    }
    return meta_get(st, "scan", &st->scan);
}

/* "file:" URI for path with immutable=1 (sqlite3_free it). */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *uri = sqlite3_malloc64(3 * n + 32), *o = uri;
    if (!uri) return NULL;
    o += sprintf(o, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20)
            o += sprintf(o, "%%%02X", *p);
        else
            *o++ = (char)*p;
    }
    strcpy(o, "?immutable=1");
    return uri;
}

/* Opens the connection; a read-only open of a WAL index in a folder we
 * cannot write (no -shm can be made) falls back to immutable mode. */
static int connect(store *st, int immutable)
{
    int flags = (st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    char *uri = NULL;
    if (immutable) {
        if (!(uri = immutable_uri(st->path))) return iris_fail(IRIS_ENOMEM, "no memory");
        flags |= SQLITE_OPEN_URI;
    }
    int rc = sqlite3_open_v2(uri ? uri : st->path, &st->db, flags, NULL);
    sqlite3_free(uri);
    if (rc != SQLITE_OK) {
        int status = store_sqlerr(st, rc, "opening the index");
        sqlite3_close(st->db);
        st->db = NULL;
        return status;
    }
    return IRIS_OK;
}

static void disconnect(store *st)
{
    for (int k = 0; k < S_N; k++) {
        sqlite3_finalize(st->stmts[k]);
        st->stmts[k] = NULL;
    }
    sqlite3_close(st->db);
    st->db = NULL;
}

int store_open(const char *path, const store_opts *opts, store **out)
{
    *out = NULL;
    if (!path || !*path) return iris_fail(IRIS_EARG, "store_open: empty index path");
    store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return iris_fail(IRIS_ENOMEM, "no memory to open %s", path);
    }
    st->readonly = opts && opts->readonly;
    st->busy_ms = opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : DEFAULT_BUSY_MS;
    if (st->busy_ms < 0) st->busy_ms = 0;
    struct stat sb;
    int rc = IRIS_OK, exists = stat(path, &sb) == 0;
    if (exists && !S_ISREG(sb.st_mode))
        rc = iris_fail(IRIS_EIO, "%s is not a regular file", path);
    else if (!exists && st->readonly)
        rc = iris_fail(IRIS_ENOTFOUND, "no index at %s (run iris index first)", path);
    else if (!st->readonly)
        rc = make_parent_dirs(path);
    if (!rc) rc = connect(st, 0);
    if (!rc) {
        rc = configure(st, opts);
        /* Read-only folder without -wal/-shm: open it as immutable. */
        if (rc == IRIS_EIO && st->readonly && access(path, R_OK) == 0) {
            disconnect(st);
            rc = connect(st, 1);
            if (!rc) rc = configure(st, opts);
        }
    }
    if (rc) {
        store_close(st);
        return rc;
    }
    st->opened = 1;
    *out = st;
    return IRIS_OK;
}

void store_close(store *st)
{
    if (!st) return;
    if (st->db) {
        if (st->in_tx || !sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        /* Only on our own, fully opened index: never touch a foreign file. */
        if (st->opened && !st->readonly) sqlite3_exec(st->db, "PRAGMA optimize", NULL, NULL, NULL);
        disconnect(st);
    }
    free(st->names);
    free(st->path);
    free(st);
}

const char *store_path(const store *st) { return st ? st->path : NULL; }

/* ------------------------------------------------------------- names */

const char *store_kind_name(int kind)
{
    static const char *const names[] = {"other", "image", "pdf", "text"};
    return kind >= 0 && kind <= STORE_KIND_TEXT ? names[kind] : "?";
}

static const char *const modality_names[STORE_N_MODALITIES] = {
    NULL, "image", "text", "pdf_text", "pdf_figure", "ocr", "caption",
};

const char *store_modality_name(int modality)
{
    return modality >= 1 && modality < STORE_N_MODALITIES ? modality_names[modality] : "?";
}

int store_modality_parse(const char *name)
{
    for (int m = 1; name && m < STORE_N_MODALITIES; m++)
        if (!strcmp(name, modality_names[m])) return m;
    return 0;
}

/* -------------------------------------------------------------- models */

static int model_first(store *st, store_model *m)
{
    sqlite3_stmt *s =
        store_stmt(st, S_MODEL_FIRST, "SELECT id, key, name, dim FROM models ORDER BY id LIMIT 1");
    if (!s) return IRIS_EDB;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        m->id = sqlite3_column_int64(s, 0);
        store_col_copy(s, 1, m->key, sizeof m->key);
        store_col_copy(s, 2, m->name, sizeof m->name);
        m->dim = sqlite3_column_int(s, 3);
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return IRIS_OK;
    if (rc == SQLITE_DONE)
        return iris_fail(IRIS_ENOTFOUND, "%s: the index has no model yet", st->path);
    return store_sqlerr(st, rc, "reading the model");
}

int store_model_get(store *st, store_model *out) { return model_first(st, out); }

int store_model_ensure(store *st, const char *key, const char *name, int dim,
                       const char *info_json, int64_t *model_id)
{
    if (!key || strlen(key) >= 65 || !name || dim <= 0)
        return iris_fail(IRIS_EARG, "store_model_ensure: bad model key, name or dim %d", dim);
    store_model m;
    int rc = store_op_begin(st);
    if (rc) return rc;
    rc = model_first(st, &m);
    if (rc == IRIS_OK && strcmp(m.key, key) != 0) {
        rc = iris_fail(IRIS_EMODEL,
                       "%s was built with model %s (id %.12s, %d-d) but this is model %s "
                       "(id %.12s, %d-d); search with the index's model or re-index",
                       st->path, m.name, m.key, m.dim, name, key, dim);
    } else if (rc == IRIS_ENOTFOUND) {
        sqlite3_stmt *s = store_stmt(st, S_MODEL_INSERT,
                                     "INSERT INTO models(key, name, dim, info, created_at)"
                                     " VALUES(?1, ?2, ?3, ?4, ?5)");
        rc = IRIS_EDB;
        if (s) {
            sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
            sqlite3_bind_int(s, 3, dim);
            store_bind_text(s, 4, info_json);
            sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
            rc = store_step_done(st, s, "recording the model");
            m.id = sqlite3_last_insert_rowid(st->db);
        }
    }
    rc = store_op_end(st, rc);
    if (!rc && model_id) *model_id = m.id;
    return rc;
}

/* -------------------------------------------------------- caption cache */

int store_caption_get(store *st, const char *sha256, const char *model, const char *prompt_hash,
                      char **caption)
{
    *caption = NULL;
    sqlite3_stmt *s = store_stmt(st, S_CAPTION_GET,
                                 "SELECT caption FROM captions"
                                 " WHERE sha256 = ?1 AND model = ?2 AND prompt_hash = ?3");
    if (!s) return IRIS_EDB;
    sqlite3_bind_text(s, 1, sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, prompt_hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s), status = IRIS_OK;
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (!(*caption = strdup(t ? t : ""))) status = iris_fail(IRIS_ENOMEM, "no memory");
    } else if (rc == SQLITE_DONE) {
        status = iris_fail(IRIS_ENOTFOUND, "no cached caption for %.12s", sha256);
    } else {
        status = store_sqlerr(st, rc, "reading the caption cache");
    }
    sqlite3_reset(s);
    return status;
}

int store_caption_put(store *st, const char *sha256, const char *model, const char *prompt_hash,
                      const char *caption)
{
    if (!sha256 || !model || !prompt_hash || !caption)
        return iris_fail(IRIS_EARG, "store_caption_put: missing key or caption");
    int rc = store_op_begin(st);
    if (rc) return rc;
    sqlite3_stmt *s = store_stmt(st, S_CAPTION_PUT,
                                 "INSERT OR REPLACE INTO captions VALUES(?1, ?2, ?3, ?4, ?5)");
    rc = IRIS_EDB;
    if (s) {
        sqlite3_bind_text(s, 1, sha256, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, model, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, prompt_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, caption, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
        rc = store_step_done(st, s, "caching a caption");
    }
    return store_op_end(st, rc);
}

/* --------------------------------------------------------------- stats */

static int count_query(store *st, const char *sql, int64_t *a, int64_t *b)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        *a = sqlite3_column_int64(s, 0);
        if (b) *b = sqlite3_column_int64(s, 1);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_OK ? IRIS_OK : store_sqlerr(st, rc, "reading statistics");
}

int store_get_stats(store *st, store_stats *o)
{
    memset(o, 0, sizeof *o);
    int64_t pages = 0, page_size = 0, ver = 0;
    int rc = count_query(st, "SELECT count(*), ifnull(sum(status = 1), 0) FROM files", &o->files,
                         &o->files_skipped);
    if (!rc)
        rc = count_query(st, "SELECT count(*), ifnull(sum(state = 0), 0) FROM contents",
                         &o->contents, &o->contents_pending);
    if (!rc) rc = count_query(st, "SELECT count(*), 0 FROM vectors", &o->vectors, NULL);
    if (!rc) rc = count_query(st, "SELECT * FROM pragma_page_count, pragma_page_size", &pages,
                              &page_size);
    if (!rc) rc = count_query(st, "SELECT * FROM pragma_user_version", &ver, NULL);
    if (!rc) rc = meta_get(st, "generation", &o->generation);
    for (int m = 1; !rc && m < STORE_N_MODALITIES; m++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM items WHERE modality = %d", m);
        rc = count_query(st, sql, &o->items_by_modality[m], NULL);
        o->items += o->items_by_modality[m];
    }
    if (rc) return rc;
    o->schema_version = (int)ver;
    o->db_bytes = pages * page_size;
    char wal[4200];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", st->path);
    if (stat(wal, &sb) == 0) o->db_bytes += sb.st_size;
    return IRIS_OK;
}

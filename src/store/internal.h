/*
 * internal.h - what the store's source files share: the handle, the
 * prepared-statement cache, SQLite error mapping and the wrapper that
 * makes every mutating call atomic.
 *
 * Statements are prepared once per handle on first use (SQL text at the
 * call site, next to the code that reads its columns) and kept in a table
 * indexed by the stmt_id enum below.
 */
#ifndef IRIS_STORE_INTERNAL_H
#define IRIS_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store/store.h"

/* Application id in the SQLite header: "IRIS". */
#define STORE_APP_ID 0x49524953

typedef enum stmt_id {
    S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO, S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_META_GET, S_META_SET, S_GEN_BUMP,
    S_MODEL_FIRST, S_MODEL_INSERT,
    S_FILE_GET, S_FILE_ROW, S_FILE_INSERT, S_FILE_UPDATE, S_FILE_LINK, S_FILE_TOUCH,
    S_FILE_DELETE, S_FILES_OF_CONTENT,
    S_CONTENT_GET, S_CONTENT_INSERT, S_CONTENT_USED, S_CONTENT_DELETE, S_CONTENT_STATE, S_CONTENT_IS_DONE,
    S_CONTENT_PROGRESS, S_CONTENT_TITLE, S_CONTENT_NAMES, S_CONTENT_PREVS, S_FILE_CLEAR_PREV,
    S_FTS_SET_NAME,
    S_ITEM_INSERT, S_VEC_INSERT, S_FTS_INSERT, S_ITEM_GET, S_VEC_GET, S_VEC_EACH,
    S_CAPTION_GET, S_CAPTION_PUT,
    S_N
} stmt_id;

struct store {
    sqlite3 *db;
    char *path;
    int readonly;
    int opened;      /* store_open() succeeded */
    int busy_ms;
    int in_tx;       /* inside store_begin() */
    int lost;        /* SQLite rolled that transaction back after an error */
    int depth;       /* nesting of store_op_begin() */
    int dirty;       /* items changed in the open transaction */
    int64_t scan;    /* current scan id (files seen in it are kept) */
    int64_t names_cid; /* content whose FTS name column is cached */
    char *names;
    sqlite3_stmt *stmts[S_N];
};

/* Records a failure of SQLite call `what` (rc = its result code) as an
 * IRIS_E* status with a message naming the database; returns the status. */
int store_sqlerr(store *st, int rc, const char *what);

/* The cached statement for id, prepared from sql on first use, reset and
 * with bindings cleared. NULL on failure (message recorded). */
sqlite3_stmt *store_stmt(store *st, stmt_id id, const char *sql);
/* Steps a statement that returns no rows (or whose rows are ignored) and
 * resets it. */
int store_step_done(store *st, sqlite3_stmt *s, const char *what);
/* Runs literal SQL (no parameters). */
int store_exec(store *st, const char *sql);

/* Opens an atomic unit: a savepoint inside store_begin(), else a write
 * transaction of its own. store_op_end commits it (rc == IRIS_OK) or rolls
 * it back, and returns rc or the commit's failure. */
int store_op_begin(store *st);
int store_op_end(store *st, int rc);

/* Binds text that may be NULL. */
int store_bind_text(sqlite3_stmt *s, int i, const char *text);
/* Copies column i (text, maybe NULL) into a fixed buffer. */
void store_col_copy(sqlite3_stmt *s, int i, char *dst, size_t cap);

/* Registers the "iris" FTS5 tokenizer (unicode61 + CJK splitting). */
int store_fts_register(store *st);

/* Rewrites the FTS name column (file names + title) of a content's items. */
int store_refresh_names(store *st, int64_t content_id);
/* The name column text for a content (cached; owned by st). */
int store_content_names(store *st, int64_t content_id, const char **names);

/* Schema migrations (schema.c). A migration is SQL that moves the schema
 * from version - 1 to version; each runs in its own transaction with the
 * user_version update, so a failure leaves the previous version intact. */
typedef struct store_migration {
    int version;
    const char *sql;
} store_migration;

int store_migrate(sqlite3 *db, const char *path, const store_migration *m, int n);
extern const store_migration store_migrations[];
extern const int store_n_migrations;

#endif

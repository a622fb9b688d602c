/*
 * schema.c - the index schema and its migrations.
 *
 * The schema version lives in SQLite's header (PRAGMA user_version); the
 * header's application_id marks the file as an iris index. Migration N
 * takes version N-1 to N and runs in one BEGIN IMMEDIATE transaction that
 * also sets user_version = N, so a crash or an error mid-migration leaves
 * version N-1 intact, and two processes opening an old index at once do
 * not both migrate it (the second sees the new version under the lock).
 * Migrations are append-only: a released one is never edited.
 *
 * Column notes (the full description is in docs/store.md):
 *  - files.path holds the path bytes as given (not necessarily UTF-8);
 *    paths are compared bytewise (BINARY collation).
 *  - items.seq orders items within a content and, being unique there,
 *    makes duplicate items impossible even if a resumed batch is replayed.
 *  - vectors.data is dim float32 values in little-endian order (the
 *    store keeps full precision; quantised copies belong to src/index).
 *  - fts is a regular FTS5 table (it keeps its own copy of the text so
 *    snippet() works and rows can be updated) with the "iris" tokenizer;
 *    its rowid is the item id. A trigger keeps it in step with deletes.
 */
#include "store/internal.h"

#include "util/error.h"

#include <stdio.h>

static const char schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "INSERT INTO meta VALUES('generation', 0), ('scan', 0);"
    "CREATE TABLE models("
    "  id INTEGER PRIMARY KEY,"
    "  key TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  dim INTEGER NOT NULL CHECK(dim > 0),"
    "  info TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE contents("
    "  id INTEGER PRIMARY KEY,"
    "  sha256 TEXT NOT NULL UNIQUE CHECK(length(sha256) = 64),"
    "  size INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0 CHECK(state IN (0, 1)),"
    "  progress INTEGER NOT NULL DEFAULT 0,"
    "  title TEXT,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE files("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL UNIQUE,"
    "  size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL,"
    "  sha256 TEXT,"
    "  kind INTEGER NOT NULL,"
    "  status INTEGER NOT NULL CHECK(status IN (0, 1)),"
    "  reason TEXT,"
    "  content_id INTEGER REFERENCES contents(id),"
    "  prev_content_id INTEGER REFERENCES contents(id),"
    "  seen_scan INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX files_content ON files(content_id);"
    "CREATE INDEX files_prev_content ON files(prev_content_id);"
    "CREATE TABLE items("
    "  id INTEGER PRIMARY KEY,"
    "  content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,"
    "  modality INTEGER NOT NULL CHECK(modality BETWEEN 1 AND 6),"
    "  seq INTEGER NOT NULL,"
    "  page INTEGER NOT NULL DEFAULT 0,"
    "  x0 REAL, y0 REAL, x1 REAL, y1 REAL,"
    "  char_start INTEGER, char_end INTEGER,"
    "  text TEXT,"
    "  UNIQUE(content_id, seq));"
    "CREATE TABLE vectors("
    "  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    "  model_id INTEGER NOT NULL REFERENCES models(id),"
    "  dim INTEGER NOT NULL,"
    "  data BLOB NOT NULL CHECK(length(data) = 4 * dim),"
    "  PRIMARY KEY(item_id, model_id)) WITHOUT ROWID;"
    "CREATE VIRTUAL TABLE fts USING fts5(text, name, tokenize = 'iris');"
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
    "  DELETE FROM fts WHERE rowid = old.id;"
    "END;"
    "CREATE TABLE captions("
    "  sha256 TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  prompt_hash TEXT NOT NULL,"
    "  caption TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY(sha256, model, prompt_hash)) WITHOUT ROWID;";

const store_migration store_migrations[] = {
    {1, schema_v1},
};
const int store_n_migrations = sizeof store_migrations / sizeof store_migrations[0];

static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *v = sqlite3_column_int(s, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static int migrate_one(sqlite3 *db, const char *path, const store_migration *m)
{
    char *err = NULL;
    char set[96];
    snprintf(set, sizeof set, "PRAGMA user_version = %d; PRAGMA application_id = %d;",
             m->version, STORE_APP_ID);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err);
    int cur = 0;
    if (rc == SQLITE_OK) rc = user_version(db, &cur);
    if (rc == SQLITE_OK && cur < m->version) {
        rc = sqlite3_exec(db, m->sql, NULL, NULL, &err);
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, set, NULL, NULL, &err);
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &err);
    if (rc == SQLITE_OK) return IRIS_OK;
    int status = iris_fail((rc & 0xff) == SQLITE_FULL ? IRIS_EIO : IRIS_EDB,
                           "%s: migrating the index schema to version %d failed: %s", path,
                           m->version, err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return status;
}

int store_migrate(sqlite3 *db, const char *path, const store_migration *m, int n)
{
    int cur = 0;
    int rc = user_version(db, &cur);
    if (rc != SQLITE_OK)
        return iris_fail(IRIS_EDB, "%s: cannot read the schema version: %s", path,
                         sqlite3_errmsg(db));
    for (int k = 0; k < n; k++) {
        if (m[k].version <= cur) continue;
        int status = migrate_one(db, path, &m[k]);
        if (status) return status;
    }
    return IRIS_OK;
}

/*
 * commit.c - writing encoded units into the store, one transaction per
 * batch (see ingest.h for what a unit is).
 *
 * For each unit, in queue order: the file row first (store_file_put: this
 * is where a move, a copy or a touch is recognised, by content), then the
 * items with their vectors, then the content's progress, or "done" for a
 * content's last unit, which makes it visible and retires what the file
 * held before. A failed unit becomes a skip record, except that an I/O
 * failure on a file the index already knows keeps the known items (it may
 * be a passing permission or disk problem), and a file that vanished is
 * left to pruning.
 *
 * User callbacks run after the transaction, outside the db lock.
 */
#include "ingest/ingest.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages from the modules below name the file; the log names it
 * already, so a leading "PATH: " is dropped. */
static const char *without_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    return !strncmp(msg, path, n) && msg[n] == ':' && msg[n + 1] == ' ' ? msg + n + 2 : msg;
}

void ingest_log(const committer *c, int what, int reason, const char *path, const char *msg)
{
    if (c->opts->log) c->opts->log(what, reason, path, without_path(msg, path), c->opts->user);
}

static int skip_reason(const unit *u)
{
    return u->empty ? IRIS_SKIP_EMPTY : ingest_skip_reason(u->fail_status);
}

static store_put put_of(const job *j)
{
    return (store_put){.path = j->path, .size = j->size, .mtime_ns = j->mtime_ns,
                       .sha256 = j->sha256[0] ? j->sha256 : NULL, .kind = j->kind};
}

static int remember_link(committer *c, int64_t content_id)
{
    if (c->n_linked == c->cap_linked) {
        size_t cap = c->cap_linked ? 2 * c->cap_linked : 64;
        int64_t *v = realloc(c->linked, cap * sizeof *v);
        if (!v) return iris_fail(IRIS_ENOMEM, "no memory");
        c->linked = v;
        c->cap_linked = cap;
    }
    c->linked[c->n_linked++] = content_id;
    return IRIS_OK;
}

static int put_file(committer *c, unit *u)
{
    job *j = u->job;
    store_put p = put_of(j);
    store_put_result r;
    int rc = store_file_put(c->db->st, &p, &r);
    if (rc) return rc;
    j->put = 1;
    j->content_id = r.content.id;
    j->outcome = r.new_path ? OUT_ADDED : r.content_changed ? OUT_UPDATED : OUT_UNCHANGED;
    /* Decoded, but another writer finished this content meanwhile. */
    j->drop_items = !u->link && r.content.state == STORE_DONE;
    if (r.new_path && !r.new_content && r.content.state == STORE_DONE)
        rc = remember_link(c, r.content.id);
    if (!rc && u->title && *u->title && !j->drop_items)
        rc = store_content_set_title(c->db->st, j->content_id, u->title);
    return rc;
}

static int apply_failure(committer *c, unit *u)
{
    job *j = u->job;
    store *st = c->db->st;
    int rc = IRIS_OK;
    if (u->vanished && !j->put) return IRIS_OK; /* pruned at the end of the run */
    if (u->transient && !j->put) {
        /* Keep what the index has; record nothing, so the next run retries. */
        if (j->state == JOB_NEW) return IRIS_OK;
        store_file f;
        rc = store_file_get(st, j->path, &f);
        if (!rc) rc = store_file_touch(st, f.id);
        return rc == IRIS_ENOTFOUND ? IRIS_OK : rc;
    }
    char reason[1024];
    snprintf(reason, sizeof reason, "%s: %s", iris_skip_name(skip_reason(u)),
             without_path(u->fail_msg ? u->fail_msg : "", j->path));
    store_put p = put_of(j);
    rc = store_file_skip(st, &p, reason, NULL);
    if (j->put) j->failed = 1;
    return rc;
}

static int add_items(committer *c, unit *u)
{
    job *j = u->job;
    for (int i = 0; i < u->n_items; i++) {
        unit_item *it = &u->items[i];
        int64_t id;
        int rc = store_item_add(c->db->st, j->content_id, &it->it, c->model_row, it->vec,
                                it->vec ? c->dim : 0, &id);
        if (rc) return rc;
    }
    return IRIS_OK;
}

static int apply_unit(committer *c, unit *u)
{
    job *j = u->job;
    if (u->ignore) return IRIS_OK;
    if (u->fail_status) return apply_failure(c, u);
    if (j->failed) return IRIS_OK;
    int rc = IRIS_OK;
    if (u->first && !j->put) rc = put_file(c, u);
    if (rc || u->link || j->drop_items) return rc;
    if ((rc = add_items(c, u))) return rc;
    if (u->last) return store_content_done(c->db->st, j->content_id);
    return store_content_progress(c->db->st, j->content_id, u->progress);
}

static const char *outcome_name(int o)
{
    return o == OUT_ADDED ? "added" : o == OUT_UPDATED ? "updated" : "unchanged";
}

/* Counts and logs the unit once the batch is committed. */
static void account(committer *c, unit *u)
{
    iris_index_summary *s = c->sum;
    job *j = u->job;
    s->pdf_pages += u->pages;
    s->pages_failed += u->pages_failed;
    s->ocr_runs += u->ocr_runs;
    if (!j->drop_items && !u->link && !u->fail_status && !j->failed) s->items_added += u->n_items;
    for (int i = 0; i < u->n_notes; i++)
        ingest_log(c, u->notes[i].what, u->notes[i].reason, j->path, u->notes[i].msg);
    if (!u->last && !u->fail_status) return;
    if (u->fail_status && j->skip_counted) return;
    c->files_done++;
    c->todo_done++;
    c->last_path = j->path;
    if (u->ignore) {
        s->ignored++;
    } else if (u->fail_status || j->failed) {
        int r = skip_reason(u);
        s->skipped++;
        s->skipped_by[r]++;
        j->skip_counted = 1;
        ingest_log(c, IRIS_LOG_SKIP, r, j->path, u->fail_msg ? u->fail_msg : "");
    } else {
        s->added += j->outcome == OUT_ADDED;
        s->updated += j->outcome == OUT_UPDATED;
        s->unchanged += j->outcome == OUT_UNCHANGED;
        if (c->opts->verbose) ingest_log(c, IRIS_LOG_INFO, 0, j->path, outcome_name(j->outcome));
    }
}

int commit_units(committer *c, unit **units, int n)
{
    db_lock(c->db);
    int rc = store_begin(c->db->st);
    for (int i = 0; !rc && i < n; i++) rc = apply_unit(c, units[i]);
    if (!rc) rc = store_commit(c->db->st);
    if (rc) store_rollback(c->db->st);
    db_unlock(c->db);
    if (rc) return rc;
    for (int i = 0; i < n; i++) account(c, units[i]);
    return IRIS_OK;
}

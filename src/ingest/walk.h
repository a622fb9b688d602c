/*
 * walk.h - finding the files to index under a set of roots.
 *
 * The walk only looks at names and stat() results: it opens no file. It
 * follows symbolic links (to files and to folders), never enters a folder
 * twice (a link back to an ancestor is reported as a loop, a second path
 * to a folder already walked is reported once and ignored), skips hidden
 * names unless asked, never reports the index's own files, and reports
 * what it cannot read instead of failing. Paths are kept as the raw bytes
 * the file system gives (not necessarily UTF-8).
 *
 * Each folder is read completely and closed before its subfolders are
 * entered, so the walk holds one directory handle at a time whatever the
 * depth; entries are sorted bytewise so runs are reproducible.
 */
#ifndef IRIS_INGEST_WALK_H
#define IRIS_INGEST_WALK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A file the walk found. */
typedef struct walk_file {
    char *path;       /* absolute, malloc'ed */
    int64_t size;
    int64_t mtime_ns;
    int text_kind;    /* by name: 0 none, 1 plain text, 2 Markdown */
} walk_file;

typedef struct walk_list {
    walk_file *v;
    size_t n, cap;
} walk_list;

/* What the walk tells its caller besides the files it found. */
typedef enum walk_event {
    WALK_SKIP,       /* path not indexed; reason = IRIS_SKIP_* */
    WALK_IGNORE,     /* path of no interest (hidden, a second path to a folder) */
    WALK_KEEP,       /* folder could not be read: keep what the index has under it */
} walk_event;

typedef void (*walk_event_fn)(void *user, walk_event ev, int reason, const char *path,
                              const char *msg);

typedef struct walk_opts {
    int hidden;                 /* enter names starting with '.' */
    const char *const *exclude; /* exact paths never reported (the index files) */
    int n_exclude;
    dev_t exclude_dev;          /* and this file, by identity (0, 0 = none) */
    ino_t exclude_ino;
    const volatile int *cancel; /* stops the walk (IRIS_ECANCELLED) */
    walk_event_fn event;
    void *user;
} walk_opts;

/* Walks root (absolute: a folder or a file) and appends what it finds to
 * out. Fails only for out-of-memory and cancellation; everything else is
 * an event. */
int walk_root(const char *root, const walk_opts *opts, walk_list *out);
void walk_list_free(walk_list *l);

/* 1 plain text, 2 Markdown, 0 neither, judged by the name's extension. */
int walk_text_kind(const char *name);

/* Resolves a path given by the user into an absolute one: realpath() when
 * it exists, else the resolved parent folder plus the last name, else the
 * path made absolute with "." and ".." removed lexically. malloc'ed. */
int walk_resolve(const char *path, char **out);

#endif

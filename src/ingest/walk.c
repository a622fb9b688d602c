/*
 * walk.c - the recursive walk (see walk.h for the contract).
 *
 * Loops: every folder entered is remembered by (device, inode) in a hash
 * set, and the chain of folders from the root to the current one is kept
 * on a stack. A folder reached again is a loop when it is on the stack (a
 * link to an ancestor: skipped and counted, since that part of the tree
 * would otherwise be walked forever) and a duplicate otherwise (a second
 * link to a folder already walked: ignored, its files are indexed once).
 * stat() failing with ELOOP catches file links that point at each other.
 */
#include "ingest/walk.h"

#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iris.h"

#define MAX_DEPTH 1024

/* ------------------------------------------------ folder identity set */

typedef struct dir_id {
    dev_t dev;
    ino_t ino;
} dir_id;

typedef struct id_set {
    dir_id *slot; /* open addressing; ino 0 marks an empty slot */
    size_t cap, n;
} id_set;

static size_t id_hash(dir_id k)
{
    uint64_t h = (uint64_t)k.ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)k.dev * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 29));
}

static int id_set_grow(id_set *s)
{
    size_t cap = s->cap ? 2 * s->cap : 256;
    dir_id *slot = calloc(cap, sizeof *slot);
    if (!slot) return iris_fail(IRIS_ENOMEM, "no memory for the folder set");
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i].ino) continue;
        size_t j = id_hash(s->slot[i]) & (cap - 1);
        while (slot[j].ino) j = (j + 1) & (cap - 1);
        slot[j] = s->slot[i];
    }
    free(s->slot);
    s->slot = slot;
    s->cap = cap;
    return IRIS_OK;
}

/* Adds k; *seen = 1 if it was there already. */
static int id_set_add(id_set *s, dir_id k, int *seen)
{
    *seen = 0;
    if (!k.ino) k.ino = (ino_t)-1; /* 0 is the empty marker */
    if (2 * (s->n + 1) > s->cap && id_set_grow(s)) return IRIS_ENOMEM;
    size_t j = id_hash(k) & (s->cap - 1);
    for (; s->slot[j].ino; j = (j + 1) & (s->cap - 1))
        if (s->slot[j].ino == k.ino && s->slot[j].dev == k.dev) return *seen = 1, IRIS_OK;
    s->slot[j] = k;
    s->n++;
    return IRIS_OK;
}

/* ------------------------------------------------------------- walk */

typedef struct walker {
    const walk_opts *o;
    walk_list *out;
    id_set seen;
    dir_id stack[MAX_DEPTH];
    int depth;
} walker;

static void emit(walker *w, walk_event ev, int reason, const char *path, const char *fmt, ...)
    IRIS_PRINTF(5, 6);

static void emit(walker *w, walk_event ev, int reason, const char *path, const char *fmt, ...)
{
    if (!w->o->event) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->o->event(w->o->user, ev, reason, path, msg);
}

int walk_text_kind(const char *name)
{
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    if (!dot || (slash && dot < slash) || dot == name || dot[-1] == '/') return 0;
    static const char *const plain[] = {"txt", "text"};
    static const char *const md[] = {"md", "markdown", "mdown", "mkd", "mkdn", "mdwn"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (!strcasecmp(dot + 1, plain[i])) return 1;
    for (size_t i = 0; i < sizeof md / sizeof *md; i++)
        if (!strcasecmp(dot + 1, md[i])) return 2;
    return 0;
}

static int push_file(walker *w, const char *path, const struct stat *sb)
{
    walk_list *l = w->out;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        walk_file *v = realloc(l->v, cap * sizeof *v);
        if (!v) return iris_fail(IRIS_ENOMEM, "no memory for the file list");
        l->v = v;
        l->cap = cap;
    }
    walk_file *f = &l->v[l->n];
    if (!(f->path = strdup(path))) return iris_fail(IRIS_ENOMEM, "no memory for the file list");
    f->size = (int64_t)sb->st_size;
    f->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
    f->text_kind = walk_text_kind(path);
    l->n++;
    return IRIS_OK;
}

static int excluded(const walker *w, const char *path, const struct stat *sb)
{
    const walk_opts *o = w->o;
    if ((o->exclude_dev || o->exclude_ino) && sb && sb->st_dev == o->exclude_dev &&
        sb->st_ino == o->exclude_ino)
        return 1;
    for (int i = 0; i < o->n_exclude; i++)
        if (o->exclude[i] && !strcmp(o->exclude[i], path)) return 1;
    return 0;
}

static int walk_dir(walker *w, const char *path, const struct stat *sb);

/* Why stat() failed on an entry that readdir() listed. */
static void stat_failed(walker *w, const char *path, int err)
{
    struct stat lsb;
    if (err == ELOOP)
        emit(w, WALK_SKIP, IRIS_SKIP_LOOP, path, "symbolic link loop (%s)", strerror(err));
    else if (err == ENOENT && lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode))
        emit(w, WALK_SKIP, IRIS_SKIP_UNREADABLE, path, "broken symbolic link");
    else if (err == ENOENT)
        emit(w, WALK_SKIP, IRIS_SKIP_UNREADABLE, path, "vanished during the walk");
    else
        emit(w, WALK_SKIP, IRIS_SKIP_UNREADABLE, path, "cannot stat: %s", strerror(err));
}

static const char *special_name(mode_t m)
{
    return S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : "not a regular file";
}

/* One entry of a folder (or a root): a file to report, a folder to enter,
 * or something to skip. */
static int visit(walker *w, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        stat_failed(w, path, errno);
        return IRIS_OK;
    }
    if (excluded(w, path, &sb)) return IRIS_OK;
    if (S_ISREG(sb.st_mode)) return push_file(w, path, &sb);
    if (S_ISDIR(sb.st_mode)) return walk_dir(w, path, &sb);
    emit(w, WALK_SKIP, IRIS_SKIP_SPECIAL, path, "%s, not a regular file", special_name(sb.st_mode));
    return IRIS_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in folder path (hidden ones left out unless asked), sorted. */
static int list_dir(walker *w, const char *path, char ***names, size_t *n, int *ok)
{
    *names = NULL, *n = 0, *ok = 0;
    DIR *d = opendir(path);
    if (!d) {
        emit(w, WALK_SKIP, IRIS_SKIP_UNREADABLE, path, "cannot read folder: %s", strerror(errno));
        return IRIS_OK;
    }
    size_t cap = 0;
    int rc = IRIS_OK;
    struct dirent *e;
    errno = 0;
    while (!rc && (e = readdir(d))) {
        const char *nm = e->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || (nm[0] == '.' && !w->o->hidden)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(*names, cap * sizeof *g);
            if (!g) rc = iris_fail(IRIS_ENOMEM, "no memory for a folder listing");
            else *names = g;
        }
        if (!rc && !((*names)[*n] = strdup(nm)))
            rc = iris_fail(IRIS_ENOMEM, "no memory for a folder listing");
        if (!rc) (*n)++;
        errno = 0;
    }
    if (!rc && errno)
        emit(w, WALK_SKIP, IRIS_SKIP_UNREADABLE, path, "cannot read folder: %s", strerror(errno));
    else if (!rc) *ok = 1;
    closedir(d);
    if (!rc && *n) qsort(*names, *n, sizeof **names, cmp_names);
    return rc;
}

static int walk_dir(walker *w, const char *path, const struct stat *sb)
{
    dir_id id = {sb->st_dev, sb->st_ino};
    for (int i = 0; i < w->depth; i++)
        if (w->stack[i].dev == id.dev && w->stack[i].ino == id.ino) {
            emit(w, WALK_SKIP, IRIS_SKIP_LOOP, path, "symbolic link loop: leads back to a folder "
                                                     "above it");
            return IRIS_OK;
        }
    int seen;
    if (id_set_add(&w->seen, id, &seen)) return IRIS_ENOMEM;
    if (seen) {
        emit(w, WALK_IGNORE, 0, path, "a second path to a folder already walked");
        return IRIS_OK;
    }
    if (w->depth == MAX_DEPTH) {
        emit(w, WALK_SKIP, IRIS_SKIP_TOO_LARGE, path, "folders nested deeper than %d", MAX_DEPTH);
        return IRIS_OK;
    }
    char **names;
    size_t n;
    int ok;
    int rc = list_dir(w, path, &names, &n, &ok);
    if (!rc && !ok) emit(w, WALK_KEEP, 0, path, "unreadable folder: index entries kept");
    w->stack[w->depth++] = id;
    size_t plen = strlen(path);
    if (plen == 1) plen = 0; /* the root folder "/" */
    for (size_t i = 0; i < n; i++) {
        if (!rc && w->o->cancel && *w->o->cancel)
            rc = iris_fail(IRIS_ECANCELLED, "indexing cancelled");
        char *child = rc ? NULL : malloc(plen + strlen(names[i]) + 2);
        if (!rc && !child) rc = iris_fail(IRIS_ENOMEM, "no memory for a path");
        if (!rc) {
            memcpy(child, path, plen);
            child[plen] = '/';
            strcpy(child + plen + 1, names[i]);
            rc = visit(w, child);
        }
        free(child);
        free(names[i]);
    }
    free(names);
    w->depth--;
    return rc;
}

int walk_root(const char *root, const walk_opts *opts, walk_list *out)
{
    walker w = {.o = opts, .out = out};
    int rc = visit(&w, root);
    free(w.seen.slot);
    return rc;
}

void walk_list_free(walk_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ----------------------------------------------------------- resolve */

/* Appends component c (length n) to the absolute path in buf, applying
 * "." and ".." lexically. */
static int push_component(char *buf, size_t cap, const char *c, size_t n)
{
    size_t len = strlen(buf);
    if (n == 0 || (n == 1 && c[0] == '.')) return IRIS_OK;
    if (n == 2 && c[0] == '.' && c[1] == '.') {
        char *slash = strrchr(buf, '/');
        if (slash) *(slash == buf ? slash + 1 : slash) = '\0';
        return IRIS_OK;
    }
    if (len + n + 2 > cap) return iris_fail(IRIS_ELIMIT, "path too long");
    if (len > 1) buf[len++] = '/';
    memcpy(buf + len, c, n);
    buf[len + n] = '\0';
    return IRIS_OK;
}

static int lexical_abs(const char *path, char *buf, size_t cap)
{
    if (path[0] == '/') {
        snprintf(buf, cap, "/");
    } else if (!getcwd(buf, cap)) {
        return iris_fail(IRIS_EIO, "cannot find the current folder: %s", strerror(errno));
    }
    for (const char *p = path; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int rc = push_component(buf, cap, p, n);
        if (rc) return rc;
        p += n + (e != NULL);
    }
    return IRIS_OK;
}

int walk_resolve(const char *path, char **out)
{
    *out = NULL;
    if (!path || !*path) return iris_fail(IRIS_EARG, "empty path");
    char buf[PATH_MAX], lex[PATH_MAX];
    if (realpath(path, buf)) return (*out = strdup(buf)) ? IRIS_OK : IRIS_ENOMEM;
    int rc = lexical_abs(path, lex, sizeof lex);
    if (rc) return rc;
    /* The path is gone: resolve its folder, keep its own name. */
    char *slash = strrchr(lex, '/');
    if (slash && slash != lex) {
        *slash = '\0';
        if (realpath(lex, buf) && strlen(buf) + strlen(slash + 1) + 2 <= sizeof buf) {
            if (strcmp(buf, "/")) strcat(buf, "/");
            strcat(buf, slash + 1);
            return (*out = strdup(buf)) ? IRIS_OK : IRIS_ENOMEM;
        }
        *slash = '/';
    }
    return (*out = strdup(lex)) ? IRIS_OK : IRIS_ENOMEM;
}

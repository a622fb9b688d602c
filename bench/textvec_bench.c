/*
 * textvec_bench.c - how should a 256-512-word chunk get its CLIP vector?
 * (src/ingest/textvec.h). Compares, on the corpus written by
 * bench/textvec_corpus.py and with the model given:
 *
 *   first     the chunk encoded as it is (the text tower reads ~55 words)
 *   mean-K    the mean of the unit vectors of its first K CLIP windows,
 *             renormalised (K = 2, 4, 16: 16 covers a whole chunk)
 *
 * For each way and each query kind (caption, partial caption, image) it
 * prints recall@1, recall@10 and MRR over all queries and split by where
 * the answer sits in its document (inside the first 50 words, or after),
 * plus the encode time per document. A query is answered right at rank r
 * when the r-th document is one of its relevant ones (known by
 * construction). Nothing here is timed in tests.
 *
 *   bench/textvec_corpus.py --out /tmp/iris-textvec
 *   build/bench/textvec_bench models/tiny-clip /tmp/iris-textvec
 */
#include "iris.h"
#include "ingest/textvec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DOCS 4096
#define MAX_Q 4096

typedef struct query {
    char kind[16];
    char *text;
    int *rel, n_rel;
    int offset;
} query;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static char *docs[MAX_DOCS];
static int n_docs;
static query qs[MAX_Q];
static int n_q;

static void load(const char *dir)
{
    char path[1024], line[65536];
    snprintf(path, sizeof path, "%s/docs.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) exit((fprintf(stderr, "cannot read %s\n", path), 1));
    while (n_docs < MAX_DOCS && fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        tab[strcspn(tab, "\n")] = '\0';
        docs[n_docs++] = strdup(tab + 1);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/queries.tsv", dir);
    if (!(f = fopen(path, "r"))) exit((fprintf(stderr, "cannot read %s\n", path), 1));
    while (n_q < MAX_Q && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *kind = strtok(line, "\t"), *text = strtok(NULL, "\t"), *rel = strtok(NULL, "\t"),
             *off = strtok(NULL, "\t");
        if (!kind || !text || !rel || !off) continue;
        query *q = &qs[n_q++];
        snprintf(q->kind, sizeof q->kind, "%s", kind);
        q->text = strdup(text);
        q->offset = atoi(off);
        q->rel = malloc(sizeof(int) * (strlen(rel) / 2 + 2));
        for (char *t = strtok(rel, ","); t; t = strtok(NULL, ",")) q->rel[q->n_rel++] = atoi(t);
    }
    fclose(f);
}

/* Document vectors, mean of the first k windows (k = 0: the text as is). */
static double doc_vectors(const iris_model *m, int k, float *out, int dim)
{
    double t0 = now();
    for (int d = 0; d < n_docs; d++) {
        char **w;
        int n;
        if (textvec_windows(m, docs[d], strlen(docs[d]), k ? TEXTVEC_MEAN : TEXTVEC_FIRST,
                            k ? k : 1, &w, &n))
            exit((fprintf(stderr, "windows: %s\n", iris_errmsg()), 1));
        float *v = malloc(sizeof *v * (size_t)dim * n);
        if (iris_encode_texts(m, (const char *const *)w, n, v))
            exit((fprintf(stderr, "encode: %s\n", iris_errmsg()), 1));
        textvec_combine(v, n, dim, out + (size_t)d * dim);
        free(v);
        textvec_windows_free(w, n);
    }
    return (now() - t0) / n_docs;
}

static void query_vector(const iris_model *m, const query *q, float *out)
{
    int rc;
    if (!strcmp(q->kind, "image")) {
        iris_image img;
        rc = iris_image_load(q->text, NULL, &img);
        if (!rc) rc = iris_encode_images(m, &img, 1, out);
        iris_image_free(&img);
    } else {
        rc = iris_encode_texts(m, (const char *const *)&q->text, 1, out);
    }
    if (rc) exit((fprintf(stderr, "query %s: %s\n", q->text, iris_errmsg()), 1));
}

static int is_rel(const query *q, int d)
{
    for (int r = 0; r < q->n_rel; r++)
        if (q->rel[r] == d) return 1;
    return 0;
}

/* Rank (1-based) of the best relevant document; ties go against it (a
 * vector that cannot tell documents apart must not score). */
static int best_rank(const float *qv, const float *dv, int dim, const query *q)
{
    double best = -2;
    for (int r = 0; r < q->n_rel; r++) {
        const float *v = dv + (size_t)q->rel[r] * dim;
        double s = 0;
        for (int k = 0; k < dim; k++) s += qv[k] * v[k];
        if (s > best) best = s;
    }
    int rank = 1;
    for (int d = 0; d < n_docs; d++) {
        double s = 0;
        for (int k = 0; k < dim; k++) s += qv[k] * dv[(size_t)d * dim + k];
        if (s >= best && !is_rel(q, d)) rank++;
    }
    return rank;
}

int main(int argc, char **argv)
{
    if (argc != 3) return fprintf(stderr, "usage: textvec_bench MODEL CORPUS_DIR\n"), 2;
    iris_model *m;
    if (iris_model_load(argv[1], NULL, &m)) return fprintf(stderr, "%s\n", iris_errmsg()), 1;
    int dim = iris_model_dim(m);
    load(argv[2]);
    float *qv = malloc(sizeof *qv * (size_t)dim * n_q), *dv = malloc(sizeof *dv * (size_t)dim * n_docs);
    for (int i = 0; i < n_q; i++) query_vector(m, &qs[i], qv + (size_t)i * dim);
    printf("%d documents, %d queries, model %s\n\n", n_docs, n_q, argv[1]);
    printf("| vector | ms/doc | query | where | n | recall@1 | recall@10 | MRR |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    const int ks[] = {0, 2, 4, 16};
    const char *kinds[] = {"caption", "partial", "image"};
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
        double ms = 1e3 * doc_vectors(m, ks[ki], dv, dim);
        char name[16];
        snprintf(name, sizeof name, ks[ki] ? "mean-%d" : "first", ks[ki]);
        for (int kk = 0; kk < 3; kk++)
            for (int where = 0; where < 3; where++) { /* all, first 50 words, later */
                int n = 0, r1 = 0, r10 = 0;
                double mrr = 0;
                for (int i = 0; i < n_q; i++) {
                    if (strcmp(qs[i].kind, kinds[kk])) continue;
                    if (where == 1 && qs[i].offset >= 50) continue;
                    if (where == 2 && qs[i].offset < 50) continue;
                    int r = best_rank(qv + (size_t)i * dim, dv, dim, &qs[i]);
                    n++, r1 += r == 1, r10 += r <= 10, mrr += 1.0 / r;
                }
                static const char *wn[] = {"all", "words 0-49", "words 50+"};
                printf("| %s | %.1f | %s | %s | %d | %.3f | %.3f | %.3f |\n", name, ms, kinds[kk],
                       wn[where], n, n ? (double)r1 / n : 0, n ? (double)r10 / n : 0,
                       n ? mrr / n : 0);
            }
    }
    iris_model_free(m);
    return 0;
}

/*
 * textvec.h - one CLIP vector for a text longer than CLIP can read.
 *
 * CLIP's text tower reads a context of 77 BPE tokens (start and end
 * included); a 256-512-word chunk holds 350-700. Two ways to give such a
 * chunk a vector:
 *
 *   TEXTVEC_FIRST  encode the text as it is: the tower sees its first 75
 *                  tokens, the rest is invisible to the vector lane.
 *   TEXTVEC_MEAN   cut the text into consecutive windows of at most 74
 *                  tokens at word boundaries (CJK text at characters),
 *                  encode each, average the unit vectors and renormalise.
 *
 * docs/indexing.md has the measurement that picked the default and the
 * limits of either (BM25 always covers the whole text).
 */
#ifndef IRIS_INGEST_TEXTVEC_H
#define IRIS_INGEST_TEXTVEC_H

#include "iris.h"

enum { TEXTVEC_FIRST = 0, TEXTVEC_MEAN = 1 };

/* The texts to encode for text[0..len) (malloc'ed strings, *n of them, at
 * most max_windows: the text's first windows). TEXTVEC_FIRST gives the
 * text itself. Empty text gives one empty window. */
int textvec_windows(const iris_model *m, const char *text, size_t len, int mode, int max_windows,
                    char ***out, int *n);
void textvec_windows_free(char **w, int n);

/* out = normalise(sum of the n unit vectors in vecs (n x dim)). */
void textvec_combine(const float *vecs, int n, int dim, float *out);

#endif

/*
 * classify.c - zero-shot classification as in the CLIP paper: a label is
 * turned into sentences by prompt templates, the sentences' text
 * embeddings are averaged (each unit length first) and the mean is
 * renormalised; an image's probabilities are the softmax over labels of
 * logit_scale * cosine(image, label), logit_scale being the model's
 * learned temperature (100 for OpenAI's checkpoints).
 *
 * Default templates: the seven CLIP's ImageNet prompt-engineering notebook
 * kept after forward selection over its 80, plus the plain "a photo of a
 * {}." that most users would write. Callers pass their own for other
 * domains (a model trained on captions like "a red circle" wants "{}").
 */
#include "search/db.h"

#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const iris_default_templates[] = {
    "itap of a {}.",          "a bad photo of the {}.", "a origami {}.",
    "a photo of the large {}.", "a {} in a video game.", "art of the {}.",
    "a photo of the small {}.", "a photo of a {}.",
};
const int iris_n_default_templates =
    (int)(sizeof iris_default_templates / sizeof iris_default_templates[0]);

#define MAX_LABELS 1000
#define MAX_TEMPLATES 100
#define MAX_PROMPT 1024

/* template with every "{}" replaced by label (malloc'ed). */
static char *fill(const char *tpl, const char *label)
{
    size_t n = 1, ll = strlen(label);
    for (const char *t = tpl; *t; t++) n += t[0] == '{' && t[1] == '}' ? (t++, ll) : 1;
    char *s = malloc(n), *o = s;
    if (!s) return NULL;
    for (const char *t = tpl; *t; t++) {
        if (t[0] == '{' && t[1] == '}') {
            memcpy(o, label, ll);
            o += ll;
            t++;
        } else {
            *o++ = *t;
        }
    }
    *o = '\0';
    return s;
}

static int check_args(const char *const *labels, int n_labels, const iris_classify_opts *opts)
{
    if (!labels || n_labels < 1 || n_labels > MAX_LABELS)
        return iris_fail(IRIS_EARG, "classify needs 1 to %d labels (got %d)", MAX_LABELS,
                         n_labels);
    for (int i = 0; i < n_labels; i++)
        if (!labels[i] || !*labels[i] || strlen(labels[i]) > MAX_PROMPT)
            return iris_fail(IRIS_EARG, "label %d is empty or longer than %d bytes", i + 1,
                             MAX_PROMPT);
    if (opts && opts->templates && (opts->n_templates < 1 || opts->n_templates > MAX_TEMPLATES))
        return iris_fail(IRIS_EARG, "1 to %d templates, not %d", MAX_TEMPLATES, opts->n_templates);
    for (int t = 0; opts && opts->templates && t < opts->n_templates; t++)
        if (!opts->templates[t] || !strstr(opts->templates[t], "{}") ||
            strlen(opts->templates[t]) > MAX_PROMPT)
            return iris_fail(IRIS_EARG, "template '%s' has no {} for the label",
                             opts->templates[t] ? opts->templates[t] : "(null)");
    return IRIS_OK;
}

static void normalise(float *v, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++) s += (double)v[i] * v[i];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int i = 0; i < dim; i++) v[i] *= inv;
}

/* One label: encode its prompts, average, renormalise. */
static int embed_label(const iris_model *m, const char *label, const char *const *tpl, int n_tpl,
                       float *tmp, float *out, int dim)
{
    char **prompts = calloc((size_t)n_tpl, sizeof *prompts);
    int rc = prompts ? IRIS_OK : iris_fail(IRIS_ENOMEM, "no memory");
    for (int t = 0; !rc && t < n_tpl; t++)
        if (!(prompts[t] = fill(tpl[t], label))) rc = iris_fail(IRIS_ENOMEM, "no memory");
    if (!rc) rc = iris_encode_texts(m, (const char *const *)prompts, n_tpl, tmp);
    if (!rc) {
        memset(out, 0, (size_t)dim * sizeof *out);
        for (int t = 0; t < n_tpl; t++)
            for (int i = 0; i < dim; i++) out[i] += tmp[(size_t)t * dim + i];
        normalise(out, dim);
    }
    for (int t = 0; prompts && t < n_tpl; t++) free(prompts[t]);
    free(prompts);
    return rc;
}

int iris_label_embeddings(const iris_model *model, const char *const *labels, int n_labels,
                          const iris_classify_opts *opts, float *out)
{
    if (!model || !out) return iris_fail(IRIS_EARG, "iris_label_embeddings: NULL argument");
    int rc = check_args(labels, n_labels, opts);
    if (rc) return rc;
    const char *const *tpl = opts && opts->templates ? opts->templates : iris_default_templates;
    int n_tpl = opts && opts->templates ? opts->n_templates : iris_n_default_templates;
    int dim = iris_model_dim(model);
    float *tmp = malloc((size_t)n_tpl * (size_t)dim * sizeof *tmp);
    if (!tmp) return iris_fail(IRIS_ENOMEM, "no memory");
    for (int l = 0; !rc && l < n_labels; l++)
        rc = embed_label(model, labels[l], tpl, n_tpl, tmp, out + (size_t)l * dim, dim);
    free(tmp);
    return rc;
}

/* probs[j] = softmax_j(scale * <v, label_j>). */
static void softmax_row(const float *v, const float *lab, int n_labels, int dim, float scale,
                        float *probs)
{
    double max = -INFINITY, sum = 0;
    for (int j = 0; j < n_labels; j++) {
        double c = 0;
        for (int i = 0; i < dim; i++) c += (double)v[i] * lab[(size_t)j * dim + i];
        probs[j] = (float)(scale * c);
        if (probs[j] > max) max = probs[j];
    }
    for (int j = 0; j < n_labels; j++) sum += exp(probs[j] - max);
    for (int j = 0; j < n_labels; j++) probs[j] = (float)(exp(probs[j] - max) / sum);
}

int iris_classify_vectors(const iris_model *model, const char *const *labels, int n_labels,
                          const float *vectors, int n, const iris_classify_opts *opts,
                          float *probs)
{
    if (!model || !vectors || !probs || n < 0)
        return iris_fail(IRIS_EARG, "iris_classify_vectors: NULL argument");
    int dim = iris_model_dim(model);
    float *lab = malloc((size_t)(n_labels > 0 ? n_labels : 1) * (size_t)dim * sizeof *lab);
    if (!lab) return iris_fail(IRIS_ENOMEM, "no memory");
    int rc = iris_label_embeddings(model, labels, n_labels, opts, lab);
    iris_model_info in;
    if (!rc) rc = iris_model_get_info(model, &in);
    for (int k = 0; !rc && k < n; k++)
        softmax_row(vectors + (size_t)k * dim, lab, n_labels, dim, in.logit_scale,
                    probs + (size_t)k * n_labels);
    free(lab);
    return rc;
}

int iris_classify_images(const iris_model *model, const char *const *labels, int n_labels,
                         const iris_image *images, int n_images, const iris_classify_opts *opts,
                         float *probs)
{
    if (!model || !images || !probs || n_images < 1)
        return iris_fail(IRIS_EARG, "iris_classify_images: no images");
    int dim = iris_model_dim(model);
    float *v = malloc((size_t)n_images * (size_t)dim * sizeof *v);
    if (!v) return iris_fail(IRIS_ENOMEM, "no memory for %d embeddings", n_images);
    int rc = check_args(labels, n_labels, opts);
    if (!rc) rc = iris_encode_images(model, images, n_images, v);
    if (!rc) rc = iris_classify_vectors(model, labels, n_labels, v, n_images, opts, probs);
    free(v);
    return rc;
}

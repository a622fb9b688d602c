/*
 * tokenizer.c - CLIP's byte-level BPE tokenizer, exact against the reference:
 * open_clip's SimpleTokenizer (OpenAI's tokenizer) with ftfy installed.
 *
 * The reference, for a text T:
 *   1. ftfy.fix_text(T)                         (tokenizer_clean.c, tk_ftfy_fix)
 *   2. html.unescape twice, strip               (tk_html_unescape)
 *   3. " ".join(T.split()), lower()             (tk_is_space, tk_lower)
 *   4. regex pre-tokenizer: <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d
 *      |\p{L}+|\p{N}|[^\s\p{L}\p{N}]+   (IGNORECASE)          (next_piece)
 *   5. each piece as UTF-8 bytes, BPE by merge rank with "</w>" on the last
 *      byte; the exact string "<start_of_text>" / "<end_of_text>" maps to the
 *      start / end id                                           (bpe)
 *   6. [start] + ids + [end]; if longer than the context, cut and put the end
 *      token in the last slot.
 *
 * Bounded cost. Only the first context_len - 2 ids survive step 6, so we
 * stop as soon as we have them. To do that without reading the whole text,
 * the input is processed in runs that end just after an ASCII space or a
 * line feed: no step above ever looks across such a character (entity and
 * escape patterns exclude both, neither is a combining starter, whitespace
 * splitting and Final_Sigma stop there, no pre-token holds whitespace), so
 * cleaning run by run equals cleaning the whole text. ftfy's own segments
 * (lines, or 1,000,000 characters) are honoured: a segment containing '<'
 * turns ftfy's entity decoding off for itself and all later segments, as in
 * ftfy. A run longer than CLIP_TOKENIZER_MAX_RUN characters is cut there, so
 * work and memory per call are O(MAX_RUN) beyond the ids produced, whatever
 * the input size. That cut, ftfy's mojibake repair (not replicated) and a
 * cap on ftfy's repeat rounds are the only differences from the reference;
 * docs/tokenizer.md describes and counts them.
 *
 * BPE runs on token ids: a hash table maps a pair (left id, right id) to its
 * rank and merged id. Merging follows the reference's loop exactly (take the
 * lowest-ranked pair, merge all its occurrences left to right, repeat) with
 * a heap of candidate pairs ordered by (rank, position), so a long piece costs
 * O(n log n) rather than the reference's O(n^2).
 */
#include "clip/tokenizer.h"

#include "clip/tokenizer_clean.h"
#include "text/utf8.h"
#include "util/error.h"
#include "util/fs.h"

#include <cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VOCAB (1 << 24)
#define FTFY_SEGMENT 1000000 /* ftfy's max_decode_length, in characters */
#define HF_FILE_CAP (64u << 20)

typedef struct pair_slot {
    uint64_t key; /* left id << 32 | right id; EMPTY_KEY when free */
    int32_t rank, merged;
} pair_slot;
#define EMPTY_KEY UINT64_MAX

struct clip_tokenizer {
    int n_vocab;
    int32_t start_id, end_id;
    int32_t byte_id[256], byte_eow_id[256]; /* single-byte tokens, without / with "</w>" */
    pair_slot *pairs;
    size_t pair_mask;
};

/* ------------------------------------------------- vocabulary strings */

/* Build-time map from a vocabulary string to its id. Slots hold ids (-1:
 * free); the strings stay the caller's. Keys may be given in two parts
 * (a + b) so a merge's result is found without building the string. */
typedef struct str_map {
    int32_t *slot;
    size_t mask;
    const char *const *vocab;
} str_map;

static uint64_t hash_str(const char *a, size_t an, const char *b, size_t bn)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < an; i++) h = (h ^ (unsigned char)a[i]) * 1099511628211ULL;
    for (size_t i = 0; i < bn; i++) h = (h ^ (unsigned char)b[i]) * 1099511628211ULL;
    return h ^ (h >> 31);
}

static int32_t *sm_find(const str_map *m, const char *a, size_t an, const char *b, size_t bn)
{
    for (size_t i = hash_str(a, an, b, bn) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slot[i] < 0) return &m->slot[i];
        const char *s = m->vocab[m->slot[i]]; /* strncmp stops at s's end first */
        if (!strncmp(s, a, an) && !strncmp(s + an, b, bn) && !s[an + bn]) return &m->slot[i];
    }
}

static int32_t sm_id(const str_map *m, const char *a, size_t an, const char *b, size_t bn)
{
    return *sm_find(m, a, an, b, bn);
}

/* CLIP's bytes_to_unicode(): printable Latin-1 bytes stand for themselves,
 * the other 68 bytes (in byte order) for U+0100..U+0143. Fills the UTF-8
 * spelling of every byte's symbol. */
static void byte_symbols(char sym[256][4])
{
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        int n = utf8_put((uint32_t)(printable ? b : 256 + extra++), sym[b]);
        sym[b][n] = '\0';
    }
}

/* ------------------------------------------------------- pair table */

static uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

static size_t pair_hash(uint64_t k)
{
    k *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(k ^ (k >> 32));
}

static pair_slot *pair_find(const clip_tokenizer *t, uint64_t key)
{
    for (size_t i = pair_hash(key) & t->pair_mask;; i = (i + 1) & t->pair_mask)
        if (t->pairs[i].key == key || t->pairs[i].key == EMPTY_KEY) return &t->pairs[i];
}

/* ------------------------------------------------------------ creation */

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) p *= 2;
    return p;
}

/* Maps every vocabulary string to its id; finds the special and byte tokens. */
static int index_vocab(clip_tokenizer *t, const char *const *vocab, int n, str_map *m)
{
    m->vocab = vocab;
    m->mask = pow2_at_least(2 * (size_t)n) - 1;
    m->slot = malloc((m->mask + 1) * sizeof *m->slot);
    if (!m->slot) return iris_fail(IRIS_ENOMEM, "tokenizer: no memory for %d tokens", n);
    memset(m->slot, 0xFF, (m->mask + 1) * sizeof *m->slot);
    t->start_id = t->end_id = -1;
    for (int i = 0; i < n; i++) {
        const char *s = vocab[i];
        if (!s) return iris_fail(IRIS_EARG, "tokenizer: token %d is NULL", i);
        if (!strcmp(s, "<|startoftext|>") || !strcmp(s, "<start_of_text>")) t->start_id = i;
        if (!strcmp(s, "<|endoftext|>") || !strcmp(s, "<end_of_text>")) t->end_id = i;
        int32_t *slot = sm_find(m, s, strlen(s), "", 0);
        if (*slot >= 0)
            return iris_fail(IRIS_EFORMAT, "tokenizer: token %d '%.60s' duplicates token %d", i, s, *slot);
        *slot = i;
    }
    if (t->start_id < 0 || t->end_id < 0)
        return iris_fail(IRIS_EFORMAT, "tokenizer: vocabulary has no %s token",
                         t->start_id < 0 ? "<|startoftext|>" : "<|endoftext|>");
    char sym[256][4];
    byte_symbols(sym);
    for (int b = 0; b < 256; b++) {
        size_t len = strlen(sym[b]);
        t->byte_id[b] = sm_id(m, sym[b], len, "", 0);
        t->byte_eow_id[b] = sm_id(m, sym[b], len, "</w>", 4);
        if (t->byte_id[b] < 0 || t->byte_eow_id[b] < 0)
            return iris_fail(IRIS_EFORMAT, "tokenizer: vocabulary has no token for byte 0x%02X%s", b,
                             t->byte_id[b] < 0 ? "" : " + </w>");
    }
    return IRIS_OK;
}

/* Resolves merge rule `rank` ("left right") into the pair table. */
static int add_merge(clip_tokenizer *t, const str_map *m, const char *rule, int rank)
{
    size_t ln = strcspn(rule, " \t"), gap = strspn(rule + ln, " \t");
    const char *r = rule + ln + gap;
    size_t rn = strcspn(r, " \t\r\n");
    if (!ln || !gap || !rn || r[rn + strspn(r + rn, " \t\r\n")])
        return iris_fail(IRIS_EFORMAT, "tokenizer: merge %d '%.60s' is not 'left right'", rank, rule);
    int32_t lid = sm_id(m, rule, ln, "", 0), rid = sm_id(m, r, rn, "", 0);
    int32_t mid = sm_id(m, rule, ln, r, rn);
    if (lid < 0 || rid < 0 || mid < 0) { /* name the missing one: left, right or both */
        int show_l = lid < 0 || rid >= 0, show_r = lid >= 0;
        return iris_fail(IRIS_EFORMAT, "tokenizer: merge %d '%.*s %.*s': token '%.*s%.*s' is not in the vocabulary",
                         rank, (int)ln, rule, (int)rn, r, show_l ? (int)ln : 0, rule, show_r ? (int)rn : 0, r);
    }
    pair_slot *p = pair_find(t, pair_key(lid, rid));
    *p = (pair_slot){pair_key(lid, rid), rank, mid}; /* a repeated rule takes its later rank */
    return IRIS_OK;
}

int clip_tokenizer_create(const char *const *vocab, int n_vocab, const char *const *merges,
                          int n_merges, clip_tokenizer **out)
{
    if (!out) return iris_fail(IRIS_EARG, "clip_tokenizer_create: out is NULL");
    *out = NULL;
    if (!vocab || n_vocab <= 0 || n_vocab > MAX_VOCAB || n_merges < 0 || (n_merges && !merges))
        return iris_fail(IRIS_EARG, "clip_tokenizer_create: bad vocabulary (%d tokens) or merges (%d)",
                         n_vocab, n_merges);
    clip_tokenizer *t = calloc(1, sizeof *t);
    str_map m = {0};
    if (!t) return iris_fail(IRIS_ENOMEM, "tokenizer: no memory");
    t->n_vocab = n_vocab;
    t->pair_mask = pow2_at_least(2 * (size_t)n_merges) - 1;
    t->pairs = malloc((t->pair_mask + 1) * sizeof *t->pairs);
    int rc = t->pairs ? index_vocab(t, vocab, n_vocab, &m)
                      : iris_fail(IRIS_ENOMEM, "tokenizer: no memory for %d merges", n_merges);
    if (t->pairs)
        for (size_t i = 0; i <= t->pair_mask; i++) t->pairs[i].key = EMPTY_KEY;
    for (int r = 0; rc == IRIS_OK && r < n_merges; r++)
        rc = merges[r] ? add_merge(t, &m, merges[r], r)
                       : iris_fail(IRIS_EARG, "tokenizer: merge %d is NULL", r);
    free(m.slot);
    if (rc) {
        clip_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return IRIS_OK;
}

void clip_tokenizer_free(clip_tokenizer *tok)
{
    if (!tok) return;
    free(tok->pairs);
    free(tok);
}

int clip_tokenizer_vocab_size(const clip_tokenizer *tok) { return tok ? tok->n_vocab : 0; }
int clip_tokenizer_start_id(const clip_tokenizer *tok) { return tok ? tok->start_id : -1; }
int clip_tokenizer_end_id(const clip_tokenizer *tok) { return tok ? tok->end_id : -1; }

/* ------------------------------------------------- Hugging Face files */

/* vocab.json -> tokens[id] (pointers into *json, which the caller frees). */
static int read_vocab_json(const char *path, cJSON **json, const char ***tokens, int *n)
{
    char *text;
    size_t len;
    int rc = iris_read_file(path, HF_FILE_CAP, &text, &len);
    if (rc) return rc;
    *json = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(*json))
        return iris_fail(IRIS_EFORMAT, "%s: not a JSON object of token -> id", path);
    *n = cJSON_GetArraySize(*json);
    if (*n <= 0 || *n > MAX_VOCAB) return iris_fail(IRIS_EFORMAT, "%s: %d tokens", path, *n);
    *tokens = calloc((size_t)*n, sizeof **tokens);
    if (!*tokens) return iris_fail(IRIS_ENOMEM, "%s: no memory for %d tokens", path, *n);
    for (cJSON *it = (*json)->child; it; it = it->next) {
        double v = it->valuedouble;
        if (!cJSON_IsNumber(it))
            return iris_fail(IRIS_EFORMAT, "%s: token '%.60s' has an id that is not a number", path,
                             it->string);
        if (v != floor(v) || v < 0 || v >= *n)
            return iris_fail(IRIS_EFORMAT, "%s: token '%.60s' has id %g, not an integer in 0..%d",
                             path, it->string, v, *n - 1);
        int id = (int)v;
        if ((*tokens)[id])
            return iris_fail(IRIS_EFORMAT, "%s: tokens '%.60s' and '%.60s' both have id %d", path,
                             (*tokens)[id], it->string, id);
        (*tokens)[id] = it->string;
    }
    return IRIS_OK;
}

/* merges.txt -> lines (pointers into *text, which the caller frees). The
 * first line is the "#version" header; blank lines are allowed only at the
 * end (the reference strips the file). */
static int read_merges_txt(const char *path, char **text, const char ***lines, int *n)
{
    size_t len;
    int rc = iris_read_file(path, HF_FILE_CAP, text, &len);
    if (rc) return rc;
    if (strlen(*text) != len) return iris_fail(IRIS_EFORMAT, "%s: contains a NUL byte", path);
    if (strncmp(*text, "#version", 8))
        return iris_fail(IRIS_EFORMAT, "%s: first line is not a '#version' header", path);
    size_t count = 1;
    for (size_t i = 0; i < len; i++) count += (*text)[i] == '\n';
    *lines = calloc(count, sizeof **lines);
    if (!*lines) return iris_fail(IRIS_ENOMEM, "%s: no memory for %zu lines", path, count);
    *n = 0;
    int blank_at = -1;
    for (char *line = strchr(*text, '\n'); line && *++line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        if (line[strspn(line, " \t\r")] == '\0') {
            if (blank_at < 0) blank_at = *n + 2;
        } else if (blank_at >= 0) {
            return iris_fail(IRIS_EFORMAT, "%s: line %d is blank", path, blank_at);
        } else {
            (*lines)[(*n)++] = line;
        }
        line = end;
    }
    return IRIS_OK;
}

int clip_tokenizer_load_hf(const char *vocab_json, const char *merges_txt, clip_tokenizer **out)
{
    if (!out || !vocab_json || !merges_txt)
        return iris_fail(IRIS_EARG, "clip_tokenizer_load_hf: NULL argument");
    *out = NULL;
    cJSON *json = NULL;
    char *mtext = NULL;
    const char **tokens = NULL, **merges = NULL;
    int n_tokens = 0, n_merges = 0;
    int rc = read_vocab_json(vocab_json, &json, &tokens, &n_tokens);
    if (!rc) rc = read_merges_txt(merges_txt, &mtext, &merges, &n_merges);
    if (!rc && (rc = clip_tokenizer_create(tokens, n_tokens, merges, n_merges, out)))
        iris_fail_wrap(rc, "%s + %s", vocab_json, merges_txt);
    cJSON_Delete(json);
    free(tokens);
    free(mtext);
    free(merges);
    return rc;
}

/* ----------------------------------------------------------- per call */

typedef struct bpe_cand {
    int32_t rank, left, right, lid, rid, merged; /* pair (node left, node right) */
} bpe_cand;

typedef struct cand_vec {
    bpe_cand *v;
    size_t n, cap;
} cand_vec;

#define SMALL_WORD 128 /* pre-tokens up to this many bytes use the inline arrays */

/* Scratch for one clip_tokenize call (inline arrays spare typical queries
 * most allocations). */
typedef struct tk_work {
    const clip_tokenizer *tok;
    tk_buf run, text, s1, s2, h1, h2, low;
    unsigned char *bytes; /* UTF-8 of one pre-token, node_cap bytes */
    int32_t *id, *next, *prev; /* BPE nodes, node_cap each */
    size_t node_cap;
    void *node_block; /* heap block behind the four arrays, when not inline */
    cand_vec heap, deferred;
    int32_t *ids; /* content ids so far (at most need) */
    int n_ids, need;
    int32_t small_nodes[3 * SMALL_WORD], small_ids[SMALL_WORD];
    unsigned char small_bytes[SMALL_WORD];
} tk_work;

static void work_init(tk_work *w, const clip_tokenizer *tok, int need)
{
    memset(w, 0, offsetof(tk_work, small_nodes));
    w->tok = tok;
    w->need = need;
    w->id = w->small_nodes;
    w->next = w->small_nodes + SMALL_WORD;
    w->prev = w->small_nodes + 2 * SMALL_WORD;
    w->bytes = w->small_bytes;
    w->node_cap = SMALL_WORD;
    w->ids = need < SMALL_WORD ? w->small_ids : malloc(((size_t)need + 1) * sizeof *w->ids);
}

static void work_free(tk_work *w)
{
    tk_buf *bufs[] = {&w->run, &w->text, &w->s1, &w->s2, &w->h1, &w->h2, &w->low};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) tk_buf_free(bufs[i]);
    free(w->node_block);
    free(w->heap.v);
    free(w->deferred.v);
    if (w->ids != w->small_ids) free(w->ids);
}

static int emit(tk_work *w, int32_t id)
{
    if (w->n_ids < w->need) w->ids[w->n_ids++] = id;
    return IRIS_OK;
}

/* ----------------------------------------------------------------- BPE */

static int cand_less(const bpe_cand *a, const bpe_cand *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->left < b->left;
}

static int cand_push(cand_vec *h, bpe_cand c, int heap)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        bpe_cand *v = realloc(h->v, cap * sizeof *v);
        if (!v) return iris_fail(IRIS_ENOMEM, "tokenizer: no memory for BPE");
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    for (; heap && i > 0 && cand_less(&c, &h->v[(i - 1) / 2]); i = (i - 1) / 2) h->v[i] = h->v[(i - 1) / 2];
    h->v[i] = c;
    return IRIS_OK;
}

static bpe_cand cand_pop(cand_vec *h)
{
    bpe_cand top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && cand_less(&h->v[c + 1], &h->v[c])) c++;
        if (!cand_less(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* Queues the pair starting at node l if it has a merge rule. Pairs ranked
 * below the pass in progress wait until it ends, as in the reference (which
 * merges every occurrence of one pair before looking for the next). */
static int consider(tk_work *w, int32_t l, int32_t pass_rank)
{
    int32_t r = l < 0 ? -1 : w->next[l];
    if (r < 0) return IRIS_OK;
    const pair_slot *p = pair_find(w->tok, pair_key(w->id[l], w->id[r]));
    if (p->key == EMPTY_KEY) return IRIS_OK;
    bpe_cand c = {p->rank, l, r, w->id[l], w->id[r], p->merged};
    return p->rank < pass_rank ? cand_push(&w->deferred, c, 0) : cand_push(&w->heap, c, 1);
}

/* Room for a pre-token of n bytes (contents are not kept). */
static int reserve_nodes(tk_work *w, size_t n)
{
    if (n <= w->node_cap) return IRIS_OK;
    size_t cap = n < 4096 ? 4096 : n;
    void *block = malloc(cap * (3 * sizeof(int32_t) + 1));
    if (!block) return iris_fail(IRIS_ENOMEM, "tokenizer: no memory for a %zu-byte word", n);
    free(w->node_block);
    w->node_block = block;
    w->id = block;
    w->next = w->id + cap;
    w->prev = w->next + cap;
    w->bytes = (unsigned char *)(w->prev + cap);
    w->node_cap = cap;
    return IRIS_OK;
}

/* BPE of the word w->bytes[0..n) (n >= 1); emits its ids. Nodes are bytes
 * in a linked list; a merge keeps the left node (so node index = position). */
static int bpe(tk_work *w, size_t n)
{
    const clip_tokenizer *t = w->tok;
    for (size_t i = 0; i < n; i++) {
        w->id[i] = i + 1 < n ? t->byte_id[w->bytes[i]] : t->byte_eow_id[w->bytes[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    w->heap.n = w->deferred.n = 0;
    int rc = IRIS_OK;
    for (size_t i = 0; i + 1 < n && !rc; i++) rc = consider(w, (int32_t)i, -1);
    int32_t pass = -1;
    while (!rc && (w->heap.n || w->deferred.n)) {
        if (w->deferred.n && (!w->heap.n || w->heap.v[0].rank != pass)) { /* pass over */
            for (size_t i = 0; i < w->deferred.n && !rc; i++) rc = cand_push(&w->heap, w->deferred.v[i], 1);
            w->deferred.n = 0;
            continue;
        }
        bpe_cand c = cand_pop(&w->heap);
        if (w->next[c.left] != c.right || w->id[c.left] != c.lid || w->id[c.right] != c.rid)
            continue; /* stale: a neighbour was merged since */
        pass = c.rank;
        w->id[c.left] = c.merged;
        w->next[c.left] = w->next[c.right];
        if (w->next[c.right] >= 0) w->prev[w->next[c.right]] = c.left;
        w->next[c.right] = -2; /* dead */
        rc = consider(w, w->prev[c.left], pass);
        if (!rc) rc = consider(w, c.left, pass);
    }
    for (int32_t i = 0; i >= 0 && !rc; i = w->next[i]) rc = emit(w, w->id[i]);
    return rc;
}

/* ------------------------------------------------------- pre-tokenizer */

/* Case-insensitive match of an ASCII pattern letter as the reference regex
 * (regex.IGNORECASE) does it: the letter, its capital, and U+017F LONG S
 * for 's' (checked over all code points against the regex module). */
static int ci_eq(int32_t c, char p)
{
    return c == p || (p >= 'a' && p <= 'z' && c == p - 32) || (p == 's' && c == 0x17F);
}

static size_t match_literal(const int32_t *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; lit[i]; i++)
        if (i >= n || !ci_eq(s[i], lit[i])) return 0;
    return i;
}

/* Length of the regex match starting at s[0], 0 if none; *special receives
 * the start/end id when the piece is exactly "<start_of_text>" or
 * "<end_of_text>" (only the exact string is special: the reference looks
 * pieces up in its cache, which holds those two). */
static size_t next_piece(const tk_work *w, const int32_t *s, size_t n, int32_t *special)
{
    static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    static const char *const specials[] = {"<start_of_text>", "<end_of_text>"};
    *special = -1;
    for (int k = 0; k < 2 && s[0] == '<'; k++) {
        size_t m = match_literal(s, n, specials[k]);
        if (!m) continue;
        int exact = 1;
        for (size_t i = 0; i < m; i++) exact &= s[i] == specials[k][i];
        if (exact) *special = k == 0 ? w->tok->start_id : w->tok->end_id;
        return m;
    }
    for (size_t k = 0; k < 7 && s[0] == '\''; k++) {
        size_t m = match_literal(s, n, contractions[k]);
        if (m) return m;
    }
    int cls = tk_class(s[0]);
    if (cls == TK_NUMBER || cls == TK_NONE) return cls == TK_NUMBER;
    size_t m = 1;
    while (m < n && tk_class(s[m]) == cls) m++;
    return m;
}

/* Pre-tokenizes and encodes one lower-cased chunk (no whitespace inside). */
static int encode_chunk(tk_work *w, const int32_t *s, size_t n)
{
    for (size_t i = 0; i < n && w->n_ids < w->need;) {
        int32_t special;
        size_t m = next_piece(w, s + i, n - i, &special);
        if (!m) {
            i++; /* U+0345: no alternative matches; findall skips it */
            continue;
        }
        int rc = reserve_nodes(w, 4 * m);
        size_t nb = 0;
        for (size_t k = 0; k < m && !rc; k++) nb += (size_t)utf8_put((uint32_t)s[i + k], (char *)w->bytes + nb);
        if (!rc) rc = special >= 0 ? emit(w, special) : bpe(w, nb);
        if (rc) return rc;
        i += m;
    }
    return IRIS_OK;
}

/* Steps 2-5 on cleaned text (which we may modify): html.unescape twice,
 * split on whitespace, lower-case, pre-tokenize, BPE. */
static int encode_clean(tk_work *w, tk_buf *text)
{
    int rc = IRIS_OK, amp = 0;
    for (size_t i = 0; i < text->n && !amp; i++) amp = text->v[i] == '&';
    if (amp) {
        if (!(rc = tk_html_unescape(text->v, text->n, &w->h1)))
            rc = tk_html_unescape(w->h1.v, w->h1.n, &w->h2);
        text = &w->h2;
    }
    for (size_t i = 0; !rc && i < text->n && w->n_ids < w->need;) {
        size_t e = i;
        int ascii = 1;
        for (; e < text->n && !tk_is_space(text->v[e]); e++) ascii &= text->v[e] < 0x80;
        if (e > i && ascii) { /* str.lower on ASCII, in place */
            for (size_t k = i; k < e; k++) text->v[k] |= (text->v[k] >= 'A' && text->v[k] <= 'Z') << 5;
            rc = encode_chunk(w, text->v + i, e - i);
        } else if (e > i && !(rc = tk_lower(text->v + i, e - i, &w->low))) {
            rc = encode_chunk(w, w->low.v, w->low.n);
        }
        i = e + 1;
    }
    return rc;
}

/* ------------------------------------------------------------- driver */

/* Where the ftfy segment starting at byte pos ends (after its '\n', or after
 * FTFY_SEGMENT characters); a '<' in it turns entity decoding off from here
 * on, as ftfy.fix_text does. */
static size_t segment_end(const unsigned char *s, size_t len, size_t pos, int *html_off)
{
    size_t chars = 0;
    while (pos < len && chars < FTFY_SEGMENT) {
        unsigned char c = s[pos];
        chars++;
        if (c >= 0x80) {
            utf8_next_subpart((const char *)s, len, &pos);
            continue;
        }
        pos++;
        if (c == '<') *html_off = 1;
        if (c == '\n') break;
    }
    return pos;
}

/* Reads the next run (up to and including a space or line feed, or up to the
 * segment end or MAX_RUN characters) into w->run. Returns 1 if the run ends
 * where cleaning may restart (not merely at an ftfy segment boundary). */
static int next_run(tk_work *w, const unsigned char *s, size_t seg_end, size_t *pos, int *rc)
{
    w->run.n = 0;
    while (*pos < seg_end) {
        int32_t cp = (int32_t)utf8_next_subpart((const char *)s, seg_end, pos);
        if (w->run.n == w->run.cap && (*rc = tk_reserve(&w->run, w->run.n + 1))) return 1;
        w->run.v[w->run.n++] = cp;
        if (cp == ' ' || cp == '\n' || w->run.n >= CLIP_TOKENIZER_MAX_RUN) return 1;
    }
    return 0;
}

static int tokenize_work(tk_work *w, const unsigned char *s, size_t len)
{
    size_t pos = 0, seg_end = 0;
    int html_off = 0, rc = IRIS_OK;
    w->text.n = 0;
    while (!rc && pos < len && w->n_ids < w->need) {
        if (pos == seg_end) seg_end = segment_end(s, len, pos, &html_off);
        if (!w->text.n && s[pos] == ' ') { /* a lone space cleans to nothing */
            pos++;
            continue;
        }
        int restart = next_run(w, s, seg_end, &pos, &rc);
        if (rc || (rc = tk_ftfy_fix(&w->run, &w->s1, &w->s2, !html_off))) break;
        if ((rc = tk_reserve(&w->text, w->text.n + w->run.n))) break;
        if (w->run.n) memcpy(w->text.v + w->text.n, w->run.v, w->run.n * sizeof *w->run.v);
        w->text.n += w->run.n;
        if (restart || pos == len) {
            rc = encode_clean(w, &w->text);
            w->text.n = 0;
        }
    }
    return rc;
}

int clip_tokenize_n(const clip_tokenizer *tok, const char *text, size_t len, int context_len,
                    int32_t *ids, int max_ids, int *n_ids)
{
    if (n_ids) *n_ids = 0;
    if (!tok || (!text && len) || !n_ids || max_ids < 0 || (max_ids && !ids))
        return iris_fail(IRIS_EARG, "clip_tokenize: NULL argument or negative max_ids");
    if (context_len < 2)
        return iris_fail(IRIS_EARG, "clip_tokenize: context length %d (needs >= 2)", context_len);
    /* Only the content ids that reach the caller's buffer are computed. */
    int need = context_len - 2 < max_ids - 1 ? context_len - 2 : (max_ids > 0 ? max_ids - 1 : 0);
    tk_work w;
    work_init(&w, tok, need);
    int rc = w.ids ? tokenize_work(&w, (const unsigned char *)text, len)
                   : iris_fail(IRIS_ENOMEM, "clip_tokenize: no memory for %d ids", context_len);
    if (!rc) {
        int n = 0;
        if (n < max_ids) ids[n++] = tok->start_id;
        for (int i = 0; i < w.n_ids && n < max_ids; i++) ids[n++] = w.ids[i];
        if (n < max_ids) ids[n++] = tok->end_id;
        *n_ids = n;
    }
    work_free(&w);
    return rc;
}

int clip_tokenize(const clip_tokenizer *tok, const char *text, int context_len, int32_t *ids,
                  int max_ids, int *n_ids)
{
    return clip_tokenize_n(tok, text, text ? strlen(text) : 0, context_len, ids, max_ids, n_ids);
}

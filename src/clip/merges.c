/*
 * merges.c - rebuild CLIP's BPE merges from its vocabulary (see merges.h).
 *
 * Symbols are token ids. The byte alphabet is checked against CLIP's
 * bytes_to_unicode order first, so a vocabulary of another kind is refused
 * rather than mis-read. Then, for each merge token in id order, its
 * characters are replayed through the merges found so far (lowest rank
 * first, every occurrence of the chosen pair merged, as CLIP's bpe() does)
 * and must end as exactly two symbols. Pair -> rank lookups go through an
 * open-addressing table sized once for all merges.
 */
#include "clip/merges.h"

#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_BYTES 256
#define FIRST_MERGE (2 * N_BYTES)
#define END_MARK "</w>"

/* CLIP's bytes_to_unicode(), in vocabulary order: the printable bytes map
 * to themselves and come first, the others follow mapped to 256 + n. */
static void byte_alphabet(uint32_t cp[N_BYTES])
{
    int k = 0, n = 0;
    for (int b = 0; b < N_BYTES; b++)
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) cp[k++] = (uint32_t)b;
    for (int b = 0; b < N_BYTES; b++)
        if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)))
            cp[k++] = (uint32_t)(N_BYTES + n++);
}

static int utf8_put(uint32_t c, char *out)
{
    if (c < 0x80) return out[0] = (char)c, 1;
    out[0] = (char)(0xC0 | c >> 6);
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2; /* the alphabet stays below U+0800 */
}

/* Next code point of s (2-byte sequences at most, as in the alphabet). */
static int utf8_get(const unsigned char **s, uint32_t *c)
{
    const unsigned char *p = *s;
    if (p[0] < 0x80) return *c = p[0], *s += 1, 1;
    if ((p[0] & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
        *c = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
        *s += 2;
        return 1;
    }
    return 0;
}

/* Pair -> rank, keyed by (left << 16 | right) + 1 (ids are below 2^16;
 * 0 marks an empty slot). Key and rank share a slot: one cache line per probe. */
typedef struct pair_slot {
    uint32_t key;
    int32_t rank;
} pair_slot;

typedef struct pair_table {
    pair_slot *slots;
    uint32_t mask, shift;
} pair_table;

static uint32_t pair_key(int a, int b) { return ((uint32_t)a << 16 | (uint32_t)b) + 1; }

static uint32_t slot_of(const pair_table *t, uint32_t key)
{
    uint32_t i = (uint32_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> t->shift) & t->mask;
    while (t->slots[i].key && t->slots[i].key != key) i = (i + 1) & t->mask;
    return i;
}

static int pair_rank(const pair_table *t, int a, int b)
{
    const pair_slot *s = &t->slots[slot_of(t, pair_key(a, b))];
    return s->key ? s->rank : -1;
}

static void pair_add(pair_table *t, int a, int b, int r)
{
    uint32_t key = pair_key(a, b);
    t->slots[slot_of(t, key)] = (pair_slot){key, r};
}

/* BPE over sym[0..n) with the merges in t; returns the final length. */
static int replay(const pair_table *t, int *sym, int n)
{
    for (;;) {
        int best = -1, bi = -1;
        for (int i = 0; i + 1 < n; i++) {
            int r = pair_rank(t, sym[i], sym[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r, bi = i;
        }
        if (best < 0) return n;
        int a = sym[bi], b = sym[bi + 1], m = 0;
        for (int i = 0; i < n; i++) {
            if (i + 1 < n && sym[i] == a && sym[i + 1] == b) {
                sym[m++] = FIRST_MERGE + best;
                i++;
            } else {
                sym[m++] = sym[i];
            }
        }
        n = m;
    }
}

/* Token id -> its characters as alphabet symbols (the last one end-marked
 * when the token ends in "</w>"). */
static int to_symbols(const char *tok, const int *index, int *sym, int cap)
{
    size_t len = strlen(tok), mark = strlen(END_MARK);
    int end = len > mark && !strcmp(tok + len - mark, END_MARK);
    const unsigned char *p = (const unsigned char *)tok, *stop = p + len - (end ? mark : 0);
    int n = 0;
    uint32_t c;
    while (p < stop) {
        if (n == cap || !utf8_get(&p, &c) || p > stop || c >= 2 * N_BYTES || index[c] < 0) return -1;
        sym[n++] = index[c];
    }
    if (end && n) sym[n - 1] += N_BYTES;
    return n;
}

static int check_alphabet(const char *const *vocab, int n_vocab, const char *path, int *index)
{
    uint32_t cp[N_BYTES];
    byte_alphabet(cp);
    if (n_vocab < FIRST_MERGE + 2)
        return iris_fail(IRIS_EFORMAT, "%s: %d tokens are too few for a CLIP vocabulary", path,
                         n_vocab);
    for (int i = 0; i < 2 * N_BYTES; i++) index[i] = -1;
    for (int i = 0; i < N_BYTES; i++) {
        char want[8];
        int k = utf8_put(cp[i], want);
        want[k] = '\0';
        size_t len = strlen(vocab[i]);
        if (strcmp(vocab[i], want) || strncmp(vocab[N_BYTES + i], want, len) ||
            strcmp(vocab[N_BYTES + i] + len, END_MARK))
            return iris_fail(IRIS_EFORMAT,
                             "%s: token %d is not CLIP's byte alphabet (a CLIP vocabulary "
                             "starts with bytes_to_unicode order)",
                             path, strcmp(vocab[i], want) ? i : N_BYTES + i);
        index[cp[i]] = i;
    }
    if (strcmp(vocab[n_vocab - 2], "<|startoftext|>") || strcmp(vocab[n_vocab - 1], "<|endoftext|>"))
        return iris_fail(IRIS_EFORMAT, "%s: the vocabulary does not end with CLIP's start and end tokens",
                         path);
    return IRIS_OK;
}

/* The merge list as "left right" strings in one allocation. */
static int build_strings(const char *const *vocab, const int (*pairs)[2], int n, char ***out)
{
    size_t chars = 0;
    for (int r = 0; r < n; r++) chars += strlen(vocab[pairs[r][0]]) + strlen(vocab[pairs[r][1]]) + 2;
    char **m = malloc((size_t)n * sizeof *m + chars);
    if (!m) return iris_fail(IRIS_ENOMEM, "no memory for %d merges", n);
    char *dst = (char *)(m + n);
    for (int r = 0; r < n; r++) {
        size_t la = strlen(vocab[pairs[r][0]]), lb = strlen(vocab[pairs[r][1]]);
        m[r] = dst;
        memcpy(dst, vocab[pairs[r][0]], la);
        dst[la] = ' ';
        memcpy(dst + la + 1, vocab[pairs[r][1]], lb + 1);
        dst += la + lb + 2;
    }
    *out = m;
    return IRIS_OK;
}

int clip_merges_from_vocab(const char *const *vocab, int n_vocab, const char *path,
                           char ***merges, int *n_merges)
{
    int index[2 * N_BYTES];
    *merges = NULL;
    int rc = check_alphabet(vocab, n_vocab, path, index);
    if (rc) return rc;
    if (n_vocab >= (1 << 16))
        return iris_fail(IRIS_ELIMIT, "%s: %d tokens is more than a CLIP vocabulary holds", path,
                         n_vocab);
    int n = n_vocab - FIRST_MERGE - 2;
    uint32_t bits = 4;
    while ((1u << bits) < 2u * (uint32_t)n) bits++;
    pair_table t = {calloc((size_t)1 << bits, sizeof(pair_slot)), (1u << bits) - 1, 64 - bits};
    int (*pairs)[2] = malloc(((size_t)n + 1) * sizeof *pairs);
    enum { MAX_SYM = 256 };
    int sym[MAX_SYM];
    if (!t.slots || !pairs) rc = iris_fail(IRIS_ENOMEM, "no memory for %d merges", n);
    for (int r = 0; r < n && !rc; r++) {
        const char *tok = vocab[FIRST_MERGE + r];
        int k = to_symbols(tok, index, sym, MAX_SYM);
        if (k >= 2) k = replay(&t, sym, k);
        if (k != 2 || pair_rank(&t, sym[0], sym[1]) >= 0) {
            rc = iris_fail(IRIS_EFORMAT,
                           "%s: token %d '%.40s' is not a merge of two earlier tokens, so no "
                           "BPE merge list can be derived",
                           path, FIRST_MERGE + r, tok);
            break;
        }
        pairs[r][0] = sym[0], pairs[r][1] = sym[1];
        pair_add(&t, sym[0], sym[1], r);
    }
    if (!rc) rc = build_strings(vocab, (const int(*)[2])pairs, n, merges);
    if (!rc) *n_merges = n;
    free(t.slots), free(pairs);
    return rc;
}

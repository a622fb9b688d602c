/*
 * tokenizer.h - CLIP's byte-level BPE tokenizer (see tokenizer.c for the
 * design and for which ftfy repairs are and are not replicated).
 */
#ifndef IRIS_CLIP_TOKENIZER_H
#define IRIS_CLIP_TOKENIZER_H

#include <stdint.h>

typedef struct clip_tokenizer clip_tokenizer;

/* From a vocabulary (vocab[i] is the token string of id i, in CLIP's
 * byte-to-unicode alphabet, "</w>" marking word ends) and merge rules
 * (merges[r] = "left right", r = priority). Copies what it needs. */
int clip_tokenizer_create(const char *const *vocab, int n_vocab, const char *const *merges,
                          int n_merges, clip_tokenizer **out);
/* From Hugging Face files: vocab.json and merges.txt. */
int clip_tokenizer_load_hf(const char *vocab_json, const char *merges_txt, clip_tokenizer **out);
void clip_tokenizer_free(clip_tokenizer *tok);

/* Full CLIP tokenisation: cleanup, lower-case, pre-tokenise, BPE, then
 * [start] + ids + [end], truncated to context_len keeping the end token.
 * Writes min(count, max_ids) ids; *n_ids receives that count. */
int clip_tokenize(const clip_tokenizer *tok, const char *text, int context_len, int32_t *ids,
                  int max_ids, int *n_ids);

int clip_tokenizer_vocab_size(const clip_tokenizer *tok);
int clip_tokenizer_start_id(const clip_tokenizer *tok); /* 49406 for CLIP */
int clip_tokenizer_end_id(const clip_tokenizer *tok);   /* 49407 for CLIP */

#endif

/*
 * tokenizer.h - CLIP's byte-level BPE tokenizer (see tokenizer.c for the
 * design, docs/tokenizer.md for exactness against the reference and which
 * ftfy repairs are and are not replicated).
 *
 * A tokenizer is immutable after creation: any number of threads may call
 * clip_tokenize on one tokenizer at once (all scratch memory is per call).
 */
#ifndef IRIS_CLIP_TOKENIZER_H
#define IRIS_CLIP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct clip_tokenizer clip_tokenizer;

/* From a vocabulary (vocab[i] is the token string of id i, in CLIP's
 * byte-to-unicode alphabet, "</w>" marking word ends) and merge rules
 * (merges[r] = "left right", r = priority). Copies what it needs.
 * The start/end tokens are found by name: "<|startoftext|>" and
 * "<|endoftext|>" (Hugging Face) or "<start_of_text>" and "<end_of_text>"
 * (open_clip). Every byte must have a token with and without "</w>", and
 * both parts and the result of every merge must be in the vocabulary;
 * otherwise IRIS_EFORMAT names the culprit. */
int clip_tokenizer_create(const char *const *vocab, int n_vocab, const char *const *merges,
                          int n_merges, clip_tokenizer **out);
/* From Hugging Face files: vocab.json (object token -> id, ids 0..n-1
 * each once) and merges.txt ("#version" line, then "left right" lines). */
int clip_tokenizer_load_hf(const char *vocab_json, const char *merges_txt, clip_tokenizer **out);
void clip_tokenizer_free(clip_tokenizer *tok);

/* Full CLIP tokenisation: cleanup, lower-case, pre-tokenise, BPE, then
 * [start] + ids + [end], truncated to context_len (>= 2) keeping the end
 * token. Writes min(count, max_ids) ids; *n_ids receives that count.
 * text is NUL-terminated UTF-8; invalid bytes read as U+FFFD. */
int clip_tokenize(const clip_tokenizer *tok, const char *text, int context_len, int32_t *ids,
                  int max_ids, int *n_ids);
/* The same for len bytes that may contain NUL (which ftfy removes, as it
 * does other control characters). */
int clip_tokenize_n(const clip_tokenizer *tok, const char *text, size_t len, int context_len,
                    int32_t *ids, int max_ids, int *n_ids);

int clip_tokenizer_vocab_size(const clip_tokenizer *tok);
int clip_tokenizer_start_id(const clip_tokenizer *tok); /* 49406 for CLIP */
int clip_tokenizer_end_id(const clip_tokenizer *tok);   /* 49407 for CLIP */

/* Inputs are cut into runs that end at a space or line feed; a run longer
 * than this many characters is cut here (see docs/tokenizer.md). */
#define CLIP_TOKENIZER_MAX_RUN 65536

#endif

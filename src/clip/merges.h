/*
 * merges.h - CLIP's BPE merge list, rebuilt from the vocabulary alone.
 *
 * clip.cpp GGUF files carry the token list but no merges. CLIP's vocabulary
 * is built from its merges: ids 0-255 are the byte alphabet, 256-511 the
 * same with "</w>", then token 512 + r is the concatenation of merge r, then
 * the two special tokens. Merge r is recovered by running BPE with merges
 * 0 .. r-1 over token r's characters: training produced token r from exactly
 * the two pieces that those earlier merges leave, so the replay must end in
 * two symbols, and they are the pair. (Picking any split whose halves are
 * tokens is not enough: 27802 of CLIP's 48894 tokens split more than one
 * way.) Checked against the real merges.txt in test_model_load.
 */
#ifndef IRIS_CLIP_MERGES_H
#define IRIS_CLIP_MERGES_H

/* vocab[n_vocab] in id order. On success *merges is one allocation
 * (pointers, then "left right" strings) with *n_merges entries; the caller
 * frees it. Errors name `path` and the first token that does not fit. */
int clip_merges_from_vocab(const char *const *vocab, int n_vocab, const char *path,
                           char ***merges, int *n_merges);

#endif

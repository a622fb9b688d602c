/*
 * markdown.h - Markdown to plain text for indexing, with a map back to the
 * source bytes.
 *
 * What is kept: all prose, heading text, list item text, link and image
 * text (alt text), code (inline and fenced, without the fences), table
 * cell text. What goes: the syntax around them (#, >, list markers,
 * emphasis markers, backticks, fences, link targets, HTML tags, table
 * rules, horizontal rules, reference definitions, backslash escapes).
 * Headings are set off by a blank line so the chunker treats them as
 * section starts. This is a line-based approximation of CommonMark, not a
 * parser: good enough for search text, never fails, never loses prose.
 */
#ifndef IRIS_TEXT_MARKDOWN_H
#define IRIS_TEXT_MARKDOWN_H

#include <stddef.h>
#include <stdint.h>

/* Writes the plain text (malloc'ed, NUL-terminated) and, for each output
 * byte, the offset of the source byte it came from (malloc'ed, *out_len
 * + 1 entries; the last maps the end). Sources over 4 GiB are refused. */
int md_strip(const char *src, size_t n, char **out, size_t *out_len, uint32_t **map);

#endif

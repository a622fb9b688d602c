#!/usr/bin/env python3
"""The retrieval test behind the choice of how a long text chunk gets its CLIP vector
(src/ingest/textvec.h; read by bench/textvec_bench.c, results in docs/indexing.md).

Built from tools/shapes.py so that the trained tiny CLIP understands its words and every
answer is known by construction. Each document is a chunk-sized passage (~300 words): four
sentences describing scenes ("The figure shows two blue stars at the top.") placed at random
among filler sentences that name no shape, colour or place, like the prose around figures in
a manual. A query is one of those scenes, asked three ways: its canonical caption, a short
partial caption ("blue stars": relevant are all documents with blue stars anywhere, in any
number), and a rendered image of the scene (image -> passage, what a
mixed index does when a photo is the query). The relevant documents are all those that
describe that scene. Each query also records how many words into its document the scene's
sentence starts, so results can be split by position: CLIP's text tower reads only the first
~55 words of a text.

  bench/textvec_corpus.py --out /tmp/iris-textvec [--docs 300] [--seed 5]
writes docs.tsv (id, text), queries.tsv (kind, query text or image path, relevant ids, word
offset) and the query images.
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import shapes  # noqa: E402

FILLER = [
    "This section was revised for the second edition of the handbook.",
    "Readers who skipped the previous chapter may want to return to it later.",
    "The examples below follow the same conventions as the rest of the book.",
    "Each exercise ends with a short summary of what was learned.",
    "Please keep the original packaging until the end of the trial period.",
    "The appendix lists every term used in this document with a short definition.",
    "Several readers wrote to us with questions about this part of the text.",
    "We thank the volunteers who tested these instructions on many occasions.",
    "Nothing in this paragraph changes the advice given earlier in the manual.",
    "A printed copy of this page can be ordered from the publisher.",
    "The numbering of the paragraphs follows the numbering of the chapters.",
    "When in doubt, consult the index at the end of the volume.",
]


def sentence(scene):
    return f"The figure shows {shapes.scene_caption(scene)}."


def document(rng, scenes, n_words=300):
    """Filler sentences with the scene sentences at random places; returns text and the word
    offset of each scene's sentence."""
    parts = []
    while sum(len(p.split()) for p in parts) < n_words - 12 * len(scenes):
        parts.append(rng.choice(FILLER))
    slots = sorted(rng.sample(range(len(parts) + 1), len(scenes)))
    for k, s in sorted(zip(slots, scenes), key=lambda t: -t[0]):
        parts.insert(k, sentence(s))
    text, offsets, words = [], {}, 0
    for p in parts:
        for s in scenes:
            if p == sentence(s):
                offsets[s] = words
        text.append(p)
        words += len(p.split())
    return " ".join(text), offsets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "img"), exist_ok=True)
    holders = {}  # scene -> doc ids describing it
    by_kind = {}  # (colour, shape) -> doc ids describing such a scene (any count, place)
    where = []    # (scene, doc id, word offset)
    with open(os.path.join(a.out, "docs.tsv"), "w", encoding="utf-8") as f:
        for d in range(a.docs):
            scenes = rng.sample(shapes.ALL_SCENES, 4)
            text, offsets = document(rng, scenes)
            f.write(f"{d}\t{text}\n")
            for s in scenes:
                holders.setdefault(s, []).append(d)
                by_kind.setdefault((s.colour, s.shape), set()).add(d)
                where.append((s, d, offsets[s]))
    with open(os.path.join(a.out, "queries.tsv"), "w", encoding="utf-8") as f:
        for qi, (s, d, off) in enumerate(rng.sample(where, min(a.queries, len(where)))):
            rel = ",".join(map(str, holders[s]))
            partial = f"{s.colour} {shapes.SHAPE_PLURAL[s.shape] if s.count > 1 else s.shape}"
            img = os.path.join(a.out, "img", f"q{qi:04d}.png")
            shapes.render(s, seed=a.seed * 7919 + qi, size=128).save(img)
            f.write(f"caption\t{shapes.scene_caption(s)}\t{rel}\t{off}\n")
            rel_kind = ",".join(map(str, sorted(by_kind[(s.colour, s.shape)])))
            f.write(f"partial\t{partial}\t{rel_kind}\t{off}\n")
            f.write(f"image\t{img}\t{rel}\t{off}\n")
    print(f"{a.docs} documents, {min(a.queries, len(where))} scenes asked 3 ways, in {a.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

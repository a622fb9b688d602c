#!/usr/bin/env python3
"""The reference tokenizers on the queries of bench_tokenizer.c, in process CPU time per query:
open_clip's SimpleTokenizer (tokenize() and encode()), transformers' CLIPTokenizer and
CLIPTokenizerFast. Run from the repository root: .venv/bin/python bench/bench_tokenizer_ref.py"""
import importlib.util
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERIES = ["a photo of a cat", "red car parked on a street at night", "login page error message",
           "two cups of coffee on a wooden table", "screenshot of a settings menu",
           "diagram of the CLIP architecture", "a dog playing in the snow", "sunset over the mountains"]


def main():
    spec = importlib.util.spec_from_file_location(
        "open_clip_tokenizer", os.path.join(ROOT, ".venv/lib/python3.11/site-packages/open_clip/tokenizer.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ref = mod.SimpleTokenizer()
    from transformers import CLIPTokenizer, CLIPTokenizerFast
    files = dict(vocab_file=os.path.join(ROOT, "models/tiny-clip/vocab.json"),
                 merges_file=os.path.join(ROOT, "models/tiny-clip/merges.txt"))
    slow, fast = CLIPTokenizer(**files), CLIPTokenizerFast(**files)
    runs = [("open_clip tokenize()", lambda q: ref(q)), ("open_clip encode()", ref.encode),
            ("transformers CLIPTokenizer", lambda q: slow(q, truncation=True, max_length=77)),
            ("transformers CLIPTokenizerFast", lambda q: fast(q, truncation=True, max_length=77))]
    for name, fn in runs:
        for q in QUERIES:
            fn(q)
        n = 4000
        t0 = time.process_time()
        for i in range(n):
            fn(QUERIES[i % len(QUERIES)])
        print(f"{name}: {(time.process_time() - t0) / n * 1e6:.1f} us per query")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes CLIP's vocabulary as Hugging Face files: vocab.json + merges.txt.

Source: the BPE merge list OpenAI released with CLIP (bpe_simple_vocab_16e6.txt.gz),
as shipped in the PyPI package open_clip_torch (or ../shared/data/clip-tokenizer).
The vocabulary is built the way CLIP's SimpleTokenizer builds it:

  ids 0..255        the 256 byte symbols of bytes_to_unicode(), in byte-table order
  ids 256..511      the same symbols with "</w>" (end of word) appended
  ids 512..49405    one token per merge rule, "left" + "right", in rank order
  ids 49406, 49407  start / end of text, named <|startoftext|> / <|endoftext|> as
                    in the Hugging Face files (open_clip calls them <start_of_text> ...)

Only the first 49152 - 256 - 2 = 48894 merge lines of the released file are used
(the file holds more; CLIP's SimpleTokenizer and transformers both cut it there).

Output format, as in openai/clip-vit-base-patch32 on the Hugging Face hub:
  merges.txt  "#version: 0.2" then one "left right" merge per line, each ending in "\n"
              (524,619 bytes, the size of the hub file)
  vocab.json  one JSON object token -> id, UTF-8 (not \\u-escaped), keys in id order.
              Key order does not matter to any reader; the mapping is what counts.

After writing, the files are checked: the mapping equals open_clip's SimpleTokenizer
encoder (when importable) and transformers' CLIPTokenizer (slow and fast) loads them
and reproduces the published "Hello World!" -> [49406, 3306, 1002, 256, 49407].

Usage: tools/reference/make_vocab.py [--bpe FILE.gz] [--out models/tiny-clip] [--no-check]
"""
import argparse
import gzip
import importlib.util
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(ROOT, ".venv", "lib", "python3.11", "site-packages", "open_clip")
BPE_CANDIDATES = [
    os.path.join(SITE, "bpe_simple_vocab_16e6.txt.gz"),
    os.path.join(ROOT, "..", "shared", "data", "clip-tokenizer", "bpe_simple_vocab_16e6.txt.gz"),
]
N_MERGES = 49152 - 256 - 2
START, END = "<|startoftext|>", "<|endoftext|>"
HELLO_IDS = [49406, 3306, 1002, 256, 49407]  # published CLIP check


def bytes_to_unicode():
    """CLIP/GPT-2's reversible byte -> printable character table, in table order:
    the printable Latin-1 bytes map to themselves, the other 68 bytes (controls,
    space, DEL, NBSP, soft hyphen) to U+0100.. in byte order."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1))
                 + list(range(0xAE, 0xFF + 1)))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    order = printable + [b for b in range(256) if b not in printable]
    return [(b, table[b]) for b in order]


def read_merges(path):
    lines = gzip.open(path).read().decode("utf-8").split("\n")
    merges = lines[1:1 + N_MERGES]
    if len(merges) != N_MERGES or any(len(m.split()) != 2 for m in merges):
        sys.exit(f"{path}: expected {N_MERGES} 'left right' merge lines after the header")
    return merges


def build_vocab(merges):
    symbols = [c for _, c in bytes_to_unicode()]
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(m.split()) for m in merges]
    tokens += [START, END]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        sys.exit("duplicate token strings: the BPE file is not CLIP's")
    return vocab


def write_files(out, vocab, merges):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(vocab, ensure_ascii=False))
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("#version: 0.2\n")
        for m in merges:
            f.write(m + "\n")


def check_against_open_clip(vocab, bpe):
    path = os.path.join(SITE, "tokenizer.py")
    try:
        spec = importlib.util.spec_from_file_location("open_clip_tokenizer", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except Exception as e:  # open_clip absent or its imports fail
        print(f"skip open_clip cross-check: {e}")
        return
    ref = dict(mod.SimpleTokenizer(bpe_path=bpe).encoder)
    ref[START] = ref.pop("<start_of_text>")
    ref[END] = ref.pop("<end_of_text>")
    if ref != vocab:
        sys.exit("vocab differs from open_clip SimpleTokenizer's encoder")
    print("vocab identical to open_clip SimpleTokenizer's encoder")


def check_with_transformers(out):
    from transformers import CLIPTokenizer, CLIPTokenizerFast
    vj, mt = os.path.join(out, "vocab.json"), os.path.join(out, "merges.txt")
    for cls in (CLIPTokenizer, CLIPTokenizerFast):
        tok = cls(vocab_file=vj, merges_file=mt)
        ids = tok("Hello World!")["input_ids"]
        if ids != HELLO_IDS or len(tok) != 49408:
            sys.exit(f"{cls.__name__}: 'Hello World!' -> {ids}, {len(tok)} tokens")
        print(f"{cls.__name__}: {len(tok)} tokens, 'Hello World!' -> {ids}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bpe", help="bpe_simple_vocab_16e6.txt.gz (default: open_clip's copy)")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "tiny-clip"))
    ap.add_argument("--no-check", action="store_true", help="skip the cross-checks")
    args = ap.parse_args()
    bpe = args.bpe or next((p for p in BPE_CANDIDATES if os.path.exists(p)), None)
    if not bpe:
        sys.exit("no bpe_simple_vocab_16e6.txt.gz found; pass --bpe")
    merges = read_merges(bpe)
    vocab = build_vocab(merges)
    write_files(args.out, vocab, merges)
    print(f"wrote {args.out}/vocab.json ({len(vocab)} tokens) and merges.txt ({len(merges)} merges)")
    if not args.no_check:
        check_against_open_clip(vocab, bpe)
        check_with_transformers(args.out)


if __name__ == "__main__":
    main()

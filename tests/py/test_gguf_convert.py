"""tools/convert_hf_to_gguf.py writes what clip.cpp and the C loader read.

* Fresh f32, f16 and q8_0 conversions of the tiny HF fixture load in C and
  match the HF tensors (bitwise for f32/f16 storage, within q8_0 rounding):
  the C test binary does the comparison (IRIS_TEST_GGUF_DIR).
* The committed GGUF fixtures are exactly what the converter writes today.
* Key names, tensor names and storage types follow clip.cpp's converter
  (monatis/clip.cpp models/convert_hf_to_gguf.py), read back with gguf-py.
"""
import os
import subprocess
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("IRIS_BUILD", os.path.join(ROOT, "build"))
TINY = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-hf")
CONVERTER = os.path.join(ROOT, "tools", "convert_hf_to_gguf.py")

CLIP_CPP_KEYS = [  # every key clip.cpp's loader reads for a two-tower model
    "general.file_type", "general.description", "clip.has_text_encoder",
    "clip.has_vision_encoder", "clip.use_gelu", "tokenizer.ggml.tokens",
    "clip.text.context_length", "clip.vision.image_size", "clip.vision.patch_size",
    "clip.vision.image_mean", "clip.vision.image_std",
] + [f"clip.{t}.{k}" for t in ("text", "vision") for k in (
    "embedding_length", "feed_forward_length", "block_count", "attention.head_count",
    "attention.layer_norm_epsilon", "projection_dim")]


def convert(out_dir, outtype):
    out = os.path.join(out_dir, f"tiny-{outtype}.gguf")
    subprocess.run([sys.executable, CONVERTER, TINY, out, "--outtype", outtype], check=True)
    return out


def expected_tensor_names(layers=2):
    names = {"t.token_embd.weight", "t.position_embd.weight", "t.post_ln.weight",
             "t.post_ln.bias", "text_projection.weight", "v.class_embd", "v.patch_embd.weight",
             "v.position_embd.weight", "v.pre_ln.weight", "v.pre_ln.bias", "v.post_ln.weight",
             "v.post_ln.bias", "visual_projection.weight"}
    for p in "tv":
        for i in range(layers):
            for part in ("attn_q", "attn_k", "attn_v", "attn_out", "ln1", "ln2", "ffn_down",
                         "ffn_up"):
                names |= {f"{p}.blk.{i}.{part}.weight", f"{p}.blk.{i}.{part}.bias"}
    return names


def test_fresh_conversions_load_and_match(tmp_path):
    for t in ("f32", "f16", "q8_0"):
        convert(tmp_path, t)
    env = dict(os.environ, IRIS_TEST_GGUF_DIR=str(tmp_path))
    p = subprocess.run([os.path.join(BUILD, "tests", "test_model_load")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    line = [l for l in p.stdout.splitlines() if "test_gguf_matches_hf" in l]
    assert line and line[0].startswith("ok - ") and "SKIP" not in line[0], p.stdout + p.stderr


def test_committed_fixtures_are_current(tmp_path):
    for t in ("f16", "q8_0"):
        fresh = open(convert(tmp_path, t), "rb").read()
        committed = open(os.path.join(ROOT, "tests", "fixtures", "models", f"tiny-{t}.gguf"),
                         "rb").read()
        assert fresh == committed, f"tiny-{t}.gguf is stale: rerun the converter"


def test_layout_follows_clip_cpp(tmp_path):
    for t, want in (("f32", np.float32), ("f16", np.float16), ("q8_0", None)):
        r = GGUFReader(convert(tmp_path, t))
        keys = set(r.fields)
        assert set(CLIP_CPP_KEYS) <= keys
        assert {x.name for x in r.tensors} == expected_tensor_names()
        for x in r.tensors:
            kind = x.tensor_type
            if len(x.shape) == 4:  # the patch embedding, always f16 in clip.cpp
                assert kind == GGMLQuantizationType.F16
            elif len(x.shape) == 2 and x.name.endswith(".weight"):
                expect = {np.float32: GGMLQuantizationType.F32,
                          np.float16: GGMLQuantizationType.F16}.get(want,
                                                                  GGMLQuantizationType.Q8_0)
                assert kind == expect, x.name
            else:
                assert kind == GGMLQuantizationType.F32, x.name
        tokens = r.fields["tokenizer.ggml.tokens"]
        assert len(tokens.data) == 554

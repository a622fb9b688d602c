#!/usr/bin/env python3
"""Write a Hugging Face CLIP folder as a clip.cpp-compatible GGUF file.

    tools/convert_hf_to_gguf.py HF_DIR OUT.gguf [--outtype f32|f16|q8_0]

The file follows monatis/clip.cpp's layout (its models/convert_hf_to_gguf.py
and loader): the same metadata keys, tensor names (t./v. prefixes, blk.N,
attn_q/k/v/out, ln1/ln2, ffn_down = fc1, ffn_up = fc2) and storage rules:
the 4-D patch embedding is always f16 (ggml's convolution wants it so), in
f16 files the 2-D ".weight" matrices are f16 and everything else f32, and
q8_0 files quantise every 2-D ".weight" matrix as clip.cpp's quantizer does
(from the f32 values, rows in blocks of 32). One addition, ignored by
clip.cpp: "clip.logit_scale" keeps the checkpoint's logit_scale parameter
(before exp), which clip.cpp drops.

Reads safetensors with numpy only (no torch), so it runs in a second.
"""
import argparse
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter
from gguf.quants import quantize
from safetensors.numpy import load_file

FILE_TYPE = {"f32": 0, "f16": 1, "q8_0": 8}
SKIP = {"logit_scale", "text_model.embeddings.position_ids",
        "vision_model.embeddings.position_ids"}
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]

GLOBAL_NAMES = {
    "text_model.embeddings.token_embedding.weight": "t.token_embd.weight",
    "text_model.embeddings.position_embedding.weight": "t.position_embd.weight",
    "text_model.final_layer_norm.weight": "t.post_ln.weight",
    "text_model.final_layer_norm.bias": "t.post_ln.bias",
    "vision_model.embeddings.class_embedding": "v.class_embd",
    "vision_model.embeddings.patch_embedding.weight": "v.patch_embd.weight",
    "vision_model.embeddings.position_embedding.weight": "v.position_embd.weight",
    "vision_model.pre_layrnorm.weight": "v.pre_ln.weight",
    "vision_model.pre_layrnorm.bias": "v.pre_ln.bias",
    "vision_model.post_layernorm.weight": "v.post_ln.weight",
    "vision_model.post_layernorm.bias": "v.post_ln.bias",
    "text_projection.weight": "text_projection.weight",
    "visual_projection.weight": "visual_projection.weight",
}
LAYER_PARTS = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.out_proj": "attn_out", "layer_norm1": "ln1", "layer_norm2": "ln2",
    "mlp.fc1": "ffn_down", "mlp.fc2": "ffn_up",
}


def gguf_name(name):
    """HF tensor name -> clip.cpp tensor name."""
    if name in GLOBAL_NAMES:
        return GLOBAL_NAMES[name]
    tower, rest = name.split(".encoder.layers.", 1)
    layer, part = rest.split(".", 1)
    part, kind = part.rsplit(".", 1)
    prefix = {"text_model": "t", "vision_model": "v"}[tower]
    return f"{prefix}.blk.{layer}.{LAYER_PARTS[part]}.{kind}"


def stored(name, data, outtype):
    """(array, raw ggml type or None) as clip.cpp would store this tensor."""
    data = data.astype(np.float32)
    if data.ndim == 4:
        return data.astype(np.float16), None
    matrix = data.ndim == 2 and name.endswith(".weight")
    if outtype == "q8_0" and matrix and data.shape[-1] % 32 == 0:
        return quantize(data, GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0
    if outtype in ("f16", "q8_0") and matrix:
        return data.astype(np.float16), None
    return data, None


def read_json(path, default=None):
    if not os.path.exists(path) and default is not None:
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def tower(config, key):
    c = dict(config.get(key, {}))
    c.update(config.get(key + "_dict", {}) or {})
    return c


def write_metadata(w, config, pre, tokens, name):
    t, v = tower(config, "text_config"), tower(config, "vision_config")
    proj = config.get("projection_dim", 512)
    w.add_bool("clip.has_text_encoder", True)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_name(name)
    w.add_description("two-tower CLIP model")
    for which, c, width, mlp, heads in (("text", t, 512, 2048, 8), ("vision", v, 768, 3072, 12)):
        w.add_uint32(f"clip.{which}.embedding_length", c.get("hidden_size", width))
        w.add_uint32(f"clip.{which}.feed_forward_length", c.get("intermediate_size", mlp))
        w.add_uint32(f"clip.{which}.projection_dim", proj)
        w.add_uint32(f"clip.{which}.attention.head_count", c.get("num_attention_heads", heads))
        w.add_float32(f"clip.{which}.attention.layer_norm_epsilon", c.get("layer_norm_eps", 1e-5))
        w.add_uint32(f"clip.{which}.block_count", c.get("num_hidden_layers", 12))
    w.add_uint32("clip.text.context_length", t.get("max_position_embeddings", 77))
    w.add_token_list(tokens)
    w.add_uint32("clip.vision.image_size", v.get("image_size", 224))
    w.add_uint32("clip.vision.patch_size", v.get("patch_size", 32))
    w.add_array("clip.vision.image_mean", [float(x) for x in pre.get("image_mean", OPENAI_MEAN)])
    w.add_array("clip.vision.image_std", [float(x) for x in pre.get("image_std", OPENAI_STD)])
    w.add_bool("clip.use_gelu", v.get("hidden_act", "quick_gelu") == "gelu")


def convert(hf_dir, out, outtype):
    config = read_json(os.path.join(hf_dir, "config.json"))
    pre = read_json(os.path.join(hf_dir, "preprocessor_config.json"), {})
    vocab = read_json(os.path.join(hf_dir, "vocab.json"))
    tokens = sorted(vocab, key=vocab.get)
    tensors = load_file(os.path.join(hf_dir, "model.safetensors"))
    name = config.get("_name_or_path") or os.path.basename(os.path.normpath(hf_dir))
    w = GGUFWriter(out, arch="clip")
    w.add_file_type(FILE_TYPE[outtype])
    write_metadata(w, config, pre, tokens, name)
    if "logit_scale" in tensors:
        w.add_float32("clip.logit_scale", float(tensors["logit_scale"].astype(np.float32)))
    for hf_name in sorted(tensors):
        if hf_name in SKIP:
            continue
        data, raw = stored(hf_name, tensors[hf_name], outtype)
        w.add_tensor(gguf_name(hf_name), data, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("hf_dir")
    ap.add_argument("out")
    ap.add_argument("--outtype", choices=sorted(FILE_TYPE), default="f16")
    a = ap.parse_args()
    convert(a.hf_dir, a.out, a.outtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Model-loader fixtures: a tiny random CLIPModel in Hugging Face format.

    tools/reference/make_test_models.py                 # tests/fixtures/models/ (committed)
    tools/reference/make_test_models.py --full DIR      # ViT-B/32-shaped f32 + f16 (benchmarks)

The tiny model has two layers per tower and widths that are multiples of 32
(so every matrix can be q8_0-quantised), with every parameter drawn at random
(layer norms too, so a swapped weight/bias is visible). Its vocabulary is the
real CLIP one cut to the byte alphabet plus the first 40 merges, taken from
models/tiny-clip (the full CLIP vocab.json/merges.txt). Next to each model,
expected.json records, per tensor, the shape, dtype, the float64 sum and the
first values as transformers/torch hold them, and the config as transformers
resolves it: the C tests compare what the loader maps against these.

Outputs (small, committed): tiny-hf/ (f32), tiny-hf-f16/, plus the GGUF files
written from tiny-hf by tools/convert_hf_to_gguf.py (see tests/py).
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys

import torch
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_MERGES = 40
SEED = 1234
TOKEN_CHECKS = ["hello world", "in the tent", "A photo of 2 cats!", ""]

TINY = dict(
    text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=16,
                     vocab_size=512 + N_MERGES + 2, bos_token_id=512 + N_MERGES,
                     eos_token_id=512 + N_MERGES + 1, hidden_act="quick_gelu"),
    vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, image_size=32, patch_size=8,
                       hidden_act="quick_gelu", layer_norm_eps=1e-6),
    projection_dim=24,
)

PREPROCESSOR = {
    "crop_size": {"height": 32, "width": 32},
    "do_center_crop": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.5, 0.25, 0.125], "image_std": [0.2, 0.3, 0.4],
    "image_processor_type": "CLIPImageProcessor", "resample": 3,
    "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 36},
}

FULL_B32 = dict(  # openai/clip-vit-base-patch32's shapes
    text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                     num_attention_heads=8),
    vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                       num_attention_heads=12, image_size=224, patch_size=32),
    projection_dim=512,
)


def small_vocab(out_dir):
    """Byte alphabet + the first N_MERGES CLIP merges + the two specials."""
    src = os.path.join(ROOT, "models", "tiny-clip")
    with open(os.path.join(src, "vocab.json"), encoding="utf-8") as f:
        full = json.load(f)
    with open(os.path.join(src, "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = lines[1:1 + N_MERGES]
    by_id = sorted(full, key=full.get)
    vocab = by_id[:512] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(lines[0] + "\n" + "\n".join(merges) + "\n")


def random_model(spec, seed):
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(**spec)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                p.fill_(math.log(1 / 0.07) + 0.25)
            else:
                p.normal_(0.0, 0.5)
    return model


def resolved_config(model, dtype):
    c = model.config
    t, v = c.text_config, c.vision_config
    return {
        "vision": [v.hidden_size, v.num_hidden_layers, v.num_attention_heads,
                   v.intermediate_size, v.layer_norm_eps, v.hidden_act],
        "text": [t.hidden_size, t.num_hidden_layers, t.num_attention_heads,
                 t.intermediate_size, t.layer_norm_eps, t.hidden_act],
        "image_size": v.image_size, "patch_size": v.patch_size,
        "vocab_size": t.vocab_size, "context_length": t.max_position_embeddings,
        "bos_token_id": t.bos_token_id, "eos_token_id": t.eos_token_id,
        "projection_dim": c.projection_dim,
        # the stored parameter (rounded to the storage type), exp()'ed in float32
        "logit_scale": float(model.logit_scale.detach().to(dtype).float().exp()),
    }


def expected(model, dtype):
    tensors = {}
    for name, p in model.state_dict().items():
        q = p.to(dtype) if p.is_floating_point() else p
        flat = q.reshape(-1).to(torch.float64)
        tensors[name] = {"shape": list(q.shape), "sum": float(flat.sum()),
                         "first": [float(x) for x in flat[:4]]}
    return tensors


def save(model, out_dir, dtype, preprocessor):
    os.makedirs(out_dir, exist_ok=True)
    copy.deepcopy(model).to(dtype).save_pretrained(out_dir, safe_serialization=True)
    if preprocessor:
        with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
            json.dump(preprocessor, f, indent=2)


def write_tiny(base):
    model = random_model(TINY, SEED)
    for sub, dtype in (("tiny-hf", torch.float32), ("tiny-hf-f16", torch.float16)):
        out = os.path.join(base, sub)
        shutil.rmtree(out, ignore_errors=True)
        save(model, out, dtype, PREPROCESSOR)
        small_vocab(out)
        tok = CLIPTokenizer(os.path.join(out, "vocab.json"), os.path.join(out, "merges.txt"))
        tokens = {t: tok(t)["input_ids"] for t in TOKEN_CHECKS}
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump({"config": resolved_config(model, dtype), "tokens": tokens,
                       "tensors": expected(model, dtype)}, f, indent=1)


def write_full(base):
    model = random_model(FULL_B32, SEED)
    for sub, dtype in (("vit-b32-f32", torch.float32), ("vit-b32-f16", torch.float16)):
        out = os.path.join(base, sub)
        save(model, out, dtype, None)
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(ROOT, "models", "tiny-clip", name), out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models"))
    ap.add_argument("--full", metavar="DIR", help="write full-size ViT-B/32 shapes to DIR")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.full:
        write_full(a.full)
    else:
        write_tiny(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

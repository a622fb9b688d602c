#!/usr/bin/env python3
"""Reference goldens for the CLIP forward pass, from Hugging Face transformers.

Builds randomly initialised CLIPModels with fixed seeds, saves them in Hugging Face
format (f32, plus f16 and bf16 copies of the same weights) and writes what
transformers computes from them: token ids, pixel tensors, image and text
embeddings (L2-normalised) and logits. The C engine must reproduce these
(tests/unit/test_forward.c, tests/py/test_reference_full.py).

    tools/reference/make_goldens.py tiny            # model + goldens, both committed
    tools/reference/make_goldens.py b32 b16         # goldens committed, weights not:
                                                    # they go to models/full/<name>{,-f16,-bf16}
                                                    # and <name>{,-f16,-q8_0}.gguf
    tools/reference/make_goldens.py --weights-only b32   # regenerate weights only (tests)

Models:
  tiny  two layers per tower, vision 64 wide (MLP 64, quick_gelu, 32x32 images, 8x8 patches),
        text 32 wide (exact gelu), projection 32, a 600-token vocabulary (the CLIP byte
        alphabet + the first 86 merges), eos_token_id = 599: pooling at the first eos.
  b32, b16  the exact openai/clip-vit-base-patch32 / -patch16 configs, including their
        legacy eos_token_id = 2 (transformers then pools at the argmax of the ids, which is
        the first end token of any sequence that has one).

Initialisation (transformers' default init makes every image embedding nearly the same:
mean pairwise cosine 0.92 on ViT-B/32, so a comparison would prove little): every
parameter is drawn from a torch.Generator seeded with SEED, in sorted name order:
  matrices and the patch conv  N(0, 1/fan_in), q_proj and k_proj N(0, 4/fan_in)
                               (attention logits with std ~4: peaked, input-dependent)
  biases                       N(0, 0.1^2)
  layer norms                  weight 1 + N(0, 0.1^2), bias N(0, 0.1^2)
  class and token embeddings   N(0, 0.5^2); position embeddings N(0, 0.25^2)
  logit_scale                  ln(100), as in the released OpenAI checkpoints
With it, ViT-B/32 image embeddings of unrelated inputs have mean pairwise cosine ~0.45
(golden.json records the measured spread for every model).

GGUF (b32, b16 only: clip.cpp's format has one activation flag for both towers, and the
tiny model mixes quick_gelu and gelu): tools/convert_hf_to_gguf.py writes f32, f16 and q8_0
files of the same weights; the q8_0 goldens (suffix _q8_0) are transformers run in f32 on
the q8_0 file's weights dequantized, so the C engine must match them to f32 precision too.

Pixel tensors are stored in float16 (every value exactly representable, so the f32
reference saw exactly these values): random normal noise and structured images
(gradients, stripes, blocks). Requires torch==2.13.0 and transformers==4.57.1 (pinned in
tools/requirements.txt): the weights are regenerated bit-exactly only with them, which
golden.json's weights_sha256 lets the tests verify.
"""
import argparse
import copy
import hashlib
import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import make_vocab  # noqa: E402  (tools/reference/make_vocab.py: CLIP's BPE vocabulary)

GOLDENS = os.path.join(ROOT, "tests", "fixtures", "reference")
FULL_WEIGHTS = os.path.join(ROOT, "models", "full")
SEED = 20240501
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
TINY_MERGES = 86

OPENAI_TEXT = dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8,
                   num_hidden_layers=12, max_position_embeddings=77, vocab_size=49408,
                   hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=512,
                   bos_token_id=0, eos_token_id=2, pad_token_id=1)
OPENAI_VISION = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                     num_hidden_layers=12, image_size=224, hidden_act="quick_gelu",
                     layer_norm_eps=1e-5, projection_dim=512, num_channels=3)



def openai_spec(patch):
    """openai/clip-vit-base-patch32 or -patch16, with the real CLIP vocabulary."""
    return dict(
        config=dict(text_config=OPENAI_TEXT, vision_config=dict(OPENAI_VISION, patch_size=patch),
                    projection_dim=512),
        merges=None, image_size=224, mean=OPENAI_MEAN, std=OPENAI_STD,
        strings=["a photo of a cat", "a diagram"], random_lengths=[8, 20, 77],
        pixels="../pixels224.npy", n_random_images=1, stripes=False)


MODELS = {
    "tiny": dict(
        config=dict(
            text_config=dict(hidden_size=32, intermediate_size=64, num_attention_heads=2,
                             num_hidden_layers=2, max_position_embeddings=77,
                             vocab_size=512 + TINY_MERGES + 2, hidden_act="gelu",
                             layer_norm_eps=1e-5, projection_dim=32,
                             bos_token_id=512 + TINY_MERGES, eos_token_id=513 + TINY_MERGES,
                             pad_token_id=1),
            vision_config=dict(hidden_size=64, intermediate_size=64, num_attention_heads=4,
                               num_hidden_layers=2, image_size=32, patch_size=8,
                               hidden_act="quick_gelu", layer_norm_eps=1e-5,
                               projection_dim=32, num_channels=3),
            projection_dim=32),
        merges=TINY_MERGES, image_size=32, mean=[0.5, 0.4, 0.3], std=[0.25, 0.3, 0.35],
        strings=["a photo of a cat", "Hello World!", ""],
        random_lengths=[9, 77], pixels="pixel_values.npy", n_random_images=2, stripes=True),
    "b32": openai_spec(32),
    "b16": openai_spec(16),
}


# ---------------------------------------------------------------- model

def realistic_init(model, seed):
    """The initialisation described in the module docstring."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            def normal(std, mean=0.0):
                return torch.randn(p.shape, generator=g) * std + mean
            if name == "logit_scale":
                p.fill_(math.log(100.0))
            elif "norm" in name or "layrnorm" in name:
                p.copy_(normal(0.1, 1.0 if name.endswith("weight") else 0.0))
            elif name.endswith("bias"):
                p.copy_(normal(0.1))
            elif "class_embedding" in name or "token_embedding" in name:
                p.copy_(normal(0.5))
            elif "position_embedding" in name:
                p.copy_(normal(0.25))
            else:
                gain = 2.0 if ("q_proj" in name or "k_proj" in name) else 1.0
                p.copy_(normal(gain / math.sqrt(p[0].numel())))


def build_model(spec):
    torch.manual_seed(SEED)
    model = CLIPModel(CLIPConfig(**spec["config"])).eval()
    realistic_init(model, SEED)
    return model


def bpe_path():
    path = next((p for p in make_vocab.BPE_CANDIDATES if os.path.exists(p)), None)
    if not path:
        sys.exit("no bpe_simple_vocab_16e6.txt.gz (open_clip_torch in .venv provides it)")
    return path


def write_model_dir(model, spec, out, dtype):
    """A Hugging Face CLIP directory: config, weights, vocabulary, preprocessing."""
    os.makedirs(out, exist_ok=True)
    copy.deepcopy(model).to(dtype).save_pretrained(out, safe_serialization=True)
    merges = make_vocab.read_merges(bpe_path())
    if spec["merges"] is not None:
        merges = merges[:spec["merges"]]
    make_vocab.write_files(out, make_vocab.build_vocab(merges), merges)
    size = spec["image_size"]
    CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                       image_mean=spec["mean"], image_std=spec["std"]).save_pretrained(out)


def load_converter():
    path = os.path.join(ROOT, "tools", "convert_hf_to_gguf.py")
    spec = importlib.util.spec_from_file_location("convert_hf_to_gguf", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_ggufs(hf_dir, base):
    """base.gguf (f32), base-f16.gguf, base-q8_0.gguf from the f32 HF folder."""
    script = os.path.join(ROOT, "tools", "convert_hf_to_gguf.py")
    for tag, suffix in (("f32", ""), ("f16", "-f16"), ("q8_0", "-q8_0")):
        subprocess.run([sys.executable, script, hf_dir, f"{base}{suffix}.gguf", "--outtype", tag],
                       check=True, capture_output=True)


def gguf_model(gguf_path, hf_dir):
    """The f32 HF model holding a GGUF file's weights, dequantized."""
    from gguf import GGUFReader
    from gguf.quants import dequantize
    conv = load_converter()
    tensors = {t.name: t for t in GGUFReader(gguf_path).tensors}
    model = CLIPModel.from_pretrained(hf_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                continue
            t = tensors[conv.gguf_name(name)]
            p.copy_(torch.from_numpy(dequantize(t.data, t.tensor_type).reshape(p.shape).copy()))
    return model


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- inputs

def make_pixels(size, n_random, stripes, rng):
    """Random normal noise plus structured images, as exact float16 values."""
    x = np.linspace(-2.0, 2.0, size, dtype=np.float32)
    xx, yy = np.meshgrid(x, x)
    imgs = [rng.standard_normal((3, size, size)).astype(np.float32) for _ in range(n_random)]
    imgs.append(np.stack([xx, yy, xx * yy]))                                 # gradients
    if stripes:
        imgs.append(np.stack([np.sign(np.sin(4 * xx)), np.sign(np.cos(3 * yy)),
                              np.full_like(xx, -1.5)]))
    blocks = np.kron(rng.integers(-2, 3, (3, 4, 4)), np.ones((size // 4, size // 4)))
    imgs.append(blocks.astype(np.float32))                                   # colour blocks
    return np.stack(imgs).astype(np.float16)


def tokenize_strings(spec, model_dir, strings):
    if spec["merges"] is not None:   # tiny vocabulary: transformers' CLIPTokenizer
        tok = CLIPTokenizer(vocab_file=os.path.join(model_dir, "vocab.json"),
                            merges_file=os.path.join(model_dir, "merges.txt"))
        return [tok(s)["input_ids"] for s in strings]
    path = os.path.join(make_vocab.SITE, "tokenizer.py")  # the reference: open_clip's
    mod_spec = importlib.util.spec_from_file_location("open_clip_tokenizer", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    tok = mod.SimpleTokenizer(bpe_path=bpe_path())
    return [[tok.sot_token_id] + tok.encode(s) + [tok.eot_token_id] for s in strings]


def make_texts(spec, model_dir, rng):
    """Token id lists: tokenized strings, random ids, and pooling edge cases."""
    tc = spec["config"]["text_config"]
    vocab, ctx = tc["vocab_size"], tc["max_position_embeddings"]
    bos, eos = vocab - 2, vocab - 1     # <|startoftext|>, <|endoftext|>
    texts = [dict(string=s, ids=ids)
             for s, ids in zip(spec["strings"], tokenize_strings(spec, model_dir, spec["strings"]))]
    for n in spec["random_lengths"]:
        ids = [bos] + rng.integers(0, bos, n - 2).tolist() + [eos]
        texts.append(dict(ids=ids, note=f"random ids, length {n}"))
    mid = rng.integers(0, bos - 1, 6).tolist()
    texts.append(dict(ids=[bos] + mid[:2] + [eos] + mid[2:] + [eos],
                      note="end token twice: pooled at the first (position 3)"))
    if tc["eos_token_id"] != 2:
        # Legacy configs (eos_token_id 2) pool at the largest id, which is the first end
        # token whenever there is one; iris follows the end token rule there too, so a
        # sequence without an end token is only a golden for current configs.
        texts.append(dict(ids=[bos] + mid, note="no end token: pooled at position 0"))
    for t in texts:   # where transformers pools, and whether padding can change it
        ids = np.array(t["ids"])
        t["pool"] = int(ids.argmax() if tc["eos_token_id"] == 2 else (ids == eos).argmax())
        t["pad_invariant"] = bool(ids[t["pool"]] == eos)
    return texts


# ---------------------------------------------------------------- reference

def normalize(x):
    return torch.nn.functional.normalize(x, dim=-1)


@torch.no_grad()
def reference(model, pixels, texts, eos):
    """Normalised embeddings (texts one at a time, unpadded, and padded to the context
    length with end tokens plus an attention mask, as CLIPTokenizer pads) and logits."""
    ctx = model.config.text_config.max_position_embeddings
    img = normalize(model.get_image_features(pixel_values=torch.from_numpy(pixels).float()))
    txt, padded = [], []
    for t in texts:
        ids = torch.tensor([t["ids"]])
        txt.append(normalize(model.get_text_features(input_ids=ids))[0])
        pad = torch.full((1, ctx), eos, dtype=torch.long)
        pad[0, :len(t["ids"])] = ids[0]
        mask = (torch.arange(ctx) < len(t["ids"])).long()[None]
        padded.append(normalize(model.get_text_features(input_ids=pad, attention_mask=mask))[0])
    txt, padded = torch.stack(txt), torch.stack(padded)
    logits = model.logit_scale.exp() * img @ txt.T
    return dict(image_embeds=img.numpy(), text_embeds=txt.numpy(),
                text_embeds_padded=padded.numpy(), logits_per_image=logits.numpy())


def spread(x):
    c = x @ x.T
    off = c[~np.eye(len(c), dtype=bool)]
    return dict(mean=round(float(off.mean()), 4), max=round(float(off.max()), 4))


def compare(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return dict(min_cosine=float(cos.min()), max_abs_diff=float(np.abs(a - b).max()))


def generate(name, weights_only):
    spec = MODELS[name]
    rng = np.random.default_rng(SEED)
    model = build_model(spec)
    base = os.path.join(GOLDENS, name) if name == "tiny" else os.path.join(FULL_WEIGHTS, name)
    dirs = {"f32": base, "f16": base + "-f16", "bf16": base + "-bf16"}
    for tag, dtype in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        write_model_dir(model, spec, dirs[tag], dtype)
    gguf = name != "tiny"
    if gguf:
        write_ggufs(dirs["f32"], base)
    print(f"{name}: weights in {base}{{,-f16,-bf16}}" + (" and GGUF" if gguf else ""))
    if weights_only:
        return

    gdir = os.path.join(GOLDENS, "goldens", name)
    os.makedirs(gdir, exist_ok=True)
    size = spec["image_size"]
    pixels = make_pixels(size, spec["n_random_images"], spec["stripes"], rng)
    np.save(os.path.join(gdir, spec["pixels"]), pixels)
    texts = make_texts(spec, dirs["f32"], rng)
    eos = spec["config"]["text_config"]["vocab_size"] - 1
    out = {"f32": reference(model, pixels, texts, eos)}
    for tag in ("f16", "bf16"):  # f32 arithmetic on the rounded weights
        rounded = CLIPModel.from_pretrained(dirs[tag], dtype=torch.float32).eval()
        out[tag] = reference(rounded, pixels, texts, eos)
    if gguf:
        out["q8_0"] = reference(gguf_model(base + "-q8_0.gguf", dirs["f32"]), pixels, texts, eos)
    for tag, res in out.items():
        suffix = "" if tag == "f32" else "_" + tag
        for key, val in res.items():
            np.save(os.path.join(gdir, key + suffix + ".npy"), val.astype(np.float32))
    inv = [i for i, t in enumerate(texts) if t["pad_invariant"]]
    pad_check = compare(out["f32"]["text_embeds"][inv], out["f32"]["text_embeds_padded"][inv])
    assert pad_check["max_abs_diff"] < 1e-5, f"padding changed the reference: {pad_check}"
    manifest = dict(
        model=name, seed=SEED, torch=torch.__version__,
        transformers=__import__("transformers").__version__,
        weights_sha256=sha256(os.path.join(dirs["f32"], "model.safetensors")),
        q8_0_gguf_sha256=sha256(base + "-q8_0.gguf") if gguf else None,
        pixels=spec["pixels"], texts=texts,
        init="see tools/reference/make_goldens.py (realistic_init)",
        spread=dict(image=spread(out["f32"]["image_embeds"]),
                    text=spread(out["f32"]["text_embeds"])),
        reference_padded_vs_unpadded=pad_check,
        weight_rounding={tag: dict(image=compare(out["f32"]["image_embeds"], out[tag]["image_embeds"]),
                                   text=compare(out["f32"]["text_embeds"], out[tag]["text_embeds"]))
                         for tag in out if tag != "f32"})
    with open(os.path.join(gdir, "golden.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{name}: goldens in {gdir}: spread {manifest['spread']}, "
          f"rounding {manifest['weight_rounding']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", choices=sorted(MODELS))
    ap.add_argument("--weights-only", action="store_true",
                    help="regenerate the weights, leave the committed goldens alone")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("IRIS_REF_THREADS", "2")))
    for name in args.models:
        generate(name, args.weights_only)


if __name__ == "__main__":
    main()

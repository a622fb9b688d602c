#!/usr/bin/env python3
"""Trains iris's own tiny CLIP on generated shapes (tools/shapes.py) and saves it in HF format.

No pretrained CLIP weights can be had where iris is built, yet search, RAG and server tests need
a model with real semantics. This script makes one: a transformers CLIPModel with the real CLIP
vocabulary (49408 tokens, vocab.json + merges.txt written by tools/reference/make_vocab.py) and
small towers, trained contrastively on CPU from fixed seeds, saved as float16 safetensors in
models/tiny-clip/ (<= 15 MB: the 49408 x 96 token embedding is most of it).

Training choices (see models/tiny-clip/README.md for the numbers):
  * Data: N_TRAIN images rendered once at random sizes (64..160 px, some JPEG-compressed) and
    brought to the model's size exactly as CLIPImageProcessor does (bicubic resize of the
    shortest side, centre crop; checked against the processor at start-up). Each step draws a
    fresh caption per image: English or Chinese, naming all attributes or only some.
  * Batches are built from groups of sibling scenes that differ in one attribute (see
    batches()), so shape, position and count decide the loss from the first step.
  * Loss: symmetric InfoNCE with a learnable logit_scale (clamped at 100 as in CLIP). Because
    a caption such as "a red circle" fits every red-circle image in the batch, the targets are
    spread uniformly over all pairs whose caption fits the image (known by construction),
    instead of treating those as negatives. Plus: each image against the canonical captions of
    BANK scenes (its own among them), and linear attribute read-outs on both towers'
    embeddings (AttributeHeads, discarded at save time) that speed up learning shape and count.
  * Optimiser: AdamW, linear warm-up then constant learning rate; the saved weights are an
    exponential moving average of the trained ones (Ema), so the result after N steps does not
    depend on a planned total and any checkpoint is reproduced by --steps N. No weight decay
    on embeddings, norms, biases and logit_scale. One torch thread by default and all seeds
    fixed, so a rerun should give the committed weights (the committed run was not repeated to
    compare bits: evaluations in between draw no random numbers and restore the weights exactly).

After saving, the folder is reloaded the way a transformers user would load it (CLIPModel,
CLIPImageProcessor, CLIPTokenizer) and scored on the held-out suite of tools/shapes.py.

  nice -n 10 tools/train_tiny_clip.py                  # train + save + evaluate
  tools/train_tiny_clip.py --eval-only models/tiny-clip
"""
import argparse
import copy
import io
import json
import math
import os
import random
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "models", "tiny-clip")
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGE_SIZE = 64
TRAIN_SIZES = [64, 80, 96, 128, 160]
JPEG_FRACTION = 0.2
GROUP = 4                                # scenes per sibling group (see batches())
CAPTION_SEED = 1
SIBLING_ATTR_P = [0.3, 0.1, 0.3, 0.3]    # which attribute a sibling changes (shape, colour, ...)

MODEL_CONFIG = dict(
    projection_dim=64,
    text_config=dict(vocab_size=49408, hidden_size=96, intermediate_size=384, num_hidden_layers=4,
                     num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                     bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
    vision_config=dict(image_size=IMAGE_SIZE, patch_size=8, hidden_size=128, intermediate_size=512,
                       num_hidden_layers=4, num_attention_heads=4, hidden_act="quick_gelu"),
)


# ------------------------------------------------------------------ data

def to_model_pixels(img, size=IMAGE_SIZE):
    """uint8 HxWx3 the way CLIPImageProcessor prepares it: shortest side to `size` (bicubic),
    centre crop. Generated images are square, so the crop is a no-op there."""
    img = img.convert("RGB")
    w, h = img.size
    s = size / min(w, h)
    img = img.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    return np.array(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def normalise(batch_u8):
    """N x H x W x 3 uint8 -> N x 3 x H x W float, rescaled and normalised with CLIP's mean/std."""
    x = torch.from_numpy(batch_u8).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]


def check_preprocessing(processor):
    """Our fast path must give the processor's tensor (else training sees other pixels)."""
    for i, size in enumerate([64, 96, 160]):
        img = shapes.render(shapes.ALL_SCENES[i * 37], f"check:{i}", size)
        ref = processor(images=img, return_tensors="pt")["pixel_values"]
        diff = (normalise(to_model_pixels(img)[None]) - ref).abs().max().item()
        if diff > 1e-5:
            sys.exit(f"preprocessing differs from CLIPImageProcessor by {diff} at size {size}")


def render_train_set(n, seed):
    """n training images (uint8, model size) and their scenes; deterministic in seed."""
    pix = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    scenes = []
    for i in range(n):
        rng = random.Random(f"train:{seed}:{i}")
        scene = shapes.random_scene(rng)
        img = shapes.render(scene, f"train:{seed}:{i}", rng.choice(TRAIN_SIZES))
        if rng.random() < JPEG_FRACTION:
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=rng.randint(60, 95))
            img = Image.open(io.BytesIO(buf.getvalue()))
        pix[i] = to_model_pixels(img)
        scenes.append(scene)
    return pix, scenes


def scene_codes(scenes):
    """N x 4 int tensor of attribute indices (shape, colour, position, count)."""
    tables = [shapes.SHAPES, list(shapes.COLOURS), shapes.POSITIONS, shapes.COUNTS]
    return torch.tensor([[t.index(v) for t, v in zip(tables, s)] for s in scenes])


def scene_index(codes):
    """Index in shapes.ALL_SCENES (itertools.product order) of each row of scene codes."""
    idx = torch.zeros(len(codes), dtype=torch.long)
    for a, n in enumerate([len(shapes.SHAPES), len(shapes.COLOURS), len(shapes.POSITIONS),
                           len(shapes.COUNTS)]):
        idx = idx * n + codes[:, a]
    return idx


class Captioner:
    """Draws training captions and tokenizes them (cached: captions repeat a lot)."""

    def __init__(self, tokenizer, seed):
        self.tok, self.rng, self.cache = tokenizer, random.Random(f"captions:{seed}"), {}

    def ids(self, text):
        if text not in self.cache:
            self.cache[text] = self.tok(text, truncation=True, max_length=77)["input_ids"]
        return self.cache[text]

    def batch(self, scenes):
        """Token ids of one random caption per scene, and the B x 4 mask of named attributes."""
        texts, named = [], []
        for s in scenes:
            text, names = shapes.random_caption(s, self.rng)
            texts.append(self.ids(text))
            named.append([a in names for a in shapes.ATTRS])
        return texts, torch.tensor(named)

    def bank_lang(self):
        """Language of this step's canonical captions: Chinese for a ZH_FRACTION of the steps."""
        return "zh" if self.rng.random() < shapes.ZH_FRACTION else "en"


def pad(texts):
    """Ids padded with the end token (pooling takes the first one) and the attention mask."""
    n = max(len(t) for t in texts)
    ids = torch.full((len(texts), n), 49407, dtype=torch.long)
    mask = torch.zeros((len(texts), n), dtype=torch.long)
    for i, t in enumerate(texts):
        ids[i, :len(t)] = torch.tensor(t)
        mask[i, :len(t)] = 1
    return ids, mask


# ------------------------------------------------------------------ model + loss

def build_model(seed):
    from transformers import CLIPConfig, CLIPModel
    torch.manual_seed(seed)
    return CLIPModel(CLIPConfig(**MODEL_CONFIG))


def fit_mask(codes, named):
    """fits[i, j]: caption i (about scene codes[i], naming `named[i]`) describes image j."""
    same = codes[:, None, :] == codes[None, :, :]          # B x B x 4
    return (same | ~named[:, None, :]).all(dim=2).float()


def multi_positive_infonce(logits, fits):
    """Symmetric InfoNCE whose targets are uniform over every fitting pair."""
    t2i = -(F.log_softmax(logits, dim=1) * fits / fits.sum(1, keepdim=True)).sum(1).mean()
    i2t = -(F.log_softmax(logits, dim=0) * fits / fits.sum(0, keepdim=True)).sum(0).mean()
    return (t2i + i2t) / 2


def param_groups(model, weight_decay):
    no_decay = [p for n, p in model.named_parameters()
                if p.ndim < 2 or "embedding" in n or "logit_scale" in n]
    decay = [p for n, p in model.named_parameters()
             if not (p.ndim < 2 or "embedding" in n or "logit_scale" in n)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def batches(codes, size, seed):
    """Endless batches of image indices, built from groups of GROUP scenes that differ from a
    random base scene in one attribute each ("two red circles on the left" beside "two red
    stars ...", "three red circles ...", "two red circles at the top"). Random batches teach
    colour within a few dozen steps and then little else, since most negatives already differ
    in colour; sibling scenes make every attribute decide the contrastive loss from the start."""
    rng = np.random.default_rng(seed)
    tables = [len(shapes.SHAPES), len(shapes.COLOURS), len(shapes.POSITIONS), len(shapes.COUNTS)]
    keys = scene_index(codes).numpy()
    by_scene = {k: np.flatnonzero(keys == k) for k in np.unique(keys)}
    while True:
        out = []
        while len(out) < size:
            base = np.array([rng.integers(t) for t in tables])
            group = [base]
            for attr in rng.choice(4, GROUP - 1, replace=False, p=SIBLING_ATTR_P):
                sib = base.copy()
                sib[attr] = (base[attr] + rng.integers(1, tables[attr])) % tables[attr]
                group.append(sib)
            out += [rng.choice(by_scene[int(k)]) for k in scene_index(torch.tensor(np.array(group)))]
        yield np.array(out[:size])


def lr_at(step, peak, warmup):
    """Linear warm-up, then constant: the result after N steps does not depend on how many
    steps were planned, so a run can be stopped at any checkpoint and reproduced with --steps N
    (the averaged weights, see Ema, play the part of a decaying schedule)."""
    return peak * min(1.0, (step + 1) / warmup)


class Ema:
    """Exponential moving average of every parameter; what is saved and evaluated."""

    def __init__(self, model, decay):
        self.decay = decay
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model, step):
        d = min(self.decay, (1 + step) / (10 + step))
        for n, p in model.named_parameters():
            self.shadow[n].mul_(d).add_(p.detach(), alpha=1 - d)

    @torch.no_grad()
    def swap(self, model):
        """Exchanges the model's weights with the averages (call twice to restore)."""
        for n, p in model.named_parameters():
            tmp = p.detach().clone()
            p.copy_(self.shadow[n])
            self.shadow[n] = tmp


class AttributeHeads(torch.nn.Module):
    """Linear read-outs of the four attributes from the projected embeddings of both towers,
    trained beside the contrastive loss and thrown away at save time. They give every step a
    direct signal for shape and count, which plain contrastive training of a small ViT picks up
    slowly (colour is learnt in a few dozen steps, shape in thousands)."""

    def __init__(self, dim):
        super().__init__()
        sizes = [len(shapes.SHAPES), len(shapes.COLOURS), len(shapes.POSITIONS), len(shapes.COUNTS)]
        self.img = torch.nn.ModuleList([torch.nn.Linear(dim, n) for n in sizes])
        self.txt = torch.nn.ModuleList([torch.nn.Linear(dim, n) for n in sizes])

    def loss(self, img, txt, codes, named):
        out = 0.0
        for a in range(4):
            out = out + F.cross_entropy(self.img[a](img), codes[:, a])
            per = F.cross_entropy(self.txt[a](txt), codes[:, a], reduction="none")
            out = out + (per * named[:, a]).sum() / named[:, a].sum().clamp(min=1)
        return out / 4


def bank_scenes(batch_keys, rng, size):
    """Scene indices whose canonical captions every image of the batch is scored against: the
    batch's own scenes plus random others, `size` in all (a sampled softmax over the 540)."""
    own = list(dict.fromkeys(int(k) for k in batch_keys))
    rest = [int(k) for k in rng.permutation(len(shapes.ALL_SCENES)) if int(k) not in set(own)]
    return own + rest[:max(0, size - len(own))]


def train(model, pix, scenes, captioner, args, log, probe, checkpoint=None):
    heads = AttributeHeads(model.config.projection_dim)
    params = param_groups(model, args.weight_decay)
    params.append({"params": list(heads.parameters()), "weight_decay": 0.0})
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    ema = Ema(model, args.ema)
    codes = scene_codes(scenes)
    keys = scene_index(codes)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    for step, idx in zip(range(args.steps), batches(codes, args.batch, args.seed)):
        texts, named = captioner.batch([scenes[i] for i in idx])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.lr, args.warmup)
        bank = bank_scenes(keys[idx], rng, args.bank)
        lang = captioner.bank_lang()
        ids, mask = pad(texts + [captioner.ids(shapes.scene_caption(shapes.ALL_SCENES[k], lang))
                                 for k in bank])
        txt_raw = model.get_text_features(input_ids=ids, attention_mask=mask)
        img_raw = model.get_image_features(pixel_values=normalise(pix[idx]))
        txt, img = F.normalize(txt_raw, dim=-1), F.normalize(img_raw, dim=-1)
        scale = model.logit_scale.exp()
        pairs = multi_positive_infonce(scale * txt[:len(idx)] @ img.T, fit_mask(codes[idx], named))
        pos = {k: j for j, k in enumerate(bank)}
        target = torch.tensor([pos[int(k)] for k in keys[idx]])
        bank_loss = F.cross_entropy(scale * img @ txt[len(idx):].T, target)
        aux = heads.loss(img_raw, txt_raw[:len(idx)], codes[idx], named.float())
        loss = (pairs + bank_loss) / 2 + args.aux * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        ema.update(model, step)
        if step % 50 == 0 or step == args.steps - 1:
            log(f"step {step:5d} loss {loss.item():.4f} (aux {aux.item():.3f}) "
                f"scale {model.logit_scale.exp().item():6.2f} lr {opt.param_groups[0]['lr']:.2e} "
                f"{time.time() - t0:7.0f}s")
        if args.eval_every and step and (step + 1) % args.eval_every == 0:
            ema.swap(model)
            log(f"probe step {step + 1} {json.dumps(probe())}")
            if checkpoint:
                checkpoint(model, step + 1)
            ema.swap(model)
            model.train()
    ema.swap(model)  # the averaged weights are the result


# ------------------------------------------------------------------ save + evaluate

def make_processor():
    from transformers import CLIPImageProcessor
    return CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE},
                              crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                              image_mean=CLIP_MEAN, image_std=CLIP_STD)


def save(model, out):
    model.half().save_pretrained(out, safe_serialization=True)
    make_processor().save_pretrained(out)
    for name in ("vocab.json", "merges.txt"):
        if not os.path.exists(os.path.join(out, name)):
            sys.exit(f"{out}/{name} missing: run tools/reference/make_vocab.py --out {out}")


def hf_encoders(model, proc, tok):
    """encode_images / encode_texts for shapes.score, through transformers."""
    model.eval()

    @torch.no_grad()
    def images(imgs):
        x = model.get_image_features(**proc(images=imgs, return_tensors="pt"))
        return F.normalize(x, dim=-1).numpy()

    @torch.no_grad()
    def texts(strs):
        x = model.get_text_features(**tok(strs, padding=True, return_tensors="pt"))
        return F.normalize(x, dim=-1).numpy()
    return images, texts


def evaluate(folder):
    """Scores a saved folder loaded as a transformers user would (f16 weights run in f32)."""
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer
    model = CLIPModel.from_pretrained(folder, dtype=torch.float32)
    enc_i, enc_t = hf_encoders(model, CLIPImageProcessor.from_pretrained(folder),
                               CLIPTokenizer.from_pretrained(folder))
    return shapes.score(shapes.eval_suite(), enc_i, enc_t)


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--n-train", type=int, default=30000)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--ema", type=float, default=0.998, help="decay of the weight average saved")
    ap.add_argument("--aux", type=float, default=1.0, help="weight of the attribute read-out loss")
    ap.add_argument("--bank", type=int, default=192, help="canonical captions scored per step")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 reproduces the "
                    "committed run; more threads reorder float sums)")
    ap.add_argument("--eval-every", type=int, default=0, help="score the held-out suite every N steps")
    ap.add_argument("--checkpoints", metavar="DIR", help="with --eval-every: also save the averaged "
                    "weights at each evaluation as DIR/step-N (an HF folder, same as --steps N)")
    ap.add_argument("--eval-only", metavar="DIR", help="only score a saved model folder")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.eval_only:
        print(json.dumps(evaluate(args.eval_only), indent=1))
        return 0

    from transformers import CLIPTokenizer
    for name in ("vocab.json", "merges.txt"):
        if not os.path.exists(os.path.join(args.out, name)):
            sys.exit(f"{args.out}/{name} missing: run tools/reference/make_vocab.py --out {args.out}")
    tokenizer = CLIPTokenizer(os.path.join(args.out, "vocab.json"), os.path.join(args.out, "merges.txt"))
    processor = make_processor()
    check_preprocessing(processor)
    t_start, c_start = time.time(), time.process_time()

    def log(msg):
        print(f"[{time.time() - t_start:6.0f}s] {msg}", flush=True)

    pix, scenes = render_train_set(args.n_train, args.seed)
    log(f"rendered {len(pix)} training images")
    model = build_model(args.seed)
    log(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
    suite = shapes.eval_suite() if args.eval_every else None
    enc = hf_encoders(model, processor, tokenizer)

    def checkpoint(trained, step):
        if args.checkpoints:
            folder = os.path.join(args.checkpoints, f"step-{step}")
            os.makedirs(folder, exist_ok=True)
            for name in ("vocab.json", "merges.txt"):
                shutil.copy(os.path.join(args.out, name), folder)
            save(copy.deepcopy(trained), folder)

    train(model, pix, scenes, Captioner(tokenizer, CAPTION_SEED), args, log,
          lambda: {k: round(v, 3) for k, v in shapes.score(suite, *enc).items()}, checkpoint)
    save(model, args.out)
    log(f"saved {args.out}: {folder_bytes(args.out)} bytes; "
        f"wall {time.time() - t_start:.0f}s, cpu {time.process_time() - c_start:.0f}s")
    print(json.dumps(evaluate(args.out), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

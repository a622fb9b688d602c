#!/usr/bin/env python3
"""Seeded generator of synthetic captioned images: coloured shapes on varied backgrounds.

This is the data behind iris's own tiny CLIP (tools/train_tiny_clip.py) and the ground truth of
every end-to-end semantic test: an image's attributes are known by construction, so a search,
RAG or server test can assert that "two blue stars at the top" finds exactly the right files.

A scene is (shape, colour, position, count): `count` copies of one shape in one colour, laid out
in one region of the canvas (left / right / top / bottom / center). Rendering adds jitter that
captions never mention (object size, rotation, colour shade, spacing, background style), so a
model must learn the named attributes and ignore the rest. Objects are drawn on a supersampled
canvas and downsized, which gives anti-aliased edges without depending on Pillow's polygon AA.

Determinism: sample i of gen_dataset(n, seed, size) depends only on (seed, i, size), through its
own random.Random, so datasets are prefix-stable and any sample can be re-rendered alone.

Captions come in English and Chinese (红色的圆形, 左边有两个蓝色的正方形). `scene_caption`
gives the one canonical caption of a scene; `random_caption` draws a training caption that may
name only some attributes, and returns which ones, so a loss can tell which images it fits.

The held-out evaluation used by the model card and by the C-engine test lives here too
(`eval_suite`, `score`), so Python and C numbers are computed on the very same pools.

CLI: tools/shapes.py --out DIR [--n 200] [--seed 1] [--size 128] [--format png|jpg]
writes DIR/shape_00000.png ... and DIR/captions.tsv (file, caption, caption_zh, shape, colour,
position, count). tools/shapes.py --text-out DIR writes images of known words (for OCR tests).
"""
import argparse
import itertools
import math
import os
import random
import sys
from typing import Callable, NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SHAPES = ["circle", "square", "triangle", "star", "heart", "cross"]
SHAPE_PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles",
                "star": "stars", "heart": "hearts", "cross": "crosses"}
COLOURS = {"red": (215, 35, 35), "green": (35, 165, 55), "blue": (35, 75, 220),
           "yellow": (240, 210, 30), "purple": (140, 55, 195), "orange": (245, 135, 25)}
POSITIONS = ["left", "right", "top", "bottom", "center"]
COUNTS = [1, 2, 3]

POSITION_EN = {"left": "on the left", "right": "on the right", "top": "at the top",
               "bottom": "at the bottom", "center": "in the center"}
COUNT_EN = {1: "a", 2: "two", 3: "three"}
SHAPE_ZH = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "star": "星形",
            "heart": "心形", "cross": "十字形"}
COLOUR_ZH = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色",
             "orange": "橙色"}
POSITION_ZH = {"left": "左边", "right": "右边", "top": "上面", "bottom": "下面", "center": "中间"}
COUNT_ZH = {1: "一个", 2: "两个", 3: "三个"}

ATTRS = ("shape", "colour", "position", "count")
FONT_DIR = "/usr/share/fonts/truetype"


class Scene(NamedTuple):
    shape: str
    colour: str
    position: str
    count: int


class Sample(NamedTuple):
    image: Image.Image
    caption: str      # canonical English caption
    caption_zh: str   # canonical Chinese caption
    scene: Scene      # attribute labels (scene._asdict() for a dict)


ALL_SCENES = [Scene(*t) for t in itertools.product(SHAPES, COLOURS, POSITIONS, COUNTS)]


# ------------------------------------------------------------------ captions

def _shape_en(scene):
    return scene.shape if scene.count == 1 else SHAPE_PLURAL[scene.shape]


def scene_caption(scene, lang="en"):
    """The canonical caption naming all four attributes."""
    if lang == "zh":
        return (f"{POSITION_ZH[scene.position]}有{COUNT_ZH[scene.count]}"
                f"{COLOUR_ZH[scene.colour]}的{SHAPE_ZH[scene.shape]}")
    return f"{COUNT_EN[scene.count]} {scene.colour} {_shape_en(scene)} {POSITION_EN[scene.position]}"


def zero_shot_prompt(colour, shape, lang="en"):
    return f"{COLOUR_ZH[colour]}的{SHAPE_ZH[shape]}" if lang == "zh" else f"a photo of a {colour} {shape}"


# Which attributes a training caption names, with weights. Captions naming a subset teach the
# text tower that "a red circle" fits red circles anywhere, in any number.
_SUBSETS = [(ATTRS, 10), (("shape", "colour"), 4), (("shape", "colour", "count"), 2),
            (("shape", "colour", "position"), 2), (("shape", "count", "position"), 1),
            (("colour", "position"), 1), (("shape",), 1), (("colour",), 1)]
_PREFIX_EN = ["", "", "a photo of ", "an image of ", "a picture of "]


def _caption_en(s, names, rng):
    has = set(names)
    pos = POSITION_EN[s.position] if "position" in has else ""
    if rng.random() < 0.2 and pos == POSITION_EN["center"]:
        pos = "in the middle"
    if "shape" in has:
        noun = SHAPE_PLURAL[s.shape] if "count" in has and s.count > 1 else s.shape
        det = COUNT_EN[s.count] if "count" in has else "a"
        if s.count == 1 and "count" in has and rng.random() < 0.3:
            det = "one"
        body = f"{det} {s.colour} {noun}" if "colour" in has else f"{det} {noun}"
    else:
        body = f"something {s.colour}" if "colour" in has else "something"
    if pos and rng.random() < 0.2:
        return f"{pos}, {body}"
    text = f"{rng.choice(_PREFIX_EN)}{body} {pos}".strip()
    return text


def _caption_zh(s, names, rng):
    has = set(names)
    cnt = COUNT_ZH[s.count] if "count" in has else ""
    col = COLOUR_ZH[s.colour] + "的" if "colour" in has else ""
    thing = SHAPE_ZH[s.shape] if "shape" in has else "东西"
    body = f"{cnt}{col}{thing}"
    if "position" not in has:
        return body
    pos = POSITION_ZH[s.position]
    return f"{pos}有{body}" if rng.random() < 0.6 else f"{body}在{pos}"


ZH_FRACTION = 0.25  # share of training captions in Chinese


def random_caption(scene, rng, zh_fraction=ZH_FRACTION):
    """A training caption for scene and the tuple of attribute names it mentions."""
    names = rng.choices([n for n, _ in _SUBSETS], weights=[w for _, w in _SUBSETS])[0]
    if rng.random() < zh_fraction:
        return _caption_zh(scene, names, rng), names
    return _caption_en(scene, names, rng), names


def caption_fits(names, caption_scene, image_scene):
    """True when a caption about caption_scene naming `names` also describes image_scene."""
    return all(getattr(caption_scene, a) == getattr(image_scene, a) for a in names)


# ------------------------------------------------------------------ rendering

def _background(rng, size):
    """A neutral (low-saturation) background so object colours stay unambiguous."""
    light = rng.random() < 0.75
    base = np.array([rng.uniform(185, 250) if light else rng.uniform(15, 75)] * 3)
    base += [rng.uniform(-22, 22) for _ in range(3)] if light else [rng.uniform(-8, 8)] * 3
    kind = rng.choice(["solid", "solid", "gradient", "noise", "stripes"])
    img = np.empty((size, size, 3), dtype=np.float32)
    img[:] = base
    if kind == "gradient":
        other = base + [rng.uniform(-45, 45)] * 3
        ang = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
        t = (np.cos(ang) * (xx - 0.5) + np.sin(ang) * (yy - 0.5)) / math.sqrt(0.5) + 0.5
        img = base + np.clip(t, 0, 1)[..., None] * (other - base)
    elif kind == "noise":
        nrng = np.random.default_rng(rng.getrandbits(63))
        img = img + nrng.normal(0, rng.uniform(4, 14), (size, size, 1))
    elif kind == "stripes":
        period = rng.uniform(0.06, 0.2) * size
        yy, xx = np.mgrid[0:size, 0:size]
        axis = xx if rng.random() < 0.5 else yy
        img = img + (np.floor(axis / period) % 2)[..., None] * rng.uniform(-25, 25)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _polygon(cx, cy, r, rot, pts):
    c, s = math.cos(rot), math.sin(rot)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in pts]


def _unit_outline(shape):
    """Outline of shape in unit coordinates (fits the unit circle; y grows downwards)."""
    if shape == "square":
        return [(-0.75, -0.75), (0.75, -0.75), (0.75, 0.75), (-0.75, 0.75)]
    if shape == "triangle":
        return [(math.cos(a), math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    if shape == "star":
        return [((1.0 if k % 2 == 0 else 0.42) * math.cos(-math.pi / 2 + k * math.pi / 5),
                 (1.0 if k % 2 == 0 else 0.42) * math.sin(-math.pi / 2 + k * math.pi / 5))
                for k in range(10)]
    if shape == "heart":
        ts = [2 * math.pi * k / 48 for k in range(48)]
        return [(16 * math.sin(t) ** 3 / 17,
                 -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)) / 17
                 + 0.1) for t in ts]
    if shape == "cross":
        a, b = 0.3, 0.85
        return [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a),
                (-b, a), (-b, -a), (-a, -a)]
    raise ValueError(f"unknown shape {shape!r}")


def _draw_shape(draw, shape, cx, cy, r, rot, fill):
    if shape == "circle":
        draw.ellipse([cx - 0.85 * r, cy - 0.85 * r, cx + 0.85 * r, cy + 0.85 * r], fill=fill)
    else:
        draw.polygon(_polygon(cx, cy, r, rot, _unit_outline(shape)), fill=fill)


# Region of each position: (centre x, centre y, axis along which several objects line up).
_REGIONS = {"left": (0.2, 0.5, "y"), "right": (0.8, 0.5, "y"), "top": (0.5, 0.2, "x"),
            "bottom": (0.5, 0.8, "x"), "center": (0.5, 0.5, "x")}


def _layout(scene, rng):
    """Object centres and radius, in unit canvas coordinates."""
    # Objects are large (a lone one spans ~3 patches of an 8-px-patch, 64-px model): shape is
    # the attribute a small ViT learns last, and it learns it sooner from bigger outlines.
    r = {1: rng.uniform(0.15, 0.19), 2: rng.uniform(0.12, 0.145), 3: rng.uniform(0.1, 0.115)}[scene.count]
    cx, cy, axis = _REGIONS[scene.position]
    gap = 2 * r * rng.uniform(1.12, 1.35)
    span = gap * (scene.count - 1)
    # Slide the row along its axis and across it, staying inside the region.
    # A lone object stays near the middle of its side, so "left" never looks like "top".
    along = rng.uniform(-1, 1) * max(0.0, (0.4 if scene.position != "center" else 0.16) - span) / 2
    across = rng.uniform(-0.05, 0.05)
    pts = []
    for k in range(scene.count):
        t = -span / 2 + k * gap + along + rng.uniform(-0.015, 0.015)
        u = across + rng.uniform(-0.02, 0.02)
        pts.append((cx + t, cy + u) if axis == "x" else (cx + u, cy + t))
    return pts, r


def render(scene, seed, size=64):
    """Render one image of scene; the same (scene, seed, size) always gives the same pixels."""
    rng = random.Random(f"render:{seed}:{size}:{scene}")
    ss = max(2, -(-256 // size))  # supersampling factor: canvas of at least 256 px
    canvas = size * ss
    img = _background(rng, canvas)
    draw = ImageDraw.Draw(img)
    base = COLOURS[scene.colour]
    fill = tuple(int(min(255, max(0, c + rng.uniform(-18, 18)))) for c in base)
    pts, r = _layout(scene, rng)
    for x, y in pts:
        rot = math.radians(rng.uniform(-15, 15))
        _draw_shape(draw, scene.shape, x * canvas, y * canvas, r * canvas, rot, fill)
    return img.resize((size, size), Image.LANCZOS)


def random_scene(rng):
    return Scene(rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(POSITIONS),
                 rng.choice(COUNTS))


def make_sample(scene, seed, size):
    return Sample(render(scene, seed, size), scene_caption(scene), scene_caption(scene, "zh"), scene)


def gen_dataset(n, seed, size=64):
    """n samples with uniformly random scenes; sample i depends only on (seed, i, size)."""
    out = []
    for i in range(n):
        rng = random.Random(f"scene:{seed}:{i}")
        out.append(make_sample(random_scene(rng), f"{seed}:{i}", size))
    return out


# ------------------------------------------------------------------ held-out evaluation
#
# Pools (all rendered with seeds disjoint from training, which uses integer seeds):
#   retrieval: N_RET distinct scenes, one image each; every canonical caption has exactly one
#              matching image among the N_RET candidates (text->image Recall@1, English and Chinese).
#   pairs:     N_PAIR distinct scenes x PAIR_COPIES images each (different jitter/backgrounds);
#              image->image Recall@1 = the nearest other image has the same scene.
#   zero-shot: N_ZS random scenes; classify colour x shape among all 36 prompts.

EVAL_SEED = "heldout"
N_RET, N_PAIR, PAIR_COPIES, N_ZS = 100, 50, 4, 300


def eval_suite(size=96, seed=EVAL_SEED):
    """The held-out pools as lists of Samples (about 3 s to render)."""
    rng = random.Random(f"suite:{seed}")
    ret = [make_sample(s, f"{seed}:ret:{i}", size) for i, s in enumerate(rng.sample(ALL_SCENES, N_RET))]
    pairs = [make_sample(s, f"{seed}:pair:{i}:{k}", size)
             for i, s in enumerate(rng.sample(ALL_SCENES, N_PAIR)) for k in range(PAIR_COPIES)]
    zs = gen_dataset(N_ZS, f"{seed}:zs", size)
    return {"retrieval": ret, "pairs": pairs, "zero_shot": zs}


def _recall_at_1(queries, candidates, truth):
    """queries x candidates cosine ranking; truth[i] = set of correct candidate indices."""
    best = np.argmax(queries @ candidates.T, axis=1)
    return float(np.mean([b in t for b, t in zip(best, truth)]))


def score(suite, encode_images: Callable, encode_texts: Callable):
    """Metrics of an encoder pair on the suite. The encoders take a list of PIL images / strings
    and return L2-normalised float arrays, one row per input."""
    m = {}
    ret = suite["retrieval"]
    img = np.asarray(encode_images([s.image for s in ret]))
    truth = [{i} for i in range(len(ret))]
    m["t2i_r1_en"] = _recall_at_1(np.asarray(encode_texts([s.caption for s in ret])), img, truth)
    m["t2i_r1_zh"] = _recall_at_1(np.asarray(encode_texts([s.caption_zh for s in ret])), img, truth)
    m["i2t_r1_en"] = _recall_at_1(img, np.asarray(encode_texts([s.caption for s in ret])), truth)

    pairs = suite["pairs"]
    pim = np.asarray(encode_images([s.image for s in pairs]))
    sims = pim @ pim.T
    np.fill_diagonal(sims, -np.inf)
    best = np.argmax(sims, axis=1)
    m["i2i_r1"] = float(np.mean([pairs[b].scene == pairs[i].scene for i, b in enumerate(best)]))

    zs = suite["zero_shot"]
    zim = np.asarray(encode_images([s.image for s in zs]))
    classes = list(itertools.product(COLOURS, SHAPES))
    for lang in ("en", "zh"):
        prompts = np.asarray(encode_texts([zero_shot_prompt(c, s, lang) for c, s in classes]))
        pred = [classes[p] for p in np.argmax(zim @ prompts.T, axis=1)]
        m[f"zs_colour_shape_{lang}"] = float(np.mean(
            [p == (s.scene.colour, s.scene.shape) for p, s in zip(pred, zs)]))
        if lang == "en":  # which half of the pair goes wrong
            m["zs_colour"] = float(np.mean([p[0] == s.scene.colour for p, s in zip(pred, zs)]))
            m["zs_shape"] = float(np.mean([p[1] == s.scene.shape for p, s in zip(pred, zs)]))
    m.update(_attribute_probe(zs, zim, encode_texts))
    return m


def _attribute_probe(zs, zim, encode_texts):
    """Per-attribute zero-shot accuracy with full captions: for each image, among the canonical
    captions that differ from its own scene in only that attribute, is its own caption best?"""
    out = {}
    for attr, values in (("position", POSITIONS), ("count", COUNTS)):
        texts, owner = [], []
        for i, s in enumerate(zs):
            for v in values:
                texts.append(scene_caption(s.scene._replace(**{attr: v})))
                owner.append(i)
        t = np.asarray(encode_texts(texts)).reshape(len(zs), len(values), -1)
        pred = np.argmax(np.einsum("nd,nvd->nv", zim, t), axis=1)
        out[f"zs_{attr}"] = float(np.mean([values[p] == getattr(s.scene, attr) for p, s in zip(pred, zs)]))
    return out


# ------------------------------------------------------------------ text in images (OCR tests)

def find_font(cjk=False):
    """A TrueType font from the Debian packages install-deps.sh installs, or None."""
    path = os.path.join(FONT_DIR, "wqy/wqy-microhei.ttc" if cjk else "dejavu/DejaVuSans.ttf")
    return path if os.path.exists(path) else None


def render_text(lines, size=(480, 160), font_px=40, seed=0, cjk=False):
    """A light image with the given lines of dark text (the words are known by construction).
    Raises FileNotFoundError when the font package is missing."""
    path = find_font(cjk)
    if path is None:
        raise FileNotFoundError(f"no {'CJK ' if cjk else ''}font under {FONT_DIR}")
    rng = random.Random(f"text:{seed}")
    shade = int(rng.uniform(225, 255))
    img = Image.new("RGB", size, (shade, shade, shade))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(path, font_px)
    y = font_px // 2
    for line in lines:
        draw.text((font_px // 2 + rng.randint(0, 6), y), line, fill=(20, 20, 20), font=font)
        y += int(font_px * 1.4)
    return img


# ------------------------------------------------------------------ CLI

def write_folder(out, n, seed, size, fmt):
    os.makedirs(out, exist_ok=True)
    ext = "jpg" if fmt in ("jpg", "jpeg") else "png"
    with open(os.path.join(out, "captions.tsv"), "w", encoding="utf-8") as f:
        f.write("file\tcaption\tcaption_zh\tshape\tcolour\tposition\tcount\n")
        for i, s in enumerate(gen_dataset(n, seed, size)):
            name = f"shape_{i:05d}.{ext}"
            s.image.save(os.path.join(out, name), quality=92) if ext == "jpg" else \
                s.image.save(os.path.join(out, name))
            f.write(f"{name}\t{s.caption}\t{s.caption_zh}\t{s.scene.shape}\t{s.scene.colour}"
                    f"\t{s.scene.position}\t{s.scene.count}\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="folder for shape images + captions.tsv")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--format", default="png", choices=["png", "jpg", "jpeg"])
    ap.add_argument("--text-out", help="folder for images of known words + words.tsv")
    a = ap.parse_args(argv)
    if not a.out and not a.text_out:
        ap.error("give --out and/or --text-out")
    if a.size < 16 or a.size > 4096 or a.n < 0:
        ap.error("--size must be in 16..4096 and --n >= 0")
    if a.out:
        write_folder(a.out, a.n, a.seed, a.size, a.format)
    if a.text_out:
        write_text_folder(a.text_out, a.seed)
    return 0


TEXT_SAMPLES = [(["invoice 2024", "total 315 EUR"], False), (["hello world"], False),
                (["the quick brown fox", "jumps over 13 dogs"], False), (["红色的圆形"], True),
                (["iris search engine"], False)]


def write_text_folder(out, seed):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "words.tsv"), "w", encoding="utf-8") as f:
        f.write("file\ttext\n")
        for i, (lines, cjk) in enumerate(TEXT_SAMPLES):
            name = f"text_{i:02d}.png"
            render_text(lines, seed=f"{seed}:{i}", cjk=cjk).save(os.path.join(out, name))
            f.write(f"{name}\t{' / '.join(lines)}\n")


if __name__ == "__main__":
    sys.exit(main())

"""tools/shapes.py, the generator behind the tiny CLIP and every end-to-end semantic test:
deterministic, labels that match the pixels, captions that match the labels, a CLI that writes
folders other tests index, and clear failures on bad arguments."""
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import shapes  # noqa: E402

SCRIPT = os.path.join(ROOT, "tools", "shapes.py")


def pixels(img):
    return np.asarray(img, dtype=np.int16)


def test_deterministic_and_prefix_stable():
    a = shapes.gen_dataset(6, 3, 64)
    b = shapes.gen_dataset(4, 3, 64)
    for x, y in zip(a, b):
        assert x.scene == y.scene and x.caption == y.caption
        assert np.array_equal(pixels(x.image), pixels(y.image))
    c = shapes.gen_dataset(6, 4, 64)
    assert any(not np.array_equal(pixels(x.image), pixels(y.image)) for x, y in zip(a, c))


def test_sizes_and_mode():
    for size in (32, 64, 97, 224):
        img = shapes.gen_dataset(1, "s", size)[0].image
        assert img.size == (size, size) and img.mode == "RGB"


def object_mask(scene, seed, size=128):
    """Pixels close to the scene's colour (objects are drawn in it, backgrounds are neutral)."""
    px = pixels(shapes.render(scene, seed, size))
    return np.abs(px - np.array(shapes.COLOURS[scene.colour])).max(axis=2) < 40


@pytest.mark.parametrize("position", shapes.POSITIONS)
def test_objects_sit_in_their_region(position):
    for i, (shape, count) in enumerate([("circle", 1), ("star", 3), ("cross", 2), ("heart", 1)]):
        scene = shapes.Scene(shape, "blue", position, count)
        ys, xs = np.nonzero(object_mask(scene, i))
        assert len(xs) > 50, scene
        cx, cy = xs.mean() / 128, ys.mean() / 128
        want = {"left": cx < 0.33, "right": cx > 0.67, "top": cy < 0.33, "bottom": cy > 0.67,
                "center": 0.35 < cx < 0.65 and 0.35 < cy < 0.65}[position]
        assert want, (scene, cx, cy)


@pytest.mark.parametrize("count", shapes.COUNTS)
def test_count_is_the_number_of_blobs(count):
    """Connected components of the object mask (4-neighbour flood fill) = count. Specks of a
    few anti-aliased pixels (star tips) do not count."""
    for i, shape in enumerate(shapes.SHAPES):
        mask = object_mask(shapes.Scene(shape, "red", "top" if i % 2 else "left", count), i)
        seen, blobs = np.zeros_like(mask), 0
        for y, x in zip(*np.nonzero(mask)):
            if seen[y, x]:
                continue
            stack, area = [(y, x)], 0
            while stack:
                v, u = stack.pop()
                if 0 <= v < 128 and 0 <= u < 128 and mask[v, u] and not seen[v, u]:
                    seen[v, u] = True
                    area += 1
                    stack += [(v + 1, u), (v - 1, u), (v, u + 1), (v, u - 1)]
            blobs += area >= 30
        assert blobs == count, (shape, count, blobs)


def test_canonical_captions():
    s = shapes.Scene("square", "blue", "left", 2)
    assert shapes.scene_caption(s) == "two blue squares on the left"
    assert shapes.scene_caption(s, "zh") == "左边有两个蓝色的正方形"
    assert shapes.scene_caption(s._replace(count=1, position="center")) == "a blue square in the center"
    assert shapes.zero_shot_prompt("red", "circle") == "a photo of a red circle"
    assert shapes.zero_shot_prompt("red", "circle", "zh") == "红色的圆形"
    assert len({shapes.scene_caption(x) for x in shapes.ALL_SCENES}) == len(shapes.ALL_SCENES)
    assert len({shapes.scene_caption(x, "zh") for x in shapes.ALL_SCENES}) == len(shapes.ALL_SCENES)


def test_random_captions_name_what_they_claim():
    rng = random.Random(0)
    words = {"shape": lambda s: (s.shape, shapes.SHAPE_ZH[s.shape]),
             "colour": lambda s: (s.colour, shapes.COLOUR_ZH[s.colour])}
    langs = set()
    for _ in range(500):
        scene = shapes.random_scene(rng)
        text, names = shapes.random_caption(scene, rng)
        langs.add("zh" if any(ord(c) > 0x3000 for c in text) else "en")
        for attr in names:
            if attr in words:
                assert any(w in text for w in words[attr](scene)), (text, names)
        for other in shapes.SHAPES:
            if other != scene.shape:
                assert other not in text and shapes.SHAPE_ZH[other] not in text, text
        assert shapes.caption_fits(names, scene, scene)
    assert langs == {"en", "zh"}
    a, b = shapes.Scene("circle", "red", "left", 1), shapes.Scene("circle", "red", "top", 3)
    assert shapes.caption_fits(("shape", "colour"), a, b)
    assert not shapes.caption_fits(("shape", "colour", "position"), a, b)


def test_eval_suite_pools():
    suite = shapes.eval_suite(size=48)
    ret = suite["retrieval"]
    assert len(ret) == shapes.N_RET and len({s.caption for s in ret}) == shapes.N_RET
    pairs = suite["pairs"]
    assert len(pairs) == shapes.N_PAIR * shapes.PAIR_COPIES
    assert len({s.scene for s in pairs}) == shapes.N_PAIR
    train = {pixels(s.image).tobytes() for s in shapes.gen_dataset(50, 1, 48)}
    assert not train & {pixels(s.image).tobytes() for s in ret}


def test_score_of_an_oracle_is_perfect():
    """An encoder that embeds the scene itself gets every metric right: the scoring is sound."""
    suite = shapes.eval_suite(size=32)
    vocab = {}

    def onehot(keys):
        vecs = np.zeros((len(keys), 2048), dtype=np.float32)
        for i, k in enumerate(keys):
            for part in k:
                vecs[i, vocab.setdefault(part, len(vocab))] = 1
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    captions = {}
    for s in shapes.ALL_SCENES:
        key = tuple(f"{a}={getattr(s, a)}" for a in shapes.ATTRS)
        captions[shapes.scene_caption(s)] = captions[shapes.scene_caption(s, "zh")] = key
    for c in shapes.COLOURS:
        for sh in shapes.SHAPES:
            for lang in ("en", "zh"):
                captions[shapes.zero_shot_prompt(c, sh, lang)] = (f"shape={sh}", f"colour={c}")
    by_image = {}

    def images(imgs):
        return onehot([by_image[id(i)] for i in imgs])
    for pool in suite.values():
        for s in pool:
            by_image[id(s.image)] = tuple(f"{a}={getattr(s.scene, a)}" for a in shapes.ATTRS)
    m = shapes.score(suite, images, lambda texts: onehot([captions[t] for t in texts]))
    assert all(v == 1.0 for v in m.values()), m


def test_cli_writes_folder(tmp_path):
    p = subprocess.run([sys.executable, SCRIPT, "--out", str(tmp_path / "d"), "--n", "5", "--seed", "9",
                        "--size", "72", "--format", "jpg", "--text-out", str(tmp_path / "t")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = (tmp_path / "d" / "captions.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["file", "caption", "caption_zh", "shape", "colour", "position",
                                    "count"]
    want = shapes.gen_dataset(5, "9", 72)
    for line, s in zip(lines[1:], want):
        name, cap, cap_zh, shape, colour, pos, count = line.split("\t")
        assert (cap, cap_zh, shape, colour, pos, int(count)) == (
            s.caption, s.caption_zh, s.scene.shape, s.scene.colour, s.scene.position, s.scene.count)
        with Image.open(tmp_path / "d" / name) as img:
            assert img.format == "JPEG" and img.size == (72, 72)
    if shapes.find_font() and shapes.find_font(cjk=True):
        words = (tmp_path / "t" / "words.tsv").read_text(encoding="utf-8").splitlines()
        assert len(words) == 1 + len(shapes.TEXT_SAMPLES)


@pytest.mark.parametrize("args", [[], ["--out", "x", "--size", "0"], ["--out", "x", "--n", "-1"],
                                  ["--out", "x", "--format", "gif"], ["--out", "x", "--size", "big"]])
def test_cli_bad_arguments(args, tmp_path):
    p = subprocess.run([sys.executable, SCRIPT, *args], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "error" in p.stderr
    assert not (tmp_path / "x").exists()

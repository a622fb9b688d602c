"""`iris embed` and `iris similarity` end to end, against transformers on the same model.

The tiny reference model (tests/fixtures/reference/tiny) is run by transformers with its
own CLIPTokenizer and CLIPImageProcessor on the same files the CLI reads, so these tests
cover decoding, preprocessing, tokenising and both towers together. Images are generated
here (PNG and JPEG); the shared photos are used too when ../shared/data is present.
Bad input: missing and corrupt files, missing arguments, a bad thread count.
"""
import json
import os
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IRIS = os.environ.get("IRIS_BIN", os.path.join(ROOT, "build", "iris"))
TINY = os.path.join(ROOT, "tests", "fixtures", "reference", "tiny")
SHARED = os.path.join(ROOT, "..", "shared", "data", "images")
TEXTS = ["a photo of a cat", "Hello World!", "", "two red squares, 3 blue circles"]


def iris(*args):
    return subprocess.run([IRIS, *args], capture_output=True, text=True, timeout=120)


def with_inputs(args, texts, images):
    return args + [a for t in texts for a in ("--text", t)] + [a for p in images for a in ("--image", p)]


@pytest.fixture(scope="module")
def hf():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model = transformers.CLIPModel.from_pretrained(TINY).eval()
    tok = transformers.CLIPTokenizer.from_pretrained(TINY)
    proc = transformers.CLIPImageProcessor.from_pretrained(TINY)
    return torch, model, tok, proc


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from PIL import Image
    d = tmp_path_factory.mktemp("img")
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:41, 0:57]
    grad = np.stack([x * 4, y * 6, (x + y) * 2], -1).astype(np.uint8)
    paths = [str(d / "gradient.png"), str(d / "noise.jpg")]
    Image.fromarray(grad).save(paths[0])
    Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)).save(paths[1], quality=90)
    for name in ("skimage/astronaut.png", "misc/clipcpp_red_apple.jpg"):
        if os.path.exists(os.path.join(SHARED, name)):
            paths.append(os.path.join(SHARED, name))
    return paths


def reference(hf, texts, paths):
    torch, model, tok, proc = hf
    from PIL import Image
    with torch.no_grad():
        ids = tok(texts, padding=True, return_tensors="pt")
        px = proc(images=[Image.open(p).convert("RGB") for p in paths], return_tensors="pt")
        out = model(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"],
                    pixel_values=px["pixel_values"])
    return (out.text_embeds.numpy(), out.image_embeds.numpy(), out.logits_per_image.numpy(),
            out.logits_per_image.softmax(dim=1).numpy())


def test_embed_matches_reference(hf, images):
    r = iris(*with_inputs(["embed", "--model", TINY, "--threads", "2"], TEXTS, images))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dim"] == 32 and len(out["embeddings"]) == len(TEXTS) + len(images)
    txt, img, _, _ = reference(hf, TEXTS, images)
    got_t = np.array([e["vector"] for e in out["embeddings"] if "text" in e])
    got_i = np.array([e["vector"] for e in out["embeddings"] if "image" in e])
    assert [e["text"] for e in out["embeddings"] if "text" in e] == TEXTS
    assert np.abs(got_t - txt).max() <= 1e-4
    assert np.abs(got_i - img).max() <= 1e-4
    assert np.allclose(np.linalg.norm(got_i, axis=1), 1, atol=1e-5)


def test_similarity_matches_reference(hf, images):
    r = iris(*with_inputs(["similarity", "--json", "--model", TINY], TEXTS, images))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    _, _, logits, probs = reference(hf, TEXTS, images)
    assert out["texts"] == TEXTS
    assert abs(out["logit_scale"] - hf[1].logit_scale.exp().item()) < 1e-4
    got_logits = np.array([row["logits"] for row in out["images"]])
    got_probs = np.array([row["probs"] for row in out["images"]])
    assert np.abs(got_logits - logits).max() <= 1e-2   # 1e-4 on cosines times the scale of 100
    assert np.abs(got_probs - probs).max() <= 1e-3
    assert np.allclose(got_probs.sum(axis=1), 1)


def test_similarity_table(images):
    r = iris("similarity", "--model", TINY, "--image", images[0], "--text", "a", "--text", "b")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == images[0] and lines[1].split() == ["prob", "logit", "cosine", "text"]
    assert [l.split()[-1] for l in lines[2:]] == ["a", "b"]


def test_bad_input(tmp_path, images):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 3)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path in (str(tmp_path / "missing.png"), str(corrupt), str(empty)):
        r = iris("embed", "--model", TINY, "--image", path)
        assert r.returncode == 1 and path in r.stderr, r.stderr
    assert iris("embed", "--model", TINY).returncode == 2               # nothing to embed
    assert iris("embed", "--model", TINY, "stray").returncode == 2      # operand
    assert iris("embed", "--model", TINY, "--threads", "x", "--text", "a").returncode == 2
    assert iris("similarity", "--model", TINY, "--text", "a").returncode == 2  # no image
    assert iris("similarity", "--model", TINY, "--image", images[0]).returncode == 2
    r = iris("embed", "--model", str(tmp_path / "no-model"), "--text", "a")
    assert r.returncode == 1 and "no-model" in r.stderr
    assert iris("embed", "--help").returncode == 0

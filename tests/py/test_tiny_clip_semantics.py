"""End-to-end semantics of the C engine with the project's own tiny CLIP (models/tiny-clip).

The model was trained by tools/train_tiny_clip.py on images from tools/shapes.py; its model card
(models/tiny-clip/README.md) records the same metrics measured with transformers. Here the
held-out suite is rendered afresh (tools/shapes.py, seed "heldout"), every image goes through
the public C API as encoded PNG bytes (iris_image_decode -> iris_encode_images, so decoding and
preprocessing are part of what is tested) and every caption through iris_encode_texts. The
answers are known by construction: each caption names the scene that was drawn.

Thresholds (issue 2): text->image Recall@1 >= 0.8 among 100 images with distinct captions,
image->image Recall@1 >= 0.9 (nearest other image shows the same scene), zero-shot colour x shape
accuracy >= 0.9 over 36 prompts "a photo of a {colour} {shape}". Chinese captions and prompts
get their own floors, set below what the model card reports in Python.

The library is driven through ctypes, so the test skips under IRIS_SANITIZED (an ASan library
cannot be dlopen'ed into an uninstrumented Python).
"""
import ctypes
import io
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import shapes  # noqa: E402

MODEL = os.path.join(ROOT, "models", "tiny-clip")
BUILD = os.environ.get("IRIS_BUILD", os.path.join(ROOT, "build"))

FLOORS = {"t2i_r1_en": 0.8, "i2i_r1": 0.9, "zs_colour_shape_en": 0.9,
          "t2i_r1_zh": 0.7, "zs_colour_shape_zh": 0.8}


class Image(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int),
                ("rgb", ctypes.POINTER(ctypes.c_ubyte))]


def _load_lib():
    if os.environ.get("IRIS_SANITIZED"):
        pytest.skip("ctypes cannot load an ASan/UBSan libiris")
    path = os.path.join(BUILD, "libiris.so")
    if not os.path.exists(path):
        pytest.skip(f"{path} not built")
    lib = ctypes.CDLL(path)
    lib.iris_errmsg.restype = ctypes.c_char_p
    lib.iris_model_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.iris_model_free.argtypes = [ctypes.c_void_p]
    lib.iris_model_dim.argtypes = [ctypes.c_void_p]
    lib.iris_image_decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p,
                                      ctypes.POINTER(Image)]
    lib.iris_image_free.argtypes = [ctypes.POINTER(Image)]
    lib.iris_encode_images.argtypes = [ctypes.c_void_p, ctypes.POINTER(Image), ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_float)]
    lib.iris_encode_texts.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                      ctypes.POINTER(ctypes.c_float)]
    return lib


class Engine:
    """The C engine with one loaded model, as encoders for shapes.score."""

    def __init__(self, lib, folder):
        self.lib, self.model = lib, ctypes.c_void_p()
        self.check(lib.iris_model_load(folder.encode(), None, ctypes.byref(self.model)), folder)
        self.dim = lib.iris_model_dim(self.model)
        assert self.dim > 0

    def check(self, status, what):
        assert status == 0, f"{what}: status {status}: {self.lib.iris_errmsg().decode()}"

    def decode(self, data):
        img = Image()
        status = self.lib.iris_image_decode(data, len(data), None, ctypes.byref(img))
        return status, img

    def images(self, pil_images):
        decoded = []
        try:
            for im in pil_images:
                buf = io.BytesIO()
                im.save(buf, "PNG")
                status, img = self.decode(buf.getvalue())
                self.check(status, "iris_image_decode")
                decoded.append(img)
            arr = (Image * len(decoded))(*decoded)
            out = np.zeros((len(decoded), self.dim), dtype=np.float32)
            self.check(self.lib.iris_encode_images(self.model, arr, len(decoded),
                                                   out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))),
                       "iris_encode_images")
            return out
        finally:
            for img in decoded:
                self.lib.iris_image_free(ctypes.byref(img))

    def texts(self, strings):
        arr = (ctypes.c_char_p * len(strings))(*[s.encode() for s in strings])
        out = np.zeros((len(strings), self.dim), dtype=np.float32)
        self.check(self.lib.iris_encode_texts(self.model, arr, len(strings),
                                              out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))),
                   "iris_encode_texts")
        return out

    def close(self):
        self.lib.iris_model_free(self.model)


@pytest.fixture(scope="module")
def engine():
    eng = Engine(_load_lib(), MODEL)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def metrics(engine):
    return shapes.score(shapes.eval_suite(), engine.images, engine.texts)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_metric_floor(metrics, name):
    assert metrics[name] >= FLOORS[name], f"{name} = {metrics[name]:.3f} < {FLOORS[name]} ({metrics})"


def test_embeddings_are_unit_and_deterministic(engine):
    sample = shapes.gen_dataset(3, "unit", 80)
    a = engine.images([s.image for s in sample])
    b = engine.images([s.image for s in sample])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    t = engine.texts(["a photo of a red circle", "红色的圆形"])
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-4)


def test_batch_equals_single(engine):
    """Batching must not change an embedding (each row is independent)."""
    sample = shapes.gen_dataset(4, "batch", 64)
    batch = engine.images([s.image for s in sample])
    for i, s in enumerate(sample):
        np.testing.assert_allclose(engine.images([s.image])[0], batch[i], atol=1e-5)
    texts = [s.caption for s in sample] + ["a"]
    tb = engine.texts(texts)
    for i, t in enumerate(texts):
        np.testing.assert_allclose(engine.texts([t])[0], tb[i], atol=1e-5)


def test_odd_texts_encode(engine):
    """Empty, very long, punctuation-only and non-Latin texts still give unit vectors."""
    t = engine.texts(["", "a " * 500 + "red circle", "!!!", "🔴 circle", "ÅÄÖ"])
    assert np.all(np.isfinite(t))
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-4)


def test_corrupt_image_bytes_fail_cleanly(engine):
    buf = io.BytesIO()
    shapes.gen_dataset(1, "bad", 64)[0].image.save(buf, "PNG")
    png = buf.getvalue()
    for bad in (png[:len(png) // 2], png[:8], b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 64):
        status, img = engine.decode(bad)
        assert status != 0, f"decoding {len(bad)} corrupt bytes succeeded"
        assert engine.lib.iris_errmsg().decode(), "no error message for a corrupt image"


def test_matches_transformers(engine):
    """The trained weights through the C engine give transformers' embeddings (f16 weights
    computed in f32 on both sides)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model = transformers.CLIPModel.from_pretrained(MODEL, dtype=torch.float32).eval()
    proc = transformers.CLIPImageProcessor.from_pretrained(MODEL)
    tok = transformers.CLIPTokenizer.from_pretrained(MODEL)
    sample = shapes.gen_dataset(6, "parity", 96)
    texts = [s.caption for s in sample] + [s.caption_zh for s in sample]
    with torch.no_grad():
        ref_i = model.get_image_features(**proc(images=[s.image for s in sample], return_tensors="pt"))
        ref_t = model.get_text_features(**tok(texts, padding=True, return_tensors="pt"))
    for ours, ref in ((engine.images([s.image for s in sample]), ref_i), (engine.texts(texts), ref_t)):
        ref = torch.nn.functional.normalize(ref, dim=-1).numpy()
        assert np.min(np.sum(ours * ref, axis=1)) >= 0.99999
        assert np.max(np.abs(ours - ref)) <= 1e-4

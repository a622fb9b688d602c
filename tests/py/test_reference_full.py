"""Full-size CLIP forward pass (exact ViT-B/32 and ViT-B/16 shapes) against transformers.

The goldens (tests/fixtures/reference/goldens/b32, b16) are committed; the random weights
they were computed from are not (600 MB each). This test regenerates them with
tools/reference/make_goldens.py --weights-only into models/full/ (git-ignored; kept for
later runs when their SHA-256 still matches golden.json) and runs the C test binary
test_forward with IRIS_FULL_MODELS pointing there: f32, f16 and bf16 weights, images and
texts, against the bounds stated in tests/unit/test_forward.c; then the same weights as
clip.cpp GGUF files (f32, f16, q8_0, written by tools/convert_hf_to_gguf.py), the f32 one
bit-identical to the Hugging Face folder.

Cost: about 20-60 s per model to regenerate the weights (first run only), a few seconds
to encode. Skips when torch/transformers are missing, and under the sanitizer build (the
tiny model runs the same code paths there).
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDENS = os.path.join(ROOT, "tests", "fixtures", "reference", "goldens")
WEIGHTS = os.path.join(ROOT, "models", "full")
BUILD = os.environ.get("IRIS_BUILD", os.path.join(ROOT, "build"))


def reference_available():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


def ensure_weights(name):
    """models/full/<name>{,-f16,-bf16} and <name>{,-f16,-q8_0}.gguf holding the weights the
    goldens came from (both hashes recorded in golden.json are checked)."""
    sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
    from make_goldens import sha256
    with open(os.path.join(GOLDENS, name, "golden.json")) as f:
        want = json.load(f)
    base = os.path.join(WEIGHTS, name)
    hashed = {os.path.join(base, "model.safetensors"): want["weights_sha256"],
              base + "-q8_0.gguf": want["q8_0_gguf_sha256"]}
    others = [os.path.join(base + s, "model.safetensors") for s in ("-f16", "-bf16")]
    others += [base + ".gguf", base + "-f16.gguf"]
    if all(map(os.path.exists, others)) and all(
            os.path.exists(p) and sha256(p) == h for p, h in hashed.items()):
        return
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "reference", "make_goldens.py"),
                    "--weights-only", name], cwd=ROOT, check=True, capture_output=True)
    for path, h in hashed.items():
        got = sha256(path)
        assert got == h, (f"{path}: regenerated file differs from the goldens' ({got} != {h});"
                          " torch/transformers/gguf must be the pinned versions")


@pytest.mark.parametrize("name", ["b32", "b16"])
def test_full_size_matches_reference(name):
    if os.environ.get("IRIS_SANITIZED"):
        pytest.skip("full-size models run in the plain build; the tiny model covers ASan")
    if not reference_available():
        pytest.skip("torch/transformers missing: run tools/install-deps.sh")
    binary = os.path.join(BUILD, "tests", "test_forward")
    if not os.path.exists(binary):
        pytest.skip(f"{binary} is not built")
    ensure_weights(name)
    env = dict(os.environ, IRIS_FULL_MODELS=WEIGHTS)
    p = subprocess.run([binary], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    lines = p.stdout.splitlines()
    result = [l for l in lines if f"- test_full_{name}_matches_reference" in l]
    print("\n".join(l for l in lines if l.startswith(f"# {name} ")))
    assert result, p.stdout + p.stderr
    assert result[0].startswith("ok - ") and "# SKIP" not in result[0], result[0]

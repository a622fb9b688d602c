"""`iris model info|list|fetch` end to end.

* info prints a model's config (text and --json) for HF folders and GGUF
  files, and fails cleanly on bad paths and bad usage.
* list --json exposes the registry; the published SHA-256 of the
  openai/clip-vit-base-patch32 vocab.json and merges.txt recorded there is
  checked against files rebuilt from models/tiny-clip (CLIP's real
  vocabulary in the same bytes Hugging Face serves).
* tokenize prints the ids transformers gives for the fixture vocabulary.
* fetch, offline for real (this machine has no internet): fails at once
  with a message saying how to install weights by hand; through a loopback
  mirror ($HF_ENDPOINT): a checksum mismatch installs nothing.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import file_server  # noqa: E402

IRIS = os.environ.get("IRIS_BIN", os.path.join(ROOT, "build", "iris"))
FIX = os.path.join(ROOT, "tests", "fixtures", "models")


def iris(*args, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([IRIS, *args], cwd=ROOT, env=e, capture_output=True, text=True,
                          timeout=timeout)


def test_info_text_and_json():
    p = iris("model", "info", os.path.join(FIX, "tiny-hf"))
    assert p.returncode == 0, p.stderr
    assert "hf-safetensors, f32 weights" in p.stdout and "mlp 64" in p.stdout
    p = iris("model", "info", "--json", os.path.join(FIX, "tiny-q8_0.gguf"))
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["format"] == "gguf" and info["dtype"] == "q8_0"
    assert info["vision_width"] == 32 and info["vocab_size"] == 554
    assert info["eos_token_id"] == 553 and len(info["id"]) == 64


def test_info_errors():
    p = iris("model", "info", os.path.join(FIX, "nonexistent"))
    assert p.returncode == 1 and "nonexistent" in p.stderr
    p = iris("model", "info", os.path.join(FIX, "tiny-hf", "vocab.json"))
    assert p.returncode == 1 and "vocab.json" in p.stderr
    assert iris("model").returncode == 2
    assert iris("model", "bogus").returncode == 2
    assert iris("model", "fetch").returncode == 2
    assert iris("model", "info", "--bogus").returncode == 2
    p = iris("model", "info", env={"IRIS_MODEL": "", "IRIS_CACHE": "/nonexistent-iris-cache"})
    assert p.returncode == 1 and "iris model fetch" in p.stderr


def registry():
    p = iris("model", "list", "--json")
    assert p.returncode == 0, p.stderr
    return {m["name"]: m for m in json.loads(p.stdout)}


def test_registry_checksums_match_real_vocabulary():
    """HF's vocab.json is CLIP's vocabulary as compact JSON; its merges.txt
    is the merge list under HF's tokenizers header. Rebuilt from the real
    files in models/tiny-clip they must have the recorded size and SHA-256."""
    src = os.path.join(ROOT, "models", "tiny-clip")
    with open(os.path.join(src, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(src, "merges.txt"), encoding="utf-8") as f:
        merges = f.read().split("\n", 1)[1]
    rebuilt = {
        "vocab.json": json.dumps(vocab, ensure_ascii=False, separators=(",", ":")).encode(),
        "merges.txt": ("#version: 0.2 - Trained by `huggingface/tokenizers`\n" + merges).encode(),
    }
    files = {f["name"]: f for f in registry()["clip-vit-base-patch32"]["files"]}
    for name, data in rebuilt.items():
        assert files[name]["size"] == len(data)
        assert files[name]["sha256"] == hashlib.sha256(data).hexdigest()


def test_list_shows_unverified_files_honestly():
    reg = registry()
    assert all(f["sha256"] for f in reg["clip-vit-base-patch32"]["files"])
    assert reg["clip-vit-b32-laion-gguf-q8_0"]["files"][0]["sha256"] is None


def host_resolves(host):
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def test_fetch_offline_fails_at_once(tmp_path):
    if host_resolves("huggingface.co"):
        pytest.skip("this machine reaches huggingface.co: the offline case cannot be shown")
    t0 = time.monotonic()
    p = iris("model", "fetch", "clip-vit-base-patch32",
             env={"IRIS_CACHE": str(tmp_path), "HF_ENDPOINT": ""}, timeout=60)
    elapsed = time.monotonic() - t0
    assert p.returncode == 1
    assert "cannot reach https://huggingface.co" in p.stderr
    assert "--model DIR" in p.stderr and "by hand" in p.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s"
    model_dir = tmp_path / "models" / "clip-vit-base-patch32"
    assert not any(model_dir.iterdir())


def test_fetch_refused_mirror(tmp_path):
    p = iris("model", "fetch", "clip-vit-b32-laion-gguf-f16",
             env={"IRIS_CACHE": str(tmp_path), "HF_ENDPOINT": "http://127.0.0.1:1"}, timeout=60)
    assert p.returncode == 1 and "cannot reach http://127.0.0.1:1" in p.stderr


def test_fetch_mirror_checksum_mismatch(tmp_path):
    """A mirror serving a different config.json: nothing is installed."""
    rev = registry()["clip-vit-base-patch32"]["revision"]
    served = tmp_path / "mirror" / "openai" / "clip-vit-base-patch32" / "resolve" / rev
    served.mkdir(parents=True)
    data = open(os.path.join(FIX, "tiny-hf", "config.json"), "rb").read()
    data = data + b" " * (4186 - len(data))  # the published size, other bytes
    (served / "config.json").write_bytes(data)
    srv, port = file_server.serve(str(tmp_path / "mirror"))
    try:
        cache = tmp_path / "cache"
        p = iris("model", "fetch", "clip-vit-base-patch32",
                 env={"IRIS_CACHE": str(cache), "HF_ENDPOINT": f"http://127.0.0.1:{port}/"})
    finally:
        srv.shutdown()
    assert p.returncode == 1
    assert "checksum mismatch" in p.stderr and hashlib.sha256(data).hexdigest() in p.stderr
    assert "b575ef3c36f2a057fa19e221650105052d61cc9c1a972ec15019c6261ec98770" in p.stderr
    assert list((cache / "models" / "clip-vit-base-patch32").iterdir()) == []


def test_tokenize_cli():
    expected = json.load(open(os.path.join(FIX, "tiny-hf", "expected.json")))["tokens"]
    for model in ("tiny-hf", "tiny-q8_0.gguf"):
        for text, ids in expected.items():
            p = iris("tokenize", "--model", os.path.join(FIX, model), text)
            assert p.returncode == 0, p.stderr
            assert [int(x) for x in p.stdout.split()] == ids
        p = iris("tokenize", "--json", "--model", os.path.join(FIX, model), "hello", "world")
        assert json.loads(p.stdout) == expected["hello world"]
    assert iris("tokenize", "--model", os.path.join(FIX, "tiny-hf")).returncode == 2
    p = iris("tokenize", "hello", env={"IRIS_MODEL": "", "IRIS_CACHE": "/nonexistent-iris-cache"})
    assert p.returncode == 1 and "--model" in p.stderr

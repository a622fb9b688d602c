"""`iris index --caption`, `iris caption`, `iris search` and `iris ask` together, through the
CLI, on files generated here (a Markdown note, a 3-page PDF written by tools/make_pdf.py, two
shape pictures rendered by tools/shapes.py whose contents are known by construction), with
tests/py/llm_server.py on loopback as both the vision model (captions) and the language model
(answers).

The CLIP model is the tiny random fixture (tests/fixtures/models/tiny-hf): what is checked is
what holds whatever the vectors mean - words that only a caption holds become findable by
keyword and hybrid search after captioning and not before (in English and Chinese), a second
captioning run sends no request, citations map to the right files and pages, and a failing
model leaves the index exactly as it was.
"""
import json
import os
import sqlite3
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IRIS = os.environ.get("IRIS_BIN", os.path.join(ROOT, "build", "iris"))
MODEL = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-hf")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_pdf  # noqa: E402
import shapes  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llm_client  # noqa: E402
from llm_client import script, verify  # noqa: E402

ZH = "\u6591\u9a6c\u72ec\u89d2\u517d"  # a Chinese phrase no file holds
STARS = shapes.Scene("star", "blue", "top", 2)      # photos/cat.png
CIRCLE = shapes.Scene("circle", "red", "left", 1)   # photos/sign.jpg


@pytest.fixture(scope="module")
def server():
    with llm_client.running() as url:
        yield url


@pytest.fixture()
def tree(tmp_path, server):
    (tmp_path / "data" / "photos").mkdir(parents=True)
    shapes.render(STARS, 1, 96).save(tmp_path / "data" / "photos" / "cat.png")
    shapes.render(CIRCLE, 2, 96).save(tmp_path / "data" / "photos" / "sign.jpg", quality=90)
    (tmp_path / "data" / "printer.md").write_text(
        "# Printer\n\nTo reset the printer, hold the red button for five seconds.\n")
    pdf = make_pdf.Pdf("Guide")
    for topic in ("toner cartridges", "paper jams", "firmware updates"):
        pdf.page().text(72, 100, 12, "This page explains %s in detail." % topic)
    pdf.save(str(tmp_path / "data" / "guide.pdf"))
    (tmp_path / "config.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IRIS_LLM_", "IRIS_VLM_"))}
    env.update(IRIS_CONFIG=str(tmp_path / "config.toml"), IRIS_VLM_URL=server,
               IRIS_VLM_MODEL="vlm-e2e", IRIS_VLM_RETRIES="0", IRIS_LLM_URL=server,
               IRIS_LLM_MODEL="llm-e2e", IRIS_LLM_RETRIES="0", IRIS_LLM_BACKOFF="0.01")
    return tmp_path, env


def iris(env, *args):
    return subprocess.run([IRIS, *args], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


def search(env, db, text, mode):
    r = iris(env, "search", "--db", db, "--mode", mode, "--json", text)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["results"]


def db_state(db):
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return con.execute("SELECT modality, count(*) FROM items GROUP BY modality").fetchall()
    finally:
        con.close()


def test_captions_make_images_findable_and_are_never_recomputed(tree, server):
    tmp, env = tree
    db = str(tmp / "index.db")
    data = str(tmp / "data")
    photos = tmp / "data" / "photos"
    r = iris(env, "index", "--db", db, "--model", MODEL, data)
    assert r.returncode == 0, r.stderr
    for words in ("zebracorn", ZH):
        assert search(env, db, words, "keyword") == []
    # iris index --caption: the images get captions (path order: cat.png, sign.jpg).
    script(server,
           {"expect": {"model": "vlm-e2e", "images": [str(photos / "cat.png")]},
            "reply": {"text": "%s. %s, %s." % (shapes.scene_caption(STARS),
                                                shapes.scene_caption(STARS, "zh"), ZH)}},
           {"expect": {"model": "vlm-e2e", "images": [str(photos / "sign.jpg")]},
            "reply": {"text": "%s, painted like a zebracorn." % shapes.scene_caption(CIRCLE)}})
    r = iris(env, "index", "--db", db, "--model", MODEL, "--caption", data)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Captioning 2 of 2 images (0 cached) with vlm-e2e" in r.stdout
    assert verify(server) == 2
    for words, name in (("zebracorn", "sign.jpg"), (ZH, "cat.png")):
        for mode in ("keyword", "hybrid"):
            hits = search(env, db, words, mode)
            assert hits and hits[0]["path"].endswith(name), (words, mode, hits)
            assert hits[0]["modality"] == "caption"
    # Again: nothing to describe, no request at all.
    script(server)
    r = iris(env, "caption", "--db", db, "--yes", "all")
    assert r.returncode == 0, r.stderr
    r = iris(env, "index", "--db", db, "--caption", data)
    assert r.returncode == 0, r.stderr
    assert verify(server) == 0
    assert dict(db_state(db))[6] == 2  # two caption items, no duplicates
    # A vision model gets the picture the caption matched (bytes compared by the server),
    # cited as an image source.
    script(server, {"expect": {"images": [str(photos / "cat.png")],
                               "text_contains": ["(attached image 1)", ZH]},
                    "reply": {"text": "Two blue stars [1]."}})
    r = iris({**env, "IRIS_LLM_VISION": "1"}, "ask", "--db", db, "--mode", "keyword", "-k", "1",
             "--json", "blue stars " + ZH)
    assert r.returncode == 0, r.stderr
    verify(server)
    a = json.loads(r.stdout)
    s = a["sources"][0]
    assert s["path"].endswith("cat.png") and s["modality"] == "image" and s["sent"] == "image"
    assert a["citations"] == [1] and a["images_sent"] == 1


def test_ask_cites_files_and_pages_and_faults_change_nothing(tree, server):
    tmp, env = tree
    db = str(tmp / "index.db")
    r = iris(env, "index", "--db", db, "--model", MODEL, str(tmp / "data"))
    assert r.returncode == 0, r.stderr
    before = db_state(db)
    script(server, {"expect": {"model": "llm-e2e", "stream": True,
                               "text_contains": ["hold the red button", "paper jams"]},
                    "reply": {"text": "Hold the red button [1]; jams: see [2]. [7]", "chunks": 3}})
    r = iris(env, "ask", "--db", db, "--mode", "keyword", "--json", "-k", "2",
             "reset printer red button paper jams")
    assert r.returncode == 0, r.stderr
    verify(server)
    a = json.loads(r.stdout)
    assert a["answer"] == "Hold the red button [1]; jams: see [2]. [7]"
    src = {s["number"]: s for s in a["sources"]}
    paths = sorted((os.path.basename(s["path"]), s["page"]) for s in a["sources"])
    assert paths == [("guide.pdf", 2), ("printer.md", None)], paths
    assert a["citations"] == [1, 2] and a["invalid_citations"] == [7]
    assert all(src[n]["cited"] == 1 for n in (1, 2))
    # The same as text: the answer streamed, then the sources with file and page.
    script(server, {"reply": {"text": "See [1].", "chunks": 2}})
    r = iris(env, "ask", "--db", db, "--mode", "keyword", "-k", "2", "paper jams")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("See [1].\n\nSources:\n  [1] ") and "guide.pdf, page 2 (pdf_text)" in r.stdout
    # Faults: an error status, a cut-off stream, malformed JSON. Exit 1, index unchanged.
    for step in ({"fault": "status", "status": 500},
                 {"fault": "cut", "reply": {"text": "half of an answer", "chunks": 4}},
                 {"fault": "malformed", "reply": {"text": "x y", "chunks": 2}}):
        script(server, step)
        r = iris(env, "ask", "--db", db, "paper jams")
        assert r.returncode == 1, (step, r.stdout, r.stderr)
        assert "Sources:" in r.stdout and "iris ask:" in r.stderr
        verify(server)
        assert db_state(db) == before
    # No model configured: the extractive answer, exit 0.
    env2 = {k: v for k, v in env.items() if not k.startswith("IRIS_LLM_")}
    r = iris(env2, "ask", "--db", db, "--mode", "keyword", "red button")
    assert r.returncode == 0 and "No language model is configured" in r.stdout
    assert "printer.md" in r.stdout

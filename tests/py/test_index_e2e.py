"""`iris index` then `iris search` on the trained tiny CLIP: what indexing puts in the index
is found the way a user would look for it. (Search semantics - RRF recomputed from the lanes,
text -> image and image -> image quality, filters, classify - are test_search_e2e.py's.)

Generated data, answers known by construction:
* a PDF written by tools/make_pdf.py: a text page about a lighthouse, then one page per
  figure, each figure a tools/shapes.py picture of a known scene (its page and box known);
* pictures of known words (tools/shapes.py --text-out), indexed with --ocr;
* shape pictures, a Chinese Markdown note, a text file.

Checks: a figure is found by its scene's caption on its own page with its box; PDF text by
keyword with its page; OCR'd words by keyword (English and Chinese); Chinese keyword and
caption queries; and the incremental cycle seen through search: touch (nothing re-read),
edit (old words gone, new found), rename (same item, new path), delete (gone).
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IRIS = os.environ.get("IRIS_BIN", os.path.join(ROOT, "build", "iris"))
MODEL = os.path.join(ROOT, "models", "tiny-clip")
sys.path.insert(0, os.path.join(ROOT, "tools"))

# Figures of distinct colour and shape, so a caption has one right answer.
FIGURES = [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("yellow", "star")]


def iris(*args, timeout=600):
    return subprocess.run([IRIS, *args], capture_output=True, text=True, timeout=timeout)


def search(db, *args):
    p = iris("search", "--db", db, "--json", *args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["results"]


def index(db, data, *extra):
    p = iris("index", "--db", db, "--json", "--quiet", *extra, str(data))
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import make_pdf
    import shapes
    base = tmp_path_factory.mktemp("index_e2e")
    data = base / "data"
    (data / "notes").mkdir(parents=True)
    pdf = make_pdf.Pdf("Shapes field guide")
    p = pdf.page()
    p.text(72, 80, 18, "The lighthouse chapter")
    p.paragraph(72, 120, 12, "The lighthouse keeper climbed one hundred steps every night "
                "to light the lamp above the harbour. Ships steered clear of the rocks.")
    boxes = {}
    for k, (colour, shape) in enumerate(FIGURES):
        scene = shapes.Scene(shape, colour, "center", 1)
        p = pdf.page()
        p.text(72, 80, 14, f"Figure {k + 1}")
        box = (100, 120 + 10 * k, 400, 420 + 10 * k)
        p.image(shapes.render(scene, seed=100 + k, size=128), *box)
        boxes[(colour, shape)] = (k + 2, box)
    pdf.save(str(data / "guide.pdf"))
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "shapes.py"), "--out",
                    str(data / "shapes"), "--n", "24", "--seed", "11", "--text-out",
                    str(data / "words")], check=True, capture_output=True)
    os.remove(data / "shapes" / "captions.tsv")
    os.remove(data / "words" / "words.tsv")
    (data / "notes" / "zh.md").write_text("# 笔记\n\n我的猫喜欢在窗台上睡觉。", encoding="utf-8")
    (data / "notes" / "plain.txt").write_text("Aardvarks dig burrows at night.")
    db = str(base / "index.db")
    s = index(db, data, "--model", MODEL, "--ocr")
    return {"db": db, "data": data, "boxes": boxes, "summary": s}


def test_summary(corpus):
    s = corpus["summary"]
    # 24 shapes + 5 word pictures + PDF + 2 notes
    assert s["files_found"] == 32 and s["added"] == 32 and s["skipped"] == 0
    assert s["pdf_pages"] == 1 + len(FIGURES)
    # every image file (--ocr) and the figure pages: "Figure k" is under the 10 characters of
    # text layer that make a page count as a scan (docs/indexing.md), so they are OCR'd too
    assert s["ocr_runs"] == 29 + len(FIGURES)


def test_pdf_figures_found_by_caption_on_their_page(corpus):
    for (colour, shape), (page, box) in corpus["boxes"].items():
        r = search(corpus["db"], "--type", "pdf_figure", "-k", "1", f"a {colour} {shape}")
        assert r and r[0]["path"].endswith("guide.pdf")
        assert r[0]["page"] == page, (colour, shape, r[0])
        assert r[0]["bbox"] == pytest.approx(list(box), abs=0.5)


def test_pdf_text_by_keyword_with_its_page(corpus):
    r = search(corpus["db"], "--mode", "keyword", "lighthouse")
    assert r[0]["modality"] == "pdf_text" and r[0]["page"] == 1
    assert "[lighthouse]" in r[0]["snippet"].lower()


def test_ocr_words_by_keyword(corpus):
    r = search(corpus["db"], "--mode", "keyword", "--type", "ocr", "invoice")
    assert r and r[0]["path"].endswith("text_00.png")
    r = search(corpus["db"], "--mode", "keyword", "--type", "ocr", "brown fox")
    assert r and r[0]["path"].endswith("text_02.png")
    r = search(corpus["db"], "--mode", "keyword", "--type", "ocr", "红色")
    assert r and r[0]["path"].endswith("text_03.png")


def test_chinese_note_and_caption(corpus):
    r = search(corpus["db"], "--mode", "keyword", "猫")
    assert r[0]["path"].endswith("zh.md") and "[猫]" in r[0]["snippet"]
    r = search(corpus["db"], "--type", "pdf_figure", "-k", "1", "红色的圆形")
    assert r[0]["page"] == corpus["boxes"][("red", "circle")][0]


def test_incremental_cycle_through_search(corpus, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(corpus["data"], data)
    db = str(tmp_path / "index.db")
    index(db, data, "--model", MODEL)
    note = data / "notes" / "plain.txt"
    first = search(db, "--mode", "keyword", "aardvarks")[0]
    # touch: re-hashed, nothing decoded, same item
    os.utime(note, (1e9, 1e9))
    s = index(db, data)
    assert s["files_hashed"] == 1 and s["files_decoded"] == 0 and s["items_encoded"] == 0
    assert search(db, "--mode", "keyword", "aardvarks")[0]["item_id"] == first["item_id"]
    # rename: the same item under its new path, nothing encoded
    note.rename(data / "notes" / "animals.txt")
    s = index(db, data)
    assert s["moved"] == 1 and s["items_encoded"] == 0
    r = search(db, "--mode", "keyword", "aardvarks")
    assert r[0]["item_id"] == first["item_id"] and r[0]["path"].endswith("animals.txt")
    # edit: the old words are gone, the new ones found
    (data / "notes" / "animals.txt").write_text("Pangolins curl into a ball.")
    s = index(db, data)
    assert s["updated"] == 1 and s["items_encoded"] == 1
    assert search(db, "--mode", "keyword", "aardvarks") == []
    assert search(db, "--mode", "keyword", "pangolins")[0]["path"].endswith("animals.txt")
    # delete: gone from every lane
    (data / "notes" / "animals.txt").unlink()
    s = index(db, data)
    assert s["removed"] == 1
    assert search(db, "--mode", "keyword", "pangolins") == []
    assert not any(h["path"].endswith("animals.txt")
                   for h in search(db, "--mode", "vector", "-k", "100", "pangolins"))

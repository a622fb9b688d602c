"""`iris search`, `iris similar`, `iris classify` and `iris stats` end to end on the tiny CLIP.

An index is built with `iris index` over generated data whose answers are known by construction:
shape images from tools/shapes.py (each file's shape, colour, position and count are in its
captions.tsv row) and text files with known words, English and Chinese. Then:

* text -> image: the canonical caption of a scene finds images of that colour and shape
  (floors below the model card's zero-shot numbers, which come from the same generator);
* image -> image: the query file, its copy elsewhere in the index and its own content never
  come back; the nearest other image mostly shows the same colour and shape;
* hybrid ordering: every result's fused score is recomputed here from its lane ranks
  (sum of 1/(60 + rank)), the list is sorted by it, and the lane ranks are the positions the
  same item holds in separate --mode vector / --mode keyword runs;
* Chinese: keyword queries on Chinese text and Chinese captions against images;
* similar, classify, stats, and the errors: no index, model mismatch, bad options.

The same CLI paths without semantics (fusion, filters, exclusion, formats, errors) run on an
index built with the random fixture model (tests/fixtures/models/tiny-hf); the semantic
ones use the project's trained tiny CLIP (models/tiny-clip).
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
OTHER_MODEL = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-hf")
N_IMAGES = 48
N_TWINS = 12  # second renders of the first scenes: each of those has one image of its scene

TEXTS = {
    "lighthouse.txt": "The lighthouse keeper climbed one hundred steps every night to light "
                      "the lamp above the harbour.",
    "revenue.md": "# Quarterly report\n\nRevenue grew in the third quarter, driven by exports.",
    "cat_zh.txt": "我的猫喜欢在窗台上睡觉，阳光很暖和。",
    "bank_zh.txt": "银行明天上午九点开门，请带好身份证。",
}


def iris(*args, timeout=300):
    return subprocess.run([IRIS, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def search_json(db, *args):
    p = iris("search", "--db", db, "--json", *args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("search_e2e")
    data = base / "data"
    imgs = data / "shapes"
    imgs.mkdir(parents=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "shapes.py"), "--out", str(imgs),
                    "--n", str(N_IMAGES), "--seed", "31", "--size", "128"], check=True,
                   capture_output=True)
    scenes = {}
    with open(imgs / "captions.tsv", encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            scenes[os.path.realpath(imgs / row["file"])] = row
    os.remove(imgs / "captions.tsv")  # keep the captions out of the index
    docs = data / "docs"
    docs.mkdir()
    for name, text in TEXTS.items():
        (docs / name).write_text(text, encoding="utf-8")
    twins = {}
    twin_dir = data / "twins"
    twin_dir.mkdir()
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import shapes
    for k, path in enumerate(sorted(scenes)[:N_TWINS]):
        row = scenes[path]
        scene = shapes.Scene(row["shape"], row["colour"], row["position"], int(row["count"]))
        twin = os.path.realpath(twin_dir / f"twin_{k:02d}.png")
        shapes.render(scene, f"twin:{k}", 128).save(twin)
        scenes[twin], twins[path] = row, twin
    first = sorted(scenes)[0]
    copy = data / "copy-of-first.png"
    shutil.copy(first, copy)
    scenes[os.path.realpath(copy)] = scenes[first]
    db = str(base / "index.db")
    p = iris("index", "--db", db, "--model", MODEL, "--quiet", str(data), timeout=900)
    assert p.returncode == 0, p.stderr
    return {"db": db, "scenes": scenes, "first": first, "copy": os.path.realpath(copy),
            "docs": docs, "twins": twins}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """The same kinds of files indexed with the random fixture model: no semantics, but
    every code path of the CLI (lanes, fusion, filters, exclusion, formats, errors)."""
    from PIL import Image
    base = tmp_path_factory.mktemp("search_plain")
    data = base / "data"
    (data / "pics").mkdir(parents=True)
    for i in range(6):
        img = Image.new("RGB", (40 + 8 * i, 32), ((50 * i) % 256, 90, 255 - 40 * i))
        for x in range(0, img.width, 6 + i):
            for y in range(img.height):
                img.putpixel((x, y), (255, 255, 255))
        img.save(data / "pics" / f"p{i}.png")
    shutil.copy(data / "pics" / "p0.png", data / "copy-of-p0.png")
    docs = data / "docs"
    docs.mkdir()
    for name, text in TEXTS.items():
        (docs / name).write_text(text, encoding="utf-8")
    db = str(base / "index.db")
    p = iris("index", "--db", db, "--model", OTHER_MODEL, "--quiet", str(data), timeout=600)
    assert p.returncode == 0, p.stderr
    return {"db": db, "pics": data / "pics", "copy": os.path.realpath(data / "copy-of-p0.png"),
            "docs": docs}


def _scene(corpus, path):
    return corpus["scenes"].get(os.path.realpath(path))


def test_stats(plain):
    p = iris("stats", "--db", plain["db"], "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["files"] == 6 + 1 + len(TEXTS)
    assert s["items_by_modality"]["image"] == 6  # the copy shares its original's item
    assert s["items_by_modality"]["text"] >= len(TEXTS)
    assert s["model"]["dim"] == 24 and s["vectors"] == s["items"]
    p = iris("stats", "--db", plain["db"])
    assert p.returncode == 0 and "tiny-hf" in p.stdout


def test_stats_tiny_clip(corpus):
    p = iris("stats", "--db", corpus["db"], "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["files"] == N_IMAGES + N_TWINS + 1 + len(TEXTS)
    # the copy shares its original's item
    assert s["items_by_modality"]["image"] == N_IMAGES + N_TWINS
    assert s["items_by_modality"]["text"] >= len(TEXTS)
    assert s["model"]["dim"] > 0


def test_text_to_image(corpus):
    by_caption = {}
    for path, row in corpus["scenes"].items():
        by_caption.setdefault((row["colour"], row["shape"]), row)
    hits = total = 0
    for (colour, shape), row in sorted(by_caption.items()):
        r = search_json(corpus["db"], "--type", "image", "-k", "1", row["caption"])
        assert len(r["results"]) == 1
        top = _scene(corpus, r["results"][0]["path"])
        hits += top["colour"] == colour and top["shape"] == shape
        total += 1
    assert hits / total >= 0.8, f"{hits}/{total} captions found their colour and shape first"


def test_image_to_image_excludes_the_query(corpus):
    """Each query image has a twin (another render of its scene: other jitter, background,
    size), so by construction the nearest other image should show the same scene."""
    same = total = 0
    for path, twin in sorted(corpus["twins"].items()):
        r = search_json(corpus["db"], "--image", path, "--type", "image", "-k", "5")
        got = [os.path.realpath(h["path"]) for h in r["results"]]
        assert os.path.realpath(path) not in got
        assert r["query"]["image"] == path and r["mode"] == "vector"
        if os.path.realpath(path) in (corpus["first"], corpus["copy"]):
            assert corpus["first"] not in got and corpus["copy"] not in got
        same += _scene(corpus, got[0]) == _scene(corpus, path)
        total += 1
    assert same / total >= 0.75, f"{same}/{total} nearest other images show the query's scene"


def test_hybrid_ordering_is_rrf_of_the_lanes(plain):
    corpus = plain
    q = "the lighthouse keeper"
    h = search_json(corpus["db"], "-k", "20", "--depth", "40", q)
    v = search_json(corpus["db"], "--mode", "vector", "-k", "40", "--depth", "40", q)
    k = search_json(corpus["db"], "--mode", "keyword", "-k", "40", "--depth", "40", q)
    v_rank = {r["item_id"]: i + 1 for i, r in enumerate(v["results"])}
    k_rank = {r["item_id"]: i + 1 for i, r in enumerate(k["results"])}
    assert h["mode"] == "hybrid" and h["rrf_k"] == 60 and h["results"]
    scores = []
    for r in h["results"]:
        lanes = r["lanes"]
        want = 0.0
        for name, ranks in (("vector", v_rank), ("keyword", k_rank)):
            lane = lanes[name]
            assert (lane["rank"] if lane else None) == ranks.get(r["item_id"])
            want += 1.0 / (60 + lane["rank"]) if lane else 0.0
        assert abs(r["score"] - want) < 1e-12
        scores.append(want)
    assert scores == sorted(scores, reverse=True)
    best = [r for r in h["results"] if r["lanes"]["keyword"] and r["lanes"]["keyword"]["rank"] == 1]
    assert len(best) == 1 and best[0]["path"].endswith("lighthouse.txt")
    assert "[lighthouse]" in best[0]["snippet"] and best[0]["lanes"]["vector"]


def test_chinese_keywords(plain):
    r = search_json(plain["db"], "--mode", "keyword", "猫")
    assert r["results"][0]["path"].endswith("cat_zh.txt")
    assert "[猫]" in r["results"][0]["snippet"]
    r = search_json(plain["db"], "--mode", "keyword", "银行开门")
    assert r["results"][0]["path"].endswith("bank_zh.txt")
    r = search_json(plain["db"], "--mode", "keyword", "出口")
    assert r["results"] == []


def test_chinese_captions(corpus):
    hits = total = 0
    seen = set()
    for path, row in sorted(corpus["scenes"].items()):
        key = (row["colour"], row["shape"])
        if key in seen:
            continue
        seen.add(key)
        r = search_json(corpus["db"], "--type", "image", "-k", "1", row["caption_zh"])
        top = _scene(corpus, r["results"][0]["path"])
        hits += (top["colour"], top["shape"]) == key
        total += 1
    assert hits / total >= 0.6, f"{hits}/{total} Chinese captions found their colour and shape"


def test_image_query_leaves_out_its_own_content(plain):
    p0 = str(plain["pics"] / "p0.png")
    r = search_json(plain["db"], "--image", p0, "-k", "50")
    got = {os.path.realpath(h["path"]) for h in r["results"]}
    assert os.path.realpath(p0) not in got and plain["copy"] not in got
    assert r["mode"] == "vector" and len(r["results"]) == 5 + len(TEXTS)
    for h in r["results"]:
        assert h["lanes"]["keyword"] is None and h["lanes"]["vector"]["rank"] >= 1


def test_text_output(plain):
    p = iris("search", "--db", plain["db"], "--mode", "keyword", "lighthouse")
    assert p.returncode == 0, p.stderr
    first = p.stdout.splitlines()[0]
    assert first.split()[0] == "1" and "lighthouse.txt" in first and "keyword #1" in first
    assert "[lighthouse]" in p.stdout
    p = iris("search", "--db", plain["db"], "--mode", "keyword", "zzzzunfindable")
    assert p.returncode == 0 and p.stdout.strip() == "no results"


def test_filters_and_similar(plain):
    corpus = plain
    r = search_json(corpus["db"], "--type", "text", "-k", "50", "report")
    assert r["results"] and all(h["modality"] == "text" for h in r["results"])
    r = search_json(corpus["db"], "--path", "*/docs/*", "-k", "50", "red circle")
    assert len(r["results"]) == len(TEXTS)  # every doc, however the images score
    r = search_json(corpus["db"], "--type", "image", "--mode", "vector", "-k", "2", "x")
    assert len(r["results"]) == 2 and all(h["modality"] == "image" for h in r["results"])
    first = r["results"][0]
    p = iris("similar", "--db", corpus["db"], "--json", str(first["item_id"]))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    got = [h["item_id"] for h in out["results"]]
    assert first["item_id"] not in got and got
    assert out["query"]["item_id"] == first["item_id"]


def test_classify(corpus):
    colours = ["red", "green", "blue", "yellow", "purple", "orange"]
    files = sorted(corpus["scenes"])[:16]
    p = iris("classify", "--db", corpus["db"], "--labels", ",".join(colours),
             "--template", "a photo of a {} shape", "--json", *files)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert len(out) == len(files)
    right = sum(o["labels"][0]["label"] == _scene(corpus, o["file"])["colour"] for o in out)
    for o in out:
        assert abs(sum(l["probability"] for l in o["labels"]) - 1) < 1e-4
    assert right / len(files) >= 0.8, f"{right}/{len(files)} colours"


def test_errors(plain, tmp_path):
    corpus = plain
    p = iris("search", "--db", str(tmp_path / "none.db"), "x")
    assert p.returncode == 1 and "no index at" in p.stderr
    assert not (tmp_path / "none.db").exists()
    p = iris("search", "--db", corpus["db"], "--model",
             os.path.join(ROOT, "tests", "fixtures", "models", "tiny-hf-f16"), "anything")
    assert p.returncode == 1
    assert "index built with" in p.stderr and "re-index with --model" in p.stderr
    p = iris("search", "--db", corpus["db"], "   ")
    assert p.returncode == 1 and "empty query" in p.stderr
    for bad in (["--type", "video", "x"], ["-k", "0", "x"], ["--mode", "fuzzy", "x"], []):
        p = iris("search", "--db", corpus["db"], *bad)
        assert p.returncode == 2, (bad, p.stderr)
    p = iris("similar", "--db", corpus["db"], "99999999")
    assert p.returncode == 1 and "no item" in p.stderr
    p = iris("classify", "--db", corpus["db"], "--labels", "a,b", "/no/such.png")
    assert p.returncode == 1

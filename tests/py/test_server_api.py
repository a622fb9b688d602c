"""`iris serve` REST API against a real server on a loopback port: status codes, JSON shapes,
search (GET/POST, text, uploaded image, similar), item details, thumbnails, original files,
classification and the 2D map.

Expected values come from construction or from an independent computation: RRF scores are
recomputed from the lanes (sum of 1/(rrf_k + rank)); the map is checked against numpy's PCA
(eigh of the covariance) of the vectors read straight from the index file; an indexed image
uploaded as a query must find itself with cosine 1 and land on its own map point;
thumbnails are decoded and measured.
"""
import io
import os
import sqlite3
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_fixture import Server, build_index, indexed_corpus, multipart  # noqa: E402

BOMB = os.path.join(os.path.dirname(__file__), "..", "fixtures", "images", "hostile_bomb.png")
HIT_KEYS = {"rank", "item_id", "modality", "path", "name", "page", "bbox", "thumbnail", "file",
            "score", "lanes", "snippet", "highlights", "map"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return indexed_corpus(tmp_path_factory, "serve")


@pytest.fixture(scope="module")
def srv(corpus):
    s = Server(corpus["db"], "--quiet")
    # the map is built in the background once the index is open
    s.get("/api/map")
    yield s
    status, err = s.stop()
    assert status == 0, err


def by_name(corpus, name):
    return next(f for f in corpus["files"] if f.endswith(name))


def search(srv, **params):
    from urllib.parse import urlencode
    status, body = srv.get("/api/search?" + urlencode(params))
    assert status == 200, body
    return body


def item_id_of(srv, corpus, name):
    body = search(srv, q=name.split(".")[0].replace("_", " "), k=20, mode="keyword")
    ids = [h["item_id"] for h in body["results"] if h["name"] == name]
    assert ids, f"{name} not found by its name"
    return ids[0]


# ----------------------------------------------------------------------------- status

def test_health_and_status(srv, corpus):
    status, body = srv.get("/api/health")
    assert (status, body) == (200, {"status": "ready"})
    status, st = srv.get("/api/status")
    assert status == 200 and st["state"] == "ready" and st["version"]
    ix = st["index"]
    assert ix["files"] == len(corpus["files"]) and ix["items"] == len(corpus["files"])
    assert ix["items_by_modality"]["image"] == 8 and ix["items_by_modality"]["text"] == 3
    assert ix["vectors"] == ix["items"] and ix["model"]["dim"] == 24
    assert st["server"]["auth"] is False and st["server"]["cors"] is None
    # no language model configured (the fixture's servers get an empty configuration)
    assert st["features"] == {"map": True, "answer": False, "answer_model": None}


# ----------------------------------------------------------------------------- search

def check_hits(body, k):
    assert len(body["results"]) <= k
    scores = [h["score"] for h in body["results"]]
    assert scores == sorted(scores, reverse=True)
    for i, h in enumerate(body["results"]):
        assert set(h) == HIT_KEYS, set(h) ^ HIT_KEYS
        assert h["rank"] == i + 1
        assert h["file"] == f"/api/items/{h['item_id']}/file"
        assert (h["thumbnail"] is not None) == (h["modality"] == "image")
        chars = list(h["snippet"])
        for start, length in h["highlights"]:
            assert 0 <= start and start + length <= len(chars)


def test_search_get_hybrid_rrf_recomputed(srv):
    body = search(srv, q="red circle", k=8)
    assert body["mode"] == "hybrid" and body["rrf_k"] == 60
    assert body["query"] == {"q": "red circle", "mode": "hybrid", "k": 8, "type": []}
    check_hits(body, 8)
    for h in body["results"]:
        expect = sum(1.0 / (60 + lane["rank"]) for lane in h["lanes"].values() if lane)
        assert h["score"] == pytest.approx(expect, rel=1e-12)
    # the keyword lane found the words: highlighted terms are query words
    notes = next(h for h in body["results"] if h["name"] == "notes.txt")
    marked = {"".join(list(notes["snippet"])[s:s + n]).lower() for s, n in notes["highlights"]}
    assert marked == {"red", "circle"}


def test_search_modes_and_filters(srv):
    kw = search(srv, q="green", mode="keyword", k=10)
    assert kw["mode"] == "keyword" and kw["results"]
    assert all(h["lanes"]["vector"] is None and h["lanes"]["keyword"] for h in kw["results"])
    names = {h["name"] for h in kw["results"]}
    assert {"green_circle.jpg", "green_square.png", "manual.md"} <= names
    vec = search(srv, q="green", mode="vector", k=5)
    assert all(h["lanes"]["keyword"] is None and h["lanes"]["vector"] for h in vec["results"])
    assert [h["score"] for h in vec["results"]] == [h["lanes"]["vector"]["score"] for h in vec["results"]]
    imgs = search(srv, q="green", type="image", k=20)
    assert imgs["results"] and all(h["modality"] == "image" for h in imgs["results"])
    assert imgs["query"]["type"] == ["image"]
    glob = search(srv, q="circle", path="*_circle.jpg", k=20)
    assert len(glob["results"]) == 4 and all(h["name"].endswith("_circle.jpg") for h in glob["results"])
    assert search(srv, q="circle", k=3)["results"].__len__() == 3
    chinese = search(srv, q="绿色按钮", mode="keyword")
    assert [h["name"] for h in chinese["results"]] == ["manual.md"]
    high = search(srv, q="red", mode="vector", min_score=2)
    assert high["results"] == [] and high["query"]["min_score"] == 2


def test_search_post_equals_get(srv):
    get = search(srv, q="blue square", k=6, type="image,text", mode="hybrid")
    status, post = srv.post_json("/api/search", {"q": "blue square", "k": 6, "type": ["image", "text"]})
    assert status == 200
    assert [(h["item_id"], h["score"]) for h in post["results"]] == \
           [(h["item_id"], h["score"]) for h in get["results"]]
    status, post = srv.post_json("/api/search", {"q": "blue", "mode": "keyword", "k": 2, "path": None})
    assert status == 200 and post["mode"] == "keyword" and len(post["results"]) <= 2


@pytest.mark.parametrize("query,word", [
    ("", "q"), ("q=x&k=0", "k must be"), ("q=x&k=abc", "k must be"), ("q=x&k=201", "k must be"),
    ("q=x&mode=fuzzy", "mode"), ("q=x&type=bogus", "bogus"), ("q=x&min_score=nan", "min_score"),
    ("q=x&rrf_k=-1", "rrf_k"),
])
def test_search_bad_params(srv, query, word):
    status, body = srv.get("/api/search?" + query)
    assert status == 400
    assert body["error"]["code"] == "bad_request" and word in body["error"]["message"]


def test_search_post_bad_bodies(srv):
    h = {"Content-Type": "application/json"}
    for raw, word in [(b"{not json", "malformed JSON"), (b"[1, 2]", "JSON object"),
                      (b"", "no body"), (b'{"q": 5}', "q must be a string"),
                      (b'{"q": "x", "k": "many"}', "k must be"), (b'{"q":"a"}\x00{}', "NUL")]:
        status, body = srv.json("POST", "/api/search", raw, h)
        assert status == 400 and word in body["error"]["message"], (raw, body)
    status, body = srv.json("POST", "/api/search", b'{"q":"x"}', {"Content-Type": "text/plain"})
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"
    status, body = srv.json("POST", "/api/search", b'{"q":"' + b"a" * 300000 + b'"}', h)
    assert status == 413 and body["error"]["code"] == "too_large"
    status, body = srv.get("/api/search?q=" + "word%20" * 4000)
    assert status == 413 and "limit" in body["error"]["message"]


# ---------------------------------------------------------------------- image search

def test_search_by_uploaded_image(srv, corpus):
    path = by_name(corpus, "blue_circle.jpg")
    data = open(path, "rb").read()
    status, raw = srv.json("POST", "/api/search/image?k=4", data, {"Content-Type": "image/jpeg"})
    assert status == 200, raw
    assert raw["mode"] == "vector" and raw["query"]["image"] == "upload"
    check_hits(raw, 4)
    top = raw["results"][0]
    assert top["name"] == "blue_circle.jpg"  # the indexed copy of the upload: cosine 1
    assert top["lanes"]["vector"]["score"] == pytest.approx(1.0, abs=1e-5)
    # the query lands exactly on its own point of the map
    assert raw["map"]["query"] == pytest.approx(top["map"], abs=1e-4)
    body, ctype = multipart({"image": ("q.jpg", data, "image/jpeg"), "k": "2", "type": "image"})
    status, form = srv.json("POST", "/api/search/image", body, {"Content-Type": ctype})
    assert status == 200 and len(form["results"]) == 2
    assert [h["item_id"] for h in form["results"]] == [h["item_id"] for h in raw["results"][:2]]
    status, octet = srv.json("POST", "/api/search/image?k=4", data,
                             {"Content-Type": "application/octet-stream"})
    assert status == 200 and octet["results"][0]["item_id"] == top["item_id"]


def test_search_by_image_bad_uploads(srv, corpus):
    jpg = open(by_name(corpus, "red_circle.jpg"), "rb").read()
    cases = [
        (b"", "image/png", 400, "no image"),
        (b"definitely not an image", "image/png", 422, "not a JPEG"),
        (jpg[:200], "image/jpeg", 422, ""),
        (open(BOMB, "rb").read(), "image/png", 413, "decompression-bomb"),
        (b"\x00\x00\x00\x1cftypavif" + b"\x00" * 40, "image/avif", 415, "AVIF"),
        (jpg, "text/plain", 415, "does not take"),
    ]
    for data, ctype, want, word in cases:
        status, body = srv.json("POST", "/api/search/image", data, {"Content-Type": ctype})
        assert status == want and word in body["error"]["message"], (ctype, want, body)
    body, ctype = multipart({"picture": ("q.jpg", jpg, "image/jpeg")})
    status, err = srv.json("POST", "/api/search/image", body, {"Content-Type": ctype})
    assert status == 400 and "'image' field" in err["error"]["message"]
    status, err = srv.json("POST", "/api/search/image", b"--x\r\ngarbage",
                           {"Content-Type": "multipart/form-data"})
    assert status == 400
    fields = {f"f{i}": "x" for i in range(12)}
    fields["image"] = ("q.jpg", jpg, "image/jpeg")
    body, ctype = multipart(fields)
    status, err = srv.json("POST", "/api/search/image", body, {"Content-Type": ctype})
    assert status == 400 and "fields" in err["error"]["message"]


def test_similar_excludes_itself(srv, corpus):
    iid = item_id_of(srv, corpus, "yellow_circle.jpg")
    status, body = srv.get(f"/api/items/{iid}/similar?k=10")
    assert status == 200 and body["query"]["item_id"] == iid and body["mode"] == "vector"
    check_hits(body, 10)
    assert iid not in [h["item_id"] for h in body["results"]]
    assert len(body["results"]) == len(corpus["files"]) - 1
    assert body["map"]["query"] == pytest.approx(srv.get(f"/api/items/{iid}")[1]["map"], abs=1e-5)
    status, body = srv.get(f"/api/items/{iid}/similar?type=text")
    assert status == 200 and {h["modality"] for h in body["results"]} == {"text"}
    for bad in ("999999", "0", "-1", "abc", "1.5", "9" * 19):
        status, body = srv.get(f"/api/items/{bad}/similar")
        assert status == 404, bad


# ------------------------------------------------------------------------------ items

def test_item_details(srv, corpus):
    iid = item_id_of(srv, corpus, "notes.txt")
    status, it = srv.get(f"/api/items/{iid}")
    assert status == 200
    assert it["item_id"] == iid and it["modality"] == "text" and it["name"] == "notes.txt"
    assert it["path"] == by_name(corpus, "notes.txt") and it["thumbnail"] is None
    assert it["text"].startswith("The red circle") and len(it["sha256"]) == 64
    assert it["map"] is not None and it["char_start"] == 0
    status, body = srv.get("/api/items/424242")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_thumbnails(srv, corpus):
    iid = item_id_of(srv, corpus, "red_square.png")  # 180 x 300
    for size, want in [(64, (38, 64)), (256, (154, 256)), (512, (180, 300))]:
        status, hdrs, data = srv.request("GET", f"/api/items/{iid}/thumbnail?size={size}")
        assert status == 200 and hdrs["content-type"] == "image/jpeg"
        im = Image.open(io.BytesIO(data))
        assert im.format == "JPEG" and im.size == want, (size, im.size)
        r, g, b = im.convert("RGB").getpixel((want[0] // 2, want[1] // 2))
        assert r > 180 and g < 70 and b < 70  # the red square's centre
    status, hdrs, data = srv.request("GET", f"/api/items/{iid}/thumbnail")
    etag = hdrs["etag"]
    status, hdrs, data = srv.request("GET", f"/api/items/{iid}/thumbnail",
                                     headers={"If-None-Match": etag})
    assert status == 304 and data == b""
    cache = corpus["root"] / "idx" / "thumbs"
    cached = sorted(f.rsplit("-", 1)[1] for _, _, fs in os.walk(cache) for f in fs)
    assert cached == ["256.jpg", "512.jpg", "64.jpg"]  # one file per size, made once
    status, body = srv.get(f"/api/items/{iid}/thumbnail?size=100")
    assert status == 400 and "size must be" in body["error"]["message"]
    text = item_id_of(srv, corpus, "recipe.txt")
    status, body = srv.get(f"/api/items/{text}/thumbnail")
    assert status == 404 and "no thumbnail" in body["error"]["message"]


@pytest.mark.parametrize("name,ctype", [
    ("green_circle.jpg", "image/jpeg"), ("green_square.png", "image/png"),
    ("manual.md", "text/plain; charset=utf-8"),
])
def test_original_file(srv, corpus, name, ctype):
    iid = item_id_of(srv, corpus, name)
    status, hdrs, data = srv.request("GET", f"/api/items/{iid}/file")
    assert status == 200 and hdrs["content-type"] == ctype
    assert data == open(by_name(corpus, name), "rb").read()
    assert hdrs["content-disposition"].startswith(f'inline; filename="{name}"')
    assert "sandbox" in hdrs["content-security-policy"]
    status, hdrs, _ = srv.request("GET", f"/api/items/{iid}/file?download=1")
    assert hdrs["content-disposition"].startswith("attachment;")


# -------------------------------------------------------------------------- classify

def test_classify_items_and_upload(srv, corpus):
    ids = [item_id_of(srv, corpus, n) for n in ("red_circle.jpg", "blue_square.png")]
    status, body = srv.post_json("/api/classify", {"labels": ["circle", "square", "star"], "items": ids})
    assert status == 200 and body["labels"] == ["circle", "square", "star"]
    assert [r["item_id"] for r in body["results"]] == ids
    for r in body["results"]:
        assert sum(r["probs"]) == pytest.approx(1.0, abs=1e-5)
        assert r["label"] == body["labels"][int(np.argmax(r["probs"]))]
        assert r["score"] == pytest.approx(max(r["probs"]))
    data = open(by_name(corpus, "red_circle.jpg"), "rb").read()
    form, ctype = multipart({"image": ("x.jpg", data, "image/jpeg"), "labels": "circle, square,star"})
    status, up = srv.json("POST", "/api/classify", form, {"Content-Type": ctype})
    assert status == 200 and up["results"][0]["image"] == "upload"
    # the upload is the indexed file: the same probabilities up to float rounding (iris index
    # encodes images in batches, the upload alone: the GEMMs add in another order)
    assert up["results"][0]["probs"] == pytest.approx(body["results"][0]["probs"], abs=1e-3)


def test_classify_errors(srv, corpus):
    iid = item_id_of(srv, corpus, "red_circle.jpg")
    for req, status_want, word in [
        ({"labels": ["only one"], "items": [iid]}, 400, "2 to 100 labels"),
        ({"labels": ["a", ""], "items": [iid]}, 400, "1 to 200 bytes"),
        ({"labels": ["a", "b"]}, 400, "items"),
        ({"labels": ["a", "b"], "items": []}, 400, "1 to 256"),
        ({"labels": ["a", "b"], "items": ["x"]}, 400, "positive whole"),
        ({"labels": ["a", "b"], "items": [987654]}, 404, ""),
        ({"labels": ["x"] * 101, "items": [iid]}, 400, "labels"),
    ]:
        status, body = srv.post_json("/api/classify", req)
        assert status == status_want and word in body["error"]["message"], (req, body)


# ------------------------------------------------------------------------------- map

def pca_reference(db):
    """numpy's PCA of every vector in the index: mean, two axes, variances."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT item_id, data FROM vectors ORDER BY item_id").fetchall()
    con.close()
    ids = [r[0] for r in rows]
    x = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]).astype(np.float64)
    mean = x.mean(axis=0)
    cov = (x - mean).T @ (x - mean) / len(x)
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1]
    return ids, x, mean, v[:, order[:2]], w[order[:2]], w.sum()


def test_map_matches_numpy_pca(srv, corpus):
    status, m = srv.get("/api/map")
    assert status == 200 and m["method"] == "pca" and m["dim"] == 24
    assert m["total"] == m["shown"] == len(corpus["files"]) and m["sampled"] is False
    assert m["modalities"]["1"] == "image" and set(m["modality"]) == {1, 2}
    ids, x, mean, axes, var, total = pca_reference(corpus["db"])
    assert m["ids"] == ids
    assert m["explained_variance"] == pytest.approx(var / total, rel=1e-4)
    got = np.stack([m["x"], m["y"]], axis=1)
    want = (x - mean) @ axes
    for a in range(2):  # eigenvectors have no sign: compare up to it
        sign = np.sign(got[:, a] @ want[:, a])
        assert np.allclose(got[:, a], sign * want[:, a], atol=1e-3 * np.abs(want).max())


def test_map_sampling(srv):
    status, a = srv.get("/api/map?max_points=3")
    assert status == 200 and a["shown"] == 3 and a["sampled"] is True and a["total"] == 11
    status, b = srv.get("/api/map?max_points=3")
    assert a["ids"] == b["ids"] and a["ids"] == sorted(a["ids"])
    status, full = srv.get("/api/map")
    for i, id_ in enumerate(a["ids"]):
        j = full["ids"].index(id_)
        assert (a["x"][i], a["y"][i]) == (full["x"][j], full["y"][j])
    for bad in ("0", "-5", "x", "200001"):
        status, body = srv.get(f"/api/map?max_points={bad}")
        assert status == 400


def test_map_follows_index_changes(corpus, tmp_path):
    files = corpus["files"][:4]
    db = str(tmp_path / "index.db")
    build_index(db, files)
    s = Server(db, "--quiet")
    try:
        status, before = s.get("/api/map")
        assert before["total"] == 4
        build_index(db, corpus["files"][4:6])  # another process adds two items
        status, res = s.get("/api/search?q=red&mode=vector")
        assert res["map"]["generation"] == before["generation"]  # not rebuilt by searches
        status, after = s.get("/api/map")
        assert after["total"] == 6 and after["generation"] > before["generation"]
        assert os.path.exists(db + ".map")
    finally:
        assert s.stop()[0] == 0

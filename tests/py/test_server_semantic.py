"""What `iris serve` finds with the project's trained tiny CLIP (models/tiny-clip), through
HTTP as the web UI asks for it: the server embeds text queries and uploaded images itself
before searching, so meaning has to survive that path, not only the CLI's.

Shape pictures from tools/shapes.py (each file's colour, shape and caption known by
construction) are indexed with `iris index`; then:

* GET /api/search with a scene's caption, images only: the first result shows that colour and
  shape for at least 80% of the distinct (colour, shape) pairs (the floor of the CLI's
  test_search_e2e.py, the same engine);
* POST /api/search/image with a picture's bytes: the upload is not excluded, so it comes back
  first with cosine 1; each of the 12 queries has a twin (another render of its scene), and the
  next result shows the query's scene for at least 75% of them (the CLI's floor, same engine).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_fixture import ROOT, Server, build_index  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tools"))
import shapes  # noqa: E402

MODEL = os.path.join(ROOT, "models", "tiny-clip")
N_IMAGES = 36
N_TWINS = 12


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("semantic")
    scenes = {}  # the answers, kept out of the index
    for i, sample in enumerate(shapes.gen_dataset(N_IMAGES, 53, 128)):
        path = os.path.realpath(base / f"shape_{i:03d}.png")
        sample.image.save(path)
        scenes[path] = sample
    for i, path in enumerate(sorted(scenes)[:N_TWINS]):  # another render of each of these scenes
        twin = shapes.make_sample(scenes[path].scene, f"twin:{i}", 128)
        scenes[os.path.realpath(base / f"twin_{i:03d}.png")] = twin
        twin.image.save(base / f"twin_{i:03d}.png")
    db = str(base / "idx" / "index.db")
    build_index(db, sorted(scenes), model=MODEL)
    return {"db": db, "scenes": scenes}


@pytest.fixture(scope="module")
def srv(corpus):
    s = Server(corpus["db"], "--quiet")
    yield s
    assert s.stop()[0] == 0


def same_scene(a, b):
    return a.scene.colour == b.scene.colour and a.scene.shape == b.scene.shape


def test_captions_find_their_scenes(srv, corpus):
    firsts = {}
    for sample in corpus["scenes"].values():
        firsts.setdefault((sample.scene.colour, sample.scene.shape), sample)
    hits = 0
    for row in firsts.values():
        status, r = srv.post_json("/api/search", {"q": row.caption, "type": ["image"], "k": 1})
        assert status == 200 and len(r["results"]) == 1, r
        hits += same_scene(corpus["scenes"][os.path.realpath(r["results"][0]["path"])], row)
    assert hits / len(firsts) >= 0.8, f"{hits}/{len(firsts)} captions found their scene first"


def test_uploaded_pictures_find_their_kind(srv, corpus):
    same = total = 0
    for path in sorted(corpus["scenes"])[:N_TWINS]:  # shape_000..011, each with a twin
        with open(path, "rb") as f:
            data = f.read()
        status, r = srv.json("POST", "/api/search/image?type=image&k=2", data,
                             {"Content-Type": "image/png"})
        assert status == 200 and r["mode"] == "vector", r
        first, second = r["results"]
        assert os.path.realpath(first["path"]) == path and first["score"] == pytest.approx(1, abs=1e-4)
        same += corpus["scenes"][os.path.realpath(second["path"])].scene == corpus["scenes"][path].scene
        total += 1
    assert same / total >= 0.75, f"{same}/{total} nearest other pictures show the query's scene"

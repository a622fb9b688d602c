"""The vector index file ("index.db.ann") through the CLI: `iris index --rebuild-ann`, damaged
and stale files, deletes (tombstones, then compaction), selective filters above the graph
threshold.

Every expected ranking is computed here by brute force (numpy, float64) from the vectors the
store holds, so it does not depend on the index being tested. The config puts the graph
threshold low (20 items) and the search beam above the item count: the HNSW graph answers,
and with a beam that wide its answers must be exactly the brute-force ones.

The model is the tiny random fixture: the vectors mean nothing, the rankings are still exact.
"""
import fnmatch
import json
import os
import sqlite3
import struct

import numpy as np

from test_index_cli import MODEL, iris, make_tree

GRAPH_CONFIG = "[index]\nhnsw_threshold = 20\nef_search = 256\n"


def env_with(tmp_path, config=GRAPH_CONFIG):
    cfg = tmp_path / "config.toml"
    cfg.write_text(config)
    return dict(os.environ, IRIS_CONFIG=str(cfg))


def stored(db):
    """item id -> (unit vector, path, modality) from the store."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT v.item_id, v.data, f.path, i.modality FROM vectors v"
                           " JOIN items i ON i.id = v.item_id JOIN files f"
                           " ON f.content_id = i.content_id").fetchall()
    finally:
        con.close()
    return {r[0]: (np.frombuffer(r[1], dtype=np.float32).astype(np.float64), r[2], r[3])
            for r in rows}


def similar(db, env, item, k=10, *extra):
    r = iris("similar", "--db", db, "--mode", "vector", "--keep-source", "-k", str(k), "--json",
             *extra, str(item), env=env)
    assert r.returncode == 0, r.stderr
    return [(h["item_id"], h["score"]) for h in json.loads(r.stdout)["results"]]


def brute_force(vecs, item, k=10, admit=lambda i: True):
    q = vecs[item][0]
    ranked = sorted(((float(v[0] @ q), i) for i, v in vecs.items() if i != item and admit(i)),
                    reverse=True)
    return [(i, s) for s, i in ranked[:k]]


def assert_exact(db, env, items, k=10, *extra, admit=lambda i: True):
    vecs = stored(db)
    for item in items:
        got, want = similar(db, env, item, k, *extra), brute_force(vecs, item, k, admit)
        assert [i for i, _ in got] == [i for i, _ in want], (item, got, want)
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


def index_tree(tmp_path, env):
    """40 images and 4 notes (test_index_cli.make_tree) indexed into tmp_path/idx.db."""
    make_tree(tmp_path / "data", n_images=40, n_texts=4)
    db = str(tmp_path / "idx.db")
    r = iris("index", "--db", db, "--model", MODEL, "--quiet", str(tmp_path / "data"), env=env)
    assert r.returncode == 0, r.stderr
    return db


def ann_of(db):
    return db + ".ann"


def ann_counts(db):
    """(graph, rows, live, tombstones) from the file's header (docs/index.md, file format)."""
    head = open(ann_of(db), "rb").read(120)
    assert head[:8] == b"IRISANN\0"
    return (struct.unpack_from("<I", head, 56)[0],) + struct.unpack_from("<3Q", head, 88)


def test_rebuild_ann_damaged_and_stale_files(tmp_path):
    env = env_with(tmp_path)
    db = index_tree(tmp_path, env)
    items = sorted(stored(db))[:6]
    assert_exact(db, env, items)
    assert ann_counts(db) == (1, 44, 44, 0)
    fresh = open(ann_of(db), "rb").read()

    # Damaged: the second half of the file flipped. Detected, rebuilt, still exact.
    with open(ann_of(db), "r+b") as f:
        f.seek(len(fresh) // 2)
        f.write(bytes(b ^ 0x5A for b in fresh[len(fresh) // 2:]))
    assert_exact(db, env, items)

    # Stale: a file saved before more images were indexed.
    make_tree(tmp_path / "more", n_images=12, n_texts=0, seed=7)
    r = iris("index", "--db", db, "--quiet", str(tmp_path / "data"), str(tmp_path / "more"),
             env=env)
    assert r.returncode == 0, r.stderr
    open(ann_of(db), "wb").write(fresh)
    assert len(stored(db)) == 56
    assert_exact(db, env, sorted(stored(db))[-4:])

    # --rebuild-ann alone: no walk, the file written afresh from the store.
    inode = os.stat(ann_of(db)).st_ino
    r = iris("index", "--db", db, "--rebuild-ann", env=env)
    assert r.returncode == 0, r.stderr
    assert "vector index rebuilt from the store: 56 vectors" in r.stdout
    assert os.stat(ann_of(db)).st_ino != inode
    assert_exact(db, env, items)
    r = iris("index", "--db", db, "--rebuild-ann", "--json", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["ann_rebuilt"] and out["vectors"] == 56

    # No index there: a failure, and nothing is created.
    missing = str(tmp_path / "none.db")
    r = iris("index", "--db", missing, "--rebuild-ann", env=env)
    assert r.returncode == 1 and "no index at" in r.stderr
    assert not os.path.exists(missing) and not os.path.exists(ann_of(missing))
    # A folder where the file should go: the asked-for rebuild fails loudly.
    os.remove(ann_of(db))
    os.mkdir(ann_of(db))
    r = iris("index", "--db", db, "--rebuild-ann", env=env)
    assert r.returncode == 1 and "idx.db.ann" in r.stderr, r.stderr


def test_deletes_become_tombstones_then_are_compacted(tmp_path):
    env = env_with(tmp_path)
    make_tree(tmp_path / "data", n_images=40, n_texts=0)
    photos = sorted((tmp_path / "data").rglob("*.[pj][np]g"))
    db = str(tmp_path / "idx.db")

    def index():
        r = iris("index", "--db", db, "--model", MODEL, "--quiet", str(tmp_path / "data"), env=env)
        assert r.returncode == 0, r.stderr

    def remove(*paths):
        r = iris("remove", "--db", db, *map(str, paths), env=env)
        assert r.returncode == 0, r.stderr

    index()
    full = os.path.getsize(ann_of(db))
    # Files gone from the tree: `iris index` deletes their items from the saved index.
    for p in photos[:4]:
        p.unlink()
    index()
    assert ann_counts(db) == (1, 40, 36, 4)
    assert os.path.getsize(ann_of(db)) == full
    assert_exact(db, env, sorted(stored(db))[:4])
    # `iris remove` too; 6 tombstones for 34 live items are still under a fifth.
    remove(*photos[4:6])
    assert ann_counts(db) == (1, 40, 34, 6)
    assert_exact(db, env, sorted(stored(db))[:4])
    # 8 for 32: compacted before saving. A smaller file, the same exact answers.
    remove(*photos[6:8])
    assert ann_counts(db) == (1, 32, 32, 0)
    assert os.path.getsize(ann_of(db)) < full
    assert_exact(db, env, sorted(stored(db))[:4])
    # The removed files are still in the tree: indexing adds them back.
    index()
    assert ann_counts(db) == (1, 36, 36, 0)
    assert_exact(db, env, sorted(stored(db))[-4:])
    # Unchanged tree: the file is left alone.
    mtime = os.stat(ann_of(db)).st_mtime_ns
    index()
    assert os.stat(ann_of(db)).st_mtime_ns == mtime


def test_selective_filters_above_the_graph_threshold(tmp_path):
    """--path and --type run inside the index's search: a glob admitting two files of 44
    items still gives both, never a list cut short by the items that did not pass."""
    env = env_with(tmp_path)
    db = index_tree(tmp_path, env)
    assert ann_counts(db)[:2] == (1, 44)
    vecs = stored(db)

    def glob(pattern):
        return lambda i: fnmatch.fnmatchcase(vecs[i][1], pattern)

    for item in sorted(vecs)[::9]:
        assert_exact(db, env, [item], 10, "--path", "*/img00[12].*", admit=glob("*/img00[12].*"))
        assert_exact(db, env, [item], 10, "--path", "*/notes/*", admit=glob("*/notes/*"))
        assert_exact(db, env, [item], 10, "--type", "text", "--path", "*/note0[01]*",
                     admit=glob("*/note0[01]*"))
        assert_exact(db, env, [item], 5, "--type", "image", admit=glob("*/photos/*"))
        assert similar(db, env, item, 10, "--path", "*/nowhere/*") == []


def test_int8_mode_through_the_cli(tmp_path):
    """[index] mode = "int8": past the graph threshold the file still has no graph, every
    search scans the int8 codes and rescores, and the rankings are the brute-force ones;
    `iris index --rebuild-ann` under auto then builds the graph. A mode it does not know
    fails the search and names the key."""
    env = env_with(tmp_path, "[index]\nmode = \"int8\"\nhnsw_threshold = 20\n")
    db = index_tree(tmp_path, env)
    items = sorted(stored(db))[:6]
    assert_exact(db, env, items)
    assert ann_counts(db) == (0, 44, 44, 0)
    vecs = stored(db)
    assert_exact(db, env, items[:2], 5, "--type", "image",
                 admit=lambda i: fnmatch.fnmatchcase(vecs[i][1], "*/photos/*"))
    assert_exact(db, env, items[:2], 10, "--path", "*/notes/*",
                 admit=lambda i: fnmatch.fnmatchcase(vecs[i][1], "*/notes/*"))

    auto = env_with(tmp_path, GRAPH_CONFIG)
    r = iris("index", "--db", db, "--rebuild-ann", env=auto)
    assert r.returncode == 0, r.stderr
    assert ann_counts(db)[0] == 1
    assert_exact(db, auto, items)

    bad = env_with(tmp_path, "[index]\nmode = \"int4\"\n")
    r = iris("search", "--db", db, "--mode", "vector", "red", env=bad)
    assert r.returncode == 1
    assert "[index] mode = int4: want auto, exact, hnsw or int8" in r.stderr

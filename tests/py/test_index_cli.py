"""`iris index` / `iris remove` through the CLI: exit statuses, the summary (text and JSON),
progress on a terminal, unreadable files and folders (run as an unprivileged user, since the
suite runs as root and root reads everything), a model mismatch, and the crash-safety test:
`iris index` killed with SIGKILL at random moments, the index checked after every kill.

The model is the tiny random fixture (tests/fixtures/models/tiny-hf): these tests are about
the mechanics of indexing, not about what the vectors mean (test_index_e2e.py does that with
the trained tiny CLIP). Data is generated here: images with distinct pixels, text files, and
a PDF written by tools/make_pdf.py.
"""
import json
import os
import pty
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IRIS = os.environ.get("IRIS_BIN", os.path.join(ROOT, "build", "iris"))
MODEL = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-hf")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_pdf  # noqa: E402


def iris(*args, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run([IRIS, *args], capture_output=True, text=True, **kw)


def index_json(db, *paths, extra=()):
    r = iris("index", "--db", db, "--model", MODEL, "--json", *extra, *paths)
    assert r.returncode in (0, 3), r.stderr
    return json.loads(r.stdout), r


def make_tree(d, n_images=12, n_texts=6, pdf_pages=0, seed=0):
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(d / "photos" / "2024", exist_ok=True)
    os.makedirs(d / "notes", exist_ok=True)
    for i in range(n_images):
        px = rng.integers(0, 256, (24 + i % 5, 32, 3), dtype=np.uint8)
        sub = d / "photos" / ("2024" if i % 2 else "")
        ext = (".png", ".jpg")[i % 2]
        Image.fromarray(px).save(sub / f"img{i:03d}{ext}", quality=92)
    for i in range(n_texts):
        body = " ".join(f"Note {i} sentence {k} about item {rng.integers(1000)}." for k in range(40))
        (d / "notes" / f"note{i:02d}.{'md' if i % 3 == 0 else 'txt'}").write_text(body)
    if pdf_pages:
        make_pdf.long_manual(str(d / "manual.pdf"), pdf_pages)


def db_rows(db, sql):
    # Read-write, as iris opens it: after a kill, opening may have to recover the WAL.
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_invariants(db):
    """What must hold after any run, complete or killed."""
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert db_rows(db, "SELECT count(*) FROM items i WHERE NOT EXISTS"
                       " (SELECT 1 FROM vectors v WHERE v.item_id = i.id)") == [(0,)]
    assert db_rows(db, "SELECT count(*) FROM (SELECT 1 FROM items GROUP BY content_id, seq"
                       " HAVING count(*) > 1)") == [(0,)]
    assert db_rows(db, "SELECT count(*) FROM (SELECT 1 FROM contents GROUP BY sha256"
                       " HAVING count(*) > 1)") == [(0,)]
    assert db_rows(db, "SELECT count(*) FROM files WHERE status = 0 AND content_id IS NULL") == [(0,)]


def items_by_content(db):
    """sha256 -> sorted list of (modality, seq, page, text) for done contents."""
    out = {}
    for sha, mod, seq, page, text in db_rows(
            db, "SELECT c.sha256, i.modality, i.seq, i.page, i.text FROM items i"
                " JOIN contents c ON c.id = i.content_id WHERE c.state = 1"):
        out.setdefault(sha, []).append((mod, seq, page, text))
    return {k: sorted(v) for k, v in out.items()}


# ----------------------------------------------------------------- summary and exit codes

def test_summary_exit_codes_and_json(tmp_path):
    make_tree(tmp_path / "data", n_images=4, n_texts=2)
    db = str(tmp_path / "idx.db")
    r = iris("index", "--db", db, "--model", MODEL, str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr
    assert "6 files found" in r.stdout and "6 added" in r.stdout
    assert "encoded 4 images" in r.stdout
    s, _ = index_json(db, str(tmp_path / "data"))
    assert s["unchanged"] == 6 and s["files_hashed"] == 0 and s["items_encoded"] == 0
    # A broken file: exit 3, a skip line naming it and why, the rest kept.
    (tmp_path / "data" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    r = iris("index", "--db", db, str(tmp_path / "data"))
    assert r.returncode == 3, r.stderr
    assert "skip (corrupt)" in r.stderr and "broken.jpg" in r.stderr
    assert "skipped 1: 1 corrupt" in r.stdout
    # --quiet: nothing on stdout, the skip still reported.
    r = iris("index", "--db", db, "--quiet", str(tmp_path / "data"))
    assert r.returncode == 3 and r.stdout == "" and "broken.jpg" in r.stderr
    # Usage errors.
    assert iris("index", "--db", db).returncode == 2
    assert iris("index", "--jobs", "0", str(tmp_path)).returncode == 2
    assert iris("index", "--bogus", str(tmp_path)).returncode == 2
    # Nothing to index: a failure, and nothing is created for remove.
    r = iris("index", "--db", db, str(tmp_path / "missing"))
    assert r.returncode == 1 and "does not exist" in r.stderr
    r = iris("remove", "--db", str(tmp_path / "none.db"), "x")
    assert r.returncode == 1 and not os.path.exists(tmp_path / "none.db")


def test_remove_cli(tmp_path):
    make_tree(tmp_path / "data", n_images=4, n_texts=2)
    db = str(tmp_path / "idx.db")
    index_json(db, str(tmp_path / "data"))
    r = iris("remove", "--db", db, str(tmp_path / "data" / "notes"))
    assert r.returncode == 0 and "removed 2 files" in r.stdout
    r = iris("remove", "--db", db, str(tmp_path / "data" / "notes"))
    assert r.returncode == 3 and "nothing indexed" in r.stderr
    assert db_rows(db, "SELECT count(*) FROM files") == [(4,)]
    check_invariants(db)


def test_model_recorded_and_mismatch(tmp_path):
    make_tree(tmp_path / "data", n_images=2, n_texts=1)
    db = str(tmp_path / "idx.db")
    index_json(db, str(tmp_path / "data"))
    # Later runs use the recorded model without --model.
    r = iris("index", "--db", db, "--json", str(tmp_path / "data"), env=dict(os.environ, IRIS_MODEL=""))
    assert r.returncode == 0, r.stderr
    other = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-hf-f16")
    r = iris("index", "--db", db, "--model", other, str(tmp_path / "data"))
    assert r.returncode == 1
    assert "re-index" in r.stderr, r.stderr


def test_progress_bar_on_a_terminal(tmp_path):
    make_tree(tmp_path / "data", n_images=30, n_texts=4)
    db = str(tmp_path / "idx.db")
    master, slave = pty.openpty()
    p = subprocess.Popen([IRIS, "index", "--db", db, "--model", MODEL, "--batch", "2",
                          str(tmp_path / "data")], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        r, _, _ = select.select([master], [], [], 30)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out = p.communicate(timeout=60)[0].decode()
    os.close(master)
    assert p.returncode == 0
    assert b"files/s" in seen and b"ETA" in seen and b"\r" in seen, seen[-500:]
    assert "34 files found" in out


# ----------------------------------------------------------------- unreadable input

NOBODY = 65534


def as_nobody():
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@pytest.fixture
def nobody_dir():
    """A scratch folder `nobody` can reach (pytest's own is private to root)."""
    import pathlib
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="iris-nobody-")
    os.chmod(d, 0o755)
    os.chown(d, NOBODY, NOBODY)
    yield pathlib.Path(d)
    for dirpath, dirs, _ in os.walk(d):
        for n in dirs:
            os.chmod(os.path.join(dirpath, n), 0o755)
    shutil.rmtree(d)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_unreadable_files_and_folders(nobody_dir):
    """Permissions only bite an unprivileged user, so iris runs as `nobody` here."""
    tmp_path = nobody_dir
    data = tmp_path / "data"
    make_tree(data, n_images=6, n_texts=3)
    for dirpath, dirs, files in os.walk(tmp_path):
        for n in dirs + files:
            os.chown(os.path.join(dirpath, n), NOBODY, NOBODY)
    db = str(tmp_path / "idx.db")
    run = lambda: subprocess.run([IRIS, "index", "--db", db, "--model", MODEL, "--json", str(data)],
                                 capture_output=True, text=True, timeout=120, preexec_fn=as_nobody)
    r = run()
    assert r.returncode == 0, r.stderr
    items = db_rows(db, "SELECT count(*) FROM items")[0][0]
    # Take read permission away from an indexed folder, and from an indexed file that also
    # changed (an unchanged one is never opened, so its permissions do not matter).
    os.utime(data / "notes" / "note01.txt", (1e9, 1e9))
    os.chmod(data / "notes" / "note01.txt", 0)
    os.chmod(data / "photos" / "2024", 0)
    r = run()
    assert r.returncode == 3, r.stderr
    s = json.loads(r.stdout)
    assert s["skipped_by"]["unreadable"] == 2, r.stderr
    assert "note01.txt" in r.stderr and "Permission denied" in r.stderr
    assert s["removed"] == 0
    # Nothing that was indexed is lost.
    assert db_rows(db, "SELECT count(*) FROM items")[0][0] == items
    # A new unreadable file is skipped, not recorded as content.
    (data / "notes" / "secret.txt").write_text("top secret")
    os.chown(data / "notes" / "secret.txt", NOBODY, NOBODY)
    os.chmod(data / "notes" / "secret.txt", 0)
    r = run()
    assert r.returncode == 3 and "secret.txt" in r.stderr
    # Readable again: everything back, nothing re-encoded that was kept.
    for p in (data / "notes" / "note01.txt", data / "notes" / "secret.txt"):
        os.chmod(p, 0o644)
    os.chmod(data / "photos" / "2024", 0o755)
    r = run()
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["added"] == 1 and s["files_decoded"] == 1
    check_invariants(db)


def test_non_utf8_names_are_shown_escaped(tmp_path):
    data = tmp_path / "data"
    os.makedirs(data)
    name = os.fsencode(str(data)) + b"/bad\xff\x1b[31mname.jpg"
    with open(name, "wb") as f:
        f.write(b"\xff\xd8\xff garbage")
    r = iris("index", "--db", str(tmp_path / "i.db"), "--model", MODEL, str(data))
    assert r.returncode == 3
    assert "bad\\xff\\x1b[31mname.jpg" in r.stderr and "\x1b" not in r.stderr
    rows = db_rows(str(tmp_path / "i.db"), "SELECT CAST(path AS BLOB) FROM files")
    assert rows == [(name,)]


# ----------------------------------------------------------------- crash safety

def test_sigkill_at_random_moments(tmp_path):
    """25 SIGKILLs at seeded random moments while `iris index` runs over 200 images, 20 text
    files and a 120-page PDF. After each: the index opens and passes integrity_check, has no
    duplicate item, no item without its vector, no half-written content visible, and never
    less than before. The final run completes the job encoding exactly what is missing; the
    result equals a clean index of the same tree."""
    data = tmp_path / "data"
    make_tree(data, n_images=200, n_texts=20, pdf_pages=120, seed=3)
    args = ("--batch", "4", "--jobs", "1")
    ref_db = str(tmp_path / "ref.db")
    t0 = time.monotonic()
    ref, _ = index_json(ref_db, str(data), extra=args)
    full = time.monotonic() - t0
    t0 = time.monotonic()
    index_json(ref_db, str(data), extra=args)  # nothing to do: the fixed cost of a run
    start = time.monotonic() - t0
    ref_items = items_by_content(ref_db)
    total = sum(len(v) for v in ref_items.values())
    assert total == ref["items_added"]

    db = str(tmp_path / "idx.db")
    rng = random.Random(1234)
    before, kills = 0, 0
    for k in range(25):
        p = subprocess.Popen([IRIS, "index", "--db", db, "--model", MODEL, "--quiet", *args,
                              str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # From start-up to about 1/20 of the job: 25 runs leave some of it undone.
        time.sleep(rng.uniform(0.3 * start, start + (full - start) / 20))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        if not os.path.exists(db):
            continue
        if not db_rows(db, "SELECT 1 FROM sqlite_master WHERE name = 'items'"):
            # Killed before the schema's first transaction committed: an empty database,
            # which the next run turns into an index.
            assert db_rows(db, "PRAGMA integrity_check") == [("ok",)] and before == 0
            continue
        check_invariants(db)
        now = items_by_content(db)
        for sha, items in now.items():  # every visible content is complete and right
            assert items == ref_items[sha], sha
        stored = db_rows(db, "SELECT count(*) FROM items")[0][0]
        assert stored >= before  # nothing committed is ever lost
        before = stored
        if stored == total and k < 24:  # a run got to the end (timing on a busy machine):
            for suffix in ("", "-wal", "-shm"):  # start over, so the last run has work left
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
            before = 0
    assert kills >= 20, (kills, full, start)  # most runs were really killed mid-way
    pdf = db_rows(db, "SELECT state, progress FROM contents WHERE kind = 2")
    pages_before = 0 if not pdf else 120 if pdf[0][0] == 1 else pdf[0][1]
    s, _ = index_json(db, str(data), extra=args)
    assert s["pdf_pages"] == 120 - pages_before  # the PDF resumed at its first missing page
    assert s["items_encoded"] == total - before
    assert s["items_added"] == total - before
    check_invariants(db)
    assert items_by_content(db) == ref_items
    assert db_rows(db, "SELECT count(*) FROM contents WHERE state = 0") == [(0,)]


# ----------------------------------------------------------------- long PDFs

def peak_rss_mb(args):
    p = subprocess.Popen([IRIS, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(out), ru.ru_maxrss / 1024


@pytest.mark.skipif(bool(os.environ.get("IRIS_SANITIZED")),
                    reason="ASan's quarantine keeps freed memory, so peak RSS grows with the work "
                           "done, not with what is live; the plain build checks this")
def test_long_pdf_streams_in_flat_memory(tmp_path):
    """A 1500-page PDF (written in 0.3 s by tools/make_pdf.py) is indexed page by page: the
    process peaks at about the memory of a 150-page one. ~7 s."""
    rss = {}
    for n in (150, 1500):
        pdf = tmp_path / f"m{n}" / "manual.pdf"
        pdf.parent.mkdir()
        make_pdf.long_manual(str(pdf), n)
        db = str(tmp_path / f"m{n}.db")
        s, rss[n] = peak_rss_mb(["index", "--db", db, "--model", MODEL, "--json", "--quiet",
                                 str(pdf.parent)])
        assert s["pdf_pages"] == n and s["pages_failed"] == 0
        assert db_rows(db, "SELECT count(DISTINCT page), min(page), max(page) FROM items"
                           " WHERE modality = 3") == [(n, 1, n)]
        hit = db_rows(db, f"SELECT count(*) FROM items WHERE page = {n} AND text LIKE"
                          f" '%part number {1000 + n - 1}%'")
        assert hit == [(1,)]
    assert rss[1500] < rss[150] + 16, rss

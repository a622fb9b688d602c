"""/api/ask against a real server, with tests/py/llm_server.py on loopback as the language model.

The index is built by `iris index` from generated files (shapes, notes, a 3-page PDF whose
pages say known things), with the tiny random fixture CLIP: what is checked holds whatever the
vectors mean - keyword retrieval feeds the prompt, the model's scripted answer comes back whole
or streamed as Server-Sent Events, its [n] citations map to items, files and pages, the model's
failures come back as the right status (or an error event mid-stream) with the sources, bad
requests never reach the model, a client that hangs up cancels the model's request, SIGTERM
cancels answers in progress and still closes the index, and the number of answers at once is
capped.
"""
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llm_client  # noqa: E402
from llm_client import script, verify  # noqa: E402
from serve_fixture import ROOT, Server, build_index, make_corpus  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_pdf  # noqa: E402

MODEL = "llm-serve"


@pytest.fixture(scope="module")
def llm():
    with llm_client.running() as url:
        yield url


def llm_env(url, **more):
    env = {"IRIS_LLM_URL": url, "IRIS_LLM_MODEL": MODEL, "IRIS_LLM_RETRIES": "0",
           "IRIS_LLM_BACKOFF": "0.01"}
    env.update(more)
    return env


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ask")
    files = make_corpus(str(root / "data"))
    pdf = make_pdf.Pdf("Guide")
    for topic in ("toner cartridges", "paper jams", "firmware updates"):
        pdf.page().text(72, 100, 12, "This page explains %s in detail." % topic)
    pdf.save(str(root / "data" / "guide.pdf"))
    db = str(root / "idx" / "index.db")
    build_index(db, files + [str(root / "data" / "guide.pdf")])
    return {"db": db, "root": root}


@pytest.fixture(scope="module")
def srv(corpus, llm):
    s = Server(corpus["db"], "--quiet", env=llm_env(llm))
    yield s
    assert s.stop()[0] == 0


def events_of(body):
    """Server-Sent Events as [(event, data as JSON)]."""
    out = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def status_of(s):
    return s.get("/api/status")[1]


def wait_for(pred, seconds, what):
    t0 = time.time()
    while not pred():
        assert time.time() - t0 < seconds, what
        time.sleep(0.05)
    return time.time() - t0


# ----------------------------------------------------------------------------- answers

def test_status_says_which_model_answers(srv, corpus, tmp_path):
    assert status_of(srv)["features"] == {"map": True, "answer": True, "answer_model": MODEL}
    s = Server(corpus["db"], "--quiet")
    try:
        assert status_of(s)["features"] == {"map": True, "answer": False, "answer_model": None}
    finally:
        assert s.stop()[0] == 0
    broken = tmp_path / "broken.toml"
    broken.write_text("[llm]\nmodle = 'typo'\n")
    s = Server(corpus["db"], "--quiet", "--config", str(broken))
    try:
        f = status_of(s)["features"]
        assert f["answer"] is False and "broken.toml" in f["answer_error"]
        status, body = s.get("/api/ask?q=paper+jams")
        assert status == 500 and "broken.toml" in body["error"]["message"]
    finally:
        assert s.stop()[0] == 0


def test_whole_answer_cites_files_and_pages(srv, llm):
    script(llm, {"expect": {"model": MODEL, "text_contains": ["paper jams", "green button"]},
                 "reply": {"text": "Press the green button [1]; for jams see [2]. [9]", "chunks": 3}})
    status, a = srv.post_json("/api/ask", {"q": "green button paper jams", "mode": "keyword",
                                           "k": 2})
    assert status == 200, a
    assert verify(llm) == 1
    assert a["question"] == "green button paper jams" and a["model"] == MODEL
    assert a["answer"] == "Press the green button [1]; for jams see [2]. [9]"
    assert a["complete"] is True and a["extractive"] is False
    assert a["citations"] == [1, 2] and a["invalid_citations"] == [9]
    where = sorted((os.path.basename(x["path"]), x["page"]) for x in a["sources"])
    assert where == [("guide.pdf", 2), ("manual.md", None)], where
    for src in a["sources"]:  # every source is an item the API shows, from its file
        assert src["cited"] == 1 and src["sent"] == "text"
        st, item = srv.get(f"/api/items/{src['item_id']}")
        assert st == 200 and item["path"] == src["path"] and item["page"] == src["page"]


def test_streamed_answer(srv, llm):
    text = "绿色按钮 starts the machine [1]. Paper jams: page two [2]."
    for method, path, body, headers in (
            ("GET", "/api/ask?q=green+button+paper+jams&mode=keyword&k=2&stream=1", None, {}),
            ("GET", "/api/ask?q=green+button+paper+jams&mode=keyword&k=2", None,
             {"Accept": "text/event-stream"}),
            ("POST", "/api/ask", json.dumps({"q": "green button paper jams", "mode": "keyword",
                                             "k": 2, "stream": True}).encode(),
             {"Content-Type": "application/json"})):
        script(llm, {"expect": {"stream": True}, "reply": {"text": text, "chunks": 9}})
        status, hdrs, raw = srv.request(method, path, body, headers)
        assert status == 200 and hdrs["content-type"].startswith("text/event-stream"), raw[:300]
        ev = events_of(raw)
        names = [e for e, _ in ev]
        assert names == ["delta"] * (len(ev) - 1) + ["answer"] and len(ev) >= 4, names
        assert "".join(d["text"] for e, d in ev if e == "delta") == text
        final = ev[-1][1]
        assert final["answer"] == text and final["citations"] == [1, 2]
        assert {os.path.basename(x["path"]) for x in final["sources"]} == {"guide.pdf", "manual.md"}
        verify(llm)


def test_extractive_answer_without_a_model(corpus):
    s = Server(corpus["db"], "--quiet")
    try:
        status, a = s.get("/api/ask?q=green+button&mode=keyword&k=2")
        assert status == 200 and a["extractive"] is True and a["model"] is None
        assert "No language model is configured" in a["answer"]
        assert any(os.path.basename(x["path"]) == "manual.md" for x in a["sources"])
    finally:
        assert s.stop()[0] == 0


# ------------------------------------------------------------------------------ faults

def test_model_failures_keep_the_sources(srv, llm, corpus):
    script(llm, {"fault": "status", "status": 500})
    status, e = srv.get("/api/ask?q=paper+jams&mode=keyword&k=1")
    assert status == 502 and e["error"]["code"] == "bad_gateway" and "HTTP 500" in e["error"]["message"]
    assert e["answer"]["complete"] is False and e["answer"]["sources"][0]["page"] == 2
    # Cut off mid-stream: the deltas that came, then an error event with the partial answer.
    script(llm, {"fault": "cut", "reply": {"text": "half of an answer to the question", "chunks": 6}})
    status, hdrs, raw = srv.request("GET", "/api/ask?q=paper+jams&mode=keyword&k=1&stream=1")
    assert status == 200
    ev = events_of(raw)
    assert [e for e, _ in ev[:-1]] == ["delta"] * (len(ev) - 1) and ev[-1][0] == "error", ev
    err = ev[-1][1]
    assert err["error"]["code"] == "bad_gateway" and "cut off" in err["error"]["message"]
    assert err["answer"]["answer"] == "".join(d["text"] for _, d in ev[:-1]) != ""
    verify(llm)
    # A model that does not answer in time: 504.
    s = Server(corpus["db"], "--quiet", env=llm_env(llm, IRIS_LLM_TIMEOUT="1"))
    try:
        script(llm, {"fault": "hang", "delay": 5})
        status, e = s.get("/api/ask?q=paper+jams&mode=keyword&k=1")
        assert status == 504 and e["error"]["code"] == "timeout" and e["answer"]["sources"]
    finally:
        assert s.stop()[0] == 0


def test_bad_requests_never_reach_the_model(srv, llm):
    before = verify(llm)
    for path in ("/api/ask", "/api/ask?q=", "/api/ask?q=x&k=0", "/api/ask?q=x&k=101",
                 "/api/ask?q=x&mode=fuzzy", "/api/ask?q=x&type=video", "/api/ask?q=x&images=all",
                 "/api/ask?q=x&max_images=0", "/api/ask?q=x&stream=maybe"):
        status, e = srv.get(path)
        assert status == 400 and e["error"]["code"] == "bad_request", (path, e)
    status, e = srv.get("/api/ask?q=" + "a" * 16385)
    assert status == 413, e
    for body in (b"{", b"[1]", b'{"q": 5}', b'{"q": "x", "k": "many"}'):
        status, e = srv.json("POST", "/api/ask", body, {"Content-Type": "application/json"})
        assert status == 400, (body, e)
    status, e = srv.json("POST", "/api/ask", b"q=x", {"Content-Type": "text/plain"})
    assert status == 415, e
    assert srv.request("PUT", "/api/ask?q=x")[0] == 405
    assert verify(llm) == before


# --------------------------------------------------------------------- cancel and stop

def test_client_hanging_up_cancels_the_answer(srv, llm):
    script(llm, {"fault": "slow", "delay": 0.4, "reply": {"text": "w " * 25, "chunks": 25}})
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    c.sendall(b"GET /api/ask?q=paper+jams&mode=keyword&k=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Accept: text/event-stream\r\n\r\n")
    got = b""
    while b"event: delta" not in got:
        got += c.recv(4096)
    c.close()
    # The model would go on for 10 s; the answer stops at the next delta it cannot send.
    waited = wait_for(lambda: status_of(srv)["server"]["answers_in_progress"] == 0, 8,
                      "the answer went on after the client left")
    assert waited < 8
    assert srv.get("/api/search?q=red&k=1")[0] == 200


def test_sigterm_cancels_answers_and_closes_the_index(corpus, llm):
    s = Server(corpus["db"], "--quiet", env=llm_env(llm))
    script(llm, {"fault": "hang", "delay": 30})
    out = {}

    def ask():
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        c.request("GET", "/api/ask?q=paper+jams&mode=keyword&k=1")
        r = c.getresponse()
        out["status"], out["body"] = r.status, json.loads(r.read())

    t = threading.Thread(target=ask)
    t.start()
    wait_for(lambda: status_of(s)["server"]["answers_in_progress"] == 1, 10, "the answer never began")
    t0 = time.time()
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)  # the second signal ends the wait for requests in flight
    status, err = s.stop()
    t.join(10)
    assert status == 0 and time.time() - t0 < 8, err
    assert "stopping 1 answer in progress" in err and "index closed" in err
    assert out["status"] == 503 and "server is stopping" in out["body"]["error"]["message"]
    assert out["body"]["answer"]["sources"]  # what retrieval found still comes back


def test_answers_at_once_are_capped(corpus, llm):
    s = Server(corpus["db"], "--quiet", env=llm_env(llm))
    script(llm, *[{"fault": "hang", "delay": 30}] * 16)
    conns = []
    try:
        for _ in range(16):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
            c.sendall(b"GET /api/ask?q=paper+jams&mode=keyword&k=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            conns.append(c)
        wait_for(lambda: status_of(s)["server"]["answers_in_progress"] == 16, 20, "16 answers at once")
        status, e = s.get("/api/ask?q=paper+jams&mode=keyword&k=1")
        assert status == 503 and "too many answers" in e["error"]["message"]
        assert s.get("/api/search?q=red&k=1")[0] == 200  # searches go on meanwhile
    finally:
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, err = s.stop()
        for c in conns:
            c.close()
    assert status == 0 and "index closed" in err, err

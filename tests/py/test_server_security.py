"""`iris serve` safety: binding and API keys, Host checks, CORS, path traversal, files that
changed under the index, upload and pixel limits, slow and silent clients, graceful shutdown
with a request in flight, the 503 while the index opens, methods and security headers.

Every test runs a real server on a loopback port. Attacks are sent with raw sockets where a
well-behaved client library would refuse to send them.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_fixture import IRIS, Server, build_index, indexed_corpus, make_corpus, multipart  # noqa: E402

KEY = "k3y-for-tests_0123456789"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return indexed_corpus(tmp_path_factory, "sec")


@pytest.fixture(scope="module")
def srv(corpus):
    s = Server(corpus["db"], "--quiet")
    yield s
    assert s.stop()[0] == 0


def raw(port, data, read=True, timeout=10):
    """Sends bytes on a fresh connection; returns what came back (until close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = c.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


def status_of(response):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", response)
    return int(m.group(1)) if m else None


def first_id(s, name, headers=None):
    status, body = s.get(f"/api/search?q={name.split('.')[0]}&mode=keyword&k=20", headers=headers)
    assert status == 200, body
    return next(h["item_id"] for h in body["results"] if h["name"] == name)


# -------------------------------------------------------------------- keys, hosts

def test_api_key_required_everywhere_but_health(corpus):
    s = Server(corpus["db"], "--quiet", "--api-key", KEY)
    try:
        status, hdrs, body = s.request("GET", "/api/status")
        assert status == 401 and hdrs["www-authenticate"].startswith("Bearer")
        assert b'"unauthorized"' in body
        good = {"Authorization": f"Bearer {KEY}"}
        for bad in (f"Bearer {KEY[:-1]}", f"Bearer {KEY}x", f"Basic {KEY}", KEY, "Bearer ", ""):
            assert s.request("GET", "/api/status", headers={"Authorization": bad})[0] == 401, bad
        assert s.request("GET", "/api/status", headers={"Authorization": f"bearer {KEY}"})[0] == 200
        iid = first_id(s, "red_circle.jpg", good)
        for path in ("/api/search?q=red", f"/api/items/{iid}", f"/api/items/{iid}/file",
                     f"/api/items/{iid}/thumbnail", f"/api/items/{iid}/similar", "/api/map",
                     "/api/ask?q=red"):
            assert s.request("GET", path)[0] == 401, path
            assert s.request("GET", path, headers=good)[0] == 200, path
        resp = raw(s.port, b"POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: image/png\r\nContent-Length: 5000000\r\n\r\n")
        assert status_of(resp) == 401  # refused from the headers: the body is never read
        for public in ("/api/health", "/api/openapi.json", "/", "/app.js"):
            assert s.request("GET", public)[0] == 200, public
    finally:
        assert s.stop()[0] == 0


def test_api_key_from_environment(corpus):
    s = Server(corpus["db"], "--quiet", env={"IRIS_API_KEY": KEY})
    try:
        assert s.request("GET", "/api/status")[0] == 401
        assert s.request("GET", "/api/status", headers={"Authorization": f"Bearer {KEY}"})[0] == 200
    finally:
        s.stop()


def test_non_loopback_needs_a_key(corpus):
    p = subprocess.run([IRIS, "serve", "--db", corpus["db"], "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, text=True, timeout=30, env={**os.environ, "IRIS_API_KEY": ""})
    assert p.returncode == 2 and "refusing to listen on 0.0.0.0 without an API key" in p.stderr
    s = Server(corpus["db"], "--quiet", "--host", "0.0.0.0", "--api-key", KEY)
    try:
        assert s.request("GET", "/api/status")[0] == 401
        # with a key, any Host is fine (the key is the protection)
        assert s.request("GET", "/api/status", headers={"Authorization": f"Bearer {KEY}",
                                                        "Host": "iris.example.org"})[0] == 200
    finally:
        assert s.stop()[0] == 0


def test_host_header_must_be_loopback(srv):
    for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhostx"):
        status, hdrs, body = srv.request("GET", "/api/status", headers={"Host": host})
        assert status == 403 and b"Host header" in body, host
    for host in (f"localhost:{srv.port}", "127.0.0.1", f"[::1]:{srv.port}", "LOCALHOST"):
        assert srv.request("GET", "/api/status", headers={"Host": host})[0] == 200, host


def test_cors_off_by_default_and_exact_when_on(srv, corpus):
    status, hdrs, _ = srv.request("GET", "/api/status", headers={"Origin": "http://app.example"})
    assert status == 200 and "access-control-allow-origin" not in hdrs
    assert hdrs["cross-origin-resource-policy"] == "same-origin"
    assert srv.request("OPTIONS", "/api/search")[0] == 405
    s = Server(corpus["db"], "--quiet", "--cors", "http://app.example")
    try:
        status, hdrs, _ = s.request("GET", "/api/status", headers={"Origin": "http://app.example"})
        assert hdrs["access-control-allow-origin"] == "http://app.example"
        status, hdrs, _ = s.request("GET", "/api/status", headers={"Origin": "http://other.example"})
        assert "access-control-allow-origin" not in hdrs
        status, hdrs, _ = s.request("OPTIONS", "/api/search", headers={
            "Origin": "http://app.example", "Access-Control-Request-Method": "POST"})
        assert status == 204 and hdrs["access-control-allow-methods"] == "GET, POST"
        assert "Authorization" in hdrs["access-control-allow-headers"]
        assert s.request("OPTIONS", "/api/nope")[0] == 404
    finally:
        s.stop()


# ------------------------------------------------------------------------ traversal

def test_no_path_reaches_the_disk(srv, corpus):
    secret = corpus["root"] / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN")
    rel = os.path.relpath(str(secret), "/")
    iid = first_id(srv, "notes.txt")
    attempts = [
        "/../../../../" + rel, "/%2e%2e/%2e%2e/%2e%2e/" + rel, "/..%2f..%2f..%2f" + rel,
        "/web/../Makefile", "/app.js/../../Makefile", "/index.html%00.js", "//etc/passwd",
        "/api/items/../../../" + rel, f"/api/items/{iid}/file/../../../{rel}",
        f"/api/items/{iid}/../../{rel}", "/api/items/%2e%2e/file", "/api/items/1%2f..%2f2/file",
        f"/api/items/{iid}/file?path=/{rel}", f"/api/items/{iid}/file?file=../secret.txt",
        "/api/items/-1/file", "/api/items/0/file", "/api/items/1e3/file",
        "/api/items/99999999999999999999/file", "/api/openapi.json/../../secret.txt",
    ]
    for path in attempts:
        resp = raw(srv.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        assert b"TOP-SECRET" not in resp and b"root:" not in resp, path
        code = status_of(resp)
        if f"/api/items/{iid}/file?" in path:
            assert code == 200 and resp.endswith(b"emergency exits."), path  # the item's own file
        elif "%00" in path:  # the decoded URL ends at the NUL: the UI page, nothing else
            assert code == 200 and b"<title>iris</title>" in resp, path
        else:
            assert code in (400, 404), (path, resp[:200])


def test_changed_files_are_not_served(corpus, tmp_path):
    data = tmp_path / "data"
    files = make_corpus(str(data))
    db = str(tmp_path / "idx" / "index.db")
    build_index(db, files)
    (tmp_path / "outside.txt").write_text("OUTSIDE-THE-INDEX")
    s = Server(db, "--quiet")
    try:
        ids = {n: first_id(s, n) for n in ("notes.txt", "recipe.txt", "red_circle.jpg", "manual.md")}
        os.remove(data / "notes.txt")
        os.symlink(tmp_path / "outside.txt", data / "notes.txt")
        with open(data / "recipe.txt", "a") as f:
            f.write(" And bake.")
        os.remove(data / "red_circle.jpg")
        os.remove(data / "manual.md")
        os.mkdir(data / "manual.md")
        for name, word in [("notes.txt", "symbolic link"), ("recipe.txt", "changed since"),
                           ("red_circle.jpg", "red_circle.jpg"), ("manual.md", "not a regular file")]:
            status, hdrs, body = s.request("GET", f"/api/items/{ids[name]}/file")
            assert status == 404 and word.encode() in body and b"OUTSIDE" not in body, (name, body)
        status, hdrs, body = s.request("GET", f"/api/items/{ids['red_circle.jpg']}/thumbnail")
        assert status == 404  # its pixels are gone (and nothing was cached)
    finally:
        assert s.stop()[0] == 0


# ---------------------------------------------------------------------------- limits

def test_upload_and_pixel_limits(corpus, tmp_path):
    s = Server(corpus["db"], "--quiet", "--max-upload", "1", "--max-pixels", "1")
    try:
        # declared too large: refused from the headers, the body is never read
        resp = raw(s.port, b"POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: image/png\r\nContent-Length: 5000000\r\n\r\n")
        assert status_of(resp) == 413 and b"limit is 1048576" in resp
        # no length given (chunked): drained past the limit, then 413
        body = b"".join(b"%x\r\n%s\r\n" % (65536, b"\x89" * 65536) for _ in range(24)) + b"0\r\n\r\n"
        resp = raw(s.port, b"POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        assert status_of(resp) == 413
        form, ctype = multipart({"image": ("big.bin", b"\xff" * (1044 << 10), "image/jpeg")})
        status, hdrs, out = s.request("POST", "/api/search/image", form, {"Content-Type": ctype})
        assert status == 413, out
        big = tmp_path / "big.png"
        Image.new("RGB", (1300, 1000), (10, 200, 30)).save(big)  # 1.3 MP, a few KB
        status, hdrs, out = s.request("POST", "/api/search/image", big.read_bytes(),
                                      {"Content-Type": "image/png"})
        assert status == 413 and b"over the limit" in out
        small = tmp_path / "small.png"
        Image.new("RGB", (900, 1000), (10, 200, 30)).save(small)
        assert s.request("POST", "/api/search/image", small.read_bytes(),
                         {"Content-Type": "image/png"})[0] == 200
        resp = raw(s.port, b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                   b"a" * 200000 + b"\r\n\r\n")
        assert status_of(resp) in (400, 413, 431, None)
        assert s.request("GET", "/api/health")[0] == 200  # and the server is fine
    finally:
        assert s.stop()[0] == 0


def test_slow_and_silent_clients(corpus):
    s = Server(corpus["db"], "--quiet", "--timeout", "1")
    try:
        silent = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(20)]
        silent[0].sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        t0 = time.time()
        assert s.request("GET", "/api/search?q=red")[0] == 200  # others are served at once
        assert time.time() - t0 < 5
        for c in silent:
            c.settimeout(10)
            assert c.recv(100) == b""  # closed by the server's idle timeout
            c.close()
        assert time.time() - t0 < 8
        # a body trickled byte by byte is cut at 4 x the timeout
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                  b"Content-Length: 1000\r\n\r\n")
        t0 = time.time()
        closed = False
        while time.time() - t0 < 15 and not closed:
            try:
                c.sendall(b"x")
                time.sleep(0.3)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
        c.close()
        assert closed and time.time() - t0 < 8
    finally:
        assert s.stop()[0] == 0


# -------------------------------------------------------------------------- lifecycle

def test_sigterm_lets_the_request_in_flight_finish(corpus):
    s = Server(corpus["db"], "--quiet")
    img = open(next(f for f in corpus["files"] if f.endswith("green_circle.jpg")), "rb").read()
    c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    c.sendall(b"POST /api/search/image?k=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(img) + img[:len(img) // 2])
    t0 = time.time()  # the upload is in flight once the server has its headers
    while s.get("/api/status")[1]["server"]["requests_in_flight"] < 2:
        assert time.time() - t0 < 10, "the server never began the upload"
        time.sleep(0.05)
    s.proc.send_signal(signal.SIGTERM)
    t0 = time.time()
    while time.time() - t0 < 10:  # new connections are refused once it stops accepting
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
            time.sleep(0.05)
        except (ConnectionRefusedError, ConnectionResetError):
            break  # refused, or reset: a connection left in the closed listener's backlog
    else:
        pytest.fail("still accepting connections after SIGTERM")
    assert s.proc.poll() is None  # ... but still running: a request is in flight
    c.sendall(img[len(img) // 2:])
    resp = b""
    while chunk := c.recv(65536):
        resp += chunk
    c.close()
    assert status_of(resp) == 200 and b'"green_circle.jpg"' in resp
    status, err = s.stop()
    # the upload, and maybe the last status request if its completion was not yet counted
    assert status == 0 and re.search(r"stopping; [12] requests? in flight", err), err
    assert "index closed" in err
    p = subprocess.run([IRIS, "stats", "--db", corpus["db"]], capture_output=True, text=True)
    assert p.returncode == 0 and "items     11" in p.stdout


def test_sigint_and_second_signal(corpus):
    s = Server(corpus["db"], "--quiet")
    status, err = s.stop(signal.SIGINT)
    assert status == 0 and "index closed" in err, err
    s = Server(corpus["db"], "--quiet")
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"POST /api/search/image HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
              b"Content-Length: 100\r\n\r\nabc")  # stays in flight
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    t0 = time.time()
    status, err = s.stop(signal.SIGTERM)  # the second signal cuts the drain short
    assert status == 0 and time.time() - t0 < 5
    c.close()


def test_many_kept_alive_connections_then_all_hang_up(corpus):
    # 256 clients with kept-alive connections (128 per worker), two searches each, then all
    # hang up at once: the server must still answer a new client at once.
    s = Server(corpus["db"], "--quiet", "--threads", "2")
    conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=60) for _ in range(256)]
    try:
        for _ in range(2):
            for c in conns:
                c.request("GET", "/api/search?q=red&mode=keyword&k=1")
            for c in conns:
                r = c.getresponse()
                assert r.status == 200 and b'"results"' in r.read()
        for c in conns:
            c.close()
        t0 = time.time()
        assert s.request("GET", "/api/health", timeout=10)[0] == 200
        assert time.time() - t0 < 5
    finally:
        status, err = s.stop()
    assert status == 0, err


def hammer(port, stop):
    """Fresh connections, one request each, until stop is set: the workers stay awake."""
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                c.recv(4096)
        except OSError:
            pass  # refused or reset once it stops accepting


def test_sigterm_under_load_stops_cleanly(corpus):
    # Stopping must never abort, however busy the workers are when the signal comes.
    # Quiescing libmicrohttpd 0.9.75's epoll workers aborted about one stop in 400 (listener.h).
    for _ in range(6):
        s = Server(corpus["db"], "--quiet")
        stop = threading.Event()
        threads = [threading.Thread(target=hammer, args=(s.port, stop)) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.15)
        try:
            status, err = s.stop()
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert status == 0 and "index closed" in err, (status, err)


def test_503_while_the_index_opens(corpus):
    s = Server(corpus["db"], "--quiet", env={"IRIS_TEST_OPEN_DELAY_MS": "1500"}, wait=False)
    try:
        status, hdrs, body = s.request("GET", "/api/search?q=red")
        assert status == 503 and hdrs["retry-after"] == "1" and b"being opened" in body
        assert s.get("/api/health") == (503, {"status": "opening"})
        status, st = s.get("/api/status")
        assert status == 200 and st["state"] == "opening" and st["index"] is None
        assert s.request("GET", "/")[0] == 200
        s.wait_ready()
        assert s.request("GET", "/api/search?q=red")[0] == 200
    finally:
        assert s.stop()[0] == 0


def test_startup_failures(corpus, tmp_path):
    p = subprocess.run([IRIS, "serve", "--db", str(tmp_path / "none" / "index.db"), "--port", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "cannot open the index" in p.stderr and "iris index" in p.stderr
    s = Server(corpus["db"], "--quiet")
    try:
        p = subprocess.run([IRIS, "serve", "--db", corpus["db"], "--port", str(s.port)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "cannot listen" in p.stderr
    finally:
        s.stop()
    for args in (["--port", "70000"], ["--threads", "0"], ["--bogus"], ["extra"],
                 ["--max-upload", "x"], ["--host", "no.such.host.invalid"]):
        p = subprocess.run([IRIS, "serve", "--db", corpus["db"], *args], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 2, args


# ------------------------------------------------------------------ methods, headers

def test_methods_and_unknown_routes(srv):
    for method, path, allow in [("DELETE", "/api/search", "GET, POST"), ("PUT", "/api/map", "GET"),
                                ("POST", "/", "GET, HEAD"), ("PATCH", "/api/items/1", "GET"),
                                ("GET", "/api/classify", "POST")]:
        status, hdrs, body = srv.request(method, path)
        assert status == 405 and hdrs["allow"] == allow and b"method_not_allowed" in body, path
    for path in ("/api", "/api/", "/api/nope", "/api/items", "/api/items/1/bogus", "/nope.js"):
        status, hdrs, body = srv.request("GET", path)
        assert status == 404 and b'"not_found"' in body, path
    status, hdrs, body = srv.request("HEAD", "/api/health")
    assert status == 200 and body == b""


def test_security_headers(srv):
    status, hdrs, _ = srv.request("GET", "/")
    assert status == 200 and hdrs["content-type"].startswith("text/html")
    csp = hdrs["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    for path in ("/", "/api/status", "/api/nope"):
        hdrs = srv.request("GET", path)[1]
        assert hdrs["x-content-type-options"] == "nosniff" and hdrs["x-frame-options"] == "DENY"
        assert hdrs["referrer-policy"] == "no-referrer"
    assert srv.request("GET", "/api/status")[1]["cache-control"] == "no-store"
    status, hdrs, _ = srv.request("GET", "/app.js")
    etag = hdrs["etag"]
    assert srv.request("GET", "/app.js", headers={"If-None-Match": etag})[0] == 304

"""Shared by the `iris serve` tests: a small index built from generated files, a server
started on a free loopback port, and an HTTP client that never goes through a proxy.

The corpus is known by construction: solid shapes in known colours on plain backgrounds
(JPEG and PNG), and a few text files with known words, each small enough to be one item.
The index is built by `iris index`, as a user would.
"""
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("IRIS_BUILD", os.path.join(ROOT, "build"))
IRIS = os.environ.get("IRIS_BIN", os.path.join(BUILD, "iris"))
TINY = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-hf")
SANITIZED = bool(os.environ.get("IRIS_SANITIZED"))

COLOURS = {"red": (215, 35, 35), "green": (35, 165, 55), "blue": (35, 75, 220),
           "yellow": (240, 210, 30)}
TEXTS = {
    "notes.txt": "The red circle is the company logo. Blue squares mark the emergency exits.",
    "manual.md": "# Manual\n\nPress the green button to start the machine. 按绿色按钮启动机器。",
    "recipe.txt": "Whisk three eggs with sugar, then fold in the flour gently.",
}


EMPTY_CONFIG = os.path.join(tempfile.mkdtemp(prefix="iris-serve-"), "config.toml")
open(EMPTY_CONFIG, "w").close()
atexit.register(shutil.rmtree, os.path.dirname(EMPTY_CONFIG), True)


def make_corpus(folder):
    """Writes the generated files; returns their paths, sorted."""
    os.makedirs(folder, exist_ok=True)
    for name, rgb in COLOURS.items():
        im = Image.new("RGB", (320, 240), (242, 240, 235))
        ImageDraw.Draw(im).ellipse((100, 60, 220, 180), fill=rgb)
        im.save(os.path.join(folder, f"{name}_circle.jpg"), quality=92)
        im = Image.new("RGB", (180, 300), (28, 30, 40))
        ImageDraw.Draw(im).rectangle((40, 90, 140, 210), fill=rgb)
        im.save(os.path.join(folder, f"{name}_square.png"))
    for name, text in TEXTS.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text)
    return sorted(os.path.join(folder, n) for n in os.listdir(folder))


def build_index(db, files, model=TINY):
    p = subprocess.run([IRIS, "index", "--db", db, "--model", model, "--quiet", "--jobs", "1",
                        *files], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr


class Server:
    """`iris serve` on a free port; stop() sends SIGTERM and returns (status, stderr)."""

    def __init__(self, db, *args, env=None, wait=True):
        # Hermetic: no API key, language model or configuration file of the person running
        # the tests reaches the server unless a test passes it in env.
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("IRIS_LLM_", "IRIS_VLM_", "IRIS_CONFIG", "IRIS_API_KEY"))}
        e["IRIS_CONFIG"] = EMPTY_CONFIG
        e.update(env or {})
        self.proc = subprocess.Popen([IRIS, "serve", "--db", db, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=e)
        line = self.proc.stdout.readline()
        m = re.search(r"http://(\[[^\]]+\]|[^:/]+):(\d+)/", line)
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise RuntimeError(f"iris serve did not start: {line!r} {err}")
        self.host = "127.0.0.1" if m.group(1) in ("0.0.0.0", "localhost") else m.group(1).strip("[]")
        self.port = int(m.group(2))
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            try:
                if self.request("GET", "/api/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("iris serve never became ready")

    def request(self, method, path, body=None, headers=None, timeout=60):
        """(status, headers dict (lower-case), body bytes)."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        assert hdrs.get("content-type", "").startswith("application/json"), (status, data[:200])
        return status, json.loads(data)

    def get(self, path, **kw):
        return self.json("GET", path, **kw)

    def post_json(self, path, obj, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.json("POST", path, json.dumps(obj).encode(), h)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, err


def multipart(fields, boundary="irisboundary7MA4YWxk"):
    """Encodes {name: bytes | (filename, bytes, type) | str} as multipart/form-data."""
    out = []
    for name, value in fields.items():
        out.append(f"--{boundary}\r\n".encode())
        if isinstance(value, tuple):
            filename, data, ctype = value
            out.append(f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                       f"Content-Type: {ctype}\r\n\r\n".encode())
            out.append(data)
        else:
            out.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.append(value if isinstance(value, bytes) else str(value).encode())
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def indexed_corpus(tmp_path_factory, name):
    """make_corpus's files under a fresh temporary folder, indexed with build_index."""
    root = tmp_path_factory.mktemp(name)
    files = make_corpus(str(root / "data"))
    db = str(root / "idx" / "index.db")
    build_index(db, files)
    return {"root": root, "files": files, "db": db}

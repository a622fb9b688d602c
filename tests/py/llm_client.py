"""Drives tests/py/llm_server.py (the scripted language and vision model) from a Python test:
start it on a free loopback port, queue the next requests' steps, check what it received.

    with llm_client.running() as url:       # or the `llm` pytest fixture below
        llm_client.script(url, {"reply": {"text": "See [1]."}})
        ...
        assert llm_client.verify(url) == 1  # requests received, all as expected
"""
import contextlib
import json
import os
import subprocess
import sys
import urllib.request

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llm_server.py")


@contextlib.contextmanager
def running():
    """The server's base URL while the block runs (it exits when its stdin closes)."""
    p = subprocess.Popen([sys.executable, SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("PORT "), line
        yield "http://127.0.0.1:%d" % int(line.split()[1])
    finally:
        p.stdin.close()
        p.wait(timeout=10)


def call(url, path, body=None):
    req = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def script(url, *steps):
    """Queues one step per coming request (see llm_server.py), replacing earlier ones."""
    call(url, "/_script", {"steps": list(steps)})


def verify(url):
    """Asserts every request so far was as expected; returns how many came."""
    v = call(url, "/_verify")
    assert v["ok"], v
    return v["requests"]

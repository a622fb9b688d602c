#!/usr/bin/env python3
"""A scripted chat server on loopback that speaks the OpenAI-compatible
(/v1/chat/completions, SSE streaming) and Ollama (/api/chat, NDJSON
streaming) protocols, for iris's tests. Python standard library only.

It checks the shape of each request against what the test expects and plays
scripted answers and faults. A test drives it over HTTP:

  POST /_script   {"steps": [STEP, ...]}   queue the next requests' steps
                                            (clears earlier steps and errors)
  GET  /_verify   {"ok": bool, "errors": [...], "requests": N, "remaining": N}

Each chat request consumes one STEP (faulty ones too, so "429 then success"
is two steps):

  {"expect": {                      every key optional
      "protocol": "openai"|"ollama", "model": "m", "stream": true,
      "auth": "Bearer k" | null,    (null: no Authorization header allowed)
      "images": ["tests/fixtures/rag/red.jpg", ...],  all images of the
                                    request in order, compared byte for byte
      "image_mimes": ["image/jpeg", ...],  only their types (for images the
                                    client re-encoded)
      "roles": ["system", "user"], "text_contains": [...],
      "text_excludes": [...], "max_tokens": 100, "num_ctx": 8192,
      "temperature": 0.0},
   "reply": {"text": "answer", "chunks": 3, "prompt_tokens": 11,
             "completion_tokens": 3},
   "fault": one of
      none          (default) the scripted answer
      status        HTTP "status" (default 500) with "body" or the
                    protocol's error JSON for "message"; "retry_after" sets
                    the header; "{auth}" in message echoes the auth header
      malformed     broken JSON (whole reply, or one bad event mid-stream)
      cut           stream half the chunks, then close (no [DONE] / done)
      cut_chunked   the same with chunked encoding: the close is an error
      slow          "delay" seconds between chunks, then complete
      stall         first chunk, then silence for "delay" seconds
      hang          no reply at all for "delay" seconds
      html          200 text/html
      giant         a stream of "size" bytes of answer
      reset         read the request, then reset the connection
      json_for_stream  a whole JSON reply although a stream was asked
      error_event   a stream with an error event after the first chunk
  }

Usage: llm_server.py [--port N]   prints "PORT <n>" once listening, and
exits when its standard input closes (so a test that dies takes it along).
"""
import argparse
import base64
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"steps": [], "errors": [], "requests": 0}
LOCK = threading.Lock()


def error(msg):
    with LOCK:
        STATE["errors"].append(msg)


def sniff_mime(data):
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"GIF8":
        return "image/gif"
    return "application/octet-stream"


def collect_openai(body, where):
    """Returns (texts, [(mime, bytes)], roles) of an OpenAI request."""
    texts, images, roles = [], [], []
    for i, m in enumerate(body.get("messages", [])):
        roles.append(m.get("role"))
        c = m.get("content")
        if isinstance(c, str):
            texts.append(c)
            continue
        if not isinstance(c, list):
            error(f"{where}: message {i} content is neither a string nor a list")
            continue
        for part in c:
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                url = (part.get("image_url") or {}).get("url", "")
                head, _, data = url.partition(",")
                if not (head.startswith("data:") and head.endswith(";base64")):
                    error(f"{where}: image part is not a base64 data URL: {url[:60]}")
                    continue
                images.append((head[5:-7], base64.b64decode(data, validate=True)))
            else:
                error(f"{where}: unknown content part {str(part)[:80]}")
    return texts, images, roles


def collect_ollama(body, where):
    texts, images, roles = [], [], []
    for i, m in enumerate(body.get("messages", [])):
        roles.append(m.get("role"))
        if not isinstance(m.get("content"), str):
            error(f"{where}: message {i} content is not a string")
        texts.append(m.get("content") or "")
        for b64 in m.get("images", []):
            data = base64.b64decode(b64, validate=True)
            images.append((sniff_mime(data), data))
    return texts, images, roles


def check_request(protocol, body, headers, exp, where):
    if not isinstance(body.get("model"), str) or not body["model"]:
        error(f"{where}: no model name")
    if "stream" not in body or not isinstance(body["stream"], bool):
        error(f"{where}: no boolean 'stream' flag")
    if (headers.get("Content-Type") or "").split(";")[0] != "application/json":
        error(f"{where}: Content-Type is {headers.get('Content-Type')!r}")
    collect = collect_openai if protocol == "openai" else collect_ollama
    try:
        texts, images, roles = collect(body, where)
    except (ValueError, TypeError, AttributeError) as e:
        error(f"{where}: bad message structure or base64: {e}")
        return
    text = "\n".join(texts)
    checks = {
        "protocol": protocol, "model": body.get("model"), "stream": body.get("stream"),
        "roles": roles,
        "max_tokens": body.get("max_tokens") if protocol == "openai"
        else (body.get("options") or {}).get("num_predict"),
        "num_ctx": (body.get("options") or {}).get("num_ctx"),
        "temperature": body.get("temperature") if protocol == "openai"
        else (body.get("options") or {}).get("temperature"),
    }
    for key, got in checks.items():
        if key in exp and exp[key] != got:
            error(f"{where}: {key} is {got!r}, expected {exp[key]!r}")
    if "auth" in exp and headers.get("Authorization") != exp["auth"]:
        shown = "absent" if headers.get("Authorization") is None else "different"
        error(f"{where}: Authorization header {shown} from what was expected")
    for s in exp.get("text_contains", []):
        if s not in text:
            error(f"{where}: request text lacks {s!r}")
    for s in exp.get("text_excludes", []):
        if s in text:
            error(f"{where}: request text contains {s!r}")
    if "images" in exp:
        check_images(images, exp["images"], where)
    if "image_mimes" in exp and [m for m, _ in images] != exp["image_mimes"]:
        error(f"{where}: image types {[m for m, _ in images]}, expected {exp['image_mimes']}")


def check_images(images, paths, where):
    if len(images) != len(paths):
        error(f"{where}: {len(images)} images sent, expected {len(paths)}")
        return
    for k, ((mime, data), path) in enumerate(zip(images, paths)):
        with open(path, "rb") as f:
            want = f.read()
        if data != want:
            error(f"{where}: image {k} differs from {path} ({len(data)} vs {len(want)} bytes)")
        if mime != sniff_mime(want):
            error(f"{where}: image {k} sent as {mime}, file is {sniff_mime(want)}")


def chunks_of(text, n):
    n = max(1, min(n, len(text) or 1))
    size = -(-len(text) // n) if text else 0
    return [text[i:i + size] for i in range(0, len(text), size)] if text else [""]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # ------------------------------------------------------------ control
    def do_GET(self):
        if self.path == "/_verify":
            with LOCK:
                out = {"ok": not STATE["errors"] and not STATE["steps"],
                       "errors": list(STATE["errors"]), "requests": STATE["requests"],
                       "remaining": len(STATE["steps"])}
            if STATE["steps"]:
                out["errors"].append(f"{len(STATE['steps'])} scripted steps were not used")
            self.send_json(200, out)
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/_script":
            script = json.loads(raw)
            with LOCK:
                STATE.update(steps=list(script.get("steps", [])), errors=[], requests=0)
            self.send_json(200, {"ok": True})
            return
        protocol = {"/v1/chat/completions": "openai", "/api/chat": "ollama"}.get(self.path)
        with LOCK:
            STATE["requests"] += 1
            n = STATE["requests"]
            step = STATE["steps"].pop(0) if STATE["steps"] else None
        where = f"request {n} ({self.path})"
        if protocol is None or step is None:
            error(f"{where}: {'unknown path' if protocol is None else 'no scripted step'}")
            self.send_json(404 if protocol is None else 500, {"error": "unscripted"})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            error(f"{where}: body is not JSON")
            self.send_json(400, {"error": "bad json"})
            return
        check_request(protocol, body, self.headers, step.get("expect", {}), where)
        Player(self, protocol, body, step).play()

    # ------------------------------------------------------------ output
    def send_json(self, status, obj, extra=None):
        self.send_raw(status, "application/json", json.dumps(obj).encode(), extra)

    def send_raw(self, status, content_type, data, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class Player:
    """Plays one step's answer or fault on one request."""

    def __init__(self, handler, protocol, body, step):
        self.h, self.protocol, self.body, self.step = handler, protocol, body, step
        self.stream = bool(body.get("stream"))
        reply = step.get("reply", {})
        self.text = reply.get("text", "")
        self.nchunks = reply.get("chunks", 3)
        self.usage = (reply.get("prompt_tokens", 11), reply.get("completion_tokens", 3))
        self.chunked = False

    def play(self):
        fault = self.step.get("fault", "none")
        getattr(self, "fault_" + fault)()

    # ---- whole replies
    def whole(self, text):
        if self.protocol == "openai":
            return {"id": "chatcmpl-test", "object": "chat.completion",
                    "model": self.body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": self.usage[0],
                              "completion_tokens": self.usage[1]}}
        return {"model": self.body.get("model"), "created_at": "2024-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": text}, "done": True,
                "done_reason": "stop", "prompt_eval_count": self.usage[0],
                "eval_count": self.usage[1]}

    # ---- stream pieces
    def event(self, text=None, final=False):
        if self.protocol == "openai":
            delta = {"content": text} if text is not None else {}
            obj = {"id": "chatcmpl-test", "object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": delta,
                                "finish_reason": "stop" if final else None}]}
            return b"data: " + json.dumps(obj).encode() + b"\n\n"
        obj = {"model": self.body.get("model"),
               "message": {"role": "assistant", "content": text or ""}, "done": final}
        if final:
            obj.update(done_reason="stop", prompt_eval_count=self.usage[0],
                       eval_count=self.usage[1])
        return json.dumps(obj).encode() + b"\n"

    def end_event(self):
        return self.event(final=True) + (b"data: [DONE]\n\n" if self.protocol == "openai" else b"")

    def start_stream(self, chunked=False):
        self.chunked = chunked
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream" if self.protocol == "openai"
                      else "application/x-ndjson")
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        h.wfile.flush()

    def write(self, data):
        if self.chunked:
            data = b"%x\r\n" % len(data) + data + b"\r\n"
        self.h.wfile.write(data)
        self.h.wfile.flush()

    def end_stream(self):
        if self.chunked:
            self.h.wfile.write(b"0\r\n\r\n")
            self.h.wfile.flush()

    def stream_text(self, pieces, delay=0.0):
        if self.protocol == "openai":  # role-only first chunk, as OpenAI sends
            self.write(b'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n')
        for piece in pieces:
            self.write(self.event(piece))
            if delay:
                time.sleep(delay)

    # ---- faults
    def fault_none(self, delay=0.0):
        if not self.stream:
            self.h.send_json(200, self.whole(self.text))
            return
        self.start_stream(chunked=self.step.get("chunked", False))
        self.stream_text(chunks_of(self.text, self.nchunks), delay)
        self.write(self.end_event())
        self.end_stream()

    def fault_slow(self):
        self.fault_none(delay=self.step.get("delay", 0.2))

    def fault_status(self):
        status = self.step.get("status", 500)
        msg = self.step.get("message", "scripted failure").replace(
            "{auth}", self.h.headers.get("Authorization") or "")
        extra = {"Retry-After": str(self.step["retry_after"])} if "retry_after" in self.step else {}
        if "body" in self.step:
            self.h.send_raw(status, self.step.get("content_type", "text/plain"),
                            self.step["body"].encode(), extra)
            return
        err = ({"error": {"message": msg, "type": "test_error"}} if self.protocol == "openai"
               else {"error": msg})
        self.h.send_json(status, err, extra)

    def fault_malformed(self):
        if not self.stream:
            self.h.send_raw(200, "application/json", b'{"choices": [{"message": {"content": "tr')
            return
        self.start_stream()
        self.stream_text(chunks_of(self.text, self.nchunks)[:1])
        self.write(b"data: {not json}\n\n" if self.protocol == "openai" else b"{not json}\n")
        self.write(self.end_event())

    def fault_cut(self, chunked=False):
        self.start_stream(chunked=chunked)
        pieces = chunks_of(self.text, self.nchunks)
        self.stream_text(pieces[:max(1, len(pieces) // 2)])
        close(self.h)

    def fault_cut_chunked(self):
        self.fault_cut(chunked=True)

    def fault_stall(self):
        self.start_stream()
        self.stream_text(chunks_of(self.text, self.nchunks)[:1])
        time.sleep(self.step.get("delay", 5))
        close(self.h)

    def fault_hang(self):
        time.sleep(self.step.get("delay", 5))
        close(self.h)

    def fault_html(self):
        self.h.send_raw(200, "text/html; charset=utf-8",
                        b"<html><body>Welcome to the web UI</body></html>")

    def fault_giant(self):
        size, piece = self.step.get("size", 2 << 20), "x" * 4096
        self.start_stream()
        try:
            for _ in range(size // len(piece)):
                self.write(self.event(piece))
            self.write(self.end_event())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def fault_reset(self):
        close(self.h, reset=True)

    def fault_json_for_stream(self):
        self.h.send_json(200, self.whole(self.text))

    def fault_error_event(self):
        self.start_stream()
        self.stream_text(chunks_of(self.text, self.nchunks)[:1])
        msg = self.step.get("message", "model crashed")
        if self.protocol == "openai":
            self.write(b"data: " + json.dumps({"error": {"message": msg}}).encode() + b"\n\n")
        else:
            self.write(json.dumps({"error": msg}).encode() + b"\n")


def close(handler, reset=False):
    """Closes the connection mid-reply: a clean FIN (what was sent arrives
    first), or with reset=True an RST, as a crashed peer would."""
    handler.close_connection = True
    try:
        handler.wfile.flush()
        if reset:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          struct.pack("ii", 1, 0))
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    handler.connection.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up mid-answer are part of the tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(f"PORT {srv.server_address[1]}", flush=True)
    sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
    srv.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()

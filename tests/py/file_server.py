#!/usr/bin/env python3
"""A loopback file server for download tests (python's http.server, plus
byte ranges and scripted faults).

    file_server.py ROOT          prints "PORT <n>", serves ROOT until stdin closes

GET /path serves ROOT/path. It answers "Range: bytes=N-" with 206 unless the
query says otherwise. Query flags (combinable):
    ?cut=N        send the full Content-Length but close after N body bytes
    ?norange=1    ignore Range (answer 200 with the whole file)
    ?redirect=1   answer 302 to the same path without the flag
Also usable from Python tests: serve(root) returns (server, port).
"""
import http.server
import os
import sys
import threading
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    root = "."

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if q.get("redirect"):
            rest = {k: v for k, v in q.items() if k != "redirect"}
            self.send_response(302)
            self.send_header("Location", url.path + ("?" + urllib.parse.urlencode(rest) if rest else ""))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.join(self.root, urllib.parse.unquote(url.path).lstrip("/"))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and not q.get("norange"):
            start = int(rng[6:].split("-")[0])
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = int(q.get("cut", len(body)))
        self.wfile.write(body[:cut])
        if cut < len(body):
            self.wfile.flush()
            self.close_connection = True


def serve(root):
    Handler.root = root
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def main():
    srv, port = serve(sys.argv[1])
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    srv.shutdown()


if __name__ == "__main__":
    main()

"""docs/openapi.json is kept in sync with the server.

* The routes the server has (`iris serve --routes`, printed from the same table dispatch
  uses) and the operations in the document are the same set, and the server answers every
  documented operation (neither "no such resource" nor "method not allowed").
* The document served at /api/openapi.json is docs/openapi.json byte for byte.
* Every $ref resolves, every operation documents its responses, and error responses use
  the Error schema.
* Live responses (status, search of each kind, item, map, classify, errors) validate
  against their schemas with a small validator for the subset the document uses (type,
  required, properties, items, nullable, enum, allOf, oneOf, $ref).
"""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_fixture import IRIS, ROOT, Server, indexed_corpus, multipart  # noqa: E402

SPEC_PATH = os.path.join(ROOT, "docs", "openapi.json")
METHODS = {"get", "post", "put", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def spec():
    with open(SPEC_PATH) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return indexed_corpus(tmp_path_factory, "oas")


@pytest.fixture(scope="module")
def srv(corpus):
    s = Server(corpus["db"], "--quiet")
    s.get("/api/map")
    yield s
    assert s.stop()[0] == 0


def operations(spec):
    return {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS}


def test_routes_and_document_agree(spec):
    p = subprocess.run([IRIS, "serve", "--routes"], capture_output=True, text=True, check=True)
    routes = {tuple(line.split(" ", 1)) for line in p.stdout.splitlines()}
    assert routes == operations(spec), routes ^ operations(spec)


def test_server_answers_every_documented_operation(srv, spec):
    for method, path in sorted(operations(spec)):
        status, hdrs, body = srv.request(method, path.replace("{id}", "1"))
        answered = status != 405 and not (status == 404 and b"no such resource" in body)
        assert answered, (method, path, status, body[:200])


def test_served_document_is_the_file(srv):
    status, hdrs, body = srv.request("GET", "/api/openapi.json")
    assert status == 200 and hdrs["content-type"] == "application/json"
    assert body == open(SPEC_PATH, "rb").read()


def resolve(spec, ref):
    node = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def walk_refs(spec, node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from walk_refs(spec, v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_refs(spec, v)


def test_document_is_well_formed(spec):
    assert spec["openapi"].startswith("3.")
    for ref in walk_refs(spec, spec):
        resolve(spec, ref)  # KeyError if dangling
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert op.get("summary") and op.get("responses"), (method, path)
            if "{id}" in path:
                names = [resolve(spec, p["$ref"])["name"] if "$ref" in p else p["name"]
                         for p in op.get("parameters", [])]
                assert "id" in names, (method, path)
    for name, resp in spec["components"]["responses"].items():
        schema = resp["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, name


# --------------------------------------------------------------- schema validation

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def validate(spec, schema, value, where="$"):
    if "$ref" in schema:
        return validate(spec, resolve(spec, schema["$ref"]), value, where)
    if value is None:
        assert schema.get("nullable"), f"{where}: null where not nullable"
        return
    for sub in schema.get("allOf", []):
        validate(spec, sub, value, where)
    if "oneOf" in schema:
        ok = 0
        for sub in schema["oneOf"]:
            try:
                validate(spec, sub, value, where)
                ok += 1
            except AssertionError:
                pass
        assert ok == 1, f"{where}: matches {ok} of oneOf"
    t = schema.get("type")
    if t == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: not an integer"
    elif t == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: not a number"
    elif t:
        assert isinstance(value, TYPES[t]), f"{where}: {type(value).__name__}, not {t}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                validate(spec, sub, value[key], f"{where}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, v in value.items():
                validate(spec, extra, v, f"{where}.{key}")
    if isinstance(value, list):
        if "minItems" in schema:
            assert len(value) >= schema["minItems"], where
        if "maxItems" in schema:
            assert len(value) <= schema["maxItems"], where
        for i, v in enumerate(value):
            if "items" in schema:
                validate(spec, schema["items"], v, f"{where}[{i}]")


def response_schema(spec, method, path, status):
    op = spec["paths"][path][method.lower()]
    resp = op["responses"][str(status)]
    if "$ref" in resp:
        resp = resolve(spec, resp["$ref"])
    return resp["content"]["application/json"]["schema"]


def test_live_responses_match_their_schemas(srv, spec, corpus):
    jpg = open(next(f for f in corpus["files"] if f.endswith("red_circle.jpg")), "rb").read()
    status, found = srv.get("/api/search?q=red&k=5")
    iid = found["results"][0]["item_id"]
    form, ctype = multipart({"image": ("q.jpg", jpg, "image/jpeg")})
    calls = [
        ("GET", "/api/health", "/api/health", None, None),
        ("GET", "/api/status", "/api/status", None, None),
        ("GET", "/api/search?q=red%20circle&k=5", "/api/search", None, None),
        ("GET", "/api/search?q=red&mode=keyword", "/api/search", None, None),
        ("POST", "/api/search", "/api/search", b'{"q":"blue","type":["image"]}', "application/json"),
        ("POST", "/api/search/image?k=3", "/api/search/image", jpg, "image/jpeg"),
        ("POST", "/api/search/image", "/api/search/image", form, ctype),
        ("GET", f"/api/items/{iid}", "/api/items/{id}", None, None),
        ("GET", f"/api/items/{iid}/similar", "/api/items/{id}/similar", None, None),
        ("GET", "/api/map", "/api/map", None, None),
        ("GET", "/api/map?max_points=2", "/api/map", None, None),
        ("POST", "/api/classify", "/api/classify", json.dumps({"labels": ["a", "b"], "items": [iid]}).encode(),
         "application/json"),
        ("GET", "/api/ask?q=red%20circle&k=2", "/api/ask", None, None),  # extractive: no model
        ("POST", "/api/ask", "/api/ask", b'{"q":"green button","type":["text"]}', "application/json"),
        ("GET", "/api/ask?q=x&images=all", "/api/ask", None, None),   # 400
        ("GET", "/api/search", "/api/search", None, None),            # 400
        ("GET", "/api/items/999999", "/api/items/{id}", None, None),  # 404
        ("POST", "/api/search/image", "/api/search/image", b"junk", "image/png"),  # 422
        ("POST", "/api/search", "/api/search", b"{}", "text/plain"),  # 415
    ]
    for method, url, path, body, ctype in calls:
        headers = {"Content-Type": ctype} if ctype else {}
        status, value = srv.json(method, url, body, headers)
        validate(spec, response_schema(spec, method, path, status), value, f"{method} {url} {status}")


"""The web UI in a real browser: Debian's Chromium, headless, driven by the playwright
Python package with executable_path (no browser is downloaded).

Search by text (Enter), ranking modes, search by a dropped image, opening a result, find
similar, the map with the query point drawn where the server projected it, hover previews,
keyboard use, the phone layout, and that the page logs no error (CSP violations included).
Screenshots go to tests/out/ (git-ignored) for a human to look at.

Skips cleanly when playwright or /usr/bin/chromium is absent.
"""
import base64
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llm_client  # noqa: E402
from serve_fixture import ROOT, Server, indexed_corpus  # noqa: E402

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is absent (apt install chromium)", allow_module_level=True)

OUT = os.path.join(ROOT, "tests", "out")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
CARDS = ".card:not(.skeleton)"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return indexed_corpus(tmp_path_factory, "ui")


@pytest.fixture(scope="module")
def srv(corpus):
    s = Server(corpus["db"], "--quiet")
    yield s
    assert s.stop()[0] == 0


@pytest.fixture(scope="module")
def browser():
    os.makedirs(OUT, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_page(browser, srv, path="/", **viewport):
    ctx = browser.new_context(viewport=viewport or {"width": 1366, "height": 860})
    page = ctx.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"http://127.0.0.1:{srv.port}{path}")
    return page


@pytest.fixture
def page(browser, srv):
    page = open_page(browser, srv)
    yield page
    errors = page.errors
    page.context.close()
    assert errors == [], errors


def wait_js(page, expr, timeout=15):
    """Polls a JS expression with page.evaluate (wait_for_function evaluates strings with
    eval, which the page's CSP rightly forbids)."""
    import time
    t0 = time.time()
    while time.time() - t0 < timeout:
        if page.evaluate(expr):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {expr}")


def summary_has(page, text):
    wait_js(page, f"document.querySelector('#summary').textContent.includes({text!r})")


def search(page, text):
    page.fill("#q", text)
    page.press("#q", "Enter")
    summary_has(page, "result")
    page.wait_for_selector(CARDS)


def shot(page, name):
    page.wait_for_timeout(300)  # let thumbnails and the map settle
    page.screenshot(path=os.path.join(OUT, name))


def test_every_web_file_is_served(srv):
    web = os.path.join(ROOT, "web")
    for name in os.listdir(web):
        status, hdrs, body = srv.request("GET", f"/{name}")
        assert status == 200 and body == open(os.path.join(web, name), "rb").read(), name
    assert srv.request("GET", "/")[2] == open(os.path.join(web, "index.html"), "rb").read()


def test_search_by_text(page):
    page.wait_for_selector("#empty:not([hidden])")
    shot(page, "ui-start.png")
    search(page, "red circle")
    cards = page.locator(CARDS)
    assert cards.count() == 11  # the whole corpus, best first
    assert "“red circle”" in page.inner_text("#summary")
    assert "q=red+circle" in page.url
    first = cards.first.inner_text()
    assert "#1" in first and "RRF" in first
    assert page.is_hidden("#ask")  # no language model configured: no answer panel
    # keyword hits show the matched words highlighted
    assert page.locator(".card mark").count() >= 2
    shot(page, "ui-search-text.png")


def test_ranking_modes(page):
    search(page, "green")
    page.click("[data-mode=keyword]")
    summary_has(page, "keyword lane")
    fused = page.locator(f"{CARDS} .fused").all_inner_texts()
    assert fused and all(t.startswith("BM25") for t in fused)
    assert "mode=keyword" in page.url
    page.click("[data-mode=vector]")
    summary_has(page, "vector lane")
    assert all(t.startswith("cos") for t in page.locator(f"{CARDS} .fused").all_inner_texts())
    page.click("[data-type=image]")
    summary_has(page, "vector")
    page.wait_for_selector(CARDS)
    assert page.locator(CARDS).count() == 8
    shot(page, "ui-modes.png")


def drop(page, path):
    b64 = base64.b64encode(open(path, "rb").read()).decode()
    page.evaluate("""([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, { type: 'image/jpeg' }));
        for (const t of ['dragenter', 'dragover', 'drop'])
            window.dispatchEvent(new DragEvent(t, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""", [b64, os.path.basename(path)])


def test_search_by_dropped_image(page, corpus):
    page.wait_for_selector("#empty:not([hidden])")
    drop(page, next(f for f in corpus["files"] if f.endswith("blue_circle.jpg")))
    summary_has(page, "your image")
    page.wait_for_selector(CARDS)
    assert page.is_visible("#query-chip")
    assert page.locator(f"{CARDS} .name").first.inner_text() == "blue_circle.jpg"
    assert page.is_disabled("[data-mode=keyword]")  # image queries rank by vectors only
    shot(page, "ui-search-image.png")
    page.keyboard.press("Escape")  # clears the image query
    page.wait_for_selector("#query-chip", state="hidden")


def test_open_result_and_find_similar(page):
    search(page, "yellow")
    card = page.locator(CARDS).first
    name = card.locator(".name").inner_text()
    item = card.get_attribute("data-id")
    card.click()
    page.wait_for_selector("#detail[open] #detail-title")
    assert page.inner_text("#detail-title") == name
    assert page.locator("#detail .kv").inner_text().count("Vector lane") == 1
    shot(page, "ui-detail.png")
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail", state="hidden")
    card.click()
    page.click("#detail >> text=Find similar")
    summary_has(page, "items like")
    page.wait_for_selector(CARDS)
    ids = [c.get_attribute("data-id") for c in page.locator(CARDS).all()]
    assert item not in ids and len(ids) == 10
    assert f"similar={item}" in page.url
    shot(page, "ui-similar.png")


def test_map_shows_the_query_and_previews(page):
    search(page, "blue square")
    wait_js(page, "window.iris.map.data && window.iris.map.query")
    info = page.evaluate("""() => {
        const m = window.iris.map, [x, y] = m.toScreen(m.query[0], m.query[1]);
        const r = m.canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
        const px = m.ctx.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
        return {x, y, w: r.width, h: r.height, px: Array.from(px), hits: m.hits.length,
                points: m.data.ids.length};
    }""")
    assert info["points"] == 11 and info["hits"] == 11
    assert 0 <= info["x"] <= info["w"] and 0 <= info["y"] <= info["h"]
    assert info["px"][3] == 255 and max(info["px"][:3]) < 60  # the query's dark centre dot
    assert "query" in page.inner_text("#legend") and "PCA of 11" in page.inner_text("#map-note")
    # hover the best hit's point: a preview with its name
    pos = page.evaluate("""() => { const m = window.iris.map, h = m.hits[0];
        const [x, y] = m.toScreen(h.x, h.y), r = m.canvas.getBoundingClientRect();
        return [r.left + x, r.top + y]; }""")
    page.mouse.move(pos[0] + 40, pos[1] + 40)
    page.mouse.move(*pos)
    page.wait_for_selector("#tip:not([hidden]) .t-name")
    wait_js(page, "document.querySelector('#tip').textContent.includes('.')")
    shot(page, "ui-map.png")
    page.mouse.wheel(0, -300)  # zoom in around the pointer
    assert page.evaluate("window.iris.map.view.scale") > 0


def test_keyboard(page):
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("circle")
    page.keyboard.press("Enter")
    page.wait_for_selector(CARDS)
    page.focus(f"{CARDS} >> nth=0")
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail", state="hidden")


def test_phone_layout(browser, srv):
    page = open_page(browser, srv, "/?q=circle", width=390, height=844)
    page.wait_for_selector(CARDS)
    assert page.is_visible("#tabs") and not page.is_visible("#mapbox")
    shot(page, "ui-phone-results.png")
    page.click("#tabs [data-view=map]")
    page.wait_for_selector("#mapbox")
    assert not page.is_visible("#results")
    shot(page, "ui-phone-map.png")
    errors = page.errors
    page.context.close()
    assert errors == []


def test_errors_are_shown(page, srv):
    page.goto(f"http://127.0.0.1:{srv.port}/?q=x&type=image")
    page.wait_for_selector(CARDS)
    page.fill("#q", "a" * 2000)
    page.evaluate("document.querySelector('#q').value += 'b'.repeat(20000)")  # past maxlength
    page.press("#q", "Enter")
    page.wait_for_selector("#banner:not([hidden])")
    assert "limit" in page.inner_text("#banner")
    page.errors.clear()  # the browser logs the 413 itself


def test_answer_with_citations(browser, corpus):
    with llm_client.running() as url:
        s = Server(corpus["db"], "--quiet", env={"IRIS_LLM_URL": url, "IRIS_LLM_MODEL": "llm-ui",
                                                 "IRIS_LLM_RETRIES": "0"})
        try:
            llm_client.script(url, {"expect": {"model": "llm-ui", "stream": True,
                                               "text_contains": ["company logo"]},
                                    "reply": {"text": "The company logo is the red circle [1]. [9]",
                                              "chunks": 6}})
            page = open_page(browser, s)
            page.wait_for_selector("#ask:not([hidden])")
            page.fill("#q", "company logo")
            page.click("#ask")
            page.wait_for_selector("#answer-text .cite")
            assert llm_client.verify(url) == 1
            # [1] became a button for the source; [9] names no source and stays text
            assert page.inner_text("#answer-text") == "The company logo is the red circle 1. [9]"
            assert page.inner_text("#answer-model") == "llm-ui"
            assert "[9]" in page.inner_text("#answer-note")
            assert page.inner_text("#answer-sources li >> nth=0").startswith("[1]")
            page.wait_for_selector(CARDS)  # the same question's results below the answer
            shot(page, "ui-answer.png")
            page.click("#answer-text .cite")
            page.wait_for_selector("#detail[open] #detail-title")
            assert page.inner_text("#detail-title") == "notes.txt"
            page.keyboard.press("Escape")
            page.wait_for_selector("#detail", state="hidden")
            # The model breaks off: what arrived stays, with the reason (Ctrl+Enter asks).
            llm_client.script(url, {"fault": "cut", "reply": {"text": "Half of an answer", "chunks": 4}})
            page.fill("#q", "company logo colour")
            page.press("#q", "Control+Enter")
            page.wait_for_selector("#answer-note.error")
            assert "cut off" in page.inner_text("#answer-note")
            assert page.inner_text("#answer-text").startswith("Half")
            assert page.locator("#answer-sources li").count() > 0
            # A plain search closes the answer.
            page.press("#q", "Enter")
            page.wait_for_selector("#answer", state="hidden")
            errors = page.errors
            page.context.close()
            assert errors == [], errors
        finally:
            assert s.stop()[0] == 0

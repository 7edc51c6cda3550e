"""Browser test of the built web book (`make browser`; needs `make book` first).

Serves _build/html on an ephemeral localhost port and opens every page in headless Chromium
(Debian's /usr/bin/chromium, driven by playwright's Python package). For each page it checks:

* no console errors and no uncaught page errors;
* no request leaves localhost (every other request is blocked and fails the test), and no
  local asset is missing (HTTP status >= 400);
* every image has loaded (naturalWidth > 0) and has alt text;
* MathJax (vendored in _static/mathjax, never a CDN) has typeset every formula, without errors;
* on chapter pages made from notebooks, the Colab launch button points at this chapter's
  .ipynb in the repository named in _config.yml.

It saves a screenshot of each page under _build/screenshots/ (PAGE.png, the top of the page,
and PAGE__figure.png, the first figure, where a page has one).

The studio's web demo (_static/studio/) is driven as a reader would use it: the model runs in
the page and a slider changes the image; its G, exact ground truth, slider table and mean
ΔE2000 agree with the package's own (`Studio.render_mix`); a photo of one's own is styled at
full size and downloaded as a PNG of that size; a missing file is named in a visible message;
opened as a file:// page it says how to serve the book.

Without a built book the tests are skipped, unless REQUIRE_BOOK=1 (set by `make browser`),
which turns a missing build into a failure.
"""
from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
REQUIRE = os.environ.get("REQUIRE_BOOK", "") not in ("", "0")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", "_panels_static"}


def book_pages() -> list[str]:
    """Every HTML page of the book, relative to _build/html (assets excluded)."""
    if not (HTML / "index.html").is_file():
        return []
    return sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not (set(p.relative_to(HTML).parts[:-1]) & SKIP_DIRS)
    )


PAGES = book_pages()


def test_book_is_built():
    if not PAGES:
        if REQUIRE:
            pytest.fail(f"no built book in {HTML}: run `make book` first")
        pytest.skip("book not built (run `make book`); set REQUIRE_BOOK=1 to make this a failure")
    assert "index.html" in PAGES
    assert any(p.startswith("chapters/") for p in PAGES), PAGES


def expected_colab_url(page: str) -> str | None:
    """The Colab link a page must carry, or None when the page is not made from a notebook."""
    rel = Path(page).with_suffix(".ipynb")
    if not (ROOT / rel).is_file():
        return None
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = cfg["repository"]
    owner_repo = urlparse(repo["url"]).path.strip("/").removesuffix(".git")
    book = repo.get("path_to_book", "").strip("/")
    path = f"{book}/{rel.as_posix()}" if book else rel.as_posix()
    colab = cfg["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{owner_repo}/blob/{repo['branch']}/{path}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).is_file():
        msg = f"{CHROMIUM} missing: `apt-get install -y chromium` (done by `make browser`)"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


# Runs in the page: waits for MathJax's first typeset and reports what it rendered.
MATHJAX_PROBE = """async () => {
  const sources = document.querySelectorAll('div.math, span.math').length;
  if (!window.MathJax) return {sources, loaded: false};
  if (MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  return {
    sources,
    loaded: true,
    rendered: document.querySelectorAll('mjx-container').length,
    errors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent),
    unrendered: Array.from(document.querySelectorAll('div.math, span.math'))
      .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
    fontsOk: Array.from(document.fonts).filter(f => f.family.startsWith('MJX'))
      .every(f => f.status !== 'error'),
  };
}"""

FIGURE_INTO_VIEW = """() => {
  const fig = document.querySelector('#main-content figure');
  if (!fig) return false;
  fig.scrollIntoView({block: 'center'});
  return true;
}"""

IMAGES_PROBE = """() => Array.from(document.images).map(img => ({
  src: img.currentSrc || img.src, complete: img.complete,
  width: img.naturalWidth, alt: img.getAttribute('alt') || ''
}))"""


@pytest.mark.parametrize("page", PAGES or ["<no book>"])
def test_page(page, server, browser):
    if not PAGES:
        pytest.skip("book not built")
    context = browser.new_context(viewport={"width": 1280, "height": 860}, service_workers="block")
    console_errors, page_errors, outside, missing = [], [], [], []

    def route(r):
        url = urlparse(r.request.url)
        if url.scheme in ("data", "blob", "about") or url.hostname in LOCAL_HOSTS:
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: page_errors.append(str(e)))
    # (browsers ask for /favicon.ico on their own; the book does not link one)
    tab.on("response", lambda r: missing.append(f"{r.status} {r.url}")
           if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    try:
        tab.goto(f"{server}/{page}", wait_until="load")
        tab.wait_for_load_state("networkidle")
        math = tab.evaluate(MATHJAX_PROBE)
        # Screenshots first (the theme's scroll-spy highlights the section in view): the top of
        # the page and, on pages with figures, the first figure centred in the window.
        SHOTS.mkdir(parents=True, exist_ok=True)
        stem = page.replace("/", "__").removesuffix(".html")
        tab.screenshot(path=str(SHOTS / f"{stem}.png"))
        if tab.evaluate(FIGURE_INTO_VIEW):
            tab.wait_for_timeout(200)
            tab.screenshot(path=str(SHOTS / f"{stem}__figure.png"))
        # Scroll through the page so that any lazily loaded image is fetched, then check them all.
        tab.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        tab.wait_for_load_state("networkidle")
        images = tab.evaluate(IMAGES_PROBE)
        colab = tab.evaluate(
            "() => Array.from(document.querySelectorAll('a[href*=\"colab.research.google.com\"]'))"
            ".map(a => a.href)"
        )
    finally:
        context.close()

    assert not outside, f"requests leaving localhost (blocked): {sorted(set(outside))}"
    assert not missing, f"missing local assets: {missing}"
    assert not page_errors, f"uncaught page errors: {page_errors}"
    assert not console_errors, f"console errors: {console_errors}"

    bad = [i["src"] for i in images if not (i["complete"] and i["width"] > 0)]
    assert not bad, f"images that did not load: {bad}"
    no_alt = [i["src"] for i in images if not i["alt"].strip()]
    assert not no_alt, f"images without alt text: {no_alt}"

    if math["sources"]:
        assert math["loaded"], "page has math but MathJax did not load"
        assert math["rendered"] >= math["sources"], math
        assert not math["unrendered"], f"formulas MathJax did not typeset: {math['unrendered']}"
        assert not math["errors"], f"MathJax errors: {math['errors']}"
        assert math["fontsOk"], "MathJax fonts failed to load"

    want = expected_colab_url(page)
    if want is not None:
        assert colab, f"{page}: no Colab launch button"
        assert all(h == want for h in colab), f"{page}: Colab link {colab} != {want}"


def test_mathjax_is_vendored():
    """The pages load MathJax from _static, and at least one page has math to render."""
    if not PAGES:
        pytest.skip("book not built")
    texts = {p: (HTML / p).read_text(encoding="utf-8") for p in PAGES}
    assert (HTML / "_static" / "mathjax" / "tex-chtml-full.js").is_file()
    assert any('class="math' in t for t in texts.values()), "no page has math"
    for p, t in texts.items():
        assert "cdn.jsdelivr.net" not in t and "mathjax@" not in t, p


# ---------------------------------------------------------------------------------------------
# Checks of the chapter notebooks themselves (no browser, no build needed).
# ---------------------------------------------------------------------------------------------
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _code_cells(path: Path) -> list[dict]:
    import json
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_colab_setup_cell(path):
    """Each chapter opens with the Colab-only install of this repository's package, at the
    repository and branch of _config.yml, and that cell has no stored output."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    first = _code_cells(path)[0]
    src = "".join(first["source"])
    assert 'if "google.colab" in sys.modules:' in src, src
    assert f"pip install -q git+{cfg['url']}@{cfg['branch']}" in src, src
    assert not first["outputs"], "the set-up cell must not store output"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_checked_outputs(path):
    """nbval compares at least three cells with text output (cells tagged nbval-ignore-output,
    nbval-skip or nbval-raises-exception are not compared)."""
    ignored = {"nbval-ignore-output", "nbval-skip", "nbval-raises-exception"}
    checked = [
        c for c in _code_cells(path)
        if not (set(c.get("metadata", {}).get("tags", [])) & ignored)
        and any(o["output_type"] == "stream" or "text/plain" in o.get("data", {}) for o in c["outputs"])
    ]
    assert len(checked) >= 3, f"{path.name}: only {len(checked)} checked cells with text output"


# ---------------------------------------------------------------------------------------------
# The studio chapter's live web demo (onnxruntime-web, WASM): it runs offline and responds.
# ---------------------------------------------------------------------------------------------
def _demo_context(browser, outside: list, errors: list, **kw):
    """A browser context for the web demo: requests leaving localhost are recorded and blocked,
    page errors and console errors are recorded."""
    context = browser.new_context(viewport={"width": 900, "height": 700}, service_workers="block",
                                  accept_downloads=True, **kw)
    context.route("**/*", lambda r: r.continue_() if urlparse(r.request.url).hostname in LOCAL_HOSTS
                  or urlparse(r.request.url).scheme in ("data", "blob")
                  else (outside.append(r.request.url), r.abort()))
    return context


def _demo_built() -> Path:
    demo = HTML / "_static" / "studio"
    if not (demo / "model" / "looks.onnx").is_file():
        if REQUIRE:
            pytest.fail(f"{demo}/model/looks.onnx missing: `make book` builds the web demo's assets")
        pytest.skip("web demo not built")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return demo


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG file's bytes, read from its IHDR chunk."""
    head = data[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_web_demo_runs_the_model_offline(server, browser):
    """Open the demo page, move a slider: the model runs in the page (WASM, from _static only)
    and the styled image changes; the download button saves it as a PNG of the size shown.
    The run times are recorded for benchmarks/web_demo.py's targets (not asserted here: speed
    targets live in the benchmark)."""
    import json
    _demo_built()
    from web_demo import drive_demo
    outside, errors = [], []
    context = _demo_context(browser, outside, errors)
    tab = context.new_page()
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        res = drive_demo(tab, f"{server}/_static/studio/index.html", sizes=(256, 512), refreshes=3)
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / "web_demo.png"))
        with tab.expect_download() as dl:
            tab.click("#download")
        saved = Path(dl.value.path()).read_bytes()   # (gone once the context closes)
        name = dl.value.suggested_filename
        size = tab.evaluate("() => window.studioStats.size")
    finally:
        context.close()
    (SHOTS / "web_demo.json").write_text(json.dumps(res["ms"], indent=1))
    assert not outside, f"requests leaving localhost: {outside}"
    assert not errors, errors
    assert res["changed"], "moving the vivid slider did not change the styled image"
    fetched = [urlparse(u).path for u in res["requests"]]
    assert any(p.endswith("/_static/studio/model/looks.onnx") for p in fetched), fetched
    assert any(p.endswith(".wasm") and "/_static/studio/ort/" in p for p in fetched), fetched
    assert all(len(v) == 3 and all(t > 0 for t in v) for v in res["ms"].values())
    assert name.endswith(".png") and name.startswith("coffee"), name
    assert _png_size(saved) == (size[1], size[0]), (name, size)


def test_web_demo_agrees_with_python(server, browser):
    """The page's G, its exact ground truth, its slider table and its mean ΔE2000 are what the
    package computes for the same photo, mix of looks and c (`Studio.render_mix`)."""
    _demo_built()
    import base64
    import io

    import numpy as np
    import torch
    from PIL import Image

    import influencer_gan as ig
    from influencer_gan import looks as L
    from web_demo import runs, set_slider, wait_for_run
    outside, errors = [], []
    context = _demo_context(browser, outside, errors)
    tab = context.new_page()
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        tab.goto(f"{server}/_static/studio/index.html", wait_until="load")
        wait_for_run(tab, 0)
        tab.select_option("#look-0", "teal_orange")
        tab.select_option("#look-1", "pastel")
        for slider, value in (("weight-0", 0.6), ("weight-1", 0.4), ("vivid", 0.3), ("warmth", -0.2),
                              ("strength", 0.8)):
            n = runs(tab)
            set_slider(tab, slider, value)
            wait_for_run(tab, n)
        pngs = tab.evaluate("() => ['before', 'after', 'truth'].map(id => document.getElementById(id).toDataURL())")
        page_de = tab.evaluate("() => window.studioStats.deltaE")
        table = tab.evaluate("""() => Array.from(document.querySelectorAll('#slider-rows tr'))
            .map(r => Array.from(r.children).map(td => td.textContent))""")
    finally:
        context.close()
    assert not outside and not errors, (outside, errors)
    before, after, truth = (   # the canvases' 8-bit pixels, losslessly through PNG
        torch.from_numpy(np.array(Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))).convert("RGB")))
        .permute(2, 0, 1).float() / 255 for u in pngs)
    mix = {"teal_orange": 0.6, "pastel": 0.4}
    want_truth = L.apply(before, L.mix(mix), vivid=0.3, warmth=-0.2, strength=0.8, grain=False)
    model = ig.load_pretrained("looks")
    style = sum(wt * model.style_code(look=name) for name, wt in mix.items())
    want_gan = model.stylize(before, style=style, vivid=0.3, warmth=-0.2, strength=0.8)
    # the page's canvases hold 8-bit values: one step of rounding, plus float noise
    assert float((truth - want_truth).abs().max()) <= 1.5 / 255
    assert float((after - want_gan).abs().max()) <= 1.5 / 255
    want_de = ig.metrics.delta_e2000(want_gan, want_truth)
    assert abs(page_de - want_de) < 0.05, (page_de, want_de)
    want_params = L.mix(mix).vector()   # the look's sliders; c acts after the look (looks.personal_edit)
    rows = {r[0]: float(r[1]) for r in table}
    for name, v in zip(L.PARAM_NAMES, want_params.tolist()):
        if name != "grain":
            assert rows[name.replace("_", " ")] == pytest.approx(round(v, 2), abs=0.0051), name
    if model.config.head == "params":
        assert np.isfinite([float(r[2]) for r in table]).all(), "G's slider values are missing"
    else:   # a convolutional G has no sliders
        assert all(r[2] == "—" for r in table), table


def test_web_demo_full_size_upload(server, browser, tmp_path):
    """A reader's own photo at "full size" is styled at its own resolution, not a square, and
    the downloaded PNG has that size."""
    _demo_built()
    from PIL import Image

    from web_demo import runs, wait_for_run
    photo = tmp_path / "my holiday.jpg"
    Image.new("RGB", (900, 600), (180, 120, 90)).save(photo)
    outside, errors = [], []
    context = _demo_context(browser, outside, errors)
    tab = context.new_page()
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        tab.goto(f"{server}/_static/studio/index.html", wait_until="load")
        wait_for_run(tab, 0)
        n = runs(tab)
        tab.select_option("#size", "full")
        wait_for_run(tab, n)
        n = runs(tab)
        tab.set_input_files("#file", str(photo))
        wait_for_run(tab, n)
        size = tab.evaluate("() => window.studioStats.size")
        with tab.expect_download() as dl:
            tab.click("#download")
        saved, name = Path(dl.value.path()).read_bytes(), dl.value.suggested_filename
    finally:
        context.close()
    assert not outside and not errors, (outside, errors)
    assert size == [600, 900]
    assert _png_size(saved) == (900, 600)
    assert name.startswith("my_holiday_") and name.endswith(".png"), name


def test_web_demo_names_missing_files(server, browser):
    """A file the demo needs that the server does not have is named in a visible message
    that says how to build and serve the demo, instead of a silent failure."""
    _demo_built()
    outside, errors = [], []
    context = _demo_context(browser, outside, errors)
    context.route("**/model/photos.json", lambda r: r.fulfill(status=404, body="not found"))
    tab = context.new_page()
    try:
        tab.goto(f"{server}/_static/studio/index.html", wait_until="load")
        tab.wait_for_function("() => window.studioStats && window.studioStats.error", timeout=60_000)
        box = tab.locator("#error")
        visible, text = box.is_visible(), box.inner_text()
    finally:
        context.close()
    assert visible, "the error message is not visible"
    assert "model/photos.json is missing (HTTP 404" in text, text
    assert "make book" in text and "python3 -m http.server -d _build/html" in text, text


def test_web_demo_from_a_file_url(browser):
    """Opened as a file (file://), where browsers refuse its requests, the demo says so and
    how to serve the book."""
    demo = _demo_built()
    context = browser.new_context(viewport={"width": 900, "height": 700})
    tab = context.new_page()
    try:
        tab.goto((demo / "index.html").as_uri(), wait_until="load")
        tab.wait_for_function("() => window.studioStats && window.studioStats.error", timeout=30_000)
        box = tab.locator("#error")
        visible, text = box.is_visible(), box.inner_text()
    finally:
        context.close()
    assert visible, "the error message is not visible"
    assert "file://" in text and "python3 -m http.server -d _build/html" in text, text


def test_publish_workflow_runs_only_the_readme_commands():
    """The GitHub Pages workflow cannot run here, so it runs nothing that is not tested here:
    its shell steps are the README's two commands, and it publishes what `make book` builds."""
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8"))
    steps = wf["jobs"]["build"]["steps"]
    runs = [s["run"].strip() for s in steps if "run" in s]
    assert runs == ["make test", "make book"], runs
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(f"\n{cmd}    #" in readme for cmd in runs), "README's two commands changed"
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact")]
    assert upload and upload[0]["with"]["path"] == HTML.relative_to(ROOT).as_posix()
    assert wf["jobs"]["deploy"]["needs"] == "build"

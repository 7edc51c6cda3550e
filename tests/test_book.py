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

Without a built book the tests are skipped, unless REQUIRE_BOOK=1 (set by `make browser`),
which turns a missing build into a failure.
"""
from __future__ import annotations

import functools
import http.server
import os
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
def test_web_demo_runs_the_model_offline(server, browser):
    """Open the demo page, move a slider: the model runs in the page (WASM, from _static only)
    and the styled image changes. The run times are recorded for benchmarks/web_demo.py's
    targets (not asserted here: speed targets live in the benchmark)."""
    import json
    import sys
    demo = HTML / "_static" / "studio"
    if not (demo / "model" / "looks.onnx").is_file():
        if REQUIRE:
            pytest.fail(f"{demo}/model/looks.onnx missing: `make book` builds the web demo's assets")
        pytest.skip("web demo not built")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from web_demo import drive_demo
    context = browser.new_context(viewport={"width": 900, "height": 700}, service_workers="block")
    outside, errors = [], []
    context.route("**/*", lambda r: r.continue_() if urlparse(r.request.url).hostname in LOCAL_HOSTS
                  or urlparse(r.request.url).scheme in ("data", "blob")
                  else (outside.append(r.request.url), r.abort()))
    tab = context.new_page()
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        res = drive_demo(tab, f"{server}/_static/studio/index.html", sizes=(256, 512), refreshes=3)
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / "web_demo.png"))
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

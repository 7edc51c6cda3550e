"""Speed of the studio's in-browser demo: the looks model in onnxruntime-web (WASM), headless Chromium.

    python benchmarks/web_demo.py [--refreshes 15] [--no-write]

Needs the built book (`make book`, which also builds the demo's assets) and Debian's Chromium
(`make chromium`). Serves _build/html on a localhost port, opens the demo
(`_static/studio/index.html`), moves the vivid slider back and forth `--refreshes` times at
256 px and at 512 px, and reads the time of each `session.run` that the page itself measures
(`window.studioStats`, performance.now() around the call). Writes the *web* section of
RESULTS.md. `drive_demo` is also what the browser test (tests/test_book.py) runs.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
DEMO = "_static/studio/index.html"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]

AFTER_PIXELS = "() => document.getElementById('after').toDataURL()"


def runs(tab) -> int:
    return int(tab.evaluate("() => window.studioStats ? window.studioStats.runs : 0"))


def wait_for_run(tab, before: int, timeout_ms: int = 60_000) -> None:
    """Wait until the page has finished a model run after the `before`-th one (or failed)."""
    tab.wait_for_function(
        f"() => window.studioStats && (window.studioStats.runs > {before} || window.studioStats.error)",
        timeout=timeout_ms)
    err = tab.evaluate("() => window.studioStats.error")
    if err:
        raise AssertionError(f"the web demo failed: {err}")


def set_slider(tab, element_id: str, value: float) -> None:
    """Move a range input as a reader would (its value changes, an `input` event fires)."""
    tab.evaluate("([id, v]) => { const e = document.getElementById(id); e.value = String(v);"
                 " e.dispatchEvent(new Event('input', {bubbles: true})); }", [element_id, value])


def drive_demo(tab, url: str, sizes=(256, 512), refreshes: int = 5) -> dict:
    """Open the demo, check that moving a slider changes the output, and time the model.
    Returns {"changed": bool, "ms": {size: [run times]}, "requests": [urls]}."""
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.goto(url, wait_until="load")
    wait_for_run(tab, 0)
    first = tab.evaluate(AFTER_PIXELS)
    n = runs(tab)
    set_slider(tab, "vivid", 1.0)
    wait_for_run(tab, n)
    changed = tab.evaluate(AFTER_PIXELS) != first
    times: dict[int, list[float]] = {}
    for size in sizes:
        n = runs(tab)
        tab.select_option("#size", str(size))
        wait_for_run(tab, n)
        assert tab.evaluate("() => window.studioStats.size") == [size, size]
        times[size] = []
        for i in range(refreshes):
            n = runs(tab)
            set_slider(tab, "warmth", round(-1 + 2 * (i % 2), 1))
            wait_for_run(tab, n)
            times[size].append(float(tab.evaluate("() => window.studioStats.lastMs")))
    return {"changed": changed, "ms": times, "requests": requests}


@contextmanager
def serve(directory: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refreshes", type=int, default=15)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not (HTML / DEMO).is_file():
        sys.exit(f"{HTML / DEMO} missing: run `make book` first")
    sys.path.insert(0, str(Path(__file__).parent))
    import json

    import _report
    from playwright.sync_api import sync_playwright
    load_before = _report.load_average()
    with serve(HTML) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
        ctx = browser.new_context()
        ctx.route("**/*", lambda r: r.continue_() if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost")
                  else r.abort())
        tab = ctx.new_page()
        res = drive_demo(tab, f"{base}/{DEMO}", refreshes=args.refreshes)
        version = tab.evaluate("() => ort.env.versions ? JSON.stringify(ort.env.versions) : ''")
        chromium = browser.version
        browser.close()
    manifest = json.loads((HTML / "_static/studio/model/manifest.json").read_text())
    med = {s: statistics.median(v) for s, v in res["ms"].items()}
    res.update(median_ms=med, manifest=manifest, chromium=chromium, ort_versions=version,
               machine=_report.machine(), load_before=load_before, load_after=_report.load_average())
    rt = manifest["onnxruntime_web"]
    body = "\n".join([
        "## Web demo (studio chapter, onnxruntime-web)",
        "",
        f"- date: {_report.now()}; command: `{_report.command()}`",
        f"- machine: {_report.cpu_name()}, {res['machine']['cores']} cores shared with other users; headless Chromium {chromium}; "
        f"load average before {load_before}, after {res['load_after']}",
        f"- what is timed: one `session.run` of the exported looks model (`model/{manifest['model']['onnx']}`, "
        f"{manifest['model']['onnx_bytes'] / 1e6:.2f} MB) in the page, WASM backend, 1 thread, "
        f"median of {args.refreshes} refreshes after a slider move (the page's own performance.now())",
        f"- assets the book ships for it: onnxruntime-web {rt['version']} "
        + ", ".join(f"`{n}` {b / 1e6:.2f} MB" for n, b in rt["files"].items())
        + f"; photos {sum(p['bytes'] for p in manifest['photos']) / 1e6:.2f} MB",
        "",
        "| image | median | min | max | target |",
        "|---|---|---|---|---|",
        *[f"| {s}×{s} px | {med[s]:.0f} ms | {min(v):.0f} ms | {max(v):.0f} ms | "
          f"{'≤ 300 ms: ' + ('met' if med[s] <= 300 else 'missed') if s == 256 else 'reported'} |"
          for s, v in res["ms"].items()],
    ])
    print(body)
    _report.save("web_demo", res, body, _report.RESULTS, quick=False, no_write=args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

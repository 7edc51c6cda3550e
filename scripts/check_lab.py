"""Check `make lab`: JupyterLab starts, serves the widget extension, and a studio panel works.

    python scripts/check_lab.py [--chromium /usr/bin/chromium] [--timeout 240]

(`make lab-check` installs JupyterLab and Chromium first and runs this.) What it does, with the
JupyterLab that `make lab` installs into .venv:

1. `jupyter labextension list` must list `@jupyter-widgets/jupyterlab-manager` (the prebuilt
   extension of the `jupyterlab_widgets` package) as enabled and OK;
2. starts `jupyter lab` headless on 127.0.0.1, a free port and a random token, with the
   repository as its root (as `make lab` does) and its own temporary config, data and runtime
   folders; checks that /lab serves the JupyterLab page, that a request without the token is
   refused, and that /lab/api/extensions lists the widget manager;
3. opens a scratch notebook (in _build/lab-check/, ignored by git) in headless Chromium with
   one cell, `Studio(ig.load_pretrained("looks"))`, runs it, waits for the panel's sliders to
   render as widgets (not as the text `VBox(...)` a missing extension leaves), moves the
   *vivid* slider with the keyboard and checks that the styled images and the ΔE2000 line
   change: the widget round trip browser -> kernel -> browser works;
4. opens chapters/07_studio.ipynb (it must render its cells; nothing is run in it, the file
   is checked to be unchanged afterwards, and the checkpoint JupyterLab makes of it on opening
   is removed).

Requests that leave 127.0.0.1 are blocked and reported. It takes about a minute on a 2-core
machine (most of it starting the kernel and torch); it is not part of `make test`. Exit status
0 when every check passed; otherwise one line naming the check that failed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
CHAPTER = "chapters/07_studio.ipynb"
SCRATCH = ROOT / "_build" / "lab-check"
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
STUDIO_CELL = ('import influencer_gan as ig\n'
               'from influencer_gan.studio import Studio\n'
               '\n'
               'Studio(ig.load_pretrained("looks"))')


class CheckFailed(Exception):
    pass


def step(msg: str, t0: float) -> None:
    print(f"[{time.time() - t0:5.1f} s] {msg}", flush=True)


def check_extension_list(env: dict) -> str:
    out = subprocess.run([str(VENV_BIN / "jupyter"), "labextension", "list"], env=env,
                         capture_output=True, text=True, timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    line = next((ln.strip() for ln in text.splitlines() if WIDGET_MANAGER in ln), None)
    if line is None or "enabled" not in line or "OK" not in line:
        raise CheckFailed(f"`jupyter labextension list` does not list {WIDGET_MANAGER} as enabled and OK:\n{text}")
    return line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""


def scratch_notebook() -> Path:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "studio", "metadata": {},
                     "outputs": [], "source": STUDIO_CELL}],
          "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                      "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    path = SCRATCH / "lab_check.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    return path


def drive_browser(base: str, token: str, chromium: str, timeout_s: float, t0: float) -> None:
    from playwright.sync_api import sync_playwright
    outside, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
        context.route("**/*", lambda r: r.continue_() if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost")
                      or urlparse(r.request.url).scheme in ("data", "blob")
                      else (outside.append(r.request.url), r.abort()))
        tab = context.new_page()
        tab.on("pageerror", lambda e: errors.append(str(e)))
        try:
            # 3. a studio panel: run its cell, wait for the widgets, move a slider
            # (?reset: a fresh workspace, so that only this notebook is open)
            tab.goto(f"{base}/lab/tree/{SCRATCH.relative_to(ROOT).as_posix()}/lab_check.ipynb?reset&token={token}",
                     wait_until="load")
            panel = tab.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
            editor = panel.locator(".jp-CodeCell .jp-InputArea-editor").first
            editor.wait_for(timeout=timeout_s * 1000)
            # JupyterLab may ask which kernel to start: accept its choice (the venv's python3),
            # then wait until the notebook's kernel is idle.
            accept = tab.locator(".jp-Dialog .jp-mod-accept")
            indicator = ("() => { const e = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
                         ".jp-Notebook-ExecutionIndicator'); return e ? e.getAttribute('data-status') : null; }")
            deadline = time.time() + timeout_s
            while tab.evaluate(indicator) != "idle":
                if accept.count() and accept.first.is_visible():
                    accept.first.click()
                if time.time() > deadline:
                    raise CheckFailed(f"the notebook's kernel did not start (indicator: {tab.evaluate(indicator)})")
                tab.wait_for_timeout(250)
            step("scratch notebook opened, kernel idle", t0)
            prompt = panel.locator(".jp-CodeCell .jp-InputPrompt").first

            def run_all():                          # Run -> Run All Cells, from the menu bar
                tab.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                tab.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            run_all()
            step("running Studio(ig.load_pretrained(\"looks\")) in the lab's kernel", t0)
            vivid = panel.locator(".jp-OutputArea .widget-slider", has=tab.locator(".widget-label", has_text="vivid"))
            deadline, asked = time.time() + timeout_s, time.time()
            while not vivid.count():
                if accept.count() and accept.first.is_visible():
                    accept.first.click()             # a kernel dialog: accept its choice
                elif prompt.inner_text().strip() == "[ ]:" and time.time() - asked > 15:
                    run_all()                        # the request was lost (kernel not ready): again
                    asked = time.time()
                if time.time() > deadline:
                    out = panel.locator(".jp-OutputArea")
                    text = out.first.inner_text() if out.count() else ""
                    raise CheckFailed("the studio's widgets did not render in JupyterLab "
                                      f"(prompt {prompt.inner_text().strip()!r}, output area: {text[:300]!r})")
                tab.wait_for_timeout(250)
            tab.wait_for_function("() => Array.from(document.querySelectorAll('.jp-OutputArea .widget-html'))"
                                  ".some(e => e.textContent.includes('ΔE2000'))", timeout=timeout_s * 1000)
            probe = ("() => ({status: Array.from(document.querySelectorAll('.jp-OutputArea .widget-html'))"
                     ".map(e => e.textContent).join(' '), "
                     "images: Array.from(document.querySelectorAll('.jp-OutputArea .widget-image')).map(i => i.src)})")
            before = tab.evaluate(probe)
            step(f"studio panel rendered as widgets: {before['status'].strip()}", t0)
            handle = vivid.first.locator(".noUi-handle, .slider-handle, [role=slider]").first
            handle.focus()
            for _ in range(3):
                tab.keyboard.press("ArrowRight")
            tab.wait_for_function("(s) => Array.from(document.querySelectorAll('.jp-OutputArea .widget-html'))"
                                  ".map(e => e.textContent).join(' ') !== s", arg=before["status"],
                                  timeout=timeout_s * 1000)
            after = tab.evaluate(probe)
            if after["images"] == before["images"]:
                raise CheckFailed("moving the vivid slider did not change the studio's images")
            step(f"vivid slider moved: {after['status'].strip()}; the images changed", t0)
            # 4. the chapter opens and renders (nothing is run in it)
            tab.goto(f"{base}/lab/tree/{CHAPTER}?reset&token={token}", wait_until="load")
            tab.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
            tab.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length >= 3",
                                  timeout=timeout_s * 1000)
            cells = tab.evaluate("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length")
            step(f"{CHAPTER} opened in JupyterLab: {cells} cells rendered", t0)
        except Exception:
            shot = Path(tempfile.gettempdir()) / "lab-check-failure.png"
            tab.screenshot(path=str(shot))
            print(f"(a screenshot of the failure: {shot})")
            raise
        finally:
            context.close()
            browser.close()
    if outside:
        raise CheckFailed(f"JupyterLab made requests that leave 127.0.0.1 (blocked): {sorted(set(outside))}")
    if errors:
        raise CheckFailed(f"uncaught page errors in JupyterLab: {errors}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--timeout", type=float, default=240, help="seconds allowed for each wait")
    args = ap.parse_args(argv)
    t0 = time.time()
    if not (VENV_BIN / "jupyter-lab").exists():
        print(f"{VENV_BIN / 'jupyter-lab'} missing: run `make lab-check` (it installs requirements-lab.txt)")
        return 1
    if not Path(args.chromium).is_file():
        print(f"{args.chromium} missing: `make chromium` installs it")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="lab-check-"))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
               OMP_WAIT_POLICY="PASSIVE", JUPYTER_PLATFORM_DIRS="1")
    chapter = ROOT / CHAPTER
    chapter_bytes = chapter.read_bytes()
    checkpoints = chapter.parent / ".ipynb_checkpoints"
    checkpoint = checkpoints / f"{chapter.stem}-checkpoint.ipynb"
    had_checkpoints, had_checkpoint = checkpoints.exists(), checkpoint.exists()
    server = None
    try:
        # 1.
        step(f"labextension list: {check_extension_list(env)}", t0)
        # 2.
        port, token = free_port(), secrets.token_hex(16)
        scratch_notebook()
        log = open(tmp / "lab.log", "w")
        server = subprocess.Popen(
            [str(VENV_BIN / "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + args.timeout
        while True:
            if server.poll() is not None:
                raise CheckFailed(f"jupyter lab exited with status {server.returncode}:\n{(tmp / 'lab.log').read_text()[-2000:]}")
            try:
                if get(f"{base}/api/status?token={token}", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise CheckFailed(f"jupyter lab did not answer on {base} within {args.timeout:.0f} s")
            time.sleep(0.5)
        step(f"jupyter lab answers on {base}", t0)
        status, page = get(f"{base}/lab?token={token}")
        if status != 200 or "JupyterLab" not in page:
            raise CheckFailed(f"/lab answered {status} without the JupyterLab page")
        status, _ = get(f"{base}/api/contents/chapters")
        if status not in (401, 403):
            raise CheckFailed(f"/api/contents without the token answered {status}, not 401/403")
        # the page's own configuration: the federated extensions the front end will load
        m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
        config = json.loads(m.group(1)) if m else {}
        federated = {e.get("name"): e for e in config.get("federated_extensions", [])}
        ext = federated.get(WIDGET_MANAGER)
        if not ext:
            raise CheckFailed(f"the /lab page does not load {WIDGET_MANAGER} (federated extensions: {sorted(federated)})")
        status, _ = get(f"{base}/{ext['load'].lstrip('/')}" if ext.get("load", "").startswith("/")
                        else f"{base}/lab/extensions/{WIDGET_MANAGER}/{ext['load']}")
        if status != 200:
            raise CheckFailed(f"{WIDGET_MANAGER}'s entry point {ext.get('load')} answered {status}")
        step(f"/lab serves JupyterLab {config.get('appVersion', '')}, the token is required, and the page "
             f"loads {WIDGET_MANAGER} ({ext.get('load')}: 200)", t0)
        # 3. and 4.
        drive_browser(base, token, args.chromium, args.timeout, t0)
        if chapter.read_bytes() != chapter_bytes:
            chapter.write_bytes(chapter_bytes)
            raise CheckFailed(f"{CHAPTER} was changed while JupyterLab had it open (restored)")
    except CheckFailed as e:
        print(f"lab check FAILED: {e}")
        return 1
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(SCRATCH, ignore_errors=True)
        if not had_checkpoint and checkpoint.exists():     # JupyterLab checkpoints a file it opens
            checkpoint.unlink()
        if not had_checkpoints and checkpoints.is_dir() and not any(checkpoints.iterdir()):
            checkpoints.rmdir()
    step("lab check passed", t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

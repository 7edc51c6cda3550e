"""Shared helpers of the benchmark scripts: machine description and RESULTS.md sections."""
from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import sys
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = """# Benchmarks

Every figure below was produced by the command printed above its table, on the machine it
names. `benchmarks/speed.py` writes the *speed* section and `benchmarks/quality.py` the
*quality* section; each replaces only its own section. The raw numbers are in
`benchmarks/results/*.json`.

"""


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1 / 5 / 15 min)"
    except OSError:
        return "n/a"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict:
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "threads": torch.get_num_threads(), "load_average": load_average()}


def command() -> str:
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def save(name: str, res: dict, body: str, path: Path, quick: bool, no_write: bool) -> None:
    """Write results/NAME.json and the NAME section of `path`. Quick runs write only to a
    file you name, never to RESULTS.md."""
    if no_write or (quick and path == RESULTS):
        return
    import json
    out = path.parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    write_section(name, body, path)
    print(f"wrote {path} and {out / (name + '.json')}")


def write_section(name: str, body: str, path: Path = RESULTS) -> Path:
    """Replace the `name` section of RESULTS.md (between its markers), or append it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    text = path.read_text() if path.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.S)
    text = pattern.sub(lambda m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    path.write_text(text)
    return path

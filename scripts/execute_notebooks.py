"""Re-run chapters in place and store their outputs (`make execute`).

    python scripts/execute_notebooks.py [chapters/01_background.ipynb ...]

Each notebook is executed top to bottom by nbclient in a fresh kernel that runs this very
Python (so the venv's torch and influencer_gan are used), with the notebook's folder as the
working directory. Outputs are written back into the .ipynb; execution timestamps are not
recorded, so re-running an unchanged chapter leaves an unchanged file (up to figures' bytes).
`make execute` also fixes threads and CPU instruction level (see NB_ENV in the Makefile), the
same settings `make nbval` checks under.

A chapter should run in at most --budget seconds (default 120) on a 2-core CPU; slower
chapters are reported, and with --strict make the script fail.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def this_python_kernel() -> KernelManager:
    """A kernel manager whose kernel is `sys.executable -m ipykernel_launcher`."""
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return km


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stream outputs of the same name (stdout, stderr) into one."""
    merged: list = []
    for out in outputs:
        if (out.get("output_type") == "stream" and merged
                and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == out["name"]):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def execute(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        km=this_python_kernel(),
        timeout=timeout,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # keep diffs small: no per-cell execution metadata
        if cell.cell_type == "code":  # one stdout block per cell, not one per flush
            cell.outputs = coalesce_streams(cell.outputs)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: chapters/*.ipynb)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds allowed per chapter")
    parser.add_argument("--strict", action="store_true", help="fail when a chapter is over budget")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    if not notebooks:
        print("no notebooks to execute", file=sys.stderr)
        return 1
    total, slow = 0.0, []
    for path in notebooks:
        if not path.is_file():
            print(f"error: no such notebook: {path}", file=sys.stderr)
            return 1
        print(f"executing {path} ...", flush=True)
        seconds = execute(path, args.timeout)
        total += seconds
        flag = "  (over the budget)" if seconds > args.budget else ""
        print(f"  {seconds:6.1f} s{flag}", flush=True)
        if flag:
            slow.append(path)
    print(f"{len(notebooks)} notebook(s) in {total:.1f} s")
    if slow:
        print(f"over {args.budget:.0f} s: {', '.join(map(str, slow))}", file=sys.stderr)
        return 1 if args.strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training throughput: the step of the same recipe under the code before and after a change,
in one run, and where a step's time goes; writes the *throughput* section of RESULTS.md.

    python benchmarks/throughput.py                       # before = BEFORE (the commit below)
    python benchmarks/throughput.py --before HEAD~3 --repeat 15
    python benchmarks/throughput.py --device cuda         # on a GPU: step, img/s, GPU busy share

`--before REV` is any git revision of this repository: its `influencer_gan` is unpacked with
`git archive` into a temporary folder and imported from there, so both codes run from the same
checkout on the same machine, one after the other, in fresh processes, with the same
recipe (`configs/looks.json` and `configs/avatars.json`, minus run-time fields), the same seed,
and the same threads (`--threads 1 2`).

What is timed, for each code and thread count:

* **making a looks batch** (`LookStream.batch`, the recipe: 64 photos, 64 feed posts and
  6 × 64 references at 32 px) and **a folder-mode batch** (your own photos: two folders of 24
  photos of 640×480 written by this script from the bundled photos);
* **the looks step** (`Trainer.step`, everything: batch, E, G, F, D, both backward passes, both
  optimisers, EMA), and its breakdown: wrappers around each network's forward, `backward`,
  the optimisers' `step`, the EMA update and the stream's `batch` record where the time goes;
* **the avatars step**, with the same breakdown.

Before timing, the recipe's looks prior (`random_look`, about 20 ms per new seed and cached
after) is warmed with exactly the seeds the timed batches will draw, for both codes alike, so
that what is compared is a long run's steady state. Each figure is the median over `--repeat`
repetitions; on one thread the process's CPU time (`time.thread_time`) is reported beside the
wall-clock time, because other work on a shared machine inflates wall time but hardly the CPU
time of a one-thread process.

On a GPU (`--device cuda`) every timed call is synchronised before and after; the wrappers
synchronise too, so there the breakdown is the *serial* view, and its data share is the share of
the step during which the GPU waits for the batch.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede `import torch` (see speed.py)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "6836b84"  # the last commit before batches were made on the device (CropBank)
RUNTIME = ("steps", "device", "amp", "compile", "log_every", "sample_every", "ckpt_every", "out", "data_root")

CHILD = r"""
import json, os, statistics, sys, tempfile, time, types
import torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
import influencer_gan
from influencer_gan import looks as L
from influencer_gan.train import TrainConfig, Trainer
dev = torch.device(args["device"])
cuda = dev.type == "cuda"

def sync():
    if cuda:
        torch.cuda.synchronize()

def clock():
    sync()
    return time.perf_counter(), time.thread_time()

def timed(fn, n):
    wall, cpu = [], []
    for _ in range(n):
        w0, c0 = clock()
        fn()
        w1, c1 = clock()
        wall.append(w1 - w0)
        cpu.append(c1 - c0)
    return {"wall_ms": 1000 * statistics.median(wall), "cpu_ms": 1000 * statistics.median(cpu)}

def recipe(name):
    d = json.load(open(os.path.join(args["root"], "configs", name + ".json")))
    return {k: v for k, v in d.items() if k not in args["runtime"]}

class Phases:
    # Wrap each network's forward, backward, the optimisers, the EMA update and the stream:
    # seconds per phase, summed over the wrapped calls (nested calls are not double counted).
    def __init__(self, tr):
        self.t, self.depth = {}, 0
        for name, net in tr.nets.items():
            self._wrap(net, "forward", name)
        self._wrap(tr.stream, "batch", "data")
        self._wrap(tr, "_update_ema", "EMA")
        self._wrap(tr.opt_g, "step", "optimisers")
        self._wrap(tr.opt_d, "step", "optimisers")
        self.orig_backward = orig = torch.Tensor.backward
        phases = self
        def backward(t, *a, **k):
            return phases._run("backward", lambda: orig(t, *a, **k))
        torch.Tensor.backward = backward

    def close(self):
        torch.Tensor.backward = self.orig_backward

    def _run(self, label, fn):
        if self.depth:
            return fn()
        self.depth += 1
        t0 = clock()[0]
        try:
            return fn()
        finally:
            self.t[label] = self.t.get(label, 0.0) + clock()[0] - t0
            self.depth -= 1

    def _wrap(self, obj, attr, label):
        orig = getattr(obj, attr)
        setattr(obj, attr, lambda *a, **k: self._run(label, lambda: orig(*a, **k)))

def trainer(task, **over):
    cfg = TrainConfig.from_dict({**recipe(task), "device": args["device"], "out": tempfile.mkdtemp(),
                                 "sample_every": 0, "steps": 10 ** 6, **over})
    return Trainer(cfg, progress=False)

def warm_prior(stream, gen, n):
    # draw the next n batches once (this fills random_look's cache with exactly the seeds the
    # timed batches use), then rewind the generator
    state = gen.get_state()
    for _ in range(n):
        stream.batch(gen)
    gen.set_state(state)

out = {"code": args["label"], "threads": args["threads"], "device": str(dev),
       "package": influencer_gan.__file__}
R, W = args["repeat"], 2
torch.manual_seed(0)
tr = trainer("looks")
warm_prior(tr.stream, tr.gen, W + 2 * R + W + R)
for _ in range(W):
    tr.stream.batch(tr.gen)
out["looks_batch"] = timed(lambda: tr.stream.batch(tr.gen), R)
for _ in range(W):
    tr.step()
out["looks_step"] = timed(tr.step, R)
out["looks_batch_size"] = tr.cfg.batch_size
ph = Phases(tr)
steps = timed(tr.step, R)
out["looks_phases_ms"] = {k: 1000 * v / R for k, v in ph.t.items()}
out["looks_phases_ms"]["step (wrapped)"] = steps["wall_ms"]
ph.close()

if args.get("folders"):
    from influencer_gan.data import LookStream
    s = LookStream(size=32, batch_size=64, refs=6, content_dir=args["folders"][0], styled_dir=args["folders"][1])
    g = torch.Generator().manual_seed(0)
    for _ in range(W):
        s.batch(g)
    out["folder_batch"] = timed(lambda: s.batch(g), R)

if args.get("avatars"):
    tr = trainer("avatars")
    for _ in range(W):
        tr.step()
    out["avatars_step"] = timed(tr.step, max(3, R // 2))
    ph = Phases(tr)
    steps = timed(tr.step, max(3, R // 2))
    out["avatars_phases_ms"] = {k: 1000 * v / max(3, R // 2) for k, v in ph.t.items()}
    out["avatars_phases_ms"]["step (wrapped)"] = steps["wall_ms"]
    ph.close()
    out["avatars_batch_size"] = tr.cfg.batch_size
print("RESULT " + json.dumps(out))
"""


def unpack(rev: str, into: Path) -> Path:
    """`influencer_gan` as it was at git revision `rev`, unpacked under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "influencer_gan"],
                             check=True, capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    tar = into / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def make_folders(into: Path, n: int = 24) -> list[str]:
    """Two folders of n photos (640x480 JPEGs cut from the bundled training photos): your own
    photos and a feed, as `train looks --content --styled` reads them."""
    import torch
    from PIL import Image

    from influencer_gan.data import load_photos
    photos = [img for _, img in load_photos("train")]
    g = torch.Generator().manual_seed(0)
    dirs = []
    for name in ("content", "styled"):
        d = into / name
        d.mkdir()
        for i in range(n):
            img = photos[i % len(photos)]
            H, W = img.shape[-2:]
            top = int(torch.randint(max(1, H - 360), (), generator=g))
            left = int(torch.randint(max(1, W - 480), (), generator=g))
            crop = img[:, top:top + 360, left:left + 480]
            arr = (crop.permute(1, 2, 0) * 255).round().byte().numpy()
            Image.fromarray(arr).resize((640, 480), Image.BICUBIC).save(d / f"{i:03d}.jpg", quality=90)
        dirs.append(str(d))
    return dirs


def run_child(pythonpath: Path, label: str, threads: int, a, folders) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_NUM", "MKL_NUM"))}
    env.update(PYTHONPATH=str(pythonpath), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    arg = {"label": label, "threads": threads, "device": a.device, "repeat": a.repeat, "root": str(ROOT),
           "runtime": list(RUNTIME), "folders": folders, "avatars": not a.no_avatars}
    # run from a neutral folder: `python -c` puts the working directory first on sys.path
    p = subprocess.run([sys.executable, "-c", CHILD, json.dumps(arg)], env=env, capture_output=True,
                       text=True, cwd=tempfile.gettempdir())
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    if p.returncode or not line:
        raise SystemExit(f"{label} code, {threads} thread(s) failed:\n{p.stderr[-3000:]}")
    return json.loads(line[-1][7:])


def best(runs: list[dict]) -> dict:
    """One run's results made of each measure's fastest round (by wall time)."""
    out = dict(runs[0])
    for key, v in runs[0].items():
        if isinstance(v, dict) and "wall_ms" in v:
            out[key] = min((r[key] for r in runs), key=lambda t: t["wall_ms"])
        elif isinstance(v, dict) and "step (wrapped)" in v:
            out[key] = min((r[key] for r in runs), key=lambda t: t["step (wrapped)"])
    return out


def fmt(t: dict, cpu: bool) -> str:
    return f"{t['wall_ms']:.1f} ms" + (f" ({t['cpu_ms']:.1f} ms CPU)" if cpu else "")


def report(res: dict, a) -> str:
    import _report
    lines = ["## Training throughput: before and after (`benchmarks/throughput.py`)", "",
             f"- date: {_report.now()}; command: `{_report.command()}` ({res['seconds']:.0f} s)",
             f"- machine: {res['machine']['cpu']}, {res['machine']['cores']} cores; torch {res['machine']['torch']}; "
             f"device {a.device}",
             f"- load average before: {res['load_before']}; after: {res['load_after']}",
             f"- before: `influencer_gan` at commit `{res['before']}`; after: this checkout"
             + (f" ({res['after_rev']})" if res.get("after_rev") else ""),
             "- recipes: `configs/looks.json` (batch 64, 32 px, 6 references) and `configs/avatars.json`; "
             f"medians of {a.repeat} calls, the fastest of {a.rounds} alternating rounds; wall time, with the process's "
             "CPU time in brackets on one thread", ""]
    for threads in a.threads:
        b, n = res["runs"][f"before/{threads}"], res["runs"][f"after/{threads}"]
        cpu = threads == 1
        lines += [f"### {threads} thread{'s' if threads > 1 else ''}", "",
                  "| measure | before | after | speed-up |", "|---|---|---|---|"]
        rows = [("making a looks batch (`LookStream.batch`)", "looks_batch"),
                ("folder mode: a batch from your own folders", "folder_batch"),
                ("the looks step (`Trainer.step`)", "looks_step"),
                ("the avatars step", "avatars_step")]
        for label, key in rows:
            if key in b and key in n:
                ratio = b[key]["wall_ms"] / n[key]["wall_ms"]
                extra = (f"; CPU {b[key]['cpu_ms'] / n[key]['cpu_ms']:.2f}×" if cpu else "")
                lines.append(f"| {label} | {fmt(b[key], cpu)} | {fmt(n[key], cpu)} | **{ratio:.2f}×**{extra} |")
        bs = n["looks_batch_size"]
        lines.append(f"| looks images per second (batch {bs}) | {1000 * bs / b['looks_step']['wall_ms']:.0f} | "
                     f"{1000 * bs / n['looks_step']['wall_ms']:.0f} | |")
        lines.append("")
        for task in ("looks", "avatars"):
            key = f"{task}_phases_ms"
            if key not in n:
                continue
            names = [k for k in ("data", "E", "G", "F", "D", "backward", "optimisers", "EMA") if k in n[key] or k in b[key]]
            lines += [f"Where a {task} step goes ({threads} thread{'s' if threads > 1 else ''}, ms per step, "
                      "forward passes under each network's name):", "",
                      "| code | " + " | ".join(names) + " | other | step |",
                      "|---" * (len(names) + 3) + "|"]
            for lab, r in (("before", b), ("after", n)):
                ph = r[key]
                other = ph["step (wrapped)"] - sum(ph.get(k, 0.0) for k in names)
                lines.append(f"| {lab} | " + " | ".join(f"{ph.get(k, 0.0):.1f}" for k in names)
                             + f" | {other:.1f} | {ph['step (wrapped)']:.1f} |")
            lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default=BEFORE, help="git revision of the code before the change")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=9, help="timed calls per measure and process")
    ap.add_argument("--rounds", type=int, default=2, help="processes per code and thread count, alternating")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-avatars", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _report
    t0 = time.perf_counter()
    res = {"before": a.before, "machine": _report.machine(), "load_before": _report.load_average(), "runs": {}}
    try:
        res["after_rev"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                          capture_output=True, text=True).stdout.strip() + " + working tree"
    except OSError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = unpack(a.before, tmp / "before")
        folders = make_folders(tmp)
        for threads in a.threads:           # before and after back to back, per thread count
            for rnd in range(a.rounds):
                for label, path in (("before", old), ("after", ROOT)):
                    r = run_child(path, label, threads, a, folders)
                    assert Path(r["package"]).resolve().is_relative_to(path.resolve()), r["package"]
                    res["runs"].setdefault(f"{label}/{threads}", []).append(r)
                    print(f"round {rnd + 1}, {label:6s} {threads} thread(s): batch {fmt(r['looks_batch'], True)}, "
                          f"step {fmt(r['looks_step'], True)}", flush=True)
        # other work on a shared machine only ever slows a run down: per measure, keep the
        # round in which it ran fastest
        res["runs"] = {k: best(v) for k, v in res["runs"].items()}
    res["seconds"] = time.perf_counter() - t0
    res["load_after"] = _report.load_average()
    body = report(res, a)
    print(body)
    _report.save("throughput", res, body, _report.RESULTS, quick=False, no_write=a.no_write)


if __name__ == "__main__":
    main()

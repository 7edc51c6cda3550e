"""A user's own feed: learn one look from two folders, unpaired, then apply it to new photos.

    python benchmarks/feed.py                      # 5 CPU minutes, 1 thread; writes results/feed.json
    python benchmarks/feed.py --minutes 0.3 --no-write   # smoke run
    python benchmarks/feed.py --filter pilgram.clarendon --json benchmarks/results/feed_filter.json

What a new user does (DESIGN.md's CLI contract), measured against the exact ground truth:

1. `--content`: 9 of *their own* photos — crops of the validation photos and scenes, which no
   shipped model trained on;
2. `--styled`: 9 *other* photos of an influencer's feed in a look nobody has seen —
   `looks.random_look(20000 + i)` (the training prior's seeds stop at 10 000, the evaluation's
   unseen looks are 10 000–10 009), rendered with film grain like a real feed;
3. `influencer-gan train looks --content DIR --styled DIR --steps N` with the default recipe
   (no config file), stopped after `--minutes` of wall clock at the latest;
4. `influencer-gan stylize --checkpoint RUN --reference DIR` on the held-out test photos (the
   evaluation's crops), scored with ΔE2000 against `looks.apply(..., grain=False)`.

Beside it: doing nothing, and the shipped model given the same references (no training).
`--filter NAME` uses a real app filter of the development set (`benchmarks/real_filters.py`,
e.g. `pilgram.clarendon`, rendered by its own library) instead of a slider look.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
import _report  # noqa: E402

from influencer_gan import looks as L  # noqa: E402
from influencer_gan import metrics as M  # noqa: E402
from influencer_gan.api import load_model, load_pretrained  # noqa: E402
from influencer_gan.photos import crop_boxes, cut, load_sources  # noqa: E402
from influencer_gan.train import read_checkpoint  # noqa: E402

FEED_SEED = 20_000


def _save_png(t: torch.Tensor, path: Path) -> None:
    a = (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(a).save(path)


def as_function(look):
    """The look as a function of a batch (B,3,H,W) in [0,1]: a slider look without grain (the
    ground truth), or a real filter's (PIL -> PIL) rendering image by image."""
    if isinstance(look, L.Look):
        return lambda x, grain=False, seed=0: L.apply(x, look, grain=grain, seed=seed)
    from real_filters import _pil, _tensor
    return lambda x, grain=False, seed=0: torch.stack([_tensor(look(_pil(c))) for c in x])


def make_folders(root: Path, look, n_content: int = 9, n_styled: int = 9, size: int = 256,
                 seed: int = 0) -> tuple[Path, Path]:
    """`root/content` (neutral crops) and `root/styled` (other crops in `look`, grain on), all
    cut from the validation photos and scenes."""
    sources = [im for _, im in load_sources("val")[0]]
    g = torch.Generator().manual_seed(seed)
    boxes = crop_boxes([tuple(s.shape[-2:]) for s in sources], n_content + n_styled, g, scale=(0.25, 1.0))
    crops = cut(sources, boxes, size)
    content, styled = root / "content", root / "styled"
    content.mkdir(parents=True), styled.mkdir(parents=True)
    for i, c in enumerate(crops[:n_content]):
        _save_png(c, content / f"photo_{i:02d}.png")
    feed = as_function(look)(crops[n_content:], grain=True, seed=seed + 1)
    for i, c in enumerate(feed):
        _save_png(c, styled / f"post_{i:02d}.png")
    return content, styled


def score(stylize, look) -> dict:
    """Mean ΔE2000 / PSNR / SSIM of `stylize(x)` on the held-out test crops at c = (0, 0, 1)."""
    x = M.test_crops(256, 2)
    truth = as_function(look)(x)
    s = M.image_scores(stylize(x), truth)
    return {k: float(sum(v) / len(v)) for k, v in s.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--look-seed", type=int, default=FEED_SEED)
    p.add_argument("--filter", help="a real filter of benchmarks/real_filters.py instead of a slider look")
    p.add_argument("--minutes", type=float, default=5.0, help="wall-clock cap of the training run")
    p.add_argument("--steps", type=int, default=None, help="--steps for train (default: the recipe's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--keep", type=Path, help="keep the folders and the run here")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--no-shipped", action="store_true", help="skip the shipped model's row")
    p.add_argument("--overrides", type=Path, help="JSON {'overrides': {...}}: train with --config of the "
                   "default recipe with these changes (default: no --config at all)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "feed.json")
    p.add_argument("--rescore-shipped", action="store_true",
                   help="only add the shipped model's row to --json, with the references kept in --keep")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.rescore_shipped:
        res = json.loads(a.json.read_text())
        look = L.random_look(a.look_seed)
        refs = [Image.open(f).convert("RGB") for f in sorted((a.keep / "styled").iterdir())]
        ship = load_pretrained("looks")
        s2 = ship.style_code(reference=refs)
        res["methods"]["shipped model, same references (no training)"] = score(lambda x: ship.stylize(x, style=s2), look)
        res["shipped_rescored"] = {"date": _report.now(), "command": _report.command()}
        a.json.write_text(json.dumps(res, indent=2) + "\n")
        print(res["methods"])
        return 0
    if a.filter:
        from real_filters import filters
        known = filters()
        if a.filter not in known:
            p.error(f"--filter: unknown filter {a.filter!r}; known: {', '.join(known)}")
        look = known[a.filter][1]
    else:
        look = L.random_look(a.look_seed)
    tmp = tempfile.TemporaryDirectory()
    root = a.keep or Path(tmp.name)
    content, styled = make_folders(root, look)
    run = root / "run"
    cmd = [sys.executable, "-m", "influencer_gan", "train", "looks", "--content", str(content),
           "--styled", str(styled), "--out", str(run), "--device", "cpu", "--no-progress"]
    if a.steps:
        cmd += ["--steps", str(a.steps)]
    if a.overrides:
        from influencer_gan.train import TrainConfig
        over = json.loads(a.overrides.read_text())["overrides"]
        (root / "config.json").write_text(json.dumps({**TrainConfig().to_dict(), **over}))
        cmd += ["--config", str(root / "config.json")]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads),
               PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    # Ctrl-C at the deadline: the trainer finishes its step and saves. Its handler is in place once
    # the run folder's config.json exists (before that, a background job may ignore SIGINT).
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stopped = False
    while proc.poll() is None:
        if time.perf_counter() - t0 > a.minutes * 60 and (run / "config.json").exists() and not stopped:
            proc.send_signal(signal.SIGINT)
            stopped = True
        time.sleep(0.5)
    seconds = time.perf_counter() - t0
    if proc.returncode not in (0, None) and not (run / "model.safetensors").exists():
        raise SystemExit(f"training failed ({proc.returncode}): {' '.join(cmd)}")
    model = load_model(run)
    refs = [Image.open(f).convert("RGB") for f in sorted(styled.iterdir())]
    res = {"date": _report.now(), "command": _report.command(), "machine": _report.machine(),
           "load_before": _report.load_average(), "look": a.filter or look.name,
           "look_params": None if a.filter else look.params(),
           "train_command": " ".join(["influencer-gan"] + cmd[3:]), "threads": a.threads,
           "train_seconds": seconds, "stopped_by_time": stopped,
           "steps": int(json.loads((run / "config.json").read_text())["steps"]) if not stopped else None,
           "config": model.config.to_dict(), "n_content": 9, "n_styled": len(refs)}
    res["steps_done"] = int(read_checkpoint(run / "model.safetensors")[1]["step"])
    s = model.style_code(reference=refs)
    res["methods"] = {
        "identity (do nothing)": score(lambda x: x, look),
        "trained on the feed (train + stylize --reference)": score(lambda x: model.stylize(x, style=s), look),
    }
    try:
        if a.no_shipped:
            raise FileNotFoundError
        ship = load_pretrained("looks")
        s2 = ship.style_code(reference=refs)
        res["methods"]["shipped model, same references (no training)"] = score(lambda x: ship.stylize(x, style=s2), look)
    except FileNotFoundError:
        pass
    for k, v in res["methods"].items():
        print(f"{k}: ΔE2000 {v['delta_e']:.2f}  PSNR {v['psnr']:.2f}  SSIM {v['ssim']:.3f}")
    print(f"trained {res['steps_done']} steps in {seconds / 60:.1f} min on {a.threads} thread(s)")
    if not a.no_write:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

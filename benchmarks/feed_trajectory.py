"""What fine-tuning on your own feed does, step by step: the CLI's default fine-tune, scored
every 50 steps against the exact ground truth.

    python benchmarks/feed_trajectory.py                             # the slider look of feed.py
    python benchmarks/feed_trajectory.py --filter pilgram.clarendon  # a real filter, other photos
    python benchmarks/feed_trajectory.py --filter pilgram.clarendon --same-content

The folders are `benchmarks/feed.py`'s (9 of your photos, 9 posts of *other* photos in the look).
`--same-content` makes the posts your own 9 photos in the look instead (still used unpaired):
it separates what the feed's look teaches from what the difference in content does. The run is
`train looks --content --styled` with the CLI's defaults (`init="pretrained"`, `FEED_STEPS`
steps), driven in-process so that the EMA weights can be scored every 50 steps (step 0 is the
shipped model given the posts as references: zero-shot). Writes
benchmarks/results/feed_trajectory.json (one entry per look and setting) and the
`feed_trajectory` section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms.functional import to_tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report  # noqa: E402
import feed as FD  # noqa: E402
from influencer_gan import looks as L  # noqa: E402
from influencer_gan.api import load_model  # noqa: E402
from influencer_gan.cli import FEED_STEPS  # noqa: E402
from influencer_gan.train import TrainConfig, Trainer  # noqa: E402

RES = ROOT / "benchmarks" / "results" / "feed_trajectory.json"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--filter", help="a real filter of benchmarks/real_filters.py (default: feed.py's slider look)")
    p.add_argument("--same-content", action="store_true", help="the posts are your own photos in the look")
    p.add_argument("--steps", type=int, default=FEED_STEPS)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    if a.filter:
        from real_filters import filters
        look = filters()[a.filter][1]
    else:
        look = L.random_look(FD.FEED_SEED)
    root = Path(tempfile.mkdtemp())
    content, styled = FD.make_folders(root, look)
    if a.same_content:        # the same 9 photos, in the look: what the look alone teaches
        fn = FD.as_function(look)
        for f in sorted(content.iterdir()):
            x = to_tensor(Image.open(f).convert("RGB"))[None]
            FD._save_png(fn(x, grain=True, seed=1)[0], styled / f"post_{f.stem}.png")
        for f in list(styled.glob("post_[0-9][0-9].png")):
            f.unlink()
    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), "content_dir": str(content), "styled_dir": str(styled),
                                 "init": "pretrained", "steps": a.steps, "device": "cpu", "out": str(root / "run"),
                                 "sample_every": 0, "ckpt_every": 10 ** 6})
    tr = Trainer(cfg, progress=False)
    refs = [Image.open(f).convert("RGB") for f in sorted(styled.iterdir())]
    curve, t0 = [], time.perf_counter()
    for k in range(0, a.steps + 1, a.every):
        if k:
            tr.fit(until=k)
        tr.save()
        m = load_model(root / "run")
        s = m.style_code(reference=refs)
        curve.append([k, round(FD.score(lambda x: m.stylize(x, style=s), look)["delta_e"], 2)])
        print(*curve[-1], flush=True)
    identity = FD.score(lambda x: x, look)["delta_e"]
    key = f"{a.filter or look.name}{' (same content)' if a.same_content else ''}"
    entry = {"date": _report.now(), "command": _report.command(), "look": key, "identity": round(identity, 2),
             "curve": curve, "seconds": round(time.perf_counter() - t0)}
    print(json.dumps(entry))
    if a.no_write:
        return 0
    res = json.loads(RES.read_text()) if RES.exists() else {}
    res[key] = entry
    RES.write_text(json.dumps(res, indent=1) + "\n")
    steps = sorted({k for e in res.values() for k, _ in e["curve"]})
    lines = ["## Fine-tuning on your own feed, step by step (`benchmarks/feed_trajectory.py`)", "",
             "The CLI's default fine-tune (`train looks --content --styled`: 9 own photos, 9 posts), mean ΔE2000 "
             "of the EMA weights on the held-out test crops every 50 steps; step 0 is the shipped model given "
             "the posts as references. *Same content*: the posts are the 9 own photos in the look (still "
             "unpaired). Commands: `" + "`, `".join(sorted({e["command"] for e in res.values()})) + "`.", "",
             "| look | doing nothing | " + " | ".join(str(k) for k in steps) + " |",
             "|---|---|" + "---|" * len(steps)]
    for e in res.values():
        c = dict((k, v) for k, v in e["curve"])
        lines.append(f"| {e['look']} | {e['identity']:.2f} | " + " | ".join(
            f"{c[k]:.2f}" if k in c else "" for k in steps) + " |")
    _report.write_section("feed_trajectory", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

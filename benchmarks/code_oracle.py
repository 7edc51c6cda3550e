"""Where the looks model's error is: in G's code space, or in the style encoder E that finds a code?

    python benchmarks/code_oracle.py                              # shipped weights
    python benchmarks/code_oracle.py --checkpoint runs/looks_encoder
    python benchmarks/code_oracle.py --json benchmarks/results/code_oracle.json

For each look it compares, on held-out test crops, mean ΔE2000 to the exact answer of:

* doing nothing;
* the model as users run it: G with E's code from posts of *other* photos (`stylize(reference=)`);
* E given posts of the *same* crops (content-matched posts; the slider looks only): how much of
  E's error comes from the posts showing other content;
* the **oracle code**: the style code found by gradient descent on the scored crops' own exact
  answers (Adam, lr 0.05, 100 steps, from E's code), G fixed. It uses the answer, so it is a
  bound on what G can express with one code per look, not a method.

Looks: the 10 held-out slider looks (`random_look(10000..10009)`, 5 posts, 64 px crops, the
protocol of `condition_learning.evaluate`) and the 17 *test* filters of `real_filters.py`
(5 posts of other photos, 128 px). If the oracle is far below the model, G can make the looks
and E does not find their codes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_filters as RF  # noqa: E402
from influencer_gan import looks as L  # noqa: E402
from influencer_gan import metrics  # noqa: E402
from influencer_gan.api import WEIGHTS_DIR, load_model  # noqa: E402
from influencer_gan.train import to_net  # noqa: E402


def oracle(model, x: torch.Tensor, truth: torch.Tensor, start: torch.Tensor, steps: int = 100) -> torch.Tensor:
    """G's output with the code that fits `truth` best (gradient descent from `start`)."""
    G = model.nets["G"]
    c = torch.tensor([[0.0, 0.0, 1.0]]).expand(x.shape[0], -1)
    s = start.reshape(1, -1).clone().requires_grad_(True)
    opt = torch.optim.Adam([s], lr=0.05)
    for _ in range(steps):
        loss = ((G(to_net(x), s.expand(x.shape[0], -1), c) + 1) / 2 - truth).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return ((G(to_net(x), s.expand(x.shape[0], -1), c) + 1) / 2).clamp(0, 1)


def measure(model) -> dict:
    de = lambda a, b: metrics.delta_e2000(a.clamp(0, 1), b)  # noqa: E731
    out = {"slider": {}, "filters": {}}
    x = metrics.test_crops(64, 2)
    posts = metrics.reference_crops(5, 64, seed=3)
    for i in range(10000, 10010):
        look = L.random_look(i)
        truth = L.apply(x, look, grain=False)
        other = list(L.apply(posts, look, grain=True, seed=1))
        same = list(L.apply(x[:5], look, grain=True, seed=1))
        with torch.no_grad():
            s0 = model.style_code(reference=other)
            row = {"identity": de(x, truth), "model": de(model.stylize(x, reference=other), truth),
                   "same_content_posts": de(model.stylize(x, reference=same), truth)}
        row["oracle_code"] = de(oracle(model, x, truth, s0), truth)
        out["slider"][f"random_look({i})"] = row
    x = metrics.test_crops(RF.SIZE, 2)
    posts = RF.posts_content()
    for name, (split, fn) in RF.filters().items():
        if split != "test":
            continue
        truth = torch.stack([RF._tensor(fn(RF._pil(c))) for c in x])
        refs = [RF._tensor(fn(RF._pil(c))) for c in posts]
        with torch.no_grad():
            s0 = model.style_code(reference=refs)
            row = {"identity": de(x, truth), "model": de(model.stylize(x, reference=refs), truth)}
        row["oracle_code"] = de(oracle(model, x, truth, s0), truth)
        out["filters"][name] = row
        print(f"{name:22s} doing nothing {row['identity']:5.2f}  model {row['model']:5.2f}  "
              f"oracle code {row['oracle_code']:5.2f}", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=WEIGHTS_DIR / "looks")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    a = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    model = load_model(a.checkpoint, device="cpu")
    r = measure(model)
    for group, rows in list(r.items()):
        keys = list(next(iter(rows.values())))
        means = {k: float(np.mean([row[k] for row in rows.values()])) for k in keys}
        r[f"{group}_mean"] = means
        print(f"{group} ({len(rows)} looks), mean ΔE2000: " + ", ".join(f"{k} {v:.2f}" for k, v in means.items()))
    if a.json:
        r["checkpoint"] = os.path.relpath(a.checkpoint, ROOT)
        r["command"] = "python benchmarks/code_oracle.py " + " ".join(argv if argv is not None else sys.argv[1:])
        a.json.write_text(json.dumps(r, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

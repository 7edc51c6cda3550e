"""Can G learn the personal condition c without pairs? Short runs of the article's CBN
generator (head "color") under the "intensity" definition of c, with and without the
pair-free consistency loss, measured against the exact answer.

    python benchmarks/condition_learning.py                   # 300 steps per variant
    python benchmarks/condition_learning.py --steps 1000 --write

Every variant trains the same small recipe — the colour head (ngf 16, 2 blocks, 32 px), batch
32, named looks and a pool of 200 prior looks, `condition="intensity"` (strength is the look's
intensity, vivid and warmth adjust after it; `looks.personal_edit`), unpaired (adversarial +
cycle losses, no ground truth) — and differs only in `lambda_cond`, the weight of
`losses.condition_consistency`. Then, on the held-out test crops (64 px), with each named look
described by 5 posts of held-out photos:

* **named looks**: mean ΔE2000 to the exact answer at c = (0, 0, 1), (0, 0, 0.5), (1, 0, 1),
  (0, 1, 1);
* **strength 0**: ΔE2000 between G's answer at c = (0, 0, 0) and the photo (the target is 0);
* **each slider's end-to-end change**: how far moving one knob moves G's answer, divided by how
  far it moves the exact answer (strength 0 → 1, vivid 0 → 1, warmth 0 → 1; the target is 1).

These are short runs for choosing a design, not converged models.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from influencer_gan import looks as L  # noqa: E402
from influencer_gan import metrics  # noqa: E402
from influencer_gan.api import load_model  # noqa: E402
from influencer_gan.train import TrainConfig, Trainer  # noqa: E402

RECIPE = dict(task="looks", head="color", ngf=16, n_blocks=2, work_size=32, image_size=32, batch_size=32,
              refs=6, looks="mixed", prior_pool=200, condition="intensity", device="cpu",
              sample_every=0, log_every=25)
CS = {"c0": (0.0, 0.0, 1.0), "half": (0.0, 0.0, 0.5), "vivid": (1.0, 0.0, 1.0), "warm": (0.0, 1.0, 1.0),
      "zero": (0.0, 0.0, 0.0)}


def de(a: torch.Tensor, b: torch.Tensor) -> float:
    return metrics.delta_e2000(a.clamp(0, 1), b.clamp(0, 1))


def evaluate(run: Path) -> dict:
    model = load_model(run, device="cpu")
    x = metrics.test_crops(64, 1)
    posts = metrics.reference_crops(5, 64, seed=3)
    rows = {k: [] for k in ("named", "zero", "ratio_strength", "ratio_vivid", "ratio_warmth")}
    for name, look in L.NAMED.items():
        refs = list(L.apply(posts, look, grain=True, seed=1))
        style = model.style_code(reference=refs)
        out = {k: model.stylize(x, style=style, vivid=v, warmth=w, strength=s) for k, (v, w, s) in CS.items()}
        truth = {k: L.apply(x, look, v, w, s, grain=False, condition="intensity") for k, (v, w, s) in CS.items()}
        rows["named"].append(np.mean([de(out[k], truth[k]) for k in ("c0", "half", "vivid", "warm")]))
        rows["zero"].append(de(out["zero"], x))
        for knob, (a, b) in (("strength", ("zero", "c0")), ("vivid", ("c0", "vivid")), ("warmth", ("c0", "warm"))):
            rows[f"ratio_{knob}"].append(de(out[a], out[b]) / max(de(truth[a], truth[b]), 1e-6))
    return {k: float(np.mean(v)) for k, v in rows.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 1.0, 10.0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="write the condition_learning section of RESULTS.md")
    a = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lam in a.lambdas:
            cfg = TrainConfig(**RECIPE, steps=a.steps, seed=a.seed, lambda_cond=lam, out=str(Path(tmp) / f"l{lam:g}"))
            torch.manual_seed(a.seed)
            t0 = time.perf_counter()
            Trainer(cfg, progress=False).fit()
            results[lam] = {**evaluate(Path(cfg.out)), "seconds": time.perf_counter() - t0}
            print(f"lambda_cond {lam:g}: {results[lam]}", flush=True)
    lines = ["| lambda_cond | named looks, 4 c's | strength 0: ΔE to the photo | strength change ratio | "
             "vivid change ratio | warmth change ratio | train s |", "|---|---|---|---|---|---|---|"]
    for lam, r in results.items():
        lines.append(f"| {lam:g} | {r['named']:.2f} | {r['zero']:.2f} | {r['ratio_strength']:.2f} | "
                     f"{r['ratio_vivid']:.2f} | {r['ratio_warmth']:.2f} | {r['seconds']:.0f} |")
    table = "\n".join(lines)
    print(table)
    if a.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import _report
        body = "\n".join([
            "## Learning c without pairs (`benchmarks/condition_learning.py`)", "",
            f"- date: {_report.now()}; command: `{_report.command()}`; {a.steps} steps per variant, seed {a.seed}",
            "- recipe: colour head (CBN encoder-decoder, ngf 16, 2 blocks), 32 px, batch 32, named looks + 200 "
            "prior looks, c as `condition=\"intensity\"`, unpaired; short runs for choosing a design, not "
            "converged models. Targets: strength 0 within 1 ΔE of the photo, change ratios 0.8-1.25", "", table])
        _report.save("condition_learning", {"steps": a.steps, "seed": a.seed,
                                            "results": {str(k): v for k, v in results.items()}},
                     body, _report.RESULTS, quick=False, no_write=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

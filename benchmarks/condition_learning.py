"""Can G learn the personal condition c without pairs? Short runs of the article's CBN
generator (head "color") under the "intensity" definition of c, with and without the
pair-free consistency loss, measured against the exact answer.

    python benchmarks/condition_learning.py                   # 300 steps per variant
    python benchmarks/condition_learning.py --steps 500 --write
    python benchmarks/condition_learning.py --steps 500 --variants edit --write   # add one row
    python benchmarks/condition_learning.py --evaluate influencer_gan/weights/looks   # a trained model

Every variant trains the same small recipe — the colour head (ngf 16, 2 blocks, 32 px), batch
32, named looks and a pool of 200 prior looks, `condition="intensity"` (strength is the look's
intensity, vivid and warmth adjust after it; `looks.personal_edit`), unpaired (adversarial +
cycle losses, no ground truth) — and differs only in how c gets in: through every CBN
(`c_route="cbn"`) with `lambda_cond`, the weight of `losses.condition_consistency`, at 0, 1
or 10 (variants "cbn:0", "cbn:1", "cbn:10"), or applied by its definition to G's full-strength
look (`c_route="edit"`, variant "edit"). Then, on the held-out test crops (64 px), with each named look
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
              refs=6, looks="mixed", prior_pool=200, condition="intensity", basis="cubic", device="cpu",
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
    changes = {k: ([], []) for k in ("strength", "vivid", "warmth")}   # (model's, defined) per look
    for name, look in L.NAMED.items():
        refs = list(L.apply(posts, look, grain=True, seed=1))
        style = model.style_code(reference=refs)
        out = {k: model.stylize(x, style=style, vivid=v, warmth=w, strength=s) for k, (v, w, s) in CS.items()}
        truth = {k: L.apply(x, look, v, w, s, grain=False, condition="intensity") for k, (v, w, s) in CS.items()}
        rows["named"].append(np.mean([de(out[k], truth[k]) for k in ("c0", "half", "vivid", "warm")]))
        rows["zero"].append(de(out["zero"], x))
        for knob, (a, b) in (("strength", ("zero", "c0")), ("vivid", ("c0", "vivid")), ("warmth", ("c0", "warm"))):
            made, defined = de(out[a], out[b]), de(truth[a], truth[b])
            rows[f"ratio_{knob}"].append(made / max(defined, 1e-6))
            changes[knob][0].append(made)
            changes[knob][1].append(defined)
    out = {k: float(np.mean(v)) for k, v in rows.items()}
    # `ratio_*` is the mean of the per-look ratios: a look whose defined change is tiny (vivid on
    # noir, a grey look: 0.8 ΔE) dominates it. `change_*` is the mean change the model makes over
    # the mean defined change, over the same looks; `ratios_*` keeps each look's ratio.
    for knob, (made, defined) in changes.items():
        out[f"change_{knob}"] = float(np.mean(made) / max(np.mean(defined), 1e-6))
        out[f"ratios_{knob}"] = {name: round(m / max(d, 1e-6), 3) for name, m, d in zip(L.NAMED, made, defined)}
        out[f"defined_{knob}"] = {name: round(d, 3) for name, d in zip(L.NAMED, defined)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--variants", nargs="+", default=["cbn:0", "cbn:1", "cbn:10", "edit"],
                    help="cbn:LAMBDA_COND or edit; with --write, rows of other variants already in "
                         "results/condition_learning.json at the same --steps and --seed are kept")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="write the condition_learning section of RESULTS.md")
    ap.add_argument("--evaluate", type=Path, help="only measure this trained model (a run folder or weights)")
    a = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    if a.evaluate:
        r = evaluate(a.evaluate)
        print(f"{a.evaluate}: named looks {r['named']:.2f}; strength 0: ΔE {r['zero']:.2f} to the photo; change ratios "
              f"(mean change / mean defined change): strength {r['change_strength']:.2f}, vivid {r['change_vivid']:.2f}, "
              f"warmth {r['change_warmth']:.2f}; mean of the per-look ratios: strength {r['ratio_strength']:.2f}, "
              f"vivid {r['ratio_vivid']:.2f}, warmth {r['ratio_warmth']:.2f}")
        for knob in ("strength", "vivid", "warmth"):
            print(f"  {knob}, each look (model's change / defined change, defined ΔE): " + ", ".join(
                f"{n} {v:.2f} ({r[f'defined_{knob}'][n]:.1f})" for n, v in r[f"ratios_{knob}"].items()))
        return 0
    results = {}
    stored = Path(__file__).resolve().parent / "results" / "condition_learning.json"
    if a.write and stored.exists():
        import json
        old = json.loads(stored.read_text())
        if old.get("steps") == a.steps and old.get("seed") == a.seed:
            # rows written before variants had names were lambda_cond values of the CBN route
            results = {(k if k == "edit" or k.startswith("cbn:") else f"cbn:{float(k):g}"): v
                       for k, v in old["results"].items()}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in a.variants:
            route, _, lam = variant.partition(":")
            if route not in ("cbn", "edit") or (route == "cbn") != bool(lam):
                ap.error(f"--variants: {variant!r} is not cbn:LAMBDA or edit")
            cfg = TrainConfig(**RECIPE, steps=a.steps, seed=a.seed, c_route=route, lambda_cond=float(lam or 0),
                              out=str(Path(tmp) / variant.replace(":", "_")))
            torch.manual_seed(a.seed)
            t0 = time.perf_counter()
            Trainer(cfg, progress=False).fit()
            results[variant] = {**evaluate(Path(cfg.out)), "seconds": time.perf_counter() - t0}
            print(f"{variant}: {results[variant]}", flush=True)
    lines = ["| how c gets in | named looks, 4 c's | strength 0: ΔE to the photo | strength change ratio | "
             "vivid change ratio | warmth change ratio | train s |", "|---|---|---|---|---|---|---|"]
    label = lambda v: ("applied by its definition to G's full-strength look (`c_route=\"edit\"`)" if v == "edit"
                       else f"every CBN, consistency λ = {v.split(':')[1]}")
    for variant, r in results.items():
        lines.append(f"| {label(variant)} | {r['named']:.2f} | {r['zero']:.2f} | {r['ratio_strength']:.2f} | "
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

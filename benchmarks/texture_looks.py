"""Texture looks (issue 19): can the document's CBN generator learn to *paint*, without pairs?

    python benchmarks/texture_looks.py --look oil_paint --steps 300        # ~40 min, 1 thread
    python benchmarks/texture_looks.py --look cartoon --steps 300
    python benchmarks/texture_looks.py --steps 3 --no-write                 # smoke run
    python benchmarks/texture_looks.py --checkpoint runs/texture_oil_paint  # add a long run's row

`--checkpoint RUN` scores a finished `influencer-gan train looks --config configs/texture_LOOK.json`
run (the same data, longer) with the same protocol and adds its row to the look's table.

One named texture look (`textures.NAMED_TEXTURES`), learned as CycleGAN learns photo → Monet:
neutral crops x and *other* crops y painted in the look (`LookStream(looks="texture:NAME")`,
64 px crops painted as parts of a 256 px picture, marks and all). Every method gets the same
number of training steps (batch 8, 64 px) on this CPU, except the CycleGAN configuration, which
gets the same wall-clock as the unpaired CBN run (batch 1, as in the paper). Scored on the
held-out test crops against the exact rendering without the marks that are not a function of
the photo (`texture=False`: the brush-stroke noise, canvas, hatching and paper are drawn from a
seed no generator can know) with `metrics.texture_scores`: ΔE2000, SSIM, the multi-scale
gradient distance `structure`, and `texture_energy` (negative: too smooth; a painter that adds
strokes of its own scores above 0).

Methods:
* doing nothing (the photo);
* **unpaired, CBN G** — the package's recipe with the full-resolution convolutional head
  (`head="rgb"`: the §3.2 encoder-decoder with CBN on the style code, a residual on the photo),
  a PatchGAN D (`d_arch="patch"`), adversarial + cycle loss, no ground truth;
* unpaired, colour head — the shipped looks G (a per-pixel colour transform): a colour editor,
  which cannot paint;
* paired L1, no adversary — regression to the ground truth (`lambda_adv=0`): the blurry answer;
* paired L1 + adversarial — the paired upper bound at this budget;
* the CycleGAN configuration (`benchmarks/cyclegan_baseline.py`, from the paper) at equal
  wall-clock.

Writes benchmarks/results/texture_LOOK.json (or --json), a sample grid next to it, and the
`texture_looks` section of RESULTS.md (one table per look).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report  # noqa: E402
from influencer_gan import metrics as M  # noqa: E402
from influencer_gan import textures as T  # noqa: E402
from influencer_gan.streams import render_texture  # noqa: E402
from influencer_gan.train import TrainConfig, Trainer, to_img, to_net  # noqa: E402

SIZE, BATCH = 64, 8
BASE = dict(image_size=SIZE, work_size=SIZE, batch_size=BATCH, refs=2, ngf=16, n_blocks=2,
            d_arch="patch", ndf=32, device="cpu", log_every=25, sample_every=0, ckpt_every=10 ** 6)
METHODS = {
    "unpaired, CBN G (rgb head)": dict(head="rgb"),
    "unpaired, colour head (the shipped G)": dict(head="color", work_size=32),
    "paired L1, no adversary": dict(head="rgb", lambda_adv=0.0, lambda_paired=1.0, lambda_cyc=0.0),
    "paired L1 + adversarial (upper bound)": dict(head="rgb", lambda_paired=1.0),
}


def held_out(look: str):
    """The held-out test crops (64 px, 3 per test photo), a second set painted in the look as
    the references E reads, and both truths (without and with the marks)."""
    x = M.test_crops(SIZE, n_random=2)
    refs = M.reference_crops(6, SIZE, seed=1)
    looks = [T.get(look)] * len(x)
    truth = render_texture(x, looks, None, texture=False)
    marked = render_texture(x, looks, None, texture=True, seed=7)
    refs = render_texture(refs, [T.get(look)] * len(refs), None, texture=True, seed=8)
    return x, refs, truth, marked


def score(pred, truth, marked) -> dict:
    s = M.texture_scores(pred, truth)
    s["ssim_marked"] = M.texture_scores(pred, marked)["ssim"]
    return {k: round(float(v), 4) for k, v in s.items()}


def train_ours(look: str, overrides: dict, steps: int, folder: Path) -> tuple[Trainer, float]:
    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **BASE, **overrides,
                                 "looks": f"texture:{look}", "steps": steps, "out": str(folder),
                                 "val_every": 0})
    tr = Trainer(cfg, progress=False)
    t0 = time.perf_counter()
    tr.fit()
    return tr, time.perf_counter() - t0


@torch.no_grad()
def stylize_ours(tr: Trainer, x: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    E, G = tr.ema["E"], tr.ema["G"]
    s = E(to_net(refs)[None])
    c = torch.tensor([[0.0, 0.0, 1.0]]).expand(len(x), -1)
    return to_img(G(to_net(x), s.expand(len(x), -1), c))


def cyclegan(look: str, seconds: float, steps: int):
    from cyclegan_baseline import CycleGANTrainer

    class TextureCycleGAN(CycleGANTrainer):
        """The paper's CycleGAN on the same data: neutral crops and other crops in the look."""

        def batch(self):
            x = self.stream.atlas.crops(self.batch_size, self.size, self.gen)
            y = self.stream.atlas.crops(self.batch_size, self.size, self.gen)
            seed = int(torch.randint(2 ** 31 - 1, (), generator=self.gen))
            y = render_texture(y, [T.get(look)] * len(y), None, texture=True, seed=seed)
            return to_net(x), to_net(y)

    cg = TextureCycleGAN(image_size=SIZE, batch_size=1, steps=max(steps * BATCH, 1))
    info = cg.fit(max_seconds=seconds)
    return cg, info


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--look", default="oil_paint", choices=sorted(T.NAMED_TEXTURES))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-cyclegan", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="default: benchmarks/results/texture_LOOK.json")
    p.add_argument("--checkpoint", type=Path, help="score this trained run and add its row")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    a.json = a.json or ROOT / "benchmarks" / "results" / f"texture_{a.look}.json"
    x, refs, truth, marked = held_out(a.look)
    if a.checkpoint:
        return add_checkpoint(a, x, refs, truth, marked)
    res = {"date": _report.now(), "command": _report.command(), "machine": _report.machine(),
           "look": a.look, "steps": a.steps, "batch": BATCH, "size": SIZE, "threads": a.threads,
           "base": BASE, "methods": {}}
    res["methods"]["doing nothing (the photo)"] = {**score(x, truth, marked), "seconds": 0.0}
    print("doing nothing", res["methods"]["doing nothing (the photo)"])
    rows = [x, truth, marked]
    tmp = Path(tempfile.mkdtemp())
    unpaired_seconds = None
    for name, over in METHODS.items():
        tr, secs = train_ours(a.look, over, a.steps, tmp / str(len(res["methods"])))
        pred = stylize_ours(tr, x, refs)
        res["methods"][name] = {**score(pred, truth, marked), "seconds": round(secs, 1),
                                "overrides": over}
        rows.append(pred)
        if unpaired_seconds is None:
            unpaired_seconds = secs
        print(name, res["methods"][name], flush=True)
    if not a.no_cyclegan:
        cg, info = cyclegan(a.look, unpaired_seconds, a.steps)
        pred = cg.stylize(x)
        res["methods"]["CycleGAN configuration, equal wall-clock"] = {
            **score(pred, truth, marked), "seconds": round(info["seconds"], 1), "steps_batch1": info["steps"]}
        rows.append(pred)
        print("cyclegan", res["methods"]["CycleGAN configuration, equal wall-clock"])
    shutil.rmtree(tmp, ignore_errors=True)
    if a.no_write:
        return 0
    from torchvision.utils import save_image
    grid = a.json.with_suffix(".png")
    save_image(torch.cat([r[:6] for r in rows]), grid, nrow=6, padding=1)
    res["grid_rows"] = ["photo", "truth (no marks)", "truth (with marks)"] + list(res["methods"])[1:]
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=2) + "\n")
    write_section()
    return 0


def add_checkpoint(a, x, refs, truth, marked) -> int:
    """Score a finished run (its EMA weights, through the public loader) and add its row."""
    from influencer_gan.api import load_model
    from influencer_gan.train import read_checkpoint
    model = load_model(a.checkpoint, device="cpu")
    if model.config.looks != f"texture:{a.look}":
        raise SystemExit(f"{a.checkpoint} was trained on looks={model.config.looks!r}, not texture:{a.look}")
    meta = read_checkpoint(a.checkpoint / "checkpoint.safetensors")[1]
    history = json.loads(meta.get("history", "[]"))
    with torch.no_grad():
        pred = model.stylize(x, reference=list(refs))
    row = {**score(pred, truth, marked), "seconds": round(history[-1]["seconds"], 1) if history else 0.0,
           "steps": int(meta["step"]), "command": f"influencer-gan train looks --config configs/texture_{a.look}.json"}
    print(row)
    if a.no_write:
        return 0
    res = json.loads(a.json.read_text())
    res["methods"][f"unpaired, CBN G (rgb head), {row['steps']} steps (`configs/texture_{a.look}.json`)"] = row
    res["checkpoint_scored"] = {"date": _report.now(), "command": _report.command()}
    a.json.write_text(json.dumps(res, indent=2) + "\n")
    write_section()
    return 0


def write_section() -> None:
    """The `texture_looks` section of RESULTS.md, from every results/texture_*.json."""
    parts = ["## Texture looks: can the CBN generator paint? (`benchmarks/texture_looks.py`)\n",
             "Each look learned from neutral crops and *other* crops painted in it (64 px crops of a "
             "256 px picture), batch 8, on this CPU, one thread per run (other jobs shared the two cores, so "
             "the seconds say only roughly how long each method took); the CycleGAN configuration gets the "
             "unpaired CBN run's wall-clock at batch 1. Scored on the held-out test crops against the "
             "exact rendering without the marks no generator can know (`texture=False`); "
             "`SSIM, marked` is against the rendering with them. `texture energy`: log ratio of "
             "gradient energy to the truth's (negative: too smooth). Sample grids beside the results: "
             "`results/texture_LOOK.png` (rows: photo, truth without and with the marks, then each method "
             "in table order) and, for the long oil-paint run, `results/texture_oil_paint_long_run_samples.png` "
             "(the run's own grid at step 3,000: photos, G, posts, truth).\n"]
    for f in sorted((ROOT / "benchmarks" / "results").glob("texture_*.json")):
        r = json.loads(f.read_text())
        parts.append(f"\n### `{r['look']}`: {r['steps']} steps (measured {r['date']}; `{r['command']}`)\n")
        parts.append("| method | ΔE2000 ↓ | SSIM ↑ | SSIM, marked ↑ | structure ↓ | texture energy | seconds |")
        parts.append("|---|---|---|---|---|---|---|")
        for name, s in r["methods"].items():
            parts.append(f"| {name} | {s['delta_e']:.2f} | {s['ssim']:.3f} | {s['ssim_marked']:.3f} | "
                         f"{s['structure']:.3f} | {s['texture_energy']:+.2f} | {s['seconds']:.0f} |")
    _report.write_section("texture_looks", "\n".join(parts) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())

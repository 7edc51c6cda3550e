"""Looks made by other people's tools: how close does a looks model come, told a filter only by
5 posts of *other* photos? A development set for the looks model, split into val and test.

    python benchmarks/real_filters.py                        # shipped looks weights
    python benchmarks/real_filters.py --checkpoint runs/looks --split val
    python benchmarks/real_filters.py --write           # the real_filters section of RESULTS.md

The filters come from two libraries that have nothing to do with this package (both on PyPI,
installed by requirements-dev.txt; nothing is downloaded at run time):

* `pilgram` (Apache-2.0): 26 Instagram filters re-implemented with CSS filter and blend
  operations — curves, overlays, radial gradients, sepia, channel mixes;
* `pillow-lut` (`rgb_color_enhance`): 3D LUTs of a photo editor's global adjustments
  (brightness, exposure, contrast, warmth, saturation, vibrance, hue, gamma), 10 random presets.

Each source is split by filter, alternately, into **val** (for choosing designs) and **test**
(for reporting only): pilgram's sorted names at even positions are val, odd are test; presets 0-4
are val, 5-9 test. Scored content: the package's held-out test photos (their centre and two
random crops, 128 px). The posts that describe a filter: 5 crops of the val photos and the
val/test scenes — other photos than the scored ones — edited with the same filter. Every score
is the mean ΔE2000 to the filter's exact output (the library's own rendering of the scored
crop), beside doing nothing. This benchmark measures; it does not train on any of these filters.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from influencer_gan import metrics  # noqa: E402
from influencer_gan.api import WEIGHTS_DIR, load_model  # noqa: E402
from influencer_gan.data import crop_boxes, cut, load_photos, load_scenes  # noqa: E402

SIZE, N_POSTS = 128, 5


def _pil(t: torch.Tensor) -> Image.Image:
    return Image.fromarray((t.clamp(0, 1).permute(1, 2, 0) * 255).round().byte().numpy())


def _tensor(im: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1).float() / 255


def filters() -> dict[str, tuple[str, callable]]:
    """name -> (split, function PIL -> PIL) for every filter of the development set."""
    try:
        import pilgram
        import pillow_lut
    except ImportError as e:
        raise SystemExit(f"{e.name} is missing: pip install -r requirements-dev.txt") from None
    out = {}
    names = sorted(n for n in dir(pilgram) if not n.startswith("_") and n not in ("css", "types", "util")
                   and callable(getattr(pilgram, n)))
    for i, name in enumerate(names):
        out[f"pilgram.{name}"] = ("val" if i % 2 == 0 else "test", getattr(pilgram, name))
    rng = np.random.default_rng(2024)
    for i in range(10):
        p = dict(brightness=rng.uniform(-0.2, 0.2), exposure=rng.uniform(-0.4, 0.4),
                 contrast=rng.uniform(-0.3, 0.5), warmth=rng.uniform(-0.5, 0.5),
                 saturation=rng.uniform(-0.6, 0.6), vibrance=rng.uniform(-0.4, 0.6),
                 hue=rng.uniform(0.0, 0.1), gamma=float(np.exp(rng.uniform(-0.3, 0.3))))
        lut = pillow_lut.rgb_color_enhance(17, **p)
        out[f"pillow_lut.preset{i}"] = ("val" if i < 5 else "test", lambda im, lut=lut: im.filter(lut))
    return out


def posts_content(n: int = N_POSTS, size: int = SIZE) -> torch.Tensor:
    """Neutral crops of other photos than the scored ones: the val photos and val/test scenes."""
    sources = [im for _, im in load_photos("val")] + [im for s in ("val", "test") for _, im in load_scenes(s)]
    g = torch.Generator().manual_seed(7)
    return cut(sources, crop_boxes([tuple(s.shape[-2:]) for s in sources], n, g, scale=(0.25, 1.0)), size)


def evaluate(model, split: str = "all") -> dict:
    x = metrics.test_crops(SIZE, 2)
    posts = posts_content()
    rows = {}
    for name, (sp, fn) in filters().items():
        if split != "all" and sp != split:
            continue
        truth = torch.stack([_tensor(fn(_pil(c))) for c in x])
        refs = [_tensor(fn(_pil(c))) for c in posts]
        with torch.no_grad():
            out = model.stylize(x, reference=refs)
        rows[name] = {"split": sp, "identity": metrics.delta_e2000(x, truth),
                      "model": metrics.delta_e2000(out.cpu(), truth)}
    return rows


def table(rows: dict) -> str:
    lines = ["| filter | split | doing nothing | model from 5 posts | better than nothing |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['split']} | {r['identity']:.2f} | {r['model']:.2f} | "
                     f"{'yes' if r['model'] < r['identity'] else '**no**'} |")
    for sp in ("val", "test"):
        rs = [r for r in rows.values() if r["split"] == sp]
        if rs:
            lines.append(f"| **mean, {sp}** ({len(rs)} filters) | {sp} | {np.mean([r['identity'] for r in rs]):.2f} | "
                         f"{np.mean([r['model'] for r in rs]):.2f} | "
                         f"{sum(r['model'] < r['identity'] for r in rs)} of {len(rs)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=WEIGHTS_DIR / "looks")
    ap.add_argument("--split", choices=("val", "test", "all"), default="all")
    ap.add_argument("--write", action="store_true", help="write the real_filters section of RESULTS.md "
                    "and results/real_filters.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    model = load_model(a.checkpoint, device="cpu")
    rows = evaluate(model, a.split)
    shown = os.path.relpath(a.checkpoint, ROOT)
    print(f"model: {shown}; {len(metrics.test_crops(SIZE, 2))} held-out crops at {SIZE} px, "
          f"{N_POSTS} posts of other photos per filter; mean ΔE2000 to each filter's own output\n")
    print(table(rows))
    if a.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import _report
        body = "\n".join([
            "## Looks from other people's tools (`benchmarks/real_filters.py`)", "",
            f"- date: {_report.now()}; command: `{_report.command()}`; model: {shown}",
            f"- {len(metrics.test_crops(SIZE, 2))} held-out test crops at {SIZE} px; each filter described by "
            f"{N_POSTS} posts of other photos; mean ΔE2000 to the library's own rendering. Filters: "
            "`pilgram` (26 Instagram filters, Apache-2.0) and `pillow-lut` (10 random editor presets); "
            "val is for choosing designs, test only for reporting", "", table(rows)])
        _report.save("real_filters", {"rows": rows, "checkpoint": shown}, body, _report.RESULTS,
                     quick=False, no_write=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

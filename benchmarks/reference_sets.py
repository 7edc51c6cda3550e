"""How much does a reference-guided result depend on *which* reference photos describe the look?

    python benchmarks/reference_sets.py [--checkpoint RUN] [--looks 6]

For the first `--looks` unseen looks of the evaluation protocol (`random_look(10000...)`), the
held-out test crops (128 px) are restyled from three different descriptions of the same look:
the 5 held-out references of the protocol, 5 crops of *training* photos, and 40 held-out
references; ΔE2000 against the exact ground truth, beside doing nothing. Prints a table; writes
nothing. (The numbers behind the "unseen looks" paragraph of the looks model card.)
"""
import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from influencer_gan import data, looks as L, metrics  # noqa: E402
from influencer_gan.api import WEIGHTS_DIR, load_model  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=WEIGHTS_DIR / "looks")
    ap.add_argument("--looks", type=int, default=6)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model(a.checkpoint)
    x = metrics.test_crops(128, 1)
    train = data.LookStream(128, 8, "train", 5, "named", 0)
    g = torch.Generator().manual_seed(5)
    shown = os.path.relpath(a.checkpoint, Path(__file__).resolve().parents[1])
    print(f"model: {shown}; ΔE2000 on {x.shape[0]} held-out crops at 128 px\n")
    print("| unseen look | do nothing | 5 held-out refs (protocol) | 5 training-photo refs | 40 held-out refs |")
    print("|---|---|---|---|---|")
    for seed in metrics.UNSEEN_SEEDS[:a.looks]:
        look = L.random_look(seed)
        truth = L.apply(x, look, grain=False)
        sets = [L.apply(metrics.reference_crops(5, 128, seed), look, grain=True, seed=seed),
                L.apply(train.neutral_crops(5, g), look, grain=True, seed=seed),
                L.apply(metrics.reference_crops(40, 128, seed), look, grain=True, seed=seed)]
        scores = [metrics.delta_e2000(model.stylize(x, reference=list(r)), truth) for r in sets]
        print(f"| random_look({seed}) | {metrics.delta_e2000(x, truth):.2f} | "
              + " | ".join(f"{s:.2f}" for s in scores) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

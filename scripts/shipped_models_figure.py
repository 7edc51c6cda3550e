"""Draw docs/shipped_models.png, the README's picture of the shipped weights at work.

    python scripts/shipped_models_figure.py

Row 1: a held-out test photo, then for four named looks the exact ground truth
(`looks.apply`) beside `load_pretrained("looks").stylize` (pairs: truth | model).
Rows 2-3: `load_pretrained("avatars").generate(8, seed=1)` with smile=yes, then smile=no.
"""
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.utils import make_grid, save_image

import influencer_gan as ig
from influencer_gan import looks as L, metrics

OUT = Path(__file__).resolve().parents[1] / "docs" / "shipped_models.png"


def main() -> None:
    torch.set_num_threads(1)
    model = ig.load_pretrained("looks", device="cpu")
    x = metrics.test_crops(160, 0)[:1]
    tiles = [x[0]]
    for name in ("teal_orange", "pastel", "noir", "neon_night"):
        tiles += [L.apply(x, name, grain=False)[0], model.stylize(x, look=name)[0]]
    looks_row = make_grid(torch.stack(tiles), nrow=9, padding=4, pad_value=1.0)
    avatars = ig.load_pretrained("avatars", device="cpu")
    faces = torch.cat([avatars.generate(8, attrs={"smile": s}, seed=1, return_tensor=True)[0]
                       for s in ("yes", "no")])
    faces = F.interpolate(faces, scale_factor=2.5, mode="nearest")
    face_rows = make_grid(faces, nrow=8, padding=4, pad_value=1.0)
    w = max(looks_row.shape[-1], face_rows.shape[-1])
    pad = lambda t: F.pad(t, (0, w - t.shape[-1]), value=1.0)  # noqa: E731
    save_image(torch.cat([pad(looks_row), pad(face_rows)], 1), OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

"""Draw data/previews/textures.png, the data card's picture of the texture looks.

    OMP_NUM_THREADS=1 python scripts/texture_previews.py

One row per bundled validation image (the Hubble deep field and two procedural scenes of
`photos.load_sources("val")`), centre square at 192 px: the image, then each look of
`textures.NAMED_TEXTURES` at full strength (seed 0, texture on).
"""
import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.utils import make_grid

from influencer_gan import textures as T
from influencer_gan.photos import load_sources

OUT = Path(__file__).resolve().parents[1] / "data" / "previews" / "textures.png"
SOURCES = ("hubble_deep_field", "scene_hills_val0", "scene_flatlay_val0")


def square(img: torch.Tensor, size: int) -> torch.Tensor:
    """The centre square of `img` (3, H, W), resized to `size` px, as (1, 3, size, size)."""
    h, w = img.shape[-2:]
    s = min(h, w)
    sq = img[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return F.interpolate(sq[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()
    torch.set_num_threads(1)
    sources = dict(load_sources("val")[0])
    tiles = []
    for name in SOURCES:
        x = square(sources[name], a.size)
        tiles += [x[0]] + [T.apply(x, look, seed=0)[0] for look in T.NAMED_TEXTURES]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    grid = make_grid(torch.stack(tiles), nrow=1 + len(T.NAMED_TEXTURES), padding=4, pad_value=1.0)
    pixels = (grid * 255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
    Image.fromarray(pixels).save(a.out, optimize=True, compress_level=9)
    print(f"wrote {a.out} (columns: photo, {', '.join(T.NAMED_TEXTURES)}; rows: {', '.join(SOURCES)})")


if __name__ == "__main__":
    main()

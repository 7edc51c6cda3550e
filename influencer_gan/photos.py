"""The bundled photos and scenes, and the multi-scale random crops cut from them (§3.1).

* **Photos.** The colour photographs that ship inside scikit-image's wheel (public domain / CC0,
  see `PHOTOS` and data/README.md): nothing is downloaded. Whole photographs are held out: the
  validation and test photos are never cropped for training (§3.1, step 3: split the data).
* **Scenes.** A few procedural scenes (sunsets, skies, hills, bokeh, flat lays) add colours the
  photos lack; fixed seeds per split make them the same everywhere.
* **Crops.** `random_crops` draws multi-scale square crops with flips from any list of images;
  `crop_boxes` draws the boxes and `cut` cuts and resizes them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

SPLITS = ("train", "val", "test")

# ----------------------------------------------------------------------------------------
# Photos: the colour photographs bundled in scikit-image's wheel (no download).
# ----------------------------------------------------------------------------------------


def _skimage(name: str, index: Optional[int] = None) -> Callable[[], np.ndarray]:
    def load():
        import skimage.data
        out = getattr(skimage.data, name)()
        return out[index] if index is not None else out
    load.__name__ = f"skimage.data.{name}" + (f"()[{index}]" if index is not None else "()")
    return load


@dataclass(frozen=True)
class PhotoInfo:
    """One bundled source photograph: where it comes from, its licence, and its split."""
    name: str
    loader: Callable[[], np.ndarray]
    split: str
    licence: str
    credit: str
    description: str


PHOTOS: tuple[PhotoInfo, ...] = (
    PhotoInfo("astronaut", _skimage("astronaut"), "train", "public domain",
              "NASA (Great Images database)", "portrait of astronaut Eileen Collins"),
    PhotoInfo("rocket", _skimage("rocket"), "train", "public domain",
              "SpaceX (Falcon 9 / DSCOVR launch)", "rocket on the launch pad at dusk"),
    PhotoInfo("motorcycle_left", _skimage("stereo_motorcycle", 0), "train",
              "Middlebury 2014 stereo data set, redistributed by scikit-image (cite Scharstein "
              "et al., GCPR 2014)", "N. Nesic, P. Westling, X. Wang, Y. Kitajima, G. Krathwohl, "
              "D. Scharstein (Middlebury College)", "motorcycle in a studio, left view"),
    PhotoInfo("motorcycle_right", _skimage("stereo_motorcycle", 1), "train",
              "Middlebury 2014 stereo data set, redistributed by scikit-image (cite Scharstein "
              "et al., GCPR 2014)", "N. Nesic, P. Westling, X. Wang, Y. Kitajima, G. Krathwohl, "
              "D. Scharstein (Middlebury College)", "the same motorcycle, right view (same split "
              "as the left view, so no scene leaks across splits)"),
    PhotoInfo("hubble_deep_field", _skimage("hubble_deep_field"), "val", "public domain",
              "NASA / ESA (HubbleSite)", "Hubble eXtreme Deep Field"),
    PhotoInfo("coffee", _skimage("coffee"), "test", "CC0", "Rachel Michetti (Pikolo Espresso Bar)",
              "a cup of coffee on a wooden table"),
    PhotoInfo("chelsea", _skimage("chelsea"), "test", "CC0", "Stefan van der Walt",
              "Chelsea the cat"),
)
MAX_SIDE = 640  # bundled photos are stored at most this large (only the Hubble field is bigger)


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a[..., :3])).permute(2, 0, 1).float() / 255.0


def _shrink(x: torch.Tensor, max_side: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if max(h, w) <= max_side:
        return x
    k = max_side / max(h, w)
    size = (max(1, round(h * k)), max(1, round(w * k)))
    return F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


@lru_cache(maxsize=None)
def _photo(name: str) -> torch.Tensor:
    info = {p.name: p for p in PHOTOS}[name]
    return _shrink(_to_tensor(info.loader()), MAX_SIDE)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return split


def load_photos(split: str) -> list[tuple[str, torch.Tensor]]:
    """The bundled photos of a split as `(name, image (3,H,W) in [0,1])`, loaded once and cached.

    The split is by whole photograph (§3.1, step 3): nothing of a val/test photo is ever seen in
    training. train: astronaut, rocket, the motorcycle pair; val: the Hubble deep field;
    test: coffee and Chelsea the cat.
    """
    _check_split(split)
    return [(p.name, _photo(p.name)) for p in PHOTOS if p.split == split]


# ----------------------------------------------------------------------------------------
# Procedural scenes: sunsets, skies, hills, bokeh and flat lays add colours the photos lack.
# ----------------------------------------------------------------------------------------

SCENE_KINDS = ("sunset", "sky", "hills", "bokeh", "flatlay")
SCENES_PER_KIND = {"train": 2, "val": 1, "test": 1}
SCENE_SIZE = 256


def _hsv(h, s, v) -> torch.Tensor:
    """An RGB colour `(3, 1, 1)` from hue in [0, 1), saturation and value."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    rgb = v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return rgb.view(3, 1, 1)


def _smooth_noise(g: torch.Generator, size: int, cells: int) -> torch.Tensor:
    n = torch.rand(1, 1, cells, cells, generator=g)
    return F.interpolate(n, size=(size, size), mode="bicubic", align_corners=False)[0]


def _scene(kind: str, g: torch.Generator, size: int = SCENE_SIZE) -> torch.Tensor:
    """Draw one procedural scene `(3, size, size)` in [0, 1]."""
    r = lambda lo=0.0, hi=1.0: lo + (hi - lo) * float(torch.rand((), generator=g))  # noqa: E731
    y = torch.linspace(0, 1, size).view(1, size, 1)
    x = torch.linspace(0, 1, size).view(1, 1, size)
    if kind == "sunset":
        horizon = r(0.55, 0.75)
        top, glow = _hsv(r(0.62, 0.78), r(0.5, 0.8), r(0.25, 0.5)), _hsv(r(0.0, 0.1), r(0.6, 0.9), 1.0)
        t = (y / horizon).clamp(0, 1) ** 1.5
        img = top * (1 - t) + glow * t
        sx, sr = r(0.25, 0.75), r(0.04, 0.08)
        d = torch.sqrt((x - sx) ** 2 + (y - horizon + sr * 0.6) ** 2)
        img = img + _hsv(r(0.1, 0.15), 0.4, 1.0) * torch.exp(-(d / (4 * sr)) ** 2) * 0.6
        img = torch.where(d < sr, torch.tensor(1.0).expand(3, 1, 1) * _hsv(0.13, 0.25, 1.0), img)
        sea = top * 0.5 + glow * 0.35 * torch.exp(-((x - sx) / 0.08) ** 2) \
            * (0.7 + 0.3 * torch.sin(y * 220.0 + _smooth_noise(g, size, 8) * 6))
        img = torch.where(y > horizon, sea * (1.1 - 0.4 * (y - horizon)), img)
    elif kind == "sky":
        img = _hsv(r(0.55, 0.62), r(0.55, 0.8), r(0.75, 0.95)) * (1 - 0.35 * y) + 0.15 * y
        clouds = (_smooth_noise(g, size, 5) * 0.6 + _smooth_noise(g, size, 11) * 0.4 - r(0.45, 0.6)) * 5
        img = img + (clouds.clamp(0, 1) * (0.95 - img))
    elif kind == "hills":
        img = _hsv(r(0.5, 0.6), r(0.2, 0.5), 0.95) * (1 - 0.3 * y) + _hsv(0.1, 0.3, 0.9) * 0.3 * y
        for i, base in enumerate((0.45, 0.6, 0.75)):
            ridge = base + sum(r(0.01, 0.05) * torch.sin(x * r(4, 14) + r(0, 6.3)) for _ in range(3))
            colour = _hsv(r(0.22, 0.4), r(0.35, 0.7), 0.75 - 0.2 * i)
            img = torch.where(y > ridge, colour * (1 - 0.2 * (y - ridge)), img)
    elif kind == "bokeh":
        img = _hsv(r(0.55, 0.75), r(0.4, 0.8), r(0.05, 0.15)) * (1.0 - 0.5 * y) * torch.ones(3, size, size)
        for _ in range(40):
            cx, cy, rad = r(), r(), r(0.02, 0.09)
            d = torch.sqrt((x - cx) ** 2 + (y - cy) ** 2)
            hue = r(0.02, 0.14) if r() < 0.6 else r(0.5, 0.95)
            img = img + _hsv(hue, r(0.3, 0.9), r(0.3, 0.7)) * torch.sigmoid((rad - d) * 150.0)
    elif kind == "flatlay":
        img = _hsv(r(), r(0.05, 0.3), r(0.8, 0.97)) * torch.ones(3, size, size)
        for _ in range(int(r(6, 12))):
            cx, cy, rad = r(), r(), r(0.05, 0.18)
            colour = _hsv(r(), r(0.3, 0.9), r(0.4, 0.95))
            if r() < 0.5:
                inside = torch.sigmoid((rad - torch.sqrt((x - cx) ** 2 + (y - cy) ** 2)) * 300.0)
            else:
                inside = torch.sigmoid((rad - torch.maximum((x - cx).abs(), (y - cy).abs())) * 300.0)
            shadow = torch.sigmoid((rad - torch.sqrt((x - cx - 0.015) ** 2 + (y - cy - 0.02) ** 2)) * 60.0)
            img = img * (1 - 0.25 * shadow) * (1 - inside) + colour * inside
    else:
        raise ValueError(f"unknown scene kind {kind!r}")
    texture = (_smooth_noise(g, size, 64) - 0.5) * 0.03  # a little sensor-like texture
    return (img + texture).clamp(0, 1).contiguous()


@lru_cache(maxsize=None)
def _scenes(split: str) -> tuple[tuple[str, torch.Tensor], ...]:
    g = torch.Generator().manual_seed(1000 + SPLITS.index(split))
    return tuple((f"scene_{kind}_{split}{i}", _scene(kind, g))
                 for i in range(SCENES_PER_KIND[split]) for kind in SCENE_KINDS)


def load_scenes(split: str) -> list[tuple[str, torch.Tensor]]:
    """The procedural scenes of a split (fixed seeds per split, so they are the same everywhere)."""
    return list(_scenes(_check_split(split)))


PHOTO_SHARE = 0.75  # share of crops taken from the photos; the rest from the procedural scenes


def load_sources(split: str) -> tuple[list[tuple[str, torch.Tensor]], torch.Tensor]:
    """All source images of a split and their sampling weights (photos share `PHOTO_SHARE`)."""
    photos, scenes = load_photos(split), load_scenes(split)
    w = [PHOTO_SHARE / len(photos)] * len(photos) + [(1 - PHOTO_SHARE) / len(scenes)] * len(scenes)
    return photos + scenes, torch.tensor(w, dtype=torch.float64)


# ----------------------------------------------------------------------------------------
# Multi-scale random crops.
# ----------------------------------------------------------------------------------------

CROP_SCALE = (0.1, 1.0)  # crop area as a fraction of the shorter side squared


def crop_geometry(shapes: torch.Tensor, n: int, generator: torch.Generator,
                  weights: Optional[torch.Tensor] = None, scale=CROP_SCALE) -> dict[str, torch.Tensor]:
    """Draw `n` square crops from images of the given shapes `(N, 2)` = (H, W), all at once:
    `src`, `top`, `left`, `side` (int64) and `flip` (bool), each `(n,)`. The source is drawn by
    `weights`, the area uniformly in `scale` times the shorter side squared (multi-scale), the
    position uniformly, and a horizontal flip half of the time."""
    g = generator
    shapes = torch.as_tensor(shapes, dtype=torch.long).reshape(-1, 2)
    if weights is None:
        weights = torch.ones(len(shapes), dtype=torch.float64)
    src = (torch.multinomial(weights, n, replacement=True, generator=g) if n
           else torch.zeros(0, dtype=torch.long))
    u = torch.rand(n, 4, generator=g, dtype=torch.float64)
    H, W = shapes[src, 0], shapes[src, 1]
    short = torch.minimum(H, W)
    side = torch.round(short * torch.sqrt(scale[0] + (scale[1] - scale[0]) * u[:, 0]))
    side = torch.minimum(short, side.long()).clamp(min=1)
    top = (u[:, 1] * (H - side + 1)).long()
    left = (u[:, 2] * (W - side + 1)).long()
    return dict(src=src, top=top, left=left, side=side, flip=u[:, 3] < 0.5)


def crop_boxes(shapes: Sequence[tuple[int, int]], n: int, generator: torch.Generator,
               weights: Optional[torch.Tensor] = None, scale=CROP_SCALE) -> list[tuple[int, int, int, int, int, bool]]:
    """`crop_geometry` as a list of boxes `(source, top, left, side, side, flip)`, for `cut`."""
    b = crop_geometry(torch.tensor([tuple(s) for s in shapes], dtype=torch.long), n, generator, weights, scale)
    return [(j, t, l, s, s, f) for j, t, l, s, f in
            zip(b["src"].tolist(), b["top"].tolist(), b["left"].tolist(), b["side"].tolist(), b["flip"].tolist())]


def pyramid(img: torch.Tensor, min_side: int = 64) -> list[torch.Tensor]:
    """`img` and its 2x, 4x, ... box-filtered reductions, down to a short side of `min_side`.
    Cutting a crop from the right level makes the final resize cheap."""
    levels = [img]
    while min(levels[-1].shape[-2:]) >= 2 * min_side:
        levels.append(F.avg_pool2d(levels[-1][None], 2)[0])
    return levels


def cut(sources, boxes, size: int) -> torch.Tensor:
    """Cut the `boxes` (from `crop_boxes`) out of the sources and resize each to `size` x `size`
    with antialiasing. A source is an image `(3,H,W)` or a `pyramid` of it; with a pyramid the
    crop is taken from the smallest level on which it still has at least `size` pixels."""
    out = torch.empty(len(boxes), 3, size, size)
    for i, (j, top, left, h, w, flip) in enumerate(boxes):
        levels = sources[j] if isinstance(sources[j], (list, tuple)) else [sources[j]]
        lv = max(0, min(len(levels) - 1, int(math.log2(max(1.0, min(h, w) / size)))))
        k = 2 ** lv
        c = levels[lv][None, :, top // k:top // k + max(1, h // k), left // k:left // k + max(1, w // k)]
        if c.shape[-2:] != (size, size):
            c = F.interpolate(c, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[i] = c[0].flip(-1) if flip else c[0]
    return out.clamp_(0, 1)


def random_crops(sources, n: int, size: int, generator: torch.Generator,
                 weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """`n` multi-scale random crops with flips, resized to `size`; see `crop_boxes` and `cut`."""
    shapes = [tuple((s[0] if isinstance(s, (list, tuple)) else s).shape[-2:]) for s in sources]
    return cut(sources, crop_boxes(shapes, n, generator, weights), size)


class CropBank:
    """Source images packed into one tensor (an atlas), so that a whole batch of crops is cut by a single
    `grid_sample` call, on whatever device the atlas lives on (§3.1 at training speed).

    Each image is stored with its `pyramid` (its 2x, 4x, ... box-filtered reductions), every
    level stacked below the last in one `(1, 3, H, W)` tensor. `crops(n, size, g)` draws the
    same crop geometry as `random_crops` (`crop_geometry`: the same random numbers from `g`),
    takes each crop from the smallest pyramid level on which it still has at least `size`
    pixels, and samples it bilinearly at `size` x `size` pixel centres. Between `size` and
    `2 * size` source pixels per output pixel, bilinear sampling at pixel centres averages
    neighbouring pixels, so together with the box-filtered pyramid the crops are close to
    `cut`'s antialiased resize (which they replace in the training streams: one operation
    instead of a Python loop of `F.interpolate` calls, and on the GPU when training runs there).

    `images` are `(3, H, W)` tensors in [0, 1] (float or uint8); `min_side` is the smallest crop
    size the atlas will be asked for (it sets the pyramid's depth).
    """

    def __init__(self, images: Sequence[torch.Tensor], min_side: int, weights: Optional[torch.Tensor] = None,
                 device="cpu"):
        if not len(images):
            raise ValueError("a crop atlas needs at least one image")
        self.min_side, self.device = int(min_side), torch.device(device)
        self.shapes = torch.tensor([tuple(im.shape[-2:]) for im in images], dtype=torch.long)
        self.weights = weights
        rows, offsets, n_levels, y = [], [], [], 0
        for im in images:
            im = im.float() / 255.0 if im.dtype == torch.uint8 else im.float()
            levels = pyramid(im, self.min_side)
            n_levels.append(len(levels))
            offsets.append([(y + sum(lv.shape[-2] for lv in levels[:i])) for i in range(len(levels))])
            rows.extend(levels)
            y += sum(lv.shape[-2] for lv in levels)
        width = max(r.shape[-1] for r in rows)
        atlas = torch.zeros(3, y, width)
        for r, y0 in zip(rows, [o for offs in offsets for o in offs]):
            atlas[:, y0:y0 + r.shape[-2], :r.shape[-1]] = r
        if self.device.type == "cuda":
            atlas = atlas.pin_memory()
        self.atlas = atlas[None].to(self.device, non_blocking=True)
        depth = max(n_levels)
        self.n_levels = torch.tensor(n_levels, dtype=torch.long)
        self.offset = torch.tensor([o + [0] * (depth - len(o)) for o in offsets], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.shapes)

    def crops(self, n: int, size: int, generator: torch.Generator) -> torch.Tensor:
        """`n` random crops `(n, 3, size, size)` in [0, 1], on the atlas's device."""
        if size < self.min_side:
            raise ValueError(f"this atlas was built for crops of at least {self.min_side} px, not {size}")
        b = crop_geometry(self.shapes, n, generator, self.weights)
        return self.cut(b, size)

    def cut(self, b: dict[str, torch.Tensor], size: int) -> torch.Tensor:
        """Cut the crops `b` (from `crop_geometry` on this atlas's shapes) in one `grid_sample`."""
        n = len(b["src"])
        if n == 0:
            return torch.zeros(0, 3, size, size, device=self.device)
        src, side = b["src"], b["side"].double()
        # the pyramid level: the smallest on which the crop still has >= size pixels
        lv = torch.floor(torch.log2((side / size).clamp(min=1.0))).long()
        lv = torch.minimum(lv, self.n_levels[src] - 1)
        k = (2.0 ** lv).double()
        H = torch.div(self.shapes[src, 0], 2 ** lv, rounding_mode="floor").double()
        W = torch.div(self.shapes[src, 1], 2 ** lv, rounding_mode="floor").double()
        y0 = self.offset[src, lv].double() + b["top"].double() / k
        x0 = b["left"].double() / k
        step = side / k / size                                # level pixels per output pixel
        t = torch.arange(size, dtype=torch.float64) + 0.5
        py = y0[:, None] + t * step[:, None] - 0.5            # pixel centres, in atlas pixels
        px = x0[:, None] + t * step[:, None] - 0.5
        px = torch.where(b["flip"][:, None], px.flip(1), px)
        top = self.offset[src, lv].double()[:, None]          # never read a neighbouring image
        py = torch.minimum(torch.maximum(py, top), top + H[:, None] - 1)
        px = px.clamp(min=0.0).minimum(W[:, None] - 1)
        Ha, Wa = self.atlas.shape[-2:]
        gy = (2 * py + 1) / Ha - 1                            # grid_sample, align_corners=False
        gx = (2 * px + 1) / Wa - 1
        grid = torch.empty(n, size, size, 2, device=self.device)
        grid[..., 0] = gx.to(self.device, torch.float32)[:, None, :]
        grid[..., 1] = gy.to(self.device, torch.float32)[:, :, None]
        grid = grid.view(1, n * size, size, 2)
        out = F.grid_sample(self.atlas, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return out.view(3, n, size, size).transpose(0, 1).contiguous().clamp_(0, 1)


__all__ = ["SPLITS", "PhotoInfo", "PHOTOS", "load_photos", "SCENE_KINDS", "load_scenes", "load_sources",
           "crop_geometry", "crop_boxes", "pyramid", "cut", "random_crops", "CropBank"]

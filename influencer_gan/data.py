"""Data: bundled photos, training streams, `make-data`, and safe loading of your own folders.

§3.1 of the document asks for three things: collect an influencer's pictures, annotate their
regions (person, background), and split them into training, validation and test sets. §5.2 then
loads a folder of images with torchvision. This module does all of it without a single download:

* **Photos.** The colour photographs that ship inside scikit-image's wheel (public domain / CC0,
  see `PHOTOS` and data/README.md) plus a few procedural scenes (sunsets, skies, hills, bokeh,
  flat lays). Whole photographs are held out: the validation and test photos are never cropped
  for training.
* **Streams.** `LookStream` turns them into endless training batches for style transfer —
  neutral crops, other crops edited with a look (the influencer's feed), reference crops, and
  the exact ground truth from `looks.apply`. `AvatarStream` does the same for the avatars of
  `avatars.py`. Everything is drawn from one `torch.Generator`, so a run resumes bit-exactly.
* **make-data.** `make_data` writes ImageFolder-compatible train/val/test folders and a manifest,
  for readers who want files on disk.
* **Your own folders.** `SafeImageFolder` is §5.2's `ImageFolder` made safe for real-world
  folders: every file is checked once, up front, and bad files are skipped with a message naming
  them, so nothing crashes in the middle of an epoch.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from struct import error as struct_error
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as transforms
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.datasets import VisionDataset
from torchvision.datasets.folder import IMG_EXTENSIONS

from . import avatars as _avatars
from . import looks as _looks

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


def crop_boxes(shapes: Sequence[tuple[int, int]], n: int, generator: torch.Generator,
               weights: Optional[torch.Tensor] = None, scale=CROP_SCALE) -> list[tuple[int, int, int, int, int, bool]]:
    """Draw `n` square crops `(source, top, left, side, side, flip)` from images of the given
    `(H, W)` shapes: the source by `weights`, the area uniformly in `scale` times the shorter
    side squared (multi-scale), the position uniformly, and a horizontal flip half of the time."""
    g = generator
    if weights is None:
        weights = torch.ones(len(shapes), dtype=torch.float64)
    src = torch.multinomial(weights, n, replacement=True, generator=g) if n else torch.zeros(0, dtype=torch.long)
    u = torch.rand(n, 4, generator=g, dtype=torch.float64)
    boxes = []
    for i in range(n):
        j = int(src[i])
        H, W = shapes[j]
        short = min(H, W)
        side = max(1, min(short, round(short * math.sqrt(scale[0] + (scale[1] - scale[0]) * float(u[i, 0])))))
        top = int(float(u[i, 1]) * (H - side + 1))
        left = int(float(u[i, 2]) * (W - side + 1))
        boxes.append((j, top, left, side, side, bool(u[i, 3] < 0.5)))
    return boxes


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


# ----------------------------------------------------------------------------------------
# §5.2: loading a folder of images, made safe.
# ----------------------------------------------------------------------------------------

# The document's §5.2 pipeline, exactly as it writes it.
SECTION_5_2_TRANSFORM = transforms.Compose([
    transforms.Resize(256),
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
])

EXTENSIONS = tuple(IMG_EXTENSIONS) + (".gif",)


class ImageDataError(ValueError):
    """A folder or file cannot be used; the message names it and says why."""


class ImageDataWarning(UserWarning):
    """Some files of a folder were skipped or converted; the message names them."""


class _Unusable(Exception):
    pass


def _bomb_check(im: Image.Image, max_pixels: Optional[int]) -> None:
    if max_pixels is not None and im.width * im.height > max_pixels:
        raise _Unusable(f"decompression bomb: {im.width}x{im.height} = {im.width * im.height:,} "
                        f"pixels exceeds the limit of {max_pixels:,} (PIL.Image.MAX_IMAGE_PIXELS)")


def _to_rgb(im: Image.Image, notes: list[str]) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB: transparency is composited on white, 16-bit images are
    scaled (not clipped) to 8 bits, CMYK and greyscale are converted."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I") or mode == "F":
        a = np.asarray(im).astype(np.float64)
        if mode.startswith("I;16") or (mode == "I" and a.max(initial=0) > 255):
            a, note = a / 257.0, "16-bit image scaled to 8 bits"
        elif mode == "F":
            a, note = (a * 255.0 if a.max(initial=0) <= 1.0 else a), "32-bit float image scaled to 8 bits"
        else:
            note = "32-bit integer image read as 8 bits"
        notes.append(note)
        return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append("transparency composited on white")
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    elif mode in ("L", "1"):
        notes.append("greyscale converted to RGB")
    else:
        notes.append(f"mode {mode} converted to RGB")
    return im.convert("RGB")


def open_rgb(path, max_pixels: Optional[int] = -1) -> tuple[Image.Image, list[str]]:
    """Open an image file as an upright 8-bit RGB PIL image, or raise with a clear reason.

    Steps: refuse decompression bombs (more pixels than `max_pixels`, by default PIL's
    `Image.MAX_IMAGE_PIXELS`); `verify()` the file; reopen and decode it fully (truncated files
    fail here); take the first frame of animations; rotate by the EXIF orientation, so phone
    photos come out upright; convert the mode to RGB (`_to_rgb`). Returns the image and a list of
    notes about what was changed.
    """
    if max_pixels == -1:
        max_pixels = Image.MAX_IMAGE_PIXELS
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise _Unusable("empty file (0 bytes)")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _bomb_check(im, max_pixels)
                im.verify()
            with Image.open(path) as src:
                _bomb_check(src, max_pixels)
                frames = getattr(src, "n_frames", 1)
                if frames > 1:
                    src.seek(0)
                    notes.append(f"animated ({frames} frames): first frame used")
                src.load()
                orientation = src.getexif().get(0x0112, 1)
                im = src
                if orientation not in (1, None):
                    im = ImageOps.exif_transpose(src)
                    notes.append(f"EXIF orientation {orientation}: rotated upright")
                rgb = _to_rgb(im, notes)
                return (rgb.copy() if rgb is src else rgb), notes
    except _Unusable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _Unusable(f"decompression bomb: {e}") from None
    except UnidentifiedImageError:
        raise _Unusable(f"not an image (PIL cannot identify it; {size} bytes)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct_error) as e:
        raise _Unusable(f"corrupt or truncated image: {e}") from None
    except Exception as e:  # any other decoder failure: still a clear, per-file message
        raise _Unusable(f"unreadable image: {type(e).__name__}: {e}") from None


def load_image(path) -> Image.Image:
    """One image file for inference (`stylize`, reference images): upright 8-bit RGB, or an
    `ImageDataError` that names the file and says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise ImageDataError(f"{path}: no such file")
    try:
        return open_rgb(path)[0]
    except _Unusable as e:
        raise ImageDataError(f"{path}: {e}") from None


def list_images(folder) -> list[Path]:
    """The image files under `folder` (recursively, sorted), or an `ImageDataError`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageDataError(f"{folder}: no such folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise ImageDataError(f"{folder}: no image files ({', '.join(EXTENSIONS)})")
    return files


def _short_list(items: Sequence[tuple[str, str]], limit: int = 12) -> str:
    parts = [f"{Path(p).name} ({why})" for p, why in items[:limit]]
    if len(items) > limit:
        parts.append(f"... and {len(items) - limit} more (see .report())")
    return "; ".join(parts)


class SafeImageFolder(VisionDataset):
    """§5.2's `torchvision.datasets.ImageFolder`, made safe for real-world folders.

    The default `transform` is the document's §5.2 pipeline, exactly as written
    (`SECTION_5_2_TRANSFORM`: Resize(256), CenterCrop(224), ToTensor(), Normalize(0.5, 0.5)).

    Layout. If `root` has subfolders, they are the classes, as in ImageFolder, and each is
    searched recursively (nested folders are fine); files lying loose next to class folders are
    skipped with a message, as ImageFolder would ignore them. If `root` has no subfolders it is
    one flat class named after the folder. Hidden files and folders (".name") are ignored.

    Every file is checked once, up front, with `open_rgb` — the whole image is decoded — so a
    file that passes the check cannot fail later. Files are skipped, with the reason, when they
    are: not an image type by extension, empty, not an image at all (e.g. a text file named
    .jpg), corrupt or truncated, a decompression bomb, or smaller than `min_size` pixels on the
    short side (default 224, the §5.2 crop). Files that need fixing are kept and noted:
    greyscale, CMYK, 16-bit, transparency (composited on white), palette, EXIF-rotated (turned
    upright) and animated images (the first frame is used).

    After the scan, `.skipped` lists `(path, reason)` and `.notes` lists `(path, note)`; one
    `ImageDataWarning` names the skipped and animated files; `.report()` gives everything as
    text. A missing or empty folder, or one with nothing usable left, raises `ImageDataError`
    naming it. Should a file change on disk after the check, `__getitem__` warns and returns
    the next usable image instead of crashing the epoch.
    """

    def __init__(self, root, transform: Optional[Callable] = SECTION_5_2_TRANSFORM,
                 target_transform: Optional[Callable] = None, min_size: int = 224,
                 max_pixels: Optional[int] = -1, extensions: Sequence[str] = EXTENSIONS,
                 warn: bool = True):
        root = Path(root).expanduser()
        if not root.exists():
            raise ImageDataError(f"image folder not found: {root}")
        if not root.is_dir():
            raise ImageDataError(f"not a folder: {root}")
        super().__init__(str(root), transform=transform, target_transform=target_transform)
        self.min_size, self.max_pixels = int(min_size), max_pixels
        self.extensions = tuple(e.lower() for e in extensions)
        self.skipped: list[tuple[str, str]] = []
        self.notes: list[tuple[str, str]] = []

        candidates = self._scan(root)  # [(path, class name)]
        if not candidates and not self.skipped:
            raise ImageDataError(f"no images in {root}: the folder is empty")
        usable: list[tuple[str, str]] = []
        for path, cls in candidates:
            reason = self._check(path)
            if reason is None:
                usable.append((path, cls))
            else:
                self.skipped.append((path, reason))
        self.classes = sorted({c for _, c in usable})
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = [(p, self.class_to_idx[c]) for p, c in usable]
        self.targets = [t for _, t in self.samples]
        total = len(self.samples) + len(self.skipped)
        if not self.samples:
            raise ImageDataError(f"no usable images in {root}: {len(self.skipped)} files skipped "
                                 f"({_short_list(self.skipped, 6)})")
        animated = [(p, n) for p, n in self.notes if n.startswith("animated")]
        if warn and (self.skipped or animated):
            msg = f"{root}: {len(self.samples)} of {total} files usable"
            if self.skipped:
                msg += f"; skipped {len(self.skipped)}: {_short_list(self.skipped)}"
            if animated:
                msg += f"; first frame used for {len(animated)}: {_short_list(animated)}"
            warnings.warn(msg, ImageDataWarning, stacklevel=2)

    def _scan(self, root: Path) -> list[tuple[str, str]]:
        def visible(entries):
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)

        top = visible(os.scandir(root))
        dirs = [e for e in top if e.is_dir()]
        files = [e for e in top if e.is_file()]
        if not dirs:
            return self._filter([(e.path, root.name) for e in files])
        for e in files:
            self.skipped.append((e.path, "loose file next to class folders (ImageFolder reads "
                                         "only the class subfolders)"))
        out = []
        for d in dirs:
            for dirpath, dirnames, filenames in os.walk(d.path, followlinks=False):
                dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
                out += [(os.path.join(dirpath, f), d.name) for f in sorted(filenames) if not f.startswith(".")]
        return self._filter(out)

    def _filter(self, items):
        keep = []
        for path, cls in items:
            ext = os.path.splitext(path)[1].lower()
            if ext in self.extensions:
                keep.append((path, cls))
            else:
                self.skipped.append((path, f"not an image file type ({ext or 'no extension'})"))
        return keep

    def _check(self, path: str) -> Optional[str]:
        try:
            im, notes = open_rgb(path, self.max_pixels)
        except _Unusable as e:
            return str(e)
        except OSError as e:  # e.g. permission denied
            return f"cannot read file: {e}"
        if min(im.size) < self.min_size:
            return (f"too small: {im.width}x{im.height} px, the short side must be at least "
                    f"{self.min_size} px")
        self.notes += [(path, n) for n in notes]
        return None

    def load(self, index: int) -> Image.Image:
        """The upright RGB PIL image of sample `index` (no transform)."""
        im, _ = open_rgb(self.samples[index][0], self.max_pixels)
        return im

    def __getitem__(self, index: int):
        for k in range(len(self.samples)):
            i = (index + k) % len(self.samples)
            path, target = self.samples[i]
            try:
                img = self.load(i)
            except Exception as e:
                warnings.warn(f"{path}: changed since it was checked and is now unusable ({e}); "
                              f"using the next image instead", ImageDataWarning, stacklevel=2)
                continue
            if self.transform is not None:
                img = self.transform(img)
            if self.target_transform is not None:
                target = self.target_transform(target)
            return img, target
        raise ImageDataError(f"no usable images left in {self.root}")

    def __len__(self) -> int:
        return len(self.samples)

    def report(self) -> str:
        """Every skipped and converted file, one per line."""
        lines = [f"{self.root}: {len(self.samples)} usable, {len(self.skipped)} skipped"]
        lines += [f"  skipped {p}: {why}" for p, why in self.skipped]
        lines += [f"  note    {p}: {n}" for p, n in self.notes]
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# Training streams.
# ----------------------------------------------------------------------------------------

def sample_condition(n: int, generator: torch.Generator) -> torch.Tensor:
    """Draw `n` personal conditions c = (vivid, warmth, strength) from the training prior:
    vivid and warmth are 0 half of the time and uniform in [-1, 1] otherwise; strength is 1 for
    30 % of the samples and uniform in [0, 1] otherwise (so the model also meets strengths near
    0, where the answer is the unchanged photo)."""
    u = torch.rand(n, 6, generator=generator)
    vivid = torch.where(u[:, 0] < 0.5, torch.zeros(n), u[:, 1] * 2 - 1)
    warmth = torch.where(u[:, 2] < 0.5, torch.zeros(n), u[:, 3] * 2 - 1)
    strength = torch.where(u[:, 4] < 0.3, torch.ones(n), u[:, 5])
    return torch.stack([vivid, warmth, strength], dim=1)


def sample_looks(n: int, generator: torch.Generator, mode: str = "mixed") -> torch.Tensor:
    """Draw `n` look vectors `(n, P)`: "named" picks uniformly among `looks.NAMED`, "prior"
    draws `looks.random_look(seed)` with a seed from the generator, "mixed" does each half of
    the time."""
    if mode not in ("mixed", "named", "prior"):
        raise ValueError(f"looks must be 'mixed', 'named' or 'prior', got {mode!r}")
    names = list(_looks.NAMED)
    u = torch.rand(n, generator=generator)
    idx = torch.randint(len(names), (n,), generator=generator)
    seeds = torch.randint(2 ** 31 - 1, (n,), generator=generator)
    use_named = {"named": torch.ones(n, dtype=torch.bool), "prior": torch.zeros(n, dtype=torch.bool),
                 "mixed": u < 0.5}[mode]
    rows = [_looks.NAMED[names[int(i)]].vector() if named else _looks.random_look(int(s)).vector()
            for named, i, s in zip(use_named.tolist(), idx, seeds)]
    return torch.stack(rows) if rows else torch.zeros(0, _looks.N_PARAMS)


class _FolderImages:
    """The images of a SafeImageFolder, decoded once and kept as uint8 tensors, shrunk so the
    short side is at most `max_short` (crops are taken from these)."""

    def __init__(self, folder: SafeImageFolder, max_short: int, rank: int = 0, world_size: int = 1):
        self.folder, self.max_short = folder, max_short
        self.cache: dict[int, torch.Tensor] = {}
        # Under torchrun each process keeps its own shard of the files (DistributedSampler).
        self.indices = list(range(len(folder)))
        if world_size > 1:
            from torch.utils.data.distributed import DistributedSampler
            self.indices = list(DistributedSampler(folder, num_replicas=world_size, rank=rank, shuffle=False))

    def __len__(self):
        return len(self.indices)

    def get(self, i: int) -> torch.Tensor:
        if i not in self.cache:
            im = self.folder.load(self.indices[i])
            k = self.max_short / min(im.size)
            if k < 1:
                im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.BILINEAR,
                               reducing_gap=3.0)
            self.cache[i] = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).contiguous()
        return self.cache[i]

    def crops(self, n: int, size: int, g: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(self), (n,), generator=g)
        imgs = {int(i): self.get(int(i)).float() / 255.0 for i in idx.unique()}
        order = sorted(imgs)
        # sample box geometry for the chosen images, in the order they were drawn
        boxes = []
        for i in idx.tolist():
            (j, top, left, h, w, flip), = crop_boxes([tuple(imgs[i].shape[-2:])], 1, g)
            boxes.append((order.index(i), top, left, h, w, flip))
        return cut([imgs[i] for i in order], boxes, size)


class LookStream:
    """Endless batches for learning looks (§3.1 data, §3.3 step 2: "sample a batch and its
    conditions").

    `batch(generator)` returns a dict:

    * `x` `(B,3,S,S)`: neutral crops of the split's photos and scenes (the content);
    * `y` `(B,3,S,S)`: *other* crops, edited with the same look and the same c, grain on
      (unpaired "real" samples of the influencer's feed);
    * `refs` `(B,K,3,S,S)`: K more crops edited with the same look at c = (0, 0, 1), grain on
      (the style references y_style of §4.5);
    * `c` `(B,3)`: the personal condition (vivid, warmth, strength), see `sample_condition`;
    * `params` `(B,P)`: the look before personalisation, see `sample_looks` (`looks` selects
      "named", "prior" or "mixed");
    * `x_gt` `(B,3,S,S)`: the exact, grain-free ground truth `looks.apply(x, params, *c, grain=False)`.

    Folder mode (`content_dir` and `styled_dir`: your own photos and an influencer's feed): `x`
    comes from the content folder, `y` and `refs` from the styled folder, c = (0, 0, 1), and
    `params` and `x_gt` are None because nobody knows the influencer's sliders. The folders are
    loaded with `SafeImageFolder` (min_size = S); crops are the same multi-scale random crops.

    All randomness comes from the `generator` passed to `batch`, so restoring its state resumes a
    run bit-exactly; iterating the stream uses its own generator seeded with `seed`.
    """

    def __init__(self, size: int = 64, batch_size: int = 8, split: str = "train", refs: int = 5,
                 looks: str = "mixed", seed: int = 0, content_dir=None, styled_dir=None,
                 device="cpu", rank: int = 0, world_size: int = 1):
        self.size, self.batch_size, self.split = int(size), int(batch_size), _check_split(split)
        self.refs, self.looks, self.seed, self.device = int(refs), looks, int(seed), torch.device(device)
        if looks not in ("mixed", "named", "prior"):
            raise ValueError(f"looks must be 'mixed', 'named' or 'prior', got {looks!r}")
        if (content_dir is None) != (styled_dir is None):
            raise ValueError("folder mode needs both content_dir and styled_dir")
        self.folder_mode = content_dir is not None
        if self.folder_mode:
            with warnings.catch_warnings():
                warnings.simplefilter("always", ImageDataWarning)
                self.content, self.styled = (
                    _FolderImages(SafeImageFolder(d, transform=None, min_size=self.size), 4 * self.size,
                                  rank, world_size) for d in (content_dir, styled_dir))
        else:
            sources, self.weights = load_sources(self.split)
            self.source_names = [n for n, _ in sources]
            self.images = [pyramid(im, self.size) for _, im in sources]
        self.generator = torch.Generator().manual_seed(self.seed)

    def _crops(self, n: int, g: torch.Generator) -> torch.Tensor:
        return random_crops(self.images, n, self.size, g, self.weights)

    def neutral_crops(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` unedited crops `(n,3,S,S)` of the split's sources (or of your content folder)."""
        if self.folder_mode:
            return self.content.crops(n, self.size, generator)
        return self._crops(n, generator)

    def batch(self, generator: Optional[torch.Generator] = None) -> dict:
        g = self.generator if generator is None else generator
        B, K, S, dev = self.batch_size, self.refs, self.size, self.device
        if self.folder_mode:
            x = self.content.crops(B, S, g)
            y = self.styled.crops(B, S, g)
            refs = self.styled.crops(B * K, S, g).view(B, K, 3, S, S)
            c = torch.tensor([0.0, 0.0, 1.0]).repeat(B, 1)
            return dict(x=x.to(dev), y=y.to(dev), refs=refs.to(dev), c=c.to(dev), params=None, x_gt=None)
        params = sample_looks(B, g, self.looks)
        c = sample_condition(B, g)
        x = self._crops(B, g)
        y = self._crops(B, g)
        r = self._crops(B * K, g)
        seeds = torch.randint(2 ** 31 - 1, (2,), generator=g).tolist()
        x, y, r, params, c = (t.to(dev) for t in (x, y, r, params, c))
        with torch.no_grad():
            y = _looks.apply(y, params, c[:, 0], c[:, 1], c[:, 2], grain=True, seed=seeds[0])
            r = _looks.apply(r, params.repeat_interleave(K, 0), grain=True, seed=seeds[1])
            x_gt = _looks.apply(x, params, c[:, 0], c[:, 1], c[:, 2], grain=False)
        return dict(x=x, y=y, refs=r.view(B, K, 3, S, S), c=c, params=params, x_gt=x_gt)

    def __iter__(self) -> Iterator[dict]:
        while True:
            yield self.batch()


class AvatarStream:
    """Endless batches of avatars (§3.1 annotated portraits) for the avatar generator.

    `batch(generator)` renders B random avatars (`avatars.render_batch`) and edits each with a
    look, grain off, so the generator learns attributes *and* colour styles: `styles` is
    "named+identity" (half unedited, half a named look), "named", "identity" (never edited) or
    "all" (a third each: unedited, named, prior). Returns `img (B,3,S,S)` in [0, 1], `mask
    (B,1,S,S)` (person = 1), `cond (B, ATTR_DIM)` one-hot attributes and `style (B, P)`, the
    look vector that was applied (zeros = unedited).
    """

    STYLES = ("named+identity", "named", "identity", "all")

    def __init__(self, size: int = 64, batch_size: int = 8, seed: int = 0, styles: str = "named+identity"):
        if styles not in self.STYLES:
            raise ValueError(f"styles must be one of {', '.join(self.STYLES)}, got {styles!r}")
        self.size, self.batch_size, self.styles = int(size), int(batch_size), styles
        self.generator = torch.Generator().manual_seed(int(seed))

    def batch(self, generator: Optional[torch.Generator] = None) -> dict:
        g = self.generator if generator is None else generator
        B = self.batch_size
        out = _avatars.render_batch(B, self.size, generator=g)
        u = torch.rand(B, generator=g)
        named = sample_looks(B, g, "named")
        prior = sample_looks(B, g, "prior") if self.styles == "all" else torch.zeros_like(named)
        zero = torch.zeros_like(named)
        if self.styles == "named+identity":
            style = torch.where((u < 0.5)[:, None], zero, named)
        elif self.styles == "named":
            style = named
        elif self.styles == "identity":
            style = zero
        else:
            style = torch.where((u < 1 / 3)[:, None], zero, torch.where((u < 2 / 3)[:, None], named, prior))
        with torch.no_grad():
            img = _looks.apply(out["img"], style, grain=False)
        return dict(img=img, mask=out["mask"], cond=out["cond"], style=style)

    def __iter__(self) -> Iterator[dict]:
        while True:
            yield self.batch()


# ----------------------------------------------------------------------------------------
# make-data: the same data as files on disk.
# ----------------------------------------------------------------------------------------

DEFAULT_COUNTS = {"photos": {"train": 256, "val": 64, "test": 64},
                  "avatars": {"train": 1024, "val": 128, "test": 128}}
MANAGED = ("photos", "looks", "avatars", "avatar_masks", "manifest.json")
MANIFEST_VERSION = 1


def _uint8(t: torch.Tensor) -> np.ndarray:
    """A batch `(N,C,H,W)` in [0, 1] as uint8 arrays `(N,H,W,C)` (or `(N,H,W)` for one channel)."""
    a = (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return a[..., 0] if a.shape[-1] == 1 else a


def _png(a, path: Path, compress_level: int = 1) -> None:
    if torch.is_tensor(a):
        a = _uint8(a[None])[0]
    Image.fromarray(a).save(path, compress_level=compress_level)


def _counts(counts) -> dict:
    out = {k: dict(v) for k, v in DEFAULT_COUNTS.items()}
    for kind, per_split in (counts or {}).items():
        if kind not in out:
            raise ValueError(f"unknown count kind {kind!r}; use photos or avatars")
        out[kind].update({s: int(n) for s, n in per_split.items() if _check_split(s)})
    return out


def make_data(root="data", size: int = 64, seed: int = 0, progress: bool = True,
              counts: Optional[dict] = None) -> dict:
    """Write the data set to `root` as ImageFolder-compatible folders plus `manifest.json`.

    Layout (every split in train, val, test; whole photos held out as in `load_photos`)::

        photos/{split}/neutral/00000.png       neutral multi-scale crops of the split's photos and scenes
        looks/{split}/{look}/00000.png         the same crop edited with each named look, c = (0, 0, 1),
                                               film grain on (the influencer's "feed")
        avatars/{split}/avatar/00000.png       procedural avatars (unedited)
        avatar_masks/{split}/00000.png         their person/background masks (255 = person)
        manifest.json                          one record per image: path, split, kind, source
                                               photo and crop box, look name and parameters, c,
                                               grain seed, neutral counterpart, attributes, mask

    The exact grain-free ground truth of a styled file is `looks.apply(neutral, params, *c,
    grain=False)` on its neutral counterpart. `counts` overrides the number of crops/avatars per
    split, e.g. `{"photos": {"train": 8}}`. The output depends only on (size, seed, counts):
    running it again with the same arguments finds the manifest and returns at once; different
    arguments replace the generated folders (data/README.md and data/previews are never touched).
    Returns a summary dict with the image counts and the seconds it took.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    root = Path(root)
    counts = _counts(counts)
    config = dict(version=MANIFEST_VERSION, size=int(size), seed=int(seed), counts=counts,
                  param_names=list(_looks.PARAM_NAMES), cond_names=list(_looks.COND_NAMES))
    manifest_path = root / "manifest.json"
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
            if old.get("config") == config and all((root / r["path"]).exists() for r in old["images"]):
                return dict(old["summary"], root=str(root), skipped=True,
                            seconds=round(time.perf_counter() - t0, 2))
        except (ValueError, KeyError, TypeError):
            pass
    for name in MANAGED:
        p = root / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()

    for split in SPLITS:  # load (and cache) the photos and scenes before the progress bar starts
        load_sources(split)
    names = list(_looks.NAMED)
    n_files = sum(counts["photos"][s] * (1 + len(names)) + 2 * counts["avatars"][s] for s in SPLITS)
    bar = tqdm(total=n_files, desc="make-data", unit="img", disable=not progress)
    records: list[dict] = []
    summary = {"photos": {}, "looks": {}, "avatars": {}}
    for si, split in enumerate(SPLITS):
        # Photos and their edited versions.
        g = torch.Generator().manual_seed(int(seed) * 1009 + si)
        sources, weights = load_sources(split)
        n = counts["photos"][split]
        boxes = crop_boxes([tuple(im.shape[-2:]) for _, im in sources], n, g, weights)
        neutral = cut([pyramid(im, size) for _, im in sources], boxes, size)
        grain_seeds = torch.randint(2 ** 31 - 1, (n, len(names)), generator=g)
        (root / "photos" / split / "neutral").mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / "looks" / split / name).mkdir(parents=True, exist_ok=True)
        neutral = (neutral * 255).round() / 255  # quantise first: the ground truth from the file is exact
        styled = {name: _uint8(_looks.apply(neutral, name, grain=True, seed=grain_seeds[:, k]))
                  for k, name in enumerate(names)}
        neutral_u8 = _uint8(neutral)
        for i, (j, top, left, h, w, flip) in enumerate(boxes):
            crop = dict(top=top, left=left, height=h, width=w, flip=flip)
            npath = f"photos/{split}/neutral/{i:05d}.png"
            _png(neutral_u8[i], root / npath)
            records.append(dict(path=npath, split=split, kind="neutral", source=sources[j][0], crop=crop))
            bar.update(1)
            for k, name in enumerate(names):
                spath = f"looks/{split}/{name}/{i:05d}.png"
                _png(styled[name][i], root / spath)
                records.append(dict(path=spath, split=split, kind="styled", source=sources[j][0], crop=crop,
                                    look=name, params=_looks.NAMED[name].vector().tolist(),
                                    c=[0.0, 0.0, 1.0], grain_seed=int(grain_seeds[i, k]), neutral=npath))
                bar.update(1)
        summary["photos"][split] = n
        summary["looks"][split] = n * len(names)

        # Avatars and their masks.
        g = torch.Generator().manual_seed(int(seed) * 1009 + 100 + si)
        m = counts["avatars"][split]
        (root / "avatars" / split / "avatar").mkdir(parents=True, exist_ok=True)
        (root / "avatar_masks" / split).mkdir(parents=True, exist_ok=True)
        for start in range(0, m, 256):
            out = _avatars.render_batch(min(256, m - start), size, generator=g)
            imgs, masks = _uint8(out["img"]), _uint8(out["mask"])
            for k in range(imgs.shape[0]):
                i = start + k
                apath, mpath = f"avatars/{split}/avatar/{i:05d}.png", f"avatar_masks/{split}/{i:05d}.png"
                _png(imgs[k], root / apath)
                _png(masks[k], root / mpath)
                records.append(dict(path=apath, split=split, kind="avatar", attrs=out["attrs"][k],
                                    cond=out["cond"][k].tolist(), mask=mpath))
                bar.update(2)
        summary["avatars"][split] = m
    bar.close()
    summary = dict(size=int(size), seed=int(seed), files=n_files + 1, images=summary, looks=names)
    manifest = dict(config=config, summary=summary,
                    looks={k: dict(description=v.description, params=v.vector().tolist())
                           for k, v in _looks.NAMED.items()},
                    attributes={k: list(v) for k, v in _avatars.ATTRIBUTES.items()},
                    photos=[dict(name=p.name, split=p.split, licence=p.licence, credit=p.credit,
                                 loader=p.loader.__name__) for p in PHOTOS],
                    images=records)
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return dict(summary, root=str(root), skipped=False, seconds=round(time.perf_counter() - t0, 2))


def file_digest(root) -> str:
    """A SHA-256 over every file under `root` (names and bytes), to check that make-data is
    deterministic."""
    h = hashlib.sha256()
    root = Path(root)
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def write_previews(out="data/previews", height: int = 64) -> list[str]:
    """Write the preview images of data/README.md: one strip per named look (and the unedited
    photos) over the two test photos and the astronaut, and a grid of avatars with masks.

    Command: `python -c "from influencer_gan.data import write_previews; write_previews()"`
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    photos = [_photo("coffee"), _photo("chelsea"), _photo("astronaut")]
    tiles = []
    for p in photos:
        h, w = p.shape[-2:]
        side = min(h, w)
        sq = p[:, (h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        tiles.append(F.interpolate(sq[None], size=(height, height), mode="bilinear", antialias=True)[0])
    strip = torch.cat(tiles, dim=2)
    written = []
    for name, look in [("identity", _looks.IDENTITY)] + list(_looks.NAMED.items()):
        path = out / f"look_{name}.png"
        _png(_looks.apply(strip, look, grain=True, seed=0), path, compress_level=9)
        written.append(str(path))
    av = _avatars.render_batch(8, 64, seed=0)
    grid = torch.cat([torch.cat(list(av["img"]), 2), torch.cat(list(av["mask"].expand(8, 3, 64, 64)), 2)], 1)
    _png(grid, out / "avatars.png", compress_level=9)
    written.append(str(out / "avatars.png"))
    return written


__all__ = ["PHOTOS", "PhotoInfo", "SPLITS", "load_photos", "load_scenes", "load_sources",
           "crop_boxes", "pyramid", "cut", "random_crops", "SECTION_5_2_TRANSFORM", "SafeImageFolder",
           "ImageDataError", "ImageDataWarning", "open_rgb", "sample_condition", "sample_looks",
           "LookStream", "AvatarStream", "make_data", "file_digest", "write_previews"]

"""Your own files and folders, loaded safely (§5.2).

§5.2 of the document loads a folder of images with torchvision's `ImageFolder`. Real folders
hold greyscale scans, CMYK prints, 16-bit PNGs, phone photos lying on their side, animated GIFs,
truncated downloads, text files named .jpg and decompression bombs. Here every file is checked
once, up front (`open_rgb` decodes it completely), unusable files are skipped with a message
naming them and the reason, and the rest are converted to upright 8-bit RGB, so nothing crashes
in the middle of an epoch.

* `load_image` and `list_images`: single files and folders for inference (`stylize`, references);
* `SafeImageFolder`: §5.2's `ImageFolder` made safe; with `classes=False` it reads every image
  anywhere under a folder as one set (a feed folder with an `old/` sub-folder is normal).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from struct import error as struct_error
from typing import Callable, Optional, Sequence

import numpy as np
import torchvision.transforms as transforms
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.datasets import VisionDataset
from torchvision.datasets.folder import IMG_EXTENSIONS

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


def _short_list(items: Sequence[tuple[str, str]], root: Path, limit: int = 12) -> str:
    def name(p):  # the path inside the folder: old/a.jpg and a.jpg stay apart
        try:
            return str(Path(p).relative_to(root))
        except ValueError:
            return Path(p).name
    parts = [f"{name(p)} ({why})" for p, why in items[:limit]]
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
    one flat class named after the folder. With `classes=False` there are no classes at all:
    every file anywhere under `root` is a sample of one class named after the folder (what a
    set of photos for learning a look needs: a feed folder with an `old/` sub-folder is
    normal). Hidden files and folders (".name") are ignored.

    Every file is checked once, up front, with `open_rgb` — the whole image is decoded — so a
    file that passes the check cannot fail later. Files are skipped, with the reason, when they
    are: not an image type by extension, empty, not an image at all (e.g. a text file named
    .jpg), corrupt or truncated, a decompression bomb, or smaller than `min_size` pixels on the
    short side (default 224, the §5.2 crop). Files that need fixing are kept and noted:
    greyscale, CMYK, 16-bit, transparency (composited on white), palette, EXIF-rotated (turned
    upright) and animated images (the first frame is used).

    After the scan, `.skipped` lists `(path, reason)` and `.notes` lists `(path, note)`; one
    `ImageDataWarning` names the skipped and animated files; `.summary()` says in one line how
    many files are used; `.report()` gives everything as text. A missing or empty folder, or one
    with nothing usable left, raises `ImageDataError` naming it. Should a file change on disk
    after the check, `__getitem__` warns and returns the next usable image instead of crashing
    the epoch.
    """

    def __init__(self, root, transform: Optional[Callable] = SECTION_5_2_TRANSFORM,
                 target_transform: Optional[Callable] = None, min_size: int = 224,
                 max_pixels: Optional[int] = -1, extensions: Sequence[str] = EXTENSIONS,
                 warn: bool = True, classes: bool = True):
        root = Path(root).expanduser()
        if not root.exists():
            raise ImageDataError(f"image folder not found: {root}")
        if not root.is_dir():
            raise ImageDataError(f"not a folder: {root}")
        super().__init__(str(root), transform=transform, target_transform=target_transform)
        self.min_size, self.max_pixels = int(min_size), max_pixels
        self.extensions = tuple(e.lower() for e in extensions)
        self.use_classes = bool(classes)
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
        if not self.samples:
            raise ImageDataError(f"no usable images in {root}: {len(self.skipped)} files skipped "
                                 f"({_short_list(self.skipped, root, 6)})")
        animated = [(p, n) for p, n in self.notes if n.startswith("animated")]
        if warn and (self.skipped or animated):
            msg = self.summary()
            if animated:
                msg += f"; first frame used for {len(animated)}: {_short_list(animated, root)}"
            warnings.warn(msg, ImageDataWarning, stacklevel=2)

    def _scan(self, root: Path) -> list[tuple[str, str]]:
        def visible(entries):
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)

        def walk(folder: str, cls: str) -> list[tuple[str, str]]:
            out = []
            for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
                dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
                out += [(os.path.join(dirpath, f), cls) for f in sorted(filenames) if not f.startswith(".")]
            return out

        if not self.use_classes:
            return self._filter(walk(str(root), root.name))
        top = visible(os.scandir(root))
        dirs = [e for e in top if e.is_dir()]
        files = [e for e in top if e.is_file()]
        if not dirs:
            return self._filter([(e.path, root.name) for e in files])
        for e in files:
            self.skipped.append((e.path, "loose file next to class folders (ImageFolder reads "
                                         "only the class subfolders; classes=False reads every file)"))
        return self._filter([item for d in dirs for item in walk(d.path, d.name)])

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

    def summary(self) -> str:
        """One line: how many files are used, and which were skipped, with the reason."""
        total = len(self.samples) + len(self.skipped)
        msg = f"{self.root}: {len(self.samples)} of {total} files used"
        if self.skipped:
            msg += f"; skipped {len(self.skipped)}: {_short_list(self.skipped, Path(self.root))}"
        return msg

    def report(self) -> str:
        """Every skipped and converted file, one per line."""
        lines = [f"{self.root}: {len(self.samples)} usable, {len(self.skipped)} skipped"]
        lines += [f"  skipped {p}: {why}" for p, why in self.skipped]
        lines += [f"  note    {p}: {n}" for p, n in self.notes]
        return "\n".join(lines)


__all__ = ["SECTION_5_2_TRANSFORM", "EXTENSIONS", "ImageDataError", "ImageDataWarning", "open_rgb",
           "load_image", "list_images", "SafeImageFolder"]

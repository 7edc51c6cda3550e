"""make-data: the embedded data set as ImageFolder-compatible files on disk, with a manifest.

For readers who want files: `make_data` writes train/val/test folders of neutral crops, the same
crops edited with each named look, avatars and their masks, plus `manifest.json` recording how
every file was made (so the exact ground truth of a styled file can be recomputed).
`write_previews` draws the pictures of data/README.md.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import avatars as _avatars
from . import looks as _looks
from .photos import PHOTOS, SPLITS, _check_split, _photo, crop_boxes, cut, load_sources, pyramid

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

    Command: `python -c "from influencer_gan.make_data import write_previews; write_previews()"`
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


__all__ = ["make_data", "file_digest", "write_previews"]

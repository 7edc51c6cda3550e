"""Training streams: endless batches drawn from one `torch.Generator` (§3.1 data, §3.3 step 2).

`LookStream` turns the bundled photos and scenes (`photos.py`) into batches for style transfer —
neutral crops, other crops edited with a look (the influencer's feed), reference crops, and the
exact ground truth from `looks.apply` — or reads your own content and feed folders (`files.py`).
`AvatarStream` does the same for the avatars of `avatars.py`. Everything is drawn from one
generator, so a run resumes bit-exactly.
"""
from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, lru_cache
from typing import Iterator, Optional

import numpy as np
import torch
from PIL import Image

from . import avatars as _avatars
from . import filters as _filters
from . import looks as _looks
from . import textures as _textures
from .files import ImageDataError, ImageDataWarning, SafeImageFolder
from .photos import CropBank, _check_split, load_sources, pyramid, random_crops

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


PRIOR_POOL_MAX = 10_000  # seeds from 10 000 on are kept out of training (metrics.UNSEEN_SEEDS, ...)


def sample_looks(n: int, generator: torch.Generator, mode: str = "mixed", prior_pool: int = 0) -> torch.Tensor:
    """Draw `n` look vectors `(n, P)`: "named" picks uniformly among `looks.NAMED`, "prior"
    draws `looks.random_look(seed)` with a seed from the generator, "mixed" does each half of
    the time. `prior_pool > 0` draws the prior's seeds from `range(prior_pool)` only: a fixed
    set of that many looks, each made once and then cached (a fresh draw costs ~20 ms)."""
    return _sample_looks(n, generator, mode, prior_pool)[0]


def _sample_looks(n: int, generator: torch.Generator, mode: str, prior_pool: int):
    """`sample_looks` and which rows are named looks."""
    if not 0 <= prior_pool <= PRIOR_POOL_MAX:
        raise ValueError(f"prior_pool must be in [0, {PRIOR_POOL_MAX}], got {prior_pool}")
    if mode not in ("mixed", "named", "prior"):
        raise ValueError(f"looks must be 'mixed', 'named' or 'prior', got {mode!r}")
    names = list(_looks.NAMED)
    u = torch.rand(n, generator=generator)
    idx = torch.randint(len(names), (n,), generator=generator)
    seeds = torch.randint(prior_pool or 2 ** 31 - 1, (n,), generator=generator)
    use_named = {"named": torch.ones(n, dtype=torch.bool), "prior": torch.zeros(n, dtype=torch.bool),
                 "mixed": u < 0.5}[mode]
    rows = [_named_vectors()[int(i)] if named else _prior_vector(int(s))
            for named, i, s in zip(use_named.tolist(), idx.tolist(), seeds.tolist())]
    return (torch.stack(rows) if rows else torch.zeros(0, _looks.N_PARAMS)), use_named


def sample_wide(n: int, generator: torch.Generator, prior_pool: int = 0):
    """The "wide" prior: looks beyond the sliders. Draws `(params (n, P), filter)` where
    `filter` is a batched app filter (`filters.render`) applied after the sliders:

    * half the rows are named looks (slider looks, no filter), as in "mixed";
    * of the other half, a third are slider looks of the prior, a third the same followed by
      an app filter of `filters.random_filter`, and a third an app filter alone (sliders 0):
      global colour mappings, channel mixers, curves, 3D LUTs, blend-mode gradients and
      vignettes that no slider makes.

    With `prior_pool > 0` the filters' seeds come from `range(prior_pool)` too."""
    return _sample_wide(n, generator, prior_pool)[:2]


def _sample_wide(n: int, generator: torch.Generator, prior_pool: int = 0):
    """`sample_wide` and which rows are named looks."""
    params, named = _sample_looks(n, generator, "mixed", prior_pool)
    kind = torch.randint(3, (n,), generator=generator)
    seeds = torch.randint(prior_pool or 2 ** 31 - 1, (n,), generator=generator)
    kind = torch.where(named, torch.zeros_like(kind), kind)
    params = torch.where((kind == 2).unsqueeze(1), torch.zeros_like(params), params)
    rows = [_filters.identity(1) if k == 0 else _filter(int(s))
            for k, s in zip(kind.tolist(), seeds.tolist())]
    return params, _filters.stack(rows), named


@lru_cache(maxsize=PRIOR_POOL_MAX)
def _filter(seed: int) -> dict:
    return _filters.random_filter(seed)


def render_look(img: torch.Tensor, params: torch.Tensor, filt: Optional[dict], c: Optional[torch.Tensor],
                grain: bool, seed=0, condition: str = "intensity") -> torch.Tensor:
    """`img` (B,3,H,W) in a look: the sliders `params`, then the app filter `filt` (None: none),
    then the personal condition `c` (None: full strength) as `condition` defines it."""
    if filt is None:
        if c is None:
            return _looks.apply(img, params, grain=grain, seed=seed)
        return _looks.apply(img, params, c[:, 0], c[:, 1], c[:, 2], grain=grain, seed=seed, condition=condition)
    full = _filters.render(_looks.apply(img, params, grain=grain, seed=seed), filt)
    if c is None:
        return full
    if condition != "intensity":
        raise ValueError("an app filter has no sliders: its c is defined only as 'intensity'")
    return _looks.personal_edit(img, full, c[:, 0], c[:, 1], c[:, 2]).clamp(0.0, 1.0)


TEXTURE_SIDE = 4   # a texture crop of S px stands for a picture whose short side is 4·S px


def is_texture(looks: str) -> bool:
    """Whether a stream's `looks` setting draws texture looks ("texture", "texture:NAME")."""
    return looks == "texture" or looks.startswith("texture:")


def check_looks(looks: str) -> str:
    """Validate a stream's `looks` setting and return it."""
    if looks in ("mixed", "named", "prior", "wide", "texture"):
        return looks
    if looks.startswith("texture:") and looks[len("texture:"):] in _textures.NAMED_TEXTURES:
        return looks
    raise ValueError(f"looks must be 'mixed', 'named', 'prior', 'wide', 'texture' or 'texture:NAME' "
                     f"with NAME in {sorted(_textures.NAMED_TEXTURES)}, got {looks!r}")


def sample_textures(n: int, generator: torch.Generator, looks: str = "texture",
                    prior_pool: int = 0) -> list:
    """Draw `n` texture looks (`textures.TextureLook`): "texture:NAME" is always that named look
    (one domain, as in CycleGAN's photo → Monet); "texture" is a named look half of the time and
    `textures.random_texture(seed)` otherwise, with seeds from `range(prior_pool)` when
    `prior_pool > 0` (the prior's held-out seeds start at 10 000)."""
    if looks.startswith("texture:"):
        return [_textures.get(looks[len("texture:"):])] * n
    names = list(_textures.NAMED_TEXTURES)
    u = torch.rand(n, generator=generator)
    idx = torch.randint(len(names), (n,), generator=generator)
    seeds = torch.randint(prior_pool or _textures.HELD_OUT_SEED, (n,), generator=generator)
    return [_textures.NAMED_TEXTURES[names[int(i)]] if float(v) < 0.5 else _textures.random_texture(int(sd))
            for v, i, sd in zip(u, idx, seeds)]


def render_texture(img: torch.Tensor, looks: list, c: Optional[torch.Tensor], texture: bool,
                   seed: int = 0) -> torch.Tensor:
    """`img` (B,3,S,S) crops in the texture looks `looks` (one per row), painted as parts of a
    picture of short side `TEXTURE_SIDE`·S, then c (None: full strength) as photo apps define
    it. `texture=False`: the ground truth's marks that are a function of the photo only."""
    side = TEXTURE_SIDE * img.shape[-1]
    if c is None:
        return _textures.apply(img, looks, seed=seed, side=side, texture=texture)
    return _textures.apply(img, looks, strength=c[:, 2], vivid=c[:, 0], warmth=c[:, 1], seed=seed,
                           side=side, texture=texture)


@lru_cache(maxsize=1)
def _named_vectors() -> torch.Tensor:
    return torch.stack([look.vector() for look in _looks.NAMED.values()])


@lru_cache(maxsize=PRIOR_POOL_MAX)
def _prior_vector(seed: int) -> torch.Tensor:
    return _looks.random_look(seed).vector()


class _FolderImages:
    """The images of a SafeImageFolder, decoded once (by a pool of threads: decoding releases
    the GIL), shrunk so the short side is at most `max_short`, and packed into a `CropBank`
    on `device`, from which every batch of crops is cut in one operation."""

    def __init__(self, folder: SafeImageFolder, max_short: int, min_side: int, rank: int = 0,
                 world_size: int = 1, device="cpu"):
        self.folder, self.max_short = folder, max_short
        # Under torchrun each process keeps its own shard of the files (DistributedSampler).
        self.indices = list(range(len(folder)))
        if world_size > 1:
            from torch.utils.data.distributed import DistributedSampler
            self.indices = list(DistributedSampler(folder, num_replicas=world_size, rank=rank, shuffle=False))
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(self.indices)))) as pool:
            decoded = list(pool.map(self._decode, self.indices))
        images = []
        for i, im in zip(self.indices, decoded):
            if isinstance(im, Exception):   # the file changed after SafeImageFolder checked it
                warnings.warn(f"{folder.samples[i][0]}: changed since it was checked and is now unusable "
                              f"({im}); left out", ImageDataWarning, stacklevel=3)
            else:
                images.append(im)
        if not images:
            raise ImageDataError(f"no usable images left in {folder.root}")
        self.atlas = CropBank(images, min_side, device=device)

    def _decode(self, i: int):
        try:
            im = self.folder.load(i)
        except Exception as e:  # reported by the caller, in the main thread
            return e
        k = self.max_short / min(im.size)
        if k < 1:
            im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.BILINEAR,
                           reducing_gap=3.0)
        return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).contiguous()

    def __len__(self):
        return len(self.atlas)

    def crops(self, n: int, size: int, g: torch.Generator) -> torch.Tensor:
        return self.atlas.crops(n, size, g)


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
      "named", "prior" or "mixed"; `prior_pool` > 0 limits the prior to that many looks);
    * `named` `(B,)`: the rows whose look is a named look (the influencers' looks, never
      paired in training: the encoder stage of `train.Trainer` learns only from the other rows,
      looks the package drew at random);
    * `filter`: with `looks="wide"`, the app filter applied after the sliders (`sample_wide`,
      `filters.render`; identity for named looks), else None; `filter_only` `(B,)` then marks
      the rows whose look is an app filter alone (no slider moved);
    * `x_gt` `(B,3,S,S)`: the exact, grain-free ground truth `looks.apply(x, params, *c,
      grain=False, condition=condition)` (`condition`: what c means, see `looks.apply`) — only
      with `ground_truth=True` (the default); unpaired training never reads it, so the trainer
      asks for it only when a loss does. `ground_truth(batch)` makes it later.

    Folder mode (`content_dir` and `styled_dir`: your own photos and an influencer's feed): `x`
    comes from the content folder, `y` and `refs` from the styled folder, c = (0, 0, 1), and
    `params` and `x_gt` are None because nobody knows the influencer's sliders. The folders are
    loaded with `SafeImageFolder` (min_size = S, every image anywhere under each folder, no
    classes), decoded once by a pool of threads, and cut with the same multi-scale random crops.

    Where the data is made: everything lives on `device` — the sources packed in one tensor
    (`CropBank`), so that a batch's crops are one `grid_sample`, and the looks rendered there —
    while every random number comes from the CPU `generator` passed to `batch`. The same seed
    gives the same batches on every run (and, up to rounding, on every device), and restoring
    the generator's state resumes a run bit-exactly; iterating the stream uses its own
    generator seeded with `seed`. `neutral_crops` keeps the one-at-a-time antialiased cutter
    (`photos.random_crops`) for the small, fixed reference sets that inference builds.
    """

    def __init__(self, size: int = 64, batch_size: int = 8, split: str = "train", refs: int = 5,
                 looks: str = "mixed", seed: int = 0, content_dir=None, styled_dir=None,
                 device="cpu", rank: int = 0, world_size: int = 1, prior_pool: int = 0,
                 ground_truth: bool = True, condition: str = "intensity"):
        self.size, self.batch_size, self.split = int(size), int(batch_size), _check_split(split)
        self.prior_pool, self.with_ground_truth = int(prior_pool), bool(ground_truth)
        if condition not in _looks.CONDITIONS:
            raise ValueError(f"condition must be one of {_looks.CONDITIONS}, got {condition!r}")
        self.condition = condition
        self.refs, self.looks, self.seed, self.device = int(refs), looks, int(seed), torch.device(device)
        check_looks(looks)
        if (looks == "wide" or is_texture(looks)) and condition != "intensity":
            raise ValueError(f"looks {looks!r} has looks without sliders, whose c is defined only as 'intensity'")
        if (content_dir is None) != (styled_dir is None):
            raise ValueError("folder mode needs both content_dir and styled_dir")
        self.folder_mode = content_dir is not None
        if self.folder_mode:
            with warnings.catch_warnings():
                warnings.simplefilter("always", ImageDataWarning)
                self.content, self.styled = (
                    _FolderImages(SafeImageFolder(d, transform=None, min_size=self.size, classes=False),
                                  4 * self.size, self.size, rank, world_size, self.device)
                    for d in (content_dir, styled_dir))
        else:
            sources, self.weights = load_sources(self.split)
            self.source_names = [n for n, _ in sources]
            self.images = [pyramid(im, self.size) for _, im in sources]
        self.generator = torch.Generator().manual_seed(self.seed)

    @cached_property
    def atlas(self) -> CropBank:
        """The split's sources packed for batched cropping (built on the first `batch`)."""
        return CropBank([levels[0] for levels in self.images], self.size, self.weights, self.device)

    def neutral_crops(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` unedited crops `(n,3,S,S)` of the split's sources, cut one at a time with an
        antialiased resize on the CPU (or, in folder mode, from your content folder)."""
        if self.folder_mode:
            return self.content.crops(n, self.size, generator)
        return random_crops(self.images, n, self.size, generator, self.weights)

    def batch(self, generator: Optional[torch.Generator] = None) -> dict:
        g = self.generator if generator is None else generator
        B, K, S, dev = self.batch_size, self.refs, self.size, self.device
        if self.folder_mode:
            x = self.content.crops(B, S, g)
            y = self.styled.crops(B, S, g)
            refs = self.styled.crops(B * K, S, g).view(B, K, 3, S, S)
            c = torch.tensor([0.0, 0.0, 1.0], device=dev).repeat(B, 1)
            return dict(x=x, y=y, refs=refs, c=c, params=None, x_gt=None)
        if is_texture(self.looks):
            return self._texture_batch(g)
        if self.looks == "wide":
            params, filt, named = _sample_wide(B, g, self.prior_pool)
        else:
            (params, named), filt = _sample_looks(B, g, self.looks, self.prior_pool), None
        c = sample_condition(B, g)
        x = self.atlas.crops(B, S, g)
        y = self.atlas.crops(B, S, g)
        r = self.atlas.crops(B * K, S, g)
        seeds = torch.randint(2 ** 31 - 1, (2,), generator=g).tolist()
        params, c = params.to(dev), c.to(dev)
        if filt is not None:
            filt = {k: v.to(dev) for k, v in filt.items()}
        with torch.no_grad():
            y = render_look(y, params, filt, c, grain=True, seed=seeds[0], condition=self.condition)
            r = render_look(r, params.repeat_interleave(K, 0),
                            None if filt is None else {k: v.repeat_interleave(K, 0) for k, v in filt.items()},
                            None, grain=True, seed=seeds[1])
        b = dict(x=x, y=y, refs=r.view(B, K, 3, S, S), c=c, params=params, filter=filt, x_gt=None,
                 named=named.to(dev))
        if filt is not None:   # rows whose look is an app filter alone (no slider moved)
            b["filter_only"] = params.abs().amax(1) == 0
        if self.with_ground_truth:
            b["x_gt"] = self.ground_truth(b)
        return b

    def _texture_batch(self, g: torch.Generator) -> dict:
        """A batch of texture looks (`sample_textures`, `render_texture`): like a colour batch,
        with the looks in `texture` (a list of `textures.TextureLook`) and no slider vector.
        The marks' noise seed is drawn per batch, so G cannot memorise one stroke pattern."""
        B, K, S, dev = self.batch_size, self.refs, self.size, self.device
        looks = sample_textures(B, g, self.looks, self.prior_pool)
        c = sample_condition(B, g).to(dev)
        x, y, r = (self.atlas.crops(n, S, g) for n in (B, B, B * K))
        seeds = torch.randint(2 ** 31 - 1, (2,), generator=g).tolist()
        with torch.no_grad():
            y = render_texture(y, looks, c, texture=True, seed=seeds[0])
            r = render_texture(r, [lk for lk in looks for _ in range(K)], None, texture=True, seed=seeds[1])
        b = dict(x=x, y=y, refs=r.view(B, K, 3, S, S), c=c, params=None, texture=looks, x_gt=None)
        if self.with_ground_truth:
            b["x_gt"] = self.ground_truth(b)
        return b

    @torch.no_grad()
    def ground_truth(self, b: dict) -> Optional[torch.Tensor]:
        """The exact, grain-free answer for the batch `b`: `looks.apply(x, params, *c)`, or
        for texture looks their rendering without the marks that are not a function of the
        photo (None in folder mode, where nobody knows the influencer's sliders)."""
        if b.get("texture") is not None:
            return render_texture(b["x"], b["texture"], b["c"], texture=False)
        if b.get("params") is None:
            return None
        return render_look(b["x"], b["params"], b.get("filter"), b["c"], grain=False,
                           condition=self.condition)

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

    `device` is where the avatars are drawn and edited (the random numbers always come from the
    CPU generator, so the stream is the same on every device up to rounding). On a GPU this takes
    the per-pixel drawing off the CPU, which bounded GPU training at 2 threads per run.
    """

    STYLES = ("named+identity", "named", "identity", "all")

    def __init__(self, size: int = 64, batch_size: int = 8, seed: int = 0, styles: str = "named+identity",
                 device=None):
        if styles not in self.STYLES:
            raise ValueError(f"styles must be one of {', '.join(self.STYLES)}, got {styles!r}")
        self.size, self.batch_size, self.styles = int(size), int(batch_size), styles
        self.device = device
        self.generator = torch.Generator().manual_seed(int(seed))

    def batch(self, generator: Optional[torch.Generator] = None) -> dict:
        g = self.generator if generator is None else generator
        B = self.batch_size
        out = _avatars.render_batch(B, self.size, generator=g, device=self.device)
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
        style = style.to(out["img"].device)
        with torch.no_grad():
            img = _looks.apply(out["img"], style, grain=False)
        return dict(img=img, mask=out["mask"], cond=out["cond"], style=style)

    def __iter__(self) -> Iterator[dict]:
        while True:
            yield self.batch()


__all__ = ["sample_condition", "sample_looks", "LookStream", "AvatarStream"]

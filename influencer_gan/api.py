"""§3.4 Inference: use the trained generator.

"Input a content image, style reference images and a personal condition; the generator G
outputs the stylised, personalised image." That is `LookModel.stylize`. Its sibling
`AvatarModel.generate` makes personalised avatars from attributes.

Weights are safetensors plus a JSON config, never pickles: `load_model(path)` opens a run
folder written by `influencer-gan train` (or its model.safetensors), `load_pretrained(name)`
opens the weights shipped inside the package. Both take `device="auto"` by default: the GPU
when PyTorch sees one (a Colab GPU runtime), the CPU otherwise (`resolve_device`).

Devices: the networks run on the model's device. `stylize` moves what it is given there and
returns a tensor on the device the input tensor came from (a PIL image for a PIL image), so a
CPU tensor in gives a CPU tensor out whichever device the model is on; `generate` returns
tensors on the model's device.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import torch
import torch.nn.functional as Fn

from .train import CONFIG, MODEL, TrainConfig, build_networks, read_checkpoint, to_img, to_net

WEIGHTS_DIR = Path(__file__).parent / "weights"

# The personal condition's sliders and their ranges (those of looks.personal_edit and of the
# training prior, data.sample_condition): outside them the model was never trained.
SLIDERS = {"vivid": (-1.0, 1.0), "warmth": (-1.0, 1.0), "strength": (0.0, 1.0)}


def check_condition(**sliders: float) -> None:
    """Raise a ValueError naming the first slider outside its range (see `SLIDERS`)."""
    for name, value in sliders.items():
        lo, hi = SLIDERS[name]
        if not lo <= float(value) <= hi:   # also refuses nan
            raise ValueError(f"{name}={float(value):g} is out of range: {name} goes from {lo:g} to {hi:g}")
ImageLike = Union["PIL.Image.Image", torch.Tensor, str, Path]  # noqa: F821


def inference_threads() -> int:
    """CPU threads for one `stylize` or `generate` call: torch's own setting, or 1 while OpenMP
    spin-waits (torch was imported before influencer_gan and OMP_WAIT_POLICY is not set; see
    the package's __init__). A single thread has no barrier to stall at when other processes
    keep the cores busy, and at these sizes it is about as fast as two."""
    return 1 if "OMP_WAIT_POLICY" not in os.environ else torch.get_num_threads()


@contextmanager
def _cpu_threads(device: torch.device):
    n, old = inference_threads(), torch.get_num_threads()
    if device.type != "cpu" or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def resolve_device(device: Union[str, torch.device, None] = "auto") -> torch.device:
    """The device a loaded model runs on: "auto" (or None) is "cuda" when PyTorch sees a GPU,
    else "cpu"; anything else is taken as asked ("cpu", "cuda", "cuda:1", "mps", ...). Asking
    for CUDA on a machine without it is a ValueError that says so."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'mps'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was asked for, but PyTorch sees no CUDA GPU "
                         f"(use device='auto' to fall back to the CPU)")
    return dev


def _to_tensor(img: ImageLike) -> torch.Tensor:
    """PIL image, path or (3,H,W) tensor in [0,1] -> (3,H,W) float tensor in [0,1]."""
    if torch.is_tensor(img):
        return img.float()
    if isinstance(img, (str, Path)):
        from .data import load_image
        img = load_image(img)
    import numpy as np
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def _to_pil(t: torch.Tensor):
    from PIL import Image
    arr = (t.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype("uint8")
    return Image.fromarray(arr)


def _square(t: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the short side to `size` and centre-crop: how references enter the StyleEncoder."""
    h, w = t.shape[-2:]
    s = size / min(h, w)
    t = Fn.interpolate(t[None], size=(max(size, round(h * s)), max(size, round(w * s))),
                       mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (t.shape[-2] - size) // 2, (t.shape[-1] - size) // 2
    return t[:, top:top + size, left:left + size]


class _Loaded:
    def __init__(self, config: TrainConfig, tensors: dict, device="auto", source: str = ""):
        self.config, self.device, self.source = config, resolve_device(device), source
        nets = build_networks(config)
        self.nets = {}
        for name in ("E", "G"):
            if name in nets:
                prefix = name + "."
                state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
                if not state:
                    raise ValueError(f"{source}: no weights for network {name}")
                try:
                    nets[name].load_state_dict(state)
                except RuntimeError as e:        # shapes or names that the config does not make
                    detail = " ".join(str(e).split("\n", 1)[-1].split())
                    raise ValueError(
                        f"{source}: the weights of network {name} do not fit the configuration stored "
                        f"with them (written by another version of the package?): {detail}") from None
                self.nets[name] = nets[name].to(self.device).eval()

    def __repr__(self):
        return f"{type(self).__name__}(task={self.config.task!r}, source={self.source!r})"


class LookModel(_Loaded):
    """A trained look generator G with its StyleEncoder E."""

    n_refs = 8  # reference crops rendered to describe a named look to E

    @torch.no_grad()
    def style_code(self, look=None, reference: Optional[Sequence[ImageLike]] = None) -> torch.Tensor:
        """The style code s of a look: from reference images, or a named look / mix of looks.

        A named look ("teal_orange"), a mix ("teal_orange:0.7,pastel:0.3") or a `Look` is shown
        to E the way a feed would show it: rendered over fixed bundled training crops. A mix is
        a convex combination of the codes — the smooth path that CBN makes meaningful (§4.4).
        """
        if (look is None) == (reference is None):
            raise ValueError("give exactly one of look=... or reference=[...]")
        size = self.config.image_size
        if reference is not None:
            refs = [_square(_to_tensor(r).to(self.device), size) for r in reference]
            if not refs:
                raise ValueError("reference: give at least one image")
            return self.nets["E"](to_net(torch.stack(refs)[None].to(self.device)))[0]
        from . import looks as L
        if isinstance(look, str) and ("," in look or ":" in look):
            pairs = parse_look_mix(look)
            total = sum(w for _, w in pairs)
            return sum(w / total * self.style_code(name) for name, w in pairs)
        if isinstance(look, str) and look not in L.NAMED:
            raise ValueError(f"unknown look {look!r}; named looks: {', '.join(sorted(L.NAMED))}")
        named = isinstance(look, str)
        cache = self.__dict__.setdefault("_named_codes", {})
        if named and look in cache:          # a named look's code is fixed once the model is loaded
            return cache[look].clone()
        crops = _reference_crops(self.n_refs, size)
        styled = L.apply(crops, look, grain=True, seed=0)
        code = self.nets["E"](to_net(styled[None].to(self.device)))[0]
        if named:
            cache[look] = code.clone()
        return code

    @torch.no_grad()
    def stylize(self, image, look=None, reference=None, vivid: float = 0.0, warmth: float = 0.0,
                strength: float = 1.0, style: Optional[torch.Tensor] = None):
        """Restyle `image` (PIL, path, (3,H,W) or (B,3,H,W) tensor in [0,1]); output keeps its size.

        Returns the same kind it was given: a PIL image for PIL/path input, a tensor otherwise,
        on the device of the input tensor (the model may run elsewhere, e.g. on the GPU).
        `vivid` and `warmth` go from -1 to 1, `strength` from 0 to 1 (a ValueError outside).
        A `style` code may live on any device.
        """
        check_condition(vivid=vivid, warmth=warmth, strength=strength)
        with _cpu_threads(self.device):
            s = (style if style is not None else self.style_code(look, reference)).to(self.device)
            tensor_in = torch.is_tensor(image)
            x = _to_tensor(image)
            batched, home = x.dim() == 4, x.device
            x = (x if batched else x[None]).to(self.device)
            c = torch.tensor([[vivid, warmth, strength]], dtype=torch.float32, device=self.device)
            out = to_img(self.nets["G"](to_net(x), s.expand(x.shape[0], -1), c.expand(x.shape[0], -1)))
        if tensor_in:
            out = out.to(home)
            return out if batched else out[0]
        return _to_pil(out[0])


class AvatarModel(_Loaded):
    """A trained avatar generator G(z | style, attributes) (§5.3.1)."""

    @torch.no_grad()
    def generate(self, n: int = 8, attrs: Optional[dict] = None, seed: int = 0, look=None,
                 return_tensor: bool = False):
        """`n` avatars; attributes you do not fix in `attrs` are drawn at random from `seed`.

        `look` (a named look or `Look`) dresses them in an influencer's look; default none.
        Returns a list of PIL images (or a (n,3,S,S) tensor in [0,1], on the model's device) and
        the attributes used. The random numbers come from a CPU generator whatever the device, so
        a seed gives the same attributes and noise z on the CPU and on a GPU.
        """
        from . import avatars as A
        from . import looks as L
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        attrs = dict(attrs or {})
        for k, v in attrs.items():
            if k not in A.ATTRIBUTES:
                raise ValueError(f"unknown attribute {k!r}; attributes: {', '.join(A.ATTRIBUTES)}")
            if v not in A.ATTRIBUTES[k]:
                raise ValueError(f"unknown value {v!r} for {k}; choose one of {', '.join(A.ATTRIBUTES[k])}")
        g = torch.Generator().manual_seed(seed)
        chosen = [{**A.random_attributes(g), **attrs} for _ in range(n)]
        cond = torch.stack([A.encode(a) for a in chosen]).to(self.device)
        style_look = L.IDENTITY if look is None else (L.NAMED[look] if isinstance(look, str) else look)
        style = style_look.vector()[None].expand(n, -1).to(self.device)
        z = torch.randn(n, self.config.z_dim, generator=g).to(self.device)
        with _cpu_threads(self.device):
            out = to_img(self.nets["G"](z, style, cond))
        if return_tensor:
            return out, chosen
        return [_to_pil(o) for o in out], chosen


def parse_look_mix(spec: str) -> list[tuple[str, float]]:
    """"teal_orange:0.7,pastel:0.3" -> [("teal_orange", 0.7), ("pastel", 0.3)]; a bare name weighs 1."""
    pairs = []
    for part in spec.split(","):
        name, _, weight = part.strip().partition(":")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"bad look mix {spec!r}: write NAME:WEIGHT,NAME:WEIGHT") from None
        if w < 0:
            raise ValueError(f"look mix {spec!r}: weights must not be negative")
        pairs.append((name.strip(), w))
    if sum(w for _, w in pairs) <= 0:
        raise ValueError(f"look mix {spec!r}: weights must sum to more than 0")
    return pairs


_reference_cache: dict = {}


def _reference_crops(n: int, size: int) -> torch.Tensor:
    """Fixed, seeded crops of the bundled training photos (the 'feed' a named look is shown on)."""
    key = (n, size)
    if key not in _reference_cache:
        from .data import LookStream
        stream = LookStream(size=size, batch_size=1, refs=n, looks="named", seed=0)
        _reference_cache[key] = stream.neutral_crops(n, torch.Generator().manual_seed(2024))
    return _reference_cache[key]


RESULTS_FILE = Path(__file__).parent / "results" / "measured.json"


def measured_results() -> dict:
    """What the shipped weights measure: the project's targets (speed and quality) with the
    measured value and whether each was met, the looks model's and the avatar model's scores
    next to doing nothing, and the avatar variants the FAQ compares. The benchmark scripts
    write these figures into the repository (benchmarks/RESULTS.md and benchmarks/results/);
    a copy ships inside the package, so it can be read offline and without the repository
    (in Colab). Its "made_by" entry names the command that writes the copy; a test checks that
    the copy matches the repository's figures."""
    return json.loads(RESULTS_FILE.read_text(encoding="utf-8"))


def load_model(path, device: str = "auto") -> Union[LookModel, AvatarModel]:
    """Open a run folder (or its model.safetensors) written by `influencer-gan train`, on
    `device` ("auto": the GPU if PyTorch sees one, else the CPU; see `resolve_device`)."""
    path = Path(path)
    file = path / MODEL if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"no model weights at {file} (train one with `influencer-gan train`)")
    tensors, meta = read_checkpoint(file)
    cfg_file = file.with_name(CONFIG)
    if "config" in meta:
        cfg = TrainConfig.from_dict(json.loads(meta["config"]))
    elif cfg_file.exists():
        cfg = TrainConfig.load(cfg_file)
    else:
        raise ValueError(f"{file}: no config inside and no {CONFIG} beside it")
    if any(k.startswith("ema.") for k in tensors):        # a full training checkpoint
        tensors = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    cls = LookModel if cfg.task == "looks" else AvatarModel
    return cls(cfg, tensors, device=device, source=str(file))


def load_pretrained(name: str, device: str = "auto") -> Union[LookModel, AvatarModel]:
    """The weights that ship inside the package: "looks" or "avatars". Works offline.
    `device="auto"` (the default) runs them on the GPU when PyTorch sees one, else on the CPU."""
    if name not in ("looks", "avatars"):
        raise ValueError(f"unknown pretrained model {name!r}: choose 'looks' or 'avatars'")
    folder = WEIGHTS_DIR / name
    if not (folder / MODEL).exists():
        raise FileNotFoundError(
            f"no weights shipped yet for {name!r} (expected {folder / MODEL}). Train your own with "
            f"`influencer-gan train {name} --out runs/{name}` and open it with "
            f"influencer_gan.load_model('runs/{name}').")
    return load_model(folder, device=device)

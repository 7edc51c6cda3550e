"""Looks: an influencer's photo-editing style as a small, exact, differentiable program.

The document (§1.2) says every influencer has a style of their own, visible in how they shoot and
*edit* their pictures, and §3.1 asks for data that shows it. Real feeds are private and unlabelled,
so this module builds the style itself: a **look** is a short vector of slider values for a
photo-editing pipeline that any reader has met in a phone app — white balance, exposure, contrast,
a tone curve, saturation and vibrance, split toning, fade, vignette and film grain. Because the
pipeline is written in torch, a look is

* **exact** — `apply(photo, look)` *is* the ground truth of the styled photo, so every output of a
  style-transfer model can be scored against the image it should have produced;
* **differentiable** — in the image and in the parameters, so a look can be fitted by gradient
  descent or used inside a loss;
* **batched** — one parameter vector per image, `(B, P)`, so thousands of styled training pairs
  are made on the fly, for free, in every training step.

Parameters are roughly normalised to [-1, 1] (the models read them as conditions) and 0 means
"leave the photo alone" for every slider, so the identity look is the zero vector and
`strength` simply scales a look towards it.

The personal condition c = (vivid, warmth, strength) is the document's §4.5 example of a
personal touch ("vivid colours"): `personalize` maps it to an exact change of the parameters, so
`apply(img, look, vivid=..., warmth=..., strength=...)` is the exact answer to any request.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence, Union

import torch

# The order of the look parameter vector. Every entry is 0 for "no change".
PARAM_NAMES: tuple[str, ...] = (
    "temperature",       # white balance: + warmer (more red, less blue), - cooler
    "tint",              # white balance: + magenta, - green
    "exposure",          # brightness in stops: +1 = twice as bright
    "contrast",          # S-curve around mid-grey: + punchier, - flatter
    "shadows",           # tone curve, lower control point: + lifts the shadows
    "highlights",        # tone curve, upper control point: + brightens the highlights
    "saturation",        # -1 = black and white, +1 = twice the chroma
    "vibrance",          # saturation that spares colours that are already saturated
    "shadow_tint_cb",    # split toning, colour added to the shadows (blue-yellow axis, + blue)
    "shadow_tint_cr",    # split toning, colour added to the shadows (red-cyan axis,  + red)
    "highlight_tint_cb", # split toning, colour added to the highlights
    "highlight_tint_cr",
    "fade",              # lifted blacks (matte look); negative crushes them
    "vignette",          # + darker corners, - brighter corners
    "grain",             # film-grain amplitude (texture, not colour; 0..1)
)
N_PARAMS = len(PARAM_NAMES)
COND_NAMES = ("vivid", "warmth", "strength")
COND_DIM = len(COND_NAMES)

# How far one unit of each slider moves the image (the "feel" of the sliders).
_WB_GAIN = 0.25          # temperature/tint: channel gains exp(±0.25 * value)
_CURVE_GAIN = 0.25       # tone-curve control points move by up to 0.25
_TONE_GAIN = 0.2         # split-toning colour offset per unit (in Cb/Cr units)
_FADE_GAIN = 0.25        # fade = +1 lifts black to 0.25
_VIGNETTE_GAIN = 0.6     # vignette = +1 darkens the corners by 60 %
_GRAIN_GAIN = 0.06       # grain = +1 adds noise with standard deviation 0.06
_LUMA = (0.299, 0.587, 0.114)  # Rec. 601 luma, the Y of YCbCr

# What the personal condition c does (see `personalize`). Each knob adds a fixed direction in
# parameter space; `strength` then scales the whole result towards the identity.
_VIVID = {"saturation": 0.5, "vibrance": 0.5, "contrast": 0.15}
_WARMTH = {"temperature": 0.5, "tint": 0.05, "shadow_tint_cb": -0.12, "shadow_tint_cr": 0.06,
           "highlight_tint_cb": -0.18, "highlight_tint_cr": 0.09}
# `adjust` skips the editor's stages that these two directions never touch; keep it that way
assert not ({"shadows", "highlights", "fade", "vignette", "grain"} & (set(_VIVID) | set(_WARMTH)))


@dataclass(frozen=True)
class Look:
    """A named look: one float per entry of `PARAM_NAMES` (0 = no change) plus a description.

    `Look()` is the identity. `look.vector()` gives the `(P,)` tensor the pipeline and the
    models use, and `Look.from_vector(v)` turns a vector back into a `Look`.
    """
    name: str = "custom"
    description: str = ""
    temperature: float = 0.0
    tint: float = 0.0
    exposure: float = 0.0
    contrast: float = 0.0
    shadows: float = 0.0
    highlights: float = 0.0
    saturation: float = 0.0
    vibrance: float = 0.0
    shadow_tint_cb: float = 0.0
    shadow_tint_cr: float = 0.0
    highlight_tint_cb: float = 0.0
    highlight_tint_cr: float = 0.0
    fade: float = 0.0
    vignette: float = 0.0
    grain: float = 0.0

    def vector(self) -> torch.Tensor:
        """The look as a float32 tensor of shape `(N_PARAMS,)`, in the order of `PARAM_NAMES`."""
        return torch.tensor([float(getattr(self, n)) for n in PARAM_NAMES], dtype=torch.float32)

    @classmethod
    def from_vector(cls, v, name: str = "custom", description: str = "") -> "Look":
        """Build a `Look` from a `(N_PARAMS,)` vector (tensor, array or list); exact, so
        `Look.from_vector(v).vector()` equals `v` in float32."""
        v = torch.as_tensor(v, dtype=torch.float32).detach().cpu().reshape(-1)
        if v.numel() != N_PARAMS:
            raise ValueError(f"a look vector has {N_PARAMS} entries {PARAM_NAMES}, got {v.numel()}")
        return cls(name=name, description=description,
                   **{n: float(x) for n, x in zip(PARAM_NAMES, v)})

    def params(self) -> dict[str, float]:
        """The non-zero sliders of this look, as a dict (handy for printing and manifests)."""
        return {n: getattr(self, n) for n in PARAM_NAMES if getattr(self, n) != 0.0}


def _split(cb_deg: float, amount: float) -> tuple[float, float]:
    """A split-toning colour given as a hue angle on the Cb/Cr plane and an amount."""
    a = math.radians(cb_deg)
    return round(amount * math.cos(a), 3), round(amount * math.sin(a), 3)


IDENTITY = Look("identity", "No edit: every slider at zero. `apply(img, IDENTITY)` returns `img`.")

# Hue angles on the (Cb, Cr) plane: 0° blue, 90° red, 180° yellow, 270° cyan/green;
# orange ≈ 135°, teal ≈ 300°, magenta ≈ 45°, green ≈ 225°.
NAMED: dict[str, Look] = {look.name: look for look in [
    Look("golden_hour", "Warm late-afternoon light: strong warm white balance, soft bright "
         "highlights, amber highlights and brown shadows, gentle vignette.",
         temperature=0.9, tint=0.15, exposure=0.1, contrast=0.2, highlights=0.3,
         saturation=0.15, vibrance=0.4, vignette=0.35, grain=0.1,
         **dict(zip(("shadow_tint_cb", "shadow_tint_cr"), _split(150, 0.3))),
         **dict(zip(("highlight_tint_cb", "highlight_tint_cr"), _split(160, 0.54)))),
    Look("teal_orange", "The blockbuster grade: teal shadows, orange skin-tone highlights, "
         "punchy contrast.",
         contrast=0.7, shadows=-0.25, saturation=0.2, vibrance=0.4, temperature=0.1,
         **dict(zip(("shadow_tint_cb", "shadow_tint_cr"), _split(300, 1.32))),
         **dict(zip(("highlight_tint_cb", "highlight_tint_cr"), _split(135, 0.96)))),
    Look("pastel", "Airy and soft: bright, low contrast, desaturated, pink highlights and "
         "lavender shadows over a light matte fade.",
         exposure=0.35, contrast=-0.7, shadows=0.4, saturation=-0.35, tint=0.25, fade=0.6,
         **dict(zip(("shadow_tint_cb", "shadow_tint_cr"), _split(20, 0.36))),
         **dict(zip(("highlight_tint_cb", "highlight_tint_cr"), _split(80, 0.3)))),
    Look("faded_film", "Expired film stock: lifted matte blacks, muted colours, green-teal "
         "shadows, cream highlights, heavy grain.",
         contrast=-0.35, fade=0.9, saturation=-0.45, temperature=0.25, highlights=-0.2,
         vignette=0.3, grain=0.7,
         **dict(zip(("shadow_tint_cb", "shadow_tint_cr"), _split(240, 0.48))),
         **dict(zip(("highlight_tint_cb", "highlight_tint_cr"), _split(170, 0.36)))),
    Look("noir", "Black and white with hard contrast, deep shadows, a heavy vignette and grain.",
         saturation=-1.0, contrast=0.9, shadows=-0.35, highlights=0.2, exposure=-0.1,
         vignette=0.6, grain=0.5),
    Look("neon_night", "City lights after dark: cool magenta white balance, darker exposure, "
         "saturated colour, violet shadows and cyan-pink highlights.",
         temperature=-0.8, tint=0.6, exposure=-0.35, contrast=0.5, saturation=0.5,
         vibrance=0.5, vignette=0.4,
         **dict(zip(("shadow_tint_cb", "shadow_tint_cr"), _split(25, 0.72))),
         **dict(zip(("highlight_tint_cb", "highlight_tint_cr"), _split(60, 0.36)))),
    Look("clean_minimal", "Bright, white and calm: +exposure, open shadows, cooler white "
         "balance and quieter colour.",
         exposure=0.45, contrast=-0.2, shadows=0.5, highlights=0.4, saturation=-0.45,
         temperature=-0.3, fade=0.15),
    Look("vivid_pop", "Everything turned up: strong saturation and vibrance, punchy contrast, "
         "deep shadows, a slightly cool white balance that keeps whites clean.",
         saturation=1.0, vibrance=1.0, contrast=0.7, shadows=-0.25, exposure=0.05, temperature=-0.25),
    Look("moody_forest", "Dark and green: underexposed, desaturated, green tint, green shadows "
         "and crushed blacks.",
         exposure=-0.45, tint=-0.5, saturation=-0.4, contrast=0.3, highlights=-0.3,
         fade=-0.15, vignette=0.5, temperature=-0.1,
         **dict(zip(("shadow_tint_cb", "shadow_tint_cr"), _split(240, 0.48)))),
    Look("vintage_sepia", "An old print: almost monochrome brown-yellow toning, faded blacks, "
         "soft contrast and grain.",
         saturation=-0.85, temperature=0.5, contrast=-0.2, fade=0.45, vignette=0.45,
         grain=0.4,
         **dict(zip(("shadow_tint_cb", "shadow_tint_cr"), _split(135, 0.48))),
         **dict(zip(("highlight_tint_cb", "highlight_tint_cr"), _split(165, 0.48)))),
]}

LookLike = Union[Look, str, torch.Tensor, Sequence[float]]


def get(name: str) -> Look:
    """A named look (or "identity") by name; unknown names raise a ValueError listing them."""
    if name == "identity":
        return IDENTITY
    if name in NAMED:
        return NAMED[name]
    raise ValueError(f"unknown look {name!r}; known looks: identity, {', '.join(NAMED)}")


def as_params(look: LookLike) -> torch.Tensor:
    """Turn a `Look`, a look name, or a parameter tensor into a float parameter tensor."""
    if isinstance(look, Look):
        return look.vector()
    if isinstance(look, str):
        return get(look).vector()
    p = torch.as_tensor(look)
    if not torch.is_floating_point(p):
        p = p.float()
    if p.shape[-1] != N_PARAMS or p.dim() not in (1, 2):
        raise ValueError(f"look parameters must have shape ({N_PARAMS},) or (B, {N_PARAMS}), "
                         f"got {tuple(p.shape)}")
    return p


def _direction(entries: Mapping[str, float]) -> torch.Tensor:
    d = torch.zeros(N_PARAMS)
    for k, v in entries.items():
        d[PARAM_NAMES.index(k)] = v
    return d


VIVID_DIRECTION = _direction(_VIVID)
WARMTH_DIRECTION = _direction(_WARMTH)


def _as_column(x, like: torch.Tensor) -> torch.Tensor:
    """A float or a `(B,)` tensor as a `(1,)`/`(B, 1)` tensor on `like`'s device and dtype."""
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    return t.reshape(-1, 1) if t.dim() > 0 else t.reshape(1)


def personalize(params, vivid=0.0, warmth=0.0, strength=1.0) -> torch.Tensor:
    """Apply the personal condition c = (vivid, warmth, strength) to look parameters (§4.5).

    The change is exact and linear::

        personalize(p, vivid, warmth, strength)
            = strength * (p + vivid * V + warmth * W)

        V: saturation +0.5, vibrance +0.5, contrast +0.15      ("vivid colours", §4.5)
        W: temperature +0.5, tint +0.05, and a warm split tone:
           shadow tint (Cb, Cr) += (-0.12, 0.06), highlight tint += (-0.18, 0.09)
                                                              (warmer -> higher b* in Lab)

    so `vivid` makes colours more colourful (negative values mute them), `warmth` moves the white
    balance towards orange and tints the tones orange (negative: towards blue) — the split-tone
    part keeps warmth working on black-and-white looks, whose colour the white balance cannot
    reach — and `strength` scales the whole edit towards
    the identity: strength 0 gives the zero vector, i.e. no edit at all, whatever the other knobs
    say; strength 1 is the look itself. Intended ranges: vivid and warmth in [-1, 1], strength in
    [0, 1]; strength up to 1.5 exaggerates a look and is still well behaved.

    `params` has shape `(P,)` or `(B, P)`; each knob is a float or a `(B,)` tensor. The result
    broadcasts to `(B, P)` as soon as anything is batched.
    """
    p = as_params(params)
    if not torch.is_floating_point(p):
        p = p.float()
    v, w, s = (_as_column(x, p) for x in (vivid, warmth, strength))
    V = VIVID_DIRECTION.to(p)
    W = WARMTH_DIRECTION.to(p)
    out = s * (p + v * V + w * W)
    if p.dim() == 1 and out.shape[0] == 1:
        out = out[0]
    return out


def condition_vector(vivid=0.0, warmth=0.0, strength=1.0) -> torch.Tensor:
    """The personal condition c as a float tensor `(3,)` = (vivid, warmth, strength)."""
    return torch.tensor([float(vivid), float(warmth), float(strength)], dtype=torch.float32)


# ----------------------------------------------------------------------------------------
# The pipeline. Each stage has the form  x + amount * change(x)  (or x * gain with gain = 1 at
# zero), so a zero parameter leaves the image bit-for-bit unchanged.
# ----------------------------------------------------------------------------------------

def _luma(x: torch.Tensor) -> torch.Tensor:
    return _LUMA[0] * x[:, 0:1] + _LUMA[1] * x[:, 1:2] + _LUMA[2] * x[:, 2:3]


def _chroma_rgb(cb: torch.Tensor, cr: torch.Tensor) -> torch.Tensor:
    """RGB offset of a (Cb, Cr) colour with zero luma (inverse YCbCr, BT.601)."""
    return torch.cat([1.402 * cr, -0.344136 * cb - 0.714136 * cr, 1.772 * cb], dim=1)


def _vignette_r2(h: int, w: int, device, dtype) -> torch.Tensor:
    """Squared distance from the image centre, 0 at the centre and 1 in the corners."""
    ys = torch.linspace(-1.0, 1.0, h, device=device, dtype=dtype).view(h, 1)
    xs = torch.linspace(-1.0, 1.0, w, device=device, dtype=dtype).view(1, w)
    return ((ys * ys + xs * xs) * 0.5).view(1, 1, h, w)


def grain_noise(shape, seed=0, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Monochrome film-grain noise `(B, 1, H, W)`, N(0, 1), drawn on the CPU so it is the same on
    every device. `seed` is one int for the whole batch, or one int per image (then image i gets
    exactly the noise that a batch of one with seed[i] would get)."""
    B = shape[0]
    if isinstance(seed, int) or (torch.is_tensor(seed) and seed.dim() == 0):
        g = torch.Generator().manual_seed(int(seed))
        noise = torch.randn(tuple(shape), generator=g, dtype=torch.float32)
    else:
        seeds = [int(s) for s in seed]
        if len(seeds) != B:
            raise ValueError(f"{len(seeds)} grain seeds for {B} images")
        noise = torch.stack([torch.randn((1, *shape[1:]), generator=torch.Generator().manual_seed(s))[0]
                             for s in seeds])
    return noise.to(device=device, dtype=dtype)


_CHUNK_PIXELS = 1 << 16  # on the CPU, `apply` edits this many pixels at a time (see `apply`)


def _pipeline(x: torch.Tensor, p: torch.Tensor, noise, personal_only: bool = False) -> torch.Tensor:
    """Run the editor on `x (B,3,H,W)` with per-image parameters `p (B,P)` and film-grain
    `noise (B,1,H,W)` (None: no grain); see `apply`. `personal_only=True` skips the stages that
    the personal directions V and W leave at 0 (tone curve, fade, vignette, grain: each is
    exactly the identity at 0), for `adjust`: the same numbers, fewer full-size operations."""
    B, _, H, W = x.shape
    q = {n: p[:, i].view(B, 1, 1, 1) for i, n in enumerate(PARAM_NAMES)}

    # 1. White balance: per-channel gains, like the temperature/tint sliders.
    t, m = q["temperature"] * _WB_GAIN, q["tint"] * _WB_GAIN
    gains = torch.cat([torch.exp(t + 0.5 * m), torch.exp(-m), torch.exp(-t + 0.5 * m)], dim=1)
    # 2. Exposure in stops.
    x = x * (gains * torch.pow(2.0, q["exposure"]))  # 2**exposure (pow, not exp2: ONNX has no Exp2)
    x = x.clamp(0.0, 1.0)  # an editor clips here too; the curves below expect [0, 1]

    # 3. Contrast: blend towards the smoothstep S-curve (contrast > 0) or away from it (< 0).
    #    x + c (3x^2 - 2x^3 - x) is monotone for |c| <= 1 and fixes 0, 0.5 and 1.
    x = x + q["contrast"] * (x * x * (3.0 - 2.0 * x) - x)
    # 4. Tone curve: a cubic Bezier whose two inner control points move by the shadows and
    #    highlights sliders (the classic "point curve").
    if not personal_only:
        one_m = 1.0 - x
        x = x + _CURVE_GAIN * 3.0 * x * one_m * (q["shadows"] * one_m + q["highlights"] * x)
    x = x.clamp(0.0, 1.0)

    # 5. Saturation and vibrance: scale the distance from grey; vibrance spares colours that are
    #    already saturated (weight 1 - (max - min)). The chroma gain 1 + k stops at 0 (grey):
    #    desaturating further would flip colours to their complements.
    y = _luma(x)
    sat = x.amax(dim=1, keepdim=True) - x.amin(dim=1, keepdim=True)
    k = (q["saturation"] + q["vibrance"] * (1.0 - sat)).clamp(min=-1.0)
    x = x + k * (x - y)

    # 6. Split toning: a colour added to the shadows (weight (1-Y)^2) and to the highlights (Y^2).
    y = _luma(x).clamp(0.0, 1.0)
    shadow = _chroma_rgb(q["shadow_tint_cb"], q["shadow_tint_cr"])
    high = _chroma_rgb(q["highlight_tint_cb"], q["highlight_tint_cr"])
    x = x + _TONE_GAIN * ((1.0 - y) ** 2 * shadow + (y * y) * high)
    if personal_only:
        return x.clamp(0.0, 1.0)

    # 7. Fade: lift the blacks towards a matte grey (negative values crush them).
    x = x + (_FADE_GAIN * q["fade"]) * (1.0 - x)
    # 8. Vignette: darken (or brighten) towards the corners.
    x = x - (_VIGNETTE_GAIN * q["vignette"]) * _vignette_r2(H, W, x.device, x.dtype) * x
    # 9. Film grain: monochrome noise, the same for all three channels (texture, not colour).
    if noise is not None:
        x = x + (_GRAIN_GAIN * q["grain"].clamp(min=0.0)) * noise
    return x.clamp(0.0, 1.0)


CONDITIONS = ("sliders", "intensity")  # the two definitions of c; see `apply`


def adjust(img: torch.Tensor, vivid=0.0, warmth=0.0) -> torch.Tensor:
    """The personal adjustments *after* a look, as photo apps place them: `vivid` and `warmth`
    as a slider edit of their own (`vivid · V + warmth · W`, see `personalize`) on an image
    `(B, 3, H, W)` in [0, 1] that is already in its look; both 0 return `img` unchanged."""
    p = personalize(torch.zeros(N_PARAMS, device=img.device, dtype=img.dtype), vivid, warmth, 1.0)
    p = p.expand(img.shape[0], N_PARAMS) if p.dim() == 1 or p.shape[0] == 1 else p
    return _pipeline(img, p, None, personal_only=True)


def personal_edit(photo: torch.Tensor, styled: torch.Tensor, vivid=0.0, warmth=0.0, strength=1.0) -> torch.Tensor:
    """c as photo apps define it, for *any* look: `styled` is the photo in the look at full
    intensity; vivid and warmth adjust it (`adjust`), and `strength` is the filter's intensity,
    a blend from the photo (0) to the adjusted look (1):

        photo + strength · (adjust(styled, vivid, warmth) − photo)

    It needs nothing but the photo and its styled version, so it also defines "half as strong"
    for a look that no slider makes, and for a generator's own output (the pair-free signal of
    `losses.condition_consistency`)."""
    s = _as_column(strength, photo).view(-1, 1, 1, 1)
    v, w = _as_column(vivid, photo), _as_column(warmth, photo)
    # Inference shortcuts (the same numbers: adjust is exactly the identity at vivid = warmth = 0,
    # and the blend at strength 1 is the look); never while tracing a graph for export
    fixed = (torch.is_grad_enabled() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
             or photo.device.type == "meta")          # (a meta tensor has no values to test)
    if fixed or bool((v != 0).any() or (w != 0).any()):
        styled = adjust(styled, vivid, warmth)
    if not fixed and bool((s == 1).all()):
        return styled
    return torch.lerp(photo, styled, s.expand(photo.shape))  # exact at 0 and 1


def apply(img: torch.Tensor, look: LookLike, vivid=0.0, warmth=0.0, strength=1.0,
          grain: bool = True, seed=0, condition: str = "intensity") -> torch.Tensor:
    """Style `img` with `look`, personalised by c = (vivid, warmth, strength): the exact ground truth.

    `img` is `(3, H, W)` or `(B, 3, H, W)` in [0, 1]; `look` is a `Look`, a name from `NAMED`
    (or "identity"), or parameters `(P,)` / `(B, P)` (one look per image). Each knob is a float
    or a `(B,)` tensor; see `personalize` for what they do. The editor runs the stages in the
    order of a real one:

        white balance -> exposure -> contrast -> tone curve -> saturation/vibrance
        -> split toning -> fade -> vignette -> film grain -> clip to [0, 1]

    Every stage is differentiable (in the image and in the parameters) and is exactly the
    identity when its parameter is 0, so `strength=0` returns `img` unchanged, grain included.

    `condition` says what c means. "intensity" (the definition, as photo apps have it, and for
    any look, also looks no slider makes): the look is applied at full strength, then
    `personal_edit` adjusts it by vivid and warmth and blends it with the photo by strength.
    "sliders" (the book's first definition, kept for models trained with it): c moves the
    look's own sliders, `personalize(look, vivid, warmth, strength)`. Both agree at
    c = (0, 0, 1) and give the photo itself at strength 0.
    Film grain is texture, not colour: `grain=False` leaves it out, which is what every
    evaluation compares against. With `grain=True` the noise is drawn from `seed` (one int, or
    one int per image; see `grain_noise`).
    """
    single = img.dim() == 3
    x = img.unsqueeze(0) if single else img
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"apply expects an image (3,H,W) or a batch (B,3,H,W), got {tuple(img.shape)}")
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    if condition == "intensity":
        styled = apply(x, look, grain=grain, seed=seed, condition="sliders")   # the same at c = (0, 0, 1)
        out = personal_edit(x, styled, vivid, warmth, strength).clamp(0.0, 1.0)
        return out[0] if single else out
    p = personalize(as_params(look).to(device=x.device, dtype=x.dtype), vivid, warmth, strength)
    B = x.shape[0]
    p = p.expand(B, N_PARAMS) if p.dim() == 1 or p.shape[0] == 1 else p
    if p.shape[0] != B:
        raise ValueError(f"{p.shape[0]} look parameter rows for {B} images")
    _, _, H, W = x.shape
    noise = grain_noise((B, 1, H, W), seed, x.device, x.dtype) if grain else None
    # Each stage is a handful of whole-tensor operations. On the CPU a large batch is edited a
    # few images at a time, so that the intermediate tensors stay in the cache: the same
    # numbers, about 4x faster for a training batch of 512 small crops.
    step = B if x.device.type != "cpu" else max(1, _CHUNK_PIXELS // (H * W))
    if step >= B:
        out = _pipeline(x, p, noise)
    else:
        out = torch.cat([_pipeline(x[i:i + step], p[i:i + step], None if noise is None else noise[i:i + step])
                         for i in range(0, B, step)])
    return out[0] if single else out


def mix(spec) -> Look:
    """A convex combination of looks, e.g. `mix("golden_hour:0.7,pastel:0.3")`.

    `spec` is a string "name[:weight],name[:weight],...", a dict name -> weight, or a list of
    (Look | name, weight). Weights default to 1 and are normalised to sum to 1; because the
    parameters are the sliders of one editor, mixing them mixes the edits.
    """
    if isinstance(spec, (Look, str)) and (isinstance(spec, Look) or ("," not in spec and ":" not in spec)):
        return spec if isinstance(spec, Look) else get(spec)
    items: list[tuple[LookLike, float]] = []
    if isinstance(spec, str):
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            name, _, w = part.partition(":")
            try:
                weight = float(w) if w else 1.0
            except ValueError:
                raise ValueError(f"bad weight {w!r} for look {name!r} in {spec!r}") from None
            items.append((name.strip(), weight))
    elif isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        items = [(a, float(b)) for a, b in spec]
    if not items:
        raise ValueError(f"empty look mix {spec!r}")
    weights = torch.tensor([w for _, w in items], dtype=torch.float32)
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"look weights must be >= 0 and not all 0, got {weights.tolist()}")
    weights = weights / weights.sum()
    v = sum(w * as_params(lk).float() for (lk, _), w in zip(items, weights))
    name = "+".join(f"{lk.name if isinstance(lk, Look) else lk if isinstance(lk, str) else 'custom'}"
                    f":{float(w):.2f}" for (lk, _), w in zip(items, weights))
    return Look.from_vector(v, name=name, description=f"mix of {name}")


# ----------------------------------------------------------------------------------------
# A prior over looks: unlimited new looks for training and for "a look the model never saw".
# ----------------------------------------------------------------------------------------

# sRGB values of the 24 patches of the classic colour-checker chart (approximate, D65).
COLOR_CHART = (
    (115, 82, 68), (194, 150, 130), (98, 122, 157), (87, 108, 67), (133, 128, 177), (103, 189, 170),
    (214, 126, 44), (80, 91, 166), (193, 90, 99), (94, 60, 108), (157, 188, 64), (224, 163, 46),
    (56, 61, 150), (70, 148, 73), (175, 54, 60), (231, 199, 31), (187, 86, 149), (8, 133, 161),
    (243, 243, 242), (200, 200, 200), (160, 160, 160), (122, 122, 121), (85, 85, 85), (52, 52, 52),
)
MIN_DELTA_E = 8.0  # a look must move colours at least this much (mean CIEDE2000)


@lru_cache(maxsize=1)
def color_chart(patch: int = 8) -> torch.Tensor:
    """The 4 x 6 colour chart as a `(3, 4*patch, 6*patch)` image in [0, 1]."""
    c = torch.tensor(COLOR_CHART, dtype=torch.float32).view(4, 6, 3) / 255.0
    return c.permute(2, 0, 1).repeat_interleave(patch, 1).repeat_interleave(patch, 2).contiguous()


def mean_delta_e(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean CIEDE2000 colour difference between two RGB images in [0, 1] (`(3,H,W)` or batches),
    computed with scikit-image (`deltaE_ciede2000` on `rgb2lab`)."""
    from skimage.color import deltaE_ciede2000, rgb2lab
    a = a.detach().float().cpu().reshape(-1, 3, *a.shape[-2:]).permute(0, 2, 3, 1).numpy()
    b = b.detach().float().cpu().reshape(-1, 3, *b.shape[-2:]).permute(0, 2, 3, 1).numpy()
    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


def _sample_prior(g: torch.Generator) -> torch.Tensor:
    """One draw from the prior: each slider from a range seen in real presets, with the rarer
    effects (monochrome, split toning, fade, vignette, grain) switched on only some of the time."""
    def u(lo, hi):
        return lo + (hi - lo) * float(torch.rand((), generator=g))

    def coin(p):
        return float(torch.rand((), generator=g)) < p

    def normal(sd):
        return max(-1.0, min(1.0, sd * float(torch.randn((), generator=g))))

    v = dict(temperature=normal(0.5), tint=normal(0.25), exposure=normal(0.25),
             contrast=u(-0.6, 0.9), shadows=normal(0.35), highlights=normal(0.35),
             saturation=-1.0 if coin(0.1) else u(-0.7, 0.8), vibrance=u(-0.3, 0.8))
    if coin(0.6):  # split toning, usually with roughly complementary hues
        hs = u(0.0, 360.0)
        hh = hs + 180.0 + 40.0 * normal(1.0)
        v["shadow_tint_cb"], v["shadow_tint_cr"] = _split(hs, u(0.2, 0.7))
        v["highlight_tint_cb"], v["highlight_tint_cr"] = _split(hh, u(0.2, 0.7))
    v["fade"] = u(0.2, 0.9) if coin(0.4) else 0.0
    v["vignette"] = u(0.1, 0.8) if coin(0.5) else 0.0
    v["grain"] = u(0.1, 0.8) if coin(0.4) else 0.0
    return torch.tensor([v.get(n, 0.0) for n in PARAM_NAMES], dtype=torch.float32)


@lru_cache(maxsize=8192)
def random_look(seed: int) -> Look:
    """A look drawn from the prior over looks, deterministically from `seed`.

    Slider values come from `_sample_prior`; a draw is kept only if it is a real edit — its mean
    CIEDE2000 difference on the colour chart (`color_chart`) is at least `MIN_DELTA_E` — so that
    "doing nothing" is never a good answer for a look from the prior either. Every seed gives a
    different look; the same seed always gives the same one.
    """
    g = torch.Generator().manual_seed(int(seed))
    chart = color_chart()
    for _ in range(100):
        v = _sample_prior(g)
        if mean_delta_e(chart, apply(chart, v, grain=False)) >= MIN_DELTA_E:
            break
    return Look.from_vector(v, name=f"prior_{int(seed)}", description=f"random_look({int(seed)})")


__all__ = [
    "PARAM_NAMES", "N_PARAMS", "COND_NAMES", "COND_DIM", "Look", "IDENTITY", "NAMED", "get",
    "as_params", "personalize", "condition_vector", "CONDITIONS", "adjust", "personal_edit", "apply", "mix", "random_look", "grain_noise",
    "color_chart", "mean_delta_e", "MIN_DELTA_E", "VIVID_DIRECTION", "WARMTH_DIRECTION",
]

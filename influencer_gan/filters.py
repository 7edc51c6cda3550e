"""App filters: looks that no slider set makes (§1.2 style, §3.1 data, beyond the sliders).

Real influencers edit with app filters, LUTs and presets, not with this book's fifteen sliders
(`looks.py`). Such a filter is, almost always, a *global colour mapping* — the same input colour
becomes the same output colour wherever it is in the photo — plus, sometimes, something that
depends on the position: a gradient or a vignette. This module writes that family down as one
small, exact, batched and differentiable program, so that a training stream can draw thousands
of them and every one of them has an exact ground truth, like the slider looks:

    x ─ channel mixer ─ tone curves ─ 3D LUT ─ blend with a gradient layer ─ vignette ─ out

* **channel mixer** `mixer (B, 3, 4)`: out_c = Σ_k M[c, k] · x_k + M[c, 3] (the "channel
  mixer" of photo editors; the identity is [I | 0]);
* **tone curves** `curves (B, 3, K)`: a piecewise-linear curve per channel through K equally
  spaced knots (the "curves" tool; the identity is a straight line);
* **3D LUT** `lut (B, 3, L, L, L)`: the output colour at each of L³ input colours, read with
  trilinear interpolation (the `.cube` files of colour grading; the identity is the grid
  itself). `lut[b, :, i_b, i_g, i_r]` is the output for input (r, g, b) = (i_r, i_g, i_b)/(L-1);
* **gradient layer** `layer (B, 3)`, `blend (B,)`, `opacity (B,)`, `gradient (B, 4)`: a colour
  blended over the photo with a blend mode (`BLENDS`: normal, multiply, screen, overlay, soft
  light), at an opacity that varies over the picture — linear at an angle, or radial
  (`gradient` = angle, centre, softness, radial flag);
* **vignette** `vignette (B,)`: corners darkened (or, negative, brightened).

`identity(B)` is the filter that changes nothing, `render(img, f)` applies one filter per image
(on the image's device), and `random_filter(seed)` draws one from a prior that switches each
stage on some of the time and keeps only draws that really change colours (at least
`looks.MIN_DELTA_E` on the colour chart, like `looks.random_look`).
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from . import looks as _looks

CURVE_KNOTS = 9        # K: knots of each tone curve
LUT_SIZE = 9           # L: a 9×9×9 LUT (real .cube files use 17-65; a smooth random one needs few)
BLENDS = ("normal", "multiply", "screen", "overlay", "soft_light")
FIELDS = ("mixer", "curves", "lut", "layer", "blend", "opacity", "gradient", "vignette")


def identity(n: int = 1, device="cpu") -> dict[str, torch.Tensor]:
    """`n` filters that change nothing: every stage at its identity, opacity 0, no vignette."""
    eye = torch.cat([torch.eye(3), torch.zeros(3, 1)], 1)
    knots = torch.linspace(0, 1, CURVE_KNOTS)
    g = torch.linspace(0, 1, LUT_SIZE)
    b, gg, r = torch.meshgrid(g, g, g, indexing="ij")
    lut = torch.stack([r, gg, b])                                       # (3, L, L, L): out = in
    f = dict(mixer=eye, curves=knots.expand(3, -1), lut=lut, layer=torch.zeros(3),
             blend=torch.zeros((), dtype=torch.long), opacity=torch.zeros(()),
             gradient=torch.tensor([0.0, 0.5, 1.0, 0.0]), vignette=torch.zeros(()))
    return {k: v.expand(n, *v.shape).clone().to(device) for k, v in f.items()}


def stack(filters: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One batched filter from a list of batched filters (concatenated along the batch)."""
    return {k: torch.cat([f[k] for f in filters]) for k in FIELDS}


def _curves(x: torch.Tensor, curves: torch.Tensor) -> torch.Tensor:
    """Per-channel piecewise-linear tone curves: x (B,3,H,W), curves (B,3,K)."""
    B, C, H, W = x.shape
    K = curves.shape[-1]
    t = x.reshape(B, C, -1).clamp(0, 1) * (K - 1)
    i0 = t.detach().floor().clamp(max=K - 2).long()
    w = t - i0
    lo, hi = curves.gather(2, i0), curves.gather(2, i0 + 1)
    return (lo + w * (hi - lo)).view(B, C, H, W)


def _lut(x: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """Trilinear 3D LUT: x (B,3,H,W) in [0,1], lut (B,3,L,L,L) indexed [b, g, r] → (B,3,H,W)."""
    B, _, H, W = x.shape
    grid = (x.clamp(0, 1) * 2 - 1).permute(0, 2, 3, 1).reshape(B, 1, H, W, 3)   # (r, g, b) → (x, y, z)
    out = F.grid_sample(lut.to(x.dtype), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.view(B, 3, H, W)


def _gradient_mask(gradient: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """The opacity mask (B,1,H,W) in [0, 1] of a linear (angle, centre, softness) or radial
    (centre as radius, softness) gradient."""
    dev, dt = gradient.device, gradient.dtype
    ys = torch.linspace(-1, 1, H, device=dev, dtype=dt).view(1, H, 1)
    xs = torch.linspace(-1, 1, W, device=dev, dtype=dt).view(1, 1, W)
    angle, centre, soft, radial = (gradient[:, i].view(-1, 1, 1) for i in range(4))
    along = xs * torch.cos(angle) + ys * torch.sin(angle)               # -1.4 .. 1.4 across the picture
    dist = torch.sqrt(xs * xs + ys * ys) / math.sqrt(2)                 # 0 at the centre, 1 in the corners
    pos = torch.where(radial > 0.5, dist - centre, along - (2 * centre - 1))
    return torch.sigmoid(pos / soft.clamp(min=0.05) * 4).unsqueeze(1)


def _blend(base: torch.Tensor, layer: torch.Tensor, mode: torch.Tensor) -> torch.Tensor:
    """The blend modes of `BLENDS` (as in the W3C compositing spec), one mode per image."""
    lay = layer.view(-1, 3, 1, 1).expand_as(base)
    out = torch.stack([
        lay,                                                              # normal
        base * lay,                                                       # multiply
        base + lay - base * lay,                                          # screen
        torch.where(base < 0.5, 2 * base * lay, 1 - 2 * (1 - base) * (1 - lay)),   # overlay
        (1 - 2 * lay) * base * base + 2 * lay * base,                     # soft light (pegtop)
    ])
    return out.gather(0, mode.view(1, -1, 1, 1, 1).expand(1, *base.shape))[0]


def render(img: torch.Tensor, f: dict[str, torch.Tensor]) -> torch.Tensor:
    """Apply one filter per image: `img` (B,3,H,W) or (3,H,W) in [0, 1], `f` a batched filter
    (a dict of `FIELDS`, batch 1 or B). Exact, differentiable, on the image's device."""
    single = img.dim() == 3
    x = img.unsqueeze(0) if single else img
    B, _, H, W = x.shape
    f = {k: (v.expand(B, *v.shape[1:]) if v.shape[0] == 1 else v).to(x.device) for k, v in f.items()}
    m = f["mixer"].to(x.dtype)
    x = (torch.einsum("bck,bkhw->bchw", m[:, :, :3], x) + m[:, :, 3, None, None]).clamp(0, 1)
    x = _curves(x, f["curves"].to(x.dtype)).clamp(0, 1)
    x = _lut(x, f["lut"]).clamp(0, 1)
    mask = _gradient_mask(f["gradient"].to(x.dtype), H, W) * f["opacity"].to(x.dtype).view(B, 1, 1, 1)
    x = x + mask * (_blend(x, f["layer"].to(x.dtype), f["blend"]) - x)
    r2 = _looks._vignette_r2(H, W, x.device, x.dtype)
    x = x - (_looks._VIGNETTE_GAIN * f["vignette"].to(x.dtype)).view(B, 1, 1, 1) * r2 * x
    x = x.clamp(0, 1)
    return x[0] if single else x


# ----------------------------------------------------------------------------------------
# The prior: random filters, each stage on some of the time
# ----------------------------------------------------------------------------------------

def _draw(g: torch.Generator) -> dict[str, torch.Tensor]:
    def u(lo=0.0, hi=1.0, *shape):
        return lo + (hi - lo) * torch.rand(*shape, generator=g) if shape else lo + (hi - lo) * float(torch.rand((), generator=g))

    def coin(p):
        return float(torch.rand((), generator=g)) < p

    f = identity(1)
    if coin(0.5):   # channel mixer: a little of each channel into the others, and an offset
        f["mixer"] = f["mixer"] + torch.cat([u(-0.25, 0.25, 3, 3), u(-0.06, 0.06, 3, 1)], 1)[None]
        if coin(0.2):   # monochrome mixes: every output channel the same weighted sum
            w = torch.softmax(torch.randn(3, generator=g), 0)
            f["mixer"][0, :, :3] = w
    if coin(0.6):   # tone curves: a shared S or fade, plus per-channel bends
        k = torch.linspace(0, 1, CURVE_KNOTS)
        shared = k + u(-0.25, 0.25) * torch.sin(math.pi * k) * torch.sign(k - 0.5) * (k - 0.5).abs() * 2 \
            + u(-0.1, 0.1) * torch.sin(math.pi * k)
        lift, crush = (u(0.0, 0.2) if coin(0.4) else 0.0), (u(0.8, 1.0) if coin(0.3) else 1.0)
        shared = lift + (crush - lift) * shared
        bends = u(-0.08, 0.08, 3, 1) * torch.sin(math.pi * k)[None]
        f["curves"] = (shared[None] + bends).clamp(0, 1)[None]
    if coin(0.5):   # a smooth random 3D LUT: the identity plus a low-frequency displacement
        coarse = torch.randn(1, 3, 3, 3, 3, generator=g) * u(0.03, 0.12)
        f["lut"] = (f["lut"] + F.interpolate(coarse, size=(LUT_SIZE,) * 3, mode="trilinear",
                                             align_corners=True)).clamp(0, 1)
    if coin(0.4):   # a coloured gradient layer
        hue = u()
        rgb = [0.5 + 0.5 * math.cos(2 * math.pi * (hue + t)) for t in (0.0, 1 / 3, 2 / 3)]
        f["layer"] = torch.tensor([rgb]) * u(0.6, 1.0)
        f["blend"] = torch.tensor([int(torch.randint(len(BLENDS), (), generator=g))])
        f["opacity"] = torch.tensor([u(0.15, 0.6)])
        f["gradient"] = torch.tensor([[u(0, 2 * math.pi), u(0.2, 0.8), u(0.2, 1.0), float(coin(0.4))]])
    if coin(0.35):
        f["vignette"] = torch.tensor([u(-0.3, 0.8)])
    return f


def random_filter(seed: int) -> dict[str, torch.Tensor]:
    """A filter drawn from the prior, deterministically from `seed` (batch 1); a draw is kept
    only if it moves the colour chart by at least `looks.MIN_DELTA_E` on average."""
    return {k: v.clone() for k, v in _random_filter(int(seed)).items()}


@lru_cache(maxsize=4096)
def _random_filter(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    chart = _looks.color_chart()
    for _ in range(100):
        f = _draw(g)
        if _looks.mean_delta_e(chart, render(chart, f)) >= _looks.MIN_DELTA_E:
            break
    return f


__all__ = ["CURVE_KNOTS", "LUT_SIZE", "BLENDS", "FIELDS", "identity", "stack", "render", "random_filter"]

"""Texture looks: oil paint, cartoon, pencil and watercolour, rendered exactly from a photo.

The colour looks of `looks.py` and `filters.py` move colours; they can never paint. §2.1 of the
document defines style transfer by the example of an oil painting's style put onto a photo, and
painterly, cartoon and sketch filters are among the looks influencers use most. This module
renders those looks procedurally, in pure torch, so that like the colour looks every one of them
has an **exact ground truth**: `apply(photo, look)` *is* the image a generator should produce.

Each renderer is a classic non-photorealistic-rendering method, written one concept per function:

* `oil_paint` — the anisotropic Kuwahara filter (Kyprianidis, Kang & Döllner 2009): the mean of
  the most uniform of eight overlapping sectors of an ellipse that follows the local structure
  (the structure tensor), so regions flatten into paint while edges stay sharp; then brush
  strokes — white noise smeared along the structure direction, a line integral convolution
  (Cabral & Leedom 1993), lit as a relief — and a woven canvas;
* `cartoon` — iterated, separable bilateral smoothing, soft luminance quantisation and
  difference-of-Gaussians ink lines (Winnemöller, Olsen & Gooch 2006; Pham & van Vliet 2005);
* `pencil` — the "colour dodge" sketch (the luma divided by its blur, the popular photo-editor
  recipe), darkened, with hatching and cross-hatching in the dark tones and paper grain; grey or
  coloured pencil;
* `watercolour` — abstraction by Kuwahara smoothing, then the pigment-density model of Bousseau
  et al. 2006 (C' = C - (C - C²)(d - 1)) driven by edge darkening and paper granulation, with a
  wobbly, hand-painted boundary (Curtis et al. 1997 describe the effects).

**Scale.** Every length is a fraction of `side`, the short side of the picture (by default the
image's own short side), so a photo rendered at 1024 px and at 256 px look alike, and a
downsampled render is close to a render of the downsampled photo. Pass `side` when the image is a
crop of a larger picture: a 64 px crop cut from a 640 px photo, rendered with `side=640`, looks
like that part of the painted photo. Patterns finer than about two pixels (canvas weave, hatching)
fade out instead of aliasing. The region-flattening filters (Kuwahara, bilateral) run at a
working resolution of at most `WORK_SIDE` px on the short side — a painting has no detail finer
than its brush — and everything else at full resolution.

**Texture.** Some parts of a look are not a function of the photo: brush-stroke noise, canvas
weave, hatching lines, paper grain and the watercolour wobble depend on a seed or on where the
crop sits on the canvas, which no generator can know. `texture=False` leaves them out, the
analogue of `looks.apply(..., grain=False)`: evaluate a generator against both. The noise is
drawn on the CPU from `seed` and is the same for every image of a batch, so a batch renders like
its images one at a time, on every device.

**Strength** and the rest of the personal condition c are defined as photo apps define them for
any look (`looks.personal_edit`): `apply(img, look, vivid, warmth, strength)` blends from the
photo (strength 0, exactly the photo) to the adjusted look (strength 1).

**Speed** (one CPU thread; best of three after a warm-up; measured 2026-12-03 on the
project's 2-core AMD EPYC while two training jobs ran, load average 3.5):

    OMP_NUM_THREADS=1 python -c "
    import time, torch; from influencer_gan import textures as T
    torch.set_num_threads(1)
    for shape in [(768, 1024), (1024, 1024)]:
        x = torch.rand(1, 3, *shape)
        for n in T.NAMED_TEXTURES:
            T.apply(x, n); ts = []
            for _ in range(3):
                t = time.perf_counter(); T.apply(x, n); ts.append(time.perf_counter() - t)
            print(shape, n, round(min(ts), 2), 's')"

    1024 x 768:  oil_paint 0.44 s, cartoon 0.19 s, pencil_sketch 0.11 s, watercolour 0.48 s
    1024 x 1024: oil_paint 0.37 s, cartoon 0.26 s, pencil_sketch 0.14 s, watercolour 0.54 s
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

from . import looks as _looks

WORK_SIDE = 384          # region-flattening filters run at most at this short side (see above)
_LUMA = _looks._LUMA
HELD_OUT_SEED = 10_000   # random_texture: seeds 0-9999 for training, from 10 000 on held out


# ----------------------------------------------------------------------------------------
# Small image operations: luma, blur, gradients, noise, resolution.
# ----------------------------------------------------------------------------------------

def luma(x: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma `(B, 1, H, W)` of an RGB batch."""
    return _LUMA[0] * x[:, 0:1] + _LUMA[1] * x[:, 1:2] + _LUMA[2] * x[:, 2:3]


def saturate(x: torch.Tensor, amount: float) -> torch.Tensor:
    """Scale the distance from grey by `1 + amount` (0: unchanged, -1: black and white)."""
    if amount == 0:
        return x
    y = luma(x)
    return y + (1.0 + amount) * (x - y)


def _gauss_taps(sigma: float, device, dtype) -> torch.Tensor:
    r = max(1, math.ceil(3.0 * sigma))
    d = torch.arange(-r, r + 1, device=device, dtype=dtype)
    t = torch.exp(-0.5 * (d / sigma) ** 2)
    return t / t.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of standard deviation `sigma` pixels, edges replicated.

    Below 0.2 px it is the identity. Above 4 px it blurs a copy shrunk by an integer factor and
    scales it back up (bilinear): the result is smooth at that scale anyway, and the cost no
    longer grows with sigma."""
    if sigma < 0.2:
        return x
    B, C, H, W = x.shape
    if sigma > 4.0:
        k = int(sigma // 2)
        small = F.interpolate(x, size=(max(1, -(-H // k)), max(1, -(-W // k))), mode="area")
        small = gaussian_blur(small, math.sqrt(max(sigma ** 2 - (k * k - 1) / 12.0, 1.0)) / k)
        return F.interpolate(small, size=(H, W), mode="bilinear", align_corners=False)
    taps = _gauss_taps(sigma, x.device, x.dtype).tolist()     # shifted sums: faster than conv2d
    r = (len(taps) - 1) // 2
    p = F.pad(x, (r, r, 0, 0), mode="replicate")
    y = sum(t * p[..., i:i + W] for i, t in enumerate(taps))
    p = F.pad(y, (0, 0, r, r), mode="replicate")
    return sum(t * p[..., i:i + H, :] for i, t in enumerate(taps))


def sobel(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical derivatives of a one-channel batch (Sobel, scaled to d/dpixel)."""
    p = F.pad(y, (1, 1, 1, 1), mode="replicate")
    sx = p[..., 2:, :] + 2.0 * p[..., 1:-1, :] + p[..., :-2, :]        # smoothed down the columns
    sy = p[..., :, 2:] + 2.0 * p[..., :, 1:-1] + p[..., :, :-2]        # smoothed along the rows
    return (sx[..., 2:] - sx[..., :-2]) / 8.0, (sy[..., 2:, :] - sy[..., :-2, :]) / 8.0


def smooth_noise(h: int, w: int, cell: float, seed: int, device, dtype) -> torch.Tensor:
    """Seeded noise `(1, 1, h, w)`, about N(0, 1), with features of about `cell` pixels: white
    noise on a grid `cell` pixels apart, interpolated bicubically. Drawn on the CPU, so it is the
    same on every device."""
    g = torch.Generator().manual_seed(int(seed))
    cell = max(float(cell), 1.0)
    gh, gw = math.ceil(h / cell) + 3, math.ceil(w / cell) + 3
    n = torch.randn(1, 1, gh, gw, generator=g, dtype=torch.float32)
    if cell > 1.0:
        n = F.interpolate(n, size=(round((gh - 1) * cell) + 1, round((gw - 1) * cell) + 1),
                          mode="bicubic", align_corners=True) * (1.0 + 0.6 * min(cell - 1.0, 1.0))
    return n[..., 1:1 + h, 1:1 + w].to(device=device, dtype=dtype)


def fade_below(period_px: float) -> float:
    """Amplitude of a periodic pattern of this period (pixels): 1 from 4 px up, 0 below 2 px,
    so patterns fade out instead of aliasing when the picture is small."""
    return min(max((period_px - 2.0) / 2.0, 0.0), 1.0)


def _side(x: torch.Tensor, side: Optional[float]) -> float:
    return float(side) if side else float(min(x.shape[-2:]))


def to_work(x: torch.Tensor, side: float) -> tuple[torch.Tensor, float]:
    """`x` at the working resolution (short side of the picture at most `WORK_SIDE`) and the
    factor from full-resolution pixels to working pixels."""
    f = min(1.0, WORK_SIDE / side)
    if f >= 1.0:
        return x, 1.0
    H, W = x.shape[-2:]
    size = (max(8, round(H * f)), max(8, round(W * f)))
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False), size[0] / H


def to_full(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Back to the size of `like` (bilinear)."""
    if x.shape[-2:] == like.shape[-2:]:
        return x
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


# ----------------------------------------------------------------------------------------
# Structure: the local orientation of the picture.
# ----------------------------------------------------------------------------------------

def structure_tensor(x: torch.Tensor, sigma: float):
    """Orientation of an RGB batch from its smoothed structure tensor (Brox et al. 2006 use the
    same construction; Kyprianidis et al. 2009 for the Kuwahara filter): returns the unit
    tangent `(tx, ty)`, the direction *along* edges and stripes, and the anisotropy
    A = (λ1 - λ2) / (λ1 + λ2) in [0, 1] (0: no preferred direction, 1: a clean edge)."""
    y = luma(x)
    gx, gy = sobel(y)
    J = gaussian_blur(torch.cat([gx * gx, gx * gy, gy * gy], 1), sigma)
    E, Fm, G = J[:, 0:1], J[:, 1:2], J[:, 2:3]
    root = torch.sqrt((E - G) ** 2 + 4.0 * Fm * Fm + 1e-12)
    l1, l2 = 0.5 * (E + G + root), 0.5 * (E + G - root)
    tx, ty = l1 - E, -Fm                                   # eigenvector of the smaller eigenvalue
    norm = torch.sqrt(tx * tx + ty * ty)
    flat = norm < 1e-9
    tx = torch.where(flat, torch.ones_like(tx), tx / norm.clamp_min(1e-9))
    ty = torch.where(flat, torch.zeros_like(ty), ty / norm.clamp_min(1e-9))
    A = ((l1 - l2) / (l1 + l2 + 1e-9)).clamp(0.0, 1.0)
    return tx, ty, A


def _sample(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """`x` read at every pixel plus the offset (dx, dy) in pixels (bilinear, edges clamped)."""
    B, _, H, W = x.shape
    xs = torch.arange(W, device=x.device, dtype=x.dtype).view(1, 1, W)
    ys = torch.arange(H, device=x.device, dtype=x.dtype).view(1, H, 1)
    gx = (xs + dx[:, 0] + 0.5) * (2.0 / W) - 1.0
    gy = (ys + dy[:, 0] + 0.5) * (2.0 / H) - 1.0
    return F.grid_sample(x, torch.stack([gx, gy], -1), mode="bilinear", padding_mode="border",
                         align_corners=False)


# ----------------------------------------------------------------------------------------
# Region flattening: the anisotropic Kuwahara filter and the bilateral filter.
# ----------------------------------------------------------------------------------------

def anisotropic_kuwahara(x: torch.Tensor, radius: float, sharpness: float = 8.0, sectors: int = 8,
                         rings: int = 3, orientation=None) -> torch.Tensor:
    """The anisotropic Kuwahara filter (Kyprianidis, Kang & Döllner, "Image and video abstraction
    by anisotropic Kuwahara filtering", Computer Graphics Forum 2009), radius in pixels.

    Around every pixel an ellipse of radius `radius`, stretched along the local edge direction
    by the anisotropy A (axes r(1 + A) and r / (1 + A)), is cut into `sectors` overlapping
    sectors. Each sector gives a Gaussian-weighted mean colour and variance; the output is the
    mean of the sector means weighted by variance^(-sharpness/2), i.e. mostly the most uniform
    sector. A pixel near an edge therefore takes its colour from the side it belongs to: regions
    flatten into patches of paint while edges stay crisp. The ellipse is read at `rings` radii
    and 2 x `sectors` angles (bilinear samples), each weighted by the area it stands for
    (proportional to its radius) times the Gaussian; neighbouring sectors share their boundary
    samples with weight 1/2, the overlap of the smooth sector weights of the paper."""
    if radius < 0.25:
        return x
    tx, ty, A = orientation if orientation is not None else structure_tensor(x, max(1.0, 0.5 * radius))
    a, b = radius * (1.0 + A), radius / (1.0 + A)
    n_ang = 2 * sectors
    dtype = x.dtype
    wc = 1.0 / (8.0 * rings * rings)                          # the centre pixel: the area of a
    sums = [x * wc] * n_ang                                   # small disc, shared by all sectors
    sq = [x * x * wc] * n_ang
    wsum = [wc] * n_ang
    for k in range(1, rings + 1):
        rho = k / rings
        w = rho * math.exp(-2.0 * rho * rho)                  # ring area x Gaussian of sigma = r / 2
        for j in range(n_ang):
            phi = 2.0 * math.pi * j / n_ang
            u, v = a * (rho * math.cos(phi)), b * (rho * math.sin(phi))
            s = _sample(x, u * tx - v * ty, u * ty + v * tx)
            sums[j] = sums[j] + w * s
            sq[j] = sq[j] + w * s * s
            wsum[j] = wsum[j] + w
    means, logs = [], []
    for i in range(sectors):
        idx = (2 * i - 1) % n_ang, 2 * i, 2 * i + 1
        wts = (0.5, 1.0, 0.5)
        tot = sum(wt * wsum[j] for wt, j in zip(wts, idx))
        m = sum(wt * sums[j] for wt, j in zip(wts, idx)) / tot
        var = (sum(wt * sq[j] for wt, j in zip(wts, idx)) / tot - m * m).clamp_min(0).sum(1, keepdim=True)
        means.append(m)
        logs.append(-0.5 * sharpness * torch.log(var + 1e-5))
    alpha = torch.softmax(torch.stack(logs, 0), 0)
    return (alpha * torch.stack(means, 0)).sum(0).to(dtype)


def bilateral(x: torch.Tensor, sigma_space: float, sigma_range: float, iterations: int = 1) -> torch.Tensor:
    """Iterated separable bilateral filter (Tomasi & Manduchi 1998; the separable form of Pham &
    van Vliet 2005, as in Winnemöller et al. 2006): each pass averages a pixel's row, then its
    column, neighbours within `sigma_space` pixels, weighted down by their colour distance
    (`sigma_range`, in RGB units), so that flat regions smooth and edges stay."""
    if sigma_space < 0.25:
        return x
    r = min(max(1, math.ceil(2.0 * sigma_space)), 8)
    inv_r2 = -0.5 / (sigma_range * sigma_range)
    H, W = x.shape[-2:]
    for _ in range(int(iterations)):
        for dim in (3, 2):
            pad = (r, r, 0, 0) if dim == 3 else (0, 0, r, r)
            p = F.pad(x, pad, mode="replicate")
            num, den = torch.zeros_like(x), torch.zeros_like(x[:, :1])
            for d in range(-r, r + 1):
                s = p[..., r + d:r + d + W] if dim == 3 else p[..., r + d:r + d + H, :]
                w = math.exp(-0.5 * (d / sigma_space) ** 2) * torch.exp(inv_r2 * ((s - x) ** 2).sum(1, keepdim=True))
                num = num + w * s
                den = den + w
            x = num / den
    return x


# ----------------------------------------------------------------------------------------
# Marks on the surface: brush strokes, canvas, hatching.
# ----------------------------------------------------------------------------------------

def brush_strokes(tx: torch.Tensor, ty: torch.Tensor, length: float, seed: int, steps: int = 9) -> torch.Tensor:
    """A brush-stroke relief `(1, or B, 1, h, w)` at the resolution of the tangent field: white
    noise (one grain per pixel: the bristles) averaged along a straight line of `length` pixels
    through each pixel in the tangent direction — a line integral convolution (Cabral & Leedom,
    SIGGRAPH 1993) — then lit from the upper left: the derivative of that height field along
    the light. About unit standard deviation; 0 where the paint is flat."""
    h, w = tx.shape[-2:]
    noise = smooth_noise(h, w, 1.0, seed, tx.device, tx.dtype).expand(tx.shape[0], 1, h, w)
    height = torch.zeros_like(tx)
    for k in range(steps):
        s = length * (k / (steps - 1) - 0.5)
        height = height + _sample(noise, s * tx, s * ty)
    height = height * (1.0 / math.sqrt(steps))
    gx, gy = sobel(height)
    return (gx + gy) * (-2.0 / math.sqrt(2.0))


def canvas_weave(h: int, w: int, period: float, device, dtype) -> torch.Tensor:
    """A plain-weave canvas relief `(1, 1, h, w)` in [-1, 1]: threads `period` pixels apart,
    alternately over and under (the product of two sines), faded out below two pixels."""
    amp = fade_below(period)
    if amp == 0.0:
        return torch.zeros(1, 1, h, w, device=device, dtype=dtype)
    ys = torch.arange(h, device=device, dtype=dtype).view(1, 1, h, 1)
    xs = torch.arange(w, device=device, dtype=dtype).view(1, 1, 1, w)
    k = 2.0 * math.pi / period
    return amp * torch.sin(k * xs) * torch.sin(k * ys)


def hatching(h: int, w: int, period: float, angle_deg: float, seed: int, device, dtype) -> torch.Tensor:
    """Parallel pencil lines `(1, 1, h, w)` in [0, 1] (1 on a line), `period` pixels apart at
    `angle_deg`, with a slow seeded wobble so they look drawn by hand; faded out below two
    pixels."""
    amp = fade_below(period)
    if amp == 0.0:
        return torch.zeros(1, 1, h, w, device=device, dtype=dtype)
    a = math.radians(angle_deg)
    ys = torch.arange(h, device=device, dtype=dtype).view(1, 1, h, 1)
    xs = torch.arange(w, device=device, dtype=dtype).view(1, 1, 1, w)
    wobble = 0.35 * smooth_noise(h, w, 6.0 * period, seed, device, dtype)
    u = (xs * math.cos(a) + ys * math.sin(a)) / period + wobble
    return amp * (0.5 - 0.5 * torch.cos(2.0 * math.pi * u)) ** 3


# ----------------------------------------------------------------------------------------
# The four renderers. Every length is a fraction of the picture's short side `side`.
# ----------------------------------------------------------------------------------------

def oil_paint(img: torch.Tensor, radius: float = 0.02, sharpness: float = 10.0, stroke_length: float = 0.03,
              stroke: float = 0.5, canvas: float = 0.25, canvas_period: float = 0.006,
              saturation: float = 0.3, seed: int = 0, side: Optional[float] = None,
              texture: bool = True) -> torch.Tensor:
    """An oil painting: anisotropic Kuwahara paint, brush strokes along the structure, canvas.

    1. Paint: `anisotropic_kuwahara` with a brush of `radius` x side, at the working resolution
       (flat patches of colour that follow the edges; `sharpness` is its q).
    2. Strokes: `brush_strokes`, `stroke_length` x side long, lit as a relief that darkens and
       lightens the paint by up to about `stroke` x 12 %.
    3. Canvas: `canvas_weave` with threads `canvas_period` x side apart, up to `canvas` x 10 %.
    4. Colour: saturation boosted by `saturation` (oil paint is richer than a photo).
    Strokes and canvas are texture (left out with `texture=False`)."""
    side = _side(img, side)
    work, f = to_work(img, side)
    r = radius * side * f
    orient = structure_tensor(work, max(1.0, 0.5 * r))
    paint = to_full(anisotropic_kuwahara(work, r, sharpness, orientation=orient), img)
    out = saturate(paint, saturation)
    if texture:
        if stroke:
            tx, ty, _ = structure_tensor(work, max(1.0, 1.5 * r))        # smoother: long strokes
            relief = to_full(brush_strokes(tx, ty, stroke_length * side * f, seed), img)
            out = out * (1.0 + 0.12 * stroke * relief)
        if canvas:
            H, W = img.shape[-2:]
            out = out * (1.0 + 0.1 * canvas * canvas_weave(H, W, canvas_period * side, img.device, img.dtype))
    return out.clamp(0.0, 1.0)


def quantize_luma(x: torch.Tensor, levels: float, sharpness: float) -> torch.Tensor:
    """Soft luminance quantisation (Winnemöller et al. 2006) to `levels` equally spaced tones
    (0, Δ, 2Δ, ..., 1). Around the nearest bin boundary b (halfway between two tones) the luma
    Y follows a tanh step, Q = b + (Δ/2) tanh(φ t) / tanh(φ) with t = (Y - b) / (Δ/2) in
    [-1, 1]: continuous, the identity as `sharpness` φ → 0 and hard posterisation for large φ
    (every Y pulled to the tone b ± Δ/2 of its bin). The colour keeps its chroma: every channel
    moves by Q - Y."""
    y = luma(x)
    step = 1.0 / max(float(levels) - 1.0, 1.0)
    b = (torch.round(y / step - 0.5) + 0.5) * step
    t = ((y - b) / (0.5 * step)).clamp(-1.0, 1.0)
    phi = max(float(sharpness), 1e-3)
    yq = b + 0.5 * step * torch.tanh(phi * t) / math.tanh(phi)
    return x + (yq - y)


def ink_lines(y: torch.Tensor, width: float, threshold: float = 0.98, steepness: float = 60.0) -> torch.Tensor:
    """Ink `(B, 1, H, W)` in [0, 1] (1 = black) from a difference of Gaussians on the luma `y`
    (Winnemöller et al. 2006): D = G_σ(y) - τ G_1.6σ(y) with σ = `width` pixels and τ =
    `threshold`; where D < 0 — the dark side of an edge — the ink is tanh(-steepness · D). The
    DoG of a step does not depend on σ, so lines look alike at every size."""
    d = gaussian_blur(y, width) - threshold * gaussian_blur(y, 1.6 * width)
    return torch.tanh(steepness * (-d).clamp_min(0.0))


def cartoon(img: torch.Tensor, smooth: float = 0.004, iterations: int = 3, range_sigma: float = 0.12,
            levels: float = 6.0, quant_sharpness: float = 2.5, line_width: float = 0.002,
            lines: float = 1.0, saturation: float = 0.35, seed: int = 0, side: Optional[float] = None,
            texture: bool = True) -> torch.Tensor:
    """A cartoon: flat colour regions, posterised tones and ink outlines (Winnemöller, Olsen &
    Gooch, "Real-time video abstraction", SIGGRAPH 2006).

    1. Flatten: `iterations` passes of the separable `bilateral` filter (spatial sigma `smooth`
       x side, colour sigma `range_sigma`) at the working resolution.
    2. Posterise: `quantize_luma` to `levels` tones with `quant_sharpness`.
    3. Ink: `ink_lines` (DoG of width `line_width` x side, at full resolution) multiplies the
       colour by 1 - `lines` x ink.
    4. Colour: saturation boosted by `saturation`.
    Nothing here depends on a seed or a position: a cartoon has no texture (`seed` and
    `texture` are accepted for a common signature)."""
    side = _side(img, side)
    work, f = to_work(img, side)
    flat = to_full(bilateral(work, smooth * side * f, range_sigma, iterations), img)
    out = saturate(quantize_luma(flat, levels, quant_sharpness), saturation)
    if lines:
        ink = ink_lines(luma(flat), max(line_width * side, 0.3))
        out = out * (1.0 - lines * ink)
    return out.clamp(0.0, 1.0)


def colour_dodge_sketch(y: torch.Tensor, blur: float) -> torch.Tensor:
    """The photo editor's pencil sketch: the luma "colour-dodged" with its blurred negative,
    y / (1 - G_σ(1 - y)) = y / G_σ(y), clipped at 1 — white where the photo is flat, grey lines
    where it is darker than its surroundings."""
    return (y / gaussian_blur(y, blur).clamp_min(1e-3)).clamp(0.0, 1.0)


def pencil(img: torch.Tensor, blur: float = 0.012, darkness: float = 2.0, hatching_amount: float = 0.35,
           hatch_period: float = 0.008, colour: float = 0.0, paper: float = 0.3, seed: int = 0,
           side: Optional[float] = None, texture: bool = True) -> torch.Tensor:
    """A pencil sketch, grey (`colour` 0) or coloured (`colour` 1).

    1. Lines: `colour_dodge_sketch` of the luma with a blur of `blur` x side, raised to the
       power `darkness` (harder pencil pressure).
    2. Tone: hatching at 45° where the blurred tone is below 0.6, cross-hatching at -45° below
       0.35, lines `hatch_period` x side apart, darkening by up to `hatching_amount`.
    3. Paper: grain of about 1/400 of the side, up to `paper` x 8 %.
    4. Colour: the sketch multiplies the photo's colour lifted to white luma
       (x + 1 - Y), mixed in by `colour`.
    Hatching and paper are texture (left out with `texture=False`)."""
    side = _side(img, side)
    B, _, H, W = img.shape
    y = luma(img)
    g = colour_dodge_sketch(y, blur * side) ** darkness
    if texture:
        tone = gaussian_blur(y, 0.01 * side)
        p = hatch_period * side
        l1 = hatching(H, W, p, 45.0, seed, img.device, img.dtype)
        l2 = hatching(H, W, p, -45.0, seed + 1, img.device, img.dtype)
        w1 = ((0.6 - tone) / 0.3).clamp(0.0, 1.0)
        w2 = ((0.35 - tone) / 0.2).clamp(0.0, 1.0)
        g = g * (1.0 - hatching_amount * (w1 * l1 + w2 * l2)).clamp(0.0, 1.0)
        if paper:
            grain = smooth_noise(H, W, max(side / 400.0, 1.0), seed + 2, img.device, img.dtype)
            g = g * (1.0 - 0.08 * paper * grain.clamp(-2.0, 2.0))
    out = g.expand(B, 3, H, W)
    if colour:
        lifted = (img + (1.0 - y)).clamp(0.0, 1.0)
        out = g * (1.0 + colour * (lifted - 1.0))
    return out.clamp(0.0, 1.0)


def pigment_density(c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Bousseau et al., "Interactive watercolor rendering with temporal coherence and
    abstraction", NPAR 2006: a pigment layer of relative density d darkens a colour as
    C' = C - (C - C²)(d - 1); d = 1 leaves it, d > 1 darkens, d < 1 lightens, black and white
    stay."""
    return c - (c - c * c) * (d - 1.0)


def watercolour(img: torch.Tensor, smooth: float = 0.014, edge: float = 0.8, granulation: float = 0.5,
                wobble: float = 0.0015, wash: float = 0.15, saturation: float = 0.1, seed: int = 0,
                side: Optional[float] = None, texture: bool = True) -> torch.Tensor:
    """A watercolour: abstracted washes, darker pigment at their edges, granulation, paper.

    1. Abstraction: `anisotropic_kuwahara` with radius `smooth` x side (q = 6) at the
       working resolution, lightened by `wash` (thinned paint).
    2. Wobble: the washes shifted by smooth noise of up to `wobble` x side (texture).
    3. Edge darkening: pigment density rises with the gradient of the wash, by `edge`.
    4. Granulation and paper: two scales of seeded noise change the density by `granulation`
       (texture), through `pigment_density`.
    5. Colour: saturation changed by `saturation`."""
    side = _side(img, side)
    B, _, H, W = img.shape
    work, f = to_work(img, side)
    wash_img = to_full(anisotropic_kuwahara(work, smooth * side * f, 6.0, rings=2), img)
    wash_img = 1.0 - (1.0 - wash) * (1.0 - wash_img)
    if texture and wobble:
        amp = wobble * side
        cell = 0.06 * side
        dx = amp * smooth_noise(H, W, cell, seed, img.device, img.dtype)
        dy = amp * smooth_noise(H, W, cell, seed + 1, img.device, img.dtype)
        wash_img = _sample(wash_img, dx.expand(B, 1, H, W), dy.expand(B, 1, H, W))
    gx, gy = sobel(luma(gaussian_blur(wash_img, 0.002 * side)))
    grad = torch.sqrt(gx * gx + gy * gy) * (0.01 * side)        # per 1 % of the side: scale-free
    d = 1.0 + edge * grad.clamp(0.0, 1.0) * 1.5
    if texture and granulation:
        fine = smooth_noise(H, W, max(side / 300.0, 1.0), seed + 2, img.device, img.dtype)
        coarse = smooth_noise(H, W, side / 25.0, seed + 3, img.device, img.dtype)
        d = d + granulation * (0.12 * fine + 0.12 * coarse).clamp(-0.5, 0.5)
    out = pigment_density(wash_img, d)
    return saturate(out, saturation).clamp(0.0, 1.0)


RENDERERS = {"oil_paint": oil_paint, "cartoon": cartoon, "pencil": pencil, "watercolour": watercolour}


# ----------------------------------------------------------------------------------------
# Named texture looks, the prior, and apply.
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TextureLook:
    """A texture look: which renderer (`kind`, a key of `RENDERERS`) and its parameters, as
    `(name, value)` pairs (immutable, so a look can be hashed and cached); parameters not given
    keep the renderer's defaults. `look.kwargs()` gives them as a dict."""
    name: str = "custom"
    kind: str = "oil_paint"
    params: tuple[tuple[str, float], ...] = ()
    description: str = ""

    def __post_init__(self):
        if self.kind not in RENDERERS:
            raise ValueError(f"unknown texture kind {self.kind!r}; known: {', '.join(RENDERERS)}")

    def kwargs(self) -> dict[str, float]:
        return dict(self.params)

    @classmethod
    def make(cls, name: str, kind: str, description: str = "", **params) -> "TextureLook":
        return cls(name=name, kind=kind, params=tuple(sorted(params.items())), description=description)


NAMED_TEXTURES: dict[str, TextureLook] = {t.name: t for t in [
    TextureLook.make("oil_paint", "oil_paint", "An oil painting: flat patches of paint that follow "
                     "the edges, brush strokes along the structure, a woven canvas, richer colour.",
                     radius=0.02, sharpness=10.0, stroke_length=0.03, stroke=0.5, canvas=0.25,
                     canvas_period=0.006, saturation=0.3),
    TextureLook.make("cartoon", "cartoon", "A cartoon: flattened colour regions, six posterised "
                     "tones, black ink outlines, brighter colour.",
                     smooth=0.004, iterations=3, range_sigma=0.12, levels=6.0, quant_sharpness=2.5,
                     line_width=0.002, lines=1.0, saturation=0.35),
    TextureLook.make("pencil_sketch", "pencil", "A grey pencil sketch: dodge lines, hatching and "
                     "cross-hatching in the dark tones, paper grain.",
                     blur=0.012, darkness=2.0, hatching_amount=0.35, hatch_period=0.008,
                     colour=0.0, paper=0.3),
    TextureLook.make("watercolour", "watercolour", "A watercolour: soft, light washes with "
                     "darker pigment at their edges, granulation and a wobbly hand-painted edge.",
                     smooth=0.014, edge=0.8, granulation=0.5, wobble=0.0015, wash=0.15, saturation=0.1),
]}

# The prior: per kind, each parameter uniform in a range around the named look's value.
PRIOR_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "oil_paint": dict(radius=(0.01, 0.03), sharpness=(4.0, 12.0), stroke_length=(0.015, 0.05),
                      stroke=(0.2, 0.9), canvas=(0.0, 0.5), canvas_period=(0.004, 0.01),
                      saturation=(0.0, 0.6)),
    "cartoon": dict(smooth=(0.002, 0.008), iterations=(2, 4), range_sigma=(0.08, 0.2), levels=(3.0, 10.0),
                    quant_sharpness=(1.0, 6.0), line_width=(0.001, 0.003), lines=(0.5, 1.0),
                    saturation=(0.0, 0.7)),
    "pencil": dict(blur=(0.006, 0.02), darkness=(1.2, 3.0), hatching_amount=(0.0, 0.6),
                   hatch_period=(0.005, 0.012), colour=(0.0, 1.0), paper=(0.0, 0.6)),
    "watercolour": dict(smooth=(0.008, 0.02), edge=(0.3, 1.2), granulation=(0.1, 0.9),
                        wobble=(0.0, 0.003), wash=(0.0, 0.3), saturation=(-0.3, 0.4)),
}
_INTEGER_PARAMS = {"iterations"}


@lru_cache(maxsize=8192)
def random_texture(seed: int) -> TextureLook:
    """A texture look drawn from the prior, deterministically from `seed`: a kind chosen
    uniformly, then every parameter uniform in its `PRIOR_RANGES` range (`iterations` an
    integer; a coloured pencil half of the time). Like `looks.random_look`, seeds 0-9999 are
    for training and seeds from `HELD_OUT_SEED` = 10 000 on are held out (unseen looks)."""
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"random_texture needs a seed >= 0, got {seed}")
    g = torch.Generator().manual_seed(seed)
    kinds = list(PRIOR_RANGES)
    kind = kinds[int(torch.randint(len(kinds), (), generator=g))]
    params = {}
    for name, (lo, hi) in PRIOR_RANGES[kind].items():
        u = float(torch.rand((), generator=g))
        v = lo + (hi - lo) * u
        params[name] = int(round(v)) if name in _INTEGER_PARAMS else round(v, 4)
    if kind == "pencil" and float(torch.rand((), generator=g)) < 0.5:
        params["colour"] = 0.0
    split = "held-out" if seed >= HELD_OUT_SEED else "training"
    return TextureLook.make(f"texture_prior_{seed}", kind, f"random_texture({seed}), a {split} look", **params)


TextureLike = Union[TextureLook, str]


def get(look: TextureLike) -> TextureLook:
    """A texture look by name (from `NAMED_TEXTURES`), or the look itself."""
    if isinstance(look, TextureLook):
        return look
    if look in NAMED_TEXTURES:
        return NAMED_TEXTURES[look]
    raise ValueError(f"unknown texture look {look!r}; known: {', '.join(NAMED_TEXTURES)}")


def render(img: torch.Tensor, look: TextureLike, seed: int = 0, side: Optional[float] = None,
           texture: bool = True) -> torch.Tensor:
    """The look at full intensity: `img` `(B, 3, H, W)` through its renderer."""
    t = get(look)
    return RENDERERS[t.kind](img, **t.kwargs(), seed=seed, side=side, texture=texture)


def apply(img: torch.Tensor, look: Union[TextureLike, Sequence[TextureLike]], strength=1.0, vivid=0.0,
          warmth=0.0, seed: int = 0, side: Optional[float] = None, texture: bool = True) -> torch.Tensor:
    """Render `img` in a texture look, with the personal condition c: the exact ground truth.

    `img` is `(3, H, W)` or `(B, 3, H, W)` in [0, 1], H and W at least 16 (32 and up look like
    something); `look` is a `TextureLook`, a name from `NAMED_TEXTURES`, or one of these per
    image. The look is rendered at full intensity (`render`), then c is applied as photo apps
    apply it to any look (`looks.personal_edit`): vivid and warmth adjust it, and `strength`
    (a float or a `(B,)` tensor) blends from the photo (0: the photo exactly) to the look (1).
    `seed` draws the noise of the marks (the same for every image of the batch), `side` is the
    short side in pixels of the picture `img` stands for (default: its own; pass the source's
    when `img` is a crop), and `texture=False` leaves out the marks that are not a function of
    the photo (see the module docstring). Deterministic; runs on `img`'s device."""
    single = img.dim() == 3
    x = img.unsqueeze(0) if single else img
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"apply expects an image (3,H,W) or a batch (B,3,H,W), got {tuple(img.shape)}")
    if min(x.shape[-2:]) < 16:
        raise ValueError(f"texture looks need images of at least 16 x 16 pixels, got {tuple(x.shape[-2:])}")
    if isinstance(look, (TextureLook, str)):
        styled = render(x, look, seed, side, texture)
    else:
        looks = [get(lk) for lk in look]
        if len(looks) != x.shape[0]:
            raise ValueError(f"{len(looks)} texture looks for {x.shape[0]} images")
        styled = torch.empty_like(x)
        for t in dict.fromkeys(looks):                       # one render per distinct look
            idx = [i for i, lk in enumerate(looks) if lk == t]
            styled[idx] = render(x[idx], t, seed, side, texture)
    out = _looks.personal_edit(x, styled, vivid, warmth, strength).clamp(0.0, 1.0)
    return out[0] if single else out


__all__ = ["TextureLook", "NAMED_TEXTURES", "PRIOR_RANGES", "RENDERERS", "HELD_OUT_SEED", "WORK_SIDE",
           "random_texture", "get", "render", "apply", "oil_paint", "cartoon", "pencil", "watercolour",
           "anisotropic_kuwahara", "bilateral", "structure_tensor", "brush_strokes", "canvas_weave",
           "hatching", "quantize_luma", "ink_lines", "colour_dodge_sketch", "pigment_density",
           "gaussian_blur", "smooth_noise", "luma", "saturate"]

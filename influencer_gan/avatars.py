"""Procedural avatars with attribute labels and person/background masks (§3.1).

§2.2 lists personalised avatars among the things an influencer wants to generate, and §3.1 asks
for annotated data: images whose regions (person, background) are marked. Real portraits with such
labels cannot ship in a package, so we *draw* the avatars: a head, hair, eyes, mouth, optional
glasses and shoulders, each a shape given by a signed distance function (SDF), rendered with
analytic anti-aliasing. Because we draw them, we know everything about them:

* the **attributes** — hair colour, hair style, skin tone, background colour, glasses, smile —
  which become the personal condition of the avatar generator (one-hot, `encode`), and
* the **mask** — 1 on the person (hair, head, neck, body), 0 on the background — the region
  annotation of §3.1.

A little nuisance variation (head position and size, colour jitter, shirt colour, a soft
background gradient) comes from the seed, so that two avatars with the same attributes still
differ. Everything is vectorised over the batch, so thousands of avatars take a fraction of a
second.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Union

import torch

# Attribute -> its values. Colours are chosen to stay distinguishable at 64 x 64.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "hair": ("black", "brown", "red", "pink", "blonde"),
    "hair_style": ("short", "long"),
    "skin": ("light", "medium", "tan", "dark"),
    "background": ("blue", "pink", "green", "grey", "purple"),
    "glasses": ("no", "yes"),
    "smile": ("no", "yes"),
}
ATTR_DIM = sum(len(v) for v in ATTRIBUTES.values())
ATTR_NAMES = tuple(f"{k}={v}" for k, vs in ATTRIBUTES.items() for v in vs)  # one per one-hot slot

HAIR_RGB = {"black": (0.09, 0.07, 0.07), "brown": (0.42, 0.25, 0.12), "red": (0.82, 0.22, 0.08),
            "pink": (0.96, 0.50, 0.76), "blonde": (0.96, 0.84, 0.50)}
SKIN_RGB = {"light": (0.97, 0.85, 0.75), "medium": (0.88, 0.68, 0.50),
            "tan": (0.68, 0.46, 0.30), "dark": (0.38, 0.25, 0.17)}
BACKGROUND_RGB = {"blue": (0.52, 0.74, 0.96), "pink": (1.00, 0.86, 0.90),
                  "green": (0.58, 0.86, 0.58), "grey": (0.62, 0.62, 0.64),
                  "purple": (0.70, 0.58, 0.92)}

Seed = Union[int, torch.Generator]


def _generator(seed_or_generator: Seed) -> torch.Generator:
    if isinstance(seed_or_generator, torch.Generator):
        return seed_or_generator
    return torch.Generator().manual_seed(int(seed_or_generator))


def random_attributes(seed_or_generator: Seed = 0) -> dict[str, str]:
    """A random attribute dict, each attribute uniform over its values."""
    g = _generator(seed_or_generator)
    return {k: vs[int(torch.randint(len(vs), (), generator=g))] for k, vs in ATTRIBUTES.items()}


def _check(attrs: Mapping[str, str]) -> dict[str, str]:
    for k, v in attrs.items():
        if k not in ATTRIBUTES:
            raise ValueError(f"unknown avatar attribute {k!r}; known: {', '.join(ATTRIBUTES)}")
        if v not in ATTRIBUTES[k]:
            raise ValueError(f"unknown value {v!r} for avatar attribute {k!r}; "
                             f"known: {', '.join(ATTRIBUTES[k])}")
    return dict(attrs)


def encode(attrs: Mapping[str, str]) -> torch.Tensor:
    """Attributes as the one-hot condition vector `(ATTR_DIM,)`: one block per attribute, in the
    order of `ATTRIBUTES`. Every attribute must be given; unknown keys or values raise a
    ValueError naming them."""
    attrs = _check(attrs)
    missing = [k for k in ATTRIBUTES if k not in attrs]
    if missing:
        raise ValueError(f"missing avatar attribute(s): {', '.join(missing)}")
    v = torch.zeros(ATTR_DIM)
    offset = 0
    for k, vs in ATTRIBUTES.items():
        v[offset + vs.index(attrs[k])] = 1.0
        offset += len(vs)
    return v


def decode(vec: torch.Tensor) -> dict[str, str]:
    """The attributes of a condition vector (the arg-max of each one-hot block; works for
    classifier scores too)."""
    vec = torch.as_tensor(vec).reshape(-1)
    if vec.numel() != ATTR_DIM:
        raise ValueError(f"an attribute vector has {ATTR_DIM} entries, got {vec.numel()}")
    out, offset = {}, 0
    for k, vs in ATTRIBUTES.items():
        out[k] = vs[int(vec[offset:offset + len(vs)].argmax())]
        offset += len(vs)
    return out


# ----------------------------------------------------------------------------------------
# Signed distance functions on a grid u, v in [-1, 1] (v points down). Negative = inside.
# ----------------------------------------------------------------------------------------

def _ellipse(u, v, cx, cy, rx, ry):
    """Approximate SDF of an axis-aligned ellipse (exact for circles)."""
    d = torch.sqrt(((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 + 1e-12)
    return (d - 1.0) * torch.minimum(rx, ry)


def _box(u, v, cx, cy, hx, hy, r=0.0):
    """SDF of a box with half-sizes (hx, hy) and corner radius r."""
    qx = (u - cx).abs() - hx + r
    qy = (v - cy).abs() - hy + r
    outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2 + 1e-12)
    return outside + torch.minimum(torch.maximum(qx, qy), torch.zeros_like(qx)) - r


def _segment(u, v, ax, ay, bx, by, r):
    """SDF of a capsule: the segment a-b thickened by r."""
    pax, pay, bax, bay = u - ax, v - ay, bx - ax, by - ay
    h = ((pax * bax + pay * bay) / (bax * bax + bay * bay)).clamp(0, 1)
    return torch.sqrt((pax - bax * h) ** 2 + (pay - bay * h) ** 2 + 1e-12) - r


def _colour_table(table: Mapping[str, tuple], key: str, attrs: Sequence[Mapping[str, str]], device=None):
    return torch.tensor([table[a[key]] for a in attrs], dtype=torch.float32, device=device).view(-1, 3, 1, 1)


def _flag(attrs, key, value, device=None):
    return torch.tensor([float(a[key] == value) for a in attrs], device=device).view(-1, 1, 1, 1)


def _draw(attrs: Sequence[Mapping[str, str]], size: int, g: torch.Generator, device=None):
    """Render avatars with the given attributes; nuisance variation is drawn from `g`.

    The random numbers (a few per avatar) always come from `g` on the CPU, so an avatar does not
    depend on the device; the per-pixel drawing runs on `device` (default: the CPU)."""
    n = len(attrs)
    dev = torch.device(device) if device is not None else torch.device("cpu")

    def rand(lo, hi, shape=(n, 1, 1, 1)):
        return (lo + (hi - lo) * torch.rand(shape, generator=g)).to(dev)

    def const(values, shape):
        return torch.tensor(values, dtype=torch.float32, device=dev).view(shape)

    # Nuisance variation: position, scale, colour jitter, shirt colour, background gradient.
    s = rand(0.92, 1.08)
    cx, cy = rand(-0.07, 0.07), rand(-0.12, -0.02)
    hair_c = (_colour_table(HAIR_RGB, "hair", attrs, dev) + rand(-0.03, 0.03, (n, 3, 1, 1))).clamp(0, 1)
    skin_c = (_colour_table(SKIN_RGB, "skin", attrs, dev) + rand(-0.025, 0.025, (n, 3, 1, 1))).clamp(0, 1)
    bg_c = (_colour_table(BACKGROUND_RGB, "background", attrs, dev) + rand(-0.03, 0.03, (n, 3, 1, 1)))
    shirt_c = rand(0.15, 0.85, (n, 3, 1, 1))
    gradient = rand(0.0, 0.1)
    frame_c = rand(0.02, 0.15) * torch.ones(n, 3, 1, 1, device=dev)

    step = 2.0 / size  # one pixel in grid units
    lin = torch.linspace(-1 + step / 2, 1 - step / 2, size, device=dev)
    v, u = lin.view(1, 1, size, 1), lin.view(1, 1, 1, size)

    def cover(sdf):  # analytic anti-aliasing: coverage of a pixel by the shape
        return (0.5 - sdf / step).clamp(0.0, 1.0)

    img = (bg_c * (1.0 + gradient * (-v))).clamp(0, 1).expand(n, 3, size, size)
    person = torch.zeros(n, 1, size, size, device=dev)

    def paint(alpha, colour, is_person=False):
        nonlocal img, person
        img = img * (1 - alpha) + colour * alpha
        if is_person:
            person = person + alpha * (1 - person)

    rx, ry = 0.34 * s, 0.42 * s
    long_hair = _flag(attrs, "hair_style", "long", dev)
    # Long hair falls behind the head down to the shoulders.
    back = _box(u, v, cx, cy + 0.28 * s, rx * 1.3, 0.62 * s, r=0.3 * s)
    paint(cover(back) * long_hair, hair_c, True)
    # Shoulders and neck.
    paint(cover(_ellipse(u, v, cx * 0.5, torch.full_like(cx, 1.08), 0.78 * s, 0.42 * s)), shirt_c, True)
    paint(cover(_box(u, v, cx, cy + ry * 0.9, 0.12 * s, 0.3 * s, r=0.05)), skin_c * 0.92, True)
    # Head.
    paint(cover(_ellipse(u, v, cx, cy, rx, ry)), skin_c, True)
    # Hair on top: a slightly larger ellipse, cut by a wavy fringe line.
    fringe = cy - 0.16 * s + 0.04 * s * torch.cos(u * 18.0)
    cap = torch.maximum(_ellipse(u, v, cx, cy - 0.05 * s, rx * 1.12, ry * 1.02), v - fringe)
    paint(cover(cap), hair_c, True)
    # Eyes: white sclera and a dark pupil, readable on every skin tone.
    ex, ey = 0.14 * s, cy + 0.02 * s
    whites = torch.minimum(_ellipse(u, v, cx - ex, ey, 0.07 * s, 0.05 * s),
                           _ellipse(u, v, cx + ex, ey, 0.07 * s, 0.05 * s))
    paint(cover(whites), torch.full((n, 3, 1, 1), 0.96, device=dev))
    pupils = torch.minimum(_ellipse(u, v, cx - ex, ey, 0.035 * s, 0.045 * s),
                           _ellipse(u, v, cx + ex, ey, 0.035 * s, 0.045 * s))
    paint(cover(pupils), torch.full((n, 3, 1, 1), 0.08, device=dev))
    # Glasses: light lenses inside two thick rims, and a bridge.
    wearing = _flag(attrs, "glasses", "yes", dev)
    lenses = torch.minimum(_ellipse(u, v, cx - ex, ey, 0.125 * s, 0.11 * s),
                           _ellipse(u, v, cx + ex, ey, 0.125 * s, 0.11 * s))
    paint(0.35 * cover(lenses) * wearing, const([0.85, 0.93, 1.0], (1, 3, 1, 1)))
    rims = lenses.abs() - 0.032 * s
    bridge = _segment(u, v, cx - ex + 0.125 * s, ey, cx + ex - 0.125 * s, ey, 0.025 * s)
    paint(cover(torch.minimum(rims, bridge)) * wearing, frame_c)
    # Mouth: an open smile (lower half of an ellipse) or a straight, closed mouth.
    my = cy + 0.22 * s
    grin = torch.maximum(_ellipse(u, v, cx, my, 0.17 * s, 0.13 * s), my - v)
    smile = _flag(attrs, "smile", "yes", dev)
    paint(cover(grin) * smile, const([0.55, 0.08, 0.12], (1, 3, 1, 1)))
    teeth = torch.maximum(grin + 0.02 * s, v - (my + 0.04 * s))
    paint(cover(teeth) * smile, torch.full((1, 3, 1, 1), 0.97, device=dev))
    flat = _segment(u, v, cx - 0.08 * s, my + 0.03 * s, cx + 0.08 * s, my + 0.03 * s, 0.02 * s)
    paint(cover(flat) * (1 - smile), skin_c * const([0.7, 0.5, 0.5], (1, 3, 1, 1)))

    mask = (person >= 0.5).float()
    return img.clamp(0, 1).contiguous(), mask


def render_batch(n: int, size: int = 64, seed: int = 0, generator: torch.Generator | None = None,
                 attrs: Union[None, Mapping[str, str], Sequence[Mapping[str, str]]] = None,
                 device=None) -> dict:
    """Render `n` random avatars at `size` x `size`.

    Attributes are drawn uniformly (or taken from `attrs`: one dict for all, or a list of
    `n` dicts; a dict may fix only some attributes, the rest are drawn), then the avatars are
    drawn with nuisance variation. All randomness comes from `generator` if given, else from
    `seed`; `device` is where the pixels are drawn (the same avatars on every device, up to
    rounding; a GPU draws a large batch much faster). Returns a dict with `img (n,3,S,S)` in [0, 1], `mask (n,1,S,S)` (person = 1),
    `cond (n, ATTR_DIM)` one-hot attributes and `attrs` (a list of dicts).
    """
    g = generator if generator is not None else _generator(seed)
    if attrs is None or isinstance(attrs, Mapping):
        fixed = [_check(attrs or {})] * n
    else:
        fixed = [_check(a) for a in attrs]
        if len(fixed) != n:
            raise ValueError(f"{len(fixed)} attribute dicts for {n} avatars")
    drawn = [{**random_attributes(g), **f} for f in fixed]
    img, mask = _draw(drawn, int(size), g, device)
    cond = torch.stack([encode(a) for a in drawn]) if n else torch.zeros(0, ATTR_DIM)
    cond = cond.to(img.device)
    return dict(img=img, mask=mask, cond=cond, attrs=drawn)


def render(attrs: Mapping[str, str] | None = None, size: int = 64, seed: int = 0):
    """One avatar: `(img (3,S,S) in [0,1], mask (1,S,S) with person = 1)`. Missing attributes are
    drawn from `seed`, as is the nuisance variation."""
    out = render_batch(1, size=size, seed=seed, attrs=attrs or {})
    return out["img"][0], out["mask"][0]


__all__ = ["ATTRIBUTES", "ATTR_DIM", "ATTR_NAMES", "random_attributes", "encode", "decode",
           "render", "render_batch"]

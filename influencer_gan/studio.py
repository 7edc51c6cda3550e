"""The style-mixing studio: an ipywidgets panel to play with looks and the personal condition.

Pick two looks, slide between them, and turn the three knobs of the personal condition
c = (vivid, warmth, strength). The panel shows the input photo, what the GAN makes of it,
and — because our looks are parametric — the exact ground truth of the same request, with
the colour difference ΔE2000 between them.

Mixing happens where each side lives: the GAN mixes *style codes* (CBN turns a convex
combination of codes into a smooth change of γ and β, §4.4); the ground truth mixes the
looks' *parameters* (`looks.mix`). Where the two agree, the style space is well organised.

Works with ipywidgets 7 (Colab) and 8 (Jupyter). `Studio.render` is the whole computation of
one refresh, usable without widgets (the benchmark times it).
"""
from __future__ import annotations

import io
from typing import Optional

import torch

from . import looks as L


def _png(t: torch.Tensor) -> bytes:
    from PIL import Image
    arr = (t.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def default_photo(size: int = 256) -> torch.Tensor:
    """A held-out bundled photo, centre-cropped to a square of `size` pixels, in [0, 1]."""
    from .api import _square
    from .data import load_photos
    _, photo = load_photos("test")[0]
    return _square(photo, size)


class Studio:
    """State and computation of the studio; `.widget()` builds the interactive panel."""

    def __init__(self, model=None, image: Optional[torch.Tensor] = None, size: int = 256):
        self.model = model                     # a LookModel, or None for ground truth only
        self.image = default_photo(size) if image is None else image
        self._codes: dict = {}

    def code(self, name: str) -> torch.Tensor:
        if name not in self._codes:
            self._codes[name] = self.model.style_code(look=name)
        return self._codes[name]

    @torch.no_grad()
    def render(self, look_a: str, look_b: str, mix: float = 0.0, vivid: float = 0.0,
               warmth: float = 0.0, strength: float = 1.0) -> dict:
        """One refresh: the ground truth of the request and, with a model, the GAN's answer."""
        weights = {look_a: 1 - mix, look_b: mix} if look_a != look_b else {look_a: 1.0}
        target = L.apply(self.image, L.mix(weights), vivid=vivid, warmth=warmth,
                         strength=strength, grain=False)
        out = {"input": self.image, "truth": target}
        if self.model is not None:
            style = sum(w * self.code(n) for n, w in weights.items())
            out["gan"] = self.model.stylize(self.image, style=style, vivid=vivid, warmth=warmth,
                                            strength=strength)
            from .metrics import delta_e2000
            out["delta_e"] = float(delta_e2000(out["gan"], target))
        return out

    def widget(self):
        import ipywidgets as W
        names = sorted(L.NAMED)
        a = W.Dropdown(options=names, value=names[0], description="look A")
        b = W.Dropdown(options=names, value=names[min(1, len(names) - 1)], description="look B")
        mix = W.FloatSlider(0.0, min=0, max=1, step=0.05, description="A → B")
        vivid = W.FloatSlider(0.0, min=-1, max=1, step=0.1, description="vivid")
        warmth = W.FloatSlider(0.0, min=-1, max=1, step=0.1, description="warmth")
        strength = W.FloatSlider(1.0, min=0, max=1, step=0.05, description="strength")
        panels = {k: W.Image(format="png") for k in ("input", "gan", "truth")}
        captions = {"input": "your photo", "gan": "GAN  G(x | s, c)", "truth": "exact ground truth"}
        status = W.Label()
        shown = [k for k in panels if k != "gan" or self.model is not None]

        def refresh(_=None):
            r = self.render(a.value, b.value, mix.value, vivid.value, warmth.value, strength.value)
            for k in shown:
                panels[k].value = _png(r[k])
            status.value = (f"mean ΔE2000(GAN, truth) = {r['delta_e']:.2f}" if "delta_e" in r
                            else "no model loaded: showing the ground truth only")

        for w in (a, b, mix, vivid, warmth, strength):
            w.observe(refresh, names="value")
        refresh()
        images = W.HBox([W.VBox([W.Label(captions[k]), panels[k]]) for k in shown])
        return W.VBox([W.HBox([a, b, mix]), W.HBox([vivid, warmth, strength]), images, status])

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget())


def studio(model=None, image=None, size: int = 256) -> Studio:
    """Open the studio in a notebook: `ig.studio.studio(ig.load_pretrained("looks"))`."""
    return Studio(model=model, image=image, size=size)

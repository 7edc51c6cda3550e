"""The style-mixing studio: ipywidgets panels to play with looks, references and the personal condition.

`Studio` (looks). Up to three named looks, mixed with weights, *or* a few reference posts
you upload (a look the model never saw); the three knobs of the personal condition
c = (vivid, warmth, strength); your own photo by upload. The panel shows the photo, what the
GAN makes of it, and — for named looks, which are parametric — the exact ground truth of the
same request with the colour difference ΔE2000 between them. A button saves the result.

`AvatarStudio` (personalised generation). Attribute pickers, a z seed and a look.

Mixing happens where each side lives: the GAN mixes *style codes*, Σ wᵢ sᵢ with Σ wᵢ = 1 (the
conditional batch norms that read the code turn a convex combination of codes into a smooth
change of the generator's output: γ and β in CBN, §4.4); the ground truth mixes the looks'
*parameters* (`looks.mix`). Both then apply c the same way, as photo apps define it for any
look (`looks.personal_edit`): vivid and warmth adjust the look, strength blends it with the photo. Where the two agree, the style space
is well organised (chapter 7 measures it).

Works with ipywidgets 7 (Colab) and 8 (Jupyter): the two differ in what `FileUpload.value`
holds, which `uploaded_files` reads either way. `Studio.render_mix` / `AvatarStudio.render`
are the whole computation of one refresh, usable without widgets (the benchmark times it, the
tests drive the widgets through them). Bad uploads are reported in the panel with the
package's message naming the file, never as a traceback.

Sliders refresh when they are released, not at every step of a drag (`continuous_update=False`,
the same keyword in ipywidgets 7 and 8): one refresh takes about a tenth of a second, so a
refresh per drag step queues up and the image lags behind the mouse, most of all in Colab,
where every update makes a round trip to a remote kernel.
"""
from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import torch

from . import looks as L

LOOK_SLOTS = 3       # looks that can be mixed at once
NO_LOOK = "(none)"   # the avatar studio's "no look" choice
SLIDER_OPTIONS = dict(continuous_update=False)   # refresh on release (see the module docstring)


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


def uploaded_files(upload) -> list[tuple[str, bytes]]:
    """(name, bytes) of the files in an ipywidgets `FileUpload`, in ipywidgets 8 (a tuple of
    dicts with "name" and "content") and in ipywidgets 7 (a dict name -> {"content": ...})."""
    value = upload.value
    if isinstance(value, dict):                                   # ipywidgets 7
        return [(name, bytes(v["content"])) for name, v in value.items()]
    return [(v["name"], bytes(v["content"])) for v in value]      # ipywidgets 8


def read_upload(name: str, data: bytes):
    """Decode an uploaded file with the package's safe loader (`files.load_image`): an upright
    8-bit RGB PIL image, or an `ImageDataError` whose message names the upload and the reason."""
    from .files import ImageDataError, load_image
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(name).name or "upload")
        path.write_bytes(data)
        try:
            return load_image(path)
        except ImageDataError as e:
            raise ImageDataError(str(e).replace(str(path), name)) from None


def normalise(weights: dict) -> dict:
    """{look: weight} with the zero weights dropped and the rest scaled to sum to 1."""
    clean = {}
    for name, w in weights.items():
        if w < 0:
            raise ValueError(f"weight of {name} must not be negative, got {w}")
        if w > 0:
            clean[name] = clean.get(name, 0.0) + float(w)
    total = sum(clean.values())
    if total <= 0:
        raise ValueError("give at least one look a weight above 0")
    return {n: w / total for n, w in clean.items()}


def unique_path(path) -> Path:
    """`path`, or `name-2.png`, `name-3.png`, ... if it exists: saving never overwrites."""
    path = Path(path)
    k = 2
    out = path
    while out.exists():
        out = path.with_name(f"{path.stem}-{k}{path.suffix}")
        k += 1
    return out


class Studio:
    """State and computation of the looks studio; `.widget()` builds the interactive panel."""

    def __init__(self, model=None, image: Optional[torch.Tensor] = None, size: int = 256):
        self.model = model                     # a LookModel, or None for ground truth only
        self.size = size
        self.image = default_photo(size) if image is None else image
        self.photo_name = "bundled test photo"
        self._codes: dict = {}
        self.reference_code: Optional[torch.Tensor] = None
        self.reference_names: list[str] = []
        self.last: Optional[dict] = None

    def code(self, name: str) -> torch.Tensor:
        if name not in self._codes:
            self._codes[name] = self.model.style_code(look=name)
        return self._codes[name]

    # -- inputs ------------------------------------------------------------------------------
    def load_photo(self, name: str, data: bytes) -> None:
        """Use an uploaded photo (its longer side scaled to `size`); raises `ImageDataError`."""
        import torchvision.transforms.functional as TF
        img = read_upload(name, data)
        img.thumbnail((self.size, self.size))
        self.image = TF.to_tensor(img)
        self.photo_name = name

    def load_references(self, files: Sequence[tuple[str, bytes]]) -> list[str]:
        """Describe a look by reference posts (what a feed shows); unusable files are skipped.
        Returns one message per skipped file; raises if no file is usable or there is no model."""
        from .files import ImageDataError
        if self.model is None:
            raise ValueError("reference posts need a model: Studio(ig.load_pretrained('looks'))")
        images, problems = [], []
        for name, data in files:
            try:
                images.append(read_upload(name, data))
            except ImageDataError as e:
                problems.append(str(e))
        if not images:
            raise ImageDataError("no usable reference image: " + "; ".join(problems or ["none given"]))
        self.reference_code = self.model.style_code(reference=images)
        self.reference_names = [n for n, _ in files if not any(p.startswith(n + ":") for p in problems)]
        return problems

    # -- one refresh ---------------------------------------------------------------------------
    @torch.no_grad()
    def render(self, look_a: str, look_b: Optional[str] = None, mix: float = 0.0, vivid: float = 0.0,
               warmth: float = 0.0, strength: float = 1.0) -> dict:
        """Two looks mixed A → B by `mix` (the original two-look studio)."""
        weights = {look_a: 1 - mix, look_b: mix} if look_b not in (None, look_a) else {look_a: 1.0}
        return self.render_mix(weights, vivid, warmth, strength)

    @torch.no_grad()
    def render_mix(self, weights: Optional[dict] = None, vivid: float = 0.0, warmth: float = 0.0,
                   strength: float = 1.0, references: bool = False) -> dict:
        """One refresh: the GAN's answer for a mix of named looks (`weights`, normalised) or for
        the uploaded references, and — for named looks — the exact ground truth and ΔE2000."""
        for knob, v, lo, hi in (("vivid", vivid, -1, 1), ("warmth", warmth, -1, 1), ("strength", strength, 0, 1)):
            if not lo <= v <= hi:
                raise ValueError(f"{knob} must be in [{lo}, {hi}], got {v}")
        out = {"input": self.image}
        if references:
            if self.reference_code is None:
                raise ValueError("no reference posts loaded yet (upload a few posts of the look)")
            style = self.reference_code
        else:
            weights = normalise(weights or {})
            out["truth"] = L.apply(self.image, L.mix(weights), vivid=vivid, warmth=warmth,
                                   strength=strength, grain=False)
            style = sum(w * self.code(n) for n, w in weights.items()) if self.model is not None else None
        if self.model is not None:
            out["gan"] = self.model.stylize(self.image, style=style, vivid=vivid, warmth=warmth,
                                            strength=strength)
            if "truth" in out:
                from .metrics import delta_e2000
                out["delta_e"] = float(delta_e2000(out["gan"], out["truth"]))
        self.last = out
        return out

    def save(self, path="studio.png") -> Path:
        """Write the last result (the GAN's, or the ground truth without a model) as a PNG; an
        existing file is never overwritten (`unique_path`). Returns the path written."""
        if self.last is None:
            raise ValueError("nothing rendered yet")
        img = self.last.get("gan", self.last.get("truth"))
        path = unique_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_png(img))
        return path

    # -- the panel -----------------------------------------------------------------------------
    def widget(self):
        import ipywidgets as W
        names = sorted(L.NAMED)
        looks = [W.Dropdown(options=names, value=names[i % len(names)], description=f"look {i + 1}")
                 for i in range(LOOK_SLOTS)]
        weights = [W.FloatSlider(1.0 if i == 0 else 0.0, min=0, max=1, step=0.05, description="weight",
                                 **SLIDER_OPTIONS) for i in range(LOOK_SLOTS)]
        source = W.ToggleButtons(options=["named looks", "my reference posts"], value="named looks",
                                 description="style from")
        refs = W.FileUpload(accept="image/*", multiple=True, description="reference posts")
        photo = W.FileUpload(accept="image/*", multiple=False, description="your photo")
        vivid = W.FloatSlider(0.0, min=-1, max=1, step=0.1, description="vivid", **SLIDER_OPTIONS)
        warmth = W.FloatSlider(0.0, min=-1, max=1, step=0.1, description="warmth", **SLIDER_OPTIONS)
        strength = W.FloatSlider(1.0, min=0, max=1, step=0.05, description="strength", **SLIDER_OPTIONS)
        save = W.Button(description="save result")
        save_to = W.Text(value="studio.png", description="file")
        panels = {k: W.Image(format="png") for k in ("input", "gan", "truth")}
        captions = {"input": "your photo", "gan": "GAN  G(x | s, c)", "truth": "exact ground truth"}
        status = W.HTML()
        if self.model is None:
            source.disabled = refs.disabled = True

        def say(text, error=False):
            colour = "#b00020" if error else "inherit"
            import html
            status.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

        def refresh(_=None):
            try:
                r = self.render_mix({l.value: w.value for l, w in zip(looks, weights)}, vivid.value,
                                    warmth.value, strength.value, references=source.value != "named looks")
            except ValueError as e:
                say(str(e), error=True)
                return
            for k, panel in panels.items():
                panel.layout.display = None if k in r else "none"
                if k in r:
                    panel.value = _png(r[k])
            if "delta_e" in r:
                say(f"mean ΔE2000(GAN, ground truth) = {r['delta_e']:.2f}")
            elif "gan" in r:
                say(f"style from {len(self.reference_names)} reference post(s): "
                    f"{', '.join(self.reference_names)} (no ground truth for an unknown look)")
            else:
                say("no model loaded: showing the ground truth only")

        def on_photo(_):
            files = uploaded_files(photo)
            if not files:
                return
            try:
                self.load_photo(*files[-1])
            except ValueError as e:          # ImageDataError: the package's message naming the file
                say(str(e), error=True)
                return
            refresh()

        def on_refs(_):
            files = uploaded_files(refs)
            if not files:
                return
            try:
                problems = self.load_references(files)
            except ValueError as e:
                say(str(e), error=True)
                return
            source.value = "my reference posts"   # triggers a refresh
            refresh()
            if problems:
                say("skipped: " + "; ".join(problems), error=True)

        def on_save(_):
            try:
                say(f"saved {self.save(save_to.value)}")
            except (ValueError, OSError) as e:
                say(f"could not save: {e}", error=True)

        for w in (*looks, *weights, source, vivid, warmth, strength):
            w.observe(refresh, names="value")
        photo.observe(on_photo, names="value")
        refs.observe(on_refs, names="value")
        save.on_click(on_save)
        refresh()
        images = W.HBox([W.VBox([W.Label(captions[k]), panels[k]]) for k in panels])
        box = W.VBox([
            W.HBox([source, refs]),
            *[W.HBox([l, w]) for l, w in zip(looks, weights)],
            W.HBox([vivid, warmth, strength]),
            W.HBox([photo, save_to, save]),
            images, status])
        box.controls = dict(looks=looks, weights=weights, source=source, refs=refs, photo=photo,
                            vivid=vivid, warmth=warmth, strength=strength, save=save, save_to=save_to,
                            panels=panels, status=status)
        return box

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget())


class AvatarStudio:
    """Personalised generation: pick attributes, a z seed and a look; see `n` avatars."""

    def __init__(self, model, n: int = 4):
        self.model, self.n = model, n
        self.last: Optional[torch.Tensor] = None

    @torch.no_grad()
    def render(self, attrs: Optional[dict] = None, seed: int = 0, look: Optional[str] = None,
               n: Optional[int] = None) -> tuple[torch.Tensor, list[dict]]:
        """`n` avatars side by side, (3, S, n·S) in [0, 1] on the CPU (whatever device the model
        runs on: the strip is for display), and the attributes of each."""
        attrs = {k: v for k, v in (attrs or {}).items() if v not in (None, "random")}
        look = None if look in (None, NO_LOOK) else look
        imgs, chosen = self.model.generate(n or self.n, attrs=attrs, seed=seed, look=look, return_tensor=True)
        self.last = torch.cat(list(imgs), dim=2).cpu()
        return self.last, chosen

    def widget(self):
        import ipywidgets as W
        from . import avatars as A
        pickers = {k: W.Dropdown(options=["random", *vs], value="random", description=k)
                   for k, vs in A.ATTRIBUTES.items()}
        seed = W.IntSlider(0, min=0, max=999, description="z seed", **SLIDER_OPTIONS)
        look = W.Dropdown(options=[NO_LOOK, *sorted(L.NAMED)], value=NO_LOOK, description="look")
        panel = W.Image(format="png")
        status = W.Label()

        def refresh(_=None):
            img, chosen = self.render({k: p.value for k, p in pickers.items()}, seed.value, look.value)
            panel.value = _png(img)
            status.value = " | ".join(", ".join(f"{v}" for v in a.values()) for a in chosen)

        for w in (*pickers.values(), seed, look):
            w.observe(refresh, names="value")
        refresh()
        box = W.VBox([W.HBox(list(pickers.values())[:3]), W.HBox(list(pickers.values())[3:]),
                      W.HBox([seed, look]), panel, status])
        box.controls = dict(pickers=pickers, seed=seed, look=look, panel=panel, status=status)
        return box

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget())


def studio(model=None, image=None, size: int = 256) -> Studio:
    """Open the studio in a notebook: `ig.studio.studio(ig.load_pretrained("looks"))`."""
    return Studio(model=model, image=image, size=size)

"""Evaluation: how good are the models? Measured, not eyeballed.

A GAN is usually judged by looking at samples. Here we can do better, because both tasks
come with exact answers:

* **looks** — `looks.apply(photo, look, c, grain=False)` *is* the image the generator should
  produce, so an output is scored against it pixel by pixel: PSNR, SSIM and, the number a
  photographer cares about, the mean CIEDE2000 colour difference ΔE2000 (about 1 is "just
  noticeable", 2–3 "visible only side by side", above 5 "a different colour"). PSNR, SSIM and
  ΔE2000 come from scikit-image (`peak_signal_noise_ratio`, `structural_similarity`,
  `rgb2lab` + `deltaE_ciede2000`), not from our own code.
* **avatars** — we drew the training avatars, so we know their attributes. A small
  `AttributeClassifier`, trained on rendered avatars (`train_attr_classifier`; its weights
  ship in `weights/attr_classifier/`), reads the attributes back from *generated* avatars:
  the **condition accuracy** says whether G(z | attributes) obeys its condition. The
  classifier's penultimate features give a Fréchet distance (FID, Heusel et al. 2017) and
  a kernel distance (KID, Bińkowski et al. 2018) between generated and rendered avatars,
  and the mean pairwise distance between avatars drawn for one condition with different z
  measures **diversity** (a collapsed generator scores 0).

`evaluate(model, task)` runs the whole protocol and returns a dict; `format_table` prints it.
Every table carries the *identity* baseline (do nothing), so a number is never read alone.
`python -m influencer_gan.metrics train-classifier` retrains the attribute classifier.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import avatars as A
from . import looks as L

CLASSIFIER_DIR = Path(__file__).parent / "weights" / "attr_classifier"

# --------------------------------------------------------------------------------------------
# Image metrics against ground truth (scikit-image does the arithmetic)
# --------------------------------------------------------------------------------------------


def _hwc(x: torch.Tensor) -> np.ndarray:
    """(3,H,W) or (B,3,H,W) tensor in [0,1] -> (B,H,W,3) float64 numpy array."""
    x = x.detach().float().cpu()
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected an RGB image (3,H,W) or batch (B,3,H,W), got {tuple(x.shape)}")
    return x.clamp(0, 1).permute(0, 2, 3, 1).double().numpy()


def _pairs(a: torch.Tensor, b: torch.Tensor):
    a, b = _hwc(a), _hwc(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape[1:]} vs {b.shape[1:]}")
    return a, b


def psnr_each(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """PSNR in dB of each image pair, data range 1 (`skimage.metrics.peak_signal_noise_ratio`).
    Identical images give inf."""
    from skimage.metrics import peak_signal_noise_ratio
    a, b = _pairs(a, b)
    out = []
    for x, y in zip(a, b):
        mse = float(np.mean((x - y) ** 2))
        out.append(math.inf if mse == 0 else float(peak_signal_noise_ratio(y, x, data_range=1.0)))
    return out


def ssim_each(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """SSIM of each image pair over the three channels (`structural_similarity`, channel_axis)."""
    from skimage.metrics import structural_similarity
    a, b = _pairs(a, b)
    return [float(structural_similarity(y, x, channel_axis=-1, data_range=1.0)) for x, y in zip(a, b)]


def delta_e_each(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """Mean CIEDE2000 colour difference of each image pair (`rgb2lab` + `deltaE_ciede2000`)."""
    from skimage.color import deltaE_ciede2000, rgb2lab
    a, b = _pairs(a, b)
    return [float(deltaE_ciede2000(rgb2lab(x), rgb2lab(y)).mean()) for x, y in zip(a, b)]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean PSNR (dB) over a batch; tensors in [0,1], (3,H,W) or (B,3,H,W)."""
    return float(np.mean(psnr_each(a, b)))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM over a batch; tensors in [0,1], (3,H,W) or (B,3,H,W)."""
    return float(np.mean(ssim_each(a, b)))


def delta_e2000(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean ΔE2000 over all pixels of a batch; tensors in [0,1], (3,H,W) or (B,3,H,W)."""
    return float(np.mean(delta_e_each(a, b)))


def image_scores(out: torch.Tensor, truth: torch.Tensor) -> dict[str, list[float]]:
    """PSNR, SSIM and ΔE2000 of every image of a batch against its ground truth."""
    return {"psnr": psnr_each(out, truth), "ssim": ssim_each(out, truth),
            "delta_e": delta_e_each(out, truth)}


# --------------------------------------------------------------------------------------------
# The attribute classifier (avatars)
# --------------------------------------------------------------------------------------------
ATTR_SLICES: dict[str, slice] = {}
_start = 0
for _name, _values in A.ATTRIBUTES.items():
    ATTR_SLICES[_name] = slice(_start, _start + len(_values))
    _start += len(_values)


class AttributeClassifier(nn.Module):
    """Reads the attributes of a 64×64 avatar: one softmax head per attribute.

    The network keeps spatial resolution for as long as it matters: three 3×3 stages at 64,
    32 and 16 px, and only then global *mean and max* pooling. A smile is a handful of
    white pixels in the mouth; a network that pools to 2×2 early averages them away (it
    fails on `smile`), while a max over a 16×16 map of "teeth detectors" keeps them.

    `features(x)` is the penultimate layer (`feat_dim` numbers) on which FID and KID are
    computed; `forward(x)` gives logits (B, ATTR_DIM), one block of logits per attribute
    (see `ATTR_SLICES`). Input: (B,3,H,W) in [0,1]; other sizes are resized to 64 px.

    The classifier follows its input's device: images on a GPU are read on that GPU (with
    copies of the weights; the module itself stays where it is), and the answers come back on
    the images' device. On the classifier's own device nothing is copied.
    """

    def __init__(self, width: int = 16, feat_dim: int = 128, image_size: int = 64):
        super().__init__()
        self.width, self.feat_dim, self.image_size = width, feat_dim, image_size
        w = width

        def stage(cin, cout, stride):
            return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(*stage(3, w, 1), *stage(w, 2 * w, 2), *stage(2 * w, 2 * w, 1),
                                  *stage(2 * w, 4 * w, 2), *stage(4 * w, 4 * w, 1),
                                  *stage(4 * w, 4 * w, 1))
        self.fc = nn.Sequential(nn.Linear(8 * w, feat_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(feat_dim, A.ATTR_DIM)

    def config(self) -> dict:
        return {"width": self.width, "feat_dim": self.feat_dim, "image_size": self.image_size}

    @staticmethod
    def _on_device_of(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """module(x), run on x's device: with the module's own weights when they are there,
        else with copies of them moved to x's device (`torch.func.functional_call`)."""
        first = next(module.parameters())
        if first.device == x.device:
            return module(x)
        state = {k: v.to(x.device) for k, v in [*module.named_parameters(), *module.named_buffers()]}
        return torch.func.functional_call(module, state, (x,))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False, antialias=True)
        h = self._on_device_of(self.body, x * 2 - 1)
        return self._on_device_of(self.fc, torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._on_device_of(self.head, self.features(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """(B, n_attributes) index of the predicted value of each attribute."""
        out = []
        for i in range(0, x.shape[0], batch):
            logits = self(x[i:i + batch])
            out.append(torch.stack([logits[:, s].argmax(1) for s in ATTR_SLICES.values()], 1))
        return torch.cat(out)


def attr_indices(attrs: Sequence[dict]) -> torch.Tensor:
    """List of attribute dicts -> (B, n_attributes) value indices."""
    return torch.tensor([[A.ATTRIBUTES[k].index(a[k]) for k in A.ATTRIBUTES] for a in attrs],
                        dtype=torch.long).view(len(attrs), len(A.ATTRIBUTES))


def attribute_accuracy(pred: torch.Tensor, truth: torch.Tensor) -> dict:
    """Per-attribute accuracy and the share of images with *every* attribute right (the two
    index tensors may live on different devices: they are compared on the CPU)."""
    right = pred.cpu() == truth.cpu()
    out = {"all": float(right.all(1).float().mean())}
    out.update({k: float(right[:, i].float().mean()) for i, k in enumerate(A.ATTRIBUTES)})
    return out


def _augment(img: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Mild nuisance the generator's avatars have and the renders lack: blur and noise."""
    n = img.shape[0]
    small = F.interpolate(img, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True)
    blurred = F.interpolate(small, size=img.shape[-2:], mode="bilinear", align_corners=False)
    pick = (torch.rand(n, 1, 1, 1, generator=g) < 0.3).float()
    img = pick * blurred + (1 - pick) * img
    sigma = 0.03 * torch.rand(n, 1, 1, 1, generator=g)
    return (img + sigma * torch.randn(img.shape, generator=g)).clamp(0, 1)


def classifier_loss(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Sum over attributes of the cross-entropy of that attribute's block of logits."""
    return sum(F.cross_entropy(logits[:, s], truth[:, i]) for i, s in enumerate(ATTR_SLICES.values()))


def train_attr_classifier(steps: int = 800, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
                          width: int = 16, feat_dim: int = 128, out=CLASSIFIER_DIR,
                          n_test: int = 2000, progress: bool = True) -> dict:
    """Train the attribute classifier on freshly rendered avatars and write it to `out`.

    Every step renders `batch_size` new avatars (`avatars.render_batch`, seed stream `seed`),
    so the classifier never sees an image twice; Adam with a cosine learning-rate schedule.
    It is then tested on `n_test` avatars rendered from a held-out seed (`HELD_OUT_SEED`).
    Writes model.safetensors and config.json (with the test accuracy) and returns the config.
    """
    from safetensors.torch import save_file
    from tqdm.auto import tqdm
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = AttributeClassifier(width=width, feat_dim=feat_dim)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    t0 = time.perf_counter()
    net.train()
    for _ in tqdm(range(steps), disable=not progress, desc="attribute classifier", unit="step"):
        b = A.render_batch(batch_size, 64, generator=g)
        loss = classifier_loss(net(_augment(b["img"], g)), attr_indices(b["attrs"]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    seconds = time.perf_counter() - t0
    net.eval()
    acc = classifier_test_accuracy(net, n_test)
    cfg = {**net.config(), "attributes": {k: list(v) for k, v in A.ATTRIBUTES.items()},
           "train": {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                     "seconds": round(seconds, 1), "threads": torch.get_num_threads()},
           "test": {"n": n_test, "seed": HELD_OUT_SEED, "accuracy": {k: round(v, 5) for k, v in acc.items()}}}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(out / "model.safetensors"),
              metadata={"config": json.dumps(net.config())})
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    load_attr_classifier.cache_clear()
    return cfg


HELD_OUT_SEED = 1_000_003  # renders for testing the classifier (training draws from seed 0's stream)


@torch.no_grad()
def classifier_test_accuracy(net: AttributeClassifier, n: int = 2000, seed: int = HELD_OUT_SEED) -> dict:
    """Accuracy of the classifier on `n` avatars rendered from a seed it was not trained on."""
    b = A.render_batch(n, 64, seed=seed)
    return attribute_accuracy(net.predict(b["img"]), attr_indices(b["attrs"]))


@lru_cache(maxsize=4)
def load_attr_classifier(folder=CLASSIFIER_DIR) -> AttributeClassifier:
    """The shipped attribute classifier (eval mode)."""
    from safetensors.torch import load_file
    folder = Path(folder)
    cfg_file, weights = folder / "config.json", folder / "model.safetensors"
    if not weights.exists():
        raise FileNotFoundError(f"no attribute classifier at {weights}; train it with "
                                f"`python -m influencer_gan.metrics train-classifier`")
    cfg = json.loads(cfg_file.read_text())
    net = AttributeClassifier(width=cfg["width"], feat_dim=cfg["feat_dim"], image_size=cfg["image_size"])
    net.load_state_dict(load_file(str(weights)))
    return net.eval()


# --------------------------------------------------------------------------------------------
# Distribution distances on classifier features
# --------------------------------------------------------------------------------------------
def frechet_distance(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """FID formula on features (N, D): |μ1-μ2|² + Tr(Σ1) + Tr(Σ2) - 2 Tr((Σ1 Σ2)^½) (Heusel et al. 2017).

    Tr((Σ1 Σ2)^½) is computed as the sum of √eigenvalues of the symmetric matrix Σ1^½ Σ2 Σ1^½
    (same eigenvalues as Σ1 Σ2), which stays stable when a covariance is singular."""
    a, b = f1.double().cpu().numpy(), f2.double().cpu().numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def kernel_distance(f1: torch.Tensor, f2: torch.Tensor, subsets: int = 10, subset_size: int = 500,
                    seed: int = 0) -> float:
    """KID (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel
    k(x, y) = (xᵀy / D + 1)³, averaged over random subsets. Unbiased, so it can be < 0."""
    g = torch.Generator().manual_seed(seed)
    a, b = f1.double().cpu(), f2.double().cpu()
    m = min(subset_size, a.shape[0], b.shape[0])
    d = a.shape[1]
    vals = []
    for _ in range(subsets):
        x = a[torch.randperm(a.shape[0], generator=g)[:m]]
        y = b[torch.randperm(b.shape[0], generator=g)[:m]]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        off = lambda k: (k.sum() - k.diagonal().sum()) / (m * (m - 1))  # noqa: E731
        vals.append(float(off(kxx) + off(kyy) - 2 * kxy.mean()))
    return float(np.mean(vals))


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean L1 distance (per element) between all pairs of rows of x (N, ...); a metric, so
    tensors that track gradients (network features) are detached first."""
    x = x.detach().flatten(1).double()
    n = x.shape[0]
    if n < 2:
        return 0.0
    d = torch.cdist(x, x, p=1) / x.shape[1]
    return float(d.sum() / (n * (n - 1)))


def power_spectrum(images: torch.Tensor) -> torch.Tensor:
    """The mean power spectrum |FFT|² of images (N, C, S, S), each channel of each image with its
    mean removed, averaged over images and channels: (S, S), frequency (0, 0) first."""
    x = images.detach().double()
    if x.dim() != 4:
        raise ValueError(f"power_spectrum needs (N, C, H, W) images, got {tuple(x.shape)}")
    x = x - x.mean((2, 3), keepdim=True)
    return torch.fft.fft2(x).abs().pow(2).mean((0, 1))


def artefact_ratio(fake: torch.Tensor, real: torch.Tensor, step: int = 8) -> float:
    """How much more spectral energy generated images carry at the checkerboard frequencies than
    the data does, relative to all other frequencies: 1 = as clean as the data.

    Stride-2 up-sampling from an 8×8 map (three doublings to 64 px, four to 128) can stamp a
    pattern with a period of 2, 4 or 8 pixels (16 at 128 px) into every image, which puts
    energy at the spatial frequencies whose two coordinates are multiples of `step` = 8 cycles
    per image. Per frequency f, r(f) = P_fake(f) / P_real(f) is the generated images' power
    relative to the data's (`power_spectrum`): dividing by the data's spectrum takes out what
    both share (most energy at low frequencies). The ratio is the mean of r over the
    checkerboard frequencies (63 at 64 px; not the mean at (0, 0)) divided by its mean over all
    other frequencies.

    Calibration (1,000 avatars against 1,000 others): real renders 1.00; real renders plus a
    ±0.005 one-pixel checkerboard 17; the document's transposed convolutions at initialisation
    33, resize-convolutions 0.7. A generator much blurrier than the data also scores above 1
    (real renders through a Gaussian blur of σ = 0.8 px: 1.2; σ = 1.2 px: 1.45), so read it beside
    FID. fake, real: (N, C, S, S) in [0, 1], S a multiple of `step`."""
    if fake.dim() != 4 or fake.shape[1:] != real.shape[1:] or fake.shape[-1] % step or fake.shape[-2] % step:
        raise ValueError(f"artefact_ratio needs two sets of (N, C, S, S) images of one size with S a "
                         f"multiple of {step}, got {tuple(fake.shape)} and {tuple(real.shape)}")
    r = power_spectrum(fake) / power_spectrum(real).clamp_min(1e-12)
    on = torch.zeros_like(r, dtype=torch.bool)
    on[::step, ::step] = True
    off = ~on
    on[0, 0] = False
    return float(r[on].mean() / r[off].mean())


# --------------------------------------------------------------------------------------------
# The looks protocol
# --------------------------------------------------------------------------------------------
CONDITIONS = ((0.0, 0.0, 1.0), (0.5, 0.0, 1.0), (0.0, 0.5, 1.0), (0.0, -0.5, 0.6))  # (vivid, warmth, strength)
UNSEEN_SEEDS = tuple(range(10_000, 10_010))  # `looks.random_look` seeds kept out of training
N_REFS = 5


def test_crops(size: int = 256, n_random: int = 2, seed: int = 0, photos: Optional[int] = None,
               split: str = "test") -> torch.Tensor:
    """Held-out content: per test photo, its centre square (short side resized to `size`)
    and `n_random` random square crops (a quarter to all of the short side), all `size` px."""
    from .api import _square
    from .data import crop_boxes, cut, load_photos
    g = torch.Generator().manual_seed(seed)
    items = load_photos(split)[:photos]
    out = []
    for _, photo in items:
        out.append(_square(photo, size))
        if n_random:
            boxes = crop_boxes([tuple(photo.shape[-2:])], n_random, g, scale=(0.25, 1.0))
            out.extend(cut([photo], boxes, size))
    return torch.stack(out).clamp(0, 1)


def reference_crops(n: int, size: int = 128, seed: int = 0) -> torch.Tensor:
    """`n` neutral crops of held-out images (val and test photos and scenes) to render
    references of unseen looks on: no training image is ever a reference."""
    from .data import crop_boxes, cut, load_photos, load_scenes
    sources = [im for split in ("val", "test") for _, im in load_photos(split) + load_scenes(split)]
    g = torch.Generator().manual_seed(seed)
    boxes = crop_boxes([tuple(s.shape[-2:]) for s in sources], n, g, scale=(0.25, 1.0))
    return cut(sources, boxes, size)


def _summary(scores: dict[str, list[float]]) -> dict[str, float]:
    return {k: float(np.mean(v)) for k, v in scores.items()} | {"n": len(next(iter(scores.values())))}


def _merge(into: dict, new: dict) -> None:
    for k, v in new.items():
        into.setdefault(k, []).extend(v)


VAL_SEEDS = tuple(range(20_000, 20_006))  # unseen slider looks and app filters for validation


@torch.no_grad()
def validate_looks(G, E, condition: str = "sliders", size: int = 64, refs: int = N_REFS,
                   ref_size: int = 32) -> dict[str, float]:
    """A quick validation of a look generator during training, on the *val* split (the test
    photos stay unseen): mean ΔE2000 for the named looks (at the protocol's conditions c,
    `condition` saying what c means), for unseen slider looks and for unseen app filters
    (`filters.random_filter`, seeds `VAL_SEEDS`, kept out of every training pool), each
    described by `refs` references of other held-out photos, and at strength 0 (the photo
    itself is the answer). G and E are the networks (the EMA copies), in [-1, 1] convention."""
    from . import filters as Fl
    dev = next(G.parameters()).device
    x = test_crops(size, n_random=1, split="val").to(dev)
    xn = x * 2 - 1

    def run(look_refs, c):
        s = E((look_refs * 2 - 1)[None].to(dev))[0]
        cc = torch.tensor([c], device=dev).expand(x.shape[0], -1)
        return ((G(xn, s.expand(x.shape[0], -1), cc).float() + 1) / 2).clamp(0, 1)

    out = {}
    crops = reference_crops(refs, ref_size, seed=1).to(dev)
    named = []
    for name in L.NAMED:
        r = L.apply(crops, name, grain=True, seed=0)
        for c in CONDITIONS:
            truth = L.apply(x, name, vivid=c[0], warmth=c[1], strength=c[2], grain=False, condition=condition)
            named.append(delta_e2000(run(r, c).cpu(), truth.cpu()))
    out["named"] = float(np.mean(named))
    unseen, filt, zero = [], [], []
    for seed in VAL_SEEDS:
        look, f = L.random_look(seed), Fl.random_filter(seed)
        crops = reference_crops(refs, ref_size, seed=seed).to(dev)
        unseen.append(delta_e2000(run(L.apply(crops, look, grain=True, seed=seed), (0.0, 0.0, 1.0)).cpu(),
                                  L.apply(x, look, grain=False).cpu()))
        filt.append(delta_e2000(run(Fl.render(crops, f), (0.0, 0.0, 1.0)).cpu(), Fl.render(x, f).cpu()))
        zero.append(delta_e2000(run(Fl.render(crops, f), (0.0, 0.0, 0.0)).cpu(), x.cpu()))
    out.update(unseen=float(np.mean(unseen)), filters=float(np.mean(filt)), strength0=float(np.mean(zero)))
    return out


# A look "method" is a pair of callables, so the baselines (identity, CycleGAN, …) are scored
# by exactly the same code as the model:
#   named(x (N,3,H,W) in [0,1], look_name, c (vivid, warmth, strength)) -> (N,3,H,W) in [0,1]
#   reference(x, refs (K,3,h,w) in [0,1], c) -> (N,3,H,W) in [0,1]      (may be None)
NamedFn = Callable[[torch.Tensor, str, tuple], torch.Tensor]
RefFn = Callable[[torch.Tensor, torch.Tensor, tuple], torch.Tensor]


def model_methods(model) -> tuple[NamedFn, RefFn]:
    """The two callables of a `LookModel`."""
    codes: dict = {}

    def named(x, name, c):
        if name not in codes:
            codes[name] = model.style_code(look=name)
        return model.stylize(x, style=codes[name], vivid=c[0], warmth=c[1], strength=c[2])

    def reference(x, refs, c):
        s = model.style_code(reference=list(refs))
        return model.stylize(x, style=s, vivid=c[0], warmth=c[1], strength=c[2])

    return named, reference


def identity_methods() -> tuple[NamedFn, RefFn]:
    """The do-nothing baseline: return the photo unchanged."""
    return (lambda x, name, c: x), (lambda x, refs, c: x)


def looks_protocol(quick: bool = False) -> dict:
    """The fixed evaluation protocol (content crops, looks, conditions, unseen looks)."""
    if quick:
        return dict(size=64, n_random=0, photos=1, looks=("teal_orange", "noir"),
                    conditions=CONDITIONS[:2], unseen=UNSEEN_SEEDS[:1], refs=N_REFS, ref_size=64)
    return dict(size=256, n_random=2, photos=None, looks=tuple(L.NAMED), conditions=CONDITIONS,
                unseen=UNSEEN_SEEDS, refs=N_REFS, ref_size=128)


def score_looks(named: NamedFn, reference: Optional[RefFn] = None, protocol: Optional[dict] = None,
                quick: bool = False, batch: int = 8) -> dict:
    """Score a look method on held-out photos against `looks.apply(..., grain=False)`
    (`protocol["condition"]`, default "intensity", says what c means there).

    named: every look of the protocol × every condition c × every test crop.
    unseen: every `random_look(seed)` of the protocol, described by `refs` references rendered
    (grain on) on held-out val/test crops, applied at c = (0, 0, 1).
    """
    p = protocol or looks_protocol(quick)
    x = test_crops(p["size"], p["n_random"], photos=p["photos"], split=p.get("split", "test"))
    per_look: dict = {}
    per_cond: dict = {}
    total: dict = {}
    for name in p["looks"]:
        for c in p["conditions"]:
            for i in range(0, x.shape[0], batch):
                xb = x[i:i + batch]
                truth = L.apply(xb, name, vivid=c[0], warmth=c[1], strength=c[2], grain=False,
                                condition=p.get("condition", "intensity"))
                s = image_scores(named(xb, name, tuple(c)), truth)
                _merge(per_look.setdefault(name, {}), s)
                _merge(per_cond.setdefault(str(tuple(c)), {}), s)
                _merge(total, s)
    out = {"named": _summary(total), "named_per_look": {k: _summary(v) for k, v in per_look.items()},
           "named_per_condition": {k: _summary(v) for k, v in per_cond.items()}}
    if reference is not None and p["unseen"]:
        unseen: dict = {}
        c = (0.0, 0.0, 1.0)
        for seed in p["unseen"]:
            look = L.random_look(seed)
            refs = L.apply(reference_crops(p["refs"], p["ref_size"], seed=seed), look, grain=True, seed=seed)
            for i in range(0, x.shape[0], batch):
                xb = x[i:i + batch]
                truth = L.apply(xb, look, grain=False)
                _merge(unseen, image_scores(reference(xb, refs, c), truth))
        out["unseen"] = _summary(unseen)
    return out


# --------------------------------------------------------------------------------------------
# The avatars protocol
# --------------------------------------------------------------------------------------------
def avatars_protocol(quick: bool = False) -> dict:
    if quick:
        return dict(n=48, diversity_conditions=2, diversity_k=4, kid_subset=48, seed=7)
    return dict(n=1000, diversity_conditions=20, diversity_k=8, kid_subset=500, seed=7)


AvatarFn = Callable[[int, Optional[dict], int], tuple]  # (n, attrs, seed) -> (images (n,3,S,S) [0,1], attrs list)


def model_generate(model) -> AvatarFn:
    def gen(n, attrs, seed):
        img, chosen = model.generate(n, attrs=attrs, seed=seed, return_tensor=True)
        return img, chosen
    return gen


def render_generate(shuffle_attributes: bool = False) -> AvatarFn:
    """Rendered avatars as a 'generator': the real data, or (shuffle_attributes=True) real
    avatars that ignore the condition they were asked for — the do-nothing baseline."""
    def gen(n, attrs, seed):
        g = torch.Generator().manual_seed(seed + 1)
        asked = [{**A.random_attributes(g), **(attrs or {})} for _ in range(n)]
        if shuffle_attributes:
            b = A.render_batch(n, 64, seed=seed + 2)
        else:
            b = A.render_batch(n, 64, seed=seed + 2, attrs=asked)
        return b["img"], asked
    return gen


@torch.no_grad()
def score_avatars(generate: AvatarFn, protocol: Optional[dict] = None, quick: bool = False,
                  classifier: Optional[AttributeClassifier] = None) -> dict:
    """Condition accuracy, FID/KID against rendered avatars, diversity for one condition."""
    p = protocol or avatars_protocol(quick)
    clf = classifier or load_attr_classifier()
    n = p["n"]
    img, asked = generate(n, None, p["seed"])
    img = img.cpu()          # a model on a GPU returns GPU images; the data side is on the CPU
    pred, truth = clf.predict(img), attr_indices(asked)
    acc = attribute_accuracy(pred, truth)
    real = A.render_batch(n, 64, seed=p["seed"] + 100)["img"]  # an independent sample of the data
    f_fake, f_real = clf.features(img), clf.features(real)
    # fairness: is the smile drawn as reliably on every skin tone?
    skin, smile = list(A.ATTRIBUTES).index("skin"), list(A.ATTRIBUTES).index("smile")
    smile_by_skin = {tone: float((pred[truth[:, skin] == i, smile] == truth[truth[:, skin] == i, smile]).float().mean())
                     for i, tone in enumerate(A.ATTRIBUTES["skin"]) if bool((truth[:, skin] == i).any())}
    out = {"accuracy": acc, "smile_by_skin": smile_by_skin, "fid": frechet_distance(f_fake, f_real),
           "kid": kernel_distance(f_fake, f_real, subset_size=p["kid_subset"]), "n": n}
    g = torch.Generator().manual_seed(p["seed"] + 200)
    pix, feat = [], []
    for j in range(p["diversity_conditions"]):
        attrs = A.random_attributes(g)
        imgs, _ = generate(p["diversity_k"], attrs, p["seed"] + 300 + j)
        imgs = imgs.cpu()
        pix.append(mean_pairwise_distance(imgs))
        feat.append(mean_pairwise_distance(clf.features(imgs)))
    out["diversity_l1"] = float(np.mean(pix))
    out["diversity_feat"] = float(np.mean(feat))
    out["artefact_ratio"] = artefact_ratio(img, real)
    return out


# --------------------------------------------------------------------------------------------
# evaluate / format_table
# --------------------------------------------------------------------------------------------
def _model_info(model) -> dict:
    source = str(getattr(model, "source", ""))
    try:  # inside the repository: a path that reads the same on every machine
        shown = str(Path(source).resolve().relative_to(Path(__file__).resolve().parent.parent))
    except (ValueError, OSError):
        shown = source
    info = {"source": shown, "task": model.config.task,
            "config": {k: getattr(model.config, k) for k in ("head", "lambda_paired", "lambda_cls", "steps")}}
    try:
        from safetensors import safe_open
        with safe_open(source, framework="pt") as f:
            info["step"] = int((f.metadata() or {}).get("step", -1))
    except Exception:  # a model built in memory has no file
        pass
    return info


def evaluate(model, task: Optional[str] = None, quick: bool = False) -> dict:
    """Run the evaluation protocol of `task` ("looks" or "avatars") on a loaded model.

    Returns {"task", "quick", "model", "protocol", "rows": [...], "seconds"}; each row is one
    method (the model, then the baselines) with its scores. `quick=True` is a tiny protocol
    that runs in seconds (a smoke test, not a measurement).
    """
    task = task or model.config.task
    if task != model.config.task:
        raise ValueError(f"the model is a {model.config.task} model, not a {task} model")
    t0 = time.perf_counter()
    if task == "looks":
        protocol = {**looks_protocol(quick), "condition": model.config.condition}   # what its c means
        rows = [{"method": "model", **score_looks(*model_methods(model), protocol=protocol)},
                {"method": "identity (do nothing)", **score_looks(*identity_methods(), protocol=protocol)}]
    elif task == "avatars":
        protocol = avatars_protocol(quick)
        rows = [{"method": "model", **score_avatars(model_generate(model), protocol)},
                {"method": "identity (real renders, attributes ignored)",
                 **score_avatars(render_generate(shuffle_attributes=True), protocol)},
                {"method": "real renders (reference)", **score_avatars(render_generate(), protocol)}]
    else:
        raise ValueError(f"unknown task {task!r}: choose 'looks' or 'avatars'")
    return {"task": task, "quick": quick, "model": _model_info(model), "protocol": protocol,
            "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}


def _f(v, digits=2):
    return "—" if v is None else ("inf" if v == math.inf else f"{v:.{digits}f}")


def format_table(results: dict) -> str:
    """The results of `evaluate` as a Markdown table (also readable in a terminal)."""
    rows = results["rows"]
    lines = [f"{results['task']} evaluation"
             + (" (quick smoke protocol: not a measurement)" if results.get("quick") else "")
             + f" — model {results.get('model', {}).get('source', '')}"
             + (f" (step {results['model']['step']})" if "step" in results.get("model", {}) else ""), ""]
    if results["task"] == "looks":
        lines += ["| method | named ΔE2000 ↓ | named PSNR ↑ | named SSIM ↑ | unseen ΔE2000 ↓ | unseen PSNR ↑ | unseen SSIM ↑ |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            n, u = r.get("named", {}), r.get("unseen", {})
            lines.append(f"| {r['method']} | {_f(n.get('delta_e'))} | {_f(n.get('psnr'))} | {_f(n.get('ssim'), 3)} "
                         f"| {_f(u.get('delta_e'))} | {_f(u.get('psnr'))} | {_f(u.get('ssim'), 3)} |")
        looks = list(rows[0].get("named_per_look", {}))
        if looks:
            lines += ["", "ΔE2000 per named look (all conditions c):", "",
                      "| method | " + " | ".join(looks) + " |", "|---|" + "---|" * len(looks)]
            for r in rows:
                pl = r.get("named_per_look", {})
                lines.append(f"| {r['method']} | " + " | ".join(_f(pl.get(k, {}).get("delta_e")) for k in looks) + " |")
    else:
        attrs = list(A.ATTRIBUTES)
        lines += ["| method | all attributes right ↑ | " + " | ".join(attrs)
                  + " | smile, worst skin tone ↑ | FID ↓ | KID ↓ | diversity L1 | diversity (features) | artefact ratio ↓ |",
                  "|---|---|" + "---|" * len(attrs) + "---|---|---|---|---|---|"]
        for r in rows:
            a = r["accuracy"]
            worst = min(r["smile_by_skin"].items(), key=lambda kv: kv[1]) if r.get("smile_by_skin") else None
            lines.append(f"| {r['method']} | {100 * a['all']:.1f} % | "
                         + " | ".join(f"{100 * a[k]:.1f} %" for k in attrs)
                         + (f" | {100 * worst[1]:.1f} % ({worst[0]})" if worst else " | —")
                         + f" | {_f(r['fid'])} | {_f(r['kid'], 4)} | {_f(r['diversity_l1'], 4)} | {_f(r['diversity_feat'], 4)}"
                         + f" | {_f(r.get('artefact_ratio'))} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Texture looks (textures.py): colour, structure and texture against the exact rendering
# --------------------------------------------------------------------------------------------
def texture_scores(pred: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """How close a texture look (`textures.apply`) is to its exact rendering, batch means:

    * `delta_e` — mean ΔE2000 (`delta_e2000`): is the colour right?
    * `ssim` — SSIM (`ssim`, scikit-image): is the structure right, pixel for pixel?
      (`psnr` is given too.)
    * `structure` — a multi-scale gradient distance, our feature distance: at 1, 1/2, 1/4 and
      1/8 of the size (average pooling, scales down to 8 px), the mean |∇pred − ∇truth| of the
      luma divided by mean |∇pred| + mean |∇truth|, averaged over the scales. 0 is identical
      structure, about 1 is unrelated structure, and a flat or blurry prediction scores about
      1 at the fine scales. It replaces a deep-feature distance on purpose: the package's only
      learned features are the attribute classifier's, trained on 64 px avatars (and resizing
      its input to 64 px), which says nothing about brush strokes on photos; and no LPIPS
      weights are available offline.
    * `texture_energy` — mean over the same scales of log(mean |∇pred| / mean |∇truth|): how
      much texture there is, regardless of where. Negative: too smooth (the blur of an L1
      regression), positive: too busy; 0 for the right amount, even with other noise.

    pred, truth: `(3,H,W)` or `(B,3,H,W)` in [0, 1], same shape, at least 8 px."""
    a, b = pred.detach().float().cpu(), truth.detach().float().cpu()
    a, b = (a[None] if a.dim() == 3 else a), (b[None] if b.dim() == 3 else b)
    if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
        raise ValueError(f"texture_scores needs two RGB images or batches of one shape, got "
                         f"{tuple(pred.shape)} and {tuple(truth.shape)}")
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    ya, yb = (a * w).sum(1, keepdim=True), (b * w).sum(1, keepdim=True)
    structure, energy, s = [], [], 1
    while min(a.shape[-2:]) // s >= 8 and s <= 8:
        pa, pb = F.avg_pool2d(ya, s) if s > 1 else ya, F.avg_pool2d(yb, s) if s > 1 else yb
        ga = torch.cat([(pa[..., 1:, :-1] - pa[..., :-1, :-1]), (pa[..., :-1, 1:] - pa[..., :-1, :-1])], 1)
        gb = torch.cat([(pb[..., 1:, :-1] - pb[..., :-1, :-1]), (pb[..., :-1, 1:] - pb[..., :-1, :-1])], 1)
        ea, eb = ga.abs().mean((1, 2, 3)), gb.abs().mean((1, 2, 3))
        structure.append((ga - gb).abs().mean((1, 2, 3)) / (ea + eb + 1e-6))
        energy.append(torch.log((ea + 1e-6) / (eb + 1e-6)))
        s *= 2
    return {"delta_e": delta_e2000(a, b), "ssim": ssim(a, b), "psnr": psnr(a, b),
            "structure": float(torch.stack(structure).mean()),
            "texture_energy": float(torch.stack(energy).mean())}


# --------------------------------------------------------------------------------------------
# python -m influencer_gan.metrics train-classifier
# --------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m influencer_gan.metrics",
                                description="Train (or test) the attribute classifier used to evaluate avatars.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train-classifier", help="train the attribute classifier on rendered avatars")
    t.add_argument("--steps", type=int, default=800)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--out", type=Path, default=CLASSIFIER_DIR)
    s = sub.add_parser("test-classifier", help="accuracy of a classifier on held-out renders")
    s.add_argument("--n", type=int, default=2000)
    s.add_argument("--folder", type=Path, default=CLASSIFIER_DIR)
    a = p.parse_args(argv)
    if a.command == "train-classifier":
        torch.set_num_threads(a.threads)
        cfg = train_attr_classifier(steps=a.steps, batch_size=a.batch_size, lr=a.lr, seed=a.seed, out=a.out)
        print(json.dumps({"train": cfg["train"], "test": cfg["test"]}, indent=2))
    else:
        print(json.dumps(classifier_test_accuracy(load_attr_classifier(a.folder), a.n), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

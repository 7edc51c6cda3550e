"""The networks of §3.2 and §5.3: generators, style encoder and discriminator.

§3.2 describes a *conditional* GAN: the generator G receives the content image, a style
and a personal condition c and outputs the stylised image; the discriminator D judges
whether an image is real.  It suggests an encoder-decoder with a U-Net or ResNet
backbone.  §5.3.1 then prints a generator for *personalised generation* (noise in,
image out) whose normalisation layers are conditional batch norm (§4.4) — but it leaves
three things unfinished, which this module completes:

* `ConditionalBatchNorm2d` is never defined (it is in `cbn.py`);
* the generator takes a `style` argument and never uses it — here it is concatenated to
  the condition that drives every CBN layer;
* the text breaks off before the discriminator and the training loop.

Four networks live here:

* `AvatarGenerator` — the §5.3.1 generator, completed (noise + style + attributes → avatar);
* `StyleEncoder`    — 1..K reference photos of a look → one style code;
* `LookGenerator`   — G(x | style, c): photo → the same photo in the look; its inverse F
                      for the §4.3 cycle loss is a second `LookGenerator`;
* `Discriminator`   — a PatchGAN with projection conditioning, D(y | cond).

All networks take and return images in [-1, 1].
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .cbn import ConditionalBatchNorm2d


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars in `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class _InwardClamp(torch.autograd.Function):
    """clamp(x, lo, hi) whose gradient may only pull an out-of-range value back in."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # gradient descent moves x by -grad: above hi only grad > 0 brings it down, below lo only grad < 0
        keep = ((x >= ctx.lo) & (x <= ctx.hi)) | ((x > ctx.hi) & (grad > 0)) | ((x < ctx.lo) & (grad < 0))
        return grad * keep, None, None


_CLAMP_MODE = "inward"


def inward_clamp(x: torch.Tensor, lo: float = -1.0, hi: float = 1.0) -> torch.Tensor:
    """Clamp to [lo, hi]; the gradient of a pixel outside the range passes only if it pulls
    the pixel back inside.

    A plain clamp gives zero gradient to an overshooting pixel, so the loss cannot tell
    the network to bring it back; a straight-through clamp (identity gradient) lets the
    hidden value drift ever further out with no loss to stop it, and pixels stay stuck at
    black or white.  This one keeps only the useful half of the straight-through
    gradient."""
    if _CLAMP_MODE == "hard" or not (torch.is_grad_enabled() and x.requires_grad):
        return x.clamp(lo, hi)
    if _CLAMP_MODE == "st":
        return x + (x.clamp(lo, hi) - x).detach()
    return _InwardClamp.apply(x, lo, hi)


def coordinate_channels(batch: int, height: int, width: int,
                        device=None, dtype=None) -> torch.Tensor:
    """CoordConv channels (Liu et al. 2018): x and y in [-1, 1] at pixel centres and the
    radius r = √(x² + y²)/√2 in [0, 1].  They let a convolutional network learn
    position-dependent effects such as a vignette (darker corners).  (B, 3, H, W)."""
    ys = (torch.arange(height, device=device, dtype=dtype) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, device=device, dtype=dtype) + 0.5) / width * 2 - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    rr = torch.sqrt(xx ** 2 + yy ** 2) / math.sqrt(2.0)
    return torch.stack([xx, yy, rr]).unsqueeze(0).expand(batch, 3, height, width)


# ---------------------------------------------------------------------------------------
# §5.3.1 — the generator of the document, completed
# ---------------------------------------------------------------------------------------
class ResizeConv2d(nn.Module):
    """Double the resolution without checkerboards: nearest-neighbour resize, then a 3×3
    convolution (Odena, Dumoulin & Olah 2016, "Deconvolution and Checkerboard Artifacts").

    A stride-2 `ConvTranspose2d` with a 3×3 kernel paints each output pixel from one, two or
    four input pixels depending on where it sits in its 2×2 cell (the kernel does not divide
    evenly by the stride), so uneven overlap leaves a periodic grid in the image unless the
    network learns to cancel it exactly. Here every output pixel is computed the same way
    from an image that has already been enlarged, so there is no built-in pattern. It costs
    four times the arithmetic of the transposed convolution it replaces (the convolution runs
    at the output resolution), with the same parameters.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # nearest-neighbour ×2, written as one broadcast copy: the same numbers as
        # F.interpolate(x, scale_factor=2, mode="nearest"), about 5 times faster on a CPU
        b, c, h, w = x.shape
        x = x[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)
        return self.conv(x)


UPSAMPLING = ("resize", "transposed")


class AvatarGenerator(nn.Module):
    """The §5.3.1 generator, as the document writes it, completed.

    Noise z (B, input_dim) → `fc` → an 8×8×ngf map → BatchNorm → LeakyReLU, then three
    5×5 convolutions (ngf→2·ngf→4·ngf→8·ngf channels, still 8×8), then three up-sampling
    layers (8·ngf→4·ngf→2·ngf→ngf channels, 8→16→32→64 px), each followed by conditional
    batch norm (§4.4) and LeakyReLU(0.2), and a last 5×5 convolution to `output_dim`
    channels with tanh, so the image lies in [-1, 1].  The layer names are the document's;
    with the default `ngf=64` so are the widths (64→128→256→512, then 256→128→64).

    What the document leaves out, or what we changed:

    * `style` was accepted and ignored.  Here the condition that drives every CBN layer
      is the concatenation [style, condition]: the style vector (for example the
      parameters of a look) and the attributes (hair, glasses, smile, …) both choose the
      per-channel γ and β of every layer, so both really shape the image.
    * `upsample`: the document's `deconv1–3` are stride-2 transposed convolutions
      (`"transposed"`), which stamp a checkerboard into the image (`ResizeConv2d`
      explains why; `metrics.artefact_ratio` measures it).  The default `"resize"` makes
      `deconv1–3` resize-convolutions instead; they keep the document's names.
    * `ngf` scales every width (the shipped avatars use a narrower net than the document's
      64, to generate an avatar in a few milliseconds on a CPU).
    * `image_size=128` adds one more up-sampling layer (halving the channels, at least 32)
      with its own CBN, for 128×128 avatars.

    forward(z (B, input_dim), style (B, style_dim), condition (B, condition_dim))
    → (B, output_dim, image_size, image_size) in [-1, 1].
    """

    def __init__(self, input_dim: int = 128, output_dim: int = 3, style_dim: int = 16,
                 condition_dim: int = 22, image_size: int = 64, upsample: str = "resize",
                 ngf: int = 64):
        super().__init__()
        if image_size < 64 or image_size % 64 or (image_size // 64) & (image_size // 64 - 1):
            raise ValueError(f"image_size must be 64 times a power of two, got {image_size}")
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLING)}, got {upsample!r}")
        if ngf < 1:
            raise ValueError(f"ngf must be a positive integer, got {ngf}")
        self.input_dim, self.style_dim = input_dim, style_dim
        self.condition_dim, self.image_size = condition_dim, image_size
        self.upsample, self.ngf = upsample, ngf
        cond_dim = style_dim + condition_dim
        w = [ngf, 2 * ngf, 4 * ngf, 8 * ngf]   # the document's 64, 128, 256, 512

        def up(cin, cout):
            if upsample == "transposed":        # the document's layer
                return nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)
            return ResizeConv2d(cin, cout)

        self.fc = nn.Linear(input_dim, 8 * 8 * w[0])
        self.bn = nn.BatchNorm2d(w[0])

        self.conv1 = nn.Conv2d(w[0], w[1], 5, padding=2, padding_mode="reflect")
        self.bn1 = ConditionalBatchNorm2d(w[1], cond_dim)
        self.conv2 = nn.Conv2d(w[1], w[2], 5, padding=2, padding_mode="reflect")
        self.bn2 = ConditionalBatchNorm2d(w[2], cond_dim)
        self.conv3 = nn.Conv2d(w[2], w[3], 5, padding=2, padding_mode="reflect")
        self.bn3 = ConditionalBatchNorm2d(w[3], cond_dim)

        self.deconv1 = up(w[3], w[2])
        self.bn4 = ConditionalBatchNorm2d(w[2], cond_dim)
        self.deconv2 = up(w[2], w[1])
        self.bn5 = ConditionalBatchNorm2d(w[1], cond_dim)
        self.deconv3 = up(w[1], w[0])
        self.bn6 = ConditionalBatchNorm2d(w[0], cond_dim)

        # one more up-stage per doubling beyond 64 px (not in the document)
        self.extra_deconvs, self.extra_bns = nn.ModuleList(), nn.ModuleList()
        ch = w[0]
        for _ in range(int(math.log2(image_size // 64))):
            nxt = max(32, ch // 2)
            self.extra_deconvs.append(up(ch, nxt))
            self.extra_bns.append(ConditionalBatchNorm2d(nxt, cond_dim))
            ch = nxt

        self.conv4 = nn.Conv2d(ch, output_dim, 5, padding=2, padding_mode="reflect")
        self.leaky_relu = nn.LeakyReLU(0.2)
        self.tanh = nn.Tanh()

    def forward(self, x: torch.Tensor, style: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([style, condition], dim=1)  # the completion: style drives CBN too

        x = self.fc(x)
        x = x.view(-1, self.ngf, 8, 8)
        x = self.leaky_relu(self.bn(x))

        x = self.leaky_relu(self.bn1(self.conv1(x), cond))
        x = self.leaky_relu(self.bn2(self.conv2(x), cond))
        x = self.leaky_relu(self.bn3(self.conv3(x), cond))

        x = self.leaky_relu(self.bn4(self.deconv1(x), cond))
        x = self.leaky_relu(self.bn5(self.deconv2(x), cond))
        x = self.leaky_relu(self.bn6(self.deconv3(x), cond))
        for deconv, bn in zip(self.extra_deconvs, self.extra_bns):
            x = self.leaky_relu(bn(deconv(x), cond))

        return self.tanh(self.conv4(x))


# ---------------------------------------------------------------------------------------
# §3.2 / §3.4 — the style encoder
# ---------------------------------------------------------------------------------------
def _soft_histogram(v: torch.Tensor, bins: int) -> torch.Tensor:
    """Differentiable histogram of values in [0, 1] with triangular kernels (linear binning).
    v: (N, C, P) → (N, C, bins), each row summing to 1.

    Each value splits its unit weight between the two nearest bin centres, in proportion to
    how close it is to each (values beyond the first or last centre go wholly to that bin).
    That is exactly a triangular kernel one bin wide, normalised — but computed by two
    scatter-adds, O(P), instead of comparing every value with every centre, O(P·bins):
    about 20× faster at 64 px. The weights, and so the histogram, are differentiable in v."""
    if bins < 2:
        raise ValueError(f"a histogram needs at least 2 bins, got {bins}")
    t = (v * bins - 0.5).clamp(0, bins - 1)               # position in units of bins
    i0 = t.detach().floor().clamp(max=bins - 2)
    frac = t - i0
    i0 = i0.long()
    h = v.new_zeros(*v.shape[:-1], bins)
    h = h.scatter_add(-1, i0, 1 - frac).scatter_add(-1, i0 + 1, frac)
    return h / v.shape[-1]


def _std(v: torch.Tensor, dim: int) -> torch.Tensor:
    """Standard deviation that stays differentiable twice at zero spread.

    `tensor.std()` is sqrt(var): its gradient 1/(2 sqrt(var)) is infinite for a constant
    channel (a crop of clear sky), and the double backward of an R1 penalty turns that into
    NaN. sqrt(var + 1e-8) is finite everywhere and differs by at most 1e-4."""
    return (v.var(dim, unbiased=False) + 1e-8).sqrt()


def _ring_weights(h: int, w: int, rings: int, device, dtype) -> torch.Tensor:
    """(H·W, rings) averaging weights of concentric rings around the centre (a ring with no
    pixel, possible only in tiny images, averages the whole image instead)."""
    r = coordinate_channels(1, h, w, device, dtype)[0, 2].flatten()
    ring = (r * rings).clamp(max=rings - 1e-4).floor().long()
    m = F.one_hot(ring, rings).to(dtype)
    empty = m.sum(0) == 0
    m[:, empty] = 1.0
    return m / m.sum(0, keepdim=True)


def colour_statistics(img01: torch.Tensor, bins: int = 8, rings: int = 4) -> torch.Tensor:
    """Hand-made, differentiable colour statistics of images in [0, 1], (N, 3, H, W) → (N, D).

    A colour look is mostly a statement about colour *statistics* — where the blacks sit,
    how saturated the colours are, which tint the shadows and the highlights carry, how
    much the corners darken — so these are handed to the style encoder directly:
    per-channel mean and standard deviation, per-channel and luminance histograms, the
    correlation between channels, the mean and spread of saturation, the mean colour of
    the shadows and of the highlights (split toning), and the mean luminance in
    concentric rings relative to the whole image (vignette).

    Every entry is differentiable (twice, so an R1 penalty works) and finite even for a
    constant image (see `_std`)."""
    n, _, h, w = img01.shape
    flat = img01.flatten(2)                                   # (N, 3, P)
    mean, std = flat.mean(2), _std(flat, 2)
    lum = (0.299 * img01[:, 0] + 0.587 * img01[:, 1] + 0.114 * img01[:, 2]).flatten(1)
    hist = _soft_histogram(torch.cat([flat, lum.unsqueeze(1)], 1), bins).flatten(1)
    centred = (flat - mean.unsqueeze(2)) / (std.unsqueeze(2) + 1e-3)
    corr = torch.stack([(centred[:, i] * centred[:, j]).mean(1) for i, j in ((0, 1), (0, 2), (1, 2))], 1)
    sat = flat.max(1).values - flat.min(1).values
    sat_stats = torch.stack([sat.mean(1), _std(sat, 1)], 1)
    w_shadow, w_high = (1 - lum).unsqueeze(1), lum.unsqueeze(1)
    shadow = (flat * w_shadow).sum(2) / w_shadow.sum(2).clamp(min=1e-6) - mean
    high = (flat * w_high).sum(2) / w_high.sum(2).clamp(min=1e-6) - mean
    ring_mean = lum @ _ring_weights(h, w, rings, img01.device, img01.dtype) - lum.mean(1, keepdim=True)
    return torch.cat([mean, std, hist, corr, sat_stats, shadow, high, ring_mean], 1)


class StyleEncoder(nn.Module):
    """Style encoder: 1..K reference images of one look → one style code.

    §3.4 feeds the generator "a style reference image"; an influencer's look, though, is
    what their photos have *in common*, so the encoder takes K references, codes each
    one, and averages the K codes (averaging also makes the code independent of the
    order and, roughly, of the number of references).

    Each reference is resized to `work_size` px and goes two ways:

    * a small convolutional network (three stride-2 convolutions, no normalisation — a
      normalisation layer would erase exactly the colour statistics we want), followed by
      global mean *and* standard-deviation pooling of its features.  Pooling over
      positions throws away the layout of the picture and keeps its colours and textures
      (as in style transfer's Gram / AdaIN statistics);
    * `colour_statistics`: hand-made colour histograms and moments of the reference,
      which a colour look changes directly.

    An MLP maps both to the style code.  Input: (B, K, 3, H, W) or (B, 3, H, W) in [-1, 1];
    output (B, style_dim).
    """

    def __init__(self, style_dim: int = 64, nef: int = 32, work_size: int = 64, hidden: int = 256,
                 conv: bool = True):
        super().__init__()
        self.style_dim, self.work_size = style_dim, work_size
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        # conv=False keeps only the colour statistics: a colour look needs nothing else, and
        # the encoder then costs a few multiply-adds per pixel (the unpaired recipe's choice)
        self.features = nn.Sequential(
            nn.Conv2d(3, nef, 3, stride=2, padding=1), act(),
            nn.Conv2d(nef, 2 * nef, 3, stride=2, padding=1), act(),
            nn.Conv2d(2 * nef, 4 * nef, 3, stride=2, padding=1), act(),
        ) if conv else None
        n_stats = colour_statistics(torch.zeros(1, 3, 8, 8)).shape[1]
        self.mlp = nn.Sequential(
            nn.Linear((2 * 4 * nef if conv else 0) + n_stats, hidden), act(),
            nn.Linear(hidden, style_dim),
        )
        # The codes are standardised (batch norm without affine, over all references of a
        # batch). Without it the encoder, which learns only through G's losses, collapsed in
        # GAN training: after 600 steps the 10 named looks' codes had cosine similarity 0.996,
        # so G could not tell the looks apart and stayed at the identity. Standardised codes
        # must keep their spread, and that spread can only come from the references.
        self.norm = nn.BatchNorm1d(style_dim, affine=False)

    def encode_one(self, img: torch.Tensor) -> torch.Tensor:
        """Style code of each image separately: (N, 3, H, W) in [-1, 1] → (N, style_dim)."""
        if img.shape[-2:] != (self.work_size, self.work_size):
            img = F.interpolate(img, size=(self.work_size, self.work_size), mode="bilinear",
                                align_corners=False, antialias=True)
        stats = colour_statistics((img.clamp(-1, 1) + 1) / 2)
        if self.features is None:
            return self.norm(self.mlp(stats))
        h = self.features(img).flatten(2)
        pooled = torch.cat([h.mean(2), _std(h, 2)], 1)
        return self.norm(self.mlp(torch.cat([pooled, stats], 1)))

    def forward(self, refs: torch.Tensor, per_reference: bool = False) -> torch.Tensor:
        """(B, K, 3, H, W) or (B, 3, H, W) → (B, style_dim), the mean of the K codes;
        `per_reference=True` returns the K codes themselves, (B, K, style_dim)."""
        if refs.dim() == 4:
            refs = refs.unsqueeze(1)
        b, k = refs.shape[:2]
        codes = self.encode_one(refs.flatten(0, 1)).view(b, k, -1)
        return codes if per_reference else codes.mean(1)


# ---------------------------------------------------------------------------------------
# §3.2 — the look generator G(x | style, c)
# ---------------------------------------------------------------------------------------
class _ConvCBN(nn.Module):
    """3×3 convolution (optionally stride 2) → conditional batch norm → ReLU."""

    def __init__(self, cin: int, cout: int, cond_dim: int, stride: int = 1, k: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2,
                              padding_mode="reflect", bias=False)
        self.norm = ConditionalBatchNorm2d(cout, cond_dim)

    def forward(self, x, cond):
        return F.relu(self.norm(self.conv(x), cond))


class _ResBlockCBN(nn.Module):
    """ResNet block (He et al. 2016, as in CycleGAN) with CBN: x + conv-CBN-ReLU-conv-CBN(x)."""

    def __init__(self, ch: int, cond_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, padding_mode="reflect", bias=False)
        self.norm1 = ConditionalBatchNorm2d(ch, cond_dim)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, padding_mode="reflect", bias=False)
        self.norm2 = ConditionalBatchNorm2d(ch, cond_dim)

    def forward(self, x, cond):
        h = F.relu(self.norm1(self.conv1(x), cond))
        return x + self.norm2(self.conv2(h), cond)


class _EncoderDecoder(nn.Module):
    """The §3.2 encoder-decoder: `n_down` stride-2 convolutions, `n_blocks` ResNet blocks
    at the bottleneck, then `n_up` stages of (bilinear ×2 upsampling → 3×3 conv), every
    normalisation a CBN on the condition.  With `unet=True` each decoder stage also
    receives the encoder features of its resolution (U-Net skip connections, Ronneberger
    et al. 2015); otherwise it is the ResNet/CycleGAN layout (Johnson et al. 2016).
    Channels double at every down-step up to 4·ngf, as in CycleGAN."""

    def __init__(self, cin: int, cond_dim: int, ngf: int, n_down: int, n_blocks: int,
                 n_up: int, unet: bool):
        super().__init__()
        if n_up > n_down:
            raise ValueError("n_up cannot exceed n_down")
        self.unet = unet
        chans = [min(ngf * 2 ** i, 4 * ngf) for i in range(n_down + 1)]
        self.inc = _ConvCBN(cin, chans[0], cond_dim)
        self.downs = nn.ModuleList(_ConvCBN(chans[i], chans[i + 1], cond_dim, stride=2)
                                   for i in range(n_down))
        self.blocks = nn.ModuleList(_ResBlockCBN(chans[-1], cond_dim) for _ in range(n_blocks))
        self.ups = nn.ModuleList()
        for j in range(n_up):
            level = n_down - 1 - j
            cin_up = chans[level + 1] + (chans[level] if unet else 0)
            self.ups.append(_ConvCBN(cin_up, chans[level], cond_dim))
        self.out_channels = chans[n_down - n_up]

    def forward(self, x, cond):
        h = self.inc(x, cond)
        skips = [h]
        for down in self.downs:
            h = down(h, cond)
            skips.append(h)
        for block in self.blocks:
            h = block(h, cond)
        skips.pop()  # the bottleneck itself
        for up in self.ups:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            if self.unet:
                h = torch.cat([h, skip], 1)
            h = up(h, cond)
        return h


COLOUR_BASES = {
    # names of the basis functions φ_k of the per-pixel colour transform
    "affine": ("1", "r", "g", "b"),
    "quadratic": ("1", "r", "g", "b", "r2", "g2", "b2", "rg", "rb", "gb"),
    "cubic": ("1", "r", "g", "b", "r2", "g2", "b2", "rg", "rb", "gb", "r3", "g3", "b3"),
    # the same span as "cubic", in Legendre polynomials of t = 2x − 1 (nearly orthogonal over
    # the colour cube, where r, r² and r³ are 97 % correlated: gradient steps on one coefficient
    # no longer undo another's)
    "legendre": ("1", "P1(r)", "P1(g)", "P1(b)", "P2(r)", "P2(g)", "P2(b)", "P1(r)P1(g)", "P1(r)P1(b)",
                 "P1(g)P1(b)", "P3(r)", "P3(g)", "P3(b)"),
}


def colour_basis(x01: torch.Tensor, basis: str) -> list[torch.Tensor]:
    """The basis functions φ_k(x) of a pixel colour x = (r, g, b) in [0, 1], each (B, 1, H, W)."""
    r, g, b = x01[:, 0:1], x01[:, 1:2], x01[:, 2:3]
    if basis == "legendre":
        t = [2 * v - 1 for v in (r, g, b)]
        return ([torch.ones_like(r)] + t + [1.5 * v * v - 0.5 for v in t]
                + [t[0] * t[1], t[0] * t[2], t[1] * t[2]] + [(2.5 * v * v - 1.5) * v for v in t])
    terms = [torch.ones_like(r), r, g, b]
    if basis in ("quadratic", "cubic"):
        terms += [r * r, g * g, b * b, r * g, r * b, g * b]
    if basis == "cubic":
        terms += [r * r * r, g * g * g, b * b * b]
    return terms


def interpolation_matrix(n_in: int, n_out: int, device=None, dtype=None) -> torch.Tensor:
    """(n_out, n_in) matrix R with R @ v = 1-D linear resampling of v (align_corners=False),
    the same weights as `F.interpolate(..., mode="linear")`.  Bilinear upsampling of a
    grid A is then R_h @ A @ R_wᵀ: two small matrix products."""
    eye = torch.eye(n_in, device=device, dtype=dtype).unsqueeze(1)
    return F.interpolate(eye, size=n_out, mode="linear", align_corners=False)[:, 0].T.contiguous()


def apply_colour_transform(x01: torch.Tensor, coeffs: torch.Tensor, basis: str,
                           chunk_pixels: int = 16384) -> torch.Tensor:
    """out_c(p) = Σ_k A_ck(p) · φ_k(x(p)) for every pixel p.

    x01 (B, 3, H, W) in [0, 1]; coeffs (B, 3·K, h, w) with the K coefficients of output
    channel c at [c·K, (c+1)·K).  The coefficient grid is bilinearly upsampled to (H, W)
    (align_corners=False), written as two matrix products, and the rows are processed in
    chunks of about `chunk_pixels` pixels, so a large photo never holds all 3·K full-size
    coefficient planes in memory at once (this is also 3× faster than `F.interpolate`
    followed by the sum at 1024 px on a CPU; chunks of 16k pixels, whose 3·K planes fit in a
    CPU's cache, were 2× faster than 64k on one thread).  Returns (B, 3, H, W), not clamped."""
    H, W = x01.shape[-2:]
    k = len(COLOUR_BASES[basis])
    rh = interpolation_matrix(coeffs.shape[-2], H, coeffs.device, coeffs.dtype)
    rw = interpolation_matrix(coeffs.shape[-1], W, coeffs.device, coeffs.dtype)
    mid = coeffs @ rw.T                                      # (B, 3K, h, W)
    rows = max(1, chunk_pixels // W)
    outs = []
    for r0 in range(0, H, rows):
        a = torch.matmul(rh[r0:r0 + rows], mid)              # (B, 3K, rows, W)
        terms = torch.cat(colour_basis(x01[:, :, r0:r0 + rows], basis), 1)   # (B, K, rows, W)
        # one broadcast product and a sum over the basis (slicing the K planes one by one made
        # the backward pass allocate a zero-filled gradient of the whole grid per slice)
        outs.append((a.view(a.shape[0], 3, k, *a.shape[-2:]) * terms.unsqueeze(1)).sum(2))
    return torch.cat(outs, 2) if len(outs) > 1 else outs[0]


C_ROUTES = ("cbn", "edit")  # how the personal condition c reaches a LookGenerator


class LookGenerator(nn.Module):
    """G(x | style, c): a photo → the same photo in an influencer's look (§3.2, §4.5).

    An encoder-decoder (§3.2: ResNet blocks by default, U-Net with `backbone="unet"`)
    whose every normalisation layer is conditional batch norm (§4.4) on the vector
    [style code, c]: the style code says *which* look (from `StyleEncoder`), the personal
    condition c = (vivid, warmth, strength) says *how* the user wants it.  The network is
    fully convolutional: any input size, output size = input size.  The inverse
    generator F of the §4.3 cycle loss is simply another `LookGenerator`.

    Two heads:

    * `head="color"` (default).  The photo is resized to `work_size` px (CoordConv
      channels x, y, r appended so that a vignette can be learned), the encoder-decoder
      runs at that small size and predicts, on a coarse grid, the coefficients of a
      per-pixel colour transform out_c = Σ_k A_ck · φ_k(r, g, b) with a polynomial basis
      φ = [1, r, g, b, r², g², b², rg, rb, gb, r³, g³, b³] (`basis="cubic"`).  The grid is
      bilinearly upsampled to the *full* resolution and the transform applied to every
      original pixel (the idea of HDRNet, Gharbi et al. 2017).  So a 1024×1024 photo costs
      one 64-px network pass plus a few element-wise operations, and — since a look is
      mainly a colour mapping — the generator has few degrees of freedom per pixel, learns
      quickly and cannot hallucinate content.  A second, global path predicts from
      [style, c] alone a grid-independent transform plus a term that grows as r²
      (vignette).  Both paths start at zero and the coefficients are offset so that
      G starts as *exactly* the identity.
    * `head="params"`.  A *white-box* editor (Hu et al. 2018, "Exposure"): an MLP maps
      [style, c] to the slider values of the differentiable photo editor in `looks.py`
      (white balance, exposure, contrast, tone curve, saturation, split toning, fade,
      vignette; grain is texture and is left out), and the editor renders the photo at
      full resolution.  It is what an influencer's preset *is* — the same sliders for
      every photo — so it trains fastest and its output can be read as slider values
      (`look_params`), but it can only express looks that those sliders can make.  On
      the embedded data the looks were made with the same editor, so this head can in
      principle reproduce them exactly: a favourable case, stated wherever its scores
      are reported.
    * `head="rgb"`.  The classic image-to-image generator (CycleGAN-like) run at full
      resolution, whose last 3×3 convolution (zero-initialised) adds a residual to x:
      also the identity at the start.  For comparison.

    How c gets in (`c_route`):

    * `"cbn"`: c is part of every CBN's condition, and G must learn what each value means.
      Without pairs, nothing in the adversarial and cycle losses says what "half as strong"
      is, and measured runs (benchmarks/condition_learning.py) learned to ignore strength.
    * `"edit"`: the CBNs read the style code alone, and G makes the look at full strength;
      c is then applied by its definition, `looks.personal_edit` (vivid and warmth adjust the
      look, strength blends it with the photo). Strength 0 returns the photo exactly and each
      slider does what it says, for any look, including looks no slider makes.

    Starting at the identity avoids CycleGAN's known failure of first learning a colour
    inversion; the output is clamped to [-1, 1] by `inward_clamp`.

    forward(x (B, 3, H, W) in [-1, 1], style (B, style_dim) or None, c (B, cond_dim))
    → (B, 3, H, W) in [-1, 1].
    """

    def __init__(self, style_dim: int = 64, cond_dim: int = 3, ngf: int = 32, n_blocks: int = 4,
                 backbone: str = "resnet", head: str = "color", work_size: int = 64,
                 basis: str = "cubic", n_down: int | None = None, grid_size: int | None = None,
                 global_path: bool = True, c_route: str = "cbn"):
        super().__init__()
        if c_route not in C_ROUTES:
            raise ValueError(f"c_route must be one of {C_ROUTES}, got {c_route!r}")
        if backbone not in ("resnet", "unet"):
            raise ValueError(f"backbone must be 'resnet' or 'unet', got {backbone!r}")
        if head not in ("color", "rgb", "params"):
            raise ValueError(f"head must be 'color', 'params' or 'rgb', got {head!r}")
        if basis not in COLOUR_BASES:
            raise ValueError(f"basis must be one of {sorted(COLOUR_BASES)}, got {basis!r}")
        self.style_dim, self.cond_dim, self.head = style_dim, cond_dim, head
        self.work_size, self.basis, self.c_route = work_size, basis, c_route
        # "cbn": every CBN reads [style, c]; "edit": the CBNs read the style code alone and c is
        # applied to the network's full-strength look as its definition (looks.personal_edit)
        cdim = style_dim + (cond_dim if c_route == "cbn" else 0)
        if head == "params":
            from .looks import N_PARAMS
            self.param_mlp = nn.Sequential(nn.Linear(cdim, 256), nn.SiLU(), nn.Linear(256, 256),
                                           nn.SiLU(), nn.Linear(256, N_PARAMS))
            nn.init.zeros_(self.param_mlp[-1].weight)   # all sliders at 0: the identity
            nn.init.zeros_(self.param_mlp[-1].bias)
        elif head == "color":
            n_down = 3 if n_down is None else n_down
            grid_size = work_size // 4 if grid_size is None else grid_size
            if work_size % 2 ** n_down:
                raise ValueError(f"work_size {work_size} must be divisible by 2**n_down = {2 ** n_down}")
            n_up = int(round(math.log2(grid_size * 2 ** n_down / work_size)))
            if n_up < 0 or work_size // 2 ** n_down * 2 ** n_up != grid_size:
                raise ValueError(f"grid_size must be work_size / 2**j for j <= n_down, got {grid_size}")
            self.grid_size = grid_size
            self.n_coeff = 3 * len(COLOUR_BASES[basis])
            self.net = _EncoderDecoder(6, cdim, ngf, n_down, n_blocks, n_up, backbone == "unet")
            self.to_coeffs = nn.Conv2d(self.net.out_channels, self.n_coeff, 1)
            nn.init.zeros_(self.to_coeffs.weight)
            nn.init.zeros_(self.to_coeffs.bias)
            identity = torch.zeros(self.n_coeff)
            k = len(COLOUR_BASES[basis])
            for c in range(3):
                if basis == "legendre":        # out_c = x_c = (1 + P1(x_c)) / 2
                    identity[c * k], identity[c * k + 1 + c] = 0.5, 0.5
                else:
                    identity[c * k + 1 + c] = 1.0  # out_c = x_c
            self.register_buffer("identity_coeffs", identity.view(1, -1, 1, 1), persistent=False)
            self.global_mlp = None
            if global_path:
                self.global_mlp = nn.Sequential(nn.Linear(cdim, 128), nn.SiLU(),
                                                nn.Linear(128, 2 * self.n_coeff))
                nn.init.zeros_(self.global_mlp[-1].weight)
                nn.init.zeros_(self.global_mlp[-1].bias)
        else:
            n_down = 2 if n_down is None else n_down
            self.n_down = n_down
            self.net = _EncoderDecoder(6, cdim, ngf, n_down, n_blocks, n_down, backbone == "unet")
            self.to_rgb = nn.Conv2d(self.net.out_channels, 3, 3, padding=1, padding_mode="reflect")
            nn.init.zeros_(self.to_rgb.weight)
            nn.init.zeros_(self.to_rgb.bias)

    def condition(self, x: torch.Tensor, style: torch.Tensor | None, c: torch.Tensor) -> torch.Tensor:
        """The vector that drives every CBN layer: [style code, c], (B, style_dim + cond_dim),
        or, with `c_route="edit"`, the style code alone (B, style_dim)."""
        b = x.shape[0]
        if c.dim() == 1:
            c = c.unsqueeze(0).expand(b, -1)
        if style is None:
            style = x.new_zeros(b, self.style_dim)
        elif style.dim() == 1:
            style = style.unsqueeze(0).expand(b, -1)
        if self.c_route == "edit":
            return style.to(x.dtype)
        return torch.cat([style.to(x.dtype), c.to(x.dtype)], 1)

    def look_params(self, x: torch.Tensor, style: torch.Tensor | None, c: torch.Tensor) -> torch.Tensor:
        """The slider values (B, looks.N_PARAMS) the "params" head sets for [style, c]
        (x gives only the batch size and dtype: a preset is the same for every photo);
        the grain slider is always 0 (grain is texture, not colour)."""
        if self.head != "params":
            raise RuntimeError("look_params() exists only for head='params'")
        with torch.autocast(x.device.type, enabled=False):   # slider values in float32, also under AMP
            p = self.param_mlp(self.condition(x.float(), style.float() if style is not None else None, c.float()))
        return torch.cat([p[:, :-1], torch.zeros_like(p[:, -1:])], 1)

    def coefficients(self, x: torch.Tensor, style: torch.Tensor | None, c: torch.Tensor) -> torch.Tensor:
        """The colour-transform coefficient grid (B, 3·K, grid, grid) of the "color" head."""
        if self.head != "color":
            raise RuntimeError("coefficients() exists only for head='color'")
        cond = self.condition(x, style, c)
        b = x.shape[0]
        small, size = x, (self.work_size, self.work_size)
        if x.shape[-2] >= size[0] and x.shape[-1] >= size[1]:
            if x.shape[-2:] != size:
                small = F.adaptive_avg_pool2d(x, size)  # box filter: antialiased and fast
        else:
            small = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        coords = coordinate_channels(b, self.work_size, self.work_size, x.device, x.dtype)
        h = self.net(torch.cat([small, coords], 1), cond)
        if h.shape[-1] != self.grid_size:  # only if n_up does not reach the grid exactly
            h = F.interpolate(h, size=(self.grid_size, self.grid_size), mode="bilinear", align_corners=False)
        coeffs = self.identity_coeffs + self.to_coeffs(h)
        if self.global_mlp is not None:
            flat, vignette = self.global_mlp(cond).chunk(2, dim=1)
            r = coordinate_channels(1, self.grid_size, self.grid_size, x.device, x.dtype)[:, 2:3]
            coeffs = coeffs + flat[:, :, None, None] + vignette[:, :, None, None] * r ** 2
        return coeffs

    def forward(self, x: torch.Tensor, style: torch.Tensor | None, c: torch.Tensor) -> torch.Tensor:
        out = self.full_look(x, style, c)
        if self.c_route == "cbn":
            return out
        # c as photo apps define it (looks.personal_edit): vivid and warmth adjust the look, and
        # strength blends from the photo (0, returned exactly) to the adjusted look (1)
        from .looks import personal_edit
        c = c.unsqueeze(0).expand(x.shape[0], -1) if c.dim() == 1 else c
        c = c.to(torch.float32)
        with torch.autocast(x.device.type, enabled=False):
            out01 = personal_edit((x.float() + 1) / 2, (out.float() + 1) / 2, c[:, 0], c[:, 1], c[:, 2])
        return (out01 * 2 - 1).to(out.dtype)

    def full_look(self, x: torch.Tensor, style: torch.Tensor | None, c: torch.Tensor) -> torch.Tensor:
        """The network's own output: with `c_route="cbn"` the answer for [style, c]; with
        `c_route="edit"` the look at full strength, before c (c is not read)."""
        if self.head == "params":
            from .looks import _pipeline
            return _pipeline((x + 1) / 2, self.look_params(x, style, c), None) * 2 - 1
        if self.head == "color":
            coeffs = self.coefficients(x, style, c)
            out01 = apply_colour_transform((x + 1) / 2, coeffs, self.basis)
            return inward_clamp(out01 * 2 - 1, -1.0, 1.0)
        cond = self.condition(x, style, c)
        h, w = x.shape[-2:]
        m = 2 ** self.n_down
        ph, pw = (-h) % m, (-w) % m
        xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if (ph or pw) else x
        coords = coordinate_channels(x.shape[0], h + ph, w + pw, x.device, x.dtype)
        delta = self.to_rgb(self.net(torch.cat([xp, coords], 1), cond))[..., :h, :w]
        return inward_clamp(x + delta, -1.0, 1.0)


def minibatch_stddev(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """StyleGAN's minibatch standard deviation (Karras et al. 2018): append one channel that
    holds, for each group of `group` images, how much their features differ (the mean over
    channels and positions of the per-feature standard deviation across the group).  A
    discriminator that sees it can tell a batch of near-identical fakes from a varied batch
    of real images, so collapsed outputs stop paying off.  (B, C, H, W) → (B, C+1, H, W)."""
    b, _, h, w = x.shape
    g = min(group, b)
    while b % g:
        g -= 1
    y = x.float().view(g, -1, *x.shape[1:])                      # sample i*M + m is y[i, m]
    std = (y.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))  # (M,)
    return torch.cat([x, std.repeat(g).view(b, 1, 1, 1).expand(b, 1, h, w).to(x.dtype)], 1)


# ---------------------------------------------------------------------------------------
# §4.2 / §4.5 — the discriminator D(y | cond)
# ---------------------------------------------------------------------------------------
class Discriminator(nn.Module):
    """PatchGAN discriminator (Isola et al. 2017) with projection conditioning
    (Miyato & Koyama 2018): D(y | cond) of §4.2 and §4.5.

    A PatchGAN does not output one score per image but a grid of scores, one per
    overlapping patch; with `n_layers=3` each score sees a 70×70 patch.  It judges local
    colour and texture — what a look is made of — with few parameters.

    Conditioning by *projection*: instead of concatenating the condition to the input,
    the last layer computes, for every patch p, a feature vector φ_p (P numbers) and an
    unconditional score ψ_p, and the logit is

        D(y | cond)_p = ψ_p + ⟨embed(cond), φ_p⟩,

    so the condition asks "does this patch look like *this* style / these attributes?"
    (for a one-hot class this is exactly Miyato & Koyama's class embedding).  Use it as
    D(y | [style, c]) for looks and D(x | attributes) for avatars; `cond_dim=0` gives an
    unconditional PatchGAN.

    Spectral normalisation (Miyato et al. 2018) is on by default and there is no
    normalisation layer by default: instance norm, CycleGAN's choice, would remove each
    image's per-channel colour statistics — precisely the evidence of a colour look.

    `global_stats` (on by default for RGB input) adds a second, image-level critic on the hand-made
    `colour_statistics` of the image (histograms, moments, split toning, vignette), with
    its own projection on the condition; its logit is added to every patch.  Patches
    disagree about a look because their contents differ (a patch of sky, a patch of
    skin); the statistics of the whole image are a far less noisy witness of a colour
    grade, so the generator gets a steadier signal.  (Measured once, on teal-and-orange
    learned unpaired at 64 px: 21.4 dB against the ground truth after 200 steps with it,
    20.5 dB without — one seed, so a hint rather than a proof.)  `global_stats=False`
    gives the pure PatchGAN.

    `aux_dim > 0` adds the auxiliary classifier of AC-GAN (Odena et al. 2017): a linear head
    on the spatially averaged features that predicts the condition (for avatars: the
    attributes) of an image.  D learns it on real images; G is then trained so that D's
    head recognises the requested attributes in its fakes.  Projection alone tells D
    "this patch fits this condition"; the classifier makes every attribute, even a few
    pixels of smile, a loss of its own (see `losses.attribute_loss`).

    `mbstd=True` appends the minibatch standard deviation (`minibatch_stddev`) to the features
    the last layer reads, a remedy for mode collapse.

    forward(x (B, in_channels, H, W) in [-1, 1], cond (B, cond_dim)) → (B, 1, h, w) logits;
    with `return_aux=True` → (logits, aux logits (B, aux_dim)).
    """

    def __init__(self, in_channels: int = 3, cond_dim: int = 0, ndf: int = 64, n_layers: int = 3,
                 spectral_norm: bool = True, norm: str = "none", proj_dim: int | None = None,
                 global_stats: bool | None = None, aux_dim: int = 0, mbstd: bool = False):
        super().__init__()
        if norm not in ("none", "batch", "instance"):
            raise ValueError(f"norm must be 'none', 'batch' or 'instance', got {norm!r}")
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)

        def norm_layer(ch):
            if norm == "batch":
                return nn.BatchNorm2d(ch)
            if norm == "instance":
                return nn.InstanceNorm2d(ch, affine=True)
            return nn.Identity()

        layers = [sn(nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        ch = ndf
        for i in range(1, n_layers):
            nxt = min(ndf * 2 ** i, 8 * ndf)
            layers += [sn(nn.Conv2d(ch, nxt, 4, stride=2, padding=1)), norm_layer(nxt), nn.LeakyReLU(0.2)]
            ch = nxt
        nxt = min(ndf * 2 ** n_layers, 8 * ndf)
        layers += [sn(nn.Conv2d(ch, nxt, 4, stride=1, padding=1)), norm_layer(nxt), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.cond_dim = cond_dim
        self.proj_dim = 0 if cond_dim == 0 else (proj_dim or ndf)
        self.mbstd = mbstd
        self.out = sn(nn.Conv2d(nxt + int(mbstd), 1 + self.proj_dim, 4, stride=1, padding=1))
        self.embed = sn(nn.Linear(cond_dim, self.proj_dim, bias=False)) if cond_dim else None
        self.stats_net = self.stats_embed = None
        if global_stats is None:
            global_stats = in_channels == 3
        if global_stats:
            if in_channels != 3:
                raise ValueError("global_stats needs RGB images (in_channels=3)")
            n_stats = colour_statistics(torch.zeros(1, 3, 8, 8)).shape[1]
            self.stats_net = nn.Sequential(sn(nn.Linear(n_stats, 4 * ndf)), nn.LeakyReLU(0.2),
                                           sn(nn.Linear(4 * ndf, 1 + self.proj_dim)))
            if cond_dim:
                self.stats_embed = sn(nn.Linear(cond_dim, self.proj_dim, bias=False))
        self.aux = nn.Linear(nxt, aux_dim) if aux_dim else None

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None,
                return_aux: bool = False):
        feats = self.body(x)
        h = self.out(minibatch_stddev(feats) if self.mbstd else feats)
        logits = h[:, :1]
        if self.embed is not None:
            if cond is None:
                raise ValueError("this Discriminator is conditional: pass cond")
            e = self.embed(cond.to(x.dtype))
            logits = logits + (h[:, 1:] * e[:, :, None, None]).sum(1, keepdim=True)
        if self.stats_net is not None:
            g = self.stats_net(colour_statistics((x.clamp(-1, 1) + 1) / 2))
            glogit = g[:, :1]
            if self.stats_embed is not None:
                glogit = glogit + (g[:, 1:] * self.stats_embed(cond.to(x.dtype))).sum(1, keepdim=True)
            logits = logits + glogit[:, :, None, None]
        if return_aux:
            if self.aux is None:
                raise ValueError("this Discriminator has no auxiliary classifier (aux_dim=0)")
            return logits, self.aux(feats.mean((2, 3)))
        return logits


# ---------------------------------------------------------------------------------------
# A critic of colour alone: the unpaired recipe's discriminator
# ---------------------------------------------------------------------------------------
def shrunk_statistics(img: torch.Tensor, size: int = 16) -> torch.Tensor:
    """`colour_statistics` of images in [-1, 1] box-filtered down to `size` px (grain averaged
    away): what a `ColourCritic` reads. (N, 3, H, W) → (N, D); (B, K, 3, H, W) → (B, D), the
    mean over the K images (a feed's statistics)."""
    if img.dim() == 5:
        b, k = img.shape[:2]
        return shrunk_statistics(img.flatten(0, 1), size).view(b, k, -1).mean(1)
    if img.shape[-1] > size or img.shape[-2] > size:
        img = F.adaptive_avg_pool2d(img, size)
    return colour_statistics((img.float().clamp(-1, 1) + 1) / 2)


N_STATS = colour_statistics(torch.zeros(1, 3, 8, 8)).shape[1]


class ColourCritic(nn.Module):
    """D(y | cond) that judges only an image's colour statistics: a small MLP on
    `colour_statistics` of the image shrunk to `size`×`size`, with projection conditioning
    (Miyato & Koyama 2018): logit = ψ(h) + ⟨embed(cond), h⟩, h = MLP(statistics).

    Why this and not a PatchGAN for looks learned without pairs:

    * a look is a colour grade — the same sliders on every photo — so its whole evidence
      is in statistics of the image (histograms, moments, split toning, vignette); a patch
      critic must first learn to ignore content, and its many noisy patch verdicts give
      the generator an unsteady signal;
    * it costs a few thousand multiply-adds per image, so a batch of 64 is cheap on a CPU;
    * shrinking to `size` px (a box filter) averages film grain away *before* D looks:
      grain is texture, the generator's editor does not render it (its grain slider is
      pinned to 0), and a real feed carries it; a critic that saw it could always tell
      real from fake, whatever the colours.  So grain is kept out of what D compares.

    forward(x (B, 3, H, W) in [-1, 1], cond (B, cond_dim)) → (B, 1, 1, 1) logits (the shape
    of a one-patch PatchGAN, so the losses treat both alike).
    """

    def __init__(self, cond_dim: int = 0, hidden: int = 256, size: int = 16, spectral_norm: bool = True,
                 joint: bool = False):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        self.size, self.cond_dim, self.joint = size, cond_dim, joint
        n_stats = colour_statistics(torch.zeros(1, 3, 8, 8)).shape[1]
        if joint and cond_dim < n_stats:
            raise ValueError("a joint ColourCritic reads the references' colour statistics first in cond")
        # joint=True: the MLP also reads the condition and the difference between the image's
        # statistics and the references' (cond[:, :n_stats]) — a critic that can compare the
        # two directly, where projection alone only correlates them
        self.body = nn.Sequential(sn(nn.Linear(n_stats + (n_stats + cond_dim if joint else 0), hidden)), nn.LeakyReLU(0.2),
                                  sn(nn.Linear(hidden, hidden)), nn.LeakyReLU(0.2))
        self.out = sn(nn.Linear(hidden, 1))
        self.embed = sn(nn.Linear(cond_dim, hidden, bias=False)) if cond_dim else None

    def shrink(self, x: torch.Tensor) -> torch.Tensor:
        """The image D sees: box-filtered down to `size` px (grain averaged away)."""
        if x.shape[-1] > self.size or x.shape[-2] > self.size:
            x = F.adaptive_avg_pool2d(x, self.size)
        return x

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None and cond is None:
            raise ValueError("this ColourCritic is conditional: pass cond")
        # float32 even under AMP: bf16's 8-bit mantissa blurs the small histogram differences
        # D must see, and a network this small gains nothing from half precision
        with torch.autocast(x.device.type, enabled=False):
            stats = shrunk_statistics(x, self.size)
            if self.joint:
                ref = cond.float()[:, :stats.shape[1]]
                stats = torch.cat([stats, stats - ref, cond.float()], 1)
            h = self.body(stats)
            logit = self.out(h)
            if self.embed is not None:
                logit = logit + (self.embed(cond.float()) * h).sum(1, keepdim=True)
        return logit[:, :, None, None]


__all__ = [
    "AvatarGenerator", "ResizeConv2d", "UPSAMPLING", "minibatch_stddev", "StyleEncoder", "LookGenerator", "Discriminator", "ColourCritic",
    "shrunk_statistics", "N_STATS",
    "count_parameters",
    "coordinate_channels", "colour_statistics", "colour_basis", "apply_colour_transform",
    "interpolation_matrix",
    "COLOUR_BASES",
]

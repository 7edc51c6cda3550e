"""The CycleGAN configuration (Zhu, Park, Isola & Efros, ICCV 2017), written from the paper.

This is the baseline our look generator is measured against: the standard unpaired
image-to-image translation recipe, as the paper describes it (Section 4 and Appendix 7.2).
It is written here from the paper's text, not copied from any implementation.

Generator (Appendix 7.2.1, after Johnson et al. 2016). Notation: c7s1-k is a 7×7
convolution-InstanceNorm-ReLU with k filters and stride 1; dk a 3×3 convolution-InstanceNorm-
ReLU with stride 2; Rk a residual block of two 3×3 convolutions with k filters; uk a 3×3
fractionally strided convolution-InstanceNorm-ReLU with stride 1/2. Reflection padding
throughout. The network is

    c7s1-64, d128, d256, R256 × n, u128, u64, c7s1-3

with n = 6 residual blocks for training images of 128×128 or smaller and n = 9 for 256×256
and larger (the paper's rule). The last layer maps to RGB with tanh (outputs in [-1, 1]).

Discriminator (Appendix 7.2.2): the 70×70 PatchGAN of pix2pix, C64-C128-C256-C512 with
Ck = 4×4 convolution-InstanceNorm-LeakyReLU(0.2), no InstanceNorm on C64, then a 4×4
convolution to one channel. The first three use stride 2, C512 and the last stride 1: that is
what gives each output a 70×70 receptive field (1 → 4 → 7 → 16 → 34 → 70 going backwards
through kernels of 4 with strides 1, 1, 2, 2, 2).

Training (Section 4 and 7.1): least-squares GAN losses (Mao et al. 2017) — D minimises
½[(D(y) − 1)² + D(G(x))²], G minimises (D(G(x)) − 1)²; cycle-consistency L1 with λ = 10;
the identity loss ‖G(y) − y‖₁ with weight 0.5·λ (used by the paper for photo↔painting, and
the right prior for colour edits); Adam with learning rate 2·10⁻⁴ and β = (0.5, 0.999); batch
size 1; a pool of the 50 most recent generated images for updating D (Shrivastava et al.
2017); weights drawn from N(0, 0.02); the learning rate constant for the first half of
training and decayed linearly to 0 in the second (the paper: 100 + 100 epochs).

The model is unconditional — one CycleGAN learns *one* look — so `CycleGANTrainer(look=...)`
trains on neutral crops x and crops y styled with that look at full strength (grain on),
drawn by `data.LookStream`'s crop sampler from the same training photos as our model.
"""
from __future__ import annotations

import random
import time
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from influencer_gan import looks as L
from influencer_gan.data import LookStream


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
def _norm(ch: int) -> nn.Module:
    # Instance normalisation (Ulyanov et al. 2016): per image and channel, no running statistics.
    return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)


class ResidualBlock(nn.Module):
    """Rk: two 3×3 convolutions with reflection padding, InstanceNorm, ReLU between; x + F(x)."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch))

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """c7s1-64, d128, d256, R256 × n_blocks, u128, u64, c7s1-3 (tanh). Input/output in [-1, 1]."""

    def __init__(self, n_blocks: int = 9, ngf: int = 64):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), _norm(ngf), nn.ReLU(True)]       # c7s1-64
        layers += [nn.Conv2d(ngf, 2 * ngf, 3, stride=2, padding=1), _norm(2 * ngf), nn.ReLU(True)]  # d128
        layers += [nn.Conv2d(2 * ngf, 4 * ngf, 3, stride=2, padding=1), _norm(4 * ngf), nn.ReLU(True)]  # d256
        layers += [ResidualBlock(4 * ngf) for _ in range(n_blocks)]                             # R256 × n
        layers += [nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, stride=2, padding=1, output_padding=1),
                   _norm(2 * ngf), nn.ReLU(True)]                                              # u128
        layers += [nn.ConvTranspose2d(2 * ngf, ngf, 3, stride=2, padding=1, output_padding=1),
                   _norm(ngf), nn.ReLU(True)]                                                  # u64
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]                     # c7s1-3
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4          # two stride-2 stages: pad to a multiple of 4
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        return self.net(x)[..., :h, :w]


class PatchDiscriminator(nn.Module):
    """The 70×70 PatchGAN: C64 (no norm) - C128 - C256 - C512 (stride 1) - 1-channel conv."""

    def __init__(self, ndf: int = 64):
        super().__init__()
        lrelu = lambda: nn.LeakyReLU(0.2, True)  # noqa: E731
        self.net = nn.Sequential(
            nn.Conv2d(3, ndf, 4, stride=2, padding=1), lrelu(),                                 # C64
            nn.Conv2d(ndf, 2 * ndf, 4, stride=2, padding=1), _norm(2 * ndf), lrelu(),           # C128
            nn.Conv2d(2 * ndf, 4 * ndf, 4, stride=2, padding=1), _norm(4 * ndf), lrelu(),       # C256
            nn.Conv2d(4 * ndf, 8 * ndf, 4, stride=1, padding=1), _norm(8 * ndf), lrelu(),       # C512
            nn.Conv2d(8 * ndf, 1, 4, stride=1, padding=1))                                      # patch logits

    def forward(self, x):
        return self.net(x)


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Weights from a Gaussian N(0, 0.02), biases 0 (Section 7.1)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def paper_n_blocks(image_size: int) -> int:
    """6 residual blocks for 128×128 (or smaller) training images, 9 for 256×256 and larger."""
    return 6 if image_size <= 128 else 9


class HistoryPool:
    """Shrivastava et al. (2017): D is updated with a history of generated images. Until the
    pool holds `size` images it stores and returns each new one; then, with probability ½, a
    new image replaces a random stored one and the stored one is returned instead."""

    def __init__(self, size: int = 50, seed: int = 0):
        self.size, self.images, self.rng = size, [], random.Random(seed)

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        out = []
        for img in batch.detach():
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif self.rng.random() < 0.5:
                j = self.rng.randrange(self.size)
                out.append(self.images[j])
                self.images[j] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def mse_to(x: torch.Tensor, target: float) -> torch.Tensor:
    return ((x - target) ** 2).mean()


class CycleGANTrainer:
    """Two generators (G: neutral → look, F: look → neutral), two PatchGANs, the paper's losses."""

    def __init__(self, look: str = "teal_orange", image_size: int = 64, batch_size: int = 1,
                 steps: int = 200, n_blocks: Optional[int] = None, lambda_cyc: float = 10.0,
                 lambda_id: float = 0.5, lr: float = 2e-4, pool_size: int = 50, seed: int = 0):
        torch.manual_seed(seed)
        self.look, self.size, self.batch_size, self.steps = look, image_size, batch_size, steps
        self.n_blocks = paper_n_blocks(image_size) if n_blocks is None else n_blocks
        self.lambda_cyc, self.lambda_id = lambda_cyc, lambda_id * lambda_cyc
        self.G, self.F = ResnetGenerator(self.n_blocks), ResnetGenerator(self.n_blocks)
        self.D_y, self.D_x = PatchDiscriminator(), PatchDiscriminator()
        for net in (self.G, self.F, self.D_y, self.D_x):
            init_weights(net)
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(list(self.G.parameters()) + list(self.F.parameters()), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(list(self.D_y.parameters()) + list(self.D_x.parameters()), lr=lr, betas=betas)
        half = steps // 2
        rule = lambda s: 1.0 - max(0, s - half) / max(1, steps - half)  # noqa: E731
        self.sched = [torch.optim.lr_scheduler.LambdaLR(o, rule) for o in (self.opt_g, self.opt_d)]
        self.pool_y, self.pool_x = HistoryPool(pool_size, seed), HistoryPool(pool_size, seed + 1)
        # The same training photos and crop distribution as our model's LookStream.
        self.stream = LookStream(size=image_size, batch_size=batch_size, split="train", refs=1,
                                 looks="named", seed=seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.step_num = 0

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Unpaired x (neutral crops) and y (other crops in the look, grain on), in [-1, 1]."""
        x = self.stream.neutral_crops(self.batch_size, self.gen)
        y = self.stream.neutral_crops(self.batch_size, self.gen)
        seed = int(torch.randint(2 ** 31 - 1, (), generator=self.gen))
        y = L.apply(y, self.look, grain=True, seed=seed)
        return x * 2 - 1, y * 2 - 1

    def step(self) -> dict:
        x, y = self.batch()
        # generators: adversarial (LSGAN) + cycle + identity
        for d in (self.D_x, self.D_y):
            d.requires_grad_(False)
        fake_y, fake_x = self.G(x), self.F(y)
        loss_adv = mse_to(self.D_y(fake_y), 1.0) + mse_to(self.D_x(fake_x), 1.0)
        loss_cyc = (self.F(fake_y) - x).abs().mean() + (self.G(fake_x) - y).abs().mean()
        loss_id = (self.G(y) - y).abs().mean() + (self.F(x) - x).abs().mean() if self.lambda_id else 0.0
        loss_g = loss_adv + self.lambda_cyc * loss_cyc + self.lambda_id * loss_id
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # discriminators, on real images and on images from the history pools
        for d in (self.D_x, self.D_y):
            d.requires_grad_(True)
        old_y, old_x = self.pool_y.query(fake_y), self.pool_x.query(fake_x)
        loss_d = 0.5 * (mse_to(self.D_y(y), 1.0) + mse_to(self.D_y(old_y), 0.0)) \
            + 0.5 * (mse_to(self.D_x(x), 1.0) + mse_to(self.D_x(old_x), 0.0))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        for s in self.sched:
            s.step()
        self.step_num += 1
        return {"L_G": loss_g.item(), "L_D": loss_d.item(), "cyc": loss_cyc.item()}

    def fit(self, steps: Optional[int] = None, max_seconds: Optional[float] = None) -> dict:
        """Train to `steps` (default: the schedule's length) or until `max_seconds` pass."""
        steps = self.steps if steps is None else steps
        t0 = time.perf_counter()
        logs = {}
        while self.step_num < steps:
            logs = self.step()
            if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                break
        seconds = time.perf_counter() - t0
        return {"steps": self.step_num, "seconds": seconds, "images": self.step_num * self.batch_size,
                "images_per_s": self.step_num * self.batch_size / seconds, **logs}

    @torch.no_grad()
    def stylize(self, x01: torch.Tensor) -> torch.Tensor:
        """G applied to photos in [0, 1] (any size); returns [0, 1]."""
        self.G.eval()
        out = ((self.G(x01 * 2 - 1) + 1) / 2).clamp(0, 1)
        self.G.train()
        return out


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def receptive_field(d: PatchDiscriminator, size: int = 256) -> tuple[int, int]:
    """Measured receptive field of one PatchGAN output: the input pixels its gradient reaches.
    Instance norm is swapped for the identity first (its per-image statistics would connect
    every pixel to every output)."""
    import copy
    d = copy.deepcopy(d)
    for i, m in enumerate(d.net):
        if isinstance(m, nn.InstanceNorm2d):
            d.net[i] = nn.Identity()
    x = torch.randn(1, 3, size, size, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    hit = (x.grad.abs().sum(1)[0] > 0).nonzero()
    return tuple(int(hit[:, k].max() - hit[:, k].min() + 1) for k in (0, 1))


if __name__ == "__main__":  # a quick look: python benchmarks/cyclegan_baseline.py
    torch.set_num_threads(1)
    for n in (6, 9):
        print(f"ResnetGenerator({n} blocks): {count_parameters(ResnetGenerator(n)) / 1e6:.2f} M parameters")
    print(f"PatchGAN: {count_parameters(PatchDiscriminator()) / 1e6:.2f} M parameters, "
          f"receptive field {receptive_field(PatchDiscriminator())} px")
    t = CycleGANTrainer(steps=3)
    print(t.fit())

"""Conditional batch normalisation — §4.4 of the source document.

§4.4 says that the scale and shift of a batch-normalisation layer should stop being
constants and instead be *computed from the personal condition by a small network*.
The document uses `ConditionalBatchNorm2d(num_features, condition_dim)` in its §5.3.1
generator but never defines it; this module is that missing definition.

The idea (de Vries et al. 2017, "Modulating early visual processing by language";
Dumoulin et al. 2017, "A learned representation for artistic style") is:

    CBN(x | c) = γ(c) · (x − μ) / √(σ² + ε) + β(c)

where μ, σ² are the usual batch-norm statistics of each channel and γ(c), β(c) are one
scale and one shift *per channel*, produced by a two-layer MLP from the condition c.
So the condition cannot draw anything by itself; it decides how strongly every feature
channel of the network speaks and where its zero lies — which is exactly what a "look"
(more warmth, more contrast, faded blacks) or an avatar attribute needs.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose per-channel γ and β come from a condition vector (§4.4).

    * The normalisation itself is an `nn.BatchNorm2d(num_features, affine=False)`: it
      keeps running statistics, so in `eval()` mode it works on a single image
      (batch size 1) and a fixed input always gives the same output.
    * A small MLP — `Linear(cond_dim, hidden) → SiLU → Linear(hidden, 2·num_features)` —
      maps the condition to (Δγ, β), and γ = 1 + Δγ.  The last linear layer starts at
      zero, so at initialisation γ = 1 and β = 0 for every condition and the layer is
      *exactly* plain batch norm: a freshly built conditional network behaves like its
      unconditional twin and learns to use the condition from there (the same trick as
      "zero-initialised modulation" in adaLN-Zero / ControlNet).
    * The MLP is smooth (SiLU), so moving the condition along a straight line — a convex
      combination of two looks, which is what style mixing does — moves γ and β, and
      therefore the output, smoothly.

    Shapes: `x` is (B, C, H, W) and `condition` is (B, cond_dim), or (cond_dim,) to use
    one condition for the whole batch.
    """

    def __init__(self, num_features: int, cond_dim: int, hidden: int | None = None,
                 eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features = num_features
        self.cond_dim = cond_dim
        hidden = hidden if hidden is not None else max(32, min(128, num_features))
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.mlp = nn.Sequential(
            nn.Linear(cond_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2 * num_features),
        )
        nn.init.zeros_(self.mlp[-1].weight)  # γ = 1, β = 0 at the start: plain batch norm
        nn.init.zeros_(self.mlp[-1].bias)

    def gamma_beta(self, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-channel scale γ(c) and shift β(c), each (B, num_features)."""
        if condition.dim() == 1:
            condition = condition.unsqueeze(0)
        delta_gamma, beta = self.mlp(condition).chunk(2, dim=1)
        return 1.0 + delta_gamma, beta

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.gamma_beta(condition.to(x.dtype))
        return self.bn(x) * gamma[:, :, None, None] + beta[:, :, None, None]

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, cond_dim={self.cond_dim}"


__all__ = ["ConditionalBatchNorm2d"]

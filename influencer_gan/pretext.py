"""The pretext task on the package's own random looks: pairs where the package drew the look.

Named looks and every feed stay unpaired. But half of each training batch shows looks that the
package drew at random — slider looks of the prior and app filters (`filters.py`) — and for
those it knows the exact answer. Neural Preset (Ke et al. 2023) learns colour mappings that
carry over to any look from exactly such a pretext task. Two ways to use it live here:

    influencer-gan train looks --config configs/looks_encoder.json     # EncoderTrainer: E alone
    influencer-gan train looks --config configs/looks_pretext.json     # PretextTrainer: E and G

`drawn_look(batch)` is what both read: the rows whose look was drawn, and their exact look at
full strength.

## EncoderTrainer (`stage="encoder"`)

Why. The adversarial game (§3.3) teaches G a rich space of looks, one per style code, but E
learns only which posts share a look (the contrastive loss of `Trainer._looks_forward`), not
which code makes that look. Measured on the shipped model (issue 21's note): for each held-out
real app filter, the style code found by gradient descent *with* the answer brings G to 2.2
ΔE2000 on average, where E's code from 5 posts reaches 9.2, and doing nothing 12.0. G can
express the filters; E does not find them.

What. G (and F, D) stay exactly as trained, in evaluation mode. E learns, on the looks that
the package draws at random — slider looks of the prior and app filters (`filters.py`), whose
exact rendering it knows — to give the code with which G(x | E(posts), c = (0, 0, 1)) is x in
the posts' look: an L1 loss through the frozen G, Neural Preset's pretext task (Ke et al. 2023)
with the GAN's generator as the decoder. The named looks in a batch (`batch["named"]`) are left
out, so they, the held-out looks and every feed stay unpaired.

What it gave (benchmarks/RESULTS.md, *Reading the numbers*): better real filters, worse named
looks; every E trained this way fitted its training crops better and held-out photos worse.

## PretextTrainer (`lambda_drawn > 0`)

The adversarial game of `Trainer` as it is, plus λ_drawn · L1 between G(x | E(posts), c0) and
the exact look on the drawn rows, with the gradient reaching E *and* G: E learns which code
makes a look while G learns to make it. (`lambda_pretext` of `Trainer` reads only the rows whose
look is an app filter alone, and its code is detached: it teaches G alone.)

What it gave (RESULTS, *Looks recipe search*): 1,000 steps from the shipped weights moved
unseen slider looks 6.94 → 6.27 ΔE2000 on the test photos, with named looks and real filters
unchanged; the same from seed 2's weights made every test score worse. Not shipped.
"""
from __future__ import annotations

import torch

from .streams import render_look
from .train import _C0, Trainer, to_net


def drawn_loss(models: dict, b: dict, device) -> torch.Tensor | None:
    """L1 between G(x | E(posts), c0) and the exact look on the drawn rows of batch `b` (None
    when every row is a named look). Gradients reach whichever of E and G are trainable."""
    rows, target = drawn_look(b)
    if not bool(rows.any()):
        return None
    s = models["E"](to_net(b["refs"][rows]))
    out = models["G"](to_net(b["x"][rows]), s, _C0.to(device).expand(int(rows.sum()), -1))
    return (out.float() - to_net(target)).abs().mean()


def drawn_look(b: dict):
    """`(rows, target)`: the rows of a looks batch whose look the package drew at random (not a
    named look), and the exact look of their content `b["x"][rows]` at full strength, no grain."""
    rows = ~b["named"]
    if not bool(rows.any()):
        return rows, None
    filt = None if b.get("filter") is None else {k: v[rows] for k, v in b["filter"].items()}
    with torch.no_grad():
        target = render_look(b["x"][rows], b["params"][rows], filt, None, grain=False)
    return rows, target


class EncoderTrainer(Trainer):
    """A `Trainer` whose step teaches E alone (see the module docstring). G, F and D are frozen;
    the optimiser of E and G is kept as built (frozen parameters get no gradient and Adam skips
    them), so checkpoints and `--resume` work as for any run."""

    def __init__(self, config, resume: bool = False, progress: bool = True):
        super().__init__(config, resume=resume, progress=progress)
        for n in ("G", "F", "D"):
            self.nets[n].requires_grad_(False)

    def step(self) -> dict[str, float]:
        for n in ("G", "F", "D"):          # frozen networks keep their batch-norm statistics
            self.nets[n].eval()
        b = self._prepare(self.stream.batch(self.gen))
        with self.autocast():
            loss = drawn_loss(self.models, b, self.device)
        if loss is None:                   # a batch of named looks only: nothing to learn from
            return {"L_E": float("nan")}
        self._check_finite("L_E", loss)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        self.sched[0].step()               # E's schedule; D does not train in this stage
        self._update_ema()
        self.step_num += 1
        return {"L_E": loss.item()}


class PretextTrainer(Trainer):
    """A `Trainer` whose G and E also learn the pretext task on the drawn rows (see the module
    docstring): the adversarial and cycle losses are unchanged."""

    def _looks_forward(self, b):
        fake_y, cond, real, real_cond, extra = super()._looks_forward(b)
        loss = drawn_loss(self.models, b, self.device)      # E's code not detached: E learns from it
        if loss is not None:
            extra["drawn"] = (self.cfg.lambda_drawn, loss)
        return fake_y, cond, real, real_cond, extra

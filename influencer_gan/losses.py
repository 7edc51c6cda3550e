"""The losses of §4.1–§4.5, one function per formula.

Every adversarial loss here takes the discriminator's *logits* (the numbers before the
sigmoid), not probabilities: D(x) = σ(logit), and log D(x) = log σ(logit) is computed
with `F.logsigmoid`, which never takes the log of 0 — the naive `torch.log(torch.sigmoid(l))`
returns −inf as soon as the sigmoid rounds to 0, and one such pixel ruins a whole batch.
Expectations 𝔼 over the data become means over the batch (and over the patches of a
PatchGAN, whose every patch is one "sample" judged by D).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def _log_d(logits: torch.Tensor) -> torch.Tensor:
    """log D = log σ(logit)."""
    return F.logsigmoid(logits)


def _log_one_minus_d(logits: torch.Tensor) -> torch.Tensor:
    """log(1 − D) = log σ(−logit)."""
    return F.logsigmoid(-logits)


# ---------------------------------------------------------------------------------------
# §4.1 — the minimax game
# ---------------------------------------------------------------------------------------
def minimax_value(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """V(D, G) = 𝔼_x[log D(x)] + 𝔼_z[log(1 − D(G(z)))]   (§4.1).

    D maximises V, G minimises it.  `real_logits` are D's logits on real data x,
    `fake_logits` on generated data G(z)."""
    return _log_d(real_logits).mean() + _log_one_minus_d(fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's side of §4.1 as a loss to *minimise*: −V(D, G) (binary cross-entropy with
    label 1 for real and 0 for fake)."""
    return -minimax_value(real_logits, fake_logits)


def generator_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """G's side of §4.1 taken literally: minimise 𝔼_z[log(1 − D(G(z)))] (the "saturating" loss).

    Its gradient with respect to the logit is −σ(logit) = −D(G(z)): early in training,
    when D easily recognises the fakes and D(G(z)) ≈ 0, the gradient vanishes and G
    learns nothing.  Kept for teaching; train with `generator_loss_nonsaturating`."""
    return _log_one_minus_d(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss: minimise −𝔼_z[log D(G(z))].

    Goodfellow et al. (2014) proposed it right after the minimax game: it has the same
    fixed point (G wins when D(G(z)) = 1/2 everywhere) but its gradient with respect to
    the logit is −(1 − D(G(z))), which is *largest* exactly when D confidently rejects
    the fakes — at the start of training — instead of vanishing there like the literal
    log(1 − D(G(z))) of §4.1.  It is also the G loss of §4.5."""
    return -_log_d(fake_logits).mean()


# ---------------------------------------------------------------------------------------
# §4.2 — the conditional game
# ---------------------------------------------------------------------------------------
def conditional_minimax_value(D: Callable, G: Callable, x: torch.Tensor, z: torch.Tensor,
                              y: torch.Tensor) -> torch.Tensor:
    """V(D, G) = 𝔼_x[log D(x | y)] + 𝔼_z[log(1 − D(G(z | y) | y))]   (§4.2).

    The same game as §4.1 except that both players see the condition y (a style, the
    personal wishes c, an avatar's attributes): G(z | y) must produce data that fits y,
    and D(x | y) must judge whether x is real *and* fits y.  `D(x, y)` returns logits,
    `G(z, y)` returns data; x are real samples drawn together with their conditions y."""
    return minimax_value(D(x, y), D(G(z, y), y))


# ---------------------------------------------------------------------------------------
# §4.3 — cycle consistency, and the identity loss
# ---------------------------------------------------------------------------------------
def cycle_consistency_loss(x: torch.Tensor, f_g_x: torch.Tensor,
                           y: torch.Tensor | None = None, g_f_y: torch.Tensor | None = None) -> torch.Tensor:
    """L_cyc(G, F) = 𝔼_x[‖F(G(x)) − x‖₁] + 𝔼_y[‖G(F(y)) − y‖₁]   (§4.3).

    G stylises, F undoes it; going there and back must return the original photo, in
    both directions.  Without paired examples this is what keeps G from replacing the
    content with any image in the right style.  As in CycleGAN, the L1 norm is averaged
    over pixels and channels (so λ does not depend on the image size).  Pass only
    (x, F(G(x))) for the one-sided version."""
    loss = (f_g_x - x).abs().mean()
    if y is not None and g_f_y is not None:
        loss = loss + (g_f_y - y).abs().mean()
    return loss


def identity_loss(y: torch.Tensor, g_y: torch.Tensor) -> torch.Tensor:
    """L_id(G) = 𝔼_y[‖G(y) − y‖₁]  (Zhu et al. 2017, §5.2 of the CycleGAN paper).

    CycleGAN adds it so that G leaves an image that is *already* in the target domain
    unchanged — it keeps photos' colours from drifting.  Caution: for colour looks that
    assumption is false.  Applying a look twice changes a photo again (teal-and-orange
    on teal-and-orange is more teal and more orange), so this loss pulls G towards
    doing nothing; weigh it by measurement (the trainer's default weight is 0)."""
    return (g_y - y).abs().mean()


# ---------------------------------------------------------------------------------------
# §4.5 — the worked example: L_D and L_G with λ
# ---------------------------------------------------------------------------------------
def loss_D(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = −𝔼[log D(y | y_style, c)] − 𝔼_x[log(1 − D(G(x | y_style, c) | y_style, c))]   (§4.5).

    The document writes the real term with the content photo x; what D must accept as
    real, though, are images that really are in the influencer's style (their feed, y),
    and reject the stylised photos G(x | y_style, c).  Pass D's logits on those reals
    and on the fakes."""
    return discriminator_loss(real_logits, fake_logits)


def loss_G(fake_logits: torch.Tensor, l_cyc: torch.Tensor | float, lam: float = 10.0) -> torch.Tensor:
    """L_G = −𝔼_x[log D(G(x | y_style, c) | y_style, c)] + λ · L_cyc(G, F)   (§4.5).

    The non-saturating adversarial term (see `generator_loss_nonsaturating`) plus the
    cycle-consistency loss of §4.3 weighted by λ (CycleGAN uses λ = 10)."""
    return generator_loss_nonsaturating(fake_logits) + lam * l_cyc


# ---------------------------------------------------------------------------------------
# Alternatives to the log loss
# ---------------------------------------------------------------------------------------
def lsgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN (Mao et al. 2017), D: ½𝔼[(D(y) − 1)²] + ½𝔼[D(G(x))²].

    D outputs an unbounded score instead of a probability; the squared error keeps
    penalising fakes that are on the right side of the boundary but far from the real
    data, which gives G useful gradients where the log loss saturates.  CycleGAN's choice."""
    return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()


def lsgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN, G: ½𝔼[(D(G(x)) − 1)²]."""
    return 0.5 * ((fake_logits - 1) ** 2).mean()


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018), D: 𝔼[max(0, 1 − D(y))] + 𝔼[max(0, 1 + D(G(x)))].

    D stops being pushed once a sample is beyond the margin, so it cannot grow its
    logits without bound; the usual partner of spectral normalisation and projection."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss, G: −𝔼[D(G(x))]."""
    return -fake_logits.mean()


GAN_LOSSES = {
    # kind: (D loss, G loss)
    "minimax": (discriminator_loss, generator_loss_minimax),
    "nonsaturating": (discriminator_loss, generator_loss_nonsaturating),
    "lsgan": (lsgan_d_loss, lsgan_g_loss),
    "hinge": (hinge_d_loss, hinge_g_loss),
}


def attribute_loss(logits: torch.Tensor, onehot: torch.Tensor, group_sizes) -> torch.Tensor:
    """AC-GAN's auxiliary classification loss (Odena et al. 2017) for grouped one-hot
    attributes: the mean, over the attribute groups (hair, hair style, …, smile), of the
    cross-entropy between D's auxiliary logits and the true value of that attribute.

    logits, onehot: (B, sum(group_sizes)); group_sizes: e.g. (5, 2, 4, 5, 2, 2)."""
    losses_, start = [], 0
    for n in group_sizes:
        sl = slice(start, start + n)
        losses_.append(F.cross_entropy(logits[:, sl].float(), onehot[:, sl].argmax(1)))
        start += n
    if start != logits.shape[1]:
        raise ValueError(f"group sizes add up to {start}, logits have {logits.shape[1]} columns")
    return torch.stack(losses_).mean()


def contrastive_agreement(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018; SimCLR's loss) between two views of the same feeds.

    a[i] and b[i] are style codes of two *disjoint* sets of posts from feed i; every other
    row of the batch is another feed.  The loss is the cross-entropy of recognising b[i]
    among all b's from a[i] (and the other way round) by cosine similarity / temperature:
    it makes the codes of the same look agree and those of different looks differ.  A feed
    gives exactly this much supervision — which posts belong together — and no ground
    truth of what was done to them, so the style encoder can learn without pairs.

    a, b: (B, D) → a scalar (log B at chance, 0 when every feed is recognised surely)."""
    a, b = F.normalize(a.float(), dim=1), F.normalize(b.float(), dim=1)
    logits = a @ b.t() / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def style_reconstruction(encoder, fake: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Style reconstruction (StarGAN v2, Choi et al. 2020): 1 − cosine similarity between the
    code the style encoder reads from each generated image and the code G was given.

    `encoder` is a `StyleEncoder`; it is used as a fixed judge here — its weights get no
    gradient from this loss and its batch norm uses its running statistics (eval mode), so
    that the fakes neither train it nor shift its statistics. fake: (B, 3, H, W) in [-1, 1];
    style: (B, D), treated as a constant. Returns a scalar in [0, 2]."""
    params = {k: v.detach() for k, v in encoder.named_parameters()}
    buffers = dict(encoder.named_buffers())
    was_training = encoder.training
    encoder.eval()
    try:
        code = torch.func.functional_call(encoder, {**params, **buffers}, (fake,))
    finally:
        encoder.train(was_training)
    return 1 - F.cosine_similarity(code.float(), style.detach().float(), dim=1).mean()


def mode_seeking_loss(fake1: torch.Tensor, fake2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor,
                      eps: float = 1e-5) -> torch.Tensor:
    """Mode-seeking regularisation (Mao et al. 2019, MSGAN) against mode collapse.

    fake1 = G(z1 | c) and fake2 = G(z2 | c) are two images for the *same* conditions from two
    noise vectors.  A generator that ignores z draws them alike; the ratio

        d = mean |fake1 − fake2| / mean |z1 − z2|

    says how far the images move per unit of noise, and the loss 1 / (d + eps) is large when
    they hardly move, so minimising it makes different z give different images (MSGAN's
    official implementation uses this reciprocal; its weight is λ_ms).

    fake1, fake2: (B, …); z1, z2: (B, Z) → a scalar."""
    d = (fake1.float() - fake2.float()).abs().mean() / (z1.float() - z2.float()).abs().mean()
    return 1.0 / (d + eps)


def gan_loss_fns(kind: str):
    """(d_loss(real_logits, fake_logits), g_loss(fake_logits)) for `kind` in
    "minimax" (§4.1 literally), "nonsaturating" (§4.5), "lsgan", "hinge"."""
    try:
        return GAN_LOSSES[kind]
    except KeyError:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {sorted(GAN_LOSSES)}") from None


def condition_consistency(out_c: torch.Tensor, photo: torch.Tensor, out_full: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """A pair-free signal for the personal condition c (images in [-1, 1]): G's answer at c must
    be what c means applied to G's own answer at c0 = (0, 0, 1), `looks.personal_edit` — the
    look adjusted by vivid and warmth, then blended with the photo by strength:

        L_c = E | G(x | s, c) − [x + strength · (adjust(G(x | s, c0), vivid, warmth) − x)] |

    No feed says which c made a post; this needs only the photo and G itself. The target is
    held fixed (no gradient), so the look at c0 is still learned from the adversarial loss
    alone, and c is taught through G's conditional batch norm."""
    from .looks import personal_edit
    with torch.no_grad():
        target = personal_edit((photo + 1) / 2, ((out_full + 1) / 2).clamp(0, 1), c[:, 0], c[:, 1], c[:, 2])
    return (out_c - (target.clamp(0, 1) * 2 - 1)).abs().mean()


__all__ = [
    "minimax_value", "discriminator_loss", "generator_loss_minimax", "generator_loss_nonsaturating",
    "conditional_minimax_value", "cycle_consistency_loss", "identity_loss", "loss_D", "loss_G",
    "lsgan_d_loss", "lsgan_g_loss", "attribute_loss", "hinge_d_loss", "hinge_g_loss", "GAN_LOSSES", "gan_loss_fns",
    "contrastive_agreement", "mode_seeking_loss", "condition_consistency",
]

"""The losses of §4.1–§4.5 against values computed by hand."""
import math

import pytest
import torch

from influencer_gan import losses

torch.set_num_threads(1)


def logit(p):
    return torch.log(torch.as_tensor(p) / (1 - torch.as_tensor(p)))


def close(a, b, tol=1e-5):
    return abs(float(a) - b) < tol


def test_minimax_value_section_4_1():
    # D(x) = 0.9 on real data, D(G(z)) = 0.2 on fakes:
    # V = log 0.9 + log(1 - 0.2) = -0.105361 - 0.223144 = -0.328504
    v = losses.minimax_value(logit([0.9]), logit([0.2]))
    assert close(v, -0.328504)
    # means over the batch: D(x) in {0.9, 0.5}, D(G(z)) in {0.2, 0.6}
    v = losses.minimax_value(logit([0.9, 0.5]), logit([0.2, 0.6]))
    assert close(v, (math.log(0.9) + math.log(0.5)) / 2 + (math.log(0.8) + math.log(0.4)) / 2)
    assert close(losses.discriminator_loss(logit([0.9]), logit([0.2])), 0.328504)


def test_generator_losses_and_why_non_saturating():
    assert close(losses.generator_loss_minimax(logit([0.2])), math.log(0.8))      # -0.223144
    assert close(losses.generator_loss_nonsaturating(logit([0.2])), -math.log(0.2))  # 1.609438
    # early in training D rejects the fakes: D(G(z)) = 0.001
    l1 = logit([0.001]).requires_grad_()
    losses.generator_loss_minimax(l1).backward()
    l2 = logit([0.001]).requires_grad_()
    losses.generator_loss_nonsaturating(l2).backward()
    assert close(l1.grad, -0.001, 1e-6)         # d/dl log(1 - σ(l)) = -σ(l): it vanishes
    assert close(l2.grad, -0.999, 1e-6)         # d/dl -log σ(l) = -(1 - σ(l)): strong signal


def test_conditional_value_section_4_2():
    # a toy D(x|y) whose logit is x·y, and a toy G(z|y) = z + y
    D = lambda x, y: (x * y).sum(1)  # noqa: E731
    G = lambda z, y: z + y  # noqa: E731
    x, y, z = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 2.0]]), torch.tensor([[0.0, -1.0]])
    # D(x|y) = σ(0.5), D(G(z|y)|y) = σ((0.5, 1)·(0.5, 2)) = σ(2.25)
    expected = math.log(1 / (1 + math.exp(-0.5))) + math.log(1 - 1 / (1 + math.exp(-2.25)))
    assert close(losses.conditional_minimax_value(D, G, x, z, y), expected)


def test_cycle_consistency_section_4_3():
    x, fgx = torch.tensor([0.0, 0.5]), torch.tensor([0.1, 0.3])      # mean |.| = (0.1 + 0.2)/2
    y, gfy = torch.tensor([1.0, -1.0]), torch.tensor([0.9, -1.0])    # mean |.| = (0.1 + 0)/2
    assert close(losses.cycle_consistency_loss(x, fgx, y, gfy), 0.15 + 0.05)
    assert close(losses.cycle_consistency_loss(x, fgx), 0.15)


def test_identity_loss():
    y, gy = torch.tensor([[0.2, -0.4], [1.0, 0.0]]), torch.tensor([[0.0, -0.4], [0.5, 0.1]])
    assert close(losses.identity_loss(y, gy), (0.2 + 0 + 0.5 + 0.1) / 4)


def test_section_4_5_example():
    # D(y | y_style, c) = 0.9 on a real styled photo, D(G(x | y_style, c) | y_style, c) = 0.2,
    # L_cyc = 0.2 (the numbers of test_cycle_consistency_section_4_3), λ = 10:
    # L_D = -log 0.9 - log 0.8 = 0.328504;  L_G = -log 0.2 + 10·0.2 = 3.609438
    assert close(losses.loss_D(logit([0.9]), logit([0.2])), 0.328504)
    l_cyc = losses.cycle_consistency_loss(torch.tensor([0.0, 0.5]), torch.tensor([0.1, 0.3]),
                                          torch.tensor([1.0, -1.0]), torch.tensor([0.9, -1.0]))
    assert close(losses.loss_G(logit([0.2]), l_cyc, lam=10.0), 3.609438)
    assert close(losses.loss_G(logit([0.2]), l_cyc, lam=0.0), 1.609438)


def test_lsgan_and_hinge():
    real, fake = torch.tensor([1.5, 0.5]), torch.tensor([0.2, -0.4])
    # LSGAN: ½·mean(0.25, 0.25) + ½·mean(0.04, 0.16) = 0.175;  G: ½·mean(0.64, 1.96) = 0.65
    assert close(losses.lsgan_d_loss(real, fake), 0.175)
    assert close(losses.lsgan_g_loss(fake), 0.65)
    # hinge: mean(0, 0.5) + mean(1.2, 0.6) = 1.15;  G: -mean(0.2, -0.4) = 0.1
    assert close(losses.hinge_d_loss(real, fake), 1.15)
    assert close(losses.hinge_g_loss(fake), 0.1)


def test_extreme_logits_stay_finite():
    big = torch.tensor([100.0, -100.0])
    for kind in losses.GAN_LOSSES:
        d, g = losses.gan_loss_fns(kind)
        assert torch.isfinite(d(big, -big)) and torch.isfinite(d(-big, big)) and torch.isfinite(g(big))


def test_gan_loss_fns():
    real, fake = logit([0.9]), logit([0.2])
    d, g = losses.gan_loss_fns("nonsaturating")
    assert close(d(real, fake), 0.328504) and close(g(fake), 1.609438)
    d, g = losses.gan_loss_fns("minimax")
    assert close(g(fake), math.log(0.8))
    assert set(losses.GAN_LOSSES) == {"minimax", "nonsaturating", "lsgan", "hinge"}
    with pytest.raises(ValueError, match="wgan"):
        losses.gan_loss_fns("wgan")


def test_attribute_loss_is_mean_cross_entropy_over_groups():
    import math
    logits = torch.tensor([[2.0, 0.0, 0.0, 1.0, 1.0]])          # groups of 3 and 2
    onehot = torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0]])
    ce1 = -math.log(math.exp(2) / (math.exp(2) + 2))            # right answer, confident
    ce2 = math.log(2)                                            # a coin toss
    assert losses.attribute_loss(logits, onehot, (3, 2)).item() == pytest.approx((ce1 + ce2) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="add up"):
        losses.attribute_loss(logits, onehot, (3, 3))


def test_contrastive_agreement_rewards_matching_feeds():
    from influencer_gan.losses import contrastive_agreement
    g = torch.Generator().manual_seed(0)
    a = torch.randn(16, 8, generator=g)
    same = contrastive_agreement(a, a + 0.01 * torch.randn(16, 8, generator=g))
    shuffled = contrastive_agreement(a, a[torch.randperm(16, generator=g)])
    assert same < 0.1 < math.log(16) - 1 < shuffled          # log B is chance
    b = torch.randn(16, 8, generator=g, requires_grad=True)
    contrastive_agreement(a, b).backward()
    assert torch.isfinite(b.grad).all() and b.grad.abs().sum() > 0


def test_mode_seeking_loss_punishes_ignoring_z():
    z1, z2 = torch.zeros(4, 8), torch.ones(4, 8)              # mean |z1 - z2| = 1
    same = torch.rand(4, 3, 8, 8)
    apart = same + 0.5
    assert losses.mode_seeking_loss(same, apart, z1, z2).item() == pytest.approx(2.0, rel=1e-4)
    assert losses.mode_seeking_loss(same, same, z1, z2).item() > 1e4    # collapsed: huge
    g = torch.zeros(4, 3, 8, 8, requires_grad=True)
    losses.mode_seeking_loss(same + g, apart, z1, z2).backward()
    assert (g.grad > 0).all()           # moving fake1 towards fake2 (up) would raise the loss


def test_condition_consistency_is_zero_exactly_when_g_follows_c_as_defined():
    from influencer_gan import looks as L
    from influencer_gan.losses import condition_consistency
    g = torch.Generator().manual_seed(0)
    x01 = torch.rand(4, 3, 8, 8, generator=g)
    full01 = L.apply(x01, "pastel", grain=False)
    c = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.5], [0.6, -0.3, 1.0], [-0.5, 0.8, 0.3]])
    right = L.personal_edit(x01, full01, c[:, 0], c[:, 1], c[:, 2])
    to_net = lambda t: t * 2 - 1  # noqa: E731
    assert condition_consistency(to_net(right), to_net(x01), to_net(full01), c) < 1e-5
    ignores_c = to_net(full01)                      # a G that draws the look whatever c says
    assert condition_consistency(ignores_c, to_net(x01), to_net(full01), c) > 0.05
    # the target is fixed: only G's answer at c gets a gradient
    full = to_net(full01).requires_grad_()
    out = ignores_c.clone().requires_grad_()
    condition_consistency(out, to_net(x01), full, c).backward()
    assert full.grad is None and out.grad.abs().sum() > 0


def test_style_reconstruction_judges_with_a_fixed_encoder():
    """The loss reaches the image, not the encoder's weights or batch-norm statistics."""
    from influencer_gan.losses import style_reconstruction
    from influencer_gan.models import StyleEncoder
    torch.manual_seed(0)
    E = StyleEncoder(style_dim=8, conv=False).train()
    E(torch.rand(16, 3, 32, 32) * 2 - 1)                  # some running statistics
    before = {k: v.clone() for k, v in E.state_dict().items()}
    fake = (torch.rand(4, 3, 32, 32) * 2 - 1).requires_grad_()
    loss = style_reconstruction(E, fake, torch.randn(4, 8))
    loss.backward()
    assert 0 <= loss.item() <= 2 and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in E.parameters()) and E.training
    assert all(torch.equal(v, before[k]) for k, v in E.state_dict().items())
    with torch.no_grad():
        s = E.eval()(fake)
    assert style_reconstruction(E, fake, s).item() < 1e-5  # its own code: nothing to fix

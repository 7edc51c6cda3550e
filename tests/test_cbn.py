"""Conditional batch norm (§4.4): plain BN at the start, a per-channel affine map of BN(x)."""
import pytest
import torch
import torch.nn as nn

from influencer_gan.cbn import ConditionalBatchNorm2d

torch.set_num_threads(1)


def _randomise_output_layer(cbn, scale=0.5, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        cbn.mlp[-1].weight.copy_(torch.randn(cbn.mlp[-1].weight.shape, generator=g) * scale)
        cbn.mlp[-1].bias.copy_(torch.randn(cbn.mlp[-1].bias.shape, generator=g) * scale)


def test_equals_plain_batch_norm_at_initialisation():
    torch.manual_seed(0)
    cbn, bn = ConditionalBatchNorm2d(8, 5), nn.BatchNorm2d(8)   # bn: γ=1, β=0 at init
    x, cond = torch.randn(4, 8, 6, 6) * 3 + 1, torch.randn(4, 5)
    torch.testing.assert_close(cbn(x, cond), bn(x), rtol=0, atol=1e-6)
    torch.testing.assert_close(cbn.bn.running_mean, bn.running_mean)
    torch.testing.assert_close(cbn.bn.running_var, bn.running_var)
    cbn.eval(), bn.eval()
    torch.testing.assert_close(cbn(x[:1], cond[:1]), bn(x[:1]), rtol=0, atol=1e-6)


def test_fixed_condition_is_exact_per_channel_affine_map_of_bn():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(6, 4)
    _randomise_output_layer(cbn)
    x = torch.randn(5, 6, 7, 3)
    cond = torch.randn(4).expand(5, 4)               # the same condition for every sample
    out = cbn(x, cond)
    normed = nn.functional.batch_norm(x, None, None, training=True, eps=cbn.bn.eps)
    gamma, beta = cbn.gamma_beta(cond[:1])
    torch.testing.assert_close(out, normed * gamma.view(1, 6, 1, 1) + beta.view(1, 6, 1, 1))
    # and the map really is not the identity any more
    assert (gamma - 1).abs().max() > 0.05 and beta.abs().max() > 0.05


def test_different_conditions_give_different_gamma_beta():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(6, 4)
    _randomise_output_layer(cbn)
    g1, b1 = cbn.gamma_beta(torch.tensor([1.0, 0, 0, 0]))
    g2, b2 = cbn.gamma_beta(torch.tensor([0, 1.0, 0, 0]))
    assert (g1 - g2).abs().max() > 1e-2 and (b1 - b2).abs().max() > 1e-2
    # per sample: sample i is modulated with its own condition
    x, cond = torch.randn(2, 6, 4, 4), torch.stack([torch.tensor([1.0, 0, 0, 0]), torch.tensor([0, 1.0, 0, 0])])
    out = cbn(x, cond)
    normed = nn.functional.batch_norm(x, None, None, training=True, eps=cbn.bn.eps)
    torch.testing.assert_close(out[1], normed[1] * g2.view(6, 1, 1) + b2.view(6, 1, 1))


def test_eval_mode_batch_of_one_uses_running_statistics():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(3, 2)
    _randomise_output_layer(cbn)
    for _ in range(20):
        cbn(torch.randn(8, 3, 5, 5) * 2 + 3, torch.randn(8, 2))
    cbn.eval()
    x, cond = torch.randn(1, 3, 5, 5), torch.randn(1, 2)
    out = cbn(x, cond)
    gamma, beta = cbn.gamma_beta(cond)
    expected = (x - cbn.bn.running_mean.view(1, 3, 1, 1)) / torch.sqrt(cbn.bn.running_var.view(1, 3, 1, 1) + cbn.bn.eps)
    torch.testing.assert_close(out, expected * gamma.view(1, 3, 1, 1) + beta.view(1, 3, 1, 1))
    # an image's output does not depend on the rest of the batch in eval mode
    batch = torch.cat([x, torch.randn(3, 3, 5, 5)])
    torch.testing.assert_close(cbn(batch, cond.expand(4, 2))[:1], out)


def test_convex_combinations_of_conditions_change_output_smoothly():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, 3).eval()
    _randomise_output_layer(cbn)
    x = torch.randn(1, 4, 6, 6)
    c1, c2 = torch.tensor([[1.0, -1.0, 0.5]]), torch.tensor([[-0.5, 2.0, 0.0]])
    ts = torch.linspace(0, 1, 101)
    outs = torch.stack([cbn(x, (1 - t) * c1 + t * c2) for t in ts])
    total = (outs[-1] - outs[0]).abs().max()
    steps = (outs[1:] - outs[:-1]).abs().flatten(1).max(1).values
    assert total > 0.1
    assert steps.max() < 0.05 * total            # no jumps along the path
    assert steps.max() < 3 * steps.median()      # and no sudden bends either


def test_gradients_reach_condition_and_mlp():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, 3)
    _randomise_output_layer(cbn)
    cond = torch.randn(2, 3, requires_grad=True)
    (cbn(torch.randn(2, 4, 3, 3), cond) * torch.randn(2, 4, 3, 3)).sum().backward()
    assert cond.grad.abs().sum() > 0
    for name, p in cbn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("hidden", [None, 7])
def test_hidden_size_and_one_condition_for_whole_batch(hidden):
    cbn = ConditionalBatchNorm2d(4, 3, hidden=hidden)
    assert cbn.mlp[0].out_features == (hidden or 32)
    assert cbn(torch.randn(2, 4, 3, 3), torch.randn(3)).shape == (2, 4, 3, 3)

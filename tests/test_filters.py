"""App filters (`filters.py`): the identity is exact, each stage does what its name says, the
prior is deterministic and really edits, and a batch renders like its images one by one."""
import torch

from influencer_gan import filters as FL
from influencer_gan import looks as L

torch.set_num_threads(1)


def photo(n=2, size=24, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_identity_changes_nothing():
    x = photo()
    assert torch.allclose(FL.render(x, FL.identity(2)), x, atol=1e-5)
    assert torch.allclose(FL.render(x[0], FL.identity(1)), x[0], atol=1e-5)


def test_each_stage_does_what_it_says():
    x = photo(1)
    f = FL.identity(1)
    f["mixer"][0, :, :3] = torch.tensor([0.299, 0.587, 0.114])          # monochrome mix
    y = FL.render(x, f)
    assert torch.allclose(y[:, 0], y[:, 1], atol=1e-5) and torch.allclose(y[:, 1], y[:, 2], atol=1e-5)
    f = FL.identity(1)
    f["curves"][0] = 1 - torch.linspace(0, 1, FL.CURVE_KNOTS)           # inverting curves
    assert torch.allclose(FL.render(x, f), 1 - x, atol=1e-5)
    f = FL.identity(1)
    f["lut"] = f["lut"].flip(1)                                          # swap red and blue via the LUT
    assert torch.allclose(FL.render(x, f), x.flip(1), atol=1e-5)
    f = FL.identity(1)
    f["layer"][0] = torch.tensor([1.0, 0.0, 0.0])
    f["opacity"][0], f["gradient"][0] = 1.0, torch.tensor([0.0, 0.0, 0.05, 0.0])  # hard edge at the left
    y = FL.render(x, f)
    assert torch.allclose(y[..., -4:], torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).expand_as(y[..., -4:]), atol=1e-3)
    f["blend"][0] = FL.BLENDS.index("multiply")
    assert torch.allclose(FL.render(x, f)[..., -4:], x[..., -4:] * torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1), atol=1e-3)
    f = FL.identity(1)
    f["vignette"][0] = 1.0
    y = FL.render(torch.ones(1, 3, 25, 25), f)
    assert y[0, :, 12, 12].min() > 0.99 and y[0, :, 0, 0].max() < 0.5


def test_prior_is_deterministic_edits_and_batches():
    a, b = FL.random_filter(3), FL.random_filter(3)
    assert all(torch.equal(a[k], b[k]) for k in FL.FIELDS)
    a["lut"] += 1                                                        # callers get copies
    assert not torch.equal(FL.random_filter(3)["lut"], a["lut"])
    chart = L.color_chart()
    for seed in range(6):
        assert L.mean_delta_e(chart, FL.render(chart, FL.random_filter(seed))) >= L.MIN_DELTA_E
    fs = [FL.random_filter(s) for s in range(4)]
    x = photo(4)
    batch = FL.render(x, FL.stack(fs))
    one_by_one = torch.cat([FL.render(x[i:i + 1], f) for i, f in enumerate(fs)])
    assert torch.allclose(batch, one_by_one, atol=1e-6) and 0 <= batch.min() and batch.max() <= 1


def test_render_is_differentiable_and_device_consistent():
    x = photo(2).requires_grad_()
    f = FL.stack([FL.random_filter(0), FL.random_filter(1)])
    FL.render(x, f).mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    out = FL.render(torch.rand(2, 3, 8, 8, device="meta"), f)            # filters follow the image
    assert out.device.type == "meta" and out.shape == (2, 3, 8, 8)

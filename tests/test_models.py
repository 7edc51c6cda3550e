"""Shapes, ranges, identity start and gradient flow of the §3.2/§5.3 networks."""
import pytest
import torch
import torch.nn.functional as F

from influencer_gan.cbn import ConditionalBatchNorm2d
from influencer_gan.models import (AvatarGenerator, ResizeConv2d, minibatch_stddev, Discriminator, LookGenerator, StyleEncoder,
                                   apply_colour_transform, count_parameters, interpolation_matrix,
                                   inward_clamp)

torch.set_num_threads(1)


def randomise_zero_init(module, scale=0.05, seed=0):
    """Give every all-zero parameter (the zero-initialised output layers) small random
    values, so that every part of the network influences the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.abs().sum() == 0:
                p.copy_(torch.randn(p.shape, generator=g) * scale)
    return module


def img(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# -- AvatarGenerator (§5.3.1) -----------------------------------------------------------
@pytest.mark.parametrize("size", [64, 128])
def test_avatar_generator_shapes_and_range(size):
    torch.manual_seed(0)
    G = AvatarGenerator(input_dim=32, style_dim=5, condition_dim=7, image_size=size)
    out = G(torch.randn(2, 32), torch.randn(2, 5), torch.randn(2, 7))
    assert out.shape == (2, 3, size, size)
    assert out.abs().max() <= 1 and out.std() > 0.01
    G.eval()
    assert G(torch.randn(1, 32), torch.randn(1, 5), torch.randn(1, 7)).shape == (1, 3, size, size)


def test_avatar_generator_uses_style_and_condition():
    torch.manual_seed(0)
    G = randomise_zero_init(AvatarGenerator(input_dim=32, style_dim=5, condition_dim=7), scale=0.2).eval()
    z, s, c = torch.randn(1, 32), torch.randn(1, 5), torch.randn(1, 7)
    base = G(z, s, c)
    assert (G(z, s + 1, c) - base).abs().max() > 1e-3     # the document's generator ignored style
    assert (G(z, s, c + 1) - base).abs().max() > 1e-3
    assert (G(z + 1, s, c) - base).abs().max() > 1e-3


@pytest.mark.parametrize("upsample", ["transposed", "resize"])
def test_avatar_generator_keeps_document_layout(upsample):
    G = AvatarGenerator(upsample=upsample)
    assert G.fc.out_features == 8 * 8 * 64
    assert [G.conv1.out_channels, G.conv2.out_channels, G.conv3.out_channels] == [128, 256, 512]
    assert [G.deconv1.out_channels, G.deconv2.out_channels, G.deconv3.out_channels] == [256, 128, 64]
    assert all(isinstance(getattr(G, f"bn{i}"), ConditionalBatchNorm2d) for i in range(1, 7))
    kind = torch.nn.ConvTranspose2d if upsample == "transposed" else ResizeConv2d
    assert all(isinstance(getattr(G, f"deconv{i}"), kind) for i in range(1, 4))
    with pytest.raises(ValueError):
        AvatarGenerator(image_size=96)
    with pytest.raises(ValueError, match="upsample"):
        AvatarGenerator(upsample="pixelshuffle")


def test_avatar_generator_width():
    G = AvatarGenerator(input_dim=32, style_dim=5, condition_dim=7, ngf=16)
    assert [G.conv1.out_channels, G.conv3.out_channels, G.deconv3.out_channels] == [32, 128, 16]
    assert G(torch.randn(2, 32), torch.randn(2, 5), torch.randn(2, 7)).shape == (2, 3, 64, 64)


def test_resize_convolution_has_no_built_in_checkerboard():
    """A constant map stays constant through a resize-convolution, but not through the document's
    stride-2 transposed convolution, whose output pixels get 1, 2 or 4 kernel taps depending on
    where they sit in their 2×2 cell (Odena et al. 2016)."""
    torch.manual_seed(0)
    x = torch.ones(1, 4, 8, 8)
    resize, transposed = ResizeConv2d(4, 4), torch.nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1)
    with torch.no_grad():
        inner = lambda y: y[..., 2:-2, 2:-2]       # away from the zero-padded border
        assert inner(resize(x)).std((2, 3)).max() < 1e-6
        assert inner(transposed(x)).std((2, 3)).max() > 1e-2
        assert resize(x).shape == transposed(x).shape == (1, 4, 16, 16)
        y = torch.randn(2, 4, 5, 7)                  # the up-sampling is exactly nearest-neighbour
        assert torch.equal(resize(y), resize.conv(F.interpolate(y, scale_factor=2, mode="nearest")))


def test_minibatch_stddev_channel():
    x = torch.randn(8, 5, 3, 3)
    y = minibatch_stddev(x)
    assert y.shape == (8, 6, 3, 3) and torch.equal(y[:, :5], x)
    same = minibatch_stddev(x[:1].expand(8, -1, -1, -1).contiguous())
    assert same[:, 5].abs().max() < 1e-3 < y[:, 5].min()          # identical images: no spread
    D = Discriminator(cond_dim=4, aux_dim=4, mbstd=True)
    assert D(torch.rand(4, 3, 64, 64) * 2 - 1, torch.rand(4, 4)).shape[0] == 4


# -- StyleEncoder ---------------------------------------------------------------------------
def test_style_encoder_averages_over_references():
    torch.manual_seed(0)
    E = StyleEncoder(style_dim=16).eval()
    refs = img(2, 3, 3, 64, 64)
    code = E(refs)
    assert code.shape == (2, 16)
    singles = torch.stack([E(refs[:, k]) for k in range(3)], 1)
    torch.testing.assert_close(code, singles.mean(1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(E(refs.flip(1)), code, atol=1e-5, rtol=1e-5)   # order does not matter
    assert E(img(1, 1, 3, 100, 72)).shape == (1, 16)                          # any size of reference
    assert (E(refs[:1]) - E(refs[1:])).abs().max() > 1e-4


def test_style_encoder_sees_colour_shift():
    E = StyleEncoder(style_dim=8).eval()
    x = img(1, 3, 64, 64) * 0.5
    warm = x + torch.tensor([0.3, 0.0, -0.3]).view(1, 3, 1, 1)
    assert (E(x) - E(warm)).abs().max() > 1e-3


# -- LookGenerator (§3.2) ------------------------------------------------------------------
VARIANTS = [dict(), dict(backbone="unet"), dict(head="rgb"), dict(head="rgb", backbone="unet"), dict(head="params")]


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(kw.values()) or "default")
@pytest.mark.parametrize("hw", [(64, 64), (128, 128), (72, 100)])
def test_look_generator_is_identity_at_init_and_keeps_size(kw, hw):
    torch.manual_seed(0)
    G = LookGenerator(style_dim=8, ngf=8, n_blocks=1, **kw)
    x = img(2, 3, *hw)
    out = G(x, torch.randn(2, 8), torch.rand(2, 3))
    assert out.shape == x.shape
    torch.testing.assert_close(out, x, rtol=0, atol=2e-6)
    G.eval()
    torch.testing.assert_close(G(x[:1], torch.randn(1, 8), torch.rand(1, 3)), x[:1], rtol=0, atol=2e-6)


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(kw.values()) or "default")
@pytest.mark.parametrize("hw", [(64, 64), (128, 128), (72, 100)])
def test_look_generator_range_after_training_starts(kw, hw):
    torch.manual_seed(0)
    G = randomise_zero_init(LookGenerator(style_dim=8, ngf=8, n_blocks=1, **kw), scale=0.5)
    x = img(2, 3, *hw)
    out = G(x, torch.randn(2, 8), torch.rand(2, 3))
    assert out.shape == x.shape and out.abs().max() <= 1
    assert (out - x).abs().mean() > 1e-3


def test_look_generator_default_settings_and_large_input():
    G = LookGenerator().eval()
    assert (G.style_dim, G.cond_dim, G.head, G.work_size) == (64, 3, "color", 64)
    x = img(1, 3, 300, 500)
    with torch.no_grad():
        out = G(x, torch.randn(1, 64), torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(out, x, rtol=0, atol=2e-6)


def test_colour_head_depends_on_style_and_condition():
    torch.manual_seed(0)
    G = randomise_zero_init(LookGenerator(style_dim=4, ngf=8, n_blocks=1), scale=0.2).eval()
    x, s, c = img(1, 3, 64, 64), torch.randn(1, 4), torch.tensor([[0.0, 0.0, 1.0]])
    base = G(x, s, c)
    assert (G(x, s + 1, c) - base).abs().max() > 1e-3
    assert (G(x, s, c + 0.5) - base).abs().max() > 1e-3


def test_params_head_renders_its_sliders_with_the_look_editor():
    from influencer_gan import looks as L
    torch.manual_seed(0)
    G = randomise_zero_init(LookGenerator(style_dim=4, head="params"), scale=0.3).eval()
    x01, s, c = img(2, 3, 48, 80) * 0.5 + 0.5, torch.randn(2, 4), torch.rand(2, 3)
    p = G.look_params(x01, s, c)
    assert p.shape == (2, L.N_PARAMS) and (p[:, -1] == 0).all() and p[:, :-1].abs().sum() > 0
    # the output *is* the editor's rendering of those sliders, grain off, at full resolution
    torch.testing.assert_close((G(x01 * 2 - 1, s, c) + 1) / 2, L.apply(x01, p, grain=False),
                               rtol=0, atol=1e-5)
    assert (G.look_params(x01, s + 1, c) - p).abs().max() > 1e-4
    assert (G.look_params(x01, s, c + 0.5) - p).abs().max() > 1e-4
    with pytest.raises(RuntimeError, match="params"):
        LookGenerator(style_dim=4).look_params(x01, s, c)


def test_colour_transform_matches_interpolate_reference():
    g = torch.Generator().manual_seed(0)
    x01 = torch.rand(2, 3, 37, 53, generator=g)
    coeffs = torch.randn(2, 3 * 13, 5, 7, generator=g)
    up = F.interpolate(coeffs, size=(37, 53), mode="bilinear", align_corners=False)
    r, gg, b = x01[:, 0:1], x01[:, 1:2], x01[:, 2:3]
    phi = torch.cat([torch.ones_like(r), r, gg, b, r * r, gg * gg, b * b, r * gg, r * b, gg * b,
                     r ** 3, gg ** 3, b ** 3], 1)
    ref = torch.einsum("bckhw,bkhw->bchw", up.view(2, 3, 13, 37, 53), phi)
    out = apply_colour_transform(x01, coeffs, "cubic", chunk_pixels=500)    # several row chunks
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    R = interpolation_matrix(4, 9)
    torch.testing.assert_close(R.sum(1), torch.ones(9))


def test_inward_clamp_passes_only_gradients_that_pull_back_in():
    x = torch.tensor([-1.5, -1.5, 0.3, 1.2, 1.2], requires_grad=True)
    y = inward_clamp(x)
    torch.testing.assert_close(y.detach(), torch.tensor([-1.0, -1.0, 0.3, 1.0, 1.0]))
    # descent direction is -grad: outward pushes are dropped, inward pulls and in-range pass
    y.backward(torch.tensor([1.0, -1.0, 2.0, -1.0, 1.0]))
    torch.testing.assert_close(x.grad, torch.tensor([0.0, -1.0, 2.0, 0.0, 1.0]))


def test_look_generator_rejects_bad_options():
    for kw in (dict(backbone="vgg"), dict(head="lut"), dict(basis="quartic"), dict(work_size=60)):
        with pytest.raises(ValueError):
            LookGenerator(**kw)


# -- Discriminator ----------------------------------------------------------------------------
@pytest.mark.parametrize("size,patches", [(64, 6), (128, 14)])
def test_discriminator_patch_logits(size, patches):
    torch.manual_seed(0)
    D = Discriminator(cond_dim=5, ndf=8)
    out = D(img(2, 3, size, size), torch.randn(2, 5))
    assert out.shape == (2, 1, patches, patches)
    assert Discriminator(cond_dim=0, ndf=8)(img(1, 3, size, size)).shape == (1, 1, patches, patches)


def test_discriminator_projection_uses_condition():
    torch.manual_seed(0)
    D = Discriminator(cond_dim=5, ndf=8).eval()
    x = img(1, 3, 64, 64)
    c = torch.randn(1, 5)
    assert (D(x, c) - D(x, -c)).abs().max() > 1e-4
    with pytest.raises(ValueError):
        D(x)
    assert D.stats_net is not None                                   # on by default for RGB
    assert Discriminator(in_channels=1, ndf=8).stats_net is None


def test_discriminator_global_colour_statistics_branch():
    torch.manual_seed(0)
    D = Discriminator(cond_dim=5, ndf=8, global_stats=True).eval()
    x, c = img(2, 3, 64, 64), torch.randn(2, 5)
    out = D(x, c)
    assert out.shape == (2, 1, 6, 6)
    warm = (x + torch.tensor([0.4, 0.0, -0.4]).view(1, 3, 1, 1)).clamp(-1, 1)
    # a global colour shift moves every patch's logit by the same image-level amount, plus local changes
    assert (D(warm, c) - out).abs().mean() > 1e-4
    D.zero_grad()
    D(x, c).mean().backward()
    for name, p in D.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_discriminator_receptive_field_is_70():
    torch.manual_seed(0)
    D = Discriminator(cond_dim=0, ndf=4, spectral_norm=False, global_stats=False)
    x = torch.randn(1, 3, 160, 160, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad.abs().sum((0, 1)).sum(1)).flatten()
    cols = torch.nonzero(x.grad.abs().sum((0, 1)).sum(0)).flatten()
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


# -- the whole chain: gradients reach every parameter of E, G and D --------------------------
@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(kw.values()) or "default")
def test_gradients_reach_every_parameter_of_E_G_D(kw):
    torch.manual_seed(0)
    E = StyleEncoder(style_dim=8, nef=8)
    G = randomise_zero_init(LookGenerator(style_dim=8, ngf=8, n_blocks=1, **kw))
    D = Discriminator(cond_dim=8 + 3, ndf=8)
    x, refs, c = img(2, 3, 64, 64), img(2, 2, 3, 64, 64, seed=1), torch.rand(2, 3)
    s = E(refs)
    logits = D(G(x, s, c), torch.cat([s, c], 1))
    logits.mean().backward()
    for net_name, net in (("E", E), ("G", G), ("D", D)):
        for name, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{net_name}.{name}"


def test_gradients_reach_every_parameter_of_avatar_generator():
    torch.manual_seed(0)
    G = randomise_zero_init(AvatarGenerator(input_dim=16, style_dim=3, condition_dim=4))
    D = Discriminator(cond_dim=7, ndf=8)
    s, c = torch.randn(2, 3), torch.randn(2, 4)
    D(G(torch.randn(2, 16), s, c), torch.cat([s, c], 1)).mean().backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_discriminator_auxiliary_classifier_of_ac_gan():
    torch.manual_seed(0)
    D = Discriminator(cond_dim=5, ndf=8, aux_dim=7).eval()  # eval: spectral norm's power step is fixed
    x, cond = img(3, 3, 64, 64), torch.randn(3, 5)
    logits, aux = D(x, cond, return_aux=True)
    torch.testing.assert_close(logits, D(x, cond))
    assert aux.shape == (3, 7)
    aux.sum().backward()
    assert D.aux.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="auxiliary"):
        Discriminator(cond_dim=5, ndf=8)(x, cond, return_aux=True)


def test_count_parameters():
    D = Discriminator(cond_dim=0, ndf=8, n_layers=1, spectral_norm=False, global_stats=False)
    # conv 3->8 (4x4) + conv 8->16 (4x4) + conv 16->1 (4x4), with biases
    assert count_parameters(D) == (3 * 8 * 16 + 8) + (8 * 16 * 16 + 16) + (16 * 16 + 1)


# -- colour statistics: the binned histogram, NaN-safe spreads, the colour critic --------------
def _triangular_histogram(v, bins):
    """The reference: compare every value with every bin centre (what the binning replaces)."""
    centres = (torch.arange(bins, dtype=v.dtype) + 0.5) / bins
    w = (1 - (v.unsqueeze(-1) - centres).abs() * bins).clamp(min=0)
    return (w / w.sum(-1, keepdim=True).clamp(min=1e-6)).mean(2)


def test_binned_histogram_equals_triangular_kernels_and_their_gradient():
    from influencer_gan.models import _soft_histogram
    g = torch.Generator().manual_seed(0)
    v = torch.rand(3, 4, 500, generator=g, dtype=torch.float64)
    v[0, 0, :20], v[0, 0, 20:40] = 0.0, 1.0            # values beyond the outer centres
    v.requires_grad_(True)
    weights = torch.arange(8, dtype=torch.float64) ** 2
    h_ref, h = _triangular_histogram(v, 8), _soft_histogram(v, 8)
    assert torch.allclose(h, h_ref, atol=1e-12)
    assert torch.allclose(h.sum(-1), torch.ones(3, 4, dtype=torch.float64))
    g_ref, = torch.autograd.grad((h_ref * weights).sum(), v)
    g_new, = torch.autograd.grad((_soft_histogram(v, 8) * weights).sum(), v)
    assert torch.allclose(g_new, g_ref, atol=1e-10) and g_new.abs().sum() > 0


def test_colour_statistics_are_finite_in_a_double_backward_on_constant_images():
    # R1 (a gradient penalty) differentiates twice; std() of a constant channel gave NaN there
    from influencer_gan.models import ColourCritic
    x = torch.rand(3, 3, 32, 32)
    x[0] = 0.5                       # a flat grey crop
    x[1, 2] = 0.0                    # one constant channel
    x.requires_grad_(True)
    for D in (ColourCritic(cond_dim=0, hidden=16), Discriminator(cond_dim=0, ndf=4, n_layers=1)):
        grad, = torch.autograd.grad(D(x * 2 - 1).sum(), x, create_graph=True)
        (grad ** 2).sum().backward()
        assert torch.isfinite(grad).all() and torch.isfinite(x.grad).all()
        x.grad = None


def test_colour_critic_ignores_grain_and_reads_colour_and_condition():
    from influencer_gan import looks as L
    from influencer_gan.models import ColourCritic
    torch.manual_seed(0)
    D = ColourCritic(cond_dim=5, hidden=32, size=16, spectral_norm=False).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 16, 16, generator=g)
    img = torch.nn.functional.interpolate(x, size=64, mode="bilinear", align_corners=False)
    cond = torch.randn(4, 5, generator=g)
    grainy = L.apply(img, L.Look(grain=0.8), grain=True, seed=3)
    warm = L.apply(img, "golden_hour", grain=False)
    base = D(img * 2 - 1, cond)
    assert base.shape == (4, 1, 1, 1)
    # heavy grain (σ ≈ 0.05 per pixel) barely moves D: a 4×4 box filter averages it away
    grain_change = (D(grainy * 2 - 1, cond) - base).abs().mean()
    look_change = (D(warm * 2 - 1, cond) - base).abs().mean()
    assert grain_change < 0.2 * look_change
    assert (D(img * 2 - 1, -cond) - base).abs().mean() > 0


def test_c_route_edit_applies_c_by_its_definition():
    """With c_route="edit", G's CBNs read the style code alone and c is looks.personal_edit of
    G's full-strength look: strength 0 is the photo, and every slider does what it says."""
    from influencer_gan import looks as L
    torch.manual_seed(0)
    G = randomise_zero_init(LookGenerator(style_dim=4, ngf=8, n_blocks=1, work_size=32, c_route="edit"), scale=0.3).eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    s = torch.randn(3, 4)
    with torch.no_grad():
        full = G.full_look(x, s, torch.zeros(3, 3))
        assert torch.equal(G(x, s, torch.tensor([[0.0, 0.0, 0.0]] * 3)), x)
        assert (G(x, s, torch.tensor([[0.0, 0.0, 1.0]] * 3)) - full).abs().max() < 1e-5
        c = torch.tensor([[0.5, -0.3, 0.6]] * 3)
        want = L.personal_edit((x + 1) / 2, (full + 1) / 2, c[:, 0], c[:, 1], c[:, 2]) * 2 - 1
        assert (G(x, s, c) - want).abs().max() < 1e-5
        assert (full - x).abs().mean() > 1e-3          # the randomised G really edits
    assert G.condition(x, s, c).shape == (3, 4)        # the CBNs read the style code alone
    with pytest.raises(ValueError, match="c_route"):
        LookGenerator(c_route="both")


def test_joint_colour_critic_compares_the_image_with_the_references():
    """d_cond="joint": the critic's MLP reads the image's colour statistics, the references'
    (first in cond) and their difference; it needs the statistics in cond."""
    from influencer_gan.models import ColourCritic, N_STATS, shrunk_statistics
    torch.manual_seed(0)
    D = ColourCritic(cond_dim=N_STATS + 3, hidden=32, joint=True)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    ref = shrunk_statistics(torch.rand(4, 3, 3, 32, 32) * 2 - 1)
    out = D(x, torch.cat([ref, torch.zeros(4, 3)], 1))
    assert out.shape == (4, 1, 1, 1)
    assert not torch.allclose(out, D(x, torch.cat([ref.roll(1, 0), torch.zeros(4, 3)], 1)))
    with pytest.raises(ValueError, match="statistics"):
        ColourCritic(cond_dim=8, joint=True)


def test_legendre_basis_spans_the_cubic_one_and_starts_at_the_identity():
    from influencer_gan.models import colour_basis
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    leg = torch.cat(colour_basis(x, "legendre"), 1)[0].flatten(1)   # (13, pixels)
    cub = torch.cat(colour_basis(x, "cubic"), 1)[0].flatten(1)
    coef = torch.linalg.lstsq(leg.T.double(), cub.T.double()).solution   # cubic terms from Legendre ones
    assert (leg.T.double() @ coef - cub.T.double()).abs().max() < 1e-9
    G = LookGenerator(style_dim=4, ngf=8, n_blocks=1, work_size=32, basis="legendre").eval()
    xn = torch.rand(2, 3, 40, 40) * 2 - 1
    with torch.no_grad():
        assert (G(xn, torch.randn(2, 4), torch.zeros(2, 3)) - xn).abs().max() < 1e-6

"""Texture looks (`textures.py`): exact at strength 0, deterministic, batched, scale-aware, on any
device; named looks and a seeded prior; and the point of the issue — a colour editor cannot paint."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from influencer_gan import metrics as M
from influencer_gan import textures as T
from influencer_gan.photos import _photo

torch.set_num_threads(1)
NAMES = list(T.NAMED_TEXTURES)


def photo(size=96, name="coffee"):
    """The centre square of a bundled photo, `size` px, (1, 3, size, size)."""
    p = _photo(name)
    h, w = p.shape[-2:]
    s = min(h, w)
    sq = p[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return F.interpolate(sq[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def mad(a, b):
    return float((a - b).abs().mean())


def test_named_looks_exist_and_unknown_names_fail():
    assert {"oil_paint", "cartoon", "pencil_sketch", "watercolour"} <= set(NAMES)
    for name, look in T.NAMED_TEXTURES.items():
        assert look.name == name and look.kind in T.RENDERERS and look.description
        assert set(look.kwargs()) <= set(T.PRIOR_RANGES[look.kind])     # every parameter has a prior range
    with pytest.raises(ValueError, match="unknown texture look"):
        T.apply(photo(32), "sepia_oil")
    with pytest.raises(ValueError, match="unknown texture kind"):
        T.TextureLook.make("x", "mosaic")


def test_strength_zero_is_the_photo_and_strength_one_paints():
    x = photo(96)
    for name in NAMES:
        assert torch.equal(T.apply(x, name, strength=0.0), x), name
        full = T.apply(x, name)
        assert mad(full, x) > 0.03, name                                   # clearly a different picture
        assert M.ssim(full, x) < 0.9, name
        half = T.apply(x, name, strength=0.5)
        assert torch.allclose(half, torch.lerp(x, full, 0.5), atol=1e-6), name
    s = torch.tensor([0.0, 1.0])                                           # one strength per image
    out = T.apply(x.repeat(2, 1, 1, 1), "oil_paint", strength=s)
    assert torch.equal(out[0], x[0]) and torch.allclose(out[1], T.apply(x, "oil_paint")[0], atol=1e-6)


def test_deterministic_range_shapes_and_seed():
    x = torch.rand(2, 3, 40, 72, generator=torch.Generator().manual_seed(0))
    for name in NAMES:
        a, b = T.apply(x, name, seed=3), T.apply(x, name, seed=3)
        assert torch.equal(a, b), name
        assert a.shape == x.shape and a.dtype == x.dtype and 0 <= a.min() and a.max() <= 1, name
        assert torch.equal(T.apply(x[0], name, seed=3), a[0]), name       # (3, H, W) in, (3, H, W) out
        quiet = T.apply(x, name, seed=3, texture=False)
        assert torch.equal(quiet, T.apply(x, name, seed=4, texture=False)), name   # no seed without texture
    oil = photo(96)
    assert mad(T.apply(oil, "oil_paint", seed=0), T.apply(oil, "oil_paint", seed=1)) > 1e-3   # the seed draws strokes
    with pytest.raises(ValueError, match="at least 16"):
        T.apply(torch.rand(1, 3, 8, 64), "cartoon")


def test_a_batch_renders_like_its_images_one_by_one():
    x = torch.cat([photo(64, "coffee"), photo(64, "chelsea"), photo(64, "astronaut")])
    for name in NAMES:
        batch = T.apply(x, name, seed=5)
        single = torch.cat([T.apply(x[i:i + 1], name, seed=5) for i in range(3)])
        assert torch.allclose(batch, single, atol=1e-5), name
    looks = ["oil_paint", "pencil_sketch", "oil_paint"]                   # one look per image
    mixed = T.apply(x, looks, seed=5)
    for i, name in enumerate(looks):
        assert torch.allclose(mixed[i], T.apply(x[i], name, seed=5), atol=1e-5)


def test_scale_aware():
    big, small = photo(256, "chelsea"), photo(128, "chelsea")
    for name in NAMES:
        down = F.interpolate(T.apply(big, name, texture=False), size=(128, 128), mode="bilinear",
                             antialias=True, align_corners=False)
        direct = T.apply(small, name, texture=False)
        # the render of the small photo is much closer to the downsampled render than the photo is
        assert mad(down, direct) < 0.5 * mad(down, small), name
    # a crop rendered with the whole picture's side looks like that part of the whole render
    whole = T.apply(big, "oil_paint", texture=False)
    crop = T.apply(big[..., 64:192, 64:192], "oil_paint", texture=False, side=256)
    own = T.apply(big[..., 64:192, 64:192], "oil_paint", texture=False)
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))
    assert mad(crop[inner], whole[..., 64:192, 64:192][inner]) < 0.01
    assert mad(own[inner], whole[..., 64:192, 64:192][inner]) > mad(crop[inner], whole[..., 64:192, 64:192][inner])


def test_random_texture_prior_and_its_seed_split():
    a = T.random_texture(7)
    assert a == T.random_texture(7) and a.name == "texture_prior_7" and "training" in a.description
    looks = [T.random_texture(s) for s in range(40)]
    assert {lk.kind for lk in looks} == set(T.RENDERERS)                  # every kind is drawn
    held = [T.random_texture(T.HELD_OUT_SEED + s) for s in range(5)]
    assert all("held-out" in lk.description for lk in held)
    assert not {lk.params for lk in held} & {lk.params for lk in looks}   # unseen looks are new
    for lk in looks[:40]:
        for k, v in lk.kwargs().items():
            lo, hi = T.PRIOR_RANGES[lk.kind][k]
            assert lo - 1e-9 <= v <= hi + 1e-9 or (k == "colour" and v == 0.0)
    x = photo(48)
    for lk in looks[:4]:
        y = T.apply(x, lk)
        assert 0 <= y.min() and y.max() <= 1 and mad(y, x) > 0.01
    with pytest.raises(ValueError):
        T.random_texture(-1)


def _best_colour_edit(photo_img, target):
    """The best global colour mapping of a cubic polynomial in (r, g, b) — 20 terms per output
    channel, which contains every per-channel cubic tone curve and every channel mixer — fitted
    by least squares from the photo to the target: the most a colour editor could do here."""
    p = photo_img[0].reshape(3, -1).T.double()
    r, g, b = p.T
    terms = [torch.ones_like(r)]
    for i in range(4):
        for j in range(4 - i):
            for k in range(4 - i - j):
                if 0 < i + j + k <= 3:
                    terms.append(r ** i * g ** j * b ** k)
    A = torch.stack(terms, 1)
    assert A.shape[1] == 20
    coef = torch.linalg.lstsq(A, target[0].reshape(3, -1).T.double()).solution
    return (A @ coef).T.reshape(target.shape).float().clamp(0, 1)


def test_a_colour_editor_cannot_paint():
    """The best colour edit reaches a fair ΔE2000 but not the structure: its SSIM to the look
    stays below the issue's target of 0.85 for a generator (the look's own SSIM is 1)."""
    photos = [photo(256, "astronaut"), photo(256, "chelsea")]
    ceilings = {"oil_paint": 0.8, "cartoon": 0.85, "pencil_sketch": 0.75}
    for name, ceiling in ceilings.items():
        scores = []
        for x in photos:
            look = T.apply(x, name)
            fit = _best_colour_edit(x, look)
            scores.append(M.ssim(fit, look))
            assert M.delta_e2000(fit, look) < M.delta_e2000(x, look), name   # a real colour edit
        assert np.mean(scores) < ceiling, (name, scores)
    # the oil look without its texture (what evaluation compares against) is no colour edit either
    x = photos[1]
    look = T.apply(x, "oil_paint", texture=False)
    assert M.ssim(_best_colour_edit(x, look), look) < 0.85
    assert M.ssim(look, look) == pytest.approx(1.0)


def test_building_blocks():
    y = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(1))
    x = y.expand(1, 3, 48, 48)
    hard = T.quantize_luma(x, 4, 50.0)
    tones = torch.tensor([0.0, 1 / 3, 2 / 3, 1.0]).view(-1, 1)
    dist = (T.luma(hard).reshape(1, -1) - tones).abs().amin(0)
    assert float((dist < 0.01).float().mean()) > 0.9                     # almost every pixel on a tone
    assert torch.allclose(T.quantize_luma(x, 4, 1e-3), x, atol=1e-3)     # soft limit: the identity
    c = torch.rand(1, 3, 16, 16)
    assert torch.allclose(T.pigment_density(c, torch.ones(1, 1, 16, 16)), c)
    assert (T.pigment_density(c, torch.full((1, 1, 16, 16), 1.5)) <= c + 1e-7).all()
    flat = torch.full((1, 3, 40, 40), 0.5)
    assert torch.allclose(T.anisotropic_kuwahara(flat, 4.0), flat, atol=1e-5)
    step = torch.zeros(1, 3, 40, 40)
    step[..., 20:] = 1.0
    k = T.anisotropic_kuwahara(step, 4.0)
    assert float(k[..., 15]. mean()) < 0.05 and float(k[..., 24].mean()) > 0.95     # edges stay sharp
    assert T.canvas_weave(32, 32, 1.5, "cpu", torch.float32).abs().max() == 0       # no aliasing
    assert torch.equal(T.smooth_noise(20, 30, 4.0, 9, "cpu", torch.float32),
                       T.smooth_noise(20, 30, 4.0, 9, "cpu", torch.float32))


def test_texture_scores():
    x = photo(96)
    truth = T.apply(x, "oil_paint", texture=False)
    same = M.texture_scores(truth, truth)
    assert same["ssim"] == pytest.approx(1.0) and same["delta_e"] < 1e-6
    assert same["structure"] == 0 and same["texture_energy"] == 0
    blurry = T.gaussian_blur(truth, 2.0)
    s = M.texture_scores(blurry, truth)
    assert s["texture_energy"] < -0.2 and s["structure"] > 0.2            # the blur of an L1 regression shows
    busy = M.texture_scores(T.apply(x, "oil_paint"), truth)
    assert busy["texture_energy"] > 0                                       # strokes and canvas add texture
    assert set(same) == {"delta_e", "ssim", "psnr", "structure", "texture_energy"}
    with pytest.raises(ValueError):
        M.texture_scores(truth, truth[..., :64])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (the renderer itself needs none)")
def test_cuda_matches_cpu():
    x = photo(96)
    for name in NAMES:
        a = T.apply(x, name, seed=2)
        b = T.apply(x.cuda(), name, seed=2)
        assert b.is_cuda and float((a - b.cpu()).abs().mean()) < 2e-3, name


def test_runs_without_cuda(monkeypatch):
    """Nothing in the renderer touches CUDA when the image is on the CPU."""
    def no_cuda(*a, **k):
        raise AssertionError("CUDA touched")
    monkeypatch.setattr(torch.cuda, "is_available", no_cuda)
    monkeypatch.setattr(torch.cuda, "current_device", no_cuda)
    x = photo(48)
    for name in NAMES:
        assert T.apply(x, name).device.type == "cpu"
    assert np.isfinite(M.texture_scores(x, T.apply(x, "cartoon"))["structure"])

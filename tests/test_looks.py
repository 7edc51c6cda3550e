"""Tests of the looks: exact identity, batching, gradients, strength of every look, the c knobs."""
from functools import lru_cache

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.color import deltaE_ciede2000, rgb2lab

from influencer_gan import looks as L
from influencer_gan.data import load_photos

torch.set_num_threads(1)


@lru_cache(maxsize=1)
def held_out():
    """The held-out test photos, shrunk 4x (fast, and still real photographs)."""
    return [F.interpolate(p[None], scale_factor=0.25, mode="bilinear", antialias=True)[0].clamp(0, 1)
            for _, p in load_photos("test")]


def lab(x):
    return rgb2lab(x.permute(1, 2, 0).double().numpy())


def delta_e(a, b):
    return float(deltaE_ciede2000(lab(a), lab(b)).mean())


def stats(x):
    """Lab statistics that the looks claim to move."""
    lab_ = lab(x)
    light, a, b = lab_[..., 0], lab_[..., 1], lab_[..., 2]
    lo, hi = light < np.percentile(light, 33), light > np.percentile(light, 67)
    return dict(L=light.mean(), black=np.percentile(light, 1), a=a.mean(), b=b.mean(),
                C=np.hypot(a, b).mean(), split=b[hi].mean() - b[lo].mean(),
                hue=np.degrees(np.arctan2(b.mean(), a.mean())))


def colourfulness(x):
    """Hasler and Süsstrunk's colourfulness metric."""
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    return float(torch.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def test_parameter_vector_layout():
    assert L.N_PARAMS == len(L.PARAM_NAMES) == L.IDENTITY.vector().numel()
    assert L.COND_NAMES == ("vivid", "warmth", "strength") and L.COND_DIM == 3
    assert len(L.NAMED) >= 8
    assert torch.equal(L.IDENTITY.vector(), torch.zeros(L.N_PARAMS))
    for look in L.NAMED.values():
        v = look.vector()
        assert v.shape == (L.N_PARAMS,) and v.abs().max() <= 2.5 and look.description
        assert torch.equal(L.Look.from_vector(v, name=look.name).vector(), v)
    with pytest.raises(ValueError, match="entries"):
        L.Look.from_vector(torch.zeros(3))
    with pytest.raises(ValueError, match="unknown look 'nope'"):
        L.apply(torch.rand(3, 8, 8), "nope")


def test_identity_is_exact():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 16, 20, generator=g)
    assert torch.equal(L.apply(x, L.IDENTITY), x)
    assert torch.equal(L.apply(x, torch.zeros(4, L.N_PARAMS)), x)
    for name in L.NAMED:  # strength 0 cancels the look, the knobs and the grain
        assert torch.equal(L.apply(x, name, vivid=0.8, warmth=-0.6, strength=0.0, grain=True, seed=3), x)
    assert torch.equal(L.apply(x, "noir", strength=torch.tensor([0.0, 1.0, 0.0, 0.5]))[[0, 2]], x[[0, 2]])


def test_batched_per_sample_parameters_match_single_images():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 12, 12, generator=g)
    p = torch.stack([L.NAMED["golden_hour"].vector(), L.random_look(5).vector(), L.NAMED["noir"].vector()])
    vivid, warmth, strength = torch.tensor([0.5, -1.0, 0.0]), torch.tensor([0.0, 0.3, 1.0]), torch.tensor([1.0, 0.4, 1.2])
    seeds = [11, 12, 13]
    batch = L.apply(x, p, vivid, warmth, strength, grain=True, seed=seeds)
    for i in range(3):
        one = L.apply(x[i], p[i], float(vivid[i]), float(warmth[i]), float(strength[i]), grain=True, seed=seeds[i])
        assert one.shape == (3, 12, 12)
        assert torch.allclose(batch[i], one, atol=1e-6)
    assert torch.equal(L.apply(x, p, seed=4), L.apply(x, p, seed=4))  # deterministic
    assert not torch.equal(L.apply(x, "noir", seed=4), L.apply(x, "noir", seed=5))  # grain follows the seed
    assert 0.0 <= float(batch.min()) and float(batch.max()) <= 1.0


def test_differentiable_in_image_and_parameters():
    g = torch.Generator().manual_seed(2)
    x = (0.25 + 0.5 * torch.rand(2, 3, 5, 5, generator=g, dtype=torch.float64)).requires_grad_()
    p = (0.3 * torch.randn(2, L.N_PARAMS, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, p: L.apply(x, p, vivid=0.2, warmth=0.1, grain=False), (x, p))
    x32 = torch.rand(8, 3, 16, 16, generator=g, requires_grad=True)
    p32 = torch.stack([lk.vector() for lk in L.NAMED.values()][:8]).requires_grad_()
    L.apply(x32, p32, grain=True).square().mean().backward()
    assert torch.isfinite(x32.grad).all() and x32.grad.abs().sum() > 0
    assert (p32.grad.abs().sum(0) > 0).sum() >= L.N_PARAMS - 1


@pytest.mark.parametrize("name", list(L.NAMED))
def test_named_look_is_strong(name):
    """Doing nothing must be clearly wrong: mean CIEDE2000 >= 8 on the held-out photos."""
    des = [delta_e(x, L.apply(x, name, grain=False)) for x in held_out()]
    assert np.mean(des) >= 8.0, des


# What each named look claims to do, as a change of Lab statistics, on every test photo.
CLAIMS = {
    "golden_hour": lambda s, t: t["b"] - s["b"] >= 10 and t["a"] > s["a"],            # warmer
    "teal_orange": lambda s, t: t["split"] - s["split"] >= 15,                         # b* apart
    "pastel": lambda s, t: t["L"] - s["L"] >= 10 and t["black"] - s["black"] >= 10,    # bright, soft
    "faded_film": lambda s, t: t["black"] - s["black"] >= 15 and t["C"] < s["C"],      # lifted blacks
    "noir": lambda s, t: t["C"] < 1.0,                                                 # no colour
    "neon_night": lambda s, t: s["b"] - t["b"] >= 10 and t["L"] < s["L"],              # cool, dark
    "clean_minimal": lambda s, t: t["L"] - s["L"] >= 10 and s["C"] - t["C"] >= 5,      # bright, calm
    "vivid_pop": lambda s, t: t["C"] - s["C"] >= 20,                                    # more chroma
    "moody_forest": lambda s, t: s["L"] - t["L"] >= 10 and s["a"] - t["a"] >= 10,      # dark, green
    "vintage_sepia": lambda s, t: t["C"] < s["C"] and 55 <= t["hue"] <= 100 and t["black"] > s["black"],
}


def test_every_named_look_has_a_claim():
    assert set(CLAIMS) == set(L.NAMED)


@pytest.mark.parametrize("name", list(L.NAMED))
def test_named_look_moves_its_statistic(name):
    for x in held_out():
        s, t = stats(x), stats(L.apply(x, name, grain=False))
        assert CLAIMS[name](s, t), (name, s, t)


def test_c_knobs_move_their_statistics():
    for x in held_out():
        for look in ["identity"] + list(L.NAMED):
            base = L.apply(x, look, grain=False)
            warm, cool = L.apply(x, look, warmth=1.0, grain=False), L.apply(x, look, warmth=-1.0, grain=False)
            assert stats(warm)["b"] > stats(base)["b"] + 2 > stats(cool)["b"] + 4, look
            if look in ("noir", "vivid_pop"):  # nothing to mute / already at the limit
                continue
            more, less = L.apply(x, look, vivid=1.0, grain=False), L.apply(x, look, vivid=-1.0, grain=False)
            assert colourfulness(more[None]) > 1.1 * colourfulness(base[None]) > 1.2 * colourfulness(less[None]), look
        des = [delta_e(x, L.apply(x, "pastel", strength=s, grain=False)) for s in (0.0, 0.25, 0.5, 1.0, 1.5)]
        assert des[0] == 0.0 and all(a < b for a, b in zip(des, des[1:])), des


def test_personalize_is_the_documented_formula():
    p = L.NAMED["golden_hour"].vector()
    out = L.personalize(p, vivid=0.5, warmth=-0.25, strength=0.8)
    assert torch.allclose(out, 0.8 * (p + 0.5 * L.VIVID_DIRECTION - 0.25 * L.WARMTH_DIRECTION))
    assert out.shape == (L.N_PARAMS,)
    i = L.PARAM_NAMES.index
    assert L.VIVID_DIRECTION[i("saturation")] > 0 and L.VIVID_DIRECTION[i("vibrance")] > 0
    assert L.WARMTH_DIRECTION[i("temperature")] > 0
    assert L.personalize(p, vivid=torch.zeros(4)).shape == (4, L.N_PARAMS)
    assert L.personalize(p.repeat(3, 1), strength=torch.tensor([0.0, 1.0, 2.0]))[0].abs().sum() == 0
    assert torch.equal(L.condition_vector(0.5, -1, 0.3), torch.tensor([0.5, -1.0, 0.3]))


def test_grain_is_texture_not_colour():
    x = held_out()[0]
    clean, grainy = L.apply(x, "faded_film", grain=False), L.apply(x, "faded_film", grain=True, seed=1)
    noise = grainy - clean
    assert noise.std() > 0.02                                     # visible texture ...
    assert (noise[0] - noise[1]).abs().mean() < 0.1 * noise[0].abs().mean()  # monochrome
    assert F.avg_pool2d(noise[None], 8).abs().mean() < 0.01      # ... that averages out
    weak = L.apply(x, "faded_film", strength=0.5, grain=True, seed=1) - L.apply(x, "faded_film", strength=0.5, grain=False)
    assert weak.std() < 0.7 * noise.std()                         # grain scales with strength


def test_mix_is_a_convex_combination():
    gh, pa = L.NAMED["golden_hour"].vector(), L.NAMED["pastel"].vector()
    m = L.mix("golden_hour:0.7,pastel:0.3")
    assert torch.allclose(m.vector(), 0.7 * gh + 0.3 * pa, atol=1e-5)
    assert torch.allclose(L.mix({"golden_hour": 2, "pastel": 2}).vector(), 0.5 * (gh + pa), atol=1e-5)
    assert torch.allclose(L.mix([(L.NAMED["noir"], 1.0)]).vector(), L.NAMED["noir"].vector(), atol=1e-5)
    assert L.mix("pastel") is L.NAMED["pastel"]
    for bad in ("golden_hour:x", "nope:1", "golden_hour:-1,pastel:0.5", ""):
        with pytest.raises(ValueError):
            L.mix(bad)


def test_random_look_prior():
    looks = [L.random_look(s) for s in range(24)]
    assert looks[3] == L.random_look(3)                                   # deterministic
    vecs = torch.stack([lk.vector() for lk in looks])
    assert torch.cdist(vecs, vecs).add(torch.eye(24) * 9).min() > 0.3     # all different
    chart = L.color_chart()
    for lk in looks:
        assert L.mean_delta_e(chart, L.apply(chart, lk, grain=False)) >= L.MIN_DELTA_E
    photo = held_out()[1]
    assert np.mean([delta_e(photo, L.apply(photo, lk, grain=False)) for lk in looks[:8]]) >= 8.0
    assert vecs.std(0).min() > 0.05                                       # every slider is used


def test_intensity_condition_is_defined_for_any_look_the_way_photo_apps_do():
    """condition="intensity": strength is the look's intensity (a blend from the photo to the
    look), vivid and warmth adjust after the look; it agrees with the slider definition at
    c = (0, 0, 1) and returns the photo at strength 0, whatever vivid and warmth say."""
    from influencer_gan import filters as FL
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 16, 16, generator=g)
    look = L.NAMED["teal_orange"]
    full = L.apply(x, look, grain=False)
    assert torch.equal(L.apply(x, look, grain=False, condition="intensity"), full)
    assert torch.allclose(L.apply(x, look, vivid=0.7, warmth=-0.4, strength=0.0, grain=False,
                                  condition="intensity"), x, atol=1e-6)
    half = L.apply(x, look, strength=0.5, grain=False, condition="intensity")
    assert torch.allclose(half, (x + full) / 2, atol=1e-6)
    assert torch.equal(L.adjust(full), full)                       # no adjustment: unchanged
    vivid = L.apply(x, look, vivid=1.0, grain=False, condition="intensity")
    assert torch.allclose(vivid, L.adjust(full, vivid=1.0).clamp(0, 1), atol=1e-6)
    sat = lambda im: (im.amax(1) - im.amin(1)).mean()  # noqa: E731
    assert sat(vivid) > sat(full)                                   # vivid: more colourful
    warm = L.adjust(full, warmth=1.0)
    assert (warm[:, 0] - warm[:, 2]).mean() > (full[:, 0] - full[:, 2]).mean()   # warmth: redder
    # per-image strengths, and a look no slider makes
    s = torch.tensor([0.0, 0.5, 1.0])
    styled = FL.render(x, FL.random_filter(1))
    out = L.personal_edit(x, styled, strength=s)
    assert torch.allclose(out[0], x[0]) and torch.allclose(out[2], styled[2], atol=1e-6)
    with pytest.raises(ValueError, match="condition"):
        L.apply(x, look, condition="percent")


def test_adjust_is_the_editor_with_the_personal_directions():
    """`adjust` runs only the editor stages that V and W touch: bit for bit the whole editor."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 9, 13, generator=g)
    for v, w in [(1.0, 0.0), (0.0, 1.0), (-0.7, 0.4), (torch.tensor([0.3, -1.0, 0.0, 1.0]), 0.5)]:
        p = L.personalize(torch.zeros(L.N_PARAMS), v, w, 1.0)
        p = p.expand(4, L.N_PARAMS) if p.dim() == 1 or p.shape[0] == 1 else p
        assert torch.equal(L.adjust(x, v, w), L._pipeline(x, p, None))

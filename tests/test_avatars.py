"""Tests of the procedural avatars: attributes, one-hot codes, masks, determinism, speed."""

import pytest
import torch

from influencer_gan import avatars as A

torch.set_num_threads(1)


def test_attribute_codes_round_trip():
    assert {"hair", "skin", "background", "glasses", "smile"} <= set(A.ATTRIBUTES)
    assert A.ATTR_DIM == sum(len(v) for v in A.ATTRIBUTES.values()) == len(A.ATTR_NAMES)
    for seed in range(20):
        attrs = A.random_attributes(seed)
        v = A.encode(attrs)
        assert v.shape == (A.ATTR_DIM,) and v.sum() == len(A.ATTRIBUTES)
        assert A.decode(v) == attrs
    assert A.random_attributes(3) == A.random_attributes(torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match="'hat'"):
        A.encode({**A.random_attributes(0), "hat": "yes"})
    with pytest.raises(ValueError, match="'green'.*'hair'"):
        A.encode({**A.random_attributes(0), "hair": "green"})
    with pytest.raises(ValueError, match="missing"):
        A.encode({"hair": "red"})


@pytest.mark.parametrize("size", [64, 128])
def test_render_batch_shapes_ranges_and_masks(size):
    out = A.render_batch(6, size, seed=1)
    img, mask, cond = out["img"], out["mask"], out["cond"]
    assert img.shape == (6, 3, size, size) and mask.shape == (6, 1, size, size)
    assert cond.shape == (6, A.ATTR_DIM) and len(out["attrs"]) == 6
    assert img.min() >= 0 and img.max() <= 1
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    # The person is in the middle and at the bottom (shoulders), the top corners are background.
    assert (mask[:, 0, size // 2, size // 2] == 1).all() and (mask[:, 0, -1, size // 2] == 1).all()
    assert (mask[:, 0, 0, 0] == 0).all() and (mask[:, 0, 0, -1] == 0).all()
    assert 0.2 < mask.mean() < 0.7
    for a, c in zip(out["attrs"], cond):
        assert torch.equal(A.encode(a), c)


def test_seeded_and_varied():
    a, b = A.render_batch(4, 64, seed=7), A.render_batch(4, 64, seed=7)
    assert torch.equal(a["img"], b["img"]) and a["attrs"] == b["attrs"]
    c = A.render_batch(4, 64, seed=8)
    assert not torch.equal(a["img"], c["img"])
    # The same attributes with other nuisance draws still differ (position, size, colours).
    same = A.render_batch(2, 64, seed=0, attrs=[a["attrs"][0], a["attrs"][0]])
    assert same["attrs"][0] == same["attrs"][1] and not torch.equal(same["img"][0], same["img"][1])


def test_each_attribute_changes_its_own_region():
    base = A.random_attributes(5)
    img0, mask0 = A.render({**base, "glasses": "no", "smile": "no"}, size=64, seed=5)
    near_person = torch.nn.functional.max_pool2d(mask0[None], 3, 1, 1)[0, 0] > 0  # + anti-aliased rim
    inner_person = -torch.nn.functional.max_pool2d(-mask0[None], 3, 1, 1)[0, 0] > 0  # - the rim
    for key in A.ATTRIBUTES:
        for value in A.ATTRIBUTES[key]:
            attrs = {**base, "glasses": "no", "smile": "no", key: value}
            img, mask = A.render(attrs, size=64, seed=5)
            changed = (img - img0).abs().amax(0) > 0.05
            if attrs == {**base, "glasses": "no", "smile": "no"}:
                assert torch.equal(img, img0)
                continue
            assert changed.sum() > 10, (key, value)
            if key == "background":  # only background pixels change
                assert (changed & inner_person).sum() == 0
            if key in ("glasses", "smile", "skin"):  # inside the person, mask unchanged
                assert torch.equal(mask, mask0) and (changed & ~near_person).sum() == 0


def test_background_colour_is_recoverable_from_the_corner():
    out = A.render_batch(100, 64, seed=3)
    palette = torch.tensor([A.BACKGROUND_RGB[v] for v in A.ATTRIBUTES["background"]])
    corner = out["img"][:, :, 2, 2]
    guess = torch.cdist(corner, palette).argmin(1)
    truth = torch.tensor([A.ATTRIBUTES["background"].index(a["background"]) for a in out["attrs"]])
    assert (guess == truth).float().mean() == 1.0


def test_fixed_attributes():
    # (no timing assertion: a timed unit test fails on a slow or busy laptop; speed targets
    # belong in benchmarks/)
    out = A.render_batch(64, 64, seed=0, attrs={"hair": "red", "smile": "yes"})
    assert all(a["hair"] == "red" and a["smile"] == "yes" for a in out["attrs"])
    img, mask = A.render({"hair": "pink"}, size=128, seed=2)
    assert img.shape == (3, 128, 128) and mask.shape == (1, 128, 128)


def test_drawn_on_any_device_from_the_same_random_numbers():
    """The pixels may be drawn on a GPU (`device=`, what training on CUDA does); the random numbers
    always come from the CPU generator. The meta device stands in for a GPU here: every tensor
    must end up on it, and mixing it with a CPU tensor anywhere would raise."""
    cpu = A.render_batch(6, 32, seed=3)
    assert torch.equal(cpu["img"], A.render_batch(6, 32, seed=3, device="cpu")["img"])
    meta = A.render_batch(6, 32, seed=3, device="meta")
    assert all(meta[k].device.type == "meta" for k in ("img", "mask", "cond"))
    assert meta["attrs"] == cpu["attrs"]
    from influencer_gan.streams import AvatarStream
    b = AvatarStream(32, 4, seed=1, device="meta").batch()
    assert all(v.device.type == "meta" for v in b.values())

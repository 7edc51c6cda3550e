"""Inference API (§3.4): shipped weights load offline; missing weights give a clear error."""
import pytest
import torch

import influencer_gan as ig
from influencer_gan import api


def test_pretrained_avatars_generate_is_seeded():
    torch.set_num_threads(1)
    model = ig.load_pretrained("avatars")
    images, attrs = model.generate(3, attrs={"hair": "red", "glasses": "yes"}, seed=7)
    assert [im.size for im in images] == [(64, 64)] * 3
    assert all(a["hair"] == "red" and a["glasses"] == "yes" for a in attrs)
    again, _ = model.generate(3, attrs={"hair": "red", "glasses": "yes"}, seed=7, return_tensor=True)
    first, _ = model.generate(3, attrs={"hair": "red", "glasses": "yes"}, seed=7, return_tensor=True)
    assert torch.equal(again, first)
    with pytest.raises(ValueError, match="hair"):
        model.generate(1, attrs={"hair": "green-ish"})


def test_pretrained_looks_load_offline_and_beat_doing_nothing():
    """The shipped looks weights (the unpaired recipe, trained without ground truth) on the
    quick protocol: held-out photo, teal_orange and noir at two conditions, against the exact
    ground truth. They clearly beat doing nothing (measured: 0.54 of its error; the margin to
    0.7 is far beyond any CPU's rounding)."""
    from influencer_gan import metrics
    from PIL import Image
    torch.set_num_threads(1)
    model = ig.load_pretrained("looks")
    assert model.config.head == "params"
    ours = metrics.score_looks(*metrics.model_methods(model), quick=True)["named"]["delta_e"]
    nothing = metrics.score_looks(*metrics.identity_methods(), quick=True)["named"]["delta_e"]
    assert ours < 0.7 * nothing, (ours, nothing)
    out = model.stylize(Image.new("RGB", (90, 70), (120, 140, 160)), look="pastel", warmth=0.3)
    assert out.size == (90, 70)


def test_missing_weights_say_so(monkeypatch, tmp_path):
    monkeypatch.setattr(api, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="no weights shipped yet for 'looks'"):
        ig.load_pretrained("looks")
    with pytest.raises(ValueError, match="looks' or 'avatars"):
        ig.load_pretrained("cats")


def test_look_mix_parsing():
    assert api.parse_look_mix("teal_orange:0.7,pastel:0.3") == [("teal_orange", 0.7), ("pastel", 0.3)]
    with pytest.raises(ValueError, match="NAME:WEIGHT"):
        api.parse_look_mix("teal_orange:lots")


def test_weights_that_do_not_fit_their_config_name_the_file(tmp_path):
    """Weights whose shapes disagree with the config inside the file (another package version)
    give a ValueError naming the file and the network, not PyTorch's raw RuntimeError."""
    import json

    import pytest
    from safetensors.torch import load_file, save_file

    from conftest import tiny_model
    from influencer_gan.api import load_model
    tiny_model(tmp_path / "run")
    path = tmp_path / "run" / "model.safetensors"
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    save_file(load_file(str(path)), str(path), metadata={"config": json.dumps({**config, "style_dim": 24}), "step": "0"})
    with pytest.raises(ValueError, match=r"model\.safetensors: the weights of network E do not fit"):
        load_model(tmp_path / "run")


def test_named_look_codes_are_cached_and_safe_to_modify():
    """stylize(look=NAME) reuses the named look's code instead of re-rendering its references;
    the caller gets a copy, so changing it cannot change the model's next answer."""
    import torch

    import influencer_gan as ig
    m = ig.load_pretrained("looks")
    a = m.style_code(look="noir")
    a.add_(1.0)
    b = m.style_code(look="noir")
    assert not torch.equal(a, b) and torch.equal(b, m.style_code(look="noir"))
    mix = m.style_code(look="noir:0.25,pastel:0.75")
    assert torch.allclose(mix, 0.25 * b + 0.75 * m.style_code(look="pastel"), atol=1e-6)

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

"""The style-mixing studio: one refresh computes the ground truth and the GAN's answer."""
import torch

from conftest import tiny_model
from influencer_gan import looks as L
from influencer_gan.studio import Studio


def test_studio_render_and_widget(tmp_path):
    studio = Studio(tiny_model(tmp_path / "r"), size=64)
    r = studio.render("teal_orange", "pastel", mix=0.0)
    assert r["gan"].shape == r["truth"].shape == (3, 64, 64)
    # mix 0 is look A exactly; the untrained generator is the identity, so ΔE is the look's own
    assert torch.allclose(r["truth"], L.apply(studio.image, "teal_orange", grain=False))
    assert torch.allclose(r["gan"], studio.image, atol=1e-5)
    assert r["delta_e"] > 5
    half = studio.render("teal_orange", "pastel", mix=0.5, strength=0.0)
    assert torch.allclose(half["truth"], studio.image, atol=1e-6)      # strength 0 is the identity
    box = studio.widget()
    assert len(box.children) == 4

"""Device consistency of the inference API and the evaluation classifier, checked without a GPU.

A Colab GPU runtime puts the models on "cuda" while images made by the package (renders,
photos, PIL conversions) start on the CPU; one tensor on the wrong side of an operation is a
RuntimeError there and nowhere else. The meta device stands in for the GPU here, as in
tests/test_avatars.py: a model or an image put on it keeps every tensor it makes there, and an
operation that mixes a meta tensor with a CPU tensor raises. (Meta tensors have no values, so
these tests check devices and shapes; tests/test_api.py checks the values on the CPU.)
The last test runs the same calls on a real GPU when there is one.
"""
import contextlib
import inspect

import pytest
import torch
from PIL import Image

import influencer_gan as ig
from influencer_gan import api, metrics


@pytest.fixture
def meta_autocast(monkeypatch):
    """The look generator switches autocast *off* around its slider head
    (`torch.autocast(x.device.type, enabled=False)`); autocast knows no meta device, and turning
    it off is a no-op there, so that one context becomes a null context on meta."""
    real = torch.autocast

    def autocast(device_type, *args, **kwargs):
        return contextlib.nullcontext() if device_type == "meta" else real(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, "autocast", autocast)


def test_loading_defaults_to_auto_which_picks_the_gpu_when_there_is_one(monkeypatch):
    """DESIGN.md and chapter 1: `device="auto"` is the loading API's default."""
    for fn in (api.load_pretrained, api.load_model):
        assert inspect.signature(fn).parameters["device"].default == "auto", fn.__name__
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert api.resolve_device("auto") == torch.device("cuda")
    assert api.resolve_device(None) == torch.device("cuda")
    assert api.resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert api.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        api.resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        api.resolve_device("gpu please")


def test_load_pretrained_without_a_device_goes_to_the_gpu(monkeypatch):
    """With a GPU visible, `load_pretrained(name)` puts every network there ("cuda" is mapped
    to the meta device, which this machine has), and `generate` runs there."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    resolve = api.resolve_device
    monkeypatch.setattr(api, "resolve_device",
                        lambda d="auto": torch.device("meta") if resolve(d).type == "cuda" else resolve(d))
    for name in ("looks", "avatars"):
        model = ig.load_pretrained(name)
        assert model.device.type == "meta", name
        assert all(p.device.type == "meta" for net in model.nets.values() for p in net.parameters()), name
    images, _ = model.generate(2, seed=0, return_tensor=True)
    assert images.device.type == "meta" and images.shape == (2, 3, 64, 64)
    assert ig.load_pretrained("avatars", device="cpu").device == torch.device("cpu")


def test_generate_on_a_gpu_draws_the_same_attributes():
    """The random attributes and z come from a CPU generator whatever the device."""
    cpu = ig.load_pretrained("avatars", device="cpu")
    gpu = ig.load_pretrained("avatars", device="meta")
    for look in (None, "noir"):
        images, chosen = gpu.generate(3, attrs={"hair": "red"}, seed=4, look=look, return_tensor=True)
        assert images.device.type == "meta" and images.shape == (3, 3, 64, 64)
        assert chosen == cpu.generate(3, attrs={"hair": "red"}, seed=4, look=look, return_tensor=True)[1]


def test_stylize_keeps_every_tensor_on_the_models_device(meta_autocast):
    """Named looks, mixes, references given as CPU images and a style code computed on another
    device: everything is moved to the model's device before G runs."""
    gpu = ig.load_pretrained("looks", device="meta")
    x = torch.rand(2, 3, 48, 40).to("meta")
    refs = [Image.new("RGB", (70, 50), (200, 120, 40)), torch.rand(3, 64, 64)]
    cpu_code = ig.load_pretrained("looks", device="cpu").style_code(look="pastel")
    for kw in (dict(look="noir"), dict(look="noir:0.25,pastel:0.75"), dict(reference=refs),
               dict(style=cpu_code)):
        out = gpu.stylize(x, vivid=0.2, **kw)
        assert out.device.type == "meta" and out.shape == x.shape, kw
        assert gpu.stylize(x[0], **kw).shape == x.shape[1:], kw
    assert gpu.style_code(reference=refs).device.type == "meta"


def test_stylize_answers_on_the_inputs_device_and_is_unchanged_on_the_cpu():
    """A tensor comes back on the device it came from (the CPU here), with the values of the
    generator run directly; PIL stays PIL."""
    from influencer_gan.train import to_img, to_net
    model = ig.load_pretrained("looks", device="cpu")
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(0))
    out = model.stylize(x, look="teal_orange", warmth=0.3)
    s = model.style_code(look="teal_orange")
    with torch.no_grad():
        direct = to_img(model.nets["G"](to_net(x), s[None], torch.tensor([[0.0, 0.3, 1.0]])))
    assert out.device == x.device and torch.equal(out, direct)
    assert isinstance(model.stylize(Image.new("RGB", (30, 20)), look="noir"), Image.Image)


def test_the_attribute_classifier_reads_images_on_their_device():
    """Chapter 6 hands GPU avatars to the classifier, which loads on the CPU: it must read them
    where they are, answer there, and stay where it was; on the CPU nothing changes."""
    clf = metrics.load_attr_classifier()
    home = next(clf.parameters()).device
    batch = ig.avatars.render_batch(4, 64, seed=3)
    cpu_pred = clf.predict(batch["img"])
    meta_img = batch["img"].to("meta")
    assert clf.predict(meta_img).device.type == "meta"
    assert clf.features(meta_img).device.type == "meta" and clf.features(meta_img).shape == (4, clf.feat_dim)
    assert clf(meta_img).device.type == "meta"
    assert next(clf.parameters()).device == home
    assert torch.equal(clf.predict(batch["img"]), cpu_pred)
    acc = metrics.attribute_accuracy(cpu_pred, metrics.attr_indices(batch["attrs"]))
    assert acc["all"] >= 0.75


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_real_gpu():
    """The chapters' calls on a real GPU: loading picks it, CPU tensors come back on the CPU
    close to the CPU model's answer, GPU avatars are read by the CPU classifier."""
    looks, looks_cpu = ig.load_pretrained("looks"), ig.load_pretrained("looks", device="cpu")
    assert looks.device.type == "cuda"
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    out = looks.stylize(x, look="golden_hour")
    assert out.device.type == "cpu"
    assert (out - looks_cpu.stylize(x, look="golden_hour")).abs().max() < 2e-2
    avatars = ig.load_pretrained("avatars")
    images, asked = avatars.generate(8, seed=1, return_tensor=True)
    assert images.device.type == "cuda"
    acc = metrics.attribute_accuracy(metrics.load_attr_classifier().predict(images), metrics.attr_indices(asked))
    assert acc["all"] >= 0.75
    assert metrics.score_avatars(metrics.model_generate(avatars), quick=True)["accuracy"]["all"] > 0.5

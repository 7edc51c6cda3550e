"""The studios, driven programmatically as a reader's clicks would: one refresh computes the
ground truth and the GAN's answer; uploads, mixing weights, references and saving work in
ipywidgets 8 (Jupyter) and 7 (Colab). `make unit` runs this file a second time with
ipywidgets 7 first on the path (IG_EXPECT_IPYWIDGETS=7)."""
import datetime
import io
import os

import pytest
import torch
from PIL import Image

from conftest import tiny_model
from influencer_gan import looks as L
from influencer_gan.studio import AvatarStudio, Studio, normalise, unique_path, uploaded_files

W = pytest.importorskip("ipywidgets")


def test_ipywidgets_major_version_is_the_one_asked_for():
    want = os.environ.get("IG_EXPECT_IPYWIDGETS")
    if not want:
        pytest.skip("set IG_EXPECT_IPYWIDGETS to check which ipywidgets runs these tests")
    assert W.__version__.split(".")[0] == want, W.__version__


def _jpeg(colour=(200, 120, 40), size=(80, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG")
    return buf.getvalue()


def _upload(widget, files):
    """Set a FileUpload's value the way the front end of this ipywidgets version does."""
    if W.__version__.startswith("7"):   # the front end sends metadata and data, then bumps _counter
        widget.metadata = [{"name": name, "type": "image/jpeg", "size": len(data)} for name, data in files]
        widget.data = [data for _, data in files]
        widget._counter += 1
    else:
        widget.value = tuple({"name": name, "type": "image/jpeg", "size": len(data),
                              "content": memoryview(data),
                              "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)} for name, data in files)


@pytest.fixture
def studio(tmp_path):
    return Studio(tiny_model(tmp_path / "r"), size=64)


def test_render_mix_is_a_convex_combination(studio):
    r = studio.render("teal_orange", "pastel", mix=0.0)
    assert r["gan"].shape == r["truth"].shape == (3, 64, 64)
    # mix 0 is look A exactly; the untrained generator is the identity, so ΔE is the look's own
    assert torch.allclose(r["truth"], L.apply(studio.image, "teal_orange", grain=False))
    assert torch.allclose(r["gan"], studio.image, atol=1e-5)
    assert r["delta_e"] > 5
    half = studio.render("teal_orange", "pastel", mix=0.5, strength=0.0)
    assert torch.allclose(half["truth"], studio.image, atol=1e-6)      # strength 0 is the identity
    # three looks: the weights are normalised, and doubling them all changes nothing
    a = studio.render_mix({"teal_orange": 1, "pastel": 1, "noir": 2})
    b = studio.render_mix({"teal_orange": 2, "pastel": 2, "noir": 4})
    assert torch.equal(a["truth"], b["truth"]) and torch.equal(a["gan"], b["gan"])
    assert normalise({"a": 1, "b": 3, "c": 0}) == {"a": 0.25, "b": 0.75}
    with pytest.raises(ValueError, match="weight above 0"):
        studio.render_mix({"teal_orange": 0})
    with pytest.raises(ValueError, match="vivid"):
        studio.render_mix({"teal_orange": 1}, vivid=7)


def test_widget_refreshes_on_slider_moves(studio):
    box = studio.widget()
    ctl = box.controls
    first = ctl["panels"]["truth"].value
    ctl["weights"][1].value = 1.0                 # look 2 joins the mix
    assert ctl["panels"]["truth"].value != first
    assert "ΔE2000" in ctl["status"].value
    ctl["weights"][0].value = ctl["weights"][1].value = 0.0
    assert "weight above 0" in ctl["status"].value   # an error message in the panel, no traceback


def test_uploaded_photo_and_bad_file(studio):
    box = studio.widget()
    ctl = box.controls
    _upload(ctl["photo"], [("me.jpg", _jpeg(size=(120, 90)))])
    assert studio.photo_name == "me.jpg" and studio.image.shape == (3, 48, 64)   # longer side 64
    assert uploaded_files(ctl["photo"])[0][0] == "me.jpg"
    _upload(ctl["photo"], [("notes.jpg", b"this is text, not a JPEG")])
    assert "notes.jpg" in ctl["status"].value and "not an image" in ctl["status"].value
    assert studio.photo_name == "me.jpg"         # the previous photo is kept


def test_reference_posts_give_the_style(studio):
    box = studio.widget()
    ctl = box.controls
    posts = [(f"post{i}.jpg", _jpeg((40 * i, 90, 200 - 30 * i))) for i in range(3)]
    _upload(ctl["refs"], posts + [("broken.png", b"\x89PNG\r\n\x1a\n truncated")])
    assert ctl["source"].value == "my reference posts"
    assert studio.reference_code is not None and studio.reference_names == [n for n, _ in posts]
    assert "broken.png" in ctl["status"].value                 # skipped, and said so
    assert ctl["panels"]["truth"].layout.display == "none"     # no ground truth for an unknown look
    want = studio.model.style_code(reference=[Image.open(io.BytesIO(d)) for _, d in posts])
    assert torch.allclose(studio.reference_code, want, atol=1e-6)


def test_save_never_overwrites(studio, tmp_path):
    studio.render("noir")
    a = studio.save(tmp_path / "out" / "result.png")
    b = studio.save(tmp_path / "out" / "result.png")
    assert a.name == "result.png" and b.name == "result-2.png" and a.read_bytes() == b.read_bytes()
    assert unique_path(tmp_path / "new.png") == tmp_path / "new.png"
    box = studio.widget()
    box.controls["save_to"].value = str(tmp_path / "out" / "result.png")
    box.controls["save"].click()
    assert (tmp_path / "out" / "result-3.png").exists()
    assert "saved" in box.controls["status"].value


def test_avatar_studio(tmp_path):
    avatars = AvatarStudio(tiny_model(tmp_path / "a", task="avatars"), n=3)
    img, chosen = avatars.render({"hair": chosen_hair(), "smile": "random"}, seed=5)
    assert img.shape == (3, 64, 3 * 64) and all(a["hair"] == chosen_hair() for a in chosen)
    box = avatars.widget()
    first = box.controls["panel"].value
    box.controls["seed"].value = 6
    assert box.controls["panel"].value != first
    box.controls["look"].value = "noir"
    assert box.controls["status"].value.count("|") == 2


def chosen_hair():
    from influencer_gan import avatars as A
    return A.ATTRIBUTES["hair"][1]


def _sliders(widget):
    """Every slider inside a widget tree."""
    found = [widget] if type(widget).__name__.endswith("Slider") else []
    for child in getattr(widget, "children", ()):
        found += _sliders(child)
    return found


def test_sliders_refresh_on_release_not_on_every_drag_step(studio, tmp_path):
    """One refresh takes about a tenth of a second; a refresh per drag step queues up and the
    image lags behind the mouse (in Colab most of all). Every slider of both studios updates its
    value, and so refreshes, only when it is released; and the release still refreshes."""
    box = studio.widget()
    sliders = _sliders(box)
    ctl = box.controls
    assert {id(s) for s in sliders} == {id(s) for s in (*ctl["weights"], ctl["vivid"], ctl["warmth"], ctl["strength"])}
    avatars = AvatarStudio(tiny_model(tmp_path / "a", task="avatars"), n=2).widget()
    sliders += _sliders(avatars)
    assert len(sliders) == 7
    assert all(s.continuous_update is False for s in sliders), [(s.description, s.continuous_update) for s in sliders]
    before = ctl["panels"]["truth"].value
    ctl["vivid"].value = 0.5                       # what the front end sends on release
    assert ctl["panels"]["truth"].value != before

"""Tests of the data: bundled photos, streams, make-data, and safe loading of bad folders."""
import io
import re
import json
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from influencer_gan import avatars as A
from influencer_gan import data as D
from influencer_gan import looks as L

torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------
# Photos and the §5.2 transform
# ----------------------------------------------------------------------------------------

def test_photos_are_split_by_whole_photograph():
    names = {s: [n for n, _ in D.load_photos(s)] for s in D.SPLITS}
    assert all(names.values())
    assert not set(names["train"]) & (set(names["val"]) | set(names["test"]))
    assert not set(names["val"]) & set(names["test"])
    assert {"motorcycle_left", "motorcycle_right"} <= set(names["train"])  # one scene, one split
    for info in D.PHOTOS:
        assert info.licence and info.credit
    for _, img in D.load_photos("test"):
        assert img.dim() == 3 and img.shape[0] == 3 and img.dtype == torch.float32
        assert 0 <= img.min() and img.max() <= 1 and img.std() > 0.05
    scenes = D.load_scenes("val")
    assert len(scenes) == len(D.SCENE_KINDS) and all(n.startswith("scene_") for n, _ in scenes)


def test_section_5_2_transform_is_the_documents():
    t = D.SECTION_5_2_TRANSFORM.transforms
    assert [type(x).__name__ for x in t] == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    assert t[0].size == 256 and tuple(t[1].size) == (224, 224)
    assert list(t[3].mean) == [0.5] * 3 and list(t[3].std) == [0.5] * 3


# ----------------------------------------------------------------------------------------
# Streams
# ----------------------------------------------------------------------------------------

def test_look_stream_batch_contract_and_exact_ground_truth():
    s = D.LookStream(size=32, batch_size=4, refs=3, split="train", looks="mixed")
    g = torch.Generator().manual_seed(0)
    b = s.batch(g)
    assert b["x"].shape == b["y"].shape == b["x_gt"].shape == (4, 3, 32, 32)
    assert b["refs"].shape == (4, 3, 3, 32, 32) and b["c"].shape == (4, 3)
    assert b["params"].shape == (4, L.N_PARAMS)
    for k in ("x", "y", "refs", "x_gt"):
        assert 0 <= b[k].min() and b[k].max() <= 1
    c = b["c"]
    gt = L.apply(b["x"], b["params"], c[:, 0], c[:, 1], c[:, 2], grain=False)
    assert torch.equal(gt, b["x_gt"])
    assert ((c[:, :2] >= -1) & (c[:, :2] <= 1)).all() and ((c[:, 2] >= 0) & (c[:, 2] <= 1)).all()
    assert not torch.equal(b["x"], b["y"])  # unpaired: other crops
    assert all(not torch.equal(b["x"][i], b["refs"][i, k]) for i in range(4) for k in range(3))


def test_look_stream_resumes_bit_exactly_from_generator_state():
    s = D.LookStream(size=16, batch_size=3, refs=2)
    g = torch.Generator().manual_seed(5)
    s.batch(g)
    state = g.get_state()
    b1 = s.batch(g)
    g2 = torch.Generator()
    g2.set_state(state)
    b2 = D.LookStream(size=16, batch_size=3, refs=2).batch(g2)
    for k in ("x", "y", "refs", "c", "params", "x_gt"):
        assert torch.equal(b1[k], b2[k]), k


def test_crop_bank_cuts_the_geometry_of_random_crops_in_one_operation():
    """The batched cutter draws exactly the boxes of `crop_boxes` from the same generator, and
    its pictures are those of the per-crop antialiased `cut` up to resampling (bilinear at pixel
    centres on the box-filtered pyramid instead of an antialiased resize)."""
    sources, w = D.load_sources("train")
    images = [im for _, im in sources]
    atlas = D.CropBank(images, 32, w)
    boxes = D.crop_boxes([tuple(im.shape[-2:]) for im in images], 64, torch.Generator().manual_seed(3), w)
    geo = D.crop_geometry(atlas.shapes, 64, torch.Generator().manual_seed(3), w)
    assert [b[:4] + (b[5],) for b in boxes] == list(zip(*(geo[k].tolist() for k in ("src", "top", "left", "side", "flip"))))
    fast = atlas.cut(geo, 32)
    slow = D.cut([D.pyramid(im, 32) for im in images], boxes, 32)
    assert fast.shape == (64, 3, 32, 32) and 0 <= fast.min() and fast.max() <= 1
    assert (fast - slow).abs().mean() < 0.05                 # the same crops, resampled a little differently
    # each of them, flips included (cut snaps boxes to whole pixels of the pyramid level: up to
    # a pixel's shift on a textured crop)
    assert ((fast - slow).abs().mean((1, 2, 3)) < 0.15).all()
    # the same seed gives the same crops; uint8 sources give the same crops as float ones
    again = D.CropBank([(im * 255).round().to(torch.uint8) for im in images], 32, w)
    assert torch.equal(atlas.crops(8, 32, torch.Generator().manual_seed(1)),
                       atlas.crops(8, 32, torch.Generator().manual_seed(1)))
    assert torch.allclose(again.crops(8, 32, torch.Generator().manual_seed(1)),
                          atlas.crops(8, 32, torch.Generator().manual_seed(1)), atol=0.01)
    with pytest.raises(ValueError, match="at least 32 px"):
        atlas.crops(2, 16, torch.Generator())


def test_crop_bank_never_reads_a_neighbouring_image():
    # two flat images stacked in one atlas: every crop of the first is exactly its colour
    red, blue = torch.zeros(3, 40, 50), torch.zeros(3, 70, 40)
    red[0], blue[2] = 1.0, 1.0
    atlas = D.CropBank([red, blue], 16, torch.tensor([1.0, 0.0], dtype=torch.float64))
    crops = atlas.crops(32, 16, torch.Generator().manual_seed(0))
    assert torch.allclose(crops, red.mean((1, 2))[None, :, None, None].expand_as(crops), atol=1e-5)


def test_look_stream_makes_ground_truth_only_when_asked():
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    with_gt = D.LookStream(size=16, batch_size=3, refs=2).batch(g())
    lazy = D.LookStream(size=16, batch_size=3, refs=2, ground_truth=False).batch(g())
    assert lazy["x_gt"] is None
    for k in ("x", "y", "refs", "c", "params"):           # the rest of the batch is the same
        assert torch.equal(with_gt[k], lazy[k]), k
    assert torch.equal(D.LookStream(size=16, batch_size=3, refs=2).ground_truth(lazy), with_gt["x_gt"])


def test_look_stream_is_made_on_its_device():
    """Crops are cut and looks rendered on the stream's device, from the CPU generator's random
    numbers. The meta device stands in for a GPU: every tensor of the batch lands there."""
    b = D.LookStream(size=16, batch_size=3, refs=2, device="meta").batch(torch.Generator().manual_seed(0))
    assert all(b[k].device.type == "meta" for k in ("x", "y", "refs", "c", "params", "x_gt"))
    assert b["refs"].shape == (3, 2, 3, 16, 16)


def test_apply_edits_a_large_cpu_batch_in_chunks_with_the_same_numbers(monkeypatch):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 3, 16, 16, generator=g)
    p = D.sample_looks(12, g, "mixed", prior_pool=10)
    s = torch.rand(12, generator=g)
    whole = L.apply(x, p, vivid=0.3, strength=s, grain=True, seed=5)
    monkeypatch.setattr(L, "_CHUNK_PIXELS", 5 * 16 * 16)   # chunks of 5, 5 and 2 images
    chunked = L.apply(x, p, vivid=0.3, strength=s, grain=True, seed=5)
    assert torch.allclose(whole, chunked, atol=1e-6)


def test_look_stream_modes_and_splits():
    g = torch.Generator().manual_seed(1)
    named = D.LookStream(size=16, batch_size=6, refs=1, looks="named", split="test").batch(g)["params"]
    table = torch.stack([lk.vector() for lk in L.NAMED.values()])
    assert all((table == row).all(1).any() for row in named)
    prior = D.LookStream(size=16, batch_size=6, refs=1, looks="prior", split="val").batch(g)["params"]
    assert not any((table == row).all(1).any() for row in prior)
    with pytest.raises(ValueError, match="split"):
        D.LookStream(split="holdout")
    with pytest.raises(ValueError, match="looks"):
        D.LookStream(looks="weird")


def test_avatar_stream():
    s = D.AvatarStream(size=32, batch_size=16, seed=0)
    b = s.batch(torch.Generator().manual_seed(2))
    assert b["img"].shape == (16, 3, 32, 32) and b["mask"].shape == (16, 1, 32, 32)
    assert b["cond"].shape == (16, A.ATTR_DIM) and b["style"].shape == (16, L.N_PARAMS)
    plain = b["style"].abs().sum(1) == 0
    assert 0 < plain.sum() < 16  # about half unedited, half with a named look
    again = D.AvatarStream(size=32, batch_size=16).batch(torch.Generator().manual_seed(2))
    assert torch.equal(b["img"], again["img"])


# ----------------------------------------------------------------------------------------
# make-data
# ----------------------------------------------------------------------------------------

TINY = {"photos": {"train": 3, "val": 2, "test": 2}, "avatars": {"train": 4, "val": 2, "test": 2}}


def test_make_data_is_deterministic_idempotent_and_imagefolder_compatible(tmp_path):
    a = D.make_data(tmp_path / "a", size=16, seed=3, progress=False, counts=TINY)
    b = D.make_data(tmp_path / "b", size=16, seed=3, progress=False, counts=TINY)
    assert D.file_digest(tmp_path / "a") == D.file_digest(tmp_path / "b")
    assert a["images"]["looks"]["train"] == 3 * len(L.NAMED) and not a["skipped"]
    digest = D.file_digest(tmp_path / "a")
    again = D.make_data(tmp_path / "a", size=16, seed=3, progress=False, counts=TINY)
    assert again["skipped"] and D.file_digest(tmp_path / "a") == digest  # no duplicates
    other = D.make_data(tmp_path / "a", size=16, seed=4, progress=False, counts=TINY)
    assert not other["skipped"] and D.file_digest(tmp_path / "a") != digest
    assert len(list((tmp_path / "a" / "photos" / "train" / "neutral").glob("*.png"))) == 3

    looks = torchvision.datasets.ImageFolder(tmp_path / "a" / "looks" / "test")
    assert looks.classes == sorted(L.NAMED) and len(looks) == 2 * len(L.NAMED)
    av = torchvision.datasets.ImageFolder(tmp_path / "a" / "avatars" / "train")
    assert len(av) == 4

    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    recs = manifest["images"]
    assert len(recs) == sum(other["images"][k][s] for k in ("photos", "looks", "avatars") for s in D.SPLITS)
    styled = next(r for r in recs if r["kind"] == "styled" and r["split"] == "test")
    assert styled["params"] == L.NAMED[styled["look"]].vector().tolist() and styled["c"] == [0.0, 0.0, 1.0]
    # The styled file is exactly apply(neutral file) with its grain seed (up to 8-bit rounding).
    root = tmp_path / "a"
    load = lambda p: torch.from_numpy(np.asarray(Image.open(root / p), dtype=np.float32) / 255).permute(2, 0, 1)  # noqa: E731
    redo = L.apply(load(styled["neutral"]), styled["params"], *styled["c"], grain=True, seed=styled["grain_seed"])
    assert (redo - load(styled["path"])).abs().max() <= 1 / 255 + 1e-6
    avatar = next(r for r in recs if r["kind"] == "avatar")
    assert set(avatar["attrs"]) == set(A.ATTRIBUTES) and (root / avatar["mask"]).exists()
    assert set(np.unique(np.asarray(Image.open(root / avatar["mask"])))) <= {0, 255}


# ----------------------------------------------------------------------------------------
# Your own folders: a corpus of every kind of bad input, made here with PIL
# ----------------------------------------------------------------------------------------

def _photo(w=300, h=260, seed=0):
    rng = np.random.default_rng(seed)
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None]
    a[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    a[..., 2] = rng.integers(0, 255, (h, w), dtype=np.uint8)
    return Image.fromarray(a)


def _bomb_png(path, w, h):
    """A PNG whose header claims w x h pixels (the data is never reached)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


def make_bad_corpus(root):
    """One file for every case of the issue; returns {file name: expected fate}."""
    root.mkdir(parents=True, exist_ok=True)
    fate = {}
    _photo().save(root / "good.jpg")
    fate["good.jpg"] = "ok"
    buf = io.BytesIO()
    _photo(seed=1).save(buf, "JPEG")
    (root / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    fate["truncated.jpg"] = "corrupt or truncated"
    buf = io.BytesIO()
    _photo(seed=2).save(buf, "PNG")
    (root / "truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    fate["truncated.png"] = "corrupt or truncated"
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20)
    fate["corrupt.jpg"] = "corrupt|not an image"
    (root / "notes.jpg").write_text("this is not a picture, just text named .jpg\n")
    fate["notes.jpg"] = "not an image"
    (root / "empty.png").write_bytes(b"")
    fate["empty.png"] = "empty file"
    _photo().convert("L").save(root / "grey.png")
    fate["grey.png"] = "ok"
    rgba = _photo().convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 0))  # fully transparent -> white
    rgba.save(root / "transparent.png")
    fate["transparent.png"] = "ok"
    pal = _photo().convert("P", palette=Image.ADAPTIVE, colors=16)
    pal.save(root / "palette.png", transparency=0)
    fate["palette.png"] = "ok"
    a16 = (np.linspace(0, 65535, 300 * 260).reshape(260, 300)).astype(np.uint16)
    Image.fromarray(a16).save(root / "deep16.png")
    fate["deep16.png"] = "ok"
    _photo().convert("CMYK").save(root / "cmyk.jpg")
    fate["cmyk.jpg"] = "ok"
    upright = Image.new("RGB", (240, 320), (0, 0, 255))
    upright.paste((255, 0, 0), (0, 0, 240, 160))  # red on top, blue below
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    stored.save(root / "rotated.jpg", exif=exif.tobytes())
    fate["rotated.jpg"] = "ok"
    frames = [_photo(seed=s).convert("P") for s in range(3)]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    fate["anim.gif"] = "ok"
    _photo(100, 80).save(root / "small.png")
    fate["small.png"] = "too small: 100x80"
    _bomb_png(root / "bomb.png", 40000, 40000)
    fate["bomb.png"] = "decompression bomb"
    _bomb_png(root / "bomb_warn.png", 10000, 10000)  # between MAX_IMAGE_PIXELS and twice that
    fate["bomb_warn.png"] = "decompression bomb"
    (root / "readme.txt").write_text("hello")
    fate["readme.txt"] = "not an image file type"
    (root / ".DS_Store").write_bytes(b"\0\1")  # hidden: ignored
    return fate


def test_safe_image_folder_handles_every_bad_input(tmp_path):
    fate = make_bad_corpus(tmp_path / "mine")
    with pytest.warns(D.ImageDataWarning) as rec:
        ds = D.SafeImageFolder(tmp_path / "mine")
    msg = str(rec[0].message)
    ok = {k for k, v in fate.items() if v == "ok"}
    assert {p.split("/")[-1] for p, _ in ds.samples} == ok
    skipped = {p.split("/")[-1]: why for p, why in ds.skipped}
    assert set(skipped) == set(fate) - ok
    for name, why in skipped.items():
        assert re.search(fate[name], why), (name, why)
        assert name in msg  # the warning names every skipped file
    assert "anim.gif" in msg and "first frame" in msg
    assert "224" in skipped["small.png"]
    # Everything that passed loads, through the §5.2 transform, without a crash.
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=0)
    n = 0
    for x, y in loader:
        assert x.shape[1:] == (3, 224, 224) and x.min() >= -1 and x.max() <= 1
        n += len(x)
    assert n == len(ok)
    by_name = {p.split("/")[-1]: i for i, (p, _) in enumerate(ds.samples)}
    top_red = np.asarray(ds.load(by_name["rotated.jpg"]))
    assert top_red.shape[:2] == (320, 240)  # EXIF-rotated: comes out upright ...
    assert top_red[40, 120, 0] > 200 and top_red[280, 120, 2] > 200  # ... red on top, blue below
    assert (np.asarray(ds.load(by_name["transparent.png"])) > 250).all()  # composited on white
    deep = np.asarray(ds.load(by_name["deep16.png"]))
    assert 100 < deep.mean() < 155 and deep.max() > 250  # scaled from 16 bits, not clipped
    assert np.asarray(ds.load(by_name["cmyk.jpg"])).std() > 20
    notes = {p.split("/")[-1] for p, _ in ds.notes}
    assert {"grey.png", "transparent.png", "deep16.png", "cmyk.jpg", "rotated.jpg", "anim.gif"} <= notes
    assert "bomb.png" in ds.report()


def test_safe_image_folder_nested_and_class_folders(tmp_path):
    root = tmp_path / "feed"
    for i, sub in enumerate(["cats/2023", "cats/2024/summer", "coffee"]):
        (root / sub).mkdir(parents=True)
        _photo(seed=i).save(root / sub / f"p{i}.jpg")
    (root / "coffee" / "broken.jpg").write_text("nope")
    _photo().save(root / "loose.jpg")
    with pytest.warns(D.ImageDataWarning, match="broken.jpg"):
        ds = D.SafeImageFolder(root)
    assert ds.classes == ["cats", "coffee"] and sorted(ds.targets) == [0, 0, 1]
    assert any("loose.jpg" in p and "class folders" in why for p, why in ds.skipped)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat = D.SafeImageFolder(root / "cats" / "2023")  # a flat folder: one class, no warning
    assert len(flat) == 1


def test_safe_image_folder_clear_errors(tmp_path):
    with pytest.raises(D.ImageDataError, match="not found: .*missing"):
        D.SafeImageFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(D.ImageDataError, match="empty"):
        D.SafeImageFolder(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_text("text")
    (bad / "b.png").write_bytes(b"")
    with pytest.raises(D.ImageDataError, match=r"no usable images in .*bad: 2 files skipped.*a\.jpg"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        D.SafeImageFolder(bad)


def test_file_changed_after_the_check_does_not_crash_the_epoch(tmp_path):
    for i in range(3):
        _photo(seed=i).save(tmp_path / f"{i}.jpg")
    ds = D.SafeImageFolder(tmp_path)
    (tmp_path / "1.jpg").write_text("overwritten")
    with pytest.warns(D.ImageDataWarning, match="1.jpg"):
        items = [ds[i] for i in range(len(ds))]
    assert all(x.shape == (3, 224, 224) for x, _ in items)


def test_look_stream_folder_mode(tmp_path):
    for sub, n in (("content", 3), ("styled", 4)):
        (tmp_path / sub).mkdir()
        for i in range(n):
            _photo(200 + 10 * i, 180, seed=i).save(tmp_path / sub / f"{i}.png")
    (tmp_path / "styled" / "x.jpg").write_text("junk")
    with pytest.warns(D.ImageDataWarning, match="x.jpg"):
        s = D.LookStream(size=32, batch_size=2, refs=3, content_dir=tmp_path / "content",
                         styled_dir=tmp_path / "styled")
    b = s.batch(torch.Generator().manual_seed(0))
    assert b["x"].shape == (2, 3, 32, 32) and b["refs"].shape == (2, 3, 3, 32, 32)
    assert b["params"] is None and b["x_gt"] is None
    assert torch.equal(b["c"], torch.tensor([[0.0, 0.0, 1.0]] * 2))
    b2 = s.batch(torch.Generator().manual_seed(0))
    assert torch.equal(b["y"], b2["y"])
    with pytest.raises(D.ImageDataError, match="nowhere"):
        D.LookStream(content_dir=tmp_path / "nowhere", styled_dir=tmp_path / "styled")


def test_look_folders_use_every_image_anywhere_and_name_each_bad_file(tmp_path):
    """A feed folder with loose photos *and* sub-folders (`old/`): ImageFolder's classes mean
    nothing for looks, so every image anywhere under it is used; each unusable file is named
    with its own reason, and the summary says how many were used."""
    feed = tmp_path / "feed"
    (feed / "old" / "2023").mkdir(parents=True)
    _photo(seed=0).save(feed / "a.jpg")
    _photo(seed=1).save(feed / "b.png")
    _photo(seed=2).save(feed / "c.webp")
    _photo(seed=3).save(feed / "old" / "d.jpg")
    _photo(seed=4).save(feed / "old" / "2023" / "a.jpg")         # same name as a loose file
    (feed / "old" / "notes.txt").write_text("captions")
    (feed / "broken.jpg").write_text("not a picture")
    _photo(40, 30).save(feed / "old" / "tiny.png")
    with pytest.warns(D.ImageDataWarning) as rec:
        ds = D.SafeImageFolder(feed, transform=None, min_size=32, classes=False)
    used = sorted(str(Path(p).relative_to(feed)) for p, _ in ds.samples)
    assert used == ["a.jpg", "b.png", "c.webp", "old/2023/a.jpg", "old/d.jpg"]
    assert ds.classes == ["feed"]
    why = {p.split("/")[-1]: reason for p, reason in ds.skipped}
    assert set(why) == {"notes.txt", "broken.jpg", "tiny.png"}
    assert "not an image file type" in why["notes.txt"] and "not an image" in why["broken.jpg"]
    assert "too small" in why["tiny.png"] and not any("class folders" in r for r in why.values())
    msg = str(rec[0].message)
    assert "5 of 8 files used" in msg and "old/notes.txt" in msg and "broken.jpg" in msg
    assert ds.summary().startswith(f"{feed}: 5 of 8 files used")
    # ... and the training stream reads the folders the same way
    content = tmp_path / "content"
    content.mkdir()
    _photo(seed=5).save(content / "x.jpg")
    with pytest.warns(D.ImageDataWarning, match="5 of 8 files used"):
        s = D.LookStream(size=32, batch_size=2, refs=2, content_dir=content, styled_dir=feed)
    assert len(s.styled) == 5 and len(s.content) == 1
    # ImageFolder's layout, where it is asked for, is unchanged: loose files are not a class
    with pytest.warns(D.ImageDataWarning, match="class folders"):
        assert len(D.SafeImageFolder(feed, transform=None, min_size=32)) == 2


def test_wide_looks_add_app_filters_with_exact_ground_truth():
    """looks="wide": half named looks (no filter), the rest slider looks, slider looks then an
    app filter, or an app filter alone; the ground truth is the same program, c as "intensity"."""
    from influencer_gan import filters as Fl
    s = D.LookStream(size=32, batch_size=24, refs=2, looks="wide", prior_pool=50)
    b = s.batch(torch.Generator().manual_seed(1))
    f, c = b["filter"], b["c"]
    assert f["lut"].shape == (24, 3, Fl.LUT_SIZE, Fl.LUT_SIZE, Fl.LUT_SIZE)
    ident = Fl.identity(24)
    has_filter = ~torch.stack([(f[k] - ident[k]).flatten(1).abs().amax(1) == 0 for k in ("mixer", "curves", "lut")]).all(0)
    sliders_zero = b["params"].abs().amax(1) == 0
    assert has_filter.any() and (~has_filter).any() and (has_filter & sliders_zero).any()
    full = Fl.render(L.apply(b["x"], b["params"], grain=False), f)
    assert torch.allclose(b["x_gt"], L.personal_edit(b["x"], full, c[:, 0], c[:, 1], c[:, 2]).clamp(0, 1))
    again = D.LookStream(size=32, batch_size=24, refs=2, looks="wide", prior_pool=50).batch(torch.Generator().manual_seed(1))
    assert torch.equal(again["y"], b["y"])
    with pytest.raises(ValueError, match="intensity"):
        D.LookStream(size=32, batch_size=2, looks="wide", condition="sliders")

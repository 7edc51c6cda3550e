"""Evaluation metrics: hand-computed values, the shipped attribute classifier, the protocol."""
import math

import numpy as np
import pytest
import torch

from influencer_gan import avatars as A
from influencer_gan import looks as L
from influencer_gan import metrics as M

from conftest import tiny_model as _tiny_model


def tiny_model(tmp_path, task="looks"):
    return _tiny_model(tmp_path / task, task)


# -- image metrics --------------------------------------------------------------------------
def test_psnr_of_a_known_mse():
    a = torch.zeros(3, 16, 16)
    b = torch.full((3, 16, 16), 0.1)                      # MSE = 0.01 -> 10 log10(1 / 0.01) = 20 dB
    assert M.psnr(a, b) == pytest.approx(20.0, abs=1e-6)
    c = a.clone()
    c[0, :8] = 0.5                                        # MSE = 0.25 * (128 / 768) -> 10 log10(24)
    assert M.psnr(a, c) == pytest.approx(10 * math.log10(24.0), abs=1e-6)
    assert M.psnr(a, a) == math.inf
    batch = torch.stack([b, c])                           # mean of the per-image values
    assert M.psnr(torch.zeros_like(batch), batch) == pytest.approx((20 + 10 * math.log10(24)) / 2, abs=1e-6)


def test_identical_images_score_perfectly():
    x = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    assert M.delta_e2000(x, x) == 0.0
    assert M.ssim(x, x) == pytest.approx(1.0)
    assert M.ssim(x, 1 - x) < 0.5


def test_delta_e_of_published_lab_pairs():
    """CIEDE2000 test data of Sharma, Wu & Dalal (2005), pairs 7 and 17, sent through sRGB."""
    from skimage.color import lab2rgb
    for lab1, lab2, expected in [((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
                                 ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492)]:
        rgb = [torch.from_numpy(lab2rgb(np.array([[lab]]))).permute(2, 0, 1).float() for lab in (lab1, lab2)]
        assert M.delta_e2000(rgb[0], rgb[1]) == pytest.approx(expected, abs=2e-3)


def test_delta_e_matches_skimage_and_looks_helper():
    from skimage.color import deltaE_ciede2000, rgb2lab
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(3, 8, 8, generator=g), torch.rand(3, 8, 8, generator=g)
    direct = deltaE_ciede2000(rgb2lab(a.permute(1, 2, 0).double().numpy()),
                              rgb2lab(b.permute(1, 2, 0).double().numpy())).mean()
    assert M.delta_e2000(a, b) == pytest.approx(direct, rel=1e-6)
    assert M.delta_e2000(a, b) == pytest.approx(L.mean_delta_e(a, b), rel=1e-4)
    with pytest.raises(ValueError, match="shape"):
        M.delta_e2000(a, b[:, :4])


def test_distribution_distances():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(400, 8, generator=g)
    assert M.frechet_distance(f, f) == pytest.approx(0.0, abs=1e-6)
    shifted = f + torch.tensor([3.0] + [0.0] * 7)
    assert M.frechet_distance(f, shifted) == pytest.approx(9.0, rel=1e-3)   # |μ1 - μ2|², same Σ
    same = M.kernel_distance(f[:200], f[200:], subset_size=200)
    far = M.kernel_distance(f[:200], shifted[200:], subset_size=200)
    assert abs(same) < 0.15 and far > 1.0, (same, far)
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 3.0]])               # L1/2: 1, 2, 1
    assert M.mean_pairwise_distance(x) == pytest.approx(4 / 3)


# -- the shipped attribute classifier -------------------------------------------------------
def test_shipped_classifier_reads_fresh_avatars():
    clf = M.load_attr_classifier()
    b = A.render_batch(300, 64, seed=424242)
    acc = M.attribute_accuracy(clf.predict(b["img"]), M.attr_indices(b["attrs"]))
    assert acc["all"] >= 0.97, acc
    assert min(acc[k] for k in A.ATTRIBUTES) >= 0.97, acc
    assert clf.features(b["img"][:4]).shape == (4, clf.feat_dim)
    shuffled = M.attr_indices(b["attrs"]).roll(1, 0)                      # wrong labels score low
    assert M.attribute_accuracy(clf.predict(b["img"]), shuffled)["all"] < 0.2


# -- the looks protocol -----------------------------------------------------------------------
def test_oracle_and_identity_bracket_the_looks_scores():
    oracle = (lambda x, name, c: L.apply(x, name, vivid=c[0], warmth=c[1], strength=c[2], grain=False),
              lambda x, refs, c: x)
    r = M.score_looks(*oracle, quick=True)
    assert r["named"]["delta_e"] == 0.0 and r["named"]["psnr"] == math.inf
    ident = M.score_looks(*M.identity_methods(), quick=True)
    assert ident["named"]["delta_e"] > 5 and ident["unseen"]["delta_e"] > 5   # the looks are real edits
    assert r["unseen"]["delta_e"] == pytest.approx(ident["unseen"]["delta_e"])


def test_evaluate_quick_looks_model(tmp_path):
    model = tiny_model(tmp_path, "looks")
    res = M.evaluate(model, "looks", quick=True)
    assert set(res) >= {"task", "quick", "model", "protocol", "rows", "seconds"}
    methods = [r["method"] for r in res["rows"]]
    assert methods[0] == "model" and "identity (do nothing)" in methods
    for row in res["rows"]:
        assert set(row["named"]) >= {"psnr", "ssim", "delta_e", "n"} and "unseen" in row
        assert set(row["named_per_look"]) == set(res["protocol"]["looks"])
    # the look generator starts as exactly the identity look: at c = (0, 0, 1) an untrained model
    # scores like doing nothing (at other c it applies vivid and warmth to that look, by definition)
    per_c = [r["named_per_condition"]["(0.0, 0.0, 1.0)"]["delta_e"] for r in res["rows"][:2]]
    assert per_c[0] == pytest.approx(per_c[1], abs=1e-3)
    table = M.format_table(res)
    assert "identity (do nothing)" in table and "ΔE2000" in table and "teal_orange" in table
    with pytest.raises(ValueError, match="not a avatars model"):
        M.evaluate(model, "avatars", quick=True)


def test_artefact_ratio_sees_a_checkerboard_not_a_blur():
    real = A.render_batch(200, 64, seed=1)["img"]
    other = A.render_batch(200, 64, seed=2)["img"]
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    board = ((yy % 2) ^ (xx % 2)).float() - 0.5
    assert abs(M.artefact_ratio(other, real) - 1) < 0.05                   # the data against itself
    assert M.artefact_ratio((other + 0.01 * board).clamp(0, 1), real) > 5  # a faint 1-pixel checkerboard
    from torchvision.transforms.functional import gaussian_blur
    assert M.artefact_ratio(gaussian_blur(other, 5, 0.8), real) < 1.5      # softer, not patterned
    with pytest.raises(ValueError, match="artefact_ratio"):
        M.artefact_ratio(other[:, :, :60, :60], real[:, :, :60, :60])


def test_evaluate_quick_avatars_model(tmp_path):
    model = tiny_model(tmp_path, "avatars")
    res = M.evaluate(model, "avatars", quick=True)
    rows = {r["method"]: r for r in res["rows"]}
    assert set(rows) == {"model", "identity (real renders, attributes ignored)", "real renders (reference)"}
    for r in rows.values():
        assert set(r) >= {"accuracy", "fid", "kid", "diversity_l1", "diversity_feat", "artefact_ratio", "smile_by_skin"}
        assert set(r["smile_by_skin"]) <= set(A.ATTRIBUTES["skin"])
        assert set(r["accuracy"]) == {"all", *A.ATTRIBUTES}
    assert rows["real renders (reference)"]["accuracy"]["all"] >= 0.97
    assert rows["identity (real renders, attributes ignored)"]["accuracy"]["all"] < 0.2
    assert rows["model"]["accuracy"]["all"] < 0.5                          # untrained: near chance
    assert rows["real renders (reference)"]["fid"] < rows["model"]["fid"]
    assert "all attributes right" in M.format_table(res) and "artefact ratio" in M.format_table(res)


def test_cli_evaluate_json(tmp_path, monkeypatch, capsys):
    """`influencer-gan evaluate looks --checkpoint RUN --json` (with the quick protocol)."""
    import json
    from influencer_gan import cli
    tiny_model(tmp_path, "looks")
    full = M.looks_protocol
    monkeypatch.setattr(M, "looks_protocol", lambda quick=False: full(True))
    assert cli.main(["evaluate", "looks", "--checkpoint", str(tmp_path / "looks"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "looks" and out["rows"][1]["method"] == "identity (do nothing)"

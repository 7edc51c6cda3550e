"""ONNX export of the look generator: onnxruntime agrees with torch at several image sizes."""
import json

import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from influencer_gan import export as X  # noqa: E402
from influencer_gan import looks as L  # noqa: E402

from conftest import tiny_model  # noqa: E402


@pytest.fixture
def model(tmp_path):
    """A tiny look model whose generator is nudged away from its identity start."""
    m = tiny_model(tmp_path / "run")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.nets["G"].parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g))
    return m


def test_export_round_trip(model, tmp_path):
    path = X.export_onnx(model, tmp_path / "demo" / "look.onnx", size=48)
    onnx.checker.check_model(onnx.load(str(path)))
    meta = json.loads(path.with_suffix(".looks.json").read_text())
    assert set(meta["looks"]) == set(L.NAMED) and meta["opset"] == 17
    code = torch.tensor(meta["looks"]["teal_orange"]["style"])
    assert code.shape == (16,)

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["image", "style", "c"]
    g = torch.Generator().manual_seed(3)
    for h, w in [(48, 48), (40, 96), (130, 70)]:           # dynamic H and W
        x = torch.rand(1, 3, h, w, generator=g)
        c = torch.tensor([[0.5, -0.3, 0.9]])
        got = torch.from_numpy(sess.run(None, {"image": x.numpy(), "style": code[None].numpy(), "c": c.numpy()})[0])
        want = model.stylize(x, style=code, vivid=0.5, warmth=-0.3, strength=0.9)
        assert got.shape == want.shape == (1, 3, h, w)
        assert (got - want).abs().max() < 1e-3
        assert (want - x).abs().mean() > 1e-3                # the nudged generator really edits


def test_export_refuses_bad_targets(model, tmp_path):
    with pytest.raises(ValueError, match=".onnx"):
        X.export_onnx(model, tmp_path / "look.bin")


def test_cli_export(model, tmp_path, capsys):
    from influencer_gan import cli
    out = tmp_path / "cli.onnx"
    assert cli.main(["export", "--format", "onnx", "--out", str(out), "--checkpoint", str(tmp_path / "run")]) == 0
    assert out.exists() and out.with_suffix(".looks.json").exists()


def test_export_of_the_shipped_params_head(tmp_path):
    """The slider editor of head="params" (the shipped looks weights) exports too."""
    import influencer_gan as ig
    m = ig.load_pretrained("looks")
    path = X.export_onnx(m, tmp_path / "look.onnx", size=64)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    code = m.style_code(look="noir")
    x = torch.rand(1, 3, 72, 100, generator=torch.Generator().manual_seed(1))
    c = torch.tensor([[0.0, 0.4, 0.8]])
    got = torch.from_numpy(sess.run(None, {"image": x.numpy(), "style": code[None].numpy(), "c": c.numpy()})[0])
    want = m.stylize(x, style=code, warmth=0.4, strength=0.8)
    assert (got - want).abs().max() < 1e-3 and (want - x).abs().mean() > 1e-2


def test_export_with_c_applied_by_its_definition(tmp_path):
    """c_route="edit" (the personal edit after G's full-strength look) exports too."""
    from influencer_gan.api import load_model
    from influencer_gan.train import Trainer
    from conftest import tiny_config
    Trainer(tiny_config(tmp_path / "run", head="color", c_route="edit"), progress=False).save()
    m = load_model(tmp_path / "run")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.nets["G"].parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g))
    path = X.export_onnx(m, tmp_path / "edit.onnx", size=48)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    code = m.style_code(look="teal_orange")
    x = torch.rand(1, 3, 64, 80, generator=g)
    for c in ([0.0, 0.0, 0.0], [0.5, -0.3, 0.6], [0.0, 0.0, 1.0]):
        got = torch.from_numpy(sess.run(None, {"image": x.numpy(), "style": code[None].numpy(),
                                               "c": torch.tensor([c]).numpy()})[0])
        want = m.stylize(x, style=code, vivid=c[0], warmth=c[1], strength=c[2])
        assert (got - want).abs().max() < 1e-3
    assert (got - x).abs().mean() > 1e-3

"""Export the look generator to ONNX, for the in-browser demo (onnxruntime-web) and other runtimes.

The exported graph is G(x | s, c) alone, at the edges of the package's conventions:

    inputs   image  (1, 3, H, W) float32 in [0, 1]   H and W dynamic (at least work_size px)
             style  (1, style_dim) float32           a style code (see the JSON beside the .onnx)
             c      (1, 3) float32                   personal condition (vivid, warmth, strength)
    output   image  (1, 3, H, W) float32 in [0, 1]

The style encoder stays in Python: a browser demo offers the named looks (and mixes of them,
convex combinations of their codes, §4.4), whose codes are written to `<name>.looks.json`.

For the default colour head (`LookGenerator(head="color")`), `ExportableLookGenerator` runs the
same computation as `LookGenerator.forward`, written with operations whose sizes follow the
input (so one graph serves every H×W):

* the photo is box-filtered down to the work size with an averaging matrix built from the
  input's size (what `adaptive_avg_pool2d` computes), instead of a pooling op whose kernel
  would be frozen at the example size;
* the coefficient grid is upsampled with the two matrix products of `apply_colour_transform`
  (R_h · A · R_wᵀ, `models.interpolation_matrix`, bilinear, align_corners=False) in one piece
  instead of its row chunks, whose loop count would otherwise be frozen; the matrices are built
  from the input's size. In onnxruntime (1 thread, 512 px) this
  took the graph from 48 ms, when one full-size bilinear `Resize` of the 39 coefficient planes
  was 21 ms of it, to 34 ms (`MatMul` is vectorised; `Resize` is a scalar loop).

`export_onnx` checks the graph against torch with onnxruntime when it is installed.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .models import COLOUR_BASES, LookGenerator, colour_basis, coordinate_channels, interpolation_matrix

OPSET = 17


def _box_matrix(n_in: torch.Tensor, n_out: int, dtype) -> torch.Tensor:
    """(n_out, n_in) averaging matrix of adaptive average pooling along one axis: output i
    averages inputs floor(i·n_in/n_out) ... ceil((i+1)·n_in/n_out) - 1. `n_in` may be traced."""
    i = torch.arange(n_out).unsqueeze(1)
    j = torch.arange(n_in).unsqueeze(0)
    start = torch.div(i * n_in, n_out, rounding_mode="floor")
    end = torch.div((i + 1) * n_in + n_out - 1, n_out, rounding_mode="floor")
    m = ((j >= start) & (j < end)).to(dtype)
    return m / m.sum(1, keepdim=True)


class ExportableLookGenerator(nn.Module):
    """[0,1] image, style code, c -> [0,1] image: a `LookGenerator` prepared for ONNX export."""

    def __init__(self, g: LookGenerator):
        super().__init__()
        self.g = g.eval()

    def forward(self, image: torch.Tensor, style: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        g = self.g
        if g.head != "color":
            return (g(image * 2 - 1, style, c) + 1) / 2
        full = self.full_look(image, style, c)
        if g.c_route == "cbn":
            return full
        from .looks import personal_edit     # c by its definition, as LookGenerator.forward
        return personal_edit(image, full, c[:, 0], c[:, 1], c[:, 2])

    def full_look(self, image: torch.Tensor, style: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        g = self.g
        x = image * 2 - 1
        cond = g.condition(x, style, c)
        h, w = x.shape[-2], x.shape[-1]
        if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export() and (h < g.work_size or w < g.work_size):
            return (g.full_look(x, style, c) + 1) / 2     # small inputs: the model's own (upsampling) path
        ph = _box_matrix(torch.tensor(h) if isinstance(h, int) else h, g.work_size, x.dtype)
        pw = _box_matrix(torch.tensor(w) if isinstance(w, int) else w, g.work_size, x.dtype)
        small = torch.matmul(torch.matmul(ph, x), pw.transpose(0, 1))
        coords = coordinate_channels(1, g.work_size, g.work_size, x.device, x.dtype)
        feat = g.net(torch.cat([small, coords.expand(x.shape[0], -1, -1, -1)], 1), cond)
        if feat.shape[-1] != g.grid_size:
            feat = F.interpolate(feat, size=(g.grid_size, g.grid_size), mode="bilinear", align_corners=False)
        coeffs = g.identity_coeffs + g.to_coeffs(feat)
        if g.global_mlp is not None:
            flat, vignette = g.global_mlp(cond).chunk(2, dim=1)
            r = coordinate_channels(1, g.grid_size, g.grid_size, x.device, x.dtype)[:, 2:3]
            coeffs = coeffs + flat[:, :, None, None] + vignette[:, :, None, None] * r ** 2
        rh = interpolation_matrix(g.grid_size, h, x.device, x.dtype)                      # (H, n)
        rw = interpolation_matrix(g.grid_size, w, x.device, x.dtype)                      # (W, n)
        a = torch.matmul(torch.matmul(rh, coeffs), rw.transpose(0, 1))                   # (B, 3K, H, W)
        x01 = image
        terms = torch.cat(colour_basis(x01, g.basis), 1)               # (B, K, H, W)
        k = len(COLOUR_BASES[g.basis])
        out = (a.view(a.shape[0], 3, k, h, w) * terms.unsqueeze(1)).sum(2)
        return (out * 2 - 1).clamp(-1.0, 1.0).add(1).div(2)   # the forward value of the model's clamp


def named_style_codes(model) -> dict[str, list[float]]:
    """The style code of every named look, as lists of floats (for the demo's JSON)."""
    from .looks import NAMED
    return {name: [round(float(v), 6) for v in model.style_code(look=name)] for name in NAMED}


def export_onnx(model, path, style: Optional[torch.Tensor] = None, size: int = 256,
                verify: bool = True, opset: int = OPSET) -> Path:
    """Write the look generator of `model` (a `LookModel`) to `path` (.onnx) and the named
    looks' style codes to `<path stem>.looks.json` beside it. `style` is the example style
    code used for tracing (default: the code of the first named look); `size` the example
    image size. Uses the TorchScript-based exporter (dynamo=False), opset 17. Returns `path`."""
    from .looks import COND_NAMES, NAMED
    if model.config.task != "looks":
        raise ValueError(f"export_onnx needs a looks model, got a {model.config.task} model")
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"--out {path}: the file name must end in .onnx")
    path.parent.mkdir(parents=True, exist_ok=True)
    codes = named_style_codes(model)
    # a CPU copy: the model itself stays on its device (a GPU model keeps working after export)
    net = ExportableLookGenerator(copy.deepcopy(model.nets["G"]).cpu()).eval()
    first = next(iter(NAMED))
    s = torch.tensor(codes[first])[None] if style is None else style.reshape(1, -1).float()
    g = torch.Generator().manual_seed(0)
    example = (torch.rand(1, 3, size, size, generator=g), s, torch.tensor([[0.0, 0.0, 1.0]]))
    import warnings
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")          # tracer warnings about shape arithmetic
        torch.onnx.export(net, example, str(path), dynamo=False, opset_version=opset,
                          input_names=["image", "style", "c"], output_names=["output"],
                          dynamic_axes={"image": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}})
    meta = {"model": str(getattr(model, "source", "")), "onnx": path.name, "opset": opset,
            "inputs": {"image": "(1,3,H,W) float32 in [0,1], H,W >= %d" % model.config.work_size,
                       "style": f"(1,{model.config.style_dim}) float32: a style code below, or a convex combination",
                       "c": f"(1,3) float32: {', '.join(COND_NAMES)}"},
            "output": "(1,3,H,W) float32 in [0,1]", "style_dim": model.config.style_dim,
            "looks": {name: {"description": NAMED[name].description, "style": code} for name, code in codes.items()}}
    path.with_suffix(".looks.json").write_text(json.dumps(meta, indent=1) + "\n")
    if verify:
        verify_onnx(net, path)
    return path


def verify_onnx(net: nn.Module, path, sizes=((256, 256), (200, 320)), atol: float = 1e-3) -> float:
    """Compare onnxruntime with torch at a few image sizes; returns the largest difference.
    Skipped (returns nan) when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return float("nan")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    style_dim = sess.get_inputs()[1].shape[1]
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    for h, w in sizes:
        x, s = torch.rand(1, 3, h, w, generator=g), torch.randn(1, style_dim, generator=g)
        c = torch.tensor([[0.3, -0.2, 0.8]])
        with torch.no_grad():
            ref = net.g(x * 2 - 1, s, c).add(1).div(2)
        got = sess.run(None, {"image": x.numpy(), "style": s.numpy(), "c": c.numpy()})[0]
        diff = float((torch.from_numpy(got) - ref).abs().max())
        worst = max(worst, diff)
        if not diff < atol:
            raise RuntimeError(f"{path}: onnxruntime and torch differ by {diff:.2e} at {h}x{w} (> {atol})")
    return worst

"""Assets of the studio chapter's in-browser demo (`make book` runs this; nothing is committed).

    python scripts/build_web_demo.py [--out _static/studio] [--node-modules node_modules]

The demo (`_static/studio/index.html` + `studio.js`, committed) runs the shipped looks model
in the reader's browser with onnxruntime-web's WASM backend. This script writes what it needs
beside it, all generated from the repository's own files:

* `model/looks.onnx` and `model/looks.looks.json`: `influencer_gan.export.export_onnx` of the
  shipped looks weights (checked against PyTorch with onnxruntime, max abs error <= 1e-3), and
  the style codes of the named looks, which the page mixes as convex combinations (§4.4);
* `model/editor.onnx` and `model/sliders.json`: the slider editor that *makes* the looks
  (`looks.apply` without grain: the exact ground truth the Python studio shows), the slider
  names, every named look's slider values and the two directions of the personal condition
  (`looks.personal_edit`: photo + strength · (editor(look, vivid · V + warmth · W) − photo), c as
  photo apps define it for any look), so the page can show the
  ground truth of any mix of named looks and its slider values;
* `model/looks_params.onnx` (when the shipped generator has the slider head, `head="params"`):
  the slider values G sets for a style code and c (`LookGenerator.look_params`), which the page
  shows beside the ground truth's;
* `model/photos/*.jpg` and `model/photos.json`: the held-out test photos and scenes, centre
  squares at 512 px (a reader's own photo is read by the browser and never uploaded);
* `ort/`: onnxruntime-web's WASM build, copied from `node_modules` (installed from the npm
  registry by `npm ci`, see package.json); never fetched from a CDN;
* `manifest.json`: the sizes of all of the above (the studio chapter prints them).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
# The three files the WASM backend needs: the loader (global `ort`), its module and the binary.
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def copy_runtime(node_modules: Path, out: Path) -> dict:
    dist = node_modules / "onnxruntime-web" / "dist"
    if not dist.is_dir():
        sys.exit(f"{dist} not found: run `npm ci` in {ROOT} first (make book does)")
    out.mkdir(parents=True, exist_ok=True)
    version = json.loads((node_modules / "onnxruntime-web" / "package.json").read_text())["version"]
    for name in ORT_FILES:
        shutil.copyfile(dist / name, out / name)
    return {"version": version, "files": {n: (out / n).stat().st_size for n in ORT_FILES}}


def write_model(out: Path) -> dict:
    import influencer_gan as ig
    from influencer_gan.export import export_onnx
    model = ig.load_pretrained("looks")
    onnx_path = export_onnx(model, out / "looks.onnx", size=256, verify=True)
    return {"onnx": onnx_path.name, "onnx_bytes": onnx_path.stat().st_size,
            "looks_json_bytes": onnx_path.with_suffix(".looks.json").stat().st_size,
            "source": "influencer_gan/weights/looks"}


class _Editor(torch.nn.Module):
    """image (1,3,H,W) in [0,1], slider values (1,P) -> the edited image: `looks.apply`'s
    pipeline without grain (the ground truth every evaluation compares against)."""

    def forward(self, image, params):
        from influencer_gan.looks import apply
        return apply(image, params, grain=False)


class _SliderHead(torch.nn.Module):
    """style (1,S), c (1,3) -> the slider values (1,P) the generator sets (`look_params`)."""

    def __init__(self, g):
        super().__init__()
        self.g = g.eval()

    def forward(self, style, c):
        return self.g.look_params(style.new_zeros(style.shape[0], 3, 1, 1), style, c)


def _export(net, example, path: Path, inputs, outputs, dynamic) -> None:
    import warnings
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")          # tracer warnings about shape arithmetic
        torch.onnx.export(net, example, str(path), dynamo=False, opset_version=17,
                          input_names=inputs, output_names=outputs, dynamic_axes=dynamic)


def _check(path: Path, net, feeds: list[dict], atol: float = 1e-4) -> float:
    """The largest difference between onnxruntime and torch over `feeds`; fails above `atol`."""
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for feed in feeds:
        with torch.no_grad():
            ref = net(*[torch.from_numpy(v) for v in feed.values()])
        got = torch.from_numpy(sess.run(None, feed)[0])
        worst = max(worst, float((got - ref).abs().max()))
    if not worst <= atol:
        sys.exit(f"{path}: onnxruntime and torch differ by {worst:.2e} (> {atol})")
    return worst


def write_sliders(out: Path) -> dict:
    """editor.onnx, looks_params.onnx and sliders.json (see the module docstring)."""
    import influencer_gan as ig
    from influencer_gan import looks as L
    g = torch.Generator().manual_seed(2)
    editor, p = _Editor().eval(), L.NAMED["teal_orange"].vector()[None]
    _export(editor, (torch.rand(1, 3, 64, 64, generator=g), p), out / "editor.onnx",
            ["image", "params"], ["output"], {"image": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}})
    feeds = [{"image": torch.rand(1, 3, h, w, generator=g).numpy(),
              "params": L.personalize(L.NAMED[n].vector(), 0.3, -0.4, 0.8)[None].numpy()}
             for (h, w), n in (((256, 256), "golden_hour"), ((200, 320), "noir"), ((97, 64), "pastel"))]
    info = {"editor": "editor.onnx", "editor_bytes": (out / "editor.onnx").stat().st_size,
            "editor_max_diff": _check(out / "editor.onnx", editor, feeds)}
    model = ig.load_pretrained("looks")
    G = model.nets["G"].cpu().eval()
    if getattr(G, "head", None) == "params":
        head = _SliderHead(G)
        example = (model.style_code(look="pastel").detach().reshape(1, -1).float(),
                   torch.tensor([[0.0, 0.0, 1.0]]))
        _export(head, example, out / "looks_params.onnx", ["style", "c"], ["params"], {})
        feeds = [{"style": torch.randn(1, example[0].shape[1], generator=g).numpy(),
                  "c": torch.tensor([[0.5, -0.5, 0.7]]).numpy()}]
        info.update(params_onnx="looks_params.onnx", params_bytes=(out / "looks_params.onnx").stat().st_size,
                    params_max_diff=_check(out / "looks_params.onnx", head, feeds))
    sliders = {
        "param_names": list(L.PARAM_NAMES), "cond_names": list(L.COND_NAMES),
        "ground_truth": "looks.apply(photo, mix, vivid, warmth, strength, grain=False): "
                        "strength * (mix + vivid * V + warmth * W), rendered by editor.onnx",
        "vivid_direction": [round(float(v), 6) for v in L.VIVID_DIRECTION],
        "warmth_direction": [round(float(v), 6) for v in L.WARMTH_DIRECTION],
        "named": {n: [round(float(v), 6) for v in look.vector()] for n, look in L.NAMED.items()},
        "editor": info["editor"], "params_onnx": info.get("params_onnx"),
    }
    (out / "sliders.json").write_text(json.dumps(sliders, indent=1) + "\n")
    return info


def write_photos(out: Path, size: int = 512) -> list[dict]:
    from PIL import Image

    from influencer_gan.api import _square
    from influencer_gan.data import load_photos, load_scenes
    folder = out / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for name, img in load_photos("test") + load_scenes("test")[:1]:
        sq = _square(img, size)
        arr = (sq.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        path = folder / f"{name}.jpg"
        Image.fromarray(arr).save(path, quality=90)
        photos.append({"name": name, "file": f"photos/{path.name}", "bytes": path.stat().st_size})
    (out / "photos.json").write_text(json.dumps(photos, indent=1) + "\n")
    return photos


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "_static" / "studio"))
    ap.add_argument("--node-modules", default=str(ROOT / "node_modules"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    runtime = copy_runtime(Path(args.node_modules), out / "ort")
    model = write_model(out / "model")
    sliders = write_sliders(out / "model")
    photos = write_photos(out / "model")
    manifest = {"onnxruntime_web": runtime, "model": model, "sliders": sliders, "photos": photos}
    (out / "model" / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = (sum(runtime["files"].values()) + model["onnx_bytes"] + sliders["editor_bytes"]
             + sliders.get("params_bytes", 0) + sum(p["bytes"] for p in photos))
    print(f"web demo assets in {out}: onnxruntime-web {runtime['version']} "
          f"({sum(runtime['files'].values()) / 1e6:.1f} MB), looks.onnx {model['onnx_bytes'] / 1e6:.2f} MB, "
          f"editor.onnx {sliders['editor_bytes'] / 1e3:.0f} kB (max diff {sliders['editor_max_diff']:.1e}), "
          f"{len(photos)} photos; {total / 1e6:.1f} MB in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Assets of the studio chapter's in-browser demo (`make book` runs this; nothing is committed).

    python scripts/build_web_demo.py [--out _static/studio] [--node-modules node_modules]

The demo (`_static/studio/index.html` + `studio.js`, committed) runs the shipped looks model
in the reader's browser with onnxruntime-web's WASM backend. This script writes what it needs
beside it, all generated from the repository's own files:

* `model/looks.onnx` and `model/looks.looks.json`: `influencer_gan.export.export_onnx` of the
  shipped looks weights (checked against PyTorch with onnxruntime, max abs error <= 1e-3), and
  the style codes of the named looks, which the page mixes as convex combinations (§4.4);
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
    photos = write_photos(out / "model")
    manifest = {"onnxruntime_web": runtime, "model": model, "photos": photos}
    (out / "model" / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(runtime["files"].values()) + model["onnx_bytes"] + sum(p["bytes"] for p in photos)
    print(f"web demo assets in {out}: onnxruntime-web {runtime['version']} "
          f"({sum(runtime['files'].values()) / 1e6:.1f} MB), looks.onnx {model['onnx_bytes'] / 1e6:.2f} MB, "
          f"{len(photos)} photos; {total / 1e6:.1f} MB in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

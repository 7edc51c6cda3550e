"""Copy a finished `influencer-gan train` run into the package as shipped weights.

    python scripts/ship_weights.py runs/avatars avatars [--note "..."]

Writes influencer_gan/weights/NAME/{model.safetensors, config.json, MODEL_CARD.md, metrics.json}:
the EMA generator (and style encoder), in float16 when that matters for the size (loading casts
back to float32),
the run's config, and a model card with the data, steps, wall-clock, hardware and the metrics
that `influencer-gan evaluate` measures on the copied weights — so every number beside the
weights comes from the weights.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import cpu_name, now  # noqa: E402  (the benchmarks' machine description)
from influencer_gan import metrics  # noqa: E402
from influencer_gan.api import load_model  # noqa: E402
from influencer_gan.train import CHECKPOINT, MODEL, read_checkpoint  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("name", choices=["looks", "avatars"])
    ap.add_argument("--note", default="", help="anything a reader of the model card must know")
    ap.add_argument("--hardware", default=None,
                    help="where it was trained (default: this machine's CPU, 1 thread, shared)")
    ap.add_argument("--trained-by", default=None,
                    help="the training command (default: influencer-gan train NAME --config configs/NAME.json)")
    a = ap.parse_args(argv)

    tensors, meta = read_checkpoint(a.run / MODEL)
    # the run folder it was trained in is a machine path: ship the conventional one instead
    config = {**json.loads(meta["config"]), "out": f"runs/{a.name}"}
    meta = {**meta, "config": json.dumps(config)}
    if (a.run / CHECKPOINT).exists():
        _, full_meta = read_checkpoint(a.run / CHECKPOINT)
        history = json.loads(full_meta.get("history", "[]"))
    else:  # a run packed without its optimiser state (scripts/device_avatars.sh): its history beside it
        history = json.loads((a.run / "history.json").read_text())
    out = ROOT / "influencer_gan" / "weights" / a.name
    out.mkdir(parents=True, exist_ok=True)
    # float16 halves a large model; the avatar generator is always shipped in float16, a small
    # looks model stays float32
    fp32_bytes = sum(v.numel() * 4 for v in tensors.values() if v.is_floating_point())
    half = fp32_bytes > 8e6 or a.name == "avatars"
    kept = {k: (v.half() if half and v.is_floating_point() else v) for k, v in tensors.items()}
    save_file(kept, str(out / MODEL), metadata={"config": meta["config"], "step": meta["step"]})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    curve = a.run / "val.jsonl"           # the validation curve, when the run wrote one (val_every)
    if curve.exists():
        (out / "validation.jsonl").write_text(curve.read_text())
    elif (out / "validation.jsonl").exists():
        (out / "validation.jsonl").unlink()

    model = load_model(out)
    results = {"date": now(), **metrics.evaluate(model, task=a.name)}
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    seconds = history[-1]["seconds"] if history else float("nan")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    size_mb = os.path.getsize(out / MODEL) / 1e6
    card = f"""# Model card: `load_pretrained("{a.name}")`

* **Trained by** `{a.trained_by or f"influencer-gan train {a.name} --config configs/{a.name}.json"}` (the committed
  config; `config.json` here is the run's own copy), then shipped with
  `python scripts/ship_weights.py {a.run} {a.name}` at commit {commit}.
* **Data**: the embedded data set only (`influencer_gan.data`, rendered on the fly; nothing
  downloaded). {"Avatars: procedural avatars with attributes, half of them in a named look." if a.name == "avatars" else "Looks: crops of the bundled training photos and scenes in the configured looks."}
* **Steps**: {meta["step"]} of batch {config["batch_size"]} at {config["image_size"]} px;
  **wall-clock** {seconds / 60:.1f} min.
* **Hardware**: {a.hardware or f"{cpu_name()}, CPU only, 1 thread (`OMP_NUM_THREADS=1`), on a shared 2-core machine"};
  torch {torch.__version__}.
* **Weights**: the EMA generator{" and style encoder" if a.name == "looks" else ""} in {"float16" if half else "float32"},
  {size_mb:.1f} MB (safetensors{'; loading casts to float32' if half else ''}).

## Measured (`influencer-gan evaluate {a.name} --checkpoint influencer_gan/weights/{a.name}`)

{metrics.format_table(results)}

{a.note}
"""
    (out / "MODEL_CARD.md").write_text(card)
    print(card)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train shipped weights on a GPU (AMP), sized to a wall-clock budget.

    python scripts/train_gpu.py --budget 300 --out /tmp/runs/looks --report gpu.json
    python scripts/train_gpu.py --config configs/avatars.json --budget 400 --out /tmp/runs/avatars

Runs the package's own training command, `influencer-gan train TASK --config CONFIG
--device cuda --steps N` (TASK is the config's), with N chosen so that the run fits `--budget` seconds: a throw-away
trainer first times 40 steps of the same recipe on the same device (which also fills the cache
of the prior's looks). Writes the GPU figures (device, AMP dtype, steps, seconds, images/s, peak
memory) to `--report`. The learning-rate schedule is sized to N, so the run is complete.
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from influencer_gan import cli  # noqa: E402
from influencer_gan.train import TrainConfig, Trainer, amp_dtype, pick_device  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="configs/looks.json")
    p.add_argument("--budget", type=float, default=300.0, help="seconds for the whole training run")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default="runs/looks")
    p.add_argument("--report", type=Path, default=None)
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--min-steps", type=int, default=100)
    p.add_argument("--probe", type=int, default=40, help="steps timed for the calibration (after half as many warm-up)")
    p.add_argument("--overrides", type=Path, help="JSON {'overrides': {...}} of TrainConfig fields to change "
                   "(e.g. written by benchmarks/unpaired_sweep.py --select); the merged config is written beside --out")
    a = p.parse_args(argv)
    t_start = time.perf_counter()
    cfg = TrainConfig.load(ROOT / a.config)
    if a.overrides:
        cfg = TrainConfig.from_dict({**cfg.to_dict(), **json.loads(a.overrides.read_text())["overrides"]})
        merged = Path(a.out).with_name(f"{cfg.task}_config.json")
        merged.parent.mkdir(parents=True, exist_ok=True)
        merged.write_text(json.dumps({k: v for k, v in cfg.to_dict().items() if k not in ("device",)}, indent=2))
        a.config = str(merged)
    probe = TrainConfig.from_dict({**cfg.to_dict(), "device": a.device, "out": str(Path(a.out).with_name("calibration")),
                                   "sample_every": 0})
    tr = Trainer(probe, progress=False)
    for _ in range(a.probe // 2):
        tr.step()
    dev = pick_device(a.device)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.probe):
        tr.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - t0) / a.probe
    del tr
    left = a.budget - (time.perf_counter() - t_start)
    steps = max(a.min_steps, min(a.max_steps, int(0.9 * left / per_step)))
    print(f"calibration: {per_step * 1000:.1f} ms/step on {dev}; training {steps} steps", flush=True)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t1 = time.perf_counter()
    rc = cli.main(["train", cfg.task, "--config", a.config, "--device", a.device, "--steps", str(steps),
                   "--out", a.out, "--no-progress"])
    seconds = time.perf_counter() - t1
    report = {"device": str(dev), "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
              "amp": str(amp_dtype(dev, cfg.amp)), "torch": torch.__version__, "cuda": torch.version.cuda,
              "calibration_ms_per_step": per_step * 1000, "steps": steps, "train_seconds": seconds,
              "images_per_s": steps * cfg.batch_size / seconds, "batch_size": cfg.batch_size,
              "peak_memory_mb": torch.cuda.max_memory_allocated(dev) / 2 ** 20 if dev.type == "cuda" else None,
              "torch_threads": torch.get_num_threads(), "returncode": rc,
              "command": f"influencer-gan train {cfg.task} --config {a.config} --device {a.device} --steps {steps} --out {a.out}"}
    print(json.dumps(report, indent=2))
    if a.report:
        a.report.write_text(json.dumps(report, indent=2) + "\n")
    shutil.rmtree(Path(a.out).with_name("calibration"), ignore_errors=True)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())

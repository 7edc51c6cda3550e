"""What each change to the avatars recipe does: the runs of scripts/device_avatars.sh, scored.

    python benchmarks/avatars_variants.py RUNS_DIR [--no-write]

RUNS_DIR holds one folder per variant, as scripts/device_avatars.sh packs them (model.safetensors:
the EMA generator in float16; config.json, history.json, gpu.json). Every variant is the committed
configs/avatars.json with the overrides of benchmarks/results/avatars_variants/NAME.json, trained
side by side on one GPU for the same wall-clock budget. Each is scored with the avatars protocol of
`influencer-gan evaluate avatars` (1,000 avatars, FID on the attribute classifier's features,
diversity of 8 avatars for each of 20 conditions, the artefact ratio) and timed on this CPU
(2 threads, a batch of 64). Writes benchmarks/results/avatars_variants.json and the
`avatars_variants` section of RESULTS.md.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import _report  # noqa: E402
from influencer_gan import metrics as M  # noqa: E402
from influencer_gan.api import load_model  # noqa: E402

VARIANTS = ROOT / "benchmarks" / "results" / "avatars_variants"


SPEED_CODE = """
import json, sys, time
import influencer_gan as ig          # first, as a plain user's script or the CLI does
m = ig.load_model(sys.argv[1])
out = {}
for n, repeats in ((64, 7), (1, 21)):
    m.generate(n, seed=0, return_tensor=True)
    t = []
    for i in range(repeats):
        t0 = time.perf_counter()
        m.generate(n, seed=i, return_tensor=True)
        t.append((time.perf_counter() - t0) / n * 1000)
    t.sort()
    out[n] = {"median": t[len(t) // 2], "worst": t[-1]}
import torch
out["threads"] = torch.get_num_threads()
print(json.dumps(out))
"""


def avatar_speed(folder) -> dict:
    """ms per 64 px avatar as a plain user gets it: a fresh `python -c` process that imports the
    package first, default threads; `generate(64)` (per avatar) and `generate(1)`, median / worst."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")}
    r = subprocess.run([sys.executable, "-c", SPEED_CODE, str(folder)], capture_output=True, text=True,
                       env=env, cwd=ROOT, check=True)
    d = json.loads(r.stdout.strip().splitlines()[-1])
    return {"batch64": d["64"], "single": d["1"], "threads": d["threads"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", type=Path)
    p.add_argument("--names", default=None, help="comma-separated variants (default: every folder in RUNS)")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--speed-only", action="store_true",
                   help="keep the scores of the saved results/avatars_variants.json; re-time each variant only")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    names = a.names.split(",") if a.names else sorted(d.name for d in a.runs.iterdir() if (d / "model.safetensors").exists())
    saved = json.loads((ROOT / "benchmarks" / "results" / "avatars_variants.json").read_text()) if a.speed_only else None
    real = saved["real"] if saved else M.score_avatars(M.render_generate(), M.avatars_protocol())
    rows = []
    for name in names:
        run = a.runs / name
        model = load_model(run)
        if saved:
            r = {k: v for k, v in next(x for x in saved["rows"] if x["name"] == name).items()
                 if k not in ("name", "overrides", "steps", "train_seconds", "ms_per_avatar")}
        else:
            r = M.score_avatars(M.model_generate(model), M.avatars_protocol())
        gpu = json.loads((run / "gpu.json").read_text()) if (run / "gpu.json").exists() else {}
        overrides = (json.loads((VARIANTS / f"{name}.json").read_text())["overrides"]
                     if (VARIANTS / f"{name}.json").exists() else {})
        rows.append({"name": name, "overrides": overrides, "steps": gpu.get("steps"),
                     "train_seconds": gpu.get("train_seconds"),
                     "ms_per_avatar": avatar_speed(run)["batch64"]["median"], **r})
        w = min(r["smile_by_skin"].items(), key=lambda kv: kv[1])
        print(f"{name:20s} all {100 * r['accuracy']['all']:5.1f} %  smile, worst skin {100 * w[1]:5.1f} % ({w[0]})  "
              f"FID {r['fid']:6.2f}  diversity {r['diversity_l1']:.4f}  artefact {r['artefact_ratio']:.2f}  "
              f"{rows[-1]['ms_per_avatar']:.1f} ms", flush=True)
    gpu_name = next((json.loads((a.runs / n / "gpu.json").read_text()).get("gpu") for n in names
                     if (a.runs / n / "gpu.json").exists()), None)
    lines = [f"## Avatars: what each change does (`benchmarks/avatars_variants.py`)", "",
             f"Measured {_report.now()} with `{_report.command()}` on {_report.cpu_name()} "
             f"(2 threads, load {_report.load_average()}). Trained by `bash scripts/device_avatars.sh`: every "
             f"variant is `configs/avatars.json` plus its overrides (`benchmarks/results/avatars_variants/`), "
             f"all of them side by side on one {gpu_name or 'GPU'} (AMP bf16) for the same wall-clock budget, "
             f"each with 2 CPU threads rendering its avatars. Scores: the avatars protocol of `influencer-gan "
             f"evaluate avatars` (1,000 avatars). Speed: `generate(64)` on this CPU in a fresh process that "
             f"imports the package first (default threads), median of 7, per avatar.", "",
             "| variant | overrides | steps | all attributes right ↑ | smile, worst skin tone ↑ | FID ↓ | diversity L1 | artefact ratio ↓ | ms / avatar |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        w = min(r["smile_by_skin"].items(), key=lambda kv: kv[1])
        ov = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "(none)"
        lines.append(f"| {r['name']} | {ov} | {r['steps']} | {100 * r['accuracy']['all']:.1f} % | "
                     f"{100 * w[1]:.1f} % ({w[0]}) | {r['fid']:.2f} | {r['diversity_l1']:.4f} | "
                     f"{r['artefact_ratio']:.2f} | {r['ms_per_avatar']:.1f} |")
    lines.append(f"| real renders (reference) | | | {100 * real['accuracy']['all']:.1f} % | "
                 f"{100 * min(real['smile_by_skin'].values()):.1f} % | {real['fid']:.2f} | "
                 f"{real['diversity_l1']:.4f} | {real['artefact_ratio']:.2f} | |")
    res = {"date": _report.now(), "command": _report.command(), "machine": _report.machine(),
           "real": real, "rows": rows}
    if saved:
        res["scores_from"] = {"date": saved["date"], "command": saved["command"]}
        lines[2] += f" Scores from `{saved['command']}` ({saved['date']}); only the speed was re-measured."
    _report.save("avatars_variants", res, "\n".join(lines), _report.RESULTS, quick=False, no_write=a.no_write)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

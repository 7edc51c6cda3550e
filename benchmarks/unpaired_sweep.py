"""What makes unpaired, conditional training learn many looks: one change at a time, at equal budget.

    python benchmarks/unpaired_sweep.py --parallel 12 --minutes 4     # every job, one thread each
    python benchmarks/unpaired_sweep.py --jobs recipe,cyclegan:pastel --minutes 0.2 --no-write

Each job trains for `--minutes` of wall clock on ONE thread (or `--steps`, whichever comes
first; the learning-rate schedule is sized to `--steps`), in its own process, then scores the
EMA generator with the evaluation protocol of `metrics.score_looks` (held-out test photos,
named looks × 4 conditions, 10 unseen looks from 5 references) and on each CycleGAN look at
c = (0, 0, 1). Jobs:

* `recipe`            — TrainConfig defaults: the unpaired recipe (no ground truth);
* `recipe+X`          — the recipe with one change X (see VARIANTS);
* `paired`            — the recipe plus an L1 loss to the exact ground truth (λ = 100): the
                         supervised upper bound;
* `cyclegan:LOOK`     — the CycleGAN configuration (`cyclegan_baseline.py`) on one look.

Results: one JSON per job in `--out`, and all of them in results/unpaired_sweep.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

VARIANTS = {
    "lsgan": {"gan_loss": "lsgan"},
    "patchgan": {"d_arch": "patch", "ndf": 32},
    "no_contrastive": {"lambda_style": 0.0},
    "old_optimiser": {"lr_g": 1e-3, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema_decay": 0.995},
    "no_cycle": {"lambda_cyc": 0.0},
    "cycle10": {"lambda_cyc": 10.0},
    "batch64": {"batch_size": 64},
    "conv_encoder": {"encoder": "conv+stats"},
    "pool50": {"pool_size": 50},
    "fresh_prior": {"prior_pool": 0},
    "image64": {"image_size": 64},
    "stats_cond": {"d_cond": "stats"},
    "fast_lr": {"lr_g": 3e-4, "lr_d": 6e-4},
    "stats_cond_fast_lr": {"d_cond": "stats", "lr_g": 3e-4, "lr_d": 6e-4},
    "fast_d": {"lr_d": 1e-3},
    "stats_cond_fast_d": {"d_cond": "stats", "lr_d": 1e-3},
    "stats_cond_lsgan": {"d_cond": "stats", "gan_loss": "lsgan"},
    "stats_cond_batch64": {"d_cond": "stats", "batch_size": 64},
}
# --select: candidates for the shipped recipe, scored on the *validation* photos only
CANDIDATES = ("recipe", "recipe+stats_cond", "recipe+fast_lr", "recipe+stats_cond_fast_lr", "recipe+lsgan",
              "recipe+batch64", "recipe+fast_d", "recipe+stats_cond_fast_d", "recipe+stats_cond_lsgan",
              "recipe+stats_cond_batch64")


def validation_protocol() -> dict:
    from influencer_gan import metrics as M
    # validation photos, and unseen looks other than the test protocol's (10 000 – 10 009)
    return {**M.looks_protocol(False), "split": "val", "size": 128, "n_random": 5, "ref_size": 64,
            "unseen": tuple(range(10_010, 10_020))}
CYCLEGAN_LOOKS = ("teal_orange", "pastel")
DEFAULT_JOBS = (["recipe", "paired"] + [f"recipe+{v}" for v in VARIANTS]
                + [f"cyclegan:{lk}" for lk in CYCLEGAN_LOOKS])


def run_job(job: str, steps: int, minutes: float, seed: int, select: bool = False, base: dict | None = None) -> dict:
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    from quality import per_look_protocol, train_cyclegan, train_ours
    from influencer_gan import metrics as M
    out = {"job": job, "steps_asked": steps, "minutes": minutes, "seed": seed}
    t0 = time.perf_counter()
    if job.startswith("cyclegan:"):
        look = job.split(":", 1)[1]
        run = train_cyclegan(look, steps, minutes * 60, seed=seed)
        cg = run.pop("trainer")
        out["train"] = {k: v for k, v in run.items() if isinstance(v, (int, float, str))}
        out["per_look"] = {look: M.score_looks(lambda x, n, c: cg.stylize(x),
                                               protocol=per_look_protocol(look, False))["named"]}
    else:
        overrides = dict(base or {})
        if job == "paired":
            overrides["lambda_paired"] = 100.0
        elif job.startswith("recipe+"):
            overrides.update(VARIANTS[job.split("+", 1)[1]])
        run = train_ours(steps, minutes * 60, None, seed=seed, **overrides)
        model = run["ema"]
        out["overrides"] = overrides
        out["train"] = {k: run[k] for k in ("steps", "seconds", "images", "images_per_s")}
        out["last_losses"] = run["last_losses"]
        out["config"] = run["config"]
        if select:
            out["validation"] = M.score_looks(*M.model_methods(model), protocol=validation_protocol())
            out["seconds_total"] = time.perf_counter() - t0
            return out
        out["scores"] = M.score_looks(*M.model_methods(model))
        out["per_look"] = {lk: M.score_looks(*M.model_methods(model), protocol=per_look_protocol(lk, False))["named"]
                           for lk in CYCLEGAN_LOOKS}
    out["seconds_total"] = time.perf_counter() - t0
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", default=None, help="comma-separated (default: every job; with --select the CANDIDATES)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parallel", type=int, default=2, help="jobs at a time, one thread each")
    p.add_argument("--out", type=Path, default=HERE / "results" / "unpaired_sweep")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--select", type=Path, metavar="JSON",
                   help="train the CANDIDATES, score them on the validation photos, write the best one's "
                        "TrainConfig overrides to JSON")
    p.add_argument("--base", type=Path, metavar="JSON", help="TrainConfig overrides applied to every job of ours")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args(argv)
    if a.worker:
        base = json.loads(a.base.read_text())["overrides"] if a.base else None
        res = run_job(a.worker, a.steps, a.minutes, a.seed, a.select is not None, base)
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / (a.worker.replace(":", "_").replace("+", "_") + ".json")).write_text(json.dumps(res, indent=2))
        return 0
    if a.jobs is None:
        a.jobs = ",".join(CANDIDATES if a.select else DEFAULT_JOBS)
    jobs = [j for j in a.jobs.split(",") if j and j != "none"]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    running: list = []
    t0 = time.perf_counter()
    while jobs or running:
        while jobs and len(running) < a.parallel:
            job = jobs.pop(0)
            cmd = [sys.executable, __file__, "--worker", job, "--steps", str(a.steps), "--minutes", str(a.minutes),
                   "--seed", str(a.seed), "--out", str(a.out)] + (["--select", str(a.select)] if a.select else [])
            cmd += ["--base", str(a.base)] if a.base else []
            running.append((job, subprocess.Popen(cmd, env=env)))
        time.sleep(1)
        for job, proc in list(running):
            if proc.poll() is not None:
                running.remove((job, proc))
                print(f"[{time.perf_counter() - t0:.0f} s] {job} finished ({proc.returncode})", flush=True)
    results = {}
    for f in sorted(a.out.glob("*.json")):
        r = json.loads(f.read_text())
        results[r["job"]] = r
        s = r.get("scores") or r.get("validation")
        line = f"{r['job']:28s}"
        if s:
            line += f" named {s['named']['delta_e']:6.2f}  unseen {s['unseen']['delta_e']:6.2f}"
        line += "  " + "  ".join(f"{lk} {v['delta_e']:.2f}" for lk, v in r.get("per_look", {}).items())
        line += f"  ({r['train'].get('steps')} steps)"
        print(line)
    if a.select:
        def total(r):
            v = r["validation"]
            return v["named"]["delta_e"] + v["unseen"]["delta_e"]
        best = min(results.values(), key=total)
        a.select.write_text(json.dumps({"job": best["job"], "overrides": best["overrides"],
                                        "minutes": a.minutes, "steps": a.steps,
                                        "validation": {k: total(r) for k, r in results.items()}}, indent=2))
        print(f"selected {best['job']} ({total(best):.2f} = named + unseen ΔE2000 on validation photos)")
        return 0
    if not a.no_write:
        sys.path.insert(0, str(HERE))
        import _report
        (HERE / "results" / "unpaired_sweep.json").write_text(json.dumps(
            {"date": _report.now(), "command": _report.command(), "machine": _report.machine(),
             "args": vars(a) | {"out": str(a.out)}, "results": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

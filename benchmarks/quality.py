"""Quality benchmark: the shipped models against exact ground truth, and our GAN against the
CycleGAN configuration and a supervised (paired) upper bound trained on the same data with the
same step and wall-clock budget; writes the *quality* section of benchmarks/RESULTS.md.

    python benchmarks/quality.py                              # shipped weights, full protocol
    python benchmarks/quality.py --checkpoint runs/looks --avatars-checkpoint runs/avatars
    python benchmarks/quality.py --quick --no-write           # smoke run (about a minute)

What is compared (all on one CPU thread, `--steps` steps or `--max-minutes` each):

* ours, unpaired — the training config of the evaluated looks weights (else `TrainConfig()`
            defaults) with `lambda_paired = 0`: the GAN alone, no ground truth;
* ours, paired   — the same with `lambda_paired` (L1 to the exact ground truth, pix2pix's
            λ = 100): the supervised upper bound that unpaired training cannot reach (and the
            recipe of the shipped looks weights, which set it in configs/looks.json);
* CycleGAN — the paper's configuration (`cyclegan_baseline.py`), unconditional, so one model
            per look (`--cyclegan-looks`), each with the same budget as ours.

Ours and paired are scored with the full protocol of `metrics.evaluate`; every method is
scored on each CycleGAN look at c = (0, 0, 1), the only condition CycleGAN can serve. Ours is
evaluated both as trained and as the EMA copy of the generator that `train` ships.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report  # noqa: E402
from cyclegan_baseline import CycleGANTrainer  # noqa: E402

from influencer_gan import metrics as M  # noqa: E402
from influencer_gan.api import WEIGHTS_DIR, LookModel, load_model  # noqa: E402
from influencer_gan.train import TrainConfig, Trainer  # noqa: E402

OURS = "ours, unpaired (EMA of G)"
TARGETS = {"named": 3.0, "unseen": 5.0, "avatar_accuracy": 0.97, "throughput_ratio": 2.0,
           "avatar_fid_ratio": 2.0, "avatar_diversity": 0.75, "avatar_artefact": 1.5, "avatar_ms": 10.0}


def avatar_targets(av: dict, speed: dict | None) -> list[tuple]:
    """(target, measured, met?) rows for the avatars model: issue targets against the real renders' row."""
    model = av["rows"][0]
    real = next(r for r in av["rows"] if r["method"].startswith("real renders"))
    acc = model["accuracy"]["all"]
    rows = [(f"avatar condition accuracy (all attributes right) ≥ {100 * TARGETS['avatar_accuracy']:.0f} %",
             f"{100 * acc:.1f} %", acc >= TARGETS["avatar_accuracy"]),
            (f"avatar FID ≤ {TARGETS['avatar_fid_ratio']:g} × the real-vs-real figure",
             f"{model['fid']:.2f} vs {TARGETS['avatar_fid_ratio']:g} × {real['fid']:.2f} = "
             f"{TARGETS['avatar_fid_ratio'] * real['fid']:.2f}", model["fid"] <= TARGETS["avatar_fid_ratio"] * real["fid"]),
            (f"avatar pixel diversity ≥ {100 * TARGETS['avatar_diversity']:.0f} % of the real renders'",
             f"{model['diversity_l1']:.4f} vs {real['diversity_l1']:.4f} "
             f"({100 * model['diversity_l1'] / real['diversity_l1']:.0f} %)",
             model["diversity_l1"] >= TARGETS["avatar_diversity"] * real["diversity_l1"])]
    if model.get("artefact_ratio") is not None:
        rows.append((f"avatar artefact ratio ≤ {TARGETS['avatar_artefact']:g} (`metrics.artefact_ratio`)",
                     f"{model['artefact_ratio']:.2f}", model["artefact_ratio"] <= TARGETS["avatar_artefact"]))
    if speed:
        ms = speed["batch64"]["median"]
        rows.append((f"a generated 64 px avatar in ≤ {TARGETS['avatar_ms']:g} ms on this CPU",
                     f"{ms:.1f} ms per avatar in `generate(64)`, {speed['single']['median']:.1f} ms for "
                     f"`generate(1)` (fresh process, package imported first, {speed['threads']} threads, "
                     f"median; `{speed.get('cpu', 'this CPU')}`)", ms <= TARGETS["avatar_ms"]))
    return rows


def default_checkpoint(task: str):
    folder = WEIGHTS_DIR / task
    return folder if (folder / "model.safetensors").exists() else None


def checkpoint_steps(model) -> str:
    info = M._model_info(model)
    return f"{info['source']} (step {info.get('step', '?')})"


# -- training under a budget ------------------------------------------------------------------
def train_ours(steps: int, max_seconds: float, base: dict | None = None, seed: int = 0, **overrides) -> dict:
    """Our trainer for `steps` steps (its lr schedule sized for them) or `max_seconds`, with the
    recipe `base` (a TrainConfig dict, e.g. the shipped model's) or TrainConfig defaults."""
    recipe = {k: v for k, v in (base or {}).items() if k not in TrainConfig.RUNTIME_FIELDS}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig.from_dict({**recipe, "task": "looks", "steps": steps, "device": "cpu", "out": tmp,
                                     "sample_every": 0, "log_every": 10, "seed": seed, **overrides})
        tr = Trainer(cfg, progress=False)
        t0 = time.perf_counter()
        while tr.step_num < steps and time.perf_counter() - t0 < max_seconds:
            logs = tr.step()
        seconds = time.perf_counter() - t0

    def model(nets, label):
        tensors = {f"{n}.{k}": v.detach().clone() for n in ("E", "G") for k, v in nets[n].state_dict().items()}
        return LookModel(cfg, tensors, source=label)

    return {"config": cfg.to_dict(),
            "steps": tr.step_num, "seconds": seconds, "images": tr.step_num * cfg.batch_size,
            "images_per_s": tr.step_num * cfg.batch_size / seconds, "last_losses": logs,
            "raw": model(tr.nets, "trained G"), "ema": model(tr.ema, "EMA of G")}


def train_cyclegan(look: str, steps: int, max_seconds: float, seed: int = 0) -> dict:
    tr = CycleGANTrainer(look=look, steps=steps, seed=seed)
    fit = tr.fit(steps, max_seconds=max_seconds)
    return {**fit, "trainer": tr, "n_blocks": tr.n_blocks, "batch_size": tr.batch_size}


def per_look_protocol(look: str, quick: bool) -> dict:
    return {**M.looks_protocol(quick), "looks": (look,), "conditions": ((0.0, 0.0, 1.0),), "unseen": ()}


# -- the run --------------------------------------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, help="looks run folder (default: shipped weights)")
    p.add_argument("--avatars-checkpoint", type=Path, help="avatars run folder (default: shipped weights)")
    p.add_argument("--steps", type=int, default=200, help="training steps of each budgeted run")
    p.add_argument("--max-minutes", type=float, default=5.0, help="wall-clock cap of each budgeted run")
    p.add_argument("--cyclegan-looks", default="teal_orange,pastel")
    p.add_argument("--paired-lambda", type=float, default=100.0)
    p.add_argument("--defaults", action="store_true",
                   help="train ours with TrainConfig defaults instead of the evaluated checkpoint's config")
    p.add_argument("--skip-baselines", action="store_true", help="only evaluate the given/shipped models")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="tiny protocol and budget (a smoke run; never written)")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--results", type=Path, default=_report.RESULTS, help="Markdown file to write (default: %(default)s)")
    p.add_argument("--from-json", type=Path, help="only re-render RESULTS.md from a saved results/quality.json")
    p.add_argument("--update-avatars", type=Path, metavar="JSON",
                   help="re-measure only the avatars model (shipped or --avatars-checkpoint) and merge it "
                        "into this saved results/quality.json; RESULTS.md says which command measured what")
    p.add_argument("--sweep", type=Path, metavar="JSON",
                   help="write the section from a finished benchmarks/unpaired_sweep.py run (results/unpaired_sweep.json), "
                        "the shipped looks weights' metrics.json, --feed and the avatars of the saved results/quality.json")
    p.add_argument("--feed", type=Path, metavar="JSON", default=Path(__file__).with_name("results") / "feed.json")
    p.add_argument("--gpu", type=Path, metavar="JSON", help="the GPU figures of the shipped run (scripts/train_gpu.py)")
    p.add_argument("--selected", type=Path, metavar="JSON", help="the recipe selection (unpaired_sweep.py --select)")
    a = p.parse_args(argv)
    if a.sweep:
        return from_sweep(a)
    saved = a.update_avatars or a.from_json
    if saved:   # the text of a saved run is rendered with that run's budget and threads
        res = json.loads(saved.read_text())
        if "args" in res:   # a budgeted run's json (a section written from a sweep has none)
            a.steps, a.max_minutes = int(res["args"]["steps"]), float(res["args"]["max_minutes"])
            a.threads = int(res["args"]["threads"])
    if a.update_avatars:
        torch.set_num_threads(a.threads)
        t0 = time.perf_counter()
        folder = a.avatars_checkpoint or default_checkpoint("avatars")
        res["avatars"] = M.evaluate(load_model(folder, device="cpu"), "avatars")
        from avatars_variants import avatar_speed
        res["avatars_speed"] = {**avatar_speed(folder),
                                "cpu": _report.cpu_name(), "load_average": _report.load_average()}
        res["avatars_update"] = {"date": _report.now(), "command": _report.command(),
                                 "minutes": (time.perf_counter() - t0) / 60}
        res["avatars_date"] = res["avatars_update"]["date"]
        print(M.format_table(res["avatars"]), flush=True)
        text = render_unpaired(res, a) if "sweep" in res else render(res, a)
        _report.save("quality", res, text, a.results, False, a.no_write)
        return 0
    if a.from_json:
        _report.write_section("quality", render(res, a), a.results)
        print(f"wrote {a.results}")
        return 0
    torch.set_num_threads(a.threads)
    t_start = time.perf_counter()
    if a.quick:
        a.steps, a.max_minutes, a.cyclegan_looks = 2, 1.0, a.cyclegan_looks.split(",")[0]
    res: dict = {"date": _report.now(), "command": _report.command(), "load_before": _report.load_average(),
                 "quick": a.quick, "args": {k: str(v) for k, v in vars(a).items()}}

    # 1. the shipped (or given) models, full protocol
    ckpt = a.checkpoint or default_checkpoint("looks")
    shipped = None
    if ckpt:
        shipped = load_model(ckpt, device="cpu")
        res["looks"] = M.evaluate(shipped, "looks", quick=a.quick)
        res["looks"]["name"] = checkpoint_steps(shipped)
        print(M.format_table(res["looks"]), flush=True)
    ackpt = a.avatars_checkpoint or default_checkpoint("avatars")
    if ackpt:
        res["avatars"] = M.evaluate(load_model(ackpt, device="cpu"), "avatars", quick=a.quick)
        print(M.format_table(res["avatars"]), flush=True)
    res["classifier"] = json.loads((M.CLASSIFIER_DIR / "config.json").read_text())

    # 2. equal budget: ours, paired, CycleGAN per look
    if not a.skip_baselines:
        budget = a.max_minutes * 60
        runs = {}
        # our recipe: the training config of the evaluated weights (else TrainConfig defaults)
        base = shipped.config.to_dict() if shipped is not None and not a.defaults else None
        res["ours_recipe"] = (f"the training config of {res['looks']['model']['source']}" if base
                              else "TrainConfig defaults")
        print(f"training ours ({a.steps} steps or {a.max_minutes} min) ...", flush=True)
        runs["ours"] = train_ours(a.steps, budget, base, lambda_paired=0.0)
        print(f"training paired ({a.steps} steps or {a.max_minutes} min) ...", flush=True)
        runs["paired"] = train_ours(a.steps, budget, base, lambda_paired=a.paired_lambda)
        for look in a.cyclegan_looks.split(","):
            print(f"training CycleGAN for {look} ({a.steps} steps or {a.max_minutes} min) ...", flush=True)
            runs[f"cyclegan:{look}"] = train_cyclegan(look, a.steps, budget)
        res["budget"] = {name: {k: v for k, v in r.items() if k not in ("raw", "ema", "trainer")}
                         for name, r in runs.items()}
        methods = {"ours, unpaired (trained G)": runs["ours"]["raw"], OURS: runs["ours"]["ema"],
                   "ours, paired upper bound (trained G)": runs["paired"]["raw"],
                   "ours, paired upper bound (EMA of G)": runs["paired"]["ema"]}
        res["budget_full"] = {"identity (do nothing)": M.score_looks(*M.identity_methods(), quick=a.quick)}
        for name, model in methods.items():
            res["budget_full"][name] = M.score_looks(*M.model_methods(model), quick=a.quick)
            print(name, {k: round(v, 3) for k, v in res["budget_full"][name]["named"].items()}, flush=True)
        res["per_look"] = {}
        for look in a.cyclegan_looks.split(","):
            prot = per_look_protocol(look, a.quick)
            row = {"identity (do nothing)": M.score_looks(*M.identity_methods(), protocol=prot)["named"]}
            if shipped is not None:
                row[f"ours, evaluated checkpoint (step {res['looks']['model'].get('step', '?')})"] = M.score_looks(*M.model_methods(shipped), protocol=prot)["named"]
            for name, model in methods.items():
                row[name] = M.score_looks(*M.model_methods(model), protocol=prot)["named"]
            cg = runs[f"cyclegan:{look}"]["trainer"]
            row["CycleGAN configuration"] = M.score_looks(lambda x, n, c: cg.stylize(x), protocol=prot)["named"]
            res["per_look"][look] = row
            print(look, {k: round(v["delta_e"], 2) for k, v in row.items()}, flush=True)

    res["load_after"] = _report.load_average()
    res["seconds"] = time.perf_counter() - t_start
    res["machine"] = _report.machine()
    print(f"quality benchmark: {res['seconds'] / 60:.1f} min", flush=True)
    _report.save("quality", res, render(res, a), a.results, a.quick, a.no_write)
    return 0


# -- RESULTS.md -------------------------------------------------------------------------------
def _threads(n) -> str:
    return f"{n} thread" + ("s" if int(n) > 1 else "")


def _f(v, d=2):
    return M._f(v, d)


def render(r: dict, a) -> str:
    m = r["machine"]
    lines = ["## Quality", "",
             f"- date: {r['date']}; command: `{r['command']}` ({r['seconds'] / 60:.1f} min on {_threads(a.threads)})",
             f"- machine: {m['cpu']}, {m['cores']} cores shared with other users; torch {m['torch']}, CPU only; "
             f"load average before {r['load_before']}, after {r['load_after']}",
             "- protocol (`metrics.evaluate`): held-out test photos (coffee, chelsea): each one's centre square and 2 "
             "random crops at 256 px; named looks × c ∈ {(0,0,1), (0.5,0,1), (0,0.5,1), (0,−0.5,0.6)} "
             "(vivid, warmth, strength) against `looks.apply(..., grain=False)`; unseen looks = "
             "`random_look(10000..10009)` described by 5 references rendered (grain on) on held-out val/test crops, "
             "at c = (0,0,1). ΔE2000 is the mean CIEDE2000 over all pixels (scikit-image)."
             + (" **This run used the quick smoke protocol and budget: its numbers are not measurements.**"
                if r.get("quick") else ""), ""]
    targets = []
    if "looks" in r:
        lk = r["looks"]
        lines += [f"### Looks model: {lk['name']}", ""]
        paired = lk.get("model", {}).get("config", {}).get("lambda_paired", 0)
        if paired:
            lines += [f"Trained with `lambda_paired = {paired:g}`: the adversarial loss plus an L1 loss to the exact "
                      "ground truth of every training crop (pix2pix's objective), which the embedded data provides "
                      "and a real feed does not. The unpaired GAN alone is measured under *Equal budget* below.", ""]
        lines += [M.format_table(lk).split("\n", 2)[2], ""]
        named, unseen = lk["rows"][0]["named"]["delta_e"], lk["rows"][0]["unseen"]["delta_e"]
        how = " (shipped model, trained with pairs)" if paired else ""
        targets += [(f"named looks on held-out photos: mean ΔE2000 ≤ {TARGETS['named']:g}", f"{named:.2f}{how}",
                     named <= TARGETS["named"]),
                    (f"looks never seen in training, from 5 references: ΔE2000 ≤ {TARGETS['unseen']:g}", f"{unseen:.2f}{how}",
                     unseen <= TARGETS["unseen"],
                     None if unseen <= TARGETS["unseen"] else
                     "the encoder's guess depends on which 5 references it sees: `benchmarks/reference_sets.py`, "
                     "influencer_gan/weights/looks/MODEL_CARD.md")]
    else:
        lines += ["### Looks model", "", "No looks weights were found (influencer_gan/weights/looks); "
                  "run with `--checkpoint RUN`.", ""]
    if "avatars" in r:
        av = r["avatars"]
        upd = r.get("avatars_update")
        lines += [f"### Avatars model: {checkpoint_name(av)}", ""]
        if upd:
            lines += [f"Measured later than the rest of this section: {upd['date']}, command `{upd['command']}` "
                      f"({upd['minutes']:.1f} min), after new avatars weights shipped.", ""]
        lines += [
                  f"{av['protocol']['n']} generated avatars (random attributes, no look) read by the attribute "
                  "classifier; FID/KID on its 128-d penultimate features against as many fresh renders; "
                  f"diversity = mean pairwise distance of {av['protocol']['diversity_k']} avatars per condition "
                  f"({av['protocol']['diversity_conditions']} conditions), in pixels (L1) and in classifier features.", "",
                  M.format_table(av).split("\n", 2)[2], ""]
        targets += [(*t, None if t[2] else "influencer_gan/weights/avatars/MODEL_CARD.md")
                    for t in avatar_targets(av, r.get("avatars_speed"))]
    clf = r["classifier"]
    lines += [f"The attribute classifier itself: {100 * clf['test']['accuracy']['all']:.1f} % of "
              f"{clf['test']['n']} held-out rendered avatars with all attributes right "
              f"(min per attribute {100 * min(v for k, v in clf['test']['accuracy'].items() if k != 'all'):.1f} %); "
              "see influencer_gan/weights/attr_classifier/MODEL_CARD.md.", ""]
    if "budget" in r:
        b = r["budget"]
        lines += [f"### Equal budget: ours vs the CycleGAN configuration vs a paired upper bound", "",
                  f"Each run: {a.steps} steps or {a.max_minutes:g} min of wall clock, whichever comes first, "
                  f"{_threads(a.threads)}, the same training photos and crops (`data.LookStream`), 64 px. "
                  f"Ours uses {r.get('ours_recipe', 'TrainConfig defaults')} (steps and learning-rate schedule "
                  f"sized to {a.steps} steps); CycleGAN the paper's batch size 1.", "",
                  "| run | trains on | batch | steps done | images seen | wall clock | images/s |", "|---|---|---|---|---|---|---|"]
        for name, run in b.items():
            if name.startswith("cyclegan:"):
                what = (f"CycleGAN configuration (ResNet-{run['n_blocks']}, 70×70 PatchGAN, LSGAN, λ=10, id 0.5λ, pool 50)",
                        f"`{name.split(':')[1]}` only, c = (0,0,1)")
            else:
                looks_mode = {"named": "the named looks", "prior": "prior looks",
                              "mixed": "named + prior looks",
                              "wide": "named + prior looks + app filters"}[run["config"]["looks"]]
                what = ("ours, " + (f"paired: lambda_paired={run['config']['lambda_paired']:g} (L1 to ground truth)"
                                    if name == "paired" else "unpaired: lambda_paired=0 (GAN only)"),
                        f"{looks_mode}, random c")
            bs = run.get("batch_size") or run["config"]["batch_size"]
            lines.append(f"| {what[0]} | {what[1]} | {bs} | {run['steps']} | {run['images']} | "
                         f"{run['seconds'] / 60:.1f} min | {run['images_per_s']:.2f} |")
        lines += ["", "Full protocol (all named looks × 4 conditions; unseen looks from references):", "",
                  "| method | named ΔE2000 ↓ | named PSNR ↑ | named SSIM ↑ | unseen ΔE2000 ↓ | unseen PSNR ↑ | unseen SSIM ↑ |",
                  "|---|---|---|---|---|---|---|"]
        for name, s in r["budget_full"].items():
            n, u = s["named"], s.get("unseen", {})
            lines.append(f"| {name} | {_f(n['delta_e'])} | {_f(n['psnr'])} | {_f(n['ssim'], 3)} | "
                         f"{_f(u.get('delta_e'))} | {_f(u.get('psnr'))} | {_f(u.get('ssim'), 3)} |")
        looks = list(r["per_look"])
        methods = list(next(iter(r["per_look"].values())))
        lines += ["", "Each CycleGAN look at c = (0,0,1) on the held-out crops — ΔE2000 ↓ / PSNR ↑ / SSIM ↑:", "",
                  "| method | " + " | ".join(f"`{lk}`" for lk in looks) + " |", "|---|" + "---|" * len(looks)]
        for meth in methods:
            lines.append(f"| {meth} | " + " | ".join(
                f"{_f(r['per_look'][lk][meth]['delta_e'])} / {_f(r['per_look'][lk][meth]['psnr'])} / "
                f"{_f(r['per_look'][lk][meth]['ssim'], 3)}" for lk in looks) + " |")
        ours_ips = b["ours"]["images_per_s"]
        cg_ips = min(run["images_per_s"] for n, run in b.items() if n.startswith("cyclegan:"))
        ratio = ours_ips / cg_ips
        pl = r["per_look"]
        better = all(pl[lk][OURS]["delta_e"] <= pl[lk]["CycleGAN configuration"]["delta_e"] for lk in looks)
        # "better than CycleGAN" means little if ours barely moved from doing nothing
        learned = all(pl[lk][OURS]["delta_e"] <= 0.8 * pl[lk]["identity (do nothing)"]["delta_e"] for lk in looks)
        targets.append((f"training throughput ≥ {TARGETS['throughput_ratio']:g}× the CycleGAN configuration at equal "
                        "or better quality", f"{ratio:.1f}× images/s; ΔE2000 on the CycleGAN looks "
                        + ", ".join(f"{r['per_look'][lk][OURS]['delta_e']:.2f} (ours unpaired, EMA) vs "
                                    f"{r['per_look'][lk]['CycleGAN configuration']['delta_e']:.2f}" for lk in looks),
                        ratio >= TARGETS["throughput_ratio"] and better,
                        ("at this budget ours (unpaired) is worse than CycleGAN on "
                         + ", ".join(f"`{lk}`" for lk in looks if pl[lk][OURS]["delta_e"] > pl[lk]["CycleGAN configuration"]["delta_e"])
                         + f"; ours learns every look at once, CycleGAN one, and at {a.steps} steps neither is much better than doing nothing")
                        if not better else None if learned else
                        "only formally: within the budget ours stays within 20 % of the identity baseline "
                        + ", ".join(f"({pl[lk]['identity (do nothing)']['delta_e']:.2f})" for lk in looks)
                        + "; it beats CycleGAN because it starts as the identity, while CycleGAN starts from noise"))
    lines += ["", "### Quality targets", "", "| target | measured | met? |", "|---|---|---|"]
    for t, v, ok, *note in targets:
        note = note[0] if note and note[0] else ""
        lines.append(f"| {t} | {v} | {('yes' if ok else '**no**') + (f' — {note}' if note else '')} |")
    return "\n".join(lines)


# -- the unpaired report: the shipped unpaired weights, the sweep, the feed ----------------------
SWEEP_LABELS = {
    "recipe": "the recipe (TrainConfig defaults)",
    "paired": "paired upper bound: + 100 · L1 to the ground truth",
    "recipe+lsgan": "LSGAN instead of the non-saturating loss",
    "recipe+patchgan": "the package's PatchGAN (+ global statistics) instead of the colour critic",
    "recipe+no_contrastive": "no contrastive loss: E learns only through G's losses",
    "recipe+old_optimiser": "the old optimiser: lr_g 1e-3, Adam (0.5, 0.999), EMA 0.995",
    "recipe+no_cycle": "no cycle loss (λ_cyc = 0)",
    "recipe+cycle10": "λ_cyc = 10",
    "recipe+batch64": "batch 64",
    "recipe+conv_encoder": "E also reads convolutional features",
    "recipe+pool50": "image pool of 50",
    "recipe+fresh_prior": "a fresh prior look every time (no pool of 2,000)",
    "recipe+image64": "64 px crops instead of 32",
    "recipe+stats_cond": "D conditioned on the references' colour statistics",
    "recipe+fast_lr": "lr_g 3e-4, lr_d 6e-4",
    "recipe+stats_cond_fast_lr": "D on the references' statistics, lr 3e-4 / 6e-4",
    "recipe+fast_d": "lr_d 1e-3",
    "recipe+stats_cond_fast_d": "D on the references' statistics, lr_d 1e-3",
    "recipe+stats_cond_lsgan": "D on the references' statistics, LSGAN",
    "recipe+stats_cond_batch64": "D on the references' statistics, batch 64",
}


def from_sweep(a) -> int:
    """Re-render the quality section from saved runs (nothing is trained here)."""
    sweep = json.loads(a.sweep.read_text())
    old = json.loads((Path(__file__).with_name("results") / "quality.json").read_text())
    res = {"date": _report.now(), "command": _report.command(), "sweep": sweep,
           "looks": json.loads((WEIGHTS_DIR / "looks" / "metrics.json").read_text()),
           "avatars": old.get("avatars"), "avatars_date": (old.get("avatars_update") or {}).get("date", old.get("date")),
           "classifier": old.get("classifier"),
           "feed": json.loads(a.feed.read_text()) if a.feed and a.feed.exists() else None,
           "gpu": json.loads(a.gpu.read_text()) if a.gpu else None,
           "selected": json.loads(a.selected.read_text()) if a.selected else None}
    torch.set_num_threads(a.threads)
    res["identity_per_look"] = {lk: M.score_looks(*M.identity_methods(), protocol=per_look_protocol(lk, False))["named"]
                                for lk in a.cyclegan_looks.split(",")}
    res["config"] = json.loads((WEIGHTS_DIR / "looks" / "config.json").read_text())
    _report.save("quality", res, render_unpaired(res, a), a.results, False, a.no_write)
    print(render_unpaired(res, a))
    return 0


def render_unpaired(r: dict, a) -> str:
    sw, lk, cfg = r["sweep"], r["looks"], r["config"]
    runs = sw["results"]
    sargs = sw["args"]
    m = sw["machine"]
    gpu = r.get("gpu") or {}
    lines = ["## Quality", "",
             f"- written {r['date']} by `{r['command']}` from saved runs (nothing trained by that command); "
             "the raw numbers are in benchmarks/results/quality.json and unpaired_sweep.json",
             "- protocol (`metrics.evaluate`, `metrics.score_looks`): held-out test photos (coffee, chelsea): each one's "
             "centre square and 2 random crops at 256 px; named looks × c ∈ {(0,0,1), (0.5,0,1), (0,0.5,1), (0,−0.5,0.6)} "
             "(vivid, warmth, strength) against `looks.apply(..., grain=False)`; unseen looks = `random_look(10000..10009)` "
             "described by 5 references rendered (grain on) on held-out val/test crops, at c = (0,0,1). ΔE2000 is the "
             "mean CIEDE2000 over all pixels (scikit-image).", ""]
    named, unseen = lk["rows"][0]["named"]["delta_e"], lk["rows"][0]["unseen"]["delta_e"]
    ident = lk["rows"][1]
    lines += [f"### Shipped looks model: unpaired, no ground truth (step {lk['model'].get('step', '?')})", "",
              f"`load_pretrained(\"looks\")` is trained by `influencer-gan train looks --config configs/looks.json"
              + (f" --device cuda --steps {gpu['steps']}" if gpu else "") + "` (inside `scripts/device_looks.sh`) "
              f"(`configs/looks.json`, `lambda_paired = {cfg['lambda_paired']:g}`): adversarial loss + cycle loss "
              f"(λ = {cfg['lambda_cyc']:g}) + the style encoder's contrastive loss, on crops of the bundled training photos "
              f"in the 10 named looks and {cfg['prior_pool']} looks of the prior, batch {cfg['batch_size']} at "
              f"{cfg['image_size']} px."
              + (f" Trained on one {gpu['gpu']} with AMP ({gpu['amp']}): {gpu['steps']} steps in "
                 f"{gpu['train_seconds'] / 60:.1f} min, {gpu['images_per_s']:.0f} images/s, peak GPU memory "
                 f"{gpu['peak_memory_mb']:.0f} MiB." if gpu else "")
              + (f" Then resumed on one CPU thread to step {lk['model']['step']} (`influencer-gan train looks --config "
                 f"configs/looks.json --resume --steps {lk['model']['step']} --device cpu`; the learning-rate schedule "
                 "re-sized to the new length; see the model card)." if gpu and int(lk['model'].get('step', 0)) != gpu['steps'] else ""),
              "",
              M.format_table(lk).split("\n", 2)[2], ""]
    # the sweep
    sel = r.get("selected")
    lines += ["### What makes unpaired training learn many looks (`benchmarks/unpaired_sweep.py`)", "",
              f"Every run: {sargs['minutes']:g} min of wall clock or {sargs['steps']} steps on ONE CPU thread "
              f"({m['cpu']}, {m['cores']} cores, one job per core, nothing else running), 32 px unless noted, "
              "EMA of G scored with the full protocol above; the runs differ from the selected recipe in one thing each.", ""]
    if sel:
        lines += [f"The recipe was selected among {len(sel['validation'])} candidates by named + unseen ΔE2000 on the "
                  "*validation* photos (never the test photos) after "
                  f"{sel.get('minutes', 2)} min each: " + ", ".join(f"`{k}` {v:.2f}" for k, v in
                                                                 sorted(sel["validation"].items(), key=lambda kv: kv[1]))
                  + f"; selected `{sel['job']}`.", ""]
    looks = a.cyclegan_looks.split(",")
    lines += ["| run | steps | named ΔE2000 ↓ | unseen ΔE2000 ↓ | " + " | ".join(f"`{x}` ΔE2000" for x in looks) + " |",
              "|---|---|---|---|" + "---|" * len(looks)]
    lines.append("| identity (do nothing) | – | " + _f(ident["named"]["delta_e"]) + " | " + _f(ident["unseen"]["delta_e"])
                 + " | " + " | ".join(_f(r["identity_per_look"][x]["delta_e"]) for x in looks) + " |")
    order = [k for k in SWEEP_LABELS if k in runs] + [k for k in runs if k not in SWEEP_LABELS]
    for k in order:
        run = runs[k]
        label = "CycleGAN configuration, one model for this look only" if k.startswith("cyclegan:") else SWEEP_LABELS.get(k, k)
        sc = run.get("scores", {})
        cells = [_f(sc.get("named", {}).get("delta_e")), _f(sc.get("unseen", {}).get("delta_e"))]
        cells += [_f(run["per_look"][x]["delta_e"]) if x in run["per_look"] else "–" for x in looks]
        lines.append(f"| {label}{' (`' + k.split(':')[1] + '`)' if k.startswith('cyclegan:') else ''} | "
                     f"{run['train'].get('steps')} | " + " | ".join(cells) + " |")
    lines.append("")
    # the feed
    fd = r.get("feed")
    targets = [(f"named looks on held-out photos, trained without ground truth: ΔE2000 ≤ {TARGETS['named']:g}",
                f"{named:.2f}", named <= TARGETS["named"]),
               (f"looks never seen in training, from 5 references of other photos: ΔE2000 ≤ {TARGETS['unseen']:g}",
                f"{unseen:.2f}", unseen <= TARGETS["unseen"])]
    if fd:
        lines += ["### A user's own feed (`benchmarks/feed.py`)", "",
                  f"9 own photos (`--content`, validation crops) and 9 *other* photos in `{fd['look']}` (`--styled`, film "
                  "grain on; a prior look the shipped model never trained on), `influencer-gan train looks --content "
                  "content/ --styled styled/` (the default recipe; the run passed it as `--config`) stopped after "
                  f"{fd['train_seconds'] / 60:.1f} min on {fd['threads']} CPU thread ({fd['steps_done']} steps; "
                  f"{fd['machine']['cpu']}), then `stylize --checkpoint RUN --reference styled/` on the held-out test crops "
                  "at c = (0,0,1):", "",
                  "| method | ΔE2000 ↓ | PSNR ↑ | SSIM ↑ |", "|---|---|---|---|"]
        for name, v in fd["methods"].items():
            lines.append(f"| {name} | {_f(v['delta_e'])} | {_f(v['psnr'])} | {_f(v['ssim'], 3)} |")
        lines.append("")
        fe = fd["methods"]["trained on the feed (train + stylize --reference)"]["delta_e"]
        targets.append(("a user's own single-look feed: ΔE2000 ≤ 3 within 5 CPU minutes",
                        f"{fe:.2f} after {fd['train_seconds'] / 60:.1f} min", fe <= 3 and fd["train_seconds"] <= 300))
    rec = runs.get("recipe")
    if rec:
        cg = {x: runs.get(f"cyclegan:{x}") for x in looks}
        better = all(cg[x] and rec["per_look"][x]["delta_e"] < cg[x]["per_look"][x]["delta_e"] for x in looks)
        # a CycleGAN run worse than doing nothing had barely started: beating it says nothing
        ident = r.get("identity_per_look") or {}
        unfair = [x for x in looks if cg[x] and x in ident
                  and cg[x]["per_look"][x]["delta_e"] >= ident[x]["delta_e"]]
        targets.append(("unpaired better than the CycleGAN configuration at equal budget on both its looks",
                        ", ".join(f"`{x}` {rec['per_look'][x]['delta_e']:.2f} vs {cg[x]['per_look'][x]['delta_e']:.2f}"
                                  f" ({cg[x].get('steps', '?')} CycleGAN steps)" for x in looks if cg[x])
                        + (f"; not a fair test: the CycleGAN run is worse than doing nothing on "
                           f"{', '.join(f'`{x}`' for x in unfair)}" if unfair else ""),
                        better and not unfair))
    if r.get("avatars"):
        av = r["avatars"]
        upd = r.get("avatars_update") or {}
        lines += [f"### Avatars model: {checkpoint_name(av)}", "",
                  f"Measured {r.get('avatars_date')} by `{upd.get('command', 'python benchmarks/quality.py --update-avatars ...')}`"
                  + (f" ({upd['minutes']:.1f} min)" if upd.get("minutes") else "") + "; the rest of this section is "
                  "unchanged by it. 1,000 generated avatars (random attributes, no look) read by the attribute classifier; "
                  "FID/KID on its 128-d features against as many fresh renders; diversity = mean pairwise distance of "
                  "8 avatars per condition (20 conditions); *smile, worst skin tone* = the smile's accuracy on the skin "
                  "tone where it is lowest; artefact ratio = `metrics.artefact_ratio` against fresh renders.", "",
                  M.format_table(av).split("\n", 2)[2], ""]
        targets += avatar_targets(av, r.get("avatars_speed"))
    lines += ["### Quality targets", "", "| target | measured | met? |", "|---|---|---|"]
    for t, v, ok in targets:
        lines.append(f"| {t} | {v} | {'yes' if ok else '**no**'} |")
    lines += ["", "### Reading (hand-written, from the tables above)", ""] + READING
    return "\n".join(lines)


READING = [
    "- **What the numbers support.** Against the recipe (one change at a time, equal budget): the colour critic beats "
    "the package's PatchGAN, the contrastive style encoder beats an encoder that learns only through G, the cycle "
    "loss at λ = 1 helps on average, the non-saturating loss beats LSGAN, and colour statistics alone beat adding "
    "convolutional features to E. Conditioning D on the references' statistics instead of the style code was worse "
    "in all five selection candidates that used it. lr 3e-4 / 6e-4 won the selection on validation photos. Batch 64 "
    "scored better in fewer steps (562 in the same 3 minutes), a fresh prior look every time did about as well as the "
    "pool of 2,000, and the old optimiser (lr_g 1e-3) was worse on named looks but better on unseen ones.",
    "- **Why the targets are missed.** The generator's sliders point the right way but fall short: for "
    "`teal_orange` the shipped model sets contrast 0.35 (truth 0.70), vibrance 0.14 (0.40) and a highlight tint of "
    "about 65 % of the truth. Every run improved with more steps and larger batches and none had converged: the "
    "shipped run is 1,300 steps (837 on the GPU, which waited for crops cut on the CPU while the sweep used 15 of "
    "16 cores; 6.19 named / 9.20 unseen there; then 463 on this CPU). The paired upper bound at the sweep's budget "
    "is itself only at 4.90 named.",
    "- **Why `teal_orange` fails most.** Its sliders are the most extreme of the named looks: a shadow tint of "
    "amount 1.32 (the prior's tints stop at 0.7) with contrast 0.7, so the same shortfall costs it most; without "
    "the cycle loss it improves (6.16 vs 8.55) while the average worsens — the inverse generator F cannot undo "
    "clipped shadows exactly, so the cycle loss pulls strong edits towards the identity.",
    "- **Grain** is kept out of what D compares (the colour critic box-filters images to 16 px) rather than made "
    "learnable: a real feed has grain, the editor cannot reproduce the exact noise, and grain is not part of the "
    "colour evaluation. Tests: `tests/test_models.py::test_colour_critic_ignores_grain_and_reads_colour_and_condition`.",
    "- **colour_statistics** now bins its histograms (two scatter-adds, the same triangular kernels and gradients, "
    "6.4 s → 1.6 s for the statistics of 384 crops of 64 px, one measurement on the busy 2-core machine) and uses sqrt(var + 1e-8), finite in a double "
    "backward on constant channels (tests in `tests/test_models.py`).",
]


def checkpoint_name(res: dict) -> str:
    info = res.get("model", {})
    return f"{info.get('source', '')} (step {info.get('step', '?')})"


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed benchmark: training throughput (ours vs the CycleGAN configuration), stylize latency,
one studio refresh; writes the *speed* section of benchmarks/RESULTS.md.

    python benchmarks/speed.py                      # shipped looks weights (random init if none)
    python benchmarks/speed.py --checkpoint runs/looks --cyclegan-1024
    python benchmarks/speed.py --user-path-only     # only the plain user's stylize (below)

Training runs on `--train-threads` (default 1) threads, inference on `--infer-threads`
(default 2). Timings on a shared machine are noisy: each figure is the median of several
runs, and the load average is recorded before and after.

OpenMP threads spin while they wait for each other (OMP_WAIT_POLICY=ACTIVE behaviour). On a
machine whose cores are busy with other work, a 2-thread run then stalls for whole scheduler
time slices at every barrier: we measured 1.5 s instead of 15 ms for one 256 px stylize. This
script therefore sets OMP_WAIT_POLICY=PASSIVE (unless you set it) before torch starts, and
also reports one-thread latencies, which no other process can disturb that way.

A plain user sets nothing. The *default user path* is timed in fresh processes with every
OMP_/MKL_/ATen variable removed from the environment: `ig.load_pretrained("looks").stylize(photo,
look="teal_orange")` on a 1024x1024 PIL photo, as `python -c` and the CLI run it (the package
is imported before torch) and as a notebook that imports torch first may run it; beside it the
tuned environment of the Makefile's notebooks (OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2). Each
runs as it is and again while another process keeps one core busy (a busy loop
pinned to core 0).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede `import torch`

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report  # noqa: E402
from cyclegan_baseline import CycleGANTrainer, ResnetGenerator, count_parameters  # noqa: E402

from influencer_gan.api import WEIGHTS_DIR, LookModel, load_model  # noqa: E402
from influencer_gan.train import TrainConfig, Trainer, build_networks  # noqa: E402


def timed(fn, repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def looks_model(checkpoint) -> tuple[LookModel, str]:
    if checkpoint:
        return load_model(checkpoint, device="cpu"), str(checkpoint)
    if (WEIGHTS_DIR / "looks" / "model.safetensors").exists():
        return load_model(WEIGHTS_DIR / "looks", device="cpu"), "shipped weights (influencer_gan/weights/looks)"
    cfg = TrainConfig(task="looks", device="cpu")
    torch.manual_seed(0)
    nets = build_networks(cfg)
    tensors = {f"{n}.{k}": v for n in ("E", "G") for k, v in nets[n].state_dict().items()}
    return LookModel(cfg, tensors, source="random init"), "random init (TrainConfig defaults)"


def train_throughput(size: int, steps: int, threads: int, recipe: dict | None = None) -> dict:
    """Images per second of our trainer (looks task) at `size` px, with the training config
    `recipe` (e.g. the shipped weights') or TrainConfig defaults."""
    torch.set_num_threads(threads)
    base = {k: v for k, v in (recipe or {}).items() if k not in TrainConfig.RUNTIME_FIELDS}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig.from_dict({**base, "task": "looks", "image_size": size, "device": "cpu", "out": tmp,
                                     "sample_every": 0, "steps": steps + 2})
        tr = Trainer(cfg, progress=False)
        times = timed(tr.step, steps, warmup=2)
    return {"batch_size": cfg.batch_size, "steps": steps, "s_per_step": statistics.median(times),
            "images_per_s": cfg.batch_size / statistics.median(times)}


def cyclegan_throughput(size: int, batch_size: int, steps: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    tr = CycleGANTrainer(image_size=size, batch_size=batch_size, steps=steps + 1)
    times = timed(tr.step, steps, warmup=1)
    return {"batch_size": batch_size, "n_blocks": tr.n_blocks, "steps": steps,
            "s_per_step": statistics.median(times), "images_per_s": batch_size / statistics.median(times)}


# -- the default user path -------------------------------------------------------------------
USER_CHILD = r"""
import json, statistics, sys, time
if sys.argv[1] == "torch-first":
    import torch
import influencer_gan as ig
from PIL import Image
import torch
photo = ig.data.load_photos("test")[0][1]          # coffee, resized to a 1024 x 1024 photo
photo = Image.fromarray((photo.permute(1, 2, 0) * 255).byte().numpy()).resize((1024, 1024), Image.BICUBIC)
model = ig.load_pretrained("looks")
for _ in range(2):
    model.stylize(photo, look="teal_orange")       # warm-up
times, cpu = [], []
for _ in range(int(sys.argv[2])):
    t0, c0 = time.perf_counter(), time.process_time()
    model.stylize(photo, look="teal_orange")
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(json.dumps({"times": times, "cpu": cpu, "threads": ig.api.inference_threads()}))
"""
SPIN_CHILD = r"""
import json, sys, time
if sys.argv[1] == "torch-first":
    import torch
import influencer_gan
import torch
torch.set_num_threads(2)
x = torch.rand(200_000)
t0, c0 = time.perf_counter(), time.process_time()
for _ in range(1500):
    x.add_(1e-9)           # one small 2-thread operation ...
    time.sleep(0.0002)     # ... and a pause, the rhythm of a program between operations
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}))
"""
BUSY_LOOP = "import os\ntry:\n    os.sched_setaffinity(0, {0})\nexcept (AttributeError, OSError):\n    pass\nwhile True:\n    pass\n"
TUNED_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "2"}
USER_PATHS = (("default", "package first (python -c, the CLI)", "package-first", {}),
              ("default", "torch imported first (a notebook)", "torch-first", {}),
              ("tuned", "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 (the Makefile's notebooks)",
               "package-first", TUNED_ENV))


def plain_env(extra: dict) -> dict:
    """The environment of a user who set nothing: no OpenMP, MKL, oneDNN or ATen variables."""
    drop = ("OMP_", "MKL_", "KMP_", "GOMP_", "ONEDNN_", "DNNL_", "ATEN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, **extra}


def user_stylize(order: str, extra_env: dict, loaded: bool, n: int) -> dict:
    """Median and worst latency of `stylize(photo_1024, look=...)` in a fresh process; with
    `loaded`, while a busy loop keeps core 0 busy."""
    hog = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if loaded else None
    try:
        time.sleep(0.5 if loaded else 0)
        out = subprocess.run([sys.executable, "-c", USER_CHILD, order, str(n)], env=plain_env(extra_env),
                             capture_output=True, text=True, check=True)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"median": statistics.median(r["times"]), "max": max(r["times"]), "cpu": statistics.median(r["cpu"]),
            "n": n, "threads": r["threads"]}


def spin_check() -> dict:
    """The cause, measured: 1500 small 2-thread operations with pauses between them, in a plain
    environment, with the package imported before torch (OMP_WAIT_POLICY=PASSIVE) and after it
    (OpenMP's spinning default: the waiting thread burns CPU that other work needs)."""
    out = {}
    for order in ("package-first", "torch-first"):
        r = subprocess.run([sys.executable, "-c", SPIN_CHILD, order], env=plain_env({}),
                           capture_output=True, text=True, check=True)
        out[order] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def user_path(n: int) -> dict:
    res = {"date": _report.now(), "command": _report.command(), "load_before": _report.load_average(), "rows": []}
    res["spin"] = spin_check()
    print("spin check:", json.dumps(res["spin"]), flush=True)
    for kind, label, order, extra in USER_PATHS:
        row = {"kind": kind, "label": label, "order": order, "env": extra}
        for loaded in (False, True):
            row["loaded" if loaded else "idle"] = user_stylize(order, extra, loaded, n)
            print(f"user path: {kind}, {label}, {'loaded' if loaded else 'idle'}: "
                  f"{_ms(row['loaded' if loaded else 'idle']['median'])}", flush=True)
        res["rows"].append(row)
    res["load_after"] = _report.load_average()
    return res


def _int_keys(d: dict) -> dict:
    """JSON turns the image sizes that key the saved results into strings; turn them back."""
    return {int(k) if k.isdigit() else k: v for k, v in d.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, help="looks run folder (default: shipped weights)")
    p.add_argument("--train-threads", type=int, default=1)
    p.add_argument("--infer-threads", type=int, default=2)
    p.add_argument("--cyclegan-1024", action="store_true", help="also time the ResNet-9 generator at 1024 px (~15 s)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run; not for RESULTS.md)")
    p.add_argument("--user-path-only", action="store_true",
                   help="time only the default user path; keep the other figures of results/speed.json")
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    p.add_argument("--results", type=Path, default=_report.RESULTS, help="Markdown file to write (default: %(default)s)")
    a = p.parse_args(argv)
    load_before = _report.load_average()
    t_start = time.perf_counter()
    reps = 1 if a.quick else 5
    user = user_path(3 if a.quick else 15)
    if a.user_path_only:
        res = json.loads((a.results.parent / "results" / "speed.json").read_text(), object_hook=_int_keys)
        res["user_path"] = user
        print(json.dumps(user, indent=1))
        _report.save("speed", res, render(res, a), a.results, a.quick, a.no_write)
        return 0
    res: dict = {"user_path": user, "date": _report.now(), "command": _report.command(), "load_before": load_before,
                 "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}

    # -- training throughput ---------------------------------------------------------------
    res["train"] = {}
    model, model_name = looks_model(a.checkpoint)
    recipe = model.config.to_dict() if model.source != "random init" else None
    res["recipe"] = f"the training config of {model_name}" if recipe else "TrainConfig defaults"
    for size in (64, 128):
        steps = 2 if a.quick else (5 if size == 64 else 3)
        ours = train_throughput(size, steps, a.train_threads, recipe)
        cg1 = cyclegan_throughput(size, 1, steps, a.train_threads)
        row = {"ours": ours, "cyclegan_b1": cg1}
        if recipe:
            row["ours_defaults"] = train_throughput(size, steps, a.train_threads)
        if size == 64:
            row["cyclegan_b8"] = cyclegan_throughput(size, 8, 1 if a.quick else 2, a.train_threads)
        res["train"][size] = row
        print(f"train {size}px: ours {ours['images_per_s']:.2f} img/s, CycleGAN {cg1['images_per_s']:.2f} img/s",
              flush=True)

    # -- inference ---------------------------------------------------------------------------
    torch.set_num_threads(a.infer_threads)
    res["model"] = model_name
    res["head"] = model.config.head
    t0 = time.perf_counter()
    style = model.style_code(look="teal_orange")
    res["style_code_first_s"] = time.perf_counter() - t0
    res["style_code_s"] = statistics.median(timed(lambda: model.style_code(look="teal_orange"), reps))
    res["stylize"], res["stylize_1thread"] = {}, {}
    g = torch.Generator().manual_seed(0)
    for threads, key in ((1, "stylize_1thread"), (a.infer_threads, "stylize")):
        torch.set_num_threads(threads)
        for size in (256, 512, 1024):
            x = torch.rand(3, size, size, generator=g)
            t = timed(lambda: model.stylize(x, style=style, vivid=0.2, warmth=0.1, strength=0.9), reps)
            res[key][size] = statistics.median(t)
            print(f"stylize {size}px, {threads} thread(s): {1000 * res[key][size]:.1f} ms", flush=True)
    from PIL import Image
    pil = Image.fromarray((torch.rand(1024, 1024, 3, generator=g) * 255).byte().numpy())
    res["stylize_pil_1024"] = statistics.median(timed(lambda: model.stylize(pil, style=style), max(1, reps - 2)))

    # the CycleGAN generator, for scale (11.4 M parameters with 9 blocks)
    cg = ResnetGenerator(9).eval()
    res["cyclegan_params"] = count_parameters(cg)
    res["cyclegan_forward"] = {}
    with torch.no_grad():
        for size in (256, 512) + ((1024,) if a.cyclegan_1024 else ()):
            x = torch.rand(1, 3, size, size, generator=g) * 2 - 1
            res["cyclegan_forward"][size] = statistics.median(timed(lambda: cg(x), 1 if size == 1024 else 3 if not a.quick else 1))
            print(f"CycleGAN ResNet-9 {size}px: {res['cyclegan_forward'][size]:.2f} s", flush=True)

    # ONNX (what the in-browser demo runs), through onnxruntime on the same threads
    try:
        import onnxruntime as ort
        from influencer_gan.export import export_onnx
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(model, Path(tmp) / "look.onnx", verify=False)
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.infer_threads
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            x = torch.rand(1, 3, 1024, 1024, generator=g).numpy()
            feed = {"image": x, "style": style[None].numpy(), "c": [[0.2, 0.1, 0.9]]}
            feed["c"] = torch.tensor(feed["c"]).numpy()
            res["onnx_1024"] = statistics.median(timed(lambda: sess.run(None, feed), max(1, reps - 2)))
    except ImportError:
        res["onnx_1024"] = None

    # -- one studio refresh -------------------------------------------------------------------
    from influencer_gan.studio import Studio, _png
    studio = Studio(model)
    args = ("teal_orange", "pastel", 0.5, 0.2, 0.1, 0.9)
    t0 = time.perf_counter()
    studio.render(*args)
    res["studio_first_s"] = time.perf_counter() - t0
    res["studio_s"] = statistics.median(timed(lambda: studio.render(*args), max(3, reps)))
    res["studio_png_s"] = statistics.median(timed(
        lambda: [_png(v) for k, v in studio.render(*args).items() if k != "delta_e"], max(3, reps)))
    res["load_after"] = _report.load_average()
    res["seconds"] = time.perf_counter() - t_start
    res["machine"] = _report.machine()
    print(json.dumps(res, indent=1, default=str))
    _report.save("speed", res, render(res, a), a.results, a.quick, a.no_write)
    return 0


def _ms(s):
    return f"{1000 * s:.0f} ms" if s < 1 else f"{s:.2f} s"


def render(r: dict, a) -> str:
    m = r["machine"]
    tr = r["train"]
    ratio = {s: tr[s]["ours"]["images_per_s"] / tr[s]["cyclegan_b1"]["images_per_s"] for s in tr}
    cg = r["cyclegan_forward"]
    lines = [
        "## Speed", "",
        f"- date: {r['date']}; command: `{r['command']}` ({r['seconds']:.0f} s)",
        f"- machine: {m['cpu']}, {m['cores']} cores shared with other users; torch {m['torch']}, CPU only",
        f"- load average before: {r['load_before']}; after: {r['load_after']}. The machine is shared, so "
        "every timing is noisy (medians of several runs; expect ±30 %).",
        f"- look model: {r['model']}, head \"{r.get('head', 'color')}\" (speed depends on the head and sizes, not on the weights)",
        f"- OMP_WAIT_POLICY={r['omp_wait_policy']}: with OpenMP's default spin-waiting, 2 threads on this busy "
        "machine stalled a 256 px stylize from 15 ms to 1.5 s (see the script's docstring)", "",
        f"### Training throughput ({a.train_threads} thread, images per second, median step)", "",
        f"Ours: {r.get('recipe', 'TrainConfig defaults')}" + (", and TrainConfig defaults (colour head) beside it"
                                                              if "ours_defaults" in tr[next(iter(tr))] else "") + ".", "",
        f"| image size | ours (batch {tr[next(iter(tr))]['ours']['batch_size']}) | CycleGAN configuration, batch 1 (paper) "
        "| ratio | CycleGAN, batch 8 | ours, TrainConfig defaults |",
        "|---|---|---|---|---|---|",
    ]
    for s in tr:
        b8 = tr[s].get("cyclegan_b8")
        dflt = tr[s].get("ours_defaults")
        lines.append(f"| {s} px | {tr[s]['ours']['images_per_s']:.2f} img/s ({tr[s]['ours']['s_per_step']:.2f} s/step) "
                     f"| {tr[s]['cyclegan_b1']['images_per_s']:.3f} img/s ({tr[s]['cyclegan_b1']['s_per_step']:.2f} s/step, "
                     f"ResNet-{tr[s]['cyclegan_b1']['n_blocks']}) | **{ratio[s]:.1f}×** | "
                     + (f"{b8['images_per_s']:.3f} img/s" if b8 else "—") + " | "
                     + (f"{dflt['images_per_s']:.2f} img/s" if dflt else "—") + " |")
    lines += ["", "The CycleGAN configuration uses the paper's rule of 6 residual blocks for training images of "
              "128 px or less (9 for 256 px and more), instance norm, two generators and two 70×70 PatchGANs; "
              "ours always runs the style encoder, G, the inverse generator F, the discriminator of its recipe "
              "and the EMA update; its head (\"params\" or the \"color\" grid of the "
              "defaults) decides most of the difference.", "",
              f"### Inference ({a.infer_threads} threads, median latency)", "",
              "| what | 256 px | 512 px | 1024 px |", "|---|---|---|---|",
              "| `LookModel.stylize` (tensor in/out, style code given) | "
              + " | ".join(_ms(r["stylize"][s]) for s in (256, 512, 1024)) + " |",
              "| the same on 1 thread | " + " | ".join(_ms(r["stylize_1thread"][s]) for s in (256, 512, 1024)) + " |",
              f"| CycleGAN ResNet-9 generator forward ({r['cyclegan_params'] / 1e6:.1f} M parameters) | "
              + " | ".join(_ms(cg[s]) if s in cg else "not run (13.8 s measured by the lead)" for s in (256, 512, 1024)) + " |",
              ]
    if r.get("onnx_1024") is not None:
        lines.append(f"| exported ONNX graph in onnxruntime (`export_onnx`) | — | — | {_ms(r['onnx_1024'])} |")
    lines += ["",
              f"- `stylize` of a 1024×1024 PIL image (conversion included): {_ms(r['stylize_pil_1024'])}.",
              f"- style code of a named look: {_ms(r['style_code_first_s'])} the first time (renders 8 reference "
              f"crops), {_ms(r['style_code_s'])} after (`LookModel` keeps the codes of named looks).",
              f"- one studio refresh at 256 px, `Studio(model).render(\"teal_orange\", \"pastel\", 0.5, 0.2, 0.1, 0.9)` "
              f"(ground truth + GAN + ΔE2000): **{_ms(r['studio_s'])}** warm, {_ms(r['studio_first_s'])} for the "
              f"first call (computes both looks' style codes); with the three PNG panels encoded: {_ms(r['studio_png_s'])}.",
              ""] + render_user_path(r.get("user_path")) + ["### Speed targets", "",
              "| target | measured | met? |", "|---|---|---|",
              f"| 1024×1024 photo stylized in ≤ 0.5 s (2 threads) | {_ms(r['stylize'][1024])} | "
              f"{'yes' if r['stylize'][1024] <= 0.5 else 'no'} |",
              ] + user_target_rows(r.get("user_path")) + [
              f"| one studio refresh at 256 px ≤ 100 ms | {_ms(r['studio_s'])} | {'yes' if r['studio_s'] <= 0.1 else 'no'} |",
              f"| training throughput ≥ 2× the CycleGAN configuration | {ratio[64]:.1f}× at 64 px, {ratio[128]:.1f}× at 128 px | "
              f"{'yes' if min(ratio.values()) >= 2 else 'no'} (quality at equal budget: see the quality section) |"]
    return "\n".join(lines)


def render_user_path(u) -> list[str]:
    if not u:
        return []
    lines = ["### A plain user's stylize (1024×1024 photo, `look=` given, fresh process, median / worst)", "",
             f"- date: {u['date']}; command: `{u['command']}`; load average before: {u['load_before']}; "
             f"after: {u['load_after']} (a shared machine: other users' work comes on top of the busy loop, so "
             "*no busy loop* is not an idle machine; a quiet one shows a load average below 1)",
             "- the call: `ig.load_pretrained(\"looks\").stylize(photo, look=\"teal_orange\")` (the named look's "
             "style code is computed on the first call and kept); *loaded*: another process keeps one core busy (a busy loop pinned to core 0)",
             "- default: every OMP_/MKL_/ATen variable removed from the environment, as for a plain user; "
             "CPU: the process's CPU time per call (spinning OpenMP threads inflate it; other users' work does not)",
             "- what a library user should do: nothing when `import influencer_gan` comes before `import torch` "
             "(the package then sets OMP_WAIT_POLICY=PASSIVE); if torch comes first, `stylize` runs on one thread, "
             "or set OMP_WAIT_POLICY=PASSIVE in the environment before Python starts to keep several", "",
             "| environment | imports | inference threads | no busy loop | busy loop on one core |", "|---|---|---|---|---|"]
    for row in u["rows"]:
        cells = [f"{_ms(row[k]['median'])} / {_ms(row[k]['max'])}"
                 + (f" (CPU {_ms(row[k]['cpu'])})" if "cpu" in row[k] else "") for k in ("idle", "loaded")]
        lines.append(f"| {row['kind']} | {row['label']} | {row['idle']['threads']} | {cells[0]} | **{cells[1]}** |")
    if "spin" in u:
        sp = u["spin"]
        lines += ["", "The cause, measured (`spin_check`: 1500 small 2-thread operations with short pauses, plain "
                  f"environment): package imported first (PASSIVE) {sp['package-first']['wall']:.1f} s wall, "
                  f"{sp['package-first']['cpu']:.1f} s CPU; torch imported first (OpenMP threads spin) "
                  f"{sp['torch-first']['wall']:.1f} s wall, {sp['torch-first']['cpu']:.1f} s CPU."]
    return lines + [""]


def user_target_rows(u) -> list[str]:
    if not u:
        return []
    worst = max(row["loaded"]["median"] for row in u["rows"] if row["kind"] == "default")
    tuned = min(row["loaded"]["median"] for row in u["rows"] if row["kind"] == "tuned")
    return [f"| 1024×1024 stylize by a plain user (no environment variables), one core busy, ≤ 0.25 s median "
            f"| {_ms(worst)} (slowest default row; tuned {_ms(tuned)}; load average {u['load_before'].split(' (')[0]} "
            f"before) | {'yes' if worst <= 0.25 else 'no'} |"]


if __name__ == "__main__":
    raise SystemExit(main())

"""The command line: `influencer-gan ...` or `python -m influencer_gan ...`.

Every subcommand has --help. Bad arguments or files give one line naming the problem and a
non-zero exit status (2 for bad input, 1 when a training run has to stop), never a traceback.
Warnings (a skipped file, a converted image) are one line each, too.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

PROG = "influencer-gan"


class UsageError(ValueError):
    """Bad command-line input; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _slider(name: str):
    """An argparse type for a slider of the personal condition: a number in its range
    (`api.SLIDERS`), or one clear line (`--vivid 7` is refused, not clamped)."""
    def parse(text: str) -> float:
        from .api import check_condition
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        try:
            check_condition(**{name: value})
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return value
    parse.__name__ = name
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Influencer-GAN: conditional GANs for influencer style "
                "transfer and personalised generation (the companion package of the book).")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser("make-data", help="write the embedded data set (photos, styled looks, avatars) to disk",
                       description="Render the embedded data set into ImageFolder-style train/val/test "
                                   "folders with a manifest. Idempotent; nothing is downloaded.")
    s.add_argument("--root", default="data", help="output folder (default: data)")
    s.add_argument("--size", type=int, default=64, help="image size in pixels (default: 64)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")

    s = sub.add_parser("train", help="train the looks (style transfer) or avatars (generation) GAN",
                       description="Train a conditional GAN (§3.3). Checkpoints, config.json and "
                                   "sample grids go to --out. Ctrl-C saves a checkpoint and exits; "
                                   "--resume continues. Under torchrun it uses DDP.")
    s.add_argument("task", choices=["looks", "avatars"])
    s.add_argument("--config", type=Path, help="JSON file of TrainConfig fields (flags override it)")
    s.add_argument("--steps", type=int, help="number of training steps")
    s.add_argument("--batch-size", type=int, help="images per step (per process under torchrun)")
    s.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="default: auto")
    s.add_argument("--out", type=Path, help="run folder (default: runs/TASK)")
    s.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    s.add_argument("--data-root", type=Path, help="where make-data wrote its files (default: data)")
    s.add_argument("--content", type=Path, help="looks only: a folder of your own neutral photos")
    s.add_argument("--styled", type=Path, help="looks only: a folder of the influencer's feed (with --content "
                   "and no --config: fine-tunes the shipped looks model, %d steps unless --steps)" % FEED_STEPS)
    s.add_argument("--seed", type=int, help="random seed")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    s = sub.add_parser("stylize", help="restyle photos with a look or reference images",
                       description="Restyle each IMAGE (any size; the output keeps it) and write "
                                   "DIR/<stem>.png. Inputs that share a stem keep their extension "
                                   "(photo.jpg, photo.png -> photo_jpg.png, photo_png.png), so no "
                                   "output of a run overwrites another; files from earlier runs "
                                   "with the same name are replaced. Give --look (NAME or "
                                   "NAME:W,NAME:W to mix) or --reference DIR (1..K images of a look).")
    s.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    s.add_argument("--out", type=Path, required=True, metavar="DIR")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--look", help="a named look, or a mix such as teal_orange:0.7,pastel:0.3")
    g.add_argument("--reference", type=Path, metavar="DIR", help="folder of reference images of a look")
    s.add_argument("--vivid", type=_slider("vivid"), default=0.0, metavar="F",
                   help="personal condition: more vivid colours (-1..1)")
    s.add_argument("--warmth", type=_slider("warmth"), default=0.0, metavar="F",
                   help="personal condition: warmer/cooler (-1..1)")
    s.add_argument("--strength", type=_slider("strength"), default=1.0, metavar="F",
                   help="how much of the look (0..1: 0 = none, 1 = full)")
    s.add_argument("--checkpoint", type=Path, help="a run folder or model.safetensors (default: shipped weights)")

    s = sub.add_parser("generate", help="generate personalised avatars",
                       description="Generate N avatars; fix attributes with --attr KEY=VALUE.")
    s.add_argument("--out", type=Path, required=True, metavar="DIR")
    s.add_argument("--n", type=int, default=8)
    s.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE",
                   help="fix an attribute, e.g. --attr hair=red --attr glasses=yes")
    s.add_argument("--look", help="dress the avatars in a named look")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--checkpoint", type=Path, help="a run folder or model.safetensors (default: shipped weights)")

    s = sub.add_parser("evaluate", help="measure a model against the exact ground truth",
                       description="PSNR, SSIM and ΔE2000 against ground truth (looks), condition "
                                   "accuracy, FID/KID and diversity (avatars).")
    s.add_argument("task", nargs="?", choices=["looks", "avatars"], default="looks")
    s.add_argument("--checkpoint", type=Path, help="a run folder or model.safetensors (default: shipped weights)")
    s.add_argument("--json", action="store_true", help="print the results as JSON")
    s.add_argument("--quick", action="store_true", help="a tiny budget (seconds): a smoke test, not the benchmark")

    s = sub.add_parser("export", help="export the look generator (ONNX, for the in-browser demo)",
                       description="Export the look generator to ONNX.")
    s.add_argument("--format", choices=["onnx"], default="onnx")
    s.add_argument("--out", type=Path, required=True, metavar="FILE")
    s.add_argument("--checkpoint", type=Path, help="a run folder or model.safetensors (default: shipped weights)")
    return p


# ---------------------------------------------------------------------------------------------
def cmd_make_data(a) -> int:
    from .data import make_data
    summary = make_data(root=a.root, size=a.size, seed=a.seed, progress=True)
    print(json.dumps(summary, indent=2))
    return 0


FEED_STEPS = 500   # `train looks --content --styled` without --steps: about 3 CPU minutes


def train_config_from_args(a):
    from .train import CONFIG, TrainConfig
    cfg = TrainConfig.load(a.config).to_dict() if a.config is not None else {}
    out = a.out or Path(cfg.get("out") or Path("runs") / a.task)
    if a.config is None and a.resume and (out / CONFIG).exists():
        cfg = TrainConfig.load(out / CONFIG).to_dict()      # resume needs no --config
    if cfg.get("task", a.task) != a.task:
        raise UsageError(f"config says task={cfg['task']!r} but you asked to train {a.task!r}")
    overrides = {"task": a.task, "steps": a.steps, "batch_size": a.batch_size, "device": a.device,
                 "data_root": a.data_root, "seed": a.seed,
                 "content_dir": a.content, "styled_dir": a.styled}
    cfg.update({k: (str(v) if isinstance(v, Path) else v) for k, v in overrides.items() if v is not None})
    cfg["out"] = str(out)
    if a.content and a.config is None and not a.resume:
        # your own feed with the defaults: fine-tune the shipped looks model for a few minutes
        cfg.setdefault("init", "pretrained")
        if a.steps is None:
            cfg["steps"] = FEED_STEPS
    for folder in ("content_dir", "styled_dir"):
        if cfg.get(folder) and not Path(cfg[folder]).is_dir():
            raise UsageError(f"--{folder.split('_')[0]}: no such folder: {cfg[folder]}")
    return TrainConfig.from_dict(cfg)


def cmd_train(a) -> int:
    from .train import train
    cfg = train_config_from_args(a)
    trainer = train(cfg, resume=a.resume, progress=not a.no_progress)
    if trainer.is_main:
        last = trainer.history[-1] if trainer.history else {}
        for name in ("content", "styled"):   # your own folders: how many images were used
            images = getattr(trainer.stream, name, None)
            if images is not None:
                print(images.folder.summary())
        print(f"trained {cfg.task} to step {trainer.step_num}; weights in {Path(cfg.out) / 'model.safetensors'}"
              + (f"; last losses {json.dumps({k: round(v, 4) for k, v in last.items()})}" if last else ""))
        if cfg.content_dir and cfg.init:
            # measured (benchmarks/RESULTS.md, "Fine-tuning on your own feed"): nothing without
            # pairs tells which of the two is closer, so the user compares them by eye
            print(f"compare with the {'shipped' if cfg.init == 'pretrained' else 'starting'} model reading the same "
                  f"posts without training: {PROG} stylize PHOTOS --reference {cfg.styled_dir} --out DIR"
                  + ("" if cfg.init == "pretrained" else f" --checkpoint {cfg.init}")
                  + f" (and --checkpoint {cfg.out} for this run). When your posts show other scenes than "
                  "your photos, fine-tuning can move away from the look: the discriminator then also "
                  "learns the difference in content.")
    return 0


def _load(checkpoint, task: str):
    from .api import load_model, load_pretrained
    model = load_model(checkpoint) if checkpoint else load_pretrained(task)
    if model.config.task != task:
        raise UsageError(f"{checkpoint} holds a {model.config.task} model, not a {task} model")
    return model


def output_names(images) -> list[str]:
    """One distinct PNG name per input, so that no output of a run overwrites another:
    `<stem>.png`; inputs that share a stem keep their extension (`photo_jpg.png`,
    `photo_png.png`); names still taken (the same file twice, or `a/photo.jpg` and
    `b/photo.jpg`) get a number (`photo_jpg-2.png`). Names are compared case-insensitively, as
    on macOS and Windows disks."""
    paths = [Path(p) for p in images]
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem.casefold()] = stems.get(p.stem.casefold(), 0) + 1
    names, taken = [], set()
    for p in paths:
        base = p.stem if stems[p.stem.casefold()] == 1 else f"{p.stem}_{p.suffix.lstrip('.')}"
        name, k = f"{base}.png", 1
        while name.casefold() in taken:
            k += 1
            name = f"{base}-{k}.png"
        taken.add(name.casefold())
        names.append(name)
    return names


def cmd_stylize(a) -> int:
    from .data import ImageDataError, list_images, load_image
    model = _load(a.checkpoint, "looks")
    if a.reference is not None:
        refs = [load_image(p) for p in list_images(a.reference)]
        style = model.style_code(reference=refs)
    else:
        style = model.style_code(look=a.look)
    a.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path, name in zip(a.images, output_names(a.images)):
        try:
            img = load_image(path)
        except (ImageDataError, OSError) as e:
            why = str(e) if str(e).startswith(str(path)) else f"{path}: {e}"   # the file, named once
            print(f"{PROG} stylize: skipped {why}", file=sys.stderr)
            failed += 1
            continue
        out = model.stylize(img, style=style, vivid=a.vivid, warmth=a.warmth, strength=a.strength)
        target = a.out / name
        out.save(target)
        print(target)
    if failed:
        raise UsageError(f"{failed} of {len(a.images)} images could not be read (see above)")
    return 0


def cmd_generate(a) -> int:
    attrs = {}
    for item in a.attr:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"--attr {item!r}: write KEY=VALUE, e.g. --attr hair=red")
        attrs[key.strip()] = value.strip()
    model = _load(a.checkpoint, "avatars")
    images, chosen = model.generate(a.n, attrs=attrs, seed=a.seed, look=a.look)
    a.out.mkdir(parents=True, exist_ok=True)
    for i, (img, at) in enumerate(zip(images, chosen)):
        target = a.out / f"avatar_{a.seed}_{i:03d}.png"
        img.save(target)
        print(target, json.dumps(at))
    return 0


def cmd_evaluate(a) -> int:
    from . import metrics
    model = _load(a.checkpoint, a.task)
    results = metrics.evaluate(model, task=a.task, quick=a.quick)
    print(json.dumps(results, indent=2) if a.json else metrics.format_table(results))
    return 0


def cmd_export(a) -> int:
    from .export import export_onnx
    model = _load(a.checkpoint, "looks")
    print(export_onnx(model, a.out))
    return 0


COMMANDS = {"make-data": cmd_make_data, "train": cmd_train, "stylize": cmd_stylize,
            "generate": cmd_generate, "evaluate": cmd_evaluate, "export": cmd_export}


def _warning_line(command: str):
    """`warnings.showwarning` for the command line: one line per warning, without Python's
    `file.py:686: ImageDataWarning:` prefix and the echoed source line."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"{PROG} {command}: warning: {text}", file=file or sys.stderr)
    return show


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():   # restores the caller's warning display afterwards
        warnings.showwarning = _warning_line(args.command)
        return _run(args)


def _run(args) -> int:
    from .train import TrainingError
    try:
        return COMMANDS[args.command](args)
    except TrainingError as e:
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, ImportError) as e:
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

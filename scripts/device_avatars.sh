#!/usr/bin/env bash
# One call on a lent GPU machine (16 CPU cores + 1 GPU): the avatars variants of
# benchmarks/results/avatars_variants/*.json train side by side on the one GPU (AMP), each as the
# package's own command `influencer-gan train avatars --config configs/avatars.json` plus the
# variant's overrides, `--device cuda --steps N`, with N sized by scripts/train_gpu.py to BUDGET
# seconds, each with 2 CPU threads. (The shipped run drew its avatars on those threads, which bounded
# its steps; `AvatarStream` now draws them on the GPU when training there.) Packs every run's EMA generator (float16),
# config, history, log and GPU figures into $OUT for benchmarks/avatars_variants.py.
#   OUT=/tmp/out BUDGET=400 bash scripts/device_avatars.sh
set -u
OUT=${OUT:-/tmp/device_out}; mkdir -p "$OUT"; PY=${PY:-python3}; BUDGET=${BUDGET:-400}; DEVICE=${DEVICE:-cuda}
VARIANTS=${VARIANTS:-recipe ms003 ms01 ms03 mbstd cls03}   # issue 20: one change at a time on the shipped recipe (the 2026-11-28 sweep: VARIANTS="recipe ms1 transposed64 transposed64_ms1 ms1_mbstd ms1_cls03 ms1_ngf16 ms1_ngf32")
W=${WORK:-/tmp/device_avatars}; rm -rf "$W"; mkdir -p "$W"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; lscpu | grep "Model name"
 $PY -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())") > "$W/machine.txt" 2>&1
probe=(); [ -n "${PROBE:-}" ] && probe=(--probe "$PROBE" --min-steps 2)
for v in $VARIANTS; do
  mkdir -p "$W/$v"
  OMP_NUM_THREADS=2 $PY scripts/train_gpu.py --config configs/avatars.json \
    --overrides "benchmarks/results/avatars_variants/$v.json" --budget "$BUDGET" --device "$DEVICE" \
    --out "$W/$v/runs/avatars" --report "$W/$v/gpu.json" "${probe[@]}" > "$W/$v/train.log" 2>&1 &
done
wait
$PY - "$W" "$OUT" $VARIANTS <<'PY'
import json, shutil, sys, tarfile
from pathlib import Path
from safetensors.torch import save_file
sys.path.insert(0, ".")
from influencer_gan.train import CHECKPOINT, MODEL, read_checkpoint
work, out, names = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
small, big = [], []
for v in names:
    run, pack = work / v / "runs" / "avatars", work / "pack" / v
    pack.mkdir(parents=True, exist_ok=True)
    for f in ("train.log", "gpu.json"):
        if (work / v / f).exists():
            shutil.copy(work / v / f, pack / f)
    if not (run / MODEL).exists():
        print(f"{v}: no model"); small.append(pack); continue
    tensors, meta = read_checkpoint(run / MODEL)
    save_file({k: (t.half() if t.is_floating_point() else t) for k, t in tensors.items()},
              str(pack / MODEL), metadata=meta)
    _, full = read_checkpoint(run / CHECKPOINT)
    (pack / "history.json").write_text(full.get("history", "[]"))
    shutil.copy(run / "config.json", pack / "config.json")
    size = (pack / MODEL).stat().st_size
    print(f"{v}: step {meta.get('step')}, {size / 1e6:.1f} MB")
    (big if size > 6e6 else small).append(pack)
with tarfile.open(out / "variants_small.tar.gz", "w:gz") as t:
    t.add(work / "machine.txt", "machine.txt")
    for p in small:
        t.add(p, p.name)
for p in big:
    with tarfile.open(out / f"variant_{p.name}.tar.gz", "w:gz") as t:
        t.add(p, p.name)
PY
cat "$W/machine.txt"; for v in $VARIANTS; do echo "== $v"; grep -h "calibration" "$W/$v/train.log"; tail -n 2 "$W/$v/train.log"; done
ls -la "$OUT"

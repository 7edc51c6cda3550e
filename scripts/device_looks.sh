#!/usr/bin/env bash
# One call on a lent GPU machine (16 CPU cores + 1 GPU), in two phases:
#  1. select: the candidate recipes of benchmarks/unpaired_sweep.py train for SELECT_MIN minutes
#     each (one CPU thread each) and are scored on the *validation* photos; the best is kept.
#     The CycleGAN baselines start too (they do not depend on the recipe).
#  2. ship: the GPU trains the shipped looks weights with the selected recipe (AMP), sized to
#     GPU_BUDGET seconds, while the CPU cores run the sweep around the selected recipe at equal
#     budget and a user's-feed run; then scripts/ship_weights.py, and everything is packed into
#     $OUT/bundle.tar.gz.
#   OUT=/tmp/out bash scripts/device_looks.sh
set -u
OUT=${OUT:-/tmp/device_out}; mkdir -p "$OUT"
PY=${PY:-python3}
SELECT_MIN=${SELECT_MIN:-2}; SWEEP_MIN=${SWEEP_MIN:-3}; SELECT_STEPS=${SELECT_STEPS:-600}; SWEEP_STEPS=${SWEEP_STEPS:-900}; FEED_MIN=${FEED_MIN:-4.5}; GPU_BUDGET=${GPU_BUDGET:-240}
SWEEP_JOBS=${SWEEP_JOBS:-recipe,paired,recipe+lsgan,recipe+patchgan,recipe+no_contrastive,recipe+old_optimiser,recipe+no_cycle,recipe+conv_encoder,recipe+fresh_prior,recipe+image64,recipe+batch64}
CG_JOBS=${CG_JOBS:-cyclegan:teal_orange,cyclegan:pastel}
DEVICE=${DEVICE:-cuda}
W=/tmp/device_work; rm -rf "$W"; mkdir -p "$W"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
T0=$(date +%s)
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; lscpu | grep "Model name"; $PY -c "import torch; print(torch.__version__, torch.cuda.is_available())") > "$W/machine.txt" 2>&1
# phase 1
OMP_NUM_THREADS=1 $PY benchmarks/unpaired_sweep.py --jobs "$CG_JOBS" --parallel 2 --minutes "$SWEEP_MIN" --steps "$SWEEP_STEPS" --out "$W/sweep" --no-write > "$W/cyclegan.log" 2>&1 &
CG=$!
sel_arg=(); [ -n "${SELECT_JOBS:-}" ] && sel_arg=(--jobs "$SELECT_JOBS")
OMP_NUM_THREADS=1 $PY benchmarks/unpaired_sweep.py --select "$W/selected.json" "${sel_arg[@]}" --parallel 10 --minutes "$SELECT_MIN" --steps "$SELECT_STEPS" --out "$W/select" > "$W/select.log" 2>&1
[ -f "$W/selected.json" ] || echo '{"job": "recipe", "overrides": {}}' > "$W/selected.json"
echo "phase 1 done after $(( $(date +%s) - T0 )) s"; cat "$W/selected.json"
# phase 2
OMP_NUM_THREADS=1 timeout 360 $PY benchmarks/unpaired_sweep.py --jobs "$SWEEP_JOBS" --base "$W/selected.json" --parallel 11 --minutes "$SWEEP_MIN" --steps "$SWEEP_STEPS" --out "$W/sweep" --no-write > "$W/sweep.log" 2>&1 &
SWEEP=$!
OMP_NUM_THREADS=1 timeout 360 $PY benchmarks/feed.py --minutes "$FEED_MIN" --no-shipped --overrides "$W/selected.json" --json "$W/feed.json" --keep "$W/feed" > "$W/feed.log" 2>&1 &
FEED=$!
OMP_NUM_THREADS=2 $PY scripts/train_gpu.py --budget "$GPU_BUDGET" --device "$DEVICE" --overrides "$W/selected.json" --out "$W/runs/looks" --report "$W/gpu.json" > "$W/gpu.log" 2>&1
echo "gpu done after $(( $(date +%s) - T0 )) s"
STEPS=$($PY -c "import json;print(json.load(open('$W/gpu.json'))['steps'])" 2>/dev/null)
HW=$($PY -c "import json;r=json.load(open('$W/gpu.json'));print(f\"one {r['gpu']} GPU (AMP {r['amp']}, torch {r['torch']}, CUDA {r['cuda']}), {r['train_seconds']/60:.1f} min at {r['images_per_s']:.0f} images/s, peak GPU memory {r['peak_memory_mb']:.0f} MiB\")" 2>/dev/null)
NOTE="## How it learned: unpaired, no ground truth

* \`lambda_paired = 0\`: the generator learns only from the colour critic's verdicts (adversarial loss), the
  cycle loss through the inverse generator F, and the style encoder from a contrastive loss between two
  disjoint halves of each feed's references (which posts share a look is all a feed tells). The exact
  ground truth of the embedded looks is used only by the evaluation above.
* The recipe ($(cat $W/selected.json | $PY -c 'import json,sys; r=json.load(sys.stdin); print(r["job"], r["overrides"])'))
  was chosen by \`benchmarks/unpaired_sweep.py --select\` on the validation photos; every alternative
  tried, with its numbers, is in benchmarks/RESULTS.md (quality).

## Limits

* The generator is a white-box slider editor (\`looks.py\`) whose grain slider is pinned to 0: it can express
  only the looks those sliders make. The embedded looks are made by the same editor — a favourable case;
  a real feed's look is approximated by the nearest slider setting.
* Film grain is neither produced nor judged: the critic sees images box-filtered to 16 px, which averages
  grain away, because a real feed has grain and the editor does not make it."
OMP_NUM_THREADS=4 $PY scripts/ship_weights.py "$W/runs/looks" looks \
  --trained-by "influencer-gan train looks --config configs/looks.json --device $DEVICE --steps $STEPS" \
  --hardware "$HW" --note "$NOTE" > "$W/ship.log" 2>&1
echo "shipped after $(( $(date +%s) - T0 )) s"
mkdir -p "$OUT/weights"; cp influencer_gan/weights/looks/* "$OUT/weights/"; cp "$W/gpu.json" "$W/selected.json" "$OUT/"
wait $SWEEP $FEED $CG
OMP_NUM_THREADS=1 $PY benchmarks/unpaired_sweep.py --jobs none --minutes "$SWEEP_MIN" --steps "$SWEEP_STEPS" --out "$W/sweep" > "$W/sweep_summary.log" 2>&1
cp benchmarks/results/unpaired_sweep.json "$W/" 2>/dev/null
cp -r influencer_gan/weights/looks "$W/weights_looks"
rm -f "$W"/feed/run/samples_* "$W"/runs/looks/samples_0*[1-9]*.png 2>/dev/null
tar czf "$OUT/bundle.tar.gz" -C "$W" . 2>/dev/null
echo "all done after $(( $(date +%s) - T0 )) s"
cat "$W/select.log" | tail -n 8; cat "$W/sweep_summary.log"; tail -n 4 "$W/feed.log"; tail -n 22 "$W/gpu.log"; tail -n 30 "$W/ship.log"

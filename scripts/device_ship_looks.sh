#!/usr/bin/env bash
# Train and ship the looks weights on a warm GPU machine with nothing else running (see device_looks.sh).
set -u
OUT=${OUT:-/tmp/device_out}; mkdir -p "$OUT/weights"; PY=${PY:-python3}; W=/tmp/device_ship; rm -rf $W; mkdir -p $W
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OMP_NUM_THREADS=8 $PY scripts/train_gpu.py --budget "${GPU_BUDGET:-120}" --device cuda --overrides benchmarks/results/selected_recipe.json --out $W/runs/looks --report $W/gpu.json > $W/gpu.log 2>&1
STEPS=$($PY -c "import json;print(json.load(open('$W/gpu.json'))['steps'])")
HW=$($PY -c "import json;r=json.load(open('$W/gpu.json'));print(f\"one {r['gpu']} GPU (AMP {r['amp']}, torch {r['torch']}, CUDA {r['cuda']}), {r['train_seconds']/60:.1f} min at {r['images_per_s']:.0f} images/s, peak GPU memory {r['peak_memory_mb']:.0f} MiB\")")
OMP_NUM_THREADS=16 $PY scripts/ship_weights.py $W/runs/looks looks --trained-by "influencer-gan train looks --config configs/looks.json --device cuda --steps $STEPS" --hardware "$HW" > $W/ship.log 2>&1
cp influencer_gan/weights/looks/* "$OUT/weights/"; cp $W/gpu.json $W/gpu.log "$OUT/"
tar czf "$OUT/run.tar.gz" -C $W runs/looks/checkpoint.safetensors runs/looks/config.json runs/looks_config.json 2>/dev/null
tail -n 12 $W/gpu.log; head -n 30 $W/ship.log

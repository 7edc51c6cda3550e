"""Score one finished looks run on the test protocol, and keep the row in results/looks_seeds.json.

    python benchmarks/score_run.py runs/looks_seed2 --key seed2
    python benchmarks/score_run.py runs/looks_pretext --label "pretext on random app filters, final"

The three numbers of the *Looks recipe search* seed table: named looks and unseen slider looks
from `metrics.evaluate(model, "looks")` (held-out test photos at 256 px), and the real filters of
`benchmarks/real_filters.py`'s *test* half (17 filters, 5 posts of other photos each), with how
many of them the model makes worse than doing nothing; the *val* half is printed too, for
choosing designs. `--key seedN` stores a run of the shipped recipe under its seed (the mean and
sd over the seeds are recomputed); `--label` stores any other run under `other_checkpoints`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from influencer_gan import metrics  # noqa: E402
from influencer_gan.api import load_model  # noqa: E402
from real_filters import evaluate as real_filters  # noqa: E402

STORE = Path(__file__).resolve().parent / "results" / "looks_seeds.json"


def score(run: Path) -> dict:
    model = load_model(run, device="cpu")
    ev = metrics.evaluate(model, task="looks")
    row = next(r for r in ev["rows"] if r["method"] == "model")
    filt = real_filters(model, "all")
    out = {"named": row["named"]["delta_e"], "unseen": row["unseen"]["delta_e"]}
    for split in ("test", "val"):
        rs = [r for r in filt.values() if r["split"] == split]
        out[f"filters_{split}"] = statistics.mean(r["model"] for r in rs)
        out[f"worse_{split}"] = sum(r["model"] >= r["identity"] for r in rs)
    out["worse"] = out["worse_test"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run folder or a weights folder")
    who = ap.add_mutually_exclusive_group()
    who.add_argument("--key", help="seedN: a run of the shipped recipe (configs/looks.json --seed N)")
    who.add_argument("--label", help="any other run: stored under other_checkpoints")
    a = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    r = score(a.run)
    print(f"{a.run}: named {r['named']:.2f}, unseen slider looks {r['unseen']:.2f}, real filters test "
          f"{r['filters_test']:.2f} (worse than nothing on {r['worse_test']}), val {r['filters_val']:.2f} "
          f"(worse on {r['worse_val']})")
    if not (a.key or a.label):
        return 0
    store = json.loads(STORE.read_text()) if STORE.exists() else {}
    if a.key:
        if not (a.key.startswith("seed") and a.key[4:].isdigit()):
            ap.error("--key must be seedN")
        store[a.key] = r
        seeds = [store[k] for k in store if k.startswith("seed") and k[4:].isdigit()]
        for m, name in (("named", "named"), ("unseen", "unseen"), ("filters_test", "filters_test")):
            vals = [s[m] for s in seeds]
            store[f"{name}_mean"] = statistics.mean(vals)
            store[f"{name}_sd"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
    else:
        store.setdefault("other_checkpoints", {})[a.label] = r
    STORE.write_text(json.dumps(store, indent=1) + "\n")
    print(f"stored in {STORE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
